/* faasctl: the kubectl-like CLI. Parse the command line, resolve the
 * configuration, run the command. Exit codes: see faasctl.h and --help. */
#include "faasctl.h"

#include "httpc.h"
#include "units.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
	struct fctl_ctx ctx = {.out = stdout, .err = stderr};
	struct fctl_args a;
	char *err = NULL;
	const char *t;
	int64_t ms = 60000;
	int rc;

	if (fctl_parse(fctl_cmds, fctl_ncmds, argc, argv, &a, &err) < 0) {
		fprintf(stderr, "error: %s\n", err ? err : "out of memory");
		free(err);
		return FCTL_USAGE;
	}
	if (a.help) {
		struct fx_buf b;
		fx_buf_init(&b, 1u << 20);
		fctl_help(fctl_cmds, fctl_ncmds, a.cmd, &b);
		/* "faasctl" alone is a usage error (help on stderr); "faasctl --help" is not. */
		fputs(b.data ? b.data : "", argc < 2 ? stderr : stdout);
		fx_buf_release(&b);
		return argc < 2 ? FCTL_USAGE : FCTL_OK;
	}
	if ((t = fctl_opt(&a, "request-timeout")) != NULL && fx_parse_duration_ms(t, &ms) < 0) {
		fprintf(stderr, "error: --request-timeout: \"%s\" is not a duration like 30s\n", t);
		return FCTL_USAGE;
	}
	ctx.timeout_ms = (long)ms;
	/* Commands that never talk to the gateway need no configuration. */
	if (a.cmd->run == fctl_cmd_completion ||
	    (a.cmd->run == fctl_cmd_version && fctl_flag(&a, "client")))
		return a.cmd->run(&ctx, &a);
	if (fctl_config_resolve(&a, &ctx.cfg, &err) < 0) {
		fprintf(stderr, "error: configuration: %s\n", err ? err : "out of memory");
		free(err);
		return FCTL_USAGE;
	}
	if (ctx.cfg.insecure)
		fctl_warnf(&ctx,
		           "--insecure-skip-tls-verify: the gateway's TLS certificate is NOT "
		           "verified; anyone between you and %s can read and change this "
		           "session, credentials included. Use --ca-file instead.",
		           ctx.cfg.gateway);
	if (fx_http_global_init() < 0) {
		fprintf(stderr, "error: cannot initialise libcurl\n");
		fctl_config_release(&ctx.cfg);
		return FCTL_FAIL;
	}
	rc = a.cmd->run(&ctx, &a);
	fflush(stdout);
	fctl_config_release(&ctx.cfg);
	return rc;
}
