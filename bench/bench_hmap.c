/*
 * bench_hmap.c - is util's nc_hmap as fast as coord/peers.c's own table?
 *
 * coord/peers.c keeps a tuned table (open addressing with linear probing
 * over uint32 slot indices into a fixed entry array, slot count >= 2 x
 * cap) instead of util's chained nc_hmap. This times one lookup of a known
 * name in each, with peers.c's layout rebuilt here (this bench cannot
 * include coord's internal header), for the default peer_cap of 4096 and a
 * small and a large table. Names are "node-<i>", looked up in a shuffled
 * order so neither table benefits from insertion order. Prints ns per
 * lookup and the ratio chained / open; ratios > 1 mean peers.c's table is
 * faster. Absolute times depend on the machine; the ratio is what to read.
 *
 * usage: bench_hmap [lookups]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/util.h"

#define NAME_MAX_BYTES 64

static double
now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* peers.c's layout: entries with name + hash, slots of index + 1. */
struct oa_ent {
	char name[NAME_MAX_BYTES + 1];
	uint64_t hash;
};

struct oa {
	struct oa_ent *ent;
	uint32_t *slots;
	uint32_t mask;
};

static uint32_t
oa_slot(const struct oa *t, const char *name, uint64_t h)
{
	uint32_t s = (uint32_t)h & t->mask;
	for (;;) {
		uint32_t v = t->slots[s];
		if (v == 0)
			return s;
		const struct oa_ent *p = &t->ent[v - 1];
		if (p->hash == h && strcmp(p->name, name) == 0)
			return s;
		s = (s + 1) & t->mask;
	}
}

/* An entry as a caller of nc_hmap embeds it. */
struct ch_ent {
	struct nc_hmap_node in_map;
	char name[NAME_MAX_BYTES + 1];
};

static int
run(size_t n, size_t lookups)
{
	char(*names)[NAME_MAX_BYTES + 1] = calloc(n, sizeof(*names));
	size_t *order = calloc(lookups, sizeof(*order));
	struct oa t;
	struct ch_ent *ce = calloc(n, sizeof(*ce));
	struct nc_hmap m;
	uint32_t nslots = 2;
	uint64_t seed = 1;
	volatile uintptr_t sink = 0;

	while (nslots < 2u * n)
		nslots <<= 1;
	t.ent = calloc(n, sizeof(*t.ent));
	t.slots = calloc(nslots, sizeof(*t.slots));
	t.mask = nslots - 1;
	if (names == NULL || order == NULL || ce == NULL || t.ent == NULL ||
	    t.slots == NULL || nc_hmap_create(&m, 0) != 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		snprintf(names[i], sizeof(names[i]), "node-%zu", i);
		uint64_t h = nc_hash_str(names[i]);
		uint32_t s = oa_slot(&t, names[i], h);
		strcpy(t.ent[i].name, names[i]);
		t.ent[i].hash = h;
		t.slots[s] = (uint32_t)i + 1;
		strcpy(ce[i].name, names[i]);
		if (nc_hmap_insert(&m, &ce[i].in_map, ce[i].name,
				   strlen(ce[i].name)) != 0)
			return -1;
	}
	for (size_t k = 0; k < lookups; k++)
		order[k] = (size_t)(nc_splitmix64(&seed) % n);

	double best_oa = 1e9, best_ch = 1e9;
	for (int rep = 0; rep < 5; rep++) {
		double t0 = now();
		for (size_t k = 0; k < lookups; k++) {
			const char *nm = names[order[k]];
			sink += t.slots[oa_slot(&t, nm, nc_hash_str(nm))];
		}
		double t1 = now();
		for (size_t k = 0; k < lookups; k++) {
			const char *nm = names[order[k]];
			sink += (uintptr_t)nc_hmap_find(&m, nm, strlen(nm));
		}
		double t2 = now();
		if (t1 - t0 < best_oa)
			best_oa = t1 - t0;
		if (t2 - t1 < best_ch)
			best_ch = t2 - t1;
	}
	printf("%8zu %14.1f %14.1f %8.2f\n", n, best_oa * 1e9 / lookups,
	       best_ch * 1e9 / lookups, best_ch / best_oa);
	(void)sink; /* written so that the lookups are not optimized out */
	nc_hmap_destroy(&m);
	free(t.ent);
	free(t.slots);
	free(ce);
	free(order);
	free(names);
	return 0;
}

int
main(int argc, char **argv)
{
	size_t lookups = argc > 1 ? strtoul(argv[1], NULL, 10) : 2000000;
	static const size_t sizes[] = {64, 4096, 65536};

	printf("bench_hmap: %zu lookups of a present name (best of 5)\n",
	       lookups);
	printf("%8s %14s %14s %8s\n", "entries", "peers.c ns", "nc_hmap ns",
	       "ratio");
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		if (run(sizes[i], lookups) != 0)
			return 1;
	return 0;
}
