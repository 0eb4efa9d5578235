/*
 * tests/agent/test_serf_relay.c - agent/serf_relay.c and serf_query.c: a
 * netcoord agent rebroadcasts serf join/leave intents the way serf does
 * (only newer ones (LTime) per node, never about itself, each a bounded
 * number of times), user events and queries with serf's dedup buffers
 * and clocks, within fixed bounds, refusing hostile fields; and answers
 * queries as serf does (acks, relays, _serf_* internal queries), checked
 * message by message with fake agent ops.
 */
#include <CUnit/Basic.h>
#include <stdio.h>
#include <string.h>

#include "agent/serf_query.h"
#include "agent/serf_relay.h"
#include "gossip/proto.h"

static size_t
leave_msg(char *buf, size_t cap, const char *node, uint64_t lt)
{
	struct nc_proto_serf_leave m = {.ltime = lt,
					.node = nc_proto_cstr(node)};
	int n = nc_proto_encode_serf_leave(buf, cap, &m);
	CU_ASSERT_FATAL(n > 0);
	return (size_t)n;
}

static size_t
join_msg(char *buf, size_t cap, const char *node, uint64_t lt)
{
	struct nc_proto_serf_join m = {.ltime = lt,
				       .node = nc_proto_cstr(node)};
	int n = nc_proto_encode_serf_join(buf, cap, &m);
	CU_ASSERT_FATAL(n > 0);
	return (size_t)n;
}

static struct nc_agent_serf_relay r;

static void
test_relay_rules(void)
{
	char m[128], out[256];
	nc_agent_serf_relay_destroy(&r);
	memset(&r, 0, sizeof(r));
	r.self = "me";
	size_t n = leave_msg(m, sizeof(m), "s1", 5);
	CU_ASSERT_EQUAL(nc_agent_serf_relay_on_msg(&r, m, n, 2), 1);
	/* Same or older LTime: old news. */
	CU_ASSERT_EQUAL(nc_agent_serf_relay_on_msg(&r, m, n, 2), 0);
	n = join_msg(m, sizeof(m), "s1", 4);
	CU_ASSERT_EQUAL(nc_agent_serf_relay_on_msg(&r, m, n, 2), 0);
	/* About ourselves: never relayed. */
	n = leave_msg(m, sizeof(m), "me", 9);
	CU_ASSERT_EQUAL(nc_agent_serf_relay_on_msg(&r, m, n, 2), 0);
	/* Not relayed (a query response, type 5): ignored. (Type 3, a user
	 * event, is relayed since issue 11: test_events.) */
	m[0] = NC_PROTO_SERF_QUERY_RESPONSE;
	CU_ASSERT_EQUAL(nc_agent_serf_relay_on_msg(&r, m, n, 2), 0);
	/* A newer join for another node. */
	size_t j = join_msg(m, sizeof(m), "n2", 1);
	CU_ASSERT_EQUAL(nc_agent_serf_relay_on_msg(&r, m, j, 1), 1);

	/* 2 + 1 transmissions in all, then nothing (a 0 ends a pass: one
	 * packet carries a message once). */
	int leaves = 0, joins = 0;
	for (int i = 0; i < 6; i++) {
		size_t k = nc_agent_serf_relay_take(&r, out, sizeof(out));
		if (k == 0)
			continue;
		if (out[0] == NC_PROTO_SERF_LEAVE)
			leaves++;
		else if (out[0] == NC_PROTO_SERF_JOIN)
			joins++;
	}
	CU_ASSERT_EQUAL(leaves, 2);
	CU_ASSERT_EQUAL(joins, 1);
	CU_ASSERT_EQUAL(nc_agent_serf_relay_take(&r, out, sizeof(out)), 0);
	CU_ASSERT_EQUAL(nc_agent_serf_relay_take(&r, out, sizeof(out)), 0);
	/* Does not fit: stays queued. */
	n = leave_msg(m, sizeof(m), "s1", 6);
	CU_ASSERT_EQUAL(nc_agent_serf_relay_on_msg(&r, m, n, 1), 1);
	CU_ASSERT_EQUAL(nc_agent_serf_relay_take(&r, out, 3), 0);
	CU_ASSERT_EQUAL(nc_agent_serf_relay_take(&r, out, sizeof(out)), n);
	CU_ASSERT_EQUAL(memcmp(out, m, n), 0);
}

static void
test_relay_bad_names(void)
{
	/* Issue 9 rows 1, 9, 11: intents about names with a NUL, invalid
	 * UTF-8 or a newline are refused, not relayed; "s1\0x" does not
	 * count as news about "s1". */
	static const struct {
		const char *p;
		size_t len;
	} bad[] = {{"s1\0x", 4}, {"bad\xff\xfe", 5},
		   {"x\n2026/01/01 [ERR] memberlist: FORGED", 38}};
	char m[128];
	nc_agent_serf_relay_destroy(&r);
	memset(&r, 0, sizeof(r));
	r.self = "me";
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct nc_proto_serf_leave l = {.ltime = 10 + i};
		l.node.data = bad[i].p;
		l.node.len = (uint32_t)bad[i].len;
		int n = nc_proto_encode_serf_leave(m, sizeof(m), &l);
		CU_ASSERT_FATAL(n > 0);
		CU_ASSERT_EQUAL(nc_agent_serf_relay_on_msg(&r, m, (size_t)n, 2),
				0);
	}
	CU_ASSERT_EQUAL(r.q_len, 0);
	CU_ASSERT_EQUAL(r.bad_name, 3);
	size_t n = leave_msg(m, sizeof(m), "s1", 5);
	CU_ASSERT_EQUAL(nc_agent_serf_relay_on_msg(&r, m, n, 2), 1);
}

static void
test_relay_queue_cap(void)
{
	char m[128], out[256], name[16];
	nc_agent_serf_relay_destroy(&r);
	memset(&r, 0, sizeof(r));
	for (int i = 0; i < NC_AGENT_SERF_RELAY_QUEUE + 5; i++) {
		snprintf(name, sizeof(name), "node%d", i);
		size_t n = leave_msg(m, sizeof(m), name, 1);
		CU_ASSERT_EQUAL(nc_agent_serf_relay_on_msg(&r, m, n, 1), 1);
	}
	CU_ASSERT_EQUAL(r.q_len, NC_AGENT_SERF_RELAY_QUEUE);
	CU_ASSERT_EQUAL(r.dropped, 5);
	int got = 0;
	while (nc_agent_serf_relay_take(&r, out, sizeof(out)) > 0)
		got++;
	CU_ASSERT_EQUAL(got, NC_AGENT_SERF_RELAY_QUEUE);
}


/* ------------------------------------------------------------------ */
/* Issue 11: user events and queries, clocks, passes, hostile fields   */
/* ------------------------------------------------------------------ */

static size_t
event_msg(char *buf, size_t cap, uint64_t lt, const char *name,
	  const char *payload)
{
	struct nc_proto_serf_user_event m = {
		.ltime = lt,
		.name = nc_proto_cstr(name),
		.payload = nc_proto_cstr(payload),
	};
	int n = nc_proto_encode_serf_user_event(buf, cap, &m);
	CU_ASSERT_FATAL(n > 0);
	return (size_t)n;
}

static const uint8_t q_ip[4] = {127, 0, 0, 1};

static size_t
query_msg(char *buf, size_t cap, uint64_t lt, uint32_t id, const char *name,
	  uint32_t flags, const char *payload, size_t plen)
{
	struct nc_proto_serf_query m = {
		.addr = {(const char *)q_ip, 4},
		.flags = flags,
		.id = id,
		.ltime = lt,
		.name = nc_proto_cstr(name),
		.payload = {payload, (uint32_t)plen},
		.port = 7946,
		.source_node = nc_proto_cstr("s1"),
		.timeout_ns = 5000000000ull,
	};
	int n = nc_proto_encode_serf_query(buf, cap, &m);
	CU_ASSERT_FATAL(n > 0);
	return (size_t)n;
}

static void
test_events(void)
{
	char m[256], out[1500];
	nc_agent_serf_relay_destroy(&r);
	memset(&r, 0, sizeof(r));
	size_t n = event_msg(m, sizeof(m), 7, "deploy", "v1");
	CU_ASSERT_EQUAL(nc_agent_serf_relay_on_msg(&r, m, n, 4),
			NC_AGENT_SERF_QUEUED);
	/* serf's Witness: the event clock moves past the LTime seen. */
	CU_ASSERT_EQUAL(r.clock.event, 8);
	CU_ASSERT_EQUAL(r.clock.member, 0);
	/* Same (LTime, name, payload): seen. */
	CU_ASSERT_EQUAL(nc_agent_serf_relay_on_msg(&r, m, n, 4), 0);
	/* Same LTime, another payload or name: a different event. */
	n = event_msg(m, sizeof(m), 7, "deploy", "v2");
	CU_ASSERT_EQUAL(nc_agent_serf_relay_on_msg(&r, m, n, 4),
			NC_AGENT_SERF_QUEUED);
	n = event_msg(m, sizeof(m), 7, "deplo", "yv2");
	CU_ASSERT_EQUAL(nc_agent_serf_relay_on_msg(&r, m, n, 4),
			NC_AGENT_SERF_QUEUED);
	CU_ASSERT_EQUAL(r.events_in, 3);
	/* Far ahead: the clock follows; now LTime 7 is outside the window
	 * of 512 and old news even if new. */
	n = event_msg(m, sizeof(m), 1000, "deploy", "v3");
	CU_ASSERT_EQUAL(nc_agent_serf_relay_on_msg(&r, m, n, 4),
			NC_AGENT_SERF_QUEUED);
	CU_ASSERT_EQUAL(r.clock.event, 1001);
	n = event_msg(m, sizeof(m), 7, "deploy", "v9");
	CU_ASSERT_EQUAL(nc_agent_serf_relay_on_msg(&r, m, n, 4), 0);
	CU_ASSERT_EQUAL(r.events_old, 2);
	CU_ASSERT_EQUAL(r.events[1000 % NC_AGENT_SERF_EVENT_BUFFER].ltime, 1000);
	/* The window is clock - 512 = 489 onwards (serf's check): 488 is
	 * old, 490 new. */
	n = event_msg(m, sizeof(m), 488, "deploy", "v4");
	CU_ASSERT_EQUAL(nc_agent_serf_relay_on_msg(&r, m, n, 4), 0);
	n = event_msg(m, sizeof(m), 490, "deploy", "v4");
	CU_ASSERT_EQUAL(nc_agent_serf_relay_on_msg(&r, m, n, 4),
			NC_AGENT_SERF_QUEUED);
	/* Each message goes once per pass (packet), 4 passes in all. */
	size_t per_pass[6] = {0};
	for (int pass = 0; pass < 6; pass++)
		while (nc_agent_serf_relay_take(&r, out, sizeof(out)) > 0)
			per_pass[pass]++;
	for (int pass = 0; pass < 4; pass++)
		CU_ASSERT_EQUAL(per_pass[pass], 5);
	CU_ASSERT_EQUAL(per_pass[4], 0);
	CU_ASSERT_EQUAL(r.q_len, 0);
	/* Relayed byte for byte. */
	n = event_msg(m, sizeof(m), 1001, "x", "y");
	CU_ASSERT_EQUAL(nc_agent_serf_relay_on_msg(&r, m, n, 1), 1);
	CU_ASSERT_EQUAL(nc_agent_serf_relay_take(&r, out, sizeof(out)), n);
	CU_ASSERT_EQUAL(memcmp(out, m, n), 0);
}

static void
test_slot_bounds(void)
{
	/* More distinct events at one LTime than a slot remembers: each is
	 * still relayed once; the slot never grows. */
	char m[256];
	nc_agent_serf_relay_destroy(&r);
	memset(&r, 0, sizeof(r));
	char pl[8];
	for (int i = 0; i < 3 * NC_AGENT_SERF_SLOT_IDS; i++) {
		snprintf(pl, sizeof(pl), "p%d", i);
		size_t n = event_msg(m, sizeof(m), 42, "e", pl);
		CU_ASSERT_EQUAL(nc_agent_serf_relay_on_msg(&r, m, n, 1), 1);
		CU_ASSERT_EQUAL(nc_agent_serf_relay_on_msg(&r, m, n, 1), 0);
	}
	CU_ASSERT(r.events[42].n <= NC_AGENT_SERF_SLOT_IDS);
	/* A flood of new events: the queue stays at its cap. */
	for (int i = 0; i < 4 * NC_AGENT_SERF_RELAY_QUEUE; i++) {
		size_t n = event_msg(m, sizeof(m), 100 + (uint64_t)i, "e", "");
		nc_agent_serf_relay_on_msg(&r, m, n, 8);
	}
	CU_ASSERT_EQUAL(r.q_len, NC_AGENT_SERF_RELAY_QUEUE);
	CU_ASSERT(r.dropped > 0);
}

static void
test_queries_relay(void)
{
	char m[512];
	nc_agent_serf_relay_destroy(&r);
	memset(&r, 0, sizeof(r));
	size_t n = query_msg(m, sizeof(m), 3, 77, "_serf_ping", 1, NULL, 0);
	CU_ASSERT_EQUAL(nc_agent_serf_relay_on_msg(&r, m, n, 2),
			NC_AGENT_SERF_QUEUED);
	CU_ASSERT_EQUAL(r.clock.query, 4);
	CU_ASSERT_EQUAL(nc_agent_serf_relay_on_msg(&r, m, n, 2), 0);
	/* Same LTime, another ID: another query. */
	n = query_msg(m, sizeof(m), 3, 78, "_serf_ping", 1, NULL, 0);
	CU_ASSERT_EQUAL(nc_agent_serf_relay_on_msg(&r, m, n, 2),
			NC_AGENT_SERF_QUEUED);
	/* No-broadcast: new (to answer) but not relayed. */
	n = query_msg(m, sizeof(m), 4, 1, "q", 2, NULL, 0);
	CU_ASSERT_EQUAL(nc_agent_serf_relay_on_msg(&r, m, n, 2),
			NC_AGENT_SERF_NEW);
	CU_ASSERT_EQUAL(r.q_len, 2);
	CU_ASSERT_EQUAL(r.queries_in, 3);
}

static void
test_hostile(void)
{
	char m[2048];
	nc_agent_serf_relay_destroy(&r);
	memset(&r, 0, sizeof(r));
	/* Truncated bodies of every relayed type. */
	size_t n = event_msg(m, sizeof(m), 5, "deploy", "payload");
	for (size_t cut = 2; cut < n; cut++)
		CU_ASSERT_EQUAL(nc_agent_serf_relay_on_msg(&r, m, cut, 2), 0);
	n = query_msg(m, sizeof(m), 5, 1, "q", 0, "x", 1);
	for (size_t cut = 2; cut < n; cut++)
		CU_ASSERT_EQUAL(nc_agent_serf_relay_on_msg(&r, m, cut, 2), 0);
	CU_ASSERT_EQUAL(r.q_len, 0);
	CU_ASSERT(r.bad_msg > 0);
	/* Oversized: not relayed. */
	char big[1500];
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	struct nc_proto_serf_user_event e = {.ltime = 9,
					     .name = nc_proto_cstr("e"),
					     .payload = nc_proto_cstr(big)};
	int bn = nc_proto_encode_serf_user_event(m, sizeof(m), &e);
	CU_ASSERT_FATAL(bn > NC_AGENT_SERF_RELAY_MSG_MAX);
	CU_ASSERT_EQUAL(nc_agent_serf_relay_on_msg(&r, m, (size_t)bn, 2), 0);
	/* A query whose source node name is forged: refused. */
	struct nc_proto_serf_query q = {
		.ltime = 6, .id = 1, .name = nc_proto_cstr("q"),
		.source_node = {"s1\nFORGED", 9},
	};
	int qn = nc_proto_encode_serf_query(m, sizeof(m), &q);
	CU_ASSERT_FATAL(qn > 0);
	CU_ASSERT_EQUAL(nc_agent_serf_relay_on_msg(&r, m, (size_t)qn, 2), 0);
	/* LTimes at the top of the range cannot wedge the clocks. */
	n = event_msg(m, sizeof(m), UINT64_MAX, "e", "");
	CU_ASSERT_EQUAL(nc_agent_serf_relay_on_msg(&r, m, n, 2), 0);
	CU_ASSERT(r.clock.event < 100);
}

/* ---- query answers, with fake agent ops ---- */

struct sent {
	struct nc_addr to;
	char buf[2048];
	size_t len;
};
static struct sent sent[16];
static size_t n_sent;
static int keys_mode; /* 0 = encryption off, 1 = on */
static char key_ops[256];

static int
f_send(void *ctx, const struct nc_addr *to, const char *name, size_t nl,
       const char *buf, size_t len)
{
	(void)ctx, (void)name, (void)nl;
	CU_ASSERT_FATAL(n_sent < 16 && len <= sizeof(sent[0].buf));
	sent[n_sent].to = *to;
	memcpy(sent[n_sent].buf, buf, len);
	sent[n_sent++].len = len;
	return 0;
}

static size_t
f_targets(void *ctx, unsigned k, struct nc_addr *out)
{
	(void)ctx;
	for (unsigned i = 0; i < k; i++) {
		memset(&out[i], 0, sizeof(out[i]));
		out[i].family = 4;
		out[i].port = (uint16_t)(9000 + i);
	}
	return k;
}

static bool
f_member(void *ctx, const char *name, size_t nl, struct nc_proto_serf_member *m,
	 uint8_t ip[16])
{
	(void)ctx;
	if (nl != 2 || memcmp(name, "s2", 2) != 0)
		return false;
	memset(m, 0, sizeof(*m));
	m->name = nc_proto_cstr("s2");
	ip[0] = 10, ip[1] = 0, ip[2] = 0, ip[3] = 2;
	m->addr.data = (const char *)ip;
	m->addr.len = 4;
	m->port = 7947;
	m->status = 1;
	return true;
}

static int
f_key_list(void *ctx, char (*keys)[NC_AGENT_KEY_B64_CAP], size_t cap)
{
	(void)ctx;
	if (!keys_mode)
		return -95; /* -ENOTSUP */
	if (cap >= 2) {
		snprintf(keys[0], NC_AGENT_KEY_B64_CAP, "%s",
			 "AAAAAAAAAAAAAAAAAAAAAA==");
		snprintf(keys[1], NC_AGENT_KEY_B64_CAP, "%s",
			 "BBBBBBBBBBBBBBBBBBBBBB==");
		return 2;
	}
	return 0;
}

static int
f_key_change(void *ctx, enum nc_agent_key_op op, const char *b64, char *err,
	     size_t cap)
{
	(void)ctx, (void)err, (void)cap;
	snprintf(key_ops + strlen(key_ops), sizeof(key_ops) - strlen(key_ops),
		 "%d:%s;", (int)op, b64);
	if (op == NC_AGENT_KEY_REMOVE && b64[0] == 'A')
		return -16; /* -EBUSY: the primary */
	return 0;
}

static const struct nc_agent_serf_ops fake_ops = {
	.self = "me",
	.send = f_send,
	.relay_targets = f_targets,
	.member = f_member,
	.key_list = f_key_list,
	.key_change = f_key_change,
};

/* Decode sent[i] as a query response. */
static struct nc_proto_serf_query_response
resp_of(size_t i)
{
	struct nc_proto_serf_query_response out;
	CU_ASSERT_FATAL(sent[i].buf[0] == NC_PROTO_SERF_QUERY_RESPONSE);
	const char *p = sent[i].buf + 1;
	CU_ASSERT_FATAL(nc_proto_decode_serf_query_response(
				&p, sent[i].buf + sent[i].len, &out) == 0);
	return out;
}

static bool
has(const struct nc_proto_str *s, const char *needle)
{
	size_t n = strlen(needle);
	for (size_t i = 0; i + n <= s->len; i++)
		if (memcmp(s->data + i, needle, n) == 0)
			return true;
	return false;
}

static bool
has_resp(size_t i, const char *needle)
{
	struct nc_proto_serf_query_response a = resp_of(i);
	return has(&a.payload, needle);
}

static void
test_query_answers(void)
{
	struct nc_agent_serf_query_stats st = {0};
	char m[512];
	/* _serf_ping with ack: one ack to Addr:Port, From us, Flags 1. */
	n_sent = 0;
	size_t n = query_msg(m, sizeof(m), 9, 5, "_serf_ping", 1, NULL, 0);
	CU_ASSERT_EQUAL(nc_agent_serf_query_answer(&fake_ops, &st, m, n), 1);
	CU_ASSERT_EQUAL(sent[0].to.port, 7946);
	CU_ASSERT_EQUAL(memcmp(sent[0].to.ip, q_ip, 4), 0);
	struct nc_proto_serf_query_response a = resp_of(0);
	CU_ASSERT_EQUAL(a.flags, 1);
	CU_ASSERT_EQUAL(a.id, 5);
	CU_ASSERT_EQUAL(a.ltime, 9);
	CU_ASSERT(a.from.len == 2 && memcmp(a.from.data, "me", 2) == 0);
	/* A user query without ack: no handler, nothing sent. */
	n_sent = 0;
	n = query_msg(m, sizeof(m), 10, 6, "uptime", 0, NULL, 0);
	CU_ASSERT_EQUAL(nc_agent_serf_query_answer(&fake_ops, &st, m, n), 0);
	CU_ASSERT_EQUAL(st.unhandled, 1);
	/* Relay factor 2: the ack, then 2 relayed copies (type 9) whose
	 * inner message is the ack. */
	n_sent = 0;
	struct nc_proto_serf_query q = {
		.addr = {(const char *)q_ip, 4}, .flags = 1, .id = 7,
		.ltime = 11, .name = nc_proto_cstr("x"), .port = 7946,
		.relay_factor = 2, .source_node = nc_proto_cstr("s1"),
	};
	int qn = nc_proto_encode_serf_query(m, sizeof(m), &q);
	CU_ASSERT_EQUAL(nc_agent_serf_query_answer(&fake_ops, &st, m,
						   (size_t)qn), 3);
	CU_ASSERT_EQUAL((uint8_t)sent[1].buf[0], NC_PROTO_SERF_RELAY);
	CU_ASSERT_EQUAL(sent[1].to.port, 9000);
	/* ... and forwarding it sends the inner ack to the source. */
	struct nc_agent_serf_query_stats st2 = {0};
	struct sent copy = sent[1];
	n_sent = 0;
	CU_ASSERT_EQUAL(nc_agent_serf_relay_forward(&fake_ops, &st2, copy.buf,
						    copy.len), 0);
	CU_ASSERT_EQUAL(n_sent, 1);
	CU_ASSERT_EQUAL(sent[0].to.port, 7946);
	CU_ASSERT_EQUAL(resp_of(0).flags, 1);
	/* A relay message with a bad address is refused. */
	copy.buf[copy.len - 1] ^= 0;
	CU_ASSERT(nc_agent_serf_relay_forward(&fake_ops, &st2, copy.buf, 5) < 0);
}

static void
test_query_filters(void)
{
	struct nc_agent_serf_query_stats st = {0};
	char m[512], filt[64], filters[128];
	/* Node filter naming someone else: not answered. */
	filt[0] = NC_PROTO_SERF_FILTER_NODE;
	memcpy(filt + 1, "\x91\xa2s9", 4); /* ["s9"] */
	filters[0] = (char)0x91;	    /* [ raw(filt) ] */
	filters[1] = (char)(0xa0 | 5);
	memcpy(filters + 2, filt, 5);
	struct nc_proto_serf_query q = {
		.addr = {(const char *)q_ip, 4}, .flags = 1, .id = 1,
		.ltime = 1, .name = nc_proto_cstr("_serf_ping"), .port = 1,
		.filters = {filters, 7},
	};
	int qn = nc_proto_encode_serf_query(m, sizeof(m), &q);
	n_sent = 0;
	CU_ASSERT_EQUAL(nc_agent_serf_query_answer(&fake_ops, &st, m,
						   (size_t)qn), 0);
	CU_ASSERT_EQUAL(st.filtered, 1);
	/* Naming us: answered. */
	memcpy(filt + 1, "\x91\xa2me", 4);
	memcpy(filters + 2, filt, 5);
	qn = nc_proto_encode_serf_query(m, sizeof(m), &q);
	CU_ASSERT_EQUAL(nc_agent_serf_query_answer(&fake_ops, &st, m,
						   (size_t)qn), 1);
	/* Unknown filter type, garbage filter: not answered. */
	filters[2] = 7;
	qn = nc_proto_encode_serf_query(m, sizeof(m), &q);
	CU_ASSERT_EQUAL(nc_agent_serf_query_answer(&fake_ops, &st, m,
						   (size_t)qn), 0);
	q.filters.len = 3;
	qn = nc_proto_encode_serf_query(m, sizeof(m), &q);
	CU_ASSERT_EQUAL(nc_agent_serf_query_answer(&fake_ops, &st, m,
						   (size_t)qn), 0);
}

static size_t
key_query(char *m, size_t cap, const char *name, const uint8_t *key,
	  size_t klen)
{
	char payload[64];
	struct nc_proto_serf_key_request kr = {.key = {(const char *)key,
						       (uint32_t)klen}};
	int pn = nc_proto_encode_serf_key_request(payload, sizeof(payload),
						  &kr);
	CU_ASSERT_FATAL(pn > 0);
	return query_msg(m, cap, 20, 1, name, 0, payload, (size_t)pn);
}

static void
test_key_queries(void)
{
	struct nc_agent_serf_query_stats st = {0};
	char m[512];
	uint8_t key[16] = {0};
	/* Encryption off: serf's messages. */
	keys_mode = 0;
	n_sent = 0;
	size_t n = key_query(m, sizeof(m), "_serf_install-key", key, 16);
	CU_ASSERT_EQUAL(nc_agent_serf_query_answer(&fake_ops, &st, m, n), 1);
	struct nc_proto_serf_query_response a = resp_of(0);
	CU_ASSERT_EQUAL(a.flags, 0);
	CU_ASSERT_EQUAL((uint8_t)a.payload.data[0], NC_PROTO_SERF_KEY_RESPONSE);
	CU_ASSERT(has(&a.payload, "No keyring to modify (encryption not "
				  "enabled)"));
	n_sent = 0;
	n = query_msg(m, sizeof(m), 21, 2, "_serf_list-keys", 0, NULL, 0);
	nc_agent_serf_query_answer(&fake_ops, &st, m, n);
	a = resp_of(0);
	CU_ASSERT(has(&a.payload, "Keyring is empty (encryption not "
				  "enabled)"));
	/* On: list gives Keys and PrimaryKey; Result true. */
	keys_mode = 1;
	n_sent = 0;
	nc_agent_serf_query_answer(&fake_ops, &st, m, n);
	a = resp_of(0);
	CU_ASSERT(has(&a.payload, "AAAAAAAAAAAAAAAAAAAAAA=="));
	CU_ASSERT(has(&a.payload, "BBBBBBBBBBBBBBBBBBBBBB=="));
	CU_ASSERT(has(&a.payload, "PrimaryKey"));
	CU_ASSERT(has(&a.payload, "Result\xc3"));
	/* Install, use: base64 of the raw key handed to the keyring. */
	key_ops[0] = '\0';
	n_sent = 0;
	n = key_query(m, sizeof(m), "_serf_install-key", key, 16);
	nc_agent_serf_query_answer(&fake_ops, &st, m, n);
	CU_ASSERT(has_resp(0, "Result\xc3"));
	CU_ASSERT_STRING_EQUAL(key_ops, "0:AAAAAAAAAAAAAAAAAAAAAA==;");
	/* Remove of the primary: memberlist's message. */
	n_sent = 0;
	n = key_query(m, sizeof(m), "_serf_remove-key", key, 16);
	nc_agent_serf_query_answer(&fake_ops, &st, m, n);
	a = resp_of(0);
	CU_ASSERT(has(&a.payload, "Removing the primary key is not allowed"));
	CU_ASSERT(has(&a.payload, "Result\xc2"));
	/* A key of a bad size. */
	n_sent = 0;
	n = key_query(m, sizeof(m), "_serf_install-key", key, 5);
	nc_agent_serf_query_answer(&fake_ops, &st, m, n);
	CU_ASSERT(has_resp(0,
		      "key size must be 16, 24 or 32 bytes"));
	n_sent = 0;
	n = key_query(m, sizeof(m), "_serf_use-key", key, 5);
	nc_agent_serf_query_answer(&fake_ops, &st, m, n);
	CU_ASSERT(has_resp(0,
		      "Requested key is not in the keyring"));
	/* A payload that is no key request: Result false. */
	n_sent = 0;
	n = query_msg(m, sizeof(m), 22, 3, "_serf_use-key", 0, "\x07\xff", 2);
	nc_agent_serf_query_answer(&fake_ops, &st, m, n);
	CU_ASSERT(has_resp(0, "Result\xc2"));
}

static void
test_conflict(void)
{
	struct nc_agent_serf_query_stats st = {0};
	char m[512];
	/* About a node we know: its Member, Addr and Port. */
	n_sent = 0;
	size_t n = query_msg(m, sizeof(m), 30, 1, "_serf_conflict", 0, "s2", 2);
	CU_ASSERT_EQUAL(nc_agent_serf_query_answer(&fake_ops, &st, m, n), 1);
	struct nc_proto_serf_query_response a = resp_of(0);
	CU_ASSERT_EQUAL((uint8_t)a.payload.data[0],
			NC_PROTO_SERF_CONFLICT_RESPONSE);
	CU_ASSERT(has(&a.payload, "\xa4" "Addr\xa4\x0a\x00\x00\x02"));
	CU_ASSERT(has(&a.payload, "\xa4Port\xcd\x1f\x0b"));
	/* Unknown: a nil Member. */
	n_sent = 0;
	n = query_msg(m, sizeof(m), 31, 1, "_serf_conflict", 0, "zz", 2);
	nc_agent_serf_query_answer(&fake_ops, &st, m, n);
	a = resp_of(0);
	CU_ASSERT_EQUAL(a.payload.len, 2);
	CU_ASSERT_EQUAL((uint8_t)a.payload.data[1], 0xc0);
	/* About us: serf does not answer. */
	n_sent = 0;
	n = query_msg(m, sizeof(m), 32, 1, "_serf_conflict", 0, "me", 2);
	CU_ASSERT_EQUAL(nc_agent_serf_query_answer(&fake_ops, &st, m, n), 0);
}

static struct nc_agent_serf_relay r2;

static void
test_push_pull_state(void)
{
	char m[256], st[8192];
	nc_agent_serf_relay_destroy(&r);
	memset(&r, 0, sizeof(r));
	nc_agent_serf_relay_destroy(&r2);
	memset(&r2, 0, sizeof(r2));
	/* Ours: a join LTime, a leave (left out), events, clocks. */
	size_t n = join_msg(m, sizeof(m), "s1", 4);
	nc_agent_serf_relay_on_msg(&r, m, n, 1);
	n = leave_msg(m, sizeof(m), "s2", 6);
	nc_agent_serf_relay_on_msg(&r, m, n, 1);
	n = event_msg(m, sizeof(m), 9, "deploy", "b");
	nc_agent_serf_relay_on_msg(&r, m, n, 1);
	n = event_msg(m, sizeof(m), 3, "deploy", "a");
	nc_agent_serf_relay_on_msg(&r, m, n, 1);
	n = event_msg(m, sizeof(m), 9, "deploy", "c");
	nc_agent_serf_relay_on_msg(&r, m, n, 1);
	size_t len = nc_agent_serf_relay_local_state(&r, st, sizeof(st));
	CU_ASSERT_FATAL(len > 0);
	CU_ASSERT_EQUAL((uint8_t)st[0], NC_PROTO_SERF_PUSH_PULL);
	struct nc_proto_str sst = {st, (uint32_t)len};
	CU_ASSERT(has(&sst, "\xa2s1\x04"));	/* StatusLTimes s1: 4 */
	CU_ASSERT(!has(&sst, "\xa2s2"));	/* a leave is not a status */
	/* Theirs merged: events recorded (not queued), clocks - 1. */
	CU_ASSERT_EQUAL(nc_agent_serf_relay_merge_state(&r2, st, len), 0);
	CU_ASSERT_EQUAL(r2.recent_n, 3);
	CU_ASSERT_EQUAL(r2.events_merged, 3);
	CU_ASSERT_EQUAL(r2.q_len, 0);
	CU_ASSERT_EQUAL(r2.clock.event, r.clock.event);
	CU_ASSERT_EQUAL(r2.clock.member, r.clock.member - 1 + 1);
	/* Sorted by LTime when sent: the LTime 3 event comes first. */
	CU_ASSERT_EQUAL(nc_agent_serf_relay_recent(&r2, 0)->ltime, 3);
	/* Merging again: nothing new; a relayed copy is old news too. */
	CU_ASSERT_EQUAL(nc_agent_serf_relay_merge_state(&r2, st, len), 0);
	CU_ASSERT_EQUAL(r2.events_merged, 3);
	CU_ASSERT_EQUAL(nc_agent_serf_relay_on_msg(&r2, m, n, 1), 0);
	/* A truncated state merges nothing at all. */
	nc_agent_serf_relay_destroy(&r2);
	memset(&r2, 0, sizeof(r2));
	for (size_t cut = 1; cut < len; cut++)
		CU_ASSERT(nc_agent_serf_relay_merge_state(&r2, st, cut) < 0);
	CU_ASSERT_EQUAL(r2.recent_n, 0);
	CU_ASSERT_EQUAL(r2.clock.event, 0);
	/* serf's shape: its whole buffer, nil entries included. */
	static const char serf_state[] =
		"\x02\x86"
		"\xa5LTime\x05"
		"\xacStatusLTimes\x81\xa2s1\x03"
		"\xabLeftMembers\x90"
		"\xaa" "EventLTime\x0b"
		"\xa6" "Events\x93\xc0"
		"\x82\xa5LTime\x0a\xa6" "Events\x91\x82\xa4Name\xa1x\xa7Payload\xc0"
		"\xc0"
		"\xaaQueryLTime\x02";
	CU_ASSERT_EQUAL(nc_agent_serf_relay_merge_state(&r2, serf_state,
							sizeof(serf_state) - 1),
			0);
	CU_ASSERT_EQUAL(r2.recent_n, 1);
	CU_ASSERT_EQUAL(r2.clock.event, 11);
	CU_ASSERT_EQUAL(r2.clock.member, 5);
	CU_ASSERT_EQUAL(r2.clock.query, 2);
}

/** The relays hold allocations (nc_agent_serf_relay_destroy). */
static int
relay_cleanup(void)
{
	nc_agent_serf_relay_destroy(&r);
	nc_agent_serf_relay_destroy(&r2);
	return 0;
}

int
main(void)
{
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	CU_pSuite s = CU_add_suite("serf_relay", NULL, relay_cleanup);
	CU_add_test(s, "rules", test_relay_rules);
	CU_add_test(s, "queue_cap", test_relay_queue_cap);
	CU_add_test(s, "bad_names", test_relay_bad_names);
	CU_add_test(s, "events", test_events);
	CU_add_test(s, "slot_bounds", test_slot_bounds);
	CU_add_test(s, "queries_relay", test_queries_relay);
	CU_add_test(s, "hostile", test_hostile);
	CU_add_test(s, "query_answers", test_query_answers);
	CU_add_test(s, "query_filters", test_query_filters);
	CU_add_test(s, "key_queries", test_key_queries);
	CU_add_test(s, "conflict", test_conflict);
	CU_add_test(s, "push_pull_state", test_push_pull_state);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	unsigned fails = CU_get_number_of_failures();
	CU_cleanup_registry();
	return fails == 0 ? 0 : 1;
}
