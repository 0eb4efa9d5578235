/*
 * tests/fuzz/fuzz_proto.c - libFuzzer target for the gossip wire codec.
 *
 * Every input goes through nc_test_decode_all() (tests/gossip/
 * codec_fuzz.c): the full UDP unwrap path after decryption (CRC,
 * compound, compress/LZW, every leaf decoder), the TCP stream scanner,
 * each message decoder on its own, LZW, serf Meta and ack payloads.
 * On top, a round-trip property: whatever alive / ping / push node
 * decodes and is encodable must re-encode to bytes that decode to the
 * same fields (our encoder and decoder agree on every accepted input).
 *
 * The decrypt path runs too, with the golden-vector key (00..1f) and
 * a second AES-128 key, so that length/version/padding checks around
 * OpenSSL see hostile sizes.
 *
 * Build: cmake -DNC_FUZZ=ON -DNC_SANITIZE=ON with CC=clang; see
 * tests/fuzz/README.md.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gossip/crypto.h"
#include "gossip/proto.h"
#include "tests/gossip/codec_test.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond) do { if (!(cond)) abort(); } while (0)

static bool
str_same(struct nc_proto_str a, struct nc_proto_str b)
{
	return a.len == b.len && (a.len == 0 ||
				  memcmp(a.data, b.data, a.len) == 0);
}

static void
roundtrip(const char *in, const char *end)
{
	static char buf[NC_PROTO_MAX_PACKET + 64];
	const char *p = in;
	struct nc_proto_alive a, a2;
	if (nc_proto_decode_alive(&p, end, &a) == 0) {
		int n = nc_proto_encode_alive(buf, sizeof(buf), &a);
		CHECK(n > 0 || n == NC_PROTO_EINVAL);
		if (n > 0) {
			const char *q = buf + 1;
			CHECK(nc_proto_decode_alive(&q, buf + n, &a2) == 0);
			CHECK(q == buf + n);
			CHECK(a.incarnation == a2.incarnation &&
			      a.port == a2.port && str_same(a.node, a2.node) &&
			      str_same(a.addr, a2.addr) &&
			      str_same(a.meta, a2.meta) &&
			      str_same(a.vsn, a2.vsn));
		}
	}
	p = in;
	struct nc_proto_ping m, m2;
	if (nc_proto_decode_ping(&p, end, &m) == 0) {
		int n = nc_proto_encode_ping(buf, sizeof(buf), &m);
		CHECK(n > 0);
		const char *q = buf + 1;
		CHECK(nc_proto_decode_ping(&q, buf + n, &m2) == 0);
		CHECK(m.seq_no == m2.seq_no && m.source_port == m2.source_port &&
		      str_same(m.node, m2.node) &&
		      str_same(m.source_addr, m2.source_addr) &&
		      str_same(m.source_node, m2.source_node));
	}
	p = in;
	struct nc_proto_push_node s, s2;
	if (nc_proto_decode_push_node(&p, end, &s) == 0) {
		int n = nc_proto_encode_push_node(buf, sizeof(buf), &s);
		CHECK(n > 0 || n == NC_PROTO_EINVAL);
		if (n > 0) {
			const char *q = buf;
			CHECK(nc_proto_decode_push_node(&q, buf + n, &s2) == 0);
			CHECK(s.state == s2.state &&
			      s.incarnation == s2.incarnation &&
			      str_same(s.name, s2.name) &&
			      str_same(s.meta, s2.meta));
		}
	}
	p = in;
	struct nc_proto_coord c, c2;
	if (nc_proto_decode_coord(&p, end, &c) == 0) {
		int n = nc_proto_encode_coord(buf, sizeof(buf), &c);
		CHECK(n > 0);
		const char *q = buf;
		CHECK(nc_proto_decode_coord(&q, buf + n, &c2) == 0);
		CHECK(c.dims == c2.dims &&
		      memcmp(c.vec, c2.vec, sizeof(c.vec)) == 0);
	}
}

static void
decrypt(const char *in, size_t size)
{
	/* one keyring for the whole run (libFuzzer is single-threaded) */
	static struct nc_crypto_keyring *kr;
	static char out[NC_PROTO_MAX_PACKET];
	if (kr == NULL) {
		uint8_t key[32];
		for (int i = 0; i < 32; i++)
			key[i] = (uint8_t)i;
		kr = nc_crypto_keyring_new();
		CHECK(kr != NULL);
		CHECK(nc_crypto_keyring_install(kr, key + 16, 16) == 0);
		CHECK(nc_crypto_keyring_install(kr, key, 32) == 0);
	}
	int n = nc_crypto_packet_decrypt(kr, in, size, out, sizeof(out), NULL);
	CHECK(n < 0 || (size_t)n <= size);
	n = nc_crypto_stream_decrypt(kr, in, size, out, sizeof(out), NULL);
	CHECK(n < 0 || (size_t)n <= size);
	if (n > 0)
		nc_test_decode_all((const uint8_t *)out, (size_t)n);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > NC_PROTO_MAX_PACKET)
		return 0;
	nc_test_decode_all(data, size);
	const char *in = (const char *)data;
	decrypt(in, size);
	roundtrip(in, in + size);
	if (size > 0)
		roundtrip(in + 1, in + size);
	/* LZW: what decompresses must re-compress and decompress back */
	static char out[NC_PROTO_MAX_PACKET_DECOMPRESSED];
	static char comp[2 * NC_PROTO_MAX_PACKET_DECOMPRESSED];
	static char back[NC_PROTO_MAX_PACKET_DECOMPRESSED];
	int n = nc_proto_lzw_decompress(out, sizeof(out), in, size);
	if (n >= 0) {
		int c = nc_proto_lzw_compress(comp, sizeof(comp), out, (size_t)n);
		CHECK(c > 0);
		int b = nc_proto_lzw_decompress(back, sizeof(back), comp,
						(size_t)c);
		CHECK(b == n && memcmp(back, out, (size_t)n) == 0);
	}
	return 0;
}
