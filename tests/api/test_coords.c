/*
 * test_coords.c - agent/coords.c without a network: the ack payload decoder
 * and its validation (bad payloads rejected and counted, never a crash),
 * the coordinate gossip message (round trip, newest wins, age kept, never
 * for a reply piggy-back or a member without the nc tag, budget), and
 * malformed gossip, fresh entries only from their owner, bad names.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/CUnit.h>

#include "api/api.h"
#include "coord/coord.h"
#include "gossip/gossip.h"
#include "gossip/proto.h"
#include "tests/api/harness.h"

static struct nc_agent_coords *
mk(const char *name, double now)
{
	struct nc_agent_coords_config cfg;
	nc_agent_coords_config_default(&cfg);
	struct nc_agent_coords *c =
	    nc_agent_coords_new(name, NULL, &cfg, now, NULL, 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	return c;
}

static size_t
payload(char *buf, size_t cap, double v0, unsigned dims)
{
	struct nc_proto_coord pc;
	memset(&pc, 0, sizeof(pc));
	pc.dims = dims;
	pc.vec[0] = v0;
	pc.error = 0.5;
	pc.height = 1e-4;
	int n = nc_proto_encode_coord(buf, cap, &pc);
	CU_ASSERT_FATAL(n > 0);
	return (size_t)n;
}

static void
member(struct nc_gossip_member *m, const char *name, bool nc)
{
	/* Meta storage (gossip owns it in a real table); at most two
	 * members are live at once in these tests. */
	static uint8_t metas[4][NC_GOSSIP_META_MAX];
	static unsigned next;
	uint8_t *meta = metas[next++ % 4];
	memset(m, 0, sizeof(*m));
	m->name = name;
	struct nc_proto_tag t[2] = {
	    {nc_proto_cstr("role"), nc_proto_cstr("x")},
	    {nc_proto_cstr("nc"), nc_proto_cstr("1")},
	};
	int n = nc_proto_encode_tags((char *)meta, NC_GOSSIP_META_MAX, t,
				     nc ? 2 : 1);
	CU_ASSERT_FATAL(n > 0);
	m->meta = meta;
	m->meta_len = (size_t)n;
}

static void
test_probe_payload_ok(void)
{
	struct nc_agent_coords *c = mk("a", 0);
	char buf[256];
	size_t n = payload(buf, sizeof(buf), 0.01, 8);
	struct nc_agent_coord_info ci;
	struct nc_agent_coords_stats st;
	CU_ASSERT_EQUAL(nc_agent_coords_get(c, 1, "b", &ci), -1);
	CU_ASSERT_EQUAL(nc_agent_coords_probe_done(c, 10, "b", 0.02, buf, n), 0);
	CU_ASSERT_EQUAL(nc_agent_coords_get(c, 12, "b", &ci), 0);
	CU_ASSERT_TRUE(ci.has_coord);
	CU_ASSERT_EQUAL(ci.source, NC_AGENT_SRC_PROBE);
	CU_ASSERT_DOUBLE_EQUAL(ci.coord->vec[0], 0.01, 1e-12);
	CU_ASSERT_DOUBLE_EQUAL(ci.age_s, 2, 1e-9);
	CU_ASSERT_DOUBLE_EQUAL(ci.measured_rtt_s, 0.02, 1e-12);
	CU_ASSERT_DOUBLE_EQUAL(ci.measured_age_s, 2, 1e-9);
	nc_agent_coords_stats(c, &st);
	CU_ASSERT_EQUAL(st.probe_updates, 1);
	CU_ASSERT_EQUAL(st.cached, 1);
	/* Self is always there, source self, age 0. */
	CU_ASSERT_EQUAL(nc_agent_coords_get(c, 12, "a", &ci), 0);
	CU_ASSERT_EQUAL(ci.source, NC_AGENT_SRC_SELF);
	CU_ASSERT_EQUAL(ci.coord->dims, 8);
	/* Our ack payload decodes as serf's. */
	n = nc_agent_coords_ack_payload(c, buf, sizeof(buf));
	CU_ASSERT(n > 0);
	struct nc_proto_coord pc;
	const char *p = buf;
	CU_ASSERT_EQUAL(nc_proto_decode_coord(&p, buf + n, &pc), 0);
	CU_ASSERT_EQUAL(pc.dims, 8);
	nc_agent_coords_delete(c);
}

static void
test_probe_payload_bad(void)
{
	struct nc_agent_coords *c = mk("a", 0);
	struct nc_agent_coords_stats st;
	struct nc_coord_stats cs;
	char buf[256];
	size_t n;
	/* Missing. */
	CU_ASSERT(nc_agent_coords_probe_done(c, 1, "b", 0.01, NULL, 0) < 0);
	/* Version byte 2. */
	n = payload(buf, sizeof(buf), 0.01, 8);
	buf[0] = 2;
	CU_ASSERT(nc_agent_coords_probe_done(c, 1, "b", 0.01, buf, n) < 0);
	/* Truncated at every length. */
	n = payload(buf, sizeof(buf), 0.01, 8);
	for (size_t k = 1; k < n; k++)
		CU_ASSERT(nc_agent_coords_probe_done(c, 1, "b", 0.01, buf, k) <
			  0);
	/* Wrong dims (serf requires 8). */
	n = payload(buf, sizeof(buf), 0.01, 4);
	CU_ASSERT(nc_agent_coords_probe_done(c, 1, "b", 0.01, buf, n) < 0);
	/* NaN, infinity, absurd values. */
	double bad[] = {NAN, INFINITY, -INFINITY, 100.0, -11.0};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		n = payload(buf, sizeof(buf), bad[i], 8);
		CU_ASSERT(nc_agent_coords_probe_done(c, 1, "b", 0.01, buf, n) <
			  0);
	}
	/* Random garbage never crashes. */
	uint64_t x = 88172645463325252ULL;
	for (int it = 0; it < 2000; it++) {
		size_t len = 1 + it % 150;
		for (size_t k = 0; k < len; k++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			buf[k] = (char)x;
		}
		buf[0] = it % 3 == 0 ? 1 : buf[0];
		nc_agent_coords_probe_done(c, 1, "b", 0.01, buf, len);
	}
	nc_agent_coords_stats(c, &st);
	CU_ASSERT_EQUAL(st.payload_missing, 1);
	CU_ASSERT(st.payload_bad_decode >= 1 + (n - 1));
	CU_ASSERT(st.payload_bad_value >= 6);
	nc_coord_client_stats(nc_agent_coords_client(c), &cs);
	CU_ASSERT_EQUAL(cs.updates, st.probe_updates);
	/* A good one still works afterwards; a bad RTT is refused by the
	 * client and counted. */
	n = payload(buf, sizeof(buf), 0.01, 8);
	CU_ASSERT_EQUAL(nc_agent_coords_probe_done(c, 2, "b", 0.01, buf, n), 0);
	CU_ASSERT(nc_agent_coords_probe_done(c, 2, "b", -1.0, buf, n) < 0);
	nc_agent_coords_stats(c, &st);
	CU_ASSERT(st.client_rejected >= 1);
	nc_agent_coords_delete(c);
}

static void
test_broadcast_targets(void)
{
	struct nc_agent_coords *c = mk("a", 0);
	struct nc_gossip_member serf, nc;
	struct nc_agent_coords_stats st;
	char buf[1400];
	member(&serf, "s", false);
	member(&nc, "n", true);
	CU_ASSERT_TRUE(nc_agent_member_is_nc(&nc));
	CU_ASSERT_FALSE(nc_agent_member_is_nc(&serf));
	/* Plenty of budget after 10 s, yet nothing for a reply piggy-back
	 * or a serf member. */
	CU_ASSERT_EQUAL(
	    nc_agent_coords_user_broadcast(c, 10, NULL, buf, sizeof(buf)), 0);
	CU_ASSERT_EQUAL(
	    nc_agent_coords_user_broadcast(c, 10, &serf, buf, sizeof(buf)), 0);
	size_t n = nc_agent_coords_user_broadcast(c, 10, &nc, buf, sizeof(buf));
	CU_ASSERT(n > 0);
	/* Shaped like a serf join intent (type 1, map). */
	CU_ASSERT_EQUAL((uint8_t)buf[0], NC_PROTO_SERF_JOIN);
	CU_ASSERT_EQUAL((uint8_t)buf[1], 0x83);
	/* Our own member's decoder sees its LTime 0. */
	const char *p = buf + 1;
	uint64_t lt = 99;
	CU_ASSERT_EQUAL(nc_proto_decode_serf_ltime(&p, buf + n, &lt), 0);
	CU_ASSERT_EQUAL(lt, 0);
	nc_agent_coords_stats(c, &st);
	CU_ASSERT_EQUAL(st.skip_no_target, 1);
	CU_ASSERT_EQUAL(st.skip_not_nc, 1);
	CU_ASSERT_EQUAL(st.gossip_msgs_out, 1);
	nc_agent_coords_delete(c);
}

static void
test_broadcast_budget(void)
{
	struct nc_agent_coords_config cfg;
	nc_agent_coords_config_default(&cfg);
	cfg.gossip_bytes_per_s = 1000;
	struct nc_agent_coords *c =
	    nc_agent_coords_new("a", NULL, &cfg, 0, NULL, 0);
	struct nc_gossip_member nc;
	char buf[1400], pl[256];
	member(&nc, "n", true);
	/* 300 peers known by probes (enough for the cap to bind). */
	for (int i = 0; i < 300; i++) {
		char name[16];
		snprintf(name, sizeof(name), "peer-%02d", i);
		size_t n = payload(pl, sizeof(pl), 0.001 * i, 8);
		nc_agent_coords_probe_done(c, 0, name, 0.01, pl, n);
	}
	/* Over 100 s at 15 offers/s, what is sent stays within the budget
	 * (1000 B/s plus the initial two-packet burst). */
	size_t total = 0, msgs = 0;
	for (int t = 0; t < 1500; t++) {
		size_t n = nc_agent_coords_user_broadcast(c, t / 15.0, &nc, buf,
							sizeof(buf));
		CU_ASSERT(n <= sizeof(buf));
		total += n;
		msgs += n > 0;
	}
	CU_ASSERT(total <= 100 * 1000 + 2 * 1400);
	CU_ASSERT(total >= 90 * 1000);
	CU_ASSERT(msgs > 0);
	CU_ASSERT(total / msgs >= 384);
	nc_agent_coords_delete(c);

	/* A small fleet (a and 2 peers): the whole table once per ~10 s. */
	c = nc_agent_coords_new("a", NULL, &cfg, 0, NULL, 0);
	for (int i = 0; i < 2; i++) {
		char name[16];
		snprintf(name, sizeof(name), "peer-%02d", i);
		size_t n = payload(pl, sizeof(pl), 0.001 * i, 8);
		nc_agent_coords_probe_done(c, 0, name, 0.01, pl, n);
	}
	total = msgs = 0;
	for (int t = 0; t < 1500; t++) {
		size_t n = nc_agent_coords_user_broadcast(c, t / 15.0, &nc, buf,
							sizeof(buf));
		total += n;
		msgs += n > 0;
	}
	CU_ASSERT(msgs >= 8 && msgs <= 12);
	CU_ASSERT(total <= 12 * (24 + 2 + 3 * 60));
	nc_agent_coords_delete(c);
}

/** Decode what a sends into b at time now. */
static void
relay(struct nc_agent_coords *a, struct nc_agent_coords *b, double now)
{
	struct nc_gossip_member to;
	char buf[1400];
	member(&to, "whatever", true);
	size_t n = nc_agent_coords_user_broadcast(a, now, &to, buf, sizeof(buf));
	CU_ASSERT_FATAL(n > 0);
	CU_ASSERT_EQUAL(nc_agent_coords_user_msg(b, now, buf, n), 1);
}

static void
test_gossip_newest_wins(void)
{
	struct nc_agent_coords *a = mk("a", 0), *b = mk("b", 0);
	struct nc_agent_coord_info ci;
	char pl[256];
	size_t n = payload(pl, sizeof(pl), 0.003, 8);
	/* a measured x at t=100; b hears about it at t=130 via a: age 30. */
	CU_ASSERT_EQUAL(nc_agent_coords_probe_done(a, 100, "x", 0.01, pl, n), 0);
	relay(a, b, 130);
	CU_ASSERT_EQUAL(nc_agent_coords_get(b, 130, "x", &ci), 0);
	CU_ASSERT_TRUE(ci.has_coord);
	CU_ASSERT_EQUAL(ci.source, NC_AGENT_SRC_GOSSIP);
	CU_ASSERT_STRING_EQUAL(ci.via, "a");
	CU_ASSERT_DOUBLE_EQUAL(ci.age_s, 30, 0.11);
	CU_ASSERT_DOUBLE_EQUAL(ci.coord->vec[0], 0.003, 1e-9);
	CU_ASSERT(isnan(ci.measured_rtt_s));
	/* a itself (age 0) came along. */
	CU_ASSERT_EQUAL(nc_agent_coords_get(b, 130, "a", &ci), 0);
	CU_ASSERT_TRUE(ci.has_coord);
	CU_ASSERT_DOUBLE_EQUAL(ci.age_s, 0, 0.11);
	/* b now probes x itself at t=140 (newer): kept over a's relay. */
	n = payload(pl, sizeof(pl), 0.005, 8);
	CU_ASSERT_EQUAL(nc_agent_coords_probe_done(b, 140, "x", 0.01, pl, n), 0);
	relay(a, b, 150); /* a's copy of x is from t=100: older */
	CU_ASSERT_EQUAL(nc_agent_coords_get(b, 150, "x", &ci), 0);
	CU_ASSERT_EQUAL(ci.source, NC_AGENT_SRC_PROBE);
	CU_ASSERT_DOUBLE_EQUAL(ci.coord->vec[0], 0.005, 1e-12);
	CU_ASSERT_DOUBLE_EQUAL(ci.age_s, 10, 1e-9);
	struct nc_agent_coords_stats st;
	nc_agent_coords_stats(b, &st);
	CU_ASSERT(st.gossip_entries_old >= 1);
	/* a probes x again at t=200: newer, b takes it. */
	n = payload(pl, sizeof(pl), 0.007, 8);
	CU_ASSERT_EQUAL(nc_agent_coords_probe_done(a, 200, "x", 0.01, pl, n), 0);
	relay(a, b, 201);
	relay(a, b, 230); /* cursor wraps around to x */
	CU_ASSERT_EQUAL(nc_agent_coords_get(b, 230, "x", &ci), 0);
	CU_ASSERT_EQUAL(ci.source, NC_AGENT_SRC_GOSSIP);
	CU_ASSERT_DOUBLE_EQUAL(ci.coord->vec[0], 0.007, 1e-8);
	CU_ASSERT_DOUBLE_EQUAL(ci.age_s, 30, 0.11);
	/* Old coordinates are not relayed (relay_max_age_s = 600). */
	nc_agent_coords_delete(b);
	b = mk("b", 0);
	relay(a, b, 1000);
	CU_ASSERT_EQUAL(nc_agent_coords_get(b, 1000, "x", &ci), -1);
	nc_agent_coords_delete(a);
	nc_agent_coords_delete(b);
}

static void
test_gossip_malformed(void)
{
	struct nc_agent_coords *a = mk("a", 0), *b = mk("b", 0);
	struct nc_gossip_member to;
	struct nc_agent_coords_stats st;
	char buf[1400], pl[256];
	member(&to, "t", true);
	size_t n = payload(pl, sizeof(pl), 0.003, 8);
	nc_agent_coords_probe_done(a, 1, "x", 0.01, pl, n);
	n = nc_agent_coords_user_broadcast(a, 50, &to, buf, sizeof(buf));
	CU_ASSERT_FATAL(n > 40);
	/* Every truncation: consumed or not ours, never a crash, never a
	 * coordinate from a partial entry. */
	for (size_t k = 0; k < n; k++)
		nc_agent_coords_user_msg(b, 6, buf, k);
	struct nc_agent_coord_info ci;
	CU_ASSERT(nc_agent_coords_get(b, 6, "x", &ci) != 0 || !ci.has_coord);
	nc_agent_coords_stats(b, &st);
	CU_ASSERT(st.gossip_msgs_bad > 0);
	/* A real serf join intent is not ours. */
	char join[64];
	struct nc_proto_serf_join j = {.ltime = 5, .node = nc_proto_cstr("q")};
	int jl = nc_proto_encode_serf_join(join, sizeof(join), &j);
	CU_ASSERT_FATAL(jl > 0);
	CU_ASSERT_EQUAL(nc_agent_coords_user_msg(b, 6, join, (size_t)jl), 0);
	/* Bit flips over the whole message. */
	for (size_t k = 0; k < n; k++) {
		char m[1400];
		memcpy(m, buf, n);
		m[k] ^= (char)0x5a;
		nc_agent_coords_user_msg(b, 7, m, n);
	}
	/* Bad values inside a well-formed message: entry rejected. */
	char m[1400];
	memcpy(m, buf, n);
	/* The first entry is a's own: its first vec float follows the
	 * 24-byte header ("a" as Node), ver, n, len, "a", age(2), flags,
	 * dims. */
	size_t off = 24 + 1 + 1 + 1 + 1 + 2 + 1 + 1;
	memset(m + off, 0x7f, 4); /* NaN */
	struct nc_agent_coords *c = mk("c", 0);
	CU_ASSERT_EQUAL(nc_agent_coords_user_msg(c, 8, m, n), 1);
	nc_agent_coords_stats(c, &st);
	CU_ASSERT_EQUAL(st.gossip_entries_bad, 1);
	CU_ASSERT_EQUAL(nc_agent_coords_get(c, 8, "a", &ci), -1);
	nc_agent_coords_delete(a);
	nc_agent_coords_delete(b);
	nc_agent_coords_delete(c);
}

static void
test_gossip_fresh_only_from_owner(void)
{
	/* Issue 9 row 12: an entry about x that claims to be fresh (age 0,
	 * or flagged "sender's own") is taken only from x itself; a
	 * coordinate from our own probe of x is never replaced by an older
	 * relayed one; names that are not clean are refused (rows 1, 9). */
	struct nc_agent_coords *x = mk("x", 0), *a = mk("a", 0),
			       *b = mk("b", 0);
	struct nc_agent_coords_stats st;
	struct nc_agent_coord_info ci;
	struct nc_gossip_member to;
	char buf[1400], m[1400], pl[256];
	member(&to, "t", true);
	/* b probes x at t=100. */
	size_t n = payload(pl, sizeof(pl), 0.005, 8);
	CU_ASSERT_EQUAL(nc_agent_coords_probe_done(b, 100, "x", 0.01, pl, n), 0);
	/* x's own message, sender renamed "m": header 01 83 a5 LTime 00
	 * a4 Node da 00 01 <name> at offset 17. */
	n = nc_agent_coords_user_broadcast(x, 101, &to, buf, sizeof(buf));
	CU_ASSERT_FATAL(n > 31);
	CU_ASSERT_EQUAL_FATAL(buf[17], 'x');
	memcpy(m, buf, n);
	m[17] = 'm';
	CU_ASSERT_EQUAL(nc_agent_coords_user_msg(b, 101, m, n), 1);
	CU_ASSERT_EQUAL(nc_agent_coords_get(b, 101, "x", &ci), 0);
	CU_ASSERT_EQUAL(ci.source, NC_AGENT_SRC_PROBE);
	CU_ASSERT_DOUBLE_EQUAL(ci.coord->vec[0], 0.005, 1e-12);
	/* Same without the flag (byte 30), age 0: refused as well. */
	m[30] = 0;
	CU_ASSERT_EQUAL(nc_agent_coords_user_msg(b, 101, m, n), 1);
	CU_ASSERT_EQUAL(nc_agent_coords_get(b, 101, "x", &ci), 0);
	CU_ASSERT_EQUAL(ci.source, NC_AGENT_SRC_PROBE);
	nc_agent_coords_stats(b, &st);
	CU_ASSERT_EQUAL(st.gossip_entries_bad, 2);
	/* From x itself it is news. */
	CU_ASSERT_EQUAL(nc_agent_coords_user_msg(b, 101, buf, n), 1);
	CU_ASSERT_EQUAL(nc_agent_coords_get(b, 101, "x", &ci), 0);
	CU_ASSERT_EQUAL(ci.source, NC_AGENT_SRC_GOSSIP);
	CU_ASSERT_DOUBLE_EQUAL(ci.age_s, 0, 1e-9);
	/* a probed x at t=199.98, b at t=200.00; a relays at t=200.05:
	 * a's copy is older than b's probe and must not replace it. */
	n = payload(pl, sizeof(pl), 0.007, 8);
	CU_ASSERT_EQUAL(nc_agent_coords_probe_done(a, 199.98, "x", 0.01, pl, n),
			0);
	n = payload(pl, sizeof(pl), 0.009, 8);
	CU_ASSERT_EQUAL(nc_agent_coords_probe_done(b, 200, "x", 0.01, pl, n), 0);
	relay(a, b, 200.05);
	CU_ASSERT_EQUAL(nc_agent_coords_get(b, 200.05, "x", &ci), 0);
	CU_ASSERT_EQUAL(ci.source, NC_AGENT_SRC_PROBE);
	CU_ASSERT_DOUBLE_EQUAL(ci.coord->vec[0], 0.009, 1e-12);
	/* A sender whose name is invalid UTF-8 or has a newline: the
	 * message is refused whole. */
	const char *bad[] = {"bad\xff\xfe", "q\n2026/01/01 [ERR] FORGED"};
	for (int i = 0; i < 2; i++) {
		struct nc_agent_coords *e = mk(bad[i], 0);
		n = nc_agent_coords_user_broadcast(e, 300, &to, buf,
						   sizeof(buf));
		CU_ASSERT_FATAL(n > 0);
		CU_ASSERT_EQUAL(nc_agent_coords_user_msg(b, 300, buf, n), 1);
		CU_ASSERT_EQUAL(nc_agent_coords_get(b, 300, bad[i], &ci), -1);
		nc_agent_coords_delete(e);
	}
	nc_agent_coords_delete(x);
	nc_agent_coords_delete(a);
	nc_agent_coords_delete(b);
}

int
nc_test_coords_register(void)
{
	CU_pSuite s = CU_add_suite("coords", NULL, NULL);
	if (s == NULL ||
	    !CU_add_test(s, "probe payload ok", test_probe_payload_ok) ||
	    !CU_add_test(s, "probe payload bad", test_probe_payload_bad) ||
	    !CU_add_test(s, "broadcast targets", test_broadcast_targets) ||
	    !CU_add_test(s, "broadcast budget", test_broadcast_budget) ||
	    !CU_add_test(s, "gossip newest wins", test_gossip_newest_wins) ||
	    !CU_add_test(s, "gossip malformed", test_gossip_malformed) ||
	    !CU_add_test(s, "gossip fresh only from owner",
			 test_gossip_fresh_only_from_owner))
		return -1;
	return 0;
}
