/*
 * util/rtt_matrix.c - the RTT-matrix file loader of util.h, shared by the
 * latency-emulation decorator, `netcoord sim` and the coord tests.
 *
 * Format (ms, as tests/data/planetlab200_ms.txt and the PlanetLab/King
 * data sets ship): one row per line, values separated by blanks, a
 * negative value for a missing measurement, blank lines and '#' comments
 * skipped. The first row sets the size; the file must be square. Callers
 * add their own rules on top (the simulator wants >= 2 nodes and seconds).
 *
 * Lines are read with fgets into one buffer of max_n * 12 bytes (room for
 * max_n values of "1234.567 " and slack), so a line longer than a valid
 * row is reported as too long rather than silently split.
 */
#include "util/util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/** Bytes per value allowed on a line. */
#define NC_RTT_MATRIX_VALUE_BYTES 12

int
nc_rtt_matrix_load(const char *path, size_t max_n, double **rtt_ms, size_t *n,
		   char *err, size_t err_cap)
{
	*rtt_ms = NULL;
	*n = 0;
	if (max_n == 0 || max_n > SIZE_MAX / NC_RTT_MATRIX_VALUE_BYTES ||
	    max_n > (size_t)(SIZE_MAX / sizeof(double)) / max_n)
		return nc_errf(err, err_cap, -EINVAL, "%s: bad size limit %zu",
			       path, max_n);
	size_t line_max = max_n * NC_RTT_MATRIX_VALUE_BYTES;
	if (line_max > (size_t)INT32_MAX)
		line_max = (size_t)INT32_MAX;
	FILE *f = fopen(path, "r");
	if (f == NULL) {
		int e = errno;
		return nc_errf(err, err_cap, -e, "%s: %s", path, strerror(e));
	}
	char *line = malloc(line_max);
	double *m = NULL;
	size_t cols = 0, rows = 0, lineno = 0;
	int rc = 0;
	if (line == NULL) {
		rc = nc_errf(err, err_cap, -ENOMEM, "%s: out of memory", path);
		goto out;
	}
	while (fgets(line, (int)line_max, f) != NULL) {
		lineno++;
		if (strchr(line, '\n') == NULL && !feof(f)) {
			rc = nc_errf(err, err_cap, -EINVAL,
				     "%s:%zu: line too long", path, lineno);
			goto out;
		}
		if (nc_line_blank(line))
			continue;
		/* Count the values of the first row to size the matrix. */
		if (m == NULL) {
			char *p = line, *end;
			for (;;) {
				strtod(p, &end);
				if (end == p)
					break;
				cols++;
				p = end;
			}
			if (cols == 0 || cols > max_n) {
				rc = nc_errf(err, err_cap, -EINVAL,
					     "%s:%zu: expected 1 to %zu values",
					     path, lineno, max_n);
				goto out;
			}
			m = malloc(cols * cols * sizeof(double));
			if (m == NULL) {
				rc = nc_errf(err, err_cap, -ENOMEM,
					     "%s: out of memory", path);
				goto out;
			}
		}
		if (rows == cols) {
			rc = nc_errf(err, err_cap, -EINVAL,
				     "%s:%zu: more than %zu rows (not square)",
				     path, lineno, cols);
			goto out;
		}
		char *p = line, *end;
		size_t j = 0;
		for (;;) {
			double v = strtod(p, &end);
			if (end == p)
				break;
			if (j < cols)
				m[rows * cols + j] = v < 0 ? -1 : v;
			j++;
			p = end;
		}
		while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
			p++;
		if (*p != '\0') {
			rc = nc_errf(err, err_cap, -EINVAL,
				     "%s:%zu: not a number: \"%.20s\"", path,
				     lineno, p);
			goto out;
		}
		if (j != cols) {
			rc = nc_errf(err, err_cap, -EINVAL,
				     "%s:%zu: expected %zu values, got %zu",
				     path, lineno, cols, j);
			goto out;
		}
		rows++;
	}
	if (rows == 0 || rows != cols) {
		rc = nc_errf(err, err_cap, -EINVAL,
			     "%s: %zu rows of %zu values (not square)", path,
			     rows, cols);
		goto out;
	}
	*rtt_ms = m;
	*n = rows;
	m = NULL;
out:
	free(m);
	free(line);
	fclose(f);
	return rc;
}
