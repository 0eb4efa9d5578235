#ifndef NC_AGENT_AGENT_H
#define NC_AGENT_AGENT_H
/*
 * agent/agent.h - a netcoord agent: the one place where gossip/ and coord/
 * meet. It owns the SWIM instance, the coordinate service
 * (agent/coords.h), the serf relay of intents, events and queries with
 * serf's clocks (agent/serf_relay.h), the query answers
 * (agent/serf_query.h) and the queries it runs itself: cluster-wide
 * keyring, reachability, name-conflict votes (agent/serf_collect.h), the
 * keyring (and its file), the join retries (names resolved through
 * agent/resolve.h) and the graceful leave. It runs on any env
 * (gossip/env.h): `netcoord agent` gives it the real loop (loop/), the
 * tests and the simulator a virtual-time env — the same code either way.
 *
 *   probe ack ──> gossip ── probe_done(peer, rtt, payload) ──> coords
 *   coords ── ack_payload (serf's coordinate) ──> gossip ──> peer
 *   gossip ── user_msg ──> coords (coordinate gossip) | serf relay
 *            (new queries ──> serf_query ──> answers to the asker)
 *            (answers to our queries ──> serf_collect ──> keys, reach)
 *   gossip ── conflict (our name) ──> _serf_conflict vote (serf_collect)
 *   gossip ── user_broadcast <── serf relay, then coords (budgeted)
 *   gossip ── local_state / merge_state <──> serf relay (push/pull)
 *   gossip ── member_event ──> coords (new-member window, view epoch), log
 *
 * The HTTP API (api/) reads everything through this header and
 * agent/coords.h; it never needs a gossip/ internal header.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/config.h"
#include "agent/coords.h"
#include "agent/resolve.h"
#include "agent/serf_relay.h"
#include "gossip/env.h"
#include "gossip/gossip.h"

struct nc_agent;
struct nc_gossip;

/** Version reported by /v1/agent/self. */
#ifndef NC_VERSION
#error "NC_VERSION comes from CMake (project(netcoord VERSION ...))"
#endif
#define NC_AGENT_VERSION NC_VERSION
/** Seconds between join attempts while no address answered. */
#define NC_AGENT_JOIN_RETRY_S 2.0
/** serf's BroadcastTimeout: max wait for each leave broadcast, s. */
#define NC_AGENT_LEAVE_TIMEOUT_S 5.0
/** serf's LeavePropagateDelay: keep answering pings after leaving, s. */
#define NC_AGENT_LEAVE_PROPAGATE_S 1.0

/** Called once a graceful leave has spread (the process may stop). */
typedef void (*nc_agent_left_cb)(void *ctx);

/**
 * Create an agent on @a env (borrowed; outlives the agent) from @a cfg
 * (only read during the call), advertising @a advertise (the caller
 * resolves it: it knows the socket the env bound). Nothing is sent until
 * nc_agent_start(). @a on_left (may be NULL) is called after a graceful
 * leave (nc_agent_leave) has spread.
 * Returns NULL with a message naming the field in @a err.
 */
struct nc_agent *nc_agent_new(struct nc_env *env, const struct nc_config *cfg,
			      const struct nc_addr *advertise,
			      nc_agent_left_cb on_left, void *on_left_ctx,
			      char *err, size_t err_cap);

/** Stop timers, free everything (no leave is sent). NULL is a no-op. */
void nc_agent_delete(struct nc_agent *a);

/**
 * Start probing and gossiping, and join the configured addresses: -join
 * retried every NC_AGENT_JOIN_RETRY_S until one answers, -retry-join
 * every -retry-interval (serf's). 0 or a negative errno.
 */
int nc_agent_start(struct nc_agent *a);

/**
 * Resolver of join names (borrowed, outlives the agent; set before
 * nc_agent_start). Without one, join addresses must be numeric: the
 * simulator and the API tests have no DNS. `netcoord agent` passes
 * nc_agent_resolver_gai_new().
 */
void nc_agent_set_resolver(struct nc_agent *a, struct nc_agent_resolver *r);

/**
 * Called when -retry-join gave up after -retry-max failed retries (serf's
 * process then exits with status 1). NULL: nothing happens.
 */
void nc_agent_set_retry_failed_cb(struct nc_agent *a, nc_agent_left_cb cb,
				  void *ctx);

/**
 * Observer of the agent's membership events (what it logs as
 * EventMember*): @a m and @a by borrowed for the call. For tools that watch
 * many agents at once (`netcoord fleet-sim`); NULL removes it.
 */
typedef void (*nc_agent_member_cb)(void *ctx, struct nc_agent *a,
				   enum nc_gossip_event ev,
				   const struct nc_gossip_member *m,
				   const char *by);
void nc_agent_set_member_observer(struct nc_agent *a, nc_agent_member_cb cb,
				  void *ctx);

/**
 * End of nc_agent_join(): @a joined addresses answered; when 0, @a why
 * says what failed, naming each name that did not resolve, e.g.
 * `cannot resolve "db-1.internal": Name or service not known`.
 */
typedef void (*nc_agent_join_cb)(void *arg, int joined, const char *why);

/**
 * Join via @a n addresses "HOST[:PORT]" (agent/resolve.h; port 7946 by
 * default): names are resolved now, through the resolver, and a push/pull
 * goes to every address found (IPv4 and IPv6), as memberlist's Join.
 * @a cb (may be NULL) is called once, possibly before this returns.
 * @retval 0 started
 * @retval -EINVAL a bad address, or a name without a resolver (why in
 *         @a err); cb is not called
 */
int nc_agent_join(struct nc_agent *a, const char *const *addrs, size_t n,
		  nc_agent_join_cb cb, void *arg, char *err, size_t err_cap);

/**
 * Graceful leave: serf's leave intent, then memberlist's dead{self}, each
 * broadcast until sent or NC_AGENT_LEAVE_TIMEOUT_S; then answer pings for
 * NC_AGENT_LEAVE_PROPAGATE_S more and call on_left. A second call is a
 * no-op. Returns 0, or a negative errno when the leave could not start
 * (logged; on_left is then called at once: the process stops anyway).
 */
int nc_agent_leave(struct nc_agent *a);

/** A leave was started. */
bool nc_agent_leaving(const struct nc_agent *a);

/** Borrowed parts, valid for the agent's life. */
struct nc_gossip *nc_agent_gossip(const struct nc_agent *a);
struct nc_agent_coords *nc_agent_coords(const struct nc_agent *a);
struct nc_env *nc_agent_env(const struct nc_agent *a);
const char *nc_agent_name(const struct nc_agent *a);

/** Counters of the agent's own parts (gossip has nc_gossip_stats). */
struct nc_agent_stats {
	/** serf messages relayed: received new / sent / ignored (old). */
	uint64_t relay_in, relay_out, relay_ignored;
	/** serf user events / queries seen for the first time. */
	uint64_t serf_events, serf_queries;
	/** Relay queue overflows (oldest dropped); malformed serf messages. */
	uint64_t relay_dropped, relay_bad;
	/** serf push/pull states merged; events first learnt from them. */
	uint64_t states_merged, events_merged;
	/** serf query answers: acks, responses, relayed copies, relay
	 * messages forwarded for others, user queries without handler. */
	uint64_t query_acks, query_responses, query_relayed, relay_forwarded,
		query_unhandled;
	/** Queries run by this agent (keys, reachability, conflict) and
	 * what came back for them (agent/serf_collect.h). */
	uint64_t own_queries, own_timed_out, own_acks, own_responses,
		own_duplicates, own_over_cap, own_unknown_query,
		own_unknown_sender, own_busy;
	/** Join attempts so far; a join succeeded. */
	unsigned join_attempts;
	bool joined;
};
void nc_agent_stats(const struct nc_agent *a, struct nc_agent_stats *out);

/* ------------------------------------------------------------------ */
/* Keyring                                                            */
/* ------------------------------------------------------------------ */

/** Room for one base64 key (44 characters for 32 bytes) and its NUL. */
#define NC_AGENT_KEY_B64_CAP 48
/** Most keys listed (the keyring's own cap is lower). */
#define NC_AGENT_KEYS_MAX 16

/** Keyring changes (serf's keys -install / -use / -remove). */
enum nc_agent_key_op {
	NC_AGENT_KEY_INSTALL,
	NC_AGENT_KEY_USE,
	NC_AGENT_KEY_REMOVE,
	/** Only for nc_agent_keyring_query: serf's keys -list. */
	NC_AGENT_KEY_LIST,
};

/**
 * The installed keys as base64, primary first, into @a keys (room for
 * @a cap). Returns how many, or -ENOTSUP when encryption is off. The
 * caller should wipe @a keys after use.
 */
int nc_agent_keyring_list(struct nc_agent *a,
			  char (*keys)[NC_AGENT_KEY_B64_CAP], size_t cap);

/**
 * Install, use (make primary) or remove the base64 key @a b64.
 * @retval 0 done
 * @retval -ENOTSUP encryption is off on this agent
 * @retval -EINVAL not a valid key (why in @a err)
 * @retval -ENOENT use/remove of a key that is not installed
 * @retval -EBUSY remove of the primary key
 * @retval -ENOSPC install into a full keyring
 * @retval -EIO done, but the -keyring-file could not be rewritten (why,
 *         naming the file, in @a err)
 */
int nc_agent_keyring_change(struct nc_agent *a, enum nc_agent_key_op op,
			    const char *b64, char *err, size_t err_cap);

/* ------------------------------------------------------------------ */
/* Cluster-wide operations: serf queries run by this agent            */
/* ------------------------------------------------------------------ */

/** Per-node messages kept in a key result (beyond: msgs_dropped). */
#define NC_AGENT_KEY_RESULT_MSGS 128
/** Distinct keys counted in a key result (beyond: keys_dropped). */
#define NC_AGENT_KEY_RESULT_KEYS 32
/** Bytes kept of a node's message (longer ones are cut). */
#define NC_AGENT_KEY_MSG_MAX 160

/** One node's message in a key result (serf's Messages). */
struct nc_agent_key_msg {
	char node[NC_CONFIG_NAME_MAX + 1];
	/** The node's text, non-printable bytes replaced by '?'. */
	char text[NC_AGENT_KEY_MSG_MAX];
};

/** A key and the number of nodes that reported it. */
struct nc_agent_key_count {
	char key[NC_AGENT_KEY_B64_CAP];
	unsigned count;
};

/**
 * The outcome of a cluster-wide key operation: serf's KeyResponse
 * (NumNodes, NumResp, NumErr, Messages, Keys, PrimaryKeys).
 */
struct nc_agent_key_result {
	enum nc_agent_key_op op;
	/** Alive members when the query started (serf's NumNodes). */
	unsigned num_nodes;
	unsigned num_resp, num_err;
	struct nc_agent_key_msg msgs[NC_AGENT_KEY_RESULT_MSGS];
	size_t msgs_n, msgs_dropped;
	struct nc_agent_key_count keys[NC_AGENT_KEY_RESULT_KEYS];
	size_t keys_n;
	struct nc_agent_key_count primary[NC_AGENT_KEY_RESULT_KEYS];
	size_t primary_n;
	/** Keys not counted (table full, or not base64 text). */
	size_t keys_dropped;
};

/** A key operation ended; @a r is borrowed for the call. */
typedef void (*nc_agent_keys_cb)(void *arg, const struct nc_agent_key_result *r);

/**
 * serf's `keys -install/-use/-remove/-list` from this agent: the query
 * _serf_install-key (..., _serf_list-keys) goes to every member, this
 * agent answering it too (its keyring and -keyring-file change as every
 * other member's); each node's answer is tallied as serf's KeyManager
 * does, until every alive member answered or serf's default query
 * timeout passed; then @a cb is called once (never before this returns).
 * @a b64 is ignored for NC_AGENT_KEY_LIST.
 * @retval 0 started
 * @retval -ENOTSUP encryption is off on this agent
 * @retval -EINVAL not a valid key (why in @a err)
 * @retval -EBUSY NC_AGENT_SERF_OPEN_MAX queries already running
 * @retval -ENOMEM
 */
int nc_agent_keyring_query(struct nc_agent *a, enum nc_agent_key_op op,
			   const char *b64, nc_agent_keys_cb cb, void *arg,
			   char *err, size_t err_cap);

/** What `serf reachability` reports (names NUL-terminated). */
struct nc_agent_reach_result {
	/** Members known, and alive ones, when the test started. */
	unsigned members, live;
	/** Nodes that acked (each once). */
	char (*acked)[NC_CONFIG_NAME_MAX + 1];
	size_t acked_n;
	/** Live members that did not ack. */
	char (*missing)[NC_CONFIG_NAME_MAX + 1];
	size_t missing_n;
	/** Acks from nodes that were not live members. */
	char (*non_live)[NC_CONFIG_NAME_MAX + 1];
	size_t non_live_n;
	/** Seconds the query ran; from its start to the last ack. */
	double query_s, last_ack_s;
};

/** A reachability test ended; @a r is borrowed for the call. */
typedef void (*nc_agent_reach_cb)(void *arg,
				  const struct nc_agent_reach_result *r);

/**
 * serf's `reachability`: fire _serf_ping asking for acks and collect
 * them for serf's default query timeout, then @a cb once (never before
 * this returns). At most NC_AGENT_SERF_NODES_MAX members are tracked.
 * @retval 0 started; -EBUSY, -ENOMEM (why in @a err).
 */
int nc_agent_reachability(struct nc_agent *a, nc_agent_reach_cb cb, void *arg,
			  char *err, size_t err_cap);

/**
 * Called when this agent lost a name-conflict vote (serf's
 * resolveNodeConflict: another node holds our name and the majority
 * knows its address): serf shuts down then, and so should the process.
 * Without a callback the agent only logs it.
 */
void nc_agent_set_conflict_lost_cb(struct nc_agent *a, nc_agent_left_cb cb,
				   void *ctx);

/* ------------------------------------------------------------------ */
/* serf user events                                                   */
/* ------------------------------------------------------------------ */

/** serf's UserEventSizeLimit: name + payload, and the encoded message. */
#define NC_AGENT_EVENT_SIZE_LIMIT 512

/**
 * Fire a serf user event (serf's UserEvent): LTime from our event clock,
 * recorded as seen and broadcast memberlist's retransmit limit times; serf
 * agents' handlers receive it. @a ltime (may be NULL) gets its LTime.
 * @retval 0 sent
 * @retval -EINVAL empty name, or over NC_AGENT_EVENT_SIZE_LIMIT (serf's
 *         message in @a err)
 */
int nc_agent_event_fire(struct nc_agent *a, const char *name,
			const void *payload, size_t len, bool coalesce,
			uint64_t *ltime, char *err, size_t err_cap);

/** The user events seen lately (at most NC_AGENT_SERF_RECENT). */
size_t nc_agent_event_count(const struct nc_agent *a);
/** Event @a i, 0 = oldest; NULL past the end. */
const struct nc_agent_serf_event *nc_agent_event_at(const struct nc_agent *a,
						    size_t i);

/* ------------------------------------------------------------------ */
/* Tags                                                               */
/* ------------------------------------------------------------------ */

/**
 * Would @a n tags fit memberlist's Meta (with nc=1 added)? 0, or -EINVAL
 * with a message naming "tags" in @a err.
 */
int nc_agent_tags_check(const struct nc_config_tag *tags, size_t n, char *err,
			size_t err_cap);

/**
 * Replace our tags at run time (reload), as serf's SetTags: the new Meta
 * goes out at once in an alive with a higher incarnation, and the
 * -tags-file (if any) is rewritten in serf's format.
 * @retval 0 done
 * @retval -EINVAL too many / too large (nothing changed; why in @a err)
 * @retval -EIO announced, but the tags file could not be written (why,
 *         naming the file, in @a err)
 */
int nc_agent_set_tags(struct nc_agent *a, const struct nc_config_tag *tags,
		      size_t n, char *err, size_t err_cap);

/** Most tags decoded from one member's Meta. */
#define NC_AGENT_MAX_TAGS 64

/** One serf tag, pointing into the Meta it was decoded from. */
struct nc_agent_tag {
	const char *key;
	size_t key_len;
	const char *value;
	size_t value_len;
};

/**
 * Decode a member's serf tags (its memberlist Meta) into @a out (room for
 * @a cap). Returns how many, or a negative code for a Meta that is not a
 * serf tag map (treat as no tags).
 */
int nc_agent_tags_decode(const uint8_t *meta, size_t len,
			 struct nc_agent_tag *out, size_t cap);

#endif /* NC_AGENT_AGENT_H */
