/*
 * test_socket.c - the paths that need libmicrohttpd on a real socket
 * (127.0.0.1, port 0), driven from this thread: the client socket is
 * non-blocking and the env's loop is run between its steps.
 *
 *   - 413 for a body over the limit (counted before any handler runs);
 *   - PUT /v1/agent/join suspends the connection until the push/pull is
 *     over, then answers (502 when nobody answers, 200 {"Joined":1});
 *   - query arguments parsed by MHD (repeated tag=, percent-encoding)
 *     and the response headers (Content-Type, Allow, Location, ETag).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
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

static struct nc_env *
env_new(void)
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

/** The agent as `netcoord agent -node NAME -profile local` on @a env. */
static struct nc_agent *
agent_new(struct nc_env *env, const char *name)
{
	struct nc_config cfg;
	struct nc_addr adv;
	char err[128];
	nc_config_init(&cfg);
	snprintf(cfg.node_name, sizeof(cfg.node_name), "%s", name);
	cfg.profile = NC_CONFIG_PROFILE_LOCAL;
	nc_env_real_local_addr(env, &adv);
	struct nc_agent *a =
	    nc_agent_new(env, &cfg, &adv, NULL, NULL, err, sizeof(err));
	nc_config_destroy(&cfg);
	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	CU_ASSERT_EQUAL(nc_agent_start(a), 0);
	return a;
}

static void
box_open(struct box *b)
{
	char err[128];
	memset(b, 0, sizeof(*b));
	b->env = env_new();
	b->agent = agent_new(b->env, "sock-a");
	b->env2 = env_new();
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
http(struct box *b, const char *head, const char *body, size_t body_len,
     char *out, size_t cap)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	CU_ASSERT_FATAL(fd >= 0);
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
		 "PUT /v1/agent/keyring/install HTTP/1.1\r\nHost: x\r\n"
		 "Connection: close\r\nContent-Length: %zu\r\n\r\n",
		 big);
	CU_ASSERT_EQUAL(http(&b, head, body, big, resp, sizeof(resp)), 413);
	CU_ASSERT_PTR_NOT_NULL(strstr(resp, "request body too large"));
	CU_ASSERT_PTR_NOT_NULL(strstr(resp, "application/json"));
	free(body);

	/* Repeated and percent-encoded arguments reach the handler. */
	snprintf(head, sizeof(head),
		 "GET /v1/members?tag=a%%3Ab&status=alive HTTP/1.1\r\n"
		 "Host: x\r\nConnection: close\r\n\r\n");
	CU_ASSERT_EQUAL(http(&b, head, NULL, 0, resp, sizeof(resp)), 200);
	CU_ASSERT_PTR_NOT_NULL(strstr(resp, "\r\n\r\n[]"));
	snprintf(head, sizeof(head),
		 "GET /v1/members?tag=bad&tag=x%%3Ay HTTP/1.1\r\nHost: x\r\n"
		 "Connection: close\r\n\r\n");
	CU_ASSERT_EQUAL(http(&b, head, NULL, 0, resp, sizeof(resp)), 400);
	CU_ASSERT_PTR_NOT_NULL(strstr(resp, "\\\"bad\\\""));
	snprintf(head, sizeof(head),
		 "DELETE /v1/members HTTP/1.1\r\nHost: x\r\n"
		 "Connection: close\r\n\r\n");
	CU_ASSERT_EQUAL(http(&b, head, NULL, 0, resp, sizeof(resp)), 405);
	CU_ASSERT_PTR_NOT_NULL(strstr(resp, "Allow: GET"));
	snprintf(head, sizeof(head),
		 "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
	CU_ASSERT_EQUAL(http(&b, head, NULL, 0, resp, sizeof(resp)), 302);
	CU_ASSERT_PTR_NOT_NULL(strstr(resp, "Location: /ui/"));
	snprintf(head, sizeof(head),
		 "GET /ui/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
	CU_ASSERT_EQUAL(http(&b, head, NULL, 0, resp, sizeof(resp)), 200);
	CU_ASSERT_PTR_NOT_NULL(strstr(resp, "ETag: \""));
	CU_ASSERT_PTR_NOT_NULL(strstr(resp, "text/html"));
	snprintf(
	    head, sizeof(head),
	    "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
	CU_ASSERT_EQUAL(http(&b, head, NULL, 0, resp, sizeof(resp)), 200);
	CU_ASSERT_PTR_NOT_NULL(strstr(resp, "text/plain; version=0.0.4"));

	/* join, suspended until the push/pull ends: nobody on port 1. */
	snprintf(
	    head, sizeof(head),
	    "PUT /v1/agent/join?address=127.0.0.1:1 HTTP/1.1\r\nHost: x\r\n"
	    "Connection: close\r\nContent-Length: 0\r\n\r\n");
	CU_ASSERT_EQUAL(http(&b, head, NULL, 0, resp, sizeof(resp)), 502);
	CU_ASSERT_PTR_NOT_NULL(strstr(resp, "no address answered"));
	/* ... and with the second agent: Joined 1. */
	char a2[64];
	nc_addr_format(&b.gaddr2, a2, sizeof(a2));
	snprintf(head, sizeof(head),
		 "PUT /v1/agent/join?address=%s HTTP/1.1\r\nHost: x\r\n"
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

int
nc_test_socket_register(void)
{
	CU_pSuite s = CU_add_suite("socket", NULL, NULL);
	if (s == NULL || !CU_add_test(s, "413, join, args", test_socket_paths))
		return -1;
	return 0;
}
