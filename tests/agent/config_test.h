#ifndef NC_TESTS_AGENT_CONFIG_TEST_H
#define NC_TESTS_AGENT_CONFIG_TEST_H
/*
 * config_test.h - what the configuration tests share (test_config.c,
 * test_config_reload.c): files in a temporary directory, parsing an
 * `agent` command line, and a main() that runs one CUnit suite with the
 * secrets' environment variables cleared.
 */
#include <stddef.h>
#include <sys/types.h>

#include <CUnit/CUnit.h>

#include "agent/config.h"

/**
 * Write @a text to <temp dir>/@a name with @a mode; the path, in one of 8
 * static buffers (valid for the next 7 calls).
 */
const char *ct_file(const char *name, const char *text, mode_t mode);

/** Parse "agent" + @a args (NULL-terminated) into *cfg (initialised). */
int ct_parse(struct nc_config *cfg, char *err, size_t cap,
	     const char *const *args);

/** One test of a suite. */
struct ct_test {
	const char *name;
	CU_TestFunc fn;
};

/**
 * Make the temporary directory (/tmp/@a prefix.XXXXXX), clear
 * NETCOORD_ENCRYPT and NETCOORD_HTTP_TOKEN, run @a tests as suite @a suite,
 * remove the directory. Returns main()'s exit status.
 */
int ct_main(const char *suite, const char *prefix, const struct ct_test *tests,
	    size_t n);

#endif
