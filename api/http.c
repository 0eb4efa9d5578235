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
 *   body chunks          append to req->body (capped at 1 MiB → 413)
 *   last call            nc_api_dispatch → queue the response
 * MHD_OPTION_NOTIFY_COMPLETED frees struct req.
 */
#include "api/api.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <cjson/cJSON.h>
#include <microhttpd.h>

#include "api/api_int.h"
#include "gossip/env_real.h"

/** Largest request body accepted. Nothing special in this value. */
#define NC_API_BODY_MAX (1024 * 1024)

/** Per-request state kept by MHD in con_cls. */
struct req {
	char *body;
	size_t len, cap;
	bool too_big;
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
}

/* ------------------------------------------------------------------ */
/* Router                                                             */
/* ------------------------------------------------------------------ */

int
nc_api_route_add(struct nc_api *api, const char *method, const char *path,
		 bool prefix, nc_api_handler h, void *ctx)
{
	if (api->routes_n == NC_API_MAX_ROUTES)
		return -ENOSPC;
	struct nc_api_route *r = &api->routes[api->routes_n];
	r->path = strdup(path);
	if (r->path == NULL)
		return -ENOMEM;
	snprintf(r->method, sizeof(r->method), "%s", method);
	r->prefix = prefix;
	r->handler = h;
	r->ctx = ctx;
	api->routes_n++;
	return 0;
}

/** Does @a r match @a path? Sets *suffix for prefix routes. */
static bool
route_match(const struct nc_api_route *r, const char *path,
	    const char **suffix)
{
	if (r->prefix) {
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

int
nc_api_dispatch(struct nc_api *api, const struct nc_api_request *req_in,
		char **body_out, char *allow, size_t allow_cap)
{
	struct nc_api_request req = *req_in;
	const struct nc_api_route *hit = NULL;
	size_t allow_len = 0;
	char allow_buf[128] = "";
	*body_out = NULL;
	for (size_t i = 0; i < api->routes_n; i++) {
		const char *suffix;
		if (!route_match(&api->routes[i], req.path, &suffix))
			continue;
		if (strcmp(api->routes[i].method, req.method) == 0 ||
		    (strcmp(req.method, "HEAD") == 0 &&
		     strcmp(api->routes[i].method, "GET") == 0)) {
			hit = &api->routes[i];
			req.suffix = suffix;
			break;
		}
		if (strstr(allow_buf, api->routes[i].method) == NULL)
			allow_len += (size_t)snprintf(
				allow_buf + allow_len,
				allow_len < sizeof(allow_buf)
					? sizeof(allow_buf) - allow_len
					: 0,
				"%s%s", allow_len ? ", " : "",
				api->routes[i].method);
	}
	if (hit == NULL) {
		char msg[160];
		if (allow_buf[0] != '\0') {
			if (allow != NULL && allow_cap > 0)
				snprintf(allow, allow_cap, "%s", allow_buf);
			snprintf(msg, sizeof(msg),
				 "method %s not allowed on %s", req.method,
				 req.path);
			*body_out = error_body(msg);
			return 405;
		}
		snprintf(msg, sizeof(msg), "no such endpoint: %.128s",
			 req.path);
		*body_out = error_body(msg);
		return 404;
	}
	cJSON *doc = NULL;
	char err[256] = "";
	int status = hit->handler(hit->ctx, &req, &doc, err, sizeof(err));
	if (doc != NULL) {
		*body_out = cJSON_PrintUnformatted(doc);
		cJSON_Delete(doc);
		if (*body_out == NULL) {
			*body_out = error_body("out of memory");
			return 500;
		}
		return status;
	}
	if (status < 400) {
		/* A handler that succeeds without a body: {} keeps it JSON. */
		*body_out = strdup("{}");
		return status;
	}
	*body_out = error_body(err[0] ? err : "error");
	return status;
}

const char *
nc_api_query(const struct nc_api_request *req, const char *key)
{
	if (req->conn == NULL)
		return NULL;
	return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND,
					   key);
}

/* ------------------------------------------------------------------ */
/* MHD callbacks                                                      */
/* ------------------------------------------------------------------ */

static enum MHD_Result
queue_json(struct MHD_Connection *conn, int status, char *body,
	   const char *allow)
{
	if (body == NULL) {
		body = strdup("{\"error\":\"out of memory\"}");
		status = 500;
		if (body == NULL)
			return MHD_NO;
	}
	struct MHD_Response *resp = MHD_create_response_from_buffer(
		strlen(body), body, MHD_RESPMEM_MUST_FREE);
	if (resp == NULL) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
				"application/json");
	if (allow != NULL && allow[0] != '\0')
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
	enum MHD_Result r = MHD_queue_response(conn, (unsigned)status, resp);
	MHD_destroy_response(resp);
	return r;
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
		*con_cls = r;
		return MHD_YES;
	}
	if (*upload_data_size > 0) {
		size_t n = *upload_data_size;
		*upload_data_size = 0;
		if (r->too_big || r->len + n > NC_API_BODY_MAX) {
			r->too_big = true;
			return MHD_YES;
		}
		if (r->len + n + 1 > r->cap) {
			size_t cap = r->cap ? r->cap : 1024;
			while (cap < r->len + n + 1)
				cap *= 2;
			char *b = realloc(r->body, cap);
			if (b == NULL)
				return MHD_NO;
			r->body = b;
			r->cap = cap;
		}
		memcpy(r->body + r->len, upload_data, n);
		r->len += n;
		r->body[r->len] = '\0';
		return MHD_YES;
	}
	if (r->too_big)
		return queue_json(conn, 413, error_body("request body too large"),
				  NULL);
	struct nc_api_request req = {
		.method = method,
		.path = url,
		.suffix = "",
		.body = r->body,
		.body_len = r->len,
		.conn = conn,
	};
	char *body = NULL;
	char allow[128] = "";
	int status = nc_api_dispatch(api, &req, &body, allow, sizeof(allow));
	return queue_json(conn, status, body, allow);
}

static void
completed_cb(void *cls, struct MHD_Connection *conn, void **con_cls,
	     enum MHD_RequestTerminationCode toe)
{
	struct req *r = *con_cls;
	(void)cls;
	(void)conn;
	(void)toe;
	if (r != NULL) {
		free(r->body);
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

/** Run MHD once (gossip first), then re-arm its timeout. */
static void
mhd_service(struct nc_api *api)
{
	nc_env_real_drain_packets(api->env);
	MHD_run(api->daemon);
	MHD_UNSIGNED_LONG_LONG ms;
	if (MHD_get_timeout(api->daemon, &ms) == MHD_YES)
		api->env->ops->timer_start(api->env, &api->timer,
					   (double)ms / 1000.0);
	else
		api->env->ops->timer_stop(api->env, &api->timer);
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

struct nc_api *
nc_api_new(struct nc_env *env, struct nc_gossip *g,
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
	api->gossip = g;
	nc_timer_init(&api->timer, mhd_timeout, api);
	if (nc__api_add_builtin_routes(api) < 0) {
		snprintf(err, err_cap, "out of memory");
		nc_api_delete(api);
		return NULL;
	}
	if (env == NULL)
		return api;

	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof(ss));
	unsigned flags = MHD_USE_EPOLL | MHD_USE_ERROR_LOG;
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
		MHD_OPTION_EXTERNAL_LOGGER, mhd_log, api,
		MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
		MHD_OPTION_CONNECTION_LIMIT,
		(unsigned)(cfg.max_connections ? cfg.max_connections : 64),
		MHD_OPTION_CONNECTION_TIMEOUT,
		(unsigned)(cfg.conn_timeout_s ? cfg.conn_timeout_s : 10),
		/* 16 KiB per connection is enough for our small requests. */
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)16384,
		MHD_OPTION_NOTIFY_COMPLETED, completed_cb, api, MHD_OPTION_END);
	if (api->daemon == NULL) {
		char a[64];
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
	}
	if (api->daemon != NULL)
		MHD_stop_daemon(api->daemon);
	for (size_t i = 0; i < api->routes_n; i++)
		free(api->routes[i].path);
	free(api);
}

unsigned
nc_api_port(const struct nc_api *api)
{
	return api->port;
}

struct nc_gossip *
nc_api_gossip(const struct nc_api *api)
{
	return api->gossip;
}
