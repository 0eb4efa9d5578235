/*
 * fleet.c - a fleet of real agents on the simulator, watched from outside
 * (fleet.h). The agents are not modified for the run: what the report says
 * comes from three taps — the agents' membership events
 * (nc_agent_set_member_observer), the simulated network (sim_set_tap,
 * every datagram and stream classified by its memberlist message types)
 * and the agents' coordinate caches sampled at the end. With -query-tag,
 * fleet/query.c runs one agent's nearest and failover queries through the
 * coordinate fetch and reports their freshness.
 *
 * Bookkeeping is O(1) per event: each agent's count of members it sees
 * alive is kept from its events (join +1, failed/left -1), so "every
 * agent sees every other" is a comparison per agent, never a walk of N
 * member tables.
 *
 * RTT model. Sites come from a matrix file or from the synthetic plane;
 * host i sits at site i mod S with an access-link height h_i, and
 *   RTT(i, j) = M[s_i][s_j] + h_i + h_j      (s_i != s_j)
 *   RTT(i, j) = 0.1 ms + h_i + h_j           (same site)
 * except when the matrix has at least N rows: then host i is row i and
 * RTT = M[i][j] exactly (a measured matrix keeps its triangle-inequality
 * violations). Heights are 0.1 ms + an exponential of mean 0.5 ms (a
 * LAN or metro access link). Every datagram gets one way = RTT / 2 plus
 * an exponential queueing delay of mean 2 % of that.
 * The synthetic plane: 6 continental centres at fixed positions (ms of RTT
 * apart: a North-America–Europe–Asia-like spread, up to ~300 ms), 200 sites
 * drawn around them (sd 12 ms), M = 1.2 x distance + 1 ms (path
 * inflation). It reproduces clustered, mostly metric delays with access
 * heights; not routing asymmetry, triangle-inequality violations (use a
 * matrix for those), congestion or diurnal change.
 */
#include "fleet/fleet.h"
#include "fleet/query.h"

#include <errno.h>
#include <malloc.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "agent/agent.h"
#include "agent/config.h"
#include "agent/coords.h"
#include "coord/coord.h"
#include "gossip/gossip.h"
#include "gossip/proto.h"
#include "sim/sim.h"
#include "util/util.h"

/** Synthetic plane: sites. */
#define SYN_SITES 200

/** One simulated host. */
struct host {
	struct nc_agent *agent;
	struct sim_node *node;
	/** Site index and access height (ms). */
	unsigned site;
	double height_ms;
	/** Virtual start time; crash time (NAN: never). */
	double start_t, crash_t;
	/** Members this agent sees alive (from its events). */
	unsigned sees;
	/** Traffic in the steady window: [kind], bytes and datagrams. */
	uint64_t b_out[NC_FLEET_KINDS], b_in[NC_FLEET_KINDS];
	uint64_t p_out[NC_FLEET_KINDS], p_in[NC_FLEET_KINDS];
	/** As a subject: observers that marked it failed / joined it. */
	unsigned failed_by, joined_by;
	/** Crashed: agents live just after the crash (its observers). */
	unsigned observers;
	double first_failed, last_failed, last_joined;
	bool started, down;
	/** A slow member (cfg slow_share): stalls periodically. */
	bool slow;
};

/** A slow member's stall timer argument. */
struct slow_ctx {
	struct fleet *f;
	unsigned i;
};

struct fleet {
	const struct nc_fleet_config *cfg;
	struct nc_fleet_report *r;
	struct sim_world *w;
	struct host *h;
	unsigned n_hosts, cap_hosts;
	/** Live (started, not crashed) agents. */
	unsigned live;
	/** Site RTT matrix (ms), sites x sites; exact: host i = row i. */
	double *m;
	size_t sites;
	bool exact;
	/** Scratch for nc_proto_packet_walk. */
	char scratch[NC_PROTO_MAX_PACKET_DECOMPRESSED];
	/** Classification of the datagram being walked: body bytes/kind. */
	size_t walk_bytes[NC_FLEET_KINDS];
	/** Crash and join subjects, in order. */
	unsigned *crashed, n_crashed;
	unsigned *joined, n_joined;
	double next_progress;
	/** Slow members' stall timer arguments (cfg->slow_share > 0). */
	struct slow_ctx *slow;
	/** An error while running (allocation): reported at the end. */
	char err[160];
	/** -query-tag scenario (fleet/query.c), or NULL. */
	struct nc__fleet_query *q;
};

static double
rand_exp(struct sim_world *w, double mean)
{
	double u = sim_rand_double(w);
	return -mean * log1p(-u);
}

static double
rand_normal(struct sim_world *w)
{
	double u = sim_rand_double(w), v = sim_rand_double(w);
	return sqrt(-2.0 * log1p(-u)) * cos(2 * M_PI * v);
}

/* ------------------------------------------------------------------ */
/* RTT model                                                           */
/* ------------------------------------------------------------------ */

static double
model_rtt_ms(const struct fleet *f, unsigned a, unsigned b)
{
	const struct host *x = &f->h[a], *y = &f->h[b];
	if (f->exact)
		return f->m[(size_t)a * f->sites + b];
	if (x->site == y->site)
		return 0.1 + x->height_ms + y->height_ms;
	return f->m[(size_t)x->site * f->sites + y->site] + x->height_ms +
	       y->height_ms;
}

static double
latency(void *ctx, struct sim_world *w, int from, int to)
{
	struct fleet *f = ctx;
	double one_way = model_rtt_ms(f, (unsigned)from, (unsigned)to) / 2000;
	return one_way + rand_exp(w, one_way * 0.02);
}

static int
model_synthetic(struct fleet *f)
{
	static const double centre[6][2] = {
	    {0, 0}, {35, 20}, {75, -10}, {130, 40}, {150, -30}, {60, 110}};
	double(*pos)[2] = calloc(SYN_SITES, sizeof(*pos));
	f->m = calloc((size_t)SYN_SITES * SYN_SITES, sizeof(double));
	if (pos == NULL || f->m == NULL) {
		free(pos);
		return -1;
	}
	for (unsigned s = 0; s < SYN_SITES; s++) {
		const double *c = centre[s % 6];
		pos[s][0] = c[0] + 12 * rand_normal(f->w);
		pos[s][1] = c[1] + 12 * rand_normal(f->w);
	}
	for (unsigned a = 0; a < SYN_SITES; a++)
		for (unsigned b = 0; b < SYN_SITES; b++)
			f->m[a * SYN_SITES + b] =
			    a == b ? 0
				   : 1.2 * hypot(pos[a][0] - pos[b][0],
						 pos[a][1] - pos[b][1]) +
					 1.0;
	free(pos);
	f->sites = SYN_SITES;
	snprintf(f->r->model, sizeof(f->r->model),
		 "synthetic: %u sites in 6 clusters, access heights", SYN_SITES);
	return 0;
}

static int
model_setup(struct fleet *f, char *err, size_t cap)
{
	const struct nc_fleet_config *c = f->cfg;
	if (c->matrix_path == NULL) {
		if (model_synthetic(f) < 0)
			return nc_errf(err, cap, -1, "out of memory");
	} else {
		size_t n = 0;
		char e[160];
		if (nc_rtt_matrix_load(c->matrix_path, 100000, &f->m, &n, e,
				       sizeof(e)) < 0)
			return nc_errf(err, cap, -1, "matrix \"%s\": %s",
				       c->matrix_path, e);
		if (n < 2)
			return nc_errf(err, cap, -1,
				       "matrix \"%s\": fewer than 2 hosts",
				       c->matrix_path);
		f->sites = n;
		f->exact = n >= c->n + (size_t)0 && n >= f->cap_hosts;
		/* Missing entries (negative/NaN): the row's median. */
		for (size_t a = 0; a < n; a++)
			for (size_t b = 0; b < n; b++) {
				double *v = &f->m[a * n + b];
				if (!(*v >= 0) && a != b)
					*v = f->m[b * n + a] >= 0
						 ? f->m[b * n + a]
						 : 100.0;
			}
		snprintf(f->r->model, sizeof(f->r->model),
			 "%s: %zu hosts%s", c->matrix_path, n,
			 f->exact ? ", one per agent"
				  : ", agents placed around them as sites");
	}
	for (unsigned i = 0; i < f->cap_hosts; i++) {
		f->h[i].site = (unsigned)(i % f->sites);
		f->h[i].height_ms = f->exact ? 0 : 0.1 + rand_exp(f->w, 0.5);
		f->h[i].crash_t = NAN;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* Taps                                                                */
/* ------------------------------------------------------------------ */

static unsigned
host_of(const char *name)
{
	/* Names are "n%05u" (fleet.h); anything else maps past the end. */
	if (name == NULL || name[0] != 'n')
		return UINT32_MAX;
	char *end;
	unsigned long v = strtoul(name + 1, &end, 10);
	return *end == '\0' ? (unsigned)v : UINT32_MAX;
}

/** Paused or (slow member) stalled right now. */
static bool
stalled(const struct host *h)
{
	return sim_node_paused(h->node) || sim_node_rx_stalled(h->node);
}

static void
on_member(void *ctx, struct nc_agent *a, enum nc_gossip_event ev,
	  const struct nc_gossip_member *m, const char *by)
{
	struct fleet *f = ctx;
	(void)by;
	unsigned obs = host_of(nc_agent_name(a)), sub = host_of(m->name);
	if (obs >= f->n_hosts || sub >= f->n_hosts)
		return;
	struct host *o = &f->h[obs], *s = &f->h[sub];
	double now = sim_now(f->w);
	switch (ev) {
	case NC_GOSSIP_EV_JOIN:
		o->sees++;
		s->joined_by++;
		s->last_joined = now;
		break;
	case NC_GOSSIP_EV_FAILED:
		if (o->sees > 0)
			o->sees--;
		if (s->down) {
			if (s->failed_by++ == 0)
				s->first_failed = now;
			s->last_failed = now;
		} else {
			f->r->false_failures++;
			if (stalled(s))
				f->r->paused_failures++;
			if (s->slow) {
				f->r->slow_failures++;
			} else {
				f->r->healthy_failures++;
				f->r->healthy_failures_by_healthy += !o->slow;
			}
		}
		break;
	case NC_GOSSIP_EV_LEFT:
		if (o->sees > 0)
			o->sees--;
		break;
	case NC_GOSSIP_EV_SUSPECT:
		if (!s->down) {
			f->r->false_suspicions++;
			if (stalled(s))
				f->r->paused_suspicions++;
			if (s->slow)
				f->r->slow_suspicions++;
			else
				f->r->healthy_suspicions++;
		}
		break;
	default:
		break;
	}
}

static enum nc_fleet_kind
kind_of(uint8_t type, const char *body, const char *end)
{
	switch (type) {
	case NC_PROTO_PING:
	case NC_PROTO_INDIRECT_PING:
	case NC_PROTO_ACK:
	case NC_PROTO_NACK:
		return NC_FLEET_PROBE;
	case NC_PROTO_PUSH_PULL:
		return NC_FLEET_PUSHPULL;
	case NC_PROTO_USER: {
		/* Coordinate gossip: serf join-intent shape with an "NC" key
		 * (docs/WIRE.md §5). */
		size_t len = (size_t)(end - body);
		if (len == 0 || (uint8_t)body[0] != 0x01)
			return NC_FLEET_GOSSIP;
		for (size_t i = 0; i + 3 <= len && i < 96; i++)
			if ((uint8_t)body[i] == 0xa2 && body[i + 1] == 'N' &&
			    body[i + 2] == 'C')
				/* After "NC": da len16, then the kind (2
				 * request, 3 reply: a fetch). */
				return i + 6 < len && ((uint8_t)body[i + 6] == 2 ||
						       (uint8_t)body[i + 6] == 3)
					   ? NC_FLEET_FETCH
					   : NC_FLEET_COORD;
		return NC_FLEET_GOSSIP;
	}
	default:
		return NC_FLEET_GOSSIP;
	}
}

static void
walk_cb(void *ctx, uint8_t type, const char *body, const char *end)
{
	struct fleet *f = ctx;
	f->walk_bytes[kind_of(type, body, end)] += (size_t)(end - body) + 1;
}

static void
on_tap(void *ctx, enum sim_tap_kind tk, int from, int to, const char *buf,
       size_t len)
{
	struct fleet *f = ctx;
	if (sim_now(f->w) < f->cfg->warm_s || len == 0)
		return;
	bool out = tk == SIM_TAP_DGRAM_OUT || tk == SIM_TAP_STREAM_OUT;
	int who = out ? from : to;
	if (who < 0 || (unsigned)who >= f->n_hosts)
		return;
	struct host *h = &f->h[who];
	uint64_t *bytes = out ? h->b_out : h->b_in;
	uint64_t *pkts = out ? h->p_out : h->p_in;
	if (tk == SIM_TAP_STREAM_OUT || tk == SIM_TAP_STREAM_IN) {
		/* Streams are push/pulls but for the rare TCP ping fallback;
		 * memberlist compresses them whole (type 9). */
		enum nc_fleet_kind k =
		    (uint8_t)buf[0] == NC_PROTO_COMPRESS
			? NC_FLEET_PUSHPULL
			: kind_of((uint8_t)buf[0], buf + 1, buf + len);
		bytes[k] += len;
		pkts[k]++;
		return;
	}
	/* A datagram: its bytes split over the kinds of its messages. */
	memset(f->walk_bytes, 0, sizeof(f->walk_bytes));
	(void)nc_proto_packet_walk(buf, len, f->scratch, sizeof(f->scratch),
				   walk_cb, f);
	size_t total = 0, top = 0;
	for (int k = 0; k < NC_FLEET_KINDS; k++) {
		total += f->walk_bytes[k];
		if (f->walk_bytes[k] > f->walk_bytes[top])
			top = (size_t)k;
	}
	pkts[top]++;
	if (total == 0) {
		bytes[NC_FLEET_GOSSIP] += len;
		return;
	}
	for (int k = 0; k < NC_FLEET_KINDS; k++)
		bytes[k] += len * f->walk_bytes[k] / total;
}

/* ------------------------------------------------------------------ */
/* Agents and events                                                   */
/* ------------------------------------------------------------------ */

static int
agent_create(struct fleet *f, unsigned i)
{
	struct host *h = &f->h[i];
	char err[256], name[16], seed_addr[64];
	struct nc_config cfg;
	snprintf(name, sizeof(name), "n%05u", i);
	h->node = sim_node_add(f->w, name);
	if (h->node == NULL)
		return nc_errf(f->err, sizeof(f->err), -1, "out of memory");
	nc_config_init(&cfg);
	snprintf(cfg.node_name, sizeof(cfg.node_name), "%s", name);
	cfg.max_members = (size_t)f->cap_hosts + 16;
	cfg.seed = f->cfg->seed * 1000003u + i;
	cfg.seed_set = true;
	cfg.log_level = NC_LOG_ERR;
	if (f->cfg->coord_gossip_rate >= 0)
		cfg.coord_gossip_bytes_per_s = f->cfg->coord_gossip_rate;
	if (f->cfg->coord_cache_max > 0)
		cfg.coord_cache_max = f->cfg->coord_cache_max;
	/* Comparison runs: Lifeguard's components (agent/config.h). */
	cfg.lifeguard_off = f->cfg->lifeguard
				? f->cfg->lifeguard_off & NC_CONFIG_LG_ALL
				: NC_CONFIG_LG_ALL;
	cfg.suspicion_mult = f->cfg->suspicion_mult;
	cfg.suspicion_max_timeout_mult = f->cfg->suspicion_max_mult;
	if (i > 0 && !(f->cfg->formed && i < f->cfg->n)) {
		nc_addr_format(sim_node_addr(f->h[0].node), seed_addr,
			       sizeof(seed_addr));
		cfg.join[0] = strdup(seed_addr);
		cfg.join_n = cfg.join[0] != NULL;
	}
	h->agent = nc_agent_new(sim_node_env(h->node), &cfg,
				sim_node_addr(h->node), NULL, NULL, err,
				sizeof(err));
	nc_config_destroy(&cfg);
	if (h->agent == NULL)
		return nc_errf(f->err, sizeof(f->err), -1, "agent %s: %s", name,
			       err);
	nc_agent_set_member_observer(h->agent, on_member, f);
	return 0;
}

static void
start_cb(struct sim_world *w, void *arg)
{
	struct host *h = arg;
	(void)w;
	if (h->agent != NULL && nc_agent_start(h->agent) == 0) {
		h->started = true;
		h->sees++; /* itself (and the others of a formed fleet) */
	}
}

/**
 * Index of a random live host other than the seed (0), not paused and not
 * a slow member (crashes are of healthy members), or UINT_MAX.
 */
static unsigned
pick_live(struct fleet *f)
{
	for (int tries = 0; tries < 1000; tries++) {
		unsigned i = 1 + (unsigned)(sim_rand(f->w) % (f->n_hosts - 1));
		if (f->h[i].started && !f->h[i].down && !f->h[i].slow &&
		    !sim_node_paused(f->h[i].node))
			return i;
	}
	return UINT32_MAX;
}

static void
crash_cb(struct sim_world *w, void *arg)
{
	struct nc_fleet_event *ev = arg;
	struct fleet *f = *(struct fleet **)(ev + 1);
	for (unsigned k = 0; k < ev->count; k++) {
		unsigned i = pick_live(f);
		if (i == UINT32_MAX)
			return;
		struct host *h = &f->h[i];
		h->down = true;
		h->crash_t = sim_now(w);
		sim_node_set_down(h->node, true);
		nc_agent_delete(h->agent);
		h->agent = NULL;
		f->live--;
		h->observers = f->live;
		f->crashed[f->n_crashed++] = i;
	}
}

static void
pause_cb(struct sim_world *w, void *arg)
{
	struct nc_fleet_event *ev = arg;
	struct fleet *f = *(struct fleet **)(ev + 1);
	(void)w;
	for (unsigned k = 0; k < ev->count; k++) {
		unsigned i = pick_live(f);
		if (i != UINT32_MAX)
			sim_node_pause(f->h[i].node, ev->duration);
	}
}

/** A slow member stalls slow_stall_s, again every slow_period_s. */
static void
slow_cb(struct sim_world *w, void *arg)
{
	struct slow_ctx *c = arg;
	struct fleet *f = c->f;
	struct host *h = &f->h[c->i];
	double now = sim_now(w);
	if (h->down || now >= f->cfg->duration_s)
		return;
	if (f->cfg->slow_stop)
		sim_node_pause(h->node, f->cfg->slow_stall_s);
	else
		sim_node_stall_rx(h->node, f->cfg->slow_stall_s);
	sim_call_at(w, now + f->cfg->slow_period_s, slow_cb, c);
}

/** Pick the slow members (not the seed) and schedule their stalls. */
static int
slow_setup(struct fleet *f)
{
	const struct nc_fleet_config *c = f->cfg;
	unsigned want = (unsigned)lround(c->slow_share * c->n);
	if (!(c->slow_share > 0))
		return 0;
	if (want < 1)
		want = 1;
	if (want > c->n - 1)
		want = c->n - 1;
	f->slow = calloc(want, sizeof(*f->slow));
	if (f->slow == NULL)
		return -1;
	while (f->r->slow < want) {
		unsigned i = 1 + (unsigned)(sim_rand(f->w) % (c->n - 1));
		if (f->h[i].slow)
			continue;
		f->h[i].slow = true;
		struct slow_ctx *x = &f->slow[f->r->slow++];
		x->f = f;
		x->i = i;
		double t0 = c->warm_s + sim_rand_double(f->w) * c->slow_period_s;
		if (sim_call_at(f->w, t0, slow_cb, x) < 0)
			return -1;
	}
	return 0;
}

static void
join_cb(struct sim_world *w, void *arg)
{
	struct nc_fleet_event *ev = arg;
	struct fleet *f = *(struct fleet **)(ev + 1);
	for (unsigned k = 0; k < ev->count && f->n_hosts < f->cap_hosts; k++) {
		unsigned i = f->n_hosts++;
		if (agent_create(f, i) < 0)
			return;
		f->h[i].start_t = sim_now(w);
		start_cb(w, &f->h[i]);
		f->live++;
		f->joined[f->n_joined++] = i;
	}
}

static void
set_groups(struct fleet *f, bool split)
{
	for (unsigned i = 0; i < f->n_hosts; i++)
		sim_node_set_group(f->h[i].node, split ? (int)(i & 1) : 0);
}

static void
heal_cb(struct sim_world *w, void *arg)
{
	(void)w;
	set_groups(arg, false);
}

static void
partition_cb(struct sim_world *w, void *arg)
{
	struct nc_fleet_event *ev = arg;
	struct fleet *f = *(struct fleet **)(ev + 1);
	set_groups(f, true);
	sim_call_at(w, sim_now(w) + ev->duration, heal_cb, f);
}

/* ------------------------------------------------------------------ */
/* Monitor                                                             */
/* ------------------------------------------------------------------ */

static bool
converged(struct fleet *f)
{
	for (unsigned i = 0; i < f->n_hosts; i++) {
		const struct host *h = &f->h[i];
		if (!h->down && (!h->started || h->sees != f->live))
			return false;
	}
	return true;
}

static void
monitor_cb(struct sim_world *w, void *arg)
{
	struct fleet *f = arg;
	double now = sim_now(w);
	if (isnan(f->r->converge_s) && now >= f->h[f->cfg->n - 1].start_t &&
	    converged(f))
		f->r->converge_s = now;
	if (f->cfg->progress != NULL && now >= f->next_progress) {
		unsigned seeing = 0;
		for (unsigned i = 0; i < f->n_hosts; i++)
			seeing += !f->h[i].down && f->h[i].sees == f->live;
		fprintf(f->cfg->progress,
			"fleet-sim: t=%5.0f s  live %u  agents seeing all %u  "
			"false failures %llu\n",
			now, f->live, seeing,
			(unsigned long long)f->r->false_failures);
		fflush(f->cfg->progress);
		f->next_progress = now + f->cfg->progress_s;
	}
	sim_call_at(w, now + 0.5, monitor_cb, f);
}

/* ------------------------------------------------------------------ */
/* Report                                                              */
/* ------------------------------------------------------------------ */

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double
pct(double *v, size_t n, double p)
{
	if (n == 0)
		return NAN;
	qsort(v, n, sizeof(*v), cmp_double);
	size_t i = (size_t)ceil(p * (double)n) - 1;
	return v[i < n ? i : n - 1];
}

static void
report_detection(struct fleet *f)
{
	struct nc_fleet_report *r = f->r;
	double *first = calloc(f->n_crashed + 1, sizeof(double));
	double *last = calloc(f->n_crashed + 1, sizeof(double));
	size_t nf = 0, nl = 0;
	r->crashes = f->n_crashed;
	for (unsigned k = 0; k < f->n_crashed && first && last; k++) {
		const struct host *h = &f->h[f->crashed[k]];
		if (h->failed_by == 0) {
			r->crashes_incomplete++;
			continue;
		}
		first[nf++] = h->first_failed - h->crash_t;
		/* Complete when every agent live just after the crash and
		 * not crashed itself later marked it (joiners may never have
		 * known it). */
		if (h->failed_by + (f->n_crashed - 1 - k) >= h->observers)
			last[nl++] = h->last_failed - h->crash_t;
		else
			r->crashes_incomplete++;
	}
	r->first_p50 = pct(first, nf, 0.5);
	r->first_p99 = pct(first, nf, 0.99);
	r->last_p50 = pct(last, nl, 0.5);
	r->last_p99 = pct(last, nl, 0.99);
	free(first);
	free(last);

	double *reach = calloc(f->n_joined + 1, sizeof(double));
	size_t nr = 0;
	r->joins = f->n_joined;
	for (unsigned k = 0; k < f->n_joined && reach; k++) {
		const struct host *h = &f->h[f->joined[k]];
		if (h->down)
			continue;
		if (h->joined_by + 1 >= f->live)
			reach[nr++] = h->last_joined - h->start_t;
		else
			r->joins_incomplete++;
	}
	r->join_p50 = pct(reach, nr, 0.5);
	r->join_max = nr ? reach[nr - 1] : NAN;
	free(reach);
}

static void
report_slow(struct fleet *f)
{
	struct nc_fleet_report *r = f->r;
	double hours = (r->duration_s - r->warm_s) / 3600;
	unsigned healthy = f->cfg->n - r->slow - r->crashes;
	if (hours <= 0)
		return;
	r->healthy_fp_per_member_hour =
	    healthy > 0 ? (double)r->healthy_failures / (healthy * hours) : NAN;
	r->slow_fp_per_member_hour =
	    r->slow > 0 ? (double)r->slow_failures / (r->slow * hours) : NAN;
}

static void
report_traffic(struct fleet *f)
{
	struct nc_fleet_report *r = f->r;
	double secs = r->duration_s - r->warm_s;
	unsigned agents = 0;
	if (secs <= 0)
		return;
	for (unsigned i = 0; i < f->n_hosts; i++) {
		const struct host *h = &f->h[i];
		if (h->down || !h->started || h->start_t > r->warm_s)
			continue;
		agents++;
		double bo = 0, bi = 0;
		for (int k = 0; k < NC_FLEET_KINDS; k++) {
			r->bytes_out[k] += (double)h->b_out[k];
			r->bytes_in[k] += (double)h->b_in[k];
			r->pkts_out[k] += (double)h->p_out[k];
			r->pkts_in[k] += (double)h->p_in[k];
			bo += (double)h->b_out[k];
			bi += (double)h->b_in[k];
		}
		if (bo / secs > r->max_bytes_out)
			r->max_bytes_out = bo / secs;
		if (bi / secs > r->max_bytes_in)
			r->max_bytes_in = bi / secs;
	}
	for (int k = 0; k < NC_FLEET_KINDS && agents > 0; k++) {
		r->bytes_out[k] /= agents * secs;
		r->bytes_in[k] /= agents * secs;
		r->pkts_out[k] /= agents * secs;
		r->pkts_in[k] /= agents * secs;
	}
}

static void
report_coords(struct fleet *f)
{
	enum { PAIRS = 4000 };
	struct nc_fleet_report *r = f->r;
	double *re = calloc(PAIRS, sizeof(double));
	unsigned tried = 0, have = 0;
	double now = sim_now(f->w);
	for (unsigned k = 0; k < PAIRS * 4 && tried < PAIRS && re != NULL;
	     k++) {
		unsigned a = (unsigned)(sim_rand(f->w) % f->n_hosts);
		unsigned b = (unsigned)(sim_rand(f->w) % f->n_hosts);
		const struct host *x = &f->h[a], *y = &f->h[b];
		if (a == b || x->down || y->down || !x->started || !y->started)
			continue;
		tried++;
		struct nc_agent_coords *c = nc_agent_coords(x->agent);
		struct nc_agent_coord_info self, peer;
		char name[16];
		snprintf(name, sizeof(name), "n%05u", b);
		/* info.coord may point into the cache's scratch: copy. */
		struct nc_coord mine;
		if (nc_agent_coords_get(c, now, nc_agent_name(x->agent),
					&self) != 0 ||
		    !self.has_coord)
			continue;
		mine = *self.coord;
		if (nc_agent_coords_get(c, now, name, &peer) != 0 ||
		    !peer.has_coord)
			continue;
		enum nc_coord_algo algo =
		    nc_coord_client_config(nc_agent_coords_client(c))->algo;
		double est =
		    nc_coord_estimate_rtt(algo, &mine, peer.coord) * 1000;
		double truth = model_rtt_ms(f, a, b);
		if (isfinite(est) && truth > 0)
			re[have++] = fabs(est - truth) / truth;
	}
	r->coord_pairs = have;
	r->coord_cached = tried ? (double)have / tried : NAN;
	r->coord_median_re = pct(re, have, 0.5);
	free(re);
}

static size_t
heap_in_use(void)
{
	struct mallinfo2 mi = mallinfo2();
	return mi.uordblks + mi.hblkhd;
}

/* ------------------------------------------------------------------ */
/* Run                                                                 */
/* ------------------------------------------------------------------ */

/** Lifeguard's components, as -lifeguard names them. */
static const struct {
	const char *name;
	unsigned bit;
} lg_parts[] = {{"lha-probe", NC_CONFIG_LG_LHA_PROBE},
		{"lha-suspicion", NC_CONFIG_LG_LHA_SUSPICION},
		{"buddy", NC_CONFIG_LG_BUDDY},
		{"nack", NC_CONFIG_LG_NACK}};

static void
lifeguard_name(const struct nc_fleet_config *c, char *out, size_t cap)
{
	unsigned off = c->lifeguard ? c->lifeguard_off & NC_CONFIG_LG_ALL
				    : NC_CONFIG_LG_ALL;
	size_t len = 0;
	if (off == 0 || off == NC_CONFIG_LG_ALL) {
		snprintf(out, cap, "%s", off == 0 ? "all" : "swim");
		return;
	}
	out[0] = '\0';
	for (size_t k = 0; k < sizeof(lg_parts) / sizeof(lg_parts[0]); k++)
		if (!(off & lg_parts[k].bit) && len < cap)
			len += (size_t)snprintf(out + len, cap - len, "%s%s",
						len ? "," : "", lg_parts[k].name);
}

int
nc_fleet_lifeguard_parse(const char *s, struct nc_fleet_config *cfg,
			 char *err, size_t cap)
{
	unsigned on = 0;
	if (strcmp(s, "all") == 0 || strcmp(s, "swim") == 0) {
		cfg->lifeguard = strcmp(s, "all") == 0;
		cfg->lifeguard_off = 0;
		return 0;
	}
	for (const char *p = s; *p != '\0';) {
		size_t len = strcspn(p, ","), k;
		for (k = 0; k < sizeof(lg_parts) / sizeof(lg_parts[0]); k++)
			if (strlen(lg_parts[k].name) == len &&
			    strncmp(p, lg_parts[k].name, len) == 0)
				break;
		if (len == 0 || k == sizeof(lg_parts) / sizeof(lg_parts[0]))
			return nc_errf(err, cap, -1,
				       "lifeguard \"%s\": want all, swim or a "
				       "comma list of lha-probe, lha-suspicion, "
				       "buddy, nack",
				       s);
		on |= lg_parts[k].bit;
		p += len;
		if (*p == ',')
			p++;
	}
	cfg->lifeguard = on != 0;
	cfg->lifeguard_off = NC_CONFIG_LG_ALL & ~on;
	return 0;
}

int
nc_fleet_slow_parse(const char *s, struct nc_fleet_config *cfg, char *err,
		    size_t cap)
{
	double share, stall, period;
	int used = 0;
	bool stop = false;
	if (sscanf(s, "%lf:%lf:%lf%n", &share, &stall, &period, &used) == 3 &&
	    (strcmp(s + used, ":stop") == 0 || strcmp(s + used, ":rx") == 0)) {
		stop = strcmp(s + used, ":stop") == 0;
		used = (int)strlen(s);
	}
	if (used == 0 || s[used] != '\0' || !(share > 0 && share <= 1) ||
	    !(stall > 0) || !(period > stall) || !(period <= 86400))
		return nc_errf(err, cap, -1,
			       "slow \"%s\": want SHARE:STALL_S:PERIOD_S[:rx|"
			       "stop], share in (0, 1], 0 < stall < period",
			       s);
	cfg->slow_stop = stop;
	cfg->slow_share = share;
	cfg->slow_stall_s = stall;
	cfg->slow_period_s = period;
	return 0;
}

void
nc_fleet_config_default(struct nc_fleet_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->n = 100;
	cfg->seed = 1;
	cfg->duration_s = 300;
	cfg->warm_s = 60;
	cfg->lifeguard = true;
	cfg->coord_gossip_rate = -1;
	cfg->query_at_s = 120;
	cfg->query_groups = 20;
	cfg->progress_s = 30;
}

int
nc_fleet_event_parse(const char *s, struct nc_fleet_event *out, char *err,
		     size_t cap)
{
	static const struct {
		const char *name;
		enum nc_fleet_event_kind kind;
	} kinds[] = {{"crash", NC_FLEET_CRASH},
		     {"pause", NC_FLEET_PAUSE},
		     {"join", NC_FLEET_JOIN},
		     {"partition", NC_FLEET_PARTITION}};
	const char *at = strchr(s, '@');
	memset(out, 0, sizeof(*out));
	out->count = 1;
	size_t k;
	for (k = 0; at != NULL && k < sizeof(kinds) / sizeof(kinds[0]); k++)
		if (strlen(kinds[k].name) == (size_t)(at - s) &&
		    strncmp(s, kinds[k].name, (size_t)(at - s)) == 0)
			break;
	if (at == NULL || k == sizeof(kinds) / sizeof(kinds[0]))
		return nc_errf(err, cap, -1,
			       "event \"%s\": want KIND@T[:COUNT[:DURATION]], "
			       "KIND crash|pause|join|partition",
			       s);
	out->kind = kinds[k].kind;
	char *end;
	errno = 0;
	out->t = strtod(at + 1, &end);
	if (end == at + 1 || !(out->t >= 0) || errno != 0)
		return nc_errf(err, cap, -1, "event \"%s\": bad time", s);
	if (out->kind == NC_FLEET_PARTITION) {
		if (*end != ':')
			return nc_errf(err, cap, -1,
				       "event \"%s\": partition@T:DURATION", s);
		out->duration = strtod(end + 1, &end);
	} else if (*end == ':') {
		unsigned long c = strtoul(end + 1, &end, 10);
		if (c == 0 || c > NC_FLEET_MAX_AGENTS)
			return nc_errf(err, cap, -1, "event \"%s\": bad count", s);
		out->count = (unsigned)c;
		if (*end == ':')
			out->duration = strtod(end + 1, &end);
	}
	if (*end != '\0' || !(out->duration >= 0) ||
	    ((out->kind == NC_FLEET_PAUSE ||
	      out->kind == NC_FLEET_PARTITION) &&
	     !(out->duration > 0)))
		return nc_errf(err, cap, -1, "event \"%s\": bad count or duration",
			       s);
	return 0;
}

/** -formed: every agent learns every other, alive, before any starts. */
static int
form(struct fleet *f)
{
	for (unsigned j = 0; j < f->n_hosts; j++) {
		const struct nc_gossip_member *m =
		    nc_gossip_self(nc_agent_gossip(f->h[j].agent));
		for (unsigned i = 0; i < f->n_hosts; i++) {
			if (i == j)
				continue;
			if (nc_gossip_seed_member(nc_agent_gossip(f->h[i].agent),
						  m->name, &m->addr, m->meta,
						  m->meta_len,
						  m->incarnation) != 0)
				return nc_errf(f->err, sizeof(f->err), -1,
					       "formed: %s refused %s",
					       nc_agent_name(f->h[i].agent),
					       m->name);
		}
	}
	return 0;
}

/* The query scenario's view of the fleet (fleet/query.h). */
static struct nc_agent *
q_agent(void *ctx, unsigned i)
{
	struct fleet *f = ctx;
	const struct host *h = &f->h[i];
	return i < f->n_hosts && h->started && !h->down ? h->agent : NULL;
}

static unsigned
q_group(void *ctx, unsigned i)
{
	struct fleet *f = ctx;
	return f->h[i].site;
}

static int
schedule(struct fleet *f, struct nc_fleet_event *evs)
{
	static const sim_call_fn fns[] = {
	    [NC_FLEET_CRASH] = crash_cb,
	    [NC_FLEET_PAUSE] = pause_cb,
	    [NC_FLEET_JOIN] = join_cb,
	    [NC_FLEET_PARTITION] = partition_cb,
	};
	/* Each event is followed by a back pointer to the fleet (evs is
	 * laid out as pairs: see nc_fleet_run). */
	for (size_t k = 0; k < f->cfg->n_ev; k++) {
		struct nc_fleet_event *ev =
		    (struct nc_fleet_event *)((char *)evs +
					      k * (sizeof(*ev) + sizeof(f)));
		*ev = f->cfg->ev[k];
		*(struct fleet **)(ev + 1) = f;
		if (sim_call_at(f->w, ev->t, fns[ev->kind], ev) < 0)
			return -1;
	}
	return 0;
}

int
nc_fleet_run(const struct nc_fleet_config *cfg, struct nc_fleet_report *r,
	     char *err, size_t cap)
{
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	memset(r, 0, sizeof(*r));
	r->converge_s = r->join_p50 = r->join_max = NAN;
	if (cfg->n < 2 || cfg->n > NC_FLEET_MAX_AGENTS)
		return nc_errf(err, cap, -1, "n: want 2..%u agents",
			       NC_FLEET_MAX_AGENTS);
	if (!(cfg->duration_s > 0) || !(cfg->loss >= 0 && cfg->loss < 1))
		return nc_errf(err, cap, -1, "duration or loss out of range");
	if (cfg->slow_share != 0 &&
	    !(cfg->slow_share > 0 && cfg->slow_share <= 1 &&
	      cfg->slow_stall_s > 0 && cfg->slow_period_s > cfg->slow_stall_s))
		return nc_errf(err, cap, -1,
			       "slow: share in (0, 1], 0 < stall < period");
	if (cfg->query_tag > 0 &&
	    (cfg->n < 4 || !(cfg->query_at_s >= 0 &&
			     cfg->query_at_s < cfg->duration_s) ||
	     cfg->query_groups < 1 || cfg->query_groups > 10000))
		return nc_errf(err, cap, -1,
			       "query: want n >= 4, 0 <= query-at < duration, "
			       "1..10000 groups");
	unsigned joins = 0;
	for (size_t k = 0; k < cfg->n_ev; k++)
		if (cfg->ev[k].kind == NC_FLEET_JOIN)
			joins += cfg->ev[k].count;
	if ((uint64_t)cfg->n + joins > NC_FLEET_MAX_AGENTS)
		return nc_errf(err, cap, -1, "too many agents with the joins");
	if (cfg->suspicion_mult < 0 || cfg->suspicion_mult > 100 ||
	    cfg->suspicion_max_mult < 0 || cfg->suspicion_max_mult > 100)
		return nc_errf(err, cap, -1,
			       "suspicion multipliers: want 1..100");

	size_t heap0 = heap_in_use();
	struct fleet *f = calloc(1, sizeof(*f));
	char *evs = calloc(cfg->n_ev + 1,
			   sizeof(struct nc_fleet_event) + sizeof(f));
	int rc = -1;
	if (f == NULL || evs == NULL) {
		nc_errf(err, cap, -1, "out of memory");
		goto out;
	}
	f->cfg = cfg;
	f->r = r;
	f->cap_hosts = cfg->n + joins;
	f->h = calloc(f->cap_hosts, sizeof(*f->h));
	f->crashed = calloc(f->cap_hosts, sizeof(unsigned));
	f->joined = calloc(joins + 1, sizeof(unsigned));
	f->w = sim_world_new(cfg->seed);
	if (f->h == NULL || f->crashed == NULL || f->joined == NULL ||
	    f->w == NULL) {
		nc_errf(err, cap, -1, "out of memory");
		goto out;
	}
	r->n = cfg->n;
	r->duration_s = cfg->duration_s;
	r->warm_s = cfg->warm_s;
	r->loss = cfg->loss;
	r->formed = cfg->formed;
	lifeguard_name(cfg, r->lifeguard, sizeof(r->lifeguard));
	r->suspicion_mult = cfg->suspicion_mult > 0 ? cfg->suspicion_mult : 4;
	r->suspicion_max_mult =
	    cfg->suspicion_max_mult > 0 ? cfg->suspicion_max_mult : 6;
	if (model_setup(f, err, cap) < 0)
		goto out;
	sim_set_log_level(f->w, NC_LOG_ERR);
	sim_set_latency_fn(f->w, latency, f);
	sim_set_loss(f->w, cfg->loss);
	sim_set_tap(f->w, on_tap, f);

	/* Start-up: agents start spread over min(30 s, 5 ms each). */
	double spread = fmin(30.0, 0.005 * cfg->n);
	for (unsigned i = 0; i < cfg->n; i++) {
		if (agent_create(f, i) < 0) {
			nc_errf(err, cap, -1, "%s", f->err);
			goto out;
		}
		f->n_hosts++;
		f->h[i].start_t = spread * i / cfg->n;
		if (sim_call_at(f->w, f->h[i].start_t, start_cb, &f->h[i]) < 0) {
			nc_errf(err, cap, -1, "out of memory");
			goto out;
		}
	}
	f->live = cfg->n;
	if (cfg->formed && form(f) < 0) {
		nc_errf(err, cap, -1, "%s", f->err);
		goto out;
	}
	if (slow_setup(f) < 0 || schedule(f, (struct nc_fleet_event *)evs) < 0 ||
	    sim_call_at(f->w, 0.5, monitor_cb, f) < 0) {
		nc_errf(err, cap, -1, "out of memory");
		goto out;
	}
	if (cfg->query_tag > 0) {
		struct nc__fleet_query_env qe = {f->w, cfg->n, q_agent, q_group,
						 f};
		f->q = nc__fleet_query_start(&qe, cfg, r);
		if (f->q == NULL) {
			nc_errf(err, cap, -1, "out of memory");
			goto out;
		}
	}
	/* Memory once the fleet converged (or at the warm-up's end). */
	double t_mem = fmin(cfg->warm_s, cfg->duration_s);
	sim_run_until(f->w, t_mem);
	size_t heap = heap_in_use() - heap0;
	r->heap_per_agent = (double)heap / f->n_hosts;
	r->heap_per_member = r->heap_per_agent / f->n_hosts;
	sim_run_until(f->w, cfg->duration_s);
	if (f->err[0] != '\0') {
		nc_errf(err, cap, -1, "%s", f->err);
		goto out;
	}
	r->n_final = f->live;
	report_detection(f);
	report_slow(f);
	report_traffic(f);
	report_coords(f);
	if (f->q != NULL)
		nc__fleet_query_finish(f->q);
	rc = 0;
out:
	if (f != NULL) {
		nc__fleet_query_free(f->q);
		for (unsigned i = 0; i < f->n_hosts && f->h != NULL; i++)
			nc_agent_delete(f->h[i].agent);
		sim_world_delete(f->w);
		free(f->h);
		free(f->m);
		free(f->crashed);
		free(f->joined);
		free(f->slow);
		free(f);
	}
	free(evs);
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	r->peak_rss_kib = ru.ru_maxrss;
	r->cpu_s = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
		   (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	r->wall_s = (double)(t1.tv_sec - t0.tv_sec) +
		    (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	return rc;
}

void
nc_fleet_report_print(FILE *o, const struct nc_fleet_report *r)
{
	static const char *kn[] = {"probes", "gossip", "push/pull",
				   "coordinates", "coordinate fetch"};
	double tot_bo = 0, tot_bi = 0, tot_po = 0, tot_pi = 0;
	fprintf(o, "fleet: %u agents (%u at the end)%s, %.0f virtual s, loss "
		   "%.1f %%, model %s, Lifeguard %s\n",
		r->n, r->n_final, r->formed ? ", formed at start" : "",
		r->duration_s, r->loss * 100, r->model, r->lifeguard);
	fprintf(o, "  converged (every agent sees every other)   %8.1f s\n",
		r->converge_s);
	if (r->joins > 0)
		fprintf(o,
			"  join reaches everyone, p50 / max          %8.1f / "
			"%.1f s (%u joins, %u incomplete)\n",
			r->join_p50, r->join_max, r->joins,
			r->joins_incomplete);
	if (r->crashes > 0) {
		fprintf(o,
			"  crash -> first marks it failed, p50 / p99 %8.1f / "
			"%.1f s\n",
			r->first_p50, r->first_p99);
		fprintf(o,
			"  crash -> last marks it failed, p50 / p99  %8.1f / "
			"%.1f s (%u crashes, %u incomplete)\n",
			r->last_p50, r->last_p99, r->crashes,
			r->crashes_incomplete);
	}
	fprintf(o,
		"  false failures (member not crashed declared failed) %llu, "
		"of which about a paused member %llu\n"
		"  suspicions of members not crashed %llu, of which about a "
		"paused member %llu\n",
		(unsigned long long)r->false_failures,
		(unsigned long long)r->paused_failures,
		(unsigned long long)r->false_suspicions,
		(unsigned long long)r->paused_suspicions);
	if (r->slow > 0)
		fprintf(o,
			"  slow members %u, Lifeguard %s (suspicion x%d, max "
			"x%d): false failures at "
			"healthy members %llu (%.3f per member-hour, %llu "
			"declared by a healthy observer), at slow members %llu "
			"(%.3f per member-hour); suspicions of healthy %llu, of "
			"slow %llu\n",
			r->slow, r->lifeguard, r->suspicion_mult,
			r->suspicion_max_mult,
			(unsigned long long)r->healthy_failures,
			r->healthy_fp_per_member_hour,
			(unsigned long long)r->healthy_failures_by_healthy,
			(unsigned long long)r->slow_failures,
			r->slow_fp_per_member_hour,
			(unsigned long long)r->healthy_suspicions,
			(unsigned long long)r->slow_suspicions);
	fprintf(o,
		"  traffic per agent, t %.0f..%.0f s     B/s out    B/s in  "
		"pkt/s out  pkt/s in\n",
		r->warm_s, r->duration_s);
	for (int k = 0; k < NC_FLEET_KINDS; k++) {
		fprintf(o, "    %-32s %9.0f %9.0f %10.2f %9.2f\n", kn[k],
			r->bytes_out[k], r->bytes_in[k], r->pkts_out[k],
			r->pkts_in[k]);
		tot_bo += r->bytes_out[k];
		tot_bi += r->bytes_in[k];
		tot_po += r->pkts_out[k];
		tot_pi += r->pkts_in[k];
	}
	fprintf(o, "    %-32s %9.0f %9.0f %10.2f %9.2f\n", "all", tot_bo,
		tot_bi, tot_po, tot_pi);
	fprintf(o, "    busiest agent, B/s out / in      %9.0f %9.0f\n",
		r->max_bytes_out, r->max_bytes_in);
	fprintf(o,
		"  heap per agent %.0f KiB, per member-table entry %.0f B "
		"(all of an agent's heap / members)\n",
		r->heap_per_agent / 1024, r->heap_per_member);
	fprintf(o,
		"  coordinates: median relative error %.3f over %u pairs, "
		"%.0f %% of sampled pairs cached\n",
		r->coord_median_re, r->coord_pairs, r->coord_cached * 100);
	nc__fleet_query_print(o, r);
	fprintf(o, "  wall %.1f s, CPU %.1f s, peak RSS %.0f MiB\n", r->wall_s,
		r->cpu_s, (double)r->peak_rss_kib / 1024);
}

void
nc_fleet_expectation_print(FILE *o, unsigned n)
{
	/* memberlist's DefaultLANConfig and its formulas (util.go):
	 * suspicionTimeout = SuspicionMult * max(1, log10(n)) * ProbeInterval,
	 * max = SuspicionMaxTimeoutMult * that (Lifeguard starts there and
	 * shrinks with confirmations); retransmitLimit = RetransmitMult *
	 * ceil(log10(n + 1)); pushPullScale. */
	const double probe = 1.0, gossip = 0.2, mult = 4, max_mult = 6;
	double lg = fmax(1.0, log10(fmax(1.0, n)));
	double susp = mult * lg * probe;
	int retrans = (int)(4 * ceil(log10((double)n + 1)));
	double pp = n <= 32 ? 30 : 30 * (ceil(log2(n) - log2(32.0)) + 1);
	/* Spread of a broadcast: fan-out 3 per gossip interval. */
	double rounds = ceil(log((double)n) / log(3.0)) + 1;
	fprintf(o, "memberlist's expectation (LAN profile, N = %u):\n", n);
	fprintf(o, "  suspicion timeout %.1f s (no confirmations: up to %.1f "
		   "s)\n",
		susp, susp * max_mult);
	fprintf(o, "  crash -> first marks it failed <= probe interval + "
		   "timeout: %.1f .. %.1f s\n",
		probe + susp, probe + susp * max_mult);
	fprintf(o, "  failure known to all ~ first + %.0f gossip rounds "
		   "(%.1f s)\n",
		rounds, rounds * gossip);
	fprintf(o, "  retransmits per broadcast %d, push/pull interval %.0f "
		   "s\n",
		retrans, pp);
}
