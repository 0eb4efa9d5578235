/*
 * test_util.c - ground truth and a tiny simulator for the coord tests.
 *
 * The synthetic topologies copy hashicorp/serf coordinate/phantom.go
 * (GenerateLine/Grid/Split/Circle), so bounds can be compared with Serf's
 * own performance tests; the simulator is the issue #2 protocol, the
 * same one `netcoord sim` runs, in a dozen lines.
 */
#include "test_util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/util.h"

static void
alloc_matrix(struct nc_test_matrix *m, size_t n)
{
	m->n = n;
	m->rtt = calloc(n * n, sizeof(double));
	if (m->rtt == NULL)
		abort();
}

void
nc_test_matrix_line(struct nc_test_matrix *m, size_t n, double spacing)
{
	alloc_matrix(m, n);
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < n; j++)
			m->rtt[i * n + j] =
			    fabs((double)i - (double)j) * spacing;
}

void
nc_test_matrix_grid(struct nc_test_matrix *m, size_t n, double spacing)
{
	size_t side = (size_t)sqrt((double)n);
	alloc_matrix(m, n);
	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < n; j++) {
			double dx = (double)(i % side) - (double)(j % side);
			double dy = (double)(i / side) - (double)(j / side);
			m->rtt[i * n + j] = sqrt(dx * dx + dy * dy) * spacing;
		}
	}
}

void
nc_test_matrix_split(struct nc_test_matrix *m, size_t n, double lan, double wan)
{
	size_t split = n / 2;
	alloc_matrix(m, n);
	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < n; j++) {
			if (i == j)
				continue;
			int across = (i <= split) != (j <= split);
			m->rtt[i * n + j] = lan + (across ? wan : 0.0);
		}
	}
}

void
nc_test_matrix_circle(struct nc_test_matrix *m, size_t n, double radius)
{
	alloc_matrix(m, n);
	for (size_t i = 0; i < n; i++) {
		for (size_t j = i + 1; j < n; j++) {
			double rtt;
			if (i == 0) {
				rtt = 2.0 * radius;
			} else {
				double t1 = 2.0 * M_PI * (double)i / (double)n;
				double t2 = 2.0 * M_PI * (double)j / (double)n;
				double dx = cos(t2) - cos(t1);
				double dy = sin(t2) - sin(t1);
				rtt = sqrt(dx * dx + dy * dy) * radius;
			}
			m->rtt[i * n + j] = m->rtt[j * n + i] = rtt;
		}
	}
}

void
nc_test_matrix_datacenters(struct nc_test_matrix *m, size_t n)
{
	static const double wan[3][3] = {
	    {0.0, 0.030, 0.040}, {0.030, 0.0, 0.050}, {0.040, 0.050, 0.0}};
	alloc_matrix(m, n);
	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < n; j++) {
			if (i == j)
				continue;
			double hi = 1e-4 + 5e-5 * (double)(i % 5);
			double hj = 1e-4 + 5e-5 * (double)(j % 5);
			m->rtt[i * n + j] = wan[i % 3][j % 3] + hi + hj;
		}
	}
}

/** Largest matrix a test loads (the PlanetLab subset has 200 nodes). */
#define NC_TEST_MATRIX_MAX 4096

int
nc_test_matrix_load(struct nc_test_matrix *m, const char *path)
{
	double *v;
	size_t n;
	char err[256];
	if (nc_rtt_matrix_load(path, NC_TEST_MATRIX_MAX, &v, &n, err,
			       sizeof(err)) != 0) {
		fprintf(stderr, "%s\n", err);
		return -1;
	}
	if (n < 2) {
		free(v);
		return -1;
	}
	/* ms -> s; missing stays -1. */
	for (size_t k = 0; k < n * n; k++)
		v[k] = v[k] < 0.0 ? -1.0 : v[k] / 1e3;
	m->n = n;
	m->rtt = v;
	return 0;
}

void
nc_test_matrix_free(struct nc_test_matrix *m)
{
	free(m->rtt);
	m->rtt = NULL;
	m->n = 0;
}

int
nc_test_simulate(const struct nc_test_matrix *m,
		 const struct nc_coord_config *cfg,
		 const enum nc_coord_algo *algos, unsigned rounds,
		 uint64_t seed, struct nc_coord *coords)
{
	size_t n = m->n;
	struct nc_coord_client **cl = calloc(n, sizeof(*cl));
	char(*names)[32] = calloc(n, sizeof(*names));
	int rc = -1;
	if (cl == NULL || names == NULL)
		goto out;
	for (size_t i = 0; i < n; i++) {
		struct nc_coord_config c = *cfg;
		c.seed = cfg->seed + i;
		if (algos != NULL)
			c.algo = algos[i];
		cl[i] = nc_coord_client_new(&c, NULL, 0);
		if (cl[i] == NULL)
			goto out;
		snprintf(names[i], sizeof(names[i]), "node_%zu", i);
	}
	for (unsigned r = 0; r < rounds; r++) {
		for (size_t i = 0; i < n; i++) {
			size_t j = (size_t)(nc_splitmix64(&seed) % (n - 1));
			j += j >= i;
			double t = m->rtt[i * n + j];
			if (t < 0.0)
				continue;
			struct nc_coord peer;
			nc_coord_client_get(cl[j], &peer);
			if (nc_coord_client_update(cl[i], names[j], &peer, t,
						   NULL) != 0)
				goto out;
		}
	}
	for (size_t i = 0; i < n; i++)
		nc_coord_client_get(cl[i], &coords[i]);
	rc = 0;
out:
	if (cl != NULL)
		for (size_t i = 0; i < n; i++)
			nc_coord_client_delete(cl[i]);
	free(cl);
	free(names);
	return rc;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

void
nc_test_evaluate(const struct nc_test_matrix *m, const struct nc_coord *coords,
		 enum nc_coord_algo algo, const int *only,
		 struct nc_test_eval *out)
{
	size_t n = m->n, k = 0, nodes = 0, hits = 0;
	double *re = malloc(n * n * sizeof(*re));
	if (re == NULL)
		abort();
	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < n; i++) {
		if (only != NULL && !only[i])
			continue;
		double best_true = INFINITY, best_pred = INFINITY;
		double true_of_pred = INFINITY;
		for (size_t j = 0; j < n; j++) {
			double t = m->rtt[i * n + j];
			if (i == j || !(t > 0.0))
				continue;
			double p =
			    nc_coord_estimate_rtt(algo, &coords[i], &coords[j]);
			double e = fabs(p - t) / t;
			re[k++] = e;
			out->avg += e;
			if (e > out->max)
				out->max = e;
			if (t < best_true)
				best_true = t;
			if (p < best_pred) {
				best_pred = p;
				true_of_pred = t;
			}
		}
		if (isfinite(best_true)) {
			nodes++;
			hits += true_of_pred <= best_true;
		}
	}
	if (k > 0) {
		qsort(re, k, sizeof(*re), cmp_double);
		out->med = re[k / 2];
		out->p90 = re[(size_t)(0.9 * (double)(k - 1) + 0.5)];
		out->avg /= (double)k;
	}
	out->top1 = nodes ? (double)hits / (double)nodes : 0.0;
	free(re);
}
