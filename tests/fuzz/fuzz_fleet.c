/*
 * tests/fuzz/fuzz_fleet.c - real agents on simulator nodes for the
 * stateful fuzz targets (see fuzz_fleet.h): the same JSON config path as
 * `netcoord agent` and tests/api/harness.c, without CUnit; and the time
 * each unit takes.
 */
#include "tests/fuzz/fuzz_fleet.h"

#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <time.h>

#include "agent/config.h"

struct nc_agent *
ff_agent_new(struct sim_node *sn, const char *name, const char *tags_json,
	     const char *key_b64, const struct nc_addr *join)
{
	char json[1024], err[256];
	struct nc_config cfg;
	snprintf(json, sizeof(json),
		 "{\"node_name\":\"%s\",\"tags\":{%s}%s%s%s}", name,
		 tags_json != NULL ? tags_json : "",
		 key_b64 != NULL ? ",\"encrypt\":\"" : "",
		 key_b64 != NULL ? key_b64 : "", key_b64 != NULL ? "\"" : "");
	nc_config_init(&cfg);
	if (nc_config_load_json(&cfg, json, err, sizeof(err)) != 0) {
		fprintf(stderr, "fuzz: config: %s\n", err);
		nc_config_destroy(&cfg);
		return NULL;
	}
	if (join != NULL) {
		/* Numeric: the simulator has no resolver. */
		char a0[64];
		nc_addr_format(join, a0, sizeof(a0));
		cfg.join[0] = strdup(a0);
		cfg.join_n = cfg.join[0] != NULL;
	}
	struct nc_agent *a = nc_agent_new(sim_node_env(sn), &cfg,
					  sim_node_addr(sn), NULL, NULL, err,
					  sizeof(err));
	nc_config_destroy(&cfg);
	if (a == NULL)
		fprintf(stderr, "fuzz: agent: %s\n", err);
	return a;
}

void
ff_log_quiet(void *ctx, struct sim_world *w, int node, enum nc_log_level level,
	     const char *module, const char *msg)
{
	(void)ctx;
	(void)w;
	(void)node;
	(void)level;
	(void)module;
	(void)msg;
}

static double
now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double unit_t0, slowest_s;
static const char *slowest_target;

static void
print_slowest(void)
{
	fprintf(stderr, "%s: slowest unit %.2f ms\n", slowest_target,
		slowest_s * 1e3);
}

void
ff_unit_start(void)
{
	unit_t0 = now_s();
}

void
ff_unit_done(const char *target)
{
	double t = now_s() - unit_t0;
	if (slowest_target == NULL) {
		slowest_target = target;
		atexit(print_slowest);
	}
	if (t > slowest_s)
		slowest_s = t;
	if (t >= FF_SLOW_UNIT_S)
		fprintf(stderr, "%s: slow unit: %.2f ms\n", target, t * 1e3);
}
