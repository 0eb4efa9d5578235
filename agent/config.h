/*
 * agent/config.h - configuration of `netcoord agent`: command-line flags and
 * a JSON config file with the same keys (flags override the file).
 *
 *   flag                 JSON key     default
 *   -node NAME           node_name    hostname
 *   -bind ADDR[:PORT]    bind         0.0.0.0:7946
 *   -advertise ADDR[:P]  advertise    bind address (first non-loopback
 *                                     IPv4 if bind is a wildcard), bind port
 *   -join HOST[:PORT]    join [...]   none; repeatable, file + flags;
 *                                     retried every 2 s until one answers
 *   -retry-join HOST[:P] retry_join [...]  none; repeatable (serf's):
 *                                     retried every -retry-interval
 *   -retry-interval D    retry_interval  30s (Go duration; at least 1s)
 *   -retry-max N         retry_max_attempts  0 = retry for ever; else the
 *                                     agent exits 1 after N failed
 *                                     retries (N + 1 attempts, as serf)
 *   -encrypt BASE64      encrypt      none (16/24/32-byte key, like serf;
 *                                     visible in /proc/PID/cmdline: prefer
 *                                     the next two)
 *   -encrypt-file F      encrypt_file  key read from a file
 *   $NETCOORD_ENCRYPT    -            key from the environment
 *   -keyring-file F      keyring_file none; serf's format (JSON array of
 *                                     base64 keys, primary first): loaded
 *                                     at start if it exists, rewritten on
 *                                     every keyring change; not with
 *                                     -encrypt (serf refuses both)
 *   -tags-file F         tags_file    none; JSON object of tags, loaded at
 *                                     start if it exists, rewritten when
 *                                     the tags change; not with -tag
 *   -snapshot F          snapshot_path  none; serf's flag: members and
 *                                     their addresses, our coordinate, the
 *                                     coordinate client's peer state and
 *                                     the coordinate cache (agent/
 *                                     snapshot.c); restored at start,
 *                                     rewritten at most every 10 s and at
 *                                     leave/exit; the members are rejoined
 *                                     without -join
 *   -rejoin[=B]          rejoin_after_leave  false (serf's): rejoin the
 *                                     snapshot's members even when it
 *                                     records a graceful leave
 *   -profile P           profile      lan (lan|wan|local)
 *   -tag K=V             tags {...}   none; repeatable, flags win per key
 *   -log-level L         log_level    info (debug|info|warn|error)
 *   -http-addr ADDR:P    http_addr    127.0.0.1:8555 ("off" disables)
 *   -http-token T        http_token   none: the API is open (read-only);
 *                                     at least 16 characters
 *   -http-token-file F   http_token_file  token read from a file
 *   $NETCOORD_HTTP_TOKEN -            token from the environment
 *   -http-allowed-host H http_allowed_host [...]  none; repeatable: Host
 *                                     names the API answers besides
 *                                     loopback and its listen address
 *   -http-tls-cert F     http_tls_cert  none; PEM certificate (chain) of
 *                                     the API: it then serves HTTPS only
 *   -http-tls-key F      http_tls_key   none; PEM private key of that
 *                                     certificate (both or neither; read
 *                                     at start, warned about like the
 *                                     token file when others can read it)
 *   -http-max-conns-per-client N  http_max_conns_per_client  16 (0 = no
 *                                     limit): connections per client address
 *   -http-max-conns N    http_max_conns  64: HTTP connections at once
 *                                     (held blocking queries included)
 *   -http-max-held N     http_max_held   4096: blocking queries held at
 *                                     once, 429 beyond
 *   -http-allow-unauthenticated-writes=B  http_allow_unauthenticated_writes
 *                                     false: without a token, join/leave/
 *                                     keyring answer 403
 *   -coord-gossip-rate B coord_gossip_rate  1024 bytes/s of coordinate
 *                                     gossip per agent (0 = off)
 *   -coord-cache-max N   coord_cache_max  65536: coordinate cache
 *                                     entries; beyond, the oldest (not
 *                                     interesting) are evicted
 *   -max-members N       max_members  10000: new members beyond it are
 *                                     refused and counted (1..10000000)
 *   -verify-cache D      verify_cache 10s (Go duration, 0..1h): how long
 *                                     a verified /v1/nearest?verify=K
 *                                     answer is served again (0 = never)
 *   -config-file FILE    -            repeatable, read in order
 *   -seed N              seed         random (getrandom); fixed in tests
 *
 * TEST FACILITY (off by default; loop/latency.h): wide-area latency
 * on one machine, every outgoing packet delayed by half a matrix RTT.
 *   -latency-matrix FILE latency_matrix  none (ms, `netcoord sim` format)
 *   -latency-map FILE    latency_map     none ("ADDR:PORT ROW [NAME]")
 *   -latency-row N       latency_row     the map line with our node name,
 *                                        else with our advertise address
 *   -latency-rules FILE  latency_rules   none (loss / partition / block
 *                                        lines; re-read on SIGHUP)
 *
 * Flags may be written -name=value, -name value, or with two dashes;
 * a boolean flag (-rejoin) alone means true, -rejoin=false unsets it.
 * Join addresses (-join, -retry-join) are "host", "host:port", "ip",
 * "ip:port", "[ip6]:port" or "ip6" (agent/resolve.h): a name is resolved
 * at every attempt and each of its IPv4 and IPv6 addresses is tried;
 * port 7946 when none is given. The other addresses are numeric.
 * Order: config files, then the environment ($NETCOORD_*), then flags.
 *
 * Warnings (cfg->warnings, logged by the agent at start; issue 9 rows 13,
 * 14): a key/token/TLS key file or a config file holding a key or token
 * that is group- or world-readable; gossip bound beyond loopback without
 * a key; HTTP listening beyond loopback without a token (or in plaintext).
 *
 * Reload (SIGHUP, PUT /v1/agent/reload; issue 10 item 5): the process
 * parses its arguments again into a new struct, nc_config_diff() names
 * what changed, split into what takes effect at run time (log_level,
 * tags, http_token, http_allowed_host, http_allow_unauthenticated_writes)
 * and what needs a restart (everything else), and
 * nc_config_take_reloadable() moves the first kind into the running
 * configuration.
 */
#ifndef NC_AGENT_CONFIG_H
#define NC_AGENT_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "gossip/env.h"

/** Longest node name (gossip's NC_GOSSIP_NAME_MAX). */
#define NC_CONFIG_NAME_MAX 128
/** Most -join addresses. Nothing special in this value. */
#define NC_CONFIG_MAX_JOIN 64
/** Most tags: their encoding must fit memberlist's 512-byte Meta anyway. */
#define NC_CONFIG_MAX_TAGS 64
/** Default gossip port (serf's). */
#define NC_CONFIG_DEFAULT_PORT 7946
/** Default -retry-interval, and the least allowed (serf's), s. */
#define NC_CONFIG_DEFAULT_RETRY_INTERVAL_S 30.0
#define NC_CONFIG_MIN_RETRY_INTERVAL_S 1.0
/** Default -verify-cache, s, and the most allowed. */
#define NC_CONFIG_DEFAULT_VERIFY_CACHE_S 10.0
#define NC_CONFIG_MAX_VERIFY_CACHE_S 3600.0
/** Default HTTP port. */
#define NC_CONFIG_DEFAULT_HTTP_PORT 8555
/** Longest file path in the config. */
#define NC_CONFIG_PATH_MAX 512
/** Shortest API token accepted. */
#define NC_CONFIG_TOKEN_MIN 16
/** Most -http-allowed-host names (api/api.h NC_API_MAX_ALLOWED_HOSTS). */
#define NC_CONFIG_MAX_ALLOWED_HOSTS 16
/** Most start-up warnings kept, and the length of one. */
#define NC_CONFIG_MAX_WARNINGS 8
#define NC_CONFIG_WARNING_MAX 320

/** One tag; key and value are owned (malloc) by the config. */
struct nc_config_tag {
	char *key;
	char *value;
};

/** Timing profile, as serf's -profile (values match enum nc_gossip_profile). */
enum nc_config_profile {
	NC_CONFIG_PROFILE_LAN = 0,
	NC_CONFIG_PROFILE_WAN = 1,
	NC_CONFIG_PROFILE_LOCAL = 2,
};

/** Lifeguard components for nc_config.lifeguard_off (comparison runs). */
enum {
	NC_CONFIG_LG_LHA_PROBE = 1,
	NC_CONFIG_LG_LHA_SUSPICION = 2,
	NC_CONFIG_LG_BUDDY = 4,
	NC_CONFIG_LG_NACK = 8,
	NC_CONFIG_LG_ALL = 15,
};

/** The agent's configuration. Free with nc_config_destroy(). */
struct nc_config {
	/** Node name, unique in the cluster. */
	char node_name[NC_CONFIG_NAME_MAX + 1];
	/** UDP+TCP bind address. */
	struct nc_addr bind;
	/** Advertised address; family 0 = derive from bind. */
	struct nc_addr advertise;
	/**
	 * Addresses to join (push/pull), retried until one answers:
	 * "HOST[:PORT]" strings, owned (malloc), syntax checked.
	 */
	char *join[NC_CONFIG_MAX_JOIN];
	size_t join_n;
	/** serf's -retry-join: same syntax, retried every retry_interval_s. */
	char *retry_join[NC_CONFIG_MAX_JOIN];
	size_t retry_join_n;
	/** Seconds between -retry-join attempts (default 30, serf's). */
	double retry_interval_s;
	/** Failed retries before giving up (exit 1); 0 = never give up. */
	unsigned retry_max;
	/** serf's -keyring-file and -tags-file; "" when unset. */
	char keyring_file[NC_CONFIG_PATH_MAX];
	char tags_file[NC_CONFIG_PATH_MAX];
	/** serf's -snapshot ("" when unset) and -rejoin. */
	char snapshot_path[NC_CONFIG_PATH_MAX];
	bool rejoin_after_leave;
	/** Encryption key; key_len 0 = plaintext. */
	uint8_t key[32];
	size_t key_len;
	enum nc_config_profile profile;
	/** Serf tags (encoded as Meta at start-up). */
	struct nc_config_tag tags[NC_CONFIG_MAX_TAGS];
	size_t tags_n;
	enum nc_log_level log_level;
	/** HTTP listen address; family 0 = HTTP disabled. */
	struct nc_addr http_addr;
	/** API bearer token ("" = none; api/api.h nc_api_config.token). */
	char http_token[256];
	/**
	 * HTTPS (issue 10 item 4): the PEM files ("" when unset) and their
	 * contents, read by nc_config_parse_args (malloc, NUL-terminated;
	 * NULL when unset; the key is wiped by nc_config_destroy). Their
	 * syntax and match are checked by the API (nc_api_new).
	 */
	char http_tls_cert[NC_CONFIG_PATH_MAX];
	char http_tls_key[NC_CONFIG_PATH_MAX];
	char *http_tls_cert_pem;
	char *http_tls_key_pem;
	/** Mutating endpoints without a token (default false). */
	bool http_allow_unauthenticated_writes;
	/** Host names the API answers besides loopback and its address. */
	char http_allowed_hosts[NC_CONFIG_MAX_ALLOWED_HOSTS][256];
	size_t http_allowed_hosts_n;
	/** Connections per client address (api/api.h; 0 = no limit). */
	unsigned http_max_conns_per_client;
	/** Connections at once (api/api.h max_connections; default 64). */
	unsigned http_max_conns;
	/** Blocking queries held at once (api/api.h max_held; 4096). */
	unsigned http_max_held;
	/** Coordinate gossip budget, bytes/s (api/api.h; default 1024). */
	double coord_gossip_bytes_per_s;
	/** Verified nearest answers kept, s (api/api.h; default 10). */
	double verify_cache_s;
	/** Member-table cap (gossip.h max_members; default 10,000). */
	size_t max_members;
	/** Coordinate cache entries (agent/coords.h max_entries; 65536). */
	unsigned coord_cache_max;
	/**
	 * COMPARISON RUNS ONLY (fleet-sim's Lifeguard benchmark; no config
	 * key or flag sets it): Lifeguard components switched off, a mask of
	 * NC_CONFIG_LG_* (gossip.h lha_probe, lha_suspicion, buddy_system,
	 * nack). 0 (default) = all on; NC_CONFIG_LG_ALL = classic SWIM.
	 */
	unsigned lifeguard_off;
	/** COMPARISON RUNS ONLY, as above: gossip.h suspicion_mult and
	 * suspicion_max_timeout_mult (0: the profile's). */
	int suspicion_mult, suspicion_max_timeout_mult;
	/** TESTS ONLY (no config key or flag sets it): packets and streams
	 * sent uncompressed (gossip.h compression), for simulations that do
	 * not study the wire (fuzz_http's fleet: LZW under coverage
	 * instrumentation was a fifth of its time). */
	bool compression_off;
	/** PRNG seed; seed_set false = take one from getrandom(). */
	uint64_t seed;
	bool seed_set;
	/**
	 * TEST FACILITY: latency emulation (loop/latency.h). Paths are
	 * "" when off; latency_row_set false = find our row in the map.
	 */
	char latency_matrix[NC_CONFIG_PATH_MAX];
	char latency_map[NC_CONFIG_PATH_MAX];
	char latency_rules[NC_CONFIG_PATH_MAX];
	int latency_row;
	bool latency_row_set;
	/** Start-up warnings (see the top comment), for the log. */
	char warnings[NC_CONFIG_MAX_WARNINGS][NC_CONFIG_WARNING_MAX];
	size_t warnings_n;
	/** Internal: key or token values set so far (config-file check). */
	unsigned secrets_set;
};

/** Defaults (node_name = hostname). */
void nc_config_init(struct nc_config *cfg);

/** Free owned strings; the struct may be re-initialised afterwards. */
void nc_config_destroy(struct nc_config *cfg);

/**
 * Parse @a argc/@a argv (argv[0] is the subcommand name and is skipped):
 * first every -config-file, in order, then the other flags on top, then
 * the -tags-file (if it exists).
 * On error returns a negative code and writes a message naming the field
 * into @a err, e.g. `"bind": invalid address "1.2.3"`. On success
 * cfg->warnings lists what the agent should log at start.
 * @retval 0 ok, 1 help was asked (usage printed to stdout), <0 error.
 */
int nc_config_parse_args(struct nc_config *cfg, int argc, char **argv,
			 char *err, size_t err_cap);

/**
 * Apply a JSON config file (object with the keys above). Unknown keys and
 * wrong types are errors naming the key.
 */
int nc_config_load_file(struct nc_config *cfg, const char *path, char *err,
			size_t err_cap);

/** Apply a JSON document held in memory (for tests). */
int nc_config_load_json(struct nc_config *cfg, const char *text, char *err,
			size_t err_cap);

/** Most fields nc_config_diff() names in one list. */
#define NC_CONFIG_DIFF_MAX 40

/**
 * What differs between the running configuration and one parsed again
 * (reload). Names are the JSON keys of the fields (static strings).
 */
struct nc_config_diff {
	/** Changed, and taken at run time. */
	const char *applied[NC_CONFIG_DIFF_MAX];
	size_t applied_n;
	/** Changed, but only a restart applies them. */
	const char *restart[NC_CONFIG_DIFF_MAX];
	size_t restart_n;
};

/** Compare @a running with @a next (both parsed) into @a out. */
void nc_config_diff(const struct nc_config *running,
		    const struct nc_config *next, struct nc_config_diff *out);

/**
 * Move the fields taken at run time (the applied ones of nc_config_diff)
 * from @a next into @a running; the others of @a running stay as they
 * are (still what runs). @a next is left to nc_config_destroy().
 */
void nc_config_take_reloadable(struct nc_config *running,
			       struct nc_config *next);

/** Usage text of `netcoord agent`. */
void nc_config_usage(FILE *f);

#endif /* NC_AGENT_CONFIG_H */
