/*
 * tests/fuzz/fuzz_agent.c - libFuzzer target driving a WHOLE agent
 * (agent/agent.h: gossip + coordinates + serf relay) in the simulator.
 *
 * A world is the target agent "t0", 0..2 real peers ("p1", "p2": agents
 * that join t0) and FF_FAKES fake peers (simulator nodes with no gossip;
 * the harness speaks for them and can acknowledge the pings t0 sends
 * them). Worlds live across inputs (see "Persistent worlds" below). An
 * input is a header and a sequence of records (layout in fuzz_fleet.h):
 * raw datagrams and streams from any peer's address, messages built with
 * the codec's encoders (alive/suspect/dead about real names, pings, acks
 * carrying a coordinate, serf intents, coordinate gossip and fetch
 * requests/replies, push/pulls), what a fake peer answers to t0's own
 * push/pulls, time advancing (virtual, capped per input), coordinate
 * fetches t0 starts as a query would, leaves, pauses, crashes and keyring
 * changes. After each input it checks what must hold whatever the input:
 * every member name is valid (issue 9: names with NUL, control characters
 * or invalid UTF-8 are refused) and unique, every cached coordinate is
 * finite. A world is deleted entirely when it is rebuilt (LeakSanitizer
 * sees any leak).
 *
 * Build and run: tests/fuzz/README.md.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sanitizer/common_interface_defs.h>

#include "agent/agent.h"
#include "agent/coords.h"
#include "coord/coord.h"
#include "gossip/crypto.h"
#include "gossip/gossip.h"
#include "gossip/proto.h"
#include "tests/fuzz/fuzz_fleet.h"
#include "sim/sim.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int
LLVMFuzzerInitialize(int *argc, char ***argv);

/** Virtual time one input may advance, s (the world lives on). */
#define FZ_INPUT_TIME_MAX 3.0
/** Time run after the last record so that what is in flight lands, s. */
#define FZ_TAIL_S 0.05
/** A world is rebuilt after this many inputs ... */
#define FZ_WORLD_INPUTS 500
/** ... or this much virtual time, s ... */
#define FZ_WORLD_TIME_MAX 3600.0
/** ... or when its inputs' history would exceed this many bytes. */
#define FZ_HISTORY_MAX (4u << 20)
/** Largest datagram or stream a record carries (a u16 length). */
#define FZ_MSG_MAX 65535

static void history_dump(void);

#define CHECK(cond, what)                                                  \
	do {                                                               \
		if (!(cond)) {                                             \
			fprintf(stderr, "fuzz_agent: %s\n", what);         \
			history_dump();                                    \
			abort();                                           \
		}                                                          \
	} while (0)

/** Input reader: past the end every read yields zeros. */
struct rd {
	const uint8_t *p, *end;
};

static uint8_t
u8(struct rd *r)
{
	return r->p < r->end ? *r->p++ : 0;
}

static uint16_t
u16(struct rd *r)
{
	uint16_t lo = u8(r);
	return (uint16_t)(lo | (uint16_t)u8(r) << 8);
}

static uint32_t
u32(struct rd *r)
{
	uint32_t lo = u16(r);
	return lo | (uint32_t)u16(r) << 16;
}

/** Up to @a n bytes (borrowed); *got says how many were there. */
static const char *
take(struct rd *r, size_t n, size_t *got)
{
	size_t left = (size_t)(r->end - r->p);
	*got = n < left ? n : left;
	const char *s = (const char *)r->p;
	r->p += *got;
	return s;
}

struct fake {
	struct sim_node *sn;
	/** Last ping received (seq) and whether any was. */
	uint32_t last_seq;
	bool seen_ping;
	/** Answer every ping with an ack carrying coord. */
	bool auto_ack;
	struct nc_proto_coord coord;
	/** Answer to streams t0 opens to us (empty: reset). */
	char *reply;
	size_t reply_len;
	bool reply_encrypt;
	struct fz *z;
};

struct fz {
	struct sim_world *w;
	int n_agents; /* t0 + real peers */
	struct nc_agent *agent[1 + FF_PEERS_MAX];
	struct sim_node *node[1 + FF_PEERS_MAX];
	bool down[1 + FF_PEERS_MAX];
	struct fake fake[FF_FAKES];
	/** The fake peers' keyring (the cluster key) on keyed inputs. */
	struct nc_crypto_keyring *kr;
	bool keyed;
	/** Time this input may not pass. */
	double t_max;
	uint64_t nonce;
	/** Inputs run on this world; rebuild it before the next one. */
	unsigned inputs;
	bool rebuild;
	/** The inputs run since it was built: (u32 length, bytes)*. */
	uint8_t *hist;
	size_t hist_len, hist_cap;
};

static const char *const names[] = {"t0", "p1", "p2", "f0", "f1", "f2", "f3"};

static const char *const keys_b64[] = {
    FF_KEY_B64,
    "AAAAAAAAAAAAAAAAAAAAAA==",			/* 16 zero bytes */
    "ERERERERERERERERERERERERERERERER",		/* 24 bytes */
    "not base64!",
};

static int
fixed_rand(void *ctx, unsigned char *buf, size_t len)
{
	struct fz *z = ctx;
	for (size_t i = 0; i < len; i++)
		buf[i] = (unsigned char)(z->nonce++ * 0x9e3779b9u >> 24);
	return 0;
}

/* ---------------------------------------------------------------- */
/* Sending as a peer                                                 */
/* ---------------------------------------------------------------- */

/** Sender index (from byte) -> simulator node. */
static struct sim_node *
sender(struct fz *z, uint8_t from)
{
	int n = FF_FAKES + z->n_agents - 1;
	int i = from % n;
	return i < FF_FAKES ? z->fake[i].sn : z->node[1 + i - FF_FAKES];
}

static const struct nc_addr *
target_addr(struct fz *z)
{
	return sim_node_addr(z->node[0]);
}

/** Wrap (CRC / compress / encrypt per @a flags) and send a datagram. */
static void
send_udp(struct fz *z, struct sim_node *from, const char *msg, size_t len,
	 uint8_t flags)
{
	static char a[NC_PROTO_MAX_PACKET + 64], b[NC_PROTO_MAX_PACKET + 128];
	const char *cur = msg;
	int n;
	if (len > NC_PROTO_MAX_PACKET)
		len = NC_PROTO_MAX_PACKET;
	if (flags & 0x20) {
		n = nc_proto_encode_compress(a, sizeof(a), cur, len);
		if (n > 0) {
			cur = a;
			len = (size_t)n;
		}
	}
	if (flags & 0x10) {
		memmove(b + 5, cur, len);
		n = nc_proto_encode_crc(b, sizeof(b), b + 5, len);
		if (n > 0) {
			memcpy(a, b, (size_t)n);
			cur = a;
			len = (size_t)n;
		}
	}
	if ((flags & 0x40) && z->keyed) {
		n = nc_crypto_packet_encrypt(z->kr, 1, cur, len, b, sizeof(b));
		if (n > 0) {
			cur = b;
			len = (size_t)n;
		}
	}
	struct nc_env *env = sim_node_env(from);
	env->ops->send_packet(env, target_addr(z), cur, len);
}

static void
stream_done(void *arg, int status, const char *reply, size_t reply_len)
{
	(void)arg;
	(void)status;
	(void)reply;
	(void)reply_len;
}

/** Open a stream to t0 with @a msg (compressed / encrypted per flags). */
static void
send_stream(struct fz *z, struct sim_node *from, const char *msg, size_t len,
	    uint8_t flags)
{
	char *a = NULL, *b = NULL;
	const char *cur = msg;
	if (flags & 0x20) {
		size_t cap = 2 * len + 64;
		a = malloc(cap);
		int n = a != NULL ? nc_proto_encode_compress(a, cap, cur, len)
				  : -1;
		if (n > 0) {
			cur = a;
			len = (size_t)n;
		}
	}
	if ((flags & 0x40) && z->keyed) {
		size_t cap = len + NC_CRYPTO_OVERHEAD_V0 + 16;
		b = malloc(cap);
		int n = b != NULL ? nc_crypto_stream_encrypt(z->kr, 1, cur, len,
							     b, cap)
				  : -1;
		if (n > 0) {
			cur = b;
			len = (size_t)n;
		}
	}
	struct nc_env *env = sim_node_env(from);
	env->ops->stream_request(env, target_addr(z), cur, len,
				 (flags & 0x10) != 0, 10.0, stream_done, NULL);
	free(a);
	free(b);
}

/* ---------------------------------------------------------------- */
/* Fake peers: notice pings, optionally acknowledge them              */
/* ---------------------------------------------------------------- */

struct walk {
	struct fake *f;
	const struct nc_addr *from;
};

static void
fake_msg(void *ctx, uint8_t type, const char *body, const char *end)
{
	struct walk *wk = ctx;
	struct fake *f = wk->f;
	struct nc_proto_ping p;
	if (type != NC_PROTO_PING ||
	    nc_proto_decode_ping(&body, end, &p) != 0)
		return;
	f->last_seq = p.seq_no;
	f->seen_ping = true;
	if (!f->auto_ack)
		return;
	char payload[256], ack[320];
	int pl = nc_proto_encode_coord(payload, sizeof(payload), &f->coord);
	struct nc_proto_ack a = {
	    .seq_no = p.seq_no,
	    .payload = {payload, pl > 0 ? (uint32_t)pl : 0},
	};
	int n = nc_proto_encode_ack(ack, sizeof(ack), &a);
	if (n > 0) {
		struct nc_env *env = sim_node_env(f->sn);
		env->ops->send_packet(env, wk->from, ack, (size_t)n);
	}
}

static void
fake_on_packet(void *ctx, const struct nc_addr *from, const char *buf,
	       size_t len, double rx_time)
{
	static char plain[NC_PROTO_MAX_PACKET], scratch[NC_PROTO_MAX_PACKET];
	struct fake *f = ctx;
	(void)rx_time;
	if (f->z->keyed) {
		int n = nc_crypto_packet_decrypt(f->z->kr, buf, len, plain,
						 sizeof(plain), NULL);
		if (n < 0)
			return;
		buf = plain;
		len = (size_t)n;
	}
	struct walk wk = {f, from};
	nc_proto_packet_walk(buf, len, scratch, sizeof(scratch), fake_msg,
			     &wk);
}

static int
fake_on_stream(void *ctx, const struct nc_addr *from, const char *req,
	       size_t req_len, struct nc_buf *reply)
{
	struct fake *f = ctx;
	(void)from;
	(void)req;
	(void)req_len;
	if (f->reply_len == 0)
		return -1;
	const char *out = f->reply;
	size_t len = f->reply_len;
	char *enc = NULL;
	if (f->reply_encrypt && f->z->keyed) {
		size_t cap = len + NC_CRYPTO_OVERHEAD_V0 + 16;
		enc = malloc(cap);
		int n = enc != NULL ? nc_crypto_stream_encrypt(f->z->kr, 1, out,
							       len, enc, cap)
				    : -1;
		if (n > 0) {
			out = enc;
			len = (size_t)n;
		}
	}
	int rc = -1;
	char *d = realloc(reply->data, reply->len + len);
	if (d != NULL) {
		memcpy(d + reply->len, out, len);
		reply->data = d;
		reply->len += len;
		reply->cap = reply->len;
		rc = 0;
	}
	free(enc);
	return rc;
}

/* ---------------------------------------------------------------- */
/* Building messages from input bytes                                */
/* ---------------------------------------------------------------- */

/** A node name: one of names[] or inline (len u8 <= 140, bytes). */
static struct nc_proto_str
pick_name(struct rd *r)
{
	uint8_t sel = u8(r);
	if (sel < 0xf0)
		return nc_proto_cstr(names[sel % 7]);
	size_t got;
	const char *s = take(r, u8(r) % 141, &got);
	return (struct nc_proto_str){s, (uint32_t)got};
}

/** An address: a fake peer's, a real node's, or nowhere; ip bytes out. */
static void
pick_addr(struct fz *z, struct rd *r, uint8_t ip[4], uint16_t *port)
{
	uint8_t sel = u8(r);
	int nn = sim_node_count(z->w);
	*port = SIM_PORT;
	if (sel < 0xf0) {
		const struct nc_addr *a =
		    sim_node_addr(sim_node_get(z->w, sel % nn));
		memcpy(ip, a->ip, 4);
		return;
	}
	ip[0] = 10;
	ip[1] = 9;
	ip[2] = 9;
	ip[3] = u8(r);
	*port = u16(r);
}

static const uint8_t vsn_default[6] = {1, 5, 2, 2, 5, 5};

static struct nc_proto_str
pick_vsn(struct rd *r)
{
	uint8_t sel = u8(r);
	size_t got;
	if (sel < 0xf0)
		return (struct nc_proto_str){(const char *)vsn_default, 6};
	const char *s = take(r, 6, &got);
	return (struct nc_proto_str){s, (uint32_t)got};
}

/** Meta: none, serf tags (nc=1, dc=<input>), or raw bytes. */
static struct nc_proto_str
pick_meta(struct rd *r, char *buf, size_t cap)
{
	uint8_t sel = u8(r);
	size_t got;
	if (sel % 4 == 0)
		return (struct nc_proto_str){NULL, 0};
	if (sel % 4 == 3) {
		const char *s = take(r, u8(r), &got);
		return (struct nc_proto_str){s, (uint32_t)got};
	}
	const char *v = take(r, u8(r) % 32, &got);
	struct nc_proto_tag tags[2] = {
	    {nc_proto_cstr("dc"), {v, (uint32_t)got}},
	    {nc_proto_cstr("nc"), nc_proto_cstr("1")},
	};
	int n = nc_proto_encode_tags(buf, cap, tags, sel % 4 == 1 ? 2 : 1);
	return (struct nc_proto_str){buf, n > 0 ? (uint32_t)n : 0};
}

/** A float from one byte of shape + maybe 4 bytes of value. */
static double
pick_float(struct rd *r)
{
	uint8_t sel = u8(r);
	switch (sel % 8) {
	case 0:
		return NAN;
	case 1:
		return INFINITY;
	case 2:
		return -1e300;
	case 3: {
		uint32_t v = u32(r);
		float f;
		memcpy(&f, &v, sizeof(f));
		return f;
	}
	default:
		return (double)(int8_t)sel * 1e-3;
	}
}

/** A coordinate: usually valid-looking, with fuzzable values. */
static void
pick_coord(struct rd *r, struct nc_proto_coord *c)
{
	memset(c, 0, sizeof(*c));
	uint8_t shape = u8(r);
	c->dims = shape < 0xf0 ? 8 : shape % 10;
	for (unsigned i = 0; i < c->dims && i < NC_PROTO_MAX_DIMS; i++)
		c->vec[i] = shape & 1 ? pick_float(r) : 0.001 * (i + 1);
	c->error = shape & 2 ? pick_float(r) : 1.5;
	c->adjustment = shape & 4 ? pick_float(r) : 0;
	c->height = shape & 8 ? pick_float(r) : 1e-5;
	if (c->dims > NC_PROTO_MAX_DIMS)
		c->dims = NC_PROTO_MAX_DIMS;
}

static void
put_f32(char *p, double d)
{
	float f = (float)d;
	uint32_t v;
	memcpy(&v, &f, sizeof(v));
	p[0] = (char)(v >> 24);
	p[1] = (char)(v >> 16);
	p[2] = (char)(v >> 8);
	p[3] = (char)v;
}

/** One coordinate entry (docs/WIRE.md §5) at buf + len; the new length. */
static size_t
put_entry(struct rd *r, char *buf, size_t len, struct nc_proto_str name,
	  bool own)
{
	buf[len++] = (char)name.len;
	memcpy(buf + len, name.data, name.len);
	len += name.len;
	uint16_t age = own ? 0 : u16(r);
	buf[len++] = (char)(age >> 8);
	buf[len++] = (char)age;
	buf[len++] = own ? 1 : (char)u8(r); /* flags */
	struct nc_proto_coord c;
	pick_coord(r, &c);
	buf[len++] = (char)c.dims;
	for (unsigned d = 0; d < c.dims; d++, len += 4)
		put_f32(buf + len, c.vec[d]);
	put_f32(buf + len, c.error);
	put_f32(buf + len + 4, c.adjustment);
	put_f32(buf + len + 8, c.height);
	return len + 12;
}

/**
 * netcoord coordinate message (docs/WIRE.md §5) into buf; its length:
 * gossip (kind 1), or with a count byte >= 0xf0 a fetch request (kind 2)
 * or reply (kind 3).
 */
static size_t
craft_coords(struct rd *r, char *buf, size_t cap)
{
	struct nc_proto_str sender = pick_name(r);
	uint8_t count = u8(r);
	uint8_t kind = count < 0xf0 ? 1 : 2 + (count & 1);
	unsigned n = kind == 1   ? count % 24u
		     : kind == 2 ? 1 + (count >> 1) % 4u
				 : 1;
	size_t len = 0;
	buf[len++] = NC_PROTO_USER;
	buf[len++] = 1; /* serf join intent */
	memcpy(buf + len, "\x83\xa5LTime\x00\xa4Node\xda", 13);
	len += 13;
	buf[len++] = (char)(sender.len >> 8);
	buf[len++] = (char)sender.len;
	memcpy(buf + len, sender.data, sender.len);
	len += sender.len;
	memcpy(buf + len, "\xa2NC\xda", 4);
	len += 4;
	size_t blob_len_at = len;
	len += 2;
	size_t blob = len;
	buf[len++] = (char)kind;
	buf[len++] = (char)n;
	for (unsigned i = 0; i < n && len + 200 < cap; i++) {
		if (kind == 3) {
			len = put_entry(r, buf, len, sender, true);
		} else if (kind == 2) {
			struct nc_proto_str name = pick_name(r);
			buf[len++] = (char)name.len;
			memcpy(buf + len, name.data, name.len);
			len += name.len;
		} else {
			len = put_entry(r, buf, len, pick_name(r), false);
		}
	}
	size_t bl = len - blob;
	buf[blob_len_at] = (char)(bl >> 8);
	buf[blob_len_at + 1] = (char)bl;
	return len;
}

/** FF_REC_CRAFT: one message into buf; its length (0: none). */
static int
craft(struct fz *z, struct rd *r, struct sim_node *from, char *buf,
      size_t cap)
{
	uint8_t type = u8(r) % FF_MSG_TYPES;
	char meta[NC_PROTO_META_MAX + 8];
	uint8_t ip[4];
	uint16_t port;
	switch (type) {
	case FF_MSG_ALIVE: {
		struct nc_proto_alive m = {.incarnation = u32(r)};
		m.node = pick_name(r);
		pick_addr(z, r, ip, &port);
		m.addr = (struct nc_proto_str){(const char *)ip, 4};
		m.port = port;
		m.meta = pick_meta(r, meta, sizeof(meta));
		m.vsn = pick_vsn(r);
		if (m.vsn.len != 6)
			m.vsn = (struct nc_proto_str){(const char *)vsn_default,
						      6};
		return nc_proto_encode_alive(buf, cap, &m);
	}
	case FF_MSG_SUSPECT: {
		struct nc_proto_suspect m = {.incarnation = u32(r)};
		m.node = pick_name(r);
		m.from = pick_name(r);
		return nc_proto_encode_suspect(buf, cap, &m);
	}
	case FF_MSG_DEAD: {
		struct nc_proto_dead m = {.incarnation = u32(r)};
		m.node = pick_name(r);
		m.from = pick_name(r);
		return nc_proto_encode_dead(buf, cap, &m);
	}
	case FF_MSG_PING: {
		struct nc_proto_ping m = {.seq_no = u32(r)};
		m.node = pick_name(r);
		pick_addr(z, r, ip, &port);
		m.source_addr = (struct nc_proto_str){(const char *)ip, 4};
		m.source_port = port;
		m.source_node = pick_name(r);
		return nc_proto_encode_ping(buf, cap, &m);
	}
	case FF_MSG_INDIRECT: {
		struct nc_proto_indirect_ping m = {.seq_no = u32(r)};
		pick_addr(z, r, ip, &port);
		m.target = (struct nc_proto_str){(const char *)ip, 4};
		m.port = port;
		m.node = pick_name(r);
		m.nack = u8(r) & 1;
		m.source_node = pick_name(r);
		return nc_proto_encode_indirect_ping(buf, cap, &m);
	}
	case FF_MSG_ACK: {
		uint8_t sel = u8(r);
		struct nc_proto_ack m = {0};
		int fi = sim_node_id(from) - z->n_agents;
		if (fi >= 0 && fi < FF_FAKES && z->fake[fi].seen_ping &&
		    !(sel & 0x80))
			m.seq_no = z->fake[fi].last_seq;
		else
			m.seq_no = u32(r);
		char payload[256];
		struct nc_proto_coord c;
		pick_coord(r, &c);
		int pl = nc_proto_encode_coord(payload, sizeof(payload), &c);
		if (sel & 0x40)
			pl = 0;
		m.payload = (struct nc_proto_str){payload,
						  pl > 0 ? (uint32_t)pl : 0};
		return nc_proto_encode_ack(buf, cap, &m);
	}
	case FF_MSG_NACK: {
		struct nc_proto_nack m = {.seq_no = u32(r)};
		return nc_proto_encode_nack(buf, cap, &m);
	}
	case FF_MSG_SERF_JOIN: {
		struct nc_proto_serf_join m = {.ltime = u32(r)};
		m.node = pick_name(r);
		buf[0] = NC_PROTO_USER;
		int n = nc_proto_encode_serf_join(buf + 1, cap - 1, &m);
		return n > 0 ? n + 1 : n;
	}
	case FF_MSG_SERF_LEAVE: {
		struct nc_proto_serf_leave m = {.ltime = u32(r)};
		m.node = pick_name(r);
		m.prune = u8(r) & 1;
		buf[0] = NC_PROTO_USER;
		int n = nc_proto_encode_serf_leave(buf + 1, cap - 1, &m);
		return n > 0 ? n + 1 : n;
	}
	default:
		return (int)craft_coords(r, buf, cap);
	}
}

/** FF_REC_PUSHPULL: a push/pull message into a malloc()ed buffer. */
static char *
craft_pushpull(struct fz *z, struct rd *r, size_t *len)
{
	struct nc_proto_push_pull h = {.join = u8(r) & 1};
	h.nodes = u8(r) % 33;
	size_t cap = 64 + (size_t)h.nodes * (NC_PROTO_META_MAX + 400) + 256;
	char *buf = malloc(cap);
	if (buf == NULL)
		return NULL;
	static char metas[32][NC_PROTO_META_MAX + 8];
	struct nc_proto_push_node nodes[32];
	uint8_t ips[32][4];
	for (uint32_t i = 0; i < h.nodes; i++) {
		struct nc_proto_push_node *s = &nodes[i];
		memset(s, 0, sizeof(*s));
		s->name = pick_name(r);
		pick_addr(z, r, ips[i], &s->port);
		s->addr = (struct nc_proto_str){(const char *)ips[i], 4};
		s->state = u8(r) % 5;
		s->incarnation = u32(r);
		s->vsn = pick_vsn(r);
		if (s->vsn.len != 6)
			s->vsn = (struct nc_proto_str){
			    (const char *)vsn_default, 6};
		s->meta = pick_meta(r, metas[i], sizeof(metas[i]));
	}
	size_t ulen;
	const char *user = take(r, u8(r), &ulen);
	h.user_state_len = (uint32_t)ulen;
	int n = nc_proto_encode_push_pull(buf, cap, &h);
	size_t off = n > 0 ? (size_t)n : 0;
	for (uint32_t i = 0; i < h.nodes; i++) {
		if (n > 0) {
			int k = nc_proto_encode_push_node(buf + off, cap - off,
							  &nodes[i]);
			if (k > 0)
				off += (size_t)k;
			else
				n = -1;
		}
	}
	if (n > 0 && off + ulen <= cap) {
		memcpy(buf + off, user, ulen);
		off += ulen;
	}
	*len = n > 0 ? off : 0;
	return buf;
}

/* ---------------------------------------------------------------- */
/* World                                                             */
/* ---------------------------------------------------------------- */

static void
run_to(struct fz *z, double t)
{
	if (t > z->t_max)
		t = z->t_max;
	if (t > sim_now(z->w))
		sim_run_until(z->w, t);
}

static void
control(struct fz *z, struct rd *r)
{
	uint8_t op = u8(r) % FF_OPS, arg = u8(r);
	uint16_t arg2 = u16(r);
	int peers = z->n_agents - 1;
	char err[128];
	switch (op) {
	case FF_OP_LEAVE_TARGET:
		nc_agent_leave(z->agent[0]);
		z->rebuild = true; /* nothing left to fuzz after that */
		break;
	case FF_OP_LEAVE_PEER:
		if (peers > 0)
			nc_agent_leave(z->agent[1 + arg % peers]);
		break;
	case FF_OP_PAUSE_PEER:
		if (peers > 0)
			sim_node_pause(z->node[1 + arg % peers],
				       arg2 / 1000.0);
		break;
	case FF_OP_DOWN_PEER:
		if (peers > 0) {
			int i = 1 + arg % peers;
			z->down[i] = !z->down[i];
			sim_node_set_down(z->node[i], z->down[i]);
		}
		break;
	case FF_OP_AUTO_ACK: {
		struct fake *f = &z->fake[arg % FF_FAKES];
		f->auto_ack = !f->auto_ack;
		struct rd cr = {(const uint8_t *)&arg2,
				(const uint8_t *)&arg2 + 2};
		pick_coord(&cr, &f->coord);
		break;
	}
	case FF_OP_KEY_INSTALL:
	case FF_OP_KEY_USE:
	case FF_OP_KEY_REMOVE: {
		enum nc_agent_key_op kop =
		    op == FF_OP_KEY_INSTALL ? NC_AGENT_KEY_INSTALL
		    : op == FF_OP_KEY_USE   ? NC_AGENT_KEY_USE
					    : NC_AGENT_KEY_REMOVE;
		nc_agent_keyring_change(z->agent[0], kop, keys_b64[arg % 4],
					err, sizeof(err));
		break;
	}
	case FF_OP_FETCH: {
		const char *want[7];
		size_t n = 0;
		for (unsigned i = 0; i < 7; i++)
			if (arg & (1u << i))
				want[n++] = names[i];
		struct nc_agent_coords_fetch_result res;
		nc_agent_coords_fetch(nc_agent_coords(z->agent[0]),
				      sim_now(z->w), want, n, arg2 * 0.01,
				      &res);
		break;
	}
	default:
		sim_node_pause(z->node[0], arg2 / 1000.0);
		break;
	}
}

static int
world_new(struct fz *z, uint8_t hdr)
{
	memset(z, 0, sizeof(*z));
	z->keyed = (hdr & FF_HDR_KEYED) != 0;
	z->n_agents = 1 + (hdr & FF_HDR_PEERS) % 3;
	z->w = sim_world_new(0x5eed);
	if (z->w == NULL)
		return -1;
	sim_set_log(z->w, ff_log_quiet, NULL);
	sim_set_log_level(z->w, NC_LOG_DEBUG);
	const char *key = z->keyed ? FF_KEY_B64 : NULL;
	for (int i = 0; i < z->n_agents; i++) {
		z->node[i] = sim_node_add(z->w, names[i]);
		if (z->node[i] == NULL)
			return -1;
	}
	for (int i = 0; i < FF_FAKES; i++) {
		struct fake *f = &z->fake[i];
		f->z = z;
		f->sn = sim_node_add(z->w, names[3 + i]);
		if (f->sn == NULL)
			return -1;
		f->coord = (struct nc_proto_coord){
		    .dims = 8, .error = 1.5, .height = 1e-5};
		struct nc_env_sink sink = {f, fake_on_packet, fake_on_stream};
		nc_env_set_sink(sim_node_env(f->sn), &sink);
	}
	if (z->keyed) {
		uint8_t k[32];
		for (int i = 0; i < 32; i++)
			k[i] = (uint8_t)i;
		z->kr = nc_crypto_keyring_new();
		if (z->kr == NULL ||
		    nc_crypto_keyring_install(z->kr, k, sizeof(k)) != 0)
			return -1;
		nc_crypto_keyring_set_rand(z->kr, fixed_rand, z);
	}
	for (int i = 0; i < z->n_agents; i++) {
		z->agent[i] = ff_agent_new(
		    z->node[i], names[i],
		    i == 0 ? "\"dc\":\"a\"" : "\"dc\":\"b\"", key,
		    i > 0 ? sim_node_addr(z->node[0]) : NULL, false);
		if (z->agent[i] == NULL || nc_agent_start(z->agent[i]) != 0)
			return -1;
	}
	return 0;
}

static void
world_delete(struct fz *z)
{
	for (int i = 0; i < z->n_agents; i++)
		nc_agent_delete(z->agent[i]);
	for (int i = 0; i < FF_FAKES; i++)
		free(z->fake[i].reply);
	sim_world_delete(z->w);
	nc_crypto_keyring_delete(z->kr);
	free(z->hist);
	memset(z, 0, sizeof(*z));
}

static bool
finite_coord(const struct nc_coord *c)
{
	for (unsigned i = 0; i < c->dims && i < NC_COORD_DIMS_MAX; i++)
		if (!isfinite(c->vec[i]))
			return false;
	return isfinite(c->error) && isfinite(c->adjustment) &&
	       isfinite(c->height);
}

/** What must hold after any input. */
static void
check(struct fz *z)
{
	double now = sim_now(z->w);
	for (int a = 0; a < z->n_agents; a++) {
		struct nc_gossip *g = nc_agent_gossip(z->agent[a]);
		struct nc_agent_coords *c = nc_agent_coords(z->agent[a]);
		size_t n = nc_gossip_member_count(g);
		for (size_t i = 0; i < n; i++) {
			const struct nc_gossip_member *m =
			    nc_gossip_member_at(g, i);
			size_t len = strlen(m->name);
			CHECK(nc_gossip_name_check(m->name, len) ==
				  NC_GOSSIP_NAME_OK,
			      "member with an invalid name");
			CHECK(m->meta_len <= NC_GOSSIP_META_MAX,
			      "Meta over the cap");
			CHECK(nc_gossip_member_find(g, m->name) == m,
			      "member not found by its name (duplicate?)");
			struct nc_agent_coord_info info;
			if (nc_agent_coords_get(c, now, m->name, &info) == 0 &&
			    info.has_coord)
				CHECK(finite_coord(info.coord),
				      "cached coordinate not finite");
		}
		struct nc_agent_coord_info self;
		CHECK(nc_agent_coords_get(c, now, nc_agent_name(z->agent[a]),
					  &self) == 0 &&
			  self.has_coord && finite_coord(self.coord),
		      "own coordinate missing or not finite");
	}
}

/* ---------------------------------------------------------------- */
/* Persistent worlds and their history                               */
/* ---------------------------------------------------------------- */

/*
 * Building a world costs ~3 ms under ASan (an agent preallocates its
 * tables), far more than most inputs. So a world (one per header
 * variant) lives across inputs, the way a real agent lives through many
 * packets, and is rebuilt after FZ_WORLD_INPUTS inputs, FZ_WORLD_TIME_MAX
 * of virtual time, when its target has left, or when an input asks for
 * it (header bit FF_HDR_FRESH: that input alone reproduces). Each world
 * keeps the inputs it has run; when a check fails or a sanitizer reports,
 * they are written to fuzz_agent-history-PID.bin, and
 *   FUZZ_AGENT_REPLAY=fuzz_agent-history-PID.bin ./fuzz_agent
 * replays them in order on a fresh world (then exits).
 */
static struct fz worlds[6];
static struct fz *cur;

static void
history_dump(void)
{
	if (cur == NULL || cur->hist_len == 0)
		return;
	char path[64];
	snprintf(path, sizeof(path), "fuzz_agent-history-%d.bin", (int)getpid());
	FILE *f = fopen(path, "wb");
	if (f == NULL)
		return;
	fwrite(cur->hist, 1, cur->hist_len, f);
	fclose(f);
	fprintf(stderr, "fuzz_agent: inputs since the world was built: %s\n",
		path);
}

static void
history_add(struct fz *z, const uint8_t *data, size_t size)
{
	size_t need = z->hist_len + 4 + size;
	if (need > z->hist_cap) {
		size_t cap = z->hist_cap ? 2 * z->hist_cap : 65536;
		while (cap < need)
			cap *= 2;
		uint8_t *h = realloc(z->hist, cap);
		if (h == NULL)
			abort();
		z->hist = h;
		z->hist_cap = cap;
	}
	uint32_t n = (uint32_t)size;
	memcpy(z->hist + z->hist_len, &n, 4);
	memcpy(z->hist + z->hist_len + 4, data, size);
	z->hist_len = need;
	if (need > FZ_HISTORY_MAX)
		z->rebuild = true;
}

static void
run_input(const uint8_t *data, size_t size)
{
	static char buf[FZ_MSG_MAX + 1024];
	struct rd r = {data, data + size};
	uint8_t hdr = u8(&r);
	struct fz *z = &worlds[((hdr & FF_HDR_PEERS) % 3) * 2 +
			       ((hdr & FF_HDR_KEYED) != 0)];
	if (z->w != NULL &&
	    (z->rebuild || (hdr & FF_HDR_FRESH) ||
	     z->inputs >= FZ_WORLD_INPUTS ||
	     sim_now(z->w) > FZ_WORLD_TIME_MAX))
		world_delete(z);
	if (z->w == NULL) {
		if (world_new(z, hdr) != 0) {
			fprintf(stderr, "fuzz_agent: cannot build the world\n");
			abort();
		}
		ff_unit_start();
	}
	cur = z;
	z->inputs++;
	history_add(z, data, size);
	z->t_max = sim_now(z->w) + FZ_INPUT_TIME_MAX;
	while (r.p < r.end) {
		uint8_t kind = u8(&r), flags = kind & 0xf0;
		size_t len;
		const char *s;
		switch ((kind & 0x0f) % FF_REC_KINDS) {
		case FF_REC_UDP: {
			struct sim_node *from = sender(z, u8(&r));
			s = take(&r, u16(&r), &len);
			send_udp(z, from, s, len, flags);
			break;
		}
		case FF_REC_STREAM: {
			struct sim_node *from = sender(z, u8(&r));
			s = take(&r, u16(&r), &len);
			send_stream(z, from, s, len, flags);
			break;
		}
		case FF_REC_ADVANCE:
			run_to(z, sim_now(z->w) + u16(&r) / 1000.0);
			break;
		case FF_REC_CRAFT: {
			struct sim_node *from = sender(z, u8(&r));
			int n = craft(z, &r, from, buf, sizeof(buf));
			if (n > 0)
				send_udp(z, from, buf, (size_t)n, flags);
			break;
		}
		case FF_REC_PUSHPULL: {
			struct sim_node *from = sender(z, u8(&r));
			char *pp = craft_pushpull(z, &r, &len);
			if (pp != NULL && len > 0)
				send_stream(z, from, pp, len, flags);
			free(pp);
			break;
		}
		case FF_REC_CONTROL:
			control(z, &r);
			break;
		default: {
			struct fake *f = &z->fake[u8(&r) % FF_FAKES];
			s = take(&r, u16(&r), &len);
			free(f->reply);
			f->reply = len > 0 ? malloc(len) : NULL;
			f->reply_len = f->reply != NULL ? len : 0;
			if (f->reply != NULL)
				memcpy(f->reply, s, len);
			f->reply_encrypt = (flags & 0x40) != 0;
			break;
		}
		}
	}
	z->t_max += FZ_TAIL_S;
	run_to(z, sim_now(z->w) + FZ_TAIL_S);
	check(z);
}

static void
replay(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL) {
		perror(path);
		exit(2);
	}
	uint32_t n;
	size_t count = 0;
	while (fread(&n, 4, 1, f) == 1) {
		uint8_t *in = malloc(n ? n : 1);
		if (in == NULL || fread(in, 1, n, f) != n)
			break;
		/* the first input of a history ran on a fresh world */
		if (count == 0 && n > 0)
			in[0] |= FF_HDR_FRESH;
		run_input(in, n);
		free(in);
		count++;
	}
	fclose(f);
	fprintf(stderr, "fuzz_agent: replayed %zu inputs, no failure\n",
		count);
	for (size_t i = 0; i < sizeof(worlds) / sizeof(worlds[0]); i++)
		world_delete(&worlds[i]);
	exit(0);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	__sanitizer_set_death_callback(history_dump);
	const char *path = getenv("FUZZ_AGENT_REPLAY");
	if (path != NULL && path[0] != '\0')
		replay(path);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ff_unit_start();
	run_input(data, size);
	ff_unit_done("fuzz_agent", data, size);
	return 0;
}
