/* jsq.c: the JetStream queue's connection, streams and consumer (see jsq.h). */
#include "jsq.h"

#include "buf.h"

#include <errno.h>
#include <nats/nats.h>
#include <stdlib.h>
#include <string.h>

static int nats_err(natsStatus s, jsErrCode jerr, const char *what, char **err)
{
	const char *last = nats_GetLastError(NULL);
	if (err)
		*err = fx_strdupf("%s: %s%s%s (jetstream error %d)", what, natsStatus_GetText(s),
		                  last && last[0] ? ": " : "", last ? last : "", (int)jerr);
	if (s == NATS_NO_MEMORY)
		return -ENOMEM;
	if (s == NATS_TIMEOUT)
		return -ETIMEDOUT;
	if (s == NATS_NO_RESPONDERS || s == NATS_CONNECTION_CLOSED || s == NATS_NOT_YET_CONNECTED ||
	    s == NATS_CONNECTION_DISCONNECTED || s == NATS_NO_SERVER)
		return -ENOTCONN;
	return -EIO;
}

static void cb_disconnected(natsConnection *nc, void *closure)
{
	const struct fx_jsq_opts *o = closure;
	(void)nc;
	if (o->on_disconnect)
		o->on_disconnect(o->arg);
}

static void cb_reconnected(natsConnection *nc, void *closure)
{
	const struct fx_jsq_opts *o = closure;
	(void)nc;
	if (o->on_reconnect)
		o->on_reconnect(o->arg);
}

int fx_jsq_connect(const struct fx_jsq_opts *o, natsConnection **nc, jsCtx **js, char **err)
{
	natsOptions *opts = NULL;
	natsConnection *c = NULL;
	jsCtx *j = NULL;
	natsStatus s;
	int rc;

	s = natsOptions_Create(&opts);
	if (s == NATS_OK)
		s = natsOptions_SetURL(opts, o->url); /* a comma-separated list too */
	if (s == NATS_OK && o->name)
		s = natsOptions_SetName(opts, o->name);
	if (s == NATS_OK)
		s = natsOptions_SetMaxReconnect(opts, -1); /* forever */
	if (s == NATS_OK)
		s = natsOptions_SetReconnectWait(opts, 250);
	if (s == NATS_OK)
		s = natsOptions_SetTimeout(opts, 2000);
	/* A server that vanished without closing (a killed container): noticed
	 * within about 6 s instead of libnats' 2 minutes. */
	if (s == NATS_OK)
		s = natsOptions_SetPingInterval(opts, 2000);
	if (s == NATS_OK)
		s = natsOptions_SetMaxPingsOut(opts, 2);
	/* Nothing is buffered while disconnected: a publish that could not reach
	 * the server fails, and the gateway answers 503 instead of 202. */
	if (s == NATS_OK)
		s = natsOptions_SetReconnectBufSize(opts, 1);
	if (s == NATS_OK)
		s = natsOptions_SetRetryOnFailedConnect(opts, true, cb_reconnected,
		                                        (void *)(uintptr_t)o);
	if (s == NATS_OK)
		s = natsOptions_SetDisconnectedCB(opts, cb_disconnected, (void *)(uintptr_t)o);
	if (s == NATS_OK)
		s = natsOptions_SetReconnectedCB(opts, cb_reconnected, (void *)(uintptr_t)o);
	if (s != NATS_OK) {
		rc = nats_err(s, 0, "nats options", err);
		goto fail_opts;
	}
	s = natsConnection_Connect(&c, opts);
	if (s != NATS_OK && s != NATS_NOT_YET_CONNECTED) {
		rc = nats_err(s, 0, "nats connect", err);
		goto fail_opts;
	}
	s = natsConnection_JetStream(&j, c, NULL);
	if (s != NATS_OK) {
		rc = nats_err(s, 0, "jetstream context", err);
		goto fail_conn;
	}
	natsOptions_Destroy(opts);
	*nc = c;
	*js = j;
	return 0;

fail_conn:
	natsConnection_Destroy(c);
fail_opts:
	natsOptions_Destroy(opts);
	return rc;
}

bool fx_jsq_connected(natsConnection *nc)
{
	return nc && natsConnection_Status(nc) == NATS_CONN_STATUS_CONNECTED;
}

void fx_jsq_close(natsConnection *nc, jsCtx *js)
{
	if (js)
		jsCtx_Destroy(js);
	if (nc) {
		natsConnection_Close(nc);
		natsConnection_Destroy(nc);
	}
}

static int ensure_stream(jsCtx *js, jsStreamConfig *cfg, char **err)
{
	jsStreamInfo *si = NULL;
	jsErrCode jerr = 0;
	natsStatus s = js_AddStream(&si, js, cfg, NULL, &jerr);

	if (s != NATS_OK && jerr == JSStreamNameExistErr)
		s = js_UpdateStream(&si, js, cfg, NULL, &jerr);
	jsStreamInfo_Destroy(si);
	return s == NATS_OK ? 0 : nats_err(s, jerr, cfg->Name, err);
}

int fx_jsq_ensure(jsCtx *js, int64_t ack_wait_ms, char **err)
{
	jsStreamConfig sc, dc;
	jsConsumerConfig cc;
	jsConsumerInfo *ci = NULL;
	jsErrCode jerr = 0;
	natsStatus s;
	int rc;

	jsStreamConfig_Init(&sc);
	sc.Name = FX_JSQ_STREAM;
	sc.Subjects = (const char *[]){FX_JSQ_SUBJECT "*"};
	sc.SubjectsLen = 1;
	sc.Retention = js_WorkQueuePolicy;
	sc.Storage = js_FileStorage;
	sc.Duplicates = 120LL * 1000000000LL;
	sc.AllowDirect = true;
	rc = ensure_stream(js, &sc, err);
	if (rc < 0)
		return rc;

	jsStreamConfig_Init(&dc);
	dc.Name = FX_JSQ_DLQ_STREAM;
	dc.Subjects = (const char *[]){FX_JSQ_DLQ_SUBJECT "*"};
	dc.SubjectsLen = 1;
	dc.Retention = js_LimitsPolicy;
	dc.Storage = js_FileStorage;
	dc.MaxAge = 14LL * 86400 * 1000000000LL;
	dc.MaxMsgs = 100000;
	dc.Discard = js_DiscardOld;
	dc.AllowDirect = true;
	rc = ensure_stream(js, &dc, err);
	if (rc < 0 || ack_wait_ms <= 0)
		return rc;

	jsConsumerConfig_Init(&cc);
	cc.Durable = FX_JSQ_CONSUMER;
	cc.AckPolicy = js_AckExplicit;
	cc.AckWait = ack_wait_ms * 1000000LL;
	cc.MaxDeliver = -1; /* the worker counts attempts and dead-letters itself */
	cc.MaxAckPending = 20000;
	cc.MaxWaiting = 512;
	s = js_AddConsumer(&ci, js, FX_JSQ_STREAM, &cc, NULL, &jerr);
	if (s != NATS_OK && jerr == JSConsumerNameExistErr)
		s = js_UpdateConsumer(&ci, js, FX_JSQ_STREAM, &cc, NULL, &jerr);
	jsConsumerInfo_Destroy(ci);
	return s == NATS_OK ? 0 : nats_err(s, jerr, FX_JSQ_CONSUMER, err);
}

const char *fx_jsq_function_of(const char *subject)
{
	size_t a = strlen(FX_JSQ_SUBJECT), d = strlen(FX_JSQ_DLQ_SUBJECT);
	const char *n = NULL;

	if (!subject)
		return NULL;
	if (strncmp(subject, FX_JSQ_SUBJECT, a) == 0)
		n = subject + a;
	else if (strncmp(subject, FX_JSQ_DLQ_SUBJECT, d) == 0)
		n = subject + d;
	if (!n || !n[0] || strlen(n) > 63 || n[0] == '-')
		return NULL;
	for (const char *p = n; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-'))
			return NULL;
	return n;
}

int64_t fx_jsq_backoff_ms(int64_t base_ms, int64_t max_ms, uint64_t n, uint64_t rnd)
{
	int64_t d = base_ms > 0 ? base_ms : 1;
	for (uint64_t i = 1; i < n && d < max_ms; i++)
		d = d > INT64_MAX / 2 ? INT64_MAX : d * 2;
	if (d > max_ms)
		d = max_ms;
	int64_t jitter = d / 10;
	if (jitter > 0)
		d += (int64_t)(rnd % (uint64_t)(jitter + 1));
	return d;
}

int fx_jsq_parse_retries(const char *s)
{
	int v = 0;
	if (!s || !s[0] || strlen(s) > 3)
		return -1;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		v = v * 10 + (*p - '0');
	}
	return v <= FX_JSQ_MAX_RETRIES ? v : -1;
}

bool fx_jsq_retryable(long status)
{
	return status == 0 || status == 429 || (status >= 500 && status <= 599);
}
