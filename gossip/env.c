/*
 * Small helpers declared by env.h that every environment shares: the
 * printf-style logger and the nc_addr utilities.
 *
 * Logging: nc_env_logf() formats into a bounded stack buffer (512 bytes;
 * longer lines are truncated, never allocated) and hands the line to
 * env->ops->log, which owns the timestamp (taken from the env clock, so a
 * simulated run prints a reproducible log). Lines below env->log_level are
 * dropped before formatting.
 *
 * Addresses: parsing accepts "a.b.c.d", "a.b.c.d:port", "[v6]:port" and a
 * bare IPv6 literal; names are not resolved (gossip never does DNS).
 */
#include "gossip/env.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/** Longest log line; the rest is cut (logging must not allocate). */
#define NC_ENV_LOG_LINE_MAX 512

void
nc_env_logf(struct nc_env *env, enum nc_log_level level, const char *module,
	    const char *fmt, ...)
{
	char line[NC_ENV_LOG_LINE_MAX];
	va_list ap;

	if (env == NULL || env->ops == NULL || env->ops->log == NULL ||
	    level < env->log_level)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	env->ops->log(env, level, module, line);
}

char *
nc_addr_format(const struct nc_addr *a, char *out, size_t cap)
{
	char ip[INET6_ADDRSTRLEN];

	if (cap == 0)
		return out;
	if (a == NULL || (a->family != 4 && a->family != 6)) {
		snprintf(out, cap, "<none>");
		return out;
	}
	if (inet_ntop(a->family == 4 ? AF_INET : AF_INET6, a->ip, ip,
		      sizeof(ip)) == NULL) {
		snprintf(out, cap, "<bad>");
		return out;
	}
	if (a->family == 4)
		snprintf(out, cap, "%s:%u", ip, (unsigned)a->port);
	else
		snprintf(out, cap, "[%s]:%u", ip, (unsigned)a->port);
	return out;
}

/** Parse a decimal port "1".."65535" occupying the whole string. */
static int
addr_parse_port(const char *s, uint16_t *out)
{
	char *end;
	unsigned long v;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || v > 65535)
		return -EINVAL;
	*out = (uint16_t)v;
	return 0;
}

int
nc_addr_parse(const char *s, uint16_t default_port, struct nc_addr *out)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *port_str = NULL;
	const char *colon;
	size_t hlen;
	struct nc_addr a;

	if (s == NULL || out == NULL)
		return -EINVAL;
	memset(&a, 0, sizeof(a));
	a.port = default_port;
	if (s[0] == '[') {
		const char *close = strchr(s, ']');
		if (close == NULL)
			return -EINVAL;
		hlen = (size_t)(close - s - 1);
		if (hlen == 0 || hlen >= sizeof(host))
			return -EINVAL;
		memcpy(host, s + 1, hlen);
		host[hlen] = '\0';
		if (close[1] == ':')
			port_str = close + 2;
		else if (close[1] != '\0')
			return -EINVAL;
		if (inet_pton(AF_INET6, host, a.ip) != 1)
			return -EINVAL;
		a.family = 6;
	} else {
		colon = strchr(s, ':');
		if (colon != NULL && strchr(colon + 1, ':') != NULL) {
			/* Two or more colons: a bare IPv6 literal. */
			if (strlen(s) >= sizeof(host) ||
			    inet_pton(AF_INET6, s, a.ip) != 1)
				return -EINVAL;
			a.family = 6;
		} else {
			hlen = colon != NULL ? (size_t)(colon - s) : strlen(s);
			if (hlen == 0 || hlen >= sizeof(host))
				return -EINVAL;
			memcpy(host, s, hlen);
			host[hlen] = '\0';
			if (inet_pton(AF_INET, host, a.ip) != 1)
				return -EINVAL;
			a.family = 4;
			if (colon != NULL)
				port_str = colon + 1;
		}
	}
	if (port_str != NULL && addr_parse_port(port_str, &a.port) != 0)
		return -EINVAL;
	*out = a;
	return 0;
}

int
nc_addr_equal(const struct nc_addr *a, const struct nc_addr *b)
{
	return a->family == b->family && a->port == b->port &&
	       memcmp(a->ip, b->ip, nc_addr_ip_len(a)) == 0;
}
