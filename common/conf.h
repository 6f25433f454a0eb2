/* conf.h: one settings table per program drives environment variables, flags,
 * validation, defaults and --help (after tmux's options-table.c).
 *
 * Precedence: default < environment variable < command-line flag.
 * The flag of setting "read_timeout" is --read-timeout (also --read_timeout);
 * "--name=value" and "--name value" both work; a bool flag alone means true. */
#ifndef FX_CONF_H
#define FX_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum fx_conf_type {
	FX_CONF_STRING,   /* target: const char ** (borrowed from env/argv/default) */
	FX_CONF_INT,      /* target: int64_t *, within [min, max] */
	FX_CONF_BOOL,     /* target: bool * */
	FX_CONF_DURATION, /* target: int64_t * in milliseconds, within [min, max] */
	FX_CONF_SIZE,     /* target: uint64_t * in bytes, within [min, max] */
};

enum {
	FX_CONF_NO_ENV = 1 << 0,  /* a flag only (e.g. --healthcheck) */
	FX_CONF_NO_FLAG = 1 << 1, /* an environment variable only */
	FX_CONF_SECRET = 1 << 2,  /* never echoed in messages */
};

struct fx_setting {
	const char *name; /* environment variable name */
	enum fx_conf_type type;
	const char *def; /* default as text; NULL: unset (strings stay NULL) */
	const char *help;
	void *target;
	int64_t min, max; /* for INT, DURATION (ms) and SIZE; both 0: no bound */
	unsigned flags;
};

/* Fills every target from defaults, the environment and argv[1..].
 * Returns 0, or -EINVAL with *err (caller frees) naming the setting and what is
 * expected. Positional arguments are an error unless rest is non-NULL, in which
 * case *rest is set to the index of the first one (or argc). "--help" and "-h"
 * return 1 without error so the caller prints help and exits 0. */
int fx_conf_load(const struct fx_setting *tab, size_t n, int argc, char *const *argv, int *rest,
                 char **err);
/* Prints the table: name, flag, default and help for each setting. */
void fx_conf_help(const struct fx_setting *tab, size_t n, FILE *out);

#endif
