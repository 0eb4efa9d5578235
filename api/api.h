#ifndef NC_API_API_H
#define NC_API_API_H
/*
 * api/: the agent's HTTP endpoint (libmicrohttpd) with JSON bodies (cJSON).
 *
 * Threading: none. MHD runs with MHD_USE_EPOLL and no thread of its own;
 * its epoll fd sits in the env's loop (loop/loop.h) and MHD_run() is
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
 * Routes (all registered by nc_api_new; JSON unless said otherwise;
 * errors {"error": "..."}: 400 names the bad parameter, 404 unknown node
 * or path, 405 wrong method (+ Allow), 409 state conflict, 413 body over
 * 64 KiB, 401/403 token):
 *
 *   GET /v1/health                       {"status":"ok"}          public
 *   GET /v1/members?status=&tag=k:v&near=NODE
 *       [{"Name","Addr","Port","Tags":{},"Status":"alive|suspect|failed|
 *         left","Incarnation"}]; status= is a comma list and/or repeated
 *       (alive, suspect, failed|dead, left, any), tag= repeatable (AND),
 *       near= sorts by estimated RTT from NODE (Consul's ?near)
 *   GET /v1/agent/self   member fields + "Version", "HealthScore",
 *       "Members", "Coord":{"Vec","Error","Adjustment","Height"},
 *       "CoordStats":{"Updates","Resets","Rejected","MeasuredError"}
 *   GET /v1/coordinate/nodes, /v1/coordinate/node/NAME
 *       [{"Node","Segment":"","Coord":{...},"AgeS","Source":"self|probe|
 *         gossip","Via"?}]                  (Consul's shape + AgeS/Source)
 *   GET /v1/rtt?from=A&to=B     {"From","To","EstimatedMs","MeasuredMs",
 *       "MeasuredAgeS"}; from defaults to this node; Measured* are null
 *       unless from is this node and it probed B itself
 *   GET /v1/nearest?from=A|coord=JSON&n=5&tag=k:v&status=alive
 *       {"From","Nodes":[{member fields...,"EstimatedMs"}]}; from
 *       defaults to this node and is left out of the answer; coord= is a
 *       URL-encoded Consul Coord object ({"Vec":[8 numbers],"Error",
 *       "Adjustment","Height"}) instead of a node ("From": null); only
 *       alive members unless status= says otherwise (status=any); n in
 *       1..100000
 *   GET /v1/failover?from=A&group=TAGKEY&skip-local=1&status=&tag=
 *       {"From","Group","Groups":[{"Value","MedianMs"|null,"Members":
 *       [{"Name","Status","EstimatedMs"}]}]}; members lacking the tag are
 *       left out; groups by median RTT of their alive members, groups
 *       without one last; in a group alive members by RTT, then the
 *       others; skip-local drops the group of `from`
 *   GET /metrics    Prometheus text format 0.0.4 (text/plain)
 *   GET /v1/stats   raw counters of gossip, the loop, the serf relay (and
 *       the latency emulation when on), for benchmarks and operators
 *   PUT /v1/agent/join?address=HOST[:PORT] {"Joined":n} (waits), 502
 *   PUT /v1/agent/leave                    {} then graceful leave
 *   GET /v1/agent/keyring, PUT /v1/agent/keyring/install|use|remove
 *       (body {"Key":"<base64>"}): the whole cluster's keyrings through
 *       serf's key queries, serf's answer shape {"NumNodes","NumResp",
 *       "NumErr","Messages","Keys","PrimaryKeys"}; ?local=1: this agent
 *       only ({"Keys":[...],"Primary":"..."}); GET is NC_API_SECRET (key
 *       material). api/handlers_agent.c says more.
 *   GET /v1/agent/reachability   serf reachability (api/handlers_agent.c)
 *   PUT /v1/event/fire/NAME[?coalesce=1]  body = payload: fires a serf
 *       user event {"Name","LTime","Payload"(base64),"Coalesce"}
 *   GET /v1/event/list[?name=N]  the last user events seen or fired
 *   GET /  and /ui   302 -> /ui/;  GET /ui/...  embedded web UI  public
 *   PUT /v1/agent/reload   registered by `netcoord agent` (cmd/agent.c),
 *       NC_API_WRITE: {"Applied":[...],"NeedRestart":[...]} or 400
 *
 * /v1/members, /v1/nearest, /v1/failover and /v1/coordinate/nodes answer
 * from a copy of the member table and coordinates (api/view.c) that is at
 * most nc_api_config.max_stale_s (0.25 s) old, and identical queries get
 * the same printed answer until that copy is rebuilt.
 *
 * Blocking queries (api/block.c, Consul's): every 200 of these four
 * carries "X-Netcoord-Index: N" (N >= 1, grows when the answer changes
 * significantly: membership, status, tags, ranked order; not estimates
 * or coordinate values alone). ?index=N&wait=D (Go duration, default
 * 5m, at most 10m, + up to D/16 jitter) holds the request until the
 * answer's index is no longer N or the wait ends (then the current
 * answer, same index); an index that is not the current one answers at
 * once. 400 names a bad index/wait; 429 beyond cfg.max_held.
 *
 * join, leave, event/fire and keyring/{install,use,remove} are
 * NC_API_WRITE, and GET
 * keyring is NC_API_SECRET: with no token configured they answer 403
 * unless allow_unauthenticated_writes. Secret answers carry
 * Cache-Control: no-store. Keyring operations act on the whole cluster
 * (as `serf keys`) unless ?local=1. More routes can be added with
 * nc_api_route_add().
 *
 * HTTPS: with cfg.tls_cert_pem / tls_key_pem the endpoint speaks TLS
 * only (MHD's, GnuTLS); nc_api_new checks both first (api/tls.c) and
 * refuses to start naming the file at fault.
 *
 * Hostile clients (issue 9 rows 3, 6):
 *   - Host check against DNS rebinding: a request whose Host is not a
 *     loopback name or address (localhost, 127.0.0.0/8, [::1]), nor the
 *     address the API listens on (any IP literal when that is a
 *     wildcard: a rebinding page always sends its own DNS name), nor one
 *     of cfg.allowed_hosts, is refused with 403 before routing. Requests
 *     without Host (HTTP/1.0) pass.
 *   - At most max_connections_per_client connections per client address
 *     (default 16; MHD closes the others at once), and a request must
 *     arrive whole (headers and body) within request_deadline_s
 *     (default 10 s) of the accept, or of the end of the previous
 *     request on a kept-alive connection, however slowly its bytes
 *     trickle in; late connections are shut down.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gossip/env.h"

struct nc_api;
struct nc_agent;
struct nc_gossip;
struct cJSON;

/** One decoded query argument (borrowed for the request). */
struct nc_api_arg {
	const char *key;
	const char *value;
};

struct nc_api_response;

/** One request as a handler sees it (everything borrowed for the call). */
struct nc_api_request {
	/** "GET", "POST", ... */
	const char *method;
	/**
	 * URL path, e.g. "/v1/members". nc_api_dispatch() also accepts a
	 * "?query" here and splits it off into args.
	 */
	const char *path;
	/** For prefix routes: the part after the prefix; else "". */
	const char *suffix;
	/** Request body (may be NULL when body_len is 0). */
	const char *body;
	size_t body_len;
	/** Decoded query arguments in request order (repeats kept). */
	const struct nc_api_arg *args;
	size_t n_args;
	/** Authorization header, or NULL. */
	const char *authorization;
	/** If-None-Match header, or NULL. */
	const char *if_none_match;
	/** Host header, or NULL (none: passes the Host check). */
	const char *host;
	/** Internal: the MHD connection, NULL when dispatched directly. */
	void *conn;
	/** Internal: per-connection state of http.c. */
	void *conn_state;
	/** Internal: where raw bodies and extra headers go. */
	struct nc_api_response *resp;
};

/**
 * A route handler. Set *out to the response document (ownership passes to
 * the router, which prints and frees it) and return the HTTP status. For
 * an error, return a status >= 400 and either leave *out NULL with a
 * message in @a err (becomes {"error": err}) or set *out yourself.
 * A handler may instead answer with a non-JSON body (nc_api_set_raw), or
 * return NC_API_SUSPEND after nc_api_suspend() and answer later.
 */
typedef int (*nc_api_handler)(void *ctx, const struct nc_api_request *req,
			      struct cJSON **out, char *err, size_t err_cap);

/** Handler return value: the answer comes later (nc_api_resume). */
#define NC_API_SUSPEND 0

/** Most extra response headers a handler can add. */
#define NC_API_MAX_HEADERS 6

/** A response as the router produced it (nc_api_handle). */
struct nc_api_response {
	/** HTTP status (NC_API_SUSPEND: the handler suspended). */
	int status;
	/** Body (malloc()ed unless body_static). */
	char *body;
	size_t body_len;
	bool body_static;
	/** Content-Type (static string). */
	const char *content_type;
	/** Allow header for a 405. */
	char allow[128];
	/** Extra headers (names static, values copied). */
	const char *hdr_name[NC_API_MAX_HEADERS];
	char hdr_value[NC_API_MAX_HEADERS][192];
	size_t n_hdr;
};

/** Route flags for nc_api_route_add_ex(). */
enum {
	/** Match every path below path (which ends in '/'). */
	NC_API_PREFIX = 1,
	/** No token needed (health, static UI). */
	NC_API_PUBLIC = 2,
	/**
	 * Mutating endpoint: refused with 403 when no token is configured,
	 * unless the config allows unauthenticated writes.
	 */
	NC_API_WRITE = 4,
	/**
	 * Answers with key material: refused like NC_API_WRITE without a
	 * token (even though it only reads), and sent with Cache-Control:
	 * no-store.
	 */
	NC_API_SECRET = 8,
};

/** Most cfg.allowed_hosts entries. Nothing special in the value. */
#define NC_API_MAX_ALLOWED_HOSTS 16

/** Parameters of nc_api_new(). */
struct nc_api_config {
	/** Listen address (port 0 = any free port, see nc_api_port()). */
	struct nc_addr addr;
	/** Max concurrent HTTP connections; default 64. */
	unsigned max_connections;
	/** Idle connection timeout, s; default 10. */
	unsigned conn_timeout_s;
	/** Max concurrent connections per client address; default 16. */
	unsigned max_connections_per_client;
	/**
	 * A request (headers and body) must arrive within this many s of
	 * the accept (or of the previous response on the connection), or
	 * the connection is shut down; default 10.
	 */
	double request_deadline_s;
	/**
	 * Host header values accepted besides loopback names/addresses and
	 * the listen address (host names, compared without the port and
	 * case-insensitively; "" = unused slot).
	 */
	char allowed_hosts[NC_API_MAX_ALLOWED_HOSTS][256];
	size_t allowed_hosts_n;
	/**
	 * Bearer token (copied); "" = none. With a token every route except
	 * the NC_API_PUBLIC ones needs "Authorization: Bearer <token>": 401
	 * without the header, 403 with a wrong token.
	 */
	char token[256];
	/**
	 * Allow NC_API_WRITE and NC_API_SECRET routes without a token.
	 * Default false: with no token configured they answer 403.
	 */
	bool allow_unauthenticated_writes;
	/**
	 * TEST FACILITY: the latency decorator (loop/latency.h) whose
	 * counters GET /v1/stats reports; NULL = none.
	 */
	struct nc_env *latency_env;
	/** Version string for /v1/agent/self. */
	const char *version;
	/**
	 * HTTPS (MHD_USE_TLS): PEM certificate (chain) and unencrypted
	 * private key, NUL-terminated and copied by nc_api_new; NULL =
	 * plain HTTP. Checked before MHD starts; tls_cert_name and
	 * tls_key_name (the files) name the culprit in the message.
	 */
	const char *tls_cert_pem;
	const char *tls_key_pem;
	const char *tls_cert_name;
	const char *tls_key_name;
	/**
	 * Staleness bound of the read endpoints, s; default 0.25 (see
	 * api/view.c). /v1/members, /v1/nearest, /v1/failover and
	 * /v1/coordinate/nodes answer from a copy of the member table and
	 * the coordinates (the view) that is rebuilt when members join or
	 * are reaped and otherwise at most this often, and identical
	 * queries get the same printed answer until the view is rebuilt.
	 * So an answer reflects state at most this old (a member that
	 * failed, a coordinate that moved). 0: rebuild for every request,
	 * no answer cache (exact, O(members) per request).
	 */
	double max_stale_s;
	/**
	 * Most blocking queries (?index=N, api/block.c) held at once;
	 * beyond, 429. Default 4096. Each held request also keeps one of
	 * max_connections (and of max_connections_per_client).
	 */
	unsigned max_held;
	/**
	 * How long a verified answer (/v1/nearest?verify=K, api/verify.c)
	 * is served again for the same query, s; default 10, 0 = measure
	 * every time.
	 */
	double verify_cache_s;
};


/** Defaults: 127.0.0.1:8555, 64 connections (16 per client), 10 s idle,
 * 10 s per request, no token, answers at most 0.25 s stale, 4096 held
 * blocking queries. */
void nc_api_config_default(struct nc_api_config *cfg);

/**
 * Start the HTTP endpoint on the loop of @a env (an env made by
 * nc_env_real_new) serving @a agent (borrowed, must outlive the API; NULL:
 * no members, no coordinates, no keyring).
 * Pass env == NULL to get a router without a socket (tests: use
 * nc_api_dispatch). Returns NULL on failure with a message in @a err.
 */
struct nc_api *nc_api_new(struct nc_env *env, struct nc_agent *agent,
			  const struct nc_api_config *cfg, char *err,
			  size_t err_cap);

/**
 * Replace the access rules of a running endpoint (reload): token,
 * allowed_hosts and allow_unauthenticated_writes are taken from @a cfg,
 * its other fields are ignored. Requests routed afterwards see them.
 */
void nc_api_set_access(struct nc_api *api, const struct nc_api_config *cfg);

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

/** nc_api_route_add() with NC_API_* flags. */
int nc_api_route_add_ex(struct nc_api *api, const char *method,
			const char *path, unsigned flags, nc_api_handler h,
			void *ctx);

/**
 * Route one request (auth, routing, handler, printing) into @a resp
 * (zeroed first; free with nc_api_response_destroy). Returns the status.
 */
int nc_api_handle(struct nc_api *api, const struct nc_api_request *req,
		  struct nc_api_response *resp);

/** Free what a response owns. */
void nc_api_response_destroy(struct nc_api_response *resp);

/**
 * From a handler: answer with a non-JSON body of @a len bytes. With
 * @a take the router frees @a body (malloc()ed); else it must outlive the
 * request (static data).
 */
void nc_api_set_raw(const struct nc_api_request *req, const char *ctype,
		    const char *body, size_t len, bool take);

/** From a handler: add a response header (value copied, name static). */
void nc_api_add_header(const struct nc_api_request *req, const char *name,
		       const char *value);

/** A suspended request (opaque). */
struct nc_api_pending;

/**
 * From a handler: keep the request open and answer later with
 * nc_api_resume(); the handler then returns NC_API_SUSPEND. Returns NULL
 * (handler must answer now) without a socket or out of memory.
 */
struct nc_api_pending *nc_api_suspend(const struct nc_api_request *req);

/**
 * Answer a suspended request: @a doc (owned by the call) or, for an error
 * status with doc NULL, {"error": msg}.
 */
void nc_api_resume(struct nc_api_pending *p, int status, struct cJSON *doc,
		   const char *msg);

/** HTTP request counters by status, for /metrics. */
struct nc_api_stats {
	/** Responses by status code (index = code - 100, 100..599). */
	uint64_t by_status[500];
	/** Requests refused for a missing / wrong token. */
	uint64_t auth_missing, auth_wrong;
	/** Requests refused by the Host check; connections shut down at
	 * the request deadline. */
	uint64_t host_refused, deadline_closed;
	/**
	 * Read endpoints (api/view.c): rebuilds of the member view, cached
	 * answers served / computed, answers evicted at the cache cap and
	 * answers too large to keep. Filled by nc_api_stats().
	 */
	uint64_t view_builds;
	uint64_t cache_hits, cache_misses, cache_evictions, cache_too_big;
	/** Answers and bytes held in the cache now. */
	uint64_t cache_entries, cache_bytes;
	/**
	 * Blocking queries (api/block.c): held now, held so far, released
	 * by a change, at the end of their wait, because the client went
	 * away; refused (429); answers re-evaluated for held requests;
	 * tracked queries now.
	 */
	uint64_t block_held, block_held_total, block_released_change,
	    block_released_timeout, block_released_gone, block_refused,
	    block_evaluations, block_entries;
};

/** Counters of an endpoint (the view / cache fields refreshed). */
const struct nc_api_stats *nc_api_stats(struct nc_api *api);

/**
 * Route one request without a socket: run the handler and print the
 * response. *body_out is malloc()ed JSON text (caller frees); @a allow
 * (may be NULL) receives the Allow header value for a 405.
 * @return the HTTP status.
 */
int nc_api_dispatch(struct nc_api *api, const struct nc_api_request *req,
		    char **body_out, char *allow, size_t allow_cap);

/** Value of the first query argument @a key of @a req, or NULL. */
const char *nc_api_query(const struct nc_api_request *req, const char *key);

/**
 * Value of the @a i-th (0-based) occurrence of query argument @a key, or
 * NULL past the last one (repeatable arguments such as tag=).
 */
const char *nc_api_query_nth(const struct nc_api_request *req, const char *key,
			     size_t i);

/** "alive", "suspect", "failed" or "left" (serf's words). */
const char *nc_api_status_str(int member_state);

/** Set the clock used by handlers (the env's; NULL = 0). */
void nc_api_set_clock(struct nc_api *api, double (*now)(void *arg), void *arg);

#endif /* NC_API_API_H */
