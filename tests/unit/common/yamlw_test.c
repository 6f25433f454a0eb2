#include "../fx_test.h"
#include "yamlw.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

/* s written by the one writer, as a mapping's key and value and as a
 * sequence item, read back by libyaml: every scalar must be s again (len
 * bytes), and a plain one must be nothing a YAML resolver could type. */
static const char *words[] = {"true", "false", "yes", "no", "on", "off", "y", "n", "null", "~"};

static bool typable(const char *s)
{
	char *end;
	if (*s == '\0')
		return true;
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (strcasecmp(s, words[i]) == 0)
			return true;
	(void)strtod(s, &end);
	return *end == '\0' || (s[0] >= '0' && s[0] <= '9') || strchr(".+-", s[0]) != NULL;
}

static void round_trip(const char *s, const char *want, size_t want_len)
{
	struct fx_buf b;
	yaml_parser_t p;
	yaml_event_t e;
	int scalars = 0;
	bool done = false;

	fx_buf_init(&b, 1 << 16);
	fx_yaml_key(&b, s);
	fx_buf_puts(&b, ": v\nk: ");
	fx_yaml_scalar(&b, s);
	fx_buf_puts(&b, "\nseq:\n- ");
	fx_yaml_scalar(&b, s);
	fx_buf_puts(&b, "\n- end\n");
	ck_assert_int_eq(fx_buf_error(&b), 0);

	ck_assert(yaml_parser_initialize(&p));
	yaml_parser_set_input_string(&p, (const unsigned char *)b.data, b.len);
	while (!done) {
		ck_assert_msg(yaml_parser_parse(&p, &e), "libyaml: %s in:\n%s", p.problem, b.data);
		if (e.type == YAML_SCALAR_EVENT) {
			/* the 1st, 4th and 6th scalars are s */
			if (scalars == 0 || scalars == 3 || scalars == 5) {
				ck_assert_msg(e.data.scalar.length == want_len &&
				                  memcmp(e.data.scalar.value, want, want_len) == 0,
				              "read back differs:\n%s", b.data);
				if (e.data.scalar.style == YAML_PLAIN_SCALAR_STYLE)
					ck_assert_msg(!typable(s), "typable plain scalar:\n%s",
					              b.data);
			}
			scalars++;
		}
		done = e.type == YAML_STREAM_END_EVENT;
		yaml_event_delete(&e);
	}
	ck_assert_int_eq(scalars, 7);
	yaml_parser_delete(&p);
	fx_buf_release(&b);
}

static char *written(const char *s)
{
	struct fx_buf b;
	fx_buf_init(&b, 1 << 16);
	ck_assert_int_eq(fx_yaml_scalar(&b, s), 0);
	return fx_buf_detach(&b, NULL);
}

#define WRITES(s, w)                                                                               \
	do {                                                                                       \
		char *got_ = written(s);                                                           \
		ck_assert_str_eq(got_, w);                                                         \
		free(got_);                                                                        \
	} while (0)

START_TEST(awkward_strings_read_back)
{
	static const char *const v[] = {
	    "yes",
	    "No",
	    "ON",
	    "Off",
	    "y",
	    "N",
	    "null",
	    "NULL",
	    "~",
	    "true",
	    "False",
	    "1.5",
	    "-1",
	    "+1",
	    "0x1F",
	    "0o17",
	    "1e3",
	    ".inf",
	    "-.inf",
	    ".NaN",
	    "2026-11-26",
	    "2026-11-26T19:00:00Z",
	    "1:30",
	    "",
	    " ",
	    "  lead",
	    "trail ",
	    "a: b",
	    "a:b",
	    "x:",
	    "x::",
	    "#c",
	    "a #b",
	    "a#b",
	    "-",
	    "- x",
	    "-x",
	    "? q",
	    "?",
	    ":",
	    "[x]",
	    "{y}",
	    "a,b",
	    "&a",
	    "*b",
	    "!t",
	    "!!str",
	    "|",
	    ">",
	    "> f",
	    "'s'",
	    "\"d\"",
	    "say \"hi\"",
	    "back\\slash",
	    "\\",
	    "%p",
	    "@at",
	    "`bt",
	    "<<",
	    "=",
	    "a=b",
	    "l1\nl2",
	    "\n",
	    "trailing\n",
	    "t\tb",
	    "\t",
	    "cr\rx",
	    "\r\n",
	    "\x01\x02\x1b\x1f\x7f",
	    "héllo ✓",
	    "日本語",
	    "é",
	    "emoji \xf0\x9f\x98\x80",
	    "ls\xe2\x80\xa8ps\xe2\x80\xa9",
	    "nel\xc2\x85x",
	    "c1\xc2\x80\xc2\x9f",
	    "bom\xef\xbb\xbfx",
	    "\xef\xbf\xbe\xef\xbf\xbf",
	    "_u",
	    "/path/x",
	    "a+b@c.d",
	    "faas/echo:1.0",
	    "plain text",
	    "2 of 2 ready",
	    "%",
	    "...",
	    "---",
	    "--- x",
	    "a\\nb",
	    "\"",
	    "'",
	    "x'y",
	    "key: [unclosed",
	};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		round_trip(v[i], v[i], strlen(v[i]));
}
END_TEST

/* The canonical YAML's rules (its bytes are hashed: these must not change). */
START_TEST(canonical_rules)
{
	WRITES("echo", "echo");
	WRITES("faas/echo:1.0", "faas/echo:1.0");
	WRITES("a:b", "a:b");
	WRITES("_x=y@z+w-v", "_x=y@z+w-v");
	WRITES("/bin/cat", "/bin/cat");
	WRITES("x:", "\"x:\"");
	WRITES("yes", "\"yes\"");
	WRITES("Null", "\"Null\"");
	WRITES("1.5", "\"1.5\"");
	WRITES("30s", "\"30s\"");
	WRITES("", "\"\"");
	WRITES("plain text", "\"plain text\"");
	WRITES("say \"hi\" \\", "\"say \\\"hi\\\" \\\\\"");
	WRITES("a\nb\tc\rd\x01\x7f", "\"a\\nb\\tc\\x0dd\\x01\\x7f\"");
	WRITES("héllo", "\"héllo\"");
	WRITES("ls\xe2\x80\xa8", "\"ls\xe2\x80\xa8\"");
}
END_TEST

/* A key keeps to one line; the same rules otherwise. */
START_TEST(keys)
{
	struct fx_buf b;
	char *got;
	fx_buf_init(&b, 1 << 10);
	ck_assert_int_eq(fx_yaml_key(&b, "ls\xe2\x80\xa8ps\xe2\x80\xa9"), 0);
	fx_buf_puts(&b, " ");
	ck_assert_int_eq(fx_yaml_key(&b, "team"), 0);
	fx_buf_puts(&b, " ");
	ck_assert_int_eq(fx_yaml_key(&b, "a: b"), 0);
	got = fx_buf_detach(&b, NULL);
	ck_assert_str_eq(got, "\"ls\\u2028ps\\u2029\" team \"a: b\"");
	free(got);
	fx_buf_release(&b);
}
END_TEST

/* What YAML cannot hold as text is escaped; bytes that are not UTF-8 are
 * said as the code points of their values (valid YAML, not the same bytes). */
START_TEST(not_text)
{
	WRITES("\xc2\x85", "\"\\u0085\"");
	WRITES("\xef\xbb\xbf", "\"\\ufeff\"");
	WRITES("a\xff"
	       "b",
	       "\"a\\xffb\"");
	WRITES("\xc3", "\"\\xc3\"");
	WRITES("\xe2\x80", "\"\\xe2\\x80\"");
	WRITES("\xc0\xaf", "\"\\xc0\\xaf\"");          /* overlong '/' */
	WRITES("\xed\xa0\x80", "\"\\xed\\xa0\\x80\""); /* a surrogate */
	round_trip("a\xff"
	           "b",
	           "a\xc3\xbf"
	           "b",
	           4);
	round_trip("\xc0\xaf", "\xc3\x80\xc2\xaf", 4);

	ck_assert(fx_yaml_text_ok(""));
	ck_assert(fx_yaml_text_ok("plain \x01\t\n ascii"));
	ck_assert(fx_yaml_text_ok("héllo ✓ \xf0\x9f\x98\x80 \xe2\x80\xa8 \xc2\xa0"));
	ck_assert(!fx_yaml_text_ok("\xc2\x85"));
	ck_assert(!fx_yaml_text_ok("\xc2\x9f"));
	ck_assert(!fx_yaml_text_ok("\xef\xbb\xbf"));
	ck_assert(!fx_yaml_text_ok("\xef\xbf\xbe"));
	ck_assert(!fx_yaml_text_ok("\xef\xbf\xbf"));
	ck_assert(!fx_yaml_text_ok("\xed\xa0\x80"));
	ck_assert(!fx_yaml_text_ok("\xc0\xaf"));
	ck_assert(!fx_yaml_text_ok("\xe0\x80\xaf"));
	ck_assert(!fx_yaml_text_ok("\xf4\x90\x80\x80"));
	ck_assert(!fx_yaml_text_ok("\xf5\x80\x80\x80"));
	ck_assert(!fx_yaml_text_ok("cut \xe2\x80"));
	ck_assert(!fx_yaml_text_ok("\x80"));
}
END_TEST

/* Random strings of indicators, blanks, controls and UTF-8 read back.
 * Not U+2028/U+2029 in a value: see yamlw.h (next to a blank, libyaml folds
 * them). */
START_TEST(random_strings_read_back)
{
	static const char *const piece[] = {"a",
	                                    "Z",
	                                    "0",
	                                    "9",
	                                    " ",
	                                    "-",
	                                    ":",
	                                    "#",
	                                    ",",
	                                    "[",
	                                    "]",
	                                    "{",
	                                    "}",
	                                    "&",
	                                    "*",
	                                    "!",
	                                    "|",
	                                    ">",
	                                    "'",
	                                    "\"",
	                                    "%",
	                                    "@",
	                                    "`",
	                                    "?",
	                                    "~",
	                                    ".",
	                                    "_",
	                                    "/",
	                                    "=",
	                                    "+",
	                                    "\\",
	                                    "\t",
	                                    "\n",
	                                    "\r",
	                                    "\x01",
	                                    "\x7f",
	                                    "\xc3\xa9",
	                                    "\xe2\x9c\x93",
	                                    "\xf0\x9f\x98\x80",
	                                    "\xc2\x85",
	                                    "\xef\xbb\xbf",
	                                    "yes",
	                                    "null",
	                                    "1.5",
	                                    ": ",
	                                    " #"};
	const size_t npiece = sizeof(piece) / sizeof(piece[0]);
	unsigned seed = 1515;
	for (int iter = 0; iter < 800; iter++) {
		struct fx_buf s;
		unsigned n = (unsigned)rand_r(&seed) % 10;
		fx_buf_init(&s, 1 << 10);
		fx_buf_puts(&s, "");
		while (n-- > 0)
			fx_buf_puts(&s, piece[(size_t)rand_r(&seed) % npiece]);
		ck_assert_int_eq(fx_buf_error(&s), 0);
		round_trip(s.data, s.data, s.len);
		fx_buf_release(&s);
	}
}
END_TEST

START_TEST(buffer_error)
{
	struct fx_buf b;
	fx_buf_init(&b, 4);
	ck_assert_int_eq(fx_yaml_scalar(&b, "longer than four"), -E2BIG);
	ck_assert_int_eq(fx_yaml_scalar(&b, "x"), -E2BIG);
	ck_assert_ptr_null(fx_buf_detach(&b, NULL));
	fx_buf_release(&b);
	fx_buf_init(&b, 4);
	ck_assert_int_eq(fx_yaml_scalar(&b, "a b c"), -E2BIG);
	fx_buf_release(&b);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("common_yamlw");
	TCase *t = tcase_create("yamlw");
	tcase_set_timeout(t, 60); /* ASan on a shared, busy machine */
	tcase_add_test(t, awkward_strings_read_back);
	tcase_add_test(t, canonical_rules);
	tcase_add_test(t, keys);
	tcase_add_test(t, not_text);
	tcase_add_test(t, random_strings_read_back);
	tcase_add_test(t, buffer_error);
	suite_add_tcase(s, t);
	return s;
}

FX_TEST_MAIN()
