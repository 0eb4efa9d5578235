/*
 * test_rank.c - nearest and failover ordering: ties broken by name,
 * candidates without a coordinate last, the filter callback, groups by
 * median, skipping the local group, groups without candidates last.
 */
#include <CUnit/CUnit.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "coord/coord.h"
#include "test_util.h"

/* Coordinates on a line: node at x seconds (dims 2, no height). */
static void
at(struct nc_coord *c, double x)
{
	struct nc_coord_config cfg;
	nc_coord_config_default(&cfg);
	cfg.dims = 2;
	cfg.height_min = 0.0;
	nc_coord_init(c, &cfg);
	c->vec[0] = x;
}

static int
skip_name_prefix(const struct nc_coord_candidate *cand, size_t i, void *arg)
{
	(void)i;
	return strncmp(cand->name, (const char *)arg,
		       strlen((const char *)arg)) != 0;
}

static void
test_nearest_orders_by_estimate(void)
{
	struct nc_coord src, c[5];
	at(&src, 0.0);
	at(&c[0], 0.050);
	at(&c[1], 0.010);
	at(&c[2], 0.030);
	at(&c[3], 0.020);
	at(&c[4], 0.040);
	struct nc_coord_candidate cand[5] = {
	    {"e", &c[0], NULL}, {"a", &c[1], NULL}, {"c", &c[2], NULL},
	    {"b", &c[3], NULL}, {"d", &c[4], NULL},
	};
	size_t idx[3];
	double rtt[3];
	int n = nc_coord_rank_nearest(NC_COORD_ALGO_NC, &src, cand, 5, NULL,
				      NULL, 3, idx, rtt);
	CU_ASSERT_EQUAL_FATAL(n, 3);
	CU_ASSERT_EQUAL(idx[0], 1);
	CU_ASSERT_EQUAL(idx[1], 3);
	CU_ASSERT_EQUAL(idx[2], 2);
	CU_ASSERT_DOUBLE_EQUAL(rtt[0], 0.010, 1e-15);
	CU_ASSERT_DOUBLE_EQUAL(rtt[2], 0.030, 1e-15);
	/* Asking for more than exist returns them all. */
	size_t all[8];
	CU_ASSERT_EQUAL(nc_coord_rank_nearest(NC_COORD_ALGO_NC, &src, cand, 5,
					      NULL, NULL, 8, all, NULL),
			5);
	CU_ASSERT_EQUAL(all[4], 0);
	CU_ASSERT_EQUAL(nc_coord_rank_nearest(NC_COORD_ALGO_NC, &src, cand, 5,
					      NULL, NULL, 0, all, NULL),
			0);
	CU_ASSERT_EQUAL(nc_coord_rank_nearest(NC_COORD_ALGO_NC, NULL, cand, 5,
					      NULL, NULL, 2, all, NULL),
			NC_COORD_EINVAL);
}

static void
test_nearest_ties_stable_by_name(void)
{
	struct nc_coord src, same;
	at(&src, 0.0);
	at(&same, 0.010);
	/* Equal estimates in scrambled name order. */
	struct nc_coord_candidate cand[4] = {
	    {"delta", &same, NULL},
	    {"alpha", &same, NULL},
	    {"charlie", &same, NULL},
	    {"bravo", &same, NULL},
	};
	size_t idx[4];
	CU_ASSERT_EQUAL(nc_coord_rank_nearest(NC_COORD_ALGO_NC, &src, cand, 4,
					      NULL, NULL, 4, idx, NULL),
			4);
	CU_ASSERT_EQUAL(idx[0], 1);
	CU_ASSERT_EQUAL(idx[1], 3);
	CU_ASSERT_EQUAL(idx[2], 2);
	CU_ASSERT_EQUAL(idx[3], 0);
}

static void
test_nearest_no_coordinate_last(void)
{
	struct nc_coord src, far, wrongdims;
	at(&src, 0.0);
	at(&far, 5.0);
	at(&wrongdims, 0.001);
	wrongdims.dims = 3;
	struct nc_coord_candidate cand[4] = {
	    {"b-none", NULL, NULL},
	    {"far", &far, NULL},
	    {"a-none", NULL, NULL},
	    {"c-dims", &wrongdims, NULL},
	};
	size_t idx[4];
	double rtt[4];
	CU_ASSERT_EQUAL(nc_coord_rank_nearest(NC_COORD_ALGO_SERF, &src, cand, 4,
					      NULL, NULL, 4, idx, rtt),
			4);
	CU_ASSERT_EQUAL(idx[0], 1);
	CU_ASSERT_EQUAL(idx[1], 2);
	CU_ASSERT_EQUAL(idx[2], 0);
	CU_ASSERT_EQUAL(idx[3], 3);
	CU_ASSERT_TRUE(isnan(rtt[1]));
}

static void
test_nearest_filter(void)
{
	struct nc_coord src, c[4];
	at(&src, 0.0);
	for (int i = 0; i < 4; i++)
		at(&c[i], 0.010 * (i + 1));
	struct nc_coord_candidate cand[4] = {
	    {"web-1", &c[0], NULL},
	    {"db-1", &c[1], NULL},
	    {"web-2", &c[2], NULL},
	    {"db-2", &c[3], NULL},
	};
	size_t idx[4];
	CU_ASSERT_EQUAL(nc_coord_rank_nearest(NC_COORD_ALGO_NC, &src, cand, 4,
					      skip_name_prefix, "web", 4, idx,
					      NULL),
			2);
	CU_ASSERT_EQUAL(idx[0], 1);
	CU_ASSERT_EQUAL(idx[1], 3);
}

/* A failover ranking over three datacenters. */
static void
test_failover_groups_by_median(void)
{
	struct nc_coord src, c[7];
	at(&src, 0.0);
	/* dc1: 10, 12, 200 ms (median 12); dc2: 5, 50 (median 27.5);
	 * dc3: 20 (median 20); dc4: no coordinates. */
	at(&c[0], 0.010);
	at(&c[1], 0.012);
	at(&c[2], 0.200);
	at(&c[3], 0.005);
	at(&c[4], 0.050);
	at(&c[5], 0.020);
	struct nc_coord_candidate cand[8] = {
	    {"n2", &c[2], "dc1"}, {"n5", &c[4], "dc2"}, {"n0", &c[0], "dc1"},
	    {"n6", &c[5], "dc3"}, {"n3", &c[3], "dc2"}, {"n1", &c[1], "dc1"},
	    {"n8", NULL, "dc4"},  {"n7", NULL, "dc4"},
	};
	size_t order[8];
	struct nc_coord_group_rank g[8];
	size_t ng = 0;
	int n = nc_coord_rank_failover(NC_COORD_ALGO_NC, &src, cand, 8, NULL,
				       NULL, NULL, NULL, 0, order, g, &ng);
	CU_ASSERT_EQUAL_FATAL(n, 8);
	CU_ASSERT_EQUAL_FATAL(ng, 4);
	CU_ASSERT_STRING_EQUAL(g[0].group, "dc1");
	CU_ASSERT_STRING_EQUAL(g[1].group, "dc3");
	CU_ASSERT_STRING_EQUAL(g[2].group, "dc2");
	CU_ASSERT_STRING_EQUAL(g[3].group, "dc4");
	CU_ASSERT_DOUBLE_EQUAL(g[0].median_rtt, 0.012, 1e-15);
	CU_ASSERT_DOUBLE_EQUAL(g[2].median_rtt, 0.0275, 1e-15);
	CU_ASSERT_TRUE(isnan(g[3].median_rtt));
	/* Members ordered inside each group. */
	CU_ASSERT_EQUAL(g[0].first, 0);
	CU_ASSERT_EQUAL(g[0].count, 3);
	CU_ASSERT_EQUAL(order[0], 2);
	CU_ASSERT_EQUAL(order[1], 5);
	CU_ASSERT_EQUAL(order[2], 0);
	CU_ASSERT_EQUAL(g[1].first, 3);
	CU_ASSERT_EQUAL(order[3], 3);
	CU_ASSERT_EQUAL(g[2].first, 4);
	CU_ASSERT_EQUAL(order[4], 4);
	CU_ASSERT_EQUAL(order[5], 1);
	/* No-coordinate members by name. */
	CU_ASSERT_EQUAL(order[6], 7);
	CU_ASSERT_EQUAL(order[7], 6);
}

static void
test_failover_skip_local_and_empty_last(void)
{
	struct nc_coord src, c[3];
	at(&src, 0.0);
	at(&c[0], 0.001);
	at(&c[1], 0.080);
	at(&c[2], 0.040);
	struct nc_coord_candidate cand[3] = {
	    {"local-1", &c[0], "home"},
	    {"east-1", &c[1], "east"},
	    {"west-1", &c[2], "west"},
	};
	const char *all[] = {"zzz-empty", "home", "east",
			     "aaa-empty", "west", "aaa-empty"};
	size_t order[3];
	struct nc_coord_group_rank g[9];
	size_t ng = 0;
	int n = nc_coord_rank_failover(NC_COORD_ALGO_NC, &src, cand, 3, NULL,
				       NULL, "home", all, 6, order, g, &ng);
	CU_ASSERT_EQUAL_FATAL(n, 2);
	CU_ASSERT_EQUAL_FATAL(ng, 4);
	CU_ASSERT_STRING_EQUAL(g[0].group, "west");
	CU_ASSERT_STRING_EQUAL(g[1].group, "east");
	CU_ASSERT_STRING_EQUAL(g[2].group, "aaa-empty");
	CU_ASSERT_STRING_EQUAL(g[3].group, "zzz-empty");
	CU_ASSERT_EQUAL(g[2].count, 0);
	CU_ASSERT_EQUAL(order[0], 2);
	CU_ASSERT_EQUAL(order[1], 1);

	/* Without skipping, home comes first; the filter applies too. */
	n = nc_coord_rank_failover(NC_COORD_ALGO_NC, &src, cand, 3,
				   skip_name_prefix, "west", NULL, all, 6,
				   order, g, &ng);
	CU_ASSERT_EQUAL_FATAL(n, 2);
	CU_ASSERT_EQUAL_FATAL(ng, 5);
	CU_ASSERT_STRING_EQUAL(g[0].group, "home");
	CU_ASSERT_STRING_EQUAL(g[1].group, "east");
	/* west has no candidate left after the filter: with the empties. */
	CU_ASSERT_STRING_EQUAL(g[2].group, "aaa-empty");
	CU_ASSERT_STRING_EQUAL(g[3].group, "west");
	CU_ASSERT_STRING_EQUAL(g[4].group, "zzz-empty");
}

/*
 * Many candidates, repeated estimates, missing coordinates and groups of
 * every size: the failover order must satisfy its definition (checked
 * pairwise here rather than against a second implementation).
 */
static void
test_failover_large_is_ordered(void)
{
	enum { N = 3000, G = 300 };
	static struct nc_coord c[N];
	static struct nc_coord_candidate cand[N];
	static char names[N][16], gnames[G][16];
	static size_t order[N];
	static struct nc_coord_group_rank g[N];
	struct nc_coord src;
	at(&src, 0.0);
	uint64_t x = 99;
	for (int i = 0; i < G; i++)
		snprintf(gnames[i], sizeof(gnames[i]), "g%03d", i);
	for (int i = 0; i < N; i++) {
		x = x * 6364136223846793005ULL + 1442695040888963407ULL;
		/* Few distinct positions: plenty of exact ties. */
		at(&c[i], 0.001 * (double)((x >> 40) % 50));
		snprintf(names[i], sizeof(names[i]), "n%05d",
			 (int)((x >> 20) % 100000));
		cand[i].name = names[i];
		cand[i].coord = (x >> 33) % 10 == 0 ? NULL : &c[i];
		/* Skewed group sizes. */
		unsigned r = (unsigned)((x >> 10) % 1000);
		cand[i].group = gnames[(r * r / 1000) * G / 1000];
	}
	size_t ng = 0;
	int n = nc_coord_rank_failover(NC_COORD_ALGO_NC, &src, cand, N, NULL,
				       NULL, NULL, NULL, 0, order, g, &ng);
	CU_ASSERT_EQUAL_FATAL(n, N);
	int ok = 1;
	size_t covered = 0;
	for (size_t k = 0; k < ng; k++) {
		ok &= g[k].first == covered && g[k].count > 0;
		covered += g[k].count;
		if (k > 0) {
			double a = g[k - 1].median_rtt, b = g[k].median_rtt;
			if (!isnan(a) && !isnan(b))
				ok &= a < b ||
				      (a == b &&
				       strcmp(g[k - 1].group, g[k].group) < 0);
			else
				ok &= !isnan(a) || isnan(b);
		}
		for (size_t m = g[k].first; m < g[k].first + g[k].count; m++) {
			const struct nc_coord_candidate *p = &cand[order[m]];
			ok &= strcmp(p->group, g[k].group) == 0;
			if (m == g[k].first)
				continue;
			const struct nc_coord_candidate *q =
			    &cand[order[m - 1]];
			if (q->coord == NULL) {
				ok &= p->coord == NULL;
			}
			if (p->coord == NULL && q->coord == NULL) {
				int cmp = strcmp(q->name, p->name);
				ok &= cmp < 0 ||
				      (cmp == 0 && order[m - 1] < order[m]);
			} else if (p->coord != NULL && q->coord != NULL) {
				double dq =
				    nc_coord_raw_distance(&src, q->coord);
				double dp =
				    nc_coord_raw_distance(&src, p->coord);
				int cmp = strcmp(q->name, p->name);
				ok &= dq < dp ||
				      (dq == dp &&
				       (cmp < 0 ||
					(cmp == 0 && order[m - 1] < order[m])));
			}
		}
	}
	CU_ASSERT_EQUAL(covered, N);
	CU_ASSERT_TRUE(ok);
}

int
nc_test_rank_register(void)
{
	CU_pSuite s = CU_add_suite("rank", NULL, NULL);
	if (s == NULL ||
	    !CU_add_test(s, "nearest_orders_by_estimate",
			 test_nearest_orders_by_estimate) ||
	    !CU_add_test(s, "nearest_ties_stable_by_name",
			 test_nearest_ties_stable_by_name) ||
	    !CU_add_test(s, "nearest_no_coordinate_last",
			 test_nearest_no_coordinate_last) ||
	    !CU_add_test(s, "nearest_filter", test_nearest_filter) ||
	    !CU_add_test(s, "failover_groups_by_median",
			 test_failover_groups_by_median) ||
	    !CU_add_test(s, "failover_skip_local_and_empty_last",
			 test_failover_skip_local_and_empty_last) ||
	    !CU_add_test(s, "failover_large_is_ordered",
			 test_failover_large_is_ordered))
		return -1;
	return 0;
}
