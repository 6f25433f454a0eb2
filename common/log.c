#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static const char *log_prog = "faas";
static enum fx_log_level log_min = FX_LOG_INFO;
static const char *const level_names[] = {"debug", "info", "warn", "error"};

void fx_log_init(const char *prog, enum fx_log_level min)
{
	log_prog = prog;
	log_min = min;
}

void fx_log_set_level(enum fx_log_level min)
{
	log_min = min;
}

int fx_log_parse_level(const char *s, enum fx_log_level *out)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (strcmp(s, level_names[i]) == 0) {
			*out = (enum fx_log_level)i;
			return 0;
		}
	}
	return -EINVAL;
}

/* Appends to buf at *off, never past cap; keeps *off <= cap - 1. */
static void put(char *buf, size_t cap, size_t *off, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void put(char *buf, size_t cap, size_t *off, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (*off >= cap - 1)
		return;
	va_start(ap, fmt);
	n = vsnprintf(buf + *off, cap - *off, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	*off += (size_t)n;
	if (*off > cap - 1)
		*off = cap - 1;
}

static void log_line(enum fx_log_level lvl, int errnum, const char *msg, const char *fmt,
                     va_list ap)
{
	char line[4096];
	size_t off = 0;
	struct timeval tv;
	struct tm tm;

	if (lvl < log_min)
		return;
	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	put(line, sizeof(line), &off, "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ level=%s prog=%s",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
	    (long)(tv.tv_usec / 1000), level_names[lvl], log_prog);
	if (strpbrk(msg, " =\"") != NULL)
		put(line, sizeof(line), &off, " msg=\"%s\"", msg);
	else
		put(line, sizeof(line), &off, " msg=%s", msg);
	if (fmt != NULL && *fmt != '\0' && off < sizeof(line) - 2) {
		line[off++] = ' ';
		line[off] = '\0';
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
		int n = vsnprintf(line + off, sizeof(line) - off, fmt, ap);
#pragma GCC diagnostic pop
		if (n > 0)
			off += (size_t)n;
		if (off > sizeof(line) - 2)
			off = sizeof(line) - 2;
	}
	if (errnum != 0)
		put(line, sizeof(line), &off, " err=\"%s\"",
		    strerror(errnum < 0 ? -errnum : errnum));
	/* No newline may come from a value: a line is one event. */
	for (size_t i = 0; i < off; i++)
		if (line[i] == '\n' || line[i] == '\r')
			line[i] = ' ';
	line[off++] = '\n';
	(void)!write(STDERR_FILENO, line, off);
}

void fx_log(enum fx_log_level lvl, const char *msg, const char *fmt, ...)
{
	va_list ap;
	int saved = errno;

	va_start(ap, fmt);
	log_line(lvl, 0, msg, fmt, ap);
	va_end(ap);
	errno = saved;
}

void fx_log_errno(enum fx_log_level lvl, int errnum, const char *msg, const char *fmt, ...)
{
	va_list ap;
	int saved = errno;

	va_start(ap, fmt);
	log_line(lvl, errnum, msg, fmt, ap);
	va_end(ap);
	errno = saved;
}
