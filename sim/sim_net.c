/*
 * Simulated network: datagrams and request/reply streams between the nodes
 * of one world (see sim.h for the model).
 *
 * A datagram is copied into a heap-allocated event at send time and
 * delivered by a world-heap entry owned by the destination node (so a
 * paused destination defers it like a socket buffer would). Loss, partition
 * and down checks happen at send time for loss and at delivery time for
 * partitions and down nodes, so a partition created while packets are in
 * flight cuts them too.
 *
 * A stream is one struct sim_stream with three events: `deliver` (owned by
 * the responder: the request reaches its process), `reply` (owned by the
 * requester: the completion callback), `timeout` (owned by the requester).
 * Whichever completes first tears the others down.
 */
#include "sim/sim_internal.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/** One datagram in flight. */
struct sim_packet {
	struct nc_timer timer;
	struct sim_world *w;
	int from, to;
	/** Arrival time (rx_time for the receiver, even if deferred). */
	double arrival;
	/** Counted in the destination's deferred_packets. */
	bool counted;
	size_t len;
	char data[];
};

/** One stream exchange in flight. */
struct sim_stream {
	struct sim_world *w;
	long id;
	int from, to;
	int expect_reply;
	nc_stream_done_cb cb;
	void *arg;
	char *req;
	size_t req_len;
	/** Reply bytes (owned) and completion status for the reply event. */
	struct nc_buf reply;
	int status;
	struct nc_timer deliver, done, timeout;
	struct sim_stream *prev, *next;
};

static void
sim_packet_cb(struct nc_timer *t)
{
	struct sim_packet *p = t->arg;
	struct sim_world *w = p->w;
	struct sim_node *dst = w->nodes[p->to];
	struct sim_node *src = w->nodes[p->from];

	if (p->counted)
		dst->deferred_packets--;
	if (dst->down) {
		w->stats.drop_down++;
	} else if (dst->group != src->group) {
		w->stats.drop_partition++;
	} else if (dst->env.sink.on_packet != NULL) {
		struct nc_addr from = src->addr;
		w->stats.packets_delivered++;
		if (w->tap_fn != NULL)
			w->tap_fn(w->tap_ctx, SIM_TAP_DGRAM_IN, p->from, p->to,
				  p->data, p->len);
		dst->env.sink.on_packet(dst->env.sink.ctx, &from, p->data,
					p->len, p->arrival);
	}
	free(p);
}

int
sim__send_packet(struct nc_env *env, const struct nc_addr *to,
		 const char *buf, size_t len)
{
	struct sim_node *src = (struct sim_node *)env;
	struct sim_world *w = src->w;
	struct sim_node *dst = sim_node_by_addr(w, to);
	struct sim_packet *p;
	double loss;

	w->stats.packets_sent++;
	if (w->tap_fn != NULL)
		w->tap_fn(w->tap_ctx, SIM_TAP_DGRAM_OUT, src->id,
			  dst != NULL ? dst->id : -1, buf, len);
	if (dst == NULL) {
		w->stats.drop_down++;
		return 0; /* UDP: an unknown address just loses the packet */
	}
	loss = w->loss_fn != NULL ? w->loss_fn(w->loss_ctx, src->id, dst->id)
				  : w->loss;
	if (loss > 0 && sim_rand_double(w) < loss) {
		w->stats.drop_loss++;
		return 0;
	}
	if (sim__rx_blocked_until(dst) > w->now) {
		if (dst->deferred_packets >= SIM_SOCKET_BUFFER_PACKETS) {
			w->stats.drop_buffer++;
			return 0;
		}
	}
	p = malloc(sizeof(*p) + len);
	if (p == NULL)
		return -ENOMEM;
	p->w = w;
	p->from = src->id;
	p->to = dst->id;
	p->len = len;
	memcpy(p->data, buf, len);
	p->arrival = w->now + sim__latency(w, src->id, dst->id);
	nc_timer_init(&p->timer, sim_packet_cb, p);
	p->counted = sim__rx_blocked_until(dst) > p->arrival;
	if (p->counted)
		dst->deferred_packets++;
	sim__heap_push_rx(w, &p->timer, dst->id, p->arrival);
	return 0;
}

/* ---------------------------------------------------------------- */
/* Streams                                                           */
/* ---------------------------------------------------------------- */

static void
sim_stream_unlink(struct sim_stream *s)
{
	struct sim_world *w = s->w;

	sim__heap_remove(w, &s->deliver);
	sim__heap_remove(w, &s->done);
	sim__heap_remove(w, &s->timeout);
	if (s->prev != NULL)
		s->prev->next = s->next;
	else
		w->streams = s->next;
	if (s->next != NULL)
		s->next->prev = s->prev;
	s->prev = s->next = NULL;
}

static void
sim_stream_free(struct sim_stream *s)
{
	free(s->req);
	free(s->reply.data);
	free(s);
}

/** Finish: unlink, call the requester back, free. */
static void
sim_stream_finish(struct sim_stream *s, int status)
{
	sim_stream_unlink(s);
	if (status != 0)
		s->w->stats.streams_failed++;
	else if (s->w->tap_fn != NULL && s->expect_reply && s->reply.len > 0)
		s->w->tap_fn(s->w->tap_ctx, SIM_TAP_STREAM_IN, s->to, s->from,
			     s->reply.data, s->reply.len);
	s->cb(s->arg, status, status == 0 && s->expect_reply ? s->reply.data
							      : NULL,
	      status == 0 ? s->reply.len : 0);
	sim_stream_free(s);
}

static void
sim_stream_done_cb(struct nc_timer *t)
{
	struct sim_stream *s = t->arg;

	sim_stream_finish(s, s->status);
}

static void
sim_stream_timeout_cb(struct nc_timer *t)
{
	sim_stream_finish(t->arg, -ETIMEDOUT);
}

/** Schedule the completion on the requester after one-way latency. */
static void
sim_stream_complete_later(struct sim_stream *s, int status)
{
	struct sim_world *w = s->w;

	s->status = status;
	sim__heap_push_rx(w, &s->done, s->from,
		       w->now + sim__latency(w, s->to, s->from));
}

static void
sim_stream_deliver_cb(struct nc_timer *t)
{
	struct sim_stream *s = t->arg;
	struct sim_world *w = s->w;
	struct sim_node *dst = w->nodes[s->to];
	struct sim_node *src = w->nodes[s->from];
	struct nc_addr from = src->addr;
	int rc;

	if (dst->group != src->group)
		return; /* SYN lost in the partition: requester times out */
	if (dst->down || dst->env.sink.on_stream == NULL) {
		sim_stream_complete_later(s, -ECONNREFUSED);
		return;
	}
	if (w->tap_fn != NULL)
		w->tap_fn(w->tap_ctx, SIM_TAP_STREAM_IN, s->from, s->to, s->req,
			  s->req_len);
	rc = dst->env.sink.on_stream(dst->env.sink.ctx, &from, s->req,
				     s->req_len, &s->reply);
	if (w->tap_fn != NULL && rc >= 0 && s->reply.len > 0)
		w->tap_fn(w->tap_ctx, SIM_TAP_STREAM_OUT, s->to, s->from,
			  s->reply.data, s->reply.len);
	if (rc < 0 || (s->expect_reply && s->reply.len == 0)) {
		sim_stream_complete_later(s, -ECONNRESET);
		return;
	}
	sim_stream_complete_later(s, 0);
}

long
sim__stream_request(struct nc_env *env, const struct nc_addr *to,
		    const char *req, size_t req_len, int expect_reply,
		    double timeout, nc_stream_done_cb cb, void *arg)
{
	struct sim_node *src = (struct sim_node *)env;
	struct sim_world *w = src->w;
	struct sim_node *dst = sim_node_by_addr(w, to);
	struct sim_stream *s;
	double lat;

	if (dst == NULL || cb == NULL)
		return -EHOSTUNREACH;
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return -ENOMEM;
	s->req = malloc(req_len ? req_len : 1);
	if (s->req == NULL) {
		free(s);
		return -ENOMEM;
	}
	memcpy(s->req, req, req_len);
	s->req_len = req_len;
	s->w = w;
	s->id = w->next_stream_id++;
	s->from = src->id;
	s->to = dst->id;
	s->expect_reply = expect_reply;
	s->cb = cb;
	s->arg = arg;
	nc_timer_init(&s->deliver, sim_stream_deliver_cb, s);
	nc_timer_init(&s->done, sim_stream_done_cb, s);
	nc_timer_init(&s->timeout, sim_stream_timeout_cb, s);
	s->next = w->streams;
	if (w->streams != NULL)
		w->streams->prev = s;
	w->streams = s;
	w->stats.streams++;
	if (w->tap_fn != NULL)
		w->tap_fn(w->tap_ctx, SIM_TAP_STREAM_OUT, s->from, s->to, req,
			  req_len);
	/* SYN, SYN-ACK, then the request: three one-way trips. */
	lat = sim__latency(w, src->id, dst->id);
	sim__heap_push_rx(w, &s->deliver, dst->id, w->now + 3 * lat);
	sim__heap_push(w, &s->timeout, src->id, w->now + timeout);
	return s->id;
}

void
sim__stream_cancel(struct nc_env *env, long id)
{
	struct sim_world *w = ((struct sim_node *)env)->w;

	for (struct sim_stream *s = w->streams; s != NULL; s = s->next) {
		if (s->id == id) {
			sim_stream_unlink(s);
			sim_stream_free(s);
			return;
		}
	}
}

void
sim__net_destroy(struct sim_world *w)
{
	while (w->streams != NULL) {
		struct sim_stream *s = w->streams;
		sim_stream_unlink(s);
		sim_stream_free(s);
	}
	/* Teardown only: free packets and blank their heap slots. */
	for (size_t i = 0; i < w->heap_len; i++) {
		struct nc_timer *t = w->heap[i].t;
		if (t != NULL && t->cb == sim_packet_cb) {
			free(t->arg);
			w->heap[i].t = NULL;
		}
	}
}

void
sim_set_tap(struct sim_world *w, sim_tap_fn fn, void *ctx)
{
	w->tap_fn = fn;
	w->tap_ctx = ctx;
}
