/* queue.c: the reconcile work queue (after client-go's workqueue): one entry
 * per key; a key queued twice runs once; a key is never processed by two
 * workers at once; a failing key backs off exponentially on its own. */
#include "controller.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct entry {
	char key[FX_SPEC_MAX_NAME + 1];
	bool queued;     /* waiting to run at due */
	bool processing; /* a worker has it */
	bool dirty;      /* added while processing: run again when done */
	int64_t due;
	unsigned failures;
};

struct wq {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct entry *v;
	size_t n, max;
	int64_t bmin, bmax;
	bool stopping;
};

struct wq *wq_new(size_t max, int64_t backoff_min_ms, int64_t backoff_max_ms)
{
	struct wq *q = calloc(1, sizeof(*q));
	pthread_condattr_t ca;
	if (q == NULL)
		return NULL;
	q->v = calloc(max, sizeof(*q->v));
	if (q->v == NULL) {
		free(q);
		return NULL;
	}
	q->max = max;
	q->bmin = backoff_min_ms;
	q->bmax = backoff_max_ms;
	pthread_mutex_init(&q->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&q->cv, &ca);
	pthread_condattr_destroy(&ca);
	return q;
}

void wq_free(struct wq *q)
{
	if (q == NULL)
		return;
	pthread_mutex_destroy(&q->mu);
	pthread_cond_destroy(&q->cv);
	free(q->v);
	free(q);
}

static struct entry *find(struct wq *q, const char *key)
{
	for (size_t i = 0; i < q->n; i++)
		if (strcmp(q->v[i].key, key) == 0)
			return &q->v[i];
	return NULL;
}

/* Drops entries with nothing to remember (idle and no failures). Locked. */
static void compact(struct wq *q)
{
	size_t j = 0;
	for (size_t i = 0; i < q->n; i++) {
		struct entry *e = &q->v[i];
		if (!e->queued && !e->processing && e->failures == 0)
			continue;
		if (i != j)
			q->v[j] = *e;
		j++;
	}
	q->n = j;
}

static int add_locked(struct wq *q, const char *key, int64_t due)
{
	struct entry *e = find(q, key);
	if (strlen(key) > FX_SPEC_MAX_NAME)
		return -EINVAL;
	if (e == NULL) {
		if (q->n == q->max)
			compact(q);
		if (q->n == q->max)
			return -ENOSPC;
		e = &q->v[q->n++];
		memset(e, 0, sizeof(*e));
		snprintf(e->key, sizeof(e->key), "%s", key);
	}
	if (e->processing) {
		e->dirty = true;
		return 0;
	}
	if (!e->queued || due < e->due)
		e->due = due;
	e->queued = true;
	return 0;
}

int wq_add(struct wq *q, const char *key, int64_t delay_ms)
{
	int rc;
	pthread_mutex_lock(&q->mu);
	rc = add_locked(q, key, fx_now_ms() + (delay_ms > 0 ? delay_ms : 0));
	pthread_cond_broadcast(&q->cv);
	pthread_mutex_unlock(&q->mu);
	return rc;
}

/* The earliest due queued entry not being processed; NULL if none. Locked. */
static struct entry *next(struct wq *q)
{
	struct entry *best = NULL;
	for (size_t i = 0; i < q->n; i++) {
		struct entry *e = &q->v[i];
		if (e->queued && !e->processing && (best == NULL || e->due < best->due))
			best = e;
	}
	return best;
}

int wq_try_get(struct wq *q, int64_t now_ms, char *key, int64_t *wait_ms)
{
	struct entry *e;
	int rc = -EAGAIN;
	pthread_mutex_lock(&q->mu);
	e = next(q);
	*wait_ms = -1;
	if (e != NULL && e->due <= now_ms) {
		e->queued = false;
		e->processing = true;
		memcpy(key, e->key, sizeof(e->key));
		rc = 0;
	} else if (e != NULL) {
		*wait_ms = e->due - now_ms;
	}
	pthread_mutex_unlock(&q->mu);
	return rc;
}

int wq_get(struct wq *q, char *key)
{
	pthread_mutex_lock(&q->mu);
	for (;;) {
		struct entry *e;
		int64_t now = fx_now_ms();
		if (q->stopping) {
			pthread_mutex_unlock(&q->mu);
			return -ECANCELED;
		}
		e = next(q);
		if (e != NULL && e->due <= now) {
			e->queued = false;
			e->processing = true;
			memcpy(key, e->key, sizeof(e->key));
			pthread_mutex_unlock(&q->mu);
			return 0;
		}
		if (e == NULL) {
			pthread_cond_wait(&q->cv, &q->mu);
		} else {
			struct timespec ts;
			int64_t until = e->due;
			ts.tv_sec = until / 1000;
			ts.tv_nsec = (until % 1000) * 1000000;
			pthread_cond_timedwait(&q->cv, &q->mu, &ts);
		}
	}
}

int64_t wq_done(struct wq *q, const char *key, bool ok, int64_t now_ms)
{
	struct entry *e;
	int64_t delay = 0;
	pthread_mutex_lock(&q->mu);
	e = find(q, key);
	if (e != NULL) {
		e->processing = false;
		if (ok) {
			e->failures = 0;
		} else {
			delay = q->bmin;
			for (unsigned i = 0; i < e->failures && delay < q->bmax; i++)
				delay *= 2;
			if (delay > q->bmax)
				delay = q->bmax;
			if (e->failures < 64)
				e->failures++;
		}
		if (e->dirty) {
			e->dirty = false;
			add_locked(q, key, now_ms + delay);
		} else if (!ok) {
			add_locked(q, key, now_ms + delay);
		}
		if (!e->queued && e->failures == 0)
			compact(q);
	}
	pthread_cond_broadcast(&q->cv);
	pthread_mutex_unlock(&q->mu);
	return delay;
}

size_t wq_depth(struct wq *q)
{
	size_t n = 0;
	pthread_mutex_lock(&q->mu);
	for (size_t i = 0; i < q->n; i++)
		n += q->v[i].queued || q->v[i].processing;
	pthread_mutex_unlock(&q->mu);
	return n;
}

void wq_stop(struct wq *q)
{
	pthread_mutex_lock(&q->mu);
	q->stopping = true;
	pthread_cond_broadcast(&q->cv);
	pthread_mutex_unlock(&q->mu);
}
