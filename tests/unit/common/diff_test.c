#include "../fx_test.h"
#include "diff.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *diff(const char *a, const char *b, int *r)
{
	struct fx_buf out;
	fx_buf_init(&out, 1 << 24);
	*r = fx_diff(a, b, "a", "b", 3, &out);
	return fx_buf_detach(&out, NULL);
}

START_TEST(equal_texts)
{
	int r;
	char *d = diff("x\ny\n", "x\ny\n", &r);
	ck_assert_int_eq(r, 0);
	ck_assert_str_eq(d, "");
	free(d);
	d = diff("", "", &r);
	ck_assert_int_eq(r, 0);
	free(d);
}
END_TEST

START_TEST(known_output)
{
	int r;
	char *d = diff("a\nb\nc\nd\ne\nf\ng\nh\ni\nj\n", "a\nb\nc\nd\nE\nf\ng\nh\ni\nj\nk\n", &r);
	ck_assert_int_eq(r, 1);
	/* Same as GNU diff -u: one hunk, changes 4 lines apart are merged. */
	ck_assert_str_eq(
	    d, "--- a\n+++ b\n@@ -2,9 +2,10 @@\n b\n c\n d\n-e\n+E\n f\n g\n h\n i\n j\n+k\n");
	free(d);

	d = diff("", "new\nfile\n", &r);
	ck_assert_str_eq(d, "--- a\n+++ b\n@@ -0,0 +1,2 @@\n+new\n+file\n");
	free(d);
	d = diff("gone\n", "", &r);
	ck_assert_str_eq(d, "--- a\n+++ b\n@@ -1 +0,0 @@\n-gone\n");
	free(d);
	/* Two far-apart changes: two hunks. */
	d = diff("1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12\n",
	         "1\nX\n3\n4\n5\n6\n7\n8\n9\n10\nY\n12\n", &r);
	ck_assert_str_eq(d, "--- a\n+++ b\n@@ -1,5 +1,5 @@\n 1\n-2\n+X\n 3\n 4\n 5\n"
	                    "@@ -8,5 +8,5 @@\n 8\n 9\n 10\n-11\n+Y\n 12\n");
	free(d);
}
END_TEST

/* Applies a unified diff to a; returns the result (caller frees) or NULL. */
static char *patch(const char *a, const char *d)
{
	struct fx_buf out;
	const char *p = d;
	int line = 0; /* lines of a consumed */
	const char *ap = a;

	fx_buf_init(&out, 1 << 24);
	/* skip headers */
	p = strchr(p, '\n') + 1;
	p = strchr(p, '\n') + 1;
	while (*p) {
		int as, al = 1, bs, bl = 1;
		if (sscanf(p, "@@ -%d,%d +%d,%d @@", &as, &al, &bs, &bl) < 1)
			return NULL;
		if (al == 0)
			as++; /* "-N,0" names the line before */
		p = strchr(p, '\n') + 1;
		while (line < as - 1) { /* copy untouched lines */
			const char *e = strchr(ap, '\n');
			fx_buf_append(&out, ap, (size_t)(e - ap + 1));
			ap = e + 1;
			line++;
		}
		while (*p && *p != '@') {
			const char *e = strchr(p, '\n');
			if (*p == ' ' || *p == '-') {
				const char *ae = strchr(ap, '\n');
				if ((size_t)(ae - ap) != (size_t)(e - p - 1) ||
				    memcmp(ap, p + 1, (size_t)(ae - ap)))
					return NULL; /* context or removal does not match a */
				if (*p == ' ')
					fx_buf_append(&out, ap, (size_t)(ae - ap + 1));
				ap = ae + 1;
				line++;
			} else if (*p == '+') {
				fx_buf_append(&out, p + 1, (size_t)(e - p));
			}
			p = e + 1;
		}
	}
	fx_buf_puts(&out, ap);
	return fx_buf_detach(&out, NULL);
}

static int lcs(const char **a, int n, const char **b, int m)
{
	int *t = calloc((size_t)(n + 1) * (size_t)(m + 1), sizeof(int)), r;
	for (int i = n - 1; i >= 0; i--)
		for (int j = m - 1; j >= 0; j--)
			t[i * (m + 1) + j] = strcmp(a[i], b[j]) == 0
			                         ? 1 + t[(i + 1) * (m + 1) + j + 1]
			                     : t[(i + 1) * (m + 1) + j] > t[i * (m + 1) + j + 1]
			                         ? t[(i + 1) * (m + 1) + j]
			                         : t[i * (m + 1) + j + 1];
	r = t[0];
	free(t);
	return r;
}

/* Random texts over a small alphabet: the diff patches a into b, and it is
 * minimal (as many -/+ lines as n + m - 2 * LCS). */
/* The controller's dry-run cases (the API answers with this diff too). */
START_TEST(dry_run_cases)
{
	int r;
	char *d = diff("a\nb\nc\nd\ne\nf\ng\nh\ni\nj\n", "a\nb\nc\nd\nE\nf\ng\nh\ni\nj\nk\n", &r);
	ck_assert_int_eq(r, 1);
	ck_assert_str_eq(d, "--- a\n+++ b\n@@ -2,9 +2,10 @@\n b\n c\n d\n-e\n+E\n f\n g\n h\n"
	                    " i\n j\n+k\n");
	free(d);
	d = diff("", "x\ny\n", &r);
	ck_assert_str_eq(d, "--- a\n+++ b\n@@ -0,0 +1,2 @@\n+x\n+y\n");
	free(d);
	/* two distant changes: two hunks */
	d = diff("1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12\n13\n14\n15\n",
	         "X\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12\n13\n14\nY\n", &r);
	ck_assert_str_eq(d, "--- a\n+++ b\n@@ -1,4 +1,4 @@\n-1\n+X\n 2\n 3\n 4\n@@ -12,4 +12,4 @@\n"
	                    " 12\n 13\n 14\n-15\n+Y\n");
	free(d);
}
END_TEST

START_TEST(random_property)
{
	static const char *const words[] = {"a", "b", "c", "d", "e"};
	unsigned seed = 12345;
	for (int iter = 0; iter < 400; iter++) {
		const char *av[40], *bv[40];
		int n = (int)(rand_r(&seed) % 30), m = (int)(rand_r(&seed) % 30), r, changes = 0;
		struct fx_buf a, b;
		char *d, *res;
		fx_buf_init(&a, 1 << 16);
		fx_buf_init(&b, 1 << 16);
		fx_buf_puts(&a, "");
		fx_buf_puts(&b, "");
		for (int i = 0; i < n; i++) {
			av[i] = words[rand_r(&seed) % 5];
			fx_buf_appendf(&a, "%s\n", av[i]);
		}
		for (int i = 0; i < m; i++) {
			bv[i] = words[rand_r(&seed) % 5];
			fx_buf_appendf(&b, "%s\n", bv[i]);
		}
		d = diff(a.data, b.data, &r);
		ck_assert_int_eq(r, strcmp(a.data, b.data) != 0);
		if (r == 1) {
			res = patch(a.data, d);
			ck_assert_ptr_nonnull(res);
			ck_assert_str_eq(res, b.data);
			free(res);
			for (const char *p = d; (p = strchr(p, '\n')) != NULL; p++)
				if (p[1] == '+' || p[1] == '-')
					changes++;
			changes -=
			    1; /* the +++ header (--- is the first line, not after a newline) */
			ck_assert_int_eq(changes, n + m - 2 * lcs(av, n, bv, m));
		}
		free(d);
		fx_buf_release(&a);
		fx_buf_release(&b);
	}
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("diff");
	TCase *t = tcase_create("diff");
	tcase_add_test(t, equal_texts);
	tcase_add_test(t, known_output);
	tcase_add_test(t, dry_run_cases);
	tcase_add_test(t, random_property);
	suite_add_tcase(s, t);
	return s;
}

FX_TEST_MAIN()
