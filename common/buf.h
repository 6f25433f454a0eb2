/* buf.h: a growable byte buffer with a hard cap (after curl's dynbuf).
 * data is NUL-terminated whenever it is non-NULL, so text can be used as a string.
 * An append that fails leaves the buffer failed (curl's dynbuf rule): every
 * later append fails with the same error and fx_buf_detach returns NULL, so a
 * text is checked once, at the end, and is never silently cut. */
#ifndef FX_BUF_H
#define FX_BUF_H

#include <stddef.h>

struct fx_buf {
	char *data; /* owned; NULL until the first append */
	size_t len;
	size_t cap;
	size_t max; /* appends past max fail with -E2BIG */
	int err;    /* 0, or the first failed append's error (sticky) */
};

void fx_buf_init(struct fx_buf *b, size_t max);
void fx_buf_release(struct fx_buf *b);
/* Empties the buffer (and clears its error) but keeps its memory. */
void fx_buf_reset(struct fx_buf *b);
/* 0, -ENOMEM, or -E2BIG (over max: nothing is appended); the buffer's error
 * once one append failed. */
int fx_buf_append(struct fx_buf *b, const void *p, size_t n);
int fx_buf_puts(struct fx_buf *b, const char *s);
int fx_buf_appendf(struct fx_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* 0, or the error of the first append that failed. */
int fx_buf_error(const struct fx_buf *b);
/* Hands the data to the caller (who frees it) and empties the buffer.
 * Returns "" (malloc'd) for an empty buffer; NULL (errno set) on ENOMEM or
 * when an append failed (the buffer is then released). */
char *fx_buf_detach(struct fx_buf *b, size_t *len);

/* A formatted string in fresh memory (caller frees); NULL when out of memory.
 * The one place for the "error message" pattern: *err = fx_strdupf(...). */
char *fx_strdupf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Value of a hexadecimal digit, or -1. */
int fx_hexval(char c);

#endif
