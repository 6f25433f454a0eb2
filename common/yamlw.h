/* yamlw.h: how a string is written as a YAML scalar, the one place for both
 * YAML writers: the canonical YAML of a function (common/spec_emit.c, whose
 * bytes are hashed, so these rules must not change) and `faasctl get -o
 * yaml` (faasctl/print.c). Pure, no I/O. */
#ifndef FX_YAMLW_H
#define FX_YAMLW_H

#include "buf.h"

#include <stdbool.h>

/* Appends s as one YAML scalar: plain when nothing can read it as anything
 * else (it starts with a letter, '/' or '_', holds only [A-Za-z0-9._/:=@+-],
 * does not end in ':' and is not a YAML 1.1 bool or null word), otherwise
 * double-quoted: '"' and '\' escaped, "\n", "\t", other ASCII controls and
 * DEL as "\xNN", characters YAML may not hold as text (C1 controls, U+FEFF,
 * U+FFFE, U+FFFF) as "\uNNNN". A byte that is not well-formed UTF-8 cannot
 * be said in YAML: it is written "\xNN", which reads back as U+00NN (text
 * for which fx_yaml_text_ok holds reads back byte for byte).
 * 0, -ENOMEM or -E2BIG (the buffer's error). */
int fx_yaml_scalar(struct fx_buf *b, const char *s);
/* The same for a mapping's key, which must stay on one line: the line
 * separators U+2028 and U+2029 are escaped too. A value keeps them as they
 * are (the canonical bytes of a spec holding them must not change); libyaml,
 * a YAML 1.1 reader, reads them back as they are, except next to a blank,
 * which it folds with them. */
int fx_yaml_key(struct fx_buf *b, const char *s);

/* Text a YAML document can hold and load back as it is: well-formed UTF-8
 * of YAML's printable characters beyond ASCII (no C1 controls, surrogates,
 * overlongs, U+FEFF, U+FFFE, U+FFFF); every ASCII byte passes. */
bool fx_yaml_text_ok(const char *s);

#endif
