/*
 * gossip/crypto.h - memberlist keyring and AES-GCM framing (PROTOCOL.md §4).
 *
 * crypto.c is the only file of the project that includes OpenSSL headers;
 * this header does not, so callers never see EVP types.
 *
 * UDP packet (no type byte, empty additional data in memberlist 0.2.2):
 *
 *   +---------+-----------+----------------------------+---------+
 *   | version | nonce(12) | AES-GCM ciphertext          | tag(16) |
 *   +---------+-----------+----------------------------+---------+
 *     0 or 1                version 0: plaintext + PKCS#7 padding
 *
 * TCP stream frame (additional data = the 5 header bytes):
 *
 *   +----+----------+---------+-----------+------------+---------+
 *   | 0a | L uint32 | version | nonce(12) | ciphertext | tag(16) |
 *   +----+----------+---------+-----------+------------+---------+
 *        big-endian, L = bytes after the 5-byte header
 *
 * Error codes are the NC_CRYPTO_E* values of enum nc_proto_error
 * (proto.h); nc_proto_strerror() describes them.
 */
#ifndef NC_GOSSIP_CRYPTO_H
#define NC_GOSSIP_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#include "gossip/proto.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Max keys in a keyring (serf has no limit; 16 is plenty for rotation). */
#define NC_CRYPTO_MAX_KEYS 16
/** Largest key: AES-256. */
#define NC_CRYPTO_KEY_MAX 32
/** GCM nonce length. */
#define NC_CRYPTO_NONCE_LEN 12
/** GCM tag length. */
#define NC_CRYPTO_TAG_LEN 16
/** Overhead of encryption version 1: version + nonce + tag. */
#define NC_CRYPTO_OVERHEAD 29
/** Max overhead of encryption version 0 (+ up to 16 padding bytes). */
#define NC_CRYPTO_OVERHEAD_V0 45
/** Stream frame header: 0a + uint32 length. */
#define NC_CRYPTO_STREAM_HEADER 5
/** Version byte: 0 = PKCS#7 padded (memberlist protocol 1), 1 = plain. */
#define NC_CRYPTO_VERSION_DEFAULT 1
/** Length of a base64 32-byte key, without the NUL. */
#define NC_CRYPTO_KEY_B64_LEN 44

/**
 * Random source for nonces: fill buf with len random bytes.
 * @retval 0 ok, non-zero failure (encryption then fails with ERAND).
 */
typedef int (*nc_crypto_rand_cb)(void *ctx, unsigned char *buf, size_t len);

/** Opaque keyring: ordered keys, element 0 is the primary. */
struct nc_crypto_keyring;

/**
 * Allocate an empty keyring (no key = encryption disabled). Initialises
 * OpenSSL without loading its config file. Nonces come from RAND_bytes
 * unless nc_crypto_keyring_set_rand() says otherwise.
 * @return keyring or NULL on allocation / OpenSSL failure.
 */
struct nc_crypto_keyring *
nc_crypto_keyring_new(void);

/** Wipe every key (OPENSSL_cleanse) and free the keyring. NULL is ok. */
void
nc_crypto_keyring_delete(struct nc_crypto_keyring *kr);

/**
 * Replace the nonce source (tests pass a fixed one to reproduce vectors;
 * NEVER do that in production: GCM nonce reuse is catastrophic).
 * cb NULL restores RAND_bytes.
 */
void
nc_crypto_keyring_set_rand(struct nc_crypto_keyring *kr,
			   nc_crypto_rand_cb cb, void *ctx);

/**
 * Install a key (serf `keys -install`). Appended after existing keys; the
 * first key installed becomes primary. Installing a present key is a no-op.
 * @retval 0, NC_CRYPTO_EKEYLEN, NC_CRYPTO_EFULL
 */
int
nc_crypto_keyring_install(struct nc_crypto_keyring *kr, const uint8_t *key,
			  size_t len);

/**
 * Make an installed key the primary (serf `keys -use`). The order of the
 * other keys is kept.
 * @retval 0, NC_CRYPTO_ENOTFOUND, NC_CRYPTO_EKEYLEN
 */
int
nc_crypto_keyring_use(struct nc_crypto_keyring *kr, const uint8_t *key,
		      size_t len);

/**
 * Remove a key (serf `keys -remove`); its bytes are wiped.
 * @retval 0, NC_CRYPTO_ENOTFOUND, NC_CRYPTO_EPRIMARY (the primary cannot
 *         be removed, as in memberlist), NC_CRYPTO_EKEYLEN
 */
int
nc_crypto_keyring_remove(struct nc_crypto_keyring *kr, const uint8_t *key,
			 size_t len);

/** Number of installed keys (0 = encryption disabled). */
unsigned
nc_crypto_keyring_count(const struct nc_crypto_keyring *kr);

/**
 * Copy key i (0 = primary) into out (serf `keys -list`).
 * @return key length, NC_CRYPTO_ENOTFOUND if i >= count, NC_PROTO_ENOSPC.
 */
int
nc_crypto_keyring_get(const struct nc_crypto_keyring *kr, unsigned i,
		      uint8_t *out, size_t cap);

/**
 * Encrypt a UDP packet with the primary key.
 * @param version  0 (PKCS#7 padded) or 1 (NC_CRYPTO_VERSION_DEFAULT)
 * @param out      receives version|nonce|ciphertext|tag; must not
 *                 overlap in; cap >= len + NC_CRYPTO_OVERHEAD_V0 is
 *                 always enough
 * @return output length, NC_CRYPTO_ENOKEY, NC_PROTO_ENOSPC,
 *         NC_PROTO_EINVAL (bad version), NC_CRYPTO_ERAND,
 *         NC_CRYPTO_EOPENSSL.
 */
int
nc_crypto_packet_encrypt(struct nc_crypto_keyring *kr, int version,
			 const char *in, size_t len, char *out, size_t cap);

/**
 * Decrypt a UDP packet trying every key in order (empty AD).
 * @param out      plaintext; must not overlap in; cap >= len is enough
 * @param key_idx  optional: index of the key that opened it
 * @return plaintext length, NC_CRYPTO_ESHORT (below the minimum size for
 *         its version), NC_CRYPTO_EVERSION, NC_CRYPTO_EDECRYPT (no key
 *         opened it; also bad v0 padding), NC_CRYPTO_ENOKEY.
 */
int
nc_crypto_packet_decrypt(struct nc_crypto_keyring *kr, const char *in,
			 size_t len, char *out, size_t cap, int *key_idx);

/**
 * Encrypt a complete stream message into an encrypted stream frame
 * (0a | L | version | nonce | ciphertext | tag), AD = the 5 header bytes.
 * @return frame length or an error as nc_crypto_packet_encrypt.
 */
int
nc_crypto_stream_encrypt(struct nc_crypto_keyring *kr, int version,
			 const char *in, size_t len, char *out, size_t cap);

/**
 * Decrypt a complete encrypted stream frame (5-byte header included; use
 * nc_proto_stream_scan to know when it is complete). L must equal
 * len - 5 and be <= NC_PROTO_MAX_STREAM.
 * @return plaintext length (a complete stream message) or
 *         NC_PROTO_ETYPE (first byte not 0a), NC_PROTO_ETRUNC (L
 *         mismatch), NC_PROTO_ETOOBIG, or the packet decrypt errors.
 */
int
nc_crypto_stream_decrypt(struct nc_crypto_keyring *kr, const char *in,
			 size_t len, char *out, size_t cap, int *key_idx);

/**
 * Parse a base64 key as given to `serf agent -encrypt` (standard RFC 4648
 * alphabet with padding; surrounding whitespace ignored).
 * @param[out] key      NC_CRYPTO_KEY_MAX bytes
 * @param[out] key_len  16, 24 or 32
 * @param[out] err      optional message buffer for a human-readable reason
 * @retval 0, NC_CRYPTO_EBASE64, NC_CRYPTO_EKEYLEN
 */
int
nc_crypto_key_parse_base64(const char *b64, uint8_t *key, size_t *key_len,
			   char *err, size_t err_cap);

/**
 * Generate a 32-byte key with RAND_bytes and write it base64-encoded
 * (`serf keygen`), NUL-terminated; cap must be >= 45.
 * @retval 0, NC_PROTO_ENOSPC, NC_CRYPTO_ERAND
 */
int
nc_crypto_keygen_base64(char *out, size_t cap);

/**
 * Base64-encode a raw key (for `keys -list` output), NUL-terminated.
 * @return string length or NC_PROTO_ENOSPC.
 */
int
nc_crypto_key_to_base64(const uint8_t *key, size_t len, char *out,
			size_t cap);

#ifdef __cplusplus
}
#endif

#endif /* NC_GOSSIP_CRYPTO_H */
