/*
 * Tests of the latency env decorator (loop/latency.c), a TEST
 * FACILITY that makes a loopback cluster see the RTTs of a matrix.
 *
 * Story: three simulated nodes with a zero-latency network. Node 0's env is
 * wrapped in the decorator with a 3x3 matrix, so everything node 0 sends
 * must arrive exactly half the listed RTT later, in order, and the
 * decorator's caps and fallbacks (unknown destination, missing entry, full
 * queue, oversize datagram, stream timeout and cancel) must behave as
 * loop/latency.h documents. Then the rules: loss drops its share of node
 * 0's datagrams, partition and block cut node 0 off from the rows they
 * name (datagrams dropped, streams refused) and nothing else, an empty
 * text heals, and a bad text changes nothing. Time moves only when the
 * simulator steps.
 */
#include <CUnit/Basic.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "loop/latency.h"
#include "sim/sim.h"

/*
 * RTTs in ms. Row 0 -> 1 is 100 but 1 -> 0 is 80 (asymmetric), 0 -> 2 is
 * missing with a known reverse (40), row 3 is a node not in the map.
 */
static const double matrix[4 * 4] = {
	0,   100, -1, -1,
	80,  0,   60, 10,
	40,  60,  0,  10,
	-1,  10,  10, 0,
};

/** What a receiving node saw. */
struct rx {
	int n;
	double t[16];
	char first[16];
};

static void
rx_packet(void *ctx, const struct nc_addr *from, const char *buf, size_t len,
	  double rx_time)
{
	struct rx *r = ctx;
	(void)from;
	if (r->n < 16) {
		r->t[r->n] = rx_time;
		r->first[r->n] = len > 0 ? buf[0] : 0;
	}
	r->n++;
}

static double stream_rx_time;
static struct sim_world *world;

static int
rx_stream(void *ctx, const struct nc_addr *from, const char *req,
	  size_t req_len, struct nc_buf *reply)
{
	struct rx *r = ctx;
	(void)from;
	(void)req;
	(void)req_len;
	r->n++;
	stream_rx_time = sim_now(world);
	static char pong[] = "pong";
	reply->data = realloc(reply->data, sizeof(pong));
	memcpy(reply->data, pong, sizeof(pong));
	reply->len = sizeof(pong);
	reply->cap = sizeof(pong);
	return 0;
}

/** Result of a stream request. */
struct done {
	int calls;
	int status;
	double t;
	char reply[16];
};

static void
stream_done(void *arg, int status, const char *reply, size_t len)
{
	struct done *d = arg;
	d->calls++;
	d->status = status;
	d->t = sim_now(world);
	if (reply != NULL && len < sizeof(d->reply))
		memcpy(d->reply, reply, len);
}

/** The fixture: world, nodes 0..3, node 0 wrapped, receivers on 1..3. */
struct fx {
	struct sim_node *node[4];
	struct nc_env *lat;
	struct rx rx[4];
};

static void
fx_setup(struct fx *f, size_t max_packets)
{
	memset(f, 0, sizeof(*f));
	world = sim_world_new(7);
	sim_set_latency_const(world, 0);
	char name[8];
	for (int i = 0; i < 4; i++) {
		snprintf(name, sizeof(name), "n%d", i);
		f->node[i] = sim_node_add(world, name);
		struct nc_env_sink s = {.ctx = &f->rx[i],
					.on_packet = rx_packet,
					.on_stream = rx_stream};
		if (i > 0)
			nc_env_set_sink(sim_node_env(f->node[i]), &s);
	}
	/* Rows 0..2 in the map; node 3 is unknown. */
	struct nc_env_latency_peer peers[3];
	memset(peers, 0, sizeof(peers));
	for (int i = 0; i < 3; i++) {
		peers[i].addr = *sim_node_addr(f->node[i]);
		peers[i].row = i;
	}
	struct nc_env_latency_config c = {
		.rtt_ms = matrix, .n = 4, .self_row = 0,
		.peers = peers, .peers_n = 3, .max_packets = max_packets,
	};
	char err[128];
	f->lat = nc_env_latency_new(sim_node_env(f->node[0]), &c, err,
				    sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(f->lat);
}

static void
fx_teardown(struct fx *f)
{
	nc_env_latency_delete(f->lat);
	sim_world_delete(world);
	world = NULL;
}

static int
send_to(struct fx *f, int node, char tag, size_t len)
{
	char buf[4096];
	memset(buf, tag, sizeof(buf));
	return f->lat->ops->send_packet(f->lat, sim_node_addr(f->node[node]),
					buf, len);
}

static void
test_packet_delay_is_half_rtt(void)
{
	struct fx f;
	fx_setup(&f, 0);
	CU_ASSERT_EQUAL(send_to(&f, 1, 'a', 100), 0);
	CU_ASSERT_EQUAL(send_to(&f, 2, 'b', 100), 0);
	sim_run_until(world, 1.0);
	CU_ASSERT_EQUAL(f.rx[1].n, 1);
	CU_ASSERT_DOUBLE_EQUAL(f.rx[1].t[0], 0.050, 1e-9);
	/* 0 -> 2 is missing: the reverse (40 ms) is used. */
	CU_ASSERT_EQUAL(f.rx[2].n, 1);
	CU_ASSERT_DOUBLE_EQUAL(f.rx[2].t[0], 0.020, 1e-9);
	CU_ASSERT_DOUBLE_EQUAL(nc_env_latency_delay(f.lat,
						    sim_node_addr(f.node[1])),
			       0.050, 1e-12);
	const struct nc_env_latency_stats *st = nc_env_latency_stats(f.lat);
	CU_ASSERT_EQUAL(st->packets_delayed, 2);
	CU_ASSERT_EQUAL(st->queued_now, 0);
	CU_ASSERT_EQUAL(st->queued_max, 2);
	fx_teardown(&f);
}

static void
test_packet_order_kept(void)
{
	struct fx f;
	fx_setup(&f, 0);
	/* Five to node 1 at t = 0, 0.01, ...; one to node 2 in between. */
	for (int i = 0; i < 5; i++) {
		sim_run_until(world, 0.01 * i);
		CU_ASSERT_EQUAL(send_to(&f, 1, (char)('0' + i), 10), 0);
		if (i == 2)
			CU_ASSERT_EQUAL(send_to(&f, 2, 'x', 10), 0);
	}
	sim_run_until(world, 1.0);
	CU_ASSERT_EQUAL_FATAL(f.rx[1].n, 5);
	for (int i = 0; i < 5; i++) {
		CU_ASSERT_EQUAL(f.rx[1].first[i], '0' + i);
		CU_ASSERT_DOUBLE_EQUAL(f.rx[1].t[i], 0.05 + 0.01 * i, 1e-9);
	}
	/* Sent after packets 0..2 to node 1 but with a shorter delay. */
	CU_ASSERT_DOUBLE_EQUAL(f.rx[2].t[0], 0.02 + 0.02, 1e-9);
	fx_teardown(&f);
}

static void
test_queue_cap_drops_and_recovers(void)
{
	struct fx f;
	fx_setup(&f, 3);
	for (int i = 0; i < 5; i++)
		CU_ASSERT_EQUAL(send_to(&f, 1, 'q', 10), 0);
	const struct nc_env_latency_stats *st = nc_env_latency_stats(f.lat);
	CU_ASSERT_EQUAL(st->packets_delayed, 3);
	CU_ASSERT_EQUAL(st->drop_queue_full, 2);
	CU_ASSERT_EQUAL(st->queued_now, 3);
	sim_run_until(world, 0.1);
	CU_ASSERT_EQUAL(f.rx[1].n, 3);
	/* Slots are free again. */
	CU_ASSERT_EQUAL(send_to(&f, 1, 'r', 10), 0);
	sim_run_until(world, 0.2);
	CU_ASSERT_EQUAL(f.rx[1].n, 4);
	CU_ASSERT_EQUAL(st->drop_queue_full, 2);
	CU_ASSERT_EQUAL(st->queued_now, 0);
	fx_teardown(&f);
}

static void
test_oversize_dropped(void)
{
	struct fx f;
	fx_setup(&f, 0);
	CU_ASSERT_EQUAL(send_to(&f, 1, 'o', NC_ENV_LATENCY_SLOT_BYTES + 1),
			-EMSGSIZE);
	CU_ASSERT_EQUAL(send_to(&f, 1, 'o', NC_ENV_LATENCY_SLOT_BYTES), 0);
	sim_run_until(world, 1.0);
	CU_ASSERT_EQUAL(f.rx[1].n, 1);
	CU_ASSERT_EQUAL(nc_env_latency_stats(f.lat)->drop_oversize, 1);
	fx_teardown(&f);
}

static void
test_unknown_destination_not_delayed(void)
{
	struct fx f;
	fx_setup(&f, 0);
	CU_ASSERT_EQUAL(send_to(&f, 3, 'u', 10), 0);
	sim_run_until(world, 1.0);
	CU_ASSERT_EQUAL(f.rx[3].n, 1);
	CU_ASSERT_DOUBLE_EQUAL(f.rx[3].t[0], 0.0, 1e-12);
	const struct nc_env_latency_stats *st = nc_env_latency_stats(f.lat);
	CU_ASSERT_EQUAL(st->unknown_dest, 1);
	CU_ASSERT_EQUAL(st->packets_direct, 1);
	fx_teardown(&f);
}

static void
test_missing_both_ways_not_delayed(void)
{
	/* Row 0 <-> row 3 missing both ways; map node 3 to row 3. */
	struct fx f;
	fx_setup(&f, 0);
	nc_env_latency_delete(f.lat);
	struct nc_env_latency_peer p = {.addr = *sim_node_addr(f.node[3]),
					.row = 3};
	struct nc_env_latency_config c = {.rtt_ms = matrix, .n = 4,
					  .self_row = 0, .peers = &p,
					  .peers_n = 1};
	f.lat = nc_env_latency_new(sim_node_env(f.node[0]), &c, NULL, 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(f.lat);
	CU_ASSERT_EQUAL(send_to(&f, 3, 'm', 10), 0);
	sim_run_until(world, 1.0);
	CU_ASSERT_DOUBLE_EQUAL(f.rx[3].t[0], 0.0, 1e-12);
	CU_ASSERT_EQUAL(nc_env_latency_stats(f.lat)->missing_entry, 2);
	fx_teardown(&f);
}

static void
test_inbound_forwarded(void)
{
	/* Node 1 sends to node 0 (undecorated sender): node 0's sink sees it. */
	struct fx f;
	fx_setup(&f, 0);
	struct rx mine = {0};
	struct nc_env_sink s = {.ctx = &mine, .on_packet = rx_packet};
	nc_env_set_sink(f.lat, &s);
	struct nc_env *e1 = sim_node_env(f.node[1]);
	CU_ASSERT_EQUAL(e1->ops->send_packet(e1, sim_node_addr(f.node[0]), "i",
					     1), 0);
	sim_run_until(world, 1.0);
	CU_ASSERT_EQUAL(mine.n, 1);
	CU_ASSERT_DOUBLE_EQUAL(mine.t[0], 0.0, 1e-12);
	fx_teardown(&f);
}

static void
test_stream_request_and_reply_delayed(void)
{
	struct fx f;
	fx_setup(&f, 0);
	struct done d = {0};
	long id = f.lat->ops->stream_request(f.lat, sim_node_addr(f.node[1]),
					     "ping", 4, 1, 5.0, stream_done,
					     &d);
	CU_ASSERT(id > 0);
	sim_run_until(world, 2.0);
	CU_ASSERT_EQUAL(f.rx[1].n, 1);
	/* Request after M[0][1]/2, reply M[1][0]/2 after that. */
	CU_ASSERT_DOUBLE_EQUAL(stream_rx_time, 0.050, 1e-9);
	CU_ASSERT_EQUAL(d.calls, 1);
	CU_ASSERT_EQUAL(d.status, 0);
	CU_ASSERT_DOUBLE_EQUAL(d.t, 0.090, 1e-9);
	CU_ASSERT_STRING_EQUAL(d.reply, "pong");
	CU_ASSERT_EQUAL(nc_env_latency_stats(f.lat)->streams_delayed, 1);
	fx_teardown(&f);
}

static void
test_stream_cancel_before_departure(void)
{
	struct fx f;
	fx_setup(&f, 0);
	struct done d = {0};
	long id = f.lat->ops->stream_request(f.lat, sim_node_addr(f.node[1]),
					     "ping", 4, 1, 5.0, stream_done,
					     &d);
	CU_ASSERT(id > 0);
	sim_run_until(world, 0.01);
	f.lat->ops->stream_cancel(f.lat, id);
	sim_run_until(world, 2.0);
	CU_ASSERT_EQUAL(f.rx[1].n, 0);
	CU_ASSERT_EQUAL(d.calls, 0);
	fx_teardown(&f);
}

static void
test_stream_cancel_in_flight(void)
{
	struct fx f;
	fx_setup(&f, 0);
	struct done d = {0};
	long id = f.lat->ops->stream_request(f.lat, sim_node_addr(f.node[1]),
					     "ping", 4, 1, 5.0, stream_done,
					     &d);
	sim_run_until(world, 0.07); /* served at 0.05, reply due at 0.09 */
	CU_ASSERT_EQUAL(f.rx[1].n, 1);
	f.lat->ops->stream_cancel(f.lat, id);
	sim_run_until(world, 2.0);
	CU_ASSERT_EQUAL(d.calls, 0);
	fx_teardown(&f);
}

static void
test_stream_timeout_shorter_than_rtt(void)
{
	struct fx f;
	fx_setup(&f, 0);
	struct done d = {0};
	long id = f.lat->ops->stream_request(f.lat, sim_node_addr(f.node[1]),
					     "ping", 4, 1, 0.06, stream_done,
					     &d);
	CU_ASSERT(id > 0);
	sim_run_until(world, 2.0);
	CU_ASSERT_EQUAL(f.rx[1].n, 0);
	CU_ASSERT_EQUAL(d.calls, 1);
	CU_ASSERT_EQUAL(d.status, -ETIMEDOUT);
	CU_ASSERT_DOUBLE_EQUAL(d.t, 0.06, 1e-9);
	fx_teardown(&f);
}

static void
test_delete_with_pending(void)
{
	/* Pending datagrams and streams are dropped without callbacks. */
	struct fx f;
	fx_setup(&f, 0);
	struct done d = {0};
	send_to(&f, 1, 'p', 10);
	f.lat->ops->stream_request(f.lat, sim_node_addr(f.node[1]), "ping", 4,
				   1, 5.0, stream_done, &d);
	nc_env_latency_delete(f.lat);
	f.lat = NULL;
	sim_run_until(world, 2.0);
	CU_ASSERT_EQUAL(f.rx[1].n, 0);
	CU_ASSERT_EQUAL(d.calls, 0);
	sim_world_delete(world);
}

static char *
write_tmp(const char *text)
{
	static char path[64];
	snprintf(path, sizeof(path), "/tmp/nc-latency-test.XXXXXX");
	int fd = mkstemp(path);
	if (fd < 0)
		return NULL;
	size_t n = strlen(text);
	if (write(fd, text, n) != (ssize_t)n) {
		close(fd);
		return NULL;
	}
	close(fd);
	return path;
}

static void
test_matrix_load(void)
{
	double *m = NULL;
	size_t n = 0;
	char err[256] = "";
	char *p = write_tmp("# comment\n0 10.5 -1\n10 0 20\n\n-1 20 0\n");
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	CU_ASSERT_EQUAL(nc_env_latency_matrix_load(p, &m, &n, err,
						   sizeof(err)), 0);
	CU_ASSERT_EQUAL(n, 3);
	CU_ASSERT_DOUBLE_EQUAL(m[1], 10.5, 1e-12);
	CU_ASSERT_DOUBLE_EQUAL(m[2], -1, 1e-12);
	CU_ASSERT_DOUBLE_EQUAL(m[7], 20, 1e-12);
	free(m);
	unlink(p);

	p = write_tmp("0 1 2\n1 0\n2 1 0\n");
	CU_ASSERT_EQUAL(nc_env_latency_matrix_load(p, &m, &n, err,
						   sizeof(err)), -EINVAL);
	CU_ASSERT_PTR_NULL(m);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, ":2: expected 3 values, got 2"));
	unlink(p);

	p = write_tmp("0 1\n1 0\n1 1\n");
	CU_ASSERT_EQUAL(nc_env_latency_matrix_load(p, &m, &n, err,
						   sizeof(err)), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "not square"));
	unlink(p);

	p = write_tmp("0 x\n1 0\n");
	CU_ASSERT_EQUAL(nc_env_latency_matrix_load(p, &m, &n, err,
						   sizeof(err)), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "not a number"));
	unlink(p);
}

static void
test_map_load_and_find(void)
{
	struct nc_env_latency_peer *v = NULL;
	size_t n = 0;
	char err[256] = "";
	char *p = write_tmp("# addr row name\n127.0.0.1:7000 2 a\n"
			    "127.0.0.1:7001 0\n[::1]:7002 1 c\n");
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	CU_ASSERT_EQUAL(nc_env_latency_map_load(p, 3, &v, &n, err,
						sizeof(err)), 0);
	CU_ASSERT_EQUAL_FATAL(n, 3);
	CU_ASSERT_EQUAL(v[0].row, 2);
	CU_ASSERT_EQUAL(v[0].addr.port, 7000);
	CU_ASSERT_STRING_EQUAL(v[1].name, "");
	CU_ASSERT_EQUAL(v[2].addr.family, 6);
	struct nc_addr a;
	nc_addr_parse("127.0.0.1:7001", 0, &a);
	CU_ASSERT_EQUAL(nc_env_latency_map_find(v, n, "c", &a), 1);
	CU_ASSERT_EQUAL(nc_env_latency_map_find(v, n, "zz", &a), 0);
	CU_ASSERT_EQUAL(nc_env_latency_map_find(v, n, NULL, NULL), -1);
	free(v);
	unlink(p);

	p = write_tmp("127.0.0.1:7000 3\n");
	CU_ASSERT_EQUAL(nc_env_latency_map_load(p, 3, &v, &n, err,
						sizeof(err)), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, ":1: row 3 outside"));
	unlink(p);

	p = write_tmp("127.0.0.1 1\n");
	CU_ASSERT_EQUAL(nc_env_latency_map_load(p, 3, &v, &n, err,
						sizeof(err)), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "invalid address"));
	unlink(p);
}

static void
test_bad_config(void)
{
	struct sim_world *w = sim_world_new(1);
	struct sim_node *n = sim_node_add(w, "x");
	char err[128] = "";
	struct nc_env_latency_config c = {.rtt_ms = matrix, .n = 4,
					  .self_row = 4};
	CU_ASSERT_PTR_NULL(nc_env_latency_new(sim_node_env(n), &c, err,
					      sizeof(err)));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "own row 4"));
	struct nc_env_latency_peer p = {.row = 9};
	c.self_row = 0;
	c.peers = &p;
	c.peers_n = 1;
	CU_ASSERT_PTR_NULL(nc_env_latency_new(sim_node_env(n), &c, err,
					      sizeof(err)));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "map row 9"));
	sim_world_delete(w);
}

/* ------------------------------------------------------------------ */
/* Rules                                                              */
/* ------------------------------------------------------------------ */

/** One datagram from node 0 to each of nodes 1..3; who got one. */
static void
send_round(struct fx *f, int got[4])
{
	int before[4];
	for (int i = 1; i < 4; i++) {
		before[i] = f->rx[i].n;
		CU_ASSERT_EQUAL(send_to(f, i, 'r', 10), 0);
	}
	sim_run_until(world, sim_now(world) + 1.0);
	for (int i = 1; i < 4; i++)
		got[i] = f->rx[i].n - before[i];
}

static int
rules(struct fx *f, const char *text)
{
	char err[256] = "";
	int rc = nc_env_latency_rules_set(f->lat, text, err, sizeof(err));
	if (rc != 0)
		fprintf(stderr, "rules: %s\n", err);
	return rc;
}

static void
test_rules_loss(void)
{
	struct fx f;
	fx_setup(&f, 0);
	CU_ASSERT_EQUAL_FATAL(rules(&f, "# 30 %\nloss 0.3\n"), 0);
	for (int i = 0; i < 1000; i++) {
		CU_ASSERT_EQUAL(send_to(&f, 1, 'l', 10), 0);
		if (i % 100 == 99)
			sim_run_until(world, sim_now(world) + 0.1);
	}
	sim_run_until(world, sim_now(world) + 1.0);
	const struct nc_env_latency_stats *st = nc_env_latency_stats(f.lat);
	/* Seeded: the share is near 0.3 (binomial, sd ~14.5 of 1000). */
	CU_ASSERT(st->packets_lost >= 240 && st->packets_lost <= 360);
	CU_ASSERT_EQUAL(f.rx[1].n, 1000 - (int)st->packets_lost);
	CU_ASSERT_EQUAL(st->packets_delayed, 1000 - st->packets_lost);
	/* Streams are not lost. */
	struct done d = {0};
	CU_ASSERT(f.lat->ops->stream_request(f.lat, sim_node_addr(f.node[1]),
					     "ping", 4, 1, 5.0, stream_done,
					     &d) > 0);
	sim_run_until(world, sim_now(world) + 1.0);
	CU_ASSERT_EQUAL(d.status, 0);
	/* loss 1: everything; an empty text heals. */
	CU_ASSERT_EQUAL(rules(&f, "loss 1"), 0);
	int got[4];
	send_round(&f, got);
	CU_ASSERT(got[1] == 0 && got[2] == 0 && got[3] == 0);
	CU_ASSERT_EQUAL(rules(&f, ""), 0);
	uint64_t lost = st->packets_lost;
	send_round(&f, got);
	CU_ASSERT(got[1] == 1 && got[2] == 1 && got[3] == 1);
	CU_ASSERT_EQUAL(st->packets_lost, lost);
	fx_teardown(&f);
}

static void
test_rules_partition(void)
{
	struct fx f;
	fx_setup(&f, 0);
	int got[4];
	/* Node 0 (row 0) with row 1 against row 2. */
	CU_ASSERT_EQUAL_FATAL(rules(&f, "partition 0,1 | 2"), 0);
	send_round(&f, got);
	CU_ASSERT_EQUAL(got[1], 1);
	CU_ASSERT_EQUAL(got[2], 0);
	CU_ASSERT_EQUAL(got[3], 1); /* not in the map: never blocked */
	/* Row 0 against rows 1 and 2 (a range): streams refused at once. */
	CU_ASSERT_EQUAL(rules(&f, "partition 0 | 1-2"), 0);
	send_round(&f, got);
	CU_ASSERT(got[1] == 0 && got[2] == 0 && got[3] == 1);
	struct done d = {0};
	CU_ASSERT_EQUAL(f.lat->ops->stream_request(f.lat,
						   sim_node_addr(f.node[1]),
						   "ping", 4, 1, 5.0,
						   stream_done, &d),
			-ECONNREFUSED);
	sim_run_until(world, sim_now(world) + 1.0);
	CU_ASSERT_EQUAL(d.calls, 0);
	CU_ASSERT_EQUAL(f.rx[1].n, 1); /* the stream never reached node 1 */
	const struct nc_env_latency_stats *st = nc_env_latency_stats(f.lat);
	CU_ASSERT_EQUAL(st->packets_blocked, 3);
	CU_ASSERT_EQUAL(st->streams_blocked, 1);
	char sum[128];
	nc_env_latency_rules_summary(f.lat, sum, sizeof(sum));
	CU_ASSERT_STRING_EQUAL(sum, "loss 0.000, 2 of 3 mapped peers blocked");
	/* A partition we are not part of: nothing cut for us. */
	CU_ASSERT_EQUAL(rules(&f, "partition 1 | 2"), 0);
	send_round(&f, got);
	CU_ASSERT(got[1] == 1 && got[2] == 1 && got[3] == 1);
	nc_env_latency_rules_summary(f.lat, sum, sizeof(sum));
	CU_ASSERT_STRING_EQUAL(sum, "no rules");
	/* Healed: streams flow again. */
	CU_ASSERT(f.lat->ops->stream_request(f.lat, sim_node_addr(f.node[1]),
					     "ping", 4, 1, 5.0, stream_done,
					     &d) > 0);
	sim_run_until(world, sim_now(world) + 1.0);
	CU_ASSERT_EQUAL(d.calls, 1);
	CU_ASSERT_EQUAL(d.status, 0);
	fx_teardown(&f);
}

static void
test_rules_block(void)
{
	struct fx f;
	fx_setup(&f, 0);
	int got[4];
	CU_ASSERT_EQUAL_FATAL(rules(&f, "block 2"), 0);
	send_round(&f, got);
	CU_ASSERT(got[1] == 1 && got[2] == 0 && got[3] == 1);
	/* Blocking ourselves cuts every mapped row; adds up with loss. */
	CU_ASSERT_EQUAL(rules(&f, "block 0\nloss 0.5  # and loss\n"), 0);
	send_round(&f, got);
	CU_ASSERT(got[1] == 0 && got[2] == 0);
	struct done d = {0};
	CU_ASSERT_EQUAL(f.lat->ops->stream_request(f.lat,
						   sim_node_addr(f.node[2]),
						   "ping", 4, 1, 5.0,
						   stream_done, &d),
			-ECONNREFUSED);
	char sum[128];
	nc_env_latency_rules_summary(f.lat, sum, sizeof(sum));
	CU_ASSERT_STRING_EQUAL(sum, "loss 0.500, 3 of 3 mapped peers blocked");
	/* Several lines add up. */
	CU_ASSERT_EQUAL(rules(&f, "block 1\nblock 2\n"), 0);
	send_round(&f, got);
	CU_ASSERT(got[1] == 0 && got[2] == 0 && got[3] == 1);
	fx_teardown(&f);
}

static void
test_rules_bad_text_changes_nothing(void)
{
	static const struct {
		const char *text, *msg;
	} bad[] = {
		{"loss 1.5", "line 1: \"loss\" wants a share in 0..1"},
		{"loss", "\"loss\" wants a share"},
		{"loss 0.1 0.2", "\"loss\" wants a share"},
		{"\n\nblock 4", "line 3: row 4 outside the 4-row matrix"},
		{"block", "line 1: no rows"},
		{"block 1x", "expected row numbers"},
		{"block -1", "expected row numbers"},
		{"block 2-1", "range 2-1 goes down"},
		{"block 1-9", "row 9 outside"},
		{"partition 0 1", "wants ROWS | ROWS"},
		{"partition 0 | 1 | 2", "wants ROWS | ROWS"},
		{"partition 0 | ", "no rows"},
		{"partition 0 1 | 1", "row 1 on both sides"},
		{"freeze", "SIGSTOP"},
		{"drop 0.1", "unknown rule \"drop\""},
	};
	struct fx f;
	fx_setup(&f, 0);
	CU_ASSERT_EQUAL_FATAL(rules(&f, "block 2"), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char err[256] = "";
		CU_ASSERT_EQUAL(nc_env_latency_rules_set(f.lat, bad[i].text, err,
							 sizeof(err)),
				-EINVAL);
		if (strstr(err, bad[i].msg) == NULL)
			fprintf(stderr, "\"%s\": got \"%s\"\n", bad[i].text,
				err);
		CU_ASSERT_PTR_NOT_NULL(strstr(err, bad[i].msg));
	}
	/* Still "block 2", nothing lost. */
	int got[4];
	send_round(&f, got);
	CU_ASSERT(got[1] == 1 && got[2] == 0 && got[3] == 1);
	CU_ASSERT_EQUAL(nc_env_latency_stats(f.lat)->packets_lost, 0);
	fx_teardown(&f);
}

static void
test_rules_file(void)
{
	struct fx f;
	fx_setup(&f, 0);
	char err[256] = "";
	char *p = write_tmp("# chaos\nloss 0\npartition 0 | 1\n");
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	CU_ASSERT_EQUAL(nc_env_latency_rules_load(f.lat, p, err, sizeof(err)),
			0);
	int got[4];
	send_round(&f, got);
	CU_ASSERT(got[1] == 0 && got[2] == 1);
	unlink(p);
	p = write_tmp("block 1\nblock 7\n");
	CU_ASSERT_EQUAL(nc_env_latency_rules_load(f.lat, p, err, sizeof(err)),
			-EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, ":2: row 7 outside"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, p));
	unlink(p);
	CU_ASSERT_EQUAL(nc_env_latency_rules_load(f.lat, p, err, sizeof(err)),
			-ENOENT);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "No such file"));
	/* The rules of the first file are still in force. */
	send_round(&f, got);
	CU_ASSERT(got[1] == 0 && got[2] == 1);
	fx_teardown(&f);
}

int
main(void)
{
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	CU_pSuite s = CU_add_suite("env_latency", NULL, NULL);
	if (s == NULL) {
		CU_cleanup_registry();
		return 2;
	}
	CU_add_test(s, "packet delay is half the RTT",
		    test_packet_delay_is_half_rtt);
	CU_add_test(s, "packet order kept", test_packet_order_kept);
	CU_add_test(s, "queue cap drops and recovers",
		    test_queue_cap_drops_and_recovers);
	CU_add_test(s, "oversize datagram dropped", test_oversize_dropped);
	CU_add_test(s, "unknown destination not delayed",
		    test_unknown_destination_not_delayed);
	CU_add_test(s, "missing both ways not delayed",
		    test_missing_both_ways_not_delayed);
	CU_add_test(s, "inbound forwarded", test_inbound_forwarded);
	CU_add_test(s, "stream request and reply delayed",
		    test_stream_request_and_reply_delayed);
	CU_add_test(s, "stream cancel before departure",
		    test_stream_cancel_before_departure);
	CU_add_test(s, "stream cancel in flight",
		    test_stream_cancel_in_flight);
	CU_add_test(s, "stream timeout shorter than RTT",
		    test_stream_timeout_shorter_than_rtt);
	CU_add_test(s, "delete with pending traffic",
		    test_delete_with_pending);
	CU_add_test(s, "matrix file", test_matrix_load);
	CU_add_test(s, "map file", test_map_load_and_find);
	CU_add_test(s, "bad config", test_bad_config);
	CU_add_test(s, "rules: loss", test_rules_loss);
	CU_add_test(s, "rules: partition", test_rules_partition);
	CU_add_test(s, "rules: block", test_rules_block);
	CU_add_test(s, "rules: a bad text changes nothing",
		    test_rules_bad_text_changes_nothing);
	CU_add_test(s, "rules: file", test_rules_file);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	unsigned failures = CU_get_number_of_failures() +
			    CU_get_number_of_tests_failed();
	CU_cleanup_registry();
	return failures == 0 ? 0 : 1;
}
