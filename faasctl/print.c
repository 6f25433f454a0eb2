/* print.c: YAML, JSON, the get table and the describe view. Pure: everything
 * is written into an fx_buf, the caller prints it. */
#include "faasctl.h"
#include "buf.h"
#include "yamlw.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- lookups ---- */

static const struct json_object *jget(const struct json_object *o, const char *path)
{
	char key[128];

	while (o != NULL && path != NULL && *path != '\0') {
		const char *dot = strchr(path, '.');
		size_t len = dot ? (size_t)(dot - path) : strlen(path);
		struct json_object *next = NULL;
		if (len >= sizeof(key) || !json_object_is_type(o, json_type_object))
			return NULL;
		memcpy(key, path, len);
		key[len] = '\0';
		if (!json_object_object_get_ex(o, key, &next))
			return NULL;
		o = next;
		path = dot ? dot + 1 : NULL;
	}
	return o;
}

const char *fctl_jstr(const struct json_object *o, const char *path, const char *def)
{
	const struct json_object *v = jget(o, path);
	return v && json_object_is_type(v, json_type_string) ? json_object_get_string(fctl_mut(v))
	                                                     : def;
}

int64_t fctl_jint(const struct json_object *o, const char *path, int64_t def)
{
	const struct json_object *v = jget(o, path);
	if (v == NULL ||
	    !(json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double)))
		return def;
	return json_object_get_int64(v);
}

static bool jbool(const struct json_object *o, const char *path, bool def)
{
	const struct json_object *v = jget(o, path);
	return v && json_object_is_type(v, json_type_boolean) ? json_object_get_boolean(v) : def;
}

const struct json_object *fctl_condition(const struct json_object *fn, const char *type)
{
	const struct json_object *c = jget(fn, "status.conditions");
	if (c == NULL || !json_object_is_type(c, json_type_array))
		return NULL;
	for (size_t i = 0; i < json_object_array_length(c); i++) {
		const struct json_object *e = json_object_array_get_idx(c, i);
		const char *t = fctl_jstr(e, "type", NULL);
		if (t && strcmp(t, type) == 0)
			return e;
	}
	return NULL;
}

/* ---- YAML (strings: common/yamlw.c, as in the canonical YAML) ---- */

static void emit_scalar(const struct json_object *o, struct fx_buf *out)
{
	switch (json_object_get_type(o)) {
	case json_type_null:
		fx_buf_puts(out, "null");
		break;
	case json_type_boolean:
		fx_buf_puts(out, json_object_get_boolean(o) ? "true" : "false");
		break;
	case json_type_int:
		fx_buf_appendf(out, "%" PRId64, json_object_get_int64(o));
		break;
	case json_type_double:
		fx_buf_puts(out,
		            json_object_to_json_string_ext(fctl_mut(o), JSON_C_TO_STRING_PLAIN));
		break;
	case json_type_string:
		fx_yaml_scalar(out, json_object_get_string(fctl_mut(o)));
		break;
	case json_type_object:
		fx_buf_puts(out, "{}");
		break;
	case json_type_array:
		fx_buf_puts(out, "[]");
		break;
	}
}

static bool is_block(const struct json_object *o)
{
	return (json_object_is_type(o, json_type_object) && json_object_object_length(o) > 0) ||
	       (json_object_is_type(o, json_type_array) && json_object_array_length(o) > 0);
}

static void indent(struct fx_buf *out, int n)
{
	for (int i = 0; i < n; i++)
		fx_buf_puts(out, " ");
}

static void emit_node(const struct json_object *o, int ind, bool inline_first, struct fx_buf *out,
                      int depth);

/* An object at indentation ind; inline_first: its first key follows "- ". */
static void emit_object(const struct json_object *o, int ind, bool inline_first, struct fx_buf *out,
                        int depth)
{
	bool first = true;
	json_object_object_foreach(fctl_mut(o), k, v)
	{
		if (!(first && inline_first))
			indent(out, ind);
		first = false;
		fx_yaml_key(out, k);
		fx_buf_puts(out, ":");
		if (is_block(v)) {
			fx_buf_puts(out, "\n");
			/* Sequences under a key sit at the key's indentation (kubectl style). */
			emit_node(v, json_object_is_type(v, json_type_array) ? ind : ind + 2, false,
			          out, depth + 1);
		} else {
			fx_buf_puts(out, " ");
			emit_scalar(v, out);
			fx_buf_puts(out, "\n");
		}
	}
}

static void emit_node(const struct json_object *o, int ind, bool inline_first, struct fx_buf *out,
                      int depth)
{
	if (depth > 64) { /* deeper than any Function; keep the stack bounded */
		fx_buf_puts(out, "null\n");
		return;
	}
	if (json_object_is_type(o, json_type_object) && json_object_object_length(o) > 0) {
		emit_object(o, ind, inline_first, out, depth);
		return;
	}
	if (json_object_is_type(o, json_type_array) && json_object_array_length(o) > 0) {
		for (size_t i = 0; i < json_object_array_length(o); i++) {
			const struct json_object *e = json_object_array_get_idx(o, i);
			if (!(i == 0 && inline_first))
				indent(out, ind);
			fx_buf_puts(out, "- ");
			if (json_object_is_type(e, json_type_object) && is_block(e)) {
				emit_object(e, ind + 2, true, out, depth + 1);
			} else if (is_block(e)) {
				emit_node(e, ind + 2, true, out, depth + 1);
			} else {
				emit_scalar(e, out);
				fx_buf_puts(out, "\n");
			}
		}
		return;
	}
	if (!inline_first)
		indent(out, ind);
	emit_scalar(o, out);
	fx_buf_puts(out, "\n");
}

int fctl_yaml_emit(const struct json_object *o, struct fx_buf *out)
{
	emit_node(o, 0, false, out, 0);
	return out->data == NULL ? -ENOMEM : 0;
}

int fctl_json_emit(const struct json_object *o, struct fx_buf *out)
{
	const char *s = json_object_to_json_string_ext(
	    fctl_mut(o),
	    JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE);
	fx_buf_puts(out, s ? s : "null");
	return fx_buf_puts(out, "\n");
}

/* ---- time ---- */

static int64_t parse_rfc3339_ns(const char *s, bool *ok, int64_t *ns)
{
	struct tm tm;
	int y, mo, d, h, mi, sec, n = 0;
	int64_t t;

	*ok = false;
	*ns = 0;
	if (s == NULL ||
	    sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6)
		return 0;
	s += n;
	if (*s == '.') {
		int64_t scale = 100000000;
		for (s++; isdigit((unsigned char)*s); s++, scale /= 10)
			*ns += (*s - '0') * scale;
	}
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	t = (int64_t)timegm(&tm);
	if (*s == 'Z' || *s == 'z') {
		*ok = s[1] == '\0';
	} else if ((*s == '+' || *s == '-') && isdigit((unsigned char)s[1])) {
		int oh = 0, om = 0;
		if (sscanf(s + 1, "%2d:%2d", &oh, &om) != 2)
			return 0;
		t -= (*s == '+' ? 1 : -1) * (int64_t)(oh * 3600 + om * 60);
		*ok = true;
	}
	return t;
}

static int64_t parse_rfc3339(const char *s, bool *ok)
{
	int64_t ns;
	return parse_rfc3339_ns(s, ok, &ns);
}

int64_t fctl_time_ns(const char *rfc3339)
{
	bool ok;
	int64_t ns, t = parse_rfc3339_ns(rfc3339, &ok, &ns);
	return ok ? t * 1000000000 + ns : -1;
}

void fctl_age(const char *rfc3339, int64_t now, char *buf, size_t n)
{
	bool ok;
	int64_t t = parse_rfc3339(rfc3339, &ok), s;

	if (!ok) {
		snprintf(buf, n, "<unknown>");
		return;
	}
	s = now - t;
	if (s < 0)
		s = 0;
	if (s < 120)
		snprintf(buf, n, "%" PRId64 "s", s);
	else if (s < 600)
		snprintf(buf, n, "%" PRId64 "m%" PRId64 "s", s / 60, s % 60);
	else if (s < 3 * 3600)
		snprintf(buf, n, "%" PRId64 "m", s / 60);
	else if (s < 8 * 3600)
		snprintf(buf, n, "%" PRId64 "h%" PRId64 "m", s / 3600, (s % 3600) / 60);
	else if (s < 48 * 3600)
		snprintf(buf, n, "%" PRId64 "h", s / 3600);
	else if (s < 8 * 86400)
		snprintf(buf, n, "%" PRId64 "d%" PRId64 "h", s / 86400, (s % 86400) / 3600);
	else
		snprintf(buf, n, "%" PRId64 "d", s / 86400);
}

/* ---- the get table ---- */

#define TABLE_COLS 9

struct row {
	char *cell[TABLE_COLS];
};

static void fill_row(const struct json_object *fn, bool wide, int64_t now, struct row *r)
{
	int64_t gen = fctl_jint(fn, "metadata.generation", 0);
	int64_t obs = fctl_jint(fn, "status.observedGeneration", 0);
	int64_t want = fctl_jint(fn, "status.replicas", 0);
	int64_t avail = fctl_jint(fn, "status.availableReplicas", 0);
	char age[32];

	fctl_age(fctl_jstr(fn, "metadata.creationTimestamp", NULL), now, age, sizeof(age));
	r->cell[0] = strdup(fctl_jstr(fn, "metadata.name", "<none>"));
	r->cell[1] = fx_strdupf("%" PRId64 "/%" PRId64, avail, want);
	/* Replicas run the current spec once the controller observed this generation. */
	r->cell[2] = fx_strdupf("%" PRId64, obs >= gen ? want : 0);
	r->cell[3] = fx_strdupf("%" PRId64, avail);
	r->cell[4] = strdup(fctl_jstr(fn, "spec.image", "<none>"));
	r->cell[5] = strdup(age);
	if (wide) {
		r->cell[6] = fx_strdupf("%" PRId64, fctl_jint(fn, "status.invocationCount", 0));
		r->cell[7] = strdup(fctl_jstr(fn, "spec.mode", "image"));
		r->cell[8] =
		    fx_strdupf("%" PRId64 "-%" PRId64 "%s", fctl_jint(fn, "spec.scale.min", 1),
		               fctl_jint(fn, "spec.scale.max", 1),
		               jbool(fn, "spec.scale.zero", false) ? " (zero)" : "");
	}
}

int fctl_print_table(const struct json_object *items, bool wide, int64_t now, struct fx_buf *out)
{
	static const char *const head[TABLE_COLS] = {"NAME",        "READY", "UP-TO-DATE",
	                                             "AVAILABLE",   "IMAGE", "AGE",
	                                             "INVOCATIONS", "MODE",  "SCALE"};
	size_t ncols = wide ? TABLE_COLS : 6, n, width[TABLE_COLS];
	struct row *rows;
	int r = 0;

	if (json_object_is_type(items, json_type_array))
		n = json_object_array_length(items);
	else
		n = 1;
	rows = calloc(n + 1, sizeof(*rows));
	if (rows == NULL)
		return -ENOMEM;
	for (size_t c = 0; c < ncols; c++) {
		rows[0].cell[c] = strdup(head[c]);
		width[c] = 0;
	}
	for (size_t i = 0; i < n; i++)
		fill_row(json_object_is_type(items, json_type_array)
		             ? json_object_array_get_idx(items, i)
		             : items,
		         wide, now, &rows[i + 1]);
	for (size_t i = 0; i <= n; i++)
		for (size_t c = 0; c < ncols; c++) {
			if (rows[i].cell[c] == NULL) {
				r = -ENOMEM;
				goto out;
			}
			if (strlen(rows[i].cell[c]) > width[c])
				width[c] = strlen(rows[i].cell[c]);
		}
	for (size_t i = 0; i <= n; i++) {
		for (size_t c = 0; c < ncols; c++) {
			if (c + 1 < ncols)
				fx_buf_appendf(out, "%-*s   ", (int)width[c], rows[i].cell[c]);
			else
				fx_buf_appendf(out, "%s\n", rows[i].cell[c]);
		}
	}
	if (out->data == NULL)
		r = -ENOMEM;
out:
	for (size_t i = 0; i <= n; i++)
		for (size_t c = 0; c < TABLE_COLS; c++)
			free(rows[i].cell[c]);
	free(rows);
	return r;
}

/* ---- describe ---- */

static void kv_map(struct fx_buf *out, const char *title, const struct json_object *m)
{
	bool any = false;
	fx_buf_appendf(out, "%-13s", title);
	if (m && json_object_is_type(m, json_type_object)) {
		json_object_object_foreach(fctl_mut(m), k, v)
		{
			fx_buf_appendf(out, "%s%s=%s\n", any ? "             " : "", k,
			               json_object_is_type(v, json_type_string)
			                   ? json_object_get_string(v)
			                   : json_object_to_json_string(v));
			any = true;
		}
	}
	if (!any)
		fx_buf_puts(out, "<none>\n");
}

static void list_line(struct fx_buf *out, const char *title, const struct json_object *a)
{
	size_t n = a && json_object_is_type(a, json_type_array) ? json_object_array_length(a) : 0;
	fx_buf_appendf(out, "  %-20s", title);
	if (n == 0)
		fx_buf_puts(out, "<none>");
	for (size_t i = 0; i < n; i++) {
		struct json_object *e = json_object_array_get_idx(a, i);
		fx_buf_appendf(out, "%s%s", i ? ", " : "",
		               json_object_is_type(e, json_type_string)
		                   ? json_object_get_string(e)
		                   : json_object_to_json_string(e));
	}
	fx_buf_puts(out, "\n");
}

static const char *or_dash(const char *s)
{
	return s && *s ? s : "-";
}

int fctl_print_describe(const struct json_object *fn, int64_t now, struct fx_buf *out)
{
	const struct json_object *conds = jget(fn, "status.conditions");
	const struct json_object *tasks = jget(fn, "status.tasks");
	char age[32];
	size_t nerr = 0;

	fctl_age(fctl_jstr(fn, "metadata.creationTimestamp", NULL), now, age, sizeof(age));
	fx_buf_appendf(out, "%-13s%s\n", "Name:", fctl_jstr(fn, "metadata.name", "<none>"));
	kv_map(out, "Labels:", jget(fn, "metadata.labels"));
	kv_map(out, "Annotations:", jget(fn, "metadata.annotations"));
	fx_buf_appendf(out, "%-13s%" PRId64 "\n",
	               "Generation:", fctl_jint(fn, "metadata.generation", 0));
	fx_buf_appendf(out, "%-13s%s (%s ago)\n",
	               "Created:", fctl_jstr(fn, "metadata.creationTimestamp", "<unknown>"), age);
	fx_buf_puts(out, "Spec:\n");
	fx_buf_appendf(out, "  %-20s%s\n", "Image:", fctl_jstr(fn, "spec.image", "<none>"));
	fx_buf_appendf(out, "  %-20s%s\n", "Fprocess:", fctl_jstr(fn, "spec.fprocess", "<none>"));
	fx_buf_appendf(out, "  %-20s%s\n", "Mode:", fctl_jstr(fn, "spec.mode", "image"));
	{
		struct fx_buf t;
		fx_buf_init(&t, 64u << 10);
		kv_map(&t, "", jget(fn, "spec.env"));
		fx_buf_appendf(out, "  %-20s", "Env:");
		/* kv_map pads continuation lines to 13 columns; re-pad to ours. */
		for (const char *p = t.data; p && *p;) {
			const char *eol = strchr(p, '\n');
			size_t len = eol ? (size_t)(eol - p) : strlen(p);
			const char *s = p;
			while (s < p + len && *s == ' ')
				s++;
			fx_buf_appendf(out, "%s%.*s\n", p == t.data ? "" : "                      ",
			               (int)(len - (size_t)(s - p)), s);
			p = eol ? eol + 1 : NULL;
		}
		fx_buf_release(&t);
	}
	list_line(out, "Secrets:", jget(fn, "spec.secrets"));
	list_line(out, "Constraints:", jget(fn, "spec.constraints"));
	fx_buf_appendf(out, "  %-20smemory %s, cpu %s\n",
	               "Limits:", or_dash(fctl_jstr(fn, "spec.limits.memory", NULL)),
	               or_dash(fctl_jstr(fn, "spec.limits.cpu", NULL)));
	fx_buf_appendf(out, "  %-20smemory %s, cpu %s\n",
	               "Requests:", or_dash(fctl_jstr(fn, "spec.requests.memory", NULL)),
	               or_dash(fctl_jstr(fn, "spec.requests.cpu", NULL)));
	fx_buf_appendf(out,
	               "  %-20smin %" PRId64 ", max %" PRId64 ", factor %" PRId64
	               "%%, zero %s, cooldown %s\n",
	               "Scale:", fctl_jint(fn, "spec.scale.min", 1),
	               fctl_jint(fn, "spec.scale.max", 1), fctl_jint(fn, "spec.scale.factor", 0),
	               jbool(fn, "spec.scale.zero", false) ? "true" : "false",
	               or_dash(fctl_jstr(fn, "spec.scale.cooldown", NULL)));
	if (strcmp(or_dash(fctl_jstr(fn, "spec.scale.metric", NULL)), "alerts") == 0)
		fx_buf_appendf(out, "  %-20salerts (Alertmanager)\n", "Autoscale:");
	else
		fx_buf_appendf(out,
		               "  %-20s%s, target %" PRId64
		               " per replica, window %s, panic window %s, "
		               "down delay %s\n",
		               "Autoscale:", or_dash(fctl_jstr(fn, "spec.scale.metric", NULL)),
		               fctl_jint(fn, "spec.scale.target", 0),
		               or_dash(fctl_jstr(fn, "spec.scale.window", NULL)),
		               or_dash(fctl_jstr(fn, "spec.scale.panicWindow", NULL)),
		               or_dash(fctl_jstr(fn, "spec.scale.downDelay", NULL)));
	fx_buf_appendf(out, "  %-20sread %s, write %s, exec %s\n",
	               "Timeouts:", or_dash(fctl_jstr(fn, "spec.timeouts.read", NULL)),
	               or_dash(fctl_jstr(fn, "spec.timeouts.write", NULL)),
	               or_dash(fctl_jstr(fn, "spec.timeouts.exec", NULL)));
	fx_buf_appendf(out, "  %-20s%s\n", "ReadOnlyRootFS:",
	               jbool(fn, "spec.readOnlyRootFilesystem", false) ? "true" : "false");
	fx_buf_puts(out, "Status:\n");
	fx_buf_appendf(out, "  %-20s%" PRId64 "\n",
	               "ObservedGeneration:", fctl_jint(fn, "status.observedGeneration", 0));
	fx_buf_appendf(out, "  %-20s%" PRId64 " desired, %" PRId64 " available\n",
	               "Replicas:", fctl_jint(fn, "status.replicas", 0),
	               fctl_jint(fn, "status.availableReplicas", 0));
	fx_buf_appendf(out, "  %-20s%" PRId64 "\n",
	               "Invocations:", fctl_jint(fn, "status.invocationCount", 0));
	fx_buf_puts(out, "Conditions:\n");
	if (conds && json_object_is_type(conds, json_type_array) &&
	    json_object_array_length(conds) > 0) {
		fx_buf_appendf(out, "  %-12s %-8s %-24s %-8s %s\n", "TYPE", "STATUS", "REASON",
		               "AGE", "MESSAGE");
		for (size_t i = 0; i < json_object_array_length(conds); i++) {
			const struct json_object *c = json_object_array_get_idx(conds, i);
			fctl_age(fctl_jstr(c, "lastTransitionTime", NULL), now, age, sizeof(age));
			fx_buf_appendf(out, "  %-12s %-8s %-24s %-8s %s\n",
			               fctl_jstr(c, "type", "?"), fctl_jstr(c, "status", "?"),
			               or_dash(fctl_jstr(c, "reason", NULL)), age,
			               or_dash(fctl_jstr(c, "message", NULL)));
		}
	} else {
		fx_buf_puts(out, "  <none>\n");
	}
	fx_buf_puts(out, "Tasks:\n");
	if (tasks && json_object_is_type(tasks, json_type_array) &&
	    json_object_array_length(tasks) > 0) {
		fx_buf_appendf(out, "  %-14s %-26s %-10s %-10s %s\n", "ID", "NODE", "STATE",
		               "DESIRED", "AGE");
		for (size_t i = 0; i < json_object_array_length(tasks); i++) {
			const struct json_object *t = json_object_array_get_idx(tasks, i);
			const char *err = fctl_jstr(t, "error", NULL);
			fctl_age(fctl_jstr(t, "timestamp", NULL), now, age, sizeof(age));
			fx_buf_appendf(out, "  %-14.12s %-26s %-10s %-10s %s\n",
			               fctl_jstr(t, "id", "?"), or_dash(fctl_jstr(t, "node", NULL)),
			               or_dash(fctl_jstr(t, "state", NULL)),
			               or_dash(fctl_jstr(t, "desiredState", NULL)), age);
			nerr += err != NULL && *err != '\0';
		}
	} else {
		fx_buf_puts(out, "  <none>\n");
	}
	if (nerr > 0) {
		fx_buf_puts(out, "Recent task errors:\n");
		for (size_t i = 0; i < json_object_array_length(tasks); i++) {
			const struct json_object *t = json_object_array_get_idx(tasks, i);
			const char *err = fctl_jstr(t, "error", NULL);
			if (err && *err)
				fx_buf_appendf(out, "  %.12s %s: %s\n", fctl_jstr(t, "id", "?"),
				               or_dash(fctl_jstr(t, "timestamp", NULL)), err);
		}
	}
	return out->data == NULL ? -ENOMEM : 0;
}
