/* args.c: the argument parser and --help, driven by the command table. Pure. */
#include "faasctl.h"
#include "buf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const struct fctl_opt fctl_global_opts[] = {
    {"gateway", 0, FCTL_OPT_VALUE, "URL",
     "gateway address (env FAAS_GATEWAY, config key gateway; default http://127.0.0.1:8080)"},
    {"user", 0, FCTL_OPT_VALUE, "NAME", "basic-auth user (env FAAS_USER, config key user)"},
    {"password-file", 0, FCTL_OPT_VALUE, "FILE",
     "file holding the basic-auth password (env FAAS_PASSWORD holds the password itself; "
     "config key password_file)"},
    {"ca-file", 0, FCTL_OPT_VALUE, "FILE",
     "PEM CA certificates that sign an https gateway's certificate (env FAAS_CA_FILE, config "
     "key ca_file; default: the system's store; make up writes ~/.config/faas/ca.pem)"},
    {"insecure-skip-tls-verify", 0, FCTL_OPT_BOOL, NULL,
     "do NOT verify an https gateway's certificate: anyone on the way can read and change "
     "the traffic, credentials included (a warning is printed on every run)"},
    {"request-timeout", 0, FCTL_OPT_VALUE, "DURATION",
     "give up on a request after this long, e.g. 30s (default 60s; 0: never)"},
    {"help", 'h', FCTL_OPT_BOOL, NULL, "show help for the command"},
};
const size_t fctl_nglobal_opts = sizeof(fctl_global_opts) / sizeof(fctl_global_opts[0]);

/* Option index space: the command's options, then the global ones. */
static size_t nopts_of(const struct fctl_cmd *c)
{
	return (c ? c->nopts : 0) + fctl_nglobal_opts;
}

static const struct fctl_opt *opt_at(const struct fctl_cmd *c, size_t i)
{
	size_t k = c ? c->nopts : 0;
	return i < k ? &c->opts[i] : &fctl_global_opts[i - k];
}

static int find_long(const struct fctl_cmd *c, const char *name, size_t len)
{
	for (size_t i = 0; i < nopts_of(c); i++) {
		const char *n = opt_at(c, i)->name;
		if (strlen(n) == len && strncmp(n, name, len) == 0)
			return (int)i;
	}
	return -1;
}

static int find_short(const struct fctl_cmd *c, char s)
{
	for (size_t i = 0; i < nopts_of(c); i++)
		if (opt_at(c, i)->short_name == s)
			return (int)i;
	return -1;
}

static int set_opt(struct fctl_args *out, const struct fctl_opt *o, int idx, const char *v,
                   char **err)
{
	switch (o->kind) {
	case FCTL_OPT_BOOL:
		if (v == NULL || strcmp(v, "true") == 0)
			out->set[idx] = true;
		else if (strcmp(v, "false") == 0)
			out->set[idx] = false;
		else {
			*err = fx_strdupf("flag --%s takes true or false, not \"%s\"", o->name, v);
			return -EINVAL;
		}
		return 0;
	case FCTL_OPT_VALUE:
		out->set[idx] = true;
		out->val[idx] = v;
		return 0;
	case FCTL_OPT_LIST:
		if (out->nl >= FCTL_MAX_VALUES) {
			*err = fx_strdupf("too many --%s values (at most %d)", o->name,
			                  FCTL_MAX_VALUES);
			return -EINVAL;
		}
		out->set[idx] = true;
		out->lvals[out->nl] = v;
		out->lopt[out->nl++] = idx;
		return 0;
	}
	return -EINVAL;
}

static const struct fctl_cmd *find_cmd(const struct fctl_cmd *cmds, size_t ncmds, int argc,
                                       char *const *argv, int i, int *used)
{
	for (size_t k = 0; k < ncmds; k++) {
		const char *n = cmds[k].name, *sp = strchr(n, ' ');
		if (sp == NULL) {
			if (strcmp(argv[i], n) == 0) {
				*used = 1;
				return &cmds[k];
			}
		} else if (strncmp(argv[i], n, (size_t)(sp - n)) == 0 && argv[i][sp - n] == '\0' &&
		           i + 1 < argc && strcmp(argv[i + 1], sp + 1) == 0) {
			*used = 2;
			return &cmds[k];
		}
	}
	return NULL;
}

/* Parses one option at argv[*i]; advances *i past a separate value. */
static int parse_opt(const struct fctl_cmd *c, int argc, char *const *argv, int *i,
                     struct fctl_args *out, char **err)
{
	const char *a = argv[*i];
	const struct fctl_opt *o;
	const char *v = NULL;
	int idx;

	if (a[1] == '-') {
		const char *name = a + 2, *eq = strchr(name, '=');
		size_t len = eq ? (size_t)(eq - name) : strlen(name);
		idx = find_long(c, name, len);
		if (idx < 0) {
			*err = fx_strdupf("unknown flag --%.*s%s%s (see faasctl %s--help)",
			                  (int)len, name, c ? " for " : "", c ? c->name : "", "");
			return -EINVAL;
		}
		o = opt_at(c, (size_t)idx);
		if (eq)
			v = eq + 1;
	} else {
		idx = find_short(c, a[1]);
		if (idx < 0) {
			*err = fx_strdupf("unknown flag -%c%s%s (see --help)", a[1],
			                  c ? " for " : "", c ? c->name : "");
			return -EINVAL;
		}
		o = opt_at(c, (size_t)idx);
		if (a[2] != '\0') {
			if (o->kind == FCTL_OPT_BOOL) {
				*err = fx_strdupf("flag -%c takes no value (got \"%s\")", a[1], a);
				return -EINVAL;
			}
			v = a + 2;
		}
	}
	if (o->kind != FCTL_OPT_BOOL && v == NULL) {
		if (*i + 1 >= argc) {
			*err = fx_strdupf("flag --%s needs a value (%s)", o->name, o->metavar);
			return -EINVAL;
		}
		v = argv[++*i];
	}
	return set_opt(out, o, idx, v, err);
}

int fctl_parse(const struct fctl_cmd *cmds, size_t ncmds, int argc, char *const *argv,
               struct fctl_args *out, char **err)
{
	const struct fctl_cmd *c = NULL;
	bool opts_done = false;
	int i, r;

	*err = NULL;
	memset(out, 0, sizeof(*out));
	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!opts_done && strcmp(a, "--") == 0) {
			opts_done = true;
			continue;
		}
		if (!opts_done && a[0] == '-' && a[1] != '\0') {
			r = parse_opt(c, argc, argv, &i, out, err);
			if (r < 0)
				return r;
			continue;
		}
		if (c == NULL) {
			int used = 0;
			if (strcmp(a, "help") == 0) {
				out->help = true;
				if (i + 1 < argc)
					c = find_cmd(cmds, ncmds, argc, argv, i + 1, &used);
				out->cmd = c;
				return 0;
			}
			c = find_cmd(cmds, ncmds, argc, argv, i, &used);
			if (c == NULL) {
				*err = fx_strdupf("unknown command \"%s\" (see faasctl --help)", a);
				return -EINVAL;
			}
			/* Global options given before the command keep their index. */
			if (c->nopts > 0) {
				struct fctl_args tmp = *out;
				memset(out->set, 0, sizeof(out->set));
				memset(out->val, 0, sizeof(out->val));
				for (size_t g = 0; g < fctl_nglobal_opts; g++) {
					out->set[c->nopts + g] = tmp.set[g];
					out->val[c->nopts + g] = tmp.val[g];
				}
				for (size_t l = 0; l < out->nl; l++)
					out->lopt[l] += (int)c->nopts;
			}
			i += used - 1;
			continue;
		}
		if (out->npos >= FCTL_MAX_VALUES) {
			*err = fx_strdupf("too many arguments (at most %d)", FCTL_MAX_VALUES);
			return -EINVAL;
		}
		out->pos[out->npos++] = a;
	}
	out->cmd = c;
	if (fctl_flag(out, "help") || c == NULL) {
		out->help = true;
		return 0;
	}
	if (out->npos < c->min_args) {
		*err = fx_strdupf("%s: missing argument, usage: faasctl %s %s", c->name, c->name,
		                  c->usage);
		return -EINVAL;
	}
	if (c->max_args >= 0 && out->npos > c->max_args) {
		*err = fx_strdupf("%s: unexpected argument \"%s\", usage: faasctl %s %s", c->name,
		                  out->pos[c->max_args], c->name, c->usage);
		return -EINVAL;
	}
	return 0;
}

static int index_of(const struct fctl_args *a, const char *name)
{
	return find_long(a->cmd, name, strlen(name));
}

bool fctl_flag(const struct fctl_args *a, const char *name)
{
	int i = index_of(a, name);
	return i >= 0 && a->set[i];
}

const char *fctl_opt(const struct fctl_args *a, const char *name)
{
	int i = index_of(a, name);
	return i >= 0 && a->set[i] ? a->val[i] : NULL;
}

const char *fctl_opt_nth(const struct fctl_args *a, const char *name, size_t n)
{
	int i = index_of(a, name);
	for (size_t k = 0; i >= 0 && k < a->nl; k++)
		if (a->lopt[k] == i && n-- == 0)
			return a->lvals[k];
	return NULL;
}

size_t fctl_opt_count(const struct fctl_args *a, const char *name)
{
	int i = index_of(a, name);
	size_t n = 0;
	for (size_t k = 0; i >= 0 && k < a->nl; k++)
		n += a->lopt[k] == i;
	return n;
}

static void help_opts(const struct fctl_opt *opts, size_t n, struct fx_buf *out)
{
	for (size_t i = 0; i < n; i++) {
		const struct fctl_opt *o = &opts[i];
		char left[64];
		if (o->short_name)
			snprintf(left, sizeof(left), "-%c, --%s%s%s", o->short_name, o->name,
			         o->metavar ? " " : "", o->metavar ? o->metavar : "");
		else
			snprintf(left, sizeof(left), "    --%s%s%s", o->name, o->metavar ? " " : "",
			         o->metavar ? o->metavar : "");
		fx_buf_appendf(out, "  %-30s %s%s\n", left, o->help,
		               o->kind == FCTL_OPT_LIST ? " (repeatable)" : "");
	}
}

static const char exit_codes[] = "Exit codes:\n"
                                 "  0  success\n"
                                 "  1  runtime failure: the server refused or failed, the "
                                 "gateway is unreachable,\n"
                                 "     a 401 (wrong credentials), invalid input files, not "
                                 "found\n"
                                 "  2  usage or configuration error (unknown flag, missing "
                                 "argument)\n"
                                 "  diff: 0 no differences, 1 differences, 2 error\n"
                                 "  rollout status: 0 Ready, 1 Degraded or timed out\n";

void fctl_help(const struct fctl_cmd *cmds, size_t ncmds, const struct fctl_cmd *cmd,
               struct fx_buf *out)
{
	if (cmd == NULL) {
		fx_buf_puts(out, "faasctl: the command-line client of the faas platform "
		                 "(kubectl-like).\n\nUsage: faasctl COMMAND [ARGS] [FLAGS]\n\n"
		                 "Commands:\n");
		for (size_t i = 0; i < ncmds; i++)
			fx_buf_appendf(out, "  %-16s %s\n", cmds[i].name, cmds[i].summary);
		fx_buf_puts(out, "\nGlobal flags (every command):\n");
		help_opts(fctl_global_opts, fctl_nglobal_opts, out);
		fx_buf_puts(out, "\nConfiguration precedence: flags, then FAAS_GATEWAY / FAAS_USER "
		                 "/ FAAS_PASSWORD,\nthen ~/.config/faas/config (key=value lines: "
		                 "gateway, user, password_file;\n$FAAS_CONFIG names another "
		                 "file).\n\n");
		fx_buf_puts(out, exit_codes);
		fx_buf_puts(out, "\nRun 'faasctl COMMAND --help' for a command's flags.\n");
		return;
	}
	fx_buf_appendf(out, "%s\n\nUsage: faasctl %s %s\n", cmd->summary, cmd->name, cmd->usage);
	if (cmd->help)
		fx_buf_appendf(out, "\n%s\n", cmd->help);
	if (cmd->nopts > 0) {
		fx_buf_puts(out, "\nFlags:\n");
		help_opts(cmd->opts, cmd->nopts, out);
	}
	fx_buf_puts(out, "\nGlobal flags:\n");
	help_opts(fctl_global_opts, fctl_nglobal_opts, out);
	fx_buf_appendf(out, "\n%s", exit_codes);
}
