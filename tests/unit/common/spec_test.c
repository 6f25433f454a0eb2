/* spec_test.c: the Function schema, driven by tests/data/spec:
 *   valid/NAME.{yaml,yml}   loads; its canonical texts joined by "---\n" equal NAME.canonical
 *   invalid/NAME.{yaml,yml} fails; its formatted errors, one a line, equal NAME.errors
 * FX_SPEC_REGEN=1 rewrites the .errors files (review the diff before committing). */
#include "../fx_test.h"
#include "buf.h"
#include "sha256.h"
#include "spec.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

static char *data_dir(const char *sub)
{
	static char path[1024];
	const char *root = getenv("FX_ROOT");
	snprintf(path, sizeof(path), "%s/tests/data/spec/%s", root ? root : ".", sub);
	return path;
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	struct fx_buf b;
	char chunk[4096];
	size_t n;
	if (f == NULL)
		return NULL;
	fx_buf_init(&b, 4 << 20);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		ck_assert_int_eq(fx_buf_append(&b, chunk, n), 0);
	fclose(f);
	if (len)
		*len = b.len;
	return fx_buf_detach(&b, NULL);
}

static bool is_case(const char *name)
{
	size_t n = strlen(name);
	return (n > 5 && strcmp(name + n - 5, ".yaml") == 0) ||
	       (n > 4 && strcmp(name + n - 4, ".yml") == 0);
}

static char *sibling(const char *dir, const char *name, const char *ext)
{
	static char path[1200];
	const char *dot = strrchr(name, '.');
	snprintf(path, sizeof(path), "%s/%.*s%s", dir, (int)(dot - name), name, ext);
	return path;
}

static char *canonical_all(const struct fx_function_list *l)
{
	struct fx_buf b;
	fx_buf_init(&b, 1 << 22);
	for (size_t i = 0; i < l->n; i++) {
		char *c = fx_spec_canonical(&l->v[i]);
		ck_assert_ptr_nonnull(c);
		if (i > 0)
			fx_buf_puts(&b, "---\n");
		fx_buf_puts(&b, c);
		free(c);
	}
	return fx_buf_detach(&b, NULL);
}

START_TEST(valid_cases)
{
	const char *dir = data_dir("valid");
	DIR *d = opendir(dir);
	struct dirent *e;
	int cases = 0;
	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d)) != NULL) {
		char path[1200], *src, *want, *got;
		size_t len;
		struct fx_function_list l = {0};
		struct fx_spec_errs errs = {0};
		if (!is_case(e->d_name))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		src = slurp(path, &len);
		ck_assert_ptr_nonnull(src);
		int rc = fx_spec_load(src, len, e->d_name, &l, &errs);
		if (rc != 0) {
			char *m = errs.n ? fx_spec_err_format(&errs.v[0]) : strdup("?");
			ck_abort_msg("%s: %s", e->d_name, m);
		}
		want = slurp(sibling(dir, e->d_name, ".canonical"), NULL);
		ck_assert_msg(want != NULL, "%s: no .canonical file", e->d_name);
		got = canonical_all(&l);
		ck_assert_msg(strcmp(got, want) == 0, "%s: canonical form differs:\n%s", e->d_name,
		              got);
		/* The canonical text loads back to itself, through YAML and through JSON. */
		for (size_t i = 0; i < l.n; i++) {
			char *c1 = fx_spec_canonical(&l.v[i]), *c2, *c3, h1[65], h2[65];
			struct fx_function again, viajson;
			struct json_object *j;
			ck_assert_int_eq(
			    fx_spec_load_one(c1, strlen(c1), "canonical", &again, &errs), 0);
			c2 = fx_spec_canonical(&again);
			ck_assert_str_eq(c1, c2);
			j = fx_spec_to_json(&l.v[i]);
			const char *js = json_object_to_json_string(j);
			ck_assert_int_eq(fx_spec_load_one(js, strlen(js), "json", &viajson, &errs),
			                 0);
			c3 = fx_spec_canonical(&viajson);
			ck_assert_str_eq(c1, c3);
			ck_assert_int_eq(fx_spec_hash(&l.v[i], h1), 0);
			fx_sha256_hex(c1, strlen(c1), h2);
			ck_assert_str_eq(h1, h2);
			/* copies are equal */
			struct fx_function cp;
			ck_assert_int_eq(fx_function_copy(&cp, &l.v[i]), 0);
			char *c4 = fx_spec_canonical(&cp);
			ck_assert_str_eq(c1, c4);
			free(c4);
			fx_function_release(&cp);
			json_object_put(j);
			fx_function_release(&again);
			fx_function_release(&viajson);
			free(c1);
			free(c2);
			free(c3);
		}
		ck_assert_int_eq(errs.n, 0);
		fx_function_list_release(&l);
		free(src);
		free(want);
		free(got);
		cases++;
	}
	closedir(d);
	ck_assert_int_ge(cases, 4);
}
END_TEST

START_TEST(invalid_cases)
{
	const char *dir = data_dir("invalid");
	DIR *d = opendir(dir);
	struct dirent *e;
	int cases = 0;
	bool regen = getenv("FX_SPEC_REGEN") != NULL;
	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d)) != NULL) {
		char path[1200], *src, *want, *got;
		size_t len;
		struct fx_function_list l = {(struct fx_function *)0x1, 42};
		struct fx_spec_errs errs = {0};
		struct fx_buf b;
		if (!is_case(e->d_name))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		src = slurp(path, &len);
		ck_assert_ptr_nonnull(src);
		ck_assert_msg(fx_spec_load(src, len, e->d_name, &l, &errs) == -EINVAL,
		              "%s: accepted", e->d_name);
		ck_assert_msg(l.n == 42, "%s: output written on failure", e->d_name);
		fx_buf_init(&b, 1 << 20);
		for (size_t i = 0; i < errs.n; i++) {
			char *m = fx_spec_err_format(&errs.v[i]);
			fx_buf_appendf(&b, "%s\n", m);
			free(m);
		}
		got = fx_buf_detach(&b, NULL);
		if (regen) {
			FILE *f = fopen(sibling(dir, e->d_name, ".errors"), "w");
			ck_assert_ptr_nonnull(f);
			fputs(got, f);
			fclose(f);
		}
		want = slurp(sibling(dir, e->d_name, ".errors"), NULL);
		ck_assert_msg(want != NULL, "%s: no .errors file", e->d_name);
		ck_assert_msg(strcmp(got, want) == 0, "%s: errors differ; got:\n%s", e->d_name,
		              got);
		/* The structured form carries the same parts. */
		struct json_object *j = fx_spec_errs_to_json(&errs);
		ck_assert_int_eq((int)json_object_array_length(j), (int)errs.n);
		json_object_put(j);
		fx_spec_errs_release(&errs);
		free(src);
		free(want);
		free(got);
		cases++;
	}
	closedir(d);
	ck_assert_int_ge(cases, 20);
}
END_TEST

START_TEST(json_input)
{
	struct fx_function fn;
	struct fx_spec_errs errs = {0};
	char *m;
	static const char ok[] = "{\"apiVersion\":\"faas/v1\",\"kind\":\"Function\","
	                         "\"metadata\":{\"name\":\"echo\",\"generation\":3},"
	                         "\"spec\":{\"image\":\"faas/echo\",\"scale\":{\"max\":5}},"
	                         "\"status\":{\"replicas\":1}}  \n";
	ck_assert_int_eq(fx_spec_load_one(ok, strlen(ok), NULL, &fn, &errs), 0);
	ck_assert_str_eq(fn.name, "echo");
	ck_assert_int_eq(fn.scale.max, 5);
	fx_function_release(&fn);

	static const char bad[] = "{\"apiVersion\":\"faas/v1\",\"kind\":\"Function\","
	                          "\"metadata\":{\"name\":\"echo\"},"
	                          "\"spec\":{\"image\":\"faas/echo\",\"scale\":{\"max\":\"5\"}}}";
	ck_assert_int_eq(fx_spec_load_one(bad, strlen(bad), NULL, &fn, &errs), -EINVAL);
	ck_assert_int_eq(errs.n, 1);
	m = fx_spec_err_format(&errs.v[0]);
	ck_assert_str_eq(m, "spec.scale.max: expected an integer, got a string \"5\"");
	free(m);
	fx_spec_errs_release(&errs);

	static const char garbage[] = "{\"apiVersion\": ";
	ck_assert_int_eq(fx_spec_load_one(garbage, strlen(garbage), "body", &fn, &errs), -EINVAL);
	m = fx_spec_err_format(&errs.v[0]);
	ck_assert_str_eq(m, "body: invalid JSON: unexpected end of data at byte 15");
	free(m);
	fx_spec_errs_release(&errs);

	static const char trailing[] = "{} x";
	ck_assert_int_eq(fx_spec_load_one(trailing, strlen(trailing), NULL, &fn, &errs), -EINVAL);
	fx_spec_errs_release(&errs);

	/* JSON refuses what YAML refuses: a key given twice (json-c alone keeps
	 * the last one), and trailing bytes after a valid Function */
	static const char dup[] = "{\"apiVersion\":\"faas/v1\",\"kind\":\"Function\","
	                          "\"metadata\":{\"name\":\"echo\"},"
	                          "\"spec\":{\"image\":\"faas/echo\",\"image\":\"evil\"}}";
	ck_assert_int_eq(fx_spec_load_one(dup, strlen(dup), "body", &fn, &errs), -EINVAL);
	m = fx_spec_err_format(&errs.v[0]);
	ck_assert_msg(strstr(m, "duplicate key \"image\"") != NULL, "%s", m);
	free(m);
	fx_spec_errs_release(&errs);
	char more[sizeof(ok) + 8];
	snprintf(more, sizeof(more), "%s}", ok);
	ck_assert_int_eq(fx_spec_load_one(more, strlen(more), "body", &fn, &errs), -EINVAL);
	m = fx_spec_err_format(&errs.v[0]);
	ck_assert_msg(strstr(m, "trailing data") != NULL, "%s", m);
	free(m);
	fx_spec_errs_release(&errs);

	/* spec.user: in the JSON ("" when unset), in the canonical text only when set */
	static const char user[] = "{\"apiVersion\":\"faas/v1\",\"kind\":\"Function\","
	                           "\"metadata\":{\"name\":\"echo\"},"
	                           "\"spec\":{\"image\":\"faas/echo\",\"user\":\"1000:1000\"}}";
	ck_assert_int_eq(fx_spec_load_one(user, strlen(user), NULL, &fn, &errs), 0);
	ck_assert_str_eq(fn.user, "1000:1000");
	m = fx_spec_canonical(&fn);
	ck_assert_msg(strstr(m, "\n  user: \"1000:1000\"\n") != NULL, "%s", m);
	free(m);
	struct json_object *j = fx_spec_to_json(&fn);
	ck_assert_str_eq(json_object_get_string(
	                     json_object_object_get(json_object_object_get(j, "spec"), "user")),
	                 "1000:1000");
	json_object_put(j);
	fx_function_release(&fn);
	ck_assert_int_eq(fx_spec_load_one(ok, strlen(ok), NULL, &fn, &errs), 0);
	ck_assert_ptr_null(fn.user);
	m = fx_spec_canonical(&fn);
	ck_assert_ptr_null(strstr(m, "user"));
	free(m);
	j = fx_spec_to_json(&fn);
	ck_assert_str_eq(json_object_get_string(
	                     json_object_object_get(json_object_object_get(j, "spec"), "user")),
	                 "");
	/* what GET gives back applies again: "" is the image's user */
	const char *text = json_object_to_json_string(j);
	fx_function_release(&fn);
	ck_assert_int_eq(fx_spec_load_one(text, strlen(text), NULL, &fn, &errs), 0);
	ck_assert(fn.user == NULL || fn.user[0] == '\0');
	m = fx_spec_canonical(&fn);
	ck_assert_ptr_null(strstr(m, "user"));
	free(m);
	json_object_put(j);
	fx_function_release(&fn);

	static const char two[] = "apiVersion: faas/v1\nkind: Function\nmetadata: {name: a}\n"
	                          "spec: {image: x}\n---\napiVersion: faas/v1\nkind: Function\n"
	                          "metadata: {name: b}\nspec: {image: x}\n";
	ck_assert_int_eq(fx_spec_load_one(two, strlen(two), "f.yaml", &fn, &errs), -EINVAL);
	m = fx_spec_err_format(&errs.v[0]);
	ck_assert_str_eq(m, "f.yaml:6:1: expected one function, got 2");
	free(m);
	fx_spec_errs_release(&errs);
}
END_TEST

START_TEST(caps_and_garbage)
{
	struct fx_function_list l = {0};
	struct fx_spec_errs errs = {0};
	size_t big = FX_SPEC_MAX_INPUT + 1;
	char *huge = malloc(big);
	ck_assert_ptr_nonnull(huge);
	memset(huge, 'a', big);
	ck_assert_int_eq(fx_spec_load(huge, big, "huge", &l, &errs), -E2BIG);
	fx_spec_errs_release(&errs);

	/* deep nesting */
	size_t n = 0;
	for (int i = 0; i < 100; i++)
		huge[n++] = '[';
	ck_assert_int_eq(fx_spec_load(huge, n, "deep", &l, &errs), -EINVAL);
	fx_spec_errs_release(&errs);
	ck_assert_int_eq(fx_spec_load("", 0, "empty", &l, &errs), -EINVAL);
	fx_spec_errs_release(&errs);
	ck_assert_int_eq(fx_spec_load("\x00\x01\xff", 3, "bin", &l, &errs), -EINVAL);
	fx_spec_errs_release(&errs);

	/* Every prefix and a byte-flipped copy of a valid file: errors or success, never a crash.
	 */
	char *src;
	size_t len;
	char path[1200];
	snprintf(path, sizeof(path), "%s/full.yaml", data_dir("valid"));
	src = slurp(path, &len);
	ck_assert_ptr_nonnull(src);
	for (size_t cut = 0; cut <= len; cut++) {
		if (fx_spec_load(src, cut, "cut", &l, &errs) == 0)
			fx_function_list_release(&l);
		fx_spec_errs_release(&errs);
	}
	unsigned seed = 1;
	for (int round = 0; round < 2000; round++) {
		memcpy(huge, src, len);
		for (int k = 0; k < 3; k++) {
			seed = seed * 1103515245u + 12345u;
			huge[(seed >> 8) % len] = (char)(seed >> 16);
		}
		if (fx_spec_load(huge, len, "flip", &l, &errs) == 0)
			fx_function_list_release(&l);
		fx_spec_errs_release(&errs);
	}
	/* The same for the JSON form. */
	{
		struct fx_function_list fl = {0};
		ck_assert_int_eq(fx_spec_load(src, len, "full", &fl, &errs), 0);
		struct json_object *j = fx_spec_to_json(&fl.v[0]);
		const char *js = json_object_to_json_string(j);
		size_t jl = strlen(js);
		for (int round = 0; round < 2000; round++) {
			struct fx_function fn;
			memcpy(huge, js, jl);
			for (int k = 0; k < 3; k++) {
				seed = seed * 1103515245u + 12345u;
				huge[(seed >> 8) % jl] = (char)(seed >> 16);
			}
			if (fx_spec_load_one(huge, jl, "flip.json", &fn, &errs) == 0)
				fx_function_release(&fn);
			fx_spec_errs_release(&errs);
		}
		json_object_put(j);
		fx_function_list_release(&fl);
	}
	free(src);
	free(huge);
}
END_TEST

START_TEST(sha256_vectors)
{
	char h[65];
	fx_sha256_hex("", 0, h);
	ck_assert_str_eq(h, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	fx_sha256_hex("abc", 3, h);
	ck_assert_str_eq(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	static const char m448[] = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
	fx_sha256_hex(m448, strlen(m448), h);
	ck_assert_str_eq(h, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
	/* one million 'a', fed in uneven pieces */
	struct fx_sha256 s;
	unsigned char d[32];
	char a[997];
	memset(a, 'a', sizeof(a));
	fx_sha256_init(&s);
	size_t left = 1000000;
	while (left > 0) {
		size_t k = left < sizeof(a) ? left : sizeof(a);
		fx_sha256_update(&s, a, k);
		left -= k;
	}
	fx_sha256_final(&s, d);
	ck_assert_int_eq(d[0], 0xcd);
	ck_assert_int_eq(d[1], 0xc7);
	ck_assert_int_eq(d[31], 0xd0);
}
END_TEST

START_TEST(names)
{
	ck_assert(fx_spec_valid_name("a"));
	ck_assert(fx_spec_valid_name("word-count-2"));
	ck_assert(fx_spec_valid_name("0abc"));
	ck_assert(!fx_spec_valid_name(""));
	ck_assert(!fx_spec_valid_name("-a"));
	ck_assert(!fx_spec_valid_name("a-"));
	ck_assert(!fx_spec_valid_name("A"));
	ck_assert(!fx_spec_valid_name("a.b"));
	ck_assert(!fx_spec_valid_name("a_b"));
	ck_assert(
	    fx_spec_valid_name("a23456789012345678901234567890123456789012345678901234567890123"));
	ck_assert(!fx_spec_valid_name(
	    "a234567890123456789012345678901234567890123456789012345678901234"));
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("spec");
	TCase *tc = tcase_create("spec");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, valid_cases);
	tcase_add_test(tc, invalid_cases);
	tcase_add_test(tc, json_input);
	tcase_add_test(tc, caps_and_garbage);
	tcase_add_test(tc, sha256_vectors);
	tcase_add_test(tc, names);
	suite_add_tcase(s, tc);
	return s;
}

FX_TEST_MAIN()
