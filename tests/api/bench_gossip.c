/*
 * bench_gossip.c - coordinate gossip at scale in the simulator (not a
 * CTest test: run `test_api` with NC_API_BENCH=N to get the figures in
 * the report). N netcoord agents on a 200 x 200 ms plane, lan profile:
 * after 120 s, per-agent coordinate-gossip bytes/s (out), the age of the
 * cached coordinates, then a late joiner's time to hold N coordinates.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/CUnit.h>

#include "api/api.h"
#include "tests/api/harness.h"

static int
cmpd(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static void
bench(void)
{
	const char *e = getenv("NC_API_BENCH");
	int n = e != NULL ? atoi(e) : 100;
	if (n < 2 || n > TH_MAX - 1)
		n = 100;
	struct th_spec *spec = calloc((size_t)n, sizeof(*spec));
	char(*names)[16] = calloc((size_t)n + 1, sizeof(*names));
	uint64_t x = 12345;
	for (int i = 0; i < n; i++) {
		snprintf(names[i], sizeof(names[i]), "node-%04d", i);
		x = x * 6364136223846793005ULL + 1442695040888963407ULL;
		spec[i].name = names[i];
		spec[i].x = (double)(x >> 40 & 0xffff) / 65536.0 * 200;
		spec[i].y = (double)(x >> 20 & 0xffff) / 65536.0 * 200;
		spec[i].tags = "dc=x";
		spec[i].nc = true;
	}
	struct th_fleet *f = th_fleet_new(7, spec, n);
	sim_run_until(f->w, 60);
	uint64_t b0 = 0;
	struct nc_agent_coords_stats st;
	for (int i = 0; i < n; i++) {
		nc_agent_coords_stats(f->node[i].coords, &st);
		b0 += st.gossip_bytes_out;
	}
	sim_run_until(f->w, 180);
	uint64_t b1 = 0, msgs = 0, ent = 0, boosts = 0;
	double *ages = calloc((size_t)n * (size_t)n, sizeof(double));
	size_t na = 0, cached = 0;
	for (int i = 0; i < n; i++) {
		nc_agent_coords_stats(f->node[i].coords, &st);
		b1 += st.gossip_bytes_out;
		msgs += st.gossip_msgs_out;
		ent += st.gossip_entries_out;
		boosts += st.gossip_boosts;
		cached += st.cached;
		for (int k = 0; k < n; k++) {
			struct nc_agent_coord_info ci;
			if (k != i &&
			    nc_agent_coords_get(f->node[i].coords, th_now(f),
					      names[k], &ci) == 0 &&
			    ci.has_coord)
				ages[na++] = ci.age_s;
		}
	}
	qsort(ages, na, sizeof(double), cmpd);
	printf("\nN=%d: coordinate gossip out per agent %.0f B/s (t 60..180 "
	       "s), %.1f entries/msg, %.0f B/msg; cached %.1f%% of pairs; "
	       "age median %.1f s, p90 %.1f s, max %.1f s; boosts %llu\n",
	       n, (double)(b1 - b0) / n / 120.0,
	       msgs ? (double)ent / (double)msgs : 0,
	       msgs ? (double)b1 / (double)msgs : 0,
	       100.0 * (double)cached / ((double)n * (n - 1)),
	       na ? ages[na / 2] : NAN, na ? ages[na * 9 / 10] : NAN,
	       na ? ages[na - 1] : NAN, (unsigned long long)boosts);
	free(ages);
	/* The figures come with the properties they stand for: the budget
	 * (coord_gossip_rate, 1 KiB/s by default) holds on average, and
	 * every agent holds coordinates of others. */
	CU_ASSERT((double)(b1 - b0) / n / 120.0 <= 1024.0 * 1.1);
	CU_ASSERT(cached > 0);
	/* A late joiner. */
	static struct th_spec late = {"late-joiner", 100, 100, "dc=x", true};
	struct th_node *l = th_fleet_add(f, &late);
	double t0 = th_now(f), t50 = NAN, t90 = NAN, t100 = NAN;
	while (th_now(f) < t0 + 60) {
		sim_run_until(f->w, th_now(f) + 0.1);
		nc_agent_coords_stats(l->coords, &st);
		double frac = (double)st.cached / n;
		if (isnan(t50) && frac >= 0.5)
			t50 = th_now(f) - t0;
		if (isnan(t90) && frac >= 0.9)
			t90 = th_now(f) - t0;
		if (frac >= 1.0) {
			t100 = th_now(f) - t0;
			break;
		}
	}
	nc_agent_coords_stats(l->coords, &st);
	uint64_t greets = 0;
	for (int i = 0; i < n; i++) {
		struct nc_agent_coords_stats gs;
		nc_agent_coords_stats(f->node[i].coords, &gs);
		greets += gs.gossip_greets;
	}
	printf("greetings sent to the late joiner: %llu\n",
	       (unsigned long long)greets);
	printf("late joiner: 50%% after %.1f s, 90%% after %.1f s, 100%% after "
	       "%.1f s (%u/%d); received %llu B of coordinate gossip\n",
	       t50, t90, t100, st.cached, n,
	       (unsigned long long)st.gossip_bytes_in);
	/* A late joiner learns (almost) the whole fleet within a minute. */
	CU_ASSERT(!isnan(t90));
	th_fleet_delete(f);
	free(spec);
	free(names);
}

int
nc_test_bench_register(void)
{
	CU_pSuite s = CU_add_suite("bench", NULL, NULL);
	if (s == NULL || !CU_add_test(s, "coordinate gossip at scale", bench))
		return -1;
	return 0;
}
