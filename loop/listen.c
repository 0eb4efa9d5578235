/*
 * loop/listen.c - the real env's TCP listener, on the same port as the UDP
 * socket (like memberlist): open it, accept connections and hand them to
 * stream.c as inbound streams. At most cfg.max_inbound_streams are open at
 * once, and at most cfg.max_streams_per_addr from one IP address (so that
 * idle connections from one source cannot starve push/pulls from the
 * others, issue 9 row 7); one more is closed right after accept (memberlist
 * refuses the 128th push/pull), counted, and logged at most every 10 s.
 */
/* accept4() */
#define _GNU_SOURCE
#include "loop/loop_int.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <unistd.h>

int
nc__loop_listen_open(struct nc_env_real *e)
{
	int one = 1, zero = 0, rc;
	int t =
	    socket(e->family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (t < 0)
		return -errno;
	setsockopt(t, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (nc__loop_addr_is_any6(&e->cfg.bind))
		setsockopt(t, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	rc = nc__loop_bind_addr(t, e->family, &e->local);
	if (rc == 0 && listen(t, 128) < 0)
		rc = -errno;
	if (rc < 0) {
		close(t);
		return rc;
	}
	return t;
}

/** Close refused @a fd: count it, log at most every 10 s. */
static void
refuse(struct nc_env_real *e, int fd, const struct nc_addr *peer,
       const char *why, int n)
{
	double now = nc__loop_mono_now();
	e->stats.streams_in_refused++;
	if (now - e->refuse_logged > 10) {
		char a[64];
		nc_addr_format(peer, a, sizeof(a));
		nc__loop_logf(e, NC_LOG_WARN, "%s (%d), refusing %s", why, n,
			      a);
		e->refuse_logged = now;
	}
	close(fd);
}

void
nc__loop_listener_event(struct nc_env_watch *w, unsigned events)
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
		nc__loop_sockaddr_to_addr(&ss, &peer);
		if (e->inbound_count >= e->cfg.max_inbound_streams) {
			refuse(e, fd, &peer, "Too many pending streams",
			       e->inbound_count);
			continue;
		}
		int from = nc__loop_streams_from(e, &peer);
		if (from >= e->cfg.max_streams_per_addr) {
			e->stats.streams_in_refused_addr++;
			refuse(e, fd, &peer,
			       "Too many pending streams from one address",
			       from);
			continue;
		}
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (nc__loop_stream_accept(e, fd, &peer) < 0)
			close(fd);
	}
}
