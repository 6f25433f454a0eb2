/* metrics.c: the worker's counters, and the queue's depth read at scrape time. */
#include "worker.h"

#include "jsq.h"

#include <errno.h>
#include <nats/nats.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_FUNCS 4096 /* series kept; more functions share "other" */
#define NCODES    8

struct fstat {
	char name[64];
	long inflight;
	unsigned long long retried, dead;
	long codes[NCODES];
	unsigned long long completed[NCODES];
	struct fstat *next;
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct fstat *fns;
static size_t nfns;
static unsigned long long callbacks[2];

/* Lock held. */
static struct fstat *get(const char *fn)
{
	struct fstat *f;
	for (f = fns; f; f = f->next)
		if (strcmp(f->name, fn) == 0)
			return f;
	if (nfns >= MAX_FUNCS)
		fn = "other";
	for (f = fns; f; f = f->next)
		if (strcmp(f->name, fn) == 0)
			return f;
	f = calloc(1, sizeof(*f));
	if (!f)
		return NULL;
	strncpy(f->name, fn, sizeof(f->name) - 1);
	f->next = fns;
	fns = f;
	nfns++;
	return f;
}

void qw_metrics_inflight(const char *fn, int delta)
{
	pthread_mutex_lock(&mu);
	struct fstat *f = get(fn);
	if (f)
		f->inflight += delta;
	pthread_mutex_unlock(&mu);
}

void qw_metrics_count(const char *fn, enum qw_counter c, long status)
{
	pthread_mutex_lock(&mu);
	struct fstat *f = get(fn);
	if (f) {
		if (c == QW_C_RETRIED) {
			f->retried++;
		} else if (c == QW_C_DEAD) {
			f->dead++;
		} else {
			int i;
			for (i = 0; i < NCODES && f->codes[i] && f->codes[i] != status; i++)
				;
			if (i == NCODES)
				i = NCODES -
				    1; /* many distinct codes: the last slot takes the rest */
			f->codes[i] = f->codes[i] ? f->codes[i] : status;
			f->completed[i]++;
		}
	}
	pthread_mutex_unlock(&mu);
}

void qw_metrics_callback(bool ok)
{
	pthread_mutex_lock(&mu);
	callbacks[ok ? 0 : 1]++;
	pthread_mutex_unlock(&mu);
}

/* Depth and oldest age per function, from the stream (blocking, bounded by
 * libnats' request timeout). */
static int queue_series(struct fx_buf *out)
{
	jsStreamInfo *si = NULL;
	jsOptions o;
	jsErrCode jerr = 0;
	int rc = 0;
	struct timespec now;

	jsOptions_Init(&o);
	o.Wait = 2000;
	o.Stream.Info.SubjectsFilter = FX_JSQ_SUBJECT "*";
	rc |= fx_buf_puts(out, "# HELP faas_async_queue_depth Calls stored and not finished "
	                       "(waiting, retrying or running).\n"
	                       "# TYPE faas_async_queue_depth gauge\n");
	if (js_GetStreamInfo(&si, qw_js, FX_JSQ_STREAM, &o, &jerr) != NATS_OK || !si) {
		rc |= fx_buf_puts(out, "# the stream could not be read\n");
		return rc;
	}
	jsStreamStateSubjects *subs = si->State.Subjects;
	for (int i = 0; subs && i < subs->Count && i < MAX_FUNCS; i++) {
		const char *fn = fx_jsq_function_of(subs->List[i].Subject);
		if (fn)
			rc |= fx_buf_appendf(out,
			                     "faas_async_queue_depth{function_name=\"%s\"} %llu\n",
			                     fn, (unsigned long long)subs->List[i].Msgs);
	}
	/* A function with nothing stored is not listed by the server: 0 for
	 * those this worker has run, so a depth alert resolves. */
	pthread_mutex_lock(&mu);
	for (struct fstat *f = fns; f; f = f->next) {
		bool listed = false;
		char subj[128];
		snprintf(subj, sizeof(subj), FX_JSQ_SUBJECT "%s", f->name);
		for (int i = 0; subs && i < subs->Count && !listed; i++)
			listed = strcmp(subs->List[i].Subject, subj) == 0;
		if (!listed)
			rc |= fx_buf_appendf(
			    out, "faas_async_queue_depth{function_name=\"%s\"} 0\n", f->name);
	}
	pthread_mutex_unlock(&mu);
	rc |= fx_buf_puts(out, "# HELP faas_async_oldest_message_age_seconds Age of the oldest "
	                       "call stored for the function.\n"
	                       "# TYPE faas_async_oldest_message_age_seconds gauge\n");
	clock_gettime(CLOCK_REALTIME, &now);
	for (int i = 0; subs && i < subs->Count && i < 256; i++) {
		const char *fn = fx_jsq_function_of(subs->List[i].Subject);
		jsDirectGetMsgOptions dg;
		natsMsg *m = NULL;
		const char *q = NULL;
		if (!fn || subs->List[i].Msgs == 0)
			continue;
		jsDirectGetMsgOptions_Init(&dg);
		dg.Sequence = si->State.FirstSeq;
		dg.NextBySubject = subs->List[i].Subject;
		if (js_DirectGetMsg(&m, qw_js, FX_JSQ_STREAM, &o, &dg) == NATS_OK &&
		    natsMsgHeader_Get(m, FX_JSQ_H_QUEUED, &q) == NATS_OK && q) {
			double t = strtod(q, NULL) / 1e9;
			double age = (double)now.tv_sec + (double)now.tv_nsec / 1e9 - t;
			rc |= fx_buf_appendf(
			    out,
			    "faas_async_oldest_message_age_seconds{function_name=\"%s\"} %.3f\n",
			    fn, age > 0 ? age : 0);
		}
		natsMsg_Destroy(m);
	}
	jsStreamInfo_Destroy(si);
	return rc;
}

int qw_metrics_format(struct fx_buf *out)
{
	int rc = 0;
	pthread_mutex_lock(&mu);
	rc |= fx_buf_puts(out, "# HELP faas_async_in_flight Calls being run by this worker.\n"
	                       "# TYPE faas_async_in_flight gauge\n");
	for (struct fstat *f = fns; f; f = f->next)
		rc |= fx_buf_appendf(out, "faas_async_in_flight{function_name=\"%s\"} %ld\n",
		                     f->name, f->inflight);
	rc |= fx_buf_puts(out, "# HELP faas_async_completed_total Calls finished (not retried), "
	                       "by the function's status (0: unreachable).\n"
	                       "# TYPE faas_async_completed_total counter\n");
	for (struct fstat *f = fns; f; f = f->next)
		for (int i = 0; i < NCODES && f->codes[i]; i++)
			rc |= fx_buf_appendf(
			    out,
			    "faas_async_completed_total{function_name=\"%s\",code=\"%ld\"} "
			    "%llu\n",
			    f->name, f->codes[i], f->completed[i]);
	rc |= fx_buf_puts(out, "# HELP faas_async_retried_total Attempts that failed and were "
	                       "scheduled again.\n# TYPE faas_async_retried_total counter\n");
	for (struct fstat *f = fns; f; f = f->next)
		rc |= fx_buf_appendf(out, "faas_async_retried_total{function_name=\"%s\"} %llu\n",
		                     f->name, f->retried);
	rc |= fx_buf_puts(out,
	                  "# HELP faas_async_dead_lettered_total Calls moved to the "
	                  "dead-letter stream.\n# TYPE faas_async_dead_lettered_total counter\n");
	for (struct fstat *f = fns; f; f = f->next)
		rc |= fx_buf_appendf(out,
		                     "faas_async_dead_lettered_total{function_name=\"%s\"} %llu\n",
		                     f->name, f->dead);
	rc |= fx_buf_appendf(out,
	                     "# HELP faas_async_callbacks_total Callbacks by outcome.\n"
	                     "# TYPE faas_async_callbacks_total counter\n"
	                     "faas_async_callbacks_total{result=\"delivered\"} %llu\n"
	                     "faas_async_callbacks_total{result=\"failed\"} %llu\n",
	                     callbacks[0], callbacks[1]);
	pthread_mutex_unlock(&mu);
	rc |= queue_series(out);
	return rc < 0 ? -ENOMEM : 0;
}
