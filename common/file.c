/* file.c: reading small files whole (see file.h). */
#include "file.h"

#include "buf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SECRET_MAX 4096

char *fx_read_file(const char *path, size_t max, size_t *len)
{
	struct fx_buf b;
	char tmp[4096];
	size_t n;
	int rc = 0;
	char *out;
	FILE *f = fopen(path, "re");

	if (f == NULL)
		return NULL;
	fx_buf_init(&b, max);
	while (rc == 0 && (n = fread(tmp, 1, sizeof(tmp), f)) > 0)
		rc = fx_buf_append(&b, tmp, n);
	if (rc == 0 && ferror(f))
		rc = -EIO;
	fclose(f);
	if (rc < 0) {
		fx_buf_release(&b);
		errno = rc == -E2BIG ? EFBIG : -rc;
		return NULL;
	}
	out = fx_buf_detach(&b, &n); /* "" for an empty file */
	if (out == NULL)
		errno = ENOMEM;
	else if (len != NULL)
		*len = n;
	return out;
}

char *fx_read_secret(const char *path)
{
	size_t n;
	char *s;

	if (path == NULL || path[0] == '\0')
		return NULL;
	s = fx_read_file(path, SECRET_MAX, &n);
	if (s == NULL)
		return NULL;
	while (n > 0 && strchr(" \t\r\n", s[n - 1]) != NULL)
		s[--n] = '\0';
	return s;
}
