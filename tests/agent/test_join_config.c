/*
 * tests/agent/test_join_config.c - join addresses and the new config
 * keys without sockets: the HOST[:PORT] syntax (agent/resolve.h), and
 * -join / -retry-join / -retry-interval / -retry-max / -keyring-file /
 * -tags-file as flags and JSON keys (agent/config.h).
 */
#include <CUnit/Basic.h>
#include <string.h>

#include "agent/config.h"
#include "agent/resolve.h"

static void
test_hostport(void)
{
	char h[NC_AGENT_HOST_MAX + 1];
	uint16_t port;
	CU_ASSERT_EQUAL(nc_agent_hostport_parse("localhost", 7946, h,
						sizeof(h), &port), 0);
	CU_ASSERT_STRING_EQUAL(h, "localhost");
	CU_ASSERT_EQUAL(port, 7946);
	CU_ASSERT_EQUAL(nc_agent_hostport_parse("db-1.internal:7950", 7946, h,
						sizeof(h), &port), 0);
	CU_ASSERT_STRING_EQUAL(h, "db-1.internal");
	CU_ASSERT_EQUAL(port, 7950);
	CU_ASSERT_EQUAL(nc_agent_hostport_parse("10.0.0.5", 7946, h, sizeof(h),
						&port), 0);
	CU_ASSERT_EQUAL(nc_agent_hostport_parse("[::1]:8000", 7946, h,
						sizeof(h), &port), 0);
	CU_ASSERT_STRING_EQUAL(h, "::1");
	CU_ASSERT_EQUAL(port, 8000);
	CU_ASSERT_EQUAL(nc_agent_hostport_parse("fd00::5", 7946, h, sizeof(h),
						&port), 0);
	CU_ASSERT_EQUAL(port, 7946);
	/* Bad: numeric-looking but not IPv4, bad ports, bad names. */
	const char *bad[] = {"1.2.3", "300.1.1.1", "", "host:", "host:0",
			     "host:65536", "host:12x", "a..b", "bad host",
			     "[::1", "[nope]:1", "x:1:2:zz"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CU_ASSERT_NOT_EQUAL(nc_agent_hostport_parse(bad[i], 7946, h,
							    sizeof(h), &port),
				    0);
}

static void
test_config_keys(void)
{
	struct nc_config c;
	char err[256] = "";
	nc_config_init(&c);
	CU_ASSERT_EQUAL(c.retry_interval_s, 30.0);
	char *argv[] = {"agent",	  "-join",	  "localhost",
			"-retry-join",	  "a.example:1",  "-retry-join",
			"10.0.0.1",	  "-retry-interval", "1m30s",
			"-retry-max",	  "3",		  "-keyring-file",
			"/x/keys.json"};
	CU_ASSERT_EQUAL(nc_config_parse_args(&c, sizeof(argv) / sizeof(argv[0]),
					     argv, err, sizeof(err)),
			0);
	CU_ASSERT_EQUAL(c.join_n, 1);
	CU_ASSERT_STRING_EQUAL(c.join[0], "localhost");
	CU_ASSERT_EQUAL(c.retry_join_n, 2);
	CU_ASSERT_STRING_EQUAL(c.retry_join[1], "10.0.0.1");
	CU_ASSERT_DOUBLE_EQUAL(c.retry_interval_s, 90.0, 1e-9);
	CU_ASSERT_EQUAL(c.retry_max, 3);
	CU_ASSERT_STRING_EQUAL(c.keyring_file, "/x/keys.json");
	nc_config_destroy(&c);

	nc_config_init(&c);
	CU_ASSERT_EQUAL(nc_config_load_json(&c,
					    "{\"retry_join\": [\"h1\", \"h2:9\"],"
					    " \"retry_interval\": \"500ms\","
					    " \"retry_max_attempts\": 2,"
					    " \"tags_file\": \"/t.json\"}",
					    err, sizeof(err)),
			0);
	CU_ASSERT_EQUAL(c.retry_join_n, 2);
	CU_ASSERT_DOUBLE_EQUAL(c.retry_interval_s, 0.5, 1e-9);
	CU_ASSERT_EQUAL(c.retry_max, 2);
	CU_ASSERT_STRING_EQUAL(c.tags_file, "/t.json");
	/* Errors name the field. */
	CU_ASSERT(nc_config_load_json(&c, "{\"retry_join\": [\"1.2.3\"]}", err,
				      sizeof(err)) < 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "\"retry_join\""));
	CU_ASSERT(nc_config_load_json(&c, "{\"retry_interval\": \"soon\"}",
				      err, sizeof(err)) < 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "\"retry_interval\""));
	CU_ASSERT(nc_config_load_json(&c, "{\"retry_max_attempts\": -1}", err,
				      sizeof(err)) < 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "\"retry_max_attempts\""));
	nc_config_destroy(&c);
}

int
main(void)
{
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	CU_pSuite s = CU_add_suite("join_config", NULL, NULL);
	if (s == NULL || !CU_add_test(s, "HOST[:PORT]", test_hostport) ||
	    !CU_add_test(s, "config keys", test_config_keys)) {
		CU_cleanup_registry();
		return 2;
	}
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	unsigned failed = CU_get_number_of_failures() +
			  CU_get_number_of_tests_failed();
	CU_cleanup_registry();
	return failed == 0 ? 0 : 1;
}
