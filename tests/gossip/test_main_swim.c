/*
 * CUnit runner of test_gossip_swim: exits non-zero if any test fails.
 * An argument runs only the test of that name (suite "swim").
 */
#include <CUnit/Basic.h>
#include <stdio.h>

int nc_test_swim_register(void);

int
main(int argc, char **argv)
{
	unsigned failures;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	if (nc_test_swim_register() != 0) {
		CU_cleanup_registry();
		return 2;
	}
	CU_basic_set_mode(CU_BRM_VERBOSE);
	if (argc > 1) {
		CU_pSuite s = CU_get_suite("swim");
		CU_pTest t = s != NULL ? CU_get_test(s, argv[1]) : NULL;
		if (t == NULL) {
			fprintf(stderr, "no test %s\n", argv[1]);
			CU_cleanup_registry();
			return 2;
		}
		CU_basic_run_test(s, t);
	} else {
		CU_basic_run_tests();
	}
	failures = CU_get_number_of_failures() +
		   CU_get_number_of_tests_failed();
	CU_cleanup_registry();
	return failures == 0 ? 0 : 1;
}
