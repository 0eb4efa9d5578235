/*
 * cli.h - the client subcommands of `netcoord` (members, rtt, nearest,
 * failover, join, leave, reload, keygen, keys, event, reachability):
 * thin wrappers over the agent's
 * REST API that print aligned tables, or the API's JSON with -json.
 *
 * The run is split into three steps that tests drive separately:
 *   nc_cli_parse()       argv -> struct nc_cli_opts (flags anywhere)
 *   nc_cli_build_call()  opts -> method, path + query, body
 *   nc_cli_format()      a 2xx JSON body -> the human-readable output
 * nc_cli_run() chains them around one nc_http_do() call (cmd/http.h,
 * libcurl); nc_cmd_cli() is nc_cli_run() on stdout/stderr with the
 * process environment, between curl_global_init() and _cleanup().
 */
#ifndef NC_CMD_CLI_H
#define NC_CMD_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/** Default agent address (`netcoord agent -http-addr`'s default). */
#define NC_CLI_HTTP_ADDR_DEFAULT "127.0.0.1:8555"
/** Environment variable overriding the default address. */
#define NC_CLI_ENV_ADDR "NETCOORD_HTTP_ADDR"
/** Environment variable with the API token. */
#define NC_CLI_ENV_TOKEN "NETCOORD_HTTP_TOKEN"
/** Environment variable with the CA file for an https agent (Consul's
 * CONSUL_CACERT). */
#define NC_CLI_ENV_CACERT "NETCOORD_CACERT"
/** Most positional arguments any subcommand takes. */
#define NC_CLI_ARGS_MAX 4
/** Most -tag flags per invocation (arbitrary; 16 is plenty). */
#define NC_CLI_TAGS_MAX 16
/** Longest request path + query we build, bytes. */
#define NC_CLI_PATH_MAX 2048
/** Longest event name + payload (serf's UserEventSizeLimit). */
#define NC_CLI_EVENT_MAX 512

/** Exit codes of a client subcommand. */
enum {
	/** Success. */
	NC_CLI_EXIT_OK = 0,
	/** The agent could not be reached or answered with an error. */
	NC_CLI_EXIT_FAIL = 1,
	/** Bad command line. */
	NC_CLI_EXIT_USAGE = 2,
};

/**
 * What a run sees of the outside world: output streams and the values of
 * the environment variables (passed in, never read with getenv() inside,
 * so tests can set them).
 */
struct nc_cli_env {
	/** Normal output. */
	FILE *out;
	/** Error messages (one line each). */
	FILE *err;
	/** Value of NETCOORD_HTTP_ADDR, or NULL. */
	const char *http_addr;
	/** Value of NETCOORD_HTTP_TOKEN, or NULL. */
	const char *http_token;
	/** Value of NETCOORD_CACERT, or NULL. */
	const char *ca_file;
};

/** A parsed command line. Strings are borrowed from argv / env. */
struct nc_cli_opts {
	/** Canonical subcommand name ("members", "keys", ...). */
	const char *cmd;
	/** Positional arguments, in order. */
	const char *args[NC_CLI_ARGS_MAX];
	/** Number of positional arguments. */
	size_t n_args;
	/** Agent address: -http-addr, else env, else the default. */
	const char *http_addr;
	/** Token: -token, else env, else NULL. */
	const char *token;
	/** CA file for https: -ca-file, else env, else NULL (system CAs). */
	const char *ca_file;
	/** -from NODE (nearest, failover), or NULL. */
	const char *from;
	/** -group KEY (failover), or NULL. */
	const char *group;
	/** -status S (members, nearest), or NULL. */
	const char *status;
	/** -tag k=v, repeatable (members, nearest); as given. */
	const char *tags[NC_CLI_TAGS_MAX];
	/** Number of -tag flags. */
	size_t n_tags;
	/** -n N (nearest); 0 = the API's default. */
	long n;
	/** -verify K (nearest, checked by the agent), or NULL. */
	const char *verify;
	/** Request deadline, ms (-timeout; default 10 s, 60 s for keys and
	 * reachability). */
	int timeout_ms;
	/** -json: print the API's JSON (pretty) instead of tables. */
	bool json;
	/** -skip-local (failover). */
	bool skip_local;
	/** -watch (members, nearest): print each new answer, until killed. */
	bool watch;
	/** -local (keys): this agent's keyring only. */
	bool local;
	/** -verbose (reachability): every ack and the timing. */
	bool verbose;
	/** -h / -help given: print the subcommand's usage. */
	bool help;
};

/** One API call derived from the options. */
struct nc_cli_call {
	/** "GET" or "PUT". */
	const char *method;
	/** Path and percent-encoded query. */
	char path[NC_CLI_PATH_MAX];
	/** Body for PUT (JSON, or an event's payload), NUL-terminated; ""
	 * for none. */
	char body[NC_CLI_EVENT_MAX + 1];
	/**
	 * Name used in error messages ("members", "keys install", ...);
	 * points to a static string.
	 */
	const char *what;
};

/**
 * Is `name` a client subcommand (so main() dispatches it to nc_cmd_cli)?
 */
bool
nc_cli_is_command(const char *name);

/**
 * One-line description of a client subcommand for the top-level usage
 * list, or NULL if `name` is not one.
 */
const char *
nc_cli_command_help(const char *name);

/** Print the flags shared by all client subcommands (top-level usage). */
void
nc_cli_usage_common(FILE *f);

/**
 * Parse a client command line. argv[0] is the subcommand. Flags may come
 * before, between or after positional arguments ("rtt -json a b");
 * "--" ends flags; "-flag value", "-flag=value" and "--flag" all work.
 * @param[out] o      zeroed, then filled
 * @param[out] err    message buffer ("flag provided but not defined: -x")
 * @retval 0 ok (check o->help); NC_CLI_EXIT_USAGE with a message.
 */
int
nc_cli_parse(int argc, char **argv, const struct nc_cli_env *env,
	     struct nc_cli_opts *o, char *err, size_t err_len);

/**
 * Build the API call for parsed options (for keygen there is none).
 * @retval 0 ok; 1 no call needed (keygen); NC_CLI_EXIT_USAGE with a
 *         message in err (missing argument, bad -tag, bad key, ...).
 */
int
nc_cli_build_call(const struct nc_cli_opts *o, struct nc_cli_call *call,
		  char *err, size_t err_len);

/**
 * Print the human-readable form of a successful response.
 * @param o     parsed options (the subcommand and its arguments)
 * @param json  the response body, NUL-terminated
 * @param out   where to print
 * @param[out] err  message when the body is not what the API promises
 * @retval 0 ok; NC_CLI_EXIT_FAIL (bad body; nothing useful printed).
 */
int
nc_cli_format(const struct nc_cli_opts *o, const char *json, FILE *out,
	      char *err, size_t err_len);

/**
 * Print the usage text of subcommand `cmd` (e.g. for -h) to f.
 * @retval 0, or NC_CLI_EXIT_USAGE if cmd is not a client subcommand.
 */
int
nc_cli_usage(const char *cmd, FILE *f);

/**
 * Run a client subcommand end to end: parse, call the agent, print.
 * Errors are one line on env->err: "netcoord: <what>: <reason>".
 * @return an NC_CLI_EXIT_* code.
 */
int
nc_cli_run(int argc, char **argv, const struct nc_cli_env *env);

/**
 * `netcoord <client subcommand>`: nc_cli_run() on stdout/stderr with
 * NETCOORD_HTTP_ADDR / NETCOORD_HTTP_TOKEN / NETCOORD_CACERT from the
 * environment.
 * argv[0] is the subcommand name.
 */
int
nc_cmd_cli(int argc, char **argv);

#endif /* NC_CMD_CLI_H */
