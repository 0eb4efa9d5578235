/*
 * coord_only: network coordinates with coord/ alone (and the small util/
 * it builds on) - no sockets, no gossip, no agent.
 *
 *   coord_only [-rounds N] [-seed S] [-jitter J] [-check MAX_REL_ERR]
 *
 * Five "sites" with known round-trip times (a made-up but plausible
 * matrix: two racks in Frankfurt, London, New York, Tokyo) each run an
 * nc_coord_client. Every round each site "probes" one random peer: the
 * RTT it feeds is the true RTT times 1 +- J/2 (default J = 0.04, i.e.
 * +-2% jitter), and the peer's
 * coordinate is the one the peer holds right now - exactly what the agent
 * does with a SWIM ack, where the peer's coordinate rides in the ack
 * payload. Units are seconds throughout, as in coord/coord.h.
 *
 * Output: how the FRA-a -> NYC estimate approaches its true RTT over the
 * rounds, each site's final coordinate, and the estimated-vs-true table
 * for every pair, ending with the median and maximum relative error.
 * With -check R the exit status is 1 if any pair's estimate is off by
 * more than R relative or 2 ms absolute, whichever is larger (CTest runs
 * it that way): the two Frankfurt racks are 1 ms apart, and with +-2%
 * jitter on 230 ms paths (+-4.6 ms) their coordinates settle within a
 * millisecond or two of each other, which is a large relative error on a tiny
 * RTT and still the right answer for "which is nearer". Deterministic
 * for a given seed.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coord/coord.h"
#include "util/util.h"

/** Sites of the toy world. */
#define N_SITES 5

static const char *const site_names[N_SITES] = {"fra-a", "fra-b", "lon", "nyc",
						"tyo"};

/**
 * True RTTs, ms (symmetric). Roughly public inter-city figures; fra-a and
 * fra-b are two racks 1 ms apart. Nothing special in the exact values.
 */
static const double true_ms[N_SITES][N_SITES] = {
    {0, 1, 15, 90, 230},  {1, 0, 16, 91, 231},	   {15, 16, 0, 75, 220},
    {90, 91, 75, 0, 160}, {230, 231, 220, 160, 0},
};

/** Uniform double in [0, 1) from the example's own generator. */
static double
uniform(uint64_t *s)
{
	return nc_rng_double_of(nc_splitmix64(s));
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static void
usage(FILE *f)
{
	fprintf(f, "usage: coord_only [-rounds N] [-seed S] "
		   "[-jitter J] [-check MAX_REL_ERR]\n");
}

int
main(int argc, char **argv)
{
	unsigned rounds = 200;
	uint64_t seed = 1;
	double check = -1;
	double jitter_frac = 0.04;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-h") == 0 ||
		    strcmp(argv[i], "-help") == 0) {
			usage(stdout);
			return 0;
		}
		if (i + 1 >= argc) {
			usage(stderr);
			return 2;
		}
		if (strcmp(argv[i], "-rounds") == 0)
			rounds = (unsigned)strtoul(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "-seed") == 0)
			seed = strtoull(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "-jitter") == 0)
			jitter_frac = strtod(argv[++i], NULL);
		else if (strcmp(argv[i], "-check") == 0)
			check = strtod(argv[++i], NULL);
		else {
			usage(stderr);
			return 2;
		}
	}
	if (!(jitter_frac >= 0 && jitter_frac < 1)) {
		fprintf(stderr, "coord_only: -jitter must be in [0, 1)\n");
		return 2;
	}
	if (rounds == 0 || rounds > 1000000) {
		fprintf(stderr, "coord_only: -rounds must be 1..1000000\n");
		return 2;
	}

	/* One client per site; defaults are Serf's parameters. */
	struct nc_coord_client *cl[N_SITES] = {0};
	struct nc_coord_config cfg;
	nc_coord_config_default(&cfg);
	char err[128];
	int status = 1;
	for (int i = 0; i < N_SITES; i++) {
		cfg.seed = seed * 1000 + (uint64_t)i; /* per-client stream */
		cl[i] = nc_coord_client_new(&cfg, err, sizeof(err));
		if (cl[i] == NULL) {
			fprintf(stderr, "coord_only: %s\n", err);
			goto out;
		}
	}

	printf("Estimate fra-a -> nyc (true %.0f ms) as samples arrive:\n",
	       true_ms[0][3]);
	uint64_t rng = seed;
	unsigned next_report = 1;
	for (unsigned r = 1; r <= rounds; r++) {
		for (int i = 0; i < N_SITES; i++) {
			int j = (int)(nc_splitmix64(&rng) % (N_SITES - 1));
			if (j >= i)
				j++; /* any peer but ourselves */
			double jitter =
			    1.0 + (uniform(&rng) - 0.5) * jitter_frac;
			double rtt_s = true_ms[i][j] * jitter / 1000.0;
			struct nc_coord peer;
			nc_coord_client_get(cl[j], &peer);
			int rc = nc_coord_client_update(cl[i], site_names[j],
							&peer, rtt_s, NULL);
			if (rc != 0) {
				fprintf(stderr, "coord_only: update: %s\n",
					nc_coord_strerror(rc));
				goto out;
			}
		}
		if (r == next_report || r == rounds) {
			struct nc_coord nyc;
			nc_coord_client_get(cl[3], &nyc);
			printf("  round %4u: %8.3f ms\n", r,
			       nc_coord_client_estimate_rtt(cl[0], &nyc) *
				   1000.0);
			while (next_report <= r)
				next_report *= 4;
		}
	}

	printf("\nCoordinates after %u rounds (seconds; first 3 of %u "
	       "dimensions):\n",
	       rounds, cfg.dims);
	printf("  %-6s %10s %10s %10s %9s %9s\n", "SITE", "VEC[0]", "VEC[1]",
	       "VEC[2]", "HEIGHT", "ERROR");
	for (int i = 0; i < N_SITES; i++) {
		struct nc_coord c;
		nc_coord_client_get(cl[i], &c);
		printf("  %-6s %10.5f %10.5f %10.5f %9.5f %9.3f\n",
		       site_names[i], c.vec[0], c.vec[1], c.vec[2], c.height,
		       c.error);
	}

	printf("\nEstimated vs true RTT:\n");
	printf("  %-6s %-6s %10s %10s %8s\n", "FROM", "TO", "EST_MS", "TRUE_MS",
	       "REL_ERR");
	/** Absolute slack of -check, ms (see the comment at the top). */
	const double check_abs_ms = 2.0;
	unsigned bad = 0;
	double rel[N_SITES * N_SITES];
	size_t n_rel = 0;
	for (int i = 0; i < N_SITES; i++) {
		for (int j = i + 1; j < N_SITES; j++) {
			struct nc_coord cj;
			nc_coord_client_get(cl[j], &cj);
			double est =
			    nc_coord_client_estimate_rtt(cl[i], &cj) * 1000.0;
			double re = fabs(est - true_ms[i][j]) / true_ms[i][j];
			if (isnan(est))
				re = INFINITY;
			rel[n_rel++] = re;
			if (check >= 0 &&
			    !(fabs(est - true_ms[i][j]) <=
			      fmax(check * true_ms[i][j], check_abs_ms))) {
				fprintf(stderr,
					"coord_only: %s-%s: estimate %.3f ms, "
					"true %.0f ms: off by more than %.0f%% "
					"and %.0f ms\n",
					site_names[i], site_names[j], est,
					true_ms[i][j], check * 100,
					check_abs_ms);
				bad++;
			}
			printf("  %-6s %-6s %10.3f %10.0f %8.3f\n",
			       site_names[i], site_names[j], est, true_ms[i][j],
			       re);
		}
	}
	qsort(rel, n_rel, sizeof(rel[0]), cmp_double);
	double median = n_rel % 2 ? rel[n_rel / 2]
				  : (rel[n_rel / 2 - 1] + rel[n_rel / 2]) / 2;
	double max = rel[n_rel - 1];
	printf("\nmedian relative error: %.3f\nmax relative error: %.3f\n",
	       median, max);
	status = bad > 0 ? 1 : 0;
out:
	for (int i = 0; i < N_SITES; i++)
		nc_coord_client_delete(cl[i]);
	return status;
}
