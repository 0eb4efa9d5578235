/*
 * loop/sockaddr.c - struct nc_addr (gossip/env.h) to and from the kernel's
 * struct sockaddr, for the UDP socket, the listener and outbound streams.
 * Both sockets are of one family: an AF_INET6 socket bound to :: is dual
 * stack, so IPv4 peers go out and come back as v4-mapped addresses, which
 * are shown to gossip as plain IPv4.
 */
#include "loop/loop_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>

socklen_t
nc__loop_addr_to_sockaddr(const struct nc_addr *a, int family,
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

void
nc__loop_sockaddr_to_addr(const struct sockaddr_storage *ss, struct nc_addr *a)
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

/** Bind @a fd to @a a; returns 0 or -errno. */
int
nc__loop_bind_addr(int fd, int family, const struct nc_addr *a)
{
	struct sockaddr_storage ss;
	socklen_t sl = nc__loop_addr_to_sockaddr(a, family, &ss);
	if (sl == 0)
		return -EAFNOSUPPORT;
	return bind(fd, (struct sockaddr *)&ss, sl) < 0 ? -errno : 0;
}

bool
nc__loop_addr_is_any6(const struct nc_addr *a)
{
	static const uint8_t zero[16];
	return a->family == 6 && memcmp(a->ip, zero, 16) == 0;
}
