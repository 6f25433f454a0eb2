/* json.c: strict JSON reading. json-c parses (strict mode, UTF-8 checked);
 * a second pass over the same text, which json-c has already found
 * well-formed, refuses what json-c lets through: duplicate keys, NaN and
 * Infinity, "1." and raw control characters in strings. */
#include "json.h"
#include "buf.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct key {
	const char *p; /* decoded bytes: in the input, or in the arena when escaped */
	size_t n;
};

struct frame {
	char kind;       /* '{' or '[' */
	bool expect_key; /* object: the next string is a key */
	size_t base;     /* object: its first key in keys[] */
};

struct scan {
	const char *buf;
	size_t end; /* end of the value */
	struct key *keys;
	size_t nkeys, cap;
	char *arena; /* decoded escaped keys; never more bytes than the input */
	size_t used;
	char *err;
};

static int fail(struct scan *s, const char *what, size_t at)
{
	s->err = fx_strdupf("invalid JSON: %s at byte %zu", what, at);
	return s->err ? -EINVAL : -ENOMEM;
}

static bool is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static unsigned hex4(const char *p)
{
	unsigned v = 0;
	for (int i = 0; i < 4; i++)
		v = v * 16 + (unsigned)fx_hexval(p[i]);
	return v;
}

static size_t put_utf8(char *o, unsigned cp)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xc0 | (cp >> 6));
		o[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xe0 | (cp >> 12));
		o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		o[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	o[0] = (char)(0xf0 | (cp >> 18));
	o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	o[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* Decodes the escaped string body s[0..n) (json-c checked the escapes) into
 * the arena. A lone surrogate becomes U+FFFD, as json-c makes it. Returns
 * false when the key holds U+0000, which json-c would cut the key at. */
static bool decode_key(struct scan *s, const char *p, size_t n, struct key *k)
{
	char *o = s->arena + s->used;
	size_t w = 0;

	for (size_t i = 0; i < n; i++) {
		if (p[i] != '\\') {
			o[w++] = p[i];
			continue;
		}
		char e = p[++i];
		unsigned cp;
		switch (e) {
		case 'b':
			o[w++] = '\b';
			continue;
		case 'f':
			o[w++] = '\f';
			continue;
		case 'n':
			o[w++] = '\n';
			continue;
		case 'r':
			o[w++] = '\r';
			continue;
		case 't':
			o[w++] = '\t';
			continue;
		case 'u':
			break;
		default: /* " \ / */
			o[w++] = e;
			continue;
		}
		cp = hex4(p + i + 1);
		i += 4;
		if (cp >= 0xd800 && cp <= 0xdbff && i + 6 < n && p[i + 1] == '\\' &&
		    p[i + 2] == 'u') {
			unsigned lo = hex4(p + i + 3);
			if (lo >= 0xdc00 && lo <= 0xdfff) {
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
				i += 6;
			}
		}
		if (cp >= 0xd800 && cp <= 0xdfff)
			cp = 0xfffd;
		if (cp == 0)
			return false;
		/* An escape is at least 2 bytes of input for at most 4 of output
		 * from at least 6 (\uXXXX): the arena never overflows. */
		w += put_utf8(o + w, cp);
	}
	k->p = o;
	k->n = w;
	s->used += w;
	return true;
}

static int add_key(struct scan *s, size_t start, size_t stop)
{
	const char *p = s->buf + start;
	size_t n = stop - start;
	struct key k = {p, n};

	if (memchr(p, '\\', n) != NULL && !decode_key(s, p, n, &k))
		return fail(s, "a key holds U+0000", start - 1);
	if (s->nkeys == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 64;
		struct key *v = realloc(s->keys, cap * sizeof(*v));
		if (v == NULL)
			return -ENOMEM;
		s->keys = v;
		s->cap = cap;
	}
	s->keys[s->nkeys++] = k;
	return 0;
}

static int key_cmp(const void *a, const void *b)
{
	const struct key *x = a, *y = b;
	int c = memcmp(x->p, y->p, x->n < y->n ? x->n : y->n);
	if (c != 0)
		return c;
	return (x->n > y->n) - (x->n < y->n);
}

/* The keys of the object that just closed: sorted, two equal ones are next
 * to each other. */
static int check_keys(struct scan *s, size_t base, size_t at)
{
	size_t n = s->nkeys - base;
	struct key *v;

	if (n < 2)
		return 0;
	v = s->keys + base; /* keys is NULL until the first key */
	qsort(v, n, sizeof(*v), key_cmp);
	for (size_t i = 1; i < n; i++) {
		if (key_cmp(&v[i - 1], &v[i]) != 0)
			continue;
		char shown[68];
		size_t m = v[i].n < 64 ? v[i].n : 64;
		for (size_t j = 0; j < m; j++) {
			unsigned char c = (unsigned char)v[i].p[j];
			shown[j] = c < 0x20 || c == 0x7f || c == '"' ? '?' : (char)c;
		}
		memcpy(shown + m, v[i].n > 64 ? "..." : "", v[i].n > 64 ? 4 : 1);
		s->err = fx_strdupf("invalid JSON: duplicate key \"%s\" in the object ending at "
		                    "byte %zu",
		                    shown, at);
		return s->err ? -EINVAL : -ENOMEM;
	}
	return 0;
}

/* RFC 8259 number at buf[*i]: -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)? */
static bool number(const char *b, size_t end, size_t *i)
{
	size_t j = *i;
	if (j < end && b[j] == '-')
		j++;
	if (j < end && b[j] == '0')
		j++;
	else if (j < end && is_digit(b[j]))
		while (j < end && is_digit(b[j]))
			j++;
	else
		return false;
	if (j < end && b[j] == '.') {
		if (++j >= end || !is_digit(b[j]))
			return false;
		while (j < end && is_digit(b[j]))
			j++;
	}
	if (j < end && (b[j] == 'e' || b[j] == 'E')) {
		j++;
		if (j < end && (b[j] == '+' || b[j] == '-'))
			j++;
		if (j >= end || !is_digit(b[j]))
			return false;
		while (j < end && is_digit(b[j]))
			j++;
	}
	*i = j;
	return true;
}

static bool literal(const char *b, size_t end, size_t *i)
{
	static const char *const lit[] = {"true", "false", "null"};
	for (size_t k = 0; k < 3; k++) {
		size_t n = strlen(lit[k]);
		if (end - *i >= n && memcmp(b + *i, lit[k], n) == 0) {
			*i += n;
			return true;
		}
	}
	return false;
}

static int scan(struct scan *s, int depth)
{
	const char *b = s->buf;
	struct frame *st = calloc((size_t)depth + 1, sizeof(*st));
	int top = -1, rc = 0;
	size_t i = 0;

	if (st == NULL)
		return -ENOMEM;
	while (i < s->end && rc == 0) {
		char c = b[i];
		struct frame *f = top >= 0 ? &st[top] : NULL;
		switch (c) {
		case ' ':
		case '\t':
		case '\r':
		case '\n':
		case ':':
			i++;
			break;
		case '{':
		case '[':
			if (top + 1 > depth) {
				rc = fail(s, "nested too deeply", i);
				break;
			}
			st[++top] = (struct frame){c, c == '{', s->nkeys};
			i++;
			break;
		case '}':
		case ']':
			if (f == NULL || f->kind != (c == '}' ? '{' : '[')) {
				rc = fail(s, "unbalanced bracket", i);
				break;
			}
			if (c == '}' && (rc = check_keys(s, f->base, i)) == 0)
				s->nkeys = f->base;
			top--;
			i++;
			break;
		case ',':
			if (f != NULL && f->kind == '{')
				f->expect_key = true;
			i++;
			break;
		case '"': {
			size_t j = i + 1;
			while (j < s->end && b[j] != '"') {
				if ((unsigned char)b[j] < 0x20) {
					rc =
					    fail(s, "control character in a string (escape it)", j);
					break;
				}
				j += b[j] == '\\' ? 2 : 1;
			}
			if (rc == 0 && j >= s->end)
				rc = fail(s, "unterminated string", i);
			if (rc == 0 && f != NULL && f->kind == '{' && f->expect_key) {
				rc = add_key(s, i + 1, j);
				f->expect_key = false;
			}
			i = j + 1;
			break;
		}
		case 't':
		case 'f':
		case 'n':
			if (!literal(b, s->end, &i))
				rc = fail(s, "unknown literal (true, false and null are JSON)", i);
			break;
		default:
			if (c == '-' || is_digit(c)) {
				if (!number(b, s->end, &i))
					rc = fail(s,
					          "not a JSON number (NaN, Infinity, 1. and .5 "
					          "are not)",
					          i);
			} else {
				rc = fail(s,
				          c == '\'' ? "strings must be in double quotes"
				                    : "unexpected character",
				          i);
			}
			break;
		}
	}
	if (rc == 0 && top >= 0)
		rc = fail(s, "unbalanced bracket", s->end);
	free(st);
	return rc;
}

int fx_json_parse(const char *buf, size_t len, int depth, struct json_object **out, char **err)
{
	struct json_tokener *tok;
	struct json_object *o;
	enum json_tokener_error je;
	struct scan s = {.buf = buf};
	size_t end;
	int rc;

	*err = NULL;
	if (len > FX_JSON_MAX_INPUT || len > INT_MAX || depth < 1) {
		*err = fx_strdupf("invalid JSON: too large (%zu bytes)", len);
		return *err ? -EINVAL : -ENOMEM;
	}
	tok = json_tokener_new_ex(depth);
	if (tok == NULL)
		return -ENOMEM;
	/* Trailing bytes are refused below, with a clearer message. */
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_ALLOW_TRAILING_CHARS |
	                                JSON_TOKENER_VALIDATE_UTF8);
	o = json_tokener_parse_ex(tok, buf, (int)len);
	je = json_tokener_get_error(tok);
	end = json_tokener_get_parse_end(tok);
	if (je == json_tokener_continue && len > 0) {
		/* A bare number at the very end waits for a terminator: give it one. */
		o = json_tokener_parse_ex(tok, "", 1);
		je = json_tokener_get_error(tok);
		end = len;
	}
	if (o == NULL || je != json_tokener_success) {
		const char *what = json_tokener_error_desc(
		    je == json_tokener_continue || len == 0 ? json_tokener_error_parse_eof : je);
		*err = fx_strdupf("invalid JSON: %s at byte %zu", what, end);
		json_object_put(o);
		json_tokener_free(tok);
		return *err ? -EINVAL : -ENOMEM;
	}
	json_tokener_free(tok);
	for (size_t i = end; i < len; i++) {
		if (!is_ws(buf[i])) {
			*err = fx_strdupf("invalid JSON: trailing data after the value at byte %zu",
			                  i);
			json_object_put(o);
			return *err ? -EINVAL : -ENOMEM;
		}
	}
	s.end = end;
	s.arena = malloc(end + 1);
	rc = s.arena ? scan(&s, depth) : -ENOMEM;
	free(s.arena);
	free(s.keys);
	if (rc < 0) {
		json_object_put(o);
		*err = s.err;
		return s.err ? rc : -ENOMEM;
	}
	*out = o;
	return 0;
}
