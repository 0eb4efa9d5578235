/*
 * tests/fuzz/fuzz_seeds.c - writes the seed corpora of the stateful fuzz
 * targets (run by the NC_FUZZ build, see tests/fuzz/CMakeLists.txt):
 *
 *   fuzz_seeds AGENT_DIR HTTP_DIR WIRE_VECTORS_JSON
 *
 * AGENT_DIR (fuzz_agent inputs, layout in fuzz_fleet.h):
 *   - capture_*: the datagrams and streams a target agent really receives
 *     from two real peers in the simulator during the first seconds
 *     (join push/pull, pings, acks with coordinates, alive/suspect
 *     gossip, coordinate gossip, serf intents), replayed as records with
 *     the time between them;
 *   - craft_*: one FF_REC_CRAFT record of each message type about real
 *     names, a push/pull, control operations, a fake peer's reply;
 *   - vectors_udp / vectors_stream: every message of
 *     tests/data/wire-vectors.json as a datagram / as a stream.
 * HTTP_DIR (fuzz_http inputs, layout at the top of fuzz_http.c): every
 * route with valid parameters, with and without the token.
 *
 * Everything is generated: nothing of the corpus is checked in.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "agent/agent.h"
#include "tests/fuzz/fuzz_fleet.h"
#include "sim/sim.h"

/** Largest capture seed (libFuzzer's -max_len in README is 8192). */
#define SEED_MAX 8000

struct out {
	unsigned char b[1 << 16];
	size_t len;
};

static void
put8(struct out *o, unsigned v)
{
	if (o->len < sizeof(o->b))
		o->b[o->len++] = (unsigned char)v;
}

static void
put16(struct out *o, unsigned v)
{
	put8(o, v & 0xff);
	put8(o, (v >> 8) & 0xff);
}

static void
put32(struct out *o, uint32_t v)
{
	put16(o, v & 0xffff);
	put16(o, v >> 16);
}

static void
putn(struct out *o, const void *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		put8(o, ((const unsigned char *)p)[i]);
}

static void
putstr(struct out *o, const char *s)
{
	putn(o, s, strlen(s) + 1);
}

static int
save(const char *dir, const char *name, const struct out *o)
{
	char path[1024];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "wb");
	if (f == NULL || fwrite(o->b, 1, o->len, f) != o->len) {
		fprintf(stderr, "fuzz_seeds: %s: %s\n", path, strerror(errno));
		if (f != NULL)
			fclose(f);
		return -1;
	}
	return fclose(f);
}

/* ---------------------------------------------------------------- */
/* Capture: what t0 receives from real peers                         */
/* ---------------------------------------------------------------- */

struct capture {
	struct sim_world *w;
	struct nc_env_sink inner;
	struct out *o;
	double last;
	bool full;
};

static void
cap_advance(struct capture *c)
{
	double now = sim_now(c->w);
	unsigned ms = (unsigned)((now - c->last) * 1000.0 + 0.5);
	if (ms > 0) {
		put8(c->o, FF_REC_ADVANCE);
		put16(c->o, ms > 65535 ? 65535 : ms);
		c->last = now;
	}
}

static uint8_t
cap_from(struct capture *c, const struct nc_addr *from)
{
	struct sim_node *n = sim_node_by_addr(c->w, from);
	/* real peers are nodes 1, 2: senders FF_FAKES + 0, + 1 */
	return (uint8_t)(n != NULL && sim_node_id(n) > 0
			     ? FF_FAKES + sim_node_id(n) - 1
			     : 0);
}

static void
cap_packet(void *ctx, const struct nc_addr *from, const char *buf,
	   size_t len, double rx_time)
{
	struct capture *c = ctx;
	if (!c->full && c->o->len + len + 8 < SEED_MAX) {
		cap_advance(c);
		put8(c->o, FF_REC_UDP);
		put8(c->o, cap_from(c, from));
		put16(c->o, (unsigned)len);
		putn(c->o, buf, len);
	} else {
		c->full = true;
	}
	c->inner.on_packet(c->inner.ctx, from, buf, len, rx_time);
}

static int
cap_stream(void *ctx, const struct nc_addr *from, const char *req,
	   size_t req_len, struct nc_buf *reply)
{
	struct capture *c = ctx;
	if (!c->full && c->o->len + req_len + 8 < SEED_MAX) {
		cap_advance(c);
		put8(c->o, FF_REC_STREAM | 0x10);
		put8(c->o, cap_from(c, from));
		put16(c->o, (unsigned)req_len);
		putn(c->o, req, req_len);
	} else {
		c->full = true;
	}
	return c->inner.on_stream(c->inner.ctx, from, req, req_len, reply);
}

/** Run t0 + 2 peers (as fuzz_agent builds them) for @a secs, recorded. */
static int
capture(const char *dir, const char *name, bool keyed, double secs)
{
	static const char *const names[] = {"t0", "p1", "p2"};
	struct out *o = calloc(1, sizeof(*o));
	struct sim_world *w = sim_world_new(0x5eed);
	struct nc_agent *a[3] = {0};
	struct capture c = {.w = w, .o = o};
	int rc = -1;
	if (o == NULL || w == NULL)
		goto out;
	sim_set_log(w, ff_log_quiet, NULL);
	put8(o, 2 | (keyed ? FF_HDR_KEYED : 0) | (secs < 5 ? FF_HDR_FRESH : 0));
	struct sim_node *sn[3];
	for (int i = 0; i < 3; i++)
		sn[i] = sim_node_add(w, names[i]);
	for (int i = 0; i < FF_FAKES; i++)
		sim_node_add(w, "f");
	for (int i = 0; i < 3; i++) {
		a[i] = ff_agent_new(sn[i], names[i],
				    i == 0 ? "\"dc\":\"a\"" : "\"dc\":\"b\"",
				    keyed ? FF_KEY_B64 : NULL,
				    i > 0 ? sim_node_addr(sn[0]) : NULL, false);
		if (a[i] == NULL)
			goto out;
	}
	struct nc_env *env = sim_node_env(sn[0]);
	c.inner = env->sink;
	struct nc_env_sink wrap = {&c, cap_packet, cap_stream};
	nc_env_set_sink(env, &wrap);
	for (int i = 0; i < 3; i++)
		if (nc_agent_start(a[i]) != 0)
			goto out;
	sim_run_until(w, secs);
	rc = save(dir, name, o);
out:
	for (int i = 0; i < 3; i++)
		nc_agent_delete(a[i]);
	sim_world_delete(w);
	free(o);
	return rc;
}

/* ---------------------------------------------------------------- */
/* Crafted records                                                   */
/* ---------------------------------------------------------------- */

/* Name selectors of fuzz_agent.c: 0 t0, 1 p1, 2 p2, 3..6 f0..f3. */
enum { T0 = 0, P1 = 1, P2 = 2, F0 = 3, F1 = 4 };
/* Address selectors: node index (0 t0, 1 p1, 2 p2, 3.. fakes). */
enum { A_T0 = 0, A_P1 = 1, A_F0 = 3, A_F1 = 4 };

static void
craft_alive(struct out *o, uint8_t from, uint32_t inc, uint8_t name,
	    uint8_t addr, uint8_t meta)
{
	put8(o, FF_REC_CRAFT);
	put8(o, from);
	put8(o, FF_MSG_ALIVE);
	put32(o, inc);
	put8(o, name);
	put8(o, addr);
	put8(o, meta); /* 1: tags dc + nc */
	put8(o, 4);    /* dc value length */
	putn(o, "east", 4);
	put8(o, 0); /* default vsn */
}

static void
advance(struct out *o, unsigned ms)
{
	put8(o, FF_REC_ADVANCE);
	put16(o, ms);
}

static int
crafted(const char *dir)
{
	struct out *o = calloc(1, sizeof(*o));
	int rc = 0;
	if (o == NULL)
		return -1;

	/* A fake member that answers pings with a coordinate. */
	o->len = 0;
	put8(o, 1);
	put8(o, FF_REC_CONTROL);
	put8(o, FF_OP_AUTO_ACK);
	put8(o, 0);
	put16(o, 0x0102);
	craft_alive(o, 0, 1, F0, A_F0, 1);
	craft_alive(o, 1, 1, F1, A_F1, 1);
	advance(o, 3000);
	/* suspect / dead of the fake members, refuted or not */
	put8(o, FF_REC_CRAFT);
	put8(o, 1);
	put8(o, FF_MSG_SUSPECT);
	put32(o, 1);
	put8(o, F0);
	put8(o, F1);
	put8(o, FF_REC_CRAFT);
	put8(o, 0);
	put8(o, FF_MSG_DEAD);
	put32(o, 1);
	put8(o, F1);
	put8(o, F0);
	advance(o, 8000);
	rc |= save(dir, "craft_members", o);

	/* Ack of the last ping t0 sent to a fake member. */
	o->len = 0;
	put8(o, 0);
	craft_alive(o, 0, 1, F0, A_F0, 1);
	advance(o, 1500);
	put8(o, FF_REC_CRAFT);
	put8(o, 0);
	put8(o, FF_MSG_ACK);
	put8(o, 0);   /* last seq, with payload */
	put8(o, 0x03); /* coordinate shape: vec + error from input */
	for (int i = 0; i < 8; i++)
		put8(o, 4 + i);
	put8(o, 5);
	advance(o, 1500);
	rc |= save(dir, "craft_ack", o);

	/* Pings, indirect pings, nacks. */
	o->len = 0;
	put8(o, 1);
	put8(o, FF_REC_CRAFT);
	put8(o, 0);
	put8(o, FF_MSG_PING);
	put32(o, 7);
	put8(o, T0);
	put8(o, A_F0);
	put8(o, F0);
	put8(o, FF_REC_CRAFT);
	put8(o, 0);
	put8(o, FF_MSG_INDIRECT);
	put32(o, 8);
	put8(o, A_P1);
	put8(o, P1);
	put8(o, 1);
	put8(o, F0);
	put8(o, FF_REC_CRAFT);
	put8(o, 0);
	put8(o, FF_MSG_NACK);
	put32(o, 9);
	advance(o, 2000);
	rc |= save(dir, "craft_pings", o);

	/* Serf intents and coordinate gossip. */
	o->len = 0;
	put8(o, 2);
	advance(o, 2000);
	put8(o, FF_REC_CRAFT);
	put8(o, 4); /* from p1's address */
	put8(o, FF_MSG_SERF_JOIN);
	put32(o, 5);
	put8(o, P1);
	put8(o, FF_REC_CRAFT);
	put8(o, 4);
	put8(o, FF_MSG_SERF_LEAVE);
	put32(o, 6);
	put8(o, P2);
	put8(o, 0);
	put8(o, FF_REC_CRAFT);
	put8(o, 4);
	put8(o, FF_MSG_COORDS);
	put8(o, P1); /* sender */
	put8(o, 2);  /* entries */
	put8(o, P1);
	put16(o, 0);
	put8(o, 1); /* sender's own */
	put8(o, 0);
	put8(o, P2);
	put16(o, 30);
	put8(o, 0);
	put8(o, 0);
	advance(o, 2000);
	rc |= save(dir, "craft_serf_coords", o);

	/* Coordinate fetch (docs/WIRE.md §5): the target asks two real
	 * peers and a fake member, the fake answers, a peer asks the
	 * target, and a reply nobody asked for. */
	o->len = 0;
	put8(o, 2);
	craft_alive(o, 0, 1, F0, A_F0, 1);
	advance(o, 3000);
	put8(o, FF_REC_CONTROL);
	put8(o, FF_OP_FETCH);
	put8(o, 1u << P1 | 1u << P2 | 1u << F0);
	put16(o, 0); /* nothing counts as fresh */
	put8(o, FF_REC_CRAFT);
	put8(o, 0); /* from f0's address */
	put8(o, FF_MSG_COORDS);
	put8(o, F0);   /* sender */
	put8(o, 0xf1); /* kind 3: reply */
	put8(o, 0);    /* default coordinate */
	advance(o, 500);
	put8(o, FF_REC_CRAFT);
	put8(o, 4); /* from p1's address */
	put8(o, FF_MSG_COORDS);
	put8(o, P1);
	put8(o, 0xf0); /* kind 2: request, one name */
	put8(o, T0);
	put8(o, FF_REC_CRAFT);
	put8(o, 1);
	put8(o, FF_MSG_COORDS);
	put8(o, F1);
	put8(o, 0xf1);
	put8(o, 0x03);
	for (int i = 0; i < 8; i++)
		put8(o, 4 + i);
	put8(o, 5);
	advance(o, 2000);
	rc |= save(dir, "craft_fetch", o);

	/* A push/pull from a fake peer listing members. */
	o->len = 0;
	put8(o, 1);
	put8(o, FF_REC_PUSHPULL | 0x10);
	put8(o, 0);
	put8(o, 1); /* join */
	put8(o, 3);
	for (int i = 0; i < 3; i++) {
		put8(o, F0 + i);
		put8(o, A_F0 + i);
		put8(o, i); /* alive, suspect, dead */
		put32(o, 3);
		put8(o, 0);
		put8(o, 1);
		put8(o, 1);
		putn(o, "x", 1);
	}
	put8(o, 0);
	advance(o, 3000);
	rc |= save(dir, "craft_pushpull", o);

	/* What a fake peer answers to t0's push/pull; leave, keyring. */
	o->len = 0;
	put8(o, 1 | FF_HDR_KEYED);
	craft_alive(o, 0, 1, F0, A_F0, 1);
	o->b[1] |= 0x40; /* encrypted */
	put8(o, FF_REC_REPLY | 0x40);
	put8(o, 0);
	put16(o, 16);
	putn(o, "\x06\x83\xa4Join\xc2\xa5Nodes\x00\xac", 16);
	put8(o, FF_REC_CONTROL);
	put8(o, FF_OP_KEY_INSTALL);
	put8(o, 1);
	put16(o, 0);
	put8(o, FF_REC_CONTROL);
	put8(o, FF_OP_KEY_USE);
	put8(o, 1);
	put16(o, 0);
	advance(o, 31000);
	put8(o, FF_REC_CONTROL);
	put8(o, FF_OP_LEAVE_TARGET);
	put8(o, 0);
	put16(o, 0);
	advance(o, 7000);
	rc |= save(dir, "craft_keyed_reply_leave", o);

	/* Peers paused, crashed, leaving. */
	o->len = 0;
	put8(o, 2);
	advance(o, 2000);
	put8(o, FF_REC_CONTROL);
	put8(o, FF_OP_PAUSE_PEER);
	put8(o, 0);
	put16(o, 4000);
	put8(o, FF_REC_CONTROL);
	put8(o, FF_OP_DOWN_PEER);
	put8(o, 1);
	put16(o, 0);
	advance(o, 40000);
	put8(o, FF_REC_CONTROL);
	put8(o, FF_OP_LEAVE_PEER);
	put8(o, 0);
	put16(o, 0);
	advance(o, 8000);
	rc |= save(dir, "craft_peers", o);
	free(o);
	return rc;
}

/* ---------------------------------------------------------------- */
/* Wire vectors                                                      */
/* ---------------------------------------------------------------- */

static int
vectors(const char *dir, const char *json_path)
{
	FILE *f = fopen(json_path, "rb");
	if (f == NULL) {
		fprintf(stderr, "fuzz_seeds: %s: %s\n", json_path,
			strerror(errno));
		return -1;
	}
	static char text[1 << 20];
	size_t n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[n] = '\0';
	cJSON *doc = cJSON_Parse(text);
	cJSON *vs = cJSON_GetObjectItem(doc, "vectors");
	struct out *u = calloc(1, sizeof(*u)), *s = calloc(1, sizeof(*s));
	int rc = -1;
	if (vs == NULL || u == NULL || s == NULL)
		goto out;
	put8(u, 1);
	put8(s, 1 | FF_HDR_KEYED); /* encrypted vectors use key 00..1f */
	cJSON *v;
	cJSON_ArrayForEach(v, vs)
	{
		const char *hex =
		    cJSON_GetStringValue(cJSON_GetObjectItem(v, "hex"));
		const char *name =
		    cJSON_GetStringValue(cJSON_GetObjectItem(v, "name"));
		if (hex == NULL || name == NULL)
			continue;
		size_t len = strlen(hex) / 2;
		bool stream = strncmp(name, "pushpull", 8) == 0 ||
			      strncmp(name, "user_stream", 11) == 0;
		struct out *o = stream ? s : u;
		put8(o, stream ? FF_REC_STREAM | 0x10 : FF_REC_UDP);
		put8(o, 0);
		put16(o, (unsigned)len);
		for (size_t i = 0; i < len; i++) {
			unsigned b;
			sscanf(hex + 2 * i, "%2x", &b);
			put8(o, b);
		}
		advance(o, 300);
	}
	rc = save(dir, "vectors_udp", u) | save(dir, "vectors_stream", s);
out:
	cJSON_Delete(doc);
	free(u);
	free(s);
	return rc;
}

/* ---------------------------------------------------------------- */
/* HTTP                                                              */
/* ---------------------------------------------------------------- */

/** One request of fuzz_http: method index, auth mode, url[, body]. */
static void
req(struct out *o, unsigned method, unsigned auth, const char *url,
    const char *body)
{
	put8(o, method | auth << 3 | (body != NULL ? 0x40 : 0));
	putstr(o, url);
	if (body != NULL) {
		put16(o, (unsigned)strlen(body));
		putn(o, body, strlen(body));
	}
}

static int
http(const char *dir)
{
	static const char *const gets[] = {
	    "/v1/health",
	    "/v1/members?status=alive,suspect&tag=dc:east",
	    "/v1/members?near=a1&status=any",
	    "/v1/agent/self",
	    "/v1/coordinate/nodes",
	    "/v1/coordinate/node/a2",
	    "/v1/rtt?from=a1&to=a2",
	    "/v1/nearest?n=3&tag=dc:west",
	    "/v1/nearest?coord=%7B%22Vec%22%3A%5B0%2C0%2C0%2C0%2C0%2C0%2C0"
	    "%2C0%5D%2C%22Error%22%3A1.5%2C%22Adjustment%22%3A0%2C%22Height"
	    "%22%3A1e-05%7D&n=2",
	    "/v1/failover?from=a0&group=dc&skip-local=1",
	    "/v1/failover?group=rack&status=any",
	    "/metrics",
	    "/v1/stats",
	    "/v1/agent/keyring",
	    "/",
	    "/ui/",
	    "/ui/index.html",
	};
	struct out *o = calloc(1, sizeof(*o));
	char name[32];
	int rc = 0;
	if (o == NULL)
		return -1;
	for (size_t i = 0; i < sizeof(gets) / sizeof(gets[0]); i++) {
		for (unsigned hdr = 0; hdr < 2; hdr++) {
			o->len = 0;
			put8(o, hdr);
			req(o, 0, hdr, gets[i], NULL);
			/* the same again, cached, with its ETag */
			put8(o, hdr << 3 | 0x20 | 0x80);
			putstr(o, gets[i]);
			put8(o, 0);
			put8(o, 30);
			snprintf(name, sizeof(name), "get%02zu_%u", i, hdr);
			rc |= save(dir, name, o);
		}
	}
	/* writes: keyring on a keyed fleet, join, leave */
	o->len = 0;
	put8(o, 1 | 4);
	req(o, 2, 1, "/v1/agent/keyring/install",
	    "{\"Key\":\"AAAAAAAAAAAAAAAAAAAAAA==\"}");
	req(o, 2, 1, "/v1/agent/keyring/use",
	    "{\"Key\":\"AAAAAAAAAAAAAAAAAAAAAA==\"}");
	req(o, 0, 1, "/v1/agent/keyring", NULL);
	req(o, 2, 1, "/v1/agent/keyring/remove", "{\"Key\":\"" FF_KEY_B64 "\"}");
	rc |= save(dir, "put_keyring", o);
	o->len = 0;
	put8(o, 8);
	req(o, 2, 0, "/v1/agent/join?address=10.0.0.2:7946", NULL);
	req(o, 2, 0, "/v1/agent/leave", NULL);
	req(o, 0, 0, "/v1/agent/self", NULL);
	rc |= save(dir, "put_join_leave", o);
	o->len = 0;
	put8(o, 1);
	req(o, 3, 2, "/v1/members", "{}");
	put8(o, 7 | 3 << 3);
	putstr(o, "BREW");
	putstr(o, "/v1/agent/../keyring?%zz=%00&a");
	putstr(o, "wrong");
	rc |= save(dir, "odd", o);
	free(o);
	return rc;
}

int
main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr,
			"usage: fuzz_seeds AGENT_DIR HTTP_DIR "
			"WIRE_VECTORS_JSON\n");
		return 2;
	}
	mkdir(argv[1], 0777);
	mkdir(argv[2], 0777);
	int rc = capture(argv[1], "capture_join", false, 4.0);
	rc |= capture(argv[1], "capture_keyed", true, 4.0);
	rc |= capture(argv[1], "capture_long", false, 40.0);
	rc |= crafted(argv[1]);
	rc |= vectors(argv[1], argv[3]);
	rc |= http(argv[2]);
	return rc == 0 ? 0 : 1;
}
