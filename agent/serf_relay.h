/*
 * serf_relay.h - a netcoord agent spreads what a serf node spreads: join
 * and leave intents, user events and queries, each re-broadcast once per
 * new (LTime, node / event / query ID) with serf's dedup rules and
 * memberlist's retransmit limit (PROTOCOL.md §7.2), and serf's three
 * Lamport clocks witnessed as serf does.
 */
#ifndef NC_AGENT_SERF_RELAY_H
#define NC_AGENT_SERF_RELAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/util.h"

/** Pending rebroadcasts held at once; older ones are dropped first. */
#define NC_AGENT_SERF_RELAY_QUEUE 48
/** Nodes whose last intent time we remember (ring). */
#define NC_AGENT_SERF_RELAY_SEEN 256
/**
 * Largest serf message we relay: serf's own limits are 512 bytes for an
 * event and 1024 for a query (UserEventSizeLimit, QuerySizeLimit); a
 * user message must fit in one UDP packet anyway.
 */
#define NC_AGENT_SERF_RELAY_MSG_MAX 1400
/** serf's EventBuffer and QueryBuffer defaults: LTime slots remembered. */
#define NC_AGENT_SERF_EVENT_BUFFER 512
#define NC_AGENT_SERF_QUERY_BUFFER 512
/**
 * Distinct events (name + payload) or query IDs remembered per LTime slot
 * (serf keeps a list; several at one LTime are rare: the clock ticks per
 * message). Beyond it the oldest of the slot is forgotten, which can only
 * cause one more bounded relay, never a loss.
 */
#define NC_AGENT_SERF_SLOT_IDS 4

/** One message waiting to be rebroadcast (allocated to its size). */
struct nc_agent_serf_relay_item {
	size_t len;
	/** Transmissions left. */
	unsigned left;
	/** Already sent in the current pass (packet). */
	bool in_pass;
	/** Serf message: type byte + msgpack body, len bytes. */
	char msg[];
};

/** Last intent seen for one node. */
struct nc_agent_serf_relay_seen {
	/** The node's name, NUL-terminated (malloc()ed; NULL = free). */
	char *name;
	/** Length of name (compared by this, not by strlen); 0 = free. */
	uint8_t name_len;
	uint8_t type;
	uint64_t ltime;
	/** Link in the relay's seen_index (while name != NULL). */
	struct nc_hmap_node in_index;
};

/**
 * One LTime slot of serf's event or query buffer (index LTime % size):
 * the events (hash of name and payload) or query IDs seen at that LTime.
 */
struct nc_agent_serf_slot {
	uint64_t ltime;
	uint64_t ids[NC_AGENT_SERF_SLOT_IDS];
	uint8_t n;
	/** Next id to overwrite when the slot is full. */
	uint8_t next;
};

/** User events kept for the operator (GET /v1/event/list), newest last. */
#define NC_AGENT_SERF_RECENT 64
/** Bytes of an event's name / payload kept (serf's UserEventSizeLimit). */
#define NC_AGENT_SERF_EVENT_NAME_MAX 128
#define NC_AGENT_SERF_EVENT_PAYLOAD_MAX 512

/** One user event seen (or fired by us). */
struct nc_agent_serf_event {
	uint64_t ltime;
	char name[NC_AGENT_SERF_EVENT_NAME_MAX + 1];
	uint16_t name_len;
	uint16_t payload_len;
	uint8_t payload[NC_AGENT_SERF_EVENT_PAYLOAD_MAX];
	/** CC: may be coalesced; fired by this agent; name or payload cut. */
	bool coalesce, own, truncated;
};

/** serf's Lamport clocks: the next time to use (serf's LamportClock). */
struct nc_agent_serf_clocks {
	uint64_t member, event, query;
};

/**
 * Relay state (embedded in the agent; zero it, then set self; free with
 * nc_agent_serf_relay_destroy). What it holds is allocated on use and
 * sized to it, under the same caps: a queued message takes its length, a
 * remembered intent its name, the event and query buffers exist once the
 * first event or query arrives (most agents never see one), a recent
 * event its ring slot. Allocation failure drops the message (counted in
 * dropped), as a full queue does.
 */
struct nc_agent_serf_relay {
	/** This node's name: intents about it are not relayed. */
	const char *self;
	/** Queued messages, oldest first (q_len of them). */
	struct nc_agent_serf_relay_item *q[NC_AGENT_SERF_RELAY_QUEUE];
	size_t q_len;
	struct nc_agent_serf_relay_seen seen[NC_AGENT_SERF_RELAY_SEEN];
	size_t seen_next;
	/** seen[] by name: every intent received looks its node up, at
	 * fleet scale thousands a second (a scan was 15 % of fleet-sim's
	 * CPU at 1,000 agents). */
	struct nc_hmap seen_index;
	/** NC_AGENT_SERF_EVENT_BUFFER / _QUERY_BUFFER slots, NULL until the
	 * first event / query. */
	struct nc_agent_serf_slot *events;
	struct nc_agent_serf_slot *queries;
	struct nc_agent_serf_clocks clock;
	/** The last user events seen, a ring (recent_n of them, oldest at
	 * recent_head when full); a slot is allocated on first use. */
	struct nc_agent_serf_event *recent[NC_AGENT_SERF_RECENT];
	size_t recent_n, recent_head;
	/** Counters. */
	uint64_t relayed_in, relayed_out, ignored;
	/**
	 * Intents refused because their node name has a NUL, control
	 * characters or invalid UTF-8 (also counted in ignored).
	 */
	uint64_t bad_name;
	/** New user events / queries seen (first reception). */
	uint64_t events_in, queries_in;
	/** Old (outside the buffer window) or repeated events / queries. */
	uint64_t events_old, queries_old;
	/** Queued messages dropped to make room (queue full), or messages
	 * dropped because memory for them could not be allocated. */
	uint64_t dropped;
	/** Malformed or oversized serf messages (or push/pull states). */
	uint64_t bad_msg;
	/** Push/pull states merged; events first learnt from them. */
	uint64_t states_merged, events_merged;
};

/** Free what the relay holds; it is then empty (self kept). */
void nc_agent_serf_relay_destroy(struct nc_agent_serf_relay *r);

/** What nc_agent_serf_relay_on_msg made of a message. */
enum nc_agent_serf_verdict {
	/** Not a serf message we relay, old news, or refused. */
	NC_AGENT_SERF_IGNORED = 0,
	/** New: queued for rebroadcast. */
	NC_AGENT_SERF_QUEUED = 1,
	/** New, but not to rebroadcast (a query flagged no-broadcast). */
	NC_AGENT_SERF_NEW = 2,
};

/**
 * A user message (memberlist type 8 payload) arrived. Serf join/leave
 * intents newer than the last one seen for their node, and user events
 * and queries not yet seen at their LTime (serf's handleUserEvent /
 * handleQuery rules) are queued for @a transmits rebroadcasts; the clocks
 * witness every LTime. Returns an enum nc_agent_serf_verdict.
 */
int nc_agent_serf_relay_on_msg(struct nc_agent_serf_relay *r, const char *buf,
			       size_t len, unsigned transmits);

/**
 * Queue a message of our own (an event we fire, a query we run) for
 * @a transmits broadcasts, and remember it as seen. 0 or -EMSGSIZE.
 */
int nc_agent_serf_relay_queue(struct nc_agent_serf_relay *r, const char *buf,
			      size_t len, unsigned transmits);

/**
 * Fill @a buf (room @a cap) with the next message to rebroadcast, newest
 * first, each message at most once per pass; returns its length, or 0
 * when nothing (more) fits or is pending: that ends the pass, the next
 * call starts another. Call it until 0 for each packet.
 */
size_t nc_agent_serf_relay_take(struct nc_agent_serf_relay *r, char *buf, size_t cap);

struct nc_proto_serf_user_event;

/**
 * A user event from a push/pull's user state (serf's MergeRemoteState):
 * witnessed and remembered like a received one, but not re-broadcast
 * (serf does not either). Returns 1 if it was new.
 */
int nc_agent_serf_relay_merge_event(struct nc_agent_serf_relay *r,
				    const struct nc_proto_serf_user_event *m);

/**
 * serf push/pull user state: ours (nc_proto_encode_serf_push_pull of our
 * clocks, the join LTimes we know and the recent events) into @a buf;
 * returns its length or 0 if it does not fit.
 */
size_t nc_agent_serf_relay_local_state(const struct nc_agent_serf_relay *r,
				       char *buf, size_t cap);

/**
 * A remote push/pull's user state (02 | messagePushPull): its clocks are
 * witnessed (minus one, as serf) and its events merged. Returns 0, or a
 * negative decode error (nothing merged then).
 */
int nc_agent_serf_relay_merge_state(struct nc_agent_serf_relay *r,
				    const char *buf, size_t len);

/** Recent event @a i, 0 = oldest, i < r->recent_n. */
const struct nc_agent_serf_event *
nc_agent_serf_relay_recent(const struct nc_agent_serf_relay *r, size_t i);

/** serf's LamportClock.Witness: *clock becomes at least @a lt + 1. */
static inline void
nc_agent_serf_clock_witness(uint64_t *clock, uint64_t lt)
{
	if (lt < UINT64_MAX / 2 && lt >= *clock)
		*clock = lt + 1;
}

#endif /* NC_AGENT_SERF_RELAY_H */
