/* fwatchdog: turns a program that reads STDIN and writes STDOUT into an HTTP
 * function (see watchdog.h for the map). Exit codes: 0 ok, 1 runtime failure,
 * 2 usage or configuration error. */
#include "watchdog.h"

#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>

int main(int argc, char **argv)
{
	struct wd_config cfg;
	enum fx_log_level lvl = FX_LOG_INFO;
	char *err = NULL;
	int r;

	fx_log_init("fwatchdog", FX_LOG_INFO);
	r = wd_config_load(&cfg, argc, argv, &err);
	if (r == 1) {
		wd_config_help(stdout);
		return 0;
	}
	if (r < 0) {
		fprintf(stderr, "fwatchdog: %s\n", err ? err : "invalid configuration");
		free(err);
		return 2;
	}
	if (cfg.healthcheck)
		return wd_healthcheck(&cfg);
	if (fx_log_parse_level(cfg.log_level, &lvl) < 0) {
		fprintf(stderr, "fwatchdog: log_level: expected debug, info, warn or error\n");
		wd_config_release(&cfg);
		return 2;
	}
	fx_log_set_level(cfg.write_debug && lvl > FX_LOG_INFO ? FX_LOG_INFO : lvl);
	/* Inherited by every process the watchdog starts: a setuid or
	 * file-capability binary in the image gives the function nothing. Docker's
	 * service API v1.41 has no no-new-privileges option, so it is set here,
	 * by the container's first process. */
	if (cfg.no_new_privileges && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
		log_error("no_new_privileges", "err=\"%s\"", strerror(errno));
		wd_config_release(&cfg);
		return 1;
	}
	r = wd_server_run(&cfg);
	wd_config_release(&cfg);
	return r;
}
