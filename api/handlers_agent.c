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
 *   GET /v1/agent/keyring                 {"Keys": [...], "Primary": ...}
 *       (read-only, but key material: NC_API_SECRET, the same rule as
 *       writes, and Cache-Control: no-store; issue 9 row 3)
 *   PUT /v1/agent/keyring/install|use|remove  body {"Key": "<base64>"}
 *
 * Keyring changes are local to this agent (serf's `keys` command fans out
 * over a query; run it on every agent, or use serf's). An agent started
 * without -encrypt has no keyring: 409.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "api/api_int.h"
#include "gossip/gossip.h"

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

static int
keyring_list(void *ctx, const struct nc_api_request *req, cJSON **out,
	     char *err, size_t err_cap)
{
	struct nc_api *api = ctx;
	char keys[NC_AGENT_KEYS_MAX][NC_AGENT_KEY_B64_CAP];
	(void)req;
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
	(void)out;
	if (!key_op_parse(req->suffix, &op)) {
		snprintf(err, err_cap,
			 "no such endpoint: /v1/agent/keyring/%.64s (want "
			 "install, use or remove)",
			 req->suffix);
		return 404;
	}
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
	char why[NC_CONFIG_PATH_MAX + 128] = "";
	int rc = nc_agent_keyring_change(api->agent, op, k->valuestring, why,
					 sizeof(why));
	cJSON_Delete(j);
	return key_op_status(rc, why, err, err_cap);
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
	return rc < 0 ? -1 : 0;
}
