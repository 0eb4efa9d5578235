/*
 * agent/agent.c - the agent: gossip hooks -> coordinate service, serf
 * relay (intents, events, queries; agent/serf_relay.c) and query answers
 * (agent/serf_query.c), serf state in push/pull, user events fired, join
 * with retry, graceful leave, keyring and tags for the API (agent/agent.h
 * has the picture), and the serf queries the agent runs itself
 * (agent/serf_collect.c): the cluster-wide keyring (serf's KeyManager),
 * reachability (_serf_ping with acks) and the vote on a conflict over our
 * own name (serf's resolveNodeConflict), each ended by one timer.
 *
 * Joining: a push/pull with Join=true to every address of every join
 * address (agent/resolve.h: names are resolved at each attempt through
 * the resolver the process gave us, numeric addresses directly). Two sets
 * of addresses, each with its own timer: -join, retried every
 * NC_AGENT_JOIN_RETRY_S until one answers; serf's -retry-join, retried
 * every -retry-interval and given up after -retry-max failed retries
 * (then the process exits 1, as serf). A name that does not resolve is
 * named in the failure's log line. A failure whose cause was a message we
 * could not decrypt is reported once, as a key mismatch.
 *
 * Keyring file (serf's -keyring-file): loaded at creation if it exists,
 * rewritten atomically after every install/use/remove (agent/files.c).
 * Tags (nc_agent_set_tags, on reload): the new Meta is announced at once
 * (a higher incarnation, serf's SetTags) and the -tags-file rewritten.
 *
 * Snapshot (serf's -snapshot; agent/snapshot.c): loaded at creation; our
 * coordinate, the coordinate client's peer state and the coordinate
 * cache are restored, so /v1/rtt answers with converged estimates as soon
 * as the members are back. At start the snapshot's members are rejoined
 * (serf's handleRejoin: random order, until one answers), unless the
 * snapshot records a graceful leave and -rejoin is off (serf's
 * RejoinAfterLeave). Written every NC_AGENT_SNAPSHOT_INTERVAL_S (the loop
 * only copies; a thread encodes and fsyncs), at leave, and at exit.
 *
 * Leaving: nc_gossip_leave() — serf leave intent, then memberlist
 * dead{self}, each broadcast until sent or 5 s (serf's BroadcastTimeout) —
 * then keep answering pings for 1 s (serf's LeavePropagateDelay), then
 * on_left (the process stops its loop there).
 *
 * Coordinates (agent/coords.c): every ack carries our coordinate in
 * serf's format; every completed direct probe feeds the peer's ack
 * payload and the RTT to the coordinate client; coordinates are also
 * gossiped among netcoord agents (user messages, only to members tagged
 * nc=<version>, which this agent adds to its own tags).
 *
 * Time, timers and randomness come from the env only, so the simulator
 * runs this file unchanged.
 */
#include "agent/agent.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/files.h"
#include "agent/resolve.h"
#include "agent/serf_collect.h"
#include "agent/serf_query.h"
#include "agent/serf_relay.h"
#include "agent/snapshot.h"
#include "coord/coord.h"
#include "gossip/crypto.h"
#include "gossip/gossip.h"
#include "gossip/proto.h"
#include "util/util.h"

/**
 * -snapshot: at most one write per this many seconds (plus one at leave
 * and one at exit). A restart loses at most this much of coordinate
 * history, which moves little once converged; 10,000 members make a
 * ~5 MB file, so this also bounds the disk traffic (~0.5 MB/s).
 */
#define NC_AGENT_SNAPSHOT_INTERVAL_S 10.0
/**
 * Rejoin from a snapshot: push/pulls to this many remembered members at a
 * time, in random order, until one answers (serf tries one at a time; a
 * few at once is quicker when the first ones are gone). Arbitrary.
 */
#define NC_AGENT_REJOIN_BATCH 3

/** Seconds between greeting rounds (agent/coords.h greet_take). */
#define NC_AGENT_GREET_INTERVAL_S 0.25
/**
 * Coordinate client peer state: 1024 peers (calloc()ed, so untouched
 * pages cost nothing until used).
 */
#define NC_AGENT_COORD_PEERS 1024

/**
 * -join or -retry-join: addresses retried until one answers (in_agent:
 * nc_agent.join, nc_agent.retry).
 */
struct join_set {
	struct nc_agent *a;
	/** "-join" or "-retry-join", for the log. */
	const char *flag;
	/** "HOST[:PORT]" strings (owned). */
	char *addrs[NC_CONFIG_MAX_JOIN];
	size_t n;
	/** Seconds between attempts. */
	double interval_s;
	/** Failed retries before giving up; 0 = never (serf's -retry-max). */
	unsigned retry_max;
	struct nc_timer timer;
	bool in_flight;
	bool joined;
	unsigned attempts;
	bool key_mismatch_logged;
	/**
	 * Decrypt drops and stream errors counted when the current attempt
	 * began: if they grew, the peers answered in a way we could not
	 * read, which with encryption almost always means a key mismatch.
	 */
	uint64_t drop_decrypt;
	uint64_t stream_errors;
};

struct join_req;

/** One name of a join request, being resolved. */
struct join_name {
	struct join_req *req;
	char host[NC_AGENT_HOST_MAX + 1];
	uint16_t port;
	/** Resolver request id, 0 when not (or no longer) pending. */
	long rid;
};

/**
 * One join (nc_agent_join): resolve the names, then one push/pull per
 * address. Listed in nc_agent.joins (in_joins) until it ends.
 */
struct join_req {
	struct nc_agent *a;
	struct join_req *next;
	struct join_name *names;
	size_t names_n;
	/** Names still being resolved. */
	size_t resolving;
	/** Every address found so far (numeric ones at once). */
	struct nc_addr *addrs;
	size_t addrs_n, addrs_cap;
	/** What went wrong so far ("cannot resolve ..."), for the caller. */
	char why[384];
	nc_agent_join_cb cb;
	void *arg;
};

/** A running agent. */
struct nc_agent {
	/** Env of gossip (borrowed). */
	struct nc_env *env;
	char name[NC_CONFIG_NAME_MAX + 1];
	/** Keyring, NULL without encryption. */
	struct nc_crypto_keyring *kr;
	/** SWIM instance. */
	struct nc_gossip *g;
	/** Live coordinates (agent/coords.c). */
	struct nc_agent_coords *coords;
	/** -join and -retry-join (copied from the config). */
	struct join_set join;
	struct join_set retry;
	/** Joins in progress (struct join_req, in_joins). */
	struct join_req *joins;
	/** Turns names into addresses; NULL = numeric addresses only. */
	struct nc_agent_resolver *resolver;
	/** nc_agent_set_member_observer(), or NULL. */
	nc_agent_member_cb on_member;
	void *on_member_ctx;
	/** -retry-join gave up (serf's process then exits 1). */
	nc_agent_left_cb on_retry_failed;
	void *on_retry_failed_ctx;
	/** serf's -keyring-file, "" when unset. */
	char keyring_file[NC_CONFIG_PATH_MAX];
	/** serf's -tags-file, "" when unset (rewritten by set_tags). */
	char tags_file[NC_CONFIG_PATH_MAX];
	/** Leave in progress; delay timer after the broadcasts. */
	bool leaving;
	struct nc_timer leave_timer;
	nc_agent_left_cb on_left;
	void *on_left_ctx;
	/** Rebroadcast of serf intents (agent/serf_relay.c). */
	struct nc_agent_serf_relay relay;
	/** memberlist's RetransmitMult of the profile, for the relay. */
	int retransmit_mult;
	/** serf queries answered (agent/serf_query.c) and its view of us. */
	struct nc_agent_serf_ops serf_ops;
	struct nc_agent_serf_query_stats serf_qstats;
	/** Queries we run (agent/serf_collect.c), and the timer that ends
	 * them at their deadline. */
	struct nc_agent_serf_collect collect;
	struct nc_timer query_timer;
	/** memberlist's GossipInterval (serf's query timeout scales it). */
	double gossip_interval_s;
	/** A vote on a conflict over our name is running / was lost. */
	bool conflict_running, conflict_lost;
	unsigned conflict_responses, conflict_matching;
	nc_agent_left_cb on_conflict_lost;
	void *on_conflict_lost_ctx;
	/** Coordinate gossip already offered room in the current packet. */
	bool coords_offered;
	/** Sends the coordinate greetings to new members. */
	struct nc_timer greet_timer;
	/** -snapshot: path ("" when off), writer thread, periodic timer. */
	char snapshot_path[NC_CONFIG_PATH_MAX];
	struct nc__agent_snap_writer *snap_writer;
	struct nc_timer snap_timer;
	/** A graceful leave was recorded (serf's "leave" line). */
	bool snap_left;
	/** Started: the snapshot may be written (gossip exists). */
	bool snap_started;
	/** Members to rejoin from the snapshot (shuffled), next batch. */
	struct nc__agent_snap_member *rejoin;
	size_t rejoin_n, rejoin_next;
};

static double
now(const struct nc_agent *a)
{
	return a->env->ops->now(a->env);
}

static void
agent_log(struct nc_agent *a, enum nc_log_level lvl, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void
agent_log(struct nc_agent *a, enum nc_log_level lvl, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	if (lvl < a->env->log_level)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	a->env->ops->log(a->env, lvl, "agent", msg);
}

/* ------------------------------------------------------------------ */
/* Gossip hooks                                                       */
/* ------------------------------------------------------------------ */

static void hook_conflict(void *ctx, const struct nc_gossip_member *existing,
			  const struct nc_addr *other);
static void collect_msg(struct nc_agent *a, const char *buf, size_t len);
static bool collect_known(void *ctx, const char *name, size_t len);
static void query_timer_cb(struct nc_timer *t);

static size_t
hook_ack_payload(void *ctx, char *buf, size_t cap)
{
	struct nc_agent *a = ctx;
	return nc_agent_coords_ack_payload(a->coords, buf, cap);
}

static void
hook_probe_done(void *ctx, const struct nc_gossip_member *peer, double rtt_s,
		const char *payload, size_t payload_len)
{
	struct nc_agent *a = ctx;
	nc_agent_coords_probe_done(a->coords, now(a), peer->name, rtt_s,
				   payload, payload_len);
}

static void
hook_member_event(void *ctx, enum nc_gossip_event ev,
		  const struct nc_gossip_member *m, const char *by)
{
	struct nc_agent *a = ctx;
	if (ev == NC_GOSSIP_EV_JOIN)
		nc_agent_coords_member_joined(a->coords, now(a), m->name);
	else if (ev == NC_GOSSIP_EV_REAPED)
		nc_agent_coords_member_reaped(a->coords, m->name);
	else
		nc_agent_coords_member_changed(a->coords);
	if (a->on_member != NULL)
		a->on_member(a->on_member_ctx, a, ev, m, by);
	if (NC_LOG_INFO < a->env->log_level)
		return; /* every line below is info or debug: skip the format */
	char addr[64];
	nc_addr_format(&m->addr, addr, sizeof(addr));
	const char *who = by != NULL && by[0] != '\0' ? by : "unknown";
	switch (ev) {
	case NC_GOSSIP_EV_JOIN:
		agent_log(a, NC_LOG_INFO, "EventMemberJoin: %s %s", m->name,
			  addr);
		break;
	case NC_GOSSIP_EV_UPDATE:
		agent_log(a, NC_LOG_INFO, "EventMemberUpdate: %s %s", m->name,
			  addr);
		break;
	case NC_GOSSIP_EV_SUSPECT:
		agent_log(a, NC_LOG_INFO,
			  "EventMemberSuspect: %s %s (reported by %s)",
			  m->name, addr, who);
		break;
	case NC_GOSSIP_EV_ALIVE:
		agent_log(a, NC_LOG_INFO,
			  "EventMemberAlive: %s %s (suspicion refuted, "
			  "incarnation %u)",
			  m->name, addr, (unsigned)m->incarnation);
		break;
	case NC_GOSSIP_EV_FAILED:
		agent_log(a, NC_LOG_INFO,
			  "EventMemberFailed: %s %s (reported by %s)", m->name,
			  addr, who);
		break;
	case NC_GOSSIP_EV_LEFT:
		agent_log(a, NC_LOG_INFO, "EventMemberLeave: %s %s", m->name,
			  addr);
		break;
	case NC_GOSSIP_EV_REAPED:
		agent_log(a, NC_LOG_DEBUG, "EventMemberReap: %s %s", m->name,
			  addr);
		break;
	}
}

/*
 * serf messages: intents, user events and queries are relayed like serf
 * does (agent/serf_relay.c); new queries are answered and relay messages
 * forwarded (agent/serf_query.c).
 */
static void
hook_user_msg(void *ctx, const char *buf, size_t len)
{
	struct nc_agent *a = ctx;
	/* Coordinate gossip first: it is not a serf message to relay. */
	if (nc_agent_coords_user_msg(a->coords, now(a), buf, len))
		return;
	if (len >= 1 && (uint8_t)buf[0] == NC_PROTO_SERF_RELAY) {
		nc_agent_serf_relay_forward(&a->serf_ops, &a->serf_qstats, buf,
					    len);
		return;
	}
	/* Answers to our own queries (serf's handleQueryResponse). */
	if (len >= 1 && (uint8_t)buf[0] == NC_PROTO_SERF_QUERY_RESPONSE) {
		collect_msg(a, buf, len);
		return;
	}
	/* memberlist's retransmitLimit (the member count includes self). */
	int limit = nc_gossip_retransmit_limit(a->retransmit_mult,
					       nc_gossip_member_count(a->g));
	int v = nc_agent_serf_relay_on_msg(&a->relay, buf, len,
					   (unsigned)limit);
	if (v != NC_AGENT_SERF_IGNORED &&
	    (uint8_t)buf[0] == NC_PROTO_SERF_QUERY) {
		const struct nc_gossip_member *self = nc_gossip_self(a->g);
		a->serf_ops.self_meta = self->meta;
		a->serf_ops.self_meta_len = self->meta_len;
		nc_agent_serf_query_answer(&a->serf_ops, &a->serf_qstats, buf,
					   len);
	}
}

/*
 * Called until it returns 0 for each packet (or with cap 0 when the
 * packet filled up): serf messages first, each once per packet, as many
 * as fit, then coordinate gossip once (it is budgeted per call).
 */
static size_t
hook_user_broadcast(void *ctx, const struct nc_gossip_member *to, char *buf,
		    size_t cap)
{
	struct nc_agent *a = ctx;
	/* After the coordinate message, end the packet: the relay's pass
	 * ended just before it (and a new call would start another). A
	 * packet that filled up ends with cap 0. */
	if (a->coords_offered || cap == 0) {
		a->coords_offered = false;
		return 0;
	}
	size_t n = nc_agent_serf_relay_take(&a->relay, buf, cap);
	if (n > 0)
		return n;
	n = nc_agent_coords_user_broadcast(a->coords, now(a), to, buf, cap);
	a->coords_offered = n > 0;
	return n;
}

/* serf's state in our push/pulls, and theirs merged (agent/serf_relay.c). */
static size_t
hook_local_state(void *ctx, bool join, char *buf, size_t cap)
{
	struct nc_agent *a = ctx;
	(void)join;
	return nc_agent_serf_relay_local_state(&a->relay, buf, cap);
}

static void
hook_merge_state(void *ctx, const char *buf, size_t len, bool join)
{
	struct nc_agent *a = ctx;
	(void)join;
	if (nc_agent_serf_relay_merge_state(&a->relay, buf, len) < 0)
		agent_log(a, NC_LOG_WARN,
			  "serf: Failed to decode remote state (%zu bytes)",
			  len);
}

/* ------------------------------------------------------------------ */
/* What serf_query.c needs (struct nc_agent_serf_ops)                 */
/* ------------------------------------------------------------------ */

/** A member at @a to: by @a name if its address matches, else any. */
static const struct nc_gossip_member *
member_at(struct nc_agent *a, const struct nc_addr *to, const char *name,
	  size_t name_len)
{
	if (name != NULL && name_len > 0 && name_len <= NC_GOSSIP_NAME_MAX) {
		char nm[NC_GOSSIP_NAME_MAX + 1];
		memcpy(nm, name, name_len);
		nm[name_len] = '\0';
		const struct nc_gossip_member *m =
			nc_gossip_member_find(a->g, nm);
		if (m != NULL && nc_addr_equal(&m->addr, to))
			return m;
	}
	size_t n = nc_gossip_member_count(a->g);
	for (size_t i = 0; i < n; i++) {
		const struct nc_gossip_member *m = nc_gossip_member_at(a->g, i);
		if (m != NULL && nc_addr_equal(&m->addr, to))
			return m;
	}
	return NULL;
}

static int
ops_send(void *ctx, const struct nc_addr *to, const char *name,
	 size_t name_len, const char *buf, size_t len)
{
	struct nc_agent *a = ctx;
	const struct nc_gossip_member *m = member_at(a, to, name, name_len);
	if (m != NULL && m->is_self) {
		/* serf sends answers to its own queries (and relayed copies
		 * of them) to itself through the network; we hand them over
		 * at once. Nothing else is ever sent to ourselves. */
		if (len >= 1 &&
		    (uint8_t)buf[0] == NC_PROTO_SERF_QUERY_RESPONSE) {
			collect_msg(a, buf, len);
			return 0;
		}
		return -ENOENT;
	}
	/* A member: as any message to it. Else the address itself, as
	 * serf's SendToAddress (e.g. a node whose name conflicts). */
	if (m != NULL)
		return nc_gossip_send_user(a->g, m, buf, len);
	return nc_gossip_send_user_addr(a->g, to, buf, len);
}

/* serf's relayResponse target choice (kRandomMembers). */
static size_t
ops_relay_targets(void *ctx, unsigned k, struct nc_addr *out)
{
	struct nc_agent *a = ctx;
	size_t n = nc_gossip_member_count(a->g), got = 0;
	const struct nc_gossip_member *picked[UINT8_MAX];
	if (n < (size_t)k + 1 || k > UINT8_MAX)
		return 0;
	for (size_t t = 0; t < 3 * n && got < k; t++) {
		const struct nc_gossip_member *m = nc_gossip_member_at(
			a->g, (size_t)(a->env->ops->rand(a->env) % n));
		if (m == NULL || m->is_self || m->vsn[1] < 5 ||
		    (m->state != NC_MEMBER_ALIVE &&
		     m->state != NC_MEMBER_SUSPECT))
			continue;
		bool dup = false;
		for (size_t j = 0; j < got && !dup; j++)
			dup = picked[j] == m;
		if (dup)
			continue;
		picked[got] = m;
		out[got++] = m->addr;
	}
	return got;
}

/* A member as serf's Member struct (conflict answers). */
static bool
ops_member(void *ctx, const char *name, size_t name_len,
	   struct nc_proto_serf_member *out, uint8_t ip[16])
{
	struct nc_agent *a = ctx;
	char nm[NC_GOSSIP_NAME_MAX + 1];
	if (name_len == 0 || name_len > NC_GOSSIP_NAME_MAX)
		return false;
	memcpy(nm, name, name_len);
	nm[name_len] = '\0';
	const struct nc_gossip_member *m = nc_gossip_member_find(a->g, nm);
	if (m == NULL)
		return false;
	memset(out, 0, sizeof(*out));
	out->name = nc_proto_cstr(m->name);
	size_t iplen = nc_addr_ip_len(&m->addr);
	memcpy(ip, m->addr.ip, iplen);
	out->addr.data = (const char *)ip;
	out->addr.len = (uint32_t)iplen;
	out->port = m->addr.port;
	if (m->meta_len > 1 && m->meta[0] == NC_PROTO_SERF_TAG_MAGIC) {
		out->tags_map.data = (const char *)m->meta + 1;
		out->tags_map.len = (uint32_t)(m->meta_len - 1);
	}
	/* serf's MemberStatus: alive 1, leaving 2, left 3, failed 4. */
	out->status = m->state == NC_MEMBER_DEAD ? 4 :
		      m->state == NC_MEMBER_LEFT ? 3 : 1;
	memcpy(out->vsn, m->vsn, sizeof(out->vsn));
	return true;
}

static int
ops_key_list(void *ctx, char (*keys)[NC_AGENT_KEY_B64_CAP], size_t cap)
{
	return nc_agent_keyring_list(ctx, keys, cap);
}

static int
ops_key_change(void *ctx, enum nc_agent_key_op op, const char *b64,
	       char *err, size_t err_cap)
{
	return nc_agent_keyring_change(ctx, op, b64, err, err_cap);
}

static void
ops_log(void *ctx, enum nc_log_level lvl, const char *msg)
{
	agent_log(ctx, lvl, "serf: %s", msg);
}

/** Coordinate fetch messages (agent/coords.h): a datagram of their own. */
static int
coords_send(void *ctx, const char *to, const char *buf, size_t len)
{
	struct nc_agent *a = ctx;
	const struct nc_gossip_member *m = nc_gossip_member_find(a->g, to);
	if (m == NULL || m->is_self)
		return -ENOENT;
	return nc_gossip_send_user(a->g, m, buf, len);
}

/** Greet members that joined recently with our coordinate; the
 * coordinate fetch's periodic work. */
static void
greet_timer_cb(struct nc_timer *t)
{
	struct nc_agent *a = t->arg;
	const struct nc_gossip_member *to;
	char buf[256];
	size_t n;
	while ((n = nc_agent_coords_greet_take(a->coords, now(a), &to, buf,
					     sizeof(buf))) > 0)
		nc_gossip_send_user(a->g, to, buf, n);
	/* Coordinate fetch: timeouts, interest, background refresh. */
	nc_agent_coords_fetch_tick(a->coords, now(a));
	a->env->ops->timer_start(a->env, &a->greet_timer,
				 NC_AGENT_GREET_INTERVAL_S);
}

/* ------------------------------------------------------------------ */
/* Join: names resolved, then every address                           */
/* ------------------------------------------------------------------ */

/** Append to req->why ("; " between reasons). */
static void
req_why(struct join_req *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void
req_why(struct join_req *r, const char *fmt, ...)
{
	size_t len = strlen(r->why);
	va_list ap;
	if (len > 0 && len + 2 < sizeof(r->why)) {
		strcpy(r->why + len, "; ");
		len += 2;
	}
	va_start(ap, fmt);
	vsnprintf(r->why + len, sizeof(r->why) - len, fmt, ap);
	va_end(ap);
}

static int
req_add_addr(struct join_req *r, const struct nc_addr *x)
{
	for (size_t i = 0; i < r->addrs_n; i++)
		if (nc_addr_equal(&r->addrs[i], x))
			return 0;
	if (r->addrs_n == r->addrs_cap) {
		size_t cap = r->addrs_cap ? r->addrs_cap * 2 : 8;
		struct nc_addr *n = realloc(r->addrs, cap * sizeof(*n));
		if (n == NULL)
			return -ENOMEM;
		r->addrs = n;
		r->addrs_cap = cap;
	}
	r->addrs[r->addrs_n++] = *x;
	return 0;
}

static void
req_free(struct join_req *r)
{
	struct nc_agent *a = r->a;
	for (size_t i = 0; i < r->names_n; i++)
		if (r->names[i].rid > 0 && a->resolver != NULL)
			a->resolver->ops->cancel(a->resolver, r->names[i].rid);
	free(r->names);
	free(r->addrs);
	free(r);
}

/** The join ended: unlink, tell the caller, free. */
static void
req_finish(struct join_req *r, int joined)
{
	struct join_req **pp = &r->a->joins;
	while (*pp != r)
		pp = &(*pp)->next;
	*pp = r->next;
	if (joined <= 0 && r->why[0] == '\0')
		req_why(r, "no address answered");
	if (r->cb != NULL)
		r->cb(r->arg, joined, joined > 0 ? NULL : r->why);
	req_free(r);
}

static void
req_gossip_done(void *arg, int joined)
{
	struct join_req *r = arg;
	if (joined <= 0)
		req_why(r, "no address answered");
	req_finish(r, joined);
}

/** Every name resolved (or failed): push/pull with what we have. */
static void
req_resolved(struct join_req *r)
{
	if (r->addrs_n == 0) {
		req_finish(r, 0);
		return;
	}
	if (nc_gossip_join(r->a->g, r->addrs, r->addrs_n, req_gossip_done,
			   r) < 0) {
		req_why(r, "join failed to start");
		req_finish(r, 0);
	}
}

static void
req_name_resolved(void *arg, const struct nc_addr *addrs, size_t n,
		  const char *why)
{
	struct join_name *jn = arg;
	struct join_req *r = jn->req;
	jn->rid = 0;
	if (n == 0)
		req_why(r, "cannot resolve \"%s\": %s", jn->host,
			why != NULL ? why : "no address");
	else
		agent_log(r->a, NC_LOG_DEBUG, "Resolved \"%s\": %zu address(es)",
			  jn->host, n);
	for (size_t i = 0; i < n; i++)
		if (req_add_addr(r, &addrs[i]) < 0)
			req_why(r, "out of memory");
	if (--r->resolving == 0)
		req_resolved(r);
}

/** A numeric host: its address, no resolver needed. */
static bool
numeric_addr(const char *host, uint16_t port, struct nc_addr *out)
{
	char buf[NC_AGENT_HOST_MAX + 3];
	snprintf(buf, sizeof(buf), strchr(host, ':') ? "[%s]" : "%s", host);
	if (nc_addr_parse(buf, port, out) != 0)
		return false;
	out->port = port;
	return true;
}

int
nc_agent_join(struct nc_agent *a, const char *const *addrs, size_t n,
	      nc_agent_join_cb cb, void *arg, char *err, size_t err_cap)
{
	struct join_req *r = calloc(1, sizeof(*r));
	if (r == NULL || (n > 0 && (r->names = calloc(n, sizeof(*r->names))) ==
					   NULL)) {
		free(r);
		snprintf(err, err_cap, "out of memory");
		return -ENOMEM;
	}
	r->a = a;
	r->cb = cb;
	r->arg = arg;
	r->names_n = n;
	/* Check every address before starting anything. */
	for (size_t i = 0; i < n; i++) {
		struct join_name *jn = &r->names[i];
		struct nc_addr x;
		jn->req = r;
		if (nc_agent_hostport_parse(addrs[i], NC_CONFIG_DEFAULT_PORT,
					    jn->host, sizeof(jn->host),
					    &jn->port) != 0) {
			snprintf(err, err_cap, "invalid address \"%s\"",
				 addrs[i]);
			req_free(r);
			return -EINVAL;
		}
		if (a->resolver == NULL &&
		    !numeric_addr(jn->host, jn->port, &x)) {
			snprintf(err, err_cap,
				 "cannot resolve \"%s\": no resolver here "
				 "(numeric addresses only)",
				 jn->host);
			req_free(r);
			return -EINVAL;
		}
	}
	r->next = a->joins;
	a->joins = r;
	r->resolving = 1; /* held until every name is started */
	for (size_t i = 0; i < n; i++) {
		struct join_name *jn = &r->names[i];
		struct nc_addr x;
		if (numeric_addr(jn->host, jn->port, &x)) {
			if (req_add_addr(r, &x) < 0)
				req_why(r, "out of memory");
			continue;
		}
		long id = a->resolver->ops->resolve(a->resolver, jn->host,
						    jn->port, req_name_resolved,
						    jn);
		if (id < 0) {
			req_why(r, "cannot resolve \"%s\": %s", jn->host,
				strerror((int)-id));
			continue;
		}
		jn->rid = id;
		r->resolving++;
	}
	if (--r->resolving == 0)
		req_resolved(r);
	return 0;
}

void
nc_agent_set_resolver(struct nc_agent *a, struct nc_agent_resolver *r)
{
	a->resolver = r;
}

void
nc_agent_set_member_observer(struct nc_agent *a, nc_agent_member_cb cb,
			     void *ctx)
{
	a->on_member = cb;
	a->on_member_ctx = ctx;
}

void
nc_agent_set_retry_failed_cb(struct nc_agent *a, nc_agent_left_cb cb,
			     void *ctx)
{
	a->on_retry_failed = cb;
	a->on_retry_failed_ctx = ctx;
}

/* ------------------------------------------------------------------ */
/* -join and -retry-join: retried until one address answers           */
/* ------------------------------------------------------------------ */

static void set_attempt(struct join_set *s);

static void
set_done(void *arg, int joined, const char *why)
{
	struct join_set *s = arg;
	struct nc_agent *a = s->a;
	s->in_flight = false;
	if (a->leaving)
		return;
	if (joined > 0) {
		s->joined = true;
		agent_log(a, NC_LOG_INFO,
			  "Join completed. Synced with %d initial agents",
			  joined);
		return;
	}
	const struct nc_gossip_stats *st = nc_gossip_stats(a->g);
	bool unreadable = st->drop_decrypt > s->drop_decrypt ||
			  (a->kr != NULL && st->stream_errors > s->stream_errors);
	if (s->retry_max > 0 && s->attempts > s->retry_max) {
		/* serf's words; its process then exits 1. */
		agent_log(a, NC_LOG_ERR,
			  "Join failed: %s; maximum retry join attempts made "
			  "(%s), exiting",
			  why, s->flag);
		if (a->on_retry_failed != NULL)
			a->on_retry_failed(a->on_retry_failed_ctx);
		return;
	}
	if (unreadable && !s->key_mismatch_logged) {
		agent_log(a, NC_LOG_ERR,
			  "Join failed: the peers' replies could not be "
			  "decrypted; check that -encrypt matches the "
			  "cluster's key (retrying every %.0f s)",
			  s->interval_s);
		s->key_mismatch_logged = true;
	} else if (unreadable) {
		/* Said once already. */
	} else if (s == &a->retry || s->attempts == 1 ||
		   s->attempts % 15 == 0) {
		/* -retry-join: every attempt (serf's line, 30 s apart);
		 * -join: the first and every 15th (2 s apart). */
		agent_log(a, NC_LOG_WARN,
			  "Join failed: %s (%s, attempt %u), retrying every "
			  "%.0f s",
			  why, s->flag, s->attempts, s->interval_s);
	}
	a->env->ops->timer_start(a->env, &s->timer, s->interval_s);
}

static void
set_attempt(struct join_set *s)
{
	struct nc_agent *a = s->a;
	char err[256];
	if (s->in_flight || s->joined || a->leaving || s->n == 0)
		return;
	s->attempts++;
	s->drop_decrypt = nc_gossip_stats(a->g)->drop_decrypt;
	s->stream_errors = nc_gossip_stats(a->g)->stream_errors;
	s->in_flight = true;
	if (nc_agent_join(a, (const char *const *)s->addrs, s->n, set_done, s,
			  err, sizeof(err)) < 0)
		set_done(s, 0, err);
}

static void
set_timer_cb(struct nc_timer *t)
{
	set_attempt(t->arg);
}

static int
set_init(struct nc_agent *a, struct join_set *s, const char *flag,
	 char *const *addrs, size_t n, double interval_s, unsigned retry_max)
{
	s->a = a;
	s->flag = flag;
	s->interval_s = interval_s;
	s->retry_max = retry_max;
	nc_timer_init(&s->timer, set_timer_cb, s);
	for (size_t i = 0; i < n; i++) {
		if ((s->addrs[i] = strdup(addrs[i])) == NULL)
			return -ENOMEM;
		s->n++;
	}
	return 0;
}

static void
set_destroy(struct nc_agent *a, struct join_set *s)
{
	if (s->a == NULL)
		return;
	a->env->ops->timer_stop(a->env, &s->timer);
	for (size_t i = 0; i < s->n; i++)
		free(s->addrs[i]);
	s->n = 0;
}

/* ------------------------------------------------------------------ */
/* Leave                                                              */
/* ------------------------------------------------------------------ */

static void snap_write(struct nc_agent *a);

static void
leave_timer_cb(struct nc_timer *t)
{
	struct nc_agent *a = t->arg;
	agent_log(a, NC_LOG_INFO, "Leave complete, shutting down");
	if (a->on_left != NULL)
		a->on_left(a->on_left_ctx);
}

static void
leave_done(void *arg)
{
	struct nc_agent *a = arg;
	/* Keep answering pings while the leave spreads (serf does too). */
	a->env->ops->timer_start(a->env, &a->leave_timer,
				 NC_AGENT_LEAVE_PROPAGATE_S);
}

int
nc_agent_leave(struct nc_agent *a)
{
	if (a->leaving)
		return 0;
	a->leaving = true;
	a->env->ops->timer_stop(a->env, &a->join.timer);
	a->env->ops->timer_stop(a->env, &a->retry.timer);
	/* serf's snapshot records the leave at once: a restart after it
	 * does not rejoin unless -rejoin. */
	a->snap_left = true;
	snap_write(a);
	int rc = nc_gossip_leave(a->g, NC_AGENT_LEAVE_TIMEOUT_S, leave_done, a);
	if (rc < 0) {
		agent_log(a, NC_LOG_WARN, "Leave failed, shutting down anyway");
		if (a->on_left != NULL)
			a->on_left(a->on_left_ctx);
		return rc;
	}
	return 0;
}

bool
nc_agent_leaving(const struct nc_agent *a)
{
	return a->leaving;
}

/* ------------------------------------------------------------------ */
/* Snapshot (-snapshot, -rejoin; agent/snapshot.c has the format)     */
/* ------------------------------------------------------------------ */

/**
 * Copy what the snapshot holds into @a s: plain copies only, on the loop
 * (encoding and fsync happen on the writer thread).
 */
static int
snap_capture(struct nc_agent *a, struct nc__agent_snap *s)
{
	struct nc_coord_client *cc = nc_agent_coords_client(a->coords);
	struct nc_coord_stats cst;
	double t = now(a);
	memset(s, 0, sizeof(*s));
	s->version = NC_AGENT_SNAP_VERSION;
	snprintf(s->node, sizeof(s->node), "%s", a->name);
	s->written_unix = nc__agent_snap_wall_now();
	s->left = a->snap_left;
	nc_coord_client_state_export(cc, &s->client);
	nc_coord_client_stats(cc, &cst);
	if (cst.peers > 0) {
		s->peers = malloc(cst.peers * sizeof(*s->peers));
		if (s->peers == NULL)
			goto oom;
		s->peers_n = nc_coord_client_peers_export(cc, s->peers,
							  cst.peers);
	}
	size_t n = nc_gossip_member_count(a->g);
	s->members = n > 0 ? malloc(n * sizeof(*s->members)) : NULL;
	if (n > 0 && s->members == NULL)
		goto oom;
	for (size_t i = 0; i < n; i++) {
		const struct nc_gossip_member *m = nc_gossip_member_at(a->g, i);
		if (m == NULL || strcmp(m->name, a->name) == 0 ||
		    (m->state != NC_MEMBER_ALIVE &&
		     m->state != NC_MEMBER_SUSPECT))
			continue;
		struct nc__agent_snap_member *o = &s->members[s->members_n++];
		snprintf(o->name, sizeof(o->name), "%s", m->name);
		o->addr = m->addr;
	}
	long k = nc_agent_coords_export(a->coords, t, &s->coords);
	if (k < 0)
		goto oom;
	s->coords_n = (size_t)k;
	return 0;
oom:
	nc__agent_snap_clear(s);
	return -ENOMEM;
}

/** Report the writer's failures (each is logged; the next write retries). */
static void
snap_poll(struct nc_agent *a)
{
	char why[384];
	double dur = 0;
	if (nc__agent_snap_writer_poll(a->snap_writer, why, sizeof(why),
				       &dur))
		agent_log(a, NC_LOG_ERR, "Failed to write snapshot: %s", why);
}

/** Capture now and hand it to the writer (skipped while one runs). */
static void
snap_write(struct nc_agent *a)
{
	struct nc__agent_snap s;
	if (a->snap_writer == NULL || !a->snap_started)
		return;
	snap_poll(a);
	if (nc__agent_snap_writer_busy(a->snap_writer))
		return;
	double t0 = now(a);
	if (snap_capture(a, &s) < 0) {
		agent_log(a, NC_LOG_ERR, "Failed to write snapshot %s: out of "
					 "memory",
			  a->snapshot_path);
		return;
	}
	double t1 = now(a);
	agent_log(a, NC_LOG_DEBUG,
		  "Snapshot: %zu members, %zu coordinates, %zu peers captured "
		  "in %.2f ms (written by the writer thread)",
		  s.members_n, s.coords_n, s.peers_n, (t1 - t0) * 1e3);
	if (nc__agent_snap_writer_submit(a->snap_writer, &s) < 0)
		nc__agent_snap_clear(&s);
}

static void
snap_timer_cb(struct nc_timer *t)
{
	struct nc_agent *a = t->arg;
	snap_write(a);
	a->env->ops->timer_start(a->env, &a->snap_timer,
				 NC_AGENT_SNAPSHOT_INTERVAL_S);
}

static void rejoin_next(struct nc_agent *a);

static void
rejoin_done(void *arg, int joined)
{
	struct nc_agent *a = arg;
	if (a->leaving)
		return;
	if (joined > 0) {
		/* serf: "Re-joined to previously known node". */
		agent_log(a, NC_LOG_INFO,
			  "Re-joined to previously known nodes (%d answered)",
			  joined);
		a->rejoin_next = a->rejoin_n;
		return;
	}
	rejoin_next(a);
}

/** serf's handleRejoin: the remembered members, in random order. */
static void
rejoin_next(struct nc_agent *a)
{
	struct nc_addr addrs[NC_AGENT_REJOIN_BATCH];
	size_t k = 0;
	if (a->rejoin_next >= a->rejoin_n) {
		agent_log(a, NC_LOG_WARN,
			  "Failed to re-join any previously known node");
		return;
	}
	while (k < NC_AGENT_REJOIN_BATCH && a->rejoin_next < a->rejoin_n) {
		const struct nc__agent_snap_member *m =
		    &a->rejoin[a->rejoin_next++];
		char as[64];
		agent_log(a, NC_LOG_INFO,
			  "Attempting re-join to previously known node: %s: %s",
			  m->name, nc_addr_format(&m->addr, as, sizeof(as)));
		addrs[k++] = m->addr;
	}
	if (nc_gossip_join(a->g, addrs, k, rejoin_done, a) < 0)
		rejoin_done(a, 0);
}

/** Put the snapshot's state back; keep its members for rejoin_next. */
static void
snap_restore(struct nc_agent *a, const struct nc_config *c,
	     struct nc__agent_snap *s, const struct nc_addr *advertise)
{
	struct nc_coord_client *cc = nc_agent_coords_client(a->coords);
	double t = now(a);
	/* Ages grow across the downtime (never backwards). */
	double down = nc__agent_snap_wall_now() - s->written_unix;
	if (!(down > 0))
		down = 0;
	int rc = nc_coord_client_state_import(cc, &s->client);
	if (rc != 0) {
		agent_log(a, NC_LOG_WARN,
			  "Snapshot %s: bad coordinate (%s); starting fresh",
			  c->snapshot_path, nc_coord_strerror(rc));
		return;
	}
	size_t skipped = 0, restored = 0;
	for (size_t i = 0; i < s->peers_n; i++)
		skipped += nc_coord_client_peer_import(cc, &s->peers[i]) != 0;
	for (size_t i = 0; i < s->coords_n; i++) {
		struct nc_agent_coord_saved *e = &s->coords[i];
		e->age_s += down;
		if (isfinite(e->measured_age_s))
			e->measured_age_s += down;
		if (nc_agent_coords_restore(a->coords, t, e) == 0)
			restored++;
		else
			skipped++;
	}
	struct nc_coord me;
	nc_coord_client_get(cc, &me);
	agent_log(a, NC_LOG_INFO,
		  "Restored snapshot %s (written %.0f s ago): coordinate "
		  "(error %.3f), %zu peers, %zu cached coordinates%s",
		  c->snapshot_path, down, me.error, s->peers_n, restored,
		  skipped > 0 ? " (some entries skipped: bad values)" : "");
	if (s->left && !c->rejoin_after_leave) {
		agent_log(a, NC_LOG_INFO,
			  "Snapshot records a graceful leave: not rejoining "
			  "its %zu members (-rejoin would)",
			  s->members_n);
		return;
	}
	if (s->left)
		agent_log(a, NC_LOG_INFO, "Ignoring previous leave in snapshot");
	/* Keep the others (not us by name or address), shuffled. */
	size_t n = 0;
	for (size_t i = 0; i < s->members_n; i++) {
		if (strcmp(s->members[i].name, a->name) == 0 ||
		    nc_addr_equal(&s->members[i].addr, advertise))
			continue;
		s->members[n++] = s->members[i];
	}
	for (size_t i = n; i > 1; i--) {
		size_t j = (size_t)nc_env_rand_below(a->env, i);
		struct nc__agent_snap_member x = s->members[i - 1];
		s->members[i - 1] = s->members[j];
		s->members[j] = x;
	}
	a->rejoin = s->members;
	a->rejoin_n = n;
	s->members = NULL;
	s->members_n = 0;
}

/**
 * -snapshot: load the file (a bad one: one warning naming the problem, a
 * fresh start, and it is overwritten at the first write), restore it,
 * start the writer thread.
 */
static int
snapshot_setup(struct nc_agent *a, const struct nc_config *c,
	       const struct nc_addr *advertise, char *err, size_t err_cap)
{
	struct nc__agent_snap s;
	char why[NC_CONFIG_PATH_MAX + 256];
	snprintf(a->snapshot_path, sizeof(a->snapshot_path), "%s",
		 c->snapshot_path);
	int rc = nc__agent_snap_load(c->snapshot_path, &s, why, sizeof(why));
	if (rc < 0) {
		agent_log(a, NC_LOG_WARN,
			  "Ignoring snapshot %s; starting fresh", why);
	} else if (rc == 0) {
		agent_log(a, NC_LOG_INFO,
			  "No snapshot at %s yet: starting fresh",
			  c->snapshot_path);
	} else if (strcmp(s.node, a->name) != 0) {
		agent_log(a, NC_LOG_WARN,
			  "Ignoring snapshot %s: written by node \"%s\", "
			  "not \"%s\"; starting fresh",
			  c->snapshot_path, s.node, a->name);
	} else {
		snap_restore(a, c, &s, advertise);
	}
	nc__agent_snap_clear(&s);
	a->snap_writer = nc__agent_snap_writer_new(c->snapshot_path, &rc);
	if (a->snap_writer == NULL) {
		snprintf(err, err_cap, "\"snapshot_path\": cannot start the "
				       "writer thread: %s",
			 strerror(-rc));
		return rc;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* Life cycle                                                         */
/* ------------------------------------------------------------------ */

/**
 * Encode the tags as serf Meta (PROTOCOL.md §7.1), plus nc=<coordinate
 * gossip version> (NC_AGENT_COORDS_TAG) that marks us as a netcoord agent
 * (unless the config sets that tag itself).
 */
static int
encode_meta(const struct nc_config_tag *ctags, size_t n, uint8_t *meta,
	    size_t *len, char *err, size_t cap)
{
	struct nc_proto_tag tags[NC_CONFIG_MAX_TAGS + 1];
	size_t nt = 0;
	bool has_nc = false;
	*len = 0;
	if (n > NC_CONFIG_MAX_TAGS) {
		snprintf(err, cap, "\"tags\": more than %d tags",
			 NC_CONFIG_MAX_TAGS);
		return -EINVAL;
	}
	for (size_t i = 0; i < n; i++) {
		tags[i].key = nc_proto_cstr(ctags[i].key);
		tags[i].value = nc_proto_cstr(ctags[i].value);
		has_nc |= strcmp(ctags[i].key, NC_AGENT_COORDS_TAG) == 0;
	}
	nt = n;
	if (!has_nc) {
		tags[nt].key = nc_proto_cstr(NC_AGENT_COORDS_TAG);
		tags[nt].value = nc_proto_cstr("1");
		nt++;
	}
	int enc = nc_proto_encode_tags((char *)meta, NC_GOSSIP_META_MAX, tags,
				       (unsigned)nt);
	if (enc < 0) {
		snprintf(err, cap,
			 "\"tags\": encoded tags exceed %d bytes (memberlist's "
			 "limit)",
			 NC_GOSSIP_META_MAX);
		return -EINVAL;
	}
	*len = (size_t)enc;
	return 0;
}

/**
 * serf's -keyring-file: refused with -encrypt (serf: "Encryption key not
 * allowed while using a keyring"); the keys of the file if it exists,
 * else no encryption (said in the log).
 */
static int
keyring_file_setup(struct nc_agent *a, const struct nc_config *c, char *err,
		   size_t err_cap)
{
	char why[NC_CONFIG_PATH_MAX + 128];
	snprintf(a->keyring_file, sizeof(a->keyring_file), "%s",
		 c->keyring_file);
	if (c->key_len > 0) {
		snprintf(err, err_cap,
			 "\"keyring_file\": -encrypt is not allowed with a "
			 "keyring file (%s); put the key in the file instead "
			 "(as serf)",
			 c->keyring_file);
		return -EINVAL;
	}
	a->kr = nc_crypto_keyring_new();
	if (a->kr == NULL) {
		snprintf(err, err_cap, "\"keyring_file\": out of memory");
		return -ENOMEM;
	}
	int rc = nc__agent_keyring_file_load(c->keyring_file, a->kr, why,
					     sizeof(why));
	if (rc < 0) {
		snprintf(err, err_cap, "\"keyring_file\": %s", why);
		return rc;
	}
	if (rc == 0) {
		nc_crypto_keyring_delete(a->kr);
		a->kr = NULL;
		agent_log(a, NC_LOG_WARN,
			  "Keyring file %s does not exist: gossip is not "
			  "encrypted (write a JSON array of base64 keys "
			  "there to encrypt it)",
			  c->keyring_file);
		return 0;
	}
	agent_log(a, NC_LOG_INFO, "Restored keyring with %u keys from %s",
		  nc_crypto_keyring_count(a->kr), c->keyring_file);
	return 0;
}

static int
keyring_setup(struct nc_agent *a, const struct nc_config *c, char *err,
	      size_t err_cap)
{
	if (c->keyring_file[0] != '\0')
		return keyring_file_setup(a, c, err, err_cap);
	if (c->key_len == 0)
		return 0;
	a->kr = nc_crypto_keyring_new();
	if (a->kr == NULL ||
	    nc_crypto_keyring_install(a->kr, c->key, c->key_len) != 0) {
		snprintf(err, err_cap, "\"encrypt\": cannot set up encryption");
		return -EINVAL;
	}
	return 0;
}

static int
coords_setup(struct nc_agent *a, const struct nc_config *c, char *err,
	     size_t err_cap)
{
	/* Serf's 8 dimensions. */
	struct nc_coord_config ccfg;
	nc_coord_config_default(&ccfg);
	ccfg.peer_cap = NC_AGENT_COORD_PEERS;
	ccfg.seed = a->env->ops->rand(a->env);
	struct nc_agent_coords_config acfg;
	nc_agent_coords_config_default(&acfg);
	acfg.gossip_bytes_per_s = c->coord_gossip_bytes_per_s;
	if (c->coord_cache_max > 0)
		acfg.max_entries = c->coord_cache_max;
	a->coords = nc_agent_coords_new(c->node_name, &ccfg, &acfg, now(a), err,
					err_cap);
	if (a->coords == NULL)
		return -EINVAL;
	nc_agent_coords_set_sender(a->coords, coords_send, a);
	return 0;
}

static int
gossip_setup(struct nc_agent *a, const struct nc_config *c,
	     const struct nc_addr *advertise, char *err, size_t err_cap)
{
	struct nc_gossip_config gc;
	nc_gossip_config_default(&gc, (enum nc_gossip_profile)c->profile);
	snprintf(gc.name, sizeof(gc.name), "%s", c->node_name);
	gc.advertise = *advertise;
	gc.keyring = a->kr;
	gc.serf_compat = true;
	gc.max_members = c->max_members;
	/* Comparison runs only (fleet-sim): Lifeguard components off. */
	gc.lha_probe = !(c->lifeguard_off & NC_CONFIG_LG_LHA_PROBE);
	gc.lha_suspicion = !(c->lifeguard_off & NC_CONFIG_LG_LHA_SUSPICION);
	gc.buddy_system = !(c->lifeguard_off & NC_CONFIG_LG_BUDDY);
	gc.nack = !(c->lifeguard_off & NC_CONFIG_LG_NACK);
	gc.lifeguard = (c->lifeguard_off & NC_CONFIG_LG_ALL) != NC_CONFIG_LG_ALL;
	if (c->compression_off)
		gc.compression = false;
	if (c->suspicion_mult > 0)
		gc.suspicion_mult = c->suspicion_mult;
	if (c->suspicion_max_timeout_mult > 0)
		gc.suspicion_max_timeout_mult = c->suspicion_max_timeout_mult;
	snprintf(a->tags_file, sizeof(a->tags_file), "%s", c->tags_file);
	if (encode_meta(c->tags, c->tags_n, gc.meta, &gc.meta_len, err,
			err_cap) < 0)
		return -EINVAL;
	struct nc_gossip_hooks hooks = {
		.ctx = a,
		.probe_done = hook_probe_done,
		.ack_payload = hook_ack_payload,
		.member_event = hook_member_event,
		.user_msg = hook_user_msg,
		.user_broadcast = hook_user_broadcast,
		.local_state = hook_local_state,
		.merge_state = hook_merge_state,
		.conflict = hook_conflict,
	};
	a->retransmit_mult = gc.retransmit_mult > 0 ? gc.retransmit_mult : 4;
	a->gossip_interval_s = gc.gossip_interval > 0 ? gc.gossip_interval
						      : 0.2;
	a->g = nc_gossip_new(a->env, &gc, &hooks, err, err_cap);
	if (a->g == NULL)
		return -EINVAL;
	nc_agent_coords_set_gossip(a->coords, a->g);
	return 0;
}

struct nc_agent *
nc_agent_new(struct nc_env *env, const struct nc_config *cfg,
	     const struct nc_addr *advertise, nc_agent_left_cb on_left,
	     void *on_left_ctx, char *err, size_t err_cap)
{
	struct nc_agent *a = calloc(1, sizeof(*a));
	if (a == NULL) {
		snprintf(err, err_cap, "out of memory");
		return NULL;
	}
	a->env = env;
	snprintf(a->name, sizeof(a->name), "%s", cfg->node_name);
	a->on_left = on_left;
	a->on_left_ctx = on_left_ctx;
	a->relay.self = a->name;
	a->serf_ops = (struct nc_agent_serf_ops){
		.ctx = a,
		.self = a->name,
		.send = ops_send,
		.relay_targets = ops_relay_targets,
		.member = ops_member,
		.key_list = ops_key_list,
		.key_change = ops_key_change,
		.log = ops_log,
	};
	nc_timer_init(&a->leave_timer, leave_timer_cb, a);
	nc_timer_init(&a->greet_timer, greet_timer_cb, a);
	nc_timer_init(&a->snap_timer, snap_timer_cb, a);
	nc_timer_init(&a->query_timer, query_timer_cb, a);
	a->collect.known = collect_known;
	a->collect.ctx = a;
	double retry_s = cfg->retry_interval_s;
	if (cfg->retry_join_n > 0 && retry_s < NC_CONFIG_MIN_RETRY_INTERVAL_S) {
		/* serf: "Warning: 'RetryInterval' is too low. Setting to 1s". */
		retry_s = NC_CONFIG_MIN_RETRY_INTERVAL_S;
		agent_log(a, NC_LOG_WARN,
			  "-retry-interval is too low, setting it to %.0f s",
			  retry_s);
	}
	if (set_init(a, &a->join, "-join", cfg->join, cfg->join_n,
		     NC_AGENT_JOIN_RETRY_S, 0) < 0 ||
	    set_init(a, &a->retry, "-retry-join", cfg->retry_join,
		     cfg->retry_join_n, retry_s, cfg->retry_max) < 0) {
		snprintf(err, err_cap, "out of memory");
		nc_agent_delete(a);
		return NULL;
	}
	if (keyring_setup(a, cfg, err, err_cap) < 0 ||
	    coords_setup(a, cfg, err, err_cap) < 0 ||
	    gossip_setup(a, cfg, advertise, err, err_cap) < 0 ||
	    (cfg->snapshot_path[0] != '\0' &&
	     snapshot_setup(a, cfg, advertise, err, err_cap) < 0)) {
		nc_agent_delete(a);
		return NULL;
	}
	return a;
}

int
nc_agent_start(struct nc_agent *a)
{
	int rc = nc_gossip_start(a->g);
	if (rc < 0)
		return rc;
	a->env->ops->timer_start(a->env, &a->greet_timer,
				 NC_AGENT_GREET_INTERVAL_S);
	set_attempt(&a->join);
	set_attempt(&a->retry);
	if (a->rejoin_n > 0)
		rejoin_next(a);
	if (a->snap_writer != NULL) {
		a->snap_started = true;
		a->env->ops->timer_start(a->env, &a->snap_timer,
					 NC_AGENT_SNAPSHOT_INTERVAL_S);
	}
	return 0;
}

void
nc_agent_delete(struct nc_agent *a)
{
	if (a == NULL)
		return;
	a->env->ops->timer_stop(a->env, &a->leave_timer);
	a->env->ops->timer_stop(a->env, &a->greet_timer);
	a->env->ops->timer_stop(a->env, &a->snap_timer);
	a->env->ops->timer_stop(a->env, &a->query_timer);
	/* Waiters of our queries hear it now (an HTTP request gets its
	 * answer, or is freed if the API is gone). */
	nc_agent_serf_collect_cancel_all(&a->collect);
	if (a->snap_writer != NULL) {
		/* The last write, at exit: after the queued one, here (the
		 * loop has stopped), so that its outcome is logged. */
		struct nc__agent_snap s;
		char why[384];
		nc__agent_snap_writer_delete(a->snap_writer);
		a->snap_writer = NULL;
		if (a->snap_started && snap_capture(a, &s) == 0) {
			if (nc__agent_snap_save(a->snapshot_path, &s, why,
						sizeof(why)) < 0)
				agent_log(a, NC_LOG_ERR,
					  "Failed to write snapshot: %s", why);
			nc__agent_snap_clear(&s);
		}
	}
	free(a->rejoin);
	set_destroy(a, &a->join);
	set_destroy(a, &a->retry);
	/* Pending push/pulls die with gossip (no callback); then the joins. */
	nc_gossip_delete(a->g);
	while (a->joins != NULL) {
		struct join_req *r = a->joins;
		a->joins = r->next;
		req_free(r);
	}
	nc_agent_coords_delete(a->coords);
	nc_agent_serf_relay_destroy(&a->relay);
	nc_crypto_keyring_delete(a->kr);
	free(a);
}

struct nc_gossip *
nc_agent_gossip(const struct nc_agent *a)
{
	return a->g;
}

struct nc_agent_coords *
nc_agent_coords(const struct nc_agent *a)
{
	return a->coords;
}

struct nc_env *
nc_agent_env(const struct nc_agent *a)
{
	return a->env;
}

const char *
nc_agent_name(const struct nc_agent *a)
{
	return a->name;
}

void
nc_agent_stats(const struct nc_agent *a, struct nc_agent_stats *out)
{
	memset(out, 0, sizeof(*out));
	out->relay_in = a->relay.relayed_in;
	out->relay_out = a->relay.relayed_out;
	out->relay_ignored = a->relay.ignored;
	out->serf_events = a->relay.events_in;
	out->serf_queries = a->relay.queries_in;
	out->relay_dropped = a->relay.dropped;
	out->relay_bad = a->relay.bad_msg;
	out->states_merged = a->relay.states_merged;
	out->events_merged = a->relay.events_merged;
	out->query_acks = a->serf_qstats.acks;
	out->query_responses = a->serf_qstats.responses;
	out->query_relayed = a->serf_qstats.relayed;
	out->relay_forwarded = a->serf_qstats.forwarded;
	out->query_unhandled = a->serf_qstats.unhandled;
	const struct nc_agent_serf_collect_stats *cs = &a->collect.st;
	out->own_queries = cs->started;
	out->own_timed_out = cs->timed_out;
	out->own_acks = cs->acks;
	out->own_responses = cs->responses;
	out->own_duplicates = cs->duplicates;
	out->own_over_cap = cs->over_cap;
	out->own_unknown_query = cs->unknown_query;
	out->own_unknown_sender = cs->unknown_sender;
	out->own_busy = cs->busy;
	out->join_attempts = a->join.attempts + a->retry.attempts;
	out->joined = a->join.joined || a->retry.joined;
}

/* ------------------------------------------------------------------ */
/* Keyring and tags, for the API                                      */
/* ------------------------------------------------------------------ */

int
nc_agent_tags_check(const struct nc_config_tag *tags, size_t n, char *err,
		    size_t err_cap)
{
	uint8_t meta[NC_GOSSIP_META_MAX];
	size_t len;
	return encode_meta(tags, n, meta, &len, err, err_cap);
}

int
nc_agent_set_tags(struct nc_agent *a, const struct nc_config_tag *tags,
		  size_t n, char *err, size_t err_cap)
{
	uint8_t meta[NC_GOSSIP_META_MAX];
	size_t len;
	int rc = encode_meta(tags, n, meta, &len, err, err_cap);
	if (rc < 0)
		return rc;
	/* serf's SetTags: a new alive with a higher incarnation. */
	rc = nc_gossip_set_meta(a->g, meta, len);
	if (rc < 0) {
		snprintf(err, err_cap, "\"tags\": %s", strerror(-rc));
		return rc;
	}
	agent_log(a, NC_LOG_INFO, "Tags changed (%zu tags): announced", n);
	if (a->tags_file[0] != '\0' &&
	    nc__agent_tags_file_save(a->tags_file, tags, n, err, err_cap) <
		    0) {
		/* Announced, not on disk: say so (serf does too). */
		agent_log(a, NC_LOG_ERR, "Failed to write tags file: %s", err);
		return -EIO;
	}
	return 0;
}

int
nc_agent_keyring_list(struct nc_agent *a, char (*keys)[NC_AGENT_KEY_B64_CAP],
		      size_t cap)
{
	if (a->kr == NULL)
		return -ENOTSUP;
	unsigned n = nc_crypto_keyring_count(a->kr);
	size_t out = 0;
	for (unsigned i = 0; i < n && out < cap; i++) {
		uint8_t key[NC_CRYPTO_KEY_MAX];
		int len = nc_crypto_keyring_get(a->kr, i, key, sizeof(key));
		if (len >= 0 && nc_crypto_key_to_base64(key, (size_t)len,
							keys[out],
							NC_AGENT_KEY_B64_CAP) >= 0)
			out++;
		memset(key, 0, sizeof(key));
	}
	return (int)out;
}

int
nc_agent_keyring_change(struct nc_agent *a, enum nc_agent_key_op op,
			const char *b64, char *err, size_t err_cap)
{
	if (a->kr == NULL)
		return -ENOTSUP;
	uint8_t key[NC_CRYPTO_KEY_MAX];
	size_t key_len = 0;
	char why[128] = "";
	int rc = nc_crypto_key_parse_base64(b64, key, &key_len, why,
					    sizeof(why));
	if (rc != 0) {
		snprintf(err, err_cap, "%s",
			 why[0] ? why : "want base64 of 16, 24 or 32 bytes");
		return -EINVAL;
	}
	switch (op) {
	case NC_AGENT_KEY_INSTALL:
		rc = nc_crypto_keyring_install(a->kr, key, key_len);
		break;
	case NC_AGENT_KEY_USE:
		rc = nc_crypto_keyring_use(a->kr, key, key_len);
		break;
	case NC_AGENT_KEY_REMOVE:
		rc = nc_crypto_keyring_remove(a->kr, key, key_len);
		break;
	default:
		memset(key, 0, sizeof(key));
		snprintf(err, err_cap, "not a keyring change");
		return -EINVAL;
	}
	memset(key, 0, sizeof(key));
	if (rc == 0 && a->keyring_file[0] != '\0' &&
	    nc__agent_keyring_file_save(a->keyring_file, a->kr, err,
					err_cap) < 0) {
		/* Done in memory, not on disk: say so (serf does too). */
		agent_log(a, NC_LOG_ERR, "Failed to write keyring file: %s",
			  err);
		return -EIO;
	}
	switch (rc) {
	case 0:
		return 0;
	case NC_CRYPTO_ENOTFOUND:
		return -ENOENT;
	case NC_CRYPTO_EPRIMARY:
		return -EBUSY;
	case NC_CRYPTO_EFULL:
		return -ENOSPC;
	default:
		snprintf(err, err_cap, "%s", nc_proto_strerror(rc));
		return -EINVAL;
	}
}

/* ------------------------------------------------------------------ */
/* Queries run by this agent (agent/serf_collect.c)                   */
/* ------------------------------------------------------------------ */

/** memberlist's NumMembers: members neither dead nor left, us included. */
static size_t
alive_count(const struct nc_agent *a)
{
	size_t n = nc_gossip_member_count(a->g), alive = 0;
	for (size_t i = 0; i < n; i++) {
		const struct nc_gossip_member *m = nc_gossip_member_at(a->g, i);
		if (m != NULL && (m->state == NC_MEMBER_ALIVE ||
				  m->state == NC_MEMBER_SUSPECT))
			alive++;
	}
	return alive;
}

/** Answers are taken only from members we know (alive or suspect). */
static bool
collect_known(void *ctx, const char *name, size_t len)
{
	struct nc_agent *a = ctx;
	char nm[NC_GOSSIP_NAME_MAX + 1];
	if (len == 0 || len > NC_GOSSIP_NAME_MAX)
		return false;
	memcpy(nm, name, len);
	nm[len] = '\0';
	const struct nc_gossip_member *m = nc_gossip_member_find(a->g, nm);
	return m != NULL &&
	       (m->state == NC_MEMBER_ALIVE || m->state == NC_MEMBER_SUSPECT);
}

/** Arm the query timer for the next deadline (or stop it). */
static void
query_timer_arm(struct nc_agent *a)
{
	double next = nc_agent_serf_collect_next(&a->collect);
	a->env->ops->timer_stop(a->env, &a->query_timer);
	if (next < 0)
		return;
	double in = next - now(a);
	a->env->ops->timer_start(a->env, &a->query_timer, in > 0 ? in : 0);
}

static void
query_timer_cb(struct nc_timer *t)
{
	struct nc_agent *a = t->arg;
	nc_agent_serf_collect_expire(&a->collect, now(a));
	query_timer_arm(a);
}

/** An answer to one of our queries (from the network, or our own). */
static void
collect_msg(struct nc_agent *a, const char *buf, size_t len)
{
	if (nc_agent_serf_collect_on_msg(&a->collect, buf, len) == 2)
		query_timer_arm(a);
}

/**
 * serf's Query: encode, open it in the collector (at most @a alive acks
 * and responses), handle it ourselves (our ack and answer reach the
 * collector at once: serf sends them to itself), queue it for
 * broadcast. The waiter's done is never called before this returns.
 */
static int
query_start(struct nc_agent *a, const char *qname, const void *payload,
	    size_t len, bool want_ack, size_t alive,
	    const struct nc_agent_serf_waiter *w, char *err, size_t err_cap)
{
	double timeout = nc_agent_serf_query_timeout(a->gossip_interval_s,
						     alive);
	uint64_t lt = a->relay.clock.query;
	uint32_t id;
	do
		id = (uint32_t)(a->env->ops->rand(a->env) & 0x7fffffffu);
	while (nc_agent_serf_collect_busy_id(&a->collect, lt, id));
	const struct nc_gossip_member *self = nc_gossip_self(a->g);
	struct nc_agent_serf_query_params qp = {
		.ltime = lt,
		.id = id,
		.addr = &self->addr,
		.self = a->name,
		.name = qname,
		.payload = payload,
		.payload_len = len,
		.want_ack = want_ack,
		.timeout_s = timeout,
	};
	char buf[NC_AGENT_SERF_QUERY_MAX];
	int n = nc_agent_serf_query_encode(buf, sizeof(buf), &qp);
	if (n < 0) {
		snprintf(err, err_cap, "query exceeds limit of %d bytes",
			 NC_AGENT_SERF_QUERY_MAX);
		return n;
	}
	int rc = nc_agent_serf_collect_open(&a->collect, lt, id, want_ack,
					    alive, now(a) + timeout, w);
	if (rc == -EBUSY) {
		snprintf(err, err_cap,
			 "%d queries of this agent are already running; "
			 "retry when one has ended",
			 NC_AGENT_SERF_OPEN_MAX);
		return rc;
	}
	if (rc < 0) {
		snprintf(err, err_cap, "out of memory");
		return rc;
	}
	int limit = nc_gossip_retransmit_limit(a->retransmit_mult,
					       nc_gossip_member_count(a->g));
	/* Witnesses LTime (our clock moves past it), records it as seen
	 * (copies coming back are old news) and queues the broadcast. */
	nc_agent_serf_relay_queue(&a->relay, buf, (size_t)n, (unsigned)limit);
	a->serf_ops.self_meta = self->meta;
	a->serf_ops.self_meta_len = self->meta_len;
	nc_agent_serf_query_answer(&a->serf_ops, &a->serf_qstats, buf,
				   (size_t)n);
	agent_log(a, NC_LOG_DEBUG,
		  "serf: query %s (LTime %llu, ID %u) sent, timeout %.1f s, "
		  "%zu members",
		  qname, (unsigned long long)lt, (unsigned)id, timeout, alive);
	query_timer_arm(a);
	return 0;
}

/* ---- keys: serf's KeyManager --------------------------------------- */

struct key_query {
	struct nc_agent *a;
	nc_agent_keys_cb cb;
	void *arg;
	struct nc_agent_key_result r;
};

static bool
key_query_response(void *arg, const char *from, size_t from_len,
		   const char *payload, size_t payload_len)
{
	struct key_query *kq = arg;
	return nc_agent_key_result_add(&kq->r, from, from_len, payload,
				       payload_len);
}

static void
key_query_done(void *arg, enum nc_agent_serf_end why)
{
	struct key_query *kq = arg;
	static const char *const verb[] = {"install", "use", "remove", "list"};
	agent_log(kq->a, kq->r.num_err > 0 || kq->r.num_resp < kq->r.num_nodes
				 ? NC_LOG_WARN
				 : NC_LOG_INFO,
		  "serf: %s-key query ended%s: %u/%u nodes answered, %u "
		  "reported failure",
		  verb[kq->r.op],
		  why == NC_AGENT_SERF_END_TIMEOUT ? " (timeout)" : "",
		  kq->r.num_resp, kq->r.num_nodes, kq->r.num_err);
	if (kq->cb != NULL)
		kq->cb(kq->arg, &kq->r);
	free(kq);
}

int
nc_agent_keyring_query(struct nc_agent *a, enum nc_agent_key_op op,
		       const char *b64, nc_agent_keys_cb cb, void *arg,
		       char *err, size_t err_cap)
{
	static const char *const qname[] = {
		"_serf_install-key", "_serf_use-key", "_serf_remove-key",
		"_serf_list-keys"};
	uint8_t key[NC_CRYPTO_KEY_MAX];
	size_t key_len = 0;
	if ((unsigned)op > NC_AGENT_KEY_LIST) {
		snprintf(err, err_cap, "unknown key operation");
		return -EINVAL;
	}
	if (a->kr == NULL) {
		snprintf(err, err_cap, "encryption is not enabled");
		return -ENOTSUP;
	}
	if (op != NC_AGENT_KEY_LIST) {
		char why[128] = "";
		if (b64 == NULL ||
		    nc_crypto_key_parse_base64(b64, key, &key_len, why,
					       sizeof(why)) != 0) {
			snprintf(err, err_cap, "%s",
				 why[0] ? why
					: "want base64 of 16, 24 or 32 bytes");
			return -EINVAL;
		}
	}
	/* 07 | keyRequest{Key} (nil for a list, as serf's "" decoded). */
	struct nc_proto_serf_key_request req = {
		.key = {(const char *)key, (uint32_t)key_len}};
	char payload[64];
	int plen = nc_proto_encode_serf_key_request(payload, sizeof(payload),
						    &req);
	memset(key, 0, sizeof(key));
	if (plen <= 0) {
		snprintf(err, err_cap, "cannot encode the key request");
		return -EINVAL;
	}
	struct key_query *kq = calloc(1, sizeof(*kq));
	if (kq == NULL) {
		memset(payload, 0, sizeof(payload));
		snprintf(err, err_cap, "out of memory");
		return -ENOMEM;
	}
	size_t alive = alive_count(a);
	kq->a = a;
	kq->cb = cb;
	kq->arg = arg;
	kq->r.op = op;
	kq->r.num_nodes = (unsigned)alive;
	struct nc_agent_serf_waiter w = {
		.arg = kq,
		.response = key_query_response,
		.done = key_query_done,
	};
	int rc = query_start(a, qname[op], payload, (size_t)plen, false, alive,
			     &w, err, err_cap);
	memset(payload, 0, sizeof(payload));
	if (rc < 0)
		free(kq);
	return rc;
}

/* ---- reachability: serf's reachability command --------------------- */

typedef char node_name_t[NC_CONFIG_NAME_MAX + 1];

struct reach_query {
	struct nc_agent *a;
	nc_agent_reach_cb cb;
	void *arg;
	double start, last;
	unsigned members;
	/** Alive members at the start; acks, in order (acked_cap room,
	 * doubled up to NC_AGENT_SERF_NODES_MAX as members answer). */
	node_name_t *live, *acked;
	size_t live_n, acked_n, acked_cap;
};

static void
reach_ack(void *arg, const char *from, size_t from_len)
{
	struct reach_query *rq = arg;
	if (from_len > NC_CONFIG_NAME_MAX)
		return;
	if (rq->acked_n >= rq->acked_cap) {
		size_t nc = rq->acked_cap * 2;
		if (nc > NC_AGENT_SERF_NODES_MAX)
			nc = NC_AGENT_SERF_NODES_MAX;
		node_name_t *g = nc > rq->acked_cap
				     ? realloc(rq->acked, nc * sizeof(*g))
				     : NULL;
		if (g == NULL)
			return;
		rq->acked = g;
		rq->acked_cap = nc;
	}
	memcpy(rq->acked[rq->acked_n], from, from_len);
	rq->acked[rq->acked_n][from_len] = '\0';
	rq->acked_n++;
	rq->last = now(rq->a);
}

static int
cmp_u64(const void *x, const void *y)
{
	uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
	return a < b ? -1 : a > b;
}

/**
 * Names of @a from (n) whose hash is not among @a other's (m), into
 * @a out: sorted hashes and a binary search, so that thousands of
 * members cost milliseconds, not a quadratic scan.
 */
static size_t
names_minus(node_name_t *from, size_t n, node_name_t *other, size_t m,
	    uint64_t *scratch, node_name_t *out)
{
	for (size_t i = 0; i < m; i++)
		scratch[i] = nc_hash_str(other[i]);
	qsort(scratch, m, sizeof(*scratch), cmp_u64);
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		uint64_t h = nc_hash_str(from[i]);
		if (m == 0 ||
		    bsearch(&h, scratch, m, sizeof(*scratch), cmp_u64) == NULL)
			memcpy(out[k++], from[i], sizeof(out[0]));
	}
	return k;
}

static void
reach_done(void *arg, enum nc_agent_serf_end why)
{
	struct reach_query *rq = arg;
	struct nc_agent *a = rq->a;
	(void)why;
	size_t big = rq->live_n > rq->acked_n ? rq->live_n : rq->acked_n;
	uint64_t *scratch = malloc((big > 0 ? big : 1) * sizeof(*scratch));
	node_name_t *missing = malloc((rq->live_n + 1) * sizeof(*missing));
	node_name_t *non_live = malloc((rq->acked_n + 1) * sizeof(*non_live));
	struct nc_agent_reach_result r = {
		.members = rq->members,
		.live = (unsigned)rq->live_n,
		.acked = rq->acked,
		.acked_n = rq->acked_n,
		.missing = missing,
		.non_live = non_live,
		.query_s = now(a) - rq->start,
		.last_ack_s = rq->acked_n > 0 ? rq->last - rq->start : 0,
	};
	if (scratch != NULL && missing != NULL && non_live != NULL) {
		r.missing_n = names_minus(rq->live, rq->live_n, rq->acked,
					  rq->acked_n, scratch, missing);
		r.non_live_n = names_minus(rq->acked, rq->acked_n, rq->live,
					   rq->live_n, scratch, non_live);
	} else {
		agent_log(a, NC_LOG_ERR,
			  "serf: reachability: out of memory comparing %zu "
			  "acks with %zu live members",
			  rq->acked_n, rq->live_n);
	}
	agent_log(a, NC_LOG_INFO,
		  "serf: reachability test ended: %zu acks, %zu live "
		  "members, %zu missing",
		  rq->acked_n, rq->live_n, r.missing_n);
	if (rq->cb != NULL)
		rq->cb(rq->arg, &r);
	free(scratch);
	free(missing);
	free(non_live);
	free(rq->live);
	free(rq->acked);
	free(rq);
}

int
nc_agent_reachability(struct nc_agent *a, nc_agent_reach_cb cb, void *arg,
		      char *err, size_t err_cap)
{
	size_t alive = alive_count(a);
	size_t cap = alive < 1 ? 1 : alive;
	if (cap > NC_AGENT_SERF_NODES_MAX)
		cap = NC_AGENT_SERF_NODES_MAX;
	struct reach_query *rq = calloc(1, sizeof(*rq));
	if (rq != NULL) {
		rq->live = calloc(cap, sizeof(*rq->live));
		rq->acked = calloc(cap, sizeof(*rq->acked));
	}
	if (rq == NULL || rq->live == NULL || rq->acked == NULL) {
		if (rq != NULL) {
			free(rq->live);
			free(rq->acked);
		}
		free(rq);
		snprintf(err, err_cap, "out of memory");
		return -ENOMEM;
	}
	rq->a = a;
	rq->cb = cb;
	rq->arg = arg;
	rq->acked_cap = cap;
	rq->start = rq->last = now(a);
	size_t n = nc_gossip_member_count(a->g);
	for (size_t i = 0; i < n; i++) {
		const struct nc_gossip_member *m = nc_gossip_member_at(a->g, i);
		if (m == NULL)
			continue;
		rq->members++;
		/* serf's CLI: Status "alive" (a suspect one counts too: serf
		 * reports it alive until it is declared failed). */
		if ((m->state == NC_MEMBER_ALIVE ||
		     m->state == NC_MEMBER_SUSPECT) &&
		    rq->live_n < cap)
			snprintf(rq->live[rq->live_n++], sizeof(rq->live[0]),
				 "%s", m->name);
	}
	struct nc_agent_serf_waiter w = {
		.arg = rq,
		.ack = reach_ack,
		.done = reach_done,
	};
	int rc = query_start(a, "_serf_ping", NULL, 0, true, alive, &w, err,
			     err_cap);
	if (rc < 0) {
		free(rq->live);
		free(rq->acked);
		free(rq);
	}
	return rc;
}

/* ---- name conflicts: serf's resolveNodeConflict -------------------- */

static bool
conflict_response(void *arg, const char *from, size_t from_len,
		  const char *payload, size_t payload_len)
{
	struct nc_agent *a = arg;
	bool match;
	if (!nc_agent_conflict_vote(payload, payload_len,
				    &nc_gossip_self(a->g)->addr, &match)) {
		agent_log(a, NC_LOG_ERR,
			  "serf: Invalid conflict query response from %.*s",
			  (int)(from_len > 128 ? 128 : from_len), from);
		return false;
	}
	a->conflict_responses++;
	a->conflict_matching += match;
	return false;
}

static void
conflict_done(void *arg, enum nc_agent_serf_end why)
{
	struct nc_agent *a = arg;
	a->conflict_running = false;
	if (why == NC_AGENT_SERF_END_CANCELLED)
		return;
	unsigned majority = a->conflict_responses / 2 + 1;
	if (a->conflict_matching >= majority) {
		agent_log(a, NC_LOG_INFO,
			  "serf: majority in name conflict resolution [%u / "
			  "%u]",
			  a->conflict_matching, a->conflict_responses);
		return;
	}
	agent_log(a, NC_LOG_WARN,
		  "serf: minority in name conflict resolution, quitting [%u / "
		  "%u]",
		  a->conflict_matching, a->conflict_responses);
	a->conflict_lost = true;
	if (a->on_conflict_lost != NULL)
		a->on_conflict_lost(a->on_conflict_lost_ctx);
}

/*
 * memberlist refused an alive claiming a member's name from another
 * address. About another node: serf only warns. About us: serf asks the
 * cluster (_serf_conflict, payload our name) which address it knows for
 * the name, and shuts down unless a majority of the answers names ours.
 * One vote at a time (serf starts one per notification).
 */
static void
hook_conflict(void *ctx, const struct nc_gossip_member *existing,
	      const struct nc_addr *other)
{
	struct nc_agent *a = ctx;
	char mine[64], theirs[64], err[128];
	nc_addr_format(&existing->addr, mine, sizeof(mine));
	nc_addr_format(other, theirs, sizeof(theirs));
	if (!existing->is_self) {
		agent_log(a, NC_LOG_WARN,
			  "serf: Name conflict for '%s' both %s and %s are "
			  "claiming",
			  existing->name, mine, theirs);
		return;
	}
	if (a->conflict_running || a->conflict_lost || a->leaving)
		return;
	agent_log(a, NC_LOG_ERR,
		  "serf: Node name conflicts with another node at %s. Names "
		  "must be unique! (Resolution enabled: true)",
		  theirs);
	a->conflict_responses = 0;
	a->conflict_matching = 0;
	struct nc_agent_serf_waiter w = {
		.arg = a,
		.response = conflict_response,
		.done = conflict_done,
	};
	if (query_start(a, "_serf_conflict", a->name, strlen(a->name), false,
			alive_count(a), &w, err, sizeof(err)) < 0) {
		agent_log(a, NC_LOG_ERR,
			  "serf: Failed to start name resolution query: %s",
			  err);
		return;
	}
	a->conflict_running = true;
}

void
nc_agent_set_conflict_lost_cb(struct nc_agent *a, nc_agent_left_cb cb,
			      void *ctx)
{
	a->on_conflict_lost = cb;
	a->on_conflict_lost_ctx = ctx;
}

int
nc_agent_event_fire(struct nc_agent *a, const char *name, const void *payload,
		    size_t len, bool coalesce, uint64_t *ltime, char *err,
		    size_t err_cap)
{
	size_t nl = name != NULL ? strlen(name) : 0;
	if (nl == 0) {
		snprintf(err, err_cap, "event name is empty");
		return -EINVAL;
	}
	/* serf's checks and messages, before and after encoding. */
	if (nl + len > NC_AGENT_EVENT_SIZE_LIMIT) {
		snprintf(err, err_cap,
			 "user event exceeds configured limit of %d bytes "
			 "before encoding", NC_AGENT_EVENT_SIZE_LIMIT);
		return -EINVAL;
	}
	struct nc_proto_serf_user_event m = {
		.cc = coalesce,
		.ltime = a->relay.clock.event,
		.name = {name, (uint32_t)nl},
		.payload = {payload, (uint32_t)len},
	};
	char buf[NC_AGENT_EVENT_SIZE_LIMIT + 64];
	int n = nc_proto_encode_serf_user_event(buf, sizeof(buf), &m);
	if (n <= 0 || n > NC_AGENT_EVENT_SIZE_LIMIT) {
		snprintf(err, err_cap,
			 "encoded user event exceeds configured limit of %d "
			 "bytes after encoding", NC_AGENT_EVENT_SIZE_LIMIT);
		return -EINVAL;
	}
	a->relay.clock.event++;
	int limit = nc_gossip_retransmit_limit(a->retransmit_mult,
					       nc_gossip_member_count(a->g));
	int rc = nc_agent_serf_relay_queue(&a->relay, buf, (size_t)n,
					   (unsigned)limit);
	if (rc < 0) {
		snprintf(err, err_cap, "event not queued (%d)", rc);
		return rc;
	}
	if (ltime != NULL)
		*ltime = m.ltime;
	agent_log(a, NC_LOG_INFO, "serf: fired user event %s (LTime %llu)",
		  name, (unsigned long long)m.ltime);
	return 0;
}

size_t
nc_agent_event_count(const struct nc_agent *a)
{
	return a->relay.recent_n;
}

const struct nc_agent_serf_event *
nc_agent_event_at(const struct nc_agent *a, size_t i)
{
	return nc_agent_serf_relay_recent(&a->relay, i);
}

int
nc_agent_tags_decode(const uint8_t *meta, size_t len, struct nc_agent_tag *out,
		     size_t cap)
{
	struct nc_proto_tag tags[NC_AGENT_MAX_TAGS];
	unsigned n = 0;
	int rc = nc_proto_decode_tags((const char *)meta, len, tags,
				      NC_AGENT_MAX_TAGS, &n);
	if (rc != 0)
		return rc;
	if (n > cap)
		n = (unsigned)cap;
	for (unsigned i = 0; i < n; i++)
		out[i] = (struct nc_agent_tag){
			.key = tags[i].key.data,
			.key_len = tags[i].key.len,
			.value = tags[i].value.data,
			.value_len = tags[i].value.len,
		};
	return (int)n;
}
