/*
 * serf_relay.h - rebroadcast of serf join / leave intents by a netcoord
 * agent, as every serf node does (PROTOCOL.md §7.2).
 */
#ifndef NC_AGENT_SERF_RELAY_H
#define NC_AGENT_SERF_RELAY_H

#include <stddef.h>
#include <stdint.h>

/** Pending rebroadcasts held at once; older ones are dropped first. */
#define NC_AGENT_SERF_RELAY_QUEUE 32
/** Nodes whose last intent time we remember (ring). */
#define NC_AGENT_SERF_RELAY_SEEN 256
/** Largest serf intent we relay: type + map + LTime + name (<=128). */
#define NC_AGENT_SERF_RELAY_MSG_MAX 192

/** One intent waiting to be rebroadcast. */
struct nc_agent_serf_relay_item {
	/** Serf message: type byte (0 leave, 1 join) + msgpack body. */
	char msg[NC_AGENT_SERF_RELAY_MSG_MAX];
	size_t len;
	/** Transmissions left. */
	unsigned left;
};

/** Last intent seen for one node. */
struct nc_agent_serf_relay_seen {
	char name[129];
	/** Length of name (compared by this, not by strlen); 0 = free. */
	uint8_t name_len;
	uint8_t type;
	uint64_t ltime;
};

/** Relay state (embedded in the agent; zero it, then set self). */
struct nc_agent_serf_relay {
	/** This node's name: intents about it are not relayed. */
	const char *self;
	struct nc_agent_serf_relay_item q[NC_AGENT_SERF_RELAY_QUEUE];
	size_t q_len;
	/** Round-robin position in q. */
	size_t q_next;
	struct nc_agent_serf_relay_seen seen[NC_AGENT_SERF_RELAY_SEEN];
	size_t seen_next;
	/** Counters. */
	uint64_t relayed_in, relayed_out, ignored;
	/**
	 * Intents refused because their node name has a NUL, control
	 * characters or invalid UTF-8 (also counted in ignored).
	 */
	uint64_t bad_name;
};

/**
 * A user message (memberlist type 8 payload) arrived. If it is a serf
 * join or leave intent newer than the last one seen for that node, queue
 * it for @a transmits rebroadcasts. Returns 1 if queued, 0 otherwise.
 */
int nc_agent_serf_relay_on_msg(struct nc_agent_serf_relay *r, const char *buf,
			 size_t len, unsigned transmits);

/**
 * Fill @a buf (room @a cap) with the next intent to rebroadcast; returns
 * its length or 0 if nothing fits / nothing is pending.
 */
size_t nc_agent_serf_relay_take(struct nc_agent_serf_relay *r, char *buf, size_t cap);

#endif /* NC_AGENT_SERF_RELAY_H */
