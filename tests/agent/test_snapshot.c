/*
 * tests/agent/test_snapshot.c - the -snapshot file without sockets
 * (agent/snapshot.h): the coordinate client's state export/import
 * (coord/coord.h), the coordinate cache's export/restore (agent/coords.h),
 * encode/decode and save/load round trips, and every way a file can be
 * bad - corrupt, truncated at every length, foreign (other JSON, serf's
 * line format, another node's), a future version - each refused with a
 * message naming the problem, never a crash. Also the -snapshot and
 * -rejoin flags and JSON keys, and the cost of a capture-sized copy and
 * of an encode + write at 10,000 members (printed).
 */
#include <CUnit/Basic.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agent/config.h"
#include "agent/coords.h"
#include "agent/snapshot.h"
#include "coord/coord.h"

static char tmpdir[] = "/tmp/nc-snap-test.XXXXXX";

static double
mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/** A client that has seen @a n peers on a line, a few samples each. */
static struct nc_coord_client *
trained_client(unsigned n, unsigned seed)
{
	struct nc_coord_config cfg;
	nc_coord_config_default(&cfg);
	cfg.peer_cap = 64;
	cfg.seed = seed;
	struct nc_coord_client *c = nc_coord_client_new(&cfg, NULL, 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	for (unsigned r = 0; r < 20; r++) {
		for (unsigned i = 0; i < n; i++) {
			char name[32];
			struct nc_coord peer;
			nc_coord_init(&peer, &cfg);
			peer.vec[0] = 0.001 * (i + 1);
			peer.error = 0.2;
			snprintf(name, sizeof(name), "peer-%u", i);
			nc_coord_client_update(c, name, &peer,
					       0.002 + 0.001 * i + 1e-5 * r,
					       NULL);
		}
	}
	return c;
}

static void
test_coord_roundtrip(void)
{
	struct nc_coord_client *a = trained_client(10, 1);
	struct nc_coord_client *b = trained_client(0, 2);
	struct nc_coord_client_state *st = calloc(2, sizeof(*st));
	struct nc_coord_peer_state pa[64], pb[64];
	nc_coord_client_state_export(a, &st[0]);
	size_t n = nc_coord_client_peers_export(a, pa, 64);
	CU_ASSERT_EQUAL(n, 10);
	CU_ASSERT_EQUAL(nc_coord_client_state_import(b, &st[0]), 0);
	for (size_t i = 0; i < n; i++)
		CU_ASSERT_EQUAL(nc_coord_client_peer_import(b, &pa[i]), 0);
	/* Exported again: the same state, the same peers in the same
	 * (LRU) order. */
	nc_coord_client_state_export(b, &st[1]);
	CU_ASSERT_EQUAL(memcmp(&st[0], &st[1], sizeof(st[0])), 0);
	CU_ASSERT_EQUAL(nc_coord_client_peers_export(b, pb, 64), n);
	CU_ASSERT_EQUAL(memcmp(pa, pb, n * sizeof(pa[0])), 0);
	struct nc_coord ca, cb;
	nc_coord_client_get(a, &ca);
	nc_coord_client_get(b, &cb);
	CU_ASSERT_EQUAL(memcmp(&ca, &cb, sizeof(ca)), 0);
	/* Bad values change nothing. */
	struct nc_coord_peer_state bad = pa[0];
	bad.samples[0] = NAN;
	CU_ASSERT_NOT_EQUAL(nc_coord_client_peer_import(b, &bad), 0);
	bad = pa[0];
	bad.n_samples = NC_COORD_FILTER_MAX + 1;
	CU_ASSERT_NOT_EQUAL(nc_coord_client_peer_import(b, &bad), 0);
	st[1].coord.dims = 3;
	CU_ASSERT_EQUAL(nc_coord_client_state_import(b, &st[1]),
			NC_COORD_EDIM);
	nc_coord_client_get(b, &cb);
	CU_ASSERT_EQUAL(memcmp(&ca, &cb, sizeof(ca)), 0);
	free(st);
	nc_coord_client_delete(a);
	nc_coord_client_delete(b);
}

/** A snapshot of @a members members (each with a cached coordinate). */
static void
make_snap(struct nc__agent_snap *s, size_t members)
{
	struct nc_coord_client *c = trained_client(10, 3);
	memset(s, 0, sizeof(*s));
	s->version = NC_AGENT_SNAP_VERSION;
	strcpy(s->node, "node \"quoted\" \\ 1");
	s->written_unix = 1733500000.25;
	s->left = true;
	nc_coord_client_state_export(c, &s->client);
	s->peers = calloc(64, sizeof(*s->peers));
	s->peers_n = nc_coord_client_peers_export(c, s->peers, 64);
	s->members = calloc(members ? members : 1, sizeof(*s->members));
	s->coords = calloc(members ? members : 1, sizeof(*s->coords));
	for (size_t i = 0; i < members; i++) {
		struct nc__agent_snap_member *m = &s->members[i];
		snprintf(m->name, sizeof(m->name), "member-%05zu", i);
		char a[64];
		snprintf(a, sizeof(a), i % 2 ? "10.1.%zu.%zu:7946"
					     : "[fd00::%zx]:7946",
			 i / 256, i % 256);
		CU_ASSERT_EQUAL(nc_addr_parse(a, 0, &m->addr), 0);
		struct nc_agent_coord_saved *e = &s->coords[i];
		memcpy(e->name, m->name, sizeof(e->name));
		e->coord = s->client.coord;
		e->coord.vec[1] = 1e-4 * (double)i;
		e->age_s = 0.5 * (double)i;
		e->source = i % 3 ? NC_AGENT_SRC_GOSSIP : NC_AGENT_SRC_PROBE;
		e->measured_rtt_s = i % 3 ? NAN : 0.01;
		e->measured_age_s = i % 3 ? NAN : 2.0;
	}
	s->members_n = s->coords_n = members;
	nc_coord_client_delete(c);
}

static void
assert_same(const struct nc__agent_snap *a, const struct nc__agent_snap *b)
{
	CU_ASSERT_STRING_EQUAL(a->node, b->node);
	CU_ASSERT_DOUBLE_EQUAL(a->written_unix, b->written_unix, 1e-3);
	CU_ASSERT_EQUAL(a->left, b->left);
	CU_ASSERT_EQUAL(memcmp(&a->client, &b->client, sizeof(a->client)), 0);
	CU_ASSERT_EQUAL_FATAL(a->peers_n, b->peers_n);
	CU_ASSERT_EQUAL(memcmp(a->peers, b->peers,
			       a->peers_n * sizeof(a->peers[0])),
			0);
	CU_ASSERT_EQUAL_FATAL(a->members_n, b->members_n);
	for (size_t i = 0; i < a->members_n; i++) {
		CU_ASSERT_STRING_EQUAL(a->members[i].name, b->members[i].name);
		CU_ASSERT(nc_addr_equal(&a->members[i].addr,
					&b->members[i].addr));
	}
	CU_ASSERT_EQUAL_FATAL(a->coords_n, b->coords_n);
	for (size_t i = 0; i < a->coords_n; i++) {
		const struct nc_agent_coord_saved *x = &a->coords[i],
						   *y = &b->coords[i];
		CU_ASSERT_STRING_EQUAL(x->name, y->name);
		CU_ASSERT_EQUAL(memcmp(&x->coord, &y->coord, sizeof(x->coord)),
				0);
		CU_ASSERT_EQUAL(x->age_s, y->age_s);
		CU_ASSERT_EQUAL(x->source, y->source);
		CU_ASSERT(isnan(x->measured_rtt_s) == isnan(y->measured_rtt_s));
	}
}

static void
test_encode_roundtrip(void)
{
	struct nc__agent_snap s, d;
	char *text, why[256] = "";
	size_t len;
	make_snap(&s, 50);
	CU_ASSERT_EQUAL_FATAL(nc__agent_snap_encode(&s, &text, &len), 0);
	CU_ASSERT_EQUAL(strlen(text), len);
	CU_ASSERT_EQUAL(nc__agent_snap_decode(text, len, &d, why, sizeof(why)),
			0);
	if (why[0])
		fprintf(stderr, "decode: %s\n", why);
	assert_same(&s, &d);
	nc__agent_snap_clear(&d);
	free(text);
	/* Save and load: mode 0600, no temporary file left. */
	char path[128];
	snprintf(path, sizeof(path), "%s/rt.snap", tmpdir);
	CU_ASSERT_EQUAL(nc__agent_snap_save(path, &s, why, sizeof(why)), 0);
	struct stat st;
	CU_ASSERT_EQUAL(stat(path, &st), 0);
	CU_ASSERT_EQUAL(st.st_mode & 0777, 0600);
	CU_ASSERT_EQUAL(nc__agent_snap_load(path, &d, why, sizeof(why)), 1);
	assert_same(&s, &d);
	nc__agent_snap_clear(&d);
	snprintf(path, sizeof(path), "%s/missing.snap", tmpdir);
	CU_ASSERT_EQUAL(nc__agent_snap_load(path, &d, why, sizeof(why)), 0);
	nc__agent_snap_clear(&s);
}

/** Decoding @a text must fail with a message containing @a want. */
static void
expect_bad(const char *text, size_t len, const char *want)
{
	struct nc__agent_snap d;
	char why[256] = "";
	CU_ASSERT_EQUAL(nc__agent_snap_decode(text, len, &d, why, sizeof(why)),
			-EINVAL);
	CU_ASSERT_EQUAL(d.members_n + d.coords_n + d.peers_n, 0);
	if (strstr(why, want) == NULL) {
		fprintf(stderr, "want \"%s\" in \"%s\"\n", want, why);
		CU_FAIL("message does not name the problem");
	}
}

static char *
replace(const char *text, const char *from, const char *to)
{
	const char *p = strstr(text, from);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	size_t n = strlen(text) - strlen(from) + strlen(to);
	char *out = malloc(n + 1);
	size_t k = (size_t)(p - text);
	memcpy(out, text, k);
	strcpy(out + k, to);
	strcat(out, p + strlen(from));
	return out;
}

static void
test_bad_files(void)
{
	struct nc__agent_snap s, d;
	char *text, why[256];
	size_t len;
	make_snap(&s, 5);
	CU_ASSERT_EQUAL_FATAL(nc__agent_snap_encode(&s, &text, &len), 0);
	nc__agent_snap_clear(&s);

	/* Truncated at every length: refused, never a crash (ASan run). */
	size_t truncated = 0;
	for (size_t n = 0; n < len - 1; n++) {
		char *cut = malloc(n + 1);
		memcpy(cut, text, n);
		cut[n] = '\0';
		CU_ASSERT_EQUAL(nc__agent_snap_decode(cut, n, &d, why,
						      sizeof(why)),
				-EINVAL);
		truncated += strstr(why, "truncated") != NULL ||
			     strstr(why, "empty") != NULL;
		free(cut);
	}
	/* Cut inside a token or after a comma: all say "truncated" (or
	 * "empty"); a cut right after a closing bracket may parse as
	 * another problem, never as a snapshot. */
	CU_ASSERT(truncated >= len - 2);
	expect_bad("", 0, "empty");
	expect_bad("\n\n", 2, "empty");
	/* Corrupt: a flipped byte in the structure, zeros, garbage. */
	char *c1 = replace(text, "\"left\":true", "\"left\":yes!");
	expect_bad(c1, strlen(c1), "corrupt");
	free(c1);
	char zeros[64] = {0};
	expect_bad(zeros, sizeof(zeros), "NUL");
	expect_bad("\x89PNG\r\n", 6, "corrupt");
	/* Foreign: other JSON, serf's format. */
	expect_bad("{\"foo\": 1}", 10, "not a netcoord snapshot");
	expect_bad("[1,2,3]", 7, "not a netcoord snapshot");
	const char *serf = "alive: n1 127.0.0.1:7946\nclock: 5\n";
	expect_bad(serf, strlen(serf), "serf");
	/* Future version. */
	char *fut = replace(text, "\"netcoord_snapshot\":1",
			    "\"netcoord_snapshot\":2");
	expect_bad(fut, strlen(fut), "version 2 is newer");
	free(fut);
	/* No end mark (a writer that stopped between keys). */
	char *ne = replace(text, "\"end\":true", "\"xend\":true");
	expect_bad(ne, strlen(ne), "truncated");
	free(ne);
	/* Bad values, named. */
	char *bv = replace(text, "\"Error\":", "\"Error\":-");
	expect_bad(bv, strlen(bv), "coordinate");
	free(bv);
	char *ba = replace(text, "\"addr\":\"", "\"addr\":\"x");
	expect_bad(ba, strlen(ba), "\"addr\"");
	free(ba);
	char *bs = replace(text, "\"source\":\"", "\"source\":\"x");
	expect_bad(bs, strlen(bs), "\"source\"");
	free(bs);
	/* Unknown keys are ignored (room for the Lamport clocks). */
	char *uk = replace(text, "\"left\":", "\"clock\":42,\"left\":");
	CU_ASSERT_EQUAL(nc__agent_snap_decode(uk, strlen(uk), &d, why,
					      sizeof(why)),
			0);
	nc__agent_snap_clear(&d);
	free(uk);
	/* A bad file on disk: message names the file. */
	char path[128];
	snprintf(path, sizeof(path), "%s/bad.snap", tmpdir);
	FILE *f = fopen(path, "w");
	fputs("{\"netcoord_snapshot\":1,", f);
	fclose(f);
	CU_ASSERT(nc__agent_snap_load(path, &d, why, sizeof(why)) < 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(why, path));
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "truncated"));
	free(text);
}

static void
test_coords_cache(void)
{
	struct nc_agent_coords *c =
	    nc_agent_coords_new("self", NULL, NULL, 100.0, NULL, 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	struct nc__agent_snap s;
	make_snap(&s, 20);
	for (size_t i = 0; i < s.coords_n; i++)
		CU_ASSERT_EQUAL(nc_agent_coords_restore(c, 100.0, &s.coords[i]),
				0);
	struct nc_agent_coord_info ci;
	CU_ASSERT_EQUAL(nc_agent_coords_get(c, 100.0, "member-00003", &ci), 0);
	CU_ASSERT(ci.has_coord);
	CU_ASSERT_DOUBLE_EQUAL(ci.age_s, 1.5, 1e-9);
	CU_ASSERT_DOUBLE_EQUAL(ci.coord->vec[1], 3e-4, 1e-12);
	CU_ASSERT_EQUAL(ci.source, NC_AGENT_SRC_PROBE);
	CU_ASSERT_DOUBLE_EQUAL(ci.measured_rtt_s, 0.01, 1e-12);
	/* Export gives them back. */
	struct nc_agent_coord_saved *out;
	CU_ASSERT_EQUAL(nc_agent_coords_export(c, 100.0, &out), 20);
	free(out);
	/* An older saved coordinate does not replace a newer one; self and
	 * bad values are refused. */
	struct nc_agent_coord_saved e = s.coords[3];
	e.age_s = 50;
	e.coord.vec[1] = 9e-3;
	CU_ASSERT_EQUAL(nc_agent_coords_restore(c, 100.0, &e), 0);
	nc_agent_coords_get(c, 100.0, "member-00003", &ci);
	CU_ASSERT_DOUBLE_EQUAL(ci.coord->vec[1], 3e-4, 1e-12);
	strcpy(e.name, "self");
	CU_ASSERT_EQUAL(nc_agent_coords_restore(c, 100.0, &e), -EINVAL);
	e = s.coords[4];
	e.coord.vec[0] = NAN;
	CU_ASSERT_EQUAL(nc_agent_coords_restore(c, 100.0, &e), -EINVAL);
	nc__agent_snap_clear(&s);
	nc_agent_coords_delete(c);
}

static void
test_config(void)
{
	struct nc_config c;
	char err[256] = "";
	nc_config_init(&c);
	char *argv[] = {"agent", "-rejoin", "-snapshot", "/var/lib/nc/snap"};
	CU_ASSERT_EQUAL(nc_config_parse_args(&c, 4, argv, err, sizeof(err)), 0);
	CU_ASSERT(c.rejoin_after_leave);
	CU_ASSERT_STRING_EQUAL(c.snapshot_path, "/var/lib/nc/snap");
	nc_config_destroy(&c);
	nc_config_init(&c);
	char *argv2[] = {"agent", "-rejoin=false"};
	CU_ASSERT_EQUAL(nc_config_parse_args(&c, 2, argv2, err, sizeof(err)),
			0);
	CU_ASSERT(!c.rejoin_after_leave);
	CU_ASSERT_EQUAL(nc_config_load_json(&c,
					    "{\"snapshot_path\": \"/s\", "
					    "\"rejoin_after_leave\": true}",
					    err, sizeof(err)),
			0);
	CU_ASSERT(c.rejoin_after_leave);
	CU_ASSERT_STRING_EQUAL(c.snapshot_path, "/s");
	nc_config_destroy(&c);
	/* -rejoin without -snapshot: serf's warning. */
	nc_config_init(&c);
	char *argv3[] = {"agent", "-rejoin"};
	CU_ASSERT_EQUAL(nc_config_parse_args(&c, 2, argv3, err, sizeof(err)),
			0);
	bool warned = false;
	for (size_t i = 0; i < c.warnings_n; i++)
		warned |= strstr(c.warnings[i], "-rejoin") != NULL;
	CU_ASSERT(warned);
	nc_config_destroy(&c);
}

/**
 * The figure behind "the loop only copies": at 10,000 members, a copy of
 * the size snap_capture makes (coordinate cache export + members) against
 * encode + atomic write (what the writer thread does). Printed, not
 * asserted: the machine is shared.
 */
static void
test_cost_10k(void)
{
	enum { N = 10000 };
	struct nc_agent_coords *c =
	    nc_agent_coords_new("self", NULL, NULL, 0.0, NULL, 0);
	struct nc__agent_snap s;
	char path[128], why[256];
	make_snap(&s, N);
	for (size_t i = 0; i < N; i++)
		nc_agent_coords_restore(c, 0.0, &s.coords[i]);
	double best_copy = 1e9, best_write = 1e9;
	for (int r = 0; r < 3; r++) {
		double t0 = mono();
		struct nc_agent_coord_saved *out;
		long n = nc_agent_coords_export(c, 1.0, &out);
		struct nc__agent_snap_member *m = malloc(N * sizeof(*m));
		memcpy(m, s.members, N * sizeof(*m));
		double t1 = mono();
		CU_ASSERT_EQUAL(n, N);
		free(out);
		free(m);
		snprintf(path, sizeof(path), "%s/big.snap", tmpdir);
		double t2 = mono();
		CU_ASSERT_EQUAL(nc__agent_snap_save(path, &s, why, sizeof(why)),
				0);
		double t3 = mono();
		if (t1 - t0 < best_copy)
			best_copy = t1 - t0;
		if (t3 - t2 < best_write)
			best_write = t3 - t2;
	}
	struct stat st;
	stat(path, &st);
	printf("\n  10,000 members: capture-sized copy %.2f ms (on the loop), "
	       "encode + write %.1f ms (writer thread), %.1f MB\n",
	       best_copy * 1e3, best_write * 1e3, (double)st.st_size / 1e6);
	nc__agent_snap_clear(&s);
	nc_agent_coords_delete(c);
}

int
main(void)
{
	if (mkdtemp(tmpdir) == NULL)
		return 2;
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	CU_pSuite s = CU_add_suite("snapshot", NULL, NULL);
	if (s == NULL ||
	    !CU_add_test(s, "coord client export/import",
			 test_coord_roundtrip) ||
	    !CU_add_test(s, "encode/decode, save/load", test_encode_roundtrip) ||
	    !CU_add_test(s, "bad files", test_bad_files) ||
	    !CU_add_test(s, "coordinate cache", test_coords_cache) ||
	    !CU_add_test(s, "-snapshot, -rejoin", test_config) ||
	    !CU_add_test(s, "cost at 10,000 members", test_cost_10k)) {
		CU_cleanup_registry();
		return 2;
	}
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	unsigned failed = CU_get_number_of_failures() +
			  CU_get_number_of_tests_failed();
	CU_cleanup_registry();
	char cmd[160];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", tmpdir);
	return failed == 0 ? 0 : 1;
}
