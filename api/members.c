/*
 * api/members.c - the built-in read-only routes: /v1/health and
 * /v1/members.
 *
 * /v1/members mirrors what `serf members -format=json` tells about each
 * node, with serf's words for the status ("failed" for memberlist's dead)
 * and the tags decoded from Meta (PROTOCOL.md §7.1; a node with legacy or
 * empty Meta shows {"role": "..."} as serf does). Names use serf's RPC
 * field capitalisation (Name, Addr, Port, Tags, Status) so scripts written
 * for serf's RPC read ours too. It lists every member of the table,
 * including this node and failed / left members not yet reaped.
 */
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "api/api_int.h"
#include "gossip/gossip.h"
#include "gossip/proto.h"

const char *
nc_api_status_str(int member_state)
{
	switch (member_state) {
	case NC_MEMBER_ALIVE:
		return "alive";
	case NC_MEMBER_SUSPECT:
		return "suspect";
	case NC_MEMBER_DEAD:
		return "failed";
	case NC_MEMBER_LEFT:
		return "left";
	default:
		return "unknown";
	}
}

static int
health(void *ctx, const struct nc_api_request *req, cJSON **out, char *err,
       size_t err_cap)
{
	(void)ctx;
	(void)req;
	(void)err;
	(void)err_cap;
	*out = cJSON_CreateObject();
	if (*out == NULL || cJSON_AddStringToObject(*out, "status", "ok") ==
				    NULL) {
		cJSON_Delete(*out);
		*out = NULL;
		snprintf(err, err_cap, "out of memory");
		return 500;
	}
	return 200;
}

/** Add {"k": "v", ...} decoded from serf Meta. */
static bool
add_tags(cJSON *obj, const uint8_t *meta, size_t len)
{
	struct nc_proto_tag tags[NC_PROTO_MAX_TAGS];
	unsigned n = 0;
	cJSON *t = cJSON_AddObjectToObject(obj, "Tags");
	if (t == NULL)
		return false;
	if (nc_proto_decode_tags((const char *)meta, len, tags,
				 NC_PROTO_MAX_TAGS, &n) != 0)
		return true; /* undecodable Meta: no tags rather than a 500 */
	for (unsigned i = 0; i < n; i++) {
		char k[NC_PROTO_META_MAX + 1], v[NC_PROTO_META_MAX + 1];
		size_t kl = tags[i].key.len < NC_PROTO_META_MAX
				    ? tags[i].key.len
				    : NC_PROTO_META_MAX;
		size_t vl = tags[i].value.len < NC_PROTO_META_MAX
				    ? tags[i].value.len
				    : NC_PROTO_META_MAX;
		if (kl > 0)
			memcpy(k, tags[i].key.data, kl);
		if (vl > 0)
			memcpy(v, tags[i].value.data, vl);
		k[kl] = '\0';
		v[vl] = '\0';
		if (cJSON_AddStringToObject(t, k, v) == NULL)
			return false;
	}
	return true;
}

static cJSON *
member_json(const struct nc_gossip_member *m)
{
	char ip[64], a[80];
	cJSON *o = cJSON_CreateObject();
	if (o == NULL)
		return NULL;
	nc_addr_format(&m->addr, a, sizeof(a));
	/* "ip:port" or "[ip6]:port" → the address part only. */
	const char *colon = strrchr(a, ':');
	size_t il = colon != NULL ? (size_t)(colon - a) : strlen(a);
	if (a[0] == '[' && il >= 2) {
		memcpy(ip, a + 1, il - 2);
		ip[il - 2] = '\0';
	} else {
		memcpy(ip, a, il);
		ip[il] = '\0';
	}
	if (cJSON_AddStringToObject(o, "Name", m->name) == NULL ||
	    cJSON_AddStringToObject(o, "Addr", ip) == NULL ||
	    cJSON_AddNumberToObject(o, "Port", m->addr.port) == NULL ||
	    !add_tags(o, m->meta, m->meta_len) ||
	    cJSON_AddStringToObject(o, "Status",
				    nc_api_status_str(m->state)) == NULL ||
	    cJSON_AddNumberToObject(o, "Incarnation", m->incarnation) ==
		    NULL) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

static int
members(void *ctx, const struct nc_api_request *req, cJSON **out, char *err,
	size_t err_cap)
{
	struct nc_api *api = ctx;
	(void)req;
	cJSON *arr = cJSON_CreateArray();
	if (arr == NULL)
		goto oom;
	size_t n = api->gossip != NULL ? nc_gossip_member_count(api->gossip)
				       : 0;
	for (size_t i = 0; i < n; i++) {
		cJSON *o = member_json(nc_gossip_member_at(api->gossip, i));
		if (o == NULL)
			goto oom;
		cJSON_AddItemToArray(arr, o);
	}
	*out = arr;
	return 200;
oom:
	cJSON_Delete(arr);
	snprintf(err, err_cap, "out of memory");
	return 500;
}

int
nc__api_add_builtin_routes(struct nc_api *api)
{
	int rc = nc_api_route_add(api, "GET", "/v1/health", false, health,
				  api);
	if (rc == 0)
		rc = nc_api_route_add(api, "GET", "/v1/members", false,
				      members, api);
	return rc;
}
