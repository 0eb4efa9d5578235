/*
 * test_socket.c - the paths that need libmicrohttpd on a real socket
 * (127.0.0.1, port 0), driven from this thread: the client socket is
 * non-blocking and the env's loop is run between its steps.
 *
 *   - 413 for a body over the limit (counted before any handler runs);
 *   - PUT /v1/agent/join suspends the connection until the push/pull is
 *     over, then answers (502 when nobody answers, 200 {"Joined":1});
 *   - query arguments parsed by MHD (repeated tag=, percent-encoding)
 *     and the response headers (Content-Type, Allow, Location, ETag);
 *   - the Host check against DNS rebinding (issue 9 row 3);
 *   - slow clients: per-address connection limit and request deadline
 *     (issue 9 row 6).
 */
#define _GNU_SOURCE /* memmem */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <CUnit/CUnit.h>

#include "api/api.h"
#include "loop/loop.h"
#include "gossip/gossip.h"
#include "tests/api/harness.h"

struct box {
	struct nc_env *env, *env2;
	/** The agent served (sock-a) and a bare gossip peer (sock-b). */
	struct nc_agent *agent;
	struct nc_gossip *g2;
	struct nc_api *api;
	struct nc_addr gaddr2;
};

static struct nc_gossip *
gossip_new(struct nc_env *env, const char *name)
{
	struct nc_gossip_config gc;
	char err[128];
	nc_gossip_config_default(&gc, NC_GOSSIP_PROFILE_LOCAL);
	snprintf(gc.name, sizeof(gc.name), "%s", name);
	nc_env_real_local_addr(env, &gc.advertise);
	struct nc_gossip *g = nc_gossip_new(env, &gc, NULL, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(g);
	CU_ASSERT_EQUAL(nc_gossip_start(g), 0);
	return g;
}

static void
box_open(struct box *b)
{
	char err[128];
	memset(b, 0, sizeof(*b));
	b->env = th_env_real_new();
	b->agent = th_real_agent_new(b->env, "sock-a", NULL);
	b->env2 = th_env_real_new();
	b->g2 = gossip_new(b->env2, "sock-b");
	nc_env_real_local_addr(b->env2, &b->gaddr2);
	struct nc_api_config cfg;
	nc_api_config_default(&cfg);
	nc_addr_parse("127.0.0.1:0", 0, &cfg.addr);
	cfg.allow_unauthenticated_writes = true;
	b->api = nc_api_new(b->env, b->agent, &cfg, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(b->api);
	CU_ASSERT(nc_api_port(b->api) > 0);
}

static void
box_close(struct box *b)
{
	nc_api_delete(b->api);
	nc_agent_delete(b->agent);
	nc_gossip_delete(b->g2);
	nc_env_real_delete(b->env);
	nc_env_real_delete(b->env2);
}

/**
 * Send @a req (head + body) and read the whole response (the request says
 * Connection: close), running both loops meanwhile. Returns the status;
 * the response (headers + body) in out.
 */
static int
http_src(struct box *b, const char *src, const char *head, const char *body,
	 size_t body_len, char *out, size_t cap)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	CU_ASSERT_FATAL(fd >= 0);
	if (src != NULL) {
		struct sockaddr_in la = {.sin_family = AF_INET};
		inet_pton(AF_INET, src, &la.sin_addr);
		CU_ASSERT_EQUAL(bind(fd, (struct sockaddr *)&la, sizeof(la)),
				0);
	}
	struct sockaddr_in sa = {.sin_family = AF_INET,
				 .sin_port =
				     htons((uint16_t)nc_api_port(b->api))};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fcntl(fd, F_SETFL, O_NONBLOCK);
	connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	size_t hl = strlen(head), sent = 0, total = hl + body_len, got = 0;
	for (int it = 0; it < 2000; it++) {
		nc_env_real_run_once(b->env, 0.002);
		nc_env_real_run_once(b->env2, 0.0);
		while (sent < total) {
			const char *p =
			    sent < hl ? head + sent : body + (sent - hl);
			size_t n = sent < hl ? hl - sent : total - sent;
			ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
			if (w <= 0)
				break;
			sent += (size_t)w;
		}
		ssize_t r = recv(fd, out + got, cap - 1 - got, 0);
		if (r > 0) {
			got += (size_t)r;
			continue;
		}
		if (r == 0 ||
		    (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK &&
		     errno != ENOTCONN && errno != EINPROGRESS && got > 0))
			break;
	}
	close(fd);
	out[got] = '\0';
	int status = 0;
	sscanf(out, "HTTP/1.%*d %d", &status);
	return status;
}

/** http_src() from 127.0.0.1. */
static int
http(struct box *b, const char *head, const char *body, size_t body_len,
     char *out, size_t cap)
{
	return http_src(b, NULL, head, body, body_len, out, cap);
}

static void
test_socket_paths(void)
{
	struct box b;
	char resp[65536], head[512];
	box_open(&b);

	/* 413: 100 KB body. */
	size_t big = 100 * 1024;
	char *body = malloc(big);
	memset(body, 'a', big);
	snprintf(head, sizeof(head),
		 "PUT /v1/agent/keyring/install HTTP/1.1\r\nHost: 127.0.0.1\r\n"
		 "Connection: close\r\nContent-Length: %zu\r\n\r\n",
		 big);
	CU_ASSERT_EQUAL(http(&b, head, body, big, resp, sizeof(resp)), 413);
	CU_ASSERT_PTR_NOT_NULL(strstr(resp, "request body too large"));
	CU_ASSERT_PTR_NOT_NULL(strstr(resp, "application/json"));
	free(body);

	/* Repeated and percent-encoded arguments reach the handler. */
	snprintf(head, sizeof(head),
		 "GET /v1/members?tag=a%%3Ab&status=alive HTTP/1.1\r\n"
		 "Host: 127.0.0.1\r\nConnection: close\r\n\r\n");
	CU_ASSERT_EQUAL(http(&b, head, NULL, 0, resp, sizeof(resp)), 200);
	CU_ASSERT_PTR_NOT_NULL(strstr(resp, "\r\n\r\n[]"));
	snprintf(head, sizeof(head),
		 "GET /v1/members?tag=bad&tag=x%%3Ay HTTP/1.1\r\nHost: 127.0.0.1\r\n"
		 "Connection: close\r\n\r\n");
	CU_ASSERT_EQUAL(http(&b, head, NULL, 0, resp, sizeof(resp)), 400);
	CU_ASSERT_PTR_NOT_NULL(strstr(resp, "\\\"bad\\\""));
	snprintf(head, sizeof(head),
		 "DELETE /v1/members HTTP/1.1\r\nHost: 127.0.0.1\r\n"
		 "Connection: close\r\n\r\n");
	CU_ASSERT_EQUAL(http(&b, head, NULL, 0, resp, sizeof(resp)), 405);
	CU_ASSERT_PTR_NOT_NULL(strstr(resp, "Allow: GET"));
	snprintf(head, sizeof(head),
		 "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
	CU_ASSERT_EQUAL(http(&b, head, NULL, 0, resp, sizeof(resp)), 302);
	CU_ASSERT_PTR_NOT_NULL(strstr(resp, "Location: /ui/"));
	snprintf(head, sizeof(head),
		 "GET /ui/ HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
	CU_ASSERT_EQUAL(http(&b, head, NULL, 0, resp, sizeof(resp)), 200);
	CU_ASSERT_PTR_NOT_NULL(strstr(resp, "ETag: \""));
	CU_ASSERT_PTR_NOT_NULL(strstr(resp, "text/html"));
	snprintf(
	    head, sizeof(head),
	    "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
	CU_ASSERT_EQUAL(http(&b, head, NULL, 0, resp, sizeof(resp)), 200);
	CU_ASSERT_PTR_NOT_NULL(strstr(resp, "text/plain; version=0.0.4"));

	/* join, suspended until the push/pull ends: nobody on port 1. */
	snprintf(
	    head, sizeof(head),
	    "PUT /v1/agent/join?address=127.0.0.1:1 HTTP/1.1\r\nHost: 127.0.0.1\r\n"
	    "Connection: close\r\nContent-Length: 0\r\n\r\n");
	CU_ASSERT_EQUAL(http(&b, head, NULL, 0, resp, sizeof(resp)), 502);
	CU_ASSERT_PTR_NOT_NULL(strstr(resp, "no address answered"));
	/* ... and with the second agent: Joined 1. */
	char a2[64];
	nc_addr_format(&b.gaddr2, a2, sizeof(a2));
	snprintf(head, sizeof(head),
		 "PUT /v1/agent/join?address=%s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
		 "Connection: close\r\nContent-Length: 0\r\n\r\n",
		 a2);
	CU_ASSERT_EQUAL(http(&b, head, NULL, 0, resp, sizeof(resp)), 200);
	CU_ASSERT_PTR_NOT_NULL(strstr(resp, "{\"Joined\":1}"));
	CU_ASSERT(nc_gossip_member_count(nc_agent_gossip(b.agent)) == 2);
	const struct nc_api_stats *st = nc_api_stats(b.api);
	CU_ASSERT_EQUAL(st->by_status[413 - 100], 1);
	CU_ASSERT_EQUAL(st->by_status[502 - 100], 1);
	box_close(&b);
}

/** GET @a path with header line @a host ("" = none, HTTP/1.0). */
static int
get_host(struct box *b, const char *path, const char *host, char *resp,
	 size_t cap)
{
	char head[512];
	if (host[0] == '\0')
		snprintf(head, sizeof(head),
			 "GET %s HTTP/1.0\r\nConnection: close\r\n\r\n", path);
	else
		snprintf(head, sizeof(head),
			 "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n"
			 "\r\n",
			 path, host);
	return http(b, head, NULL, 0, resp, cap);
}

/*
 * Issue 9 row 3 (DNS rebinding): a request whose Host is not a loopback
 * name or address (nor the listen address, nor an allowed host) is
 * refused with 403 and a JSON error, whatever the path; loopback names,
 * 127.0.0.0/8, [::1] and requests without Host pass.
 */
static void
test_host_check(void)
{
	struct box b;
	char resp[65536];
	box_open(&b);
	static const char *const refused[] = {
	    "evil.example", "evil.example:8555", "rebind.attacker.test:80",
	    "127.0.0.1.evil.example", "localhost.evil.example", "10.1.2.3",
	    "[::2]:8555", "",
	};
	for (size_t i = 0; refused[i][0] != '\0'; i++) {
		int st = get_host(&b, "/v1/members", refused[i], resp,
				  sizeof(resp));
		if (st != 403)
			fprintf(stderr, "\nHost: %s -> %d\n", refused[i], st);
		CU_ASSERT_EQUAL(st, 403);
		CU_ASSERT_PTR_NOT_NULL(strstr(resp, "{\"error\":\""));
		CU_ASSERT_PTR_NOT_NULL(strstr(resp, "Host"));
		CU_ASSERT_PTR_NOT_NULL(strstr(resp, "application/json"));
	}
	CU_ASSERT_EQUAL(get_host(&b, "/v1/agent/keyring", "evil.example", resp,
				 sizeof(resp)),
			403);
	CU_ASSERT_EQUAL(
	    get_host(&b, "/ui/", "evil.example", resp, sizeof(resp)), 403);
	char self[64];
	snprintf(self, sizeof(self), "127.0.0.1:%u", nc_api_port(b.api));
	const char *passed[] = {
	    "localhost", "LocalHost:8555", "localhost.", "127.0.0.1",
	    self, "127.9.8.7:1234", "[::1]", "[::1]:8555", "",
	};
	for (size_t i = 0; i < sizeof(passed) / sizeof(passed[0]); i++) {
		int st = get_host(&b, "/v1/members", passed[i], resp,
				  sizeof(resp));
		if (st != 200)
			fprintf(stderr, "\nHost: %s -> %d\n", passed[i], st);
		CU_ASSERT_EQUAL(st, 200);
	}
	box_close(&b);

	/* The listen address and -http-allowed-host names (router only). */
	struct nc_api_config cfg;
	char err[128];
	nc_api_config_default(&cfg);
	nc_addr_parse("10.0.0.5:8555", 0, &cfg.addr);
	snprintf(cfg.allowed_hosts[0], sizeof(cfg.allowed_hosts[0]),
		 "NetCoord.Internal");
	snprintf(cfg.allowed_hosts[1], sizeof(cfg.allowed_hosts[1]),
		 "map.example:8555");
	cfg.allowed_hosts_n = 2;
	static const struct {
		const char *host;
		int status;
	} cases[][2] = {
	    {{"netcoord.internal:8555", 200}, {"10.0.0.6", 200}},
	    {{"netcoord.internal.", 200}, {"netcoord.internal", 200}},
	    {{"map.example", 200}, {"map.example:80", 200}},
	    {{"other.internal", 403}, {"other.internal", 403}},
	    {{"10.0.0.5:8555", 200}, {"10.0.0.5", 200}},
	    {{"10.0.0.6", 403}, {"evil.example", 403}},
	    {{"[::1]:8555", 200}, {"[::ffff:127.0.0.1]", 200}},
	};
	/* Column 0: listening on 10.0.0.5; column 1: on 0.0.0.0, where
	 * every IP literal passes (it cannot be rebound) but names do not. */
	for (int col = 0; col < 2; col++) {
		if (col == 1)
			nc_addr_parse("0.0.0.0:8555", 0, &cfg.addr);
		struct nc_api *a = nc_api_new(NULL, NULL, &cfg, err, sizeof(err));
		CU_ASSERT_PTR_NOT_NULL_FATAL(a);
		for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
			struct nc_api_request req = {.method = "GET",
						     .path = "/v1/health",
						     .suffix = "",
						     .host = cases[i][col].host};
			struct nc_api_response r;
			int st = nc_api_handle(a, &req, &r);
			if (st != cases[i][col].status)
				fprintf(stderr, "\nlisten %d, Host: %s -> %d\n",
					col, req.host, st);
			CU_ASSERT_EQUAL(st, cases[i][col].status);
			nc_api_response_destroy(&r);
		}
		CU_ASSERT(nc_api_stats(a)->host_refused >= 1);
		/* ... and /metrics says how many. */
		struct nc_api_request mreq = {.method = "GET",
					      .path = "/metrics",
					      .suffix = "",
					      .host = "127.0.0.1"};
		struct nc_api_response mr;
		CU_ASSERT_EQUAL(nc_api_handle(a, &mreq, &mr), 200);
		char want[96];
		snprintf(want, sizeof(want),
			 "netcoord_http_host_refused_total %llu\n",
			 (unsigned long long)nc_api_stats(a)->host_refused);
		CU_ASSERT_PTR_NOT_NULL(mr.body != NULL
					   ? memmem(mr.body, mr.body_len, want,
						    strlen(want))
					   : NULL);
		nc_api_response_destroy(&mr);
		nc_api_delete(a);
	}
}

/** Has the server closed @a fd (EOF or reset)? Reads what is there. */
static bool
server_closed(int fd)
{
	char buf[4096];
	for (;;) {
		ssize_t r = recv(fd, buf, sizeof(buf), 0);
		if (r == 0)
			return true;
		if (r < 0)
			return errno != EAGAIN && errno != EWOULDBLOCK;
	}
}

#define SLOW_N 64

/*
 * Issue 9 row 6: 64 connections from one address that send their
 * request one byte at a time. Only 16 get a slot (per-client limit), so
 * a request from another address gets through at once; those 16 are
 * closed once the request deadline (10 s from accept) passes, although
 * their bytes keep coming, and then a request from the same address
 * gets through too.
 */
static void
test_slow_clients(void)
{
	struct box b;
	char resp[65536];
	int fd[SLOW_N];
	bool closed[SLOW_N] = {false};
	static const char start[] =
	    "GET /v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ";
	box_open(&b);
	struct sockaddr_in sa = {.sin_family = AF_INET,
				 .sin_port =
				     htons((uint16_t)nc_api_port(b.api))};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	double t0 = th_mono_s();
	for (int i = 0; i < SLOW_N; i++) {
		fd[i] = socket(AF_INET, SOCK_STREAM, 0);
		CU_ASSERT_FATAL(fd[i] >= 0);
		fcntl(fd[i], F_SETFL, O_NONBLOCK);
		connect(fd[i], (struct sockaddr *)&sa, sizeof(sa));
	}
	bool sent[SLOW_N] = {false};
	for (int it = 0; it < 100; it++) {
		nc_env_real_run_once(b.env, 0.005);
		for (int i = 0; i < SLOW_N; i++)
			if (!sent[i] && send(fd[i], start, strlen(start),
					     MSG_NOSIGNAL) ==
					    (ssize_t)strlen(start))
				sent[i] = true;
	}
	int n_closed = 0;
	for (int i = 0; i < SLOW_N; i++)
		if (server_closed(fd[i]))
			closed[i] = true, n_closed++;
	fprintf(stderr, "\n    %d of %d slow connections refused at once",
		n_closed, SLOW_N);
	CU_ASSERT(n_closed >= SLOW_N - 16);
	/* Another client address is served at once. */
	double t1 = th_mono_s();
	CU_ASSERT_EQUAL(http_src(&b, "127.0.0.2",
				 "GET /v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n"
				 "Connection: close\r\n\r\n",
				 NULL, 0, resp, sizeof(resp)),
			200);
	fprintf(stderr, "; 127.0.0.2 answered in %.0f ms", (th_mono_s() - t1) * 1e3);
	/* Trickle a byte every 0.5 s: the deadline closes them anyway. */
	double last = 0, all_closed_at = 0;
	while (th_mono_s() - t0 < 16) {
		nc_env_real_run_once(b.env, 0.01);
		bool tick = th_mono_s() - last >= 0.5;
		if (tick)
			last = th_mono_s();
		int open = 0;
		for (int i = 0; i < SLOW_N; i++) {
			if (closed[i])
				continue;
			if (server_closed(fd[i])) {
				closed[i] = true;
				continue;
			}
			open++;
			if (tick)
				send(fd[i], "a", 1, MSG_NOSIGNAL);
		}
		if (open == 0) {
			all_closed_at = th_mono_s() - t0;
			break;
		}
	}
	fprintf(stderr, "; all closed after %.1f s", all_closed_at);
	CU_ASSERT(all_closed_at > 5);
	CU_ASSERT(all_closed_at > 0 && all_closed_at < 13);
	for (int i = 0; i < SLOW_N; i++)
		close(fd[i]);
	/* Once the server has reaped them (MHD counts a connection against
	 * its address until it has processed the close, a loop iteration or
	 * a few later), 127.0.0.1 is served again. */
	int st = 0;
	for (int attempt = 0; attempt < 5 && st != 200; attempt++) {
		for (int it = 0; it < 20; it++)
			nc_env_real_run_once(b.env, 0.01);
		st = http(&b,
			  "GET /v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n"
			  "Connection: close\r\n\r\n",
			  NULL, 0, resp, sizeof(resp));
	}
	CU_ASSERT_EQUAL(st, 200);
	box_close(&b);
}

int
nc_test_socket_register(void)
{
	CU_pSuite s = CU_add_suite("socket", NULL, NULL);
	if (s == NULL || !CU_add_test(s, "413, join, args", test_socket_paths) ||
	    !CU_add_test(s, "Host check", test_host_check) ||
	    !CU_add_test(s, "slow clients", test_slow_clients))
		return -1;
	return 0;
}
