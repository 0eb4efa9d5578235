/*
 * cmd/agent.c - `netcoord agent`: parse the configuration, start the
 * process's loop and the agent on it, serve HTTP, run until a signal.
 *
 *   config (agent/config.c) ─┐
 *                            ├─> real loop (loop/, one epoll loop)
 *                            ├─> agent (agent/: gossip + coordinates)
 *                            └─> HTTP API (api/, MHD inside the same loop)
 *
 * Everything the process owns is in one struct proc; there are no
 * globals. Signals reach the loop through a signalfd (SIGTERM / SIGINT /
 * SIGHUP are blocked and read as ordinary events), so shutdown is an
 * ordinary callback: the 1st SIGTERM or SIGINT starts the agent's graceful
 * leave (nc_agent_leave; the loop stops once it has spread), the 2nd
 * stops at once.
 *
 * Reload (issue 10 item 5): SIGHUP and PUT /v1/agent/reload (registered
 * here, NC_API_WRITE) parse the command line kept from the start again
 * (nc_config_parse_args: config files, environment, flags on top, the
 * tags file, the token file: the same precedence as at start) into a new
 * configuration. A parse error keeps the running one entirely and is
 * logged (and answered 400). Otherwise nc_config_diff names what changed:
 * log level, tags (nc_agent_set_tags: announced at once, tags file
 * rewritten), token, allowed hosts and unauthenticated writes
 * (nc_api_set_access) are applied; the rest (bind, node name, TLS files,
 * ...) is named in one log line "reload: not applied until restart: ...".
 * TEST FACILITY: the -latency-rules file is re-read too.
 *
 * The HTTP API may hold many connections (blocking queries:
 * -http-max-conns): the soft open-files limit is raised towards the hard
 * one when it would not fit them, with a warning if even that is short.
 *
 * At start the configuration's warnings are logged (agent/config.h:
 * readable key/token files, gossip or HTTP exposed beyond loopback
 * without a key or token; issue 9 rows 13, 14).
 */
#include "cmd/agent.h"

#include <errno.h>
#include <ifaddrs.h>
#include <malloc.h>
#include <net/if.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "agent/agent.h"
#include "agent/config.h"
#include "api/api.h"
#include "gossip/gossip.h"
#include "loop/latency.h"
#include "loop/loop.h"

/**
 * Memory. Resident memory is a target (half of serf's), so transient
 * allocations must not stay resident after use: a JSON list of 1,000
 * members is ~1 MiB of small cJSON nodes, freed in the middle of the heap
 * where glibc keeps it. Every TRIM_INTERVAL_S seconds the free pages
 * inside the heap are given back with malloc_trim(0) (glibc madvises them
 * away; well under a millisecond at 1,000 members). Measured at 1,000
 * members: -1 MiB after a GET /v1/members. (Lowering M_MMAP_THRESHOLD
 * instead made things worse: blocks that used to reuse freed heap space
 * got fresh mappings.) The interval is arbitrary.
 */
#define TRIM_INTERVAL_S 10.0

/** The process: configuration, loop, agent, HTTP. */
struct proc {
	/** Parsed configuration (owns tag strings and the key). */
	struct nc_config cfg;
	/** The loop (real env). */
	struct nc_env *env;
	/**
	 * TEST FACILITY: the latency decorator around env that the agent
	 * uses instead of env with -latency-matrix (loop/latency.h); NULL
	 * otherwise.
	 */
	struct nc_env *lat_env;
	struct nc_agent *agent;
	/** Resolves join names without blocking the loop (agent/resolve.h). */
	struct nc_agent_resolver *resolver;
	/** Exit status once the loop stops (1: -retry-join gave up). */
	int exit_code;
	/** HTTP endpoint, NULL with -http-addr=off. */
	struct nc_api *api;
	/** signalfd for SIGTERM/SIGINT/SIGHUP and its watch. */
	int sigfd;
	struct nc_env_watch sig_watch;
	/** Periodic malloc_trim() (see TRIM_INTERVAL_S). */
	struct nc_timer trim_timer;
	/** The command line, parsed again on reload (main's argv). */
	int argc;
	char **argv;
};

static void
proc_log(struct proc *p, enum nc_log_level lvl, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void
proc_log(struct proc *p, enum nc_log_level lvl, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	if (lvl < p->env->log_level)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	p->env->ops->log(p->env, lvl, "agent", msg);
}

static void
trim_timer_cb(struct nc_timer *t)
{
	struct proc *p = t->arg;
	malloc_trim(0);
	p->env->ops->timer_start(p->env, &p->trim_timer, TRIM_INTERVAL_S);
}

/* ------------------------------------------------------------------ */
/* Signals and leave                                                  */
/* ------------------------------------------------------------------ */

/** The agent's leave has spread: stop the loop. */
static void
left(void *ctx)
{
	struct proc *p = ctx;
	nc_env_real_stop(p->env);
}

/** -retry-join gave up after -retry-max retries: exit 1, as serf. */
static void
retry_failed(void *ctx)
{
	struct proc *p = ctx;
	p->exit_code = 1;
	nc_env_real_stop(p->env);
}

/**
 * We lost a vote on a conflict over our name: another node holds it.
 * serf shuts down then and its agent exits 0 (so that a supervisor does
 * not restart it into the same conflict); we do the same, without a
 * leave (the name is the other node's).
 */
static void
conflict_lost(void *ctx)
{
	struct proc *p = ctx;
	proc_log(p, NC_LOG_WARN,
		 "Serf shutdown detected (lost a name conflict), quitting");
	p->exit_code = 0;
	nc_env_real_stop(p->env);
}

/** Append "a, b, c" of @a n names to @a out. */
static void
join_names(const char *const *names, size_t n, char *out, size_t cap)
{
	size_t len = 0;
	out[0] = '\0';
	for (size_t i = 0; i < n && len < cap; i++) {
		int w = snprintf(out + len, cap - len, "%s%s", i ? ", " : "",
				 names[i]);
		if (w < 0)
			break;
		len += (size_t)w;
	}
}

/**
 * TEST FACILITY: re-read the -latency-rules file (it is not part of the
 * configuration: a bad one keeps the old rules, as before reload existed).
 */
static void
reload_latency_rules(struct proc *p)
{
	char err[640] = "", sum[128] = "";
	const char *path = p->cfg.latency_rules;
	if (p->lat_env == NULL || path[0] == '\0')
		return;
	if (nc_env_latency_rules_load(p->lat_env, path, err, sizeof(err)) <
	    0) {
		proc_log(p, NC_LOG_WARN,
			 "reload: TEST FACILITY: latency rules kept: %s", err);
		return;
	}
	nc_env_latency_rules_summary(p->lat_env, sum, sizeof(sum));
	proc_log(p, NC_LOG_INFO,
		 "reload: TEST FACILITY: latency rules re-read from %s: %s",
		 path, sum);
}

/** The API's access rules from the configuration. */
static void
api_access(const struct nc_config *c, struct nc_api_config *ac)
{
	snprintf(ac->token, sizeof(ac->token), "%s", c->http_token);
	ac->allow_unauthenticated_writes = c->http_allow_unauthenticated_writes;
	for (size_t i = 0; i < c->http_allowed_hosts_n &&
			   i < NC_API_MAX_ALLOWED_HOSTS;
	     i++)
		snprintf(ac->allowed_hosts[i], sizeof(ac->allowed_hosts[i]), "%s",
			 c->http_allowed_hosts[i]);
	ac->allowed_hosts_n = c->http_allowed_hosts_n;
}

/**
 * Reload (SIGHUP or PUT /v1/agent/reload; see the top comment). On
 * success @a d says what was applied and what waits for a restart; on
 * failure (-EINVAL) @a err says why and nothing changed.
 */
static int
reload(struct proc *p, struct nc_config_diff *d, char *err, size_t cap)
{
	struct nc_config next;
	char why[640] = "", list[640];
	nc_config_init(&next);
	int rc = nc_config_parse_args(&next, p->argc, p->argv, why,
				      sizeof(why));
	if (rc == 0) {
		nc_config_diff(&p->cfg, &next, d);
		rc = nc_agent_tags_check(next.tags, next.tags_n, why,
					 sizeof(why));
	}
	if (rc != 0) {
		snprintf(err, cap, "%s", why);
		proc_log(p, NC_LOG_ERR,
			 "reload: configuration kept, nothing applied: %s", err);
		nc_config_destroy(&next);
		return -EINVAL;
	}
	for (size_t i = 0; i < next.warnings_n; i++)
		proc_log(p, NC_LOG_WARN, "%s", next.warnings[i]);
	for (size_t i = 0; i < d->applied_n; i++) {
		const char *f = d->applied[i];
		if (strcmp(f, "log_level") == 0) {
			nc_env_real_set_log_level(p->env, next.log_level);
			if (p->lat_env != NULL)
				p->lat_env->log_level = next.log_level;
		} else if (strcmp(f, "tags") == 0 &&
			   nc_agent_set_tags(p->agent, next.tags, next.tags_n,
					     why, sizeof(why)) < 0) {
			/* Announced; only the tags file failed (logged). */
		}
	}
	if (p->api != NULL) {
		struct nc_api_config ac;
		nc_api_config_default(&ac);
		api_access(&next, &ac);
		nc_api_set_access(p->api, &ac);
		memset(ac.token, 0, sizeof(ac.token));
	}
	nc_config_take_reloadable(&p->cfg, &next);
	nc_config_destroy(&next);
	join_names(d->applied, d->applied_n, list, sizeof(list));
	proc_log(p, NC_LOG_INFO, "reload: applied: %s",
		 d->applied_n > 0 ? list : "nothing changed");
	if (d->restart_n > 0) {
		join_names(d->restart, d->restart_n, list, sizeof(list));
		proc_log(p, NC_LOG_WARN, "reload: not applied until restart: %s",
			 list);
	}
	reload_latency_rules(p);
	return 0;
}

/** PUT /v1/agent/reload: 200 {"Applied":[...],"NeedRestart":[...]}. */
static int
reload_route(void *ctx, const struct nc_api_request *req, cJSON **out,
	     char *err, size_t err_cap)
{
	struct proc *p = ctx;
	struct nc_config_diff d;
	(void)req;
	proc_log(p, NC_LOG_INFO, "reload asked over HTTP");
	if (reload(p, &d, err, err_cap) < 0)
		return 400;
	cJSON *o = cJSON_CreateObject();
	cJSON *a = cJSON_AddArrayToObject(o, "Applied");
	cJSON *r = cJSON_AddArrayToObject(o, "NeedRestart");
	for (size_t i = 0; a != NULL && i < d.applied_n; i++)
		cJSON_AddItemToArray(a, cJSON_CreateString(d.applied[i]));
	for (size_t i = 0; r != NULL && i < d.restart_n; i++)
		cJSON_AddItemToArray(r, cJSON_CreateString(d.restart[i]));
	if (o == NULL || a == NULL || r == NULL) {
		cJSON_Delete(o);
		snprintf(err, err_cap, "out of memory");
		return 500;
	}
	*out = o;
	return 200;
}

static void
signal_event(struct nc_env_watch *w, unsigned events)
{
	struct proc *p = w->arg;
	struct signalfd_siginfo si;
	(void)events;
	while (read(p->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGHUP) {
			struct nc_config_diff d;
			char err[640];
			proc_log(p, NC_LOG_INFO,
				 "Caught signal: Hangup. Reloading the "
				 "configuration");
			reload(p, &d, err, sizeof(err));
			continue;
		}
		if (nc_agent_leaving(p->agent)) {
			proc_log(p, NC_LOG_WARN,
				 "Caught second signal, exiting at once");
			nc_env_real_stop(p->env);
			return;
		}
		proc_log(p, NC_LOG_INFO,
			 "Caught signal: %s. Gracefully leaving the cluster",
			 strsignal((int)si.ssi_signo));
		nc_agent_leave(p->agent);
	}
}

static int
signals_setup(struct proc *p)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -errno;
	signal(SIGPIPE, SIG_IGN);
	p->sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (p->sigfd < 0)
		return -errno;
	return nc_env_real_watch_start(p->env, &p->sig_watch, p->sigfd,
				       NC_ENV_READ, signal_event, p);
}

/* ------------------------------------------------------------------ */
/* Start-up                                                           */
/* ------------------------------------------------------------------ */

static bool
addr_is_any(const struct nc_addr *x)
{
	for (size_t i = 0; i < nc_addr_ip_len(x); i++)
		if (x->ip[i] != 0)
			return false;
	return true;
}

/**
 * memberlist advertises the first private IPv4 when bound to a wildcard;
 * we take the first up, non-loopback IPv4 (or 127.0.0.1 if there is none).
 */
static void
pick_advertise_ip(struct nc_addr *out)
{
	struct ifaddrs *ifs = NULL, *i;
	out->family = 4;
	memset(out->ip, 0, sizeof(out->ip));
	out->ip[0] = 127;
	out->ip[3] = 1;
	if (getifaddrs(&ifs) != 0)
		return;
	for (i = ifs; i != NULL; i = i->ifa_next) {
		if (i->ifa_addr == NULL || i->ifa_addr->sa_family != AF_INET ||
		    (i->ifa_flags & IFF_LOOPBACK) || !(i->ifa_flags & IFF_UP))
			continue;
		memcpy(out->ip,
		       &((struct sockaddr_in *)i->ifa_addr)->sin_addr, 4);
		break;
	}
	freeifaddrs(ifs);
}

static uint64_t
random_seed(void)
{
	uint64_t s = 0;
	if (getrandom(&s, sizeof(s), 0) != (ssize_t)sizeof(s))
		s = (uint64_t)getpid() ^ (uint64_t)time(NULL) << 20;
	return s;
}

/**
 * TEST FACILITY: with -latency-matrix, wrap the real env in the latency
 * decorator (loop/latency.h). Our row: -latency-row, else the map
 * line named like this node, else the line with our advertise address.
 * With -latency-rules, the rules file is read once here (SIGHUP re-reads
 * it). Returns 0 (also when off) or -EINVAL with a message on stderr.
 */
static int
latency_setup(struct proc *p, const struct nc_addr *advertise)
{
	struct nc_config *c = &p->cfg;
	char err[512] = "";
	double *m = NULL;
	size_t n = 0, peers_n = 0;
	struct nc_env_latency_peer *peers = NULL;
	int rc = -EINVAL;

	if (c->latency_matrix[0] == '\0') {
		bool any = c->latency_map[0] != '\0' || c->latency_row_set ||
			   c->latency_rules[0] != '\0';
		if (any)
			fprintf(stderr, "netcoord: config: \"latency_map\", "
					"\"latency_row\" and \"latency_rules\" "
					"need \"latency_matrix\"\n");
		return any ? -EINVAL : 0;
	}
	if (nc_env_latency_matrix_load(c->latency_matrix, &m, &n, err,
				       sizeof(err)) < 0)
		goto out;
	if (c->latency_map[0] != '\0' &&
	    nc_env_latency_map_load(c->latency_map, n, &peers, &peers_n, err,
				    sizeof(err)) < 0)
		goto out;
	int row = c->latency_row_set
			  ? c->latency_row
			  : nc_env_latency_map_find(peers, peers_n,
						    c->node_name, advertise);
	if (row < 0) {
		snprintf(err, sizeof(err),
			 "no -latency-row, and no line of the map names "
			 "\"%s\" or our address",
			 c->node_name);
		goto out;
	}
	struct nc_env_latency_config lc = {
		.rtt_ms = m, .n = n, .self_row = row,
		.peers = peers, .peers_n = peers_n,
	};
	p->lat_env = nc_env_latency_new(p->env, &lc, err, sizeof(err));
	if (p->lat_env == NULL)
		goto out;
	if (c->latency_rules[0] != '\0' &&
	    nc_env_latency_rules_load(p->lat_env, c->latency_rules, err,
				      sizeof(err)) < 0) {
		fprintf(stderr, "netcoord: config: \"latency_rules\": %s\n",
			err);
		free(m);
		free(peers);
		return -EINVAL;
	}
	char sum[128] = "";
	if (c->latency_rules[0] != '\0')
		nc_env_latency_rules_summary(p->lat_env, sum, sizeof(sum));
	proc_log(p, NC_LOG_WARN,
		 "TEST FACILITY: latency emulation on (matrix %s, %zu rows, "
		 "own row %d, %zu peers mapped%s%s)",
		 c->latency_matrix, n, row, peers_n, sum[0] ? "; rules: " : "",
		 sum);
	rc = 0;
out:
	if (rc < 0)
		fprintf(stderr, "netcoord: config: latency: %s\n", err);
	free(m);
	free(peers);
	return rc;
}

/** The address gossip advertises: -advertise, else the bound one. */
static void
advertise_addr(struct proc *p, struct nc_addr *out)
{
	const struct nc_config *c = &p->cfg;
	struct nc_addr local;
	nc_env_real_local_addr(p->env, &local);
	if (c->advertise.family != 0) {
		*out = c->advertise;
		if (out->port == 0)
			out->port = local.port;
	} else if (addr_is_any(&c->bind)) {
		pick_advertise_ip(out);
		out->port = local.port;
	} else {
		*out = local;
	}
}

static int
loop_start(struct proc *p)
{
	char err[256] = "";
	const struct nc_config *c = &p->cfg;
	struct nc_env_real_config ec;
	nc_env_real_config_default(&ec);
	ec.bind = c->bind;
	ec.seed = c->seed_set ? c->seed : random_seed();
	ec.log_level = c->log_level;
	struct nc_gossip_config gc;
	nc_gossip_config_default(&gc, (enum nc_gossip_profile)c->profile);
	ec.tcp_timeout = gc.tcp_timeout;
	p->env = nc_env_real_new(&ec, err, sizeof(err));
	if (p->env == NULL) {
		fprintf(stderr, "netcoord: config: \"bind\": %s\n", err);
		return 2;
	}
	return 0;
}

/**
 * Files the process needs besides HTTP connections: the gossip sockets,
 * epoll, signalfd, timers, TCP streams, MHD's own. Generous.
 */
#define NC_AGENT_SPARE_FDS 256

/** Raise RLIMIT_NOFILE (soft, up to hard) to fit @a conns connections. */
static void
nofile_fit(struct proc *p, unsigned conns)
{
	struct rlimit rl;
	rlim_t want = (rlim_t)conns + NC_AGENT_SPARE_FDS;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= want)
		return;
	rlim_t old = rl.rlim_cur;
	rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= want
			  ? want
			  : rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
		rl.rlim_cur = old;
	if (rl.rlim_cur < want)
		proc_log(p, NC_LOG_WARN,
			 "open-files limit %llu (hard %llu) is below the "
			 "%llu that -http-max-conns %u needs: connections "
			 "beyond it will fail",
			 (unsigned long long)rl.rlim_cur,
			 (unsigned long long)rl.rlim_max,
			 (unsigned long long)want, conns);
}

static int
http_start(struct proc *p)
{
	char err[1280] = "";
	const struct nc_config *c = &p->cfg;
	if (c->http_addr.family == 0)
		return 0;
	struct nc_api_config ac;
	nc_api_config_default(&ac);
	ac.addr = c->http_addr;
	api_access(c, &ac);
	ac.max_connections_per_client = c->http_max_conns_per_client;
	ac.max_connections = c->http_max_conns;
	ac.max_held = c->http_max_held;
	nofile_fit(p, c->http_max_conns);
	ac.latency_env = p->lat_env;
	ac.verify_cache_s = c->verify_cache_s;
	ac.version = NC_AGENT_VERSION;
	ac.tls_cert_pem = c->http_tls_cert_pem;
	ac.tls_key_pem = c->http_tls_key_pem;
	ac.tls_cert_name = c->http_tls_cert;
	ac.tls_key_name = c->http_tls_key;
	p->api = nc_api_new(p->env, p->agent, &ac, err, sizeof(err));
	memset(ac.token, 0, sizeof(ac.token));
	if (p->api == NULL) {
		/* TLS messages name their field and file already. */
		fprintf(stderr, "netcoord: config: %s%s\n",
			err[0] == '"' ? "" : "\"http_addr\": ", err);
		return 2;
	}
	if (nc_api_route_add_ex(p->api, "PUT", "/v1/agent/reload",
				NC_API_WRITE, reload_route, p) < 0) {
		fprintf(stderr, "netcoord: out of memory\n");
		return 1;
	}
	return 0;
}

/** Everything after config parsing. Returns an exit code. */
static int
proc_run(struct proc *p)
{
	char err[256] = "";
	const struct nc_config *c = &p->cfg;
	int rc = loop_start(p);
	if (rc != 0)
		return rc;
	for (size_t i = 0; i < c->warnings_n; i++)
		proc_log(p, NC_LOG_WARN, "%s", c->warnings[i]);
	struct nc_addr adv;
	advertise_addr(p, &adv);
	if (latency_setup(p, &adv) < 0)
		return 2;
	p->agent = nc_agent_new(p->lat_env != NULL ? p->lat_env : p->env, c,
				&adv, left, p, err, sizeof(err));
	if (p->agent == NULL) {
		fprintf(stderr, "netcoord: config: %s\n", err);
		return 2;
	}
	p->resolver = nc_agent_resolver_gai_new(p->env);
	if (p->resolver == NULL) {
		fprintf(stderr, "netcoord: out of memory\n");
		return 1;
	}
	nc_agent_set_resolver(p->agent, p->resolver);
	nc_agent_set_retry_failed_cb(p->agent, retry_failed, p);
	nc_agent_set_conflict_lost_cb(p->agent, conflict_lost, p);
	if ((rc = http_start(p)) != 0)
		return rc;
	if (signals_setup(p) < 0) {
		fprintf(stderr, "netcoord: signalfd: %s\n", strerror(errno));
		return 1;
	}
	char as[64], hs[80] = "off";
	nc_addr_format(&adv, as, sizeof(as));
	if (p->api != NULL) {
		struct nc_addr h = c->http_addr;
		h.port = (uint16_t)nc_api_port(p->api);
		nc_addr_format(&h, hs, sizeof(hs) - 8);
		if (c->http_tls_cert_pem != NULL)
			strcat(hs, " (https)");
	}
	proc_log(p, NC_LOG_INFO,
		 "netcoord agent running: node '%s', gossip %s, http %s, "
		 "encrypted: %s",
		 c->node_name, as, hs,
		 nc_agent_keyring_list(p->agent, NULL, 0) >= 0 ? "yes" : "no");
	if (nc_agent_start(p->agent) < 0) {
		fprintf(stderr, "netcoord: cannot start gossip\n");
		return 1;
	}
	p->env->ops->timer_start(p->env, &p->trim_timer, TRIM_INTERVAL_S);
	rc = nc_env_real_run(p->env);
	if (rc < 0) {
		fprintf(stderr, "netcoord: event loop: %s\n", strerror(-rc));
		return 1;
	}
	return p->exit_code;
}

static void
proc_cleanup(struct proc *p)
{
	nc_api_delete(p->api);
	nc_agent_delete(p->agent);
	nc_agent_resolver_gai_delete(p->resolver);
	nc_env_latency_delete(p->lat_env);
	if (p->env != NULL) {
		p->env->ops->timer_stop(p->env, &p->trim_timer);
		nc_env_real_watch_stop(p->env, &p->sig_watch);
	}
	if (p->sigfd >= 0)
		close(p->sigfd);
	nc_env_real_delete(p->env);
	nc_config_destroy(&p->cfg);
}

int
nc_cmd_agent(int argc, char **argv)
{
	struct proc *p = calloc(1, sizeof(*p));
	char err[512] = "";
	if (p == NULL) {
		fprintf(stderr, "netcoord: out of memory\n");
		return 1;
	}
	p->sigfd = -1;
	p->argc = argc;
	p->argv = argv;
	nc_timer_init(&p->trim_timer, trim_timer_cb, p);
	nc_config_init(&p->cfg);
	int rc = nc_config_parse_args(&p->cfg, argc, argv, err, sizeof(err));
	if (rc != 0) {
		if (rc < 0)
			fprintf(stderr, "netcoord: config: %s\n", err);
		nc_config_destroy(&p->cfg);
		free(p);
		return rc > 0 ? 0 : 2;
	}
	rc = proc_run(p);
	proc_cleanup(p);
	free(p);
	return rc;
}
