/*
 * cli.c - `netcoord members|rtt|nearest|failover|join|leave|reload|keygen|
 * keys|event|reachability`:
 * the command-line client of the agent's REST API.
 *
 * Design. Every subcommand is one HTTP request (cmd/http.c, libcurl) to
 * the agent named by -http-addr (else $NETCOORD_HTTP_ADDR, else
 * 127.0.0.1:8555) and one rendering of its JSON answer. The table `cmds`
 * below is the single place that says which subcommand takes which flags
 * and how many arguments; the parser and the usage texts read it (main.c only
 * lists the names to dispatch them here, and takes their one-line descriptions
 * from nc_cli_command_help()). keygen is the exception: it is local (like
 * `serf keygen`) and never talks to an agent.
 *
 * HTTPS: -http-addr https://HOST:PORT (or $NETCOORD_HTTP_ADDR) talks TLS
 * to an agent started with -http-tls-cert; its certificate is verified
 * against -ca-file (or $NETCOORD_CACERT, Consul's -ca-file and
 * CONSUL_CACERT), else the system's CAs. There is no -insecure.
 *
 * Flags follow serf's CLI (Go's flag package: single dash, "-f v" or
 * "-f=v"), except that they may also come after positional arguments
 * (`netcoord rtt a b -json`), which is what people type; "--" ends them.
 *
 * Output. By default, aligned tables with an upper-case header row and no
 * title, so `awk 'NR>1'` works; -json prints the API's JSON re-indented
 * by cJSON and nothing else, for scripts. Names, tags and error texts
 * come from the network: control characters (C0, DEL and UTF-8 encoded
 * C1) are replaced by '?' before they reach a terminal (the web UI
 * sanitises the same data for the same reason). Column widths count UTF-8
 * code points, not bytes.
 *
 * keys and reachability act on the whole cluster (serf queries the agent
 * runs) and print what `serf keys` / `serf reachability` print, exiting 1
 * when a node failed, did not answer, or did not ack; `keys -local` is
 * the one-agent keyring. Their requests wait for the query (up to serf's
 * query timeout), so their default -timeout is 60 s.
 *
 * Errors are one line on stderr, "netcoord: <what>: <reason>", where the
 * reason is the API's {"error": "..."} text when there is one; exit code
 * 1 for anything the agent or the network did, 2 for a bad command line.
 * An unreachable agent is reported as "netcoord: cannot reach agent at
 * ADDR: <strerror>" because that is the one error users hit first.
 *
 * -watch (members, nearest) is the exception to "one request": blocking
 * queries in a loop (run_watch), printing each answer that changed.
 */
#include "cmd/cli.h"

#include <assert.h>
#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd/http.h"
#include "gossip/crypto.h"
#include "util/util.h"

/** Flags a subcommand accepts besides the common ones (bit mask). */
enum {
	F_FROM = 1 << 0,
	F_N = 1 << 1,
	F_TAG = 1 << 2,
	F_STATUS = 1 << 3,
	F_GROUP = 1 << 4,
	F_SKIP_LOCAL = 1 << 5,
	/** serf-style -list/-install/-use/-remove (keys). */
	F_KEYS = 1 << 6,
	/** The common flags (-http-addr, -token, -json, -timeout). */
	F_COMMON = 1 << 7,
	/** -watch: blocking queries, print each new answer (members,
	 * nearest). */
	F_WATCH = 1 << 8,
	/** -verify K (nearest). */
	F_VERIFY = 1 << 9,
	/** -local (keys: this agent's keyring only). */
	F_LOCAL = 1 << 10,
	/** -verbose (reachability). */
	F_VERBOSE = 1 << 11,
};

/** One client subcommand. */
struct cli_cmd {
	/** Name on the command line. */
	const char *name;
	/** One-line description (top-level usage). */
	const char *help;
	/** Argument synopsis after the name. */
	const char *synopsis;
	/** Longer text for `-h`: what it prints. */
	const char *detail;
	/** Accepted flags (F_* mask). */
	unsigned flags;
	/** Positional argument count bounds. */
	unsigned min_args, max_args;
};

static const struct cli_cmd cmds[] = {
    {"members", "list the cluster's members as the agent sees them",
     "[-status S] [-tag k=v]... [-watch]",
     "Prints NAME, ADDRESS, STATUS and TAGS of every member known to the\n"
     "agent. -status keeps one status (alive, suspect, failed, left);\n"
     "-tag keeps members with that tag value (repeatable: all must "
     "match).\n-watch prints the list again each time it changes "
     "(blocking queries),\nuntil interrupted.\n",
     F_COMMON | F_STATUS | F_TAG | F_WATCH, 0, 0},
    {"rtt", "estimated round-trip time between two nodes", "A [B]",
     "Prints the RTT estimated from network coordinates between A and B,\n"
     "or between the agent's own node and A, and the last measured probe\n"
     "RTT when the agent has one.\n",
     F_COMMON, 1, 2},
    {"nearest", "members nearest to a node by estimated RTT",
     "[-from X] [-n N] [-tag k=v]... [-status S] [-verify K] [-watch]",
     "Prints members ordered by estimated RTT from -from (default: the\n"
     "agent's node): rank, NAME, ADDRESS, STATUS, EST_RTT and TAGS. -n "
     "caps\nthe list (the agent's default otherwise); -tag and -status "
     "filter.\n-verify K (1..32, from the agent's own node only): the "
     "agent pings the\nK best candidates and ranks them by measured RTT "
     "(MEASURED column;\n\"-\" = did not answer, listed last).\n"
     "-watch prints the list again each time a member joins, "
     "fails or the\norder changes (not for estimates alone), until "
     "interrupted.\n",
     F_COMMON | F_FROM | F_N | F_TAG | F_STATUS | F_VERIFY | F_WATCH, 0, 0},
    {"failover", "groups (e.g. datacenters) in failover order",
     "-group K [-from X] [-skip-local]",
     "Groups members by the value of tag K and orders the groups by the\n"
     "median estimated RTT of their healthy members from -from (default:\n"
     "the agent's node). -skip-local leaves out -from's own group. A\n"
     "MEDIAN_RTT of \"-\" means no healthy member.\n",
     F_COMMON | F_FROM | F_GROUP | F_SKIP_LOCAL, 0, 0},
    {"join", "ask the agent to join a cluster via ADDR", "ADDR",
     "Asks the agent to contact ADDR (HOST[:PORT] of any member's gossip\n"
     "port; port 7946 by default) and join its cluster. A name is\n"
     "resolved by the agent, which tries every address it has.\n",
     F_COMMON, 1, 1},
    {"leave", "ask the agent to leave the cluster gracefully", "",
     "Asks the agent to broadcast its intent to leave and stop gossiping.\n",
     F_COMMON, 0, 0},
    {"reload", "ask the agent to re-read its configuration files", "",
     "Asks the agent to re-read its configuration (as SIGHUP does, like\n"
     "`consul reload`): log level, tags, token and allowed hosts take\n"
     "effect; the fields that need a restart are listed.\n",
     F_COMMON, 0, 0},
    {"keygen", "print a new random gossip encryption key", "",
     "Prints 32 random bytes, base64-encoded: a key for `agent -encrypt`\n"
     "or `keys install` (same format as `serf keygen`). Local: no agent\n"
     "is contacted.\n",
     F_COMMON, 0, 0},
    {"keys", "list, install, use or remove gossip encryption keys",
     "list | install KEY | use KEY | remove KEY [-local]",
     "Manages the gossip keyring of every member of the cluster, serf\n"
     "agents included, as `serf keys` does: install adds a key, use makes\n"
     "an installed key the primary (used to encrypt), remove drops a\n"
     "non-primary key, list prints each key with the number of members\n"
     "holding it. Each node's failure is printed; the exit status is 1\n"
     "if any node failed or did not answer. -local acts on the agent's\n"
     "own keyring only (list then marks the primary with *). serf's\n"
     "-list, -install=KEY, -use=KEY, -remove=KEY also work. Default\n"
     "-timeout 60s.\n",
     F_COMMON | F_KEYS | F_LOCAL, 1, 2},
    {"event", "fire a serf user event", "NAME [PAYLOAD]",
     "Asks the agent to fire a serf user event NAME with PAYLOAD (empty by\n"
     "default), as `serf event -coalesce=false NAME PAYLOAD` does: every\n"
     "serf agent's event handlers run for it. Name and payload together\n"
     "must fit in 512 bytes (serf's limit).\n",
     F_COMMON, 1, 2},
    {"reachability", "test that every member answers a query",
     "[-verbose]",
     "Fires serf's _serf_ping query asking every member for an ack, as\n"
     "`serf reachability` does, and reports the members that did not\n"
     "ack (exit status 1 then). -verbose lists every ack and the timing.\n"
     "Waits for serf's query timeout (6.4 s for 13 lan members); default\n"
     "-timeout 60s.\n",
     F_COMMON | F_VERBOSE, 0, 0},
};

#define N_CMDS (sizeof(cmds) / sizeof(cmds[0]))

static const struct cli_cmd *
cmd_find(const char *name)
{
	if (name == NULL)
		return NULL;
	for (size_t i = 0; i < N_CMDS; i++) {
		if (strcmp(cmds[i].name, name) == 0)
			return &cmds[i];
	}
	return NULL;
}

bool
nc_cli_is_command(const char *name)
{
	return cmd_find(name) != NULL;
}

const char *
nc_cli_command_help(const char *name)
{
	const struct cli_cmd *c = cmd_find(name);
	return c != NULL ? c->help : NULL;
}

void
nc_cli_usage_common(FILE *f)
{
	fprintf(f,
		"\nclient flags (members, rtt, nearest, failover, join, leave, "
		"reload, keys, event, reachability):\n"
		"  -http-addr HOST:PORT  agent API address (env %s,\n"
		"                        default %s)\n"
		"                        https://HOST:PORT for an agent "
		"serving HTTPS\n"
		"  -token T              API token (env %s)\n"
		"  -ca-file FILE         CA certificate(s) (PEM) to verify an "
		"https agent\n"
		"                        with (env %s; default: the system's)\n"
		"  -json                 print the API's JSON instead of a "
		"table\n"
		"  -timeout D            request deadline, e.g. 5s, 500ms "
		"(default 10s)\n"
		"Run `netcoord <command> -h` for a command's flags.\n",
		NC_CLI_ENV_ADDR, NC_CLI_HTTP_ADDR_DEFAULT, NC_CLI_ENV_TOKEN,
		NC_CLI_ENV_CACERT);
}

int
nc_cli_usage(const char *name, FILE *f)
{
	const struct cli_cmd *c = cmd_find(name);
	if (c == NULL)
		return NC_CLI_EXIT_USAGE;
	fprintf(f, "usage: netcoord %s%s%s [client flags]\n\n%s\n%s", c->name,
		c->synopsis[0] != '\0' ? " " : "", c->synopsis, c->help,
		c->detail);
	if (strcmp(c->name, "keygen") != 0)
		nc_cli_usage_common(f);
	return 0;
}

/* ---- argument parsing ------------------------------------------------- */

/** printf into an optional message buffer (nc_errf). */
#define set_err(err, len, ...) ((void)nc_errf(err, len, 0, __VA_ARGS__))

/**
 * Parse a -timeout: a Go duration ("10s", "500ms", "1m") or a bare number
 * of seconds (util's nc_parse_duration).
 * @return milliseconds (1 .. 1 h), or -1 if malformed / out of range.
 */
static int
parse_duration_ms(const char *s)
{
	double secs;
	if (nc_parse_duration(s, true, &secs) != 0)
		return -1;
	double ms = secs * 1000;
	if (ms < 1 || ms > 3600000)
		return -1;
	return (int)ms;
}

/** Append a positional argument. */
static int
add_arg(struct nc_cli_opts *o, const char *a, char *err, size_t err_len)
{
	if (o->n_args >= NC_CLI_ARGS_MAX) {
		set_err(err, err_len, "%s: too many arguments", o->cmd);
		return NC_CLI_EXIT_USAGE;
	}
	o->args[o->n_args++] = a;
	return 0;
}

/** Where the value of a flag goes (see value_flags). */
enum value_kind {
	/** A string field of nc_cli_opts, at value_flag.field. */
	V_STRING,
	/** -timeout D. */
	V_TIMEOUT,
	/** -n N. */
	V_N,
	/** -tag k=v, appended. */
	V_TAG,
	/** serf's -install/-use/-remove KEY (keys). */
	V_KEYS,
};

/** A flag that takes a value. */
struct value_flag {
	/** Name without dashes. */
	const char *name;
	/** The F_* bit a subcommand needs to accept it. */
	unsigned need;
	enum value_kind kind;
	/** For V_STRING: offsetof the const char * in nc_cli_opts. */
	size_t field;
};

static const struct value_flag value_flags[] = {
    {"http-addr", F_COMMON, V_STRING, offsetof(struct nc_cli_opts, http_addr)},
    {"token", F_COMMON, V_STRING, offsetof(struct nc_cli_opts, token)},
    {"ca-file", F_COMMON, V_STRING, offsetof(struct nc_cli_opts, ca_file)},
    {"timeout", F_COMMON, V_TIMEOUT, 0},
    {"from", F_FROM, V_STRING, offsetof(struct nc_cli_opts, from)},
    {"group", F_GROUP, V_STRING, offsetof(struct nc_cli_opts, group)},
    {"status", F_STATUS, V_STRING, offsetof(struct nc_cli_opts, status)},
    {"n", F_N, V_N, 0},
    {"verify", F_VERIFY, V_STRING, offsetof(struct nc_cli_opts, verify)},
    {"tag", F_TAG, V_TAG, 0},
    {"install", F_KEYS, V_KEYS, 0},
    {"use", F_KEYS, V_KEYS, 0},
    {"remove", F_KEYS, V_KEYS, 0},
};

/** What nc_cli_parse() carries from one argument to the next. */
struct parse_state {
	/** The subcommand. */
	const struct cli_cmd *c;
	/** Being filled. */
	struct nc_cli_opts *o;
	/** serf-style keys flags become the positional verb (+ key). */
	const char *keys_verb, *keys_key;
	char *err;
	size_t err_len;
};

/** One "-name", "--name" or "-name=value" argument, split. */
struct flag {
	const char *name;
	size_t len;
	/** After '=', or NULL. */
	const char *val;
};

static bool
flag_is(const struct flag *f, const char *s)
{
	return f->len == strlen(s) && strncmp(f->name, s, f->len) == 0;
}

/** Defaults: the environment's address and token, a 10 s deadline. */
static void
opts_init(struct nc_cli_opts *o, const struct cli_cmd *c,
	  const struct nc_cli_env *env)
{
	o->cmd = c->name;
	/* Cluster-wide commands wait for a serf query (its timeout grows
	 * with log10 of the cluster size: 9.6 s at 999 lan members). */
	o->timeout_ms = (c->flags & (F_KEYS | F_VERBOSE)) != 0 ? 60000 : 10000;
	o->http_addr =
	    env != NULL && env->http_addr != NULL && env->http_addr[0] != '\0'
		? env->http_addr
		: NC_CLI_HTTP_ADDR_DEFAULT;
	o->token =
	    env != NULL && env->http_token != NULL && env->http_token[0] != '\0'
		? env->http_token
		: NULL;
	o->ca_file =
	    env != NULL && env->ca_file != NULL && env->ca_file[0] != '\0'
		? env->ca_file
		: NULL;
}

/**
 * -h, -json[=bool], -skip-local[=bool], -list.
 * @retval 1 consumed; 0 not a boolean flag of this subcommand;
 *         NC_CLI_EXIT_USAGE (bad boolean value).
 */
static int
parse_bool_flag(struct parse_state *ps, const struct flag *f)
{
	struct nc_cli_opts *o = ps->o;
	unsigned flags = ps->c->flags;
	bool *b = NULL;
	if (flag_is(f, "h") || flag_is(f, "help")) {
		o->help = true;
		return 1;
	}
	if (flag_is(f, "json") && (flags & F_COMMON) != 0)
		b = &o->json;
	else if (flag_is(f, "skip-local") && (flags & F_SKIP_LOCAL) != 0)
		b = &o->skip_local;
	else if (flag_is(f, "watch") && (flags & F_WATCH) != 0)
		b = &o->watch;
	else if (flag_is(f, "local") && (flags & F_LOCAL) != 0)
		b = &o->local;
	else if (flag_is(f, "verbose") && (flags & F_VERBOSE) != 0)
		b = &o->verbose;
	else if (flag_is(f, "list") && (flags & F_KEYS) != 0) {
		ps->keys_verb = "list";
		return 1;
	}
	if (b == NULL)
		return 0;
	bool v = true;
	if (f->val != NULL && nc_parse_bool(f->val, &v) < 0) {
		set_err(ps->err, ps->err_len,
			"invalid boolean value \"%s\" for -%.*s", f->val,
			(int)f->len, f->name);
		return NC_CLI_EXIT_USAGE;
	}
	*b = v;
	return 1;
}

/** Store the value of a flag that takes one. */
static int
apply_value(struct parse_state *ps, const struct value_flag *vf,
	    const char *val)
{
	struct nc_cli_opts *o = ps->o;
	const char *cmd = ps->c->name;
	char *err = ps->err;
	size_t err_len = ps->err_len;
	char *end;
	long n;
	switch (vf->kind) {
	case V_STRING:
		*(const char **)((char *)o + vf->field) = val;
		return 0;
	case V_TIMEOUT:
		o->timeout_ms = parse_duration_ms(val);
		if (o->timeout_ms >= 0)
			return 0;
		set_err(err, err_len,
			"%s: invalid -timeout \"%s\" (want e.g. 5s or 500ms)",
			cmd, val);
		return NC_CLI_EXIT_USAGE;
	case V_N:
		errno = 0;
		n = strtol(val, &end, 10);
		if (end != val && *end == '\0' && errno == 0 && n >= 1 &&
		    n <= 100000) {
			o->n = n;
			return 0;
		}
		set_err(err, err_len, "%s: invalid -n \"%s\" (want 1..100000)",
			cmd, val);
		return NC_CLI_EXIT_USAGE;
	case V_TAG:
		if (o->n_tags < NC_CLI_TAGS_MAX) {
			o->tags[o->n_tags++] = val;
			return 0;
		}
		set_err(err, err_len, "%s: more than %d -tag", cmd,
			NC_CLI_TAGS_MAX);
		return NC_CLI_EXIT_USAGE;
	case V_KEYS:
		ps->keys_verb = vf->name;
		ps->keys_key = val;
		return 0;
	}
	return 0;
}

/**
 * Parse the flag at argv[*i]; a flag whose value is the next argument
 * advances *i past it.
 */
static int
parse_flag(struct parse_state *ps, int argc, char **argv, int *i)
{
	struct flag f = {.name = argv[*i] + 1};
	if (*f.name == '-')
		f.name++;
	const char *eq = strchr(f.name, '=');
	f.len = eq != NULL ? (size_t)(eq - f.name) : strlen(f.name);
	f.val = eq != NULL ? eq + 1 : NULL;
	int rc = parse_bool_flag(ps, &f);
	if (rc != 0)
		return rc == 1 ? 0 : rc;
	const struct value_flag *vf = NULL;
	for (size_t k = 0; k < sizeof(value_flags) / sizeof(value_flags[0]);
	     k++) {
		if (flag_is(&f, value_flags[k].name) &&
		    (ps->c->flags & value_flags[k].need) != 0)
			vf = &value_flags[k];
	}
	if (vf == NULL) {
		set_err(ps->err, ps->err_len,
			"%s: flag provided but not defined: -%.*s", ps->c->name,
			(int)f.len, f.name);
		return NC_CLI_EXIT_USAGE;
	}
	if (f.val == NULL) {
		if (*i + 1 >= argc) {
			set_err(ps->err, ps->err_len,
				"%s: flag needs an argument: -%.*s",
				ps->c->name, (int)f.len, f.name);
			return NC_CLI_EXIT_USAGE;
		}
		f.val = argv[++*i];
	}
	return apply_value(ps, vf, f.val);
}

/**
 * After the last argument: serf-style keys flags become the verb, then
 * the argument count and the address are checked (unless -h).
 */
static int
parse_finish(struct parse_state *ps)
{
	struct nc_cli_opts *o = ps->o;
	const struct cli_cmd *c = ps->c;
	if (ps->keys_verb != NULL) {
		if (o->n_args > 0) {
			set_err(ps->err, ps->err_len,
				"keys: use either -%s or a verb, not both",
				ps->keys_verb);
			return NC_CLI_EXIT_USAGE;
		}
		o->args[o->n_args++] = ps->keys_verb;
		if (ps->keys_key != NULL)
			o->args[o->n_args++] = ps->keys_key;
	}
	if (o->help)
		return 0;
	const char *sp = c->synopsis[0] != '\0' ? " " : "";
	if (o->n_args < c->min_args) {
		set_err(ps->err, ps->err_len,
			"%s: missing argument (usage: netcoord %s%s%s)",
			c->name, c->name, sp, c->synopsis);
		return NC_CLI_EXIT_USAGE;
	}
	if (o->n_args > c->max_args) {
		set_err(ps->err, ps->err_len,
			"%s: unexpected argument \"%s\" (usage: "
			"netcoord %s%s%s)",
			c->name, o->args[c->max_args], c->name, sp,
			c->synopsis);
		return NC_CLI_EXIT_USAGE;
	}
	if (o->http_addr[0] == '\0') {
		set_err(ps->err, ps->err_len, "%s: empty -http-addr", c->name);
		return NC_CLI_EXIT_USAGE;
	}
	return 0;
}

int
nc_cli_parse(int argc, char **argv, const struct nc_cli_env *env,
	     struct nc_cli_opts *o, char *err, size_t err_len)
{
	memset(o, 0, sizeof(*o));
	if (err != NULL && err_len > 0)
		err[0] = '\0';
	const struct cli_cmd *c = argc > 0 ? cmd_find(argv[0]) : NULL;
	if (c == NULL) {
		set_err(err, err_len, "unknown command \"%s\"",
			argc > 0 && argv[0] != NULL ? argv[0] : "");
		return NC_CLI_EXIT_USAGE;
	}
	opts_init(o, c, env);
	struct parse_state ps = {
	    .c = c, .o = o, .err = err, .err_len = err_len};
	bool flags_done = false;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		int rc = 0;
		if (flags_done || a[0] != '-' || a[1] == '\0')
			rc = add_arg(o, a, err, err_len);
		else if (strcmp(a, "--") == 0)
			flags_done = true;
		else
			rc = parse_flag(&ps, argc, argv, &i);
		if (rc != 0)
			return rc;
	}
	return parse_finish(&ps);
}

/* ---- building the request --------------------------------------------- */

/** Append "?k=v" or "&k=v" (v escaped) to call->path. */
static int
query_add(struct nc_cli_call *call, const char *key, const char *val, char *err,
	  size_t err_len)
{
	size_t len = strlen(call->path), cap = sizeof(call->path) - len;
	const char *sep = strchr(call->path, '?') != NULL ? "&" : "?";
	/* RFC 3986 unreserved characters pass, the rest becomes %XX. */
	char *v = curl_easy_escape(NULL, val, 0);
	int n = v != NULL
		    ? snprintf(call->path + len, cap, "%s%s=%s", sep, key, v)
		    : -1;
	curl_free(v);
	if (n < 0 || (size_t)n >= cap) {
		call->path[len] = '\0';
		set_err(err, err_len, "%s: arguments too long", call->what);
		return NC_CLI_EXIT_USAGE;
	}
	return 0;
}

/**
 * The CLI takes tags as k=v (like `serf agent -tag`), the API as k:v.
 * Already k:v is passed through.
 */
static int
tag_to_query(const char *tag, char *out, size_t cap)
{
	const char *eq = strchr(tag, '=');
	if (eq == NULL)
		eq = strchr(tag, ':');
	if (eq == NULL || eq == tag || strlen(tag) >= cap)
		return -1;
	memcpy(out, tag, strlen(tag) + 1);
	out[eq - tag] = ':';
	return 0;
}

/**
 * keys list | install KEY | use KEY | remove KEY: the key is checked
 * here, for a clearer message than the agent's.
 */
static int
build_keys_call(const struct nc_cli_opts *o, struct nc_cli_call *call,
		char *err, size_t err_len)
{
	const char *verb = o->args[0];
	if (strcmp(verb, "list") == 0) {
		if (o->n_args != 1) {
			set_err(err, err_len,
				"keys list: unexpected argument "
				"\"%s\"",
				o->args[1]);
			return NC_CLI_EXIT_USAGE;
		}
		call->what = "keys list";
		strcpy(call->path, o->local ? "/v1/agent/keyring?local=1"
					    : "/v1/agent/keyring");
		return 0;
	}
	if (strcmp(verb, "install") == 0)
		call->what = "keys install";
	else if (strcmp(verb, "use") == 0)
		call->what = "keys use";
	else if (strcmp(verb, "remove") == 0)
		call->what = "keys remove";
	else {
		set_err(err, err_len,
			"keys: unknown action \"%s\" (want list, "
			"install, use or remove)",
			verb);
		return NC_CLI_EXIT_USAGE;
	}
	if (o->n_args != 2) {
		set_err(err, err_len, "%s: missing KEY", call->what);
		return NC_CLI_EXIT_USAGE;
	}
	/* Check the key here: a clearer message than the agent's,
	 * and the body below can then be built without escaping. */
	uint8_t key[NC_CRYPTO_KEY_MAX];
	size_t key_len;
	char kerr[128] = "";
	if (nc_crypto_key_parse_base64(o->args[1], key, &key_len, kerr,
				       sizeof(kerr)) != 0) {
		set_err(err, err_len, "%s: invalid key: %s", call->what,
			kerr[0] != '\0' ? kerr
					: "want base64 of 16, 24 or 32 "
					  "bytes");
		return NC_CLI_EXIT_USAGE;
	}
	char b64[NC_CRYPTO_KEY_B64_LEN + 1];
	if (nc_crypto_key_to_base64(key, key_len, b64, sizeof(b64)) < 0) {
		set_err(err, err_len, "%s: invalid key", call->what);
		return NC_CLI_EXIT_USAGE;
	}
	memset(key, 0, sizeof(key));
	call->method = "PUT";
	snprintf(call->path, sizeof(call->path), "/v1/agent/keyring/%s%s", verb,
		 o->local ? "?local=1" : "");
	snprintf(call->body, sizeof(call->body), "{\"Key\":\"%s\"}", b64);
	return 0;
}

/** event NAME [PAYLOAD]: PUT /v1/event/fire/NAME, the payload as body. */
static int
build_event_call(const struct nc_cli_opts *o, struct nc_cli_call *call,
		 char *err, size_t err_len)
{
	const char *payload = o->n_args > 1 ? o->args[1] : "";
	call->method = "PUT";
	if (o->args[0][0] == '\0' ||
	    strlen(o->args[0]) + strlen(payload) > NC_CLI_EVENT_MAX) {
		set_err(err, err_len,
			"event: NAME must be non-empty, NAME and PAYLOAD at "
			"most %d bytes together",
			NC_CLI_EVENT_MAX);
		return NC_CLI_EXIT_USAGE;
	}
	char *name = curl_easy_escape(NULL, o->args[0], 0);
	int n = name != NULL ? snprintf(call->path, sizeof(call->path),
					"/v1/event/fire/%s", name)
			     : -1;
	curl_free(name);
	if (n < 0 || (size_t)n >= sizeof(call->path)) {
		set_err(err, err_len, "event: NAME too long");
		return NC_CLI_EXIT_USAGE;
	}
	snprintf(call->body, sizeof(call->body), "%s", payload);
	return 0;
}

int
nc_cli_build_call(const struct nc_cli_opts *o, struct nc_cli_call *call,
		  char *err, size_t err_len)
{
	memset(call, 0, sizeof(*call));
	call->method = "GET";
	call->what = o->cmd;
	const char *cmd = o->cmd;
	int rc = 0;
	if (strcmp(cmd, "keygen") == 0)
		return 1;
	if (strcmp(cmd, "members") == 0) {
		strcpy(call->path, "/v1/members");
		if (o->status != NULL)
			rc = query_add(call, "status", o->status, err, err_len);
	} else if (strcmp(cmd, "rtt") == 0) {
		strcpy(call->path, "/v1/rtt");
		if (o->n_args == 2) {
			rc = query_add(call, "from", o->args[0], err, err_len);
			if (rc == 0)
				rc = query_add(call, "to", o->args[1], err,
					       err_len);
		} else {
			rc = query_add(call, "to", o->args[0], err, err_len);
		}
	} else if (strcmp(cmd, "nearest") == 0) {
		strcpy(call->path, "/v1/nearest");
		if (o->from != NULL)
			rc = query_add(call, "from", o->from, err, err_len);
		if (rc == 0 && o->n > 0) {
			char nb[24];
			snprintf(nb, sizeof(nb), "%ld", o->n);
			rc = query_add(call, "n", nb, err, err_len);
		}
		if (rc == 0 && o->status != NULL)
			rc = query_add(call, "status", o->status, err, err_len);
		if (rc == 0 && o->verify != NULL)
			rc = query_add(call, "verify", o->verify, err, err_len);
	} else if (strcmp(cmd, "failover") == 0) {
		if (o->group == NULL || o->group[0] == '\0') {
			set_err(err, err_len,
				"failover: -group is required (e.g. -group "
				"dc)");
			return NC_CLI_EXIT_USAGE;
		}
		strcpy(call->path, "/v1/failover");
		if (o->from != NULL)
			rc = query_add(call, "from", o->from, err, err_len);
		if (rc == 0)
			rc = query_add(call, "group", o->group, err, err_len);
		if (rc == 0 && o->skip_local)
			rc = query_add(call, "skip-local", "1", err, err_len);
	} else if (strcmp(cmd, "join") == 0) {
		call->method = "PUT";
		strcpy(call->path, "/v1/agent/join");
		rc = query_add(call, "address", o->args[0], err, err_len);
	} else if (strcmp(cmd, "leave") == 0) {
		call->method = "PUT";
		strcpy(call->path, "/v1/agent/leave");
	} else if (strcmp(cmd, "reload") == 0) {
		call->method = "PUT";
		strcpy(call->path, "/v1/agent/reload");
	} else if (strcmp(cmd, "keys") == 0) {
		return build_keys_call(o, call, err, err_len);
	} else if (strcmp(cmd, "event") == 0) {
		return build_event_call(o, call, err, err_len);
	} else if (strcmp(cmd, "reachability") == 0) {
		strcpy(call->path, "/v1/agent/reachability");
		return 0;
	}
	/* -tag filters (members, nearest). */
	for (size_t i = 0; rc == 0 && i < o->n_tags; i++) {
		char kv[512];
		if (tag_to_query(o->tags[i], kv, sizeof(kv)) != 0) {
			set_err(err, err_len,
				"%s: invalid -tag \"%s\" (want key=value)", cmd,
				o->tags[i]);
			return NC_CLI_EXIT_USAGE;
		}
		rc = query_add(call, "tag", kv, err, err_len);
	}
	return rc;
}

/* ---- output ----------------------------------------------------------- */

/**
 * Copy s into out replacing control characters (C0, DEL, UTF-8 encoded
 * C1) with '?': text from the network must not drive the terminal.
 * Truncates to cap - 1 bytes.
 */
static void
sanitize(const char *s, char *out, size_t cap)
{
	size_t o = 0;
	if (cap == 0)
		return;
	for (size_t i = 0; s[i] != '\0' && o + 1 < cap; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c == 0x7f) {
			out[o++] = '?';
		} else if (c == 0xc2 && (unsigned char)s[i + 1] >= 0x80 &&
			   (unsigned char)s[i + 1] <= 0x9f) {
			out[o++] = '?';
			i++;
		} else {
			out[o++] = (char)c;
		}
	}
	out[o] = '\0';
}

/** Display width: UTF-8 code points (continuation bytes not counted). */
static size_t
display_width(const char *s)
{
	size_t w = 0;
	for (; *s != '\0'; s++) {
		if (((unsigned char)*s & 0xc0) != 0x80)
			w++;
	}
	return w;
}

/** Most columns of a table (the widest, nearest, has 6). */
#define TABLE_COLS_MAX 8

/** A table of strings printed with aligned columns. */
struct table {
	/** Columns. */
	size_t ncols;
	/** Rows * ncols cells, each malloc'd and sanitised. */
	char **cells;
	/** Rows so far. */
	size_t nrows;
	/** Allocated rows. */
	size_t cap;
	/** An allocation failed; printing reports it. */
	bool nomem;
};

/** Add a row of t->ncols strings (NULL prints as ""). */
static void
table_row(struct table *t, const char *const *vals)
{
	if (t->nomem)
		return;
	if (t->nrows == t->cap) {
		size_t cap = t->cap != 0 ? t->cap * 2 : 16;
		char **p = realloc(t->cells, cap * t->ncols * sizeof(*p));
		if (p == NULL) {
			t->nomem = true;
			return;
		}
		t->cells = p;
		t->cap = cap;
	}
	for (size_t i = 0; i < t->ncols; i++) {
		const char *v = vals[i] != NULL ? vals[i] : "";
		size_t cap = strlen(v) + 1;
		char *c = malloc(cap);
		if (c != NULL)
			sanitize(v, c, cap);
		else
			t->nomem = true;
		t->cells[t->nrows * t->ncols + i] = c;
	}
	t->nrows++;
}

/** Print with two spaces between columns, free everything. */
static int
table_print_free(struct table *t, FILE *out, char *err, size_t err_len)
{
	int rc = 0;
	if (t->nomem) {
		set_err(err, err_len, "out of memory");
		rc = NC_CLI_EXIT_FAIL;
	}
	size_t width[TABLE_COLS_MAX] = {0};
	assert(t->ncols <= TABLE_COLS_MAX);
	for (size_t r = 0; rc == 0 && r < t->nrows; r++) {
		for (size_t i = 0; i < t->ncols; i++) {
			size_t w = display_width(t->cells[r * t->ncols + i]);
			if (w > width[i])
				width[i] = w;
		}
	}
	for (size_t r = 0; rc == 0 && r < t->nrows; r++) {
		/* Last non-empty column: no trailing padding. */
		size_t last = 0;
		for (size_t i = 0; i < t->ncols; i++) {
			if (t->cells[r * t->ncols + i][0] != '\0')
				last = i;
		}
		for (size_t i = 0; i <= last; i++) {
			const char *c = t->cells[r * t->ncols + i];
			fputs(c, out);
			if (i < last) {
				for (size_t w = display_width(c);
				     w < width[i] + 2; w++)
					fputc(' ', out);
			}
		}
		fputc('\n', out);
	}
	for (size_t k = 0; k < t->nrows * t->ncols; k++)
		free(t->cells != NULL ? t->cells[k] : NULL);
	free(t->cells);
	memset(t, 0, sizeof(*t));
	return rc;
}

/** String member or NULL. */
static const char *
jstr(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/** Number member or NAN (absent, null, not a number). */
static double
jnum(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

/** "12.345 ms" or "-" for NAN. */
static void
fmt_ms(double ms, char *buf, size_t cap)
{
	if (isnan(ms))
		snprintf(buf, cap, "-");
	else
		snprintf(buf, cap, "%.3f ms", ms);
}

/** "addr:port" or "[v6]:port". */
static void
fmt_addr(const cJSON *m, char *buf, size_t cap)
{
	const char *addr = jstr(m, "Addr");
	double port = jnum(m, "Port");
	if (addr == NULL)
		addr = "?";
	bool v6 = strchr(addr, ':') != NULL;
	if (isnan(port))
		snprintf(buf, cap, "%s", addr);
	else
		snprintf(buf, cap, "%s%s%s:%.0f", v6 ? "[" : "", addr,
			 v6 ? "]" : "", port);
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/** "k=v,k2=v2" sorted by key, malloc'd ("" when none); NULL on ENOMEM. */
static char *
fmt_tags(const cJSON *m)
{
	const cJSON *tags = cJSON_GetObjectItemCaseSensitive(m, "Tags");
	size_t n = 0, len = 1;
	const cJSON *t;
	cJSON_ArrayForEach(t, tags)
	{
		if (cJSON_IsString(t) && t->string != NULL) {
			n++;
			len += strlen(t->string) + strlen(t->valuestring) + 2;
		}
	}
	char *out = malloc(len);
	const char **keys = malloc((n > 0 ? n : 1) * sizeof(*keys));
	if (out == NULL || keys == NULL) {
		free(out);
		free(keys);
		return NULL;
	}
	size_t k = 0;
	cJSON_ArrayForEach(t, tags)
	{
		if (cJSON_IsString(t) && t->string != NULL)
			keys[k++] = t->string;
	}
	qsort(keys, n, sizeof(*keys), cmp_str);
	out[0] = '\0';
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		const char *v = jstr(tags, keys[i]);
		o += (size_t)snprintf(out + o, len - o, "%s%s=%s",
				      i > 0 ? "," : "", keys[i], v ? v : "");
	}
	free(keys);
	return out;
}

/** qsort comparator: members by Name (missing names first). */
static int
cmp_member_name(const void *a, const void *b)
{
	const char *x = jstr(*(const cJSON *const *)a, "Name");
	const char *y = jstr(*(const cJSON *const *)b, "Name");
	return strcmp(x != NULL ? x : "", y != NULL ? y : "");
}

/** Bad body: the agent does not speak the API we expect. */
static int
bad_body(const struct nc_cli_opts *o, char *err, size_t err_len,
	 const char *why)
{
	set_err(err, err_len, "%s: unexpected response from agent: %s", o->cmd,
		why);
	return NC_CLI_EXIT_FAIL;
}

static int
format_members(const struct nc_cli_opts *o, const cJSON *doc, FILE *out,
	       char *err, size_t err_len)
{
	if (!cJSON_IsArray(doc))
		return bad_body(o, err, err_len, "members is not an array");
	/* Sorted by name: the agent's order is its member table's, which
	 * changes from run to run; a table people read should not. */
	size_t n = (size_t)cJSON_GetArraySize(doc), k = 0;
	const cJSON **sorted = malloc((n > 0 ? n : 1) * sizeof(*sorted));
	if (sorted == NULL) {
		set_err(err, err_len, "out of memory");
		return NC_CLI_EXIT_FAIL;
	}
	const cJSON *m;
	cJSON_ArrayForEach(m, doc)
	{
		sorted[k++] = m;
	}
	qsort(sorted, k, sizeof(*sorted), cmp_member_name);
	struct table t = {.ncols = 4};
	const char *hdr[] = {"NAME", "ADDRESS", "STATUS", "TAGS"};
	table_row(&t, hdr);
	for (size_t i = 0; i < k; i++) {
		m = sorted[i];
		char addr[320];
		fmt_addr(m, addr, sizeof(addr));
		char *tags = fmt_tags(m);
		const char *st = jstr(m, "Status");
		const char *row[] = {jstr(m, "Name") ? jstr(m, "Name") : "?",
				     addr, st ? st : "?", tags};
		table_row(&t, row);
		if (tags == NULL)
			t.nomem = true;
		free(tags);
	}
	free(sorted);
	return table_print_free(&t, out, err, err_len);
}

static int
format_rtt(const struct nc_cli_opts *o, const cJSON *doc, FILE *out, char *err,
	   size_t err_len)
{
	if (!cJSON_IsObject(doc))
		return bad_body(o, err, err_len, "not an object");
	char from[256], to[256];
	const char *f = jstr(doc, "From"), *tt = jstr(doc, "To");
	sanitize(f != NULL ? f : (o->n_args == 2 ? o->args[0] : "?"), from,
		 sizeof(from));
	sanitize(tt != NULL ? tt : o->args[o->n_args - 1], to, sizeof(to));
	double est = jnum(doc, "EstimatedMs");
	if (isnan(est))
		fprintf(out,
			"Estimated %s <-> %s rtt: unknown (no coordinate)\n",
			from, to);
	else
		fprintf(out, "Estimated %s <-> %s rtt: %.3f ms\n", from, to,
			est);
	double meas = jnum(doc, "MeasuredMs");
	if (!isnan(meas)) {
		double age = jnum(doc, "MeasuredAgeS");
		if (isnan(age))
			fprintf(out, "Measured  %s -> %s rtt: %.3f ms\n", from,
				to, meas);
		else
			fprintf(
			    out,
			    "Measured  %s -> %s rtt: %.3f ms (%.0f s ago)\n",
			    from, to, meas, age);
	}
	return 0;
}

static int
format_nearest(const struct nc_cli_opts *o, const cJSON *doc, FILE *out,
	       char *err, size_t err_len)
{
	const cJSON *nodes = cJSON_GetObjectItemCaseSensitive(doc, "Nodes");
	if (!cJSON_IsArray(nodes))
		return bad_body(o, err, err_len, "no Nodes array");
	/* A verified answer adds MEASURED before TAGS. */
	bool verified = cJSON_IsObject(
	    cJSON_GetObjectItemCaseSensitive(doc, "Verify"));
	struct table t = {.ncols = verified ? 7 : 6};
	const char *hdr[] = {"#",      "NAME",	  "ADDRESS",
			     "STATUS", "EST_RTT", "TAGS"};
	const char *vhdr[] = {"#",	 "NAME",     "ADDRESS", "STATUS",
			      "EST_RTT", "MEASURED", "TAGS"};
	table_row(&t, verified ? vhdr : hdr);
	const cJSON *m;
	unsigned rank = 0;
	cJSON_ArrayForEach(m, nodes)
	{
		char rk[16], addr[320], ms[32];
		snprintf(rk, sizeof(rk), "%u", ++rank);
		fmt_addr(m, addr, sizeof(addr));
		fmt_ms(jnum(m, "EstimatedMs"), ms, sizeof(ms));
		char *tags = fmt_tags(m);
		const char *st = jstr(m, "Status");
		const char *row[] = {
		    rk,	  jstr(m, "Name") ? jstr(m, "Name") : "?",
		    addr, st ? st : "?",
		    ms,	  tags};
		char mm[32];
		fmt_ms(jnum(m, "MeasuredMs"), mm, sizeof(mm));
		const char *vrow[] = {row[0], row[1], row[2], row[3],
				      row[4], mm,     tags};
		table_row(&t, verified ? vrow : row);
		if (tags == NULL)
			t.nomem = true;
		free(tags);
	}
	return table_print_free(&t, out, err, err_len);
}

static int
format_failover(const struct nc_cli_opts *o, const cJSON *doc, FILE *out,
		char *err, size_t err_len)
{
	const cJSON *groups = cJSON_GetObjectItemCaseSensitive(doc, "Groups");
	if (!cJSON_IsArray(groups))
		return bad_body(o, err, err_len, "no Groups array");
	/* Header of the group column: the tag key, upper-cased. */
	char key[64];
	const char *g = jstr(doc, "Group");
	if (g == NULL)
		g = o->group != NULL ? o->group : "group";
	size_t i = 0;
	for (; g[i] != '\0' && i + 1 < sizeof(key); i++)
		key[i] =
		    (g[i] >= 'a' && g[i] <= 'z') ? (char)(g[i] - 32) : g[i];
	key[i] = '\0';
	struct table t = {.ncols = 5};
	const char *hdr[] = {"#", key, "MEDIAN_RTT", "ALIVE", "MEMBERS"};
	table_row(&t, hdr);
	const cJSON *grp;
	unsigned rank = 0;
	cJSON_ArrayForEach(grp, groups)
	{
		char rk[16], med[32], alive[32];
		snprintf(rk, sizeof(rk), "%u", ++rank);
		fmt_ms(jnum(grp, "MedianMs"), med, sizeof(med));
		const cJSON *mem =
		    cJSON_GetObjectItemCaseSensitive(grp, "Members");
		/* "a (0.412 ms), b (suspect, 3.100 ms), c (failed)" */
		size_t cap = 64, len = 0, n = 0, n_alive = 0;
		char *list = malloc(cap);
		if (list == NULL) {
			t.nomem = true;
			break;
		}
		list[0] = '\0';
		const cJSON *m;
		cJSON_ArrayForEach(m, mem)
		{
			const char *name = jstr(m, "Name");
			const char *st = jstr(m, "Status");
			double ms = jnum(m, "EstimatedMs");
			bool is_alive = st != NULL && strcmp(st, "alive") == 0;
			n++;
			n_alive += is_alive;
			char item[400];
			const char *nm = name != NULL ? name : "?";
			if (is_alive || st == NULL) {
				if (isnan(ms))
					snprintf(item, sizeof(item),
						 "%s (no coordinate)", nm);
				else
					snprintf(item, sizeof(item),
						 "%s (%.3f ms)", nm, ms);
			} else if (isnan(ms)) {
				snprintf(item, sizeof(item), "%s (%s)", nm, st);
			} else {
				snprintf(item, sizeof(item), "%s (%s, %.3f ms)",
					 nm, st, ms);
			}
			size_t il = strlen(item) + 2;
			if (len + il + 1 > cap) {
				while (len + il + 1 > cap)
					cap *= 2;
				char *p = realloc(list, cap);
				if (p == NULL) {
					t.nomem = true;
					break;
				}
				list = p;
			}
			len += (size_t)snprintf(list + len, cap - len, "%s%s",
						len > 0 ? ", " : "", item);
		}
		snprintf(alive, sizeof(alive), "%zu/%zu", n_alive, n);
		const char *val = jstr(grp, "Value");
		const char *row[] = {
		    rk, val == NULL || val[0] == '\0' ? "(none)" : val, med,
		    alive, n > 0 ? list : "-"};
		table_row(&t, row);
		free(list);
	}
	return table_print_free(&t, out, err, err_len);
}

/** Print @a s sanitized and padded with spaces to @a width columns. */
static void
put_padded(FILE *out, const char *s, size_t width)
{
	char clean[512];
	sanitize(s, clean, sizeof(clean));
	fputs(clean, out);
	for (size_t w = display_width(clean); w < width; w++)
		fputc(' ', out);
}

static int
cmp_json_key(const void *a, const void *b)
{
	const cJSON *x = *(const cJSON *const *)a, *y = *(const cJSON *const *)b;
	return strcmp(x->string, y->string);
}

/**
 * The members of object @a obj sorted by key into a malloc()ed array
 * (*n of them); NULL when empty or out of memory.
 */
static const cJSON **
sorted_members(const cJSON *obj, size_t *n)
{
	*n = 0;
	size_t cap = (size_t)cJSON_GetArraySize(obj);
	if (!cJSON_IsObject(obj) || cap == 0)
		return NULL;
	const cJSON **v = malloc(cap * sizeof(*v));
	if (v == NULL)
		return NULL;
	const cJSON *m;
	cJSON_ArrayForEach(m, obj)
	{
		if (m->string != NULL && *n < cap)
			v[(*n)++] = m;
	}
	qsort(v, *n, sizeof(*v), cmp_json_key);
	return v;
}

/**
 * A cluster-wide key operation (serf's KeyResponse), printed as
 * `serf keys` prints it: the "==>" lines, the key counts for list, and
 * on failure one "failed:  NODE  MESSAGE" line per node message, then
 * the error (returned in @a err with NC_CLI_EXIT_FAIL).
 */
static int
format_keys_cluster(const struct nc_cli_opts *o, const cJSON *doc, FILE *out,
		    char *err, size_t err_len)
{
	static const struct {
		const char *verb, *start, *ok, *fail;
	} text[] = {
	    {"install", "Installing key on all members...",
	     "Successfully installed key!", "Error installing key"},
	    {"use", "Changing primary key on all members...",
	     "Successfully changed primary key!", "Error changing primary key"},
	    {"remove", "Removing key on all members...",
	     "Successfully removed key!", "Error removing key"},
	    {"list", "Asking all members for installed keys...",
	     "Keys gathered, listing cluster keys...",
	     "Failed to gather member keys"},
	};
	size_t t = 0;
	while (t < 3 && strcmp(text[t].verb, o->args[0]) != 0)
		t++;
	double nodes = jnum(doc, "NumNodes"), resp = jnum(doc, "NumResp"),
	       errs = jnum(doc, "NumErr");
	if (isnan(nodes) || isnan(resp) || isnan(errs))
		return bad_body(o, err, err_len, "no NumNodes/NumResp/NumErr");
	fprintf(out, "==> %s\n", text[t].start);
	if (errs != 0 || resp != nodes) {
		size_t n, w = 0;
		const cJSON **m = sorted_members(
		    cJSON_GetObjectItemCaseSensitive(doc, "Messages"), &n);
		for (size_t i = 0; i < n; i++) {
			char clean[512];
			sanitize(m[i]->string, clean, sizeof(clean));
			if (display_width(clean) > w)
				w = display_width(clean);
		}
		for (size_t i = 0; i < n; i++) {
			fputs("failed:  ", out);
			put_padded(out, m[i]->string, w);
			fputs("  ", out);
			put_padded(out,
				   cJSON_IsString(m[i]) ? m[i]->valuestring
							 : "",
				   0);
			fputc('\n', out);
		}
		free(m);
		set_err(err, err_len, "%s: %.0f/%.0f nodes reported %s",
			text[t].fail, errs != 0 ? errs : resp, nodes,
			errs != 0 ? "failure" : "success");
		return NC_CLI_EXIT_FAIL;
	}
	fprintf(out, "==> %s\n", text[t].ok);
	if (t != 3)
		return 0;
	fputc('\n', out);
	size_t n, w = 0;
	const cJSON **k = sorted_members(
	    cJSON_GetObjectItemCaseSensitive(doc, "Keys"), &n);
	for (size_t i = 0; i < n; i++)
		if (strlen(k[i]->string) > w)
			w = strlen(k[i]->string);
	for (size_t i = 0; i < n; i++) {
		put_padded(out, k[i]->string, w);
		fprintf(out, "  [%.0f/%.0f]\n",
			cJSON_IsNumber(k[i]) ? k[i]->valuedouble : 0, nodes);
	}
	free(k);
	return 0;
}

static int
format_keys(const struct nc_cli_opts *o, const cJSON *doc, FILE *out, char *err,
	    size_t err_len)
{
	const char *verb = o->args[0];
	if (!o->local)
		return format_keys_cluster(o, doc, out, err, err_len);
	if (strcmp(verb, "list") != 0) {
		char key[64];
		sanitize(o->args[1], key, sizeof(key));
		if (strcmp(verb, "install") == 0)
			fprintf(out, "Installed key %s\n", key);
		else if (strcmp(verb, "use") == 0)
			fprintf(out, "Primary key is now %s\n", key);
		else
			fprintf(out, "Removed key %s\n", key);
		return 0;
	}
	const cJSON *keys = cJSON_GetObjectItemCaseSensitive(doc, "Keys");
	if (!cJSON_IsArray(keys))
		return bad_body(o, err, err_len, "no Keys array");
	const char *primary = jstr(doc, "Primary");
	struct table t = {.ncols = 2};
	const char *hdr[] = {"KEY", "PRIMARY"};
	table_row(&t, hdr);
	const cJSON *k;
	cJSON_ArrayForEach(k, keys)
	{
		if (!cJSON_IsString(k))
			continue;
		bool prim =
		    primary != NULL && strcmp(primary, k->valuestring) == 0;
		const char *row[] = {k->valuestring, prim ? "*" : ""};
		table_row(&t, row);
	}
	if (t.nrows == 1) {
		table_print_free(&t, out, err, err_len);
		fprintf(out, "(no keys: gossip is not encrypted)\n");
		return 0;
	}
	return table_print_free(&t, out, err, err_len);
}

/** Print the names of the array @a key of @a doc as "a, b" (or "-"). */
static int
print_name_list(const cJSON *doc, const char *key, FILE *out)
{
	const cJSON *arr = cJSON_GetObjectItemCaseSensitive(doc, key), *it;
	char name[256];
	size_t n = 0;
	if (!cJSON_IsArray(arr))
		return -1;
	cJSON_ArrayForEach(it, arr)
	{
		if (!cJSON_IsString(it))
			return -1;
		sanitize(it->valuestring, name, sizeof(name));
		fprintf(out, "%s%s", n++ ? ", " : "", name);
	}
	if (n == 0)
		fputs("-", out);
	return 0;
}

/** `reload`: {"Applied":[...],"NeedRestart":[...]}. */
static int
format_reload(const struct nc_cli_opts *o, const char *json, FILE *out,
	      char *err, size_t err_len)
{
	cJSON *doc = cJSON_Parse(json);
	int rc = 0;
	fputs("Configuration reloaded\napplied:       ", out);
	if (print_name_list(doc, "Applied", out) < 0)
		rc = -1;
	fputs("\nneeds restart: ", out);
	if (rc == 0 && print_name_list(doc, "NeedRestart", out) < 0)
		rc = -1;
	fputc('\n', out);
	cJSON_Delete(doc);
	return rc == 0 ? 0 : bad_body(o, err, err_len, "no Applied/NeedRestart");
}

/** serf's reachability hints (cmd/serf/command/reachability.go). */
static const char reach_too_many[] =
    "This could mean Serf is detecting false-failures due to a "
    "misconfiguration or network issue.";
static const char reach_too_few[] =
    "This could mean Serf gossip packets are being lost due to a "
    "misconfiguration or network issue.";
static const char reach_troubleshooting[] =
    "\nTroubleshooting tips:\n"
    "* Ensure that the bind addr:port is accessible by all other nodes\n"
    "* If an advertise address is set, ensure it routes to the bind "
    "address\n"
    "* Check that no nodes are behind a NAT\n"
    "* If nodes are behind firewalls or iptables, check that Serf traffic "
    "is permitted (UDP and TCP)\n"
    "* Verify networking equipment is functional";

/** Print "\tNAME" for each string of array @a key of @a doc. */
static size_t
print_names(const cJSON *doc, const char *key, const char *fmt, FILE *out)
{
	const cJSON *arr = cJSON_GetObjectItemCaseSensitive(doc, key), *v;
	size_t n = 0;
	cJSON_ArrayForEach(v, arr)
	{
		if (!cJSON_IsString(v))
			continue;
		char clean[512];
		sanitize(v->valuestring, clean, sizeof(clean));
		fprintf(out, fmt, clean);
		n++;
	}
	return n;
}

/** `serf reachability`'s report of GET /v1/agent/reachability. */
static int
format_reachability(const struct nc_cli_opts *o, const cJSON *doc, FILE *out,
		    char *err, size_t err_len)
{
	double members = jnum(doc, "Members"), live = jnum(doc, "LiveMembers");
	const cJSON *acks = cJSON_GetObjectItemCaseSensitive(doc, "Acks");
	if (isnan(members) || isnan(live) || !cJSON_IsArray(acks))
		return bad_body(o, err, err_len, "no Members/Acks");
	fprintf(out, "Total members: %.0f, live members: %.0f\n", members,
		live);
	fprintf(out, "Starting reachability test...\n");
	if (o->verbose) {
		print_names(doc, "Acks", "\tAck from '%s'\n", out);
		fprintf(out,
			"Query time: %0.2f sec, time to last response: %0.2f "
			"sec\n",
			jnum(doc, "QueryTime"), jnum(doc, "TimeToLast"));
	}
	const cJSON *miss = cJSON_GetObjectItemCaseSensitive(doc, "Missing");
	const cJSON *extra = cJSON_GetObjectItemCaseSensitive(doc, "NonLive");
	int nmiss = cJSON_GetArraySize(miss), nextra = cJSON_GetArraySize(extra);
	if (nmiss == 0 && nextra == 0 &&
	    (double)cJSON_GetArraySize(acks) == live) {
		fprintf(out, "Successfully contacted all live nodes\n");
		return 0;
	}
	if (nextra > 0) {
		fprintf(out, "Received more acks than live nodes! Acks from "
			     "non-live nodes:\n");
		print_names(doc, "NonLive", "\t%s\n", out);
		fprintf(out, "%s\n", reach_too_many);
	}
	if (nmiss > 0) {
		fprintf(out, "Received less acks than live nodes! Missing acks "
			     "from:\n");
		print_names(doc, "Missing", "\t%s\n", out);
		fprintf(out, "%s\n", reach_too_few);
	}
	fprintf(out, "%s\n", reach_troubleshooting);
	set_err(err, err_len,
		"reachability: %d of %.0f live members did not ack, %d acks "
		"from non-live nodes",
		nmiss, live, nextra);
	return NC_CLI_EXIT_FAIL;
}

int
nc_cli_format(const struct nc_cli_opts *o, const char *json, FILE *out,
	      char *err, size_t err_len)
{
	const char *cmd = o->cmd;
	/* join/leave/keys install.. print a line; the body is {}. */
	if (strcmp(cmd, "join") == 0) {
		char addr[256];
		sanitize(o->args[0], addr, sizeof(addr));
		cJSON *doc = cJSON_Parse(json);
		double n = jnum(doc, "Joined");
		if (isnan(n))
			fprintf(out, "Joined the cluster via %s\n", addr);
		else
			fprintf(out,
				"Joined the cluster via %s (%.0f node(s) "
				"contacted)\n",
				addr, n);
		cJSON_Delete(doc);
		return 0;
	}
	if (strcmp(cmd, "leave") == 0) {
		fprintf(out, "Left the cluster\n");
		return 0;
	}
	if (strcmp(cmd, "reload") == 0)
		return format_reload(o, json, out, err, err_len);
	if (strcmp(cmd, "event") == 0) {
		char name[256];
		sanitize(o->args[0], name, sizeof(name));
		cJSON *doc = cJSON_Parse(json);
		double lt = jnum(doc, "LTime");
		cJSON_Delete(doc);
		if (isnan(lt))
			return bad_body(o, err, err_len, "no LTime");
		fprintf(out, "Event \"%s\" fired (LTime %.0f)\n", name, lt);
		return 0;
	}
	cJSON *doc = cJSON_Parse(json);
	if (doc == NULL)
		return bad_body(o, err, err_len, "not JSON");
	int rc;
	if (strcmp(cmd, "members") == 0)
		rc = format_members(o, doc, out, err, err_len);
	else if (strcmp(cmd, "rtt") == 0)
		rc = format_rtt(o, doc, out, err, err_len);
	else if (strcmp(cmd, "nearest") == 0)
		rc = format_nearest(o, doc, out, err, err_len);
	else if (strcmp(cmd, "failover") == 0)
		rc = format_failover(o, doc, out, err, err_len);
	else if (strcmp(cmd, "keys") == 0)
		rc = format_keys(o, doc, out, err, err_len);
	else if (strcmp(cmd, "reachability") == 0)
		rc = format_reachability(o, doc, out, err, err_len);
	else
		rc = bad_body(o, err, err_len, "no formatter");
	cJSON_Delete(doc);
	return rc;
}

/* ---- -json ------------------------------------------------------------ */

/** Print s as a JSON string literal (quotes, escapes). */
static void
json_put_string(FILE *out, const char *s)
{
	fputc('"', out);
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			fprintf(out, "\\%c", c);
		else if (c == '\n')
			fputs("\\n", out);
		else if (c == '\t')
			fputs("\\t", out);
		else if (c < 0x20 || c == 0x7f)
			fprintf(out, "\\u%04x", c);
		else
			fputc(c, out);
	}
	fputc('"', out);
}

/**
 * Print a parsed document indented by two spaces per level, like jq
 * (cJSON_Print's tab layout puts "[{" on one line and nests oddly).
 * Control characters inside strings stay escaped, so -json output is
 * safe on a terminal too. Numbers are printed by cJSON.
 * @retval 0, NC_CLI_EXIT_FAIL (out of memory).
 */
static int
json_pretty(FILE *out, const cJSON *item, int depth)
{
	if (cJSON_IsArray(item) || cJSON_IsObject(item)) {
		bool obj = cJSON_IsObject(item);
		const cJSON *child = item->child;
		if (child == NULL) {
			fputs(obj ? "{}" : "[]", out);
			return 0;
		}
		fputs(obj ? "{\n" : "[\n", out);
		for (; child != NULL; child = child->next) {
			fprintf(out, "%*s", 2 * (depth + 1), "");
			if (obj) {
				json_put_string(out, child->string != NULL
							 ? child->string
							 : "");
				fputs(": ", out);
			}
			if (json_pretty(out, child, depth + 1) != 0)
				return NC_CLI_EXIT_FAIL;
			fputs(child->next != NULL ? ",\n" : "\n", out);
		}
		fprintf(out, "%*s%c", 2 * depth, "", obj ? '}' : ']');
		return 0;
	}
	if (cJSON_IsString(item)) {
		json_put_string(out, item->valuestring);
		return 0;
	}
	char *text = cJSON_PrintUnformatted(item);
	if (text == NULL)
		return NC_CLI_EXIT_FAIL;
	fputs(text, out);
	cJSON_free(text);
	return 0;
}

/* ---- running ---------------------------------------------------------- */

/** `netcoord keygen`. */
static int
run_keygen(const struct nc_cli_opts *o, const struct nc_cli_env *env)
{
	char key[NC_CRYPTO_KEY_B64_LEN + 1];
	int rc = nc_crypto_keygen_base64(key, sizeof(key));
	if (rc != 0) {
		fprintf(env->err, "netcoord: keygen: %s\n",
			nc_proto_strerror(rc));
		return NC_CLI_EXIT_FAIL;
	}
	if (o->json)
		fprintf(env->out, "{\n  \"Key\": \"%s\"\n}\n", key);
	else
		fprintf(env->out, "%s\n", key);
	return 0;
}

/**
 * Print the error of a non-2xx response: the API's {"error": ...} text
 * if there is one, else the status and the start of the body.
 */
static void
report_http_error(const struct nc_cli_opts *o, const struct nc_cli_call *call,
		  const struct nc_http_response *resp, FILE *ef)
{
	char text[512];
	cJSON *doc = cJSON_Parse(resp->body);
	const char *e = jstr(doc, "error");
	if (e != NULL && e[0] != '\0') {
		sanitize(e, text, sizeof(text));
	} else {
		char snip[128];
		snprintf(snip, sizeof(snip), "%.100s", resp->body);
		char *nl = strchr(snip, '\n');
		if (nl != NULL)
			*nl = '\0';
		char clean[128];
		sanitize(snip, clean, sizeof(clean));
		snprintf(text, sizeof(text), "HTTP %d%s%s", resp->status,
			 clean[0] != '\0' ? ": " : "", clean);
	}
	cJSON_Delete(doc);
	const char *hint = "";
	if (resp->status == 401)
		hint = o->token == NULL
			   ? " (pass -token or set " NC_CLI_ENV_TOKEN ")"
			   : "";
	else if (resp->status == 403 && o->token != NULL)
		hint = " (the agent rejected the token)";
	fprintf(ef, "netcoord: %s: %s%s\n", call->what, text, hint);
}

/** Print why the request failed. @return an NC_CLI_EXIT_* code. */
static int
report_call_error(const struct nc_cli_opts *o, const struct nc_cli_call *call,
		  int rc, const char *why, FILE *ef)
{
	char addr[256], text[256];
	sanitize(o->http_addr, addr, sizeof(addr));
	sanitize(why, text, sizeof(text));
	switch (rc) {
	case NC_HTTP_EINVAL:
		fprintf(ef, "netcoord: %s: %s\n", call->what, text);
		return NC_CLI_EXIT_USAGE;
	case NC_HTTP_EUNREACHABLE:
		fprintf(ef, "netcoord: cannot reach agent at %s: %s\n", addr,
			text);
		break;
	case NC_HTTP_ETLS:
		fprintf(ef,
			"netcoord: %s: TLS with agent at %s failed: %s%s\n",
			call->what, addr, text,
			o->ca_file == NULL
				? " (give the agent's CA with -ca-file or "
				  NC_CLI_ENV_CACERT ")"
				: "");
		break;
	case NC_HTTP_ETIMEDOUT:
		fprintf(ef,
			"netcoord: %s: agent at %s did not answer within %d "
			"ms\n",
			call->what, addr, o->timeout_ms);
		break;
	default:
		fprintf(ef, "netcoord: %s: bad response from agent at %s: %s\n",
			call->what, addr, text);
	}
	return NC_CLI_EXIT_FAIL;
}

/** Print a 2xx body: -json re-indented, else the table. */
static int
print_response(const struct nc_cli_opts *o, const struct nc_cli_call *call,
	       const char *body, const struct nc_cli_env *env)
{
	char err[512];
	int rc = 0;
	if (!o->json) {
		rc = nc_cli_format(o, body, env->out, err, sizeof(err));
		if (rc != 0)
			fprintf(env->err, "netcoord: %s\n", err);
		return rc;
	}
	cJSON *doc = cJSON_Parse(body);
	if (doc == NULL) {
		rc = bad_body(o, err, sizeof(err), "not JSON");
		fprintf(env->err, "netcoord: %s\n", err);
	} else if (json_pretty(env->out, doc, 0) != 0) {
		fprintf(env->err, "netcoord: %s: out of memory\n", call->what);
		rc = NC_CLI_EXIT_FAIL;
	} else {
		fputc('\n', env->out);
	}
	cJSON_Delete(doc);
	return rc;
}

/**
 * -watch: the wait asked of the agent (Consul's default), and how many
 * failed requests in a row end the watch. Between failures the watch
 * waits 1, 2, 4 ... s, at most WATCH_BACKOFF_MAX_S.
 */
#define WATCH_WAIT "5m"
#define WATCH_WAIT_MS (5 * 60 * 1000)
#define WATCH_MAX_FAILURES 10
#define WATCH_BACKOFF_MAX_S 30

/**
 * -watch: blocking queries in a loop (?index=N&wait=5m with the index of
 * the previous answer), printing every answer whose index differs from
 * the previous one. Runs until interrupted (SIGINT ends the process), or
 * WATCH_MAX_FAILURES failures in a row.
 */
static int
run_watch(const struct nc_cli_opts *o, const struct nc_cli_call *call,
	  const struct nc_cli_env *env)
{
	char err[512], path[NC_CLI_PATH_MAX + 64];
	unsigned long long index = 0;
	unsigned failures = 0;
	for (;;) {
		if (index == 0)
			snprintf(path, sizeof(path), "%s", call->path);
		else
			snprintf(path, sizeof(path), "%s%cindex=%llu&wait=%s",
				 call->path,
				 strchr(call->path, '?') ? '&' : '?', index,
				 WATCH_WAIT);
		/* The agent answers within wait + wait/16 (jitter). */
		struct nc_http_request req = {
		    .method = call->method,
		    .addr = o->http_addr,
		    .path = path,
		    .token = o->token,
		    .timeout_ms = WATCH_WAIT_MS + WATCH_WAIT_MS / 16 +
				  o->timeout_ms,
		    .connect_timeout_ms =
			o->timeout_ms < 3000 ? o->timeout_ms : 3000,
		};
		struct nc_http_response resp;
		int rc = nc_http_do(&req, &resp, err, sizeof(err));
		bool ok = rc == 0 && resp.status >= 200 && resp.status <= 299;
		if (!ok) {
			if (rc != 0)
				rc = report_call_error(o, call, rc, err,
						       env->err);
			else
				report_http_error(o, call, &resp, env->err);
			nc_http_response_destroy(&resp);
			fflush(env->err);
			if (rc == NC_CLI_EXIT_USAGE ||
			    ++failures >= WATCH_MAX_FAILURES)
				return rc == NC_CLI_EXIT_USAGE
					   ? rc
					   : NC_CLI_EXIT_FAIL;
			unsigned s = 1u << (failures - 1);
			sleep(s < WATCH_BACKOFF_MAX_S ? s : WATCH_BACKOFF_MAX_S);
			/* Start over: the agent may have restarted. */
			index = 0;
			continue;
		}
		failures = 0;
		if (resp.index == 0) {
			nc_http_response_destroy(&resp);
			fprintf(env->err,
				"netcoord: %s: the agent does not support "
				"blocking queries (no X-Netcoord-Index)\n",
				call->what);
			return NC_CLI_EXIT_FAIL;
		}
		if (resp.index != index) {
			rc = print_response(o, call, resp.body, env);
			if (!o->json && rc == 0)
				fputc('\n', env->out);
			if (fflush(env->out) != 0 && rc == 0) {
				fprintf(env->err,
					"netcoord: %s: writing output: %s\n",
					call->what, strerror(errno));
				rc = NC_CLI_EXIT_FAIL;
			}
			if (rc != 0) {
				nc_http_response_destroy(&resp);
				return rc;
			}
		}
		index = resp.index;
		nc_http_response_destroy(&resp);
	}
}

int
nc_cli_run(int argc, char **argv, const struct nc_cli_env *env)
{
	struct nc_cli_opts o;
	char err[512];
	int rc = nc_cli_parse(argc, argv, env, &o, err, sizeof(err));
	if (rc != 0) {
		fprintf(env->err, "netcoord: %s\n", err);
		return rc;
	}
	if (o.help) {
		nc_cli_usage(o.cmd, env->out);
		return 0;
	}
	struct nc_cli_call call;
	rc = nc_cli_build_call(&o, &call, err, sizeof(err));
	if (rc == 1)
		return run_keygen(&o, env);
	if (rc != 0) {
		fprintf(env->err, "netcoord: %s\n", err);
		return rc;
	}
	if (o.watch)
		return run_watch(&o, &call, env);
	struct nc_http_request req = {
	    .method = call.method,
	    .addr = o.http_addr,
	    .path = call.path,
	    .body = call.body[0] != '\0' ? call.body : NULL,
	    .token = o.token,
	    .ca_file = o.ca_file,
	    .timeout_ms = o.timeout_ms,
	    .connect_timeout_ms = o.timeout_ms < 3000 ? o.timeout_ms : 3000,
	};
	struct nc_http_response resp;
	rc = nc_http_do(&req, &resp, err, sizeof(err));
	if (rc != 0)
		return report_call_error(&o, &call, rc, err, env->err);
	if (resp.status == 502 && strcmp(o.cmd, "keys") == 0 && !o.local &&
	    strstr(resp.body, "\"NumNodes\"") != NULL) {
		/* Some node failed or did not answer: the per-node result,
		 * as serf prints it; exit 1 in any case. */
		print_response(&o, &call, resp.body, env);
		rc = NC_CLI_EXIT_FAIL;
	} else if (resp.status < 200 || resp.status > 299) {
		report_http_error(&o, &call, &resp, env->err);
		rc = NC_CLI_EXIT_FAIL;
	} else {
		rc = print_response(&o, &call, resp.body, env);
	}
	nc_http_response_destroy(&resp);
	if (fflush(env->out) != 0 && rc == 0) {
		fprintf(env->err, "netcoord: %s: writing output: %s\n",
			call.what, strerror(errno));
		rc = NC_CLI_EXIT_FAIL;
	}
	return rc;
}

int
nc_cmd_cli(int argc, char **argv)
{
	struct nc_cli_env env = {
	    .out = stdout,
	    .err = stderr,
	    .http_addr = getenv(NC_CLI_ENV_ADDR),
	    .http_token = getenv(NC_CLI_ENV_TOKEN),
	    .ca_file = getenv(NC_CLI_ENV_CACERT),
	};
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		fprintf(stderr, "netcoord: cannot initialise libcurl\n");
		return NC_CLI_EXIT_FAIL;
	}
	int rc = nc_cli_run(argc, argv, &env);
	curl_global_cleanup();
	return rc;
}
