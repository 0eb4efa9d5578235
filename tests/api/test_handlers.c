/*
 * test_handlers.c - every endpoint through nc_api_dispatch (no socket), on
 * node n0 of a simulated fleet:
 *
 *   n0 n1 n2 s0 (dc=a, within 3 ms)   n3 n4 (dc=b, ~40 ms away)
 *   n5 (dc=c, ~100 ms away)
 *
 * s0 is a serf member (no nc tag, serf's fresh coordinate in its acks); the
 * others are netcoord agents. After 90 virtual seconds of probing and
 * coordinate gossip the answers are checked against the coordinates the
 * cache holds (ranking recomputed by brute force), and every error path is
 * exercised: bad n / tag / status / coord / skip-local (400 naming the
 * parameter), unknown nodes (404), wrong method (405 + Allow), missing and
 * wrong token (401 / 403), writes without a token (403), keyring without
 * encryption (409), bad keys (400), the keyring refused without a token
 * and never cached (issue 9 row 3); a serf user event fired on n0 is
 * listed by n3 (issue 11).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <CUnit/CUnit.h>
#include <cjson/cJSON.h>

#include "api/api.h"
#include "coord/coord.h"
#include "gossip/crypto.h"
#include "gossip/gossip.h"
#include "gossip/proto.h"
#include "tests/api/harness.h"

static const struct th_spec fleet_spec[] = {
    {"n0", 0, 0, "dc=a", true},	  {"n1", 2, 0, "dc=a", true},
    {"n2", 0, 3, "dc=a", true},	  {"s0", 1, 1, "dc=a,role=serf", false},
    {"n3", 40, 0, "dc=b", true},  {"n4", 42, 2, "dc=b,role=web", true},
    {"n5", 100, 0, "dc=c", true},
};
#define FLEET_N ((int)(sizeof(fleet_spec) / sizeof(fleet_spec[0])))

static struct th_fleet *F;
static struct nc_api *API;

/** Build the fleet on first use (CUnit asserts need a running test). */
static void
fixture(void)
{
	char err[128];
	if (API != NULL)
		return;
	F = th_fleet_new(42, fleet_spec, FLEET_N);
	sim_run_until(F->w, 90);
	struct nc_api_config cfg;
	nc_api_config_default(&cfg);
	cfg.version = "test";
	API = nc_api_new(NULL, F->node[0].agent, &cfg, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(API);
	nc_api_set_clock(API, th_clock, F);
}

static int
suite_clean(void)
{
	nc_api_delete(API);
	th_fleet_delete(F);
	return 0;
}

/** GET url: status, and the parsed body in *j (caller deletes). */
static int
get(const char *url, cJSON **j)
{
	return th_req(API, "GET", url, NULL, NULL, NULL, j);
}

static void
expect_error(struct nc_api *api, const char *method, const char *url,
	     const char *auth, const char *body, int status, const char *text)
{
	cJSON *j = NULL;
	int st = th_req(api, method, url, auth, body, NULL, &j);
	CU_ASSERT_EQUAL(st, status);
	const cJSON *e = cJSON_GetObjectItemCaseSensitive(j, "error");
	CU_ASSERT_TRUE(cJSON_IsString(e));
	if (cJSON_IsString(e) && text != NULL &&
	    strstr(e->valuestring, text) == NULL) {
		fprintf(stderr, "\n%s %s: error \"%s\" lacks \"%s\"\n", method,
			url, e->valuestring, text);
		CU_FAIL("error text");
	}
	if (st != status)
		fprintf(stderr, "\n%s %s: got %d want %d\n", method, url, st,
			status);
	cJSON_Delete(j);
}

static double
est_ms(const char *from, const char *to)
{
	struct nc_agent_coord_info a, b;
	struct nc_coord ca;
	double now = th_now(F);
	if (nc_agent_coords_get(F->node[0].coords, now, from, &a) != 0 ||
	    !a.has_coord)
		return NAN;
	ca = *a.coord;
	if (nc_agent_coords_get(F->node[0].coords, now, to, &b) != 0 ||
	    !b.has_coord)
		return NAN;
	return nc_coord_estimate_rtt(NC_COORD_ALGO_NC, &ca, b.coord) * 1000;
}

static const char *
jstr(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static double
jnum(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
	return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

/* ------------------------------------------------------------------ */

static void
test_health_members(void)
{
	fixture();
	cJSON *j;
	CU_ASSERT_EQUAL(get("/v1/health", &j), 200);
	CU_ASSERT_STRING_EQUAL(jstr(j, "status"), "ok");
	cJSON_Delete(j);

	CU_ASSERT_EQUAL(get("/v1/members", &j), 200);
	CU_ASSERT_EQUAL(cJSON_GetArraySize(j), FLEET_N);
	const cJSON *m = cJSON_GetArrayItem(j, 0);
	CU_ASSERT_PTR_NOT_NULL(jstr(m, "Name"));
	CU_ASSERT_PTR_NOT_NULL(jstr(m, "Addr"));
	CU_ASSERT(jnum(m, "Port") > 0);
	CU_ASSERT(cJSON_IsObject(cJSON_GetObjectItem(m, "Tags")));
	CU_ASSERT_STRING_EQUAL(jstr(m, "Status"), "alive");
	CU_ASSERT(!isnan(jnum(m, "Incarnation")));
	cJSON_Delete(j);

	/* tag filter (repeatable, ANDed), status filter. */
	CU_ASSERT_EQUAL(get("/v1/members?tag=dc:a", &j), 200);
	CU_ASSERT_EQUAL(cJSON_GetArraySize(j), 4);
	cJSON_Delete(j);
	CU_ASSERT_EQUAL(get("/v1/members?tag=dc:b&tag=role:web", &j), 200);
	CU_ASSERT_EQUAL(cJSON_GetArraySize(j), 1);
	CU_ASSERT_STRING_EQUAL(jstr(cJSON_GetArrayItem(j, 0), "Name"), "n4");
	cJSON_Delete(j);
	CU_ASSERT_EQUAL(get("/v1/members?tag=nc:1", &j), 200);
	CU_ASSERT_EQUAL(cJSON_GetArraySize(j), FLEET_N - 1);
	cJSON_Delete(j);
	CU_ASSERT_EQUAL(get("/v1/members?status=failed,left", &j), 200);
	CU_ASSERT_EQUAL(cJSON_GetArraySize(j), 0);
	cJSON_Delete(j);
	CU_ASSERT_EQUAL(get("/v1/members?status=alive&status=suspect", &j),
			200);
	CU_ASSERT_EQUAL(cJSON_GetArraySize(j), FLEET_N);
	cJSON_Delete(j);

	/* near=: sorted by estimate from n3: n4 first (n3 left in, Consul
	 * style, at distance ~0). */
	CU_ASSERT_EQUAL(get("/v1/members?near=n3&tag=nc:1", &j), 200);
	CU_ASSERT_EQUAL(cJSON_GetArraySize(j), FLEET_N - 1);
	double prev = -1;
	const cJSON *it;
	cJSON_ArrayForEach(it, j)
	{
		double e = est_ms("n3", jstr(it, "Name"));
		CU_ASSERT(e >= prev - 1e-9);
		prev = e;
	}
	CU_ASSERT_STRING_EQUAL(jstr(cJSON_GetArrayItem(j, 0), "Name"), "n3");
	CU_ASSERT_STRING_EQUAL(jstr(cJSON_GetArrayItem(j, 1), "Name"), "n4");
	cJSON_Delete(j);

	expect_error(API, "GET", "/v1/members?tag=dc", NULL, NULL, 400,
		     "\"tag\"");
	expect_error(API, "GET", "/v1/members?tag=:x", NULL, NULL, 400,
		     "\"tag\"");
	expect_error(API, "GET", "/v1/members?status=zombie", NULL, NULL, 400,
		     "\"status\"");
	expect_error(API, "GET", "/v1/members?near=nobody", NULL, NULL, 404,
		     "nobody");
}

static void
test_routing_errors(void)
{
	fixture();
	struct nc_api_request req = {
	    .method = "DELETE",
	    .path = "/v1/members",
	    .suffix = "",
	};
	char *body = NULL, allow[64] = "";
	CU_ASSERT_EQUAL(nc_api_dispatch(API, &req, &body, allow, sizeof(allow)),
			405);
	CU_ASSERT_STRING_EQUAL(allow, "GET");
	CU_ASSERT_PTR_NOT_NULL(strstr(body, "\"error\""));
	free(body);
	expect_error(API, "POST", "/v1/nearest", NULL, NULL, 405, "POST");
	expect_error(API, "GET", "/v1/agent/join", NULL, NULL, 405, NULL);
	expect_error(API, "GET", "/v1/nope", NULL, NULL, 404, "/v1/nope");
	expect_error(API, "GET", "/v1/agent/keyring/install", NULL, NULL, 405,
		     NULL);
}

static void
test_self_and_coordinates(void)
{
	fixture();
	cJSON *j;
	CU_ASSERT_EQUAL(get("/v1/agent/self", &j), 200);
	CU_ASSERT_STRING_EQUAL(jstr(j, "Name"), "n0");
	CU_ASSERT_STRING_EQUAL(jstr(j, "Status"), "alive");
	CU_ASSERT_STRING_EQUAL(jstr(j, "Version"), "test");
	CU_ASSERT_STRING_EQUAL(jstr(cJSON_GetObjectItem(j, "Tags"), "dc"), "a");
	const cJSON *c = cJSON_GetObjectItem(j, "Coord");
	CU_ASSERT_EQUAL(cJSON_GetArraySize(cJSON_GetObjectItem(c, "Vec")), 8);
	CU_ASSERT(jnum(c, "Error") > 0 && jnum(c, "Error") < 1.5);
	CU_ASSERT(!isnan(jnum(c, "Height")));
	CU_ASSERT(!isnan(jnum(c, "Adjustment")));
	CU_ASSERT(jnum(j, "HealthScore") == 0);
	cJSON_Delete(j);

	/* Every member has a coordinate on n0 (own probes + gossip). */
	CU_ASSERT_EQUAL(get("/v1/coordinate/nodes", &j), 200);
	CU_ASSERT_EQUAL(cJSON_GetArraySize(j), FLEET_N);
	const cJSON *it;
	cJSON_ArrayForEach(it, j)
	{
		CU_ASSERT_PTR_NOT_NULL(jstr(it, "Node"));
		CU_ASSERT_STRING_EQUAL(jstr(it, "Segment"), "");
		const cJSON *cc = cJSON_GetObjectItem(it, "Coord");
		CU_ASSERT_EQUAL(
		    cJSON_GetArraySize(cJSON_GetObjectItem(cc, "Vec")), 8);
		CU_ASSERT(jnum(it, "AgeS") >= 0 && jnum(it, "AgeS") < 90);
		const char *src = jstr(it, "Source");
		CU_ASSERT(src != NULL && (strcmp(src, "self") == 0 ||
					  strcmp(src, "probe") == 0 ||
					  strcmp(src, "gossip") == 0));
		if (src != NULL && strcmp(src, "gossip") == 0)
			CU_ASSERT_PTR_NOT_NULL(jstr(it, "Via"));
	}
	cJSON_Delete(j);
	CU_ASSERT_EQUAL(get("/v1/coordinate/node/n4", &j), 200);
	CU_ASSERT_EQUAL(cJSON_GetArraySize(j), 1);
	CU_ASSERT_STRING_EQUAL(jstr(cJSON_GetArrayItem(j, 0), "Node"), "n4");
	cJSON_Delete(j);
	expect_error(API, "GET", "/v1/coordinate/node/ghost", NULL, NULL, 404,
		     "ghost");
	expect_error(API, "GET", "/v1/coordinate/node/", NULL, NULL, 400, NULL);
}

static void
test_rtt(void)
{
	fixture();
	cJSON *j;
	CU_ASSERT_EQUAL(get("/v1/rtt?to=n3", &j), 200);
	CU_ASSERT_STRING_EQUAL(jstr(j, "From"), "n0");
	CU_ASSERT_STRING_EQUAL(jstr(j, "To"), "n3");
	CU_ASSERT_DOUBLE_EQUAL(jnum(j, "EstimatedMs"), est_ms("n0", "n3"),
			       1e-9);
	/* n0 probed n3: measured RTT ~ 40 ms, recent. */
	CU_ASSERT_DOUBLE_EQUAL(jnum(j, "MeasuredMs"), 40.2, 2.0);
	CU_ASSERT(jnum(j, "MeasuredAgeS") >= 0 && jnum(j, "MeasuredAgeS") < 30);
	/* The estimate is in the right range after 90 s. */
	CU_ASSERT(jnum(j, "EstimatedMs") > 20 && jnum(j, "EstimatedMs") < 60);
	cJSON_Delete(j);
	/* Between two other nodes: estimate only. */
	CU_ASSERT_EQUAL(get("/v1/rtt?from=n3&to=n5", &j), 200);
	CU_ASSERT_DOUBLE_EQUAL(jnum(j, "EstimatedMs"), est_ms("n3", "n5"),
			       1e-9);
	CU_ASSERT(cJSON_IsNull(cJSON_GetObjectItem(j, "MeasuredMs")));
	cJSON_Delete(j);
	expect_error(API, "GET", "/v1/rtt", NULL, NULL, 400, "\"to\"");
	expect_error(API, "GET", "/v1/rtt?to=", NULL, NULL, 400, "\"to\"");
	expect_error(API, "GET", "/v1/rtt?to=zz", NULL, NULL, 404, "zz");
	expect_error(API, "GET", "/v1/rtt?from=zz&to=n1", NULL, NULL, 404,
		     "zz");
	expect_error(API, "GET", "/v1/rtt?from=&to=n1", NULL, NULL, 400,
		     "\"from\"");
}

/**
 * What the API serves from `from` to `to`, ms: from this agent (n0) the
 * combine rule over its own measurement (coord/verify.c), else the
 * estimate.
 */
static double
served_ms(const char *from, const char *to)
{
	struct nc_agent_coord_info b;
	struct nc_coord_combine r;
	double e = est_ms(from, to);
	if (strcmp(from, "n0") != 0 ||
	    nc_agent_coords_get(F->node[0].coords, th_now(F), to, &b) != 0)
		return e;
	nc_coord_combine_default(&r);
	return nc_coord_combine_rtt(&r, e / 1000, b.measured_rtt_s,
				    b.measured_age_s, NULL) *
	       1000;
}

/**
 * Brute-force ranking from `from` over alive members (not from): by
 * EstimatedMs, or from this agent by RttMs (what it serves).
 */
static void
check_nearest(const cJSON *nodes, const char *from)
{
	double prev = -1;
	int k = 0;
	const cJSON *it;
	cJSON_ArrayForEach(it, nodes)
	{
		const char *name = jstr(it, "Name");
		CU_ASSERT_STRING_NOT_EQUAL(name, from);
		double e = jnum(it, "EstimatedMs");
		CU_ASSERT_DOUBLE_EQUAL(e, est_ms(from, name), 1e-9);
		double r = cJSON_HasObjectItem(it, "RttMs") ? jnum(it, "RttMs")
							    : e;
		CU_ASSERT_DOUBLE_EQUAL(r, served_ms(from, name), 1e-6);
		CU_ASSERT(r >= prev);
		prev = r;
		k++;
	}
	/* Nobody left out was nearer than the last one listed. */
	size_t n = nc_gossip_member_count(F->node[0].g);
	int nearer = 0;
	for (size_t i = 0; i < n; i++) {
		const struct nc_gossip_member *m =
		    nc_gossip_member_at(F->node[0].g, i);
		if (strcmp(m->name, from) != 0 && m->state == NC_MEMBER_ALIVE &&
		    served_ms(from, m->name) <= prev)
			nearer++;
	}
	CU_ASSERT_EQUAL(nearer, k);
}

static void
test_nearest(void)
{
	fixture();
	cJSON *j;
	CU_ASSERT_EQUAL(get("/v1/nearest", &j), 200);
	CU_ASSERT_STRING_EQUAL(jstr(j, "From"), "n0");
	const cJSON *nodes = cJSON_GetObjectItem(j, "Nodes");
	CU_ASSERT_EQUAL(cJSON_GetArraySize(nodes), 5);
	check_nearest(nodes, "n0");
	const cJSON *first = cJSON_GetArrayItem(nodes, 0);
	CU_ASSERT_PTR_NOT_NULL(jstr(first, "Addr"));
	CU_ASSERT(jnum(first, "Port") > 0);
	CU_ASSERT(cJSON_IsObject(cJSON_GetObjectItem(first, "Tags")));
	CU_ASSERT_STRING_EQUAL(jstr(first, "Status"), "alive");
	cJSON_Delete(j);

	/* From n5 (dc c): n3, n4 (dc b) before dc a. */
	CU_ASSERT_EQUAL(get("/v1/nearest?from=n5&n=2&tag=nc:1", &j), 200);
	nodes = cJSON_GetObjectItem(j, "Nodes");
	CU_ASSERT_EQUAL(cJSON_GetArraySize(nodes), 2);
	const char *a = jstr(cJSON_GetArrayItem(nodes, 0), "Name");
	const char *b = jstr(cJSON_GetArrayItem(nodes, 1), "Name");
	CU_ASSERT((strcmp(a, "n3") == 0 && strcmp(b, "n4") == 0) ||
		  (strcmp(a, "n4") == 0 && strcmp(b, "n3") == 0));
	cJSON_Delete(j);

	/* tag filter + n larger than the set. */
	CU_ASSERT_EQUAL(get("/v1/nearest?from=n1&n=100&tag=dc:a", &j), 200);
	nodes = cJSON_GetObjectItem(j, "Nodes");
	CU_ASSERT_EQUAL(cJSON_GetArraySize(nodes), 3); /* n0 n2 s0 */
	cJSON_Delete(j);

	/* A raw coordinate: n4's own coordinate ranks n4 first. */
	struct nc_agent_coord_info ci;
	CU_ASSERT_EQUAL(
	    nc_agent_coords_get(F->node[0].coords, th_now(F), "n4", &ci), 0);
	cJSON *cj = cJSON_CreateObject();
	cJSON *v = cJSON_AddArrayToObject(cj, "Vec");
	for (int i = 0; i < 8; i++)
		cJSON_AddItemToArray(v, cJSON_CreateNumber(ci.coord->vec[i]));
	cJSON_AddNumberToObject(cj, "Error", ci.coord->error);
	cJSON_AddNumberToObject(cj, "Adjustment", ci.coord->adjustment);
	cJSON_AddNumberToObject(cj, "Height", ci.coord->height);
	char *txt = cJSON_PrintUnformatted(cj);
	cJSON_Delete(cj);
	char url[2048] = "/v1/nearest?n=1&coord=";
	size_t o = strlen(url);
	for (const char *p = txt; *p != '\0' && o + 4 < sizeof(url); p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '.' || *p == '-')
			url[o++] = *p;
		else
			o += (size_t)snprintf(url + o, sizeof(url) - o,
					      "%%%02X", (unsigned char)*p);
	}
	url[o] = '\0';
	free(txt);
	CU_ASSERT_EQUAL(get(url, &j), 200);
	nodes = cJSON_GetObjectItem(j, "Nodes");
	CU_ASSERT_STRING_EQUAL(jstr(cJSON_GetArrayItem(nodes, 0), "Name"),
			       "n4");
	CU_ASSERT(cJSON_IsNull(cJSON_GetObjectItem(j, "From")));
	cJSON_Delete(j);

	expect_error(API, "GET", "/v1/nearest?n=0", NULL, NULL, 400, "\"n\"");
	expect_error(API, "GET", "/v1/nearest?n=-3", NULL, NULL, 400, "\"n\"");
	expect_error(API, "GET", "/v1/nearest?n=abc", NULL, NULL, 400, "\"n\"");
	expect_error(API, "GET", "/v1/nearest?n=5x", NULL, NULL, 400, "\"n\"");
	expect_error(API, "GET", "/v1/nearest?n=99999999999", NULL, NULL, 400,
		     "\"n\"");
	expect_error(API, "GET", "/v1/nearest?from=ghost", NULL, NULL, 404,
		     "ghost");
	expect_error(API, "GET", "/v1/nearest?tag=novalue", NULL, NULL, 400,
		     "\"tag\"");
	expect_error(API, "GET", "/v1/nearest?status=sleepy", NULL, NULL, 400,
		     "\"status\"");
	expect_error(API, "GET", "/v1/nearest?coord=%7B%7D", NULL, NULL, 400,
		     "\"coord\"");
	expect_error(API, "GET", "/v1/nearest?coord=notjson", NULL, NULL, 400,
		     "\"coord\"");
	expect_error(API, "GET",
		     "/v1/nearest?from=n1&coord=%7B%22Vec%22%3A%5B%5D%7D", NULL,
		     NULL, 400, "\"coord\"");
	/* verify=K: 1..32, from this agent only. */
	expect_error(API, "GET", "/v1/nearest?verify=0", NULL, NULL, 400,
		     "\"verify\"");
	expect_error(API, "GET", "/v1/nearest?verify=33", NULL, NULL, 400,
		     "\"verify\"");
	expect_error(API, "GET", "/v1/nearest?verify=abc", NULL, NULL, 400,
		     "\"verify\"");
	expect_error(API, "GET", "/v1/nearest?verify=", NULL, NULL, 400,
		     "\"verify\"");
	expect_error(API, "GET", "/v1/nearest?verify=4&from=n3", NULL, NULL,
		     400, "\"verify\"");
	expect_error(API, "GET",
		     "/v1/nearest?verify=4&coord=%7B%22Vec%22%3A%5B%5D%7D", NULL,
		     NULL, 400, "\"verify\"");
	/* Valid, but without a socket it cannot suspend: 503, not a hang. */
	expect_error(API, "GET", "/v1/nearest?verify=4&from=n0", NULL, NULL,
		     503, "\"verify\"");
}

static void
test_failover(void)
{
	fixture();
	cJSON *j;
	CU_ASSERT_EQUAL(get("/v1/failover?group=dc", &j), 200);
	CU_ASSERT_STRING_EQUAL(jstr(j, "From"), "n0");
	CU_ASSERT_STRING_EQUAL(jstr(j, "Group"), "dc");
	const cJSON *g = cJSON_GetObjectItem(j, "Groups");
	CU_ASSERT_EQUAL(cJSON_GetArraySize(g), 3);
	CU_ASSERT_STRING_EQUAL(jstr(cJSON_GetArrayItem(g, 0), "Value"), "a");
	CU_ASSERT_STRING_EQUAL(jstr(cJSON_GetArrayItem(g, 1), "Value"), "b");
	CU_ASSERT_STRING_EQUAL(jstr(cJSON_GetArrayItem(g, 2), "Value"), "c");
	double prev = -1;
	const cJSON *it;
	cJSON_ArrayForEach(it, g)
	{
		double med = jnum(it, "MedianMs");
		CU_ASSERT(med >= prev);
		prev = med;
		const cJSON *ms = cJSON_GetObjectItem(it, "Members");
		double p2 = -1;
		const cJSON *m;
		cJSON_ArrayForEach(m, ms)
		{
			CU_ASSERT_STRING_NOT_EQUAL(jstr(m, "Name"), "n0");
			CU_ASSERT_STRING_EQUAL(jstr(m, "Status"), "alive");
			double e = jnum(m, "EstimatedMs");
			CU_ASSERT_DOUBLE_EQUAL(e, est_ms("n0", jstr(m, "Name")),
					       1e-9);
			CU_ASSERT(e >= p2);
			p2 = e;
		}
	}
	/* dc b's median of two members is their mean. */
	const cJSON *gb = cJSON_GetArrayItem(g, 1);
	CU_ASSERT_DOUBLE_EQUAL(jnum(gb, "MedianMs"),
			       (est_ms("n0", "n3") + est_ms("n0", "n4")) / 2,
			       1e-9);
	cJSON_Delete(j);

	CU_ASSERT_EQUAL(get("/v1/failover?group=dc&skip-local=1", &j), 200);
	g = cJSON_GetObjectItem(j, "Groups");
	CU_ASSERT_EQUAL(cJSON_GetArraySize(g), 2);
	CU_ASSERT_STRING_EQUAL(jstr(cJSON_GetArrayItem(g, 0), "Value"), "b");
	cJSON_Delete(j);
	CU_ASSERT_EQUAL(
	    get("/v1/failover?from=n5&group=dc&skip-local=true", &j), 200);
	g = cJSON_GetObjectItem(j, "Groups");
	CU_ASSERT_EQUAL(cJSON_GetArraySize(g), 2);
	CU_ASSERT_STRING_EQUAL(jstr(cJSON_GetArrayItem(g, 0), "Value"), "b");
	cJSON_Delete(j);

	expect_error(API, "GET", "/v1/failover", NULL, NULL, 400, "\"group\"");
	expect_error(API, "GET", "/v1/failover?group=dc&skip-local=maybe", NULL,
		     NULL, 400, "\"skip-local\"");
	expect_error(API, "GET", "/v1/failover?group=dc&from=ghost", NULL, NULL,
		     404, "ghost");
}

static void
test_auth(void)
{
	fixture();
	char err[128];
	struct nc_api_config cfg;
	nc_api_config_default(&cfg);
	snprintf(cfg.token, sizeof(cfg.token), "s3cret");
	struct nc_api *a =
	    nc_api_new(NULL, F->node[0].agent, &cfg, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	nc_api_set_clock(a, th_clock, F);
	expect_error(a, "GET", "/v1/members", NULL, NULL, 401, "token");
	expect_error(a, "GET", "/v1/members", "Basic Zm9vOmJhcg==", NULL, 401,
		     "Bearer");
	expect_error(a, "GET", "/v1/members", "Bearer nope", NULL, 403,
		     "invalid token");
	expect_error(a, "GET", "/v1/members", "Bearer s3cre", NULL, 403, NULL);
	expect_error(a, "GET", "/v1/members", "Bearer s3cret2", NULL, 403,
		     NULL);
	expect_error(a, "GET", "/metrics", NULL, NULL, 401, NULL);
	expect_error(a, "PUT", "/v1/agent/leave", NULL, NULL, 401, NULL);
	CU_ASSERT_EQUAL(th_req(a, "GET", "/v1/members", NULL, NULL, NULL, NULL),
			401);
	CU_ASSERT_EQUAL(
	    th_req(a, "GET", "/v1/members", "Bearer s3cret", NULL, NULL, NULL),
	    200);
	CU_ASSERT_EQUAL(
	    th_req(a, "GET", "/v1/members", "bearer  s3cret", NULL, NULL, NULL),
	    200);
	/* Public: health and the UI. */
	CU_ASSERT_EQUAL(th_req(a, "GET", "/v1/health", NULL, NULL, NULL, NULL),
			200);
	CU_ASSERT_EQUAL(th_req(a, "GET", "/ui/", NULL, NULL, NULL, NULL), 200);
	CU_ASSERT_EQUAL(th_req(a, "GET", "/", NULL, NULL, NULL, NULL), 302);
	/* With the token, writes are allowed: join validates its input. */
	expect_error(a, "PUT", "/v1/agent/join", "Bearer s3cret", NULL, 400,
		     "\"address\"");
	expect_error(a, "PUT", "/v1/agent/join?address=not-an-ip",
		     "Bearer s3cret", NULL, 400, "\"address\"");
	/* A router without an agent cannot leave: 501. */
	struct nc_api *bare = nc_api_new(NULL, NULL, &cfg, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(bare);
	expect_error(bare, "PUT", "/v1/agent/leave", "Bearer s3cret", NULL, 501,
		     NULL);
	nc_api_delete(bare);
	CU_ASSERT_FALSE(nc_agent_leaving(F->node[0].agent));
	const struct nc_api_stats *st = nc_api_stats(a);
	CU_ASSERT(st->auth_missing >= 4);
	CU_ASSERT(st->auth_wrong >= 3);
	CU_ASSERT(st->by_status[401 - 100] >= 4);
	nc_api_delete(a);

	/* No token: reads open, writes refused unless allowed. */
	expect_error(API, "PUT", "/v1/agent/join?address=127.0.0.1", NULL, NULL,
		     403, "-http-token");
	expect_error(API, "PUT", "/v1/agent/leave", NULL, NULL, 403, NULL);
	expect_error(API, "PUT", "/v1/agent/keyring/install", NULL,
		     "{\"Key\":\"x\"}", 403, NULL);
}

/* Issue 11: PUT /v1/event/fire/NAME on n0 reaches n3's /v1/event/list. */
static void
test_user_events(void)
{
	fixture();
	char err[128];
	struct nc_api_config cfg;
	nc_api_config_default(&cfg);
	cfg.allow_unauthenticated_writes = true;
	struct nc_api *a =
	    nc_api_new(NULL, F->node[0].agent, &cfg, err, sizeof(err));
	/* node[4] is n3 (node[3] is the serf member s0). */
	struct nc_api *b =
	    nc_api_new(NULL, F->node[4].agent, &cfg, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	CU_ASSERT_PTR_NOT_NULL_FATAL(b);
	cJSON *j = NULL;
	CU_ASSERT_EQUAL(th_req(a, "PUT", "/v1/event/fire/deploy", NULL, "p1",
			       NULL, &j),
			200);
	CU_ASSERT_STRING_EQUAL(jstr(j, "Name"), "deploy");
	CU_ASSERT_STRING_EQUAL(jstr(j, "Payload"), "cDE=");
	cJSON_Delete(j);
	expect_error(a, "PUT", "/v1/event/fire/", NULL, "x", 400, "name");
	static char big[600];
	memset(big, 'x', sizeof(big) - 1);
	expect_error(a, "PUT", "/v1/event/fire/deploy", NULL, big, 400,
		     "exceeds configured limit of 512 bytes");
	expect_error(a, "GET", "/v1/event/fire/deploy", NULL, NULL, 405, NULL);
	sim_run_until(F->w, th_now(F) + 5);
	CU_ASSERT_EQUAL(th_req(b, "GET", "/v1/event/list?name=deploy", NULL,
			       NULL, NULL, &j),
			200);
	CU_ASSERT_EQUAL_FATAL(cJSON_GetArraySize(j), 1);
	cJSON *e = cJSON_GetArrayItem(j, 0);
	CU_ASSERT_STRING_EQUAL(jstr(e, "Payload"), "cDE=");
	CU_ASSERT_TRUE(cJSON_IsFalse(cJSON_GetObjectItem(e, "Own")));
	cJSON_Delete(j);
	CU_ASSERT_EQUAL(th_req(b, "GET", "/v1/event/list?name=other", NULL,
			       NULL, NULL, &j),
			200);
	CU_ASSERT_EQUAL(cJSON_GetArraySize(j), 0);
	cJSON_Delete(j);
	nc_api_delete(a);
	nc_api_delete(b);
}

static void
test_writes_and_keyring(void)
{
	fixture();
	char err[128], k1[64], k2[64];
	struct nc_api_config cfg;
	nc_api_config_default(&cfg);
	cfg.allow_unauthenticated_writes = true;
	struct nc_api *a =
	    nc_api_new(NULL, F->node[0].agent, &cfg, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	/* Without encryption there is no keyring: 409. */
	expect_error(a, "GET", "/v1/agent/keyring", NULL, NULL, 409,
		     "encryption");
	expect_error(a, "PUT", "/v1/agent/keyring/install", NULL,
		     "{\"Key\":\"x\"}", 409, "encryption");
	/* join without a socket starts the join and says so. */
	cJSON *j;
	CU_ASSERT_EQUAL(th_req(a, "PUT", "/v1/agent/join?address=10.0.0.2",
			       NULL, NULL, NULL, &j),
			200);
	CU_ASSERT_TRUE(cJSON_IsTrue(cJSON_GetObjectItem(j, "Pending")));
	cJSON_Delete(j);
	nc_api_delete(a);

	/* With a keyring: an agent of its own, started with a key (the
	 * leave at the end must not touch the shared fleet). ?local=1: this
	 * agent's keyring only (without it the request goes to the whole
	 * cluster and waits on the socket: tests/interop/serf_keys_mixed). */
	CU_ASSERT_EQUAL(nc_crypto_keygen_base64(k1, sizeof(k1)), 0);
	CU_ASSERT_EQUAL(nc_crypto_keygen_base64(k2, sizeof(k2)), 0);
	struct th_spec ks[] = {{"keyed", 0, 0, NULL, true}};
	struct th_fleet *kf = th_fleet_new_keyed(99, ks, 1, k1);
	a = nc_api_new(NULL, kf->node[0].agent, &cfg, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	CU_ASSERT_EQUAL(
	    th_req(a, "GET", "/v1/agent/keyring?local=1", NULL, NULL, NULL, &j), 200);
	CU_ASSERT_EQUAL(cJSON_GetArraySize(cJSON_GetObjectItem(j, "Keys")), 1);
	CU_ASSERT_STRING_EQUAL(jstr(j, "Primary"), k1);
	cJSON_Delete(j);
	char body[128];
	snprintf(body, sizeof(body), "{\"Key\":\"%s\"}", k2);
	expect_error(a, "PUT", "/v1/agent/keyring/use?local=1", NULL, body, 404,
		     "not installed");
	CU_ASSERT_EQUAL(th_req(a, "PUT", "/v1/agent/keyring/install?local=1", NULL,
			       body, NULL, NULL),
			200);
	CU_ASSERT_EQUAL(
	    th_req(a, "PUT", "/v1/agent/keyring/use?local=1", NULL, body, NULL, NULL),
	    200);
	snprintf(body, sizeof(body), "{\"Key\":\"%s\"}", k2);
	expect_error(a, "PUT", "/v1/agent/keyring/remove?local=1", NULL, body, 409,
		     "primary");
	snprintf(body, sizeof(body), "{\"Key\":\"%s\"}", k1);
	CU_ASSERT_EQUAL(th_req(a, "PUT", "/v1/agent/keyring/remove?local=1", NULL, body,
			       NULL, NULL),
			200);
	CU_ASSERT_EQUAL(
	    th_req(a, "GET", "/v1/agent/keyring?local=1", NULL, NULL, NULL, &j), 200);
	CU_ASSERT_EQUAL(cJSON_GetArraySize(cJSON_GetObjectItem(j, "Keys")), 1);
	CU_ASSERT_STRING_EQUAL(jstr(j, "Primary"), k2);
	cJSON_Delete(j);
	expect_error(a, "PUT", "/v1/agent/keyring/install?local=1", NULL, NULL, 400,
		     "body");
	expect_error(a, "PUT", "/v1/agent/keyring/install?local=1", NULL, "[1]", 400,
		     "object");
	expect_error(a, "PUT", "/v1/agent/keyring/install?local=1", NULL, "{nope", 400,
		     NULL);
	expect_error(a, "PUT", "/v1/agent/keyring/install?local=1", NULL, "{\"Key\":5}",
		     400, "\"Key\"");
	expect_error(a, "PUT", "/v1/agent/keyring/install?local=1", NULL,
		     "{\"Key\":\"!!!\"}", 400, "\"Key\"");
	expect_error(a, "PUT", "/v1/agent/keyring/install?local=1", NULL,
		     "{\"Key\":\"aGVsbG8=\"}", 400, "\"Key\"");
	expect_error(a, "PUT", "/v1/agent/keyring/rotate", NULL, body, 404,
		     "rotate");
	/* Issue 11: without ?local=1 the whole cluster is asked, which
	 * needs a socket to wait on (none here: 503 pointing at local=1);
	 * a bad local= value is a 400 naming it. */
	expect_error(a, "GET", "/v1/agent/keyring", NULL, NULL, 503,
		     "local=1");
	expect_error(a, "PUT", "/v1/agent/keyring/install", NULL, body, 503,
		     "local=1");
	expect_error(a, "GET", "/v1/agent/keyring?local=maybe", NULL, NULL,
		     400, "\"local\"");
	expect_error(a, "GET", "/v1/agent/reachability", NULL, NULL, 503,
		     "wait");
	/* leave: 200, then the agent's graceful leave starts. */
	CU_ASSERT_FALSE(nc_agent_leaving(kf->node[0].agent));
	CU_ASSERT_EQUAL(
	    th_req(a, "PUT", "/v1/agent/leave", NULL, NULL, NULL, NULL), 200);
	CU_ASSERT_TRUE(nc_agent_leaving(kf->node[0].agent));
	nc_api_delete(a);
	th_fleet_delete(kf);
}

/** Value of response header @a name of @a resp, or NULL. */
static const char *
resp_header(const struct nc_api_response *resp, const char *name)
{
	for (size_t i = 0; i < resp->n_hdr; i++)
		if (strcasecmp(resp->hdr_name[i], name) == 0)
			return resp->hdr_value[i];
	return NULL;
}

static void
test_keyring_needs_token(void)
{
	/* Issue 9 row 3: the keyring (key material) is no ordinary read.
	 * Without a token configured it answers 403 unless unauthenticated
	 * writes are allowed; with one it needs it; the answer says
	 * Cache-Control: no-store. */
	char err[128], k1[64];
	CU_ASSERT_EQUAL(nc_crypto_keygen_base64(k1, sizeof(k1)), 0);
	struct th_spec ks[] = {{"keyed", 0, 0, NULL, true}};
	struct th_fleet *kf = th_fleet_new_keyed(98, ks, 1, k1);
	struct nc_api_config cfg;
	nc_api_config_default(&cfg);
	struct nc_api *a =
	    nc_api_new(NULL, kf->node[0].agent, &cfg, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	char *body = NULL;
	CU_ASSERT_EQUAL(th_req(a, "GET", "/v1/agent/keyring", NULL, NULL,
			       &body, NULL),
			403);
	CU_ASSERT_PTR_NULL(strstr(body, k1));
	CU_ASSERT_PTR_NOT_NULL(strstr(body, "-http-token"));
	free(body);
	/* Other reads stay open without a token. */
	CU_ASSERT_EQUAL(th_req(a, "GET", "/v1/members", NULL, NULL, NULL, NULL),
			200);
	nc_api_delete(a);

	snprintf(cfg.token, sizeof(cfg.token), "0123456789abcdef");
	a = nc_api_new(NULL, kf->node[0].agent, &cfg, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	CU_ASSERT_EQUAL(th_req(a, "GET", "/v1/agent/keyring", NULL, NULL, NULL,
			       NULL),
			401);
	struct nc_api_request req = {.method = "GET",
				     .path = "/v1/agent/keyring?local=1",
				     .suffix = "",
				     .authorization =
					 "Bearer 0123456789abcdef"};
	struct nc_api_response resp;
	CU_ASSERT_EQUAL(nc_api_handle(a, &req, &resp), 200);
	CU_ASSERT_PTR_NOT_NULL(strstr(resp.body, k1));
	const char *cc = resp_header(&resp, "Cache-Control");
	CU_ASSERT_TRUE(cc != NULL && strcmp(cc, "no-store") == 0);
	nc_api_response_destroy(&resp);
	/* Ordinary reads are cacheable as before. */
	req.path = "/v1/members";
	CU_ASSERT_EQUAL(nc_api_handle(a, &req, &resp), 200);
	CU_ASSERT_PTR_NULL(resp_header(&resp, "Cache-Control"));
	nc_api_response_destroy(&resp);
	nc_api_delete(a);

	/* Explicitly allowed without a token: served, still no-store. */
	cfg.token[0] = '\0';
	cfg.allow_unauthenticated_writes = true;
	a = nc_api_new(NULL, kf->node[0].agent, &cfg, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	req.path = "/v1/agent/keyring?local=1";
	req.authorization = NULL;
	CU_ASSERT_EQUAL(nc_api_handle(a, &req, &resp), 200);
	cc = resp_header(&resp, "Cache-Control");
	CU_ASSERT_TRUE(cc != NULL && strcmp(cc, "no-store") == 0);
	nc_api_response_destroy(&resp);
	nc_api_delete(a);
	th_fleet_delete(kf);
}

static void
test_metrics_static(void)
{
	fixture();
	char *body = NULL;
	struct nc_api_request req = {
	    .method = "GET", .path = "/metrics", .suffix = ""};
	struct nc_api_response resp;
	CU_ASSERT_EQUAL(nc_api_handle(API, &req, &resp), 200);
	CU_ASSERT_STRING_EQUAL(resp.content_type,
			       "text/plain; version=0.0.4; charset=utf-8");
	body = strndup(resp.body, resp.body_len);
	nc_api_response_destroy(&resp);
	CU_ASSERT_PTR_NOT_NULL(
	    strstr(body, "netcoord_members{state=\"alive\"} 7\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(body, "# TYPE netcoord_probes_total "
					    "counter\nnetcoord_probes_total "));
	CU_ASSERT_PTR_NOT_NULL(strstr(body, "netcoord_coord_error "));
	CU_ASSERT_PTR_NOT_NULL(strstr(body, "netcoord_coord_updates_total "));
	CU_ASSERT_PTR_NOT_NULL(strstr(body, "netcoord_coord_resets_total "));
	CU_ASSERT_PTR_NOT_NULL(
	    strstr(body, "netcoord_packets_dropped_total{reason=\"crc\"}"));
	CU_ASSERT_PTR_NOT_NULL(
	    strstr(body, "netcoord_http_responses_total{code=\"200\"}"));
	CU_ASSERT_PTR_NOT_NULL(
	    strstr(body, "netcoord_http_responses_total{code=\"404\"}"));
	free(body);

	/* Static UI. */
	req.path = "/";
	CU_ASSERT_EQUAL(nc_api_handle(API, &req, &resp), 302);
	CU_ASSERT_EQUAL(resp.n_hdr, 1);
	CU_ASSERT_STRING_EQUAL(resp.hdr_name[0], "Location");
	CU_ASSERT_STRING_EQUAL(resp.hdr_value[0], "/ui/");
	nc_api_response_destroy(&resp);
	req.path = "/ui/";
	CU_ASSERT_EQUAL(nc_api_handle(API, &req, &resp), 200);
	CU_ASSERT_STRING_EQUAL(resp.content_type, "text/html; charset=utf-8");
	CU_ASSERT(resp.body_len > 100);
	char *html = strndup(resp.body, resp.body_len);
	CU_ASSERT_PTR_NOT_NULL(strstr(html, "<html"));
	free(html);
	char etag[64] = "";
	for (size_t i = 0; i < resp.n_hdr; i++) {
		if (strcmp(resp.hdr_name[i], "ETag") == 0)
			snprintf(etag, sizeof(etag), "%s", resp.hdr_value[i]);
		if (strcmp(resp.hdr_name[i], "Cache-Control") == 0)
			CU_ASSERT_STRING_EQUAL(resp.hdr_value[i], "no-cache");
	}
	CU_ASSERT(etag[0] == '"');
	nc_api_response_destroy(&resp);
	req.if_none_match = etag;
	CU_ASSERT_EQUAL(nc_api_handle(API, &req, &resp), 304);
	CU_ASSERT_EQUAL(resp.body_len, 0);
	nc_api_response_destroy(&resp);
	req.if_none_match = NULL;
	req.path = "/ui/app.js";
	CU_ASSERT_EQUAL(nc_api_handle(API, &req, &resp), 200);
	CU_ASSERT_STRING_EQUAL(resp.content_type,
			       "text/javascript; charset=utf-8");
	for (size_t i = 0; i < resp.n_hdr; i++)
		if (strcmp(resp.hdr_name[i], "Cache-Control") == 0)
			CU_ASSERT_PTR_NOT_NULL(
			    strstr(resp.hdr_value[i], "max-age="));
	nc_api_response_destroy(&resp);
	req.path = "/ui/style.css";
	CU_ASSERT_EQUAL(nc_api_handle(API, &req, &resp), 200);
	CU_ASSERT_STRING_EQUAL(resp.content_type, "text/css; charset=utf-8");
	nc_api_response_destroy(&resp);
	expect_error(API, "GET", "/ui/nope.js", NULL, NULL, 404, "nope.js");
	expect_error(API, "GET", "/ui/../CMakeLists.txt", NULL, NULL, 404,
		     NULL);
}

/*
 * Dissemination. The serf member s0 never received a coordinate message,
 * while every netcoord agent did. A netcoord agent joining now (the fleet
 * has been up for 90 s) holds coordinates of the whole fleet within a few
 * seconds, long before it could have probed everybody, and its /v1 answers
 * cover everyone.
 */
static void
test_dissemination(void)
{
	fixture();
	struct nc_agent_coords_stats st;
	/* s0 gets serf's join intents, never one of ours. */
	CU_ASSERT(F->node[3].user_msgs > 0);
	CU_ASSERT_EQUAL(F->node[3].nc_msgs_seen, 0);
	for (int i = 0; i < FLEET_N; i++) {
		if (!F->node[i].nc)
			continue;
		nc_agent_coords_stats(F->node[i].coords, &st);
		CU_ASSERT(st.gossip_msgs_in > 0);
		CU_ASSERT_EQUAL(st.gossip_msgs_bad, 0);
		CU_ASSERT(st.skip_not_nc > 0);
	}
	struct th_spec late = {"late", 41, -1, "dc=b", true};
	struct th_node *n = th_fleet_add(F, &late);
	double t0 = th_now(F);
	unsigned have = 0;
	double when = NAN;
	while (th_now(F) < t0 + 10) {
		sim_run_until(F->w, th_now(F) + 0.1);
		nc_agent_coords_stats(n->coords, &st);
		if (st.cached >= (unsigned)FLEET_N) {
			have = st.cached;
			when = th_now(F) - t0;
			break;
		}
	}
	struct nc_agent_coords_stats ls;
	nc_agent_coords_stats(n->coords, &ls);
	unsigned boosts = 0, greets = 0;
	for (int i = 0; i < FLEET_N; i++) {
		if (!F->node[i].nc)
			continue;
		nc_agent_coords_stats(F->node[i].coords, &st);
		boosts += (unsigned)st.gossip_boosts;
		greets += (unsigned)st.gossip_greets;
	}
	fprintf(stderr,
		"\n  late joiner: %u/%d coordinates after %.1f s (%llu probe "
		"updates; %u boost msgs, %u greetings in the fleet) ",
		ls.cached, FLEET_N, th_now(F) - t0,
		(unsigned long long)ls.probe_updates, boosts, greets);
	CU_ASSERT_EQUAL(have, (unsigned)FLEET_N);
	CU_ASSERT(when < 5.0);
	CU_ASSERT(ls.probe_updates < (uint64_t)FLEET_N);
	CU_ASSERT(boosts + greets > 0);
	/* Within 6 s every agent has greeted it (spread over 5 s). */
	sim_run_until(F->w, t0 + 6);
	greets = 0;
	for (int i = 0; i < FLEET_N; i++) {
		if (!F->node[i].nc)
			continue;
		nc_agent_coords_stats(F->node[i].coords, &st);
		greets += (unsigned)st.gossip_greets;
	}
	CU_ASSERT_EQUAL(greets, (unsigned)FLEET_N - 1); /* 6 agents */
	CU_ASSERT_EQUAL(F->node[3].nc_msgs_seen, 0);
}

/* Last: n5 crashes; it stays visible as failed but stops being ranked. */
static bool
n5_failed(struct sim_world *w, void *arg)
{
	(void)w;
	(void)arg;
	const struct nc_gossip_member *m =
	    nc_gossip_member_find(F->node[0].g, "n5");
	return m != NULL && m->state == NC_MEMBER_DEAD;
}

static void
test_failed_member(void)
{
	fixture();
	sim_node_set_down(sim_node_get(F->w, 6), true);
	double t =
	    sim_run_until_pred(F->w, th_now(F) + 60, 0.5, n5_failed, NULL);
	CU_ASSERT_FATAL(t >= 0);
	cJSON *j;
	CU_ASSERT_EQUAL(get("/v1/nearest?n=100", &j), 200);
	const cJSON *it;
	cJSON_ArrayForEach(it, cJSON_GetObjectItem(j, "Nodes"))
	    CU_ASSERT_STRING_NOT_EQUAL(jstr(it, "Name"), "n5");
	cJSON_Delete(j);
	CU_ASSERT_EQUAL(get("/v1/nearest?n=100&status=any", &j), 200);
	bool seen = false;
	cJSON_ArrayForEach(
	    it, cJSON_GetObjectItem(j, "Nodes")) if (strcmp(jstr(it, "Name"),
							    "n5") == 0)
	{
		seen = true;
		CU_ASSERT_STRING_EQUAL(jstr(it, "Status"), "failed");
	}
	CU_ASSERT_TRUE(seen);
	cJSON_Delete(j);
	CU_ASSERT_EQUAL(get("/v1/coordinate/node/n5", &j), 200);
	CU_ASSERT_EQUAL(cJSON_GetArraySize(j), 1);
	cJSON_Delete(j);
	/* Failover: dc c has no healthy member: last, MedianMs null, n5
	 * listed as failed. */
	CU_ASSERT_EQUAL(get("/v1/failover?group=dc", &j), 200);
	const cJSON *g = cJSON_GetObjectItem(j, "Groups");
	int ng = cJSON_GetArraySize(g);
	CU_ASSERT_EQUAL(ng, 3);
	const cJSON *last = cJSON_GetArrayItem(g, ng - 1);
	CU_ASSERT_STRING_EQUAL(jstr(last, "Value"), "c");
	CU_ASSERT(cJSON_IsNull(cJSON_GetObjectItem(last, "MedianMs")));
	const cJSON *lm =
	    cJSON_GetArrayItem(cJSON_GetObjectItem(last, "Members"), 0);
	CU_ASSERT_STRING_EQUAL(jstr(lm, "Name"), "n5");
	CU_ASSERT_STRING_EQUAL(jstr(lm, "Status"), "failed");
	cJSON_Delete(j);
	CU_ASSERT_EQUAL(get("/v1/members?status=failed", &j), 200);
	CU_ASSERT_EQUAL(cJSON_GetArraySize(j), 1);
	cJSON_Delete(j);
}

/** alive{name, 10.0.0.ip_last, tags} from that address to node 0. */
static void
inject_alive(const char *name, size_t len, uint8_t ip_last,
	     const struct nc_proto_tag *tags, unsigned n_tags)
{
	const uint8_t ip[4] = {10, 0, 0, ip_last};
	th_inject_alive(F, 0, name, len, ip, 3, tags, n_tags);
}

/** GET @a path: the raw body (caller frees), status in *code. */
static char *
get_raw(const char *path, int *code)
{
	struct nc_api_request req = {
	    .method = "GET", .path = path, .suffix = ""};
	struct nc_api_response resp;
	*code = nc_api_handle(API, &req, &resp);
	char *body = strndup(resp.body, resp.body_len);
	nc_api_response_destroy(&resp);
	return body;
}

static void
test_hostile_names_json(void)
{
	/* Issue 9 rows 1, 9, 11: members whose names hold a NUL, invalid
	 * UTF-8 or a newline never appear in /v1/members (which stays valid
	 * UTF-8 JSON) and are counted in /metrics; a tag with invalid UTF-8
	 * is shown with U+FFFD in place of the bad bytes. */
	fixture();
	static const char forged[] = "x\n2026/01/01 [ERR] memberlist: FORGED";
	struct nc_proto_tag tags[2] = {
	    {nc_proto_cstr("role"), nc_proto_cstr("bad\xff\xfe")},
	    {nc_proto_cstr("dc"), nc_proto_cstr("a")},
	};
	inject_alive("evil\0x", 6, 201, tags + 1, 1);
	inject_alive("n1\0x", 5, 202, tags + 1, 1);
	inject_alive("bad\xff\xfe", 5, 203, tags + 1, 1);
	inject_alive(forged, strlen(forged), 204, tags + 1, 1);
	inject_alive("tagged", 6, 205, tags, 2);
	int code;
	char *body = get_raw("/v1/members", &code);
	CU_ASSERT_EQUAL(code, 200);
	CU_ASSERT_TRUE(nc_gossip_utf8_valid(body, strlen(body)));
	CU_ASSERT_PTR_NULL(strstr(body, "evil"));
	CU_ASSERT_PTR_NULL(strstr(body, "FORGED"));
	CU_ASSERT_PTR_NULL(strstr(body, "\"Name\":\"bad"));
	CU_ASSERT_PTR_NOT_NULL(strstr(body, "\"role\":\"bad\xef\xbf\xbd"));
	cJSON *j = cJSON_Parse(body);
	CU_ASSERT_PTR_NOT_NULL(j);
	const cJSON *it;
	int n1 = 0, tagged = 0;
	cJSON_ArrayForEach(it, j) {
		const char *nm = jstr(it, "Name");
		n1 += strcmp(nm, "n1") == 0;
		tagged += strcmp(nm, "tagged") == 0;
	}
	CU_ASSERT_EQUAL(n1, 1);
	CU_ASSERT_EQUAL(tagged, 1);
	cJSON_Delete(j);
	free(body);
	/* The same tag as a failover group value. */
	body = get_raw("/v1/failover?group=role", &code);
	CU_ASSERT_EQUAL(code, 200);
	CU_ASSERT_TRUE(nc_gossip_utf8_valid(body, strlen(body)));
	CU_ASSERT_PTR_NOT_NULL(strstr(body, "\"Value\":\"bad\xef\xbf\xbd"));
	free(body);
	body = get_raw("/metrics", &code);
	CU_ASSERT_EQUAL(code, 200);
	CU_ASSERT_PTR_NOT_NULL(strstr(
	    body, "netcoord_packets_dropped_total{reason=\"bad_name\"} 4\n"));
	free(body);
}

int
nc_test_handlers_register(void)
{
	CU_pSuite s = CU_add_suite("handlers", NULL, suite_clean);
	if (s == NULL ||
	    !CU_add_test(s, "health, members, filters", test_health_members) ||
	    !CU_add_test(s, "404 / 405", test_routing_errors) ||
	    !CU_add_test(s, "self, coordinates", test_self_and_coordinates) ||
	    !CU_add_test(s, "rtt", test_rtt) ||
	    !CU_add_test(s, "nearest", test_nearest) ||
	    !CU_add_test(s, "failover", test_failover) ||
	    !CU_add_test(s, "auth", test_auth) ||
	    !CU_add_test(s, "writes, keyring", test_writes_and_keyring) ||
	    !CU_add_test(s, "serf user events", test_user_events) ||
	    !CU_add_test(s, "keyring needs the token",
			 test_keyring_needs_token) ||
	    !CU_add_test(s, "metrics, static", test_metrics_static) ||
	    !CU_add_test(s, "dissemination", test_dissemination) ||
	    !CU_add_test(s, "failed member", test_failed_member) ||
	    !CU_add_test(s, "hostile names in JSON", test_hostile_names_json))
		return -1;
	return 0;
}
