/* json.h: strict JSON reading (RFC 8259) on top of json-c, for every body
 * that comes from outside (the controller's API, Alertmanager's webhook).
 *
 * json-c alone is lenient: it stops at the end of the first value and ignores
 * what follows ({"a":1}garbage), keeps the last of two equal keys, and takes
 * single-quoted strings, NaN, Infinity, "1." and raw control characters in
 * strings. fx_json_parse refuses all of these, so a body means one thing to
 * every reader (no parser differential between a proxy, a log and us). */
#ifndef FX_JSON_H
#define FX_JSON_H

#include <json-c/json.h>
#include <stddef.h>

/* Largest text fx_json_parse takes (callers cap their bodies lower). */
#define FX_JSON_MAX_INPUT (64u << 20)

/* Parses buf[0..len) as exactly one JSON value: whitespace may surround it,
 * nothing else may follow; no key may appear twice in one object; strings and
 * numbers follow RFC 8259; the text is UTF-8; nesting is at most depth.
 * Returns 0 with *out (a new reference: caller puts), -EINVAL with *err (a
 * message starting "invalid JSON: ", caller frees; NULL when out of memory),
 * or -ENOMEM. *out is written only on success. */
int fx_json_parse(const char *buf, size_t len, int depth, struct json_object **out, char **err);

#endif
