/*
 * util/hmap.c - the name-keyed hash map of util.h: member tables, broadcast
 * keys and the like, keyed by a byte string of known length.
 *
 * Chained and intrusive, as the tables it replaces were: each entry embeds
 * a struct nc_hmap_node holding its chain link, its hash and a pointer to
 * its key, so a lookup, insert or removal never allocates; only growing the
 * bucket array does (doubling at load factor 1, rehashing every node from
 * its stored hash). Chaining, rather than open addressing, keeps node
 * pointers stable and removal trivial; the tables holding tens of
 * thousands of entries live in open addressing elsewhere when measured
 * faster (coord/peers.c says why it keeps its own).
 *
 * Keys are compared by length and then memcmp, never strcmp: a name
 * carrying a NUL byte is its own key, not a prefix of another.
 */
#include "util/util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static int
hmap_resize(struct nc_hmap *m, size_t nb)
{
	struct nc_hmap_node **b = calloc(nb, sizeof(*b));

	if (b == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < m->n_buckets; i++) {
		struct nc_hmap_node *n = m->buckets[i], *next;
		for (; n != NULL; n = next) {
			size_t k = (size_t)(n->hash & (nb - 1));
			next = n->next;
			n->next = b[k];
			b[k] = n;
		}
	}
	free(m->buckets);
	m->buckets = b;
	m->n_buckets = nb;
	return 0;
}

int
nc_hmap_create(struct nc_hmap *m, size_t hint)
{
	size_t nb = NC_HMAP_MIN_BUCKETS;

	memset(m, 0, sizeof(*m));
	if (hint == 0)
		return 0;
	while (nb < hint)
		nb <<= 1;
	return hmap_resize(m, nb);
}

void
nc_hmap_destroy(struct nc_hmap *m)
{
	free(m->buckets);
	memset(m, 0, sizeof(*m));
}

bool
nc_hmap_node_is(const struct nc_hmap_node *node, const char *key,
		size_t key_len)
{
	return node->key_len == key_len &&
	       (key_len == 0 || memcmp(node->key, key, key_len) == 0);
}

struct nc_hmap_node *
nc_hmap_find(const struct nc_hmap *m, const char *key, size_t key_len)
{
	uint32_t h;
	struct nc_hmap_node *n;

	if (m->n_buckets == 0 || key_len > UINT32_MAX)
		return NULL;
	h = (uint32_t)nc_hash_bytes(key, key_len);
	for (n = m->buckets[h & (m->n_buckets - 1)]; n != NULL; n = n->next)
		if (n->hash == h && nc_hmap_node_is(n, key, key_len))
			return n;
	return NULL;
}

int
nc_hmap_insert(struct nc_hmap *m, struct nc_hmap_node *node, const char *key,
	       size_t key_len)
{
	struct nc_hmap_node **head;

	if (key_len > UINT32_MAX)
		return -EINVAL;
	if (m->count + 1 > m->n_buckets) {
		size_t nb = m->n_buckets ? m->n_buckets * 2
					 : NC_HMAP_MIN_BUCKETS;
		int rc = hmap_resize(m, nb);
		if (rc != 0)
			return rc;
	}
	node->key = key;
	node->key_len = (uint32_t)key_len;
	node->hash = (uint32_t)nc_hash_bytes(key, key_len);
	head = &m->buckets[node->hash & (m->n_buckets - 1)];
	node->next = *head;
	*head = node;
	m->count++;
	return 0;
}

void
nc_hmap_remove(struct nc_hmap *m, struct nc_hmap_node *node)
{
	struct nc_hmap_node **pp;

	if (m->n_buckets == 0)
		return;
	pp = &m->buckets[node->hash & (m->n_buckets - 1)];
	while (*pp != NULL && *pp != node)
		pp = &(*pp)->next;
	if (*pp == node) {
		*pp = node->next;
		node->next = NULL;
		m->count--;
	}
}
