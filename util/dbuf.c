/*
 * util/dbuf.c - the growable byte buffer of util.h (curl's dynbuf, in
 * small): append bytes or printf output, capacity doubling, a hard cap on
 * the length (STYLE.md §6: every buffer has one), and always a NUL after
 * the data so text needs no extra step.
 */
#include "util/util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
nc_dbuf_init(struct nc_dbuf *b, size_t max_bytes)
{
	memset(b, 0, sizeof(*b));
	b->max_bytes = max_bytes;
}

void
nc_dbuf_free(struct nc_dbuf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

void
nc_dbuf_reset(struct nc_dbuf *b)
{
	b->len = 0;
	if (b->data != NULL)
		b->data[0] = '\0';
}

int
nc_dbuf_reserve(struct nc_dbuf *b, size_t more)
{
	size_t need, cap;
	char *d;

	if (more > b->max_bytes || b->len > b->max_bytes - more)
		return -E2BIG;
	need = b->len + more + 1;
	if (need <= b->cap)
		return 0;
	cap = b->cap ? b->cap : NC_DBUF_MIN_BYTES;
	while (cap < need) {
		if (cap > SIZE_MAX / 2) {
			cap = need;
			break;
		}
		cap *= 2;
	}
	d = realloc(b->data, cap);
	if (d == NULL)
		return -ENOMEM;
	if (b->data == NULL)
		d[0] = '\0';
	b->data = d;
	b->cap = cap;
	return 0;
}

int
nc_dbuf_append(struct nc_dbuf *b, const void *p, size_t n)
{
	int rc = nc_dbuf_reserve(b, n);

	if (rc != 0)
		return rc;
	if (n > 0)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

int
nc_dbuf_vprintf(struct nc_dbuf *b, const char *fmt, va_list ap)
{
	va_list ap2;
	int n, rc;

	va_copy(ap2, ap);
	n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		return -EINVAL;
	rc = nc_dbuf_reserve(b, (size_t)n);
	if (rc != 0)
		return rc;
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
	return 0;
}

int
nc_dbuf_printf(struct nc_dbuf *b, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = nc_dbuf_vprintf(b, fmt, ap);
	va_end(ap);
	return rc;
}

char *
nc_dbuf_take(struct nc_dbuf *b)
{
	char *d = b->data;

	b->data = NULL;
	b->len = b->cap = 0;
	return d;
}
