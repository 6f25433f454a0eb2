/* Alertmanager webhook payload: alerts_parse, then the deduplication memory
 * and what each alert asks for (alert_decide: steps, back to min, idle to
 * zero) driven by what it returns. */
#include "fuzz.h"
#include "controller/controller.h"

#include <errno.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct alert *v = NULL;
	char *err = NULL;
	int n = alerts_parse((const char *)data, size, &v, &err);

	if (n < 0) {
		FZ_ASSERT(err != NULL || n == -ENOMEM);
		free(err);
		return 0;
	}
	FZ_ASSERT(err == NULL && n <= 1000);
	struct alert_memory *m = alert_memory_new();
	FZ_ASSERT(m != NULL);
	int64_t now = 1000, cur = 1;
	for (int i = 0; i < n; i++) {
		/* zero: true for every other alert (idle alerts may then reach 0) */
		struct fx_scale sc = {.min = 1,
		                      .max = 20,
		                      .factor = 20,
		                      .zero = i % 2 == 0,
		                      .metric = FX_METRIC_ALERTS};
		const char *why = NULL;
		int64_t want;
		FZ_ASSERT(memchr(v[i].function, '\0', sizeof(v[i].function)) != NULL);
		FZ_ASSERT(memchr(v[i].key, '\0', sizeof(v[i].key)) != NULL);
		FZ_ASSERT(fx_spec_valid_name(v[i].function));
		want = alert_decide(&v[i], &sc, cur, &why);
		FZ_ASSERT(want >= -1 && want <= 20 && (want >= 0 || why != NULL));
		FZ_ASSERT(want != 0 || (v[i].idle && v[i].firing && sc.zero));
		if (want < 0) {
			alert_memory_first_ignore(m, &v[i]);
		} else if (v[i].idle) {
			if (alert_memory_should_zero(m, &v[i], now, 30000)) {
				alert_memory_zeroed(m, &v[i], now);
				cur = want;
			}
		} else if (v[i].firing) {
			if (alert_memory_should_step(m, &v[i], now, 30000)) {
				alert_memory_stepped(m, &v[i], now);
				cur = want;
			}
		} else {
			alert_memory_resolved(m, &v[i], now);
			cur = want;
		}
		FZ_ASSERT(cur >= 0 && cur <= 20);
		now += 7;
	}
	alert_memory_free(m);
	free(v);
	return 0;
}
