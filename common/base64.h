/* base64.h: standard base64 (RFC 4648, "+/" alphabet), the one copy in the
 * tree: Docker wants secrets' data in it, and OpenFaaS sends a secret's
 * rawValue (Go's []byte in JSON) in it. No I/O. */
#ifndef FX_BASE64_H
#define FX_BASE64_H

#include "buf.h"

#include <stddef.h>

/* Appends the encoding of p[0..n) (padded) to out. 0, -ENOMEM or -E2BIG. */
int fx_base64_encode(const void *p, size_t n, struct fx_buf *out);
/* Appends the bytes s[0..n) encode to out. Padding is optional, but when
 * present it must be right; any other character (blanks included) is
 * -EINVAL. 0, -EINVAL, -ENOMEM or -E2BIG. */
int fx_base64_decode(const char *s, size_t n, struct fx_buf *out);

#endif
