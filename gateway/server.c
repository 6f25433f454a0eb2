/* server.c: the gateway's libmicrohttpd daemons (their options, in the one
 * place gw_daemon_conf, run by common/loop.c's event loops), request
 * dispatch, the security headers of its own answers, and its own routes
 * (/healthz, /metrics, /ui/). */
#include "gateway.h"

#include "clock.h"

#include "log.h"

#include <errno.h>
#include <microhttpd.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

volatile int gw_draining;
static atomic_int active;
static atomic_uint_fast64_t completed;

int gw_respond(struct MHD_Connection *c, unsigned status, const char *ctype, const char *body,
               size_t len)
{
	struct MHD_Response *resp =
	    MHD_create_response_from_buffer(len, (void *)(uintptr_t)body, MHD_RESPMEM_MUST_COPY);
	enum MHD_Result ret;
	if (!resp)
		return MHD_NO;
	if (ctype)
		MHD_add_response_header(resp, "Content-Type", ctype);
	ret = MHD_queue_response(c, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

int gw_respond_error(struct MHD_Connection *c, unsigned status, const char *fmt, ...)
{
	char msg[256], body[320];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	int n = snprintf(body, sizeof(body), "{\"error\":\"%s\"}\n", msg);
	return gw_respond(c, status, "application/json", body, (size_t)n);
}

struct mctx {
	struct fx_buf *out;
	int part;
};

static void metrics_one(struct gw_fn *f, void *arg)
{
	struct mctx *m = arg;
	gw_metrics_format(f->metrics, f->name, f->replicas, m->out, m->part);
}

static int serve_metrics(struct MHD_Connection *c)
{
	struct fx_buf out;
	int ret;

	fx_buf_init(&out, 64u << 20);
	for (int p = 0; p < GW_METRIC_PARTS; p++) {
		struct mctx m = {&out, p};
		gw_metrics_header(p, &out);
		gw_registry_each(metrics_one, &m);
	}
	gw_async_metrics(&out);
	ret = gw_respond(c, 200, "text/plain; version=0.0.4; charset=utf-8",
	                 out.data ? out.data : "", out.len);
	fx_buf_release(&out);
	return ret;
}

struct concurrency {
	struct fx_buf out;
	int64_t now_us;
};

static void concurrency_one(struct gw_fn *f, void *arg)
{
	struct concurrency *cc = arg;
	/* Names are DNS-1123 labels: nothing to escape. */
	fx_buf_appendf(&cc->out,
	               "%s{\"name\":\"%s\",\"inflight\":%lld,\"inflight_us\":%llu,"
	               "\"requests\":%llu,\"routed\":%zu}",
	               cc->out.data[cc->out.len - 1] == '[' ? "" : ",", f->name,
	               (long long)gw_fn_inflight(f),
	               (unsigned long long)gw_fn_inflight_us(f, cc->now_us),
	               (unsigned long long)gw_metrics_total(f->metrics), gw_fn_routed(f));
}

/* {"time_us":T,"functions":[{"name","inflight","inflight_us","requests",
 * "routed"}...]} for the controller's autoscaler: per function the requests
 * in progress now, that count integrated over time (request-microseconds:
 * two readings give the average concurrency between them, T being this
 * gateway's clock), the requests completed since start, and how many
 * replicas take its requests here. */
static int serve_concurrency(struct MHD_Connection *c)
{
	struct concurrency cc = {.now_us = fx_now_us()};
	struct fx_buf out;
	int ret;

	fx_buf_init(&cc.out, 16u << 20);
	fx_buf_appendf(&cc.out, "{\"time_us\":%lld,\"functions\":[", (long long)cc.now_us);
	gw_registry_each(concurrency_one, &cc);
	out = cc.out;
	if (fx_buf_puts(&out, "]}\n") < 0) {
		fx_buf_release(&out);
		return gw_respond_error(c, 503, "out of memory");
	}
	ret = gw_respond(c, 200, "application/json", out.data, out.len);
	fx_buf_release(&out);
	return ret;
}

static int serve_ui(struct MHD_Connection *c, const struct gw_route *rt)
{
	const struct gw_asset *a = gw_ui_find(rt->ui_path, rt->ui_path_len);
	struct MHD_Response *resp;
	int ret;

	if (!a)
		return gw_respond_error(c, 404, "not found");
	resp = MHD_create_response_from_buffer(a->len, (void *)(uintptr_t)a->data,
	                                       MHD_RESPMEM_PERSISTENT);
	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, "Content-Type", gw_mime_type(a->name));
	MHD_add_response_header(resp, "Cache-Control", "no-cache");
	gw_secure_headers(resp, true);
	ret = MHD_queue_response(c, 200, resp);
	MHD_destroy_response(resp);
	return ret;
}

static int serve_history(struct MHD_Connection *c, const struct gw_route *rt)
{
	struct gw_fn *f = gw_registry_lookup(rt->name, NULL);
	struct MHD_Response *resp;
	struct fx_buf out;
	int ret;

	if (!f)
		return gw_respond_error(c, 404, "function not found");
	fx_buf_init(&out, 1u << 20);
	if (gw_history_json(f, &out) < 0) {
		fx_buf_release(&out);
		return gw_respond_error(c, 503, "out of memory");
	}
	resp = MHD_create_response_from_buffer(out.len, out.data, MHD_RESPMEM_MUST_COPY);
	fx_buf_release(&out);
	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, "Content-Type", "application/json");
	MHD_add_response_header(resp, "Cache-Control", "no-store");
	gw_secure_headers(resp, false);
	ret = MHD_queue_response(c, 200, resp);
	MHD_destroy_response(resp);
	return ret;
}

/* POST /_/starting/{name}: the controller scaled the function up; its new
 * replicas take requests once probed ready, not a HEALTHCHECK and a DNS
 * answer later. */
static int serve_starting(struct MHD_Connection *c, const struct gw_route *rt)
{
	struct gw_fn *f = gw_registry_lookup(rt->name, NULL);
	if (f == NULL)
		return gw_respond_error(c, 404, "function not in this gateway's registry");
	log_info("replicas_starting", "function=%s", f->name);
	gw_wake_start(f, GW_WAKE_JOIN);
	return gw_respond(c, 202, "application/json", "{}\n", 3);
}

int gw_serve_local(struct MHD_Connection *c, const struct gw_route *rt, const char *method)
{
	bool get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
	struct MHD_Response *resp;
	int ret;

	if (rt->kind == GW_ROUTE_STARTING)
		return strcmp(method, "POST") == 0 ? serve_starting(c, rt)
		                                   : gw_respond_error(c, 405, "method not allowed");
	if (!get)
		return gw_respond_error(c, 405, "method not allowed");
	switch (rt->kind) {
	case GW_ROUTE_HEALTHZ:
		if (gw_draining)
			return gw_respond(c, 503, "text/plain", "draining\n", 9);
		return gw_respond(c, 200, "text/plain", "ok\n", 3);
	case GW_ROUTE_METRICS:
		return serve_metrics(c);
	case GW_ROUTE_CONCURRENCY:
		return serve_concurrency(c);
	case GW_ROUTE_UI:
		return serve_ui(c, rt);
	case GW_ROUTE_HISTORY:
		return serve_history(c, rt);
	case GW_ROUTE_UI_REDIRECT:
		resp = MHD_create_response_from_buffer(0, (void *)(uintptr_t) "",
		                                       MHD_RESPMEM_PERSISTENT);
		if (!resp)
			return MHD_NO;
		MHD_add_response_header(resp, "Location", "/ui/");
		gw_secure_headers(resp, false);
		ret = MHD_queue_response(c, 301, resp);
		MHD_destroy_response(resp);
		return ret;
	default:
		return gw_respond_error(c, 404, "not found");
	}
}

/* A request's context is a struct gw_req (proxy.c), or a struct gw_async
 * (async.c) tagged with the low bit (both come from malloc, so are aligned). */
#define ASYNC_TAG   ((uintptr_t)1)
#define IS_ASYNC(p) (((uintptr_t)(p)&ASYNC_TAG) != 0)
#define AS_ASYNC(p) ((struct gw_async *)((uintptr_t)(p) & ~ASYNC_TAG))

/* The UI's pages load only from the gateway itself; API answers load nothing.
 * Neither may be framed (clickjacking) or sniffed into another type. */
static const char *const secure[][2] = {
    {"X-Frame-Options", "DENY"},
    {"X-Content-Type-Options", "nosniff"},
    {"Referrer-Policy", "same-origin"},
};
#define CSP_UI                                                                                     \
	"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "          \
	"connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "             \
	"frame-ancestors 'none'"
#define CSP_API "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; sandbox"

void gw_secure_headers(struct MHD_Response *resp, bool ui)
{
	MHD_add_response_header(resp, "Content-Security-Policy", ui ? CSP_UI : CSP_API);
	for (size_t i = 0; i < sizeof(secure) / sizeof(secure[0]); i++)
		MHD_add_response_header(resp, secure[i][0], secure[i][1]);
}

bool gw_secure_header(const char *name)
{
	if (strcasecmp(name, "Content-Security-Policy") == 0)
		return true;
	for (size_t i = 0; i < sizeof(secure) / sizeof(secure[0]); i++)
		if (strcasecmp(name, secure[i][0]) == 0)
			return true;
	return false;
}

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *c)
{
	atomic_fetch_add(&active, 1);
	if (gw_async_uri(uri)) {
		struct gw_async *a = gw_async_new(cls, uri);
		return a ? (void *)((uintptr_t)a | ASYNC_TAG) : NULL;
	}
	return gw_req_new(cls, uri, c); /* NULL on ENOMEM: on_request answers 503 */
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode code)
{
	(void)cls;
	(void)c;
	(void)code;
	if (IS_ASYNC(*con_cls))
		gw_async_completed(AS_ASYNC(*con_cls));
	else
		gw_req_completed(*con_cls);
	*con_cls = NULL;
	atomic_fetch_sub(&active, 1);
	atomic_fetch_add(&completed, 1);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
	struct gw_req *r = *con_cls;
	(void)cls;
	(void)url;
	(void)version;

	if (IS_ASYNC(r))
		return (enum MHD_Result)gw_async_dispatch(c, AS_ASYNC(r), method, upload_data,
		                                          upload_data_size);
	if (!r) {
		*upload_data_size = 0;
		return (enum MHD_Result)gw_respond_error(c, 503, "out of memory");
	}
	return (enum MHD_Result)gw_proxy_dispatch(c, r, method, upload_data, upload_data_size);
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[512];
	(void)cls;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	size_t n = strlen(msg);
	while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
		msg[--n] = '\0';
	for (char *p = msg; *p; p++)
		if (*p == '"' || (unsigned char)*p < 0x20)
			*p = '\'';
	log_debug("http", "detail=\"%s\"", msg);
}

/* The gateway's daemon options, the one place to change them: plain HTTP
 * (set 0) and HTTPS (set 1: the same, with TLS through tls.c). */
static struct fx_server_conf gw_daemon_conf, gw_tls_conf;

static struct MHD_Daemon *daemon_for(struct fx_loop *l, int listen_fd, int set, void *arg)
{
	(void)arg;
	return fx_server_daemon(l, listen_fd, set == 0 ? &gw_daemon_conf : &gw_tls_conf);
}

static bool replica_usable(void *peer)
{
	return !gw_replica_down(peer);
}

static void replica_ref(void *peer)
{
	gw_replica_ref(peer);
}

static void replica_unref(void *peer)
{
	gw_replica_release(peer);
}

static struct fx_loop_ops loop_ops = {
    .daemon = daemon_for,
    .peer_ref = replica_ref,
    .peer_unref = replica_unref,
    .peer_usable = replica_usable,
    .pool_max = 1024,
};

int gw_server_start(const int *listen_fds, const int *tls_fds, int n)
{
	/* HTTPS: the certificate comes from tls.c at each handshake (rotation). */
	static struct MHD_OptionItem tls_opts[] = {
	    {MHD_OPTION_HTTPS_PRIORITIES, 0, (void *)(uintptr_t)gw_tls_priorities},
	    {MHD_OPTION_HTTPS_CERT_CALLBACK, 0, NULL},
	    {MHD_OPTION_END, 0, NULL},
	};
	const int *sets[2] = {listen_fds, tls_fds};

	gw_daemon_conf = (struct fx_server_conf){
	    .handler = on_request,
	    .uri_log = on_uri,
	    .completed = on_completed,
	    .log = mhd_log,
	    .idle_timeout_s = (unsigned)((gw_cfg.client_timeout_ms + 999) / 1000),
	    .memory_limit = (size_t)gw_cfg.max_header_size,
	    .connection_limit = (unsigned)((gw_cfg.max_connections + n - 1) / n),
	    .per_ip_limit = (unsigned)gw_cfg.max_connections_per_ip,
	    .head_timeout_ms = gw_cfg.header_timeout_ms,
	};
	gw_tls_conf = gw_daemon_conf;
	tls_opts[1].ptr_value = gw_tls_retrieve();
	gw_tls_conf.extra_flags = MHD_USE_TLS;
	gw_tls_conf.extra = tls_opts;
	gw_tls_conf.started = gw_tls_connection_started;
	loop_ops.pool_per_peer = (unsigned)gw_cfg.pool_size;
	return fx_loops_start(&loop_ops, sets, tls_fds != NULL ? 2 : 1, n);
}

void gw_server_stop(int64_t drain_ms)
{
	int64_t deadline = fx_now_ms() + drain_ms;

	fx_loops_quiesce();
	while (gw_server_active() > 0 && fx_now_ms() < deadline)
		usleep(20 * 1000);
	log_info("stopped", "unfinished=%d head_timeouts=%llu ip_refusals=%llu", gw_server_active(),
	         (unsigned long long)fx_server_head_timeouts(),
	         (unsigned long long)fx_server_ip_refusals());
	fx_loops_stop();
}

int gw_server_active(void)
{
	return atomic_load(&active);
}

uint64_t gw_server_completed(void)
{
	return atomic_load(&completed);
}
