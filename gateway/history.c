/* history.c: the last 15 minutes of each function, for the web UI's charts.
 *
 * Every GW_HISTORY_STEP_S seconds the main thread samples the counters of
 * metrics.c (cumulative, as Prometheus scrapes them) and keeps, per function,
 * what happened in the step: invocations per second, the share of answers
 * that were errors (5xx), p50 and p99 latency (interpolated in the histogram's
 * buckets, as Prometheus's histogram_quantile does) and the replica count.
 * GW_HISTORY_POINTS points (24 bytes each) per function, allocated at its
 * first sample. Read by GET /ui/history/{name} (gw_history_json). */
#include "gateway.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct point {
	uint32_t t; /* Unix time of the end of the step, s */
	float rate; /* invocations per second */
	float err;  /* 5xx / all; NAN without invocations */
	float p50, p99;
	int32_t replicas;
};

struct gw_history {
	pthread_mutex_t mu;
	struct gw_metrics_snap last; /* counters at the previous sample */
	int64_t last_ms;
	bool have_last;
	size_t head, n; /* ring: oldest at (head + GW_HISTORY_POINTS - n) */
	struct point p[GW_HISTORY_POINTS];
};

void gw_history_free(struct gw_history *h)
{
	if (!h)
		return;
	pthread_mutex_destroy(&h->mu);
	free(h);
}

/* The q quantile (0..1) of the observations in per-bucket counts b (the
 * last one above the top bound), interpolated linearly in its bucket. An
 * answer in the open top bucket is given as the top bound. NAN if empty. */
double gw_history_quantile(const uint64_t *b, size_t nb, const double *upper, double q)
{
	uint64_t total = 0, cum = 0;

	for (size_t i = 0; i < nb; i++)
		total += b[i];
	if (total == 0)
		return NAN;
	double rank = q * (double)total;
	for (size_t i = 0; i < nb; i++) {
		if (b[i] == 0 || (double)(cum + b[i]) < rank) {
			cum += b[i];
			continue;
		}
		if (i == nb - 1)
			return upper[nb - 2]; /* +Inf bucket */
		double lo = i ? upper[i - 1] : 0, hi = upper[i];
		return lo + (hi - lo) * (rank - (double)cum) / (double)b[i];
	}
	return upper[nb - 2];
}

/* One step of f: the counters now against the previous sample. */
static void sample_one(struct gw_fn *f, void *arg)
{
	int64_t now = *(const int64_t *)arg;
	struct gw_metrics_snap s;
	struct gw_history *h = f->history;

	if (!h) {
		h = calloc(1, sizeof(*h));
		if (!h)
			return; /* no chart for it; the next step tries again */
		pthread_mutex_init(&h->mu, NULL);
		f->history = h;
	}
	gw_metrics_snapshot(f->metrics, &s);
	pthread_mutex_lock(&h->mu);
	if (h->have_last && now > h->last_ms && s.count >= h->last.count) {
		uint64_t d[GW_METRIC_BUCKETS + 1];
		uint64_t n = s.count - h->last.count, e = s.errors - h->last.errors;
		double secs = (double)(now - h->last_ms) / 1000.0;
		struct point *p = &h->p[h->head];

		for (size_t i = 0; i <= GW_METRIC_BUCKETS; i++)
			d[i] = s.buckets[i] - h->last.buckets[i];
		p->t = (uint32_t)time(NULL);
		p->rate = (float)((double)n / secs);
		p->err = n ? (float)((double)e / (double)n) : NAN;
		p->p50 =
		    (float)gw_history_quantile(d, GW_METRIC_BUCKETS + 1, gw_metric_bounds, 0.5);
		p->p99 =
		    (float)gw_history_quantile(d, GW_METRIC_BUCKETS + 1, gw_metric_bounds, 0.99);
		p->replicas = (int32_t)(f->replicas < 0           ? 0
		                        : f->replicas > INT32_MAX ? INT32_MAX
		                                                  : f->replicas);
		h->head = (h->head + 1) % GW_HISTORY_POINTS;
		if (h->n < GW_HISTORY_POINTS)
			h->n++;
	}
	h->last = s;
	h->last_ms = now;
	h->have_last = true;
	pthread_mutex_unlock(&h->mu);
}

void gw_history_sample(int64_t now_ms)
{
	gw_registry_each(sample_one, &now_ms);
}

static int put_num(struct fx_buf *out, double v, int decimals)
{
	if (isnan(v) || isinf(v))
		return fx_buf_puts(out, "null");
	return fx_buf_appendf(out, "%.*f", decimals, v);
}

int gw_history_json(struct gw_fn *f, struct fx_buf *out)
{
	static const char *const names[] = {
	    "t", "invocations_per_second", "error_ratio", "p50_seconds", "p99_seconds", "replicas"};
	struct point pts[GW_HISTORY_POINTS];
	size_t n = 0;
	int rc;

	if (f->history) {
		struct gw_history *h = f->history;
		pthread_mutex_lock(&h->mu);
		n = h->n;
		for (size_t i = 0; i < n; i++)
			pts[i] = h->p[(h->head + GW_HISTORY_POINTS - n + i) % GW_HISTORY_POINTS];
		pthread_mutex_unlock(&h->mu);
	}
	rc = fx_buf_appendf(out, "{\"function\":\"%s\",\"source\":\"gateway\",\"step_seconds\":%d",
	                    f->name, GW_HISTORY_STEP_S);
	for (size_t k = 0; k < sizeof(names) / sizeof(names[0]) && rc == 0; k++) {
		rc = fx_buf_appendf(out, ",\"%s\":[", names[k]);
		for (size_t i = 0; i < n && rc == 0; i++) {
			const struct point *p = &pts[i];
			if (i)
				rc = fx_buf_puts(out, ",");
			if (rc < 0)
				break;
			switch (k) {
			case 0:
				rc = fx_buf_appendf(out, "%u", (unsigned)p->t);
				break;
			case 1:
				rc = put_num(out, p->rate, 3);
				break;
			case 2:
				rc = put_num(out, p->err, 4);
				break;
			case 3:
				rc = put_num(out, p->p50, 6);
				break;
			case 4:
				rc = put_num(out, p->p99, 6);
				break;
			default:
				rc = fx_buf_appendf(out, "%d", (int)p->replicas);
			}
		}
		if (rc == 0)
			rc = fx_buf_puts(out, "]");
	}
	if (rc == 0)
		rc = fx_buf_puts(out, "}\n");
	return rc;
}
