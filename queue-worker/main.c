/* faas-queue-worker: runs the asynchronous calls stored in NATS JetStream.
 * See queue-worker/worker.h for the map.
 * Exit codes: 0 ok (also after SIGTERM), 1 runtime failure, 2 usage or configuration. */
#include "worker.h"

#include "conf.h"
#include "jsq.h"
#include "log.h"

#include <curl/curl.h>
#include <errno.h>
#include <nats/nats.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct qw_config qw_cfg;
natsConnection *qw_nc;
jsCtx *qw_js;
volatile int qw_stopping;

static const struct fx_setting settings[] = {
    {"nats_url", FX_CONF_STRING, "nats://nats:4222", "NATS server(s) with JetStream",
     &qw_cfg.nats_url, 0, 0, 0},
    {"gateway_url", FX_CONF_STRING, "http://gateway:8080",
     "the gateway: calls go to GATEWAY/function/NAME", &qw_cfg.gateway_url, 0, 0, 0},
    {"concurrency", FX_CONF_INT, "8", "calls run at once by this worker", &qw_cfg.concurrency, 1,
     256, 0},
    {"ack_wait", FX_CONF_DURATION, "30s",
     "a call taken by a worker that dies is delivered again after this", &qw_cfg.ack_wait_ms, 1000,
     3600000, 0},
    {"invoke_timeout", FX_CONF_DURATION, "5m", "longest call through the gateway",
     &qw_cfg.invoke_timeout_ms, 100, 86400000, 0},
    {"retry_backoff", FX_CONF_DURATION, "1s", "delay before the first retry (doubles each time)",
     &qw_cfg.retry_backoff_ms, 1, 3600000, 0},
    {"retry_backoff_max", FX_CONF_DURATION, "1m", "longest delay between retries",
     &qw_cfg.retry_backoff_max_ms, 1, 86400000, 0},
    {"callback_timeout", FX_CONF_DURATION, "10s", "one POST to an X-Callback-Url",
     &qw_cfg.callback_timeout_ms, 100, 600000, 0},
    {"callback_retries", FX_CONF_INT, "3", "more tries of a failed callback (backoff from 0.5 s)",
     &qw_cfg.callback_retries, 0, 10, 0},
    {"max_response", FX_CONF_SIZE, "16Mi", "largest answer kept for the callback (cut above)",
     &qw_cfg.max_response, 1024, 1 << 30, 0},
    {"bind", FX_CONF_STRING, "0.0.0.0", "address of /metrics and /healthz", &qw_cfg.bind, 0, 0, 0},
    {"port", FX_CONF_INT, "8080", "port of /metrics and /healthz (0: any free port)", &qw_cfg.port,
     0, 65535, 0},
    {"log_level", FX_CONF_STRING, "info", "debug, info, warn or error", &qw_cfg.log_level, 0, 0, 0},
};
#define NSETTINGS (sizeof(settings) / sizeof(settings[0]))

static void on_disconnect(void *arg)
{
	(void)arg;
	log_warn("nats_disconnected", "url=%s", qw_cfg.nats_url);
}

static void on_reconnect(void *arg)
{
	(void)arg;
	log_info("nats_connected", "url=%s", qw_cfg.nats_url);
}

static const struct fx_jsq_opts jopts = {
    .name = "faas-queue-worker", .on_disconnect = on_disconnect, .on_reconnect = on_reconnect};

int main(int argc, char **argv)
{
	char *err = NULL;
	enum fx_log_level lvl;
	struct fx_jsq_opts o = jopts;
	sigset_t set;
	int sig, rc;
	static struct fx_jsq_opts kept;

	fx_log_init("faas-queue-worker", FX_LOG_INFO);
	rc = fx_conf_load(settings, NSETTINGS, argc, argv, NULL, &err);
	if (rc == 1) {
		printf("faas-queue-worker: runs asynchronous calls from NATS JetStream; settings "
		       "(environment variable or --flag):\n");
		fx_conf_help(settings, NSETTINGS, stdout);
		return 0;
	}
	if (rc < 0) {
		fprintf(stderr, "faas-queue-worker: %s\n", err ? err : "invalid settings");
		free(err);
		return 2;
	}
	if (fx_log_parse_level(qw_cfg.log_level, &lvl) < 0) {
		fprintf(stderr,
		        "faas-queue-worker: log_level: expected debug, info, warn or error\n");
		return 2;
	}
	fx_log_set_level(lvl);
	if (strncmp(qw_cfg.gateway_url, "http://", 7) != 0 &&
	    strncmp(qw_cfg.gateway_url, "https://", 8) != 0) {
		fprintf(stderr, "faas-queue-worker: gateway_url: expected http://HOST:PORT\n");
		return 2;
	}
	if (!qw_cfg.nats_url[0]) {
		fprintf(stderr, "faas-queue-worker: nats_url: required\n");
		return 2;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		log_error("startup_failed", "reason=curl");
		return 1;
	}
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &set, NULL);

	o.url = qw_cfg.nats_url;
	kept = o; /* libnats keeps a pointer for its callbacks */
	if (fx_jsq_connect(&kept, &qw_nc, &qw_js, &err) < 0) {
		fprintf(stderr, "faas-queue-worker: %s\n", err ? err : "nats setup failed");
		free(err);
		return 2;
	}
	if (qw_http_start() < 0)
		return 1;
	if (qw_run_start() < 0) {
		log_error("startup_failed", "reason=threads");
		return 1;
	}
	sigdelset(&set, SIGPIPE);
	do
		rc = sigwait(&set, &sig);
	while (rc != 0);
	log_info("stopping", "signal=%d", sig);
	qw_stopping = 1;
	qw_run_stop(); /* the calls in hand finish (bounded by invoke_timeout) */
	qw_http_stop();
	fx_jsq_close(qw_nc, qw_js);
	nats_Close();
	curl_global_cleanup();
	return 0;
}
