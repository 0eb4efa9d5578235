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
/** Most query arguments looked at per request (more: ignored). */
#define NC_API_MAX_ARGS 32

/** One row of the routing table. */
struct nc_api_route {
	/** "GET", "PUT", ... */
	char method[8];
	/** Exact path, or a prefix ending in '/' (owned, malloc). */
	char *path;
	/** NC_API_PREFIX | NC_API_PUBLIC | NC_API_WRITE. */
	unsigned flags;
	nc_api_handler handler;
	void *ctx;
};

/** The HTTP endpoint. */
struct nc_api {
	/** Loop (NULL for a socket-less router). */
	struct nc_env *env;
	/** Served gossip instance (borrowed, may be NULL). */
	struct nc_gossip *gossip;
	/** Configuration (token, keyring, coords, leave hook). */
	struct nc_api_config cfg;
	/** MHD daemon (NULL without a socket). */
	struct MHD_Daemon *daemon;
	/** MHD's epoll fd in our loop. */
	struct nc_env_watch watch;
	/** MHD's own timeout (idle connections), folded into env timers. */
	struct nc_timer timer;
	/** MHD held connections at the last MHD_run (see mhd_service). */
	bool had_connections;
	/** Bound port. */
	unsigned port;
	/** Routing table, matched in order. */
	struct nc_api_route routes[NC_API_MAX_ROUTES];
	size_t routes_n;
	/** Counters. */
	struct nc_api_stats stats;
	/** Clock for socket-less use (tests). */
	double (*now_cb)(void *arg);
	void *now_arg;
	/** Suspended requests (list, for nc_api_delete). */
	struct nc_api_pending *pending;
	/** A leave was asked: call cfg.leave once the response is out. */
	bool leave_asked;
};

/** Env clock (or the test clock), seconds. */
double nc__api_now(const struct nc_api *api);

/** Register /v1/health and /v1/members (api/members.c). */
int nc__api_add_builtin_routes(struct nc_api *api);
/** Coordinates, rtt, nearest, failover, self (api/handlers_coord.c). */
int nc__api_add_coord_routes(struct nc_api *api);
/** join, leave, keyring (api/handlers_agent.c). */
int nc__api_add_agent_routes(struct nc_api *api);
/** /metrics (api/metrics.c). */
int nc__api_add_metrics_route(struct nc_api *api);
/** / and /ui/ (api/static.c). */
int nc__api_add_static_routes(struct nc_api *api);

/** Add "Tags": {...} decoded from serf Meta to @a obj (members.c). */
bool nc__api_add_tags(struct cJSON *obj, const uint8_t *meta, size_t len);
/** Member as /v1/members shows it (members.c); NULL on OOM. */
struct cJSON *nc__api_member_json(const struct nc_gossip_member *m);
/** Does Meta carry tag key == value (lengths given)? */
bool nc__api_meta_has_tag(const uint8_t *meta, size_t meta_len, const char *key,
			  size_t key_len, const char *value, size_t value_len);
/** Value of tag @a key in Meta into buf ("" and false if absent). */
bool nc__api_meta_tag(const uint8_t *meta, size_t meta_len, const char *key,
		      char *buf, size_t cap);

/** Parsed filters shared by members / nearest / failover. */
struct nc__api_filter {
	/** Bit (1 << state) set = state wanted. */
	unsigned states;
	/** tag=key:value filters (borrowed from the request). */
	struct {
		const char *key, *value;
		size_t key_len, value_len;
	} tags[16];
	size_t n_tags;
};

/**
 * Parse status= (alive,suspect,failed,left,any; comma list, repeatable;
 * default @a default_states) and tag=key:value (repeatable, ANDed).
 * @retval 0 or 400 with err naming the parameter.
 */
int nc__api_filter_parse(const struct nc_api_request *req,
			 unsigned default_states, struct nc__api_filter *f,
			 char *err, size_t err_cap);
/** Does member @a m pass @a f? */
bool nc__api_filter_match(const struct nc__api_filter *f,
			  const struct nc_gossip_member *m);

/** States bit sets. */
#define NC__API_ST_ALL 0xfu
#define NC__API_ST_ALIVE 0x1u

/** Fill {"Vec","Error","Adjustment","Height"} (Consul's Coord shape). */
struct cJSON *nc__api_coord_json(const struct nc_coord *c);

/** One embedded web file (generated web_assets.c). */
struct nc__api_asset {
	/** Path below web/, e.g. "index.html", "vendor/x.js". */
	const char *path;
	const unsigned char *data;
	size_t len;
	/** Quoted strong ETag. */
	const char *etag;
};
/** The embedded files (terminated by a NULL path) and their number. */
extern const struct nc__api_asset nc__api_assets[];
extern const size_t nc__api_assets_n;

/** Set err and return 500 (out of memory). */
int nc__api_oom(char *err, size_t err_cap);

#endif /* NC_API_API_INT_H */
