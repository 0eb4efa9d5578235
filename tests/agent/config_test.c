/*
 * config_test.c - the shared pieces of the configuration tests
 * (config_test.h).
 */
#include "tests/agent/config_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <CUnit/Basic.h>

static char dir[64];

const char *
ct_file(const char *name, const char *text, mode_t mode)
{
	static char path[8][128];
	static int k;
	char *p = path[k++ % 8];
	snprintf(p, sizeof(path[0]), "%s/%s", dir, name);
	FILE *f = fopen(p, "w");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fputs(text, f);
	fclose(f);
	chmod(p, mode);
	return p;
}

int
ct_parse(struct nc_config *cfg, char *err, size_t cap,
	 const char *const *args)
{
	char *argv[32] = {(char *)"agent"};
	int argc = 1;
	for (; args[argc - 1] != NULL && argc < 32; argc++)
		argv[argc] = (char *)args[argc - 1];
	nc_config_init(cfg);
	err[0] = '\0';
	return nc_config_parse_args(cfg, argc, argv, err, cap);
}

int
ct_main(const char *suite, const char *prefix, const struct ct_test *tests,
	size_t n)
{
	snprintf(dir, sizeof(dir), "/tmp/%s.XXXXXX", prefix);
	if (mkdtemp(dir) == NULL)
		return 2;
	unsetenv("NETCOORD_ENCRYPT");
	unsetenv("NETCOORD_HTTP_TOKEN");
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	CU_pSuite s = CU_add_suite(suite, NULL, NULL);
	if (s == NULL)
		return 2;
	for (size_t i = 0; i < n; i++)
		if (!CU_add_test(s, tests[i].name, tests[i].fn))
			return 2;
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	unsigned failures =
	    CU_get_number_of_failures() + CU_get_number_of_tests_failed();
	CU_cleanup_registry();
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		failures++;
	return failures == 0 ? 0 : 1;
}
