/*
 * loop/rand.c - the real env's PRNG: xoshiro256** seeded through
 * splitmix64 from cfg.seed (the agent takes the seed from getrandom(),
 * tests fix it). Fast and seedable; not for keys (crypto.c uses OpenSSL).
 */
#include "loop/loop_int.h"

static uint64_t
rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

/** xoshiro256** (Blackman & Vigna): fast, 256-bit state, seedable. */
uint64_t
nc__loop_op_rand(struct nc_env *env)
{
	uint64_t *s = nc__loop_real(env)->rng;
	uint64_t result = rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

/** splitmix64, to spread a 64-bit seed over the xoshiro state. */
static uint64_t
splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

void
nc__loop_rand_seed(struct nc_env_real *e, uint64_t seed)
{
	uint64_t x = seed;
	for (int i = 0; i < 4; i++)
		e->rng[i] = splitmix64(&x);
}
