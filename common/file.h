/* file.h: reading small files whole (settings, certificates, secrets), the
 * one copy for every program. */
#ifndef FX_FILE_H
#define FX_FILE_H

#include <stddef.h>

/* The whole file, NUL-terminated, its length in *len (may be NULL). NULL
 * with errno set: the open's or read's error, EFBIG when longer than max. */
char *fx_read_file(const char *path, size_t max, size_t *len);
/* A secret or token file (4 KiB at most): its text without trailing blanks
 * and line ends. NULL when the path is empty, unreadable or too long. */
char *fx_read_secret(const char *path);

#endif
