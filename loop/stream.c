/*
 * loop/stream.c - the real env's TCP streams (PROTOCOL.md §3): one request
 * and at most one reply per connection.
 *
 * Plaintext streams have no length prefix, so inbound and reply bytes go
 * through nc_proto_stream_scan() (gossip/proto.h), which says when one
 * complete message is present. Inbound (accepted by listen.c): read until
 * complete, hand to sink.on_stream, write the reply, close; bounded by
 * cfg.first_byte_timeout until the first byte (an idle connection must
 * not hold a slot) and cfg.tcp_timeout from accept. Outbound (ops->stream_request): nonblocking
 * connect, write, read one complete reply (or EOF), call back exactly
 * once, unless cancelled. A peer that closes after a partial message is an
 * error; one that closes after a complete one is not asked anything more.
 *
 * Lifetime: a connection is freed at once when it ends; its watch is
 * stopped first, which blanks any event of it still pending in the
 * current batch (loop.c), so no stale pointer is followed. Costs: a few
 * hundred bytes per stream while it is open, plus its buffers. The bytes
 * received by all open streams together are bounded by
 * cfg.max_stream_bytes: data beyond it closes the stream holding the most
 * (issue 9 row 7: each may hold up to NC_PROTO_MAX_STREAM).
 */
#include "loop/loop_int.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gossip/proto.h"

/** Read chunk for streams. */
#define NC_ENV_STREAM_CHUNK 16384
/**
 * Chunks read from one stream per loop iteration (256 KiB): the epoll
 * watch is level-triggered, so the rest is read in the next iterations,
 * after the datagrams. Reading (and framing) a 7 MB push/pull in one go
 * held the loop ~0.1 s (issue 9 row 2).
 */
#define NC_ENV_STREAM_CHUNKS_PER_EVENT 16

/** Kind of a stream connection. */
enum conn_kind {
	NC_CONN_IN,  /**< accepted; we read a request and write a reply */
	NC_CONN_OUT, /**< connected by us; we write and read a reply */
};

/** Stage of a connection. */
enum conn_stage {
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
	enum conn_kind kind;
	enum conn_stage stage;
	/** Peer address. */
	struct nc_addr peer;
	/** Deadline of the whole exchange (inbound: of the first byte
	 * first, while idle). */
	struct nc_timer deadline;
	/** Env time of accept/connect; inbound: no byte received yet. */
	double started;
	bool idle;
	/** Bytes received, counted in env->stream_bytes until freed. */
	size_t held;
	/** Bytes received so far (capped: see conn_new). */
	struct nc_dbuf rbuf;
	/** Framing state over rbuf. */
	struct nc_proto_stream_scan scan;
	/**
	 * Bytes to send (request or reply) and how many went out. A struct
	 * nc_buf, not an nc_dbuf: it is the reply buffer of the env seam
	 * (sink.on_stream in gossip/env.h), which every env and sink shares.
	 */
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

static void conn_event(struct nc_env_watch *w, unsigned events);
static void conn_deadline(struct nc_timer *t);

static struct nc_conn *
conn_new(struct nc_env_real *e, int fd, enum conn_kind kind,
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
	/* The scanner refuses a message of NC_PROTO_MAX_STREAM bytes or more
	 * first; the cap only bounds the buffer if it ever did not. */
	nc_dbuf_init(&c->rbuf, NC_PROTO_MAX_STREAM + NC_ENV_STREAM_CHUNK);
	nc_timer_init(&c->deadline, conn_deadline, c);
	c->started = nc__loop_mono_now();
	if (kind == NC_CONN_IN && e->cfg.first_byte_timeout > 0 &&
	    e->cfg.first_byte_timeout < timeout) {
		c->idle = true;
		timeout = e->cfg.first_byte_timeout;
	}
	unsigned ev = kind == NC_CONN_IN ? NC_ENV_READ : NC_ENV_WRITE;
	if (nc_env_real_watch_start(&e->base, &c->w, fd, ev, conn_event, c) <
	    0) {
		free(c);
		return NULL;
	}
	nc__loop_op_timer_start(&e->base, &c->deadline, timeout);
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
	nc__loop_op_timer_stop(&e->base, &c->deadline);
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		e->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	if (c->kind == NC_CONN_IN)
		e->inbound_count--;
	e->stream_bytes -= c->held;
	nc_dbuf_free(&c->rbuf);
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
		size_t len = c->rbuf.len;
		char *reply = nc_dbuf_take(&c->rbuf);
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
		if (c->idle)
			c->env->stats.streams_in_idle++;
		nc__loop_logf(c->env, NC_LOG_DEBUG, "stream from %s timed out%s",
			      a, c->idle ? " (nothing sent)" : "");
		conn_free(c);
	} else {
		nc__loop_logf(c->env, NC_LOG_DEBUG, "stream to %s timed out",
			      a);
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
 * @a n more bytes arrived on @a c: end its idle deadline, count them in
 * the env's total and, beyond cfg.max_stream_bytes, close the streams
 * holding the most until under it. Returns 0, or -ENOBUFS if @a c itself
 * holds the most (the caller fails it).
 */
static int
conn_account(struct nc_conn *c, size_t n)
{
	struct nc_env_real *e = c->env;
	if (c->idle) {
		/* First byte: the deadline from accept applies again. */
		c->idle = false;
		double left = e->cfg.tcp_timeout -
			      (nc__loop_mono_now() - c->started);
		nc__loop_op_timer_start(&e->base, &c->deadline,
					left > 0 ? left : 0);
	}
	c->held += n;
	e->stream_bytes += n;
	while (e->stream_bytes > e->cfg.max_stream_bytes) {
		struct nc_conn *big = c;
		for (struct nc_conn *o = e->conns; o != NULL; o = o->next)
			if (o->held > big->held)
				big = o;
		char a[64];
		nc_addr_format(&big->peer, a, sizeof(a));
		e->stats.streams_over_budget++;
		nc__loop_logf(e, NC_LOG_WARN,
			      "Open streams hold %zu bytes (max %zu): closing "
			      "the stream %s %s (%zu bytes)", e->stream_bytes,
			      e->cfg.max_stream_bytes,
			      big->kind == NC_CONN_IN ? "from" : "to", a,
			      big->held);
		if (big == c)
			return -ENOBUFS;
		conn_fail(big, -ENOBUFS);
	}
	return 0;
}

/**
 * Read what is available into rbuf and check framing.
 * Returns >0 complete length, 0 need more (would block, or this
 * iteration's NC_ENV_STREAM_CHUNKS_PER_EVENT are read), <0 error;
 * -ECONNRESET for EOF before completion.
 */
static int
conn_read(struct nc_conn *c)
{
	for (int i = 0; i < NC_ENV_STREAM_CHUNKS_PER_EVENT; i++) {
		int rc = nc_dbuf_reserve(&c->rbuf, NC_ENV_STREAM_CHUNK);
		if (rc < 0)
			return rc == -E2BIG ? -EPROTO : rc;
		/* Receive into the free space, keeping nc_dbuf's NUL byte. */
		ssize_t n = recv(c->w.fd, c->rbuf.data + c->rbuf.len,
				 c->rbuf.cap - c->rbuf.len - 1, 0);
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
		c->rbuf.data[c->rbuf.len] = '\0';
		rc = conn_account(c, (size_t)n);
		if (rc < 0)
			return rc;
		int s = nc_proto_stream_scan(&c->scan, c->rbuf.data,
					     c->rbuf.len);
		if (s != NC_PROTO_NEED_MORE)
			return s > 0 ? s : -EPROTO;
	}
	return 0; /* more next iteration */
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
			if (r != -ENOBUFS)
				nc__loop_logf(e, NC_LOG_WARN,
					      "Failed to read stream from %s: "
					      "%s", a,
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
		c->rbuf.data[r] = '\0';
		conn_finish_out(c, 0);
	}
}

int
nc__loop_streams_from(const struct nc_env_real *e,
		      const struct nc_addr *peer)
{
	int n = 0;
	for (const struct nc_conn *c = e->conns; c != NULL; c = c->next)
		if (c->kind == NC_CONN_IN && c->peer.family == peer->family &&
		    memcmp(c->peer.ip, peer->ip, nc_addr_ip_len(peer)) == 0)
			n++;
	return n;
}

int
nc__loop_stream_accept(struct nc_env_real *e, int fd,
		       const struct nc_addr *peer)
{
	if (conn_new(e, fd, NC_CONN_IN, peer, e->cfg.tcp_timeout) == NULL)
		return -ENOMEM;
	return 0;
}

void
nc__loop_streams_close(struct nc_env_real *e)
{
	while (e->conns != NULL)
		conn_free(e->conns);
}

long
nc__loop_op_stream_request(struct nc_env *env, const struct nc_addr *to,
			   const char *req, size_t req_len, int expect_reply,
			   double timeout, nc_stream_done_cb cb, void *arg)
{
	struct nc_env_real *e = nc__loop_real(env);
	struct sockaddr_storage ss;
	socklen_t sl = nc__loop_addr_to_sockaddr(to, e->family, &ss);
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
	c->wbuf.data = malloc(req_len > 0 ? req_len : 1);
	if (c->wbuf.data == NULL) {
		conn_free(c);
		return -ENOMEM;
	}
	memcpy(c->wbuf.data, req, req_len);
	c->wbuf.len = c->wbuf.cap = req_len;
	c->cb = cb;
	c->cb_arg = arg;
	c->expect_reply = expect_reply;
	if (++e->next_id <= 0)
		e->next_id = 1;
	c->id = e->next_id;
	e->stats.streams_out++;
	return c->id;
}

void
nc__loop_op_stream_cancel(struct nc_env *env, long id)
{
	struct nc_env_real *e = nc__loop_real(env);
	for (struct nc_conn *c = e->conns; c != NULL; c = c->next) {
		if (c->kind == NC_CONN_OUT && c->id == id) {
			conn_free(c);
			return;
		}
	}
}
