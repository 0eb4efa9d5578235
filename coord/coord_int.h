/*
 * coord_int.h - internals shared by the files of coord/ (not public).
 *
 * Symbols here take the nc__ prefix: they are shared between files of the
 * module but are not part of coord.h.
 */
#ifndef NC_COORD_INT_H
#define NC_COORD_INT_H

#include "coord/coord.h"
#include "util/util.h"

/**
 * Two vectors closer than this (seconds) are treated as coincident: the
 * direction between them is undefined. Serf's zeroThreshold (1 us).
 */
#define NC__COORD_ZERO 1.0e-6

/** Seedable generator (util's xoshiro256**, or an injected one). */
struct nc__coord_rng {
	/** Built-in generator state. */
	struct nc_rng rng;
	/** Injected generator, or NULL for the built-in one. */
	nc_coord_rand_cb cb;
	/** Argument of cb. */
	void *arg;
};

/** Seed rng (splitmix64 expansion of seed) and remember an injected cb. */
void nc__coord_rng_seed(struct nc__coord_rng *rng, uint64_t seed,
			nc_coord_rand_cb cb, void *arg);

/** 64 random bits. */
uint64_t nc__coord_rng_next(struct nc__coord_rng *rng);

/** Uniform double in [0, 1). */
double nc__coord_rng_double(struct nc__coord_rng *rng);

/** |a.vec - b.vec| (dims assumed equal). */
double nc__coord_vec_dist(const struct nc_coord *a, const struct nc_coord *b);

/**
 * Serf's ApplyForce: move c by `force` seconds along the unit vector from
 * `other` to c (a random direction if they coincide) and scale c's height
 * by the same amount relative to the spring length, floored at height_min.
 * A positive force pushes c away from other.
 */
void nc__coord_apply_force(struct nc_coord *c, const struct nc_coord *other,
			   double force, double height_min,
			   struct nc__coord_rng *rng);

/** State kept per peer (peers.c). */
struct nc__coord_peer {
	/** NUL-terminated name. */
	char name[NC_COORD_NAME_MAX + 1];
	/** Hash of name (nc_hash_str: FNV-1a 64). */
	uint64_t hash;
	/** Samples held in the ring (<= latency_filter_size). */
	unsigned n_samples;
	/** Next ring slot to overwrite. */
	unsigned next_sample;
	/** Neighbours in the LRU list (entry indices, UINT32_MAX = none). */
	uint32_t lru_prev, lru_next;
	/** Position in the dense array of used entries. */
	uint32_t dense_pos;
};

/**
 * Bounded table of peers: open addressing (linear probing, deletion by
 * backward shift, no tombstones) over a fixed entry array, an LRU list to
 * pick the victim when full, and a dense array of used entries for O(1)
 * uniform random choice. The arrays start small and double as peers
 * arrive, up to cap_max (peers.c says why).
 */
struct nc__coord_peers {
	/** Entry storage, cap entries. */
	struct nc__coord_peer *ent;
	/** Entries the arrays hold now (<= cap_max). */
	unsigned cap;
	/** Most entries (peer_cap): then the LRU peer is evicted. */
	unsigned cap_max;
	/** Ring buffers, lfs doubles per entry. */
	double *samples;
	/** Ring size (latency_filter_size). */
	unsigned lfs;
	/** Hash slots holding entry index + 1 (0 = empty). */
	uint32_t *slots;
	/** Slot count - 1 (slot count is a power of two >= 2 * cap). */
	uint32_t mask;
	/** Indices of used entries, n of them. */
	uint32_t *dense;
	/**
	 * Hot data of the used entries, in dense order, stride doubles each
	 * (NC_PEER_HOT_*): what the local solve reads, laid out so that a
	 * run of consecutive peers streams through the cache.
	 */
	double *hot;
	/** Doubles per hot row: dims + 4. */
	unsigned stride;
	/** Used entries. */
	unsigned n;
	/** Entries ever handed out: dense[k] for k >= fresh is implicitly k. */
	unsigned fresh;
	/** Most / least recently touched entry (UINT32_MAX = none). */
	uint32_t lru_head, lru_tail;
	/** Entries evicted because the table was full. */
	uint64_t evictions;
};

/*
 * Layout of a hot row, for dims D: vec[0..D), then height, filtered RTT,
 * solve weight and the update count when it was written (memory age).
 */
#define NC_PEER_HOT_HEIGHT(d) (d)
#define NC_PEER_HOT_RTT(d) ((d) + 1)
#define NC_PEER_HOT_WEIGHT(d) ((d) + 2)
#define NC_PEER_HOT_TICK(d) ((d) + 3)

/** Allocate a table of at most @a cap entries. @retval 0 or NC_COORD_ENOMEM. */
int nc__coord_peers_create(struct nc__coord_peers *t, unsigned cap,
			   unsigned lfs, unsigned dims);

/** Free a table's storage. */
void nc__coord_peers_destroy(struct nc__coord_peers *t);

/** Find a peer, or NULL. */
struct nc__coord_peer *nc__coord_peers_find(struct nc__coord_peers *t,
					    const char *name);

/**
 * Find or insert a peer and mark it most recently used. When the table is
 * full the least recently used peer is evicted (counted). Never NULL for a
 * name of at most NC_COORD_NAME_MAX bytes.
 */
struct nc__coord_peer *nc__coord_peers_touch(struct nc__coord_peers *t,
					     const char *name);

/** Remove a peer. @retval 1 removed, 0 not present. */
int nc__coord_peers_remove(struct nc__coord_peers *t, const char *name);

/** The ring buffer of samples of peer p (lfs doubles). */
double *nc__coord_peers_samples(struct nc__coord_peers *t,
				struct nc__coord_peer *p);

/** The hot row of peer p. */
static inline double *
nc__coord_peers_hot(struct nc__coord_peers *t, const struct nc__coord_peer *p)
{
	return &t->hot[(size_t)p->dense_pos * t->stride];
}

/**
 * Test hook: push `rtt` into peer `name`'s latency filter (creating its
 * state like an update would) and return the filtered value, without
 * touching the coordinate.
 */
double nc__coord_client_filter(struct nc_coord_client *c, const char *name,
			       double rtt);

#endif /* NC_COORD_INT_H */
