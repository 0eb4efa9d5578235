/*
 * test_httpc.c - the HTTP client (cmd/httpc.c) against a canned server on
 * 127.0.0.1: well-formed responses (Content-Length, chunked in 1-byte
 * pieces, until-close, interim 100, 204), the request it sends (method,
 * path, Host, bearer token, body), and everything a hostile or broken
 * peer can do (garbage, bad framing, truncation, oversize, silence,
 * trickling), plus connection refused and argument checks.
 */
#include <CUnit/CUnit.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cmd/httpc.h"
#include "test_cli.h"
#include "test_server.h"

/** Server shared by the suite (started in init, stopped in cleanup). */
static struct nc_test_srv *srv;

static int
suite_init(void)
{
	srv = nc_test_srv_start();
	return srv != NULL ? 0 : -1;
}

static int
suite_cleanup(void)
{
	nc_test_srv_stop(srv);
	srv = NULL;
	return 0;
}

static long long
mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/** GET path from the suite's server; returns nc_httpc_do()'s code. */
static int
get(const char *path, struct nc_httpc_response *resp, char *err, size_t err_len)
{
	struct nc_httpc_request req = {
	    .method = "GET",
	    .addr = nc_test_srv_addr(srv),
	    .path = path,
	    .timeout_ms = 2000,
	};
	return nc_httpc_do(&req, resp, err, err_len);
}

static void
test_content_length(void)
{
	nc_test_srv_set_raw(srv, "HTTP/1.1 200 OK\r\n"
				 "Content-Type: application/json\r\n"
				 "Content-Length: 15\r\n\r\n"
				 "{\"status\":\"ok\"}");
	struct nc_httpc_response resp;
	CU_ASSERT_EQUAL(get("/v1/health", &resp, NULL, 0), 0);
	CU_ASSERT_TRUE(resp.connected);
	CU_ASSERT_EQUAL(resp.status, 200);
	CU_ASSERT_EQUAL(resp.body_len, 15);
	CU_ASSERT_STRING_EQUAL(resp.body, "{\"status\":\"ok\"}");
	nc_httpc_response_destroy(&resp);
	CU_ASSERT_PTR_NULL(resp.body);
	nc_httpc_response_destroy(&resp); /* idempotent */

	struct nc_test_srv_req r;
	CU_ASSERT_TRUE(nc_test_srv_last(srv, &r) > 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(r.head, "GET /v1/health HTTP/1.1\r\n"));
	char host[64];
	snprintf(host, sizeof(host), "\r\nHost: %s\r\n", nc_test_srv_addr(srv));
	CU_ASSERT_PTR_NOT_NULL(strstr(r.head, host));
	CU_ASSERT_PTR_NOT_NULL(strstr(r.head, "\r\nConnection: close\r\n"));
	CU_ASSERT_PTR_NULL(strstr(r.head, "Authorization"));
	CU_ASSERT_PTR_NULL(strstr(r.head, "Content-Length"));
}

static void
test_put_body_and_token(void)
{
	nc_test_srv_set_raw(srv,
			    "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}");
	const char *body = "{\"Key\":\"abc=\"}";
	struct nc_httpc_request req = {
	    .method = "PUT",
	    .addr = nc_test_srv_addr(srv),
	    .path = "/v1/agent/keyring/install",
	    .body = body,
	    .body_len = strlen(body),
	    .token = "s3cret",
	};
	struct nc_httpc_response resp;
	CU_ASSERT_EQUAL(nc_httpc_do(&req, &resp, NULL, 0), 0);
	CU_ASSERT_EQUAL(resp.status, 200);
	CU_ASSERT_STRING_EQUAL(resp.body, "{}");
	nc_httpc_response_destroy(&resp);
	struct nc_test_srv_req r;
	nc_test_srv_last(srv, &r);
	CU_ASSERT_PTR_NOT_NULL(
	    strstr(r.head, "PUT /v1/agent/keyring/install HTTP/1.1\r\n"));
	CU_ASSERT_PTR_NOT_NULL(
	    strstr(r.head, "\r\nAuthorization: Bearer s3cret\r\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(r.head, "\r\nContent-Length: 14\r\n"));
	CU_ASSERT_PTR_NOT_NULL(
	    strstr(r.head, "\r\nContent-Type: application/json\r\n"));
	CU_ASSERT_EQUAL(r.body_len, strlen(body));
	CU_ASSERT_STRING_EQUAL(r.body, body);

	/* PUT without a body still says Content-Length: 0 (MHD and
	 * proxies want a length on PUT). */
	req.body = NULL;
	req.body_len = 0;
	req.path = "/v1/agent/leave";
	CU_ASSERT_EQUAL(nc_httpc_do(&req, &resp, NULL, 0), 0);
	nc_httpc_response_destroy(&resp);
	nc_test_srv_last(srv, &r);
	CU_ASSERT_PTR_NOT_NULL(strstr(r.head, "\r\nContent-Length: 0\r\n"));
}

/* Chunked body with an extension and a trailer, sent one byte at a time:
 * every state of the decoder sees a split. */
static void
test_chunked_bytewise(void)
{
	struct nc_test_srv_reply rep = {
	    .raw = "HTTP/1.1 200 OK\r\n"
		   "Transfer-Encoding: chunked\r\n\r\n"
		   "5;ext=1\r\n[{\"a\"\r\n"
		   "A\r\n:1},{\"b\":2\r\n"
		   "2\r\n}]\r\n"
		   "0\r\nX-Trailer: yes\r\n\r\n",
	    .piece_bytes = 1,
	};
	nc_test_srv_set_reply(srv, &rep);
	struct nc_httpc_response resp;
	char err[128] = "";
	CU_ASSERT_EQUAL(get("/v1/members", &resp, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(resp.status, 200);
	CU_ASSERT_STRING_EQUAL(resp.body, "[{\"a\":1},{\"b\":2}]");
	CU_ASSERT_EQUAL(resp.body_len, 17);
	nc_httpc_response_destroy(&resp);
}

/* Bare-LF line ends and upper-case hex are accepted. */
static void
test_chunked_lenient(void)
{
	nc_test_srv_set_raw(srv, "HTTP/1.1 200 OK\n"
				 "transfer-encoding: gzip, Chunked\n\n"
				 "B\n0123456789a\n0\n\n");
	struct nc_httpc_response resp;
	CU_ASSERT_EQUAL(get("/", &resp, NULL, 0), 0);
	CU_ASSERT_STRING_EQUAL(resp.body, "0123456789a");
	nc_httpc_response_destroy(&resp);
}

static void
test_error_status_is_not_an_error(void)
{
	nc_test_srv_set_raw(srv, "HTTP/1.1 404 Not Found\r\n"
				 "Content-Length: 26\r\n\r\n"
				 "{\"error\":\"unknown node x\"}");
	struct nc_httpc_response resp;
	CU_ASSERT_EQUAL(get("/v1/rtt?to=x", &resp, NULL, 0), 0);
	CU_ASSERT_EQUAL(resp.status, 404);
	CU_ASSERT_STRING_EQUAL(resp.body, "{\"error\":\"unknown node x\"}");
	nc_httpc_response_destroy(&resp);
}

static void
test_body_until_close(void)
{
	nc_test_srv_set_raw(srv, "HTTP/1.0 200 OK\r\n\r\nhello world");
	struct nc_httpc_response resp;
	CU_ASSERT_EQUAL(get("/", &resp, NULL, 0), 0);
	CU_ASSERT_EQUAL(resp.status, 200);
	CU_ASSERT_STRING_EQUAL(resp.body, "hello world");
	nc_httpc_response_destroy(&resp);
}

static void
test_interim_and_no_content(void)
{
	nc_test_srv_set_raw(srv,
			    "HTTP/1.1 100 Continue\r\n\r\n"
			    "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc");
	struct nc_httpc_response resp;
	CU_ASSERT_EQUAL(get("/", &resp, NULL, 0), 0);
	CU_ASSERT_EQUAL(resp.status, 200);
	CU_ASSERT_STRING_EQUAL(resp.body, "abc");
	nc_httpc_response_destroy(&resp);

	/* 204: no body even if bytes follow; the body is "" not NULL. */
	nc_test_srv_set_raw(srv, "HTTP/1.1 204 No Content\r\n\r\n");
	CU_ASSERT_EQUAL(get("/", &resp, NULL, 0), 0);
	CU_ASSERT_EQUAL(resp.status, 204);
	CU_ASSERT_PTR_NOT_NULL_FATAL(resp.body);
	CU_ASSERT_EQUAL(resp.body_len, 0);
	CU_ASSERT_STRING_EQUAL(resp.body, "");
	nc_httpc_response_destroy(&resp);
}

/* A 1 MiB body in 7 KiB pieces arrives intact. */
static void
test_large_body(void)
{
	size_t n = 1 << 20;
	char head[128];
	int hl = snprintf(head, sizeof(head),
			  "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n", n);
	char *raw = malloc((size_t)hl + n + 1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(raw);
	memcpy(raw, head, (size_t)hl);
	for (size_t i = 0; i < n; i++)
		raw[hl + (int)i] = (char)('a' + i % 26);
	raw[(size_t)hl + n] = '\0';
	struct nc_test_srv_reply rep = {.raw = raw, .piece_bytes = 7000};
	nc_test_srv_set_reply(srv, &rep);
	struct nc_httpc_response resp;
	CU_ASSERT_EQUAL(get("/", &resp, NULL, 0), 0);
	CU_ASSERT_EQUAL(resp.body_len, n);
	CU_ASSERT_TRUE(resp.body != NULL &&
		       memcmp(resp.body, raw + hl, n) == 0);
	nc_httpc_response_destroy(&resp);
	free(raw);
}

/** Expect `raw` to fail with `want` and a non-empty message. */
static void
expect_fail(const char *raw, int want)
{
	nc_test_srv_set_raw(srv, raw);
	struct nc_httpc_response resp;
	char err[128] = "";
	int rc = get("/", &resp, err, sizeof(err));
	CU_ASSERT_EQUAL(rc, want);
	if (rc != want)
		fprintf(stderr, "\n  reply %.40s...: got %d (%s) want %d\n",
			raw, rc, err, want);
	CU_ASSERT_TRUE(resp.connected);
	CU_ASSERT_PTR_NULL(resp.body);
	CU_ASSERT_EQUAL(resp.status, 0);
	CU_ASSERT_TRUE(err[0] != '\0');
	nc_httpc_response_destroy(&resp);
}

static void
test_garbage(void)
{
	long long t0 = mono_ms();
	/* Not HTTP at all (a gossip or SSH port): fails fast, not at the
	 * deadline, even though the server keeps the line open. */
	struct nc_test_srv_reply rep = {.raw = "SSH-2.0-OpenSSH_9.6\r\n"};
	nc_test_srv_set_reply(srv, &rep);
	struct nc_httpc_response resp;
	char err[128] = "";
	CU_ASSERT_EQUAL(get("/", &resp, err, sizeof(err)), NC_HTTPC_EPROTO);
	CU_ASSERT_STRING_EQUAL(err, "not an HTTP response");
	CU_ASSERT_TRUE(mono_ms() - t0 < 1500);

	expect_fail("HTTP/1.1 abc OK\r\n\r\n", NC_HTTPC_EPROTO);
	expect_fail("HTTP/2 200 OK\r\n\r\n", NC_HTTPC_EPROTO);
	expect_fail("HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
		    NC_HTTPC_EPROTO);
	expect_fail("HTTP/1.1 200 OK\r\nContent-Length: 12x\r\n\r\n",
		    NC_HTTPC_EPROTO);
	expect_fail("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"
		    "Content-Length: 3\r\n\r\nabc",
		    NC_HTTPC_EPROTO);
	expect_fail("HTTP/1.1 200 OK\r\nContent-Length: "
		    "99999999999999999999999\r\n\r\n",
		    NC_HTTPC_EPROTO);
	expect_fail("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
		    "zz\r\nabc\r\n0\r\n\r\n",
		    NC_HTTPC_EPROTO);
	expect_fail("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
		    "3\r\nabcXX0\r\n\r\n",
		    NC_HTTPC_EPROTO);
	/* \0 inside the status line */
	nc_test_srv_set_reply(
	    srv, &(struct nc_test_srv_reply){
		     .raw = "HTTP/1.1 2\0000 OK\r\n\r\n", .raw_len = 19});
	CU_ASSERT_EQUAL(get("/", &resp, NULL, 0), NC_HTTPC_EPROTO);
}

static void
test_truncated(void)
{
	expect_fail("", NC_HTTPC_ETRUNC);
	expect_fail("HTTP/1.1 200 OK\r\nContent-Le", NC_HTTPC_ETRUNC);
	expect_fail("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nabcde",
		    NC_HTTPC_ETRUNC);
	expect_fail("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
		    "5\r\nabcde\r\n",
		    NC_HTTPC_ETRUNC);
}

static void
test_caps(void)
{
	struct nc_httpc_request req = {
	    .method = "GET",
	    .addr = nc_test_srv_addr(srv),
	    .path = "/",
	    .timeout_ms = 2000,
	    .body_max = 10,
	};
	struct nc_httpc_response resp;
	const char *raws[] = {
	    "HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n01234567890",
	    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "6\r\n012345\r\n6\r\n012345\r\n0\r\n\r\n",
	    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "fffffffffffffffffffffffff\r\n",
	    "HTTP/1.1 200 OK\r\n\r\n01234567890",
	};
	for (size_t i = 0; i < sizeof(raws) / sizeof(raws[0]); i++) {
		nc_test_srv_set_raw(srv, raws[i]);
		CU_ASSERT_EQUAL(nc_httpc_do(&req, &resp, NULL, 0),
				NC_HTTPC_ETOOBIG);
		CU_ASSERT_PTR_NULL(resp.body);
	}
	/* Exactly at the cap is fine. */
	nc_test_srv_set_raw(srv, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n"
				 "\r\n0123456789");
	CU_ASSERT_EQUAL(nc_httpc_do(&req, &resp, NULL, 0), 0);
	nc_httpc_response_destroy(&resp);

	/* A header block without end, larger than NC_HTTPC_HEADER_MAX. */
	size_t big = NC_HTTPC_HEADER_MAX + 4096;
	char *raw = malloc(big + 1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(raw);
	strcpy(raw, "HTTP/1.1 200 OK\r\nX-Junk: ");
	size_t l = strlen(raw);
	memset(raw + l, 'j', big - l);
	raw[big] = '\0';
	nc_test_srv_set_raw(srv, raw);
	CU_ASSERT_EQUAL(nc_httpc_do(&req, &resp, NULL, 0), NC_HTTPC_ETOOBIG);
	free(raw);
}

/* A server that accepts and never answers, or trickles: the deadline
 * covers the whole exchange. */
static void
test_timeouts(void)
{
	struct nc_test_srv_reply rep = {.hang = true};
	nc_test_srv_set_reply(srv, &rep);
	struct nc_httpc_request req = {
	    .method = "GET",
	    .addr = nc_test_srv_addr(srv),
	    .path = "/",
	    .timeout_ms = 300,
	};
	struct nc_httpc_response resp;
	char err[128] = "";
	long long t0 = mono_ms();
	CU_ASSERT_EQUAL(nc_httpc_do(&req, &resp, err, sizeof(err)), -ETIMEDOUT);
	long long dt = mono_ms() - t0;
	CU_ASSERT_TRUE(dt >= 250 && dt < 2000);
	CU_ASSERT_TRUE(resp.connected);
	CU_ASSERT_STRING_EQUAL(err, "no complete response within 300 ms");

	struct nc_test_srv_reply slow = {
	    .raw = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}",
	    .piece_bytes = 1,
	    .piece_delay_ms = 40,
	};
	nc_test_srv_set_reply(srv, &slow);
	t0 = mono_ms();
	CU_ASSERT_EQUAL(nc_httpc_do(&req, &resp, NULL, 0), -ETIMEDOUT);
	dt = mono_ms() - t0;
	CU_ASSERT_TRUE(dt >= 250 && dt < 1000);
}

static void
test_refused(void)
{
	int port = nc_test_free_port();
	CU_ASSERT_TRUE_FATAL(port > 0);
	char addr[32];
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
	struct nc_httpc_request req = {
	    .method = "GET", .addr = addr, .path = "/v1/health"};
	struct nc_httpc_response resp;
	CU_ASSERT_EQUAL(nc_httpc_do(&req, &resp, NULL, 0), -ECONNREFUSED);
	CU_ASSERT_FALSE(resp.connected);
	CU_ASSERT_STRING_EQUAL(nc_httpc_strerror(-ECONNREFUSED),
			       "Connection refused");
}

static void
test_bad_arguments(void)
{
	struct nc_httpc_response resp;
	const char *bad_addrs[] = {
	    "nohost",	     "127.0.0.1",     "127.0.0.1:",  ":80",
	    "1.2.3.4:0",     "1.2.3.4:65536", "1.2.3.4:80x", "::1:80",
	    "[::1]80",	     "[::1]",	      "a b:80",	     "user@host:80",
	    "1.2.3.4:123456"};
	for (size_t i = 0; i < sizeof(bad_addrs) / sizeof(bad_addrs[0]); i++) {
		struct nc_httpc_request req = {
		    .method = "GET", .addr = bad_addrs[i], .path = "/"};
		char err[128] = "";
		CU_ASSERT_EQUAL(nc_httpc_do(&req, &resp, err, sizeof(err)),
				NC_HTTPC_EINVAL);
		CU_ASSERT_PTR_NOT_NULL(strstr(err, "bad address"));
	}
	/* Header injection through the token or the path. */
	struct nc_httpc_request req = {.method = "GET",
				       .addr = nc_test_srv_addr(srv),
				       .path = "/",
				       .token = "x\r\nX-Evil: 1"};
	CU_ASSERT_EQUAL(nc_httpc_do(&req, &resp, NULL, 0), NC_HTTPC_EINVAL);
	req.token = NULL;
	req.path = "/a b";
	CU_ASSERT_EQUAL(nc_httpc_do(&req, &resp, NULL, 0), NC_HTTPC_EINVAL);
	req.path = "nope";
	CU_ASSERT_EQUAL(nc_httpc_do(&req, &resp, NULL, 0), NC_HTTPC_EINVAL);
	req.path = "/";
	req.method = "get";
	CU_ASSERT_EQUAL(nc_httpc_do(&req, &resp, NULL, 0), NC_HTTPC_EINVAL);

	/* http:// prefix and trailing slash are accepted. */
	char addr[64];
	snprintf(addr, sizeof(addr), "http://%s/", nc_test_srv_addr(srv));
	nc_test_srv_set_raw(srv,
			    "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	req.method = "GET";
	req.addr = addr;
	CU_ASSERT_EQUAL(nc_httpc_do(&req, &resp, NULL, 0), 0);
	nc_httpc_response_destroy(&resp);
	/* A name that resolves. */
	char *port = strrchr(nc_test_srv_addr(srv), ':');
	snprintf(addr, sizeof(addr), "localhost%s", port);
	CU_ASSERT_EQUAL(nc_httpc_do(&req, &resp, NULL, 0), 0);
	nc_httpc_response_destroy(&resp);
}

static void
test_escape(void)
{
	char buf[32] = "/v1/rtt?to=";
	CU_ASSERT_EQUAL(nc_httpc_append_escaped(buf, sizeof(buf), "a b/c:d~"),
			0);
	CU_ASSERT_STRING_EQUAL(buf, "/v1/rtt?to=a%20b%2Fc%3Ad~");
	char small[8] = "x";
	CU_ASSERT_EQUAL(nc_httpc_append_escaped(small, sizeof(small), "é+"),
			NC_HTTPC_ETOOBIG);
	CU_ASSERT_STRING_EQUAL(small, "x");
	CU_ASSERT_EQUAL(nc_httpc_append_escaped(small, sizeof(small), "+é"),
			NC_HTTPC_ETOOBIG);
	CU_ASSERT_EQUAL(nc_httpc_append_escaped(small, sizeof(small), "é"), 0);
	CU_ASSERT_STRING_EQUAL(small, "x%C3%A9");
	CU_ASSERT_STRING_EQUAL(nc_httpc_strerror(NC_HTTPC_EPROTO),
			       "malformed HTTP response");
	CU_ASSERT_STRING_EQUAL(nc_httpc_strerror(-99999), "unknown error");
}

int
nc_test_httpc_register(void)
{
	CU_pSuite s = CU_add_suite("httpc", suite_init, suite_cleanup);
	if (s == NULL)
		return -1;
	if (CU_add_test(s, "content_length", test_content_length) == NULL ||
	    CU_add_test(s, "put_body_and_token", test_put_body_and_token) ==
		NULL ||
	    CU_add_test(s, "chunked_bytewise", test_chunked_bytewise) == NULL ||
	    CU_add_test(s, "chunked_lenient", test_chunked_lenient) == NULL ||
	    CU_add_test(s, "error_status_is_not_an_error",
			test_error_status_is_not_an_error) == NULL ||
	    CU_add_test(s, "body_until_close", test_body_until_close) == NULL ||
	    CU_add_test(s, "interim_and_no_content",
			test_interim_and_no_content) == NULL ||
	    CU_add_test(s, "large_body", test_large_body) == NULL ||
	    CU_add_test(s, "garbage", test_garbage) == NULL ||
	    CU_add_test(s, "truncated", test_truncated) == NULL ||
	    CU_add_test(s, "caps", test_caps) == NULL ||
	    CU_add_test(s, "timeouts", test_timeouts) == NULL ||
	    CU_add_test(s, "refused", test_refused) == NULL ||
	    CU_add_test(s, "bad_arguments", test_bad_arguments) == NULL ||
	    CU_add_test(s, "escape", test_escape) == NULL)
		return -1;
	return 0;
}
