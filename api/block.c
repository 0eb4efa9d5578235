/*
 * api/block.c - blocking queries (Consul's ?index=N&wait=D) on
 * /v1/members, /v1/nearest, /v1/failover and /v1/coordinate/nodes.
 *
 * Index. A table of tracked queries, keyed by the answer cache's key
 * (route + normalized arguments, without index/wait: api/view.c), holds
 * for each the signature of its last answer and an index. Whenever a
 * query is answered from a fresh computation (nc__api_rcache_store), the
 * signature of the answer is computed; a new entry, or a signature that
 * differs from the entry's, takes index = ++global counter. Every answer
 * carries the entry's index (X-Netcoord-Index), so an index only grows
 * for a query, and two queries never share one unless their answers are
 * both unchanged since the same moment.
 *
 * Signature (nc__api_block_sig): a hash of the answer's JSON with the
 * keys that only carry coordinate values left out (EstimatedMs,
 * MedianMs, Coord, AgeS, Source, Via). What remains: the members, their
 * addresses, statuses, tags and incarnations, in the ranked order. So a
 * coordinate wobble that changes estimates without changing the order
 * does not move the index; an order swap, a member joining, failing or
 * changing tags does. /v1/members (without near=) and
 * /v1/coordinate/nodes list members in the gossip table's order, which
 * is reshuffled every probe round: their top-level array is hashed as a
 * set (the sum of the elements' hashes).
 *
 * Holding. A request whose index= is the entry's index is suspended
 * (nc_api_suspend: no thread, the connection just sits in MHD) on its
 * entry; any other index (older, future, from before an agent restart)
 * answers at once: Consul's rule that a spurious return is allowed, a
 * missed change is not. While anything is held a timer runs every
 * max_stale_s (0.25 s, the view's own bound): the view is rebuilt if
 * stale and each entry with holders is re-evaluated ONCE for the new
 * view (its query re-run internally: 1,000 identical held requests cost
 * one evaluation); if its index moved, all its holders are answered with
 * that one answer. Holders past their wait get the current answer (same
 * index). The tick is time-boxed (NC__API_BLOCK_TICK_BUDGET_S) and
 * continues round-robin at the next loop turn, so gossip keeps flowing.
 *
 * Clients that went away: MHD does not watch a suspended connection, so
 * a client that gave up would keep its slot until its wait ends. Every
 * NC__API_BLOCK_PEEK_S the tick peeks at each held socket (recv with
 * MSG_PEEK) and releases those whose peer closed.
 *
 * Budgets: NC_API_BLOCK_MAX_ENTRIES tracked queries (least recently used
 * evicted, those without holders first; evicting one with holders
 * answers them at the next tick, with a fresh index), cfg.max_held held
 * requests (429 beyond), MHD's connection limits.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "api/api_int.h"
#include "util/util.h"

/** Tick period when max_stale_s is 0 (no view bound of its own), s. */
#define NC__API_BLOCK_TICK_S 0.25
/**
 * Most loop time one tick spends re-evaluating, s; the rest continues
 * at the next loop turn. Well below the 200 ms local probe timeout.
 */
#define NC__API_BLOCK_TICK_BUDGET_S 0.02
/** How often held sockets are checked for a closed peer, s. */
#define NC__API_BLOCK_PEEK_S 1.0
/** Response header carrying the index. */
#define NC__API_INDEX_HEADER "X-Netcoord-Index"

/** One held request. */
struct holder {
	struct nc_api_pending *p;
	/** The index it waits to change. */
	uint64_t index;
	/** Env time its wait ends. */
	double deadline;
	struct holder *next;
};

/** One tracked query. */
struct nc__api_bent {
	/** Key (malloc) and its hash. */
	char *key;
	uint64_t hash;
	/** Signature of the last answer, and the view epoch it was for. */
	uint64_t sig;
	uint64_t epoch;
	/** Index of the last answer; holders wait for it to change. */
	uint64_t index;
	uint64_t used;
	/**
	 * The query, to re-run it for holders: path, arguments (without
	 * index and wait) pointing into q_text. NULL until first held.
	 */
	char *q_path;
	struct nc_api_arg *q_args;
	size_t q_n;
	char *q_text;
	/** Requests held on it. */
	struct holder *holders;
	size_t n_holders;
	/** In nc__api_block.zombies once evicted. */
	struct nc__api_bent *next_zombie;
};

/* ------------------------------------------------------------------ */
/* Signature                                                          */
/* ------------------------------------------------------------------ */

static bool
wobble_key(const char *k)
{
	/* Values, not order or membership: RttMs/Basis/MeasuredMs are the
	 * served RTT of api/verify.c's combine rule and its measurement. */
	static const char *const keys[] = {"EstimatedMs", "MedianMs", "Coord",
					   "AgeS",	  "Source",   "Via",
					   "RttMs",	  "Basis",    "MeasuredMs",
					   "MeasuredAgeS"};
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (strcmp(k, keys[i]) == 0)
			return true;
	return false;
}

/** FNV-1a step over @a len bytes. */
static uint64_t
fnv(uint64_t h, const void *p, size_t len)
{
	const unsigned char *b = p;
	for (size_t i = 0; i < len; i++) {
		h ^= b[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

/** Final mix (splitmix64's), so that sums of element hashes spread. */
static uint64_t
mix(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint64_t
sig_item(uint64_t h, const cJSON *it)
{
	unsigned char t = (unsigned char)(it->type & 0xff);
	h = fnv(h, &t, 1);
	if (cJSON_IsString(it)) {
		h = fnv(h, it->valuestring, strlen(it->valuestring) + 1);
	} else if (cJSON_IsNumber(it)) {
		double d = it->valuedouble;
		h = fnv(h, &d, sizeof(d));
	} else if (cJSON_IsArray(it) || cJSON_IsObject(it)) {
		const cJSON *c;
		uint64_t n = 0;
		cJSON_ArrayForEach(c, it)
		{
			if (c->string != NULL) {
				if (wobble_key(c->string))
					continue;
				h = fnv(h, c->string, strlen(c->string) + 1);
			}
			h = sig_item(h, c);
			n++;
		}
		h = fnv(h, &n, sizeof(n));
	}
	return h;
}

uint64_t
nc__api_block_sig(const cJSON *doc, unsigned flags)
{
	const uint64_t basis = 0xcbf29ce484222325ull;
	if ((flags & NC__API_SIG_SET) && cJSON_IsArray(doc)) {
		uint64_t sum = 0, n = 0;
		const cJSON *c;
		cJSON_ArrayForEach(c, doc)
		{
			sum += mix(sig_item(basis, c));
			n++;
		}
		return mix(sum ^ mix(n));
	}
	return mix(sig_item(basis, doc));
}

/* ------------------------------------------------------------------ */
/* Parameters                                                         */
/* ------------------------------------------------------------------ */

int
nc__api_block_parse(const struct nc_api_request *req, uint64_t *index,
		    double *wait_s, char *err, size_t err_cap)
{
	const char *iv = nc_api_query(req, "index");
	const char *wv = nc_api_query(req, "wait");
	*index = 0;
	*wait_s = NC_API_WAIT_DEFAULT_S;
	if (iv != NULL) {
		size_t len = strlen(iv);
		bool ok = len > 0 && len <= 20;
		for (size_t i = 0; ok && i < len; i++)
			ok = iv[i] >= '0' && iv[i] <= '9';
		errno = 0;
		unsigned long long v = ok ? strtoull(iv, NULL, 10) : 0;
		if (!ok || errno != 0) {
			snprintf(err, err_cap,
				 "bad parameter \"index\": \"%.32s\" (want "
				 "the X-Netcoord-Index of a previous answer, "
				 "an unsigned integer)",
				 iv);
			return 400;
		}
		*index = v;
	}
	if (wv != NULL) {
		double w;
		if (nc_parse_duration(wv, false, &w) != 0) {
			snprintf(err, err_cap,
				 "bad parameter \"wait\": \"%.32s\" (want a "
				 "duration such as 30s, 5m or 1m30s, at most "
				 "10m)",
				 wv);
			return 400;
		}
		/* Consul: 0 is the default, longer than the cap is the cap. */
		if (w == 0)
			w = NC_API_WAIT_DEFAULT_S;
		*wait_s = w < NC_API_WAIT_MAX_S ? w : NC_API_WAIT_MAX_S;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* Table                                                              */
/* ------------------------------------------------------------------ */

static struct nc__api_bent *
bent_find(struct nc__api_block *b, const char *key, uint64_t h)
{
	for (size_t i = 0; i < b->n; i++)
		if (b->ent[i]->hash == h && strcmp(b->ent[i]->key, key) == 0)
			return b->ent[i];
	return NULL;
}

static void
bent_free(struct nc__api_bent *e)
{
	free(e->key);
	free(e->q_path);
	free(e->q_args);
	free(e->q_text);
	free(e);
}

static void
timer_soon(struct nc_api *api, double after)
{
	if (api->env != NULL)
		api->env->ops->timer_start(api->env, &api->block.timer, after);
}

/** Make room for one entry: drop the least recently used. */
static void
bent_evict(struct nc_api *api)
{
	struct nc__api_block *b = &api->block;
	size_t victim = SIZE_MAX;
	/* Entries without holders first; else any (answered next tick). */
	for (int pass = 0; pass < 2 && victim == SIZE_MAX; pass++)
		for (size_t i = 0; i < b->n; i++) {
			if (pass == 0 && b->ent[i]->n_holders > 0)
				continue;
			if (victim == SIZE_MAX ||
			    b->ent[i]->used < b->ent[victim]->used)
				victim = i;
		}
	struct nc__api_bent *e = b->ent[victim];
	b->ent[victim] = b->ent[--b->n];
	b->evictions++;
	if (e->n_holders > 0) {
		e->next_zombie = b->zombies;
		b->zombies = e;
		timer_soon(api, 0);
	} else {
		bent_free(e);
	}
}

void
nc__api_block_update(struct nc_api *api, const char *key, uint64_t epoch,
		     uint64_t sig)
{
	struct nc__api_block *b = &api->block;
	uint64_t h = nc_hash_str(key);
	struct nc__api_bent *e = bent_find(b, key, h);
	if (e == NULL) {
		if (b->n == NC_API_BLOCK_MAX_ENTRIES)
			bent_evict(api);
		e = calloc(1, sizeof(*e));
		if (e == NULL || (e->key = strdup(key)) == NULL) {
			free(e);
			return;
		}
		e->hash = h;
		e->sig = sig;
		e->index = ++b->index;
		b->ent[b->n++] = e;
	} else if (e->sig != sig) {
		e->sig = sig;
		e->index = ++b->index;
		/* Its holders are answered at the next tick (not from
		 * inside another request's handler). */
		if (e->n_holders > 0)
			timer_soon(api, 0);
	}
	e->epoch = epoch;
	e->used = ++b->clock;
}

bool
nc__api_block_current(struct nc_api *api, const char *key, uint64_t epoch)
{
	struct nc__api_bent *e =
	    bent_find(&api->block, key, nc_hash_str(key));
	return e != NULL && e->epoch == epoch;
}

/** Keep a copy of the query of @a req (without index, wait) in @a e. */
static int
bent_keep_query(struct nc__api_bent *e, const struct nc_api_request *req)
{
	if (e->q_path != NULL)
		return 0;
	size_t text = 0, n = 0;
	for (size_t i = 0; i < req->n_args; i++) {
		const struct nc_api_arg *a = &req->args[i];
		if (strcmp(a->key, "index") == 0 || strcmp(a->key, "wait") == 0)
			continue;
		text += strlen(a->key) + strlen(a->value) + 2;
		n++;
	}
	e->q_path = strdup(req->path);
	e->q_args = calloc(n + 1, sizeof(*e->q_args));
	e->q_text = malloc(text + 1);
	if (e->q_path == NULL || e->q_args == NULL || e->q_text == NULL) {
		free(e->q_path);
		free(e->q_args);
		free(e->q_text);
		e->q_path = NULL;
		e->q_args = NULL;
		e->q_text = NULL;
		return -ENOMEM;
	}
	char *o = e->q_text;
	e->q_n = 0;
	for (size_t i = 0; i < req->n_args; i++) {
		const struct nc_api_arg *a = &req->args[i];
		if (strcmp(a->key, "index") == 0 || strcmp(a->key, "wait") == 0)
			continue;
		size_t kl = strlen(a->key) + 1, vl = strlen(a->value) + 1;
		memcpy(o, a->key, kl);
		e->q_args[e->q_n].key = o;
		o += kl;
		memcpy(o, a->value, vl);
		e->q_args[e->q_n].value = o;
		o += vl;
		e->q_n++;
	}
	return 0;
}

/** The answer the handler computed is not sent. */
static void
drop_answer(const struct nc_api_request *req)
{
	if (req->resp != NULL)
		nc_api_response_destroy(req->resp);
}

static void
add_index_header(const struct nc_api_request *req, uint64_t index)
{
	char v[32];
	snprintf(v, sizeof(v), "%" PRIu64, index);
	nc_api_add_header(req, NC__API_INDEX_HEADER, v);
}

int
nc__api_block_finish(struct nc_api *api, const struct nc_api_request *req,
		     const char *key, int status, char *err, size_t err_cap)
{
	struct nc__api_block *b = &api->block;
	uint64_t want;
	double wait_s;
	if (status != 200)
		return status;
	if (nc__api_block_parse(req, &want, &wait_s, err, err_cap) != 0) {
		/* The handler checked already. */
		drop_answer(req);
		return 400;
	}
	struct nc__api_bent *e =
	    key != NULL ? bent_find(b, key, nc_hash_str(key)) : NULL;
	if (e == NULL) {
		/* Not trackable (query too long, or out of memory). */
		if (want != 0) {
			drop_answer(req);
			snprintf(err, err_cap,
				 "bad parameter \"index\": this query is too "
				 "long to block on");
			return 400;
		}
		add_index_header(req, b->index > 0 ? b->index : 1);
		return 200;
	}
	if (want == 0 || want != e->index || req->conn == NULL) {
		add_index_header(req, e->index);
		return 200;
	}
	if (b->held >= api->cfg.max_held) {
		b->refused++;
		drop_answer(req);
		snprintf(err, err_cap,
			 "too many blocking queries held (%u, the agent's "
			 "-http-max-held): retry later",
			 api->cfg.max_held);
		return 429;
	}
	struct holder *h = calloc(1, sizeof(*h));
	if (h == NULL || bent_keep_query(e, req) != 0) {
		free(h);
		add_index_header(req, e->index);
		return 200; /* answered at once: allowed */
	}
	struct nc_api_pending *p = nc_api_suspend(req);
	if (p == NULL) {
		free(h);
		add_index_header(req, e->index);
		return 200;
	}
	drop_answer(req);
	double jitter = api->env != NULL
			    ? nc_env_rand_double(api->env) * wait_s / 16.0
			    : 0;
	h->p = p;
	h->index = e->index;
	h->deadline = nc__api_now(api) + wait_s + jitter;
	h->next = e->holders;
	e->holders = h;
	e->n_holders++;
	b->held++;
	b->held_total++;
	if (b->held == 1) {
		double period = api->cfg.max_stale_s > 0 ? api->cfg.max_stale_s
							 : NC__API_BLOCK_TICK_S;
		timer_soon(api, period);
		b->next_peek = nc__api_now(api) + NC__API_BLOCK_PEEK_S;
	}
	return NC_API_SUSPEND;
}

/* ------------------------------------------------------------------ */
/* Tick                                                               */
/* ------------------------------------------------------------------ */

/** Re-run the query of @a e into @a resp (its index header included). */
static void
bent_rerun(struct nc_api *api, struct nc__api_bent *e,
	   struct nc_api_response *resp)
{
	struct nc_api_request req = {
	    .method = "GET",
	    .path = e->q_path,
	    .suffix = "",
	    .args = e->q_args,
	    .n_args = e->q_n,
	};
	nc__api_run_internal(api, &req, resp);
	api->block.evaluations++;
}

/**
 * Answer the holders of @a e with @a resp: all of them (@a all), or
 * those whose index is no longer the entry's (a change) or whose wait
 * ended by @a now.
 */
static void
release(struct nc_api *api, struct nc__api_bent *e,
	const struct nc_api_response *resp, bool all, double now)
{
	struct nc__api_block *b = &api->block;
	for (struct holder **hp = &e->holders; *hp != NULL;) {
		struct holder *h = *hp;
		bool changed = all || h->index != e->index;
		if (!changed && h->deadline > now) {
			hp = &h->next;
			continue;
		}
		*hp = h->next;
		nc__api_resume_copy(h->p, resp);
		free(h);
		e->n_holders--;
		b->held--;
		if (changed)
			b->released_change++;
		else
			b->released_timeout++;
	}
}

/** Answer, with a short error, held requests whose client is gone. */
static void
release_gone(struct nc_api *api, struct nc__api_bent *e)
{
	struct nc_api_response gone;
	memset(&gone, 0, sizeof(gone));
	gone.status = 499;
	gone.body = (char *)"{\"error\":\"client closed the connection\"}";
	gone.body_static = true;
	gone.body_len = strlen(gone.body);
	gone.content_type = "application/json";
	for (struct holder **hp = &e->holders; *hp != NULL;) {
		struct holder *h = *hp;
		if (!nc__api_pending_gone(h->p)) {
			hp = &h->next;
			continue;
		}
		*hp = h->next;
		nc__api_resume_copy(h->p, &gone);
		free(h);
		e->n_holders--;
		api->block.held--;
		api->block.released_gone++;
	}
}

/** Is any holder of @a e due: its index changed, or its wait ended? */
static bool
any_due(const struct nc__api_bent *e, double now)
{
	for (const struct holder *h = e->holders; h != NULL; h = h->next)
		if (h->index != e->index || h->deadline <= now)
			return true;
	return false;
}

/** One held entry at @a now for view epoch @a epoch. */
static void
tick_entry(struct nc_api *api, struct nc__api_bent *e, uint64_t epoch,
	   double now, bool peek)
{
	struct nc_api_response resp;
	bool have = false;
	if (peek)
		release_gone(api, e);
	if (e->n_holders == 0)
		return;
	/* Once per view epoch: may move the index. */
	if (e->epoch != epoch) {
		bent_rerun(api, e, &resp);
		have = true;
	}
	if (any_due(e, now)) {
		if (!have) {
			bent_rerun(api, e, &resp);
			have = true;
		}
		release(api, e, &resp, false, now);
	}
	if (have)
		nc_api_response_destroy(&resp);
}

/** Answer the holders of evicted entries (a fresh answer each). */
static void
tick_zombies(struct nc_api *api)
{
	struct nc__api_block *b = &api->block;
	while (b->zombies != NULL) {
		struct nc__api_bent *z = b->zombies;
		b->zombies = z->next_zombie;
		struct nc_api_response resp;
		bent_rerun(api, z, &resp);
		release(api, z, &resp, true, 0);
		nc_api_response_destroy(&resp);
		bent_free(z);
	}
}

void
nc__api_block_tick(struct nc_timer *t)
{
	struct nc_api *api = t->arg;
	struct nc__api_block *b = &api->block;
	double now = nc__api_now(api), start = now;
	double period = api->cfg.max_stale_s > 0 ? api->cfg.max_stale_s
						 : NC__API_BLOCK_TICK_S;
	tick_zombies(api);
	const struct nc__api_view *v = nc__api_view_get(api, now);
	bool peek = now >= b->next_peek;
	if (peek)
		b->next_peek = now + NC__API_BLOCK_PEEK_S;
	bool more = false;
	if (v != NULL) {
		uint64_t epoch = v->epoch;
		size_t n = b->n;
		/* Round-robin from the cursor; time-boxed. */
		for (size_t k = 0; k < n && k < b->n; k++) {
			size_t i = (b->cursor + k) % b->n;
			struct nc__api_bent *e = b->ent[i];
			if (e->n_holders > 0)
				tick_entry(api, e, epoch, now, peek);
			if (api->env != NULL &&
			    api->env->ops->now(api->env) - start >
				NC__API_BLOCK_TICK_BUDGET_S) {
				b->cursor = (i + 1) % (b->n ? b->n : 1);
				more = k + 1 < n;
				break;
			}
		}
	}
	if (b->held == 0 && b->zombies == NULL) {
		if (api->env != NULL)
			api->env->ops->timer_stop(api->env, &b->timer);
		return;
	}
	/* More entries to see: at the next loop turn (gossip first). */
	timer_soon(api, more ? 0 : period);
}

void
nc__api_block_destroy(struct nc_api *api)
{
	struct nc__api_block *b = &api->block;
	struct nc_api_response bye;
	memset(&bye, 0, sizeof(bye));
	bye.status = 503;
	bye.body = (char *)"{\"error\":\"agent stopping\"}";
	bye.body_static = true;
	bye.body_len = strlen(bye.body);
	bye.content_type = "application/json";
	while (b->zombies != NULL) {
		struct nc__api_bent *z = b->zombies;
		b->zombies = z->next_zombie;
		release(api, z, &bye, true, 0);
		bent_free(z);
	}
	for (size_t i = 0; i < b->n; i++) {
		release(api, b->ent[i], &bye, true, 0);
		bent_free(b->ent[i]);
	}
	b->n = 0;
}
