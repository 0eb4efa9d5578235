/*
 * tests/util/test_dbuf.c - the growable buffer: growth keeps the bytes and
 * the trailing NUL, the cap is exact and a refused append changes nothing.
 */
#include <CUnit/Basic.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"
#include "util/util.h"

static void
test_growth(void)
{
	struct nc_dbuf b;
	char chunk[100];
	nc_dbuf_init(&b, 1 << 20);
	CU_ASSERT_PTR_NULL(b.data);
	for (int i = 0; i < 100; i++) {
		memset(chunk, 'a' + i % 26, sizeof(chunk));
		CU_ASSERT_EQUAL_FATAL(nc_dbuf_append(&b, chunk, sizeof(chunk)),
				      0);
		CU_ASSERT(b.cap > b.len);
		CU_ASSERT_EQUAL(b.data[b.len], '\0');
	}
	CU_ASSERT_EQUAL(b.len, 10000);
	CU_ASSERT_EQUAL(b.cap, 16384); /* 256 doubled */
	for (int i = 0; i < 100; i++)
		CU_ASSERT_EQUAL(b.data[i * 100 + 99], 'a' + i % 26);
	CU_ASSERT_EQUAL(nc_dbuf_append(&b, NULL, 0), 0);
	CU_ASSERT_EQUAL(b.len, 10000);
	nc_dbuf_reset(&b);
	CU_ASSERT_EQUAL(b.len, 0);
	CU_ASSERT_EQUAL(b.cap, 16384);
	CU_ASSERT_STRING_EQUAL(b.data, "");
	nc_dbuf_free(&b);
	CU_ASSERT_PTR_NULL(b.data);
	CU_ASSERT_EQUAL(b.len, 0);
}

static void
test_cap(void)
{
	struct nc_dbuf b;
	nc_dbuf_init(&b, 10);
	CU_ASSERT_EQUAL(nc_dbuf_append(&b, "0123456", 7), 0);
	CU_ASSERT_EQUAL(nc_dbuf_append(&b, "7890", 4), -E2BIG);
	CU_ASSERT_EQUAL(b.len, 7);
	CU_ASSERT_STRING_EQUAL(b.data, "0123456");
	CU_ASSERT_EQUAL(nc_dbuf_append(&b, "789", 3), 0);
	CU_ASSERT_STRING_EQUAL(b.data, "0123456789");
	CU_ASSERT_EQUAL(nc_dbuf_append(&b, "x", 1), -E2BIG);
	CU_ASSERT_EQUAL(nc_dbuf_printf(&b, "%d", 1), -E2BIG);
	CU_ASSERT_EQUAL(nc_dbuf_reserve(&b, SIZE_MAX), -E2BIG);
	CU_ASSERT_EQUAL(b.len, 10);
	nc_dbuf_free(&b);
}

static int wrap_printf(struct nc_dbuf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int
wrap_printf(struct nc_dbuf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int rc = nc_dbuf_vprintf(b, fmt, ap);
	va_end(ap);
	return rc;
}

static void
test_printf_and_take(void)
{
	struct nc_dbuf b;
	nc_dbuf_init(&b, 1 << 20);
	CU_ASSERT_EQUAL(nc_dbuf_printf(&b, "%s=%d;", "a", 1), 0);
	CU_ASSERT_EQUAL(nc_dbuf_printf(&b, "%0300d", 7), 0);
	CU_ASSERT_EQUAL(b.len, 4 + 300);
	CU_ASSERT_EQUAL(strncmp(b.data, "a=1;000", 7), 0);
	CU_ASSERT_EQUAL(b.data[b.len - 1], '7');
	CU_ASSERT_EQUAL(b.data[b.len], '\0');
	char *s = nc_dbuf_take(&b);
	CU_ASSERT_PTR_NOT_NULL(s);
	CU_ASSERT_PTR_NULL(b.data);
	CU_ASSERT_EQUAL(b.len, 0);
	CU_ASSERT_EQUAL(strlen(s), 304);
	free(s);
	/* The va_list form, as a printf-like wrapper uses it. */
	CU_ASSERT_EQUAL(wrap_printf(&b, "%s-%u", "v", 42u), 0);
	CU_ASSERT_STRING_EQUAL(b.data, "v-42");
	nc_dbuf_reset(&b);
	/* Usable again after take. */
	CU_ASSERT_EQUAL(nc_dbuf_append(&b, "x", 1), 0);
	CU_ASSERT_STRING_EQUAL(b.data, "x");
	nc_dbuf_free(&b);
}

int
nc_test_dbuf_register(void)
{
	CU_pSuite s = CU_add_suite("dbuf", NULL, NULL);
	if (s == NULL || CU_add_test(s, "growth", test_growth) == NULL ||
	    CU_add_test(s, "cap", test_cap) == NULL ||
	    CU_add_test(s, "printf and take", test_printf_and_take) == NULL)
		return -1;
	return 0;
}
