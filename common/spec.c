/* spec.c: the Function schema: YAML/JSON -> node tree -> validated
 * struct fx_function; canonical YAML, JSON and the hash back out.
 *
 * Every input (YAML events, a json-c object, an OpenFaaS stack.yml entry) is
 * first turned into the same small node tree, so one validator gives the same
 * messages whatever the source. Aliases are refused (no billion laughs), depth,
 * node count and scalar length are capped. */
#include "spec.h"

#include "buf.h"
#include "json.h"
#include "sha256.h"
#include "units.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#define MAX_DEPTH       32
#define MAX_NODES       200000
#define MAX_SCALAR      (64 * 1024)
#define MAX_ENTRIES     256 /* env, labels, annotations */
#define MAX_SECRETS     64
#define MAX_CONSTRAINTS 32
#define MAX_PATH        320
#define DAY_MS          (24LL * 3600 * 1000)

/* ---- node tree ---- */

enum ntype { N_SCALAR, N_MAP, N_SEQ };

struct node {
	enum ntype t;
	int line, col;      /* 1-based; 0 unknown */
	char *text;         /* scalars */
	bool plain;         /* plain scalar: may be a number, bool or null */
	struct node **kids; /* maps: key, value, key, value...; seqs: items */
	size_t n, cap;
};

static void node_free(struct node *n)
{
	if (n == NULL)
		return;
	for (size_t i = 0; i < n->n; i++)
		node_free(n->kids[i]);
	free(n->kids);
	free(n->text);
	free(n);
}

static struct node *node_new(enum ntype t, int line, int col)
{
	struct node *n = calloc(1, sizeof(*n));
	if (n == NULL)
		return NULL;
	n->t = t;
	n->line = line;
	n->col = col;
	return n;
}

static struct node *scalar_new(const char *text, size_t len, bool plain, int line, int col)
{
	struct node *n = node_new(N_SCALAR, line, col);
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

/* Takes ownership of kid (freed on failure). */
static int node_add(struct node *parent, struct node *kid)
{
	if (kid == NULL)
		return -ENOMEM;
	if (parent->n == parent->cap) {
		size_t cap = parent->cap ? parent->cap * 2 : 8;
		struct node **k = realloc(parent->kids, cap * sizeof(*k));
		if (k == NULL) {
			node_free(kid);
			return -ENOMEM;
		}
		parent->kids = k;
		parent->cap = cap;
	}
	parent->kids[parent->n++] = kid;
	return 0;
}

static struct node *node_dup(const struct node *s)
{
	struct node *d;
	if (s->t == N_SCALAR)
		return scalar_new(s->text, strlen(s->text), s->plain, s->line, s->col);
	d = node_new(s->t, s->line, s->col);
	if (d == NULL)
		return NULL;
	for (size_t i = 0; i < s->n; i++) {
		if (node_add(d, node_dup(s->kids[i])) < 0) {
			node_free(d);
			return NULL;
		}
	}
	return d;
}

static bool is_null(const struct node *n)
{
	if (n == NULL)
		return true;
	if (n->t != N_SCALAR || !n->plain)
		return false;
	return n->text[0] == '\0' || strcmp(n->text, "~") == 0 || strcmp(n->text, "null") == 0 ||
	       strcmp(n->text, "Null") == 0 || strcmp(n->text, "NULL") == 0;
}

static bool is_bool_word(const char *s)
{
	static const char *const w[] = {"true", "false", "True", "False", "TRUE", "FALSE"};
	for (size_t i = 0; i < sizeof(w) / sizeof(w[0]); i++)
		if (strcmp(s, w[i]) == 0)
			return true;
	return false;
}

static bool is_number_text(const char *s)
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

static const char *kind_name(const struct node *n)
{
	if (n->t == N_MAP)
		return "a mapping";
	if (n->t == N_SEQ)
		return "a list";
	if (is_null(n))
		return "null";
	if (n->plain && is_bool_word(n->text))
		return "a boolean";
	if (n->plain && is_number_text(n->text))
		return "a number";
	return "a string";
}

/* ---- errors ---- */

static char *xstrdup(const char *s)
{
	return s == NULL ? NULL : strdup(s);
}

static void errs_vadd(struct fx_spec_errs *e, const char *file, int document, int line, int col,
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
	errs_vadd(e, file, document, line, col, field, fmt, ap);
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
		node_free(d->v[i]);
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
				node_free(root);
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
			n = scalar_new((const char *)ev.data.scalar.value, ev.data.scalar.length,
			               plain, line, col);
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
			n = node_new(ev.type == YAML_MAPPING_START_EVENT ? N_MAP : N_SEQ, line,
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
				node_free(n);
				rc = -EINVAL;
			} else if (depth == 0) {
				node_free(root);
				root = n;
			} else if ((rc = node_add(stack[depth - 1], n)) < 0) {
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
		node_free(root);
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
		n = node_new(N_MAP, 0, 0);
		if (n == NULL)
			return NULL;
		json_object_object_foreach(o, k, v)
		{
			struct node *kv;
			if (node_add(n, scalar_new(k, strlen(k), false, 0, 0)) < 0 ||
			    (kv = json_to_node(v, depth + 1)) == NULL || node_add(n, kv) < 0) {
				node_free(n);
				return NULL;
			}
		}
		return n;
	case json_type_array:
		n = node_new(N_SEQ, 0, 0);
		if (n == NULL)
			return NULL;
		for (size_t i = 0; i < json_object_array_length(o); i++) {
			struct node *kv = json_to_node(json_object_array_get_idx(o, i), depth + 1);
			if (kv == NULL || node_add(n, kv) < 0) {
				node_free(n);
				return NULL;
			}
		}
		return n;
	case json_type_null:
		return scalar_new("null", 4, true, 0, 0);
	case json_type_string:
		s = json_object_get_string(o);
		return scalar_new(s, (size_t)json_object_get_string_len(o), false, 0, 0);
	default: /* int, double, boolean */
		s = json_object_get_string(o);
		return scalar_new(s, strlen(s), true, 0, 0);
	}
}

/* ---- validation ---- */

struct vc {
	const char *file;
	int doc;
	struct fx_spec_errs *errs;
	size_t before; /* errs->n at the start of this document */
};

static void verr(struct vc *c, const struct node *n, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void verr(struct vc *c, const struct node *n, const char *field, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	errs_vadd(c->errs, c->file, c->doc, n ? n->line : 0, n ? n->col : 0, field, fmt, ap);
	va_end(ap);
}

static bool vfailed(const struct vc *c)
{
	return c->errs->n + c->errs->dropped > c->before;
}

/* out = path.key, truncated to MAX_PATH - 1 bytes. */
static void join(char *out, const char *path, const char *key)
{
	size_t j = 0;
	for (const char *p = path; *p && j < MAX_PATH - 1; p++)
		out[j++] = *p;
	if (path[0] != '\0' && j < MAX_PATH - 1)
		out[j++] = '.';
	for (const char *p = key; *p && j < MAX_PATH - 1; p++)
		out[j++] = *p;
	out[j] = '\0';
}

/* A short quoted rendering of a user's value for messages. */
static const char *shown(const struct node *n, char *buf, size_t cap)
{
	size_t len, j = 0;
	if (n->t != N_SCALAR)
		return kind_name(n);
	len = strlen(n->text);
	buf[j++] = '"';
	for (size_t i = 0; i < len && j + 5 < cap; i++) {
		unsigned char ch = (unsigned char)n->text[i];
		buf[j++] = (ch < 0x20 || ch == 0x7f) ? '?' : (char)ch;
	}
	if (j + 5 >= cap && len > 0) {
		buf[j++] = '.';
		buf[j++] = '.';
		buf[j++] = '.';
	}
	buf[j++] = '"';
	buf[j] = '\0';
	return buf;
}

/* "a string \"x\"", "a number \"1.5\"", "null", "a mapping"... for messages. */
static const char *got(const struct node *n, char *buf, size_t cap)
{
	char v[80];
	if (n->t != N_SCALAR || is_null(n))
		return kind_name(n);
	snprintf(buf, cap, "%s %s", kind_name(n), shown(n, v, sizeof(v)));
	return buf;
}

struct field {
	const char *name;
	const struct node **slot;
};

static const char *const escalating[] = {
    "privileged",  "mounts",       "volumes",  "hostNetwork",  "hostPID",
    "hostIPC",     "network",      "networks", "networkMode",  "network_mode",
    "devices",     "capAdd",       "cap_add",  "capabilities", "securityContext",
    "securityOpt", "security_opt", "user",     "ports",        "publish",
    "sysctls",     "pid",          "ipc",      "userns",       "cgroupParent",
    "isolation",   "init",         "hostname", "dns",          "extraHosts",
};

static bool escalates(const char *k)
{
	for (size_t i = 0; i < sizeof(escalating) / sizeof(escalating[0]); i++)
		if (strcmp(k, escalating[i]) == 0)
			return true;
	return false;
}

/* Fills the slots of the known fields of mapping m; reports unknown,
 * duplicate and non-scalar keys. check_escalation: name escalating fields. */
static bool walk_map(struct vc *c, const struct node *m, const char *path, const struct field *f,
                     size_t nf, bool check_escalation)
{
	char fp[MAX_PATH];
	if (m->t != N_MAP) {
		verr(c, m, path, "expected a mapping, got %s", kind_name(m));
		return false;
	}
	for (size_t i = 0; i + 1 < m->n; i += 2) {
		const struct node *k = m->kids[i];
		size_t j;
		if (k->t != N_SCALAR) {
			verr(c, k, path, "keys must be strings, got %s", kind_name(k));
			continue;
		}
		join(fp, path, k->text);
		for (j = 0; j < nf; j++)
			if (strcmp(f[j].name, k->text) == 0)
				break;
		if (j == nf) {
			if (check_escalation && escalates(k->text))
				verr(c, k, fp,
				     "not allowed: functions never get host privileges "
				     "(privileged mode, mounts, devices, host network, ports)");
			else
				verr(c, k, fp, "unknown field");
			continue;
		}
		if (*f[j].slot != NULL) {
			verr(c, k, fp, "duplicate field");
			continue;
		}
		*f[j].slot = m->kids[i + 1];
	}
	return true;
}

/* Text the canonical YAML can hold and load back: well-formed UTF-8 of YAML's
 * printable characters (no C1 controls, surrogates, BOM, U+FFFE/U+FFFF). JSON
 * input reaches here unchecked by libyaml (found by fuzz/common_spec_json). */
static bool utf8_printable(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	while (*p) {
		uint32_t cp;
		int k;
		if (*p < 0x80) {
			p++;
			continue;
		}
		if (*p >= 0xc2 && *p <= 0xdf)
			cp = *p & 0x1fu, k = 1;
		else if (*p >= 0xe0 && *p <= 0xef)
			cp = *p & 0x0fu, k = 2;
		else if (*p >= 0xf0 && *p <= 0xf4)
			cp = *p & 0x07u, k = 3;
		else
			return false;
		for (int i = 1; i <= k; i++) {
			if ((p[i] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (p[i] & 0x3fu);
		}
		if ((k == 2 && cp < 0x800) || (k == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
		    cp <= 0x9f || (cp >= 0xd800 && cp <= 0xdfff) || cp == 0xfeff || cp == 0xfffe ||
		    cp == 0xffff)
			return false;
		p += k + 1;
	}
	return true;
}

static bool want_string(struct vc *c, const struct node *n, const char *field, size_t max,
                        const char **out)
{
	char b[80], g[100];
	if (n->t != N_SCALAR || is_null(n) ||
	    (n->plain && (is_bool_word(n->text) || is_number_text(n->text)))) {
		verr(c, n, field, "expected a string, got %s", got(n, g, sizeof(g)));
		return false;
	}
	if (strlen(n->text) > max) {
		verr(c, n, field, "too long (at most %zu characters)", max);
		return false;
	}
	for (const char *p = n->text; *p; p++) {
		if ((unsigned char)*p < 0x20 || *p == 0x7f) {
			verr(c, n, field, "control characters are not allowed in %s",
			     shown(n, b, sizeof(b)));
			return false;
		}
	}
	if (!utf8_printable(n->text)) {
		verr(c, n, field, "not valid UTF-8 text: %s", shown(n, b, sizeof(b)));
		return false;
	}
	*out = n->text;
	return true;
}

static bool want_int(struct vc *c, const struct node *n, const char *field, int64_t min,
                     int64_t max, int64_t *out)
{
	char b[80], g[100];
	int64_t v;
	int rc;
	if (n->t != N_SCALAR || !n->plain || is_null(n)) {
		verr(c, n, field, "expected an integer, got %s", got(n, g, sizeof(g)));
		return false;
	}
	rc = fx_parse_int(n->text, INT64_MIN, INT64_MAX, &v);
	if (rc == -EINVAL) {
		verr(c, n, field, "expected an integer, got %s", got(n, g, sizeof(g)));
		return false;
	}
	if (rc < 0 || v < min || v > max) {
		verr(c, n, field, "must be between %lld and %lld, got %s", (long long)min,
		     (long long)max, shown(n, b, sizeof(b)));
		return false;
	}
	*out = v;
	return true;
}

static bool want_bool(struct vc *c, const struct node *n, const char *field, bool *out)
{
	char g[100];
	if (n->t != N_SCALAR || !n->plain || !is_bool_word(n->text)) {
		verr(c, n, field, "expected true or false, got %s", got(n, g, sizeof(g)));
		return false;
	}
	*out = n->text[0] == 't' || n->text[0] == 'T';
	return true;
}

/* Scalar text of a quantity (string or number). */
static const char *quantity_text(struct vc *c, const struct node *n, const char *field,
                                 const char *what)
{
	if (n->t != N_SCALAR || is_null(n) || (n->plain && is_bool_word(n->text))) {
		verr(c, n, field, "expected %s, got %s", what, kind_name(n));
		return NULL;
	}
	return n->text;
}

static bool want_duration(struct vc *c, const struct node *n, const char *field, int64_t min,
                          int64_t max, int64_t *out)
{
	static const char what[] = "a duration like 10s, 500ms or 1m30s";
	char b[80], lo[32], hi[32];
	const char *s = quantity_text(c, n, field, what);
	int64_t v;
	int rc;
	if (s == NULL)
		return false;
	rc = fx_parse_duration_ms(s, &v);
	if (rc == -EINVAL) {
		verr(c, n, field, "expected %s, got %s", what, shown(n, b, sizeof(b)));
		return false;
	}
	if (rc < 0 || v < min || v > max) {
		fx_format_duration(min, lo, sizeof(lo));
		fx_format_duration(max, hi, sizeof(hi));
		verr(c, n, field, "must be between %s and %s, got %s", lo, hi,
		     shown(n, b, sizeof(b)));
		return false;
	}
	*out = v;
	return true;
}

/* spec.scale.metric, target, window, panicWindow, downDelay (each may be NULL). */
static void want_autoscale(struct vc *c, const struct node *me, const struct node *ta,
                           const struct node *wi, const struct node *pw, const struct node *dd,
                           struct fx_scale *s)
{
	char g[100];
	if (me && !is_null(me)) {
		if (me->t == N_SCALAR && strcmp(me->text, "concurrency") == 0)
			s->metric = FX_METRIC_CONCURRENCY;
		else if (me->t == N_SCALAR && strcmp(me->text, "rps") == 0)
			s->metric = FX_METRIC_RPS;
		else if (me->t == N_SCALAR && strcmp(me->text, "alerts") == 0)
			s->metric = FX_METRIC_ALERTS;
		else
			verr(c, me, "spec.scale.metric",
			     "expected concurrency, rps or alerts, got %s", got(me, g, sizeof(g)));
	}
	s->target = fx_spec_default_target(s->metric);
	if (ta && !is_null(ta)) {
		if (s->metric == FX_METRIC_ALERTS)
			verr(c, ta, "spec.scale.target",
			     "has no meaning with metric: alerts (scale.factor steps instead)");
		else
			want_int(c, ta, "spec.scale.target", 1, FX_SPEC_MAX_TARGET, &s->target);
	}
	if (wi && !is_null(wi))
		want_duration(c, wi, "spec.scale.window", 6000, 3600000, &s->window_ms);
	if (pw && !is_null(pw) &&
	    want_duration(c, pw, "spec.scale.panicWindow", 1000, 3600000, &s->panic_window_ms) &&
	    s->panic_window_ms > s->window_ms)
		verr(c, pw, "spec.scale.panicWindow", "must not be longer than spec.scale.window");
	if (dd && !is_null(dd))
		want_duration(c, dd, "spec.scale.downDelay", 0, 3600000, &s->down_delay_ms);
}

static bool want_memory(struct vc *c, const struct node *n, const char *field, uint64_t min,
                        struct fx_resources *res)
{
	static const char what[] = "a size like 128Mi, 1Gi or 64M";
	char b[80], lo[32];
	const char *s = quantity_text(c, n, field, what);
	uint64_t v;
	int rc;
	if (s == NULL)
		return false;
	rc = fx_parse_size(s, &v);
	if (rc == -EINVAL) {
		verr(c, n, field, "expected %s, got %s", what, shown(n, b, sizeof(b)));
		return false;
	}
	if (rc < 0 || v > (1ULL << 50)) {
		verr(c, n, field, "too large: %s", shown(n, b, sizeof(b)));
		return false;
	}
	if (v < min) {
		fx_format_size(min, lo, sizeof(lo));
		verr(c, n, field, "must be at least %s, got %s", lo, shown(n, b, sizeof(b)));
		return false;
	}
	if (strlen(s) > FX_QUANTITY_MAX) {
		verr(c, n, field, "too long (at most %d characters)", FX_QUANTITY_MAX);
		return false;
	}
	res->memory = v;
	snprintf(res->memory_text, sizeof(res->memory_text), "%s", s);
	return true;
}

static bool want_cpu(struct vc *c, const struct node *n, const char *field,
                     struct fx_resources *res)
{
	static const char what[] = "a CPU quantity like 500m, 0.5 or 2";
	char b[80];
	const char *s = quantity_text(c, n, field, what);
	int64_t v;
	int rc;
	if (s == NULL)
		return false;
	rc = fx_parse_cpu_milli(s, &v);
	if (rc == -EINVAL) {
		verr(c, n, field, "expected %s, got %s", what, shown(n, b, sizeof(b)));
		return false;
	}
	if (rc < 0 || v < 1 || v > 1024 * 1000) {
		verr(c, n, field, "must be between 1m and 1024, got %s", shown(n, b, sizeof(b)));
		return false;
	}
	if (strlen(s) > FX_QUANTITY_MAX) {
		verr(c, n, field, "too long (at most %d characters)", FX_QUANTITY_MAX);
		return false;
	}
	res->cpu_milli = v;
	snprintf(res->cpu_text, sizeof(res->cpu_text), "%s", s);
	return true;
}

bool fx_spec_valid_name(const char *s)
{
	size_t len = s ? strlen(s) : 0;
	if (len == 0 || len > FX_SPEC_MAX_NAME)
		return false;
	for (size_t i = 0; i < len; i++) {
		char ch = s[i];
		bool alnum = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9');
		if (!alnum && !(ch == '-' && i != 0 && i != len - 1))
			return false;
	}
	return true;
}

static bool valid_label_key(const char *s)
{
	size_t len = strlen(s);
	if (len == 0 || len > 253 || !isalnum((unsigned char)s[0]))
		return false;
	for (const char *p = s; *p; p++)
		if (!isalnum((unsigned char)*p) && strchr("._/-", *p) == NULL)
			return false;
	return true;
}

static bool valid_env_key(const char *s)
{
	size_t len = strlen(s);
	if (len == 0 || len > 256 || !(isalpha((unsigned char)s[0]) || s[0] == '_'))
		return false;
	for (const char *p = s; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '_')
			return false;
	return true;
}

/* Docker secret names: [a-zA-Z0-9]([a-zA-Z0-9_.-]*[a-zA-Z0-9])?, at most 64. */
static bool valid_secret_name(const char *s)
{
	size_t len = strlen(s);
	if (len == 0 || len > 64 || !isalnum((unsigned char)s[0]) ||
	    !isalnum((unsigned char)s[len - 1]))
		return false;
	for (const char *p = s; *p; p++)
		if (!isalnum((unsigned char)*p) && strchr("_.-", *p) == NULL)
			return false;
	return true;
}

static bool valid_image(const char *s)
{
	size_t len = strlen(s);
	if (len == 0 || len > 512 || !isalnum((unsigned char)s[0]))
		return false;
	for (const char *p = s; *p; p++)
		if (!isalnum((unsigned char)*p) && strchr("._/:@-", *p) == NULL)
			return false;
	return true;
}

static int kv_set(struct fx_kvlist *l, const char *k, const char *v)
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

static void kv_release(struct fx_kvlist *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->v[i].key);
		free(l->v[i].value);
	}
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

static int str_push(struct fx_strlist *l, const char *s)
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

static void str_release(struct fx_strlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

enum keykind { KEY_LABEL, KEY_ANNOTATION, KEY_ENV };

/* The controller's labels (faas.function, faas.network, ...: every faas.* but
 * the one faasctl sets) and Docker's. */
static bool reserved_label(const char *k)
{
	if (strncmp(k, "faas.", 5) == 0)
		return strcmp(k, FX_LABEL_APPLYSET) != 0;
	return strncmp(k, "com.docker.", 11) == 0;
}

/* Names the platform's own services answer to on the functions' network
 * (manifests/stack.yml): a function of that name would receive their traffic. */
static const char *const reserved_names[] = {"gateway", "controller", "prometheus", "alertmanager"};

/* A container user as Docker takes it: NAME or UID, optionally :GROUP or :GID. */
static bool valid_user_part(const char *s, size_t n)
{
	if (n == 0 || n > 32)
		return false;
	if (strspn(s, "0123456789") >= n)
		return n <= 10 && strtoull(s, NULL, 10) <= 2147483647ULL;
	if (!(isalpha((unsigned char)s[0]) || s[0] == '_'))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && strchr("_.-", s[i]) == NULL)
			return false;
	return true;
}

static bool valid_user(const char *s)
{
	const char *colon = strchr(s, ':');
	if (colon == NULL)
		return valid_user_part(s, strlen(s));
	return valid_user_part(s, (size_t)(colon - s)) &&
	       valid_user_part(colon + 1, strlen(colon + 1));
}

static const char *const reserved_env[][2] = {
    {"fprocess", "spec.fprocess"},          {"mode", "spec.mode"},
    {"read_timeout", "spec.timeouts.read"}, {"write_timeout", "spec.timeouts.write"},
    {"exec_timeout", "spec.timeouts.exec"},
};

/* Is the field behind reserved_env[r] left to the image (null), so that
 * the variable may be set in env instead? */
static bool env_field_unset(const struct fx_function *fn, size_t r)
{
	switch (r) {
	case 0:
		return fn->fprocess == NULL || fn->fprocess[0] == '\0';
	case 1:
		return fn->mode == FX_MODE_IMAGE;
	case 2:
		return fn->timeouts.read_ms == 0;
	case 3:
		return fn->timeouts.write_ms == 0;
	default:
		return fn->timeouts.exec_ms == 0;
	}
}

/* A string -> string map (values: any scalar, null is ""). fn: the function
 * so far (KEY_ENV: its fprocess, mode and timeouts are read), else NULL. */
static int want_strmap(struct vc *c, const struct node *m, const char *path, enum keykind kk,
                       const struct fx_function *fn, struct fx_kvlist *out)
{
	char fp[MAX_PATH];
	if (is_null(m))
		return 0;
	if (m->t != N_MAP) {
		verr(c, m, path, "expected a mapping, got %s", kind_name(m));
		return 0;
	}
	if (m->n / 2 > MAX_ENTRIES) {
		verr(c, m, path, "too many entries (%zu, at most %d)", m->n / 2, MAX_ENTRIES);
		return 0;
	}
	for (size_t i = 0; i + 1 < m->n; i += 2) {
		const struct node *k = m->kids[i], *v = m->kids[i + 1];
		const char *val = "";
		int rc;
		if (k->t != N_SCALAR) {
			verr(c, k, path, "keys must be strings, got %s", kind_name(k));
			continue;
		}
		join(fp, path, k->text);
		if (kk == KEY_ENV) {
			if (!valid_env_key(k->text)) {
				verr(c, k, fp,
				     "not a valid environment variable name (letters, digits and "
				     "'_', not starting with a digit)");
				continue;
			}
			for (size_t r = 0; r < sizeof(reserved_env) / sizeof(reserved_env[0]);
			     r++) {
				if (strcmp(k->text, reserved_env[r][0]) == 0 &&
				    !env_field_unset(fn, r)) {
					verr(c, k, fp,
					     "set by %s; use that field (or set it to null to "
					     "leave it to the image and this variable)",
					     reserved_env[r][1]);
					goto next;
				}
			}
		} else {
			if (!valid_label_key(k->text)) {
				verr(c, k, fp,
				     "not a valid key (letters, digits, '.', '_', '/', '-', "
				     "starting with a letter or digit, at most 253)");
				continue;
			}
			if (kk == KEY_LABEL && reserved_label(k->text)) {
				verr(c, k, fp, "reserved for the controller");
				continue;
			}
		}
		if (v->t != N_SCALAR) {
			verr(c, v, fp, "expected a string, got %s", kind_name(v));
			continue;
		}
		if (!is_null(v))
			val = v->text;
		if (strlen(val) > 16384) {
			verr(c, v, fp, "too long (at most 16384 characters)");
			continue;
		}
		if (!utf8_printable(val)) {
			verr(c, v, fp, "not valid UTF-8 text");
			continue;
		}
		rc = kv_set(out, k->text, val);
		if (rc < 0)
			return rc;
		if (rc == 1)
			verr(c, k, fp, "duplicate key");
	next:;
	}
	return 0;
}

static int want_strlist(struct vc *c, const struct node *s, const char *path, size_t cap,
                        bool secrets, struct fx_strlist *out)
{
	char fp[MAX_PATH], b[80];
	if (is_null(s))
		return 0;
	if (s->t != N_SEQ) {
		verr(c, s, path, "expected a list, got %s", kind_name(s));
		return 0;
	}
	if (s->n > cap) {
		verr(c, s, path, "too many entries (%zu, at most %zu)", s->n, cap);
		return 0;
	}
	for (size_t i = 0; i < s->n; i++) {
		const char *v;
		bool dup = false;
		snprintf(fp, sizeof(fp), "%s[%zu]", path, i);
		if (!want_string(c, s->kids[i], fp, 256, &v))
			continue;
		if (secrets && !valid_secret_name(v)) {
			verr(c, s->kids[i], fp,
			     "%s is not a valid secret name (letters, digits, '_', '.', '-', at "
			     "most 64)",
			     shown(s->kids[i], b, sizeof(b)));
			continue;
		}
		if (!secrets && strstr(v, "==") == NULL && strstr(v, "!=") == NULL) {
			verr(c, s->kids[i], fp,
			     "%s is not a placement constraint (expected a==b or a!=b, e.g. "
			     "node.role==worker)",
			     shown(s->kids[i], b, sizeof(b)));
			continue;
		}
		for (size_t j = 0; j < out->n; j++)
			dup |= strcmp(out->v[j], v) == 0;
		if (dup) {
			verr(c, s->kids[i], fp, "duplicate entry %s",
			     shown(s->kids[i], b, sizeof(b)));
			continue;
		}
		if (str_push(out, v) < 0)
			return -ENOMEM;
	}
	return 0;
}

static void want_resources(struct vc *c, const struct node *m, const char *path, bool limits,
                           struct fx_resources *out)
{
	const struct node *mem = NULL, *cpu = NULL;
	const struct field f[] = {{"memory", &mem}, {"cpu", &cpu}};
	char fp[MAX_PATH];
	if (is_null(m) || !walk_map(c, m, path, f, 2, false))
		return;
	if (mem != NULL && !is_null(mem)) {
		join(fp, path, "memory");
		/* Under Docker's minimum (6Mi) is accepted and raised on the service
		 * (svc_build), so what OpenFaaS users write deploys and reads back. */
		want_memory(c, mem, fp, limits ? 1 : 0, out);
	}
	if (cpu != NULL && !is_null(cpu)) {
		join(fp, path, "cpu");
		want_cpu(c, cpu, fp, out);
	}
}

static bool is_reserved_name(const char *s)
{
	for (size_t i = 0; i < sizeof(reserved_names) / sizeof(reserved_names[0]); i++)
		if (strcmp(s, reserved_names[i]) == 0)
			return true;
	return false;
}

static int check_function(struct vc *c, const struct node *root, struct fx_function *fn)
{
	const struct node *api = NULL, *kind = NULL, *meta = NULL, *spec = NULL, *status = NULL;
	const struct node *name = NULL, *labels = NULL, *ann = NULL, *gen = NULL, *ts = NULL;
	const struct node *image = NULL, *fproc = NULL, *mode = NULL, *env = NULL, *sec = NULL,
	                  *cons = NULL, *lim = NULL, *req = NULL, *scale = NULL, *tmo = NULL,
	                  *rofs = NULL, *user = NULL;
	const struct field top[] = {{"apiVersion", &api},
	                            {"kind", &kind},
	                            {"metadata", &meta},
	                            {"spec", &spec},
	                            {"status", &status}};
	const struct field mf[] = {{"name", &name},
	                           {"labels", &labels},
	                           {"annotations", &ann},
	                           {"generation", &gen},
	                           {"creationTimestamp", &ts}};
	const struct field sf[] = {
	    {"image", &image},
	    {"fprocess", &fproc},
	    {"mode", &mode},
	    {"env", &env},
	    {"secrets", &sec},
	    {"constraints", &cons},
	    {"limits", &lim},
	    {"requests", &req},
	    {"scale", &scale},
	    {"timeouts", &tmo},
	    {"readOnlyRootFilesystem", &rofs},
	    {"user", &user},
	};
	const char *s;
	char b[80];
	int rc;

	fn->line = root->line;
	fn->column = root->col;
	fn->document = c->doc;
	if (root->t != N_MAP) {
		verr(c, root, "", "expected a mapping (a Function document), got %s",
		     kind_name(root));
		return 0;
	}
	walk_map(c, root, "", top, sizeof(top) / sizeof(top[0]), true);
	if (api == NULL)
		verr(c, root, "apiVersion", "required (faas/v1)");
	else if (want_string(c, api, "apiVersion", 64, &s) && strcmp(s, "faas/v1") != 0)
		verr(c, api, "apiVersion", "expected faas/v1, got %s", shown(api, b, sizeof(b)));
	if (kind == NULL)
		verr(c, root, "kind", "required (Function)");
	else if (want_string(c, kind, "kind", 64, &s) && strcmp(s, "Function") != 0)
		verr(c, kind, "kind", "unknown kind %s (expected Function)",
		     shown(kind, b, sizeof(b)));

	if (meta == NULL || is_null(meta)) {
		verr(c, meta ? meta : root, "metadata", "required (with a name)");
	} else if (walk_map(c, meta, "metadata", mf, sizeof(mf) / sizeof(mf[0]), false)) {
		if (name == NULL) {
			verr(c, meta, "metadata.name", "required");
		} else if (want_string(c, name, "metadata.name", 1024, &s)) {
			if (!fx_spec_valid_name(s))
				verr(c, name, "metadata.name",
				     "%s is not a DNS-1123 label (lower-case letters, digits and "
				     "'-', starting and ending with a letter or digit, at most 63)",
				     shown(name, b, sizeof(b)));
			else if (is_reserved_name(s))
				verr(c, name, "metadata.name",
				     "%s is reserved: the platform's own services (gateway, "
				     "controller, prometheus, alertmanager) answer to these names "
				     "on "
				     "the functions' network",
				     shown(name, b, sizeof(b)));
			else if ((fn->name = strdup(s)) == NULL)
				return -ENOMEM;
		}
		if (labels && (rc = want_strmap(c, labels, "metadata.labels", KEY_LABEL, NULL,
		                                &fn->labels)) < 0)
			return rc;
		if (ann && (rc = want_strmap(c, ann, "metadata.annotations", KEY_ANNOTATION, NULL,
		                             &fn->annotations)) < 0)
			return rc;
	}

	if (spec == NULL || is_null(spec)) {
		verr(c, spec ? spec : root, "spec", "required (with an image)");
		return 0;
	}
	if (!walk_map(c, spec, "spec", sf, sizeof(sf) / sizeof(sf[0]), true))
		return 0;
	if (image == NULL || is_null(image)) {
		verr(c, image ? image : spec, "spec.image", "required");
	} else if (want_string(c, image, "spec.image", 512, &s)) {
		if (!valid_image(s))
			verr(c, image, "spec.image", "%s is not a valid image reference",
			     shown(image, b, sizeof(b)));
		else if ((fn->image = strdup(s)) == NULL)
			return -ENOMEM;
	}
	if (fproc != NULL && !is_null(fproc) && want_string(c, fproc, "spec.fprocess", 4096, &s)) {
		free(fn->fprocess);
		if ((fn->fprocess = strdup(s)) == NULL)
			return -ENOMEM;
	}
	if (mode != NULL && is_null(mode))
		fn->mode = FX_MODE_IMAGE; /* explicit null: the image's own */
	else if (mode != NULL && want_string(c, mode, "spec.mode", 64, &s)) {
		if (strcmp(s, "fork") == 0)
			fn->mode = FX_MODE_FORK;
		else if (strcmp(s, "http") == 0)
			fn->mode = FX_MODE_HTTP;
		else if (strcmp(s, "streaming") == 0)
			fn->mode = FX_MODE_STREAMING;
		else
			verr(c, mode, "spec.mode", "expected fork, http or streaming, got %s",
			     shown(mode, b, sizeof(b)));
	}
	if (tmo != NULL && is_null(tmo)) {
		fn->timeouts.read_ms = fn->timeouts.write_ms = fn->timeouts.exec_ms = 0;
	} else if (tmo != NULL) {
		const struct node *rd = NULL, *wr = NULL, *ex = NULL;
		const struct field tf[] = {{"read", &rd}, {"write", &wr}, {"exec", &ex}};
		/* absent: the default (10s); null: the image's own (0) */
		if (walk_map(c, tmo, "spec.timeouts", tf, 3, false)) {
			if (rd && is_null(rd))
				fn->timeouts.read_ms = 0;
			else if (rd)
				want_duration(c, rd, "spec.timeouts.read", 1, DAY_MS,
				              &fn->timeouts.read_ms);
			if (wr && is_null(wr))
				fn->timeouts.write_ms = 0;
			else if (wr)
				want_duration(c, wr, "spec.timeouts.write", 1, DAY_MS,
				              &fn->timeouts.write_ms);
			if (ex && is_null(ex))
				fn->timeouts.exec_ms = 0;
			else if (ex)
				want_duration(c, ex, "spec.timeouts.exec", 1, DAY_MS,
				              &fn->timeouts.exec_ms);
		}
	}
	if (env && (rc = want_strmap(c, env, "spec.env", KEY_ENV, fn, &fn->env)) < 0)
		return rc;
	if (sec && (rc = want_strlist(c, sec, "spec.secrets", MAX_SECRETS, true, &fn->secrets)) < 0)
		return rc;
	if (cons && (rc = want_strlist(c, cons, "spec.constraints", MAX_CONSTRAINTS, false,
	                               &fn->constraints)) < 0)
		return rc;
	if (lim)
		want_resources(c, lim, "spec.limits", true, &fn->limits);
	if (req)
		want_resources(c, req, "spec.requests", false, &fn->requests);
	if (fn->limits.memory && fn->requests.memory > fn->limits.memory) {
		char lo[32];
		fx_format_size(fn->limits.memory, lo, sizeof(lo));
		verr(c, req, "spec.requests.memory", "must not exceed spec.limits.memory (%s)", lo);
	}
	if (fn->limits.cpu_milli && fn->requests.cpu_milli > fn->limits.cpu_milli) {
		char lo[32];
		fx_spec_format_cpu(fn->limits.cpu_milli, lo, sizeof(lo));
		verr(c, req, "spec.requests.cpu", "must not exceed spec.limits.cpu (%s)", lo);
	}
	if (scale != NULL && !is_null(scale)) {
		const struct node *mn = NULL, *mx = NULL, *fa = NULL, *ze = NULL, *co = NULL,
		                  *zd = NULL, *me = NULL, *ta = NULL, *wi = NULL, *pw = NULL,
		                  *dd = NULL;
		const struct field scf[] = {
		    {"min", &mn},      {"max", &mx},          {"factor", &fa},   {"zero", &ze},
		    {"cooldown", &co}, {"zeroDuration", &zd}, {"metric", &me},   {"target", &ta},
		    {"window", &wi},   {"panicWindow", &pw},  {"downDelay", &dd}};
		if (walk_map(c, scale, "spec.scale", scf, 11, false)) {
			bool okmin = true, okmax = true;
			if (mn && !is_null(mn)) {
				int64_t v;
				if (!want_int(c, mn, "spec.scale.min", INT64_MIN, INT64_MAX, &v)) {
					okmin = false;
				} else if (v < 1) {
					verr(
					    c, mn, "spec.scale.min",
					    "must be at least 1 (zero: true allows scaling to zero "
					    "when idle)");
					okmin = false;
				} else if (v > FX_SPEC_MAX_REPLICAS) {
					verr(c, mn, "spec.scale.min", "must be at most %d",
					     FX_SPEC_MAX_REPLICAS);
					okmin = false;
				} else {
					fn->scale.min = v;
				}
			}
			if (mx && !is_null(mx))
				okmax = want_int(c, mx, "spec.scale.max", 1, FX_SPEC_MAX_REPLICAS,
				                 &fn->scale.max);
			if (okmin && okmax && fn->scale.max < fn->scale.min)
				verr(c, mx ? mx : mn, mx ? "spec.scale.max" : "spec.scale.min",
				     "max (%lld) must be at least min (%lld)",
				     (long long)fn->scale.max, (long long)fn->scale.min);
			if (fa && !is_null(fa))
				want_int(c, fa, "spec.scale.factor", 0, 100, &fn->scale.factor);
			if (ze && !is_null(ze))
				want_bool(c, ze, "spec.scale.zero", &fn->scale.zero);
			if (co && !is_null(co))
				want_duration(c, co, "spec.scale.cooldown", 0, DAY_MS,
				              &fn->scale.cooldown_ms);
			/* absent or null: the platform's idle window (the controller's
			 * idle_window setting) */
			if (zd && !is_null(zd))
				want_duration(c, zd, "spec.scale.zeroDuration", 1000, 30 * DAY_MS,
				              &fn->scale.zero_duration_ms);
			want_autoscale(c, me, ta, wi, pw, dd, &fn->scale);
		}
	}
	if (rofs && !is_null(rofs))
		want_bool(c, rofs, "spec.readOnlyRootFilesystem", &fn->read_only_root_fs);
	if (user != NULL && user->t == N_SCALAR && user->plain && user->text[0] != '\0' &&
	    strspn(user->text, "0123456789") == strlen(user->text))
		s = user->text; /* a bare UID: user: 1000 */
	else if (user == NULL || is_null(user) || !want_string(c, user, "spec.user", 80, &s))
		user = NULL;
	if (user != NULL) {
		if (s[0] != '\0' && !valid_user(s)) {
			verr(c, user, "spec.user",
			     "%s is not a user (a name or UID, optionally :group or :GID, e.g. "
			     "\"1000:1000\" or \"nobody\")",
			     shown(user, b, sizeof(b)));
		} else {
			free(fn->user);
			if ((fn->user = strdup(s)) == NULL)
				return -ENOMEM;
		}
	}
	return 0;
}

/* ---- OpenFaaS stack.yml -> Function node trees ---- */

static bool is_stack(const struct node *root)
{
	bool functions = false, api = false;
	if (root == NULL || root->t != N_MAP)
		return false;
	for (size_t i = 0; i + 1 < root->n; i += 2) {
		const struct node *k = root->kids[i];
		if (k->t != N_SCALAR)
			continue;
		if (strcmp(k->text, "functions") == 0 || strcmp(k->text, "provider") == 0)
			functions = true;
		if (strcmp(k->text, "apiVersion") == 0 || strcmp(k->text, "kind") == 0)
			api = true;
	}
	return functions && !api;
}

static struct node *mk_scalar(const char *s, bool plain, const struct node *at)
{
	return scalar_new(s, strlen(s), plain, at ? at->line : 0, at ? at->col : 0);
}

/* Adds key: value (value owned; may be NULL to skip). */
static int map_put(struct node *m, const char *key, struct node *value, const struct node *at)
{
	if (value == NULL)
		return 0;
	if (node_add(m, mk_scalar(key, false, at)) < 0) {
		node_free(value);
		return -ENOMEM;
	}
	return node_add(m, value);
}

static struct node *dup_or_null(const struct node *n)
{
	return n ? node_dup(n) : NULL;
}

/* One functions.<name> entry -> a Function tree (caller frees), NULL on ENOMEM or
 * when errors were reported. */
static struct node *stack_function(struct vc *c, const struct node *key, const struct node *f,
                                   const char *path)
{
	const struct node *image = NULL, *fproc = NULL, *env = NULL, *sec = NULL, *labels = NULL,
	                  *ann = NULL, *cons = NULL, *lim = NULL, *req = NULL, *rofs = NULL,
	                  *envfile = NULL;
	const struct node *lang = NULL, *handler = NULL, *bargs = NULL, *bopts = NULL, *bsec = NULL,
	                  *skip = NULL, *tmpl = NULL, *plat = NULL, *ns = NULL;
	const struct field ff[] = {
	    {"image", &image},
	    {"fprocess", &fproc},
	    {"environment", &env},
	    {"secrets", &sec},
	    {"labels", &labels},
	    {"annotations", &ann},
	    {"constraints", &cons},
	    {"limits", &lim},
	    {"requests", &req},
	    {"readonly_root_filesystem", &rofs},
	    {"environment_file", &envfile},
	    {"lang", &lang},
	    {"handler", &handler},
	    {"build_args", &bargs},
	    {"build_options", &bopts},
	    {"build_secrets", &bsec},
	    {"skip_build", &skip},
	    {"template", &tmpl},
	    {"platforms", &plat},
	    {"namespace", &ns},
	};
	struct node *fn, *meta, *spec, *lab = NULL, *sc;
	char fp[MAX_PATH];

	if (!walk_map(c, f, path, ff, sizeof(ff) / sizeof(ff[0]), true))
		return NULL;
	if (envfile != NULL) {
		join(fp, path, "environment_file");
		verr(c, envfile, fp, "not supported: put the variables in environment");
	}
	if (vfailed(c))
		return NULL;
	fn = node_new(N_MAP, f->line, f->col);
	if (fn == NULL)
		return NULL;
	/* fn owns meta and spec from here on; sc and lab are owned until put. */
	meta = node_new(N_MAP, f->line, f->col);
	if (map_put(fn, "apiVersion", mk_scalar("faas/v1", false, f), f) < 0 ||
	    map_put(fn, "kind", mk_scalar("Function", false, f), f) < 0 || meta == NULL ||
	    map_put(fn, "metadata", meta, f) < 0)
		goto fail_fn;
	spec = node_new(N_MAP, f->line, f->col);
	if (spec == NULL || map_put(fn, "spec", spec, f) < 0)
		goto fail_fn;
	sc = node_new(N_MAP, f->line, f->col);
	if (sc == NULL)
		goto fail_fn;
	if (labels != NULL && labels->t == N_MAP) {
		lab = node_new(N_MAP, labels->line, labels->col);
		if (lab == NULL)
			goto fail_sc;
		for (size_t i = 0; i + 1 < labels->n; i += 2) {
			const struct node *k = labels->kids[i], *v = labels->kids[i + 1];
			static const char *const sk[][2] = {{"min", "min"},
			                                    {"max", "max"},
			                                    {"factor", "factor"},
			                                    {"zero", "zero"},
			                                    {"zero-duration", "zeroDuration"}};
			bool scale = false;
			if (k->t == N_SCALAR && strncmp(k->text, "com.openfaas.scale.", 19) == 0) {
				for (size_t j = 0; j < 5; j++) {
					if (strcmp(k->text + 19, sk[j][0]) != 0 || v->t != N_SCALAR)
						continue;
					/* label values are strings: read them as typed */
					if (map_put(sc, sk[j][1], mk_scalar(v->text, true, v), k) <
					    0)
						goto fail_lab;
					scale = true;
				}
			}
			if (!scale &&
			    (node_add(lab, node_dup(k)) < 0 || node_add(lab, node_dup(v)) < 0))
				goto fail_lab;
		}
	} else if (labels != NULL) {
		lab = node_dup(labels); /* the validator reports its type */
		if (lab == NULL)
			goto fail_sc;
	}
	if (map_put(meta, "name", node_dup(key), key) < 0)
		goto fail_lab;
	if (map_put(meta, "labels", lab, f) < 0) {
		lab = NULL;
		goto fail_sc;
	}
	if (map_put(meta, "annotations", dup_or_null(ann), f) < 0 ||
	    map_put(spec, "image", dup_or_null(image), f) < 0 ||
	    map_put(spec, "fprocess", dup_or_null(fproc), f) < 0 ||
	    map_put(spec, "env", dup_or_null(env), f) < 0 ||
	    map_put(spec, "secrets", dup_or_null(sec), f) < 0 ||
	    map_put(spec, "constraints", dup_or_null(cons), f) < 0 ||
	    map_put(spec, "limits", dup_or_null(lim), f) < 0 ||
	    map_put(spec, "requests", dup_or_null(req), f) < 0 ||
	    map_put(spec, "readOnlyRootFilesystem", dup_or_null(rofs), f) < 0 ||
	    /* An OpenFaaS function's mode and timeouts are its image's (ENV) or
	     * its environment's: null leaves them to those. */
	    map_put(spec, "mode", mk_scalar("null", true, f), f) < 0 ||
	    map_put(spec, "timeouts", mk_scalar("null", true, f), f) < 0)
		goto fail_sc;
	/* com.openfaas.scale.* labels: Alertmanager scales it, as in OpenFaaS. */
	if (sc->n > 0 && map_put(sc, "metric", mk_scalar("alerts", true, f), f) < 0)
		goto fail_sc;
	if (sc->n == 0) {
		node_free(sc);
	} else if (map_put(spec, "scale", sc, f) < 0) {
		goto fail_fn;
	}
	return fn;
fail_lab:
	node_free(lab);
fail_sc:
	node_free(sc);
fail_fn:
	node_free(fn);
	return NULL;
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
	kv_release(&fn->labels);
	kv_release(&fn->annotations);
	kv_release(&fn->env);
	str_release(&fn->secrets);
	str_release(&fn->constraints);
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

static int kv_copy(struct fx_kvlist *d, const struct fx_kvlist *s)
{
	for (size_t i = 0; i < s->n; i++)
		if (kv_set(d, s->v[i].key, s->v[i].value) < 0)
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
		if (str_push(&d.secrets, src->secrets.v[i]) < 0)
			goto oom;
	for (size_t i = 0; i < src->constraints.n; i++)
		if (str_push(&d.constraints, src->constraints.v[i]) < 0)
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
	rc = check_function(c, root, fn);
	if (rc < 0 || vfailed(c)) {
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

/* Validates one tree into list; dedups names. Returns <0 only for ENOMEM. */
static int add_checked(struct vc *c, const struct node *root, struct fx_function_list *list)
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
			verr(c, at, "metadata.name",
			     "duplicate function \"%s\" (first defined in document %d)", fn.name,
			     list->v[i].document);
			fx_function_release(&fn);
			return 0;
		}
	}
	rc = list_push(list, &fn);
	if (rc < 0)
		fx_function_release(&fn);
	return rc;
}

static int load_stack(struct vc *c, const struct node *root, struct fx_function_list *list)
{
	const struct node *ver = NULL, *prov = NULL, *fns = NULL, *conf = NULL;
	const struct field tf[] = {
	    {"version", &ver}, {"provider", &prov}, {"functions", &fns}, {"configuration", &conf}};
	char fp[MAX_PATH];
	int rc;
	c->before = c->errs->n + c->errs->dropped;
	walk_map(c, root, "", tf, 4, false);
	if (fns == NULL || is_null(fns)) {
		verr(c, fns ? fns : root, "functions", "required (a map of functions by name)");
		return 0;
	}
	if (fns->t != N_MAP) {
		verr(c, fns, "functions", "expected a mapping, got %s", kind_name(fns));
		return 0;
	}
	if (vfailed(c))
		return 0;
	for (size_t i = 0; i + 1 < fns->n; i += 2) {
		const struct node *k = fns->kids[i];
		struct node *t;
		size_t before = c->errs->n + c->errs->dropped;
		if (k->t != N_SCALAR) {
			verr(c, k, "functions", "keys must be strings, got %s", kind_name(k));
			continue;
		}
		join(fp, "functions", k->text);
		c->before = before;
		t = stack_function(c, k, fns->kids[i + 1], fp);
		if (t == NULL) {
			if (!vfailed(c))
				return -ENOMEM;
			continue;
		}
		rc = add_checked(c, t, list);
		node_free(t);
		if (rc < 0)
			return rc;
	}
	return 0;
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
		if (d.v[i] == NULL || is_null(d.v[i]))
			continue;
		c.doc = d.index[i];
		if (is_stack(d.v[i]))
			rc = load_stack(&c, d.v[i], &list);
		else
			rc = add_checked(&c, d.v[i], &list);
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
	node_free(root);
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

/* ---- output ---- */

const char *fx_spec_mode_name(enum fx_mode m)
{
	switch (m) {
	case FX_MODE_HTTP:
		return "http";
	case FX_MODE_STREAMING:
		return "streaming";
	case FX_MODE_IMAGE:
		return NULL;
	default:
		return "fork";
	}
}

char *fx_spec_format_cpu(int64_t milli, char *buf, size_t n)
{
	if (milli % 1000 == 0)
		snprintf(buf, n, "%lld", (long long)(milli / 1000));
	else
		snprintf(buf, n, "%lldm", (long long)milli);
	return buf;
}

static bool yaml_special_word(const char *s)
{
	static const char *const w[] = {"true", "false", "yes", "no",   "on",
	                                "off",  "y",     "n",   "null", "~"};
	for (size_t i = 0; i < sizeof(w) / sizeof(w[0]); i++)
		if (strcasecmp(s, w[i]) == 0)
			return true;
	return false;
}

/* Plain when unambiguous: starts with a letter, '/' or '_', only [A-Za-z0-9._/:=@+-],
 * not ending in ':', not a YAML 1.1 bool/null word. Otherwise double-quoted. */
static void emit_str(struct fx_buf *b, const char *s)
{
	bool plain = (isalpha((unsigned char)s[0]) || s[0] == '/' || s[0] == '_') &&
	             s[strlen(s) - 1] != ':' && !yaml_special_word(s);
	for (const char *p = s; plain && *p; p++)
		if (!isalnum((unsigned char)*p) && strchr("._/:=@+-", *p) == NULL)
			plain = false;
	if (plain) {
		fx_buf_puts(b, s);
		return;
	}
	fx_buf_puts(b, "\"");
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			fx_buf_appendf(b, "\\%c", *p);
		else if (*p == '\n')
			fx_buf_puts(b, "\\n");
		else if (*p == '\t')
			fx_buf_puts(b, "\\t");
		else if (*p < 0x20 || *p == 0x7f)
			fx_buf_appendf(b, "\\x%02x", *p);
		else
			fx_buf_append(b, p, 1);
	}
	fx_buf_puts(b, "\"");
}

static void emit_kv(struct fx_buf *b, const char *indent, const char *key,
                    const struct fx_kvlist *l)
{
	if (l->n == 0) {
		fx_buf_appendf(b, "%s%s: {}\n", indent, key);
		return;
	}
	fx_buf_appendf(b, "%s%s:\n", indent, key);
	for (size_t i = 0; i < l->n; i++) {
		fx_buf_appendf(b, "%s  ", indent);
		emit_str(b, l->v[i].key);
		fx_buf_puts(b, ": ");
		emit_str(b, l->v[i].value);
		fx_buf_puts(b, "\n");
	}
}

static void emit_list(struct fx_buf *b, const char *indent, const char *key,
                      const struct fx_strlist *l)
{
	if (l->n == 0) {
		fx_buf_appendf(b, "%s%s: []\n", indent, key);
		return;
	}
	fx_buf_appendf(b, "%s%s:\n", indent, key);
	for (size_t i = 0; i < l->n; i++) {
		fx_buf_appendf(b, "%s  - ", indent);
		emit_str(b, l->v[i]);
		fx_buf_puts(b, "\n");
	}
}

static void emit_res(struct fx_buf *b, const char *key, const struct fx_resources *r)
{
	char t[32];
	if (r->memory == 0 && r->cpu_milli == 0) {
		fx_buf_appendf(b, "  %s: {}\n", key);
		return;
	}
	fx_buf_appendf(b, "  %s:\n", key);
	if (r->memory) {
		fx_format_size(r->memory, t, sizeof(t));
		fx_buf_puts(b, "    memory: ");
		emit_str(b, r->memory_text[0] ? r->memory_text : t);
		fx_buf_puts(b, "\n");
	}
	if (r->cpu_milli) {
		fx_spec_format_cpu(r->cpu_milli, t, sizeof(t));
		fx_buf_puts(b, "    cpu: ");
		emit_str(b, r->cpu_text[0] ? r->cpu_text : t);
		fx_buf_puts(b, "\n");
	}
}

static void emit_dur(struct fx_buf *b, const char *indent, const char *key, int64_t ms)
{
	char t[32];
	fx_format_duration(ms, t, sizeof(t));
	fx_buf_appendf(b, "%s%s: ", indent, key);
	emit_str(b, t);
	fx_buf_puts(b, "\n");
}

/* A timeout: 0 is null (the image's own). */
static void emit_timeout(struct fx_buf *b, const char *key, int64_t ms)
{
	if (ms == 0)
		fx_buf_appendf(b, "    %s: null\n", key);
	else
		emit_dur(b, "    ", key, ms);
}

char *fx_spec_canonical(const struct fx_function *fn)
{
	struct fx_buf b;
	char *s;
	fx_buf_init(&b, 4 * FX_SPEC_MAX_INPUT);
	fx_buf_puts(&b, "apiVersion: faas/v1\nkind: Function\nmetadata:\n  name: ");
	emit_str(&b, fn->name ? fn->name : "");
	fx_buf_puts(&b, "\n");
	emit_kv(&b, "  ", "labels", &fn->labels);
	emit_kv(&b, "  ", "annotations", &fn->annotations);
	fx_buf_puts(&b, "spec:\n  image: ");
	emit_str(&b, fn->image ? fn->image : "");
	fx_buf_puts(&b, "\n  fprocess: ");
	emit_str(&b, fn->fprocess ? fn->fprocess : "");
	fx_buf_appendf(&b, "\n  mode: %s\n",
	               fn->mode == FX_MODE_IMAGE ? "null" : fx_spec_mode_name(fn->mode));
	emit_kv(&b, "  ", "env", &fn->env);
	emit_list(&b, "  ", "secrets", &fn->secrets);
	emit_list(&b, "  ", "constraints", &fn->constraints);
	emit_res(&b, "limits", &fn->limits);
	emit_res(&b, "requests", &fn->requests);
	fx_buf_appendf(&b,
	               "  scale:\n    min: %lld\n    max: %lld\n    factor: %lld\n    zero: %s\n",
	               (long long)fn->scale.min, (long long)fn->scale.max,
	               (long long)fn->scale.factor, fn->scale.zero ? "true" : "false");
	emit_dur(&b, "    ", "cooldown", fn->scale.cooldown_ms);
	if (fn->scale.zero_duration_ms > 0) /* only when set: its default is the platform's */
		emit_dur(&b, "    ", "zeroDuration", fn->scale.zero_duration_ms);
	/* The autoscaler's fields only when not their defaults, so that the
	 * canonical text (and hash) of a function written before them holds. */
	if (fn->scale.metric != FX_METRIC_CONCURRENCY)
		fx_buf_appendf(&b, "    metric: %s\n", fx_spec_metric_name(fn->scale.metric));
	if (fn->scale.target != fx_spec_default_target(fn->scale.metric))
		fx_buf_appendf(&b, "    target: %lld\n", (long long)fn->scale.target);
	if (fn->scale.window_ms != FX_SPEC_DEFAULT_WINDOW_MS)
		emit_dur(&b, "    ", "window", fn->scale.window_ms);
	if (fn->scale.panic_window_ms != FX_SPEC_DEFAULT_PANIC_WINDOW_MS)
		emit_dur(&b, "    ", "panicWindow", fn->scale.panic_window_ms);
	if (fn->scale.down_delay_ms > 0)
		emit_dur(&b, "    ", "downDelay", fn->scale.down_delay_ms);
	fx_buf_puts(&b, "  timeouts:\n");
	emit_timeout(&b, "read", fn->timeouts.read_ms);
	emit_timeout(&b, "write", fn->timeouts.write_ms);
	emit_timeout(&b, "exec", fn->timeouts.exec_ms);
	/* Only when set: the canonical text (and so the spec hash) of a function
	 * without a user is what it was before the field existed. */
	if (fn->user != NULL && fn->user[0] != '\0') {
		fx_buf_puts(&b, "  user: ");
		emit_str(&b, fn->user);
		fx_buf_puts(&b, "\n");
	}
	fx_buf_appendf(&b, "  readOnlyRootFilesystem: %s\n",
	               fn->read_only_root_fs ? "true" : "false");
	s = fx_buf_detach(&b, NULL); /* NULL when an append failed: never a cut text */
	fx_buf_release(&b);
	return s;
}

int fx_spec_hash(const struct fx_function *fn, char out[65])
{
	char *s = fx_spec_canonical(fn);
	if (s == NULL)
		return -ENOMEM;
	fx_sha256_hex(s, strlen(s), out);
	free(s);
	return 0;
}

static struct json_object *kv_json(const struct fx_kvlist *l)
{
	struct json_object *o = json_object_new_object();
	for (size_t i = 0; o && i < l->n; i++)
		json_object_object_add(o, l->v[i].key, json_object_new_string(l->v[i].value));
	return o;
}

static struct json_object *list_json(const struct fx_strlist *l)
{
	struct json_object *a = json_object_new_array();
	for (size_t i = 0; a && i < l->n; i++)
		json_object_array_add(a, json_object_new_string(l->v[i]));
	return a;
}

struct json_object *fx_spec_resources_json(const struct fx_resources *r)
{
	struct json_object *o = json_object_new_object();
	char t[32];
	if (o == NULL)
		return NULL;
	if (r->memory) {
		fx_format_size(r->memory, t, sizeof(t));
		json_object_object_add(
		    o, "memory", json_object_new_string(r->memory_text[0] ? r->memory_text : t));
	}
	if (r->cpu_milli) {
		fx_spec_format_cpu(r->cpu_milli, t, sizeof(t));
		json_object_object_add(o, "cpu",
		                       json_object_new_string(r->cpu_text[0] ? r->cpu_text : t));
	}
	return o;
}

static struct json_object *dur_json(int64_t ms)
{
	char t[32];
	fx_format_duration(ms, t, sizeof(t));
	return json_object_new_string(t);
}

struct json_object *fx_spec_to_json(const struct fx_function *fn)
{
	struct json_object *o = json_object_new_object(), *m, *s, *sc, *to;
	if (o == NULL)
		return NULL;
	m = json_object_new_object();
	s = json_object_new_object();
	sc = json_object_new_object();
	to = json_object_new_object();
	if (m == NULL || s == NULL || sc == NULL || to == NULL) {
		json_object_put(m);
		json_object_put(s);
		json_object_put(sc);
		json_object_put(to);
		json_object_put(o);
		return NULL;
	}
	json_object_object_add(o, "apiVersion", json_object_new_string("faas/v1"));
	json_object_object_add(o, "kind", json_object_new_string("Function"));
	json_object_object_add(m, "name", json_object_new_string(fn->name ? fn->name : ""));
	json_object_object_add(m, "labels", kv_json(&fn->labels));
	json_object_object_add(m, "annotations", kv_json(&fn->annotations));
	json_object_object_add(o, "metadata", m);
	json_object_object_add(s, "image", json_object_new_string(fn->image ? fn->image : ""));
	json_object_object_add(s, "fprocess",
	                       json_object_new_string(fn->fprocess ? fn->fprocess : ""));
	json_object_object_add(
	    s, "mode",
	    fn->mode == FX_MODE_IMAGE ? NULL : json_object_new_string(fx_spec_mode_name(fn->mode)));
	json_object_object_add(s, "env", kv_json(&fn->env));
	json_object_object_add(s, "secrets", list_json(&fn->secrets));
	json_object_object_add(s, "constraints", list_json(&fn->constraints));
	json_object_object_add(s, "limits", fx_spec_resources_json(&fn->limits));
	json_object_object_add(s, "requests", fx_spec_resources_json(&fn->requests));
	json_object_object_add(sc, "min", json_object_new_int64(fn->scale.min));
	json_object_object_add(sc, "max", json_object_new_int64(fn->scale.max));
	json_object_object_add(sc, "factor", json_object_new_int64(fn->scale.factor));
	json_object_object_add(sc, "zero", json_object_new_boolean(fn->scale.zero));
	json_object_object_add(sc, "cooldown", dur_json(fn->scale.cooldown_ms));
	if (fn->scale.zero_duration_ms > 0)
		json_object_object_add(sc, "zeroDuration", dur_json(fn->scale.zero_duration_ms));
	json_object_object_add(sc, "metric",
	                       json_object_new_string(fx_spec_metric_name(fn->scale.metric)));
	if (fn->scale.metric != FX_METRIC_ALERTS)
		json_object_object_add(sc, "target", json_object_new_int64(fn->scale.target));
	json_object_object_add(sc, "window", dur_json(fn->scale.window_ms));
	json_object_object_add(sc, "panicWindow", dur_json(fn->scale.panic_window_ms));
	json_object_object_add(sc, "downDelay", dur_json(fn->scale.down_delay_ms));
	json_object_object_add(s, "scale", sc);
	/* a timeout left to the image is JSON null */
	json_object_object_add(to, "read",
	                       fn->timeouts.read_ms ? dur_json(fn->timeouts.read_ms) : NULL);
	json_object_object_add(to, "write",
	                       fn->timeouts.write_ms ? dur_json(fn->timeouts.write_ms) : NULL);
	json_object_object_add(to, "exec",
	                       fn->timeouts.exec_ms ? dur_json(fn->timeouts.exec_ms) : NULL);
	json_object_object_add(s, "timeouts", to);
	json_object_object_add(s, "readOnlyRootFilesystem",
	                       json_object_new_boolean(fn->read_only_root_fs));
	json_object_object_add(s, "user", json_object_new_string(fn->user ? fn->user : ""));
	json_object_object_add(o, "spec", s);
	return o;
}
