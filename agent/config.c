/*
 * agent/config.c - flags and JSON config file of `netcoord agent`.
 *
 * One setter per field (apply_*) takes the value as text, validates it and
 * stores it; both the flag parser and the JSON loader go through the same
 * setters, so a value means the same thing wherever it comes from, and an
 * error names the same field: `"bind": invalid address "1.2.3"`.
 *
 * Precedence: config files are applied first, in the order given, then
 * the flags. Scalars are overwritten; -join and -retry-join addresses
 * accumulate; tags are merged by key (a later value replaces an earlier
 * one). This is serf's rule for its -config-file and flags. Last, the
 * -tags-file is read (serf refuses it together with -tag/"tags").
 *
 * The JSON file is read whole (capped at 1 MiB) and parsed with cJSON; the
 * tree is freed once at its root.
 *
 * Secrets (issue 9 row 13): the key and the token can come from a file
 * (-encrypt-file, -http-token-file) or the environment (NETCOORD_ENCRYPT,
 * NETCOORD_HTTP_TOKEN, applied after the config files and before the
 * flags) so that they stay out of /proc/PID/cmdline; -encrypt stays for
 * serf compatibility. Such a file, or a config file that sets a key or
 * token, that is group- or world-readable earns a warning naming it
 * (cfg->warnings); tokens shorter than 16 characters are refused.
 * Exposure (row 14): gossip bound beyond loopback without a key and HTTP
 * beyond loopback without a token are warnings too (the latter also says
 * "plaintext" when no TLS certificate is configured).
 *
 * HTTPS (issue 10 item 4): -http-tls-cert and -http-tls-key are read here,
 * after the flags (both or neither; a missing or unreadable file stops
 * start-up naming it; a key file others can read earns the token file's
 * warning). Whether they hold PEM and match is checked by the API
 * (api/tls.c) before MHD starts, where the TLS library is.
 *
 * Reload (issue 10 item 5): nc_config_diff() compares field by field; the
 * five fields the agent can change at run time are listed in
 * `reloadable` below, everything else that differs needs a restart.
 */
#include "agent/config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "agent/files.h"
#include "agent/resolve.h"
#include "gossip/crypto.h"
#include "gossip/gossip.h"
#include "util/util.h"

/** Largest config file we read. Nothing special in this value. */
#define NC_CONFIG_FILE_MAX (1024 * 1024)

/** A message into @a err and -EINVAL (nc_errf). */
#define fail(err, cap, ...) nc_errf(err, cap, -EINVAL, __VA_ARGS__)

static void
warn(struct nc_config *cfg, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/** Keep a start-up warning (beyond NC_CONFIG_MAX_WARNINGS: dropped). */
static void
warn(struct nc_config *cfg, const char *fmt, ...)
{
	va_list ap;
	if (cfg->warnings_n == NC_CONFIG_MAX_WARNINGS)
		return;
	va_start(ap, fmt);
	vsnprintf(cfg->warnings[cfg->warnings_n++], NC_CONFIG_WARNING_MAX, fmt,
		  ap);
	va_end(ap);
}

/** Warn if the file open as @a f (named @a path) is group/world-readable. */
static void
warn_if_readable(struct nc_config *cfg, unsigned mode, const char *path,
		 const char *what)
{
	if (!(mode & (S_IRGRP | S_IROTH)))
		return;
	warn(cfg, "%s %s is readable by %s (mode %03o): chmod 600 it", what,
	     path, (mode & S_IROTH) ? "every user" : "its group",
	     mode & 0777);
}

void
nc_config_init(struct nc_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	if (gethostname(cfg->node_name, sizeof(cfg->node_name)) != 0 ||
	    cfg->node_name[0] == '\0')
		strcpy(cfg->node_name, "netcoord");
	cfg->node_name[NC_CONFIG_NAME_MAX] = '\0';
	cfg->bind.family = 4; /* 0.0.0.0 */
	cfg->bind.port = NC_CONFIG_DEFAULT_PORT;
	cfg->profile = NC_CONFIG_PROFILE_LAN;
	cfg->log_level = NC_LOG_INFO;
	cfg->http_addr.family = 4;
	cfg->http_addr.ip[0] = 127;
	cfg->http_addr.ip[3] = 1;
	cfg->http_addr.port = NC_CONFIG_DEFAULT_HTTP_PORT;
	cfg->coord_gossip_bytes_per_s = 1024;
	cfg->http_max_conns_per_client = 16;
	cfg->http_max_conns = 64;
	cfg->http_max_held = 4096;
	cfg->retry_interval_s = NC_CONFIG_DEFAULT_RETRY_INTERVAL_S;
	cfg->verify_cache_s = NC_CONFIG_DEFAULT_VERIFY_CACHE_S;
	cfg->max_members = NC_GOSSIP_MAX_MEMBERS_DEFAULT;
	cfg->coord_cache_max = 65536;
}

void
nc_config_destroy(struct nc_config *cfg)
{
	for (size_t i = 0; i < cfg->tags_n; i++) {
		free(cfg->tags[i].key);
		free(cfg->tags[i].value);
	}
	cfg->tags_n = 0;
	for (size_t i = 0; i < cfg->join_n; i++)
		free(cfg->join[i]);
	cfg->join_n = 0;
	for (size_t i = 0; i < cfg->retry_join_n; i++)
		free(cfg->retry_join[i]);
	cfg->retry_join_n = 0;
	/* Wipe the key (the compiler may not drop a volatile store). */
	volatile uint8_t *k = cfg->key;
	for (size_t i = 0; i < sizeof(cfg->key); i++)
		k[i] = 0;
	cfg->key_len = 0;
	volatile char *t = cfg->http_token;
	for (size_t i = 0; i < sizeof(cfg->http_token); i++)
		t[i] = 0;
	free(cfg->http_tls_cert_pem);
	cfg->http_tls_cert_pem = NULL;
	if (cfg->http_tls_key_pem != NULL) {
		volatile char *k2 = cfg->http_tls_key_pem;
		for (size_t i = 0; k2[i] != '\0'; i++)
			k2[i] = 0;
		free(cfg->http_tls_key_pem);
		cfg->http_tls_key_pem = NULL;
	}
}

/* ------------------------------------------------------------------ */
/* Setters: one per field, shared by flags and JSON                   */
/* ------------------------------------------------------------------ */

static int
apply_node_name(struct nc_config *cfg, const char *v, char *err, size_t cap)
{
	size_t n = strlen(v);
	if (n == 0)
		return fail(err, cap, "\"node_name\": must not be empty");
	if (n > NC_CONFIG_NAME_MAX)
		return fail(err, cap,
			    "\"node_name\": longer than %d bytes",
			    NC_CONFIG_NAME_MAX);
	memcpy(cfg->node_name, v, n + 1);
	return 0;
}

static int
apply_addr(const char *field, const char *v, uint16_t default_port,
	   struct nc_addr *out, char *err, size_t cap)
{
	struct nc_addr a;
	if (nc_addr_parse(v, default_port, &a) != 0)
		return fail(err, cap, "\"%s\": invalid address \"%s\"", field,
			    v);
	*out = a;
	return 0;
}

/** One more "HOST[:PORT]" for -join / -retry-join (names allowed). */
static int
add_join_addr(const char *field, char **list, size_t *n, const char *v,
	      char *err, size_t cap)
{
	char host[NC_AGENT_HOST_MAX + 1];
	uint16_t port;
	if (*n == NC_CONFIG_MAX_JOIN)
		return fail(err, cap, "\"%s\": more than %d addresses", field,
			    NC_CONFIG_MAX_JOIN);
	if (nc_agent_hostport_parse(v, NC_CONFIG_DEFAULT_PORT, host,
				    sizeof(host), &port) != 0)
		return fail(err, cap, "\"%s\": invalid address \"%s\"", field,
			    v);
	if ((list[*n] = strdup(v)) == NULL)
		return fail(err, cap, "out of memory");
	(*n)++;
	return 0;
}

static int
apply_join(struct nc_config *cfg, const char *v, char *err, size_t cap)
{
	return add_join_addr("join", cfg->join, &cfg->join_n, v, err, cap);
}

static int
apply_retry_join(struct nc_config *cfg, const char *v, char *err, size_t cap)
{
	return add_join_addr("retry_join", cfg->retry_join,
			     &cfg->retry_join_n, v, err, cap);
}

static int
apply_retry_interval(struct nc_config *cfg, const char *v, char *err,
		     size_t cap)
{
	double s;
	if (nc_parse_duration(v, true, &s) != 0 || s > 86400.0 * 365)
		return fail(err, cap,
			    "\"retry_interval\": want a duration such as "
			    "\"30s\" or \"1m\", got \"%s\"",
			    v);
	cfg->retry_interval_s = s;
	return 0;
}

static int
apply_verify_cache(struct nc_config *cfg, const char *v, char *err, size_t cap)
{
	double s;
	if (nc_parse_duration(v, true, &s) != 0 ||
	    s > NC_CONFIG_MAX_VERIFY_CACHE_S)
		return fail(err, cap,
			    "\"verify_cache\": want a duration from 0s to 1h "
			    "such as \"10s\", got \"%s\"",
			    v);
	cfg->verify_cache_s = s;
	return 0;
}

static int
apply_retry_max(struct nc_config *cfg, const char *v, char *err, size_t cap)
{
	char *end;
	errno = 0;
	long n = strtol(v, &end, 10);
	if (errno != 0 || end == v || *end != '\0' || n < 0 || n > 1000000000)
		return fail(err, cap,
			    "\"retry_max_attempts\": want a count >= 0 "
			    "(0 = no limit), got \"%s\"",
			    v);
	cfg->retry_max = (unsigned)n;
	return 0;
}

static int
apply_encrypt(struct nc_config *cfg, const char *v, char *err, size_t cap)
{
	char why[128] = "";
	size_t len = 0;
	if (v[0] == '\0') {
		cfg->key_len = 0;
		return 0;
	}
	if (nc_crypto_key_parse_base64(v, cfg->key, &len, why, sizeof(why)) !=
	    0)
		return fail(err, cap, "\"encrypt\": %s",
			    why[0] ? why
				   : "invalid key (want base64 of 16, 24 or "
				     "32 bytes)");
	cfg->key_len = len;
	cfg->secrets_set++;
	return 0;
}

/**
 * Read a small secret file (a key or a token, optionally followed by a
 * newline) into @a buf; warn if others can read it. 0 or -EINVAL with
 * err naming @a field.
 */
static int
read_secret_file(struct nc_config *cfg, const char *field, const char *what,
		 const char *path, char *buf, size_t bufcap, char *err,
		 size_t cap)
{
	char *text, inner[256];
	size_t n;
	unsigned mode;
	if (nc_file_read(path, bufcap - 1, &text, &n, &mode, inner,
			 sizeof(inner)) < 0)
		return fail(err, cap, "\"%s\": %s", field, inner);
	warn_if_readable(cfg, mode, path, what);
	memcpy(buf, text, n + 1);
	free(text);
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' ||
			 buf[n - 1] == ' ' || buf[n - 1] == '\t'))
		buf[--n] = '\0';
	if (n == 0)
		return fail(err, cap, "\"%s\": %s is empty", field, path);
	return 0;
}

static int
apply_encrypt_file(struct nc_config *cfg, const char *v, char *err,
		   size_t cap)
{
	char buf[128], inner[160];
	unsigned secrets = cfg->secrets_set;
	int rc = read_secret_file(cfg, "encrypt_file", "key file", v, buf,
				  sizeof(buf), err, cap);
	if (rc == 0 && apply_encrypt(cfg, buf, inner, sizeof(inner)) < 0)
		/* inner is "\"encrypt\": why": name the file's field. */
		rc = fail(err, cap, "\"encrypt_file\": %s: %s", v,
			  inner + strlen("\"encrypt\": "));
	memset(buf, 0, sizeof(buf));
	/* Not inline in a config file: the file warns on its own. */
	cfg->secrets_set = secrets;
	return rc;
}

static int
apply_profile(struct nc_config *cfg, const char *v, char *err, size_t cap)
{
	if (strcmp(v, "lan") == 0)
		cfg->profile = NC_CONFIG_PROFILE_LAN;
	else if (strcmp(v, "wan") == 0)
		cfg->profile = NC_CONFIG_PROFILE_WAN;
	else if (strcmp(v, "local") == 0)
		cfg->profile = NC_CONFIG_PROFILE_LOCAL;
	else
		return fail(err, cap,
			    "\"profile\": unknown profile \"%s\" "
			    "(lan, wan or local)",
			    v);
	return 0;
}

static int
apply_log_level(struct nc_config *cfg, const char *v, char *err, size_t cap)
{
	if (strcasecmp(v, "debug") == 0 || strcasecmp(v, "trace") == 0)
		cfg->log_level = NC_LOG_DEBUG;
	else if (strcasecmp(v, "info") == 0)
		cfg->log_level = NC_LOG_INFO;
	else if (strcasecmp(v, "warn") == 0 || strcasecmp(v, "warning") == 0)
		cfg->log_level = NC_LOG_WARN;
	else if (strcasecmp(v, "error") == 0 || strcasecmp(v, "err") == 0)
		cfg->log_level = NC_LOG_ERR;
	else
		return fail(err, cap,
			    "\"log_level\": unknown level \"%s\" "
			    "(debug, info, warn or error)",
			    v);
	return 0;
}

static int
apply_http_addr(struct nc_config *cfg, const char *v, char *err, size_t cap)
{
	if (v[0] == '\0' || strcmp(v, "off") == 0) {
		memset(&cfg->http_addr, 0, sizeof(cfg->http_addr));
		return 0;
	}
	return apply_addr("http_addr", v, NC_CONFIG_DEFAULT_HTTP_PORT,
			  &cfg->http_addr, err, cap);
}

static int
apply_seed(struct nc_config *cfg, const char *v, char *err, size_t cap)
{
	char *end;
	errno = 0;
	unsigned long long s = strtoull(v, &end, 0);
	if (errno != 0 || end == v || *end != '\0')
		return fail(err, cap, "\"seed\": not an integer \"%s\"", v);
	cfg->seed = s;
	cfg->seed_set = true;
	return 0;
}

static int
apply_http_token(struct nc_config *cfg, const char *v, char *err, size_t cap)
{
	size_t n = strlen(v);
	if (n == 0) {
		cfg->http_token[0] = '\0';
		return 0;
	}
	if (n >= sizeof(cfg->http_token))
		return fail(err, cap, "\"http_token\": longer than %zu bytes",
			    sizeof(cfg->http_token) - 1);
	if (n < NC_CONFIG_TOKEN_MIN)
		return fail(err, cap,
			    "\"http_token\": shorter than %d characters (got "
			    "%zu): use a random token, e.g. `netcoord keygen`",
			    NC_CONFIG_TOKEN_MIN, n);
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)v[i] <= ' ' || (unsigned char)v[i] > '~')
			return fail(err, cap,
				    "\"http_token\": only printable ASCII "
				    "without spaces");
	memcpy(cfg->http_token, v, n + 1);
	cfg->secrets_set++;
	return 0;
}

/** The token file holds the token, optionally followed by a newline. */
static int
apply_http_token_file(struct nc_config *cfg, const char *v, char *err,
		      size_t cap)
{
	char buf[sizeof(cfg->http_token) + 2];
	unsigned secrets = cfg->secrets_set;
	int rc = read_secret_file(cfg, "http_token_file", "token file", v, buf,
				  sizeof(buf), err, cap);
	if (rc == 0)
		rc = apply_http_token(cfg, buf, err, cap);
	cfg->secrets_set = secrets;
	memset(buf, 0, sizeof(buf));
	return rc;
}

static int
apply_http_allow_writes(struct nc_config *cfg, const char *v, char *err,
			size_t cap)
{
	if (nc_parse_bool(v, &cfg->http_allow_unauthenticated_writes) != 0)
		return fail(err, cap,
			    "\"http_allow_unauthenticated_writes\": want true "
			    "or false, got \"%s\"",
			    v);
	return 0;
}

static int
apply_http_allowed_host(struct nc_config *cfg, const char *v, char *err,
			size_t cap)
{
	size_t n = strlen(v);
	if (cfg->http_allowed_hosts_n == NC_CONFIG_MAX_ALLOWED_HOSTS)
		return fail(err, cap, "\"http_allowed_host\": more than %d names",
			    NC_CONFIG_MAX_ALLOWED_HOSTS);
	if (n == 0 || n >= sizeof(cfg->http_allowed_hosts[0]))
		return fail(err, cap,
			    "\"http_allowed_host\": want a host name of 1..%zu "
			    "bytes",
			    sizeof(cfg->http_allowed_hosts[0]) - 1);
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)v[i] <= ' ' || (unsigned char)v[i] > '~' ||
		    v[i] == '/')
			return fail(err, cap,
				    "\"http_allowed_host\": not a host name "
				    "\"%.64s\"",
				    v);
	memcpy(cfg->http_allowed_hosts[cfg->http_allowed_hosts_n++], v, n + 1);
	return 0;
}

/** An integer @a key in lo..hi from text @a v into *out. */
static int
apply_count(const char *key, const char *v, long lo, long hi, unsigned *out,
	    char *err, size_t cap)
{
	char *end;
	errno = 0;
	long r = strtol(v, &end, 10);
	if (errno != 0 || end == v || *end != '\0' || r < lo || r > hi)
		return fail(err, cap, "\"%s\": want %ld..%ld, got \"%s\"",
			    key, lo, hi, v);
	*out = (unsigned)r;
	return 0;
}

static int
apply_http_max_conns(struct nc_config *cfg, const char *v, char *err,
		     size_t cap)
{
	return apply_count("http_max_conns", v, 1, 1000000,
			   &cfg->http_max_conns, err, cap);
}

static int
apply_http_max_held(struct nc_config *cfg, const char *v, char *err,
		    size_t cap)
{
	return apply_count("http_max_held", v, 1, 1000000, &cfg->http_max_held,
			   err, cap);
}

static int
apply_http_max_conns_per_client(struct nc_config *cfg, const char *v,
				char *err, size_t cap)
{
	char *end;
	errno = 0;
	long r = strtol(v, &end, 10);
	if (errno != 0 || end == v || *end != '\0' || r < 0 || r > 100000)
		return fail(err, cap,
			    "\"http_max_conns_per_client\": want 0..100000 "
			    "(0 = no limit), got \"%s\"",
			    v);
	cfg->http_max_conns_per_client = (unsigned)r;
	return 0;
}

static int
apply_coord_gossip_rate(struct nc_config *cfg, const char *v, char *err,
			size_t cap)
{
	char *end;
	errno = 0;
	double r = strtod(v, &end);
	if (errno != 0 || end == v || *end != '\0' || !(r >= 0) || r > 1e7)
		return fail(err, cap,
			    "\"coord_gossip_rate\": want bytes/s in 0..1e7, "
			    "got \"%s\"",
			    v);
	cfg->coord_gossip_bytes_per_s = r;
	return 0;
}

static int
apply_coord_cache_max(struct nc_config *cfg, const char *v, char *err,
		      size_t cap)
{
	char *end;
	errno = 0;
	unsigned long long n = strtoull(v, &end, 10);
	if (errno != 0 || end == v || *end != '\0' || *v == '-' || n < 16 ||
	    n > 10000000)
		return fail(err, cap,
			    "\"coord_cache_max\": want a count in 16..10000000, "
			    "got \"%s\"",
			    v);
	cfg->coord_cache_max = (unsigned)n;
	return 0;
}

static int
apply_max_members(struct nc_config *cfg, const char *v, char *err, size_t cap)
{
	char *end;
	errno = 0;
	unsigned long long n = strtoull(v, &end, 10);
	if (errno != 0 || end == v || *end != '\0' || *v == '-' || n < 1 ||
	    n > 10000000)
		return fail(err, cap,
			    "\"max_members\": want a count in 1..10000000, "
			    "got \"%s\"",
			    v);
	cfg->max_members = (size_t)n;
	return 0;
}

/* TEST FACILITY: latency emulation files and own row. */
static int
apply_path(const char *field, const char *v, char *out, char *err, size_t cap)
{
	if (strlen(v) >= NC_CONFIG_PATH_MAX)
		return fail(err, cap, "\"%s\": path longer than %d bytes", field,
			    NC_CONFIG_PATH_MAX - 1);
	strcpy(out, v);
	return 0;
}

static int
apply_keyring_file(struct nc_config *cfg, const char *v, char *err,
		   size_t cap)
{
	return apply_path("keyring_file", v, cfg->keyring_file, err, cap);
}

static int
apply_tags_file(struct nc_config *cfg, const char *v, char *err, size_t cap)
{
	return apply_path("tags_file", v, cfg->tags_file, err, cap);
}

static int
apply_http_tls_cert(struct nc_config *cfg, const char *v, char *err,
		    size_t cap)
{
	return apply_path("http_tls_cert", v, cfg->http_tls_cert, err, cap);
}

static int
apply_http_tls_key(struct nc_config *cfg, const char *v, char *err,
		   size_t cap)
{
	return apply_path("http_tls_key", v, cfg->http_tls_key, err, cap);
}

static int
apply_snapshot(struct nc_config *cfg, const char *v, char *err, size_t cap)
{
	return apply_path("snapshot_path", v, cfg->snapshot_path, err, cap);
}

static int
apply_rejoin(struct nc_config *cfg, const char *v, char *err, size_t cap)
{
	if (nc_parse_bool(v, &cfg->rejoin_after_leave) != 0)
		return fail(err, cap,
			    "\"rejoin_after_leave\": want true or false, got "
			    "\"%s\"",
			    v);
	return 0;
}

static int
apply_latency_matrix(struct nc_config *cfg, const char *v, char *err,
		     size_t cap)
{
	return apply_path("latency_matrix", v, cfg->latency_matrix, err, cap);
}

static int
apply_latency_map(struct nc_config *cfg, const char *v, char *err, size_t cap)
{
	return apply_path("latency_map", v, cfg->latency_map, err, cap);
}

static int
apply_latency_rules(struct nc_config *cfg, const char *v, char *err,
		    size_t cap)
{
	return apply_path("latency_rules", v, cfg->latency_rules, err, cap);
}

static int
apply_latency_row(struct nc_config *cfg, const char *v, char *err,
		  size_t cap)
{
	char *end;
	errno = 0;
	long r = strtol(v, &end, 10);
	if (errno != 0 || end == v || *end != '\0' || r < 0 || r > 1000000)
		return fail(err, cap,
			    "\"latency_row\": not a row number \"%s\"", v);
	cfg->latency_row = (int)r;
	cfg->latency_row_set = true;
	return 0;
}

static int
apply_tag_kv(struct nc_config *cfg, const char *k, const char *v, char *err,
	     size_t cap)
{
	if (k[0] == '\0')
		return fail(err, cap, "\"tags\": empty tag name");
	for (size_t i = 0; i < cfg->tags_n; i++) {
		if (strcmp(cfg->tags[i].key, k) == 0) {
			char *nv = strdup(v);
			if (nv == NULL)
				return fail(err, cap, "out of memory");
			free(cfg->tags[i].value);
			cfg->tags[i].value = nv;
			return 0;
		}
	}
	if (cfg->tags_n == NC_CONFIG_MAX_TAGS)
		return fail(err, cap, "\"tags\": more than %d tags",
			    NC_CONFIG_MAX_TAGS);
	char *nk = strdup(k), *nv = strdup(v);
	if (nk == NULL || nv == NULL) {
		free(nk);
		free(nv);
		return fail(err, cap, "out of memory");
	}
	cfg->tags[cfg->tags_n].key = nk;
	cfg->tags[cfg->tags_n].value = nv;
	cfg->tags_n++;
	return 0;
}

/** "-tag key=value". */
static int
apply_tag(struct nc_config *cfg, const char *v, char *err, size_t cap)
{
	const char *eq = strchr(v, '=');
	if (eq == NULL)
		return fail(err, cap, "\"tags\": expected key=value, got \"%s\"",
			    v);
	char k[256];
	size_t kl = (size_t)(eq - v);
	if (kl >= sizeof(k))
		return fail(err, cap, "\"tags\": tag name too long");
	memcpy(k, v, kl);
	k[kl] = '\0';
	return apply_tag_kv(cfg, k, eq + 1, err, cap);
}

static int
apply_bind(struct nc_config *cfg, const char *v, char *err, size_t cap)
{
	return apply_addr("bind", v, NC_CONFIG_DEFAULT_PORT, &cfg->bind, err,
			  cap);
}

static int
apply_advertise(struct nc_config *cfg, const char *v, char *err, size_t cap)
{
	/* Port 0 = "same as bind", resolved by the agent. */
	return apply_addr("advertise", v, 0, &cfg->advertise, err, cap);
}

/* ------------------------------------------------------------------ */
/* Flags                                                              */
/* ------------------------------------------------------------------ */

typedef int (*apply_fn)(struct nc_config *, const char *, char *, size_t);

/** One flag: its name, its JSON key, its setter. */
struct flag {
	const char *name;
	const char *key;
	apply_fn apply;
	const char *help;
};

static const struct flag flags[] = {
	{"node", "node_name", apply_node_name,
	 "node name, unique in the cluster (default: hostname)"},
	{"bind", "bind", apply_bind,
	 "UDP+TCP gossip address (default 0.0.0.0:7946)"},
	{"advertise", "advertise", apply_advertise,
	 "address advertised to others (default: from -bind)"},
	{"join", "join", apply_join,
	 "HOST[:PORT] of a member to join (names resolved at each attempt);\n"
	 "                  repeatable, retried every 2 s until one answers"},
	{"retry-join", "retry_join", apply_retry_join,
	 "like -join, retried every -retry-interval (serf's); repeatable"},
	{"retry-interval", "retry_interval", apply_retry_interval,
	 "time between -retry-join attempts (default 30s, at least 1s)"},
	{"verify-cache", "verify_cache", apply_verify_cache,
	 "how long a verified /v1/nearest?verify=K answer is reused\n"
	 "                  (default 10s; 0 = measure every time)"},
	{"retry-max", "retry_max_attempts", apply_retry_max,
	 "failed -retry-join retries before exiting 1 (default 0: no limit)"},
	{"encrypt", "encrypt", apply_encrypt,
	 "base64 encryption key (16, 24 or 32 bytes), like serf -encrypt"},
	{"encrypt-file", "encrypt_file", apply_encrypt_file,
	 "file holding the key (or $NETCOORD_ENCRYPT; not in the process list)"},
	{"keyring-file", "keyring_file", apply_keyring_file,
	 "serf keyring file (JSON array of base64 keys, primary first):\n"
	 "                  loaded if it exists, rewritten on every key change"},
	{"tags-file", "tags_file", apply_tags_file,
	 "file persisting the tags (JSON object); not with -tag"},
	{"snapshot", "snapshot_path", apply_snapshot,
	 "serf's snapshot file: members, coordinates and peer state,\n"
	 "                  rewritten atomically at most every 10 s and at "
	 "leave/exit"},
	{"rejoin", "rejoin_after_leave", apply_rejoin,
	 "rejoin the snapshot's members even after a graceful leave\n"
	 "                  (serf's; after a crash they are always rejoined)"},
	{"profile", "profile", apply_profile,
	 "timing profile: lan (default), wan or local"},
	{"tag", "tags", apply_tag, "tag key=value; repeatable"},
	{"log-level", "log_level", apply_log_level,
	 "debug, info (default), warn or error"},
	{"http-addr", "http_addr", apply_http_addr,
	 "HTTP API address (default 127.0.0.1:8555; \"off\" disables)"},
	{"http-token", "http_token", apply_http_token,
	 "API bearer token (16+ characters); every endpoint but /v1/health "
	 "and /ui/ needs it"},
	{"http-token-file", "http_token_file", apply_http_token_file,
	 "file holding the API token (or $NETCOORD_HTTP_TOKEN; safer than the "
	 "command line)"},
	{"http-allowed-host", "http_allowed_host", apply_http_allowed_host,
	 "Host name the API answers besides loopback and its own address "
	 "(DNS rebinding guard); repeatable"},
	{"http-tls-cert", "http_tls_cert", apply_http_tls_cert,
	 "PEM certificate (chain) of the API: serve HTTPS (with "
	 "-http-tls-key)"},
	{"http-tls-key", "http_tls_key", apply_http_tls_key,
	 "PEM private key of -http-tls-cert (chmod 600 it)"},
	{"http-max-conns-per-client", "http_max_conns_per_client",
	 apply_http_max_conns_per_client,
	 "HTTP connections per client address (default 16; 0 = no limit)"},
	{"http-max-conns", "http_max_conns", apply_http_max_conns,
	 "HTTP connections at once, held blocking queries included\n"
	 "                  (default 64; the open-files limit is raised to fit)"},
	{"http-max-held", "http_max_held", apply_http_max_held,
	 "blocking queries (?index=) held at once; beyond, 429 (default "
	 "4096)"},
	{"http-allow-unauthenticated-writes",
	 "http_allow_unauthenticated_writes", apply_http_allow_writes,
	 "true: join/leave/keyring (also reading it) work without a token "
	 "(default false)"},
	{"coord-gossip-rate", "coord_gossip_rate", apply_coord_gossip_rate,
	 "coordinate gossip per agent, bytes/s (default 1024; 0 = off)"},
	{"coord-cache-max", "coord_cache_max", apply_coord_cache_max,
	 "coordinate cache entries; beyond, the oldest are evicted (default "
	 "65536)"},
	{"max-members", "max_members", apply_max_members,
	 "member-table cap; new members beyond it are refused (default 10000)"},
	{"seed", "seed", apply_seed,
	 "PRNG seed (default: random; fix it for reproducible runs)"},
	{"latency-matrix", "latency_matrix", apply_latency_matrix,
	 "TEST FACILITY: RTT matrix (ms) to emulate; delays every packet"},
	{"latency-map", "latency_map", apply_latency_map,
	 "TEST FACILITY: lines \"ADDR:PORT ROW [NAME]\" mapping peers to rows"},
	{"latency-row", "latency_row", apply_latency_row,
	 "TEST FACILITY: own row (default: map line named like -node)"},
	{"latency-rules", "latency_rules", apply_latency_rules,
	 "TEST FACILITY: loss/partition/block rules file, re-read on SIGHUP"},
	{"config-file", NULL, NULL,
	 "JSON file with the keys above (flags override it); repeatable"},
};

#define NFLAGS (sizeof(flags) / sizeof(flags[0]))

void
nc_config_usage(FILE *f)
{
	fprintf(f, "usage: netcoord agent [flags]\n\n"
		   "Runs a gossip agent wire-compatible with serf 0.9.4.\n\n"
		   "flags:\n");
	for (size_t i = 0; i < NFLAGS; i++)
		fprintf(f, "  -%-15s %s\n", flags[i].name, flags[i].help);
	fprintf(f, "\nJSON keys: node_name, bind, advertise, join (array), "
		   "retry_join (array),\n  retry_interval, retry_max_attempts, "
		   "verify_cache, "
		   "encrypt, encrypt_file, keyring_file, tags_file,\n  "
		   "snapshot_path, rejoin_after_leave (bool), "
		   "profile, tags (object), log_level, http_addr, "
		   "http_token, http_token_file,\n  "
		   "http_allowed_host (array), http_tls_cert, http_tls_key,\n  "
		   "http_max_conns_per_client, http_max_conns, http_max_held, "
		   "http_allow_unauthenticated_writes (bool), "
		   "coord_gossip_rate, coord_cache_max, max_members, seed,\n  "
		   "latency_matrix, latency_map, latency_row, latency_rules.\n"
		   "\nEnvironment: NETCOORD_ENCRYPT (key), NETCOORD_HTTP_TOKEN "
		   "(token), between the\nconfig files and the flags.\n"
		   "\nTEST FACILITY flags (-latency-*) emulate wide-area "
		   "latency on one machine\n(scripts/cluster.sh); never use "
		   "them in production.\n");
}

/**
 * Split argv[*i] into flag name and value ("-x=v", "-x v", "--x v").
 * Returns the flag, NULL if unknown (err set). *value is NULL if missing.
 */
static const struct flag *
flag_lookup(int argc, char **argv, int *i, const char **value, char *err,
	    size_t cap)
{
	const char *arg = argv[*i];
	const char *name = arg;
	if (name[0] != '-' || name[1] == '\0') {
		fail(err, cap, "unexpected argument \"%s\"", arg);
		return NULL;
	}
	name += name[1] == '-' ? 2 : 1;
	const char *eq = strchr(name, '=');
	size_t nl = eq != NULL ? (size_t)(eq - name) : strlen(name);
	for (size_t f = 0; f < NFLAGS; f++) {
		if (strlen(flags[f].name) != nl ||
		    strncmp(flags[f].name, name, nl) != 0)
			continue;
		if (eq != NULL) {
			*value = eq + 1;
		} else if (flags[f].apply == apply_rejoin) {
			/* A boolean, as serf's: "-rejoin" alone is true. */
			*value = "true";
		} else if (*i + 1 < argc) {
			*value = argv[++*i];
		} else {
			*value = NULL;
			fail(err, cap, "flag \"-%s\" needs a value",
			     flags[f].name);
			return NULL;
		}
		return &flags[f];
	}
	fail(err, cap, "unknown flag \"%s\"", arg);
	return NULL;
}

/** NETCOORD_ENCRYPT and NETCOORD_HTTP_TOKEN, if set and not empty. */
static int
apply_env(struct nc_config *cfg, char *err, size_t cap)
{
	static const struct {
		const char *var;
		apply_fn apply;
	} env[] = {
		{"NETCOORD_ENCRYPT", apply_encrypt},
		{"NETCOORD_HTTP_TOKEN", apply_http_token},
	};
	for (size_t i = 0; i < sizeof(env) / sizeof(env[0]); i++) {
		const char *v = getenv(env[i].var);
		char inner[256];
		if (v == NULL || v[0] == '\0')
			continue;
		if (env[i].apply(cfg, v, inner, sizeof(inner)) < 0)
			return fail(err, cap, "%s (from $%s)", inner,
				    env[i].var);
	}
	return 0;
}

/** Loopback (127.0.0.0/8, ::1, ::ffff:127.x)? A wildcard is not. */
static bool
addr_is_loopback(const struct nc_addr *a)
{
	static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0,
					     0, 0, 0, 0, 0xff, 0xff};
	static const uint8_t v6lo[16] = {0, 0, 0, 0, 0, 0, 0, 0,
					 0, 0, 0, 0, 0, 0, 0, 1};
	if (a->family == 4)
		return a->ip[0] == 127;
	return memcmp(a->ip, v6lo, 16) == 0 ||
	       (memcmp(a->ip, v4mapped, 12) == 0 && a->ip[12] == 127);
}

/** Issue 9 row 14: what listens beyond loopback without protection. */
static void
warn_exposure(struct nc_config *cfg)
{
	char a[64];
	if (cfg->key_len == 0 && !addr_is_loopback(&cfg->bind))
		warn(cfg,
		     "gossip is bound to %s, beyond loopback, without "
		     "encryption: anyone who can reach it can join, spoof "
		     "suspect/dead/leave messages and use it to reflect "
		     "UDP (give -encrypt-file or $NETCOORD_ENCRYPT)",
		     nc_addr_format(&cfg->bind, a, sizeof(a)));
	if (cfg->http_addr.family != 0 && cfg->http_token[0] == '\0' &&
	    !addr_is_loopback(&cfg->http_addr))
		warn(cfg,
		     "HTTP API listens on %s, beyond loopback, without a "
		     "token%s: anyone who can reach it reads the members and "
		     "coordinates (give -http-token-file or "
		     "$NETCOORD_HTTP_TOKEN%s)",
		     nc_addr_format(&cfg->http_addr, a, sizeof(a)),
		     cfg->http_tls_cert_pem == NULL ? " and in plaintext" : "",
		     cfg->http_tls_cert_pem == NULL
			     ? ", and -http-tls-cert/-http-tls-key"
			     : "");
}

/** Largest TLS certificate chain or key file read. Nothing special. */
#define NC_CONFIG_TLS_FILE_MAX (256 * 1024)

/**
 * -http-tls-cert and -http-tls-key: both or neither; read whole (the
 * API checks what they hold). A key file others can read: warning.
 */
static int
load_tls_files(struct nc_config *cfg, char *err, size_t cap)
{
	char inner[NC_CONFIG_PATH_MAX + 128];
	unsigned mode = 0;
	bool c = cfg->http_tls_cert[0] != '\0', k = cfg->http_tls_key[0] != '\0';
	if (!c && !k)
		return 0;
	if (c != k)
		return fail(err, cap,
			    "\"%s\": given (%s) without \"%s\": HTTPS needs "
			    "both the certificate and its key",
			    c ? "http_tls_cert" : "http_tls_key",
			    c ? cfg->http_tls_cert : cfg->http_tls_key,
			    c ? "http_tls_key" : "http_tls_cert");
	free(cfg->http_tls_cert_pem);
	cfg->http_tls_cert_pem = NULL;
	if (nc_file_read(cfg->http_tls_cert, NC_CONFIG_TLS_FILE_MAX,
			 &cfg->http_tls_cert_pem, NULL, NULL, inner,
			 sizeof(inner)) < 0)
		return fail(err, cap, "\"http_tls_cert\": %s", inner);
	if (cfg->http_tls_key_pem != NULL) {
		memset(cfg->http_tls_key_pem, 0, strlen(cfg->http_tls_key_pem));
		free(cfg->http_tls_key_pem);
		cfg->http_tls_key_pem = NULL;
	}
	if (nc_file_read(cfg->http_tls_key, NC_CONFIG_TLS_FILE_MAX,
			 &cfg->http_tls_key_pem, NULL, &mode, inner,
			 sizeof(inner)) < 0)
		return fail(err, cap, "\"http_tls_key\": %s", inner);
	warn_if_readable(cfg, mode, cfg->http_tls_key, "TLS key file");
	return 0;
}

static bool
is_help(const char *a)
{
	return strcmp(a, "-h") == 0 || strcmp(a, "-help") == 0 ||
	       strcmp(a, "--help") == 0;
}

/**
 * serf's -tags-file: not together with tags from flags or config files
 * ("Tags config not allowed while using tag files"); the tags saved in
 * the file, if it exists, else none.
 */
static int
load_tags_file(struct nc_config *cfg, char *err, size_t cap)
{
	const char *path = cfg->tags_file;
	char *text = NULL, why[NC_CONFIG_PATH_MAX + 64];
	if (path[0] == '\0')
		return 0;
	if (cfg->tags_n > 0)
		return fail(err, cap,
			    "\"tags_file\": -tag and \"tags\" are not "
			    "allowed with a tags file (%s), as in serf",
			    path);
	int rc = nc__agent_file_read(path, &text, why, sizeof(why));
	if (rc == -ENOENT)
		return 0;
	if (rc < 0)
		return fail(err, cap, "\"tags_file\": %s", why);
	cJSON *root = cJSON_Parse(text);
	free(text);
	rc = 0;
	if (!cJSON_IsObject(root)) {
		rc = fail(err, cap,
			  "\"tags_file\": %s: not a JSON object of strings",
			  path);
	} else {
		const cJSON *t;
		cJSON_ArrayForEach(t, root)
		{
			if (!cJSON_IsString(t)) {
				rc = fail(err, cap,
					  "\"tags_file\": %s: value of \"%s\" "
					  "is not a string",
					  path, t->string);
				break;
			}
			rc = apply_tag_kv(cfg, t->string, t->valuestring,
					  err, cap);
			if (rc < 0)
				break;
		}
	}
	cJSON_Delete(root);
	return rc;
}

int
nc_config_parse_args(struct nc_config *cfg, int argc, char **argv, char *err,
		     size_t err_cap)
{
	/* Pass 1: help, unknown flags, config files in order. */
	for (int i = 1; i < argc; i++) {
		if (is_help(argv[i])) {
			nc_config_usage(stdout);
			return 1;
		}
		const char *v;
		const struct flag *f =
			flag_lookup(argc, argv, &i, &v, err, err_cap);
		if (f == NULL)
			return -EINVAL;
		if (f->apply == NULL) {
			int rc = nc_config_load_file(cfg, v, err, err_cap);
			if (rc < 0)
				return rc;
		}
	}
	/* The environment, then pass 2: the flags on top. */
	int rc = apply_env(cfg, err, err_cap);
	if (rc < 0)
		return rc;
	for (int i = 1; i < argc; i++) {
		const char *v;
		const struct flag *f =
			flag_lookup(argc, argv, &i, &v, err, err_cap);
		if (f->apply == NULL)
			continue;
		rc = f->apply(cfg, v, err, err_cap);
		if (rc < 0)
			return rc;
	}
	rc = load_tags_file(cfg, err, err_cap);
	if (rc < 0)
		return rc;
	rc = load_tls_files(cfg, err, err_cap);
	if (rc < 0)
		return rc;
	warn_exposure(cfg);
	if (cfg->rejoin_after_leave && cfg->snapshot_path[0] == '\0')
		warn(cfg, "-rejoin has no effect without -snapshot (serf's "
			  "warning too)");
	return 0;
}

/* ------------------------------------------------------------------ */
/* JSON                                                               */
/* ------------------------------------------------------------------ */

static int
json_string(const cJSON *item, const char *key, const char **out, char *err,
	    size_t cap)
{
	if (!cJSON_IsString(item) || item->valuestring == NULL)
		return fail(err, cap, "\"%s\": must be a string", key);
	*out = item->valuestring;
	return 0;
}

static int
json_apply(struct nc_config *cfg, const cJSON *root, char *err, size_t cap)
{
	if (!cJSON_IsObject(root))
		return fail(err, cap, "top level must be a JSON object");
	for (const cJSON *it = root->child; it != NULL; it = it->next) {
		const char *key = it->string;
		const char *s = NULL;
		int rc = 0;
		if (strcmp(key, "join") == 0 || strcmp(key, "retry_join") == 0) {
			apply_fn add = key[0] == 'j' ? apply_join
						     : apply_retry_join;
			if (cJSON_IsString(it)) {
				rc = add(cfg, it->valuestring, err, cap);
			} else if (cJSON_IsArray(it)) {
				const cJSON *j;
				cJSON_ArrayForEach(j, it)
				{
					if (!cJSON_IsString(j))
						return fail(err, cap,
							    "\"%s\": must be "
							    "an array of "
							    "strings",
							    key);
					rc = add(cfg, j->valuestring, err,
						 cap);
					if (rc < 0)
						return rc;
				}
			} else {
				return fail(err, cap,
					    "\"%s\": must be an array of "
					    "strings",
					    key);
			}
		} else if (strcmp(key, "http_allowed_host") == 0 &&
			   cJSON_IsArray(it)) {
			const cJSON *h;
			cJSON_ArrayForEach(h, it)
			{
				if (!cJSON_IsString(h))
					return fail(err, cap,
						    "\"http_allowed_host\": "
						    "must be an array of "
						    "strings");
				rc = apply_http_allowed_host(
					cfg, h->valuestring, err, cap);
				if (rc < 0)
					return rc;
			}
		} else if (strcmp(key, "http_max_conns_per_client") == 0 &&
			   cJSON_IsNumber(it)) {
			char num[32];
			snprintf(num, sizeof(num), "%.0f", it->valuedouble);
			rc = apply_http_max_conns_per_client(cfg, num, err,
							     cap);
		} else if ((strcmp(key, "http_max_conns") == 0 ||
			    strcmp(key, "http_max_held") == 0) &&
			   cJSON_IsNumber(it)) {
			char num[32];
			snprintf(num, sizeof(num), "%.17g", it->valuedouble);
			rc = key[9] == 'c' ? apply_http_max_conns(cfg, num, err,
								  cap)
					   : apply_http_max_held(cfg, num, err,
								 cap);
		} else if (strcmp(key, "verify_cache") == 0 &&
			   cJSON_IsNumber(it)) {
			char num[64];
			snprintf(num, sizeof(num), "%.17g", it->valuedouble);
			rc = apply_verify_cache(cfg, num, err, cap);
		} else if ((strcmp(key, "retry_max_attempts") == 0 ||
			    strcmp(key, "retry_interval") == 0) &&
			   cJSON_IsNumber(it)) {
			char num[64];
			snprintf(num, sizeof(num), "%.17g", it->valuedouble);
			rc = key[6] == 'm' ? apply_retry_max(cfg, num, err, cap)
					   : apply_retry_interval(cfg, num, err,
								  cap);
		} else if (strcmp(key, "tags") == 0) {
			if (!cJSON_IsObject(it))
				return fail(err, cap,
					    "\"tags\": must be an object of "
					    "strings");
			const cJSON *t;
			cJSON_ArrayForEach(t, it)
			{
				if (!cJSON_IsString(t))
					return fail(err, cap,
						    "\"tags\": value of \"%s\" "
						    "must be a string",
						    t->string);
				rc = apply_tag_kv(cfg, t->string,
						  t->valuestring, err, cap);
				if (rc < 0)
					return rc;
			}
		} else if (strcmp(key, "latency_row") == 0 &&
			   cJSON_IsNumber(it)) {
			char num[32];
			snprintf(num, sizeof(num), "%.0f", it->valuedouble);
			rc = apply_latency_row(cfg, num, err, cap);
		} else if (strcmp(key, "rejoin_after_leave") == 0 &&
			   cJSON_IsBool(it)) {
			cfg->rejoin_after_leave = cJSON_IsTrue(it);
		} else if (strcmp(key, "http_allow_unauthenticated_writes") ==
				   0 &&
			   cJSON_IsBool(it)) {
			cfg->http_allow_unauthenticated_writes =
				cJSON_IsTrue(it);
		} else if (strcmp(key, "coord_gossip_rate") == 0 &&
			   cJSON_IsNumber(it)) {
			char num[64];
			snprintf(num, sizeof(num), "%.17g", it->valuedouble);
			rc = apply_coord_gossip_rate(cfg, num, err, cap);
		} else if (strcmp(key, "coord_cache_max") == 0 &&
			   cJSON_IsNumber(it)) {
			char num[64];
			snprintf(num, sizeof(num), "%.17g", it->valuedouble);
			rc = apply_coord_cache_max(cfg, num, err, cap);
		} else if (strcmp(key, "max_members") == 0 &&
			   cJSON_IsNumber(it)) {
			char num[64];
			snprintf(num, sizeof(num), "%.17g", it->valuedouble);
			rc = apply_max_members(cfg, num, err, cap);
		} else if (strcmp(key, "seed") == 0 && cJSON_IsNumber(it)) {
			if (it->valuedouble < 0 || it->valuedouble > 9e15)
				return fail(err, cap,
					    "\"seed\": out of range");
			cfg->seed = (uint64_t)it->valuedouble;
			cfg->seed_set = true;
		} else {
			const struct flag *f = NULL;
			for (size_t i = 0; i < NFLAGS; i++)
				if (flags[i].key != NULL &&
				    strcmp(flags[i].key, key) == 0)
					f = &flags[i];
			if (f == NULL)
				return fail(err, cap, "unknown field \"%s\"",
					    key);
			rc = json_string(it, key, &s, err, cap);
			if (rc == 0)
				rc = f->apply(cfg, s, err, cap);
		}
		if (rc < 0)
			return rc;
	}
	return 0;
}

int
nc_config_load_json(struct nc_config *cfg, const char *text, char *err,
		    size_t err_cap)
{
	cJSON *root = cJSON_Parse(text);
	if (root == NULL) {
		const char *at = cJSON_GetErrorPtr();
		int line = 1;
		for (const char *p = text; at != NULL && p < at; p++)
			line += *p == '\n';
		return fail(err, err_cap, "invalid JSON near line %d", line);
	}
	int rc = json_apply(cfg, root, err, err_cap);
	cJSON_Delete(root);
	return rc;
}

int
nc_config_load_file(struct nc_config *cfg, const char *path, char *err,
		    size_t err_cap)
{
	char *text, inner[256];
	unsigned mode;
	if (nc_file_read(path, NC_CONFIG_FILE_MAX, &text, NULL, &mode, inner,
			 sizeof(inner)) < 0)
		return fail(err, err_cap, "\"config_file\": %s", inner);
	unsigned secrets = cfg->secrets_set;
	int rc = nc_config_load_json(cfg, text, inner, sizeof(inner));
	free(text);
	if (rc < 0)
		return fail(err, err_cap, "%s: %s", path, inner);
	/* A key or token in the file itself (a key/token file it names
	 * warns on its own). */
	if (cfg->secrets_set != secrets)
		warn_if_readable(cfg, mode, path,
				 "config file holding a key or token:");
	return 0;
}

/* ------------------------------------------------------------------ */
/* Reload: what changed                                               */
/* ------------------------------------------------------------------ */

static bool
addr_eq(const struct nc_addr *x, const struct nc_addr *y)
{
	return x->family == y->family && x->port == y->port &&
	       (x->family == 0 ||
		memcmp(x->ip, y->ip, nc_addr_ip_len(x)) == 0);
}

static bool
str_list_eq(char *const *x, size_t xn, char *const *y, size_t yn)
{
	if (xn != yn)
		return false;
	for (size_t i = 0; i < xn; i++)
		if (strcmp(x[i], y[i]) != 0)
			return false;
	return true;
}

/** Same tags, in any order. */
static bool
tags_eq(const struct nc_config *x, const struct nc_config *y)
{
	if (x->tags_n != y->tags_n)
		return false;
	for (size_t i = 0; i < x->tags_n; i++) {
		size_t j = 0;
		while (j < y->tags_n && strcmp(x->tags[i].key, y->tags[j].key))
			j++;
		if (j == y->tags_n ||
		    strcmp(x->tags[i].value, y->tags[j].value) != 0)
			return false;
	}
	return true;
}

static bool
hosts_eq(const struct nc_config *x, const struct nc_config *y)
{
	if (x->http_allowed_hosts_n != y->http_allowed_hosts_n)
		return false;
	for (size_t i = 0; i < x->http_allowed_hosts_n; i++)
		if (strcmp(x->http_allowed_hosts[i], y->http_allowed_hosts[i]))
			return false;
	return true;
}

/** Both NULL, or the same text. */
static bool
pem_eq(const char *x, const char *y)
{
	return (x == NULL && y == NULL) ||
	       (x != NULL && y != NULL && strcmp(x, y) == 0);
}

static void
diff_add(const char **list, size_t *n, bool same, const char *field)
{
	if (!same && *n < NC_CONFIG_DIFF_MAX)
		list[(*n)++] = field;
}

void
nc_config_diff(const struct nc_config *r, const struct nc_config *x,
	       struct nc_config_diff *out)
{
	memset(out, 0, sizeof(*out));
	const char **a = out->applied, **b = out->restart;
	size_t *an = &out->applied_n, *bn = &out->restart_n;
	/* Taken at run time (nc_config_take_reloadable). */
	diff_add(a, an, r->log_level == x->log_level, "log_level");
	diff_add(a, an, tags_eq(r, x), "tags");
	diff_add(a, an, strcmp(r->http_token, x->http_token) == 0,
		 "http_token");
	diff_add(a, an, hosts_eq(r, x), "http_allowed_host");
	diff_add(a, an,
		 r->http_allow_unauthenticated_writes ==
			 x->http_allow_unauthenticated_writes,
		 "http_allow_unauthenticated_writes");
	/* Only at start. */
	diff_add(b, bn, strcmp(r->node_name, x->node_name) == 0, "node_name");
	diff_add(b, bn, addr_eq(&r->bind, &x->bind), "bind");
	diff_add(b, bn, addr_eq(&r->advertise, &x->advertise), "advertise");
	diff_add(b, bn, str_list_eq(r->join, r->join_n, x->join, x->join_n),
		 "join");
	diff_add(b, bn,
		 str_list_eq(r->retry_join, r->retry_join_n, x->retry_join,
			     x->retry_join_n),
		 "retry_join");
	diff_add(b, bn, r->retry_interval_s == x->retry_interval_s,
		 "retry_interval");
	diff_add(b, bn, r->retry_max == x->retry_max, "retry_max_attempts");
	diff_add(b, bn,
		 r->key_len == x->key_len &&
			 memcmp(r->key, x->key, r->key_len) == 0,
		 "encrypt");
	diff_add(b, bn, strcmp(r->keyring_file, x->keyring_file) == 0,
		 "keyring_file");
	diff_add(b, bn, strcmp(r->tags_file, x->tags_file) == 0, "tags_file");
	diff_add(b, bn, strcmp(r->snapshot_path, x->snapshot_path) == 0,
		 "snapshot_path");
	diff_add(b, bn, r->rejoin_after_leave == x->rejoin_after_leave,
		 "rejoin_after_leave");
	diff_add(b, bn, r->profile == x->profile, "profile");
	diff_add(b, bn, addr_eq(&r->http_addr, &x->http_addr), "http_addr");
	diff_add(b, bn,
		 strcmp(r->http_tls_cert, x->http_tls_cert) == 0 &&
			 pem_eq(r->http_tls_cert_pem, x->http_tls_cert_pem),
		 "http_tls_cert");
	diff_add(b, bn,
		 strcmp(r->http_tls_key, x->http_tls_key) == 0 &&
			 pem_eq(r->http_tls_key_pem, x->http_tls_key_pem),
		 "http_tls_key");
	diff_add(b, bn,
		 r->http_max_conns_per_client == x->http_max_conns_per_client,
		 "http_max_conns_per_client");
	diff_add(b, bn,
		 r->coord_gossip_bytes_per_s == x->coord_gossip_bytes_per_s,
		 "coord_gossip_rate");
	diff_add(b, bn, r->coord_cache_max == x->coord_cache_max,
		 "coord_cache_max");
	diff_add(b, bn, r->max_members == x->max_members, "max_members");
	diff_add(b, bn,
		 r->seed_set == x->seed_set &&
			 (!r->seed_set || r->seed == x->seed),
		 "seed");
	diff_add(b, bn, strcmp(r->latency_matrix, x->latency_matrix) == 0,
		 "latency_matrix");
	diff_add(b, bn, strcmp(r->latency_map, x->latency_map) == 0,
		 "latency_map");
	diff_add(b, bn,
		 r->latency_row_set == x->latency_row_set &&
			 r->latency_row == x->latency_row,
		 "latency_row");
	diff_add(b, bn, strcmp(r->latency_rules, x->latency_rules) == 0,
		 "latency_rules");
}

void
nc_config_take_reloadable(struct nc_config *r, struct nc_config *x)
{
	r->log_level = x->log_level;
	/* Swap the tags: x frees the old ones. */
	struct nc_config_tag tmp[NC_CONFIG_MAX_TAGS];
	size_t tn = r->tags_n;
	memcpy(tmp, r->tags, sizeof(tmp));
	memcpy(r->tags, x->tags, sizeof(tmp));
	r->tags_n = x->tags_n;
	memcpy(x->tags, tmp, sizeof(tmp));
	x->tags_n = tn;
	memcpy(r->http_token, x->http_token, sizeof(r->http_token));
	memcpy(r->http_allowed_hosts, x->http_allowed_hosts,
	       sizeof(r->http_allowed_hosts));
	r->http_allowed_hosts_n = x->http_allowed_hosts_n;
	r->http_allow_unauthenticated_writes =
		x->http_allow_unauthenticated_writes;
}
