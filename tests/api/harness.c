/*
 * harness.c - the simulated fleet of harness.h. netcoord members are the
 * real agent (nc_agent_new on a simulator env, configured through the
 * same JSON config code as `netcoord agent`); no hook is copied here.
 */
#include "tests/api/harness.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <CUnit/CUnit.h>
#include <cjson/cJSON.h>

#include "gossip/proto.h"
#include "loop/loop.h"

/* Serf stand-ins: gossip only, serf's fresh coordinate in every ack. */

static size_t
serf_ack(void *ctx, char *buf, size_t cap)
{
	(void)ctx;
	struct nc_proto_coord fresh = {
	    .dims = 8, .error = 1.5, .height = 1.0e-5};
	int len = nc_proto_encode_coord(buf, cap, &fresh);
	return len > 0 ? (size_t)len : 0;
}

/** Count anything that looks like a coordinate message. */
static void
serf_user(void *ctx, const char *buf, size_t len)
{
	struct th_node *n = ctx;
	n->user_msgs++;
	for (size_t i = 0; i + 3 <= len; i++)
		if (buf[i] == (char)0xa2 && buf[i + 1] == 'N' &&
		    buf[i + 2] == 'C')
			n->nc_msgs_seen++;
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
encode_serf_tags(const char *spec, uint8_t *meta, size_t *len)
{
	struct nc_proto_tag tags[16];
	char buf[256];
	unsigned n = 0;
	snprintf(buf, sizeof(buf), "%s", spec != NULL ? spec : "");
	for (char *save = NULL, *t = strtok_r(buf, ",", &save); t != NULL;
	     t = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(t, '=');
		if (eq == NULL || n == 16)
			continue;
		*eq = '\0';
		tags[n].key = (struct nc_proto_str){t, (uint32_t)strlen(t)};
		tags[n].value =
		    (struct nc_proto_str){eq + 1, (uint32_t)strlen(eq + 1)};
		n++;
	}
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

static void
add_serf(struct th_node *n, const struct th_spec *s, struct sim_node *sn)
{
	char err[128];
	struct nc_gossip_config cfg;
	struct nc_gossip_hooks hooks = {
	    .ctx = n,
	    .ack_payload = serf_ack,
	    .user_msg = serf_user,
	};
	nc_gossip_config_default(&cfg, NC_GOSSIP_PROFILE_LAN);
	snprintf(cfg.name, sizeof(cfg.name), "%s", s->name);
	cfg.advertise = *sim_node_addr(sn);
	CU_ASSERT_FATAL(encode_serf_tags(s->tags, cfg.meta, &cfg.meta_len) ==
			0);
	n->g = nc_gossip_new(n->env, &cfg, &hooks, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(n->g);
}

/**
 * A netcoord agent, configured as `netcoord agent` would be from a JSON
 * config file: name, tags, key; it joins node 0 (unless it is node 0).
 */
static void
add_agent(struct th_node *n, const struct th_spec *s, struct sim_node *sn)
{
	char err[256], json[1024], tags[512] = "", buf[256];
	const char *key = n->f->key;
	size_t tl = 0;
	snprintf(buf, sizeof(buf), "%s", s->tags != NULL ? s->tags : "");
	for (char *save = NULL, *t = strtok_r(buf, ",", &save); t != NULL;
	     t = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(t, '=');
		if (eq == NULL)
			continue;
		*eq = '\0';
		tl += (size_t)snprintf(tags + tl, sizeof(tags) - tl,
				       "%s\"%s\":\"%s\"", tl ? "," : "", t,
				       eq + 1);
	}
	snprintf(json, sizeof(json),
		 "{\"node_name\":\"%s\",\"tags\":{%s}%s%s%s,"
		 "\"max_members\":%zu}",
		 s->name, tags, key != NULL ? ",\"encrypt\":\"" : "",
		 key != NULL ? key : "", key != NULL ? "\"" : "",
		 n->f->max_members > 0 ? n->f->max_members : (size_t)TH_MAX * 100);
	struct nc_config cfg;
	nc_config_init(&cfg);
	CU_ASSERT_EQUAL_FATAL(
	    nc_config_load_json(&cfg, json, err, sizeof(err)), 0);
	if (n->id > 0) {
		/* Numeric: the simulator has no resolver. */
		char a0[64];
		nc_addr_format(sim_node_addr(sim_node_get(n->f->w, 0)), a0,
			       sizeof(a0));
		cfg.join[0] = strdup(a0);
		cfg.join_n = cfg.join[0] != NULL;
	}
	n->agent = nc_agent_new(n->env, &cfg, sim_node_addr(sn), NULL, NULL,
				err, sizeof(err));
	nc_config_destroy(&cfg);
	CU_ASSERT_PTR_NOT_NULL_FATAL(n->agent);
	n->g = nc_agent_gossip(n->agent);
	n->coords = nc_agent_coords(n->agent);
}

static struct th_node *
add_node(struct th_fleet *f, const struct th_spec *s)
{
	struct th_node *n = &f->node[f->n];
	struct sim_node *sn = sim_node_add(f->w, s->name);
	memset(n, 0, sizeof(*n));
	n->f = f;
	n->id = f->n;
	n->nc = s->nc;
	n->x = s->x;
	n->y = s->y;
	n->env = sim_node_env(sn);
	if (s->nc)
		add_agent(n, s, sn);
	else
		add_serf(n, s, sn);
	f->n++;
	return n;
}

/** Start a node: an agent joins node 0 itself, a serf stand-in is told. */
static void
start_node(struct th_fleet *f, struct th_node *n)
{
	if (n->agent != NULL) {
		CU_ASSERT_EQUAL(nc_agent_start(n->agent), 0);
		return;
	}
	CU_ASSERT_EQUAL(nc_gossip_start(n->g), 0);
	if (n->id > 0)
		nc_gossip_join(n->g, sim_node_addr(sim_node_get(f->w, 0)), 1,
			       NULL, NULL);
}

struct th_fleet *
th_fleet_new(uint64_t seed, const struct th_spec *spec, int n)
{
	return th_fleet_new_keyed(seed, spec, n, NULL);
}

struct th_fleet *
th_fleet_new_keyed(uint64_t seed, const struct th_spec *spec, int n,
		   const char *key_b64)
{
	return th_fleet_new_opts(seed, spec, n, key_b64, 0);
}

struct th_fleet *
th_fleet_new_opts(uint64_t seed, const struct th_spec *spec, int n,
		  const char *key_b64, size_t max_members)
{
	struct th_fleet *f = calloc(1, sizeof(*f));
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	f->key = key_b64;
	f->max_members = max_members;
	f->w = sim_world_new(seed);
	sim_set_log(f->w, quiet, NULL);
	sim_set_latency_fn(f->w, latency, f);
	for (int i = 0; i < n; i++)
		add_node(f, &spec[i]);
	for (int i = 0; i < f->n; i++)
		start_node(f, &f->node[i]);
	return f;
}

struct th_node *
th_fleet_add(struct th_fleet *f, const struct th_spec *s)
{
	struct th_node *n = add_node(f, s);
	start_node(f, n);
	return n;
}

void
th_fleet_delete(struct th_fleet *f)
{
	if (f == NULL)
		return;
	for (int i = 0; i < f->n; i++) {
		if (f->node[i].agent != NULL)
			nc_agent_delete(f->node[i].agent);
		else
			nc_gossip_delete(f->node[i].g);
	}
	sim_world_delete(f->w);
	free(f);
}

void
th_inject_alive(struct th_fleet *f, int to, const char *name, size_t len,
		const uint8_t ip[4], uint32_t inc,
		const struct nc_proto_tag *tags, unsigned n_tags)
{
	static const uint8_t vsn[6] = {1, 5, 2, 2, 5, 5};
	char meta[NC_GOSSIP_META_MAX], buf[1024];
	struct nc_proto_alive a;
	memset(&a, 0, sizeof(a));
	int ml = n_tags > 0 ? nc_proto_encode_tags(meta, sizeof(meta), tags,
						   n_tags)
			    : 0;
	CU_ASSERT_FATAL(ml >= 0);
	a.incarnation = inc;
	a.node.data = name;
	a.node.len = (uint32_t)len;
	a.addr.data = (const char *)ip;
	a.addr.len = 4;
	a.port = 7946;
	a.meta.data = ml > 0 ? meta : NULL;
	a.meta.len = (uint32_t)ml;
	a.vsn.data = (const char *)vsn;
	a.vsn.len = 6;
	int n = nc_proto_encode_alive(buf, sizeof(buf), &a);
	CU_ASSERT_FATAL(n > 0);
	struct nc_env *env = f->node[to].env;
	struct nc_addr from;
	memset(&from, 0, sizeof(from));
	from.family = 4;
	memcpy(from.ip, ip, 4);
	from.port = 7946;
	env->sink.on_packet(env->sink.ctx, &from, buf, (size_t)n, th_now(f));
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

struct nc_env *
th_env_real_new(void)
{
	struct nc_env_real_config ec;
	char err[128];
	nc_env_real_config_default(&ec);
	nc_addr_parse("127.0.0.1:0", 0, &ec.bind);
	ec.log_level = NC_LOG_ERR;
	struct nc_env *e = nc_env_real_new(&ec, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(e);
	return e;
}

struct nc_agent *
th_real_agent_new(struct nc_env *env, const char *name, const char *join)
{
	char err[256];
	struct nc_config cfg;
	struct nc_addr adv;
	nc_config_init(&cfg);
	snprintf(cfg.node_name, sizeof(cfg.node_name), "%s", name);
	cfg.profile = NC_CONFIG_PROFILE_LOCAL;
	if (join != NULL) {
		cfg.join[0] = strdup(join);
		cfg.join_n = cfg.join[0] != NULL;
	}
	nc_env_real_local_addr(env, &adv);
	struct nc_agent *a =
	    nc_agent_new(env, &cfg, &adv, NULL, NULL, err, sizeof(err));
	nc_config_destroy(&cfg);
	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	CU_ASSERT_EQUAL_FATAL(nc_agent_start(a), 0);
	return a;
}

double
th_mono_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int
th_http_get_open(unsigned port, const char *path)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	CU_ASSERT_FATAL(fd >= 0);
	struct sockaddr_in sa = {.sin_family = AF_INET,
				 .sin_port = htons((uint16_t)port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	CU_ASSERT_EQUAL_FATAL(
	    connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	fcntl(fd, F_SETFL, O_NONBLOCK);
	char req[512];
	int n = snprintf(req, sizeof(req),
			 "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
			 "Connection: close\r\n\r\n",
			 path);
	CU_ASSERT_EQUAL(send(fd, req, (size_t)n, MSG_NOSIGNAL), n);
	return fd;
}
