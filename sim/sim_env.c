/*
 * Simulator core: virtual clock, the world timer heap, the PRNG and the
 * per-node struct nc_env (see sim.h for the model).
 *
 * Every timer of every node, and every in-flight packet or stream event,
 * lives in one binary min-heap keyed by (deadline, seq); seq is a global
 * insertion counter, so events due at the same instant run in FIFO order
 * and a run is a pure function of the seed. The heap entry also records the
 * owning node: when an entry of a paused node comes due it is re-queued at
 * the node's resume time with its original seq (marked `deferred`), which
 * is how a SIGSTOPped process behaves -- nothing runs, and on SIGCONT the
 * overdue timers and the queued datagrams are handled in order. Entries
 * of inbound traffic (marked `rx`) are also deferred while the node's
 * inbound processing is stalled (sim_node_stall_rx); its timers run.
 *
 * PRNG: util's xoshiro256** seeded through splitmix64 (Vigna's
 * recommendation).
 * One generator for the whole world: the network and every node draw from
 * it, which keeps a run reproducible without per-node seeding rules.
 */
#include "sim/sim_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- */
/* PRNG                                                              */
/* ---------------------------------------------------------------- */

uint64_t
sim_rand(struct sim_world *w)
{
	return nc_rng_next(&w->rng);
}

double
sim_rand_double(struct sim_world *w)
{
	return nc_rng_double(&w->rng);
}

/* ---------------------------------------------------------------- */
/* Heap                                                              */
/* ---------------------------------------------------------------- */

static inline bool
sim_heap_less(const struct sim_heap_ent *a, const struct sim_heap_ent *b)
{
	if (a->t->deadline != b->t->deadline)
		return a->t->deadline < b->t->deadline;
	return a->t->seq < b->t->seq;
}

static inline void
sim_heap_set(struct sim_world *w, size_t i, struct sim_heap_ent e)
{
	w->heap[i] = e;
	e.t->heap_idx = (long)i;
}

static void
sim_heap_up(struct sim_world *w, size_t i)
{
	struct sim_heap_ent e = w->heap[i];

	while (i > 0) {
		size_t p = (i - 1) / 2;
		if (!sim_heap_less(&e, &w->heap[p]))
			break;
		sim_heap_set(w, i, w->heap[p]);
		i = p;
	}
	sim_heap_set(w, i, e);
}

static void
sim_heap_down(struct sim_world *w, size_t i)
{
	struct sim_heap_ent e = w->heap[i];

	for (;;) {
		size_t l = 2 * i + 1, m;
		if (l >= w->heap_len)
			break;
		m = l;
		if (l + 1 < w->heap_len &&
		    sim_heap_less(&w->heap[l + 1], &w->heap[l]))
			m = l + 1;
		if (!sim_heap_less(&w->heap[m], &e))
			break;
		sim_heap_set(w, i, w->heap[m]);
		i = m;
	}
	sim_heap_set(w, i, e);
}

/** Insert an entry whose timer already carries deadline and seq. */
static void
sim_heap_insert(struct sim_world *w, struct sim_heap_ent e)
{
	if (w->heap_len == w->heap_cap) {
		size_t cap = w->heap_cap ? w->heap_cap * 2 : 256;
		struct sim_heap_ent *h = realloc(w->heap, cap * sizeof(*h));
		if (h == NULL)
			abort(); /* test code: out of memory is fatal */
		w->heap = h;
		w->heap_cap = cap;
	}
	w->heap[w->heap_len] = e;
	e.t->heap_idx = (long)w->heap_len;
	w->heap_len++;
	sim_heap_up(w, w->heap_len - 1);
}

void
sim__heap_remove(struct sim_world *w, struct nc_timer *t)
{
	struct nc_timer *moved;
	size_t i;

	if (t->heap_idx < 0)
		return;
	i = (size_t)t->heap_idx;
	t->heap_idx = -1;
	w->heap_len--;
	if (i == w->heap_len)
		return;
	moved = w->heap[w->heap_len].t;
	sim_heap_set(w, i, w->heap[w->heap_len]);
	sim_heap_up(w, i);
	/* From wherever it ended up: a no-op if it moved up. */
	sim_heap_down(w, (size_t)moved->heap_idx);
}

static void
heap_push(struct sim_world *w, struct nc_timer *t, int node, double deadline,
	  bool rx)
{
	struct sim_heap_ent e = {.t = t, .node = node, .rx = rx};

	sim__heap_remove(w, t);
	t->deadline = deadline;
	t->seq = w->seq++;
	sim_heap_insert(w, e);
}

void
sim__heap_push(struct sim_world *w, struct nc_timer *t, int node,
	       double deadline)
{
	heap_push(w, t, node, deadline, false);
}

void
sim__heap_push_rx(struct sim_world *w, struct nc_timer *t, int node,
		  double deadline)
{
	heap_push(w, t, node, deadline, true);
}

/* ---------------------------------------------------------------- */
/* Clock                                                             */
/* ---------------------------------------------------------------- */

double
sim_now(const struct sim_world *w)
{
	return w->now;
}

/**
 * Pop and run one due entry (deferring it if its node is paused, or if it
 * is inbound traffic and the node's inbound processing is stalled).
 */
static void
sim_run_one(struct sim_world *w)
{
	struct sim_heap_ent e = w->heap[0];
	struct nc_timer *t = e.t;

	sim__heap_remove(w, t);
	if (e.node >= 0) {
		struct sim_node *n = w->nodes[e.node];
		double until = e.rx ? sim__rx_blocked_until(n) : n->paused_until;
		if (until > w->now) {
			e.deferred = true;
			t->deadline = until;
			sim_heap_insert(w, e);
			return;
		}
	}
	t->cb(t);
}

size_t
sim_step(struct sim_world *w)
{
	size_t ran = 0;
	double at;

	if (w->heap_len == 0 || isinf(w->heap[0].t->deadline))
		return 0;
	at = w->heap[0].t->deadline;
	if (at > w->now)
		w->now = at;
	while (w->heap_len > 0 && w->heap[0].t->deadline <= w->now) {
		sim_run_one(w);
		ran++;
	}
	return ran;
}

void
sim_run_until(struct sim_world *w, double t)
{
	while (w->heap_len > 0 && w->heap[0].t->deadline <= t)
		sim_step(w);
	if (t > w->now)
		w->now = t;
}

size_t
sim_run_steps(struct sim_world *w, size_t max_steps)
{
	size_t i;

	for (i = 0; i < max_steps; i++)
		if (sim_step(w) == 0)
			break;
	return i;
}

double
sim_run_until_pred(struct sim_world *w, double t_max, double check_every,
		   bool (*pred)(struct sim_world *w, void *arg), void *arg)
{
	if (pred(w, arg))
		return w->now;
	while (w->now < t_max) {
		double next = w->now + check_every;
		sim_run_until(w, next < t_max ? next : t_max);
		if (pred(w, arg))
			return w->now;
	}
	return -1;
}

/** A world-level scheduled call. */
struct sim_call {
	struct nc_timer timer;
	struct sim_world *w;
	sim_call_fn fn;
	void *arg;
};

static void
sim_call_cb(struct nc_timer *t)
{
	struct sim_call *c = t->arg;

	c->fn(c->w, c->arg);
	free(c);
}

int
sim_call_at(struct sim_world *w, double t, sim_call_fn fn, void *arg)
{
	struct sim_call *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return -1;
	c->w = w;
	c->fn = fn;
	c->arg = arg;
	nc_timer_init(&c->timer, sim_call_cb, c);
	sim__heap_push(w, &c->timer, -1, t < w->now ? w->now : t);
	return 0;
}

/* ---------------------------------------------------------------- */
/* env ops                                                           */
/* ---------------------------------------------------------------- */

static double
sim_env_now(struct nc_env *env)
{
	return ((struct sim_node *)env)->w->now;
}

static void
sim_env_timer_start(struct nc_env *env, struct nc_timer *t, double after)
{
	struct sim_node *n = (struct sim_node *)env;

	if (after < 0)
		after = 0;
	sim__heap_push(n->w, t, n->id, n->w->now + after);
}

static void
sim_env_timer_stop(struct nc_env *env, struct nc_timer *t)
{
	sim__heap_remove(((struct sim_node *)env)->w, t);
}

static uint64_t
sim_env_rand(struct nc_env *env)
{
	return sim_rand(((struct sim_node *)env)->w);
}

static const char *
sim_level_str(enum nc_log_level l)
{
	switch (l) {
	case NC_LOG_DEBUG: return "DEBUG";
	case NC_LOG_INFO: return "INFO";
	case NC_LOG_WARN: return "WARN";
	default: return "ERR";
	}
}

static void
sim_env_log(struct nc_env *env, enum nc_log_level level, const char *module,
	    const char *msg)
{
	struct sim_node *n = (struct sim_node *)env;
	struct sim_world *w = n->w;

	if (w->log_fn != NULL) {
		w->log_fn(w->log_ctx, w, n->id, level, module, msg);
		return;
	}
	if (level >= w->print_level)
		printf("%10.3f %-8s [%s] %s: %s\n", w->now, n->name,
		       sim_level_str(level), module, msg);
}

static const struct nc_env_ops sim_env_ops = {
	.now = sim_env_now,
	.timer_start = sim_env_timer_start,
	.timer_stop = sim_env_timer_stop,
	.rand = sim_env_rand,
	.send_packet = sim__send_packet,
	.stream_request = sim__stream_request,
	.stream_cancel = sim__stream_cancel,
	.log = sim_env_log,
};

/* ---------------------------------------------------------------- */
/* World and nodes                                                   */
/* ---------------------------------------------------------------- */

struct sim_world *
sim_world_new(uint64_t seed)
{
	struct sim_world *w = calloc(1, sizeof(*w));
	const char *lv;

	if (w == NULL)
		return NULL;
	nc_rng_seed(&w->rng, seed);
	w->latency_const = 0.005;
	w->next_stream_id = 1;
	w->log_level = NC_LOG_INFO;
	w->print_level = NC_LOG_ERR + 1; /* silent */
	lv = getenv("NC_SIM_LOG");
	if (lv != NULL) {
		if (strcmp(lv, "debug") == 0)
			w->print_level = w->log_level = NC_LOG_DEBUG;
		else if (strcmp(lv, "info") == 0)
			w->print_level = NC_LOG_INFO;
		else if (strcmp(lv, "warn") == 0)
			w->print_level = NC_LOG_WARN;
		else if (strcmp(lv, "err") == 0)
			w->print_level = NC_LOG_ERR;
	}
	return w;
}

void
sim_world_delete(struct sim_world *w)
{
	if (w == NULL)
		return;
	sim__net_destroy(w);
	/* World calls still pending are ours to free. */
	for (size_t i = 0; i < w->heap_len; i++) {
		if (w->heap[i].t == NULL)
			continue; /* a packet freed by sim__net_destroy */
		if (w->heap[i].t->cb == sim_call_cb)
			free(w->heap[i].t->arg);
		else
			w->heap[i].t->heap_idx = -1;
	}
	for (int i = 0; i < w->n_nodes; i++)
		free(w->nodes[i]);
	free(w->nodes);
	free(w->heap);
	free(w);
}

struct sim_node *
sim_node_add(struct sim_world *w, const char *name)
{
	struct sim_node *n;
	uint32_t ip;

	if (w->n_nodes == w->cap_nodes) {
		int cap = w->cap_nodes ? w->cap_nodes * 2 : 16;
		struct sim_node **a = realloc(w->nodes, (size_t)cap * sizeof(*a));
		if (a == NULL)
			return NULL;
		w->nodes = a;
		w->cap_nodes = cap;
	}
	n = calloc(1, sizeof(*n));
	if (n == NULL)
		return NULL;
	n->env.ops = &sim_env_ops;
	n->env.log_level = w->log_level;
	n->w = w;
	n->id = w->n_nodes;
	snprintf(n->name, sizeof(n->name), "%s", name);
	ip = (uint32_t)n->id + 1;
	n->addr.family = 4;
	n->addr.ip[0] = 10;
	n->addr.ip[1] = (uint8_t)(ip >> 16);
	n->addr.ip[2] = (uint8_t)(ip >> 8);
	n->addr.ip[3] = (uint8_t)ip;
	n->addr.port = SIM_PORT;
	w->nodes[w->n_nodes++] = n;
	return n;
}

int
sim_node_count(const struct sim_world *w)
{
	return w->n_nodes;
}

struct sim_node *
sim_node_get(struct sim_world *w, int i)
{
	return i >= 0 && i < w->n_nodes ? w->nodes[i] : NULL;
}

struct nc_env *
sim_node_env(struct sim_node *n)
{
	return &n->env;
}

const struct nc_addr *
sim_node_addr(const struct sim_node *n)
{
	return &n->addr;
}

int
sim_node_id(const struct sim_node *n)
{
	return n->id;
}

const char *
sim_node_name(const struct sim_node *n)
{
	return n->name;
}

struct sim_node *
sim_node_by_addr(struct sim_world *w, const struct nc_addr *a)
{
	uint32_t ip;

	if (a->family != 4 || a->ip[0] != 10 || a->port != SIM_PORT)
		return NULL;
	ip = ((uint32_t)a->ip[1] << 16) | ((uint32_t)a->ip[2] << 8) | a->ip[3];
	if (ip == 0 || ip > (uint32_t)w->n_nodes)
		return NULL;
	return w->nodes[ip - 1];
}

void
sim_node_pause(struct sim_node *n, double duration)
{
	n->paused_until = n->w->now + duration;
}

void
sim_node_resume(struct sim_node *n)
{
	struct sim_world *w = n->w;
	bool moved = false;

	n->paused_until = w->now;
	/* Bring deferred entries forward to now, keeping their order. */
	for (size_t i = 0; i < w->heap_len; i++) {
		struct sim_heap_ent *e = &w->heap[i];
		if (e->node == n->id && e->deferred &&
		    e->t->deadline > w->now) {
			e->t->deadline = w->now;
			moved = true;
		}
	}
	if (moved)
		for (size_t i = w->heap_len / 2 + 1; i-- > 0;)
			if (i < w->heap_len)
				sim_heap_down(w, i);
}

bool
sim_node_paused(const struct sim_node *n)
{
	return n->paused_until > n->w->now;
}

void
sim_node_stall_rx(struct sim_node *n, double duration)
{
	n->rx_stalled_until = n->w->now + duration;
}

bool
sim_node_rx_stalled(const struct sim_node *n)
{
	return n->rx_stalled_until > n->w->now;
}

void
sim_node_set_down(struct sim_node *n, bool down)
{
	n->down = down;
}

void
sim_node_set_group(struct sim_node *n, int group)
{
	n->group = group;
}

void
sim_set_latency_const(struct sim_world *w, double s)
{
	w->latency_const = s;
	w->latency_fn = NULL;
}

void
sim_set_latency_fn(struct sim_world *w, sim_latency_fn fn, void *ctx)
{
	w->latency_fn = fn;
	w->latency_ctx = ctx;
}

double
sim__latency(struct sim_world *w, int a, int b)
{
	double l = w->latency_fn != NULL
			   ? w->latency_fn(w->latency_ctx, w, a, b)
			   : w->latency_const;
	return l < 0 ? 0 : l;
}

void
sim_set_loss(struct sim_world *w, double p)
{
	w->loss = p;
}

void
sim_set_loss_fn(struct sim_world *w, double (*fn)(void *ctx, int from, int to),
		void *ctx)
{
	w->loss_fn = fn;
	w->loss_ctx = ctx;
}

void
sim_set_log(struct sim_world *w, sim_log_fn fn, void *ctx)
{
	w->log_fn = fn;
	w->log_ctx = ctx;
}

void
sim_set_log_level(struct sim_world *w, enum nc_log_level level)
{
	w->log_level = level;
	for (int i = 0; i < w->n_nodes; i++)
		w->nodes[i]->env.log_level = level;
}

const struct sim_net_stats *
sim_net_stats(const struct sim_world *w)
{
	return &w->stats;
}
