/* plan.c: the worker's decisions, without I/O (tests/unit/queue-worker/plan_test.c). */
#include "worker.h"

#include "jsq.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

enum qw_action qw_plan(long status, uint64_t attempt, int retries)
{
	if (!fx_jsq_retryable(status))
		return QW_ACK; /* done, or a 4xx that would fail again */
	if (retries < 0)
		retries = 0;
	return attempt <= (uint64_t)retries ? QW_RETRY : QW_DEAD;
}

static bool clean(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s <= ' ' || *s == 0x7f)
			return false;
	return true;
}

int qw_target(const char *subject, const char *path, const char *query, char *out, size_t max)
{
	const char *fn = fx_jsq_function_of(subject);
	int n;

	if (!fn || !path || path[0] != '/' || !clean(path) || (query && !clean(query)))
		return -EINVAL;
	n = snprintf(out, max, "/function/%s%s%s%s", fn, strcmp(path, "/") == 0 ? "" : path,
	             query ? "?" : "", query ? query : "");
	if (n < 0 || (size_t)n >= max)
		return -E2BIG;
	return 0;
}
