/*
 * coord.h - network coordinates: Vivaldi with height vectors.
 *
 * The only public header of the coord/ module. Pure computation: no I/O,
 * no clock, no logging, no globals. Every value that is a time is a double
 * in seconds, the unit hashicorp/serf puts on the wire, so coordinates read
 * from or written to a Serf cluster live in the same space.
 *
 * Objects:
 *   struct nc_coord          one coordinate (caller-owned, embeddable)
 *   struct nc_coord_config   tuning parameters (defaults equal Serf's)
 *   struct nc_coord_client   the local node's estimator (opaque, _new/_delete)
 *   struct nc_coord_candidate  input to the ranking functions
 */
#ifndef NC_COORD_H
#define NC_COORD_H

#include <stddef.h>
#include <stdint.h>

/**
 * Largest dimensionality a coordinate can hold. Serf uses 8 (Ledlie et al.
 * 2007 found no gain beyond that); 16 leaves room for experiments while
 * keeping struct nc_coord a fixed 160 bytes that callers can embed.
 */
#define NC_COORD_DIMS_MAX 16

/**
 * Longest peer name (bytes, without the terminating NUL) the client keeps
 * per-peer state for. Longer names are rejected by the update call with
 * NC_COORD_EINVAL. 127 covers DNS-style host names (63 per label) and
 * memberlist node names as deployed by Consul/Nomad; nothing deeper.
 */
#define NC_COORD_NAME_MAX 127

/**
 * Error codes, returned negated from int functions. They sit in their own
 * range (-1100..-1199) so that they never collide with -errno values.
 */
enum {
	/** Bad argument or bad configuration field. */
	NC_COORD_EINVAL = -1101,
	/** RTT outside [0, NC_COORD_RTT_MAX] seconds. */
	NC_COORD_ERANGE = -1102,
	/** NaN or infinity in a coordinate or in the RTT. */
	NC_COORD_ENOTFINITE = -1103,
	/** The two coordinates have different dimensionality. */
	NC_COORD_EDIM = -1104,
	/** Allocation failed. */
	NC_COORD_ENOMEM = -1105,
};

/** Largest RTT accepted by an update, seconds (Serf's maxRTT). */
#define NC_COORD_RTT_MAX 10.0

/**
 * Return a static, human-readable text for an NC_COORD_E* code (or "ok"
 * for 0, "unknown error" for anything else). Never NULL.
 */
const char *nc_coord_strerror(int err);

/**
 * A network coordinate. All distances are in seconds. The struct is public
 * so that callers can embed it (member tables) and encode it (the msgpack
 * codec to Serf's payload lives in gossip/ and api/); fields map one to one
 * onto Serf's coordinate.Coordinate {Vec, Error, Adjustment, Height}.
 */
struct nc_coord {
	/** Number of used entries in vec, 1..NC_COORD_DIMS_MAX. */
	unsigned dims;
	/** Euclidean part, seconds. Entries past dims are unused (kept 0). */
	double vec[NC_COORD_DIMS_MAX];
	/** Confidence: estimated relative error, dimensionless, > 0. */
	double error;
	/**
	 * Per-node distance offset (Lee et al. 2010), seconds, may be
	 * negative. Added to distances by nc_coord_distance().
	 */
	double adjustment;
	/** Non-Euclidean access-link height, seconds, >= height_min. */
	double height;
};

/** Which update rule and estimate a client uses. */
enum nc_coord_algo {
	/**
	 * Our algorithm (the default): Serf's rule plus the refinements
	 * described at the top of coord/client.c.
	 */
	NC_COORD_ALGO_NC = 0,
	/** hashicorp/serf coordinate.Client, step for step. */
	NC_COORD_ALGO_SERF = 1,
};

/**
 * Optional caller-supplied random generator: returns 64 uniformly random
 * bits per call. Used only for the random direction needed when two
 * coordinates coincide and for sampling remembered peers (NC).
 */
typedef uint64_t (*nc_coord_rand_cb)(void *arg);

/**
 * Tuning parameters. Fill with nc_coord_config_default(), change fields,
 * check with nc_coord_config_validate(). The first block mirrors Serf's
 * coordinate.Config (same defaults); the second block is ours.
 *
 * [1] Dabek et al., "Vivaldi: A decentralized network coordinate
 *     system", SIGCOMM 2004.
 * [2] Ledlie, Gardner, Seltzer, "Network Coordinates in the Wild",
 *     NSDI 2007.
 * [3] Lee et al., "On suitability of Euclidean embedding for host-based
 *     network coordinate systems", IEEE/ACM ToN 18(1), 2010.
 */
struct nc_coord_config {
	/** Update rule. Default NC_COORD_ALGO_NC. */
	enum nc_coord_algo algo;
	/** Dimensionality, 1..NC_COORD_DIMS_MAX. Serf: 8 (Ledlie [2]). */
	unsigned dims;
	/**
	 * Error estimate of a fresh coordinate and its upper bound.
	 * Serf: 1.5.
	 */
	double error_max;
	/** Max impact of one sample on the error estimate (Vivaldi ce [1]),
	 * in (0, 1]. Serf: 0.25. */
	double vivaldi_ce;
	/** Max impact of one sample on the coordinate (Vivaldi cc [1]),
	 * in (0, 1]. Serf: 0.25. */
	double vivaldi_cc;
	/** Samples in the adjustment window (Lee [3]); 0 disables
	 * adjustment. Serf: 20. Max 1024. */
	unsigned adjustment_window;
	/** Minimum height, seconds, in [0, 1]. Serf: 10 us. */
	double height_min;
	/** RTT samples kept per peer for the median filter (Ledlie [2]),
	 * 1..32. Serf: 3. */
	unsigned latency_filter_size;
	/** Gravity constant rho, seconds, > 0 (Ledlie [2]). Serf: 150. */
	double gravity_rho;

	/**
	 * Most peers the client keeps state for (latency filter, cached
	 * coordinate). When full, the least recently updated peer is
	 * evicted. 1..1048576. Default 4096: ~290 bytes each with the
	 * defaults, allocated as peers arrive (the table doubles from 16
	 * entries), so ~1.2 MB once full. Serf keeps an unbounded map.
	 */
	unsigned peer_cap;
	/**
	 * NC only: remembered peers used by the local solve after each
	 * update: a run of this many entries of the peer table from a
	 * random start (all of them while fewer are known). 0..1024; 0
	 * turns the solve off (a plain Vivaldi step on the raw distance is
	 * taken instead). Default 128: two passes of ~128 distance
	 * computations (~2 us) per probe. On the 490-node PlanetLab matrix the 1000-round median
	 * relative error is 0.065 with 32, 0.064 with 64, 0.063 with 128;
	 * more buys little.
	 */
	unsigned relax_peers;
	/**
	 * NC only: damping of the local solve, in (0, 1]: the coordinate
	 * moves this fraction of the way to the solve's optimum (every peer
	 * moves at the same time, so a full step overshoots a little).
	 * Default 0.5. Measured on PlanetLab-490, median relative error at
	 * 100 / 1000 rounds: 0.35 -> 0.103 / 0.063, 0.5 -> 0.090 / 0.063,
	 * 1.0 -> 0.084 / 0.064.
	 */
	double relax_gain;
	/** Seed of the built-in generator (ignored when rand_cb is set). */
	uint64_t seed;
	/** Optional injected generator; NULL = built-in xoshiro256**. */
	nc_coord_rand_cb rand_cb;
	/** Argument passed to rand_cb. */
	void *rand_arg;
};

/** Fill cfg with the defaults (Serf's values, algo NC). */
void nc_coord_config_default(struct nc_coord_config *cfg);

/**
 * Check every field of cfg.
 * @param[out] err     optional buffer for a message naming the bad field
 * @param      err_len size of err (0 if err is NULL)
 * @retval 0 ok; NC_COORD_EINVAL with the field named in err.
 */
int nc_coord_config_validate(const struct nc_coord_config *cfg, char *err,
			     size_t err_len);

/** Set c to a fresh coordinate: origin, error = error_max, height_min. */
void nc_coord_init(struct nc_coord *c, const struct nc_coord_config *cfg);

/**
 * Check a coordinate: dims in range, every field finite, error >= 0,
 * height >= 0 (Serf never produces negative ones).
 * @retval 0 ok; NC_COORD_ENOTFINITE (NaN/Inf anywhere); NC_COORD_EINVAL
 *         (NULL, dims out of range, negative error or height).
 */
int nc_coord_check(const struct nc_coord *c);

/**
 * Serf's DistanceTo, seconds: |a.vec - b.vec| + a.height + b.height, plus
 * a.adjustment + b.adjustment if that sum stays positive, otherwise the
 * raw value. Returns NAN if the dimensions differ.
 */
double nc_coord_distance(const struct nc_coord *a, const struct nc_coord *b);

/**
 * Distance without the adjustments, seconds: |a.vec - b.vec| + a.height +
 * b.height. NAN if the dims differ or exceed NC_COORD_DIMS_MAX.
 */
double nc_coord_raw_distance(const struct nc_coord *a,
			     const struct nc_coord *b);

/**
 * The RTT estimate the agent reports and ranks by, seconds (NAN if dims
 * differ). NC_COORD_ALGO_SERF: nc_coord_distance(), as Serf/Consul
 * predict. NC_COORD_ALGO_NC: nc_coord_raw_distance() - the NC client fits
 * the raw distance to the RTTs directly, and adding the (Serf-style,
 * still published) adjustments would add a per-node constant of several
 * ms that swamps the sub-millisecond differences between near peers.
 */
double nc_coord_estimate_rtt(enum nc_coord_algo algo, const struct nc_coord *a,
			     const struct nc_coord *b);

/**
 * Opaque estimator of the local node's coordinate. Not thread-safe (Serf
 * wraps its client in a mutex; our agent owns it from one loop). Memory
 * is allocated by nc_coord_client_new() and, while the peer table grows
 * toward peer_cap, by the update that meets a new peer at a full table
 * (a doubling; at most log2(peer_cap / 16) times). Otherwise updates never
 * allocate; a failed growth only makes the table evict as when full.
 */
struct nc_coord_client;

/**
 * Allocate a client. cfg is copied.
 * @param[out] err optional message buffer naming a bad config field.
 * @return the client, or NULL (bad config or out of memory; err says
 *         which) and nothing is allocated.
 */
struct nc_coord_client *nc_coord_client_new(const struct nc_coord_config *cfg,
					    char *err, size_t err_len);

/** Free a client (NULL is fine). */
void nc_coord_client_delete(struct nc_coord_client *c);

/** The client's configuration (borrowed, valid while the client lives). */
const struct nc_coord_config *
nc_coord_client_config(const struct nc_coord_client *c);

/** Copy the client's current coordinate into *out. */
void nc_coord_client_get(const struct nc_coord_client *c, struct nc_coord *out);

/**
 * Force the client's coordinate (e.g. restored from disk).
 * @retval 0; NC_COORD_EDIM, NC_COORD_ENOTFINITE, NC_COORD_EINVAL.
 */
int nc_coord_client_set(struct nc_coord_client *c,
			const struct nc_coord *coord);

/**
 * Feed one observation: a probe to peer `name`, whose coordinate (as
 * carried in its ack) is `peer`, took `rtt` seconds.
 * @param[out] out optional: the updated coordinate.
 * @retval 0 updated (possibly after a counted reset);
 *         NC_COORD_ERANGE rtt < 0 or > 10 s; NC_COORD_ENOTFINITE NaN/Inf in
 *         rtt or peer; NC_COORD_EDIM dims differ; NC_COORD_EINVAL NULL or
 *         empty/too long name, or a peer with negative error/height. On
 *         error nothing changes except the rejected counter.
 */
int nc_coord_client_update(struct nc_coord_client *c, const char *name,
			   const struct nc_coord *peer, double rtt,
			   struct nc_coord *out);

/**
 * Drop all state kept for peer `name` (filter samples, cached coordinate).
 * @retval 1 if state existed, 0 if not.
 */
int nc_coord_client_forget(struct nc_coord_client *c, const char *name);

/**
 * Estimated RTT from the client's own coordinate to `peer`, seconds,
 * using nc_coord_estimate_rtt() with the client's algo (NAN if dims
 * differ).
 */
double nc_coord_client_estimate_rtt(const struct nc_coord_client *c,
				    const struct nc_coord *peer);

/** Counters of a client. */
struct nc_coord_stats {
	/** Accepted observations. */
	uint64_t updates;
	/** Observations rejected with an error (bad RTT, NaN, dims). */
	uint64_t rejected;
	/** Times the coordinate became invalid and was reset (Serf Resets). */
	uint64_t resets;
	/** Peers evicted from the per-peer table because it was full. */
	uint64_t evictions;
	/** Peers currently tracked. */
	unsigned peers;
	/** Local solves performed against remembered peers (NC only). */
	uint64_t solves;
	/**
	 * Measured relative error |estimate - rtt| / rtt of the estimate
	 * before each update (raw sample, not filtered), as an exponential
	 * moving average over ~50 samples (alpha 0.02); 0 before the first.
	 * Unlike coord.error (Vivaldi's own estimate) this is ground truth.
	 */
	double measured_error;
};

/** Copy the client's counters into *out. */
void nc_coord_client_stats(const struct nc_coord_client *c,
			   struct nc_coord_stats *out);

/* ---- state export / import (snapshots) ------------------------------ */

/*
 * What a client has learnt, as plain structs, so that a restarted agent
 * resumes where it stopped instead of re-probing from the origin. coord/
 * does no I/O: the caller serialises these (agent/snapshot.c writes JSON).
 * Import validates every value; on error nothing changes.
 */

/** Bound of latency_filter_size (samples kept per peer). */
#define NC_COORD_FILTER_MAX 32
/** Bound of adjustment_window. */
#define NC_COORD_ADJ_WINDOW_MAX 1024

/** Client-wide state besides the per-peer table. */
struct nc_coord_client_state {
	/** The current coordinate. */
	struct nc_coord coord;
	/** Accepted observations (memory ages are counted in these). */
	uint64_t updates;
	/** stats.measured_error and whether it has a first sample. */
	double measured_error;
	int has_measured;
	/** Adjustment samples, oldest first (adj_n <= ADJ_WINDOW_MAX). */
	unsigned adj_n;
	double adj_samples[NC_COORD_ADJ_WINDOW_MAX];
};

/** One remembered peer. */
struct nc_coord_peer_state {
	/** NUL-terminated name. */
	char name[NC_COORD_NAME_MAX + 1];
	/** Latency-filter samples, oldest first, seconds. */
	unsigned n_samples;
	double samples[NC_COORD_FILTER_MAX];
	/**
	 * NC's memory of the peer (weight 0: none, e.g. ALGO_SERF): its
	 * vector and height (dims of the client), the filtered RTT, the
	 * solve weight, and its age in our own updates.
	 */
	double vec[NC_COORD_DIMS_MAX];
	double height;
	double rtt;
	double weight;
	double age_updates;
};

/** Copy the client-wide state into *out. */
void nc_coord_client_state_export(const struct nc_coord_client *c,
				  struct nc_coord_client_state *out);

/**
 * Restore client-wide state (coordinate, update count, measured error,
 * adjustment samples; extra samples beyond the window: the newest kept).
 * @retval 0; NC_COORD_EDIM, NC_COORD_ENOTFINITE, NC_COORD_EINVAL.
 */
int nc_coord_client_state_import(struct nc_coord_client *c,
				 const struct nc_coord_client_state *in);

/**
 * Copy the remembered peers into @a out (room for @a cap), least recently
 * updated first (importing them in this order restores the LRU order).
 * @return how many were written (at most the peers tracked).
 */
size_t nc_coord_client_peers_export(const struct nc_coord_client *c,
				    struct nc_coord_peer_state *out,
				    size_t cap);

/**
 * Restore one peer as the most recently updated (evicting the least
 * recently updated one when the table is full). Samples beyond
 * latency_filter_size: the newest kept. Import the client state first:
 * age_updates is counted back from its update count.
 * @retval 0; NC_COORD_EINVAL (name, counts, negative values),
 *         NC_COORD_ENOTFINITE.
 */
int nc_coord_client_peer_import(struct nc_coord_client *c,
				const struct nc_coord_peer_state *in);

/* ---- ranking -------------------------------------------------------- */

/** One candidate for the ranking functions (all pointers borrowed). */
struct nc_coord_candidate {
	/** Name, used to break ties (strcmp order). Must not be NULL. */
	const char *name;
	/** Its coordinate, or NULL if none is known (ranked last). */
	const struct nc_coord *coord;
	/** Group (e.g. datacenter tag) for failover; NULL = "". */
	const char *group;
};

/**
 * Filter callback: return non-zero to keep candidate `cand` (index i).
 */
typedef int (*nc_coord_filter_cb)(const struct nc_coord_candidate *cand,
				  size_t i, void *arg);

/**
 * The n candidates nearest to `src` by nc_coord_estimate_rtt(algo, ...),
 * ascending; ties broken by name; candidates without a coordinate (or
 * with incompatible dimensions) after all others, by name.
 * O(count * n) without allocation for n <= 16, else O(count log n) with
 * a heap of n entries.
 * @param filter     optional; NULL keeps all
 * @param[out] out_idx  at least n slots: indices into cands
 * @param[out] out_rtt  optional, n slots: estimates (NAN for no coord)
 * @return number written (<= n), NC_COORD_EINVAL, or NC_COORD_ENOMEM
 *         (only when n > 16).
 */
int nc_coord_rank_nearest(enum nc_coord_algo algo, const struct nc_coord *src,
			  const struct nc_coord_candidate *cands, size_t count,
			  nc_coord_filter_cb filter, void *arg, size_t n,
			  size_t *out_idx, double *out_rtt);

/** One group in a failover ranking. */
struct nc_coord_group_rank {
	/** Group name (borrowed from the candidates / all_groups). */
	const char *group;
	/** Index of the group's first member in the order array. */
	size_t first;
	/** Members in the order array (0 for a group with no candidates). */
	size_t count;
	/** Median estimated RTT of members with a coordinate; NAN if none. */
	double median_rtt;
};

/**
 * Failover order: candidates grouped by `group`, groups ordered by the
 * median estimated RTT of their members (ties by group name), then groups
 * whose members have no coordinate, then groups listed in all_groups that
 * have no candidate at all. Inside a group, members are ordered as by
 * nc_coord_rank_nearest().
 * @param skip_group  optional: this group (the source's own) is left out
 * @param all_groups  optional list of every group name to report
 * @param[out] order  `count` slots: candidate indices, group by group
 * @param[out] groups `count + n_all_groups` slots
 * @param[out] n_groups number of groups written
 * @return number of entries written to order, NC_COORD_EINVAL or
 *         NC_COORD_ENOMEM (nothing written).
 */
int nc_coord_rank_failover(enum nc_coord_algo algo, const struct nc_coord *src,
			   const struct nc_coord_candidate *cands, size_t count,
			   nc_coord_filter_cb filter, void *arg,
			   const char *skip_group,
			   const char *const *all_groups, size_t n_all_groups,
			   size_t *order, struct nc_coord_group_rank *groups,
			   size_t *n_groups);

/* ---- measurements: verified ranking and served RTTs ----------------- */

/*
 * Coordinates narrow the field; a node's own direct measurements finish
 * the job (coord/verify.c). Both helpers are pure: the caller measures.
 */

/** One candidate of a verified ranking (nc_coord_rank_verified). */
struct nc_coord_verified {
	/** The caller's index (e.g. into its estimate ranking). */
	size_t idx;
	/** Estimated RTT, s (NAN if unknown). */
	double est_s;
	/** Best measured RTT, s; NAN = it did not answer. */
	double measured_s;
};

/**
 * Re-rank @a n candidates given in estimate order by measured RTT: those
 * that answered first, ascending (ties keep estimate order), then those
 * that did not, in estimate order. A candidate that did not answer is
 * never ranked before one that did. Stable, in place, O(n^2) (n is small:
 * the API verifies at most 32).
 */
void nc_coord_rank_verified(struct nc_coord_verified *v, size_t n);

/**
 * How a node serves the RTT to a member it has measured itself (section
 * "Near pairs" of the README): coordinates add two heights, so a
 * sub-millisecond pair can be estimated at several milliseconds while the
 * node's own probe says 0.3 ms. Rule: a measurement at most fresh_s old
 * replaces the estimate; one at most bound_s old bounds it (the estimate
 * is clamped into [m / factor, m * factor]); older ones are ignored.
 */
struct nc_coord_combine {
	/** Measurements at most this old (s) are served as is. Default 30. */
	double fresh_s;
	/** Measurements at most this old (s) clamp the estimate. Default
	 * 600 (the coordinate cache's relay_max_age_s). 0: no clamp. */
	double bound_s;
	/** Clamp factor (>= 1). Default 2. */
	double factor;
};

/** What nc_coord_combine_rtt() served. */
enum nc_coord_basis {
	/** The coordinate estimate (no usable measurement). */
	NC_COORD_BASIS_ESTIMATE = 0,
	/** A fresh measurement. */
	NC_COORD_BASIS_MEASURED,
	/** The estimate clamped by an older measurement. */
	NC_COORD_BASIS_CLAMPED,
};

/** "estimate", "measured" or "clamped". */
const char *nc_coord_basis_str(enum nc_coord_basis b);

/** Fill the defaults (30 s, 600 s, 2). */
void nc_coord_combine_default(struct nc_coord_combine *r);

/**
 * The RTT to serve (s) from estimate @a est_s (NAN: none) and the node's
 * own measurement @a measured_s taken @a age_s ago (NAN: none), by rule
 * @a r. With no estimate any measurement within bound_s is served.
 * @a basis (may be NULL) says which.
 */
double nc_coord_combine_rtt(const struct nc_coord_combine *r, double est_s,
			    double measured_s, double age_s,
			    enum nc_coord_basis *basis);

#endif /* NC_COORD_H */
