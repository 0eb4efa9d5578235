/*
 * serf_query.h - a netcoord agent answers serf queries as a serf agent
 * without query handlers does: an ack when the query asks for one, and
 * serf's internal queries (_serf_ping, _serf_conflict, _serf_list-keys,
 * _serf_install-key, _serf_use-key, _serf_remove-key) with the payloads
 * serf's internal_query.go sends (PROTOCOL.md §7.2). It also forwards
 * serf relay messages (type 9) to their destination, as serf does.
 *
 * What it needs from the agent comes through struct nc_agent_serf_ops,
 * so that tests drive it with fakes: messages in, messages out.
 */
#ifndef NC_AGENT_SERF_QUERY_H
#define NC_AGENT_SERF_QUERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/agent.h"
#include "gossip/env.h"
#include "gossip/proto.h"

/** serf's QueryResponseSizeLimit: largest response (or relay) sent. */
#define NC_AGENT_SERF_RESPONSE_MAX 1024
/** serf's minEncodedKeyLength: bounds the keys in a list answer. */
#define NC_AGENT_SERF_MIN_ENCODED_KEY 25

/** What the query answerer asks of the agent. */
struct nc_agent_serf_ops {
	void *ctx;
	/** This node's name. */
	const char *self;
	/** This node's serf tags as Meta (0xff + map), for tag filters. */
	const uint8_t *self_meta;
	size_t self_meta_len;
	/**
	 * Send a serf message (type byte + body) as a UDP user message to
	 * @a to (node @a name, may be empty). 0 or a negative errno.
	 */
	int (*send)(void *ctx, const struct nc_addr *to, const char *name,
		    size_t name_len, const char *buf, size_t len);
	/**
	 * Up to @a k members (alive, protocol max >= 5, not us) picked at
	 * random to relay a response through, into @a out; returns how
	 * many. Returns 0 when the cluster has fewer than k + 1 members
	 * (serf: "needs to be worth it").
	 */
	size_t (*relay_targets)(void *ctx, unsigned k, struct nc_addr *out);
	/**
	 * The member named @a name as serf describes it (conflict answers),
	 * @a ip room for its address bytes. false when unknown.
	 */
	bool (*member)(void *ctx, const char *name, size_t name_len,
		       struct nc_proto_serf_member *out, uint8_t ip[16]);
	/** nc_agent_keyring_list / _change semantics (agent/agent.h). */
	int (*key_list)(void *ctx, char (*keys)[NC_AGENT_KEY_B64_CAP],
			size_t cap);
	int (*key_change)(void *ctx, enum nc_agent_key_op op, const char *b64,
			  char *err, size_t err_cap);
	/** Log a line (may be NULL). */
	void (*log)(void *ctx, enum nc_log_level lvl, const char *msg);
};

/** Counters. */
struct nc_agent_serf_query_stats {
	/** Acks sent; responses sent (internal queries). */
	uint64_t acks, responses;
	/** Copies sent through relays (RelayFactor). */
	uint64_t relayed;
	/** Queries filtered out (node or tag filters). */
	uint64_t filtered;
	/** User queries we have no handler for (acked only). */
	uint64_t unhandled;
	/** Relay messages (type 9) forwarded for others. */
	uint64_t forwarded;
	/** Send failures, undecodable messages. */
	uint64_t send_errors, bad;
};

/**
 * A new query (serf type 4 message, @a len bytes, the relay already
 * judged it new: nc_agent_serf_relay_on_msg) arrived: answer it as
 * serf does. Returns the number of messages sent.
 */
int nc_agent_serf_query_answer(const struct nc_agent_serf_ops *ops,
			       struct nc_agent_serf_query_stats *st,
			       const char *buf, size_t len);

/**
 * A serf relay message (type 9) arrived: forward the message it carries
 * to its destination (serf's NotifyMsg does, to any address). 0 or a
 * negative errno.
 */
int nc_agent_serf_relay_forward(const struct nc_agent_serf_ops *ops,
				struct nc_agent_serf_query_stats *st,
				const char *buf, size_t len);

#endif /* NC_AGENT_SERF_QUERY_H */
