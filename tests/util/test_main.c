/*
 * tests/util/test_main.c - runs every suite of the util test binary.
 */
#include <CUnit/Basic.h>

#include "test_util.h"

int
main(void)
{
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	if (nc_test_hmap_register() != 0 || nc_test_rng_register() != 0 ||
	    nc_test_dbuf_register() != 0 ||
	    nc_test_rtt_matrix_register() != 0 ||
	    nc_test_parse_register() != 0 || nc_test_file_register() != 0) {
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
