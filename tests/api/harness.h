#ifndef NC_TESTS_API_HARNESS_H
#define NC_TESTS_API_HARNESS_H
/*
 * harness.h - a small fleet in the simulator wired like cmd/agent.c:
 * netcoord agents (gossip + api/coords.c hooks, tag nc=1) and, optionally,
 * "serf" members (gossip only, serf's fresh coordinate in their acks, no
 * nc tag) that count every coordinate message they receive.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api/api.h"
#include "gossip/gossip.h"
#include "tests/sim/sim.h"

#define TH_MAX 1100

struct th_node {
	struct th_fleet *f;
	int id;
	bool nc;
	struct nc_gossip *g;
	struct nc_agent_coords *coords;
	/** Position (ms) on a plane: RTT = distance. */
	double x, y;
	/** Coordinate messages received by a non-nc member. */
	unsigned nc_msgs_seen;
	/** User messages received. */
	unsigned user_msgs;
	/** Greeting timer (as cmd/agent.c's) and the node's env. */
	struct nc_env *env;
	struct nc_timer greet;
};

struct th_fleet {
	struct sim_world *w;
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
/** Add one more member later and join it to node 0. */
struct th_node *th_fleet_add(struct th_fleet *f, const struct th_spec *s);
void th_fleet_delete(struct th_fleet *f);
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

int nc_test_coords_register(void);
int nc_test_handlers_register(void);
int nc_test_socket_register(void);
int nc_test_bench_register(void);
int nc_test_cache_register(void);

#endif
