/*
 * SWIM with Lifeguard, wire compatible with memberlist 0.2.2 / serf 0.9.4
 * (PROTOCOL.md §1, §6). This file holds the instance, the probe loop, the
 * gossip loop, the packet paths in and out, and graceful leave. The member
 * table and the message rules are in members.c, Lifeguard's formulas in
 * suspicion.c, the broadcast queue in broadcast.c, TCP in swim_stream.c.
 *
 * Failure detection (SWIM, Das et al. 2002): every ProbeInterval one member
 * is pinged directly; without an ack within ProbeTimeout, IndirectChecks
 * random alive members are asked to ping it for us (and, as memberlist
 * does, a TCP ping is tried in parallel). No ack by the end of the
 * interval -> the member becomes suspect; a suspect that does not refute
 * within the suspicion timeout is declared dead. Members are probed
 * round-robin over a list reshuffled on every wrap (members.c), which
 * bounds the time until a failed member is first probed.
 *
 * Lifeguard (Dadgar et al. 2018) adds four things, all switched off by
 * cfg.lifeguard = false for comparison runs (and one by one by
 * cfg.lha_probe, lha_suspicion, buddy_system, nack):
 *   - local health awareness: the probe interval (and the wait for indirect
 *     acks) is stretched by score + 1, where the score grows when our own
 *     probes fail without the helpers' nacks, i.e. when the problem is
 *     probably us (suspicion.c);
 *   - nacks: a helper asked for an indirect probe answers with a nack
 *     when the target stays silent, so a prober that gets neither ack nor
 *     nack knows the problem is probably its own (the health score);
 *   - dynamic suspicion timeouts shrinking with independent confirmations;
 *   - the buddy system: a suspect target gets the suspect message in the
 *     same packet as the ping, so it can refute at once.
 *
 * Dissemination is infection-style: membership messages are piggy-backed
 * on every ping/ack/indirect packet and sent in gossip rounds
 * (GossipNodes random members every GossipInterval), fewest-transmitted
 * first, until each has been sent RetransmitMult x ceil(log10(n+1)) times.
 *
 * Timing model. memberlist runs the probe in a goroutine that blocks; we
 * run it as a small state machine (struct nc__probe) driven by two timers:
 * ProbeTimeout (end of the direct phase) and the scaled interval (end of
 * the probe). memberlist's ticker keeps one pending tick while a probe
 * overruns; `tick_pending` reproduces that.
 *
 * Departures from memberlist:
 *   - gossip messages (alive/suspect/dead/user) are handled inline as the
 *     packet is walked, not through a handoff queue; there is therefore no
 *     HandoffQueueDepth drop;
 *   - the RTT reported to probe_done runs from the env time taken right
 *     before send_packet to the ack's receive timestamp (memberlist takes
 *     its timestamp before encoding), and only for acks that arrive within
 *     ProbeTimeout on the direct path;
 *   - helper-side relays are capped at NC__RELAY_MAX concurrent requests;
 *   - nc_gossip_ping sends a plain ping on request (the API's verified
 *     nearest) and reports its RTT or a timeout through a callback from
 *     the env's timers; it is not a probe and changes no member state.
 *
 * Memory: all packet buffers are allocated once per instance (sizes below);
 * the probe path allocates nothing. Streams (push/pull) allocate.
 */
#include "gossip/swim_internal.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gossip/crypto.h"

/**
 * Transmit-side buffers: a packet we assemble is at most udp_buffer_size
 * (<= NC__UDP_BUFFER_MAX) plus the ack payload slack; compression can grow
 * LZW input by 12/8 in the worst case (we then send uncompressed), and CRC
 * (+5) and encryption (+45 worst case) wrap it.
 */
#define NC__UDP_BUFFER_MAX 8192
#define NC__TX_BUF (NC__UDP_BUFFER_MAX + 2048)
/** Largest ack payload we ask the hook for (serf's is ~130 bytes). */
#define NC__ACK_PAYLOAD_MAX 1024

/* ------------------------------------------------------------------ */
/* Config                                                             */
/* ------------------------------------------------------------------ */

const char *
nc_member_state_str(enum nc_member_state s)
{
	switch (s) {
	case NC_MEMBER_ALIVE: return "alive";
	case NC_MEMBER_SUSPECT: return "suspect";
	case NC_MEMBER_DEAD: return "dead";
	case NC_MEMBER_LEFT: return "left";
	}
	return "unknown";
}

void
nc_gossip_config_default(struct nc_gossip_config *cfg,
			 enum nc_gossip_profile profile)
{
	static const uint8_t vsn[6] = {1, 5, 2, 2, 5, 5}; /* serf 0.9.4 */

	memset(cfg, 0, sizeof(*cfg));
	memcpy(cfg->vsn, vsn, sizeof(vsn));
	/* Serf's LAN numbers (memberlist DefaultLANConfig), §6.1. */
	cfg->probe_interval = 1.0;
	cfg->probe_timeout = 0.5;
	cfg->indirect_checks = 3;
	cfg->suspicion_mult = 4;
	cfg->suspicion_max_timeout_mult = 6;
	cfg->retransmit_mult = 4;
	cfg->awareness_max_multiplier = 8;
	cfg->gossip_interval = 0.2;
	cfg->gossip_nodes = 3;
	cfg->gossip_to_the_dead_time = 30;
	cfg->pushpull_interval = 30;
	cfg->tcp_timeout = 10;
	cfg->udp_buffer_size = NC_PROTO_UDP_BUFFER;
	cfg->reconnect_interval = 30;
	cfg->tcp_ping = true;
	cfg->lifeguard = true;
	cfg->lha_probe = true;
	cfg->lha_suspicion = true;
	cfg->buddy_system = true;
	cfg->nack = true;
	cfg->compression = true;
	cfg->verify_incoming = true;
	cfg->verify_outgoing = true;
	cfg->serf_compat = true;
	cfg->max_members = NC_GOSSIP_MAX_MEMBERS_DEFAULT;
	if (profile == NC_GOSSIP_PROFILE_WAN) {
		cfg->tcp_timeout = 30;
		cfg->suspicion_mult = 6;
		cfg->pushpull_interval = 60;
		cfg->probe_timeout = 3;
		cfg->probe_interval = 5;
		cfg->gossip_nodes = 4;
		cfg->gossip_interval = 0.5;
		cfg->gossip_to_the_dead_time = 60;
	} else if (profile == NC_GOSSIP_PROFILE_LOCAL) {
		cfg->tcp_timeout = 1;
		cfg->indirect_checks = 1;
		cfg->retransmit_mult = 2;
		cfg->suspicion_mult = 3;
		cfg->pushpull_interval = 15;
		cfg->probe_timeout = 0.2;
		cfg->gossip_interval = 0.1;
		cfg->gossip_to_the_dead_time = 15;
	}
}

int
nc_gossip_profile_parse(const char *s, enum nc_gossip_profile *out)
{
	if (s == NULL)
		return -EINVAL;
	if (strcmp(s, "lan") == 0)
		*out = NC_GOSSIP_PROFILE_LAN;
	else if (strcmp(s, "wan") == 0)
		*out = NC_GOSSIP_PROFILE_WAN;
	else if (strcmp(s, "local") == 0)
		*out = NC_GOSSIP_PROFILE_LOCAL;
	else
		return -EINVAL;
	return 0;
}

static int
config_check(const struct nc_gossip_config *c, char *err, size_t cap)
{
	const char *why = NULL;
	size_t nlen = strnlen(c->name, sizeof(c->name));

	if (nlen == 0 || nlen > NC_GOSSIP_NAME_MAX)
		why = "name is empty or too long";
	else if (nc_gossip_name_check(c->name, nlen) != NC_GOSSIP_NAME_OK)
		why = "name has control characters or invalid UTF-8";
	else if (c->advertise.family != 4 && c->advertise.family != 6)
		why = "advertise address missing";
	else if (c->meta_len > NC_GOSSIP_META_MAX)
		why = "meta longer than 512 bytes";
	else if (c->vsn[0] == 0 || c->vsn[1] < c->vsn[0] ||
		 c->vsn[2] < c->vsn[0] || c->vsn[2] > c->vsn[1] ||
		 c->vsn[5] < c->vsn[3] || c->vsn[5] > c->vsn[4])
		why = "invalid vsn";
	else if (!(c->probe_interval > 0) || !(c->probe_timeout > 0) ||
		 !(c->gossip_interval > 0) || !(c->pushpull_interval > 0) ||
		 !(c->tcp_timeout > 0) || c->gossip_to_the_dead_time < 0 ||
		 c->reconnect_interval < 0)
		why = "intervals must be positive";
	else if (c->indirect_checks < 0 || c->indirect_checks > 16 ||
		 c->gossip_nodes < 0 || c->gossip_nodes > 64 ||
		 c->suspicion_mult < 1 || c->suspicion_max_timeout_mult < 1 ||
		 c->retransmit_mult < 1 || c->awareness_max_multiplier < 1)
		why = "counts out of range";
	else if (c->udp_buffer_size < 128 ||
		 c->udp_buffer_size > NC__UDP_BUFFER_MAX)
		why = "udp_buffer_size out of range [128, 8192]";
	if (why == NULL)
		return 0;
	if (err != NULL && cap > 0)
		snprintf(err, cap, "%s", why);
	return -EINVAL;
}

/* ------------------------------------------------------------------ */
/* Helpers                                                            */
/* ------------------------------------------------------------------ */

static struct nc_proto_str
proto_str(const void *p, size_t len)
{
	struct nc_proto_str s = {.data = p, .len = (uint32_t)len};
	return s;
}

static bool
encrypting(const struct nc_gossip *g)
{
	return g->cfg.keyring != NULL && g->cfg.verify_outgoing &&
	       nc_crypto_keyring_count(g->cfg.keyring) > 0;
}

int
nc__transmit_limit(const struct nc_gossip *g)
{
	return nc__bq_transmit_limit(g->cfg.retransmit_mult, g->n_nodes);
}

void
nc__broadcast(struct nc_gossip *g, const char *node, const char *msg,
	      size_t len, nc__bcast_done_cb done, void *arg)
{
	if (nc__bq_push(&g->bq, node, msg, len, done, arg) == 0)
		g->stats.broadcasts_queued++;
	else if (done != NULL)
		done(arg, false);
}

/** Fill the ping fields that name us. */
static void
ping_self(struct nc_gossip *g, struct nc_proto_ping *p)
{
	p->source_addr =
	    proto_str(g->cfg.advertise.ip, nc_addr_ip_len(&g->cfg.advertise));
	p->source_port = g->cfg.advertise.port;
	p->source_node = nc_proto_cstr(g->self->pub.name);
}

/** The address a ping/indirect request asks us to answer to. */
static void
reply_addr(struct nc_gossip *g, struct nc_proto_str ip, uint16_t port,
	   struct nc_addr *out)
{
	if ((ip.len == 4 || ip.len == 16) && port > 0) {
		memset(out, 0, sizeof(*out));
		out->family = ip.len == 4 ? 4 : 6;
		memcpy(out->ip, ip.data, ip.len);
		out->port = port;
	} else {
		*out = g->rx_from;
	}
}

/* ------------------------------------------------------------------ */
/* Sending                                                            */
/* ------------------------------------------------------------------ */

/** nc__send_raw() with the CRC decision made by the caller. */
static int
send_datagram(struct nc_gossip *g, const struct nc_addr *to, bool crc,
	      const char *msg, size_t len)
{
	const char *p = msg;
	size_t plen = len;
	int rc;

	if (g->cfg.compression) {
		rc = nc_proto_encode_compress(g->buf_cmp, NC__TX_BUF, p, plen);
		if (rc > 0 && (size_t)rc < plen) {
			p = g->buf_cmp;
			plen = (size_t)rc;
		}
	}
	if (crc) {
		rc = nc_proto_encode_crc(g->buf_crc, NC__TX_BUF, p, plen);
		if (rc < 0)
			return rc;
		p = g->buf_crc;
		plen = (size_t)rc;
	}
	if (encrypting(g)) {
		rc = nc_crypto_packet_encrypt(g->cfg.keyring,
					      NC_CRYPTO_VERSION_DEFAULT, p,
					      plen, g->buf_enc, NC__TX_BUF);
		if (rc < 0)
			return rc;
		p = g->buf_enc;
		plen = (size_t)rc;
	}
	g->stats.packets_out++;
	g->stats.bytes_out += plen;
	/* The probe RTT starts here: after encoding, right before the
	 * datagram is handed to the env (§6.3). */
	g->last_send_time = nc_env_now(g->env);
	return g->env->ops->send_packet(g->env, to, p, plen);
}

int
nc__send_raw(struct nc_gossip *g, const struct nc_addr *to,
	     const struct nc__member *node, const char *msg, size_t len)
{
	return send_datagram(g, to, node != NULL && node->pub.vsn[1] >= 5, msg,
			     len);
}

/**
 * Collect broadcasts (ours, then the user's) into parts[1..] for a packet
 * whose room is @a room. Returns the number of parts added.
 */
static size_t
collect_broadcasts(struct nc_gossip *g, const struct nc__member *to,
		   size_t room, struct nc_proto_str *parts, size_t max)
{
	size_t n, used = 0;

	if (room <= NC_PROTO_COMPOUND_PART || max == 0)
		return 0;
	n = nc__bq_take(&g->bq, nc__transmit_limit(g),
			NC_PROTO_COMPOUND_PART, room, g->buf_bc, NC__TX_BUF,
			parts, max);
	g->stats.broadcasts_sent += n;
	for (size_t i = 0; i < n; i++)
		used += parts[i].len + NC_PROTO_COMPOUND_PART;
	/* Offer what is left to the layer above, one user message per
	 * call, until it has nothing more or the packet is full (memberlist
	 * fills the packet with the delegate's broadcasts the same way);
	 * a full packet is announced by a last call with cap 0. */
	bool ended = g->hooks.user_broadcast == NULL;
	char *dst = g->buf_bc;
	while (!ended && n < max && room > used + NC_PROTO_COMPOUND_PART + 2) {
		size_t off = 0, cap;
		for (size_t i = 0; i < n; i++)
			off += parts[i].len;
		cap = room - used - NC_PROTO_COMPOUND_PART - 1;
		if (off + 1 + cap > NC__TX_BUF)
			break;
		dst = g->buf_bc + off;
		size_t ulen = g->hooks.user_broadcast(
			g->hooks.ctx, to != NULL ? &to->pub : NULL, dst + 1,
			cap);
		if (ulen == 0 || ulen > cap) {
			ended = true;
			break;
		}
		dst[0] = NC_PROTO_USER;
		parts[n++] = proto_str(dst, ulen + 1);
		used += ulen + 1 + NC_PROTO_COMPOUND_PART;
	}
	if (!ended)
		g->hooks.user_broadcast(g->hooks.ctx,
					to != NULL ? &to->pub : NULL, dst, 0);
	return n;
}

/**
 * Send @a msg to @a to with as many broadcasts piggy-backed as fit
 * (memberlist's sendMsg). No CRC: memberlist's lookup by address never
 * finds the node on this path (§1.4).
 */
static int
send_msg(struct nc_gossip *g, const struct nc_addr *to, const char *msg,
	 size_t len)
{
	struct nc_proto_str parts[NC_PROTO_COMPOUND_MAX_PARTS];
	size_t room, n;
	int clen;

	room = g->cfg.udp_buffer_size;
	if (len + NC_PROTO_COMPOUND_HEADER >= room)
		return nc__send_raw(g, to, NULL, msg, len);
	room -= len + NC_PROTO_COMPOUND_HEADER;
	if (encrypting(g))
		room = room > NC_CRYPTO_OVERHEAD ? room - NC_CRYPTO_OVERHEAD
						 : 0;
	parts[0] = proto_str(msg, len);
	n = collect_broadcasts(g, NULL, room, parts + 1,
			       NC_PROTO_COMPOUND_MAX_PARTS - 1);
	if (n == 0)
		return nc__send_raw(g, to, NULL, msg, len);
	clen = nc_proto_encode_compound(g->buf_cpd, NC__TX_BUF, parts,
					(unsigned)n + 1);
	if (clen < 0)
		return nc__send_raw(g, to, NULL, msg, len);
	return nc__send_raw(g, to, NULL, g->buf_cpd, (size_t)clen);
}

/* ------------------------------------------------------------------ */
/* Random member selection (memberlist's kRandomNodes)                 */
/* ------------------------------------------------------------------ */

enum pick {
	NC_PICK_HELPER,	/* alive, not self, not the target */
	NC_PICK_GOSSIP,	/* alive/suspect or recently dead, not self */
	NC_PICK_ALIVE,	/* alive, not self */
};

static bool
pick_ok(struct nc_gossip *g, const struct nc__member *m, enum pick k,
	const struct nc__member *exclude, double now)
{
	if (m == g->self || m == exclude)
		return false;
	switch (k) {
	case NC_PICK_HELPER:
	case NC_PICK_ALIVE:
		return m->pub.state == NC_MEMBER_ALIVE;
	case NC_PICK_GOSSIP:
		if (m->pub.state == NC_MEMBER_ALIVE ||
		    m->pub.state == NC_MEMBER_SUSPECT)
			return true;
		return m->pub.state == NC_MEMBER_DEAD &&
		       now - m->pub.state_change <=
			       g->cfg.gossip_to_the_dead_time;
	}
	return false;
}

/** Up to @a k distinct random members passing the filter (3n tries). */
static size_t
pick_random(struct nc_gossip *g, size_t k, enum pick kind,
	    const struct nc__member *exclude, struct nc__member **out)
{
	size_t n = g->n_nodes, got = 0;
	double now = nc_env_now(g->env);

	for (size_t i = 0; i < 3 * n && got < k; i++) {
		struct nc__member *m =
			g->nodes[nc_env_rand_below(g->env, n)];
		bool dup = false;
		if (!pick_ok(g, m, kind, exclude, now))
			continue;
		for (size_t j = 0; j < got; j++)
			dup |= out[j] == m;
		if (!dup)
			out[got++] = m;
	}
	return got;
}

/* ------------------------------------------------------------------ */
/* Probe (§6.3)                                                        */
/* ------------------------------------------------------------------ */

static void probe_round(struct nc_gossip *g);

static double
scaled_interval(const struct nc_gossip *g)
{
	return g->cfg.probe_interval * (g->awareness + 1);
}

/** End the probe; @a delta is the awareness change to apply. */
static void
probe_finish(struct nc_gossip *g, int delta)
{
	struct nc__probe *p = &g->probe;

	g->env->ops->timer_stop(g->env, &p->timeout_timer);
	g->env->ops->timer_stop(g->env, &p->deadline_timer);
	if (p->tcp_id > 0) {
		for (int i = 0; i < NC__OUT_STREAMS_MAX; i++) {
			if (g->out[i].kind == NC__OUT_PING &&
			    g->out[i].id == p->tcp_id) {
				g->env->ops->stream_cancel(g->env, p->tcp_id);
				g->out[i].kind = NC__OUT_FREE;
			}
		}
	}
	p->tcp_id = 0;
	p->active = false;
	p->target = NULL;
	nc__awareness_delta(g, delta);
	if (g->tick_pending) {
		g->tick_pending = false;
		probe_round(g);
	}
}

void
nc__probe_abort(struct nc_gossip *g)
{
	bool pending = g->tick_pending;

	g->tick_pending = false;
	probe_finish(g, 0);
	g->tick_pending = pending;
}

static void
probe_timeout_cb(struct nc_timer *t)
{
	struct nc_gossip *g = t->arg;
	struct nc__probe *p = &g->probe;
	struct nc__member *helpers[16];
	struct nc__member *target = p->target;
	struct nc_proto_indirect_ping ind;
	char buf[NC_GOSSIP_NAME_MAX * 2 + 128];
	size_t n;
	double left;

	if (!p->active)
		return;
	p->direct = false;
	nc_env_logf(g->env, NC_LOG_DEBUG, "memberlist",
		    "Failed ping: %s (timeout reached)", target->pub.name);
	n = pick_random(g, (size_t)g->cfg.indirect_checks, NC_PICK_HELPER,
			target, helpers);
	memset(&ind, 0, sizeof(ind));
	ind.seq_no = p->seq;
	ind.target =
	    proto_str(target->pub.addr.ip, nc_addr_ip_len(&target->pub.addr));
	ind.port = target->pub.addr.port;
	ind.node = nc_proto_cstr(target->pub.name);
	ind.source_addr =
	    proto_str(g->cfg.advertise.ip, nc_addr_ip_len(&g->cfg.advertise));
	ind.source_port = g->cfg.advertise.port;
	ind.source_node = nc_proto_cstr(g->self->pub.name);
	for (size_t i = 0; i < n; i++) {
		int len;
		ind.nack = nc__lifeguard_on(&g->cfg, g->cfg.nack) &&
			   helpers[i]->pub.vsn[1] >= 4;
		if (ind.nack)
			p->expected_nacks++;
		len = nc_proto_encode_indirect_ping(buf, sizeof(buf), &ind);
		if (len > 0) {
			g->stats.indirect_probes++;
			send_msg(g, &helpers[i]->pub.addr, buf, (size_t)len);
		}
	}
	left = p->deadline_timer.deadline - nc_env_now(g->env);
	if (g->cfg.tcp_ping && target->pub.vsn[1] >= 3 && left > 0)
		nc__tcp_ping_start(g, target, p->seq, left);
}

static void
probe_deadline_cb(struct nc_timer *t)
{
	struct nc_gossip *g = t->arg;
	struct nc__probe *p = &g->probe;
	struct nc__member *target = p->target;
	int delta;

	if (!p->active)
		return;
	if (p->tcp_result == NC__TCP_PING_ACKED) {
		nc_env_logf(g->env, NC_LOG_WARN, "memberlist",
			    "Was able to connect to %s but other probes "
			    "failed, network may be misconfigured",
			    target->pub.name);
		probe_finish(g, -1);
		return;
	}
	delta = p->expected_nacks > 0 ? p->expected_nacks - p->nacks : 1;
	if (delta < 0)
		delta = 0;
	g->stats.probe_failures++;
	nc_env_logf(g->env, NC_LOG_INFO, "memberlist",
		    "Suspect %s has failed, no acks received",
		    target->pub.name);
	{
		char name[NC_GOSSIP_NAME_MAX + 1];
		uint32_t inc = p->target_inc;
		snprintf(name, sizeof(name), "%s", target->pub.name);
		nc__handle_suspect(g, inc, name, strlen(name),
				   g->self->pub.name,
				   strlen(g->self->pub.name));
		probe_finish(g, delta);
	}
}

/** Probe @a m (memberlist's probeNode). */
static void
probe_node(struct nc_gossip *g, struct nc__member *m)
{
	struct nc__probe *p = &g->probe;
	struct nc_proto_ping ping;
	char buf[NC_GOSSIP_NAME_MAX * 2 + 128];
	char sbuf[NC_GOSSIP_NAME_MAX * 2 + 64];
	double interval = scaled_interval(g);
	int len, rc;

	memset(&ping, 0, sizeof(ping));
	ping.seq_no = ++g->seq_no;
	ping.node = nc_proto_cstr(m->pub.name);
	ping_self(g, &ping);
	len = nc_proto_encode_ping(buf, sizeof(buf), &ping);
	if (len < 0)
		return;
	p->active = true;
	p->direct = true;
	p->target = m;
	p->target_inc = m->pub.incarnation;
	p->seq = ping.seq_no;
	p->expected_nacks = p->nacks = 0;
	p->tcp_id = 0;
	p->tcp_result = NC__TCP_PING_PENDING;
	g->stats.probes++;
	if (m->pub.state == NC_MEMBER_ALIVE ||
	    !nc__lifeguard_on(&g->cfg, g->cfg.buddy_system)) {
		rc = send_msg(g, &m->pub.addr, buf, (size_t)len);
	} else {
		/* Buddy system (§6.4): ping + suspect in one compound. */
		struct nc_proto_suspect s = {
			.incarnation = m->pub.incarnation,
			.node = nc_proto_cstr(m->pub.name),
			.from = nc_proto_cstr(g->self->pub.name),
		};
		struct nc_proto_str parts[2];
		int slen = nc_proto_encode_suspect(sbuf, sizeof(sbuf), &s);
		int clen;
		parts[0] = proto_str(buf, (size_t)len);
		parts[1] = proto_str(sbuf, slen > 0 ? (size_t)slen : 0);
		clen = nc_proto_encode_compound(g->buf_cpd, NC__TX_BUF, parts,
						slen > 0 ? 2 : 1);
		rc = clen > 0 ? nc__send_raw(g, &m->pub.addr, m, g->buf_cpd,
					     (size_t)clen)
			      : clen;
	}
	p->sent_at = g->last_send_time;
	if (rc < 0) {
		/* Could not even send: no verdict, no awareness change. */
		nc_env_logf(g->env, NC_LOG_ERR, "memberlist",
			    "Failed to send ping to %s: %d", m->pub.name, rc);
		nc__probe_abort(g);
		return;
	}
	g->env->ops->timer_start(g->env, &p->timeout_timer,
				 g->cfg.probe_timeout);
	g->env->ops->timer_start(g->env, &p->deadline_timer, interval);
}

/** Pick the next member to probe (memberlist's probe()). */
static void
probe_round(struct nc_gossip *g)
{
	size_t checks = 0;

	if (g->probe.active)
		return;
	for (;;) {
		struct nc__member *m;
		if (checks >= g->n_nodes)
			return;
		if (g->probe_index >= g->n_nodes) {
			nc__members_reset(g);
			g->probe_index = 0;
			checks++;
			continue;
		}
		m = g->nodes[g->probe_index++];
		if (m == g->self || m->pub.state == NC_MEMBER_DEAD ||
		    m->pub.state == NC_MEMBER_LEFT) {
			checks++;
			continue;
		}
		probe_node(g, m);
		return;
	}
}

static void
probe_tick_cb(struct nc_timer *t)
{
	struct nc_gossip *g = t->arg;

	g->env->ops->timer_start(g->env, &g->probe_timer,
				 g->cfg.probe_interval);
	if (g->probe.active) {
		g->tick_pending = true;
		return;
	}
	probe_round(g);
}

/* ------------------------------------------------------------------ */
/* Helper side of indirect probes                                      */
/* ------------------------------------------------------------------ */

static void
relay_timer_cb(struct nc_timer *t)
{
	struct nc__relay *r = t->arg;
	struct nc_gossip *g = r->g;
	char buf[64];
	int len;

	r->used = false;
	if (!r->nack)
		return;
	{
		struct nc_proto_nack n = {.seq_no = r->req_seq};
		len = nc_proto_encode_nack(buf, sizeof(buf), &n);
	}
	if (len > 0) {
		g->stats.nacks_sent++;
		send_msg(g, &r->reply_to, buf, (size_t)len);
	}
}

static void
handle_indirect(struct nc_gossip *g, const struct nc_proto_indirect_ping *in)
{
	struct nc__relay *r = NULL;
	struct nc_proto_ping ping;
	char buf[NC_GOSSIP_NAME_MAX * 2 + 128];
	struct nc_addr target;
	int len;

	if (in->target.len != 4 && in->target.len != 16) {
		g->stats.drop_decode++;
		return;
	}
	for (int i = 0; i < NC__RELAY_MAX; i++) {
		if (!g->relays[i].used) {
			r = &g->relays[i];
			break;
		}
	}
	if (r == NULL) {
		g->stats.drop_other++;
		return;
	}
	memset(&target, 0, sizeof(target));
	target.family = in->target.len == 4 ? 4 : 6;
	memcpy(target.ip, in->target.data, in->target.len);
	target.port = in->port != 0 ? in->port : g->cfg.advertise.port;
	memset(&ping, 0, sizeof(ping));
	ping.seq_no = ++g->seq_no;
	ping.node = in->node;
	ping_self(g, &ping);
	len = nc_proto_encode_ping(buf, sizeof(buf), &ping);
	if (len < 0)
		return;
	r->used = true;
	r->g = g;
	r->our_seq = ping.seq_no;
	r->req_seq = in->seq_no;
	r->nack = in->nack;
	reply_addr(g, in->source_addr, in->source_port, &r->reply_to);
	nc_timer_init(&r->timer, relay_timer_cb, r);
	g->env->ops->timer_start(g->env, &r->timer, g->cfg.probe_timeout);
	send_msg(g, &target, buf, (size_t)len);
}

/* ------------------------------------------------------------------ */
/* Receiving                                                           */
/* ------------------------------------------------------------------ */

/** Why an inbound packet or message was dropped: its bit in drop_logged. */
enum drop_reason {
	DROP_UNKNOWN_MSG_TYPE,
	DROP_UNDECODABLE_MSG,
	DROP_DECRYPT_FAILED,
	DROP_BAD_CRC,
	DROP_MALFORMED_PACKET,
	DROP_DECOMPRESS_BUDGET,
};

/**
 * Count a dropped inbound packet/message and log the first drop of each
 * reason only (per-packet events are counters, STYLE.md §7).
 */
static void
count_drop(struct nc_gossip *g, uint64_t *counter, enum drop_reason reason,
	   const char *what, int err)
{
	(*counter)++;
	if (g->drop_logged & (1u << reason))
		return;
	g->drop_logged |= 1u << reason;
	nc_env_logf(g->env, NC_LOG_WARN, "memberlist",
		    "dropping %s: %s (logged once; see stats)", what,
		    nc_proto_strerror(err));
}

static void
handle_ping(struct nc_gossip *g, const struct nc_proto_ping *ping)
{
	char payload[NC__ACK_PAYLOAD_MAX];
	struct nc_proto_ack ack;
	struct nc_addr to;
	size_t plen = 0;
	int len;

	if (ping->node.len > 0 &&
	    (ping->node.len != g->self->name_len ||
	     memcmp(ping->node.data, g->self->pub.name, ping->node.len) != 0)) {
		char esc[NC_GOSSIP_NAME_MAX + 16];
		nc_env_logf(g->env, NC_LOG_DEBUG, "memberlist",
			    "Got ping for unexpected node '%s'",
			    nc_gossip_name_escape(ping->node.data,
						  ping->node.len, esc,
						  sizeof(esc)));
		g->stats.drop_other++;
		return;
	}
	if (g->hooks.ack_payload != NULL) {
		plen = g->hooks.ack_payload(g->hooks.ctx, payload,
					    sizeof(payload));
		if (plen > sizeof(payload))
			plen = 0;
	}
	ack.seq_no = ping->seq_no;
	ack.payload = proto_str(payload, plen);
	len = nc_proto_encode_ack(g->buf_msg, NC__TX_BUF, &ack);
	if (len < 0)
		return;
	reply_addr(g, ping->source_addr, ping->source_port, &to);
	g->stats.acks_sent++;
	send_msg(g, &to, g->buf_msg, (size_t)len);
}

/* ------------------------------------------------------------------ */
/* Direct pings on request (nc_gossip_ping)                            */
/* ------------------------------------------------------------------ */

static void
uping_free(struct nc__uping *u)
{
	u->g->env->ops->timer_stop(u->g->env, &u->timer);
	u->used = false;
	u->g->n_upings--;
}

static void
uping_timeout_cb(struct nc_timer *t)
{
	struct nc__uping *u = t->arg;
	nc_gossip_ping_cb cb = u->cb;
	void *arg = u->arg;

	uping_free(u);
	cb(arg, NAN, NULL, 0);
}

/** An ack for one of our requested pings? Then report it. */
static bool
uping_ack(struct nc_gossip *g, const struct nc_proto_ack *ack)
{
	for (size_t i = 0; i < NC_GOSSIP_PINGS_MAX; i++) {
		struct nc__uping *u = &g->upings[i];
		if (!u->used || u->seq != ack->seq_no)
			continue;
		double rtt = g->rx_time - u->sent_at;
		nc_gossip_ping_cb cb = u->cb;
		void *arg = u->arg;
		uping_free(u);
		g->stats.user_ping_acks++;
		cb(arg, rtt < 0 ? 0 : rtt, ack->payload.data, ack->payload.len);
		return true;
	}
	return false;
}

int
nc_gossip_ping(struct nc_gossip *g, const char *name, double timeout_s,
	       nc_gossip_ping_cb cb, void *arg)
{
	struct nc__uping *u = NULL;
	struct nc_proto_ping ping;
	char buf[NC_GOSSIP_NAME_MAX * 2 + 128];
	const struct nc_gossip_member *pm;
	struct nc__member *m;
	int len;

	if (cb == NULL || !(timeout_s > 0 && timeout_s <= 10.0))
		return -EINVAL;
	pm = nc_gossip_member_find(g, name);
	if (pm == NULL || pm->is_self)
		return -ENOENT;
	m = (struct nc__member *)pm; /* pub is the first field */
	if (g->upings == NULL) {
		g->upings = calloc(NC_GOSSIP_PINGS_MAX, sizeof(*g->upings));
		if (g->upings == NULL)
			return -ENOMEM;
		for (size_t i = 0; i < NC_GOSSIP_PINGS_MAX; i++)
			nc_timer_init(&g->upings[i].timer, uping_timeout_cb,
				      &g->upings[i]);
	}
	for (size_t i = 0; i < NC_GOSSIP_PINGS_MAX && u == NULL; i++)
		if (!g->upings[i].used)
			u = &g->upings[i];
	if (u == NULL)
		return -EBUSY;
	memset(&ping, 0, sizeof(ping));
	ping.seq_no = ++g->seq_no;
	ping.node = nc_proto_cstr(m->pub.name);
	ping_self(g, &ping);
	len = nc_proto_encode_ping(buf, sizeof(buf), &ping);
	if (len < 0)
		return -EINVAL;
	u->used = true;
	u->g = g;
	u->seq = ping.seq_no;
	u->cb = cb;
	u->arg = arg;
	g->n_upings++;
	g->stats.user_pings++;
	/* A send error is reported as no answer, at the timeout. */
	(void)send_msg(g, &m->pub.addr, buf, (size_t)len);
	u->sent_at = g->last_send_time;
	g->env->ops->timer_start(g->env, &u->timer, timeout_s);
	return 0;
}

size_t
nc_gossip_ping_cancel(struct nc_gossip *g, void *arg)
{
	size_t n = 0;
	for (size_t i = 0; g->upings != NULL && i < NC_GOSSIP_PINGS_MAX;
	     i++) {
		if (g->upings[i].used && g->upings[i].arg == arg) {
			uping_free(&g->upings[i]);
			n++;
		}
	}
	return n;
}

static void
handle_ack(struct nc_gossip *g, const struct nc_proto_ack *ack)
{
	struct nc__probe *p = &g->probe;

	if (p->active && ack->seq_no == p->seq) {
		double rtt = g->rx_time - p->sent_at;
		if (p->direct && rtt <= g->cfg.probe_timeout &&
		    g->hooks.probe_done != NULL)
			g->hooks.probe_done(g->hooks.ctx, &p->target->pub,
					    rtt < 0 ? 0 : rtt,
					    ack->payload.data,
					    ack->payload.len);
		probe_finish(g, -1);
		return;
	}
	for (int i = 0; i < NC__RELAY_MAX; i++) {
		struct nc__relay *r = &g->relays[i];
		if (r->used && r->our_seq == ack->seq_no) {
			struct nc_proto_ack fwd = {.seq_no = r->req_seq};
			char buf[64];
			int len = nc_proto_encode_ack(buf, sizeof(buf), &fwd);
			g->env->ops->timer_stop(g->env, &r->timer);
			r->used = false;
			if (len > 0) {
				g->stats.acks_sent++;
				send_msg(g, &r->reply_to, buf, (size_t)len);
			}
			return;
		}
	}
	if (g->n_upings > 0 && uping_ack(g, ack))
		return;
	/* Unknown SeqNo (late ack): ignored, as memberlist does. */
}

static void
handle_user(struct nc_gossip *g, const char *body, const char *end)
{
	if (g->cfg.serf_compat && end > body) {
		uint8_t t = (uint8_t)body[0];
		if (t == NC_PROTO_SERF_LEAVE || t == NC_PROTO_SERF_JOIN ||
		    t == NC_PROTO_SERF_USER_EVENT || t == NC_PROTO_SERF_QUERY ||
		    t == NC_PROTO_SERF_QUERY_RESPONSE) {
			const char *pos = body + 1;
			uint64_t lt = 0;
			if (nc_proto_decode_serf_ltime(&pos, end, &lt) == 0 &&
			    lt > g->serf_ltime && lt < UINT64_MAX / 2)
				g->serf_ltime = lt;
		}
	}
	if (g->hooks.user_msg != NULL)
		g->hooks.user_msg(g->hooks.ctx, body, (size_t)(end - body));
}

/** nc_proto_packet_walk callback: one leaf message. */
static void
walk_cb(void *ctx, uint8_t type, const char *body, const char *end)
{
	struct nc_gossip *g = ctx;
	const char *pos = body;
	int rc = 0;

	switch (type) {
	case NC_PROTO_PING: {
		struct nc_proto_ping m;
		if ((rc = nc_proto_decode_ping(&pos, end, &m)) == 0)
			handle_ping(g, &m);
		break;
	}
	case NC_PROTO_INDIRECT_PING: {
		struct nc_proto_indirect_ping m;
		if ((rc = nc_proto_decode_indirect_ping(&pos, end, &m)) == 0)
			handle_indirect(g, &m);
		break;
	}
	case NC_PROTO_ACK: {
		struct nc_proto_ack m;
		if ((rc = nc_proto_decode_ack(&pos, end, &m)) == 0)
			handle_ack(g, &m);
		break;
	}
	case NC_PROTO_NACK: {
		struct nc_proto_nack m;
		if ((rc = nc_proto_decode_nack(&pos, end, &m)) == 0 &&
		    g->probe.active && m.seq_no == g->probe.seq)
			g->probe.nacks++;
		break;
	}
	case NC_PROTO_SUSPECT: {
		struct nc_proto_suspect m;
		if ((rc = nc_proto_decode_suspect(&pos, end, &m)) == 0)
			nc__handle_suspect(g, m.incarnation, m.node.data,
					   m.node.len, m.from.data,
					   m.from.len);
		break;
	}
	case NC_PROTO_ALIVE: {
		struct nc_proto_alive m;
		if ((rc = nc_proto_decode_alive(&pos, end, &m)) == 0)
			nc__handle_alive(g, &m, false);
		break;
	}
	case NC_PROTO_DEAD: {
		struct nc_proto_dead m;
		if ((rc = nc_proto_decode_dead(&pos, end, &m)) == 0)
			nc__handle_dead(g, m.incarnation, m.node.data,
					m.node.len, m.from.data, m.from.len);
		break;
	}
	case NC_PROTO_USER:
		handle_user(g, body, end);
		break;
	default:
		count_drop(g, &g->stats.drop_type, DROP_UNKNOWN_MSG_TYPE,
			   "unsupported msg type", NC_PROTO_ETYPE);
		return;
	}
	if (rc < 0)
		count_drop(g, &g->stats.drop_decode, DROP_UNDECODABLE_MSG,
			   "undecodable message", rc);
}

static void
on_packet(void *ctx, const struct nc_addr *from, const char *buf, size_t len,
	  double rx_time)
{
	struct nc_gossip *g = ctx;
	const char *p = buf;
	size_t plen = len;
	int rc;

	g->stats.packets_in++;
	g->stats.bytes_in += len;
	if (len == 0 || len > NC_PROTO_MAX_PACKET) {
		g->stats.drop_other++;
		return;
	}
	if (g->cfg.keyring != NULL &&
	    nc_crypto_keyring_count(g->cfg.keyring) > 0) {
		rc = nc_crypto_packet_decrypt(g->cfg.keyring, buf, len,
					      g->buf_rx, NC__PKT_BUF, NULL);
		if (rc >= 0) {
			p = g->buf_rx;
			plen = (size_t)rc;
		} else if (g->cfg.verify_incoming) {
			count_drop(g, &g->stats.drop_decrypt,
				   DROP_DECRYPT_FAILED,
				   "packet (decrypt failed)", rc);
			return;
		}
		if (plen == 0) {
			g->stats.drop_other++;
			return;
		}
	}
	g->rx_from = *from;
	g->rx_time = rx_time;
	rc = nc_proto_packet_walk(p, plen, g->buf_walk, NC__PKT_BUF,
				  walk_cb, g);
	if (rc == NC_PROTO_ECRC)
		count_drop(g, &g->stats.drop_crc, DROP_BAD_CRC,
			   "packet (bad CRC)", rc);
	else if (rc == NC_PROTO_ETOOBIG)
		count_drop(g, &g->stats.drop_decompress,
			   DROP_DECOMPRESS_BUDGET,
			   "packet (decompression budget of "
			   "NC_PROTO_MAX_PACKET_DECOMPRESSED bytes exceeded)",
			   rc);
	else if (rc < 0)
		count_drop(g, &g->stats.drop_decode, DROP_MALFORMED_PACKET,
			   "malformed packet", rc);
}

/* ------------------------------------------------------------------ */
/* Gossip (§6.8)                                                        */
/* ------------------------------------------------------------------ */

static void
gossip_tick_cb(struct nc_timer *t)
{
	struct nc_gossip *g = t->arg;
	struct nc__member *targets[64];
	struct nc_proto_str parts[NC_PROTO_COMPOUND_MAX_PARTS];
	size_t k, room;

	g->env->ops->timer_start(g->env, &g->gossip_timer,
				 g->cfg.gossip_interval);
	if (nc__bq_count(&g->bq) == 0 && g->hooks.user_broadcast == NULL)
		return;
	k = pick_random(g, (size_t)g->cfg.gossip_nodes, NC_PICK_GOSSIP, NULL,
			targets);
	room = g->cfg.udp_buffer_size - NC_PROTO_COMPOUND_HEADER;
	if (encrypting(g))
		room -= NC_CRYPTO_OVERHEAD;
	for (size_t i = 0; i < k; i++) {
		size_t n = collect_broadcasts(g, targets[i], room, parts,
					      NC_PROTO_COMPOUND_MAX_PARTS);
		int clen;
		if (n == 0)
			return;
		if (n == 1) {
			nc__send_raw(g, &targets[i]->pub.addr, targets[i],
				     parts[0].data, parts[0].len);
			continue;
		}
		clen = nc_proto_encode_compound(g->buf_cpd, NC__TX_BUF, parts,
						(unsigned)n);
		if (clen > 0)
			nc__send_raw(g, &targets[i]->pub.addr, targets[i],
				     g->buf_cpd, (size_t)clen);
	}
}

/* ------------------------------------------------------------------ */
/* Failed members and serf's reconnect                                 */
/* ------------------------------------------------------------------ */

void
nc__failed_add(struct nc_gossip *g, const struct nc__member *m)
{
	size_t i;

	if (g->cfg.reconnect_interval <= 0)
		return;
	for (i = 0; i < g->n_failed; i++)
		if (strcmp(g->failed[i].name, m->pub.name) == 0)
			break;
	if (i == g->n_failed && g->n_failed == g->cap_failed &&
	    g->cap_failed < NC__FAILED_MAX) {
		size_t cap = g->cap_failed ? 2 * g->cap_failed : 8;
		struct nc__failed *f = realloc(g->failed, cap * sizeof(*f));
		if (f != NULL) {
			g->failed = f;
			g->cap_failed = cap;
		}
	}
	if (i == g->n_failed) {
		if (g->n_failed == g->cap_failed) {
			if (g->n_failed == 0)
				return; /* out of memory: no reconnects */
			/* Forget the oldest. */
			memmove(&g->failed[0], &g->failed[1],
				(g->n_failed - 1) * sizeof(g->failed[0]));
			g->n_failed--;
		}
		i = g->n_failed++;
	}
	snprintf(g->failed[i].name, sizeof(g->failed[i].name), "%s",
		 m->pub.name);
	g->failed[i].addr = m->pub.addr;
	g->failed[i].failed_at = nc_env_now(g->env);
}

void
nc__failed_remove(struct nc_gossip *g, const char *name)
{
	for (size_t i = 0; i < g->n_failed; i++) {
		if (strcmp(g->failed[i].name, name) == 0) {
			g->failed[i] = g->failed[--g->n_failed];
			return;
		}
	}
}

static void
reconnect_cb(struct nc_timer *t)
{
	struct nc_gossip *g = t->arg;
	double now = nc_env_now(g->env), alive, prob;
	size_t i = 0;

	g->env->ops->timer_start(g->env, &g->reconnect_timer,
				 g->cfg.reconnect_interval);
	while (i < g->n_failed) {
		if (now - g->failed[i].failed_at > NC__RECONNECT_TIMEOUT)
			g->failed[i] = g->failed[--g->n_failed];
		else
			i++;
	}
	if (g->n_failed == 0 || g->leaving)
		return;
	/* Serf: try with probability failed / alive, i.e. about one try per
	 * failed member per interval across the cluster. */
	alive = (double)nc__members_count_state(g, NC_MEMBER_ALIVE);
	if (alive < 1)
		alive = 1;
	prob = (double)g->n_failed / alive;
	if (nc_env_rand_double(g->env) > prob)
		return;
	i = (size_t)nc_env_rand_below(g->env, g->n_failed);
	nc__pushpull_start(g, &g->failed[i].addr, true, NULL);
}

static void
pushpull_tick_cb(struct nc_timer *t)
{
	struct nc_gossip *g = t->arg;
	struct nc__member *m;

	g->env->ops->timer_start(g->env, &g->pushpull_timer,
				 nc__pushpull_scaled(g));
	if (pick_random(g, 1, NC_PICK_ALIVE, NULL, &m) == 1)
		nc__pushpull_start(g, &m->pub.addr, false, NULL);
}

/* ------------------------------------------------------------------ */
/* Leave (§6.10, §7.4)                                                  */
/* ------------------------------------------------------------------ */

static bool
any_other_alive(const struct nc_gossip *g)
{
	for (size_t i = 0; i < g->n_nodes; i++) {
		const struct nc__member *m = g->nodes[i];
		if (m != g->self && (m->pub.state == NC_MEMBER_ALIVE ||
				     m->pub.state == NC_MEMBER_SUSPECT))
			return true;
	}
	return false;
}

/*
 * Graceful leave. Phase 1: serf's leave intent (serf_compat, others
 * alive); phase 2: dead{self, From: self}. Each phase's message is queued
 * for gossip (which reaches random members, maybe recently dead ones) and
 * also sent directly to every member alive when the phase begins, in
 * batches (NC__LEAVE_DIRECT_BATCH): a serf that sees the dead without the
 * intent records "failed" instead of "left". Phase 2's direct datagram is
 * a compound of the intent and the dead, in that order, so a member that
 * missed phase 1's datagram still gets them in order. A phase ends when
 * its broadcast has left the queue and its direct sends are out, or after
 * the leave timeout.
 */

static void leave_direct_cb(struct nc_timer *t);

static void
leave_direct_stop(struct nc_gossip *g)
{
	g->env->ops->timer_stop(g->env, &g->leave_direct_timer);
	free(g->leave_to);
	g->leave_to = NULL;
	g->leave_to_n = g->leave_to_next = 0;
}

/** Next phase from the leave timer once this one is complete. */
static void
leave_check(struct nc_gossip *g)
{
	/* Never touch the queue from inside it: continue from a timer. */
	if ((g->leave_phase == NC__LEAVE_INTENT ||
	     g->leave_phase == NC__LEAVE_DEAD) &&
	    g->leave_bcast_done && g->leave_to == NULL)
		g->env->ops->timer_start(g->env, &g->leave_timer, 0);
}

/** Broadcast done for the leave intent or our own dead. */
static void
leave_bcast_done_cb(void *arg, bool sent)
{
	struct nc_gossip *g = arg;

	(void)sent;
	g->leave_bcast_done = true;
	leave_check(g);
}

void
nc__leave_dead_done(void *arg, bool sent)
{
	leave_bcast_done_cb(arg, sent);
}

/** Send the next batch of direct leave datagrams. */
static void
leave_direct_batch(struct nc_gossip *g)
{
	size_t end = g->leave_to_next + NC__LEAVE_DIRECT_BATCH;

	if (end > g->leave_to_n)
		end = g->leave_to_n;
	for (; g->leave_to_next < end; g->leave_to_next++) {
		const struct nc__leave_target *d =
		    &g->leave_to[g->leave_to_next];
		(void)send_datagram(g, &d->addr, d->crc, g->leave_msg,
				    g->leave_msg_len);
	}
	if (g->leave_to_next < g->leave_to_n) {
		g->env->ops->timer_start(g->env, &g->leave_direct_timer,
					 NC__LEAVE_DIRECT_GAP);
		return;
	}
	leave_direct_stop(g);
	leave_check(g);
}

static void
leave_direct_cb(struct nc_timer *t)
{
	leave_direct_batch(t->arg);
}

/**
 * Send @a msg directly to every other member alive or suspect now, the
 * first batch at once. Out of memory: gossip alone carries it.
 */
static void
leave_direct_start(struct nc_gossip *g, const char *msg, size_t len)
{
	size_t n = 0;

	leave_direct_stop(g);
	if (len == 0 || len > sizeof(g->leave_msg))
		return;
	for (size_t i = 0; i < g->n_nodes; i++) {
		const struct nc__member *m = g->nodes[i];
		n += m != g->self && (m->pub.state == NC_MEMBER_ALIVE ||
				      m->pub.state == NC_MEMBER_SUSPECT);
	}
	if (n == 0)
		return;
	g->leave_to = malloc(n * sizeof(*g->leave_to));
	if (g->leave_to == NULL)
		return;
	for (size_t i = 0; i < g->n_nodes; i++) {
		const struct nc__member *m = g->nodes[i];
		if (m == g->self || (m->pub.state != NC_MEMBER_ALIVE &&
				     m->pub.state != NC_MEMBER_SUSPECT))
			continue;
		g->leave_to[g->leave_to_n].addr = m->pub.addr;
		g->leave_to[g->leave_to_n].crc = m->pub.vsn[1] >= 5;
		g->leave_to_n++;
	}
	memcpy(g->leave_msg, msg, len);
	g->leave_msg_len = len;
	leave_direct_batch(g);
}

static void
leave_finish(struct nc_gossip *g)
{
	g->leave_phase = NC__LEAVE_DONE;
	g->env->ops->timer_stop(g->env, &g->leave_timer);
	leave_direct_stop(g);
	nc_env_logf(g->env, NC_LOG_INFO, "memberlist", "left the cluster");
	if (g->leave_cb != NULL)
		g->leave_cb(g->leave_arg);
}

/** Phase 2: dead{self, self}, broadcast and sent directly. */
static void
leave_dead(struct nc_gossip *g)
{
	bool others = any_other_alive(g);
	const char *self = g->self->pub.name;
	char dead[NC__LEAVE_INTENT_MAX], cpd[NC__LEAVE_MSG_MAX];
	struct nc_proto_dead d = {
	    .incarnation = g->self->pub.incarnation,
	    .node = nc_proto_cstr(self),
	    .from = nc_proto_cstr(self),
	};
	int dlen = nc_proto_encode_dead(dead, sizeof(dead), &d);

	g->leave_phase = NC__LEAVE_DEAD;
	g->leaving = true;
	g->leave_bcast_done = false;
	g->env->ops->timer_start(g->env, &g->leave_timer, g->leave_timeout);
	if (dlen > 0 && others) {
		if (g->leave_intent_len > 0) {
			struct nc_proto_str parts[2] = {
			    proto_str(g->leave_intent, g->leave_intent_len),
			    proto_str(dead, (size_t)dlen),
			};
			int clen = nc_proto_encode_compound(cpd, sizeof(cpd),
							    parts, 2);
			if (clen > 0)
				leave_direct_start(g, cpd, (size_t)clen);
		} else {
			leave_direct_start(g, dead, (size_t)dlen);
		}
	}
	nc__handle_dead(g, g->self->pub.incarnation, self, strlen(self), self,
			strlen(self));
	if (!others && g->leave_phase == NC__LEAVE_DEAD)
		leave_finish(g);
}

static void
leave_timer_cb(struct nc_timer *t)
{
	struct nc_gossip *g = t->arg;

	/* This phase is complete, or the timeout passed. */
	if (g->leave_phase == NC__LEAVE_INTENT)
		leave_dead(g);
	else if (g->leave_phase == NC__LEAVE_DEAD)
		leave_finish(g);
}

int
nc_gossip_leave(struct nc_gossip *g, double timeout, void (*cb)(void *arg),
		void *arg)
{
	if (g == NULL || !(timeout >= 0))
		return -EINVAL;
	if (g->leave_phase != NC__LEAVE_NONE)
		return -EALREADY;
	g->leave_cb = cb;
	g->leave_arg = arg;
	g->leave_timeout = timeout;
	if (g->cfg.serf_compat && any_other_alive(g)) {
		/* Serf leave intent first, so peers mark us left (§7.4). */
		char *buf = g->leave_intent;
		struct nc_proto_serf_leave li = {
			.ltime = ++g->serf_ltime,
			.node = nc_proto_cstr(g->self->pub.name),
			.prune = false,
		};
		int len = nc_proto_encode_serf_leave(
		    buf + 1, sizeof(g->leave_intent) - 1, &li);
		if (len > 0) {
			buf[0] = NC_PROTO_USER;
			g->leave_intent_len = (size_t)len + 1;
			g->leave_phase = NC__LEAVE_INTENT;
			g->leave_bcast_done = false;
			g->env->ops->timer_start(g->env, &g->leave_timer,
						 timeout);
			leave_direct_start(g, buf, g->leave_intent_len);
			nc__broadcast(g, "", buf, g->leave_intent_len,
				      leave_bcast_done_cb, g);
			return 0;
		}
	}
	leave_dead(g);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Lifecycle                                                           */
/* ------------------------------------------------------------------ */

/*
 * Packet buffers (sizes above): a gossip instance uses them only inside
 * one call (encode, send; receive, walk), never across a return to the
 * loop, and sends are asynchronous in every env (the loop's sockets, the
 * simulator's event heap). So the instances of a thread share one set:
 * ~124 KB per agent less in the fleet simulator (10,000 agents, one
 * process), nothing changes for `netcoord agent` (one instance).
 */
static _Thread_local struct {
	char *msg, *bc, *cpd, *cmp, *crc, *enc, *rx, *walk;
	unsigned users;
} bufs;

static void
bufs_free(void)
{
	free(bufs.msg);
	free(bufs.bc);
	free(bufs.cpd);
	free(bufs.cmp);
	free(bufs.crc);
	free(bufs.enc);
	free(bufs.rx);
	free(bufs.walk);
	memset(&bufs, 0, sizeof(bufs));
}

/** Point @a g at the thread's buffers, allocating them for the first. */
static int
bufs_get(struct nc_gossip *g)
{
	if (bufs.users == 0) {
		bufs.msg = malloc(NC__TX_BUF);
		bufs.bc = malloc(NC__TX_BUF);
		bufs.cpd = malloc(NC__TX_BUF);
		bufs.cmp = malloc(NC__TX_BUF);
		bufs.crc = malloc(NC__TX_BUF);
		bufs.enc = malloc(NC__TX_BUF);
		bufs.rx = malloc(NC__PKT_BUF);
		bufs.walk = malloc(NC__PKT_BUF);
		if (bufs.msg == NULL || bufs.bc == NULL || bufs.cpd == NULL ||
		    bufs.cmp == NULL || bufs.crc == NULL || bufs.enc == NULL ||
		    bufs.rx == NULL || bufs.walk == NULL) {
			bufs_free();
			return -ENOMEM;
		}
	}
	bufs.users++;
	g->buf_msg = bufs.msg;
	g->buf_bc = bufs.bc;
	g->buf_cpd = bufs.cpd;
	g->buf_cmp = bufs.cmp;
	g->buf_crc = bufs.crc;
	g->buf_enc = bufs.enc;
	g->buf_rx = bufs.rx;
	g->buf_walk = bufs.walk;
	return 0;
}

static void
bufs_put(struct nc_gossip *g)
{
	if (g->buf_msg == NULL)
		return;
	g->buf_msg = NULL;
	if (--bufs.users == 0)
		bufs_free();
}

struct nc_gossip *
nc_gossip_new(struct nc_env *env, const struct nc_gossip_config *cfg,
	      const struct nc_gossip_hooks *hooks, char *err, size_t err_cap)
{
	struct nc_gossip *g;
	struct nc_env_sink sink;
	struct nc_proto_alive self;

	if (env == NULL || cfg == NULL) {
		if (err != NULL && err_cap > 0)
			snprintf(err, err_cap, "env and cfg are required");
		return NULL;
	}
	if (config_check(cfg, err, err_cap) != 0)
		return NULL;
	g = calloc(1, sizeof(*g));
	if (g == NULL)
		goto nomem;
	g->env = env;
	g->cfg = *cfg;
	g->cfg.name[NC_GOSSIP_NAME_MAX] = '\0';
	g->refuse_logged_at = -INFINITY;
	/* splitmix64 of the instance's address: unknown to a peer under
	 * ASLR, and no draw from env->rand (the simulator's runs keep
	 * their random sequence). */
	uint64_t z = (uint64_t)(uintptr_t)g + 0x9e3779b97f4a7c15ULL;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	g->names_seed = z ^ (z >> 31);
	if (hooks != NULL)
		g->hooks = *hooks;
	if (nc__bq_create(&g->bq, NC__BQ_DEFAULT_CAP) != 0)
		goto nomem;
	if (bufs_get(g) != 0)
		goto nomem;
	nc_timer_init(&g->probe_timer, probe_tick_cb, g);
	nc_timer_init(&g->gossip_timer, gossip_tick_cb, g);
	nc_timer_init(&g->pushpull_timer, pushpull_tick_cb, g);
	nc_timer_init(&g->reconnect_timer, reconnect_cb, g);
	nc_timer_init(&g->leave_timer, leave_timer_cb, g);
	nc_timer_init(&g->leave_direct_timer, leave_direct_cb, g);
	nc_timer_init(&g->merge_timer, nc__merge_timer_cb, g);
	nc_timer_init(&g->probe.timeout_timer, probe_timeout_cb, g);
	nc_timer_init(&g->probe.deadline_timer, probe_deadline_cb, g);
	for (int i = 0; i < NC__RELAY_MAX; i++)
		nc_timer_init(&g->relays[i].timer, relay_timer_cb,
			      &g->relays[i]);
	/* Our own entry: incarnation 1 (an alive with 0 is never accepted
	 * for a new node, §6.6), queued for broadcast like memberlist's
	 * setAlive. */
	memset(&self, 0, sizeof(self));
	self.incarnation = 1;
	self.node = nc_proto_cstr(g->cfg.name);
	self.addr =
	    proto_str(cfg->advertise.ip, nc_addr_ip_len(&cfg->advertise));
	self.port = cfg->advertise.port;
	self.meta = proto_str(cfg->meta, cfg->meta_len);
	self.vsn = proto_str(cfg->vsn, 6);
	nc__handle_alive(g, &self, true);
	if (g->self == NULL)
		goto nomem;
	sink.ctx = g;
	sink.on_packet = on_packet;
	sink.on_stream = nc__on_stream;
	nc_env_set_sink(env, &sink);
	return g;
nomem:
	if (err != NULL && err_cap > 0)
		snprintf(err, err_cap, "out of memory");
	nc_gossip_delete(g);
	return NULL;
}

int
nc_gossip_start(struct nc_gossip *g)
{
	struct nc_env *env;
	double stagger;

	if (g == NULL)
		return -EINVAL;
	if (g->started)
		return -EALREADY;
	env = g->env;
	g->started = true;
	/* Random staggers so that agents started together do not probe and
	 * gossip in lockstep (memberlist's triggerFunc). */
	stagger = nc_env_rand_double(env) * g->cfg.probe_interval;
	env->ops->timer_start(env, &g->probe_timer, stagger);
	stagger = nc_env_rand_double(env) * g->cfg.gossip_interval;
	env->ops->timer_start(env, &g->gossip_timer, stagger);
	stagger = nc_env_rand_double(env) * g->cfg.pushpull_interval;
	env->ops->timer_start(env, &g->pushpull_timer,
			      stagger + nc__pushpull_scaled(g));
	if (g->cfg.reconnect_interval > 0)
		env->ops->timer_start(env, &g->reconnect_timer,
				      g->cfg.reconnect_interval);
	return 0;
}

void
nc_gossip_delete(struct nc_gossip *g)
{
	struct nc_env *env;

	if (g == NULL)
		return;
	env = g->env;
	/* Silences leave callbacks during teardown. */
	g->leave_phase = NC__LEAVE_DONE;
	env->ops->timer_stop(env, &g->probe_timer);
	env->ops->timer_stop(env, &g->gossip_timer);
	env->ops->timer_stop(env, &g->pushpull_timer);
	env->ops->timer_stop(env, &g->reconnect_timer);
	env->ops->timer_stop(env, &g->leave_timer);
	env->ops->timer_stop(env, &g->leave_direct_timer);
	free(g->leave_to);
	env->ops->timer_stop(env, &g->probe.timeout_timer);
	env->ops->timer_stop(env, &g->probe.deadline_timer);
	for (int i = 0; i < NC__RELAY_MAX; i++)
		env->ops->timer_stop(env, &g->relays[i].timer);
	for (size_t i = 0; g->upings != NULL && i < NC_GOSSIP_PINGS_MAX; i++)
		env->ops->timer_stop(env, &g->upings[i].timer);
	free(g->upings);
	nc__streams_cancel_all(g);
	nc__merges_clear(g);
	if (g->bq.keys.buckets != NULL)
		nc__bq_destroy(&g->bq);
	nc__members_destroy(g);
	if (env->sink.ctx == g)
		memset(&env->sink, 0, sizeof(env->sink));
	bufs_put(g);
	free(g->failed);
	free(g);
}

/* ------------------------------------------------------------------ */
/* Accessors                                                           */
/* ------------------------------------------------------------------ */

size_t
nc_gossip_member_count(const struct nc_gossip *g)
{
	return g->n_nodes;
}

const struct nc_gossip_member *
nc_gossip_member_at(const struct nc_gossip *g, size_t i)
{
	return i < g->n_nodes ? &g->nodes[i]->pub : NULL;
}

const struct nc_gossip_member *
nc_gossip_member_find(const struct nc_gossip *g, const char *name)
{
	struct nc__member *m =
		nc__member_find((struct nc_gossip *)g, name, strlen(name));
	return m != NULL ? &m->pub : NULL;
}

const struct nc_gossip_member *
nc_gossip_self(const struct nc_gossip *g)
{
	return &g->self->pub;
}

int
nc_gossip_health_score(const struct nc_gossip *g)
{
	return g->awareness;
}

const struct nc_gossip_stats *
nc_gossip_stats(const struct nc_gossip *g)
{
	return &g->stats;
}

/*
 * Additive hook for the layer above (agent/coords.c greets new members with
 * its coordinate): memberlist's SendBestEffort, one user message in its
 * own datagram, through the usual compress / CRC / encrypt path.
 */
int
nc_gossip_send_user(struct nc_gossip *g, const struct nc_gossip_member *to,
		    const char *buf, size_t len)
{
	char msg[NC__UDP_BUFFER_MAX + 1];
	struct nc__member *m;

	if (g == NULL || to == NULL || buf == NULL || len == 0)
		return -EINVAL;
	if (len + 1 > g->cfg.udp_buffer_size || len + 1 > sizeof(msg))
		return -EMSGSIZE;
	m = nc__member_find(g, to->name, strlen(to->name));
	if (m == NULL || m == g->self)
		return -ENOENT;
	msg[0] = NC_PROTO_USER;
	memcpy(msg + 1, buf, len);
	return nc__send_raw(g, &m->pub.addr, m, msg, len + 1);
}

int
nc_gossip_send_user_addr(struct nc_gossip *g, const struct nc_addr *to,
			 const char *buf, size_t len)
{
	char msg[NC__UDP_BUFFER_MAX + 1];

	if (g == NULL || to == NULL || buf == NULL || len == 0 ||
	    (to->family != 4 && to->family != 6) || to->port == 0)
		return -EINVAL;
	if (len + 1 > g->cfg.udp_buffer_size || len + 1 > sizeof(msg))
		return -EMSGSIZE;
	msg[0] = NC_PROTO_USER;
	memcpy(msg + 1, buf, len);
	/* No CRC: memberlist's SendToAddress does not look the node up. */
	return nc__send_raw(g, to, NULL, msg, len + 1);
}

int
nc_gossip_set_meta(struct nc_gossip *g, const uint8_t *meta, size_t len)
{
	if (g == NULL || len > NC_GOSSIP_META_MAX || (len > 0 && meta == NULL))
		return -EINVAL;
	bool oom;
	const uint8_t *copy = nc__meta_get(meta, len, &oom);
	if (oom)
		return -ENOMEM;
	nc__meta_put(g->self->pub.meta);
	g->self->pub.meta = copy;
	g->self->pub.meta_len = len;
	g->self->pub.incarnation++;
	nc__broadcast_self_alive(g);
	return 0;
}
