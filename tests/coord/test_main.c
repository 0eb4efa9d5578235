/*
 * test_main.c - the coord CUnit binary: registers one suite per source
 * file, runs them, and exits non-zero if anything failed.
 */
#include <CUnit/Basic.h>
#include <stdio.h>

#include "test_util.h"

int
main(void)
{
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	if (nc_test_vivaldi_register() != 0 || nc_test_client_register() != 0 ||
	    nc_test_rank_register() != 0 || nc_test_converge_register() != 0 ||
	    nc_test_small_register() != 0 ||
	    nc_test_verify_register() != 0) {
		fprintf(stderr, "test_coord: registration failed: %s\n",
			CU_get_error_msg());
		CU_cleanup_registry();
		return 2;
	}
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	unsigned failed = CU_get_number_of_failures();
	unsigned suites_failed = CU_get_number_of_suites_failed();
	CU_cleanup_registry();
	return failed == 0 && suites_failed == 0 ? 0 : 1;
}
