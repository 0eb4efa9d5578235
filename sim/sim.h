#ifndef NC_SIM_SIM_H
#define NC_SIM_SIM_H
/*
 * sim/sim.h - the deterministic simulator: a virtual clock plus an in-memory
 * network, with one struct nc_env per simulated agent (static
 * library nc_sim). Shaped after Tarantool's test/unit/fakeev.h (a heap of
 * deadlines, the clock jumps to the next one) and fakenet.h (filters for
 * loss, delay and partitions), with memberlist's mock_transport.go for the
 * stream side.
 *
 *   sim_world        one clock, one PRNG (xoshiro256**), one timer heap
 *     sim_node[i]    an agent: its nc_env, its address 10.x.y.z:7946,
 *                    partition group, paused/down flags, counters
 *
 * Time: sim_step() jumps to the earliest deadline and runs every event due at
 * that instant (timers of all nodes, packet and stream deliveries), in
 * (deadline, insertion) order; sim_run_until() steps up to a virtual time.
 * Nothing ever sleeps. The heap is a binary heap over all timers of all
 * nodes, so one step costs O(log E) whatever the number of nodes.
 *
 * Network model (per datagram): dropped if either end is in a different
 * partition group, if the destination is down, or with probability `loss`;
 * otherwise delivered after latency(from, to) seconds (a function or a
 * constant). rx_time given to the receiver is the arrival time.
 *
 * Paused node (a SIGSTOPped process): its timers and its inbound packets and
 * stream requests are deferred until it resumes; at resume they run in their
 * original order, packets with their original arrival time as rx_time (as a
 * kernel timestamp would be). The socket buffer is bounded by
 * SIM_SOCKET_BUFFER_PACKETS; beyond it packets to a paused node are dropped.
 * Rx-stalled node (sim_node_stall_rx, slow message processing): the same
 * for its inbound packets and stream events only; its timers keep running.
 *
 * Down node (a crashed host): packets to it are dropped, stream requests to
 * it fail with -ECONNREFUSED after one round trip. The test deletes the
 * gossip instance itself.
 *
 * Streams: request delivered after 3 one-way latencies (handshake + data),
 * reply after one more; the requester's timeout fires independently. Across
 * a partition the request is lost (the requester times out). Streams are not
 * subject to packet loss (TCP retransmits).
 *
 * Logging: each node's log lines go to the world's log hook if set, else to
 * stdout when the level is >= the world's print level (default: silent;
 * NC_SIM_LOG=debug|info|warn|err in the environment lowers it).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gossip/env.h"

struct sim_world;
struct sim_node;

/** Max deferred datagrams per paused node (a socket receive buffer). */
#define SIM_SOCKET_BUFFER_PACKETS 4096
/** Port every simulated node uses. */
#define SIM_PORT 7946

/** One-way latency in seconds from node @a from to node @a to. */
typedef double (*sim_latency_fn)(void *ctx, struct sim_world *w, int from,
				 int to);
/** Log hook: one line from node @a node (-1 for the world itself). */
typedef void (*sim_log_fn)(void *ctx, struct sim_world *w, int node,
			   enum nc_log_level level, const char *module,
			   const char *msg);
/** A world-level scheduled call (see sim_call_at). */
typedef void (*sim_call_fn)(struct sim_world *w, void *arg);

/** What a network tap sees (sim_set_tap). */
enum sim_tap_kind {
	/** A datagram sent by @a from (before loss: what it put on the wire). */
	SIM_TAP_DGRAM_OUT,
	/** A datagram handed to @a to's gossip. */
	SIM_TAP_DGRAM_IN,
	/** A stream request sent by @a from, or a reply sent by @a from. */
	SIM_TAP_STREAM_OUT,
	/** A stream request or reply received by @a to. */
	SIM_TAP_STREAM_IN,
};
/**
 * Network tap: every datagram and stream message, with its bytes (for
 * traffic accounting by kind; must not send or free anything).
 */
typedef void (*sim_tap_fn)(void *ctx, enum sim_tap_kind kind, int from, int to,
			   const char *buf, size_t len);

/** Counters of the simulated network. */
struct sim_net_stats {
	uint64_t packets_sent, packets_delivered;
	uint64_t drop_loss, drop_partition, drop_down, drop_buffer;
	uint64_t streams, streams_failed;
};

/** Create a world with virtual time 0 and the PRNG seeded by @a seed. */
struct sim_world *sim_world_new(uint64_t seed);
/** Free the world, its nodes and pending events. NULL is a no-op. */
void sim_world_delete(struct sim_world *w);

/** Add a node named @a name; returns NULL on allocation failure. */
struct sim_node *sim_node_add(struct sim_world *w, const char *name);
/** Number of nodes. */
int sim_node_count(const struct sim_world *w);
/** Node by index. */
struct sim_node *sim_node_get(struct sim_world *w, int i);
/** The node's environment (hand it to nc_gossip_new). */
struct nc_env *sim_node_env(struct sim_node *n);
/** The node's address (10.x.y.z:7946). */
const struct nc_addr *sim_node_addr(const struct sim_node *n);
/** The node's index. */
int sim_node_id(const struct sim_node *n);
/** The node's name. */
const char *sim_node_name(const struct sim_node *n);
/** Node owning @a addr, or NULL. */
struct sim_node *sim_node_by_addr(struct sim_world *w,
				  const struct nc_addr *addr);

/** Current virtual time (s). */
double sim_now(const struct sim_world *w);
/** Run every event of the next instant. Returns the number run (0: idle). */
size_t sim_step(struct sim_world *w);
/** Run all events with deadline <= @a t, then set the clock to @a t. */
void sim_run_until(struct sim_world *w, double t);
/** Run at most @a max_steps instants; returns how many ran. */
size_t sim_run_steps(struct sim_world *w, size_t max_steps);
/**
 * Run until @a pred returns true (checked every @a check_every virtual
 * seconds) or time @a t_max. Returns the time pred became true or -1.
 */
double sim_run_until_pred(struct sim_world *w, double t_max,
			  double check_every,
			  bool (*pred)(struct sim_world *w, void *arg),
			  void *arg);
/** Call @a fn(w, arg) at absolute virtual time @a t (world level). */
int sim_call_at(struct sim_world *w, double t, sim_call_fn fn, void *arg);

/** 64 random bits from the world PRNG. */
uint64_t sim_rand(struct sim_world *w);
/** Uniform double in [0, 1) from the world PRNG. */
double sim_rand_double(struct sim_world *w);

/** Constant one-way latency for every link (default 0.005 s). */
void sim_set_latency_const(struct sim_world *w, double s);
/** Latency function (overrides the constant). */
void sim_set_latency_fn(struct sim_world *w, sim_latency_fn fn, void *ctx);
/** Packet loss probability in [0, 1] (default 0). */
void sim_set_loss(struct sim_world *w, double p);
/**
 * Per-link datagram loss probability (overrides sim_set_loss when set;
 * NULL restores it). Streams are unaffected, which models a UDP-only
 * filter (memberlist's TCP fallback ping exists for exactly that).
 */
void sim_set_loss_fn(struct sim_world *w,
		     double (*fn)(void *ctx, int from, int to), void *ctx);
/** Put a node into partition group @a group (default 0). */
void sim_node_set_group(struct sim_node *n, int group);
/** Pause a node for @a duration seconds (INFINITY: until resumed). */
void sim_node_pause(struct sim_node *n, double duration);
/** Resume a paused node now; deferred events run at this instant. */
void sim_node_resume(struct sim_node *n);
/** True while the node is paused. */
bool sim_node_paused(const struct sim_node *n);
/**
 * Stall the node's inbound processing for @a duration seconds: datagrams
 * and stream events addressed to it wait (socket buffer as for a pause)
 * and are handled in arrival order when the stall ends, while its timers
 * keep running -- a process whose message handling is slow but whose
 * clock is not (Lifeguard's "slow message processing", DSN 2018 §V).
 */
void sim_node_stall_rx(struct sim_node *n, double duration);
/** True while the node's inbound processing is stalled. */
bool sim_node_rx_stalled(const struct sim_node *n);
/** Mark a node down (crashed) or up again. */
void sim_node_set_down(struct sim_node *n, bool down);

/** Install a network tap (NULL removes it). */
void sim_set_tap(struct sim_world *w, sim_tap_fn fn, void *ctx);

/** Route log lines to @a fn (NULL restores the default printer). */
void sim_set_log(struct sim_world *w, sim_log_fn fn, void *ctx);
/** Level passed to every node's env (lines below are never formatted). */
void sim_set_log_level(struct sim_world *w, enum nc_log_level level);
/** Network counters. */
const struct sim_net_stats *sim_net_stats(const struct sim_world *w);

#endif /* NC_SIM_SIM_H */
