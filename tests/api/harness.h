#ifndef NC_TESTS_API_HARNESS_H
#define NC_TESTS_API_HARNESS_H
/*
 * harness.h - a small fleet in the simulator: netcoord agents — the real
 * agent (agent/agent.h, the code `netcoord agent` runs) on a virtual-time
 * env — and, optionally, stand-ins for serf members (gossip only, serf's
 * fresh coordinate in their acks, no nc tag) that count every coordinate
 * message they receive.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/agent.h"
#include "api/api.h"
#include "gossip/gossip.h"
#include "gossip/proto.h"
#include "sim/sim.h"

#define TH_MAX 1100

struct th_node {
	struct th_fleet *f;
	int id;
	bool nc;
	/** The agent (netcoord members; NULL for serf stand-ins). */
	struct nc_agent *agent;
	/** Its gossip (or the serf stand-in's) and coordinates (or NULL). */
	struct nc_gossip *g;
	struct nc_agent_coords *coords;
	/** Position (ms) on a plane: RTT = distance. */
	double x, y;
	/** Coordinate messages received by a non-nc member. */
	unsigned nc_msgs_seen;
	/** User messages received. */
	unsigned user_msgs;
	/** The node's env. */
	struct nc_env *env;
};

struct th_fleet {
	struct sim_world *w;
	/** Gossip key of the netcoord agents (base64), NULL = none. */
	const char *key;
	/** Member-table cap of the agents (0: see th_fleet_new_opts). */
	size_t max_members;
	int n;
	struct th_node node[TH_MAX];
};

/** One member to create: name, position, tags "k=v,k=v", netcoord? */
struct th_spec {
	const char *name;
	double x, y;
	const char *tags;
	bool nc;
};

/** Build the fleet (node 0 is the seed the others join), not run yet. */
struct th_fleet *th_fleet_new(uint64_t seed, const struct th_spec *spec, int n);
/** The same, every netcoord agent started with gossip key @a key_b64. */
struct th_fleet *th_fleet_new_keyed(uint64_t seed, const struct th_spec *spec,
				    int n, const char *key_b64);
/**
 * The same with a member-table cap for the agents (0: TH_MAX * 100, well
 * above any fleet here; the agent's own default is 10,000).
 */
struct th_fleet *th_fleet_new_opts(uint64_t seed, const struct th_spec *spec,
				   int n, const char *key_b64,
				   size_t max_members);
/** Add one more member later and join it to node 0. */
struct th_node *th_fleet_add(struct th_fleet *f, const struct th_spec *s);
void th_fleet_delete(struct th_fleet *f);
/**
 * Deliver alive{@a name (@a len bytes, may hold anything), incarnation
 * @a inc, address @a ip:7946, Meta = @a tags} to node @a to as a datagram
 * from that address: a member the fleet did not create, or a hostile
 * message.
 */
void th_inject_alive(struct th_fleet *f, int to, const char *name, size_t len,
		     const uint8_t ip[4], uint32_t inc,
		     const struct nc_proto_tag *tags, unsigned n_tags);
/** Virtual now. */
double th_now(struct th_fleet *f);
/** Clock callback for nc_api_set_clock. */
double th_clock(void *arg);

/**
 * Dispatch "METHOD /path?query" on api; returns status, body in *body
 * (malloc, parsed into *json if JSON and json != NULL).
 */
int th_req(struct nc_api *api, const char *method, const char *url,
	   const char *auth, const char *body, char **out, struct cJSON **json);

/* Real sockets on 127.0.0.1 (test_socket.c, test_block.c, test_fetch.c). */

/** A real env (loop/) bound to 127.0.0.1, port chosen by the kernel. */
struct nc_env *th_env_real_new(void);
/**
 * The agent as `netcoord agent -node NAME -profile local` on @a env,
 * joining @a join ("IP:PORT", NULL: none), started.
 */
struct nc_agent *th_real_agent_new(struct nc_env *env, const char *name,
				   const char *join);
/** CLOCK_MONOTONIC, seconds. */
double th_mono_s(void);
/**
 * Connect to 127.0.0.1:@a port, send "GET @a path" (Connection: close) and
 * return the socket, non-blocking, for the caller to read the answer.
 */
int th_http_get_open(unsigned port, const char *path);

int nc_test_coords_register(void);
int nc_test_handlers_register(void);
int nc_test_socket_register(void);
int nc_test_bench_register(void);
int nc_test_cache_register(void);
int nc_test_block_register(void);
int nc_test_fetch_register(void);
int nc_test_scale_register(void);

#endif
