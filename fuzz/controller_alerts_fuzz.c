/* Alertmanager webhook payload: alerts_parse, then the deduplication memory
 * and the scaling formula driven by what it returns. */
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
		FZ_ASSERT(memchr(v[i].function, '\0', sizeof(v[i].function)) != NULL);
		FZ_ASSERT(memchr(v[i].key, '\0', sizeof(v[i].key)) != NULL);
		FZ_ASSERT(fx_spec_valid_name(v[i].function));
		if (v[i].firing) {
			if (alert_memory_should_step(m, &v[i], now, 30000)) {
				alert_memory_stepped(m, &v[i], now);
				cur = scale_compute(true, cur, 1, 20, 20);
			}
		} else {
			alert_memory_resolved(m, &v[i], now);
			cur = scale_compute(false, cur, 1, 20, 20);
		}
		FZ_ASSERT(cur >= 1 && cur <= 20);
		now += 7;
	}
	alert_memory_free(m);
	free(v);
	return 0;
}
