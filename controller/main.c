/* faas-controller: reconciles YAML function definitions into Docker Swarm
 * services and scales them from Alertmanager alerts.
 * Exit codes: 0 stopped by a signal, 1 runtime failure, 2 usage or config error. */
#include "controller.h"

#include "conf.h"
#include "file.h"
#include "httpc.h"
#include "log.h"

#include <errno.h>
#include <malloc.h>
#include <microhttpd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *bind_addr, *token_file, *network, *namespace_, *docker_host, *log_level;
static const char *gateway_urls, *gateway_dns;
static int64_t port, workers, resync_ms, backoff_min_ms, backoff_max_ms, idle_window_ms;
static int64_t gateway_port, autoscale_interval_ms, autoscale_timeout_ms;
static uint64_t max_body;

static const struct fx_setting settings[] = {
    {"port", FX_CONF_INT, "8081", "HTTP port of the API (0: any free port)", &port, 0, 65535, 0},
    {"bind", FX_CONF_STRING, "0.0.0.0", "IPv4 address the API listens on", &bind_addr, 0, 0, 0},
    {"token_file", FX_CONF_STRING, "/run/secrets/faas-controller-token",
     "file holding the bearer token that mutating routes require", &token_file, 0, 0, 0},
    {"network", FX_CONF_STRING, "func_net",
     "overlay network of the functions (created when missing)", &network, 0, 0, 0},
    {"namespace", FX_CONF_STRING, "openfaas-fn",
     "the name OpenFaaS clients use for this install's functions (GET /system/namespaces, "
     "?namespace=, /function/NAME.NAMESPACE); a DNS-1123 label",
     &namespace_, 0, 0, 0},
    {"docker_host", FX_CONF_STRING, NULL,
     "Docker engine (unix:///path or tcp://host:port); default $DOCKER_HOST, then "
     "unix:///var/run/docker.sock",
     &docker_host, 0, 0, 0},
    {"workers", FX_CONF_INT, "4", "reconcile workers (keys reconciled in parallel)", &workers, 1,
     64, 0},
    {"resync", FX_CONF_DURATION, "30s", "period of the full resync", &resync_ms, 1000, 86400000, 0},
    {"backoff_min", FX_CONF_DURATION, "100ms", "first retry delay of a failing function",
     &backoff_min_ms, 1, 3600000, 0},
    {"backoff_max", FX_CONF_DURATION, "60s", "longest retry delay of a failing function",
     &backoff_max_ms, 1, 86400000, 0},
    {"max_body", FX_CONF_SIZE, "1Mi", "largest request body accepted", &max_body, 1024, 64 << 20,
     0},
    {"idle_window", FX_CONF_DURATION, "5m",
     "the FunctionIdle rule's window (alerts/rules/idle.yml, FAAS_IDLE_WINDOW): the platform's "
     "idle time before scale to zero; a function's scale.zeroDuration may ask for longer",
     &idle_window_ms, 1000, 86400000, 0},
    {"gateway_dns", FX_CONF_STRING, "tasks.gateway",
     "name whose every A record is one gateway replica the autoscaler polls", &gateway_dns, 0, 0,
     0},
    {"gateway_port", FX_CONF_INT, "8080", "the gateways' port (with gateway_dns)", &gateway_port, 1,
     65535, 0},
    {"gateway_urls", FX_CONF_STRING, "",
     "comma-separated gateway base URLs (http://host:port) polled instead of gateway_dns",
     &gateway_urls, 0, 0, 0},
    {"autoscale_interval", FX_CONF_DURATION, "1s", "period of the autoscaler's poll and decision",
     &autoscale_interval_ms, 100, 60000, 0},
    {"autoscale_timeout", FX_CONF_DURATION, "300ms",
     "time a gateway has to answer one poll (a silent one is skipped and logged)",
     &autoscale_timeout_ms, 10, 10000, 0},
    {"log_level", FX_CONF_STRING, "info", "debug, info, warn or error", &log_level, 0, 0, 0},
};
#define NSETTINGS (sizeof(settings) / sizeof(settings[0]))

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

int main(int argc, char **argv)
{
	struct ctl c;
	struct api_conf ac;
	struct autoscale_conf asc;
	struct MHD_Daemon *d;
	enum fx_log_level lvl;
	char *err = NULL, *token;
	pthread_t th;
	int rc;

	fx_log_init("faas-controller", FX_LOG_INFO);
	/* A dozen threads that mostly wait: one malloc arena is plenty and keeps
	 * the resident set small. */
	mallopt(M_ARENA_MAX, 1);
	rc = fx_conf_load(settings, NSETTINGS, argc, argv, NULL, &err);
	if (rc == 1) {
		printf(
		    "faas-controller: reconciles function definitions into Docker Swarm services.\n"
		    "Settings (environment variable, or --flag):\n");
		fx_conf_help(settings, NSETTINGS, stdout);
		return 0;
	}
	if (rc < 0) {
		fprintf(stderr, "faas-controller: %s\n", err ? err : "bad settings");
		free(err);
		return 2;
	}
	if (fx_log_parse_level(log_level, &lvl) < 0) {
		fprintf(stderr,
		        "faas-controller: log_level: expected debug, info, warn or error\n");
		return 2;
	}
	fx_log_set_level(lvl);
	if (!fx_spec_valid_name(namespace_)) {
		fprintf(stderr, "faas-controller: namespace: expected a DNS-1123 label (lower-case "
		                "letters, digits and '-', at most 63)\n");
		return 2;
	}
	if (docker_host == NULL || docker_host[0] == '\0')
		docker_host = getenv("DOCKER_HOST");
	token = fx_read_secret(token_file);
	if (token != NULL && (token[0] == '\0' || strpbrk(token, "\r\n") != NULL)) {
		free(token); /* empty, or more than one line */
		token = NULL;
	}
	if (token == NULL) {
		log_error("no_token",
		          "token_file=%s err=\"cannot read a token from it; mutating "
		          "routes need one\"",
		          token_file);
		return 2;
	}
	memset(&c, 0, sizeof(c));
	if (docker_init(&c.docker, docker_host, &err) < 0) {
		log_error("bad_docker_host", "err=\"%s\"", err ? err : "");
		free(err);
		return 2;
	}
	/* libcurl (common/httpc.c: Docker, the gateways' polls) is set up once,
	 * before any thread starts. */
	if (fx_http_global_init() < 0) {
		log_error("curl_init_failed", "err=\"cannot initialise libcurl\"");
		return 1;
	}
	pthread_mutex_init(&c.mu, NULL);
	c.network = network;
	store_set_network(network);
	c.resync_ms = resync_ms;
	c.queue = wq_new(CTL_MAX_FUNCTIONS, backoff_min_ms, backoff_max_ms);
	c.alerts = alert_memory_new();
	if (c.queue == NULL || c.alerts == NULL)
		return 1;
	signal(SIGPIPE, SIG_IGN);
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);

	/* The API starts even when Docker is down: it answers with clear 503s. */
	ac.bind = bind_addr;
	ac.port = port;
	ac.token = token;
	ac.max_body = max_body;
	ac.namespace_ = namespace_;
	ac.idle_window_ms = idle_window_ms;
	d = api_start(&c, &ac);
	if (d == NULL)
		return 1;
	if (reconcile_ensure_network(&c, &err) < 0) {
		log_warn("network_unavailable", "network=%s err=\"%s\"", network, err ? err : "");
		free(err);
		err = NULL;
	}
	for (int64_t i = 0; i < workers; i++) {
		if (pthread_create(&th, NULL, reconcile_worker, &c) != 0)
			return 1;
		pthread_detach(th);
	}
	if (pthread_create(&th, NULL, reconcile_events, &c) != 0)
		return 1;
	pthread_detach(th);
	if (pthread_create(&th, NULL, reconcile_resync_loop, &c) != 0)
		return 1;
	pthread_detach(th);
	asc.gateway_urls = gateway_urls;
	asc.gateway_dns = gateway_dns;
	asc.gateway_port = gateway_port;
	asc.interval_ms = autoscale_interval_ms;
	asc.timeout_ms = autoscale_timeout_ms;
	asc.token = token;
	if (autoscale_start(&c, &asc) < 0)
		return 1;
	log_info("started", "docker=%s network=%s workers=%lld resync_ms=%lld", c.docker.where,
	         network, (long long)workers, (long long)resync_ms);
	while (!stop)
		pause();
	log_info("stopping", NULL);
	c.stopping = 1;
	watch_stop(); /* list readers waiting for a change answer now */
	wq_stop(c.queue);
	MHD_stop_daemon(d);
	return 0;
}
