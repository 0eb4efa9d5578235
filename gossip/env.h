#ifndef NC_GOSSIP_ENV_H
#define NC_GOSSIP_ENV_H
/*
 * The environment seam of gossip/: time, timers, randomness, logging and the
 * network reach the SWIM code only through this object, handed over at
 * creation (STYLE.md §2, after SQLite's vfs and Tarantool's swim_ev).
 *
 * Two implementations exist:
 *   - the real one (loop/, nc_loop): one epoll loop on CLOCK_MONOTONIC,
 *     nonblocking UDP + TCP sockets, IPv4 and IPv6;
 *   - the simulated one (sim/): a virtual clock that jumps to the next
 *     deadline and an in-memory network with per-link latency, loss,
 *     partitions and paused nodes, deterministic for a seed. Many agents live
 *     in one process, each with its own struct nc_env.
 *
 * Direction of calls:
 *   gossip -> env : ops (now, timers, rand, send_packet, stream_request, log)
 *   env -> gossip : the sink (on_packet, on_stream) that gossip installs in
 *                   nc_gossip_new(); the env calls it for every datagram and
 *                   every complete inbound stream request.
 *
 * Streams. memberlist's TCP exchanges are one request and at most one reply
 * per connection (PROTOCOL.md §3). The env hides connect/read/write: gossip
 * hands it a complete, already framed request (compressed/encrypted as
 * needed) and gets back the complete reply bytes. Framing of plaintext
 * streams has no length prefix, so the real env finds message boundaries
 * with nc_proto's stream-length parser; the simulated env passes buffers
 * whole.
 */
#include <stddef.h>
#include <stdint.h>

struct nc_env;

/** A UDP/TCP endpoint: IPv4 or IPv6 address plus port. */
struct nc_addr {
	/** 4 or 6; 0 means "no address". */
	uint8_t family;
	/** Address bytes: ip[0..3] for IPv4, ip[0..15] for IPv6. */
	uint8_t ip[16];
	/** Port in host byte order. */
	uint16_t port;
};

/** Length of the address bytes (4, 16, or 0 for no address). */
static inline size_t
nc_addr_ip_len(const struct nc_addr *a)
{
	return a->family == 4 ? 4 : a->family == 6 ? 16 : 0;
}

struct nc_timer;
/** Timer callback; @a t is the timer that fired (already inactive). */
typedef void (*nc_timer_cb)(struct nc_timer *t);

/**
 * A one-shot timer. The caller owns the memory (usually embedded in a larger
 * struct) and fills @a cb and @a arg; the env owns the remaining fields.
 */
struct nc_timer {
	/** Called when the deadline passes. */
	nc_timer_cb cb;
	/** Caller's context. */
	void *arg;
	/** Absolute deadline on the env clock (env-owned). */
	double deadline;
	/** Position in the env's timer heap, or -1 when inactive (env-owned). */
	long heap_idx;
	/** Insertion sequence, to fire equal deadlines in FIFO order (env-owned). */
	uint64_t seq;
};

/** Initialise a timer before first use. */
static inline void
nc_timer_init(struct nc_timer *t, nc_timer_cb cb, void *arg)
{
	t->cb = cb;
	t->arg = arg;
	t->deadline = 0;
	t->heap_idx = -1;
	t->seq = 0;
}

/** True if the timer is scheduled. */
static inline int
nc_timer_active(const struct nc_timer *t)
{
	return t->heap_idx >= 0;
}

/** A growable byte buffer (used for stream replies). */
struct nc_buf {
	char *data;
	size_t len;
	size_t cap;
};

/**
 * Completion of a stream request. @a status is 0 and @a reply holds the
 * complete reply message (borrowed for the call), or status is negative
 * (connect refused, timeout, peer closed without reply) and reply is NULL.
 */
typedef void (*nc_stream_done_cb)(void *arg, int status, const char *reply,
				  size_t reply_len);

enum nc_log_level {
	NC_LOG_DEBUG = 0,
	NC_LOG_INFO = 1,
	NC_LOG_WARN = 2,
	NC_LOG_ERR = 3,
};

/** Virtual methods of an environment. */
struct nc_env_ops {
	/** Monotonic time in seconds. */
	double (*now)(struct nc_env *env);
	/** (Re)arm @a t to fire @a after seconds from now. */
	void (*timer_start)(struct nc_env *env, struct nc_timer *t,
			    double after);
	/** Disarm @a t; no-op if inactive. */
	void (*timer_stop)(struct nc_env *env, struct nc_timer *t);
	/** 64 random bits from a seedable generator. */
	uint64_t (*rand)(struct nc_env *env);
	/**
	 * Send one datagram. Returns 0 or a negative error; a datagram is sent
	 * whole or not at all. The buffer is borrowed for the call.
	 */
	int (*send_packet)(struct nc_env *env, const struct nc_addr *to,
			   const char *buf, size_t len);
	/**
	 * Open a stream to @a to, write @a req, read one complete reply
	 * message and call @a cb exactly once (also on failure), unless
	 * @a expect_reply is 0, in which case cb is called after the write.
	 * The whole exchange is bounded by @a timeout seconds. Returns a
	 * positive request id, or a negative error (then cb is never called).
	 */
	long (*stream_request)(struct nc_env *env, const struct nc_addr *to,
			       const char *req, size_t req_len,
			       int expect_reply, double timeout,
			       nc_stream_done_cb cb, void *arg);
	/** Cancel a pending stream request; its callback is not called. */
	void (*stream_cancel)(struct nc_env *env, long id);
	/** One log line, already formatted (no trailing newline). */
	void (*log)(struct nc_env *env, enum nc_log_level level,
		    const char *module, const char *msg);
};

/**
 * Where the env delivers input. Installed by the consumer (gossip) with
 * nc_env_set_sink(); the env calls these from its loop.
 */
struct nc_env_sink {
	void *ctx;
	/**
	 * A datagram arrived. @a rx_time is the receive timestamp on the env
	 * clock, taken as close to the socket as possible (SO_TIMESTAMPNS).
	 */
	void (*on_packet)(void *ctx, const struct nc_addr *from,
			  const char *buf, size_t len, double rx_time);
	/**
	 * A complete inbound stream request arrived. Append the reply (if
	 * any) to @a reply; the env writes it and closes the connection.
	 * Return 0, or negative to close without reply.
	 */
	int (*on_stream)(void *ctx, const struct nc_addr *from,
			 const char *req, size_t req_len, struct nc_buf *reply);
};

/** An environment instance: ops + the sink + implementation data. */
struct nc_env {
	const struct nc_env_ops *ops;
	struct nc_env_sink sink;
	/** Minimum level passed to ops->log. */
	enum nc_log_level log_level;
};

static inline void
nc_env_set_sink(struct nc_env *env, const struct nc_env_sink *sink)
{
	env->sink = *sink;
}

static inline double
nc_env_now(struct nc_env *env)
{
	return env->ops->now(env);
}

/** printf-style logging through env->ops->log, filtered by level. */
void nc_env_logf(struct nc_env *env, enum nc_log_level level,
		 const char *module, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/** Uniform random double in [0, 1). */
static inline double
nc_env_rand_double(struct nc_env *env)
{
	return (double)(env->ops->rand(env) >> 11) * (1.0 / 9007199254740992.0);
}

/** Uniform random integer in [0, n), n > 0. */
static inline uint64_t
nc_env_rand_below(struct nc_env *env, uint64_t n)
{
	return env->ops->rand(env) % n;
}

/** Format "ip:port" ("[ip]:port" for IPv6) into @a out; returns @a out. */
char *nc_addr_format(const struct nc_addr *a, char *out, size_t cap);

/**
 * Parse "ip", "ip:port", "[ip6]:port" or "ip6". @a default_port fills a
 * missing port. Returns 0 or a negative error (-EINVAL).
 */
int nc_addr_parse(const char *s, uint16_t default_port, struct nc_addr *out);

/** True if both addresses are equal (family, ip and port). */
int nc_addr_equal(const struct nc_addr *a, const struct nc_addr *b);

#endif /* NC_GOSSIP_ENV_H */
