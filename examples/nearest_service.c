/*
 * nearest_service: ask the local agent for the nearest healthy member
 * offering a service and print where to connect, as "host:port".
 *
 *   nearest_service [-http-addr [https://]HOST:PORT] [-token T]
 *                   [-ca-file FILE] [-port-tag NAME] [-tag k=v]... [SERVICE]
 *
 * This is what a client library or a load balancer does before it opens
 * a connection: one GET /v1/nearest?n=1&status=alive&tag=service:SERVICE
 * to the agent on its own machine, which ranks members by the RTT
 * estimated from network coordinates (no probing at request time).
 *
 *   SERVICE         shorthand for -tag service=SERVICE
 *   -tag k=v        any tag filter (repeatable; all must match)
 *   -port-tag NAME  tag holding the service's port (default "port"): a
 *                   member started with `-tag service=web -tag port=8080`
 *                   yields "10.0.0.7:8080". Without that tag the member's
 *                   gossip port is printed, which is only right if the
 *                   service shares it - tag your services.
 *   -http-addr      agent API (default $NETCOORD_HTTP_ADDR, else
 *                   127.0.0.1:8555); https://HOST:PORT for an agent
 *                   serving HTTPS (certificate always verified);
 *                   -token (default $NETCOORD_HTTP_TOKEN); -ca-file: the
 *                   CA (PEM) of the agent's certificate (default
 *                   $NETCOORD_CACERT, else the system's CAs)
 *
 * Exit status: 0 printed an address; 1 no matching member or an error
 * (message on stderr); 2 bad arguments. IPv6 addresses print as
 * [addr]:port. Uses libcurl and cJSON, nothing of netcoord's own: this
 * is the code a service of yours would contain.
 */
#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/** Most -tag flags (arbitrary). */
#define TAGS_MAX 8

static void
usage(FILE *f)
{
	fprintf(f, "usage: nearest_service [-http-addr [https://]HOST:PORT] "
		   "[-token T] [-ca-file FILE]\n"
		   "                       [-port-tag NAME] [-tag k=v]... "
		   "[SERVICE]\n");
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

/** The response body, as libcurl hands it over. */
struct body {
	char *data;
	size_t len;
};

static size_t
body_write(char *data, size_t size, size_t nmemb, void *arg)
{
	struct body *b = arg;
	size_t n = size * nmemb;
	char *p = realloc(b->data, b->len + n + 1);
	if (p == NULL)
		return 0; /* libcurl fails the transfer */
	memcpy(p + b->len, data, n);
	b->len += n;
	p[b->len] = '\0';
	b->data = p;
	return n;
}

/**
 * GET http(s)://ADDR/PATH with an optional bearer token; https is
 * verified against @a ca_file (NULL: the system's CAs).
 * @return the HTTP status (body in *b), or -1 with a message printed.
 */
static long
http_get(const char *addr, const char *path, const char *token,
	 const char *ca_file, struct body *b)
{
	char url[1400], auth[600];
	const char *host = addr; /* HOST:PORT, maybe "http(s)://" before */
	const char *scheme = "http";
	if (strncmp(host, "http://", 7) == 0) {
		host += 7;
	} else if (strncmp(host, "https://", 8) == 0) {
		host += 8;
		scheme = "https";
	}
	size_t hlen = strlen(host);
	if (hlen > 0 && host[hlen - 1] == '/')
		hlen--;
	snprintf(url, sizeof(url), "%s://%.*s%s", scheme, (int)hlen, host,
		 path);
	struct curl_slist *hdrs = NULL;
	if (token != NULL && token[0] != '\0') {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
		hdrs = curl_slist_append(hdrs, auth);
	}
	char err[CURL_ERROR_SIZE] = "";
	CURL *h = curl_easy_init();
	if (h == NULL) {
		fprintf(stderr, "nearest_service: out of memory\n");
		return -1;
	}
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_PROXY, ""); /* the agent is local */
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 1000L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 3000L);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, err);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, body_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, b);
	if (ca_file != NULL && ca_file[0] != '\0')
		curl_easy_setopt(h, CURLOPT_CAINFO, ca_file);
	CURLcode rc = curl_easy_perform(h);
	long status = -1, os_errno = 0;
	if (rc == CURLE_OK) {
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	} else {
		/* "Connection refused" reads better than curl's long form. */
		curl_easy_getinfo(h, CURLINFO_OS_ERRNO, &os_errno);
		fprintf(stderr, "nearest_service: agent at %s: %s\n", addr,
			rc == CURLE_COULDNT_CONNECT && os_errno != 0
			    ? strerror((int)os_errno)
			: err[0] != '\0' ? err
					 : curl_easy_strerror(rc));
	}
	curl_easy_cleanup(h);
	curl_slist_free_all(hdrs);
	return status;
}

int
main(int argc, char **argv)
{
	const char *addr = getenv("NETCOORD_HTTP_ADDR");
	const char *token = getenv("NETCOORD_HTTP_TOKEN");
	const char *ca_file = getenv("NETCOORD_CACERT");
	const char *port_tag = "port";
	const char *tags[TAGS_MAX];
	size_t n_tags = 0;
	char service_tag[256] = "";
	if (addr == NULL || addr[0] == '\0')
		addr = "127.0.0.1:8555";

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "-h") == 0 || strcmp(a, "-help") == 0) {
			usage(stdout);
			return 0;
		}
		if (a[0] != '-') {
			if (service_tag[0] != '\0') {
				usage(stderr);
				return 2;
			}
			snprintf(service_tag, sizeof(service_tag), "service=%s",
				 a);
			if (n_tags == TAGS_MAX)
				return 2;
			tags[n_tags++] = service_tag;
			continue;
		}
		if (i + 1 >= argc) {
			usage(stderr);
			return 2;
		}
		const char *v = argv[++i];
		if (strcmp(a, "-http-addr") == 0) {
			addr = v;
		} else if (strcmp(a, "-token") == 0) {
			token = v;
		} else if (strcmp(a, "-ca-file") == 0) {
			ca_file = v;
		} else if (strcmp(a, "-port-tag") == 0) {
			port_tag = v;
		} else if (strcmp(a, "-tag") == 0 && n_tags < TAGS_MAX) {
			tags[n_tags++] = v;
		} else {
			usage(stderr);
			return 2;
		}
	}
	if (n_tags == 0) {
		fprintf(stderr, "nearest_service: name a SERVICE or give "
				"-tag k=v\n");
		usage(stderr);
		return 2;
	}

	char path[1024] = "/v1/nearest?n=1&status=alive";
	for (size_t i = 0; i < n_tags; i++) {
		if (add_tag(path, sizeof(path), tags[i]) != 0) {
			fprintf(stderr,
				"nearest_service: bad -tag \"%s\" (want "
				"k=v)\n",
				tags[i]);
			return 2;
		}
	}

	curl_global_init(CURL_GLOBAL_DEFAULT);
	struct body resp = {0};
	long code = http_get(addr, path, token, ca_file, &resp);
	cJSON *doc = resp.data != NULL ? cJSON_Parse(resp.data) : NULL;
	int status = 1;
	if (code < 0)
		goto out;
	if (code != 200) {
		const cJSON *e = cJSON_GetObjectItemCaseSensitive(doc, "error");
		fprintf(stderr, "nearest_service: HTTP %ld: %s\n", code,
			cJSON_IsString(e) ? e->valuestring : "(no message)");
		goto out;
	}
	const cJSON *nodes = cJSON_GetObjectItemCaseSensitive(doc, "Nodes");
	const cJSON *m = cJSON_GetArrayItem(nodes, 0);
	const cJSON *host = cJSON_GetObjectItemCaseSensitive(m, "Addr");
	const cJSON *gport = cJSON_GetObjectItemCaseSensitive(m, "Port");
	const cJSON *tagobj = cJSON_GetObjectItemCaseSensitive(m, "Tags");
	const cJSON *tport = cJSON_GetObjectItemCaseSensitive(tagobj, port_tag);
	if (!cJSON_IsArray(nodes)) {
		fprintf(stderr, "nearest_service: unexpected response\n");
		goto out;
	}
	if (m == NULL || !cJSON_IsString(host)) {
		fprintf(stderr, "nearest_service: no healthy member matches\n");
		goto out;
	}
	/* The service's port if the member advertises one, else gossip's. */
	char port[16];
	if (cJSON_IsString(tport) &&
	    strspn(tport->valuestring, "0123456789") ==
		strlen(tport->valuestring) &&
	    tport->valuestring[0] != '\0' && strlen(tport->valuestring) <= 5)
		snprintf(port, sizeof(port), "%s", tport->valuestring);
	else if (cJSON_IsNumber(gport))
		snprintf(port, sizeof(port), "%d", gport->valueint);
	else {
		fprintf(stderr, "nearest_service: member has no port\n");
		goto out;
	}
	bool v6 = strchr(host->valuestring, ':') != NULL;
	printf("%s%s%s:%s\n", v6 ? "[" : "", host->valuestring, v6 ? "]" : "",
	       port);
	status = 0;
out:
	cJSON_Delete(doc);
	free(resp.data);
	curl_global_cleanup();
	return status;
}
