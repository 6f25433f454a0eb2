/* worker.h: the map of faas-queue-worker, which runs the asynchronous calls
 * that the gateway stored in NATS JetStream (common/jsq.h).
 *
 * main.c reads the settings, connects, makes sure the streams and the durable
 * consumer exist and starts `concurrency` threads (run.c). Each thread has its
 * own pull subscription bound to the shared durable consumer, so replicas of
 * the worker and threads of one worker share the queue. A thread fetches one
 * message, invokes the function through the gateway's normal path
 * (POST gateway_url/function/NAME/..., so balancing, metrics and scale from
 * zero apply), then acks it, asks for a redelivery after a backoff (NAK with a
 * delay), or moves it to the dead-letter stream (plan.c decides, without I/O).
 * The answer is POSTed to X-Callback-Url when the call had one (callback.c).
 * metrics.c counts; http.c serves /metrics and /healthz. */
#ifndef QW_WORKER_H
#define QW_WORKER_H

#include "buf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct __natsConnection natsConnection;
typedef struct __jsCtx jsCtx;

struct qw_config {
	const char *nats_url;
	const char *gateway_url;
	int64_t concurrency;
	int64_t ack_wait_ms;
	int64_t invoke_timeout_ms;
	int64_t retry_backoff_ms;
	int64_t retry_backoff_max_ms;
	int64_t callback_timeout_ms;
	int64_t callback_retries;
	uint64_t max_response;
	const char *bind;
	int64_t port;
	const char *log_level;
};
extern struct qw_config qw_cfg;
extern natsConnection *qw_nc;
extern jsCtx *qw_js;
extern volatile int qw_stopping;

/* ---- plan.c: what to do with an answer (no I/O) ---- */

enum qw_action { QW_ACK, QW_RETRY, QW_DEAD };
/* status: the function's HTTP status, 0 when it could not be reached.
 * attempt: this delivery's number (1 = first). retries: allowed after the first. */
enum qw_action qw_plan(long status, uint64_t attempt, int retries);
/* "faas.async.NAME", path, query -> "/function/NAME/path?query" into out.
 * 0, or -EINVAL (bad name, path not starting with '/', control bytes), -E2BIG. */
int qw_target(const char *subject, const char *path, const char *query, char *out, size_t max);

/* ---- metrics.c ---- */

enum qw_counter { QW_C_COMPLETED, QW_C_RETRIED, QW_C_DEAD };
void qw_metrics_inflight(const char *fn, int delta);
void qw_metrics_count(const char *fn, enum qw_counter c, long status);
void qw_metrics_callback(bool ok);
/* Appends every series (queue depth and oldest age read from the stream now). */
int qw_metrics_format(struct fx_buf *out);

/* ---- callback.c ---- */

struct qw_answer {
	long status;           /* 0: the function could not be reached */
	struct fx_buf headers; /* raw "Name: value\r\n" lines of the answer */
	struct fx_buf body;
	double seconds;
};
/* POSTs the answer to url: callback_retries more tries with backoff on a
 * connection failure, 5xx or 429; keepalive(arg) (may be NULL) is called
 * before each try (the message's ack wait is extended). true when delivered. */
bool qw_callback(const char *url, const char *fn, const char *call_id, const struct qw_answer *a,
                 bool dead, void (*keepalive)(void *), void *arg);

/* ---- run.c ---- */

/* Starts the worker threads. 0 or negative errno. */
int qw_run_start(void);
/* Lets the threads finish the message in hand and joins them. */
void qw_run_stop(void);

/* ---- http.c ---- */

/* Serves /metrics and /healthz on bind:port; logs msg=listening. 0 or negative errno. */
int qw_http_start(void);
void qw_http_stop(void);

#endif
