/* gateway_upstream: the smallest useful function process for the gateway
 * benchmark: an HTTP server on 127.0.0.1:$port (env, default 8081) that answers
 * every request with 200 "hello\n", keep-alive. fwatchdog runs it in http mode. */
#include "log.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct MHD_Response *hello;

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
	(void)cls;
	(void)url;
	(void)method;
	(void)version;
	(void)upload;
	if (!*con_cls) {
		*con_cls = (void *)1;
		return MHD_YES;
	}
	if (*upload_size) {
		*upload_size = 0;
		return MHD_YES;
	}
	return MHD_queue_response(c, 200, hello);
}

int main(void)
{
	const char *p = getenv("port");
	sigset_t set;
	int sig;
	struct MHD_Daemon *d;
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};

	fx_log_init("gateway-upstream", FX_LOG_INFO);
	sa.sin_port = htons((uint16_t)(p ? strtol(p, NULL, 10) : 8081));
	hello = MHD_create_response_from_buffer(6, (void *)(uintptr_t) "hello\n",
	                                        MHD_RESPMEM_PERSISTENT);
	MHD_add_response_header(hello, "Content-Type", "text/plain");
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL, 0, NULL, NULL,
	                     on_request, NULL, MHD_OPTION_SOCK_ADDR, &sa,
	                     MHD_OPTION_CONNECTION_TIMEOUT, 60u, MHD_OPTION_THREAD_POOL_SIZE, 2u,
	                     MHD_OPTION_END);
	if (!d)
		return 1;
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	log_info("ready", "addr=127.0.0.1:%u", info ? info->port : 0);
	sigwait(&set, &sig);
	MHD_stop_daemon(d);
	return 0;
}
