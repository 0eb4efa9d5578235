/*
 * test_client.c - the coordinate client: Serf-mode updates reproduce
 * hashicorp/serf's Client step for step (golden values from an independent
 * re-implementation of client.go), the latency filter, the adjustment
 * window, gravity, input validation with its error codes and counters,
 * resets, the bounded peer table, and determinism.
 */
#include <CUnit/CUnit.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "coord/coord.h"
#include "coord/coord_int.h"
#include "test_util.h"

static struct nc_coord_client *
new_client(enum nc_coord_algo algo, unsigned dims)
{
	struct nc_coord_config cfg;
	nc_coord_config_default(&cfg);
	cfg.algo = algo;
	cfg.dims = dims;
	struct nc_coord_client *c = nc_coord_client_new(&cfg, NULL, 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	return c;
}

/* One observation of the golden sequence. */
struct golden_step {
	const char *name;
	double vec[3], error, adjustment, height, rtt;
	/* Expected client state after the update. */
	double out_vec[3], out_height, out_error, out_adj;
	/* Expected adjustment with a 2-sample window. */
	double out_adj_win2;
};

/*
 * Four updates from a non-origin start (so that no random direction is
 * drawn); the fourth exercises the median of three samples of "a"
 * (0.030, 0.020, 0.090 -> 0.030). Expected values computed with a direct
 * transcription of serf coordinate/client.go in Python, float64.
 */
/* clang-format off */
static const struct golden_step golden[] = {
	{"a", {0.0, 0.0, 0.001}, 0.5, 0.0, 2e-5, 0.030,
	 {0.010598780312542421, -0.021197560625084842, 0.0052395110311824573},
	 1.1796351875972365e-05, 1.2640897913549931, 0.00014730941251078766,
	 0.0014730941251078766},
	{"b", {0.03, 0.01, -0.01}, 0.2, 0.001, 5e-4, 0.045,
	 {0.010223168735965847, -0.021801508831767111, 0.0055345358461396177},
	 2.1704495374198073e-05, 1.0083482976825278, 0.00024567722535086126,
	 0.0025292355190682271},
	{"a", {0.0, 0.002, 0.001}, 0.4, 0.0, 2e-5, 0.020,
	 {0.010460752798878576, -0.022354652673288459, 0.0056399162472519308},
	 2.2673709713291565e-05, 0.8482322085879922, 0.0003218795419704065,
	 0.0019556003916149662},
	{"a", {0.0, 0.002, 0.001}, 0.4, 0.0, 2e-5, 0.090,
	 {0.010640787224912757, -0.022773809951726856, 0.0057197701827508629},
	 2.340815595957824e-05, 0.71956724780643322, 0.0003864854201504832,
	 0.0017295435296714925},
};
/* clang-format on */

static void
run_golden(unsigned window)
{
	struct nc_coord_config cfg;
	nc_coord_config_default(&cfg);
	cfg.algo = NC_COORD_ALGO_SERF;
	cfg.dims = 3;
	cfg.adjustment_window = window;
	struct nc_coord_client *c = nc_coord_client_new(&cfg, NULL, 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	struct nc_coord start;
	nc_coord_client_get(c, &start);
	start.vec[0] = 0.01;
	start.vec[1] = -0.02;
	start.vec[2] = 0.005;
	CU_ASSERT_EQUAL(nc_coord_client_set(c, &start), 0);

	for (size_t i = 0; i < sizeof(golden) / sizeof(golden[0]); i++) {
		const struct golden_step *g = &golden[i];
		struct nc_coord peer, out;
		nc_coord_init(&peer, &cfg);
		memcpy(peer.vec, g->vec, sizeof(g->vec));
		peer.error = g->error;
		peer.adjustment = g->adjustment;
		peer.height = g->height;
		CU_ASSERT_EQUAL(
		    nc_coord_client_update(c, g->name, &peer, g->rtt, &out), 0);
		if (window == 2) {
			/* The adjustment feeds Serf's next spring step, so
			 * only the adjustments are comparable. */
			CU_ASSERT_DOUBLE_EQUAL(out.adjustment, g->out_adj_win2,
					       1e-15);
			continue;
		}
		for (int d = 0; d < 3; d++)
			CU_ASSERT_DOUBLE_EQUAL(out.vec[d], g->out_vec[d],
					       1e-15);
		CU_ASSERT_DOUBLE_EQUAL(out.height, g->out_height, 1e-17);
		CU_ASSERT_DOUBLE_EQUAL(out.error, g->out_error, 1e-13);
		CU_ASSERT_DOUBLE_EQUAL(out.adjustment, g->out_adj, 1e-15);
	}
	nc_coord_client_delete(c);
}

static void
test_serf_update_matches_serf(void)
{
	run_golden(20);
}

static void
test_adjustment_window(void)
{
	/* Window of 2: the first sample drops out at the third update. */
	run_golden(2);

	/* Window 0 disables the adjustment altogether. */
	struct nc_coord_config cfg;
	nc_coord_config_default(&cfg);
	cfg.adjustment_window = 0;
	for (int a = 0; a < 2; a++) {
		cfg.algo = a ? NC_COORD_ALGO_SERF : NC_COORD_ALGO_NC;
		struct nc_coord_client *c = nc_coord_client_new(&cfg, NULL, 0);
		struct nc_coord peer, out;
		nc_coord_init(&peer, &cfg);
		peer.vec[0] = 0.01;
		for (int i = 0; i < 5; i++)
			nc_coord_client_update(c, "p", &peer, 0.05, &out);
		CU_ASSERT_DOUBLE_EQUAL(out.adjustment, 0.0, 0.0);
		nc_coord_client_delete(c);
	}
}

/* Serf's TestClient_Update: a peer above us, further than it looks. */
static void
test_update_moves_away_when_too_close(void)
{
	for (int a = 0; a < 2; a++) {
		struct nc_coord_client *c =
		    new_client(a ? NC_COORD_ALGO_SERF : NC_COORD_ALGO_NC, 3);
		struct nc_coord me, other, out;
		nc_coord_client_get(c, &me);
		for (int d = 0; d < 3; d++)
			CU_ASSERT_DOUBLE_EQUAL(me.vec[d], 0.0, 0.0);
		other = me;
		other.vec[2] = 0.001;
		CU_ASSERT_EQUAL(nc_coord_client_update(c, "node", &other,
						       2.0 * other.vec[2],
						       &out),
				0);
		CU_ASSERT_TRUE(out.vec[2] < 0.0);
		CU_ASSERT_DOUBLE_EQUAL(out.vec[0], 0.0, 1e-15);
		/* And a known state can be forced. */
		out.vec[2] = 99.0;
		CU_ASSERT_EQUAL(nc_coord_client_set(c, &out), 0);
		nc_coord_client_get(c, &me);
		CU_ASSERT_DOUBLE_EQUAL(me.vec[2], 99.0, 0.0);
		nc_coord_client_delete(c);
	}
}

static void
test_estimate_from_client(void)
{
	struct nc_coord_config cfg;
	nc_coord_config_default(&cfg);
	cfg.dims = 3;
	cfg.height_min = 0.0;
	for (int a = 0; a < 2; a++) {
		cfg.algo = a ? NC_COORD_ALGO_SERF : NC_COORD_ALGO_NC;
		struct nc_coord_client *c = nc_coord_client_new(&cfg, NULL, 0);
		struct nc_coord other;
		nc_coord_init(&other, &cfg);
		other.vec[2] = 12.345;
		CU_ASSERT_DOUBLE_EQUAL(nc_coord_client_estimate_rtt(c, &other),
				       12.345, 1e-12);
		CU_ASSERT_EQUAL(nc_coord_client_config(c)->algo, cfg.algo);
		nc_coord_client_delete(c);
	}
}

/* Serf's TestClient_latencyFilter, sample for sample. */
static void
test_latency_filter_median(void)
{
	struct nc_coord_client *c = new_client(NC_COORD_ALGO_SERF, 8);
	static const double in[] = {0.201, 0.200, 0.207, 1.9,
				    0.203, 0.199, 0.211};
	static const double want[] = {0.201, 0.201, 0.201, 0.207,
				      0.207, 0.203, 0.203};
	for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
		double got = nc__coord_client_filter(c, "alice", in[i]);
		CU_ASSERT_DOUBLE_EQUAL(got, want[i], 0.0);
		if (got != want[i])
			printf("\n  filter step %zu: got %g want %g", i, got,
			       want[i]);
	}
	/* Peers are not coupled. */
	CU_ASSERT_DOUBLE_EQUAL(nc__coord_client_filter(c, "bob", 0.310), 0.310,
			       0.0);
	/* Forgetting drops the history. */
	CU_ASSERT_EQUAL(nc_coord_client_forget(c, "alice"), 1);
	CU_ASSERT_EQUAL(nc_coord_client_forget(c, "alice"), 0);
	CU_ASSERT_DOUBLE_EQUAL(nc__coord_client_filter(c, "alice", 0.888),
			       0.888, 0.0);
	nc_coord_client_delete(c);

	/* NC: two samples give the smaller one (queueing only adds). */
	c = new_client(NC_COORD_ALGO_NC, 8);
	CU_ASSERT_DOUBLE_EQUAL(nc__coord_client_filter(c, "x", 0.050), 0.050,
			       0.0);
	CU_ASSERT_DOUBLE_EQUAL(nc__coord_client_filter(c, "x", 0.090), 0.050,
			       0.0);
	CU_ASSERT_DOUBLE_EQUAL(nc__coord_client_filter(c, "x", 0.060), 0.060,
			       0.0);
	nc_coord_client_delete(c);
}

/*
 * Gravity: a client 1 s from the origin, updated by a peer at the origin
 * whose RTT matches the current distance exactly (no spring force, zero
 * adjustment sample), moves toward the origin by (d / rho)^2.
 */
static void
test_gravity_pulls_to_origin(void)
{
	for (int a = 0; a < 2; a++) {
		struct nc_coord_config cfg;
		nc_coord_config_default(&cfg);
		cfg.algo = a ? NC_COORD_ALGO_SERF : NC_COORD_ALGO_NC;
		cfg.dims = 2;
		struct nc_coord_client *c = nc_coord_client_new(&cfg, NULL, 0);
		struct nc_coord me, peer, out;
		nc_coord_client_get(c, &me);
		me.vec[0] = 1.0;
		CU_ASSERT_EQUAL(nc_coord_client_set(c, &me), 0);
		nc_coord_init(&peer, &cfg);
		double d = 1.0 + 2.0 * cfg.height_min;
		CU_ASSERT_EQUAL(nc_coord_client_update(c, "o", &peer, d, &out),
				0);
		double pull = (d / cfg.gravity_rho) * (d / cfg.gravity_rho);
		CU_ASSERT_DOUBLE_EQUAL(out.vec[0], 1.0 - pull, 1e-12);
		CU_ASSERT_DOUBLE_EQUAL(out.vec[1], 0.0, 1e-15);
		CU_ASSERT_DOUBLE_EQUAL(out.height, cfg.height_min, 1e-12);
		CU_ASSERT_DOUBLE_EQUAL(out.adjustment, 0.0, 1e-12);
		nc_coord_client_delete(c);
	}
}

/* Every bad input has its own code, changes nothing, and is counted. */
static void
test_invalid_input_rejected(void)
{
	for (int a = 0; a < 2; a++) {
		struct nc_coord_client *c =
		    new_client(a ? NC_COORD_ALGO_SERF : NC_COORD_ALGO_NC, 8);
		struct nc_coord before, after, peer, bad;
		nc_coord_client_get(c, &before);
		nc_coord_client_get(c, &peer);
		peer.vec[0] = 0.01;
		char longname[NC_COORD_NAME_MAX + 2];
		memset(longname, 'x', sizeof(longname) - 1);
		longname[sizeof(longname) - 1] = '\0';

		CU_ASSERT_EQUAL(
		    nc_coord_client_update(c, "p", &peer, -0.001, NULL),
		    NC_COORD_ERANGE);
		CU_ASSERT_EQUAL(
		    nc_coord_client_update(c, "p", &peer, 10.001, NULL),
		    NC_COORD_ERANGE);
		CU_ASSERT_EQUAL(
		    nc_coord_client_update(c, "p", &peer, NAN, NULL),
		    NC_COORD_ENOTFINITE);
		CU_ASSERT_EQUAL(
		    nc_coord_client_update(c, "p", &peer, INFINITY, NULL),
		    NC_COORD_ENOTFINITE);
		bad = peer;
		bad.vec[3] = NAN;
		CU_ASSERT_EQUAL(
		    nc_coord_client_update(c, "p", &bad, 0.01, NULL),
		    NC_COORD_ENOTFINITE);
		bad = peer;
		bad.height = INFINITY;
		CU_ASSERT_EQUAL(
		    nc_coord_client_update(c, "p", &bad, 0.01, NULL),
		    NC_COORD_ENOTFINITE);
		bad = peer;
		bad.error = NAN;
		CU_ASSERT_EQUAL(
		    nc_coord_client_update(c, "p", &bad, 0.01, NULL),
		    NC_COORD_ENOTFINITE);
		bad = peer;
		bad.adjustment = -INFINITY;
		CU_ASSERT_EQUAL(
		    nc_coord_client_update(c, "p", &bad, 0.01, NULL),
		    NC_COORD_ENOTFINITE);
		bad = peer;
		bad.height = -0.001;
		CU_ASSERT_EQUAL(
		    nc_coord_client_update(c, "p", &bad, 0.01, NULL),
		    NC_COORD_EINVAL);
		bad = peer;
		bad.error = -1.0;
		CU_ASSERT_EQUAL(
		    nc_coord_client_update(c, "p", &bad, 0.01, NULL),
		    NC_COORD_EINVAL);
		bad = peer;
		bad.dims = 3;
		CU_ASSERT_EQUAL(
		    nc_coord_client_update(c, "p", &bad, 0.01, NULL),
		    NC_COORD_EDIM);
		CU_ASSERT_EQUAL(
		    nc_coord_client_update(c, NULL, &peer, 0.01, NULL),
		    NC_COORD_EINVAL);
		CU_ASSERT_EQUAL(
		    nc_coord_client_update(c, "", &peer, 0.01, NULL),
		    NC_COORD_EINVAL);
		CU_ASSERT_EQUAL(
		    nc_coord_client_update(c, longname, &peer, 0.01, NULL),
		    NC_COORD_EINVAL);
		CU_ASSERT_EQUAL(
		    nc_coord_client_update(c, "p", NULL, 0.01, NULL),
		    NC_COORD_EINVAL);
		nc_coord_client_get(c, &after);
		CU_ASSERT_EQUAL(memcmp(&before, &after, sizeof(before)), 0);

		struct nc_coord_stats st;
		nc_coord_client_stats(c, &st);
		CU_ASSERT_EQUAL(st.rejected, 15);
		CU_ASSERT_EQUAL(st.updates, 0);
		CU_ASSERT_EQUAL(st.peers, 0);

		/* Set refuses the same things. */
		bad = peer;
		bad.vec[0] = NAN;
		CU_ASSERT_EQUAL(nc_coord_client_set(c, &bad),
				NC_COORD_ENOTFINITE);
		bad = peer;
		bad.dims = 4;
		CU_ASSERT_EQUAL(nc_coord_client_set(c, &bad), NC_COORD_EDIM);

		/* The edges of the RTT range are accepted (zero RTT too). */
		CU_ASSERT_EQUAL(
		    nc_coord_client_update(c, "p", &peer, 10.0, NULL), 0);
		CU_ASSERT_EQUAL(
		    nc_coord_client_update(c, "q", &peer, 0.0, NULL), 0);
		nc_coord_client_stats(c, &st);
		CU_ASSERT_EQUAL(st.updates, 2);
		CU_ASSERT_EQUAL(st.peers, 2);
		nc_coord_client_get(c, &after);
		CU_ASSERT_EQUAL(nc_coord_check(&after), 0);
		nc_coord_client_delete(c);
	}
}

/*
 * Poison the state (a coordinate so large that distances overflow) and
 * check that the next update resets to a fresh coordinate and counts it.
 */
static void
test_reset_counted(void)
{
	for (int a = 0; a < 2; a++) {
		struct nc_coord_config cfg;
		nc_coord_config_default(&cfg);
		cfg.algo = a ? NC_COORD_ALGO_SERF : NC_COORD_ALGO_NC;
		struct nc_coord_client *c = nc_coord_client_new(&cfg, NULL, 0);
		struct nc_coord me, peer, out, fresh;
		nc_coord_client_get(c, &me);
		me.vec[0] = 1e308;
		me.vec[1] = -1e308;
		CU_ASSERT_EQUAL(nc_coord_client_set(c, &me), 0);
		nc_coord_init(&peer, &cfg);
		CU_ASSERT_EQUAL(
		    nc_coord_client_update(c, "p", &peer, 0.1, &out), 0);
		nc_coord_init(&fresh, &cfg);
		CU_ASSERT_EQUAL(memcmp(&out, &fresh, sizeof(out)), 0);
		struct nc_coord_stats st;
		nc_coord_client_stats(c, &st);
		CU_ASSERT_EQUAL(st.resets, 1);
		CU_ASSERT_EQUAL(st.updates, 1);
		nc_coord_client_delete(c);
	}
}

/* The peer table is bounded: the least recently updated peer goes. */
static void
test_peer_cap_evicts_oldest(void)
{
	struct nc_coord_config cfg;
	nc_coord_config_default(&cfg);
	cfg.peer_cap = 3;
	struct nc_coord_client *c = nc_coord_client_new(&cfg, NULL, 0);
	struct nc_coord_stats st;
	nc__coord_client_filter(c, "a", 0.010);
	nc__coord_client_filter(c, "b", 0.020);
	nc__coord_client_filter(c, "c", 0.030);
	nc__coord_client_filter(c, "a", 0.011); /* a is now the newest */
	nc__coord_client_filter(c, "d", 0.040); /* evicts b */
	nc_coord_client_stats(c, &st);
	CU_ASSERT_EQUAL(st.peers, 3);
	CU_ASSERT_EQUAL(st.evictions, 1);
	/* a kept its history (min of 0.010, 0.011 plus 0.100 -> median). */
	CU_ASSERT_DOUBLE_EQUAL(nc__coord_client_filter(c, "a", 0.100), 0.011,
			       0.0);
	/* b starts over (and evicts c, now the oldest). */
	CU_ASSERT_DOUBLE_EQUAL(nc__coord_client_filter(c, "b", 0.500), 0.500,
			       0.0);
	CU_ASSERT_EQUAL(nc_coord_client_forget(c, "c"), 0);
	CU_ASSERT_EQUAL(nc_coord_client_forget(c, "d"), 1);
	nc_coord_client_stats(c, &st);
	CU_ASSERT_EQUAL(st.peers, 2);
	CU_ASSERT_EQUAL(st.evictions, 2);
	nc_coord_client_delete(c);

	/* Churn through many more peers than the cap, with updates. */
	cfg.peer_cap = 16;
	c = nc_coord_client_new(&cfg, NULL, 0);
	struct nc_coord peer;
	nc_coord_init(&peer, &cfg);
	for (int i = 0; i < 1000; i++) {
		char name[16];
		snprintf(name, sizeof(name), "n%d", i % 100);
		peer.vec[0] = 0.001 * (i % 100);
		CU_ASSERT_EQUAL(
		    nc_coord_client_update(c, name, &peer, 0.05, NULL), 0);
		if (i % 7 == 0)
			nc_coord_client_forget(c, name);
	}
	nc_coord_client_stats(c, &st);
	CU_ASSERT_TRUE(st.peers <= 16);
	CU_ASSERT_TRUE(st.evictions > 0);
	nc_coord_client_delete(c);
}

/*
 * The peer table against a reference model: random touches and removals
 * of 200 names in a table of 37, checked after every operation (lookup of
 * every name, LRU victim choice, hot rows following their entries).
 */
static void
test_peer_table_matches_model(void)
{
	enum { NAMES = 200, CAP = 37, OPS = 20000 };
	struct nc__coord_peers t;
	CU_ASSERT_EQUAL_FATAL(nc__coord_peers_create(&t, CAP, 3, 2), 0);
	/* Model: last-use tick per name, 0 = absent. */
	static unsigned long long used[NAMES];
	memset(used, 0, sizeof(used));
	unsigned long long tick = 0;
	uint64_t x = 12345;
	int ok = 1;
	for (int op = 0; op < OPS && ok; op++) {
		x = x * 6364136223846793005ULL + 1442695040888963407ULL;
		unsigned k = (unsigned)(x >> 33) % NAMES;
		char name[16];
		snprintf(name, sizeof(name), "peer-%u", k);
		if ((x >> 20) % 4 == 0) {
			int had = used[k] != 0;
			ok &= nc__coord_peers_remove(&t, name) == had;
			used[k] = 0;
		} else {
			if (used[k] == 0) {
				unsigned live = 0, oldest = NAMES;
				for (unsigned i = 0; i < NAMES; i++) {
					if (used[i] == 0)
						continue;
					live++;
					if (oldest == NAMES ||
					    used[i] < used[oldest])
						oldest = i;
				}
				if (live == CAP)
					used[oldest] = 0;
			}
			struct nc__coord_peer *p =
			    nc__coord_peers_touch(&t, name);
			ok &= p != NULL && strcmp(p->name, name) == 0;
			/* Tag the hot row with the name's number. */
			nc__coord_peers_hot(&t, p)[0] = (double)k;
			used[k] = ++tick;
		}
		unsigned live = 0;
		for (unsigned i = 0; i < NAMES && ok; i++) {
			snprintf(name, sizeof(name), "peer-%u", i);
			struct nc__coord_peer *p =
			    nc__coord_peers_find(&t, name);
			ok &= (p != NULL) == (used[i] != 0);
			if (p != NULL) {
				live++;
				ok &=
				    nc__coord_peers_hot(&t, p)[0] == (double)i;
			}
		}
		ok &= live == t.n;
	}
	CU_ASSERT_TRUE(ok);
	CU_ASSERT_TRUE(t.evictions > 0);
	nc__coord_peers_destroy(&t);
}

/* Counts calls of an injected generator. */
static uint64_t
counting_rand(void *arg)
{
	uint64_t *n = arg;
	return ++*n * 0x9e3779b97f4a7c15ULL;
}

static void
test_injected_rng_used(void)
{
	uint64_t calls = 0;
	struct nc_coord_config cfg;
	nc_coord_config_default(&cfg);
	cfg.rand_cb = counting_rand;
	cfg.rand_arg = &calls;
	struct nc_coord_client *c = nc_coord_client_new(&cfg, NULL, 0);
	struct nc_coord peer;
	nc_coord_init(&peer, &cfg);
	/* Both at the origin: a random direction is needed. */
	CU_ASSERT_EQUAL(nc_coord_client_update(c, "p", &peer, 0.05, NULL), 0);
	CU_ASSERT_TRUE(calls > 0);
	nc_coord_client_delete(c);
}

/* Same seed, same coordinates (bit for bit); another seed, others. */
static void
test_determinism(void)
{
	struct nc_test_matrix m;
	nc_test_matrix_split(&m, 12, 0.001, 0.010);
	struct nc_coord a[12], b[12], x[12];
	for (int al = 0; al < 2; al++) {
		struct nc_coord_config cfg;
		nc_coord_config_default(&cfg);
		cfg.algo = al ? NC_COORD_ALGO_SERF : NC_COORD_ALGO_NC;
		cfg.seed = 42;
		CU_ASSERT_EQUAL(nc_test_simulate(&m, &cfg, NULL, 30, 7, a), 0);
		CU_ASSERT_EQUAL(nc_test_simulate(&m, &cfg, NULL, 30, 7, b), 0);
		CU_ASSERT_EQUAL(memcmp(a, b, sizeof(a)), 0);
		cfg.seed = 43;
		CU_ASSERT_EQUAL(nc_test_simulate(&m, &cfg, NULL, 30, 7, x), 0);
		CU_ASSERT_NOT_EQUAL(memcmp(a, x, sizeof(a)), 0);
	}
	nc_test_matrix_free(&m);
}

static void
test_stats_measured_error(void)
{
	struct nc_test_matrix m;
	nc_test_matrix_line(&m, 6, 0.010);
	struct nc_coord_config cfg;
	nc_coord_config_default(&cfg);
	struct nc_coord_client *c = nc_coord_client_new(&cfg, NULL, 0);
	struct nc_coord_stats st;
	nc_coord_client_stats(c, &st);
	CU_ASSERT_DOUBLE_EQUAL(st.measured_error, 0.0, 0.0);
	struct nc_coord peer;
	nc_coord_init(&peer, &cfg);
	nc_coord_client_update(c, "p", &peer, 0.02, NULL);
	nc_coord_client_stats(c, &st);
	/* First estimate: 2 * height_min vs 20 ms, relative error ~1. */
	CU_ASSERT_DOUBLE_EQUAL(st.measured_error, 1.0, 0.01);
	CU_ASSERT_EQUAL(st.solves, 1);
	nc_coord_client_delete(c);
	nc_test_matrix_free(&m);
}

int
nc_test_client_register(void)
{
	CU_pSuite s = CU_add_suite("client", NULL, NULL);
	if (s == NULL ||
	    !CU_add_test(s, "serf_update_matches_serf",
			 test_serf_update_matches_serf) ||
	    !CU_add_test(s, "adjustment_window", test_adjustment_window) ||
	    !CU_add_test(s, "update_moves_away_when_too_close",
			 test_update_moves_away_when_too_close) ||
	    !CU_add_test(s, "estimate_from_client",
			 test_estimate_from_client) ||
	    !CU_add_test(s, "latency_filter_median",
			 test_latency_filter_median) ||
	    !CU_add_test(s, "gravity_pulls_to_origin",
			 test_gravity_pulls_to_origin) ||
	    !CU_add_test(s, "invalid_input_rejected",
			 test_invalid_input_rejected) ||
	    !CU_add_test(s, "reset_counted", test_reset_counted) ||
	    !CU_add_test(s, "peer_cap_evicts_oldest",
			 test_peer_cap_evicts_oldest) ||
	    !CU_add_test(s, "peer_table_matches_model",
			 test_peer_table_matches_model) ||
	    !CU_add_test(s, "injected_rng_used", test_injected_rng_used) ||
	    !CU_add_test(s, "determinism", test_determinism) ||
	    !CU_add_test(s, "stats_measured_error", test_stats_measured_error))
		return -1;
	return 0;
}
