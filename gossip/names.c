/*
 * Node names from the network (issue 9, rows 1, 9, 11): the checks that
 * decide whether a name may enter the member table, and the escaping used
 * whenever a name that failed them is logged.
 *
 * A name is refused if it is empty or over NC_GOSSIP_NAME_MAX bytes, holds
 * a NUL (stored names are C strings: "B\0x" would read as "B"), a control
 * character (< 0x20 or 0x7f: a "\n" forges log lines) or is not valid
 * UTF-8 (it goes into JSON as is). UTF-8 is checked strictly (RFC 3629):
 * no overlong forms, no surrogates, nothing above U+10FFFF.
 */
#include "gossip/gossip.h"

#include <stdio.h>

/** Length of the valid UTF-8 sequence at p (< end), 0 if invalid. */
static size_t
utf8_seq(const unsigned char *p, const unsigned char *end)
{
	unsigned char c = p[0];
	size_t n;
	unsigned char lo = 0x80, hi = 0xbf;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4;
	else
		return 0; /* continuation byte, overlong lead, > U+10FFFF */
	if ((size_t)(end - p) < n)
		return 0;
	if (c == 0xe0)
		lo = 0xa0; /* overlong */
	else if (c == 0xed)
		hi = 0x9f; /* surrogates */
	else if (c == 0xf0)
		lo = 0x90; /* overlong */
	else if (c == 0xf4)
		hi = 0x8f; /* > U+10FFFF */
	if (p[1] < lo || p[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
	return n;
}

bool
nc_gossip_utf8_valid(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + len;

	while (p < end) {
		size_t n = utf8_seq(p, end);
		if (n == 0)
			return false;
		p += n;
	}
	return true;
}

enum nc_gossip_name_problem
nc_gossip_name_check(const char *name, size_t len)
{
	const unsigned char *p = (const unsigned char *)name;

	if (name == NULL || len == 0 || len > NC_GOSSIP_NAME_MAX)
		return NC_GOSSIP_NAME_BAD_LENGTH;
	for (size_t i = 0; i < len; i++) {
		if (p[i] == 0)
			return NC_GOSSIP_NAME_NUL;
		if (p[i] < 0x20 || p[i] == 0x7f)
			return NC_GOSSIP_NAME_CONTROL;
	}
	return nc_gossip_utf8_valid(name, len) ? NC_GOSSIP_NAME_OK
					       : NC_GOSSIP_NAME_BAD_UTF8;
}

const char *
nc_gossip_name_problem_str(enum nc_gossip_name_problem p)
{
	switch (p) {
	case NC_GOSSIP_NAME_OK:
		return "ok";
	case NC_GOSSIP_NAME_BAD_LENGTH:
		return "empty or too long";
	case NC_GOSSIP_NAME_NUL:
		return "NUL byte";
	case NC_GOSSIP_NAME_CONTROL:
		return "control character";
	case NC_GOSSIP_NAME_BAD_UTF8:
		return "invalid UTF-8";
	}
	return "?";
}

const char *
nc_gossip_name_escape(const char *name, size_t len, char *out, size_t cap)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];
		bool plain = c >= 0x20 && c < 0x7f && c != '\\';
		size_t need = plain ? 1 : 4;
		if (o + need + 4 > cap) { /* room for "..." and NUL */
			snprintf(out + o, cap - o, "...");
			return out;
		}
		if (plain)
			out[o++] = (char)c;
		else
			o += (size_t)snprintf(out + o, cap - o, "\\x%02x", c);
	}
	out[o] = '\0';
	return out;
}
