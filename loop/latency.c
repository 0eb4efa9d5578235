/*
 * loop/latency.c - TEST FACILITY: an env decorator that delays outgoing
 * datagrams and streams by half the RTT an RTT matrix lists to their
 * destination, so that a cluster of agents on one machine (all on
 * 127.0.0.1) sees wide-area latencies, and drops them by rules (loss,
 * partition, block) to stage failures (see latency.h for the model).
 * scripts/run.sh uses it for demos (through scripts/cluster.sh and
 * `netcoord agent -latency-matrix`); it is off in production.
 *
 * Why a decorator and not netem: tc/netem needs root and a network
 * namespace per agent, and shapes by interface, not by destination port.
 * Here every agent delays what it sends, the same way the simulator's
 * latency function does, and the rest of the agent is the production code.
 *
 * Datagrams wait in a pool of fixed slots allocated at creation (no
 * allocation on the probe path, STYLE.md §6). A slot carries its own env
 * timer; the inner env fires equal deadlines in insertion order, so two
 * datagrams to the same destination (same delay) leave in the order they
 * were sent. Streams are rare (push/pull every 30 s, TCP ping fallback)
 * and may be large (a push/pull of 10,000 members), so their request and
 * reply are copied into malloc()ed buffers.
 *
 * Rules (loss, partition, block; latency.h) are checked first, on every
 * send: a datagram they drop never takes a slot. They are parsed into one
 * byte per matrix row ("traffic to this row is cut") for this node, so a
 * check is the map lookup the delay needs anyway plus one byte; a parse
 * builds the new table aside and swaps it in only if the whole text is
 * valid. The loss draw uses the env's RNG (deterministic in the
 * simulator) and only happens while a loss rule is in force.
 *
 * Precision: the delay is an env timer, so it inherits the loop's timer
 * resolution (epoll_pwait2's nanoseconds plus timer slack and wake-up
 * latency in the real env: a 0.2 ms delay measures ~0.23 ms to the
 * receive stamp on loopback; exact in the simulator) and anything that
 * keeps the loop busy.
 */
#include "loop/latency.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/util.h"

/*
 * Stream ids: undelayed requests return the inner env's ids, delayed ones
 * ours. Both count up from 1 (the real env's stream.c does), so they could
 * collide; op_stream_cancel looks at our list first, which would cancel the
 * wrong one. Avoid it by starting ours far above anything the inner env
 * will reach.
 */
#define LAT_STREAM_ID_BASE (1L << 40)

/** A datagram waiting for its departure time. */
struct lat_packet {
	/** Fires at departure; arg = this slot. */
	struct nc_timer timer;
	struct nc_env_latency *owner;
	struct nc_addr to;
	size_t len;
	/** Link in the free list (valid while free). */
	struct lat_packet *next_free;
	char data[NC_ENV_LATENCY_SLOT_BYTES];
};

/** Where a delayed stream exchange is. */
enum lat_stream_state {
	/** Request waiting for its departure (timer armed). */
	LAT_STREAM_OUT,
	/** Handed to the inner env (inner_id valid). */
	LAT_STREAM_INNER,
	/** Reply (or failure) waiting to be delivered (timer armed). */
	LAT_STREAM_BACK,
};

/** A delayed stream exchange. */
struct lat_stream {
	struct nc_timer timer;
	struct nc_env_latency *owner;
	enum lat_stream_state state;
	/** Our id, returned to the caller. */
	long id;
	/** The inner env's id while LAT_STREAM_INNER. */
	long inner_id;
	struct nc_addr to;
	/** Request copy (freed once handed over). */
	char *req;
	size_t req_len;
	int expect_reply;
	/** Caller's timeout and the two one-way delays, s. */
	double timeout, delay_out, delay_back;
	nc_stream_done_cb cb;
	void *cb_arg;
	/** Result to deliver in LAT_STREAM_BACK. */
	int status;
	char *reply;
	size_t reply_len;
	/** Links in in_stream_list. */
	struct lat_stream *prev, *next;
};

struct nc_env_latency {
	/** Our face to gossip (ops below, the sink gossip installs). */
	struct nc_env base;
	/** The wrapped env (borrowed). */
	struct nc_env *inner;
	/** Matrix size, this node's row, its row and column (ms, <0 missing). */
	size_t n;
	int self_row;
	double *row_ms;
	double *col_ms;
	/** Address -> row. */
	struct nc_env_latency_peer *peers;
	size_t peers_n;
	/** Datagram slots and their free list. */
	struct lat_packet *slots;
	size_t slots_n;
	struct lat_packet *free_slots;
	/** Pending streams (a list: boring, at most MAX_STREAMS long). */
	struct lat_stream *in_stream_list;
	size_t streams_n;
	long next_stream_id;
	struct nc_env_latency_stats stats;
	/** Rules: share of datagrams lost; per row, 1 = cut off; count. */
	double loss;
	uint8_t *blocked;
	size_t rows_blocked;
	/** Each drop reason is logged once. */
	bool logged_full, logged_oversize, logged_streams;
};

static struct nc_env_latency *
lat(struct nc_env *env)
{
	return (struct nc_env_latency *)env;
}

static void
lat_log(struct nc_env_latency *l, enum nc_log_level level, const char *fmt,
	...) __attribute__((format(printf, 3, 4)));

static void
lat_log(struct nc_env_latency *l, enum nc_log_level level, const char *fmt,
	...)
{
	char msg[256];
	va_list ap;
	if (level < l->inner->log_level || l->inner->ops->log == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	l->inner->ops->log(l->inner, level, "latency", msg);
}

/* ------------------------------------------------------------------ */
/* Delays                                                             */
/* ------------------------------------------------------------------ */

static int
lat_row_of(const struct nc_env_latency *l, const struct nc_addr *to)
{
	for (size_t i = 0; i < l->peers_n; i++)
		if (nc_addr_equal(&l->peers[i].addr, to))
			return l->peers[i].row;
	return -1;
}

/**
 * Half of @a ms (an RTT), falling back to @a reverse_ms; 0 (counted) if
 * both are missing.
 */
static double
lat_half(struct nc_env_latency *l, double ms, double reverse_ms)
{
	if (ms < 0)
		ms = reverse_ms;
	if (ms < 0) {
		l->stats.missing_entry++;
		return 0;
	}
	return ms / 2000.0;
}

/** One-way delays to and back from @a to, s; false if @a to is unknown. */
static bool
lat_delays(struct nc_env_latency *l, const struct nc_addr *to, double *out,
	   double *back)
{
	int row = lat_row_of(l, to);
	*out = *back = 0;
	if (row < 0) {
		l->stats.unknown_dest++;
		return false;
	}
	*out = lat_half(l, l->row_ms[row], l->col_ms[row]);
	*back = lat_half(l, l->col_ms[row], l->row_ms[row]);
	return true;
}

/**
 * Does a row rule cut traffic to @a to? (Loss is drawn by the caller:
 * streams are never lost.)
 */
static bool
lat_blocked(const struct nc_env_latency *l, const struct nc_addr *to)
{
	if (l->rows_blocked == 0)
		return false;
	int row = lat_row_of(l, to);
	return row >= 0 && l->blocked[row];
}

double
nc_env_latency_delay(const struct nc_env *env, const struct nc_addr *to)
{
	const struct nc_env_latency *l = (const struct nc_env_latency *)env;
	int row = lat_row_of(l, to);
	if (row < 0)
		return 0;
	double ms = l->row_ms[row] >= 0 ? l->row_ms[row] : l->col_ms[row];
	return ms >= 0 ? ms / 2000.0 : 0;
}

/* ------------------------------------------------------------------ */
/* Pass-through ops                                                   */
/* ------------------------------------------------------------------ */

static double
op_now(struct nc_env *env)
{
	struct nc_env *in = lat(env)->inner;
	return in->ops->now(in);
}

static void
op_timer_start(struct nc_env *env, struct nc_timer *t, double after)
{
	struct nc_env *in = lat(env)->inner;
	in->ops->timer_start(in, t, after);
}

static void
op_timer_stop(struct nc_env *env, struct nc_timer *t)
{
	struct nc_env *in = lat(env)->inner;
	in->ops->timer_stop(in, t);
}

static uint64_t
op_rand(struct nc_env *env)
{
	struct nc_env *in = lat(env)->inner;
	return in->ops->rand(in);
}

static void
op_log(struct nc_env *env, enum nc_log_level level, const char *module,
       const char *msg)
{
	struct nc_env *in = lat(env)->inner;
	if (in->ops->log != NULL)
		in->ops->log(in, level, module, msg);
}

/* ------------------------------------------------------------------ */
/* Datagrams                                                          */
/* ------------------------------------------------------------------ */

static void
packet_due(struct nc_timer *t)
{
	struct lat_packet *p = t->arg;
	struct nc_env_latency *l = p->owner;
	/* An error here is the inner env's to count (udp_send_errors). */
	(void)l->inner->ops->send_packet(l->inner, &p->to, p->data, p->len);
	p->next_free = l->free_slots;
	l->free_slots = p;
	l->stats.queued_now--;
}

static int
op_send_packet(struct nc_env *env, const struct nc_addr *to, const char *buf,
	       size_t len)
{
	struct nc_env_latency *l = lat(env);
	double out, back;
	/* Like a lossy network: the sender does not learn. */
	if (lat_blocked(l, to)) {
		l->stats.packets_blocked++;
		return 0;
	}
	if (l->loss > 0 && nc_env_rand_double(l->inner) < l->loss) {
		l->stats.packets_lost++;
		return 0;
	}
	lat_delays(l, to, &out, &back);
	if (out <= 0) {
		l->stats.packets_direct++;
		return l->inner->ops->send_packet(l->inner, to, buf, len);
	}
	if (len > NC_ENV_LATENCY_SLOT_BYTES) {
		l->stats.drop_oversize++;
		if (!l->logged_oversize) {
			lat_log(l, NC_LOG_WARN,
				"dropping a %zu-byte datagram: larger than a "
				"%d-byte delay slot (logged once)",
				len, NC_ENV_LATENCY_SLOT_BYTES);
			l->logged_oversize = true;
		}
		return -EMSGSIZE;
	}
	struct lat_packet *p = l->free_slots;
	if (p == NULL) {
		l->stats.drop_queue_full++;
		if (!l->logged_full) {
			lat_log(l, NC_LOG_WARN,
				"delay queue full (%zu datagrams): dropping "
				"(logged once)",
				l->slots_n);
			l->logged_full = true;
		}
		/* Like a full router queue: the sender does not learn. */
		return 0;
	}
	l->free_slots = p->next_free;
	p->to = *to;
	p->len = len;
	memcpy(p->data, buf, len);
	l->inner->ops->timer_start(l->inner, &p->timer, out);
	l->stats.packets_delayed++;
	if (++l->stats.queued_now > l->stats.queued_max)
		l->stats.queued_max = l->stats.queued_now;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Streams                                                            */
/* ------------------------------------------------------------------ */

static void
stream_free(struct lat_stream *s)
{
	struct nc_env_latency *l = s->owner;
	l->inner->ops->timer_stop(l->inner, &s->timer);
	if (s->prev != NULL)
		s->prev->next = s->next;
	else
		l->in_stream_list = s->next;
	if (s->next != NULL)
		s->next->prev = s->prev;
	l->streams_n--;
	free(s->req);
	free(s->reply);
	free(s);
}

/** Deliver the result to the caller and forget the stream. */
static void
stream_finish(struct lat_stream *s)
{
	nc_stream_done_cb cb = s->cb;
	void *arg = s->cb_arg;
	int status = s->status;
	char *reply = s->reply;
	size_t reply_len = s->reply_len;
	/* Unlink first: the callback may start or cancel other streams. */
	s->reply = NULL;
	stream_free(s);
	cb(arg, status, status == 0 ? reply : NULL,
	   status == 0 ? reply_len : 0);
	free(reply);
}

/** Result @a status in @a after seconds (0: now). */
static void
stream_back(struct lat_stream *s, int status, double after)
{
	struct nc_env_latency *l = s->owner;
	s->status = status;
	s->state = LAT_STREAM_BACK;
	if (after <= 0) {
		stream_finish(s);
		return;
	}
	l->inner->ops->timer_start(l->inner, &s->timer, after);
}

static void
stream_inner_done(void *arg, int status, const char *reply, size_t reply_len)
{
	struct lat_stream *s = arg;
	if (s->state != LAT_STREAM_INNER)
		return;
	s->inner_id = 0;
	if (status == 0 && reply_len > 0) {
		s->reply = malloc(reply_len);
		if (s->reply == NULL) {
			stream_back(s, -ENOMEM, 0);
			return;
		}
		memcpy(s->reply, reply, reply_len);
		s->reply_len = reply_len;
	}
	/* A write-only exchange ends at the write; a reply travels back. */
	stream_back(s, status, s->expect_reply ? s->delay_back : 0);
}

static void
stream_timer(struct nc_timer *t)
{
	struct lat_stream *s = t->arg;
	struct nc_env_latency *l = s->owner;
	if (s->state == LAT_STREAM_BACK) {
		stream_finish(s);
		return;
	}
	/* LAT_STREAM_OUT: the request leaves now, with what is left. */
	double left = s->timeout - s->delay_out -
		      (s->expect_reply ? s->delay_back : 0);
	if (left <= 0) {
		/* Cannot complete in time: fail at the caller's deadline. */
		stream_back(s, -ETIMEDOUT, s->timeout - s->delay_out);
		return;
	}
	s->state = LAT_STREAM_INNER;
	long id = l->inner->ops->stream_request(l->inner, &s->to, s->req,
						s->req_len, s->expect_reply,
						left, stream_inner_done, s);
	free(s->req);
	s->req = NULL;
	if (id < 0) {
		stream_back(s, (int)id, 0);
		return;
	}
	/* stream_inner_done may have run already (it checks the state). */
	if (s->state == LAT_STREAM_INNER)
		s->inner_id = id;
}

static long
op_stream_request(struct nc_env *env, const struct nc_addr *to,
		  const char *req, size_t req_len, int expect_reply,
		  double timeout, nc_stream_done_cb cb, void *arg)
{
	struct nc_env_latency *l = lat(env);
	double out, back;
	if (lat_blocked(l, to)) {
		l->stats.streams_blocked++;
		return -ECONNREFUSED;
	}
	lat_delays(l, to, &out, &back);
	if (out <= 0 && back <= 0)
		return l->inner->ops->stream_request(l->inner, to, req,
						     req_len, expect_reply,
						     timeout, cb, arg);
	if (l->streams_n >= NC_ENV_LATENCY_MAX_STREAMS) {
		l->stats.streams_refused++;
		if (!l->logged_streams) {
			lat_log(l, NC_LOG_WARN,
				"%d delayed streams pending: refusing more "
				"(logged once)",
				NC_ENV_LATENCY_MAX_STREAMS);
			l->logged_streams = true;
		}
		return -ENOBUFS;
	}
	struct lat_stream *s = calloc(1, sizeof(*s));
	char *copy = malloc(req_len > 0 ? req_len : 1);
	if (s == NULL || copy == NULL) {
		free(s);
		free(copy);
		return -ENOMEM;
	}
	memcpy(copy, req, req_len);
	nc_timer_init(&s->timer, stream_timer, s);
	s->owner = l;
	s->state = LAT_STREAM_OUT;
	/* Ours start at LAT_STREAM_ID_BASE (see above). */
	s->id = ++l->next_stream_id;
	s->to = *to;
	s->req = copy;
	s->req_len = req_len;
	s->expect_reply = expect_reply;
	s->timeout = timeout;
	s->delay_out = out;
	s->delay_back = back;
	s->cb = cb;
	s->cb_arg = arg;
	s->next = l->in_stream_list;
	if (s->next != NULL)
		s->next->prev = s;
	l->in_stream_list = s;
	l->streams_n++;
	l->stats.streams_delayed++;
	l->inner->ops->timer_start(l->inner, &s->timer, out);
	return s->id;
}

static void
op_stream_cancel(struct nc_env *env, long id)
{
	struct nc_env_latency *l = lat(env);
	for (struct lat_stream *s = l->in_stream_list; s != NULL; s = s->next) {
		if (s->id != id)
			continue;
		if (s->state == LAT_STREAM_INNER && s->inner_id > 0)
			l->inner->ops->stream_cancel(l->inner, s->inner_id);
		stream_free(s);
		return;
	}
	/* Not ours: an undelayed request went straight to the inner env. */
	l->inner->ops->stream_cancel(l->inner, id);
}

static const struct nc_env_ops latency_ops = {
	.now = op_now,
	.timer_start = op_timer_start,
	.timer_stop = op_timer_stop,
	.rand = op_rand,
	.send_packet = op_send_packet,
	.stream_request = op_stream_request,
	.stream_cancel = op_stream_cancel,
	.log = op_log,
};

/* ------------------------------------------------------------------ */
/* Sink forwarding                                                    */
/* ------------------------------------------------------------------ */

static void
fwd_on_packet(void *ctx, const struct nc_addr *from, const char *buf,
	      size_t len, double rx_time)
{
	struct nc_env_latency *l = ctx;
	if (l->base.sink.on_packet != NULL)
		l->base.sink.on_packet(l->base.sink.ctx, from, buf, len,
				       rx_time);
}

static int
fwd_on_stream(void *ctx, const struct nc_addr *from, const char *req,
	      size_t req_len, struct nc_buf *reply)
{
	struct nc_env_latency *l = ctx;
	if (l->base.sink.on_stream == NULL)
		return -1;
	return l->base.sink.on_stream(l->base.sink.ctx, from, req, req_len,
				      reply);
}

/* ------------------------------------------------------------------ */
/* Life cycle                                                         */
/* ------------------------------------------------------------------ */

/** A message into @a err and -EINVAL (nc_errf). */
#define fail(err, cap, ...) nc_errf(err, cap, -EINVAL, __VA_ARGS__)

struct nc_env *
nc_env_latency_new(struct nc_env *inner,
		   const struct nc_env_latency_config *cfg, char *err,
		   size_t err_cap)
{
	if (inner == NULL || cfg == NULL || cfg->rtt_ms == NULL || cfg->n == 0) {
		fail(err, err_cap, "latency: no matrix");
		return NULL;
	}
	if (cfg->self_row < 0 || (size_t)cfg->self_row >= cfg->n) {
		fail(err, err_cap, "latency: own row %d outside the %zu-row "
				   "matrix", cfg->self_row, cfg->n);
		return NULL;
	}
	for (size_t i = 0; i < cfg->peers_n; i++) {
		if (cfg->peers[i].row < 0 || (size_t)cfg->peers[i].row >= cfg->n) {
			fail(err, err_cap,
			     "latency: map row %d outside the %zu-row matrix",
			     cfg->peers[i].row, cfg->n);
			return NULL;
		}
	}
	struct nc_env_latency *l = calloc(1, sizeof(*l));
	if (l == NULL)
		goto nomem;
	l->inner = inner;
	l->n = cfg->n;
	l->self_row = cfg->self_row;
	l->slots_n = cfg->max_packets > 0 ? cfg->max_packets
					  : NC_ENV_LATENCY_DEFAULT_PACKETS;
	l->row_ms = malloc(cfg->n * sizeof(double));
	l->col_ms = malloc(cfg->n * sizeof(double));
	l->peers = malloc((cfg->peers_n > 0 ? cfg->peers_n : 1) *
			  sizeof(*l->peers));
	l->slots = calloc(l->slots_n, sizeof(*l->slots));
	l->blocked = calloc(cfg->n, 1);
	if (l->row_ms == NULL || l->col_ms == NULL || l->peers == NULL ||
	    l->slots == NULL || l->blocked == NULL)
		goto nomem;
	for (size_t j = 0; j < cfg->n; j++) {
		l->row_ms[j] = cfg->rtt_ms[(size_t)cfg->self_row * cfg->n + j];
		l->col_ms[j] = cfg->rtt_ms[j * cfg->n + (size_t)cfg->self_row];
	}
	if (cfg->peers_n > 0)
		memcpy(l->peers, cfg->peers, cfg->peers_n * sizeof(*l->peers));
	l->peers_n = cfg->peers_n;
	for (size_t i = l->slots_n; i-- > 0;) {
		struct lat_packet *p = &l->slots[i];
		nc_timer_init(&p->timer, packet_due, p);
		p->owner = l;
		p->next_free = l->free_slots;
		l->free_slots = p;
	}
	l->next_stream_id = LAT_STREAM_ID_BASE;
	l->base.ops = &latency_ops;
	l->base.log_level = inner->log_level;
	struct nc_env_sink fwd = {
		.ctx = l,
		.on_packet = fwd_on_packet,
		.on_stream = fwd_on_stream,
	};
	nc_env_set_sink(inner, &fwd);
	return &l->base;
nomem:
	if (l != NULL) {
		free(l->row_ms);
		free(l->col_ms);
		free(l->peers);
		free(l->slots);
		free(l->blocked);
		free(l);
	}
	fail(err, err_cap, "latency: out of memory");
	return NULL;
}

void
nc_env_latency_delete(struct nc_env *env)
{
	if (env == NULL)
		return;
	struct nc_env_latency *l = lat(env);
	while (l->in_stream_list != NULL) {
		struct lat_stream *s = l->in_stream_list;
		if (s->state == LAT_STREAM_INNER && s->inner_id > 0)
			l->inner->ops->stream_cancel(l->inner, s->inner_id);
		stream_free(s);
	}
	for (size_t i = 0; i < l->slots_n; i++)
		l->inner->ops->timer_stop(l->inner, &l->slots[i].timer);
	struct nc_env_sink none = {0};
	nc_env_set_sink(l->inner, &none);
	free(l->row_ms);
	free(l->col_ms);
	free(l->peers);
	free(l->slots);
	free(l->blocked);
	free(l);
}

const struct nc_env_latency_stats *
nc_env_latency_stats(const struct nc_env *env)
{
	return &((const struct nc_env_latency *)env)->stats;
}

/* ------------------------------------------------------------------ */
/* Rules                                                              */
/* ------------------------------------------------------------------ */

static bool
is_row_sep(char c)
{
	return c == ' ' || c == '\t' || c == ',' || c == '\r';
}

/**
 * Mark with @a bit every row of "3 5,7 10-12" in [s, end). @a where is
 * the message prefix ("rules.txt:3" or "line 3").
 */
static int
rules_rows(const struct nc_env_latency *l, const char *s, const char *end,
	   uint8_t *mark, uint8_t bit, const char *where, char *err,
	   size_t cap)
{
	size_t count = 0;
	while (s < end) {
		if (is_row_sep(*s)) {
			s++;
			continue;
		}
		/* Digits only: strtol alone would take signs and spaces. */
		char *e = (char *)s;
		long a = -1, b;
		errno = 0;
		if (*s >= '0' && *s <= '9')
			a = strtol(s, &e, 10);
		b = a;
		if (e > s && e + 1 < end && *e == '-' && e[1] >= '0' &&
		    e[1] <= '9')
			b = strtol(e + 1, &e, 10);
		if (e == s || errno != 0 || (e < end && !is_row_sep(*e)))
			return fail(err, cap,
				    "%s: expected row numbers (\"3 5,7 10-12\")",
				    where);
		if (b < a)
			return fail(err, cap, "%s: range %ld-%ld goes down",
				    where, a, b);
		if ((size_t)b >= l->n)
			return fail(err, cap,
				    "%s: row %ld outside the %zu-row matrix",
				    where, b, l->n);
		for (long r = a; r <= b; r++)
			mark[r] |= bit;
		count++;
		s = e;
	}
	if (count == 0)
		return fail(err, cap, "%s: no rows", where);
	return 0;
}

/** One rule line (comment stripped, NUL-terminated) into loss / blocked. */
static int
rules_line(const struct nc_env_latency *l, char *line, double *loss,
	   uint8_t *blocked, uint8_t *side, const char *where, char *err,
	   size_t cap)
{
	char *s = line, *end = line + strlen(line);
	while (s < end && is_row_sep(*s))
		s++;
	char *word = s;
	while (s < end && !is_row_sep(*s))
		s++;
	size_t wl = (size_t)(s - word);
	if (wl == 0)
		return 0;
	memset(side, 0, l->n);
	if (wl == 4 && strncmp(word, "loss", 4) == 0) {
		char *e;
		errno = 0;
		double p = strtod(s, &e);
		while (e < end && is_row_sep(*e))
			e++;
		if (e == s || errno != 0 || e != end || !(p >= 0 && p <= 1))
			return fail(err, cap,
				    "%s: \"loss\" wants a share in 0..1", where);
		*loss = p;
		return 0;
	}
	if (wl == 5 && strncmp(word, "block", 5) == 0) {
		int rc = rules_rows(l, s, end, side, 1, where, err, cap);
		if (rc < 0)
			return rc;
		/* Cut off ourselves: everything; else just those rows. */
		bool self = side[l->self_row] != 0;
		for (size_t r = 0; r < l->n; r++)
			if (self || side[r])
				blocked[r] = 1;
		return 0;
	}
	if (wl == 9 && strncmp(word, "partition", 9) == 0) {
		char *bar = strchr(s, '|');
		if (bar == NULL || strchr(bar + 1, '|') != NULL)
			return fail(err, cap,
				    "%s: \"partition\" wants ROWS | ROWS",
				    where);
		int rc = rules_rows(l, s, bar, side, 1, where, err, cap);
		if (rc == 0)
			rc = rules_rows(l, bar + 1, end, side, 2, where, err,
					cap);
		if (rc < 0)
			return rc;
		for (size_t r = 0; r < l->n; r++)
			if (side[r] == 3)
				return fail(err, cap,
					    "%s: row %zu on both sides", where,
					    r);
		uint8_t mine = side[l->self_row];
		for (size_t r = 0; r < l->n; r++)
			if (mine != 0 && side[r] != 0 && side[r] != mine)
				blocked[r] = 1;
		return 0;
	}
	if (wl == 6 && strncmp(word, "freeze", 6) == 0)
		return fail(err, cap,
			    "%s: \"freeze\" is not a rule: send SIGSTOP and "
			    "SIGCONT to the agent",
			    where);
	return fail(err, cap,
		    "%s: unknown rule \"%.*s\" (loss, partition, block)",
		    where, (int)(wl > 32 ? 32 : wl), word);
}

/** Parse @a text; @a origin names it in messages (NULL: "line N"). */
static int
rules_parse(struct nc_env_latency *l, const char *text, const char *origin,
	    char *err, size_t cap)
{
	uint8_t *blocked = calloc(l->n, 1), *side = malloc(l->n);
	char *copy = strdup(text);
	double loss = 0;
	int rc = 0;
	if (blocked == NULL || side == NULL || copy == NULL) {
		fail(err, cap, "latency rules: out of memory");
		rc = -ENOMEM;
		goto out;
	}
	size_t lineno = 0;
	for (char *line = copy, *next; line != NULL; line = next) {
		next = strchr(line, '\n');
		if (next != NULL)
			*next++ = '\0';
		lineno++;
		char *hash = strchr(line, '#');
		if (hash != NULL)
			*hash = '\0';
		/* A path and a line number. */
		char where[640];
		if (origin != NULL)
			snprintf(where, sizeof(where), "%s:%zu", origin, lineno);
		else
			snprintf(where, sizeof(where), "line %zu", lineno);
		rc = rules_line(l, line, &loss, blocked, side, where, err, cap);
		if (rc < 0)
			goto out;
	}
	free(l->blocked);
	l->blocked = blocked;
	blocked = NULL;
	l->loss = loss;
	l->rows_blocked = 0;
	for (size_t r = 0; r < l->n; r++)
		l->rows_blocked += l->blocked[r];
out:
	free(blocked);
	free(side);
	free(copy);
	return rc;
}

int
nc_env_latency_rules_set(struct nc_env *env, const char *text, char *err,
			 size_t err_cap)
{
	return rules_parse(lat(env), text, NULL, err, err_cap);
}

int
nc_env_latency_rules_load(struct nc_env *env, const char *path, char *err,
			  size_t err_cap)
{
	char *text;
	size_t n;
	int rc = nc_file_read(path, NC_ENV_LATENCY_RULES_MAX_BYTES, &text, &n,
			      NULL, err, err_cap);
	if (rc < 0)
		return rc;
	if (memchr(text, '\0', n) != NULL)
		rc = fail(err, err_cap, "%s: not a text file", path);
	else
		rc = rules_parse(lat(env), text, path, err, err_cap);
	free(text);
	return rc;
}

void
nc_env_latency_rules_summary(const struct nc_env *env, char *buf, size_t cap)
{
	const struct nc_env_latency *l = (const struct nc_env_latency *)env;
	size_t cut = 0;
	if (cap == 0)
		return;
	for (size_t i = 0; i < l->peers_n; i++)
		cut += l->blocked[l->peers[i].row];
	if (l->loss <= 0 && l->rows_blocked == 0)
		snprintf(buf, cap, "no rules");
	else
		snprintf(buf, cap, "loss %.3f, %zu of %zu mapped peers blocked",
			 l->loss, cut, l->peers_n);
}

/* ------------------------------------------------------------------ */
/* Files                                                              */
/* ------------------------------------------------------------------ */

int
nc_env_latency_matrix_load(const char *path, double **rtt_ms, size_t *n,
			   char *err, size_t err_cap)
{
	return nc_rtt_matrix_load(path, NC_ENV_LATENCY_MATRIX_MAX, rtt_ms, n,
				  err, err_cap);
}

int
nc_env_latency_map_load(const char *path, size_t rows,
			struct nc_env_latency_peer **peers, size_t *peers_n,
			char *err, size_t err_cap)
{
	*peers = NULL;
	*peers_n = 0;
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return fail(err, err_cap, "%s: %s", path, strerror(errno));
	struct nc_env_latency_peer *v = NULL;
	size_t cnt = 0, cap = 0, lineno = 0;
	char line[512];
	int rc = 0;
	while (fgets(line, sizeof(line), f) != NULL) {
		lineno++;
		if (nc_line_blank(line))
			continue;
		char addr[128], name[NC_ENV_LATENCY_NAME_MAX + 1] = "";
		long row;
		char extra[8];
		int k = sscanf(line, "%127s %ld %128s %7s", addr, &row, name,
			       extra);
		if (k < 2 || k > 3) {
			rc = fail(err, err_cap,
				  "%s:%zu: expected \"ADDR:PORT ROW [NAME]\"",
				  path, lineno);
			goto out;
		}
		struct nc_env_latency_peer p;
		memset(&p, 0, sizeof(p));
		if (nc_addr_parse(addr, 0, &p.addr) != 0 || p.addr.port == 0) {
			rc = fail(err, err_cap,
				  "%s:%zu: invalid address \"%s\" (want "
				  "ip:port)",
				  path, lineno, addr);
			goto out;
		}
		if (row < 0 || (size_t)row >= rows) {
			rc = fail(err, err_cap,
				  "%s:%zu: row %ld outside the %zu-row matrix",
				  path, lineno, row, rows);
			goto out;
		}
		p.row = (int)row;
		snprintf(p.name, sizeof(p.name), "%s", name);
		if (cnt == NC_ENV_LATENCY_MAP_MAX) {
			rc = fail(err, err_cap, "%s: more than %d entries",
				  path, NC_ENV_LATENCY_MAP_MAX);
			goto out;
		}
		if (cnt == cap) {
			size_t nc = cap ? cap * 2 : 16;
			struct nc_env_latency_peer *nv =
				realloc(v, nc * sizeof(*v));
			if (nv == NULL) {
				rc = fail(err, err_cap, "%s: out of memory",
					  path);
				goto out;
			}
			v = nv;
			cap = nc;
		}
		v[cnt++] = p;
	}
	*peers = v;
	*peers_n = cnt;
	v = NULL;
out:
	free(v);
	fclose(f);
	return rc;
}

int
nc_env_latency_map_find(const struct nc_env_latency_peer *peers,
			size_t peers_n, const char *name,
			const struct nc_addr *addr)
{
	if (name != NULL && name[0] != '\0')
		for (size_t i = 0; i < peers_n; i++)
			if (strcmp(peers[i].name, name) == 0)
				return peers[i].row;
	if (addr != NULL)
		for (size_t i = 0; i < peers_n; i++)
			if (nc_addr_equal(&peers[i].addr, addr))
				return peers[i].row;
	return -1;
}
