/* cmds.c: the command table: names, flags, help and the function that runs each. */
#include "faasctl.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static const struct fctl_opt apply_opts[] = {
    {"filename", 'f', FCTL_OPT_LIST, "PATH",
     "a YAML file, a directory (walked for *.yaml and *.yml) or - for stdin"},
    {"dry-run", 0, FCTL_OPT_BOOL, NULL, "show what would change; change nothing"},
    {"prune", 0, FCTL_OPT_BOOL, NULL,
     "delete functions of this applyset that are no longer in the files"},
    {"applyset", 0, FCTL_OPT_VALUE, "NAME",
     "the set's name (label faas.applyset); default: the directory's base name"},
};

static const struct fctl_opt diff_opts[] = {
    {"filename", 'f', FCTL_OPT_LIST, "PATH", "a YAML file, a directory or - for stdin"},
    {"applyset", 0, FCTL_OPT_VALUE, "NAME",
     "the set's name, as given to apply (default: the directory's base name)"},
    {"prune", 0, FCTL_OPT_BOOL, NULL, "also show the functions apply --prune would delete"},
};

static const struct fctl_opt get_opts[] = {
    {"output", 'o', FCTL_OPT_VALUE, "FORMAT", "wide, yaml, json or name"},
    {"selector", 'l', FCTL_OPT_VALUE, "KEY=VALUE", "only functions with this label"},
};

static const struct fctl_opt delete_opts[] = {
    {"filename", 'f', FCTL_OPT_LIST, "PATH", "delete the functions defined in these files"},
    {"ignore-not-found", 0, FCTL_OPT_BOOL, NULL, "a missing function is not an error"},
};

static const struct fctl_opt invoke_opts[] = {
    {"data", 'd', FCTL_OPT_VALUE, "BODY", "request body; @FILE reads a file, @- stdin"},
    {"header", 'H', FCTL_OPT_LIST, "'NAME: VALUE'", "a request header"},
    {"method", 'X', FCTL_OPT_VALUE, "METHOD", "HTTP method (default POST)"},
    {"query", 'q', FCTL_OPT_LIST, "KEY=VALUE", "a query parameter"},
    {"include", 'i', FCTL_OPT_BOOL, NULL, "print the status line and headers too"},
    {"no-stdin", 0, FCTL_OPT_BOOL, NULL,
     "send an empty body instead of reading stdin when -d is absent"},
};

static const struct fctl_opt scale_opts[] = {
    {"replicas", 0, FCTL_OPT_VALUE, "N", "the number of replicas (required)"},
};

static const struct fctl_opt logs_opts[] = {
    {"follow", 'f', FCTL_OPT_BOOL, NULL, "keep streaming new lines"},
    {"since", 0, FCTL_OPT_VALUE, "DURATION", "only lines newer than this, e.g. 5m"},
    {"tail", 0, FCTL_OPT_VALUE, "N", "only the last N lines"},
    {"prefix", 0, FCTL_OPT_BOOL, NULL, "prefix each line with the replica (instance)"},
};

static const struct fctl_opt rollout_opts[] = {
    {"timeout", 0, FCTL_OPT_VALUE, "DURATION", "give up after this long (default 5m)"},
};

static const struct fctl_opt version_opts[] = {
    {"client", 0, FCTL_OPT_BOOL, NULL, "print the client version only (no request)"},
};

static const struct fctl_opt dlq_opts[] = {
    {"output", 'o', FCTL_OPT_VALUE, "FORMAT", "json or wide"},
    {"limit", 0, FCTL_OPT_VALUE, "N", "at most N dead letters (1-1000, default 100)"},
};

static const struct fctl_opt replay_opts[] = {
    {"seq", 0, FCTL_OPT_VALUE, "N", "only the dead letter with this sequence number"},
    {"all", 0, FCTL_OPT_BOOL, NULL, "every function's dead letters"},
    {"limit", 0, FCTL_OPT_VALUE, "N", "at most N dead letters (1-1000, default 1000)"},
};

const struct fctl_cmd fctl_cmds[] = {
    {"apply", "-f FILE|DIR|- [--dry-run] [--prune [--applyset NAME]]",
     "create or update functions from YAML files",
     "Every document of every file is validated before anything is written; names\n"
     "must be unique across the files. Each function is labelled faas.applyset=SET\n"
     "(SET: --applyset, default the base name of the first -f directory), and\n"
     "--prune deletes the functions labelled with the same SET that are no longer\n"
     "in the files (functions of other sets or made by hand are never pruned).\n"
     "Prints one line per function: created, configured, unchanged or pruned.\n"
     "OpenFaaS stack.yml files (provider + functions) are read too.\n"
     "In a directory, files not named *.yaml or *.yml are skipped with a warning;\n"
     "hidden files and directories (.git) are skipped silently.",
     apply_opts, N(apply_opts), 0, 0, fctl_cmd_apply},
    {"diff", "-f FILE|DIR|- [--prune]",
     "show a unified diff of the files against the live functions",
     "Exit status: 0 no differences, 1 differences, 2 error (as kubectl diff).", diff_opts,
     N(diff_opts), 0, 0, fctl_cmd_diff},
    {"get", "[NAME...] [-o wide|yaml|json|name]", "list functions, or show some",
     "The table has NAME READY UP-TO-DATE AVAILABLE IMAGE AGE; -o wide adds\n"
     "INVOCATIONS MODE SCALE; yaml and json print the full objects with status.",
     get_opts, N(get_opts), 0, -1, fctl_cmd_get},
    {"describe", "NAME...", "show a function's spec, status, conditions and tasks", NULL, NULL, 0,
     1, -1, fctl_cmd_describe},
    {"delete", "NAME... | -f FILE|DIR|-", "delete functions", NULL, delete_opts, N(delete_opts), 0,
     -1, fctl_cmd_delete},
    {"invoke", "NAME [-d BODY] [-H 'K: V'] [-X METHOD] [-q K=V] [-i]",
     "call a function through the gateway and print its answer",
     "The body comes from -d (or -d @FILE), otherwise from stdin unless it is a\n"
     "terminal or --no-stdin is given. Exit status 1 on a 4xx or 5xx answer.",
     invoke_opts, N(invoke_opts), 1, 1, fctl_cmd_invoke},
    {"scale", "NAME --replicas N", "set a function's replica count",
     "The controller clamps N into the function's [scale.min, scale.max].", scale_opts,
     N(scale_opts), 1, 1, fctl_cmd_scale},
    {"logs", "NAME [--follow] [--since DURATION] [--tail N]", "print a function's logs", NULL,
     logs_opts, N(logs_opts), 1, 1, fctl_cmd_logs},
    {"rollout status", "NAME [--timeout DURATION]", "wait until a function is Ready",
     "Exit status 0 when Ready (its current generation observed and all replicas\n"
     "available), 1 when Degraded or on timeout.",
     rollout_opts, N(rollout_opts), 1, 1, fctl_cmd_rollout_status},
    {"async dead-letters", "[NAME] [-o json|wide] [--limit N]",
     "list asynchronous calls that gave up (the dead-letter stream)",
     "Calls end here after the function's retries (annotation com.openfaas.async.retries,\n"
     "default 3), with the reason, the last status (0: unreachable) and the attempts.",
     dlq_opts, N(dlq_opts), 0, 1, fctl_cmd_async_dead_letters},
    {"async replay", "NAME | --seq N | --all [--limit N]",
     "queue dead letters again (each is removed once stored again)",
     "The calls run again with their original method, path, headers and body, and\n"
     "their retries start over. Replaying the same dead letter twice stores it once.",
     replay_opts, N(replay_opts), 0, 1, fctl_cmd_async_replay},
    {"version", "[--client]", "print the client and server versions", NULL, version_opts,
     N(version_opts), 0, 0, fctl_cmd_version},
    {"completion", "bash", "print the bash completion script",
     "Load it with: source <(faasctl completion bash)", NULL, 0, 1, 1, fctl_cmd_completion},
};
const size_t fctl_ncmds = N(fctl_cmds);
