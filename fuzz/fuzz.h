/* fuzz.h: shared by the libFuzzer targets fuzz/<area>_<name>_fuzz.c.
 *
 * Each target defines LLVMFuzzerTestOneInput and calls the project's real
 * parser. It is built twice: with clang -fsanitize=fuzzer (make fuzz, to
 * search) and with gcc under ASan + UBSan, linked with replay_main.c (make
 * check, to replay fuzz/corpus/<area>_<name>/ on every test run).
 *
 * A target aborts (FZ_ASSERT) when an invariant of the parser breaks, so the
 * fuzzer reports the input as a crash. */
#ifndef FX_FUZZ_H
#define FX_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FZ_ASSERT(c)                                                                               \
	do {                                                                                       \
		if (!(c)) {                                                                        \
			fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__, __LINE__, #c);  \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

/* data as a NUL-terminated string (NULs inside are kept: C parsers stop at the
 * first). Caller frees. Aborts on ENOMEM: a fuzz target may. */
static inline char *fz_str(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	FZ_ASSERT(s != NULL);
	if (size > 0)
		memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

/* Next field of s ending at sep (replaced by NUL); *s moves past it. NULL at the end. */
static inline char *fz_field(char **s, char sep)
{
	char *f = *s, *e;
	if (f == NULL)
		return NULL;
	e = strchr(f, sep);
	if (e != NULL) {
		*e = '\0';
		*s = e + 1;
	} else {
		*s = NULL;
	}
	return f;
}

#endif
