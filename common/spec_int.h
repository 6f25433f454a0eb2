/* spec_int.h: what the files of the Function schema share, and nothing else
 * (private to common/spec*.c: every other file includes spec.h only).
 *
 *   spec.c        the node tree, errors, YAML and JSON -> trees, the function
 *                 object, the loaders (the public entry points)
 *   spec_check.c  a tree -> a validated struct fx_function (the schema)
 *   spec_stack.c  OpenFaaS stack.yml -> Function trees
 *   spec_emit.c   canonical YAML, the hash, JSON (needs nothing from here;
 *                 its strings are written by common/yamlw.c)
 *
 * Every input is first turned into the same node tree, so one validator gives
 * the same messages whatever the source. */
#ifndef FX_SPEC_INT_H
#define FX_SPEC_INT_H

#include "spec.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#define MAX_DEPTH       32
#define MAX_NODES       200000
#define MAX_SCALAR      (64 * 1024)
#define MAX_ENTRIES     256 /* env, labels, annotations */
#define MAX_SECRETS     64
#define MAX_CONSTRAINTS 32
#define MAX_PATH        320
#define DAY_MS          (24LL * 3600 * 1000)

/* ---- the node tree and a validation ---- */

enum ntype { N_SCALAR, N_MAP, N_SEQ };

struct node {
	enum ntype t;
	int line, col;      /* 1-based; 0 unknown */
	char *text;         /* scalars */
	bool plain;         /* plain scalar: may be a number, bool or null */
	struct node **kids; /* maps: key, value, key, value...; seqs: items */
	size_t n, cap;
};

/* A validation: where errors go, and how many there were before this
 * document (to tell whether it failed). */
struct vc {
	const char *file;
	int doc;
	struct fx_spec_errs *errs;
	size_t before; /* errs->n at the start of this document */
};

/* A known field of a mapping, and where spec_walk_map puts its value. */
struct field {
	const char *name;
	const struct node **slot;
};

/* ---- spec.c: the node tree ---- */

/* Destructors accept NULL. The constructors return NULL when out of memory. */
void spec_node_free(struct node *n);
struct node *spec_node_new(enum ntype t, int line, int col);
struct node *spec_scalar_new(const char *text, size_t len, bool plain, int line, int col);
/* Appends kid to parent: takes ownership of kid (freed on failure; NULL
 * gives -ENOMEM). */
int spec_node_add(struct node *parent, struct node *kid);
/* A deep copy (caller frees). */
struct node *spec_node_dup(const struct node *s);
bool spec_is_null(const struct node *n);
bool spec_is_bool_word(const char *s);
bool spec_is_number_text(const char *s);
/* "a mapping", "a list", "null", "a boolean", "a number", "a string". */
const char *spec_kind_name(const struct node *n);

/* ---- spec.c: errors, lists, loaders ---- */

void spec_errs_vadd(struct fx_spec_errs *e, const char *file, int document, int line, int col,
                    const char *field, const char *fmt, va_list ap);
/* Sets k to v (copies) in the sorted list: 1 replaced, 0 added, -ENOMEM. */
int spec_kv_set(struct fx_kvlist *l, const char *k, const char *v);
void spec_kv_release(struct fx_kvlist *l);
int spec_str_push(struct fx_strlist *l, const char *s);
void spec_str_release(struct fx_strlist *l);
/* Validates one tree into list; dedups names. Returns <0 only for ENOMEM. */
int spec_add_checked(struct vc *c, const struct node *root, struct fx_function_list *list);

/* ---- spec_check.c: the schema ---- */

void spec_verr(struct vc *c, const struct node *n, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Errors reported since c->before. */
bool spec_vfailed(const struct vc *c);
/* out (MAX_PATH bytes) = path.key, truncated. */
void spec_join(char *out, const char *path, const char *key);
/* Fills the slots of the known fields of mapping m; reports unknown,
 * duplicate and non-scalar keys. check_escalation: name escalating fields. */
bool spec_walk_map(struct vc *c, const struct node *m, const char *path, const struct field *f,
                   size_t nf, bool check_escalation);
/* Validates a Function tree into fn (initialised by the caller); errors are
 * reported through c. <0 only for ENOMEM. */
int spec_check_function(struct vc *c, const struct node *root, struct fx_function *fn);

/* ---- spec_stack.c: OpenFaaS stack.yml ---- */

/* A stack.yml document: functions or provider, no apiVersion or kind. */
bool spec_is_stack(const struct node *root);
/* Each functions.<name> entry of root, validated into list. <0 only for ENOMEM. */
int spec_load_stack(struct vc *c, const struct node *root, struct fx_function_list *list);

#endif
