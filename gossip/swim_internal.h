#ifndef NC_GOSSIP_SWIM_INTERNAL_H
#define NC_GOSSIP_SWIM_INTERNAL_H
/*
 * Internal definitions shared by the files of the SWIM state machine:
 *
 *   swim.c        lifecycle, probe loop, gossip loop, packet in/out, leave
 *   members.c     member table (name hash + probe order), §6.6 rules,
 *                 refutation, events
 *   suspicion.c   Lifeguard suspicion timeouts and local health awareness
 *   broadcast.c   the bounded, transmit-limited broadcast queue
 *   swim_stream.c TCP: push/pull (join, anti-entropy, reconnect), TCP ping
 *                 fallback, inbound streams
 *
 * Nothing here is visible outside gossip/ (STYLE.md §3: nc__ prefix).
 */
#include "gossip/gossip.h"
#include "gossip/proto.h"
#include "util/util.h"

/* ------------------------------------------------------------------ */
/* Broadcast queue (broadcast.c)                                      */
/* ------------------------------------------------------------------ */

/**
 * Transmit counts are bucketed; a limit above this is clamped. The limit is
 * RetransmitMult x ceil(log10(n + 1)), i.e. 24 for a million nodes with
 * serf's multiplier 4, so 64 levels are never reached in practice.
 */
#define NC__BQ_LEVELS 64
/**
 * Default cap on queued broadcasts. memberlist's queue is unbounded; serf
 * prunes its own queues to max(1024, 2 x n) (MinQueueDepth). We keep one
 * fixed cap: at the cap the entry with the most transmissions (oldest among
 * equals) is evicted, as serf's pruning drops the oldest.
 */
#define NC__BQ_DEFAULT_CAP 4096

/** Called once when a broadcast leaves the queue; @a sent is true if it
 * reached its transmit limit (false: replaced, evicted or flushed). */
typedef void (*nc__bcast_done_cb)(void *arg, bool sent);

/**
 * One queued broadcast: a complete message (type byte + body). One
 * allocation holds the entry, its key and its message (data[]), sized to
 * them: ~100 bytes of overhead per entry, which matters when a push/pull
 * of 1,000 members queues 1,000 alives at once.
 */
struct nc__bcast {
	/** Node name this message is about (replacement key), or "" for a
	 * message that never replaces (user messages). Points into data. */
	const char *key;
	/** Link in the queue's key map (keyed entries only). */
	struct nc_hmap_node in_keys;
	/** Message bytes (into data, after the key) and length. */
	const char *msg;
	size_t len;
	/** Transmissions so far (= level in the queue). */
	int transmits;
	/** Insertion id; newer entries go first among equal transmits. */
	uint64_t id;
	/** Completion notification (may be NULL). */
	nc__bcast_done_cb done;
	void *done_arg;
	/** Links in the list of its level (newest first). */
	struct nc__bcast *prev, *next;
	/** key (NUL-terminated), then msg. */
	char data[];
};

/** The queue: per-transmit-count lists plus a hash on the key. */
struct nc__bqueue {
	/** Heads and tails of the level lists; level = transmits. */
	struct nc__bcast *head[NC__BQ_LEVELS], *tail[NC__BQ_LEVELS];
	/** A lower bound of the message lengths in each level's list (set
	 * when the list gets its first entry, lowered on each push). */
	size_t min_len[NC__BQ_LEVELS];
	/** Keyed entries by key (buckets sized to the cap: never grows). */
	struct nc_hmap keys;
	/** Entries queued and the cap. */
	size_t count, cap;
	/** Next insertion id. */
	uint64_t next_id;
};

/** Initialise an empty queue holding at most @a cap entries. */
int nc__bq_create(struct nc__bqueue *q, size_t cap);
/** Free every entry (their done callbacks get sent=false). */
void nc__bq_destroy(struct nc__bqueue *q);
/**
 * Queue a copy of @a msg. If @a key is non-empty, a queued entry with the
 * same key is replaced (its done callback runs with sent=false). At the cap
 * the most-transmitted entry is evicted. Returns 0 or -ENOMEM.
 */
int nc__bq_push(struct nc__bqueue *q, const char *key, const char *msg,
		size_t len, nc__bcast_done_cb done, void *done_arg);
/**
 * Take broadcasts for one packet: fewest transmissions first (newest first
 * among equals), each costing len + @a overhead bytes of @a room, skipping
 * those that do not fit. Copies each into @a out (capacity @a out_cap) and
 * records it in @a parts (at most @a max_parts). Every taken entry counts a
 * transmission; at @a limit transmissions it leaves the queue (done with
 * sent=true). Returns the number of parts stored.
 */
size_t nc__bq_take(struct nc__bqueue *q, int limit, size_t overhead,
		   size_t room, char *out, size_t out_cap,
		   struct nc_proto_str *parts, size_t max_parts);
/** Number of queued entries. */
static inline size_t
nc__bq_count(const struct nc__bqueue *q)
{
	return q->count;
}
/** True if an entry with @a key is queued. */
bool nc__bq_has(const struct nc__bqueue *q, const char *key);
/** nc_gossip_retransmit_limit() clamped to 1..NC__BQ_LEVELS-1 (§6.8). */
int nc__bq_transmit_limit(int retransmit_mult, size_t n);

/* ------------------------------------------------------------------ */
/* Suspicion and awareness (suspicion.c)                              */
/* ------------------------------------------------------------------ */

/**
 * Max accusers remembered per suspicion: k = SuspicionMult - 2 independent
 * confirmations plus the original accuser. Confirmations beyond k are not
 * counted anyway, so a config with SuspicionMult > NC__SUSP_MAX_K + 2 has
 * k clamped (documented in nc_gossip_config_default).
 */
#define NC__SUSP_MAX_K 14

/** Suspicion parameters for a cluster of @a n nodes (§6.7). */
struct nc__susp_params {
	/** Confirmations that bring the timeout down to min. */
	int k;
	/** Bounds of the timeout, seconds. */
	double min, max;
};

/** A Lifeguard component is on: lifeguard on and the component's bool. */
static inline bool
nc__lifeguard_on(const struct nc_gossip_config *cfg, bool component)
{
	return cfg->lifeguard && component;
}

/** Compute k, min and max for @a n nodes (lha_suspicion off: k = 0). */
void nc__suspicion_params(const struct nc_gossip_config *cfg, size_t n,
			  struct nc__susp_params *out);
/**
 * Lifeguard's timeout after @a c confirmations (floored to ms, >= min),
 * measured from the start of the suspicion.
 */
double nc__suspicion_timeout(const struct nc__susp_params *p, int c);

/* ------------------------------------------------------------------ */
/* Members (members.c)                                                */
/* ------------------------------------------------------------------ */

/**
 * A suspicion in progress (members.c): allocated when a member turns
 * suspect, freed when the suspicion ends (alive, dead, reaped). Healthy
 * members carry none of it.
 */
struct nc__suspicion {
	/** The suspect and its instance. */
	struct nc__member *m;
	struct nc_gossip *g;
	/** Fires at the (shrinking) timeout. */
	struct nc_timer timer;
	/** Env time the suspicion started and its parameters. */
	double start;
	struct nc__susp_params params;
	/** Confirmations counted (not including the first accuser). */
	int n;
	/** Name hashes of the accusers seen (first one included). */
	uint64_t from[NC__SUSP_MAX_K + 1];
	/** pub.state_change when the suspicion was armed (stale check). */
	double change;
};

/**
 * A member with its private state. Allocated once with its name (name_buf,
 * sized to it), pointer stable; its Meta (pub.meta) is a shared,
 * refcounted copy (members.c, meta_get) replaced when it changes. 73
 * bytes plus the name: a name of up to 14 bytes fits glibc's 96-byte
 * chunk.
 */
struct nc__member {
	/** What callers see (must stay first: casts between the two). */
	struct nc_gossip_member pub;
	/** Suspicion in progress, NULL otherwise. */
	struct nc__suspicion *susp;
	/** Length of the name, 1..NC_GOSSIP_NAME_MAX (names are compared by
	 * it, never by strlen). */
	uint8_t name_len;
	/** Storage of pub.name. */
	char name_buf[];
};

/** A shared, refcounted copy of Meta bytes (members.c); NULL for none,
 * and on OOM with *oom set. */
const uint8_t *nc__meta_get(const uint8_t *data, size_t len, bool *oom);
/** Drop a reference from nc__meta_get (NULL is fine). */
void nc__meta_put(const uint8_t *p);
/** Find by name (not NUL-terminated), NULL if unknown. */
struct nc__member *nc__member_find(struct nc_gossip *g, const char *name,
				   size_t len);
/** Reap dead members older than GossipToTheDeadTime and shuffle (§6.2). */
void nc__members_reset(struct nc_gossip *g);
/** Remove every member (teardown). */
void nc__members_destroy(struct nc_gossip *g);

/** Inputs to the §6.6 rules, decoded from the wire or from push/pull. */
void nc__handle_alive(struct nc_gossip *g, const struct nc_proto_alive *a,
		      bool bootstrap);
void nc__handle_suspect(struct nc_gossip *g, uint32_t inc, const char *node,
			size_t node_len, const char *from, size_t from_len);
void nc__handle_dead(struct nc_gossip *g, uint32_t inc, const char *node,
		     size_t node_len, const char *from, size_t from_len);
/** Bump own incarnation above @a accused, awareness +1, broadcast alive. */
void nc__refute(struct nc_gossip *g, uint32_t accused);
/** Queue an alive about self with the current incarnation and Meta. */
void nc__broadcast_self_alive(struct nc_gossip *g);
/** Number of members currently in a given state. */
size_t nc__members_count_state(const struct nc_gossip *g,
			       enum nc_member_state s);

/* ------------------------------------------------------------------ */
/* The instance (swim.c)                                              */
/* ------------------------------------------------------------------ */

/**
 * Concurrent helper-side indirect probes (we ping a target on behalf of a
 * requester). Memberlist has no cap; with IndirectChecks = 3 a node is
 * asked about 3 times per probe interval on average, so 32 is far above
 * normal load. Requests beyond the cap are dropped (counted in
 * stats.drop_other): the requester just sees one helper fewer.
 */
#define NC__RELAY_MAX 32
/**
 * Failed members remembered for serf-style reconnects. Serf keeps all of
 * them for ReconnectTimeout (24 h); we keep the newest NC__FAILED_MAX and
 * forget the oldest beyond that (arbitrary cap, ample for a LAN).
 */
#define NC__FAILED_MAX 256
/** Serf's ReconnectTimeout: stop trying a failed member after a day. */
#define NC__RECONNECT_TIMEOUT (24.0 * 3600.0)
/**
 * Push/pull merges (swim_stream.c): a remote state of more than
 * NC__MERGE_SLICE entries is applied NC__MERGE_SLICE entries per loop
 * iteration (a zero-delay timer), so that packets and probes are served
 * between slices: one entry costs ~16 us on a real agent (events, logs,
 * coordinate cache), so a slice holds the loop ~4 ms, and a 100,000-member
 * push/pull never blocks it for seconds (issue 9 row 2). At most
 * NC__MERGES_MAX such states wait; a push/pull beyond that is refused
 * (pushpull_fail).
 */
#define NC__MERGE_SLICE 256
#define NC__MERGES_MAX 4
/** Concurrent outbound streams we track (join + anti-entropy + ping). */
#define NC__OUT_STREAMS_MAX 64
/** Scratch buffer size for one datagram in any layer (64 KiB + slack). */
#define NC__PKT_BUF (NC_PROTO_MAX_PACKET + 256)

/**
 * Our own leave messages also go to every member alive when a leave phase
 * begins, one datagram each, this many per batch, one batch every
 * NC__LEAVE_DIRECT_GAP s: 10,000 members take 0.4 s per phase, at most
 * 25,600 datagrams/s. Arbitrary, well below a 2 MiB receive buffer's worth
 * per batch.
 */
#define NC__LEAVE_DIRECT_BATCH 256
#define NC__LEAVE_DIRECT_GAP 0.01
/** Longest serf leave intent we send (type byte included). */
#define NC__LEAVE_INTENT_MAX (NC_GOSSIP_NAME_MAX + 64)
/** Longest direct leave datagram: compound of the intent and dead{self}. */
#define NC__LEAVE_MSG_MAX (2 * NC__LEAVE_INTENT_MAX + 64)

/** A destination of the direct leave messages. */
struct nc__leave_target {
	struct nc_addr addr;
	/** Wrap in a CRC (the member speaks protocol >= 5). */
	bool crc;
};

/** Where the TCP ping fallback of the probe in progress stands. */
enum nc__tcp_ping_result {
	/** None started yet, or started and not answered yet. */
	NC__TCP_PING_PENDING = 0,
	/** The target acked over TCP: it lives, only UDP failed. */
	NC__TCP_PING_ACKED = 1,
	/** Connection failed, timed out, or the reply was no matching ack. */
	NC__TCP_PING_FAILED = -1,
};

/** The probe in progress (§6.3). At most one at a time. */
struct nc__probe {
	/** A probe is running. */
	bool active;
	/** Still waiting for the direct ack (before ProbeTimeout). */
	bool direct;
	/** Target and its incarnation when the probe started. */
	struct nc__member *target;
	uint32_t target_inc;
	/** SeqNo of the ping (and of the indirect requests). */
	uint32_t seq;
	/** Env time right before the ping was handed to the env. */
	double sent_at;
	/** Nacks expected from helpers and received. */
	int expected_nacks, nacks;
	/** TCP fallback: env stream id (0 none) and its result. */
	long tcp_id;
	enum nc__tcp_ping_result tcp_result;
	/** ProbeTimeout and end-of-probe (scaled interval) timers. */
	struct nc_timer timeout_timer, deadline_timer;
};

/** A direct ping asked by nc_gossip_ping (not a probe). */
struct nc__uping {
	bool used;
	struct nc_gossip *g;
	uint32_t seq;
	double sent_at;
	nc_gossip_ping_cb cb;
	void *arg;
	/** Fires at the caller's timeout. */
	struct nc_timer timer;
};

/** A helper-side indirect probe. */
struct nc__relay {
	bool used;
	struct nc_gossip *g;
	/** SeqNo of our own ping to the target. */
	uint32_t our_seq;
	/** Requester's SeqNo, echoed in the ack/nack we send it. */
	uint32_t req_seq;
	/** Where to send the ack/nack. */
	struct nc_addr reply_to;
	/** Requester asked for a nack. */
	bool nack;
	/** Fires after ProbeTimeout. */
	struct nc_timer timer;
};

/** A failed member, for serf's reconnect loop. */
struct nc__failed {
	char name[NC_GOSSIP_NAME_MAX + 1];
	struct nc_addr addr;
	double failed_at;
};

/** Kinds of outbound streams. */
enum nc__out_kind {
	NC__OUT_FREE = 0,
	NC__OUT_PUSHPULL,
	NC__OUT_PING,
};

struct nc__join;
struct nc__merge;

/** Progress of a graceful leave (swim.c, nc_gossip_leave). */
enum nc__leave_phase {
	/** No leave asked. */
	NC__LEAVE_NONE = 0,
	/** Phase 1: serf's leave intent queued and sent directly. */
	NC__LEAVE_INTENT,
	/** Phase 2: dead{self, self} queued and sent directly. */
	NC__LEAVE_DEAD,
	/** Left, or the instance is being deleted: no more leave steps. */
	NC__LEAVE_DONE,
};

/** An outbound stream in flight. */
struct nc__outstream {
	enum nc__out_kind kind;
	struct nc_gossip *g;
	/** env stream id (for cancel). */
	long id;
	/** Push/pull: this is a join; the join context to report to. */
	bool join;
	struct nc__join *join_ctx;
	/** TCP ping: the SeqNo expected in the ack. */
	uint32_t seq;
};

/** A nc_gossip_join() in progress. */
struct nc__join {
	int pending, joined;
	void (*cb)(void *arg, int joined);
	void *arg;
};

struct nc_gossip {
	struct nc_env *env;
	/** Inside nc_gossip_seed_member: alives are applied, not broadcast. */
	bool seeding;
	struct nc_gossip_config cfg;
	struct nc_gossip_hooks hooks;
	struct nc_gossip_stats stats;

	/** Members in probe order (memberlist's m.nodes). */
	struct nc__member **nodes;
	size_t n_nodes, cap_nodes;
	/**
	 * Members by name: open addressing with linear probing over a
	 * power-of-two array of member pointers, at most 3/4 full
	 * (members.c, name_slot). Not an nc_hmap: its 24-byte node in every
	 * member plus a bucket each was a third of a member's memory.
	 */
	struct nc__member **names;
	size_t names_mask, names_used;
	/** Seed of the index's hash (swim.c: from the instance's address,
	 * which ASLR randomises; no draw from env->rand). */
	uint64_t names_seed;
	/** Own entry. */
	struct nc__member *self;
	/** Next probe position. */
	size_t probe_index;

	/** Last SeqNo used (pings, indirect pings). */
	uint32_t seq_no;
	/** Lifeguard local health score, 0..awareness_max_multiplier-1. */
	int awareness;
	/** Largest serf Lamport time seen (for our intents). */
	uint64_t serf_ltime;

	struct nc__bqueue bq;
	struct nc__probe probe;
	/** A probe tick arrived while a probe ran (Go's ticker keeps one). */
	bool tick_pending;
	struct nc__relay relays[NC__RELAY_MAX];
	/** nc_gossip_ping's table (NC_GOSSIP_PINGS_MAX, NULL until used). */
	struct nc__uping *upings;
	size_t n_upings;
	struct nc__outstream out[NC__OUT_STREAMS_MAX];
	/** Failed members for reconnects: an array grown by doubling up to
	 * NC__FAILED_MAX (most agents never hold more than a few). */
	struct nc__failed *failed;
	size_t n_failed, cap_failed;

	struct nc_timer probe_timer, gossip_timer, pushpull_timer,
		reconnect_timer, leave_timer;
	/**
	 * Push/pull states being merged a slice at a time (swim_stream.c),
	 * oldest first, how many, and the zero-delay timer of the next
	 * slice.
	 */
	struct nc__merge *merges, *merges_tail;
	size_t n_merges;
	struct nc_timer merge_timer;
	bool started;

	/** Leave state. */
	enum nc__leave_phase leave_phase;
	bool leaving;
	void (*leave_cb)(void *arg);
	void *leave_arg;
	double leave_timeout;
	/** This phase's broadcast has left the queue. */
	bool leave_bcast_done;
	/** Serf leave intent (with its type byte), 0 bytes if none sent. */
	char leave_intent[NC__LEAVE_INTENT_MAX];
	size_t leave_intent_len;
	/**
	 * Direct sends of this phase: the datagram, the destinations (NULL
	 * when all were sent) and the next one; a batch per direct timer.
	 */
	char leave_msg[NC__LEAVE_MSG_MAX];
	size_t leave_msg_len;
	struct nc__leave_target *leave_to;
	size_t leave_to_n, leave_to_next;
	struct nc_timer leave_direct_timer;

	/** Env time taken right before the last send_packet (probe RTT). */
	double last_send_time;
	/** Drop reasons already logged once (bit per swim.c drop_reason). */
	unsigned drop_logged;
	/**
	 * Refused member messages (members.c): env time of the last log
	 * line, and how many were refused since without a line.
	 */
	double refuse_logged_at;
	uint64_t refuse_unlogged;
	/** Inbound packet context for the walker callback. */
	struct nc_addr rx_from;
	double rx_time;

	/**
	 * Packet buffers, shared by the instances of a thread (swim.c,
	 * bufs_get; sizes there): primary message,
	 * piggy-backed broadcasts, compound, compressed, CRC-wrapped,
	 * encrypted; receive side: decrypted datagram (only with a keyring)
	 * and the walker's decompression scratch (NC__PKT_BUF).
	 */
	char *buf_msg, *buf_bc, *buf_cpd, *buf_cmp, *buf_crc, *buf_enc;
	char *buf_rx, *buf_walk;
};

/** Log a membership line and call the member_event hook. */
void nc__member_event(struct nc_gossip *g, enum nc_gossip_event ev,
		      struct nc__member *m, const char *by, size_t by_len);
/** Queue a memberlist broadcast about @a node. */
void nc__broadcast(struct nc_gossip *g, const char *node, const char *msg,
		   size_t len, nc__bcast_done_cb done, void *arg);
/** Apply a Lifeguard awareness delta (no-op with lha_probe off). */
void nc__awareness_delta(struct nc_gossip *g, int delta);
/** Remember / forget a failed member for reconnects. */
void nc__failed_add(struct nc_gossip *g, const struct nc__member *m);
void nc__failed_remove(struct nc_gossip *g, const char *name);
/** The probe target is going away: end the probe without verdict. */
void nc__probe_abort(struct nc_gossip *g);
/** Broadcast-done hook of our own dead{self,self} during leave. */
void nc__leave_dead_done(void *arg, bool sent);
/** Transmit limit for the current cluster size. */
int nc__transmit_limit(const struct nc_gossip *g);
/** Send one datagram through compress/CRC/encrypt (§1.2). */
int nc__send_raw(struct nc_gossip *g, const struct nc_addr *to,
		 const struct nc__member *node, const char *msg, size_t len);

/* swim_stream.c */
/** Start a push/pull with @a to. Returns 0 or negative. */
int nc__pushpull_start(struct nc_gossip *g, const struct nc_addr *to,
		       bool join, struct nc__join *jctx);
/** Start a TCP ping for the current probe. */
void nc__tcp_ping_start(struct nc_gossip *g, const struct nc__member *m,
			uint32_t seq, double timeout);
/** env sink: an inbound stream request. */
int nc__on_stream(void *ctx, const struct nc_addr *from, const char *req,
		  size_t req_len, struct nc_buf *reply);
/** Cancel every outbound stream (teardown). */
void nc__streams_cancel_all(struct nc_gossip *g);
/** Timer callback of g->merge_timer: apply the next merge slice. */
void nc__merge_timer_cb(struct nc_timer *t);
/** Drop every pending merge (teardown). */
void nc__merges_clear(struct nc_gossip *g);
/** Push/pull interval scaled with cluster size (§6.9). */
double nc__pushpull_scaled(const struct nc_gossip *g);
/** Version compatibility check §5.2 over remote states + local alive. */
bool nc__vsn_check(const struct nc_gossip *g,
		   const struct nc_proto_push_node *remote, size_t n);

#endif /* NC_GOSSIP_SWIM_INTERNAL_H */
