/*
 * test_verify.c - coord/verify.c: the verified re-ranking (measured RTT
 * first, silent candidates last) and the rule combining a node's own
 * measurement with the estimate (fresh wins, stale does not).
 */
#include <CUnit/CUnit.h>
#include <math.h>

#include "coord/coord.h"
#include "test_util.h"

static void
test_rerank_by_measured(void)
{
	/* Estimate order 0..3; measured says 2 < 0 < 3 < 1. */
	struct nc_coord_verified v[4] = {
	    {0, 0.001, 0.004}, {1, 0.002, 0.009},
	    {2, 0.003, 0.0005}, {3, 0.004, 0.005}};
	nc_coord_rank_verified(v, 4);
	CU_ASSERT_EQUAL(v[0].idx, 2);
	CU_ASSERT_EQUAL(v[1].idx, 0);
	CU_ASSERT_EQUAL(v[2].idx, 3);
	CU_ASSERT_EQUAL(v[3].idx, 1);
}

static void
test_rerank_silent_last(void)
{
	/* The best estimate did not answer: it must not stay nearest, even
	 * though every answering one measured far more than its estimate. */
	struct nc_coord_verified v[4] = {
	    {0, 0.0001, NAN}, {1, 0.002, 0.050},
	    {2, 0.003, NAN}, {3, 0.004, 0.040}};
	nc_coord_rank_verified(v, 4);
	CU_ASSERT_EQUAL(v[0].idx, 3);
	CU_ASSERT_EQUAL(v[1].idx, 1);
	/* Silent ones after, in estimate order. */
	CU_ASSERT_EQUAL(v[2].idx, 0);
	CU_ASSERT_EQUAL(v[3].idx, 2);
	CU_ASSERT(isnan(v[2].measured_s) && isnan(v[3].measured_s));
}

static void
test_rerank_ties_keep_estimate_order(void)
{
	struct nc_coord_verified v[3] = {
	    {7, 0.001, 0.002}, {8, 0.002, 0.001}, {9, 0.003, 0.002}};
	nc_coord_rank_verified(v, 3);
	CU_ASSERT_EQUAL(v[0].idx, 8);
	CU_ASSERT_EQUAL(v[1].idx, 7);
	CU_ASSERT_EQUAL(v[2].idx, 9);
	/* Nothing answered: unchanged. */
	struct nc_coord_verified w[2] = {{1, 0.001, NAN}, {0, 0.002, NAN}};
	nc_coord_rank_verified(w, 2);
	CU_ASSERT_EQUAL(w[0].idx, 1);
	CU_ASSERT_EQUAL(w[1].idx, 0);
}

static void
test_combine_fresh_wins(void)
{
	struct nc_coord_combine r;
	enum nc_coord_basis b;
	nc_coord_combine_default(&r);
	/* The pair: estimated 9.753 ms, measured 0.349 ms 1 s ago. */
	double x = nc_coord_combine_rtt(&r, 0.009753, 0.000349, 1.0, &b);
	CU_ASSERT_DOUBLE_EQUAL(x, 0.000349, 1e-12);
	CU_ASSERT_EQUAL(b, NC_COORD_BASIS_MEASURED);
	/* At the edge of fresh_s still measured. */
	x = nc_coord_combine_rtt(&r, 0.009753, 0.000349, r.fresh_s, &b);
	CU_ASSERT_EQUAL(b, NC_COORD_BASIS_MEASURED);
	/* No estimate at all: the measurement. */
	x = nc_coord_combine_rtt(&r, NAN, 0.002, 100.0, &b);
	CU_ASSERT_DOUBLE_EQUAL(x, 0.002, 1e-12);
	CU_ASSERT_EQUAL(b, NC_COORD_BASIS_MEASURED);
}

static void
test_combine_stale_does_not_win(void)
{
	struct nc_coord_combine r;
	enum nc_coord_basis b;
	nc_coord_combine_default(&r);
	/* Older than fresh_s: only a bound (factor 2 around 0.349 ms). */
	double x = nc_coord_combine_rtt(&r, 0.009753, 0.000349, 100.0, &b);
	CU_ASSERT_DOUBLE_EQUAL(x, 0.000698, 1e-12);
	CU_ASSERT_EQUAL(b, NC_COORD_BASIS_CLAMPED);
	/* Below the bound: clamped up. */
	x = nc_coord_combine_rtt(&r, 0.0001, 0.001, 100.0, &b);
	CU_ASSERT_DOUBLE_EQUAL(x, 0.0005, 1e-12);
	/* Inside the bound: the estimate, untouched. */
	x = nc_coord_combine_rtt(&r, 0.0015, 0.001, 100.0, &b);
	CU_ASSERT_DOUBLE_EQUAL(x, 0.0015, 1e-12);
	CU_ASSERT_EQUAL(b, NC_COORD_BASIS_ESTIMATE);
	/* Beyond bound_s: ignored. */
	x = nc_coord_combine_rtt(&r, 0.009753, 0.000349, r.bound_s + 1, &b);
	CU_ASSERT_DOUBLE_EQUAL(x, 0.009753, 1e-12);
	CU_ASSERT_EQUAL(b, NC_COORD_BASIS_ESTIMATE);
	/* No measurement: the estimate. */
	x = nc_coord_combine_rtt(&r, 0.004, NAN, NAN, &b);
	CU_ASSERT_DOUBLE_EQUAL(x, 0.004, 1e-12);
	CU_ASSERT_EQUAL(b, NC_COORD_BASIS_ESTIMATE);
}

int
nc_test_verify_register(void)
{
	CU_pSuite s = CU_add_suite("verify", NULL, NULL);
	if (s == NULL ||
	    !CU_add_test(s, "rerank_by_measured", test_rerank_by_measured) ||
	    !CU_add_test(s, "rerank_silent_last", test_rerank_silent_last) ||
	    !CU_add_test(s, "rerank_ties_keep_estimate_order",
			 test_rerank_ties_keep_estimate_order) ||
	    !CU_add_test(s, "combine_fresh_wins", test_combine_fresh_wins) ||
	    !CU_add_test(s, "combine_stale_does_not_win",
			 test_combine_stale_does_not_win))
		return -1;
	return 0;
}
