/* yamlw.c: a string as a YAML scalar (see yamlw.h). */
#include "yamlw.h"

#include <ctype.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

/* Length (2..4) of the well-formed UTF-8 sequence at p, lead byte >= 0x80,
 * with its code point in *cp; 0 when malformed (bad lead or continuation
 * byte, overlong, surrogate, past U+10FFFF). Stops at a NUL: it is no
 * continuation byte. */
static int utf8_seq(const unsigned char *p, uint32_t *cp)
{
	uint32_t c;
	int k;
	if (*p >= 0xc2 && *p <= 0xdf)
		c = *p & 0x1fu, k = 1;
	else if (*p >= 0xe0 && *p <= 0xef)
		c = *p & 0x0fu, k = 2;
	else if (*p >= 0xf0 && *p <= 0xf4)
		c = *p & 0x07u, k = 3;
	else
		return 0;
	for (int i = 1; i <= k; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (p[i] & 0x3fu);
	}
	if ((k == 2 && c < 0x800) || (k == 3 && (c < 0x10000 || c > 0x10ffff)) ||
	    (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return k + 1;
}

/* A character past ASCII that YAML holds as text. */
static bool printable(uint32_t cp)
{
	return cp > 0x9f && cp != 0xfeff && cp != 0xfffe && cp != 0xffff;
}

bool fx_yaml_text_ok(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	while (*p) {
		uint32_t cp;
		int n;
		if (*p < 0x80) {
			p++;
			continue;
		}
		n = utf8_seq(p, &cp);
		if (n == 0 || !printable(cp))
			return false;
		p += n;
	}
	return true;
}

static bool special_word(const char *s)
{
	static const char *const w[] = {"true", "false", "yes", "no",   "on",
	                                "off",  "y",     "n",   "null", "~"};
	for (size_t i = 0; i < sizeof(w) / sizeof(w[0]); i++)
		if (strcasecmp(s, w[i]) == 0)
			return true;
	return false;
}

static bool plain_ok(const char *s)
{
	if (!(isalpha((unsigned char)s[0]) || s[0] == '/' || s[0] == '_') ||
	    s[strlen(s) - 1] == ':' || special_word(s))
		return false;
	for (const char *p = s; *p; p++)
		if (!isalnum((unsigned char)*p) && strchr("._/:=@+-", *p) == NULL)
			return false;
	return true;
}

static int write_scalar(struct fx_buf *b, const char *s, bool key)
{
	const unsigned char *p = (const unsigned char *)s;
	if (plain_ok(s))
		return fx_buf_puts(b, s);
	fx_buf_puts(b, "\"");
	while (*p) {
		uint32_t cp;
		int n;
		if (*p >= 0x80) {
			n = utf8_seq(p, &cp);
			if (n > 0 && printable(cp) && !(key && (cp == 0x2028 || cp == 0x2029)))
				fx_buf_append(b, p, (size_t)n);
			else if (n > 0) /* C1, U+FEFF, U+FFFE, U+FFFF; a key's U+2028, U+2029 */
				fx_buf_appendf(b, "\\u%04x", (unsigned)cp);
			else
				fx_buf_appendf(b, "\\x%02x", *p);
			p += n > 0 ? n : 1;
			continue;
		}
		if (*p == '"' || *p == '\\')
			fx_buf_appendf(b, "\\%c", *p);
		else if (*p == '\n')
			fx_buf_puts(b, "\\n");
		else if (*p == '\t')
			fx_buf_puts(b, "\\t");
		else if (*p < 0x20 || *p == 0x7f)
			fx_buf_appendf(b, "\\x%02x", *p);
		else
			fx_buf_append(b, p, 1);
		p++;
	}
	return fx_buf_puts(b, "\"");
}

int fx_yaml_scalar(struct fx_buf *b, const char *s)
{
	return write_scalar(b, s, false);
}

int fx_yaml_key(struct fx_buf *b, const char *s)
{
	return write_scalar(b, s, true);
}
