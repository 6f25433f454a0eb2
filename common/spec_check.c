/* spec_check.c: the schema: a node tree -> a validated struct fx_function.
 * Strict: unknown fields, wrong types, bad names, sizes, durations and cpu,
 * and fields that would escalate privileges are errors, each reported with
 * its line, column and field (spec.h). */
#include "spec_int.h"

#include "units.h"
#include "yamlw.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- validation ---- */

void spec_verr(struct vc *c, const struct node *n, const char *field, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	spec_errs_vadd(c->errs, c->file, c->doc, n ? n->line : 0, n ? n->col : 0, field, fmt, ap);
	va_end(ap);
}

bool spec_vfailed(const struct vc *c)
{
	return c->errs->n + c->errs->dropped > c->before;
}

void spec_join(char *out, const char *path, const char *key)
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
		return spec_kind_name(n);
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
	if (n->t != N_SCALAR || spec_is_null(n))
		return spec_kind_name(n);
	snprintf(buf, cap, "%s %s", spec_kind_name(n), shown(n, v, sizeof(v)));
	return buf;
}

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

bool spec_walk_map(struct vc *c, const struct node *m, const char *path, const struct field *f,
                   size_t nf, bool check_escalation)
{
	char fp[MAX_PATH];
	if (m->t != N_MAP) {
		spec_verr(c, m, path, "expected a mapping, got %s", spec_kind_name(m));
		return false;
	}
	for (size_t i = 0; i + 1 < m->n; i += 2) {
		const struct node *k = m->kids[i];
		size_t j;
		if (k->t != N_SCALAR) {
			spec_verr(c, k, path, "keys must be strings, got %s", spec_kind_name(k));
			continue;
		}
		spec_join(fp, path, k->text);
		for (j = 0; j < nf; j++)
			if (strcmp(f[j].name, k->text) == 0)
				break;
		if (j == nf) {
			if (check_escalation && escalates(k->text))
				spec_verr(
				    c, k, fp,
				    "not allowed: functions never get host privileges "
				    "(privileged mode, mounts, devices, host network, ports)");
			else
				spec_verr(c, k, fp, "unknown field");
			continue;
		}
		if (*f[j].slot != NULL) {
			spec_verr(c, k, fp, "duplicate field");
			continue;
		}
		*f[j].slot = m->kids[i + 1];
	}
	return true;
}

static bool want_string(struct vc *c, const struct node *n, const char *field, size_t max,
                        const char **out)
{
	char b[80], g[100];
	if (n->t != N_SCALAR || spec_is_null(n) ||
	    (n->plain && (spec_is_bool_word(n->text) || spec_is_number_text(n->text)))) {
		spec_verr(c, n, field, "expected a string, got %s", got(n, g, sizeof(g)));
		return false;
	}
	if (strlen(n->text) > max) {
		spec_verr(c, n, field, "too long (at most %zu characters)", max);
		return false;
	}
	for (const char *p = n->text; *p; p++) {
		if ((unsigned char)*p < 0x20 || *p == 0x7f) {
			spec_verr(c, n, field, "control characters are not allowed in %s",
			          shown(n, b, sizeof(b)));
			return false;
		}
	}
	/* only text the canonical YAML can hold and load back (JSON input comes
	 * here unchecked by libyaml: found by fuzz/common_spec_json) */
	if (!fx_yaml_text_ok(n->text)) {
		spec_verr(c, n, field, "not valid UTF-8 text: %s", shown(n, b, sizeof(b)));
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
	if (n->t != N_SCALAR || !n->plain || spec_is_null(n)) {
		spec_verr(c, n, field, "expected an integer, got %s", got(n, g, sizeof(g)));
		return false;
	}
	rc = fx_parse_int(n->text, INT64_MIN, INT64_MAX, &v);
	if (rc == -EINVAL) {
		spec_verr(c, n, field, "expected an integer, got %s", got(n, g, sizeof(g)));
		return false;
	}
	if (rc < 0 || v < min || v > max) {
		spec_verr(c, n, field, "must be between %lld and %lld, got %s", (long long)min,
		          (long long)max, shown(n, b, sizeof(b)));
		return false;
	}
	*out = v;
	return true;
}

static bool want_bool(struct vc *c, const struct node *n, const char *field, bool *out)
{
	char g[100];
	if (n->t != N_SCALAR || !n->plain || !spec_is_bool_word(n->text)) {
		spec_verr(c, n, field, "expected true or false, got %s", got(n, g, sizeof(g)));
		return false;
	}
	*out = n->text[0] == 't' || n->text[0] == 'T';
	return true;
}

/* Scalar text of a quantity (string or number). */
static const char *quantity_text(struct vc *c, const struct node *n, const char *field,
                                 const char *what)
{
	if (n->t != N_SCALAR || spec_is_null(n) || (n->plain && spec_is_bool_word(n->text))) {
		spec_verr(c, n, field, "expected %s, got %s", what, spec_kind_name(n));
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
		spec_verr(c, n, field, "expected %s, got %s", what, shown(n, b, sizeof(b)));
		return false;
	}
	if (rc < 0 || v < min || v > max) {
		fx_format_duration(min, lo, sizeof(lo));
		fx_format_duration(max, hi, sizeof(hi));
		spec_verr(c, n, field, "must be between %s and %s, got %s", lo, hi,
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
	if (me && !spec_is_null(me)) {
		if (me->t == N_SCALAR && strcmp(me->text, "concurrency") == 0)
			s->metric = FX_METRIC_CONCURRENCY;
		else if (me->t == N_SCALAR && strcmp(me->text, "rps") == 0)
			s->metric = FX_METRIC_RPS;
		else if (me->t == N_SCALAR && strcmp(me->text, "alerts") == 0)
			s->metric = FX_METRIC_ALERTS;
		else
			spec_verr(c, me, "spec.scale.metric",
			          "expected concurrency, rps or alerts, got %s",
			          got(me, g, sizeof(g)));
	}
	s->target = fx_spec_default_target(s->metric);
	if (ta && !spec_is_null(ta)) {
		if (s->metric == FX_METRIC_ALERTS)
			spec_verr(
			    c, ta, "spec.scale.target",
			    "has no meaning with metric: alerts (scale.factor steps instead)");
		else
			want_int(c, ta, "spec.scale.target", 1, FX_SPEC_MAX_TARGET, &s->target);
	}
	if (wi && !spec_is_null(wi))
		want_duration(c, wi, "spec.scale.window", 6000, 3600000, &s->window_ms);
	if (pw && !spec_is_null(pw) &&
	    want_duration(c, pw, "spec.scale.panicWindow", 1000, 3600000, &s->panic_window_ms) &&
	    s->panic_window_ms > s->window_ms)
		spec_verr(c, pw, "spec.scale.panicWindow",
		          "must not be longer than spec.scale.window");
	if (dd && !spec_is_null(dd))
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
		spec_verr(c, n, field, "expected %s, got %s", what, shown(n, b, sizeof(b)));
		return false;
	}
	if (rc < 0 || v > (1ULL << 50)) {
		spec_verr(c, n, field, "too large: %s", shown(n, b, sizeof(b)));
		return false;
	}
	if (v < min) {
		fx_format_size(min, lo, sizeof(lo));
		spec_verr(c, n, field, "must be at least %s, got %s", lo, shown(n, b, sizeof(b)));
		return false;
	}
	if (strlen(s) > FX_QUANTITY_MAX) {
		spec_verr(c, n, field, "too long (at most %d characters)", FX_QUANTITY_MAX);
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
		spec_verr(c, n, field, "expected %s, got %s", what, shown(n, b, sizeof(b)));
		return false;
	}
	if (rc < 0 || v < 1 || v > 1024 * 1000) {
		spec_verr(c, n, field, "must be between 1m and 1024, got %s",
		          shown(n, b, sizeof(b)));
		return false;
	}
	if (strlen(s) > FX_QUANTITY_MAX) {
		spec_verr(c, n, field, "too long (at most %d characters)", FX_QUANTITY_MAX);
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
	if (spec_is_null(m))
		return 0;
	if (m->t != N_MAP) {
		spec_verr(c, m, path, "expected a mapping, got %s", spec_kind_name(m));
		return 0;
	}
	if (m->n / 2 > MAX_ENTRIES) {
		spec_verr(c, m, path, "too many entries (%zu, at most %d)", m->n / 2, MAX_ENTRIES);
		return 0;
	}
	for (size_t i = 0; i + 1 < m->n; i += 2) {
		const struct node *k = m->kids[i], *v = m->kids[i + 1];
		const char *val = "";
		int rc;
		if (k->t != N_SCALAR) {
			spec_verr(c, k, path, "keys must be strings, got %s", spec_kind_name(k));
			continue;
		}
		spec_join(fp, path, k->text);
		if (kk == KEY_ENV) {
			if (!valid_env_key(k->text)) {
				spec_verr(
				    c, k, fp,
				    "not a valid environment variable name (letters, digits and "
				    "'_', not starting with a digit)");
				continue;
			}
			for (size_t r = 0; r < sizeof(reserved_env) / sizeof(reserved_env[0]);
			     r++) {
				if (strcmp(k->text, reserved_env[r][0]) == 0 &&
				    !env_field_unset(fn, r)) {
					spec_verr(c, k, fp,
					          "set by %s; use that field (or set it to null to "
					          "leave it to the image and this variable)",
					          reserved_env[r][1]);
					goto next;
				}
			}
		} else {
			if (!valid_label_key(k->text)) {
				spec_verr(c, k, fp,
				          "not a valid key (letters, digits, '.', '_', '/', '-', "
				          "starting with a letter or digit, at most 253)");
				continue;
			}
			if (kk == KEY_LABEL && reserved_label(k->text)) {
				spec_verr(c, k, fp, "reserved for the controller");
				continue;
			}
		}
		if (v->t != N_SCALAR) {
			spec_verr(c, v, fp, "expected a string, got %s", spec_kind_name(v));
			continue;
		}
		if (!spec_is_null(v))
			val = v->text;
		if (strlen(val) > 16384) {
			spec_verr(c, v, fp, "too long (at most 16384 characters)");
			continue;
		}
		if (!fx_yaml_text_ok(val)) {
			spec_verr(c, v, fp, "not valid UTF-8 text");
			continue;
		}
		rc = spec_kv_set(out, k->text, val);
		if (rc < 0)
			return rc;
		if (rc == 1)
			spec_verr(c, k, fp, "duplicate key");
	next:;
	}
	return 0;
}

static int want_strlist(struct vc *c, const struct node *s, const char *path, size_t cap,
                        bool secrets, struct fx_strlist *out)
{
	char fp[MAX_PATH], b[80];
	if (spec_is_null(s))
		return 0;
	if (s->t != N_SEQ) {
		spec_verr(c, s, path, "expected a list, got %s", spec_kind_name(s));
		return 0;
	}
	if (s->n > cap) {
		spec_verr(c, s, path, "too many entries (%zu, at most %zu)", s->n, cap);
		return 0;
	}
	for (size_t i = 0; i < s->n; i++) {
		const char *v;
		bool dup = false;
		snprintf(fp, sizeof(fp), "%s[%zu]", path, i);
		if (!want_string(c, s->kids[i], fp, 256, &v))
			continue;
		if (secrets && !valid_secret_name(v)) {
			spec_verr(
			    c, s->kids[i], fp,
			    "%s is not a valid secret name (letters, digits, '_', '.', '-', at "
			    "most 64)",
			    shown(s->kids[i], b, sizeof(b)));
			continue;
		}
		if (!secrets && strstr(v, "==") == NULL && strstr(v, "!=") == NULL) {
			spec_verr(c, s->kids[i], fp,
			          "%s is not a placement constraint (expected a==b or a!=b, e.g. "
			          "node.role==worker)",
			          shown(s->kids[i], b, sizeof(b)));
			continue;
		}
		for (size_t j = 0; j < out->n; j++)
			dup |= strcmp(out->v[j], v) == 0;
		if (dup) {
			spec_verr(c, s->kids[i], fp, "duplicate entry %s",
			          shown(s->kids[i], b, sizeof(b)));
			continue;
		}
		if (spec_str_push(out, v) < 0)
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
	if (spec_is_null(m) || !spec_walk_map(c, m, path, f, 2, false))
		return;
	if (mem != NULL && !spec_is_null(mem)) {
		spec_join(fp, path, "memory");
		/* Under Docker's minimum (6Mi) is accepted and raised on the service
		 * (svc_build), so what OpenFaaS users write deploys and reads back. */
		want_memory(c, mem, fp, limits ? 1 : 0, out);
	}
	if (cpu != NULL && !spec_is_null(cpu)) {
		spec_join(fp, path, "cpu");
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

int spec_check_function(struct vc *c, const struct node *root, struct fx_function *fn)
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
		spec_verr(c, root, "", "expected a mapping (a Function document), got %s",
		          spec_kind_name(root));
		return 0;
	}
	spec_walk_map(c, root, "", top, sizeof(top) / sizeof(top[0]), true);
	if (api == NULL)
		spec_verr(c, root, "apiVersion", "required (faas/v1)");
	else if (want_string(c, api, "apiVersion", 64, &s) && strcmp(s, "faas/v1") != 0)
		spec_verr(c, api, "apiVersion", "expected faas/v1, got %s",
		          shown(api, b, sizeof(b)));
	if (kind == NULL)
		spec_verr(c, root, "kind", "required (Function)");
	else if (want_string(c, kind, "kind", 64, &s) && strcmp(s, "Function") != 0)
		spec_verr(c, kind, "kind", "unknown kind %s (expected Function)",
		          shown(kind, b, sizeof(b)));

	if (meta == NULL || spec_is_null(meta)) {
		spec_verr(c, meta ? meta : root, "metadata", "required (with a name)");
	} else if (spec_walk_map(c, meta, "metadata", mf, sizeof(mf) / sizeof(mf[0]), false)) {
		if (name == NULL) {
			spec_verr(c, meta, "metadata.name", "required");
		} else if (want_string(c, name, "metadata.name", 1024, &s)) {
			if (!fx_spec_valid_name(s))
				spec_verr(
				    c, name, "metadata.name",
				    "%s is not a DNS-1123 label (lower-case letters, digits and "
				    "'-', starting and ending with a letter or digit, at most 63)",
				    shown(name, b, sizeof(b)));
			else if (is_reserved_name(s))
				spec_verr(
				    c, name, "metadata.name",
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

	if (spec == NULL || spec_is_null(spec)) {
		spec_verr(c, spec ? spec : root, "spec", "required (with an image)");
		return 0;
	}
	if (!spec_walk_map(c, spec, "spec", sf, sizeof(sf) / sizeof(sf[0]), true))
		return 0;
	if (image == NULL || spec_is_null(image)) {
		spec_verr(c, image ? image : spec, "spec.image", "required");
	} else if (want_string(c, image, "spec.image", 512, &s)) {
		if (!valid_image(s))
			spec_verr(c, image, "spec.image", "%s is not a valid image reference",
			          shown(image, b, sizeof(b)));
		else if ((fn->image = strdup(s)) == NULL)
			return -ENOMEM;
	}
	if (fproc != NULL && !spec_is_null(fproc) &&
	    want_string(c, fproc, "spec.fprocess", 4096, &s)) {
		free(fn->fprocess);
		if ((fn->fprocess = strdup(s)) == NULL)
			return -ENOMEM;
	}
	if (mode != NULL && spec_is_null(mode))
		fn->mode = FX_MODE_IMAGE; /* explicit null: the image's own */
	else if (mode != NULL && want_string(c, mode, "spec.mode", 64, &s)) {
		if (strcmp(s, "fork") == 0)
			fn->mode = FX_MODE_FORK;
		else if (strcmp(s, "http") == 0)
			fn->mode = FX_MODE_HTTP;
		else if (strcmp(s, "streaming") == 0)
			fn->mode = FX_MODE_STREAMING;
		else
			spec_verr(c, mode, "spec.mode", "expected fork, http or streaming, got %s",
			          shown(mode, b, sizeof(b)));
	}
	if (tmo != NULL && spec_is_null(tmo)) {
		fn->timeouts.read_ms = fn->timeouts.write_ms = fn->timeouts.exec_ms = 0;
	} else if (tmo != NULL) {
		const struct node *rd = NULL, *wr = NULL, *ex = NULL;
		const struct field tf[] = {{"read", &rd}, {"write", &wr}, {"exec", &ex}};
		/* absent: the default (10s); null: the image's own (0) */
		if (spec_walk_map(c, tmo, "spec.timeouts", tf, 3, false)) {
			if (rd && spec_is_null(rd))
				fn->timeouts.read_ms = 0;
			else if (rd)
				want_duration(c, rd, "spec.timeouts.read", 1, DAY_MS,
				              &fn->timeouts.read_ms);
			if (wr && spec_is_null(wr))
				fn->timeouts.write_ms = 0;
			else if (wr)
				want_duration(c, wr, "spec.timeouts.write", 1, DAY_MS,
				              &fn->timeouts.write_ms);
			if (ex && spec_is_null(ex))
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
		spec_verr(c, req, "spec.requests.memory", "must not exceed spec.limits.memory (%s)",
		          lo);
	}
	if (fn->limits.cpu_milli && fn->requests.cpu_milli > fn->limits.cpu_milli) {
		char lo[32];
		fx_spec_format_cpu(fn->limits.cpu_milli, lo, sizeof(lo));
		spec_verr(c, req, "spec.requests.cpu", "must not exceed spec.limits.cpu (%s)", lo);
	}
	if (scale != NULL && !spec_is_null(scale)) {
		const struct node *mn = NULL, *mx = NULL, *fa = NULL, *ze = NULL, *co = NULL,
		                  *zd = NULL, *me = NULL, *ta = NULL, *wi = NULL, *pw = NULL,
		                  *dd = NULL;
		const struct field scf[] = {
		    {"min", &mn},      {"max", &mx},          {"factor", &fa},   {"zero", &ze},
		    {"cooldown", &co}, {"zeroDuration", &zd}, {"metric", &me},   {"target", &ta},
		    {"window", &wi},   {"panicWindow", &pw},  {"downDelay", &dd}};
		if (spec_walk_map(c, scale, "spec.scale", scf, 11, false)) {
			bool okmin = true, okmax = true;
			if (mn && !spec_is_null(mn)) {
				int64_t v;
				if (!want_int(c, mn, "spec.scale.min", INT64_MIN, INT64_MAX, &v)) {
					okmin = false;
				} else if (v < 1) {
					spec_verr(
					    c, mn, "spec.scale.min",
					    "must be at least 1 (zero: true allows scaling to zero "
					    "when idle)");
					okmin = false;
				} else if (v > FX_SPEC_MAX_REPLICAS) {
					spec_verr(c, mn, "spec.scale.min", "must be at most %d",
					          FX_SPEC_MAX_REPLICAS);
					okmin = false;
				} else {
					fn->scale.min = v;
				}
			}
			if (mx && !spec_is_null(mx))
				okmax = want_int(c, mx, "spec.scale.max", 1, FX_SPEC_MAX_REPLICAS,
				                 &fn->scale.max);
			if (okmin && okmax && fn->scale.max < fn->scale.min)
				spec_verr(c, mx ? mx : mn, mx ? "spec.scale.max" : "spec.scale.min",
				          "max (%lld) must be at least min (%lld)",
				          (long long)fn->scale.max, (long long)fn->scale.min);
			if (fa && !spec_is_null(fa))
				want_int(c, fa, "spec.scale.factor", 0, 100, &fn->scale.factor);
			if (ze && !spec_is_null(ze))
				want_bool(c, ze, "spec.scale.zero", &fn->scale.zero);
			if (co && !spec_is_null(co))
				want_duration(c, co, "spec.scale.cooldown", 0, DAY_MS,
				              &fn->scale.cooldown_ms);
			/* absent or null: the platform's idle window (the controller's
			 * idle_window setting) */
			if (zd && !spec_is_null(zd))
				want_duration(c, zd, "spec.scale.zeroDuration", 1000, 30 * DAY_MS,
				              &fn->scale.zero_duration_ms);
			want_autoscale(c, me, ta, wi, pw, dd, &fn->scale);
		}
	}
	if (rofs && !spec_is_null(rofs))
		want_bool(c, rofs, "spec.readOnlyRootFilesystem", &fn->read_only_root_fs);
	if (user != NULL && user->t == N_SCALAR && user->plain && user->text[0] != '\0' &&
	    strspn(user->text, "0123456789") == strlen(user->text))
		s = user->text; /* a bare UID: user: 1000 */
	else if (user == NULL || spec_is_null(user) || !want_string(c, user, "spec.user", 80, &s))
		user = NULL;
	if (user != NULL) {
		if (s[0] != '\0' && !valid_user(s)) {
			spec_verr(
			    c, user, "spec.user",
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
