/* faasctl.h: the map of faasctl, the kubectl-like CLI. Grouped by file.
 *
 * Pure files (no I/O, unit-tested directly): args.c, config.c (parsing part),
 * print.c, applyset.c (the diff is common/diff.c; YAML strings are written by
 * common/yamlw.c, with the canonical YAML's rules). Everything that talks to
 * the network or the file system: client.c, source.c, cmd_*.c, main.c.
 *
 * Exit codes (a contract, see `faasctl --help`): FCTL_OK 0, FCTL_FAIL 1 (runtime
 * failure: server error, unreachable gateway, invalid input files, function not
 * found), FCTL_USAGE 2 (bad command line or configuration). `diff` returns 0 when
 * equal, 1 when different, 2 on any error; `rollout status` returns 1 on
 * Degraded or timeout. */
#ifndef FAASCTL_H
#define FAASCTL_H

#include "buf.h"

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define FCTL_VERSION "0.1.0"

enum { FCTL_OK = 0, FCTL_FAIL = 1, FCTL_USAGE = 2 };

/* ---- args.c: the command table's types and the argument parser ----
 * One table per command drives the flags, their parsing and --help (in the
 * spirit of common/conf.h, which has no short flags, repeated flags or
 * subcommands, hence this small parser of our own). */
enum fctl_opt_kind {
	FCTL_OPT_BOOL,  /* --dry-run, -i; also --dry-run=true|false */
	FCTL_OPT_VALUE, /* --output yaml, -o yaml, -oyaml, --output=yaml; last one wins */
	FCTL_OPT_LIST,  /* repeatable: -f a -f b, -H 'A: b' */
};

struct fctl_opt {
	const char *name; /* long name without "--" */
	char short_name;  /* 0: none */
	enum fctl_opt_kind kind;
	const char *metavar; /* for VALUE and LIST */
	const char *help;
};

struct fctl_ctx;
struct fctl_args;

struct fctl_cmd {
	const char *name;  /* "get", "rollout status" */
	const char *usage; /* after "faasctl <name> " */
	const char *summary;
	const char *help; /* long description, may be NULL */
	const struct fctl_opt *opts;
	size_t nopts;
	int min_args, max_args; /* positional arguments; max -1: unbounded */
	int (*run)(struct fctl_ctx *ctx, const struct fctl_args *a);
};

#define FCTL_MAX_OPTS   24  /* command options + global options */
#define FCTL_MAX_VALUES 256 /* positional arguments + list values */

struct fctl_args {
	const struct fctl_cmd *cmd; /* NULL with help: top-level help */
	bool help;
	bool set[FCTL_MAX_OPTS];
	const char *val[FCTL_MAX_OPTS]; /* VALUE options (borrowed from argv) */
	/* LIST values in order, with the option index they belong to */
	const char *lvals[FCTL_MAX_VALUES];
	int lopt[FCTL_MAX_VALUES];
	size_t nl;
	const char *pos[FCTL_MAX_VALUES]; /* positional arguments (borrowed) */
	int npos;
};

/* The global options every command accepts (gateway, credentials, timeout). */
extern const struct fctl_opt fctl_global_opts[];
extern const size_t fctl_nglobal_opts;

/* Parses argv (argv[0] is the program) against the command table.
 * Returns 0, or -EINVAL with *err (caller frees) naming the problem.
 * Options may come before or after positional arguments; "--" ends options. */
int fctl_parse(const struct fctl_cmd *cmds, size_t ncmds, int argc, char *const *argv,
               struct fctl_args *out, char **err);
/* Option values by long name (command options first, then global ones). */
bool fctl_flag(const struct fctl_args *a, const char *name);
const char *fctl_opt(const struct fctl_args *a, const char *name);
/* The i-th value of a LIST option, NULL past the end. */
const char *fctl_opt_nth(const struct fctl_args *a, const char *name, size_t i);
size_t fctl_opt_count(const struct fctl_args *a, const char *name);
/* Help text of one command, or of the program when cmd is NULL. */
void fctl_help(const struct fctl_cmd *cmds, size_t ncmds, const struct fctl_cmd *cmd,
               struct fx_buf *out);

/* ---- cmds.c: the command table ---- */
extern const struct fctl_cmd fctl_cmds[];
extern const size_t fctl_ncmds;

/* ---- config.c: gateway and credentials ---- */
struct fctl_config {
	char *gateway;  /* never NULL after fctl_config_resolve; no trailing '/' */
	char *user;     /* NULL: no credentials */
	char *password; /* NULL: no credentials */
	char *source;   /* where credentials came from, for the 401 explanation */
	char *ca_file;  /* PEM CA certificates for an https gateway; NULL: the system's */
	bool insecure;  /* --insecure-skip-tls-verify */
};
/* Parses config file text: "key=value" lines, '#' comments, blank lines.
 * Known keys: gateway, user, password_file, ca_file. Fills only the keys
 * present. Returns 0 or -EINVAL with *err naming the line. Pure. */
int fctl_config_parse(const char *text, const char *path, char **gateway, char **user,
                      char **password_file, char **ca_file, char **err);
/* Resolves by precedence: flags (--gateway, --user, --password-file,
 * --ca-file, --insecure-skip-tls-verify), the environment (FAAS_GATEWAY,
 * FAAS_USER, FAAS_PASSWORD, FAAS_CA_FILE), then the config file
 * ($FAAS_CONFIG or ~/.config/faas/config). Returns 0, or -EINVAL with *err. */
int fctl_config_resolve(const struct fctl_args *a, struct fctl_config *c, char **err);
void fctl_config_release(struct fctl_config *c);

/* ---- print.c: output formats, pure ---- */
/* YAML of a JSON value, block style, keys in object order, every string
 * (key or value) written by fx_yaml_scalar (common/yamlw.h): plain only when
 * nothing can read it as something else, else double-quoted. */
int fctl_yaml_emit(const struct json_object *o, struct fx_buf *out);
/* Pretty JSON with a trailing newline. */
int fctl_json_emit(const struct json_object *o, struct fx_buf *out);
/* "45s", "12m", "3h", "5d": the age of an RFC 3339 timestamp at now, kubectl style;
 * "<unknown>" when the timestamp does not parse. */
void fctl_age(const char *rfc3339, int64_t now, char *buf, size_t n);
/* Nanoseconds since the epoch of an RFC 3339 time (fraction of any length);
 * -1 when it does not parse. */
int64_t fctl_time_ns(const char *rfc3339);
/* The `get` table of a FunctionList's items (or a single Function). */
int fctl_print_table(const struct json_object *items, bool wide, int64_t now, struct fx_buf *out);
/* `describe`: the human view of one Function. */
int fctl_print_describe(const struct json_object *fn, int64_t now, struct fx_buf *out);
/* json-c takes non-const pointers for read-only calls (get_string, to_json_string,
 * foreach); this drops const for those calls only, never to modify. */
static inline struct json_object *fctl_mut(const struct json_object *o)
{
	return (struct json_object *)(uintptr_t)o;
}
/* Lookups that tolerate missing or mistyped fields. */
const char *fctl_jstr(const struct json_object *o, const char *path, const char *def);
int64_t fctl_jint(const struct json_object *o, const char *path, int64_t def);
/* A condition's status ("True", "False", "Unknown") by type; NULL if absent. */
const struct json_object *fctl_condition(const struct json_object *fn, const char *type);

/* ---- applyset.c: what --prune removes, pure ---- */
#define FCTL_APPLYSET_LABEL "faas.applyset"
/* Appends to out (a json array of strings, borrowed) the names of live
 * functions (a FunctionList's items) labelled faas.applyset=set that are not
 * among the nlocal names in local, in the live list's order. Returns the count. */
size_t fctl_prune_set(const struct json_object *live_items, const char *set,
                      const char *const *local, size_t nlocal, struct json_object *out);
/* The default set name: "stdin" for "-"; a directory: its base name (from
 * resolved, its realpath, when given, so "." names the real directory); a file:
 * its name without .yaml/.yml. Writes a label-safe name (max 63) into buf. */
void fctl_applyset_default(const char *path, const char *resolved, bool is_dir, char *buf,
                           size_t n);
/* true when s is a valid applyset name (a label value: [A-Za-z0-9._-], max 63). */
bool fctl_applyset_valid(const char *s);

/* ---- client.c: HTTP calls to the gateway ---- */
struct fctl_ctx {
	struct fctl_config cfg;
	long timeout_ms;
	FILE *out; /* stdout */
	FILE *err; /* stderr */
};
struct fctl_resp {
	long status;
	struct json_object *json; /* body parsed when it is JSON, else NULL (owned) */
	char *body;               /* raw body, NUL-terminated (owned) */
	size_t len;
	char *result; /* X-Faas-Result header (owned), or NULL */
	char *headers;
};
/* Calls the gateway: method, path (with query), optional body and content type.
 * auth: send the basic-auth credentials. Returns 0 with resp filled for any
 * HTTP status; on a transport failure prints a one-line error naming the
 * gateway and returns -errno. */
int fctl_call(struct fctl_ctx *ctx, const char *method, const char *path, const char *body,
              size_t body_len, const char *ctype, bool auth, struct fctl_resp *resp);
/* Same with a NULL-terminated list of "Name: value" headers. */
int fctl_call_h(struct fctl_ctx *ctx, const char *method, const char *path, const char *body,
                size_t body_len, const char *const *headers, bool auth, struct fctl_resp *resp);
void fctl_resp_release(struct fctl_resp *r);
/* Prints "error: ..." for a non-2xx answer: the server's message, details, and
 * for a 401 what to check. Returns FCTL_FAIL. */
int fctl_report_http(struct fctl_ctx *ctx, const char *what, const struct fctl_resp *r);
/* Same, with "what" formatted (e.g. "delete %s"). */
int fctl_report_http_f(struct fctl_ctx *ctx, const struct fctl_resp *r, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Streams a GET to on_data (logs --follow). Same error handling as fctl_call. */
int fctl_stream(struct fctl_ctx *ctx, const char *path,
                int (*on_data)(const char *, size_t, void *), void *arg, long *status);
/* URL-encodes s into out. */
int fctl_urlencode(const char *s, struct fx_buf *out);
/* Prints a one-line "error: ..." to ctx->err. */
void fctl_errorf(struct fctl_ctx *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void fctl_warnf(struct fctl_ctx *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- source.c: -f FILE|DIR|- into validated functions ---- */
struct fctl_fn {
	char *name;
	char *file;              /* where it came from, for messages */
	int doc;                 /* 1-based document index in the file */
	struct json_object *obj; /* the Function, as JSON for the API (owned) */
};
struct fctl_fnlist {
	struct fctl_fn *v;
	size_t n, cap;
};
/* Lists the files of the -f arguments: a file as given, a directory walked
 * recursively for *.yaml / *.yml (hidden entries skipped, other files skipped
 * with a warning in *warn), "-" for stdin. Sorted per directory. Returns 0 or
 * -errno with *err naming the path. */
int fctl_collect_files(const char *const *paths, size_t npaths, struct json_object *files,
                       struct fx_buf *warn, char **err);
/* Loads and validates every document of every file; duplicate names across
 * files are an error. Nothing is returned unless all are valid (*err names the
 * file, document, line and field). */
int fctl_load(const char *const *paths, size_t npaths, struct fctl_fnlist *out, struct fx_buf *warn,
              char **err);
void fctl_fnlist_release(struct fctl_fnlist *l);
/* Canonical YAML of a Function (spec only: no status, generation or timestamps),
 * used by diff on both sides. */
int fctl_canonical_yaml(const struct json_object *fn, struct fx_buf *out, char **err);

/* ---- cmd_*.c: the commands ---- */
/* DELETEs one function, printing "function/NAME <verb>"; 0 or FCTL_FAIL. */
int fctl_delete_one(struct fctl_ctx *ctx, const char *name, bool ignore_missing, const char *verb);
int fctl_cmd_apply(struct fctl_ctx *ctx, const struct fctl_args *a);
int fctl_cmd_diff(struct fctl_ctx *ctx, const struct fctl_args *a);
int fctl_cmd_delete(struct fctl_ctx *ctx, const struct fctl_args *a);
int fctl_cmd_get(struct fctl_ctx *ctx, const struct fctl_args *a);
int fctl_cmd_describe(struct fctl_ctx *ctx, const struct fctl_args *a);
int fctl_cmd_invoke(struct fctl_ctx *ctx, const struct fctl_args *a);
int fctl_cmd_scale(struct fctl_ctx *ctx, const struct fctl_args *a);
int fctl_cmd_logs(struct fctl_ctx *ctx, const struct fctl_args *a);
int fctl_cmd_rollout_status(struct fctl_ctx *ctx, const struct fctl_args *a);
int fctl_cmd_version(struct fctl_ctx *ctx, const struct fctl_args *a);
int fctl_cmd_completion(struct fctl_ctx *ctx, const struct fctl_args *a);
/* cmd_async.c */
int fctl_cmd_async_dead_letters(struct fctl_ctx *ctx, const struct fctl_args *a);
int fctl_cmd_async_replay(struct fctl_ctx *ctx, const struct fctl_args *a);

/* ---- completion.c ---- */
/* The bash completion script, generated from the command table. */
int fctl_completion_bash(const struct fctl_cmd *cmds, size_t ncmds, struct fx_buf *out);

#endif
