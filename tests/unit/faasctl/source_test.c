/* Loading -f paths: directory walking, stack.yml conversion, duplicates, errors. */
#include "../fx_test.h"
#include "faasctl/faasctl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[64];

static void put(const char *rel, const char *text)
{
	char p[256];
	FILE *f;
	snprintf(p, sizeof(p), "%s/%s", dir, rel);
	f = fopen(p, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

static void sub(const char *rel)
{
	char p[256];
	snprintf(p, sizeof(p), "%s/%s", dir, rel);
	ck_assert_int_eq(mkdir(p, 0755), 0);
}

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/fctl-source-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static void teardown(void)
{
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static const char fn_a[] = "apiVersion: faas/v1\nkind: Function\nmetadata:\n  name: alpha\n"
                           "spec:\n  image: faas/alpha:1\n  fprocess: cat\n";
static const char fn_b[] = "apiVersion: faas/v1\nkind: Function\nmetadata:\n  name: beta\n"
                           "spec:\n  image: faas/beta:1\n---\n"
                           "apiVersion: faas/v1\nkind: Function\nmetadata:\n  name: gamma\n"
                           "spec:\n  image: faas/gamma:1\n  mode: http\n";
static const char stack[] =
    "version: 1.0\nprovider:\n  name: openfaas\n  gateway: http://127.0.0.1:8080\n"
    "functions:\n  wordcount:\n    lang: dockerfile\n    image: faas/wc:1\n"
    "    fprocess: wc\n    environment:\n      LANG: C\n"
    "    labels:\n      com.openfaas.scale.min: \"2\"\n"
    "      com.openfaas.scale.max: \"7\"\n      com.openfaas.scale.zero: \"true\"\n"
    "      team: text\n";

static struct json_object *find(const struct fctl_fnlist *l, const char *name)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->v[i].name, name) == 0)
			return l->v[i].obj;
	return NULL;
}

START_TEST(walks_directories)
{
	struct fctl_fnlist l = {0};
	struct fx_buf warn;
	char *err = NULL;
	const char *paths[] = {dir};

	put("a.yaml", fn_a);
	sub("nested");
	put("nested/b.yml", fn_b);
	put("README.md", "# not yaml\n");
	sub(".git");
	put(".git/config.yaml", "this: is not a function\n");
	put(".hidden.yaml", "neither: is this\n");
	fx_buf_init(&warn, 1 << 16);
	ck_assert_int_eq(fctl_load(paths, 1, &l, &warn, &err), 0);
	ck_assert_ptr_null(err);
	ck_assert_uint_eq(l.n, 3);
	ck_assert_str_eq(l.v[0].name, "alpha");
	ck_assert_str_eq(l.v[1].name, "beta");
	ck_assert_str_eq(l.v[2].name, "gamma");
	ck_assert_int_eq(l.v[2].doc, 2);
	ck_assert_ptr_nonnull(strstr(l.v[2].file, "nested/b.yml"));
	ck_assert_str_eq(fctl_jstr(l.v[2].obj, "spec.mode", NULL), "http");
	ck_assert_ptr_nonnull(strstr(warn.data, "README.md (not a *.yaml or *.yml file)"));
	ck_assert_ptr_null(strstr(warn.data, "config.yaml"));
	fctl_fnlist_release(&l);
	fx_buf_release(&warn);
}
END_TEST

START_TEST(stack_yml)
{
	struct fctl_fnlist l = {0};
	struct fx_buf warn, y;
	struct json_object *fn, *labels;
	char *err = NULL, p[256];
	const char *paths[] = {p};

	snprintf(p, sizeof(p), "%s/stack.yml", dir);
	put("stack.yml", stack);
	fx_buf_init(&warn, 1 << 16);
	ck_assert_int_eq(fctl_load(paths, 1, &l, &warn, &err), 0);
	ck_assert_uint_eq(l.n, 1);
	fn = find(&l, "wordcount");
	ck_assert_ptr_nonnull(fn);
	ck_assert_str_eq(fctl_jstr(fn, "apiVersion", NULL), "faas/v1");
	ck_assert_str_eq(fctl_jstr(fn, "spec.image", NULL), "faas/wc:1");
	ck_assert_str_eq(fctl_jstr(fn, "spec.fprocess", NULL), "wc");
	ck_assert_str_eq(fctl_jstr(fn, "spec.env.LANG", NULL), "C");
	ck_assert_int_eq(fctl_jint(fn, "spec.scale.min", 0), 2);
	ck_assert_int_eq(fctl_jint(fn, "spec.scale.max", 0), 7);
	ck_assert(json_object_get_boolean(json_object_object_get(
	    json_object_object_get(json_object_object_get(fn, "spec"), "scale"), "zero")));
	labels = json_object_object_get(json_object_object_get(fn, "metadata"), "labels");
	ck_assert_str_eq(json_object_get_string(json_object_object_get(labels, "team")), "text");
	/* The scale labels became spec.scale, not labels. */
	ck_assert_ptr_null(json_object_object_get(labels, "com.openfaas.scale.min"));
	/* Its canonical form (what diff compares) parses back. */
	fx_buf_init(&y, 1 << 16);
	ck_assert_int_eq(fctl_canonical_yaml(fn, &y, &err), 0);
	ck_assert_ptr_nonnull(strstr(y.data, "name: wordcount"));
	fx_buf_release(&y);
	fctl_fnlist_release(&l);
	fx_buf_release(&warn);
}
END_TEST

START_TEST(duplicates_across_files)
{
	struct fctl_fnlist l = {0};
	struct fx_buf warn;
	char *err = NULL;
	const char *paths[] = {dir};

	put("a.yaml", fn_a);
	put("b.yaml", fn_a);
	fx_buf_init(&warn, 1 << 16);
	ck_assert_int_eq(fctl_load(paths, 1, &l, &warn, &err), -EINVAL);
	ck_assert_ptr_nonnull(
	    strstr(err, "b.yaml:1: metadata.name: duplicate function name \"alpha\""));
	ck_assert_ptr_nonnull(strstr(err, "a.yaml, document 1"));
	ck_assert_uint_eq(l.n, 0);
	free(err);
	fx_buf_release(&warn);
}
END_TEST

START_TEST(every_error_reported)
{
	struct fctl_fnlist l = {0};
	struct fx_buf warn;
	char *err = NULL;
	const char *paths[] = {dir};

	put("1-good.yaml", fn_a);
	put("2-bad.yaml", "apiVersion: faas/v1\nkind: Function\nmetadata:\n  name: Bad_Name\n"
	                  "spec:\n  image: x\n  colour: blue\n");
	put("3-broken.yaml", "key: [unclosed\n");
	fx_buf_init(&warn, 1 << 16);
	ck_assert_int_eq(fctl_load(paths, 1, &l, &warn, &err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "2-bad.yaml:4:"));
	ck_assert_ptr_nonnull(strstr(err, "metadata.name"));
	ck_assert_ptr_nonnull(strstr(err, "spec.colour"));
	ck_assert_ptr_nonnull(strstr(err, "3-broken.yaml"));
	ck_assert_uint_eq(l.n, 0);
	free(err);
	fx_buf_release(&warn);
}
END_TEST

START_TEST(missing_and_empty)
{
	struct fctl_fnlist l = {0};
	struct fx_buf warn;
	char *err = NULL, p[256];
	const char *missing[] = {"/nonexistent/functions"};
	const char *empty[] = {p};

	fx_buf_init(&warn, 1 << 16);
	ck_assert_int_eq(fctl_load(missing, 1, &l, &warn, &err), -ENOENT);
	ck_assert_str_eq(err, "/nonexistent/functions: No such file or directory");
	free(err);
	snprintf(p, sizeof(p), "%s/empty", dir);
	sub("empty");
	ck_assert_int_eq(fctl_load(empty, 1, &l, &warn, &err), -ENOENT);
	ck_assert_ptr_nonnull(strstr(err, "no *.yaml or *.yml files"));
	free(err);
	fx_buf_release(&warn);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("faasctl_source");
	TCase *t = tcase_create("source");
	tcase_add_checked_fixture(t, setup, teardown);
	tcase_add_test(t, walks_directories);
	tcase_add_test(t, stack_yml);
	tcase_add_test(t, duplicates_across_files);
	tcase_add_test(t, every_error_reported);
	tcase_add_test(t, missing_and_empty);
	suite_add_tcase(s, t);
	return s;
}

FX_TEST_MAIN()
