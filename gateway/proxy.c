/* proxy.c: one request through the gateway, as a state machine on top of
 * common/proxy.c's exchange (which does the non-blocking HTTP/1.1 work).
 *
 * Everything here runs on the loop thread that owns the client's connection
 * (common/loop.c): libmicrohttpd calls the handler, the exchange calls the
 * ops below. A request is routed at its first handler call; a function's
 * request then finds its replicas (wait.c, which may leave it waiting for the
 * registry, DNS or a ready replica), and the exchange is started on the
 * first candidate once the body is in or FX_PX_HOLD bytes of it are (so a
 * request that fits can be sent again to another replica when it cannot have
 * run, see docs/api.md). /system and /apis go to the controller the same way.
 *
 *   GW_REQ_NEW      created at the request line, not routed yet
 *   GW_REQ_LOCAL_DUE the gateway answers it itself at the final call
 *   GW_REQ_LOCAL    answered by the gateway itself (UI, health, metrics, errors)
 *   GW_REQ_ROUTED   a function or the controller; candidates may be known
 *   GW_REQ_WAITING  waiting for the registry, DNS or a ready replica (wait.c)
 *   GW_REQ_PROXYING the exchange runs on candidate `next` */
#include "gateway.h"

#include "clock.h"
#include "log.h"
#include "proxy.h"

#include <errno.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#define ALEXA_MAX (256u << 10)

static const struct fx_px_ops req_ops;

static struct gw_req *req_of(struct fx_px *x)
{
	return (struct gw_req *)(void *)x; /* x is the first member */
}

static bool has(const struct gw_req *r, unsigned f)
{
	return (r->flags & f) != 0;
}

static void new_call_id(char out[80])
{
	static __thread uint64_t s[2];
	uint64_t a[2];

	if (!s[0] && !s[1]) {
		if (getrandom(s, sizeof(s), 0) != sizeof(s)) {
			s[0] = fx_wall_ns();
			s[1] = (uint64_t)(uintptr_t)&s ^ 0x9e3779b97f4a7c15u;
		}
		s[0] |= 1;
	}
	for (int i = 0; i < 2; i++) { /* xorshift128+ */
		uint64_t x = s[0], y = s[1];
		s[0] = y;
		x ^= x << 23;
		s[1] = x ^ y ^ (x >> 17) ^ (y >> 26);
		a[i] = s[1] + y;
	}
	snprintf(out, 80, "%08x-%04x-4%03x-%04x-%012llx", (unsigned)(a[0] >> 32),
	         (unsigned)(a[0] >> 16) & 0xffff, (unsigned)a[0] & 0xfff,
	         (unsigned)((a[1] >> 48) & 0x3fff) | 0x8000,
	         (unsigned long long)(a[1] & 0xffffffffffffull));
}

struct gw_req *gw_req_new(struct fx_loop *loop, const char *uri, struct MHD_Connection *c)
{
	struct gw_req *r = calloc(1, sizeof(*r));

	if (r == NULL)
		return NULL;
	r->uri = strdup(uri);
	if (r->uri == NULL) {
		free(r);
		return NULL;
	}
	fx_px_init(&r->x, &req_ops, loop, c);
	r->t0_us = fx_now_us();
	return r;
}

void gw_req_release_cands(struct gw_req *r)
{
	for (size_t i = 0; i < r->ncand; i++)
		gw_replica_release(r->cand[i]);
	r->ncand = 0;
	r->next = 0;
}

void gw_req_completed(struct gw_req *r)
{
	if (r == NULL)
		return;
	if (r->fn != NULL && r->status != 0)
		gw_metrics_done(r->fn->metrics, r->status, (double)(fx_now_us() - r->t0_us) / 1e6);
	fx_px_done(&r->x);
}

/* ---- answers ---- */

static void add_ids(struct MHD_Response *resp, const struct gw_req *r)
{
	if (r->call_id[0])
		MHD_add_response_header(resp, "X-Call-Id", r->call_id);
	if (r->start_time[0])
		MHD_add_response_header(resp, "X-Start-Time", r->start_time);
}

static enum MHD_Result fail(struct MHD_Connection *c, struct gw_req *r, unsigned status,
                            const char *msg)
{
	char body[512];
	int n = snprintf(body, sizeof(body), "{\"error\":\"%s\"}\n", msg ? msg : "upstream error");
	struct MHD_Response *resp =
	    MHD_create_response_from_buffer((size_t)n, body, MHD_RESPMEM_MUST_COPY);
	enum MHD_Result ret;

	if (resp == NULL)
		return MHD_NO;
	MHD_add_response_header(resp, "Content-Type", "application/json");
	if (status == 503)
		MHD_add_response_header(resp, "Retry-After", "1");
	if (status == 401)
		MHD_add_response_header(resp, "WWW-Authenticate", "Basic realm=\"faas\"");
	if (r->route.kind == GW_ROUTE_FUNCTION || r->route.kind == GW_ROUTE_ALEXA)
		add_ids(resp, r);
	else
		gw_secure_headers(resp, false);
	r->status = (int)status;
	r->st = GW_REQ_LOCAL;
	ret = MHD_queue_response(c, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

/* https_only: a plain request for the API or the UI gets no data, only a
 * permanent redirect (308 keeps the method and body) to the same target on
 * the HTTPS port, or 403 when its Host cannot make a URL. */
static enum MHD_Result to_https(struct MHD_Connection *c, struct gw_req *r)
{
	const char *host = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Host");
	char loc[2048], body[256];
	size_t hl = 0;
	bool ok = host != NULL;
	struct MHD_Response *resp;
	enum MHD_Result ret;
	int n;

	/* host[:port] or [v6]:port; only name and address characters */
	if (ok && host[0] == '[') {
		hl = strcspn(host, "]");
		ok = host[hl] == ']' && hl > 1 &&
		     strspn(host + 1, "0123456789abcdefABCDEF:.") == hl - 1;
		hl++;
	} else if (ok) {
		hl = strcspn(host, ":");
		ok = hl > 0 && strspn(host, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		                            "0123456789.-") == hl;
	}
	if (ok && host[hl] == ':')
		ok = host[hl + 1] != '\0' &&
		     strspn(host + hl + 1, "0123456789") == strlen(host + hl + 1);
	else if (ok)
		ok = host[hl] == '\0';
	if (!ok || hl > 255)
		return fail(c, r, 403, "this gateway serves the API and the UI over HTTPS only");
	n = snprintf(loc, sizeof(loc), "https://%.*s:%d%s", (int)hl, host, gw_cfg.tls_port_bound,
	             r->uri);
	if (n < 0 || (size_t)n >= sizeof(loc))
		return fail(c, r, 403, "this gateway serves the API and the UI over HTTPS only");
	n = snprintf(body, sizeof(body), "{\"error\":\"HTTPS only: use https on port %d\"}\n",
	             gw_cfg.tls_port_bound);
	resp = MHD_create_response_from_buffer((size_t)n, body, MHD_RESPMEM_MUST_COPY);
	if (resp == NULL)
		return MHD_NO;
	MHD_add_response_header(resp, "Content-Type", "application/json");
	MHD_add_response_header(resp, "Location", loc);
	gw_secure_headers(resp, false);
	r->status = 308;
	r->st = GW_REQ_LOCAL;
	ret = MHD_queue_response(c, 308, resp);
	MHD_destroy_response(resp);
	return ret;
}

/* An error found before the body is read: answered at the final call when no
 * body comes, so the connection stays open (keep-alive). */
static enum MHD_Result early(struct MHD_Connection *c, struct gw_req *r, unsigned status,
                             const char *msg)
{
	if (r->x.flags & FX_PXF_ANNOUNCED)
		return fail(c, r, status, msg);
	fx_px_fail(&r->x, (int)status, msg);
	r->st = GW_REQ_ROUTED; /* the final call answers */
	return MHD_YES;
}

/* ---- building the request ---- */

static bool skip_header(void *cls, const char *name, const char *value)
{
	const struct gw_req *r = cls;

	if (strcasecmp(name, "Host") == 0 || strcasecmp(name, "X-Forwarded-Host") == 0 ||
	    strcasecmp(name, "X-Forwarded-Proto") == 0 || strcasecmp(name, "X-Call-Id") == 0 ||
	    strcasecmp(name, "X-Start-Time") == 0)
		return true;
	if (strcasecmp(name, "Authorization") == 0)
		return has(r, GW_RF_SYSTEM) || gw_credentials_browser(value);
	return false;
}

/* 0, -EBADMSG (a header that cannot be forwarded: 400), or -E2BIG (431). */
static int build_head(struct MHD_Connection *c, struct gw_req *r)
{
	const char *host = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Host");
	struct fx_px *x = &r->x;
	int rc;

	fx_buf_reset(&x->head);
	if (host != NULL && (strlen(host) > 1024 || !fx_http1_value_ok(host, strlen(host))))
		host = NULL;
	if (has(r, GW_RF_SYSTEM)) {
		rc = fx_px_head_line(x, r->method, r->uri, NULL);
		rc = rc ? rc : fx_px_head_add(x, "Host", gw_cfg.controller_hostport);
	} else {
		rc =
		    fx_px_head_line(x, r->method, r->route.target_root ? "/" : "", r->route.target);
		rc = rc ? rc : fx_px_head_add(x, "Host", host ? host : "gateway");
	}
	rc = rc ? rc : fx_px_head_copy(x, c, skip_header, r, 16384);
	rc = rc ? rc : fx_px_head_forwarded(x, c);
	if (rc == 0 && host != NULL)
		rc = fx_px_head_add(x, "X-Forwarded-Host", host);
	if (rc == 0)
		rc = fx_px_head_add(x, "X-Forwarded-Proto", has(r, GW_RF_TLS) ? "https" : "http");
	if (rc == 0 && !has(r, GW_RF_SYSTEM)) {
		rc = fx_px_head_add(x, "X-Call-Id", r->call_id);
		rc = rc ? rc : fx_px_head_add(x, "X-Start-Time", r->start_time);
	}
	if (rc == 0 && has(r, GW_RF_SYSTEM) && gw_cfg.token != NULL) {
		char bearer[600];
		snprintf(bearer, sizeof(bearer), "Bearer %s", gw_cfg.token);
		rc = fx_px_head_add(x, "Authorization", bearer);
	}
	return rc == -EBADMSG ? rc : rc < 0 ? -E2BIG : 0;
}

/* ---- talking to a replica ---- */

static bool refused(int e)
{
	return e == ECONNREFUSED || e == ETIMEDOUT || e == EHOSTUNREACH || e == ENETUNREACH ||
	       e == EHOSTDOWN || e == ECONNRESET || e == ECONNABORTED;
}

static bool idempotent(const char *m)
{
	return strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0 || strcmp(m, "OPTIONS") == 0 ||
	       strcmp(m, "PUT") == 0 || strcmp(m, "DELETE") == 0;
}

void gw_req_start(struct gw_req *r)
{
	while (r->next < r->ncand) {
		struct gw_replica *rep = r->cand[r->next];
		int rc;

		r->x.connect_ms = gw_cfg.connect_timeout_ms;
		r->x.idle_ms = gw_cfg.upstream_timeout_ms;
		rc = fx_px_start(&r->x, rep, 0, (const struct sockaddr *)&rep->sa, rep->salen);
		if (rc == 0) {
			r->st = GW_REQ_PROXYING;
			gw_inflight(r->fn, rep, 1);
			r->flags |= GW_RF_INFLIGHT;
			return;
		}
		if (!refused(-rc)) {
			fx_px_fail(&r->x, rc == -ENOMEM ? 503 : 502,
			           rc == -ENOMEM ? "out of memory"
			                         : "cannot connect to the replica");
			return;
		}
		gw_replica_mark_down(rep);
		r->next++;
	}
	if (gw_wait_after_refusals(r))
		return;
	log_warn("upstream_unreachable", "uri=%.200s", r->uri);
	fx_px_fail(&r->x, 502,
	           has(r, GW_RF_SYSTEM) ? "controller unreachable"
	                                : "no replica of the function is reachable");
}

void gw_req_maybe_start(struct gw_req *r)
{
	const struct fx_px *x = &r->x;

	if (r->st != GW_REQ_ROUTED || x->err_status != 0 || r->ncand == 0)
		return;
	if ((x->flags & FX_PXF_UPLOADED) || x->body.len >= x->hold ||
	    !(x->flags & FX_PXF_ANNOUNCED))
		gw_req_start(r);
}

static void try_next(struct gw_req *r)
{
	fx_px_drop_upstream(&r->x);
	r->next++;
	gw_req_start(r);
}

static void on_released(struct fx_px *x)
{
	struct gw_req *r = req_of(x);

	if (has(r, GW_RF_INFLIGHT) && r->next < r->ncand) {
		gw_inflight(r->fn, r->cand[r->next], -1);
		r->flags &= ~GW_RF_INFLIGHT;
	}
}

static void on_failed(struct fx_px *x, int err, bool connecting)
{
	struct gw_req *r = req_of(x);
	struct gw_replica *rep = r->next < r->ncand ? r->cand[r->next] : NULL;

	if (connecting && refused(err)) {
		if (rep != NULL)
			gw_replica_mark_down(rep);
		try_next(r);
		return;
	}
	if (!(x->flags & FX_PXF_GOT_BYTES) && (x->flags & FX_PXF_WHOLE) &&
	    r->retries < GW_MAX_TRIES && (err == EPIPE || err == ECONNRESET || err == 0) &&
	    ((x->flags & FX_PXF_FRESH) || idempotent(r->method))) {
		/* Closed before any answer: a replica that died (idempotent methods
		 * only, as nginx's proxy_next_upstream, or a request sent on a
		 * pooled connection and again on a fresh one): the next one. */
		r->retries++;
		if (rep != NULL)
			gw_replica_mark_down(rep);
		try_next(r);
		return;
	}
	if (err == ETIMEDOUT) {
		log_warn("upstream_timeout", "uri=%.200s replica=%s", r->uri,
		         rep != NULL ? rep->addr : "?");
		fx_px_fail(x, 504, "the function did not answer in time");
		return;
	}
	fx_px_fail(x, 502, "the replica closed the connection");
}

static bool draining_answer(const struct fx_http1_head *h)
{
	for (size_t i = 0; i < h->nhdr; i++)
		if (strcasecmp(h->hdr[i].name, "X-Faas-Draining") == 0)
			return true;
	return false;
}

static enum fx_px_verdict on_head(struct fx_px *x, const struct fx_http1_head *h)
{
	struct gw_req *r = req_of(x);

	bool draining = draining_answer(h);

	if (draining && h->status == 503 && (x->flags & FX_PXF_WHOLE) &&
	    r->retries < GW_MAX_TRIES) {
		/* The replica is shutting down and did not run the request. */
		r->retries++;
		if (r->next < r->ncand)
			gw_replica_mark_down(r->cand[r->next]);
		try_next(r);
		return FX_PX_AGAIN;
	}
	/* A draining replica still answers what reaches it: send it no more. */
	if (draining && r->next < r->ncand)
		gw_replica_mark_down(r->cand[r->next]);
	if (has(r, GW_RF_INJECT) && h->status == 200)
		return FX_PX_COLLECT;
	return FX_PX_PASS;
}

static bool on_pass_header(struct fx_px *x, const char *name, const char *value)
{
	const struct gw_req *r = req_of(x);

	if (has(r, GW_RF_SYSTEM))
		return !gw_secure_header(name); /* the gateway sets its own */
	return gw_function_header_ok(name, value, r->route.kind == GW_ROUTE_FUNCTION);
}

static void on_decorate(struct fx_px *x, struct MHD_Response *resp)
{
	const struct gw_req *r = req_of(x);

	if (has(r, GW_RF_SYSTEM))
		gw_secure_headers(resp, false);
	else
		add_ids(resp, r);
}

static struct MHD_Response *on_collected(struct fx_px *x, const char *data, size_t len)
{
	size_t olen = 0;
	char *o = gw_registry_inject_counts(data, len, &olen);
	struct MHD_Response *resp;

	(void)x;
	if (o != NULL)
		resp = MHD_create_response_from_buffer(olen, o, MHD_RESPMEM_MUST_FREE);
	else
		resp = MHD_create_response_from_buffer(len, (void *)(uintptr_t)data,
		                                       MHD_RESPMEM_MUST_COPY);
	if (resp == NULL) {
		free(o);
		return NULL;
	}
	MHD_add_response_header(resp, "Content-Type", "application/json");
	gw_secure_headers(resp, false);
	return resp;
}

/* The Alexa route: the body names the function. */
static void alexa_ready(struct gw_req *r)
{
	struct fx_px *x = &r->x;
	char name[GW_NAME_MAX + 1];
	int rc;

	if (!(x->flags & FX_PXF_UPLOADED)) {
		fx_px_fail(x, 413, "request body too large");
		return;
	}
	if (gw_alexa_intent(x->body.data ? x->body.data : "", x->body.len, name) < 0) {
		fx_px_fail(x, 404, "not found (not an Alexa request with an intent name)");
		return;
	}
	r->route.target = "";
	r->route.target_root = true;
	snprintf(r->route.name, sizeof(r->route.name), "%s", name);
	rc = build_head(x->c, r);
	if (rc < 0) {
		fx_px_fail(x, rc == -EBADMSG ? 400 : 431,
		           rc == -EBADMSG ? "a request header cannot be forwarded"
		                          : "request headers too large");
		return;
	}
	r->st = GW_REQ_ROUTED;
	gw_resolve_function(r, true);
}

static void on_ready(struct fx_px *x)
{
	struct gw_req *r = req_of(x);

	if (has(r, GW_RF_ALEXA) && r->st == GW_REQ_ROUTED && r->fn == NULL && r->ncand == 0)
		alexa_ready(r);
	else
		gw_req_maybe_start(r);
}

static void on_tick(struct fx_px *x, int64_t now)
{
	struct gw_req *r = req_of(x);

	if (r->st == GW_REQ_WAITING)
		gw_wait_tick(r, now);
}

static void on_free(struct fx_px *x)
{
	struct gw_req *r = req_of(x);

	gw_req_release_cands(r);
	free(r->uri);
	free(r);
}

static const struct fx_px_ops req_ops = {
    .failed = on_failed,
    .head = on_head,
    .pass_header = on_pass_header,
    .decorate = on_decorate,
    .collected = on_collected,
    .ready = on_ready,
    .tick = on_tick,
    .released = on_released,
    .free = on_free,
};

/* ---- request flow ---- */

static bool is_inject_path(const char *uri)
{
	static const char *const exact[] = {"/system/functions", "/apis/faas/v1/functions"};
	static const char *const prefix[] = {"/system/function/", "/apis/faas/v1/functions/"};
	size_t n = strcspn(uri, "?");

	for (size_t i = 0; i < 2; i++) {
		size_t pl = strlen(prefix[i]);
		if (strlen(exact[i]) == n && strncmp(uri, exact[i], n) == 0)
			return true;
		if (n > pl && strncmp(uri, prefix[i], pl) == 0 && !memchr(uri + pl, '/', n - pl))
			return true;
	}
	return false;
}

static bool auth_ok(struct MHD_Connection *c)
{
	if (!gw_cfg.basic_auth)
		return true;
	return gw_basic_auth_ok(MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization"),
	                        gw_cfg.auth_user, gw_cfg.auth_password);
}

static const char *cross_site(struct MHD_Connection *c, const char *method)
{
#define H(name) MHD_lookup_connection_value(c, MHD_HEADER_KIND, name)
	const struct gw_browser b = {H("Host"),           H("Origin"),         H("Sec-Fetch-Site"),
	                             H("Sec-Fetch-Mode"), H("Sec-Fetch-Dest"), H("Referer"),
	                             H("Content-Type")};
#undef H
	return gw_cross_site_refused(method, &b);
}

static enum MHD_Result req_first(struct MHD_Connection *c, struct gw_req *r, const char *method)
{
	const char *xf = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Function");
	const char *cid = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Call-Id");
	struct fx_px *x = &r->x;
	const char *why;
	int rc;

	r->method = method;
	if (gw_conn_tls(c))
		r->flags |= GW_RF_TLS;
	gw_route_parse(method, r->uri, xf, &r->route);
	fx_px_framing(x, c);
	if (gw_cfg.https_only && !has(r, GW_RF_TLS) &&
	    (r->route.kind == GW_ROUTE_SYSTEM || r->route.kind == GW_ROUTE_UI ||
	     r->route.kind == GW_ROUTE_UI_REDIRECT || r->route.kind == GW_ROUTE_HISTORY))
		return to_https(c, r);

	switch (r->route.kind) {
	case GW_ROUTE_BAD:
		return early(c, r, 400, r->route.err);
	case GW_ROUTE_NOT_FOUND:
		return early(c, r, 404, r->route.err ? r->route.err : "not found");
	case GW_ROUTE_SYSTEM:
		/* Before auth: a refused page gets no login prompt either. */
		if ((why = cross_site(c, method)) != NULL) {
			log_warn("cross_site_refused", "method=%s uri=%.200s", method, r->uri);
			return fail(c, r, 403, why);
		}
		if (!auth_ok(c))
			return fail(c, r, 401, "unauthorized");
		if (!gw_cfg.controller_host[0])
			return fail(c, r, 404, "no controller configured");
		r->flags |= GW_RF_SYSTEM;
		if (strcmp(method, "GET") == 0 && is_inject_path(r->uri))
			r->flags |= GW_RF_INJECT;
		r->cand[0] = gw_controller_replica();
		if (r->cand[0] == NULL)
			return fail(c, r, 502, "controller unreachable");
		r->ncand = 1;
		break;
	case GW_ROUTE_UI:
	case GW_ROUTE_UI_REDIRECT:
	case GW_ROUTE_HISTORY:
		r->st = GW_REQ_LOCAL;
		if (r->route.kind != GW_ROUTE_UI_REDIRECT && !auth_ok(c))
			return fail(c, r, 401, "unauthorized");
		r->st = GW_REQ_LOCAL_DUE;
		return MHD_YES;
	case GW_ROUTE_HEALTHZ:
	case GW_ROUTE_METRICS:
		r->st = GW_REQ_LOCAL_DUE;
		return MHD_YES;
	case GW_ROUTE_CONCURRENCY:
	case GW_ROUTE_STARTING:
		/* The controller's autoscaler calls these with its token (when one
		 * is configured); never proxied. */
		r->st = GW_REQ_LOCAL;
		if (gw_cfg.token != NULL &&
		    !gw_bearer_ok(MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization"),
		                  gw_cfg.token))
			return fail(c, r, 401, "unauthorized");
		r->st = GW_REQ_LOCAL_DUE;
		return MHD_YES;
	case GW_ROUTE_ALEXA:
		r->flags |= GW_RF_ALEXA;
		x->hold = ALEXA_MAX;
		break;
	case GW_ROUTE_FUNCTION:
		break;
	}

	if (!has(r, GW_RF_SYSTEM)) {
		if (cid != NULL && cid[0] && strlen(cid) <= 64 &&
		    fx_http1_value_ok(cid, strlen(cid)) && !strpbrk(cid, " \t"))
			snprintf(r->call_id, sizeof(r->call_id), "%s", cid);
		else
			new_call_id(r->call_id);
		snprintf(r->start_time, sizeof(r->start_time), "%llu",
		         (unsigned long long)fx_wall_ns());
	}
	if (gw_cfg.max_body && (x->flags & FX_PXF_LEN_KNOWN) && x->body_len > gw_cfg.max_body)
		return fail(c, r, 413, "request body too large");
	if (!has(r, GW_RF_ALEXA)) {
		rc = build_head(c, r);
		if (rc == -EBADMSG)
			return fail(c, r, 400, "a request header cannot be forwarded");
		if (rc < 0)
			return fail(c, r, 431, "request headers too large");
	}
	r->st = GW_REQ_ROUTED;
	if (r->route.kind == GW_ROUTE_FUNCTION) {
		gw_resolve_function(r, true);
		if (x->err_status != 0 && (x->flags & FX_PXF_ANNOUNCED))
			return fail(c, r, (unsigned)x->err_status, x->err_msg);
	} else if (has(r, GW_RF_SYSTEM)) {
		gw_req_maybe_start(r);
	}
	return MHD_YES;
}

static enum MHD_Result proxy_body(struct MHD_Connection *c, struct gw_req *r, const char *upload,
                                  size_t *upload_size)
{
	struct MHD_Response *resp = NULL;
	enum MHD_Result ret;

	if (*upload_size > 0 && gw_cfg.max_body &&
	    r->x.body_seen + *upload_size > gw_cfg.max_body && r->x.err_status == 0 &&
	    !(r->x.flags & FX_PXF_EARLY)) {
		log_warn("body_too_large", "uri=%.200s", r->uri);
		fx_px_drop_upstream(&r->x);
		return MHD_NO; /* a chunked body past the cap: close the connection */
	}
	switch (fx_px_upload(&r->x, upload, upload_size, &resp)) {
	case FX_PX_MORE:
		return MHD_YES;
	case FX_PX_ABORT:
		return MHD_NO;
	case FX_PX_ERROR:
		return fail(c, r, (unsigned)r->x.err_status, r->x.err_msg);
	case FX_PX_ANSWER:
		r->status = r->x.status;
		ret = MHD_queue_response(c, (unsigned)r->x.status, resp);
		MHD_destroy_response(resp);
		return ret;
	}
	return MHD_NO;
}

int gw_proxy_dispatch(struct MHD_Connection *c, struct gw_req *r, const char *method,
                      const char *upload, size_t *upload_size)
{
	if (r->st == GW_REQ_NEW)
		return req_first(c, r, method);
	if (r->st == GW_REQ_LOCAL_DUE) {
		/* libmicrohttpd keeps the connection open only for an answer queued
		 * once the whole request is in: the final call answers. */
		if (*upload_size > 0) {
			*upload_size = 0;
			return MHD_YES;
		}
		r->st = GW_REQ_LOCAL;
		return gw_serve_local(c, &r->route, r->method);
	}
	if (r->st == GW_REQ_LOCAL) { /* answered: what the client still sends is dropped */
		*upload_size = 0;
		return MHD_YES;
	}
	return proxy_body(c, r, upload, upload_size);
}
