/*
 * api/fresh.c - fresh answers at fleet scale (issue 12 §2): /v1/nearest and
 * /v1/failover make sure the coordinates they rank by are fresh, and
 * /v1/rtt those of its pair.
 *
 * At 10,000 agents coordinate gossip at its budget leaves most cached
 * coordinates minutes old. A ranking needs only its candidates', so before
 * ranking (on an answer-cache miss) the handler hands its candidates here:
 *   - the ones worth fetching are picked (agent/coords.h): for nearest the
 *     n x NC_API_FRESH_NEAREST_FACTOR best by the cached estimate (those
 *     without a coordinate first; at most NC_API_FRESH_PICK_MAX), for
 *     failover NC_API_FRESH_PER_GROUP per group, those whose estimate is
 *     closest to the group's median (what the median is made of); for
 *     /v1/rtt both ends;
 *   - nc_agent_coords_fetch asks the owners of those older than
 *     NC_API_FRESH_AGE_S (30 s) for their coordinate (agent/coords.c:
 *     request budget, pending table, interest that keeps them fresh for
 *     later queries);
 *   - if any is being fetched, the request is held (nc_api_suspend: no
 *     thread, the loop never waits) until all picked are fresh or
 *     ?fresh-wait= passes (default 1 s, at most 10 s; 0: fetch but do not
 *     wait). A timer every NC_API_FRESH_POLL_S looks at each held
 *     request's candidates (a hash lookup each, <= 1,000 per request),
 *     then re-runs its query with a fresh view and answers with that.
 * Members that cannot be fetched (serf members, dead ones) are not waited
 * for; answers carry each member's AgeS as before.
 *
 * Budgets: NC_API_FRESH_HOLDS_MAX requests held at once (beyond: answered
 * at once, counted), each with at most NC_API_FRESH_PICK_MAX names. A
 * blocking query (index=) or an internal re-run is never held here.
 * Counters in /metrics: netcoord_fresh_*; the fetches themselves under
 * netcoord_coord_fetch_*.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_int.h"
#include "util/util.h"

/** One held request. */
struct nc__api_fresh_hold {
	struct nc_api_pending *p;
	double deadline;
	/** Picked names: pointers into text. */
	const char **names;
	size_t n;
	/** The query to re-run: path and arguments, pointing into text. */
	const char *path;
	struct nc_api_arg *args;
	size_t n_args;
	char *text;
	struct nc__api_fresh_hold *next;
};

int
nc__api_fresh_parse(const struct nc_api_request *req, double *wait_s,
		    char *err, size_t err_cap)
{
	const char *v = nc_api_query(req, "fresh-wait");
	*wait_s = NC_API_FRESH_WAIT_DEFAULT_S;
	if (v == NULL)
		return 0;
	double d;
	if (nc_parse_duration(v, true, &d) != 0 || !(d >= 0) ||
	    d > NC_API_FRESH_WAIT_MAX_S) {
		snprintf(err, err_cap,
			 "bad parameter \"fresh-wait\": \"%.32s\" (want a "
			 "duration 0..%.0fs)",
			 v, NC_API_FRESH_WAIT_MAX_S);
		return 400;
	}
	*wait_s = d;
	return 0;
}

static void
hold_free(struct nc__api_fresh_hold *h)
{
	free(h->names);
	free(h->args);
	free(h->text);
	free(h);
}

/** A hold with copies of @a req's query and the picked names. */
static struct nc__api_fresh_hold *
hold_new(const struct nc_api_request *req, const char *const *names,
	 const size_t *idx, size_t k)
{
	size_t text = strlen(req->path) + 1;
	for (size_t i = 0; i < req->n_args; i++)
		text += strlen(req->args[i].key) + strlen(req->args[i].value) +
			2;
	for (size_t i = 0; i < k; i++)
		text += strlen(names[idx[i]]) + 1;
	struct nc__api_fresh_hold *h = calloc(1, sizeof(*h));
	if (h == NULL)
		return NULL;
	h->names = calloc(k + 1, sizeof(*h->names));
	h->args = calloc(req->n_args + 1, sizeof(*h->args));
	h->text = malloc(text);
	if (h->names == NULL || h->args == NULL || h->text == NULL) {
		hold_free(h);
		return NULL;
	}
	char *o = h->text;
#define PUT(dst, s)                                                          \
	do {                                                                 \
		size_t l_ = strlen(s) + 1;                                   \
		memcpy(o, (s), l_);                                          \
		(dst) = o;                                                   \
		o += l_;                                                     \
	} while (0)
	PUT(h->path, req->path);
	for (size_t i = 0; i < req->n_args; i++) {
		PUT(h->args[i].key, req->args[i].key);
		PUT(h->args[i].value, req->args[i].value);
	}
	for (size_t i = 0; i < k; i++)
		PUT(h->names[i], names[idx[i]]);
#undef PUT
	h->n_args = req->n_args;
	h->n = k;
	return h;
}

int
nc__api_fresh_step(struct nc_api *api, const struct nc_api_request *req,
		   double wait_s, const struct nc_coord *src,
		   const char *const *names, const size_t *group, size_t n,
		   size_t k, char *err, size_t err_cap)
{
	struct nc__api_fresh *fr = &api->fresh;
	double now = nc__api_now(api);
	if (api->coords == NULL || n == 0)
		return 0;
	fr->queries++;
	size_t *idx = calloc(n + 1, sizeof(*idx));
	const char **picked = calloc(n + 1, sizeof(*picked));
	if (idx == NULL || picked == NULL) {
		free(idx);
		free(picked);
		return nc__api_oom(err, err_cap);
	}
	size_t got;
	if (group != NULL) {
		got = nc_agent_coords_pick_groups(api->coords, src, names,
						  group, n,
						  NC_API_FRESH_PER_GROUP, idx);
		if (got != SIZE_MAX && got > NC_API_FRESH_PICK_MAX)
			got = NC_API_FRESH_PICK_MAX;
	} else {
		size_t want = k * NC_API_FRESH_NEAREST_FACTOR;
		if (want > NC_API_FRESH_PICK_MAX || want / NC_API_FRESH_NEAREST_FACTOR != k)
			want = NC_API_FRESH_PICK_MAX;
		got = nc_agent_coords_pick_nearest(api->coords, src, names, n,
						   want, idx);
	}
	if (got == SIZE_MAX) {
		free(idx);
		free(picked);
		return nc__api_oom(err, err_cap);
	}
	for (size_t i = 0; i < got; i++)
		picked[i] = names[idx[i]];
	unsigned waiting = nc_agent_coords_fetch(api->coords, now, picked, got,
						 NC_API_FRESH_AGE_S, NULL);
	free(picked);
	int rc = 0;
	if (waiting > 0)
		fr->fetching++;
	/* Hold: a client's request (not an internal re-run), not a
	 * blocking query, with a wait, and a loop to wake it. */
	if (waiting > 0 && wait_s > 0 && req->conn != NULL &&
	    api->env != NULL && nc_api_query(req, "index") == NULL) {
		struct nc__api_fresh_hold *h = NULL;
		if (fr->n_holds >= NC_API_FRESH_HOLDS_MAX ||
		    (h = hold_new(req, names, idx, got)) == NULL ||
		    (h->p = nc_api_suspend(req)) == NULL) {
			if (h != NULL)
				hold_free(h);
			fr->not_held++;
		} else {
			h->deadline = now + wait_s;
			h->next = fr->holds;
			fr->holds = h;
			if (fr->n_holds++ == 0)
				api->env->ops->timer_start(
				    api->env, &fr->timer, NC_API_FRESH_POLL_S);
			fr->held++;
			rc = NC__API_FRESH_HELD;
		}
	}
	free(idx);
	return rc;
}

/** Re-run @a h's query (a fresh view) and answer it. */
static void
release(struct nc_api *api, struct nc__api_fresh_hold *h)
{
	struct nc_api_request req = {
	    .method = "GET",
	    .path = h->path,
	    .suffix = "",
	    .args = h->args,
	    .n_args = h->n_args,
	};
	struct nc_api_response resp;
	/* Fetched coordinates are in the cache, not yet in the view. */
	api->view.built = false;
	nc__api_run_internal(api, &req, &resp);
	nc__api_resume_copy(h->p, &resp);
	nc_api_response_destroy(&resp);
	h->p = NULL;
}

void
nc__api_fresh_tick(struct nc_timer *t)
{
	struct nc_api *api = t->arg;
	struct nc__api_fresh *fr = &api->fresh;
	double now = nc__api_now(api);
	for (struct nc__api_fresh_hold **hp = &fr->holds; *hp != NULL;) {
		struct nc__api_fresh_hold *h = *hp;
		/* Asks again for what timed out; nothing twice in flight. */
		unsigned waiting =
		    api->coords != NULL
			? nc_agent_coords_fetch(api->coords, now, h->names,
						h->n, NC_API_FRESH_AGE_S, NULL)
			: 0;
		if (waiting > 0 && now < h->deadline) {
			hp = &h->next;
			continue;
		}
		*hp = h->next;
		fr->n_holds--;
		if (waiting == 0)
			fr->released_fresh++;
		else
			fr->released_timeout++;
		release(api, h);
		hold_free(h);
	}
	if (fr->n_holds > 0 && api->env != NULL)
		api->env->ops->timer_start(api->env, &fr->timer,
					   NC_API_FRESH_POLL_S);
}

void
nc__api_fresh_destroy(struct nc_api *api)
{
	struct nc__api_fresh *fr = &api->fresh;
	if (api->env != NULL)
		api->env->ops->timer_stop(api->env, &fr->timer);
	while (fr->holds != NULL) {
		struct nc__api_fresh_hold *h = fr->holds;
		fr->holds = h->next;
		nc_api_resume(h->p, 503, NULL, "agent stopping");
		hold_free(h);
	}
	fr->n_holds = 0;
}
