/* A gateway's GET /_/concurrency answer: kpa_parse_gateway, then each
 * reading fed to the autoscaler's decision (controller/kpa.c) as a second of
 * load, with the replicas following: the count stays within [min, max]. */
#include "fuzz.h"
#include "controller/controller.h"

#include <errno.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kpa_reading *v = NULL;
	struct fx_scale s = {.min = 2,
	                     .max = 30,
	                     .metric = FX_METRIC_CONCURRENCY,
	                     .target = 3,
	                     .window_ms = 10000,
	                     .panic_window_ms = 2000,
	                     .down_delay_ms = 1000};
	struct kpa_decision d;
	struct kpa k;
	char *err = NULL;
	size_t n = 0;
	int64_t cur = 2;
	uint64_t prev = 0;
	int rc = kpa_parse_gateway((const char *)data, size, &v, &n, &err);

	if (rc < 0) {
		FZ_ASSERT(err != NULL || rc == -ENOMEM);
		free(err);
		return 0;
	}
	FZ_ASSERT(err == NULL && n <= CTL_MAX_FUNCTIONS);
	kpa_init(&k);
	for (size_t i = 0; i < n; i++) {
		int64_t t = (int64_t)(i + 1) * 1000;
		double rps = kpa_rate(prev, v[i].requests, 1000);
		FZ_ASSERT(fx_spec_valid_name(v[i].name) && v[i].inflight >= 0 && rps >= 0);
		prev = v[i].requests;
		kpa_observe(&k, &s, t, i % 2 ? (double)v[i].inflight : rps);
		cur = kpa_decide(&k, &s, cur, t, &d);
		FZ_ASSERT(cur >= s.min && cur <= s.max && d.reason < KPA_REASONS);
	}
	free(v);
	return 0;
}
