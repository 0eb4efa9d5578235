/*
 * fleet/query.c - the query scenario of `netcoord fleet-sim` (issue 12
 * §2, -query-tag K): does one agent answer a nearest query over K tagged
 * members, and a failover query over G groups, with fresh coordinates at
 * fleet scale?
 *
 * At -query-at T a random live agent (the querier) asks for the 5 nearest
 * of K random members (the "service=web" members: chosen by name here,
 * the tag filter being the API's part) through the agent code the API's
 * /v1/nearest uses (agent/coords.h): nc_agent_coords_pick_nearest (n x
 * 20 candidates, those without a coordinate first) then
 * nc_agent_coords_fetch, polled every 50 ms as the API's hold does, until
 * every candidate is fresh (coordinate younger than 30 s) or 1 s passed
 * (the API's default fresh-wait). Reported: candidates fresh before the
 * query, the time until all were fresh (NAN: not within 5 s) and how many
 * were fresh at the 1 s answer. The same query again at T + 60 s: answered
 * from the cache if the interest refresh kept the candidates fresh.
 *
 * At T + 2 s the same agent runs a failover query over G groups (host i
 * is in group site(i) mod G): nc_agent_coords_pick_groups (24 per group,
 * closest to the group's median estimate) and the same fetch loop; at the
 * answer, per group, the members with a coordinate younger than 30 s
 * (what the group's median is computed from fresh): min and median over
 * the groups.
 *
 * Traffic of the fetches is its own kind in fleet.c's table ("fetch");
 * the querier's fetch counters are reported beside.
 */
#include "fleet/query.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent.h"
#include "agent/coords.h"
#include "coord/coord.h"
#include "sim/sim.h"

/** What the API uses: nearest fetches n x 20 candidates, answers n. */
#define Q_NEAREST_N 5
#define Q_NEAREST_FACTOR 20
/** Members fetched per failover group (>= 20 fresh wanted). */
#define Q_PER_GROUP 24
/** Fresh: younger than this (the API's rule), s. */
#define Q_FRESH_S 30.0
/** Poll period and the answer bound (the API's default fresh-wait). */
#define Q_POLL_S 0.05
#define Q_WAIT_S 1.0
/** Freshness is watched this long for the "time until fresh" figure. */
#define Q_WATCH_S 5.0
/** The second nearest query, after the first. */
#define Q_AGAIN_S 60.0
/** The failover query, after the first. */
#define Q_FAILOVER_AFTER_S 2.0

enum q_kind { Q_NEAREST1, Q_NEAREST2, Q_FAILOVER, Q_KINDS };

/** One running query. */
struct q_run {
	struct nc__fleet_query *q;
	enum q_kind kind;
	double t0;
	/** Picked names (pointers into q->names). */
	const char **pick;
	size_t n_pick;
	bool answered, done;
};

struct nc__fleet_query {
	struct nc__fleet_query_env env;
	struct nc_fleet_report *r;
	unsigned querier;
	/** Names of all hosts ("n%05u"), the tagged ones, groups. */
	char (*names)[16];
	unsigned *tagged;
	unsigned n_tagged, groups;
	struct q_run run[Q_KINDS];
};

static struct nc_agent_coords *
querier_coords(struct nc__fleet_query *q)
{
	struct nc_agent *a = q->env.agent(q->env.ctx, q->querier);
	return a != NULL ? nc_agent_coords(a) : NULL;
}

/** Members of @a names (n) with a coordinate younger than Q_FRESH_S. */
static unsigned
count_fresh(struct nc_agent_coords *c, double now, const char *const *names,
	    size_t n)
{
	unsigned k = 0;
	for (size_t i = 0; i < n; i++) {
		struct nc_agent_coord_info ci;
		if (nc_agent_coords_get(c, now, names[i], &ci) == 0 &&
		    ci.has_coord && ci.age_s < Q_FRESH_S)
			k++;
	}
	return k;
}

/** Failover: fresh members per group, min and median into the report. */
static void
failover_figures(struct nc__fleet_query *q, struct nc_agent_coords *c,
		 double now)
{
	unsigned *fresh = calloc(q->groups, sizeof(unsigned));
	if (fresh == NULL)
		return;
	for (unsigned i = 0; i < q->env.n; i++) {
		struct nc_agent_coord_info ci;
		if (i == q->querier || q->env.agent(q->env.ctx, i) == NULL)
			continue;
		if (nc_agent_coords_get(c, now, q->names[i], &ci) == 0 &&
		    ci.has_coord && ci.age_s < Q_FRESH_S)
			fresh[q->env.group(q->env.ctx, i) % q->groups]++;
	}
	/* Sort (G is small). */
	for (unsigned a = 1; a < q->groups; a++)
		for (unsigned b = a; b > 0 && fresh[b - 1] > fresh[b]; b--) {
			unsigned t = fresh[b];
			fresh[b] = fresh[b - 1];
			fresh[b - 1] = t;
		}
	q->r->failover_fresh_min = fresh[0];
	q->r->failover_fresh_median = fresh[q->groups / 2];
	free(fresh);
}

static void
poll_cb(struct sim_world *w, void *arg)
{
	struct q_run *run = arg;
	struct nc__fleet_query *q = run->q;
	struct nc_fleet_report *r = q->r;
	struct nc_agent_coords *c = querier_coords(q);
	double now = sim_now(w), dt = now - run->t0;
	if (c == NULL || run->done)
		return;
	struct nc_agent_coords_fetch_result fr;
	unsigned waiting = dt < Q_WAIT_S
			       ? nc_agent_coords_fetch(c, now, run->pick,
						       run->n_pick, Q_FRESH_S,
						       &fr)
			       : 1;
	unsigned fresh = count_fresh(c, now, run->pick, run->n_pick);
	bool all = fresh == run->n_pick;
	double *t_all = run->kind == Q_NEAREST1	  ? &r->query1_s
			: run->kind == Q_NEAREST2 ? &r->query2_s
						  : &r->failover_s;
	if (all && isnan(*t_all))
		*t_all = dt;
	if (!run->answered && (waiting == 0 || dt >= Q_WAIT_S - 1e-9)) {
		/* The API would answer now. */
		run->answered = true;
		if (run->kind == Q_NEAREST1)
			r->query1_fresh_answer = fresh;
		else if (run->kind == Q_NEAREST2)
			r->query2_fresh_answer = fresh;
		else
			failover_figures(q, c, now);
	}
	if ((run->answered && all) || dt >= Q_WATCH_S) {
		run->done = true;
		return;
	}
	sim_call_at(w, now + Q_POLL_S, poll_cb, run);
}

/** Start query @a run now: pick, fetch, poll. */
static void
start_cb(struct sim_world *w, void *arg)
{
	struct q_run *run = arg;
	struct nc__fleet_query *q = run->q;
	struct nc_fleet_report *r = q->r;
	struct nc_agent_coords *c = querier_coords(q);
	double now = sim_now(w);
	if (c == NULL)
		return;
	struct nc_agent_coord_info self;
	struct nc_coord src;
	if (nc_agent_coords_get(c, now, q->names[q->querier], &self) != 0)
		return;
	src = *self.coord;
	size_t n = run->kind == Q_FAILOVER ? q->env.n : q->n_tagged;
	const char **names = calloc(n + 1, sizeof(*names));
	size_t *group = calloc(n + 1, sizeof(*group));
	size_t *idx = calloc(n + 1, sizeof(*idx));
	size_t k = 0, got;
	if (names == NULL || group == NULL || idx == NULL)
		goto out;
	for (size_t i = 0; i < n; i++) {
		unsigned h = run->kind == Q_FAILOVER ? (unsigned)i
						     : q->tagged[i];
		if (h == q->querier || q->env.agent(q->env.ctx, h) == NULL)
			continue;
		names[k] = q->names[h];
		group[k] = q->env.group(q->env.ctx, h) % q->groups;
		k++;
	}
	if (run->kind == Q_FAILOVER)
		got = nc_agent_coords_pick_groups(c, &src, names, group, k,
						  Q_PER_GROUP, idx);
	else
		got = nc_agent_coords_pick_nearest(
		    c, &src, names, k, Q_NEAREST_N * Q_NEAREST_FACTOR, idx);
	if (got == SIZE_MAX)
		goto out;
	run->pick = calloc(got + 1, sizeof(*run->pick));
	if (run->pick == NULL)
		goto out;
	for (size_t i = 0; i < got; i++)
		run->pick[i] = names[idx[i]];
	run->n_pick = got;
	run->t0 = now;
	unsigned fresh = count_fresh(c, now, run->pick, got);
	if (run->kind == Q_NEAREST1) {
		r->query1_picked = (unsigned)got;
		r->query1_fresh_before = fresh;
	} else if (run->kind == Q_NEAREST2) {
		r->query2_fresh_before = fresh;
	} else {
		r->failover_picked = (unsigned)got;
	}
	poll_cb(w, run);
out:
	free(names);
	free(group);
	free(idx);
}

/** At the end: the querier's fetch counters. */
void
nc__fleet_query_finish(struct nc__fleet_query *q)
{
	struct nc_agent_coords *c = querier_coords(q);
	struct nc_agent_coords_stats st;
	if (c == NULL)
		return;
	nc_agent_coords_stats(c, &st);
	q->r->query_fetch_req = st.fetch_req_out;
	q->r->query_fetch_replies = st.fetch_reply_in;
	q->r->query_fetch_timeouts = st.fetch_timeouts;
	q->r->query_refetches = st.refetches;
}

struct nc__fleet_query *
nc__fleet_query_start(const struct nc__fleet_query_env *env,
		      const struct nc_fleet_config *cfg,
		      struct nc_fleet_report *r)
{
	struct nc__fleet_query *q = calloc(1, sizeof(*q));
	if (q == NULL)
		return NULL;
	q->env = *env;
	q->r = r;
	q->groups = cfg->query_groups > 0 ? cfg->query_groups : 20;
	q->names = calloc(env->n, sizeof(*q->names));
	q->tagged = calloc(env->n, sizeof(unsigned));
	bool *taken = calloc(env->n, sizeof(bool));
	if (q->names == NULL || q->tagged == NULL || taken == NULL) {
		free(taken);
		nc__fleet_query_free(q);
		return NULL;
	}
	for (unsigned i = 0; i < env->n; i++)
		snprintf(q->names[i], sizeof(q->names[i]), "n%05u", i);
	/* The querier and K tagged members, distinct, not the seed. */
	q->querier = 1 + (unsigned)(sim_rand(env->w) % (env->n - 1));
	taken[q->querier] = true;
	unsigned want = cfg->query_tag < env->n - 2 ? cfg->query_tag
						     : env->n - 2;
	while (q->n_tagged < want) {
		unsigned h = 1 + (unsigned)(sim_rand(env->w) % (env->n - 1));
		if (taken[h])
			continue;
		taken[h] = true;
		q->tagged[q->n_tagged++] = h;
	}
	free(taken);
	double t = cfg->query_at_s;
	r->query_tagged = q->n_tagged;
	r->query_groups = q->groups;
	r->query_at_s = t;
	r->query1_s = r->query2_s = r->failover_s = NAN;
	for (int k = 0; k < Q_KINDS; k++) {
		q->run[k].q = q;
		q->run[k].kind = (enum q_kind)k;
	}
	if (sim_call_at(env->w, t, start_cb, &q->run[Q_NEAREST1]) < 0 ||
	    sim_call_at(env->w, t + Q_FAILOVER_AFTER_S, start_cb,
			&q->run[Q_FAILOVER]) < 0 ||
	    sim_call_at(env->w, t + Q_AGAIN_S, start_cb,
			&q->run[Q_NEAREST2]) < 0) {
		nc__fleet_query_free(q);
		return NULL;
	}
	return q;
}

void
nc__fleet_query_free(struct nc__fleet_query *q)
{
	if (q == NULL)
		return;
	for (int k = 0; k < Q_KINDS; k++)
		free(q->run[k].pick);
	free(q->names);
	free(q->tagged);
	free(q);
}

void
nc__fleet_query_print(FILE *o, const struct nc_fleet_report *r)
{
	if (r->query_tagged == 0)
		return;
	fprintf(o,
		"  query at %.0f s: nearest %d of %u tagged, %u candidates "
		"fetched-for, %u fresh (< 30 s) before\n"
		"    first query: all candidates fresh after %8.3f s, %u fresh "
		"at the answer (<= 1 s)\n"
		"    again 60 s later: %u fresh before, all fresh after %.3f "
		"s, %u at the answer\n"
		"    failover over %u groups: %u members fetched-for, all fresh "
		"after %.3f s; fresh members per group min %u, median %u\n"
		"    querier: %llu fetch requests, %llu replies, %llu timeouts, "
		"%llu background refetches\n",
		r->query_at_s, Q_NEAREST_N, r->query_tagged, r->query1_picked,
		r->query1_fresh_before, r->query1_s, r->query1_fresh_answer,
		r->query2_fresh_before, r->query2_s, r->query2_fresh_answer,
		r->query_groups, r->failover_picked, r->failover_s,
		r->failover_fresh_min, r->failover_fresh_median,
		(unsigned long long)r->query_fetch_req,
		(unsigned long long)r->query_fetch_replies,
		(unsigned long long)r->query_fetch_timeouts,
		(unsigned long long)r->query_refetches);
}
