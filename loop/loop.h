#ifndef NC_LOOP_LOOP_H
#define NC_LOOP_LOOP_H
/*
 * loop/loop.h - the public header of nc_loop, the real environment: one
 * epoll loop on CLOCK_MONOTONIC that implements gossip/env.h for a real
 * process and owns the gossip UDP socket, the TCP listener on the same
 * port, inbound and outbound streams, the timer heap, the PRNG and the
 * logger (how the files of loop/ divide this: loop/loop_int.h). The
 * latency-emulation decorator beside it has its own header, loop/latency.h.
 *
 * Usage (the agent):
 *
 *	struct nc_env_real_config ec;
 *	nc_env_real_config_default(&ec);
 *	nc_addr_parse("127.0.0.1:7946", 7946, &ec.bind);
 *	ec.seed = <getrandom()>;
 *	struct nc_env *env = nc_env_real_new(&ec, err, sizeof(err));
 *	g = nc_gossip_new(env, ...);           // installs the sink
 *	nc_env_real_watch_start(env, &w, fd, NC_ENV_READ, cb, arg);  // extras
 *	nc_env_real_run(env);                  // until nc_env_real_stop()
 *	nc_gossip_delete(g);
 *	nc_env_real_delete(env);
 *
 * Extra file descriptors (libmicrohttpd's epoll fd, a signalfd) join the
 * loop through struct nc_env_watch; extra deadlines (MHD_get_timeout) use
 * ordinary env timers (env->ops->timer_start). Every loop iteration first
 * drains all readable gossip datagrams, then fires due timers, then serves
 * streams and watches; a watch callback that may run long (HTTP) should
 * call nc_env_real_drain_packets() first.
 *
 * Everything runs on the thread that calls nc_env_real_run(); nothing here
 * is thread-safe.
 */
#include <stddef.h>
#include <stdint.h>

#include "gossip/env.h"

/** Watch events (bit mask). */
enum {
	NC_ENV_READ = 1,  /**< readable (or hang-up / error) */
	NC_ENV_WRITE = 2, /**< writable */
};

struct nc_env_watch;
/**
 * Watch callback. @a events is a mask of NC_ENV_READ / NC_ENV_WRITE
 * (errors and hang-ups are reported as NC_ENV_READ so that the owner reads
 * and sees them). The callback may stop or restart any watch, including
 * its own.
 */
typedef void (*nc_env_watch_cb)(struct nc_env_watch *w, unsigned events);

/**
 * A file descriptor in the loop. Caller-owned memory (usually embedded),
 * zeroed (or cb = NULL) before the first nc_env_real_watch_start(), which
 * sets every field. A watch is registered while cb != NULL.
 */
struct nc_env_watch {
	/** The watched descriptor, -1 when not started (not owned). */
	int fd;
	/** Called from the loop when an event in the mask occurs. */
	nc_env_watch_cb cb;
	/** Caller's context. */
	void *arg;
	/** Current event mask (env-owned). */
	unsigned events;
};

/** Parameters of nc_env_real_new(); fill with nc_env_real_config_default. */
struct nc_env_real_config {
	/**
	 * UDP and TCP bind address (same port for both, like memberlist).
	 * Port 0 picks a free port (read it back with nc_env_real_local_addr).
	 * An IPv6 wildcard (::) also accepts IPv4 (dual stack).
	 */
	struct nc_addr bind;
	/** PRNG seed (the agent takes it from getrandom(), tests fix it). */
	uint64_t seed;
	/** Minimum level written by ops->log; default NC_LOG_INFO. */
	enum nc_log_level log_level;
	/** Deadline of an inbound stream from accept(), s; default 10. */
	double tcp_timeout;
	/**
	 * Max concurrent inbound streams; one more is closed right after
	 * accept (memberlist refuses the 128th push/pull). Default 127.
	 */
	int max_inbound_streams;
	/**
	 * Max concurrent inbound streams from one IP address (any port);
	 * one more is closed right after accept, so idle connections from
	 * one source cannot take every slot (issue 9 row 7). Default 8.
	 */
	int max_streams_per_addr;
	/**
	 * An inbound stream that has sent nothing this many seconds after
	 * accept is closed (counted as a timeout and as idle); after its
	 * first byte the tcp_timeout deadline from accept applies.
	 * Default 2 (memberlist peers write their request at once).
	 */
	double first_byte_timeout;
	/**
	 * Bound on the bytes held by all open streams together (received
	 * and not yet handed over, both directions); data beyond it closes
	 * the stream holding the most (each may hold up to 20 MiB, the
	 * stream message cap). Default 64 MiB.
	 */
	size_t max_stream_bytes;
	/** SO_RCVBUF of the UDP socket, bytes; default 2 MiB (memberlist). */
	int udp_rcvbuf_bytes;
	/** Where log lines go; default 2 (stderr). */
	int log_fd;
	/**
	 * Timer slack (prctl PR_SET_TIMERSLACK) set on the thread calling
	 * nc_env_real_new(), which should be the loop's, in ns; 0 leaves it
	 * (Linux's default is 50 us). Default 1000: timers, and so
	 * loop/latency.c's emulated delays, fire within ~40 us of their
	 * deadline instead of ~90 us; idle wake-ups are few either way.
	 */
	long timer_slack_ns;
};

/** Counters of the real env (monotonic). */
struct nc_env_real_stats {
	uint64_t udp_in, udp_out;            /**< datagrams */
	uint64_t udp_bytes_in, udp_bytes_out;
	uint64_t udp_send_errors;            /**< sendto failures (dropped) */
	uint64_t udp_no_timestamp;           /**< rx without a kernel stamp */
	uint64_t streams_in;                 /**< inbound accepted */
	uint64_t streams_in_refused;         /**< closed at a cap (either) */
	uint64_t streams_in_refused_addr;    /**< ... at the per-address cap */
	uint64_t streams_in_timeouts;        /**< closed at the deadline */
	uint64_t streams_in_idle;            /**< ... at the first-byte one */
	uint64_t streams_over_budget;        /**< closed: max_stream_bytes */
	uint64_t streams_in_errors;          /**< malformed / reset */
	uint64_t streams_out;                /**< outbound started */
	uint64_t streams_out_errors;         /**< failed / timed out */
	uint64_t loop_iterations;
};

/** Fill @a cfg with defaults (bind 0.0.0.0:7946, seed 1). */
void nc_env_real_config_default(struct nc_env_real_config *cfg);

/**
 * Create the env: epoll instance, UDP socket and TCP listener bound to
 * cfg->bind. Returns NULL on failure with a message in @a err (may be
 * NULL), e.g. "bind 127.0.0.1:7946 (udp): Address already in use".
 */
struct nc_env *nc_env_real_new(const struct nc_env_real_config *cfg,
			       char *err, size_t err_cap);

/**
 * Close every socket, fail nothing: pending outbound requests are dropped
 * without callbacks, inbound streams are closed. Watches are forgotten
 * (their fds are not closed). Active timers are left inactive. NULL is a
 * no-op.
 */
void nc_env_real_delete(struct nc_env *env);

/** The bound address (with the actual port if bind port was 0). */
int nc_env_real_local_addr(struct nc_env *env, struct nc_addr *out);

/**
 * Run the loop until nc_env_real_stop() is called (from a callback).
 * Returns 0, or a negative errno if the epoll wait fails.
 */
int nc_env_real_run(struct nc_env *env);

/**
 * One loop iteration: wait at most @a max_wait seconds (< 0 = until the
 * next timer or event, 0 = poll), then drain packets, fire due timers and
 * serve ready descriptors. Returns 0 or a negative errno. For tests.
 */
int nc_env_real_run_once(struct nc_env *env, double max_wait);

/** Make nc_env_real_run() return after the current iteration. */
void nc_env_real_stop(struct nc_env *env);

/**
 * Read and deliver every datagram waiting on the gossip socket now.
 * Called at the start of each iteration; call it also before serving
 * anything that may take long, so gossip is never kept waiting.
 */
void nc_env_real_drain_packets(struct nc_env *env);

/**
 * Add @a fd to the loop with @a events (NC_ENV_READ / NC_ENV_WRITE).
 * Level-triggered. Restarting an active watch changes its mask.
 * Returns 0 or a negative errno.
 */
int nc_env_real_watch_start(struct nc_env *env, struct nc_env_watch *w,
			    int fd, unsigned events, nc_env_watch_cb cb,
			    void *arg);

/**
 * Remove @a w from the loop (fd stays open). Safe from any callback: an
 * event for @a w already fetched in this iteration is not delivered.
 * No-op if not started.
 */
void nc_env_real_watch_stop(struct nc_env *env, struct nc_env_watch *w);

/** Counters. */
const struct nc_env_real_stats *nc_env_real_stats(struct nc_env *env);

/** Change the log level (also sets env->log_level). */
void nc_env_real_set_log_level(struct nc_env *env, enum nc_log_level level);

#endif /* NC_LOOP_LOOP_H */
