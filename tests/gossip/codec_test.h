/*
 * tests/gossip/codec_test.h - shared helpers of the test_gossip_codec
 * binary (wire codec + crypto): golden vectors loaded from
 * tests/data/wire-vectors.json, and the decode-everything routine shared
 * with the libFuzzer target.
 */
#ifndef NC_TESTS_GOSSIP_CODEC_TEST_H
#define NC_TESTS_GOSSIP_CODEC_TEST_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

/** One golden vector. */
struct test_vec {
	const char *name;	/**< vector name */
	const cJSON *fields;	/**< its "fields" object */
	const char *bytes;	/**< decoded hex */
	size_t len;		/**< number of bytes */
};

/** Vector by name; NULL (and a CUnit failure) if missing. */
const struct test_vec *
tv_get(const char *name);

/** Number of vectors loaded. */
unsigned
tv_count(void);

/** Vector i in file order. */
const struct test_vec *
tv_at(unsigned i);

/** Register the CUnit suites. @retval 0 or a CUnit error. */
int
test_proto_register(void);
int
test_crypto_register(void);

/**
 * Feed data through every decoder of gossip/proto.h (as a packet, as a
 * stream, as each message body, as LZW, as Meta, as an ack payload).
 * Never fails: the point is that nothing crashes or reads out of bounds.
 * @return a checksum of what was decoded (keeps the work observable)
 */
unsigned
nc_test_decode_all(const uint8_t *data, size_t len);

#endif /* NC_TESTS_GOSSIP_CODEC_TEST_H */
