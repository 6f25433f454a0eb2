/* file_test.c: whole small files and secrets (common/file.c). */
#include "../fx_test.h"
#include "file.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Writes n bytes of s into a new temporary file; its path in path. */
static void put(char *path, const char *s, size_t n)
{
	int fd;
	strcpy(path, "/tmp/fx-file-test.XXXXXX");
	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, s, n), (ssize_t)n);
	close(fd);
}

START_TEST(whole_files)
{
	char path[64];
	size_t n = 99;
	char *s;

	put(path, "a\0b\n", 4);
	s = fx_read_file(path, 4, &n);
	ck_assert_ptr_nonnull(s);
	ck_assert_uint_eq(n, 4);
	ck_assert_int_eq(memcmp(s, "a\0b\n", 5), 0); /* NUL-terminated after its bytes */
	free(s);
	errno = 0;
	ck_assert_ptr_null(fx_read_file(path, 3, &n)); /* one byte over */
	ck_assert_int_eq(errno, EFBIG);
	unlink(path);
	put(path, "", 0);
	s = fx_read_file(path, 10, &n);
	ck_assert_ptr_nonnull(s);
	ck_assert_uint_eq(n, 0);
	ck_assert_str_eq(s, "");
	free(s);
	unlink(path);
	errno = 0;
	ck_assert_ptr_null(fx_read_file(path, 10, NULL));
	ck_assert_int_eq(errno, ENOENT);
}
END_TEST

START_TEST(secrets)
{
	char path[64], big[5000];
	char *s;

	put(path, "s3cret \r\n\n", 10);
	s = fx_read_secret(path);
	ck_assert_str_eq(s, "s3cret");
	free(s);
	unlink(path);
	put(path, " two\nlines\n", 11); /* kept whole: the caller decides */
	s = fx_read_secret(path);
	ck_assert_str_eq(s, " two\nlines");
	free(s);
	unlink(path);
	memset(big, 'x', sizeof(big));
	put(path, big, sizeof(big));
	ck_assert_ptr_null(fx_read_secret(path)); /* over 4 KiB */
	unlink(path);
	ck_assert_ptr_null(fx_read_secret(""));
	ck_assert_ptr_null(fx_read_secret(NULL));
	ck_assert_ptr_null(fx_read_secret("/nonexistent/fx-secret"));
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("file");
	TCase *tc = tcase_create("file");
	tcase_add_test(tc, whole_files);
	tcase_add_test(tc, secrets);
	suite_add_tcase(s, tc);
	return s;
}

FX_TEST_MAIN()
