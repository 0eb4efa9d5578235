#ifndef NC_LOOP_LOOP_INT_H
#define NC_LOOP_LOOP_INT_H
/*
 * loop/loop_int.h - internal to nc_loop (not included from outside loop/;
 * the public header is loop/loop.h): the real env's struct and the
 * nc__loop_* functions that its files share. One file per reason to change:
 *
 *   loop.c       the env object (new/delete, the ops table), the epoll
 *                wait, one iteration, run/stop, the fd watch API
 *   timer.c      the timer heap (ops timer_start / timer_stop)
 *   clock_log.c  the monotonic clock (ops now) and the logger (ops log)
 *   rand.c       the seeded PRNG (ops rand)
 *   sockaddr.c   struct nc_addr <-> struct sockaddr, bind
 *   udp.c        the gossip UDP socket: open, send, drain with rx stamps
 *   listen.c     the TCP listener: open, accept, the inbound caps
 *   stream.c     TCP stream exchanges: connect, write, read, deadlines,
 *                the bound on bytes held by open streams
 *
 * latency.c (the latency-emulation decorator, a TEST FACILITY) uses none of
 * this: it wraps any struct nc_env through gossip/env.h.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>

#include "loop/loop.h"
#include "util/util.h"

/** Largest datagram we read (memberlist's udpPacketBufSize). */
#define NC_ENV_UDP_BUF 65536
/** Events fetched per epoll_wait. Nothing special in this value. */
#define NC_ENV_BATCH 64

/** One TCP stream, inbound or outbound (stream.c). */
struct nc_conn;

/** The env; `base` first so struct nc_env * converts back. */
struct nc_env_real {
	struct nc_env base;
	struct nc_env_real_config cfg;
	int epfd;
	/** Gossip UDP socket and TCP listener, both in the loop. */
	struct nc_env_watch udp;
	struct nc_env_watch listener;
	/** Socket family of both sockets (AF_INET / AF_INET6). */
	int family;
	/** Bound address (actual port). */
	struct nc_addr local;
	/** Timer heap (min by deadline, then seq). */
	struct nc_timer **heap;
	size_t heap_len, heap_cap;
	uint64_t timer_seq;
	/** PRNG state (rand.c). */
	struct nc_rng rng;
	/** Open connections and counts. */
	struct nc_conn *conns;
	int inbound_count;
	/** Bytes held in the read buffers of all open streams. */
	size_t stream_bytes;
	long next_id;
	/** Events of the iteration being served (for unwatch blanking). */
	struct epoll_event batch[NC_ENV_BATCH];
	int batch_len;
	bool stop;
	/** epoll_pwait2 failed with ENOSYS: epoll_wait from then on. */
	bool no_pwait2;
	/** Last log time of a refused stream (rate limit). */
	double refuse_logged;
	struct nc_env_real_stats stats;
	/** Datagram buffer. */
	char udp_buf[NC_ENV_UDP_BUF];
};

static inline struct nc_env_real *
nc__loop_real(struct nc_env *env)
{
	return (struct nc_env_real *)env;
}

/* clock_log.c: clock and logger */

/** @a ts in seconds. */
double nc__loop_ts_seconds(const struct timespec *ts);
/** CLOCK_MONOTONIC in seconds: the env clock. */
double nc__loop_mono_now(void);
/** ops->now. */
double nc__loop_op_now(struct nc_env *env);
/** ops->log: one line to cfg.log_fd. */
void nc__loop_op_log(struct nc_env *env, enum nc_log_level level,
		     const char *module, const char *msg);
/** printf-style log line of the env itself (module "memberlist"). */
void nc__loop_logf(struct nc_env_real *e, enum nc_log_level level,
		   const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* rand.c: PRNG */

/** ops->rand. */
uint64_t nc__loop_op_rand(struct nc_env *env);
/** Spread @a seed over the PRNG state. */
void nc__loop_rand_seed(struct nc_env_real *e, uint64_t seed);

/* timer.c: timer heap */

/** ops->timer_start. */
void nc__loop_op_timer_start(struct nc_env *env, struct nc_timer *t,
			     double after);
/** ops->timer_stop. */
void nc__loop_op_timer_stop(struct nc_env *env, struct nc_timer *t);
/** Fire the timers due at the start of this pass. */
void nc__loop_timers_fire(struct nc_env_real *e);
/** Seconds until the earliest timer (>= 0); -1 if none. */
double nc__loop_timers_wait_s(struct nc_env_real *e);
/** Leave every armed timer inactive and free the heap (delete). */
void nc__loop_timers_clear(struct nc_env_real *e);

/* sockaddr.c: addresses */

/**
 * @a a as a sockaddr of @a family (AF_INET6 takes IPv4 as v4-mapped);
 * returns its length, 0 if @a a does not fit the family.
 */
socklen_t nc__loop_addr_to_sockaddr(const struct nc_addr *a, int family,
				    struct sockaddr_storage *ss);
/** @a ss as an nc_addr (v4-mapped IPv6 becomes IPv4). */
void nc__loop_sockaddr_to_addr(const struct sockaddr_storage *ss,
			       struct nc_addr *a);
/** Bind @a fd to @a a; returns 0 or -errno. */
int nc__loop_bind_addr(int fd, int family, const struct nc_addr *a);
/** True if @a a is the IPv6 wildcard (::). */
bool nc__loop_addr_is_any6(const struct nc_addr *a);

/* udp.c: the gossip UDP socket */

/**
 * Open and bind the UDP socket to cfg.bind (family e->family) and set
 * e->local to the bound address. Returns the fd or -errno (nothing open).
 */
int nc__loop_udp_open(struct nc_env_real *e);
/** Watch callback of the UDP socket (arg = e): drain it. */
void nc__loop_udp_event(struct nc_env_watch *w, unsigned events);
/** ops->send_packet. */
int nc__loop_op_send_packet(struct nc_env *env, const struct nc_addr *to,
			    const char *buf, size_t len);

/* listen.c: the TCP listener */

/**
 * Open the TCP listener on e->local (the UDP socket's port). Returns the
 * fd or -errno (nothing open).
 */
int nc__loop_listen_open(struct nc_env_real *e);
/** Watch callback of the listener (arg = e): accept. */
void nc__loop_listener_event(struct nc_env_watch *w, unsigned events);

/* stream.c: TCP stream exchanges */

/**
 * Serve accepted socket @a fd from @a peer as an inbound stream (deadline
 * cfg.first_byte_timeout until its first byte, cfg.tcp_timeout from
 * accept in all). Returns 0, or -ENOMEM with @a fd left to the caller.
 */
int nc__loop_stream_accept(struct nc_env_real *e, int fd,
			   const struct nc_addr *peer);
/** Number of open inbound streams from @a peer's IP (any port). */
int nc__loop_streams_from(const struct nc_env_real *e,
			  const struct nc_addr *peer);
/** Close every stream; no callbacks (delete). */
void nc__loop_streams_close(struct nc_env_real *e);
/** ops->stream_request. */
long nc__loop_op_stream_request(struct nc_env *env, const struct nc_addr *to,
				const char *req, size_t req_len,
				int expect_reply, double timeout,
				nc_stream_done_cb cb, void *arg);
/** ops->stream_cancel. */
void nc__loop_op_stream_cancel(struct nc_env *env, long id);

#endif /* NC_LOOP_LOOP_INT_H */
