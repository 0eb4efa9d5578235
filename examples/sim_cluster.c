/*
 * sim_cluster: N netcoord agents in the deterministic simulator (sim)
 * — the same agent code as `netcoord agent` (agent/agent.h), in virtual
 * time, in one process.
 *
 *   sim_cluster [nodes=100] [seed=1] [loss=0.0] [spread_ms=100]
 *
 * Nodes sit at random points of a square spread_ms wide; the one-way
 * delay between two nodes is half their distance plus 0.1 ms, so the RTT
 * is the distance + 0.2 ms. Every agent joins node-0; the program prints
 * how long the cluster takes to converge (every agent sees every other
 * alive) and the median relative error of the RTT that node-0's API would
 * estimate for every pair, after 60 and 300 virtual seconds. Then one
 * agent crashes and it prints how long until every survivor has marked it
 * failed, plus traffic figures. The output is the same for a seed.
 */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent.h"
#include "coord/coord.h"
#include "gossip/gossip.h"
#include "sim/sim.h"
#include "util/util.h"

struct run {
	int n;
	struct nc_agent **a;
	double *x, *y;
	int victim;
};

static double
latency(void *ctx, struct sim_world *w, int from, int to)
{
	const struct run *r = ctx;
	(void)w;
	double d = hypot(r->x[from] - r->x[to], r->y[from] - r->y[to]);
	return (d + 0.2) / 2000.0; /* one way, seconds */
}

static void
quiet(void *ctx, struct sim_world *w, int node, enum nc_log_level level,
      const char *module, const char *msg)
{
	(void)ctx, (void)w, (void)node, (void)level, (void)module, (void)msg;
}

static bool
converged(struct sim_world *w, void *arg)
{
	struct run *r = arg;
	(void)w;
	for (int i = 0; i < r->n; i++) {
		struct nc_gossip *g = nc_agent_gossip(r->a[i]);
		size_t alive = 0;
		for (size_t j = 0; j < nc_gossip_member_count(g); j++)
			alive += nc_gossip_member_at(g, j)->state ==
				 NC_MEMBER_ALIVE;
		if (alive != (size_t)r->n)
			return false;
	}
	return true;
}

static bool
victim_failed(struct sim_world *w, void *arg)
{
	struct run *r = arg;
	char name[32];
	(void)w;
	snprintf(name, sizeof(name), "node-%d", r->victim);
	for (int i = 0; i < r->n; i++) {
		if (r->a[i] == NULL)
			continue;
		const struct nc_gossip_member *m =
			nc_gossip_member_find(nc_agent_gossip(r->a[i]), name);
		if (m != NULL && m->state != NC_MEMBER_DEAD)
			return false;
	}
	return true;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/**
 * Median relative error of the RTTs node-0 estimates for every pair from
 * the coordinates it holds (as /v1/rtt?from=A&to=B would), NAN if none.
 */
static double
median_error(struct run *r, double now)
{
	struct nc_agent_coords *c = nc_agent_coords(r->a[0]);
	enum nc_coord_algo algo =
		nc_coord_client_config(nc_agent_coords_client(c))->algo;
	struct nc_coord *co = calloc((size_t)r->n, sizeof(*co));
	bool *has = calloc((size_t)r->n, sizeof(*has));
	double *err = calloc((size_t)r->n * (size_t)r->n, sizeof(*err));
	size_t k = 0;
	for (int i = 0; co != NULL && has != NULL && i < r->n; i++) {
		struct nc_agent_coord_info ci;
		char name[32];
		snprintf(name, sizeof(name), "node-%d", i);
		if (nc_agent_coords_get(c, now, name, &ci) == 0 && ci.has_coord) {
			co[i] = *ci.coord;
			has[i] = true;
		}
	}
	for (int i = 0; err != NULL && i < r->n; i++)
		for (int j = i + 1; j < r->n; j++) {
			if (!has[i] || !has[j])
				continue;
			double truth = 2 * latency(r, NULL, i, j);
			double est = nc_coord_estimate_rtt(algo, &co[i], &co[j]);
			err[k++] = fabs(est - truth) / truth;
		}
	double med = NAN;
	if (k > 0) {
		qsort(err, k, sizeof(*err), cmp_double);
		med = err[k / 2];
	}
	free(co);
	free(has);
	free(err);
	return med;
}

static struct nc_agent *
agent_new(struct sim_world *w, int i)
{
	char name[32], err[256];
	struct nc_config cfg;
	snprintf(name, sizeof(name), "node-%d", i);
	struct sim_node *sn = sim_node_add(w, name);
	nc_config_init(&cfg);
	snprintf(cfg.node_name, sizeof(cfg.node_name), "%s", name);
	if (i > 0) {
		char a0[64];
		nc_addr_format(sim_node_addr(sim_node_get(w, 0)), a0,
			       sizeof(a0));
		cfg.join[0] = strdup(a0);
		cfg.join_n = cfg.join[0] != NULL;
	}
	struct nc_agent *a = nc_agent_new(sim_node_env(sn), &cfg,
					  sim_node_addr(sn), NULL, NULL, err,
					  sizeof(err));
	nc_config_destroy(&cfg);
	if (a == NULL || nc_agent_start(a) < 0) {
		fprintf(stderr, "node %d: %s\n", i, err);
		exit(1);
	}
	return a;
}

int
main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 100;
	uint64_t seed = argc > 2 ? strtoull(argv[2], NULL, 10) : 1;
	double loss = argc > 3 ? atof(argv[3]) : 0.0;
	double spread = argc > 4 ? atof(argv[4]) : 100.0;
	uint64_t susp = 0, pkts = 0, bytes = 0;
	struct run r = {.n = n};

	if (n < 2 || n > 5000 || !(spread > 0)) {
		fprintf(stderr, "usage: sim_cluster [nodes 2..5000] [seed] "
				"[loss 0..1] [spread_ms > 0]\n");
		return 2;
	}
	struct sim_world *w = sim_world_new(seed);
	struct nc_rng rng;
	nc_rng_seed(&rng, seed);
	r.a = calloc((size_t)n, sizeof(*r.a));
	r.x = calloc((size_t)n, sizeof(*r.x));
	r.y = calloc((size_t)n, sizeof(*r.y));
	if (r.a == NULL || r.x == NULL || r.y == NULL)
		return 1;
	for (int i = 0; i < n; i++) {
		r.x[i] = nc_rng_double(&rng) * spread;
		r.y[i] = nc_rng_double(&rng) * spread;
	}
	sim_set_log(w, quiet, NULL);
	sim_set_latency_fn(w, latency, &r);
	for (int i = 0; i < n; i++)
		r.a[i] = agent_new(w, i);
	sim_set_loss(w, loss);
	/* The predicate is O(n^2): check less often for big clusters. */
	double t = sim_run_until_pred(w, 300, n > 200 ? 1.0 : 0.1, converged,
				      &r);
	printf("nodes %d  seed %llu  loss %.1f%%  spread %.0f ms\n", n,
	       (unsigned long long)seed, loss * 100, spread);
	printf("converged (all see all alive): %s%.1f s\n",
	       t < 0 ? "not within 300 s, " : "", t < 0 ? 300.0 : t);
	sim_run_until(w, 60);
	printf("median relative RTT error at node-0, 60 s: %.3f\n",
	       median_error(&r, sim_now(w)));
	sim_run_until(w, 300);
	printf("median relative RTT error at node-0, 300 s: %.3f\n",
	       median_error(&r, sim_now(w)));

	r.victim = n / 2;
	double t0 = sim_now(w);
	sim_node_set_down(sim_node_get(w, r.victim), true);
	nc_agent_delete(r.a[r.victim]);
	r.a[r.victim] = NULL;
	t = sim_run_until_pred(w, t0 + 300, n > 200 ? 0.5 : 0.05,
			       victim_failed, &r);
	printf("crash of node-%d detected by all: %s%.1f s\n", r.victim,
	       t < 0 ? "not within 300 s, " : "", t < 0 ? 300.0 : t - t0);

	for (int i = 0; i < n; i++) {
		if (r.a[i] == NULL)
			continue;
		const struct nc_gossip_stats *st =
			nc_gossip_stats(nc_agent_gossip(r.a[i]));
		susp += st->suspicions;
		pkts += st->packets_out;
		bytes += st->bytes_out;
	}
	printf("virtual time %.1f s, %llu packets (%.1f /node/s, %.0f B avg), "
	       "%llu suspicions, %llu datagrams lost\n",
	       sim_now(w), (unsigned long long)pkts,
	       (double)pkts / n / sim_now(w),
	       pkts ? (double)bytes / (double)pkts : 0.0,
	       (unsigned long long)susp,
	       (unsigned long long)sim_net_stats(w)->drop_loss);
	for (int i = 0; i < n; i++)
		nc_agent_delete(r.a[i]);
	free(r.a);
	free(r.x);
	free(r.y);
	sim_world_delete(w);
	return 0;
}
