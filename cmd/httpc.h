/*
 * httpc.h - a tiny blocking HTTP/1.1 client for the agent's REST API.
 *
 * One request per TCP connection ("Connection: close"), plain sockets, no
 * TLS, no redirects, no keep-alive: everything `netcoord <cmd>` and the
 * examples need to talk to an agent on the same host or the same LAN, and
 * nothing that would pull in a dependency. Built as the static library
 * nc_httpc, linked by cmd/ and examples/.
 *
 * Error codes: 0 on success, -errno for system errors (ECONNREFUSED,
 * ETIMEDOUT, ...) and NC_HTTPC_E* below for everything else;
 * nc_httpc_strerror() turns either into text. An HTTP status >= 400 is
 * NOT an error of the client: the call succeeds and the status and body
 * are in the response.
 */
#ifndef NC_CMD_HTTPC_H
#define NC_CMD_HTTPC_H

#include <stdbool.h>
#include <stddef.h>

/**
 * Error codes of the client, in their own range (-1300..-1399) so that
 * they never collide with -errno values or the other modules' codes.
 */
enum {
	/** Bad argument: malformed "HOST:PORT", NULL path, bad method. */
	NC_HTTPC_EINVAL = -1301,
	/** getaddrinfo() failed; the message buffer has gai_strerror(). */
	NC_HTTPC_ERESOLVE = -1302,
	/** The peer's reply is not HTTP/1.x or its framing is broken. */
	NC_HTTPC_EPROTO = -1303,
	/** The connection closed before the response was complete. */
	NC_HTTPC_ETRUNC = -1304,
	/** Response headers or body above the caps (see below). */
	NC_HTTPC_ETOOBIG = -1305,
	/** Allocation failed. */
	NC_HTTPC_ENOMEM = -1306,
};

/**
 * Cap on the response header block, bytes. MHD sends ~200 bytes; 64 KiB
 * is a generous arbitrary bound against a runaway peer.
 */
#define NC_HTTPC_HEADER_MAX (64 * 1024)

/**
 * Default cap on the response body, bytes: 64 MiB. /v1/members for a
 * 10,000-node fleet is ~2.5 MB (about 250 bytes a member), so this leaves
 * room for 25x that. Above it the call fails with NC_HTTPC_ETOOBIG.
 */
#define NC_HTTPC_BODY_MAX_DEFAULT (64u * 1024 * 1024)

/** One request. Everything is borrowed for the duration of the call. */
struct nc_httpc_request {
	/** "GET" or "PUT" (any token of [A-Z] is sent as is). */
	const char *method;
	/**
	 * "HOST:PORT", "[IPv6]:PORT" or either prefixed with "http://".
	 * HOST is a name or a numeric address.
	 */
	const char *addr;
	/** Path and query, already percent-encoded, starting with '/'. */
	const char *path;
	/** Optional body (sent with Content-Type: application/json). */
	const char *body;
	/** Length of body; 0 sends "Content-Length: 0" for PUT/POST. */
	size_t body_len;
	/** Optional bearer token: "Authorization: Bearer <token>". */
	const char *token;
	/** Connect timeout, ms, per address tried; 0 = 3000. */
	int connect_timeout_ms;
	/**
	 * Deadline for sending the request and receiving the whole response
	 * after the connection is up, ms; 0 = 10000. A peer that trickles
	 * bytes cannot extend it.
	 */
	int timeout_ms;
	/** Body cap, bytes; 0 = NC_HTTPC_BODY_MAX_DEFAULT. */
	size_t body_max;
};

/** A response. Fill with nc_httpc_do(), release with _destroy(). */
struct nc_httpc_response {
	/** HTTP status code (200, 404, ...); 0 if none was received. */
	int status;
	/**
	 * Body, decoded from chunked transfer coding if needed, always
	 * NUL-terminated (the NUL is not counted in body_len); owned by the
	 * response. Never NULL after a successful call.
	 */
	char *body;
	/** Body length, bytes. */
	size_t body_len;
	/**
	 * True once the TCP connection was established: a failure with
	 * connected == false means the agent could not be reached at all
	 * (resolution or connect), any other failure came later.
	 */
	bool connected;
};

/**
 * Perform one request and wait for the whole response. Name resolution
 * (getaddrinfo) is not covered by the timeouts; use numeric addresses
 * where that matters. Every address the name resolves to is tried in
 * order until one connects. SIGPIPE is never raised (MSG_NOSIGNAL).
 * @param req           the request
 * @param[out] resp     the response; zeroed first, so it is safe to pass
 *                      to nc_httpc_response_destroy() whatever happens
 * @param[out] err      optional message buffer with details (which
 *                      address, which header was bad)
 * @param err_len       size of err (0 if err is NULL)
 * @retval 0 a complete response was received (any status);
 *         -errno (-ECONNREFUSED, -ETIMEDOUT, ...), NC_HTTPC_EINVAL,
 *         NC_HTTPC_ERESOLVE, NC_HTTPC_EPROTO, NC_HTTPC_ETRUNC,
 *         NC_HTTPC_ETOOBIG, NC_HTTPC_ENOMEM; resp->body is then NULL.
 */
int
nc_httpc_do(const struct nc_httpc_request *req,
	    struct nc_httpc_response *resp, char *err, size_t err_len);

/** Free the body of resp and zero it (NULL-safe, idempotent). */
void
nc_httpc_response_destroy(struct nc_httpc_response *resp);

/**
 * Text for a code returned by nc_httpc_do(): strerror() for -errno,
 * a fixed text for NC_HTTPC_E*. Never NULL.
 */
const char *
nc_httpc_strerror(int err);

/**
 * Append `s` to buf percent-encoded for a query value or path segment
 * (RFC 3986 unreserved characters pass, everything else becomes %XX).
 * @param buf  NUL-terminated string in a buffer of `cap` bytes
 * @retval 0 ok; NC_HTTPC_ETOOBIG if it does not fit (buf unchanged).
 */
int
nc_httpc_append_escaped(char *buf, size_t cap, const char *s);

#endif /* NC_CMD_HTTPC_H */
