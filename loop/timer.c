/*
 * loop/timer.c - the real env's timers: a binary min-heap of caller-owned
 * struct nc_timer (deadline, then insertion sequence for FIFO at equal
 * deadlines): O(log n) start and stop, which matters at 1,000 members with
 * one suspicion timer each. Deadlines are on the env clock (clock_log.c).
 *
 * A pass fires only the timers due before it began, so a timer re-armed
 * with 0 s from its own callback cannot spin the loop. How precisely a
 * deadline is met depends on the wait (loop.c).
 *
 * Cost: 8 bytes per armed timer (the heap slot).
 */
#include "loop/loop_int.h"

#include <stdlib.h>

static bool
timer_before(const struct nc_timer *a, const struct nc_timer *b)
{
	if (a->deadline != b->deadline)
		return a->deadline < b->deadline;
	return a->seq < b->seq;
}

static void
heap_set(struct nc_env_real *e, size_t i, struct nc_timer *t)
{
	e->heap[i] = t;
	t->heap_idx = (long)i;
}

static void
heap_up(struct nc_env_real *e, size_t i)
{
	struct nc_timer *t = e->heap[i];
	while (i > 0) {
		size_t p = (i - 1) / 2;
		if (!timer_before(t, e->heap[p]))
			break;
		heap_set(e, i, e->heap[p]);
		i = p;
	}
	heap_set(e, i, t);
}

static void
heap_down(struct nc_env_real *e, size_t i)
{
	struct nc_timer *t = e->heap[i];
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		const struct nc_timer *best = t;
		if (l < e->heap_len && timer_before(e->heap[l], best)) {
			m = l;
			best = e->heap[l];
		}
		if (r < e->heap_len && timer_before(e->heap[r], best))
			m = r;
		if (m == i)
			break;
		heap_set(e, i, e->heap[m]);
		i = m;
	}
	heap_set(e, i, t);
}

static void
heap_remove(struct nc_env_real *e, struct nc_timer *t)
{
	size_t i = (size_t)t->heap_idx;
	t->heap_idx = -1;
	e->heap_len--;
	if (i == e->heap_len)
		return;
	/* The moved element may belong above or below slot i. */
	heap_set(e, i, e->heap[e->heap_len]);
	heap_down(e, i);
	heap_up(e, i);
}

void
nc__loop_op_timer_stop(struct nc_env *env, struct nc_timer *t)
{
	if (t->heap_idx < 0)
		return;
	heap_remove(nc__loop_real(env), t);
}

void
nc__loop_op_timer_start(struct nc_env *env, struct nc_timer *t, double after)
{
	struct nc_env_real *e = nc__loop_real(env);
	if (t->heap_idx >= 0)
		heap_remove(e, t);
	if (!(after > 0))
		after = 0;
	if (e->heap_len == e->heap_cap) {
		size_t cap = e->heap_cap ? 2 * e->heap_cap : 64;
		struct nc_timer **h = realloc(e->heap, cap * sizeof(*h));
		if (h == NULL) {
			/*
			 * Out of memory: firing at once is wrong but keeps
			 * the caller's state machine moving; losing the
			 * timer would wedge it. Practically unreachable.
			 */
			abort();
		}
		e->heap = h;
		e->heap_cap = cap;
	}
	t->deadline = nc__loop_mono_now() + after;
	t->seq = e->timer_seq++;
	size_t i = e->heap_len++;
	heap_set(e, i, t);
	heap_up(e, i);
}

/**
 * Fire timers due at the start of this pass. Timers (re)armed by a
 * callback get a later seq and wait for the next iteration.
 */
void
nc__loop_timers_fire(struct nc_env_real *e)
{
	double now = nc__loop_mono_now();
	uint64_t seq_limit = e->timer_seq;
	while (e->heap_len > 0) {
		struct nc_timer *t = e->heap[0];
		if (t->deadline > now || t->seq >= seq_limit)
			break;
		heap_remove(e, t);
		t->cb(t);
	}
}

double
nc__loop_timers_wait_s(struct nc_env_real *e)
{
	if (e->heap_len == 0)
		return -1;
	double d = e->heap[0]->deadline - nc__loop_mono_now();
	return d > 0 ? d : 0;
}

void
nc__loop_timers_clear(struct nc_env_real *e)
{
	for (size_t i = 0; i < e->heap_len; i++)
		e->heap[i]->heap_idx = -1;
	free(e->heap);
	e->heap = NULL;
	e->heap_len = e->heap_cap = 0;
}
