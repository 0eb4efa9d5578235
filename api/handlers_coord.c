/*
 * api/handlers_coord.c - the coordinate endpoints:
 *
 *   GET /v1/agent/self              this node, its tags and coordinate
 *   GET /v1/coordinate/nodes        Consul's [{Node, Segment, Coord}]
 *   GET /v1/coordinate/node/<name>  the same for one node (404 unknown)
 *   GET /v1/rtt?from=A&to=B         estimated (and measured) RTT
 *                                   (&fresh-wait=D, api/fresh.c)
 *   GET /v1/nearest?from=A&n=5&tag=k:v&status=alive   (or coord=<json>)
 *                                   &verify=K (from this agent only)
 *   GET /v1/failover?from=A&group=<tag key>&skip-local=1
 *                                   (both: &fresh-wait=D, api/fresh.c)
 *
 * Ranking uses coord/'s nc_coord_rank_nearest / nc_coord_rank_failover
 * with the estimate of the local client's algorithm
 * (nc_coord_estimate_rtt), over the gossip member table joined with the
 * coordinate cache (agent/coords.c) as the view holds them (api/view.c: a
 * dense copy at most max_stale_s old; answers of identical queries are
 * cached per view epoch). The source node is left out of its own
 * answers. Unhealthy members (anything but alive) are left out of nearest
 * unless status= asks for them; failover lists them after the healthy
 * members of their group and leaves them out of the median.
 *
 * Cost: every read endpoint is O(n log n) or better in members and
 * groups (issue 9 row 10: 20,000 distinct dc values made failover
 * quadratic, 1.9 s a request). Failover finds groups through one sort of
 * the candidates by group value, never a scan per group.
 *
 * Blocking queries (api/block.c): /v1/coordinate/nodes, /v1/nearest and
 * /v1/failover check index=/wait= with their other parameters and end
 * in nc__api_block_finish (X-Netcoord-Index, or the request is held).
 *
 * From this agent, /v1/rtt and /v1/nearest serve its own measurements
 * combined with the estimates (api/verify.c: a fresh measurement replaces
 * the estimate, an older one bounds it): "RttMs" is what is served and
 * nearest ranks by, "Basis" says how; "EstimatedMs" stays the
 * coordinates' estimate.
 * /v1/nearest?verify=K pings the K best and re-ranks (api/verify.c).
 *
 * Fresh answers (api/fresh.c): on an answer-cache miss, /v1/nearest and
 * /v1/failover fetch the coordinates of their candidates that are missing
 * or older than 30 s from the owners and hold the request until they are
 * fresh or ?fresh-wait= (default 1 s) passes; /v1/rtt does the same for
 * its pair.
 *
 * Coordinates are in seconds (Serf's unit) in "Coord"; RTTs are reported
 * in milliseconds in fields named *Ms. Extra fields beyond Consul's shape
 * on /v1/coordinate/nodes and /node: "AgeS", "Source" (self|probe|gossip),
 * "Via"; /v1/nearest's nodes carry "AgeS" too (null: no coordinate).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "api/api_int.h"
#include "coord/coord.h"
#include "gossip/gossip.h"
#include "util/util.h"

/** Default and largest n of /v1/nearest. Nothing special in the cap. */
#define NEAREST_DEFAULT 5
#define NEAREST_MAX 100000

cJSON *
nc__api_coord_json(const struct nc_coord *c)
{
	cJSON *o = cJSON_CreateObject();
	cJSON *v = cJSON_AddArrayToObject(o, "Vec");
	if (o == NULL || v == NULL) {
		cJSON_Delete(o);
		return NULL;
	}
	for (unsigned i = 0; i < c->dims; i++) {
		cJSON *x = cJSON_CreateNumber(c->vec[i]);
		if (x == NULL) {
			cJSON_Delete(o);
			return NULL;
		}
		cJSON_AddItemToArray(v, x);
	}
	if (cJSON_AddNumberToObject(o, "Error", c->error) == NULL ||
	    cJSON_AddNumberToObject(o, "Adjustment", c->adjustment) == NULL ||
	    cJSON_AddNumberToObject(o, "Height", c->height) == NULL) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

static enum nc_coord_algo
api_algo(const struct nc_api *api)
{
	if (api->coords == NULL)
		return NC_COORD_ALGO_NC;
	return nc_coord_client_config(nc_agent_coords_client(api->coords))
	    ->algo;
}

/** Add a number, or null for NAN. */
static cJSON *
add_num_or_null(cJSON *o, const char *k, double v)
{
	if (isnan(v) || isinf(v))
		return cJSON_AddNullToObject(o, k);
	return cJSON_AddNumberToObject(o, k, v);
}

/** Parse Consul's Coord JSON into *out (dims must be 8). */
static int
parse_coord_param(const struct nc_api *api, const char *text,
		  struct nc_coord *out, char *err, size_t err_cap)
{
	cJSON *j = cJSON_Parse(text);
	const cJSON *vec = cJSON_GetObjectItemCaseSensitive(j, "Vec");
	const cJSON *e = cJSON_GetObjectItemCaseSensitive(j, "Error");
	const cJSON *a = cJSON_GetObjectItemCaseSensitive(j, "Adjustment");
	const cJSON *h = cJSON_GetObjectItemCaseSensitive(j, "Height");
	unsigned want = 8;
	if (api->coords != NULL)
		want = nc_coord_client_config(
			   nc_agent_coords_client(api->coords))
			   ->dims;
	memset(out, 0, sizeof(*out));
	if (!cJSON_IsObject(j) || !cJSON_IsArray(vec) ||
	    cJSON_GetArraySize(vec) != (int)want ||
	    (e != NULL && !cJSON_IsNumber(e)) ||
	    (a != NULL && !cJSON_IsNumber(a)) ||
	    (h != NULL && !cJSON_IsNumber(h)))
		goto bad;
	out->dims = want;
	int i = 0;
	const cJSON *x;
	cJSON_ArrayForEach(x, vec)
	{
		if (!cJSON_IsNumber(x))
			goto bad;
		out->vec[i++] = x->valuedouble;
	}
	out->error = e != NULL ? e->valuedouble : 1.5;
	out->adjustment = a != NULL ? a->valuedouble : 0;
	out->height = h != NULL ? h->valuedouble : 1e-5;
	if (nc_coord_check(out) != 0)
		goto bad;
	cJSON_Delete(j);
	return 0;
bad:
	cJSON_Delete(j);
	snprintf(err, err_cap,
		 "bad parameter \"coord\": want {\"Vec\":[%u numbers],"
		 "\"Error\",\"Adjustment\",\"Height\"}",
		 want);
	return 400;
}

/**
 * Resolve the source: coord= (raw coordinate) or from= (a node, default
 * this one). *has is false when the node has no coordinate yet.
 */
static int
resolve_source(struct nc_api *api, const struct nc_api_request *req, double now,
	       const char **from, struct nc_coord *src, bool *has, char *err,
	       size_t err_cap)
{
	const char *f = nc_api_query(req, "from");
	const char *cp = nc_api_query(req, "coord");
	*has = false;
	if (cp != NULL) {
		if (f != NULL) {
			snprintf(err, err_cap,
				 "bad parameter \"coord\": give either from "
				 "or coord");
			return 400;
		}
		int rc = parse_coord_param(api, cp, src, err, err_cap);
		if (rc != 0)
			return rc;
		*from = "";
		*has = true;
		return 0;
	}
	if (f != NULL && f[0] == '\0') {
		snprintf(err, err_cap, "bad parameter \"from\": empty");
		return 400;
	}
	if (f == NULL) {
		if (api->gossip == NULL) {
			snprintf(err, err_cap, "no gossip instance");
			return 503;
		}
		f = nc_gossip_self(api->gossip)->name;
	}
	if (api->gossip == NULL ||
	    nc_gossip_member_find(api->gossip, f) == NULL) {
		snprintf(err, err_cap, "unknown node \"%.128s\"", f);
		return 404;
	}
	*from = f;
	struct nc_agent_coord_info ci;
	if (api->coords != NULL &&
	    nc_agent_coords_get(api->coords, now, f, &ci) == 0 &&
	    ci.has_coord) {
		*src = *ci.coord;
		*has = true;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* /v1/agent/self                                                     */
/* ------------------------------------------------------------------ */

static int
agent_self(void *ctx, const struct nc_api_request *req, cJSON **out, char *err,
	   size_t err_cap)
{
	struct nc_api *api = ctx;
	(void)req;
	if (api->gossip == NULL) {
		snprintf(err, err_cap, "no gossip instance");
		return 503;
	}
	const struct nc_gossip_member *me = nc_gossip_self(api->gossip);
	cJSON *o = nc__api_member_json(me);
	if (o == NULL)
		return nc__api_oom(err, err_cap);
	cJSON_AddStringToObject(o, "Version", api->cfg.version);
	cJSON_AddNumberToObject(o, "HealthScore",
				nc_gossip_health_score(api->gossip));
	cJSON_AddNumberToObject(o, "Members",
				(double)nc_gossip_member_count(api->gossip));
	if (api->coords != NULL) {
		struct nc_agent_coord_info ci;
		struct nc_coord_stats cs;
		nc_agent_coords_get(api->coords, nc__api_now(api), me->name,
				  &ci);
		cJSON *c = nc__api_coord_json(ci.coord);
		if (c == NULL) {
			cJSON_Delete(o);
			return nc__api_oom(err, err_cap);
		}
		cJSON_AddItemToObject(o, "Coord", c);
		nc_coord_client_stats(nc_agent_coords_client(api->coords),
				      &cs);
		cJSON *s = cJSON_AddObjectToObject(o, "CoordStats");
		if (s != NULL) {
			cJSON_AddNumberToObject(s, "Updates",
						(double)cs.updates);
			cJSON_AddNumberToObject(s, "Resets", (double)cs.resets);
			cJSON_AddNumberToObject(s, "Rejected",
						(double)cs.rejected);
			cJSON_AddNumberToObject(s, "MeasuredError",
						cs.measured_error);
		}
	} else {
		cJSON_AddNullToObject(o, "Coord");
	}
	*out = o;
	return 200;
}

/* ------------------------------------------------------------------ */
/* /v1/coordinate/nodes, /v1/coordinate/node/<name>                   */
/* ------------------------------------------------------------------ */

static cJSON *
node_coord_json(const char *name, const struct nc_agent_coord_info *ci)
{
	cJSON *o = cJSON_CreateObject();
	cJSON *c = nc__api_coord_json(ci->coord);
	if (o == NULL || c == NULL) {
		cJSON_Delete(o);
		cJSON_Delete(c);
		return NULL;
	}
	cJSON_AddStringToObject(o, "Node", name);
	cJSON_AddStringToObject(o, "Segment", "");
	cJSON_AddItemToObject(o, "Coord", c);
	add_num_or_null(o, "AgeS", ci->age_s);
	cJSON_AddStringToObject(o, "Source",
				nc_agent_coord_source_str(ci->source));
	if (ci->via != NULL && ci->via[0] != '\0')
		cJSON_AddStringToObject(o, "Via", ci->via);
	return o;
}

static int
coordinate_list(struct nc_api *api, const struct nc_api_request *req,
		const char *only, cJSON **out, char *err, size_t err_cap)
{
	double now = nc__api_now(api);
	if (only != NULL) {
		/* One node: a hash lookup each, live. */
		struct nc_agent_coord_info ci;
		if (api->gossip == NULL ||
		    nc_gossip_member_find(api->gossip, only) == NULL) {
			snprintf(err, err_cap, "unknown node \"%.128s\"", only);
			return 404;
		}
		cJSON *arr = cJSON_CreateArray();
		if (arr == NULL)
			return nc__api_oom(err, err_cap);
		if (api->coords != NULL &&
		    nc_agent_coords_get(api->coords, now, only, &ci) == 0 &&
		    ci.has_coord) {
			cJSON *o = node_coord_json(only, &ci);
			if (o == NULL) {
				cJSON_Delete(arr);
				return nc__api_oom(err, err_cap);
			}
			cJSON_AddItemToArray(arr, o);
		}
		*out = arr;
		return 200;
	}
	uint64_t index;
	double wait_s;
	int rc = nc__api_block_parse(req, &index, &wait_s, err, err_cap);
	if (rc != 0)
		return rc;
	const struct nc__api_view *v = nc__api_view_get(api, now);
	if (v == NULL)
		return nc__api_oom(err, err_cap);
	static const char key[] = "coordinate/nodes";
	if (nc__api_rcache_reply(api, req, v->epoch, key))
		return nc__api_block_finish(api, req, key, 200, err, err_cap);
	cJSON *arr = cJSON_CreateArray();
	if (arr == NULL)
		return nc__api_oom(err, err_cap);
	for (size_t i = 0; i < v->n; i++) {
		const struct nc__api_vent *e = &v->ent[i];
		if (!e->has_coord)
			continue;
		struct nc_agent_coord_info ci = {
		    .has_coord = true,
		    .coord = &v->co[i],
		    .age_s = now - e->produced,
		    .source = (enum nc_agent_coord_source)e->source,
		    .via = e->via,
		};
		cJSON *o = node_coord_json(e->name, &ci);
		if (o == NULL) {
			cJSON_Delete(arr);
			return nc__api_oom(err, err_cap);
		}
		cJSON_AddItemToArray(arr, o);
	}
	/* Listed in the gossip table's order: a set for the index. */
	rc = nc__api_rcache_store(api, req, v->epoch, key, NC__API_SIG_SET,
				  arr, err, err_cap);
	return nc__api_block_finish(api, req, key, rc, err, err_cap);
}

static int
coordinate_nodes(void *ctx, const struct nc_api_request *req, cJSON **out,
		 char *err, size_t err_cap)
{
	return coordinate_list(ctx, req, NULL, out, err, err_cap);
}

static int
coordinate_node(void *ctx, const struct nc_api_request *req, cJSON **out,
		char *err, size_t err_cap)
{
	if (req->suffix[0] == '\0') {
		snprintf(err, err_cap, "missing node name in the path");
		return 400;
	}
	return coordinate_list(ctx, req, req->suffix, out, err, err_cap);
}

/* ------------------------------------------------------------------ */
/* /v1/rtt                                                            */
/* ------------------------------------------------------------------ */

static int
rtt(void *ctx, const struct nc_api_request *req, cJSON **out, char *err,
    size_t err_cap)
{
	struct nc_api *api = ctx;
	double now = nc__api_now(api);
	const char *to = nc_api_query(req, "to");
	const char *from;
	struct nc_coord src;
	bool has_src;
	if (to == NULL || to[0] == '\0') {
		snprintf(err, err_cap, "missing parameter \"to\"");
		return 400;
	}
	if (nc_api_query(req, "coord") != NULL) {
		snprintf(err, err_cap,
			 "bad parameter \"coord\": not supported by /v1/rtt");
		return 400;
	}
	int rc =
	    resolve_source(api, req, now, &from, &src, &has_src, err, err_cap);
	if (rc != 0)
		return rc;
	if (nc_gossip_member_find(api->gossip, to) == NULL) {
		snprintf(err, err_cap, "unknown node \"%.128s\"", to);
		return 404;
	}
	/* Both coordinates fresh first (api/fresh.c). */
	double fresh_wait;
	rc = nc__api_fresh_parse(req, &fresh_wait, err, err_cap);
	if (rc == 0) {
		const char *pair[2] = {from, to};
		rc = nc__api_fresh_step(api, req, fresh_wait,
					has_src ? &src : NULL, pair, NULL, 2, 1,
					err, err_cap);
		if (rc == NC__API_FRESH_HELD)
			return NC_API_SUSPEND;
	}
	if (rc != 0)
		return rc;
	struct nc_agent_coord_info ci;
	bool has_to = api->coords != NULL &&
		      nc_agent_coords_get(api->coords, now, to, &ci) == 0 &&
		      ci.has_coord;
	double est = NAN;
	if (has_src && has_to)
		est = nc_coord_estimate_rtt(api_algo(api), &src, ci.coord);
	cJSON *o = cJSON_CreateObject();
	if (o == NULL)
		return nc__api_oom(err, err_cap);
	cJSON_AddStringToObject(o, "From", from);
	cJSON_AddStringToObject(o, "To", to);
	add_num_or_null(o, "EstimatedMs", est * 1000.0);
	bool self = strcmp(from, nc_gossip_self(api->gossip)->name) == 0;
	if (self && api->coords != NULL &&
	    nc_agent_coords_get(api->coords, now, to, &ci) == 0 &&
	    !isnan(ci.measured_rtt_s)) {
		/* The combine rule (api/verify.c): what this agent serves. */
		struct nc__api_vent e = {
		    .measured_rtt_s = ci.measured_rtt_s,
		    .measured_at = now - ci.measured_age_s};
		enum nc_coord_basis b;
		double served = nc__api_served_rtt(&e, now, est, &b);
		add_num_or_null(o, "RttMs", served * 1000.0);
		cJSON_AddStringToObject(o, "Basis", nc_coord_basis_str(b));
		cJSON_AddNumberToObject(o, "MeasuredMs",
					ci.measured_rtt_s * 1000.0);
		cJSON_AddNumberToObject(o, "MeasuredAgeS", ci.measured_age_s);
	} else {
		add_num_or_null(o, "RttMs", est * 1000.0);
		cJSON_AddStringToObject(o, "Basis", "estimate");
		cJSON_AddNullToObject(o, "MeasuredMs");
		cJSON_AddNullToObject(o, "MeasuredAgeS");
	}
	*out = o;
	return 200;
}

/* ------------------------------------------------------------------ */
/* Candidates                                                         */
/* ------------------------------------------------------------------ */

/*
 * Candidates come from the view (api/view.c): a dense copy of the member
 * table with coordinates, rebuilt at most every max_stale_s, not per
 * request. Nearest ranks the view's candidate array in place through a
 * filter; failover copies the members that pass into a cand_set.
 */
struct cand_set {
	struct nc_coord_candidate *c;
	/** Index of each candidate in the view. */
	size_t *vi;
	char (*group)[NC_GOSSIP_META_MAX + 1];
	size_t n;
};

static void
cands_free(struct cand_set *s)
{
	free(s->c);
	free(s->vi);
	free(s->group);
}

/**
 * Every view member passing @a f except index @a skip, with (if
 * @a group_key) its group tag value; members lacking the group tag are
 * left out.
 */
static int
cands_build(const struct nc__api_view *v, const struct nc__api_filter *f,
	    size_t skip, const char *group_key, struct cand_set *s)
{
	size_t n = v->n;
	memset(s, 0, sizeof(*s));
	s->c = calloc(n + 1, sizeof(*s->c));
	s->vi = calloc(n + 1, sizeof(*s->vi));
	if (group_key != NULL)
		s->group = calloc(n + 1, sizeof(*s->group));
	if (s->c == NULL || s->vi == NULL ||
	    (group_key != NULL && s->group == NULL)) {
		cands_free(s);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		const struct nc__api_vent *e = &v->ent[i];
		if (i == skip || (f != NULL && !nc__api_filter_match_vent(f, e)))
			continue;
		size_t k = s->n;
		s->c[k] = v->rc[i];
		if (group_key != NULL) {
			if (!nc__api_meta_tag(e->meta, e->meta_len, group_key,
					      s->group[k], sizeof(s->group[k])))
				continue;
			s->c[k].group = s->group[k];
		}
		s->vi[k] = i;
		s->n++;
	}
	return 0;
}

/** Index of the source in the view ("" = raw coordinate: none). */
static size_t
view_source(const struct nc_api *api, const struct nc__api_view *v,
	    const char *from)
{
	if (from[0] == '\0')
		return SIZE_MAX;
	if (v->self != SIZE_MAX && api->gossip != NULL &&
	    strcmp(v->ent[v->self].name, from) == 0)
		return v->self;
	return nc__api_view_find(v, from);
}

/**
 * Cache key of a ranking query: route, source (from= or coord=, as
 * given; absent from= is this node), the filters, and @a extra.
 */
static bool
rank_key(const struct nc_api_request *req, const char *route,
	 const struct nc__api_filter *f, const char *extra, char *key,
	 size_t cap)
{
	const char *from = nc_api_query(req, "from");
	const char *coord = nc_api_query(req, "coord");
	int w = snprintf(key, cap, "%s|from=%d%zu:%s|coord=%d%zu:%s|%s|",
			 route, from != NULL, from ? strlen(from) : 0,
			 from ? from : "", coord != NULL,
			 coord ? strlen(coord) : 0, coord ? coord : "", extra);
	if (w < 0 || (size_t)w >= cap)
		return false;
	return nc__api_filter_key(f, key + w, cap - (size_t)w) == 0;
}

/* ------------------------------------------------------------------ */
/* /v1/nearest                                                        */
/* ------------------------------------------------------------------ */

static int
parse_n(const char *v, long *out, char *err, size_t err_cap)
{
	char *end;
	long n;
	if (v == NULL) {
		*out = NEAREST_DEFAULT;
		return 0;
	}
	n = strtol(v, &end, 10);
	if (end == v || *end != '\0' || n < 1 || n > NEAREST_MAX) {
		snprintf(err, err_cap,
			 "bad parameter \"n\": \"%.32s\" (want an integer "
			 "1..%d)",
			 v, NEAREST_MAX);
		return 400;
	}
	*out = n;
	return 0;
}

/** Ranking filter over the view: the request's filter. */
struct near_filter {
	const struct nc__api_view *v;
	const struct nc__api_filter *f;
};

static int
near_keep(const struct nc_coord_candidate *cand, size_t i, void *arg)
{
	const struct near_filter *nf = arg;
	(void)cand;
	return nc__api_filter_match_vent(nf->f, &nf->v->ent[i]);
}

/** One candidate ranked by the RTT this agent serves. */
struct served {
	double rtt;
	size_t i;
	const char *name;
};

static int
served_cmp(const void *pa, const void *pb)
{
	const struct served *a = pa, *b = pb;
	double x = isnan(a->rtt) ? INFINITY : a->rtt;
	double y = isnan(b->rtt) ? INFINITY : b->rtt;
	if (x != y)
		return x < y ? -1 : 1;
	return strcmp(a->name, b->name);
}

/**
 * Nearest from this agent: every candidate by the RTT it serves (the
 * combine rule: its own fresh measurement wins over the estimate,
 * api/verify.c), not by the estimate alone, so that a member measured at
 * 0.3 ms is not ranked behind one estimated at 2 ms. O(n log n) over the
 * view (a sort), once per view epoch thanks to the answer cache.
 * Returns how many went into idx/est (<= want), or -1 on OOM.
 */
static int
rank_served(struct nc_api *api, const struct nc__api_view *v,
	    const struct near_filter *nf, const struct nc_coord *src,
	    double now, size_t want, size_t *idx, double *est)
{
	struct served *s = calloc(v->n + 1, sizeof(*s));
	size_t k = 0;
	if (s == NULL)
		return -1;
	for (size_t i = 0; i < v->n; i++) {
		if (i == v->self || !near_keep(&v->rc[i], i, (void *)nf))
			continue;
		double e = src != NULL && v->rc[i].coord != NULL
			       ? nc_coord_estimate_rtt(api_algo(api), src,
						       v->rc[i].coord)
			       : NAN;
		s[k++] = (struct served){
		    nc__api_served_rtt(&v->ent[i], now, e, NULL), i,
		    v->ent[i].name};
	}
	qsort(s, k, sizeof(*s), served_cmp);
	size_t got = k < want ? k : want;
	for (size_t r = 0; r < got; r++) {
		idx[r] = s[r].i;
		est[r] = s[r].rtt;
	}
	free(s);
	return (int)got;
}

/**
 * The coordinate estimate (s, NAN if none) to view entry @a i and how
 * rank_served served it (*b).
 */
static double
served_est(struct nc_api *api, const struct nc__api_view *v, size_t i,
	   const struct nc_coord *src, double now, enum nc_coord_basis *b)
{
	double e = src != NULL && v->rc[i].coord != NULL
		       ? nc_coord_estimate_rtt(api_algo(api), src,
					       v->rc[i].coord)
		       : NAN;
	nc__api_served_rtt(&v->ent[i], now, e, b);
	return e;
}

/**
 * Fresh coordinates for a nearest ranking (api/fresh.c): the candidates
 * passing the filter, the source left out. 0, NC__API_FRESH_HELD or an
 * error status.
 */
static int
nearest_fresh(struct nc_api *api, const struct nc_api_request *req,
	      const struct nc__api_view *v, const struct nc__api_filter *f,
	      const char *from, const struct nc_coord *src, size_t k,
	      double fresh_wait, char *err, size_t err_cap)
{
	if (api->coords == NULL || v->n == 0)
		return 0;
	const char **names = calloc(v->n + 1, sizeof(*names));
	size_t n = 0;
	if (names == NULL)
		return nc__api_oom(err, err_cap);
	for (size_t i = 0; i < v->n; i++) {
		const struct nc__api_vent *e = &v->ent[i];
		if (i == v->self || strcmp(e->name, from) == 0 ||
		    !nc__api_filter_match_vent(f, e))
			continue;
		names[n++] = e->name;
	}
	int rc = nc__api_fresh_step(api, req, fresh_wait, src, names, NULL, n,
				    k, err, err_cap);
	free(names);
	return rc;
}

/**
 * Fresh coordinates for a failover ranking: the healthy candidates, each
 * group named by a hash of its value.
 */
static int
failover_fresh(struct nc_api *api, const struct nc_api_request *req,
	       const struct nc__api_view *v, const struct cand_set *cs,
	       const struct nc_coord *src, double fresh_wait, char *err,
	       size_t err_cap)
{
	if (api->coords == NULL || cs->n == 0)
		return 0;
	const char **names = calloc(cs->n + 1, sizeof(*names));
	size_t *group = calloc(cs->n + 1, sizeof(*group));
	size_t n = 0;
	if (names == NULL || group == NULL) {
		free(names);
		free(group);
		return nc__api_oom(err, err_cap);
	}
	for (size_t i = 0; i < cs->n; i++) {
		const struct nc__api_vent *e = &v->ent[cs->vi[i]];
		if (e->state != NC_MEMBER_ALIVE)
			continue;
		names[n] = e->name;
		group[n] = (size_t)nc_hash_str(cs->group[i]);
		n++;
	}
	int rc = nc__api_fresh_step(api, req, fresh_wait, src, names, group,
				    n, 0, err, err_cap);
	free(names);
	free(group);
	return rc;
}

static int
nearest(void *ctx, const struct nc_api_request *req, cJSON **out, char *err,
	size_t err_cap)
{
	struct nc_api *api = ctx;
	double now = nc__api_now(api);
	struct nc__api_filter f;
	const char *from;
	struct nc_coord src;
	bool has_src;
	long n;
	char key[4096], extra[64];
	long vk = 0; /* verify=K (api/verify.c) */
	(void)out; /* answered with nc__api_rcache_store */
	uint64_t index;
	double wait_s, fresh_wait;
	int rc = parse_n(nc_api_query(req, "n"), &n, err, err_cap);
	if (rc == 0)
		rc = nc__api_verify_parse(api, req, &vk, err, err_cap);
	if (rc == 0)
		rc = nc__api_filter_parse(req, NC__API_ST_ALIVE, &f, err,
					  err_cap);
	if (rc == 0)
		rc = nc__api_block_parse(req, &index, &wait_s, err, err_cap);
	if (rc == 0)
		rc = nc__api_fresh_parse(req, &fresh_wait, err, err_cap);
	if (rc == 0 && vk > 0 && nc_api_query(req, "index") != NULL) {
		/* A verified answer is measured, not tracked: no blocking. */
		snprintf(err, err_cap, "index: not with verify");
		rc = 400;
	}
	if (rc != 0)
		return rc;
	const struct nc__api_view *v = nc__api_view_get(api, now);
	if (v == NULL)
		return nc__api_oom(err, err_cap);
	snprintf(extra, sizeof(extra), "n=%ld|verify=%ld", n, vk);
	bool keyed = rank_key(req, "nearest", &f, extra, key, sizeof(key));
	if (keyed && vk > 0 && nc__api_verify_cached(api, req, key))
		return 200;
	if (keyed && vk == 0 && nc__api_rcache_reply(api, req, v->epoch, key))
		return nc__api_block_finish(api, req, key, 200, err, err_cap);
	rc = resolve_source(api, req, now, &from, &src, &has_src, err,
			    err_cap);
	if (rc != 0)
		return rc;
	/* Ranked: n, or K to verify if more. */
	long nk = vk > n ? vk : n;
	bool self_src = from[0] != '\0' && v->self != SIZE_MAX &&
			strcmp(v->ent[v->self].name, from) == 0;
	/* Candidates' coordinates fresh first (api/fresh.c; a verified
	 * query measures anyway: fetch without waiting). */
	if (has_src) {
		rc = nearest_fresh(api, req, v, &f, from, &src, (size_t)nk,
				   vk > 0 ? 0 : fresh_wait, err, err_cap);
		if (rc == NC__API_FRESH_HELD)
			return NC_API_SUSPEND;
		if (rc != 0)
			return rc;
	}
	/* One more than asked, then the source is dropped from the answer
	 * (cheaper than finding it among the candidates: O(n) not O(N)). */
	struct near_filter nf = {v, &f};
	size_t want = (size_t)nk + 1 < v->n ? (size_t)nk + 1 : v->n;
	size_t *idx = calloc(want + 1, sizeof(*idx));
	double *est = calloc(want + 1, sizeof(*est));
	cJSON *o = cJSON_CreateObject();
	cJSON *arr = NULL;
	int got = 0;
	if (idx == NULL || est == NULL || o == NULL)
		goto oom;
	if (want > 0) {
		/* No source coordinate: every estimate is unknown and a
		 * dims-0 origin matches no candidate, so the order is by
		 * name. */
		struct nc_coord origin;
		memset(&origin, 0, sizeof(origin));
		if (self_src)
			got = rank_served(api, v, &nf, has_src ? &src : NULL,
					  now, want, idx, est);
		else
			got = nc_coord_rank_nearest(
			    api_algo(api), has_src ? &src : &origin, v->rc,
			    v->n, near_keep, &nf, want, idx, est);
		if (got < 0)
			goto oom;
		for (int i = 0; !has_src && !self_src && i < got; i++)
			est[i] = NAN;
		/* Drop the source; keep at most n. */
		int k = 0;
		for (int i = 0; i < got; i++) {
			if (from[0] != '\0' &&
			    strcmp(v->ent[idx[i]].name, from) == 0)
				continue;
			idx[k] = idx[i];
			est[k] = est[i];
			k++;
		}
		got = k < nk ? k : (int)nk;
	}
	if (from[0] != '\0')
		cJSON_AddStringToObject(o, "From", from);
	else
		cJSON_AddNullToObject(o, "From");
	arr = cJSON_AddArrayToObject(o, "Nodes");
	if (arr == NULL)
		goto oom;
	for (int i = 0; i < got; i++) {
		cJSON *m = nc__api_vent_json(&v->ent[idx[i]]);
		if (m == NULL)
			goto oom;
		if (self_src) {
			/* est[] holds what is served; the estimate apart. */
			enum nc_coord_basis b;
			double e = served_est(api, v, idx[i],
					      has_src ? &src : NULL, now, &b);
			add_num_or_null(m, "EstimatedMs", e * 1000.0);
			add_num_or_null(m, "RttMs", est[i] * 1000.0);
			cJSON_AddStringToObject(m, "Basis",
						nc_coord_basis_str(b));
		} else {
			add_num_or_null(m, "EstimatedMs", est[i] * 1000.0);
		}
		/* How old the coordinate ranked by is (api/fresh.c). */
		add_num_or_null(m, "AgeS", now - v->ent[idx[i]].produced);
		cJSON_AddItemToArray(arr, m);
	}
	free(idx);
	free(est);
	if (vk > 0)
		return nc__api_verify_start(api, req, o, vk, n,
					    keyed ? key : NULL, err, err_cap);
	rc = nc__api_rcache_store(api, req, v->epoch, keyed ? key : NULL, 0, o,
				  err, err_cap);
	return nc__api_block_finish(api, req, keyed ? key : NULL, rc, err,
				    err_cap);
oom:
	free(idx);
	free(est);
	cJSON_Delete(o);
	return nc__api_oom(err, err_cap);
}

/* ------------------------------------------------------------------ */
/* /v1/failover                                                       */
/* ------------------------------------------------------------------ */

/** group=, skip-local= and the filters of a /v1/failover query. */
static int
failover_params(const struct nc_api_request *req, const char **group,
		bool *skip_local, struct nc__api_filter *f, char *err,
		size_t err_cap)
{
	*group = nc_api_query(req, "group");
	*skip_local = false;
	if (*group == NULL || (*group)[0] == '\0') {
		snprintf(err, err_cap,
			 "missing parameter \"group\" (a tag key, e.g. dc)");
		return 400;
	}
	/* Absent: false; a bare "?skip-local" (value ""): true. */
	const char *sl = nc_api_query(req, "skip-local");
	if (sl != NULL && sl[0] == '\0')
		*skip_local = true;
	else if (sl != NULL && nc_parse_bool(sl, skip_local) != 0) {
		snprintf(err, err_cap,
			 "bad parameter \"skip-local\": want 1/0/true/false");
		return 400;
	}
	return nc__api_filter_parse(req, NC__API_ST_ALL, f, err, err_cap);
}

/** The source node's value of tag @a group (false: raw coord or none). */
static bool
source_group(const struct nc_api *api, const char *from, const char *group,
	     char *local, size_t cap)
{
	if (from[0] == '\0')
		return false;
	const struct nc_gossip_member *fm =
	    nc_gossip_member_find(api->gossip, from);
	return nc__api_meta_tag(fm->meta, fm->meta_len, group, local, cap);
}

/** A candidate (cand_set index) filed under its group value. */
struct by_group {
	const char *group;
	size_t i;
};

/** One unhealthy member of a group and its estimate (s). */
struct unhealthy {
	double est;
	size_t i;
};

/**
 * One failover ranking: the candidates, the source coordinate, and the
 * working arrays sized to the candidates. Healthy (alive) candidates
 * rank; the rest follow in their group.
 */
struct failover_rank {
	struct nc_api *api;
	const struct nc__api_view *v;
	struct cand_set s;
	/** Source coordinate, NULL if unknown. */
	const struct nc_coord *src;
	/** Healthy candidates to rank, and the cand_set index of each. */
	struct nc_coord_candidate *hc;
	size_t *hmap;
	size_t nh;
	/** Every group value among the candidates, healthy or not. */
	const char **all;
	size_t n_all;
	/** Result: indices into hc, in the groups gr describes. */
	size_t *order;
	struct nc_coord_group_rank *gr;
	size_t n_groups;
	/** The candidates sorted by group value, then index. */
	struct by_group *byg;
	/** Scratch: one group's unhealthy members and their estimates. */
	struct unhealthy *u;
};

static int
failover_rank_alloc(struct failover_rank *fr)
{
	size_t n = fr->s.n;
	fr->hc = calloc(n + 1, sizeof(*fr->hc));
	fr->hmap = calloc(n + 1, sizeof(*fr->hmap));
	fr->all = calloc(n + 1, sizeof(*fr->all));
	fr->order = calloc(n + 1, sizeof(*fr->order));
	fr->byg = calloc(n + 1, sizeof(*fr->byg));
	fr->u = calloc(n + 1, sizeof(*fr->u));
	fr->gr = calloc(2 * n + 2, sizeof(*fr->gr));
	if (fr->hc == NULL || fr->hmap == NULL || fr->all == NULL ||
	    fr->order == NULL || fr->byg == NULL || fr->u == NULL ||
	    fr->gr == NULL)
		return -1;
	return 0;
}

/** Free the working arrays and the candidates. */
static void
failover_rank_free(struct failover_rank *fr)
{
	free(fr->hc);
	free(fr->hmap);
	free(fr->all);
	free(fr->order);
	free(fr->byg);
	free(fr->u);
	free(fr->gr);
	cands_free(&fr->s);
}

static int
by_group_cmp(const void *pa, const void *pb)
{
	const struct by_group *a = pa, *b = pb;
	int c = strcmp(a->group, b->group);
	if (c != 0)
		return c;
	return a->i < b->i ? -1 : (a->i > b->i);
}

/**
 * The candidates sorted by group (fr->byg), the distinct group values
 * (in group order; the ranking orders them anyway) and the healthy
 * candidates (without coordinates if the source has none).
 * O(n log n).
 */
static void
failover_collect(struct failover_rank *fr)
{
	const struct cand_set *s = &fr->s;
	for (size_t i = 0; i < s->n; i++)
		fr->byg[i] = (struct by_group){s->group[i], i};
	if (s->n > 1)
		qsort(fr->byg, s->n, sizeof(*fr->byg), by_group_cmp);
	for (size_t k = 0; k < s->n; k++)
		if (k == 0 || strcmp(fr->byg[k].group, fr->byg[k - 1].group) != 0)
			fr->all[fr->n_all++] = fr->byg[k].group;
	for (size_t i = 0; i < s->n; i++) {
		if (fr->v->ent[s->vi[i]].state == NC_MEMBER_ALIVE) {
			fr->hc[fr->nh] = s->c[i];
			if (fr->src == NULL)
				fr->hc[fr->nh].coord = NULL;
			fr->hmap[fr->nh++] = i;
		}
	}
}

/** Append {Name, Status, EstimatedMs} of @a ve to @a ms; false on OOM. */
static bool
failover_member_add(cJSON *ms, const struct nc__api_vent *ve, double est_ms)
{
	cJSON *m = cJSON_CreateObject();
	if (m == NULL)
		return false;
	cJSON_AddItemToArray(ms, m);
	cJSON_AddStringToObject(m, "Name", ve->name);
	cJSON_AddStringToObject(m, "Status", nc_api_status_str(ve->state));
	add_num_or_null(m, "EstimatedMs", est_ms);
	return true;
}

/** The ranked healthy members of group @a g, nearest first. */
static bool
failover_add_healthy(const struct failover_rank *fr, size_t g, cJSON *ms)
{
	const struct nc_coord_group_rank *gr = &fr->gr[g];
	for (size_t k = 0; k < gr->count; k++) {
		size_t ci = fr->hmap[fr->order[gr->first + k]];
		const struct nc_coord *c = fr->s.c[ci].coord;
		double e = fr->src != NULL && c != NULL
			       ? nc_coord_estimate_rtt(api_algo(fr->api),
						       fr->src, c)
			       : NAN;
		if (!failover_member_add(ms, &fr->v->ent[fr->s.vi[ci]],
					 e * 1000.0))
			return false;
	}
	return true;
}

/** By estimate, ascending (NaN as unknown, last), then input order. */
static int
unhealthy_cmp(const void *pa, const void *pb)
{
	const struct unhealthy *a = pa, *b = pb;
	double x = isnan(a->est) ? INFINITY : a->est;
	double y = isnan(b->est) ? INFINITY : b->est;
	if (x != y)
		return x < y ? -1 : 1;
	return a->i < b->i ? -1 : (a->i > b->i);
}

/** First fr->byg slot of group @a group (binary search). */
static size_t
group_first(const struct failover_rank *fr, const char *group)
{
	size_t lo = 0, hi = fr->s.n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (strcmp(fr->byg[mid].group, group) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/**
 * The unhealthy members of group @a group, by estimate (unknown last).
 * O(log n + group size * log group size).
 */
static bool
failover_add_unhealthy(struct failover_rank *fr, const char *group,
		       cJSON *ms)
{
	const struct cand_set *s = &fr->s;
	size_t nu = 0;
	for (size_t k = group_first(fr, group);
	     k < s->n && strcmp(fr->byg[k].group, group) == 0; k++) {
		size_t i = fr->byg[k].i;
		if (fr->v->ent[s->vi[i]].state == NC_MEMBER_ALIVE)
			continue;
		const struct nc_coord *c = s->c[i].coord;
		fr->u[nu].i = i;
		fr->u[nu].est = fr->src != NULL && c != NULL
				    ? nc_coord_estimate_rtt(api_algo(fr->api),
							    fr->src, c)
				    : INFINITY;
		nu++;
	}
	if (nu > 1)
		qsort(fr->u, nu, sizeof(*fr->u), unhealthy_cmp);
	for (size_t k = 0; k < nu; k++) {
		double e = fr->u[k].est;
		if (!failover_member_add(ms, &fr->v->ent[s->vi[fr->u[k].i]],
					 isinf(e) ? NAN : e * 1000.0))
			return false;
	}
	return true;
}

/** Append group @a g of the ranking to @a groups; false on OOM. */
static bool
failover_group_json(struct failover_rank *fr, size_t g, cJSON *groups)
{
	const struct nc_coord_group_rank *gr = &fr->gr[g];
	cJSON *go = cJSON_CreateObject();
	if (go == NULL)
		return false;
	cJSON_AddItemToArray(groups, go);
	cJSON_AddStringToObject(go, "Value", gr->group);
	add_num_or_null(go, "MedianMs", gr->median_rtt * 1000.0);
	cJSON *ms = cJSON_AddArrayToObject(go, "Members");
	if (ms == NULL)
		return false;
	return failover_add_healthy(fr, g, ms) &&
	       failover_add_unhealthy(fr, gr->group, ms);
}

/**
 * Rank the candidates by group and build the answer, leaving out group
 * @a skip_group (NULL: none). NULL on OOM.
 */
static cJSON *
failover_answer(struct failover_rank *fr, const char *from,
		const char *group, const char *skip_group)
{
	struct nc_coord dummy;
	memset(&dummy, 0, sizeof(dummy));
	dummy.dims = 8;
	failover_collect(fr);
	if (nc_coord_rank_failover(api_algo(fr->api),
				   fr->src != NULL ? fr->src : &dummy, fr->hc,
				   fr->nh, NULL, NULL, skip_group, fr->all,
				   fr->n_all, fr->order, fr->gr,
				   &fr->n_groups) < 0)
		return NULL;
	cJSON *o = cJSON_CreateObject();
	if (o == NULL)
		return NULL;
	cJSON_AddStringToObject(o, "From", from);
	cJSON_AddStringToObject(o, "Group", group);
	cJSON *groups = cJSON_AddArrayToObject(o, "Groups");
	if (groups == NULL)
		goto oom;
	for (size_t g = 0; g < fr->n_groups; g++) {
		if (skip_group != NULL &&
		    strcmp(fr->gr[g].group, skip_group) == 0)
			continue;
		if (!failover_group_json(fr, g, groups))
			goto oom;
	}
	return o;
oom:
	cJSON_Delete(o);
	return NULL;
}

static int
failover(void *ctx, const struct nc_api_request *req, cJSON **out, char *err,
	 size_t err_cap)
{
	struct nc_api *api = ctx;
	double now = nc__api_now(api);
	const char *group, *from;
	struct nc_coord src;
	bool has_src, skip_local;
	struct nc__api_filter f;
	(void)out; /* answered with nc__api_rcache_store */
	uint64_t index;
	double wait_s;
	double fresh_wait;
	int rc = failover_params(req, &group, &skip_local, &f, err, err_cap);
	if (rc == 0)
		rc = nc__api_block_parse(req, &index, &wait_s, err, err_cap);
	if (rc == 0)
		rc = nc__api_fresh_parse(req, &fresh_wait, err, err_cap);
	if (rc != 0)
		return rc;
	const struct nc__api_view *v = nc__api_view_get(api, now);
	if (v == NULL)
		return nc__api_oom(err, err_cap);
	char key[4096], extra[NC_GOSSIP_META_MAX + 64];
	snprintf(extra, sizeof(extra), "skip=%d|group=%zu:%s", skip_local,
		 strlen(group), group);
	bool keyed = rank_key(req, "failover", &f, extra, key, sizeof(key));
	if (keyed && nc__api_rcache_reply(api, req, v->epoch, key))
		return nc__api_block_finish(api, req, key, 200, err, err_cap);
	rc = resolve_source(api, req, now, &from, &src, &has_src, err,
			    err_cap);
	if (rc != 0)
		return rc;
	char local[NC_GOSSIP_META_MAX + 1] = "";
	bool has_local = source_group(api, from, group, local, sizeof(local));
	struct failover_rank fr = {
	    .api = api, .v = v, .src = has_src ? &src : NULL};
	if (cands_build(v, &f, view_source(api, v, from), group, &fr.s) < 0)
		return nc__api_oom(err, err_cap);
	if (has_src) {
		/* Fresh coordinates first (api/fresh.c). */
		rc = failover_fresh(api, req, v, &fr.s, &src, fresh_wait, err,
				    err_cap);
		if (rc != 0) {
			cands_free(&fr.s);
			return rc == NC__API_FRESH_HELD ? NC_API_SUSPEND : rc;
		}
	}
	cJSON *o = NULL;
	if (failover_rank_alloc(&fr) == 0)
		o = failover_answer(&fr, from, group,
				    skip_local && has_local ? local : NULL);
	failover_rank_free(&fr);
	if (o == NULL)
		return nc__api_oom(err, err_cap);
	rc = nc__api_rcache_store(api, req, v->epoch, keyed ? key : NULL, 0, o,
				  err, err_cap);
	return nc__api_block_finish(api, req, keyed ? key : NULL, rc, err,
				    err_cap);
}

int
nc__api_add_coord_routes(struct nc_api *api)
{
	int rc = 0;
	rc |= nc_api_route_add_ex(api, "GET", "/v1/agent/self", 0, agent_self,
				  api);
	rc |= nc_api_route_add_ex(api, "GET", "/v1/coordinate/nodes", 0,
				  coordinate_nodes, api);
	rc |= nc_api_route_add_ex(api, "GET", "/v1/coordinate/node/",
				  NC_API_PREFIX, coordinate_node, api);
	rc |= nc_api_route_add_ex(api, "GET", "/v1/rtt", 0, rtt, api);
	rc |= nc_api_route_add_ex(api, "GET", "/v1/nearest", 0, nearest, api);
	rc |= nc_api_route_add_ex(api, "GET", "/v1/failover", 0, failover, api);
	return rc < 0 ? -1 : 0;
}
