/*
 * test_fetch.c - the coordinate fetch of agent/coords.c (issue 12 §2) and
 * its API parameter: requests and replies between two caches wired by a
 * test transport (no gossip table: every name counts as a netcoord
 * member), the bad input of the fetch path (a request about someone else,
 * a flood of requests, a reply from a non-owner, garbage and unsolicited
 * replies), the pending table's timeout, the interest refresh, the bounded
 * cache's eviction; then in a simulated fleet (real agents): requests for
 * an unknown or a serf member are not sent, a fetch over the simulated
 * network is answered, and /v1/nearest's ?fresh-wait= is checked; and on
 * a real socket (two agents on 127.0.0.1): /v1/nearest, /v1/failover and
 * /v1/rtt are held until the candidate's coordinate came back from its
 * owner, or until fresh-wait when the owner does not answer.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <CUnit/CUnit.h>
#include <cjson/cJSON.h>

#include "agent/coords.h"
#include "api/api.h"
#include "coord/coord.h"
#include "gossip/gossip.h"
#include "gossip/proto.h"
#include "loop/loop.h"
#include "tests/api/harness.h"

/* ------------------------------------------------------------------ */
/* A test transport: the last messages sent, per cache                */
/* ------------------------------------------------------------------ */

#define NET_MAX 4096

struct msg {
	char to[64];
	char buf[512];
	size_t len;
};

struct net {
	struct msg m[NET_MAX];
	size_t n;
	/** Refuse to send (a transport error). */
	bool refuse;
};

static int
net_send(void *ctx, const char *to, const char *buf, size_t len)
{
	struct net *nt = ctx;
	if (nt->refuse)
		return -1;
	CU_ASSERT_FATAL(len <= sizeof(nt->m[0].buf));
	if (nt->n < NET_MAX) {
		struct msg *m = &nt->m[nt->n++];
		snprintf(m->to, sizeof(m->to), "%s", to);
		memcpy(m->buf, buf, len);
		m->len = len;
	}
	return 0;
}

static struct nc_agent_coords *
mk(const char *name, struct net *nt, unsigned max_entries, double reply_rate)
{
	struct nc_agent_coords_config cfg;
	nc_agent_coords_config_default(&cfg);
	if (max_entries > 0)
		cfg.max_entries = max_entries;
	if (reply_rate > 0)
		cfg.reply_rate = reply_rate;
	struct nc_agent_coords *c =
	    nc_agent_coords_new(name, NULL, &cfg, 0, NULL, 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	if (nt != NULL)
		nc_agent_coords_set_sender(c, net_send, nt);
	return c;
}

static struct nc_agent_coords_stats
stats(const struct nc_agent_coords *c)
{
	struct nc_agent_coords_stats st;
	nc_agent_coords_stats(c, &st);
	return st;
}

/** A coordinate for @a peer in @a c, as a probe ack would bring it. */
static void
probe(struct nc_agent_coords *c, double now, const char *peer, double v0)
{
	struct nc_proto_coord pc;
	char buf[256];
	memset(&pc, 0, sizeof(pc));
	pc.dims = 8;
	pc.vec[0] = v0;
	pc.error = 0.5;
	pc.height = 1e-4;
	int n = nc_proto_encode_coord(buf, sizeof(buf), &pc);
	CU_ASSERT_FATAL(n > 0);
	CU_ASSERT_EQUAL(
	    nc_agent_coords_probe_done(c, now, peer, 0.02, buf, (size_t)n), 0);
}

static void
put16(char *p, size_t v)
{
	p[0] = (char)(v >> 8);
	p[1] = (char)v;
}

/**
 * A coordinate message from @a sender with payload @a pl (pl_len bytes),
 * shaped as docs/WIRE.md §5 says. Returns its length.
 */
static size_t
wire(char *out, const char *sender, const char *pl, size_t pl_len)
{
	size_t o = 0, sl = strlen(sender);
	out[o++] = 0x01;
	out[o++] = (char)0x83;
	out[o++] = (char)0xa5;
	memcpy(out + o, "LTime", 5);
	o += 5;
	out[o++] = 0x00;
	out[o++] = (char)0xa4;
	memcpy(out + o, "Node", 4);
	o += 4;
	out[o++] = (char)0xda;
	put16(out + o, sl);
	o += 2;
	memcpy(out + o, sender, sl);
	o += sl;
	out[o++] = (char)0xa2;
	out[o++] = 'N';
	out[o++] = 'C';
	out[o++] = (char)0xda;
	put16(out + o, pl_len);
	o += 2;
	memcpy(out + o, pl, pl_len);
	return o + pl_len;
}

/** A fetch request payload asking @a owner. */
static size_t
req_payload(char *pl, const char *owner)
{
	size_t nl = strlen(owner);
	pl[0] = 2;
	pl[1] = 1;
	pl[2] = (char)nl;
	memcpy(pl + 3, owner, nl);
	return 3 + nl;
}

static void
put_f32(char *p, float f)
{
	uint32_t u;
	memcpy(&u, &f, 4);
	p[0] = (char)(u >> 24);
	p[1] = (char)(u >> 16);
	p[2] = (char)(u >> 8);
	p[3] = (char)u;
}

/** A fetch reply payload: one entry about @a name (age, own flag). */
static size_t
reply_payload(char *pl, const char *name, unsigned age_ds, bool own, float v0)
{
	size_t o = 0, nl = strlen(name);
	pl[o++] = 3;
	pl[o++] = 1;
	pl[o++] = (char)nl;
	memcpy(pl + o, name, nl);
	o += nl;
	put16(pl + o, age_ds);
	o += 2;
	pl[o++] = own ? 1 : 0;
	pl[o++] = 8;
	for (int i = 0; i < 8; i++, o += 4)
		put_f32(pl + o, i == 0 ? v0 : 0.0f);
	put_f32(pl + o, 0.5f);	  /* error */
	put_f32(pl + o + 4, 0);	  /* adjustment */
	put_f32(pl + o + 8, 1e-4f); /* height */
	return o + 12;
}

static int
deliver(struct nc_agent_coords *c, double now, const char *sender,
	const char *pl, size_t pl_len)
{
	char buf[1024];
	size_t len = wire(buf, sender, pl, pl_len);
	return nc_agent_coords_user_msg(c, now, buf, len);
}

/* ------------------------------------------------------------------ */
/* Two caches                                                         */
/* ------------------------------------------------------------------ */

/* a fetches b's coordinate: request sent to b, b answers, a accepts it
 * as fresh (age 0, from its owner). */
static void
test_fetch_round_trip(void)
{
	struct net na = {0}, nb = {0};
	struct nc_agent_coords *a = mk("a", &na, 0, 0);
	struct nc_agent_coords *b = mk("b", &nb, 0, 0);
	const char *names[] = {"b", "a"};
	struct nc_agent_coords_fetch_result r;
	/* a holds an old coordinate of b (from a probe at t=0). */
	probe(a, 0, "b", 0.001);
	unsigned w = nc_agent_coords_fetch(a, 100, names, 2, 30, &r);
	CU_ASSERT_EQUAL(w, 1);
	CU_ASSERT_EQUAL(r.fresh, 1); /* a itself */
	CU_ASSERT_EQUAL(r.pending, 1);
	CU_ASSERT_EQUAL(na.n, 1);
	CU_ASSERT_STRING_EQUAL(na.m[0].to, "b");
	/* Asked again while pending: nothing new is sent. */
	CU_ASSERT_EQUAL(nc_agent_coords_fetch(a, 100.1, names, 2, 30, &r), 1);
	CU_ASSERT_EQUAL(na.n, 1);
	/* b answers with its own coordinate. */
	CU_ASSERT_EQUAL(
	    nc_agent_coords_user_msg(b, 100.1, na.m[0].buf, na.m[0].len), 1);
	CU_ASSERT_EQUAL(stats(b).fetch_reply_out, 1);
	CU_ASSERT_EQUAL_FATAL(nb.n, 1);
	CU_ASSERT_STRING_EQUAL(nb.m[0].to, "a");
	CU_ASSERT_EQUAL(
	    nc_agent_coords_user_msg(a, 100.2, nb.m[0].buf, nb.m[0].len), 1);
	struct nc_agent_coords_stats st = stats(a);
	CU_ASSERT_EQUAL(st.fetch_req_out, 1);
	CU_ASSERT_EQUAL(st.fetch_reply_in, 1);
	struct nc_agent_coord_info ci;
	CU_ASSERT_EQUAL(nc_agent_coords_get(a, 100.5, "b", &ci), 0);
	CU_ASSERT_TRUE(ci.has_coord);
	CU_ASSERT_DOUBLE_EQUAL(ci.age_s, 0.3, 1e-9);
	CU_ASSERT_STRING_EQUAL(ci.via, "b");
	/* Now fresh: nothing to wait for, nothing sent. */
	CU_ASSERT_EQUAL(nc_agent_coords_fetch(a, 101, names, 2, 30, &r), 0);
	CU_ASSERT_EQUAL(r.fresh, 2);
	CU_ASSERT_EQUAL(na.n, 1);
	/* A second reply is unsolicited now. */
	CU_ASSERT_EQUAL(
	    nc_agent_coords_user_msg(a, 101, nb.m[0].buf, nb.m[0].len), 1);
	CU_ASSERT_EQUAL(stats(a).fetch_reply_unsolicited, 1);
	nc_agent_coords_delete(a);
	nc_agent_coords_delete(b);
}

/* A request naming someone else, malformed requests, and a flood. */
static void
test_fetch_request_bad_and_flood(void)
{
	struct net nb = {0};
	struct nc_agent_coords *b = mk("b", &nb, 0, 10);
	char pl[300];
	/* About someone else: dropped, nothing sent. */
	CU_ASSERT_EQUAL(deliver(b, 1, "a", pl, req_payload(pl, "c")), 1);
	CU_ASSERT_EQUAL(stats(b).fetch_req_not_owner, 1);
	/* Malformed: no names, truncated name, trailing bytes, no sender. */
	pl[0] = 2;
	pl[1] = 0;
	CU_ASSERT_EQUAL(deliver(b, 1, "a", pl, 2), 1);
	size_t n = req_payload(pl, "b");
	CU_ASSERT_EQUAL(deliver(b, 1, "a", pl, n - 1), 1);
	pl[n] = 'x';
	CU_ASSERT_EQUAL(deliver(b, 1, "a", pl, n + 1), 1);
	CU_ASSERT_EQUAL(stats(b).fetch_req_bad, 3);
	/* Without a sender name: a malformed message. */
	CU_ASSERT_EQUAL(deliver(b, 1, "", pl, n), 1);
	CU_ASSERT_EQUAL(stats(b).gossip_msgs_bad, 1);
	CU_ASSERT_EQUAL(nb.n, 0);
	/* One requester flooding: one reply per 0.5 s. */
	for (int i = 0; i < 1000; i++)
		deliver(b, 2 + i * 0.001, "a", pl, n);
	CU_ASSERT_EQUAL(stats(b).fetch_reply_out, 2);
	/* 1,000 requesters at once: the reply budget (10/s, one second's
	 * burst) binds. */
	unsigned before = (unsigned)nb.n;
	for (int i = 0; i < 1000; i++) {
		char who[16];
		snprintf(who, sizeof(who), "r%04d", i);
		deliver(b, 10, who, pl, n);
	}
	CU_ASSERT(nb.n - before <= 10);
	CU_ASSERT(nb.n - before >= 9);
	struct nc_agent_coords_stats st = stats(b);
	CU_ASSERT_EQUAL(st.fetch_reply_out, nb.n);
	CU_ASSERT(st.fetch_req_budget >= 1000 - 10 + 998 - 2);
	/* A second later the budget is back, for 10 more. */
	before = (unsigned)nb.n;
	for (int i = 0; i < 100; i++) {
		char who[16];
		snprintf(who, sizeof(who), "s%04d", i);
		deliver(b, 11, who, pl, n);
	}
	CU_ASSERT_EQUAL(nb.n - before, 10);
	nc_agent_coords_delete(b);
}

/* Replies: from a non-owner, garbage, bad values, unsolicited. None
 * changes the cache. */
static void
test_fetch_reply_bad(void)
{
	struct net na = {0};
	struct nc_agent_coords *a = mk("a", &na, 0, 0);
	const char *names[] = {"b"};
	char pl[400];
	struct nc_agent_coord_info ci;
	/* Unsolicited (nothing pending for b). */
	CU_ASSERT_EQUAL(deliver(a, 1, "b", pl,
				reply_payload(pl, "b", 0, true, 0.01f)),
			1);
	CU_ASSERT_EQUAL(stats(a).fetch_reply_unsolicited, 1);
	CU_ASSERT_EQUAL(nc_agent_coords_get(a, 1, "b", &ci), -1);
	/* Now pending. */
	CU_ASSERT_EQUAL(nc_agent_coords_fetch(a, 2, names, 1, 30, NULL), 1);
	/* From c about b: not the owner. */
	CU_ASSERT_EQUAL(deliver(a, 2.1, "c", pl,
				reply_payload(pl, "b", 0, true, 0.01f)),
			1);
	CU_ASSERT_EQUAL(stats(a).fetch_reply_not_owner, 1);
	/* Garbage: aged, not flagged own, NaN, out of range, two entries,
	 * truncated, empty, trailing bytes. */
	size_t n;
	deliver(a, 2.1, "b", pl, reply_payload(pl, "b", 5, true, 0.01f));
	deliver(a, 2.1, "b", pl, reply_payload(pl, "b", 0, false, 0.01f));
	deliver(a, 2.1, "b", pl, reply_payload(pl, "b", 0, true, NAN));
	deliver(a, 2.1, "b", pl, reply_payload(pl, "b", 0, true, 1e6f));
	n = reply_payload(pl, "b", 0, true, 0.01f);
	pl[1] = 2;
	deliver(a, 2.1, "b", pl, n);
	pl[1] = 1;
	deliver(a, 2.1, "b", pl, n - 3);
	deliver(a, 2.1, "b", pl, 1);
	pl[n] = 0;
	deliver(a, 2.1, "b", pl, n + 1);
	CU_ASSERT_EQUAL(stats(a).fetch_reply_bad, 8);
	/* Random bytes after the kind byte: never accepted, never a crash. */
	uint64_t x = 12345;
	for (int i = 0; i < 2000; i++) {
		size_t len = 1 + (size_t)(i % 120);
		pl[0] = 3;
		for (size_t k = 1; k < len; k++) {
			x = x * 6364136223846793005ull + 1442695040888963407ull;
			pl[k] = (char)(x >> 56);
		}
		deliver(a, 2.2, "b", pl, len);
	}
	CU_ASSERT_EQUAL(nc_agent_coords_get(a, 2.5, "b", &ci), 0);
	CU_ASSERT_FALSE(ci.has_coord);
	CU_ASSERT_EQUAL(stats(a).fetch_reply_in, 0);
	/* The right reply is still taken. */
	CU_ASSERT_EQUAL(deliver(a, 2.5, "b", pl,
				reply_payload(pl, "b", 0, true, 0.01f)),
			1);
	CU_ASSERT_EQUAL(stats(a).fetch_reply_in, 1);
	CU_ASSERT_EQUAL(nc_agent_coords_get(a, 2.5, "b", &ci), 0);
	CU_ASSERT_TRUE(ci.has_coord);
	CU_ASSERT_DOUBLE_EQUAL(ci.coord->vec[0], 0.01, 1e-6);
	nc_agent_coords_delete(a);
}

/* Request budget, pending timeout, transport refusal, fetching off. */
static void
test_fetch_budget_timeout(void)
{
	struct net na = {0};
	struct nc_agent_coords *a = mk("a", &na, 0, 0);
	enum { N = 500 };
	static char nm[N][16];
	const char *names[N];
	for (int i = 0; i < N; i++) {
		snprintf(nm[i], sizeof(nm[i]), "m%03d", i);
		names[i] = nm[i];
	}
	struct nc_agent_coords_fetch_result r;
	/* 200 requests/s, two seconds' burst: 400 now, 100 deferred. */
	CU_ASSERT_EQUAL(nc_agent_coords_fetch(a, 1, names, N, 30, &r), N);
	CU_ASSERT_EQUAL(r.pending, 400);
	CU_ASSERT_EQUAL(r.deferred, 100);
	CU_ASSERT_EQUAL(na.n, 400);
	CU_ASSERT_EQUAL(stats(a).fetch_skip_budget, 100);
	/* Half a second later, 100 more. */
	CU_ASSERT_EQUAL(nc_agent_coords_fetch(a, 1.5, names, N, 30, &r), N);
	CU_ASSERT_EQUAL(r.pending, N);
	CU_ASSERT_EQUAL(na.n, 500);
	/* Nobody answers: after the 1 s timeout the first 400 are
	 * forgotten and counted; the background refresh keeps half the
	 * bucket for queries (120 tokens back: no refetch yet). */
	nc_agent_coords_fetch_tick(a, 2.1);
	struct nc_agent_coords_stats st = stats(a);
	CU_ASSERT_EQUAL(st.fetch_timeouts, 400);
	CU_ASSERT_EQUAL(st.refetches, 0);
	/* Then the last 100; with 220 tokens, 20 are asked again (the
	 * names are interesting and still without a coordinate). */
	nc_agent_coords_fetch_tick(a, 2.6);
	st = stats(a);
	CU_ASSERT_EQUAL(st.fetch_timeouts, 500);
	CU_ASSERT_EQUAL(st.refetches, 20);
	CU_ASSERT_EQUAL(na.n, 520);
	/* A reply nobody asked for is unsolicited. */
	char pl[400];
	deliver(a, 2.7, "zz", pl, reply_payload(pl, "zz", 0, true, 0.01f));
	CU_ASSERT_EQUAL(stats(a).fetch_reply_unsolicited, 1);
	/* The transport refuses: counted as unusable, not pending. */
	na.refuse = true;
	const char *other[] = {"xx"};
	CU_ASSERT_EQUAL(nc_agent_coords_fetch(a, 10, other, 1, 30, &r), 0);
	CU_ASSERT_EQUAL(r.unusable, 1);
	CU_ASSERT_EQUAL(stats(a).fetch_skip_unusable, 1);
	nc_agent_coords_delete(a);
	/* No sender: fetching is off, nothing waits. */
	struct nc_agent_coords *z = mk("z", NULL, 0, 0);
	CU_ASSERT_EQUAL(nc_agent_coords_fetch(z, 1, names, 3, 30, &r), 0);
	CU_ASSERT_EQUAL(r.unusable, 3);
	nc_agent_coords_delete(z);
}

/* Interest: a fetched name is refetched in the background while its
 * coordinate ages past 20 s, until 300 s after the last query. */
static void
test_fetch_interest_refresh(void)
{
	struct net na = {0};
	struct nc_agent_coords *a = mk("a", &na, 0, 0);
	const char *names[] = {"b"};
	char pl[400];
	size_t len = reply_payload(pl, "b", 0, true, 0.01f);
	CU_ASSERT_EQUAL(nc_agent_coords_fetch(a, 1, names, 1, 30, NULL), 1);
	deliver(a, 1.1, "b", pl, len);
	CU_ASSERT_EQUAL(stats(a).interesting, 1);
	/* 10 s old: not yet. */
	nc_agent_coords_fetch_tick(a, 11);
	CU_ASSERT_EQUAL(na.n, 1);
	/* 21 s old: refetched. */
	nc_agent_coords_fetch_tick(a, 22);
	CU_ASSERT_EQUAL(na.n, 2);
	CU_ASSERT_EQUAL(stats(a).refetches, 1);
	deliver(a, 22.1, "b", pl, len);
	struct nc_agent_coord_info ci;
	CU_ASSERT_EQUAL(nc_agent_coords_get(a, 30, "b", &ci), 0);
	CU_ASSERT(ci.age_s < 8);
	/* Past the interest (300 s after the query at t=1): dropped, no
	 * more refetches. */
	nc_agent_coords_fetch_tick(a, 302);
	CU_ASSERT_EQUAL(stats(a).interesting, 0);
	size_t sent = na.n;
	nc_agent_coords_fetch_tick(a, 330);
	CU_ASSERT_EQUAL(na.n, sent);
	nc_agent_coords_delete(a);
}

/* Interesting entries lead the gossip message. */
static void
test_fetch_interest_leads_gossip(void)
{
	struct net na = {0};
	struct nc_agent_coords *a = mk("a", &na, 0, 0);
	char name[16], buf[1400];
	for (int i = 0; i < 100; i++) {
		snprintf(name, sizeof(name), "m%03d", i);
		probe(a, 1, name, 0.001 * i);
	}
	const char *names[] = {"m077"};
	nc_agent_coords_fetch(a, 2, names, 1, 30, NULL);
	struct nc_gossip_member to;
	memset(&to, 0, sizeof(to));
	to.name = "zz";
	uint8_t meta[64];
	struct nc_proto_tag t[1] = {{nc_proto_cstr("nc"), nc_proto_cstr("1")}};
	int ml = nc_proto_encode_tags((char *)meta, sizeof(meta), t, 1);
	CU_ASSERT_FATAL(ml > 0);
	to.meta = meta;
	to.meta_len = (size_t)ml;
	/* Small messages (the budget): each carries m077 after our own. */
	for (int k = 0; k < 5; k++) {
		size_t len = nc_agent_coords_user_broadcast(a, 100 + k * 10,
							    &to, buf, 400);
		CU_ASSERT_FATAL(len > 0);
		/* Our entry first ("a", own), then the interesting one. */
		const char *p = memchr(buf, 'C', 64);
		CU_ASSERT_FATAL(p != NULL);
		const char *pl = p + 1 + 3; /* da len16 */
		CU_ASSERT_EQUAL(pl[0], 1);
		size_t o = 2 + 1 + 1 + 2 + 1 + 1 + 32 + 12; /* entry "a" */
		CU_ASSERT_EQUAL(pl[o], 4);
		CU_ASSERT_EQUAL(memcmp(pl + o + 1, "m077", 4), 0);
	}
	nc_agent_coords_delete(a);
}

/* The cache is bounded: at the cap the oldest entry goes, never an
 * interesting one. */
static void
test_fetch_cache_eviction(void)
{
	struct net na = {0};
	struct nc_agent_coords *a = mk("a", &na, 16, 0);
	char name[16];
	for (int i = 0; i < 16; i++) {
		snprintf(name, sizeof(name), "m%02d", i);
		probe(a, 10 + i, name, 0.001);
	}
	CU_ASSERT_EQUAL(stats(a).cached, 16);
	/* m00 (oldest) is interesting: kept. */
	const char *names[] = {"m00"};
	nc_agent_coords_fetch(a, 30, names, 1, 1000, NULL);
	probe(a, 40, "new1", 0.002);
	struct nc_agent_coord_info ci;
	CU_ASSERT_EQUAL(nc_agent_coords_get(a, 40, "new1", &ci), 0);
	CU_ASSERT_EQUAL(nc_agent_coords_get(a, 40, "m00", &ci), 0);
	CU_ASSERT_EQUAL(nc_agent_coords_get(a, 40, "m01", &ci), -1);
	probe(a, 41, "new2", 0.002);
	CU_ASSERT_EQUAL(nc_agent_coords_get(a, 41, "m02", &ci), -1);
	CU_ASSERT_EQUAL(nc_agent_coords_get(a, 41, "m03", &ci), 0);
	struct nc_agent_coords_stats st = stats(a);
	CU_ASSERT_EQUAL(st.evicted, 2);
	CU_ASSERT_EQUAL(st.cached, 16);
	nc_agent_coords_delete(a);
}

/* ------------------------------------------------------------------ */
/* Real agents in the simulator                                       */
/* ------------------------------------------------------------------ */

static const struct th_spec fetch_spec[] = {
    {"f0", 0, 0, "dc=a", true},
    {"f1", 10, 0, "dc=a,service=web", true},
    {"f2", 0, 20, "dc=b,service=web", true},
    {"s0", 5, 5, "dc=a,service=web", false},
};
#define FETCH_N ((int)(sizeof(fetch_spec) / sizeof(fetch_spec[0])))

static void
test_fetch_fleet(void)
{
	struct th_fleet *f = th_fleet_new(21, fetch_spec, FETCH_N);
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	sim_run_until(f->w, 20);
	struct nc_agent_coords *c = f->node[0].coords;
	struct nc_agent_coords_fetch_result r;
	struct nc_agent_coords_stats st0 = stats(c);
	/* Unknown name and a serf member: not sent. */
	const char *bad[] = {"nosuch", "s0"};
	CU_ASSERT_EQUAL(nc_agent_coords_fetch(c, th_now(f), bad, 2, 0, &r), 0);
	CU_ASSERT_EQUAL(r.unusable, 2);
	CU_ASSERT_EQUAL(stats(c).fetch_req_out, st0.fetch_req_out);
	/* Requests from a non-member or a serf member: not answered. */
	struct nc_agent_coords *c2 = f->node[2].coords;
	char pl[300];
	size_t pn = req_payload(pl, "f2");
	deliver(c2, th_now(f), "ghost", pl, pn);
	deliver(c2, th_now(f), "s0", pl, pn);
	CU_ASSERT_EQUAL(stats(c2).fetch_req_not_member, 2);
	CU_ASSERT_EQUAL(stats(c2).fetch_reply_out, 0);
	/* A netcoord member, even with a fresh coordinate asked as if it
	 * were stale (fresh_age 0): fetched over the simulated network. */
	const char *good[] = {"f2"};
	CU_ASSERT_EQUAL(nc_agent_coords_fetch(c, th_now(f), good, 1, 0, &r),
			1);
	CU_ASSERT_EQUAL(r.pending, 1);
	sim_run_until(f->w, th_now(f) + 0.5);
	struct nc_agent_coords_stats st = stats(c);
	CU_ASSERT_EQUAL(st.fetch_req_out, st0.fetch_req_out + 1);
	CU_ASSERT_EQUAL(st.fetch_reply_in, st0.fetch_reply_in + 1);
	CU_ASSERT_EQUAL(stats(f->node[2].coords).fetch_reply_out, 1);
	/* The serf member never got a coordinate message. */
	CU_ASSERT_EQUAL(f->node[3].nc_msgs_seen, 0);

	/* The API: ?fresh-wait= checked and named. */
	struct nc_api_config cfg;
	char err[256];
	nc_api_config_default(&cfg);
	struct nc_api *api =
	    nc_api_new(NULL, f->node[0].agent, &cfg, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(api);
	nc_api_set_clock(api, th_clock, f);
	char *body = NULL;
	CU_ASSERT_EQUAL(th_req(api, "GET", "/v1/nearest?fresh-wait=x", NULL,
			       NULL, &body, NULL),
			400);
	CU_ASSERT_PTR_NOT_NULL(strstr(body, "fresh-wait"));
	free(body);
	body = NULL;
	CU_ASSERT_EQUAL(th_req(api, "GET", "/v1/failover?group=dc&fresh-wait=11s",
			       NULL, NULL, &body, NULL),
			400);
	CU_ASSERT_PTR_NOT_NULL(strstr(body, "fresh-wait"));
	free(body);
	cJSON *j = NULL;
	CU_ASSERT_EQUAL(th_req(api, "GET",
			       "/v1/nearest?tag=service:web&fresh-wait=0", NULL,
			       NULL, NULL, &j),
			200);
	CU_ASSERT_EQUAL(cJSON_GetArraySize(cJSON_GetObjectItem(j, "Nodes")), 3);
	cJSON_Delete(j);
	body = NULL;
	CU_ASSERT_EQUAL(
	    th_req(api, "GET", "/metrics", NULL, NULL, &body, NULL), 200);
	CU_ASSERT_PTR_NOT_NULL(strstr(body, "netcoord_fresh_queries_total 1"));
	CU_ASSERT_PTR_NOT_NULL(
	    strstr(body, "netcoord_coord_fetch_requests_sent_total 1"));
	free(body);
	nc_api_delete(api);
	th_fleet_delete(f);
}

/* ------------------------------------------------------------------ */
/* On a socket: the request is held until fresh                       */
/* ------------------------------------------------------------------ */

/** GET @a path on 127.0.0.1:@a port while running the loops (env2 only
 * if @a run2); the status, body in @a buf, the time it took. */
static int
get_running(unsigned port, const char *path, struct nc_env *e1,
	    struct nc_env *e2, bool run2, char *buf, size_t cap, double *took)
{
	int fd = th_http_get_open(port, path);
	double t0 = th_mono_s();
	size_t got = 0;
	bool done = false;
	while (!done && th_mono_s() - t0 < 10) {
		nc_env_real_run_once(e1, 0.005);
		if (run2)
			nc_env_real_run_once(e2, 0.0);
		for (;;) {
			ssize_t r = recv(fd, buf + got, cap - 1 - got, 0);
			if (r > 0) {
				got += (size_t)r;
				continue;
			}
			if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
				break;
			done = true;
			break;
		}
	}
	*took = th_mono_s() - t0;
	close(fd);
	buf[got] = '\0';
	int status = 0;
	sscanf(buf, "HTTP/1.%*d %d", &status);
	return status;
}

static void
test_fetch_held_on_socket(void)
{
	struct nc_env *e1 = th_env_real_new(), *e2 = th_env_real_new();
	char addr[64], err[128], buf[8192], *body = NULL;
	struct nc_addr a1;
	nc_env_real_local_addr(e1, &a1);
	nc_addr_format(&a1, addr, sizeof(addr));
	struct nc_agent *x = th_real_agent_new(e1, "fx", NULL);
	struct nc_agent *y = th_real_agent_new(e2, "fy", addr);
	struct nc_api_config ac;
	nc_api_config_default(&ac);
	nc_addr_parse("127.0.0.1:0", 0, &ac.addr);
	struct nc_api *api = nc_api_new(e1, x, &ac, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(api);
	unsigned port = nc_api_port(api);
	struct nc_agent_coords *c = nc_agent_coords(x);
	/* Until fx holds fy's coordinate. */
	struct nc_agent_coord_info ci;
	double t0 = th_mono_s();
	while (th_mono_s() - t0 < 10 &&
	       !(nc_agent_coords_get(c, nc_agent_env(x)->ops->now(
					    nc_agent_env(x)),
				     "fy", &ci) == 0 &&
		 ci.has_coord)) {
		nc_env_real_run_once(e1, 0.005);
		nc_env_real_run_once(e2, 0.0);
	}
	CU_ASSERT_TRUE_FATAL(ci.has_coord);
	/* fx forgets it (as if it had never been gossiped to it); the
	 * query fetches it from fy and holds until it is back. */
	nc_agent_coords_member_reaped(c, "fy");
	double took;
	int st = get_running(port, "/v1/nearest?fresh-wait=2s", e1, e2, true,
			     buf, sizeof(buf), &took);
	CU_ASSERT_EQUAL(st, 200);
	fprintf(stderr, "\n    held %.3f s until fresh", took);
	CU_ASSERT(took < 1.5);
	const char *j = strstr(buf, "\r\n\r\n");
	CU_ASSERT_PTR_NOT_NULL_FATAL(j);
	cJSON *doc = cJSON_Parse(j + 4);
	cJSON *n0 = cJSON_GetArrayItem(cJSON_GetObjectItem(doc, "Nodes"), 0);
	CU_ASSERT_STRING_EQUAL(
	    cJSON_GetStringValue(cJSON_GetObjectItem(n0, "Name")), "fy");
	const cJSON *age = cJSON_GetObjectItem(n0, "AgeS");
	CU_ASSERT_TRUE(cJSON_IsNumber(age) && age->valuedouble < 2);
	cJSON_Delete(doc);
	doc = NULL;
	CU_ASSERT_EQUAL(
	    th_req(api, "GET", "/metrics", NULL, NULL, &body, NULL), 200);
	CU_ASSERT_PTR_NOT_NULL(strstr(body, "netcoord_fresh_held_total 1"));
	CU_ASSERT_PTR_NOT_NULL(strstr(
	    body, "netcoord_fresh_released_total{outcome=\"fresh\"} 1"));
	free(body);
	body = NULL;

	/* Failover the same way (group by the nc tag: one group). */
	nc_agent_coords_member_reaped(c, "fy");
	st = get_running(port, "/v1/failover?group=nc&fresh-wait=2s", e1, e2,
			 true, buf, sizeof(buf), &took);
	CU_ASSERT_EQUAL(st, 200);
	CU_ASSERT(took < 1.5);
	j = strstr(buf, "\r\n\r\n");
	CU_ASSERT_PTR_NOT_NULL_FATAL(j);
	doc = cJSON_Parse(j + 4);
	cJSON *g0 = cJSON_GetArrayItem(cJSON_GetObjectItem(doc, "Groups"), 0);
	CU_ASSERT_TRUE(cJSON_IsNumber(cJSON_GetObjectItem(g0, "MedianMs")));
	cJSON_Delete(doc);
	CU_ASSERT_EQUAL(
	    th_req(api, "GET", "/metrics", NULL, NULL, &body, NULL), 200);
	CU_ASSERT_PTR_NOT_NULL(strstr(body, "netcoord_fresh_held_total 2"));
	free(body);
	body = NULL;

	/* /v1/rtt for the pair. */
	nc_agent_coords_member_reaped(c, "fy");
	st = get_running(port, "/v1/rtt?to=fy&fresh-wait=2s", e1, e2, true,
			 buf, sizeof(buf), &took);
	CU_ASSERT_EQUAL(st, 200);
	CU_ASSERT(took < 1.5);
	j = strstr(buf, "\r\n\r\n");
	CU_ASSERT_PTR_NOT_NULL_FATAL(j);
	doc = cJSON_Parse(j + 4);
	CU_ASSERT_TRUE(cJSON_IsNumber(cJSON_GetObjectItem(doc, "EstimatedMs")));
	cJSON_Delete(doc);
	CU_ASSERT_EQUAL(
	    th_req(api, "GET", "/metrics", NULL, NULL, &body, NULL), 200);
	CU_ASSERT_PTR_NOT_NULL(strstr(body, "netcoord_fresh_held_total 3"));
	free(body);
	body = NULL;

	/* fy stops answering (its loop is not run): the request is held
	 * until fresh-wait, then answered from what is cached. */
	nc_agent_coords_member_reaped(c, "fy");
	st = get_running(port, "/v1/nearest?fresh-wait=500ms", e1, e2, false,
			 buf, sizeof(buf), &took);
	CU_ASSERT_EQUAL(st, 200);
	fprintf(stderr, "; owner silent: answered after %.3f s", took);
	CU_ASSERT(took >= 0.45 && took < 1.5);
	CU_ASSERT_EQUAL(
	    th_req(api, "GET", "/metrics", NULL, NULL, &body, NULL), 200);
	CU_ASSERT_PTR_NOT_NULL(strstr(
	    body, "netcoord_fresh_released_total{outcome=\"fresh_wait\"} 1"));
	free(body);

	nc_api_delete(api);
	nc_agent_delete(x);
	nc_agent_delete(y);
	nc_env_real_delete(e1);
	nc_env_real_delete(e2);
}

int
nc_test_fetch_register(void)
{
	CU_pSuite s = CU_add_suite("coord_fetch", NULL, NULL);
	if (s == NULL)
		return -1;
	if (CU_add_test(s, "round trip", test_fetch_round_trip) == NULL ||
	    CU_add_test(s, "bad requests and a flood",
			test_fetch_request_bad_and_flood) == NULL ||
	    CU_add_test(s, "bad replies", test_fetch_reply_bad) == NULL ||
	    CU_add_test(s, "budget and timeout", test_fetch_budget_timeout) ==
		NULL ||
	    CU_add_test(s, "interest refresh", test_fetch_interest_refresh) ==
		NULL ||
	    CU_add_test(s, "interest leads gossip",
			test_fetch_interest_leads_gossip) == NULL ||
	    CU_add_test(s, "cache eviction", test_fetch_cache_eviction) ==
		NULL ||
	    CU_add_test(s, "fleet", test_fetch_fleet) == NULL ||
	    CU_add_test(s, "held on a socket", test_fetch_held_on_socket) ==
		NULL)
		return -1;
	return 0;
}
