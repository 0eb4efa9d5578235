#ifndef NC_API_API_INT_H
#define NC_API_API_INT_H
/*
 * api/api_int.h - internals shared by the files of api/ (not included from
 * outside the module).
 */
#include <stdbool.h>
#include <stddef.h>

#include "api/api.h"
#include "gossip/env_real.h"

struct MHD_Daemon;

/** Most routes. Nothing special in this value; raise it when needed. */
#define NC_API_MAX_ROUTES 48

/** One row of the routing table. */
struct nc_api_route {
	/** "GET", "PUT", ... */
	char method[8];
	/** Exact path, or a prefix ending in '/' (owned, malloc). */
	char *path;
	/** Match everything below path. */
	bool prefix;
	nc_api_handler handler;
	void *ctx;
};

/** The HTTP endpoint. */
struct nc_api {
	/** Loop (NULL for a socket-less router). */
	struct nc_env *env;
	/** Served gossip instance (borrowed, may be NULL). */
	struct nc_gossip *gossip;
	/** MHD daemon (NULL without a socket). */
	struct MHD_Daemon *daemon;
	/** MHD's epoll fd in our loop. */
	struct nc_env_watch watch;
	/** MHD's own timeout (idle connections), folded into env timers. */
	struct nc_timer timer;
	/** Bound port. */
	unsigned port;
	/** Routing table, matched in order. */
	struct nc_api_route routes[NC_API_MAX_ROUTES];
	size_t routes_n;
};

/** Register /v1/health and /v1/members (api/members.c). */
int nc__api_add_builtin_routes(struct nc_api *api);

#endif /* NC_API_API_INT_H */
