/*
 * test_config.c - CUnit tests of agent/config.c's handling of secrets and
 * exposure (issue 9 rows 13, 14), without starting anything:
 *
 *   - tokens shorter than 16 characters are refused, naming "http_token",
 *     whether from -http-token, a token file, a config file or
 *     $NETCOORD_HTTP_TOKEN;
 *   - the key from -encrypt-file or $NETCOORD_ENCRYPT, the token from
 *     $NETCOORD_HTTP_TOKEN (files, then the environment, then flags);
 *   - a key/token file, or a config file holding a key or token, that is
 *     group- or world-readable earns a warning naming it; mode 600 none;
 *   - gossip bound beyond loopback without a key, and HTTP beyond
 *     loopback without a token, earn a warning each; loopback none;
 *   - -http-allowed-host accumulates; -http-max-conns-per-client.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CUnit/Basic.h>

#include "agent/config.h"
#include "tests/agent/config_test.h"

/* Two keys (base64 of 16 and 32 bytes) and a good token. */
#define KEY16 "MDEyMzQ1Njc4OWFiY2RlZg=="
#define KEY32 "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
#define TOKEN "0123456789abcdef-token"


/** Does a warning of @a cfg contain both @a a and @a b? */
static bool
warned(const struct nc_config *cfg, const char *a, const char *b)
{
	for (size_t i = 0; i < cfg->warnings_n; i++)
		if (strstr(cfg->warnings[i], a) != NULL &&
		    (b == NULL || strstr(cfg->warnings[i], b) != NULL))
			return true;
	return false;
}

#define LOOPBACK "-bind", "127.0.0.1:0"

static void
test_token_length(void)
{
	struct nc_config cfg;
	char err[512];
	const char *tf = ct_file("short", "0123456789abcde\n", 0600);
	const char *cf = ct_file("short.json", "{\"http_token\": \"s3cret\"}", 0600);
	const char *const *bad[] = {
	    (const char *const[]){LOOPBACK, "-http-token", "s3cret", NULL},
	    (const char *const[]){LOOPBACK, "-http-token=0123456789abcde",
				  NULL},
	    (const char *const[]){LOOPBACK, "-http-token-file", tf, NULL},
	    (const char *const[]){LOOPBACK, "-config-file", cf, NULL},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CU_ASSERT(ct_parse(&cfg, err, sizeof(err), bad[i]) < 0);
		CU_ASSERT_PTR_NOT_NULL(strstr(err, "\"http_token\""));
		CU_ASSERT_PTR_NOT_NULL(strstr(err, "16"));
		nc_config_destroy(&cfg);
	}
	setenv("NETCOORD_HTTP_TOKEN", "tok", 1);
	CU_ASSERT(ct_parse(&cfg, err, sizeof(err),
			(const char *const[]){LOOPBACK, NULL}) < 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "\"http_token\""));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "NETCOORD_HTTP_TOKEN"));
	nc_config_destroy(&cfg);
	unsetenv("NETCOORD_HTTP_TOKEN");
	/* 16 is enough. */
	CU_ASSERT_EQUAL(ct_parse(&cfg, err, sizeof(err),
			      (const char *const[]){
				  LOOPBACK, "-http-token", "0123456789abcdef",
				  NULL}),
			0);
	CU_ASSERT_STRING_EQUAL(cfg.http_token, "0123456789abcdef");
	nc_config_destroy(&cfg);
}

static void
test_secrets_from_files_and_env(void)
{
	struct nc_config cfg;
	char err[512];
	const char *kf = ct_file("key", KEY32 "\n", 0600);
	CU_ASSERT_EQUAL(ct_parse(&cfg, err, sizeof(err),
			      (const char *const[]){LOOPBACK, "-encrypt-file",
						    kf, NULL}),
			0);
	CU_ASSERT_EQUAL(cfg.key_len, 32);
	CU_ASSERT_EQUAL(memcmp(cfg.key, "0123456789abcdef0123456789abcdef", 32),
			0);
	CU_ASSERT_EQUAL(cfg.warnings_n, 0);
	nc_config_destroy(&cfg);
	const char *bk = ct_file("badkey", "not-base64!\n", 0600);
	CU_ASSERT(ct_parse(&cfg, err, sizeof(err),
			(const char *const[]){LOOPBACK, "-encrypt-file", bk,
					      NULL}) < 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "\"encrypt_file\""));
	nc_config_destroy(&cfg);

	setenv("NETCOORD_ENCRYPT", KEY16, 1);
	setenv("NETCOORD_HTTP_TOKEN", TOKEN, 1);
	CU_ASSERT_EQUAL(ct_parse(&cfg, err, sizeof(err),
			      (const char *const[]){LOOPBACK, NULL}),
			0);
	CU_ASSERT_EQUAL(cfg.key_len, 16);
	CU_ASSERT_STRING_EQUAL(cfg.http_token, TOKEN);
	nc_config_destroy(&cfg);
	/* Flags win over the environment. */
	CU_ASSERT_EQUAL(ct_parse(&cfg, err, sizeof(err),
			      (const char *const[]){LOOPBACK, "-encrypt", KEY32,
						    "-http-token",
						    "another-token-of-16", NULL}),
			0);
	CU_ASSERT_EQUAL(cfg.key_len, 32);
	CU_ASSERT_STRING_EQUAL(cfg.http_token, "another-token-of-16");
	nc_config_destroy(&cfg);
	setenv("NETCOORD_ENCRYPT", "nope", 1);
	CU_ASSERT(ct_parse(&cfg, err, sizeof(err),
			(const char *const[]){LOOPBACK, NULL}) < 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "NETCOORD_ENCRYPT"));
	nc_config_destroy(&cfg);
	unsetenv("NETCOORD_ENCRYPT");
	unsetenv("NETCOORD_HTTP_TOKEN");
}

static void
test_readable_files_warn(void)
{
	struct nc_config cfg;
	char err[512];
	const char *kf = ct_file("key644", KEY16 "\n", 0644);
	const char *tf = ct_file("tok640", TOKEN "\n", 0640);
	const char *cf = ct_file("cfg644.json", "{\"http_token\": \"" TOKEN "\"}",
			      0644);
	const char *ok = ct_file("cfg-nosecret.json", "{\"profile\": \"lan\"}",
			      0644);
	CU_ASSERT_EQUAL(ct_parse(&cfg, err, sizeof(err),
			      (const char *const[]){LOOPBACK, "-encrypt-file",
						    kf, "-http-token-file", tf,
						    "-config-file", cf,
						    "-config-file", ok, NULL}),
			0);
	CU_ASSERT_TRUE(warned(&cfg, kf, "every user"));
	CU_ASSERT_TRUE(warned(&cfg, tf, "its group"));
	CU_ASSERT_TRUE(warned(&cfg, cf, "config file"));
	CU_ASSERT_FALSE(warned(&cfg, ok, NULL));
	CU_ASSERT_EQUAL(cfg.warnings_n, 3);
	nc_config_destroy(&cfg);
	/* A config file that only names a (private) token file: quiet. */
	const char *tp = ct_file("tok600", TOKEN "\n", 0600);
	char json[256];
	snprintf(json, sizeof(json), "{\"http_token_file\": \"%s\"}", tp);
	const char *cf2 = ct_file("cfg-names-file.json", json, 0644);
	CU_ASSERT_EQUAL(ct_parse(&cfg, err, sizeof(err),
			      (const char *const[]){LOOPBACK, "-config-file",
						    cf2, NULL}),
			0);
	CU_ASSERT_STRING_EQUAL(cfg.http_token, TOKEN);
	CU_ASSERT_EQUAL(cfg.warnings_n, 0);
	nc_config_destroy(&cfg);
}

static void
test_exposure_warns(void)
{
	struct nc_config cfg;
	char err[512];
	/* Defaults: gossip on 0.0.0.0 without a key; HTTP on loopback. */
	CU_ASSERT_EQUAL(ct_parse(&cfg, err, sizeof(err),
			      (const char *const[]){NULL}),
			0);
	CU_ASSERT_TRUE(warned(&cfg, "gossip", "0.0.0.0"));
	CU_ASSERT_FALSE(warned(&cfg, "HTTP", NULL));
	nc_config_destroy(&cfg);
	CU_ASSERT_EQUAL(ct_parse(&cfg, err, sizeof(err),
			      (const char *const[]){"-bind", "10.1.2.3",
						    "-http-addr",
						    "0.0.0.0:8555", NULL}),
			0);
	CU_ASSERT_TRUE(warned(&cfg, "gossip", "10.1.2.3"));
	CU_ASSERT_TRUE(warned(&cfg, "HTTP", "0.0.0.0:8555"));
	nc_config_destroy(&cfg);
	/* A key and a token silence them; loopback needs neither. */
	CU_ASSERT_EQUAL(ct_parse(&cfg, err, sizeof(err),
			      (const char *const[]){"-bind", "10.1.2.3",
						    "-encrypt", KEY16,
						    "-http-addr", "[::]:8555",
						    "-http-token", TOKEN,
						    NULL}),
			0);
	CU_ASSERT_EQUAL(cfg.warnings_n, 0);
	nc_config_destroy(&cfg);
	CU_ASSERT_EQUAL(ct_parse(&cfg, err, sizeof(err),
			      (const char *const[]){"-bind", "127.0.0.1",
						    "-http-addr", "[::1]:8555",
						    NULL}),
			0);
	CU_ASSERT_EQUAL(cfg.warnings_n, 0);
	nc_config_destroy(&cfg);
}

static void
test_http_flags(void)
{
	struct nc_config cfg;
	char err[512];
	CU_ASSERT_EQUAL(ct_parse(&cfg, err, sizeof(err),
			      (const char *const[]){LOOPBACK, NULL}),
			0);
	CU_ASSERT_EQUAL(cfg.http_max_conns_per_client, 16);
	CU_ASSERT_EQUAL(cfg.http_allowed_hosts_n, 0);
	nc_config_destroy(&cfg);
	const char *cf = ct_file("hosts.json",
			      "{\"http_allowed_host\": [\"a.example\", "
			      "\"b.example\"], \"http_max_conns_per_client\": 4}",
			      0600);
	CU_ASSERT_EQUAL(ct_parse(&cfg, err, sizeof(err),
			      (const char *const[]){LOOPBACK, "-config-file", cf,
						    "-http-allowed-host",
						    "c.example", NULL}),
			0);
	CU_ASSERT_EQUAL(cfg.http_allowed_hosts_n, 3);
	CU_ASSERT_STRING_EQUAL(cfg.http_allowed_hosts[2], "c.example");
	CU_ASSERT_EQUAL(cfg.http_max_conns_per_client, 4);
	nc_config_destroy(&cfg);
	CU_ASSERT(ct_parse(&cfg, err, sizeof(err),
			(const char *const[]){LOOPBACK, "-http-allowed-host",
					      "a b", NULL}) < 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "\"http_allowed_host\""));
	nc_config_destroy(&cfg);
	CU_ASSERT(ct_parse(&cfg, err, sizeof(err),
			(const char *const[]){LOOPBACK,
					      "-http-max-conns-per-client",
					      "-1", NULL}) < 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "\"http_max_conns_per_client\""));
	nc_config_destroy(&cfg);
}

static const struct ct_test tests[] = {
	{"token length", test_token_length},
	{"secrets from files and env", test_secrets_from_files_and_env},
	{"readable files warn", test_readable_files_warn},
	{"exposure warns", test_exposure_warns},
	{"http flags", test_http_flags},
};

int
main(void)
{
	return ct_main("config", "nc-config-test", tests,
		       sizeof(tests) / sizeof(tests[0]));
}
