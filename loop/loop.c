/*
 * loop/loop.c - the real environment's event loop: one epoll loop on
 * CLOCK_MONOTONIC that implements gossip/env.h for a real process (the
 * simulator, sim/, implements the same seam in memory). This file
 * holds the env object (nc_env_real_new/delete and the ops table), the
 * wait, one iteration, run/stop and the fd watch API; the rest of nc_loop
 * is split by reason to change (list in loop/loop_int.h): timers, clock and
 * logger, PRNG, addresses, UDP, listener, streams.
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
 * Descriptor lifetime. epoll_wait returns a batch; a callback can close a
 * descriptor whose event is later in the same batch. Every removal goes
 * through nc_env_real_watch_stop(), which also blanks that watch's pending
 * events in the current batch, so no stale pointer is ever followed.
 * Connection structs (stream.c) are freed at once after that.
 *
 * Wait precision. The loop waits with epoll_pwait2 (nanosecond timeout;
 * glibc 2.35, Linux 5.11), so a timer fires within the thread's timer
 * slack (set to 1 us by default, cfg.timer_slack_ns) plus the wake-up
 * latency of its deadline: latency.c's emulated delays stay sub-ms
 * accurate. Where epoll_pwait2 is missing (older glibc at build time, or
 * ENOSYS at run time) the wait is epoll_wait's whole milliseconds, rounded
 * up, which makes timers up to ~1 ms late.
 *
 * Costs: the env struct holds the 64 KiB receive buffer (udp.c); streams
 * and timers cost what stream.c and timer.c say. Nothing is allocated per
 * datagram.
 */
#include "loop/loop.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "loop/loop_int.h"

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
	struct nc_env_real *e = nc__loop_real(env);
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
	struct nc_env_real *e = nc__loop_real(env);
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

static const struct nc_env_ops real_ops = {
	.now = nc__loop_op_now,
	.timer_start = nc__loop_op_timer_start,
	.timer_stop = nc__loop_op_timer_stop,
	.rand = nc__loop_op_rand,
	.send_packet = nc__loop_op_send_packet,
	.stream_request = nc__loop_op_stream_request,
	.stream_cancel = nc__loop_op_stream_cancel,
	.log = nc__loop_op_log,
};

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
	cfg->max_streams_per_addr = 8;
	cfg->first_byte_timeout = 2;
	cfg->max_stream_bytes = (size_t)64 * 1024 * 1024;
	cfg->udp_rcvbuf_bytes = 2 * 1024 * 1024;
	cfg->log_fd = 2;
	cfg->timer_slack_ns = 1000;
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
	int rc;
	int u = -1, t = -1;
	nc_addr_format(b, as, sizeof(as));
	e->family = b->family == 6 ? AF_INET6 : AF_INET;

	rc = u = nc__loop_udp_open(e);
	if (rc < 0)
		goto fail;
	what = "tcp";
	rc = t = nc__loop_listen_open(e);
	if (rc < 0)
		goto fail;

	what = "epoll";
	rc = nc_env_real_watch_start(&e->base, &e->udp, u, NC_ENV_READ,
				     nc__loop_udp_event, e);
	if (rc == 0)
		rc = nc_env_real_watch_start(&e->base, &e->listener, t,
					     NC_ENV_READ,
					     nc__loop_listener_event, e);
	if (rc < 0)
		goto fail;
	return 0;

fail:
	snprintf(err, err_cap, "bind %s (%s): %s", as, what, strerror(-rc));
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
	nc__loop_rand_seed(e, cfg->seed);
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
	struct nc_env_real *e = nc__loop_real(env);
	nc__loop_streams_close(e);
	int u = e->udp.fd, t = e->listener.fd;
	nc_env_real_watch_stop(env, &e->udp);
	nc_env_real_watch_stop(env, &e->listener);
	if (u >= 0)
		close(u);
	if (t >= 0)
		close(t);
	nc__loop_timers_clear(e);
	close(e->epfd);
	free(e);
}

int
nc_env_real_local_addr(struct nc_env *env, struct nc_addr *out)
{
	*out = nc__loop_real(env)->local;
	return 0;
}

void
nc_env_real_stop(struct nc_env *env)
{
	nc__loop_real(env)->stop = true;
}

const struct nc_env_real_stats *
nc_env_real_stats(struct nc_env *env)
{
	return &nc__loop_real(env)->stats;
}

void
nc_env_real_set_log_level(struct nc_env *env, enum nc_log_level level)
{
	nc__loop_real(env)->cfg.log_level = level;
	env->log_level = level;
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

int
nc_env_real_run_once(struct nc_env *env, double max_wait)
{
	struct nc_env_real *e = nc__loop_real(env);
	double wait = nc__loop_timers_wait_s(e);
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
	nc__loop_timers_fire(e);
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
	struct nc_env_real *e = nc__loop_real(env);
	e->stop = false;
	while (!e->stop) {
		int rc = nc_env_real_run_once(env, -1);
		if (rc < 0)
			return rc;
	}
	return 0;
}
