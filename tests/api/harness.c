/*
 * harness.c - the simulated fleet of harness.h. Hooks are those of
 * cmd/agent.c minus the serf relay: ack payload, probe_done, member
 * events, user messages and user broadcasts go to api/coords.c.
 */
#include "tests/api/harness.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/CUnit.h>
#include <cjson/cJSON.h>

#include "coord/coord.h"
#include "gossip/proto.h"

static double
now_of(struct th_node *n)
{
	return sim_now(n->f->w);
}

static size_t
h_ack(void *ctx, char *buf, size_t cap)
{
	struct th_node *n = ctx;
	if (n->coords != NULL)
		return nc_agent_coords_ack_payload(n->coords, buf, cap);
	/* A serf member: its fresh coordinate. */
	struct nc_proto_coord fresh = {
	    .dims = 8, .error = 1.5, .height = 1.0e-5};
	int len = nc_proto_encode_coord(buf, cap, &fresh);
	return len > 0 ? (size_t)len : 0;
}

static void
h_probe(void *ctx, const struct nc_gossip_member *peer, double rtt,
	const char *payload, size_t len)
{
	struct th_node *n = ctx;
	if (n->coords != NULL)
		nc_agent_coords_probe_done(n->coords, now_of(n), peer->name, rtt,
					 payload, len);
}

static void
h_event(void *ctx, enum nc_gossip_event ev, const struct nc_gossip_member *m,
	const char *by)
{
	struct th_node *n = ctx;
	(void)by;
	if (n->coords == NULL)
		return;
	if (ev == NC_GOSSIP_EV_JOIN)
		nc_agent_coords_member_joined(n->coords, now_of(n), m->name);
	if (ev == NC_GOSSIP_EV_REAPED)
		nc_agent_coords_member_reaped(n->coords, m->name);
}

static void
h_user(void *ctx, const char *buf, size_t len)
{
	struct th_node *n = ctx;
	n->user_msgs++;
	if (n->coords != NULL) {
		nc_agent_coords_user_msg(n->coords, now_of(n), buf, len);
		return;
	}
	/* A serf member: count anything that looks like ours. */
	for (size_t i = 0; i + 3 <= len; i++)
		if (buf[i] == (char)0xa2 && buf[i + 1] == 'N' &&
		    buf[i + 2] == 'C')
			n->nc_msgs_seen++;
}

static size_t
h_bcast(void *ctx, const struct nc_gossip_member *to, char *buf, size_t cap)
{
	struct th_node *n = ctx;
	if (n->coords == NULL)
		return 0;
	return nc_agent_coords_user_broadcast(n->coords, now_of(n), to, buf, cap);
}

static void
greet_cb(struct nc_timer *t)
{
	struct th_node *n = t->arg;
	const struct nc_gossip_member *to;
	char buf[256];
	size_t len;
	while ((len = nc_agent_coords_greet_take(n->coords, now_of(n), &to, buf,
					       sizeof(buf))) > 0)
		nc_gossip_send_user(n->g, to, buf, len);
	n->env->ops->timer_start(n->env, &n->greet, 0.25);
}

static double
latency(void *ctx, struct sim_world *w, int from, int to)
{
	struct th_fleet *f = ctx;
	(void)w;
	const struct th_node *a = &f->node[from], *b = &f->node[to];
	double d = hypot(a->x - b->x, a->y - b->y) + 0.2; /* ms RTT */
	return d / 2000.0;
}

static void
quiet(void *ctx, struct sim_world *w, int node, enum nc_log_level level,
      const char *module, const char *msg)
{
	(void)ctx;
	(void)w;
	(void)node;
	(void)level;
	(void)module;
	(void)msg;
}

static int
encode_tags(const char *spec, bool nc, uint8_t *meta, size_t *len)
{
	struct nc_proto_tag tags[16];
	char buf[256];
	unsigned n = 0;
	snprintf(buf, sizeof(buf), "%s", spec != NULL ? spec : "");
	for (char *save = NULL, *t = strtok_r(buf, ",", &save); t != NULL;
	     t = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(t, '=');
		if (eq == NULL || n == 15)
			continue;
		*eq = '\0';
		tags[n].key = (struct nc_proto_str){t, (uint32_t)strlen(t)};
		tags[n].value =
		    (struct nc_proto_str){eq + 1, (uint32_t)strlen(eq + 1)};
		n++;
	}
	if (nc)
		tags[n++] = (struct nc_proto_tag){nc_proto_cstr("nc"),
						  nc_proto_cstr("1")};
	*len = 0;
	if (n == 0)
		return 0;
	int rc =
	    nc_proto_encode_tags((char *)meta, NC_GOSSIP_META_MAX, tags, n);
	if (rc < 0)
		return rc;
	*len = (size_t)rc;
	return 0;
}

static struct th_node *
add_node(struct th_fleet *f, const struct th_spec *s)
{
	char err[128];
	struct th_node *n = &f->node[f->n];
	struct sim_node *sn = sim_node_add(f->w, s->name);
	struct nc_gossip_config cfg;
	struct nc_gossip_hooks hooks = {
	    .ctx = n,
	    .ack_payload = h_ack,
	    .probe_done = h_probe,
	    .member_event = h_event,
	    .user_msg = h_user,
	    .user_broadcast = h_bcast,
	};
	memset(n, 0, sizeof(*n));
	n->f = f;
	n->id = f->n;
	n->nc = s->nc;
	n->x = s->x;
	n->y = s->y;
	nc_gossip_config_default(&cfg, NC_GOSSIP_PROFILE_LAN);
	snprintf(cfg.name, sizeof(cfg.name), "%s", s->name);
	cfg.advertise = *sim_node_addr(sn);
	CU_ASSERT_FATAL(encode_tags(s->tags, s->nc, cfg.meta, &cfg.meta_len) ==
			0);
	if (s->nc) {
		struct nc_coord_config cc;
		nc_coord_config_default(&cc);
		cc.peer_cap = 64;
		cc.seed = (uint64_t)f->n + 1;
		n->coords = nc_agent_coords_new(s->name, &cc, NULL, sim_now(f->w),
					      err, sizeof(err));
		CU_ASSERT_PTR_NOT_NULL_FATAL(n->coords);
	}
	n->g = nc_gossip_new(sim_node_env(sn), &cfg, &hooks, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(n->g);
	n->env = sim_node_env(sn);
	nc_timer_init(&n->greet, greet_cb, n);
	if (n->coords != NULL) {
		nc_agent_coords_set_gossip(n->coords, n->g);
		n->env->ops->timer_start(n->env, &n->greet, 0.25);
	}
	f->n++;
	return n;
}

struct th_fleet *
th_fleet_new(uint64_t seed, const struct th_spec *spec, int n)
{
	struct th_fleet *f = calloc(1, sizeof(*f));
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	f->w = sim_world_new(seed);
	sim_set_log(f->w, quiet, NULL);
	sim_set_latency_fn(f->w, latency, f);
	for (int i = 0; i < n; i++)
		add_node(f, &spec[i]);
	for (int i = 0; i < f->n; i++)
		CU_ASSERT_EQUAL(nc_gossip_start(f->node[i].g), 0);
	for (int i = 1; i < f->n; i++)
		nc_gossip_join(f->node[i].g,
			       sim_node_addr(sim_node_get(f->w, 0)), 1, NULL,
			       NULL);
	return f;
}

struct th_node *
th_fleet_add(struct th_fleet *f, const struct th_spec *s)
{
	struct th_node *n = add_node(f, s);
	CU_ASSERT_EQUAL(nc_gossip_start(n->g), 0);
	nc_gossip_join(n->g, sim_node_addr(sim_node_get(f->w, 0)), 1, NULL,
		       NULL);
	return n;
}

void
th_fleet_delete(struct th_fleet *f)
{
	if (f == NULL)
		return;
	for (int i = 0; i < f->n; i++) {
		f->node[i].env->ops->timer_stop(f->node[i].env,
						&f->node[i].greet);
		nc_gossip_delete(f->node[i].g);
		nc_agent_coords_delete(f->node[i].coords);
	}
	sim_world_delete(f->w);
	free(f);
}

double
th_now(struct th_fleet *f)
{
	return sim_now(f->w);
}

double
th_clock(void *arg)
{
	return th_now(arg);
}

int
th_req(struct nc_api *api, const char *method, const char *url,
       const char *auth, const char *body, char **out, cJSON **json)
{
	struct nc_api_request req = {
	    .method = method,
	    .path = url,
	    .suffix = "",
	    .body = body,
	    .body_len = body != NULL ? strlen(body) : 0,
	    .authorization = auth,
	};
	char *b = NULL;
	int st = nc_api_dispatch(api, &req, &b, NULL, 0);
	if (json != NULL)
		*json = b != NULL ? cJSON_Parse(b) : NULL;
	if (out != NULL)
		*out = b;
	else
		free(b);
	return st;
}
