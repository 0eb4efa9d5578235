/*
 * test_server.h - a canned HTTP server on 127.0.0.1 for the cli tests.
 *
 * One thread, one connection at a time: it reads a request (head plus
 * Content-Length body), records it, and answers with whatever raw bytes
 * the test set with nc_test_srv_set_reply(): a valid response, garbage,
 * a truncated one, one byte at a time with delays, or nothing at all.
 * It is not an HTTP server; it is a script of bytes.
 */
#ifndef NC_TESTS_CLI_TEST_SERVER_H
#define NC_TESTS_CLI_TEST_SERVER_H

#include <stdbool.h>
#include <stddef.h>

/** What the server does with the next connections. */
struct nc_test_srv_reply {
	/** Raw bytes to send (status line, headers, body); may be NULL. */
	const char *raw;
	/** Length of raw; 0 = strlen(raw). */
	size_t raw_len;
	/** Send in pieces of this many bytes (0 = all at once). */
	size_t piece_bytes;
	/** Sleep between pieces, ms. */
	int piece_delay_ms;
	/** Send nothing and keep the connection open until the client
	 * closes it or the server stops. */
	bool hang;
};

/** The last request the server read. */
struct nc_test_srv_req {
	/** Request head (request line + headers), NUL-terminated. */
	char head[8192];
	/** Body bytes (Content-Length), NUL-terminated. */
	char body[8192];
	/** Body length. */
	size_t body_len;
};

struct nc_test_srv;

/**
 * Start a server on 127.0.0.1:<any free port> with an empty reply
 * (connections are closed at once). NULL on failure.
 */
struct nc_test_srv *
nc_test_srv_start(void);

/** "127.0.0.1:<port>" (borrowed, valid until stop). */
const char *
nc_test_srv_addr(const struct nc_test_srv *s);

/** Set the reply for the following connections (raw is copied). */
void
nc_test_srv_set_reply(struct nc_test_srv *s,
		      const struct nc_test_srv_reply *r);

/** Shorthand: reply with `raw` at once. */
void
nc_test_srv_set_raw(struct nc_test_srv *s, const char *raw);

/** Copy the last request read; returns the number of requests so far. */
unsigned
nc_test_srv_last(struct nc_test_srv *s, struct nc_test_srv_req *out);

/** Stop the thread, close everything, free s (NULL is fine). */
void
nc_test_srv_stop(struct nc_test_srv *s);

/** A local port nothing listens on (bound, then closed). 0 on failure. */
int
nc_test_free_port(void);

#endif /* NC_TESTS_CLI_TEST_SERVER_H */
