/*
 * api/handlers_agent.c - the mutating endpoints and the keyring
 * (NC_API_WRITE / NC_API_SECRET: refused without a token unless the
 * config allows unauthenticated writes):
 *
 *   PUT /v1/agent/join?address=HOST[:PORT]  push/pull join with every
 *       address of HOST (a name is resolved by the agent, without
 *       blocking; port 7946 by default); the request waits (suspended MHD
 *       connection) until the join finished: 200 {"Joined": n}, or 502
 *       naming what failed (a name that did not resolve, nobody answered).
 *   PUT /v1/agent/leave                   200 {} then the agent's
 *       graceful leave (the hook runs once the response is queued).
 *   GET /v1/agent/keyring                 the whole cluster's keys, as
 *       `serf keys -list`: {"NumNodes", "NumResp", "NumErr", "Messages":
 *       {node: text}, "Keys": {key: nodes}, "PrimaryKeys": {key: nodes}}
 *       (key material: NC_API_SECRET, the same rule as writes, and
 *       Cache-Control: no-store; issue 9 row 3)
 *   PUT /v1/agent/keyring/install|use|remove  body {"Key": "<base64>"}:
 *       the change on every member, as `serf keys -install` etc.; the
 *       same document
 *   ?local=1 on either: this agent's keyring only (GET: {"Keys": [...],
 *       "Primary": ...}; PUT: {}), the behaviour before issue 11
 *   GET /v1/agent/reachability            `serf reachability`: _serf_ping
 *       with acks; {"Members", "LiveMembers", "Acks": [names], "Missing":
 *       [live members that did not ack], "NonLive": [...], "QueryTime",
 *       "TimeToLast", "Success"} (NC_API_WRITE: it makes every member
 *       send a packet)
 *
 * The cluster-wide requests run one serf query each (agent/serf_collect.c)
 * and wait for it, suspended like a join, never blocking the loop: a key
 * operation until every alive member answered or serf's query timeout
 * (gossip interval x 16 x ceil(log10(n+1)): 6.4 s for 13 lan members)
 * passed, a reachability test for the whole timeout. A key operation
 * that some node failed, or that not every node answered, is a 502 with
 * the same document plus "error" (serf's "2/13 nodes reported failure").
 * More than 8 queries of this agent at once: 429. An agent started
 * without -encrypt has no keyring: 409.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "api/api_int.h"
#include "gossip/gossip.h"
#include "util/util.h"

/* ------------------------------------------------------------------ */
/* join / leave                                                       */
/* ------------------------------------------------------------------ */

static void
join_done(void *arg, int joined, const char *why)
{
	struct nc_api_pending *p = arg;
	if (joined > 0) {
		cJSON *o = cJSON_CreateObject();
		if (o != NULL)
			cJSON_AddNumberToObject(o, "Joined", joined);
		nc_api_resume(p, 200, o, "out of memory");
	} else {
		char msg[512];
		snprintf(msg, sizeof(msg), "join failed: %s",
			 why != NULL ? why : "no address answered");
		nc_api_resume(p, 502, NULL, msg);
	}
}

static int
join(void *ctx, const struct nc_api_request *req, cJSON **out, char *err,
     size_t err_cap)
{
	struct nc_api *api = ctx;
	const char *v = nc_api_query(req, "address");
	char host[NC_AGENT_HOST_MAX + 1], why[320];
	uint16_t port;
	if (v == NULL || v[0] == '\0') {
		snprintf(err, err_cap, "missing parameter \"address\"");
		return 400;
	}
	if (nc_agent_hostport_parse(v, 7946, host, sizeof(host), &port) != 0) {
		snprintf(err, err_cap,
			 "bad parameter \"address\": \"%.128s\" (want "
			 "HOST[:PORT], [IPv6]:PORT)",
			 v);
		return 400;
	}
	if (api->agent == NULL) {
		snprintf(err, err_cap, "no gossip instance");
		return 503;
	}
	const char *addrs[1] = {v};
	struct nc_api_pending *p = nc_api_suspend(req);
	if (p == NULL) {
		/* No socket (or OOM): start it and answer at once. */
		if (nc_agent_join(api->agent, addrs, 1, NULL, NULL, why,
				  sizeof(why)) < 0) {
			snprintf(err, err_cap, "bad parameter \"address\": %s",
				 why);
			return 400;
		}
		*out = cJSON_CreateObject();
		if (*out == NULL)
			return nc__api_oom(err, err_cap);
		cJSON_AddNumberToObject(*out, "Joined", 0);
		cJSON_AddBoolToObject(*out, "Pending", true);
		return 200;
	}
	if (nc_agent_join(api->agent, addrs, 1, join_done, p, why,
			  sizeof(why)) < 0) {
		char msg[400];
		snprintf(msg, sizeof(msg), "bad parameter \"address\": %s", why);
		nc_api_resume(p, 400, NULL, msg);
	}
	return NC_API_SUSPEND;
}

static int
leave(void *ctx, const struct nc_api_request *req, cJSON **out, char *err,
      size_t err_cap)
{
	struct nc_api *api = ctx;
	(void)req;
	(void)out;
	if (api->agent == NULL) {
		snprintf(err, err_cap, "leave is not available here");
		return 501;
	}
	api->leave_asked = true;
	return 200;
}

/* ------------------------------------------------------------------ */
/* keyring                                                            */
/* ------------------------------------------------------------------ */

static int
no_keyring(char *err, size_t err_cap)
{
	snprintf(err, err_cap,
		 "encryption is not enabled on this agent (start it with "
		 "-encrypt)");
	return 409;
}

/**
 * ?local=1: this agent only. Absent: false; a bare "?local": true.
 * Returns 0, or 400 with the message.
 */
static int
local_param(const struct nc_api_request *req, bool *local, char *err,
	    size_t err_cap)
{
	const char *v = nc_api_query(req, "local");
	*local = false;
	if (v != NULL && v[0] == '\0')
		*local = true;
	else if (v != NULL && nc_parse_bool(v, local) != 0) {
		snprintf(err, err_cap,
			 "bad parameter \"local\": want 1/0/true/false");
		return 400;
	}
	return 0;
}

/** {key: count, ...} of a key result table. */
static cJSON *
key_counts(const struct nc_agent_key_count *tab, size_t n)
{
	cJSON *o = cJSON_CreateObject();
	for (size_t i = 0; o != NULL && i < n; i++)
		cJSON_AddNumberToObject(o, tab[i].key, tab[i].count);
	return o;
}

/** The result of a cluster-wide key operation, in serf's shape. */
static void
keys_done(void *arg, const struct nc_agent_key_result *r)
{
	struct nc_api_pending *p = arg;
	static const char *const what[] = {"installing key",
					   "changing primary key",
					   "removing key",
					   "gathering member keys"};
	cJSON *o = cJSON_CreateObject();
	cJSON *msgs = cJSON_CreateObject();
	if (o == NULL || msgs == NULL) {
		cJSON_Delete(o);
		cJSON_Delete(msgs);
		nc_api_resume(p, 500, NULL, "out of memory");
		return;
	}
	cJSON_AddNumberToObject(o, "NumNodes", r->num_nodes);
	cJSON_AddNumberToObject(o, "NumResp", r->num_resp);
	cJSON_AddNumberToObject(o, "NumErr", r->num_err);
	for (size_t i = 0; i < r->msgs_n; i++)
		cJSON_AddStringToObject(msgs, r->msgs[i].node, r->msgs[i].text);
	cJSON_AddItemToObject(o, "Messages", msgs);
	if (r->msgs_dropped > 0)
		cJSON_AddNumberToObject(o, "MessagesDropped",
					(double)r->msgs_dropped);
	cJSON_AddItemToObject(o, "Keys", key_counts(r->keys, r->keys_n));
	cJSON_AddItemToObject(o, "PrimaryKeys",
			      key_counts(r->primary, r->primary_n));
	char e[160] = "";
	if (r->num_err != 0)
		snprintf(e, sizeof(e), "%s: %u/%u nodes reported failure",
			 what[r->op], r->num_err, r->num_nodes);
	else if (r->num_resp != r->num_nodes)
		snprintf(e, sizeof(e), "%s: %u/%u nodes reported success",
			 what[r->op], r->num_resp, r->num_nodes);
	if (e[0] != '\0')
		cJSON_AddStringToObject(o, "error", e);
	nc_api_resume(p, e[0] != '\0' ? 502 : 200, o, "out of memory");
}

/** Start a cluster-wide key operation on a suspended request. */
static int
keys_cluster(struct nc_api *api, const struct nc_api_request *req,
	     enum nc_agent_key_op op, const char *b64, char *err,
	     size_t err_cap)
{
	char why[160] = "";
	struct nc_api_pending *p = nc_api_suspend(req);
	if (p == NULL) {
		snprintf(err, err_cap,
			 "cannot wait for the cluster here (use ?local=1)");
		return 503;
	}
	int rc = nc_agent_keyring_query(api->agent, op, b64, keys_done, p,
					why, sizeof(why));
	if (rc == 0)
		return NC_API_SUSPEND;
	char msg[240];
	int status = 500;
	if (rc == -ENOTSUP) {
		status = no_keyring(msg, sizeof(msg));
	} else if (rc == -EINVAL) {
		status = 400;
		snprintf(msg, sizeof(msg), "bad parameter \"Key\": %s", why);
	} else if (rc == -EBUSY) {
		status = 429;
		snprintf(msg, sizeof(msg), "%s", why);
	} else {
		snprintf(msg, sizeof(msg), "%s", why);
	}
	nc_api_resume(p, status, NULL, msg);
	return NC_API_SUSPEND;
}

static int
keyring_list(void *ctx, const struct nc_api_request *req, cJSON **out,
	     char *err, size_t err_cap)
{
	struct nc_api *api = ctx;
	char keys[NC_AGENT_KEYS_MAX][NC_AGENT_KEY_B64_CAP];
	bool local;
	int st = local_param(req, &local, err, err_cap);
	if (st != 0)
		return st;
	if (!local) {
		if (api->agent == NULL ||
		    nc_agent_keyring_list(api->agent, NULL, 0) < 0)
			return no_keyring(err, err_cap);
		return keys_cluster(api, req, NC_AGENT_KEY_LIST, NULL, err,
				    err_cap);
	}
	int n = api->agent != NULL
			? nc_agent_keyring_list(api->agent, keys, NC_AGENT_KEYS_MAX)
			: -ENOTSUP;
	if (n < 0)
		return no_keyring(err, err_cap);
	cJSON *o = cJSON_CreateObject();
	cJSON *arr = cJSON_AddArrayToObject(o, "Keys");
	for (int i = 0; arr != NULL && i < n; i++)
		cJSON_AddItemToArray(arr, cJSON_CreateString(keys[i]));
	if (arr != NULL)
		cJSON_AddStringToObject(o, "Primary", n > 0 ? keys[0] : "");
	memset(keys, 0, sizeof(keys));
	if (o == NULL || arr == NULL) {
		cJSON_Delete(o);
		return nc__api_oom(err, err_cap);
	}
	*out = o;
	return 200;
}

/** The key operation named by the path suffix; false if none. */
static bool
key_op_parse(const char *s, enum nc_agent_key_op *op)
{
	if (strcmp(s, "install") == 0)
		*op = NC_AGENT_KEY_INSTALL;
	else if (strcmp(s, "use") == 0)
		*op = NC_AGENT_KEY_USE;
	else if (strcmp(s, "remove") == 0)
		*op = NC_AGENT_KEY_REMOVE;
	else
		return false;
	return true;
}

/** HTTP status of nc_agent_keyring_change()'s result. */
static int
key_op_status(int rc, const char *why, char *err, size_t err_cap)
{
	switch (rc) {
	case 0:
		return 200;
	case -ENOTSUP:
		return no_keyring(err, err_cap);
	case -ENOENT:
		snprintf(err, err_cap, "key is not installed");
		return 404;
	case -EBUSY:
		snprintf(err, err_cap,
			 "cannot remove the primary key (use another first)");
		return 409;
	case -ENOSPC:
		snprintf(err, err_cap, "keyring is full");
		return 409;
	case -EIO:
		/* Changed in memory; the keyring file could not follow. */
		snprintf(err, err_cap, "key changed, but %s", why);
		return 500;
	default:
		snprintf(err, err_cap, "bad parameter \"Key\": %s", why);
		return 400;
	}
}

static int
keyring_op(void *ctx, const struct nc_api_request *req, cJSON **out, char *err,
	   size_t err_cap)
{
	struct nc_api *api = ctx;
	enum nc_agent_key_op op;
	bool local;
	(void)out;
	if (!key_op_parse(req->suffix, &op)) {
		snprintf(err, err_cap,
			 "no such endpoint: /v1/agent/keyring/%.64s (want "
			 "install, use or remove)",
			 req->suffix);
		return 404;
	}
	int st = local_param(req, &local, err, err_cap);
	if (st != 0)
		return st;
	if (api->agent == NULL || nc_agent_keyring_list(api->agent, NULL, 0) < 0)
		return no_keyring(err, err_cap);
	if (req->body == NULL || req->body_len == 0) {
		snprintf(err, err_cap, "missing body {\"Key\": \"<base64>\"}");
		return 400;
	}
	cJSON *j = cJSON_ParseWithLength(req->body, req->body_len);
	const cJSON *k = cJSON_GetObjectItemCaseSensitive(j, "Key");
	if (j == NULL || !cJSON_IsObject(j)) {
		cJSON_Delete(j);
		snprintf(err, err_cap, "body is not a JSON object");
		return 400;
	}
	if (!cJSON_IsString(k)) {
		cJSON_Delete(j);
		snprintf(err, err_cap,
			 "bad parameter \"Key\": want a base64 string");
		return 400;
	}
	if (!local) {
		st = keys_cluster(api, req, op, k->valuestring, err, err_cap);
		cJSON_Delete(j);
		return st;
	}
	char why[NC_CONFIG_PATH_MAX + 128] = "";
	int rc = nc_agent_keyring_change(api->agent, op, k->valuestring, why,
					 sizeof(why));
	cJSON_Delete(j);
	return key_op_status(rc, why, err, err_cap);
}

/* ------------------------------------------------------------------ */
/* reachability                                                       */
/* ------------------------------------------------------------------ */

static cJSON *
name_array(char (*names)[NC_CONFIG_NAME_MAX + 1], size_t n)
{
	cJSON *arr = cJSON_CreateArray();
	for (size_t i = 0; arr != NULL && i < n; i++)
		cJSON_AddItemToArray(arr, cJSON_CreateString(names[i]));
	return arr;
}

static void
reach_done(void *arg, const struct nc_agent_reach_result *r)
{
	struct nc_api_pending *p = arg;
	cJSON *o = cJSON_CreateObject();
	if (o == NULL) {
		nc_api_resume(p, 500, NULL, "out of memory");
		return;
	}
	cJSON_AddNumberToObject(o, "Members", r->members);
	cJSON_AddNumberToObject(o, "LiveMembers", r->live);
	cJSON_AddItemToObject(o, "Acks", name_array(r->acked, r->acked_n));
	cJSON_AddItemToObject(o, "Missing",
			      name_array(r->missing, r->missing_n));
	cJSON_AddItemToObject(o, "NonLive",
			      name_array(r->non_live, r->non_live_n));
	cJSON_AddNumberToObject(o, "QueryTime", r->query_s);
	cJSON_AddNumberToObject(o, "TimeToLast", r->last_ack_s);
	cJSON_AddBoolToObject(o, "Success", r->acked_n == r->live &&
						    r->missing_n == 0 &&
						    r->non_live_n == 0);
	nc_api_resume(p, 200, o, "out of memory");
}

static int
reachability(void *ctx, const struct nc_api_request *req, cJSON **out,
	     char *err, size_t err_cap)
{
	struct nc_api *api = ctx;
	char why[160] = "";
	(void)out;
	if (api->agent == NULL) {
		snprintf(err, err_cap, "no gossip instance");
		return 503;
	}
	struct nc_api_pending *p = nc_api_suspend(req);
	if (p == NULL) {
		snprintf(err, err_cap, "cannot wait for the cluster here");
		return 503;
	}
	int rc = nc_agent_reachability(api->agent, reach_done, p, why,
				       sizeof(why));
	if (rc < 0)
		nc_api_resume(p, rc == -EBUSY ? 429 : 500, NULL, why);
	return NC_API_SUSPEND;
}

int
nc__api_add_agent_routes(struct nc_api *api)
{
	int rc = 0;
	rc |= nc_api_route_add_ex(api, "PUT", "/v1/agent/join", NC_API_WRITE,
				  join, api);
	rc |= nc_api_route_add_ex(api, "PUT", "/v1/agent/leave", NC_API_WRITE,
				  leave, api);
	rc |= nc_api_route_add_ex(api, "GET", "/v1/agent/keyring",
				  NC_API_SECRET, keyring_list, api);
	rc |=
	    nc_api_route_add_ex(api, "PUT", "/v1/agent/keyring/",
				NC_API_PREFIX | NC_API_WRITE, keyring_op, api);
	rc |= nc_api_route_add_ex(api, "GET", "/v1/agent/reachability",
				  NC_API_WRITE, reachability, api);
	return rc < 0 ? -1 : 0;
}
