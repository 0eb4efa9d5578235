/*
 * test_server.c - the canned HTTP server of the cli tests (see
 * test_server.h). A thread polls the listening socket and a wake-up pipe;
 * each connection is served to completion before the next accept, which
 * is all a blocking one-request-per-connection client needs. Every wait
 * is bounded (poll with a timeout) so that a broken test cannot hang the
 * binary.
 */
#include "test_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/** The server (one per test that needs it). */
struct nc_test_srv {
	/** Listening socket. */
	int lfd;
	/** Wake-up pipe: writing to [1] stops the thread. */
	int wake[2];
	/** "127.0.0.1:port". */
	char addr[32];
	/** The thread. */
	pthread_t thread;
	/** Guards everything below. */
	pthread_mutex_t mu;
	/** Current reply; raw is a malloc'd copy. */
	struct nc_test_srv_reply reply;
	/** Last request. */
	struct nc_test_srv_req last;
	/** Requests read so far. */
	unsigned n_requests;
};

static void
sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/** Wait for fd readable (or the wake pipe). @retval 1 fd, 0 stop/timeout. */
static int
wait_readable(struct nc_test_srv *s, int fd, int timeout_ms)
{
	struct pollfd p[2] = {{.fd = fd, .events = POLLIN},
			      {.fd = s->wake[0], .events = POLLIN}};
	int n = poll(p, 2, timeout_ms);
	if (n <= 0 || (p[1].revents & POLLIN) != 0)
		return 0;
	return 1;
}

/** Read one request from c into req (best effort, bounded by 2 s). */
static void
read_request(struct nc_test_srv *s, int c, struct nc_test_srv_req *req)
{
	char buf[16384];
	size_t len = 0;
	char *hend = NULL;
	memset(req, 0, sizeof(*req));
	while (hend == NULL && len < sizeof(buf) - 1) {
		if (!wait_readable(s, c, 2000))
			return;
		ssize_t n = recv(c, buf + len, sizeof(buf) - 1 - len, 0);
		if (n <= 0)
			return;
		len += (size_t)n;
		buf[len] = '\0';
		hend = strstr(buf, "\r\n\r\n");
	}
	if (hend == NULL)
		return;
	size_t hl = (size_t)(hend - buf) + 4;
	size_t copy = hl < sizeof(req->head) ? hl : sizeof(req->head) - 1;
	memcpy(req->head, buf, copy);
	req->head[copy] = '\0';
	size_t clen = 0;
	const char *cl = strstr(req->head, "\r\nContent-Length:");
	if (cl != NULL)
		clen = strtoul(cl + 17, NULL, 10);
	if (clen >= sizeof(req->body))
		clen = sizeof(req->body) - 1;
	size_t have = len - hl;
	if (have > clen)
		have = clen;
	memcpy(req->body, buf + hl, have);
	while (have < clen) {
		if (!wait_readable(s, c, 2000))
			break;
		ssize_t n = recv(c, req->body + have, clen - have, 0);
		if (n <= 0)
			break;
		have += (size_t)n;
	}
	req->body_len = have;
	req->body[have] = '\0';
}

static void
serve(struct nc_test_srv *s, int c)
{
	struct nc_test_srv_req req;
	read_request(s, c, &req);
	pthread_mutex_lock(&s->mu);
	s->last = req;
	s->n_requests++;
	struct nc_test_srv_reply r = s->reply;
	char *raw = NULL;
	if (r.raw != NULL) {
		raw = malloc(r.raw_len + 1);
		if (raw != NULL)
			memcpy(raw, r.raw, r.raw_len + 1);
	}
	pthread_mutex_unlock(&s->mu);
	if (r.hang) {
		/* Until the client gives up or the server stops. */
		char tmp[256];
		while (wait_readable(s, c, 10000) &&
		       recv(c, tmp, sizeof(tmp), 0) > 0)
			;
	} else if (raw != NULL) {
		size_t off = 0,
		       piece = r.piece_bytes > 0 ? r.piece_bytes : r.raw_len;
		while (off < r.raw_len) {
			size_t n =
			    r.raw_len - off < piece ? r.raw_len - off : piece;
			if (send(c, raw + off, n, MSG_NOSIGNAL) < 0)
				break;
			off += n;
			if (off < r.raw_len && r.piece_delay_ms > 0)
				sleep_ms(r.piece_delay_ms);
		}
	}
	free(raw);
	close(c);
}

static void *
srv_main(void *arg)
{
	struct nc_test_srv *s = arg;
	for (;;) {
		if (!wait_readable(s, s->lfd, 60000))
			break;
		int c = accept(s->lfd, NULL, NULL);
		if (c < 0)
			continue;
		serve(s, c);
	}
	return NULL;
}

struct nc_test_srv *
nc_test_srv_start(void)
{
	struct nc_test_srv *s = calloc(1, sizeof(*s));
	if (s == NULL)
		return NULL;
	s->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in sin = {.sin_family = AF_INET};
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t sl = sizeof(sin);
	if (s->lfd < 0 || bind(s->lfd, (struct sockaddr *)&sin, sl) != 0 ||
	    listen(s->lfd, 16) != 0 ||
	    getsockname(s->lfd, (struct sockaddr *)&sin, &sl) != 0 ||
	    pipe(s->wake) != 0) {
		if (s->lfd >= 0)
			close(s->lfd);
		free(s);
		return NULL;
	}
	snprintf(s->addr, sizeof(s->addr), "127.0.0.1:%u",
		 (unsigned)ntohs(sin.sin_port));
	pthread_mutex_init(&s->mu, NULL);
	if (pthread_create(&s->thread, NULL, srv_main, s) != 0) {
		close(s->lfd);
		close(s->wake[0]);
		close(s->wake[1]);
		pthread_mutex_destroy(&s->mu);
		free(s);
		return NULL;
	}
	return s;
}

const char *
nc_test_srv_addr(const struct nc_test_srv *s)
{
	return s->addr;
}

void
nc_test_srv_set_reply(struct nc_test_srv *s, const struct nc_test_srv_reply *r)
{
	pthread_mutex_lock(&s->mu);
	free((char *)s->reply.raw);
	s->reply = *r;
	if (r->raw != NULL) {
		size_t len = r->raw_len > 0 ? r->raw_len : strlen(r->raw);
		char *copy = malloc(len + 1);
		if (copy != NULL) {
			memcpy(copy, r->raw, len);
			copy[len] = '\0';
		}
		s->reply.raw = copy;
		s->reply.raw_len = copy != NULL ? len : 0;
	}
	pthread_mutex_unlock(&s->mu);
}

void
nc_test_srv_set_raw(struct nc_test_srv *s, const char *raw)
{
	struct nc_test_srv_reply r = {.raw = raw};
	nc_test_srv_set_reply(s, &r);
}

unsigned
nc_test_srv_last(struct nc_test_srv *s, struct nc_test_srv_req *out)
{
	pthread_mutex_lock(&s->mu);
	*out = s->last;
	unsigned n = s->n_requests;
	pthread_mutex_unlock(&s->mu);
	return n;
}

void
nc_test_srv_stop(struct nc_test_srv *s)
{
	if (s == NULL)
		return;
	ssize_t w = write(s->wake[1], "x", 1);
	(void)w;
	pthread_join(s->thread, NULL);
	close(s->lfd);
	close(s->wake[0]);
	close(s->wake[1]);
	free((char *)s->reply.raw);
	pthread_mutex_destroy(&s->mu);
	free(s);
}

int
nc_test_free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 0;
	struct sockaddr_in sin = {.sin_family = AF_INET};
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t sl = sizeof(sin);
	int port = 0;
	if (bind(fd, (struct sockaddr *)&sin, sl) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sin, &sl) == 0)
		port = ntohs(sin.sin_port);
	close(fd);
	return port;
}
