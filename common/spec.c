/* spec.c: the Function schema: YAML/JSON -> node tree -> validated
 * struct fx_function; canonical YAML, JSON and the hash back out.
 *
 * Every input (YAML events, a json-c object, an OpenFaaS stack.yml entry) is
 * first turned into the same small node tree, so one validator gives the same
 * messages whatever the source. Aliases are refused (no billion laughs), depth,
 * node count and scalar length are capped.
 *
 * This file: the node tree, errors, YAML and JSON -> trees, the function
 * object and the loaders. The schema is spec_check.c, stack.yml
 * spec_stack.c, the output spec_emit.c; spec_int.h is what they share. */
#include "spec_int.h"

#include "buf.h"
#include "json.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

/* ---- node tree ---- */

void spec_node_free(struct node *n)
{
	if (n == NULL)
		return;
	for (size_t i = 0; i < n->n; i++)
		spec_node_free(n->kids[i]);
	free(n->kids);
	free(n->text);
	free(n);
}

struct node *spec_node_new(enum ntype t, int line, int col)
{
	struct node *n = calloc(1, sizeof(*n));
	if (n == NULL)
		return NULL;
	n->t = t;
	n->line = line;
	n->col = col;
	return n;
}

struct node *spec_scalar_new(const char *text, size_t len, bool plain, int line, int col)
{
	struct node *n = spec_node_new(N_SCALAR, line, col);
	if (n == NULL)
		return NULL;
	n->text = malloc(len + 1);
	if (n->text == NULL) {
		free(n);
		return NULL;
	}
	memcpy(n->text, text, len);
	n->text[len] = '\0';
	n->plain = plain;
	return n;
}

int spec_node_add(struct node *parent, struct node *kid)
{
	if (kid == NULL)
		return -ENOMEM;
	if (parent->n == parent->cap) {
		size_t cap = parent->cap ? parent->cap * 2 : 8;
		struct node **k = realloc(parent->kids, cap * sizeof(*k));
		if (k == NULL) {
			spec_node_free(kid);
			return -ENOMEM;
		}
		parent->kids = k;
		parent->cap = cap;
	}
	parent->kids[parent->n++] = kid;
	return 0;
}

struct node *spec_node_dup(const struct node *s)
{
	struct node *d;
	if (s->t == N_SCALAR)
		return spec_scalar_new(s->text, strlen(s->text), s->plain, s->line, s->col);
	d = spec_node_new(s->t, s->line, s->col);
	if (d == NULL)
		return NULL;
	for (size_t i = 0; i < s->n; i++) {
		if (spec_node_add(d, spec_node_dup(s->kids[i])) < 0) {
			spec_node_free(d);
			return NULL;
		}
	}
	return d;
}

bool spec_is_null(const struct node *n)
{
	if (n == NULL)
		return true;
	if (n->t != N_SCALAR || !n->plain)
		return false;
	return n->text[0] == '\0' || strcmp(n->text, "~") == 0 || strcmp(n->text, "null") == 0 ||
	       strcmp(n->text, "Null") == 0 || strcmp(n->text, "NULL") == 0;
}

bool spec_is_bool_word(const char *s)
{
	static const char *const w[] = {"true", "false", "True", "False", "TRUE", "FALSE"};
	for (size_t i = 0; i < sizeof(w) / sizeof(w[0]); i++)
		if (strcmp(s, w[i]) == 0)
			return true;
	return false;
}

bool spec_is_number_text(const char *s)
{
	const char *p = s;
	bool digits = false;
	if (*p == '-' || *p == '+')
		p++;
	while (isdigit((unsigned char)*p) || *p == '.' || *p == '_') {
		digits |= isdigit((unsigned char)*p) != 0;
		p++;
	}
	if (digits && (*p == 'e' || *p == 'E')) {
		p++;
		if (*p == '-' || *p == '+')
			p++;
		while (isdigit((unsigned char)*p))
			p++;
	}
	return digits && *p == '\0';
}

const char *spec_kind_name(const struct node *n)
{
	if (n->t == N_MAP)
		return "a mapping";
	if (n->t == N_SEQ)
		return "a list";
	if (spec_is_null(n))
		return "null";
	if (n->plain && spec_is_bool_word(n->text))
		return "a boolean";
	if (n->plain && spec_is_number_text(n->text))
		return "a number";
	return "a string";
}

/* ---- errors ---- */

static char *xstrdup(const char *s)
{
	return s == NULL ? NULL : strdup(s);
}

void spec_errs_vadd(struct fx_spec_errs *e, const char *file, int document, int line, int col,
                    const char *field, const char *fmt, va_list ap)
{
	struct fx_spec_err *v, *x;
	char msg[1024];

	if (e->n >= FX_SPEC_MAX_ERRORS) {
		e->dropped++;
		return;
	}
	v = realloc(e->v, (e->n + 1) * sizeof(*v));
	if (v == NULL) {
		e->dropped++;
		return;
	}
	e->v = v;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	x = &e->v[e->n];
	x->file = xstrdup(file);
	x->document = document;
	x->line = line;
	x->col = col;
	x->field = xstrdup(field ? field : "");
	x->message = xstrdup(msg);
	if (x->field == NULL || x->message == NULL || (file != NULL && x->file == NULL)) {
		free(x->file);
		free(x->field);
		free(x->message);
		e->dropped++;
		return;
	}
	e->n++;
}

void fx_spec_errs_add(struct fx_spec_errs *e, const char *file, int document, int line, int col,
                      const char *field, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	spec_errs_vadd(e, file, document, line, col, field, fmt, ap);
	va_end(ap);
}

void fx_spec_errs_release(struct fx_spec_errs *e)
{
	if (e == NULL)
		return;
	for (size_t i = 0; i < e->n; i++) {
		free(e->v[i].file);
		free(e->v[i].field);
		free(e->v[i].message);
	}
	free(e->v);
	e->v = NULL;
	e->n = 0;
	e->dropped = 0;
}

char *fx_spec_err_format(const struct fx_spec_err *e)
{
	struct fx_buf b;
	char *s;
	fx_buf_init(&b, 8192);
	if (e->file != NULL)
		fx_buf_appendf(&b, "%s:", e->file);
	if (e->line > 0)
		fx_buf_appendf(&b, "%d:%d:", e->line, e->col);
	if (b.len > 0)
		fx_buf_puts(&b, " ");
	if (e->field != NULL && e->field[0] != '\0')
		fx_buf_appendf(&b, "%s: ", e->field);
	fx_buf_puts(&b, e->message ? e->message : "");
	s = fx_buf_detach(&b, NULL);
	fx_buf_release(&b);
	return s;
}

struct json_object *fx_spec_errs_to_json(const struct fx_spec_errs *e)
{
	struct json_object *a = json_object_new_array();
	if (a == NULL)
		return NULL;
	for (size_t i = 0; i < e->n; i++) {
		const struct fx_spec_err *x = &e->v[i];
		struct json_object *o = json_object_new_object();
		if (o == NULL)
			break;
		if (x->file != NULL)
			json_object_object_add(o, "file", json_object_new_string(x->file));
		if (x->document > 0)
			json_object_object_add(o, "document", json_object_new_int(x->document));
		if (x->line > 0) {
			json_object_object_add(o, "line", json_object_new_int(x->line));
			json_object_object_add(o, "column", json_object_new_int(x->col));
		}
		json_object_object_add(o, "field", json_object_new_string(x->field));
		json_object_object_add(o, "message", json_object_new_string(x->message));
		json_object_array_add(a, o);
	}
	return a;
}

/* ---- YAML -> node trees ---- */

struct docs {
	struct node **v; /* NULL entries: empty documents */
	int *index;      /* 1-based document index of each */
	size_t n;
};

static void docs_release(struct docs *d)
{
	for (size_t i = 0; i < d->n; i++)
		spec_node_free(d->v[i]);
	free(d->v);
	free(d->index);
	d->v = NULL;
	d->index = NULL;
	d->n = 0;
}

static int docs_push(struct docs *d, struct node *root, int index)
{
	struct node **v = realloc(d->v, (d->n + 1) * sizeof(*v));
	int *ix;
	if (v == NULL)
		return -ENOMEM;
	d->v = v;
	ix = realloc(d->index, (d->n + 1) * sizeof(*ix));
	if (ix == NULL)
		return -ENOMEM;
	d->index = ix;
	d->v[d->n] = root;
	d->index[d->n] = index;
	d->n++;
	return 0;
}

static int yaml_to_docs(const char *buf, size_t len, const char *file, struct docs *out,
                        struct fx_spec_errs *errs)
{
	yaml_parser_t p;
	yaml_event_t ev;
	struct node *stack[MAX_DEPTH];
	int depth = 0, doc = 0, rc = 0;
	struct node *root = NULL;
	size_t nodes = 0;
	bool done = false;

	if (!yaml_parser_initialize(&p))
		return -ENOMEM;
	yaml_parser_set_input_string(&p, (const unsigned char *)buf, len);
	while (!done) {
		struct node *n = NULL;
		int line, col;
		if (!yaml_parser_parse(&p, &ev)) {
			if (p.error == YAML_MEMORY_ERROR) {
				rc = -ENOMEM;
			} else {
				fx_spec_errs_add(
				    errs, file, doc, (int)p.problem_mark.line + 1,
				    (int)p.problem_mark.column + 1, "", "invalid YAML: %s%s%s%s",
				    p.problem ? p.problem : "syntax error", p.context ? " (" : "",
				    p.context ? p.context : "", p.context ? ")" : "");
				rc = -EINVAL;
			}
			break;
		}
		line = (int)ev.start_mark.line + 1;
		col = (int)ev.start_mark.column + 1;
		switch (ev.type) {
		case YAML_STREAM_END_EVENT:
			done = true;
			break;
		case YAML_DOCUMENT_START_EVENT:
			doc++;
			root = NULL;
			depth = 0;
			if (doc > FX_SPEC_MAX_DOCS) {
				fx_spec_errs_add(errs, file, doc, line, col, "",
				                 "too many documents (at most %d)",
				                 FX_SPEC_MAX_DOCS);
				rc = -EINVAL;
			}
			break;
		case YAML_DOCUMENT_END_EVENT:
			rc = docs_push(out, root, doc);
			if (rc < 0)
				spec_node_free(root);
			root = NULL;
			break;
		case YAML_ALIAS_EVENT:
			fx_spec_errs_add(errs, file, doc, line, col, "",
			                 "YAML aliases (*%s) are not supported",
			                 (const char *)ev.data.alias.anchor);
			rc = -EINVAL;
			break;
		case YAML_SCALAR_EVENT: {
			const char *tag = (const char *)ev.data.scalar.tag;
			bool plain = ev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
			if (tag != NULL && strcmp(tag, YAML_STR_TAG) == 0) {
				plain = false;
			} else if (tag != NULL && strcmp(tag, "!") != 0 &&
			           strcmp(tag, YAML_INT_TAG) != 0 &&
			           strcmp(tag, YAML_BOOL_TAG) != 0 &&
			           strcmp(tag, YAML_FLOAT_TAG) != 0 &&
			           strcmp(tag, YAML_NULL_TAG) != 0) {
				fx_spec_errs_add(errs, file, doc, line, col, "",
				                 "YAML tag %s is not supported", tag);
				rc = -EINVAL;
				break;
			}
			if (ev.data.scalar.length > MAX_SCALAR) {
				fx_spec_errs_add(errs, file, doc, line, col, "",
				                 "value too long (%zu bytes, at most %d)",
				                 ev.data.scalar.length, MAX_SCALAR);
				rc = -EINVAL;
				break;
			}
			if (memchr(ev.data.scalar.value, '\0', ev.data.scalar.length) != NULL) {
				fx_spec_errs_add(errs, file, doc, line, col, "",
				                 "NUL characters are not allowed");
				rc = -EINVAL;
				break;
			}
			n = spec_scalar_new((const char *)ev.data.scalar.value,
			                    ev.data.scalar.length, plain, line, col);
			if (n == NULL)
				rc = -ENOMEM;
			break;
		}
		case YAML_SEQUENCE_START_EVENT:
		case YAML_MAPPING_START_EVENT:
			if ((ev.type == YAML_SEQUENCE_START_EVENT && ev.data.sequence_start.tag &&
			     strcmp((const char *)ev.data.sequence_start.tag, YAML_SEQ_TAG) != 0) ||
			    (ev.type == YAML_MAPPING_START_EVENT && ev.data.mapping_start.tag &&
			     strcmp((const char *)ev.data.mapping_start.tag, YAML_MAP_TAG) != 0)) {
				fx_spec_errs_add(errs, file, doc, line, col, "",
				                 "YAML tags are not supported");
				rc = -EINVAL;
				break;
			}
			if (depth >= MAX_DEPTH) {
				fx_spec_errs_add(errs, file, doc, line, col, "",
				                 "nested too deeply (at most %d levels)",
				                 MAX_DEPTH);
				rc = -EINVAL;
				break;
			}
			n = spec_node_new(ev.type == YAML_MAPPING_START_EVENT ? N_MAP : N_SEQ, line,
			                  col);
			if (n == NULL)
				rc = -ENOMEM;
			break;
		case YAML_SEQUENCE_END_EVENT:
		case YAML_MAPPING_END_EVENT:
			if (depth > 0)
				depth--;
			break;
		default:
			break;
		}
		if (n != NULL) {
			bool container = n->t != N_SCALAR;
			if (++nodes > MAX_NODES) {
				fx_spec_errs_add(errs, file, doc, line, col, "",
				                 "document too large (more than %d nodes)",
				                 MAX_NODES);
				spec_node_free(n);
				rc = -EINVAL;
			} else if (depth == 0) {
				spec_node_free(root);
				root = n;
			} else if ((rc = spec_node_add(stack[depth - 1], n)) < 0) {
				n = NULL;
			}
			if (rc == 0 && container)
				stack[depth++] = n;
		}
		yaml_event_delete(&ev);
		if (rc < 0)
			break;
	}
	if (rc < 0)
		spec_node_free(root);
	yaml_parser_delete(&p);
	return rc;
}

/* ---- json-c -> node tree ---- */

static struct node *json_to_node(struct json_object *o, int depth)
{
	struct node *n;
	const char *s;
	if (depth > MAX_DEPTH)
		return NULL;
	switch (json_object_get_type(o)) {
	case json_type_object:
		n = spec_node_new(N_MAP, 0, 0);
		if (n == NULL)
			return NULL;
		json_object_object_foreach(o, k, v)
		{
			struct node *kv;
			if (spec_node_add(n, spec_scalar_new(k, strlen(k), false, 0, 0)) < 0 ||
			    (kv = json_to_node(v, depth + 1)) == NULL || spec_node_add(n, kv) < 0) {
				spec_node_free(n);
				return NULL;
			}
		}
		return n;
	case json_type_array:
		n = spec_node_new(N_SEQ, 0, 0);
		if (n == NULL)
			return NULL;
		for (size_t i = 0; i < json_object_array_length(o); i++) {
			struct node *kv = json_to_node(json_object_array_get_idx(o, i), depth + 1);
			if (kv == NULL || spec_node_add(n, kv) < 0) {
				spec_node_free(n);
				return NULL;
			}
		}
		return n;
	case json_type_null:
		return spec_scalar_new("null", 4, true, 0, 0);
	case json_type_string:
		s = json_object_get_string(o);
		return spec_scalar_new(s, (size_t)json_object_get_string_len(o), false, 0, 0);
	default: /* int, double, boolean */
		s = json_object_get_string(o);
		return spec_scalar_new(s, strlen(s), true, 0, 0);
	}
}

/* ---- the function object ---- */

const char *fx_spec_metric_name(enum fx_scale_metric m)
{
	return m == FX_METRIC_RPS ? "rps" : m == FX_METRIC_ALERTS ? "alerts" : "concurrency";
}

int64_t fx_spec_default_target(enum fx_scale_metric m)
{
	return m == FX_METRIC_RPS      ? FX_SPEC_DEFAULT_TARGET_RPS
	       : m == FX_METRIC_ALERTS ? 0
	                               : FX_SPEC_DEFAULT_TARGET_CONCURRENCY;
}

void fx_function_init(struct fx_function *fn)
{
	memset(fn, 0, sizeof(*fn));
	fn->mode = FX_MODE_FORK;
	fn->scale.min = FX_SPEC_DEFAULT_MIN;
	fn->scale.max = FX_SPEC_DEFAULT_MAX;
	fn->scale.factor = FX_SPEC_DEFAULT_FACTOR;
	fn->scale.cooldown_ms = 30000;
	fn->scale.metric = FX_METRIC_CONCURRENCY;
	fn->scale.target = FX_SPEC_DEFAULT_TARGET_CONCURRENCY;
	fn->scale.window_ms = FX_SPEC_DEFAULT_WINDOW_MS;
	fn->scale.panic_window_ms = FX_SPEC_DEFAULT_PANIC_WINDOW_MS;
	fn->timeouts.read_ms = 10000;
	fn->timeouts.write_ms = 10000;
	fn->timeouts.exec_ms = 10000;
	fn->fprocess = strdup("");
}

void fx_function_release(struct fx_function *fn)
{
	if (fn == NULL)
		return;
	free(fn->name);
	free(fn->image);
	free(fn->fprocess);
	free(fn->user);
	spec_kv_release(&fn->labels);
	spec_kv_release(&fn->annotations);
	spec_kv_release(&fn->env);
	spec_str_release(&fn->secrets);
	spec_str_release(&fn->constraints);
	memset(fn, 0, sizeof(*fn));
}

void fx_function_list_release(struct fx_function_list *l)
{
	if (l == NULL)
		return;
	for (size_t i = 0; i < l->n; i++)
		fx_function_release(&l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

int spec_kv_set(struct fx_kvlist *l, const char *k, const char *v)
{
	size_t lo = 0, hi = l->n;
	struct fx_kv *nv;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(l->v[mid].key, k);
		if (c == 0) {
			char *dup = strdup(v);
			if (dup == NULL)
				return -ENOMEM;
			free(l->v[mid].value);
			l->v[mid].value = dup;
			return 1;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	nv = realloc(l->v, (l->n + 1) * sizeof(*nv));
	if (nv == NULL)
		return -ENOMEM;
	l->v = nv;
	memmove(&l->v[lo + 1], &l->v[lo], (l->n - lo) * sizeof(*nv));
	l->v[lo].key = strdup(k);
	l->v[lo].value = strdup(v);
	l->n++;
	if (l->v[lo].key == NULL || l->v[lo].value == NULL)
		return -ENOMEM;
	return 0;
}

void spec_kv_release(struct fx_kvlist *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->v[i].key);
		free(l->v[i].value);
	}
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

int spec_str_push(struct fx_strlist *l, const char *s)
{
	char **nv = realloc(l->v, (l->n + 1) * sizeof(*nv));
	if (nv == NULL)
		return -ENOMEM;
	l->v = nv;
	l->v[l->n] = strdup(s);
	if (l->v[l->n] == NULL)
		return -ENOMEM;
	l->n++;
	return 0;
}

void spec_str_release(struct fx_strlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

static int kv_copy(struct fx_kvlist *d, const struct fx_kvlist *s)
{
	for (size_t i = 0; i < s->n; i++)
		if (spec_kv_set(d, s->v[i].key, s->v[i].value) < 0)
			return -ENOMEM;
	return 0;
}

int fx_function_copy(struct fx_function *dst, const struct fx_function *src)
{
	struct fx_function d = *src;
	memset(&d.labels, 0, sizeof(d.labels));
	memset(&d.annotations, 0, sizeof(d.annotations));
	memset(&d.env, 0, sizeof(d.env));
	memset(&d.secrets, 0, sizeof(d.secrets));
	memset(&d.constraints, 0, sizeof(d.constraints));
	d.name = xstrdup(src->name);
	d.image = xstrdup(src->image);
	d.fprocess = xstrdup(src->fprocess ? src->fprocess : "");
	d.user = xstrdup(src->user);
	if ((src->name && !d.name) || (src->image && !d.image) || !d.fprocess ||
	    (src->user && !d.user) || kv_copy(&d.labels, &src->labels) < 0 ||
	    kv_copy(&d.annotations, &src->annotations) < 0 || kv_copy(&d.env, &src->env) < 0)
		goto oom;
	for (size_t i = 0; i < src->secrets.n; i++)
		if (spec_str_push(&d.secrets, src->secrets.v[i]) < 0)
			goto oom;
	for (size_t i = 0; i < src->constraints.n; i++)
		if (spec_str_push(&d.constraints, src->constraints.v[i]) < 0)
			goto oom;
	*dst = d;
	return 0;
oom:
	fx_function_release(&d);
	return -ENOMEM;
}

/* ---- loaders ---- */

static int check_tree(struct vc *c, const struct node *root, struct fx_function *fn)
{
	int rc;
	fx_function_init(fn);
	if (fn->fprocess == NULL)
		return -ENOMEM;
	rc = spec_check_function(c, root, fn);
	if (rc < 0 || spec_vfailed(c)) {
		fx_function_release(fn);
		return rc < 0 ? rc : -EINVAL;
	}
	return 0;
}

static int list_push(struct fx_function_list *l, struct fx_function *fn)
{
	struct fx_function *v = realloc(l->v, (l->n + 1) * sizeof(*v));
	if (v == NULL)
		return -ENOMEM;
	l->v = v;
	l->v[l->n++] = *fn;
	return 0;
}

int spec_add_checked(struct vc *c, const struct node *root, struct fx_function_list *list)
{
	struct fx_function fn;
	int rc;
	c->before = c->errs->n + c->errs->dropped;
	rc = check_tree(c, root, &fn);
	if (rc == -ENOMEM)
		return rc;
	if (rc < 0)
		return 0;
	for (size_t i = 0; i < list->n; i++) {
		if (strcmp(list->v[i].name, fn.name) == 0) {
			const struct node *at = root;
			spec_verr(c, at, "metadata.name",
			          "duplicate function \"%s\" (first defined in document %d)",
			          fn.name, list->v[i].document);
			fx_function_release(&fn);
			return 0;
		}
	}
	rc = list_push(list, &fn);
	if (rc < 0)
		fx_function_release(&fn);
	return rc;
}

int fx_spec_load(const char *buf, size_t len, const char *file, struct fx_function_list *out,
                 struct fx_spec_errs *errs)
{
	struct docs d = {0};
	struct fx_function_list list = {0};
	struct vc c = {.file = file, .errs = errs};
	size_t start = errs->n + errs->dropped;
	int rc;

	if (len > FX_SPEC_MAX_INPUT) {
		fx_spec_errs_add(errs, file, 0, 0, 0, "", "input too large (%zu bytes, at most %d)",
		                 len, FX_SPEC_MAX_INPUT);
		return -E2BIG;
	}
	rc = yaml_to_docs(buf, len, file, &d, errs);
	if (rc < 0)
		goto out;
	for (size_t i = 0; i < d.n && rc == 0; i++) {
		if (d.v[i] == NULL || spec_is_null(d.v[i]))
			continue;
		c.doc = d.index[i];
		if (spec_is_stack(d.v[i]))
			rc = spec_load_stack(&c, d.v[i], &list);
		else
			rc = spec_add_checked(&c, d.v[i], &list);
	}
	if (rc == 0 && errs->n + errs->dropped == start && list.n == 0) {
		fx_spec_errs_add(errs, file, 0, 0, 0, "", "no function definitions found");
		rc = -EINVAL;
	}
	if (rc == 0 && errs->n + errs->dropped > start)
		rc = -EINVAL;
out:
	docs_release(&d);
	if (rc < 0) {
		fx_function_list_release(&list);
		return rc;
	}
	*out = list;
	return 0;
}

int fx_spec_from_json(struct json_object *obj, const char *file, struct fx_function *out,
                      struct fx_spec_errs *errs)
{
	struct vc c = {.file = file, .doc = 0, .errs = errs};
	struct node *root;
	struct fx_function fn;
	int rc;
	if (obj == NULL || json_object_get_type(obj) != json_type_object) {
		fx_spec_errs_add(errs, file, 0, 0, 0, "", "expected a JSON object (a Function)");
		return -EINVAL;
	}
	root = json_to_node(obj, 0);
	if (root == NULL)
		return -ENOMEM;
	c.before = errs->n + errs->dropped;
	rc = check_tree(&c, root, &fn);
	spec_node_free(root);
	if (rc < 0)
		return rc;
	*out = fn;
	return 0;
}

int fx_spec_load_one(const char *buf, size_t len, const char *file, struct fx_function *out,
                     struct fx_spec_errs *errs)
{
	size_t i = 0;
	while (i < len && isspace((unsigned char)buf[i]))
		i++;
	if (len > FX_SPEC_MAX_INPUT) {
		fx_spec_errs_add(errs, file, 0, 0, 0, "", "input too large (%zu bytes, at most %d)",
		                 len, FX_SPEC_MAX_INPUT);
		return -E2BIG;
	}
	if (i < len && buf[i] == '{') {
		struct json_object *o = NULL;
		char *jerr = NULL;
		int rc = fx_json_parse(buf, len, MAX_DEPTH, &o, &jerr);
		if (rc < 0) {
			if (jerr != NULL)
				fx_spec_errs_add(errs, file, 0, 0, 0, "", "%s", jerr);
			free(jerr);
			return rc;
		}
		rc = fx_spec_from_json(o, file, out, errs);
		json_object_put(o);
		return rc;
	} else {
		struct fx_function_list l = {0};
		int rc = fx_spec_load(buf, len, file, &l, errs);
		if (rc < 0)
			return rc;
		if (l.n != 1) {
			fx_spec_errs_add(errs, file, l.v[1].document, l.v[1].line, l.v[1].column,
			                 "", "expected one function, got %zu", l.n);
			fx_function_list_release(&l);
			return -EINVAL;
		}
		*out = l.v[0];
		free(l.v);
		return 0;
	}
}
