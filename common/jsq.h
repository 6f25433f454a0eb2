/* jsq.h: the asynchronous invocation queue on NATS JetStream, shared by the
 * gateway (publishes) and the queue worker (consumes).
 *
 * Layout on the server (created idempotently by both programs at start and
 * after a reconnect, see fx_jsq_ensure):
 *   stream FAAS_ASYNC      subjects faas.async.<function>, file storage,
 *                          work-queue retention (a message is removed once
 *                          acknowledged), 2 min duplicate window on Nats-Msg-Id
 *   stream FAAS_ASYNC_DLQ  subjects faas.dlq.<function>, file storage, kept
 *                          14 days or 100,000 messages (oldest dropped)
 *   consumer faas-queue-worker  durable pull consumer on FAAS_ASYNC shared by
 *                          every worker replica, explicit acks
 *
 * A message carries the call in headers (FX_JSQ_H_*) and the request body as
 * its data; the original request headers are copied with the prefix
 * FX_JSQ_HDR_PREFIX. common/ does not log: errors come back as *err (caller
 * frees). This file links libnats; programs that do not call it do not pull
 * it from libfx.a. */
#ifndef FX_JSQ_H
#define FX_JSQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FX_JSQ_STREAM      "FAAS_ASYNC"
#define FX_JSQ_SUBJECT     "faas.async." /* + function name */
#define FX_JSQ_DLQ_STREAM  "FAAS_ASYNC_DLQ"
#define FX_JSQ_DLQ_SUBJECT "faas.dlq." /* + function name */
#define FX_JSQ_CONSUMER    "faas-queue-worker"

#define FX_JSQ_H_METHOD   "Faas-Method"
#define FX_JSQ_H_PATH     "Faas-Path"  /* "/rest" below the function, or "/" */
#define FX_JSQ_H_QUERY    "Faas-Query" /* raw query without '?', absent when none */
#define FX_JSQ_H_CALL_ID  "Faas-Call-Id"
#define FX_JSQ_H_CALLBACK "Faas-Callback-Url"
#define FX_JSQ_H_RETRIES  "Faas-Retries"   /* retries after the first attempt */
#define FX_JSQ_H_QUEUED   "Faas-Queued-At" /* ns since the epoch, when accepted */
#define FX_JSQ_H_REASON   "Faas-Dead-Reason"
#define FX_JSQ_H_STATUS   "Faas-Last-Status" /* last HTTP status, 0: no answer */
#define FX_JSQ_H_ATTEMPTS "Faas-Attempts"
#define FX_JSQ_H_REPLAYS  "Faas-Replays" /* how many times it came back from the DLQ */
#define FX_JSQ_HDR_PREFIX "H-"           /* + the original header name */
#define FX_JSQ_MSG_ID     "Nats-Msg-Id"

#define FX_JSQ_DEFAULT_RETRIES 3
#define FX_JSQ_MAX_RETRIES     100

typedef struct __natsConnection natsConnection;
typedef struct __jsCtx jsCtx;

struct fx_jsq_opts {
	const char *url;  /* nats://host:port[,nats://...] */
	const char *name; /* connection name shown by the server */
	/* called from libnats' threads when the connection is lost / back */
	void (*on_disconnect)(void *arg);
	void (*on_reconnect)(void *arg);
	void *arg;
};

/* Connects (the first attempt does not wait for the server: with it down,
 * libnats keeps trying in the background and *nc is still returned) and
 * reconnects forever. Publishes while disconnected fail at once instead of
 * being buffered. 0 or a negative errno with *err. */
int fx_jsq_connect(const struct fx_jsq_opts *o, natsConnection **nc, jsCtx **js, char **err);
/* True while the connection to the server is up. */
bool fx_jsq_connected(natsConnection *nc);
/* Closes and frees both (NULL accepted). */
void fx_jsq_close(natsConnection *nc, jsCtx *js);

/* Creates or updates both streams; with ack_wait_ms > 0 also the consumer
 * (ack_wait: how long a delivered message stays with a worker that neither
 * acks it nor says it is still working). Idempotent. 0 or negative errno. */
int fx_jsq_ensure(jsCtx *js, int64_t ack_wait_ms, char **err);

/* Pure helpers (no I/O), unit-tested. */
/* "faas.async.NAME" / "faas.dlq.NAME" -> NAME (borrowed from subject), or NULL. */
const char *fx_jsq_function_of(const char *subject);
/* Retry delay before attempt n+1 (n >= 1 attempts made): base * 2^(n-1),
 * capped at max_ms, plus up to 10 % jitter taken from rnd. */
int64_t fx_jsq_backoff_ms(int64_t base_ms, int64_t max_ms, uint64_t n, uint64_t rnd);
/* Parses a retries value ("0".."100"); -1 when invalid. */
int fx_jsq_parse_retries(const char *s);
/* Should an answer with this status (0: no answer, the call failed to reach
 * the function) be tried again? 5xx, 429 and 0: yes; anything else: no. */
bool fx_jsq_retryable(long status);

#endif
