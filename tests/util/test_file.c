/*
 * tests/util/test_file.c - nc_file_write_atomic: contents replaced, mode
 * set, no temporary file left behind, errors reported as -errno.
 */
#include <CUnit/CUnit.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test_util.h"
#include "util/util.h"

static char dir[64];

static int
entries(void)
{
	DIR *d = opendir(dir);
	int n = 0;
	struct dirent *e;
	while (d != NULL && (e = readdir(d)) != NULL)
		n += e->d_name[0] != '.';
	if (d != NULL)
		closedir(d);
	return n;
}

static void
test_write_replace(void)
{
	strcpy(dir, "/tmp/nc-test-file.XXXXXX");
	CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
	char path[128], buf[64] = "";
	snprintf(path, sizeof(path), "%s/keys.json", dir);

	CU_ASSERT_EQUAL(nc_file_write_atomic(path, "first", 5, 0600), 0);
	CU_ASSERT_EQUAL(nc_file_write_atomic(path, "second!", 7, 0600), 0);
	FILE *f = fopen(path, "r");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	CU_ASSERT_EQUAL(n, 7);
	CU_ASSERT_STRING_EQUAL(buf, "second!");
	struct stat st;
	CU_ASSERT_EQUAL(stat(path, &st), 0);
	CU_ASSERT_EQUAL(st.st_mode & 0777, 0600);
	/* Only the file itself: no temporary left over. */
	CU_ASSERT_EQUAL(entries(), 1);

	/* A missing directory: -ENOENT, nothing created. */
	char bad[160];
	snprintf(bad, sizeof(bad), "%s/no/such/file", dir);
	CU_ASSERT_EQUAL(nc_file_write_atomic(bad, "x", 1, 0600), -ENOENT);
	CU_ASSERT_EQUAL(entries(), 1);

	unlink(path);
	rmdir(dir);
}

int
nc_test_file_register(void)
{
	CU_pSuite s = CU_add_suite("file", NULL, NULL);
	if (s == NULL ||
	    !CU_add_test(s, "write atomic, replace", test_write_replace))
		return -1;
	return 0;
}
