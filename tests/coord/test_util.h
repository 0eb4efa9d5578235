/*
 * test_util.h - shared helpers of the coord test binary (not a suite):
 * suite registration, ground-truth RTT matrices (synthetic ones after
 * hashicorp/serf coordinate/phantom.go, and the bundled PlanetLab subset)
 * and a small round-based simulator.
 */
#ifndef NC_TEST_COORD_UTIL_H
#define NC_TEST_COORD_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "coord/coord.h"

/* Suite registration, one per source file. Each returns 0 or -1. */
int nc_test_vivaldi_register(void);
int nc_test_client_register(void);
int nc_test_rank_register(void);
int nc_test_verify_register(void);
int nc_test_converge_register(void);
int nc_test_small_register(void);

/** A square RTT matrix, seconds, row-major; negative = missing. */
struct nc_test_matrix {
	/** Node count. */
	size_t n;
	/** n*n RTTs (owned; free with nc_test_matrix_free). */
	double *rtt;
};

/** Nodes on a line, `spacing` seconds apart. */
void nc_test_matrix_line(struct nc_test_matrix *m, size_t n, double spacing);

/** Nodes on a sqrt(n) x sqrt(n) grid, `spacing` seconds apart. */
void nc_test_matrix_grid(struct nc_test_matrix *m, size_t n, double spacing);

/** Two clusters: `lan` inside each, lan + wan across (Serf's split). */
void nc_test_matrix_split(struct nc_test_matrix *m, size_t n, double lan,
			  double wan);

/**
 * Serf's circle: nodes 1..n-1 on a circle of radius `radius`, node 0
 * 2 * radius from all of them (so it must come out high above).
 */
void nc_test_matrix_circle(struct nc_test_matrix *m, size_t n, double radius);

/**
 * Three datacenters with n / 3 nodes each (node i in DC i % 3): a LAN RTT
 * h_i + h_j inside (access links h_i = 0.10..0.30 ms) and a WAN triangle
 * of 30 / 40 / 50 ms plus the access links across. Exactly embeddable in
 * two dimensions plus height.
 */
void nc_test_matrix_datacenters(struct nc_test_matrix *m, size_t n);

/** Load an ms matrix file (-1 = missing). @retval 0 or -1. */
int nc_test_matrix_load(struct nc_test_matrix *m, const char *path);

/** Free a matrix. */
void nc_test_matrix_free(struct nc_test_matrix *m);

/** Error figures of a set of coordinates against the truth. */
struct nc_test_eval {
	/** Median, mean, 90th percentile and max relative error. */
	double med, avg, p90, max;
	/** Fraction of nodes whose predicted nearest is a true nearest. */
	double top1;
};

/**
 * Run `rounds` rounds of the issue #2 protocol: every node in turn probes
 * a uniformly random other node and updates with its current coordinate
 * and the true RTT. Node i's client uses cfg with seed cfg->seed + i; the
 * peer choice uses `seed`. If algos is not NULL, node i uses algos[i]
 * instead of cfg->algo. Coordinates are written to coords (n entries).
 * @retval 0, or -1 if a client could not be created.
 */
int nc_test_simulate(const struct nc_test_matrix *m,
		     const struct nc_coord_config *cfg,
		     const enum nc_coord_algo *algos, unsigned rounds,
		     uint64_t seed, struct nc_coord *coords);

/**
 * Evaluate coords against m with nc_coord_estimate_rtt(algo): over pairs
 * i != j with a known RTT > 0 whose source i passes `only` (NULL = all).
 */
void nc_test_evaluate(const struct nc_test_matrix *m,
		      const struct nc_coord *coords, enum nc_coord_algo algo,
		      const int *only, struct nc_test_eval *out);

#endif /* NC_TEST_COORD_UTIL_H */
