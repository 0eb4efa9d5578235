/*
 * tests/util/test_rtt_matrix.c - the RTT-matrix loader: the file format
 * (comments, blank lines, missing values) and each error with its message.
 */
#include <CUnit/Basic.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test_util.h"
#include "util/util.h"

static char tmp_path[64];

/** Write @a text to a fresh temporary file; its path, or NULL. */
static const char *
write_tmp(const char *text)
{
	snprintf(tmp_path, sizeof(tmp_path), "/tmp/nc_test_util_XXXXXX");
	int fd = mkstemp(tmp_path);
	if (fd < 0)
		return NULL;
	size_t len = strlen(text);
	if (write(fd, text, len) != (ssize_t)len) {
		close(fd);
		unlink(tmp_path);
		return NULL;
	}
	close(fd);
	return tmp_path;
}

/* Load @a text; expect @a want and, on failure, @a msg inside the error. */
static void
load_expect(const char *text, size_t max_n, int want, const char *msg)
{
	double *m = (double *)1;
	size_t n = 99;
	char err[256] = "";
	const char *p = write_tmp(text);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	int rc = nc_rtt_matrix_load(p, max_n, &m, &n, err, sizeof(err));
	CU_ASSERT_EQUAL(rc, want);
	if (rc != 0) {
		CU_ASSERT_PTR_NULL(m);
		CU_ASSERT_EQUAL(n, 0);
		CU_ASSERT_PTR_NOT_NULL(strstr(err, msg));
		/* Every message names the file. */
		CU_ASSERT_EQUAL(strncmp(err, p, strlen(p)), 0);
		if (strstr(err, msg) == NULL)
			fprintf(stderr, "\nerror was: %s\n", err);
	}
	free(rc == 0 ? m : NULL);
	unlink(p);
}

static void
test_format(void)
{
	double *m = NULL;
	size_t n = 0;
	char err[256] = "";
	const char *p =
	    write_tmp("# comment\n0 10.5 -1\n10 0 20\n\n   \n-7 20 0\r\n");
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	CU_ASSERT_EQUAL(nc_rtt_matrix_load(p, 4096, &m, &n, err, sizeof(err)),
			0);
	CU_ASSERT_EQUAL_FATAL(n, 3);
	CU_ASSERT_DOUBLE_EQUAL(m[0], 0, 0);
	CU_ASSERT_DOUBLE_EQUAL(m[1], 10.5, 1e-12);
	CU_ASSERT_DOUBLE_EQUAL(m[2], -1, 0);
	CU_ASSERT_DOUBLE_EQUAL(m[3], 10, 0);
	CU_ASSERT_DOUBLE_EQUAL(m[5], 20, 0);
	CU_ASSERT_DOUBLE_EQUAL(m[6], -1, 0); /* any negative is missing */
	CU_ASSERT_DOUBLE_EQUAL(m[7], 20, 0);
	free(m);
	unlink(p);
	/* A 1x1 matrix and a last line without newline are fine. */
	load_expect("0", 4096, 0, NULL);
	load_expect("0 1\n1 0", 4096, 0, NULL);
}

static void
test_errors(void)
{
	load_expect("0 1 2\n1 0\n2 1 0\n", 4096, -EINVAL,
		    ":2: expected 3 values, got 2");
	load_expect("0 1\n1 0 3\n", 4096, -EINVAL,
		    ":2: expected 2 values, got 3");
	load_expect("0 1\n1 0\n1 1\n", 4096, -EINVAL,
		    ":3: more than 2 rows (not square)");
	load_expect("0 1 2\n1 0 1\n", 4096, -EINVAL,
		    ": 2 rows of 3 values (not square)");
	load_expect("", 4096, -EINVAL, ": 0 rows of 0 values (not square)");
	load_expect("# only a comment\n\n", 4096, -EINVAL,
		    ": 0 rows of 0 values (not square)");
	load_expect("0 x\n1 0\n", 4096, -EINVAL, ":1: not a number: \"x");
	load_expect("0 1\n1 0 ms\n", 4096, -EINVAL,
		    ":2: not a number: \"ms");
	load_expect("x 1\n", 4096, -EINVAL, ":1: expected 1 to 4096 values");
	load_expect("0 1 2\n1 0 2\n2 2 0\n", 2, -EINVAL,
		    ":1: expected 1 to 2 values");
	/* max_n 2: a line is at most 24 bytes. */
	load_expect("0 1\n1                               0\n", 2, -EINVAL,
		    ":2: line too long");

	double *m;
	size_t n;
	char err[256] = "";
	CU_ASSERT_EQUAL(nc_rtt_matrix_load("/nonexistent/m.txt", 4096, &m,
					   &n, err, sizeof(err)),
			-ENOENT);
	CU_ASSERT_PTR_NULL(m);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "/nonexistent/m.txt: "));
	/* err may be NULL. */
	CU_ASSERT_EQUAL(nc_rtt_matrix_load("/nonexistent/m.txt", 4096, &m,
					   &n, NULL, 0),
			-ENOENT);
}

int
nc_test_rtt_matrix_register(void)
{
	CU_pSuite s = CU_add_suite("rtt_matrix", NULL, NULL);
	if (s == NULL || CU_add_test(s, "format", test_format) == NULL ||
	    CU_add_test(s, "errors and messages", test_errors) == NULL)
		return -1;
	return 0;
}
