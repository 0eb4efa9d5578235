/*
 * tests/agent/test_serf_collect.c - agent/serf_collect.c: the queries a
 * netcoord agent runs itself (issue 11). The query it sends decodes as
 * serf's messageQuery with serf's default timeout; acks and responses are
 * taken once per node, up to the query's cap, only for an open query
 * (LTime and ID) and only from known members; a query ends at its
 * deadline, when its waiter had enough (never from inside on_msg), or
 * when cancelled; at most NC_AGENT_SERF_OPEN_MAX are open. The tallies
 * follow serf's streamKeyResp and resolveNodeConflict.
 */
#include <CUnit/Basic.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "agent/serf_collect.h"
#include "gossip/proto.h"

/* ---- helpers ---------------------------------------------------------- */

/** A query response from @a from (an ack when @a ack). */
static size_t
response(char *buf, size_t cap, const char *from, uint64_t lt, uint32_t id,
	 bool ack, const char *payload, size_t plen)
{
	struct nc_proto_serf_query_response r = {
		.flags = ack ? NC_PROTO_SERF_QUERY_ACK : 0,
		.from = nc_proto_cstr(from),
		.id = id,
		.ltime = lt,
		.payload = {payload, (uint32_t)plen},
	};
	int n = nc_proto_encode_serf_query_response(buf, cap, &r);
	CU_ASSERT_FATAL(n > 0);
	return (size_t)n;
}

/** What a waiter saw. */
struct seen {
	int acks, responses, done;
	enum nc_agent_serf_end why;
	char last[64];
	/** response() returns true from this many responses on (0: never). */
	int enough_at;
};

static void
w_ack(void *arg, const char *from, size_t len)
{
	struct seen *s = arg;
	s->acks++;
	snprintf(s->last, sizeof(s->last), "%.*s", (int)len, from);
}

static bool
w_resp(void *arg, const char *from, size_t len, const char *p, size_t plen)
{
	struct seen *s = arg;
	(void)p;
	(void)plen;
	s->responses++;
	snprintf(s->last, sizeof(s->last), "%.*s", (int)len, from);
	return s->enough_at > 0 && s->responses >= s->enough_at;
}

static void
w_done(void *arg, enum nc_agent_serf_end why)
{
	struct seen *s = arg;
	s->done++;
	s->why = why;
}

static struct nc_agent_serf_waiter
waiter(struct seen *s)
{
	return (struct nc_agent_serf_waiter){
		.arg = s, .ack = w_ack, .response = w_resp, .done = w_done};
}

/** Known members: anyone but names starting with "evil". */
static bool
known(void *ctx, const char *name, size_t len)
{
	(void)ctx;
	return !(len >= 4 && memcmp(name, "evil", 4) == 0);
}

static struct nc_agent_serf_collect C;

static void
collect_reset(void)
{
	nc_agent_serf_collect_cancel_all(&C);
	memset(&C, 0, sizeof(C));
	C.known = known;
}

/* ---- tests ------------------------------------------------------------ */

/* The query is serf's messageQuery, every field as serf's Query sets it. */
static void
test_query_encode(void)
{
	/* serf's DefaultQueryTimeout, lan: 0.2 s x 16 x ceil(log10(n+1)). */
	CU_ASSERT_DOUBLE_EQUAL(nc_agent_serf_query_timeout(0.2, 13), 6.4,
			       1e-9);
	CU_ASSERT_DOUBLE_EQUAL(nc_agent_serf_query_timeout(0.2, 9), 3.2, 1e-9);
	CU_ASSERT_DOUBLE_EQUAL(nc_agent_serf_query_timeout(0.2, 99), 6.4,
			       1e-9);
	CU_ASSERT_DOUBLE_EQUAL(nc_agent_serf_query_timeout(0.2, 100), 9.6,
			       1e-9);
	CU_ASSERT_DOUBLE_EQUAL(nc_agent_serf_query_timeout(0.5, 1), 8.0, 1e-9);

	struct nc_addr me = {.family = 4, .ip = {127, 0, 0, 9}, .port = 7946};
	char payload[] = "\x07\x81\xa3Key\xc0";
	struct nc_agent_serf_query_params p = {
		.ltime = 42,
		.id = 0x7fff1234,
		.addr = &me,
		.self = "n3",
		.name = "_serf_install-key",
		.payload = payload,
		.payload_len = sizeof(payload) - 1,
		.want_ack = true,
		.timeout_s = 6.4,
	};
	char buf[NC_AGENT_SERF_QUERY_MAX];
	int n = nc_agent_serf_query_encode(buf, sizeof(buf), &p);
	CU_ASSERT_FATAL(n > 2);
	CU_ASSERT_EQUAL((uint8_t)buf[0], NC_PROTO_SERF_QUERY);
	/* All 11 fields of messageQuery, as go-msgpack writes a struct. */
	CU_ASSERT_EQUAL((uint8_t)buf[1], 0x80 | 11);
	struct nc_proto_serf_query q;
	const char *pos = buf + 1;
	CU_ASSERT_EQUAL_FATAL(
	    nc_proto_decode_serf_query(&pos, buf + n, &q), 0);
	CU_ASSERT_PTR_EQUAL(pos, buf + n);
	CU_ASSERT_EQUAL(q.ltime, 42);
	CU_ASSERT_EQUAL(q.id, 0x7fff1234u);
	CU_ASSERT_EQUAL(q.addr.len, 4);
	CU_ASSERT_EQUAL(memcmp(q.addr.data, me.ip, 4), 0);
	CU_ASSERT_EQUAL(q.port, 7946);
	CU_ASSERT_EQUAL(q.source_node.len, 2);
	CU_ASSERT_EQUAL(memcmp(q.source_node.data, "n3", 2), 0);
	CU_ASSERT_EQUAL(q.name.len, strlen("_serf_install-key"));
	CU_ASSERT_EQUAL(memcmp(q.name.data, "_serf_install-key", q.name.len),
			0);
	CU_ASSERT_EQUAL(q.payload.len, sizeof(payload) - 1);
	CU_ASSERT_EQUAL(memcmp(q.payload.data, payload, q.payload.len), 0);
	CU_ASSERT_EQUAL(q.flags, NC_PROTO_SERF_QUERY_ACK);
	CU_ASSERT_EQUAL(q.relay_factor, 0);
	CU_ASSERT_EQUAL(q.filters.len, 1); /* nil: no filters */
	CU_ASSERT_EQUAL(q.timeout_ns, 6400000000ull);

	/* No ack asked: Flags 0. IPv6: 16 address bytes. */
	struct nc_addr me6 = {.family = 6, .ip = {[15] = 1}, .port = 1};
	p.addr = &me6;
	p.want_ack = false;
	n = nc_agent_serf_query_encode(buf, sizeof(buf), &p);
	pos = buf + 1;
	CU_ASSERT_EQUAL_FATAL(
	    nc_proto_decode_serf_query(&pos, buf + n, &q), 0);
	CU_ASSERT_EQUAL(q.flags, 0);
	CU_ASSERT_EQUAL(q.addr.len, 16);

	/* serf's QuerySizeLimit (1024 bytes, encoded). */
	static char big[1100];
	memset(big, 'x', sizeof(big));
	p.payload = big;
	p.payload_len = 1000;
	CU_ASSERT_EQUAL(nc_agent_serf_query_encode(buf, sizeof(buf), &p),
			-EMSGSIZE);
	p.payload_len = 800;
	CU_ASSERT(nc_agent_serf_query_encode(buf, sizeof(buf), &p) > 800);
	struct nc_addr none = {0};
	p.addr = &none;
	CU_ASSERT_EQUAL(nc_agent_serf_query_encode(buf, sizeof(buf), &p),
			-EINVAL);
}

/* Acks and responses: once per node, up to the cap, known senders only,
 * for an open query only. */
static void
test_collect_dedup_bounds(void)
{
	char m[256];
	size_t n;
	struct seen s = {0};
	struct nc_agent_serf_waiter w = waiter(&s);
	collect_reset();
	CU_ASSERT_EQUAL(
	    nc_agent_serf_collect_open(&C, 7, 99, true, 3, 10.0, &w), 0);
	CU_ASSERT_TRUE(nc_agent_serf_collect_busy_id(&C, 7, 99));
	CU_ASSERT_FALSE(nc_agent_serf_collect_busy_id(&C, 7, 98));

	n = response(m, sizeof(m), "a", 7, 99, true, NULL, 0);
	CU_ASSERT_EQUAL(nc_agent_serf_collect_on_msg(&C, m, n), 1);
	CU_ASSERT_STRING_EQUAL(s.last, "a");
	/* The same ack again (a relayed copy): dropped. */
	CU_ASSERT_EQUAL(nc_agent_serf_collect_on_msg(&C, m, n), 0);
	CU_ASSERT_EQUAL(C.st.duplicates, 1);
	/* A response from a is another kind: taken. */
	n = response(m, sizeof(m), "a", 7, 99, false, "x", 1);
	CU_ASSERT_EQUAL(nc_agent_serf_collect_on_msg(&C, m, n), 1);
	CU_ASSERT_EQUAL(s.responses, 1);
	n = response(m, sizeof(m), "b", 7, 99, true, NULL, 0);
	CU_ASSERT_EQUAL(nc_agent_serf_collect_on_msg(&C, m, n), 1);
	n = response(m, sizeof(m), "c", 7, 99, true, NULL, 0);
	CU_ASSERT_EQUAL(nc_agent_serf_collect_on_msg(&C, m, n), 1);
	/* More members than when it started (3): the table grows, up to
	 * NC_AGENT_SERF_NODES_MAX nodes; beyond, dropped and counted. */
	char name[32];
	for (int i = 3; i < NC_AGENT_SERF_NODES_MAX; i++) {
		snprintf(name, sizeof(name), "m%d", i);
		n = response(m, sizeof(m), name, 7, 99, true, NULL, 0);
		CU_ASSERT_EQUAL(nc_agent_serf_collect_on_msg(&C, m, n), 1);
	}
	CU_ASSERT_EQUAL(C.open[0].acks_n, NC_AGENT_SERF_NODES_MAX);
	CU_ASSERT_EQUAL(C.open[0].acks_cap, NC_AGENT_SERF_NODES_MAX);
	n = response(m, sizeof(m), "one-too-many", 7, 99, true, NULL, 0);
	CU_ASSERT_EQUAL(nc_agent_serf_collect_on_msg(&C, m, n), 0);
	CU_ASSERT_EQUAL(C.st.over_cap, 1);
	CU_ASSERT_EQUAL(s.acks, NC_AGENT_SERF_NODES_MAX);
	/* Still a duplicate, not over the cap, for a node already heard. */
	n = response(m, sizeof(m), "m77", 7, 99, true, NULL, 0);
	CU_ASSERT_EQUAL(nc_agent_serf_collect_on_msg(&C, m, n), 0);
	CU_ASSERT_EQUAL(C.st.duplicates, 2);

	/* A stranger (spoofed or stale sender): dropped, counted. */
	n = response(m, sizeof(m), "evil-1", 7, 99, false, "x", 1);
	CU_ASSERT_EQUAL(nc_agent_serf_collect_on_msg(&C, m, n), 0);
	CU_ASSERT_EQUAL(C.st.unknown_sender, 1);
	/* An unknown query ID at the same LTime; an unknown LTime. */
	n = response(m, sizeof(m), "b", 7, 98, false, "x", 1);
	CU_ASSERT_EQUAL(nc_agent_serf_collect_on_msg(&C, m, n), 0);
	n = response(m, sizeof(m), "b", 8, 99, false, "x", 1);
	CU_ASSERT_EQUAL(nc_agent_serf_collect_on_msg(&C, m, n), 0);
	CU_ASSERT_EQUAL(C.st.unknown_query, 2);
	/* Garbage: not a response, truncated, an empty or oversized From. */
	CU_ASSERT_EQUAL(nc_agent_serf_collect_on_msg(&C, "\x04\x80", 2), 0);
	n = response(m, sizeof(m), "b", 7, 99, false, "x", 1);
	CU_ASSERT_EQUAL(nc_agent_serf_collect_on_msg(&C, m, n - 1), 0);
	n = response(m, sizeof(m), "", 7, 99, false, NULL, 0);
	CU_ASSERT_EQUAL(nc_agent_serf_collect_on_msg(&C, m, n), 0);
	char longname[200];
	memset(longname, 'n', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	n = response(m, sizeof(m), longname, 7, 99, false, NULL, 0);
	CU_ASSERT_EQUAL(nc_agent_serf_collect_on_msg(&C, m, n), 0);
	CU_ASSERT_EQUAL(C.st.bad, 4);
	CU_ASSERT_EQUAL(s.responses, 1);
	CU_ASSERT_EQUAL(C.st.acks, NC_AGENT_SERF_NODES_MAX);
	CU_ASSERT_EQUAL(C.st.responses, 1);
	CU_ASSERT_EQUAL(s.done, 0);
	collect_reset();
	CU_ASSERT_EQUAL(s.done, 1);
	CU_ASSERT_EQUAL(s.why, NC_AGENT_SERF_END_CANCELLED);
}

/* The deadline ends a query; later answers are for no open query. */
static void
test_collect_timeout(void)
{
	char m[128];
	struct seen s = {0};
	struct nc_agent_serf_waiter w = waiter(&s);
	collect_reset();
	CU_ASSERT(nc_agent_serf_collect_next(&C) < 0);
	CU_ASSERT_EQUAL(
	    nc_agent_serf_collect_open(&C, 3, 5, false, 10, 106.4, &w), 0);
	CU_ASSERT_DOUBLE_EQUAL(nc_agent_serf_collect_next(&C), 106.4, 1e-9);
	/* An ack for a query that did not ask for acks: dropped. */
	size_t n = response(m, sizeof(m), "a", 3, 5, true, NULL, 0);
	CU_ASSERT_EQUAL(nc_agent_serf_collect_on_msg(&C, m, n), 0);
	CU_ASSERT_EQUAL(s.acks, 0);
	nc_agent_serf_collect_expire(&C, 106.3);
	CU_ASSERT_EQUAL(s.done, 0);
	CU_ASSERT_EQUAL(nc_agent_serf_collect_count(&C), 1);
	nc_agent_serf_collect_expire(&C, 106.4);
	CU_ASSERT_EQUAL(s.done, 1);
	CU_ASSERT_EQUAL(s.why, NC_AGENT_SERF_END_TIMEOUT);
	CU_ASSERT_EQUAL(C.st.timed_out, 1);
	CU_ASSERT_EQUAL(nc_agent_serf_collect_count(&C), 0);
	CU_ASSERT(nc_agent_serf_collect_next(&C) < 0);
	n = response(m, sizeof(m), "a", 3, 5, false, "late", 4);
	CU_ASSERT_EQUAL(nc_agent_serf_collect_on_msg(&C, m, n), 0);
	CU_ASSERT_EQUAL(C.st.unknown_query, 2);
	CU_ASSERT_EQUAL(s.responses, 0);
	CU_ASSERT_EQUAL(s.done, 1);
}

/* A waiter with enough ends its query at the next expire, whatever the
 * time, never inside on_msg. */
static void
test_collect_enough(void)
{
	char m[128];
	struct seen s = {.enough_at = 2};
	struct nc_agent_serf_waiter w = waiter(&s);
	collect_reset();
	CU_ASSERT_EQUAL(
	    nc_agent_serf_collect_open(&C, 1, 1, false, 5, 50.0, &w), 0);
	size_t n = response(m, sizeof(m), "a", 1, 1, false, "x", 1);
	CU_ASSERT_EQUAL(nc_agent_serf_collect_on_msg(&C, m, n), 1);
	n = response(m, sizeof(m), "b", 1, 1, false, "x", 1);
	CU_ASSERT_EQUAL(nc_agent_serf_collect_on_msg(&C, m, n), 2);
	CU_ASSERT_EQUAL(s.done, 0);
	CU_ASSERT_DOUBLE_EQUAL(nc_agent_serf_collect_next(&C), 0, 1e-12);
	/* After enough, nothing more is taken. */
	n = response(m, sizeof(m), "c", 1, 1, false, "x", 1);
	CU_ASSERT_EQUAL(nc_agent_serf_collect_on_msg(&C, m, n), 0);
	nc_agent_serf_collect_expire(&C, 1.0);
	CU_ASSERT_EQUAL(s.done, 1);
	CU_ASSERT_EQUAL(s.why, NC_AGENT_SERF_END_ENOUGH);
	CU_ASSERT_EQUAL(s.responses, 2);
	CU_ASSERT_EQUAL(C.st.timed_out, 0);
}

/* At most NC_AGENT_SERF_OPEN_MAX open queries. */
static void
test_collect_table_full(void)
{
	struct seen s[NC_AGENT_SERF_OPEN_MAX + 1];
	memset(s, 0, sizeof(s));
	collect_reset();
	for (int i = 0; i < NC_AGENT_SERF_OPEN_MAX; i++) {
		struct nc_agent_serf_waiter w = waiter(&s[i]);
		CU_ASSERT_EQUAL(nc_agent_serf_collect_open(&C, (uint64_t)i, 1,
							   true, 100000, 9, &w),
				0);
	}
	struct nc_agent_serf_waiter w = waiter(&s[NC_AGENT_SERF_OPEN_MAX]);
	CU_ASSERT_EQUAL(
	    nc_agent_serf_collect_open(&C, 99, 1, true, 1, 9, &w), -EBUSY);
	CU_ASSERT_EQUAL(C.st.busy, 1);
	/* The first tables are bounded whatever the caller asks. */
	CU_ASSERT_EQUAL(C.open[0].acks_cap, NC_AGENT_SERF_NODES_MAX);
	CU_ASSERT_EQUAL(C.open[0].resps_cap, NC_AGENT_SERF_NODES_MAX);
	nc_agent_serf_collect_cancel_all(&C);
	for (int i = 0; i < NC_AGENT_SERF_OPEN_MAX; i++)
		CU_ASSERT_EQUAL(s[i].done, 1);
	CU_ASSERT_EQUAL(s[NC_AGENT_SERF_OPEN_MAX].done, 0);
	CU_ASSERT_EQUAL(nc_agent_serf_collect_count(&C), 0);
}

static size_t
key_resp(char *buf, size_t cap, bool ok, const char *msg, const char *k1,
	 const char *k2)
{
	struct nc_proto_str keys[2] = {nc_proto_cstr(k1 ? k1 : ""),
				       nc_proto_cstr(k2 ? k2 : "")};
	struct nc_proto_serf_key_response r = {
		.keys = keys,
		.keys_n = k2 ? 2 : k1 ? 1 : 0,
		.message = nc_proto_cstr(msg),
		.primary_key = nc_proto_cstr(k1 ? k1 : ""),
		.result = ok,
	};
	int n = nc_proto_encode_serf_key_response(buf, cap, &r);
	CU_ASSERT_FATAL(n > 0);
	return (size_t)n;
}

/* serf's streamKeyResp: counts, errors with their messages, notes, keys. */
static void
test_key_result(void)
{
	static struct nc_agent_key_result r;
	const char *ka = "QMTKNQO4Ch8wHrzpOFSVmVHqap5Z7gsjdJePoAHT0Qk=";
	const char *kb = "T9jncgl9mbLus+baTTa7q7nPSUrXwbDi2dhbtqir37s=";
	char p[512];
	size_t n;
	memset(&r, 0, sizeof(r));
	r.op = NC_AGENT_KEY_LIST;
	r.num_nodes = 5;
	n = key_resp(p, sizeof(p), true, "", ka, kb);
	CU_ASSERT_FALSE(nc_agent_key_result_add(&r, "a", 1, p, n));
	n = key_resp(p, sizeof(p), true, "", ka, NULL);
	CU_ASSERT_FALSE(nc_agent_key_result_add(&r, "b", 1, p, n));
	n = key_resp(p, sizeof(p), false, "Requested key is not in the\x1b[2J "
					  "keyring",
		     NULL, NULL);
	CU_ASSERT_FALSE(nc_agent_key_result_add(&r, "c", 1, p, n));
	/* A note with success (serf's truncated list). */
	n = key_resp(p, sizeof(p), true, "truncated key list response",
		     "not base64!", NULL);
	CU_ASSERT_FALSE(nc_agent_key_result_add(&r, "d", 1, p, n));
	/* Not a key response: an error. */
	CU_ASSERT_TRUE(nc_agent_key_result_add(&r, "e", 1, "\x06\xc0", 2));
	CU_ASSERT_EQUAL(r.num_resp, 5);
	CU_ASSERT_EQUAL(r.num_err, 2);
	CU_ASSERT_EQUAL(r.msgs_n, 3);
	CU_ASSERT_STRING_EQUAL(r.msgs[0].node, "c");
	CU_ASSERT_STRING_EQUAL(r.msgs[0].text,
			       "Requested key is not in the?[2J keyring");
	CU_ASSERT_STRING_EQUAL(r.msgs[1].node, "d");
	CU_ASSERT_STRING_EQUAL(r.msgs[2].text,
			       "Invalid key query response type");
	CU_ASSERT_EQUAL(r.keys_n, 2);
	CU_ASSERT_STRING_EQUAL(r.keys[0].key, ka);
	CU_ASSERT_EQUAL(r.keys[0].count, 2);
	CU_ASSERT_STRING_EQUAL(r.keys[1].key, kb);
	CU_ASSERT_EQUAL(r.keys[1].count, 1);
	CU_ASSERT_EQUAL(r.primary_n, 1);
	CU_ASSERT_EQUAL(r.primary[0].count, 2);
	/* "not base64!" as a key and as a primary: not counted. */
	CU_ASSERT_EQUAL(r.keys_dropped, 2);
}

/* serf's resolveNodeConflict vote: the Member's address against ours. */
static void
test_conflict_vote(void)
{
	struct nc_addr me = {.family = 4, .ip = {127, 0, 0, 1}, .port = 7001};
	uint8_t ip4[4] = {127, 0, 0, 1};
	uint8_t mapped[16] = {[10] = 0xff, [11] = 0xff, 127, 0, 0, 1};
	struct nc_proto_serf_member m = {
		.name = nc_proto_cstr("ca"),
		.addr = {(const char *)ip4, 4},
		.port = 7001,
		.status = 1,
		.vsn = {2, 5, 4, 2, 5, 4},
	};
	char buf[256];
	bool match = false;
	int n = nc_proto_encode_serf_conflict_response(buf, sizeof(buf), &m);
	CU_ASSERT_FATAL(n > 0);
	CU_ASSERT_TRUE(nc_agent_conflict_vote(buf, (size_t)n, &me, &match));
	CU_ASSERT_TRUE(match);
	m.port = 7002;
	n = nc_proto_encode_serf_conflict_response(buf, sizeof(buf), &m);
	CU_ASSERT_TRUE(nc_agent_conflict_vote(buf, (size_t)n, &me, &match));
	CU_ASSERT_FALSE(match);
	m.port = 7001;
	m.addr = (struct nc_proto_str){(const char *)mapped, 16};
	n = nc_proto_encode_serf_conflict_response(buf, sizeof(buf), &m);
	CU_ASSERT_TRUE(nc_agent_conflict_vote(buf, (size_t)n, &me, &match));
	CU_ASSERT_TRUE(match);
	/* A node that does not know the name: a vote, not ours. */
	n = nc_proto_encode_serf_conflict_response(buf, sizeof(buf), NULL);
	match = true;
	CU_ASSERT_TRUE(nc_agent_conflict_vote(buf, (size_t)n, &me, &match));
	CU_ASSERT_FALSE(match);
	/* Not a conflict response, or broken: not a vote. */
	CU_ASSERT_FALSE(nc_agent_conflict_vote("\x08\xc0", 2, &me, &match));
	CU_ASSERT_FALSE(nc_agent_conflict_vote("\x06\x81\xa4" "Addr", 7, &me,
					       &match));
	CU_ASSERT_FALSE(nc_agent_conflict_vote("", 0, &me, &match));
}

int
main(void)
{
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	CU_pSuite s = CU_add_suite("serf_collect", NULL, NULL);
	if (s == NULL ||
	    CU_add_test(s, "query encode", test_query_encode) == NULL ||
	    CU_add_test(s, "dedup and bounds", test_collect_dedup_bounds) ==
		NULL ||
	    CU_add_test(s, "timeout", test_collect_timeout) == NULL ||
	    CU_add_test(s, "enough", test_collect_enough) == NULL ||
	    CU_add_test(s, "table full", test_collect_table_full) == NULL ||
	    CU_add_test(s, "key result", test_key_result) == NULL ||
	    CU_add_test(s, "conflict vote", test_conflict_vote) == NULL) {
		CU_cleanup_registry();
		return 1;
	}
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	unsigned failed = CU_get_number_of_failures();
	collect_reset();
	CU_cleanup_registry();
	return failed == 0 ? 0 : 1;
}
