/*
 * rank.c - ordering candidates by estimated RTT.
 *
 * Two questions the agent answers from coordinates, in the shape Consul
 * answers them (`?near=` sorting and prepared-query failover by datacenter
 * median RTT):
 *
 *  nearest   the n candidates with the smallest estimate. A single pass
 *            keeps a sorted array of the best n seen so far; a candidate
 *            that does not beat the current n-th is rejected with one
 *            comparison, so 10,000 candidates with n = 5 cost 10,000
 *            distance computations and almost nothing else (no sort, no
 *            allocation). That insertion is O(count * n) in the worst
 *            case, so past 16 the best n live in a max-heap instead (worst
 *            of them at the root): O(count log n), then one heapsort
 *            (issue 9 row 10: n is up to 100,000 in /v1/nearest).
 *  failover  groups (e.g. datacenters) ordered by the median estimate of
 *            their members. This one sorts, so it allocates scratch space.
 *
 * Ordering is total and deterministic: estimate, then name (strcmp), then
 * input index; candidates with no usable coordinate (NULL, invalid or
 * other dimensionality) come after every candidate with one.
 */
#include "coord/coord.h"
#include "util/util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* One candidate with its computed key. */
struct keyed {
	/* Index into the caller's array. */
	size_t idx;
	/* Estimate, seconds; meaningful only if has. */
	double rtt;
	/* 1 if a usable coordinate exists. */
	int has;
	/* Borrowed name and group ("" for NULL group). */
	const char *name;
	const char *group;
};

/* <0 if a ranks before b. */
static int
keyed_cmp(const struct keyed *a, const struct keyed *b)
{
	if (a->has != b->has)
		return a->has ? -1 : 1;
	if (a->has && a->rtt != b->rtt)
		return a->rtt < b->rtt ? -1 : 1;
	int c = strcmp(a->name, b->name);
	if (c != 0)
		return c;
	return a->idx < b->idx ? -1 : (a->idx > b->idx);
}

static void
make_key(enum nc_coord_algo algo, const struct nc_coord *src,
	 const struct nc_coord_candidate *cand, size_t i, struct keyed *k)
{
	k->idx = i;
	k->name = cand->name != NULL ? cand->name : "";
	k->group = cand->group != NULL ? cand->group : "";
	k->has = 0;
	k->rtt = NAN;
	if (cand->coord != NULL && cand->coord->dims == src->dims) {
		double d = nc_coord_estimate_rtt(algo, src, cand->coord);
		if (isfinite(d)) {
			k->rtt = d;
			k->has = 1;
		}
	}
}

/* Up to this n, nearest keeps a sorted array on the stack. */
#define NEAREST_SMALL 16

/* Restore the max-heap (worst candidate at the root) below slot i. */
static void
heap_down(struct keyed *h, size_t n, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, w = i;
		if (l < n && keyed_cmp(&h[l], &h[w]) > 0)
			w = l;
		if (r < n && keyed_cmp(&h[r], &h[w]) > 0)
			w = r;
		if (w == i)
			return;
		struct keyed t = h[i];
		h[i] = h[w];
		h[w] = t;
		i = w;
	}
}

/* Restore the max-heap above slot i. */
static void
heap_up(struct keyed *h, size_t i)
{
	while (i > 0) {
		size_t p = (i - 1) / 2;
		if (keyed_cmp(&h[i], &h[p]) <= 0)
			return;
		struct keyed t = h[i];
		h[i] = h[p];
		h[p] = t;
		i = p;
	}
}

/*
 * nc_coord_rank_nearest for large n: the best n so far in a max-heap, a
 * candidate replacing the root when it beats it; then heapsort, which
 * leaves them ascending. Same total order, so the same answer.
 */
static int
rank_nearest_heap(enum nc_coord_algo algo, const struct nc_coord *src,
		  const struct nc_coord_candidate *cands, size_t count,
		  nc_coord_filter_cb filter, void *arg, size_t n,
		  size_t *out_idx, double *out_rtt)
{
	size_t cap = n < count ? n : count;
	struct keyed *h = malloc((cap + 1) * sizeof(*h));
	if (h == NULL)
		return NC_COORD_ENOMEM;
	size_t have = 0;
	for (size_t i = 0; i < count; i++) {
		if (filter != NULL && !filter(&cands[i], i, arg))
			continue;
		struct keyed k;
		make_key(algo, src, &cands[i], i, &k);
		if (have < n) {
			h[have] = k;
			heap_up(h, have++);
		} else if (keyed_cmp(&k, &h[0]) < 0) {
			h[0] = k;
			heap_down(h, have, 0);
		}
	}
	for (size_t end = have; end > 1; end--) {
		struct keyed t = h[0];
		h[0] = h[end - 1];
		h[end - 1] = t;
		heap_down(h, end - 1, 0);
	}
	for (size_t j = 0; j < have; j++) {
		out_idx[j] = h[j].idx;
		if (out_rtt != NULL)
			out_rtt[j] = h[j].rtt;
	}
	free(h);
	return (int)have;
}

int
nc_coord_rank_nearest(enum nc_coord_algo algo, const struct nc_coord *src,
		      const struct nc_coord_candidate *cands, size_t count,
		      nc_coord_filter_cb filter, void *arg, size_t n,
		      size_t *out_idx, double *out_rtt)
{
	if (src == NULL || (cands == NULL && count > 0) ||
	    (out_idx == NULL && n > 0) || n > (size_t)INT32_MAX)
		return NC_COORD_EINVAL;
	if (n == 0)
		return 0;
	if (n > NEAREST_SMALL)
		return rank_nearest_heap(algo, src, cands, count, filter, arg,
					 n, out_idx, out_rtt);
	/* Best-so-far, sorted, on the stack. */
	struct keyed best[NEAREST_SMALL];
	size_t have = 0;
	for (size_t i = 0; i < count; i++) {
		if (filter != NULL && !filter(&cands[i], i, arg))
			continue;
		struct keyed k;
		make_key(algo, src, &cands[i], i, &k);
		if (have == n && keyed_cmp(&k, &best[n - 1]) >= 0)
			continue;
		size_t j = have < n ? have++ : n - 1;
		while (j > 0 && keyed_cmp(&k, &best[j - 1]) < 0) {
			best[j] = best[j - 1];
			j--;
		}
		best[j] = k;
	}
	for (size_t j = 0; j < have; j++) {
		out_idx[j] = best[j].idx;
		if (out_rtt != NULL)
			out_rtt[j] = best[j].rtt;
	}
	return (int)have;
}

/* A candidate in the failover sort: small, so qsort moves little. */
struct member {
	/* Estimate, seconds; INFINITY without a usable coordinate. */
	double rtt;
	/* Borrowed name, for ties. */
	const char *name;
	/* Index into the caller's array. */
	uint32_t idx;
	/* Group id (index into the group table). */
	uint32_t gid;
};

/* By group, then as nearest orders (no coordinate = INFINITY = last). */
static int
member_cmp(const void *pa, const void *pb)
{
	const struct member *a = pa, *b = pb;
	if (a->gid != b->gid)
		return a->gid < b->gid ? -1 : 1;
	if (a->rtt != b->rtt)
		return a->rtt < b->rtt ? -1 : 1;
	int c = strcmp(a->name, b->name);
	if (c != 0)
		return c;
	return a->idx < b->idx ? -1 : (a->idx > b->idx);
}

/* Order-preserving map of a double (not NaN) to an unsigned key. */
static uint64_t
double_key(double d)
{
	uint64_t b;
	memcpy(&b, &d, sizeof(b));
	return (b >> 63) ? ~b : b | 0x8000000000000000ULL;
}

/* One LSD radix pass on byte `shift / 8` of key(m), from src into dst. */
static int
radix_pass(const struct member *src, struct member *dst, size_t n,
	   unsigned shift, int on_gid)
{
	size_t count[256] = {0};
	for (size_t i = 0; i < n; i++) {
		uint64_t k = on_gid ? src[i].gid : double_key(src[i].rtt);
		count[(k >> shift) & 0xff]++;
	}
	/* All in one bucket: this byte does not order anything. */
	for (unsigned b = 0; b < 256; b++) {
		if (count[b] == n)
			return 0;
		if (count[b] != 0)
			break;
	}
	size_t pos = 0;
	for (unsigned b = 0; b < 256; b++) {
		size_t c = count[b];
		count[b] = pos;
		pos += c;
	}
	for (size_t i = 0; i < n; i++) {
		uint64_t k = on_gid ? src[i].gid : double_key(src[i].rtt);
		dst[count[(k >> shift) & 0xff]++] = src[i];
	}
	return 1;
}

/*
 * Sort members as member_cmp orders them: LSD radix sort on (gid, rtt) -
 * 8 byte passes over the estimate, then as many over the group id as it
 * needs, passes that order nothing skipped - then runs of equal
 * (gid, rtt), which are rare except among members without a coordinate,
 * are finished by name with qsort. 10,000 members sort in well under a
 * millisecond; a comparison sort took ~1.2 ms. tmp has n slots.
 */
static void
sort_members(struct member *m, struct member *tmp, size_t n, size_t ngroups)
{
	struct member *src = m, *dst = tmp;
	for (unsigned shift = 0; shift < 64; shift += 8) {
		if (radix_pass(src, dst, n, shift, 0)) {
			struct member *t = src;
			src = dst;
			dst = t;
		}
	}
	for (unsigned shift = 0; shift < 32 && ((ngroups - 1) >> shift) != 0;
	     shift += 8) {
		if (radix_pass(src, dst, n, shift, 1)) {
			struct member *t = src;
			src = dst;
			dst = t;
		}
	}
	if (src != m)
		memcpy(m, src, n * sizeof(*m));
	for (size_t i = 0; i < n;) {
		size_t j = i + 1;
		while (j < n && m[j].gid == m[i].gid && m[j].rtt == m[i].rtt)
			j++;
		if (j - i > 1)
			qsort(m + i, j - i, sizeof(*m), member_cmp);
		i = j;
	}
}

/* A group while it is being built. */
struct grp {
	/* The public record (first is filled in at the end). */
	struct nc_coord_group_rank r;
	/* First member in the sorted member array. */
	size_t m_first;
	/* Members with a coordinate. */
	size_t with;
	/* 0: has a median, 1: members without coordinates, 2: empty. */
	int cls;
};

static int
grp_rank_cmp(const void *pa, const void *pb)
{
	const struct grp *a = pa, *b = pb;
	if (a->cls != b->cls)
		return a->cls < b->cls ? -1 : 1;
	if (a->cls == 0 && a->r.median_rtt != b->r.median_rtt)
		return a->r.median_rtt < b->r.median_rtt ? -1 : 1;
	return strcmp(a->r.group, b->r.group);
}

/*
 * Group name -> id: open addressing over a power-of-two table of ids + 1.
 * Returns the id of `name`, adding a group if it is new.
 */
static uint32_t
group_id(uint32_t *slots, uint32_t mask, struct grp *g, size_t *ng,
	 const char *name)
{
	uint64_t h = nc_hash_str(name);
	for (uint32_t s = (uint32_t)h & mask;; s = (s + 1) & mask) {
		uint32_t v = slots[s];
		if (v == 0) {
			struct grp *x = &g[*ng];
			memset(x, 0, sizeof(*x));
			x->r.group = name;
			slots[s] = (uint32_t)++ * ng;
			return (uint32_t)(*ng - 1);
		}
		if (g[v - 1].r.group == name ||
		    strcmp(g[v - 1].r.group, name) == 0)
			return v - 1;
	}
}

int
nc_coord_rank_failover(enum nc_coord_algo algo, const struct nc_coord *src,
		       const struct nc_coord_candidate *cands, size_t count,
		       nc_coord_filter_cb filter, void *arg,
		       const char *skip_group, const char *const *all_groups,
		       size_t n_all_groups, size_t *order,
		       struct nc_coord_group_rank *groups, size_t *n_groups)
{
	if (src == NULL || (cands == NULL && count > 0) ||
	    (order == NULL && count > 0) || groups == NULL ||
	    n_groups == NULL || (all_groups == NULL && n_all_groups > 0) ||
	    count > (size_t)INT32_MAX || n_all_groups > (size_t)INT32_MAX)
		return NC_COORD_EINVAL;
	size_t max_groups = count + n_all_groups;
	uint32_t nslots = 2;
	while (nslots < 2 * max_groups)
		nslots <<= 1;
	struct member *m = malloc(2 * (count + 1) * sizeof(*m));
	struct grp *g = malloc((max_groups + 1) * sizeof(*g));
	uint32_t *slots = calloc(nslots, sizeof(*slots));
	if (m == NULL || g == NULL || slots == NULL) {
		free(m);
		free(g);
		free(slots);
		return NC_COORD_ENOMEM;
	}
	size_t nm = 0, ng = 0;
	for (size_t i = 0; i < count; i++) {
		if (filter != NULL && !filter(&cands[i], i, arg))
			continue;
		const char *grp = cands[i].group != NULL ? cands[i].group : "";
		if (skip_group != NULL && strcmp(grp, skip_group) == 0)
			continue;
		struct keyed k;
		make_key(algo, src, &cands[i], i, &k);
		m[nm].rtt = k.has ? k.rtt : INFINITY;
		m[nm].name = k.name;
		m[nm].idx = (uint32_t)i;
		m[nm].gid = group_id(slots, nslots - 1, g, &ng, grp);
		nm++;
	}
	size_t ng_found = ng;
	/* Groups the caller knows of but that have no candidate. */
	for (size_t a = 0; a < n_all_groups; a++) {
		const char *name = all_groups[a] != NULL ? all_groups[a] : "";
		if (skip_group == NULL || strcmp(name, skip_group) != 0)
			(void)group_id(slots, nslots - 1, g, &ng, name);
	}
	if (nm > 1)
		sort_members(m, m + count + 1, nm, ng_found);

	/* Members of a group are contiguous; those with coordinates first. */
	for (size_t i = 0; i < nm;) {
		struct grp *x = &g[m[i].gid];
		size_t j = i;
		while (j < nm && m[j].gid == m[i].gid) {
			x->with += isfinite(m[j].rtt);
			j++;
		}
		x->m_first = i;
		x->r.count = j - i;
		i = j;
	}
	for (size_t i = 0; i < ng; i++) {
		struct grp *x = &g[i];
		size_t w = x->with, f = x->m_first;
		if (i >= ng_found) {
			x->cls = 2;
			x->r.count = 0;
			x->r.median_rtt = NAN;
		} else if (w == 0) {
			x->cls = 1;
			x->r.median_rtt = NAN;
		} else {
			x->cls = 0;
			x->r.median_rtt = w % 2 ? m[f + w / 2].rtt
						: 0.5 * (m[f + w / 2 - 1].rtt +
							 m[f + w / 2].rtt);
		}
	}
	qsort(g, ng, sizeof(*g), grp_rank_cmp);

	size_t pos = 0;
	for (size_t i = 0; i < ng; i++) {
		g[i].r.first = pos;
		for (size_t k = 0; k < g[i].r.count; k++)
			order[pos++] = m[g[i].m_first + k].idx;
		groups[i] = g[i].r;
	}
	*n_groups = ng;
	free(m);
	free(g);
	free(slots);
	return (int)pos;
}
