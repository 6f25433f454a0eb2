/* server.c: the libmicrohttpd daemon (one thread per client connection, small
 * stacks), request dispatch, and the gateway's own routes (/healthz, /metrics, /ui/). */
#include "gateway.h"

#include "log.h"

#include <errno.h>
#include <microhttpd.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

volatile int gw_draining;
static atomic_int active;

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
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	ret = MHD_queue_response(c, 200, resp);
	MHD_destroy_response(resp);
	return ret;
}

int gw_serve_local(struct MHD_Connection *c, const struct gw_route *rt, const char *method)
{
	bool get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
	struct MHD_Response *resp;
	int ret;

	if (!get)
		return gw_respond_error(c, 405, "method not allowed");
	switch (rt->kind) {
	case GW_ROUTE_HEALTHZ:
		if (gw_draining)
			return gw_respond(c, 503, "text/plain", "draining\n", 9);
		return gw_respond(c, 200, "text/plain", "ok\n", 3);
	case GW_ROUTE_METRICS:
		return serve_metrics(c);
	case GW_ROUTE_UI:
		return serve_ui(c, rt);
	case GW_ROUTE_UI_REDIRECT:
		resp = MHD_create_response_from_buffer(0, (void *)(uintptr_t) "",
		                                       MHD_RESPMEM_PERSISTENT);
		if (!resp)
			return MHD_NO;
		MHD_add_response_header(resp, "Location", "/ui/");
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

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *c)
{
	(void)c;
	atomic_fetch_add(&active, 1);
	if (gw_async_uri(uri)) {
		struct gw_async *a = gw_async_new(cls, uri);
		return a ? (void *)((uintptr_t)a | ASYNC_TAG) : NULL;
	}
	return gw_req_new(cls, uri); /* NULL on ENOMEM: on_request answers 503 */
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
		if (*p == '"')
			*p = '\'';
	log_debug("http", "detail=\"%s\"", msg);
}

struct MHD_Daemon *gw_server_start(struct gw_loop *l, int listen_fd, int nloops)
{
	unsigned flags =
	    MHD_USE_EPOLL | MHD_USE_TURBO | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
	unsigned timeout_s = (unsigned)((gw_cfg.client_timeout_ms + 999) / 1000);
	unsigned limit = (unsigned)((gw_cfg.max_connections + nloops - 1) / nloops);

	return MHD_start_daemon(
	    flags, 0, NULL, NULL, on_request, NULL, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
	    MHD_OPTION_LISTEN_SOCKET, listen_fd, MHD_OPTION_CONNECTION_TIMEOUT, timeout_s,
	    MHD_OPTION_CONNECTION_LIMIT, limit, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
	    (size_t)gw_cfg.max_header_size, MHD_OPTION_URI_LOG_CALLBACK, on_uri, (void *)l,
	    MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL, MHD_OPTION_END);
}

int gw_server_active(void)
{
	return atomic_load(&active);
}
