/*
 * test_cache.c - the member view and the answer cache (api/view.c).
 *
 * The story: a fleet of six (five netcoord agents, one serf member) runs
 * for 60 virtual seconds, then two routers serve node n0: CACHED with the
 * default staleness bound (0.25 s) and EXACT with max_stale_s 0 (view
 * rebuilt per request, no cache), which stands for the ground truth. The
 * cached router reads a clock the test moves by hand, so nothing changes
 * under it unless a test says so. Checked:
 *   - a repeated query is a hit with the very same bytes, equal to the
 *     exact answer; different queries (n, tags, status, from, coord,
 *     group, near) never share an entry; tag order does not matter;
 *   - a coordinate that moves is not seen within the bound, and is once
 *     the clock passes it;
 *   - a member that fails is left out of /v1/nearest at once (the real
 *     agent's member events invalidate the view; the old hand-wired copy
 *     of the hooks did not, and this test asserted the copy's behaviour);
 *   - a member that joins shows up at once (the table grew: rebuild);
 *   - past 128 distinct answers the least recently used are evicted and
 *     recomputed correctly;
 *   - max_stale_s 0 never hits.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/CUnit.h>
#include <cjson/cJSON.h>

#include "api/api.h"
#include "gossip/gossip.h"
#include "gossip/proto.h"
#include "tests/api/harness.h"

static const struct th_spec cache_spec[] = {
    {"c0", 0, 0, "dc=a", true},	 {"c1", 2, 0, "dc=a,role=web", true},
    {"c2", 0, 3, "dc=a", true},	 {"cs", 1, 1, "dc=a,role=serf", false},
    {"c3", 40, 0, "dc=b", true}, {"c4", 90, 0, "dc=c,role=web", true},
};
#define CACHE_N ((int)(sizeof(cache_spec) / sizeof(cache_spec[0])))

static struct th_fleet *F;
static struct nc_api *CACHED, *EXACT;
/** The cached router's clock (moved by the tests). */
static double T;

static double
hand_clock(void *arg)
{
	(void)arg;
	return T;
}

static void
fixture(void)
{
	char err[128];
	if (CACHED != NULL)
		return;
	F = th_fleet_new(7, cache_spec, CACHE_N);
	sim_run_until(F->w, 60);
	T = th_now(F);
	struct nc_api_config cfg;
	nc_api_config_default(&cfg);
	CU_ASSERT_DOUBLE_EQUAL(cfg.max_stale_s, 0.25, 1e-9);
	CACHED = nc_api_new(NULL, F->node[0].agent, &cfg, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(CACHED);
	nc_api_set_clock(CACHED, hand_clock, NULL);
	cfg.max_stale_s = 0;
	EXACT = nc_api_new(NULL, F->node[0].agent, &cfg, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(EXACT);
	nc_api_set_clock(EXACT, hand_clock, NULL);
}

static int
suite_clean(void)
{
	nc_api_delete(CACHED);
	nc_api_delete(EXACT);
	th_fleet_delete(F);
	CACHED = EXACT = NULL;
	return 0;
}

/** GET url on api; the body (caller frees). */
static char *
body_of(struct nc_api *api, const char *url, int want_status)
{
	char *b = NULL;
	int st = th_req(api, "GET", url, NULL, NULL, &b, NULL);
	CU_ASSERT_EQUAL(st, want_status);
	if (st != want_status)
		fprintf(stderr, "\nGET %s: %d %s\n", url, st, b ? b : "");
	CU_ASSERT_PTR_NOT_NULL_FATAL(b);
	return b;
}

/** Hits so far on the cached router. */
static uint64_t
hits(void)
{
	return nc_api_stats(CACHED)->cache_hits;
}

/** Is member @a name among /v1/nearest's Nodes in @a body? */
static bool
lists(const char *body, const char *name)
{
	cJSON *j = cJSON_Parse(body);
	const cJSON *it;
	bool seen = false;
	cJSON_ArrayForEach(it, cJSON_GetObjectItem(j, "Nodes"))
	{
		const cJSON *n = cJSON_GetObjectItem(it, "Name");
		if (cJSON_IsString(n) && strcmp(n->valuestring, name) == 0)
			seen = true;
	}
	cJSON_Delete(j);
	return seen;
}

static const char *const queries[] = {
    "/v1/nearest?n=5",
    "/v1/nearest?n=2",
    "/v1/nearest?n=5&status=failed",
    "/v1/nearest?n=5&tag=dc:a",
    "/v1/nearest?n=5&tag=role:web",
    "/v1/nearest?n=5&from=c3",
    ("/v1/nearest?n=5&coord=%7B%22Vec%22%3A%5B0.04%2C0%2C0%2C0%2C0%2C0%2C0%2C"
     "0%5D%7D"),
    "/v1/members",
    "/v1/members?status=alive&tag=dc:a",
    "/v1/members?near=c3",
    "/v1/coordinate/nodes",
    "/v1/failover?group=dc",
    "/v1/failover?group=role",
    "/v1/failover?group=dc&skip-local=1",
    "/v1/failover?group=dc&from=c4",
};
#define NQ (sizeof(queries) / sizeof(queries[0]))

/*
 * Every query twice: the second is a hit with the same bytes, and both
 * equal the exact router's answer. Different queries give different
 * entries (their answers differ here, so a collision would show).
 */
static void
test_hit_identical(void)
{
	fixture();
	char *first[NQ];
	for (size_t i = 0; i < NQ; i++) {
		uint64_t h0 = hits();
		first[i] = body_of(CACHED, queries[i], 200);
		char *again = body_of(CACHED, queries[i], 200);
		char *exact = body_of(EXACT, queries[i], 200);
		CU_ASSERT_EQUAL(hits(), h0 + 1);
		CU_ASSERT_STRING_EQUAL(again, first[i]);
		if (strcmp(first[i], exact) != 0)
			fprintf(stderr, "\n%s:\n cached %s\n exact  %s\n",
				queries[i], first[i], exact);
		CU_ASSERT_STRING_EQUAL(first[i], exact);
		free(again);
		free(exact);
	}
	for (size_t i = 0; i < NQ; i++)
		for (size_t k = i + 1; k < NQ; k++)
			if (strcmp(first[i], first[k]) == 0) {
				fprintf(stderr, "\nsame answer: %s, %s\n",
					queries[i], queries[k]);
				CU_FAIL("distinct queries, same answer");
			}
	for (size_t i = 0; i < NQ; i++)
		free(first[i]);
	/* Filter order does not matter: one entry. */
	char *a = body_of(CACHED, "/v1/nearest?n=9&tag=dc:a&tag=role:web", 200);
	uint64_t h0 = hits();
	char *b = body_of(CACHED, "/v1/nearest?tag=role:web&n=9&tag=dc:a", 200);
	CU_ASSERT_EQUAL(hits(), h0 + 1);
	CU_ASSERT_STRING_EQUAL(a, b);
	free(a);
	free(b);
	/* Errors are not cached: still 400 / 404. */
	free(body_of(CACHED, "/v1/nearest?n=0", 400));
	free(body_of(CACHED, "/v1/nearest?n=0", 400));
	free(body_of(CACHED, "/v1/nearest?from=nobody", 404));
	free(body_of(CACHED, "/v1/nearest?from=nobody", 404));
}

/* A coordinate moves: unseen within the bound, seen after it. */
static void
test_coordinate_change(void)
{
	fixture();
	char pl[512];
	struct nc_proto_coord pc;
	memset(&pc, 0, sizeof(pc));
	pc.dims = 8;
	pc.vec[0] = 0.5; /* 500 ms away: last */
	pc.error = 0.2;
	pc.height = 1e-4;
	int pn = nc_proto_encode_coord(pl, sizeof(pl), &pc);
	CU_ASSERT_FATAL(pn > 0);

	T += 1;
	char *before = body_of(CACHED, "/v1/nearest?n=1&tag=dc:b", 200);
	CU_ASSERT_TRUE(lists(before, "c3"));
	char *x = body_of(EXACT, "/v1/nearest?n=1&tag=dc:b", 200);
	CU_ASSERT_STRING_EQUAL(before, x);
	free(x);
	/* c3's coordinate jumps (as a probe ack would carry it). */
	CU_ASSERT_EQUAL(nc_agent_coords_probe_done(F->node[0].coords, T, "c3",
						 0.040, pl, (size_t)pn),
			0);
	T += 0.2; /* within 0.25 s: the old answer */
	char *within = body_of(CACHED, "/v1/nearest?n=1&tag=dc:b", 200);
	CU_ASSERT_STRING_EQUAL(within, before);
	x = body_of(EXACT, "/v1/nearest?n=1&tag=dc:b", 200);
	CU_ASSERT_STRING_NOT_EQUAL(x, before); /* truth moved */
	T += 0.1; /* 0.3 s after the build: rebuilt */
	char *after = body_of(CACHED, "/v1/nearest?n=1&tag=dc:b", 200);
	CU_ASSERT_STRING_NOT_EQUAL(after, before);
	free(x);
	x = body_of(EXACT, "/v1/nearest?n=1&tag=dc:b", 200);
	CU_ASSERT_STRING_EQUAL(after, x);
	free(x);
	free(before);
	free(within);
	free(after);
}

static bool
c4_failed(struct sim_world *w, void *arg)
{
	(void)w;
	(void)arg;
	const struct nc_gossip_member *m =
	    nc_gossip_member_find(F->node[0].g, "c4");
	return m != NULL && m->state == NC_MEMBER_DEAD;
}

/*
 * c4 fails: gone from nearest at once — the agent's member-event hook
 * invalidates the view on every state change (the staleness bound is
 * only for coordinates that move).
 */
static void
test_member_fails(void)
{
	fixture();
	T += 1;
	char *before = body_of(CACHED, "/v1/nearest?n=100", 200);
	CU_ASSERT_TRUE(lists(before, "c4"));
	sim_node_set_down(sim_node_get(F->w, 5), true);
	double t = sim_run_until_pred(F->w, th_now(F) + 60, 0.5, c4_failed,
				      NULL);
	CU_ASSERT_FATAL(t >= 0);
	/* Same instant on the api's clock: already gone. */
	char *within = body_of(CACHED, "/v1/nearest?n=100", 200);
	CU_ASSERT_FALSE(lists(within, "c4"));
	T += 0.25;
	char *after = body_of(CACHED, "/v1/nearest?n=100", 200);
	CU_ASSERT_FALSE(lists(after, "c4"));
	char *x = body_of(EXACT, "/v1/nearest?n=100", 200);
	CU_ASSERT_STRING_EQUAL(after, x);
	free(x);
	/* Still listed as failed with status=any. */
	char *any = body_of(CACHED, "/v1/nearest?n=100&status=any", 200);
	CU_ASSERT_TRUE(lists(any, "c4"));
	CU_ASSERT_PTR_NOT_NULL(strstr(any, "\"failed\""));
	free(any);
	free(before);
	free(within);
	free(after);
}

static bool
c9_known(struct sim_world *w, void *arg)
{
	(void)w;
	(void)arg;
	const struct nc_gossip_member *m =
	    nc_gossip_member_find(F->node[0].g, "c9");
	return m != NULL && m->state == NC_MEMBER_ALIVE;
}

/* A member joins: the table grew, so the next answer has it at once. */
static void
test_member_joins(void)
{
	fixture();
	T += 1;
	char *before = body_of(CACHED, "/v1/members", 200);
	CU_ASSERT_PTR_NULL(strstr(before, "\"c9\""));
	struct th_spec s = {"c9", 3, 3, "dc=a", true};
	th_fleet_add(F, &s);
	double t =
	    sim_run_until_pred(F->w, th_now(F) + 30, 0.1, c9_known, NULL);
	CU_ASSERT_FATAL(t >= 0);
	char *after = body_of(CACHED, "/v1/members", 200);
	CU_ASSERT_PTR_NOT_NULL(strstr(after, "\"c9\""));
	char *x = body_of(EXACT, "/v1/members", 200);
	CU_ASSERT_STRING_EQUAL(after, x);
	free(x);
	free(before);
	free(after);
}

/* 200 distinct answers: 128 kept, the least recently used evicted. */
static void
test_cap_eviction(void)
{
	fixture();
	char url[64];
	T += 1;
	const struct nc_api_stats *st = nc_api_stats(CACHED);
	uint64_t ev0 = st->cache_evictions;
	/* Keep n=1 hot while the others stream through. */
	for (int i = 1; i <= 200; i++) {
		snprintf(url, sizeof(url), "/v1/nearest?n=%d", i);
		free(body_of(CACHED, url, 200));
		free(body_of(CACHED, "/v1/nearest?n=1", 200));
	}
	st = nc_api_stats(CACHED);
	CU_ASSERT_EQUAL(st->cache_entries, 128);
	CU_ASSERT(st->cache_evictions - ev0 >= 200 - 128);
	CU_ASSERT(st->cache_bytes > 0);
	/* n=1 stayed (recently used): a hit. n=2 was evicted: a miss, and
	 * recomputed right. */
	uint64_t h0 = hits(), m0 = st->cache_misses;
	free(body_of(CACHED, "/v1/nearest?n=1", 200));
	CU_ASSERT_EQUAL(hits(), h0 + 1);
	char *b = body_of(CACHED, "/v1/nearest?n=2", 200);
	CU_ASSERT_EQUAL(nc_api_stats(CACHED)->cache_misses, m0 + 1);
	char *x = body_of(EXACT, "/v1/nearest?n=2", 200);
	CU_ASSERT_STRING_EQUAL(b, x);
	free(b);
	free(x);
	/* The next rebuild empties the cache. */
	T += 0.3;
	free(body_of(CACHED, "/v1/nearest?n=1", 200));
	CU_ASSERT_EQUAL(nc_api_stats(CACHED)->cache_entries, 1);
}

/* max_stale_s 0: never a hit, a view build per request. */
static void
test_exact_mode(void)
{
	fixture();
	const struct nc_api_stats *st = nc_api_stats(EXACT);
	uint64_t b0 = st->view_builds;
	for (int i = 0; i < 3; i++)
		free(body_of(EXACT, "/v1/nearest?n=5", 200));
	st = nc_api_stats(EXACT);
	CU_ASSERT_EQUAL(st->cache_hits, 0);
	CU_ASSERT_EQUAL(st->cache_entries, 0);
	CU_ASSERT_EQUAL(st->view_builds, b0 + 3);
}

int
nc_test_cache_register(void)
{
	CU_pSuite s = CU_add_suite("cache", NULL, suite_clean);
	if (s == NULL ||
	    !CU_add_test(s, "hit identical, no collisions", test_hit_identical) ||
	    !CU_add_test(s, "coordinate change", test_coordinate_change) ||
	    !CU_add_test(s, "member fails", test_member_fails) ||
	    !CU_add_test(s, "member joins", test_member_joins) ||
	    !CU_add_test(s, "cap eviction", test_cap_eviction) ||
	    !CU_add_test(s, "exact mode", test_exact_mode))
		return -1;
	return 0;
}
