/*
 * gossip/proto.c - memberlist 0.2.2 / serf 0.9.4 message codec.
 *
 * Design
 * ------
 * memberlist encodes every message as a msgpack map keyed by Go field
 * names (go-msgpack 0.5.5, "old spec": raw strings, no str8, no bin).
 * Rather than hand-writing an encoder and a decoder per message, each
 * message is described ONCE by a table of fields (struct field: key,
 * kind, flags, offset into the C struct), sorted by key exactly as Go
 * emits them. encode_struct() walks the table to produce Go's bytes;
 * decode_struct() reads a map in any key order, looks every key up in the
 * table, converts the value with go-msgpack's leniency and skips unknown
 * keys. A new message = a new table + two three-line wrappers.
 *
 * Decoders never allocate and never copy: strings are returned as
 * pointer + length into the input (struct nc_proto_str). Every length is
 * checked against `end` before use. Running out of input is always
 * reported as NC_PROTO_ETRUNC and nothing else, which lets the TCP stream
 * scanner (nc_proto_stream_scan) reuse the real decoders to find message
 * boundaries on plaintext streams (which have no length prefix): ETRUNC
 * means "read more". A declared count/length that cannot fit in the
 * remaining bytes is ETRUNC too (it is, literally).
 *
 * Departures from Go, all deliberate:
 *  - structs encoded as msgpack arrays (positional) are rejected; Go
 *    accepts them but no memberlist ever sends them;
 *  - a []byte sent as an array of small integers is rejected (would need
 *    a copy; never sent);
 *  - Go `int` fields (Nodes, UserStateLen, State, UserMsgLen) are range
 *    checked against uint32: a negative value is NC_PROTO_ERANGE.
 *  - wrappers (compound/compress) nest at most NC_PROTO_MAX_DEPTH deep,
 *    decompressed sizes are capped (zip bombs).
 *
 * MsgPuck: this file defines MP_SOURCE before including <msgpuck.h>, so
 * the out-of-line definitions of all mp_* functions live in proto.o (i.e.
 * in libnc_gossip). It must be the ONLY file of the program doing so;
 * every other file includes <msgpuck.h> plainly. MsgPuck's mp_encode_str
 * emits str8 (0xd9), which Go never emits, so raw strings are written by
 * w_raw_hdr() below (fixstr / 0xda / 0xdb).
 */
#include "gossip/proto.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MP_SOURCE 1
#include <msgpuck.h>


/* ------------------------------------------------------------------ */
/* Errors                                                             */
/* ------------------------------------------------------------------ */

const char *
nc_proto_strerror(int err)
{
	switch (err) {
	case NC_PROTO_OK: return "success";
	case NC_PROTO_ETRUNC: return "truncated message";
	case NC_PROTO_EFORMAT: return "malformed message";
	case NC_PROTO_ETYPE: return "unsupported message type";
	case NC_PROTO_ECRC: return "CRC mismatch";
	case NC_PROTO_ETOOBIG: return "message too big";
	case NC_PROTO_ENOSPC: return "output buffer too small";
	case NC_PROTO_ERANGE: return "integer out of range";
	case NC_PROTO_EALGO: return "unknown compression algorithm";
	case NC_PROTO_ELZW: return "corrupt LZW data";
	case NC_PROTO_EVERSION: return "unsupported payload version";
	case NC_PROTO_EDEPTH: return "wrappers nested too deeply";
	case NC_PROTO_EINVAL: return "invalid argument";
	case NC_PROTO_EEMPTY: return "empty message";
	case NC_PROTO_ENOMEM: return "out of memory";
	case NC_CRYPTO_EDECRYPT: return "no installed keys could decrypt the message";
	case NC_CRYPTO_EKEYLEN: return "key must be 16, 24 or 32 bytes";
	case NC_CRYPTO_EBASE64: return "key is not valid base64";
	case NC_CRYPTO_ENOKEY: return "keyring is empty";
	case NC_CRYPTO_EVERSION: return "unsupported encryption version";
	case NC_CRYPTO_EFULL: return "keyring is full";
	case NC_CRYPTO_ENOTFOUND: return "key is not installed";
	case NC_CRYPTO_EPRIMARY: return "cannot remove the primary key";
	case NC_CRYPTO_EOPENSSL: return "OpenSSL failure";
	case NC_CRYPTO_ERAND: return "random source failure";
	case NC_CRYPTO_ESHORT: return "encrypted payload too short";
	default: return "unknown error";
	}
}

struct nc_proto_str
nc_proto_cstr(const char *s)
{
	struct nc_proto_str r = {s, s != NULL ? (uint32_t)strlen(s) : 0};
	return r;
}

int
nc_proto_decode_type(const char **pos, const char *end, uint8_t *type)
{
	if (*pos >= end)
		return NC_PROTO_EEMPTY;
	*type = (uint8_t)**pos;
	(*pos)++;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Byte helpers                                                       */
/* ------------------------------------------------------------------ */

static inline uint16_t
ld16(const char *p)
{
	const uint8_t *u = (const uint8_t *)p;
	return (uint16_t)(u[0] << 8 | u[1]);
}

static inline uint32_t
ld32(const char *p)
{
	const uint8_t *u = (const uint8_t *)p;
	return (uint32_t)u[0] << 24 | (uint32_t)u[1] << 16 |
	       (uint32_t)u[2] << 8 | (uint32_t)u[3];
}

static inline uint64_t
ld64(const char *p)
{
	return (uint64_t)ld32(p) << 32 | ld32(p + 4);
}

static inline void
st16(char *p, uint16_t v)
{
	p[0] = (char)(v >> 8);
	p[1] = (char)v;
}

static inline void
st32(char *p, uint32_t v)
{
	p[0] = (char)(v >> 24);
	p[1] = (char)(v >> 16);
	p[2] = (char)(v >> 8);
	p[3] = (char)v;
}

/** Bytes left between p and end (0 if p >= end). */
static inline size_t
left(const char *p, const char *end)
{
	return p < end ? (size_t)(end - p) : 0;
}

/* ------------------------------------------------------------------ */
/* msgpack writer (Go dialect)                                        */
/* ------------------------------------------------------------------ */

/*
 * Bounded writer: every w_* checks space first and, on overflow, sets
 * ok = false and stops writing. The caller checks ok once at the end.
 */
struct wr {
	char *p;
	char *end;
	bool ok;
};

static void
wr_init(struct wr *w, char *buf, size_t cap)
{
	w->p = buf;
	w->end = buf + cap;
	w->ok = true;
}

static bool
w_room(struct wr *w, size_t n)
{
	if (!w->ok || left(w->p, w->end) < n) {
		w->ok = false;
		return false;
	}
	return true;
}

static void
w_bytes(struct wr *w, const void *data, size_t n)
{
	if (n == 0 || !w_room(w, n))
		return;
	memcpy(w->p, data, n);
	w->p += n;
}

static void
w_u8(struct wr *w, uint8_t c)
{
	if (w_room(w, 1))
		*w->p++ = (char)c;
}

/* Raw header as go-msgpack writes it: fixstr / 0xda / 0xdb, never 0xd9. */
static void
w_raw_hdr(struct wr *w, uint32_t len)
{
	if (len < 32) {
		w_u8(w, (uint8_t)(0xa0 | len));
	} else if (len <= 0xffff) {
		if (w_room(w, 3)) {
			*w->p++ = (char)0xda;
			st16(w->p, (uint16_t)len);
			w->p += 2;
		}
	} else if (w_room(w, 5)) {
		*w->p++ = (char)0xdb;
		st32(w->p, len);
		w->p += 4;
	}
}

static void
w_raw(struct wr *w, const char *data, uint32_t len)
{
	w_raw_hdr(w, len);
	w_bytes(w, data, len);
}

static void
w_key(struct wr *w, const char *key, size_t len)
{
	w_raw(w, key, (uint32_t)len);
}

static void
w_uint(struct wr *w, uint64_t v)
{
	if (w_room(w, mp_sizeof_uint(v)))
		w->p = mp_encode_uint(w->p, v);
}

static void
w_map(struct wr *w, uint32_t n)
{
	if (w_room(w, mp_sizeof_map(n)))
		w->p = mp_encode_map(w->p, n);
}

static void
w_array(struct wr *w, uint32_t n)
{
	if (w_room(w, mp_sizeof_array(n)))
		w->p = mp_encode_array(w->p, n);
}

static void
w_bool(struct wr *w, bool v)
{
	w_u8(w, v ? 0xc3 : 0xc2);
}

static void
w_nil(struct wr *w)
{
	w_u8(w, 0xc0);
}

static void
w_double(struct wr *w, double v)
{
	if (w_room(w, mp_sizeof_double(v)))
		w->p = mp_encode_double(w->p, v);
}

/** Finish: length written, or NC_PROTO_ENOSPC. */
static int
wr_done(const struct wr *w, const char *buf)
{
	if (!w->ok)
		return NC_PROTO_ENOSPC;
	assert(w->p - buf <= INT32_MAX);
	return (int)(w->p - buf);
}

/* ------------------------------------------------------------------ */
/* msgpack reader (go-msgpack 0.5.5 leniency)                         */
/* ------------------------------------------------------------------ */

/*
 * Read a string-family header and its bytes: fixstr, str8, str16, str32,
 * nil (-> {NULL, 0}) and, if allow_bin, bin8/16/32. Go string fields
 * refuse bin ("Unrecognized descriptor byte"), []byte fields accept it.
 */
static int
rd_str(const char **pos, const char *end, bool allow_bin,
       struct nc_proto_str *out)
{
	const char *p = *pos;
	if (p >= end)
		return NC_PROTO_ETRUNC;
	uint8_t c = (uint8_t)*p++;
	uint32_t len;
	if (c >= 0xa0 && c <= 0xbf) {
		len = c & 0x1f;
	} else {
		switch (c) {
		case 0xc0:
			out->data = NULL;
			out->len = 0;
			*pos = p;
			return 0;
		case 0xc4: case 0xc5: case 0xc6:
			if (!allow_bin)
				return NC_PROTO_EFORMAT;
			c = (uint8_t)(c - 0xc4 + 0xd9);
			/* bin8/16/32 have the length layout of str8/16/32 */
			/* fallthrough */
		case 0xd9: case 0xda: case 0xdb: {
			size_t n = c == 0xd9 ? 1 : c == 0xda ? 2 : 4;
			if (left(p, end) < n)
				return NC_PROTO_ETRUNC;
			len = n == 1 ? (uint8_t)*p : n == 2 ? ld16(p) : ld32(p);
			p += n;
			break;
		}
		default:
			return NC_PROTO_EFORMAT;
		}
	}
	if (left(p, end) < len)
		return NC_PROTO_ETRUNC;
	out->data = p;
	out->len = len;
	*pos = p + len;
	return 0;
}

/*
 * Read an integer of any msgpack width into *v, checking 0 <= v <= max.
 * nil decodes as 0 (go-msgpack sets the zero value).
 */
static int
rd_uint(const char **pos, const char *end, uint64_t max, uint64_t *v)
{
	const char *p = *pos;
	if (p >= end)
		return NC_PROTO_ETRUNC;
	uint8_t c = (uint8_t)*p++;
	uint64_t u;
	bool neg = false;
	if (c <= 0x7f) {
		u = c;
	} else if (c >= 0xe0) {
		neg = true;
		u = 0;
	} else {
		size_t n;
		switch (c) {
		case 0xc0: u = 0; n = 0; break;
		case 0xcc: case 0xd0: n = 1; break;
		case 0xcd: case 0xd1: n = 2; break;
		case 0xce: case 0xd2: n = 4; break;
		case 0xcf: case 0xd3: n = 8; break;
		default: return NC_PROTO_EFORMAT;
		}
		if (left(p, end) < n)
			return NC_PROTO_ETRUNC;
		if (n > 0) {
			u = n == 1 ? (uint8_t)*p : n == 2 ? ld16(p) :
			    n == 4 ? ld32(p) : ld64(p);
			if (c >= 0xd0) {
				/* signed: negative iff the top bit is set */
				uint64_t sign = (uint64_t)1 << (n * 8 - 1);
				neg = (u & sign) != 0;
			}
		}
		p += n;
	}
	if (neg || u > max)
		return NC_PROTO_ERANGE;
	*v = u;
	*pos = p;
	return 0;
}

/* bool: 0xc2/0xc3, the integers 0 and 1, nil = false. */
static int
rd_bool(const char **pos, const char *end, bool *v)
{
	if (*pos >= end)
		return NC_PROTO_ETRUNC;
	uint8_t c = (uint8_t)**pos;
	if (c == 0xc2 || c == 0xc3) {
		*v = c == 0xc3;
		(*pos)++;
		return 0;
	}
	uint64_t u;
	int rc = rd_uint(pos, end, 1, &u);
	if (rc == NC_PROTO_ERANGE)
		return NC_PROTO_EFORMAT;
	if (rc == 0)
		*v = u != 0;
	return rc;
}

/* float64 (0xcb), float32 (0xca), nil = 0 and any integer. */
static int
rd_double(const char **pos, const char *end, double *v)
{
	const char *p = *pos;
	if (p >= end)
		return NC_PROTO_ETRUNC;
	uint8_t c = (uint8_t)*p;
	if (c == 0xcb || c == 0xca) {
		size_t n = c == 0xcb ? 8 : 4;
		if (left(p + 1, end) < n)
			return NC_PROTO_ETRUNC;
		if (n == 8) {
			uint64_t bits = ld64(p + 1);
			memcpy(v, &bits, sizeof(*v));
		} else {
			uint32_t bits = ld32(p + 1);
			float f;
			memcpy(&f, &bits, sizeof(f));
			*v = f;
		}
		*pos = p + 1 + n;
		return 0;
	}
	if (c >= 0xe0 || c == 0xd0 || c == 0xd1 || c == 0xd2 || c == 0xd3) {
		/* negative or signed integer */
		int64_t s;
		size_t n = c >= 0xe0 ? 0 : (size_t)1 << (c - 0xd0);
		if (left(p + 1, end) < n)
			return NC_PROTO_ETRUNC;
		switch (n) {
		case 0: s = (int8_t)c; break;
		case 1: s = (int8_t)p[1]; break;
		case 2: s = (int16_t)ld16(p + 1); break;
		case 4: s = (int32_t)ld32(p + 1); break;
		default: s = (int64_t)ld64(p + 1); break;
		}
		*v = (double)s;
		*pos = p + 1 + n;
		return 0;
	}
	uint64_t u;
	int rc = rd_uint(pos, end, UINT64_MAX, &u);
	if (rc == 0)
		*v = (double)u;
	return rc;
}

/* Map header: fixmap, map16, map32; nil = empty map. */
static int
rd_map(const char **pos, const char *end, uint32_t *n)
{
	const char *p = *pos;
	if (p >= end)
		return NC_PROTO_ETRUNC;
	uint8_t c = (uint8_t)*p++;
	if (c >= 0x80 && c <= 0x8f) {
		*n = c & 0x0f;
	} else if (c == 0xc0) {
		*n = 0;
	} else if (c == 0xde || c == 0xdf) {
		size_t k = c == 0xde ? 2 : 4;
		if (left(p, end) < k)
			return NC_PROTO_ETRUNC;
		*n = k == 2 ? ld16(p) : ld32(p);
		p += k;
	} else {
		return NC_PROTO_EFORMAT;
	}
	/* every entry needs at least 2 bytes */
	if ((uint64_t)*n * 2 > left(p, end))
		return NC_PROTO_ETRUNC;
	*pos = p;
	return 0;
}

/* Array header: fixarray, array16, array32; nil = empty. */
static int
rd_array(const char **pos, const char *end, uint32_t *n)
{
	const char *p = *pos;
	if (p >= end)
		return NC_PROTO_ETRUNC;
	uint8_t c = (uint8_t)*p++;
	if (c >= 0x90 && c <= 0x9f) {
		*n = c & 0x0f;
	} else if (c == 0xc0) {
		*n = 0;
	} else if (c == 0xdc || c == 0xdd) {
		size_t k = c == 0xdc ? 2 : 4;
		if (left(p, end) < k)
			return NC_PROTO_ETRUNC;
		*n = k == 2 ? ld16(p) : ld32(p);
		p += k;
	} else {
		return NC_PROTO_EFORMAT;
	}
	if (*n > left(p, end))
		return NC_PROTO_ETRUNC;
	*pos = p;
	return 0;
}

/*
 * Skip one msgpack value of any type. Iterative (no recursion, so no
 * stack exhaustion on deeply nested garbage): `todo` counts values still
 * to skip; a container adds its children. Since every value takes at
 * least one byte, todo > bytes left means truncated.
 */
static int
skip_value(const char **pos, const char *end)
{
	const char *p = *pos;
	uint64_t todo = 1;
	while (todo > 0) {
		if (todo > left(p, end))
			return NC_PROTO_ETRUNC;
		uint8_t c = (uint8_t)*p++;
		todo--;
		uint64_t skip = 0;
		size_t lenb = 0;	/* bytes of a length field */
		unsigned mult = 0;	/* what a length counts: 0 bytes */
		if (c <= 0x7f || c >= 0xe0) {
			/* fixint */
		} else if (c <= 0x8f) {
			todo += 2u * (c & 0x0f);
		} else if (c <= 0x9f) {
			todo += c & 0x0f;
		} else if (c <= 0xbf) {
			skip = c & 0x1f;
		} else {
			switch (c) {
			case 0xc0: case 0xc2: case 0xc3: break;
			case 0xc1: return NC_PROTO_EFORMAT;
			case 0xc4: case 0xd9: lenb = 1; break;
			case 0xc5: case 0xda: lenb = 2; break;
			case 0xc6: case 0xdb: lenb = 4; break;
			case 0xc7: lenb = 1; skip = 1; break;	/* ext8 */
			case 0xc8: lenb = 2; skip = 1; break;
			case 0xc9: lenb = 4; skip = 1; break;
			case 0xca: skip = 4; break;
			case 0xcb: skip = 8; break;
			case 0xcc: case 0xd0: skip = 1; break;
			case 0xcd: case 0xd1: skip = 2; break;
			case 0xce: case 0xd2: skip = 4; break;
			case 0xcf: case 0xd3: skip = 8; break;
			case 0xd4: skip = 2; break;		/* fixext */
			case 0xd5: skip = 3; break;
			case 0xd6: skip = 5; break;
			case 0xd7: skip = 9; break;
			case 0xd8: skip = 17; break;
			case 0xdc: lenb = 2; mult = 1; break;
			case 0xdd: lenb = 4; mult = 1; break;
			case 0xde: lenb = 2; mult = 2; break;
			case 0xdf: lenb = 4; mult = 2; break;
			default: return NC_PROTO_EFORMAT;
			}
		}
		if (lenb > 0) {
			if (left(p, end) < lenb)
				return NC_PROTO_ETRUNC;
			uint32_t n = lenb == 1 ? (uint8_t)*p :
				     lenb == 2 ? ld16(p) : ld32(p);
			p += lenb;
			if (mult > 0)
				todo += (uint64_t)n * mult;
			else
				skip += n;
		}
		if (left(p, end) < skip)
			return NC_PROTO_ETRUNC;
		p += skip;
	}
	*pos = p;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Table-driven structs                                               */
/* ------------------------------------------------------------------ */

enum fkind {
	F_STR,		/* Go string -> struct nc_proto_str, bin refused */
	F_BYTES,	/* Go []byte -> struct nc_proto_str, nil if empty */
	F_U8,		/* uint8_t */
	F_U16,		/* uint16_t */
	F_U32,		/* uint32_t (Go uint32, or Go int range-checked) */
	F_U64,		/* uint64_t */
	F_BOOL,		/* bool */
	F_RAW,		/* any one value, kept as its msgpack bytes */
};

/* omitempty: the key is left out of the map when the value is zero */
#define F_OMIT 1

struct field {
	const char *key;
	uint8_t key_len;
	uint8_t kind;
	uint8_t flags;
	uint16_t off;
};

#define FIELD(k, kind, flags, type, member) \
	{k, sizeof(k) - 1, kind, flags, offsetof(type, member)}
#define NFIELDS(t) (sizeof(t) / sizeof((t)[0]))

static bool
field_is_zero(const struct field *f, const void *s)
{
	const char *p = (const char *)s + f->off;
	switch (f->kind) {
	case F_STR:
	case F_BYTES:
	case F_RAW:
		return ((const struct nc_proto_str *)(const void *)p)->len == 0;
	case F_U8: return *(const uint8_t *)p == 0;
	case F_U16: return *(const uint16_t *)(const void *)p == 0;
	case F_U32: return *(const uint32_t *)(const void *)p == 0;
	case F_U64: return *(const uint64_t *)(const void *)p == 0;
	default: return !*(const bool *)p;
	}
}

/* Encode struct s as a map in table order (the table is sorted like Go). */
static void
encode_struct(struct wr *w, const struct field *fields, size_t n,
	      const void *s)
{
	uint32_t count = 0;
	for (size_t i = 0; i < n; i++)
		if (!(fields[i].flags & F_OMIT) || !field_is_zero(&fields[i], s))
			count++;
	w_map(w, count);
	for (size_t i = 0; i < n; i++) {
		const struct field *f = &fields[i];
		if ((f->flags & F_OMIT) && field_is_zero(f, s))
			continue;
		w_key(w, f->key, f->key_len);
		const char *p = (const char *)s + f->off;
		switch (f->kind) {
		case F_STR: {
			const struct nc_proto_str *str = (const void *)p;
			w_raw(w, str->data, str->len);
			break;
		}
		case F_BYTES: {
			/* memberlist's empty []byte fields are nil slices */
			const struct nc_proto_str *str = (const void *)p;
			if (str->len == 0)
				w_nil(w);
			else
				w_raw(w, str->data, str->len);
			break;
		}
		case F_RAW: {
			/* already msgpack; nil when empty */
			const struct nc_proto_str *str = (const void *)p;
			if (str->len == 0)
				w_nil(w);
			else
				w_bytes(w, str->data, str->len);
			break;
		}
		case F_U8: w_uint(w, *(const uint8_t *)p); break;
		case F_U16: w_uint(w, *(const uint16_t *)(const void *)p); break;
		case F_U32: w_uint(w, *(const uint32_t *)(const void *)p); break;
		case F_U64: w_uint(w, *(const uint64_t *)(const void *)p); break;
		default: w_bool(w, *(const bool *)p); break;
		}
	}
}

static int
decode_field(const char **pos, const char *end, const struct field *f,
	     void *s)
{
	char *p = (char *)s + f->off;
	uint64_t u;
	int rc;
	switch (f->kind) {
	case F_STR:
		return rd_str(pos, end, false, (struct nc_proto_str *)(void *)p);
	case F_BYTES:
		return rd_str(pos, end, true, (struct nc_proto_str *)(void *)p);
	case F_RAW: {
		struct nc_proto_str *str = (struct nc_proto_str *)(void *)p;
		const char *start = *pos;
		if ((rc = skip_value(pos, end)) != 0)
			return rc;
		str->data = start;
		str->len = (uint32_t)(*pos - start);
		return 0;
	}
	case F_U8:
		if ((rc = rd_uint(pos, end, UINT8_MAX, &u)) == 0)
			*(uint8_t *)p = (uint8_t)u;
		return rc;
	case F_U16:
		if ((rc = rd_uint(pos, end, UINT16_MAX, &u)) == 0)
			*(uint16_t *)(void *)p = (uint16_t)u;
		return rc;
	case F_U32:
		if ((rc = rd_uint(pos, end, UINT32_MAX, &u)) == 0)
			*(uint32_t *)(void *)p = (uint32_t)u;
		return rc;
	case F_U64:
		if ((rc = rd_uint(pos, end, UINT64_MAX, &u)) == 0)
			*(uint64_t *)(void *)p = u;
		return rc;
	default:
		return rd_bool(pos, end, (bool *)p);
	}
}

/*
 * Decode a map into struct s (already zeroed by the caller): keys in any
 * order, unknown keys skipped, a repeated key overwrites (as in Go).
 */
static int
decode_struct(const char **pos, const char *end, const struct field *fields,
	      size_t n, void *s)
{
	const char *p = *pos;
	uint32_t count;
	int rc = rd_map(&p, end, &count);
	if (rc != 0)
		return rc;
	for (uint32_t i = 0; i < count; i++) {
		struct nc_proto_str key;
		if ((rc = rd_str(&p, end, false, &key)) != 0)
			return rc;
		const struct field *f = NULL;
		for (size_t j = 0; j < n; j++) {
			if (fields[j].key_len == key.len &&
			    memcmp(fields[j].key, key.data, key.len) == 0) {
				f = &fields[j];
				break;
			}
		}
		rc = f != NULL ? decode_field(&p, end, f, s) :
				 skip_value(&p, end);
		if (rc != 0)
			return rc;
	}
	*pos = p;
	return 0;
}

/* type byte + struct */
static int
encode_msg(char *buf, size_t cap, uint8_t type, const struct field *fields,
	   size_t n, const void *s)
{
	struct wr w;
	wr_init(&w, buf, cap);
	w_u8(&w, type);
	encode_struct(&w, fields, n, s);
	return wr_done(&w, buf);
}

/* ------------------------------------------------------------------ */
/* Message tables (sorted by key, byte-wise, as go-msgpack emits them) */
/* ------------------------------------------------------------------ */

static const struct field ping_fields[] = {
	FIELD("Node", F_STR, 0, struct nc_proto_ping, node),
	FIELD("SeqNo", F_U32, 0, struct nc_proto_ping, seq_no),
	FIELD("SourceAddr", F_BYTES, F_OMIT, struct nc_proto_ping, source_addr),
	FIELD("SourceNode", F_STR, F_OMIT, struct nc_proto_ping, source_node),
	FIELD("SourcePort", F_U16, F_OMIT, struct nc_proto_ping, source_port),
};

static const struct field indirect_fields[] = {
	FIELD("Nack", F_BOOL, 0, struct nc_proto_indirect_ping, nack),
	FIELD("Node", F_STR, 0, struct nc_proto_indirect_ping, node),
	FIELD("Port", F_U16, 0, struct nc_proto_indirect_ping, port),
	FIELD("SeqNo", F_U32, 0, struct nc_proto_indirect_ping, seq_no),
	FIELD("SourceAddr", F_BYTES, F_OMIT, struct nc_proto_indirect_ping,
	      source_addr),
	FIELD("SourceNode", F_STR, F_OMIT, struct nc_proto_indirect_ping,
	      source_node),
	FIELD("SourcePort", F_U16, F_OMIT, struct nc_proto_indirect_ping,
	      source_port),
	FIELD("Target", F_BYTES, 0, struct nc_proto_indirect_ping, target),
};

static const struct field ack_fields[] = {
	FIELD("Payload", F_BYTES, 0, struct nc_proto_ack, payload),
	FIELD("SeqNo", F_U32, 0, struct nc_proto_ack, seq_no),
};

static const struct field nack_fields[] = {
	FIELD("SeqNo", F_U32, 0, struct nc_proto_nack, seq_no),
};

static const struct field suspect_fields[] = {
	FIELD("From", F_STR, 0, struct nc_proto_suspect, from),
	FIELD("Incarnation", F_U32, 0, struct nc_proto_suspect, incarnation),
	FIELD("Node", F_STR, 0, struct nc_proto_suspect, node),
};

static const struct field dead_fields[] = {
	FIELD("From", F_STR, 0, struct nc_proto_dead, from),
	FIELD("Incarnation", F_U32, 0, struct nc_proto_dead, incarnation),
	FIELD("Node", F_STR, 0, struct nc_proto_dead, node),
};

static const struct field alive_fields[] = {
	FIELD("Addr", F_BYTES, 0, struct nc_proto_alive, addr),
	FIELD("Incarnation", F_U32, 0, struct nc_proto_alive, incarnation),
	FIELD("Meta", F_BYTES, 0, struct nc_proto_alive, meta),
	FIELD("Node", F_STR, 0, struct nc_proto_alive, node),
	FIELD("Port", F_U16, 0, struct nc_proto_alive, port),
	FIELD("Vsn", F_BYTES, 0, struct nc_proto_alive, vsn),
};

static const struct field push_pull_fields[] = {
	FIELD("Join", F_BOOL, 0, struct nc_proto_push_pull, join),
	FIELD("Nodes", F_U32, 0, struct nc_proto_push_pull, nodes),
	FIELD("UserStateLen", F_U32, 0, struct nc_proto_push_pull,
	      user_state_len),
};

static const struct field push_node_fields[] = {
	FIELD("Addr", F_BYTES, 0, struct nc_proto_push_node, addr),
	FIELD("Incarnation", F_U32, 0, struct nc_proto_push_node, incarnation),
	FIELD("Meta", F_BYTES, 0, struct nc_proto_push_node, meta),
	FIELD("Name", F_STR, 0, struct nc_proto_push_node, name),
	FIELD("Port", F_U16, 0, struct nc_proto_push_node, port),
	FIELD("State", F_U32, 0, struct nc_proto_push_node, state),
	FIELD("Vsn", F_BYTES, 0, struct nc_proto_push_node, vsn),
};

static const struct field user_stream_fields[] = {
	FIELD("UserMsgLen", F_U32, 0, struct nc_proto_user_stream,
	      user_msg_len),
};

static const struct field err_fields[] = {
	FIELD("Error", F_STR, 0, struct nc_proto_err, error),
};

static const struct field compress_fields[] = {
	FIELD("Algo", F_U8, 0, struct nc_proto_compress, algo),
	FIELD("Buf", F_BYTES, 0, struct nc_proto_compress, buf),
};

static const struct field serf_leave_fields[] = {
	FIELD("LTime", F_U64, 0, struct nc_proto_serf_leave, ltime),
	FIELD("Node", F_STR, 0, struct nc_proto_serf_leave, node),
	FIELD("Prune", F_BOOL, 0, struct nc_proto_serf_leave, prune),
};

static const struct field serf_join_fields[] = {
	FIELD("LTime", F_U64, 0, struct nc_proto_serf_join, ltime),
	FIELD("Node", F_STR, 0, struct nc_proto_serf_join, node),
};

/* serf user event, query, query response, key request (§7.2) */
static const struct field serf_user_event_fields[] = {
	FIELD("CC", F_BOOL, 0, struct nc_proto_serf_user_event, cc),
	FIELD("LTime", F_U64, 0, struct nc_proto_serf_user_event, ltime),
	FIELD("Name", F_STR, 0, struct nc_proto_serf_user_event, name),
	FIELD("Payload", F_BYTES, 0, struct nc_proto_serf_user_event, payload),
};

static const struct field serf_query_fields[] = {
	FIELD("Addr", F_BYTES, 0, struct nc_proto_serf_query, addr),
	FIELD("Filters", F_RAW, 0, struct nc_proto_serf_query, filters),
	FIELD("Flags", F_U32, 0, struct nc_proto_serf_query, flags),
	FIELD("ID", F_U32, 0, struct nc_proto_serf_query, id),
	FIELD("LTime", F_U64, 0, struct nc_proto_serf_query, ltime),
	FIELD("Name", F_STR, 0, struct nc_proto_serf_query, name),
	FIELD("Payload", F_BYTES, 0, struct nc_proto_serf_query, payload),
	FIELD("Port", F_U16, 0, struct nc_proto_serf_query, port),
	FIELD("RelayFactor", F_U8, 0, struct nc_proto_serf_query,
	      relay_factor),
	FIELD("SourceNode", F_STR, 0, struct nc_proto_serf_query, source_node),
	FIELD("Timeout", F_U64, 0, struct nc_proto_serf_query, timeout_ns),
};

static const struct field serf_query_response_fields[] = {
	FIELD("Flags", F_U32, 0, struct nc_proto_serf_query_response, flags),
	FIELD("From", F_STR, 0, struct nc_proto_serf_query_response, from),
	FIELD("ID", F_U32, 0, struct nc_proto_serf_query_response, id),
	FIELD("LTime", F_U64, 0, struct nc_proto_serf_query_response, ltime),
	FIELD("Payload", F_BYTES, 0, struct nc_proto_serf_query_response,
	      payload),
};

static const struct field serf_key_request_fields[] = {
	FIELD("Key", F_BYTES, 0, struct nc_proto_serf_key_request, key),
};

/* Decoding only (Keys read raw: an array of strings, or nil). */
static const struct field serf_key_response_fields[] = {
	FIELD("Keys", F_RAW, 0, struct nc_proto_serf_key_response, keys_raw),
	FIELD("Message", F_STR, 0, struct nc_proto_serf_key_response,
	      message),
	FIELD("PrimaryKey", F_STR, 0, struct nc_proto_serf_key_response,
	      primary_key),
	FIELD("Result", F_BOOL, 0, struct nc_proto_serf_key_response, result),
};

/* Decoding only: the parts of a serf Member a conflict vote needs. */
struct member_wire {
	struct nc_proto_str addr, name;
	uint16_t port;
	uint8_t status, vsn[6];
};
static const struct field serf_member_fields[] = {
	FIELD("Addr", F_BYTES, 0, struct member_wire, addr),
	FIELD("DelegateCur", F_U8, 0, struct member_wire, vsn[5]),
	FIELD("DelegateMax", F_U8, 0, struct member_wire, vsn[4]),
	FIELD("DelegateMin", F_U8, 0, struct member_wire, vsn[3]),
	FIELD("Name", F_STR, 0, struct member_wire, name),
	FIELD("Port", F_U16, 0, struct member_wire, port),
	FIELD("ProtocolCur", F_U8, 0, struct member_wire, vsn[2]),
	FIELD("ProtocolMax", F_U8, 0, struct member_wire, vsn[1]),
	FIELD("ProtocolMin", F_U8, 0, struct member_wire, vsn[0]),
	FIELD("Status", F_U8, 0, struct member_wire, status),
};

static const struct field serf_filter_tag_fields[] = {
	FIELD("Expr", F_STR, 0, struct nc_proto_serf_filter_tag, expr),
	FIELD("Tag", F_STR, 0, struct nc_proto_serf_filter_tag, tag),
};

/*
 * One encoder and one decoder per message. The decoders zero *out first
 * so that missing keys read as zero, like Go's zero values.
 */
#define DEFINE_CODEC(name, type_byte, fields)				\
int									\
nc_proto_encode_##name(char *buf, size_t cap,				\
		       const struct nc_proto_##name *m)			\
{									\
	return encode_msg(buf, cap, type_byte, fields, NFIELDS(fields), m); \
}									\
int									\
nc_proto_decode_##name(const char **pos, const char *end,		\
		       struct nc_proto_##name *out)			\
{									\
	memset(out, 0, sizeof(*out));					\
	return decode_struct(pos, end, fields, NFIELDS(fields), out);	\
}

DEFINE_CODEC(ping, NC_PROTO_PING, ping_fields)
DEFINE_CODEC(indirect_ping, NC_PROTO_INDIRECT_PING, indirect_fields)
DEFINE_CODEC(ack, NC_PROTO_ACK, ack_fields)
DEFINE_CODEC(nack, NC_PROTO_NACK, nack_fields)
DEFINE_CODEC(suspect, NC_PROTO_SUSPECT, suspect_fields)
DEFINE_CODEC(dead, NC_PROTO_DEAD, dead_fields)
DEFINE_CODEC(err, NC_PROTO_ERR, err_fields)
DEFINE_CODEC(push_pull, NC_PROTO_PUSH_PULL, push_pull_fields)
DEFINE_CODEC(serf_leave, NC_PROTO_SERF_LEAVE, serf_leave_fields)
DEFINE_CODEC(serf_join, NC_PROTO_SERF_JOIN, serf_join_fields)
DEFINE_CODEC(serf_user_event, NC_PROTO_SERF_USER_EVENT,
	     serf_user_event_fields)
DEFINE_CODEC(serf_query, NC_PROTO_SERF_QUERY, serf_query_fields)
DEFINE_CODEC(serf_query_response, NC_PROTO_SERF_QUERY_RESPONSE,
	     serf_query_response_fields)
DEFINE_CODEC(serf_key_request, NC_PROTO_SERF_KEY_REQUEST,
	     serf_key_request_fields)

int
nc_proto_decode_serf_filter_tag(const char **pos, const char *end,
				struct nc_proto_serf_filter_tag *out)
{
	memset(out, 0, sizeof(*out));
	return decode_struct(pos, end, serf_filter_tag_fields,
			     NFIELDS(serf_filter_tag_fields), out);
}

int
nc_proto_decode_serf_key_response(const char **pos, const char *end,
				  struct nc_proto_serf_key_response *out)
{
	memset(out, 0, sizeof(*out));
	return decode_struct(pos, end, serf_key_response_fields,
			     NFIELDS(serf_key_response_fields), out);
}

int
nc_proto_decode_serf_conflict_response(const char **pos, const char *end,
				       struct nc_proto_serf_member *out)
{
	struct member_wire w;
	memset(out, 0, sizeof(*out));
	memset(&w, 0, sizeof(w));
	int rc = decode_struct(pos, end, serf_member_fields,
			       NFIELDS(serf_member_fields), &w);
	if (rc != 0)
		return rc;
	out->addr = w.addr;
	out->name = w.name;
	out->port = w.port;
	out->status = w.status;
	memcpy(out->vsn, w.vsn, sizeof(out->vsn));
	return 0;
}

int
nc_proto_encode_alive(char *buf, size_t cap, const struct nc_proto_alive *m)
{
	/* A 1..5-byte Vsn panics the Go peer, an empty one poisons its
	 * version check (§5.1): never emit anything but 6 bytes. */
	if (m->vsn.len != NC_PROTO_VSN_LEN || m->meta.len > NC_PROTO_META_MAX)
		return NC_PROTO_EINVAL;
	return encode_msg(buf, cap, NC_PROTO_ALIVE, alive_fields,
			  NFIELDS(alive_fields), m);
}

int
nc_proto_decode_alive(const char **pos, const char *end,
		      struct nc_proto_alive *out)
{
	memset(out, 0, sizeof(*out));
	return decode_struct(pos, end, alive_fields, NFIELDS(alive_fields),
			     out);
}

int
nc_proto_encode_push_node(char *buf, size_t cap,
			  const struct nc_proto_push_node *m)
{
	if (m->vsn.len != NC_PROTO_VSN_LEN || m->meta.len > NC_PROTO_META_MAX)
		return NC_PROTO_EINVAL;
	struct wr w;
	wr_init(&w, buf, cap);
	encode_struct(&w, push_node_fields, NFIELDS(push_node_fields), m);
	return wr_done(&w, buf);
}

int
nc_proto_decode_push_node(const char **pos, const char *end,
			  struct nc_proto_push_node *out)
{
	memset(out, 0, sizeof(*out));
	return decode_struct(pos, end, push_node_fields,
			     NFIELDS(push_node_fields), out);
}

int
nc_proto_decode_user_stream(const char **pos, const char *end,
			    struct nc_proto_user_stream *out)
{
	memset(out, 0, sizeof(*out));
	return decode_struct(pos, end, user_stream_fields,
			     NFIELDS(user_stream_fields), out);
}

int
nc_proto_decode_compress(const char **pos, const char *end,
			 struct nc_proto_compress *out)
{
	memset(out, 0, sizeof(*out));
	int rc = decode_struct(pos, end, compress_fields,
			       NFIELDS(compress_fields), out);
	if (rc == 0 && out->algo != 0)
		return NC_PROTO_EALGO;
	return rc;
}

/* ------------------------------------------------------------------ */
/* User messages                                                      */
/* ------------------------------------------------------------------ */

int
nc_proto_encode_user(char *buf, size_t cap, const char *payload, size_t len)
{
	if (len >= INT32_MAX || cap < len + 1)
		return NC_PROTO_ENOSPC;
	if (len > 0)
		memmove(buf + 1, payload, len);
	buf[0] = (char)NC_PROTO_USER;
	return (int)(len + 1);
}

int
nc_proto_encode_user_stream(char *buf, size_t cap, const char *payload,
			    size_t len)
{
	if (len > UINT32_MAX / 2)
		return NC_PROTO_EINVAL;
	/* 08 | 81 | aa "UserMsgLen" | uint: header size is known up front */
	size_t hdr = 1 + 1 + 11 + mp_sizeof_uint(len);
	if (cap < hdr || cap - hdr < len || hdr + len > INT32_MAX)
		return NC_PROTO_ENOSPC;
	if (len > 0)
		memmove(buf + hdr, payload, len);
	struct nc_proto_user_stream h = {(uint32_t)len};
	struct wr w;
	wr_init(&w, buf, hdr);
	w_u8(&w, NC_PROTO_USER);
	encode_struct(&w, user_stream_fields, NFIELDS(user_stream_fields), &h);
	int rc = wr_done(&w, buf);
	if (rc < 0)
		return rc;
	assert((size_t)rc == hdr);
	return (int)(hdr + len);
}

/* ------------------------------------------------------------------ */
/* Compound                                                           */
/* ------------------------------------------------------------------ */

int
nc_proto_encode_compound(char *buf, size_t cap,
			 const struct nc_proto_str *parts, unsigned n)
{
	if (n == 0 || n > NC_PROTO_COMPOUND_MAX_PARTS)
		return NC_PROTO_EINVAL;
	size_t total = NC_PROTO_COMPOUND_HEADER + (size_t)n *
		       NC_PROTO_COMPOUND_PART;
	for (unsigned i = 0; i < n; i++) {
		if (parts[i].len == 0 ||
		    parts[i].len > NC_PROTO_COMPOUND_MAX_PART)
			return NC_PROTO_EINVAL;
		total += parts[i].len;
	}
	if (total > cap || total > INT32_MAX)
		return NC_PROTO_ENOSPC;
	char *p = buf;
	*p++ = (char)NC_PROTO_COMPOUND;
	*p++ = (char)n;
	for (unsigned i = 0; i < n; i++, p += 2)
		st16(p, (uint16_t)parts[i].len);
	for (unsigned i = 0; i < n; i++) {
		memcpy(p, parts[i].data, parts[i].len);
		p += parts[i].len;
	}
	return (int)total;
}

int
nc_proto_compound_begin(struct nc_proto_compound_iter *it, const char *body,
			const char *end)
{
	memset(it, 0, sizeof(*it));
	if (body >= end)
		return NC_PROTO_ETRUNC;
	it->n = (uint8_t)*body;
	if (left(body + 1, end) < 2u * it->n)
		return NC_PROTO_ETRUNC;
	it->lens = body + 1;
	it->data = body + 1 + 2u * it->n;
	it->end = end;
	return 0;
}

int
nc_proto_compound_next(struct nc_proto_compound_iter *it,
		       struct nc_proto_str *part)
{
	if (it->i >= it->n)
		return 0;
	uint16_t len = ld16(it->lens + 2u * it->i);
	if (left(it->data, it->end) < len) {
		it->n = it->i;	/* the rest is truncated: iteration over */
		return NC_PROTO_ETRUNC;
	}
	part->data = it->data;
	part->len = len;
	it->data += len;
	it->i++;
	return 1;
}

/* ------------------------------------------------------------------ */
/* CRC-32/IEEE (type 12)                                              */
/* ------------------------------------------------------------------ */

/* Reflected polynomial 0xEDB88320, the zlib / Ethernet table. */
static const uint32_t crc_table[256] = {
	0x00000000u, 0x77073096u, 0xee0e612cu, 0x990951bau,
	0x076dc419u, 0x706af48fu, 0xe963a535u, 0x9e6495a3u,
	0x0edb8832u, 0x79dcb8a4u, 0xe0d5e91eu, 0x97d2d988u,
	0x09b64c2bu, 0x7eb17cbdu, 0xe7b82d07u, 0x90bf1d91u,
	0x1db71064u, 0x6ab020f2u, 0xf3b97148u, 0x84be41deu,
	0x1adad47du, 0x6ddde4ebu, 0xf4d4b551u, 0x83d385c7u,
	0x136c9856u, 0x646ba8c0u, 0xfd62f97au, 0x8a65c9ecu,
	0x14015c4fu, 0x63066cd9u, 0xfa0f3d63u, 0x8d080df5u,
	0x3b6e20c8u, 0x4c69105eu, 0xd56041e4u, 0xa2677172u,
	0x3c03e4d1u, 0x4b04d447u, 0xd20d85fdu, 0xa50ab56bu,
	0x35b5a8fau, 0x42b2986cu, 0xdbbbc9d6u, 0xacbcf940u,
	0x32d86ce3u, 0x45df5c75u, 0xdcd60dcfu, 0xabd13d59u,
	0x26d930acu, 0x51de003au, 0xc8d75180u, 0xbfd06116u,
	0x21b4f4b5u, 0x56b3c423u, 0xcfba9599u, 0xb8bda50fu,
	0x2802b89eu, 0x5f058808u, 0xc60cd9b2u, 0xb10be924u,
	0x2f6f7c87u, 0x58684c11u, 0xc1611dabu, 0xb6662d3du,
	0x76dc4190u, 0x01db7106u, 0x98d220bcu, 0xefd5102au,
	0x71b18589u, 0x06b6b51fu, 0x9fbfe4a5u, 0xe8b8d433u,
	0x7807c9a2u, 0x0f00f934u, 0x9609a88eu, 0xe10e9818u,
	0x7f6a0dbbu, 0x086d3d2du, 0x91646c97u, 0xe6635c01u,
	0x6b6b51f4u, 0x1c6c6162u, 0x856530d8u, 0xf262004eu,
	0x6c0695edu, 0x1b01a57bu, 0x8208f4c1u, 0xf50fc457u,
	0x65b0d9c6u, 0x12b7e950u, 0x8bbeb8eau, 0xfcb9887cu,
	0x62dd1ddfu, 0x15da2d49u, 0x8cd37cf3u, 0xfbd44c65u,
	0x4db26158u, 0x3ab551ceu, 0xa3bc0074u, 0xd4bb30e2u,
	0x4adfa541u, 0x3dd895d7u, 0xa4d1c46du, 0xd3d6f4fbu,
	0x4369e96au, 0x346ed9fcu, 0xad678846u, 0xda60b8d0u,
	0x44042d73u, 0x33031de5u, 0xaa0a4c5fu, 0xdd0d7cc9u,
	0x5005713cu, 0x270241aau, 0xbe0b1010u, 0xc90c2086u,
	0x5768b525u, 0x206f85b3u, 0xb966d409u, 0xce61e49fu,
	0x5edef90eu, 0x29d9c998u, 0xb0d09822u, 0xc7d7a8b4u,
	0x59b33d17u, 0x2eb40d81u, 0xb7bd5c3bu, 0xc0ba6cadu,
	0xedb88320u, 0x9abfb3b6u, 0x03b6e20cu, 0x74b1d29au,
	0xead54739u, 0x9dd277afu, 0x04db2615u, 0x73dc1683u,
	0xe3630b12u, 0x94643b84u, 0x0d6d6a3eu, 0x7a6a5aa8u,
	0xe40ecf0bu, 0x9309ff9du, 0x0a00ae27u, 0x7d079eb1u,
	0xf00f9344u, 0x8708a3d2u, 0x1e01f268u, 0x6906c2feu,
	0xf762575du, 0x806567cbu, 0x196c3671u, 0x6e6b06e7u,
	0xfed41b76u, 0x89d32be0u, 0x10da7a5au, 0x67dd4accu,
	0xf9b9df6fu, 0x8ebeeff9u, 0x17b7be43u, 0x60b08ed5u,
	0xd6d6a3e8u, 0xa1d1937eu, 0x38d8c2c4u, 0x4fdff252u,
	0xd1bb67f1u, 0xa6bc5767u, 0x3fb506ddu, 0x48b2364bu,
	0xd80d2bdau, 0xaf0a1b4cu, 0x36034af6u, 0x41047a60u,
	0xdf60efc3u, 0xa867df55u, 0x316e8eefu, 0x4669be79u,
	0xcb61b38cu, 0xbc66831au, 0x256fd2a0u, 0x5268e236u,
	0xcc0c7795u, 0xbb0b4703u, 0x220216b9u, 0x5505262fu,
	0xc5ba3bbeu, 0xb2bd0b28u, 0x2bb45a92u, 0x5cb36a04u,
	0xc2d7ffa7u, 0xb5d0cf31u, 0x2cd99e8bu, 0x5bdeae1du,
	0x9b64c2b0u, 0xec63f226u, 0x756aa39cu, 0x026d930au,
	0x9c0906a9u, 0xeb0e363fu, 0x72076785u, 0x05005713u,
	0x95bf4a82u, 0xe2b87a14u, 0x7bb12baeu, 0x0cb61b38u,
	0x92d28e9bu, 0xe5d5be0du, 0x7cdcefb7u, 0x0bdbdf21u,
	0x86d3d2d4u, 0xf1d4e242u, 0x68ddb3f8u, 0x1fda836eu,
	0x81be16cdu, 0xf6b9265bu, 0x6fb077e1u, 0x18b74777u,
	0x88085ae6u, 0xff0f6a70u, 0x66063bcau, 0x11010b5cu,
	0x8f659effu, 0xf862ae69u, 0x616bffd3u, 0x166ccf45u,
	0xa00ae278u, 0xd70dd2eeu, 0x4e048354u, 0x3903b3c2u,
	0xa7672661u, 0xd06016f7u, 0x4969474du, 0x3e6e77dbu,
	0xaed16a4au, 0xd9d65adcu, 0x40df0b66u, 0x37d83bf0u,
	0xa9bcae53u, 0xdebb9ec5u, 0x47b2cf7fu, 0x30b5ffe9u,
	0xbdbdf21cu, 0xcabac28au, 0x53b39330u, 0x24b4a3a6u,
	0xbad03605u, 0xcdd70693u, 0x54de5729u, 0x23d967bfu,
	0xb3667a2eu, 0xc4614ab8u, 0x5d681b02u, 0x2a6f2b94u,
	0xb40bbe37u, 0xc30c8ea1u, 0x5a05df1bu, 0x2d02ef8du,
};

uint32_t
nc_proto_crc32(uint32_t crc, const void *data, size_t len)
{
	const uint8_t *p = data;
	crc = ~crc;
	while (len-- > 0)
		crc = crc_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return ~crc;
}

/*
 *   +----+-----------------+-----------------------+
 *   | 0c | crc32be(inner)  | inner message ...     |
 *   +----+-----------------+-----------------------+
 */
int
nc_proto_encode_crc(char *buf, size_t cap, const char *inner, size_t len)
{
	if (len == 0)
		return NC_PROTO_EINVAL;
	if (cap < 5 || cap - 5 < len || len > INT32_MAX - 5)
		return NC_PROTO_ENOSPC;
	memmove(buf + 5, inner, len);
	buf[0] = (char)NC_PROTO_HAS_CRC;
	st32(buf + 1, nc_proto_crc32(0, buf + 5, len));
	return (int)(len + 5);
}

int
nc_proto_decode_crc(const char **pos, const char *end,
		    struct nc_proto_str *inner)
{
	const char *p = *pos;
	if (left(p, end) < 4)
		return NC_PROTO_ETRUNC;
	size_t n = left(p + 4, end);
	if (n > UINT32_MAX)
		return NC_PROTO_ETOOBIG;
	if (nc_proto_crc32(0, p + 4, n) != ld32(p))
		return NC_PROTO_ECRC;
	inner->data = p + 4;
	inner->len = (uint32_t)n;
	*pos = end;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Compress (type 9)                                                  */
/* ------------------------------------------------------------------ */

/*
 *   09 | 82 | a4 "Algo" | 00 | a3 "Buf" | raw hdr | LZW bytes
 *   \___________ 12 bytes _____________/  1..5
 */
#define COMPRESS_FIXED 12
#define COMPRESS_HDR_MAX (COMPRESS_FIXED + 5)

int
nc_proto_encode_compress(char *buf, size_t cap, const char *in, size_t len)
{
	if (cap <= COMPRESS_HDR_MAX)
		return NC_PROTO_ENOSPC;
	/* Compress behind the largest possible header, then slide down once
	 * the real header size is known (conservative by <= 4 bytes). */
	size_t room = cap - COMPRESS_HDR_MAX;
	if (room > INT32_MAX - COMPRESS_HDR_MAX)
		room = INT32_MAX - COMPRESS_HDR_MAX;
	int n = nc_proto_lzw_compress(buf + COMPRESS_HDR_MAX, room, in, len);
	if (n < 0)
		return n;
	struct wr w;
	char hdr[COMPRESS_HDR_MAX];
	wr_init(&w, hdr, sizeof(hdr));
	w_u8(&w, NC_PROTO_COMPRESS);
	w_map(&w, 2);
	w_key(&w, "Algo", 4);
	w_uint(&w, 0);
	w_key(&w, "Buf", 3);
	w_raw_hdr(&w, (uint32_t)n);
	int h = wr_done(&w, hdr);
	assert(h > 0);
	memmove(buf + h, buf + COMPRESS_HDR_MAX, (size_t)n);
	memcpy(buf, hdr, (size_t)h);
	return h + n;
}

/* ------------------------------------------------------------------ */
/* Stream framing                                                     */
/* ------------------------------------------------------------------ */

void
nc_proto_stream_scan_init(struct nc_proto_stream_scan *s, size_t max)
{
	memset(s, 0, sizeof(*s));
	s->max = max != 0 ? max : NC_PROTO_MAX_STREAM;
}

/* Map a decoder result on a prefix to the scanner's result. */
static int
scan_rc(const struct nc_proto_stream_scan *s, int rc, size_t len)
{
	if (rc == NC_PROTO_ETRUNC)
		return len >= s->max ? NC_PROTO_ETOOBIG : NC_PROTO_NEED_MORE;
	return rc;
}

/*
 * The stage steps below move s->stage on only when their part of the
 * message is complete; otherwise their result (NC_PROTO_NEED_MORE or an
 * error) is the scanner's.
 */

/** Ping, ack, err, compress: one map after the type byte, nothing after. */
static int
scan_single_map(struct nc_proto_stream_scan *s, const char *buf, size_t len)
{
	const char *p = buf + 1, *end = buf + len;
	union {
		struct nc_proto_ping ping;
		struct nc_proto_ack ack;
		struct nc_proto_err err;
		struct nc_proto_compress compress;
	} u;
	int rc;
	switch ((uint8_t)buf[0]) {
	case NC_PROTO_PING:
		rc = nc_proto_decode_ping(&p, end, &u.ping);
		break;
	case NC_PROTO_ACK:
		rc = nc_proto_decode_ack(&p, end, &u.ack);
		break;
	case NC_PROTO_ERR:
		rc = nc_proto_decode_err(&p, end, &u.err);
		break;
	default:
		rc = nc_proto_decode_compress(&p, end, &u.compress);
		break;
	}
	if (rc != 0)
		return scan_rc(s, rc, len);
	s->off = (size_t)(p - buf);
	s->tail = 0;
	s->stage = NC_PROTO_SCAN_TAIL;
	return 0;
}

/** Type byte and header: how the rest of the message is delimited. */
static int
scan_header(struct nc_proto_stream_scan *s, const char *buf, size_t len)
{
	const char *p = buf + 1, *end = buf + len;
	int rc;
	if (len == 0)
		return NC_PROTO_NEED_MORE;
	switch ((uint8_t)buf[0]) {
	case NC_PROTO_ENCRYPT: {
		/* 0a | uint32be L | L bytes */
		if (len < 5)
			return NC_PROTO_NEED_MORE;
		uint64_t total = 5 + (uint64_t)ld32(buf + 1);
		if (total > s->max)
			return NC_PROTO_ETOOBIG;
		s->off = 5;
		s->tail = ld32(buf + 1);
		s->stage = NC_PROTO_SCAN_TAIL;
		return 0;
	}
	case NC_PROTO_PING:
	case NC_PROTO_ACK:
	case NC_PROTO_ERR:
	case NC_PROTO_COMPRESS:
		return scan_single_map(s, buf, len);
	case NC_PROTO_USER: {
		struct nc_proto_user_stream u;
		rc = nc_proto_decode_user_stream(&p, end, &u);
		if (rc != 0)
			return scan_rc(s, rc, len);
		s->off = (size_t)(p - buf);
		s->tail = u.user_msg_len;
		s->stage = NC_PROTO_SCAN_TAIL;
		return 0;
	}
	case NC_PROTO_PUSH_PULL: {
		struct nc_proto_push_pull h;
		rc = nc_proto_decode_push_pull(&p, end, &h);
		if (rc != 0)
			return scan_rc(s, rc, len);
		s->off = (size_t)(p - buf);
		s->nodes_left = h.nodes;
		s->tail = h.user_state_len;
		s->stage = NC_PROTO_SCAN_NODES;
		return 0;
	}
	default:
		return NC_PROTO_ETYPE;
	}
}

/** Push/pull: the node states still to come, one at a time. */
static int
scan_nodes(struct nc_proto_stream_scan *s, const char *buf, size_t len)
{
	const char *end = buf + len;
	/* each node state needs >= 1 byte: cheap bomb check */
	if ((uint64_t)s->off + s->nodes_left + s->tail > s->max)
		return NC_PROTO_ETOOBIG;
	while (s->nodes_left > 0) {
		const char *p = buf + s->off;
		struct nc_proto_push_node n;
		int rc = nc_proto_decode_push_node(&p, end, &n);
		if (rc != 0)
			return scan_rc(s, rc, len);
		s->off = (size_t)(p - buf);
		s->nodes_left--;
	}
	s->stage = NC_PROTO_SCAN_TAIL;
	return 0;
}

int
nc_proto_stream_scan(struct nc_proto_stream_scan *s, const char *buf,
		     size_t len)
{
	int rc;
	if (s->max == 0)
		s->max = NC_PROTO_MAX_STREAM;
	if (s->stage == NC_PROTO_SCAN_START) {
		rc = scan_header(s, buf, len);
		if (s->stage == NC_PROTO_SCAN_START)
			return rc;
	}
	if (s->stage == NC_PROTO_SCAN_NODES) {
		rc = scan_nodes(s, buf, len);
		if (s->stage == NC_PROTO_SCAN_NODES)
			return rc;
	}
	/* NC_PROTO_SCAN_TAIL: only raw bytes are left. */
	uint64_t total = (uint64_t)s->off + s->tail;
	if (total > s->max)
		return NC_PROTO_ETOOBIG;
	if (total > INT32_MAX)
		return NC_PROTO_ETOOBIG;
	if (len < total)
		return NC_PROTO_NEED_MORE;
	return (int)total;
}

/* ------------------------------------------------------------------ */
/* Packet walk                                                        */
/* ------------------------------------------------------------------ */

struct walk {
	char *scratch;
	size_t used;
	size_t cap;
	nc_proto_msg_cb cb;
	void *ctx;
	int first_err;
	/** Bytes decompressed so far in this datagram (all parts). */
	size_t inflated;
	/** The budget was exceeded: nothing more is decompressed. */
	bool over_budget;
};

static void
walk_err(struct walk *wk, int rc)
{
	if (wk->first_err == 0)
		wk->first_err = rc;
}

static void
walk_msg(struct walk *wk, const char *p, const char *end, int depth)
{
	if (p >= end) {
		/* a zero-length message crashes Go; we just drop it */
		walk_err(wk, NC_PROTO_EEMPTY);
		return;
	}
	uint8_t type = (uint8_t)*p;
	const char *body = p + 1;
	if (type != NC_PROTO_COMPOUND && type != NC_PROTO_COMPRESS) {
		wk->cb(wk->ctx, type, body, end);
		return;
	}
	if (depth >= NC_PROTO_MAX_DEPTH) {
		walk_err(wk, NC_PROTO_EDEPTH);
		return;
	}
	if (type == NC_PROTO_COMPOUND) {
		struct nc_proto_compound_iter it;
		struct nc_proto_str part;
		int rc = nc_proto_compound_begin(&it, body, end);
		if (rc != 0) {
			walk_err(wk, rc);
			return;
		}
		while ((rc = nc_proto_compound_next(&it, &part)) == 1)
			walk_msg(wk, part.data, part.data + part.len, depth + 1);
		if (rc < 0)
			walk_err(wk, rc);
		return;
	}
	struct nc_proto_compress c;
	int rc = nc_proto_decode_compress(&body, end, &c);
	if (rc != 0) {
		walk_err(wk, rc);
		return;
	}
	if (wk->over_budget)
		return;
	size_t room = wk->cap - wk->used;
	if (room > NC_PROTO_MAX_PACKET_DECOMPRESSED - wk->inflated)
		room = NC_PROTO_MAX_PACKET_DECOMPRESSED - wk->inflated;
	char *out = wk->scratch + wk->used;
	int n = nc_proto_lzw_decompress(out, room, c.buf.data, c.buf.len);
	if (n < 0) {
		if (n == NC_PROTO_ETOOBIG)
			wk->over_budget = true;
		walk_err(wk, n);
		return;
	}
	wk->inflated += (size_t)n;
	wk->used += (size_t)n;
	walk_msg(wk, out, out + n, depth + 1);
	wk->used -= (size_t)n;
}

int
nc_proto_packet_walk(const char *pkt, size_t len, char *scratch,
		     size_t scratch_cap, nc_proto_msg_cb cb, void *ctx)
{
	struct walk wk = {scratch, 0, scratch != NULL ? scratch_cap : 0, cb,
			  ctx, 0, 0, false};
	const char *end = pkt + len;
	if (len == 0)
		return NC_PROTO_EEMPTY;
	/* CRC is recognised only as the outermost layer and only with
	 * at least 5 bytes, exactly as ingestPacket does. */
	if (len >= 5 && (uint8_t)pkt[0] == NC_PROTO_HAS_CRC) {
		const char *p = pkt + 1;
		struct nc_proto_str inner;
		int rc = nc_proto_decode_crc(&p, end, &inner);
		if (rc != 0)
			return rc;
		pkt = inner.data;
		end = inner.data + inner.len;
	}
	walk_msg(&wk, pkt, end, 0);
	return wk.over_budget ? NC_PROTO_ETOOBIG : wk.first_err;
}

/* ------------------------------------------------------------------ */
/* Serf                                                               */
/* ------------------------------------------------------------------ */

/*
 * Tags as Meta (§7.1):
 *
 *   +----+-------------------------------------------+
 *   | ff | map{ key: value, ... } (string -> string) |
 *   +----+-------------------------------------------+
 */
int
nc_proto_encode_tags(char *buf, size_t cap, const struct nc_proto_tag *tags,
		     unsigned n)
{
	struct wr w;
	wr_init(&w, buf, cap);
	w_u8(&w, NC_PROTO_SERF_TAG_MAGIC);
	w_map(&w, n);
	for (unsigned i = 0; i < n; i++) {
		w_raw(&w, tags[i].key.data, tags[i].key.len);
		w_raw(&w, tags[i].value.data, tags[i].value.len);
	}
	int rc = wr_done(&w, buf);
	if (rc > NC_PROTO_META_MAX)
		return NC_PROTO_EINVAL;
	return rc;
}

int
nc_proto_decode_tags(const char *meta, size_t len, struct nc_proto_tag *tags,
		     unsigned max, unsigned *n)
{
	*n = 0;
	if (len == 0 || (uint8_t)meta[0] != NC_PROTO_SERF_TAG_MAGIC) {
		/* legacy (serf protocol 2): the whole Meta is the role */
		if (max < 1)
			return NC_PROTO_ETOOBIG;
		if (len > UINT32_MAX)
			return NC_PROTO_ETOOBIG;
		tags[0].key = nc_proto_cstr("role");
		tags[0].value.data = meta;
		tags[0].value.len = (uint32_t)len;
		*n = 1;
		return 0;
	}
	const char *p = meta + 1;
	const char *end = meta + len;
	uint32_t count;
	int rc = rd_map(&p, end, &count);
	if (rc != 0)
		return rc;
	if (count > max)
		return NC_PROTO_ETOOBIG;
	for (uint32_t i = 0; i < count; i++) {
		if ((rc = rd_str(&p, end, false, &tags[i].key)) != 0 ||
		    (rc = rd_str(&p, end, false, &tags[i].value)) != 0)
			return rc;
	}
	*n = count;
	return 0;
}

int
nc_proto_decode_serf_ltime(const char **pos, const char *end,
			   uint64_t *ltime)
{
	const char *p = *pos;
	uint32_t count;
	*ltime = 0;
	int rc = rd_map(&p, end, &count);
	if (rc != 0)
		return rc;
	for (uint32_t i = 0; i < count; i++) {
		struct nc_proto_str key;
		if ((rc = rd_str(&p, end, false, &key)) != 0)
			return rc;
		if (key.len == 5 && memcmp(key.data, "LTime", 5) == 0)
			rc = rd_uint(&p, end, UINT64_MAX, ltime);
		else
			rc = skip_value(&p, end);
		if (rc != 0)
			return rc;
	}
	*pos = p;
	return 0;
}

/*
 * Serf ping-delegate ack payload (§7.3), all values in seconds:
 *
 *   01 | 84 | aa "Adjustment" cb f64 | a5 "Error" cb f64
 *           | a6 "Height" cb f64     | a3 "Vec" 98 (cb f64) x 8
 */
int
nc_proto_encode_coord(char *buf, size_t cap, const struct nc_proto_coord *c)
{
	if (c->dims > NC_PROTO_MAX_DIMS)
		return NC_PROTO_EINVAL;
	struct wr w;
	wr_init(&w, buf, cap);
	w_u8(&w, NC_PROTO_SERF_PING_VERSION);
	w_map(&w, 4);
	w_key(&w, "Adjustment", 10);
	w_double(&w, c->adjustment);
	w_key(&w, "Error", 5);
	w_double(&w, c->error);
	w_key(&w, "Height", 6);
	w_double(&w, c->height);
	w_key(&w, "Vec", 3);
	w_array(&w, c->dims);
	for (unsigned i = 0; i < c->dims; i++)
		w_double(&w, c->vec[i]);
	return wr_done(&w, buf);
}

static bool
key_is(const struct nc_proto_str *key, const char *s, size_t n)
{
	return key->len == n && memcmp(key->data, s, n) == 0;
}

int
nc_proto_decode_coord(const char **pos, const char *end,
		      struct nc_proto_coord *out)
{
	memset(out, 0, sizeof(*out));
	const char *p = *pos;
	if (p >= end)
		return NC_PROTO_ETRUNC;
	if ((uint8_t)*p != NC_PROTO_SERF_PING_VERSION)
		return NC_PROTO_EVERSION;
	p++;
	uint32_t count;
	int rc = rd_map(&p, end, &count);
	if (rc != 0)
		return rc;
	for (uint32_t i = 0; i < count; i++) {
		struct nc_proto_str key;
		if ((rc = rd_str(&p, end, false, &key)) != 0)
			return rc;
		if (key_is(&key, "Adjustment", 10)) {
			rc = rd_double(&p, end, &out->adjustment);
		} else if (key_is(&key, "Error", 5)) {
			rc = rd_double(&p, end, &out->error);
		} else if (key_is(&key, "Height", 6)) {
			rc = rd_double(&p, end, &out->height);
		} else if (key_is(&key, "Vec", 3)) {
			uint32_t dims;
			if ((rc = rd_array(&p, end, &dims)) != 0)
				return rc;
			if (dims > NC_PROTO_MAX_DIMS)
				return NC_PROTO_ETOOBIG;
			/* a repeated key replaces the whole vector */
			memset(out->vec, 0, sizeof(out->vec));
			out->dims = dims;
			for (uint32_t d = 0; d < dims && rc == 0; d++)
				rc = rd_double(&p, end, &out->vec[d]);
		} else {
			rc = skip_value(&p, end);
		}
		if (rc != 0)
			return rc;
	}
	*pos = p;
	return 0;
}

/* ------------------------------------------------------------------ */
/* serf: generic reading, key response, conflict response, relay       */
/* ------------------------------------------------------------------ */

int
nc_proto_read_array(const char **pos, const char *end, uint32_t *n)
{
	return rd_array(pos, end, n);
}

int
nc_proto_read_bytes(const char **pos, const char *end,
		    struct nc_proto_str *out)
{
	return rd_str(pos, end, true, out);
}

int
nc_proto_skip(const char **pos, const char *end)
{
	return skip_value(pos, end);
}

/*
 * 08 | map{Keys, Message, PrimaryKey, Result} (serf's nodeKeyResponse;
 * Keys nil when there are none, as a nil Go slice).
 */
int
nc_proto_encode_serf_key_response(char *buf, size_t cap,
				  const struct nc_proto_serf_key_response *m)
{
	struct wr w;
	wr_init(&w, buf, cap);
	w_u8(&w, NC_PROTO_SERF_KEY_RESPONSE);
	w_map(&w, 4);
	w_key(&w, "Keys", 4);
	if (m->keys_n == 0) {
		w_nil(&w);
	} else {
		w_array(&w, (uint32_t)m->keys_n);
		for (size_t i = 0; i < m->keys_n; i++)
			w_raw(&w, m->keys[i].data, m->keys[i].len);
	}
	w_key(&w, "Message", 7);
	w_raw(&w, m->message.data, m->message.len);
	w_key(&w, "PrimaryKey", 10);
	w_raw(&w, m->primary_key.data, m->primary_key.len);
	w_key(&w, "Result", 6);
	w_bool(&w, m->result);
	return wr_done(&w, buf);
}

/*
 * 06 | serf Member (Addr, DelegateCur/Max/Min, Name, Port, ProtocolCur/
 * Max/Min, Status, Tags), or 06 | nil when m is NULL (serf encodes a nil
 * *Member for a node it does not know).
 */
int
nc_proto_encode_serf_conflict_response(
	char *buf, size_t cap, const struct nc_proto_serf_member *m)
{
	struct wr w;
	wr_init(&w, buf, cap);
	w_u8(&w, NC_PROTO_SERF_CONFLICT_RESPONSE);
	if (m == NULL) {
		w_nil(&w);
		return wr_done(&w, buf);
	}
	w_map(&w, 11);
	w_key(&w, "Addr", 4);
	w_raw(&w, m->addr.data, m->addr.len);
	w_key(&w, "DelegateCur", 11);
	w_uint(&w, m->vsn[5]);
	w_key(&w, "DelegateMax", 11);
	w_uint(&w, m->vsn[4]);
	w_key(&w, "DelegateMin", 11);
	w_uint(&w, m->vsn[3]);
	w_key(&w, "Name", 4);
	w_raw(&w, m->name.data, m->name.len);
	w_key(&w, "Port", 4);
	w_uint(&w, m->port);
	w_key(&w, "ProtocolCur", 11);
	w_uint(&w, m->vsn[2]);
	w_key(&w, "ProtocolMax", 11);
	w_uint(&w, m->vsn[1]);
	w_key(&w, "ProtocolMin", 11);
	w_uint(&w, m->vsn[0]);
	w_key(&w, "Status", 6);
	w_uint(&w, m->status);
	w_key(&w, "Tags", 4);
	if (m->tags_map.len == 0)
		w_nil(&w);
	else
		w_bytes(&w, m->tags_map.data, m->tags_map.len);
	return wr_done(&w, buf);
}

/*
 * 09 | relayHeader{DestAddr: {IP, Port, Zone}, DestName} | inner, where
 * inner is a complete serf message (type byte included).
 */
int
nc_proto_encode_serf_relay(char *buf, size_t cap,
			   const struct nc_proto_serf_relay *m)
{
	struct wr w;
	wr_init(&w, buf, cap);
	w_u8(&w, NC_PROTO_SERF_RELAY);
	w_map(&w, 2);
	w_key(&w, "DestAddr", 8);
	w_map(&w, 3);
	w_key(&w, "IP", 2);
	w_raw(&w, m->dest_ip.data, m->dest_ip.len);
	w_key(&w, "Port", 4);
	w_uint(&w, m->dest_port);
	w_key(&w, "Zone", 4);
	w_raw(&w, "", 0);
	w_key(&w, "DestName", 8);
	w_raw(&w, m->dest_name.data, m->dest_name.len);
	w_bytes(&w, m->inner.data, m->inner.len);
	return wr_done(&w, buf);
}

int
nc_proto_decode_serf_relay(const char **pos, const char *end,
			   struct nc_proto_serf_relay *out)
{
	memset(out, 0, sizeof(*out));
	const char *p = *pos;
	uint32_t count;
	int rc = rd_map(&p, end, &count);
	if (rc != 0)
		return rc;
	for (uint32_t i = 0; i < count; i++) {
		struct nc_proto_str key;
		if ((rc = rd_str(&p, end, false, &key)) != 0)
			return rc;
		if (key_is(&key, "DestName", 8)) {
			rc = rd_str(&p, end, false, &out->dest_name);
		} else if (key_is(&key, "DestAddr", 8)) {
			uint32_t k;
			if ((rc = rd_map(&p, end, &k)) != 0)
				return rc;
			for (uint32_t j = 0; j < k && rc == 0; j++) {
				struct nc_proto_str sub;
				if ((rc = rd_str(&p, end, false, &sub)) != 0)
					return rc;
				uint64_t port;
				if (key_is(&sub, "IP", 2)) {
					rc = rd_str(&p, end, true,
						    &out->dest_ip);
				} else if (key_is(&sub, "Port", 4)) {
					rc = rd_uint(&p, end, UINT16_MAX,
						     &port);
					out->dest_port = (uint16_t)port;
				} else {
					rc = skip_value(&p, end);
				}
			}
		} else {
			rc = skip_value(&p, end);
		}
		if (rc != 0)
			return rc;
	}
	out->inner.data = p;
	out->inner.len = (uint32_t)(end - p);
	*pos = end;
	return 0;
}

/* ------------------------------------------------------------------ */
/* serf push/pull user state (messagePushPull)                         */
/* ------------------------------------------------------------------ */

int
nc_proto_encode_serf_push_pull(char *buf, size_t cap,
			       const struct nc_proto_serf_push_pull *m)
{
	struct wr w;
	wr_init(&w, buf, cap);
	w_u8(&w, NC_PROTO_SERF_PUSH_PULL);
	w_map(&w, 6);
	w_key(&w, "EventLTime", 10);
	w_uint(&w, m->event_ltime);
	/* Events: one {Events, LTime} per run of equal LTimes. */
	uint32_t groups = 0;
	for (size_t i = 0; i < m->events_n; i++)
		groups += i == 0 || m->events[i].ltime != m->events[i - 1].ltime;
	w_key(&w, "Events", 6);
	w_array(&w, groups);
	for (size_t i = 0; i < m->events_n;) {
		size_t j = i;
		while (j < m->events_n && m->events[j].ltime == m->events[i].ltime)
			j++;
		w_map(&w, 2);
		w_key(&w, "Events", 6);
		w_array(&w, (uint32_t)(j - i));
		for (size_t k = i; k < j; k++) {
			w_map(&w, 2);
			w_key(&w, "Name", 4);
			w_raw(&w, m->events[k].name.data, m->events[k].name.len);
			w_key(&w, "Payload", 7);
			if (m->events[k].payload.len == 0)
				w_nil(&w);
			else
				w_raw(&w, m->events[k].payload.data,
				      m->events[k].payload.len);
		}
		w_key(&w, "LTime", 5);
		w_uint(&w, m->events[i].ltime);
		i = j;
	}
	w_key(&w, "LTime", 5);
	w_uint(&w, m->ltime);
	w_key(&w, "LeftMembers", 11);
	w_array(&w, (uint32_t)m->left_n);
	for (size_t i = 0; i < m->left_n; i++)
		w_raw(&w, m->left[i].data, m->left[i].len);
	w_key(&w, "QueryLTime", 10);
	w_uint(&w, m->query_ltime);
	w_key(&w, "StatusLTimes", 12);
	w_map(&w, (uint32_t)m->status_n);
	for (size_t i = 0; i < m->status_n; i++) {
		w_raw(&w, m->status[i].name.data, m->status[i].name.len);
		w_uint(&w, m->status[i].ltime);
	}
	return wr_done(&w, buf);
}

/* One userEvents {Events: [{Name, Payload}], LTime} (or nil). */
static int
decode_user_events(const char **pos, const char *end,
		   const struct nc_proto_serf_push_pull_visitor *v)
{
	const char *p = *pos;
	if (p < end && (uint8_t)*p == 0xc0) {
		*pos = p + 1;
		return 0;
	}
	uint32_t count;
	int rc = rd_map(&p, end, &count);
	if (rc != 0)
		return rc;
	/* LTime may come after Events: find it first. */
	uint64_t ltime = 0;
	const char *events = NULL;
	for (uint32_t i = 0; i < count; i++) {
		struct nc_proto_str key;
		if ((rc = rd_str(&p, end, false, &key)) != 0)
			return rc;
		if (key_is(&key, "LTime", 5)) {
			rc = rd_uint(&p, end, UINT64_MAX, &ltime);
		} else {
			if (key_is(&key, "Events", 6))
				events = p;
			rc = skip_value(&p, end);
		}
		if (rc != 0)
			return rc;
	}
	*pos = p;
	if (events == NULL)
		return 0;
	uint32_t n;
	if ((rc = rd_array(&events, end, &n)) != 0)
		return rc;
	for (uint32_t i = 0; i < n; i++) {
		struct nc_proto_serf_event e = {.ltime = ltime};
		uint32_t k;
		if ((rc = rd_map(&events, end, &k)) != 0)
			return rc;
		for (uint32_t j = 0; j < k; j++) {
			struct nc_proto_str key;
			if ((rc = rd_str(&events, end, false, &key)) != 0)
				return rc;
			if (key_is(&key, "Name", 4))
				rc = rd_str(&events, end, false, &e.name);
			else if (key_is(&key, "Payload", 7))
				rc = rd_str(&events, end, true, &e.payload);
			else
				rc = skip_value(&events, end);
			if (rc != 0)
				return rc;
		}
		if (v != NULL && v->event != NULL)
			v->event(v->ctx, &e);
	}
	return 0;
}

int
nc_proto_decode_serf_push_pull(const char **pos, const char *end,
			       struct nc_proto_serf_push_pull *out,
			       const struct nc_proto_serf_push_pull_visitor *v)
{
	memset(out, 0, sizeof(*out));
	const char *p = *pos;
	uint32_t count;
	int rc = rd_map(&p, end, &count);
	if (rc != 0)
		return rc;
	for (uint32_t i = 0; i < count; i++) {
		struct nc_proto_str key;
		uint32_t n;
		if ((rc = rd_str(&p, end, false, &key)) != 0)
			return rc;
		if (key_is(&key, "LTime", 5)) {
			rc = rd_uint(&p, end, UINT64_MAX, &out->ltime);
		} else if (key_is(&key, "EventLTime", 10)) {
			rc = rd_uint(&p, end, UINT64_MAX, &out->event_ltime);
		} else if (key_is(&key, "QueryLTime", 10)) {
			rc = rd_uint(&p, end, UINT64_MAX, &out->query_ltime);
		} else if (key_is(&key, "Events", 6)) {
			rc = rd_array(&p, end, &n);
			for (uint32_t j = 0; j < n && rc == 0; j++)
				rc = decode_user_events(&p, end, v);
		} else if (key_is(&key, "LeftMembers", 11)) {
			rc = rd_array(&p, end, &n);
			for (uint32_t j = 0; j < n && rc == 0; j++) {
				struct nc_proto_str name;
				rc = rd_str(&p, end, false, &name);
				if (rc == 0 && v != NULL && v->left != NULL)
					v->left(v->ctx, &name);
			}
		} else if (key_is(&key, "StatusLTimes", 12)) {
			rc = rd_map(&p, end, &n);
			for (uint32_t j = 0; j < n && rc == 0; j++) {
				struct nc_proto_serf_status st;
				rc = rd_str(&p, end, false, &st.name);
				if (rc == 0)
					rc = rd_uint(&p, end, UINT64_MAX,
						     &st.ltime);
				if (rc == 0 && v != NULL && v->status != NULL)
					v->status(v->ctx, &st);
			}
		} else {
			rc = skip_value(&p, end);
		}
		if (rc != 0)
			return rc;
	}
	*pos = p;
	return 0;
}
