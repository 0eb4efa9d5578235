/*
 * The broadcast queue: infection-style dissemination of membership changes
 * (memberlist's TransmitLimitedQueue, PROTOCOL.md §6.8).
 *
 * Every queued message counts how often it has been put into a packet.
 * Packets are filled greedily with the least-transmitted messages first, so
 * fresh news travels before old news, and a message leaves the queue after
 * RetransmitMult x ceil(log10(n + 1)) transmissions -- enough, with fan-out
 * GossipNodes, to reach every node with high probability (the SWIM paper's
 * lambda log n).
 *
 * Layout: one doubly linked list per transmit count ("level"), newest at
 * the head, plus a hash on the node name so that a newer message about a
 * node replaces the queued one in O(1) (alive, suspect and dead about one
 * node share a slot: only the latest verdict is worth sending).
 *
 * Departures from memberlist:
 *   - memberlist orders equal transmit counts by message length (longest
 *     first) and then by age; we order them newest first only. The greedy
 *     fill still tries every entry, so only which of two equally-old
 *     messages goes first differs.
 *   - memberlist's queue is unbounded; ours holds at most `cap` entries.
 *     At the cap the entry with the most transmissions (the oldest of them)
 *     is evicted -- it is the one the cluster most likely already has.
 */
#include "gossip/swim_internal.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int
nc_gossip_retransmit_limit(int retransmit_mult, size_t n)
{
	/*
	 * ceil(log10(n + 1)) = how many powers of ten (1, 10, 100, ...) are
	 * <= n; counted in integers, so exact at every power of ten.
	 */
	int scale = 0;

	for (size_t p = 1; p <= n; p *= 10) {
		scale++;
		if (p > SIZE_MAX / 10)
			break;
	}
	return retransmit_mult * scale;
}

int
nc__bq_transmit_limit(int retransmit_mult, size_t n)
{
	int limit = nc_gossip_retransmit_limit(retransmit_mult, n);

	if (limit < 1)
		limit = 1;
	if (limit >= NC__BQ_LEVELS)
		limit = NC__BQ_LEVELS - 1;
	return limit;
}

int
nc__bq_create(struct nc__bqueue *q, size_t cap)
{
	memset(q, 0, sizeof(*q));
	if (cap == 0)
		cap = NC__BQ_DEFAULT_CAP;
	/* 64 buckets, grown with the queue: a queue of `cap` buckets from
	 * the start was 32 KB per agent that a quiet fleet never uses. */
	if (nc_hmap_create(&q->keys, 64) != 0)
		return -ENOMEM;
	q->cap = cap;
	return 0;
}

static void
bq_level_unlink(struct nc__bqueue *q, struct nc__bcast *b)
{
	int l = b->transmits;

	if (b->prev != NULL)
		b->prev->next = b->next;
	else
		q->head[l] = b->next;
	if (b->next != NULL)
		b->next->prev = b->prev;
	else
		q->tail[l] = b->prev;
	b->prev = b->next = NULL;
}

static void
bq_level_push_head(struct nc__bqueue *q, struct nc__bcast *b)
{
	int l = b->transmits;

	b->prev = NULL;
	b->next = q->head[l];
	if (q->head[l] != NULL) {
		q->head[l]->prev = b;
		if (b->len < q->min_len[l])
			q->min_len[l] = b->len;
	} else {
		q->tail[l] = b;
		q->min_len[l] = b->len;
	}
	q->head[l] = b;
}

static void
bq_hash_unlink(struct nc__bqueue *q, struct nc__bcast *b)
{
	if (b->key[0] != '\0')
		nc_hmap_remove(&q->keys, &b->in_keys);
}

/** Remove @a b from the queue, notify and free it. */
static void
bq_remove(struct nc__bqueue *q, struct nc__bcast *b, bool sent)
{
	bq_level_unlink(q, b);
	bq_hash_unlink(q, b);
	q->count--;
	if (b->done != NULL)
		b->done(b->done_arg, sent);
	free(b);
}

void
nc__bq_destroy(struct nc__bqueue *q)
{
	for (int l = 0; l < NC__BQ_LEVELS; l++)
		while (q->head[l] != NULL)
			bq_remove(q, q->head[l], false);
	nc_hmap_destroy(&q->keys);
}

static struct nc__bcast *
bq_find(const struct nc__bqueue *q, const char *key, size_t klen)
{
	struct nc_hmap_node *n = nc_hmap_find(&q->keys, key, klen);

	return n != NULL ? NC_CONTAINER_OF(n, struct nc__bcast, in_keys)
			 : NULL;
}

bool
nc__bq_has(const struct nc__bqueue *q, const char *key)
{
	return bq_find(q, key, strlen(key)) != NULL;
}

int
nc__bq_push(struct nc__bqueue *q, const char *key, const char *msg,
	    size_t len, nc__bcast_done_cb done, void *done_arg)
{
	size_t klen = key != NULL ? strlen(key) : 0;
	struct nc__bcast *b, *old;

	if (klen > NC_GOSSIP_NAME_MAX)
		return -EINVAL;
	b = malloc(sizeof(*b) + klen + 1 + len);
	if (b == NULL)
		return -ENOMEM;
	memset(b, 0, sizeof(*b));
	memcpy(b->data, key != NULL ? key : "", klen);
	b->data[klen] = '\0';
	b->key = b->data;
	if (len > 0)
		memcpy(b->data + klen + 1, msg, len);
	b->msg = b->data + klen + 1;
	b->len = len;
	b->done = done;
	b->done_arg = done_arg;
	b->id = q->next_id++;
	if (klen > 0) {
		old = bq_find(q, key, klen);
		if (old != NULL)
			bq_remove(q, old, false);
	}
	if (q->count >= q->cap) {
		/* Evict the most transmitted, oldest entry. */
		for (int l = NC__BQ_LEVELS - 1; l >= 0; l--) {
			if (q->tail[l] != NULL) {
				bq_remove(q, q->tail[l], false);
				break;
			}
		}
	}
	/* Fails only when the bucket array cannot grow (out of memory). */
	if (klen > 0 &&
	    nc_hmap_insert(&q->keys, &b->in_keys, b->key, klen) != 0) {
		free(b);
		return -ENOMEM;
	}
	bq_level_push_head(q, b);
	q->count++;
	return 0;
}

size_t
nc__bq_take(struct nc__bqueue *q, int limit, size_t overhead, size_t room,
	    char *out, size_t out_cap, struct nc_proto_str *parts,
	    size_t max_parts)
{
	/* Entries taken, re-levelled after the scan so none is seen twice. */
	struct nc__bcast *taken[NC_PROTO_COMPOUND_MAX_PARTS];
	size_t n = 0, used = 0, out_used = 0;

	if (max_parts > NC_PROTO_COMPOUND_MAX_PARTS)
		max_parts = NC_PROTO_COMPOUND_MAX_PARTS;
	if (limit >= NC__BQ_LEVELS)
		limit = NC__BQ_LEVELS - 1;
	for (int l = 0; l < NC__BQ_LEVELS && n < max_parts; l++) {
		/*
		 * Stop at a level once not even its shortest entry (a lower
		 * bound) fits: the rest of it would be walked for nothing. The
		 * packet is the same as with a full walk; without this, every
		 * packet walked the whole queue once it was nearly full (36 %
		 * of the fleet simulator's CPU at 1,000 agents).
		 */
		size_t lo = q->min_len[l];
		for (struct nc__bcast *b = q->head[l]; b != NULL && n < max_parts;
		     b = b->next) {
			if (used + overhead + lo > room || out_used + lo > out_cap)
				break;
			if (used + overhead + b->len > room ||
			    out_used + b->len > out_cap)
				continue;
			used += overhead + b->len;
			memcpy(out + out_used, b->msg, b->len);
			parts[n].data = out + out_used;
			parts[n].len = (uint32_t)b->len;
			out_used += b->len;
			taken[n++] = b;
		}
		if (room - used <= overhead)
			break;
	}
	for (size_t i = 0; i < n; i++) {
		struct nc__bcast *b = taken[i];
		bq_level_unlink(q, b);
		b->transmits++;
		if (b->transmits >= limit) {
			b->transmits--; /* unlink bookkeeping already done */
			bq_hash_unlink(q, b);
			q->count--;
			if (b->done != NULL)
				b->done(b->done_arg, true);
			free(b);
			continue;
		}
		bq_level_push_head(q, b);
	}
	return n;
}
