/*
 * api/metrics.c - GET /metrics in the Prometheus text exposition format
 * (version 0.0.4): gossip counters (nc_gossip_stats), members by state,
 * the coordinate client's counters and error estimates, the coordinate
 * cache and its gossip, serf events / queries relayed and answered and
 * the queries the agent ran itself (netcoord_serf_*), HTTP responses by
 * status code and blocking queries held / released
 * (netcoord_http_blocking_*). And GET
 * /v1/stats: the raw counters of gossip, the loop, the serf relay and the
 * latency emulation as JSON (what bench/ reads).
 *
 * Names follow Prometheus conventions: netcoord_ prefix, _total for
 * counters, base units (seconds, bytes).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "api/api_int.h"
#include "coord/coord.h"
#include "gossip/gossip.h"
#include "loop/latency.h"
#include "loop/loop.h"

/** Cap on the /metrics text (a few KiB in practice). Nothing special in
 * this value. */
#define METRICS_MAX_BYTES (1024 * 1024)

/** The /metrics text; after a failed append it stops growing, `failed` set. */
struct tbuf {
	struct nc_dbuf d;
	bool failed;
};

static void tb_printf(struct tbuf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
tb_printf(struct tbuf *b, const char *fmt, ...)
{
	va_list ap;
	if (b->failed)
		return;
	va_start(ap, fmt);
	b->failed = nc_dbuf_vprintf(&b->d, fmt, ap) != 0;
	va_end(ap);
}

static void
counter(struct tbuf *b, const char *name, const char *help, uint64_t v)
{
	tb_printf(b, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n", name, help,
		  name, name, (unsigned long long)v);
}

static void
gauge(struct tbuf *b, const char *name, const char *help, double v)
{
	tb_printf(b, "# HELP %s %s\n# TYPE %s gauge\n%s %.9g\n", name, help,
		  name, name, v);
}

/** Number of member states (enum nc_member_state: 0..NC_MEMBER_LEFT). */
#define N_MEMBER_STATES (NC_MEMBER_LEFT + 1)

static void
gossip_metrics(struct tbuf *b, struct nc_gossip *g)
{
	const struct nc_gossip_stats *s = nc_gossip_stats(g);
	size_t by[N_MEMBER_STATES] = {0};
	size_t n = nc_gossip_member_count(g);
	for (size_t i = 0; i < n; i++) {
		const struct nc_gossip_member *m = nc_gossip_member_at(g, i);
		if ((unsigned)m->state < N_MEMBER_STATES)
			by[m->state]++;
	}
	tb_printf(b, "# HELP netcoord_members Members in the table by "
		     "state.\n# TYPE netcoord_members gauge\n");
	for (int st = 0; st < N_MEMBER_STATES; st++)
		tb_printf(b, "netcoord_members{state=\"%s\"} %zu\n",
			  nc_api_status_str(st), by[st]);
	gauge(b, "netcoord_health_score",
	      "Lifeguard local health score (0 = healthy).",
	      nc_gossip_health_score(g));
	counter(b, "netcoord_packets_in_total", "UDP packets received.",
		s->packets_in);
	counter(b, "netcoord_packets_out_total", "UDP packets sent.",
		s->packets_out);
	counter(b, "netcoord_bytes_in_total", "UDP bytes received.",
		s->bytes_in);
	counter(b, "netcoord_bytes_out_total", "UDP bytes sent.", s->bytes_out);
	tb_printf(b, "# HELP netcoord_packets_dropped_total Inbound packets "
		     "dropped, by reason.\n# TYPE "
		     "netcoord_packets_dropped_total counter\n");
	tb_printf(b,
		  "netcoord_packets_dropped_total{reason=\"decrypt\"} %llu\n"
		  "netcoord_packets_dropped_total{reason=\"crc\"} %llu\n"
		  "netcoord_packets_dropped_total{reason=\"decode\"} %llu\n"
		  "netcoord_packets_dropped_total{reason=\"type\"} %llu\n"
		  "netcoord_packets_dropped_total{reason=\"other\"} %llu\n"
		  "netcoord_packets_dropped_total{reason=\"bad_name\"} %llu\n"
		  "netcoord_packets_dropped_total{reason=\"bad_vsn\"} %llu\n"
		  "netcoord_packets_dropped_total{reason=\"bad_incarnation\"} "
		  "%llu\n"
		  "netcoord_packets_dropped_total{reason=\"decompress_budget\"} "
		  "%llu\n"
		  "netcoord_packets_dropped_total{reason=\"member_cap\"} "
		  "%llu\n",
		  (unsigned long long)s->drop_decrypt,
		  (unsigned long long)s->drop_crc,
		  (unsigned long long)s->drop_decode,
		  (unsigned long long)s->drop_type,
		  (unsigned long long)s->drop_other,
		  (unsigned long long)s->drop_bad_name,
		  (unsigned long long)s->drop_bad_vsn,
		  (unsigned long long)s->drop_bad_incarnation,
		  (unsigned long long)s->drop_decompress,
		  (unsigned long long)s->drop_member_cap);
	counter(b, "netcoord_probes_total", "Direct probes started.",
		s->probes);
	counter(b, "netcoord_probe_failures_total",
		"Probes that ended without an ack.", s->probe_failures);
	counter(b, "netcoord_indirect_probes_total",
		"Indirect probe requests sent.", s->indirect_probes);
	counter(b, "netcoord_tcp_pings_total", "TCP fallback pings.",
		s->tcp_pings);
	counter(b, "netcoord_acks_sent_total", "Acks sent.", s->acks_sent);
	counter(b, "netcoord_nacks_sent_total", "Nacks sent.", s->nacks_sent);
	counter(b, "netcoord_suspicions_total", "Members suspected.",
		s->suspicions);
	counter(b, "netcoord_refutations_total",
		"Suspicions of this node refuted.", s->refutations);
	counter(b, "netcoord_deaths_declared_total",
		"Members declared dead by this node.", s->deaths_declared);
	counter(b, "netcoord_pushpull_out_total", "Push/pulls initiated.",
		s->pushpull_out);
	counter(b, "netcoord_pushpull_in_total", "Push/pulls answered.",
		s->pushpull_in);
	counter(b, "netcoord_pushpull_failures_total", "Push/pulls failed.",
		s->pushpull_fail);
	counter(b, "netcoord_stream_errors_total", "TCP stream errors.",
		s->stream_errors);
	counter(b, "netcoord_broadcasts_queued_total",
		"Gossip broadcasts queued.", s->broadcasts_queued);
	counter(b, "netcoord_broadcasts_sent_total",
		"Gossip broadcasts transmitted.", s->broadcasts_sent);
}

static void
coord_metrics(struct tbuf *b, struct nc_agent_coords *c)
{
	struct nc_coord_stats cs;
	struct nc_agent_coords_stats as;
	struct nc_coord me;
	struct nc_coord_client *cl = nc_agent_coords_client(c);
	nc_coord_client_stats(cl, &cs);
	nc_coord_client_get(cl, &me);
	nc_agent_coords_stats(c, &as);
	gauge(b, "netcoord_coord_error",
	      "Vivaldi error estimate of this node's coordinate.", me.error);
	gauge(b, "netcoord_coord_measured_relative_error",
	      "Moving average of |estimate - rtt| / rtt before each update.",
	      cs.measured_error);
	gauge(b, "netcoord_coord_height_seconds",
	      "Height of this node's coordinate.", me.height);
	counter(b, "netcoord_coord_updates_total",
		"Coordinate updates accepted.", cs.updates);
	counter(b, "netcoord_coord_rejected_total",
		"Coordinate updates rejected by the client.", cs.rejected);
	counter(b, "netcoord_coord_resets_total",
		"Coordinate resets (invalid coordinate).", cs.resets);
	gauge(b, "netcoord_coord_peers",
	      "Peers tracked by the coordinate client.", cs.peers);
	gauge(b, "netcoord_coords_cached", "Members with a known coordinate.",
	      as.cached);
	tb_printf(b,
		  "# HELP netcoord_coord_payload_rejected_total Probe ack "
		  "payloads rejected, by reason.\n# TYPE "
		  "netcoord_coord_payload_rejected_total counter\n"
		  "netcoord_coord_payload_rejected_total{reason=\"decode\"} "
		  "%llu\n"
		  "netcoord_coord_payload_rejected_total{reason=\"value\"} "
		  "%llu\n"
		  "netcoord_coord_payload_rejected_total{reason=\"missing\"}"
		  " %llu\n",
		  (unsigned long long)as.payload_bad_decode,
		  (unsigned long long)as.payload_bad_value,
		  (unsigned long long)as.payload_missing);
	counter(b, "netcoord_coord_gossip_msgs_out_total",
		"Coordinate gossip messages sent.", as.gossip_msgs_out);
	counter(b, "netcoord_coord_gossip_msgs_in_total",
		"Coordinate gossip messages received.", as.gossip_msgs_in);
	counter(b, "netcoord_coord_gossip_msgs_bad_total",
		"Malformed coordinate gossip messages.", as.gossip_msgs_bad);
	counter(b, "netcoord_coord_gossip_bytes_out_total",
		"Coordinate gossip bytes sent.", as.gossip_bytes_out);
	counter(b, "netcoord_coord_gossip_bytes_in_total",
		"Coordinate gossip bytes received.", as.gossip_bytes_in);
	counter(b, "netcoord_coord_gossip_boosts_total",
		"Full coordinate messages sent to recently joined members.",
		as.gossip_boosts);
	counter(b, "netcoord_coord_gossip_greets_total",
		"Own-coordinate greetings sent to new members.",
		as.gossip_greets);
	counter(b, "netcoord_coord_gossip_entries_new_total",
		"Gossiped coordinates accepted (newer).",
		as.gossip_entries_new);
	counter(b, "netcoord_coord_gossip_entries_old_total",
		"Gossiped coordinates ignored (not newer).",
		as.gossip_entries_old);
	counter(b, "netcoord_coord_gossip_entries_bad_total",
		"Gossiped coordinates rejected (bad values).",
		as.gossip_entries_bad);
	counter(b, "netcoord_coord_cache_evicted_total",
		"Coordinate cache entries evicted at -coord-cache-max.",
		as.evicted);
	counter(b, "netcoord_coord_cache_full_total",
		"New coordinate cache names dropped: every entry protected.",
		as.evict_none);
	/* Coordinate fetch (agent/coords.c). */
	counter(b, "netcoord_coord_fetch_requests_sent_total",
		"Coordinate fetch requests sent to owners.", as.fetch_req_out);
	counter(b, "netcoord_coord_fetch_replies_received_total",
		"Coordinate fetch replies accepted.", as.fetch_reply_in);
	counter(b, "netcoord_coord_fetch_timeouts_total",
		"Coordinate fetches not answered in time.", as.fetch_timeouts);
	counter(b, "netcoord_coord_fetch_refetches_total",
		"Background refetches of interesting coordinates.",
		as.refetches);
	counter(b, "netcoord_coord_fetch_retries_total",
		"Coordinate fetch requests repeated while unanswered.",
		as.fetch_retries);
	tb_printf(b,
		  "# HELP netcoord_coord_fetch_skipped_total Coordinate fetch "
		  "requests not sent, by reason.\n# TYPE "
		  "netcoord_coord_fetch_skipped_total counter\n"
		  "netcoord_coord_fetch_skipped_total{reason=\"unusable\"} "
		  "%llu\n"
		  "netcoord_coord_fetch_skipped_total{reason=\"budget\"} "
		  "%llu\n"
		  "netcoord_coord_fetch_skipped_total{reason=\"pending_full\"} "
		  "%llu\n",
		  (unsigned long long)as.fetch_skip_unusable,
		  (unsigned long long)as.fetch_skip_budget,
		  (unsigned long long)as.fetch_skip_full);
	counter(b, "netcoord_coord_fetch_requests_received_total",
		"Coordinate fetch requests received.", as.fetch_req_in);
	counter(b, "netcoord_coord_fetch_replies_sent_total",
		"Coordinate fetch replies sent.", as.fetch_reply_out);
	tb_printf(b,
		  "# HELP netcoord_coord_fetch_dropped_total Coordinate fetch "
		  "messages dropped, by reason.\n# TYPE "
		  "netcoord_coord_fetch_dropped_total counter\n"
		  "netcoord_coord_fetch_dropped_total{reason=\"request_bad\"} "
		  "%llu\n"
		  "netcoord_coord_fetch_dropped_total{reason=\"request_not_member\"} "
		  "%llu\n"
		  "netcoord_coord_fetch_dropped_total{reason=\"request_not_owner\"} "
		  "%llu\n"
		  "netcoord_coord_fetch_dropped_total{reason=\"request_budget\"} "
		  "%llu\n"
		  "netcoord_coord_fetch_dropped_total{reason=\"reply_bad\"} "
		  "%llu\n"
		  "netcoord_coord_fetch_dropped_total{reason=\"reply_not_owner\"} "
		  "%llu\n"
		  "netcoord_coord_fetch_dropped_total{reason=\"reply_unsolicited\"} "
		  "%llu\n",
		  (unsigned long long)as.fetch_req_bad,
		  (unsigned long long)as.fetch_req_not_member,
		  (unsigned long long)as.fetch_req_not_owner,
		  (unsigned long long)as.fetch_req_budget,
		  (unsigned long long)as.fetch_reply_bad,
		  (unsigned long long)as.fetch_reply_not_owner,
		  (unsigned long long)as.fetch_reply_unsolicited);
	gauge(b, "netcoord_coord_interesting",
	      "Names kept fresh for recent queries.", as.interesting);
}

/* serf messages relayed and queries answered (agent/serf_*.c). */
static void
serf_metrics(struct tbuf *b, struct nc_agent *agent)
{
	struct nc_agent_stats as;
	nc_agent_stats(agent, &as);
	counter(b, "netcoord_serf_events_total",
		"serf user events seen (first reception).", as.serf_events);
	counter(b, "netcoord_serf_queries_total",
		"serf queries seen (first reception).", as.serf_queries);
	counter(b, "netcoord_serf_relayed_in_total",
		"serf messages queued for rebroadcast.", as.relay_in);
	counter(b, "netcoord_serf_relayed_out_total",
		"serf message transmissions.", as.relay_out);
	counter(b, "netcoord_serf_relay_dropped_total",
		"serf messages dropped from a full relay queue.",
		as.relay_dropped);
	counter(b, "netcoord_serf_query_acks_total", "serf query acks sent.",
		as.query_acks);
	counter(b, "netcoord_serf_query_responses_total",
		"serf internal query responses sent.", as.query_responses);
	/* Queries this agent ran (keys, reachability, name conflicts). */
	counter(b, "netcoord_serf_own_queries_total",
		"serf queries run by this agent.", as.own_queries);
	counter(b, "netcoord_serf_own_timeouts_total",
		"Own queries ended by their timeout.", as.own_timed_out);
	counter(b, "netcoord_serf_own_acks_total",
		"Acks taken for own queries (first per node).", as.own_acks);
	counter(b, "netcoord_serf_own_responses_total",
		"Responses taken for own queries (first per node).",
		as.own_responses);
	counter(b, "netcoord_serf_own_duplicates_total",
		"Repeated acks/responses from a node, dropped.",
		as.own_duplicates);
	counter(b, "netcoord_serf_own_over_cap_total",
		"Acks/responses beyond a query's member count, dropped.",
		as.own_over_cap);
	counter(b, "netcoord_serf_own_unknown_query_total",
		"Responses for no open query of ours (late or forged), "
		"dropped.",
		as.own_unknown_query);
	counter(b, "netcoord_serf_own_unknown_sender_total",
		"Responses from a node that is not a known member, dropped.",
		as.own_unknown_sender);
	counter(b, "netcoord_serf_own_busy_total",
		"Own queries refused: too many open at once.", as.own_busy);
}

static int
metrics(void *ctx, const struct nc_api_request *req, cJSON **out, char *err,
	size_t err_cap)
{
	struct nc_api *api = ctx;
	struct tbuf b = {.failed = false};
	(void)out;
	nc_dbuf_init(&b.d, METRICS_MAX_BYTES);
	if (api->gossip != NULL)
		gossip_metrics(&b, api->gossip);
	if (api->coords != NULL)
		coord_metrics(&b, api->coords);
	if (api->agent != NULL)
		serf_metrics(&b, api->agent);
	counter(&b, "netcoord_verify_total",
		"Verified nearest queries measured (/v1/nearest?verify=K).",
		api->verify.runs);
	counter(&b, "netcoord_verify_cache_hits_total",
		"Verified nearest queries answered from the -verify-cache.",
		api->verify.cache_hits);
	counter(&b, "netcoord_verify_pings_total",
		"Pings sent to verify nearest candidates.", api->verify.pings);
	counter(&b, "netcoord_verify_pings_answered_total",
		"Verification pings answered in time.",
		api->verify.pings_answered);
	counter(&b, "netcoord_verify_refused_total",
		"Verified nearest queries refused (429, budget).",
		api->verify.refused);
	counter(&b, "netcoord_fresh_queries_total",
		"Rankings that checked their candidates' freshness.",
		api->fresh.queries);
	counter(&b, "netcoord_fresh_fetching_total",
		"Rankings that had candidates to fetch.", api->fresh.fetching);
	counter(&b, "netcoord_fresh_held_total",
		"Requests held until their candidates were fresh.",
		api->fresh.held);
	tb_printf(&b,
		  "# HELP netcoord_fresh_released_total Held requests "
		  "answered, by outcome.\n# TYPE "
		  "netcoord_fresh_released_total counter\n"
		  "netcoord_fresh_released_total{outcome=\"fresh\"} %llu\n"
		  "netcoord_fresh_released_total{outcome=\"fresh_wait\"} "
		  "%llu\n",
		  (unsigned long long)api->fresh.released_fresh,
		  (unsigned long long)api->fresh.released_timeout);
	counter(&b, "netcoord_fresh_not_held_total",
		"Requests answered at once: too many held.",
		api->fresh.not_held);
	tb_printf(&b, "# HELP netcoord_http_responses_total HTTP responses "
		      "by status code.\n# TYPE netcoord_http_responses_total "
		      "counter\n");
	for (int i = 0; i < 500; i++)
		if (api->stats.by_status[i] > 0)
			tb_printf(&b,
				  "netcoord_http_responses_total{code=\"%d\"} "
				  "%llu\n",
				  i + 100,
				  (unsigned long long)api->stats.by_status[i]);
	counter(&b, "netcoord_http_auth_failures_total",
		"Requests refused for a missing or wrong token.",
		api->stats.auth_missing + api->stats.auth_wrong);
	counter(&b, "netcoord_http_host_refused_total",
		"Requests refused for a Host header that is not allowed "
		"(DNS rebinding).",
		api->stats.host_refused);
	counter(&b, "netcoord_http_deadline_closed_total",
		"Connections shut down for not completing a request in time.",
		api->stats.deadline_closed);
	const struct nc_api_stats *st = nc_api_stats(api);
	counter(&b, "netcoord_http_view_builds_total",
		"Rebuilds of the member view the read endpoints serve.",
		st->view_builds);
	counter(&b, "netcoord_http_cache_hits_total",
		"Answers served from the answer cache.", st->cache_hits);
	counter(&b, "netcoord_http_cache_misses_total",
		"Cacheable answers computed.", st->cache_misses);
	counter(&b, "netcoord_http_cache_evictions_total",
		"Answers evicted at the cache cap.", st->cache_evictions);
	gauge(&b, "netcoord_http_blocking_held",
	      "Blocking queries (?index=) held now.", (double)st->block_held);
	counter(&b, "netcoord_http_blocking_released_change_total",
		"Held blocking queries answered because the answer changed.",
		st->block_released_change);
	counter(&b, "netcoord_http_blocking_released_timeout_total",
		"Held blocking queries answered at the end of their wait.",
		st->block_released_timeout);
	counter(&b, "netcoord_http_blocking_refused_total",
		"Blocking queries refused (429) beyond -http-max-held.",
		st->block_refused);
	counter(&b, "netcoord_http_blocking_evaluations_total",
		"Answers re-evaluated for held blocking queries.",
		st->block_evaluations);
	if (b.failed) {
		nc_dbuf_free(&b.d);
		return nc__api_oom(err, err_cap);
	}
	size_t len = b.d.len;
	nc_api_set_raw(req, "text/plain; version=0.0.4; charset=utf-8",
		       nc_dbuf_take(&b.d), len, true);
	return 200;
}

/** GET /v1/stats: raw counters as JSON (benchmarks, operators). */
static int
stats_route(void *ctx, const struct nc_api_request *req, cJSON **out,
	    char *err, size_t err_cap)
{
	struct nc_api *api = ctx;
	(void)req;
	if (api->agent == NULL || api->env == NULL) {
		snprintf(err, err_cap, "no agent or loop here");
		return 501;
	}
	const struct nc_gossip_stats *gs = nc_gossip_stats(api->gossip);
	const struct nc_env_real_stats *es = nc_env_real_stats(api->env);
	struct nc_agent_stats as;
	nc_agent_stats(api->agent, &as);
	cJSON *o = cJSON_CreateObject();
	cJSON *g = cJSON_AddObjectToObject(o, "gossip");
	cJSON *e = cJSON_AddObjectToObject(o, "env");
	if (o == NULL || g == NULL || e == NULL) {
		cJSON_Delete(o);
		snprintf(err, err_cap, "out of memory");
		return 500;
	}
#define NUM(obj, s, f) cJSON_AddNumberToObject(obj, #f, (double)(s)->f)
	NUM(g, gs, packets_in);
	NUM(g, gs, packets_out);
	NUM(g, gs, bytes_in);
	NUM(g, gs, bytes_out);
	NUM(g, gs, drop_decrypt);
	NUM(g, gs, drop_crc);
	NUM(g, gs, drop_decode);
	NUM(g, gs, drop_type);
	NUM(g, gs, drop_other);
	NUM(g, gs, drop_bad_name);
	NUM(g, gs, drop_bad_vsn);
	NUM(g, gs, drop_bad_incarnation);
	NUM(g, gs, drop_decompress);
	NUM(g, gs, drop_member_cap);
	NUM(g, gs, probes);
	NUM(g, gs, probe_failures);
	NUM(g, gs, indirect_probes);
	NUM(g, gs, tcp_pings);
	NUM(g, gs, acks_sent);
	NUM(g, gs, nacks_sent);
	NUM(g, gs, suspicions);
	NUM(g, gs, refutations);
	NUM(g, gs, deaths_declared);
	NUM(g, gs, pushpull_out);
	NUM(g, gs, pushpull_in);
	NUM(g, gs, pushpull_fail);
	NUM(g, gs, streams_in);
	NUM(g, gs, stream_errors);
	NUM(g, gs, broadcasts_queued);
	NUM(g, gs, broadcasts_sent);
	NUM(e, es, udp_in);
	NUM(e, es, udp_out);
	NUM(e, es, udp_bytes_in);
	NUM(e, es, udp_bytes_out);
	NUM(e, es, udp_send_errors);
	NUM(e, es, udp_no_timestamp);
	NUM(e, es, streams_in);
	NUM(e, es, streams_in_refused);
	NUM(e, es, streams_in_refused_addr);
	NUM(e, es, streams_in_timeouts);
	NUM(e, es, streams_in_idle);
	NUM(e, es, streams_over_budget);
	NUM(e, es, streams_in_errors);
	NUM(e, es, streams_out);
	NUM(e, es, streams_out_errors);
	NUM(e, es, loop_iterations);
	cJSON *r = cJSON_AddObjectToObject(o, "serf_relay");
	if (r != NULL) {
		cJSON_AddNumberToObject(r, "relayed_in", (double)as.relay_in);
		cJSON_AddNumberToObject(r, "relayed_out", (double)as.relay_out);
		cJSON_AddNumberToObject(r, "ignored", (double)as.relay_ignored);
		cJSON_AddNumberToObject(r, "events", (double)as.serf_events);
		cJSON_AddNumberToObject(r, "queries", (double)as.serf_queries);
		cJSON_AddNumberToObject(r, "dropped", (double)as.relay_dropped);
		cJSON_AddNumberToObject(r, "malformed", (double)as.relay_bad);
		cJSON_AddNumberToObject(r, "states_merged",
					(double)as.states_merged);
		cJSON_AddNumberToObject(r, "events_merged",
					(double)as.events_merged);
		cJSON_AddNumberToObject(r, "query_acks", (double)as.query_acks);
		cJSON_AddNumberToObject(r, "query_responses",
					(double)as.query_responses);
		cJSON_AddNumberToObject(r, "query_relayed",
					(double)as.query_relayed);
		cJSON_AddNumberToObject(r, "relay_forwarded",
					(double)as.relay_forwarded);
		cJSON_AddNumberToObject(r, "query_unhandled",
					(double)as.query_unhandled);
	}
	/* TEST FACILITY counters, only with -latency-matrix. */
	const struct nc_env_latency_stats *ls =
		api->cfg.latency_env != NULL
			? nc_env_latency_stats(api->cfg.latency_env)
			: NULL;
	cJSON *l = ls != NULL ? cJSON_AddObjectToObject(o, "latency") : NULL;
	if (l != NULL) {
		NUM(l, ls, packets_delayed);
		NUM(l, ls, packets_direct);
		NUM(l, ls, drop_queue_full);
		NUM(l, ls, drop_oversize);
		NUM(l, ls, unknown_dest);
		NUM(l, ls, missing_entry);
		NUM(l, ls, streams_delayed);
		NUM(l, ls, streams_refused);
		NUM(l, ls, queued_now);
		NUM(l, ls, queued_max);
		NUM(l, ls, packets_lost);
		NUM(l, ls, packets_blocked);
		NUM(l, ls, streams_blocked);
	}
#undef NUM
	cJSON_AddNumberToObject(o, "health_score",
				nc_gossip_health_score(api->gossip));
	cJSON_AddNumberToObject(o, "members",
				(double)nc_gossip_member_count(api->gossip));
	*out = o;
	return 200;
}

int
nc__api_add_metrics_route(struct nc_api *api)
{
	int rc = nc_api_route_add_ex(api, "GET", "/metrics", 0, metrics, api);
	if (rc == 0)
		rc = nc_api_route_add_ex(api, "GET", "/v1/stats", 0,
					 stats_route, api);
	return rc;
}
