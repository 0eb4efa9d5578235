/*
 * test_main.c - the cli CUnit binary: initialises libcurl (as
 * nc_cmd_cli() does), registers the suite, runs it, and exits non-zero if
 * anything failed.
 */
#include <CUnit/Basic.h>
#include <curl/curl.h>
#include <stdio.h>

#include "test_cli.h"

int
main(void)
{
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK ||
	    CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	if (nc_test_cli_register() != 0) {
		fprintf(stderr, "test_cli: registration failed: %s\n",
			CU_get_error_msg());
		CU_cleanup_registry();
		curl_global_cleanup();
		return 2;
	}
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	unsigned failed = CU_get_number_of_failures();
	unsigned suites_failed = CU_get_number_of_suites_failed();
	CU_cleanup_registry();
	curl_global_cleanup();
	return failed == 0 && suites_failed == 0 ? 0 : 1;
}
