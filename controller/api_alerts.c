/* api_alerts.c: scaling by hand (POST /system/scale-function/{name}) and the
 * Alertmanager webhook (/alerts, /system/alert; scale.c has the formula). */
#include "controller.h"

#include "log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* One alert at a time from the deduplication check to its record: copies of a
 * notification delivered at once (Alertmanager's retries, two Alertmanagers)
 * would otherwise all pass the check before any records its step. */
static pthread_mutex_t alert_mu = PTHREAD_MUTEX_INITIALIZER;

static int64_t fixed_target(int64_t current, void *arg)
{
	(void)current;
	return *(const int64_t *)arg;
}

struct alert_step {
	const struct fx_scale *scale;
	const struct alert *alert;
	const char *why; /* set when the alert leaves the function alone */
};

static int64_t alert_target(int64_t current, void *arg)
{
	struct alert_step *a = arg;
	int64_t want;
	a->why = NULL; /* the last attempt counts (update conflicts retry) */
	want = alert_decide(a->alert, a->scale, current, &a->why);
	return want < 0 ? current : want;
}

/* An alert that leaves its function alone: logged once per incident at info. */
static void alert_ignored(const struct alert *a, const char *why)
{
	if (!a->firing && !a->idle)
		alert_memory_resolved(api_ctl->alerts, a, fx_now_ms());
	if (alert_memory_first_ignore(api_ctl->alerts, a))
		log_info("alert_ignored", "function=%s idle=%d status=%s why=\"%s\"", a->function,
		         a->idle, a->firing ? "firing" : "resolved", why);
	else
		log_debug("alert_ignored", "function=%s idle=%d why=\"%s\"", a->function, a->idle,
		          why);
}

void api_scale_function(struct reply *r, const char *name, const char *body, size_t len)
{
	struct json_object *in = api_parse_json_body(r, body, len), *rep;
	struct stored s;
	char *err = NULL;
	int64_t want, got, previous = -1;
	int rc;
	if (in == NULL)
		return;
	rep = docker_jget(in, "replicas");
	if (rep == NULL || !json_object_is_type(rep, json_type_int) ||
	    json_object_get_int64(rep) < 0 || json_object_get_int64(rep) > FX_SPEC_MAX_REPLICAS) {
		json_object_put(in);
		api_reply_error(r, 400, "replicas: expected an integer between 0 and 1000", NULL);
		return;
	}
	if (docker_jget(in, "serviceName") && strcmp(docker_jstr(in, "serviceName"), name) != 0) {
		json_object_put(in);
		api_reply_error(r, 400, "serviceName differs from the name in the path", NULL);
		return;
	}
	if (!api_ns_body_ours(r, in)) {
		json_object_put(in);
		return;
	}
	want = json_object_get_int64(rep);
	json_object_put(in);
	if (!fx_spec_valid_name(name)) {
		api_reply_error(r, 404, "no such function", NULL);
		return;
	}
	rc = store_get(&api_ctl->docker, name, &s, &err);
	if (rc < 0) {
		if (rc == -ENOENT) {
			free(err);
			api_reply_error(r, 404, "no such function", NULL);
		} else {
			api_reply_docker(r, rc, err);
		}
		return;
	}
	got = svc_clamp(&s.fn.scale, want);
	stored_release(&s);
	rc = reconcile_set_replicas(api_ctl, name, fixed_target, &got, &previous, NULL, &err);
	if (rc < 0) {
		/* The service is not made yet: a 503 tells the caller to retry. */
		api_reply_docker(r, rc == -ENOENT ? -EAGAIN : rc, err);
		return;
	}
	log_info("scaled", "function=%s requested=%lld replicas=%lld previous=%lld source=api",
	         name, (long long)want, (long long)got, (long long)previous);
	{
		struct json_object *o = json_object_new_object();
		json_object_object_add(o, "name", json_object_new_string(name));
		json_object_object_add(o, "replicas", json_object_new_int64(got));
		json_object_object_add(o, "previous", json_object_new_int64(previous));
		api_reply_json(r, 200, o);
	}
}

void api_alerts(struct reply *r, const char *body, size_t len)
{
	struct alert *v = NULL;
	char *err = NULL;
	int n = alerts_parse(body, len, &v, &err), transient = 0, scaled = 0;
	if (n < 0) {
		api_reply_error(r, n == -ENOMEM ? 503 : 400, err ? err : "invalid payload", NULL);
		free(err);
		return;
	}
	for (int i = 0; i < n; i++) {
		struct alert *a = &v[i];
		struct fx_scale sc;
		struct alert_step step = {.scale = &sc, .alert = a};
		int64_t now = fx_now_ms(), cur = -1, want = -1;
		const char *why = NULL;
		bool fresh;
		int rc;
		metrics_inc(M_ALERTS_RECEIVED);
		if (a->bad_start) {
			log_warn("alert_ignored",
			         "function=%s why=\"startsAt is missing or not an RFC 3339 time\"",
			         a->function);
			continue;
		}
		if (!ctl_cached_scale(api_ctl, a->function, &sc)) {
			struct stored s;
			rc = store_get(&api_ctl->docker, a->function, &s, &err);
			if (rc < 0) {
				if (rc != -ENOENT)
					transient++;
				log_warn("alert_ignored", "function=%s err=\"%s\"", a->function,
				         rc == -ENOENT ? "no such function" : (err ? err : ""));
				free(err);
				err = NULL;
				continue;
			}
			sc = s.fn.scale;
			ctl_cache_scale(api_ctl, a->function, &sc);
			stored_release(&s);
		}
		/* What does not depend on the replicas needs no Docker call. */
		if (alert_decide(a, &sc, -1, &why) < 0) {
			alert_ignored(a, why);
			continue;
		}
		/* A function whose spec (com.openfaas.scale.zero-duration) asks for a
		 * longer idle time than the rule's window waits for a later repeat
		 * of the same incident (Alertmanager repeats FunctionIdle). */
		if (a->idle && a->firing &&
		    !alert_idle_long_enough(a, sc.zero_duration_ms, api_cfg.idle_window_ms,
		                            (int64_t)time(NULL))) {
			log_debug("alert_idle_wait",
			          "function=%s zero_duration_ms=%lld starts=%lld", a->function,
			          (long long)sc.zero_duration_ms, (long long)a->starts_s);
			continue;
		}
		pthread_mutex_lock(&alert_mu);
		if (a->idle)
			fresh = alert_memory_should_zero(api_ctl->alerts, a, now, sc.cooldown_ms);
		else
			fresh = !a->firing ||
			        alert_memory_should_step(api_ctl->alerts, a, now, sc.cooldown_ms);
		if (!fresh) {
			pthread_mutex_unlock(&alert_mu);
			log_info("alert_deduplicated", "function=%s idle=%d key=\"%s\"",
			         a->function, a->idle, a->key);
			continue;
		}
		rc = reconcile_set_replicas(api_ctl, a->function, alert_target, &step, &cur, &want,
		                            &err);
		if (rc < 0) {
			pthread_mutex_unlock(&alert_mu);
			transient += rc != -ENOENT;
			log_warn("alert_failed", "function=%s err=\"%s\"", a->function,
			         err ? err : "");
			free(err);
			err = NULL;
			continue;
		}
		if (step.why != NULL) {
			pthread_mutex_unlock(&alert_mu);
			alert_ignored(a, step.why);
			continue;
		}
		if (a->idle)
			alert_memory_zeroed(api_ctl->alerts, a, now);
		else if (a->firing)
			alert_memory_stepped(api_ctl->alerts, a, now);
		else
			alert_memory_resolved(api_ctl->alerts, a, now);
		pthread_mutex_unlock(&alert_mu);
		scaled++;
		log_info("scaled",
		         "function=%s status=%s replicas=%lld previous=%lld source=%s took_ms=%lld",
		         a->function, a->firing ? "firing" : "resolved", (long long)want,
		         (long long)cur, a->idle ? "idle" : "alert",
		         (long long)(fx_now_ms() - now));
	}
	free(v);
	if (transient > 0) {
		api_reply_error(
		    r, 503, "some alerts could not be applied (Docker unavailable); retry", NULL);
		return;
	}
	{
		struct json_object *o = json_object_new_object();
		json_object_object_add(o, "alerts", json_object_new_int(n));
		json_object_object_add(o, "scaled", json_object_new_int(scaled));
		api_reply_json(r, 200, o);
	}
}
