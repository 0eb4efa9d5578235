/*
 * coord.c - coordinate math and configuration.
 *
 * A coordinate is Serf's: an n-dimensional Euclidean vector plus a height
 * (Dabek et al., "Vivaldi", SIGCOMM 2004, section 5.5: the height models
 * the access link, so a distance is |x_i - x_j| + h_i + h_j) plus a
 * per-node adjustment (Lee et al., "On suitability of Euclidean embedding",
 * ToN 2010) that is added to the distance unless doing so would make it
 * non-positive. All values are seconds, as on Serf's wire.
 *
 * This file holds the stateless parts: distance, validity, the "apply a
 * spring force" primitive that both update rules use, configuration
 * defaults/validation, and the small seedable generator. The update rules
 * live in client.c, the per-peer table in peers.c, ranking in rank.c.
 *
 * Departures from Serf:
 *  - Serf panics on a dimension mismatch; we return NAN from the distance
 *    functions and NC_COORD_EDIM from calls that can fail.
 *  - Serf draws the random direction for coincident coordinates from Go's
 *    global math/rand; we draw it from the client's seeded generator, so a
 *    run is reproducible and several clients can live in one process.
 *  - nc_coord_estimate_rtt() lets the NC algorithm predict RTT differently
 *    from Serf's DistanceTo (see its comment); Serf nodes reading our
 *    coordinate still compute their own DistanceTo on the published fields.
 */
#include "coord/coord.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "coord/coord_int.h"

const char *
nc_coord_strerror(int err)
{
	switch (err) {
	case 0:
		return "ok";
	case NC_COORD_EINVAL:
		return "invalid argument";
	case NC_COORD_ERANGE:
		return "round trip time out of range [0, 10 s]";
	case NC_COORD_ENOTFINITE:
		return "NaN or infinity in coordinate or round trip time";
	case NC_COORD_EDIM:
		return "coordinate dimensionality does not match";
	case NC_COORD_ENOMEM:
		return "out of memory";
	default:
		return "unknown error";
	}
}

void
nc_coord_config_default(struct nc_coord_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->algo = NC_COORD_ALGO_NC;
	/* Serf DefaultConfig(), hashicorp/serf coordinate/config.go. */
	cfg->dims = 8;
	cfg->error_max = 1.5;
	cfg->vivaldi_ce = 0.25;
	cfg->vivaldi_cc = 0.25;
	cfg->adjustment_window = 20;
	cfg->height_min = 10.0e-6;
	cfg->latency_filter_size = 3;
	cfg->gravity_rho = 150.0;
	/* Ours. */
	cfg->peer_cap = 4096;
	cfg->relax_peers = 128;
	cfg->relax_gain = 0.5;
	cfg->seed = 1;
}

static int
config_fail(char *err, size_t err_len, const char *field, const char *why)
{
	if (err != NULL && err_len > 0)
		snprintf(err, err_len, "coord config: %s %s", field, why);
	return NC_COORD_EINVAL;
}

/* True if x is finite and lo < x <= hi (open_lo) or lo <= x <= hi. */
static int
in_range(double x, double lo, double hi, int open_lo)
{
	if (!isfinite(x))
		return 0;
	if (open_lo ? !(x > lo) : !(x >= lo))
		return 0;
	return x <= hi;
}

int
nc_coord_config_validate(const struct nc_coord_config *cfg, char *err,
			 size_t err_len)
{
	if (cfg == NULL)
		return config_fail(err, err_len, "config", "is NULL");
	if (cfg->algo != NC_COORD_ALGO_NC && cfg->algo != NC_COORD_ALGO_SERF)
		return config_fail(err, err_len, "algo", "must be nc or serf");
	if (cfg->dims < 1 || cfg->dims > NC_COORD_DIMS_MAX)
		return config_fail(err, err_len, "dims", "must be in 1..16");
	if (!in_range(cfg->error_max, 0.0, 1.0e6, 1))
		return config_fail(err, err_len, "error_max", "must be > 0");
	if (!in_range(cfg->vivaldi_ce, 0.0, 1.0, 1))
		return config_fail(err, err_len, "vivaldi_ce",
				   "must be in (0, 1]");
	if (!in_range(cfg->vivaldi_cc, 0.0, 1.0, 1))
		return config_fail(err, err_len, "vivaldi_cc",
				   "must be in (0, 1]");
	if (cfg->adjustment_window > 1024)
		return config_fail(err, err_len, "adjustment_window",
				   "must be <= 1024");
	if (!in_range(cfg->height_min, 0.0, 1.0, 0))
		return config_fail(err, err_len, "height_min",
				   "must be in [0, 1] seconds");
	if (cfg->latency_filter_size < 1 || cfg->latency_filter_size > 32)
		return config_fail(err, err_len, "latency_filter_size",
				   "must be in 1..32");
	if (!in_range(cfg->gravity_rho, 0.0, 1.0e9, 1))
		return config_fail(err, err_len, "gravity_rho", "must be > 0");
	if (cfg->peer_cap < 1 || cfg->peer_cap > (1u << 20))
		return config_fail(err, err_len, "peer_cap",
				   "must be in 1..1048576");
	if (cfg->relax_peers > 1024)
		return config_fail(err, err_len, "relax_peers",
				   "must be in 0..1024");
	if (!in_range(cfg->relax_gain, 0.0, 1.0, 1))
		return config_fail(err, err_len, "relax_gain",
				   "must be in (0, 1]");
	if (err != NULL && err_len > 0)
		err[0] = '\0';
	return 0;
}

void
nc_coord_init(struct nc_coord *c, const struct nc_coord_config *cfg)
{
	memset(c, 0, sizeof(*c));
	c->dims = cfg->dims;
	c->error = cfg->error_max;
	c->adjustment = 0.0;
	c->height = cfg->height_min;
}

int
nc_coord_check(const struct nc_coord *c)
{
	if (c == NULL || c->dims < 1 || c->dims > NC_COORD_DIMS_MAX)
		return NC_COORD_EINVAL;
	for (unsigned i = 0; i < c->dims; i++) {
		if (!isfinite(c->vec[i]))
			return NC_COORD_ENOTFINITE;
	}
	if (!isfinite(c->error) || !isfinite(c->adjustment) ||
	    !isfinite(c->height))
		return NC_COORD_ENOTFINITE;
	/* Serf never produces these; a peer that sends them is broken. */
	if (c->error < 0.0 || c->height < 0.0)
		return NC_COORD_EINVAL;
	return 0;
}

double
nc__coord_vec_dist(const struct nc_coord *a, const struct nc_coord *b)
{
	double sum = 0.0;
	for (unsigned i = 0; i < a->dims; i++) {
		double d = a->vec[i] - b->vec[i];
		sum += d * d;
	}
	return sqrt(sum);
}

double
nc_coord_raw_distance(const struct nc_coord *a, const struct nc_coord *b)
{
	/* dims is trusted nowhere else: it bounds the reads of vec. */
	if (a->dims != b->dims || a->dims > NC_COORD_DIMS_MAX)
		return NAN;
	return nc__coord_vec_dist(a, b) + a->height + b->height;
}

double
nc_coord_distance(const struct nc_coord *a, const struct nc_coord *b)
{
	double raw = nc_coord_raw_distance(a, b);
	double adj = raw + a->adjustment + b->adjustment;
	/* Serf: use the adjusted value only while it stays positive. */
	return adj > 0.0 ? adj : raw;
}

/*
 * NC estimate. The NC client fits its raw distance (vector + heights) to
 * the filtered RTTs directly, with a force that weighs relative error on
 * short links (client.c), so its raw distance already is the best
 * predictor and the adjustment - which the NC client still publishes for
 * Serf peers - is not added: a window mean of (rtt - raw) is a per-node
 * constant of several ms that would swamp the sub-millisecond distances
 * that decide who is nearest.
 */
double
nc_coord_estimate_rtt(enum nc_coord_algo algo, const struct nc_coord *a,
		      const struct nc_coord *b)
{
	if (algo == NC_COORD_ALGO_SERF)
		return nc_coord_distance(a, b);
	return nc_coord_raw_distance(a, b);
}

void
nc__coord_apply_force(struct nc_coord *c, const struct nc_coord *other,
		      double force, double height_min,
		      struct nc__coord_rng *rng)
{
	double unit[NC_COORD_DIMS_MAX];
	unsigned n = c->dims;
	double mag = nc__coord_vec_dist(c, other);

	if (mag > NC__COORD_ZERO) {
		for (unsigned i = 0; i < n; i++)
			unit[i] = (c->vec[i] - other->vec[i]) / mag;
	} else {
		/* Coincident: pick a random direction (Serf: each
		 * component uniform in [-0.5, 0.5), then normalised). */
		double m = 0.0;
		for (unsigned i = 0; i < n; i++) {
			unit[i] = nc__coord_rng_double(rng) - 0.5;
			m += unit[i] * unit[i];
		}
		m = sqrt(m);
		if (m > NC__COORD_ZERO) {
			for (unsigned i = 0; i < n; i++)
				unit[i] /= m;
		} else {
			/* Exceedingly rare; Serf falls back to axis 0. */
			memset(unit, 0, sizeof(unit));
			unit[0] = 1.0;
		}
	}
	for (unsigned i = 0; i < n; i++)
		c->vec[i] += unit[i] * force;
	/* Heights move only when the spring has a length (as in Serf). */
	if (mag > NC__COORD_ZERO) {
		c->height += (c->height + other->height) * force / mag;
		if (!(c->height > height_min))
			c->height = height_min;
	}
}

void
nc__coord_rng_seed(struct nc__coord_rng *rng, uint64_t seed,
		   nc_coord_rand_cb cb, void *arg)
{
	nc_rng_seed(&rng->rng, seed);
	rng->cb = cb;
	rng->arg = arg;
}

uint64_t
nc__coord_rng_next(struct nc__coord_rng *rng)
{
	if (rng->cb != NULL)
		return rng->cb(rng->arg);
	return nc_rng_next(&rng->rng);
}

double
nc__coord_rng_double(struct nc__coord_rng *rng)
{
	return nc_rng_double_of(nc__coord_rng_next(rng));
}
