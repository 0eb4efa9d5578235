/*
 * upstreams: keep a reverse proxy's upstream list pointing at the N
 * nearest healthy members offering a service, rewriting it only when
 * that set changes (blocking queries, no polling).
 *
 *   upstreams -out FILE [-n N] [-reload CMD] [-http-addr HOST:PORT]
 *             [-token T] [-port-tag NAME] [-tag k=v]... [SERVICE]
 *
 * FILE gets one "server ADDR:PORT;" line per member, for an nginx
 * `upstream { include FILE; }` block (HAProxy and others: adapt the
 * line). The agent is asked once for its own node name (GET
 * /v1/agent/self), then in a loop
 *
 *   GET /v1/members?near=SELF&status=alive&tag=service:SERVICE
 *       [&index=I&wait=5m]
 *
 * which the agent holds until the list changes (a member with the tag
 * joins, fails, leaves or the RTT order moves) and answers with a new
 * X-Netcoord-Index I. /v1/members?near= rather than /v1/nearest because
 * it includes the agent's own node: a service instance on this machine
 * is the nearest of all. The first N of the ranked list are kept and
 * written sorted by address: a proxy balances over the set, so a change
 * of order within it is not worth a reload. The file is only rewritten
 * (temporary file in the same directory, fsync, rename, fsync of the
 * directory) when its text changes, then CMD runs (e.g. "nginx -s
 * reload") through /bin/sh. An answer with no member keeps the old file
 * (an empty upstream would take the proxy down) and says so.
 *
 *   SERVICE         shorthand for -tag service=SERVICE
 *   -n N            how many (default 3)
 *   -port-tag NAME  tag holding the service's port (default "port"),
 *                   else the member's gossip port (as nearest_service)
 *   -once           write the file once and exit (0 written or
 *                   unchanged, 1 error)
 *
 * Errors (agent down, HTTP errors) are logged on stderr and retried
 * after 1, 2, 4 ... 30 s; the file is left as it was. Runs until killed.
 * Uses libcurl and cJSON only: the code a sidecar of yours would contain.
 */
#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

/** Most -tag flags and largest -n (arbitrary). */
#define TAGS_MAX 8
#define N_MAX 1000
/** The agent's longest wait (Consul's default); ours is that + slack. */
#define WAIT "5m"
#define WAIT_TIMEOUT_MS (5 * 60 * 1000 + 5 * 60 * 1000 / 16 + 10000)
/** Longest back-off after an error, s. */
#define BACKOFF_MAX_S 30

static void
usage(FILE *f)
{
	fprintf(f, "usage: upstreams -out FILE [-n N] [-reload CMD] [-once]\n"
		   "                 [-http-addr HOST:PORT] [-token T] "
		   "[-port-tag NAME]\n"
		   "                 [-tag k=v]... [SERVICE]\n");
}

/** A response: body and X-Netcoord-Index. */
struct resp {
	char *data;
	size_t len;
	unsigned long long index;
};

static size_t
body_write(char *data, size_t size, size_t nmemb, void *arg)
{
	struct resp *r = arg;
	size_t n = size * nmemb;
	if (r->len + n > (64u << 20))
		return 0; /* absurd: fail the transfer */
	char *p = realloc(r->data, r->len + n + 1);
	if (p == NULL)
		return 0;
	memcpy(p + r->len, data, n);
	r->len += n;
	p[r->len] = '\0';
	r->data = p;
	return n;
}

static size_t
header_line(char *data, size_t size, size_t nmemb, void *arg)
{
	struct resp *r = arg;
	size_t n = size * nmemb;
	static const char name[] = "X-Netcoord-Index:";
	if (n > sizeof(name) && strncasecmp(data, name, sizeof(name) - 1) == 0)
		r->index = strtoull(data + sizeof(name) - 1, NULL, 10);
	return n;
}

/**
 * GET http://ADDR/PATH (bearer token if any), up to @a timeout_ms.
 * @return the HTTP status (body, index in *r), or -1 with a message.
 */
static long
http_get(const char *addr, const char *path, const char *token,
	 long timeout_ms, struct resp *r)
{
	char url[2048], auth[600];
	const char *host = addr;
	if (strncmp(host, "http://", 7) == 0)
		host += 7;
	size_t hlen = strlen(host);
	if (hlen > 0 && host[hlen - 1] == '/')
		hlen--;
	snprintf(url, sizeof(url), "http://%.*s%s", (int)hlen, host, path);
	struct curl_slist *hdrs = NULL;
	if (token != NULL && token[0] != '\0') {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
		hdrs = curl_slist_append(hdrs, auth);
	}
	char err[CURL_ERROR_SIZE] = "";
	memset(r, 0, sizeof(*r));
	CURL *h = curl_easy_init();
	if (h == NULL) {
		fprintf(stderr, "upstreams: out of memory\n");
		return -1;
	}
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_PROXY, ""); /* the agent is local */
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 1000L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, err);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, body_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, header_line);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, r);
	CURLcode rc = curl_easy_perform(h);
	long status = -1;
	if (rc == CURLE_OK)
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	else
		fprintf(stderr, "upstreams: agent at %s: %s\n", addr,
			err[0] != '\0' ? err : curl_easy_strerror(rc));
	curl_easy_cleanup(h);
	curl_slist_free_all(hdrs);
	return status;
}

/** Append "&tag=k:v" for a k=v (or k:v) filter. @retval 0, -1 bad. */
static int
add_tag(char *path, size_t cap, const char *kv)
{
	char buf[256];
	const char *sep = strchr(kv, '=');
	if (sep == NULL)
		sep = strchr(kv, ':');
	if (sep == NULL || sep == kv || strlen(kv) >= sizeof(buf))
		return -1;
	strcpy(buf, kv);
	buf[sep - kv] = ':';
	char *esc = curl_easy_escape(NULL, buf, 0);
	size_t len = strlen(path);
	int n =
	    esc != NULL ? snprintf(path + len, cap - len, "&tag=%s", esc) : -1;
	curl_free(esc);
	if (n < 0 || (size_t)n >= cap - len) {
		path[len] = '\0';
		return -1;
	}
	return 0;
}

static int
line_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/**
 * The file's text for a /v1/members answer: the first @a n members,
 * "server ADDR:PORT;\n" each, sorted. Returns malloc()ed text ("" when
 * no member), or NULL for an answer that is not a member list.
 */
static char *
render(const char *json, long n, const char *port_tag)
{
	cJSON *doc = cJSON_Parse(json);
	if (!cJSON_IsArray(doc)) {
		cJSON_Delete(doc);
		return NULL;
	}
	char *lines[N_MAX];
	size_t k = 0, total = 1;
	const cJSON *m;
	cJSON_ArrayForEach(m, doc)
	{
		if ((long)k == n)
			break;
		const cJSON *host = cJSON_GetObjectItemCaseSensitive(m, "Addr");
		const cJSON *gport = cJSON_GetObjectItemCaseSensitive(m, "Port");
		const cJSON *tags = cJSON_GetObjectItemCaseSensitive(m, "Tags");
		const cJSON *tport =
		    cJSON_GetObjectItemCaseSensitive(tags, port_tag);
		if (!cJSON_IsString(host) ||
		    strspn(host->valuestring, "0123456789abcdefABCDEF.:") !=
			strlen(host->valuestring))
			continue; /* not an IP address: never into the file */
		char port[16];
		if (cJSON_IsString(tport) && tport->valuestring[0] != '\0' &&
		    strlen(tport->valuestring) <= 5 &&
		    strspn(tport->valuestring, "0123456789") ==
			strlen(tport->valuestring))
			snprintf(port, sizeof(port), "%s", tport->valuestring);
		else if (cJSON_IsNumber(gport))
			snprintf(port, sizeof(port), "%d", gport->valueint);
		else
			continue;
		bool v6 = strchr(host->valuestring, ':') != NULL;
		char buf[128];
		snprintf(buf, sizeof(buf), "server %s%s%s:%s;\n", v6 ? "[" : "",
			 host->valuestring, v6 ? "]" : "", port);
		if ((lines[k] = strdup(buf)) == NULL)
			break;
		total += strlen(buf);
		k++;
	}
	cJSON_Delete(doc);
	qsort(lines, k, sizeof(lines[0]), line_cmp);
	char *text = malloc(total);
	if (text != NULL) {
		text[0] = '\0';
		for (size_t i = 0; i < k; i++)
			strcat(text, lines[i]);
	}
	for (size_t i = 0; i < k; i++)
		free(lines[i]);
	return text;
}

/** The current text of @a path (malloc) or NULL if none. */
static char *
read_all(const char *path)
{
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return NULL;
	char *buf = NULL;
	size_t len = 0, cap = 0;
	int c;
	while ((c = fgetc(f)) != EOF && len < (1u << 20)) {
		if (len + 2 > cap) {
			cap = cap ? cap * 2 : 4096;
			char *p = realloc(buf, cap);
			if (p == NULL)
				break;
			buf = p;
		}
		buf[len++] = (char)c;
	}
	fclose(f);
	if (buf != NULL)
		buf[len] = '\0';
	return buf != NULL ? buf : strdup("");
}

/**
 * Replace @a path by @a text atomically: write "PATH.tmp.PID" in the
 * same directory, fsync, rename over PATH, fsync the directory.
 * @retval 0 or -1 with a message.
 */
static int
write_atomic(const char *path, const char *text)
{
	char tmp[4096], dir[4096];
	snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		fprintf(stderr, "upstreams: %s: %s\n", tmp, strerror(errno));
		return -1;
	}
	size_t len = strlen(text), off = 0;
	while (off < len) {
		ssize_t w = write(fd, text + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	if (off != len || fsync(fd) != 0 || close(fd) != 0) {
		fprintf(stderr, "upstreams: writing %s: %s\n", tmp,
			strerror(errno));
		unlink(tmp);
		return -1;
	}
	if (rename(tmp, path) != 0) {
		fprintf(stderr, "upstreams: rename to %s: %s\n", path,
			strerror(errno));
		unlink(tmp);
		return -1;
	}
	snprintf(dir, sizeof(dir), "%s", path);
	char *slash = strrchr(dir, '/');
	if (slash == NULL)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	return 0;
}

int
main(int argc, char **argv)
{
	const char *addr = getenv("NETCOORD_HTTP_ADDR");
	const char *token = getenv("NETCOORD_HTTP_TOKEN");
	const char *port_tag = "port", *out = NULL, *reload = NULL;
	const char *tags[TAGS_MAX];
	size_t n_tags = 0;
	long n = 3;
	bool once = false;
	char service_tag[256] = "";
	if (addr == NULL || addr[0] == '\0')
		addr = "127.0.0.1:8555";

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "-h") == 0 || strcmp(a, "-help") == 0) {
			usage(stdout);
			return 0;
		}
		if (strcmp(a, "-once") == 0) {
			once = true;
			continue;
		}
		if (a[0] != '-') {
			if (service_tag[0] != '\0' || n_tags == TAGS_MAX) {
				usage(stderr);
				return 2;
			}
			snprintf(service_tag, sizeof(service_tag), "service=%s",
				 a);
			tags[n_tags++] = service_tag;
			continue;
		}
		if (i + 1 >= argc) {
			usage(stderr);
			return 2;
		}
		const char *v = argv[++i];
		char *end;
		if (strcmp(a, "-http-addr") == 0) {
			addr = v;
		} else if (strcmp(a, "-token") == 0) {
			token = v;
		} else if (strcmp(a, "-port-tag") == 0) {
			port_tag = v;
		} else if (strcmp(a, "-out") == 0) {
			out = v;
		} else if (strcmp(a, "-reload") == 0) {
			reload = v;
		} else if (strcmp(a, "-n") == 0) {
			n = strtol(v, &end, 10);
			if (*v == '\0' || *end != '\0' || n < 1 || n > N_MAX) {
				fprintf(stderr, "upstreams: bad -n \"%s\" "
						"(want 1..%d)\n",
					v, N_MAX);
				return 2;
			}
		} else if (strcmp(a, "-tag") == 0 && n_tags < TAGS_MAX) {
			tags[n_tags++] = v;
		} else {
			usage(stderr);
			return 2;
		}
	}
	if (out == NULL || n_tags == 0) {
		fprintf(stderr, "upstreams: give -out FILE and a SERVICE or "
				"-tag k=v\n");
		usage(stderr);
		return 2;
	}

	curl_global_init(CURL_GLOBAL_DEFAULT);
	char self[512] = "", path[1500], query[1200] = "";
	for (size_t i = 0; i < n_tags; i++) {
		if (add_tag(query, sizeof(query), tags[i]) != 0) {
			fprintf(stderr,
				"upstreams: bad -tag \"%s\" (want k=v)\n",
				tags[i]);
			return 2;
		}
	}
	unsigned long long index = 0;
	unsigned failures = 0;
	for (;;) {
		struct resp r;
		long code;
		if (failures > 0) {
			unsigned s = 1u << (failures < 6 ? failures - 1 : 5);
			sleep(s < BACKOFF_MAX_S ? s : BACKOFF_MAX_S);
		}
		if (self[0] == '\0') {
			/* Our agent's node name, for near=. */
			code = http_get(addr, "/v1/agent/self", token, 3000, &r);
			cJSON *doc = code == 200 ? cJSON_Parse(r.data) : NULL;
			const cJSON *name =
			    cJSON_GetObjectItemCaseSensitive(doc, "Name");
			char *esc = cJSON_IsString(name)
					? curl_easy_escape(NULL,
							   name->valuestring, 0)
					: NULL;
			if (esc != NULL && strlen(esc) < sizeof(self))
				snprintf(self, sizeof(self), "%s", esc);
			curl_free(esc);
			cJSON_Delete(doc);
			free(r.data);
			if (self[0] == '\0') {
				if (code >= 0)
					fprintf(stderr, "upstreams: GET "
							"/v1/agent/self: HTTP "
							"%ld\n",
						code);
				failures++;
				if (once)
					return 1;
				continue;
			}
		}
		int w = snprintf(path, sizeof(path),
				 "/v1/members?near=%s&status=alive%s", self,
				 query);
		if (index != 0)
			snprintf(path + w, sizeof(path) - (size_t)w,
				 "&index=%llu&wait=%s", index, WAIT);
		code = http_get(addr, path, token, WAIT_TIMEOUT_MS, &r);
		if (code != 200) {
			if (code > 0) {
				cJSON *doc = cJSON_Parse(r.data);
				const cJSON *e =
				    cJSON_GetObjectItemCaseSensitive(doc,
								     "error");
				fprintf(stderr, "upstreams: HTTP %ld: %s\n",
					code,
					cJSON_IsString(e) ? e->valuestring
							  : "(no message)");
				cJSON_Delete(doc);
			}
			free(r.data);
			failures++;
			/* The agent may have restarted (new name, indexes). */
			self[0] = '\0';
			index = 0;
			if (once)
				return 1;
			continue;
		}
		failures = 0;
		char *text = render(r.data, n, port_tag);
		index = r.index;
		free(r.data);
		if (text == NULL) {
			fprintf(stderr, "upstreams: unexpected answer\n");
			failures++;
			index = 0;
			if (once)
				return 1;
			continue;
		}
		char *old = read_all(out);
		if (text[0] == '\0') {
			fprintf(stderr, "upstreams: no healthy member "
					"matches: keeping %s as it is\n",
				out);
		} else if (old == NULL || strcmp(old, text) != 0) {
			if (write_atomic(out, text) == 0) {
				size_t lines = 0;
				for (const char *p = text; *p; p++)
					lines += *p == '\n';
				fprintf(stderr,
					"upstreams: wrote %s: %zu server(s) "
					"(index %llu)\n",
					out, lines, index);
				if (reload != NULL && system(reload) != 0)
					fprintf(stderr,
						"upstreams: reload command "
						"failed: %s\n",
						reload);
			}
		}
		free(old);
		free(text);
		if (once)
			return 0;
		if (index == 0) {
			fprintf(stderr, "upstreams: the agent sends no "
					"X-Netcoord-Index (too old?)\n");
			return 1;
		}
	}
}
