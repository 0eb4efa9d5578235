/*
 * test_config_reload.c - CUnit tests of what a reload (SIGHUP, PUT
 * /v1/agent/reload; issue 10 item 5) does with the configuration, without
 * starting anything: the command line is parsed again into a second
 * struct, and
 *
 *   - nc_config_diff() names nothing when nothing changed, the run-time
 *     fields (log_level, tags, http_token, http_allowed_host,
 *     http_allow_unauthenticated_writes) as applied, the others (bind,
 *     node_name, TLS files, ...) as needing a restart;
 *   - flags keep precedence over the config file, as at start;
 *   - tags compare as a set (order does not matter), from "tags" or from
 *     a -tags-file;
 *   - nc_config_take_reloadable() moves exactly the run-time fields, so
 *     the next diff against the same files is empty while a restart-only
 *     change is still reported;
 *   - a broken file fails the parse naming the file and field;
 *   - -http-tls-cert / -http-tls-key: both or neither, a missing file is
 *     named, a key file others can read warns, a changed certificate
 *     needs a restart;
 *   - nc_agent_tags_check() refuses tags that cannot fit memberlist's Meta.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CUnit/Basic.h>

#include "agent/agent.h"
#include "agent/config.h"
#include "tests/agent/config_test.h"


/** The list joined with ',' (for one assertion per list). */
static const char *
joined(const char *const *names, size_t n)
{
	static char buf[2][512];
	static int k;
	char *b = buf[k++ % 2];
	b[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			strcat(b, ",");
		strcat(b, names[i]);
	}
	return b;
}

#define APPLIED(d) joined((d).applied, (d).applied_n)
#define RESTART(d) joined((d).restart, (d).restart_n)

static void
test_nothing_changed(void)
{
	struct nc_config r, x;
	struct nc_config_diff d;
	char err[512];
	const char *cf = ct_file("same.json",
			      "{\"tags\": {\"a\": \"1\", \"b\": \"2\"}, "
			      "\"log_level\": \"warn\", \"bind\": "
			      "\"127.0.0.1:7000\"}",
			      0600);
	const char *args[] = {"-config-file", cf, "-node", "n1", NULL};
	CU_ASSERT_EQUAL_FATAL(ct_parse(&r, err, sizeof(err), args), 0);
	CU_ASSERT_EQUAL_FATAL(ct_parse(&x, err, sizeof(err), args), 0);
	nc_config_diff(&r, &x, &d);
	CU_ASSERT_EQUAL(d.applied_n, 0);
	CU_ASSERT_EQUAL(d.restart_n, 0);
	nc_config_destroy(&x);
	/* The same tags in another order are the same tags. */
	ct_file("same.json",
	     "{\"tags\": {\"b\": \"2\", \"a\": \"1\"}, \"log_level\": "
	     "\"warn\", \"bind\": \"127.0.0.1:7000\"}",
	     0600);
	CU_ASSERT_EQUAL_FATAL(ct_parse(&x, err, sizeof(err), args), 0);
	nc_config_diff(&r, &x, &d);
	CU_ASSERT_STRING_EQUAL(APPLIED(d), "");
	nc_config_destroy(&x);
	nc_config_destroy(&r);
}

static void
test_runtime_and_restart_fields(void)
{
	struct nc_config r, x;
	struct nc_config_diff d;
	char err[512];
	const char *cf = ct_file("rt.json",
			      "{\"tags\": {\"role\": \"web\"}, \"log_level\": "
			      "\"info\", \"http_token\": "
			      "\"old-token-0123456789\", \"bind\": "
			      "\"127.0.0.1:7000\"}",
			      0600);
	const char *args[] = {"-config-file", cf, NULL};
	CU_ASSERT_EQUAL_FATAL(ct_parse(&r, err, sizeof(err), args), 0);
	ct_file("rt.json",
	     "{\"tags\": {\"role\": \"db\"}, \"log_level\": \"debug\", "
	     "\"http_token\": \"new-token-0123456789\", \"http_allowed_host\": "
	     "[\"nc.example\"], \"http_allow_unauthenticated_writes\": true, "
	     "\"bind\": \"127.0.0.1:7001\", \"node_name\": \"other\", "
	     "\"max_members\": 5}",
	     0600);
	CU_ASSERT_EQUAL_FATAL(ct_parse(&x, err, sizeof(err), args), 0);
	nc_config_diff(&r, &x, &d);
	CU_ASSERT_STRING_EQUAL(APPLIED(d),
			       "log_level,tags,http_token,http_allowed_host,"
			       "http_allow_unauthenticated_writes");
	CU_ASSERT_STRING_EQUAL(RESTART(d), "node_name,bind,max_members");

	/* Take them: the running config has the new run-time values and
	 * keeps its start-only ones. */
	nc_config_take_reloadable(&r, &x);
	nc_config_destroy(&x);
	CU_ASSERT_EQUAL(r.log_level, NC_LOG_DEBUG);
	CU_ASSERT_EQUAL_FATAL(r.tags_n, 1);
	CU_ASSERT_STRING_EQUAL(r.tags[0].key, "role");
	CU_ASSERT_STRING_EQUAL(r.tags[0].value, "db");
	CU_ASSERT_STRING_EQUAL(r.http_token, "new-token-0123456789");
	CU_ASSERT_EQUAL(r.http_allowed_hosts_n, 1);
	CU_ASSERT_TRUE(r.http_allow_unauthenticated_writes);
	CU_ASSERT_EQUAL(r.bind.port, 7000);
	CU_ASSERT_EQUAL(r.max_members, 10000);

	/* The same files again: nothing left to apply, the restart-only
	 * changes are still named. */
	CU_ASSERT_EQUAL_FATAL(ct_parse(&x, err, sizeof(err), args), 0);
	nc_config_diff(&r, &x, &d);
	CU_ASSERT_STRING_EQUAL(APPLIED(d), "");
	CU_ASSERT_STRING_EQUAL(RESTART(d), "node_name,bind,max_members");
	nc_config_destroy(&x);
	nc_config_destroy(&r);
}

static void
test_flags_keep_precedence(void)
{
	struct nc_config r, x;
	struct nc_config_diff d;
	char err[512];
	const char *cf = ct_file("prec.json", "{\"log_level\": \"info\"}", 0600);
	const char *args[] = {"-config-file", cf, "-log-level", "error",
			      "-tag", "dc=east", NULL};
	CU_ASSERT_EQUAL_FATAL(ct_parse(&r, err, sizeof(err), args), 0);
	ct_file("prec.json",
	     "{\"log_level\": \"debug\", \"tags\": {\"dc\": \"west\"}}", 0600);
	CU_ASSERT_EQUAL_FATAL(ct_parse(&x, err, sizeof(err), args), 0);
	CU_ASSERT_EQUAL(x.log_level, NC_LOG_ERR);
	nc_config_diff(&r, &x, &d);
	CU_ASSERT_STRING_EQUAL(APPLIED(d), "");
	CU_ASSERT_STRING_EQUAL(RESTART(d), "");
	nc_config_destroy(&x);
	nc_config_destroy(&r);
}

static void
test_tags_file(void)
{
	struct nc_config r, x;
	struct nc_config_diff d;
	char err[512];
	const char *tf = ct_file("t.tags", "{\"role\": \"web\"}", 0600);
	const char *args[] = {"-tags-file", tf, NULL};
	CU_ASSERT_EQUAL_FATAL(ct_parse(&r, err, sizeof(err), args), 0);
	ct_file("t.tags", "{\"role\": \"web\", \"dc\": \"east\"}", 0600);
	CU_ASSERT_EQUAL_FATAL(ct_parse(&x, err, sizeof(err), args), 0);
	nc_config_diff(&r, &x, &d);
	CU_ASSERT_STRING_EQUAL(APPLIED(d), "tags");
	nc_config_destroy(&x);
	nc_config_destroy(&r);
}

static void
test_broken_file(void)
{
	struct nc_config r;
	char err[512];
	const char *cf = ct_file("bad.json", "{\"log_level\": \"loud\"}", 0600);
	const char *args[] = {"-config-file", cf, NULL};
	CU_ASSERT(ct_parse(&r, err, sizeof(err), args) < 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "bad.json"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "\"log_level\""));
	nc_config_destroy(&r);
	ct_file("bad.json", "{\"tags\": ", 0600);
	CU_ASSERT(ct_parse(&r, err, sizeof(err), args) < 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "invalid JSON"));
	nc_config_destroy(&r);
}

static void
test_tls_files(void)
{
	struct nc_config r, x;
	struct nc_config_diff d;
	char err[512];
	/* Content is not checked here (the API does it): any text. */
	const char *cert = ct_file("c.pem", "CERT-1\n", 0644);
	const char *key = ct_file("k.pem", "KEY-1\n", 0600);
	const char *both[] = {"-bind", "127.0.0.1:0", "-http-tls-cert", cert,
			      "-http-tls-key", key, NULL};
	const char *one[] = {"-http-tls-cert", cert, NULL};
	const char *missing[] = {"-http-tls-cert", "/nonexistent/c.pem",
				 "-http-tls-key", key, NULL};

	CU_ASSERT(ct_parse(&r, err, sizeof(err), one) < 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "\"http_tls_key\""));
	nc_config_destroy(&r);
	CU_ASSERT(ct_parse(&r, err, sizeof(err), missing) < 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "/nonexistent/c.pem"));
	nc_config_destroy(&r);

	CU_ASSERT_EQUAL_FATAL(ct_parse(&r, err, sizeof(err), both), 0);
	CU_ASSERT_STRING_EQUAL(r.http_tls_cert_pem, "CERT-1\n");
	CU_ASSERT_STRING_EQUAL(r.http_tls_key_pem, "KEY-1\n");
	CU_ASSERT_EQUAL(r.warnings_n, 0);
	/* A renewed certificate at the same path needs a restart. */
	ct_file("c.pem", "CERT-2\n", 0644);
	ct_file("k.pem", "KEY-2\n", 0640);
	CU_ASSERT_EQUAL_FATAL(ct_parse(&x, err, sizeof(err), both), 0);
	nc_config_diff(&r, &x, &d);
	CU_ASSERT_STRING_EQUAL(APPLIED(d), "");
	CU_ASSERT_STRING_EQUAL(RESTART(d), "http_tls_cert,http_tls_key");
	/* The key file readable by its group: the token file's warning. */
	CU_ASSERT_EQUAL_FATAL(x.warnings_n, 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(x.warnings[0], "TLS key file"));
	CU_ASSERT_PTR_NOT_NULL(strstr(x.warnings[0], "k.pem"));
	nc_config_destroy(&x);
	nc_config_destroy(&r);
	CU_ASSERT_PTR_NULL(r.http_tls_key_pem);
}

static void
test_http_warning_says_plaintext(void)
{
	struct nc_config r;
	char err[512];
	const char *cert = ct_file("c2.pem", "CERT\n", 0644);
	const char *key = ct_file("k2.pem", "KEY\n", 0600);
	const char *plain[] = {"-bind", "127.0.0.1:0", "-http-addr",
			       "0.0.0.0:8555", NULL};
	const char *tls[] = {"-bind", "127.0.0.1:0", "-http-addr",
			     "0.0.0.0:8555", "-http-tls-cert", cert,
			     "-http-tls-key", key, NULL};
	CU_ASSERT_EQUAL_FATAL(ct_parse(&r, err, sizeof(err), plain), 0);
	CU_ASSERT_EQUAL_FATAL(r.warnings_n, 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(r.warnings[0], "plaintext"));
	nc_config_destroy(&r);
	CU_ASSERT_EQUAL_FATAL(ct_parse(&r, err, sizeof(err), tls), 0);
	CU_ASSERT_EQUAL_FATAL(r.warnings_n, 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(r.warnings[0], "without a token"));
	CU_ASSERT_PTR_NULL(strstr(r.warnings[0], "plaintext"));
	nc_config_destroy(&r);
}

static void
test_tags_check(void)
{
	char err[256] = "", big[400];
	struct nc_config_tag t[3] = {{(char *)"a", (char *)"1"},
				     {(char *)"b", big},
				     {(char *)"c", big}};
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	CU_ASSERT_EQUAL(nc_agent_tags_check(t, 1, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(nc_agent_tags_check(t, 2, err, sizeof(err)), 0);
	/* 800 bytes of values: over memberlist's 512-byte Meta. */
	CU_ASSERT_EQUAL(nc_agent_tags_check(t, 3, err, sizeof(err)), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "\"tags\""));
}

static const struct ct_test tests[] = {
	{"nothing changed", test_nothing_changed},
	{"run-time and restart fields", test_runtime_and_restart_fields},
	{"flags keep precedence", test_flags_keep_precedence},
	{"tags file", test_tags_file},
	{"broken file", test_broken_file},
	{"TLS files", test_tls_files},
	{"HTTP warning says plaintext", test_http_warning_says_plaintext},
	{"tags check", test_tags_check},
};

int
main(void)
{
	return ct_main("config reload", "nc-reload-test", tests,
		       sizeof(tests) / sizeof(tests[0]));
}
