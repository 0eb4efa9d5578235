/*
 * tests/util/test_hmap.c - the name-keyed hash map: lookups in shared
 * buckets and under equal hashes, growth, deletion, and keys compared by
 * length (names with NUL bytes).
 */
#include <CUnit/Basic.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "test_util.h"
#include "util/util.h"

struct item {
	struct nc_hmap_node in_map;
	int value;
	char name[24];
	size_t name_len;
};

#define ITEM_OF(n) \
	((struct item *)((char *)(n) - offsetof(struct item, in_map)))

static struct item items[2000];

static void
make(struct item *it, int i)
{
	memset(it, 0, sizeof(*it));
	it->value = i;
	it->name_len = (size_t)snprintf(it->name, sizeof(it->name), "node-%d", i);
}

static struct item *
find(const struct nc_hmap *m, const char *k, size_t len)
{
	struct nc_hmap_node *n = nc_hmap_find(m, k, len);
	return n != NULL ? ITEM_OF(n) : NULL;
}

static void
test_hash_values(void)
{
	/* FNV-1a 64 reference values (the FNV test suite). */
	CU_ASSERT_EQUAL(nc_hash_bytes("", 0), 0xcbf29ce484222325ULL);
	CU_ASSERT_EQUAL(nc_hash_bytes("a", 1), 0xaf63dc4c8601ec8cULL);
	CU_ASSERT_EQUAL(nc_hash_bytes("foobar", 6), 0x85944171f73967e8ULL);
	CU_ASSERT_EQUAL(nc_hash_str("foobar"), 0x85944171f73967e8ULL);
	CU_ASSERT_EQUAL(nc_hash_str(""), nc_hash_bytes("", 0));
	/* A NUL byte is hashed like any other. */
	CU_ASSERT_NOT_EQUAL(nc_hash_bytes("a\0", 2), nc_hash_bytes("a", 1));
}

/* 16 buckets, 2000 keys: long chains, every lookup walks past others. */
static void
test_collisions_and_growth(void)
{
	struct nc_hmap m;
	CU_ASSERT_EQUAL_FATAL(nc_hmap_create(&m, 0), 0);
	CU_ASSERT_PTR_NULL(m.buckets);
	CU_ASSERT_PTR_NULL(nc_hmap_find(&m, "x", 1));
	for (int i = 0; i < 2000; i++) {
		make(&items[i], i);
		CU_ASSERT_EQUAL(nc_hmap_insert(&m, &items[i].in_map,
					       items[i].name,
					       items[i].name_len), 0);
		if (i == 0) {
			CU_ASSERT_EQUAL(m.n_buckets, NC_HMAP_MIN_BUCKETS);
		}
		/* Load factor stays at most 1, buckets a power of two. */
		CU_ASSERT(m.count <= m.n_buckets);
		CU_ASSERT_EQUAL(m.n_buckets & (m.n_buckets - 1), 0);
	}
	CU_ASSERT_EQUAL(m.count, 2000);
	CU_ASSERT_EQUAL(m.n_buckets, 2048);
	for (int i = 0; i < 2000; i++) {
		struct item *it = find(&m, items[i].name, items[i].name_len);
		CU_ASSERT_PTR_EQUAL(it, &items[i]);
	}
	CU_ASSERT_PTR_NULL(find(&m, "node-2000", 9));
	CU_ASSERT_PTR_NULL(find(&m, "node-", 5));
	nc_hmap_destroy(&m);
	CU_ASSERT_PTR_NULL(m.buckets);
	CU_ASSERT_EQUAL(m.count, 0);
}

/* Equal hashes must not be taken for equal keys. */
static void
test_equal_hash_other_key(void)
{
	struct nc_hmap m;
	struct item a;
	CU_ASSERT_EQUAL_FATAL(nc_hmap_create(&m, 4), 0);
	CU_ASSERT_EQUAL(m.n_buckets, NC_HMAP_MIN_BUCKETS);
	make(&a, 1);
	CU_ASSERT_EQUAL(nc_hmap_insert(&m, &a.in_map, "k1", 2), 0);
	/* Same length, same stored hash, other bytes: a forged collision. */
	a.in_map.key = "k2";
	CU_ASSERT_PTR_NULL(nc_hmap_find(&m, "k1", 2));
	CU_ASSERT_PTR_NULL(nc_hmap_find(&m, "k2", 2)); /* other bucket */
	a.in_map.key = "k1";
	CU_ASSERT_PTR_EQUAL(nc_hmap_find(&m, "k1", 2), &a.in_map);
	nc_hmap_destroy(&m);
}

static void
test_delete(void)
{
	struct nc_hmap m;
	nc_hmap_create(&m, 0);
	for (int i = 0; i < 300; i++) {
		make(&items[i], i);
		nc_hmap_insert(&m, &items[i].in_map, items[i].name,
			       items[i].name_len);
	}
	for (int i = 0; i < 300; i += 2)
		nc_hmap_remove(&m, &items[i].in_map);
	CU_ASSERT_EQUAL(m.count, 150);
	for (int i = 0; i < 300; i++) {
		struct item *it = find(&m, items[i].name, items[i].name_len);
		if (i % 2 == 0) {
			CU_ASSERT_PTR_NULL(it);
		} else {
			CU_ASSERT_PTR_EQUAL(it, &items[i]);
		}
	}
	/* Removing the rest empties every chain; re-inserting works. */
	for (int i = 1; i < 300; i += 2)
		nc_hmap_remove(&m, &items[i].in_map);
	CU_ASSERT_EQUAL(m.count, 0);
	for (size_t b = 0; b < m.n_buckets; b++)
		CU_ASSERT_PTR_NULL(m.buckets[b]);
	CU_ASSERT_EQUAL(nc_hmap_insert(&m, &items[7].in_map, items[7].name,
				       items[7].name_len), 0);
	CU_ASSERT_PTR_EQUAL(find(&m, "node-7", 6), &items[7]);
	nc_hmap_destroy(&m);
}

/* Keys are (bytes, length): no strlen, no strcmp anywhere. */
static void
test_length_compared_keys(void)
{
	struct nc_hmap m;
	struct item a, b, c, e;
	nc_hmap_create(&m, 0);
	make(&a, 1);
	make(&b, 2);
	make(&c, 3);
	make(&e, 4);
	CU_ASSERT_EQUAL(nc_hmap_insert(&m, &a.in_map, "a", 1), 0);
	CU_ASSERT_EQUAL(nc_hmap_insert(&m, &b.in_map, "a\0b", 3), 0);
	CU_ASSERT_EQUAL(nc_hmap_insert(&m, &c.in_map, "a\0", 2), 0);
	CU_ASSERT_EQUAL(nc_hmap_insert(&m, &e.in_map, "", 0), 0);
	CU_ASSERT_PTR_EQUAL(find(&m, "a", 1), &a);
	CU_ASSERT_PTR_EQUAL(find(&m, "a\0b", 3), &b);
	CU_ASSERT_PTR_EQUAL(find(&m, "a\0", 2), &c);
	CU_ASSERT_PTR_EQUAL(find(&m, "", 0), &e);
	CU_ASSERT_PTR_NULL(find(&m, "a\0c", 3));
	CU_ASSERT_PTR_NULL(find(&m, "a\0bc", 4));
	/* A prefix of a longer buffer is its own key. */
	CU_ASSERT_PTR_EQUAL(find(&m, "abc", 1), &a);
	CU_ASSERT_TRUE(nc_hmap_node_is(&b.in_map, "a\0b", 3));
	CU_ASSERT_FALSE(nc_hmap_node_is(&b.in_map, "a", 1));
	CU_ASSERT_FALSE(nc_hmap_node_is(&a.in_map, "a\0b", 3));
	nc_hmap_remove(&m, &b.in_map);
	CU_ASSERT_PTR_NULL(find(&m, "a\0b", 3));
	CU_ASSERT_PTR_EQUAL(find(&m, "a", 1), &a);
	CU_ASSERT_PTR_EQUAL(find(&m, "a\0", 2), &c);
	nc_hmap_destroy(&m);
}

int
nc_test_hmap_register(void)
{
	CU_pSuite s = CU_add_suite("hmap", NULL, NULL);
	if (s == NULL ||
	    CU_add_test(s, "FNV-1a values", test_hash_values) == NULL ||
	    CU_add_test(s, "collisions and growth",
			test_collisions_and_growth) == NULL ||
	    CU_add_test(s, "equal hash, other key",
			test_equal_hash_other_key) == NULL ||
	    CU_add_test(s, "deletion", test_delete) == NULL ||
	    CU_add_test(s, "keys compared by length",
			test_length_compared_keys) == NULL)
		return -1;
	return 0;
}
