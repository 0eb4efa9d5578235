/*
 * api/handlers_event.c - serf user events over HTTP (Consul's paths):
 *
 *   PUT /v1/event/fire/NAME   body = payload (raw bytes, may be empty),
 *       ?coalesce=1 lets serf agents coalesce it (default: not); fires a
 *       serf user event from this agent (nc_agent_event_fire): 200
 *       {"Name", "LTime", "Payload" (base64), "Coalesce"}, 400 with serf's
 *       message for an empty name or an event over 512 bytes.
 *       NC_API_WRITE: refused without a token unless writes are open.
 *   GET /v1/event/list[?name=NAME]   the last user events this agent saw
 *       or fired, oldest first: [{"Name", "LTime", "Payload" (base64),
 *       "Coalesce", "Own", "Truncated"}].
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "api/api_int.h"

/** Standard base64 (with padding) of @a len bytes into a new string. */
static char *
b64_new(const uint8_t *p, size_t len)
{
	static const char tab[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char *out = malloc(4 * ((len + 2) / 3) + 1), *o = out;
	if (out == NULL)
		return NULL;
	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16;
		if (i + 1 < len)
			v |= (uint32_t)p[i + 1] << 8;
		if (i + 2 < len)
			v |= p[i + 2];
		*o++ = tab[(v >> 18) & 63];
		*o++ = tab[(v >> 12) & 63];
		*o++ = i + 1 < len ? tab[(v >> 6) & 63] : '=';
		*o++ = i + 2 < len ? tab[v & 63] : '=';
	}
	*o = '\0';
	return out;
}

static bool
add_b64(cJSON *o, const char *key, const uint8_t *p, size_t len)
{
	char *s = b64_new(p, len);
	bool ok = s != NULL && cJSON_AddStringToObject(o, key, s) != NULL;
	free(s);
	return ok;
}

static int
event_fire(void *ctx, const struct nc_api_request *req, cJSON **out,
	   char *err, size_t err_cap)
{
	struct nc_api *api = ctx;
	const char *name = req->suffix;
	if (name == NULL || name[0] == '\0' || strchr(name, '/') != NULL) {
		snprintf(err, err_cap,
			 "missing event name (want /v1/event/fire/NAME)");
		return 400;
	}
	if (api->agent == NULL) {
		snprintf(err, err_cap, "no gossip instance");
		return 503;
	}
	const char *cv = nc_api_query(req, "coalesce");
	bool coalesce = cv != NULL && (strcmp(cv, "1") == 0 ||
				       strcmp(cv, "true") == 0);
	uint64_t lt = 0;
	char why[160];
	if (nc_agent_event_fire(api->agent, name, req->body, req->body_len,
				coalesce, &lt, why, sizeof(why)) < 0) {
		snprintf(err, err_cap, "%s", why);
		return 400;
	}
	*out = cJSON_CreateObject();
	if (*out == NULL || !cJSON_AddStringToObject(*out, "Name", name) ||
	    !cJSON_AddNumberToObject(*out, "LTime", (double)lt) ||
	    !add_b64(*out, "Payload", (const uint8_t *)req->body,
		     req->body_len) ||
	    !cJSON_AddBoolToObject(*out, "Coalesce", coalesce))
		return nc__api_oom(err, err_cap);
	return 200;
}

static int
event_list(void *ctx, const struct nc_api_request *req, cJSON **out,
	   char *err, size_t err_cap)
{
	struct nc_api *api = ctx;
	const char *want = nc_api_query(req, "name");
	*out = cJSON_CreateArray();
	if (*out == NULL)
		return nc__api_oom(err, err_cap);
	size_t n = api->agent != NULL ? nc_agent_event_count(api->agent) : 0;
	for (size_t i = 0; i < n; i++) {
		const struct nc_agent_serf_event *e =
			nc_agent_event_at(api->agent, i);
		if (e == NULL || (want != NULL && strcmp(want, e->name) != 0))
			continue;
		cJSON *o = cJSON_CreateObject();
		if (o == NULL)
			return nc__api_oom(err, err_cap);
		cJSON_AddItemToArray(*out, o);
		/* Names are bytes on the wire; cJSON escapes what it must. */
		if (!cJSON_AddStringToObject(o, "Name", e->name) ||
		    !cJSON_AddNumberToObject(o, "LTime", (double)e->ltime) ||
		    !add_b64(o, "Payload", e->payload, e->payload_len) ||
		    !cJSON_AddBoolToObject(o, "Coalesce", e->coalesce) ||
		    !cJSON_AddBoolToObject(o, "Own", e->own) ||
		    !cJSON_AddBoolToObject(o, "Truncated", e->truncated))
			return nc__api_oom(err, err_cap);
	}
	return 200;
}

int
nc__api_add_event_routes(struct nc_api *api)
{
	int rc = 0;
	rc |= nc_api_route_add_ex(api, "PUT", "/v1/event/fire/",
				  NC_API_PREFIX | NC_API_WRITE, event_fire, api);
	rc |= nc_api_route_add_ex(api, "GET", "/v1/event/list", 0, event_list,
				  api);
	return rc < 0 ? -1 : 0;
}
