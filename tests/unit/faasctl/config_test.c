#include "../fx_test.h"
#include "faasctl/faasctl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

START_TEST(parse)
{
	char *g = NULL, *u = NULL, *pf = NULL, *ca = NULL, *err = NULL;

	ck_assert_int_eq(fctl_config_parse("# faas\n\ngateway = http://gw:8080 \nuser=admin\r\n"
	                                   "password_file=/run/pw\n",
	                                   "cfg", &g, &u, &pf, &ca, &err),
	                 0);
	ck_assert_ptr_null(ca);
	ck_assert_int_eq(
	    fctl_config_parse("ca_file = /home/x/ca.pem\n", "cfg", &g, &u, &pf, &ca, &err), 0);
	ck_assert_str_eq(ca, "/home/x/ca.pem");
	ck_assert_str_eq(g, "http://gw:8080");
	ck_assert_str_eq(u, "admin");
	ck_assert_str_eq(pf, "/run/pw");
	ck_assert_int_eq(fctl_config_parse("user=bob", "cfg", &g, &u, &pf, &ca, &err), 0);
	ck_assert_str_eq(u, "bob");
	ck_assert_str_eq(g, "http://gw:8080"); /* keys absent keep their value */
	ck_assert_int_eq(fctl_config_parse("gateway=x\nnonsense\n", "cfg", &g, &u, &pf, &ca, &err),
	                 -EINVAL);
	ck_assert_str_eq(err, "cfg:2: expected key=value");
	ck_assert_str_eq(g, "http://gw:8080"); /* nothing changed on error */
	free(err);
	ck_assert_int_eq(fctl_config_parse("colour=blue\n", "cfg", &g, &u, &pf, &ca, &err),
	                 -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "unknown key \"colour\""));
	free(err);
	free(g);
	free(u);
	free(pf);
	free(ca);
}
END_TEST

static char dir[] = "/tmp/fctl-config-XXXXXX";

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

START_TEST(precedence)
{
	char cfg[256], pw[256], pw2[256], *err = NULL;
	struct fctl_args a;
	struct fctl_config c;
	char *argv[] = {(char[]){"faasctl"}, (char[]){"get"}, NULL};
	char *argv2[] = {(char[]){"faasctl"},
	                 (char[]){"get"},
	                 (char[]){"--gateway"},
	                 (char[]){"flag:9"},
	                 (char[]){"--password-file"},
	                 pw2,
	                 NULL};

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(cfg, sizeof(cfg), "%s/config", dir);
	snprintf(pw, sizeof(pw), "%s/pw", dir);
	snprintf(pw2, sizeof(pw2), "%s/pw2", dir);
	write_file(pw, "filepass\n");
	write_file(pw2, "flagpass");
	{
		char text[600];
		snprintf(text, sizeof(text),
		         "gateway=http://file:1/\nuser=fileuser\npassword_file=%s\n", pw);
		write_file(cfg, text);
	}
	setenv("FAAS_CONFIG", cfg, 1);
	unsetenv("FAAS_GATEWAY");
	unsetenv("FAAS_USER");
	unsetenv("FAAS_PASSWORD");
	ck_assert_int_eq(fctl_parse(fctl_cmds, fctl_ncmds, 2, argv, &a, &err), 0);

	/* The file alone. */
	ck_assert_int_eq(fctl_config_resolve(&a, &c, &err), 0);
	ck_assert_str_eq(c.gateway, "http://file:1");
	ck_assert_str_eq(c.user, "fileuser");
	ck_assert_str_eq(c.password, "filepass");
	fctl_config_release(&c);

	/* The environment over the file. */
	setenv("FAAS_GATEWAY", "envhost:2", 1);
	setenv("FAAS_USER", "envuser", 1);
	setenv("FAAS_PASSWORD", "envpass", 1);
	ck_assert_int_eq(fctl_config_resolve(&a, &c, &err), 0);
	ck_assert_str_eq(c.gateway, "http://envhost:2");
	ck_assert_str_eq(c.user, "envuser");
	ck_assert_str_eq(c.password, "envpass");
	ck_assert_ptr_nonnull(strstr(c.source, "FAAS_PASSWORD"));
	fctl_config_release(&c);

	/* Flags over the environment. */
	ck_assert_int_eq(fctl_parse(fctl_cmds, fctl_ncmds, 6, argv2, &a, &err), 0);
	ck_assert_int_eq(fctl_config_resolve(&a, &c, &err), 0);
	ck_assert_str_eq(c.gateway, "http://flag:9");
	ck_assert_str_eq(c.password, "flagpass");
	fctl_config_release(&c);

	/* No config file at all (the default path missing is fine): the default gateway. */
	unsetenv("FAAS_CONFIG");
	unsetenv("FAAS_GATEWAY");
	unsetenv("FAAS_PASSWORD");
	unsetenv("FAAS_USER");
	setenv("HOME", dir, 1);
	ck_assert_int_eq(fctl_parse(fctl_cmds, fctl_ncmds, 2, argv, &a, &err), 0);
	ck_assert_int_eq(fctl_config_resolve(&a, &c, &err), 0);
	ck_assert_str_eq(c.gateway, "http://127.0.0.1:8080");
	ck_assert_ptr_null(c.user);
	ck_assert_ptr_null(c.password);
	fctl_config_release(&c);

	/* A named config file that is missing, or a missing password file: errors. */
	setenv("FAAS_CONFIG", "/nonexistent/config", 1);
	ck_assert_int_eq(fctl_config_resolve(&a, &c, &err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "/nonexistent/config"));
	free(err);
	write_file(cfg, "password_file=/nonexistent/pw\n");
	setenv("FAAS_CONFIG", cfg, 1);
	ck_assert_int_eq(fctl_config_resolve(&a, &c, &err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "/nonexistent/pw"));
	free(err);
	unsetenv("FAAS_CONFIG");
	unlink(cfg);
	unlink(pw);
	unlink(pw2);
	rmdir(dir);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("faasctl_config");
	TCase *t = tcase_create("config");
	tcase_add_test(t, parse);
	tcase_add_test(t, precedence);
	suite_add_tcase(s, t);
	return s;
}

FX_TEST_MAIN()
