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
 *
 * Filters (shared with /v1/nearest and /v1/failover, api_int.h):
 *   status=alive,suspect,failed,left|any   comma list and/or repeated
 *                                          ("dead" = failed)
 *   tag=key:value                          repeatable, all must match
 *   near=<node>                            Consul's: sort by estimated
 *                                          RTT from that node (members
 *                                          without a coordinate last)
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "api/api_int.h"
#include "coord/coord.h"
#include "gossip/gossip.h"

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
	if (*out == NULL ||
	    cJSON_AddStringToObject(*out, "status", "ok") == NULL) {
		cJSON_Delete(*out);
		*out = NULL;
		snprintf(err, err_cap, "out of memory");
		return 500;
	}
	return 200;
}

/**
 * Copy @a len bytes of a tag key or value into @a out (3 * len + 1
 * bytes) as valid UTF-8 without NUL: each byte that does not start a
 * valid sequence (and each NUL) becomes U+FFFD. cJSON escapes control
 * characters; it would pass invalid UTF-8 through and break the JSON.
 */
static void
tag_text(char *out, const char *p, size_t len)
{
	size_t o = 0;

	for (size_t i = 0; i < len;) {
		size_t n = 1;
		while (n <= 4 && i + n <= len &&
		       !nc_gossip_utf8_valid(p + i, n))
			n++;
		if (p[i] != '\0' && n <= 4 && i + n <= len) {
			memcpy(out + o, p + i, n);
			o += n;
			i += n;
		} else {
			memcpy(out + o, "\xef\xbf\xbd", 3);
			o += 3;
			i++;
		}
	}
	out[o] = '\0';
}

/**
 * Add {"k": "v", ...} decoded from serf Meta; invalid UTF-8 in a key or
 * value is shown as U+FFFD (README, "Limits and security").
 */
bool
nc__api_add_tags(cJSON *obj, const uint8_t *meta, size_t len)
{
	struct nc_agent_tag tags[NC_AGENT_MAX_TAGS];
	cJSON *t = cJSON_AddObjectToObject(obj, "Tags");
	if (t == NULL)
		return false;
	int n = nc_agent_tags_decode(meta, len, tags, NC_AGENT_MAX_TAGS);
	/* An undecodable Meta gives no tags rather than a 500. */
	for (int i = 0; i < n; i++) {
		char k[3 * NC_GOSSIP_META_MAX + 1], v[3 * NC_GOSSIP_META_MAX + 1];
		size_t kl = tags[i].key_len < NC_GOSSIP_META_MAX
				? tags[i].key_len
				: NC_GOSSIP_META_MAX;
		size_t vl = tags[i].value_len < NC_GOSSIP_META_MAX
				? tags[i].value_len
				: NC_GOSSIP_META_MAX;
		tag_text(k, (const char *)tags[i].key, kl);
		tag_text(v, (const char *)tags[i].value, vl);
		if (cJSON_AddStringToObject(t, k, v) == NULL)
			return false;
	}
	return true;
}

cJSON *
nc__api_member_json_fields(const char *name, const struct nc_addr *addr,
			   uint32_t incarnation, int state,
			   const uint8_t *meta, size_t meta_len)
{
	char ip[64], a[80];
	cJSON *o = cJSON_CreateObject();
	if (o == NULL)
		return NULL;
	nc_addr_format(addr, a, sizeof(a));
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
	if (cJSON_AddStringToObject(o, "Name", name) == NULL ||
	    cJSON_AddStringToObject(o, "Addr", ip) == NULL ||
	    cJSON_AddNumberToObject(o, "Port", addr->port) == NULL ||
	    !nc__api_add_tags(o, meta, meta_len) ||
	    cJSON_AddStringToObject(o, "Status", nc_api_status_str(state)) ==
		NULL ||
	    cJSON_AddNumberToObject(o, "Incarnation", incarnation) == NULL) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

cJSON *
nc__api_member_json(const struct nc_gossip_member *m)
{
	return nc__api_member_json_fields(m->name, &m->addr, m->incarnation,
					  (int)m->state, m->meta, m->meta_len);
}

cJSON *
nc__api_vent_json(const struct nc__api_vent *e)
{
	return nc__api_member_json_fields(e->name, &e->addr, e->incarnation,
					  e->state, e->meta, e->meta_len);
}

bool
nc__api_meta_has_tag(const uint8_t *meta, size_t meta_len, const char *key,
		     size_t key_len, const char *value, size_t value_len)
{
	struct nc_agent_tag tags[NC_AGENT_MAX_TAGS];
	int n = nc_agent_tags_decode(meta, meta_len, tags, NC_AGENT_MAX_TAGS);
	for (int i = 0; i < n; i++)
		if (tags[i].key_len == key_len &&
		    (key_len == 0 || memcmp(tags[i].key, key, key_len) == 0))
			return tags[i].value_len == value_len &&
			       (value_len == 0 ||
				memcmp(tags[i].value, value, value_len) == 0);
	return false;
}

bool
nc__api_meta_tag(const uint8_t *meta, size_t meta_len, const char *key,
		 char *buf, size_t cap)
{
	struct nc_agent_tag tags[NC_AGENT_MAX_TAGS];
	buf[0] = '\0';
	int n = nc_agent_tags_decode(meta, meta_len, tags, NC_AGENT_MAX_TAGS);
	size_t kl = strlen(key);
	for (int i = 0; i < n; i++) {
		if (tags[i].key_len != kl || memcmp(tags[i].key, key, kl) != 0)
			continue;
		/* Invalid UTF-8 as U+FFFD (as /v1/members shows it), cut at
		 * a character boundary to fit. */
		char text[3 * NC_GOSSIP_META_MAX + 1];
		size_t vl = tags[i].value_len < NC_GOSSIP_META_MAX
				? tags[i].value_len
				: NC_GOSSIP_META_MAX;
		tag_text(text, (const char *)tags[i].value, vl);
		size_t tl = strlen(text);
		if (tl > cap - 1) {
			tl = cap - 1;
			while (tl > 0 && ((unsigned char)text[tl] & 0xc0) == 0x80)
				tl--;
		}
		memcpy(buf, text, tl);
		buf[tl] = '\0';
		return true;
	}
	return false;
}

static int
state_bits(const char *s, size_t len, unsigned *bits)
{
#define IS(w) (len == strlen(w) && memcmp(s, w, len) == 0)
	if (IS("alive"))
		*bits |= 1u << NC_MEMBER_ALIVE;
	else if (IS("suspect"))
		*bits |= 1u << NC_MEMBER_SUSPECT;
	else if (IS("failed") || IS("dead"))
		*bits |= 1u << NC_MEMBER_DEAD;
	else if (IS("left"))
		*bits |= 1u << NC_MEMBER_LEFT;
	else if (IS("any") || IS("all"))
		*bits |= NC__API_ST_ALL;
	else
		return -1;
#undef IS
	return 0;
}

int
nc__api_filter_parse(const struct nc_api_request *req, unsigned default_states,
		     struct nc__api_filter *f, char *err, size_t err_cap)
{
	const char *v;
	memset(f, 0, sizeof(*f));
	for (size_t i = 0; (v = nc_api_query_nth(req, "status", i)) != NULL;
	     i++) {
		const char *p = v;
		do {
			const char *comma = strchr(p, ',');
			size_t len = comma ? (size_t)(comma - p) : strlen(p);
			if (state_bits(p, len, &f->states) != 0) {
				snprintf(err, err_cap,
					 "bad parameter \"status\": \"%.64s\" "
					 "(want alive, suspect, failed, left "
					 "or any)",
					 v);
				return 400;
			}
			p = comma ? comma + 1 : NULL;
		} while (p != NULL);
	}
	if (f->states == 0)
		f->states = default_states;
	for (size_t i = 0; (v = nc_api_query_nth(req, "tag", i)) != NULL; i++) {
		const char *colon = strchr(v, ':');
		if (colon == NULL || colon == v) {
			snprintf(err, err_cap,
				 "bad parameter \"tag\": \"%.64s\" (want "
				 "key:value)",
				 v);
			return 400;
		}
		if (f->n_tags == sizeof(f->tags) / sizeof(f->tags[0])) {
			snprintf(err, err_cap,
				 "bad parameter \"tag\": more than %zu",
				 sizeof(f->tags) / sizeof(f->tags[0]));
			return 400;
		}
		f->tags[f->n_tags].key = v;
		f->tags[f->n_tags].key_len = (size_t)(colon - v);
		f->tags[f->n_tags].value = colon + 1;
		f->tags[f->n_tags].value_len = strlen(colon + 1);
		f->n_tags++;
	}
	return 0;
}

bool
nc__api_filter_match(const struct nc__api_filter *f,
		     const struct nc_gossip_member *m)
{
	if (!(f->states & (1u << m->state)))
		return false;
	for (size_t i = 0; i < f->n_tags; i++)
		if (!nc__api_meta_has_tag(m->meta, m->meta_len, f->tags[i].key,
					  f->tags[i].key_len, f->tags[i].value,
					  f->tags[i].value_len))
			return false;
	return true;
}

bool
nc__api_filter_match_vent(const struct nc__api_filter *f,
			  const struct nc__api_vent *e)
{
	if (!(f->states & (1u << e->state)))
		return false;
	for (size_t i = 0; i < f->n_tags; i++)
		if (!nc__api_meta_has_tag(e->meta, e->meta_len, f->tags[i].key,
					  f->tags[i].key_len, f->tags[i].value,
					  f->tags[i].value_len))
			return false;
	return true;
}

static int
tag_cmp(const void *a, const void *b)
{
	const char *const *x = a, *const *y = b;
	return strcmp(*x, *y);
}

int
nc__api_filter_key(const struct nc__api_filter *f, char *buf, size_t cap)
{
	/* tag= values are "key:value" strings of the request; sorted, so
	 * that the order of the filters does not matter (they AND). */
	const char *t[sizeof(f->tags) / sizeof(f->tags[0])];
	size_t o = 0;
	for (size_t i = 0; i < f->n_tags; i++)
		t[i] = f->tags[i].key;
	qsort(t, f->n_tags, sizeof(t[0]), tag_cmp);
	int w = snprintf(buf, cap, "st=%x", f->states);
	if (w < 0 || (size_t)w >= cap)
		return -1;
	o = (size_t)w;
	for (size_t i = 0; i < f->n_tags; i++) {
		w = snprintf(buf + o, cap - o, "|tag=%zu:%s", strlen(t[i]),
			     t[i]);
		if (w < 0 || (size_t)w >= cap - o)
			return -1;
		o += (size_t)w;
	}
	return 0;
}

struct near_item {
	size_t i;
	const char *name;
	double rtt;
};

static int
near_cmp(const void *a, const void *b)
{
	const struct near_item *x = a, *y = b;
	bool xn = isnan(x->rtt), yn = isnan(y->rtt);
	if (xn != yn)
		return xn ? 1 : -1;
	if (!xn && x->rtt != y->rtt)
		return x->rtt < y->rtt ? -1 : 1;
	return strcmp(x->name, y->name);
}

static int
members(void *ctx, const struct nc_api_request *req, cJSON **out, char *err,
	size_t err_cap)
{
	struct nc_api *api = ctx;
	struct nc__api_filter f;
	char key[2048];
	(void)out; /* answered with nc__api_rcache_store */
	uint64_t index;
	double wait_s;
	int rc = nc__api_filter_parse(req, NC__API_ST_ALL, &f, err, err_cap);
	if (rc == 0)
		rc = nc__api_block_parse(req, &index, &wait_s, err, err_cap);
	if (rc != 0)
		return rc;
	const char *near = nc_api_query(req, "near");
	if (near != NULL && near[0] == '\0')
		near = NULL;
	double now = nc__api_now(api);
	if (near != NULL && (api->gossip == NULL ||
			     nc_gossip_member_find(api->gossip, near) == NULL)) {
		snprintf(err, err_cap, "unknown node \"%.128s\"", near);
		return 404;
	}
	const struct nc__api_view *v = nc__api_view_get(api, now);
	if (v == NULL)
		return nc__api_oom(err, err_cap);
	int kl = snprintf(key, sizeof(key), "members|near=%zu:%s|",
			  near != NULL ? strlen(near) : 0,
			  near != NULL ? near : "");
	bool keyed = kl > 0 && (size_t)kl < sizeof(key) &&
		     nc__api_filter_key(&f, key + kl, sizeof(key) - (size_t)kl) ==
			 0;
	if (keyed && nc__api_rcache_reply(api, req, v->epoch, key))
		return nc__api_block_finish(api, req, key, 200, err, err_cap);
	const struct nc_coord *src = NULL;
	if (near != NULL) {
		size_t si = nc__api_view_find(v, near);
		if (si != SIZE_MAX && v->ent[si].has_coord)
			src = &v->co[si];
	}
	struct near_item *items = calloc(v->n + 1, sizeof(*items));
	cJSON *arr = cJSON_CreateArray();
	if (items == NULL || arr == NULL)
		goto oom;
	size_t k = 0;
	enum nc_coord_algo algo = NC_COORD_ALGO_NC;
	if (api->coords != NULL)
		algo = nc_coord_client_config(
			   nc_agent_coords_client(api->coords))
			   ->algo;
	for (size_t i = 0; i < v->n; i++) {
		if (!nc__api_filter_match_vent(&f, &v->ent[i]))
			continue;
		items[k].i = i;
		items[k].name = v->ent[i].name;
		items[k].rtt = NAN;
		if (src != NULL && v->ent[i].has_coord)
			items[k].rtt =
			    nc_coord_estimate_rtt(algo, src, &v->co[i]);
		k++;
	}
	if (src != NULL)
		qsort(items, k, sizeof(*items), near_cmp);
	for (size_t i = 0; i < k; i++) {
		cJSON *o = nc__api_vent_json(&v->ent[items[i].i]);
		if (o == NULL)
			goto oom;
		cJSON_AddItemToArray(arr, o);
	}
	free(items);
	/* Without near= the order is the gossip table's (reshuffled every
	 * probe round): a set for the blocking index. */
	rc = nc__api_rcache_store(api, req, v->epoch, keyed ? key : NULL,
				  near == NULL ? NC__API_SIG_SET : 0, arr, err,
				  err_cap);
	return nc__api_block_finish(api, req, keyed ? key : NULL, rc, err,
				    err_cap);
oom:
	free(items);
	cJSON_Delete(arr);
	return nc__api_oom(err, err_cap);
}

int
nc__api_add_builtin_routes(struct nc_api *api)
{
	int rc = nc_api_route_add_ex(api, "GET", "/v1/health", NC_API_PUBLIC,
				     health, api);
	if (rc == 0)
		rc = nc_api_route_add(api, "GET", "/v1/members", false, members,
				      api);
	return rc;
}
