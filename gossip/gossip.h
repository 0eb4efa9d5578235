#ifndef NC_GOSSIP_GOSSIP_H
#define NC_GOSSIP_GOSSIP_H
/*
 * Public API of gossip/: SWIM failure detection with Lifeguard, wire
 * compatible with HashiCorp memberlist 0.2.2 as used by serf 0.9.4
 * (../shared/docs/PROTOCOL.md).
 *
 * gossip/ knows nothing about coordinates. It sends an opaque ack payload
 * (asked from a hook) and reports (peer, rtt, payload) when a direct UDP
 * probe completes. The agent wiring translates between this and coord/.
 *
 * All calls happen on the env's loop thread; nothing here is thread-safe.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gossip/env.h"

struct nc_gossip;
struct nc_crypto_keyring;

/** Longest node name we accept (memberlist has no limit; serf's are short). */
#define NC_GOSSIP_NAME_MAX 128
/** memberlist's MetaMaxSize. */
#define NC_GOSSIP_META_MAX 512

/**
 * Why a node name from the network is refused (issue 9): names are
 * printed in logs and JSON and compared as C strings, so a NUL, a control
 * character (< 0x20, 0x7f) or invalid UTF-8 (overlong forms, surrogates,
 * > U+10FFFF included) makes one unusable. memberlist has no such check.
 */
enum nc_gossip_name_problem {
	NC_GOSSIP_NAME_OK = 0,
	NC_GOSSIP_NAME_BAD_LENGTH, /**< empty or over NC_GOSSIP_NAME_MAX */
	NC_GOSSIP_NAME_NUL,
	NC_GOSSIP_NAME_CONTROL,
	NC_GOSSIP_NAME_BAD_UTF8,
};

/** Check @a len bytes of @a name (not NUL-terminated). */
enum nc_gossip_name_problem nc_gossip_name_check(const char *name, size_t len);
/** "empty or too long", "NUL byte", "control character", "invalid UTF-8". */
const char *nc_gossip_name_problem_str(enum nc_gossip_name_problem p);
/** True if @a len bytes of @a p are valid UTF-8 (NUL and controls allowed). */
bool nc_gossip_utf8_valid(const char *p, size_t len);
/**
 * A printable copy of @a len bytes of @a name for a log line: printable
 * ASCII as is, '\\' and every other byte as \xNN, cut with "..." to fit
 * @a cap (>= 8). Returns @a out.
 */
const char *nc_gossip_name_escape(const char *name, size_t len, char *out,
				  size_t cap);

/** Member states. The numeric values are push/pull's `State` (§3.2). */
enum nc_member_state {
	NC_MEMBER_ALIVE = 0,
	NC_MEMBER_SUSPECT = 1,
	NC_MEMBER_DEAD = 2,
	NC_MEMBER_LEFT = 3,
};

/** "alive", "suspect", "dead" or "left". */
const char *nc_member_state_str(enum nc_member_state s);

/**
 * A member as the gossip layer sees it (read-only for callers). Name and
 * Meta are owned by gossip and sized to their content (a member costs
 * ~300 bytes plus its name and Meta, whatever NC_GOSSIP_META_MAX is);
 * like the struct, they stay valid until the next event about it.
 */
struct nc_gossip_member {
	/** Node name, NUL-terminated, 1..NC_GOSSIP_NAME_MAX bytes. */
	const char *name;
	/** Gossip address (UDP and TCP share the port). */
	struct nc_addr addr;
	uint32_t incarnation;
	/** An enum nc_member_state, in a byte: this struct is in every
	 * member of every table (64 bytes, no padding holes). */
	uint8_t state;
	/** True for this node's own entry. */
	bool is_self;
	/** pmin pmax pcur dmin dmax dcur. */
	uint8_t vsn[6];
	/** Env time of the last state change. */
	double state_change;
	/**
	 * Raw Meta (serf tags encoding, PROTOCOL.md §7.1), meta_len bytes
	 * (<= NC_GOSSIP_META_MAX); NULL when empty.
	 */
	const uint8_t *meta;
	size_t meta_len;
};

/** Timing and behaviour; fill with nc_gossip_config_default(). */
struct nc_gossip_config {
	/** This node's name (required, unique in the cluster). */
	char name[NC_GOSSIP_NAME_MAX + 1];
	/** Address and port advertised to others (required). */
	struct nc_addr advertise;
	/** Initial Meta (e.g. serf tags); may be empty. */
	uint8_t meta[NC_GOSSIP_META_MAX];
	size_t meta_len;
	/** Advertised versions; default 01 05 02 02 05 05 like serf. */
	uint8_t vsn[6];

	double probe_interval;          /**< s; LAN 1 */
	double probe_timeout;           /**< s; LAN 0.5 */
	int indirect_checks;            /**< LAN 3 */
	int suspicion_mult;             /**< LAN 4 */
	int suspicion_max_timeout_mult; /**< LAN 6 */
	int retransmit_mult;            /**< LAN 4 */
	int awareness_max_multiplier;   /**< LAN 8 */
	double gossip_interval;         /**< s; LAN 0.2 */
	int gossip_nodes;               /**< LAN 3 */
	double gossip_to_the_dead_time; /**< s; LAN 30 */
	double pushpull_interval;       /**< s; LAN 30 */
	double tcp_timeout;             /**< s; LAN 10 */
	size_t udp_buffer_size;         /**< bytes; 1400 */
	/** Serf's ReconnectInterval for failed members (s; 30), 0 = off. */
	double reconnect_interval;
	/** TCP ping fallback when UDP probes fail (memberlist default on). */
	bool tcp_ping;
	/**
	 * Lifeguard on (default): local health awareness, dynamic suspicion
	 * timeout with confirmations, nacks, buddy system. Off = classic
	 * SWIM timings (fixed suspicion timeout = min, no awareness scaling,
	 * no nacks requested, plain pings to suspects), for comparison runs
	 * only.
	 */
	bool lifeguard;
	/**
	 * Lifeguard's components one by one, for comparison runs only
	 * (fleet-sim's Lifeguard benchmark). Each takes effect only with
	 * lifeguard on; all default true. Names as in the paper (Dadgar et
	 * al., DSN 2018, §IV):
	 *   lha_probe      Local Health Aware Probe: the health score grows
	 *                  on failed probes (and refutations), and the probe
	 *                  interval and ack wait scale by score + 1;
	 *   lha_suspicion  Local Health Aware Suspicion: the suspicion
	 *                  timeout starts at max and shrinks with independent
	 *                  confirmations (off: fixed at min);
	 *   buddy_system   a suspect target gets its suspect message in the
	 *                  same packet as the ping (off: a plain ping);
	 *   nack           indirect-probe helpers are asked for a nack, and
	 *                  missing nacks feed the health score (off: a failed
	 *                  probe counts +1, as with a pre-nack peer).
	 */
	bool lha_probe;
	bool lha_suspicion;
	bool buddy_system;
	bool nack;
	/** LZW-compress outgoing packets/streams (serf default on). */
	bool compression;
	/** Keyring (borrowed; NULL = no encryption). */
	struct nc_crypto_keyring *keyring;
	bool verify_incoming;  /**< default true */
	bool verify_outgoing;  /**< default true */
	/**
	 * Speak serf on top (default true): leave intent before dead, join
	 * intent after a successful join, Lamport time tracked from received
	 * serf messages.
	 */
	bool serf_compat;
	/**
	 * Member-table cap (issue 9 row 2; default
	 * NC_GOSSIP_MAX_MEMBERS_DEFAULT, 0 = none): an alive about a NEW
	 * member beyond it is refused and counted (stats.drop_member_cap);
	 * members already known keep working. Dead members count until
	 * reaped.
	 */
	size_t max_members;
};

/**
 * Default member-table cap. A member costs at most ~2 KB across the
 * agent (gossip entry ~150 B + name <= 128 B + Meta <= 512 B, its
 * coordinate-cache entry, broadcasts, the API's views), so 10,000 bound
 * that to ~20 MB; serf clusters this large are rare, and larger ones can
 * raise it (-max-members).
 */
#define NC_GOSSIP_MAX_MEMBERS_DEFAULT 10000

enum nc_gossip_profile {
	NC_GOSSIP_PROFILE_LAN = 0,
	NC_GOSSIP_PROFILE_WAN,
	NC_GOSSIP_PROFILE_LOCAL,
};

/** Fill @a cfg with serf's defaults for @a profile (PROTOCOL.md §6.1). */
void nc_gossip_config_default(struct nc_gossip_config *cfg,
			      enum nc_gossip_profile profile);

/** Parse "lan", "wan" or "local"; returns 0 or -EINVAL. */
int nc_gossip_profile_parse(const char *s, enum nc_gossip_profile *out);

enum nc_gossip_event {
	NC_GOSSIP_EV_JOIN,    /**< new member, or back from dead/left */
	NC_GOSSIP_EV_UPDATE,  /**< Meta changed */
	NC_GOSSIP_EV_SUSPECT, /**< became suspect */
	NC_GOSSIP_EV_ALIVE,   /**< suspicion refuted (suspect -> alive) */
	NC_GOSSIP_EV_FAILED,  /**< declared dead */
	NC_GOSSIP_EV_LEFT,    /**< left gracefully */
	NC_GOSSIP_EV_REAPED,  /**< removed from the table */
};

/** Hooks to the layer above; every field may be NULL. */
struct nc_gossip_hooks {
	void *ctx;
	/**
	 * Fill the payload of an ack to a UDP ping (serf: 0x01 + coordinate).
	 * Return the number of bytes written (<= cap), 0 for none.
	 */
	size_t (*ack_payload)(void *ctx, char *buf, size_t cap);
	/**
	 * A direct UDP probe of @a peer completed within probe_timeout.
	 * @a rtt_s runs from just before the ping was sent to the ack's
	 * receive timestamp. @a payload (borrowed) is the ack's payload.
	 */
	void (*probe_done)(void *ctx, const struct nc_gossip_member *peer,
			   double rtt_s, const char *payload,
			   size_t payload_len);
	/**
	 * Membership change of @a m. @a by names who reported it (the
	 * accuser for suspect/failed, the node itself for left, NULL if
	 * unknown).
	 */
	void (*member_event)(void *ctx, enum nc_gossip_event ev,
			     const struct nc_gossip_member *m, const char *by);
	/** A user message (memberlist type 8) arrived; bytes borrowed. */
	void (*user_msg)(void *ctx, const char *buf, size_t len);
	/**
	 * Offer room for extra user broadcasts piggy-backed on outgoing
	 * packets: write one user message body into buf (<= cap) destined
	 * to @a to, return its length or 0. Called again for the same
	 * packet, with the room left, until it returns 0 or the packet is
	 * full (memberlist's GetBroadcasts fills a packet the same way); a
	 * packet that filled up first ends with one more call with cap 0
	 * (write nothing, return 0), so the hook always sees the end.
	 * Lets the layer above disseminate data (e.g. coordinates, serf
	 * events) without gossip knowing what.
	 * @a to is NULL when the packet is a reply piggy-back (ping, ack,
	 * indirect ping) whose destination is known only by address.
	 */
	size_t (*user_broadcast)(void *ctx, const struct nc_gossip_member *to,
				 char *buf, size_t cap);
	/**
	 * The user state our push/pulls carry after the node states
	 * (memberlist's Delegate.LocalState; serf's clocks and recent
	 * events): write at most @a cap bytes into @a buf, return the
	 * length, 0 for none.
	 */
	size_t (*local_state)(void *ctx, bool join, char *buf, size_t cap);
	/**
	 * The user state of a remote push/pull whose node states we accepted
	 * (memberlist's Delegate.MergeRemoteState); bytes borrowed.
	 */
	void (*merge_state)(void *ctx, const char *buf, size_t len, bool join);
	/**
	 * An alive claims the name of @a existing (us, when is_self) from
	 * another address @a other; the alive was refused (memberlist's
	 * ConflictDelegate.NotifyConflict, serf's handleNodeConflict).
	 * Called each time such an alive arrives.
	 */
	void (*conflict)(void *ctx, const struct nc_gossip_member *existing,
			 const struct nc_addr *other);
};

/** Counters, for metrics. All monotonically increasing. */
struct nc_gossip_stats {
	uint64_t packets_in, packets_out;
	uint64_t bytes_in, bytes_out;
	/**
	 * Dropped inbound packets/messages by reason: no key could open it,
	 * CRC mismatch, malformed (msgpack, compound, LZW), unsupported type
	 * byte, other (empty/oversized datagram, ping for another node name,
	 * alive with a name too long, a bad addr, Meta or Vsn size, helper
	 * relay table full).
	 */
	uint64_t drop_decrypt, drop_crc, drop_decode, drop_type, drop_other;
	/**
	 * Refused messages about members (issue 9): a node or accuser name
	 * with NUL, control characters or invalid UTF-8 (alive, suspect,
	 * dead, push/pull state); an alive whose protocol range excludes
	 * ours; an incarnation jumping absurdly far above the one we know
	 * (or one that would wrap ours).
	 */
	uint64_t drop_bad_name, drop_bad_vsn, drop_bad_incarnation;
	/**
	 * Budgets (issue 9): datagrams whose compressed parts together
	 * decompress beyond NC_PROTO_MAX_PACKET_DECOMPRESSED (the rest of
	 * the datagram is dropped); alives about a new member refused
	 * because the table holds cfg.max_members (known members are not
	 * affected).
	 */
	uint64_t drop_decompress, drop_member_cap;
	uint64_t probes, probe_failures, indirect_probes, tcp_pings;
	uint64_t acks_sent, nacks_sent;
	uint64_t suspicions, refutations, deaths_declared;
	uint64_t pushpull_out, pushpull_in, pushpull_fail;
	uint64_t streams_in, stream_errors;
	uint64_t broadcasts_queued, broadcasts_sent;
	/** Direct pings asked by nc_gossip_ping: sent, answered in time. */
	uint64_t user_pings, user_ping_acks;
};

/**
 * Create a gossip instance on @a env (borrowed; must outlive it).
 * Installs itself as env's sink. Nothing is sent until nc_gossip_start().
 * Returns NULL on invalid config (message in @a err if non-NULL).
 */
struct nc_gossip *nc_gossip_new(struct nc_env *env,
				const struct nc_gossip_config *cfg,
				const struct nc_gossip_hooks *hooks,
				char *err, size_t err_cap);

/** Arm the probe, gossip and push/pull timers. */
int nc_gossip_start(struct nc_gossip *g);

/**
 * Push/pull join (Join=true) with each of @a addrs; @a cb (may be NULL) is
 * called once with the number that answered. Returns 0 or negative.
 */
int nc_gossip_join(struct nc_gossip *g, const struct nc_addr *addrs, size_t n,
		   void (*cb)(void *arg, int joined), void *arg);

/**
 * Add @a name at @a addr (Meta @a meta, @a meta_len bytes; our versions)
 * as an alive member with @a incarnation, known from elsewhere rather
 * than from the wire: the fleet simulator's already-formed fleet
 * (`netcoord fleet-sim -formed`). The alive goes through every check a
 * received one does and raises the same events, but is not broadcast.
 * @retval 0 the member is known alive at that incarnation; -EINVAL refused
 *         (bad name, table full, older than what we know).
 */
int nc_gossip_seed_member(struct nc_gossip *g, const char *name,
			  const struct nc_addr *addr, const uint8_t *meta,
			  size_t meta_len, uint32_t incarnation);

/**
 * Graceful leave: serf leave intent (if serf_compat), then dead{self,self},
 * each broadcast until sent or @a timeout, and each also sent directly to
 * every member alive when it starts (one datagram each, in batches of 256
 * every 10 ms; the dead's datagram repeats the intent before it); then
 * @a cb. Pings are still answered until nc_gossip_delete().
 */
int nc_gossip_leave(struct nc_gossip *g, double timeout,
		    void (*cb)(void *arg), void *arg);

/** Stop timers, cancel streams, free everything. NULL is a no-op. */
void nc_gossip_delete(struct nc_gossip *g);

/** Number of members in the table (including self, dead and left). */
size_t nc_gossip_member_count(const struct nc_gossip *g);
/**
 * memberlist's retransmitLimit: how many times a broadcast is sent in a
 * cluster of @a n members, RetransmitMult x ceil(log10(n + 1)). The queue
 * of this module and anything relaying gossip beside it (serf intents) use
 * the same figure.
 */
int nc_gossip_retransmit_limit(int retransmit_mult, size_t n);
/** Member @a i, 0 <= i < count; the pointer is valid until the next event. */
const struct nc_gossip_member *nc_gossip_member_at(const struct nc_gossip *g,
						   size_t i);
/** Member by name or NULL. */
const struct nc_gossip_member *nc_gossip_member_find(const struct nc_gossip *g,
						     const char *name);
/** This node's own entry. */
const struct nc_gossip_member *nc_gossip_self(const struct nc_gossip *g);
/** Lifeguard local health score (0 = healthy). */
int nc_gossip_health_score(const struct nc_gossip *g);
/** Counters. */
const struct nc_gossip_stats *nc_gossip_stats(const struct nc_gossip *g);

/**
 * Send one user message (memberlist type 8 body, @a len bytes, borrowed)
 * to member @a to in a datagram of its own, best effort (memberlist's
 * SendBestEffort). Returns 0, -EINVAL, -EMSGSIZE (over udp_buffer_size),
 * -ENOENT (not a member, or self) or the send error.
 */
int nc_gossip_send_user(struct nc_gossip *g, const struct nc_gossip_member *to,
			const char *buf, size_t len);

/**
 * Send one user message to an address that need not be a member
 * (memberlist's SendToAddress: serf answers a query at the address the
 * query names, and forwards relayed answers to theirs). Returns 0,
 * -EINVAL (no address), -EMSGSIZE or the send error.
 */
int nc_gossip_send_user_addr(struct nc_gossip *g, const struct nc_addr *to,
			     const char *buf, size_t len);

/**
 * Most direct pings (nc_gossip_ping) in flight at once, per instance;
 * beyond it nc_gossip_ping() answers -EBUSY. The table (~100 bytes a
 * slot) is allocated on first use. The callers bound their own use
 * below it (the API's verified nearest: 4 requests x 32 candidates x 3).
 */
#define NC_GOSSIP_PINGS_MAX 512

/**
 * End of one nc_gossip_ping: @a rtt_s from just before the ping was sent
 * to the ack's receive timestamp, or NAN when no ack came within the
 * timeout (or the ping was refused by the transport). @a payload
 * (borrowed, NULL on timeout) is the ack's payload (serf's coordinate).
 */
typedef void (*nc_gossip_ping_cb)(void *arg, double rtt_s,
				  const char *payload, size_t payload_len);

/**
 * Send one memberlist ping to member @a name (any state; serf members
 * answer it like a probe) and call @a cb once with the RTT, or NAN after
 * @a timeout_s (0 < timeout <= 10 s), from an env timer: never blocks,
 * never calls back from inside this call. It is not a probe: no
 * suspicion, no awareness change, no probe_done hook.
 * @retval 0 sent
 * @retval -EINVAL bad timeout or callback
 * @retval -ENOENT not a member, or this node
 * @retval -EBUSY NC_GOSSIP_PINGS_MAX in flight
 * @retval -ENOMEM no table
 */
int nc_gossip_ping(struct nc_gossip *g, const char *name, double timeout_s,
		   nc_gossip_ping_cb cb, void *arg);

/**
 * Cancel every ping in flight whose callback argument is @a arg (their
 * callbacks are not called). Returns how many.
 */
size_t nc_gossip_ping_cancel(struct nc_gossip *g, void *arg);

/**
 * Replace own Meta (bumps incarnation, broadcasts alive). Returns 0,
 * -EINVAL (over NC_GOSSIP_META_MAX) or -ENOMEM (nothing changed).
 */
int nc_gossip_set_meta(struct nc_gossip *g, const uint8_t *meta, size_t len);

#endif /* NC_GOSSIP_GOSSIP_H */
