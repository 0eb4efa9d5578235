/*
 * tests/gossip/codec_fuzz.c - push arbitrary bytes through every decoder
 * of gossip/proto.h. Shared by the CUnit mutation loop (test_proto.c) and
 * the libFuzzer target (tests/fuzz/fuzz_proto.c). It asserts nothing
 * itself except internal consistency that must hold for ANY input
 * (decoded strings lie inside the input, lengths are sane); ASan/UBSan
 * do the rest.
 */
#include "codec_test.h"

#include <stdlib.h>
#include <string.h>

#include "gossip/proto.h"

/* abort() on a broken invariant: libFuzzer and CUnit both notice */
#define CHECK(cond) do { if (!(cond)) abort(); } while (0)

struct ctx {
	const char *lo;		/* bounds every borrowed string must obey */
	const char *hi;
	const char *slo;	/* scratch bounds (decompressed parts) */
	const char *shi;
	unsigned sum;
};

static void
check_str(const struct ctx *c, const struct nc_proto_str *s)
{
	if (s->len == 0)
		return;
	bool in_input = s->data >= c->lo && s->data + s->len <= c->hi;
	bool in_scratch = c->slo != NULL && s->data >= c->slo &&
			  s->data + s->len <= c->shi;
	CHECK(in_input || in_scratch);
}

static void
decode_meta(struct ctx *c, const struct nc_proto_str *meta)
{
	struct nc_proto_tag tags[NC_PROTO_MAX_TAGS];
	unsigned n;
	if (nc_proto_decode_tags(meta->data, meta->len, tags,
				 NC_PROTO_MAX_TAGS, &n) == 0) {
		CHECK(n <= NC_PROTO_MAX_TAGS);
		for (unsigned i = 0; i < n; i++) {
			c->sum += tags[i].key.len + tags[i].value.len;
			if (meta->len > 0 && tags[i].value.len > 0)
				CHECK(tags[i].value.data >= meta->data &&
				      tags[i].value.data + tags[i].value.len <=
				      meta->data + meta->len);
		}
	}
}

/* Decode one message body of the given type, as the SWIM layer would. */
static void
decode_body(struct ctx *c, uint8_t type, const char *p, const char *end)
{
	const char *start = p;
	int rc = 0;
	switch (type) {
	case NC_PROTO_PING: {
		struct nc_proto_ping m;
		if ((rc = nc_proto_decode_ping(&p, end, &m)) == 0) {
			check_str(c, &m.node);
			check_str(c, &m.source_addr);
			check_str(c, &m.source_node);
			c->sum += m.seq_no;
		}
		break;
	}
	case NC_PROTO_INDIRECT_PING: {
		struct nc_proto_indirect_ping m;
		if ((rc = nc_proto_decode_indirect_ping(&p, end, &m)) == 0) {
			check_str(c, &m.node);
			check_str(c, &m.target);
			c->sum += m.seq_no + m.nack;
		}
		break;
	}
	case NC_PROTO_ACK: {
		struct nc_proto_ack m;
		if ((rc = nc_proto_decode_ack(&p, end, &m)) == 0) {
			check_str(c, &m.payload);
			struct nc_proto_coord co;
			const char *q = m.payload.data;
			if (m.payload.len > 0 &&
			    nc_proto_decode_coord(&q, q + m.payload.len,
						  &co) == 0)
				c->sum += co.dims;
		}
		break;
	}
	case NC_PROTO_NACK: {
		struct nc_proto_nack m;
		if ((rc = nc_proto_decode_nack(&p, end, &m)) == 0)
			c->sum += m.seq_no;
		break;
	}
	case NC_PROTO_SUSPECT: {
		struct nc_proto_suspect m;
		if ((rc = nc_proto_decode_suspect(&p, end, &m)) == 0) {
			check_str(c, &m.node);
			check_str(c, &m.from);
		}
		break;
	}
	case NC_PROTO_DEAD: {
		struct nc_proto_dead m;
		if ((rc = nc_proto_decode_dead(&p, end, &m)) == 0) {
			check_str(c, &m.node);
			check_str(c, &m.from);
		}
		break;
	}
	case NC_PROTO_ALIVE: {
		struct nc_proto_alive m;
		if ((rc = nc_proto_decode_alive(&p, end, &m)) == 0) {
			check_str(c, &m.node);
			check_str(c, &m.addr);
			check_str(c, &m.meta);
			check_str(c, &m.vsn);
			decode_meta(c, &m.meta);
		}
		break;
	}
	case NC_PROTO_USER: {
		/* serf payload */
		uint8_t st;
		if (nc_proto_decode_type(&p, end, &st) != 0)
			break;
		const char *q = p;
		uint64_t lt;
		if (nc_proto_decode_serf_ltime(&q, end, &lt) == 0)
			c->sum += (unsigned)lt;
		if (st == NC_PROTO_SERF_LEAVE) {
			struct nc_proto_serf_leave m;
			if ((rc = nc_proto_decode_serf_leave(&p, end, &m)) == 0)
				check_str(c, &m.node);
		} else if (st == NC_PROTO_SERF_JOIN) {
			struct nc_proto_serf_join m;
			if ((rc = nc_proto_decode_serf_join(&p, end, &m)) == 0)
				check_str(c, &m.node);
		}
		break;
	}
	case NC_PROTO_ERR: {
		struct nc_proto_err m;
		if ((rc = nc_proto_decode_err(&p, end, &m)) == 0)
			check_str(c, &m.error);
		break;
	}
	case NC_PROTO_PUSH_PULL: {
		struct nc_proto_push_pull h;
		if ((rc = nc_proto_decode_push_pull(&p, end, &h)) != 0)
			break;
		for (uint32_t i = 0; i < h.nodes && rc == 0; i++) {
			struct nc_proto_push_node n;
			if ((rc = nc_proto_decode_push_node(&p, end, &n)) == 0) {
				check_str(c, &n.name);
				check_str(c, &n.meta);
				decode_meta(c, &n.meta);
			}
		}
		break;
	}
	default:
		break;
	}
	CHECK(rc <= 0);
	if (rc == 0)
		CHECK(p >= start && p <= end);
	c->sum += (unsigned)-rc;
}

static void
on_msg(void *arg, uint8_t type, const char *body, const char *end)
{
	struct ctx *c = arg;
	CHECK(body <= end);
	decode_body(c, type, body, end);
}

unsigned
nc_test_decode_all(const uint8_t *data, size_t len)
{
	const char *in = (const char *)data;
	const char *end = in + len;
	static char scratch[2 * NC_PROTO_MAX_PACKET_DECOMPRESSED];
	struct ctx c = {in, end, scratch, scratch + sizeof(scratch), 0};

	/* 1. as a decrypted UDP packet */
	int rc = nc_proto_packet_walk(in, len, scratch, sizeof(scratch),
				      on_msg, &c);
	CHECK(rc <= 0);

	/* 2. as every message body */
	c.slo = c.shi = NULL;
	for (unsigned t = 0; t <= NC_PROTO_ERR; t++)
		decode_body(&c, (uint8_t)t, in, end);
	if (len > 0)
		decode_body(&c, data[0], in + 1, end);

	/* 3. as a TCP stream prefix */
	struct nc_proto_stream_scan s;
	nc_proto_stream_scan_init(&s, 0);
	rc = nc_proto_stream_scan(&s, in, len);
	CHECK(rc >= 0 ? (size_t)rc <= len : true);
	/* resumable: a second call on a longer view must agree */
	if (len > 1) {
		nc_proto_stream_scan_init(&s, 0);
		int r1 = nc_proto_stream_scan(&s, in, len / 2);
		int r2 = r1 == NC_PROTO_NEED_MORE ?
			 nc_proto_stream_scan(&s, in, len) : r1;
		CHECK(r1 != NC_PROTO_NEED_MORE || r2 == rc || r2 < 0);
	}

	/* 4. compound / crc / compress wrappers directly */
	struct nc_proto_compound_iter it;
	if (nc_proto_compound_begin(&it, in, end) == 0) {
		struct nc_proto_str part;
		while (nc_proto_compound_next(&it, &part) == 1)
			check_str(&c, &part);
	}
	const char *p = in;
	struct nc_proto_str inner;
	if (nc_proto_decode_crc(&p, end, &inner) == 0)
		check_str(&c, &inner);
	p = in;
	struct nc_proto_compress cm;
	if (nc_proto_decode_compress(&p, end, &cm) == 0)
		check_str(&c, &cm.buf);

	/* 5. as LZW, bounded and growing */
	rc = nc_proto_lzw_decompress(scratch, 4096, in, len);
	CHECK(rc <= 4096);
	char *heap;
	rc = nc_proto_lzw_decompress_alloc(&heap, 1 << 20, in, len);
	if (rc >= 0) {
		CHECK(heap != NULL && rc <= (1 << 20));
		c.sum += (unsigned)rc;
		free(heap);
	} else {
		CHECK(heap == NULL);
	}

	/* 6. as Meta and as an ack payload */
	struct nc_proto_str meta = {in, (uint32_t)len};
	decode_meta(&c, &meta);
	struct nc_proto_coord co;
	p = in;
	if (nc_proto_decode_coord(&p, end, &co) == 0)
		CHECK(co.dims <= NC_PROTO_MAX_DIMS);
	return c.sum;
}
