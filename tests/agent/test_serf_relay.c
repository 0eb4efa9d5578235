/*
 * tests/agent/test_serf_relay.c - agent/serf_relay.c: a netcoord agent
 * rebroadcasts serf join/leave intents the way serf does: only newer ones
 * (LTime) per node, never about itself, each a bounded number of times.
 */
#include <CUnit/Basic.h>
#include <stdio.h>
#include <string.h>

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
	/* Not an intent (user event type 3): ignored. */
	m[0] = 3;
	CU_ASSERT_EQUAL(nc_agent_serf_relay_on_msg(&r, m, n, 2), 0);
	/* A newer join for another node. */
	size_t j = join_msg(m, sizeof(m), "n2", 1);
	CU_ASSERT_EQUAL(nc_agent_serf_relay_on_msg(&r, m, j, 1), 1);

	/* 2 + 1 transmissions in all, then nothing. */
	int leaves = 0, joins = 0;
	for (int i = 0; i < 5; i++) {
		size_t k = nc_agent_serf_relay_take(&r, out, sizeof(out));
		if (k == 0)
			break;
		if (out[0] == NC_PROTO_SERF_LEAVE)
			leaves++;
		else if (out[0] == NC_PROTO_SERF_JOIN)
			joins++;
	}
	CU_ASSERT_EQUAL(leaves, 2);
	CU_ASSERT_EQUAL(joins, 1);
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
	memset(&r, 0, sizeof(r));
	for (int i = 0; i < NC_AGENT_SERF_RELAY_QUEUE + 5; i++) {
		snprintf(name, sizeof(name), "node%d", i);
		size_t n = leave_msg(m, sizeof(m), name, 1);
		CU_ASSERT_EQUAL(nc_agent_serf_relay_on_msg(&r, m, n, 1), 1);
	}
	CU_ASSERT_EQUAL(r.q_len, NC_AGENT_SERF_RELAY_QUEUE);
	int got = 0;
	while (nc_agent_serf_relay_take(&r, out, sizeof(out)) > 0)
		got++;
	CU_ASSERT_EQUAL(got, NC_AGENT_SERF_RELAY_QUEUE);
}

int
main(void)
{
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	CU_pSuite s = CU_add_suite("serf_relay", NULL, NULL);
	CU_add_test(s, "rules", test_relay_rules);
	CU_add_test(s, "queue_cap", test_relay_queue_cap);
	CU_add_test(s, "bad_names", test_relay_bad_names);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	unsigned fails = CU_get_number_of_failures();
	CU_cleanup_registry();
	return fails == 0 ? 0 : 1;
}
