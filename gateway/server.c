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

static int serve_history(struct MHD_Connection *c, const struct gw_route *rt)
{
	struct gw_fn *f = gw_registry_lookup(rt->name, NULL);
	struct fx_buf out;
	int ret;

	if (!f)
		return gw_respond_error(c, 404, "function not found");
	fx_buf_init(&out, 1u << 20);
	if (gw_history_json(f, &out) < 0) {
		fx_buf_release(&out);
		return gw_respond_error(c, 503, "out of memory");
	}
	ret = gw_respond(c, 200, "application/json", out.data, out.len);
	fx_buf_release(&out);
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
	case GW_ROUTE_HISTORY:
		return serve_history(c, rt);
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

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *c)
{
	(void)c;
	atomic_fetch_add(&active, 1);
	return gw_req_new(cls, uri); /* NULL on ENOMEM: on_request answers 503 */
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode code)
{
	(void)cls;
	(void)c;
	(void)code;
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

static void on_tls_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                              enum MHD_ConnectionNotificationCode code)
{
	(void)cls;
	(void)socket_context;
	if (code == MHD_CONNECTION_NOTIFY_STARTED)
		gw_tls_connection_started(c);
}

struct MHD_Daemon *gw_server_start(struct gw_loop *l, int listen_fd, int nloops, bool tls)
{
	unsigned flags =
	    MHD_USE_EPOLL | MHD_USE_TURBO | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
	unsigned timeout_s = (unsigned)((gw_cfg.client_timeout_ms + 999) / 1000);
	unsigned limit = (unsigned)((gw_cfg.max_connections + nloops - 1) / nloops);
	/* HTTPS: the certificate comes from tls.c at each handshake (rotation). */
	struct MHD_OptionItem tls_opts[] = {
	    {MHD_OPTION_HTTPS_PRIORITIES, 0, (void *)(uintptr_t)gw_tls_priorities},
	    {MHD_OPTION_HTTPS_CERT_CALLBACK, 0, gw_tls_retrieve()},
	    {MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)(uintptr_t)on_tls_connection, NULL},
	    {MHD_OPTION_END, 0, NULL},
	};
	struct MHD_OptionItem none[] = {{MHD_OPTION_END, 0, NULL}};

	return MHD_start_daemon(
	    flags | (tls ? MHD_USE_TLS : 0), 0, NULL, NULL, on_request, NULL,
	    MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL, MHD_OPTION_LISTEN_SOCKET, listen_fd,
	    MHD_OPTION_CONNECTION_TIMEOUT, timeout_s, MHD_OPTION_CONNECTION_LIMIT, limit,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)gw_cfg.max_header_size,
	    MHD_OPTION_URI_LOG_CALLBACK, on_uri, (void *)l, MHD_OPTION_NOTIFY_COMPLETED,
	    on_completed, NULL, MHD_OPTION_ARRAY, tls ? tls_opts : none, MHD_OPTION_END);
}

int gw_server_active(void)
{
	return atomic_load(&active);
}

uint64_t gw_server_completed(void)
{
	return atomic_load(&completed);
}
