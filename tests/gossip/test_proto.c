/*
 * tests/gossip/test_proto.c - suite "proto": gossip/proto.h against the
 * golden vectors produced by Go memberlist 0.2.2 / serf 0.9.4, plus
 * hostile-input tests (every truncation, oversized lengths, a seeded
 * mutation loop).
 *
 * Story: for every vector we decode, compare each decoded field with the
 * vector's JSON "fields", re-encode from the decoded struct and demand
 * the exact Go bytes. A vector present in the file but unknown to this
 * suite fails test_all_vectors_known, so new vectors cannot be skipped
 * silently.
 */
#include "codec_test.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/CUnit.h>

#include "gossip/proto.h"

/* ------------------------------------------------------------------ */
/* Field comparison helpers                                           */
/* ------------------------------------------------------------------ */

/** Tracks which JSON fields were compared: all of them must be. */
struct fcheck {
	const cJSON *fields;
	int used;
};

static const cJSON *
fget(struct fcheck *fc, const char *key)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(fc->fields, key);
	CU_ASSERT_PTR_NOT_NULL_FATAL(it);
	fc->used++;
	return it;
}

static void
fdone(struct fcheck *fc)
{
	CU_ASSERT_EQUAL(fc->used, cJSON_GetArraySize(fc->fields));
}

static bool
str_eq(struct nc_proto_str s, const char *data, size_t len)
{
	return s.len == len && (len == 0 || memcmp(s.data, data, len) == 0);
}

static bool
str_eqc(struct nc_proto_str s, const char *cstr)
{
	return str_eq(s, cstr, strlen(cstr));
}

static void
f_str(struct fcheck *fc, const char *key, struct nc_proto_str s)
{
	const cJSON *it = fget(fc, key);
	CU_ASSERT_FATAL(cJSON_IsString(it));
	CU_ASSERT(str_eqc(s, it->valuestring));
}

static void
f_uint(struct fcheck *fc, const char *key, uint64_t v)
{
	const cJSON *it = fget(fc, key);
	CU_ASSERT_FATAL(cJSON_IsNumber(it));
	CU_ASSERT_EQUAL((uint64_t)it->valuedouble, v);
}

static void
f_bool(struct fcheck *fc, const char *key, bool v)
{
	const cJSON *it = fget(fc, key);
	CU_ASSERT_FATAL(cJSON_IsBool(it));
	CU_ASSERT_EQUAL(cJSON_IsTrue(it) ? 1 : 0, v ? 1 : 0);
}

/* "127.0.0.1 (4 bytes)" or "127.0.0.1" */
static void
f_addr(struct fcheck *fc, const char *key, struct nc_proto_str s)
{
	const cJSON *it = fget(fc, key);
	CU_ASSERT_FATAL(cJSON_IsString(it));
	char ip[64];
	snprintf(ip, sizeof(ip), "%s", it->valuestring);
	ip[strcspn(ip, " ")] = '\0';
	unsigned char a[4];
	CU_ASSERT_FATAL(inet_pton(AF_INET, ip, a) == 1);
	CU_ASSERT(str_eq(s, (const char *)a, 4));
}

/* standard base64 (test-only, no validation beyond the alphabet) */
static size_t
b64dec(const char *in, char *out)
{
	static const char al[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	uint32_t acc = 0;
	int bits = 0;
	size_t n = 0;
	for (; *in && *in != '='; in++) {
		const char *q = strchr(al, *in);
		CU_ASSERT_PTR_NOT_NULL_FATAL(q);
		acc = acc << 6 | (uint32_t)(q - al);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[n++] = (char)(acc >> bits);
		}
	}
	return n;
}

static void
f_b64(struct fcheck *fc, const char *key, struct nc_proto_str s)
{
	const cJSON *it = fget(fc, key);
	CU_ASSERT_FATAL(cJSON_IsString(it));
	char buf[64];
	size_t n = b64dec(it->valuestring, buf);
	CU_ASSERT(str_eq(s, buf, n));
}

/* null (nil slice) or the name of another vector holding the bytes */
static void
f_ref(struct fcheck *fc, const char *key, struct nc_proto_str s)
{
	const cJSON *it = fget(fc, key);
	if (cJSON_IsNull(it)) {
		CU_ASSERT_EQUAL(s.len, 0);
		return;
	}
	CU_ASSERT_FATAL(cJSON_IsString(it));
	const struct test_vec *v = tv_get(it->valuestring);
	CU_ASSERT(str_eq(s, v->bytes, v->len));
}

static void
f_double(struct fcheck *fc, const char *key, double v)
{
	const cJSON *it = fget(fc, key);
	CU_ASSERT_FATAL(cJSON_IsNumber(it));
	CU_ASSERT_DOUBLE_EQUAL(v, it->valuedouble, 1e-15);
}

static bool
bytes_eq(const char *a, int alen, const struct test_vec *v)
{
	if (alen < 0 || (size_t)alen != v->len) {
		fprintf(stderr, "\n%s: length %d, want %zu\n", v->name, alen,
			v->len);
		return false;
	}
	return memcmp(a, v->bytes, v->len) == 0;
}

/* Decode the type byte of a vector; return the body. */
static const char *
vbody(const struct test_vec *v, uint8_t want_type)
{
	const char *p = v->bytes;
	uint8_t type;
	CU_ASSERT_FATAL(nc_proto_decode_type(&p, v->bytes + v->len,
					     &type) == 0);
	CU_ASSERT_EQUAL(type, want_type);
	return p;
}

static const char *
vend(const struct test_vec *v)
{
	return v->bytes + v->len;
}

/* ------------------------------------------------------------------ */
/* Golden vectors: decode, compare, re-encode                         */
/* ------------------------------------------------------------------ */

static void
check_ping(const char *name)
{
	const struct test_vec *v = tv_get(name);
	const char *p = vbody(v, NC_PROTO_PING);
	struct nc_proto_ping m;
	CU_ASSERT_EQUAL_FATAL(nc_proto_decode_ping(&p, vend(v), &m), 0);
	CU_ASSERT_PTR_EQUAL(p, vend(v));
	struct fcheck fc = {v->fields, 0};
	f_str(&fc, "Node", m.node);
	f_uint(&fc, "SeqNo", m.seq_no);
	if (cJSON_GetObjectItemCaseSensitive(v->fields, "SourceAddr")) {
		f_addr(&fc, "SourceAddr", m.source_addr);
		f_str(&fc, "SourceNode", m.source_node);
		f_uint(&fc, "SourcePort", m.source_port);
	} else {
		CU_ASSERT_EQUAL(m.source_addr.len, 0);
		CU_ASSERT_EQUAL(m.source_node.len, 0);
		CU_ASSERT_EQUAL(m.source_port, 0);
	}
	fdone(&fc);
	char buf[256];
	CU_ASSERT(bytes_eq(buf, nc_proto_encode_ping(buf, sizeof(buf), &m), v));
}

static void
test_vec_ping(void)
{
	check_ping("ping");
	check_ping("ping_minimal");
}

static void
test_vec_indirect_ping(void)
{
	const struct test_vec *v = tv_get("indirect_ping");
	const char *p = vbody(v, NC_PROTO_INDIRECT_PING);
	struct nc_proto_indirect_ping m;
	CU_ASSERT_EQUAL_FATAL(nc_proto_decode_indirect_ping(&p, vend(v), &m), 0);
	struct fcheck fc = {v->fields, 0};
	f_bool(&fc, "Nack", m.nack);
	f_str(&fc, "Node", m.node);
	f_uint(&fc, "Port", m.port);
	f_uint(&fc, "SeqNo", m.seq_no);
	f_addr(&fc, "SourceAddr", m.source_addr);
	f_str(&fc, "SourceNode", m.source_node);
	f_uint(&fc, "SourcePort", m.source_port);
	f_addr(&fc, "Target", m.target);
	fdone(&fc);
	char buf[256];
	CU_ASSERT(bytes_eq(buf, nc_proto_encode_indirect_ping(buf, sizeof(buf),
							      &m), v));
}

static void
check_ack(const char *name)
{
	const struct test_vec *v = tv_get(name);
	const char *p = vbody(v, NC_PROTO_ACK);
	struct nc_proto_ack m;
	CU_ASSERT_EQUAL_FATAL(nc_proto_decode_ack(&p, vend(v), &m), 0);
	struct fcheck fc = {v->fields, 0};
	f_ref(&fc, "Payload", m.payload);
	f_uint(&fc, "SeqNo", m.seq_no);
	fdone(&fc);
	char buf[512];
	CU_ASSERT(bytes_eq(buf, nc_proto_encode_ack(buf, sizeof(buf), &m), v));
}

static void
test_vec_ack(void)
{
	check_ack("ack_empty");
	check_ack("ack_with_serf_payload");
}

static void
test_vec_nack_err(void)
{
	const struct test_vec *v = tv_get("nack");
	const char *p = vbody(v, NC_PROTO_NACK);
	struct nc_proto_nack n;
	CU_ASSERT_EQUAL_FATAL(nc_proto_decode_nack(&p, vend(v), &n), 0);
	struct fcheck fc = {v->fields, 0};
	f_uint(&fc, "SeqNo", n.seq_no);
	fdone(&fc);
	char buf[64];
	CU_ASSERT(bytes_eq(buf, nc_proto_encode_nack(buf, sizeof(buf), &n), v));

	v = tv_get("err");
	p = vbody(v, NC_PROTO_ERR);
	struct nc_proto_err e;
	CU_ASSERT_EQUAL_FATAL(nc_proto_decode_err(&p, vend(v), &e), 0);
	fc = (struct fcheck){v->fields, 0};
	f_str(&fc, "Error", e.error);
	fdone(&fc);
	CU_ASSERT(bytes_eq(buf, nc_proto_encode_err(buf, sizeof(buf), &e), v));
}

static void
test_vec_suspect_dead(void)
{
	const struct test_vec *v = tv_get("suspect");
	const char *p = vbody(v, NC_PROTO_SUSPECT);
	struct nc_proto_suspect s;
	CU_ASSERT_EQUAL_FATAL(nc_proto_decode_suspect(&p, vend(v), &s), 0);
	struct fcheck fc = {v->fields, 0};
	f_str(&fc, "From", s.from);
	f_uint(&fc, "Incarnation", s.incarnation);
	f_str(&fc, "Node", s.node);
	fdone(&fc);
	char buf[128];
	CU_ASSERT(bytes_eq(buf, nc_proto_encode_suspect(buf, sizeof(buf), &s),
			   v));

	const char *names[] = {"dead", "dead_leave"};
	for (unsigned i = 0; i < 2; i++) {
		v = tv_get(names[i]);
		p = vbody(v, NC_PROTO_DEAD);
		struct nc_proto_dead d;
		CU_ASSERT_EQUAL_FATAL(nc_proto_decode_dead(&p, vend(v), &d), 0);
		fc = (struct fcheck){v->fields, 0};
		f_str(&fc, "From", d.from);
		f_uint(&fc, "Incarnation", d.incarnation);
		f_str(&fc, "Node", d.node);
		fdone(&fc);
		CU_ASSERT(bytes_eq(buf, nc_proto_encode_dead(buf, sizeof(buf),
							     &d), v));
	}
	/* dead_leave is a leave: From == Node */
	struct nc_proto_dead d;
	p = vbody(v, NC_PROTO_DEAD);
	nc_proto_decode_dead(&p, vend(v), &d);
	CU_ASSERT(str_eq(d.from, d.node.data, d.node.len));
}

static void
check_alive(const char *name)
{
	const struct test_vec *v = tv_get(name);
	const char *p = vbody(v, NC_PROTO_ALIVE);
	struct nc_proto_alive m;
	CU_ASSERT_EQUAL_FATAL(nc_proto_decode_alive(&p, vend(v), &m), 0);
	struct fcheck fc = {v->fields, 0};
	f_addr(&fc, "Addr", m.addr);
	f_uint(&fc, "Incarnation", m.incarnation);
	f_ref(&fc, "Meta", m.meta);
	f_str(&fc, "Node", m.node);
	f_uint(&fc, "Port", m.port);
	f_b64(&fc, "Vsn", m.vsn);
	fdone(&fc);
	char buf[256];
	CU_ASSERT(bytes_eq(buf, nc_proto_encode_alive(buf, sizeof(buf), &m),
			   v));
}

static void
test_vec_alive(void)
{
	check_alive("alive");
	check_alive("alive_empty_meta");
}

static void
test_vec_serf_tags(void)
{
	const struct test_vec *v = tv_get("serf_tags_meta");
	struct nc_proto_tag tags[4];
	unsigned n;
	CU_ASSERT_EQUAL_FATAL(nc_proto_decode_tags(v->bytes, v->len, tags, 4,
						   &n), 0);
	const cJSON *want = cJSON_GetObjectItemCaseSensitive(v->fields, "tags");
	CU_ASSERT_EQUAL_FATAL(n, (unsigned)cJSON_GetArraySize(want));
	for (unsigned i = 0; i < n; i++) {
		char key[64];
		snprintf(key, sizeof(key), "%.*s", (int)tags[i].key.len,
			 tags[i].key.data);
		const cJSON *it = cJSON_GetObjectItemCaseSensitive(want, key);
		CU_ASSERT_FATAL(cJSON_IsString(it));
		CU_ASSERT(str_eqc(tags[i].value, it->valuestring));
	}
	char buf[64];
	CU_ASSERT(bytes_eq(buf, nc_proto_encode_tags(buf, sizeof(buf), tags, n),
			   v));

	/* legacy (non-0xff) Meta is the role */
	CU_ASSERT_EQUAL(nc_proto_decode_tags("db", 2, tags, 4, &n), 0);
	CU_ASSERT_EQUAL(n, 1);
	CU_ASSERT(str_eqc(tags[0].key, "role") && str_eqc(tags[0].value, "db"));
	CU_ASSERT_EQUAL(nc_proto_decode_tags(NULL, 0, tags, 4, &n), 0);
	CU_ASSERT(n == 1 && str_eqc(tags[0].key, "role") &&
		  tags[0].value.len == 0);
	/* too many tags for the caller's array */
	CU_ASSERT_EQUAL(nc_proto_decode_tags(v->bytes, v->len, tags, 0, &n),
			NC_PROTO_ETOOBIG);
	/* more than 512 bytes of Meta cannot be encoded */
	static char big[600];
	memset(big, 'x', sizeof(big));
	struct nc_proto_tag t = {nc_proto_cstr("k"), {big, sizeof(big)}};
	char out[1024];
	CU_ASSERT_EQUAL(nc_proto_encode_tags(out, sizeof(out), &t, 1),
			NC_PROTO_EINVAL);
}

static void
check_serf_intent(const char *name, uint8_t serf_type)
{
	const struct test_vec *v = tv_get(name);
	const char *p = vbody(v, NC_PROTO_USER);
	uint8_t st;
	CU_ASSERT_EQUAL_FATAL(nc_proto_decode_type(&p, vend(v), &st), 0);
	CU_ASSERT_EQUAL_FATAL(st, serf_type);
	const char *q = p;
	uint64_t lt;
	CU_ASSERT_EQUAL(nc_proto_decode_serf_ltime(&q, vend(v), &lt), 0);
	CU_ASSERT_PTR_EQUAL(q, vend(v));
	struct fcheck fc = {v->fields, 0};
	char buf[128];
	buf[0] = NC_PROTO_USER;
	int n;
	if (serf_type == NC_PROTO_SERF_LEAVE) {
		struct nc_proto_serf_leave m;
		CU_ASSERT_EQUAL_FATAL(nc_proto_decode_serf_leave(&p, vend(v),
								 &m), 0);
		f_uint(&fc, "LTime", m.ltime);
		f_str(&fc, "Node", m.node);
		f_bool(&fc, "Prune", m.prune);
		CU_ASSERT_EQUAL(lt, m.ltime);
		n = nc_proto_encode_serf_leave(buf + 1, sizeof(buf) - 1, &m);
	} else {
		struct nc_proto_serf_join m;
		CU_ASSERT_EQUAL_FATAL(nc_proto_decode_serf_join(&p, vend(v),
								&m), 0);
		f_uint(&fc, "LTime", m.ltime);
		f_str(&fc, "Node", m.node);
		CU_ASSERT_EQUAL(lt, m.ltime);
		n = nc_proto_encode_serf_join(buf + 1, sizeof(buf) - 1, &m);
	}
	fdone(&fc);
	CU_ASSERT(bytes_eq(buf, n + 1, v));
	/* same bytes through nc_proto_encode_user (in place) */
	CU_ASSERT(bytes_eq(buf, nc_proto_encode_user(buf, sizeof(buf), buf + 1,
						     (size_t)n), v));
}

static void
test_vec_serf_intents(void)
{
	check_serf_intent("serf_join_intent_udp", NC_PROTO_SERF_JOIN);
	check_serf_intent("serf_leave_intent_udp", NC_PROTO_SERF_LEAVE);
}

static void
test_vec_compound(void)
{
	const struct test_vec *v = tv_get("compound_ping_suspect");
	const char *p = vbody(v, NC_PROTO_COMPOUND);
	struct nc_proto_compound_iter it;
	CU_ASSERT_EQUAL_FATAL(nc_proto_compound_begin(&it, p, vend(v)), 0);
	const cJSON *want = cJSON_GetObjectItemCaseSensitive(v->fields,
							    "parts");
	CU_ASSERT_EQUAL_FATAL(it.n, (unsigned)cJSON_GetArraySize(want));
	struct nc_proto_str parts[8];
	for (unsigned i = 0; i < it.n; i++) {
		CU_ASSERT_EQUAL_FATAL(nc_proto_compound_next(&it, &parts[i]), 1);
		const struct test_vec *pv =
			tv_get(cJSON_GetArrayItem(want, (int)i)->valuestring);
		CU_ASSERT(str_eq(parts[i], pv->bytes, pv->len));
	}
	struct nc_proto_str extra;
	CU_ASSERT_EQUAL(nc_proto_compound_next(&it, &extra), 0);
	char buf[512];
	CU_ASSERT(bytes_eq(buf, nc_proto_encode_compound(buf, sizeof(buf),
							 parts, 2), v));

	/* truncated: the second part's length overruns -> first part is
	 * still yielded, then ETRUNC (Go logs the rest as truncated) */
	char t[512];
	memcpy(t, v->bytes, v->len);
	t[4] = (char)0x7f;	/* part 2 length high byte */
	CU_ASSERT_EQUAL_FATAL(nc_proto_compound_begin(&it, t + 1, t + v->len),
			      0);
	CU_ASSERT_EQUAL(nc_proto_compound_next(&it, &extra), 1);
	CU_ASSERT_EQUAL(nc_proto_compound_next(&it, &extra), NC_PROTO_ETRUNC);
	CU_ASSERT_EQUAL(nc_proto_compound_next(&it, &extra), 0);
	/* header shorter than 2N */
	CU_ASSERT_EQUAL(nc_proto_compound_begin(&it, t + 1, t + 4),
			NC_PROTO_ETRUNC);
	/* trailing bytes after the last part are ignored */
	memcpy(t, v->bytes, v->len);
	memcpy(t + v->len, "junk", 4);
	CU_ASSERT_EQUAL_FATAL(nc_proto_compound_begin(&it, t + 1,
						      t + v->len + 4), 0);
	CU_ASSERT_EQUAL(nc_proto_compound_next(&it, &extra), 1);
	CU_ASSERT_EQUAL(nc_proto_compound_next(&it, &extra), 1);
	CU_ASSERT_EQUAL(nc_proto_compound_next(&it, &extra), 0);

	/* encoder limits: N <= 127, parts 1..65535 bytes */
	static struct nc_proto_str many[128];
	for (unsigned i = 0; i < 128; i++)
		many[i] = (struct nc_proto_str){"\x0b\x80", 2};
	static char big[2 + 2 * 128 + 2 * 128];
	CU_ASSERT_EQUAL(nc_proto_encode_compound(big, sizeof(big), many, 128),
			NC_PROTO_EINVAL);
	CU_ASSERT_EQUAL(nc_proto_encode_compound(big, sizeof(big), many, 127),
			2 + 4 * 127);
	CU_ASSERT_EQUAL(nc_proto_encode_compound(big, sizeof(big), many, 0),
			NC_PROTO_EINVAL);
	many[0].len = 0;
	CU_ASSERT_EQUAL(nc_proto_encode_compound(big, sizeof(big), many, 1),
			NC_PROTO_EINVAL);
}

static void
test_vec_crc(void)
{
	const struct test_vec *v = tv_get("crc_ping");
	const struct test_vec *ping = tv_get("ping");
	const char *p = vbody(v, NC_PROTO_HAS_CRC);
	struct nc_proto_str inner;
	CU_ASSERT_EQUAL_FATAL(nc_proto_decode_crc(&p, vend(v), &inner), 0);
	struct fcheck fc = {v->fields, 0};
	f_ref(&fc, "inner", inner);
	const cJSON *crc = fget(&fc, "crc32");
	char hex[16];
	snprintf(hex, sizeof(hex), "%08x",
		 nc_proto_crc32(0, inner.data, inner.len));
	CU_ASSERT_STRING_EQUAL(hex, crc->valuestring);
	fdone(&fc);
	char buf[256];
	CU_ASSERT(bytes_eq(buf, nc_proto_encode_crc(buf, sizeof(buf),
						    ping->bytes, ping->len), v));
	/* in place: inner already at buf + 5 */
	memcpy(buf + 5, ping->bytes, ping->len);
	CU_ASSERT(bytes_eq(buf, nc_proto_encode_crc(buf, sizeof(buf), buf + 5,
						    ping->len), v));
	/* flipped bit -> ECRC */
	buf[20] ^= 1;
	p = buf + 1;
	CU_ASSERT_EQUAL(nc_proto_decode_crc(&p, buf + v->len, &inner),
			NC_PROTO_ECRC);
	/* CRC-32/IEEE check value */
	CU_ASSERT_EQUAL(nc_proto_crc32(0, "123456789", 9), 0xcbf43926u);
}

static void
count_types(void *ctx, uint8_t type, const char *body, const char *end)
{
	(void)body;
	(void)end;
	unsigned *seen = ctx;
	seen[type]++;
}

static void
test_vec_label(void)
{
	/* serf 0.9.4 has no labels: a 244 packet must be dropped as an
	 * unsupported type, a 244 stream refused */
	const struct test_vec *v = tv_get("label_ping");
	struct fcheck fc = {v->fields, 0};
	fget(&fc, "inner");
	const cJSON *label = fget(&fc, "label");
	fdone(&fc);
	CU_ASSERT_EQUAL((uint8_t)v->bytes[0], NC_PROTO_HAS_LABEL);
	CU_ASSERT_EQUAL((size_t)(uint8_t)v->bytes[1],
			strlen(label->valuestring));
	static unsigned seen[256];
	memset(seen, 0, sizeof(seen));
	char scratch[1024];
	CU_ASSERT_EQUAL(nc_proto_packet_walk(v->bytes, v->len, scratch,
					     sizeof(scratch), count_types,
					     seen), 0);
	CU_ASSERT_EQUAL(seen[NC_PROTO_HAS_LABEL], 1);
	CU_ASSERT_EQUAL(seen[NC_PROTO_PING], 0);
	struct nc_proto_stream_scan s;
	nc_proto_stream_scan_init(&s, 0);
	CU_ASSERT_EQUAL(nc_proto_stream_scan(&s, v->bytes, v->len),
			NC_PROTO_ETYPE);
}

static void
test_vec_compress(void)
{
	const char *names[] = {"compress_alive",
			       "pushpull_join_2nodes_compressed"};
	for (unsigned i = 0; i < 2; i++) {
		const struct test_vec *v = tv_get(names[i]);
		const char *p = vbody(v, NC_PROTO_COMPRESS);
		struct nc_proto_compress c;
		CU_ASSERT_EQUAL_FATAL(nc_proto_decode_compress(&p, vend(v), &c),
				      0);
		CU_ASSERT_PTR_EQUAL(p, vend(v));
		struct fcheck fc = {v->fields, 0};
		if (cJSON_GetObjectItemCaseSensitive(v->fields, "Algo"))
			f_uint(&fc, "Algo", c.algo);
		char out[1024];
		int n = nc_proto_lzw_decompress(out, sizeof(out), c.buf.data,
						c.buf.len);
		CU_ASSERT_FATAL(n > 0);
		f_ref(&fc, "inner", (struct nc_proto_str){out, (uint32_t)n});
		fdone(&fc);
		/* heap variant */
		char *heap;
		CU_ASSERT_EQUAL(nc_proto_lzw_decompress_alloc(&heap, 1 << 20,
				c.buf.data, c.buf.len), n);
		CU_ASSERT(heap != NULL && memcmp(heap, out, (size_t)n) == 0);
		free(heap);
		/* cap too small -> ETOOBIG, never overflow */
		CU_ASSERT_EQUAL(nc_proto_lzw_decompress(out, (size_t)n - 1,
				c.buf.data, c.buf.len), NC_PROTO_ETOOBIG);
		/* our LZW encoder is byte-identical to Go's */
		char inner[1024];
		memcpy(inner, out, (size_t)n);
		CU_ASSERT(bytes_eq(out, nc_proto_encode_compress(out,
				   sizeof(out), inner, (size_t)n), v));
	}
	/* unknown Algo */
	const char bad[] = "\x82\xa4" "Algo" "\x01\xa3" "Buf" "\xa0";
	const char *p = bad;
	struct nc_proto_compress c;
	CU_ASSERT_EQUAL(nc_proto_decode_compress(&p, bad + sizeof(bad) - 1,
						 &c), NC_PROTO_EALGO);
}

static void
test_vec_coord(void)
{
	const char *names[] = {"serf_ack_payload", "serf_ack_payload_initial"};
	for (unsigned i = 0; i < 2; i++) {
		const struct test_vec *v = tv_get(names[i]);
		const char *p = v->bytes;
		struct nc_proto_coord c;
		CU_ASSERT_EQUAL_FATAL(nc_proto_decode_coord(&p, vend(v), &c), 0);
		CU_ASSERT_PTR_EQUAL(p, vend(v));
		struct fcheck fc = {v->fields, 0};
		f_double(&fc, "Adjustment", c.adjustment);
		f_double(&fc, "Error", c.error);
		f_double(&fc, "Height", c.height);
		const cJSON *vec = fget(&fc, "Vec");
		CU_ASSERT_EQUAL_FATAL(c.dims, (unsigned)cJSON_GetArraySize(vec));
		for (unsigned d = 0; d < c.dims; d++)
			CU_ASSERT_DOUBLE_EQUAL(c.vec[d],
				cJSON_GetArrayItem(vec, (int)d)->valuedouble,
				1e-15);
		fdone(&fc);
		char buf[256];
		CU_ASSERT(bytes_eq(buf, nc_proto_encode_coord(buf, sizeof(buf),
							      &c), v));
	}
	/* wrong version byte, too many dimensions */
	const struct test_vec *v = tv_get("serf_ack_payload");
	char t[256];
	memcpy(t, v->bytes, v->len);
	t[0] = 2;
	const char *p = t;
	struct nc_proto_coord c;
	CU_ASSERT_EQUAL(nc_proto_decode_coord(&p, t + v->len, &c),
			NC_PROTO_EVERSION);
	c.dims = NC_PROTO_MAX_DIMS + 1;
	CU_ASSERT_EQUAL(nc_proto_encode_coord(t, sizeof(t), &c),
			NC_PROTO_EINVAL);
	/* 9 doubles in Vec */
	memset(&c, 0, sizeof(c));
	c.dims = 8;
	int n = nc_proto_encode_coord(t, sizeof(t), &c);
	CU_ASSERT_FATAL(n > 0);
	CU_ASSERT_EQUAL_FATAL((uint8_t)t[n - 8 * 9 - 1], 0x98);
	t[n - 8 * 9 - 1] = (char)0x99;
	memcpy(t + n, t + n - 9, 9);
	p = t;
	CU_ASSERT_EQUAL(nc_proto_decode_coord(&p, t + n + 9, &c),
			NC_PROTO_ETOOBIG);
}

/* header + node states + user state, checked against the join vector */
static void
check_push_node(const cJSON *want, const struct nc_proto_push_node *n)
{
	struct fcheck fc = {want, 0};
	f_addr(&fc, "Addr", n->addr);
	f_uint(&fc, "Incarnation", n->incarnation);
	f_ref(&fc, "Meta", n->meta);
	f_str(&fc, "Name", n->name);
	f_uint(&fc, "Port", n->port);
	f_uint(&fc, "State", n->state);
	f_b64(&fc, "Vsn", n->vsn);
	fdone(&fc);
}

static void
check_pushpull(const char *name)
{
	const struct test_vec *v = tv_get(name);
	const cJSON *join_nodes = cJSON_GetObjectItemCaseSensitive(
		tv_get("pushpull_join_2nodes")->fields, "nodes");

	struct nc_proto_stream_scan s;
	nc_proto_stream_scan_init(&s, 0);
	CU_ASSERT_EQUAL(nc_proto_stream_scan(&s, v->bytes, v->len),
			(int)v->len);

	const char *p = vbody(v, NC_PROTO_PUSH_PULL);
	struct nc_proto_push_pull h;
	CU_ASSERT_EQUAL_FATAL(nc_proto_decode_push_pull(&p, vend(v), &h), 0);
	struct fcheck fc = {v->fields, 0};
	f_bool(&fc, "Join", h.join);
	f_uint(&fc, "UserStateLen", h.user_state_len);
	const cJSON *nodes = fget(&fc, "nodes");
	CU_ASSERT_EQUAL_FATAL(h.nodes, (unsigned)cJSON_GetArraySize(nodes));

	char buf[1024];
	int off = nc_proto_encode_push_pull(buf, sizeof(buf), &h);
	CU_ASSERT_FATAL(off > 0);
	for (unsigned i = 0; i < h.nodes; i++) {
		struct nc_proto_push_node n;
		CU_ASSERT_EQUAL_FATAL(nc_proto_decode_push_node(&p, vend(v), &n),
				      0);
		const cJSON *want = cJSON_GetArrayItem(nodes, (int)i);
		/* "node-a as in pushpull_join_2nodes" refers to the join
		 * vector's i-th node */
		if (cJSON_IsString(want))
			want = cJSON_GetArrayItem(join_nodes, (int)i);
		check_push_node(want, &n);
		int k = nc_proto_encode_push_node(buf + off,
						  sizeof(buf) - (size_t)off, &n);
		CU_ASSERT_FATAL(k > 0);
		off += k;
	}
	CU_ASSERT_EQUAL_FATAL((size_t)(vend(v) - p), h.user_state_len);
	const cJSON *us = cJSON_GetObjectItemCaseSensitive(v->fields,
							  "user_state_hex");
	if (us != NULL) {
		fc.used++;
		char hex[64] = "";
		for (unsigned i = 0; i < h.user_state_len && i < 16; i++)
			sprintf(hex + 2 * i, "%02x", (uint8_t)p[i]);
		CU_ASSERT_STRING_EQUAL(hex, us->valuestring);
	}
	fdone(&fc);
	memcpy(buf + off, p, h.user_state_len);
	off += (int)h.user_state_len;
	CU_ASSERT(bytes_eq(buf, off, v));
}

static void
test_vec_pushpull(void)
{
	check_pushpull("pushpull_join_2nodes");
	check_pushpull("pushpull_antientropy_userstate");
}

static void
test_vec_user_stream(void)
{
	const struct test_vec *v = tv_get("user_stream");
	const struct test_vec *join = tv_get("serf_join_intent_udp");
	const char *p = vbody(v, NC_PROTO_USER);
	struct nc_proto_user_stream u;
	CU_ASSERT_EQUAL_FATAL(nc_proto_decode_user_stream(&p, vend(v), &u), 0);
	struct fcheck fc = {v->fields, 0};
	f_uint(&fc, "UserMsgLen", u.user_msg_len);
	fget(&fc, "payload");
	fdone(&fc);
	CU_ASSERT_EQUAL_FATAL((size_t)(vend(v) - p), u.user_msg_len);
	/* payload = the UDP join intent minus its 0x08 */
	CU_ASSERT(u.user_msg_len == join->len - 1 &&
		  memcmp(p, join->bytes + 1, join->len - 1) == 0);
	char buf[128];
	CU_ASSERT(bytes_eq(buf, nc_proto_encode_user_stream(buf, sizeof(buf),
				join->bytes + 1, join->len - 1), v));
	struct nc_proto_stream_scan s;
	nc_proto_stream_scan_init(&s, 0);
	CU_ASSERT_EQUAL(nc_proto_stream_scan(&s, v->bytes, v->len),
			(int)v->len);
}

static void
test_vec_decode_leniency(void)
{
	/* str8 for a string and bin8 for []byte: Go accepts */
	const struct test_vec *v = tv_get("decode_accepts_str8_bin8");
	struct fcheck fc = {v->fields, 0};
	CU_ASSERT(cJSON_IsTrue(fget(&fc, "accepted")));
	fdone(&fc);
	const char *p = v->bytes;
	struct nc_proto_alive a;
	CU_ASSERT_EQUAL_FATAL(nc_proto_decode_alive(&p, vend(v), &a), 0);
	CU_ASSERT(str_eqc(a.node, "node-a"));
	CU_ASSERT(str_eq(a.addr, "\x7f\x00\x00\x01", 4));
	CU_ASSERT(str_eq(a.vsn, "\x01\x05\x02\x02\x05\x05", 6));
	CU_ASSERT_EQUAL(a.meta.len, 0);
	CU_ASSERT_EQUAL(a.port, 7946);
	/* our encoder normalises to Go's own form */
	char buf[256];
	int n = nc_proto_encode_alive(buf, sizeof(buf), &a);
	CU_ASSERT_FATAL(n > 0);
	CU_ASSERT(memchr(buf, 0xd9, (size_t)n) == NULL &&
		  memchr(buf, 0xc4, (size_t)n) == NULL);

	/* bin8 for a Go string: Go rejects, so do we */
	v = tv_get("decode_rejects_bin_for_string");
	fc = (struct fcheck){v->fields, 0};
	CU_ASSERT(cJSON_IsFalse(fget(&fc, "accepted")));
	fget(&fc, "error");
	fdone(&fc);
	p = v->bytes;
	CU_ASSERT_EQUAL(nc_proto_decode_alive(&p, vend(v), &a),
			NC_PROTO_EFORMAT);
}

/* Vectors covered by test_crypto.c */
static const char *const crypto_vectors[] = {
	"encrypted_ping_v1", "encrypted_ping_v0", "encrypted_crc_ping_v1",
	"labeled_encrypted_ping_v1", "pushpull_join_2nodes_encrypted",
};

static const char *const proto_vectors[] = {
	"serf_tags_meta", "ping", "ping_minimal", "indirect_ping",
	"ack_empty", "nack", "err", "suspect", "alive", "alive_empty_meta",
	"dead", "dead_leave", "serf_join_intent_udp", "serf_leave_intent_udp",
	"compound_ping_suspect", "crc_ping", "label_ping", "compress_alive",
	"serf_ack_payload", "serf_ack_payload_initial",
	"ack_with_serf_payload", "pushpull_join_2nodes",
	"pushpull_antientropy_userstate", "pushpull_join_2nodes_compressed",
	"user_stream", "decode_accepts_str8_bin8",
	"decode_rejects_bin_for_string",
};

static void
test_all_vectors_known(void)
{
	for (unsigned i = 0; i < tv_count(); i++) {
		const char *name = tv_at(i)->name;
		bool known = false;
		for (size_t j = 0; j < sizeof(proto_vectors) /
				       sizeof(proto_vectors[0]); j++)
			known |= strcmp(name, proto_vectors[j]) == 0;
		for (size_t j = 0; j < sizeof(crypto_vectors) /
				       sizeof(crypto_vectors[0]); j++)
			known |= strcmp(name, crypto_vectors[j]) == 0;
		if (!known)
			fprintf(stderr, "\nvector %s not covered\n", name);
		CU_ASSERT(known);
	}
	CU_ASSERT_EQUAL(tv_count(), sizeof(proto_vectors) /
		sizeof(proto_vectors[0]) + sizeof(crypto_vectors) /
		sizeof(crypto_vectors[0]));
}

/* ------------------------------------------------------------------ */
/* Leniency and strictness details (§2.2)                             */
/* ------------------------------------------------------------------ */

static void
test_decode_rules(void)
{
	struct nc_proto_ping m;
	const char *p;
	/* keys in any order, unknown keys skipped (with nested values) */
	const char a[] = "\x84\xa5SeqNo\x07\xa3Zzz\x92\x81\xa1x\x01\xc3"
			 "\xa4Node\xa1n\xa4Junk\xdc\x00\x01\xcb"
			 "\x00\x00\x00\x00\x00\x00\x00\x00";
	p = a;
	CU_ASSERT_EQUAL(nc_proto_decode_ping(&p, a + sizeof(a) - 1, &m), 0);
	CU_ASSERT_EQUAL(m.seq_no, 7);
	CU_ASSERT(str_eqc(m.node, "n"));
	CU_ASSERT_PTR_EQUAL(p, a + sizeof(a) - 1);
	/* missing keys = zero; nil string = "" */
	const char b[] = "\x81\xa4Node\xc0";
	p = b;
	CU_ASSERT_EQUAL(nc_proto_decode_ping(&p, b + sizeof(b) - 1, &m), 0);
	CU_ASSERT(m.seq_no == 0 && m.node.len == 0);
	/* any integer width: uint64 0xcf and signed 0xd2 for a uint32 */
	const char c[] = "\x81\xa5SeqNo\xcf\x00\x00\x00\x00\x00\x00\x00\x05";
	p = c;
	CU_ASSERT_EQUAL(nc_proto_decode_ping(&p, c + sizeof(c) - 1, &m), 0);
	CU_ASSERT_EQUAL(m.seq_no, 5);
	const char d[] = "\x81\xa5SeqNo\xd2\x00\x01\x00\x00";
	p = d;
	CU_ASSERT_EQUAL(nc_proto_decode_ping(&p, d + sizeof(d) - 1, &m), 0);
	CU_ASSERT_EQUAL(m.seq_no, 65536);
	/* range: 2^32 into a uint32, 70000 into a uint16, negatives */
	const char e[] = "\x81\xa5SeqNo\xcf\x00\x00\x00\x01\x00\x00\x00\x00";
	p = e;
	CU_ASSERT_EQUAL(nc_proto_decode_ping(&p, e + sizeof(e) - 1, &m),
			NC_PROTO_ERANGE);
	const char f[] = "\x81\xaaSourcePort\xce\x00\x01\x11\x70";
	p = f;
	CU_ASSERT_EQUAL(nc_proto_decode_ping(&p, f + sizeof(f) - 1, &m),
			NC_PROTO_ERANGE);
	const char g[] = "\x81\xa5SeqNo\xff";
	p = g;
	CU_ASSERT_EQUAL(nc_proto_decode_ping(&p, g + sizeof(g) - 1, &m),
			NC_PROTO_ERANGE);
	const char g2[] = "\x81\xa5SeqNo\xd0\x80";
	p = g2;
	CU_ASSERT_EQUAL(nc_proto_decode_ping(&p, g2 + sizeof(g2) - 1, &m),
			NC_PROTO_ERANGE);
	/* a string where an int is expected */
	const char h[] = "\x81\xa5SeqNo\xa1x";
	p = h;
	CU_ASSERT_EQUAL(nc_proto_decode_ping(&p, h + sizeof(h) - 1, &m),
			NC_PROTO_EFORMAT);
	/* bool from 0/1, but not 2 */
	struct nc_proto_push_pull pp;
	const char i1[] = "\x81\xa4Join\x01";
	p = i1;
	CU_ASSERT_EQUAL(nc_proto_decode_push_pull(&p, i1 + sizeof(i1) - 1,
						  &pp), 0);
	CU_ASSERT(pp.join);
	const char i2[] = "\x81\xa4Join\x02";
	p = i2;
	CU_ASSERT_EQUAL(nc_proto_decode_push_pull(&p, i2 + sizeof(i2) - 1,
						  &pp), NC_PROTO_EFORMAT);
	/* not a map */
	const char j[] = "\x92\x01\x02";
	p = j;
	CU_ASSERT_EQUAL(nc_proto_decode_ping(&p, j + sizeof(j) - 1, &m),
			NC_PROTO_EFORMAT);
	/* bin as a key (a Go string) */
	const char k[] = "\x81\xc4\x04Node\xa1n";
	p = k;
	CU_ASSERT_EQUAL(nc_proto_decode_ping(&p, k + sizeof(k) - 1, &m),
			NC_PROTO_EFORMAT);
	/* map16 / str16 / bin16 forms */
	const char l[] = "\xde\x00\x02\xda\x00\x04Node\xda\x00\x01n"
			 "\xa5SeqNo\xcd\x01\x00";
	p = l;
	CU_ASSERT_EQUAL(nc_proto_decode_ping(&p, l + sizeof(l) - 1, &m), 0);
	CU_ASSERT(str_eqc(m.node, "n") && m.seq_no == 256);
	/* reserved 0xc1 inside a skipped value */
	const char n[] = "\x81\xa1x\xc1";
	p = n;
	CU_ASSERT_EQUAL(nc_proto_decode_ping(&p, n + sizeof(n) - 1, &m),
			NC_PROTO_EFORMAT);
	/* Go int field with a negative value */
	const char o[] = "\x81\xa5Nodes\xff";
	p = o;
	CU_ASSERT_EQUAL(nc_proto_decode_push_pull(&p, o + sizeof(o) - 1, &pp),
			NC_PROTO_ERANGE);
}

static void
test_encode_rules(void)
{
	char buf[256];
	/* alive: Vsn must be exactly 6 bytes, Meta <= 512 */
	struct nc_proto_alive a = {
		.incarnation = 1, .node = nc_proto_cstr("x"),
		.addr = {"\x7f\0\0\1", 4}, .port = 1,
		.vsn = {"\x01\x05\x02\x02\x05", 5},
	};
	CU_ASSERT_EQUAL(nc_proto_encode_alive(buf, sizeof(buf), &a),
			NC_PROTO_EINVAL);
	a.vsn.len = 0;
	CU_ASSERT_EQUAL(nc_proto_encode_alive(buf, sizeof(buf), &a),
			NC_PROTO_EINVAL);
	struct nc_proto_push_node pn = {.name = nc_proto_cstr("x"),
					.vsn = {"\1\5\2", 3}};
	CU_ASSERT_EQUAL(nc_proto_encode_push_node(buf, sizeof(buf), &pn),
			NC_PROTO_EINVAL);
	/* every vector encoder: each cap below the size is ENOSPC and
	 * never writes past cap */
	const struct test_vec *v = tv_get("indirect_ping");
	const char *p = v->bytes + 1;
	struct nc_proto_indirect_ping ip;
	CU_ASSERT_EQUAL_FATAL(nc_proto_decode_indirect_ping(&p, vend(v), &ip),
			      0);
	for (size_t cap = 0; cap < v->len; cap++) {
		char *b = malloc(cap + 1);
		b[cap] = 0x5a;
		CU_ASSERT_EQUAL(nc_proto_encode_indirect_ping(b, cap, &ip),
				NC_PROTO_ENOSPC);
		CU_ASSERT_EQUAL(b[cap], 0x5a);
		free(b);
	}
	/* raw16 / raw32 headers for long strings; never str8 */
	static char big[70000];
	memset(big, 'a', sizeof(big));
	static char out[70100];
	struct nc_proto_err e = {{big, 40}};
	int n = nc_proto_encode_err(out, sizeof(out), &e);
	CU_ASSERT_EQUAL(n, 1 + 1 + 6 + 3 + 40);
	CU_ASSERT_EQUAL((uint8_t)out[8], 0xda);
	e.error.len = 70000;
	n = nc_proto_encode_err(out, sizeof(out), &e);
	CU_ASSERT_EQUAL(n, 1 + 1 + 6 + 5 + 70000);
	CU_ASSERT_EQUAL((uint8_t)out[8], 0xdb);
	p = out + 1;
	struct nc_proto_err e2;
	CU_ASSERT_EQUAL(nc_proto_decode_err(&p, out + n, &e2), 0);
	CU_ASSERT_EQUAL(e2.error.len, 70000);
	/* minimal unsigned ints: 0x7f, cc, cd, ce */
	uint32_t vals[] = {0x7f, 0x80, 0x100, 0x10000};
	int sizes[] = {1, 2, 3, 5};
	for (int i = 0; i < 4; i++) {
		struct nc_proto_nack nk = {vals[i]};
		CU_ASSERT_EQUAL(nc_proto_encode_nack(buf, sizeof(buf), &nk),
				1 + 1 + 6 + sizes[i]);
	}
}

/* ------------------------------------------------------------------ */
/* Stream framing                                                     */
/* ------------------------------------------------------------------ */

static void
test_stream_scan(void)
{
	const char *names[] = {
		"pushpull_join_2nodes", "pushpull_antientropy_userstate",
		"pushpull_join_2nodes_compressed", "pushpull_join_2nodes_encrypted",
		"user_stream", "ping", "ping_minimal", "ack_empty",
		"ack_with_serf_payload", "err", "compress_alive",
	};
	static char buf[4096];
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		const struct test_vec *v = tv_get(names[i]);
		/* fresh scanner per prefix: NEED_MORE until complete */
		for (size_t k = 0; k < v->len; k++) {
			struct nc_proto_stream_scan s;
			nc_proto_stream_scan_init(&s, 0);
			int rc = nc_proto_stream_scan(&s, v->bytes, k);
			if (rc != NC_PROTO_NEED_MORE)
				fprintf(stderr, "\n%s prefix %zu: %d\n",
					v->name, k, rc);
			CU_ASSERT_EQUAL(rc, NC_PROTO_NEED_MORE);
		}
		/* one scanner fed byte by byte, with trailing junk after */
		struct nc_proto_stream_scan s;
		nc_proto_stream_scan_init(&s, 0);
		memcpy(buf, v->bytes, v->len);
		memset(buf + v->len, 0xc1, 16);
		int rc = NC_PROTO_NEED_MORE;
		size_t k;
		for (k = 1; k <= v->len + 16 && rc == NC_PROTO_NEED_MORE; k++)
			rc = nc_proto_stream_scan(&s, buf, k);
		CU_ASSERT_EQUAL(rc, (int)v->len);
		CU_ASSERT_EQUAL(k - 1, v->len);
	}
	/* unsupported stream types */
	struct nc_proto_stream_scan s;
	const char *bad[] = {"\x07", "\x01", "\x03", "\x0b", "\x0c", "\xf4"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		nc_proto_stream_scan_init(&s, 0);
		CU_ASSERT_EQUAL(nc_proto_stream_scan(&s, bad[i], 1),
				NC_PROTO_ETYPE);
	}
	/* encrypted frame longer than 20 MiB */
	nc_proto_stream_scan_init(&s, 0);
	CU_ASSERT_EQUAL(nc_proto_stream_scan(&s, "\x0a\x01\x40\x00\x01", 5),
			NC_PROTO_ETOOBIG);
	/* push/pull announcing 4 billion nodes */
	const char pp[] = "\x06\x83\xa4Join\xc3\xa5Nodes\xce\xff\xff\xff\xff"
			  "\xacUserStateLen\x00";
	nc_proto_stream_scan_init(&s, 0);
	CU_ASSERT_EQUAL(nc_proto_stream_scan(&s, pp, sizeof(pp) - 1),
			NC_PROTO_ETOOBIG);
	/* user message announcing 100 MiB */
	const char um[] = "\x08\x81\xaaUserMsgLen\xce\x06\x40\x00\x00";
	nc_proto_stream_scan_init(&s, 0);
	CU_ASSERT_EQUAL(nc_proto_stream_scan(&s, um, sizeof(um) - 1),
			NC_PROTO_ETOOBIG);
	/* small custom cap: a compress map whose Buf claims 4 GiB is
	 * refused once the cap is reached, not awaited forever */
	const char cm[] = "\x09\x82\xa4" "Algo" "\x00\xa3" "Buf"
			  "\xdb\xff\xff\xff\xff";
	nc_proto_stream_scan_init(&s, 64);
	CU_ASSERT_EQUAL(nc_proto_stream_scan(&s, cm, sizeof(cm) - 1),
			NC_PROTO_NEED_MORE);
	static char full[64];
	memcpy(full, cm, sizeof(cm) - 1);
	CU_ASSERT_EQUAL(nc_proto_stream_scan(&s, full, 64), NC_PROTO_ETOOBIG);
	/* malformed header is an error, not NEED_MORE */
	nc_proto_stream_scan_init(&s, 0);
	CU_ASSERT_EQUAL(nc_proto_stream_scan(&s, "\x00\x92", 2),
			NC_PROTO_EFORMAT);
}

/* ------------------------------------------------------------------ */
/* Packet walk                                                        */
/* ------------------------------------------------------------------ */

static void
test_packet_walk(void)
{
	static unsigned seen[256];
	static char scratch[NC_PROTO_MAX_PACKET_DECOMPRESSED];
	const struct test_vec *ping = tv_get("ping");
	const struct test_vec *suspect = tv_get("suspect");
	const struct test_vec *alive = tv_get("compress_alive");

	/* CRC( compress( compound( ping, suspect, compress(alive) ) ) ) */
	struct nc_proto_str parts[3] = {
		{ping->bytes, (uint32_t)ping->len},
		{suspect->bytes, (uint32_t)suspect->len},
		{alive->bytes, (uint32_t)alive->len},
	};
	char comp[1024], pkt[1024];
	int n = nc_proto_encode_compound(comp, sizeof(comp), parts, 3);
	CU_ASSERT_FATAL(n > 0);
	int m = nc_proto_encode_compress(pkt + 5, sizeof(pkt) - 5, comp,
					 (size_t)n);
	CU_ASSERT_FATAL(m > 0);
	m = nc_proto_encode_crc(pkt, sizeof(pkt), pkt + 5, (size_t)m);
	CU_ASSERT_FATAL(m > 0);
	memset(seen, 0, sizeof(seen));
	CU_ASSERT_EQUAL(nc_proto_packet_walk(pkt, (size_t)m, scratch,
					     sizeof(scratch), count_types,
					     seen), 0);
	CU_ASSERT(seen[NC_PROTO_PING] == 1 && seen[NC_PROTO_SUSPECT] == 1 &&
		  seen[NC_PROTO_ALIVE] == 1);

	/* bad CRC: nothing delivered */
	pkt[m - 1] ^= 1;
	memset(seen, 0, sizeof(seen));
	CU_ASSERT_EQUAL(nc_proto_packet_walk(pkt, (size_t)m, scratch,
					     sizeof(scratch), count_types,
					     seen), NC_PROTO_ECRC);
	CU_ASSERT_EQUAL(seen[NC_PROTO_PING], 0);

	/* scratch too small for the decompression */
	memset(seen, 0, sizeof(seen));
	CU_ASSERT_EQUAL(nc_proto_packet_walk(alive->bytes, alive->len, scratch,
					     10, count_types, seen),
			NC_PROTO_ETOOBIG);

	/* an empty part and a truncated part: others still delivered */
	char c2[64] = "\x07\x03\x00\x00\x00\x09\x00\x40"
		      "\x0b\x81\xa5SeqNo\x01";
	memset(seen, 0, sizeof(seen));
	CU_ASSERT_EQUAL(nc_proto_packet_walk(c2, 8 + 9, scratch,
					     sizeof(scratch), count_types,
					     seen), NC_PROTO_EEMPTY);
	CU_ASSERT_EQUAL(seen[NC_PROTO_NACK], 1);

	/* nesting deeper than NC_PROTO_MAX_DEPTH */
	char deep[64];
	size_t d = 0;
	for (int i = 0; i < NC_PROTO_MAX_DEPTH + 1; i++) {
		deep[d++] = 7;
		deep[d++] = 1;
		size_t rest = (size_t)(NC_PROTO_MAX_DEPTH - i) * 4 + 9;
		deep[d++] = (char)(rest >> 8);
		deep[d++] = (char)rest;
	}
	memcpy(deep + d, "\x0b\x81\xa5SeqNo\x01", 9);
	memset(seen, 0, sizeof(seen));
	CU_ASSERT_EQUAL(nc_proto_packet_walk(deep, d + 9, scratch,
					     sizeof(scratch), count_types,
					     seen), NC_PROTO_EDEPTH);
	CU_ASSERT_EQUAL(seen[NC_PROTO_NACK], 0);
	/* one level less is fine */
	memset(seen, 0, sizeof(seen));
	CU_ASSERT_EQUAL(nc_proto_packet_walk(deep + 4, d + 5, scratch,
					     sizeof(scratch), count_types,
					     seen), 0);
	CU_ASSERT_EQUAL(seen[NC_PROTO_NACK], 1);

	/* a CRC shorter than 5 bytes is passed on as type 12 (Go: "not
	 * supported"); a nested CRC likewise */
	memset(seen, 0, sizeof(seen));
	CU_ASSERT_EQUAL(nc_proto_packet_walk("\x0c\x00\x00", 3, scratch,
					     sizeof(scratch), count_types,
					     seen), 0);
	CU_ASSERT_EQUAL(seen[NC_PROTO_HAS_CRC], 1);
	CU_ASSERT_EQUAL(nc_proto_packet_walk("", 0, scratch, sizeof(scratch),
					     count_types, seen),
			NC_PROTO_EEMPTY);
}

/** nc_proto_msg_cb summing the bytes delivered (type byte included). */
static void
sum_bytes(void *ctx, uint8_t type, const char *body, const char *end)
{
	(void)type;
	*(size_t *)ctx += (size_t)(end - body) + 1;
}

static void
test_packet_walk_budget(void)
{
	/* Issue 9 row 4: a datagram of ~150 compressed parts, each within
	 * the per-part cap, used to expand to ~10 MB. The budget counts
	 * every decompressed byte of one datagram, all parts together. */
	static char scratch[NC_PROTO_MAX_PACKET + 256]; /* as swim.c */
	static char big[60000], pkt[NC_PROTO_MAX_PACKET];
	static char parts_buf[NC_PROTO_MAX_PACKET];
	struct nc_proto_str parts[NC_PROTO_COMPOUND_MAX_PARTS];
	size_t off = 0, delivered = 0;
	unsigned n = 0;

	/* a user message (type 8) of 60,000 bytes compresses to ~500 */
	memset(big, 'A', sizeof(big));
	big[0] = NC_PROTO_USER;
	while (n < NC_PROTO_COMPOUND_MAX_PARTS) {
		int m = nc_proto_encode_compress(parts_buf + off,
						 sizeof(parts_buf) - off, big,
						 sizeof(big));
		CU_ASSERT_FATAL(m > 0);
		if (off + (size_t)m + 2 * (n + 1) + 2 > 65000)
			break;
		parts[n].data = parts_buf + off;
		parts[n].len = (uint32_t)m;
		off += (size_t)m;
		n++;
	}
	CU_ASSERT_FATAL(n >= 100);
	int len = nc_proto_encode_compound(pkt, sizeof(pkt), parts, n);
	CU_ASSERT_FATAL(len > 0 && len <= NC_PROTO_MAX_PACKET);
	CU_ASSERT_EQUAL(nc_proto_packet_walk(pkt, (size_t)len, scratch,
					     sizeof(scratch), sum_bytes,
					     &delivered),
			NC_PROTO_ETOOBIG);
	CU_ASSERT(delivered <= NC_PROTO_MAX_PACKET_DECOMPRESSED);
	/* one such part alone is fine */
	delivered = 0;
	CU_ASSERT_EQUAL(nc_proto_packet_walk(parts[0].data, parts[0].len,
					     scratch, sizeof(scratch),
					     sum_bytes, &delivered),
			0);
	CU_ASSERT_EQUAL(delivered, sizeof(big));
}

/* ------------------------------------------------------------------ */
/* LZW                                                                */
/* ------------------------------------------------------------------ */

static uint64_t
xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void
test_lzw(void)
{
	static char in[300000], comp[420000], out[300000];
	uint64_t seed = 42;
	/* sizes around the width changes and table resets; data from
	 * random (incompressible) to highly repetitive */
	size_t sizes[] = {0, 1, 2, 3, 255, 256, 511, 512, 4096, 5000,
			  70000, 300000};
	for (size_t si = 0; si < sizeof(sizes) / sizeof(sizes[0]); si++) {
		for (int kind = 0; kind < 3; kind++) {
			size_t len = sizes[si];
			for (size_t i = 0; i < len; i++) {
				uint64_t r = xorshift(&seed);
				in[i] = kind == 0 ? (char)r :
					kind == 1 ? (char)(r % 4) :
					(char)(i % 7 == 0 ? r % 3 : 'a');
			}
			int c = nc_proto_lzw_compress(comp, sizeof(comp), in, len);
			CU_ASSERT_FATAL(c > 0);
			int d = nc_proto_lzw_decompress(out, sizeof(out), comp,
							(size_t)c);
			CU_ASSERT_EQUAL_FATAL(d, (int)len);
			CU_ASSERT(memcmp(in, out, len) == 0);
			/* the encoder reports ENOSPC rather than overflow */
			if (c > 1)
				CU_ASSERT_EQUAL(nc_proto_lzw_compress(comp,
						(size_t)c - 1, in, len),
						NC_PROTO_ENOSPC);
			/* every truncation is rejected (no EOF code), the
			 * last byte only carries padding bits sometimes */
			if (len > 0 && len < 600) {
				for (int k = 0; k < c - 1; k++)
					CU_ASSERT(nc_proto_lzw_decompress(out,
						sizeof(out), comp, (size_t)k) < 0);
			}
		}
	}
	/* zip bomb: 1 MiB of zeros compresses to a few KiB; 64 KiB cap */
	static char zeros[1 << 20];
	memset(zeros, 0, sizeof(zeros));
	int c = nc_proto_lzw_compress(comp, sizeof(comp), zeros, sizeof(zeros));
	CU_ASSERT_FATAL(c > 0 && c < 20000);
	CU_ASSERT_EQUAL(nc_proto_lzw_decompress(out, 65536, comp, (size_t)c),
			NC_PROTO_ETOOBIG);
	char *heap;
	CU_ASSERT_EQUAL(nc_proto_lzw_decompress_alloc(&heap, 100000, comp,
						      (size_t)c),
			NC_PROTO_ETOOBIG);
	CU_ASSERT_PTR_NULL(heap);
	CU_ASSERT_EQUAL(nc_proto_lzw_decompress_alloc(&heap, 2 << 20, comp,
						      (size_t)c),
			1 << 20);
	free(heap);
	/* invalid code right after a clear (code 300 > hi) */
	/* bits: 256 (9 bits) then 300 (9 bits) */
	uint32_t bits = 256u | 300u << 9;
	char bad[3] = {(char)bits, (char)(bits >> 8), (char)(bits >> 16)};
	CU_ASSERT_EQUAL(nc_proto_lzw_decompress(out, sizeof(out), bad, 3),
			NC_PROTO_ELZW);
	/* empty input: no EOF code */
	CU_ASSERT_EQUAL(nc_proto_lzw_decompress(out, sizeof(out), bad, 0),
			NC_PROTO_ELZW);
}

/* ------------------------------------------------------------------ */
/* Hostile input                                                      */
/* ------------------------------------------------------------------ */

/* Single-message vectors: every strict prefix of the body is ETRUNC. */
static void
test_truncation(void)
{
	static const struct {
		const char *name;
		uint8_t type;
	} msgs[] = {
		{"ping", 0}, {"ping_minimal", 0}, {"indirect_ping", 1},
		{"ack_empty", 2}, {"ack_with_serf_payload", 2}, {"nack", 11},
		{"err", 13}, {"suspect", 3}, {"alive", 4},
		{"alive_empty_meta", 4}, {"dead", 5}, {"dead_leave", 5},
		{"compress_alive", 9},
	};
	for (size_t i = 0; i < sizeof(msgs) / sizeof(msgs[0]); i++) {
		const struct test_vec *v = tv_get(msgs[i].name);
		for (size_t k = 1; k < v->len; k++) {
			/* copy so ASan sees a read past the prefix */
			char *b = malloc(k);
			memcpy(b, v->bytes, k);
			const char *p = b + 1;
			int rc;
			union {
				struct nc_proto_ping a;
				struct nc_proto_indirect_ping b;
				struct nc_proto_ack c;
				struct nc_proto_nack d;
				struct nc_proto_err e;
				struct nc_proto_suspect f;
				struct nc_proto_alive g;
				struct nc_proto_dead h;
				struct nc_proto_compress j;
			} u;
			switch (msgs[i].type) {
			case 0: rc = nc_proto_decode_ping(&p, b + k, &u.a); break;
			case 1: rc = nc_proto_decode_indirect_ping(&p, b + k,
								   &u.b); break;
			case 2: rc = nc_proto_decode_ack(&p, b + k, &u.c); break;
			case 11: rc = nc_proto_decode_nack(&p, b + k, &u.d); break;
			case 13: rc = nc_proto_decode_err(&p, b + k, &u.e); break;
			case 3: rc = nc_proto_decode_suspect(&p, b + k, &u.f);
				break;
			case 4: rc = nc_proto_decode_alive(&p, b + k, &u.g); break;
			case 5: rc = nc_proto_decode_dead(&p, b + k, &u.h); break;
			default: rc = nc_proto_decode_compress(&p, b + k, &u.j);
				break;
			}
			CU_ASSERT_EQUAL(rc, NC_PROTO_ETRUNC);
			free(b);
		}
	}
	/* and every prefix of every vector through every decoder */
	for (unsigned i = 0; i < tv_count(); i++) {
		const struct test_vec *v = tv_at(i);
		for (size_t k = 0; k <= v->len; k++) {
			uint8_t *b = malloc(k + 1);
			memcpy(b, v->bytes, k);
			nc_test_decode_all(b, k);
			free(b);
		}
	}
}

static void
test_oversized(void)
{
	const char *p;
	struct nc_proto_err e;
	struct nc_proto_ping m;
	/* str32 claiming 4 GiB */
	const char a[] = "\x81\xa5" "Error" "\xdb\xff\xff\xff\xff" "abc";
	p = a;
	CU_ASSERT_EQUAL(nc_proto_decode_err(&p, a + sizeof(a) - 1, &e),
			NC_PROTO_ETRUNC);
	/* map32 claiming 4 billion entries */
	const char b[] = "\xdf\xff\xff\xff\xff\xa4Node\xa1x";
	p = b;
	CU_ASSERT_EQUAL(nc_proto_decode_ping(&p, b + sizeof(b) - 1, &m),
			NC_PROTO_ETRUNC);
	/* nested array32s inside a skipped value */
	const char c[] = "\x81\xa1x\xdd\xff\xff\xff\xff\xdd\xff\xff\xff\xff";
	p = c;
	CU_ASSERT_EQUAL(nc_proto_decode_ping(&p, c + sizeof(c) - 1, &m),
			NC_PROTO_ETRUNC);
	/* deeply nested fixarrays (no recursion in the skipper) */
	static char deep[100000];
	deep[0] = (char)0x81;
	deep[1] = (char)0xa1;
	deep[2] = 'x';
	memset(deep + 3, 0x91, sizeof(deep) - 4);
	deep[sizeof(deep) - 1] = 0x01;
	p = deep;
	CU_ASSERT_EQUAL(nc_proto_decode_ping(&p, deep + sizeof(deep), &m), 0);
	/* compound with 255 parts of 65535 bytes */
	char cmp[600];
	cmp[0] = (char)255;
	memset(cmp + 1, 0xff, 510);
	struct nc_proto_compound_iter it;
	struct nc_proto_str part;
	CU_ASSERT_EQUAL(nc_proto_compound_begin(&it, cmp, cmp + 511), 0);
	CU_ASSERT_EQUAL(nc_proto_compound_next(&it, &part), NC_PROTO_ETRUNC);
	/* coord Vec array32 of 4 billion doubles */
	const char d[] = "\x01\x81\xa3Vec\xdd\xff\xff\xff\xff\xcb";
	struct nc_proto_coord co;
	p = d;
	CU_ASSERT_EQUAL(nc_proto_decode_coord(&p, d + sizeof(d) - 1, &co),
			NC_PROTO_ETRUNC);
}

/* Seeded random mutations of every vector: never a crash. */
static void
test_mutation_fuzz(void)
{
	uint64_t seed = 0x6e63636f6465632aull;	/* fixed: reproducible */
	static uint8_t buf[4096];
	unsigned rounds = 20000;
	for (unsigned r = 0; r < rounds; r++) {
		const struct test_vec *v = tv_at(r % tv_count());
		size_t len = v->len;
		memcpy(buf, v->bytes, len);
		unsigned nmut = 1 + (unsigned)(xorshift(&seed) % 4);
		for (unsigned k = 0; k < nmut; k++) {
			uint64_t x = xorshift(&seed);
			size_t at = len > 0 ? (size_t)(x >> 8) % len : 0;
			switch (x % 6) {
			case 0: if (len) buf[at] ^= (uint8_t)(1u << (x >> 40) % 8);
				break;
			case 1: if (len) buf[at] = (uint8_t)(x >> 32); break;
			case 2: if (len) buf[at] = (uint8_t[]){0x00, 0x7f, 0x80,
					0xc0, 0xc4, 0xd9, 0xda, 0xdb, 0xdc,
					0xde, 0xdf, 0xff}[(x >> 20) % 12];
				break;
			case 3: len = at; break;	/* truncate */
			case 4:				/* duplicate a chunk */
				if (len > 0 && len + 16 < sizeof(buf)) {
					memmove(buf + at + 8, buf + at, len - at);
					len += 8;
				}
				break;
			default:			/* insert a byte */
				if (len + 1 < sizeof(buf)) {
					memmove(buf + at + 1, buf + at, len - at);
					buf[at] = (uint8_t)(x >> 48);
					len++;
				}
				break;
			}
		}
		/* exact-size heap copy: ASan catches any over-read */
		uint8_t *b = malloc(len + 1);
		memcpy(b, buf, len);
		nc_test_decode_all(b, len);
		free(b);
	}
	CU_PASS("mutations survived");
}

static void
test_strerror(void)
{
	static const int codes[] = {
		NC_PROTO_ETRUNC, NC_PROTO_EFORMAT, NC_PROTO_ETYPE,
		NC_PROTO_ECRC, NC_PROTO_ETOOBIG, NC_PROTO_ENOSPC,
		NC_PROTO_ERANGE, NC_PROTO_EALGO, NC_PROTO_ELZW,
		NC_PROTO_EVERSION, NC_PROTO_EDEPTH, NC_PROTO_EINVAL,
		NC_PROTO_EEMPTY, NC_PROTO_ENOMEM, NC_CRYPTO_EDECRYPT,
		NC_CRYPTO_EKEYLEN, NC_CRYPTO_EBASE64, NC_CRYPTO_ENOKEY,
		NC_CRYPTO_EVERSION, NC_CRYPTO_EFULL, NC_CRYPTO_ENOTFOUND,
		NC_CRYPTO_EPRIMARY, NC_CRYPTO_EOPENSSL, NC_CRYPTO_ERAND,
		NC_CRYPTO_ESHORT,
	};
	size_t n = sizeof(codes) / sizeof(codes[0]);
	for (size_t i = 0; i < n; i++) {
		CU_ASSERT(codes[i] < 0);
		CU_ASSERT_STRING_NOT_EQUAL(nc_proto_strerror(codes[i]),
					   "unknown error");
		for (size_t j = 0; j < i; j++) {
			CU_ASSERT(codes[i] != codes[j]);
			CU_ASSERT_STRING_NOT_EQUAL(nc_proto_strerror(codes[i]),
						   nc_proto_strerror(codes[j]));
		}
	}
	CU_ASSERT_STRING_EQUAL(nc_proto_strerror(12345), "unknown error");
}

int
test_proto_register(void)
{
	CU_pSuite s = CU_add_suite("proto", NULL, NULL);
	if (s == NULL)
		return -1;
	struct {
		const char *name;
		CU_TestFunc fn;
	} tests[] = {
		{"all vectors known", test_all_vectors_known},
		{"vector ping", test_vec_ping},
		{"vector indirect ping", test_vec_indirect_ping},
		{"vector ack", test_vec_ack},
		{"vector nack/err", test_vec_nack_err},
		{"vector suspect/dead", test_vec_suspect_dead},
		{"vector alive", test_vec_alive},
		{"vector serf tags", test_vec_serf_tags},
		{"vector serf intents", test_vec_serf_intents},
		{"vector compound", test_vec_compound},
		{"vector crc", test_vec_crc},
		{"vector label", test_vec_label},
		{"vector compress", test_vec_compress},
		{"vector coord", test_vec_coord},
		{"vector push/pull", test_vec_pushpull},
		{"vector user stream", test_vec_user_stream},
		{"vector decode leniency", test_vec_decode_leniency},
		{"decode rules", test_decode_rules},
		{"encode rules", test_encode_rules},
		{"stream scan", test_stream_scan},
		{"packet walk", test_packet_walk},
		{"packet walk budget", test_packet_walk_budget},
		{"lzw", test_lzw},
		{"truncation", test_truncation},
		{"oversized", test_oversized},
		{"mutation fuzz", test_mutation_fuzz},
		{"strerror", test_strerror},
	};
	for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++)
		if (CU_add_test(s, tests[i].name, tests[i].fn) == NULL)
			return -1;
	return 0;
}
