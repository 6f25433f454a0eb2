/* diff.h: a unified diff of two texts, line based (Myers' O(ND) algorithm),
 * the one copy for faasctl diff and the controller's dry-run answers. Pure. */
#ifndef FX_DIFF_H
#define FX_DIFF_H

#include "buf.h"

/* Appends a unified diff of a -> b (context lines of context, 3 when
 * negative) to out, with "--- a_name" / "+++ b_name" headers; nothing when
 * equal. 1 when different, 0 when equal, -ENOMEM or -E2BIG (over 20,000
 * lines). */
int fx_diff(const char *a, const char *b, const char *a_name, const char *b_name, int context,
            struct fx_buf *out);

#endif
