/*
 * api/http.c - libmicrohttpd inside the env's loop, and the router.
 *
 * Why one loop (STYLE.md §2, shape (a)): the failure detector must answer
 * a ping within the peer's probe timeout (500 ms LAN, 200 ms local) no
 * matter how busy HTTP is. MHD is started with MHD_USE_EPOLL and no thread:
 * its internal epoll fd is one watch in our loop, so MHD only runs when
 * that fd is readable or its timeout (MHD_get_timeout, folded into an env
 * timer) expires, and every such run is preceded by a drain of the gossip
 * socket. Handlers are short (they build a JSON tree of at most a few
 * thousand members), so a single MHD_run cannot hold the loop for long;
 * the alternative, a thread reading published snapshots, costs a copy of
 * the member table per change and locks we do not need.
 *
 * Request flow through MHD's access handler:
 *   1st call (headers)   allocate struct req (con_cls), return
 *   body chunks          append to req->body (capped at 64 KiB → 413)
 *   last call            nc_api_handle → queue the response, or the
 *                        handler suspends (PUT /v1/agent/join waits for
 *                        the push/pull): MHD_suspend_connection, and
 *                        nc_api_resume later stores the answer and
 *                        resumes; MHD calls us again and we queue it.
 * MHD_OPTION_NOTIFY_COMPLETED frees struct req.
 *
 * Host check (DNS rebinding, issue 9 row 3): before routing, a Host
 * header that names neither a loopback name/address, nor the listen
 * address, nor one of cfg.allowed_hosts gets 403. A page of another site
 * that rebinds its DNS name to 127.0.0.1 is then same-origin with us, but
 * its requests still say Host: its-name; an IP literal cannot be
 * rebound, so with a wildcard listen address every IP literal passes.
 *
 * Authentication (cfg.token): checked after routing, so an unknown path
 * is still a 404. Routes flagged NC_API_PUBLIC (health, the static UI)
 * need nothing; the others need "Authorization: Bearer <token>" (401
 * without, 403 wrong; compared in constant time). NC_API_WRITE and
 * NC_API_SECRET routes are refused (403) when no token is configured
 * unless cfg.allow_unauthenticated_writes: a mutating endpoint, or one
 * that shows key material, is never open by accident. NC_API_SECRET
 * answers say Cache-Control: no-store.
 *
 * HTTPS (issue 10 item 4): with a certificate and key MHD runs with
 * MHD_USE_TLS and MHD_OPTION_HTTPS_MEM_CERT/KEY (GnuTLS does the
 * handshakes inside the same MHD_run calls, so nothing changes for the
 * loop). Before that, tls_setup checks both PEM texts and that they
 * match (api/tls.c), so a bad file is named instead of MHD's bare
 * refusal. Access rules (token, allowed hosts) can be replaced at run
 * time (nc_api_set_access, on reload); the certificate cannot.
 *
 * Slow clients (issue 9 row 6): MHD's per-address connection limit
 * (cfg.max_connections_per_client), and a deadline per request: MHD's
 * own timeout restarts with every byte, so each connection (socket
 * context, MHD_OPTION_NOTIFY_CONNECTION) carries the env time by which
 * its request must be in whole; mhd_service shuts down the late ones
 * after each MHD_run and arms the timer for the next deadline.
 */
#include "api/api.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <microhttpd.h>

#include "api/api_int.h"
#include "loop/loop.h"

/**
 * Largest request body accepted: our bodies are {"Key": "<44 chars>"}.
 * Nothing special in the value beyond being far above that.
 */
#define NC_API_BODY_MAX (64 * 1024)

/**
 * Re-run MHD this soon (s) while it holds connections and it has no
 * timeout of its own (see mhd_service). Nothing special in the value.
 */
#define NC_API_IDLE_RECHECK 0.25

/** Per-request state kept by MHD in con_cls. */
struct req {
	/** Request body, capped at NC_API_BODY_MAX. */
	struct nc_dbuf body;
	bool too_big;
	/** Suspended: waiting for nc_api_resume. */
	struct nc_api_pending *pending;
	/** The endpoint (for nc_api_suspend). */
	struct nc_api *api;
};

/** A suspended request. */
struct nc_api_pending {
	struct nc_api *api;
	struct MHD_Connection *conn;
	struct req *r;
	/** Answer, once resumed. */
	bool done;
	struct nc_api_response resp;
	struct nc_api_pending *next;
};

void
nc_api_config_default(struct nc_api_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->addr.family = 4;
	cfg->addr.ip[0] = 127;
	cfg->addr.ip[3] = 1;
	cfg->addr.port = 8555;
	cfg->max_connections = 64;
	cfg->conn_timeout_s = 10;
	cfg->max_connections_per_client = 16;
	cfg->request_deadline_s = 10;
	cfg->max_stale_s = NC_API_MAX_STALE_DEFAULT;
	cfg->max_held = NC_API_MAX_HELD_DEFAULT;
	cfg->verify_cache_s = NC_API_VERIFY_CACHE_DEFAULT;
}

/* ------------------------------------------------------------------ */
/* Router                                                             */
/* ------------------------------------------------------------------ */

int
nc_api_route_add(struct nc_api *api, const char *method, const char *path,
		 bool prefix, nc_api_handler h, void *ctx)
{
	return nc_api_route_add_ex(api, method, path,
				   prefix ? NC_API_PREFIX : 0, h, ctx);
}

int
nc_api_route_add_ex(struct nc_api *api, const char *method, const char *path,
		    unsigned flags, nc_api_handler h, void *ctx)
{
	if (api->routes_n == NC_API_MAX_ROUTES)
		return -ENOSPC;
	struct nc_api_route *r = &api->routes[api->routes_n];
	r->path = strdup(path);
	if (r->path == NULL)
		return -ENOMEM;
	snprintf(r->method, sizeof(r->method), "%s", method);
	r->flags = flags;
	r->handler = h;
	r->ctx = ctx;
	api->routes_n++;
	return 0;
}

/** Does @a r match @a path? Sets *suffix for prefix routes. */
static bool
route_match(const struct nc_api_route *r, const char *path, const char **suffix)
{
	if (r->flags & NC_API_PREFIX) {
		size_t n = strlen(r->path);
		if (strncmp(path, r->path, n) != 0)
			return false;
		*suffix = path + n;
		return true;
	}
	*suffix = "";
	return strcmp(path, r->path) == 0;
}

static char *
error_body(const char *msg)
{
	cJSON *o = cJSON_CreateObject();
	char *s = NULL;
	if (o != NULL && cJSON_AddStringToObject(o, "error", msg) != NULL)
		s = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return s;
}

static void
resp_error(struct nc_api_response *resp, int status, const char *msg)
{
	resp->status = status;
	resp->body = error_body(msg);
	resp->content_type = "application/json";
	if (resp->body == NULL) {
		resp->body = (char *)"{\"error\":\"out of memory\"}";
		resp->body_static = true;
		resp->status = 500;
	}
	resp->body_len = strlen(resp->body);
}

void
nc_api_response_destroy(struct nc_api_response *resp)
{
	if (!resp->body_static)
		free(resp->body);
	resp->body = NULL;
	resp->body_len = 0;
}

void
nc_api_set_raw(const struct nc_api_request *req, const char *ctype,
	       const char *body, size_t len, bool take)
{
	struct nc_api_response *r = req->resp;
	if (r == NULL) {
		if (take)
			free((char *)body);
		return;
	}
	if (!r->body_static)
		free(r->body);
	r->body = (char *)body;
	r->body_len = len;
	r->body_static = !take;
	r->content_type = ctype;
}

void
nc_api_add_header(const struct nc_api_request *req, const char *name,
		  const char *value)
{
	struct nc_api_response *r = req->resp;
	if (r == NULL || r->n_hdr == NC_API_MAX_HEADERS)
		return;
	r->hdr_name[r->n_hdr] = name;
	snprintf(r->hdr_value[r->n_hdr], sizeof(r->hdr_value[0]), "%s", value);
	r->n_hdr++;
}

/** Constant-time comparison of the presented token with ours. */
static bool
token_equal(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	unsigned char d = (unsigned char)(la != lb);
	for (size_t i = 0; i < lb; i++)
		d |= (unsigned char)(a[i < la ? i : 0] ^ b[i]);
	return d == 0;
}

/** 0 ok, else the status (401/403) with resp filled. */
static int
check_auth(struct nc_api *api, const struct nc_api_route *rt,
	   const struct nc_api_request *req, struct nc_api_response *resp)
{
	const char *tok = api->cfg.token;
	if (rt->flags & NC_API_PUBLIC)
		return 0;
	if (tok[0] == '\0') {
		if ((rt->flags & NC_API_WRITE) &&
		    !api->cfg.allow_unauthenticated_writes) {
			resp_error(resp, 403,
				   "mutating endpoints are disabled: start "
				   "the agent with -http-token (or "
				   "-http-allow-unauthenticated-writes=true)");
			return 403;
		}
		if ((rt->flags & NC_API_SECRET) &&
		    !api->cfg.allow_unauthenticated_writes) {
			resp_error(resp, 403,
				   "key material needs a token: start the "
				   "agent with -http-token (or "
				   "-http-allow-unauthenticated-writes=true)");
			return 403;
		}
		return 0;
	}
	const char *h = req->authorization;
	if (h == NULL || h[0] == '\0') {
		api->stats.auth_missing++;
		resp_error(resp, 401, "missing bearer token");
		nc_api_add_header(req, "WWW-Authenticate",
				  "Bearer realm=\"netcoord\"");
		return 401;
	}
	if (strncasecmp(h, "Bearer ", 7) != 0) {
		api->stats.auth_missing++;
		resp_error(resp, 401,
			   "Authorization must be \"Bearer <token>\"");
		nc_api_add_header(req, "WWW-Authenticate",
				  "Bearer realm=\"netcoord\"");
		return 401;
	}
	h += 7;
	while (*h == ' ')
		h++;
	if (!token_equal(h, tok)) {
		api->stats.auth_wrong++;
		resp_error(resp, 403, "invalid token");
		return 403;
	}
	return 0;
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/** In-place URL decoding ('+' = space). */
static void
url_decode(char *s)
{
	char *o = s;
	for (; *s != '\0'; s++) {
		if (*s == '+') {
			*o++ = ' ';
		} else if (*s == '%' && hexval(s[1]) >= 0 &&
			   hexval(s[2]) >= 0) {
			*o++ = (char)(hexval(s[1]) * 16 + hexval(s[2]));
			s += 2;
		} else {
			*o++ = *s;
		}
	}
	*o = '\0';
}

/** Split "a=b&c" (modified in place) into args; returns the count. */
static size_t
parse_query(char *q, struct nc_api_arg *args, size_t max)
{
	size_t n = 0;
	while (q != NULL && *q != '\0' && n < max) {
		char *amp = strchr(q, '&');
		if (amp != NULL)
			*amp = '\0';
		if (*q != '\0') {
			char *eq = strchr(q, '=');
			if (eq != NULL)
				*eq = '\0';
			url_decode(q);
			args[n].key = q;
			if (eq != NULL) {
				url_decode(eq + 1);
				args[n].value = eq + 1;
			} else {
				args[n].value = "";
			}
			n++;
		}
		q = amp != NULL ? amp + 1 : NULL;
	}
	return n;
}

static void
count_status(struct nc_api *api, int status)
{
	if (status >= 100 && status < 600)
		api->stats.by_status[status - 100]++;
}

/**
 * Socket-less requests may carry their query in the path: cut it off
 * into a copy of the path (*pathcopy, caller frees) and parse it into
 * @a args. -1 on OOM, with @a resp set.
 */
static int
split_path_query(struct nc_api_request *req, struct nc_api_arg *args,
		 char **pathcopy, struct nc_api_response *resp)
{
	const char *qm = strchr(req->path, '?');
	if (qm == NULL)
		return 0;
	size_t cut = (size_t)(qm - req->path);
	char *copy = strdup(req->path);
	if (copy == NULL) {
		resp_error(resp, 500, "out of memory");
		return -1;
	}
	copy[cut] = '\0';
	*pathcopy = copy;
	req->path = copy;
	req->args = args;
	req->n_args = parse_query(copy + cut + 1, args, NC_API_MAX_ARGS);
	return 0;
}

/**
 * The route of @a req (req->suffix set), HEAD served by GET routes; or
 * NULL with @a resp set: 405 with Allow listing the methods the path
 * takes, or 404.
 */
static const struct nc_api_route *
find_route(struct nc_api *api, struct nc_api_request *req,
	   struct nc_api_response *resp)
{
	size_t allow_len = 0;
	char allow_buf[128] = "";
	char msg[200];

	for (size_t i = 0; i < api->routes_n; i++) {
		const char *suffix;
		if (!route_match(&api->routes[i], req->path, &suffix))
			continue;
		if (strcmp(api->routes[i].method, req->method) == 0 ||
		    (strcmp(req->method, "HEAD") == 0 &&
		     strcmp(api->routes[i].method, "GET") == 0)) {
			req->suffix = suffix;
			return &api->routes[i];
		}
		if (strstr(allow_buf, api->routes[i].method) == NULL &&
		    allow_len < sizeof(allow_buf))
			allow_len += (size_t)snprintf(
			    allow_buf + allow_len,
			    sizeof(allow_buf) - allow_len, "%s%s",
			    allow_len ? ", " : "", api->routes[i].method);
	}
	if (allow_buf[0] != '\0') {
		snprintf(resp->allow, sizeof(resp->allow), "%s", allow_buf);
		snprintf(msg, sizeof(msg), "method %.16s not allowed on %.128s",
			 req->method, req->path);
		resp_error(resp, 405, msg);
		return NULL;
	}
	snprintf(msg, sizeof(msg), "no such endpoint: %.128s", req->path);
	resp_error(resp, 404, msg);
	return NULL;
}

/**
 * Run the handler of @a hit and turn its result into @a resp: its JSON
 * document, a raw body it set, {} for a success without a body, or an
 * error. False if the handler suspended the request (NC_API_SUSPEND).
 */
static bool
run_handler(const struct nc_api_route *hit, struct nc_api_request *req,
	    struct nc_api_response *resp)
{
	cJSON *doc = NULL;
	char err[256] = "";
	int status = hit->handler(hit->ctx, req, &doc, err, sizeof(err));
	if (status == NC_API_SUSPEND) {
		cJSON_Delete(doc);
		resp->status = NC_API_SUSPEND;
		return false;
	}
	if (resp->body != NULL && doc == NULL) {
		/* Raw body set by the handler. */
		resp->status = status;
		return true;
	}
	if (doc != NULL) {
		nc_api_response_destroy(resp);
		resp->content_type = "application/json";
		resp->body = cJSON_PrintUnformatted(doc);
		cJSON_Delete(doc);
		if (resp->body == NULL) {
			resp_error(resp, 500, "out of memory");
			return true;
		}
		resp->body_len = strlen(resp->body);
		resp->status = status;
		return true;
	}
	if (status < 400) {
		/* A handler that succeeds without a body: {} keeps it JSON. */
		resp->body = (char *)"{}";
		resp->body_static = true;
		resp->body_len = 2;
		resp->status = status;
		return true;
	}
	resp_error(resp, status, err[0] ? err : "error");
	return true;
}

/**
 * The host part of a Host header value (or of an allowed-host entry):
 * without the port and the brackets of an IPv6 literal, lower case,
 * without a final dot. False if it does not fit in @a cap or is empty.
 */
static bool
host_name(const char *v, char *out, size_t cap, bool *bracketed)
{
	const char *b = v, *e;
	*bracketed = v[0] == '[';
	if (*bracketed) {
		b = v + 1;
		e = strchr(b, ']');
		if (e == NULL || (e[1] != '\0' && e[1] != ':'))
			return false;
	} else {
		e = strchr(v, ':');
		if (e == NULL)
			e = v + strlen(v);
	}
	size_t n = (size_t)(e - b);
	if (n > 0 && b[n - 1] == '.' && !*bracketed)
		n--;
	if (n == 0 || n >= cap)
		return false;
	for (size_t i = 0; i < n; i++)
		out[i] = (char)((b[i] >= 'A' && b[i] <= 'Z') ? b[i] - 'A' + 'a'
							     : b[i]);
	out[n] = '\0';
	return true;
}

/** Is @a host (a Host header value) one we answer? See the top comment. */
static bool
host_allowed(const struct nc_api *api, const char *host)
{
	char name[256], other[256];
	unsigned char ip[16];
	bool br, br2;
	if (!host_name(host, name, sizeof(name), &br))
		return false;
	if (!br && strcmp(name, "localhost") == 0)
		return true;
	const struct nc_addr *la = &api->cfg.addr;
	bool wildcard = true;
	for (size_t i = 0; i < nc_addr_ip_len(la); i++)
		wildcard = wildcard && la->ip[i] == 0;
	if (!br && inet_pton(AF_INET, name, ip) == 1) {
		if (ip[0] == 127 || wildcard)
			return true;
		if (la->family == 4 && memcmp(la->ip, ip, 4) == 0)
			return true;
	} else if (br && inet_pton(AF_INET6, name, ip) == 1) {
		static const unsigned char v4mapped[12] = {
		    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
		if (wildcard || memcmp(ip, &in6addr_loopback, 16) == 0 ||
		    (memcmp(ip, v4mapped, 12) == 0 && ip[12] == 127))
			return true;
		if (la->family == 6 && memcmp(la->ip, ip, 16) == 0)
			return true;
	}
	for (size_t i = 0; i < api->cfg.allowed_hosts_n &&
			   i < NC_API_MAX_ALLOWED_HOSTS;
	     i++)
		if (host_name(api->cfg.allowed_hosts[i], other, sizeof(other),
			      &br2) &&
		    strcmp(other, name) == 0)
			return true;
	return false;
}

int
nc_api_handle(struct nc_api *api, const struct nc_api_request *req_in,
	      struct nc_api_response *resp)
{
	struct nc_api_request req = *req_in;
	const struct nc_api_route *hit;
	char *pathcopy = NULL;
	struct nc_api_arg args[NC_API_MAX_ARGS];
	bool answered = true;

	memset(resp, 0, sizeof(*resp));
	resp->content_type = "application/json";
	req.resp = resp;
	if (req.host != NULL && !host_allowed(api, req.host)) {
		/* The value is not echoed: it may be anything. */
		api->stats.host_refused++;
		resp_error(resp, 403,
			   "Host header not allowed (DNS rebinding guard): use "
			   "a loopback address or the listen address, or start "
			   "the agent with -http-allowed-host NAME");
	} else if (split_path_query(&req, args, &pathcopy, resp) == 0) {
		hit = find_route(api, &req, resp);
		if (hit != NULL && (hit->flags & NC_API_SECRET))
			nc_api_add_header(&req, "Cache-Control", "no-store");
		if (hit != NULL && check_auth(api, hit, &req, resp) == 0)
			answered = run_handler(hit, &req, resp);
	}
	/* A suspended request is counted when it is resumed. */
	if (answered)
		count_status(api, resp->status);
	free(pathcopy);
	return resp->status;
}

int
nc__api_run_internal(struct nc_api *api, const struct nc_api_request *req_in,
		     struct nc_api_response *resp)
{
	struct nc_api_request req = *req_in;
	memset(resp, 0, sizeof(*resp));
	resp->content_type = "application/json";
	req.resp = resp;
	req.conn = NULL;
	req.conn_state = NULL;
	const struct nc_api_route *hit = find_route(api, &req, resp);
	if (hit != NULL && !run_handler(hit, &req, resp))
		resp_error(resp, 500, "internal request suspended");
	return resp->status;
}

/** PUT /v1/agent/leave answered: start the agent's graceful leave. */
static void
start_leave_if_asked(struct nc_api *api)
{
	if (!api->leave_asked || api->agent == NULL)
		return;
	api->leave_asked = false;
	struct nc_env *env = nc_agent_env(api->agent);
	env->ops->log(env, NC_LOG_INFO, "agent",
		      "Leave requested over HTTP. Gracefully leaving the "
		      "cluster");
	nc_agent_leave(api->agent);
}

int
nc_api_dispatch(struct nc_api *api, const struct nc_api_request *req,
		char **body_out, char *allow, size_t allow_cap)
{
	struct nc_api_response resp;
	int status = nc_api_handle(api, req, &resp);
	start_leave_if_asked(api);
	if (allow != NULL && allow_cap > 0)
		snprintf(allow, allow_cap, "%s", resp.allow);
	if (resp.body_static || resp.body == NULL) {
		*body_out = malloc(resp.body_len + 1);
		if (*body_out != NULL) {
			if (resp.body_len > 0)
				memcpy(*body_out, resp.body, resp.body_len);
			(*body_out)[resp.body_len] = '\0';
		}
	} else {
		/* Raw bodies need not be NUL-terminated: copy. */
		*body_out = malloc(resp.body_len + 1);
		if (*body_out != NULL) {
			memcpy(*body_out, resp.body, resp.body_len);
			(*body_out)[resp.body_len] = '\0';
		}
		nc_api_response_destroy(&resp);
	}
	return status;
}

const char *
nc_api_query_nth(const struct nc_api_request *req, const char *key, size_t i)
{
	for (size_t k = 0; k < req->n_args; k++)
		if (strcmp(req->args[k].key, key) == 0 && i-- == 0)
			return req->args[k].value;
	return NULL;
}

const char *
nc_api_query(const struct nc_api_request *req, const char *key)
{
	return nc_api_query_nth(req, key, 0);
}

const struct nc_api_stats *
nc_api_stats(struct nc_api *api)
{
	api->stats.view_builds = api->view.builds;
	api->stats.cache_hits = api->rcache.hits;
	api->stats.cache_misses = api->rcache.misses;
	api->stats.cache_evictions = api->rcache.evictions;
	api->stats.cache_too_big = api->rcache.too_big;
	api->stats.cache_entries = api->rcache.n;
	api->stats.cache_bytes = api->rcache.bytes;
	const struct nc__api_block *b = &api->block;
	api->stats.block_held = b->held;
	api->stats.block_held_total = b->held_total;
	api->stats.block_released_change = b->released_change;
	api->stats.block_released_timeout = b->released_timeout;
	api->stats.block_released_gone = b->released_gone;
	api->stats.block_refused = b->refused;
	api->stats.block_evaluations = b->evaluations;
	api->stats.block_entries = b->n;
	return &api->stats;
}

double
nc__api_now(const struct nc_api *api)
{
	if (api->env != NULL)
		return api->env->ops->now(api->env);
	return api->now_cb != NULL ? api->now_cb(api->now_arg) : 0.0;
}

void
nc_api_set_clock(struct nc_api *api, double (*now)(void *arg), void *arg)
{
	api->now_cb = now;
	api->now_arg = arg;
}

int
nc__api_oom(char *err, size_t err_cap)
{
	snprintf(err, err_cap, "out of memory");
	return 500;
}

/* ------------------------------------------------------------------ */
/* MHD callbacks                                                      */
/* ------------------------------------------------------------------ */

static enum MHD_Result
queue_response(struct nc_api *api, struct MHD_Connection *conn,
	       struct nc_api_response *resp)
{
	struct MHD_Response *mr = MHD_create_response_from_buffer(
	    resp->body_len, resp->body,
	    resp->body_static ? MHD_RESPMEM_PERSISTENT : MHD_RESPMEM_MUST_FREE);
	if (mr == NULL) {
		nc_api_response_destroy(resp);
		return MHD_NO;
	}
	resp->body = NULL; /* MHD owns it now */
	MHD_add_response_header(mr, MHD_HTTP_HEADER_CONTENT_TYPE,
				resp->content_type ? resp->content_type
						   : "application/json");
	MHD_add_response_header(mr, "X-Content-Type-Options", "nosniff");
	if (resp->allow[0] != '\0')
		MHD_add_response_header(mr, MHD_HTTP_HEADER_ALLOW, resp->allow);
	for (size_t i = 0; i < resp->n_hdr; i++)
		MHD_add_response_header(mr, resp->hdr_name[i],
					resp->hdr_value[i]);
	enum MHD_Result r =
	    MHD_queue_response(conn, (unsigned)resp->status, mr);
	MHD_destroy_response(mr);
	/* The 200 is queued: start the leave now. */
	start_leave_if_asked(api);
	return r;
}

/** Collect the query arguments MHD parsed (repeats kept, in order). */
struct arg_walk {
	struct nc_api_arg *args;
	size_t n, max;
};

static enum MHD_Result
arg_iter(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	struct arg_walk *w = cls;
	(void)kind;
	if (w->n == w->max)
		return MHD_NO;
	w->args[w->n].key = key;
	w->args[w->n].value = value != NULL ? value : "";
	w->n++;
	return MHD_YES;
}

static enum MHD_Result
access_cb(void *cls, struct MHD_Connection *conn, const char *url,
	  const char *method, const char *version, const char *upload_data,
	  size_t *upload_data_size, void **con_cls)
{
	struct nc_api *api = cls;
	struct req *r = *con_cls;
	(void)version;
	if (r == NULL) {
		r = calloc(1, sizeof(*r));
		if (r == NULL)
			return MHD_NO;
		r->api = api;
		nc_dbuf_init(&r->body, NC_API_BODY_MAX);
		*con_cls = r;
		return MHD_YES;
	}
	if (r->pending != NULL) {
		/* Resumed: the answer is ready. */
		struct nc_api_pending *p = r->pending;
		if (!p->done)
			return MHD_YES;
		r->pending = NULL;
		count_status(api, p->resp.status);
		enum MHD_Result res = queue_response(api, conn, &p->resp);
		free(p);
		return res;
	}
	if (*upload_data_size > 0) {
		size_t n = *upload_data_size;
		*upload_data_size = 0;
		if (r->too_big)
			return MHD_YES;
		int rc = nc_dbuf_append(&r->body, upload_data, n);
		if (rc == -E2BIG)
			r->too_big = true;
		return rc == -ENOMEM ? MHD_NO : MHD_YES;
	}
	/* The request is in: its deadline no longer applies. */
	const union MHD_ConnectionInfo *sci =
	    MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	if (sci != NULL && sci->socket_context != NULL)
		((struct nc__api_conn *)sci->socket_context)->received = true;
	struct nc_api_response resp;
	if (r->too_big) {
		memset(&resp, 0, sizeof(resp));
		resp_error(&resp, 413, "request body too large");
		count_status(api, 413);
		return queue_response(api, conn, &resp);
	}
	struct nc_api_arg args[NC_API_MAX_ARGS];
	struct arg_walk w = {args, 0, NC_API_MAX_ARGS};
	MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, arg_iter, &w);
	struct nc_api_request req = {
	    .method = method,
	    .path = url,
	    .suffix = "",
	    .body = r->body.data,
	    .body_len = r->body.len,
	    .args = args,
	    .n_args = w.n,
	    .authorization = MHD_lookup_connection_value(
		conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION),
	    .if_none_match = MHD_lookup_connection_value(
		conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_NONE_MATCH),
	    .host = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
						MHD_HTTP_HEADER_HOST),
	    .conn = conn,
	    .conn_state = r,
	};
	/* nc_api_handle would split a '?' inside the decoded path. */
	if (strchr(url, '?') != NULL) {
		memset(&resp, 0, sizeof(resp));
		resp_error(&resp, 400, "bad path");
		count_status(api, 400);
		return queue_response(api, conn, &resp);
	}
	int status = nc_api_handle(api, &req, &resp);
	if (status == NC_API_SUSPEND) {
		/* The handler called nc_api_suspend(req): r->pending set. */
		return MHD_YES;
	}
	return queue_response(api, conn, &resp);
}

struct nc_api_pending *
nc_api_suspend(const struct nc_api_request *req)
{
	struct req *r = req->conn_state;
	if (req->conn == NULL || r == NULL || r->api == NULL)
		return NULL;
	struct nc_api_pending *p = calloc(1, sizeof(*p));
	if (p == NULL)
		return NULL;
	p->api = r->api;
	p->conn = req->conn;
	p->r = r;
	r->pending = p;
	p->next = r->api->pending;
	r->api->pending = p;
	MHD_suspend_connection(p->conn);
	return p;
}

static void
pending_unlink(struct nc_api_pending *p)
{
	if (p->api == NULL)
		return;
	for (struct nc_api_pending **pp = &p->api->pending; *pp != NULL;
	     pp = &(*pp)->next) {
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	}
}

void
nc_api_resume(struct nc_api_pending *p, int status, cJSON *doc, const char *msg)
{
	if (p->conn == NULL) {
		/* The connection went away meanwhile (or the API stopped). */
		cJSON_Delete(doc);
		free(p);
		return;
	}
	struct nc_api *api = p->api;
	memset(&p->resp, 0, sizeof(p->resp));
	if (doc != NULL) {
		p->resp.body = cJSON_PrintUnformatted(doc);
		cJSON_Delete(doc);
	}
	if (p->resp.body != NULL) {
		p->resp.status = status;
		p->resp.content_type = "application/json";
		p->resp.body_len = strlen(p->resp.body);
	} else {
		resp_error(&p->resp, doc != NULL ? 500 : status,
			   msg != NULL ? msg : "error");
	}
	p->done = true;
	pending_unlink(p);
	MHD_resume_connection(p->conn);
	/* Let MHD pick it up on the next loop iteration. */
	if (api->env != NULL)
		api->env->ops->timer_start(api->env, &api->timer, 0);
}

void
nc__api_resume_copy(struct nc_api_pending *p,
		    const struct nc_api_response *resp)
{
	if (p->conn == NULL) {
		free(p);
		return;
	}
	struct nc_api *api = p->api;
	p->resp = *resp;
	p->resp.body = malloc(resp->body_len + 1);
	p->resp.body_static = false;
	if (p->resp.body == NULL) {
		memset(&p->resp, 0, sizeof(p->resp));
		resp_error(&p->resp, 500, "out of memory");
	} else {
		memcpy(p->resp.body, resp->body, resp->body_len);
		p->resp.body[resp->body_len] = '\0';
	}
	p->done = true;
	pending_unlink(p);
	MHD_resume_connection(p->conn);
	if (api->env != NULL)
		api->env->ops->timer_start(api->env, &api->timer, 0);
}

bool
nc__api_pending_gone(const struct nc_api_pending *p)
{
	if (p->conn == NULL)
		return true;
	const union MHD_ConnectionInfo *fi = MHD_get_connection_info(
	    p->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	if (fi == NULL)
		return false;
	char c;
	ssize_t n = recv(fi->connect_fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
	return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK &&
			  errno != EINTR);
}

static void
completed_cb(void *cls, struct MHD_Connection *conn, void **con_cls,
	     enum MHD_RequestTerminationCode toe)
{
	struct nc_api *api = cls;
	struct req *r = *con_cls;
	(void)toe;
	/* Next request on a kept-alive connection: a new deadline. */
	const union MHD_ConnectionInfo *sci =
	    conn != NULL ? MHD_get_connection_info(
			       conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT)
			 : NULL;
	if (sci != NULL && sci->socket_context != NULL && api->env != NULL) {
		struct nc__api_conn *c = sci->socket_context;
		c->received = false;
		c->deadline = nc__api_now(api) + api->cfg.request_deadline_s;
	}
	if (r != NULL) {
		struct nc_api_pending *p = r->pending;
		if (p != NULL && p->done) {
			nc_api_response_destroy(&p->resp);
			free(p);
		} else if (p != NULL) {
			/* Still waiting: the owner's nc_api_resume frees it. */
			pending_unlink(p);
			p->conn = NULL;
			p->r = NULL;
			p->api = NULL;
		}
		nc_dbuf_free(&r->body);
		free(r);
		*con_cls = NULL;
	}
}

static void
mhd_log(void *cls, const char *fmt, va_list ap)
{
	struct nc_api *api = cls;
	char msg[256];
	vsnprintf(msg, sizeof(msg), fmt, ap);
	size_t n = strlen(msg);
	while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
		msg[--n] = '\0';
	if (api->env != NULL)
		nc_env_logf(api->env, NC_LOG_WARN, "http", "%s", msg);
}

/* ------------------------------------------------------------------ */
/* Loop integration                                                   */
/* ------------------------------------------------------------------ */

/** A connection opens (its deadline starts) or closes. */
static void
conn_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
	    enum MHD_ConnectionNotificationCode code)
{
	struct nc_api *api = cls;
	struct nc__api_conn *c = *socket_context;
	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		c = calloc(1, sizeof(*c));
		if (c == NULL)
			return; /* no deadline for this one */
		c->conn = conn;
		c->deadline = nc__api_now(api) + api->cfg.request_deadline_s;
		c->next = api->conns;
		if (api->conns != NULL)
			api->conns->prev = c;
		api->conns = c;
		*socket_context = c;
	} else if (code == MHD_CONNECTION_NOTIFY_CLOSED && c != NULL) {
		if (c->prev != NULL)
			c->prev->next = c->next;
		else
			api->conns = c->next;
		if (c->next != NULL)
			c->next->prev = c->prev;
		free(c);
		*socket_context = NULL;
	}
}

/**
 * Shut down the connections whose request is late (MHD then sees the
 * end of the stream and closes them). Returns the time (s) until the
 * next deadline, or -1 if none.
 */
static double
deadline_sweep(struct nc_api *api)
{
	double now = nc__api_now(api), next = -1;
	for (struct nc__api_conn *c = api->conns; c != NULL; c = c->next) {
		if (c->received || c->cut)
			continue;
		if (c->deadline <= now) {
			const union MHD_ConnectionInfo *fi =
			    MHD_get_connection_info(
				c->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
			if (fi != NULL)
				shutdown(fi->connect_fd, SHUT_RDWR);
			c->cut = true;
			api->stats.deadline_closed++;
			/* Let MHD see it soon. */
			next = 0.01;
			continue;
		}
		if (next < 0 || c->deadline - now < next)
			next = c->deadline - now;
	}
	return next;
}

/** Run MHD once (gossip first), then re-arm its timeout. */
static void
mhd_service(struct nc_api *api)
{
	nc_env_real_drain_packets(api->env);
	MHD_run(api->daemon);
	double until_deadline = deadline_sweep(api);
	MHD_UNSIGNED_LONG_LONG ms;
	const union MHD_DaemonInfo *ci = MHD_get_daemon_info(
		api->daemon, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
	unsigned conns = ci != NULL ? ci->num_connections : 0;
	if (MHD_get_timeout(api->daemon, &ms) == MHD_YES) {
		double after = (double)ms / 1000.0;
		if (until_deadline >= 0 && until_deadline < after)
			after = until_deadline;
		api->env->ops->timer_start(api->env, &api->timer, after);
	} else if (until_deadline >= 0) {
		api->env->ops->timer_start(
		    api->env, &api->timer,
		    until_deadline < NC_API_IDLE_RECHECK ? until_deadline
							 : NC_API_IDLE_RECHECK);
	} else if (conns > 0 || api->had_connections) {
		/*
		 * At the connection limit MHD takes its listen socket out of
		 * its epoll set and puts it back only from a later MHD_run();
		 * once the last connection is gone nothing would make its
		 * epoll fd readable again, and new clients would wait in the
		 * backlog forever. So while connections exist, and once more
		 * after the last one closed, run MHD again soon.
		 */
		api->env->ops->timer_start(api->env, &api->timer,
					   NC_API_IDLE_RECHECK);
	} else {
		api->env->ops->timer_stop(api->env, &api->timer);
	}
	api->had_connections = conns > 0;
}

static void
mhd_readable(struct nc_env_watch *w, unsigned events)
{
	(void)events;
	mhd_service(w->arg);
}

static void
mhd_timeout(struct nc_timer *t)
{
	mhd_service(t->arg);
}

/**
 * HTTPS: check the certificate and key (api/tls.c), keep copies of them
 * for MHD. 0 (also without TLS) or -1 with a message naming the file.
 */
static int
tls_setup(struct nc_api *api, const struct nc_api_config *cfg, char *err,
	  size_t err_cap)
{
	const char *cn = cfg->tls_cert_name != NULL ? cfg->tls_cert_name
						    : "certificate";
	const char *kn = cfg->tls_key_name != NULL ? cfg->tls_key_name : "key";
	if (cfg->tls_cert_pem == NULL && cfg->tls_key_pem == NULL)
		return 0;
	if (cfg->tls_cert_pem == NULL || cfg->tls_key_pem == NULL) {
		snprintf(err, err_cap,
			 "\"http_tls_cert\" and \"http_tls_key\" go together");
		return -1;
	}
	if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
		snprintf(err, err_cap,
			 "\"http_tls_cert\": this libmicrohttpd was built "
			 "without TLS: cannot serve HTTPS with %s",
			 cn);
		return -1;
	}
	if (nc__api_tls_check(cfg->tls_cert_pem, cfg->tls_key_pem, cn, kn, err,
			      err_cap) < 0)
		return -1;
	api->tls_cert = strdup(cfg->tls_cert_pem);
	api->tls_key = strdup(cfg->tls_key_pem);
	if (api->tls_cert == NULL || api->tls_key == NULL) {
		snprintf(err, err_cap, "out of memory");
		return -1;
	}
	return 0;
}

void
nc_api_set_access(struct nc_api *api, const struct nc_api_config *cfg)
{
	memcpy(api->cfg.token, cfg->token, sizeof(api->cfg.token));
	api->cfg.token[sizeof(api->cfg.token) - 1] = '\0';
	memcpy(api->cfg.allowed_hosts, cfg->allowed_hosts,
	       sizeof(api->cfg.allowed_hosts));
	for (size_t i = 0; i < NC_API_MAX_ALLOWED_HOSTS; i++)
		api->cfg.allowed_hosts[i][sizeof(api->cfg.allowed_hosts[i]) -
					  1] = '\0';
	api->cfg.allowed_hosts_n = cfg->allowed_hosts_n <
					   NC_API_MAX_ALLOWED_HOSTS
				       ? cfg->allowed_hosts_n
				       : NC_API_MAX_ALLOWED_HOSTS;
	api->cfg.allow_unauthenticated_writes =
		cfg->allow_unauthenticated_writes;
}

struct nc_api *
nc_api_new(struct nc_env *env, struct nc_agent *agent,
	   const struct nc_api_config *cfg_in, char *err, size_t err_cap)
{
	struct nc_api_config cfg;
	char dummy[8];
	if (err == NULL) {
		err = dummy;
		err_cap = sizeof(dummy);
	}
	if (cfg_in != NULL)
		cfg = *cfg_in;
	else
		nc_api_config_default(&cfg);
	struct nc_api *api = calloc(1, sizeof(*api));
	if (api == NULL) {
		snprintf(err, err_cap, "out of memory");
		return NULL;
	}
	api->env = env;
	api->agent = agent;
	api->gossip = agent != NULL ? nc_agent_gossip(agent) : NULL;
	api->coords = agent != NULL ? nc_agent_coords(agent) : NULL;
	api->cfg = cfg;
	/* Borrowed for this call only: the copies below are kept. */
	api->cfg.tls_cert_pem = api->cfg.tls_key_pem = NULL;
	api->cfg.tls_cert_name = api->cfg.tls_key_name = NULL;
	api->cfg.token[sizeof(api->cfg.token) - 1] = '\0';
	if (!(api->cfg.request_deadline_s > 0))
		api->cfg.request_deadline_s = 10;
	for (size_t i = 0; i < NC_API_MAX_ALLOWED_HOSTS; i++)
		api->cfg.allowed_hosts[i][sizeof(api->cfg.allowed_hosts[i]) -
					  1] = '\0';
	if (api->cfg.version == NULL)
		api->cfg.version = "";
	nc_timer_init(&api->timer, mhd_timeout, api);
	nc_timer_init(&api->idle_timer, nc__api_view_idle, api);
	nc_timer_init(&api->block.timer, nc__api_block_tick, api);
	nc_timer_init(&api->fresh.timer, nc__api_fresh_tick, api);
	if (api->cfg.max_held == 0)
		api->cfg.max_held = NC_API_MAX_HELD_DEFAULT;
	if (nc__api_add_builtin_routes(api) < 0 ||
	    nc__api_add_coord_routes(api) < 0 ||
	    nc__api_add_agent_routes(api) < 0 ||
	    nc__api_add_event_routes(api) < 0 ||
	    nc__api_add_metrics_route(api) < 0 ||
	    nc__api_add_static_routes(api) < 0) {
		snprintf(err, err_cap, "out of memory");
		nc_api_delete(api);
		return NULL;
	}
	if (env == NULL)
		return api;

	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof(ss));
	unsigned flags =
	    MHD_USE_EPOLL | MHD_USE_ERROR_LOG | MHD_ALLOW_SUSPEND_RESUME;
	if (tls_setup(api, &cfg, err, err_cap) < 0) {
		nc_api_delete(api);
		return NULL;
	}
	if (api->tls_cert != NULL)
		flags |= MHD_USE_TLS;
	if (cfg.addr.family == 6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(cfg.addr.port);
		memcpy(&s6->sin6_addr, cfg.addr.ip, 16);
		flags |= MHD_USE_IPv6;
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
		s4->sin_family = AF_INET;
		s4->sin_port = htons(cfg.addr.port);
		memcpy(&s4->sin_addr, cfg.addr.ip, 4);
	}
	api->daemon = MHD_start_daemon(
	    flags, cfg.addr.port, NULL, NULL, access_cb, api,
	    /* First, so that every MHD message goes through our log. */
	    MHD_OPTION_EXTERNAL_LOGGER, mhd_log, api, MHD_OPTION_SOCK_ADDR,
	    (struct sockaddr *)&ss, MHD_OPTION_CONNECTION_LIMIT,
	    (unsigned)(cfg.max_connections ? cfg.max_connections : 64),
	    MHD_OPTION_CONNECTION_TIMEOUT,
	    (unsigned)(cfg.conn_timeout_s ? cfg.conn_timeout_s : 10),
	    MHD_OPTION_PER_IP_CONNECTION_LIMIT,
	    (unsigned)cfg.max_connections_per_client,
	    MHD_OPTION_NOTIFY_CONNECTION, conn_notify, api,
	    /* 16 KiB per connection is enough for our small requests. */
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)16384,
	    MHD_OPTION_NOTIFY_COMPLETED, completed_cb, api,
	    /* Without TLS these two are MHD_OPTION_END: the list ends. */
	    api->tls_cert != NULL ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END,
	    api->tls_cert,
	    api->tls_key != NULL ? MHD_OPTION_HTTPS_MEM_KEY : MHD_OPTION_END,
	    api->tls_key, MHD_OPTION_END);
	if (api->daemon == NULL) {
		char a[64];
		if (api->tls_cert != NULL)
			snprintf(err, err_cap,
				 "cannot listen on %s with TLS certificate %s "
				 "and key %s",
				 nc_addr_format(&cfg.addr, a, sizeof(a)),
				 cfg.tls_cert_name, cfg.tls_key_name);
		else
			snprintf(err, err_cap, "cannot listen on %s",
				 nc_addr_format(&cfg.addr, a, sizeof(a)));
		nc_api_delete(api);
		return NULL;
	}
	const union MHD_DaemonInfo *info =
	    MHD_get_daemon_info(api->daemon, MHD_DAEMON_INFO_EPOLL_FD);
	if (info == NULL) {
		snprintf(err, err_cap, "libmicrohttpd without epoll support");
		nc_api_delete(api);
		return NULL;
	}
	info = MHD_get_daemon_info(api->daemon, MHD_DAEMON_INFO_BIND_PORT);
	api->port = info != NULL ? info->port : cfg.addr.port;
	info = MHD_get_daemon_info(api->daemon, MHD_DAEMON_INFO_EPOLL_FD);
	int rc = nc_env_real_watch_start(env, &api->watch, info->epoll_fd,
					 NC_ENV_READ, mhd_readable, api);
	if (rc < 0) {
		snprintf(err, err_cap, "epoll: %s", strerror(-rc));
		nc_api_delete(api);
		return NULL;
	}
	return api;
}

void
nc_api_delete(struct nc_api *api)
{
	if (api == NULL)
		return;
	if (api->env != NULL) {
		nc_env_real_watch_stop(api->env, &api->watch);
		api->env->ops->timer_stop(api->env, &api->timer);
		api->env->ops->timer_stop(api->env, &api->idle_timer);
		api->env->ops->timer_stop(api->env, &api->block.timer);
	}
	/* Verifications answer 503 and stop their pings (the agent, and
	 * its gossip, outlive the API). */
	nc__api_verify_destroy(api);
	nc__api_fresh_destroy(api);
	/* MHD refuses to stop with suspended connections: resume them (they
	 * are closed unanswered); their owners' nc_api_resume frees them. */
	for (struct nc_api_pending *p = api->pending; p != NULL; p = p->next)
		if (p->conn != NULL)
			MHD_resume_connection(p->conn);
	if (api->daemon != NULL)
		MHD_stop_daemon(api->daemon);
	for (struct nc_api_pending *p = api->pending, *nx; p != NULL; p = nx) {
		nx = p->next;
		p->conn = NULL;
		p->api = NULL;
	}
	/* Held blocking queries: their pendings are free now. */
	nc__api_block_destroy(api);
	for (size_t i = 0; i < api->routes_n; i++)
		free(api->routes[i].path);
	nc__api_view_destroy(&api->view);
	nc__api_rcache_destroy(&api->rcache);
	free(api->tls_cert);
	if (api->tls_key != NULL) {
		memset(api->tls_key, 0, strlen(api->tls_key));
		free(api->tls_key);
	}
	memset(api->cfg.token, 0, sizeof(api->cfg.token));
	free(api);
}

unsigned
nc_api_port(const struct nc_api *api)
{
	return api->port;
}

