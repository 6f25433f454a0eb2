/* The settings table loader (common/conf.c) on hostile command lines: the
 * input split at NUL bytes is argv[1..]. Invariant: it answers 0, 1 (help) or
 * -EINVAL with a message, and settings stay within their bounds. */
#include "conf.h"
#include "fuzz.h"

#include <errno.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *str = NULL, *secret = NULL;
	int64_t num = 0, dur = 0;
	uint64_t bytes = 0;
	bool flag = false, once = false;
	const struct fx_setting tab[] = {
	    {"fz_string", FX_CONF_STRING, "x", "a string", &str, 0, 0, 0},
	    {"fz_int", FX_CONF_INT, "5", "an int", &num, 1, 100, 0},
	    {"fz_bool", FX_CONF_BOOL, "false", "a bool", &flag, 0, 0, 0},
	    {"fz_duration", FX_CONF_DURATION, "10s", "a duration", &dur, 0, 3600000, 0},
	    {"fz_size", FX_CONF_SIZE, "1Mi", "a size", &bytes, 1, 1 << 30, 0},
	    {"fz_secret", FX_CONF_STRING, NULL, "a secret", &secret, 0, 0, FX_CONF_SECRET},
	    {"fz_once", FX_CONF_BOOL, NULL, "a flag only", &once, 0, 0, FX_CONF_NO_ENV},
	};
	char *s = fz_str(data, size > 4096 ? 4096 : size);
	size_t len = size > 4096 ? 4096 : size;
	char prog[] = "fuzz", *argv[66] = {prog};
	int argc = 1, rest = -1, rc;
	char *err = NULL;

	for (size_t i = 0; i < len && argc < 65;) {
		argv[argc++] = s + i;
		i += strlen(s + i) + 1;
	}
	argv[argc] = NULL;
	rc = fx_conf_load(tab, sizeof(tab) / sizeof(tab[0]), argc, argv,
	                  size > 0 && (data[0] & 1) ? &rest : NULL, &err);
	FZ_ASSERT(rc == 0 || rc == 1 || (rc == -EINVAL && err != NULL));
	if (rc == 0) {
		FZ_ASSERT(num >= 1 && num <= 100);
		FZ_ASSERT(dur >= 0 && dur <= 3600000);
		FZ_ASSERT(bytes >= 1 && bytes <= 1 << 30);
		FZ_ASSERT(str != NULL);
		FZ_ASSERT(size == 0 || !(data[0] & 1) || (rest >= 1 && rest <= argc));
	}
	free(err);
	free(s);
	return 0;
}
