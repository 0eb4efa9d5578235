/*
 * gossip/lzw.c - LZW as memberlist uses it (Go compress/lzw, LSB, 8-bit
 * literals), PROTOCOL.md §1.6.
 *
 * Design
 * ------
 * This is the GIF flavour of LZW:
 *
 *   codes 0..255  literals          code 256  clear (reset the table)
 *   code  257     end of data       codes 258..4095  table entries
 *
 * Codes are packed least-significant-bit first. They start 9 bits wide
 * and grow by one bit when the next free code reaches 2^width ("no early
 * change", unlike TIFF/PDF), up to 12 bits. The Go encoder (>= 1.17, as
 * in the golden vectors) writes a clear code first and an EOF code last
 * and zero-pads the final byte. When the table is full the encoder emits
 * a clear code; the decoder, on its side, stops adding entries at 4095
 * (deferred clear) until it sees one.
 *
 *   bit stream:  ...ccccccccc|bbbbbbbbb|aaaaaaaaa   (a = first code)
 *   bytes:       [a7..a0] [b6..b0 a8] [c5..c0 b8..b7] ...
 *
 * The decoder mirrors Go's reader state machine exactly (the KwKwK case,
 * the deferred clear, "invalid code" errors, and a missing EOF code
 * being an error: memberlist reads to io.EOF and gets
 * io.ErrUnexpectedEOF), so that we accept and reject the same inputs.
 * Its tables live on the stack (~16 KiB); output goes to a caller buffer
 * with a hard cap, or to a heap buffer grown up to a cap, which is what
 * stops decompression bombs (one 12-bit code can expand to ~4 KiB).
 *
 * The encoder reproduces Go's output byte for byte (same code stream:
 * initial clear, greedy longest match, clear when code 4095 would be
 * assigned, EOF, zero padding). Its dictionary is a small open-addressing
 * hash table on the stack (16 or 32 KiB), so compressing a packet - which
 * memberlist senders do for every UDP packet when compression is on -
 * never allocates.
 */
#include "gossip/proto.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/util.h"

enum {
	LZW_CLEAR = 256,
	LZW_EOF = 257,
	LZW_MAX_WIDTH = 12,
	LZW_MAX_CODE = (1 << LZW_MAX_WIDTH) - 1,
	LZW_INVALID = 0xffff,
};

/* ------------------------------------------------------------------ */
/* Decoder                                                            */
/* ------------------------------------------------------------------ */

/**
 * Output sink: a fixed buffer (the caller's), or an nc_dbuf that grows up
 * to its max_bytes (the hard cap). The decoder writes buf[len++] itself,
 * one byte at a time, so buf/len/cap are kept here and the dbuf is only
 * consulted when cap is reached; cap never exceeds the hard cap.
 */
struct lzw_out {
	char *buf;
	size_t len;
	size_t cap;
	/* grow mode only (decompress_alloc); buf aliases heap.data */
	struct nc_dbuf heap;
	bool grow;
};

static int
out_reserve(struct lzw_out *o, size_t n)
{
	if (o->len + n <= o->cap)
		return 0;
	if (!o->grow)
		return NC_PROTO_ETOOBIG;
	o->heap.len = o->len;
	int rc = nc_dbuf_reserve(&o->heap, n);
	if (rc != 0)
		return rc == -E2BIG ? NC_PROTO_ETOOBIG : NC_PROTO_ENOMEM;
	o->buf = o->heap.data;
	/* heap.cap keeps one byte for the dbuf's NUL and may pass the cap */
	o->cap = o->heap.cap - 1 < o->heap.max_bytes ? o->heap.cap - 1
						     : o->heap.max_bytes;
	return 0;
}

static int
lzw_decode(struct lzw_out *o, const uint8_t *in, size_t len)
{
	uint16_t prefix[1 << LZW_MAX_WIDTH];
	uint8_t suffix[1 << LZW_MAX_WIDTH];
	uint8_t tmp[1 << LZW_MAX_WIDTH];
	/* zeroed so that a chain walk over a never-assigned entry ends at
	 * literal 0 instead of reading garbage */
	memset(prefix, 0, sizeof(prefix));
	memset(suffix, 0, sizeof(suffix));

	uint32_t bits = 0;
	unsigned nbits = 0;
	unsigned width = 9;
	unsigned hi = LZW_EOF;
	unsigned overflow = 1u << width;
	unsigned last = LZW_INVALID;
	size_t ip = 0;
	int rc;

	for (;;) {
		while (nbits < width) {
			if (ip >= len)
				return NC_PROTO_ELZW;	/* no EOF code */
			bits |= (uint32_t)in[ip++] << nbits;
			nbits += 8;
		}
		unsigned code = bits & ((1u << width) - 1);
		bits >>= width;
		nbits -= width;

		if (code < LZW_CLEAR) {
			if ((rc = out_reserve(o, 1)) != 0)
				return rc;
			o->buf[o->len++] = (char)code;
			if (last != LZW_INVALID) {
				suffix[hi] = (uint8_t)code;
				prefix[hi] = (uint16_t)last;
			}
		} else if (code == LZW_CLEAR) {
			width = 9;
			hi = LZW_EOF;
			overflow = 1u << width;
			last = LZW_INVALID;
			continue;
		} else if (code == LZW_EOF) {
			return 0;
		} else if (code <= hi) {
			/* expand right to left into tmp */
			size_t i = sizeof(tmp);
			unsigned c = code;
			if (code == hi && last != LZW_INVALID) {
				/* KwKwK: last's expansion + its first byte */
				c = last;
				while (c >= LZW_CLEAR)
					c = prefix[c];
				tmp[--i] = (uint8_t)c;
				c = last;
			}
			while (c >= LZW_CLEAR) {
				if (i == 0)
					return NC_PROTO_ELZW;
				tmp[--i] = suffix[c];
				c = prefix[c];
			}
			if (i == 0)
				return NC_PROTO_ELZW;
			tmp[--i] = (uint8_t)c;
			size_t n = sizeof(tmp) - i;
			if ((rc = out_reserve(o, n)) != 0)
				return rc;
			memcpy(o->buf + o->len, tmp + i, n);
			o->len += n;
			if (last != LZW_INVALID) {
				suffix[hi] = (uint8_t)c;
				prefix[hi] = (uint16_t)last;
			}
		} else {
			return NC_PROTO_ELZW;	/* "lzw: invalid code" */
		}
		last = code;
		hi++;
		if (hi >= overflow) {
			if (width == LZW_MAX_WIDTH) {
				/* table full: no new entries until a clear */
				last = LZW_INVALID;
				hi--;
			} else {
				width++;
				overflow = 1u << width;
			}
		}
	}
}

int
nc_proto_lzw_decompress(char *out, size_t cap, const char *in, size_t len)
{
	if (cap > INT32_MAX)
		cap = INT32_MAX;
	struct lzw_out o = {.buf = out, .cap = cap};
	int rc = lzw_decode(&o, (const uint8_t *)in, len);
	return rc < 0 ? rc : (int)o.len;
}

int
nc_proto_lzw_decompress_alloc(char **out, size_t max, const char *in,
			      size_t len)
{
	*out = NULL;
	if (max > INT32_MAX)
		max = INT32_MAX;
	struct lzw_out o = {.grow = true};
	nc_dbuf_init(&o.heap, max);
	int rc = lzw_decode(&o, (const uint8_t *)in, len);
	/* empty output: still hand back a valid pointer */
	if (rc >= 0 && o.buf == NULL && nc_dbuf_reserve(&o.heap, 0) != 0)
		rc = NC_PROTO_ENOMEM;
	if (rc < 0) {
		nc_dbuf_free(&o.heap);
		return rc;
	}
	o.heap.len = o.len;
	o.heap.data[o.len] = '\0';
	*out = nc_dbuf_take(&o.heap);
	return (int)o.len;
}

/* ------------------------------------------------------------------ */
/* Encoder                                                            */
/* ------------------------------------------------------------------ */

struct lzw_enc {
	char *out;
	size_t len;
	size_t cap;
	bool ok;
	uint32_t bits;
	unsigned nbits;
	unsigned width;
	unsigned hi;
	unsigned overflow;
	/* open addressing: key << 12 | code, key = prefix code << 8 | byte
	 * (20 bits); 0 = empty (a stored code is >= 258, never 0) */
	uint32_t *table;
	uint32_t mask;
};

static void
enc_byte(struct lzw_enc *e, uint8_t b)
{
	if (e->len >= e->cap) {
		e->ok = false;
		return;
	}
	e->out[e->len++] = (char)b;
}

static void
enc_code(struct lzw_enc *e, unsigned code)
{
	e->bits |= (uint32_t)code << e->nbits;
	e->nbits += e->width;
	while (e->nbits >= 8) {
		enc_byte(e, (uint8_t)e->bits);
		e->bits >>= 8;
		e->nbits -= 8;
	}
}

/* Next implied code; on running out of codes send a clear and reset.
 * @retval true if the table was reset */
static bool
enc_inc_hi(struct lzw_enc *e)
{
	e->hi++;
	if (e->hi == e->overflow) {
		e->width++;
		e->overflow <<= 1;
	}
	if (e->hi == LZW_MAX_CODE) {
		enc_code(e, LZW_CLEAR);
		e->width = 9;
		e->hi = LZW_EOF;
		e->overflow = 1u << e->width;
		memset(e->table, 0, ((size_t)e->mask + 1) * sizeof(*e->table));
		return true;
	}
	return false;
}

static inline uint32_t
enc_hash(const struct lzw_enc *e, uint32_t key)
{
	return (key * 2654435761u >> 12) & e->mask;
}

int
nc_proto_lzw_compress(char *out, size_t cap, const char *in, size_t len)
{
	const uint8_t *src = (const uint8_t *)in;
	if (cap > INT32_MAX)
		cap = INT32_MAX;
	/*
	 * The dictionary is any exact map (prefix, byte) -> code: Go's
	 * hash table layout does not influence the output. A generation
	 * holds at most 4095 - 258 entries, and never more than len, so
	 * 4096 slots (16 KiB) keep the load under 1/2 for a UDP-sized
	 * input and 8192 (32 KiB) for anything; both live on the stack so
	 * that compressing a packet never allocates, and only the slots in
	 * use are cleared.
	 */
	uint32_t table[2 << LZW_MAX_WIDTH];
	uint32_t slots = len < 1800 ? 1u << LZW_MAX_WIDTH : 2u << LZW_MAX_WIDTH;
	memset(table, 0, slots * sizeof(table[0]));
	struct lzw_enc e = {out, 0, cap, true, 0, 0, 9, LZW_EOF, 512, table,
			    slots - 1};

	/* GIF89a appendix F: "Encoders should output a Clear code as the
	 * first code of each image data stream" - Go does, so do we. */
	enc_code(&e, LZW_CLEAR);
	if (len > 0) {
		uint32_t code = src[0];
		for (size_t k = 1; k < len && e.ok; k++) {
			uint32_t lit = src[k];
			uint32_t key = code << 8 | lit;
			uint32_t h = enc_hash(&e, key);
			uint32_t t;
			while ((t = e.table[h]) != 0 && t >> 12 != key)
				h = (h + 1) & e.mask;
			if (t != 0) {
				code = t & LZW_MAX_CODE;	/* extend */
				continue;
			}
			enc_code(&e, code);
			code = lit;
			if (enc_inc_hi(&e))
				continue;
			e.table[h] = key << 12 | e.hi;	/* h: free slot */
		}
		enc_code(&e, code);
		enc_inc_hi(&e);
	}
	enc_code(&e, LZW_EOF);
	if (e.nbits > 0)
		enc_byte(&e, (uint8_t)e.bits);
	return e.ok ? (int)e.len : NC_PROTO_ENOSPC;
}
