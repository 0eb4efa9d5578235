/*
 * agent/coords.c - live coordinates: the translation layer between gossip/
 * and coord/, and the coordinate gossip that lets every netcoord agent
 * rank every member.
 *
 * Probes (as Serf's ping_delegate.go does). Our ack payload is serf's:
 * 0x01 + msgpack {Adjustment, Error, Height, Vec} of our current
 * coordinate. When a direct UDP probe completes, the peer's ack payload is
 * decoded (nc_proto_decode_coord), validated (8 dims like serf, finite,
 * |values| <= 10 s, error in [0, 10]) and cached as that peer's coordinate
 * (source "probe"), and the RTT updates our own coordinate
 * (nc_coord_client_update). A bad payload is counted and dropped; our
 * coordinate is then not updated either (serf does the same).
 *
 * Why gossip coordinates too. Serf only knows the coordinates of peers it
 * probed itself: one per probe interval, so a node needs N intervals
 * (17 minutes at 1,000 members) to be able to rank everybody, and a new
 * node knows nothing. A netcoord agent must answer /v1/nearest over the
 * whole fleet seconds after joining, so agents also exchange the
 * coordinates they hold, piggy-backed on gossip packets through the
 * user_broadcast hook:
 *
 *   - only to members whose serf tags carry nc=<version> (every netcoord
 *     agent sets it, cmd/agent.c); serf members never get one, and a
 *     reply piggy-back (to == NULL: target known only by address) gets
 *     nothing;
 *   - as a second line of defence the message is shaped like a serf join
 *     intent about the sender with LTime 0 (below), which a serf node
 *     that knows the sender ignores without a log line;
 *   - every message starts with our own coordinate (age 0), then entries
 *     from a round-robin cursor over the cache, skipping the target, the
 *     dead and coordinates older than relay_max_age_s;
 *   - newest wins per node: each entry carries its age, the receiver
 *     keeps the entry whose "produced at" (now - age) is latest, whatever
 *     the source (a probe ack counts as age 0);
 *   - but only X speaks fresh for X (issue 9 row 12): an entry about X
 *     flagged "sender's own" or of age 0 is refused unless the message
 *     comes from X; a relayed age is sent rounded up to the next 0.1 s
 *     and read as if it were 0.1 s older still (the sender may have
 *     rounded down), so a coordinate from our own probe of X is never
 *     replaced by an older relayed one. (Node names in these messages
 *     are not authenticated beyond the gossip key: without encryption
 *     anyone can claim to be X, as with memberlist's own messages.)
 *   - entry and sender names with a NUL, control characters or invalid
 *     UTF-8 are refused (counted as bad entries / bad messages);
 *   - a token bucket (gossip_bytes_per_s, default 1 KiB/s) bounds the
 *     bandwidth, and a message is only sent once it can carry >= 384
 *     bytes, so few gossip packets exist only because of us; in a small
 *     fleet the rate drops to one whole table per 10 s (~20 B/s for 3
 *     agents), the 1 KiB/s cap binds from ~150 agents up;
 *   - a member that joined recently (new_member_window_s) gets a full
 *     packet from us whenever we gossip to it (at most once a second,
 *     outside the budget): with ~15 gossip packets/s reaching a node
 *     from the fleet, a new node holds most coordinates within seconds;
 *   - and every agent that was running before it greets it once with
 *     its own coordinate in a small datagram of its own
 *     (nc_gossip_send_user, ~100 bytes), after a delay spread over 5 s:
 *     the new agent holds every agent's coordinate, fresh from its
 *     owner, ~5 s after joining, for ~100 bytes per agent per join.
 *
 * Fetch (issue 12 §2). At 10,000 agents gossip at its budget cannot keep
 * every cached coordinate fresh (an agent learns ~20 a second), but a
 * query needs only its candidates'. So an agent asks the owners directly:
 *
 *   - nc_agent_coords_fetch(names): for each name without a coordinate
 *     younger than the caller's bound, a *request* (payload kind 2, naming
 *     the owner) in a datagram of its own to that owner; only to alive or
 *     suspect members tagged nc=, never twice while one is pending. The
 *     owner answers with a *reply* (kind 3): its own coordinate, age 0,
 *     flagged own, so the row-12 rule holds: only X speaks fresh for X.
 *     Owners are asked directly (no routing through others): one request
 *     and one reply of ~100 bytes per coordinate, one RTT.
 *   - Budgets, each counted: requests out, fetch_rate (200/s, two
 *     seconds of burst: a failover query over 20 groups asks 480); the
 *     pending table NC_COORDS_PENDING_MAX (1,024) fetches,
 *     each forgotten after fetch_timeout_s (1 s) and counted (an
 *     interesting name's request is repeated once after
 *     NC_COORDS_RETRY_S: a lost datagram); replies out,
 *     reply_rate (200/s) for all requesters together and one per requester
 *     per NC_COORDS_REPLY_GAP_S (a hashed table of 512 slots).
 *   - Dropped and counted: a request not naming us, malformed, or from a
 *     name that is not an alive netcoord member; a reply that is
 *     malformed, has bad values, is not age 0 / own, is about someone
 *     other than its sender, or for which nothing is pending (unsolicited,
 *     or late: after the timeout).
 *   - Interest: every name a query fetched for stays interesting for
 *     interest_s (300 s) after the last query naming it (a list of
 *     NC_COORDS_INTEREST_MAX, 4,096; beyond, counted). Every 0.25 s
 *     (nc_agent_coords_fetch_tick) interesting coordinates older than
 *     refresh_age_s (20 s) are fetched again with at most half of the
 *     request budget, so the next query finds them fresh; and interesting
 *     entries lead every gossip message we send (up to half its room,
 *     from a cursor of their own): gossip favours what queries ask for.
 *   - Picking the candidates (the API and fleet-sim use the same two
 *     functions): nearest, the k best by cached estimate, those without a
 *     coordinate first; failover, per group the members whose estimate is
 *     closest to the group's median, the groups interleaved (every
 *     group's first, then every group's second...) so that a short
 *     budget is shared among them.
 *
 * Message: a memberlist user message shaped like a serf join intent with
 * an extra "NC" field; its layout and the receiving rules are in
 * docs/WIRE.md §5, beside the memberlist and serf formats. The first
 * payload byte is the kind: 1 gossip (the original version byte), 2 fetch
 * request, 3 fetch reply. Agents from before the fetch count kinds 2 and
 * 3 as malformed coordinate messages (nothing else happens).
 *
 * Snapshot (agent/snapshot.c): the cache is exported as plain structs
 * (nc_agent_coords_export) and restored at start (nc_agent_coords_restore,
 * newest wins as for gossip), so /v1/rtt answers before the first probe.
 *
 * Memory: one entry per member (192 bytes + its name, ~32 bytes) in an
 * array grown by half when full, indexed by name with an nc_hmap
 * (util/util.h: a bucket per slot); the coordinate client gets
 * peer_cap 1024 (its arrays are calloc()ed, i.e. untouched pages until
 * used). The fetch adds nothing per entry (its flags and interest time
 * fit where a double used to be) and its tables (interest 32 KiB, pending
 * 16 KiB, replies 8 KiB) are allocated on first use: most agents of a
 * fleet never query. The cache holds at most max_entries
 * (-coord-cache-max, default 65,536): at the cap a new name evicts the
 * entry with the oldest coordinate (one without a coordinate first), never
 * an interesting one, one being fetched or one to greet; a scan of the
 * table, only at the cap.
 */
#include "agent/coords.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coord/coord.h"
#include "gossip/gossip.h"
#include "gossip/proto.h"
#include "util/util.h"

/** Payload version byte inside the "NC" field. */
#define NC_COORDS_MSG_VERSION 1
/** Resolution of an entry's age on the wire (s): 0.1 s units. */
#define NC_COORDS_AGE_QUANTUM 0.1
/** Smallest message worth a packet of its own, bytes. Arbitrary. */
#define NC_COORDS_MIN_MSG 384
/**
 * In a small fleet the budget shrinks to sending the whole table once per
 * this many seconds (probes refresh the coordinates of peers anyway).
 * Arbitrary.
 */
#define NC_COORDS_REFRESH_S 10.0
/** Typical entry size (8 dims, ~20-byte name) for that estimate. */
#define NC_COORDS_ENTRY_AVG 70.0
/** Fixed part of an entry besides name and vector: len, age, flags, dims,
 * error, adjustment, height. */
#define NC_COORDS_ENTRY_FIXED (1 + 2 + 1 + 1 + 12)
/** Largest value (seconds) accepted in a coordinate: serf's max RTT. */
#define NC_COORDS_VALUE_MAX 10.0
/** Seconds between boost messages to the same new member. */
#define NC_COORDS_BOOST_GAP 1.0
/**
 * Greetings to a new member are spread over this many seconds (each agent
 * picks its delay from a hash of both names), so that at 1,000 agents a
 * new one receives ~200 small datagrams a second rather than 1,000 at
 * once. Arbitrary, below the new-member window.
 */
#define NC_COORDS_GREET_SPREAD 5.0
/** Default peer_cap of the coordinate client (see top). */
#define NC_COORDS_PEER_CAP 1024
/** Payload kinds (first byte of the "NC" field): gossip (the original
 * version byte), fetch request, fetch reply. */
#define NC_COORDS_KIND_GOSSIP NC_COORDS_MSG_VERSION
#define NC_COORDS_KIND_FETCH_REQ 2
#define NC_COORDS_KIND_FETCH_REPLY 3
/** Most interesting names (8 bytes each, 32 KiB). Arbitrary: 40 queries
 * of 100 candidates. */
#define NC_COORDS_INTEREST_MAX 4096
/** Most fetches in flight (24 bytes each): five seconds of the default
 * request budget. */
#define NC_COORDS_PENDING_MAX 1024
/** Per-requester reply limiter: slots (hashed by name; a collision
 * shares a slot, i.e. is stricter) and one reply per requester per gap. */
#define NC_COORDS_REPLIED_SLOTS 512
#define NC_COORDS_REPLY_GAP_S 0.5
/**
 * Request bucket: this many seconds of fetch_rate as burst, so that one
 * failover query over 20 groups (480 fetches) is asked within ~0.4 s.
 */
#define NC_COORDS_FETCH_BURST_S 2.0
/**
 * An interesting name's fetch still unanswered this long after the request
 * is asked once more (the first reply to either counts; the pending entry
 * keeps its deadline): with 1 % loss, ~2 % of fetches lose a datagram,
 * and a query's candidates must all be fresh within 1 s. Above any RTT
 * of the synthetic model (~0.3 s) and of most real paths.
 */
#define NC_COORDS_RETRY_S 0.4
/** Share of the request budget the background refresh may use. */
#define NC_COORDS_REFRESH_SHARE 0.5
/** Share of a gossip message's room that interesting entries lead. */
#define NC_COORDS_INTEREST_SHARE 0.5

/**
 * One member (184 bytes, plus its name in an allocation of its own: 24
 * usable bytes cost 32 in glibc's malloc). The coordinate is kept
 * compact (dims is the client's, NC_PROTO_MAX_DIMS); the member it was
 * gossiped by is an index into the table plus that slot's generation, so
 * a reused slot is never reported as the sender. Fields are ordered
 * largest first so that the struct has no padding holes.
 */
struct entry {
	/** NUL-terminated name (malloc()ed; NULL while the slot is free). */
	char *name;
	/** Link in the name index (while used; key: name). */
	struct nc_hmap_node in_index;
	/** Coordinate: vec, error, adjustment, height (seconds). */
	double vec[NC_PROTO_MAX_DIMS];
	double error, adjustment, height;
	/** Local time at which the coordinate was current (now - age). */
	double produced;
	double measured_rtt;
	double measured_at;
	/** When the member joined (JOIN event), -inf if unknown. */
	double joined_at;
	/** When to greet it with our coordinate (0 = not pending). */
	double greet_at;
	/** Last boost message sent to it, s after c->started (float: the
	 * 1 s boost gap needs no more). */
	float last_boost;
	/** Interesting until this, s after c->started (with F_INTEREST). */
	float interest_until;
	/** Sender of a gossiped coordinate: slot and its generation. */
	uint32_t via, via_gen;
	/** Bumped whenever the slot gets a new member. */
	uint32_t gen;
	bool used;
	bool has_coord;
	uint8_t source;
	/** F_INTEREST (in c->interest), F_PENDING (in c->pend). */
	uint8_t fflags;
};

#if UINTPTR_MAX == UINT64_MAX
_Static_assert(sizeof(struct entry) == 184, "entry stays 184 bytes");
#endif

/** entry.fflags */
#define F_INTEREST 1u
#define F_PENDING 2u

/** An entry named by slot and generation (a reused slot is not it). */
struct slot_ref {
	uint32_t slot, gen;
};

/** A fetch waiting for its reply. */
struct pend {
	uint32_t slot, gen;
	double deadline;
	/** The request was repeated once (NC_COORDS_RETRY_S). */
	bool retried;
};

/** A requester's last reply (per-requester reply budget). */
struct replied {
	uint64_t hash;
	double at;
};

struct nc_agent_coords {
	char self[NC_GOSSIP_NAME_MAX + 1];
	struct nc_agent_coords_config cfg;
	struct nc_coord_client *client;
	unsigned dims;
	struct nc_gossip *g;
	double started;
	/** Entries; ent[i].used false = free slot. */
	struct entry *ent;
	size_t n_ent, cap_ent;
	/** Free slots, a list through their `via` (index + 1; 0 = none). */
	uint32_t free_head;
	/** Used entries with a coordinate. */
	size_t n_coords;
	/** Name -> used entry. Rebuilt when ent moves (get_entry). */
	struct nc_hmap index;
	/** Round-robin cursor for relays. */
	size_t cursor;
	/** Token bucket. */
	double tokens, tokens_at;
	/** Greetings pending (entries with greet_at != 0). */
	size_t greets;
	/** Bumped when an entry is created or removed or a member joins
	 * (the api's view rebuilds on it, api/view.c). */
	uint64_t members_epoch;
	/** Scratch for get(): the coordinate handed out. */
	struct nc_coord out_coord;
	/** Fetch (all allocated on first use: most agents never query). */
	nc_agent_coords_send_fn send;
	void *send_ctx;
	/** Interesting entries (NC_COORDS_INTEREST_MAX); relay cursor. */
	struct slot_ref *interest;
	size_t n_interest, icursor;
	/** Pending fetches (NC_COORDS_PENDING_MAX). */
	struct pend *pend;
	size_t n_pend;
	/** Per-requester reply limiter, hashed (NC_COORDS_REPLIED_SLOTS). */
	struct replied *replied;
	/** Request and reply token buckets. */
	double req_tokens, req_at, rep_tokens, rep_at;
	struct nc_agent_coords_stats st;
};

const char *
nc_agent_coord_source_str(enum nc_agent_coord_source s)
{
	switch (s) {
	case NC_AGENT_SRC_SELF:
		return "self";
	case NC_AGENT_SRC_PROBE:
		return "probe";
	case NC_AGENT_SRC_GOSSIP:
		return "gossip";
	default:
		return "none";
	}
}

void
nc_agent_coords_config_default(struct nc_agent_coords_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->gossip_bytes_per_s = 1024;
	cfg->relay_max_age_s = 600;
	cfg->new_member_window_s = 30;
	cfg->max_entries = 65536;
	cfg->fetch_rate = 200;
	cfg->reply_rate = 200;
	cfg->fetch_timeout_s = 1.0;
	cfg->interest_s = 300;
	cfg->refresh_age_s = 20;
}

/* ------------------------------------------------------------------ */
/* Table                                                              */
/* ------------------------------------------------------------------ */

static long
find_idx(const struct nc_agent_coords *c, const char *name)
{
	struct nc_hmap_node *n = nc_hmap_find(&c->index, name, strlen(name));
	if (n == NULL)
		return -1;
	return (long)(NC_CONTAINER_OF(n, struct entry, in_index) - c->ent);
}

/**
 * Grow the entry array to @a cap. The index links point into the array,
 * so a new index (with buckets for @a cap entries: its inserts cannot
 * fail) is built over the moved array. Nothing changes on -ENOMEM.
 */
static int
grow_entries(struct nc_agent_coords *c, size_t cap)
{
	struct nc_hmap index;
	if (nc_hmap_create(&index, cap) != 0)
		return -ENOMEM;
	struct entry *e = realloc(c->ent, cap * sizeof(*e));
	if (e == NULL) {
		nc_hmap_destroy(&index);
		return -ENOMEM;
	}
	for (size_t i = 0; i < c->n_ent; i++)
		if (e[i].used)
			nc_hmap_insert(&index, &e[i].in_index, e[i].name,
				       strlen(e[i].name));
	nc_hmap_destroy(&c->index);
	c->index = index;
	c->ent = e;
	c->cap_ent = cap;
	return 0;
}

/** Free entry @a i (reaped or evicted). */
static void
entry_free(struct nc_agent_coords *c, size_t i)
{
	struct entry *e = &c->ent[i];
	if (e->greet_at != 0)
		c->greets--;
	if (e->has_coord)
		c->n_coords--;
	e->used = false;
	e->has_coord = false;
	e->via = c->free_head;
	c->free_head = (uint32_t)i + 1;
	e->fflags = 0; /* its interest / pending refs die by generation */
	nc_hmap_remove(&c->index, &e->in_index);
	free(e->name);
	e->name = NULL;
	c->members_epoch++;
}

/** An eviction candidate: its slot and coordinate time. */
struct evict_cand {
	double t;
	size_t i;
};

static int
evict_cmp(const void *a, const void *b)
{
	double x = ((const struct evict_cand *)a)->t;
	double y = ((const struct evict_cand *)b)->t;
	return x < y ? -1 : x > y;
}

/**
 * Make room at the cap: evict the entries whose coordinates are oldest
 * (those without a coordinate first), never an interesting one, one being
 * fetched or one waiting for its greeting - max_entries / 16 of them (at
 * least one) per scan, so that the O(entries log entries) scan is paid
 * once per that many new names, not once per name (at the cap of a large
 * fleet, a dozen new names a second arrive by gossip).
 * @retval 0 evicted; -ENOSPC every entry is protected (counted).
 */
static int
evict_some(struct nc_agent_coords *c)
{
	size_t want = c->cfg.max_entries / 16, n = 0;
	struct evict_cand *v = malloc(c->n_ent * sizeof(*v));
	if (want == 0)
		want = 1;
	if (v == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < c->n_ent; i++) {
		const struct entry *e = &c->ent[i];
		if (!e->used || e->fflags != 0 || e->greet_at != 0)
			continue;
		v[n].t = e->has_coord ? e->produced : -INFINITY;
		v[n++].i = i;
	}
	if (n == 0) {
		free(v);
		c->st.evict_none++;
		return -ENOSPC;
	}
	qsort(v, n, sizeof(*v), evict_cmp);
	for (size_t k = 0; k < n && k < want; k++) {
		entry_free(c, v[k].i);
		c->st.evicted++;
	}
	free(v);
	return 0;
}

/** Find or create the entry of @a name; NULL if full / OOM / bad name. */
static struct entry *
get_entry(struct nc_agent_coords *c, const char *name, bool create)
{
	long i = find_idx(c, name);
	if (i >= 0)
		return &c->ent[i];
	size_t nl = strlen(name);
	if (!create || nl == 0 || nl > NC_GOSSIP_NAME_MAX)
		return NULL;
	/* At the cap: evict one (every used entry is in the index). */
	if (c->index.count >= c->cfg.max_entries && evict_some(c) != 0)
		return NULL;
	/* A free slot, if any (the list of freed ones). */
	size_t slot = c->n_ent;
	if (c->free_head != 0) {
		slot = c->free_head - 1;
		c->free_head = c->ent[slot].via;
	}
	if (slot == c->n_ent) {
		/* x1.5: at most a third of the array is slack (x2 left up
		 * to half of it unused: 16,384 slots for 10,000 members). */
		if (c->n_ent == c->cap_ent &&
		    grow_entries(c, c->cap_ent ? c->cap_ent + c->cap_ent / 2
					       : 16) != 0)
			return NULL;
		c->ent[slot].gen = 0;
		c->n_ent++;
	}
	char *copy = malloc(nl + 1);
	if (copy == NULL)
		return NULL;
	memcpy(copy, name, nl + 1);
	struct entry *e = &c->ent[slot];
	uint32_t gen = e->gen + 1;
	memset(e, 0, sizeof(*e));
	e->gen = gen;
	e->name = copy;
	e->used = true;
	e->measured_rtt = NAN;
	e->measured_at = NAN;
	e->joined_at = -INFINITY;
	e->last_boost = -INFINITY;
	c->members_epoch++;
	if (nc_hmap_insert(&c->index, &e->in_index, e->name, nl) != 0) {
		e->used = false;
		free(e->name);
		e->name = NULL;
		e->via = c->free_head;
		c->free_head = (uint32_t)slot + 1;
		return NULL;
	}
	return e;
}

static size_t build_msg(struct nc_agent_coords *c, double now,
			const struct entry *te, char *buf, size_t room,
			bool own_only, size_t *n_out);
static size_t wrap_msg(const struct nc_agent_coords *c, char *buf, size_t o);

static void
entry_set_coord(struct nc_agent_coords *c, struct entry *e,
		const struct nc_coord *x)
{
	if (!e->has_coord)
		c->n_coords++;
	memcpy(e->vec, x->vec, sizeof(double) * NC_PROTO_MAX_DIMS);
	e->error = x->error;
	e->adjustment = x->adjustment;
	e->height = x->height;
	e->has_coord = true;
}

static void
entry_get_coord(const struct entry *e, unsigned dims, struct nc_coord *x)
{
	memset(x, 0, sizeof(*x));
	x->dims = dims;
	memcpy(x->vec, e->vec, sizeof(double) * NC_PROTO_MAX_DIMS);
	x->error = e->error;
	x->adjustment = e->adjustment;
	x->height = e->height;
}

/* ------------------------------------------------------------------ */
/* Life cycle                                                         */
/* ------------------------------------------------------------------ */

struct nc_agent_coords *
nc_agent_coords_new(const char *self, const struct nc_coord_config *ccfg,
		  const struct nc_agent_coords_config *cfg, double now, char *err,
		  size_t err_cap)
{
	struct nc_coord_config cc;
	char dummy[8];
	if (err == NULL) {
		err = dummy;
		err_cap = sizeof(dummy);
	}
	if (ccfg != NULL) {
		cc = *ccfg;
	} else {
		nc_coord_config_default(&cc);
		cc.peer_cap = NC_COORDS_PEER_CAP;
	}
	if (cc.dims != NC_PROTO_MAX_DIMS) {
		snprintf(err, err_cap,
			 "coordinate dims must be %d (serf's payload)",
			 NC_PROTO_MAX_DIMS);
		return NULL;
	}
	if (self == NULL || self[0] == '\0' ||
	    strlen(self) > NC_GOSSIP_NAME_MAX) {
		snprintf(err, err_cap, "bad node name");
		return NULL;
	}
	struct nc_agent_coords *c = calloc(1, sizeof(*c));
	if (c == NULL) {
		snprintf(err, err_cap, "out of memory");
		return NULL;
	}
	snprintf(c->self, sizeof(c->self), "%s", self);
	if (cfg != NULL)
		c->cfg = *cfg;
	else
		nc_agent_coords_config_default(&c->cfg);
	if (c->cfg.max_entries == 0)
		c->cfg.max_entries = 65536;
	c->client = nc_coord_client_new(&cc, err, err_cap);
	if (c->client == NULL) {
		free(c);
		return NULL;
	}
	c->dims = cc.dims;
	c->started = now;
	c->tokens_at = now;
	c->req_at = now;
	c->rep_at = now;
	c->req_tokens = c->cfg.fetch_rate * NC_COORDS_FETCH_BURST_S;
	c->rep_tokens = c->cfg.reply_rate;
	return c;
}

void
nc_agent_coords_delete(struct nc_agent_coords *c)
{
	if (c == NULL)
		return;
	nc_coord_client_delete(c->client);
	for (size_t i = 0; i < c->n_ent; i++)
		free(c->ent[i].name);
	free(c->ent);
	nc_hmap_destroy(&c->index);
	free(c->interest);
	free(c->pend);
	free(c->replied);
	free(c);
}

uint64_t
nc_agent_coords_members_epoch(const struct nc_agent_coords *c)
{
	return c->members_epoch;
}

void
nc_agent_coords_set_gossip(struct nc_agent_coords *c, struct nc_gossip *g)
{
	c->g = g;
}

struct nc_coord_client *
nc_agent_coords_client(struct nc_agent_coords *c)
{
	return c->client;
}

void
nc_agent_coords_stats(const struct nc_agent_coords *c,
		    struct nc_agent_coords_stats *out)
{
	*out = c->st;
	out->cached = 0;
	for (size_t i = 0; i < c->n_ent; i++)
		out->cached += c->ent[i].used && c->ent[i].has_coord;
	out->interesting = (unsigned)c->n_interest;
}

/* ------------------------------------------------------------------ */
/* Probes                                                             */
/* ------------------------------------------------------------------ */

/** Coordinate values we accept from the network. */
static bool
coord_sane(const struct nc_agent_coords *c, const struct nc_coord *x)
{
	if (x->dims != c->dims || nc_coord_check(x) != 0)
		return false;
	for (unsigned i = 0; i < x->dims; i++)
		if (fabs(x->vec[i]) > NC_COORDS_VALUE_MAX)
			return false;
	return fabs(x->adjustment) <= NC_COORDS_VALUE_MAX &&
	       x->height <= NC_COORDS_VALUE_MAX &&
	       x->error <= NC_COORDS_VALUE_MAX;
}

size_t
nc_agent_coords_ack_payload(struct nc_agent_coords *c, char *buf, size_t cap)
{
	struct nc_coord me;
	struct nc_proto_coord pc;
	nc_coord_client_get(c->client, &me);
	memset(&pc, 0, sizeof(pc));
	pc.dims = me.dims;
	memcpy(pc.vec, me.vec, sizeof(double) * me.dims);
	pc.error = me.error;
	pc.adjustment = me.adjustment;
	pc.height = me.height;
	int n = nc_proto_encode_coord(buf, cap, &pc);
	return n > 0 ? (size_t)n : 0;
}

int
nc_agent_coords_probe_done(struct nc_agent_coords *c, double now, const char *peer,
			 double rtt_s, const char *payload, size_t len)
{
	struct nc_proto_coord pc;
	struct nc_coord x;
	if (payload == NULL || len == 0) {
		c->st.payload_missing++;
		return -EINVAL;
	}
	const char *pos = payload;
	if (nc_proto_decode_coord(&pos, payload + len, &pc) != 0) {
		c->st.payload_bad_decode++;
		return -EINVAL;
	}
	memset(&x, 0, sizeof(x));
	x.dims = pc.dims;
	memcpy(x.vec, pc.vec, sizeof(double) * pc.dims);
	x.error = pc.error;
	x.adjustment = pc.adjustment;
	x.height = pc.height;
	if (!coord_sane(c, &x)) {
		c->st.payload_bad_value++;
		return -ERANGE;
	}
	struct entry *e = NULL;
	if (strcmp(peer, c->self) != 0)
		e = get_entry(c, peer, true);
	if (e != NULL) {
		entry_set_coord(c, e, &x);
		e->produced = now;
		e->source = NC_AGENT_SRC_PROBE;
		e->measured_rtt = rtt_s;
		e->measured_at = now;
	}
	if (nc_coord_client_update(c->client, peer, &x, rtt_s, NULL) != 0) {
		c->st.client_rejected++;
		return -EINVAL;
	}
	c->st.probe_updates++;
	return 0;
}

void
nc_agent_coords_note_rtt(struct nc_agent_coords *c, double now,
			 const char *peer, double rtt_s)
{
	if (!isfinite(rtt_s) || rtt_s < 0 || strcmp(peer, c->self) == 0)
		return;
	struct entry *e = get_entry(c, peer, false);
	if (e == NULL)
		return;
	e->measured_rtt = rtt_s;
	e->measured_at = now;
}

void
nc_agent_coords_member_joined(struct nc_agent_coords *c, double now,
			    const char *name)
{
	if (strcmp(name, c->self) == 0)
		return;
	c->members_epoch++;
	/* The join time matters only to a greeting and boosts, both only
	 * for members that join once we have run new_member_window_s: no
	 * entry otherwise (an agent that starts, or a formed fleet, learns
	 * every member at once and would fill its cache with empty ones). */
	bool welcome = c->cfg.new_member_window_s > 0 &&
		       now - c->started >= c->cfg.new_member_window_s;
	struct entry *e = get_entry(c, name, welcome);
	if (e == NULL)
		return;
	e->joined_at = now;
	/* Greet it with our coordinate if we were here before it: it then
	 * learns every agent's coordinate from the agent itself, seconds
	 * after joining. A node that just started greets nobody (everyone
	 * is new to it). */
	if (c->cfg.new_member_window_s > 0 && c->cfg.gossip_bytes_per_s > 0 &&
	    now - c->started >= c->cfg.new_member_window_s) {
		uint64_t h = nc_hash_str(c->self) ^ (nc_hash_str(name) * 31);
		h ^= h >> 29;
		if (e->greet_at == 0)
			c->greets++;
		e->greet_at =
		    now + NC_COORDS_GREET_SPREAD * (double)(h % 1000) / 1000.0 +
		    1e-3;
	}
}

size_t
nc_agent_coords_greet_take(struct nc_agent_coords *c, double now,
			 const struct nc_gossip_member **to, char *buf,
			 size_t cap)
{
	*to = NULL;
	for (size_t i = 0; c->greets > 0 && i < c->n_ent; i++) {
		struct entry *e = &c->ent[i];
		if (!e->used || e->greet_at == 0 || e->greet_at > now)
			continue;
		e->greet_at = 0;
		c->greets--;
		const struct nc_gossip_member *m =
		    c->g != NULL ? nc_gossip_member_find(c->g, e->name) : NULL;
		if (m == NULL || m->state != NC_MEMBER_ALIVE ||
		    !nc_agent_member_is_nc(m))
			continue;
		size_t n = 0;
		size_t len = build_msg(c, now, e, buf, cap, true, &n);
		if (len == 0)
			continue;
		c->st.gossip_greets++;
		c->st.gossip_msgs_out++;
		c->st.gossip_bytes_out += len;
		c->st.gossip_entries_out += n;
		*to = m;
		return len;
	}
	return 0;
}

void
nc_agent_coords_member_changed(struct nc_agent_coords *c)
{
	c->members_epoch++;
}

void
nc_agent_coords_member_reaped(struct nc_agent_coords *c, const char *name)
{
	long i = find_idx(c, name);
	nc_coord_client_forget(c->client, name);
	c->members_epoch++;
	if (i < 0)
		return;
	entry_free(c, (size_t)i);
}

/* ------------------------------------------------------------------ */
/* Lookup                                                             */
/* ------------------------------------------------------------------ */

int
nc_agent_coords_get(struct nc_agent_coords *c, double now, const char *name,
		  struct nc_agent_coord_info *out)
{
	memset(out, 0, sizeof(*out));
	out->measured_rtt_s = NAN;
	out->measured_age_s = NAN;
	out->via = "";
	if (strcmp(name, c->self) == 0) {
		nc_coord_client_get(c->client, &c->out_coord);
		out->has_coord = true;
		out->coord = &c->out_coord;
		out->age_s = 0;
		out->source = NC_AGENT_SRC_SELF;
		return 0;
	}
	long i = find_idx(c, name);
	if (i < 0)
		return -1;
	const struct entry *e = &c->ent[i];
	out->has_coord = e->has_coord;
	out->coord = NULL;
	if (e->has_coord) {
		entry_get_coord(e, c->dims, &c->out_coord);
		out->coord = &c->out_coord;
	}
	out->age_s = e->has_coord ? now - e->produced : NAN;
	out->source = e->has_coord ? (enum nc_agent_coord_source)e->source
				   : NC_AGENT_SRC_NONE;
	if (e->has_coord && e->source == NC_AGENT_SRC_GOSSIP &&
	    e->via < c->n_ent && c->ent[e->via].used &&
	    c->ent[e->via].gen == e->via_gen)
		out->via = c->ent[e->via].name;
	if (!isnan(e->measured_at)) {
		out->measured_rtt_s = e->measured_rtt;
		out->measured_age_s = now - e->measured_at;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* Snapshot                                                           */
/* ------------------------------------------------------------------ */

_Static_assert(NC_AGENT_COORDS_NAME_CAP == NC_GOSSIP_NAME_MAX + 1,
	       "saved names hold gossip names");

long
nc_agent_coords_export(const struct nc_agent_coords *c, double now,
		       struct nc_agent_coord_saved **out)
{
	size_t n = 0, k = 0;
	*out = NULL;
	for (size_t i = 0; i < c->n_ent; i++)
		n += c->ent[i].used && c->ent[i].has_coord;
	if (n == 0)
		return 0;
	struct nc_agent_coord_saved *v = malloc(n * sizeof(*v));
	if (v == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < c->n_ent && k < n; i++) {
		const struct entry *e = &c->ent[i];
		if (!e->used || !e->has_coord)
			continue;
		struct nc_agent_coord_saved *o = &v[k++];
		snprintf(o->name, sizeof(o->name), "%s", e->name);
		entry_get_coord(e, c->dims, &o->coord);
		o->age_s = now - e->produced;
		o->source = (enum nc_agent_coord_source)e->source;
		o->measured_rtt_s = e->measured_rtt;
		o->measured_age_s =
		    isnan(e->measured_at) ? NAN : now - e->measured_at;
	}
	*out = v;
	return (long)k;
}

int
nc_agent_coords_restore(struct nc_agent_coords *c, double now,
			const struct nc_agent_coord_saved *in)
{
	size_t nl = strnlen(in->name, sizeof(in->name));
	if (nl == 0 || nl > NC_GOSSIP_NAME_MAX ||
	    strcmp(in->name, c->self) == 0 || !coord_sane(c, &in->coord) ||
	    !isfinite(in->age_s) || in->age_s < 0 ||
	    (in->source != NC_AGENT_SRC_PROBE &&
	     in->source != NC_AGENT_SRC_GOSSIP))
		return -EINVAL;
	bool measured = isfinite(in->measured_rtt_s) &&
			isfinite(in->measured_age_s) &&
			in->measured_rtt_s >= 0 && in->measured_age_s >= 0;
	struct entry *e = get_entry(c, in->name, true);
	if (e == NULL)
		return -ENOSPC;
	if (e->has_coord && e->produced >= now - in->age_s)
		return 0;
	entry_set_coord(c, e, &in->coord);
	e->produced = now - in->age_s;
	e->source = (uint8_t)in->source;
	e->via = UINT32_MAX;
	if (measured && (isnan(e->measured_at) ||
			 e->measured_at < now - in->measured_age_s)) {
		e->measured_rtt = in->measured_rtt_s;
		e->measured_at = now - in->measured_age_s;
	}
	c->members_epoch++;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Coordinate gossip                                                  */
/* ------------------------------------------------------------------ */

bool
nc_agent_member_is_nc(const struct nc_gossip_member *m)
{
	struct nc_proto_tag tags[NC_PROTO_MAX_TAGS];
	unsigned n = 0;
	if (m->meta_len == 0 || m->meta[0] != NC_PROTO_SERF_TAG_MAGIC)
		return false;
	if (nc_proto_decode_tags((const char *)m->meta, m->meta_len, tags,
				 NC_PROTO_MAX_TAGS, &n) != 0)
		return false;
	for (unsigned i = 0; i < n; i++)
		if (tags[i].key.len == strlen(NC_AGENT_COORDS_TAG) &&
		    memcmp(tags[i].key.data, NC_AGENT_COORDS_TAG,
			   tags[i].key.len) == 0)
			return true;
	return false;
}

static void
put_u16(char *p, unsigned v)
{
	p[0] = (char)(v >> 8);
	p[1] = (char)v;
}

static unsigned
get_u16(const char *p)
{
	return (unsigned)(uint8_t)p[0] << 8 | (uint8_t)p[1];
}

static void
put_f32(char *p, double v)
{
	float f = (float)v;
	uint32_t u;
	memcpy(&u, &f, 4);
	p[0] = (char)(u >> 24);
	p[1] = (char)(u >> 16);
	p[2] = (char)(u >> 8);
	p[3] = (char)u;
}

static double
get_f32(const char *p)
{
	uint32_t u = (uint32_t)(uint8_t)p[0] << 24 |
		     (uint32_t)(uint8_t)p[1] << 16 |
		     (uint32_t)(uint8_t)p[2] << 8 | (uint32_t)(uint8_t)p[3];
	float f;
	memcpy(&f, &u, 4);
	return (double)f;
}

static size_t
entry_size(const struct nc_agent_coords *c, const char *name)
{
	return NC_COORDS_ENTRY_FIXED + strlen(name) + 4u * c->dims;
}

static size_t
put_entry(char *p, const char *name, double age, bool own,
	  const struct nc_coord *x)
{
	size_t nl = strlen(name), o = 0;
	/* A relayed age is rounded up: never fresher than it is. */
	double ds = own ? age * 10.0 : ceil(age * 10.0);
	if (!own && ds < 1)
		ds = 1;
	p[o++] = (char)nl;
	memcpy(p + o, name, nl);
	o += nl;
	put_u16(p + o, ds <= 0 ? 0 : ds >= 65535 ? 65535 : (unsigned)ds);
	o += 2;
	p[o++] = (char)(own ? 1 : 0);
	p[o++] = (char)x->dims;
	for (unsigned i = 0; i < x->dims; i++, o += 4)
		put_f32(p + o, x->vec[i]);
	put_f32(p + o, x->error);
	put_f32(p + o + 4, x->adjustment);
	put_f32(p + o + 8, x->height);
	return o + 12;
}

/** Header: 01 83 a5 LTime 00 a4 Node da len name a2 NC da len. */
static size_t
header_size(const char *self)
{
	return 1 + 1 + 6 + 1 + 5 + 3 + strlen(self) + 3 + 3;
}

static bool
member_usable(const struct nc_agent_coords *c, const char *name)
{
	if (c->g == NULL)
		return true;
	const struct nc_gossip_member *m = nc_gossip_member_find(c->g, name);
	return m != NULL &&
	       (m->state == NC_MEMBER_ALIVE || m->state == NC_MEMBER_SUSPECT);
}

/**
 * Write a coordinate message into buf (room bytes): our own coordinate,
 * then (unless own_only) entries from the relay cursor, skipping @a te.
 * Returns its length, 0 if it does not fit.
 */
static size_t
build_msg(struct nc_agent_coords *c, double now, const struct entry *te,
	  char *buf, size_t room, bool own_only, size_t *n_out)
{
	size_t hdr = header_size(c->self);
	struct nc_coord me;
	nc_coord_client_get(c->client, &me);
	if (room < hdr + 2 + entry_size(c, c->self) || strlen(c->self) > 255)
		return 0;

	/* Payload first, at its final offset. */
	char *pl = buf + hdr;
	size_t o = 2, n = 0, pl_room = room - hdr;
	o += put_entry(pl + o, c->self, 0, true, &me);
	n++;
	/* Interesting entries lead (gossip favours what queries need), up
	 * to a share of the room, from a cursor of their own. */
	size_t ilimit = (size_t)((double)pl_room * NC_COORDS_INTEREST_SHARE);
	for (size_t k = 0; !own_only && k < c->n_interest && n < 255; k++) {
		size_t ii = c->icursor % c->n_interest;
		const struct slot_ref *r = &c->interest[ii];
		struct entry *e = &c->ent[r->slot];
		if (!e->used || e->gen != r->gen || !e->has_coord || e == te ||
		    now - e->produced > c->cfg.relay_max_age_s ||
		    !member_usable(c, e->name)) {
			c->icursor = ii + 1;
			continue;
		}
		size_t es = entry_size(c, e->name);
		if (o + es > ilimit)
			break;
		struct nc_coord x;
		entry_get_coord(e, c->dims, &x);
		o += put_entry(pl + o, e->name, now - e->produced, false, &x);
		n++;
		c->icursor = ii + 1;
	}
	size_t scanned = 0;
	while (!own_only && n < 255 && scanned < c->n_ent && c->n_ent > 0) {
		size_t i = c->cursor % c->n_ent;
		struct entry *e = &c->ent[i];
		if (!e->used || !e->has_coord || e == te ||
		    (e->fflags & F_INTEREST) ||
		    now - e->produced > c->cfg.relay_max_age_s ||
		    !member_usable(c, e->name)) {
			c->cursor = i + 1;
			scanned++;
			continue;
		}
		size_t es = entry_size(c, e->name);
		if (o + es > pl_room)
			break;
		struct nc_coord x;
		entry_get_coord(e, c->dims, &x);
		o += put_entry(pl + o, e->name, now - e->produced, false, &x);
		n++;
		c->cursor = i + 1;
		scanned++;
	}
	pl[0] = NC_COORDS_MSG_VERSION;
	pl[1] = (char)n;
	size_t len = wrap_msg(c, buf, o);
	if (len > 0)
		*n_out = n;
	return len;
}

/**
 * Write the serf join intent disguise in front of the payload of
 * @a pl_len bytes already at buf + header_size(). Returns the message
 * length (0: cannot happen, header_size() agrees).
 */
static size_t
wrap_msg(const struct nc_agent_coords *c, char *buf, size_t o)
{
	size_t hdr = header_size(c->self);
	size_t h = 0, sl = strlen(c->self);
	buf[h++] = NC_PROTO_SERF_JOIN;
	buf[h++] = (char)0x83;
	buf[h++] = (char)0xa5;
	memcpy(buf + h, "LTime", 5);
	h += 5;
	buf[h++] = 0x00;
	buf[h++] = (char)0xa4;
	memcpy(buf + h, "Node", 4);
	h += 4;
	buf[h++] = (char)0xda;
	put_u16(buf + h, (unsigned)sl);
	h += 2;
	memcpy(buf + h, c->self, sl);
	h += sl;
	buf[h++] = (char)0xa2;
	buf[h++] = 'N';
	buf[h++] = 'C';
	buf[h++] = (char)0xda;
	put_u16(buf + h, (unsigned)o);
	h += 2;
	if (h != hdr)
		return 0; /* cannot happen: header_size() agrees */
	return h + o;
}

size_t
nc_agent_coords_user_broadcast(struct nc_agent_coords *c, double now,
			     const struct nc_gossip_member *to, char *buf,
			     size_t cap)
{
	if (c->cfg.gossip_bytes_per_s <= 0)
		return 0;
	if (to == NULL) {
		c->st.skip_no_target++;
		return 0;
	}
	if (!nc_agent_member_is_nc(to) || to->is_self) {
		c->st.skip_not_nc++;
		return 0;
	}
	/* Refill the bucket (two packets' worth at most). The rate is the
	 * budget, or less in a small fleet: what it takes to send our whole
	 * table once per NC_COORDS_REFRESH_S (3 agents need ~20 B/s, not
	 * 1 KiB/s); messages then need only carry the whole table. */
	size_t cached = 1 + c->n_coords;
	double table = (double)(header_size(c->self) + 2) +
		       (double)cached * NC_COORDS_ENTRY_AVG;
	double rate = table / NC_COORDS_REFRESH_S;
	if (rate > c->cfg.gossip_bytes_per_s)
		rate = c->cfg.gossip_bytes_per_s;
	double min_msg = table < NC_COORDS_MIN_MSG ? table : NC_COORDS_MIN_MSG;
	double burst = 2.0 * 1400;
	c->tokens += (now - c->tokens_at) * rate;
	if (c->tokens > burst)
		c->tokens = burst;
	c->tokens_at = now;

	size_t room = cap;
	bool boost = false;
	struct entry *te = get_entry(c, to->name, false);
	if (te != NULL && c->cfg.new_member_window_s > 0 &&
	    now - te->joined_at < c->cfg.new_member_window_s &&
	    te->joined_at - c->started >= c->cfg.new_member_window_s &&
	    now - (c->started + te->last_boost) >= NC_COORDS_BOOST_GAP) {
		boost = true;
	} else {
		if (c->tokens < min_msg) {
			c->st.skip_budget++;
			return 0;
		}
		if ((double)room > c->tokens)
			room = (size_t)c->tokens;
	}
	size_t n = 0;
	size_t len = build_msg(c, now, te, buf, room, false, &n);
	if (len == 0)
		return 0;
	if (boost) {
		te->last_boost = (float)(now - c->started);
		c->st.gossip_boosts++;
	} else {
		c->tokens -= (double)len;
	}
	c->st.gossip_msgs_out++;
	c->st.gossip_bytes_out += len;
	c->st.gossip_entries_out += n;
	return len;
}

/** Read a msgpack raw string (fixstr / str8 / str16). */
static int
read_str(const char **p, const char *end, const char **s, size_t *len)
{
	if (*p >= end)
		return -1;
	uint8_t t = (uint8_t) * *p;
	(*p)++;
	if ((t & 0xe0) == 0xa0) {
		*len = t & 0x1f;
	} else if (t == 0xd9) {
		if (end - *p < 1)
			return -1;
		*len = (uint8_t) * *p;
		(*p)++;
	} else if (t == 0xda) {
		if (end - *p < 2)
			return -1;
		*len = get_u16(*p);
		*p += 2;
	} else {
		return -1;
	}
	if ((size_t)(end - *p) < *len)
		return -1;
	*s = *p;
	*p += *len;
	return 0;
}

/**
 * Read one entry at *pp (name into @a name, NUL-terminated). @retval 0,
 * -1 malformed (the rest of the message cannot be read either).
 */
static int
read_entry(const char **pp, const char *end, char *name, size_t *nl_out,
	   unsigned *age_ds, bool *own, struct nc_coord *x)
{
	const char *p = *pp;
	if (end - p < 1)
		return -1;
	size_t nl = (uint8_t)*p++;
	if (nl == 0 || nl > NC_GOSSIP_NAME_MAX || (size_t)(end - p) < nl + 4)
		return -1;
	memcpy(name, p, nl);
	name[nl] = '\0';
	p += nl;
	*age_ds = get_u16(p);
	p += 2;
	*own = (uint8_t)*p & 1;
	p++;
	unsigned dims = (uint8_t)*p++;
	if (dims == 0 || dims > NC_COORD_DIMS_MAX ||
	    (size_t)(end - p) < 4u * dims + 12)
		return -1;
	memset(x, 0, sizeof(*x));
	x->dims = dims;
	for (unsigned i = 0; i < dims; i++, p += 4)
		x->vec[i] = get_f32(p);
	x->error = get_f32(p);
	x->adjustment = get_f32(p + 4);
	x->height = get_f32(p + 8);
	p += 12;
	*nl_out = nl;
	*pp = p;
	return 0;
}

/** Apply the payload of one message from @a sender. */
static int
apply_payload(struct nc_agent_coords *c, double now, const char *sender,
	      const char *p, const char *end)
{
	if (end - p < 2 || (uint8_t)p[0] != NC_COORDS_MSG_VERSION)
		return -1;
	unsigned n = (uint8_t)p[1];
	p += 2;
	for (unsigned k = 0; k < n; k++) {
		char name[NC_GOSSIP_NAME_MAX + 1];
		struct nc_coord x;
		size_t nl;
		unsigned age_ds;
		bool own;
		if (read_entry(&p, end, name, &nl, &age_ds, &own, &x) != 0)
			return -1;
		double age = age_ds / 10.0;
		if (nc_gossip_name_check(name, nl) != NC_GOSSIP_NAME_OK ||
		    !coord_sane(c, &x)) {
			c->st.gossip_entries_bad++;
			continue;
		}
		bool from_owner = strcmp(name, sender) == 0;
		if (!from_owner && (own || age_ds == 0)) {
			/* Fresh news about X only comes from X. */
			c->st.gossip_entries_bad++;
			continue;
		}
		if (!from_owner)
			age += NC_COORDS_AGE_QUANTUM;
		if (strcmp(name, c->self) == 0) {
			c->st.gossip_entries_old++;
			continue;
		}
		bool known =
		    c->g == NULL || nc_gossip_member_find(c->g, name) != NULL;
		struct entry *e = known ? get_entry(c, name, true) : NULL;
		double produced = now - age;
		if (e == NULL || (e->has_coord && e->produced >= produced)) {
			c->st.gossip_entries_old++;
			continue;
		}
		entry_set_coord(c, e, &x);
		e->produced = produced;
		e->source = NC_AGENT_SRC_GOSSIP;
		/* The sender's own entry came first in the message, so it
		 * is normally in the table already. */
		long vi = sender[0] != '\0' ? find_idx(c, sender) : -1;
		e->via = vi >= 0 ? (uint32_t)vi : UINT32_MAX;
		e->via_gen = vi >= 0 ? c->ent[vi].gen : 0;
		c->st.gossip_entries_new++;
	}
	return 0;
}

static void on_fetch_req(struct nc_agent_coords *c, double now,
			 const char *sender, const char *p, const char *end);
static void on_fetch_reply(struct nc_agent_coords *c, double now,
			   const char *sender, const char *p,
			   const char *end);

int
nc_agent_coords_user_msg(struct nc_agent_coords *c, double now, const char *buf,
		       size_t len)
{
	const char *p = buf, *end = buf + len;
	const char *node = NULL, *nc = NULL;
	size_t node_len = 0, nc_len = 0;
	if (len < 4 || (uint8_t)p[0] != NC_PROTO_SERF_JOIN ||
	    ((uint8_t)p[1] & 0xf0) != 0x80)
		return 0;
	unsigned keys = (uint8_t)p[1] & 0x0f;
	p += 2;
	for (unsigned k = 0; k < keys; k++) {
		const char *key;
		size_t kl;
		if (read_str(&p, end, &key, &kl) != 0)
			return 0;
		if (kl == 5 && memcmp(key, "LTime", 5) == 0) {
			if (p >= end || (uint8_t)*p > 0x7f)
				return 0;
			p++;
		} else if (kl == 4 && memcmp(key, "Node", 4) == 0) {
			if (read_str(&p, end, &node, &node_len) != 0)
				return 0;
		} else if (kl == 2 && memcmp(key, "NC", 2) == 0) {
			if (read_str(&p, end, &nc, &nc_len) != 0) {
				c->st.gossip_msgs_bad++;
				return 1;
			}
		} else {
			return 0; /* a real serf join intent has no others */
		}
	}
	if (nc == NULL)
		return 0; /* a real join intent: not ours */
	c->st.gossip_msgs_in++;
	c->st.gossip_bytes_in += len;
	char sender[NC_GOSSIP_NAME_MAX + 1] = "";
	if (node != NULL &&
	    nc_gossip_name_check(node, node_len) != NC_GOSSIP_NAME_OK) {
		c->st.gossip_msgs_bad++;
		return 1;
	}
	if (node != NULL) {
		memcpy(sender, node, node_len);
		sender[node_len] = '\0';
	}
	if (nc_len >= 1 && (uint8_t)nc[0] == NC_COORDS_KIND_FETCH_REQ) {
		on_fetch_req(c, now, sender, nc, nc + nc_len);
		return 1;
	}
	if (nc_len >= 1 && (uint8_t)nc[0] == NC_COORDS_KIND_FETCH_REPLY) {
		on_fetch_reply(c, now, sender, nc, nc + nc_len);
		return 1;
	}
	if (apply_payload(c, now, sender, nc, nc + nc_len) != 0)
		c->st.gossip_msgs_bad++;
	return 1;
}

/* ------------------------------------------------------------------ */
/* Coordinate fetch                                                   */
/* ------------------------------------------------------------------ */

void
nc_agent_coords_set_sender(struct nc_agent_coords *c,
			   nc_agent_coords_send_fn fn, void *ctx)
{
	c->send = fn;
	c->send_ctx = ctx;
}

/** Refill a token bucket of @a rate per s holding @a burst_s worth. */
static void
bucket_refill(double *tokens, double *at, double rate, double burst_s,
	      double now)
{
	if (now > *at)
		*tokens += (now - *at) * rate;
	if (*tokens > rate * burst_s)
		*tokens = rate * burst_s;
	*at = now;
}

/** Is @a name an alive or suspect netcoord member other than us? */
static bool
member_nc(const struct nc_agent_coords *c, const char *name)
{
	if (strcmp(name, c->self) == 0)
		return false;
	if (c->g == NULL)
		return true;
	const struct nc_gossip_member *m = nc_gossip_member_find(c->g, name);
	return m != NULL && !m->is_self &&
	       (m->state == NC_MEMBER_ALIVE || m->state == NC_MEMBER_SUSPECT) &&
	       nc_agent_member_is_nc(m);
}

/** Can we fetch from @a name? */
static bool
fetchable(const struct nc_agent_coords *c, const char *name)
{
	return c->send != NULL && c->cfg.fetch_rate > 0 && member_nc(c, name);
}

/**
 * Send a request to the owner of entry @a i (the caller checked budget,
 * table room and fetchable()). @retval 0 sent (pending), -1 not.
 */
static int
send_request_msg(struct nc_agent_coords *c, const struct entry *e)
{
	char buf[16 + 2 * (NC_GOSSIP_NAME_MAX + 1) + 16];
	size_t hdr = header_size(c->self), nl = strlen(e->name);
	if (strlen(c->self) > 255 || hdr + 3 + nl > sizeof(buf))
		return -1;
	/* 02 | n=1 | name_len | name: the owner asked (the receiver). */
	char *pl = buf + hdr;
	pl[0] = NC_COORDS_KIND_FETCH_REQ;
	pl[1] = 1;
	pl[2] = (char)nl;
	memcpy(pl + 3, e->name, nl);
	size_t len = wrap_msg(c, buf, 3 + nl);
	if (len == 0 || c->send(c->send_ctx, e->name, buf, len) != 0) {
		c->st.fetch_skip_unusable++;
		return -1;
	}
	c->req_tokens -= 1;
	c->st.fetch_req_out++;
	c->st.gossip_msgs_out++;
	c->st.gossip_bytes_out += len;
	return 0;
}

static int
send_request(struct nc_agent_coords *c, double now, size_t i)
{
	struct entry *e = &c->ent[i];
	if (c->pend == NULL &&
	    (c->pend = calloc(NC_COORDS_PENDING_MAX, sizeof(*c->pend))) == NULL)
		return -1;
	if (send_request_msg(c, e) != 0)
		return -1;
	c->pend[c->n_pend++] = (struct pend){(uint32_t)i, e->gen,
					     now + c->cfg.fetch_timeout_s,
					     false};
	e->fflags |= F_PENDING;
	return 0;
}

/** Make entry @a i interesting until now + interest_s. */
static void
interest_mark(struct nc_agent_coords *c, double now, size_t i)
{
	struct entry *e = &c->ent[i];
	e->interest_until = (float)(now - c->started + c->cfg.interest_s);
	if (e->fflags & F_INTEREST)
		return;
	if (c->interest == NULL &&
	    (c->interest = calloc(NC_COORDS_INTEREST_MAX,
				  sizeof(*c->interest))) == NULL)
		return;
	if (c->n_interest >= NC_COORDS_INTEREST_MAX) {
		c->st.interest_full++;
		return;
	}
	c->interest[c->n_interest++] = (struct slot_ref){(uint32_t)i, e->gen};
	e->fflags |= F_INTEREST;
}

unsigned
nc_agent_coords_fetch(struct nc_agent_coords *c, double now,
		      const char *const *names, size_t n, double fresh_age_s,
		      struct nc_agent_coords_fetch_result *out)
{
	struct nc_agent_coords_fetch_result r = {0, 0, 0, 0};
	bucket_refill(&c->req_tokens, &c->req_at, c->cfg.fetch_rate,
		      NC_COORDS_FETCH_BURST_S, now);
	for (size_t k = 0; k < n; k++) {
		const char *name = names[k];
		if (strcmp(name, c->self) == 0) {
			r.fresh++;
			continue;
		}
		/* The member check (a tag decode) only where it matters: a
		 * held request polls its names every 50 ms. */
		long at = find_idx(c, name);
		int ok = -1;
		if (at < 0) {
			ok = fetchable(c, name);
			struct entry *ne = ok ? get_entry(c, name, true) : NULL;
			if (ne == NULL) {
				r.unusable++;
				continue;
			}
			at = ne - c->ent;
		}
		size_t i = (size_t)at;
		struct entry *e = &c->ent[i];
		interest_mark(c, now, i);
		if (e->has_coord && now - e->produced < fresh_age_s) {
			r.fresh++;
		} else if (e->fflags & F_PENDING) {
			r.pending++;
		} else if (!(ok >= 0 ? ok : fetchable(c, name))) {
			r.unusable++;
		} else if (c->req_tokens < 1) {
			c->st.fetch_skip_budget++;
			r.deferred++;
		} else if (c->n_pend >= NC_COORDS_PENDING_MAX) {
			c->st.fetch_skip_full++;
			r.deferred++;
		} else if (send_request(c, now, i) == 0) {
			r.pending++;
		} else {
			r.unusable++;
		}
	}
	if (out != NULL)
		*out = r;
	return r.pending + r.deferred;
}

void
nc_agent_coords_fetch_tick(struct nc_agent_coords *c, double now)
{
	/* Fetches past their timeout: forgotten (a late reply is then
	 * unsolicited). */
	for (size_t k = 0; k < c->n_pend;) {
		struct pend *pd = &c->pend[k];
		struct entry *e = &c->ent[pd->slot];
		bool live = e->used && e->gen == pd->gen;
		if (live && pd->deadline > now) {
			if (!pd->retried && (e->fflags & F_INTEREST) &&
			    now >= pd->deadline - c->cfg.fetch_timeout_s +
					  NC_COORDS_RETRY_S &&
			    c->req_tokens >= 1 && fetchable(c, e->name) &&
			    send_request_msg(c, e) == 0) {
				pd->retried = true;
				c->st.fetch_retries++;
			}
			k++;
			continue;
		}
		if (live) {
			e->fflags &= (uint8_t)~F_PENDING;
			c->st.fetch_timeouts++;
		}
		c->pend[k] = c->pend[--c->n_pend];
	}
	/* Interest: expired names dropped; stale ones fetched again with
	 * at most a share of the request budget. */
	bucket_refill(&c->req_tokens, &c->req_at, c->cfg.fetch_rate,
		      NC_COORDS_FETCH_BURST_S, now);
	double keep = c->cfg.fetch_rate * NC_COORDS_FETCH_BURST_S *
		      (1 - NC_COORDS_REFRESH_SHARE);
	for (size_t k = 0; k < c->n_interest;) {
		struct slot_ref *r = &c->interest[k];
		struct entry *e = &c->ent[r->slot];
		bool live = e->used && e->gen == r->gen;
		if (!live || c->started + e->interest_until <= now) {
			if (live)
				e->fflags &= (uint8_t)~F_INTEREST;
			c->interest[k] = c->interest[--c->n_interest];
			continue;
		}
		k++;
		if ((e->fflags & F_PENDING) ||
		    (e->has_coord &&
		     now - e->produced < c->cfg.refresh_age_s) ||
		    c->req_tokens < keep + 1 ||
		    c->n_pend >= NC_COORDS_PENDING_MAX ||
		    !fetchable(c, e->name))
			continue;
		if (send_request(c, now, r->slot) == 0)
			c->st.refetches++;
	}
}

/** Per-requester limiter: may @a who get a reply now? (Records it.) */
static bool
replied_ok(struct nc_agent_coords *c, double now, const char *who)
{
	if (c->replied == NULL &&
	    (c->replied = calloc(NC_COORDS_REPLIED_SLOTS,
				 sizeof(*c->replied))) == NULL)
		return false;
	uint64_t h = nc_hash_str(who);
	struct replied *r = &c->replied[h % NC_COORDS_REPLIED_SLOTS];
	if (r->at != 0 && now - r->at < NC_COORDS_REPLY_GAP_S)
		return false;
	r->hash = h;
	r->at = now;
	return true;
}

static void
on_fetch_req(struct nc_agent_coords *c, double now, const char *sender,
	     const char *p, const char *end)
{
	c->st.fetch_req_in++;
	if (end - p < 2 || (uint8_t)p[1] == 0) {
		c->st.fetch_req_bad++;
		return;
	}
	unsigned n = (uint8_t)p[1];
	p += 2;
	/* Every name must be ours: only owners are asked. */
	for (unsigned k = 0; k < n; k++) {
		if (end - p < 1) {
			c->st.fetch_req_bad++;
			return;
		}
		size_t nl = (uint8_t)*p++;
		if (nl == 0 || (size_t)(end - p) < nl) {
			c->st.fetch_req_bad++;
			return;
		}
		if (nl != strlen(c->self) || memcmp(p, c->self, nl) != 0) {
			c->st.fetch_req_not_owner++;
			return;
		}
		p += nl;
	}
	if (p != end) {
		c->st.fetch_req_bad++;
		return;
	}
	if (sender[0] == '\0' || c->send == NULL || !member_nc(c, sender)) {
		c->st.fetch_req_not_member++;
		return;
	}
	bucket_refill(&c->rep_tokens, &c->rep_at, c->cfg.reply_rate, 1.0, now);
	if (c->rep_tokens < 1 || !replied_ok(c, now, sender)) {
		c->st.fetch_req_budget++;
		return;
	}
	/* 03 | n=1 | our own entry (age 0, flagged own). */
	char buf[16 + 2 * (NC_GOSSIP_NAME_MAX + 1) + 64 +
		 4 * NC_COORD_DIMS_MAX];
	size_t hdr = header_size(c->self);
	struct nc_coord me;
	nc_coord_client_get(c->client, &me);
	if (hdr + 2 + entry_size(c, c->self) > sizeof(buf))
		return;
	char *pl = buf + hdr;
	pl[0] = NC_COORDS_KIND_FETCH_REPLY;
	pl[1] = 1;
	size_t o = 2 + put_entry(pl + 2, c->self, 0, true, &me);
	size_t len = wrap_msg(c, buf, o);
	if (len == 0 || c->send(c->send_ctx, sender, buf, len) != 0)
		return;
	c->rep_tokens -= 1;
	c->st.fetch_reply_out++;
	c->st.gossip_msgs_out++;
	c->st.gossip_bytes_out += len;
}

static void
on_fetch_reply(struct nc_agent_coords *c, double now, const char *sender,
	       const char *p, const char *end)
{
	char name[NC_GOSSIP_NAME_MAX + 1];
	struct nc_coord x;
	size_t nl;
	unsigned age_ds;
	bool own;
	const char *q = p + 2;
	if (end - p < 2 || (uint8_t)p[1] != 1 ||
	    read_entry(&q, end, name, &nl, &age_ds, &own, &x) != 0 ||
	    q != end || nc_gossip_name_check(name, nl) != NC_GOSSIP_NAME_OK ||
	    !coord_sane(c, &x) || age_ds != 0 || !own) {
		c->st.fetch_reply_bad++;
		return;
	}
	if (sender[0] == '\0' || strcmp(name, sender) != 0) {
		c->st.fetch_reply_not_owner++;
		return;
	}
	long i = find_idx(c, name);
	if (i < 0 || !(c->ent[i].fflags & F_PENDING)) {
		c->st.fetch_reply_unsolicited++;
		return;
	}
	struct entry *e = &c->ent[i];
	for (size_t k = 0; k < c->n_pend; k++) {
		if (c->pend[k].slot == (uint32_t)i &&
		    c->pend[k].gen == e->gen) {
			c->pend[k] = c->pend[--c->n_pend];
			break;
		}
	}
	e->fflags &= (uint8_t)~F_PENDING;
	entry_set_coord(c, e, &x);
	e->produced = now;
	e->source = NC_AGENT_SRC_GOSSIP;
	e->via = (uint32_t)i;
	e->via_gen = e->gen;
	c->st.fetch_reply_in++;
}

/* Candidate picking (the API and fleet-sim use the same). */

struct pick {
	size_t i;
	size_t group;
	/** Estimate (s); -1 = no coordinate (ranked first). */
	double est;
	/** Sort key within the group. */
	double key;
};

static int
pick_cmp_est(const void *pa, const void *pb)
{
	const struct pick *a = pa, *b = pb;
	if (a->group != b->group)
		return a->group < b->group ? -1 : 1;
	if (a->key != b->key)
		return a->key < b->key ? -1 : 1;
	return a->i < b->i ? -1 : a->i > b->i;
}

/** By rank within the group (key), then group. */
static int
pick_cmp_rank(const void *pa, const void *pb)
{
	const struct pick *a = pa, *b = pb;
	if (a->key != b->key)
		return a->key < b->key ? -1 : 1;
	if (a->group != b->group)
		return a->group < b->group ? -1 : 1;
	return a->i < b->i ? -1 : a->i > b->i;
}

/** Fill picks with cached estimates from @a src (-1: none). */
static struct pick *
picks_new(struct nc_agent_coords *c, const struct nc_coord *src,
	  const char *const *names, const size_t *group, size_t n)
{
	struct pick *p = calloc(n + 1, sizeof(*p));
	if (p == NULL)
		return NULL;
	enum nc_coord_algo algo = nc_coord_client_config(c->client)->algo;
	for (size_t i = 0; i < n; i++) {
		long k = find_idx(c, names[i]);
		p[i].i = i;
		p[i].group = group != NULL ? group[i] : 0;
		p[i].est = -1;
		if (strcmp(names[i], c->self) == 0) {
			p[i].est = 0;
		} else if (k >= 0 && c->ent[k].has_coord && src != NULL &&
			   src->dims == c->dims) {
			struct nc_coord x;
			entry_get_coord(&c->ent[k], c->dims, &x);
			double e = nc_coord_estimate_rtt(algo, src, &x);
			p[i].est = isfinite(e) && e >= 0 ? e : -1;
		}
		p[i].key = p[i].est;
	}
	return p;
}

size_t
nc_agent_coords_pick_nearest(struct nc_agent_coords *c,
			     const struct nc_coord *src,
			     const char *const *names, size_t n, size_t k,
			     size_t *out)
{
	struct pick *p = picks_new(c, src, names, NULL, n);
	if (p == NULL)
		return SIZE_MAX;
	qsort(p, n, sizeof(*p), pick_cmp_est);
	size_t got = k < n ? k : n;
	for (size_t r = 0; r < got; r++)
		out[r] = p[r].i;
	free(p);
	return got;
}

size_t
nc_agent_coords_pick_groups(struct nc_agent_coords *c,
			    const struct nc_coord *src,
			    const char *const *names, const size_t *group,
			    size_t n, size_t per_group, size_t *out)
{
	struct pick *p = picks_new(c, src, names, group, n);
	if (p == NULL)
		return SIZE_MAX;
	/* By group, then estimate (unknown first): the median of the known
	 * ones per group, then by distance to it (unknown first again). */
	qsort(p, n, sizeof(*p), pick_cmp_est);
	for (size_t a = 0; a < n;) {
		size_t b = a, u = a;
		while (b < n && p[b].group == p[a].group)
			b++;
		while (u < b && p[u].est < 0)
			u++;
		double med = u < b ? p[u + (b - u) / 2].est : 0;
		for (size_t j = a; j < b; j++)
			p[j].key = p[j].est < 0 ? -1 : fabs(p[j].est - med);
		a = b;
	}
	qsort(p, n, sizeof(*p), pick_cmp_est);
	/* Keep per_group of each, then interleave the groups (every
	 * group's first, then every group's second, ...): when the request
	 * budget runs short, each group still gets its share. */
	size_t got = 0, taken = 0;
	for (size_t j = 0; j < n; j++) {
		if (j == 0 || p[j].group != p[j - 1].group)
			taken = 0;
		if (taken < per_group) {
			p[got] = p[j];
			p[got].key = (double)taken;
			got++;
		}
		taken++;
	}
	qsort(p, got, sizeof(*p), pick_cmp_rank);
	for (size_t j = 0; j < got; j++)
		out[j] = p[j].i;
	free(p);
	return got;
}
