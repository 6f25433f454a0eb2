/* scale.c: scaling from Alertmanager alerts. Pure: the formula, what each
 * alert asks for (step up, back to min, idle to zero), the webhook payload
 * parser and the deduplication memory (no I/O, no clock of its own). */
#include "controller.h"

#include "buf.h"
#include "json.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ALERTS    1000
#define RESOLVED_KEEP 16

int64_t scale_compute(bool firing, int64_t current, int64_t min, int64_t max, int64_t factor)
{
	int64_t step = (max * factor + 99) / 100; /* ceil(max * factor / 100) */
	if (firing && step > 0) {
		if (current < min)
			current = min;
		return current + step > max ? max : current + step;
	}
	return min;
}

int64_t alert_decide(const struct alert *a, const struct fx_scale *s, int64_t current,
                     const char **why)
{
	if (a->idle) {
		if (!a->firing) {
			/* Nothing to undo: the gateway scales from zero on a request. */
			*why = "idle resolved: the next request scales from zero";
			return -1;
		}
		if (!s->zero) {
			*why = "idle, but the spec says zero: false";
			return -1;
		}
		return 0;
	}
	if (s->metric != FX_METRIC_ALERTS) {
		/* One function, one metric: the autoscaler owns its count (the idle
		 * alert above still scales it to zero). */
		*why = "scale.metric is not alerts: the autoscaler scales it";
		return -1;
	}
	if (!a->firing && current == 0 && s->zero) {
		/* A late resolve of a load alert must not wake an idle function. */
		*why = "resolved while scaled to zero: stays at zero";
		return -1;
	}
	return scale_compute(a->firing, current, s->min, s->max, s->factor);
}

static char *errf(const char *s)
{
	return strdup(s);
}

static const char *jstr(struct json_object *o, const char *k)
{
	struct json_object *v;
	if (o == NULL || !json_object_object_get_ex(o, k, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

static bool digits(const char *s, size_t n, int lo, int hi)
{
	int v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	return v >= lo && v <= hi;
}

bool alert_time_valid(const char *s)
{
	static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	size_t n = s ? strlen(s) : 0, i = 19;
	int month, day;

	/* 2026-11-26T10:00:00[.fraction](Z|+hh:mm|-hh:mm) */
	if (n < 20 || n > 40 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') ||
	    s[13] != ':' || s[16] != ':' || !digits(s, 4, 0, 9999) || !digits(s + 5, 2, 1, 12) ||
	    !digits(s + 8, 2, 1, 31) || !digits(s + 11, 2, 0, 23) || !digits(s + 14, 2, 0, 59) ||
	    !digits(s + 17, 2, 0, 60))
		return false;
	month = (s[5] - '0') * 10 + (s[6] - '0');
	day = (s[8] - '0') * 10 + (s[9] - '0');
	if (day > mdays[month - 1])
		return false;
	if (s[i] == '.') {
		size_t f = ++i;
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++;
		if (i == f || i - f > 9)
			return false;
	}
	if (i + 1 == n && (s[i] == 'Z' || s[i] == 'z'))
		return true;
	return i + 6 == n && (s[i] == '+' || s[i] == '-') && s[i + 3] == ':' &&
	       digits(s + i + 1, 2, 0, 23) && digits(s + i + 4, 2, 0, 59);
}

int alerts_parse(const char *body, size_t len, struct alert **out, char **err)
{
	struct json_object *root = NULL, *alerts, *common;
	char *jerr = NULL;
	int rc;
	struct alert *v = NULL;
	const char *gstatus;
	size_t n = 0, count;

	*err = NULL;
	if (body == NULL || len == 0) {
		*err = errf("empty body: expected an Alertmanager webhook payload");
		return -EINVAL;
	}
	rc = fx_json_parse(body, len, 32, &root, &jerr);
	if (rc < 0) {
		*err = fx_strdupf("%s: expected an Alertmanager webhook payload",
		                  jerr ? jerr : "invalid JSON");
		free(jerr);
		return *err == NULL || rc == -ENOMEM ? -ENOMEM : -EINVAL;
	}
	if (!json_object_is_type(root, json_type_object) ||
	    !json_object_object_get_ex(root, "alerts", &alerts) ||
	    !json_object_is_type(alerts, json_type_array)) {
		*err = errf("expected an object with an \"alerts\" list (Alertmanager webhook "
		            "payload version 4)");
		json_object_put(root);
		return -EINVAL;
	}
	count = json_object_array_length(alerts);
	if (count > MAX_ALERTS) {
		*err = errf("too many alerts in one notification (at most 1000)");
		json_object_put(root);
		return -EINVAL;
	}
	gstatus = jstr(root, "status");
	if (!json_object_object_get_ex(root, "commonLabels", &common))
		common = NULL;
	v = calloc(count ? count : 1, sizeof(*v));
	if (v == NULL) {
		json_object_put(root);
		return -ENOMEM;
	}
	for (size_t i = 0; i < count; i++) {
		struct json_object *a = json_object_array_get_idx(alerts, i), *labels = NULL;
		const char *fn, *status, *fp, *starts, *an;
		if (!json_object_is_type(a, json_type_object)) {
			*err = errf("alerts[] must be objects");
			free(v);
			json_object_put(root);
			return -EINVAL;
		}
		if (!json_object_object_get_ex(a, "labels", &labels) ||
		    !json_object_is_type(labels, json_type_object))
			labels = NULL;
		fn = jstr(labels, "function_name");
		if (fn == NULL)
			fn = jstr(common, "function_name");
		if (fn == NULL || !fx_spec_valid_name(fn))
			continue;
		status = jstr(a, "status");
		if (status == NULL)
			status = gstatus;
		if (status == NULL ||
		    (strcmp(status, "firing") != 0 && strcmp(status, "resolved") != 0))
			continue;
		fp = jstr(a, "fingerprint");
		starts = jstr(a, "startsAt");
		an = jstr(labels, "alertname");
		if (an == NULL)
			an = jstr(common, "alertname");
		snprintf(v[n].function, sizeof(v[n].function), "%s", fn);
		v[n].firing = strcmp(status, "firing") == 0;
		v[n].idle = an != NULL && strcmp(an, ALERT_IDLE) == 0;
		if (starts == NULL || of_parse_since(starts, &v[n].starts_s) < 0)
			v[n].starts_s = 0;
		/* startsAt names the incident the deduplication keys on: without a
		 * real one, every notification would look like a new incident. */
		v[n].bad_start = !alert_time_valid(starts);
		if (fp != NULL) {
			snprintf(v[n].key, sizeof(v[n].key), "%.64s|%.64s", fp,
			         starts ? starts : "");
		} else {
			/* No fingerprint (older senders): the labels identify the alert. */
			snprintf(v[n].key, sizeof(v[n].key), "%.64s/%.63s|%.64s", an ? an : "", fn,
			         starts ? starts : "");
		}
		n++;
	}
	json_object_put(root);
	*out = v;
	return (int)n;
}

/* ---- deduplication ---- */

struct memo {
	char function[64];
	bool stepped;
	int64_t last_step_ms;
	char last_key[256];
	bool resolved_since;
	char resolved[RESOLVED_KEEP][256];
	size_t nresolved;     /* ring position */
	char zeroed_key[256]; /* the idle incident that scaled to zero */
	char ignored_key[256];
};

struct alert_memory {
	pthread_mutex_t mu;
	struct memo *v;
	size_t n;
};

struct alert_memory *alert_memory_new(void)
{
	struct alert_memory *m = calloc(1, sizeof(*m));
	if (m != NULL)
		pthread_mutex_init(&m->mu, NULL);
	return m;
}

void alert_memory_free(struct alert_memory *m)
{
	if (m == NULL)
		return;
	pthread_mutex_destroy(&m->mu);
	free(m->v);
	free(m);
}

/* Finds (or adds) the memo of fn; NULL on ENOMEM or over the cap. Locked. */
static struct memo *memo_of(struct alert_memory *m, const char *fn, bool add)
{
	struct memo *v;
	for (size_t i = 0; i < m->n; i++)
		if (strcmp(m->v[i].function, fn) == 0)
			return &m->v[i];
	if (!add || m->n >= CTL_MAX_FUNCTIONS)
		return NULL;
	v = realloc(m->v, (m->n + 1) * sizeof(*v));
	if (v == NULL)
		return NULL;
	m->v = v;
	memset(&m->v[m->n], 0, sizeof(m->v[m->n]));
	snprintf(m->v[m->n].function, sizeof(m->v[m->n].function), "%s", fn);
	return &m->v[m->n++];
}

bool alert_memory_should_step(struct alert_memory *m, const struct alert *a, int64_t now_ms,
                              int64_t cooldown_ms)
{
	bool step = true;
	struct memo *e;
	pthread_mutex_lock(&m->mu);
	e = memo_of(m, a->function, false);
	if (e != NULL) {
		/* A late "firing" of an incident already resolved. */
		for (size_t i = 0; i < RESOLVED_KEEP; i++)
			if (strcmp(e->resolved[i], a->key) == 0)
				step = false;
		if (step && e->stepped && now_ms - e->last_step_ms < cooldown_ms) {
			/* Within the cooldown only a new incident after a resolve steps. */
			if (strcmp(e->last_key, a->key) == 0 || !e->resolved_since)
				step = false;
		}
	}
	pthread_mutex_unlock(&m->mu);
	return step;
}

void alert_memory_stepped(struct alert_memory *m, const struct alert *a, int64_t now_ms)
{
	struct memo *e;
	pthread_mutex_lock(&m->mu);
	e = memo_of(m, a->function, true);
	if (e != NULL) {
		e->stepped = true;
		e->last_step_ms = now_ms;
		snprintf(e->last_key, sizeof(e->last_key), "%s", a->key);
		e->resolved_since = false;
	}
	pthread_mutex_unlock(&m->mu);
}

void alert_memory_resolved(struct alert_memory *m, const struct alert *a, int64_t now_ms)
{
	struct memo *e;
	(void)now_ms;
	pthread_mutex_lock(&m->mu);
	e = memo_of(m, a->function, true);
	if (e != NULL) {
		bool known = false;
		for (size_t i = 0; i < RESOLVED_KEEP; i++)
			known |= strcmp(e->resolved[i], a->key) == 0;
		if (!known) {
			snprintf(e->resolved[e->nresolved % RESOLVED_KEEP], sizeof(e->resolved[0]),
			         "%s", a->key);
			e->nresolved++;
		}
		e->resolved_since = true;
	}
	pthread_mutex_unlock(&m->mu);
}

bool alert_memory_should_zero(struct alert_memory *m, const struct alert *a, int64_t now_ms,
                              int64_t cooldown_ms)
{
	bool zero = true;
	struct memo *e;
	pthread_mutex_lock(&m->mu);
	e = memo_of(m, a->function, false);
	if (e != NULL) {
		/* Alertmanager repeats a firing alert: one incident zeroes once, so a
		 * repeat never undoes a scale from zero that a request started. */
		if (strcmp(e->zeroed_key, a->key) == 0)
			zero = false;
		/* Stepped up recently: the load alert's cooldown holds. */
		if (e->stepped && now_ms - e->last_step_ms < cooldown_ms)
			zero = false;
	}
	pthread_mutex_unlock(&m->mu);
	return zero;
}

void alert_memory_zeroed(struct alert_memory *m, const struct alert *a, int64_t now_ms)
{
	struct memo *e;
	(void)now_ms;
	pthread_mutex_lock(&m->mu);
	e = memo_of(m, a->function, true);
	if (e != NULL)
		snprintf(e->zeroed_key, sizeof(e->zeroed_key), "%s", a->key);
	pthread_mutex_unlock(&m->mu);
}

bool alert_memory_first_ignore(struct alert_memory *m, const struct alert *a)
{
	bool first = true;
	struct memo *e;
	pthread_mutex_lock(&m->mu);
	e = memo_of(m, a->function, true);
	if (e != NULL) {
		first = strcmp(e->ignored_key, a->key) != 0;
		snprintf(e->ignored_key, sizeof(e->ignored_key), "%s", a->key);
	}
	pthread_mutex_unlock(&m->mu);
	return first;
}

bool alert_idle_long_enough(const struct alert *a, int64_t zero_duration_ms, int64_t window_ms,
                            int64_t now_s)
{
	int64_t need_ms = zero_duration_ms > window_ms ? zero_duration_ms : window_ms, idle_ms;
	if (a->starts_s <= 0)
		return need_ms <= window_ms;
	idle_ms = (now_s - a->starts_s) * 1000 + window_ms;
	return idle_ms >= need_ms;
}
