/*
 * util/rng.c - seeding of the xoshiro256** generator of util.h.
 *
 * xoshiro256** (Blackman & Vigna 2018) is small, fast, has 256 bits of
 * state and passes BigCrush; splitmix64 spreads one 64-bit seed over that
 * state as its authors recommend (a seed of 0 still gives a non-zero
 * state). The generator itself is inline in util.h. The sequence for a
 * given seed is fixed: seeded simulations and tests depend on it, and
 * tests/util checks golden values.
 */
#include "util/util.h"

void
nc_rng_seed(struct nc_rng *rng, uint64_t seed)
{
	uint64_t x = seed;

	for (int i = 0; i < 4; i++)
		rng->s[i] = nc_splitmix64(&x);
}
