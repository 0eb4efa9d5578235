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
 *            allocation). Boring O(count * n) worst case, fine for small n.
 *  failover  groups (e.g. datacenters) ordered by the median estimate of
 *            their members. This one sorts, so it allocates scratch space.
 *
 * Ordering is total and deterministic: estimate, then name (strcmp), then
 * input index; candidates with no usable coordinate (NULL, invalid or
 * other dimensionality) come after every candidate with one.
 */
#include "coord/coord.h"

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
	/* Best-so-far, sorted; small n lives on the stack. */
	struct keyed stack_best[16];
	struct keyed *best = stack_best;
	if (n > 16) {
		best = malloc(n * sizeof(*best));
		if (best == NULL)
			return NC_COORD_ENOMEM;
	}
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
	if (best != stack_best)
		free(best);
	return (int)have;
}

/* Sort candidates by group, then as nearest orders them. */
static int
keyed_group_cmp(const void *pa, const void *pb)
{
	const struct keyed *a = pa, *b = pb;
	int c = strcmp(a->group, b->group);
	return c != 0 ? c : keyed_cmp(a, b);
}

/* A group while it is being built. */
struct grp {
	/* The public record (first is rewritten at the end). */
	struct nc_coord_group_rank r;
	/* First member in the scratch array. */
	size_t k_first;
	/* 0: has a median, 1: members without coordinates, 2: empty. */
	int cls;
};

static int
grp_name_cmp(const void *pa, const void *pb)
{
	const struct grp *a = pa, *b = pb;
	return strcmp(a->r.group, b->r.group);
}

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
	    count > (size_t)INT32_MAX)
		return NC_COORD_EINVAL;
	struct keyed *k = malloc((count + 1) * sizeof(*k));
	struct grp *g = malloc((count + n_all_groups + 1) * sizeof(*g));
	if (k == NULL || g == NULL) {
		free(k);
		free(g);
		return NC_COORD_ENOMEM;
	}
	size_t nk = 0;
	for (size_t i = 0; i < count; i++) {
		if (filter != NULL && !filter(&cands[i], i, arg))
			continue;
		make_key(algo, src, &cands[i], i, &k[nk]);
		if (skip_group != NULL && strcmp(k[nk].group, skip_group) == 0)
			continue;
		nk++;
	}
	qsort(k, nk, sizeof(*k), keyed_group_cmp);

	/* One group per run of equal group names. */
	size_t ng = 0;
	for (size_t i = 0; i < nk;) {
		size_t j = i, with = 0;
		while (j < nk && strcmp(k[j].group, k[i].group) == 0) {
			with += k[j].has;
			j++;
		}
		struct grp *x = &g[ng++];
		x->r.group = k[i].group;
		x->r.count = j - i;
		x->k_first = i;
		/* Members with a coordinate come first, by estimate. */
		if (with == 0) {
			x->cls = 1;
			x->r.median_rtt = NAN;
		} else {
			x->cls = 0;
			x->r.median_rtt =
				with % 2 ? k[i + with / 2].rtt
					 : 0.5 * (k[i + with / 2 - 1].rtt +
						  k[i + with / 2].rtt);
		}
		i = j;
	}
	/* Groups the caller knows of but that have no candidate. */
	size_t ng_found = ng;
	for (size_t a = 0; a < n_all_groups; a++) {
		const char *name = all_groups[a] != NULL ? all_groups[a] : "";
		if (skip_group != NULL && strcmp(name, skip_group) == 0)
			continue;
		struct grp key = {.r = {.group = name}};
		/* g[0..ng_found) is sorted by name; later ones are few. */
		if (bsearch(&key, g, ng_found, sizeof(*g), grp_name_cmp))
			continue;
		int dup = 0;
		for (size_t b = ng_found; b < ng && !dup; b++)
			dup = strcmp(g[b].r.group, name) == 0;
		if (dup)
			continue;
		struct grp *x = &g[ng++];
		x->r.group = name;
		x->r.count = 0;
		x->r.median_rtt = NAN;
		x->k_first = 0;
		x->cls = 2;
	}
	qsort(g, ng, sizeof(*g), grp_rank_cmp);

	size_t pos = 0;
	for (size_t i = 0; i < ng; i++) {
		g[i].r.first = pos;
		for (size_t m = 0; m < g[i].r.count; m++)
			order[pos++] = k[g[i].k_first + m].idx;
		groups[i] = g[i].r;
	}
	*n_groups = ng;
	free(k);
	free(g);
	return (int)pos;
}
