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
