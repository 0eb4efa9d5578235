/*
 * http.c - the CLI's one HTTP request to an agent, over libcurl (see
 * http.h).
 *
 * One easy handle per request: the CLI makes one call and exits, so
 * there is nothing to reuse. The address is checked here (libcurl would
 * take "nocolon" as a host on port 80), then curl does the rest. Proxies
 * from the environment are not used: the agent is on this host or this
 * LAN, as with the hand-written client this replaced. After a failure
 * the connect time tells "cannot reach" (no connection) from the
 * failures that came later, which the CLI words differently.
 *
 * HTTPS: "https://HOST:PORT" makes an https URL; curl verifies the
 * certificate chain (against req->ca_file, CURLOPT_CAINFO, else the
 * system's CAs) and the host name, always: there is no switch to turn
 * that off. A TLS failure is NC_HTTP_ETLS with curl's reason.
 */
#include "cmd/http.h"
#include "util/util.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/** The response body as it arrives. */
struct body {
	char *data;
	size_t len;
	size_t cap;
	/** Above NC_HTTP_BODY_MAX, or out of memory: the reason. */
	const char *failed;
};

/** printf into an optional message buffer (nc_errf). */
#define set_err(err, len, ...) ((void)nc_errf(err, len, 0, __VA_ARGS__))

/**
 * "http://" + HOST:PORT + path, for an address in one of the accepted
 * forms (port 1..65535, host without spaces, '/', '@' or controls).
 * @retval true ok; false bad address or the URL does not fit.
 */
static bool
make_url(const char *addr, const char *path, char *url, size_t cap)
{
	const char *scheme = "http";
	if (strncmp(addr, "http://", 7) == 0) {
		addr += 7;
	} else if (strncmp(addr, "https://", 8) == 0) {
		addr += 8;
		scheme = "https";
	}
	size_t len = strlen(addr);
	if (len > 0 && addr[len - 1] == '/')
		len--;
	const char *end = addr + len, *colon;
	if (len > 0 && addr[0] == '[') {
		const char *rb = memchr(addr, ']', len);
		if (rb == NULL || rb == addr + 1 || rb + 1 >= end ||
		    rb[1] != ':')
			return false;
		colon = rb + 1;
	} else {
		colon = memchr(addr, ':', len);
		if (colon == NULL || colon == addr ||
		    memchr(colon + 1, ':', (size_t)(end - colon - 1)) != NULL)
			return false;
	}
	for (const char *h = addr; h < colon; h++) {
		unsigned char c = (unsigned char)*h;
		if (c <= ' ' || c == '/' || c == '@' || c >= 0x7f)
			return false;
	}
	size_t plen = (size_t)(end - colon - 1);
	unsigned long port = 0;
	for (const char *p = colon + 1; p < end; p++) {
		if (*p < '0' || *p > '9')
			return false;
		port = port * 10 + (unsigned long)(*p - '0');
	}
	if (plen == 0 || plen > 5 || port == 0 || port > 65535)
		return false;
	int n = snprintf(url, cap, "%s://%.*s%s", scheme, (int)len, addr,
			 path);
	return n > 0 && (size_t)n < cap;
}

static size_t
body_write(char *data, size_t size, size_t nmemb, void *arg)
{
	struct body *b = arg;
	size_t n = size * nmemb;
	if (n > NC_HTTP_BODY_MAX - b->len) {
		b->failed = "response too large";
		return 0;
	}
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap != 0 ? b->cap : 4096;
		while (cap < b->len + n + 1)
			cap *= 2;
		char *p = realloc(b->data, cap);
		if (p == NULL) {
			b->failed = "out of memory";
			return 0;
		}
		b->data = p;
		b->cap = cap;
	}
	memcpy(b->data + b->len, data, n);
	b->len += n;
	b->data[b->len] = '\0';
	return n;
}

/** X-Netcoord-Index from the response headers (the last response's). */
static size_t
header_line(char *data, size_t size, size_t nmemb, void *arg)
{
	unsigned long long *index = arg;
	size_t n = size * nmemb;
	static const char name[] = "x-netcoord-index:";
	if (strncmp(data, "HTTP/", 5) == 0)
		*index = 0; /* a new response (after a 100 or a redirect) */
	if (n > sizeof(name) - 1 &&
	    strncasecmp(data, name, sizeof(name) - 1) == 0) {
		char v[32];
		size_t vl = n - (sizeof(name) - 1);
		if (vl >= sizeof(v))
			vl = sizeof(v) - 1;
		memcpy(v, data + sizeof(name) - 1, vl);
		v[vl] = '\0';
		char *end;
		errno = 0;
		unsigned long long x = strtoull(v, &end, 10);
		while (*end == ' ' || *end == '\r' || *end == '\n')
			end++;
		if (errno == 0 && *end == '\0')
			*index = x;
	}
	return n;
}

/** Map a failed transfer to NC_HTTP_E* and its reason. */
static int
classify(CURL *h, CURLcode rc, const struct body *b, const char *ebuf,
	 bool https, char *err, size_t err_len)
{
	long os_errno = 0;
	curl_off_t connect_us = 0;
	curl_easy_getinfo(h, CURLINFO_OS_ERRNO, &os_errno);
	curl_easy_getinfo(h, CURLINFO_CONNECT_TIME_T, &connect_us);
	const char *why = ebuf[0] != '\0' ? ebuf : curl_easy_strerror(rc);
	/* Before the connect time: curl counts TCP + TLS as "connect". */
	if (rc == CURLE_PEER_FAILED_VERIFICATION ||
	    rc == CURLE_SSL_CONNECT_ERROR || rc == CURLE_SSL_CACERT_BADFILE ||
	    rc == CURLE_SSL_CERTPROBLEM) {
		set_err(err, err_len, "%s", why);
		return NC_HTTP_ETLS;
	}
	if (connect_us == 0) {
		if (rc == CURLE_OPERATION_TIMEDOUT)
			why = strerror(ETIMEDOUT);
		else if (rc != CURLE_COULDNT_RESOLVE_HOST && os_errno != 0)
			why = strerror((int)os_errno);
		set_err(err, err_len, "%s", why);
		return NC_HTTP_EUNREACHABLE;
	}
	if (rc == CURLE_OPERATION_TIMEDOUT) {
		set_err(err, err_len, "%s", why);
		return NC_HTTP_ETIMEDOUT;
	}
	const char *prefix = "";
	if (rc == CURLE_WRITE_ERROR && b->failed != NULL) {
		why = b->failed;
	} else if (rc == CURLE_UNSUPPORTED_PROTOCOL ||
		   rc == CURLE_WEIRD_SERVER_REPLY) {
		prefix = "malformed HTTP response: ";
		/* curl's words for a reply without a status line. */
		if (strstr(why, "HTTP/0.9") != NULL)
			why = "not an HTTP response";
	} else if (rc == CURLE_GOT_NOTHING && !https) {
		why = "connection closed without a response (does the agent "
		      "serve HTTPS? then use https://HOST:PORT)";
	} else if (rc == CURLE_GOT_NOTHING || rc == CURLE_PARTIAL_FILE) {
		why = "connection closed before the response was complete";
	} else if (os_errno != 0) {
		why = strerror((int)os_errno);
	}
	set_err(err, err_len, "%s%s", prefix, why);
	return NC_HTTP_EFAIL;
}

int
nc_http_do(const struct nc_http_request *req, struct nc_http_response *resp,
	   char *err, size_t err_len)
{
	memset(resp, 0, sizeof(*resp));
	set_err(err, err_len, "%s", "");
	char url[4096], auth[1024];
	if (!make_url(req->addr, req->path, url, sizeof(url))) {
		set_err(err, err_len, "bad address \"%s\" (want HOST:PORT)",
			req->addr);
		return NC_HTTP_EINVAL;
	}
	for (const char *t = req->token; t != NULL && *t != '\0'; t++) {
		if ((unsigned char)*t <= ' ' || *t == 0x7f) {
			set_err(err, err_len, "bad request arguments");
			return NC_HTTP_EINVAL;
		}
	}
	CURL *h = curl_easy_init();
	struct curl_slist *hdrs = NULL, *l;
	l = hdrs = curl_slist_append(NULL, "Accept: application/json");
	l = l != NULL ? curl_slist_append(hdrs, "Expect:") : NULL;
	if (l != NULL && req->token != NULL) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s",
			 req->token);
		l = curl_slist_append(hdrs, auth);
	}
	bool put = strcmp(req->method, "GET") != 0;
	if (l != NULL && req->body != NULL)
		l = curl_slist_append(hdrs, "Content-Type: application/json");
	if (h == NULL || l == NULL) {
		curl_slist_free_all(hdrs);
		curl_easy_cleanup(h);
		set_err(err, err_len, "out of memory");
		return NC_HTTP_EFAIL;
	}
	char ebuf[CURL_ERROR_SIZE] = "";
	struct body b = {0};
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_PROXY, "");
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "netcoord");
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)req->timeout_ms);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
			 (long)req->connect_timeout_ms);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, ebuf);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, body_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
	/* Verification stays on (curl's default, said again here). */
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
	if (req->ca_file != NULL && req->ca_file[0] != '\0')
		curl_easy_setopt(h, CURLOPT_CAINFO, req->ca_file);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, header_line);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, &resp->index);
	if (put) {
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req->method);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS,
				 req->body != NULL ? req->body : "");
	}
	CURLcode rc = curl_easy_perform(h);
	int ret = 0;
	if (rc != CURLE_OK) {
		ret = classify(h, rc, &b, ebuf, strncmp(url, "https:", 6) == 0,
			       err, err_len);
		free(b.data);
	} else if (b.data == NULL && (b.data = calloc(1, 1)) == NULL) {
		set_err(err, err_len, "out of memory");
		ret = NC_HTTP_EFAIL;
	} else {
		long status = 0;
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
		resp->status = (int)status;
		resp->body = b.data;
		resp->body_len = b.len;
	}
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(h);
	return ret;
}

void
nc_http_response_destroy(struct nc_http_response *resp)
{
	free(resp->body);
	memset(resp, 0, sizeof(*resp));
}
