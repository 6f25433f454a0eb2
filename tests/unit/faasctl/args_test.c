#include "../fx_test.h"
#include "faasctl/faasctl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <stdint.h>

/* argv from literals (const under -Wwrite-strings); fctl_parse never writes. */
static int parse(struct fctl_args *a, char **err, const char *const *v)
{
	int argc = 0;
	while (v[argc] != NULL)
		argc++;
	return fctl_parse(fctl_cmds, fctl_ncmds, argc, (char *const *)(uintptr_t)v, a, err);
}

#define P(a, err, ...) parse(a, err, (const char *const[]){"faasctl", __VA_ARGS__, NULL})

START_TEST(apply_files_and_flags)
{
	struct fctl_args a;
	char *err = NULL;

	ck_assert_int_eq(P(&a, &err, "apply", "-f", "a.yaml", "--filename=dir/", "-f-", "--dry-run",
	                   "--prune", "--applyset", "prod"),
	                 0);
	ck_assert_ptr_null(err);
	ck_assert_str_eq(a.cmd->name, "apply");
	ck_assert_uint_eq(fctl_opt_count(&a, "filename"), 3);
	ck_assert_str_eq(fctl_opt_nth(&a, "filename", 0), "a.yaml");
	ck_assert_str_eq(fctl_opt_nth(&a, "filename", 1), "dir/");
	ck_assert_str_eq(fctl_opt_nth(&a, "filename", 2), "-");
	ck_assert_ptr_null(fctl_opt_nth(&a, "filename", 3));
	ck_assert(fctl_flag(&a, "dry-run"));
	ck_assert(fctl_flag(&a, "prune"));
	ck_assert_str_eq(fctl_opt(&a, "applyset"), "prod");
	ck_assert(!a.help);
}
END_TEST

START_TEST(globals_before_and_after_command)
{
	struct fctl_args a;
	char *err = NULL;

	ck_assert_int_eq(
	    P(&a, &err, "--gateway", "http://gw:1", "get", "-oyaml", "fn1", "fn2", "--user=bob"),
	    0);
	ck_assert_str_eq(a.cmd->name, "get");
	ck_assert_str_eq(fctl_opt(&a, "gateway"), "http://gw:1");
	ck_assert_str_eq(fctl_opt(&a, "user"), "bob");
	ck_assert_str_eq(fctl_opt(&a, "output"), "yaml");
	ck_assert_int_eq(a.npos, 2);
	ck_assert_str_eq(a.pos[0], "fn1");
	ck_assert_str_eq(a.pos[1], "fn2");
	ck_assert_ptr_null(fctl_opt(&a, "selector"));
}
END_TEST

START_TEST(two_word_command_and_dashdash)
{
	struct fctl_args a;
	char *err = NULL;

	ck_assert_int_eq(P(&a, &err, "rollout", "status", "echo", "--timeout", "30s"), 0);
	ck_assert_str_eq(a.cmd->name, "rollout status");
	ck_assert_int_eq(a.npos, 1);
	ck_assert_str_eq(a.pos[0], "echo");
	ck_assert_str_eq(fctl_opt(&a, "timeout"), "30s");

	ck_assert_int_eq(P(&a, &err, "invoke", "-i", "-H", "X-A: 1", "-H", "X-B: 2", "--", "-fn"),
	                 0);
	ck_assert_str_eq(a.pos[0], "-fn");
	ck_assert(fctl_flag(&a, "include"));
	ck_assert_uint_eq(fctl_opt_count(&a, "header"), 2);
	ck_assert_str_eq(fctl_opt_nth(&a, "header", 1), "X-B: 2");

	ck_assert_int_eq(P(&a, &err, "logs", "fn", "-f", "--tail=5"), 0);
	ck_assert(fctl_flag(&a, "follow"));
	ck_assert_str_eq(fctl_opt(&a, "tail"), "5");
	ck_assert_int_eq(P(&a, &err, "apply", "-f", "x", "--dry-run=false"), 0);
	ck_assert(!fctl_flag(&a, "dry-run"));
}
END_TEST

START_TEST(errors)
{
	struct fctl_args a;
	char *err = NULL;

	ck_assert_int_eq(P(&a, &err, "frobnicate"), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "unknown command \"frobnicate\""));
	free(err);
	ck_assert_int_eq(P(&a, &err, "get", "--bogus"), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "unknown flag --bogus"));
	free(err);
	ck_assert_int_eq(P(&a, &err, "get", "-z"), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "-z"));
	free(err);
	ck_assert_int_eq(P(&a, &err, "apply", "-f"), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "needs a value"));
	free(err);
	ck_assert_int_eq(P(&a, &err, "describe"), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "missing argument"));
	free(err);
	ck_assert_int_eq(P(&a, &err, "scale", "a", "b", "--replicas", "2"), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "unexpected argument \"b\""));
	free(err);
	ck_assert_int_eq(P(&a, &err, "apply", "-f", "x", "--dry-run=maybe"), -EINVAL);
	free(err);
	ck_assert_int_eq(P(&a, &err, "invoke", "fn", "-iX"), -EINVAL);
	free(err);
	/* "rollout" alone is not a command. */
	ck_assert_int_eq(P(&a, &err, "rollout", "fn"), -EINVAL);
	free(err);
}
END_TEST

START_TEST(help)
{
	struct fctl_args a;
	char *err = NULL;
	struct fx_buf b;

	ck_assert_int_eq(P(&a, &err, "--help"), 0);
	ck_assert(a.help);
	ck_assert_ptr_null(a.cmd);
	ck_assert_int_eq(P(&a, &err, "apply", "-h"), 0);
	ck_assert(a.help);
	ck_assert_str_eq(a.cmd->name, "apply");
	/* --help wins over missing arguments. */
	ck_assert_int_eq(P(&a, &err, "scale", "--help"), 0);
	ck_assert(a.help);
	ck_assert_int_eq(P(&a, &err, "help", "rollout", "status"), 0);
	ck_assert_str_eq(a.cmd->name, "rollout status");

	fx_buf_init(&b, 1 << 20);
	fctl_help(fctl_cmds, fctl_ncmds, NULL, &b);
	for (size_t i = 0; i < fctl_ncmds; i++)
		ck_assert_ptr_nonnull(strstr(b.data, fctl_cmds[i].name));
	ck_assert_ptr_nonnull(strstr(b.data, "Exit codes"));
	ck_assert_ptr_nonnull(strstr(b.data, "FAAS_GATEWAY"));
	fx_buf_reset(&b);
	for (size_t i = 0; i < fctl_ncmds; i++) {
		fx_buf_reset(&b);
		fctl_help(fctl_cmds, fctl_ncmds, &fctl_cmds[i], &b);
		ck_assert_ptr_nonnull(strstr(b.data, "Usage: faasctl"));
		ck_assert_ptr_nonnull(strstr(b.data, "--gateway"));
		for (size_t k = 0; k < fctl_cmds[i].nopts; k++)
			ck_assert_ptr_nonnull(strstr(b.data, fctl_cmds[i].opts[k].name));
	}
	fx_buf_release(&b);
}
END_TEST

START_TEST(completion_script)
{
	struct fx_buf b;
	fx_buf_init(&b, 1 << 20);
	ck_assert_int_eq(fctl_completion_bash(fctl_cmds, fctl_ncmds, &b), 0);
	ck_assert_ptr_nonnull(strstr(b.data, "complete -F _faasctl faasctl"));
	ck_assert_ptr_nonnull(strstr(b.data, "rollout) words_list='status "));
	ck_assert_ptr_nonnull(strstr(b.data, "--prune"));
	ck_assert_ptr_nonnull(strstr(b.data, "--replicas"));
	fx_buf_release(&b);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("faasctl_args");
	TCase *t = tcase_create("args");
	tcase_add_test(t, apply_files_and_flags);
	tcase_add_test(t, globals_before_and_after_command);
	tcase_add_test(t, two_word_command_and_dashdash);
	tcase_add_test(t, errors);
	tcase_add_test(t, help);
	tcase_add_test(t, completion_script);
	suite_add_tcase(s, t);
	return s;
}

FX_TEST_MAIN()
