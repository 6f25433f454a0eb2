/* log.h: one line per event on stderr, logfmt style:
 *   ts=2026-11-26T19:31:21.123Z level=info prog=fwatchdog msg=listening addr=127.0.0.1:8080
 * Each line goes out in a single write(2), so threads never interleave. */
#ifndef FX_LOG_H
#define FX_LOG_H

enum fx_log_level { FX_LOG_DEBUG, FX_LOG_INFO, FX_LOG_WARN, FX_LOG_ERROR };

/* prog is borrowed and must outlive the program (a literal). */
void fx_log_init(const char *prog, enum fx_log_level min);
void fx_log_set_level(enum fx_log_level min);
/* Parses "debug", "info", "warn", "error"; returns 0 or -EINVAL. */
int fx_log_parse_level(const char *s, enum fx_log_level *out);

/* msg is a short event name; fmt (may be NULL) adds key=value pairs. */
void fx_log(enum fx_log_level lvl, const char *msg, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Same, plus err="strerror(errnum)" (errnum positive or negative). */
void fx_log_errno(enum fx_log_level lvl, int errnum, const char *msg, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#define log_debug(...) fx_log(FX_LOG_DEBUG, __VA_ARGS__)
#define log_info(...)  fx_log(FX_LOG_INFO, __VA_ARGS__)
#define log_warn(...)  fx_log(FX_LOG_WARN, __VA_ARGS__)
#define log_error(...) fx_log(FX_LOG_ERROR, __VA_ARGS__)

#endif
