/*
 * api/view.c - what the read endpoints serve: a dense copy of the member
 * table joined with the coordinate cache (the view), and whole printed
 * answers cached per view epoch.
 *
 * Why. /v1/nearest used to walk the gossip table and look every member's
 * coordinate up by name in the coordinate cache (agent/coords.c, a hash and
 * a strcmp) on every request: ~100 ns per member, 1 ms per request at
 * 10,000 members, two thirds of the time. The view pays for that walk
 * once per rebuild instead: every member's name, address, state, Meta and
 * coordinate copied into arrays, plus the nc_coord_candidate array that
 * coord/'s ranking takes, ready to rank with no per-request allocation.
 * Nothing in the view points into gossip/ (members and their Meta move or
 * are freed at the next event), so a view is safe to use however late.
 *
 * When it is rebuilt (nc__api_view_get), lazily on the next request:
 *   - membership changed: the table's size changed, or the coordinate
 *     cache's membership epoch moved (every member event — join, reap,
 *     suspect, alive, failed, left, new Meta — reaches it through the
 *     agent wiring);
 *   - otherwise once it is older than cfg.max_stale_s (default 250 ms):
 *     coordinates reach the api only by looking, so every answer
 *     reflects the coordinates as they were at most 250 ms earlier.
 * Why 250 ms: coordinates move about once per second per peer (one probe
 * per interval, gossip relays a few times a second) and by well under a
 * millisecond at a time once converged; a failure takes the suspicion
 * timeout (seconds) to be declared and more to spread through gossip, so
 * a quarter second more is not visible to a client and is below the
 * 500 ms probe timeout. In exchange a rebuild (~1 ms at 10,000 members)
 * runs at most 4 times a second under load and never when idle.
 * max_stale_s 0 turns all of this off: rebuild per request, no cache.
 *
 * Answer cache. Every build bumps the view epoch. A handler that can
 * serve from cache builds a key from its normalized query (route, source
 * from=/coord=, n, status bits, sorted tag filters, ...) and asks
 * nc__api_rcache_reply(): a hit copies the printed JSON into the
 * response without touching cJSON or the ranking. A miss computes the
 * answer from the view and nc__api_rcache_store() prints it once, keeps a
 * copy and answers with it. Entries carry one epoch: the first request
 * after a rebuild drops them all, so an answer is never older than its
 * view and nothing is kept while idle. Caps (api_int.h): 128 answers and
 * 16 MiB; at the cap the least recently used answers are evicted; an
 * answer over half the byte cap (a /v1/members of ~100,000 members) is
 * served uncached. Only 200 answers are cached; errors are recomputed.
 * The scan over <= 128 entries compares 64-bit hashes first; boring and
 * cheap next to MHD's own per-request work. The same key indexes the
 * blocking-query table (api/block.c): storing an answer updates its
 * signature and index, and a cached answer is only served while the
 * key's index is of the same epoch.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "api/api_int.h"
#include "coord/coord.h"
#include "gossip/gossip.h"
#include "util/util.h"

/**
 * Cap on the view's string arena. Arbitrary, far above any real table:
 * 100,000 members with 128-byte names, 512-byte Meta and a Via name take
 * ~77 MB. At the cap the build fails like an allocation failure.
 */
#define NC__API_VIEW_ARENA_MAX ((size_t)1 << 30)

/* ------------------------------------------------------------------ */
/* View                                                               */
/* ------------------------------------------------------------------ */

static int
view_reserve(struct nc__api_view *v, size_t n)
{
	if (n <= v->cap)
		return 0;
	size_t cap = v->cap ? v->cap : 16;
	while (cap < n)
		cap *= 2;
	struct nc__api_vent *e = realloc(v->ent, cap * sizeof(*e));
	if (e == NULL)
		return -ENOMEM;
	v->ent = e;
	struct nc_coord *co = realloc(v->co, cap * sizeof(*co));
	if (co == NULL)
		return -ENOMEM;
	v->co = co;
	struct nc_coord_candidate *rc = realloc(v->rc, cap * sizeof(*rc));
	if (rc == NULL)
		return -ENOMEM;
	v->rc = rc;
	v->cap = cap;
	return 0;
}

/** Append @a len bytes (+ NUL) to the arena; offset, or SIZE_MAX. */
static size_t
arena_put(struct nc__api_view *v, const void *p, size_t len)
{
	size_t off = v->arena.len;
	if (nc_dbuf_reserve(&v->arena, len + 1) != 0)
		return SIZE_MAX;
	/* Room reserved: neither append can fail. */
	nc_dbuf_append(&v->arena, p, len);
	nc_dbuf_append(&v->arena, "", 1);
	return off;
}

/*
 * While building, the string fields hold arena offsets (the arena may
 * move); view_fixup turns them into pointers.
 */
#define OFF2PTR(v, off) ((v)->arena.data + (uintptr_t)(off))

static int
view_build(struct nc_api *api, double now)
{
	struct nc__api_view *v = &api->view;
	struct nc_agent_coords *c = api->coords;
	size_t n =
	    api->gossip != NULL ? nc_gossip_member_count(api->gossip) : 0;
	if (view_reserve(v, n) < 0)
		return -ENOMEM;
	if (v->arena.max_bytes == 0) /* zeroed with the api: first build */
		nc_dbuf_init(&v->arena, NC__API_VIEW_ARENA_MAX);
	nc_dbuf_reset(&v->arena);
	v->n = 0;
	v->self = SIZE_MAX;
	for (size_t i = 0; i < n; i++) {
		const struct nc_gossip_member *m =
		    nc_gossip_member_at(api->gossip, i);
		struct nc__api_vent *e = &v->ent[i];
		struct nc_agent_coord_info ci;
		size_t name = arena_put(v, m->name, strlen(m->name));
		size_t meta = m->meta_len > 0
				  ? arena_put(v, m->meta, m->meta_len)
				  : 0;
		if (name == SIZE_MAX || meta == SIZE_MAX)
			return -ENOMEM;
		memset(e, 0, sizeof(*e));
		e->name = (const char *)(uintptr_t)name;
		e->meta = m->meta_len > 0 ? (const uint8_t *)(uintptr_t)meta
					  : NULL;
		e->meta_len = m->meta_len;
		e->via = NULL;
		e->addr = m->addr;
		e->incarnation = m->incarnation;
		e->state = (uint8_t)m->state;
		e->produced = NAN;
		e->measured_rtt_s = NAN;
		e->measured_at = NAN;
		if (m->is_self)
			v->self = i;
		bool known = c != NULL &&
			     nc_agent_coords_get(c, now, m->name, &ci) == 0;
		if (known && !isnan(ci.measured_rtt_s)) {
			e->measured_rtt_s = ci.measured_rtt_s;
			e->measured_at = now - ci.measured_age_s;
		}
		if (known && ci.has_coord) {
			e->has_coord = true;
			e->source = (uint8_t)ci.source;
			e->produced = now - ci.age_s;
			v->co[i] = *ci.coord;
			if (ci.via != NULL && ci.via[0] != '\0') {
				size_t via =
				    arena_put(v, ci.via, strlen(ci.via));
				if (via == SIZE_MAX)
					return -ENOMEM;
				e->via = (const char *)(uintptr_t)(via + 1);
			}
		}
		v->n++;
	}
	/* Offsets to pointers; via is stored +1 so that 0 means none. */
	for (size_t i = 0; i < v->n; i++) {
		struct nc__api_vent *e = &v->ent[i];
		e->name = OFF2PTR(v, (uintptr_t)e->name);
		if (e->meta_len > 0)
			e->meta = (const uint8_t *)OFF2PTR(v, (uintptr_t)e->meta);
		e->via = e->via != NULL ? OFF2PTR(v, (uintptr_t)e->via - 1)
					: "";
		v->rc[i].name = e->name;
		v->rc[i].coord = e->has_coord ? &v->co[i] : NULL;
		v->rc[i].group = NULL;
	}
	v->built_at = now;
	if (api->env != NULL)
		api->env->ops->timer_start(api->env, &api->idle_timer,
					   NC_API_VIEW_IDLE_S);
	v->coords_members_epoch =
	    c != NULL ? nc_agent_coords_members_epoch(c) : 0;
	v->epoch++;
	v->builds++;
	v->built = true;
	return 0;
}

const struct nc__api_view *
nc__api_view_get(struct nc_api *api, double now)
{
	struct nc__api_view *v = &api->view;
	bool clock = api->env != NULL || api->now_cb != NULL;
	size_t n =
	    api->gossip != NULL ? nc_gossip_member_count(api->gossip) : 0;
	bool stale =
	    !v->built || !clock || api->cfg.max_stale_s <= 0 || v->n != n ||
	    !(now - v->built_at < api->cfg.max_stale_s) ||
	    now < v->built_at ||
	    (api->coords != NULL &&
	     nc_agent_coords_members_epoch(api->coords) !=
		 v->coords_members_epoch);
	if (stale && view_build(api, now) < 0) {
		/* Half-built: force a rebuild next time. */
		v->built = false;
		v->n = 0;
		return NULL;
	}
	return v;
}

size_t
nc__api_view_find(const struct nc__api_view *v, const char *name)
{
	for (size_t i = 0; i < v->n; i++)
		if (strcmp(v->ent[i].name, name) == 0)
			return i;
	return SIZE_MAX;
}

/** Free the arrays; epoch and counters go on (cached answers carry
 * the epoch). */
static void
view_release(struct nc__api_view *v)
{
	free(v->ent);
	free(v->co);
	free(v->rc);
	nc_dbuf_free(&v->arena);
	v->ent = NULL;
	v->co = NULL;
	v->rc = NULL;
	v->n = v->cap = 0;
	v->built = false;
}

static void rc_flush(struct nc__api_rcache *rc);

void
nc__api_view_idle(struct nc_timer *t)
{
	struct nc_api *api = t->arg;
	view_release(&api->view);
	rc_flush(&api->rcache);
}

void
nc__api_view_destroy(struct nc__api_view *v)
{
	free(v->ent);
	free(v->co);
	free(v->rc);
	nc_dbuf_free(&v->arena);
	memset(v, 0, sizeof(*v));
}

/* ------------------------------------------------------------------ */
/* Answer cache                                                       */
/* ------------------------------------------------------------------ */

static void
rc_drop(struct nc__api_rcache *rc, size_t i)
{
	struct nc__api_rc_ent *e = &rc->ent[i];
	rc->bytes -= e->len + strlen(e->key) + 1;
	free(e->key);
	free(e->body);
	rc->ent[i] = rc->ent[--rc->n];
}

static void
rc_flush(struct nc__api_rcache *rc)
{
	while (rc->n > 0)
		rc_drop(rc, rc->n - 1);
}

/** Entries of another view epoch are stale: drop them all. */
static void
rc_epoch(struct nc__api_rcache *rc, uint64_t epoch)
{
	if (rc->epoch != epoch) {
		rc_flush(rc);
		rc->epoch = epoch;
	}
}

bool
nc__api_rcache_reply(struct nc_api *api, const struct nc_api_request *req,
		     uint64_t epoch, const char *key)
{
	struct nc__api_rcache *rc = &api->rcache;
	if (api->cfg.max_stale_s <= 0)
		return false;
	rc_epoch(rc, epoch);
	/* The key's index must be of this epoch too (api/block.c). */
	if (!nc__api_block_current(api, key, epoch))
		return false;
	uint64_t h = nc_hash_str(key);
	for (size_t i = 0; i < rc->n; i++) {
		struct nc__api_rc_ent *e = &rc->ent[i];
		if (e->hash != h || strcmp(e->key, key) != 0)
			continue;
		char *b = malloc(e->len + 1);
		if (b == NULL)
			return false;
		memcpy(b, e->body, e->len + 1);
		e->used = ++rc->clock;
		rc->hits++;
		nc_api_set_raw(req, "application/json", b, e->len, true);
		return true;
	}
	rc->misses++;
	return false;
}

/** Keep a copy of @a body (len bytes) under @a key; false if not kept. */
static bool
rc_put(struct nc__api_rcache *rc, const char *key, const char *body,
       size_t len)
{
	size_t kl = strlen(key);
	size_t need = len + kl + 1;
	if (need > NC_API_CACHE_MAX_BYTES / 2) {
		rc->too_big++;
		return false;
	}
	/* Make room: least recently used first. */
	while (rc->n > 0 && (rc->n == NC_API_CACHE_MAX_ENTRIES ||
			     rc->bytes + need > NC_API_CACHE_MAX_BYTES)) {
		size_t lru = 0;
		for (size_t i = 1; i < rc->n; i++)
			if (rc->ent[i].used < rc->ent[lru].used)
				lru = i;
		rc_drop(rc, lru);
		rc->evictions++;
	}
	struct nc__api_rc_ent *e = &rc->ent[rc->n];
	e->key = malloc(kl + 1);
	e->body = malloc(len + 1);
	if (e->key == NULL || e->body == NULL) {
		free(e->key);
		free(e->body);
		return false;
	}
	memcpy(e->key, key, kl + 1);
	memcpy(e->body, body, len + 1);
	e->len = len;
	e->hash = nc_hash_str(key);
	e->used = ++rc->clock;
	rc->bytes += need;
	rc->n++;
	return true;
}

int
nc__api_rcache_store(struct nc_api *api, const struct nc_api_request *req,
		     uint64_t epoch, const char *key, unsigned sig_flags,
		     cJSON *doc, char *err, size_t err_cap)
{
	if (key != NULL)
		nc__api_block_update(api, key, epoch,
				     nc__api_block_sig(doc, sig_flags));
	char *s = cJSON_PrintUnformatted(doc);
	cJSON_Delete(doc);
	if (s == NULL)
		return nc__api_oom(err, err_cap);
	size_t len = strlen(s);
	if (api->cfg.max_stale_s > 0 && key != NULL) {
		rc_epoch(&api->rcache, epoch);
		rc_put(&api->rcache, key, s, len);
	}
	nc_api_set_raw(req, "application/json", s, len, true);
	return 200;
}

void
nc__api_rcache_destroy(struct nc__api_rcache *rc)
{
	rc_flush(rc);
}
