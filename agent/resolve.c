/*
 * agent/resolve.c - join addresses by name (agent/resolve.h): the
 * "HOST[:PORT]" parser and the real resolver.
 *
 * Why getaddrinfo_a polled by a timer. getaddrinfo() blocks: /etc/hosts
 * answers at once, but a DNS server that does not answer holds the caller
 * for seconds (5 s per try by default), and on the agent's loop that would
 * delay acks past the peers' probe timeout, so the agent would look dead
 * exactly while it tries to join. glibc's getaddrinfo_a() runs the same
 * lookup (same NSS order: /etc/hosts, DNS, A and AAAA) on glibc's own
 * helper thread and returns at once. Of its completion notices we take
 * none (SIGEV_NONE) and poll gai_error() from an ordinary env timer every
 * NC_RESOLVE_POLL_S while a lookup is pending:
 *   - no signal (SIGEV_SIGNAL would need one more signalfd in cmd/);
 *   - no code on a foreign thread (SIGEV_THREAD would have to hand the
 *     result to the loop through a pipe/eventfd: code in loop/ and a
 *     thread-safety contract for one rare event);
 *   - only env timers, so this file needs nothing from loop/ and the
 *     agent module keeps its one seam (gossip/env.h).
 * The cost is a wake-up every 10 ms while a lookup runs (usually < 1 ms
 * for localhost, bounded by the resolver's timeout for DNS), nothing when
 * idle. Join attempts are seconds apart, so 10 ms of latency is noise.
 */
#define _GNU_SOURCE
#include "agent/resolve.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <netinet/in.h>

/** Poll period of pending lookups, s. Nothing special in this value. */
#define NC_RESOLVE_POLL_S 0.01
/** Most addresses kept from one name (memberlist keeps them all). */
#define NC_RESOLVE_MAX_ADDRS 64

/* ------------------------------------------------------------------ */
/* HOST[:PORT]                                                        */
/* ------------------------------------------------------------------ */

static bool
valid_name(const char *h)
{
	size_t n = strlen(h), label = 0;
	if (n == 0 || n > 253)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = h[i];
		if (c == '.') {
			if (label == 0)
				return false;
			label = 0;
			continue;
		}
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			  (c >= '0' && c <= '9') || c == '-' || c == '_';
		if (!ok || ++label > 63)
			return false;
	}
	return true;
}

static int
parse_port(const char *s, uint16_t *port)
{
	unsigned long v = 0;
	if (*s == '\0')
		return -EINVAL;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return -EINVAL;
		v = v * 10 + (unsigned long)(*s - '0');
		if (v > 65535)
			return -EINVAL;
	}
	if (v == 0)
		return -EINVAL;
	*port = (uint16_t)v;
	return 0;
}

int
nc_agent_hostport_parse(const char *s, uint16_t default_port, char *host,
			size_t host_cap, uint16_t *port)
{
	char h[NC_AGENT_HOST_MAX + 1];
	const char *colon = strchr(s, ':');
	*port = default_port;
	if (s[0] == '[') {
		/* "[ip6]" or "[ip6]:port". */
		const char *end = strchr(s, ']');
		if (end == NULL || (size_t)(end - s - 1) >= sizeof(h))
			return -EINVAL;
		memcpy(h, s + 1, (size_t)(end - s - 1));
		h[end - s - 1] = '\0';
		if (end[1] == ':') {
			if (parse_port(end + 2, port) < 0)
				return -EINVAL;
		} else if (end[1] != '\0') {
			return -EINVAL;
		}
		struct in6_addr a6;
		if (inet_pton(AF_INET6, h, &a6) != 1)
			return -EINVAL;
	} else if (colon != NULL && strchr(colon + 1, ':') != NULL) {
		/* Bare IPv6, no port. */
		struct in6_addr a6;
		if (strlen(s) >= sizeof(h) || inet_pton(AF_INET6, s, &a6) != 1)
			return -EINVAL;
		strcpy(h, s);
	} else {
		size_t hl = colon != NULL ? (size_t)(colon - s) : strlen(s);
		if (hl >= sizeof(h))
			return -EINVAL;
		memcpy(h, s, hl);
		h[hl] = '\0';
		if (colon != NULL && parse_port(colon + 1, port) < 0)
			return -EINVAL;
		if (strspn(h, "0123456789.") == hl) {
			/* Looks numeric: must be a dotted quad (no "1.2.3"). */
			struct in_addr a4;
			if (inet_pton(AF_INET, h, &a4) != 1)
				return -EINVAL;
		} else if (!valid_name(h)) {
			return -EINVAL;
		}
	}
	if (strlen(h) >= host_cap)
		return -EINVAL;
	strcpy(host, h);
	return 0;
}

/* ------------------------------------------------------------------ */
/* getaddrinfo_a resolver                                             */
/* ------------------------------------------------------------------ */

/** One lookup. glibc writes into gcb until gai_error() != EAI_INPROGRESS. */
struct gai_req {
	struct gaicb gcb;
	struct addrinfo hints;
	char host[NC_AGENT_HOST_MAX + 1];
	uint16_t port;
	long id;
	nc_agent_resolve_cb cb;
	void *arg;
	/** Cancelled while glibc was running it: freed once it completes. */
	bool orphan;
	struct gai_req *next;
};

struct gai_resolver {
	struct nc_agent_resolver base;
	struct nc_env *env;
	struct nc_timer poll_timer;
	/** Pending lookups (in_pending_list). */
	struct gai_req *pending;
	long next_id;
};

static void
req_free(struct gai_req *q)
{
	if (q->gcb.ar_result != NULL)
		freeaddrinfo(q->gcb.ar_result);
	free(q);
}

/** Addresses of a finished lookup, duplicates removed. */
static size_t
req_addrs(const struct gai_req *q, struct nc_addr *out, size_t cap)
{
	size_t n = 0;
	for (const struct addrinfo *ai = q->gcb.ar_result; ai != NULL && n < cap;
	     ai = ai->ai_next) {
		struct nc_addr a = {.port = q->port};
		if (ai->ai_family == AF_INET) {
			a.family = 4;
			memcpy(a.ip, &((struct sockaddr_in *)ai->ai_addr)->sin_addr,
			       4);
		} else if (ai->ai_family == AF_INET6) {
			a.family = 6;
			memcpy(a.ip,
			       &((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr,
			       16);
		} else {
			continue;
		}
		bool dup = false;
		for (size_t i = 0; i < n && !dup; i++)
			dup = nc_addr_equal(&out[i], &a);
		if (!dup)
			out[n++] = a;
	}
	return n;
}

static void
poll_timer_cb(struct nc_timer *t)
{
	struct gai_resolver *r = t->arg;
	/* Unlink the finished ones first: callbacks may resolve or cancel. */
	struct gai_req *done = NULL, **pp = &r->pending;
	while (*pp != NULL) {
		struct gai_req *q = *pp;
		if (gai_error(&q->gcb) == EAI_INPROGRESS) {
			pp = &q->next;
			continue;
		}
		*pp = q->next;
		q->next = done;
		done = q;
	}
	while (done != NULL) {
		struct gai_req *q = done;
		done = q->next;
		if (!q->orphan) {
			struct nc_addr addrs[NC_RESOLVE_MAX_ADDRS];
			int rc = gai_error(&q->gcb);
			size_t n = rc == 0 ? req_addrs(q, addrs,
						       NC_RESOLVE_MAX_ADDRS)
					   : 0;
			const char *why = rc != 0 ? gai_strerror(rc)
					  : n == 0 ? "no IPv4 or IPv6 address"
						   : NULL;
			q->cb(q->arg, addrs, n, why);
		}
		req_free(q);
	}
	if (r->pending != NULL)
		r->env->ops->timer_start(r->env, &r->poll_timer,
					 NC_RESOLVE_POLL_S);
}

static long
gai_resolve(struct nc_agent_resolver *base, const char *host, uint16_t port,
	    nc_agent_resolve_cb cb, void *arg)
{
	struct gai_resolver *r = (struct gai_resolver *)base;
	if (strlen(host) > NC_AGENT_HOST_MAX)
		return -EINVAL;
	struct gai_req *q = calloc(1, sizeof(*q));
	if (q == NULL)
		return -ENOMEM;
	strcpy(q->host, host);
	q->port = port;
	q->cb = cb;
	q->arg = arg;
	q->id = ++r->next_id;
	/* Every family; one entry per address (not per socket type). No
	 * AI_ADDRCONFIG: it would hide ::1 on hosts whose only IPv6
	 * address is the loopback. */
	q->hints.ai_family = AF_UNSPEC;
	q->hints.ai_socktype = SOCK_DGRAM;
	q->gcb.ar_name = q->host;
	q->gcb.ar_request = &q->hints;
	struct gaicb *list[1] = {&q->gcb};
	int rc = getaddrinfo_a(GAI_NOWAIT, list, 1, NULL);
	if (rc != 0) {
		free(q);
		return rc == EAI_AGAIN ? -EAGAIN
		       : rc == EAI_MEMORY ? -ENOMEM
					  : -EIO;
	}
	q->next = r->pending;
	r->pending = q;
	if (!nc_timer_active(&r->poll_timer))
		r->env->ops->timer_start(r->env, &r->poll_timer,
					 NC_RESOLVE_POLL_S);
	return q->id;
}

static void
gai_cancel_req(struct nc_agent_resolver *base, long id)
{
	struct gai_resolver *r = (struct gai_resolver *)base;
	for (struct gai_req **pp = &r->pending; *pp != NULL;
	     pp = &(*pp)->next) {
		struct gai_req *q = *pp;
		if (q->id != id || q->orphan)
			continue;
		if (gai_cancel(&q->gcb) == EAI_NOTCANCELED) {
			/* Running on glibc's thread: forget it when done. */
			q->orphan = true;
			return;
		}
		*pp = q->next;
		req_free(q);
		return;
	}
}

static const struct nc_agent_resolver_ops gai_ops = {
	.resolve = gai_resolve,
	.cancel = gai_cancel_req,
};

struct nc_agent_resolver *
nc_agent_resolver_gai_new(struct nc_env *env)
{
	struct gai_resolver *r = calloc(1, sizeof(*r));
	if (r == NULL)
		return NULL;
	r->base.ops = &gai_ops;
	r->env = env;
	nc_timer_init(&r->poll_timer, poll_timer_cb, r);
	return &r->base;
}

void
nc_agent_resolver_gai_delete(struct nc_agent_resolver *base)
{
	struct gai_resolver *r = (struct gai_resolver *)base;
	if (r == NULL)
		return;
	r->env->ops->timer_stop(r->env, &r->poll_timer);
	while (r->pending != NULL) {
		struct gai_req *q = r->pending;
		r->pending = q->next;
		if (gai_cancel(&q->gcb) == EAI_NOTCANCELED) {
			/* glibc still writes into q: wait, bounded. */
			const struct gaicb *list[1] = {&q->gcb};
			struct timespec ts = {.tv_sec = 2};
			gai_suspend(list, 1, &ts);
			if (gai_error(&q->gcb) == EAI_INPROGRESS)
				continue; /* abandoned: cannot free it */
		}
		req_free(q);
	}
	free(r);
}
