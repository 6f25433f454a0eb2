/* route.c: pure request classification and small parsers (no I/O). */
#include "gateway.h"
#include "base64.h"
#include "buf.h"

#include <ctype.h>
#include <errno.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

bool gw_name_valid(const char *s, size_t n)
{
	if (n == 0 || n > GW_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
		if (!alnum && !(c == '-' && i > 0 && i < n - 1))
			return false;
	}
	return true;
}

static bool has_prefix(const char *path, size_t plen, const char *pre)
{
	size_t n = strlen(pre);
	return plen >= n && memcmp(path, pre, n) == 0;
}

static bool path_is(const char *path, size_t plen, const char *s)
{
	return plen == strlen(s) && memcmp(path, s, plen) == 0;
}

/* A route whose last segment, from uri + skip, names a function. */
static void named(struct gw_route *r, enum gw_route_kind kind, const char *uri, size_t plen,
                  size_t skip)
{
	size_t n = plen - skip;
	if (!gw_name_valid(uri + skip, n)) {
		r->kind = GW_ROUTE_BAD;
		r->err = "invalid function name (DNS-1123 label, at most 63 characters)";
		return;
	}
	r->kind = kind;
	memcpy(r->name, uri + skip, n);
	r->name[n] = '\0';
}

void gw_route_parse(const char *method, const char *uri, const char *xfunction,
                    struct gw_route *out)
{
	struct gw_route r = {.kind = GW_ROUTE_NOT_FOUND};
	size_t plen, n;

	for (const char *p = uri; *p; p++) {
		unsigned char c = (unsigned char)*p;
		if (c < 0x21 || c == 0x7f) {
			r.kind = GW_ROUTE_BAD;
			r.err = "invalid character in the request target";
			*out = r;
			return;
		}
	}
	if (uri[0] != '/') {
		r.err = "request target must be a path";
		r.kind = GW_ROUTE_BAD;
		*out = r;
		return;
	}
	plen = strcspn(uri, "?");

	if (has_prefix(uri, plen, "/function/")) {
		/* /function/NAME or /function/NAME.NAMESPACE (OpenFaaS): a name that
		 * is not valid names no function, so 404 like an unknown one. */
		const char *name = uri + strlen("/function/"), *dot;
		size_t nn;
		n = strcspn(name, "/?");
		dot = memchr(name, '.', n);
		nn = dot ? (size_t)(dot - name) : n;
		if (!gw_name_valid(name, nn) || (dot && !gw_name_valid(dot + 1, n - nn - 1))) {
			r.err = n == 0
			            ? "function not found (no function name)"
			            : "function not found (not a valid name: NAME or "
			              "NAME.NAMESPACE, DNS-1123 labels of at most 63 characters)";
			*out = r;
			return;
		}
		r.kind = GW_ROUTE_FUNCTION;
		memcpy(r.name, name, nn);
		r.name[nn] = '\0';
		if (dot) {
			memcpy(r.ns, dot + 1, n - nn - 1);
			r.ns[n - nn - 1] = '\0';
		}
		r.target = name + n;
		r.target_root = name[n] != '/';
		*out = r;
		return;
	}
	if (xfunction) {
		n = strlen(xfunction);
		if (!gw_name_valid(xfunction, n)) {
			r.kind = GW_ROUTE_BAD;
			r.err = "invalid function name in X-Function";
			*out = r;
			return;
		}
		r.kind = GW_ROUTE_FUNCTION;
		memcpy(r.name, xfunction, n);
		r.name[n] = '\0';
		r.target = uri;
		*out = r;
		return;
	}
	if (path_is(uri, plen, "/function")) {
		r.err = "function not found (no function name)";
	} else if (path_is(uri, plen, "/system") || has_prefix(uri, plen, "/system/") ||
	           path_is(uri, plen, "/apis") || has_prefix(uri, plen, "/apis/")) {
		r.kind = GW_ROUTE_SYSTEM;
		r.target = uri;
	} else if (path_is(uri, plen, "/ui")) {
		r.kind = GW_ROUTE_UI_REDIRECT;
	} else if (has_prefix(uri, plen, "/ui/history/")) {
		named(&r, GW_ROUTE_HISTORY, uri, plen, strlen("/ui/history/"));
	} else if (has_prefix(uri, plen, "/ui/")) {
		r.kind = GW_ROUTE_UI;
		r.ui_path = uri + 4;
		r.ui_path_len = plen - 4;
	} else if (path_is(uri, plen, "/healthz")) {
		r.kind = GW_ROUTE_HEALTHZ;
	} else if (path_is(uri, plen, "/metrics")) {
		r.kind = GW_ROUTE_METRICS;
	} else if (path_is(uri, plen, "/_/concurrency")) {
		r.kind = GW_ROUTE_CONCURRENCY;
	} else if (has_prefix(uri, plen, "/_/starting/")) {
		named(&r, GW_ROUTE_STARTING, uri, plen, strlen("/_/starting/"));
	} else if (path_is(uri, plen, "/")) {
		if (strcmp(method, "POST") == 0)
			r.kind = GW_ROUTE_ALEXA;
		else if (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0)
			r.kind = GW_ROUTE_UI_REDIRECT;
	}
	*out = r;
}

bool gw_credentials_browser(const char *authorization)
{
	const char *v = authorization;

	while (*v == ' ' || *v == '\t')
		v++;
	return strncasecmp(v, "Basic", 5) == 0 || strncasecmp(v, "Digest", 6) == 0;
}

/* Does a challenge list name a scheme a browser answers by itself? */
static bool browser_challenge(const char *v)
{
	for (const char *p = v; *p; p++)
		if ((p == v || p[-1] == ',' || p[-1] == ' ' || p[-1] == '\t') &&
		    (strncasecmp(p, "basic", 5) == 0 || strncasecmp(p, "digest", 6) == 0))
			return true;
	return false;
}

/* A Set-Cookie whose scope stays below /function/. */
static bool cookie_ok(const char *v, bool under_function)
{
	const char *p = strchr(v, ';');
	bool path = false;

	while (p != NULL) {
		const char *a = p + 1, *end;
		size_t n;
		while (*a == ' ' || *a == '\t')
			a++;
		end = strchr(a, ';');
		n = end ? (size_t)(end - a) : strlen(a);
		if (n >= 5 && strncasecmp(a, "path=", 5) == 0) {
			const char *pv = a + 5;
			size_t pn = n - 5;
			path = true;
			while (pn > 0 && (pv[pn - 1] == ' ' || pv[pn - 1] == '\t'))
				pn--;
			if (!((pn == 9 && strncmp(pv, "/function", 9) == 0) ||
			      (pn > 10 && strncmp(pv, "/function/", 10) == 0)) ||
			    memmem(pv, pn, "..", 2) != NULL || memchr(pv, '%', pn) != NULL)
				return false;
		}
		p = end;
	}
	return path || under_function;
}

bool gw_function_header_ok(const char *name, const char *value, bool under_function)
{
	if (strcasecmp(name, "WWW-Authenticate") == 0)
		return !browser_challenge(value);
	if (strcasecmp(name, "Set-Cookie") == 0)
		return cookie_ok(value, under_function);
	return strcasecmp(name, "Clear-Site-Data") != 0;
}

int gw_alexa_intent(const char *body, size_t len, char out[GW_NAME_MAX + 1])
{
	struct json_tokener *tok;
	struct json_object *root, *req, *intent, *name;
	char tmp[GW_NAME_MAX + 1];
	int rc = -EINVAL;

	if (len == 0 || len > (1u << 20))
		return -EINVAL;
	tok = json_tokener_new_ex(32);
	if (!tok)
		return -ENOMEM;
	root = json_tokener_parse_ex(tok, body, (int)len);
	if (root && json_tokener_get_error(tok) == json_tokener_success &&
	    json_object_object_get_ex(root, "request", &req) &&
	    json_object_object_get_ex(req, "intent", &intent) &&
	    json_object_object_get_ex(intent, "name", &name) &&
	    json_object_is_type(name, json_type_string)) {
		const char *s = json_object_get_string(name);
		size_t n = (size_t)json_object_get_string_len(name);
		if (n >= 1 && n <= GW_NAME_MAX && strlen(s) == n) {
			for (size_t i = 0; i < n; i++)
				tmp[i] = (char)tolower((unsigned char)s[i]);
			tmp[n] = '\0';
			if (gw_name_valid(tmp, n)) {
				memcpy(out, tmp, n + 1);
				rc = 0;
			}
		}
	}
	json_object_put(root);
	json_tokener_free(tok);
	return rc;
}

static bool ct_equal(const char *a, size_t an, const char *b, size_t bn)
{
	unsigned char d = an != bn;
	size_t n = an < bn ? an : bn;
	for (size_t i = 0; i < n; i++)
		d |= (unsigned char)(a[i] ^ b[i]);
	return d == 0;
}

bool gw_bearer_ok(const char *authorization, const char *token)
{
	if (!authorization || !token || strncasecmp(authorization, "Bearer ", 7) != 0)
		return false;
	authorization += 7;
	while (*authorization == ' ')
		authorization++;
	return ct_equal(authorization, strlen(authorization), token, strlen(token));
}

bool gw_basic_auth_ok(const char *authorization, const char *user, const char *password)
{
	struct fx_buf dec;
	const char *colon;
	bool u, p;

	if (!authorization || !user || !password || strncasecmp(authorization, "Basic ", 6) != 0)
		return false;
	authorization += 6;
	while (*authorization == ' ')
		authorization++;
	if (strlen(authorization) > 1300)
		return false;
	fx_buf_init(&dec, 1024);
	if (fx_base64_decode(authorization, strlen(authorization), &dec) < 0 || dec.data == NULL ||
	    (colon = memchr(dec.data, ':', dec.len)) == NULL) {
		fx_buf_release(&dec);
		return false;
	}
	u = ct_equal(dec.data, (size_t)(colon - dec.data), user, strlen(user));
	p = ct_equal(colon + 1, (size_t)(dec.data + dec.len - colon - 1), password,
	             strlen(password));
	fx_buf_release(&dec);
	return u & p;
}

const char *gw_mime_type(const char *name)
{
	static const char *const map[][2] = {
	    {".html", "text/html; charset=utf-8"},
	    {".js", "text/javascript; charset=utf-8"},
	    {".mjs", "text/javascript; charset=utf-8"},
	    {".css", "text/css; charset=utf-8"},
	    {".json", "application/json"},
	    {".svg", "image/svg+xml"},
	    {".png", "image/png"},
	    {".ico", "image/x-icon"},
	    {".txt", "text/plain; charset=utf-8"},
	    {".woff2", "font/woff2"},
	};
	const char *dot = strrchr(name, '.');
	if (dot)
		for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
			if (strcasecmp(dot, map[i][0]) == 0)
				return map[i][1];
	return "application/octet-stream";
}

static void trim(const char **p, size_t *n)
{
	while (*n && isspace((unsigned char)**p))
		(*p)++, (*n)--;
	while (*n && isspace((unsigned char)(*p)[*n - 1]))
		(*n)--;
}

static bool addr_valid(const char *a, size_t n)
{
	const char *colon;
	if (n == 0 || n >= 64)
		return false;
	colon = NULL;
	for (size_t i = 0; i < n; i++)
		if (a[i] == ':')
			colon = a + i;
	if (!colon || colon == a || colon == a + n - 1)
		return false;
	for (const char *p = colon + 1; p < a + n; p++)
		if (*p < '0' || *p > '9')
			return false;
	long port = strtol(colon + 1, NULL, 10);
	return port > 0 && port <= 65535;
}

int gw_static_parse(const char *text, int (*add)(const struct gw_static_fn *fn, void *arg),
                    void *arg, char **err)
{
	const char *p = text;
	int entry = 0;

	while (*p) {
		size_t n = strcspn(p, ";\n");
		const char *e = p;
		size_t en = n;
		p += n;
		if (*p)
			p++;
		entry++;
		trim(&e, &en);
		if (en == 0 || e[0] == '#')
			continue;
		const char *eq = memchr(e, '=', en);
		if (!eq) {
			*err = fx_strdupf(
			    "static_functions: entry %d: expected name=host:port[,host:port]",
			    entry);
			return -EINVAL;
		}
		struct gw_static_fn fn = {.naddr = 0};
		const char *nm = e;
		size_t nn = (size_t)(eq - e);
		trim(&nm, &nn);
		if (!gw_name_valid(nm, nn)) {
			*err =
			    fx_strdupf("static_functions: entry %d: invalid function name \"%.*s\"",
			               entry, (int)(nn > 80 ? 80 : nn), nm);
			return -EINVAL;
		}
		memcpy(fn.name, nm, nn);
		fn.name[nn] = '\0';
		const char *a = eq + 1, *end = e + en;
		while (a < end) {
			size_t an = 0;
			while (a + an < end && a[an] != ',')
				an++;
			const char *av = a;
			size_t avn = an;
			a += an + (a + an < end);
			trim(&av, &avn);
			if (avn == 0)
				continue;
			if (!addr_valid(av, avn)) {
				*err = fx_strdupf("static_functions: %s: invalid address \"%.*s\" "
				                  "(expected host:port)",
				                  fn.name, (int)(avn > 80 ? 80 : avn), av);
				return -EINVAL;
			}
			if (fn.naddr >= sizeof(fn.addr) / sizeof(fn.addr[0])) {
				*err = fx_strdupf("static_functions: %s: more than 16 addresses",
				                  fn.name);
				return -EINVAL;
			}
			memcpy(fn.addr[fn.naddr], av, avn);
			fn.addr[fn.naddr][avn] = '\0';
			fn.naddr++;
		}
		int rc = add(&fn, arg);
		if (rc < 0) {
			*err = fx_strdupf("static_functions: %s: %s", fn.name, strerror(-rc));
			return rc;
		}
	}
	return 0;
}

/* Does Origin ("scheme://host[:port]") name the host the request was sent to? */
static bool origin_is_host(const char *origin, const char *host)
{
	const char *p = strstr(origin, "://");
	if (host == NULL || host[0] == '\0' || p == NULL)
		return false;
	if (!((p - origin == 4 && strncasecmp(origin, "http", 4) == 0) ||
	      (p - origin == 5 && strncasecmp(origin, "https", 5) == 0)))
		return false;
	return strcasecmp(p + 3, host) == 0;
}

/* The content types an HTML form (or a no-cors fetch) can send without a
 * CORS preflight. */
static bool form_type(const char *ct)
{
	static const char *const forms[] = {"application/x-www-form-urlencoded",
	                                    "multipart/form-data", "text/plain"};
	size_t n;
	if (ct == NULL)
		return false;
	while (*ct == ' ' || *ct == '\t')
		ct++;
	n = strcspn(ct, "; \t");
	for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++)
		if (n == strlen(forms[i]) && strncasecmp(ct, forms[i], n) == 0)
			return true;
	return false;
}

const char *gw_cross_site_refused(const char *method, const struct gw_browser *b)
{
	bool browser;

	if (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0 ||
	    strcmp(method, "OPTIONS") == 0)
		return NULL;
	browser = b->origin || b->fetch_site || b->fetch_mode || b->fetch_dest || b->referer;
	if (!browser)
		return NULL; /* curl, faasctl, faas-cli, scripts: unchanged */
	if (b->fetch_site != NULL) {
		/* Set by the browser itself, which a page cannot forge. "none": the
		 * user typed or bookmarked the address. */
		if (strcmp(b->fetch_site, "same-origin") != 0 && strcmp(b->fetch_site, "none") != 0)
			return "cross-site request refused (Sec-Fetch-Site is not same-origin)";
	} else if (b->origin != NULL && !origin_is_host(b->origin, b->host)) {
		/* A browser without Sec-Fetch-*: the Origin it sends must be ours. */
		return "cross-site request refused (Origin is not this gateway)";
	}
	if (form_type(b->content_type))
		return "a browser form cannot change the platform: send JSON or YAML (Content-Type "
		       "application/json or application/yaml)";
	return NULL;
}
