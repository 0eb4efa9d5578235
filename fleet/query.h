#ifndef NC_FLEET_QUERY_H
#define NC_FLEET_QUERY_H
/*
 * fleet/query.h - the query scenario of `netcoord fleet-sim` (fleet/query.c,
 * -query-tag K): nearest and failover queries run by one agent through the
 * API's coordinate-fetch code, with their freshness figures. Internal to
 * fleet/ (fleet.c starts it; the figures land in struct nc_fleet_report).
 */
#include <stdio.h>

#include "fleet/fleet.h"

struct nc_agent;
struct sim_world;

/** What the scenario needs from the fleet. */
struct nc__fleet_query_env {
	struct sim_world *w;
	/** Hosts at start (names "n%05u", 0 .. n-1). */
	unsigned n;
	/** Host i's agent if it is started and not crashed, else NULL. */
	struct nc_agent *(*agent)(void *ctx, unsigned i);
	/** Host i's failover group (any number; taken mod the groups). */
	unsigned (*group)(void *ctx, unsigned i);
	void *ctx;
};

struct nc__fleet_query;

/** Pick the querier and the tagged members, schedule the queries at
 * cfg->query_at_s. NULL on OOM. */
struct nc__fleet_query *nc__fleet_query_start(
    const struct nc__fleet_query_env *env, const struct nc_fleet_config *cfg,
    struct nc_fleet_report *r);
/** Before the agents are deleted: the querier's counters. */
void nc__fleet_query_finish(struct nc__fleet_query *q);
void nc__fleet_query_free(struct nc__fleet_query *q);
/** The scenario's lines of the report (nothing if it did not run). */
void nc__fleet_query_print(FILE *o, const struct nc_fleet_report *r);

#endif /* NC_FLEET_QUERY_H */
