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
 *   PUT /v1/agent/join?address=IP[:PORT]   {"Joined":n} (waits), 502
 *   PUT /v1/agent/leave                    {} then graceful leave
 *   GET /v1/agent/keyring                  {"Keys":[...],"Primary":"..."}
 *   PUT /v1/agent/keyring/install|use|remove   body {"Key":"<base64>"}
 *   GET /  and /ui   302 -> /ui/;  GET /ui/...  embedded web UI  public
 *
 * /v1/members, /v1/nearest, /v1/failover and /v1/coordinate/nodes answer
 * from a copy of the member table and coordinates (api/view.c) that is at
 * most nc_api_config.max_stale_s (0.25 s) old, and identical queries get
 * the same printed answer until that copy is rebuilt.
 *
 * join, leave and keyring/{install,use,remove} are NC_API_WRITE: with no token
 * configured they answer 403 unless allow_unauthenticated_writes. Keyring
 * operations act on this agent only (unlike `serf keys`, which fans out a
 * query). The agent may add more with nc_api_route_add().
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gossip/env.h"

struct nc_api;
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
};

/** Parameters of nc_api_new(). */
struct nc_api_config {
	/** Listen address (port 0 = any free port, see nc_api_port()). */
	struct nc_addr addr;
	/** Max concurrent HTTP connections; default 64. */
	unsigned max_connections;
	/** Idle connection timeout, s; default 10. */
	unsigned conn_timeout_s;
	/**
	 * Bearer token (copied); "" = none. With a token every route except
	 * the NC_API_PUBLIC ones needs "Authorization: Bearer <token>": 401
	 * without the header, 403 with a wrong token.
	 */
	char token[256];
	/**
	 * Allow NC_API_WRITE routes without a token. Default false: with no
	 * token configured they answer 403.
	 */
	bool allow_unauthenticated_writes;
	/** Keyring served by /v1/agent/keyring (borrowed; NULL = none). */
	struct nc_crypto_keyring *keyring;
	/** Coordinates served (borrowed; NULL = none: no Coord fields). */
	struct nc_api_coords *coords;
	/**
	 * Graceful leave (PUT /v1/agent/leave), called after the response
	 * is queued; NULL = endpoint answers 501.
	 */
	int (*leave)(void *leave_ctx);
	void *leave_ctx;
	/** Version string for /v1/agent/self. */
	const char *version;
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
};

struct nc_crypto_keyring;
struct nc_api_coords;

/** Defaults: 127.0.0.1:8555, 64 connections, 10 s, no token, answers
 * at most 0.25 s stale. */
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
	/**
	 * Read endpoints (api/view.c): rebuilds of the member view, cached
	 * answers served / computed, answers evicted at the cache cap and
	 * answers too large to keep. Filled by nc_api_stats().
	 */
	uint64_t view_builds;
	uint64_t cache_hits, cache_misses, cache_evictions, cache_too_big;
	/** Answers and bytes held in the cache now. */
	uint64_t cache_entries, cache_bytes;
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

/** The gossip instance served (for handlers added by the agent). */
struct nc_gossip *nc_api_gossip(const struct nc_api *api);

/** "alive", "suspect", "failed" or "left" (serf's words). */
const char *nc_api_status_str(int member_state);

/* ------------------------------------------------------------------ */
/* Live coordinates (api/coords.c): the translation layer between     */
/* gossip/ and coord/                                                 */
/* ------------------------------------------------------------------ */

struct nc_coord;
struct nc_coord_config;
struct nc_coord_client;
struct nc_gossip_member;

/**
 * Tag key marking a netcoord agent in its serf tags (Meta); the value is
 * the coordinate gossip protocol version (NC_API_COORDS_PROTO). Only
 * members carrying it are sent coordinate messages: serf logs every user
 * message it cannot decode.
 */
#define NC_API_COORDS_TAG "nc"
/** Coordinate gossip protocol version (the tag's value). */
#define NC_API_COORDS_PROTO 1

/** Where a cached coordinate came from. */
enum nc_api_coord_source {
	NC_API_SRC_NONE = 0,
	/** This node's own coordinate. */
	NC_API_SRC_SELF,
	/** Carried in the ack of a direct probe by us. */
	NC_API_SRC_PROBE,
	/** Received in a coordinate gossip message (from `via`). */
	NC_API_SRC_GOSSIP,
};

/** "self", "probe", "gossip" or "none". */
const char *nc_api_coord_source_str(enum nc_api_coord_source s);

/** Parameters of the coordinate cache; fill with _default(). */
struct nc_api_coords_config {
	/**
	 * Coordinate gossip budget per agent, bytes/s of user-message
	 * payload (token bucket refilled at this rate, holding at most two
	 * packets' worth). 0 turns coordinate gossip off. Default 1024.
	 */
	double gossip_bytes_per_s;
	/**
	 * Coordinates older than this are not relayed (still served, with
	 * their age). Default 600 s.
	 */
	double relay_max_age_s;
	/**
	 * A member that joined less than this ago (while we were already
	 * running for as long) gets full messages from us, at most one per
	 * second, outside the budget: a new agent learns the fleet within
	 * seconds. Default 30 s; 0 disables.
	 */
	double new_member_window_s;
	/** Most cached coordinates (beyond: new names dropped). Default
	 * 65536. */
	unsigned max_entries;
};

/** Fill the defaults. */
void nc_api_coords_config_default(struct nc_api_coords_config *cfg);

/** One cached coordinate as the API reports it (copied out). */
struct nc_api_coord_info {
	/** A coordinate is known (coord valid). */
	bool has_coord;
	/** The coordinate (self: the client's current one); see get(). */
	const struct nc_coord *coord;
	/** Age of the coordinate, s (how long ago it was current). */
	double age_s;
	enum nc_api_coord_source source;
	/** For NC_API_SRC_GOSSIP: the member that sent it ("" otherwise). */
	const char *via;
	/** Last RTT we measured to this member, s (NAN if none). */
	double measured_rtt_s;
	/** Age of that measurement, s (NAN if none). */
	double measured_age_s;
};

/** Counters of the coordinate cache. */
struct nc_api_coords_stats {
	/** Probe acks whose payload was decoded and fed to the client. */
	uint64_t probe_updates;
	/** Ack payloads rejected: undecodable / bad version. */
	uint64_t payload_bad_decode;
	/** Ack payloads rejected: NaN/Inf, wrong dims, out of range. */
	uint64_t payload_bad_value;
	/** Acks without a payload (peer not speaking serf). */
	uint64_t payload_missing;
	/** Samples the coordinate client refused (bad RTT, ...). */
	uint64_t client_rejected;
	/** Coordinate gossip messages sent / received / malformed. */
	uint64_t gossip_msgs_out, gossip_msgs_in, gossip_msgs_bad;
	/** Bytes of coordinate gossip sent / received. */
	uint64_t gossip_bytes_out, gossip_bytes_in;
	/** Entries sent / accepted (newer) / ignored (not newer, unknown
	 * node, self) / rejected (bad values). */
	uint64_t gossip_entries_out, gossip_entries_new, gossip_entries_old,
	    gossip_entries_bad;
	/** Full messages sent to recently joined members. */
	uint64_t gossip_boosts;
	/** Greetings (own coordinate, own datagram) sent to new members. */
	uint64_t gossip_greets;
	/** Broadcast offers skipped: target not a netcoord agent / reply
	 * piggy-back with unknown target / budget exhausted. */
	uint64_t skip_not_nc, skip_no_target, skip_budget;
	/** Entries currently cached (with a coordinate). */
	unsigned cached;
};

/**
 * Create the cache and the coordinate client (@a ccfg copied; NULL =
 * defaults with peer_cap 1024). @a self is this node's name. @a now is
 * the env clock. Returns NULL (message in err) on bad config / OOM.
 */
struct nc_api_coords *nc_api_coords_new(const char *self,
					const struct nc_coord_config *ccfg,
					const struct nc_api_coords_config *cfg,
					double now, char *err, size_t err_cap);

/** Free (NULL is fine). */
void nc_api_coords_delete(struct nc_api_coords *c);

/**
 * Member table used to validate names and member states (borrowed; NULL
 * = accept any name, every member counts as alive).
 */
void nc_api_coords_set_gossip(struct nc_api_coords *c, struct nc_gossip *g);

/** The coordinate client (borrowed). */
struct nc_coord_client *nc_api_coords_client(struct nc_api_coords *c);

/** gossip hook ack_payload: our coordinate in serf's format. */
size_t nc_api_coords_ack_payload(struct nc_api_coords *c, char *buf,
				 size_t cap);

/**
 * gossip hook probe_done: decode and validate the peer's ack payload,
 * cache it as the peer's coordinate, update ours with @a rtt_s.
 * @retval 0 used; negative: rejected and counted.
 */
int nc_api_coords_probe_done(struct nc_api_coords *c, double now,
			     const char *peer, double rtt_s,
			     const char *payload, size_t len);

/** A member joined (start of its new-member window) or was reaped. */
void nc_api_coords_member_joined(struct nc_api_coords *c, double now,
				 const char *name);
void nc_api_coords_member_reaped(struct nc_api_coords *c, const char *name);
/**
 * A member's state or Meta changed (suspect, alive again, failed, left,
 * tags): read endpoints stop answering from the old view at once instead
 * of within the view's staleness bound.
 */
void nc_api_coords_member_changed(struct nc_api_coords *c);

/**
 * gossip hook user_broadcast: a coordinate message for @a to, or 0.
 * Nothing is sent to @a to == NULL or to members without the
 * NC_API_COORDS_TAG tag.
 */
size_t nc_api_coords_user_broadcast(struct nc_api_coords *c, double now,
				    const struct nc_gossip_member *to,
				    char *buf, size_t cap);

/**
 * The next greeting due: a netcoord member that joined after we had been
 * running for new_member_window_s gets our own coordinate once, in a
 * datagram of its own, at a per-pair delay spread over 5 s. Call it
 * (e.g. every 0.25 s) until it returns 0; send each message with
 * nc_gossip_send_user(g, *to, buf, len).
 * @return message length with *to set, or 0 (nothing due; *to NULL).
 */
size_t nc_api_coords_greet_take(struct nc_api_coords *c, double now,
				const struct nc_gossip_member **to, char *buf,
				size_t cap);

/**
 * gossip hook user_msg: if @a buf is a coordinate message, apply it and
 * return 1 (consumed; do not pass it on); 0 if it is not ours.
 */
int nc_api_coords_user_msg(struct nc_api_coords *c, double now, const char *buf,
			   size_t len);

/**
 * Look up @a name (self included). @a out->coord and out->via point into
 * the cache: valid until the next call on @a c (copy the coordinate
 * before looking up another node).
 * @retval 0 found (out filled; has_coord may be false), -1 not cached.
 */
int nc_api_coords_get(struct nc_api_coords *c, double now, const char *name,
		      struct nc_api_coord_info *out);

/** Counters. */
void nc_api_coords_stats(const struct nc_api_coords *c,
			 struct nc_api_coords_stats *out);

/** Is @a m tagged as a netcoord agent (NC_API_COORDS_TAG present)? */
bool nc_api_member_is_nc(const struct nc_gossip_member *m);

/** Set the clock used by handlers (the env's; NULL = 0). */
void nc_api_set_clock(struct nc_api *api, double (*now)(void *arg), void *arg);

#endif /* NC_API_API_H */
