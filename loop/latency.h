#ifndef NC_LOOP_LATENCY_H
#define NC_LOOP_LATENCY_H
/*
 * loop/latency.h - TEST FACILITY: wide-area latency, loss and partitions
 * on one machine (loop/latency.c). scripts/run.sh and scripts/cluster.sh
 * use it for the local demo cluster (`netcoord agent -latency-matrix
 * ...`), the cluster_matrix and browser tests through them, and
 * bench/chaos.sh for its rules.
 *
 * An env decorator: it wraps another struct nc_env (the real one, or a
 * simulated one in tests) and delays this node's outgoing traffic by half
 * the round-trip time that an RTT matrix lists from this node to the
 * destination. Every node of a local cluster runs one, so a ping from A to
 * B waits M[A][B]/2 in A and the ack waits M[B][A]/2 in B: the probe sees
 * (M[A][B] + M[B][A]) / 2 plus the real loopback time. It is off unless the
 * agent is given -latency-matrix; nothing in production uses it.
 *
 *   gossip ──ops──> [latency env] ──ops──> [inner env] ──> sockets
 *   gossip <─sink── [latency env] <─sink── [inner env] <── sockets
 *
 * What is delayed:
 *   - send_packet: copied into a preallocated slot and handed to the inner
 *     env after M[self][dst]/2 on a timer. Datagrams to one destination
 *     keep their order (same delay, and the env fires equal deadlines in
 *     FIFO order).
 *   - stream_request: the request is handed to the inner env after
 *     M[self][dst]/2 and the reply is given to the caller M[dst][self]/2
 *     after it arrived (the peer's env answers inbound streams itself, so
 *     the requester pays both halves). The inner timeout is shortened by
 *     both halves, so the whole exchange still ends within the caller's
 *     timeout.
 *   - everything else (clock, timers, RNG, log, inbound traffic) passes
 *     through untouched.
 *
 * Destinations are mapped to matrix rows by exact address (ip and port),
 * which works for a cluster where every agent is 127.0.0.1 with its own
 * port. A destination not in the map, or a missing matrix entry (-1) whose
 * reverse entry is missing too, gets no delay (counted). A missing entry
 * with a known reverse uses the reverse.
 *
 * Rules (loss and partitions, no root needed): a small text file, given
 * with -latency-rules and re-read on SIGHUP (cmd/agent.c), or text handed
 * to nc_env_latency_rules_set(). One rule a line, '#' starts a comment:
 *   loss P              drop this share (0..1) of outgoing datagrams,
 *                       drawn from the env's RNG (streams are not lost:
 *                       TCP would retransmit)
 *   partition ROWS | ROWS   a node in one side drops datagrams to, and
 *                       refuses streams to, every row of the other side;
 *                       a node on neither side is unaffected (so a
 *                       partition is only clean if it lists every row)
 *   block ROWS          every node drops datagrams to, and refuses
 *                       streams to, ROWS; a node that is itself in ROWS
 *                       does so to every row: ROWS are cut off both ways
 * ROWS are matrix rows (the map's), separated by spaces or commas, "A-B"
 * for a range. Lines add up (several partitions, blocks; a later loss
 * line replaces an earlier one); an empty file heals everything. Every
 * node of a cluster reads the same file, so the outgoing-only drops make
 * each cut symmetric. A bad file changes nothing (the previous rules
 * stay) and the error names the line. Freezing a node is not a rule:
 * SIGSTOP / SIGCONT do it from outside (bench/chaos.sh).
 * A dropped datagram is counted (packets_lost / packets_blocked) and
 * reported as sent (the sender cannot know); a refused stream returns
 * -ECONNREFUSED at once (streams_blocked, callback not called). Rules act
 * before the delay, also on destinations without a delay; a destination
 * not in the map is never blocked.
 *
 * Caps (STYLE.md §6): at most max_packets datagrams wait at once (default
 * NC_ENV_LATENCY_DEFAULT_PACKETS, each in a slot of
 * NC_ENV_LATENCY_SLOT_BYTES allocated up front); a datagram that finds
 * every slot busy is dropped (tail drop, as a full router queue would) and
 * counted, and so is a datagram larger than a slot (gossip never builds
 * one: its packets are at most udp_buffer_size 1400 bytes + 29 bytes of
 * encryption framing). At most NC_ENV_LATENCY_MAX_STREAMS delayed streams
 * are pending; one more is refused with -ENOBUFS (callback not called).
 * Each drop reason is logged once.
 *
 * File formats (loaders below):
 *   matrix  line i = RTTs in ms from node i to every node j, whitespace
 *           separated, -1 = missing, 0 on the diagonal (the format of
 *           `netcoord sim -matrix`). Blank lines and '#' lines are skipped.
 *   map     one peer per line: "ADDR:PORT ROW [NAME]", e.g.
 *           "127.0.0.1:7946 12 node-a"; ROW is 0-based; '#' starts a
 *           comment line. NAME is optional and only used to find the
 *           agent's own row by its node name.
 *
 * Single-threaded like every env: call everything from the loop thread.
 */
#include <stddef.h>
#include <stdint.h>

#include "gossip/env.h"

/** Default cap of datagrams waiting at once. Nothing special in this value. */
#define NC_ENV_LATENCY_DEFAULT_PACKETS 1024
/** Bytes per datagram slot: 1400 + 29 (encryption) rounded up generously. */
#define NC_ENV_LATENCY_SLOT_BYTES 2048
/** Max delayed stream requests pending at once (memberlist caps at 128). */
#define NC_ENV_LATENCY_MAX_STREAMS 128
/** Max entries of a map file. Lookups scan it linearly (O(n) per packet). */
#define NC_ENV_LATENCY_MAP_MAX 4096
/** Largest rules file read. Nothing special in this value. */
#define NC_ENV_LATENCY_RULES_MAX_BYTES (64 * 1024)
/** Max rows of a matrix file. */
#define NC_ENV_LATENCY_MATRIX_MAX 4096
/** Longest name in a map file. */
#define NC_ENV_LATENCY_NAME_MAX 128

/** One peer of the map: its address and its matrix row. */
struct nc_env_latency_peer {
	struct nc_addr addr;
	/** 0-based row of the matrix. */
	int row;
	/** Node name, "" if the map line had none. */
	char name[NC_ENV_LATENCY_NAME_MAX + 1];
};

/** Parameters of nc_env_latency_new(). */
struct nc_env_latency_config {
	/**
	 * Square matrix of n*n RTTs in milliseconds, row-major, negative =
	 * missing. Borrowed for the call: only this node's row and column
	 * are copied.
	 */
	const double *rtt_ms;
	size_t n;
	/** This node's row, 0 <= self_row < n. */
	int self_row;
	/** Address -> row map (borrowed for the call, copied). */
	const struct nc_env_latency_peer *peers;
	size_t peers_n;
	/** Cap of waiting datagrams; 0 = NC_ENV_LATENCY_DEFAULT_PACKETS. */
	size_t max_packets;
};

/** Counters (monotonic). */
struct nc_env_latency_stats {
	/** Datagrams delayed, and sent at once (zero delay / unknown). */
	uint64_t packets_delayed, packets_direct;
	/** Datagrams dropped: every slot busy / larger than a slot. */
	uint64_t drop_queue_full, drop_oversize;
	/** Sends to an address not in the map (no delay). */
	uint64_t unknown_dest;
	/** Sends whose matrix entry and its reverse are missing (no delay). */
	uint64_t missing_entry;
	/** Stream requests delayed / refused at the cap. */
	uint64_t streams_delayed, streams_refused;
	/** Datagrams waiting now, and the most ever waiting at once. */
	uint64_t queued_now, queued_max;
	/** Rules: datagrams dropped by `loss` / to a blocked row. */
	uint64_t packets_lost, packets_blocked;
	/** Rules: stream requests refused to a blocked row. */
	uint64_t streams_blocked;
};

/**
 * Wrap @a inner (borrowed; must outlive the result). Installs a forwarding
 * sink on @a inner: whatever sink is later set on the returned env
 * receives inner's packets and streams. Returns NULL on a bad config or
 * out of memory, with a message in @a err (may be NULL).
 */
struct nc_env *nc_env_latency_new(struct nc_env *inner,
				  const struct nc_env_latency_config *cfg,
				  char *err, size_t err_cap);

/**
 * Free the decorator: waiting datagrams are dropped, pending streams are
 * cancelled on the inner env without callbacks. The inner env's sink is
 * cleared. NULL is a no-op.
 */
void nc_env_latency_delete(struct nc_env *env);

/** Counters of a decorator made by nc_env_latency_new(). */
const struct nc_env_latency_stats *
nc_env_latency_stats(const struct nc_env *env);

/**
 * One-way delay in seconds this node applies to traffic to @a to (half
 * of M[self][row(to)]), 0 if unknown. For logs and tests.
 */
double nc_env_latency_delay(const struct nc_env *env,
			    const struct nc_addr *to);

/**
 * Replace the rules (format above) by those of @a text (NUL-terminated).
 * On an error nothing changes: returns -EINVAL with a message in @a err
 * ("line 3: row 250 outside the 200-row matrix"), or -ENOMEM.
 */
int nc_env_latency_rules_set(struct nc_env *env, const char *text, char *err,
			     size_t err_cap);

/**
 * nc_env_latency_rules_set() with the contents of the file @a path (at
 * most NC_ENV_LATENCY_RULES_MAX_BYTES); errors name the file
 * ("rules.txt:3: ..."). A file that cannot be read gives its -errno
 * (-ENOENT, -EFBIG, ...), bad rules -EINVAL; the rules in force stay.
 */
int nc_env_latency_rules_load(struct nc_env *env, const char *path,
			      char *err, size_t err_cap);

/**
 * The rules in force, for a log line: "loss 0.100, 25 of 50 mapped peers
 * blocked" (or "no rules").
 */
void nc_env_latency_rules_summary(const struct nc_env *env, char *buf,
				  size_t cap);

/**
 * Read a matrix file: nc_rtt_matrix_load (util/util.h, the format) with
 * at most NC_ENV_LATENCY_MATRIX_MAX nodes. On success *rtt_ms is a
 * malloc()ed n*n array (the caller frees it) and *n its size. Returns 0 or
 * a negative error with a message in @a err naming the file and line
 * ("m.txt:3: expected 200 values, got 199").
 */
int nc_env_latency_matrix_load(const char *path, double **rtt_ms, size_t *n,
			       char *err, size_t err_cap);

/**
 * Read a map file; rows must be < @a rows. On success *peers is a
 * malloc()ed array (the caller frees it) of *peers_n entries. Returns 0 or
 * a negative error with a message in @a err.
 */
int nc_env_latency_map_load(const char *path, size_t rows,
			    struct nc_env_latency_peer **peers,
			    size_t *peers_n, char *err, size_t err_cap);

/**
 * Find this node's row in a map: the entry named @a name if any (name may
 * be NULL), else the entry whose address equals @a addr (may be NULL).
 * Returns the row or -1.
 */
int nc_env_latency_map_find(const struct nc_env_latency_peer *peers,
			    size_t peers_n, const char *name,
			    const struct nc_addr *addr);

#endif /* NC_LOOP_LATENCY_H */
