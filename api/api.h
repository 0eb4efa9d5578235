#ifndef NC_API_API_H
#define NC_API_API_H
/*
 * api/: the agent's HTTP endpoint (libmicrohttpd) with JSON bodies (cJSON).
 *
 * Threading: none. MHD runs with MHD_USE_EPOLL and no thread of its own;
 * its epoll fd sits in the env's loop (gossip/env_real.h) and MHD_run() is
 * called when it is readable or when MHD's own timeout expires. Gossip
 * datagrams are drained before every MHD_run(), so a burst of HTTP
 * requests cannot delay an ack. Handlers run on the loop thread and read
 * live gossip state without locks; they must not block.
 *
 * Routing: a small table of (method, path, handler). A path ending in '/'
 * registered as a prefix matches everything below it (req->suffix holds
 * the rest). No match → 404; the path matches but not the method → 405
 * with an Allow header. Errors are JSON: {"error": "..."}. Every response
 * is Content-Type: application/json.
 *
 * Built-in routes (nc_api_new):
 *   GET /v1/health   → {"status":"ok"}
 *   GET /v1/members  → [{"Name","Addr","Port","Tags":{...},
 *                        "Status":"alive|suspect|failed|left",
 *                        "Incarnation"}, ...]
 * The agent adds more with nc_api_route_add().
 */
#include <stdbool.h>
#include <stddef.h>

#include "gossip/env.h"

struct nc_api;
struct nc_gossip;
struct cJSON;

/** One request as a handler sees it (everything borrowed for the call). */
struct nc_api_request {
	/** "GET", "POST", ... */
	const char *method;
	/** URL path without the query string, e.g. "/v1/members". */
	const char *path;
	/** For prefix routes: the part after the prefix; else "". */
	const char *suffix;
	/** Request body (may be NULL when body_len is 0). */
	const char *body;
	size_t body_len;
	/** Internal: the MHD connection, NULL when dispatched directly. */
	void *conn;
};

/**
 * A route handler. Set *out to the response document (ownership passes to
 * the router, which prints and frees it) and return the HTTP status. For
 * an error, return a status >= 400 and either leave *out NULL with a
 * message in @a err (becomes {"error": err}) or set *out yourself.
 */
typedef int (*nc_api_handler)(void *ctx, const struct nc_api_request *req,
			      struct cJSON **out, char *err, size_t err_cap);

/** Parameters of nc_api_new(). */
struct nc_api_config {
	/** Listen address (port 0 = any free port, see nc_api_port()). */
	struct nc_addr addr;
	/** Max concurrent HTTP connections; default 64. */
	unsigned max_connections;
	/** Idle connection timeout, s; default 10. */
	unsigned conn_timeout_s;
};

/** Defaults: 127.0.0.1:8555, 64 connections, 10 s. */
void nc_api_config_default(struct nc_api_config *cfg);

/**
 * Start the HTTP endpoint on the loop of @a env (an env made by
 * nc_env_real_new) serving @a g (borrowed; may be NULL: no members).
 * Pass env == NULL to get a router without a socket (tests: use
 * nc_api_dispatch). Returns NULL on failure with a message in @a err.
 */
struct nc_api *nc_api_new(struct nc_env *env, struct nc_gossip *g,
			  const struct nc_api_config *cfg, char *err,
			  size_t err_cap);

/** Stop MHD, leave the loop, free everything. NULL is a no-op. */
void nc_api_delete(struct nc_api *api);

/** The bound HTTP port (useful with port 0), 0 if no socket. */
unsigned nc_api_port(const struct nc_api *api);

/**
 * Add a route. @a path is copied; a path ending in '/' with @a prefix true
 * matches every path below it. Later routes do not override earlier ones
 * for the same method and path. Returns 0 or -ENOMEM / -ENOSPC.
 */
int nc_api_route_add(struct nc_api *api, const char *method, const char *path,
		     bool prefix, nc_api_handler h, void *ctx);

/**
 * Route one request without a socket: run the handler and print the
 * response. *body_out is malloc()ed JSON text (caller frees); @a allow
 * (may be NULL) receives the Allow header value for a 405.
 * @return the HTTP status.
 */
int nc_api_dispatch(struct nc_api *api, const struct nc_api_request *req,
		    char **body_out, char *allow, size_t allow_cap);

/**
 * Value of query argument @a key of @a req, or NULL (always NULL for
 * nc_api_dispatch requests).
 */
const char *nc_api_query(const struct nc_api_request *req, const char *key);

/** The gossip instance served (for handlers added by the agent). */
struct nc_gossip *nc_api_gossip(const struct nc_api *api);

/** "alive", "suspect", "failed" or "left" (serf's words). */
const char *nc_api_status_str(int member_state);

#endif /* NC_API_API_H */
