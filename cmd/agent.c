/*
 * cmd/agent.c - `netcoord agent`: the wiring of a long-running node.
 *
 *   config (cmd/config.c) ─┐
 *                          ├─> real env (gossip/env_real.c, one epoll loop)
 *                          ├─> gossip (SWIM, memberlist/serf wire format)
 *                          └─> HTTP API (api/, MHD inside the same loop)
 *
 * The agent owns everything in one struct nc_agent; there are no globals.
 * Signals reach the loop through a signalfd (SIGTERM / SIGINT are blocked
 * and read as ordinary events), so shutdown is an ordinary callback:
 *
 *   1st signal: nc_gossip_leave() — serf leave intent, then memberlist
 *               dead{self}, each broadcast until sent or 5 s (serf's
 *               BroadcastTimeout) — then keep answering pings for 1 s
 *               (serf's LeavePropagateDelay), then stop the loop, exit 0.
 *   2nd signal: stop at once.
 *
 * Joining (-join): a push/pull with Join=true to every address; if none
 * answers, retry every NC_AGENT_JOIN_RETRY seconds until one does (serf's
 * -retry-join, with a shorter interval). A failure whose cause was a
 * message we could not decrypt is reported once, as a key mismatch.
 *
 * Coordinates (api/coords.c): every ack carries our coordinate in serf's
 * format; every completed direct probe feeds the peer's ack payload and
 * the RTT to the coordinate client; coordinates are also gossiped among
 * netcoord agents (user messages, only to members tagged nc=<version>,
 * which this agent adds to its own tags). The HTTP API reads them.
 */
#include "cmd/agent.h"

#include <errno.h>
#include <ifaddrs.h>
#include <malloc.h>
#include <net/if.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "api/api.h"
#include "coord/coord.h"
#include "cmd/config.h"
#include "cmd/serf_relay.h"
#include "gossip/crypto.h"
#include "loop/latency.h"
#include "loop/loop.h"
#include "gossip/gossip.h"
#include "gossip/proto.h"

/** Seconds between join attempts while no address answered. */
#define NC_AGENT_JOIN_RETRY 2.0
/** serf's BroadcastTimeout: max wait for each leave broadcast. */
#define NC_AGENT_LEAVE_TIMEOUT 5.0
/** serf's LeavePropagateDelay: keep answering pings after leaving. */
#define NC_AGENT_LEAVE_PROPAGATE 1.0
/** Version reported by /v1/agent/self. */
#ifndef NC_AGENT_VERSION
#define NC_AGENT_VERSION "0.1.0"
#endif
/**
 * Memory. Resident memory is a target (half of serf's), so transient
 * allocations must not stay resident after use: a JSON list of 1,000
 * members is ~1 MiB of small cJSON nodes, freed in the middle of the heap
 * where glibc keeps it. Every NC_AGENT_TRIM_INTERVAL seconds the free
 * pages inside the heap are given back with malloc_trim(0) (glibc
 * madvises them away; well under a millisecond at 1,000 members).
 * Measured at 1,000 members: -1 MiB after a GET /v1/members. (Lowering
 * M_MMAP_THRESHOLD instead made things worse: blocks that used to reuse
 * freed heap space got fresh mappings.) The interval is arbitrary.
 */
#define NC_AGENT_TRIM_INTERVAL 10.0
/** Ack payload room: 1 + map header + 4 keys + 11 doubles ~ 140 bytes. */
#define NC_AGENT_ACK_MAX 192

/** A running agent. */
struct nc_agent {
	/** Parsed configuration (owns tag strings and the key). */
	struct nc_config cfg;
	/** The loop (real env). */
	struct nc_env *env;
	/**
	 * TEST FACILITY: the latency decorator around env that gossip uses
	 * instead of env with -latency-matrix (gossip/env_latency.h); NULL
	 * otherwise.
	 */
	struct nc_env *lat_env;
	/** Keyring, NULL without -encrypt. */
	struct nc_crypto_keyring *kr;
	/** SWIM instance. */
	struct nc_gossip *g;
	/** HTTP endpoint, NULL with -http-addr=off. */
	struct nc_api *api;
	/** signalfd for SIGTERM/SIGINT and its watch. */
	int sigfd;
	struct nc_env_watch sig_watch;
	/** Join retry timer and state. */
	struct nc_timer join_timer;
	bool join_in_flight;
	bool joined;
	unsigned join_attempts;
	bool key_mismatch_logged;
	/**
	 * Decrypt drops and stream errors counted when the current join
	 * attempt began: if they grew, the peers answered in a way we could
	 * not read, which with -encrypt almost always means a key mismatch.
	 */
	uint64_t join_drop_decrypt;
	uint64_t join_stream_errors;
	/** Leave in progress; delay timer after the broadcasts. */
	bool leaving;
	struct nc_timer leave_timer;
	/** Periodic malloc_trim() (see NC_AGENT_TRIM_INTERVAL). */
	struct nc_timer trim_timer;
	/** Rebroadcast of serf intents (cmd/serf_relay.c). */
	struct nc_serf_relay relay;
	/** memberlist's RetransmitMult of the profile, for the relay. */
	int retransmit_mult;
	/** Encoded serf ack payload (fresh coordinate). */
	char ack[NC_AGENT_ACK_MAX];
	size_t ack_len;
	/** Live coordinates (api/coords.c). */
	struct nc_api_coords *coords;
	/** Sends the coordinate greetings to new members (every 0.25 s). */
	struct nc_timer greet_timer;
};

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

static size_t
hook_ack_payload(void *ctx, char *buf, size_t cap)
{
	struct nc_agent *a = ctx;
	if (a->coords != NULL)
		return nc_api_coords_ack_payload(a->coords, buf, cap);
	if (a->ack_len > cap)
		return 0;
	memcpy(buf, a->ack, a->ack_len);
	return a->ack_len;
}

static void
hook_probe_done(void *ctx, const struct nc_gossip_member *peer, double rtt_s,
		const char *payload, size_t payload_len)
{
	struct nc_agent *a = ctx;
	if (a->coords != NULL)
		nc_api_coords_probe_done(a->coords, a->env->ops->now(a->env),
					 peer->name, rtt_s, payload,
					 payload_len);
}

static void
hook_member_event(void *ctx, enum nc_gossip_event ev,
		  const struct nc_gossip_member *m, const char *by)
{
	struct nc_agent *a = ctx;
	if (a->coords != NULL && ev == NC_GOSSIP_EV_JOIN)
		nc_api_coords_member_joined(a->coords,
					    a->env->ops->now(a->env), m->name);
	else if (a->coords != NULL && ev == NC_GOSSIP_EV_REAPED)
		nc_api_coords_member_reaped(a->coords, m->name);
	else if (a->coords != NULL)
		nc_api_coords_member_changed(a->coords);
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

/** Serf intents are relayed like serf does (cmd/serf_relay.c). */
static void
hook_user_msg(void *ctx, const char *buf, size_t len)
{
	struct nc_agent *a = ctx;
	/* Coordinate gossip first: it is not a serf intent to relay. */
	if (a->coords != NULL &&
	    nc_api_coords_user_msg(a->coords, a->env->ops->now(a->env), buf,
				   len))
		return;
	/* memberlist's retransmitLimit: mult * ceil(log10(n + 1)). */
	size_t n = nc_gossip_member_count(a->g);
	unsigned scale = 1;
	for (size_t x = 10; x < n + 1; x *= 10)
		scale++;
	nc_serf_relay_on_msg(&a->relay, buf, len,
			     (unsigned)a->retransmit_mult * scale);
}

static size_t
hook_user_broadcast(void *ctx, const struct nc_gossip_member *to, char *buf,
		    size_t cap)
{
	struct nc_agent *a = ctx;
	size_t n = nc_serf_relay_take(&a->relay, buf, cap);
	if (n == 0 && a->coords != NULL)
		n = nc_api_coords_user_broadcast(
			a->coords, a->env->ops->now(a->env), to, buf, cap);
	return n;
}

/** Greet members that joined recently with our coordinate. */
static void
greet_timer_cb(struct nc_timer *t)
{
	struct nc_agent *a = t->arg;
	const struct nc_gossip_member *to;
	char buf[256];
	size_t n;
	double now = a->env->ops->now(a->env);
	while ((n = nc_api_coords_greet_take(a->coords, now, &to, buf,
					     sizeof(buf))) > 0)
		nc_gossip_send_user(a->g, to, buf, n);
	a->env->ops->timer_start(a->env, &a->greet_timer, 0.25);
}

/* ------------------------------------------------------------------ */
/* Join with retry                                                    */
/* ------------------------------------------------------------------ */

static void join_attempt(struct nc_agent *a);

static void
join_done(void *arg, int joined)
{
	struct nc_agent *a = arg;
	a->join_in_flight = false;
	if (a->leaving)
		return;
	if (joined > 0) {
		a->joined = true;
		agent_log(a, NC_LOG_INFO,
			  "Join completed. Synced with %d initial agents",
			  joined);
		return;
	}
	const struct nc_gossip_stats *st = nc_gossip_stats(a->g);
	bool unreadable = st->drop_decrypt > a->join_drop_decrypt ||
			  (a->kr != NULL &&
			   st->stream_errors > a->join_stream_errors);
	if (unreadable && !a->key_mismatch_logged) {
		agent_log(a, NC_LOG_ERR,
			  "Join failed: the peers' replies could not be "
			  "decrypted; check that -encrypt matches the "
			  "cluster's key (retrying every %.0f s)",
			  NC_AGENT_JOIN_RETRY);
		a->key_mismatch_logged = true;
	} else if (unreadable) {
		/* Said once already. */
	} else if (a->join_attempts == 1 || a->join_attempts % 15 == 0) {
		agent_log(a, NC_LOG_WARN,
			  "Join failed: no address answered (attempt %u), "
			  "retrying every %.0f s",
			  a->join_attempts, NC_AGENT_JOIN_RETRY);
	}
	a->env->ops->timer_start(a->env, &a->join_timer, NC_AGENT_JOIN_RETRY);
}

static void
join_attempt(struct nc_agent *a)
{
	if (a->join_in_flight || a->joined || a->leaving)
		return;
	a->join_attempts++;
	a->join_drop_decrypt = nc_gossip_stats(a->g)->drop_decrypt;
	a->join_stream_errors = nc_gossip_stats(a->g)->stream_errors;
	a->join_in_flight = true;
	int rc = nc_gossip_join(a->g, a->cfg.join, a->cfg.join_n, join_done,
				a);
	if (rc < 0) {
		a->join_in_flight = false;
		a->env->ops->timer_start(a->env, &a->join_timer,
					 NC_AGENT_JOIN_RETRY);
	}
}

static void
join_timer_cb(struct nc_timer *t)
{
	join_attempt(t->arg);
}

/* ------------------------------------------------------------------ */
/* Signals and leave                                                  */
/* ------------------------------------------------------------------ */

static void
trim_timer_cb(struct nc_timer *t)
{
	struct nc_agent *a = t->arg;
	malloc_trim(0);
	a->env->ops->timer_start(a->env, &a->trim_timer,
				 NC_AGENT_TRIM_INTERVAL);
}

static void
leave_timer_cb(struct nc_timer *t)
{
	struct nc_agent *a = t->arg;
	agent_log(a, NC_LOG_INFO, "Leave complete, shutting down");
	nc_env_real_stop(a->env);
}

static void
leave_done(void *arg)
{
	struct nc_agent *a = arg;
	/* Keep answering pings while the leave spreads (serf does too). */
	a->env->ops->timer_start(a->env, &a->leave_timer,
				 NC_AGENT_LEAVE_PROPAGATE);
}

/** Graceful leave, from a signal or PUT /v1/agent/leave. */
static int
agent_leave(void *ctx)
{
	struct nc_agent *a = ctx;
	if (a->leaving)
		return 0;
	a->leaving = true;
	a->env->ops->timer_stop(a->env, &a->join_timer);
	if (nc_gossip_leave(a->g, NC_AGENT_LEAVE_TIMEOUT, leave_done, a) < 0) {
		agent_log(a, NC_LOG_WARN, "Leave failed, shutting down anyway");
		nc_env_real_stop(a->env);
		return -1;
	}
	return 0;
}

static int
api_leave(void *ctx)
{
	struct nc_agent *a = ctx;
	agent_log(a, NC_LOG_INFO,
		  "Leave requested over HTTP. Gracefully leaving the cluster");
	return agent_leave(a);
}

static void
signal_event(struct nc_env_watch *w, unsigned events)
{
	struct nc_agent *a = w->arg;
	struct signalfd_siginfo si;
	(void)events;
	while (read(a->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (a->leaving) {
			agent_log(a, NC_LOG_WARN,
				  "Caught second signal, exiting at once");
			nc_env_real_stop(a->env);
			return;
		}
		agent_log(a, NC_LOG_INFO,
			  "Caught signal: %s. Gracefully leaving the cluster",
			  strsignal((int)si.ssi_signo));
		agent_leave(a);
	}
}

static int
signals_setup(struct nc_agent *a)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -errno;
	signal(SIGPIPE, SIG_IGN);
	a->sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (a->sigfd < 0)
		return -errno;
	return nc_env_real_watch_start(a->env, &a->sig_watch, a->sigfd,
				       NC_ENV_READ, signal_event, a);
}

/* ------------------------------------------------------------------ */
/* /v1/stats: counters, for the benchmark and for operators           */
/* ------------------------------------------------------------------ */

static int
stats_route(void *ctx, const struct nc_api_request *req, cJSON **out,
	    char *err, size_t err_cap)
{
	struct nc_agent *a = ctx;
	const struct nc_gossip_stats *gs = nc_gossip_stats(a->g);
	const struct nc_env_real_stats *es = nc_env_real_stats(a->env);
	(void)req;
	cJSON *o = cJSON_CreateObject();
	cJSON *g = cJSON_AddObjectToObject(o, "gossip");
	cJSON *e = cJSON_AddObjectToObject(o, "env");
	if (o == NULL || g == NULL || e == NULL) {
		cJSON_Delete(o);
		snprintf(err, err_cap, "out of memory");
		return 500;
	}
#define NUM(obj, s, f) cJSON_AddNumberToObject(obj, #f, (double)(s)->f)
	NUM(g, gs, packets_in);
	NUM(g, gs, packets_out);
	NUM(g, gs, bytes_in);
	NUM(g, gs, bytes_out);
	NUM(g, gs, drop_decrypt);
	NUM(g, gs, drop_crc);
	NUM(g, gs, drop_decode);
	NUM(g, gs, drop_type);
	NUM(g, gs, drop_other);
	NUM(g, gs, probes);
	NUM(g, gs, probe_failures);
	NUM(g, gs, indirect_probes);
	NUM(g, gs, tcp_pings);
	NUM(g, gs, acks_sent);
	NUM(g, gs, nacks_sent);
	NUM(g, gs, suspicions);
	NUM(g, gs, refutations);
	NUM(g, gs, deaths_declared);
	NUM(g, gs, pushpull_out);
	NUM(g, gs, pushpull_in);
	NUM(g, gs, pushpull_fail);
	NUM(g, gs, streams_in);
	NUM(g, gs, stream_errors);
	NUM(g, gs, broadcasts_queued);
	NUM(g, gs, broadcasts_sent);
	NUM(e, es, udp_in);
	NUM(e, es, udp_out);
	NUM(e, es, udp_bytes_in);
	NUM(e, es, udp_bytes_out);
	NUM(e, es, udp_send_errors);
	NUM(e, es, udp_no_timestamp);
	NUM(e, es, streams_in);
	NUM(e, es, streams_in_refused);
	NUM(e, es, streams_in_timeouts);
	NUM(e, es, streams_in_errors);
	NUM(e, es, streams_out);
	NUM(e, es, streams_out_errors);
	NUM(e, es, loop_iterations);
	cJSON *r = cJSON_AddObjectToObject(o, "serf_relay");
	if (r != NULL) {
		NUM(r, &a->relay, relayed_in);
		NUM(r, &a->relay, relayed_out);
		NUM(r, &a->relay, ignored);
	}
	/* TEST FACILITY counters, only with -latency-matrix. */
	const struct nc_env_latency_stats *ls =
		a->lat_env != NULL ? nc_env_latency_stats(a->lat_env) : NULL;
	cJSON *l = ls != NULL ? cJSON_AddObjectToObject(o, "latency") : NULL;
	if (l != NULL) {
		NUM(l, ls, packets_delayed);
		NUM(l, ls, packets_direct);
		NUM(l, ls, drop_queue_full);
		NUM(l, ls, drop_oversize);
		NUM(l, ls, unknown_dest);
		NUM(l, ls, missing_entry);
		NUM(l, ls, streams_delayed);
		NUM(l, ls, streams_refused);
		NUM(l, ls, queued_now);
		NUM(l, ls, queued_max);
	}
#undef NUM
	cJSON_AddNumberToObject(o, "health_score",
				nc_gossip_health_score(a->g));
	cJSON_AddNumberToObject(o, "members",
				(double)nc_gossip_member_count(a->g));
	*out = o;
	return 200;
}

/* ------------------------------------------------------------------ */
/* Start-up                                                           */
/* ------------------------------------------------------------------ */

static bool
addr_is_any(const struct nc_addr *x)
{
	for (size_t i = 0; i < nc_addr_ip_len(x); i++)
		if (x->ip[i] != 0)
			return false;
	return true;
}

/**
 * memberlist advertises the first private IPv4 when bound to a wildcard;
 * we take the first up, non-loopback IPv4 (or 127.0.0.1 if there is none).
 */
static void
pick_advertise_ip(struct nc_addr *out)
{
	struct ifaddrs *ifs = NULL, *i;
	out->family = 4;
	memset(out->ip, 0, sizeof(out->ip));
	out->ip[0] = 127;
	out->ip[3] = 1;
	if (getifaddrs(&ifs) != 0)
		return;
	for (i = ifs; i != NULL; i = i->ifa_next) {
		if (i->ifa_addr == NULL || i->ifa_addr->sa_family != AF_INET ||
		    (i->ifa_flags & IFF_LOOPBACK) || !(i->ifa_flags & IFF_UP))
			continue;
		memcpy(out->ip,
		       &((struct sockaddr_in *)i->ifa_addr)->sin_addr, 4);
		break;
	}
	freeifaddrs(ifs);
}

/**
 * Encode the tags as serf Meta (PROTOCOL.md §7.1), plus nc=<coordinate
 * gossip version> (NC_API_COORDS_TAG) that marks us as a netcoord agent
 * (unless the config sets that tag itself).
 */
static int
encode_meta(const struct nc_config *cfg, uint8_t *meta, size_t *len,
	    char *err, size_t cap)
{
	struct nc_proto_tag tags[NC_CONFIG_MAX_TAGS + 1];
	size_t nt = 0;
	bool has_nc = false;
	*len = 0;
	for (size_t i = 0; i < cfg->tags_n; i++) {
		tags[i].key = nc_proto_cstr(cfg->tags[i].key);
		tags[i].value = nc_proto_cstr(cfg->tags[i].value);
		has_nc |= strcmp(cfg->tags[i].key, NC_API_COORDS_TAG) == 0;
	}
	nt = cfg->tags_n;
	if (!has_nc) {
		tags[nt].key = nc_proto_cstr(NC_API_COORDS_TAG);
		tags[nt].value = nc_proto_cstr("1");
		nt++;
	}
	int n = nc_proto_encode_tags((char *)meta, NC_GOSSIP_META_MAX, tags,
				     (unsigned)nt);
	if (n < 0) {
		snprintf(err, cap,
			 "\"tags\": encoded tags exceed %d bytes (memberlist's "
			 "limit)",
			 NC_GOSSIP_META_MAX);
		return -EINVAL;
	}
	*len = (size_t)n;
	return 0;
}

static uint64_t
random_seed(void)
{
	uint64_t s = 0;
	if (getrandom(&s, sizeof(s), 0) != (ssize_t)sizeof(s))
		s = (uint64_t)getpid() ^ (uint64_t)time(NULL) << 20;
	return s;
}

/**
 * TEST FACILITY: with -latency-matrix, wrap the real env in the latency
 * decorator (gossip/env_latency.h). Our row: -latency-row, else the map
 * line named like this node, else the line with our advertise address.
 * Returns 0 (also when off) or -EINVAL with a message on stderr.
 */
static int
latency_setup(struct nc_agent *a, const struct nc_addr *advertise)
{
	struct nc_config *c = &a->cfg;
	char err[512] = "";
	double *m = NULL;
	size_t n = 0, peers_n = 0;
	struct nc_env_latency_peer *peers = NULL;
	int rc = -EINVAL;

	if (c->latency_matrix[0] == '\0') {
		if (c->latency_map[0] != '\0' || c->latency_row_set)
			fprintf(stderr, "netcoord: config: \"latency_map\" and "
					"\"latency_row\" need \"latency_matrix\"\n");
		return c->latency_map[0] != '\0' || c->latency_row_set ? -EINVAL
									  : 0;
	}
	if (nc_env_latency_matrix_load(c->latency_matrix, &m, &n, err,
				       sizeof(err)) < 0)
		goto out;
	if (c->latency_map[0] != '\0' &&
	    nc_env_latency_map_load(c->latency_map, n, &peers, &peers_n, err,
				    sizeof(err)) < 0)
		goto out;
	int row = c->latency_row_set
			  ? c->latency_row
			  : nc_env_latency_map_find(peers, peers_n,
						    c->node_name, advertise);
	if (row < 0) {
		snprintf(err, sizeof(err),
			 "no -latency-row, and no line of the map names "
			 "\"%s\" or our address",
			 c->node_name);
		goto out;
	}
	struct nc_env_latency_config lc = {
		.rtt_ms = m, .n = n, .self_row = row,
		.peers = peers, .peers_n = peers_n,
	};
	a->lat_env = nc_env_latency_new(a->env, &lc, err, sizeof(err));
	if (a->lat_env == NULL)
		goto out;
	agent_log(a, NC_LOG_WARN,
		  "TEST FACILITY: latency emulation on (matrix %s, %zu rows, "
		  "own row %d, %zu peers mapped)",
		  c->latency_matrix, n, row, peers_n);
	rc = 0;
out:
	if (rc < 0)
		fprintf(stderr, "netcoord: config: latency: %s\n", err);
	free(m);
	free(peers);
	return rc;
}

/** Everything after config parsing. Returns an exit code. */
static int
agent_start(struct nc_agent *a)
{
	char err[256] = "";
	struct nc_config *c = &a->cfg;

	/* Loop and sockets. */
	struct nc_env_real_config ec;
	nc_env_real_config_default(&ec);
	ec.bind = c->bind;
	ec.seed = c->seed_set ? c->seed : random_seed();
	ec.log_level = c->log_level;

	struct nc_gossip_config gc;
	nc_gossip_config_default(&gc, (enum nc_gossip_profile)c->profile);
	ec.tcp_timeout = gc.tcp_timeout;

	a->env = nc_env_real_new(&ec, err, sizeof(err));
	if (a->env == NULL) {
		fprintf(stderr, "netcoord: config: \"bind\": %s\n", err);
		return 2;
	}

	/* Gossip configuration. */
	snprintf(gc.name, sizeof(gc.name), "%s", c->node_name);
	struct nc_addr local;
	nc_env_real_local_addr(a->env, &local);
	if (c->advertise.family != 0) {
		gc.advertise = c->advertise;
		if (gc.advertise.port == 0)
			gc.advertise.port = local.port;
	} else if (addr_is_any(&c->bind)) {
		pick_advertise_ip(&gc.advertise);
		gc.advertise.port = local.port;
	} else {
		gc.advertise = local;
	}
	if (encode_meta(c, gc.meta, &gc.meta_len, err, sizeof(err)) < 0) {
		fprintf(stderr, "netcoord: config: %s\n", err);
		return 2;
	}
	if (c->key_len > 0) {
		a->kr = nc_crypto_keyring_new();
		if (a->kr == NULL ||
		    nc_crypto_keyring_install(a->kr, c->key, c->key_len) != 0) {
			fprintf(stderr, "netcoord: cannot set up encryption\n");
			return 1;
		}
		gc.keyring = a->kr;
	}
	gc.serf_compat = true;

	struct nc_proto_coord fresh = {.dims = 8, .error = 1.5,
				       .height = 1.0e-5};
	int n = nc_proto_encode_coord(a->ack, sizeof(a->ack), &fresh);
	a->ack_len = n > 0 ? (size_t)n : 0;

	/* Coordinates: Serf's 8 dimensions; per-peer state for 1024 peers
	 * (calloc()ed, so untouched pages cost nothing until used). */
	struct nc_coord_config ccfg;
	nc_coord_config_default(&ccfg);
	ccfg.peer_cap = 1024;
	ccfg.seed = ec.seed ^ 0x9e3779b97f4a7c15ULL;
	struct nc_api_coords_config acfg;
	nc_api_coords_config_default(&acfg);
	acfg.gossip_bytes_per_s = c->coord_gossip_bytes_per_s;
	a->coords = nc_api_coords_new(c->node_name, &ccfg, &acfg,
				      a->env->ops->now(a->env), err,
				      sizeof(err));
	if (a->coords == NULL) {
		fprintf(stderr, "netcoord: coordinates: %s\n", err);
		return 1;
	}

	struct nc_gossip_hooks hooks = {
		.ctx = a,
		.probe_done = hook_probe_done,
		.ack_payload = hook_ack_payload,
		.member_event = hook_member_event,
		.user_msg = hook_user_msg,
		.user_broadcast = hook_user_broadcast,
	};
	a->relay.self = c->node_name;
	a->retransmit_mult = gc.retransmit_mult > 0 ? gc.retransmit_mult : 4;
	if (latency_setup(a, &gc.advertise) < 0)
		return 2;
	a->g = nc_gossip_new(a->lat_env != NULL ? a->lat_env : a->env, &gc,
			     &hooks, err, sizeof(err));
	if (a->g == NULL) {
		fprintf(stderr, "netcoord: config: %s\n", err);
		return 2;
	}
	nc_api_coords_set_gossip(a->coords, a->g);

	/* HTTP. */
	if (c->http_addr.family != 0) {
		struct nc_api_config ac;
		nc_api_config_default(&ac);
		ac.addr = c->http_addr;
		snprintf(ac.token, sizeof(ac.token), "%s", c->http_token);
		ac.allow_unauthenticated_writes =
			c->http_allow_unauthenticated_writes;
		ac.keyring = a->kr;
		ac.coords = a->coords;
		ac.leave = api_leave;
		ac.leave_ctx = a;
		ac.version = NC_AGENT_VERSION;
		a->api = nc_api_new(a->env, a->g, &ac, err, sizeof(err));
		if (a->api == NULL) {
			fprintf(stderr, "netcoord: config: \"http_addr\": %s\n",
				err);
			return 2;
		}
		nc_api_route_add(a->api, "GET", "/v1/stats", false,
				 stats_route, a);
	}

	if (signals_setup(a) < 0) {
		fprintf(stderr, "netcoord: signalfd: %s\n", strerror(errno));
		return 1;
	}

	char as[64], hs[64] = "off";
	nc_addr_format(&gc.advertise, as, sizeof(as));
	if (c->http_addr.family != 0) {
		struct nc_addr h = c->http_addr;
		h.port = (uint16_t)nc_api_port(a->api);
		nc_addr_format(&h, hs, sizeof(hs));
	}
	agent_log(a, NC_LOG_INFO,
		  "netcoord agent running: node '%s', gossip %s, http %s, "
		  "encrypted: %s",
		  c->node_name, as, hs, a->kr != NULL ? "yes" : "no");

	if (nc_gossip_start(a->g) < 0) {
		fprintf(stderr, "netcoord: cannot start gossip\n");
		return 1;
	}
	a->env->ops->timer_start(a->env, &a->greet_timer, 0.25);
	if (c->join_n > 0)
		join_attempt(a);

	a->env->ops->timer_start(a->env, &a->trim_timer,
				 NC_AGENT_TRIM_INTERVAL);
	int rc = nc_env_real_run(a->env);
	if (rc < 0) {
		fprintf(stderr, "netcoord: event loop: %s\n", strerror(-rc));
		return 1;
	}
	return 0;
}

static void
agent_cleanup(struct nc_agent *a)
{
	nc_api_delete(a->api);
	nc_gossip_delete(a->g);
	nc_api_coords_delete(a->coords);
	nc_env_latency_delete(a->lat_env);
	if (a->env != NULL) {
		a->env->ops->timer_stop(a->env, &a->join_timer);
		a->env->ops->timer_stop(a->env, &a->leave_timer);
		a->env->ops->timer_stop(a->env, &a->greet_timer);
		a->env->ops->timer_stop(a->env, &a->trim_timer);
		nc_env_real_watch_stop(a->env, &a->sig_watch);
	}
	if (a->sigfd >= 0)
		close(a->sigfd);
	nc_env_real_delete(a->env);
	nc_crypto_keyring_delete(a->kr);
	nc_config_destroy(&a->cfg);
}

int
nc_cmd_agent(int argc, char **argv)
{
	struct nc_agent *a = calloc(1, sizeof(*a));
	char err[512] = "";
	if (a == NULL) {
		fprintf(stderr, "netcoord: out of memory\n");
		return 1;
	}
	a->sigfd = -1;
	nc_timer_init(&a->join_timer, join_timer_cb, a);
	nc_timer_init(&a->leave_timer, leave_timer_cb, a);
	nc_timer_init(&a->greet_timer, greet_timer_cb, a);
	nc_timer_init(&a->trim_timer, trim_timer_cb, a);
	nc_config_init(&a->cfg);
	int rc = nc_config_parse_args(&a->cfg, argc, argv, err, sizeof(err));
	if (rc != 0) {
		if (rc < 0)
			fprintf(stderr, "netcoord: config: %s\n", err);
		nc_config_destroy(&a->cfg);
		free(a);
		return rc > 0 ? 0 : 2;
	}
	rc = agent_start(a);
	agent_cleanup(a);
	free(a);
	return rc;
}
