/*
 * api/static.c - the web UI, embedded at build time (api/embed_web.cmake
 * turns every file under web/ into a C array), served under /ui/:
 *
 *   GET /          302 -> /ui/
 *   GET /ui        302 -> /ui/
 *   GET /ui/       index.html
 *   GET /ui/<path> that file; 404 if it is not embedded
 *
 * Caching: every file has a strong ETag (SHA-256 prefix) and a request
 * with a matching If-None-Match gets 304. index.html is "no-cache" (always
 * revalidated, so a new binary's UI shows at once); other assets may be
 * reused for 5 minutes without asking. The UI needs no token to load (it
 * asks for one when the API answers 401).
 */
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "api/api_int.h"

/** max-age of assets other than index.html, seconds. Arbitrary. */
#define NC_STATIC_MAX_AGE "300"

static const char *
content_type(const char *path)
{
	static const struct {
		const char *ext, *type;
	} map[] = {
	    {".html", "text/html; charset=utf-8"},
	    {".js", "text/javascript; charset=utf-8"},
	    {".mjs", "text/javascript; charset=utf-8"},
	    {".css", "text/css; charset=utf-8"},
	    {".json", "application/json"},
	    {".map", "application/json"},
	    {".svg", "image/svg+xml"},
	    {".png", "image/png"},
	    {".ico", "image/x-icon"},
	    {".woff2", "font/woff2"},
	    {".txt", "text/plain; charset=utf-8"},
	};
	const char *dot = strrchr(path, '.');
	if (dot != NULL && strchr(dot, '/') == NULL)
		for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
			if (strcmp(dot, map[i].ext) == 0)
				return map[i].type;
	return "application/octet-stream";
}

/** Does If-None-Match list @a etag (or "*")? */
static bool
etag_matches(const char *inm, const char *etag)
{
	if (inm == NULL)
		return false;
	if (strcmp(inm, "*") == 0)
		return true;
	size_t el = strlen(etag);
	for (const char *p = inm; (p = strstr(p, etag)) != NULL; p += el) {
		char after = p[el];
		if (after == '\0' || after == ',' || after == ' ')
			return true;
	}
	return false;
}

static int
redirect_ui(void *ctx, const struct nc_api_request *req, cJSON **out, char *err,
	    size_t err_cap)
{
	(void)ctx;
	(void)out;
	(void)err;
	(void)err_cap;
	nc_api_add_header(req, "Location", "/ui/");
	nc_api_set_raw(req, "text/plain; charset=utf-8", "see /ui/\n", 9,
		       false);
	return 302;
}

static int
ui_file(void *ctx, const struct nc_api_request *req, cJSON **out, char *err,
	size_t err_cap)
{
	(void)ctx;
	(void)out;
	const char *path = req->suffix[0] != '\0' ? req->suffix : "index.html";
	const struct nc__api_asset *a = NULL;
	if (strstr(path, "..") == NULL)
		for (size_t i = 0; i < nc__api_assets_n; i++)
			if (strcmp(nc__api_assets[i].path, path) == 0)
				a = &nc__api_assets[i];
	if (a == NULL) {
		snprintf(err, err_cap, "no such file: /ui/%.128s", path);
		return 404;
	}
	bool index = strcmp(path, "index.html") == 0;
	nc_api_add_header(req, "ETag", a->etag);
	nc_api_add_header(req, "Cache-Control",
			  index ? "no-cache"
				: "public, max-age=" NC_STATIC_MAX_AGE);
	if (etag_matches(req->if_none_match, a->etag)) {
		nc_api_set_raw(req, content_type(path), "", 0, false);
		return 304;
	}
	nc_api_set_raw(req, content_type(path), (const char *)a->data, a->len,
		       false);
	return 200;
}

int
nc__api_add_static_routes(struct nc_api *api)
{
	int rc = 0;
	rc |= nc_api_route_add_ex(api, "GET", "/", NC_API_PUBLIC, redirect_ui,
				  api);
	rc |= nc_api_route_add_ex(api, "GET", "/ui", NC_API_PUBLIC, redirect_ui,
				  api);
	rc |= nc_api_route_add_ex(api, "GET", "/ui/",
				  NC_API_PREFIX | NC_API_PUBLIC, ui_file, api);
	return rc < 0 ? -1 : 0;
}
