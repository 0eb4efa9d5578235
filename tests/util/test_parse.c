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

int
nc_test_parse_register(void)
{
	CU_pSuite s = CU_add_suite("parse_bool", NULL, NULL);
	if (s == NULL ||
	    CU_add_test(s, "every accepted word", test_words) == NULL ||
	    CU_add_test(s, "anything else is an error", test_bad_words) ==
		NULL)
		return -1;
	return 0;
}
