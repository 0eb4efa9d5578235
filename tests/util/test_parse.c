/*
 * tests/util/test_parse.c - the boolean vocabulary: every word of it, and
 * the near misses that must stay errors.
 */
#include <CUnit/Basic.h>
#include <errno.h>

#include "test_util.h"
#include "util/util.h"

static void
test_words(void)
{
	static const char *const yes[] = {"1", "t", "true", "True", "TRUE",
					  "yes"};
	static const char *const no[] = {"0", "f", "false", "False", "FALSE",
					 "no"};
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		bool v = false;
		CU_ASSERT_EQUAL(nc_parse_bool(yes[i], &v), 0);
		CU_ASSERT_TRUE(v);
	}
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
		bool v = true;
		CU_ASSERT_EQUAL(nc_parse_bool(no[i], &v), 0);
		CU_ASSERT_FALSE(v);
	}
}

static void
test_bad_words(void)
{
	static const char *const bad[] = {
	    "", "2", "-1", "on", "off", "y", "n", "Yes", "NO", "tRUE",
	    "true ", " true", "1\n", "T", "F", "enable", "01"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		bool v = true;
		CU_ASSERT_EQUAL(nc_parse_bool(bad[i], &v), -EINVAL);
		CU_ASSERT_TRUE(v); /* untouched */
		v = false;
		CU_ASSERT_EQUAL(nc_parse_bool(bad[i], &v), -EINVAL);
		CU_ASSERT_FALSE(v);
	}
	bool v = true;
	CU_ASSERT_EQUAL(nc_parse_bool(NULL, &v), -EINVAL);
}

/* Go durations (nc_parse_duration): the one syntax of flags, config,
 * CLI and ?wait=. */
static void
test_durations(void)
{
	static const struct {
		const char *s;
		bool bare;
		double want;
	} ok[] = {
	    {"30s", false, 30},	     {"500ms", false, 0.5},
	    {"1m30s", false, 90},    {"1.5h", false, 5400},
	    {"2h45m", false, 9900},  {"10us", false, 1e-5},
	    {"10\xc2\xb5s", false, 1e-5}, {"7ns", false, 7e-9},
	    {"0", false, 0},	     {"0", true, 0},
	    {"30", true, 30},	     {"0.25", true, 0.25},
	    {".5s", false, 0.5},     {"5m0s", false, 300},
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		double v = -1;
		CU_ASSERT_EQUAL(nc_parse_duration(ok[i].s, ok[i].bare, &v), 0);
		CU_ASSERT_DOUBLE_EQUAL(v, ok[i].want, ok[i].want * 1e-12);
	}
	static const char *const bad[] = {
	    "",	   "s",	  "30",	  "-5s", "+5s", "5x", "5 s", "1e3s",
	    "5s ", " 5s", "5.s5", "..5s", "1e13s", "999999999999999h", "0x10s",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		double v = -7;
		CU_ASSERT_EQUAL(nc_parse_duration(bad[i], false, &v), -EINVAL);
		CU_ASSERT_EQUAL(v, -7);
	}
	double v = -7;
	CU_ASSERT_EQUAL(nc_parse_duration("30x", true, &v), -EINVAL);
	CU_ASSERT_EQUAL(nc_parse_duration("1e3", true, &v), -EINVAL);
	CU_ASSERT_EQUAL(nc_parse_duration(NULL, true, &v), -EINVAL);
	CU_ASSERT_EQUAL(v, -7);
}

int
nc_test_parse_register(void)
{
	CU_pSuite s = CU_add_suite("parse_bool", NULL, NULL);
	if (s == NULL ||
	    CU_add_test(s, "every accepted word", test_words) == NULL ||
	    CU_add_test(s, "anything else is an error", test_bad_words) ==
		NULL ||
	    CU_add_test(s, "Go durations", test_durations) == NULL)
		return -1;
	return 0;
}
