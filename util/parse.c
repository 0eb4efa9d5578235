/*
 * util/parse.c - the one boolean vocabulary of util.h, and two helpers of
 * every reader of text input: error messages into optional buffers
 * (nc_errf) and blank/comment lines (nc_line_blank).
 *
 * Three parsers accepted three vocabularies: the CLI took Go's flag words
 * (1 t true True TRUE / 0 f false False FALSE), the config file true/1 and
 * false/0, the HTTP API 1/true/yes and 0/false/no. This one accepts their
 * union so no input that worked before stops working, and nothing else.
 * Callers with extra rules (the API treats a bare "?flag" as true) apply
 * them before calling.
 */
#include "util/util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int
nc_parse_duration(const char *s, bool bare_seconds, double *out_s)
{
	static const struct {
		const char *u;
		double s;
	} units[] = {{"ns", 1e-9}, {"us", 1e-6}, {"\xc2\xb5s", 1e-6},
		     {"ms", 1e-3}, {"s", 1},	 {"m", 60},
		     {"h", 3600}};
	double total = 0;
	bool bare = true;
	if (s == NULL || *s == '\0')
		return -EINVAL;
	while (*s != '\0') {
		const char *p = s;
		double v = 0, scale = 1;
		bool digits = false;
		for (; *p >= '0' && *p <= '9'; p++, digits = true)
			v = v * 10 + (*p - '0');
		if (*p == '.')
			for (p++; *p >= '0' && *p <= '9'; p++, digits = true)
				v += (*p - '0') * (scale /= 10);
		if (!digits || v > 1e12)
			return -EINVAL;
		if (*p == '\0' && bare && (bare_seconds || v == 0)) {
			*out_s = v; /* a plain number: seconds */
			return 0;
		}
		size_t best = 0, best_len = 0;
		for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
			size_t l = strlen(units[i].u);
			if (strncmp(p, units[i].u, l) == 0 && l > best_len) {
				best = i;
				best_len = l;
			}
		}
		if (best_len == 0)
			return -EINVAL;
		total += v * units[best].s;
		if (total > 1e12)
			return -EINVAL;
		s = p + best_len;
		bare = false;
	}
	*out_s = total;
	return 0;
}

int
nc_parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = {"1",	  "t",	  "true",
					  "True", "TRUE", "yes"};
	static const char *const no[] = {"0",	  "f",	   "false",
					 "False", "FALSE", "no"};

	if (s == NULL)
		return -EINVAL;
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcmp(s, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcmp(s, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return -EINVAL;
}

int
nc_errf(char *err, size_t cap, int rc, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (err != NULL && cap > 0)
		vsnprintf(err, cap, fmt, ap);
	va_end(ap);
	return rc;
}

bool
nc_line_blank(const char *s)
{
	while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
		s++;
	return *s == '\0' || *s == '#';
}
