/*
 * test_converge.c - coordinates against ground truth (the approach of
 * hashicorp/serf coordinate/performance_test.go): synthetic line, grid,
 * two-cluster and circle topologies, run for a fixed number of rounds with
 * fixed seeds, must embed to within stated error bounds under both
 * algorithms. Then the bundled 200-node PlanetLab matrix: our algorithm
 * must beat Serf's in the same run, and Serf-mode nodes mixed with ours
 * must still converge (interoperability).
 */
#include <CUnit/CUnit.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "coord/coord.h"
#include "test_util.h"

#ifndef NC_TEST_DATA_DIR
#error "NC_TEST_DATA_DIR must point at tests/data"
#endif

/** Rounds for the synthetic topologies: Serf's performance tests use 1000
 * cycles; these are small networks, so it costs milliseconds. */
#define SYNTH_ROUNDS 1000

/* Run one topology under one algorithm and evaluate it. */
static void
run_topology(const struct nc_test_matrix *m, enum nc_coord_algo algo,
	     unsigned dims, struct nc_test_eval *ev, struct nc_coord *coords)
{
	struct nc_coord_config cfg;
	nc_coord_config_default(&cfg);
	cfg.algo = algo;
	cfg.dims = dims;
	cfg.seed = 1;
	CU_ASSERT_EQUAL_FATAL(
	    nc_test_simulate(m, &cfg, NULL, SYNTH_ROUNDS, 1, coords), 0);
	nc_test_evaluate(m, coords, algo, NULL, ev);
	if (getenv("NC_TEST_VERBOSE") != NULL)
		printf("\n  [%s n=%zu] avg %.5f max %.5f med %.5f ",
		       algo == NC_COORD_ALGO_SERF ? "serf" : "nc", m->n,
		       ev->avg, ev->max, ev->med);
}

/*
 * Ten nodes on a line 10 ms apart: a 1-D truth that 8 dimensions embed
 * exactly. Serf's own bound for this case is avg 0.0018, max 0.0092.
 */
static void
test_converge_line(void)
{
	struct nc_test_matrix m;
	struct nc_coord coords[10];
	struct nc_test_eval ev;
	nc_test_matrix_line(&m, 10, 0.010);
	run_topology(&m, NC_COORD_ALGO_SERF, 8, &ev, coords);
	CU_ASSERT_TRUE(ev.avg < 0.005);
	CU_ASSERT_TRUE(ev.max < 0.02);
	run_topology(&m, NC_COORD_ALGO_NC, 8, &ev, coords);
	CU_ASSERT_TRUE(ev.avg < 0.005);
	CU_ASSERT_TRUE(ev.max < 0.02);
	nc_test_matrix_free(&m);
}

/* A 5x5 grid, 10 ms spacing. Serf's bound: avg 0.0015, max 0.022. */
static void
test_converge_grid(void)
{
	struct nc_test_matrix m;
	struct nc_coord coords[25];
	struct nc_test_eval ev;
	nc_test_matrix_grid(&m, 25, 0.010);
	run_topology(&m, NC_COORD_ALGO_SERF, 8, &ev, coords);
	CU_ASSERT_TRUE(ev.avg < 0.005);
	CU_ASSERT_TRUE(ev.max < 0.05);
	run_topology(&m, NC_COORD_ALGO_NC, 8, &ev, coords);
	CU_ASSERT_TRUE(ev.avg < 0.005);
	CU_ASSERT_TRUE(ev.max < 0.05);
	nc_test_matrix_free(&m);
}

/*
 * Two clusters: 1 ms inside, 11 ms across. Only heights can represent a
 * uniform 1 ms among 13 nodes. Serf's bound: avg 6e-5, max 4.8e-4. Ours
 * gets there more slowly on this degenerate case (each node settles the
 * vector/height split against remembered, slightly stale peers): avg 5e-3
 * and max 6e-2 after 1000 rounds, avg 1e-4 / max 4e-3 after 3000.
 */
static void
test_converge_two_clusters(void)
{
	struct nc_test_matrix m;
	struct nc_coord coords[25];
	struct nc_test_eval ev;
	nc_test_matrix_split(&m, 25, 0.001, 0.010);
	run_topology(&m, NC_COORD_ALGO_SERF, 8, &ev, coords);
	CU_ASSERT_TRUE(ev.avg < 0.001);
	CU_ASSERT_TRUE(ev.max < 0.005);
	run_topology(&m, NC_COORD_ALGO_NC, 8, &ev, coords);
	CU_ASSERT_TRUE(ev.avg < 0.01);
	CU_ASSERT_TRUE(ev.max < 0.1);
	/* The across-cluster links, which rank the clusters, are tight. */
	CU_ASSERT_TRUE(ev.med < 0.001);
	CU_ASSERT_DOUBLE_EQUAL(ev.top1, 1.0, 0.0);
	nc_test_matrix_free(&m);
}

/*
 * A circle of radius 100 ms in 2 dimensions, plus node 0 at 200 ms from
 * everyone: the only embedding puts node 0 on a tall height and keeps the
 * others low (Serf's TestPerformance_Height).
 */
static void
test_converge_circle_height(void)
{
	struct nc_test_matrix m;
	struct nc_coord coords[25];
	struct nc_test_eval ev;
	for (int a = 0; a < 2; a++) {
		nc_test_matrix_circle(&m, 25, 0.100);
		run_topology(&m, a ? NC_COORD_ALGO_SERF : NC_COORD_ALGO_NC, 2,
			     &ev, coords);
		CU_ASSERT_TRUE(ev.avg < 0.05);
		/* Node 0 high up, every other node low. */
		CU_ASSERT_TRUE(coords[0].height > 0.097);
		for (int i = 1; i < 25; i++)
			CU_ASSERT_TRUE(coords[i].height < 0.010);
		nc_test_matrix_free(&m);
	}
}

/*
 * Three datacenters of 8 nodes: sub-millisecond LANs inside a 30-50 ms WAN
 * triangle - the Consul shape. Both algorithms must embed it, rank each
 * node's true nearest (a same-DC node with the smallest access link)
 * and, for ours, converge early: by round 200 its 90th percentile error
 * is below Serf's (whose tail is the LAN pairs).
 */
static void
test_converge_datacenters(void)
{
	struct nc_test_matrix m;
	struct nc_coord coords[24];
	struct nc_test_eval ev;
	nc_test_matrix_datacenters(&m, 24);
	run_topology(&m, NC_COORD_ALGO_SERF, 8, &ev, coords);
	CU_ASSERT_TRUE(ev.med < 0.005);
	CU_ASSERT_TRUE(ev.p90 < 0.2);
	CU_ASSERT_TRUE(ev.top1 >= 0.75);
	run_topology(&m, NC_COORD_ALGO_NC, 8, &ev, coords);
	CU_ASSERT_TRUE(ev.med < 0.001);
	CU_ASSERT_TRUE(ev.p90 < 0.01);
	CU_ASSERT_TRUE(ev.max < 0.05);
	CU_ASSERT_DOUBLE_EQUAL(ev.top1, 1.0, 0.0);

	/* Early on, ours is ahead on the long tail (the LAN pairs). */
	struct nc_coord_config cfg;
	struct nc_test_eval early_serf, early_ours;
	nc_coord_config_default(&cfg);
	cfg.algo = NC_COORD_ALGO_SERF;
	CU_ASSERT_EQUAL(nc_test_simulate(&m, &cfg, NULL, 200, 1, coords), 0);
	nc_test_evaluate(&m, coords, NC_COORD_ALGO_SERF, NULL, &early_serf);
	cfg.algo = NC_COORD_ALGO_NC;
	CU_ASSERT_EQUAL(nc_test_simulate(&m, &cfg, NULL, 200, 1, coords), 0);
	nc_test_evaluate(&m, coords, NC_COORD_ALGO_NC, NULL, &early_ours);
	if (getenv("NC_TEST_VERBOSE") != NULL)
		printf("\n  [200 rounds] serf med %.5f p90 %.5f, nc med %.5f "
		       "p90 %.5f ",
		       early_serf.med, early_serf.p90, early_ours.med,
		       early_ours.p90);
	CU_ASSERT_TRUE(early_ours.med < 0.005);
	CU_ASSERT_TRUE(early_ours.p90 < early_serf.p90);
	nc_test_matrix_free(&m);
}

static int
load_planetlab(struct nc_test_matrix *m)
{
	int rc =
	    nc_test_matrix_load(m, NC_TEST_DATA_DIR "/planetlab200_ms.txt");
	CU_ASSERT_EQUAL(rc, 0);
	if (rc == 0)
		CU_ASSERT_EQUAL(m->n, 200);
	return rc;
}

/*
 * Same matrix, same seeds, same probe sequence: our algorithm must give a
 * lower median and 90th-percentile relative error and a better nearest
 * neighbour than Serf's.
 */
static void
test_ours_beats_serf_on_planetlab(void)
{
	struct nc_test_matrix m;
	if (load_planetlab(&m) != 0)
		return;
	struct nc_coord *coords = calloc(m.n, sizeof(*coords));
	struct nc_test_eval serf, ours;
	struct nc_coord_config cfg;
	nc_coord_config_default(&cfg);
	cfg.seed = 1;
	cfg.algo = NC_COORD_ALGO_SERF;
	CU_ASSERT_EQUAL(nc_test_simulate(&m, &cfg, NULL, 500, 1, coords), 0);
	nc_test_evaluate(&m, coords, NC_COORD_ALGO_SERF, NULL, &serf);
	cfg.algo = NC_COORD_ALGO_NC;
	CU_ASSERT_EQUAL(nc_test_simulate(&m, &cfg, NULL, 500, 1, coords), 0);
	nc_test_evaluate(&m, coords, NC_COORD_ALGO_NC, NULL, &ours);
	if (getenv("NC_TEST_VERBOSE") != NULL)
		printf("\n  serf med %.4f p90 %.4f top1 %.3f; ours med %.4f "
		       "p90 %.4f top1 %.3f ",
		       serf.med, serf.p90, serf.top1, ours.med, ours.p90,
		       ours.top1);
	CU_ASSERT_TRUE(ours.med < serf.med);
	CU_ASSERT_TRUE(ours.p90 < serf.p90);
	CU_ASSERT_TRUE(ours.top1 > serf.top1);
	free(coords);
	nc_test_matrix_free(&m);
}

/*
 * Interoperability: half the nodes run Serf's client, half ours, all
 * exchanging coordinates. The Serf nodes, predicting with Serf's
 * DistanceTo, must still converge: no worse than 1.25x the median error
 * of an all-Serf run, and our nodes must keep their edge.
 */
static void
test_serf_nodes_converge_with_ours(void)
{
	struct nc_test_matrix m;
	if (load_planetlab(&m) != 0)
		return;
	struct nc_coord *coords = calloc(m.n, sizeof(*coords));
	enum nc_coord_algo *algos = calloc(m.n, sizeof(*algos));
	int *is_serf = calloc(m.n, sizeof(*is_serf));
	int *is_ours = calloc(m.n, sizeof(*is_ours));
	for (size_t i = 0; i < m.n; i++) {
		is_serf[i] = i % 2;
		is_ours[i] = !is_serf[i];
		algos[i] = is_serf[i] ? NC_COORD_ALGO_SERF : NC_COORD_ALGO_NC;
	}
	struct nc_coord_config cfg;
	nc_coord_config_default(&cfg);
	struct nc_test_eval pure, mixed_serf, mixed_ours;
	cfg.algo = NC_COORD_ALGO_SERF;
	CU_ASSERT_EQUAL(nc_test_simulate(&m, &cfg, NULL, 500, 1, coords), 0);
	nc_test_evaluate(&m, coords, NC_COORD_ALGO_SERF, is_serf, &pure);
	CU_ASSERT_EQUAL(nc_test_simulate(&m, &cfg, algos, 500, 1, coords), 0);
	nc_test_evaluate(&m, coords, NC_COORD_ALGO_SERF, is_serf, &mixed_serf);
	nc_test_evaluate(&m, coords, NC_COORD_ALGO_NC, is_ours, &mixed_ours);
	if (getenv("NC_TEST_VERBOSE") != NULL)
		printf("\n  pure serf %.4f, mixed: serf nodes %.4f, ours %.4f ",
		       pure.med, mixed_serf.med, mixed_ours.med);
	CU_ASSERT_TRUE(mixed_serf.med < 1.25 * pure.med);
	CU_ASSERT_TRUE(mixed_ours.med < pure.med);
	/* Published fields stay sane: finite, error in (0, 1.5]. */
	for (size_t i = 0; i < m.n; i++) {
		CU_ASSERT_EQUAL(nc_coord_check(&coords[i]), 0);
		CU_ASSERT_TRUE(coords[i].error > 0.0 && coords[i].error <= 1.5);
		CU_ASSERT_TRUE(fabs(coords[i].adjustment) < 1.0);
	}
	free(is_ours);
	free(is_serf);
	free(algos);
	free(coords);
	nc_test_matrix_free(&m);
}

/* Median relative error of nodes [0, k) to nodes [k, n). */
static double
restarted_median(const struct nc_test_matrix *m, struct nc_coord_client **cl,
		 size_t k, enum nc_coord_algo algo)
{
	size_t n = m->n, cnt = 0;
	double *re = malloc(k * n * sizeof(*re));
	struct nc_coord a, b;
	for (size_t i = 0; i < k; i++) {
		nc_coord_client_get(cl[i], &a);
		for (size_t j = k; j < n; j++) {
			double t = m->rtt[i * n + j];
			if (!(t > 0.0))
				continue;
			nc_coord_client_get(cl[j], &b);
			re[cnt++] =
			    fabs(nc_coord_estimate_rtt(algo, &a, &b) - t) / t;
		}
	}
	/* Median by insertion sort: ~2000 values. */
	for (size_t i = 1; i < cnt; i++) {
		double x = re[i];
		size_t j = i;
		while (j > 0 && re[j - 1] > x) {
			re[j] = re[j - 1];
			j--;
		}
		re[j] = x;
	}
	double med = re[cnt / 2];
	free(re);
	return med;
}

/*
 * An agent restarts (fresh coordinate, no memory) in a converged cluster.
 * Story: 200 PlanetLab nodes run 300 rounds; nodes 0..9 restart; after 20
 * more rounds (20 probes each) their median error to the others must be
 * within 1.25x of what it was before the restart under our algorithm -
 * it fits itself against converged peers - and below Serf's in the same
 * situation.
 */
static void
test_restarted_node_converges_fast(void)
{
	struct nc_test_matrix m;
	if (load_planetlab(&m) != 0)
		return;
	size_t n = m.n, k = 10;
	double after[2], before[2];
	for (int a = 0; a < 2; a++) {
		enum nc_coord_algo algo =
		    a ? NC_COORD_ALGO_SERF : NC_COORD_ALGO_NC;
		struct nc_coord_config cfg;
		nc_coord_config_default(&cfg);
		cfg.algo = algo;
		struct nc_coord_client **cl = calloc(n, sizeof(*cl));
		char(*names)[32] = calloc(n, sizeof(*names));
		for (size_t i = 0; i < n; i++) {
			cfg.seed = i + 1;
			cl[i] = nc_coord_client_new(&cfg, NULL, 0);
			CU_ASSERT_PTR_NOT_NULL_FATAL(cl[i]);
			snprintf(names[i], sizeof(names[i]), "n%zu", i);
		}
		uint64_t x = 3;
		for (int r = 0; r < 320; r++) {
			if (r == 300) {
				before[a] = restarted_median(&m, cl, k, algo);
				for (size_t i = 0; i < k; i++) {
					nc_coord_client_delete(cl[i]);
					cfg.seed = 1000 + i;
					cl[i] =
					    nc_coord_client_new(&cfg, NULL, 0);
				}
			}
			for (size_t i = 0; i < n; i++) {
				x = x * 6364136223846793005ULL +
				    1442695040888963407ULL;
				size_t j = (size_t)((x >> 33) % (n - 1));
				j += j >= i;
				struct nc_coord p;
				nc_coord_client_get(cl[j], &p);
				nc_coord_client_update(cl[i], names[j], &p,
						       m.rtt[i * n + j], NULL);
			}
		}
		after[a] = restarted_median(&m, cl, k, algo);
		for (size_t i = 0; i < n; i++)
			nc_coord_client_delete(cl[i]);
		free(cl);
		free(names);
	}
	if (getenv("NC_TEST_VERBOSE") != NULL)
		printf("\n  restart: nc %.4f -> %.4f, serf %.4f -> %.4f ",
		       before[0], after[0], before[1], after[1]);
	CU_ASSERT_TRUE(after[0] < 1.25 * before[0]);
	CU_ASSERT_TRUE(after[0] < after[1]);
	nc_test_matrix_free(&m);
}

int
nc_test_converge_register(void)
{
	CU_pSuite s = CU_add_suite("converge", NULL, NULL);
	if (s == NULL || !CU_add_test(s, "converge_line", test_converge_line) ||
	    !CU_add_test(s, "converge_grid", test_converge_grid) ||
	    !CU_add_test(s, "converge_two_clusters",
			 test_converge_two_clusters) ||
	    !CU_add_test(s, "converge_circle_height",
			 test_converge_circle_height) ||
	    !CU_add_test(s, "converge_datacenters",
			 test_converge_datacenters) ||
	    !CU_add_test(s, "ours_beats_serf_on_planetlab",
			 test_ours_beats_serf_on_planetlab) ||
	    !CU_add_test(s, "serf_nodes_converge_with_ours",
			 test_serf_nodes_converge_with_ours) ||
	    !CU_add_test(s, "restarted_node_converges_fast",
			 test_restarted_node_converges_fast))
		return -1;
	return 0;
}
