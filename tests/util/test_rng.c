/*
 * tests/util/test_rng.c - splitmix64 and xoshiro256** produce exactly the
 * sequences of the generators they replaced (coord/coord.c,
 * sim/sim_env.c, gossip/env_real.c, the examples): golden values
 * printed by the pre-util code, so seeded simulations keep their figures.
 */
#include <CUnit/Basic.h>

#include "test_util.h"
#include "util/util.h"

static void
test_splitmix64_golden(void)
{
	uint64_t x = 0;
	/* Also Vigna's reference output for seed 0. */
	CU_ASSERT_EQUAL(nc_splitmix64(&x), 0xe220a8397b1dcdafULL);
	CU_ASSERT_EQUAL(nc_splitmix64(&x), 0x6e789e6aa1b965f4ULL);
	CU_ASSERT_EQUAL(nc_splitmix64(&x), 0x06c45d188009454fULL);
	x = 1234567;
	CU_ASSERT_EQUAL(nc_splitmix64(&x), 0x599ed017fb08fc85ULL);
	CU_ASSERT_EQUAL(nc_splitmix64(&x), 0x2c73f08458540fa5ULL);
	CU_ASSERT_EQUAL(nc_splitmix64(&x), 0x883ebce5a3f27c77ULL);
}

static void
test_xoshiro_golden(void)
{
	static const struct {
		uint64_t seed;
		uint64_t out[4];
	} g[] = {
	    {0,
	     {0x99ec5f36cb75f2b4ULL, 0xbf6e1f784956452aULL,
	      0x1a5f849d4933e6e0ULL, 0x6aa594f1262d2d2cULL}},
	    {1,
	     {0xb3f2af6d0fc710c5ULL, 0x853b559647364ceaULL,
	      0x92f89756082a4514ULL, 0x642e1c7bc266a3a7ULL}},
	    {42,
	     {0x15780b2e0c2ec716ULL, 0x6104d9866d113a7eULL,
	      0xae17533239e499a1ULL, 0xecb8ad4703b360a1ULL}},
	    {0xdeadbeefcafef00dULL,
	     {0x9e32cfb5bb93eebbULL, 0x16006bd9d4ac0014ULL,
	      0x8ada5d6d34b6538eULL, 0x7c327ca32346a238ULL}},
	};
	for (size_t k = 0; k < sizeof(g) / sizeof(g[0]); k++) {
		struct nc_rng r;
		nc_rng_seed(&r, g[k].seed);
		for (int i = 0; i < 4; i++)
			CU_ASSERT_EQUAL(nc_rng_next(&r), g[k].out[i]);
	}
	/* Far into the sequence. */
	struct nc_rng r;
	nc_rng_seed(&r, 7);
	for (int i = 0; i < 1000; i++)
		nc_rng_next(&r);
	CU_ASSERT_EQUAL(nc_rng_next(&r), 0x2dcf848e3be7ca59ULL);
}

static void
test_double(void)
{
	struct nc_rng r;
	nc_rng_seed(&r, 1);
	CU_ASSERT_DOUBLE_EQUAL(nc_rng_double(&r), 0.70292183315885048, 0);
	CU_ASSERT_EQUAL(nc_rng_double_of(0), 0.0);
	CU_ASSERT(nc_rng_double_of(UINT64_MAX) < 1.0);
	CU_ASSERT_DOUBLE_EQUAL(nc_rng_double_of(UINT64_MAX),
			       1.0 - 0x1.0p-53, 0);
	nc_rng_seed(&r, 99);
	for (int i = 0; i < 10000; i++) {
		double d = nc_rng_double(&r);
		CU_ASSERT_FATAL(d >= 0.0 && d < 1.0);
	}
}

int
nc_test_rng_register(void)
{
	CU_pSuite s = CU_add_suite("rng", NULL, NULL);
	if (s == NULL ||
	    CU_add_test(s, "splitmix64 golden values",
			test_splitmix64_golden) == NULL ||
	    CU_add_test(s, "xoshiro256** golden values",
			test_xoshiro_golden) == NULL ||
	    CU_add_test(s, "doubles in [0, 1)", test_double) == NULL)
		return -1;
	return 0;
}
