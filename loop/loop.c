/*
 * gossip/env_real.c - the real environment: one epoll loop on
 * CLOCK_MONOTONIC serving the gossip UDP socket, a TCP listener on the same
 * port, inbound and outbound streams, extra watched descriptors, a timer
 * heap and a seeded PRNG. It implements gossip/env.h for a real process;
 * the simulator (tests/sim/) implements the same seam in memory.
 *
 * Shape of one loop iteration (nc_env_real_run_once):
 *
 *	epoll_pwait2(until the earliest timer)
 *	drain the UDP socket        <- gossip first: acks and pings are never
 *	                               queued behind HTTP or stream work
 *	fire due timers             <- only those due before this pass began,
 *	                               so a timer re-armed with 0 s cannot spin
 *	serve the other ready fds   <- listener, streams, watches (MHD, signals)
 *
 * Receive timestamps. RTT accuracy bounds coordinate accuracy, so each
 * datagram carries the kernel's SO_TIMESTAMPNS stamp, taken when the packet
 * reached the socket, not when the loop got round to it. That stamp is on
 * CLOCK_REALTIME; it is moved onto the env clock with an offset
 * (realtime - monotonic) sampled at each drain, so a wall clock step costs
 * at most one batch of skewed samples. Without a stamp, now() is used.
 *
 * Streams (PROTOCOL.md §3). One request and at most one reply per
 * connection. Plaintext streams have no length prefix, so inbound and
 * reply bytes go through nc_proto_stream_scan(), which says when one
 * complete message is present. Inbound: accept, read until complete, hand
 * to sink.on_stream, write the reply, close; bounded by tcp_timeout from
 * accept and by max_inbound_streams (one more is closed at once, as
 * memberlist refuses the 128th). Outbound: nonblocking connect, write,
 * read one complete reply (or EOF), call back exactly once, unless
 * cancelled. A peer that closes after a partial message is an error; one
 * that closes after a complete one is not asked anything more.
 *
 * Descriptor lifetime. epoll_wait returns a batch; a callback can close a
 * descriptor whose event is later in the same batch. Every removal goes
 * through unwatch(), which also blanks that watch's pending events in the
 * current batch, so no stale pointer is ever followed. Connection structs
 * are freed at once after that.
 *
 * Timers are a binary min-heap of caller-owned struct nc_timer (deadline,
 * then insertion sequence for FIFO at equal deadlines): O(log n) start and
 * stop, which matters at 1,000 members with one suspicion timer each.
 * The loop waits with epoll_pwait2 (nanosecond timeout; glibc 2.35,
 * Linux 5.11), so a timer fires within the thread's timer slack (set to
 * 1 us by default, cfg.timer_slack_ns) plus the wake-up latency of its
 * deadline: env_latency's emulated delays stay sub-ms accurate. Where
 * epoll_pwait2 is missing (older glibc at build time, or ENOSYS at run
 * time) the wait is epoll_wait's whole milliseconds, rounded up, which
 * makes timers up to ~1 ms late.
 *
 * Costs: 64 KiB receive buffer, a few hundred bytes per stream while it is
 * open, 8 bytes per armed timer. Nothing is allocated per datagram.
 */
/* accept4() */
#define _GNU_SOURCE
#include "loop/loop.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "gossip/proto.h"

/** Largest datagram we read (memberlist's udpPacketBufSize). */
#define NC_ENV_UDP_BUF 65536
/** Events fetched per epoll_wait. Nothing special in this value. */
#define NC_ENV_BATCH 64
/**
 * Datagrams read per drain before other work gets a turn: a flood cannot
 * starve timers for long. 256 packets at ~10 us each is ~3 ms.
 */
#define NC_ENV_DRAIN_MAX 256
/** Read chunk for streams. */
#define NC_ENV_STREAM_CHUNK 16384

struct nc_env_real;

/** Kind of a stream connection. */
enum nc_conn_kind {
	NC_CONN_IN,  /**< accepted; we read a request and write a reply */
	NC_CONN_OUT, /**< connected by us; we write and read a reply */
};

/** Stage of a connection. */
enum nc_conn_stage {
	NC_CONN_CONNECTING, /**< outbound, waiting for connect() */
	NC_CONN_WRITING,    /**< writing wbuf */
	NC_CONN_READING,    /**< reading into rbuf until scan completes */
};

/** One TCP stream, inbound or outbound. */
struct nc_conn {
	/** Loop registration; w.fd is the socket. */
	struct nc_env_watch w;
	/** Owning env. */
	struct nc_env_real *env;
	enum nc_conn_kind kind;
	enum nc_conn_stage stage;
	/** Peer address. */
	struct nc_addr peer;
	/** Deadline of the whole exchange. */
	struct nc_timer deadline;
	/** Bytes received so far. */
	struct nc_buf rbuf;
	/** Framing state over rbuf. */
	struct nc_proto_stream_scan scan;
	/** Bytes to send (request or reply) and how many went out. */
	struct nc_buf wbuf;
	size_t woff;
	/** Outbound only: request id, callback, whether a reply is read. */
	long id;
	nc_stream_done_cb cb;
	void *cb_arg;
	int expect_reply;
	/** Links in the env's list of open connections. */
	struct nc_conn *prev, *next;
};

/** The env; `base` first so struct nc_env * converts back. */
struct nc_env_real {
	struct nc_env base;
	struct nc_env_real_config cfg;
	int epfd;
	/** Gossip UDP socket and TCP listener, both in the loop. */
	struct nc_env_watch udp;
	struct nc_env_watch listener;
	/** Socket family of both sockets (AF_INET / AF_INET6). */
	int family;
	/** Bound address (actual port). */
	struct nc_addr local;
	/** Timer heap (min by deadline, then seq). */
	struct nc_timer **heap;
	size_t heap_len, heap_cap;
	uint64_t timer_seq;
	/** xoshiro256** state. */
	uint64_t rng[4];
	/** Open connections and counts. */
	struct nc_conn *conns;
	int inbound_count;
	long next_id;
	/** Events of the iteration being served (for unwatch blanking). */
	struct epoll_event batch[NC_ENV_BATCH];
	int batch_len;
	bool stop;
	/** epoll_pwait2 failed with ENOSYS: epoll_wait from then on. */
	bool no_pwait2;
	/** Last log time of a refused stream (rate limit). */
	double refuse_logged;
	struct nc_env_real_stats stats;
	/** Datagram buffer. */
	char udp_buf[NC_ENV_UDP_BUF];
};

static inline struct nc_env_real *
real(struct nc_env *env)
{
	return (struct nc_env_real *)env;
}

/* ------------------------------------------------------------------ */
/* Clock, PRNG, logging                                               */
/* ------------------------------------------------------------------ */

static double
ts_seconds(const struct timespec *ts)
{
	return (double)ts->tv_sec + (double)ts->tv_nsec * 1e-9;
}

static double
mono_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts_seconds(&ts);
}

static double
op_now(struct nc_env *env)
{
	(void)env;
	return mono_now();
}

static uint64_t
rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

/** xoshiro256** (Blackman & Vigna): fast, 256-bit state, seedable. */
static uint64_t
op_rand(struct nc_env *env)
{
	uint64_t *s = real(env)->rng;
	uint64_t result = rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

/** splitmix64, to spread a 64-bit seed over the xoshiro state. */
static uint64_t
splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static const char *
level_name(enum nc_log_level level)
{
	switch (level) {
	case NC_LOG_DEBUG:
		return "DEBUG";
	case NC_LOG_INFO:
		return "INFO";
	case NC_LOG_WARN:
		return "WARN";
	default:
		return "ERR";
	}
}

/**
 * "2026/11/25 18:00:00 [INFO] memberlist: msg\n", written with one
 * write() so lines from several processes sharing a file do not mix.
 */
static void
op_log(struct nc_env *env, enum nc_log_level level, const char *module,
       const char *msg)
{
	struct nc_env_real *e = real(env);
	if (level < env->log_level)
		return;
	char line[1024];
	time_t t = time(NULL);
	struct tm tm;
	localtime_r(&t, &tm);
	int n = (int)strftime(line, sizeof(line), "%Y/%m/%d %H:%M:%S ", &tm);
	int m = snprintf(line + n, sizeof(line) - (size_t)n, "[%s] %s: %s\n",
			 level_name(level), module, msg);
	size_t len = (size_t)n + (size_t)m;
	if (len >= sizeof(line)) {
		len = sizeof(line) - 1;
		line[len - 1] = '\n';
	}
	ssize_t w = write(e->cfg.log_fd, line, len);
	(void)w;
}

static void
logf_(struct nc_env_real *e, enum nc_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void
logf_(struct nc_env_real *e, enum nc_log_level level, const char *fmt, ...)
{
	if (level < e->base.log_level)
		return;
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	op_log(&e->base, level, "memberlist", msg);
}

/* ------------------------------------------------------------------ */
/* Timer heap                                                         */
/* ------------------------------------------------------------------ */

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

static void
op_timer_stop(struct nc_env *env, struct nc_timer *t)
{
	if (t->heap_idx < 0)
		return;
	heap_remove(real(env), t);
}

static void
op_timer_start(struct nc_env *env, struct nc_timer *t, double after)
{
	struct nc_env_real *e = real(env);
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
	t->deadline = mono_now() + after;
	t->seq = e->timer_seq++;
	size_t i = e->heap_len++;
	heap_set(e, i, t);
	heap_up(e, i);
}

/**
 * Fire timers due at the start of this pass. Timers (re)armed by a
 * callback get a later seq and wait for the next iteration.
 */
static void
timers_fire(struct nc_env_real *e)
{
	double now = mono_now();
	uint64_t seq_limit = e->timer_seq;
	while (e->heap_len > 0) {
		struct nc_timer *t = e->heap[0];
		if (t->deadline > now || t->seq >= seq_limit)
			break;
		heap_remove(e, t);
		t->cb(t);
	}
}

/** Seconds until the earliest timer (>= 0); -1 if none. */
static double
timers_wait_s(struct nc_env_real *e)
{
	if (e->heap_len == 0)
		return -1;
	double d = e->heap[0]->deadline - mono_now();
	return d > 0 ? d : 0;
}

/**
 * epoll wait of at most @a wait seconds (< 0 = no limit), capped at an
 * hour. Nanosecond resolution with epoll_pwait2, else whole milliseconds
 * rounded up (never early: an early wake-up would find no timer due and
 * wait again, a short busy loop).
 */
static int
loop_wait(struct nc_env_real *e, double wait)
{
	if (wait > 3600)
		wait = 3600;
#if defined(__GLIBC_PREREQ)
#if __GLIBC_PREREQ(2, 35)
	if (!e->no_pwait2) {
		struct timespec ts, *tp = NULL;
		if (wait >= 0) {
			ts.tv_sec = (time_t)wait;
			ts.tv_nsec =
			    (long)((wait - (double)ts.tv_sec) * 1e9 + 0.999);
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			tp = &ts;
		}
		int n = epoll_pwait2(e->epfd, e->batch, NC_ENV_BATCH, tp, NULL);
		if (n >= 0 || errno != ENOSYS)
			return n;
		e->no_pwait2 = true;
	}
#endif
#endif
	int ms = wait < 0 ? -1 : (int)(wait * 1000.0 + 0.999);
	return epoll_wait(e->epfd, e->batch, NC_ENV_BATCH, ms);
}

/* ------------------------------------------------------------------ */
/* Addresses                                                          */
/* ------------------------------------------------------------------ */

static socklen_t
addr_to_sockaddr(const struct nc_addr *a, int family,
		 struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;
		if (a->family != 4)
			return 0;
		sin->sin_family = AF_INET;
		sin->sin_port = htons(a->port);
		memcpy(&sin->sin_addr, a->ip, 4);
		return sizeof(*sin);
	}
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
	sin6->sin6_family = AF_INET6;
	sin6->sin6_port = htons(a->port);
	if (a->family == 6) {
		memcpy(&sin6->sin6_addr, a->ip, 16);
	} else if (a->family == 4) {
		/* v4-mapped, for a dual-stack socket. */
		sin6->sin6_addr.s6_addr[10] = 0xff;
		sin6->sin6_addr.s6_addr[11] = 0xff;
		memcpy(&sin6->sin6_addr.s6_addr[12], a->ip, 4);
	} else {
		return 0;
	}
	return sizeof(*sin6);
}

static void
sockaddr_to_addr(const struct sockaddr_storage *ss, struct nc_addr *a)
{
	memset(a, 0, sizeof(*a));
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;
		a->family = 4;
		memcpy(a->ip, &sin->sin_addr, 4);
		a->port = ntohs(sin->sin_port);
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 =
			(const struct sockaddr_in6 *)ss;
		a->port = ntohs(s6->sin6_port);
		if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
			a->family = 4;
			memcpy(a->ip, &s6->sin6_addr.s6_addr[12], 4);
		} else {
			a->family = 6;
			memcpy(a->ip, &s6->sin6_addr, 16);
		}
	}
}

/* ------------------------------------------------------------------ */
/* Watches                                                            */
/* ------------------------------------------------------------------ */

static uint32_t
epoll_mask(unsigned events)
{
	uint32_t m = 0;
	if (events & NC_ENV_READ)
		m |= EPOLLIN | EPOLLRDHUP;
	if (events & NC_ENV_WRITE)
		m |= EPOLLOUT;
	return m;
}

int
nc_env_real_watch_start(struct nc_env *env, struct nc_env_watch *w, int fd,
			unsigned events, nc_env_watch_cb cb, void *arg)
{
	struct nc_env_real *e = real(env);
	struct epoll_event ev = {.events = epoll_mask(events), .data.ptr = w};
	/* Registered means cb != NULL (a zeroed struct is unregistered). */
	bool active = w->cb != NULL && w->fd >= 0;
	if (active && w->fd != fd)
		nc_env_real_watch_stop(env, w);
	active = w->cb != NULL && w->fd >= 0;
	if (epoll_ctl(e->epfd, active ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, fd,
		      &ev) < 0)
		return -errno;
	w->fd = fd;
	w->cb = cb;
	w->arg = arg;
	w->events = events;
	return 0;
}

void
nc_env_real_watch_stop(struct nc_env *env, struct nc_env_watch *w)
{
	struct nc_env_real *e = real(env);
	if (w->fd < 0 || w->cb == NULL)
		return;
	epoll_ctl(e->epfd, EPOLL_CTL_DEL, w->fd, NULL);
	for (int i = 0; i < e->batch_len; i++)
		if (e->batch[i].data.ptr == w)
			e->batch[i].data.ptr = NULL;
	w->fd = -1;
	w->cb = NULL;
	w->events = 0;
}

/* ------------------------------------------------------------------ */
/* UDP                                                                */
/* ------------------------------------------------------------------ */

static int
op_send_packet(struct nc_env *env, const struct nc_addr *to, const char *buf,
	       size_t len)
{
	struct nc_env_real *e = real(env);
	struct sockaddr_storage ss;
	socklen_t sl = addr_to_sockaddr(to, e->family, &ss);
	if (sl == 0) {
		e->stats.udp_send_errors++;
		return -EAFNOSUPPORT;
	}
	ssize_t n = sendto(e->udp.fd, buf, len, 0, (struct sockaddr *)&ss, sl);
	if (n < 0) {
		/* EAGAIN included: a datagram is sent whole or not at all. */
		e->stats.udp_send_errors++;
		return -errno;
	}
	e->stats.udp_out++;
	e->stats.udp_bytes_out += (uint64_t)n;
	return 0;
}

void
nc_env_real_drain_packets(struct nc_env *env)
{
	struct nc_env_real *e = real(env);
	/* realtime - monotonic, to move kernel stamps onto the env clock. */
	struct timespec rt, mo;
	clock_gettime(CLOCK_REALTIME, &rt);
	clock_gettime(CLOCK_MONOTONIC, &mo);
	double offset = ts_seconds(&rt) - ts_seconds(&mo);
	for (int i = 0; i < NC_ENV_DRAIN_MAX; i++) {
		struct sockaddr_storage from;
		union {
			char buf[CMSG_SPACE(sizeof(struct timespec))];
			struct cmsghdr align;
		} control;
		struct iovec iov = {.iov_base = e->udp_buf,
				    .iov_len = sizeof(e->udp_buf)};
		struct msghdr mh = {
			.msg_name = &from,
			.msg_namelen = sizeof(from),
			.msg_iov = &iov,
			.msg_iovlen = 1,
			.msg_control = control.buf,
			.msg_controllen = sizeof(control.buf),
		};
		ssize_t n = recvmsg(e->udp.fd, &mh, MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			/* EAGAIN: drained. ECONNREFUSED etc.: ignore. */
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			continue;
		}
		double rx = -1;
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c != NULL;
		     c = CMSG_NXTHDR(&mh, c)) {
			if (c->cmsg_level == SOL_SOCKET &&
			    c->cmsg_type == SCM_TIMESTAMPNS) {
				struct timespec ts;
				memcpy(&ts, CMSG_DATA(c), sizeof(ts));
				rx = ts_seconds(&ts) - offset;
			}
		}
		double now = mono_now();
		/* A stamp from the future (clock stepped) is not trusted. */
		if (rx < 0 || rx > now) {
			if (rx < 0)
				e->stats.udp_no_timestamp++;
			rx = now;
		}
		e->stats.udp_in++;
		e->stats.udp_bytes_in += (uint64_t)n;
		if (mh.msg_flags & MSG_TRUNC)
			continue;
		struct nc_addr src;
		sockaddr_to_addr(&from, &src);
		if (e->base.sink.on_packet != NULL)
			e->base.sink.on_packet(e->base.sink.ctx, &src,
					       e->udp_buf, (size_t)n, rx);
		if (e->udp.fd < 0)
			return; /* deleted from the callback */
	}
}

/* ------------------------------------------------------------------ */
/* Streams                                                            */
/* ------------------------------------------------------------------ */

static int
buf_reserve(struct nc_buf *b, size_t extra)
{
	if (b->cap - b->len >= extra)
		return 0;
	size_t cap = b->cap ? b->cap : 256;
	while (cap - b->len < extra)
		cap *= 2;
	char *d = realloc(b->data, cap);
	if (d == NULL)
		return -ENOMEM;
	b->data = d;
	b->cap = cap;
	return 0;
}

static void conn_event(struct nc_env_watch *w, unsigned events);
static void conn_deadline(struct nc_timer *t);

static struct nc_conn *
conn_new(struct nc_env_real *e, int fd, enum nc_conn_kind kind,
	 const struct nc_addr *peer, double timeout)
{
	struct nc_conn *c = calloc(1, sizeof(*c));
	if (c == NULL)
		return NULL;
	c->w.fd = -1;
	c->env = e;
	c->kind = kind;
	c->stage = kind == NC_CONN_IN ? NC_CONN_READING : NC_CONN_CONNECTING;
	c->peer = *peer;
	nc_proto_stream_scan_init(&c->scan, 0);
	nc_timer_init(&c->deadline, conn_deadline, c);
	unsigned ev = kind == NC_CONN_IN ? NC_ENV_READ : NC_ENV_WRITE;
	if (nc_env_real_watch_start(&e->base, &c->w, fd, ev, conn_event, c) <
	    0) {
		free(c);
		return NULL;
	}
	op_timer_start(&e->base, &c->deadline, timeout);
	c->next = e->conns;
	if (e->conns != NULL)
		e->conns->prev = c;
	e->conns = c;
	if (kind == NC_CONN_IN)
		e->inbound_count++;
	return c;
}

/** Unlink, close and free a connection. No callback. */
static void
conn_free(struct nc_conn *c)
{
	struct nc_env_real *e = c->env;
	int fd = c->w.fd;
	nc_env_real_watch_stop(&e->base, &c->w);
	if (fd >= 0)
		close(fd);
	op_timer_stop(&e->base, &c->deadline);
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		e->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	if (c->kind == NC_CONN_IN)
		e->inbound_count--;
	free(c->rbuf.data);
	free(c->wbuf.data);
	free(c);
}

/**
 * End an outbound request: free it, then call back (so the callback may
 * start new requests or cancel others freely).
 */
static void
conn_finish_out(struct nc_conn *c, int status)
{
	nc_stream_done_cb cb = c->cb;
	void *arg = c->cb_arg;
	struct nc_env_real *e = c->env;
	if (status < 0)
		e->stats.streams_out_errors++;
	if (status == 0 && c->expect_reply) {
		/* Hand the reply over, then free. */
		char *reply = c->rbuf.data;
		size_t len = c->rbuf.len;
		c->rbuf.data = NULL;
		conn_free(c);
		cb(arg, 0, reply, len);
		free(reply);
		return;
	}
	conn_free(c);
	cb(arg, status, NULL, 0);
}

static void
conn_fail(struct nc_conn *c, int status)
{
	if (c->kind == NC_CONN_OUT) {
		conn_finish_out(c, status);
	} else {
		c->env->stats.streams_in_errors++;
		conn_free(c);
	}
}

static void
conn_deadline(struct nc_timer *t)
{
	struct nc_conn *c = t->arg;
	char a[64];
	nc_addr_format(&c->peer, a, sizeof(a));
	if (c->kind == NC_CONN_IN) {
		c->env->stats.streams_in_timeouts++;
		logf_(c->env, NC_LOG_DEBUG, "stream from %s timed out", a);
		conn_free(c);
	} else {
		logf_(c->env, NC_LOG_DEBUG, "stream to %s timed out", a);
		conn_finish_out(c, -ETIMEDOUT);
	}
}

/** Write what is left of wbuf. Returns 1 when done, 0 if blocked, <0. */
static int
conn_write(struct nc_conn *c)
{
	while (c->woff < c->wbuf.len) {
		ssize_t n = send(c->w.fd, c->wbuf.data + c->woff,
				 c->wbuf.len - c->woff, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			return -errno;
		}
		c->woff += (size_t)n;
	}
	return 1;
}

/** A complete inbound request is in rbuf[0..len): answer it. */
static void
conn_serve(struct nc_conn *c, size_t len)
{
	struct nc_env_real *e = c->env;
	int rc = -1;
	if (e->base.sink.on_stream != NULL)
		rc = e->base.sink.on_stream(e->base.sink.ctx, &c->peer,
					    c->rbuf.data, len, &c->wbuf);
	if (rc < 0 || c->wbuf.len == 0) {
		conn_free(c);
		return;
	}
	c->stage = NC_CONN_WRITING;
	c->woff = 0;
	int w = conn_write(c);
	if (w != 0) {
		/* Done (or failed): memberlist closes after its reply. */
		conn_free(c);
		return;
	}
	nc_env_real_watch_start(&e->base, &c->w, c->w.fd, NC_ENV_WRITE,
				conn_event, c);
}

/**
 * Read what is available into rbuf and check framing.
 * Returns >0 complete length, 0 need more (would block), <0 error;
 * -ECONNRESET for EOF before completion.
 */
static int
conn_read(struct nc_conn *c)
{
	for (;;) {
		if (buf_reserve(&c->rbuf, NC_ENV_STREAM_CHUNK) < 0)
			return -ENOMEM;
		ssize_t n = recv(c->w.fd, c->rbuf.data + c->rbuf.len,
				 c->rbuf.cap - c->rbuf.len, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			return -errno;
		}
		if (n == 0)
			return -ECONNRESET;
		c->rbuf.len += (size_t)n;
		int s = nc_proto_stream_scan(&c->scan, c->rbuf.data,
					     c->rbuf.len);
		if (s != NC_PROTO_NEED_MORE)
			return s > 0 ? s : -EPROTO;
	}
}

static void
conn_event(struct nc_env_watch *w, unsigned events)
{
	struct nc_conn *c = w->arg;
	struct nc_env_real *e = c->env;
	(void)events;
	if (c->stage == NC_CONN_CONNECTING) {
		int err = 0;
		socklen_t el = sizeof(err);
		getsockopt(c->w.fd, SOL_SOCKET, SO_ERROR, &err, &el);
		if (err != 0) {
			conn_fail(c, -err);
			return;
		}
		c->stage = NC_CONN_WRITING;
	}
	if (c->stage == NC_CONN_WRITING) {
		int r = conn_write(c);
		if (r < 0) {
			conn_fail(c, r);
			return;
		}
		if (r == 0)
			return;
		if (c->kind == NC_CONN_IN) {
			conn_free(c);
			return;
		}
		if (!c->expect_reply) {
			conn_finish_out(c, 0);
			return;
		}
		c->stage = NC_CONN_READING;
		nc_env_real_watch_start(&e->base, &c->w, c->w.fd, NC_ENV_READ,
					conn_event, c);
		return;
	}
	int r = conn_read(c);
	if (r == 0)
		return;
	if (r < 0) {
		if (c->kind == NC_CONN_IN && r != -ECONNRESET) {
			char a[64];
			nc_addr_format(&c->peer, a, sizeof(a));
			logf_(e, NC_LOG_WARN,
			      "Failed to read stream from %s: %s", a,
			      r == -EPROTO ? "malformed message"
					   : strerror(-r));
		}
		conn_fail(c, r);
		return;
	}
	if (c->kind == NC_CONN_IN) {
		e->stats.streams_in++;
		conn_serve(c, (size_t)r);
	} else {
		c->rbuf.len = (size_t)r;
		conn_finish_out(c, 0);
	}
}

static void
listener_event(struct nc_env_watch *w, unsigned events)
{
	struct nc_env_real *e = w->arg;
	(void)events;
	for (int i = 0; i < 64; i++) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		int fd = accept4(e->listener.fd, (struct sockaddr *)&ss, &sl,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			return; /* EAGAIN, EMFILE, ... */
		}
		struct nc_addr peer;
		sockaddr_to_addr(&ss, &peer);
		if (e->inbound_count >= e->cfg.max_inbound_streams) {
			e->stats.streams_in_refused++;
			double now = mono_now();
			if (now - e->refuse_logged > 10) {
				char a[64];
				nc_addr_format(&peer, a, sizeof(a));
				logf_(e, NC_LOG_WARN,
				      "Too many pending streams (%d), refusing %s",
				      e->inbound_count, a);
				e->refuse_logged = now;
			}
			close(fd);
			continue;
		}
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (conn_new(e, fd, NC_CONN_IN, &peer, e->cfg.tcp_timeout) ==
		    NULL)
			close(fd);
	}
}

static long
op_stream_request(struct nc_env *env, const struct nc_addr *to,
		  const char *req, size_t req_len, int expect_reply,
		  double timeout, nc_stream_done_cb cb, void *arg)
{
	struct nc_env_real *e = real(env);
	struct sockaddr_storage ss;
	socklen_t sl = addr_to_sockaddr(to, e->family, &ss);
	if (sl == 0)
		return -EAFNOSUPPORT;
	int fd = socket(e->family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
			0);
	if (fd < 0)
		return -errno;
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&ss, sl) < 0 &&
	    errno != EINPROGRESS) {
		int err = -errno;
		close(fd);
		return err;
	}
	struct nc_conn *c = conn_new(e, fd, NC_CONN_OUT, to, timeout);
	if (c == NULL) {
		close(fd);
		return -ENOMEM;
	}
	if (buf_reserve(&c->wbuf, req_len) < 0) {
		conn_free(c);
		return -ENOMEM;
	}
	memcpy(c->wbuf.data, req, req_len);
	c->wbuf.len = req_len;
	c->cb = cb;
	c->cb_arg = arg;
	c->expect_reply = expect_reply;
	if (++e->next_id <= 0)
		e->next_id = 1;
	c->id = e->next_id;
	e->stats.streams_out++;
	return c->id;
}

static void
op_stream_cancel(struct nc_env *env, long id)
{
	struct nc_env_real *e = real(env);
	for (struct nc_conn *c = e->conns; c != NULL; c = c->next) {
		if (c->kind == NC_CONN_OUT && c->id == id) {
			conn_free(c);
			return;
		}
	}
}

static const struct nc_env_ops real_ops = {
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
/* Life cycle and loop                                                */
/* ------------------------------------------------------------------ */

void
nc_env_real_config_default(struct nc_env_real_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->bind.family = 4;
	cfg->bind.port = 7946;
	cfg->seed = 1;
	cfg->log_level = NC_LOG_INFO;
	cfg->tcp_timeout = 10;
	cfg->max_inbound_streams = 127;
	cfg->udp_rcvbuf_bytes = 2 * 1024 * 1024;
	cfg->log_fd = 2;
	cfg->timer_slack_ns = 1000;
}

/** Bind @a fd to @a a; returns 0 or -errno. */
static int
bind_addr(int fd, int family, const struct nc_addr *a)
{
	struct sockaddr_storage ss;
	socklen_t sl = addr_to_sockaddr(a, family, &ss);
	if (sl == 0)
		return -EAFNOSUPPORT;
	return bind(fd, (struct sockaddr *)&ss, sl) < 0 ? -errno : 0;
}

static bool
addr_is_any6(const struct nc_addr *a)
{
	static const uint8_t zero[16];
	return a->family == 6 && memcmp(a->ip, zero, 16) == 0;
}

static void
udp_event(struct nc_env_watch *w, unsigned events)
{
	struct nc_env_real *e = w->arg;
	(void)events;
	nc_env_real_drain_packets(&e->base);
}

/**
 * Open, bind and register the UDP socket and the TCP listener on the same
 * port. On failure nothing stays open and @a err names the step.
 */
static int
open_sockets(struct nc_env_real *e, char *err, size_t err_cap)
{
	const struct nc_addr *b = &e->cfg.bind;
	char as[64];
	const char *what = "udp";
	int one = 1, zero = 0, rc;
	int u = -1, t = -1;
	nc_addr_format(b, as, sizeof(as));
	e->family = b->family == 6 ? AF_INET6 : AF_INET;

	u = socket(e->family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (u < 0)
		goto sys_fail;
	if (addr_is_any6(b))
		setsockopt(u, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	rc = bind_addr(u, e->family, b);
	if (rc < 0) {
		errno = -rc;
		goto sys_fail;
	}
	/* The actual port, when 0 was asked: TCP takes the same. */
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	getsockname(u, (struct sockaddr *)&ss, &sl);
	e->local = *b;
	{
		struct nc_addr got;
		sockaddr_to_addr(&ss, &got);
		e->local.port = got.port;
	}
	/* memberlist: try 2 MiB, halve until the kernel accepts. */
	for (int sz = e->cfg.udp_rcvbuf_bytes; sz >= 65536; sz /= 2)
		if (setsockopt(u, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz)) == 0)
			break;
	if (setsockopt(u, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one)) < 0)
		logf_(e, NC_LOG_WARN,
		      "SO_TIMESTAMPNS unavailable, RTTs use the loop clock");

	what = "tcp";
	t = socket(e->family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (t < 0)
		goto sys_fail;
	setsockopt(t, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (addr_is_any6(b))
		setsockopt(t, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	rc = bind_addr(t, e->family, &e->local);
	if (rc < 0) {
		errno = -rc;
		goto sys_fail;
	}
	if (listen(t, 128) < 0)
		goto sys_fail;

	what = "epoll";
	rc = nc_env_real_watch_start(&e->base, &e->udp, u, NC_ENV_READ,
				     udp_event, e);
	if (rc == 0)
		rc = nc_env_real_watch_start(&e->base, &e->listener, t,
					     NC_ENV_READ, listener_event, e);
	if (rc < 0) {
		errno = -rc;
		goto sys_fail;
	}
	return 0;

sys_fail:
	rc = -errno;
	snprintf(err, err_cap, "bind %s (%s): %s", as, what, strerror(errno));
	nc_env_real_watch_stop(&e->base, &e->udp);
	nc_env_real_watch_stop(&e->base, &e->listener);
	if (u >= 0)
		close(u);
	if (t >= 0)
		close(t);
	return rc;
}

struct nc_env *
nc_env_real_new(const struct nc_env_real_config *cfg, char *err,
		size_t err_cap)
{
	char dummy[8];
	if (err == NULL) {
		err = dummy;
		err_cap = sizeof(dummy);
	}
	if (cfg->bind.family != 4 && cfg->bind.family != 6) {
		snprintf(err, err_cap, "bind: no address");
		return NULL;
	}
	struct nc_env_real *e = calloc(1, sizeof(*e));
	if (e == NULL) {
		snprintf(err, err_cap, "out of memory");
		return NULL;
	}
	e->cfg = *cfg;
	if (cfg->timer_slack_ns > 0)
		(void)prctl(PR_SET_TIMERSLACK,
			    (unsigned long)cfg->timer_slack_ns, 0, 0, 0);
	if (e->cfg.max_inbound_streams <= 0)
		e->cfg.max_inbound_streams = 127;
	if (!(e->cfg.tcp_timeout > 0))
		e->cfg.tcp_timeout = 10;
	e->base.ops = &real_ops;
	e->base.log_level = cfg->log_level;
	e->udp.fd = -1;
	e->listener.fd = -1;
	e->refuse_logged = -1e9;
	uint64_t x = cfg->seed;
	for (int i = 0; i < 4; i++)
		e->rng[i] = splitmix64(&x);
	e->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (e->epfd < 0) {
		snprintf(err, err_cap, "epoll_create1: %s", strerror(errno));
		free(e);
		return NULL;
	}
	/*
	 * Port 0: the kernel picks a free UDP port, which may be taken for
	 * TCP (an outgoing connection's ephemeral port); pick again.
	 */
	int rc = open_sockets(e, err, err_cap);
	for (int i = 0; rc == -EADDRINUSE && cfg->bind.port == 0 && i < 32;
	     i++)
		rc = open_sockets(e, err, err_cap);
	if (rc < 0) {
		close(e->epfd);
		free(e);
		return NULL;
	}
	return &e->base;
}

void
nc_env_real_delete(struct nc_env *env)
{
	if (env == NULL)
		return;
	struct nc_env_real *e = real(env);
	while (e->conns != NULL)
		conn_free(e->conns);
	int u = e->udp.fd, t = e->listener.fd;
	nc_env_real_watch_stop(env, &e->udp);
	nc_env_real_watch_stop(env, &e->listener);
	if (u >= 0)
		close(u);
	if (t >= 0)
		close(t);
	for (size_t i = 0; i < e->heap_len; i++)
		e->heap[i]->heap_idx = -1;
	free(e->heap);
	close(e->epfd);
	free(e);
}

int
nc_env_real_local_addr(struct nc_env *env, struct nc_addr *out)
{
	*out = real(env)->local;
	return 0;
}

void
nc_env_real_stop(struct nc_env *env)
{
	real(env)->stop = true;
}

const struct nc_env_real_stats *
nc_env_real_stats(struct nc_env *env)
{
	return &real(env)->stats;
}

void
nc_env_real_set_log_level(struct nc_env *env, enum nc_log_level level)
{
	real(env)->cfg.log_level = level;
	env->log_level = level;
}

int
nc_env_real_run_once(struct nc_env *env, double max_wait)
{
	struct nc_env_real *e = real(env);
	double wait = timers_wait_s(e);
	if (max_wait >= 0 && (wait < 0 || max_wait < wait))
		wait = max_wait;
	int n = loop_wait(e, wait);
	if (n < 0) {
		if (errno == EINTR)
			n = 0;
		else
			return -errno;
	}
	e->batch_len = n;
	e->stats.loop_iterations++;
	/* Gossip first: every waiting datagram, whether or not reported. */
	if (e->udp.fd >= 0)
		nc_env_real_drain_packets(env);
	timers_fire(e);
	for (int i = 0; i < e->batch_len; i++) {
		struct nc_env_watch *w = e->batch[i].data.ptr;
		if (w == NULL || w == &e->udp || w->cb == NULL)
			continue;
		uint32_t ev = e->batch[i].events;
		unsigned mask = 0;
		if (ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
			mask |= NC_ENV_READ;
		if (ev & EPOLLOUT)
			mask |= NC_ENV_WRITE;
		/* Report hang-ups to writers too, so they notice. */
		if ((ev & (EPOLLHUP | EPOLLERR)) &&
		    (w->events & NC_ENV_WRITE))
			mask |= NC_ENV_WRITE;
		e->batch[i].data.ptr = NULL;
		w->cb(w, mask);
	}
	e->batch_len = 0;
	return 0;
}

int
nc_env_real_run(struct nc_env *env)
{
	struct nc_env_real *e = real(env);
	e->stop = false;
	while (!e->stop) {
		int rc = nc_env_real_run_once(env, -1);
		if (rc < 0)
			return rc;
	}
	return 0;
}
