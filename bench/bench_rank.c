/*
 * bench_rank.c - how long does ranking 10,000 candidates take?
 *
 * Prints the time per query of nc_coord_rank_nearest (n = 5, with and
 * without a filter callback) and of nc_coord_rank_failover (20 groups),
 * each as a ratio against a baseline measured in the same run: a plain
 * linear scan that only computes the 10,000 distances (and keeps the
 * minimum, so the compiler cannot drop the work). A ratio near 1 means the
 * ranking costs little beyond the distances it cannot avoid. Absolute
 * times depend on the machine; the ratio is what to compare.
 *
 * usage: bench_rank [candidates] [queries]
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "coord/coord.h"
#include "util/util.h"

static double
now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double
unif(uint64_t *x)
{
	return nc_rng_double_of(nc_splitmix64(x));
}

static int
keep_all(const struct nc_coord_candidate *cand, size_t i, void *arg)
{
	(void)cand;
	(void)arg;
	return (i & 0xffff) != 0xffff;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* Median of the per-query times, seconds. */
static double
median(double *t, size_t n)
{
	qsort(t, n, sizeof(*t), cmp_double);
	return t[n / 2];
}

int
main(int argc, char **argv)
{
	size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 10000;
	size_t queries = argc > 2 ? strtoul(argv[2], NULL, 10) : 300;
	if (n < 5 || queries < 1) {
		fprintf(stderr,
			"usage: bench_rank [candidates>=5] [queries]\n");
		return 2;
	}
	struct nc_coord_config cfg;
	nc_coord_config_default(&cfg);
	struct nc_coord *coords = calloc(n + 1, sizeof(*coords));
	struct nc_coord_candidate *cand = calloc(n, sizeof(*cand));
	char(*names)[32] = calloc(n, sizeof(*names));
	size_t *order = calloc(n, sizeof(*order));
	struct nc_coord_group_rank *groups = calloc(n, sizeof(*groups));
	double *t_base = calloc(queries, sizeof(double));
	double *t_near = calloc(queries, sizeof(double));
	double *t_filt = calloc(queries, sizeof(double));
	double *t_fail = calloc(queries, sizeof(double));
	if (!coords || !cand || !names || !order || !groups || !t_base ||
	    !t_near || !t_filt || !t_fail)
		return 1;
	static const char *dcs[20] = {"dc0",  "dc1",  "dc2",  "dc3",  "dc4",
				      "dc5",  "dc6",  "dc7",  "dc8",  "dc9",
				      "dc10", "dc11", "dc12", "dc13", "dc14",
				      "dc15", "dc16", "dc17", "dc18", "dc19"};
	uint64_t seed = 1;
	/* Coordinates spread like a WAN: +-100 ms per axis, small heights. */
	for (size_t i = 0; i <= n; i++) {
		nc_coord_init(&coords[i], &cfg);
		for (unsigned d = 0; d < cfg.dims; d++)
			coords[i].vec[d] = (unif(&seed) - 0.5) * 0.2;
		coords[i].height = unif(&seed) * 0.005;
		coords[i].adjustment = (unif(&seed) - 0.5) * 0.002;
	}
	for (size_t i = 0; i < n; i++) {
		snprintf(names[i], sizeof(names[i]), "node-%zu", i);
		cand[i].name = names[i];
		cand[i].coord = &coords[i];
		cand[i].group = dcs[i % 20];
	}

	volatile double sink = 0.0;
	size_t idx[5];
	for (size_t q = 0; q < queries; q++) {
		/* Rotate the source so caches see different data. */
		const struct nc_coord *src = &coords[(q * 7919) % (n + 1)];
		double t0 = now();
		double best = INFINITY;
		for (size_t i = 0; i < n; i++) {
			double d = nc_coord_estimate_rtt(NC_COORD_ALGO_NC, src,
							 &coords[i]);
			if (d < best)
				best = d;
		}
		sink += best;
		double t1 = now();
		int got = nc_coord_rank_nearest(NC_COORD_ALGO_NC, src, cand, n,
						NULL, NULL, 5, idx, NULL);
		double t2 = now();
		got += nc_coord_rank_nearest(NC_COORD_ALGO_NC, src, cand, n,
					     keep_all, NULL, 5, idx, NULL);
		double t3 = now();
		size_t ng;
		got += nc_coord_rank_failover(NC_COORD_ALGO_NC, src, cand, n,
					      NULL, NULL, "dc0", NULL, 0, order,
					      groups, &ng);
		double t4 = now();
		if (got < 10)
			return 1;
		t_base[q] = t1 - t0;
		t_near[q] = t2 - t1;
		t_filt[q] = t3 - t2;
		t_fail[q] = t4 - t3;
	}
	double base = median(t_base, queries);
	double near = median(t_near, queries);
	double filt = median(t_filt, queries);
	double fail = median(t_fail, queries);
	printf("bench_rank: %zu candidates, dims %u, %zu queries (median)\n", n,
	       cfg.dims, queries);
	printf("%-34s %10s %8s\n", "case", "us/query", "ratio");
	printf("%-34s %10.1f %8.2f\n", "baseline: distances only", base * 1e6,
	       1.0);
	printf("%-34s %10.1f %8.2f\n", "nearest n=5", near * 1e6, near / base);
	printf("%-34s %10.1f %8.2f\n", "nearest n=5 + filter callback",
	       filt * 1e6, filt / base);
	printf("%-34s %10.1f %8.2f\n", "failover 20 groups (skip local)",
	       fail * 1e6, fail / base);
	(void)sink;
	free(coords);
	free(cand);
	free(names);
	free(order);
	free(groups);
	free(t_base);
	free(t_near);
	free(t_filt);
	free(t_fail);
	return 0;
}
