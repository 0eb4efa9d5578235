/*
 * loop/udp.c - the real env's gossip UDP socket: open and bind it, send
 * datagrams (ops->send_packet), and drain it into the sink with receive
 * timestamps (nc_env_real_drain_packets, called first in every loop
 * iteration and by anyone about to do long work, e.g. api/http.c).
 *
 * Receive timestamps. RTT accuracy bounds coordinate accuracy, so each
 * datagram carries the kernel's SO_TIMESTAMPNS stamp, taken when the packet
 * reached the socket, not when the loop got round to it. That stamp is on
 * CLOCK_REALTIME; it is moved onto the env clock with an offset
 * (realtime - monotonic) sampled at each drain, so a wall clock step costs
 * at most one batch of skewed samples. Without a stamp, now() is used.
 *
 * A drain reads at most NC_ENV_DRAIN_MAX datagrams so that a flood cannot
 * starve timers for long. Costs: one 64 KiB receive buffer in the env;
 * nothing is allocated per datagram.
 */
#include "loop/loop_int.h"

#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <unistd.h>

/**
 * Datagrams read per drain before other work gets a turn: a flood cannot
 * starve timers for long. 256 packets at ~10 us each is ~3 ms.
 */
#define NC_ENV_DRAIN_MAX 256

int
nc__loop_udp_open(struct nc_env_real *e)
{
	const struct nc_addr *b = &e->cfg.bind;
	int one = 1, zero = 0, rc;
	int u = socket(e->family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (u < 0)
		return -errno;
	if (nc__loop_addr_is_any6(b))
		setsockopt(u, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	rc = nc__loop_bind_addr(u, e->family, b);
	if (rc < 0) {
		close(u);
		return rc;
	}
	/* The actual port, when 0 was asked: TCP takes the same. */
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	getsockname(u, (struct sockaddr *)&ss, &sl);
	e->local = *b;
	{
		struct nc_addr got;
		nc__loop_sockaddr_to_addr(&ss, &got);
		e->local.port = got.port;
	}
	/* memberlist: try 2 MiB, halve until the kernel accepts. */
	for (int sz = e->cfg.udp_rcvbuf_bytes; sz >= 65536; sz /= 2)
		if (setsockopt(u, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz)) == 0)
			break;
	if (setsockopt(u, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one)) < 0)
		nc__loop_logf(
		    e, NC_LOG_WARN,
		    "SO_TIMESTAMPNS unavailable, RTTs use the loop clock");
	return u;
}

void
nc__loop_udp_event(struct nc_env_watch *w, unsigned events)
{
	struct nc_env_real *e = w->arg;
	(void)events;
	nc_env_real_drain_packets(&e->base);
}

int
nc__loop_op_send_packet(struct nc_env *env, const struct nc_addr *to,
			const char *buf, size_t len)
{
	struct nc_env_real *e = nc__loop_real(env);
	struct sockaddr_storage ss;
	socklen_t sl = nc__loop_addr_to_sockaddr(to, e->family, &ss);
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
	struct nc_env_real *e = nc__loop_real(env);
	/* realtime - monotonic, to move kernel stamps onto the env clock. */
	struct timespec rt, mo;
	clock_gettime(CLOCK_REALTIME, &rt);
	clock_gettime(CLOCK_MONOTONIC, &mo);
	double offset = nc__loop_ts_seconds(&rt) - nc__loop_ts_seconds(&mo);
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
				rx = nc__loop_ts_seconds(&ts) - offset;
			}
		}
		double now = nc__loop_mono_now();
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
		nc__loop_sockaddr_to_addr(&from, &src);
		if (e->base.sink.on_packet != NULL)
			e->base.sink.on_packet(e->base.sink.ctx, &src,
					       e->udp_buf, (size_t)n, rx);
		if (e->udp.fd < 0)
			return; /* deleted from the callback */
	}
}
