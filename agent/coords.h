#ifndef NC_AGENT_COORDS_H
#define NC_AGENT_COORDS_H
/*
 * agent/coords.h - the coordinate service of an agent (agent/coords.c):
 * the translation layer between gossip/ and coord/ (serf's ack payload,
 * probe RTTs into the coordinate client), the bounded cache of every
 * member's coordinate, the coordinate gossip among netcoord agents, and
 * the coordinate fetch from owners for queries (issue 12 §2). Its wire
 * format is documented at the top of agent/coords.c.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "coord/coord.h"

struct nc_gossip;
struct nc_coord_config;
struct nc_coord_client;
struct nc_gossip_member;

/**
 * Tag key marking a netcoord agent in its serf tags (Meta); the value is
 * the coordinate gossip protocol version (NC_AGENT_COORDS_PROTO). Only
 * members carrying it are sent coordinate messages: serf logs every user
 * message it cannot decode.
 */
#define NC_AGENT_COORDS_TAG "nc"
/** Coordinate gossip protocol version (the tag's value). */
#define NC_AGENT_COORDS_PROTO 1

/** Where a cached coordinate came from. */
enum nc_agent_coord_source {
	NC_AGENT_SRC_NONE = 0,
	/** This node's own coordinate. */
	NC_AGENT_SRC_SELF,
	/** Carried in the ack of a direct probe by us. */
	NC_AGENT_SRC_PROBE,
	/** Received in a coordinate gossip message (from `via`), or in a
	 * fetch reply from its owner (`via` is the owner). */
	NC_AGENT_SRC_GOSSIP,
};

/** "self", "probe", "gossip" or "none". */
const char *nc_agent_coord_source_str(enum nc_agent_coord_source s);

/** Parameters of the coordinate cache; fill with _default(). */
struct nc_agent_coords_config {
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
	/**
	 * Most cache entries (-coord-cache-max). At the cap a new name
	 * evicts the entry whose coordinate is oldest (one without a
	 * coordinate first), never one that is interesting, being fetched
	 * or waiting for its greeting; if every entry is, the new name is
	 * dropped (counted). Default 65536.
	 */
	unsigned max_entries;
	/**
	 * Coordinate fetch (top of agent/coords.c): requests sent per
	 * second (token bucket, two seconds' worth of burst). Default 200;
	 * 0 turns fetching off (queries answer from the cache as it is).
	 */
	double fetch_rate;
	/** Fetch replies sent per second, all requesters together (token
	 * bucket, one second's worth of burst). Default 200. */
	double reply_rate;
	/** A fetch not answered within this is forgotten and counted, s.
	 * Default 1. */
	double fetch_timeout_s;
	/**
	 * A name fetched for a query stays interesting this long after the
	 * last query that needed it, s. Default 300.
	 */
	double interest_s;
	/**
	 * While interesting, a coordinate older than this is fetched again
	 * in the background, s. Default 20.
	 */
	double refresh_age_s;
};

/** Fill the defaults. */
void nc_agent_coords_config_default(struct nc_agent_coords_config *cfg);

/** One cached coordinate as the API reports it (copied out). */
struct nc_agent_coord_info {
	/** A coordinate is known (coord valid). */
	bool has_coord;
	/** The coordinate (self: the client's current one); see get(). */
	const struct nc_coord *coord;
	/** Age of the coordinate, s (how long ago it was current). */
	double age_s;
	enum nc_agent_coord_source source;
	/** For NC_AGENT_SRC_GOSSIP: the member that sent it ("" otherwise). */
	const char *via;
	/** Last RTT we measured to this member, s (NAN if none). */
	double measured_rtt_s;
	/** Age of that measurement, s (NAN if none). */
	double measured_age_s;
};

/** Counters of the coordinate cache. */
struct nc_agent_coords_stats {
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
	/** Cache entries evicted at max_entries / new names dropped there
	 * (every entry protected). */
	uint64_t evicted, evict_none;
	/** Fetch: requests sent / replies accepted / requests not
	 * answered within fetch_timeout_s. */
	uint64_t fetch_req_out, fetch_reply_in, fetch_timeouts;
	/** Fetch requests not sent: the member is unknown, not alive, not
	 * a netcoord agent (or the transport refused) / request budget /
	 * pending table full. */
	uint64_t fetch_skip_unusable, fetch_skip_budget, fetch_skip_full;
	/** Fetch requests received / answered. */
	uint64_t fetch_req_in, fetch_reply_out;
	/** Fetch requests dropped: malformed / from a non-member (or a
	 * serf member, or dead) / about someone else / over the reply
	 * budget (all requesters, or one requester's share). */
	uint64_t fetch_req_bad, fetch_req_not_member, fetch_req_not_owner,
	    fetch_req_budget;
	/** Fetch replies dropped: malformed or bad values / not from the
	 * owner / unsolicited (nothing pending for it). */
	uint64_t fetch_reply_bad, fetch_reply_not_owner, fetch_reply_unsolicited;
	/** Interesting names now; names not made interesting (table
	 * full); background refetches sent. */
	unsigned interesting;
	uint64_t interest_full, refetches;
	/** Requests repeated for an interesting name still unanswered after
	 * NC_COORDS_RETRY_S (a lost datagram; either answer counts). */
	uint64_t fetch_retries;
};

/**
 * Create the cache and the coordinate client (@a ccfg copied; NULL =
 * defaults with peer_cap 1024). @a self is this node's name. @a now is
 * the env clock. Returns NULL (message in err) on bad config / OOM.
 */
struct nc_agent_coords *nc_agent_coords_new(const char *self,
					const struct nc_coord_config *ccfg,
					const struct nc_agent_coords_config *cfg,
					double now, char *err, size_t err_cap);

/** Free (NULL is fine). */
void nc_agent_coords_delete(struct nc_agent_coords *c);

/**
 * Member table used to validate names and member states (borrowed; NULL
 * = accept any name, every member counts as alive).
 */
void nc_agent_coords_set_gossip(struct nc_agent_coords *c, struct nc_gossip *g);

/** The coordinate client (borrowed). */
struct nc_coord_client *nc_agent_coords_client(struct nc_agent_coords *c);

/** gossip hook ack_payload: our coordinate in serf's format. */
size_t nc_agent_coords_ack_payload(struct nc_agent_coords *c, char *buf,
				 size_t cap);

/**
 * gossip hook probe_done: decode and validate the peer's ack payload,
 * cache it as the peer's coordinate, update ours with @a rtt_s.
 * @retval 0 used; negative: rejected and counted.
 */
int nc_agent_coords_probe_done(struct nc_agent_coords *c, double now,
			     const char *peer, double rtt_s,
			     const char *payload, size_t len);

/**
 * A direct measurement of @a peer that is not a probe (the API's
 * verified nearest pings): kept as its last measured RTT (what /v1/rtt
 * reports and the combine rule uses); the coordinate is not updated.
 * Ignored for unknown members and self.
 */
void nc_agent_coords_note_rtt(struct nc_agent_coords *c, double now,
			      const char *peer, double rtt_s);

/** A member joined (start of its new-member window) or was reaped. */
void nc_agent_coords_member_joined(struct nc_agent_coords *c, double now,
				 const char *name);
void nc_agent_coords_member_reaped(struct nc_agent_coords *c, const char *name);
/**
 * A member's state or Meta changed (suspect, alive again, failed, left,
 * tags): read endpoints stop answering from the old view at once instead
 * of within the view's staleness bound.
 */
void nc_agent_coords_member_changed(struct nc_agent_coords *c);

/**
 * gossip hook user_broadcast: a coordinate message for @a to, or 0.
 * Nothing is sent to @a to == NULL or to members without the
 * NC_AGENT_COORDS_TAG tag.
 */
size_t nc_agent_coords_user_broadcast(struct nc_agent_coords *c, double now,
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
size_t nc_agent_coords_greet_take(struct nc_agent_coords *c, double now,
				const struct nc_gossip_member **to, char *buf,
				size_t cap);

/**
 * gossip hook user_msg: if @a buf is a coordinate message, apply it and
 * return 1 (consumed; do not pass it on); 0 if it is not ours.
 */
int nc_agent_coords_user_msg(struct nc_agent_coords *c, double now, const char *buf,
			   size_t len);

/**
 * Look up @a name (self included). @a out->coord and out->via point into
 * the cache: valid until the next call on @a c (copy the coordinate
 * before looking up another node).
 * @retval 0 found (out filled; has_coord may be false), -1 not cached.
 */
int nc_agent_coords_get(struct nc_agent_coords *c, double now, const char *name,
		      struct nc_agent_coord_info *out);

/** Counters. */
void nc_agent_coords_stats(const struct nc_agent_coords *c,
			 struct nc_agent_coords_stats *out);

/* ------------------------------------------------------------------ */
/* Coordinate fetch (issue 12 §2; top of agent/coords.c)              */
/* ------------------------------------------------------------------ */

/**
 * How fetch messages leave: send @a len bytes to member @a to as a user
 * message in a datagram of its own (the agent: nc_gossip_send_user).
 * Returns 0 or a negative errno.
 */
typedef int (*nc_agent_coords_send_fn)(void *ctx, const char *to,
				       const char *buf, size_t len);

/** Set the sender (NULL: fetching is off). */
void nc_agent_coords_set_sender(struct nc_agent_coords *c,
				nc_agent_coords_send_fn fn, void *ctx);

/** What nc_agent_coords_fetch found for a query's candidates. */
struct nc_agent_coords_fetch_result {
	/** Names with a coordinate younger than fresh_age_s (self too). */
	unsigned fresh;
	/** Names being fetched (asked now or earlier, not answered yet). */
	unsigned pending;
	/** Names whose request waits for the request budget. */
	unsigned deferred;
	/** Names that cannot be fetched: unknown, not alive, not a
	 * netcoord agent, or fetching off. */
	unsigned unusable;
};

/**
 * A query needs fresh coordinates of @a names: every name becomes (or
 * stays) interesting for interest_s; those without a coordinate younger
 * than @a fresh_age_s are fetched from their owners (one request each,
 * unless one is pending; within the request budget). Call it again to
 * see progress (nothing is asked twice while pending).
 * @return names that may still become fresh (pending + deferred).
 */
unsigned nc_agent_coords_fetch(struct nc_agent_coords *c, double now,
			       const char *const *names, size_t n,
			       double fresh_age_s,
			       struct nc_agent_coords_fetch_result *out);

/**
 * Periodic work (the agent calls it every 0.25 s): fetches not answered
 * within fetch_timeout_s are forgotten, expired interest is dropped and
 * interesting coordinates older than refresh_age_s are fetched again
 * (using at most half the request budget).
 */
void nc_agent_coords_fetch_tick(struct nc_agent_coords *c, double now);

/**
 * The candidates worth fetching for "the @a k nearest of @a names to
 * @a src": those without a coordinate first (any of them may be the
 * nearest), then by the cached estimate. Writes at most @a k indices into
 * @a names to @a out (sorted); returns how many (SIZE_MAX on OOM).
 */
size_t nc_agent_coords_pick_nearest(struct nc_agent_coords *c,
				    const struct nc_coord *src,
				    const char *const *names, size_t n,
				    size_t k, size_t *out);

/**
 * The candidates worth fetching for a failover ranking: per group
 * (@a group[i], any numbering), the @a per_group members whose cached
 * estimate from @a src is closest to the group's median (those without a
 * coordinate first), interleaved: every group's first, then every
 * group's second, ... Writes indices into @a names to @a out (room for
 * @a n); returns how many (SIZE_MAX on OOM).
 */
size_t nc_agent_coords_pick_groups(struct nc_agent_coords *c,
				   const struct nc_coord *src,
				   const char *const *names,
				   const size_t *group, size_t n,
				   size_t per_group, size_t *out);

/** Is @a m tagged as a netcoord agent (NC_AGENT_COORDS_TAG present)? */
bool nc_agent_member_is_nc(const struct nc_gossip_member *m);

/**
 * Membership epoch: bumped whenever a member joins, changes state or is
 * reaped, so that a reader holding a copy of the member table (api/view.c)
 * knows it must rebuild it.
 */
uint64_t nc_agent_coords_members_epoch(const struct nc_agent_coords *c);

/* ------------------------------------------------------------------ */
/* Snapshot (agent/snapshot.c)                                        */
/* ------------------------------------------------------------------ */

/** Room for a member name and its NUL (gossip's NC_GOSSIP_NAME_MAX + 1). */
#define NC_AGENT_COORDS_NAME_CAP 129

/** One cached coordinate, copied out for a snapshot. */
struct nc_agent_coord_saved {
	char name[NC_AGENT_COORDS_NAME_CAP];
	/** Its coordinate. */
	struct nc_coord coord;
	/** Age of the coordinate, s. */
	double age_s;
	/** NC_AGENT_SRC_PROBE or NC_AGENT_SRC_GOSSIP. */
	enum nc_agent_coord_source source;
	/** Last RTT we measured to it and that measurement's age, s (NAN:
	 * none). */
	double measured_rtt_s, measured_age_s;
};

/**
 * Copy the cached coordinates (self excluded) into *out (malloc, free it;
 * NULL when there are none). Returns how many, or -ENOMEM.
 */
long nc_agent_coords_export(const struct nc_agent_coords *c, double now,
			    struct nc_agent_coord_saved **out);

/**
 * Put a saved coordinate back into the cache (ages counted from @a now),
 * unless the cache already holds a newer one for that name. Values are
 * checked as for coordinates from the network.
 * @retval 0 restored or kept the newer; -EINVAL bad name/values; -ENOSPC
 *         cache full.
 */
int nc_agent_coords_restore(struct nc_agent_coords *c, double now,
			    const struct nc_agent_coord_saved *in);

#endif /* NC_AGENT_COORDS_H */
