/*
 * serf_collect.h - serf queries this agent runs itself (serf's Query and
 * QueryResponse, query.go / serf.go): the query encoded as serf encodes
 * it, the open queries of the agent and the acks and responses collected
 * for them (deduplicated by node, bounded, ended by a deadline the agent's
 * timer enforces), and the tallies serf makes of them: the key manager's
 * KeyResponse (keymanager.go streamKeyResp) and the name-conflict vote
 * (serf.go resolveNodeConflict).
 *
 * Pure bookkeeping, no clock, no sockets: the agent passes the time in
 * and arms its timer for nc_agent_serf_collect_next(); tests drive it
 * with plain calls.
 */
#ifndef NC_AGENT_SERF_COLLECT_H
#define NC_AGENT_SERF_COLLECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/agent.h"
#include "gossip/proto.h"

/**
 * Queries of our own open at once (a key operation, a reachability test,
 * a conflict vote each take one). serf has no cap; a full table refuses
 * the next with -EBUSY (HTTP 429) until one ends.
 */
#define NC_AGENT_SERF_OPEN_MAX 8
/**
 * Most acks and most responses one query takes (each from a distinct
 * known member). Its tables start at the alive member count when it
 * starts (serf sizes its channels so) and double as more members answer,
 * up to this: 8 bytes (a name hash) per node and kind, 64 KiB per query
 * at the cap.
 */
#define NC_AGENT_SERF_NODES_MAX 4096
/** serf's QuerySizeLimit: the largest query we send. */
#define NC_AGENT_SERF_QUERY_MAX 1024
/** serf's QueryTimeoutMult. */
#define NC_AGENT_SERF_QUERY_TIMEOUT_MULT 16

/**
 * serf's DefaultQueryTimeout: gossip interval x QueryTimeoutMult x
 * ceil(log10(n + 1)), @a n the alive members (us included).
 */
double nc_agent_serf_query_timeout(double gossip_interval_s, size_t n);

/** What a query we send says (serf's messageQuery fields). */
struct nc_agent_serf_query_params {
	uint64_t ltime;
	uint32_t id;
	/** Our advertised address (Addr, Port) and name (SourceNode). */
	const struct nc_addr *addr;
	const char *self;
	const char *name;
	const void *payload;
	size_t payload_len;
	bool want_ack;
	double timeout_s;
};

/**
 * Encode the query (04 | messageQuery) into @a buf. Returns its length,
 * or -EMSGSIZE over NC_AGENT_SERF_QUERY_MAX (serf's "query exceeds
 * limit of 1024 bytes"), -EINVAL for a bad address.
 */
int nc_agent_serf_query_encode(char *buf, size_t cap,
			       const struct nc_agent_serf_query_params *p);

/** Why a query ended (nc_agent_serf_waiter.done). */
enum nc_agent_serf_end {
	/** Its timeout passed (serf closes it then). */
	NC_AGENT_SERF_END_TIMEOUT,
	/** The waiter had all it wanted (its response returned true). */
	NC_AGENT_SERF_END_ENOUGH,
	/** The agent is stopping. */
	NC_AGENT_SERF_END_CANCELLED,
};

/**
 * Who waits for a query's answers. Strings are borrowed for the call.
 * Every callback may be NULL. done is called exactly once, after the
 * query was removed from the table (it may start another).
 */
struct nc_agent_serf_waiter {
	void *arg;
	/** A first ack from @a from. */
	void (*ack)(void *arg, const char *from, size_t from_len);
	/** A first response; return true to end the query (soon). */
	bool (*response)(void *arg, const char *from, size_t from_len,
			 const char *payload, size_t payload_len);
	void (*done)(void *arg, enum nc_agent_serf_end why);
};

/** One open query (a slot of the table). */
struct nc_agent_serf_open {
	bool used;
	uint64_t ltime;
	uint32_t id;
	bool want_ack;
	double deadline;
	/** The waiter has all it wants: ends at the next expire. */
	bool enough;
	/** Name hashes of the nodes heard from (malloc()ed, *_cap room,
	 * grown up to NC_AGENT_SERF_NODES_MAX). */
	uint64_t *acks, *resps;
	size_t acks_n, resps_n, acks_cap, resps_cap;
	struct nc_agent_serf_waiter w;
};

/** Counters (/metrics). */
struct nc_agent_serf_collect_stats {
	/** Queries started; ended by their timeout. */
	uint64_t started, timed_out;
	/** Acks / responses taken (first from their node). */
	uint64_t acks, responses;
	/** Repeats from a node already heard (serf: query_duplicate_*). */
	uint64_t duplicates;
	/** Beyond NC_AGENT_SERF_NODES_MAX nodes, or out of memory (serf:
	 * "Failed to deliver query response, dropping"). */
	uint64_t over_cap;
	/** For no open query (LTime and ID): late, or never ours. */
	uint64_t unknown_query;
	/** From a node that is not a member we know (spoofed or stale). */
	uint64_t unknown_sender;
	/** Undecodable. */
	uint64_t bad;
	/** Refused: NC_AGENT_SERF_OPEN_MAX queries already open. */
	uint64_t busy;
};

/** The open queries (embedded in the agent; zero it, set known/ctx). */
struct nc_agent_serf_collect {
	struct nc_agent_serf_open open[NC_AGENT_SERF_OPEN_MAX];
	struct nc_agent_serf_collect_stats st;
	/**
	 * Is @a name a member we know (alive or suspect, self included)?
	 * A response from anyone else is dropped and counted. NULL: all.
	 */
	bool (*known)(void *ctx, const char *name, size_t len);
	void *ctx;
};

/**
 * Open a query (LTime @a ltime, ID @a id) collecting acks and responses
 * until @a deadline, its tables sized for @a cap nodes first (grown up
 * to NC_AGENT_SERF_NODES_MAX). 0, -EBUSY (table full), -ENOMEM.
 * On failure no callback is ever called.
 */
int nc_agent_serf_collect_open(struct nc_agent_serf_collect *c, uint64_t ltime,
			       uint32_t id, bool want_ack, size_t cap,
			       double deadline,
			       const struct nc_agent_serf_waiter *w);

/** An LTime and ID are in use by an open query (pick another ID). */
bool nc_agent_serf_collect_busy_id(const struct nc_agent_serf_collect *c,
				   uint64_t ltime, uint32_t id);

/**
 * A serf query response (05 | messageQueryResponse, @a len bytes) came
 * for us: handed to its query's waiter if it is the first of its kind
 * from that node, else counted and dropped. Returns 1 if taken, 2 if
 * taken and the waiter has all it wants (the query then ends at the next
 * nc_agent_serf_collect_expire, whatever the time: call it soon), 0 if
 * dropped.
 */
int nc_agent_serf_collect_on_msg(struct nc_agent_serf_collect *c,
				 const char *buf, size_t len);

/**
 * End the queries whose waiter had enough (done: ENOUGH) and those whose
 * deadline is <= @a now (done: TIMEOUT). Every done callback is called
 * from here or from nc_agent_serf_collect_cancel_all, never from
 * nc_agent_serf_collect_on_msg.
 */
void nc_agent_serf_collect_expire(struct nc_agent_serf_collect *c, double now);

/**
 * When nc_agent_serf_collect_expire should next run: the earliest
 * deadline of an open query (0 for one that had enough), or a negative
 * value if none is open.
 */
double nc_agent_serf_collect_next(const struct nc_agent_serf_collect *c);

/** Open queries. */
size_t nc_agent_serf_collect_count(const struct nc_agent_serf_collect *c);

/** End every open query (done: CANCELLED) and free them. */
void nc_agent_serf_collect_cancel_all(struct nc_agent_serf_collect *c);

/* ------------------------------------------------------------------ */
/* Tallies                                                            */
/* ------------------------------------------------------------------ */

/**
 * Add one node's answer to a key query to @a r as serf's streamKeyResp
 * does: NumResp counted; a payload that is not a key response, or says
 * Result false, is an error with its message; a message with Result true
 * is kept as a note; Keys and PrimaryKey counted. Messages and keys are
 * bounded by the result's arrays (beyond: counted in *_dropped).
 * Returns true when every node answered (NumResp == NumNodes).
 */
bool nc_agent_key_result_add(struct nc_agent_key_result *r, const char *from,
			     size_t from_len, const char *payload,
			     size_t payload_len);

/**
 * A _serf_conflict answer: true if it decodes as a conflict response
 * (serf counts it), and then *matches is whether its Member has our
 * address @a self (IP and port).
 */
bool nc_agent_conflict_vote(const char *payload, size_t len,
			    const struct nc_addr *self, bool *matches);

#endif /* NC_AGENT_SERF_COLLECT_H */
