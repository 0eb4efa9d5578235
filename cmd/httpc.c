/*
 * httpc.c - a tiny blocking HTTP/1.1 client (see httpc.h).
 *
 * Design. The CLI makes one request and exits, so the boring shape wins:
 * resolve, connect with a timeout, write the request, read until the
 * response is complete, close. No connection reuse (we send
 * "Connection: close"), no TLS (the agent serves plain HTTP; put a proxy
 * in front for anything else), no redirects.
 *
 * Sockets are non-blocking and every wait is a poll() against a deadline
 * on CLOCK_MONOTONIC, so a peer that accepts and then says nothing, or
 * trickles one byte a second, is cut off at timeout_ms. Connect has its
 * own timeout per resolved address (like curl's connect timeout) because
 * "agent not running" should be reported in a moment, not after the
 * request deadline.
 *
 * Response parsing is a small state machine over one receive buffer:
 *
 *   raw bytes ──> [status line + headers] ──> body framing:
 *                                              Content-Length: N
 *                                              chunked (decoded here)
 *                                              neither: until EOF
 *
 * Headers are parsed once the blank line is in the buffer; the bytes after
 * it are moved to the front and the buffer then holds body-stage bytes
 * only. For chunked bodies the decoder consumes from the front (memmove),
 * so the buffer stays small however tiny the chunks are. Interim 1xx
 * responses are skipped. Network input is hostile: every length is
 * checked, every cap (header block, body, chunk-size line) is enforced,
 * and a malformed reply is NC_HTTPC_EPROTO, never an assert.
 */
#include "cmd/httpc.h"

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/** Default connect timeout, ms: an agent on localhost answers in < 1 ms. */
#define HTTPC_CONNECT_TIMEOUT_MS 3000
/** Default request deadline, ms. Arbitrary; /v1/members is fast. */
#define HTTPC_TIMEOUT_MS 10000
/** Longest chunk-size or trailer line, bytes (nothing legit comes close). */
#define HTTPC_CHUNK_LINE_MAX 1024
/** recv() granularity, bytes. Nothing special in this value. */
#define HTTPC_READ_BYTES 16384

/** A growable byte buffer (always room for a trailing NUL). */
struct httpc_buf {
	/** Bytes, malloc'd; NULL until the first append. */
	char *data;
	/** Used bytes. */
	size_t len;
	/** Allocated bytes. */
	size_t cap;
};

/** How the body of a response is delimited. */
enum httpc_framing {
	/** No body (1xx/204/304). */
	HTTPC_NONE,
	/** Content-Length. */
	HTTPC_LENGTH,
	/** Transfer-Encoding: chunked. */
	HTTPC_CHUNKED,
	/** Neither: the body ends when the connection closes. */
	HTTPC_CLOSE,
};

/** State of the chunked decoder. */
enum httpc_chunk_state {
	/** Expecting a chunk-size line. */
	CH_SIZE,
	/** Inside chunk data. */
	CH_DATA,
	/** Expecting the CRLF that ends chunk data. */
	CH_DATA_END,
	/** After the last chunk: trailer fields until an empty line. */
	CH_TRAILER,
	/** Complete. */
	CH_DONE,
};

/** Everything the receive loop knows about the response so far. */
struct httpc_parse {
	/** Received bytes not yet consumed. */
	struct httpc_buf raw;
	/** Decoded body (chunked only; otherwise raw becomes the body). */
	struct httpc_buf body;
	/** True once the final (non-1xx) header block has been parsed. */
	bool headers_done;
	/** Status of the final response. */
	int status;
	/** Body framing. */
	enum httpc_framing framing;
	/** Content-Length, for HTTPC_LENGTH. */
	size_t content_length;
	/** Chunked decoder state. */
	enum httpc_chunk_state chunk_state;
	/** Bytes left in the current chunk. */
	size_t chunk_left;
	/** Trailer bytes seen (capped). */
	size_t trailer_bytes;
	/** Body cap. */
	size_t body_max;
	/** Request method was HEAD (no body whatever the headers say). */
	bool head;
	/** Optional message buffer for details. */
	char *err;
	size_t err_len;
};

/** printf into the optional message buffer. */
static void __attribute__((format(printf, 3, 4)))
set_err(char *err, size_t err_len, const char *fmt, ...)
{
	if (err == NULL || err_len == 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, err_len, fmt, ap);
	va_end(ap);
}

const char *
nc_httpc_strerror(int err)
{
	switch (err) {
	case 0:
		return "ok";
	case NC_HTTPC_EINVAL:
		return "invalid argument";
	case NC_HTTPC_ERESOLVE:
		return "cannot resolve host";
	case NC_HTTPC_EPROTO:
		return "malformed HTTP response";
	case NC_HTTPC_ETRUNC:
		return "connection closed before the response was complete";
	case NC_HTTPC_ETOOBIG:
		return "response too large";
	case NC_HTTPC_ENOMEM:
		return "out of memory";
	default:
		if (err < 0 && err > -4096)
			return strerror(-err);
		return "unknown error";
	}
}

int
nc_httpc_append_escaped(char *buf, size_t cap, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t len = strlen(buf);
	size_t need = 0;
	for (const char *p = s; *p != '\0'; p++) {
		unsigned char c = (unsigned char)*p;
		bool plain = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
			     (c >= '0' && c <= '9') || c == '-' || c == '.' ||
			     c == '_' || c == '~';
		need += plain ? 1 : 3;
	}
	if (len + need + 1 > cap)
		return NC_HTTPC_ETOOBIG;
	char *o = buf + len;
	for (const char *p = s; *p != '\0'; p++) {
		unsigned char c = (unsigned char)*p;
		bool plain = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
			     (c >= '0' && c <= '9') || c == '-' || c == '.' ||
			     c == '_' || c == '~';
		if (plain) {
			*o++ = (char)c;
		} else {
			*o++ = '%';
			*o++ = hex[c >> 4];
			*o++ = hex[c & 15];
		}
	}
	*o = '\0';
	return 0;
}

/* ---- buffers ---------------------------------------------------------- */

/** Make room for `more` bytes plus a NUL. @retval 0, NC_HTTPC_ENOMEM. */
static int
buf_reserve(struct httpc_buf *b, size_t more)
{
	if (b->len + more + 1 <= b->cap)
		return 0;
	size_t cap = b->cap != 0 ? b->cap : 1024;
	while (cap < b->len + more + 1) {
		if (cap > SIZE_MAX / 2)
			return NC_HTTPC_ENOMEM;
		cap *= 2;
	}
	char *p = realloc(b->data, cap);
	if (p == NULL)
		return NC_HTTPC_ENOMEM;
	b->data = p;
	b->cap = cap;
	return 0;
}

static int
buf_append(struct httpc_buf *b, const char *p, size_t n)
{
	int rc = buf_reserve(b, n);
	if (rc != 0)
		return rc;
	if (n > 0)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

/** Drop the first n bytes. */
static void
buf_consume(struct httpc_buf *b, size_t n)
{
	if (n == 0)
		return;
	memmove(b->data, b->data + n, b->len - n);
	b->len -= n;
	b->data[b->len] = '\0';
}

/* ---- address, clock, socket ------------------------------------------- */

/**
 * Split "HOST:PORT" / "[V6]:PORT" / "http://..." into host and port.
 * @param[out] host_hdr  value for the Host header (brackets kept)
 * @retval 0, NC_HTTPC_EINVAL.
 */
static int
split_addr(const char *addr, char *host, size_t host_cap, char *port,
	   size_t port_cap, char *host_hdr, size_t host_hdr_cap)
{
	if (addr == NULL)
		return NC_HTTPC_EINVAL;
	if (strncmp(addr, "http://", 7) == 0)
		addr += 7;
	size_t alen = strlen(addr);
	if (alen > 0 && addr[alen - 1] == '/')
		alen--;
	const char *colon;
	const char *h;
	size_t hlen;
	if (alen > 0 && addr[0] == '[') {
		const char *rb = memchr(addr, ']', alen);
		if (rb == NULL || rb + 1 >= addr + alen || rb[1] != ':')
			return NC_HTTPC_EINVAL;
		h = addr + 1;
		hlen = (size_t)(rb - h);
		colon = rb + 1;
	} else {
		colon = NULL;
		for (size_t i = 0; i < alen; i++) {
			if (addr[i] == ':') {
				if (colon != NULL)
					return NC_HTTPC_EINVAL; /* bare IPv6 */
				colon = addr + i;
			}
		}
		if (colon == NULL)
			return NC_HTTPC_EINVAL;
		h = addr;
		hlen = (size_t)(colon - addr);
	}
	const char *p = colon + 1;
	size_t plen = (size_t)(addr + alen - p);
	if (hlen == 0 || hlen >= host_cap || plen == 0 || plen > 5 ||
	    plen >= port_cap)
		return NC_HTTPC_EINVAL;
	unsigned long pv = 0;
	for (size_t i = 0; i < plen; i++) {
		if (p[i] < '0' || p[i] > '9')
			return NC_HTTPC_EINVAL;
		pv = pv * 10 + (unsigned long)(p[i] - '0');
	}
	if (pv == 0 || pv > 65535)
		return NC_HTTPC_EINVAL;
	for (size_t i = 0; i < hlen; i++) {
		unsigned char c = (unsigned char)h[i];
		if (c <= ' ' || c == '/' || c == '@' || c >= 0x7f)
			return NC_HTTPC_EINVAL;
	}
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	memcpy(port, p, plen);
	port[plen] = '\0';
	size_t hh = (size_t)(addr + alen - addr);
	if (hh >= host_hdr_cap)
		return NC_HTTPC_EINVAL;
	memcpy(host_hdr, addr, hh);
	host_hdr[hh] = '\0';
	return 0;
}

static long long
now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/**
 * Wait for `events` on fd until the deadline.
 * @retval 0 ready; -ETIMEDOUT; -errno.
 */
static int
wait_fd(int fd, short events, long long deadline)
{
	for (;;) {
		long long left = deadline - now_ms();
		if (left <= 0)
			return -ETIMEDOUT;
		struct pollfd pfd = {.fd = fd, .events = events};
		int n = poll(&pfd, 1, left > 60000 ? 60000 : (int)left);
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return -errno;
	}
}

/**
 * Connect to one resolved address with a timeout.
 * @return fd (non-blocking) or -errno.
 */
static int
connect_one(const struct addrinfo *ai, int timeout_ms)
{
	int fd = socket(ai->ai_family,
			ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
			ai->ai_protocol);
	if (fd < 0)
		return -errno;
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
		return fd;
	int rc = -errno;
	if (rc == -EINPROGRESS) {
		rc = wait_fd(fd, POLLOUT, now_ms() + timeout_ms);
		if (rc == 0) {
			int soerr = 0;
			socklen_t sl = sizeof(soerr);
			if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) !=
			    0)
				rc = -errno;
			else
				rc = -soerr;
		}
	}
	if (rc == 0)
		return fd;
	close(fd);
	return rc;
}

/** Send all of buf before the deadline. @retval 0, -errno. */
static int
send_all(int fd, const char *buf, size_t len, long long deadline)
{
	while (len > 0) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
		if (n > 0) {
			buf += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			int rc = wait_fd(fd, POLLOUT, deadline);
			if (rc != 0)
				return rc;
			continue;
		}
		return n < 0 ? -errno : -EIO;
	}
	return 0;
}

/* ---- response parsing ------------------------------------------------- */

/**
 * Find the end of the line starting at p (exclusive of "\r\n" / "\n").
 * @return pointer to the '\n', or NULL if not in [p, end).
 */
static const char *
line_end(const char *p, const char *end)
{
	return memchr(p, '\n', (size_t)(end - p));
}

/** Trim spaces/tabs (and a trailing CR) around [*b, *e). */
static void
trim(const char **b, const char **e)
{
	while (*b < *e && (**b == ' ' || **b == '\t'))
		(*b)++;
	while (*e > *b &&
	       ((*e)[-1] == ' ' || (*e)[-1] == '\t' || (*e)[-1] == '\r'))
		(*e)--;
}

/** Does [b, e) contain token `tok` (case-insensitive, comma list)? */
static bool
has_token(const char *b, const char *e, const char *tok)
{
	size_t tl = strlen(tok);
	while (b < e) {
		const char *c = memchr(b, ',', (size_t)(e - b));
		const char *ie = c != NULL ? c : e;
		const char *ib = b;
		trim(&ib, &ie);
		if ((size_t)(ie - ib) == tl && strncasecmp(ib, tok, tl) == 0)
			return true;
		b = c != NULL ? c + 1 : e;
	}
	return false;
}

/**
 * Parse a complete header block [p, end) (status line up to but
 * excluding the blank line).
 * @retval 0, NC_HTTPC_EPROTO (details in ps->err).
 */
static int
parse_headers(struct httpc_parse *ps, const char *p, const char *end)
{
	const char *le = line_end(p, end);
	const char *sl_end = le != NULL ? le : end;
	/* "HTTP/1.x SP DDD [SP reason]" */
	if (sl_end - p < 12 || memcmp(p, "HTTP/1.", 7) != 0 ||
	    (p[7] != '0' && p[7] != '1') || p[8] != ' ' || p[9] < '1' ||
	    p[9] > '5' || p[10] < '0' || p[10] > '9' || p[11] < '0' ||
	    p[11] > '9' || (sl_end - p > 12 && p[12] != ' ' && p[12] != '\r')) {
		set_err(ps->err, ps->err_len, "bad status line");
		return NC_HTTPC_EPROTO;
	}
	ps->status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
	bool chunked = false, have_len = false;
	size_t clen = 0;
	p = le != NULL ? le + 1 : end;
	while (p < end) {
		le = line_end(p, end);
		const char *lend = le != NULL ? le : end;
		const char *colon = memchr(p, ':', (size_t)(lend - p));
		if (colon == NULL || colon == p || *p == ' ' || *p == '\t') {
			/* obs-fold or junk: RFC 9112 lets us reject. */
			set_err(ps->err, ps->err_len, "bad header line");
			return NC_HTTPC_EPROTO;
		}
		const char *nb = p, *ne = colon;
		const char *vb = colon + 1, *ve = lend;
		trim(&vb, &ve);
		if (ne - nb == 14 &&
		    strncasecmp(nb, "Content-Length", 14) == 0) {
			size_t v = 0;
			if (vb == ve)
				goto bad_len;
			for (const char *q = vb; q < ve; q++) {
				if (*q < '0' || *q > '9' ||
				    v > SIZE_MAX / 10 - 1)
					goto bad_len;
				v = v * 10 + (size_t)(*q - '0');
			}
			if (have_len && v != clen)
				goto bad_len;
			have_len = true;
			clen = v;
		} else if (ne - nb == 17 &&
			   strncasecmp(nb, "Transfer-Encoding", 17) == 0) {
			if (has_token(vb, ve, "chunked"))
				chunked = true;
		}
		p = le != NULL ? le + 1 : end;
	}
	if (ps->status < 200 || ps->status == 204 || ps->status == 304 ||
	    ps->head)
		ps->framing = HTTPC_NONE;
	else if (chunked)
		ps->framing = HTTPC_CHUNKED;
	else if (have_len)
		ps->framing = HTTPC_LENGTH;
	else
		ps->framing = HTTPC_CLOSE;
	ps->content_length = clen;
	if (ps->framing == HTTPC_LENGTH && clen > ps->body_max) {
		set_err(ps->err, ps->err_len, "Content-Length above the cap");
		return NC_HTTPC_ETOOBIG;
	}
	return 0;
bad_len:
	set_err(ps->err, ps->err_len, "bad Content-Length");
	return NC_HTTPC_EPROTO;
}

/**
 * Run the chunked decoder over ps->raw, moving data to ps->body.
 * @retval 1 complete; 0 needs more bytes; NC_HTTPC_EPROTO, _ETOOBIG,
 *         _ENOMEM.
 */
static int
decode_chunked(struct httpc_parse *ps)
{
	struct httpc_buf *raw = &ps->raw;
	size_t p = 0;
	int rc = 0;
	while (rc == 0 && ps->chunk_state != CH_DONE) {
		const char *b = raw->data + p;
		const char *e = raw->data + raw->len;
		if (ps->chunk_state == CH_SIZE ||
		    ps->chunk_state == CH_TRAILER) {
			const char *le = line_end(b, e);
			if (le == NULL) {
				if ((size_t)(e - b) > HTTPC_CHUNK_LINE_MAX)
					rc = NC_HTTPC_EPROTO;
				break;
			}
			const char *lend = le;
			if (lend > b && lend[-1] == '\r')
				lend--;
			if (ps->chunk_state == CH_TRAILER) {
				ps->trailer_bytes += (size_t)(le + 1 - b);
				if (ps->trailer_bytes > NC_HTTPC_HEADER_MAX)
					rc = NC_HTTPC_ETOOBIG;
				else if (lend == b)
					ps->chunk_state = CH_DONE;
				p += (size_t)(le + 1 - b);
				continue;
			}
			size_t size = 0;
			bool too_big = false;
			const char *q = b;
			for (; q < lend; q++) {
				int d;
				if (*q >= '0' && *q <= '9')
					d = *q - '0';
				else if (*q >= 'a' && *q <= 'f')
					d = *q - 'a' + 10;
				else if (*q >= 'A' && *q <= 'F')
					d = *q - 'A' + 10;
				else
					break;
				if (size > ps->body_max)
					too_big = true; /* stop growing */
				else
					size = size * 16 + (size_t)d;
			}
			if (q == b || (q < lend && *q != ';' && *q != ' ' &&
				       *q != '\t')) {
				rc = NC_HTTPC_EPROTO;
				break;
			}
			if (too_big || size > ps->body_max - ps->body.len) {
				rc = NC_HTTPC_ETOOBIG;
				break;
			}
			p += (size_t)(le + 1 - b);
			ps->chunk_left = size;
			ps->chunk_state = size == 0 ? CH_TRAILER : CH_DATA;
		} else if (ps->chunk_state == CH_DATA) {
			size_t n = (size_t)(e - b);
			if (n == 0)
				break;
			if (n > ps->chunk_left)
				n = ps->chunk_left;
			rc = buf_append(&ps->body, b, n);
			p += n;
			ps->chunk_left -= n;
			if (ps->chunk_left == 0)
				ps->chunk_state = CH_DATA_END;
		} else { /* CH_DATA_END */
			if (b == e)
				break;
			if (*b == '\n') {
				p += 1;
			} else if (*b == '\r') {
				if (e - b < 2)
					break;
				if (b[1] != '\n') {
					rc = NC_HTTPC_EPROTO;
					break;
				}
				p += 2;
			} else {
				rc = NC_HTTPC_EPROTO;
				break;
			}
			ps->chunk_state = CH_SIZE;
		}
	}
	buf_consume(raw, p);
	if (rc == NC_HTTPC_EPROTO)
		set_err(ps->err, ps->err_len, "bad chunked encoding");
	else if (rc == NC_HTTPC_ETOOBIG)
		set_err(ps->err, ps->err_len, "chunked body above the cap");
	if (rc != 0)
		return rc;
	return ps->chunk_state == CH_DONE ? 1 : 0;
}

/**
 * Try to make progress with the bytes in ps->raw.
 * @param eof  the peer closed the connection
 * @retval 1 response complete; 0 need more; negative error.
 */
static int
parse_step(struct httpc_parse *ps, bool eof)
{
	while (!ps->headers_done) {
		struct httpc_buf *raw = &ps->raw;
		/* Fail fast on a non-HTTP peer (e.g. pointed at a gossip
		 * port), without waiting for the timeout. */
		size_t cmp = raw->len < 5 ? raw->len : 5;
		if (memcmp(raw->data != NULL ? raw->data : "", "HTTP/", cmp) !=
		    0) {
			set_err(ps->err, ps->err_len, "not an HTTP response");
			return NC_HTTPC_EPROTO;
		}
		/* Find the blank line ending the header block. */
		const char *b = raw->data, *e = b + raw->len;
		const char *p = b, *hend = NULL, *bstart = NULL;
		while (p < e) {
			const char *le = line_end(p, e);
			if (le == NULL)
				break;
			if (le == p || (le == p + 1 && *p == '\r')) {
				hend = p;
				bstart = le + 1;
				break;
			}
			p = le + 1;
		}
		if (hend == NULL) {
			if (raw->len > NC_HTTPC_HEADER_MAX) {
				set_err(ps->err, ps->err_len,
					"header block above the cap");
				return NC_HTTPC_ETOOBIG;
			}
			if (eof) {
				set_err(ps->err, ps->err_len, "%s",
					raw->len == 0
					    ? "empty reply"
					    : "reply ended in the headers");
				return NC_HTTPC_ETRUNC;
			}
			return 0;
		}
		if ((size_t)(hend - b) > NC_HTTPC_HEADER_MAX) {
			set_err(ps->err, ps->err_len,
				"header block above the cap");
			return NC_HTTPC_ETOOBIG;
		}
		int rc = parse_headers(ps, b, hend);
		if (rc != 0)
			return rc;
		buf_consume(raw, (size_t)(bstart - b));
		if (ps->status >= 200)
			ps->headers_done = true;
		/* else: interim 1xx response, parse the next block. */
	}
	switch (ps->framing) {
	case HTTPC_NONE:
		return 1;
	case HTTPC_LENGTH:
		if (ps->raw.len >= ps->content_length) {
			ps->raw.len = ps->content_length; /* ignore extra */
			return 1;
		}
		break;
	case HTTPC_CHUNKED: {
		int rc = decode_chunked(ps);
		if (rc != 0)
			return rc;
		break;
	}
	case HTTPC_CLOSE:
		if (ps->raw.len > ps->body_max) {
			set_err(ps->err, ps->err_len, "body above the cap");
			return NC_HTTPC_ETOOBIG;
		}
		if (eof)
			return 1;
		break;
	}
	if (eof) {
		set_err(ps->err, ps->err_len, "reply ended in the body");
		return NC_HTTPC_ETRUNC;
	}
	return 0;
}

/** Build the request head. @return malloc'd string or NULL. */
static char *
build_request(const struct nc_httpc_request *req, const char *host_hdr)
{
	bool with_body = req->body != NULL || strcmp(req->method, "PUT") == 0 ||
			 strcmp(req->method, "POST") == 0;
	size_t cap = strlen(req->method) + strlen(req->path) +
		     strlen(host_hdr) +
		     (req->token != NULL ? strlen(req->token) : 0) + 256;
	char *s = malloc(cap);
	if (s == NULL)
		return NULL;
	int n = snprintf(s, cap,
			 "%s %s HTTP/1.1\r\nHost: %s\r\n"
			 "User-Agent: netcoord\r\n"
			 "Accept: application/json\r\nConnection: close\r\n",
			 req->method, req->path, host_hdr);
	if (req->token != NULL && req->token[0] != '\0')
		n += snprintf(s + n, cap - (size_t)n,
			      "Authorization: Bearer %s\r\n", req->token);
	if (with_body)
		n += snprintf(s + n, cap - (size_t)n,
			      "Content-Type: application/json\r\n"
			      "Content-Length: %zu\r\n",
			      req->body != NULL ? req->body_len : (size_t)0);
	snprintf(s + n, cap - (size_t)n, "\r\n");
	return s;
}

/** Reject CR, LF and other controls that would split a header line. */
static bool
header_safe(const char *s, bool allow_space)
{
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;
		if (c < 0x20 || c == 0x7f || (!allow_space && c == ' '))
			return false;
	}
	return true;
}

int
nc_httpc_do(const struct nc_httpc_request *req, struct nc_httpc_response *resp,
	    char *err, size_t err_len)
{
	memset(resp, 0, sizeof(*resp));
	if (err != NULL && err_len > 0)
		err[0] = '\0';
	if (req == NULL || req->method == NULL || req->path == NULL ||
	    req->path[0] != '/' || !header_safe(req->path, false) ||
	    (req->token != NULL && !header_safe(req->token, false)) ||
	    req->method[0] == '\0') {
		set_err(err, err_len, "bad request arguments");
		return NC_HTTPC_EINVAL;
	}
	for (const char *m = req->method; *m != '\0'; m++) {
		if (*m < 'A' || *m > 'Z') {
			set_err(err, err_len, "bad method");
			return NC_HTTPC_EINVAL;
		}
	}
	char host[256], port[8], host_hdr[300];
	if (split_addr(req->addr, host, sizeof(host), port, sizeof(port),
		       host_hdr, sizeof(host_hdr)) != 0) {
		set_err(err, err_len, "bad address \"%s\" (want HOST:PORT)",
			req->addr != NULL ? req->addr : "");
		return NC_HTTPC_EINVAL;
	}
	int connect_ms = req->connect_timeout_ms > 0 ? req->connect_timeout_ms
						     : HTTPC_CONNECT_TIMEOUT_MS;
	int timeout_ms =
	    req->timeout_ms > 0 ? req->timeout_ms : HTTPC_TIMEOUT_MS;

	struct addrinfo hints = {0}, *ais = NULL;
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	int grc = getaddrinfo(host, port, &hints, &ais);
	if (grc != 0) {
		set_err(err, err_len, "%s", gai_strerror(grc));
		return NC_HTTPC_ERESOLVE;
	}
	int fd = -ECONNREFUSED;
	for (struct addrinfo *ai = ais; ai != NULL; ai = ai->ai_next) {
		fd = connect_one(ai, connect_ms);
		if (fd >= 0)
			break;
	}
	freeaddrinfo(ais);
	if (fd < 0)
		return fd; /* the last address's error */
	resp->connected = true;

	long long deadline = now_ms() + timeout_ms;
	struct httpc_parse ps = {0};
	ps.body_max =
	    req->body_max > 0 ? req->body_max : NC_HTTPC_BODY_MAX_DEFAULT;
	ps.head = strcmp(req->method, "HEAD") == 0;
	ps.err = err;
	ps.err_len = err_len;
	int rc;
	char *head = build_request(req, host_hdr);
	if (head == NULL) {
		rc = NC_HTTPC_ENOMEM;
		goto fail;
	}
	rc = send_all(fd, head, strlen(head), deadline);
	free(head);
	if (rc == 0 && req->body != NULL && req->body_len > 0)
		rc = send_all(fd, req->body, req->body_len, deadline);
	/*
	 * A peer that answers early (e.g. 401 before reading the body) and
	 * closes may make send() fail with EPIPE/ECONNRESET while its
	 * response sits in our receive buffer: read it anyway.
	 */
	if (rc == -ETIMEDOUT)
		goto fail;
	for (;;) {
		rc = buf_reserve(&ps.raw, HTTPC_READ_BYTES);
		if (rc != 0)
			goto fail;
		ssize_t n = recv(fd, ps.raw.data + ps.raw.len,
				 ps.raw.cap - ps.raw.len - 1, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			rc = wait_fd(fd, POLLIN, deadline);
			if (rc != 0)
				goto fail;
			continue;
		}
		if (n < 0) {
			rc = -errno;
			if (ps.raw.len == 0)
				goto fail;
			/* Reset after some data: judge what we have. */
			n = 0;
		}
		ps.raw.len += (size_t)n;
		ps.raw.data[ps.raw.len] = '\0';
		rc = parse_step(&ps, n == 0);
		if (rc < 0)
			goto fail;
		if (rc == 1)
			break;
	}
	close(fd);
	resp->status = ps.status;
	if (ps.framing == HTTPC_CHUNKED) {
		if (buf_reserve(&ps.body, 0) != 0) {
			free(ps.raw.data);
			free(ps.body.data);
			return NC_HTTPC_ENOMEM;
		}
		ps.body.data[ps.body.len] = '\0';
		free(ps.raw.data);
		resp->body = ps.body.data;
		resp->body_len = ps.body.len;
	} else {
		if (ps.framing == HTTPC_NONE)
			ps.raw.len = 0;
		ps.raw.data[ps.raw.len] = '\0';
		free(ps.body.data);
		resp->body = ps.raw.data;
		resp->body_len = ps.raw.len;
	}
	return 0;
fail:
	close(fd);
	free(ps.raw.data);
	free(ps.body.data);
	resp->status = 0;
	if (rc == -ETIMEDOUT && err != NULL && err_len > 0 && err[0] == '\0')
		snprintf(err, err_len, "no complete response within %d ms",
			 timeout_ms);
	return rc;
}

void
nc_httpc_response_destroy(struct nc_httpc_response *resp)
{
	if (resp == NULL)
		return;
	free(resp->body);
	memset(resp, 0, sizeof(*resp));
}
