/* The queue worker's reading of a message from NATS (queue-worker/plan.c,
 * common/jsq.c): a message's subject, path and query become the URL the
 * gateway is called with. Input: line 1 subject, line 2 path, line 3 query
 * ("-": none), line 4 the Faas-Retries header, line 5 a status and an attempt.
 * Invariants: a target is "/function/<valid name>" followed by the path and
 * query, with no byte that could split a request line; retries are -1..100;
 * the plan never retries past the limit nor retries a 2xx or 4xx. */
#include "fuzz.h"
#include "jsq.h"
#include "queue-worker/worker.h"

#include <stdio.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fz_str(data, size), *rest = s, out[512];
	const char *subject = fz_field(&rest, '\n'), *path = fz_field(&rest, '\n');
	const char *query = fz_field(&rest, '\n'), *retries = fz_field(&rest, '\n');
	const char *nums = fz_field(&rest, '\n');
	long status = 0;
	unsigned long long attempt = 1;

	if (query && strcmp(query, "-") == 0)
		query = NULL;
	if (qw_target(subject, path, query, out, sizeof(out)) == 0) {
		const char *fn = fx_jsq_function_of(subject);
		FZ_ASSERT(fn != NULL);
		FZ_ASSERT(strncmp(out, "/function/", 10) == 0);
		FZ_ASSERT(strncmp(out + 10, fn, strlen(fn)) == 0);
		for (const char *p = out; *p; p++)
			FZ_ASSERT((unsigned char)*p > ' ' && *p != 0x7f);
	}
	int r = fx_jsq_parse_retries(retries);
	FZ_ASSERT(r >= -1 && r <= FX_JSQ_MAX_RETRIES);
	if (nums && sscanf(nums, "%ld %llu", &status, &attempt) == 2) {
		enum qw_action a = qw_plan(status, attempt, r);
		if (status >= 200 && status < 500 && status != 429)
			FZ_ASSERT(a == QW_ACK);
		if (a == QW_RETRY)
			FZ_ASSERT(attempt <= (unsigned long long)(r < 0 ? 0 : r));
	}
	int64_t d = fx_jsq_backoff_ms(1000, 60000, attempt, (uint64_t)status);
	FZ_ASSERT(d >= 1000 && d <= 66000);
	free(s);
	return 0;
}
