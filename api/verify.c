/*
 * api/verify.c - verified nearest (GET /v1/nearest?verify=K) and the rule
 * by which this agent serves RTTs to members it measured itself.
 *
 * Verified nearest. Coordinates narrow the field; direct measurements
 * finish the job (Meridian, SIGCOMM 2005). The nearest handler ranks by
 * estimate as usual and hands its answer here: the K first candidates
 * are pinged with plain memberlist pings (nc_gossip_ping, so serf members
 * answer too), NC_API_VERIFY_PINGS each, NC_API_VERIFY_SPACING_S apart,
 * the minimum kept, then re-ranked by nc_coord_rank_verified: answering
 * candidates by measured RTT, the silent ones after them (a candidate
 * that did not answer is never reported nearest over one that did). Each
 * node gets "MeasuredMs" (null: not verified or no answer). The request
 * is suspended meanwhile (nc_api_suspend); the loop is never held: pings
 * and their timeouts are env timers. A verification ends when every ping
 * is answered or timed out (NC_API_VERIFY_PING_TIMEOUT_S after the last
 * round: ~0.6 s with a dead candidate), NC_API_VERIFY_DEADLINE_S at most.
 *
 * Budget (api_int.h): NC_API_VERIFY_JOBS_MAX verifications in flight
 * (beyond: 429), K <= NC_API_VERIFY_K_MAX, so at most 384 pings in flight.
 * Answers are kept for cfg.verify_cache_s (default 10 s, -verify-cache)
 * per query (route, n, verify, filters), NC_API_VERIFY_CACHE_MAX of them
 * (the oldest replaced). Cost in /metrics: netcoord_verify_*.
 *
 * Measured RTTs are also noted in the coordinate cache as this agent's
 * last measurement (agent/coords.h), so /v1/rtt shows them.
 *
 * Combine rule. Where this agent measured a member itself, what
 * /v1/rtt, /v1/nearest (from this agent) and the map serve is
 * nc_coord_combine_rtt with the defaults: a measurement <= 30 s old
 * replaces the estimate, one <= 600 s old bounds it within a factor 2.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "api/api_int.h"
#include "coord/coord.h"
#include "gossip/gossip.h"

/** One ping of a job: its candidate (the ping callback's argument). */
struct vping {
	struct nc__api_verify_job *job;
	unsigned cand;
	bool in_flight;
};

struct nc__api_verify_job {
	struct nc_api *api;
	struct nc_api_pending *p;
	/** The estimate answer (taken) and its first k node names. */
	cJSON *doc;
	char (*name)[NC_GOSSIP_NAME_MAX + 1];
	/** Best measured RTT per candidate, s (INFINITY: none yet). */
	double *best;
	unsigned k, n, rounds_sent;
	/** k x NC_API_VERIFY_PINGS pings; how many still in flight. */
	struct vping *pings;
	unsigned in_flight;
	char *key;
	struct nc_timer round_timer, deadline_timer;
	struct nc__api_verify_job *next;
};

double
nc__api_served_rtt(const struct nc__api_vent *e, double now, double est_s,
		   enum nc_coord_basis *basis)
{
	struct nc_coord_combine r;
	nc_coord_combine_default(&r);
	double age = isnan(e->measured_at) ? NAN : now - e->measured_at;
	return nc_coord_combine_rtt(&r, est_s, e->measured_rtt_s, age, basis);
}

int
nc__api_verify_parse(struct nc_api *api, const struct nc_api_request *req,
		     long *k, char *err, size_t err_cap)
{
	const char *v = nc_api_query(req, "verify");
	const char *from = nc_api_query(req, "from");
	char *end;
	*k = 0;
	if (v == NULL)
		return 0;
	long x = strtol(v, &end, 10);
	if (end == v || *end != '\0' || x < 1 || x > NC_API_VERIFY_K_MAX) {
		snprintf(err, err_cap,
			 "bad parameter \"verify\": \"%.32s\" (want an integer "
			 "1..%d)",
			 v, NC_API_VERIFY_K_MAX);
		return 400;
	}
	if (nc_api_query(req, "coord") != NULL ||
	    (from != NULL &&
	     (api->gossip == NULL ||
	      strcmp(from, nc_gossip_self(api->gossip)->name) != 0))) {
		snprintf(err, err_cap,
			 "bad parameter \"verify\": only from this agent (no "
			 "from= or coord=, or from=itself)");
		return 400;
	}
	*k = x;
	return 0;
}

bool
nc__api_verify_cached(struct nc_api *api, const struct nc_api_request *req,
		      const char *key)
{
	double now = nc__api_now(api);
	if (key == NULL || api->cfg.verify_cache_s <= 0)
		return false;
	for (size_t i = 0; i < NC_API_VERIFY_CACHE_MAX; i++) {
		struct nc__api_verify_ent *e = &api->verify.cache[i];
		if (e->key == NULL || strcmp(e->key, key) != 0)
			continue;
		if (!(now - e->at <= api->cfg.verify_cache_s) || now < e->at)
			return false;
		char *b = malloc(e->len + 1);
		if (b == NULL)
			return false;
		memcpy(b, e->body, e->len + 1);
		nc_api_set_raw(req, "application/json", b, e->len, true);
		api->verify.cache_hits++;
		return true;
	}
	return false;
}

/** Keep @a body under @a key (same key replaced, else the oldest). */
static void
cache_put(struct nc_api *api, const char *key, const char *body, double now)
{
	struct nc__api_verify_ent *slot = NULL;
	if (key == NULL || body == NULL || api->cfg.verify_cache_s <= 0)
		return;
	for (size_t i = 0; i < NC_API_VERIFY_CACHE_MAX && slot == NULL; i++)
		if (api->verify.cache[i].key != NULL &&
		    strcmp(api->verify.cache[i].key, key) == 0)
			slot = &api->verify.cache[i];
	for (size_t i = 0; i < NC_API_VERIFY_CACHE_MAX && slot == NULL; i++)
		if (api->verify.cache[i].key == NULL)
			slot = &api->verify.cache[i];
	for (size_t i = 0; slot == NULL && i < NC_API_VERIFY_CACHE_MAX; i++) {
		struct nc__api_verify_ent *o = &api->verify.cache[0];
		for (size_t j = 1; j < NC_API_VERIFY_CACHE_MAX; j++)
			if (api->verify.cache[j].at < o->at)
				o = &api->verify.cache[j];
		slot = o;
	}
	char *k = strdup(key), *b = strdup(body);
	if (k == NULL || b == NULL) {
		free(k);
		free(b);
		return;
	}
	free(slot->key);
	free(slot->body);
	slot->key = k;
	slot->body = b;
	slot->len = strlen(b);
	slot->at = now;
}

static void
job_unlink(struct nc__api_verify_job *j)
{
	struct nc_api *api = j->api;
	for (struct nc__api_verify_job **pp = &api->verify.jobs; *pp != NULL;
	     pp = &(*pp)->next) {
		if (*pp == j) {
			*pp = j->next;
			api->verify.n_jobs--;
			break;
		}
	}
}

/** Stop timers and pings, free. Does not answer. */
static void
job_free(struct nc__api_verify_job *j)
{
	struct nc_env *env = j->api->env;
	env->ops->timer_stop(env, &j->round_timer);
	env->ops->timer_stop(env, &j->deadline_timer);
	for (unsigned i = 0; i < j->k * NC_API_VERIFY_PINGS; i++)
		if (j->pings[i].in_flight && j->api->gossip != NULL)
			nc_gossip_ping_cancel(j->api->gossip, &j->pings[i]);
	job_unlink(j);
	cJSON_Delete(j->doc);
	free(j->name);
	free(j->best);
	free(j->pings);
	free(j->key);
	free(j);
}

/** Re-rank the doc's nodes by measurement, keep n, answer, keep it. */
static void
job_finish(struct nc__api_verify_job *j)
{
	struct nc_api *api = j->api;
	cJSON *nodes = cJSON_GetObjectItemCaseSensitive(j->doc, "Nodes");
	int total = cJSON_GetArraySize(nodes);
	struct nc_coord_verified v[NC_API_VERIFY_K_MAX];
	cJSON **items = calloc((size_t)total + 1, sizeof(*items));
	unsigned answered = 0;
	if (items == NULL) {
		nc_api_resume(j->p, 500, NULL, "out of memory");
		j->p = NULL;
		job_free(j);
		return;
	}
	for (int i = total - 1; i >= 0; i--)
		items[i] = cJSON_DetachItemFromArray(nodes, i);
	for (unsigned i = 0; i < j->k; i++) {
		const cJSON *e = cJSON_GetObjectItemCaseSensitive(items[i],
								  "EstimatedMs");
		v[i].idx = i;
		v[i].est_s = cJSON_IsNumber(e) ? e->valuedouble / 1e3 : NAN;
		v[i].measured_s = isinf(j->best[i]) ? NAN : j->best[i];
		answered += !isinf(j->best[i]);
	}
	nc_coord_rank_verified(v, j->k);
	int kept = 0;
	for (int r = 0; r < total; r++) {
		size_t at = r < (int)j->k ? v[r].idx : (size_t)r;
		cJSON *m = items[at];
		items[at] = NULL;
		double ms = r < (int)j->k && !isnan(v[r].measured_s)
				? v[r].measured_s * 1e3
				: NAN;
		if (isnan(ms))
			cJSON_AddNullToObject(m, "MeasuredMs");
		else
			cJSON_AddNumberToObject(m, "MeasuredMs", ms);
		if (kept < (int)j->n) {
			cJSON_AddItemToArray(nodes, m);
			kept++;
		} else {
			cJSON_Delete(m);
		}
	}
	free(items);
	cJSON *vo = cJSON_AddObjectToObject(j->doc, "Verify");
	if (vo != NULL) {
		cJSON_AddNumberToObject(vo, "K", j->k);
		cJSON_AddNumberToObject(vo, "Pings",
					j->k * NC_API_VERIFY_PINGS);
		cJSON_AddNumberToObject(vo, "Answered", answered);
		cJSON_AddNumberToObject(vo, "CacheS", api->cfg.verify_cache_s);
	}
	char *body = cJSON_PrintUnformatted(j->doc);
	cache_put(api, j->key, body, nc__api_now(api));
	free(body);
	nc_api_resume(j->p, 200, j->doc, "out of memory");
	j->doc = NULL;
	j->p = NULL;
	job_free(j);
}

static void
ping_done(void *arg, double rtt_s, const char *payload, size_t len)
{
	struct vping *vp = arg;
	struct nc__api_verify_job *j = vp->job;
	(void)payload;
	(void)len;
	vp->in_flight = false;
	j->in_flight--;
	if (!isnan(rtt_s)) {
		j->api->verify.pings_answered++;
		if (rtt_s < j->best[vp->cand])
			j->best[vp->cand] = rtt_s;
		if (j->api->coords != NULL)
			nc_agent_coords_note_rtt(j->api->coords,
						 nc__api_now(j->api),
						 j->name[vp->cand], rtt_s);
	}
	if (j->in_flight == 0 && j->rounds_sent == NC_API_VERIFY_PINGS)
		job_finish(j);
}

/** Send round j->rounds_sent: one ping to each candidate. */
static void
send_round(struct nc__api_verify_job *j)
{
	unsigned r = j->rounds_sent++;
	for (unsigned c = 0; c < j->k; c++) {
		struct vping *vp = &j->pings[r * j->k + c];
		vp->job = j;
		vp->cand = c;
		j->api->verify.pings++;
		if (nc_gossip_ping(j->api->gossip, j->name[c],
				   NC_API_VERIFY_PING_TIMEOUT_S, ping_done,
				   vp) == 0) {
			vp->in_flight = true;
			j->in_flight++;
		}
	}
}

static void
round_cb(struct nc_timer *t)
{
	struct nc__api_verify_job *j = t->arg;
	send_round(j);
	if (j->rounds_sent < NC_API_VERIFY_PINGS)
		j->api->env->ops->timer_start(j->api->env, &j->round_timer,
					      NC_API_VERIFY_SPACING_S);
	else if (j->in_flight == 0)
		job_finish(j);
}

static void
deadline_cb(struct nc_timer *t)
{
	job_finish(t->arg);
}

int
nc__api_verify_start(struct nc_api *api, const struct nc_api_request *req,
		     cJSON *doc, long k, long n, const char *key, char *err,
		     size_t err_cap)
{
	cJSON *nodes = cJSON_GetObjectItemCaseSensitive(doc, "Nodes");
	int total = cJSON_GetArraySize(nodes);
	if (api->env == NULL || api->gossip == NULL) {
		cJSON_Delete(doc);
		snprintf(err, err_cap,
			 "bad parameter \"verify\": needs the agent's HTTP "
			 "server");
		return 503;
	}
	if (api->verify.n_jobs >= NC_API_VERIFY_JOBS_MAX) {
		cJSON_Delete(doc);
		api->verify.refused++;
		snprintf(err, err_cap,
			 "too many verifications in flight (at most %d, "
			 "parameter \"verify\"): retry later",
			 NC_API_VERIFY_JOBS_MAX);
		return 429;
	}
	struct nc__api_verify_job *j = calloc(1, sizeof(*j));
	unsigned kk = (unsigned)(k < total ? k : total);
	if (j == NULL)
		goto oom;
	j->api = api;
	j->doc = doc;
	j->k = kk;
	j->n = (unsigned)n;
	j->name = calloc(kk + 1, sizeof(*j->name));
	j->best = calloc(kk + 1, sizeof(*j->best));
	j->pings = calloc((size_t)kk * NC_API_VERIFY_PINGS + 1,
			  sizeof(*j->pings));
	j->key = key != NULL ? strdup(key) : NULL;
	if (j->name == NULL || j->best == NULL || j->pings == NULL ||
	    (key != NULL && j->key == NULL))
		goto oom;
	for (unsigned i = 0; i < kk; i++) {
		const cJSON *nm = cJSON_GetObjectItemCaseSensitive(
		    cJSON_GetArrayItem(nodes, (int)i), "Name");
		snprintf(j->name[i], sizeof(j->name[i]), "%s",
			 cJSON_IsString(nm) ? nm->valuestring : "");
		j->best[i] = INFINITY;
	}
	nc_timer_init(&j->round_timer, round_cb, j);
	nc_timer_init(&j->deadline_timer, deadline_cb, j);
	j->p = nc_api_suspend(req);
	if (j->p == NULL)
		goto oom;
	j->next = api->verify.jobs;
	api->verify.jobs = j;
	api->verify.n_jobs++;
	api->verify.runs++;
	api->env->ops->timer_start(api->env, &j->deadline_timer,
				   NC_API_VERIFY_DEADLINE_S);
	/* The first round from a timer too: no answer inside the handler. */
	api->env->ops->timer_start(api->env, &j->round_timer, 0);
	return NC_API_SUSPEND;
oom:
	if (j != NULL) {
		free(j->name);
		free(j->best);
		free(j->pings);
		free(j->key);
		free(j);
	}
	cJSON_Delete(doc);
	return nc__api_oom(err, err_cap);
}

void
nc__api_verify_destroy(struct nc_api *api)
{
	while (api->verify.jobs != NULL) {
		struct nc__api_verify_job *j = api->verify.jobs;
		nc_api_resume(j->p, 503, NULL, "agent stopping");
		j->p = NULL;
		job_free(j);
	}
	for (size_t i = 0; i < NC_API_VERIFY_CACHE_MAX; i++) {
		free(api->verify.cache[i].key);
		free(api->verify.cache[i].body);
		api->verify.cache[i].key = api->verify.cache[i].body = NULL;
	}
}
