/* units.h: parsing of the values users write in env, flags and YAML.
 * Every parser returns 0, -EINVAL (not of the form) or -ERANGE (too big);
 * the out-parameter is written only on success. No I/O, no logging. */
#ifndef FX_UNITS_H
#define FX_UNITS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* "500ms", "10s", "1m", "2h", "1m30s", "1.5s"; a bare integer is seconds. */
int fx_parse_duration_ms(const char *s, int64_t *out_ms);
/* Bytes: "1024", "16Mi", "128M", "1Gi", "64KiB", "16MB"; k/K/M/G/T decimal, Ki/Mi/Gi/Ti binary. */
int fx_parse_size(const char *s, uint64_t *out);
/* CPU in millicores: "500m" -> 500, "0.5" -> 500, "2" -> 2000. */
int fx_parse_cpu_milli(const char *s, int64_t *out);
/* true/false, 1/0, yes/no, on/off (any case). */
int fx_parse_bool(const char *s, bool *out);
/* Decimal integer within [min, max]. */
int fx_parse_int(const char *s, int64_t min, int64_t max, int64_t *out);

/* Shortest exact form: "500ms", "10s", "1m30s", "2h". Returns the length written
 * (buf is always NUL-terminated when n > 0). */
size_t fx_format_duration(int64_t ms, char *buf, size_t n);
/* Shortest exact binary form: "128Mi", "1Gi", "1000". */
size_t fx_format_size(uint64_t bytes, char *buf, size_t n);

#endif
