#ifndef NC_AGENT_RESOLVE_H
#define NC_AGENT_RESOLVE_H
/*
 * agent/resolve.h - join addresses by name: the "HOST[:PORT]" syntax, and
 * the small interface through which the agent turns a host name into
 * addresses without blocking its loop.
 *
 * A join address is "ip", "ip:port", "[ip6]:port", "ip6", "name" or
 * "name:port" (port 7946 when none is given, as serf). Numeric addresses
 * never reach a resolver; names are resolved at every join attempt, and
 * every address of a name (IPv4 and IPv6) is tried.
 *
 * The resolver is an object with virtual methods (like gossip/env.h), so
 * that the simulator and the API tests, which have no DNS, run the agent
 * without one (numeric addresses only), and `netcoord agent` gives it the
 * real one, nc_agent_resolver_gai_new().
 */
#include <stddef.h>
#include <stdint.h>

#include "gossip/env.h"

/** Longest host name (RFC 1035's 253 characters, plus room). */
#define NC_AGENT_HOST_MAX 255

/**
 * Split a join address into @a host (room for @a host_cap bytes) and
 * @a port (@a default_port when absent). Names must be made of letters,
 * digits, '-', '_' and '.' (no empty label); a host of digits and dots only
 * must be a valid IPv4 address, one with ':' a valid IPv6 address.
 * @retval 0 ok, -EINVAL bad syntax.
 */
int nc_agent_hostport_parse(const char *s, uint16_t default_port, char *host,
			    size_t host_cap, uint16_t *port);

struct nc_agent_resolver;

/**
 * Completion of a resolution: @a n addresses (borrowed for the call, port
 * set), or n = 0 and @a why says what failed ("Name or service not
 * known").
 */
typedef void (*nc_agent_resolve_cb)(void *arg, const struct nc_addr *addrs,
				    size_t n, const char *why);

struct nc_agent_resolver_ops {
	/**
	 * Resolve @a host, giving every address port @a port. @a cb is
	 * called exactly once, later, from the loop (never from inside this
	 * call), unless cancelled. Returns a positive id or a negative errno
	 * (then cb is never called).
	 */
	long (*resolve)(struct nc_agent_resolver *r, const char *host,
			uint16_t port, nc_agent_resolve_cb cb, void *arg);
	/** Cancel resolution @a id: its callback is not called. */
	void (*cancel)(struct nc_agent_resolver *r, long id);
};

/** A resolver: the ops and the implementation's data after them. */
struct nc_agent_resolver {
	const struct nc_agent_resolver_ops *ops;
};

/**
 * The real resolver: glibc's getaddrinfo_a (every A and AAAA record,
 * /etc/hosts included), completions polled by a timer of @a env
 * (borrowed). Returns NULL on allocation failure.
 */
struct nc_agent_resolver *nc_agent_resolver_gai_new(struct nc_env *env);

/**
 * Cancel what is pending and free. A lookup glibc cannot cancel (already
 * running) is waited for up to 2 s, then abandoned. NULL is a no-op.
 */
void nc_agent_resolver_gai_delete(struct nc_agent_resolver *r);

#endif /* NC_AGENT_RESOLVE_H */
