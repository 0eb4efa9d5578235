/*
 * agent/serf_collect.c - the serf queries a netcoord agent runs itself
 * (`netcoord keys`, `netcoord reachability`, the vote on a conflict over
 * our own name), read in serf 0.9.4's query.go, serf.go (Query,
 * registerQueryResponse, handleQueryResponse, resolveNodeConflict) and
 * keymanager.go (streamKeyResp):
 *
 *  - the query is serf's messageQuery: our query clock's LTime, a random
 *    31-bit ID, our address and name to answer to, the ack flag, serf's
 *    default timeout (gossip interval x 16 x ceil(log10(n + 1)));
 *  - answers come back as messageQueryResponse (type 5), straight or
 *    through a relay (type 9) that the agent unwraps: one is taken if an
 *    open query has its LTime and ID (serf looks it up by LTime, then
 *    checks the ID), it is the first ack / response from its node (serf
 *    keeps a set per query), the query is under its cap (serf's channel
 *    of NumMembers entries), and, beyond serf, its From is a member we
 *    know: a response naming a stranger is spoofed or stale, dropped and
 *    counted;
 *  - a query ends at its deadline (the agent's timer calls
 *    nc_agent_serf_collect_expire) or when its waiter has all it wants
 *    (a key operation once every node answered, as serf).
 *
 * Memory: NC_AGENT_SERF_OPEN_MAX slots of 120 bytes in the agent (1 KiB);
 * each open query holds two arrays of 8-byte name hashes (acks,
 * responses), sized first for the alive members when it started and
 * doubled when more answer (members that joined since: a query started
 * while joining knows few), at most NC_AGENT_SERF_NODES_MAX each: 16
 * bytes per answering member, 64 KiB per query at the cap, 512 KiB for
 * the whole table; freed when the query ends. Only known members' answers
 * are taken, so the member table bounds them too.
 * Dedup by 64-bit FNV-1a hash of the name: two names colliding would
 * count once (about 2^-64 per pair).
 */
#include "agent/serf_collect.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util/util.h"

double
nc_agent_serf_query_timeout(double gossip_interval_s, size_t n)
{
	double mult = ceil(log10((double)n + 1.0));
	if (mult < 1)
		mult = 1;
	return gossip_interval_s * NC_AGENT_SERF_QUERY_TIMEOUT_MULT * mult;
}

int
nc_agent_serf_query_encode(char *buf, size_t cap,
			   const struct nc_agent_serf_query_params *p)
{
	size_t iplen = nc_addr_ip_len(p->addr);
	if (iplen == 0)
		return -EINVAL;
	double ns = p->timeout_s * 1e9;
	struct nc_proto_serf_query q = {
		.addr = {(const char *)p->addr->ip, (uint32_t)iplen},
		.flags = p->want_ack ? NC_PROTO_SERF_QUERY_ACK : 0,
		.id = p->id,
		.ltime = p->ltime,
		.name = nc_proto_cstr(p->name),
		.payload = {p->payload, (uint32_t)p->payload_len},
		.port = p->addr->port,
		.source_node = nc_proto_cstr(p->self),
		.timeout_ns = ns > 0 && ns < 9e18 ? (uint64_t)ns : 0,
	};
	char tmp[NC_AGENT_SERF_QUERY_MAX + 1];
	int n = nc_proto_encode_serf_query(tmp, sizeof(tmp), &q);
	if (n <= 0 || n > NC_AGENT_SERF_QUERY_MAX)
		return -EMSGSIZE;
	if ((size_t)n > cap)
		return -ENOSPC;
	memcpy(buf, tmp, (size_t)n);
	return n;
}

/* ------------------------------------------------------------------ */
/* Open queries                                                       */
/* ------------------------------------------------------------------ */

static void
slot_free(struct nc_agent_serf_open *o)
{
	free(o->acks);
	free(o->resps);
	memset(o, 0, sizeof(*o));
}

/** Remove slot @a o, then tell its waiter (which may open another). */
static void
slot_end(struct nc_agent_serf_open *o, enum nc_agent_serf_end why)
{
	struct nc_agent_serf_waiter w = o->w;
	slot_free(o);
	if (w.done != NULL)
		w.done(w.arg, why);
}

int
nc_agent_serf_collect_open(struct nc_agent_serf_collect *c, uint64_t ltime,
			   uint32_t id, bool want_ack, size_t cap,
			   double deadline,
			   const struct nc_agent_serf_waiter *w)
{
	struct nc_agent_serf_open *o = NULL;
	for (size_t i = 0; i < NC_AGENT_SERF_OPEN_MAX && o == NULL; i++)
		if (!c->open[i].used)
			o = &c->open[i];
	if (o == NULL) {
		c->st.busy++;
		return -EBUSY;
	}
	if (cap < 1)
		cap = 1;
	if (cap > NC_AGENT_SERF_NODES_MAX)
		cap = NC_AGENT_SERF_NODES_MAX;
	memset(o, 0, sizeof(*o));
	o->resps = calloc(cap, sizeof(*o->resps));
	if (want_ack)
		o->acks = calloc(cap, sizeof(*o->acks));
	o->acks_cap = o->resps_cap = cap;
	if (o->resps == NULL || (want_ack && o->acks == NULL)) {
		slot_free(o);
		return -ENOMEM;
	}
	o->used = true;
	o->ltime = ltime;
	o->id = id;
	o->want_ack = want_ack;
	o->deadline = deadline;
	o->w = *w;
	c->st.started++;
	return 0;
}

bool
nc_agent_serf_collect_busy_id(const struct nc_agent_serf_collect *c,
			      uint64_t ltime, uint32_t id)
{
	for (size_t i = 0; i < NC_AGENT_SERF_OPEN_MAX; i++)
		if (c->open[i].used && c->open[i].ltime == ltime &&
		    c->open[i].id == id)
			return true;
	return false;
}

/**
 * Record @a h in *set (n used of *cap, grown by doubling up to
 * NC_AGENT_SERF_NODES_MAX): 1 new, 0 seen, -1 full (or out of memory).
 */
static int
set_add(uint64_t **set, size_t *n, size_t *cap, uint64_t h)
{
	for (size_t i = 0; i < *n; i++)
		if ((*set)[i] == h)
			return 0;
	if (*n >= *cap) {
		size_t nc = *cap * 2;
		if (nc > NC_AGENT_SERF_NODES_MAX)
			nc = NC_AGENT_SERF_NODES_MAX;
		uint64_t *grown = nc > *cap ? realloc(*set, nc * sizeof(**set))
					    : NULL;
		if (grown == NULL)
			return -1;
		*set = grown;
		*cap = nc;
	}
	(*set)[(*n)++] = h;
	return 1;
}

int
nc_agent_serf_collect_on_msg(struct nc_agent_serf_collect *c, const char *buf,
			     size_t len)
{
	if (len < 2 || (uint8_t)buf[0] != NC_PROTO_SERF_QUERY_RESPONSE) {
		c->st.bad++;
		return 0;
	}
	const char *pos = buf + 1, *end = buf + len;
	struct nc_proto_serf_query_response r;
	if (nc_proto_decode_serf_query_response(&pos, end, &r) != 0 ||
	    r.from.len == 0 || r.from.len > NC_CONFIG_NAME_MAX) {
		c->st.bad++;
		return 0;
	}
	struct nc_agent_serf_open *o = NULL;
	for (size_t i = 0; i < NC_AGENT_SERF_OPEN_MAX && o == NULL; i++)
		if (c->open[i].used && c->open[i].ltime == r.ltime &&
		    c->open[i].id == r.id)
			o = &c->open[i];
	if (o == NULL || o->enough) {
		c->st.unknown_query++;
		return 0;
	}
	if (c->known != NULL && !c->known(c->ctx, r.from.data, r.from.len)) {
		c->st.unknown_sender++;
		return 0;
	}
	uint64_t h = nc_hash_bytes(r.from.data, r.from.len);
	bool ack = (r.flags & NC_PROTO_SERF_QUERY_ACK) != 0;
	if (ack && !o->want_ack) {
		/* serf would fail to deliver it (no ack channel). */
		c->st.unknown_query++;
		return 0;
	}
	int added = ack ? set_add(&o->acks, &o->acks_n, &o->acks_cap, h)
			: set_add(&o->resps, &o->resps_n, &o->resps_cap, h);
	if (added == 0) {
		c->st.duplicates++;
		return 0;
	}
	if (added < 0) {
		c->st.over_cap++;
		return 0;
	}
	if (ack) {
		c->st.acks++;
		if (o->w.ack != NULL)
			o->w.ack(o->w.arg, r.from.data, r.from.len);
		return 1;
	}
	c->st.responses++;
	if (o->w.response != NULL &&
	    o->w.response(o->w.arg, r.from.data, r.from.len, r.payload.data,
			  r.payload.len)) {
		/* Ended by the next expire (the agent's timer, at once):
		 * done is never called from inside a send or a receive. */
		o->enough = true;
		return 2;
	}
	return 1;
}

void
nc_agent_serf_collect_expire(struct nc_agent_serf_collect *c, double now)
{
	for (size_t i = 0; i < NC_AGENT_SERF_OPEN_MAX; i++) {
		struct nc_agent_serf_open *o = &c->open[i];
		if (o->used && o->enough) {
			slot_end(o, NC_AGENT_SERF_END_ENOUGH);
		} else if (o->used && o->deadline <= now) {
			c->st.timed_out++;
			slot_end(o, NC_AGENT_SERF_END_TIMEOUT);
		}
	}
}

double
nc_agent_serf_collect_next(const struct nc_agent_serf_collect *c)
{
	double next = -1;
	for (size_t i = 0; i < NC_AGENT_SERF_OPEN_MAX; i++) {
		const struct nc_agent_serf_open *o = &c->open[i];
		double d = o->enough ? 0 : o->deadline;
		if (o->used && (next < 0 || d < next))
			next = d;
	}
	return next;
}

size_t
nc_agent_serf_collect_count(const struct nc_agent_serf_collect *c)
{
	size_t n = 0;
	for (size_t i = 0; i < NC_AGENT_SERF_OPEN_MAX; i++)
		n += c->open[i].used;
	return n;
}

void
nc_agent_serf_collect_cancel_all(struct nc_agent_serf_collect *c)
{
	for (size_t i = 0; i < NC_AGENT_SERF_OPEN_MAX; i++)
		if (c->open[i].used)
			slot_end(&c->open[i], NC_AGENT_SERF_END_CANCELLED);
}

/* ------------------------------------------------------------------ */
/* Key results (serf's streamKeyResp)                                 */
/* ------------------------------------------------------------------ */

/** Copy network text for an operator: printable ASCII, else '?'. */
static void
copy_text(char *dst, size_t cap, const char *src, size_t len)
{
	size_t n = len < cap - 1 ? len : cap - 1;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)src[i];
		dst[i] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
	}
	dst[n] = '\0';
}

static void
set_msg(struct nc_agent_key_result *r, const char *from, size_t from_len,
	const char *text, size_t text_len)
{
	if (r->msgs_n >= NC_AGENT_KEY_RESULT_MSGS) {
		r->msgs_dropped++;
		return;
	}
	struct nc_agent_key_msg *m = &r->msgs[r->msgs_n++];
	copy_text(m->node, sizeof(m->node), from, from_len);
	copy_text(m->text, sizeof(m->text), text, text_len);
}

/** A base64 key as serf prints them (at most 44 characters). */
static bool
b64_ok(const char *s, size_t len)
{
	if (len == 0 || len >= NC_AGENT_KEY_B64_CAP)
		return false;
	for (size_t i = 0; i < len; i++) {
		char ch = s[i];
		if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
		      (ch >= '0' && ch <= '9') || ch == '+' || ch == '/' ||
		      ch == '='))
			return false;
	}
	return true;
}

static void
count_key(struct nc_agent_key_result *r, struct nc_agent_key_count *tab,
	  size_t *n, const char *key, size_t len)
{
	if (!b64_ok(key, len)) {
		r->keys_dropped++;
		return;
	}
	for (size_t i = 0; i < *n; i++) {
		if (strlen(tab[i].key) == len &&
		    memcmp(tab[i].key, key, len) == 0) {
			tab[i].count++;
			return;
		}
	}
	if (*n >= NC_AGENT_KEY_RESULT_KEYS) {
		r->keys_dropped++;
		return;
	}
	memcpy(tab[*n].key, key, len);
	tab[*n].key[len] = '\0';
	tab[*n].count = 1;
	(*n)++;
}

bool
nc_agent_key_result_add(struct nc_agent_key_result *r, const char *from,
			size_t from_len, const char *payload,
			size_t payload_len)
{
	struct nc_proto_serf_key_response kr;
	const char *pos = payload + 1, *end = payload + payload_len;
	r->num_resp++;
	if (payload_len < 1 ||
	    (uint8_t)payload[0] != NC_PROTO_SERF_KEY_RESPONSE) {
		static const char m[] = "Invalid key query response type";
		set_msg(r, from, from_len, m, sizeof(m) - 1);
		r->num_err++;
		goto next;
	}
	if (nc_proto_decode_serf_key_response(&pos, end, &kr) != 0) {
		static const char m[] = "Failed to decode key query response";
		set_msg(r, from, from_len, m, sizeof(m) - 1);
		r->num_err++;
		goto next;
	}
	if (!kr.result) {
		set_msg(r, from, from_len, kr.message.data, kr.message.len);
		r->num_err++;
	} else if (kr.message.len > 0) {
		set_msg(r, from, from_len, kr.message.data, kr.message.len);
	}
	/* Keys: an array of strings (nil: none). */
	const char *kp = kr.keys_raw.data, *kend = kp + kr.keys_raw.len;
	uint32_t nk = 0;
	if (kr.keys_raw.len > 0 && nc_proto_read_array(&kp, kend, &nk) == 0) {
		for (uint32_t i = 0; i < nk; i++) {
			struct nc_proto_str k;
			if (nc_proto_read_bytes(&kp, kend, &k) != 0)
				break;
			count_key(r, r->keys, &r->keys_n, k.data, k.len);
		}
	}
	/* (serf counts an empty PrimaryKey too, under "": older nodes send
	 * none; we leave it out.) */
	if (kr.primary_key.len > 0)
		count_key(r, r->primary, &r->primary_n, kr.primary_key.data,
			  kr.primary_key.len);
next:
	return r->num_resp >= r->num_nodes;
}

bool
nc_agent_conflict_vote(const char *payload, size_t len,
		       const struct nc_addr *self, bool *matches)
{
	*matches = false;
	if (len < 1 || (uint8_t)payload[0] != NC_PROTO_SERF_CONFLICT_RESPONSE)
		return false;
	const char *pos = payload + 1, *end = payload + len;
	struct nc_proto_serf_member m;
	if (nc_proto_decode_serf_conflict_response(&pos, end, &m) != 0)
		return false;
	/* Go's net.IP.Equal: an IPv4 address may come in its 16-byte
	 * form (::ffff:a.b.c.d). */
	static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
					     0xff, 0xff};
	size_t iplen = nc_addr_ip_len(self);
	const char *ip = m.addr.data;
	size_t len_ip = m.addr.len;
	if (iplen == 4 && len_ip == 16 && memcmp(ip, v4mapped, 12) == 0) {
		ip += 12;
		len_ip = 4;
	}
	*matches = iplen > 0 && len_ip == iplen &&
		   memcmp(ip, self->ip, iplen) == 0 && m.port == self->port;
	return true;
}
