/*
 * sim.c - `netcoord sim`: how accurate are the coordinates on a real
 * RTT matrix?
 *
 * Protocol (the one issue #2 fixes, and Serf's own Simulate()): one
 * nc_coord_client per node of the matrix; each round, every node in index
 * order probes one peer drawn uniformly from the others and updates with
 * that peer's *current* coordinate and the matrix RTT (optionally noisy).
 * A missing entry (-1) is a failed probe: no update. Everything random
 * (peer choice, noise, each client's generator) derives from -seed, so a
 * run is reproducible bit for bit.
 *
 * At each report round we evaluate the estimate the agent will serve,
 * nc_coord_estimate_rtt(), and the ranking it will serve,
 * nc_coord_rank_nearest():
 *   medRE, p90RE  median / 90th percentile over ordered pairs i != j with
 *                 a known true RTT > 0 of |predicted - true| / true
 *   top1          fraction of nodes whose predicted nearest peer has the
 *                 minimum true RTT (ties are hits)
 *   p@5           |predicted top 5 with true RTT <= 5th smallest true| / 5,
 *                 averaged over nodes
 *   xtraMs        median over nodes of true(predicted nearest) - true min
 *   errEst        median of the nodes' own error estimates
 *   resets        total coordinate resets so far
 * Evaluation is O(N^2) per report round; fine for a few thousand nodes.
 *
 * Two more reports follow each row (lines that do not start with a digit,
 * so scripts reading the rows are unaffected):
 *   buckets       median relative error by true RTT (< 1 ms, 1-10, 10-50,
 *                 >= 50 ms): of the estimate ("estimate"), and of what a
 *                 node serves once its own measurements are combined with
 *                 it by nc_coord_combine_rtt ("served"): every node keeps
 *                 the last RTT it measured to each peer and the round of
 *                 that probe (a round is one probe interval, 1 s).
 *   verify K      with -verify K1,K2,...: the K best candidates by
 *                 estimate are measured (-verify-pings samples each of
 *                 the true RTT through the noise model above, minimum
 *                 kept) and re-ranked by nc_coord_rank_verified, as
 *                 GET /v1/nearest?verify=K does; top1, p@5 and xtraMs of
 *                 that answer (p@5 over its first 5: the K re-ranked,
 *                 then the rest by estimate), and the pings per query.
 */
#include "cmd/sim.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coord/coord.h"
#include "util/util.h"

/** Most K values of -verify; largest K (the API's bound). */
#define SIM_VERIFY_MAX 8
#define SIM_VERIFY_K_MAX 32
/** Most report rounds accepted by -report. */
#define SIM_REPORTS_MAX 64
/** Most matrix nodes (evaluation keeps n*n doubles: 2 GiB here). */
#define SIM_NODES_MAX 16384

/** A square RTT matrix in seconds; negative = missing. */
struct sim_matrix {
	/** Node count. */
	size_t n;
	/** n*n entries, row-major. */
	double *rtt;
};

/** Parsed flags. */
struct sim_opts {
	const char *matrix;
	unsigned rounds;
	unsigned reports[SIM_REPORTS_MAX];
	unsigned n_reports;
	unsigned dims;
	uint64_t seed;
	double noise;
	double spike_prob;
	double spike_ms;
	/** 0 ours, 1 serf, 2 both (serf first). */
	int algo;
	/** Tuning overrides (< 0 = default). */
	int relax;
	double relax_gain;
	int filter;
	int peer_cap;
	/** -verify: K values (ascending), how many; samples per candidate. */
	unsigned verify[SIM_VERIFY_MAX];
	unsigned n_verify;
	unsigned verify_pings;
};

/* The sim's own randomness: one splitmix64 state (nc_util). */
static double
unif(uint64_t *x)
{
	return nc_rng_double_of(nc_splitmix64(x));
}

static double
gauss(uint64_t *x)
{
	/* Box-Muller; u1 in (0, 1]. */
	double u1 = 1.0 - unif(x), u2 = unif(x);
	return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

static void
usage(FILE *f)
{
	fprintf(
	    f, "usage: netcoord sim -matrix FILE [-rounds R] "
	       "[-report 10,25,...] [-dims D] [-seed S]\n"
	       "                    [-noise SIGMA] [-spike-prob P -spike-ms M] "
	       "[-algo ours|serf|both]\n"
	       "                    [-relax N] [-relax-gain G] [-filter K] "
	       "[-peer-cap N]\n"
	       "                    [-verify 2,4,8,16] [-verify-pings P]\n"
	       "  -matrix FILE   RTT matrix, ms, line i = RTTs from node i, "
	       "-1 = missing\n"
	       "  -rounds R      rounds to run (default 1000, or the last "
	       "-report)\n"
	       "  -report LIST   rounds to print (default "
	       "10,25,50,100,200,500,1000)\n"
	       "  -dims D        dimensions (default 8)\n"
	       "  -seed S        seed (default 1)\n"
	       "  -noise SIGMA   each sample x exp(SIGMA * N(0,1))\n"
	       "  -spike-prob P  with probability P add an Exp(mean M ms) "
	       "spike\n"
	       "  -spike-ms M    mean spike, ms (default 50)\n"
	       "  -algo A        ours (default), serf, or both\n"
	       "  -relax N, -relax-gain G, -filter K, -peer-cap N\n"
	       "                 override relax_peers, relax_gain, "
	       "latency_filter_size, peer_cap\n"
	       "  -verify LIST   also report verified nearest: the K best by "
	       "estimate measured\n"
	       "                 and re-ranked, for each K (1..32) of the "
	       "list\n"
	       "  -verify-pings P  samples per verified candidate, minimum "
	       "kept (default 3)\n");
}

static int
bad_flag(const char *flag, const char *val, const char *why)
{
	fprintf(stderr, "netcoord sim: bad value \"%s\" for %s: %s\n",
		val != NULL ? val : "", flag, why);
	return 2;
}

static int
parse_double(const char *s, double lo, double hi, double *out)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || !isfinite(v) || v < lo ||
	    v > hi)
		return -1;
	*out = v;
	return 0;
}

static int
parse_uint(const char *s, unsigned long long lo, unsigned long long hi,
	   unsigned long long *out)
{
	char *end;
	errno = 0;
	if (*s == '-' || *s == '\0')
		return -1;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

static int
parse_reports(const char *s, struct sim_opts *o)
{
	char buf[512];
	if (strlen(s) >= sizeof(buf))
		return -1;
	strcpy(buf, s);
	o->n_reports = 0;
	for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok != NULL;
	     tok = strtok_r(NULL, ",", &save)) {
		unsigned long long v;
		if (o->n_reports == SIM_REPORTS_MAX ||
		    parse_uint(tok, 1, 100000000, &v) != 0)
			return -1;
		if (o->n_reports > 0 && v <= o->reports[o->n_reports - 1])
			return -1;
		o->reports[o->n_reports++] = (unsigned)v;
	}
	return o->n_reports > 0 ? 0 : -1;
}

static int
parse_verify(const char *s, struct sim_opts *o)
{
	char buf[128];
	if (strlen(s) >= sizeof(buf))
		return -1;
	strcpy(buf, s);
	o->n_verify = 0;
	for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok != NULL;
	     tok = strtok_r(NULL, ",", &save)) {
		unsigned long long v;
		if (o->n_verify == SIM_VERIFY_MAX ||
		    parse_uint(tok, 1, SIM_VERIFY_K_MAX, &v) != 0)
			return -1;
		if (o->n_verify > 0 && v <= o->verify[o->n_verify - 1])
			return -1;
		o->verify[o->n_verify++] = (unsigned)v;
	}
	return o->n_verify > 0 ? 0 : -1;
}

static int
parse_args(int argc, char **argv, struct sim_opts *o)
{
	static const unsigned def_reports[] = {10, 25, 50, 100, 200, 500, 1000};
	memset(o, 0, sizeof(*o));
	o->rounds = 1000;
	o->dims = 8;
	o->seed = 1;
	o->spike_ms = 50.0;
	o->relax = -1;
	o->relax_gain = -1.0;
	o->filter = -1;
	o->peer_cap = -1;
	o->verify_pings = 3;
	memcpy(o->reports, def_reports, sizeof(def_reports));
	o->n_reports = sizeof(def_reports) / sizeof(def_reports[0]);
	int reports_given = 0, rounds_given = 0;

	for (int i = 1; i < argc; i++) {
		const char *f = argv[i];
		if (strcmp(f, "-h") == 0 || strcmp(f, "--help") == 0) {
			usage(stdout);
			return 1;
		}
		if (f[0] != '-') {
			fprintf(stderr,
				"netcoord sim: unexpected argument \"%s\"\n",
				f);
			return 2;
		}
		/* Accept -flag and --flag. */
		const char *name = f[1] == '-' ? f + 2 : f + 1;
		if (i + 1 >= argc) {
			fprintf(stderr, "netcoord sim: flag %s needs a value\n",
				f);
			return 2;
		}
		const char *v = argv[++i];
		unsigned long long u;
		double d;
		if (strcmp(name, "matrix") == 0) {
			o->matrix = v;
		} else if (strcmp(name, "rounds") == 0) {
			if (parse_uint(v, 1, 100000000, &u) != 0)
				return bad_flag(f, v, "want an integer >= 1");
			o->rounds = (unsigned)u;
			rounds_given = 1;
		} else if (strcmp(name, "report") == 0) {
			if (parse_reports(v, o) != 0)
				return bad_flag(f, v,
						"want increasing rounds >= 1, "
						"comma-separated");
			reports_given = 1;
		} else if (strcmp(name, "dims") == 0) {
			if (parse_uint(v, 1, NC_COORD_DIMS_MAX, &u) != 0)
				return bad_flag(f, v, "want 1..16");
			o->dims = (unsigned)u;
		} else if (strcmp(name, "seed") == 0) {
			if (parse_uint(v, 0, UINT64_MAX, &u) != 0)
				return bad_flag(f, v,
						"want an unsigned integer");
			o->seed = u;
		} else if (strcmp(name, "noise") == 0) {
			if (parse_double(v, 0.0, 10.0, &d) != 0)
				return bad_flag(f, v, "want 0..10");
			o->noise = d;
		} else if (strcmp(name, "spike-prob") == 0) {
			if (parse_double(v, 0.0, 1.0, &d) != 0)
				return bad_flag(f, v, "want 0..1");
			o->spike_prob = d;
		} else if (strcmp(name, "spike-ms") == 0) {
			if (parse_double(v, 0.0, 10000.0, &d) != 0)
				return bad_flag(f, v, "want 0..10000 ms");
			o->spike_ms = d;
		} else if (strcmp(name, "algo") == 0) {
			if (strcmp(v, "ours") == 0 || strcmp(v, "nc") == 0)
				o->algo = 0;
			else if (strcmp(v, "serf") == 0)
				o->algo = 1;
			else if (strcmp(v, "both") == 0)
				o->algo = 2;
			else
				return bad_flag(f, v,
						"want ours, serf or both");
		} else if (strcmp(name, "relax") == 0) {
			if (parse_uint(v, 0, 1024, &u) != 0)
				return bad_flag(f, v, "want 0..1024");
			o->relax = (int)u;
		} else if (strcmp(name, "relax-gain") == 0) {
			if (parse_double(v, 1e-6, 1.0, &d) != 0)
				return bad_flag(f, v, "want (0, 1]");
			o->relax_gain = d;
		} else if (strcmp(name, "filter") == 0) {
			if (parse_uint(v, 1, 32, &u) != 0)
				return bad_flag(f, v, "want 1..32");
			o->filter = (int)u;
		} else if (strcmp(name, "peer-cap") == 0) {
			if (parse_uint(v, 1, 1u << 20, &u) != 0)
				return bad_flag(f, v, "want 1..1048576");
			o->peer_cap = (int)u;
		} else if (strcmp(name, "verify") == 0) {
			if (parse_verify(v, o) != 0)
				return bad_flag(f, v,
						"want increasing K in 1..32, "
						"comma-separated");
		} else if (strcmp(name, "verify-pings") == 0) {
			if (parse_uint(v, 1, 16, &u) != 0)
				return bad_flag(f, v, "want 1..16");
			o->verify_pings = (unsigned)u;
		} else {
			fprintf(stderr, "netcoord sim: unknown flag %s\n", f);
			usage(stderr);
			return 2;
		}
	}
	if (o->matrix == NULL) {
		fprintf(stderr, "netcoord sim: flag -matrix is required\n");
		usage(stderr);
		return 2;
	}
	if (!reports_given) {
		/* Default list, cut at -rounds, always ending at -rounds. */
		unsigned k = 0;
		while (k < o->n_reports && o->reports[k] < o->rounds)
			k++;
		o->reports[k++] = o->rounds;
		o->n_reports = k;
	} else if (!rounds_given) {
		o->rounds = o->reports[o->n_reports - 1];
	} else if (o->reports[o->n_reports - 1] > o->rounds) {
		fprintf(stderr,
			"netcoord sim: -report round %u exceeds -rounds %u\n",
			o->reports[o->n_reports - 1], o->rounds);
		return 2;
	}
	return 0;
}

/*
 * Load a matrix with nc_rtt_matrix_load (ms, any negative = missing, stored
 * as -1), then add the simulator's rules: >= 2 nodes and finite values.
 * Values become seconds. On error print it and return 2 (1: no memory).
 * The loader folds every negative to -1, so a value like -5 (refused
 * before the sim used nc_util) is now a missing entry, as it is for the
 * latency decorator and the tests; NaN and +inf are still refused.
 */
static int
load_matrix(const char *path, struct sim_matrix *m)
{
	char err[256];
	double *v;
	size_t n;
	int rc = nc_rtt_matrix_load(path, SIM_NODES_MAX, &v, &n, err,
				    sizeof(err));
	if (rc < 0) {
		fprintf(stderr, "netcoord sim: %s\n", err);
		return rc == -ENOMEM ? 1 : 2;
	}
	if (n < 2) {
		fprintf(stderr,
			"netcoord sim: %s: need a square matrix with >= 2 "
			"nodes, got %zu rows x %zu columns\n",
			path, n, n);
		free(v);
		return 2;
	}
	for (size_t i = 0; i < n * n; i++) {
		if (!isfinite(v[i])) {
			fprintf(stderr,
				"netcoord sim: %s: row %zu, column %zu: not an "
				"RTT in ms (or -1)\n",
				path, i / n + 1, i % n + 1);
			free(v);
			return 2;
		}
		if (v[i] >= 0.0)
			v[i] /= 1e3;
	}
	m->n = n;
	m->rtt = v;
	return 0;
}

/* Quantile q of v[0..n) (reorders v): nearest rank, by quickselect. */
static double
quantile(double *v, size_t n, double q)
{
	if (n == 0)
		return NAN;
	size_t k = (size_t)(q * (double)(n - 1) + 0.5);
	size_t lo = 0, hi = n - 1;
	while (lo < hi) {
		double pivot = v[lo + (hi - lo) / 2];
		size_t i = lo, j = hi;
		while (i <= j) {
			while (v[i] < pivot)
				i++;
			while (v[j] > pivot)
				j--;
			if (i <= j) {
				double t = v[i];
				v[i] = v[j];
				v[j] = t;
				i++;
				if (j == 0)
					break;
				j--;
			}
		}
		if (k <= j)
			hi = j;
		else if (k >= i)
			lo = i;
		else
			break;
	}
	return v[k];
}

/**
 * The 5 smallest known true RTTs of node @a i (ascending) into @a best;
 * returns how many (fewer when the row knows fewer peers).
 */
static size_t
true_best5(const struct sim_matrix *m, size_t i, double best[5])
{
	size_t n = m->n, nb = 0;
	for (size_t j = 0; j < n; j++) {
		double t = m->rtt[i * n + j];
		if (j == i || !(t > 0.0))
			continue;
		size_t p;
		if (nb == 5) {
			if (t >= best[4])
				continue;
			p = 4;
		} else {
			p = nb++;
		}
		while (p > 0 && best[p - 1] > t) {
			best[p] = best[p - 1];
			p--;
		}
		best[p] = t;
	}
	return nb;
}

/* Filter for ranking: skip self and peers without a known true RTT. */
struct rank_ctx {
	const struct sim_matrix *m;
	size_t self;
};

static int
rank_keep(const struct nc_coord_candidate *cand, size_t i, void *arg)
{
	const struct rank_ctx *r = arg;
	(void)cand;
	return i != r->self && r->m->rtt[r->self * r->m->n + i] > 0.0;
}

/** What each node measured itself: last RTT (s) and the round of it. */
struct sim_meas {
	float *rtt;
	unsigned *round;
};

/** The true-RTT buckets of the report, upper bounds in s. */
static const double bucket_hi[] = {0.001, 0.010, 0.050, INFINITY};
static const char *const bucket_name[] = {"<1ms", "1-10ms", "10-50ms",
					  ">=50ms"};
#define SIM_BUCKETS 4

/*
 * Median relative error by true-RTT bucket, of the estimate and of what
 * a node serves with its own measurements combined (nc_coord_combine_rtt,
 * ages in rounds = probe intervals of 1 s). Two lines:
 *   buckets estimate <1ms 0.93 (n=812) 1-10ms ...
 *   buckets served   <1ms 0.31 (n=812) ...
 */
static void
report_buckets(const struct sim_matrix *m, const struct nc_coord *coords,
	       enum nc_coord_algo algo, const struct sim_meas *ms,
	       unsigned round, double *scratch)
{
	size_t n = m->n;
	struct nc_coord_combine rule;
	nc_coord_combine_default(&rule);
	for (int served = 0; served < 2; served++) {
		printf("buckets %-8s", served ? "served" : "estimate");
		double lo = 0.0;
		for (int b = 0; b < SIM_BUCKETS; b++) {
			size_t k = 0;
			for (size_t i = 0; i < n; i++) {
				for (size_t j = 0; j < n; j++) {
					double t = m->rtt[i * n + j];
					if (i == j || !(t > 0.0) || t < lo ||
					    t >= bucket_hi[b])
						continue;
					double p = nc_coord_estimate_rtt(
					    algo, &coords[i], &coords[j]);
					size_t ij = i * n + j;
					if (served && ms->round[ij] > 0)
						p = nc_coord_combine_rtt(
						    &rule, p, ms->rtt[ij],
						    (double)(round -
							     ms->round[ij]),
						    NULL);
					scratch[k++] = fabs(p - t) / t;
				}
			}
			printf(" %s %.4f (n=%zu)", bucket_name[b],
			       k ? quantile(scratch, k, 0.5) : NAN, k);
			lo = bucket_hi[b];
		}
		printf("\n");
	}
}

/** One verification sample of true RTT @a t (s): the noise model. */
static double
verify_sample(const struct sim_opts *o, double t, uint64_t *rng)
{
	double g = o->noise > 0.0 ? gauss(rng) : 0.0;
	double x = t * exp(o->noise * g);
	if (o->spike_prob > 0.0 && unif(rng) < o->spike_prob)
		x += -log(1.0 - unif(rng)) * o->spike_ms / 1e3;
	return x;
}

/*
 * Verified nearest for each K of -verify: per node, the K best by
 * estimate are measured (verify_pings samples, minimum kept) and
 * re-ranked; top1, p@5 and xtraMs of that answer as in the main row.
 * The samples come from their own generator (seeded by -seed and the
 * round), so the main run's sequence is unchanged.
 */
static void
report_verify(const struct sim_opts *o, const struct sim_matrix *m,
	      const struct nc_coord *coords,
	      const struct nc_coord_candidate *cands, enum nc_coord_algo algo,
	      unsigned round, double *scratch)
{
	size_t n = m->n;
	unsigned kmax = o->verify[o->n_verify - 1];
	size_t want = kmax > 5 ? kmax : 5;
	size_t idx[SIM_VERIFY_K_MAX > 5 ? SIM_VERIFY_K_MAX : 5];
	printf("verify K top1 p@5 xtraMs pings/query\n");
	for (unsigned vi = 0; vi < o->n_verify; vi++) {
		unsigned K = o->verify[vi];
		uint64_t rng = o->seed ^ 0x7e51f7e51f7e51fULL ^
			       ((uint64_t)round << 20) ^ K;
		size_t hits = 0, nodes = 0;
		double prec = 0.0;
		for (size_t i = 0; i < n; i++) {
			double best[5];
			size_t nb = true_best5(m, i, best);
			if (nb == 0)
				continue;
			struct rank_ctx rc = {m, i};
			double est[SIM_VERIFY_K_MAX > 5 ? SIM_VERIFY_K_MAX : 5];
			int got = nc_coord_rank_nearest(algo, &coords[i], cands,
							n, rank_keep, &rc, want,
							idx, est);
			if (got <= 0)
				continue;
			struct nc_coord_verified v[SIM_VERIFY_K_MAX];
			size_t nv = (size_t)got < K ? (size_t)got : K;
			for (size_t r = 0; r < nv; r++) {
				double t = m->rtt[i * n + idx[r]];
				double mn = INFINITY;
				for (unsigned p = 0; p < o->verify_pings; p++) {
					double x = verify_sample(o, t, &rng);
					mn = x < mn ? x : mn;
				}
				v[r] = (struct nc_coord_verified){
				    idx[r], est[r], mn};
			}
			nc_coord_rank_verified(v, nv);
			for (size_t r = 0; r < nv; r++)
				idx[r] = v[r].idx;
			double t0 = m->rtt[i * n + idx[0]];
			hits += t0 <= best[0];
			scratch[nodes] = (t0 - best[0]) * 1e3;
			size_t in = 0;
			for (int r = 0; r < got && r < 5; r++)
				in += m->rtt[i * n + idx[r]] <= best[nb - 1];
			prec += (double)in / 5.0;
			nodes++;
		}
		printf("verify %u %.4f %.4f %.3f %u\n", K,
		       nodes ? (double)hits / nodes : 0.0,
		       nodes ? prec / nodes : 0.0,
		       quantile(scratch, nodes, 0.5), K * o->verify_pings);
	}
}

/* One report row. */
static void
evaluate(const struct sim_opts *o, const struct sim_matrix *m,
	 struct nc_coord_client **cl, enum nc_coord_algo algo, unsigned round,
	 double *scratch, struct nc_coord *coords,
	 struct nc_coord_candidate *cands, const struct sim_meas *ms)
{
	size_t n = m->n, k = 0;
	for (size_t i = 0; i < n; i++)
		nc_coord_client_get(cl[i], &coords[i]);
	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < n; j++) {
			double t = m->rtt[i * n + j];
			if (i == j || !(t > 0.0))
				continue;
			double p =
			    nc_coord_estimate_rtt(algo, &coords[i], &coords[j]);
			scratch[k++] = fabs(p - t) / t;
		}
	}
	double med = quantile(scratch, k, 0.5);
	double p90 = quantile(scratch, k, 0.9);

	size_t hits = 0, nodes = 0;
	double prec = 0.0;
	double *xtra = scratch;
	for (size_t i = 0; i < n; i++) {
		/* True minimum and 5th smallest true RTT. */
		double best[5];
		size_t nb = true_best5(m, i, best);
		if (nb == 0)
			continue;
		size_t idx[5];
		struct rank_ctx rc = {m, i};
		int got = nc_coord_rank_nearest(algo, &coords[i], cands, n,
						rank_keep, &rc, 5, idx, NULL);
		if (got <= 0)
			continue;
		double t0 = m->rtt[i * n + idx[0]];
		hits += t0 <= best[0];
		xtra[nodes] = (t0 - best[0]) * 1e3;
		size_t in = 0;
		for (int r = 0; r < got; r++)
			in += m->rtt[i * n + idx[r]] <= best[nb - 1];
		prec += (double)in / 5.0;
		nodes++;
	}
	double xmed = quantile(xtra, nodes, 0.5);

	double *err = scratch;
	unsigned long long resets = 0;
	for (size_t i = 0; i < n; i++) {
		struct nc_coord_stats st;
		nc_coord_client_stats(cl[i], &st);
		resets += st.resets;
		err[i] = coords[i].error;
	}
	double emed = quantile(err, n, 0.5);
	printf("%u %.4f %.4f %.4f %.4f %.3f %.4f %llu\n", round, med, p90,
	       nodes ? (double)hits / nodes : 0.0, nodes ? prec / nodes : 0.0,
	       xmed, emed, resets);
	report_buckets(m, coords, algo, ms, round, scratch);
	if (o->n_verify > 0)
		report_verify(o, m, coords, cands, algo, round, scratch);
	fflush(stdout);
}

static int
run_one(const struct sim_opts *o, const struct sim_matrix *m,
	enum nc_coord_algo algo)
{
	size_t n = m->n;
	int rc = 1;
	struct nc_coord_client **cl = calloc(n, sizeof(*cl));
	struct nc_coord *coords = calloc(n, sizeof(*coords));
	struct nc_coord_candidate *cands = calloc(n, sizeof(*cands));
	double *scratch = malloc(n * n * sizeof(double));
	char(*names)[32] = calloc(n, sizeof(*names));
	struct sim_meas ms = {calloc(n * n, sizeof(float)),
			      calloc(n * n, sizeof(unsigned))};
	if (cl == NULL || coords == NULL || cands == NULL || scratch == NULL ||
	    names == NULL || ms.rtt == NULL || ms.round == NULL)
		goto out;

	struct nc_coord_config cfg;
	nc_coord_config_default(&cfg);
	cfg.algo = algo;
	cfg.dims = o->dims;
	if (o->relax >= 0)
		cfg.relax_peers = (unsigned)o->relax;
	if (o->relax_gain > 0.0)
		cfg.relax_gain = o->relax_gain;
	if (o->filter > 0)
		cfg.latency_filter_size = (unsigned)o->filter;
	/* A cap above the node count changes nothing but memory. */
	if (o->peer_cap > 0)
		cfg.peer_cap = (unsigned)o->peer_cap;
	else if (cfg.peer_cap > n)
		cfg.peer_cap = (unsigned)n;
	uint64_t seeder = o->seed ^ 0x5eed5eed5eed5eedULL;
	for (size_t i = 0; i < n; i++) {
		char err[128];
		cfg.seed = nc_splitmix64(&seeder);
		cl[i] = nc_coord_client_new(&cfg, err, sizeof(err));
		if (cl[i] == NULL) {
			fprintf(stderr, "netcoord sim: %s\n", err);
			rc = 2;
			goto out;
		}
		snprintf(names[i], sizeof(names[i]), "node_%zu", i);
		cands[i].name = names[i];
		cands[i].coord = &coords[i];
	}

	printf("# algo=%s nodes=%zu dims=%u seed=%llu noise=%g "
	       "spike-prob=%g spike-ms=%g\n",
	       algo == NC_COORD_ALGO_SERF ? "serf" : "ours", n, o->dims,
	       (unsigned long long)o->seed, o->noise, o->spike_prob,
	       o->spike_ms);
	printf("round medRE p90RE top1 p@5 xtraMs errEst resets\n");
	/* Same probe/noise sequence for every algo at a given seed. */
	uint64_t rng = o->seed;
	unsigned next_report = 0;
	for (unsigned round = 1; round <= o->rounds; round++) {
		for (size_t i = 0; i < n; i++) {
			size_t j = (size_t)(nc_splitmix64(&rng) % (n - 1));
			if (j >= i)
				j++;
			double t = m->rtt[i * n + j];
			double g = o->noise > 0.0 ? gauss(&rng) : 0.0;
			double u = o->spike_prob > 0.0 ? unif(&rng) : 1.0;
			double e = o->spike_prob > 0.0 ? unif(&rng) : 0.0;
			if (t < 0.0)
				continue; /* missing: failed probe */
			t *= exp(o->noise * g);
			if (u < o->spike_prob)
				t += -log(1.0 - e) * o->spike_ms / 1e3;
			struct nc_coord peer;
			nc_coord_client_get(cl[j], &peer);
			/* Rejections (RTT > 10 s) are counted by the client. */
			(void)nc_coord_client_update(cl[i], names[j], &peer, t,
						     NULL);
			ms.rtt[i * n + j] = (float)t;
			ms.round[i * n + j] = round;
		}
		if (next_report < o->n_reports &&
		    round == o->reports[next_report]) {
			evaluate(o, m, cl, algo, round, scratch, coords, cands,
				 &ms);
			next_report++;
		}
	}
	rc = 0;
out:
	if (cl != NULL) {
		for (size_t i = 0; i < n; i++)
			nc_coord_client_delete(cl[i]);
	}
	free(cl);
	free(coords);
	free(cands);
	free(scratch);
	free(names);
	free(ms.rtt);
	free(ms.round);
	return rc;
}

int
nc_cmd_sim(int argc, char **argv)
{
	struct sim_opts o;
	int rc = parse_args(argc, argv, &o);
	if (rc != 0)
		return rc == 1 ? 0 : rc;
	struct sim_matrix m;
	rc = load_matrix(o.matrix, &m);
	if (rc != 0)
		return rc;
	if (o.algo == 2) {
		rc = run_one(&o, &m, NC_COORD_ALGO_SERF);
		if (rc == 0)
			rc = run_one(&o, &m, NC_COORD_ALGO_NC);
	} else {
		rc = run_one(&o, &m,
			     o.algo == 1 ? NC_COORD_ALGO_SERF
					 : NC_COORD_ALGO_NC);
	}
	free(m.rtt);
	return rc;
}
