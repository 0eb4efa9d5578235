/*
 * http.h - one blocking HTTP request from the CLI to an agent's REST API,
 * done with libcurl (cmd/http.c).
 *
 * The caller names the agent as "HOST:PORT" ("[V6]:PORT", either with an
 * optional "http://", or after "https://" for an agent serving HTTPS,
 * whose certificate is then always verified: against the CA file given,
 * else the system's CAs), a method, a path, and gets back the status and
 * the whole body, or one of the failure classes below with a line of
 * text the CLI prints after "cannot reach agent at ADDR: " or "bad
 * response from agent at ADDR: ". An HTTP status >= 400 is not a failure
 * of the request: the status and body are in the response.
 *
 * The X-Netcoord-Index header of the answer, when there is one, is
 * returned with it (blocking queries: `-watch`).
 *
 * The process calls curl_global_init() once before the first request
 * (nc_cmd_cli() does).
 */
#ifndef NC_CMD_HTTP_H
#define NC_CMD_HTTP_H

#include <stddef.h>

/** How a request failed (0 = a complete response arrived). */
enum {
	/** Bad address or argument; nothing was sent. */
	NC_HTTP_EINVAL = -1,
	/** No connection: resolution failed, refused, connect timeout. */
	NC_HTTP_EUNREACHABLE = -2,
	/** Connected, but no complete response before the deadline. */
	NC_HTTP_ETIMEDOUT = -3,
	/** Connected, then anything else (malformed, reset, too large). */
	NC_HTTP_EFAIL = -4,
	/** Connected, but TLS failed (certificate not verified, not TLS). */
	NC_HTTP_ETLS = -5,
};

/**
 * Cap on the response body, bytes: 64 MiB. /v1/members for a
 * 10,000-node fleet is ~2.5 MB, so this leaves room for 25x that.
 */
#define NC_HTTP_BODY_MAX (64u * 1024 * 1024)

/** One request. Everything is borrowed for the duration of the call. */
struct nc_http_request {
	/** "GET" or "PUT". */
	const char *method;
	/**
	 * "HOST:PORT", "[V6]:PORT", either optionally after "http://", or
	 * after "https://" (TLS, certificate and host name verified).
	 */
	const char *addr;
	/** PEM file of the CA(s) to verify an https agent with, or NULL. */
	const char *ca_file;
	/** Path and percent-encoded query, starting with '/'. */
	const char *path;
	/** JSON body or NULL; a PUT without one sends Content-Length: 0. */
	const char *body;
	/** Bearer token or NULL. */
	const char *token;
	/** Deadline for the whole request, ms (> 0). */
	int timeout_ms;
	/** Deadline for the TCP connection alone, ms (> 0). */
	int connect_timeout_ms;
};

/** A response; release with nc_http_response_destroy(). */
struct nc_http_response {
	/** HTTP status code. */
	int status;
	/** Body, NUL-terminated (the NUL not counted); never NULL on 0. */
	char *body;
	/** Body length, bytes. */
	size_t body_len;
	/** X-Netcoord-Index of the answer (blocking queries); 0 if none. */
	unsigned long long index;
};

/**
 * Perform one request and wait for the whole response.
 * @param[out] resp  zeroed first; safe to destroy whatever happens
 * @param[out] err   the reason on failure ("Connection refused",
 *                   "bad address \"x\" (want HOST:PORT)", ...)
 * @retval 0 or NC_HTTP_E*.
 */
int
nc_http_do(const struct nc_http_request *req, struct nc_http_response *resp,
	   char *err, size_t err_len);

/** Free the body of resp and zero it (idempotent). */
void
nc_http_response_destroy(struct nc_http_response *resp);

#endif /* NC_CMD_HTTP_H */
