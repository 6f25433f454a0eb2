/* http.c: GET /metrics and GET /healthz (200 while connected to NATS). */
#include "worker.h"

#include "jsq.h"
#include "log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static struct MHD_Daemon *d;

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *ctype,
                             const char *body, size_t len)
{
	struct MHD_Response *r =
	    MHD_create_response_from_buffer(len, (void *)(uintptr_t)body, MHD_RESPMEM_MUST_COPY);
	enum MHD_Result ret;
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, "Content-Type", ctype);
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
	(void)cls;
	(void)version;
	(void)upload;
	(void)con_cls;
	if (*upload_size) {
		*upload_size = 0;
		return MHD_YES;
	}
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
		return reply(c, 405, "application/json", "{\"error\":\"method not allowed\"}\n",
		             31);
	if (strcmp(url, "/healthz") == 0) {
		if (fx_jsq_connected(qw_nc))
			return reply(c, 200, "text/plain", "ok\n", 3);
		return reply(c, 503, "text/plain", "nats unavailable\n", 17);
	}
	if (strcmp(url, "/metrics") == 0) {
		struct fx_buf out;
		enum MHD_Result ret;
		fx_buf_init(&out, 16u << 20);
		if (qw_metrics_format(&out) < 0) {
			fx_buf_release(&out);
			return reply(c, 503, "application/json", "{\"error\":\"out of memory\"}\n",
			             26);
		}
		ret = reply(c, 200, "text/plain; version=0.0.4; charset=utf-8",
		            out.data ? out.data : "", out.len);
		fx_buf_release(&out);
		return ret;
	}
	return reply(c, 404, "application/json", "{\"error\":\"not found\"}\n", 22);
}

int qw_http_start(void)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)qw_cfg.port)};
	const union MHD_DaemonInfo *info;
	char addr[64];

	if (inet_pton(AF_INET, qw_cfg.bind, &sa.sin_addr) != 1) {
		log_error("bad_setting", "setting=bind value=\"%s\" err=\"not an IPv4 address\"",
		          qw_cfg.bind);
		return -EINVAL;
	}
	d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL, 0, NULL, NULL,
	                     on_request, NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
	                     MHD_OPTION_CONNECTION_LIMIT, 64U, MHD_OPTION_CONNECTION_TIMEOUT, 30U,
	                     MHD_OPTION_END);
	if (!d)
		return -EADDRINUSE;
	info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	snprintf(addr, sizeof(addr), "%s:%u", qw_cfg.bind, info ? info->port : 0);
	log_info("listening", "addr=%s nats=%s gateway=%s concurrency=%lld", addr, qw_cfg.nats_url,
	         qw_cfg.gateway_url, (long long)qw_cfg.concurrency);
	return 0;
}

void qw_http_stop(void)
{
	if (d)
		MHD_stop_daemon(d);
	d = NULL;
}
