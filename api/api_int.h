#ifndef NC_API_API_INT_H
#define NC_API_API_INT_H
/*
 * api/api_int.h - internals shared by the files of api/ (not included from
 * outside the module).
 */
#include <stdbool.h>
#include <stddef.h>

#include "agent/agent.h"
#include "api/api.h"
#include "coord/coord.h"
#include "loop/loop.h"
#include "util/util.h"

struct MHD_Daemon;
struct nc_coord;
struct nc_coord_candidate;

/**
 * Default staleness bound of the read endpoints, s (api/view.c: why
 * 250 ms).
 */
#define NC_API_MAX_STALE_DEFAULT 0.25
/**
 * The view and the cached answers are freed when no request has needed
 * a rebuild for this long, s (they cost ~300 bytes per member plus the
 * answers). Arbitrary: long enough that a dashboard polling every few
 * seconds keeps them.
 */
#define NC_API_VIEW_IDLE_S 30.0
/** Most routes. Nothing special in this value; raise it when needed. */
#define NC_API_MAX_ROUTES 48
/**
 * Answer cache caps (api/view.c): at most this many answers and bytes;
 * at the cap the least recently used answers are dropped, and an answer
 * larger than half the byte cap is served but not kept. 16 MiB holds
 * ~10 /v1/members answers of 10,000 members; answers only live for one
 * view epoch (<= max_stale_s), so the cache empties itself when idle.
 */
#define NC_API_CACHE_MAX_ENTRIES 128
#define NC_API_CACHE_MAX_BYTES (16u << 20)
/**
 * Verified nearest (api/verify.c): default -verify-cache (s), largest K,
 * pings per candidate (minimum kept) and their spacing, the timeout of
 * each ping, the bound on a whole verification, verifications in flight
 * at once (beyond: 429) and answers kept. Budget: at most 4 x 32 x 3 =
 * 384 pings in flight (under gossip's NC_GOSSIP_PINGS_MAX), 4 requests
 * suspended at most ~0.6 s (1 s bound), 64 cached answers of a few KiB.
 */
#define NC_API_VERIFY_CACHE_DEFAULT 10.0
#define NC_API_VERIFY_K_MAX 32
#define NC_API_VERIFY_PINGS 3
#define NC_API_VERIFY_SPACING_S 0.05
#define NC_API_VERIFY_PING_TIMEOUT_S 0.5
#define NC_API_VERIFY_DEADLINE_S 1.0
#define NC_API_VERIFY_JOBS_MAX 4
#define NC_API_VERIFY_CACHE_MAX 64
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

/**
 * One member as the read endpoints serve it, copied out of the gossip
 * table and the coordinate cache when the view is built (nothing here
 * points into gossip/, whose members and Meta may move or be freed at
 * the next event).
 */
struct nc__api_vent {
	/** Name, Meta (meta_len bytes, NULL if none), "Via" ("" if none):
	 * in the view's arena. */
	const char *name;
	const uint8_t *meta;
	size_t meta_len;
	const char *via;
	struct nc_addr addr;
	uint32_t incarnation;
	/** enum nc_member_state. */
	uint8_t state;
	/** A coordinate is known (view->co[i] valid). */
	bool has_coord;
	/** enum nc_agent_coord_source of the coordinate. */
	uint8_t source;
	/** Env time the coordinate was current (age = now - produced). */
	double produced;
	/** This agent's last RTT to it (s) and the env time of that
	 * measurement; NAN if none (the combine rule, coord/verify.c). */
	double measured_rtt_s, measured_at;
};

/**
 * The dense candidate array every read endpoint works from: members in
 * gossip table order, their coordinates, and the nc_coord_candidate
 * array the ranking functions take (name and coord pointers into the
 * view), rebuilt only when it may be stale (nc__api_view_get).
 */
struct nc__api_view {
	/** n members: entries, coordinates, ranking candidates. */
	struct nc__api_vent *ent;
	struct nc_coord *co;
	struct nc_coord_candidate *rc;
	size_t n, cap;
	/** Strings and Meta of the entries (cap NC__API_VIEW_ARENA_MAX). */
	struct nc_dbuf arena;
	/** Index of this node (SIZE_MAX if none). */
	size_t self;
	/** Env time of the last build. */
	double built_at;
	/** Bumped by every build: cached answers carry it. */
	uint64_t epoch;
	/** Membership epoch of the coordinate cache at the last build. */
	uint64_t coords_members_epoch;
	/** Builds so far (metrics). */
	uint64_t builds;
	bool built;
};

/** One cached answer (api/view.c). */
struct nc__api_rc_ent {
	/** Key (malloc, NUL-terminated) and its hash. */
	char *key;
	uint64_t hash;
	/** Body (malloc) and its length. */
	char *body;
	size_t len;
	/** Use stamp for LRU eviction. */
	uint64_t used;
};

/** Cache of whole answers, valid for one view epoch. */
struct nc__api_rcache {
	struct nc__api_rc_ent ent[NC_API_CACHE_MAX_ENTRIES];
	size_t n;
	/** Bytes of keys and bodies held. */
	size_t bytes;
	/** View epoch the entries were built from. */
	uint64_t epoch;
	uint64_t clock;
	/** Counters (metrics). */
	uint64_t hits, misses, evictions, too_big;
};

/*
 * Blocking queries (api/block.c). Budgets: at most
 * NC_API_BLOCK_MAX_ENTRIES distinct queries tracked (key <= 4 KiB each,
 * plus a copy of the query, <= the 16 KiB MHD request pool, while it has
 * holders: <= 20 MiB in the worst case, ~200 bytes an entry in practice)
 * and cfg.max_held requests held (~1.5 KiB each here, plus MHD's
 * connection pool).
 */
#define NC_API_BLOCK_MAX_ENTRIES 1024
/** Default cfg.max_held. */
#define NC_API_MAX_HELD_DEFAULT 4096
/** Consul's default and largest wait, s. */
#define NC_API_WAIT_DEFAULT_S 300.0
#define NC_API_WAIT_MAX_S 600.0

struct nc__api_bent;

/** Tracked queries, their indexes and the requests held on them. */
struct nc__api_block {
	struct nc__api_bent *ent[NC_API_BLOCK_MAX_ENTRIES];
	size_t n;
	/** Evicted entries whose holders are still to be answered. */
	struct nc__api_bent *zombies;
	/** Last index handed out (the next change gets index + 1). */
	uint64_t index;
	/** LRU stamps. */
	uint64_t clock;
	/** Requests held now. */
	size_t held;
	/** Re-evaluates held entries while any are held. */
	struct nc_timer timer;
	/** Round-robin position of the time-boxed tick. */
	size_t cursor;
	/** Next look for clients that went away, env time. */
	double next_peek;
	/** Counters (metrics). */
	uint64_t held_total, released_change, released_timeout, released_gone,
	    refused, evaluations, evictions;
};

/**
 * One open MHD connection (its socket context, api/http.c): when its
 * current request must have arrived whole.
 */
struct nc__api_conn {
	struct MHD_Connection *conn;
	/** Env time by which the request must be in (see received). */
	double deadline;
	/** The request is in (being answered, or suspended): no deadline. */
	bool received;
	/** Shut down at the deadline already. */
	bool cut;
	/** In nc_api.conns. */
	struct nc__api_conn *prev, *next;
};

/** A verification in flight (api/verify.c). */
struct nc__api_verify_job;

/** One kept verified answer. */
struct nc__api_verify_ent {
	/** Query key and printed answer (malloc); NULL = free slot. */
	char *key;
	char *body;
	size_t len;
	/** Env time it was measured. */
	double at;
};

/** Verified nearest: jobs in flight, kept answers, counters. */
struct nc__api_verify {
	struct nc__api_verify_job *jobs;
	size_t n_jobs;
	struct nc__api_verify_ent cache[NC_API_VERIFY_CACHE_MAX];
	/** Verifications run, answers from the cache, pings sent, answered,
	 * requests refused over the budget. */
	uint64_t runs, cache_hits, pings, pings_answered, refused;
};

/*
 * Fresh answers (api/fresh.c): /v1/nearest and /v1/failover fetch their
 * candidates' coordinates from the owners and hold the request until
 * they are fresh or fresh-wait passes.
 */
/** Default and largest ?fresh-wait=, s. */
#define NC_API_FRESH_WAIT_DEFAULT_S 1.0
#define NC_API_FRESH_WAIT_MAX_S 10.0
/** A coordinate younger than this is fresh, s. */
#define NC_API_FRESH_AGE_S 30.0
/** Nearest fetches its n x this best-estimated candidates, at most
 * NC_API_FRESH_PICK_MAX; failover this many per group. */
#define NC_API_FRESH_NEAREST_FACTOR 20
#define NC_API_FRESH_PICK_MAX 1000
#define NC_API_FRESH_PER_GROUP 24
/** Held requests at once (beyond: answered at once, counted). */
#define NC_API_FRESH_HOLDS_MAX 64
/** nc__api_fresh_step: the request is held. */
#define NC__API_FRESH_HELD 1
/** How often held requests look at their candidates, s. */
#define NC_API_FRESH_POLL_S 0.05

struct nc__api_fresh_hold;

/** Requests held for fresh coordinates, counters. */
struct nc__api_fresh {
	struct nc__api_fresh_hold *holds;
	size_t n_holds;
	struct nc_timer timer;
	/** Rankings that looked at freshness / found candidates to fetch /
	 * were held / released all fresh / released at fresh-wait / not
	 * held (table full). */
	uint64_t queries, fetching, held, released_fresh, released_timeout,
	    not_held;
};

/** The HTTP endpoint. */
struct nc_api {
	/** Loop (NULL for a socket-less router). */
	struct nc_env *env;
	/** Served agent (borrowed, may be NULL) and two of its parts. */
	struct nc_agent *agent;
	struct nc_gossip *gossip;
	struct nc_agent_coords *coords;
	/** Configuration (address, token, limits). */
	struct nc_api_config cfg;
	/** MHD daemon (NULL without a socket). */
	struct MHD_Daemon *daemon;
	/** MHD's epoll fd in our loop. */
	struct nc_env_watch watch;
	/** MHD's own timeout (idle connections), folded into env timers. */
	struct nc_timer timer;
	/** MHD held connections at the last MHD_run (see mhd_service). */
	bool had_connections;
	/** Open connections (request deadlines, api/http.c). */
	struct nc__api_conn *conns;
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
	/** A leave was asked: start it once the response is out. */
	bool leave_asked;
	/** Served state and cached answers (api/view.c). */
	struct nc__api_view view;
	struct nc__api_rcache rcache;
	/** Frees them once idle (api/view.c; with a loop only). */
	struct nc_timer idle_timer;
	/** HTTPS: copies of the PEM texts MHD was given (NULL: plain). */
	char *tls_cert;
	char *tls_key;
	/** Blocking queries (api/block.c). */
	struct nc__api_block block;
	/** Verified nearest (api/verify.c). */
	struct nc__api_verify verify;
	/** Fresh answers (api/fresh.c). */
	struct nc__api_fresh fresh;
};

/**
 * Check a PEM certificate and its private key (api/tls.c): 0, or -1 with
 * a message naming the file at fault (@a cert_name / @a key_name).
 */
int nc__api_tls_check(const char *cert_pem, const char *key_pem,
		      const char *cert_name, const char *key_name, char *err,
		      size_t cap);

/** Env clock (or the test clock), seconds. */
double nc__api_now(const struct nc_api *api);

/** Register /v1/health and /v1/members (api/members.c). */
int nc__api_add_builtin_routes(struct nc_api *api);
/** Coordinates, rtt, nearest, failover, self (api/handlers_coord.c). */
int nc__api_add_coord_routes(struct nc_api *api);
/** join, leave, keyring (api/handlers_agent.c). */
int nc__api_add_agent_routes(struct nc_api *api);
/** PUT /v1/event/fire/NAME, GET /v1/event/list (handlers_event.c). */
int nc__api_add_event_routes(struct nc_api *api);
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

/* ------------------------------------------------------------------ */
/* Served state (api/view.c)                                          */
/* ------------------------------------------------------------------ */

/**
 * The view, rebuilt first if it may be stale: never built, members
 * joined or were reaped (count or coordinate cache membership epoch
 * changed), or older than cfg.max_stale_s (always with max_stale_s 0 or
 * without a clock). NULL on OOM.
 */
const struct nc__api_view *nc__api_view_get(struct nc_api *api, double now);
/** Index of member @a name in the view, or SIZE_MAX (O(n) scan). */
size_t nc__api_view_find(const struct nc__api_view *v, const char *name);
/** Free the view's memory. */
void nc__api_view_destroy(struct nc__api_view *v);
/** The idle timer's callback (arg: the api). */
void nc__api_view_idle(struct nc_timer *t);

/**
 * Look @a key up for view epoch @a epoch (entries of another epoch are
 * dropped first). On a hit the body is copied into the response of
 * @a req and true is returned; false on a miss (or OOM).
 */
bool nc__api_rcache_reply(struct nc_api *api, const struct nc_api_request *req,
			  uint64_t epoch, const char *key);
/**
 * Print @a doc (taken: freed here) as the response of @a req and keep a
 * copy under @a key for view epoch @a epoch; the signature of @a doc
 * (nc__api_block_sig with @a sig_flags) updates the key's index. Returns the status to
 * return from the handler (200, or 500 with err on OOM).
 */
int nc__api_rcache_store(struct nc_api *api, const struct nc_api_request *req,
			 uint64_t epoch, const char *key, unsigned sig_flags,
			 struct cJSON *doc, char *err, size_t err_cap);
/** Free every cached answer. */
void nc__api_rcache_destroy(struct nc__api_rcache *rc);

/* ------------------------------------------------------------------ */
/* Blocking queries (api/block.c)                                     */
/* ------------------------------------------------------------------ */

/** nc__api_block_sig flags: the top-level array is a set (no order). */
#define NC__API_SIG_SET 1u

/**
 * Hash of what is significant in an answer: everything but the keys
 * that only carry coordinate values ("EstimatedMs", "MedianMs", "Coord",
 * "AgeS", "Source", "Via"); object members and arrays in order, except
 * the top-level array with NC__API_SIG_SET.
 */
uint64_t nc__api_block_sig(const struct cJSON *doc, unsigned flags);
/**
 * Check index= and wait= of @a req: 0, or 400 with err naming the
 * parameter. *index 0 = not a blocking query; *wait_s capped.
 */
int nc__api_block_parse(const struct nc_api_request *req, uint64_t *index,
			double *wait_s, char *err, size_t err_cap);
/**
 * The answer under @a key was computed from view epoch @a epoch with
 * signature @a sig: a new entry, or a new signature, takes the next
 * index.
 */
void nc__api_block_update(struct nc_api *api, const char *key,
			  uint64_t epoch, uint64_t sig);
/** Is @a key's index computed for view epoch @a epoch? */
bool nc__api_block_current(struct nc_api *api, const char *key,
			   uint64_t epoch);
/**
 * End of a read handler that produced @a status under @a key (NULL: not
 * trackable): adds X-Netcoord-Index to a 200 and, when the request's
 * index= is the key's index, holds it (returns NC_API_SUSPEND), or
 * refuses it (429) beyond cfg.max_held. Returns the status to return.
 */
int nc__api_block_finish(struct nc_api *api, const struct nc_api_request *req,
			 const char *key, int status, char *err,
			 size_t err_cap);
/** Answer every held request and free the table (nc_api_delete). */
void nc__api_block_destroy(struct nc_api *api);
/** The block timer's callback (arg: the api). */
void nc__api_block_tick(struct nc_timer *t);

/* Internals of api/http.c used by api/block.c. */
/**
 * Route @a req (no socket, no auth: an internal re-evaluation) into
 * @a resp (zeroed first). Returns the status.
 */
int nc__api_run_internal(struct nc_api *api, const struct nc_api_request *req,
			 struct nc_api_response *resp);
/** Answer a suspended request with a copy of @a resp. */
void nc__api_resume_copy(struct nc_api_pending *p,
			 const struct nc_api_response *resp);
/** Has the client of suspended @a p closed its end (or is it gone)? */
bool nc__api_pending_gone(const struct nc_api_pending *p);


/** Member JSON from copied fields (members.c). */
struct cJSON *nc__api_member_json_fields(const char *name,
					 const struct nc_addr *addr,
					 uint32_t incarnation, int state,
					 const uint8_t *meta, size_t meta_len);
/** Member JSON of view entry @a e. */
struct cJSON *nc__api_vent_json(const struct nc__api_vent *e);
/**
 * Normalized text of @a f for cache keys (status bits, sorted tags).
 * Returns 0, or -1 if it does not fit in @a cap (then do not cache).
 */
int nc__api_filter_key(const struct nc__api_filter *f, char *buf,
		       size_t cap);
/** Does view entry @a e pass filter @a f? */
bool nc__api_filter_match_vent(const struct nc__api_filter *f,
			       const struct nc__api_vent *e);

/** Member state bit sets (bit 1 << enum nc_member_state). */
#define NC__API_ST_ALIVE (1u << NC_MEMBER_ALIVE)
#define NC__API_ST_ALL                                                   \
	(NC__API_ST_ALIVE | (1u << NC_MEMBER_SUSPECT) |                    \
	 (1u << NC_MEMBER_DEAD) | (1u << NC_MEMBER_LEFT))

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

/* ------------------------------------------------------------------ */
/* Verified nearest and the combine rule (api/verify.c)               */
/* ------------------------------------------------------------------ */

/**
 * verify= of /v1/nearest: *k = 0 when absent, else 1..NC_API_VERIFY_K_MAX.
 * 400 naming verify for a bad value, or with from= another node or coord=.
 */
int nc__api_verify_parse(struct nc_api *api, const struct nc_api_request *req,
			 long *k, char *err, size_t err_cap);
/** A kept answer for @a key younger than verify_cache_s: sent, true. */
bool nc__api_verify_cached(struct nc_api *api,
			   const struct nc_api_request *req, const char *key);
/**
 * Verify the first @a k entries of @a doc's "Nodes" (a /v1/nearest answer
 * in estimate order, taken) by pinging them, re-rank, keep @a n, answer
 * later (returns NC_API_SUSPEND) and keep the answer under @a key (NULL:
 * not kept). Or an error status (429 over the budget, 503 without a
 * socket) with err.
 */
int nc__api_verify_start(struct nc_api *api, const struct nc_api_request *req,
			 struct cJSON *doc, long k, long n, const char *key,
			 char *err, size_t err_cap);
/** Cancel every verification (answered 503) and free the cache. */
void nc__api_verify_destroy(struct nc_api *api);
/** ?fresh-wait= (Go duration, 0..NC_API_FRESH_WAIT_MAX_S; default
 * NC_API_FRESH_WAIT_DEFAULT_S). 0 or 400 with err naming it. */
int nc__api_fresh_parse(const struct nc_api_request *req, double *wait_s,
			char *err, size_t err_cap);
/**
 * A ranking's candidates (@a names, @a n; @a group per candidate for
 * failover, NULL for nearest with @a k answers; @a src may be NULL: no
 * estimates, candidates in their order): pick the ones worth
 * fetching (agent/coords.h), fetch those not fresh, and hold @a req
 * until they are fresh or @a wait_s passed (the query then re-runs).
 * @return 0 answer now, NC__API_FRESH_HELD (the handler then returns
 * NC_API_SUSPEND, which is 0 too), or an error status.
 */
int nc__api_fresh_step(struct nc_api *api, const struct nc_api_request *req,
		       double wait_s, const struct nc_coord *src,
		       const char *const *names, const size_t *group,
		       size_t n, size_t k, char *err, size_t err_cap);
/** Answer every held request (503) and stop. */
void nc__api_fresh_destroy(struct nc_api *api);
/** Timer callback (api->fresh.timer). */
void nc__api_fresh_tick(struct nc_timer *t);
/**
 * The combine rule (coord/verify.c, defaults) for view entry @a e seen
 * from this agent: the RTT to serve (s) from estimate @a est_s.
 */
double nc__api_served_rtt(const struct nc__api_vent *e, double now,
			  double est_s, enum nc_coord_basis *basis);

/** Set err and return 500 (out of memory). */
int nc__api_oom(char *err, size_t err_cap);

#endif /* NC_API_API_INT_H */
