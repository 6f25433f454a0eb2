/* completion.c: the bash completion script, generated from the command table
 * so that it never drifts from the real flags. Pure. */
#include "faasctl.h"

#include <string.h>

static void flags_of(const struct fctl_opt *o, size_t n, struct fx_buf *out)
{
	for (size_t i = 0; i < n; i++) {
		fx_buf_appendf(out, " --%s", o[i].name);
		if (o[i].short_name)
			fx_buf_appendf(out, " -%c", o[i].short_name);
	}
}

int fctl_completion_bash(const struct fctl_cmd *cmds, size_t ncmds, struct fx_buf *out)
{
	fx_buf_puts(out, "# bash completion for faasctl: source <(faasctl completion bash)\n"
	                 "_faasctl() {\n"
	                 "\tlocal cur prev cmd i words_list\n"
	                 "\tcur=${COMP_WORDS[COMP_CWORD]}\n"
	                 "\tprev=${COMP_WORDS[COMP_CWORD-1]}\n"
	                 "\tcmd=\n"
	                 "\tfor ((i = 1; i < COMP_CWORD; i++)); do\n"
	                 "\t\tcase ${COMP_WORDS[i]} in\n"
	                 "\t\t-*) ;;\n"
	                 "\t\t*) cmd=${COMP_WORDS[i]}; break ;;\n"
	                 "\t\tesac\n"
	                 "\tdone\n"
	                 "\tcase $prev in\n"
	                 "\t-f|--filename|--password-file|-d|--data)\n"
	                 "\t\tif [ \"$cmd\" != logs ]; then\n"
	                 "\t\t\tmapfile -t COMPREPLY < <(compgen -f -- \"$cur\"); return\n"
	                 "\t\tfi ;;\n"
	                 "\t-o|--output)\n"
	                 "\t\tmapfile -t COMPREPLY < <(compgen -W 'wide yaml json name' -- "
	                 "\"$cur\"); return ;;\n"
	                 "\tesac\n"
	                 "\tif [ -z \"$cmd\" ]; then\n"
	                 "\t\tmapfile -t COMPREPLY < <(compgen -W '");
	for (size_t i = 0; i < ncmds; i++) {
		const char *sp = strchr(cmds[i].name, ' ');
		fx_buf_appendf(out, "%s%.*s", i ? " " : "",
		               (int)(sp ? (size_t)(sp - cmds[i].name) : strlen(cmds[i].name)),
		               cmds[i].name);
	}
	fx_buf_puts(out, " help");
	fx_buf_puts(out, "' -- \"$cur\")\n\t\treturn\n\tfi\n\tcase $cmd in\n");
	for (size_t i = 0; i < ncmds; i++) {
		const char *sp = strchr(cmds[i].name, ' ');
		fx_buf_appendf(out, "\t%.*s) words_list='",
		               (int)(sp ? (size_t)(sp - cmds[i].name) : strlen(cmds[i].name)),
		               cmds[i].name);
		if (sp)
			fx_buf_appendf(out, "%s ", sp + 1);
		flags_of(cmds[i].opts, cmds[i].nopts, out);
		flags_of(fctl_global_opts, fctl_nglobal_opts, out);
		fx_buf_puts(out, "'");
		/* Commands that take function names complete them from the gateway. */
		if (cmds[i].max_args != 0 && strcmp(cmds[i].name, "completion") != 0)
			fx_buf_puts(out,
			            "\n\t\tif [[ $cur != -* ]]; then words_list=\"$words_list "
			            "$(faasctl get -o name 2>/dev/null | sed 's|^function/||')\"; "
			            "fi");
		else if (strcmp(cmds[i].name, "completion") == 0)
			fx_buf_puts(out, "; words_list=\"bash $words_list\"");
		fx_buf_puts(out, " ;;\n");
	}
	fx_buf_puts(out, "\t*) words_list='' ;;\n\tesac\n"
	                 "\tmapfile -t COMPREPLY < <(compgen -W \"$words_list\" -- \"$cur\")\n"
	                 "}\n"
	                 "complete -F _faasctl faasctl\n");
	return out->data == NULL ? -1 : 0;
}
