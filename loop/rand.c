/*
 * loop/rand.c - the real env's PRNG (ops rand): nc_util's xoshiro256**
 * (struct nc_rng) seeded through splitmix64 from cfg.seed (the agent takes
 * the seed from getrandom(), tests fix it). Fast and seedable; not for keys
 * (crypto.c uses OpenSSL).
 */
#include "loop/loop_int.h"

uint64_t
nc__loop_op_rand(struct nc_env *env)
{
	return nc_rng_next(&nc__loop_real(env)->rng);
}

void
nc__loop_rand_seed(struct nc_env_real *e, uint64_t seed)
{
	nc_rng_seed(&e->rng, seed);
}
