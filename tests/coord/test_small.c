/*
 * test_small.c - a small real-looking cluster, probe by probe: four
 * agents in two pairs (2 ms inside a pair, 60 ms across), the topology of
 * tests/cli/cli_agent.sh, driven the way gossip drives the clients.
 *
 * The schedule copies memberlist: every agent probes once per probe
 * interval (1 s, "lan"), at its own phase, walking a shuffled list of the
 * members it knows and reshuffling after each pass; the ack carries the
 * peer's coordinate as it is at that moment; the RTT is the truth plus
 * 0.2-0.6 ms of loopback/scheduling noise. Either all four start
 * together, or east2 joins 2 s after the others with a fresh coordinate
 * (the CLI test's east2 sometimes needs a second join attempt). Time moves
 * in 0.1 s steps; everything comes from fixed seeds.
 *
 * The bugs this pins (seen in ~1 of 12 CLI runs, coord/client.c has the
 * analysis): the local solve moved the vector and refitted the height on
 * the old distances in one step, closing the mean residual twice; in a
 * cluster this small (three peers, one 2 ms link carrying ~3/4 of the
 * weight) the overshoot drained vector length into the heights until the
 * nodes sat together on 5-15 ms heights and every estimate read 15-30 ms
 * - 60 ms links included - for 30-60 s. Seed 193 of this schedule is
 * such a run. And from the first random direction on (all fresh
 * coordinates sit at the origin) the whole cluster moved along one line,
 * where a pair landing on both sides of the other pair is a fold that
 * takes a minute to undo.
 */
#include <CUnit/CUnit.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "coord/coord.h"
#include "test_util.h"

#define SMALL_N 4
/** Simulated seconds per run. */
#define SMALL_SECONDS 60
/** Steps per simulated second. */
#define SMALL_STEPS 10

static const char *const small_names[SMALL_N] = {"east1", "east2", "west1",
						 "west2"};

/* True RTT, seconds: 2 ms inside a pair, 60 ms across. */
static double
small_truth(int i, int j)
{
	if (i == j)
		return 0.0;
	return (i < 2) == (j < 2) ? 0.002 : 0.060;
}

/* The schedule's own generator (xorshift64). */
static double
small_rand(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return (double)(*s >> 11) * (1.0 / 9007199254740992.0);
}

/** What one run measured. */
struct small_run {
	/** Last time (s) some pair's estimate was off by more than 20%. */
	double settled_s;
	/** Worst relative error of any pair at or after t = 20 s. */
	double worst_after_20s;
	/** Most probes any agent had sent when the 20% mark was reached for
	 * good (-1 if never). */
	int probes_to_settle;
};

/*
 * One run of the schedule above. Pairs are judged every 0.5 s from
 * east2's join on, by nc_coord_estimate_rtt() between the agents' current
 * coordinates against the truth plus the mean noise (0.4 ms).
 */
static void
small_cluster_run(uint64_t seed, double join_late_s, struct small_run *out)
{
	struct nc_coord_client *c[SMALL_N];
	double join[SMALL_N] = {0.0, join_late_s, 0.0, 0.0};
	double phase[SMALL_N];
	int order[SMALL_N][SMALL_N], pos[SMALL_N], probes[SMALL_N];
	uint64_t rs = 0x9e3779b97f4a7c15ULL * seed + 12345;

	for (int i = 0; i < SMALL_N; i++) {
		struct nc_coord_config cfg;
		nc_coord_config_default(&cfg);
		cfg.peer_cap = 1024;
		cfg.seed =
		    (uint64_t)(i + 1) ^ 0x9e3779b97f4a7c15ULL ^ seed * 7919;
		c[i] = nc_coord_client_new(&cfg, NULL, 0);
		CU_ASSERT_PTR_NOT_NULL_FATAL(c[i]);
		phase[i] = small_rand(&rs);
		pos[i] = SMALL_N;
		probes[i] = 0;
	}
	out->settled_s = 0.0;
	out->worst_after_20s = 0.0;
	out->probes_to_settle = -1;
	for (int step = 0; step < SMALL_SECONDS * SMALL_STEPS; step++) {
		double t = (double)step / SMALL_STEPS;
		for (int i = 0; i < SMALL_N; i++) {
			if (t < join[i])
				continue;
			/* Probe when this step holds the agent's tick. */
			double since = t - phase[i] - join[i] + 100.0;
			if (fmod(since, 1.0) >= 1.0 / SMALL_STEPS - 1e-9)
				continue;
			int target = -1;
			for (int k = 0; k < 2 * SMALL_N && target < 0; k++) {
				if (pos[i] >= SMALL_N) {
					for (int a = 0; a < SMALL_N; a++)
						order[i][a] = a;
					for (int a = SMALL_N - 1; a > 0; a--) {
						int b = (int)(small_rand(&rs) *
							      (a + 1));
						int x = order[i][a];
						order[i][a] = order[i][b];
						order[i][b] = x;
					}
					pos[i] = 0;
				}
				int j = order[i][pos[i]++];
				if (j != i && t >= join[j])
					target = j;
			}
			if (target < 0)
				continue;
			struct nc_coord pc;
			nc_coord_client_get(c[target], &pc);
			double rtt = small_truth(i, target) + 0.0002 +
				     0.0004 * small_rand(&rs);
			CU_ASSERT_EQUAL(
			    nc_coord_client_update(c[i], small_names[target],
						   &pc, rtt, NULL),
			    0);
			probes[i]++;
		}
		if (step % (SMALL_STEPS / 2) != 0 || t < join_late_s)
			continue;
		double worst = 0.0;
		for (int i = 0; i < SMALL_N; i++) {
			for (int j = 0; j < SMALL_N; j++) {
				if (i == j)
					continue;
				struct nc_coord a, b;
				nc_coord_client_get(c[i], &a);
				nc_coord_client_get(c[j], &b);
				double tr = small_truth(i, j) + 0.0004;
				double est = nc_coord_estimate_rtt(
				    NC_COORD_ALGO_NC, &a, &b);
				double rel = fabs(est - tr) / tr;
				if (rel > worst)
					worst = rel;
			}
		}
		if (worst > 0.2) {
			out->settled_s = t;
			out->probes_to_settle = -1;
		} else if (out->probes_to_settle < 0) {
			int most = 0;
			for (int i = 0; i < SMALL_N; i++)
				most = probes[i] > most ? probes[i] : most;
			out->probes_to_settle = most;
		}
		if (t >= 20.0 && worst > out->worst_after_20s)
			out->worst_after_20s = worst;
	}
	for (int i = 0; i < SMALL_N; i++) {
		struct nc_coord_stats st;
		nc_coord_client_stats(c[i], &st);
		CU_ASSERT_EQUAL(st.resets, 0);
		nc_coord_client_delete(c[i]);
	}
}

/*
 * The run from the CLI test's bad case, seed 193 (see the top): by t = 20
 * s (18 probes each after east2's join) every estimate must be within 50%
 * and the cluster must have settled within 20% for good by t = 30 s.
 * Before the fix: settled at 55.5 s, worst error after 20 s 10.6 (2 ms
 * pairs estimated at 20-30 ms, 60 ms pairs at 15-30 ms).
 */
static void
test_small_cluster_late_joiner(void)
{
	struct small_run r;
	small_cluster_run(193, 2.0, &r);
	if (getenv("NC_TEST_VERBOSE") != NULL)
		printf("\n  seed 193: settled %.1f s, worst after 20 s %.3f, "
		       "%d probes ",
		       r.settled_s, r.worst_after_20s, r.probes_to_settle);
	CU_ASSERT_TRUE(r.worst_after_20s < 0.5);
	CU_ASSERT_TRUE(r.settled_s <= 30.0);
	CU_ASSERT_TRUE(r.probes_to_settle > 0 && r.probes_to_settle <= 30);
}

/*
 * Many schedules: 200 seeds with east2 joining 2 s late and 300 with all
 * four starting together. Before the fix 36% (late join) and 9%
 * (together) of the runs were still off by more than 50% at t = 20 s, 15
 * of the 200 had not settled within 20% by t = 30 s, and reaching the 20%
 * mark took 25 probes per agent on average. With only the first two
 * guards (sequential height, height cap) ~1% of the together runs still
 * folded. Now none of them is off, and the mean is below 20 probes.
 */
static void
test_small_cluster_many_schedules(void)
{
	int bad = 0, unsettled = 0;
	double sum = 0.0;
	int n = 0;
	for (uint64_t seed = 1; seed <= 200; seed++) {
		struct small_run r;
		small_cluster_run(seed, 2.0, &r);
		if (r.worst_after_20s > 0.5)
			bad++;
		if (r.settled_s > 30.0 || r.probes_to_settle < 0)
			unsettled++;
		if (r.probes_to_settle > 0) {
			sum += r.probes_to_settle;
			n++;
		}
	}
	double mean = n > 0 ? sum / n : INFINITY;
	int together_bad = 0;
	for (uint64_t seed = 1; seed <= 300; seed++) {
		struct small_run r;
		small_cluster_run(seed, 0.0, &r);
		if (r.worst_after_20s > 0.5)
			together_bad++;
	}
	if (getenv("NC_TEST_VERBOSE") != NULL)
		printf("\n  late join: %d/200 off >50%% at 20 s, %d unsettled "
		       "at 30 s, mean %.1f probes; together: %d/300 off ",
		       bad, unsettled, mean, together_bad);
	CU_ASSERT_EQUAL(bad, 0);
	CU_ASSERT_EQUAL(unsettled, 0);
	CU_ASSERT_TRUE(mean < 20.0);
	CU_ASSERT_EQUAL(together_bad, 0);
}

int
nc_test_small_register(void)
{
	CU_pSuite s = CU_add_suite("small_cluster", NULL, NULL);
	if (s == NULL ||
	    !CU_add_test(s, "small_cluster_late_joiner",
			 test_small_cluster_late_joiner) ||
	    !CU_add_test(s, "small_cluster_many_schedules",
			 test_small_cluster_many_schedules))
		return -1;
	return 0;
}
