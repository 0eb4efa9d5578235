/*
 * tests/fuzz/fuzz_fleet.c - real agents on simulator nodes for the
 * stateful fuzz targets (see fuzz_fleet.h): the same JSON config path as
 * `netcoord agent` and tests/api/harness.c, without CUnit; and the time
 * each unit takes.
 */
#define _GNU_SOURCE
#include "tests/fuzz/fuzz_fleet.h"

#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <sys/resource.h>

#include "agent/config.h"

struct nc_agent *
ff_agent_new(struct sim_node *sn, const char *name, const char *tags_json,
	     const char *key_b64, const struct nc_addr *join, bool plain_wire)
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
	cfg.compression_off = plain_wire;
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

/** User and system CPU of this thread so far, s. */
static void
cpu_s(double *user, double *sys)
{
	struct rusage ru;
	getrusage(RUSAGE_THREAD, &ru);
	*user = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6;
	*sys = (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec * 1e-6;
}

static double unit_t0, unit_user0, unit_sys0, slowest_s, slowest_user_s;
static const char *slowest_target;

static void
print_slowest(void)
{
	fprintf(stderr, "%s: slowest unit %.2f ms; most user CPU %.2f ms\n",
		slowest_target, slowest_s * 1e3, slowest_user_s * 1e3);
}

void
ff_unit_start(void)
{
	cpu_s(&unit_user0, &unit_sys0);
	unit_t0 = now_s();
}

static void
keep_slow_unit(const char *target, double t, const uint8_t *data,
	       size_t size)
{
	static unsigned kept;
	char path[96];
	if (kept >= FF_SLOW_UNITS_KEPT)
		return;
	snprintf(path, sizeof(path), "%s-slow-%.0fms-%ld-%u.bin", target,
		 t * 1e3, (long)getpid(), kept++);
	FILE *fp = fopen(path, "wb");
	if (fp == NULL)
		return;
	if (fwrite(data, 1, size, fp) != size)
		fprintf(stderr, "%s: short write to %s\n", target, path);
	fclose(fp);
	fprintf(stderr, "%s: slow unit written to %s\n", target, path);
}

void
ff_unit_done(const char *target, const uint8_t *data, size_t size)
{
	double t = now_s() - unit_t0, user, sys;
	cpu_s(&user, &sys);
	user -= unit_user0;
	sys -= unit_sys0;
	if (slowest_target == NULL) {
		slowest_target = target;
		atexit(print_slowest);
	}
	if (t > slowest_s)
		slowest_s = t;
	if (user > slowest_user_s)
		slowest_user_s = user;
	if (t >= FF_SLOW_UNIT_S) {
		fprintf(stderr,
			"%s: slow unit: %.2f ms (CPU: user %.2f, system "
			"%.2f ms)\n",
			target, t * 1e3, user * 1e3, sys * 1e3);
		keep_slow_unit(target, t, data, size);
	}
}
