/* The value parsers of common/units.h (env, flags and YAML values).
 * Invariants: out-parameters are written only on success; what parses and
 * formats parses back to the same value. */
#include "fuzz.h"
#include "units.h"

#include <errno.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fz_str(data, size), buf[64];
	int64_t ms = -7, cpu = -7, iv = -7, back;
	uint64_t sz = 7, sback;
	bool b = true;
	int rc;

	rc = fx_parse_duration_ms(s, &ms);
	FZ_ASSERT(rc == 0 || rc == -EINVAL || rc == -ERANGE);
	if (rc == 0) {
		FZ_ASSERT(ms >= 0);
		fx_format_duration(ms, buf, sizeof(buf));
		FZ_ASSERT(fx_parse_duration_ms(buf, &back) == 0 && back == ms);
	} else {
		FZ_ASSERT(ms == -7);
	}

	rc = fx_parse_size(s, &sz);
	FZ_ASSERT(rc == 0 || rc == -EINVAL || rc == -ERANGE);
	if (rc == 0) {
		fx_format_size(sz, buf, sizeof(buf));
		FZ_ASSERT(fx_parse_size(buf, &sback) == 0 && sback == sz);
	} else {
		FZ_ASSERT(sz == 7);
	}

	rc = fx_parse_cpu_milli(s, &cpu);
	FZ_ASSERT(rc == 0 || rc == -EINVAL || rc == -ERANGE);
	FZ_ASSERT(rc == 0 || cpu == -7);

	rc = fx_parse_bool(s, &b);
	FZ_ASSERT(rc == 0 || (rc == -EINVAL && b));

	rc = fx_parse_int(s, -1000, 1000, &iv);
	FZ_ASSERT(rc == 0 ? iv >= -1000 && iv <= 1000 : iv == -7);
	rc = fx_parse_int(s, INT64_MIN, INT64_MAX, &iv);
	FZ_ASSERT(rc == 0 || rc == -EINVAL || rc == -ERANGE);

	free(s);
	return 0;
}
