/* metrics.c: per-function counters in OpenFaaS's names, Prometheus text format.
 * Series exist only for functions the registry knows (bounded cardinality). */
#include "gateway.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static const char *const bucket_le[] = {"0.005", "0.01", "0.025", "0.05", "0.1", "0.25",
                                        "0.5",   "1",    "2.5",   "5",    "10"};
const double gw_metric_bounds[GW_METRIC_BUCKETS] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                                    0.5,   1,    2.5,   5,    10};
#define bucket_max gw_metric_bounds
#define NBUCKETS   GW_METRIC_BUCKETS
#define MAX_CODES  32 /* distinct status codes kept per function */

struct code_stats {
	int code;
	uint64_t count;
	uint64_t buckets[NBUCKETS]; /* not cumulative */
	double sum;
};

struct gw_fn_metrics {
	pthread_mutex_t mu;
	uint64_t started;
	size_t ncodes;
	struct code_stats codes[MAX_CODES];
};

struct gw_fn_metrics *gw_metrics_new(void)
{
	struct gw_fn_metrics *m = calloc(1, sizeof(*m));
	if (m)
		pthread_mutex_init(&m->mu, NULL);
	return m;
}

void gw_metrics_free(struct gw_fn_metrics *m)
{
	if (!m)
		return;
	pthread_mutex_destroy(&m->mu);
	free(m);
}

void gw_metrics_started(struct gw_fn_metrics *m)
{
	pthread_mutex_lock(&m->mu);
	m->started++;
	pthread_mutex_unlock(&m->mu);
}

void gw_metrics_done(struct gw_fn_metrics *m, int code, double seconds)
{
	struct code_stats *cs = NULL;

	pthread_mutex_lock(&m->mu);
	for (size_t i = 0; i < m->ncodes; i++)
		if (m->codes[i].code == code)
			cs = &m->codes[i];
	if (!cs && m->ncodes < MAX_CODES) {
		cs = &m->codes[m->ncodes++];
		cs->code = code;
	}
	if (cs) {
		cs->count++;
		cs->sum += seconds;
		for (size_t b = 0; b < NBUCKETS; b++) {
			if (seconds <= bucket_max[b]) {
				cs->buckets[b]++;
				break;
			}
		}
	}
	pthread_mutex_unlock(&m->mu);
}

void gw_metrics_snapshot(struct gw_fn_metrics *m, struct gw_metrics_snap *out)
{
	struct gw_metrics_snap s = {0};

	pthread_mutex_lock(&m->mu);
	for (size_t i = 0; i < m->ncodes; i++) {
		const struct code_stats *cs = &m->codes[i];
		uint64_t in = 0;
		s.count += cs->count;
		if (cs->code >= 500)
			s.errors += cs->count;
		for (size_t b = 0; b < NBUCKETS; b++) {
			s.buckets[b] += cs->buckets[b];
			in += cs->buckets[b];
		}
		s.buckets[NBUCKETS] += cs->count - in;
	}
	pthread_mutex_unlock(&m->mu);
	*out = s;
}

uint64_t gw_metrics_total(struct gw_fn_metrics *m)
{
	uint64_t t = 0;
	pthread_mutex_lock(&m->mu);
	for (size_t i = 0; i < m->ncodes; i++)
		t += m->codes[i].count;
	pthread_mutex_unlock(&m->mu);
	return t;
}

int gw_metrics_header(int part, struct fx_buf *out)
{
	static const char *const h[GW_METRIC_PARTS] = {
	    "# HELP gateway_function_invocation_total Function metrics\n"
	    "# TYPE gateway_function_invocation_total counter\n",
	    "# HELP gateway_functions_seconds Function time taken\n"
	    "# TYPE gateway_functions_seconds histogram\n",
	    "# HELP gateway_function_invocation_started The total number of function HTTP "
	    "requests started.\n"
	    "# TYPE gateway_function_invocation_started counter\n",
	    "# HELP gateway_service_count Current count of replicas for function\n"
	    "# TYPE gateway_service_count gauge\n",
	};
	if (part < 0 || part >= GW_METRIC_PARTS)
		return -EINVAL;
	return fx_buf_puts(out, h[part]);
}

static int cmp_code(const void *a, const void *b)
{
	return ((const struct code_stats *)a)->code - ((const struct code_stats *)b)->code;
}

int gw_metrics_format(struct gw_fn_metrics *m, const char *name, int64_t replicas,
                      struct fx_buf *out, int part)
{
	struct code_stats codes[MAX_CODES];
	size_t ncodes;
	uint64_t started;
	int rc = 0;

	pthread_mutex_lock(&m->mu);
	ncodes = m->ncodes;
	memcpy(codes, m->codes, ncodes * sizeof(codes[0]));
	started = m->started;
	pthread_mutex_unlock(&m->mu);
	qsort(codes, ncodes, sizeof(codes[0]), cmp_code);

	switch (part) {
	case 0:
		for (size_t i = 0; i < ncodes && rc == 0; i++)
			rc =
			    fx_buf_appendf(out,
			                   "gateway_function_invocation_total{code=\"%d\","
			                   "function_name=\"%s\"} %llu\n",
			                   codes[i].code, name, (unsigned long long)codes[i].count);
		break;
	case 1:
		for (size_t i = 0; i < ncodes && rc == 0; i++) {
			uint64_t cum = 0;
			for (size_t b = 0; b < NBUCKETS && rc == 0; b++) {
				cum += codes[i].buckets[b];
				rc = fx_buf_appendf(out,
				                    "gateway_functions_seconds_bucket{code=\"%d\","
				                    "function_name=\"%s\",le=\"%s\"} %llu\n",
				                    codes[i].code, name, bucket_le[b],
				                    (unsigned long long)cum);
			}
			if (rc == 0)
				rc = fx_buf_appendf(
				    out,
				    "gateway_functions_seconds_bucket{code=\"%d\",function_name=\"%"
				    "s\","
				    "le=\"+Inf\"} %llu\n"
				    "gateway_functions_seconds_sum{code=\"%d\",function_name=\"%"
				    "s\"} "
				    "%.9g\n"
				    "gateway_functions_seconds_count{code=\"%d\",function_name=\"%"
				    "s\"} "
				    "%llu\n",
				    codes[i].code, name, (unsigned long long)codes[i].count,
				    codes[i].code, name, codes[i].sum, codes[i].code, name,
				    (unsigned long long)codes[i].count);
		}
		break;
	case 2:
		rc = fx_buf_appendf(
		    out, "gateway_function_invocation_started{function_name=\"%s\"} %llu\n", name,
		    (unsigned long long)started);
		break;
	case 3:
		rc = fx_buf_appendf(out, "gateway_service_count{function_name=\"%s\"} %lld\n", name,
		                    (long long)replicas);
		break;
	default:
		rc = -EINVAL;
	}
	return rc;
}
