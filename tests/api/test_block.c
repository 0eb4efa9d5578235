/*
 * test_block.c - blocking queries (api/block.c).
 *
 * Without a socket (a fleet of six in the simulator, a router on node c0
 * reading a clock the test moves by hand, as test_cache.c does):
 *   - every answer of the four endpoints carries X-Netcoord-Index >= 1;
 *     the same query keeps its index, different queries get their own;
 *   - a coordinate wobble that changes EstimatedMs but not the order
 *     keeps the index; a move that swaps the order takes a new, larger
 *     one; a member failing does too (members, nearest?status=any);
 *   - /v1/members without near= lists members in the gossip table's
 *     order (reshuffled each probe round): hashed as a set;
 *   - bad index= / wait= are 400s naming the parameter; Go durations.
 * On a real socket (127.0.0.1, port 0; one agent and a bare gossip peer,
 * as test_socket.c): 120 clients hold /v1/members?index=N, with
 * max_held 100 the 20 beyond get 429; the peer joins and all 100 are
 * answered with a new index, at the cost of a handful of evaluations,
 * not 100; a held request with wait=1s comes back after ~1 s with the
 * same index; a client that closes its socket frees its slot.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <CUnit/CUnit.h>
#include <cjson/cJSON.h>

#include "api/api.h"
#include "api/api_int.h" /* nc__api_block_sig */
#include "gossip/gossip.h"
#include "gossip/proto.h"
#include "loop/loop.h"
#include "tests/api/harness.h"

static const struct th_spec block_spec[] = {
    {"b0", 0, 0, "dc=a", true},	 {"b1", 2, 0, "dc=a,role=web", true},
    {"b2", 0, 3, "dc=a", true},	 {"bs", 1, 1, "dc=a,role=serf", false},
    {"b3", 40, 0, "dc=b", true}, {"b4", 90, 0, "dc=c,role=web", true},
};
#define BLOCK_N ((int)(sizeof(block_spec) / sizeof(block_spec[0])))

static struct th_fleet *F;
static struct nc_api *API;
static double T;

static double
hand_clock(void *arg)
{
	(void)arg;
	return T;
}

static void
fixture(void)
{
	char err[128];
	if (API != NULL)
		return;
	F = th_fleet_new(11, block_spec, BLOCK_N);
	sim_run_until(F->w, 60);
	T = th_now(F);
	struct nc_api_config cfg;
	nc_api_config_default(&cfg);
	API = nc_api_new(NULL, F->node[0].agent, &cfg, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(API);
	nc_api_set_clock(API, hand_clock, NULL);
}

static int
suite_clean(void)
{
	nc_api_delete(API);
	th_fleet_delete(F);
	API = NULL;
	return 0;
}

/**
 * GET @a url: returns the status; X-Netcoord-Index in *index (0 if
 * absent); the body in *body if not NULL (caller frees).
 */
static int
get(const char *url, uint64_t *index, char **body)
{
	struct nc_api_request req = {.method = "GET", .path = url};
	struct nc_api_response resp;
	int st = nc_api_handle(API, &req, &resp);
	*index = 0;
	for (size_t i = 0; i < resp.n_hdr; i++)
		if (strcmp(resp.hdr_name[i], "X-Netcoord-Index") == 0)
			*index = strtoull(resp.hdr_value[i], NULL, 10);
	if (body != NULL) {
		*body = malloc(resp.body_len + 1);
		memcpy(*body, resp.body, resp.body_len);
		(*body)[resp.body_len] = '\0';
	}
	nc_api_response_destroy(&resp);
	return st;
}

static uint64_t
index_of(const char *url)
{
	uint64_t ix;
	CU_ASSERT_EQUAL(get(url, &ix, NULL), 200);
	return ix;
}

/** Node 0 hears that @a name is at (x_s, 0, ...) (as a probe ack). */
static void
place(const char *name, double x_s)
{
	char pl[512];
	struct nc_proto_coord pc;
	memset(&pc, 0, sizeof(pc));
	pc.dims = 8;
	pc.vec[0] = x_s;
	pc.error = 0.2;
	pc.height = 1e-4;
	int pn = nc_proto_encode_coord(pl, sizeof(pl), &pc);
	CU_ASSERT_FATAL(pn > 0);
	CU_ASSERT_EQUAL(nc_agent_coords_probe_done(F->node[0].coords, T, name,
						 x_s, pl, (size_t)pn),
			0);
}

static void
test_index_header(void)
{
	static const char *const urls[] = {
	    "/v1/members", "/v1/members?near=b3", "/v1/nearest?n=5",
	    "/v1/failover?group=dc", "/v1/coordinate/nodes"};
	uint64_t ix[5];
	fixture();
	T += 1;
	for (size_t i = 0; i < 5; i++) {
		ix[i] = index_of(urls[i]);
		CU_ASSERT(ix[i] >= 1);
		/* Again (a cache hit): the same index. */
		CU_ASSERT_EQUAL(index_of(urls[i]), ix[i]);
		for (size_t k = 0; k < i; k++)
			CU_ASSERT_NOT_EQUAL(ix[k], ix[i]);
	}
	/* Order of the arguments does not matter; index/wait are not part
	 * of the query; an index that is not current answers at once. */
	uint64_t a = index_of("/v1/nearest?n=9&tag=dc:a&status=alive");
	CU_ASSERT_EQUAL(index_of("/v1/nearest?status=alive&tag=dc:a&n=9"), a);
	char url[128];
	snprintf(url, sizeof(url), "/v1/nearest?n=9&tag=dc:a&index=%" PRIu64
		 "&wait=1s", a + 1000);
	CU_ASSERT_EQUAL(index_of(url), a);
	/* Socket-less: a current index cannot be held, answered at once. */
	snprintf(url, sizeof(url), "/v1/nearest?n=9&tag=dc:a&index=%" PRIu64,
		 a);
	CU_ASSERT_EQUAL(index_of(url), a);
	/* A new view with nothing changed: same indexes. */
	T += 0.3;
	for (size_t i = 0; i < 5; i++)
		CU_ASSERT_EQUAL(index_of(urls[i]), ix[i]);
}

/* Coordinates: a wobble keeps the index, an order swap moves it. */
static void
test_wobble_and_swap(void)
{
	const char *q = "/v1/nearest?n=5";
	const char *fq = "/v1/failover?group=dc";
	char *b1, *b2;
	uint64_t i1, i2, i3, f1, f2;
	fixture();
	T += 1;
	place("b3", 0.040);
	T += 0.3;
	CU_ASSERT_EQUAL(get(q, &i1, &b1), 200);
	f1 = index_of(fq);
	/* b3 moves by 1 ms: estimates change, the order does not. */
	place("b3", 0.041);
	T += 0.3;
	CU_ASSERT_EQUAL(get(q, &i2, &b2), 200);
	CU_ASSERT_STRING_NOT_EQUAL(b1, b2); /* the answer did change */
	CU_ASSERT_EQUAL(i2, i1);
	CU_ASSERT_EQUAL(index_of(fq), f1);
	free(b1);
	free(b2);
	/* b3 jumps beyond b4 (90 ms): the ranked order changes. */
	place("b3", 0.5);
	T += 0.3;
	i3 = index_of(q);
	CU_ASSERT(i3 > i1);
	f2 = index_of(fq);
	CU_ASSERT(f2 > f1); /* dc=b and dc=c swap places */
	/* And it stays there. */
	T += 0.3;
	CU_ASSERT_EQUAL(index_of(q), i3);
}

static bool
b4_failed(struct sim_world *w, void *arg)
{
	(void)w;
	(void)arg;
	const struct nc_gossip_member *m =
	    nc_gossip_member_find(F->node[0].g, "b4");
	return m != NULL && m->state == NC_MEMBER_DEAD;
}

/* A member fails: members and nearest?status=any take a new index. */
static void
test_status_change(void)
{
	fixture();
	T += 1;
	uint64_t m1 = index_of("/v1/members");
	uint64_t n1 = index_of("/v1/nearest?n=10&status=any");
	uint64_t d1 = index_of("/v1/nearest?n=10&tag=dc:a");
	sim_node_set_down(sim_node_get(F->w, 5), true);
	double t =
	    sim_run_until_pred(F->w, th_now(F) + 60, 0.5, b4_failed, NULL);
	CU_ASSERT_FATAL(t >= 0);
	T = th_now(F);
	CU_ASSERT(index_of("/v1/members") > m1);
	CU_ASSERT(index_of("/v1/nearest?n=10&status=any") > n1);
	/* b4 (dc=c) was never in this answer: unchanged... unless the
	 * minute of simulation moved the order of dc=a members. */
	char *b;
	uint64_t d2;
	CU_ASSERT_EQUAL(get("/v1/nearest?n=10&tag=dc:a", &d2, &b), 200);
	CU_ASSERT(d2 >= d1);
	CU_ASSERT_PTR_NULL(strstr(b, "\"b4\""));
	free(b);
}

static uint64_t
sig(const cJSON *doc, bool set)
{
	return nc__api_block_sig(doc, set ? NC__API_SIG_SET : 0);
}

/* The top-level array of /v1/members is a set; other arrays are not. */
static void
test_signature(void)
{
	cJSON *a = cJSON_Parse("[{\"Name\":\"x\",\"Status\":\"alive\"},"
			       "{\"Name\":\"y\",\"Status\":\"alive\"}]");
	cJSON *b = cJSON_Parse("[{\"Name\":\"y\",\"Status\":\"alive\"},"
			       "{\"Name\":\"x\",\"Status\":\"alive\"}]");
	cJSON *c = cJSON_Parse("[{\"Name\":\"y\",\"Status\":\"suspect\"},"
			       "{\"Name\":\"x\",\"Status\":\"alive\"}]");
	cJSON *d = cJSON_Parse("[{\"Name\":\"y\",\"Status\":\"alive\"},"
			       "{\"Name\":\"x\",\"Status\":\"alive\"},"
			       "{\"Name\":\"x\",\"Status\":\"alive\"}]");
	cJSON *e1 = cJSON_Parse("{\"Nodes\":[{\"Name\":\"x\",\"EstimatedMs\":"
				"1.5},{\"Name\":\"y\",\"EstimatedMs\":2}]}");
	cJSON *e2 = cJSON_Parse("{\"Nodes\":[{\"Name\":\"x\",\"EstimatedMs\":"
				"1.7},{\"Name\":\"y\",\"EstimatedMs\":1.8}]}");
	cJSON *e3 = cJSON_Parse("{\"Nodes\":[{\"Name\":\"y\",\"EstimatedMs\":"
				"1.7},{\"Name\":\"x\",\"EstimatedMs\":1.8}]}");
	CU_ASSERT_EQUAL(sig(a, true),
			sig(b, true));
	CU_ASSERT_NOT_EQUAL(sig(a, false),
			    sig(b, false));
	CU_ASSERT_NOT_EQUAL(sig(b, true),
			    sig(c, true));
	CU_ASSERT_NOT_EQUAL(sig(b, true),
			    sig(d, true));
	CU_ASSERT_EQUAL(sig(e1, false),
			sig(e2, false));
	CU_ASSERT_NOT_EQUAL(sig(e2, false),
			    sig(e3, false));
	cJSON_Delete(a);
	cJSON_Delete(b);
	cJSON_Delete(c);
	cJSON_Delete(d);
	cJSON_Delete(e1);
	cJSON_Delete(e2);
	cJSON_Delete(e3);
}

static void
test_bad_params(void)
{
	static const char *const routes[] = {
	    "/v1/members", "/v1/nearest", "/v1/failover?group=dc",
	    "/v1/coordinate/nodes"};
	static const struct {
		const char *arg, *names;
	} bad[] = {
	    {"index=abc", "\\\"index\\\""}, {"index=-1", "\\\"index\\\""},
	    {"index=", "\\\"index\\\""},	 {"index=99999999999999999999999", "\\\"index\\\""},
	    {"wait=5", "\\\"wait\\\""},	 {"wait=-1s", "\\\"wait\\\""},
	    {"wait=5x", "\\\"wait\\\""},	 {"wait=s", "\\\"wait\\\""},
	    {"wait=", "\\\"wait\\\""},
	};
	static const char *const good[] = {"wait=30s", "wait=1m30s",
					   "wait=500ms", "wait=1.5h",
					   "wait=0", "index=0", "index=7"};
	char url[256];
	uint64_t ix;
	char *b;
	fixture();
	for (size_t r = 0; r < 4; r++) {
		const char *sep = strchr(routes[r], '?') ? "&" : "?";
		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			snprintf(url, sizeof(url), "%s%s%s", routes[r], sep,
				 bad[i].arg);
			int st = get(url, &ix, &b);
			CU_ASSERT_EQUAL(st, 400);
			CU_ASSERT_PTR_NOT_NULL(strstr(b, bad[i].names));
			if (st != 400 || strstr(b, bad[i].names) == NULL)
				fprintf(stderr, "\n%s: %d %s\n", url, st, b);
			CU_ASSERT_EQUAL(ix, 0);
			free(b);
		}
		for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
			snprintf(url, sizeof(url), "%s%s%s", routes[r], sep,
				 good[i]);
			CU_ASSERT_EQUAL(get(url, &ix, NULL), 200);
			CU_ASSERT(ix >= 1);
		}
	}
}

/* ------------------------------------------------------------------ */
/* On a socket                                                        */
/* ------------------------------------------------------------------ */

#define SOCK_N 120
#define SOCK_HELD 100

struct client {
	int fd;
	char buf[8192];
	size_t got;
	bool done;
	int status;
	uint64_t index;
};

/** Read what is there; true once the server closed (response whole). */
static bool
client_poll(struct client *c)
{
	if (c->done)
		return true;
	for (;;) {
		ssize_t r = recv(c->fd, c->buf + c->got,
				 sizeof(c->buf) - 1 - c->got, 0);
		if (r > 0) {
			c->got += (size_t)r;
			continue;
		}
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return false;
		break;
	}
	c->buf[c->got] = '\0';
	c->done = true;
	sscanf(c->buf, "HTTP/1.%*d %d", &c->status);
	const char *h = strstr(c->buf, "X-Netcoord-Index: ");
	c->index = h != NULL ? strtoull(h + 18, NULL, 10) : 0;
	close(c->fd);
	return true;
}

/** Run the loops until every client is done or @a secs pass. */
static size_t
run_until_done(struct nc_env *e1, struct nc_env *e2, struct client *c,
	       size_t n, double secs)
{
	double t0 = th_mono_s();
	size_t done = 0;
	while (th_mono_s() - t0 < secs) {
		nc_env_real_run_once(e1, 0.005);
		nc_env_real_run_once(e2, 0.0);
		done = 0;
		for (size_t i = 0; i < n; i++)
			done += client_poll(&c[i]);
		if (done == n)
			break;
	}
	return done;
}

static void
test_held_on_socket(void)
{
	static struct client c[SOCK_N];
	char err[128], path[128];
	struct nc_env *env = th_env_real_new(), *env2 = th_env_real_new();
	struct nc_addr a2;
	struct nc_agent *agent = th_real_agent_new(env, "blk-a", NULL);
	struct nc_gossip_config gc;
	nc_gossip_config_default(&gc, NC_GOSSIP_PROFILE_LOCAL);
	snprintf(gc.name, sizeof(gc.name), "blk-b");
	nc_env_real_local_addr(env2, &gc.advertise);
	nc_env_real_local_addr(env2, &a2);
	struct nc_gossip *g2 = nc_gossip_new(env2, &gc, NULL, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(g2);
	CU_ASSERT_EQUAL(nc_gossip_start(g2), 0);
	struct nc_api_config ac;
	nc_api_config_default(&ac);
	nc_addr_parse("127.0.0.1:0", 0, &ac.addr);
	ac.max_connections = 400;
	ac.max_connections_per_client = 0;
	ac.max_held = SOCK_HELD;
	struct nc_api *api = nc_api_new(env, agent, &ac, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(api);
	unsigned port = nc_api_port(api);

	/* The current index. */
	struct client first = {.fd = th_http_get_open(port, "/v1/members")};
	CU_ASSERT_EQUAL(run_until_done(env, env2, &first, 1, 5), 1);
	CU_ASSERT_EQUAL(first.status, 200);
	uint64_t ix = first.index;
	CU_ASSERT(ix >= 1);

	/* SOCK_N wait on it; SOCK_N - SOCK_HELD are refused. */
	snprintf(path, sizeof(path), "/v1/members?index=%" PRIu64 "&wait=60s",
		 ix);
	memset(c, 0, sizeof(c));
	for (size_t i = 0; i < SOCK_N; i++)
		c[i].fd = th_http_get_open(port, path);
	size_t done = run_until_done(env, env2, c, SOCK_N, 1.5);
	const struct nc_api_stats *st = nc_api_stats(api);
	fprintf(stderr, "\n    held %" PRIu64 ", answered %zu", st->block_held,
		done);
	CU_ASSERT_EQUAL(st->block_held, SOCK_HELD);
	CU_ASSERT_EQUAL(done, SOCK_N - SOCK_HELD);
	CU_ASSERT_EQUAL(st->block_refused, SOCK_N - SOCK_HELD);
	for (size_t i = 0; i < SOCK_N; i++)
		if (c[i].done)
			CU_ASSERT_EQUAL(c[i].status, 429);
	uint64_t ev0 = st->block_evaluations;

	/* A member joins: every held request answers, new index. */
	double t0 = th_mono_s();
	struct nc_addr a1;
	nc_env_real_local_addr(env, &a1);
	CU_ASSERT_EQUAL(nc_gossip_join(g2, &a1, 1, NULL, NULL), 0);
	done = run_until_done(env, env2, c, SOCK_N, 10);
	double took = th_mono_s() - t0;
	st = nc_api_stats(api);
	fprintf(stderr, "; all answered %.2f s after the join, %" PRIu64
		" evaluations", took, st->block_evaluations - ev0);
	CU_ASSERT_EQUAL(done, SOCK_N);
	CU_ASSERT_EQUAL(st->block_held, 0);
	CU_ASSERT_EQUAL(st->block_released_change, SOCK_HELD);
	/* One per view rebuild while held (4/s), not one per request. */
	CU_ASSERT(st->block_evaluations - ev0 <= 4 * took + 4);
	uint64_t ix2 = 0;
	for (size_t i = 0; i < SOCK_N; i++) {
		if (c[i].status != 200)
			continue;
		CU_ASSERT(c[i].index > ix);
		CU_ASSERT_PTR_NOT_NULL(strstr(c[i].buf, "\"blk-b\""));
		if (ix2 == 0)
			ix2 = c[i].index;
		CU_ASSERT_EQUAL(c[i].index, ix2);
	}

	/* Nothing changes: wait=1s answers after ~1 s, same index. */
	snprintf(path, sizeof(path), "/v1/members?index=%" PRIu64 "&wait=1s",
		 ix2);
	memset(c, 0, 2 * sizeof(c[0]));
	c[0].fd = th_http_get_open(port, path);
	c[1].fd = th_http_get_open(port, path);
	t0 = th_mono_s();
	/* The second client gives up at once. */
	for (int i = 0; i < 20; i++) {
		nc_env_real_run_once(env, 0.005);
		nc_env_real_run_once(env2, 0.0);
	}
	close(c[1].fd);
	c[1].done = true;
	CU_ASSERT_EQUAL(run_until_done(env, env2, c, 2, 5), 2);
	took = th_mono_s() - t0;
	fprintf(stderr, "; wait=1s answered after %.2f s", took);
	CU_ASSERT_EQUAL(c[0].status, 200);
	CU_ASSERT_EQUAL(c[0].index, ix2);
	CU_ASSERT(took >= 1.0 && took < 1.0 + 1.0 / 16 + 0.6);
	st = nc_api_stats(api);
	CU_ASSERT_EQUAL(st->block_held, 0);
	CU_ASSERT_EQUAL(st->block_released_timeout + st->block_released_gone,
			2);
	CU_ASSERT_EQUAL(st->block_released_gone, 1);

	nc_api_delete(api);
	nc_agent_delete(agent);
	nc_gossip_delete(g2);
	nc_env_real_delete(env);
	nc_env_real_delete(env2);
	(void)a2;
}

int
nc_test_block_register(void)
{
	CU_pSuite s = CU_add_suite("blocking queries", NULL, suite_clean);
	if (s == NULL || !CU_add_test(s, "index header", test_index_header) ||
	    !CU_add_test(s, "wobble keeps, swap moves",
			 test_wobble_and_swap) ||
	    !CU_add_test(s, "status change", test_status_change) ||
	    !CU_add_test(s, "signature", test_signature) ||
	    !CU_add_test(s, "bad index/wait", test_bad_params) ||
	    !CU_add_test(s, "held on a socket", test_held_on_socket))
		return -1;
	return 0;
}
