/*
 * peers.c - bounded per-peer state for the coordinate client.
 *
 * Serf keeps its latency-filter samples in an unbounded Go map keyed by
 * node name, and only ForgetNode shrinks it. An agent in a 10,000-node
 * fleet would then grow without limit as nodes come and go. We keep at
 * most peer_cap entries instead, and evict the least recently updated peer
 * when a new one arrives at a full table. Losing an old peer's state only
 * costs its filter history and cached coordinate.
 *
 * The arrays start at PEERS_INITIAL entries and double when a new peer
 * finds them full, up to peer_cap: a client that meets 300 peers holds
 * ~300 entries (~290 bytes each), not peer_cap (at 1,024: 300 KiB per
 * agent, which the fleet simulator multiplies by N). So the probe path
 * allocates, but only on those few growth steps (log2(peer_cap / 16),
 * 6 for 1,024), never in steady state; if a growth fails the table acts
 * as full and evicts, as at peer_cap.
 *
 * Layout: an entry array, a power-of-two slot array (linear probing;
 * removal by backward shift so no tombstones accumulate), a doubly linked
 * LRU list threaded through the entries, and a dense index array so the
 * client can pick a uniformly random known peer in O(1). What the local
 * solve reads on every probe (vector, height, RTT, weight) sits in a
 * separate "hot" array kept in dense order, so a run of peers is one
 * sequential read instead of a cache miss per peer (5x faster on a
 * 490-node simulation).
 *
 * Why not util's nc_hmap: this table stays because it measured faster
 * where tables get big and is smaller. bench/bench_hmap (one lookup of a
 * present name; 3 runs, 2-core shared machine): at the default cap 4096
 * the two are even (nc_hmap / this table = 0.87-1.21), at 65536 entries
 * this table is 1.06-1.58x faster (~190-300 ns vs ~230-380 ns), and it
 * costs 8 bytes of slots per entry where nc_hmap needs a 32-byte node
 * plus an 8-byte bucket. Its uint32 indices also serve the LRU list and
 * the dense array. The hash is util's nc_hash_str (FNV-1a 64).
 */
#include "coord/coord_int.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#define NONE UINT32_MAX
/** Entries allocated at create time. Nothing special in this value. */
#define PEERS_INITIAL 16

/** Slot count for @a cap entries: a power of two >= 2 * cap. */
static uint32_t
slots_for(unsigned cap)
{
	uint32_t nslots = 2;
	while (nslots < 2u * cap)
		nslots <<= 1;
	return nslots;
}

int
nc__coord_peers_create(struct nc__coord_peers *t, unsigned cap, unsigned lfs,
		       unsigned dims)
{
	memset(t, 0, sizeof(*t));
	t->cap_max = cap;
	if (cap > PEERS_INITIAL)
		cap = PEERS_INITIAL;
	uint32_t nslots = slots_for(cap);
	t->cap = cap;
	t->lfs = lfs;
	t->mask = nslots - 1;
	t->ent = calloc(cap, sizeof(*t->ent));
	t->samples = calloc((size_t)cap * lfs, sizeof(double));
	t->slots = calloc(nslots, sizeof(*t->slots));
	t->dense = calloc(cap, sizeof(*t->dense));
	t->stride = dims + 4;
	t->hot = calloc((size_t)cap * t->stride, sizeof(double));
	t->lru_head = t->lru_tail = NONE;
	if (t->ent == NULL || t->samples == NULL || t->slots == NULL ||
	    t->dense == NULL || t->hot == NULL) {
		nc__coord_peers_destroy(t);
		return NC_COORD_ENOMEM;
	}
	/*
	 * Free entries are those at dense[n..cap). Positions from `fresh` on
	 * have never been used and are implicitly dense[k] = k: they are
	 * filled on first use, so calloc's untouched pages stay unmapped and
	 * a client that meets few peers costs little resident memory.
	 */
	t->fresh = 0;
	return 0;
}

/* The slot of entry i in @a slots (mask @a mask): its first empty one. */
static void
rehash_insert(uint32_t *slots, uint32_t mask, uint32_t i, uint64_t h)
{
	uint32_t s = (uint32_t)h & mask;
	while (slots[s] != 0)
		s = (s + 1) & mask;
	slots[s] = i + 1;
}

/*
 * Double the arrays (up to cap_max). Entry indices, dense positions and
 * the LRU links stay as they are; the slots are rebuilt for the new mask.
 * @retval 0, or -1 with the table unchanged (it then evicts as if full).
 */
static int
grow(struct nc__coord_peers *t)
{
	unsigned cap = t->cap * 2;
	if (cap <= t->cap || cap > t->cap_max)
		cap = t->cap_max;
	uint32_t nslots = slots_for(cap);
	uint32_t *slots = calloc(nslots, sizeof(*slots));
	if (slots == NULL)
		return -1;
	/* Each realloc that succeeds is kept (only cap says how much is
	 * used), so a later failure leaves a consistent table. */
	struct nc__coord_peer *ent = realloc(t->ent, cap * sizeof(*ent));
	if (ent != NULL)
		t->ent = ent;
	double *samples =
	    realloc(t->samples, (size_t)cap * t->lfs * sizeof(double));
	if (samples != NULL)
		t->samples = samples;
	uint32_t *dense = realloc(t->dense, cap * sizeof(*dense));
	if (dense != NULL)
		t->dense = dense;
	double *hot =
	    realloc(t->hot, (size_t)cap * t->stride * sizeof(double));
	if (hot != NULL)
		t->hot = hot;
	if (ent == NULL || samples == NULL || dense == NULL || hot == NULL) {
		free(slots);
		return -1;
	}
	for (unsigned k = 0; k < t->n; k++) {
		uint32_t i = t->dense[k];
		rehash_insert(slots, nslots - 1, i, t->ent[i].hash);
	}
	free(t->slots);
	t->slots = slots;
	t->mask = nslots - 1;
	t->cap = cap;
	return 0;
}

void
nc__coord_peers_destroy(struct nc__coord_peers *t)
{
	free(t->ent);
	free(t->samples);
	free(t->slots);
	free(t->dense);
	free(t->hot);
	memset(t, 0, sizeof(*t));
}

/* Slot holding `name`, or the empty slot where it would go. */
static uint32_t
find_slot(const struct nc__coord_peers *t, const char *name, uint64_t h)
{
	uint32_t s = (uint32_t)h & t->mask;
	for (;;) {
		uint32_t v = t->slots[s];
		if (v == 0)
			return s;
		const struct nc__coord_peer *p = &t->ent[v - 1];
		if (p->hash == h && strcmp(p->name, name) == 0)
			return s;
		s = (s + 1) & t->mask;
	}
}

struct nc__coord_peer *
nc__coord_peers_find(struct nc__coord_peers *t, const char *name)
{
	uint32_t s = find_slot(t, name, nc_hash_str(name));
	return t->slots[s] == 0 ? NULL : &t->ent[t->slots[s] - 1];
}

static void
lru_unlink(struct nc__coord_peers *t, uint32_t i)
{
	struct nc__coord_peer *p = &t->ent[i];
	if (p->lru_prev != NONE)
		t->ent[p->lru_prev].lru_next = p->lru_next;
	else
		t->lru_head = p->lru_next;
	if (p->lru_next != NONE)
		t->ent[p->lru_next].lru_prev = p->lru_prev;
	else
		t->lru_tail = p->lru_prev;
	p->lru_prev = p->lru_next = NONE;
}

static void
lru_push_front(struct nc__coord_peers *t, uint32_t i)
{
	struct nc__coord_peer *p = &t->ent[i];
	p->lru_prev = NONE;
	p->lru_next = t->lru_head;
	if (t->lru_head != NONE)
		t->ent[t->lru_head].lru_prev = i;
	t->lru_head = i;
	if (t->lru_tail == NONE)
		t->lru_tail = i;
}

/* Remove the entry in slot s (backward-shift deletion). */
static void
remove_slot(struct nc__coord_peers *t, uint32_t s)
{
	uint32_t i = t->slots[s] - 1;
	lru_unlink(t, i);
	/* Swap i out of the used part of dense. */
	uint32_t pos = t->ent[i].dense_pos;
	uint32_t last = t->dense[t->n - 1];
	t->dense[pos] = last;
	t->ent[last].dense_pos = pos;
	memcpy(&t->hot[(size_t)pos * t->stride],
	       &t->hot[(size_t)(t->n - 1) * t->stride],
	       t->stride * sizeof(double));
	t->dense[t->n - 1] = i;
	t->ent[i].dense_pos = t->n - 1;
	t->n--;
	/* Close the probe chain. */
	uint32_t hole = s;
	uint32_t j = s;
	for (;;) {
		j = (j + 1) & t->mask;
		uint32_t v = t->slots[j];
		if (v == 0)
			break;
		uint32_t home = (uint32_t)t->ent[v - 1].hash & t->mask;
		/* Move v into the hole unless its home lies in (hole, j]. */
		int home_between = hole <= j ? (home > hole && home <= j)
					     : (home > hole || home <= j);
		if (!home_between) {
			t->slots[hole] = v;
			hole = j;
		}
	}
	t->slots[hole] = 0;
}

struct nc__coord_peer *
nc__coord_peers_touch(struct nc__coord_peers *t, const char *name)
{
	uint64_t h = nc_hash_str(name);
	uint32_t s = find_slot(t, name, h);
	if (t->slots[s] != 0) {
		uint32_t i = t->slots[s] - 1;
		lru_unlink(t, i);
		lru_push_front(t, i);
		return &t->ent[i];
	}
	if (t->n == t->cap && t->cap < t->cap_max && grow(t) == 0)
		s = find_slot(t, name, h);
	if (t->n == t->cap) {
		struct nc__coord_peer *old = &t->ent[t->lru_tail];
		remove_slot(t, find_slot(t, old->name, old->hash));
		t->evictions++;
		s = find_slot(t, name, h);
	}
	if (t->n == t->fresh) {
		t->dense[t->n] = t->n;
		t->ent[t->n].dense_pos = t->n;
		t->fresh++;
	}
	uint32_t i = t->dense[t->n];
	struct nc__coord_peer *p = &t->ent[i];
	uint32_t pos = p->dense_pos;
	memset(p, 0, sizeof(*p));
	p->dense_pos = pos;
	t->n++;
	/* Callers check the length (update returns NC_COORD_EINVAL). */
	size_t len = strlen(name);
	assert(len <= NC_COORD_NAME_MAX);
	if (len > NC_COORD_NAME_MAX)
		len = NC_COORD_NAME_MAX;
	memcpy(p->name, name, len);
	p->name[len] = '\0';
	p->hash = h;
	p->lru_prev = p->lru_next = NONE;
	t->slots[s] = i + 1;
	lru_push_front(t, i);
	return p;
}

int
nc__coord_peers_remove(struct nc__coord_peers *t, const char *name)
{
	uint32_t s = find_slot(t, name, nc_hash_str(name));
	if (t->slots[s] == 0)
		return 0;
	remove_slot(t, s);
	return 1;
}

double *
nc__coord_peers_samples(struct nc__coord_peers *t, struct nc__coord_peer *p)
{
	return &t->samples[(size_t)(p - t->ent) * t->lfs];
}
