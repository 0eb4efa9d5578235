/*
 * client.c - the coordinate client: one node's Vivaldi estimator.
 *
 * Two update rules share this file, chosen by cfg->algo.
 *
 * NC_COORD_ALGO_SERF reproduces hashicorp/serf coordinate.Client.Update
 * step for step: per-peer moving median of the last latency_filter_size
 * RTTs; Vivaldi with height vectors and adaptive timestep (Dabek et al.
 * 2004, sections 4.3 and 5.5): w = e_i / (e_i + e_j), error estimate
 * e_i <- ce*w*|d-r|/r + e_i*(1 - ce*w) capped at error_max, spring force
 * cc*w*(r - d) where d includes the adjustments; then the adjustment term
 * (Lee et al. 2010: half the mean of (r - raw distance) over a window of
 * the last adjustment_window samples); then gravity toward the origin
 * (Ledlie et al. 2007: force -(|x|/rho)^2); finally a reset to a fresh
 * coordinate if anything became NaN/Inf (counted, Serf's Resets). The
 * only differences, none of which changes a converged coordinate: Serf
 * rounds RTTs and the distances it feeds back to whole nanoseconds
 * (time.Duration), we keep doubles; the random direction for coincident
 * coordinates comes from our seeded generator, not Go's math/rand; the
 * per-peer filter state is bounded (peer_cap, LRU eviction) where Serf's
 * map is not; and peers with a negative error or height, which Serf never
 * sends, are rejected. Golden values in tests/coord/test_client.c pin the
 * arithmetic to Serf's.
 *
 * NC_COORD_ALGO_NC (the default) keeps the same coordinate, units,
 * error-estimate rule, adjustment, gravity and reset, and replaces the
 * single spring step by a small local solve. What it fixes, as measured
 * with `netcoord sim` on the 490-node PlanetLab matrix (1000 rounds,
 * seed 1; Serf -> NC: median relative error 0.081 -> 0.063, p90 0.38 ->
 * 0.22, nearest peer right 11% -> 44% of the time):
 *
 *  1. One spring step per probe is a noisy stochastic gradient with a
 *     fixed step: with one probe per round a node meets a given peer about
 *     twice in 1000 rounds, and every other measurement it ever made is
 *     forgotten. Instead, every probed peer leaves (filtered RTT, last
 *     coordinate) in the bounded peer table (peers.c), and after each
 *     probe we minimise
 *         E(x, h) = sum_j w_j (|x - x_j| + h + h_j - r_j)^2
 *     over a sample of relax_peers remembered peers: one majorization
 *     step for the vector (the SMACOF / Guttman transform for a single
 *     point: x <- sum_j w_j (x_j + t_j u_j) / sum_j w_j, with t_j = r_j - h
 *     - h_j the vector length the height model leaves, u_j the unit vector
 *     from x_j to x), then the exact least-squares height given the
 *     new x (h <- sum_j w_j (r_j - |x - x_j| - h_j) / sum_j w_j, floored
 *     at height_min, capped while lost - see below). Majorization never
 *     increases E, so unlike Vivaldi's step it needs no timestep;
 *     relax_gain damps it because every peer moves at the same time.
 *     Three guards keep the solve out of traps that a small cluster
 *     (4 agents, 2 ms pairs 60 ms apart: three peers each, the 2 ms one
 *     carrying ~3/4 of the weight) walked into in ~1 start in 12 and sat
 *     in for 30-60 s - every estimate 15-30 ms, 60 ms links included
 *     (tests/coord/test_small.c tells the story):
 *     a. The two steps are taken in turn (block coordinate descent), the
 *        height on the distances after the vector step. t_j already
 *        leaves h in, so refitting h on the old distances closed the same
 *        mean residual twice: the overshoot drained vector length into
 *        the heights until the nodes sat together on 5-15 ms heights.
 *     b. While we are lost (error > NC_HEIGHT_CAP_ERROR) the height is
 *        capped at min_j (r_j - h_j) over the sample: both access links
 *        lie on every path, so h + h_j <= r_j (Dabek et al. 2004, 5.5).
 *        A height above that only overestimates the nearest peer, and it
 *        is how the trap above holds: the short link pulls the vectors
 *        together and the far links then push the height up; capped, the
 *        far links must be carried by the vector.
 *     c. Fresh coordinates all sit at the origin, and a unit vector u_j
 *        from a peer only a fraction of a ms away, with tens of ms to put
 *        between us, is noise - yet it fixes the line along which both
 *        nodes then move. From one coincident random draw on, the whole
 *        cluster stayed on one line, where two nodes that belong
 *        together but land on opposite sides of a third cannot meet
 *        without crossing it (a fold). So while our offset m from x_j is
 *        below NC_DIR_BLUR * t_j, a random vector of length
 *        NC_DIR_BLUR * t_j - m is added to it before normalising (the
 *        exactly coincident case is Serf's random direction). A settled
 *        fit has m ~ t_j: nothing changes there.
 *     Measured on the 4-agent cluster (simulated, random schedules): runs
 *     still off by >50% 20 s after start 9-36% -> 0%, probes per agent
 *     until every pair is within 20% ~25 -> ~17; PlanetLab-490 within
 *     noise (see README).
 *  2. Weights follow relative rather than absolute error on short links:
 *     w_j = 1 / sqrt(max(r_j, 1 ms)). Vivaldi minimises absolute error,
 *     so a 0.2 ms link predicted at 5 ms barely pulls, while it decides
 *     "who is nearest". Exponent 1/2 sits between absolute (0) and
 *     relative (2 gives the median pair away to the shortest links).
 *  3. Stale memories count less: w_j is divided by (e_j + 0.01)^2 where
 *     e_j is the error estimate the peer published with the coordinate we
 *     remember. A coordinate cached in a peer's first rounds (e ~ 1.5)
 *     weighs ~1/250 of a converged one (e ~ 0.08); without this the
 *     median error is ~50% higher at 100 rounds and ~14% at 1000. And
 *     memories fade with age while the embedding is still forming (see
 *     NC_MEMORY_TAU).
 *  4. Distances use the raw (unadjusted) distance, in the solve and in
 *     nc_coord_estimate_rtt(). The adjustment is still computed exactly as
 *     Serf does and published, so a Serf peer's DistanceTo on our
 *     coordinate means what it expects; but a per-node constant of 16-20
 *     ms swamps the sub-millisecond distances that rank neighbours.
 *  5. Latency filter: with two samples Serf's "median" is the larger; we
 *     take the smaller (queueing only ever adds delay). From three on it
 *     is the median, as in Serf. (A per-node outlier guard - capping
 *     samples far above the prediction - was tried and made no measurable
 *     difference, with or without noise, so it is not here.)
 *
 * The published error estimate uses Serf's rule on the raw distance, so it
 * tracks our (smaller) true error; Serf peers weigh us by it as usual.
 * All randomness comes from the client's seeded generator (or an injected
 * one), so runs are reproducible. No I/O, clock, logging or globals.
 *
 * The end of the file exports what the client has learnt (coordinate,
 * adjustment window, per-peer filters and memories) as plain structs and
 * imports it back, for the agent's snapshot (-snapshot).
 */
#include "coord/coord.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "coord/coord_int.h"

/**
 * RTTs below this are raised to it before dividing by them: coarse clocks
 * do report 0 (hashicorp/consul#3789). Serf's zeroThreshold, 1 us.
 */
#define ZERO_RTT 1.0e-6

/**
 * NC: RTT floor of the solve weight 1/sqrt(max(r, floor)). Below 1 ms
 * (same rack/site) the relative error is dominated by timer and
 * scheduling jitter; without a floor a 10 us link would outweigh a
 * 100 ms one 100x.
 */
#define NC_WEIGHT_RTT_FLOOR 1.0e-3

/**
 * NC: error floor/offset in the staleness weight 1/(e + 0.01)^2. The floor
 * keeps a peer that claims a (near) zero error - a bug or a lie - from
 * outweighing everyone else: at most 1/(0.05+0.01)^2 ~ 280 vs ~100 for an
 * honest converged peer.
 */
#define NC_WEIGHT_ERR_FLOOR 0.05
#define NC_WEIGHT_ERR_OFFSET 0.01

/**
 * NC: memories fade with age. A remembered coordinate was written in the
 * frame the whole embedding had then; while the embedding is still
 * forming it translates and rotates, so old memories disagree with fresh
 * ones even when both were right. Weight is multiplied by
 * tau / (tau + age), age counted in our own updates, tau = NC_MEMORY_TAU /
 * (our error estimate): ~10 updates while we are lost (e ~ 1), ~120 once
 * converged (e ~ 0.08), practically no fading when the fit is near exact.
 * Measured: on a 3-datacenter LAN/WAN topology the 100-round median error
 * drops from 0.20 to 0.04; on PlanetLab-490 from 0.090 to 0.085, with the
 * 1000-round figures unchanged; same on a 1500-node synthetic WAN. 5 or 20
 * instead of 10 trade early against late accuracy a little.
 */
#define NC_MEMORY_TAU 10.0
/** Floor of the error in tau (keeps tau finite). */
#define NC_MEMORY_ERR_FLOOR 1.0e-3

/**
 * NC: the height cap h <= min_j (r_j - h_j) (see top) holds while our
 * error estimate is above this. A settled fit may legitimately break it
 * on a few links (triangle-inequality violations); enforcing it there
 * costs PlanetLab-490 ~0.002 of median error (0.063 -> 0.065), so only a
 * node that is still lost (the trap has errors of 1-1.5) is held to it.
 * 0.15..0.5 measure the same.
 */
#define NC_HEIGHT_CAP_ERROR 0.3

/**
 * NC: the unit vector from a remembered peer to us carries no direction
 * while our offset from it is small next to the length we are about to
 * put between us; a random vector of length NC_DIR_BLUR * len - offset is
 * added to the offset then (see top). 0.1 / 0.25 / 0.5 measure the same on
 * the 4-agent cluster; PlanetLab-490 is unchanged (a settled offset is
 * about len, far above 0.1 len).
 */
#define NC_DIR_BLUR 0.1

/**
 * Weight of one sample in the measured-error moving average: a memory of
 * ~50 probes, long enough to average over many peers (single pairs can be
 * off by 30% through triangle-inequality violations), short enough to
 * follow a node that moved. Nothing special in the exact value.
 */
#define MEASURED_ERROR_ALPHA 0.02

struct nc_coord_client {
	/** Copy of the configuration. */
	struct nc_coord_config cfg;
	/** Current coordinate. */
	struct nc_coord coord;
	/** A fresh coordinate at the origin (gravity's anchor). */
	struct nc_coord origin;
	/** Adjustment samples (r - raw d), adjustment_window of them. */
	double *adj_samples;
	/** Next slot of adj_samples. */
	unsigned adj_index;
	/** Per-peer state. */
	struct nc__coord_peers peers;
	/** Generator. */
	struct nc__coord_rng rng;
	/** Counters. */
	struct nc_coord_stats stats;
	/** Whether measured_error has a first sample. */
	int have_measured;
};

struct nc_coord_client *
nc_coord_client_new(const struct nc_coord_config *cfg, char *err,
		    size_t err_len)
{
	if (nc_coord_config_validate(cfg, err, err_len) != 0)
		return NULL;
	struct nc_coord_client *c = calloc(1, sizeof(*c));
	if (c == NULL)
		goto fail;
	c->cfg = *cfg;
	nc_coord_init(&c->coord, cfg);
	nc_coord_init(&c->origin, cfg);
	if (cfg->adjustment_window > 0) {
		c->adj_samples = calloc(cfg->adjustment_window, sizeof(double));
		if (c->adj_samples == NULL)
			goto fail;
	}
	if (nc__coord_peers_create(&c->peers, cfg->peer_cap,
				   cfg->latency_filter_size, cfg->dims) != 0)
		goto fail;
	nc__coord_rng_seed(&c->rng, cfg->seed, cfg->rand_cb, cfg->rand_arg);
	return c;
fail:
	if (c != NULL)
		free(c->adj_samples);
	free(c);
	if (err != NULL && err_len > 0) {
		strncpy(err, "coord client: out of memory", err_len - 1);
		err[err_len - 1] = '\0';
	}
	return NULL;
}

void
nc_coord_client_delete(struct nc_coord_client *c)
{
	if (c == NULL)
		return;
	nc__coord_peers_destroy(&c->peers);
	free(c->adj_samples);
	free(c);
}

const struct nc_coord_config *
nc_coord_client_config(const struct nc_coord_client *c)
{
	return &c->cfg;
}

void
nc_coord_client_get(const struct nc_coord_client *c, struct nc_coord *out)
{
	*out = c->coord;
}

int
nc_coord_client_set(struct nc_coord_client *c, const struct nc_coord *coord)
{
	int rc = nc_coord_check(coord);
	if (rc != 0)
		return rc;
	if (coord->dims != c->cfg.dims)
		return NC_COORD_EDIM;
	c->coord = *coord;
	for (unsigned i = coord->dims; i < NC_COORD_DIMS_MAX; i++)
		c->coord.vec[i] = 0.0;
	return 0;
}

int
nc_coord_client_forget(struct nc_coord_client *c, const char *name)
{
	if (name == NULL)
		return 0;
	return nc__coord_peers_remove(&c->peers, name);
}

double
nc_coord_client_estimate_rtt(const struct nc_coord_client *c,
			     const struct nc_coord *peer)
{
	return nc_coord_estimate_rtt(c->cfg.algo, &c->coord, peer);
}

void
nc_coord_client_stats(const struct nc_coord_client *c,
		      struct nc_coord_stats *out)
{
	*out = c->stats;
	out->evictions = c->peers.evictions;
	out->peers = c->peers.n;
}

/* Sort a few doubles (n <= 32): insertion sort. */
static void
sort_small(double *v, unsigned n)
{
	for (unsigned i = 1; i < n; i++) {
		double x = v[i];
		unsigned j = i;
		while (j > 0 && v[j - 1] > x) {
			v[j] = v[j - 1];
			j--;
		}
		v[j] = x;
	}
}

/* Push a sample into p's ring and return the filtered RTT. */
static double
latency_filter(struct nc_coord_client *c, struct nc__coord_peer *p, double rtt)
{
	unsigned lfs = c->cfg.latency_filter_size;
	double *ring = nc__coord_peers_samples(&c->peers, p);
	double sorted[32];

	/* Ring in arrival order: the oldest sample is overwritten. */
	ring[p->next_sample] = rtt;
	p->next_sample = (p->next_sample + 1) % lfs;
	if (p->n_samples < lfs)
		p->n_samples++;
	memcpy(sorted, ring, p->n_samples * sizeof(double));
	sort_small(sorted, p->n_samples);
	if (c->cfg.algo == NC_COORD_ALGO_NC && p->n_samples == 2)
		return sorted[0];
	/* Serf: sorted[len/2] (the upper median for an even count). */
	return sorted[p->n_samples / 2];
}

/* Vivaldi's error-estimate update (shared rule), on distance `dist`. */
static double
vivaldi_weight_and_error(struct nc_coord_client *c,
			 const struct nc_coord *other, double dist, double rtt)
{
	const struct nc_coord_config *cfg = &c->cfg;
	double total = c->coord.error + other->error;
	if (total < ZERO_RTT)
		total = ZERO_RTT;
	double weight = c->coord.error / total;
	double wrongness = fabs(dist - rtt) / rtt;
	c->coord.error = cfg->vivaldi_ce * weight * wrongness +
			 c->coord.error * (1.0 - cfg->vivaldi_ce * weight);
	if (c->coord.error > cfg->error_max)
		c->coord.error = cfg->error_max;
	return weight;
}

double
nc__coord_client_filter(struct nc_coord_client *c, const char *name, double rtt)
{
	return latency_filter(c, nc__coord_peers_touch(&c->peers, name), rtt);
}

/* Serf's updateVivaldi. */
static void
serf_vivaldi(struct nc_coord_client *c, const struct nc_coord *other,
	     double rtt)
{
	const struct nc_coord_config *cfg = &c->cfg;
	double dist = nc_coord_distance(&c->coord, other);
	if (rtt < ZERO_RTT)
		rtt = ZERO_RTT;
	double weight = vivaldi_weight_and_error(c, other, dist, rtt);
	double force = cfg->vivaldi_cc * weight * (rtt - dist);
	nc__coord_apply_force(&c->coord, other, force, cfg->height_min,
			      &c->rng);
}

/* Serf's updateAdjustment (raw distance: adjustments excluded). */
static void
update_adjustment(struct nc_coord_client *c, const struct nc_coord *other,
		  double rtt)
{
	unsigned w = c->cfg.adjustment_window;
	if (w == 0)
		return;
	c->adj_samples[c->adj_index] =
	    rtt - nc_coord_raw_distance(&c->coord, other);
	c->adj_index = (c->adj_index + 1) % w;
	double sum = 0.0;
	for (unsigned i = 0; i < w; i++)
		sum += c->adj_samples[i];
	c->coord.adjustment = sum / (2.0 * w);
}

/* Serf's updateGravity; NC measures the pull on the raw distance. */
static void
update_gravity(struct nc_coord_client *c)
{
	double dist = c->cfg.algo == NC_COORD_ALGO_SERF
			  ? nc_coord_distance(&c->origin, &c->coord)
			  : nc_coord_raw_distance(&c->origin, &c->coord);
	double f = dist / c->cfg.gravity_rho;
	nc__coord_apply_force(&c->coord, &c->origin, -f * f, c->cfg.height_min,
			      &c->rng);
}

/* Weight of a remembered (rtt, coordinate) pair in the local solve. */
static double
solve_weight(double rtt, double peer_error)
{
	double r = rtt > NC_WEIGHT_RTT_FLOOR ? rtt : NC_WEIGHT_RTT_FLOOR;
	double e =
	    peer_error > NC_WEIGHT_ERR_FLOOR ? peer_error : NC_WEIGHT_ERR_FLOOR;
	e += NC_WEIGHT_ERR_OFFSET;
	return 1.0 / (sqrt(r) * e * e);
}

/* A random unit vector of k dims (not uniform on the sphere; any will do). */
static void
random_unit(struct nc__coord_rng *rng, double *v, unsigned k)
{
	double t = 0.0;
	for (unsigned j = 0; j < k; j++) {
		v[j] = nc__coord_rng_double(rng) - 0.5;
		t += v[j] * v[j];
	}
	t = sqrt(t);
	for (unsigned j = 0; j < k; j++)
		v[j] = t > NC__COORD_ZERO ? v[j] / t : (j == 0);
}

/* Weight of a remembered peer (its hot row) at its memory age. */
static double
solve_row_weight(const struct nc_coord_client *c, const double *row, double tau)
{
	unsigned k = c->coord.dims;
	/* Memory age, in own updates, against the current time constant. */
	double age = (double)c->stats.updates - row[NC_PEER_HOT_TICK(k)];
	return row[NC_PEER_HOT_WEIGHT(k)] * tau / (tau + age);
}

/*
 * Add one remembered peer (its hot row) to the vector step's sums, and
 * lower *hcap to what this peer allows the height (r_j - h_j).
 */
static void
solve_add(struct nc_coord_client *c, const double *row, double tau, double *acc,
	  double *sw, double *hcap)
{
	const struct nc_coord *me = &c->coord;
	unsigned k = me->dims;
	double u[NC_COORD_DIMS_MAX];
	double h = row[NC_PEER_HOT_HEIGHT(k)];
	double r = row[NC_PEER_HOT_RTT(k)];
	double len = r - me->height - h;
	if (len < 0.0)
		len = 0.0;
	double m2 = 0.0;
	for (unsigned j = 0; j < k; j++) {
		u[j] = me->vec[j] - row[j];
		m2 += u[j] * u[j];
	}
	double m = sqrt(m2);
	/* > 0: our offset is too small to carry a direction (see top). */
	double blur = NC_DIR_BLUR * len - m;
	if (m > NC__COORD_ZERO && blur <= 0.0) {
		for (unsigned j = 0; j < k; j++)
			u[j] /= m;
	} else {
		/*
		 * Coincident (Serf draws a random direction too) or nearly:
		 * the offset plus a random vector of length blur.
		 */
		double v[NC_COORD_DIMS_MAX];
		if (m <= NC__COORD_ZERO) {
			blur = 1.0;
			for (unsigned j = 0; j < k; j++)
				u[j] = 0.0;
		}
		random_unit(&c->rng, v, k);
		double n2 = 0.0;
		for (unsigned j = 0; j < k; j++) {
			u[j] += blur * v[j];
			n2 += u[j] * u[j];
		}
		double n = sqrt(n2);
		for (unsigned j = 0; j < k; j++)
			u[j] = n > 0.0 ? u[j] / n : (j == 0);
	}
	double w = solve_row_weight(c, row, tau);
	for (unsigned j = 0; j < k; j++)
		acc[j] += w * (row[j] + len * u[j]);
	*sw += w;
	if (r - h < *hcap)
		*hcap = r - h;
}

/* Add one remembered peer to the height step's sum, at the new x. */
static void
solve_add_height(const struct nc_coord_client *c, const double *row, double tau,
		 double *hacc, double *sw)
{
	unsigned k = c->coord.dims;
	double w = solve_row_weight(c, row, tau);
	double m2 = 0.0;
	for (unsigned j = 0; j < k; j++) {
		double d = c->coord.vec[j] - row[j];
		m2 += d * d;
	}
	double m = sqrt(m2);
	*hacc += w * (row[NC_PEER_HOT_RTT(k)] - m - row[NC_PEER_HOT_HEIGHT(k)]);
	*sw += w;
}

/*
 * The local solve described at the top of this file: a vector step, then
 * the height step at the new vector. The sample is a run of relax_peers
 * consecutive entries of the peer table's dense array from a random start
 * (wrapping): peers sit there in no meaningful order, and a run reads
 * memory sequentially. Both steps read the same run.
 */
static void
local_solve(struct nc_coord_client *c)
{
	struct nc_coord *me = &c->coord;
	unsigned k = me->dims;
	unsigned np = c->peers.n, want = c->cfg.relax_peers;
	unsigned stride = c->peers.stride;
	double acc[NC_COORD_DIMS_MAX] = {0};
	double sw = 0.0, hacc = 0.0, hsw = 0.0, hcap = INFINITY;
	unsigned start = 0;

	if (np > want)
		start = (unsigned)(nc__coord_rng_next(&c->rng) % np);
	else
		want = np;
	double e =
	    me->error > NC_MEMORY_ERR_FLOOR ? me->error : NC_MEMORY_ERR_FLOOR;
	double tau = NC_MEMORY_TAU / e;
	for (unsigned s = 0, i = start; s < want; s++) {
		solve_add(c, &c->peers.hot[(size_t)i * stride], tau, acc, &sw,
			  &hcap);
		if (++i == np)
			i = 0;
	}
	if (!(sw > 0.0))
		return;
	double g = c->cfg.relax_gain;
	for (unsigned j = 0; j < k; j++)
		me->vec[j] += g * (acc[j] / sw - me->vec[j]);
	for (unsigned s = 0, i = start; s < want; s++) {
		solve_add_height(c, &c->peers.hot[(size_t)i * stride], tau,
				 &hacc, &hsw);
		if (++i == np)
			i = 0;
	}
	me->height += g * (hacc / hsw - me->height);
	if (me->error > NC_HEIGHT_CAP_ERROR && me->height > hcap)
		me->height = hcap;
	if (!(me->height > c->cfg.height_min))
		me->height = c->cfg.height_min;
	c->stats.solves++;
}

/* NC update: remember the peer, update the error estimate, solve. */
static void
apply_sample(struct nc_coord_client *c, struct nc__coord_peer *p,
	     const struct nc_coord *other, double rtt)
{
	if (rtt < ZERO_RTT)
		rtt = ZERO_RTT;
	double dist = nc_coord_raw_distance(&c->coord, other);
	double *row = nc__coord_peers_hot(&c->peers, p);
	memcpy(row, other->vec, other->dims * sizeof(double));
	row[NC_PEER_HOT_HEIGHT(other->dims)] = other->height;
	row[NC_PEER_HOT_RTT(other->dims)] = rtt;
	row[NC_PEER_HOT_WEIGHT(other->dims)] = solve_weight(rtt, other->error);
	row[NC_PEER_HOT_TICK(other->dims)] = (double)c->stats.updates;
	double weight = vivaldi_weight_and_error(c, other, dist, rtt);
	if (c->cfg.relax_peers > 0) {
		local_solve(c);
	} else {
		double force = c->cfg.vivaldi_cc * weight * (rtt - dist);
		nc__coord_apply_force(&c->coord, other, force,
				      c->cfg.height_min, &c->rng);
	}
}

int
nc_coord_client_update(struct nc_coord_client *c, const char *name,
		       const struct nc_coord *peer, double rtt,
		       struct nc_coord *out)
{
	int rc = 0;
	if (name == NULL || name[0] == '\0' ||
	    strlen(name) > NC_COORD_NAME_MAX || peer == NULL)
		rc = NC_COORD_EINVAL;
	else if (isnan(rtt) || isinf(rtt))
		rc = NC_COORD_ENOTFINITE;
	else if (rtt < 0.0 || rtt > NC_COORD_RTT_MAX)
		rc = NC_COORD_ERANGE;
	else if (peer->dims != c->cfg.dims)
		rc = NC_COORD_EDIM;
	else
		rc = nc_coord_check(peer);
	if (rc != 0) {
		c->stats.rejected++;
		return rc;
	}

	/* Measured (true) error of the current estimate, before moving. */
	double est = nc_coord_estimate_rtt(c->cfg.algo, &c->coord, peer);
	if (rtt > 0.0 && isfinite(est)) {
		double rel = fabs(est - rtt) / rtt;
		if (!c->have_measured) {
			c->stats.measured_error = rel;
			c->have_measured = 1;
		} else {
			c->stats.measured_error +=
			    MEASURED_ERROR_ALPHA *
			    (rel - c->stats.measured_error);
		}
	}

	struct nc__coord_peer *p = nc__coord_peers_touch(&c->peers, name);
	double filtered = latency_filter(c, p, rtt);
	if (c->cfg.algo == NC_COORD_ALGO_SERF) {
		serf_vivaldi(c, peer, filtered);
	} else {
		apply_sample(c, p, peer, filtered);
	}
	update_adjustment(c, peer, filtered);
	update_gravity(c);
	c->stats.updates++;
	if (nc_coord_check(&c->coord) != 0) {
		c->stats.resets++;
		nc_coord_init(&c->coord, &c->cfg);
	}
	if (out != NULL)
		*out = c->coord;
	return 0;
}

/* ---- state export / import (snapshots) ------------------------------ */

void
nc_coord_client_state_export(const struct nc_coord_client *c,
			     struct nc_coord_client_state *out)
{
	unsigned w = c->cfg.adjustment_window;
	memset(out, 0, sizeof(*out));
	out->coord = c->coord;
	out->updates = c->stats.updates;
	out->measured_error = c->stats.measured_error;
	out->has_measured = c->have_measured;
	/* The ring from its oldest slot (the next one to overwrite). */
	out->adj_n = w;
	for (unsigned i = 0; i < w; i++)
		out->adj_samples[i] = c->adj_samples[(c->adj_index + i) % w];
}

int
nc_coord_client_state_import(struct nc_coord_client *c,
			     const struct nc_coord_client_state *in)
{
	unsigned w = c->cfg.adjustment_window;
	if (in->adj_n > NC_COORD_ADJ_WINDOW_MAX)
		return NC_COORD_EINVAL;
	for (unsigned i = 0; i < in->adj_n; i++)
		if (!isfinite(in->adj_samples[i]))
			return NC_COORD_ENOTFINITE;
	if (!isfinite(in->measured_error))
		return NC_COORD_ENOTFINITE;
	if (in->measured_error < 0.0)
		return NC_COORD_EINVAL;
	int rc = nc_coord_client_set(c, &in->coord);
	if (rc != 0)
		return rc;
	c->stats.updates = in->updates;
	c->stats.measured_error = in->has_measured ? in->measured_error : 0.0;
	c->have_measured = in->has_measured != 0;
	if (w > 0) {
		/* The newest min(n, w) samples, oldest first; zeros before. */
		unsigned n = in->adj_n < w ? in->adj_n : w;
		memset(c->adj_samples, 0, w * sizeof(double));
		memcpy(c->adj_samples + (w - n),
		       in->adj_samples + (in->adj_n - n), n * sizeof(double));
		c->adj_index = 0;
	}
	return 0;
}

size_t
nc_coord_client_peers_export(const struct nc_coord_client *c,
			     struct nc_coord_peer_state *out, size_t cap)
{
	const struct nc__coord_peers *t = &c->peers;
	unsigned k = c->cfg.dims, lfs = t->lfs;
	size_t n = 0;
	/* From the LRU tail: least recently updated first. */
	for (uint32_t i = t->lru_tail; i != UINT32_MAX && n < cap;
	     i = t->ent[i].lru_prev) {
		const struct nc__coord_peer *p = &t->ent[i];
		struct nc_coord_peer_state *o = &out[n++];
		memset(o, 0, sizeof(*o));
		memcpy(o->name, p->name, sizeof(o->name));
		/* The ring from its oldest sample. */
		const double *ring = &t->samples[(size_t)i * lfs];
		unsigned first = p->n_samples < lfs ? 0 : p->next_sample;
		o->n_samples = p->n_samples;
		for (unsigned s = 0; s < p->n_samples; s++)
			o->samples[s] = ring[(first + s) % lfs];
		const double *row = &t->hot[(size_t)p->dense_pos * t->stride];
		memcpy(o->vec, row, k * sizeof(double));
		o->height = row[NC_PEER_HOT_HEIGHT(k)];
		o->rtt = row[NC_PEER_HOT_RTT(k)];
		o->weight = row[NC_PEER_HOT_WEIGHT(k)];
		o->age_updates =
		    (double)c->stats.updates - row[NC_PEER_HOT_TICK(k)];
	}
	return n;
}

int
nc_coord_client_peer_import(struct nc_coord_client *c,
			    const struct nc_coord_peer_state *in)
{
	unsigned k = c->cfg.dims, lfs = c->cfg.latency_filter_size;
	size_t nl = strnlen(in->name, sizeof(in->name));
	if (nl == 0 || nl > NC_COORD_NAME_MAX ||
	    in->n_samples > NC_COORD_FILTER_MAX)
		return NC_COORD_EINVAL;
	for (unsigned s = 0; s < in->n_samples; s++) {
		if (!isfinite(in->samples[s]))
			return NC_COORD_ENOTFINITE;
		if (in->samples[s] < 0.0 || in->samples[s] > NC_COORD_RTT_MAX)
			return NC_COORD_EINVAL;
	}
	for (unsigned j = 0; j < k; j++)
		if (!isfinite(in->vec[j]))
			return NC_COORD_ENOTFINITE;
	if (!isfinite(in->height) || !isfinite(in->rtt) ||
	    !isfinite(in->weight) || !isfinite(in->age_updates))
		return NC_COORD_ENOTFINITE;
	if (in->height < 0.0 || in->rtt < 0.0 || in->weight < 0.0 ||
	    in->age_updates < 0.0)
		return NC_COORD_EINVAL;
	struct nc__coord_peer *p = nc__coord_peers_touch(&c->peers, in->name);
	double *ring = nc__coord_peers_samples(&c->peers, p);
	/* The newest min(n, lfs) samples; the next slot after the last. */
	unsigned n = in->n_samples < lfs ? in->n_samples : lfs;
	memcpy(ring, in->samples + (in->n_samples - n), n * sizeof(double));
	p->n_samples = n;
	p->next_sample = n % lfs;
	double *row = nc__coord_peers_hot(&c->peers, p);
	memcpy(row, in->vec, k * sizeof(double));
	row[NC_PEER_HOT_HEIGHT(k)] = in->height;
	row[NC_PEER_HOT_RTT(k)] = in->rtt;
	row[NC_PEER_HOT_WEIGHT(k)] = in->weight;
	row[NC_PEER_HOT_TICK(k)] = (double)c->stats.updates - in->age_updates;
	return 0;
}
