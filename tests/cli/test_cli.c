/*
 * test_cli.c - the client subcommands (cmd/cli.c): argument parsing
 * (flags anywhere, env fallbacks, per-command flags), the API call each
 * command builds, the tables printed from canned API bodies, and whole
 * runs against the canned server (success, -json, API errors with and
 * without a JSON body, 401/403 hints, refused, garbage, timeout).
 */
#include <CUnit/CUnit.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/cli.h"
#include "test_cli.h"
#include "test_server.h"

/** Server for the end-to-end runs. */
static struct nc_test_srv *srv;

static int
suite_init(void)
{
	srv = nc_test_srv_start();
	return srv != NULL ? 0 : -1;
}

static int
suite_cleanup(void)
{
	nc_test_srv_stop(srv);
	srv = NULL;
	return 0;
}

/** Split a command line on spaces into argv (static storage). */
static int
split(const char *line, char **argv, size_t max, char *store, size_t cap)
{
	snprintf(store, cap, "%s", line);
	int argc = 0;
	for (char *tok = strtok(store, " "); tok != NULL && (size_t)argc < max;
	     tok = strtok(NULL, " "))
		argv[argc++] = tok;
	return argc;
}

/** Parse `line`; returns nc_cli_parse()'s code. */
static int
parse(const char *line, const struct nc_cli_env *env, struct nc_cli_opts *o,
      char *err, size_t err_len)
{
	static char store[1024];
	static char *argv[32];
	int argc = split(line, argv, 32, store, sizeof(store));
	return nc_cli_parse(argc, argv, env, o, err, err_len);
}

/** Parse + build; returns the path ("" and err on failure). */
static const char *
path_of(const char *line, char *err, size_t err_len)
{
	static struct nc_cli_call call;
	struct nc_cli_opts o;
	memset(&call, 0, sizeof(call));
	if (parse(line, NULL, &o, err, err_len) != 0)
		return "";
	if (nc_cli_build_call(&o, &call, err, err_len) != 0)
		return "";
	return call.path;
}

static void
test_parse_flags_anywhere(void)
{
	struct nc_cli_opts o;
	char err[256] = "";
	CU_ASSERT_EQUAL(parse("rtt -json a b", NULL, &o, err, sizeof(err)), 0);
	CU_ASSERT_TRUE(o.json);
	CU_ASSERT_EQUAL(o.n_args, 2);
	CU_ASSERT_STRING_EQUAL(o.args[0], "a");
	CU_ASSERT_STRING_EQUAL(o.args[1], "b");
	CU_ASSERT_STRING_EQUAL(o.http_addr, NC_CLI_HTTP_ADDR_DEFAULT);
	CU_ASSERT_PTR_NULL(o.token);
	CU_ASSERT_EQUAL(o.timeout_ms, 10000);

	CU_ASSERT_EQUAL(parse("rtt a -http-addr=10.0.0.1:9 b --token t "
			      "-timeout 500ms -json=false",
			      NULL, &o, err, sizeof(err)),
			0);
	CU_ASSERT_FALSE(o.json);
	CU_ASSERT_STRING_EQUAL(o.http_addr, "10.0.0.1:9");
	CU_ASSERT_STRING_EQUAL(o.token, "t");
	CU_ASSERT_EQUAL(o.timeout_ms, 500);
	CU_ASSERT_EQUAL(o.n_args, 2);

	/* "--" ends flags: a node literally named "-x". */
	CU_ASSERT_EQUAL(parse("rtt -- -x", NULL, &o, err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(o.args[0], "-x");

	CU_ASSERT_EQUAL(parse("nearest -n 3 -tag dc=east -tag role:web "
			      "-from a -status alive",
			      NULL, &o, err, sizeof(err)),
			0);
	CU_ASSERT_EQUAL(o.n, 3);
	CU_ASSERT_EQUAL(o.n_tags, 2);
	CU_ASSERT_STRING_EQUAL(o.from, "a");
	CU_ASSERT_STRING_EQUAL(o.status, "alive");

	CU_ASSERT_EQUAL(
	    parse("failover -skip-local -group dc", NULL, &o, err, sizeof(err)),
	    0);
	CU_ASSERT_TRUE(o.skip_local);
	CU_ASSERT_STRING_EQUAL(o.group, "dc");

	/* -watch: members and nearest only. */
	CU_ASSERT_EQUAL(parse("members -watch", NULL, &o, err, sizeof(err)), 0);
	CU_ASSERT_TRUE(o.watch);
	CU_ASSERT_EQUAL(
	    parse("nearest -n 2 -watch=false", NULL, &o, err, sizeof(err)), 0);
	CU_ASSERT_FALSE(o.watch);
	CU_ASSERT_EQUAL(parse("rtt a -watch", NULL, &o, err, sizeof(err)),
			NC_CLI_EXIT_USAGE);

	CU_ASSERT_EQUAL(parse("members -h", NULL, &o, err, sizeof(err)), 0);
	CU_ASSERT_TRUE(o.help);
	/* -h wins over missing arguments. */
	CU_ASSERT_EQUAL(parse("rtt --help", NULL, &o, err, sizeof(err)), 0);
	CU_ASSERT_TRUE(o.help);
}

static void
test_parse_env(void)
{
	struct nc_cli_env env = {.http_addr = "10.1.1.1:8555",
				 .http_token = "envtok"};
	struct nc_cli_opts o;
	char err[256];
	CU_ASSERT_EQUAL(parse("members", &env, &o, err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(o.http_addr, "10.1.1.1:8555");
	CU_ASSERT_STRING_EQUAL(o.token, "envtok");
	/* Flags beat the environment. */
	CU_ASSERT_EQUAL(parse("members -http-addr 1.2.3.4:5 -token x", &env, &o,
			      err, sizeof(err)),
			0);
	CU_ASSERT_STRING_EQUAL(o.http_addr, "1.2.3.4:5");
	CU_ASSERT_STRING_EQUAL(o.token, "x");
	/* Empty variables count as unset. */
	struct nc_cli_env empty = {.http_addr = "", .http_token = ""};
	CU_ASSERT_EQUAL(parse("members", &empty, &o, err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(o.http_addr, NC_CLI_HTTP_ADDR_DEFAULT);
	CU_ASSERT_PTR_NULL(o.token);
}

static void
test_parse_errors(void)
{
	struct nc_cli_opts o;
	char err[256];
	struct {
		const char *line;
		const char *msg;
	} cases[] = {
	    {"rtt", "rtt: missing argument (usage: netcoord rtt A [B])"},
	    {"rtt a b c",
	     "rtt: unexpected argument \"c\" (usage: netcoord rtt A [B])"},
	    {"rtt -group dc a", "rtt: flag provided but not defined: -group"},
	    {"members -bogus",
	     "members: flag provided but not defined: -bogus"},
	    {"members -status", "members: flag needs an argument: -status"},
	    {"nearest -n 0", "nearest: invalid -n \"0\" (want 1..100000)"},
	    {"nearest -n x", "nearest: invalid -n \"x\" (want 1..100000)"},
	    {"members -timeout 5parsecs",
	     "members: invalid -timeout \"5parsecs\" (want e.g. 5s or "
	     "500ms)"},
	    {"members -json=maybe",
	     "invalid boolean value \"maybe\" for -json"},
	    {"leave now", "leave: unexpected argument \"now\" (usage: "
			  "netcoord leave)"},
	    {"keys", "keys: missing argument (usage: netcoord keys list | "
		     "install KEY | use KEY | remove KEY [-local])"},
	    {"bogus", "unknown command \"bogus\""},
	    {"keys list -install x",
	     "keys: use either -install or a verb, not both"},
	    {"members -http-addr=", "members: empty -http-addr"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		err[0] = '\0';
		CU_ASSERT_EQUAL(
		    parse(cases[i].line, NULL, &o, err, sizeof(err)),
		    NC_CLI_EXIT_USAGE);
		CU_ASSERT_STRING_EQUAL(err, cases[i].msg);
		if (strcmp(err, cases[i].msg) != 0)
			fprintf(stderr, "\n  %s -> \"%s\"\n", cases[i].line,
				err);
	}
}

static void
test_build_calls(void)
{
	char err[256] = "";
	CU_ASSERT_STRING_EQUAL(path_of("members", err, sizeof(err)),
			       "/v1/members");
	CU_ASSERT_STRING_EQUAL(
	    path_of("members -status alive -tag dc=us-east -tag a=b=c", err,
		    sizeof(err)),
	    "/v1/members?status=alive&tag=dc%3Aus-east&tag=a%3Ab%3Dc");
	CU_ASSERT_STRING_EQUAL(path_of("rtt web-1", err, sizeof(err)),
			       "/v1/rtt?to=web-1");
	CU_ASSERT_STRING_EQUAL(path_of("rtt -json a/b c d", err, sizeof(err)),
			       "");
	CU_ASSERT_STRING_EQUAL(path_of("rtt a/b c&d", err, sizeof(err)),
			       "/v1/rtt?from=a%2Fb&to=c%26d");
	CU_ASSERT_STRING_EQUAL(path_of("nearest", err, sizeof(err)),
			       "/v1/nearest");
	CU_ASSERT_STRING_EQUAL(
	    path_of("nearest -tag service:web -n 1 -from x -status alive", err,
		    sizeof(err)),
	    "/v1/nearest?from=x&n=1&status=alive&tag=service%3Aweb");
	CU_ASSERT_STRING_EQUAL(
	    path_of("failover -group dc -from a -skip-local", err, sizeof(err)),
	    "/v1/failover?from=a&group=dc&skip-local=1");
	CU_ASSERT_STRING_EQUAL(path_of("failover", err, sizeof(err)), "");
	CU_ASSERT_STRING_EQUAL(err,
			       "failover: -group is required (e.g. -group dc)");
	CU_ASSERT_STRING_EQUAL(
	    path_of("members -tag novalue", err, sizeof(err)), "");
	CU_ASSERT_STRING_EQUAL(
	    err, "members: invalid -tag \"novalue\" (want key=value)");
	CU_ASSERT_STRING_EQUAL(path_of("keys -list", err, sizeof(err)),
			       "/v1/agent/keyring");

	struct nc_cli_opts o;
	struct nc_cli_call call;
	CU_ASSERT_EQUAL(parse("join 10.0.0.2:7946", NULL, &o, err, sizeof(err)),
			0);
	CU_ASSERT_EQUAL(nc_cli_build_call(&o, &call, err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(call.method, "PUT");
	CU_ASSERT_STRING_EQUAL(call.path,
			       "/v1/agent/join?address=10.0.0.2%3A7946");
	CU_ASSERT_STRING_EQUAL(call.body, "");

	CU_ASSERT_EQUAL(parse("leave", NULL, &o, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(nc_cli_build_call(&o, &call, err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(call.method, "PUT");
	CU_ASSERT_STRING_EQUAL(call.path, "/v1/agent/leave");

	const char *key = "QMTKNQO4Ch8wHrzpOFSVmVHqap5Z7gsjdJePoAHT0Qk=";
	char line[128];
	snprintf(line, sizeof(line), "keys install %s", key);
	CU_ASSERT_EQUAL(parse(line, NULL, &o, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(nc_cli_build_call(&o, &call, err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(call.method, "PUT");
	CU_ASSERT_STRING_EQUAL(call.path, "/v1/agent/keyring/install");
	CU_ASSERT_STRING_EQUAL(call.what, "keys install");
	char body[128];
	snprintf(body, sizeof(body), "{\"Key\":\"%s\"}", key);
	CU_ASSERT_STRING_EQUAL(call.body, body);
	/* serf spelling */
	snprintf(line, sizeof(line), "keys -use=%s", key);
	CU_ASSERT_EQUAL(parse(line, NULL, &o, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(nc_cli_build_call(&o, &call, err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(call.path, "/v1/agent/keyring/use");
	CU_ASSERT_STRING_EQUAL(call.body, body);

	CU_ASSERT_EQUAL(
	    parse("keys install notbase64!", NULL, &o, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(nc_cli_build_call(&o, &call, err, sizeof(err)),
			NC_CLI_EXIT_USAGE);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "keys install: invalid key"));
	CU_ASSERT_EQUAL(parse("keys install", NULL, &o, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(nc_cli_build_call(&o, &call, err, sizeof(err)),
			NC_CLI_EXIT_USAGE);
	CU_ASSERT_STRING_EQUAL(err, "keys install: missing KEY");
	CU_ASSERT_EQUAL(parse("keys rotate", NULL, &o, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(nc_cli_build_call(&o, &call, err, sizeof(err)),
			NC_CLI_EXIT_USAGE);
	CU_ASSERT_STRING_EQUAL(err, "keys: unknown action \"rotate\" (want "
				    "list, install, use or remove)");

	CU_ASSERT_EQUAL(parse("keygen", NULL, &o, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(nc_cli_build_call(&o, &call, err, sizeof(err)), 1);

	/* event NAME [PAYLOAD] (issue 11): the payload is the body. */
	CU_ASSERT_EQUAL(parse("event deploy v1.2", NULL, &o, err, sizeof(err)),
			0);
	CU_ASSERT_EQUAL(nc_cli_build_call(&o, &call, err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(call.method, "PUT");
	CU_ASSERT_STRING_EQUAL(call.path, "/v1/event/fire/deploy");
	CU_ASSERT_STRING_EQUAL(call.body, "v1.2");
	CU_ASSERT_STRING_EQUAL(path_of("event a/b", err, sizeof(err)),
			       "/v1/event/fire/a%2Fb");
	static char big[700];
	memset(big, 'x', 600);
	big[600] = '\0';
	char *argv[] = {"event", "deploy", big};
	CU_ASSERT_EQUAL(nc_cli_parse(3, argv, NULL, &o, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(nc_cli_build_call(&o, &call, err, sizeof(err)),
			NC_CLI_EXIT_USAGE);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "at most 512 bytes"));
}

/** Format `json` for command line `line`; returns malloc'd output. */
static char *
format(const char *line, const char *json, int *rc, char *err, size_t err_len)
{
	struct nc_cli_opts o;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	if (f == NULL)
		return NULL;
	*rc = parse(line, NULL, &o, err, err_len);
	if (*rc == 0)
		*rc = nc_cli_format(&o, json, f, err, err_len);
	fclose(f);
	return buf;
}

/** Assert the output of format() equals `want` (and show a diff). */
static void
expect_format(const char *line, const char *json, const char *want)
{
	int rc = -1;
	char err[256] = "";
	char *got = format(line, json, &rc, err, sizeof(err));
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(got);
	CU_ASSERT_STRING_EQUAL(got, want);
	if (strcmp(got, want) != 0)
		fprintf(stderr, "\n--- %s: got\n%s--- want\n%s---\n", line, got,
			want);
	free(got);
}

static const char *members_json =
    "[{\"Name\":\"a\",\"Addr\":\"127.0.0.1\",\"Port\":27001,"
    "\"Tags\":{\"role\":\"web\",\"dc\":\"east\"},\"Status\":\"alive\","
    "\"Incarnation\":1},"
    "{\"Name\":\"node-long-name\",\"Addr\":\"::1\",\"Port\":7946,"
    "\"Tags\":{},\"Status\":\"failed\",\"Incarnation\":3},"
    "{\"Name\":\"h\u00e9\",\"Addr\":\"10.0.0.3\",\"Port\":7946,"
    "\"Status\":\"suspect\"}]";

static void
test_format_members(void)
{
	/* Sorted by name whatever the agent's order; UTF-8 names align. */
	expect_format("members", members_json,
		      "NAME            ADDRESS          STATUS   TAGS\n"
		      "a               127.0.0.1:27001  alive    "
		      "dc=east,role=web\n"
		      "h\u00e9              10.0.0.3:7946    suspect\n"
		      "node-long-name  [::1]:7946       failed\n");
	expect_format("members", "[]", "NAME  ADDRESS  STATUS  TAGS\n");
}

/* Terminal escapes in names and tags from the network are neutralised. */
static void
test_format_sanitises(void)
{
	expect_format("members",
		      "[{\"Name\":\"evil\\u001b[2J\",\"Addr\":\"1.2.3.4\","
		      "\"Port\":1,\"Tags\":{\"k\":\"v\\n\\u009b31m\"},"
		      "\"Status\":\"alive\"}]",
		      "NAME      ADDRESS    STATUS  TAGS\n"
		      "evil?[2J  1.2.3.4:1  alive   k=v??31m\n");
}

static void
test_format_rtt(void)
{
	expect_format("rtt b",
		      "{\"From\":\"a\",\"To\":\"b\",\"EstimatedMs\":1.23456}",
		      "Estimated a <-> b rtt: 1.235 ms\n");
	expect_format("rtt a b",
		      "{\"From\":\"a\",\"To\":\"b\",\"EstimatedMs\":80.5,"
		      "\"MeasuredMs\":79.25,\"MeasuredAgeS\":3.2}",
		      "Estimated a <-> b rtt: 80.500 ms\n"
		      "Measured  a -> b rtt: 79.250 ms (3 s ago)\n");
	expect_format("rtt a b",
		      "{\"From\":\"a\",\"To\":\"b\",\"EstimatedMs\":null}",
		      "Estimated a <-> b rtt: unknown (no coordinate)\n");
}

static void
test_format_nearest(void)
{
	expect_format(
	    "nearest -n 3",
	    "{\"From\":\"a\",\"Nodes\":["
	    "{\"Name\":\"b\",\"Addr\":\"127.0.0.1\",\"Port\":27002,"
	    "\"Tags\":{\"service\":\"web\",\"port\":\"8080\"},"
	    "\"Status\":\"alive\",\"EstimatedMs\":0.4121},"
	    "{\"Name\":\"c\",\"Addr\":\"127.0.0.1\",\"Port\":27003,"
	    "\"Tags\":{},\"Status\":\"alive\",\"EstimatedMs\":12.5},"
	    "{\"Name\":\"d\",\"Addr\":\"127.0.0.1\",\"Port\":27004,"
	    "\"Tags\":{},\"Status\":\"alive\",\"EstimatedMs\":null}]}",
	    "#  NAME  ADDRESS          STATUS  EST_RTT    TAGS\n"
	    "1  b     127.0.0.1:27002  alive   0.412 ms   "
	    "port=8080,service=web\n"
	    "2  c     127.0.0.1:27003  alive   12.500 ms\n"
	    "3  d     127.0.0.1:27004  alive   -\n");
}

static void
test_format_failover(void)
{
	expect_format(
	    "failover -group dc",
	    "{\"From\":\"a\",\"Group\":\"dc\",\"Groups\":["
	    "{\"Value\":\"east\",\"MedianMs\":0.5,\"Members\":["
	    "{\"Name\":\"b\",\"Status\":\"alive\",\"EstimatedMs\":0.4},"
	    "{\"Name\":\"c\",\"Status\":\"alive\",\"EstimatedMs\":0.6}]},"
	    "{\"Value\":\"west\",\"MedianMs\":80.1,\"Members\":["
	    "{\"Name\":\"d\",\"Status\":\"alive\",\"EstimatedMs\":80.1},"
	    "{\"Name\":\"e\",\"Status\":\"suspect\",\"EstimatedMs\":81},"
	    "{\"Name\":\"f\",\"Status\":\"failed\",\"EstimatedMs\":null}]},"
	    "{\"Value\":\"south\",\"MedianMs\":null,\"Members\":["
	    "{\"Name\":\"g\",\"Status\":\"failed\"}]},"
	    "{\"Value\":\"\",\"MedianMs\":null,\"Members\":[]}]}",
	    "#  DC      MEDIAN_RTT  ALIVE  MEMBERS\n"
	    "1  east    0.500 ms    2/2    b (0.400 ms), c (0.600 ms)\n"
	    "2  west    80.100 ms   1/3    d (80.100 ms), e (suspect, "
	    "81.000 ms), f (failed)\n"
	    "3  south   -           0/1    g (failed)\n"
	    "4  (none)  -           0/0    -\n");
}

static void
test_format_keys(void)
{
	expect_format(
	    "keys list -local",
	    "{\"Keys\":[\"QMTKNQO4Ch8wHrzpOFSVmVHqap5Z7gsjdJePoAHT0Qk=\","
	    "\"T9jncgl9mbLus+baTTa7q7nPSUrXwbDi2dhbtqir37s=\"],"
	    "\"Primary\":\"T9jncgl9mbLus+baTTa7q7nPSUrXwbDi2dhbtqir37s="
	    "\"}",
	    "KEY                                           PRIMARY\n"
	    "QMTKNQO4Ch8wHrzpOFSVmVHqap5Z7gsjdJePoAHT0Qk=\n"
	    "T9jncgl9mbLus+baTTa7q7nPSUrXwbDi2dhbtqir37s=  *\n");
	expect_format("keys list -local", "{\"Keys\":[],\"Primary\":\"\"}",
		      "KEY  PRIMARY\n(no keys: gossip is not encrypted)\n");
	expect_format(
	    "keys remove QMTKNQO4Ch8wHrzpOFSVmVHqap5Z7gsjdJePoAHT0Qk= -local",
	    "{}",
	    "Removed key QMTKNQO4Ch8wHrzpOFSVmVHqap5Z7gsjdJePoAHT0Qk=\n");
	expect_format("join 10.0.0.1:7946", "{\"Joined\":1}",
		      "Joined the cluster via 10.0.0.1:7946 (1 node(s) "
		      "contacted)\n");
	expect_format("leave", "{}", "Left the cluster\n");
}

/* Issue 11: cluster-wide keys and reachability, printed as serf does. */
static void
test_format_cluster(void)
{
	const char *ka = "QMTKNQO4Ch8wHrzpOFSVmVHqap5Z7gsjdJePoAHT0Qk=";
	char json[512], want[512];
	snprintf(json, sizeof(json),
		 "{\"NumNodes\":13,\"NumResp\":13,\"NumErr\":0,"
		 "\"Messages\":{},\"Keys\":{\"%s\":13,\"zz==\":2},"
		 "\"PrimaryKeys\":{\"%s\":13}}",
		 ka, ka);
	snprintf(want, sizeof(want),
		 "==> Asking all members for installed keys...\n"
		 "==> Keys gathered, listing cluster keys...\n\n"
		 "%s  [13/13]\n"
		 "zz==%*s  [2/13]\n",
		 ka, (int)strlen(ka) - 4, "");
	expect_format("keys list", json, want);
	snprintf(json, sizeof(json),
		 "{\"NumNodes\":13,\"NumResp\":13,\"NumErr\":0,"
		 "\"Messages\":{},\"Keys\":{},\"PrimaryKeys\":{}}");
	snprintf(want, sizeof(want), "keys install %s", ka);
	expect_format(want, json,
		      "==> Installing key on all members...\n"
		      "==> Successfully installed key!\n");
	snprintf(want, sizeof(want), "keys use %s", ka);
	expect_format(want, json,
		      "==> Changing primary key on all members...\n"
		      "==> Successfully changed primary key!\n");

	/* A node failed: its message, serf's error, exit 1. */
	char line[128], err[256] = "";
	int rc = 0;
	snprintf(line, sizeof(line), "keys remove %s", ka);
	char *got = format(line,
			   "{\"NumNodes\":3,\"NumResp\":3,\"NumErr\":1,"
			   "\"Messages\":{\"n-two\":\"Removing the primary key "
			   "is not allowed\",\"a\\u001b\":\"x\"},\"Keys\":{}}",
			   &rc, err, sizeof(err));
	CU_ASSERT_EQUAL(rc, NC_CLI_EXIT_FAIL);
	CU_ASSERT_STRING_EQUAL(got,
			       "==> Removing key on all members...\n"
			       "failed:  a?     x\n"
			       "failed:  n-two  Removing the primary key is not "
			       "allowed\n");
	CU_ASSERT_STRING_EQUAL(err, "Error removing key: 1/3 nodes reported "
				    "failure");
	free(got);
	/* A node did not answer. */
	got = format("keys list",
		     "{\"NumNodes\":3,\"NumResp\":2,\"NumErr\":0,"
		     "\"Messages\":{},\"Keys\":{}}",
		     &rc, err, sizeof(err));
	CU_ASSERT_EQUAL(rc, NC_CLI_EXIT_FAIL);
	CU_ASSERT_STRING_EQUAL(err, "Failed to gather member keys: 2/3 nodes "
				    "reported success");
	free(got);

	/* reachability */
	expect_format("reachability",
		      "{\"Members\":3,\"LiveMembers\":3,\"Acks\":[\"a\","
		      "\"b\",\"c\"],\"Missing\":[],\"NonLive\":[],"
		      "\"QueryTime\":6.4,\"TimeToLast\":0.01,"
		      "\"Success\":true}",
		      "Total members: 3, live members: 3\n"
		      "Starting reachability test...\n"
		      "Successfully contacted all live nodes\n");
	expect_format("reachability -verbose",
		      "{\"Members\":2,\"LiveMembers\":2,\"Acks\":[\"a\","
		      "\"b\"],\"Missing\":[],\"NonLive\":[],"
		      "\"QueryTime\":6.4,\"TimeToLast\":0.01}",
		      "Total members: 2, live members: 2\n"
		      "Starting reachability test...\n"
		      "\tAck from 'a'\n\tAck from 'b'\n"
		      "Query time: 6.40 sec, time to last response: 0.01 "
		      "sec\n"
		      "Successfully contacted all live nodes\n");
	got = format("reachability",
		     "{\"Members\":4,\"LiveMembers\":3,\"Acks\":[\"a\"],"
		     "\"Missing\":[\"b\",\"c\"],\"NonLive\":[]}",
		     &rc, err, sizeof(err));
	CU_ASSERT_EQUAL(rc, NC_CLI_EXIT_FAIL);
	CU_ASSERT_PTR_NOT_NULL(strstr(got, "Received less acks than live "
					   "nodes! Missing acks from:\n\tb\n"
					   "\tc\nThis could mean Serf gossip "
					   "packets are being lost"));
	CU_ASSERT_PTR_NOT_NULL(strstr(got, "Troubleshooting tips:"));
	CU_ASSERT_STRING_EQUAL(err, "reachability: 2 of 3 live members did "
				    "not ack, 0 acks from non-live nodes");
	free(got);

	/* The calls: cluster by default, ?local=1 with -local; the longer
	 * default deadline of cluster-wide commands. */
	CU_ASSERT_STRING_EQUAL(path_of("keys list -local", err, sizeof(err)),
			       "/v1/agent/keyring?local=1");
	snprintf(line, sizeof(line), "keys -install=%s -local", ka);
	CU_ASSERT_STRING_EQUAL(path_of(line, err, sizeof(err)),
			       "/v1/agent/keyring/install?local=1");
	CU_ASSERT_STRING_EQUAL(path_of("reachability", err, sizeof(err)),
			       "/v1/agent/reachability");
	struct nc_cli_opts o;
	CU_ASSERT_EQUAL(parse("reachability", NULL, &o, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(o.timeout_ms, 60000);
	CU_ASSERT_EQUAL(parse("members", NULL, &o, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(o.timeout_ms, 10000);
	CU_ASSERT_EQUAL(parse("members -local", NULL, &o, err, sizeof(err)),
			NC_CLI_EXIT_USAGE);
}

static void
test_format_bad_bodies(void)
{
	struct {
		const char *line, *json, *msg;
	} cases[] = {
	    {"members", "{\"error\":1}",
	     "members: unexpected response from agent: members is not an "
	     "array"},
	    {"members", "<html>",
	     "members: unexpected response from agent: "
	     "not JSON"},
	    {"nearest", "[]",
	     "nearest: unexpected response from agent: no "
	     "Nodes array"},
	    {"failover -group dc", "{}",
	     "failover: unexpected response from agent: no Groups array"},
	    {"keys list -local", "{\"Keys\":3}",
	     "keys: unexpected response from agent: no Keys array"},
	    {"keys list", "{\"Keys\":{}}",
	     "keys: unexpected response from agent: no "
	     "NumNodes/NumResp/NumErr"},
	    {"reachability", "{\"Members\":3}",
	     "reachability: unexpected response from agent: no "
	     "Members/Acks"},
	    {"rtt a", "[1]",
	     "rtt: unexpected response from agent: not an "
	     "object"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = 0;
		char err[256] = "";
		char *got =
		    format(cases[i].line, cases[i].json, &rc, err, sizeof(err));
		CU_ASSERT_EQUAL(rc, NC_CLI_EXIT_FAIL);
		CU_ASSERT_STRING_EQUAL(err, cases[i].msg);
		free(got);
	}
}

/* ---- whole runs against the canned server ------------------------- */

/** Output of one nc_cli_run(). */
struct run {
	int rc;
	char *out;
	char *err;
};

static struct run
run(const char *line, const struct nc_cli_env *base)
{
	char store[1024];
	char *argv[32];
	int argc = split(line, argv, 32, store, sizeof(store));
	struct run r = {0};
	size_t ol = 0, el = 0;
	struct nc_cli_env env = {0};
	if (base != NULL)
		env = *base;
	env.out = open_memstream(&r.out, &ol);
	env.err = open_memstream(&r.err, &el);
	r.rc = nc_cli_run(argc, argv, &env);
	fclose(env.out);
	fclose(env.err);
	return r;
}

static void
run_free(struct run *r)
{
	free(r->out);
	free(r->err);
}

static void
test_run_success(void)
{
	struct nc_cli_env env = {.http_addr = nc_test_srv_addr(srv),
				 .http_token = "tok"};
	char raw[1024];
	snprintf(raw, sizeof(raw),
		 "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n%s",
		 strlen(members_json), members_json);
	nc_test_srv_set_raw(srv, raw);
	struct run r = run("members -status alive", &env);
	CU_ASSERT_EQUAL(r.rc, 0);
	CU_ASSERT_STRING_EQUAL(r.err, "");
	CU_ASSERT_TRUE(strncmp(r.out, "NAME            ADDRESS", 23) == 0);
	run_free(&r);
	struct nc_test_srv_req req;
	nc_test_srv_last(srv, &req);
	CU_ASSERT_PTR_NOT_NULL(
	    strstr(req.head, "GET /v1/members?status=alive HTTP/1.1\r\n"));
	CU_ASSERT_PTR_NOT_NULL(
	    strstr(req.head, "\r\nAuthorization: Bearer tok\r\n"));

	/* -json: the API's document, re-indented, nothing else. */
	nc_test_srv_set_raw(srv,
			    "HTTP/1.1 200 OK\r\nTransfer-Encoding: "
			    "chunked\r\n\r\n"
			    "1b\r\n{\"From\":\"a\",\"To\":\"b\",\"Estim\r\n"
			    "c\r\natedMs\":1.5}\r\n0\r\n\r\n");
	r = run("rtt a b -json", &env);
	CU_ASSERT_EQUAL(r.rc, 0);
	CU_ASSERT_STRING_EQUAL(r.out,
			       "{\n  \"From\": \"a\",\n  \"To\": \"b\",\n"
			       "  \"EstimatedMs\": 1.5\n}\n");
	CU_ASSERT_STRING_EQUAL(r.err, "");
	run_free(&r);

	/* Nested documents, empty containers, escapes kept escaped. */
	nc_test_srv_set_raw(
	    srv, "HTTP/1.1 200 OK\r\n\r\n"
		 "[{\"Name\":\"a\\u001b\\\"\",\"Tags\":{},\"V\":[1,2.5,null,"
		 "true,[]]},{}]");
	r = run("members -json", &env);
	CU_ASSERT_EQUAL(r.rc, 0);
	const char *want = "[\n"
			   "  {\n"
			   "    \"Name\": \"a\\u001b\\\"\",\n"
			   "    \"Tags\": {},\n"
			   "    \"V\": [\n"
			   "      1,\n"
			   "      2.5,\n"
			   "      null,\n"
			   "      true,\n"
			   "      []\n"
			   "    ]\n"
			   "  },\n"
			   "  {}\n"
			   "]\n";
	CU_ASSERT_STRING_EQUAL(r.out, want);
	if (strcmp(r.out, want) != 0)
		fprintf(stderr, "\n%s", r.out);
	run_free(&r);

	/* keys install: PUT with the key in the body. */
	nc_test_srv_set_raw(srv, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"
				 "\r\n{}");
	r = run("keys install QMTKNQO4Ch8wHrzpOFSVmVHqap5Z7gsjdJePoAHT0Qk= "
		"-local",
		&env);
	CU_ASSERT_EQUAL(r.rc, 0);
	CU_ASSERT_STRING_EQUAL(
	    r.out,
	    "Installed key QMTKNQO4Ch8wHrzpOFSVmVHqap5Z7gsjdJePoAHT0Qk=\n");
	run_free(&r);
	nc_test_srv_last(srv, &req);
	CU_ASSERT_STRING_EQUAL(
	    req.body,
	    "{\"Key\":\"QMTKNQO4Ch8wHrzpOFSVmVHqap5Z7gsjdJePoAHT0Qk=\"}");

	/* -h prints usage on stdout, contacts nobody. */
	unsigned before = nc_test_srv_last(srv, &req);
	r = run("failover -h", &env);
	CU_ASSERT_EQUAL(r.rc, 0);
	CU_ASSERT_TRUE(strncmp(r.out,
			       "usage: netcoord failover -group K [-from X] "
			       "[-skip-local] [client flags]\n",
			       60) == 0);
	CU_ASSERT_EQUAL(nc_test_srv_last(srv, &req), before);
	run_free(&r);
}

static void
test_run_keygen(void)
{
	struct run r = run("keygen", NULL);
	CU_ASSERT_EQUAL(r.rc, 0);
	CU_ASSERT_EQUAL(strlen(r.out), 45);
	CU_ASSERT_EQUAL(r.out[43], '=');
	CU_ASSERT_EQUAL(r.out[44], '\n');
	struct run r2 = run("keygen", NULL);
	CU_ASSERT_STRING_NOT_EQUAL(r.out, r2.out);
	run_free(&r);
	run_free(&r2);
}

/** One error case: the reply, the command line, the stderr line. */
static void
expect_run_error(const char *raw, const char *line, const char *token,
		 const char *msg)
{
	struct nc_cli_env env = {.http_addr = nc_test_srv_addr(srv),
				 .http_token = token};
	nc_test_srv_set_raw(srv, raw);
	struct run r = run(line, &env);
	CU_ASSERT_EQUAL(r.rc, NC_CLI_EXIT_FAIL);
	CU_ASSERT_STRING_EQUAL(r.out, "");
	CU_ASSERT_STRING_EQUAL(r.err, msg);
	if (strcmp(r.err, msg) != 0)
		fprintf(stderr, "\n  %s: got \"%s\"\n", line, r.err);
	run_free(&r);
}

static void
test_run_errors(void)
{
	expect_run_error("HTTP/1.1 404 Not Found\r\nContent-Length: 34\r\n\r\n"
			 "{\"error\":\"unknown node \\\"zz\\\"\"}    ",
			 "rtt zz", NULL,
			 "netcoord: rtt: unknown node \"zz\"\n");
	expect_run_error("HTTP/1.1 401 Unauthorized\r\nContent-Length: 25\r\n"
			 "\r\n{\"error\":\"missing token\"}",
			 "members", NULL,
			 "netcoord: members: missing token (pass -token or "
			 "set NETCOORD_HTTP_TOKEN)\n");
	expect_run_error("HTTP/1.1 403 Forbidden\r\nContent-Length: 23\r\n"
			 "\r\n{\"error\":\"bad token\"}  ",
			 "keys list", "wrong",
			 "netcoord: keys list: bad token (the agent rejected "
			 "the token)\n");
	/* 403 without a token: the agent's text alone (writes disabled). */
	expect_run_error("HTTP/1.1 403 Forbidden\r\nContent-Length: 39\r\n"
			 "\r\n{\"error\":\"mutating endpoints disabled\"}",
			 "leave", NULL,
			 "netcoord: leave: mutating endpoints disabled\n");
	expect_run_error("HTTP/1.1 502 Bad Gateway\r\nContent-Length: 21\r\n"
			 "\r\n<html>oops\x1b[0m</html>",
			 "leave", NULL,
			 "netcoord: leave: HTTP 502: <html>oops?[0m</html>\n");
	expect_run_error("HTTP/1.1 500 Internal\r\nContent-Length: 0\r\n\r\n",
			 "nearest", NULL, "netcoord: nearest: HTTP 500\n");
	expect_run_error("HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\n<html>",
			 "nearest", NULL,
			 "netcoord: nearest: unexpected response from agent: "
			 "not JSON\n");
	expect_run_error("HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\n<html>",
			 "nearest -json", NULL,
			 "netcoord: nearest: unexpected response from agent: "
			 "not JSON\n");
	char msg[256];
	snprintf(msg, sizeof(msg),
		 "netcoord: members: bad response from agent at %s: malformed "
		 "HTTP response: not an HTTP response\n",
		 nc_test_srv_addr(srv));
	expect_run_error("\x01\x02garbage", "members", NULL, msg);

	/* Silence: the deadline. */
	struct nc_test_srv_reply hang = {.hang = true};
	nc_test_srv_set_reply(srv, &hang);
	struct nc_cli_env env = {.http_addr = nc_test_srv_addr(srv)};
	struct run r = run("members -timeout 200ms", &env);
	CU_ASSERT_EQUAL(r.rc, NC_CLI_EXIT_FAIL);
	snprintf(msg, sizeof(msg),
		 "netcoord: members: agent at %s did not answer within 200 "
		 "ms\n",
		 nc_test_srv_addr(srv));
	CU_ASSERT_STRING_EQUAL(r.err, msg);
	run_free(&r);
}

static void
test_run_unreachable(void)
{
	int port = nc_test_free_port();
	CU_ASSERT_TRUE_FATAL(port > 0);
	char addr[32], line[64], msg[128];
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
	struct nc_cli_env env = {.http_addr = addr};
	struct run r = run("members", &env);
	CU_ASSERT_EQUAL(r.rc, NC_CLI_EXIT_FAIL);
	snprintf(msg, sizeof(msg),
		 "netcoord: cannot reach agent at %s: Connection refused\n",
		 addr);
	CU_ASSERT_STRING_EQUAL(r.err, msg);
	CU_ASSERT_STRING_EQUAL(r.out, "");
	run_free(&r);

	snprintf(line, sizeof(line), "rtt a -http-addr %s", "nocolon");
	r = run(line, NULL);
	CU_ASSERT_EQUAL(r.rc, NC_CLI_EXIT_USAGE);
	CU_ASSERT_STRING_EQUAL(
	    r.err, "netcoord: rtt: bad address \"nocolon\" (want HOST:PORT)\n");
	run_free(&r);

	r = run("members -bogus", NULL);
	CU_ASSERT_EQUAL(r.rc, NC_CLI_EXIT_USAGE);
	CU_ASSERT_STRING_EQUAL(
	    r.err, "netcoord: members: flag provided but not defined: "
		   "-bogus\n");
	run_free(&r);
}

static void
test_usage(void)
{
	CU_ASSERT_TRUE(nc_cli_is_command("members"));
	CU_ASSERT_TRUE(nc_cli_is_command("keys"));
	CU_ASSERT_FALSE(nc_cli_is_command("agent"));
	CU_ASSERT_FALSE(nc_cli_is_command("sim"));
	CU_ASSERT_PTR_NULL(nc_cli_command_help("nope"));
	CU_ASSERT_PTR_NOT_NULL(nc_cli_command_help("failover"));
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	CU_ASSERT_EQUAL(nc_cli_usage("keygen", f), 0);
	CU_ASSERT_EQUAL(nc_cli_usage("nope", f), NC_CLI_EXIT_USAGE);
	fclose(f);
	CU_ASSERT_PTR_NOT_NULL(strstr(buf, "usage: netcoord keygen [client "
					   "flags]"));
	/* keygen is local: no agent flags listed. */
	CU_ASSERT_PTR_NULL(strstr(buf, "-http-addr"));
	free(buf);
}

int
nc_test_cli_register(void)
{
	CU_pSuite s = CU_add_suite("cli", suite_init, suite_cleanup);
	if (s == NULL)
		return -1;
	if (CU_add_test(s, "parse_flags_anywhere", test_parse_flags_anywhere) ==
		NULL ||
	    CU_add_test(s, "parse_env", test_parse_env) == NULL ||
	    CU_add_test(s, "parse_errors", test_parse_errors) == NULL ||
	    CU_add_test(s, "build_calls", test_build_calls) == NULL ||
	    CU_add_test(s, "format_members", test_format_members) == NULL ||
	    CU_add_test(s, "format_sanitises", test_format_sanitises) == NULL ||
	    CU_add_test(s, "format_rtt", test_format_rtt) == NULL ||
	    CU_add_test(s, "format_nearest", test_format_nearest) == NULL ||
	    CU_add_test(s, "format_failover", test_format_failover) == NULL ||
	    CU_add_test(s, "format_keys", test_format_keys) == NULL ||
	    CU_add_test(s, "format_cluster", test_format_cluster) == NULL ||
	    CU_add_test(s, "format_bad_bodies", test_format_bad_bodies) ==
		NULL ||
	    CU_add_test(s, "run_success", test_run_success) == NULL ||
	    CU_add_test(s, "run_keygen", test_run_keygen) == NULL ||
	    CU_add_test(s, "run_errors", test_run_errors) == NULL ||
	    CU_add_test(s, "run_unreachable", test_run_unreachable) == NULL ||
	    CU_add_test(s, "usage", test_usage) == NULL)
		return -1;
	return 0;
}
