/* kpa.c: pure: the autoscaler's decision (KPA-like), the gateways' answers
 * to GET /_/concurrency, and a rate from two counter readings. No I/O, no
 * clock: the caller passes the time. */
#include "controller.h"

#include "buf.h"
#include "json.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const kpa_reason_names[KPA_REASONS] = {
    [KPA_HOLD] = "hold",           [KPA_UP] = "up",
    [KPA_PANIC_UP] = "panic_up",   [KPA_DOWN] = "down",
    [KPA_DOWN_WAIT] = "down_wait", [KPA_NO_DATA] = "no_data",
    [KPA_ASLEEP] = "asleep",
};

void kpa_init(struct kpa *k)
{
	memset(k, 0, sizeof(*k));
	k->below_since_ms = -1;
}

/* The bucket of time t in a ring of KPA_BUCKETS buckets of width w. */
static void add(struct kpa_ring *r, int64_t w, int64_t t, double v)
{
	int64_t slot = t / w;
	struct kpa_bucket *b = &r->b[slot % KPA_BUCKETS];
	if (b->slot != slot) {
		b->slot = slot;
		b->sum = 0;
		b->n = 0;
	}
	b->sum += v;
	b->n++;
}

/* Over the buckets of the last span_ms before t: the average of all samples
 * (*avg) and the highest bucket average (*peak); false when there is none. */
static bool window(const struct kpa_ring *r, int64_t w, int64_t t, int64_t span_ms, double *avg,
                   double *peak)
{
	int64_t last = t / w, first = (t - span_ms) / w + 1;
	double sum = 0, top = 0;
	int64_t n = 0;
	for (size_t i = 0; i < KPA_BUCKETS; i++) {
		const struct kpa_bucket *b = &r->b[i];
		if (b->n > 0 && b->slot >= first && b->slot <= last) {
			sum += b->sum;
			n += b->n;
			if (b->sum / (double)b->n > top)
				top = b->sum / (double)b->n;
		}
	}
	if (n == 0)
		return false;
	*avg = sum / (double)n;
	*peak = top;
	return true;
}

/* The average of the samples in t's own bucket (the last second); 0 if none. */
static double newest(const struct kpa_ring *r, int64_t w, int64_t t)
{
	const struct kpa_bucket *b = &r->b[(t / w) % KPA_BUCKETS];
	return b->slot == t / w && b->n > 0 ? b->sum / (double)b->n : 0;
}

/* Bucket width for a window: KPA_BUCKETS buckets cover it, at least 1 s...
 * the panic window keeps its own ring, so a long stable window loses no
 * reaction. */
static int64_t width(int64_t window_ms)
{
	int64_t w = (window_ms + KPA_BUCKETS - 1) / KPA_BUCKETS;
	return w < 1000 ? 1000 : w;
}

void kpa_observe(struct kpa *k, const struct fx_scale *s, int64_t now_ms, double value)
{
	if (value < 0 || !isfinite(value))
		value = 0;
	add(&k->stable, width(s->window_ms), now_ms, value);
	add(&k->panic, width(s->panic_window_ms), now_ms, value);
	if (k->first_ms == 0)
		k->first_ms = now_ms > 0 ? now_ms : 1;
}

static int64_t clamp(const struct fx_scale *s, int64_t n)
{
	return n < s->min ? s->min : n > s->max ? s->max : n;
}

static int64_t need(double observed, int64_t target)
{
	double r = ceil(observed / (double)(target > 0 ? target : 1) - 1e-9);
	return r > (double)FX_SPEC_MAX_REPLICAS ? FX_SPEC_MAX_REPLICAS : (int64_t)r;
}

int64_t kpa_decide(struct kpa *k, const struct fx_scale *s, int64_t current, int64_t now_ms,
                   struct kpa_decision *d)
{
	int64_t ws = width(s->window_ms), wp = width(s->panic_window_ms);
	double st, st_peak, pa, pa_peak, recent;
	int64_t want;

	memset(d, 0, sizeof(*d));
	d->current = current;
	d->desired = current;
	if (current != k->last_current) {
		/* Changed by someone else (the scale API, a wake from zero): it
		 * stands for a whole stable window before a scale-down. */
		k->last_current = current;
		k->steady_since_ms = now_ms;
	}
	if (current <= 0) {
		/* Asleep (the idle path scaled it to 0): a request wakes it through
		 * the gateway, not the autoscaler. */
		d->reason = KPA_ASLEEP;
		k->below_since_ms = -1;
		return current;
	}
	if (!window(&k->stable, ws, now_ms, s->window_ms, &st, &st_peak) ||
	    !window(&k->panic, wp, now_ms, s->panic_window_ms, &pa, &pa_peak)) {
		d->reason = KPA_NO_DATA;
		return current;
	}
	/* The panic window's average lags a step of load by its length; the
	 * last second does not: a step counts at the first poll that sees it. */
	recent = newest(&k->panic, wp, now_ms);
	if (recent < pa)
		recent = pa;
	d->stable = st;
	d->panic = recent;
	/* Panic: the short window wants twice what runs, or more. */
	d->panicking = need(recent, s->target) >= 2 * current;
	/* Up: as soon as either window asks for more (the short one reacts in
	 * a second, the stable one smooths). */
	want = clamp(s, need(st, s->target) > need(recent, s->target) ? need(st, s->target)
	                                                              : need(recent, s->target));
	if (want > current) {
		k->below_since_ms = -1;
		k->last_current = want;
		d->desired = want;
		d->reason = d->panicking ? KPA_PANIC_UP : KPA_UP;
		return want;
	}
	/* Down: to what the busiest second of the stable window needed, so a
	 * count stands a whole stable window after the load that asked for it
	 * (Kubernetes' scale-down stabilization), then drops at once to what is
	 * needed; and only once the stable window has been watched in full since
	 * the first sample and since another hand last set the count, and the
	 * desire has stayed below the count for downDelay. */
	want = clamp(s, need(st_peak, s->target));
	if (want >= current) {
		k->below_since_ms = -1;
		d->reason = KPA_HOLD;
		return current;
	}
	if (k->below_since_ms < 0)
		k->below_since_ms = now_ms;
	if (now_ms - k->first_ms < s->window_ms || now_ms - k->steady_since_ms < s->window_ms ||
	    now_ms - k->below_since_ms < s->down_delay_ms) {
		d->reason = KPA_DOWN_WAIT;
		return current;
	}
	k->below_since_ms = -1;
	k->last_current = want;
	d->desired = want;
	d->reason = KPA_DOWN;
	return want;
}

double kpa_rate(uint64_t prev, uint64_t now, int64_t dt_ms)
{
	/* A counter that went back: the gateway restarted; count from 0. */
	uint64_t delta = now >= prev ? now - prev : now;
	if (dt_ms <= 0)
		return 0;
	return (double)delta * 1000.0 / (double)dt_ms;
}

double kpa_concurrency(const struct kpa_reading *prev, const struct kpa_reading *now)
{
	if (prev == NULL || prev->time_us < 0 || now->time_us <= prev->time_us ||
	    now->inflight_us < prev->inflight_us)
		return (double)now->inflight; /* first reading, or the gateway restarted */
	return (double)(now->inflight_us - prev->inflight_us) /
	       (double)(now->time_us - prev->time_us);
}

int kpa_parse_gateway(const char *body, size_t len, struct kpa_reading **out, size_t *n, char **err)
{
	struct json_object *root = NULL, *fns, *tm;
	struct kpa_reading *v;
	int64_t time_us = -1;
	char *jerr = NULL;
	size_t count, k = 0;
	int rc;

	rc = fx_json_parse(body, len, 8, &root, &jerr);
	if (rc < 0) {
		*err = fx_strdupf("%s", jerr ? jerr : "invalid JSON");
		free(jerr);
		return rc == -ENOMEM ? -ENOMEM : -EINVAL;
	}
	if (!json_object_object_get_ex(root, "functions", &fns) ||
	    !json_object_is_type(fns, json_type_array)) {
		json_object_put(root);
		*err = fx_strdupf("expected {\"functions\":[...]}");
		return -EINVAL;
	}
	count = json_object_array_length(fns);
	if (count > CTL_MAX_FUNCTIONS) {
		json_object_put(root);
		*err = fx_strdupf("more than %d functions", CTL_MAX_FUNCTIONS);
		return -EINVAL;
	}
	v = calloc(count ? count : 1, sizeof(*v));
	if (v == NULL) {
		json_object_put(root);
		return -ENOMEM;
	}
	/* The gateway's clock and each function's in-flight area: optional (a
	 * gateway without them gives the count of this instant only). */
	if (json_object_object_get_ex(root, "time_us", &tm) &&
	    json_object_is_type(tm, json_type_int))
		time_us = json_object_get_int64(tm);
	for (size_t i = 0; i < count; i++) {
		struct json_object *f = json_object_array_get_idx(fns, i), *name, *in, *rq, *area;
		int64_t inflight, requests, inflight_us = -1;
		if (!json_object_object_get_ex(f, "name", &name) ||
		    !json_object_is_type(name, json_type_string) ||
		    !fx_spec_valid_name(json_object_get_string(name)) ||
		    !json_object_object_get_ex(f, "inflight", &in) ||
		    !json_object_is_type(in, json_type_int) ||
		    !json_object_object_get_ex(f, "requests", &rq) ||
		    !json_object_is_type(rq, json_type_int))
			continue; /* skipped, not fatal: one odd entry loses one function */
		inflight = json_object_get_int64(in);
		requests = json_object_get_int64(rq);
		if (inflight < 0 || inflight > 1000000000 || requests < 0)
			continue;
		if (time_us >= 0 && json_object_object_get_ex(f, "inflight_us", &area) &&
		    json_object_is_type(area, json_type_int) && json_object_get_int64(area) >= 0)
			inflight_us = json_object_get_int64(area);
		snprintf(v[k].name, sizeof(v[k].name), "%s", json_object_get_string(name));
		v[k].inflight = inflight;
		v[k].requests = (uint64_t)requests;
		v[k].inflight_us = inflight_us;
		v[k].time_us = inflight_us >= 0 ? time_us : -1;
		k++;
	}
	json_object_put(root);
	*out = v;
	*n = k;
	return 0;
}
