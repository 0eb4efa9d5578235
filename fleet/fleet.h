#ifndef NC_FLEET_FLEET_H
#define NC_FLEET_FLEET_H
/*
 * fleet/fleet.h - a fleet of netcoord agents in virtual time, for capacity
 * planning (`netcoord fleet-sim`, issue 12). N real agents (nc_agent_new:
 * the gossip, coordinate and dissemination code `netcoord agent` runs) on
 * the simulator (sim/sim.h), one process, deterministic for a seed.
 *
 * RTT model (fleet.c says how each is built):
 *   - a matrix file with at least N hosts: hosts are its first N rows;
 *   - a matrix file with fewer rows than N: hosts are placed around its
 *     sites (host i at site i mod rows) with an access-link height each;
 *   - no file: a synthetic plane of sites in six continental clusters,
 *     hosts placed around them the same way.
 * Every datagram's one-way delay is half the model RTT plus a small
 * random queueing delay.
 *
 * Events at given virtual times: crashes, pauses (a stalled process),
 * joins of new agents, a two-way partition; a constant datagram loss.
 * Slow members (Lifeguard's benchmark): a share of the fleet stalling
 * periodically, with Lifeguard's components switched on one by one.
 *
 * Figures (struct nc_fleet_report): time for the fleet to converge and for
 * a join to reach everyone; crash to first and last agent marking it
 * failed; false failures (a healthy member declared failed) and false
 * suspicions, split between healthy and slow members; per-agent bytes/s and datagrams/s in and out by kind
 * (probes, gossip, push/pull, coordinates) over the steady window; heap
 * per agent and per member-table entry; coordinate median relative error
 * over sampled pairs; with -query-tag, the freshness of a nearest and a
 * failover query's candidates (fleet/query.c).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/** Most events of one run. */
#define NC_FLEET_MAX_EVENTS 64
/** Most agents (names are "n%05u"; joins included). */
#define NC_FLEET_MAX_AGENTS 99999

enum nc_fleet_event_kind {
	NC_FLEET_CRASH,	    /**< count agents crash (kill -9) at t */
	NC_FLEET_PAUSE,	    /**< count agents stall for duration s */
	NC_FLEET_JOIN,	    /**< count new agents join at t */
	NC_FLEET_PARTITION, /**< two halves cut apart for duration s */
};

struct nc_fleet_event {
	enum nc_fleet_event_kind kind;
	/** Virtual time, s. */
	double t;
	unsigned count;
	double duration;
};

/** Traffic kinds, as the report splits them. */
enum nc_fleet_kind {
	NC_FLEET_PROBE,	   /**< ping, indirect ping, ack, nack */
	NC_FLEET_GOSSIP,   /**< alive, suspect, dead, serf messages */
	NC_FLEET_PUSHPULL, /**< TCP push/pull (state exchange) */
	NC_FLEET_COORD,	   /**< netcoord's coordinate gossip */
	NC_FLEET_FETCH,	   /**< coordinate fetch requests and replies */
	NC_FLEET_KINDS
};

struct nc_fleet_config {
	/** Agents at start (>= 2). */
	unsigned n;
	uint64_t seed;
	/** Virtual seconds to run. */
	double duration_s;
	/** Start of the steady window for traffic figures, s (default 60). */
	double warm_s;
	/** Datagram loss probability for the whole run. */
	double loss;
	/** RTT matrix file (ms), or NULL for the synthetic model. */
	const char *matrix_path;
	/** Lifeguard on (default) or classic SWIM. */
	bool lifeguard;
	/**
	 * With lifeguard on, components switched off for comparison runs: a
	 * mask of agent/config.h's NC_CONFIG_LG_* (0: all on).
	 */
	unsigned lifeguard_off;
	/**
	 * Suspicion timeout tuning for comparison runs (0: the LAN profile's
	 * 4 and 6): min = mult x max(1, log10 N) x probe interval, max =
	 * max_mult x min (Lifeguard's alpha and beta).
	 */
	int suspicion_mult, suspicion_max_mult;
	/**
	 * Slow members (Lifeguard's benchmark, DSN 2018 §V): this share of
	 * the fleet stalls for slow_stall_s out of every slow_period_s, each
	 * with a random phase, from warm_s on. Crash events pick healthy
	 * members only. 0: none.
	 */
	double slow_share, slow_stall_s, slow_period_s;
	/**
	 * How a slow member stalls: its inbound message processing only,
	 * timers running (sim_node_stall_rx; the paper's slow message
	 * processing, the default), or the whole process stopped
	 * (sim_node_pause, a SIGSTOP).
	 */
	bool slow_stop;
	/** Coordinate gossip budget, bytes/s per agent (< 0: the agent's). */
	double coord_gossip_rate;
	/**
	 * Start from a formed fleet: every agent's member table already
	 * holds every other agent, alive (nc_gossip_seed_member), and no
	 * agent joins at start. Skips the join storm (every alive received
	 * ~N x retransmits times: O(N^2 log N) work in one process, spread
	 * over N machines in reality); coordinates still start empty.
	 */
	bool formed;
	/** Coordinate cache cap per agent (0: the agent's default). */
	unsigned coord_cache_max;
	/**
	 * Query scenario (fleet/query.c): K random members are the tagged
	 * candidates of a nearest query one agent runs at query_at_s (again
	 * 60 s later), plus a failover query over query_groups groups 2 s
	 * after the first. 0: off.
	 */
	unsigned query_tag;
	double query_at_s;
	unsigned query_groups;
	struct nc_fleet_event ev[NC_FLEET_MAX_EVENTS];
	size_t n_ev;
	/** A line per virtual progress_s to progress (NULL: quiet). */
	FILE *progress;
	double progress_s;
};

/**
 * Parse a Lifeguard spec into cfg's lifeguard and lifeguard_off: "all",
 * "swim" (none), or a comma list of the components on: lha-probe,
 * lha-suspicion, buddy, nack. @retval 0, or -1 with a message in @a err.
 */
int nc_fleet_lifeguard_parse(const char *s, struct nc_fleet_config *cfg,
			     char *err, size_t err_cap);

/**
 * Parse "SHARE:STALL_S:PERIOD_S[:rx|stop]" (share in (0, 1], 0 < stall <
 * period; rx default) into cfg's slow_*. @retval 0, or -1 with a message
 * in @a err.
 */
int nc_fleet_slow_parse(const char *s, struct nc_fleet_config *cfg,
			char *err, size_t err_cap);

/** Fill with the defaults (n 100, 300 s, warm 60 s, Lifeguard on). */
void nc_fleet_config_default(struct nc_fleet_config *cfg);

/**
 * Parse one event "KIND@T[:COUNT[:DURATION]]", KIND crash|pause|join|
 * partition (partition: "partition@T:DURATION"). @retval 0, or -1 with a
 * message in @a err.
 */
int nc_fleet_event_parse(const char *s, struct nc_fleet_event *out, char *err,
			 size_t err_cap);

struct nc_fleet_report {
	unsigned n, n_final;
	double duration_s, warm_s, loss;
	char model[160];
	/** Every agent lists every other alive (s; NAN: never). */
	double converge_s;
	/** Joins after the start: reach time p50 / max (s), incomplete. */
	unsigned joins, joins_incomplete;
	double join_p50, join_max;
	/** Crashes: first / last observer marking it failed (s). */
	unsigned crashes, crashes_incomplete;
	double first_p50, first_p99, last_p50, last_p99;
	/** A member not crashed declared failed / suspected. */
	uint64_t false_failures, false_suspicions;
	/** ...of which about a member paused (or stalled) at the time. */
	uint64_t paused_failures, paused_suspicions;
	/**
	 * Slow members (cfg slow_share), and the false failures and
	 * suspicions split by subject: a healthy member (not slow, not
	 * crashed) or a slow one. Counted as events, one per observer; of
	 * the healthy members' failures, those an observer that is healthy
	 * itself declared. Per member-hour: over the healthy (slow) members
	 * and the window from warm_s to the end.
	 */
	unsigned slow;
	uint64_t healthy_failures, slow_failures, healthy_failures_by_healthy;
	uint64_t healthy_suspicions, slow_suspicions;
	double healthy_fp_per_member_hour, slow_fp_per_member_hour;
	/** Lifeguard components on: "all", "swim" or a list; tuning. */
	char lifeguard[64];
	int suspicion_mult, suspicion_max_mult;
	/** Started from a formed fleet (-formed). */
	bool formed;
	/** Per agent, mean over agents, per s over the steady window. */
	double bytes_out[NC_FLEET_KINDS], bytes_in[NC_FLEET_KINDS];
	double pkts_out[NC_FLEET_KINDS], pkts_in[NC_FLEET_KINDS];
	/** The busiest agent's total bytes/s out and in. */
	double max_bytes_out, max_bytes_in;
	/** Heap (malloc) per agent, and per member-table entry, bytes. */
	double heap_per_agent, heap_per_member;
	/** Peak RSS of the process, KiB; wall and CPU time, s. */
	long peak_rss_kib;
	double wall_s, cpu_s;
	/** Coordinates: median relative error, pairs sampled, share cached. */
	double coord_median_re;
	unsigned coord_pairs;
	double coord_cached;
	/**
	 * Query scenario (fleet/query.c; query_tagged 0: not run). Nearest:
	 * candidates picked for fetching, fresh (< 30 s) before the query,
	 * time until all were fresh (NAN: not within 5 s), fresh at the
	 * answer (1 s at most); the same 60 s later. Failover: members
	 * picked, time until all fresh, fresh members per group at the
	 * answer (min, median over groups). The querier's fetch counters.
	 */
	unsigned query_tagged, query_groups;
	double query_at_s;
	unsigned query1_picked, query1_fresh_before, query1_fresh_answer;
	double query1_s;
	unsigned query2_fresh_before, query2_fresh_answer;
	double query2_s;
	unsigned failover_picked, failover_fresh_min, failover_fresh_median;
	double failover_s;
	uint64_t query_fetch_req, query_fetch_replies, query_fetch_timeouts,
	    query_refetches;
};

/**
 * Run the fleet. @retval 0 (report filled), or -1 with a message in
 * @a err (bad config, matrix file unreadable, allocation failure).
 */
int nc_fleet_run(const struct nc_fleet_config *cfg, struct nc_fleet_report *r,
		 char *err, size_t err_cap);

/** The report as a table (one figure per line). */
void nc_fleet_report_print(FILE *f, const struct nc_fleet_report *r);

/**
 * What memberlist's formulas expect for the same N and profile (LAN):
 * suspicion timeout bounds, retransmits, push/pull interval; printed next
 * to the measured table.
 */
void nc_fleet_expectation_print(FILE *f, unsigned n);

#endif /* NC_FLEET_FLEET_H */
