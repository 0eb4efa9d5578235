/* CUnit runner of test_api: exits non-zero if any test fails. */
#include <CUnit/Basic.h>
#include <stdlib.h>

#include "tests/api/harness.h"

int
main(void)
{
	unsigned failures;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	if (getenv("NC_API_BENCH") != NULL) {
		/* Figures only (bench_gossip.c), not a test. */
		if (nc_test_bench_register() != 0)
			return 2;
	} else if (nc_test_coords_register() != 0 ||
		   nc_test_handlers_register() != 0 ||
		   nc_test_socket_register() != 0 ||
		   nc_test_cache_register() != 0 ||
		   nc_test_block_register() != 0 ||
		   nc_test_scale_register() != 0 ||
		   nc_test_fetch_register() != 0) {
		CU_cleanup_registry();
		return 2;
	}
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	failures =
	    CU_get_number_of_failures() + CU_get_number_of_tests_failed();
	CU_cleanup_registry();
	return failures == 0 ? 0 : 1;
}
