#ifndef NC_TESTS_SIM_INTERNAL_H
#define NC_TESTS_SIM_INTERNAL_H
/* Shared by sim_env.c (clock, heap, env ops) and sim_net.c (network). */
#include "sim/sim.h"
#include "util/util.h"

#include <stdbool.h>

/** One entry of the world heap: a timer and the node it belongs to. */
struct sim_heap_ent {
	/** The timer; its deadline/seq are the heap key. */
	struct nc_timer *t;
	/**
	 * Owner: the node whose process runs the callback (deferred while
	 * that node is paused), or -1 for world events.
	 */
	int node;
	/** Re-queued because its node was paused (moves on resume). */
	bool deferred;
	/** Inbound traffic (a datagram or stream event): deferred by an rx
	 * stall too, not only by a pause. */
	bool rx;
};

struct sim_stream;

/** A simulated agent. */
struct sim_node {
	/** The env handed to gossip; first member (container_of is a cast). */
	struct nc_env env;
	/** Back pointer. */
	struct sim_world *w;
	/** Index in w->nodes. */
	int id;
	/** Name used in log lines. */
	char name[64];
	/** 10.x.y.z:SIM_PORT derived from id + 1. */
	struct nc_addr addr;
	/** Partition group; packets cross only within a group. */
	int group;
	/** Paused while now < paused_until (INFINITY: until resumed). */
	double paused_until;
	/** Inbound processing stalled while now < rx_stalled_until. */
	double rx_stalled_until;
	/** Crashed host: drops everything. */
	bool down;
	/** Datagrams currently deferred while paused (cap: socket buffer). */
	int deferred_packets;
};

/** The world: clock, PRNG, heap, nodes, network parameters. */
struct sim_world {
	/** Virtual time, seconds. */
	double now;
	/** xoshiro256** state (util's nc_rng). */
	struct nc_rng rng;
	/** Binary min-heap on (deadline, seq). */
	struct sim_heap_ent *heap;
	size_t heap_len, heap_cap;
	/** Next insertion sequence number. */
	uint64_t seq;
	/** Nodes (pointers: node memory must stay put, env is embedded). */
	struct sim_node **nodes;
	int n_nodes, cap_nodes;
	/** Network model. */
	double latency_const;
	sim_latency_fn latency_fn;
	void *latency_ctx;
	double loss;
	double (*loss_fn)(void *ctx, int from, int to);
	void *loss_ctx;
	/** In-flight streams (doubly linked). */
	struct sim_stream *streams;
	long next_stream_id;
	struct sim_net_stats stats;
	/** Network tap (sim_set_tap), or NULL. */
	sim_tap_fn tap_fn;
	void *tap_ctx;
	/** Logging. */
	sim_log_fn log_fn;
	void *log_ctx;
	enum nc_log_level log_level;
	enum nc_log_level print_level;
};

/** Insert or re-key @a t owned by @a node at absolute time @a deadline. */
void sim__heap_push(struct sim_world *w, struct nc_timer *t, int node,
		    double deadline);
/** As sim__heap_push, for inbound traffic of @a node (see rx above). */
void sim__heap_push_rx(struct sim_world *w, struct nc_timer *t, int node,
		       double deadline);
/** Until when @a n handles no inbound traffic (pause or rx stall). */
static inline double
sim__rx_blocked_until(const struct sim_node *n)
{
	return n->paused_until > n->rx_stalled_until ? n->paused_until
						     : n->rx_stalled_until;
}
/** Remove @a t from the heap if present. */
void sim__heap_remove(struct sim_world *w, struct nc_timer *t);
/** One-way latency from a to b. */
double sim__latency(struct sim_world *w, int a, int b);
/** Free every in-flight stream and packet event (world teardown). */
void sim__net_destroy(struct sim_world *w);
/** env ops implemented in sim_net.c. */
int sim__send_packet(struct nc_env *env, const struct nc_addr *to,
		     const char *buf, size_t len);
long sim__stream_request(struct nc_env *env, const struct nc_addr *to,
			 const char *req, size_t req_len, int expect_reply,
			 double timeout, nc_stream_done_cb cb, void *arg);
void sim__stream_cancel(struct nc_env *env, long id);

#endif /* NC_TESTS_SIM_INTERNAL_H */
