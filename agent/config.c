/*
 * agent/config.c - flags and JSON config file of `netcoord agent`.
 *
 * One setter per field (apply_*) takes the value as text, validates it and
 * stores it; both the flag parser and the JSON loader go through the same
 * setters, so a value means the same thing wherever it comes from, and an
 * error names the same field: `"bind": invalid address "1.2.3"`.
 *
 * Precedence: config files are applied first, in the order given, then
 * the flags. Scalars are overwritten; -join addresses accumulate; tags are
 * merged by key (a later value replaces an earlier one). This is serf's
 * rule for its -config-file and flags.
 *
 * The JSON file is read whole (capped at 1 MiB) and parsed with cJSON; the
 * tree is freed once at its root.
 */
#include "agent/config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "gossip/crypto.h"
#include "util/util.h"

/** Largest config file we read. Nothing special in this value. */
#define NC_CONFIG_FILE_MAX (1024 * 1024)

static int
fail(char *err, size_t cap, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int
fail(char *err, size_t cap, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (err != NULL && cap > 0)
		vsnprintf(err, cap, fmt, ap);
	va_end(ap);
	return -EINVAL;
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
}

void
nc_config_destroy(struct nc_config *cfg)
{
	for (size_t i = 0; i < cfg->tags_n; i++) {
		free(cfg->tags[i].key);
		free(cfg->tags[i].value);
	}
	cfg->tags_n = 0;
	/* Wipe the key (the compiler may not drop a volatile store). */
	volatile uint8_t *k = cfg->key;
	for (size_t i = 0; i < sizeof(cfg->key); i++)
		k[i] = 0;
	cfg->key_len = 0;
	volatile char *t = cfg->http_token;
	for (size_t i = 0; i < sizeof(cfg->http_token); i++)
		t[i] = 0;
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

static int
apply_join(struct nc_config *cfg, const char *v, char *err, size_t cap)
{
	if (cfg->join_n == NC_CONFIG_MAX_JOIN)
		return fail(err, cap, "\"join\": more than %d addresses",
			    NC_CONFIG_MAX_JOIN);
	return apply_addr("join", v, NC_CONFIG_DEFAULT_PORT,
			  &cfg->join[cfg->join_n++], err, cap) == 0
		       ? 0
		       : (cfg->join_n--, -EINVAL);
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
	return 0;
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
	if (n >= sizeof(cfg->http_token))
		return fail(err, cap, "\"http_token\": longer than %zu bytes",
			    sizeof(cfg->http_token) - 1);
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)v[i] <= ' ' || (unsigned char)v[i] > '~')
			return fail(err, cap,
				    "\"http_token\": only printable ASCII "
				    "without spaces");
	memcpy(cfg->http_token, v, n + 1);
	return 0;
}

/** The token file holds the token, optionally followed by a newline. */
static int
apply_http_token_file(struct nc_config *cfg, const char *v, char *err,
		      size_t cap)
{
	char buf[sizeof(cfg->http_token) + 2];
	FILE *f = fopen(v, "rb");
	if (f == NULL)
		return fail(err, cap, "\"http_token_file\": %s: %s", v,
			    strerror(errno));
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		buf[--n] = '\0';
	if (n == 0)
		return fail(err, cap, "\"http_token_file\": %s is empty", v);
	int rc = apply_http_token(cfg, buf, err, cap);
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
	 "address of a member to join; repeatable, retried until one answers"},
	{"encrypt", "encrypt", apply_encrypt,
	 "base64 encryption key (16, 24 or 32 bytes), like serf -encrypt"},
	{"profile", "profile", apply_profile,
	 "timing profile: lan (default), wan or local"},
	{"tag", "tags", apply_tag, "tag key=value; repeatable"},
	{"log-level", "log_level", apply_log_level,
	 "debug, info (default), warn or error"},
	{"http-addr", "http_addr", apply_http_addr,
	 "HTTP API address (default 127.0.0.1:8555; \"off\" disables)"},
	{"http-token", "http_token", apply_http_token,
	 "API bearer token; every endpoint but /v1/health and /ui/ needs it"},
	{"http-token-file", "http_token_file", apply_http_token_file,
	 "file holding the API token (safer than the command line)"},
	{"http-allow-unauthenticated-writes",
	 "http_allow_unauthenticated_writes", apply_http_allow_writes,
	 "true: join/leave/keyring work without a token (default false)"},
	{"coord-gossip-rate", "coord_gossip_rate", apply_coord_gossip_rate,
	 "coordinate gossip per agent, bytes/s (default 1024; 0 = off)"},
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
		   "encrypt, profile,\n  tags (object), log_level, http_addr, "
		   "http_token, http_token_file,\n  "
		   "http_allow_unauthenticated_writes (bool), "
		   "coord_gossip_rate, seed,\n  "
		   "latency_matrix, latency_map, latency_row, latency_rules.\n"
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

static bool
is_help(const char *a)
{
	return strcmp(a, "-h") == 0 || strcmp(a, "-help") == 0 ||
	       strcmp(a, "--help") == 0;
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
	/* Pass 2: the flags on top. */
	for (int i = 1; i < argc; i++) {
		const char *v;
		const struct flag *f =
			flag_lookup(argc, argv, &i, &v, err, err_cap);
		if (f->apply == NULL)
			continue;
		int rc = f->apply(cfg, v, err, err_cap);
		if (rc < 0)
			return rc;
	}
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
		if (strcmp(key, "join") == 0) {
			if (cJSON_IsString(it)) {
				rc = apply_join(cfg, it->valuestring, err,
						cap);
			} else if (cJSON_IsArray(it)) {
				const cJSON *j;
				cJSON_ArrayForEach(j, it)
				{
					if (!cJSON_IsString(j))
						return fail(err, cap,
							    "\"join\": must be "
							    "an array of "
							    "strings");
					rc = apply_join(cfg, j->valuestring,
							err, cap);
					if (rc < 0)
						return rc;
				}
			} else {
				return fail(err, cap,
					    "\"join\": must be an array of "
					    "strings");
			}
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
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return fail(err, err_cap, "\"config_file\": %s: %s", path,
			    strerror(errno));
	char *text = malloc(NC_CONFIG_FILE_MAX + 1);
	if (text == NULL) {
		fclose(f);
		return fail(err, err_cap, "out of memory");
	}
	size_t n = fread(text, 1, NC_CONFIG_FILE_MAX + 1, f);
	fclose(f);
	if (n > NC_CONFIG_FILE_MAX) {
		free(text);
		return fail(err, err_cap, "\"config_file\": %s: larger than 1 MiB",
			    path);
	}
	text[n] = '\0';
	char inner[256];
	int rc = nc_config_load_json(cfg, text, inner, sizeof(inner));
	free(text);
	if (rc < 0)
		return fail(err, err_cap, "%s: %s", path, inner);
	return 0;
}
