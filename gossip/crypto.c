/*
 * gossip/crypto.c - memberlist keyring and AES-GCM framing (§4).
 *
 * Design
 * ------
 * The only file of netcoord that includes OpenSSL headers. A keyring is
 * an ordered array of up to NC_CRYPTO_MAX_KEYS raw AES keys; element 0 is
 * the primary. Everything sent is sealed with the primary; everything
 * received is tried against every key in order, first success wins
 * (memberlist's rolling key rotation: install everywhere, use, remove).
 *
 * Cost per packet: the keyring owns ONE EVP_CIPHER_CTX, reused for every
 * seal/open (re-keyed by EVP_*Init_ex: an AES key expansion is cheaper
 * than an allocation), and caches the three EVP_CIPHER objects fetched
 * once (OpenSSL 3 fetches are expensive: they lock the provider store).
 * No heap allocation on the packet path. The keyring is therefore not
 * thread-safe: one keyring per event loop.
 *
 * OpenSSL is initialised with OPENSSL_INIT_NO_LOAD_CONFIG: we need no
 * engine/provider configuration and reading openssl.cnf costs memory.
 *
 * Nonces are 12 random bytes per message from RAND_bytes, or from a
 * caller-supplied source (tests: fixed nonce 00..0b to reproduce the
 * golden vectors). Key bytes are wiped with OPENSSL_cleanse when a key
 * is removed and when the keyring is deleted.
 *
 * Version 0 (memberlist protocol 1) pads with PKCS#7 before sealing; on
 * open, like Go, only the last byte is looked at (the GCM tag already
 * authenticates it); a pad longer than the plaintext, which would panic
 * Go, is rejected here as a decryption failure.
 */
#include "gossip/crypto.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

/** One installed key. */
struct key {
	uint8_t bytes[NC_CRYPTO_KEY_MAX];	/**< raw key */
	uint8_t len;				/**< 16, 24 or 32 */
};

struct nc_crypto_keyring {
	struct key keys[NC_CRYPTO_MAX_KEYS];	/**< [0] is the primary */
	unsigned count;				/**< installed keys */
	EVP_CIPHER_CTX *ctx;			/**< reused for every op */
	EVP_CIPHER *cipher[3];			/**< AES-128/192/256-GCM */
	const EVP_CIPHER *loaded;		/**< cipher ctx is set up for */
	nc_crypto_rand_cb rand;			/**< nonce source or NULL */
	void *rand_ctx;				/**< its argument */
};

#define VERSION_SIZE 1
#define PAD_BLOCK 16

static bool
key_len_ok(size_t len)
{
	return len == 16 || len == 24 || len == 32;
}

static const EVP_CIPHER *
cipher_for(struct nc_crypto_keyring *kr, size_t key_len)
{
	static const char *const names[3] = {
		"AES-128-GCM", "AES-192-GCM", "AES-256-GCM"
	};
	unsigned i = key_len == 16 ? 0 : key_len == 24 ? 1 : 2;
	if (kr->cipher[i] == NULL)
		kr->cipher[i] = EVP_CIPHER_fetch(NULL, names[i], NULL);
	return kr->cipher[i];
}

/*
 * (Re)initialise the shared context for one operation. Passing the
 * cipher again would make OpenSSL 3 free and re-create the provider
 * context (two allocations per packet); passing NULL when it is already
 * loaded only re-keys it.
 */
static bool
ctx_init(struct nc_crypto_keyring *kr, const struct key *k, bool enc,
	 const unsigned char *nonce)
{
	const EVP_CIPHER *cipher = cipher_for(kr, k->len);
	if (cipher == NULL)
		return false;
	const EVP_CIPHER *arg = cipher == kr->loaded ? NULL : cipher;
	int ok = enc ? EVP_EncryptInit_ex(kr->ctx, arg, NULL, k->bytes, nonce) :
		       EVP_DecryptInit_ex(kr->ctx, arg, NULL, k->bytes, nonce);
	kr->loaded = ok == 1 ? cipher : NULL;
	return ok == 1;
}

struct nc_crypto_keyring *
nc_crypto_keyring_new(void)
{
	if (OPENSSL_init_crypto(OPENSSL_INIT_NO_LOAD_CONFIG, NULL) != 1)
		return NULL;
	struct nc_crypto_keyring *kr = OPENSSL_zalloc(sizeof(*kr));
	if (kr == NULL)
		return NULL;
	kr->ctx = EVP_CIPHER_CTX_new();
	if (kr->ctx == NULL) {
		OPENSSL_free(kr);
		return NULL;
	}
	return kr;
}

void
nc_crypto_keyring_delete(struct nc_crypto_keyring *kr)
{
	if (kr == NULL)
		return;
	EVP_CIPHER_CTX_free(kr->ctx);	/* cleanses its key schedule */
	for (unsigned i = 0; i < 3; i++)
		EVP_CIPHER_free(kr->cipher[i]);
	OPENSSL_clear_free(kr, sizeof(*kr));
}

void
nc_crypto_keyring_set_rand(struct nc_crypto_keyring *kr,
			   nc_crypto_rand_cb cb, void *ctx)
{
	kr->rand = cb;
	kr->rand_ctx = ctx;
}

static int
find_key(const struct nc_crypto_keyring *kr, const uint8_t *key, size_t len)
{
	for (unsigned i = 0; i < kr->count; i++)
		if (kr->keys[i].len == len &&
		    CRYPTO_memcmp(kr->keys[i].bytes, key, len) == 0)
			return (int)i;
	return -1;
}

int
nc_crypto_keyring_install(struct nc_crypto_keyring *kr, const uint8_t *key,
			  size_t len)
{
	if (!key_len_ok(len))
		return NC_CRYPTO_EKEYLEN;
	if (find_key(kr, key, len) >= 0)
		return 0;
	if (kr->count >= NC_CRYPTO_MAX_KEYS)
		return NC_CRYPTO_EFULL;
	struct key *k = &kr->keys[kr->count++];
	memcpy(k->bytes, key, len);
	k->len = (uint8_t)len;
	return 0;
}

int
nc_crypto_keyring_use(struct nc_crypto_keyring *kr, const uint8_t *key,
		      size_t len)
{
	if (!key_len_ok(len))
		return NC_CRYPTO_EKEYLEN;
	int i = find_key(kr, key, len);
	if (i < 0)
		return NC_CRYPTO_ENOTFOUND;
	/* rotate [0..i] right by one: the others keep their order */
	struct key k = kr->keys[i];
	memmove(&kr->keys[1], &kr->keys[0], (size_t)i * sizeof(k));
	kr->keys[0] = k;
	OPENSSL_cleanse(&k, sizeof(k));
	return 0;
}

int
nc_crypto_keyring_remove(struct nc_crypto_keyring *kr, const uint8_t *key,
			 size_t len)
{
	if (!key_len_ok(len))
		return NC_CRYPTO_EKEYLEN;
	int i = find_key(kr, key, len);
	if (i < 0)
		return NC_CRYPTO_ENOTFOUND;
	if (i == 0)
		return NC_CRYPTO_EPRIMARY;
	memmove(&kr->keys[i], &kr->keys[i + 1],
		(kr->count - (unsigned)i - 1) * sizeof(kr->keys[0]));
	kr->count--;
	OPENSSL_cleanse(&kr->keys[kr->count], sizeof(kr->keys[0]));
	return 0;
}

unsigned
nc_crypto_keyring_count(const struct nc_crypto_keyring *kr)
{
	return kr->count;
}

int
nc_crypto_keyring_get(const struct nc_crypto_keyring *kr, unsigned i,
		      uint8_t *out, size_t cap)
{
	if (i >= kr->count)
		return NC_CRYPTO_ENOTFOUND;
	if (cap < kr->keys[i].len)
		return NC_PROTO_ENOSPC;
	memcpy(out, kr->keys[i].bytes, kr->keys[i].len);
	return kr->keys[i].len;
}

/* ------------------------------------------------------------------ */
/* Seal / open                                                        */
/* ------------------------------------------------------------------ */

/*
 * Seal in[0..len) (+ PKCS#7 padding for version 0) with the primary key
 * into out = version | nonce | ciphertext | tag.
 */
static int
seal(struct nc_crypto_keyring *kr, int version, const unsigned char *ad,
     size_t ad_len, const char *in, size_t len, char *out, size_t cap)
{
	if (kr->count == 0)
		return NC_CRYPTO_ENOKEY;
	if (version != 0 && version != 1)
		return NC_PROTO_EINVAL;
	size_t pad = version == 0 ? PAD_BLOCK - len % PAD_BLOCK : 0;
	if (len > INT32_MAX - NC_CRYPTO_OVERHEAD_V0 - 5)
		return NC_PROTO_ENOSPC;
	size_t total = VERSION_SIZE + NC_CRYPTO_NONCE_LEN + len + pad +
		       NC_CRYPTO_TAG_LEN;
	if (cap < total)
		return NC_PROTO_ENOSPC;

	unsigned char *o = (unsigned char *)out;
	o[0] = (unsigned char)version;
	unsigned char *nonce = o + VERSION_SIZE;
	if (kr->rand != NULL) {
		if (kr->rand(kr->rand_ctx, nonce, NC_CRYPTO_NONCE_LEN) != 0)
			return NC_CRYPTO_ERAND;
	} else if (RAND_bytes(nonce, NC_CRYPTO_NONCE_LEN) != 1) {
		return NC_CRYPTO_ERAND;
	}

	unsigned char *ct = nonce + NC_CRYPTO_NONCE_LEN;
	int n, done = 0;
	if (!ctx_init(kr, &kr->keys[0], true, nonce))
		return NC_CRYPTO_EOPENSSL;
	if (ad_len > 0 &&
	    EVP_EncryptUpdate(kr->ctx, NULL, &n, ad, (int)ad_len) != 1)
		return NC_CRYPTO_EOPENSSL;
	if (len > 0) {
		if (EVP_EncryptUpdate(kr->ctx, ct, &n,
				      (const unsigned char *)in,
				      (int)len) != 1)
			return NC_CRYPTO_EOPENSSL;
		done += n;
	}
	if (pad > 0) {
		unsigned char block[PAD_BLOCK];
		memset(block, (int)pad, pad);
		if (EVP_EncryptUpdate(kr->ctx, ct + done, &n, block,
				      (int)pad) != 1)
			return NC_CRYPTO_EOPENSSL;
		done += n;
	}
	if (EVP_EncryptFinal_ex(kr->ctx, ct + done, &n) != 1)
		return NC_CRYPTO_EOPENSSL;
	done += n;
	if ((size_t)done != len + pad ||
	    EVP_CIPHER_CTX_ctrl(kr->ctx, EVP_CTRL_GCM_GET_TAG,
				NC_CRYPTO_TAG_LEN, ct + done) != 1)
		return NC_CRYPTO_EOPENSSL;
	return (int)total;
}

/* Open with one key. @retval plaintext length or -1 if the tag fails. */
static int
open_one(struct nc_crypto_keyring *kr, const struct key *k,
	 const unsigned char *ad, size_t ad_len, const unsigned char *nonce,
	 const unsigned char *ct, size_t ct_len, unsigned char *out)
{
	int n, done = 0;
	if (!ctx_init(kr, k, false, nonce))
		return -1;
	if (ad_len > 0 &&
	    EVP_DecryptUpdate(kr->ctx, NULL, &n, ad, (int)ad_len) != 1)
		return -1;
	if (ct_len > 0) {
		if (EVP_DecryptUpdate(kr->ctx, out, &n, ct, (int)ct_len) != 1)
			return -1;
		done = n;
	}
	/* the tag is const input; OpenSSL's prototype is not const-clean */
	unsigned char tag[NC_CRYPTO_TAG_LEN];
	memcpy(tag, ct + ct_len, sizeof(tag));
	if (EVP_CIPHER_CTX_ctrl(kr->ctx, EVP_CTRL_GCM_SET_TAG, sizeof(tag),
				tag) != 1)
		return -1;
	if (EVP_DecryptFinal_ex(kr->ctx, out + done, &n) != 1)
		return -1;
	return done + n;
}

static int
open_all(struct nc_crypto_keyring *kr, const unsigned char *ad,
	 size_t ad_len, const char *in, size_t len, char *out, size_t cap,
	 int *key_idx)
{
	if (key_idx != NULL)
		*key_idx = -1;
	if (kr->count == 0)
		return NC_CRYPTO_ENOKEY;
	if (len == 0)
		return NC_CRYPTO_ESHORT;
	const unsigned char *p = (const unsigned char *)in;
	unsigned version = p[0];
	if (version > 1)
		return NC_CRYPTO_EVERSION;
	/* Go computes the minimum as if version 0 always had a full pad
	 * block: 45 bytes for version 0, 29 for version 1. */
	size_t min = version == 0 ? NC_CRYPTO_OVERHEAD_V0 : NC_CRYPTO_OVERHEAD;
	if (len < min)
		return NC_CRYPTO_ESHORT;
	if (len > INT32_MAX)
		return NC_PROTO_ETOOBIG;
	size_t ct_len = len - NC_CRYPTO_OVERHEAD;
	if (cap < ct_len)
		return NC_PROTO_ENOSPC;
	const unsigned char *nonce = p + VERSION_SIZE;
	const unsigned char *ct = nonce + NC_CRYPTO_NONCE_LEN;
	for (unsigned i = 0; i < kr->count; i++) {
		int n = open_one(kr, &kr->keys[i], ad, ad_len, nonce, ct,
				 ct_len, (unsigned char *)out);
		if (n < 0)
			continue;
		if (version == 0) {
			/* PKCS#7: n >= 16 here, since len >= 45 */
			unsigned pad = (unsigned char)out[n - 1];
			if (pad > (unsigned)n)
				return NC_CRYPTO_EDECRYPT;
			n -= (int)pad;
		}
		if (key_idx != NULL)
			*key_idx = (int)i;
		return n;
	}
	return NC_CRYPTO_EDECRYPT;
}

int
nc_crypto_packet_encrypt(struct nc_crypto_keyring *kr, int version,
			 const char *in, size_t len, char *out, size_t cap)
{
	/* memberlist 0.2.2 packets carry no additional data */
	return seal(kr, version, NULL, 0, in, len, out, cap);
}

int
nc_crypto_packet_decrypt(struct nc_crypto_keyring *kr, const char *in,
			 size_t len, char *out, size_t cap, int *key_idx)
{
	return open_all(kr, NULL, 0, in, len, out, cap, key_idx);
}

int
nc_crypto_stream_encrypt(struct nc_crypto_keyring *kr, int version,
			 const char *in, size_t len, char *out, size_t cap)
{
	if (version != 0 && version != 1)
		return NC_PROTO_EINVAL;
	if (len > NC_PROTO_MAX_STREAM)
		return NC_PROTO_ETOOBIG;
	size_t pad = version == 0 ? PAD_BLOCK - len % PAD_BLOCK : 0;
	size_t body = NC_CRYPTO_OVERHEAD + len + pad;
	if (cap < NC_CRYPTO_STREAM_HEADER ||
	    cap - NC_CRYPTO_STREAM_HEADER < body)
		return NC_PROTO_ENOSPC;
	/* the header is the additional data, so it is written first */
	unsigned char *hdr = (unsigned char *)out;
	hdr[0] = NC_PROTO_ENCRYPT;
	hdr[1] = (unsigned char)(body >> 24);
	hdr[2] = (unsigned char)(body >> 16);
	hdr[3] = (unsigned char)(body >> 8);
	hdr[4] = (unsigned char)body;
	int n = seal(kr, version, hdr, NC_CRYPTO_STREAM_HEADER, in, len,
		     out + NC_CRYPTO_STREAM_HEADER,
		     cap - NC_CRYPTO_STREAM_HEADER);
	if (n < 0)
		return n;
	return n + NC_CRYPTO_STREAM_HEADER;
}

int
nc_crypto_stream_decrypt(struct nc_crypto_keyring *kr, const char *in,
			 size_t len, char *out, size_t cap, int *key_idx)
{
	if (key_idx != NULL)
		*key_idx = -1;
	if (len == 0)
		return NC_PROTO_ETRUNC;
	if ((uint8_t)in[0] != NC_PROTO_ENCRYPT)
		return NC_PROTO_ETYPE;
	if (len < NC_CRYPTO_STREAM_HEADER)
		return NC_PROTO_ETRUNC;
	const unsigned char *h = (const unsigned char *)in;
	uint32_t body = (uint32_t)h[1] << 24 | (uint32_t)h[2] << 16 |
			(uint32_t)h[3] << 8 | h[4];
	if (body > NC_PROTO_MAX_STREAM)
		return NC_PROTO_ETOOBIG;
	if (body != len - NC_CRYPTO_STREAM_HEADER)
		return NC_PROTO_ETRUNC;
	return open_all(kr, h, NC_CRYPTO_STREAM_HEADER,
			in + NC_CRYPTO_STREAM_HEADER, body, out, cap, key_idx);
}

/* ------------------------------------------------------------------ */
/* Base64 keys                                                        */
/* ------------------------------------------------------------------ */

static int
b64_val(int c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

static void
set_err(char *err, size_t cap, const char *msg, size_t a)
{
	if (err != NULL && cap > 0)
		snprintf(err, cap, msg, a);
}

int
nc_crypto_key_parse_base64(const char *b64, uint8_t *key, size_t *key_len,
			   char *err, size_t err_cap)
{
	*key_len = 0;
	size_t n = strlen(b64);
	while (n > 0 && isspace((unsigned char)*b64)) {
		b64++;
		n--;
	}
	while (n > 0 && isspace((unsigned char)b64[n - 1]))
		n--;
	if (n == 0 || n % 4 != 0) {
		set_err(err, err_cap, "invalid base64 key: length %zu is not a "
			"non-zero multiple of 4", n);
		return NC_CRYPTO_EBASE64;
	}
	size_t pad = 0;
	if (b64[n - 1] == '=')
		pad = b64[n - 2] == '=' ? 2 : 1;
	size_t raw = n / 4 * 3 - pad;
	if (raw > NC_CRYPTO_KEY_MAX || !key_len_ok(raw)) {
		set_err(err, err_cap, "key must be 16, 24 or 32 bytes "
			"(got %zu); use 'netcoord keygen' for a 32-byte key",
			raw);
		return NC_CRYPTO_EKEYLEN;
	}
	uint32_t acc = 0;
	size_t o = 0;
	for (size_t i = 0; i < n - pad; i++) {
		int v = b64_val((unsigned char)b64[i]);
		if (v < 0) {
			set_err(err, err_cap, "invalid base64 key: bad "
				"character at offset %zu", i);
			OPENSSL_cleanse(key, NC_CRYPTO_KEY_MAX);
			return NC_CRYPTO_EBASE64;
		}
		acc = acc << 6 | (uint32_t)v;
		if (i % 4 == 3) {
			key[o++] = (uint8_t)(acc >> 16);
			key[o++] = (uint8_t)(acc >> 8);
			key[o++] = (uint8_t)acc;
			acc = 0;
		}
	}
	/* trailing partial group: 2 chars -> 1 byte, 3 chars -> 2 bytes;
	 * the unused low bits must be zero (canonical encoding, as Go) */
	if (pad == 2) {
		if (acc & 0x0f)
			goto noncanon;
		key[o++] = (uint8_t)(acc >> 4);
	} else if (pad == 1) {
		if (acc & 0x03)
			goto noncanon;
		key[o++] = (uint8_t)(acc >> 10);
		key[o++] = (uint8_t)(acc >> 2);
	}
	*key_len = o;
	return 0;
noncanon:
	set_err(err, err_cap, "invalid base64 key: non-canonical padding "
		"at offset %zu", n - pad - 1);
	OPENSSL_cleanse(key, NC_CRYPTO_KEY_MAX);
	return NC_CRYPTO_EBASE64;
}

int
nc_crypto_key_to_base64(const uint8_t *key, size_t len, char *out,
			size_t cap)
{
	size_t need = (len + 2) / 3 * 4 + 1;
	if (len > 1024 || cap < need)
		return NC_PROTO_ENOSPC;
	int n = EVP_EncodeBlock((unsigned char *)out, key, (int)len);
	return n;
}

int
nc_crypto_keygen_base64(char *out, size_t cap)
{
	if (cap < NC_CRYPTO_KEY_B64_LEN + 1)
		return NC_PROTO_ENOSPC;
	if (OPENSSL_init_crypto(OPENSSL_INIT_NO_LOAD_CONFIG, NULL) != 1)
		return NC_CRYPTO_EOPENSSL;
	uint8_t key[32];
	if (RAND_bytes(key, sizeof(key)) != 1)
		return NC_CRYPTO_ERAND;
	nc_crypto_key_to_base64(key, sizeof(key), out, cap);
	OPENSSL_cleanse(key, sizeof(key));
	return 0;
}
