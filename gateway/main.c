/* faas-gateway: one address for every function. See gateway/gateway.h for the map.
 * Exit codes: 0 ok (also after a SIGTERM drain), 1 runtime failure, 2 usage or configuration. */
#include "gateway.h"

#include "clock.h"
#include "conf.h"
#include "file.h"
#include "httpc.h"
#include "log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <microhttpd.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

static const struct fx_setting settings[] = {
    {"port", FX_CONF_INT, "8080", "TCP port to listen on (0: any free port)", &gw_cfg.port, 0,
     65535, 0},
    {"bind", FX_CONF_STRING, "0.0.0.0", "address to listen on", &gw_cfg.bind, 0, 0, 0},
    {"discovery", FX_CONF_STRING, "dns",
     "how replicas are found: dns (tasks.NAME) or static (static_functions)", &gw_cfg.discovery, 0,
     0, 0},
    {"static_functions", FX_CONF_STRING, NULL,
     "static table \"name=host:port,host:port;name2=host:port\"", &gw_cfg.static_functions, 0, 0,
     0},
    {"static_functions_file", FX_CONF_STRING, NULL,
     "file with the static table (one name=host:port,... per line)", &gw_cfg.static_functions_file,
     0, 0, 0},
    {"function_port", FX_CONF_INT, "8080", "port of the watchdog in every replica (dns)",
     &gw_cfg.function_port, 1, 65535, 0},
    {"dns_ttl", FX_CONF_DURATION, "1s", "how long a tasks.NAME answer is used", &gw_cfg.dns_ttl_ms,
     100, 60000, 0},
    {"controller_url", FX_CONF_STRING, "http://controller:8081",
     "the controller (\"\": none; the static table is then the registry)", &gw_cfg.controller_url,
     0, 0, 0},
    {"controller_token_file", FX_CONF_STRING, "/run/secrets/faas-controller-token",
     "bearer token sent to the controller", &gw_cfg.controller_token_file, 0, 0, 0},
    {"registry_interval", FX_CONF_DURATION, "2s", "how often the function list is polled",
     &gw_cfg.registry_interval_ms, 100, 600000, 0},
    {"basic_auth", FX_CONF_BOOL, "true", "require basic auth on /system/*, /apis/*, /ui/",
     &gw_cfg.basic_auth, 0, 0, 0},
    {"basic_auth_user_file", FX_CONF_STRING, "/run/secrets/faas-basic-auth-user",
     "file holding the basic auth user", &gw_cfg.basic_auth_user_file, 0, 0, 0},
    {"basic_auth_password_file", FX_CONF_STRING, "/run/secrets/faas-basic-auth-password",
     "file holding the basic auth password", &gw_cfg.basic_auth_password_file, 0, 0, 0},
    {"upstream_timeout", FX_CONF_DURATION, "60s",
     "wait for a replica's answer (and between its body reads); then 504",
     &gw_cfg.upstream_timeout_ms, 1, 86400000, 0},
    {"connect_timeout", FX_CONF_DURATION, "2s", "connecting to a replica",
     &gw_cfg.connect_timeout_ms, 1, 600000, 0},
    {"client_timeout", FX_CONF_DURATION, "60s", "idle client connections are closed after this",
     &gw_cfg.client_timeout_ms, 1000, 86400000, 0},
    {"max_body", FX_CONF_SIZE, "128Mi", "largest request body (413 above; 0: no limit)",
     &gw_cfg.max_body, 0, INT64_MAX, 0},
    {"max_header_size", FX_CONF_SIZE, "16Ki", "memory for a request's line and headers",
     &gw_cfg.max_header_size, 4096, 1 << 20, 0},
    {"max_connections", FX_CONF_INT, "10000", "concurrent client connections",
     &gw_cfg.max_connections, 1, 1000000, 0},
    {"max_connections_per_ip", FX_CONF_INT, "1024",
     "concurrent client connections from one address (0: no limit)", &gw_cfg.max_connections_per_ip,
     0, 1000000, 0},
    {"header_timeout", FX_CONF_DURATION, "10s",
     "a request's line and headers must arrive within this (after client_timeout of idle "
     "keep-alive)",
     &gw_cfg.header_timeout_ms, 1000, 3600000, 0},
    {"balance", FX_CONF_STRING, "least-inflight", "least-inflight or round-robin", &gw_cfg.balance,
     0, 0, 0},
    {"pool_size", FX_CONF_INT, "64", "idle keep-alive connections kept per replica",
     &gw_cfg.pool_size, 0, 64, 0},
    {"scale_from_zero_timeout", FX_CONF_DURATION, "30s",
     "how long a request waits for a function scaled to zero", &gw_cfg.scale_timeout_ms, 0, 3600000,
     0},
    {"start_timeout", FX_CONF_DURATION, "10s",
     "how long a request waits for a starting function's first ready replica",
     &gw_cfg.start_timeout_ms, 0, 3600000, 0},
    {"drain_timeout", FX_CONF_DURATION, "30s", "on SIGTERM, wait this long for requests",
     &gw_cfg.drain_timeout_ms, 0, 3600000, 0},
    {"workers", FX_CONF_INT, "0", "event loop threads (0: one per CPU)", &gw_cfg.workers, 0, 64, 0},
    {"nats_url", FX_CONF_STRING, "",
     "NATS server(s) with JetStream for /async-function/ (\"\": asynchronous calls off)",
     &gw_cfg.nats_url, 0, 0, 0},
    {"async_max_body", FX_CONF_SIZE, "4Mi",
     "largest asynchronous request body (413 above; also bounded by NATS max_payload)",
     &gw_cfg.async_max_body, 1, 64 << 20, 0},
    {"async_publishers", FX_CONF_INT, "4", "threads that store asynchronous calls in NATS",
     &gw_cfg.async_publishers, 1, 64, 0},
    {"async_queue", FX_CONF_INT, "4096", "asynchronous calls waiting for a publisher (503 above)",
     &gw_cfg.async_queue, 1, 1000000, 0},
    {"async_publish_timeout", FX_CONF_DURATION, "5s",
     "wait for NATS to acknowledge a publish; then 503", &gw_cfg.async_publish_timeout_ms, 100,
     60000, 0},
    {"log_level", FX_CONF_STRING, "info", "debug, info, warn or error", &gw_cfg.log_level, 0, 0, 0},
    {"tls", FX_CONF_STRING, "auto",
     "HTTPS on tls_port: auto (when the certificate and key files exist), on, off", &gw_cfg.tls, 0,
     0, 0},
    {"tls_port", FX_CONF_INT, "8443", "HTTPS port (0: any free port)", &gw_cfg.tls_port, 0, 65535,
     0},
    {"tls_cert_file", FX_CONF_STRING, "/run/secrets/faas-tls-cert",
     "PEM certificate chain (reloaded when it changes)", &gw_cfg.tls_cert_file, 0, 0, 0},
    {"tls_key_file", FX_CONF_STRING, "/run/secrets/faas-tls-key",
     "PEM private key of the certificate", &gw_cfg.tls_key_file, 0, 0, 0},
    {"https_only", FX_CONF_BOOL, "false",
     "the API and the UI over HTTPS only (plain requests to them are redirected)",
     &gw_cfg.https_only, 0, 0, 0},
};
#define NSETTINGS (sizeof(settings) / sizeof(settings[0]))

/* http://host[:port][/] */
static int parse_controller_url(const char *url)
{
	const char *h, *end, *colon;
	size_t hl;

	if (!url[0])
		return 0;
	if (strncmp(url, "http://", 7) != 0)
		return -EINVAL;
	h = url + 7;
	end = h + strcspn(h, "/");
	if (*end && strcmp(end, "/") != 0)
		return -EINVAL;
	colon = memchr(h, ':', (size_t)(end - h));
	hl = (size_t)((colon ? colon : end) - h);
	if (hl == 0 || hl >= sizeof(gw_cfg.controller_host))
		return -EINVAL;
	memcpy(gw_cfg.controller_host, h, hl);
	gw_cfg.controller_host[hl] = '\0';
	gw_cfg.controller_port = 80;
	if (colon) {
		char *e;
		long p = strtol(colon + 1, &e, 10);
		if (e != end || p <= 0 || p > 65535)
			return -EINVAL;
		gw_cfg.controller_port = (int)p;
	}
	snprintf(gw_cfg.controller_hostport, sizeof(gw_cfg.controller_hostport), "%.*s",
	         (int)(end - h), h);
	return 0;
}

static int configure(void)
{
	enum fx_log_level lvl;

	if (fx_log_parse_level(gw_cfg.log_level, &lvl) < 0) {
		fprintf(stderr, "faas-gateway: log_level: expected debug, info, warn or error\n");
		return -EINVAL;
	}
	fx_log_set_level(lvl);
	if (strcmp(gw_cfg.discovery, "static") == 0) {
		gw_cfg.static_discovery = true;
	} else if (strcmp(gw_cfg.discovery, "dns") != 0) {
		fprintf(stderr, "faas-gateway: discovery: expected dns or static\n");
		return -EINVAL;
	}
	if (strcmp(gw_cfg.balance, "least-inflight") == 0) {
		gw_cfg.least_inflight = true;
	} else if (strcmp(gw_cfg.balance, "round-robin") != 0) {
		fprintf(stderr, "faas-gateway: balance: expected least-inflight or round-robin\n");
		return -EINVAL;
	}
	if (gw_cfg.static_functions_file) {
		gw_cfg.static_text = fx_read_file(gw_cfg.static_functions_file, 1u << 20, NULL);
		if (!gw_cfg.static_text) {
			fprintf(stderr, "faas-gateway: static_functions_file: cannot read %s: %s\n",
			        gw_cfg.static_functions_file, strerror(errno));
			return -EINVAL;
		}
	} else if (gw_cfg.static_functions) {
		gw_cfg.static_text = strdup(gw_cfg.static_functions);
	}
	if (gw_cfg.static_discovery && !gw_cfg.static_text) {
		fprintf(stderr, "faas-gateway: discovery=static needs static_functions or "
		                "static_functions_file\n");
		return -EINVAL;
	}
	if (parse_controller_url(gw_cfg.controller_url) < 0) {
		fprintf(stderr,
		        "faas-gateway: controller_url: expected http://host[:port] or \"\"\n");
		return -EINVAL;
	}
	if (!gw_cfg.controller_host[0] && !gw_cfg.static_discovery) {
		fprintf(stderr, "faas-gateway: without a controller, discovery must be static\n");
		return -EINVAL;
	}
	gw_cfg.token = fx_read_secret(gw_cfg.controller_token_file);
	if (gw_cfg.controller_host[0] && !gw_cfg.token)
		log_warn("no_controller_token", "file=%s", gw_cfg.controller_token_file);
	if (gw_cfg.basic_auth) {
		gw_cfg.auth_user = fx_read_secret(gw_cfg.basic_auth_user_file);
		gw_cfg.auth_password = fx_read_secret(gw_cfg.basic_auth_password_file);
		if (!gw_cfg.auth_user || !gw_cfg.auth_password || !gw_cfg.auth_user[0]) {
			fprintf(stderr,
			        "faas-gateway: basic_auth is on but %s or %s cannot be read "
			        "(set basic_auth=false to turn it off)\n",
			        gw_cfg.basic_auth_user_file, gw_cfg.basic_auth_password_file);
			return -EINVAL;
		}
	}
	return 0;
}

/* Waits for a signal in set. Meanwhile, every GW_HISTORY_STEP_S the
 * functions' history is sampled (history.c), and once a second: when requests were
 * served since the last look and none is in progress now, the heap is
 * trimmed, so the memory a burst of connections took (libmicrohttpd's
 * per-connection pools, answer buffers, in two malloc arenas) goes back to
 * the system and RSS returns to its idle figure. */
static int wait_signal(const sigset_t *set)
{
	const struct timespec second = {1, 0};
	uint64_t seen = gw_server_completed();
	bool dirty = false;
	int64_t next_sample = fx_now_ms();

	for (;;) {
		int sig = sigtimedwait(set, NULL, &second);
		if (sig > 0)
			return sig;
		int64_t now = fx_now_ms();
		if (now >= next_sample) {
			gw_history_sample(now);
			next_sample = now + GW_HISTORY_STEP_S * 1000;
		}
		gw_tls_check(now);
		uint64_t done = gw_server_completed();
		if (done != seen) {
			seen = done;
			dirty = true;
		} else if (dirty && gw_server_active() == 0) {
			dirty = false;
			malloc_trim(0);
		}
	}
}

/* n listening sockets sharing one port (port 0: any; all take the first's).
 * 0, or the exit code after logging the failure. */
static int listen_all(int64_t port, int *fds, int n, char *addr, size_t addrlen)
{
	for (int i = 0; i < n; i++) {
		int fd = fx_listen(gw_cfg.bind, (int)port, addr, addrlen);
		if (fd == -EINVAL)
			fprintf(stderr, "faas-gateway: bind: not an IP address: %s\n", gw_cfg.bind);
		if (fd < 0) {
			if (fd != -EINVAL)
				fx_log_errno(FX_LOG_ERROR, fd, "listen_failed", "bind=%s port=%lld",
				             gw_cfg.bind, (long long)port);
			return fd == -EINVAL ? 2 : 1;
		}
		fds[i] = fd;
		port = strtol(strrchr(addr, ':') + 1, NULL, 10); /* the others share the port */
	}
	return 0;
}

int main(int argc, char **argv)
{
	char *err = NULL, addr[80];
	struct rlimit rl;
	sigset_t set;
	int sig, rc;

	/* A thread per connection: without a cap glibc makes an arena per thread
	 * (up to 8 per core), each keeping freed memory resident. */
	mallopt(M_ARENA_MAX, 2);
	fx_log_init("faas-gateway", FX_LOG_INFO);
	rc = fx_conf_load(settings, NSETTINGS, argc, argv, NULL, &err);
	if (rc == 1) {
		printf("faas-gateway: routes requests to function replicas; settings "
		       "(environment variable or --flag):\n");
		fx_conf_help(settings, NSETTINGS, stdout);
		return 0;
	}
	if (rc < 0) {
		fprintf(stderr, "faas-gateway: %s\n", err ? err : "invalid settings");
		free(err);
		return 2;
	}
	if (configure() < 0)
		return 2;
	if (gw_tls_init(&err) < 0) {
		fprintf(stderr, "faas-gateway: %s\n", err ? err : "tls: cannot start");
		free(err);
		return 2;
	}
	if (gw_cfg.https_only && !gw_tls_enabled()) {
		fprintf(stderr, "faas-gateway: https_only needs HTTPS: tls=on (or auto) with "
		                "tls_cert_file and tls_key_file\n");
		return 2;
	}
	/* Two sockets per client connection (client and replica). */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	/* libcurl (common/httpc.c, the calls to the controller) is set up once,
	 * before any thread starts. */
	if (fx_http_global_init() < 0) {
		fprintf(stderr, "faas-gateway: cannot initialise libcurl\n");
		return 1;
	}
	/* Signals are taken by the main thread only (sigwait). */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &set, NULL);

	if (gw_registry_start(&err) < 0) {
		fprintf(stderr, "faas-gateway: %s\n", err ? err : "registry start failed");
		free(err);
		return 2;
	}
	if (gw_async_start(&err) < 0) {
		fprintf(stderr, "faas-gateway: %s\n", err ? err : "nats setup failed");
		free(err);
		return 2;
	}
	int nw = (int)gw_cfg.workers;
	if (nw <= 0) {
		long c = sysconf(_SC_NPROCESSORS_ONLN);
		nw = c > 0 ? (int)(c > 16 ? 16 : c) : 1;
	}
	int fds[64], tls_fds[64];
	char tls_addr[80] = "";
	if ((rc = listen_all(gw_cfg.port, fds, nw, addr, sizeof(addr))) != 0)
		return rc;
	if (gw_tls_enabled()) {
		if ((rc = listen_all(gw_cfg.tls_port, tls_fds, nw, tls_addr, sizeof(tls_addr))) !=
		    0)
			return rc;
		gw_cfg.tls_port_bound = (int)strtol(strrchr(tls_addr, ':') + 1, NULL, 10);
	}
	rc = gw_server_start(fds, gw_tls_enabled() ? tls_fds : NULL, nw);
	if (rc < 0) {
		fx_log_errno(FX_LOG_ERROR, rc, "listen_failed",
		             "reason=\"event loops did not start\"");
		return 1;
	}
	log_info("listening", "addr=%s discovery=%s controller=%s workers=%d", addr,
	         gw_cfg.discovery, gw_cfg.controller_url[0] ? gw_cfg.controller_url : "none", nw);
	if (gw_tls_enabled())
		log_info("listening_tls", "addr=%s https_only=%s", tls_addr,
		         gw_cfg.https_only ? "true" : "false");

	sigdelset(&set, SIGPIPE);
	sig = wait_signal(&set);

	/* Drain: stop accepting, let requests in progress finish (bounded). */
	gw_draining = 1;
	log_info("draining", "signal=%d active=%d", sig, gw_server_active());
	gw_async_stop();
	gw_server_stop(gw_cfg.drain_timeout_ms);
	gw_async_release();
	gw_registry_stop();
	return 0;
}
