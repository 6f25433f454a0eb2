/* cb_sink: records the callbacks of asynchronous calls, for the integration
 * tests, e2e and bench. libmicrohttpd, one thread.
 *   cb_sink OUTFILE [FAIL_FIRST]
 * Listens on 127.0.0.1, port 0 (or $CB_PORT; CB_BIND for the address), and logs
 * "msg=listening addr=HOST:PORT" on stderr. Every POST appends one line to
 * OUTFILE (flushed):
 *   <X-Call-Id> <X-Function-Status> <dead 0|1> <received, ns since the epoch> <body bytes> <body,
 * at most 4096 bytes, spaces and controls as '_'> The first FAIL_FIRST callbacks are answered 503
 * (and not recorded), the rest 200. Bodies over 1 MiB are cut. */
#include <microhttpd.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct req {
	char body[4097];
	size_t len;
};

static FILE *out;
static long fail_first;

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
	struct req *r = *con_cls;
	struct MHD_Response *resp;
	enum MHD_Result ret;
	unsigned status = 200;
	(void)cls;
	(void)url;
	(void)version;
	(void)method;

	if (!r) {
		r = calloc(1, sizeof(*r));
		if (!r)
			return MHD_NO;
		*con_cls = r;
		return MHD_YES;
	}
	if (*upload_size) {
		for (size_t i = 0; i < *upload_size && r->len < 4096; i++) {
			char ch = upload[i];
			r->body[r->len++] = (ch <= ' ' || ch > '~') ? '_' : ch;
		}
		*upload_size = 0;
		return MHD_YES;
	}
	if (fail_first > 0) {
		fail_first--;
		status = 503;
	} else {
		const char *id = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Call-Id");
		const char *st =
		    MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Function-Status");
		const char *dead =
		    MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Faas-Dead-Letter");
		const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		r->body[r->len] = '\0';
		fprintf(out, "%s %s %d %lld%09ld %s %s\n", id ? id : "-", st ? st : "-",
		        dead && strcmp(dead, "true") == 0, (long long)ts.tv_sec, ts.tv_nsec,
		        cl ? cl : "0", r->len ? r->body : "-");
		fflush(out);
	}
	resp =
	    MHD_create_response_from_buffer(3, (void *)(uintptr_t) "ok\n", MHD_RESPMEM_PERSISTENT);
	if (!resp)
		return MHD_NO;
	ret = MHD_queue_response(c, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static void on_done(void *cls, struct MHD_Connection *c, void **con_cls,
                    enum MHD_RequestTerminationCode code)
{
	(void)cls;
	(void)c;
	(void)code;
	free(*con_cls);
	*con_cls = NULL;
}

int main(int argc, char **argv)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	const char *port = getenv("CB_PORT"), *bind = getenv("CB_BIND");
	struct MHD_Daemon *d;
	const union MHD_DaemonInfo *info;
	sigset_t set;
	int sig;

	if (argc < 2) {
		fprintf(stderr, "usage: cb_sink OUTFILE [FAIL_FIRST]\n");
		return 2;
	}
	out = fopen(argv[1], "ae");
	if (!out)
		return 1;
	fail_first = argc > 2 ? strtol(argv[2], NULL, 10) : 0;
	sa.sin_port = htons((uint16_t)(port ? strtol(port, NULL, 10) : 0));
	if (inet_pton(AF_INET, bind ? bind : "127.0.0.1", &sa.sin_addr) != 1)
		return 2;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL, 0, NULL, NULL,
	                     on_request, NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
	                     MHD_OPTION_NOTIFY_COMPLETED, on_done, NULL,
	                     MHD_OPTION_CONNECTION_LIMIT, 1000U, MHD_OPTION_END);
	if (!d)
		return 1;
	info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	fprintf(stderr, "msg=listening addr=%s:%u\n", bind ? bind : "127.0.0.1",
	        info ? info->port : 0);
	while (sigwait(&set, &sig) != 0)
		;
	MHD_stop_daemon(d);
	fclose(out);
	return 0;
}
