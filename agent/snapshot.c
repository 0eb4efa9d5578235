/*
 * agent/snapshot.c - the -snapshot file (agent/snapshot.h): encoding,
 * decoding with a named problem for every way a file can be bad, and the
 * writer thread.
 *
 * Why not serf's format. serf appends event lines ("alive: NAME ADDR",
 * "not-alive: NAME", "clock: N", "leave") and compacts the log now and
 * then; it ignores coordinates on replay ("serf should re-converge").
 * We must restore coordinates, which change on every probe, so appending
 * would grow the log by the whole coordinate state each time: the file is
 * rewritten whole instead (nc_file_write_atomic: temporary file, fsync,
 * rename, fsync of the directory), at most once per
 * NC_AGENT_SNAPSHOT_INTERVAL_S and at leave and shutdown (agent.c). A
 * kill -9 at any moment leaves the previous complete file or the new one.
 *
 * Format: one JSON object, version NC_AGENT_SNAP_VERSION, one member or
 * coordinate per line so that it diffs and greps well:
 *
 *   {"netcoord_snapshot": 1,          format version (required, first)
 *    "node": "web-1",                 the writer (another node's: refused)
 *    "written_at": 1733500000.25,     Unix seconds (ages grow across the
 *                                     downtime from it)
 *    "left": false,                   graceful leave (serf's "leave"):
 *                                     no rejoin unless -rejoin
 *    "coordinate": {"Vec": [...], "Error": e, "Adjustment": a,
 *                   "Height": h},     serf's names, seconds
 *    "client": {"updates": n, "measured_error": x|null,
 *               "adjustment_samples": [...]},
 *    "peers": [{"name", "samples": [...oldest first], "vec", "height",
 *               "rtt", "weight", "age"}],   coord client peer state
 *    "members": [{"name", "addr": "ip:port"}],   alive/suspect, not self
 *    "coordinates": [{"name", "Vec", "Error", "Adjustment", "Height",
 *                     "age_s", "source": "probe"|"gossip",
 *                     "measured_rtt_s": x|null, "measured_age_s": x|null}],
 *    "end": true}                     written last
 *
 * Version 1 readers ignore keys they do not know, so keys may be added
 * without a new version: the Lamport clocks of the serf issue will be
 * "clock", "event_clock" and "query_clock" (serf's names; serf resets
 * them after a leave unless it rejoins). A change that old readers would
 * misread takes version 2, which version 1 refuses with a warning.
 *
 * A bad file is never half-applied: decode checks every value into a
 * struct first; the agent applies nothing on error, logs one warning
 * naming the file and the problem, and starts fresh.
 */
#include "agent/snapshot.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "util/util.h"

void
nc__agent_snap_clear(struct nc__agent_snap *s)
{
	free(s->peers);
	free(s->members);
	free(s->coords);
	memset(s, 0, sizeof(*s));
}

double
nc__agent_snap_wall_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static const char *
source_str(enum nc_agent_coord_source s)
{
	return s == NC_AGENT_SRC_GOSSIP ? "gossip" : "probe";
}

/* ------------------------------------------------------------------ */
/* Encoding (on the writer thread: printf, no cJSON tree)             */
/* ------------------------------------------------------------------ */

/** A JSON string (names are UTF-8 without control characters, but
 * escape anyway). */
static int
put_str(struct nc_dbuf *b, const char *s)
{
	int rc = nc_dbuf_append(b, "\"", 1);
	for (; rc == 0 && *s != '\0'; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch == '"' || ch == '\\')
			rc = nc_dbuf_printf(b, "\\%c", ch);
		else if (ch < 0x20)
			rc = nc_dbuf_printf(b, "\\u%04x", ch);
		else
			rc = nc_dbuf_append(b, s, 1);
	}
	return rc != 0 ? rc : nc_dbuf_append(b, "\"", 1);
}

/** A number that round-trips, or null. */
static int
put_num(struct nc_dbuf *b, double v)
{
	if (!isfinite(v))
		return nc_dbuf_append(b, "null", 4);
	return nc_dbuf_printf(b, "%.17g", v);
}

static int
put_nums(struct nc_dbuf *b, const double *v, size_t n)
{
	int rc = nc_dbuf_append(b, "[", 1);
	for (size_t i = 0; rc == 0 && i < n; i++) {
		if (i > 0)
			rc = nc_dbuf_append(b, ",", 1);
		if (rc == 0)
			rc = put_num(b, v[i]);
	}
	return rc != 0 ? rc : nc_dbuf_append(b, "]", 1);
}

/** "Vec": [...], "Error": e, "Adjustment": a, "Height": h (no braces). */
static int
put_coord(struct nc_dbuf *b, const struct nc_coord *c)
{
	int rc = nc_dbuf_printf(b, "\"Vec\":");
	if (rc == 0)
		rc = put_nums(b, c->vec, c->dims);
	if (rc == 0)
		rc = nc_dbuf_printf(b, ",\"Error\":");
	if (rc == 0)
		rc = put_num(b, c->error);
	if (rc == 0)
		rc = nc_dbuf_printf(b, ",\"Adjustment\":");
	if (rc == 0)
		rc = put_num(b, c->adjustment);
	if (rc == 0)
		rc = nc_dbuf_printf(b, ",\"Height\":");
	if (rc == 0)
		rc = put_num(b, c->height);
	return rc;
}

static int
put_peer(struct nc_dbuf *b, const struct nc_coord_peer_state *p,
	 unsigned dims)
{
	int rc = nc_dbuf_printf(b, "{\"name\":");
	if (rc == 0)
		rc = put_str(b, p->name);
	if (rc == 0)
		rc = nc_dbuf_printf(b, ",\"samples\":");
	if (rc == 0)
		rc = put_nums(b, p->samples, p->n_samples);
	if (rc == 0)
		rc = nc_dbuf_printf(b, ",\"vec\":");
	if (rc == 0)
		rc = put_nums(b, p->vec, dims);
	if (rc == 0)
		rc = nc_dbuf_printf(b, ",\"height\":");
	if (rc == 0)
		rc = put_num(b, p->height);
	if (rc == 0)
		rc = nc_dbuf_printf(b, ",\"rtt\":");
	if (rc == 0)
		rc = put_num(b, p->rtt);
	if (rc == 0)
		rc = nc_dbuf_printf(b, ",\"weight\":");
	if (rc == 0)
		rc = put_num(b, p->weight);
	if (rc == 0)
		rc = nc_dbuf_printf(b, ",\"age\":");
	if (rc == 0)
		rc = put_num(b, p->age_updates);
	return rc != 0 ? rc : nc_dbuf_append(b, "}", 1);
}

static int
put_cached(struct nc_dbuf *b, const struct nc_agent_coord_saved *e)
{
	int rc = nc_dbuf_printf(b, "{\"name\":");
	if (rc == 0)
		rc = put_str(b, e->name);
	if (rc == 0)
		rc = nc_dbuf_append(b, ",", 1);
	if (rc == 0)
		rc = put_coord(b, &e->coord);
	if (rc == 0)
		rc = nc_dbuf_printf(b, ",\"age_s\":");
	if (rc == 0)
		rc = put_num(b, e->age_s);
	if (rc == 0)
		rc = nc_dbuf_printf(b, ",\"source\":\"%s\",\"measured_rtt_s\":",
				    source_str(e->source));
	if (rc == 0)
		rc = put_num(b, e->measured_rtt_s);
	if (rc == 0)
		rc = nc_dbuf_printf(b, ",\"measured_age_s\":");
	if (rc == 0)
		rc = put_num(b, e->measured_age_s);
	return rc != 0 ? rc : nc_dbuf_append(b, "}", 1);
}

int
nc__agent_snap_encode(const struct nc__agent_snap *s, char **out,
		      size_t *len)
{
	struct nc_dbuf b;
	char addr[64];
	unsigned dims = s->client.coord.dims;
	nc_dbuf_init(&b, NC_AGENT_SNAP_MAX_BYTES);
	*out = NULL;
	*len = 0;
	int rc = nc_dbuf_printf(&b, "{\"netcoord_snapshot\":%d,\n\"node\":",
				NC_AGENT_SNAP_VERSION);
	if (rc == 0)
		rc = put_str(&b, s->node);
	if (rc == 0)
		rc = nc_dbuf_printf(&b, ",\n\"written_at\":%.3f,\n\"left\":%s,"
					"\n\"coordinate\":{",
				    s->written_unix, s->left ? "true" : "false");
	if (rc == 0)
		rc = put_coord(&b, &s->client.coord);
	if (rc == 0)
		rc = nc_dbuf_printf(&b, "},\n\"client\":{\"updates\":%llu,"
					"\"measured_error\":",
				    (unsigned long long)s->client.updates);
	if (rc == 0)
		rc = put_num(&b, s->client.has_measured
				     ? s->client.measured_error
				     : NAN);
	if (rc == 0)
		rc = nc_dbuf_printf(&b, ",\"adjustment_samples\":");
	if (rc == 0)
		rc = put_nums(&b, s->client.adj_samples, s->client.adj_n);
	if (rc == 0)
		rc = nc_dbuf_printf(&b, "},\n\"peers\":[");
	for (size_t i = 0; rc == 0 && i < s->peers_n; i++) {
		rc = nc_dbuf_append(&b, i ? ",\n" : "\n", i ? 2 : 1);
		if (rc == 0)
			rc = put_peer(&b, &s->peers[i], dims);
	}
	if (rc == 0)
		rc = nc_dbuf_printf(&b, "],\n\"members\":[");
	for (size_t i = 0; rc == 0 && i < s->members_n; i++) {
		rc = nc_dbuf_printf(&b, "%s{\"name\":", i ? ",\n" : "\n");
		if (rc == 0)
			rc = put_str(&b, s->members[i].name);
		if (rc == 0)
			rc = nc_dbuf_printf(
			    &b, ",\"addr\":\"%s\"}",
			    nc_addr_format(&s->members[i].addr, addr,
					   sizeof(addr)));
	}
	if (rc == 0)
		rc = nc_dbuf_printf(&b, "],\n\"coordinates\":[");
	for (size_t i = 0; rc == 0 && i < s->coords_n; i++) {
		rc = nc_dbuf_append(&b, i ? ",\n" : "\n", i ? 2 : 1);
		if (rc == 0)
			rc = put_cached(&b, &s->coords[i]);
	}
	if (rc == 0)
		rc = nc_dbuf_printf(&b, "],\n\"end\":true}\n");
	if (rc != 0) {
		nc_dbuf_free(&b);
		return rc;
	}
	*len = b.len;
	*out = nc_dbuf_take(&b);
	return 0;
}

int
nc__agent_snap_save(const char *path, const struct nc__agent_snap *s,
		    char *why, size_t cap)
{
	char *text;
	size_t len;
	int rc = nc__agent_snap_encode(s, &text, &len);
	if (rc < 0) {
		snprintf(why, cap, "%s: cannot encode: %s", path,
			 strerror(-rc));
		return rc;
	}
	rc = nc_file_write_atomic(path, text, len, 0600);
	free(text);
	if (rc < 0)
		snprintf(why, cap, "%s: cannot write: %s", path, strerror(-rc));
	return rc;
}

/* ------------------------------------------------------------------ */
/* Decoding                                                           */
/* ------------------------------------------------------------------ */

/** Decoding context: the first problem found wins. */
struct dec {
	char *why;
	size_t cap;
	bool bad;
};

static bool
dec_fail(struct dec *d, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static bool
dec_fail(struct dec *d, const char *fmt, ...)
{
	if (!d->bad) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(d->why, d->cap, fmt, ap);
		va_end(ap);
	}
	d->bad = true;
	return false;
}

/** A finite number; null is NAN when @a null_ok. */
static bool
get_num(struct dec *d, const cJSON *o, const char *key, const char *where,
	bool null_ok, double *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	if (null_ok && (v == NULL || cJSON_IsNull(v))) {
		*out = NAN;
		return true;
	}
	if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
		return dec_fail(d, "bad \"%s\" in %s: want a number", key,
				where);
	*out = v->valuedouble;
	return true;
}

/** An array of at most @a max finite numbers. */
static bool
get_nums(struct dec *d, const cJSON *o, const char *key, const char *where,
	 double *out, unsigned max, unsigned *n)
{
	const cJSON *a = cJSON_GetObjectItemCaseSensitive(o, key);
	const cJSON *v;
	*n = 0;
	if (!cJSON_IsArray(a))
		return dec_fail(d, "bad \"%s\" in %s: want an array", key,
				where);
	cJSON_ArrayForEach(v, a)
	{
		if (*n == max)
			return dec_fail(d,
					"bad \"%s\" in %s: more than %u "
					"values",
					key, where, max);
		if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
			return dec_fail(d,
					"bad \"%s\" in %s: want finite "
					"numbers",
					key, where);
		out[(*n)++] = v->valuedouble;
	}
	return true;
}

/** A name: a string of 1..128 bytes. */
static bool
get_name(struct dec *d, const cJSON *o, const char *where, char *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "name");
	if (!cJSON_IsString(v) || v->valuestring[0] == '\0' ||
	    strlen(v->valuestring) >= NC_AGENT_COORDS_NAME_CAP)
		return dec_fail(d, "bad \"name\" in %s", where);
	strcpy(out, v->valuestring);
	return true;
}

/** A coordinate in serf's names, 8 dims like every coordinate we hold. */
static bool
get_coord(struct dec *d, const cJSON *o, const char *where,
	  struct nc_coord *c)
{
	unsigned n = 0;
	memset(c, 0, sizeof(*c));
	if (!get_nums(d, o, "Vec", where, c->vec, NC_COORD_DIMS_MAX, &n) ||
	    !get_num(d, o, "Error", where, false, &c->error) ||
	    !get_num(d, o, "Adjustment", where, false, &c->adjustment) ||
	    !get_num(d, o, "Height", where, false, &c->height))
		return false;
	c->dims = n;
	if (nc_coord_check(c) != 0)
		return dec_fail(d, "bad coordinate in %s", where);
	return true;
}

/** Every element of array @a key must be an object. */
static const cJSON *
get_list(struct dec *d, const cJSON *root, const char *key, size_t *n)
{
	const cJSON *a = cJSON_GetObjectItemCaseSensitive(root, key);
	const cJSON *v;
	*n = 0;
	if (!cJSON_IsArray(a)) {
		dec_fail(d, "bad \"%s\": want an array", key);
		return NULL;
	}
	cJSON_ArrayForEach(v, a)
	{
		if (!cJSON_IsObject(v)) {
			dec_fail(d, "bad \"%s\": want objects", key);
			return NULL;
		}
		(*n)++;
	}
	return a;
}

static void
decode_client(struct dec *d, const cJSON *root, struct nc__agent_snap *s)
{
	const cJSON *co = cJSON_GetObjectItemCaseSensitive(root, "coordinate");
	const cJSON *cl = cJSON_GetObjectItemCaseSensitive(root, "client");
	double v;
	if (!cJSON_IsObject(co) || !cJSON_IsObject(cl)) {
		dec_fail(d, "bad \"%s\": want an object",
			 cJSON_IsObject(co) ? "client" : "coordinate");
		return;
	}
	if (!get_coord(d, co, "\"coordinate\"", &s->client.coord))
		return;
	if (!get_num(d, cl, "updates", "\"client\"", false, &v))
		return;
	if (v < 0 || v > 9e15)
		dec_fail(d, "bad \"updates\" in \"client\"");
	s->client.updates = (uint64_t)v;
	if (!get_num(d, cl, "measured_error", "\"client\"", true, &v))
		return;
	s->client.has_measured = !isnan(v);
	s->client.measured_error = isnan(v) ? 0 : v;
	get_nums(d, cl, "adjustment_samples", "\"client\"",
		 s->client.adj_samples, NC_COORD_ADJ_WINDOW_MAX,
		 &s->client.adj_n);
}

static void
decode_peers(struct dec *d, const cJSON *root, struct nc__agent_snap *s)
{
	size_t n;
	const cJSON *a = get_list(d, root, "peers", &n), *o;
	if (a == NULL || n == 0)
		return;
	s->peers = calloc(n, sizeof(*s->peers));
	if (s->peers == NULL) {
		dec_fail(d, "out of memory");
		return;
	}
	cJSON_ArrayForEach(o, a)
	{
		struct nc_coord_peer_state *p = &s->peers[s->peers_n++];
		unsigned dims = 0;
		const char *w = "\"peers\"";
		if (!get_name(d, o, w, p->name) ||
		    !get_nums(d, o, "samples", w, p->samples,
			      NC_COORD_FILTER_MAX, &p->n_samples) ||
		    !get_nums(d, o, "vec", w, p->vec, NC_COORD_DIMS_MAX,
			      &dims) ||
		    !get_num(d, o, "height", w, false, &p->height) ||
		    !get_num(d, o, "rtt", w, false, &p->rtt) ||
		    !get_num(d, o, "weight", w, false, &p->weight) ||
		    !get_num(d, o, "age", w, false, &p->age_updates))
			return;
		if (dims != s->client.coord.dims) {
			dec_fail(d, "bad \"vec\" in \"peers\": %u dims, the "
				    "coordinate has %u",
				 dims, s->client.coord.dims);
			return;
		}
	}
}

static void
decode_members(struct dec *d, const cJSON *root, struct nc__agent_snap *s)
{
	size_t n;
	const cJSON *a = get_list(d, root, "members", &n), *o;
	if (a == NULL || n == 0)
		return;
	s->members = calloc(n, sizeof(*s->members));
	if (s->members == NULL) {
		dec_fail(d, "out of memory");
		return;
	}
	cJSON_ArrayForEach(o, a)
	{
		struct nc__agent_snap_member *m = &s->members[s->members_n++];
		const cJSON *ad = cJSON_GetObjectItemCaseSensitive(o, "addr");
		if (!get_name(d, o, "\"members\"", m->name))
			return;
		if (!cJSON_IsString(ad) ||
		    nc_addr_parse(ad->valuestring, 0, &m->addr) != 0 ||
		    m->addr.port == 0) {
			dec_fail(d, "bad \"addr\" of member \"%s\"", m->name);
			return;
		}
	}
}

static void
decode_coords(struct dec *d, const cJSON *root, struct nc__agent_snap *s)
{
	size_t n;
	const cJSON *a = get_list(d, root, "coordinates", &n), *o;
	if (a == NULL || n == 0)
		return;
	s->coords = calloc(n, sizeof(*s->coords));
	if (s->coords == NULL) {
		dec_fail(d, "out of memory");
		return;
	}
	cJSON_ArrayForEach(o, a)
	{
		struct nc_agent_coord_saved *e = &s->coords[s->coords_n++];
		const char *w = "\"coordinates\"";
		const cJSON *src = cJSON_GetObjectItemCaseSensitive(o, "source");
		if (!get_name(d, o, w, e->name) ||
		    !get_coord(d, o, w, &e->coord) ||
		    !get_num(d, o, "age_s", w, false, &e->age_s) ||
		    !get_num(d, o, "measured_rtt_s", w, true,
			     &e->measured_rtt_s) ||
		    !get_num(d, o, "measured_age_s", w, true,
			     &e->measured_age_s))
			return;
		if (cJSON_IsString(src) && strcmp(src->valuestring, "probe") == 0)
			e->source = NC_AGENT_SRC_PROBE;
		else if (cJSON_IsString(src) &&
			 strcmp(src->valuestring, "gossip") == 0)
			e->source = NC_AGENT_SRC_GOSSIP;
		else {
			dec_fail(d, "bad \"source\" of \"%s\" in %s", e->name,
				 w);
			return;
		}
		if (e->age_s < 0 || e->coord.dims != s->client.coord.dims) {
			dec_fail(d, "bad coordinate of \"%s\" in %s", e->name,
				 w);
			return;
		}
	}
}

/** serf's snapshot is lines of events: say so rather than "corrupt". */
static bool
looks_like_serf(const char *text, size_t len)
{
	static const char *const starts[] = {"alive: ", "not-alive: ",
					     "clock: ", "event-clock: ",
					     "query-clock: ", "leave\n", "#"};
	for (size_t i = 0; i < sizeof(starts) / sizeof(starts[0]); i++) {
		size_t n = strlen(starts[i]);
		if (len >= n && memcmp(text, starts[i], n) == 0)
			return true;
	}
	return false;
}

/**
 * Does @a text stop inside a string or with a bracket still open? Then a
 * parse failure means it was cut short rather than damaged.
 */
static bool
json_unclosed(const char *text, size_t len)
{
	long depth = 0;
	bool in_str = false, esc = false;
	for (size_t i = 0; i < len; i++) {
		char ch = text[i];
		if (in_str) {
			if (esc)
				esc = false;
			else if (ch == '\\')
				esc = true;
			else if (ch == '"')
				in_str = false;
		} else if (ch == '"') {
			in_str = true;
		} else if (ch == '{' || ch == '[') {
			depth++;
		} else if (ch == '}' || ch == ']') {
			depth--;
		}
	}
	return in_str || depth > 0;
}

int
nc__agent_snap_decode(const char *text, size_t len, struct nc__agent_snap *s,
		      char *why, size_t cap)
{
	struct dec d = {.why = why, .cap = cap};
	memset(s, 0, sizeof(*s));
	size_t b = 0, e = len;
	while (b < len && strchr(" \t\r\n", text[b]) != NULL && text[b] != 0)
		b++;
	while (e > b && strchr(" \t\r\n", text[e - 1]) != NULL &&
	       text[e - 1] != 0)
		e--;
	if (b == e) {
		snprintf(why, cap, "empty (truncated?)");
		return -EINVAL;
	}
	if (memchr(text, '\0', len) != NULL) {
		snprintf(why, cap, "corrupt: holds NUL bytes");
		return -EINVAL;
	}
	if (looks_like_serf(text + b, e - b)) {
		snprintf(why, cap, "not a netcoord snapshot (serf's line "
				   "format?)");
		return -EINVAL;
	}
	cJSON *root = cJSON_ParseWithLength(text, len);
	if (root == NULL) {
		/* One that starts like ours and stops with a bracket still
		 * open was cut short. */
		if (text[b] == '{' && json_unclosed(text, len))
			snprintf(why, cap, "truncated (%zu bytes, no end)", len);
		else
			snprintf(why, cap, "corrupt: not valid JSON");
		return -EINVAL;
	}
	const cJSON *ver = cJSON_GetObjectItemCaseSensitive(root,
							    "netcoord_snapshot");
	const cJSON *node = cJSON_GetObjectItemCaseSensitive(root, "node");
	const cJSON *left = cJSON_GetObjectItemCaseSensitive(root, "left");
	const cJSON *end = cJSON_GetObjectItemCaseSensitive(root, "end");
	double at = 0;
	if (!cJSON_IsObject(root) || !cJSON_IsNumber(ver)) {
		dec_fail(&d, "not a netcoord snapshot (no \"netcoord_snapshot\" "
			     "version)");
	} else if (ver->valuedouble > NC_AGENT_SNAP_VERSION) {
		dec_fail(&d, "format version %.0f is newer than this netcoord "
			     "reads (%d)",
			 ver->valuedouble, NC_AGENT_SNAP_VERSION);
	} else if (ver->valuedouble != NC_AGENT_SNAP_VERSION) {
		dec_fail(&d, "unknown format version %g", ver->valuedouble);
	} else if (!cJSON_IsTrue(end)) {
		dec_fail(&d, "truncated (no \"end\" mark)");
	} else if (!cJSON_IsString(node) || node->valuestring[0] == '\0' ||
		   strlen(node->valuestring) >= sizeof(s->node)) {
		dec_fail(&d, "bad \"node\"");
	} else if (!cJSON_IsBool(left)) {
		dec_fail(&d, "bad \"left\": want true or false");
	} else if (get_num(&d, root, "written_at", "the snapshot", false,
			   &at)) {
		s->version = NC_AGENT_SNAP_VERSION;
		strcpy(s->node, node->valuestring);
		s->left = cJSON_IsTrue(left);
		s->written_unix = at;
		decode_client(&d, root, s);
		if (!d.bad)
			decode_peers(&d, root, s);
		if (!d.bad)
			decode_members(&d, root, s);
		if (!d.bad)
			decode_coords(&d, root, s);
	}
	cJSON_Delete(root);
	if (d.bad) {
		nc__agent_snap_clear(s);
		return -EINVAL;
	}
	return 0;
}

int
nc__agent_snap_load(const char *path, struct nc__agent_snap *s, char *why,
		    size_t cap)
{
	char inner[256];
	memset(s, 0, sizeof(*s));
	FILE *f = fopen(path, "rb");
	if (f == NULL) {
		int e = errno;
		if (e == ENOENT)
			return 0;
		snprintf(why, cap, "%s: %s", path, strerror(e));
		return -e;
	}
	struct stat st;
	if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode) ||
	    (size_t)st.st_size > NC_AGENT_SNAP_MAX_BYTES) {
		fclose(f);
		snprintf(why, cap, "%s: not a regular file of at most %u MiB",
			 path, NC_AGENT_SNAP_MAX_BYTES >> 20);
		return -EINVAL;
	}
	size_t size = (size_t)st.st_size;
	char *text = malloc(size + 1);
	if (text == NULL) {
		fclose(f);
		snprintf(why, cap, "%s: out of memory", path);
		return -ENOMEM;
	}
	size_t n = fread(text, 1, size, f);
	int bad = ferror(f);
	fclose(f);
	if (bad) {
		free(text);
		snprintf(why, cap, "%s: read error", path);
		return -EIO;
	}
	text[n] = '\0';
	int rc = nc__agent_snap_decode(text, n, s, inner, sizeof(inner));
	free(text);
	if (rc < 0) {
		snprintf(why, cap, "%s: %s", path, inner);
		return rc;
	}
	return 1;
}

/* ------------------------------------------------------------------ */
/* Writer thread                                                      */
/* ------------------------------------------------------------------ */

struct nc__agent_snap_writer {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	char *path;
	/** The snapshot to write (has_job) and the one being written. */
	struct nc__agent_snap job;
	bool has_job, running, stop;
	/** A write failed since the last poll, and why. */
	bool failed;
	char why[384];
	/** Longest write since the last poll, s. */
	double max_dur_s;
};

static double
mono_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void *
writer_main(void *arg)
{
	struct nc__agent_snap_writer *w = arg;
	pthread_mutex_lock(&w->mu);
	for (;;) {
		while (!w->has_job && !w->stop)
			pthread_cond_wait(&w->cv, &w->mu);
		if (!w->has_job)
			break;
		struct nc__agent_snap s = w->job;
		memset(&w->job, 0, sizeof(w->job));
		w->has_job = false;
		w->running = true;
		pthread_mutex_unlock(&w->mu);
		char why[384] = "";
		double t0 = mono_now();
		int rc = nc__agent_snap_save(w->path, &s, why, sizeof(why));
		double dt = mono_now() - t0;
		nc__agent_snap_clear(&s);
		pthread_mutex_lock(&w->mu);
		w->running = false;
		if (rc < 0) {
			w->failed = true;
			memcpy(w->why, why, sizeof(w->why));
		}
		if (dt > w->max_dur_s)
			w->max_dur_s = dt;
		pthread_cond_broadcast(&w->cv);
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

struct nc__agent_snap_writer *
nc__agent_snap_writer_new(const char *path, int *rc)
{
	struct nc__agent_snap_writer *w = calloc(1, sizeof(*w));
	*rc = -ENOMEM;
	if (w == NULL || (w->path = strdup(path)) == NULL) {
		free(w);
		return NULL;
	}
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	/* The thread takes no signals: the process reads SIGTERM/SIGINT
	 * from a signalfd on the loop (cmd/agent.c), which only works while
	 * every thread blocks them. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int e = pthread_create(&w->thread, NULL, writer_main, w);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (e != 0) {
		*rc = -e;
		pthread_cond_destroy(&w->cv);
		pthread_mutex_destroy(&w->mu);
		free(w->path);
		free(w);
		return NULL;
	}
	*rc = 0;
	return w;
}

int
nc__agent_snap_writer_submit(struct nc__agent_snap_writer *w,
			     struct nc__agent_snap *s)
{
	pthread_mutex_lock(&w->mu);
	if (w->has_job || w->running) {
		pthread_mutex_unlock(&w->mu);
		return -EBUSY;
	}
	w->job = *s;
	memset(s, 0, sizeof(*s));
	w->has_job = true;
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
	return 0;
}

bool
nc__agent_snap_writer_busy(struct nc__agent_snap_writer *w)
{
	pthread_mutex_lock(&w->mu);
	bool busy = w->has_job || w->running;
	pthread_mutex_unlock(&w->mu);
	return busy;
}

int
nc__agent_snap_writer_poll(struct nc__agent_snap_writer *w, char *why,
			   size_t cap, double *dur_s)
{
	pthread_mutex_lock(&w->mu);
	int failed = w->failed;
	if (failed)
		snprintf(why, cap, "%s", w->why);
	if (dur_s != NULL)
		*dur_s = w->max_dur_s;
	w->failed = false;
	w->max_dur_s = 0;
	pthread_mutex_unlock(&w->mu);
	return failed;
}

void
nc__agent_snap_writer_delete(struct nc__agent_snap_writer *w)
{
	if (w == NULL)
		return;
	pthread_mutex_lock(&w->mu);
	w->stop = true;
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->thread, NULL);
	nc__agent_snap_clear(&w->job);
	pthread_cond_destroy(&w->cv);
	pthread_mutex_destroy(&w->mu);
	free(w->path);
	free(w);
}
