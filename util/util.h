/*
 * util/util.h - the public header of nc_util: the small pieces that every
 * other module used to write for itself.
 *
 *   nc_hash_*         FNV-1a 64 of a byte string                 (inline)
 *   nc_hmap_*         intrusive, chained, name-keyed hash map     hmap.c
 *   nc_splitmix64,
 *   nc_rng_*          splitmix64 and xoshiro256** (seedable)      rng.c
 *   nc_dbuf_*         growable byte buffer with a cap             dbuf.c
 *   nc_rtt_matrix_*   the RTT-matrix file loader                  rtt_matrix.c
 *   nc_parse_bool     the one boolean vocabulary                  parse.c
 *   nc_parse_duration Go durations ("300ms", "1m30s")             parse.c
 *   nc_errf,
 *   nc_line_blank     error messages into optional buffers; blank or
 *                     comment lines of the text files we read      parse.c
 *   nc_file_write_atomic  replace a file (temp, fsync, rename)     file.c
 *   nc_file_read      read a small file whole, with a size cap    file.c
 *
 * nc_util depends on libc and libm only, and on no other module: any module
 * may link it. The pieces are named after the piece, not after the module
 * (nc_hmap_find, not nc_util_hmap_find): they read as small types in
 * their own right, like libuv's uv_buf_init.
 *
 * Errors follow STYLE.md §5: 0 or a negative errno value.
 */
#ifndef NC_UTIL_H
#define NC_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ------------------------------------------------------------------ */
/* Hashing                                                            */
/* ------------------------------------------------------------------ */

/** FNV-1a 64-bit offset basis and prime (from the FNV specification). */
#define NC_HASH_FNV_BASIS 0xcbf29ce484222325ULL
#define NC_HASH_FNV_PRIME 0x100000001b3ULL

/** FNV-1a 64 of @a len bytes at @a p (NUL bytes included). */
static inline uint64_t
nc_hash_bytes(const void *p, size_t len)
{
	const unsigned char *s = p;
	uint64_t h = NC_HASH_FNV_BASIS;

	for (size_t i = 0; i < len; i++) {
		h ^= s[i];
		h *= NC_HASH_FNV_PRIME;
	}
	return h;
}

/**
 * FNV-1a 64 from basis ^ @a seed: for a table keyed by names from the
 * network, a seed the sender cannot know (e.g. from an address ASLR
 * randomises) keeps it from choosing names that all land in one probe
 * run. Not a keyed MAC: it raises the bar, it does not shut the door.
 */
static inline uint64_t
nc_hash_bytes_seeded(uint64_t seed, const void *p, size_t len)
{
	const unsigned char *s = p;
	uint64_t h = NC_HASH_FNV_BASIS ^ seed;

	for (size_t i = 0; i < len; i++) {
		h ^= s[i];
		h *= NC_HASH_FNV_PRIME;
	}
	return h ^ (h >> 29);
}

/** FNV-1a 64 of a NUL-terminated string: nc_hash_bytes(s, strlen(s)) in
 * one pass. */
static inline uint64_t
nc_hash_str(const char *s)
{
	uint64_t h = NC_HASH_FNV_BASIS;

	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= NC_HASH_FNV_PRIME;
	}
	return h;
}

/* ------------------------------------------------------------------ */
/* Name-keyed hash map                                                */
/* ------------------------------------------------------------------ */

/**
 * Link of an entry in an nc_hmap, embedded in the caller's struct (the map
 * never allocates entries; container_of-style casts get the struct back).
 * The key is NOT copied: it must stay valid and unchanged while the entry
 * is in the map (usually it points into the same allocation).
 */
struct nc_hmap_node {
	/** Next entry of the same bucket. */
	struct nc_hmap_node *next;
	/** Key bytes (may contain NULs). */
	const char *key;
	/** nc_hash_bytes(key, key_len), low 32 bits (bucket arrays stay
	 * far below 2^32; 24 bytes a node rather than 32 matters at one
	 * node per member per agent, 10^8 of them in a 10,000-agent fleet
	 * simulation). */
	uint32_t hash;
	/** Length of the key. */
	uint32_t key_len;
};

/**
 * A hash map from byte strings to nodes: a power-of-two bucket array of
 * singly linked chains. Keys are compared by length, then bytes (memcmp),
 * never with strlen/strcmp, so "a" and "a\0b" are different keys.
 *
 * The bucket array doubles when an insert would make count exceed the
 * bucket count (load factor 1). Zero-initialised (or nc_hmap_create with
 * a hint of 0) is an empty map with no allocation; the first insert
 * allocates NC_HMAP_MIN_BUCKETS buckets.
 */
struct nc_hmap {
	/** Bucket heads, n_buckets of them (NULL when n_buckets is 0). */
	struct nc_hmap_node **buckets;
	/** A power of two, or 0. */
	size_t n_buckets;
	/** Entries in the map. */
	size_t count;
};

/** The struct of type @a type whose member @a field is at @a ptr. */
#define NC_CONTAINER_OF(ptr, type, field) \
	((type *)(void *)((char *)(ptr) - offsetof(type, field)))

/** Smallest bucket array allocated. Nothing special in this value. */
#define NC_HMAP_MIN_BUCKETS 16

/**
 * Initialise @a m with room for @a hint entries before the first growth
 * (0: allocate on first insert). @retval 0, -ENOMEM (m is then empty).
 */
int nc_hmap_create(struct nc_hmap *m, size_t hint);

/** Free the bucket array. The nodes belong to the caller, untouched. */
void nc_hmap_destroy(struct nc_hmap *m);

/** The entry with this key, or NULL. */
struct nc_hmap_node *nc_hmap_find(const struct nc_hmap *m, const char *key,
				  size_t key_len);

/**
 * Insert @a node under @a key (key_len bytes, borrowed: see nc_hmap_node).
 * The caller makes sure the key is not already present (find first).
 * @retval 0, -ENOMEM (the map could not grow; node not inserted).
 */
int nc_hmap_insert(struct nc_hmap *m, struct nc_hmap_node *node,
		   const char *key, size_t key_len);

/** Remove @a node, which must be in @a m. */
void nc_hmap_remove(struct nc_hmap *m, struct nc_hmap_node *node);

/** True if the key of @a node is @a key (length first, then bytes). */
bool nc_hmap_node_is(const struct nc_hmap_node *node, const char *key,
		     size_t key_len);

/* ------------------------------------------------------------------ */
/* PRNG                                                               */
/* ------------------------------------------------------------------ */

/**
 * splitmix64 (Vigna): one 64-bit state, one output per call. Used on its
 * own as a quick generator (examples, test drivers) and to expand one seed
 * into the xoshiro state.
 */
static inline uint64_t
nc_splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/** xoshiro256** state (Blackman & Vigna 2018); never all zero once seeded. */
struct nc_rng {
	uint64_t s[4];
};

/** Seed: s[0..3] = four successive splitmix64 outputs from @a seed. */
void nc_rng_seed(struct nc_rng *rng, uint64_t seed);

static inline uint64_t
nc__rng_rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

/** 64 random bits (xoshiro256**). */
static inline uint64_t
nc_rng_next(struct nc_rng *rng)
{
	uint64_t *s = rng->s;
	uint64_t result = nc__rng_rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = nc__rng_rotl(s[3], 45);
	return result;
}

/** Uniform double in [0, 1) from 64 random bits (their top 53). */
static inline double
nc_rng_double_of(uint64_t bits)
{
	return (double)(bits >> 11) * 0x1.0p-53;
}

/** Uniform double in [0, 1). */
static inline double
nc_rng_double(struct nc_rng *rng)
{
	return nc_rng_double_of(nc_rng_next(rng));
}

/* ------------------------------------------------------------------ */
/* Growable buffer                                                    */
/* ------------------------------------------------------------------ */

/**
 * A growable byte buffer with a cap (after curl's dynbuf). While data is
 * not NULL there is always a NUL at data[len], so text can be read as a C
 * string. Capacity doubles from NC_DBUF_MIN_BYTES; an append that would
 * take len past max_bytes fails with -E2BIG and changes nothing, as does
 * one whose allocation fails (-ENOMEM).
 */
struct nc_dbuf {
	/** Bytes (malloc'd), NULL until the first append. */
	char *data;
	/** Used bytes (the NUL at data[len] not included). */
	size_t len;
	/** Allocated bytes. */
	size_t cap;
	/** Cap on len. */
	size_t max_bytes;
};

/** First allocation. Nothing special in this value. */
#define NC_DBUF_MIN_BYTES 256

/** Initialise an empty buffer that will hold at most @a max_bytes. */
void nc_dbuf_init(struct nc_dbuf *b, size_t max_bytes);

/** Free the bytes; the buffer is empty again (same cap). */
void nc_dbuf_free(struct nc_dbuf *b);

/** Forget the contents, keep the allocation. */
void nc_dbuf_reset(struct nc_dbuf *b);

/**
 * Make room for @a more bytes beyond len (plus the NUL).
 * @retval 0, -E2BIG (len + more > max_bytes), -ENOMEM.
 */
int nc_dbuf_reserve(struct nc_dbuf *b, size_t more);

/** Append @a n bytes. @retval 0, -E2BIG, -ENOMEM (b unchanged). */
int nc_dbuf_append(struct nc_dbuf *b, const void *p, size_t n);

/** Append printf output. @retval 0, -E2BIG, -ENOMEM, -EINVAL (b
 * unchanged). */
int nc_dbuf_printf(struct nc_dbuf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/** nc_dbuf_printf with a va_list (for printf-like wrappers). */
int nc_dbuf_vprintf(struct nc_dbuf *b, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

/**
 * Hand the bytes over: returns data (the caller frees it; NULL if nothing
 * was ever appended) and leaves @a b empty.
 */
char *nc_dbuf_take(struct nc_dbuf *b);

/* ------------------------------------------------------------------ */
/* RTT matrix files                                                   */
/* ------------------------------------------------------------------ */

/**
 * Read an RTT matrix file: one row per line, row i = RTTs in ms from node
 * i to every node, separated by blanks. Lines that are blank or start with
 * '#' are skipped. A negative value means "missing" and is stored as -1.
 * The first row sets n (1 to @a max_n values); every row must have n
 * values and there must be n rows. Lines are at most max_n * 12 bytes.
 *
 * On success *rtt_ms is a malloc()ed n*n row-major array (the caller frees
 * it) and *n its size. On failure both are cleared and @a err (may be
 * NULL) says where, naming the file and line ("m.txt:3: expected 200
 * values, got 199"; "m.txt: 2 rows of 3 values (not square)").
 * @retval 0, -EINVAL (format), -ENOMEM, or -errno of fopen.
 */
int nc_rtt_matrix_load(const char *path, size_t max_n, double **rtt_ms,
		       size_t *n, char *err, size_t err_cap);

/* ------------------------------------------------------------------ */
/* Booleans                                                           */
/* ------------------------------------------------------------------ */

/**
 * Parse a boolean. The one vocabulary of every flag, config key and query
 * parameter (the union of what each accepted before):
 *   true:  1 t true True TRUE yes
 *   false: 0 f false False FALSE no
 * Anything else (including "") is an error. @retval 0 (*out set), -EINVAL
 * (*out untouched).
 */
int nc_parse_bool(const char *s, bool *out);

/**
 * Parse a Go duration as time.ParseDuration writes them ("300ms", "1.5h",
 * "2h45m", "0"; units ns, us, µs, ms, s, m, h; no sign) into seconds:
 * the one duration syntax of flags, config keys, the CLI and query
 * parameters. With @a bare_seconds a plain number ("30", "0.5") is
 * seconds too (our flags and config keys, as serf's); without, only "0"
 * (Consul's ?wait=). @retval 0 (*out_s set), -EINVAL (syntax, or more than
 * 1e12 s; *out_s untouched).
 */
int nc_parse_duration(const char *s, bool bare_seconds, double *out_s);

/**
 * Format a message into @a err (may be NULL or @a cap 0: nothing written)
 * and return @a rc, for `return nc_errf(err, cap, -EINVAL, "...", ...)`
 * where a caller wants more than a code (config, files, CLI).
 */
int nc_errf(char *err, size_t cap, int rc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/** A line of only blanks (space, tab, CR, LF), or a '#' comment. */
bool nc_line_blank(const char *s);

/* ------------------------------------------------------------------ */
/* Files                                                              */
/* ------------------------------------------------------------------ */

/**
 * Replace @a path with @a len bytes of @a data atomically: a temporary
 * file beside it (same directory, so the rename cannot cross file
 * systems), fsync, rename over @a path, fsync of the directory. A crash
 * leaves the old file or the new one. The file gets permission bits
 * @a mode (e.g. 0600 for key material).
 * @retval 0 or a negative errno (the temporary file is removed).
 */
int nc_file_write_atomic(const char *path, const void *data, size_t len,
			 unsigned mode);

/**
 * Read the whole file @a path, at most @a max_bytes, into *@a out
 * (malloc()ed, NUL-terminated; the caller frees), its length into *@a len
 * and its permission bits into *@a mode (both may be NULL).
 * @retval 0 ok
 * @retval -errno from open (e.g. -ENOENT), -EFBIG above @a max_bytes,
 *         -EIO, -ENOMEM; *out is NULL and @a err says "PATH: why".
 */
int nc_file_read(const char *path, size_t max_bytes, char **out, size_t *len,
		 unsigned *mode, char *err, size_t err_cap);

#endif /* NC_UTIL_H */
