/*
 * fleet_sim.c - `netcoord fleet-sim`: N real agents in virtual time on an
 * RTT model, with crashes, pauses, joins, loss and a partition, and the
 * table a capacity planner reads (fleet/fleet.h says what each figure is).
 *
 *   netcoord fleet-sim -n 1000 -duration 300 -event crash@120:5 -loss 0.01
 *   netcoord fleet-sim -n 100 -slow 0.1:4:10 -lifeguard swim -event crash@100:3
 *   netcoord fleet-sim -n 1000 -duration 200 -query-tag 100 -query-at 120
 */
#include "cmd/fleet_sim.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "fleet/fleet.h"

/** The report as one JSON object (for scripts and the CI bounds check). */
static int
print_json(const struct nc_fleet_report *r)
{
	static const char *kn[] = {"probes", "gossip", "pushpull",
				   "coordinates", "fetch"};
	cJSON *o = cJSON_CreateObject(), *t = cJSON_CreateObject();
	if (o == NULL || t == NULL) {
		cJSON_Delete(o);
		cJSON_Delete(t);
		return -1;
	}
	const struct {
		const char *k;
		double v;
	} f[] = {
	    {"N", r->n},
	    {"NFinal", r->n_final},
	    {"DurationS", r->duration_s},
	    {"Loss", r->loss},
	    {"ConvergeS", r->converge_s},
	    {"Joins", r->joins},
	    {"JoinsIncomplete", r->joins_incomplete},
	    {"JoinP50S", r->join_p50},
	    {"JoinMaxS", r->join_max},
	    {"Crashes", r->crashes},
	    {"CrashesIncomplete", r->crashes_incomplete},
	    {"FirstFailedP50S", r->first_p50},
	    {"FirstFailedP99S", r->first_p99},
	    {"LastFailedP50S", r->last_p50},
	    {"LastFailedP99S", r->last_p99},
	    {"FalseFailures", (double)r->false_failures},
	    {"FalseFailuresPaused", (double)r->paused_failures},
	    {"FalseSuspicions", (double)r->false_suspicions},
	    {"FalseSuspicionsPaused", (double)r->paused_suspicions},
	    {"Slow", r->slow},
	    {"SuspicionMult", r->suspicion_mult},
	    {"SuspicionMaxMult", r->suspicion_max_mult},
	    {"HealthyFailures", (double)r->healthy_failures},
	    {"HealthyFailuresByHealthy", (double)r->healthy_failures_by_healthy},
	    {"HealthyFpPerMemberHour", r->healthy_fp_per_member_hour},
	    {"SlowFailures", (double)r->slow_failures},
	    {"SlowFpPerMemberHour", r->slow_fp_per_member_hour},
	    {"HealthySuspicions", (double)r->healthy_suspicions},
	    {"SlowSuspicions", (double)r->slow_suspicions},
	    {"MaxBytesOutPerS", r->max_bytes_out},
	    {"MaxBytesInPerS", r->max_bytes_in},
	    {"HeapPerAgent", r->heap_per_agent},
	    {"CoordMedianRelErr", r->coord_median_re},
	    {"CoordCached", r->coord_cached},
	    {"WallS", r->wall_s},
	    {"CpuS", r->cpu_s},
	    {"PeakRssKiB", (double)r->peak_rss_kib},
	    {"QueryTagged", r->query_tagged},
	    {"QueryPicked", r->query1_picked},
	    {"QueryFreshBefore", r->query1_fresh_before},
	    {"QueryAllFreshS", r->query_tagged ? r->query1_s : NAN},
	    {"QueryFreshAtAnswer", r->query1_fresh_answer},
	    {"Query2FreshBefore", r->query2_fresh_before},
	    {"Query2AllFreshS", r->query_tagged ? r->query2_s : NAN},
	    {"Query2FreshAtAnswer", r->query2_fresh_answer},
	    {"FailoverGroups", r->query_groups},
	    {"FailoverPicked", r->failover_picked},
	    {"FailoverAllFreshS", r->query_tagged ? r->failover_s : NAN},
	    {"FailoverFreshMin", r->failover_fresh_min},
	    {"FailoverFreshMedian", r->failover_fresh_median},
	    {"QueryFetchRequests", (double)r->query_fetch_req},
	    {"QueryFetchReplies", (double)r->query_fetch_replies},
	    {"QueryFetchTimeouts", (double)r->query_fetch_timeouts},
	    {"QueryRefetches", (double)r->query_refetches},
	};
	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		if (isfinite(f[i].v))
			cJSON_AddNumberToObject(o, f[i].k, f[i].v);
		else
			cJSON_AddNullToObject(o, f[i].k);
	}
	cJSON_AddStringToObject(o, "Model", r->model);
	cJSON_AddStringToObject(o, "Lifeguard", r->lifeguard);
	cJSON_AddBoolToObject(o, "Formed", r->formed);
	for (int k = 0; k < NC_FLEET_KINDS; k++) {
		cJSON *e = cJSON_AddObjectToObject(t, kn[k]);
		if (e == NULL)
			continue;
		cJSON_AddNumberToObject(e, "BytesOutPerS", r->bytes_out[k]);
		cJSON_AddNumberToObject(e, "BytesInPerS", r->bytes_in[k]);
		cJSON_AddNumberToObject(e, "PktsOutPerS", r->pkts_out[k]);
		cJSON_AddNumberToObject(e, "PktsInPerS", r->pkts_in[k]);
	}
	cJSON_AddItemToObject(o, "Traffic", t);
	char *s = cJSON_Print(o);
	cJSON_Delete(o);
	if (s == NULL)
		return -1;
	puts(s);
	cJSON_free(s);
	return 0;
}

static void
usage(FILE *f)
{
	fprintf(f,
		"usage: netcoord fleet-sim [flags]\n"
		"  -n N            agents at start (default 100)\n"
		"  -duration S     virtual seconds (default 300)\n"
		"  -warm S         traffic figures from S on (default 60)\n"
		"  -seed N         PRNG seed (default 1): same seed, same run\n"
		"  -matrix FILE    RTT matrix (ms); default: synthetic model\n"
		"  -loss P         datagram loss probability (default 0)\n"
		"  -coord-gossip-rate B  coordinate gossip bytes/s per agent\n"
		"  -event KIND@T[:COUNT[:DURATION]]  repeatable: crash@T:K,\n"
		"                  pause@T:K:D, join@T:K, partition@T:D\n"
		"  -slow SHARE:STALL_S:PERIOD_S[:rx|stop]  that share of the\n"
		"                  agents stall STALL_S of every PERIOD_S (random\n"
		"                  phases): inbound processing only (rx, default)\n"
		"                  or the whole process (stop)\n"
		"  -lifeguard L    all (default), swim, or the components on:\n"
		"                  lha-probe,lha-suspicion,buddy,nack\n"
		"  -suspicion-mult A:B  suspicion timeout min = A x log10 N x\n"
		"                  probe interval, max = B x min (LAN: 4:6)\n"
		"  -coord-cache-max K  each agent caches at most K coordinates\n"
		"  -formed         start from a formed fleet (every agent knows\n"
		"                  every other; no join storm)\n"
		"  -query-tag K    query scenario: K random members are the\n"
		"                  candidates of a nearest query (5 of them) one\n"
		"                  agent runs at -query-at (again 60 s later) and\n"
		"                  a failover query over -query-groups groups\n"
		"  -query-at T     virtual time of the first query (default 120)\n"
		"  -query-groups G failover groups (default 20)\n"
		"  -progress S     a progress line every S virtual s (0: none)\n"
		"  -quiet          no memberlist expectation beside the table\n"
		"  -json           the report as JSON\n");
}

static int
num(const char *flag, const char *v, double lo, double hi, double *out)
{
	char *end;
	errno = 0;
	double d = v != NULL ? strtod(v, &end) : 0;
	if (v == NULL || end == v || *end != '\0' || errno != 0 || d < lo ||
	    d > hi) {
		fprintf(stderr, "fleet-sim: %s: want a number in %g..%g\n", flag,
			lo, hi);
		return -1;
	}
	*out = d;
	return 0;
}

int
nc_cmd_fleet_sim(int argc, char **argv)
{
	struct nc_fleet_config cfg;
	struct nc_fleet_report r;
	char err[256];
	bool quiet = false, json = false;
	double d;
	nc_fleet_config_default(&cfg);
	cfg.progress = stderr;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		int rc = 0;
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			usage(stdout);
			return 0;
		} else if (strcmp(a, "-quiet") == 0) {
			quiet = true;
			continue;
		} else if (strcmp(a, "-formed") == 0) {
			cfg.formed = true;
			continue;
		} else if (strcmp(a, "-json") == 0) {
			json = true;
			continue;
		} else if (strcmp(a, "-n") == 0) {
			rc = num(a, v, 2, NC_FLEET_MAX_AGENTS, &d);
			cfg.n = (unsigned)d;
		} else if (strcmp(a, "-duration") == 0) {
			rc = num(a, v, 1, 86400, &cfg.duration_s);
		} else if (strcmp(a, "-warm") == 0) {
			rc = num(a, v, 0, 86400, &cfg.warm_s);
		} else if (strcmp(a, "-seed") == 0) {
			rc = num(a, v, 0, 9007199254740992.0, &d);
			cfg.seed = (uint64_t)d;
		} else if (strcmp(a, "-matrix") == 0) {
			cfg.matrix_path = v;
			rc = v == NULL ? -1 : 0;
		} else if (strcmp(a, "-loss") == 0) {
			rc = num(a, v, 0, 0.99, &cfg.loss);
		} else if (strcmp(a, "-coord-gossip-rate") == 0) {
			rc = num(a, v, 0, 1e9, &cfg.coord_gossip_rate);
		} else if (strcmp(a, "-coord-cache-max") == 0) {
			double k;
			rc = num(a, v, 16, 10000000, &k);
			cfg.coord_cache_max = (unsigned)k;
		} else if (strcmp(a, "-query-tag") == 0) {
			rc = num(a, v, 1, NC_FLEET_MAX_AGENTS, &d);
			cfg.query_tag = (unsigned)d;
		} else if (strcmp(a, "-query-at") == 0) {
			rc = num(a, v, 0, 86400, &cfg.query_at_s);
		} else if (strcmp(a, "-query-groups") == 0) {
			rc = num(a, v, 1, 10000, &d);
			cfg.query_groups = (unsigned)d;
		} else if (strcmp(a, "-progress") == 0) {
			rc = num(a, v, 0, 86400, &cfg.progress_s);
			if (cfg.progress_s == 0)
				cfg.progress = NULL;
		} else if (strcmp(a, "-slow") == 0 ||
			   strcmp(a, "-lifeguard") == 0) {
			if (v == NULL ||
			    (a[1] == 's' ? nc_fleet_slow_parse(v, &cfg, err,
							       sizeof(err))
					 : nc_fleet_lifeguard_parse(
					       v, &cfg, err, sizeof(err))) < 0) {
				fprintf(stderr, "fleet-sim: %s: %s\n", a,
					v == NULL ? "missing value" : err);
				return 2;
			}
		} else if (strcmp(a, "-suspicion-mult") == 0) {
			int used = 0;
			if (v == NULL ||
			    sscanf(v, "%d:%d%n", &cfg.suspicion_mult,
				   &cfg.suspicion_max_mult, &used) != 2 ||
			    v[used] != '\0' || cfg.suspicion_mult < 1 ||
			    cfg.suspicion_mult > 100 ||
			    cfg.suspicion_max_mult < 1 ||
			    cfg.suspicion_max_mult > 100) {
				fprintf(stderr, "fleet-sim: -suspicion-mult: want "
						"A:B, each 1..100\n");
				return 2;
			}
		} else if (strcmp(a, "-event") == 0) {
			if (cfg.n_ev == NC_FLEET_MAX_EVENTS) {
				fprintf(stderr, "fleet-sim: -event: at most %d\n",
					NC_FLEET_MAX_EVENTS);
				return 2;
			}
			if (v == NULL || nc_fleet_event_parse(
					     v, &cfg.ev[cfg.n_ev], err,
					     sizeof(err)) < 0) {
				fprintf(stderr, "fleet-sim: -event: %s\n",
					v == NULL ? "missing value" : err);
				return 2;
			}
			cfg.n_ev++;
		} else {
			fprintf(stderr, "fleet-sim: unknown flag \"%s\"\n", a);
			usage(stderr);
			return 2;
		}
		if (rc < 0) {
			if (v == NULL)
				fprintf(stderr, "fleet-sim: %s: missing value\n",
					a);
			return 2;
		}
		i++;
	}
	if (nc_fleet_run(&cfg, &r, err, sizeof(err)) < 0) {
		fprintf(stderr, "fleet-sim: %s\n", err);
		return 1;
	}
	if (json)
		return print_json(&r) < 0 ? 1 : 0;
	nc_fleet_report_print(stdout, &r);
	if (!quiet)
		nc_fleet_expectation_print(stdout, cfg.n);
	return 0;
}
