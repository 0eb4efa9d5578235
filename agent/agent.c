/*
 * agent/agent.c - the agent: gossip hooks -> coordinate service, serf
 * intent relay, join with retry, graceful leave, keyring and tags for the
 * API (agent/agent.h has the picture).
 *
 * Joining: a push/pull with Join=true to every configured address; if
 * none answers, retry every NC_AGENT_JOIN_RETRY_S until one does (serf's
 * -retry-join, with a shorter interval). A failure whose cause was a
 * message we could not decrypt is reported once, as a key mismatch.
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
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/serf_relay.h"
#include "coord/coord.h"
#include "gossip/crypto.h"
#include "gossip/gossip.h"
#include "gossip/proto.h"

/** Seconds between greeting rounds (agent/coords.h greet_take). */
#define NC_AGENT_GREET_INTERVAL_S 0.25
/**
 * Coordinate client peer state: 1024 peers (calloc()ed, so untouched
 * pages cost nothing until used).
 */
#define NC_AGENT_COORD_PEERS 1024

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
	/** Addresses to join (copied from the config). */
	struct nc_addr join[NC_CONFIG_MAX_JOIN];
	size_t join_n;
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
	nc_agent_left_cb on_left;
	void *on_left_ctx;
	/** Rebroadcast of serf intents (agent/serf_relay.c). */
	struct nc_agent_serf_relay relay;
	/** memberlist's RetransmitMult of the profile, for the relay. */
	int retransmit_mult;
	/** Sends the coordinate greetings to new members. */
	struct nc_timer greet_timer;
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

/** Serf intents are relayed like serf does (agent/serf_relay.c). */
static void
hook_user_msg(void *ctx, const char *buf, size_t len)
{
	struct nc_agent *a = ctx;
	/* Coordinate gossip first: it is not a serf intent to relay. */
	if (nc_agent_coords_user_msg(a->coords, now(a), buf, len))
		return;
	/* memberlist's retransmitLimit (the member count includes self). */
	int limit = nc_gossip_retransmit_limit(a->retransmit_mult,
					       nc_gossip_member_count(a->g));
	nc_agent_serf_relay_on_msg(&a->relay, buf, len, (unsigned)limit);
}

static size_t
hook_user_broadcast(void *ctx, const struct nc_gossip_member *to, char *buf,
		    size_t cap)
{
	struct nc_agent *a = ctx;
	size_t n = nc_agent_serf_relay_take(&a->relay, buf, cap);
	if (n == 0)
		n = nc_agent_coords_user_broadcast(a->coords, now(a), to, buf,
						   cap);
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
	while ((n = nc_agent_coords_greet_take(a->coords, now(a), &to, buf,
					     sizeof(buf))) > 0)
		nc_gossip_send_user(a->g, to, buf, n);
	a->env->ops->timer_start(a->env, &a->greet_timer,
				 NC_AGENT_GREET_INTERVAL_S);
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
			  NC_AGENT_JOIN_RETRY_S);
		a->key_mismatch_logged = true;
	} else if (unreadable) {
		/* Said once already. */
	} else if (a->join_attempts == 1 || a->join_attempts % 15 == 0) {
		agent_log(a, NC_LOG_WARN,
			  "Join failed: no address answered (attempt %u), "
			  "retrying every %.0f s",
			  a->join_attempts, NC_AGENT_JOIN_RETRY_S);
	}
	a->env->ops->timer_start(a->env, &a->join_timer, NC_AGENT_JOIN_RETRY_S);
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
	int rc = nc_gossip_join(a->g, a->join, a->join_n, join_done,
				a);
	if (rc < 0) {
		a->join_in_flight = false;
		a->env->ops->timer_start(a->env, &a->join_timer,
					 NC_AGENT_JOIN_RETRY_S);
	}
}

static void
join_timer_cb(struct nc_timer *t)
{
	join_attempt(t->arg);
}

/* ------------------------------------------------------------------ */
/* Leave                                                              */
/* ------------------------------------------------------------------ */

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
	a->env->ops->timer_stop(a->env, &a->join_timer);
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
/* Life cycle                                                         */
/* ------------------------------------------------------------------ */

/**
 * Encode the tags as serf Meta (PROTOCOL.md §7.1), plus nc=<coordinate
 * gossip version> (NC_AGENT_COORDS_TAG) that marks us as a netcoord agent
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
		has_nc |= strcmp(cfg->tags[i].key, NC_AGENT_COORDS_TAG) == 0;
	}
	nt = cfg->tags_n;
	if (!has_nc) {
		tags[nt].key = nc_proto_cstr(NC_AGENT_COORDS_TAG);
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

static int
keyring_setup(struct nc_agent *a, const struct nc_config *c, char *err,
	      size_t err_cap)
{
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
	a->coords = nc_agent_coords_new(c->node_name, &ccfg, &acfg, now(a), err,
					err_cap);
	return a->coords != NULL ? 0 : -EINVAL;
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
	if (encode_meta(c, gc.meta, &gc.meta_len, err, err_cap) < 0)
		return -EINVAL;
	struct nc_gossip_hooks hooks = {
		.ctx = a,
		.probe_done = hook_probe_done,
		.ack_payload = hook_ack_payload,
		.member_event = hook_member_event,
		.user_msg = hook_user_msg,
		.user_broadcast = hook_user_broadcast,
	};
	a->retransmit_mult = gc.retransmit_mult > 0 ? gc.retransmit_mult : 4;
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
	memcpy(a->join, cfg->join, cfg->join_n * sizeof(cfg->join[0]));
	a->join_n = cfg->join_n;
	a->on_left = on_left;
	a->on_left_ctx = on_left_ctx;
	a->relay.self = a->name;
	nc_timer_init(&a->join_timer, join_timer_cb, a);
	nc_timer_init(&a->leave_timer, leave_timer_cb, a);
	nc_timer_init(&a->greet_timer, greet_timer_cb, a);
	if (keyring_setup(a, cfg, err, err_cap) < 0 ||
	    coords_setup(a, cfg, err, err_cap) < 0 ||
	    gossip_setup(a, cfg, advertise, err, err_cap) < 0) {
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
	if (a->join_n > 0)
		join_attempt(a);
	return 0;
}

void
nc_agent_delete(struct nc_agent *a)
{
	if (a == NULL)
		return;
	a->env->ops->timer_stop(a->env, &a->join_timer);
	a->env->ops->timer_stop(a->env, &a->leave_timer);
	a->env->ops->timer_stop(a->env, &a->greet_timer);
	nc_gossip_delete(a->g);
	nc_agent_coords_delete(a->coords);
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
	out->join_attempts = a->join_attempts;
	out->joined = a->joined;
}

/* ------------------------------------------------------------------ */
/* Keyring and tags, for the API                                      */
/* ------------------------------------------------------------------ */

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
	}
	memset(key, 0, sizeof(key));
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
