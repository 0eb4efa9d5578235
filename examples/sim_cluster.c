/*
 * sim_cluster: N gossip agents in the deterministic simulator (tests/sim).
 *
 *   sim_cluster [nodes=100] [seed=1] [loss=0.0] [latency_ms=5]
 *
 * Starts every agent with serf's LAN settings, joins each one through
 * node-0, and prints how long the cluster takes to converge (every agent
 * sees every other alive). Then one agent crashes and the program prints
 * how long until every survivor has marked it dead, plus traffic figures.
 * Everything runs in virtual time: the output is the same for a seed.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gossip/gossip.h"
#include "tests/sim/sim.h"

struct run {
	int n;
	struct nc_gossip **g;
	int victim;
};

static bool
converged(struct sim_world *w, void *arg)
{
	struct run *r = arg;

	(void)w;
	for (int i = 0; i < r->n; i++) {
		size_t alive = 0;
		if (r->g[i] == NULL)
			continue;
		for (size_t j = 0; j < nc_gossip_member_count(r->g[i]); j++)
			alive += nc_gossip_member_at(r->g[i], j)->state ==
				 NC_MEMBER_ALIVE;
		if (alive != (size_t)r->n)
			return false;
	}
	return true;
}

static bool
victim_dead(struct sim_world *w, void *arg)
{
	struct run *r = arg;
	char name[32];

	(void)w;
	snprintf(name, sizeof(name), "node-%d", r->victim);
	for (int i = 0; i < r->n; i++) {
		const struct nc_gossip_member *m;
		if (r->g[i] == NULL)
			continue;
		m = nc_gossip_member_find(r->g[i], name);
		if (m != NULL && m->state != NC_MEMBER_DEAD)
			return false;
	}
	return true;
}

int
main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 100;
	uint64_t seed = argc > 2 ? strtoull(argv[2], NULL, 10) : 1;
	double loss = argc > 3 ? atof(argv[3]) : 0.0;
	double lat_ms = argc > 4 ? atof(argv[4]) : 5.0;
	struct sim_world *w;
	struct run r;
	uint64_t susp = 0, pkts = 0, bytes = 0;
	double t, t0;
	char err[128];

	if (n < 2 || n > 5000) {
		fprintf(stderr, "nodes must be in [2, 5000]\n");
		return 2;
	}
	w = sim_world_new(seed);
	sim_set_latency_const(w, lat_ms / 1000.0);
	r.n = n;
	r.g = calloc((size_t)n, sizeof(*r.g));
	for (int i = 0; i < n; i++) {
		struct nc_gossip_config cfg;
		struct sim_node *sn;
		char name[32];

		snprintf(name, sizeof(name), "node-%d", i);
		sn = sim_node_add(w, name);
		nc_gossip_config_default(&cfg, NC_GOSSIP_PROFILE_LAN);
		snprintf(cfg.name, sizeof(cfg.name), "%s", name);
		cfg.advertise = *sim_node_addr(sn);
		r.g[i] = nc_gossip_new(sim_node_env(sn), &cfg, NULL, err,
				       sizeof(err));
		if (r.g[i] == NULL) {
			fprintf(stderr, "node %d: %s\n", i, err);
			return 1;
		}
		nc_gossip_start(r.g[i]);
		if (i > 0)
			nc_gossip_join(r.g[i],
				       sim_node_addr(sim_node_get(w, 0)), 1,
				       NULL, NULL);
	}
	sim_set_loss(w, loss);
	/* The predicate is O(n^2): check less often for big clusters. */
	t = sim_run_until_pred(w, 300, n > 200 ? 1.0 : 0.1, converged, &r);
	printf("nodes %d  seed %llu  loss %.1f%%  latency %.1f ms\n", n,
	       (unsigned long long)seed, loss * 100, lat_ms);
	printf("converged (all see all alive): %s%.1f s\n",
	       t < 0 ? "not within 300 s, " : "", t < 0 ? 300.0 : t);
	sim_run_until(w, sim_now(w) + 30);

	r.victim = n / 2;
	t0 = sim_now(w);
	sim_node_set_down(sim_node_get(w, r.victim), true);
	nc_gossip_delete(r.g[r.victim]);
	r.g[r.victim] = NULL;
	t = sim_run_until_pred(w, t0 + 300, n > 200 ? 0.5 : 0.05, victim_dead,
			       &r);
	printf("crash of node-%d detected by all: %s%.1f s\n", r.victim,
	       t < 0 ? "not within 300 s, " : "", t < 0 ? 300.0 : t - t0);

	for (int i = 0; i < n; i++) {
		const struct nc_gossip_stats *st;
		if (r.g[i] == NULL)
			continue;
		st = nc_gossip_stats(r.g[i]);
		susp += st->suspicions;
		pkts += st->packets_out;
		bytes += st->bytes_out;
	}
	printf("virtual time %.1f s, %llu packets (%.1f /node/s, %.0f B avg), "
	       "%llu suspicions, %llu datagrams lost\n", sim_now(w),
	       (unsigned long long)pkts, (double)pkts / n / sim_now(w),
	       pkts ? (double)bytes / (double)pkts : 0.0,
	       (unsigned long long)susp,
	       (unsigned long long)sim_net_stats(w)->drop_loss);
	for (int i = 0; i < n; i++)
		nc_gossip_delete(r.g[i]);
	free(r.g);
	sim_world_delete(w);
	return 0;
}
