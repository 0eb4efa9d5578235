/*
 * test_vivaldi.c - coordinate math: distance (with Serf's adjustment sign
 * rule), the spring-force primitive, validity checks and configuration.
 * Expected numbers are those of hashicorp/serf coordinate_test.go.
 */
#include <CUnit/CUnit.h>
#include <math.h>
#include <string.h>

#include "coord/coord.h"
#include "coord/coord_int.h"
#include "test_util.h"

/* Serf's TestCoordinate_DistanceTo pair: |c1 - c2| = 4.104875150354758. */
static const double pair_dist = 4.104875150354758;

static void
make_pair(struct nc_coord *c1, struct nc_coord *c2)
{
	struct nc_coord_config cfg;
	nc_coord_config_default(&cfg);
	cfg.dims = 3;
	cfg.height_min = 0.0;
	nc_coord_init(c1, &cfg);
	nc_coord_init(c2, &cfg);
	c1->vec[0] = -0.5;
	c1->vec[1] = 1.3;
	c1->vec[2] = 2.4;
	c2->vec[0] = 1.2;
	c2->vec[1] = -2.3;
	c2->vec[2] = 3.4;
}

static void
test_distance_euclidean_and_symmetric(void)
{
	struct nc_coord c1, c2;
	make_pair(&c1, &c2);
	CU_ASSERT_DOUBLE_EQUAL(nc_coord_distance(&c1, &c1), 0.0, 1e-12);
	CU_ASSERT_DOUBLE_EQUAL(nc_coord_distance(&c1, &c2), pair_dist, 1e-12);
	CU_ASSERT_DOUBLE_EQUAL(nc_coord_distance(&c2, &c1), pair_dist, 1e-12);
}

static void
test_distance_adjustment_sign_rule(void)
{
	struct nc_coord c1, c2;
	make_pair(&c1, &c2);
	/* A sum that would go negative is ignored: raw value. */
	c1.adjustment = -1.0e6;
	CU_ASSERT_DOUBLE_EQUAL(nc_coord_distance(&c1, &c2), pair_dist, 1e-9);
	/* Negative adjustments that keep it positive are applied. */
	c1.adjustment = -1.0;
	CU_ASSERT_DOUBLE_EQUAL(nc_coord_distance(&c1, &c2), pair_dist - 1.0,
			       1e-12);
	/* Positive adjustments of both ends add up. */
	c1.adjustment = 0.1;
	c2.adjustment = 0.2;
	CU_ASSERT_DOUBLE_EQUAL(nc_coord_distance(&c1, &c2), pair_dist + 0.3,
			       1e-12);
	/* Heights of both ends add up too. */
	c1.height = 0.7;
	c2.height = 0.1;
	CU_ASSERT_DOUBLE_EQUAL(nc_coord_distance(&c1, &c2),
			       pair_dist + 0.3 + 0.8, 1e-12);
	/* The raw distance never includes the adjustment. */
	CU_ASSERT_DOUBLE_EQUAL(nc_coord_raw_distance(&c1, &c2), pair_dist + 0.8,
			       1e-12);
}

static void
test_distance_dimension_mismatch_is_nan(void)
{
	struct nc_coord c1, c2;
	make_pair(&c1, &c2);
	c2.dims = 4;
	CU_ASSERT_TRUE(isnan(nc_coord_distance(&c1, &c2)));
	CU_ASSERT_TRUE(isnan(nc_coord_raw_distance(&c1, &c2)));
	/* Out-of-range dims are never trusted to bound the reads. */
	c1.dims = c2.dims = NC_COORD_DIMS_MAX + 1;
	CU_ASSERT_TRUE(isnan(nc_coord_distance(&c1, &c2)));
	CU_ASSERT_TRUE(
	    isnan(nc_coord_estimate_rtt(NC_COORD_ALGO_NC, &c1, &c2)));
}

static void
test_estimate_per_algo(void)
{
	struct nc_coord c1, c2;
	make_pair(&c1, &c2);
	c1.adjustment = 0.1;
	c2.adjustment = 0.2;
	/* Serf mode predicts with Serf's DistanceTo, NC with raw distance. */
	CU_ASSERT_DOUBLE_EQUAL(
	    nc_coord_estimate_rtt(NC_COORD_ALGO_SERF, &c1, &c2),
	    pair_dist + 0.3, 1e-12);
	CU_ASSERT_DOUBLE_EQUAL(
	    nc_coord_estimate_rtt(NC_COORD_ALGO_NC, &c1, &c2), pair_dist,
	    1e-12);
}

static void
test_apply_force_direction_and_height(void)
{
	struct nc_coord_config cfg;
	struct nc__coord_rng rng;
	struct nc_coord origin, above, right, c;
	nc_coord_config_default(&cfg);
	cfg.dims = 3;
	cfg.height_min = 0.0;
	nc__coord_rng_seed(&rng, 1, NULL, NULL);
	nc_coord_init(&origin, &cfg);
	nc_coord_init(&above, &cfg);
	nc_coord_init(&right, &cfg);
	above.vec[2] = 2.9;
	right.vec[0] = 3.4;
	right.vec[2] = -5.3;

	/* Normalised, pointing away from `above`, scaled by the force. */
	c = origin;
	nc__coord_apply_force(&c, &above, 5.3, cfg.height_min, &rng);
	CU_ASSERT_DOUBLE_EQUAL(c.vec[0], 0.0, 1e-12);
	CU_ASSERT_DOUBLE_EQUAL(c.vec[1], 0.0, 1e-12);
	CU_ASSERT_DOUBLE_EQUAL(c.vec[2], -5.3, 1e-12);
	nc__coord_apply_force(&c, &right, 2.0, cfg.height_min, &rng);
	CU_ASSERT_DOUBLE_EQUAL(c.vec[0], -2.0, 1e-12);
	CU_ASSERT_DOUBLE_EQUAL(c.vec[1], 0.0, 1e-12);
	CU_ASSERT_DOUBLE_EQUAL(c.vec[2], -5.3, 1e-12);

	/* Coincident points: a random direction, one unit away. */
	c = origin;
	nc__coord_apply_force(&c, &origin, 1.0, cfg.height_min, &rng);
	CU_ASSERT_DOUBLE_EQUAL(nc_coord_distance(&origin, &c), 1.0, 1e-12);

	/* Height grows in proportion, and is floored at height_min. */
	cfg.height_min = 10.0e-6;
	nc_coord_init(&origin, &cfg);
	c = origin;
	nc__coord_apply_force(&c, &above, 5.3, cfg.height_min, &rng);
	CU_ASSERT_DOUBLE_EQUAL(c.vec[2], -5.3, 1e-12);
	CU_ASSERT_DOUBLE_EQUAL(
	    c.height, cfg.height_min + 5.3 * cfg.height_min / 2.9, 1e-15);
	c = origin;
	nc__coord_apply_force(&c, &above, -5.3, cfg.height_min, &rng);
	CU_ASSERT_DOUBLE_EQUAL(c.vec[2], 5.3, 1e-12);
	CU_ASSERT_DOUBLE_EQUAL(c.height, cfg.height_min, 1e-15);
}

static void
test_init_and_check(void)
{
	struct nc_coord_config cfg;
	struct nc_coord c;
	nc_coord_config_default(&cfg);
	nc_coord_init(&c, &cfg);
	CU_ASSERT_EQUAL(c.dims, 8);
	CU_ASSERT_DOUBLE_EQUAL(c.error, 1.5, 0.0);
	CU_ASSERT_DOUBLE_EQUAL(c.height, 10.0e-6, 0.0);
	CU_ASSERT_DOUBLE_EQUAL(c.adjustment, 0.0, 0.0);
	for (unsigned i = 0; i < NC_COORD_DIMS_MAX; i++)
		CU_ASSERT_DOUBLE_EQUAL(c.vec[i], 0.0, 0.0);
	CU_ASSERT_EQUAL(nc_coord_check(&c), 0);

	struct nc_coord bad = c;
	bad.vec[7] = NAN;
	CU_ASSERT_EQUAL(nc_coord_check(&bad), NC_COORD_ENOTFINITE);
	bad = c;
	bad.height = INFINITY;
	CU_ASSERT_EQUAL(nc_coord_check(&bad), NC_COORD_ENOTFINITE);
	bad = c;
	bad.error = NAN;
	CU_ASSERT_EQUAL(nc_coord_check(&bad), NC_COORD_ENOTFINITE);
	bad = c;
	bad.adjustment = -INFINITY;
	CU_ASSERT_EQUAL(nc_coord_check(&bad), NC_COORD_ENOTFINITE);
	bad = c;
	bad.dims = 0;
	CU_ASSERT_EQUAL(nc_coord_check(&bad), NC_COORD_EINVAL);
	bad.dims = NC_COORD_DIMS_MAX + 1;
	CU_ASSERT_EQUAL(nc_coord_check(&bad), NC_COORD_EINVAL);
}

static void
test_config_defaults_equal_serf(void)
{
	struct nc_coord_config cfg;
	char err[128];
	nc_coord_config_default(&cfg);
	CU_ASSERT_EQUAL(cfg.algo, NC_COORD_ALGO_NC);
	CU_ASSERT_EQUAL(cfg.dims, 8);
	CU_ASSERT_DOUBLE_EQUAL(cfg.error_max, 1.5, 0.0);
	CU_ASSERT_DOUBLE_EQUAL(cfg.vivaldi_ce, 0.25, 0.0);
	CU_ASSERT_DOUBLE_EQUAL(cfg.vivaldi_cc, 0.25, 0.0);
	CU_ASSERT_EQUAL(cfg.adjustment_window, 20);
	CU_ASSERT_DOUBLE_EQUAL(cfg.height_min, 10.0e-6, 0.0);
	CU_ASSERT_EQUAL(cfg.latency_filter_size, 3);
	CU_ASSERT_DOUBLE_EQUAL(cfg.gravity_rho, 150.0, 0.0);
	CU_ASSERT_EQUAL(nc_coord_config_validate(&cfg, err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(err, "");
}

/* Each bad field is rejected with NC_COORD_EINVAL and named. */
static void
test_config_bad_field_named(void)
{
	struct nc_coord_config cfg;
	char err[128];
	const char *fields[] = {"algo",	       "dims",
				"error_max",   "vivaldi_ce",
				"vivaldi_cc",  "adjustment_window",
				"height_min",  "latency_filter_size",
				"gravity_rho", "peer_cap",
				"relax_peers", "relax_gain"};
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		nc_coord_config_default(&cfg);
		switch (i) {
		case 0:
			cfg.algo = (enum nc_coord_algo)7;
			break;
		case 1:
			cfg.dims = NC_COORD_DIMS_MAX + 1;
			break;
		case 2:
			cfg.error_max = 0.0;
			break;
		case 3:
			cfg.vivaldi_ce = NAN;
			break;
		case 4:
			cfg.vivaldi_cc = 1.5;
			break;
		case 5:
			cfg.adjustment_window = 5000;
			break;
		case 6:
			cfg.height_min = -1.0;
			break;
		case 7:
			cfg.latency_filter_size = 0;
			break;
		case 8:
			cfg.gravity_rho = INFINITY;
			break;
		case 9:
			cfg.peer_cap = 0;
			break;
		case 10:
			cfg.relax_peers = 100000;
			break;
		case 11:
			cfg.relax_gain = 0.0;
			break;
		}
		err[0] = '\0';
		CU_ASSERT_EQUAL(
		    nc_coord_config_validate(&cfg, err, sizeof(err)),
		    NC_COORD_EINVAL);
		CU_ASSERT_PTR_NOT_NULL(strstr(err, fields[i]));
		/* And the client refuses it, with the same message. */
		err[0] = '\0';
		CU_ASSERT_PTR_NULL(nc_coord_client_new(&cfg, err, sizeof(err)));
		CU_ASSERT_PTR_NOT_NULL(strstr(err, fields[i]));
	}
	/* No message buffer is fine. */
	CU_ASSERT_EQUAL(nc_coord_config_validate(&cfg, NULL, 0),
			NC_COORD_EINVAL);
	CU_ASSERT_EQUAL(nc_coord_config_validate(NULL, NULL, 0),
			NC_COORD_EINVAL);
}

static void
test_strerror(void)
{
	CU_ASSERT_STRING_EQUAL(nc_coord_strerror(0), "ok");
	CU_ASSERT_PTR_NOT_NULL(
	    strstr(nc_coord_strerror(NC_COORD_ERANGE), "range"));
	CU_ASSERT_PTR_NOT_NULL(
	    strstr(nc_coord_strerror(NC_COORD_EDIM), "dimensionality"));
	CU_ASSERT_PTR_NOT_NULL(
	    strstr(nc_coord_strerror(NC_COORD_ENOTFINITE), "NaN"));
	CU_ASSERT_STRING_EQUAL(nc_coord_strerror(12345), "unknown error");
}

int
nc_test_vivaldi_register(void)
{
	CU_pSuite s = CU_add_suite("vivaldi", NULL, NULL);
	if (s == NULL ||
	    !CU_add_test(s, "distance_euclidean_and_symmetric",
			 test_distance_euclidean_and_symmetric) ||
	    !CU_add_test(s, "distance_adjustment_sign_rule",
			 test_distance_adjustment_sign_rule) ||
	    !CU_add_test(s, "distance_dimension_mismatch_is_nan",
			 test_distance_dimension_mismatch_is_nan) ||
	    !CU_add_test(s, "estimate_per_algo", test_estimate_per_algo) ||
	    !CU_add_test(s, "apply_force_direction_and_height",
			 test_apply_force_direction_and_height) ||
	    !CU_add_test(s, "init_and_check", test_init_and_check) ||
	    !CU_add_test(s, "config_defaults_equal_serf",
			 test_config_defaults_equal_serf) ||
	    !CU_add_test(s, "config_bad_field_named",
			 test_config_bad_field_named) ||
	    !CU_add_test(s, "strerror", test_strerror))
		return -1;
	return 0;
}
