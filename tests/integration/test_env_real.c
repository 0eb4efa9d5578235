/*
 * tests/integration/test_env_real.c - the real env (loop/, nc_loop) on
 * loopback sockets: timers, datagrams with receive timestamps, stream
 * request/reply with the codec's framing, timeouts, refusals, the inbound
 * caps (total and per source address), the first-byte timeout, the bound
 * on bytes held by open streams, cancellation and extra watches.
 *
 * Each test builds one or two envs bound to 127.0.0.1 port 0 and drives
 * them with nc_env_real_run_once() in loops bounded by a deadline, so a
 * bug shows up as a failed assertion, never as a hang.
 */
#include <CUnit/Basic.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "loop/loop.h"
#include "gossip/proto.h"

static struct nc_env *
env_make(int max_in)
{
	struct nc_env_real_config c;
	nc_env_real_config_default(&c);
	c.bind.family = 4;
	c.bind.ip[0] = 127;
	c.bind.ip[3] = 1;
	c.bind.port = 0;
	c.seed = 42;
	c.tcp_timeout = 1.0;
	c.log_level = NC_LOG_ERR;
	if (max_in > 0)
		c.max_inbound_streams = max_in;
	char err[128];
	struct nc_env *e = nc_env_real_new(&c, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(e);
	return e;
}

/** Run both envs until *flag becomes true or @a secs pass. */
static void
run_until(struct nc_env *a, struct nc_env *b, const int *flag, double secs)
{
	double end = nc_env_now(a) + secs;
	while (!*flag && nc_env_now(a) < end) {
		nc_env_real_run_once(a, 0.01);
		if (b != NULL)
			nc_env_real_run_once(b, 0.0);
	}
}

/* ---------------------------------------------------------------- */

static int fired[8];
static int fire_order[8];
static int fire_n;

static void
timer_cb(struct nc_timer *t)
{
	int i = (int)(long)t->arg;
	fired[i]++;
	fire_order[fire_n++] = i;
}

static void
test_timers(void)
{
	struct nc_env *e = env_make(0);
	struct nc_timer t[5];
	memset(fired, 0, sizeof(fired));
	fire_n = 0;
	for (long i = 0; i < 5; i++)
		nc_timer_init(&t[i], timer_cb, (void *)i);
	e->ops->timer_start(e, &t[0], 0.03);
	e->ops->timer_start(e, &t[1], 0.01);
	e->ops->timer_start(e, &t[2], 0.02);
	e->ops->timer_start(e, &t[3], 0.02);
	e->ops->timer_start(e, &t[4], 0.01);
	e->ops->timer_stop(e, &t[4]);
	CU_ASSERT_FALSE(nc_timer_active(&t[4]));
	CU_ASSERT_TRUE(nc_timer_active(&t[0]));
	double start = nc_env_now(e);
	while (fire_n < 4 && nc_env_now(e) - start < 2)
		nc_env_real_run_once(e, -1);
	CU_ASSERT_EQUAL(fire_n, 4);
	CU_ASSERT_EQUAL(fire_order[0], 1);
	CU_ASSERT_EQUAL(fire_order[1], 2); /* FIFO at equal deadlines */
	CU_ASSERT_EQUAL(fire_order[2], 3);
	CU_ASSERT_EQUAL(fire_order[3], 0);
	CU_ASSERT_EQUAL(fired[4], 0);
	CU_ASSERT(nc_env_now(e) - start >= 0.03);
	CU_ASSERT_FALSE(nc_timer_active(&t[0]));
	nc_env_real_delete(e);
}

static void
test_rand_seeded(void)
{
	struct nc_env *a = env_make(0), *b = env_make(0);
	for (int i = 0; i < 10; i++)
		CU_ASSERT_EQUAL(a->ops->rand(a), b->ops->rand(b));
	double d = nc_env_rand_double(a);
	CU_ASSERT(d >= 0 && d < 1);
	nc_env_real_delete(a);
	nc_env_real_delete(b);
}

/* ---------------------------------------------------------------- */

struct rx {
	int n;
	char buf[64];
	size_t len;
	double rx_time;
	struct nc_addr from;
};

static void
on_packet(void *ctx, const struct nc_addr *from, const char *buf, size_t len,
	  double rx_time)
{
	struct rx *r = ctx;
	r->n++;
	r->len = len < sizeof(r->buf) ? len : sizeof(r->buf);
	memcpy(r->buf, buf, r->len);
	r->rx_time = rx_time;
	r->from = *from;
}

static void
test_udp_timestamp(void)
{
	struct nc_env *a = env_make(0), *b = env_make(0);
	struct rx r = {0};
	struct nc_env_sink s = {.ctx = &r, .on_packet = on_packet};
	nc_env_set_sink(b, &s);
	struct nc_addr ba, aa;
	nc_env_real_local_addr(b, &ba);
	nc_env_real_local_addr(a, &aa);
	CU_ASSERT_NOT_EQUAL(ba.port, 0);
	double t0 = nc_env_now(a);
	CU_ASSERT_EQUAL(a->ops->send_packet(a, &ba, "hello", 5), 0);
	/* Let the packet sit in the socket: the stamp must not move. */
	usleep(20000);
	double t1 = nc_env_now(a);
	run_until(b, NULL, &r.n, 1.0);
	CU_ASSERT_EQUAL(r.n, 1);
	CU_ASSERT_EQUAL(r.len, 5);
	CU_ASSERT_NSTRING_EQUAL(r.buf, "hello", 5);
	CU_ASSERT_TRUE(nc_addr_equal(&r.from, &aa));
	/* Stamped at arrival (before the 20 ms sleep ended), after sending. */
	CU_ASSERT(r.rx_time >= t0 - 0.001);
	CU_ASSERT(r.rx_time < t1);
	CU_ASSERT_EQUAL(nc_env_real_stats(b)->udp_no_timestamp, 0);
	nc_env_real_delete(a);
	nc_env_real_delete(b);
}

/* ---------------------------------------------------------------- */

/** A ping stream message: 00 | ping. */
static int
make_ping(char *buf, size_t cap, uint32_t seq)
{
	struct nc_proto_ping p = {.seq_no = seq,
				  .node = nc_proto_cstr("b")};
	return nc_proto_encode_ping(buf, cap, &p);
}

struct srv {
	int requests;
	uint32_t seq;
	int reply; /* 1 = answer with an ack, 0 = no reply */
};

static int
on_stream(void *ctx, const struct nc_addr *from, const char *req,
	  size_t len, struct nc_buf *reply)
{
	struct srv *s = ctx;
	(void)from;
	s->requests++;
	const char *p = req + 1;
	struct nc_proto_ping ping;
	CU_ASSERT_EQUAL(req[0], NC_PROTO_PING);
	CU_ASSERT_EQUAL(nc_proto_decode_ping(&p, req + len, &ping), 0);
	s->seq = ping.seq_no;
	if (!s->reply)
		return 0;
	char out[64];
	struct nc_proto_ack ack = {.seq_no = ping.seq_no};
	int n = nc_proto_encode_ack(out, sizeof(out), &ack);
	reply->data = malloc((size_t)n);
	memcpy(reply->data, out, (size_t)n);
	reply->len = reply->cap = (size_t)n;
	return 0;
}

struct cli {
	int done;
	int status;
	uint32_t seq;
	size_t len;
};

static void
on_done(void *arg, int status, const char *reply, size_t len)
{
	struct cli *c = arg;
	c->done++;
	c->status = status;
	c->len = len;
	if (status == 0 && reply != NULL && len > 0 &&
	    reply[0] == NC_PROTO_ACK) {
		const char *p = reply + 1;
		struct nc_proto_ack ack;
		if (nc_proto_decode_ack(&p, reply + len, &ack) == 0)
			c->seq = ack.seq_no;
	}
}

static void
test_stream_request_reply(void)
{
	struct nc_env *a = env_make(0), *b = env_make(0);
	struct srv s = {.reply = 1};
	struct nc_env_sink sink = {.ctx = &s, .on_stream = on_stream};
	nc_env_set_sink(b, &sink);
	struct nc_addr ba;
	nc_env_real_local_addr(b, &ba);
	char req[64];
	int n = make_ping(req, sizeof(req), 77);
	struct cli c = {0};
	long id = a->ops->stream_request(a, &ba, req, (size_t)n, 1, 2.0,
					 on_done, &c);
	CU_ASSERT(id > 0);
	run_until(a, b, &c.done, 2.0);
	CU_ASSERT_EQUAL(c.done, 1);
	CU_ASSERT_EQUAL(c.status, 0);
	CU_ASSERT_EQUAL(c.seq, 77);
	CU_ASSERT_EQUAL(s.requests, 1);
	CU_ASSERT_EQUAL(s.seq, 77);

	/* No reply expected: the callback comes after the write. */
	struct cli c2 = {0};
	s.reply = 0;
	n = make_ping(req, sizeof(req), 78);
	id = a->ops->stream_request(a, &ba, req, (size_t)n, 0, 2.0, on_done,
				    &c2);
	CU_ASSERT(id > 0);
	run_until(a, b, &c2.done, 2.0);
	CU_ASSERT_EQUAL(c2.done, 1);
	CU_ASSERT_EQUAL(c2.status, 0);
	int before = s.requests;
	double end = nc_env_now(a) + 0.3;
	while (nc_env_now(a) < end)
		nc_env_real_run_once(b, 0.01);
	CU_ASSERT_EQUAL(s.requests, before + 1);

	/* Reply expected but none comes (peer closes): an error. */
	struct cli c3 = {0};
	id = a->ops->stream_request(a, &ba, req, (size_t)n, 1, 2.0, on_done,
				    &c3);
	run_until(a, b, &c3.done, 2.0);
	CU_ASSERT_EQUAL(c3.done, 1);
	CU_ASSERT(c3.status < 0);
	nc_env_real_delete(a);
	nc_env_real_delete(b);
}

/** A plaintext request split over several writes is reassembled. */
static void
test_stream_partial_writes(void)
{
	struct nc_env *b = env_make(0);
	struct srv s = {.reply = 1};
	struct nc_env_sink sink = {.ctx = &s, .on_stream = on_stream};
	nc_env_set_sink(b, &sink);
	struct nc_addr ba;
	nc_env_real_local_addr(b, &ba);
	char req[64];
	int n = make_ping(req, sizeof(req), 99);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sin = {.sin_family = AF_INET,
				  .sin_port = htons(ba.port)};
	sin.sin_addr.s_addr = htonl(0x7f000001);
	CU_ASSERT_EQUAL_FATAL(
		connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	for (int i = 0; i < n; i++) {
		CU_ASSERT_EQUAL(write(fd, req + i, 1), 1);
		nc_env_real_run_once(b, 0.005);
	}
	run_until(b, NULL, &s.requests, 1.0);
	CU_ASSERT_EQUAL(s.requests, 1);
	CU_ASSERT_EQUAL(s.seq, 99);
	/* The reply is there, then EOF. */
	char buf[64];
	ssize_t got = 0, r;
	while ((r = read(fd, buf + got, sizeof(buf) - (size_t)got)) > 0)
		got += r;
	CU_ASSERT(got > 0);
	CU_ASSERT_EQUAL(buf[0], NC_PROTO_ACK);
	close(fd);
	nc_env_real_delete(b);
}

static void
test_stream_refused_timeout_cancel(void)
{
	struct nc_env *a = env_make(0);
	char req[64];
	int n = make_ping(req, sizeof(req), 1);

	/* Refused: a free port with nothing listening. */
	struct nc_env *tmp = env_make(0);
	struct nc_addr dead;
	nc_env_real_local_addr(tmp, &dead);
	nc_env_real_delete(tmp);
	struct cli c = {0};
	long id = a->ops->stream_request(a, &dead, req, (size_t)n, 1, 2.0,
					 on_done, &c);
	if (id > 0) {
		run_until(a, NULL, &c.done, 2.0);
		CU_ASSERT_EQUAL(c.done, 1);
		CU_ASSERT(c.status < 0);
	} else {
		CU_ASSERT(id < 0);
	}

	/* Timeout: a listener that never answers. */
	int l = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sin = {.sin_family = AF_INET};
	sin.sin_addr.s_addr = htonl(0x7f000001);
	CU_ASSERT_EQUAL(bind(l, (struct sockaddr *)&sin, sizeof(sin)), 0);
	CU_ASSERT_EQUAL(listen(l, 4), 0);
	socklen_t sl = sizeof(sin);
	getsockname(l, (struct sockaddr *)&sin, &sl);
	struct nc_addr silent = {.family = 4, .ip = {127, 0, 0, 1},
				 .port = ntohs(sin.sin_port)};
	struct cli c2 = {0};
	double t0 = nc_env_now(a);
	id = a->ops->stream_request(a, &silent, req, (size_t)n, 1, 0.2,
				    on_done, &c2);
	CU_ASSERT(id > 0);
	run_until(a, NULL, &c2.done, 2.0);
	CU_ASSERT_EQUAL(c2.done, 1);
	CU_ASSERT_EQUAL(c2.status, -ETIMEDOUT);
	CU_ASSERT(nc_env_now(a) - t0 >= 0.19);

	/* Cancel: no callback ever. */
	struct cli c3 = {0};
	id = a->ops->stream_request(a, &silent, req, (size_t)n, 1, 0.1,
				    on_done, &c3);
	CU_ASSERT(id > 0);
	a->ops->stream_cancel(a, id);
	int never = 0;
	run_until(a, NULL, &never, 0.3);
	CU_ASSERT_EQUAL(c3.done, 0);
	close(l);
	nc_env_real_delete(a);
}

/** The (max+1)-th concurrent inbound stream is closed at once. */
static void
test_inbound_cap_and_deadline(void)
{
	struct nc_env *b = env_make(2);
	struct nc_addr ba;
	nc_env_real_local_addr(b, &ba);
	struct sockaddr_in sin = {.sin_family = AF_INET,
				  .sin_port = htons(ba.port)};
	sin.sin_addr.s_addr = htonl(0x7f000001);
	int fds[3];
	for (int i = 0; i < 3; i++) {
		fds[i] = socket(AF_INET, SOCK_STREAM, 0);
		CU_ASSERT_EQUAL(connect(fds[i], (struct sockaddr *)&sin,
					sizeof(sin)),
				0);
		nc_env_real_run_once(b, 0.02);
	}
	CU_ASSERT_EQUAL(nc_env_real_stats(b)->streams_in_refused, 1);
	char c;
	CU_ASSERT_EQUAL(read(fds[2], &c, 1), 0); /* closed */
	/* The two others hit the 1 s deadline. */
	int never = 0;
	run_until(b, NULL, &never, 1.3);
	CU_ASSERT_EQUAL(nc_env_real_stats(b)->streams_in_timeouts, 2);
	CU_ASSERT_EQUAL(read(fds[0], &c, 1), 0);
	for (int i = 0; i < 3; i++)
		close(fds[i]);
	nc_env_real_delete(b);
}

/* Hostile streams (issue 9 row 7) ---------------------------------- */

/** An env with the default limits (tcp_timeout 10 s), on 127.0.0.1:0. */
static struct nc_env *
env_make_default(void)
{
	struct nc_env_real_config c;
	nc_env_real_config_default(&c);
	nc_addr_parse("127.0.0.1:0", 0, &c.bind);
	c.bind.port = 0;
	c.log_level = NC_LOG_ERR;
	char err[128];
	struct nc_env *e = nc_env_real_new(&c, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(e);
	return e;
}

/**
 * A nonblocking TCP socket bound to 127.0.0.@a src (the whole 127/8 is
 * loopback on Linux: one test process can be several sources),
 * connecting to @a to.
 */
static int
connect_from(int src, const struct nc_addr *to)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	struct sockaddr_in me = {.sin_family = AF_INET};
	struct sockaddr_in sin = {.sin_family = AF_INET,
				  .sin_port = htons(to->port)};
	me.sin_addr.s_addr = htonl(0x7f000000u | (unsigned)src);
	sin.sin_addr.s_addr = htonl(0x7f000001);
	CU_ASSERT_EQUAL_FATAL(bind(fd, (struct sockaddr *)&me, sizeof(me)),
			      0);
	int rc = connect(fd, (struct sockaddr *)&sin, sizeof(sin));
	CU_ASSERT(rc == 0 || errno == EINPROGRESS);
	return fd;
}

/** 1 if the server closed @a fd (EOF or reset), 0 if it is still open. */
static int
closed_by_peer(int fd)
{
	char c;
	ssize_t r = recv(fd, &c, 1, MSG_DONTWAIT);
	return r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
}

static void
test_idle_streams_do_not_starve(void)
{
	/* 127 idle connections from one address used to take every slot:
	 * a push/pull (here a ping stream) from elsewhere was reset
	 * ("Too many pending streams"). Defaults only. */
	struct nc_env *b = env_make_default();
	struct srv s = {.reply = 1};
	struct nc_env_sink sink = {.ctx = &s, .on_stream = on_stream};
	nc_env_set_sink(b, &sink);
	struct nc_addr ba;
	nc_env_real_local_addr(b, &ba);
	int idle[127];
	for (int i = 0; i < 127; i++) {
		idle[i] = connect_from(1, &ba);
		nc_env_real_run_once(b, 0.0);
	}
	for (int i = 0; i < 20; i++)
		nc_env_real_run_once(b, 0.005);

	/* A ping stream from 127.0.0.2 is served. */
	char req[64], buf[64];
	int n = make_ping(req, sizeof(req), 4242);
	int fd = connect_from(2, &ba);
	for (int i = 0; i < 20; i++)
		nc_env_real_run_once(b, 0.005);
	CU_ASSERT_EQUAL(send(fd, req, (size_t)n, MSG_NOSIGNAL), n);
	run_until(b, NULL, &s.requests, 1.0);
	CU_ASSERT_EQUAL(s.requests, 1);
	CU_ASSERT_EQUAL(s.seq, 4242);
	ssize_t got = 0;
	double end = nc_env_now(b) + 1.0;
	while (got <= 0 && nc_env_now(b) < end) {
		nc_env_real_run_once(b, 0.005);
		got = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
	}
	CU_ASSERT(got > 0 && buf[0] == NC_PROTO_ACK);
	close(fd);

	/* An idle connection from 127.0.0.3 is closed after the first-byte
	 * timeout (2 s), long before tcp_timeout (10 s); so are the idle
	 * ones from 127.0.0.1. */
	fd = connect_from(3, &ba);
	int never = 0;
	run_until(b, NULL, &never, 0.5);
	CU_ASSERT_EQUAL(closed_by_peer(fd), 0);
	run_until(b, NULL, &never, 2.0);
	CU_ASSERT_EQUAL(closed_by_peer(fd), 1);
	int still_open = 0;
	for (int i = 0; i < 127; i++) {
		still_open += !closed_by_peer(idle[i]);
		close(idle[i]);
	}
	CU_ASSERT_EQUAL(still_open, 0);
	close(fd);
	nc_env_real_delete(b);
}

static void
test_stream_bytes_bound(void)
{
	/* Each stream may buffer up to 20 MiB (the message cap): four
	 * incomplete 19 MB user messages (76 MB) exceed the 64 MiB bound on
	 * what open streams hold together, and the largest is closed. */
	struct nc_env *b = env_make_default();
	struct nc_addr ba;
	nc_env_real_local_addr(b, &ba);
	static char chunk[256 * 1024];
	/* 08 | {UserMsgLen: 19,000,000}, then filler, never complete */
	static const char hdr[] = "\x08\x81\xaaUserMsgLen\xce\x01\x21\xea\xc0";
	int fd[4];
	size_t sent[4] = {0};
	int closed[4] = {0};
	const size_t target = 17u * 1000 * 1000;
	memset(chunk, 'x', sizeof(chunk));
	for (int i = 0; i < 4; i++) {
		fd[i] = connect_from(4, &ba);
		nc_env_real_run_once(b, 0.005);
	}
	for (int i = 0; i < 4; i++) {
		nc_env_real_run_once(b, 0.005);
		CU_ASSERT_EQUAL(send(fd[i], hdr, sizeof(hdr) - 1,
				     MSG_NOSIGNAL),
				(ssize_t)(sizeof(hdr) - 1));
	}
	double end = nc_env_now(b) + 8.0;
	for (;;) {
		int busy = 0;
		for (int i = 0; i < 4; i++) {
			if (closed[i] || sent[i] >= target)
				continue;
			busy = 1;
			ssize_t w = send(fd[i], chunk, sizeof(chunk),
					 MSG_NOSIGNAL | MSG_DONTWAIT);
			if (w > 0)
				sent[i] += (size_t)w;
			else if (w < 0 && errno != EAGAIN &&
				 errno != EWOULDBLOCK)
				closed[i] = 1;
		}
		nc_env_real_run_once(b, 0.0);
		if (!busy || nc_env_now(b) > end)
			break;
	}
	for (int i = 0; i < 50; i++)
		nc_env_real_run_once(b, 0.002);
	int n_closed = 0;
	for (int i = 0; i < 4; i++) {
		n_closed += closed[i] || closed_by_peer(fd[i]);
		close(fd[i]);
	}
	CU_ASSERT(n_closed >= 1);
	CU_ASSERT(n_closed < 4);
	nc_env_real_delete(b);
}

/* ---------------------------------------------------------------- */

struct watch_ctx {
	struct nc_env *env;
	int n;
};

static void
watch_cb(struct nc_env_watch *w, unsigned events)
{
	struct watch_ctx *x = w->arg;
	char buf[16];
	CU_ASSERT(events & NC_ENV_READ);
	if (read(w->fd, buf, sizeof(buf)) > 0)
		x->n++;
	nc_env_real_watch_stop(x->env, w);
}

static void
test_watch(void)
{
	struct nc_env *e = env_make(0);
	int p[2];
	CU_ASSERT_EQUAL_FATAL(pipe(p), 0);
	struct nc_env_watch w;
	memset(&w, 0, sizeof(w));
	struct watch_ctx x = {.env = e};
	CU_ASSERT_EQUAL(nc_env_real_watch_start(e, &w, p[0], NC_ENV_READ,
						watch_cb, &x),
			0);
	CU_ASSERT_EQUAL(write(p[1], "x", 1), 1);
	run_until(e, NULL, &x.n, 1.0);
	CU_ASSERT_EQUAL(x.n, 1);
	CU_ASSERT_EQUAL(w.fd, -1);
	/* Stopped: further data is not delivered. */
	CU_ASSERT_EQUAL(write(p[1], "y", 1), 1);
	int never = 0;
	run_until(e, NULL, &never, 0.05);
	CU_ASSERT_EQUAL(x.n, 1);
	close(p[0]);
	close(p[1]);
	nc_env_real_delete(e);
}

static void
test_bind_error(void)
{
	struct nc_env *a = env_make(0);
	struct nc_env_real_config c;
	nc_env_real_config_default(&c);
	nc_env_real_local_addr(a, &c.bind);
	char err[128] = "";
	CU_ASSERT_PTR_NULL(nc_env_real_new(&c, err, sizeof(err)));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "Address already in use"));
	nc_env_real_delete(a);
}

int
main(void)
{
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	CU_pSuite s = CU_add_suite("env_real", NULL, NULL);
	CU_add_test(s, "timers", test_timers);
	CU_add_test(s, "rand_seeded", test_rand_seeded);
	CU_add_test(s, "udp_timestamp", test_udp_timestamp);
	CU_add_test(s, "stream_request_reply", test_stream_request_reply);
	CU_add_test(s, "stream_partial_writes", test_stream_partial_writes);
	CU_add_test(s, "stream_refused_timeout_cancel",
		    test_stream_refused_timeout_cancel);
	CU_add_test(s, "inbound_cap_and_deadline",
		    test_inbound_cap_and_deadline);
	CU_add_test(s, "idle_streams_do_not_starve",
		    test_idle_streams_do_not_starve);
	CU_add_test(s, "stream_bytes_bound", test_stream_bytes_bound);
	CU_add_test(s, "watch", test_watch);
	CU_add_test(s, "bind_error", test_bind_error);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	unsigned fails = CU_get_number_of_failures();
	CU_cleanup_registry();
	return fails == 0 ? 0 : 1;
}
