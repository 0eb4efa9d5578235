/*
 * test_cli.h - suites of the cli test binary (one per source file).
 */
#ifndef NC_TESTS_CLI_TEST_CLI_H
#define NC_TESTS_CLI_TEST_CLI_H

/** test_httpc.c: the HTTP client against the canned server. */
int
nc_test_httpc_register(void);

/** test_cli.c: parsing, request building, formatting, end-to-end runs. */
int
nc_test_cli_register(void);

#endif /* NC_TESTS_CLI_TEST_CLI_H */
