/*
 * tests/fuzz/fuzz_http.c - libFuzzer target for the HTTP request path:
 * method, URL (path + query), Authorization, If-None-Match and body into
 * the API router (api/api.h nc_api_handle; nc_api_dispatch for PUT, which
 * also starts a requested leave) of an API over a simulated fleet.
 *
 * The fleet (built once, rebuilt after an input that changed it: a
 * successful join, leave or keyring change) is four real agents
 * (agent/agent.h on simulator nodes, tags dc/rack, sending uncompressed)
 * and a serf stand-in (gossip only) whose tags hold invalid UTF-8,
 * quotes and control characters, run until agent 0 holds a coordinate
 * of every other member (~4 virtual seconds). There are two fleets
 * (plain and keyed) and up to eight APIs per fleet (token on/off, answer
 * cache on/off, unauthenticated writes allowed or not), chosen by the
 * header.
 *
 * Input:
 *   header u8    bit 0 token, bit 1 max_stale_s = 0 (no answer cache),
 *                bit 2 keyed fleet, bit 3 allow unauthenticated writes
 *   request*     flags u8: bits 0-2 method (GET HEAD PUT POST DELETE
 *                OPTIONS "get" custom), bits 3-4 Authorization (none,
 *                the right bearer token, custom, "Bearer " + custom),
 *                bit 5 If-None-Match (custom; empty = the last ETag),
 *                bit 6 body, bit 7 advance time (u8 x 2 ms) first;
 *                then NUL-terminated strings: [custom method] URL
 *                [authorization] [if-none-match], then [body: len u16 +
 *                bytes].
 *
 * Checked for every response: a status in 100..599; a JSON content type
 * means the body parses as JSON; with a token, a non-public route never
 * answers 2xx without the right token, and never 401/403 with it; key
 * material never appears without the right token (unless the input
 * itself carries it: an error message may echo the URL).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>

#include "agent/agent.h"
#include "agent/coords.h"
#include "api/api.h"
#include "gossip/gossip.h"
#include "gossip/proto.h"
#include "tests/fuzz/fuzz_fleet.h"
#include "sim/sim.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define TOKEN "fuzz-token-0123456789abcdef"
#define FLEET_AGENTS 4
/** Virtual time one input may advance, s (past the view's 0.25 s). */
#define ADVANCE_MAX_S 0.3

#define CHECK(cond, what)                                                  \
	do {                                                               \
		if (!(cond)) {                                             \
			fprintf(stderr, "fuzz_http: %s\n", what);          \
			abort();                                           \
		}                                                          \
	} while (0)

struct fleet {
	struct sim_world *w;
	struct nc_agent *agent[FLEET_AGENTS];
	struct nc_gossip *serf;
	/** APIs on agent 0, by header bits 0, 1, 3. */
	struct nc_api *api[8];
	bool dirty;
};

static struct fleet fleets[2];
/** Fleets built, their virtual time, and inputs run (printed at exit). */
static unsigned long fleet_builds, inputs_run;
static double fleet_build_vs;

static void
print_builds(void)
{
	fprintf(stderr,
		"fuzz_http: %lu fleets built (%.1f virtual s each) for %lu "
		"inputs\n",
		fleet_builds, fleet_build_vs / (double)fleet_builds,
		inputs_run);
}

static double
clock_cb(void *arg)
{
	return sim_now(arg);
}

static size_t
serf_ack(void *ctx, char *buf, size_t cap)
{
	(void)ctx;
	struct nc_proto_coord c = {.dims = 8, .error = 1.5, .height = 1e-5};
	int n = nc_proto_encode_coord(buf, cap, &c);
	return n > 0 ? (size_t)n : 0;
}

static void
fleet_delete(struct fleet *f)
{
	for (int i = 0; i < 8; i++)
		nc_api_delete(f->api[i]);
	for (int i = 0; i < FLEET_AGENTS; i++)
		nc_agent_delete(f->agent[i]);
	nc_gossip_delete(f->serf);
	sim_world_delete(f->w);
	memset(f, 0, sizeof(*f));
}

static void
fleet_build(struct fleet *f, bool keyed)
{
	static const char *const tags[FLEET_AGENTS] = {
	    "\"dc\":\"east\",\"rack\":\"r1\"",
	    "\"dc\":\"east\",\"rack\":\"r2\"",
	    "\"dc\":\"west\",\"rack\":\"r1\"",
	    "\"dc\":\"w\\u00e9st \\\"q\\\"\"",
	};
	char name[16], err[128];
	memset(f, 0, sizeof(*f));
	f->w = sim_world_new(0xf1ee7);
	CHECK(f->w != NULL, "world");
	sim_set_log(f->w, ff_log_quiet, NULL);
	for (int i = 0; i < FLEET_AGENTS; i++) {
		snprintf(name, sizeof(name), "a%d", i);
		struct sim_node *sn = sim_node_add(f->w, name);
		CHECK(sn != NULL, "node");
		f->agent[i] = ff_agent_new(
		    sn, name, tags[i], keyed ? FF_KEY_B64 : NULL,
		    i > 0 ? sim_node_addr(sim_node_get(f->w, 0)) : NULL,
		    true);
		CHECK(f->agent[i] != NULL, "agent");
		CHECK(nc_agent_start(f->agent[i]) == 0, "start");
	}
	if (!keyed) {
		/* A serf member with hostile tags (names are refused, tags
		 * are not: the API must still print valid JSON). */
		struct sim_node *sn = sim_node_add(f->w, "s4");
		struct nc_gossip_config cfg;
		struct nc_gossip_hooks hooks = {.ack_payload = serf_ack};
		struct nc_proto_tag t[3] = {
		    {nc_proto_cstr("dc"), nc_proto_cstr("bad\xff\xfe\"<\n")},
		    {nc_proto_cstr("rack\x01"), nc_proto_cstr("\\u0000")},
		    {nc_proto_cstr("role"), nc_proto_cstr("\xed\xa0\x80")},
		};
		nc_gossip_config_default(&cfg, NC_GOSSIP_PROFILE_LAN);
		cfg.compression = false;
		snprintf(cfg.name, sizeof(cfg.name), "s4");
		cfg.advertise = *sim_node_addr(sn);
		int n = nc_proto_encode_tags((char *)cfg.meta,
					     sizeof(cfg.meta), t, 3);
		cfg.meta_len = n > 0 ? (size_t)n : 0;
		f->serf = nc_gossip_new(sim_node_env(sn), &cfg, &hooks, err,
					sizeof(err));
		CHECK(f->serf != NULL, "serf stand-in");
		nc_gossip_start(f->serf);
		nc_gossip_join(f->serf, sim_node_addr(sim_node_get(f->w, 0)),
			       1, NULL, NULL);
	}
	/* Until agent 0 holds a coordinate of every other member (~4 s),
	 * at most 20 s: a fifth of the inputs rebuild a fleet. */
	int n_nodes = sim_node_count(f->w);
	struct nc_agent_coords *ac = nc_agent_coords(f->agent[0]);
	for (double t = 2.0; t <= 20.0; t += 0.5) {
		sim_run_until(f->w, t);
		int have = 0;
		for (int i = 1; i < n_nodes; i++) {
			struct nc_agent_coord_info ci;
			const char *nm = sim_node_name(sim_node_get(f->w, i));
			if (nc_agent_coords_get(ac, t, nm, &ci) == 0 &&
			    ci.has_coord)
				have++;
		}
		if (have == n_nodes - 1)
			break;
	}
	fleet_build_vs += sim_now(f->w);
}

static struct nc_api *
api_get(struct fleet *f, uint8_t hdr)
{
	unsigned i = (hdr & 1) | (hdr & 2) | ((hdr & 8) >> 1);
	if (f->api[i] == NULL) {
		struct nc_api_config cfg;
		char err[128];
		nc_api_config_default(&cfg);
		if (hdr & 1)
			snprintf(cfg.token, sizeof(cfg.token), "%s", TOKEN);
		if (hdr & 2)
			cfg.max_stale_s = 0;
		cfg.allow_unauthenticated_writes = (hdr & 8) != 0;
		f->api[i] = nc_api_new(NULL, f->agent[0], &cfg, err,
				       sizeof(err));
		CHECK(f->api[i] != NULL, "api");
		nc_api_set_clock(f->api[i], clock_cb, f->w);
	}
	return f->api[i];
}

struct rd {
	const uint8_t *p, *end;
};

static uint8_t
u8(struct rd *r)
{
	return r->p < r->end ? *r->p++ : 0;
}

/** A NUL-terminated string from the input into @a out (cut at cap). */
static const char *
cstr(struct rd *r, char *out, size_t cap)
{
	size_t n = 0;
	while (r->p < r->end) {
		char c = (char)*r->p++;
		if (c == '\0')
			break;
		if (n + 1 < cap)
			out[n++] = c;
	}
	out[n] = '\0';
	return out;
}

static bool
is_public(const char *path)
{
	size_t n = strcspn(path, "?");
	return (n == 10 && strncmp(path, "/v1/health", 10) == 0) ||
	       (n == 1 && path[0] == '/') ||
	       (n >= 3 && strncmp(path, "/ui", 3) == 0);
}

static bool
mutates(const char *method, const char *path)
{
	return strcmp(method, "PUT") == 0 &&
	       strncmp(path, "/v1/agent/", 10) == 0;
}

static bool
contains(const char *body, size_t len, const char *needle)
{
	size_t n = strlen(needle);
	for (size_t i = 0; i + n <= len; i++)
		if (memcmp(body + i, needle, n) == 0)
			return true;
	return false;
}

/** The input itself carries the key (an error may then echo it). */
static bool input_has_key;

static void
check_response(uint8_t hdr, const char *path, bool right_token, int status,
	       const char *ctype, const char *body, size_t len)
{
	CHECK(status >= 100 && status <= 599, "status out of range");
	CHECK(len == 0 || body != NULL, "body length without a body");
	if (ctype != NULL && strstr(ctype, "json") != NULL && len > 0) {
		cJSON *doc = cJSON_ParseWithLength(body, len);
		CHECK(doc != NULL, "JSON content type, body is not JSON");
		cJSON_Delete(doc);
	}
	if ((hdr & 1) && !is_public(path)) {
		if (!right_token)
			CHECK(status < 200 || status >= 300,
			      "2xx without the token");
		else
			CHECK(status != 401 && status != 403,
			      "401/403 with the right token");
	}
	if ((hdr & 1) && !right_token && body != NULL && !input_has_key)
		CHECK(!contains(body, len, FF_KEY_B64),
		      "key material without the token");
}

static int run_input(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ff_unit_start();
	run_input(data, size);
	ff_unit_done("fuzz_http", data, size);
	return 0;
}

static int
run_input(const uint8_t *data, size_t size)
{
	static const char *const methods[] = {"GET",    "HEAD",    "PUT",
					      "POST",   "DELETE",  "OPTIONS",
					      "get"};
	static char method[32], url[4096], auth[512], inm[256], etag[192];
	struct rd r = {data, data + size};
	uint8_t hdr = u8(&r);
	inputs_run++;
	input_has_key = contains((const char *)data, size, FF_KEY_B64);
	struct fleet *f = &fleets[(hdr & 4) ? 1 : 0];
	if (f->w != NULL && f->dirty)
		fleet_delete(f);
	if (f->w == NULL) {
		if (fleet_builds++ == 0)
			atexit(print_builds);
		fleet_build(f, (hdr & 4) != 0);
		etag[0] = '\0';
		ff_unit_start();
	}
	struct nc_api *api = api_get(f, hdr);
	double t_end = sim_now(f->w) + ADVANCE_MAX_S;

	while (r.p < r.end) {
		uint8_t fl = u8(&r);
		struct nc_api_request req = {0};
		req.method = (fl & 7) == 7 ? cstr(&r, method, sizeof(method))
					   : methods[fl & 7];
		req.path = cstr(&r, url, sizeof(url));
		req.suffix = "";
		bool right = false;
		switch ((fl >> 3) & 3) {
		case 1:
			req.authorization = "Bearer " TOKEN;
			right = true;
			break;
		case 2:
			req.authorization = cstr(&r, auth, sizeof(auth));
			break;
		case 3:
			memcpy(auth, "Bearer ", 7);
			cstr(&r, auth + 7, sizeof(auth) - 7);
			req.authorization = auth;
			break;
		default:
			break;
		}
		if (req.authorization != NULL && !right) {
			/* a custom header may still be the right one */
			const char *h = req.authorization;
			if (strncasecmp(h, "Bearer ", 7) == 0) {
				h += 7;
				while (*h == ' ')
					h++;
				right = strcmp(h, TOKEN) == 0;
			}
		}
		if (fl & 0x20) {
			cstr(&r, inm, sizeof(inm));
			req.if_none_match = inm[0] != '\0' ? inm : etag;
		}
		char *body = NULL;
		if (fl & 0x40) {
			size_t len = u8(&r);
			len |= (size_t)u8(&r) << 8;
			size_t left = (size_t)(r.end - r.p);
			len = len < left ? len : left;
			body = malloc(len + 1);
			CHECK(body != NULL, "malloc");
			memcpy(body, r.p, len);
			body[len] = '\0';
			r.p += len;
			req.body = body;
			req.body_len = len;
		}
		if (fl & 0x80) {
			double t = sim_now(f->w) + u8(&r) * 0.002;
			sim_run_until(f->w, t < t_end ? t : t_end);
		}
		if (strcmp(req.method, "PUT") == 0) {
			/* dispatch: the path that starts a requested leave */
			char *out = NULL;
			int st = nc_api_dispatch(api, &req, &out, NULL, 0);
			if (mutates(req.method, req.path) && st >= 200 &&
			    st < 300)
				f->dirty = true;
			CHECK(out != NULL, "dispatch without a body");
			check_response(hdr, url, right, st, "json", out,
				       strlen(out));
			free(out);
		} else {
			struct nc_api_response resp;
			int st = nc_api_handle(api, &req, &resp);
			check_response(hdr, url, right, st,
				       resp.content_type, resp.body,
				       resp.body_len);
			for (size_t i = 0; i < resp.n_hdr; i++)
				if (strcasecmp(resp.hdr_name[i], "ETag") == 0)
					snprintf(etag, sizeof(etag), "%s",
						 resp.hdr_value[i]);
			nc_api_response_destroy(&resp);
		}
		free(body);
	}
	/* A leave or a join that was asked runs now. */
	if (f->dirty)
		sim_run_until(f->w, sim_now(f->w) + 0.5);
	return 0;
}
