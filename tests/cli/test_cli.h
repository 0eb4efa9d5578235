/*
 * test_cli.h - suites of the cli test binary.
 */
#ifndef NC_TESTS_CLI_TEST_CLI_H
#define NC_TESTS_CLI_TEST_CLI_H

/** test_cli.c: parsing, request building, formatting, end-to-end runs. */
int
nc_test_cli_register(void);

#endif /* NC_TESTS_CLI_TEST_CLI_H */
