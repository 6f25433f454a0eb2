/* registry.c: which functions exist (polled from the controller, or the static
 * table) and where their replicas are (DNS tasks.{name}, or the static table),
 * (the idle keep-alive connections to them are kept per loop, in loop.c).
 *
 * One mutex guards the table, the replica lists, reference counts and pools:
 * every critical section is a few pointer moves. Names are resolved off the
 * request path by the resolver thread, except the very first time a name is
 * used (then the request resolves it, bounded by the system resolver). */
#include "gateway.h"

#include "clock.h"

#include "httpc.h"
#include "jsq.h"
#include "log.h"

#include <errno.h>
#include <json-c/json.h>
#include <netdb.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct gw_config gw_cfg;

#define NBUCKET   1024
#define MAX_FNS   10000 /* functions the registry keeps (a controller lists fewer) */
#define MAX_ADDRS 64
#define ACTIVE_MS 60000 /* names used within this are kept resolved */

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER; /* registry polled / resolve done */
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER; /* wakes the threads */
static struct gw_fn *table[NBUCKET];
static size_t nfns;
static bool loaded;
static bool stopping;
static uint64_t poll_seq;
static bool poll_wanted;
static pthread_t poll_thread, dns_thread;
static bool poll_started, dns_started;
static struct gw_replica *ctrl_rep;
static int64_t ctrl_resolved_ms;

static void deadline_ts(struct timespec *ts, int64_t ms)
{
	clock_gettime(CLOCK_REALTIME, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (ms % 1000) * 1000000;
	if (ts->tv_nsec >= 1000000000) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000;
	}
}

static unsigned hash(const char *s)
{
	unsigned h = 2166136261u;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h % NBUCKET;
}

/* Lock held. */
static struct gw_fn *lookup(const char *name)
{
	for (struct gw_fn *f = table[hash(name)]; f; f = f->next)
		if (strcmp(f->name, name) == 0)
			return f;
	return NULL;
}

/* Lock held. NULL when full or out of memory. */
static struct gw_fn *get_or_create(const char *name)
{
	struct gw_fn *f = lookup(name);
	unsigned h;

	if (f || nfns >= MAX_FNS)
		return f;
	f = calloc(1, sizeof(*f));
	if (!f)
		return NULL;
	f->metrics = gw_metrics_new();
	if (!f->metrics) {
		free(f);
		return NULL;
	}
	snprintf(f->name, sizeof(f->name), "%s", name);
	f->async_retries = -1;
	h = hash(name);
	f->next = table[h];
	table[h] = f;
	nfns++;
	return f;
}

struct gw_fn *gw_registry_lookup(const char *name, uint64_t *seq)
{
	struct gw_fn *f;

	pthread_mutex_lock(&mu);
	f = lookup(name);
	if (f && !f->present)
		f = NULL;
	if (seq)
		*seq = poll_seq;
	pthread_mutex_unlock(&mu);
	return f;
}

bool gw_registry_poll_soon(void)
{
	bool asked = false;
	pthread_mutex_lock(&mu);
	/* Maybe a function deployed since the last poll: poll now, or as soon as
	 * the once-a-second limit allows (poll_main), and let the caller wait. */
	if (poll_started && !stopping) {
		poll_wanted = true;
		asked = true;
		pthread_cond_broadcast(&wake);
	}
	pthread_mutex_unlock(&mu);
	return asked;
}

uint64_t gw_registry_seq(void)
{
	pthread_mutex_lock(&mu);
	uint64_t s = poll_seq;
	pthread_mutex_unlock(&mu);
	return s;
}

bool gw_registry_loaded(void)
{
	pthread_mutex_lock(&mu);
	bool l = loaded;
	pthread_mutex_unlock(&mu);
	return l;
}

void gw_registry_each(void (*fn)(struct gw_fn *f, void *arg), void *arg)
{
	pthread_mutex_lock(&mu);
	for (size_t b = 0; b < NBUCKET; b++)
		for (struct gw_fn *f = table[b]; f; f = f->next)
			if (f->present)
				fn(f, arg);
	pthread_mutex_unlock(&mu);
}

/* ---- replicas ---- */

static struct gw_replica *replica_new(const struct sockaddr *sa, socklen_t len)
{
	struct gw_replica *r = calloc(1, sizeof(*r));
	char host[INET6_ADDRSTRLEN] = "?";
	int port = 0;

	if (!r)
		return NULL;
	memcpy(&r->sa, sa, len);
	r->salen = len;
	r->refs = 1;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;
		inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
		port = ntohs(in->sin_port);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in = (const struct sockaddr_in6 *)(const void *)sa;
		inet_ntop(AF_INET6, &in->sin6_addr, host, sizeof(host));
		port = ntohs(in->sin6_port);
	}
	snprintf(r->addr, sizeof(r->addr), "%s:%d", host, port);
	return r;
}

/* Lock held. */
static void replica_unref(struct gw_replica *r)
{
	if (!r || --r->refs > 0)
		return;
	free(r);
}

void gw_replica_release(struct gw_replica *r)
{
	pthread_mutex_lock(&mu);
	replica_unref(r);
	pthread_mutex_unlock(&mu);
}

void gw_replica_mark_down(struct gw_replica *r)
{
	pthread_mutex_lock(&mu);
	r->down_until_ms = fx_now_ms() + 2000;
	pthread_mutex_unlock(&mu);
}

void gw_inflight(struct gw_replica *r, int delta)
{
	pthread_mutex_lock(&mu);
	r->inflight += delta;
	pthread_mutex_unlock(&mu);
}

int64_t gw_fn_inflight(const struct gw_fn *f)
{
	int64_t n = 0;
	for (size_t i = 0; i < f->nreps; i++)
		if (f->reps[i] && f->reps[i]->inflight > 0)
			n += f->reps[i]->inflight;
	return n;
}

void gw_replica_ref(struct gw_replica *r)
{
	pthread_mutex_lock(&mu);
	r->refs++;
	pthread_mutex_unlock(&mu);
}

bool gw_replica_down(struct gw_replica *r)
{
	pthread_mutex_lock(&mu);
	bool down = r->down_until_ms > fx_now_ms();
	pthread_mutex_unlock(&mu);
	return down;
}

static int cmp_sa(const void *a, const void *b)
{
	const struct sockaddr_storage *x = a, *y = b;
	return memcmp(x, y, sizeof(*x));
}

/* Resolves host:port into up to max sorted unique addresses. Count, or negative:
 * -ENOENT (name does not exist: no replicas), -EAGAIN (try later). */
static int resolve(const char *host, const char *port, struct sockaddr_storage *out, size_t max)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res, *a;
	size_t n = 0;
	int rc = getaddrinfo(host, port, &hints, &res);

	if (rc == EAI_NONAME || rc == EAI_NODATA)
		return -ENOENT;
	if (rc != 0)
		return -EAGAIN;
	for (a = res; a && n < max; a = a->ai_next) {
		if (a->ai_addrlen > sizeof(out[0]))
			continue;
		memset(&out[n], 0, sizeof(out[0]));
		memcpy(&out[n], a->ai_addr, a->ai_addrlen);
		n++;
	}
	freeaddrinfo(res);
	qsort(out, n, sizeof(out[0]), cmp_sa);
	size_t u = 0;
	for (size_t i = 0; i < n; i++)
		if (u == 0 || memcmp(&out[u - 1], &out[i], sizeof(out[0])) != 0)
			out[u++] = out[i];
	return (int)u;
}

static socklen_t sa_len(const struct sockaddr_storage *s)
{
	return s->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
}

/* Lock held. Replaces f's replicas by addrs plus the replicas found ready by
 * probing (until Docker's DNS has had time to list them), keeping the objects
 * (and pools) of addresses that stay. */
static void install(struct gw_fn *f, const struct sockaddr_storage *dns, size_t ndns)
{
	struct sockaddr_storage addrs[MAX_ADDRS + GW_MAX_PROBED];
	size_t n = ndns < MAX_ADDRS ? ndns : MAX_ADDRS;
	struct gw_replica **reps;
	size_t k = 0;

	size_t listed = 0;

	for (size_t i = 0; i < n; i++)
		addrs[i] = dns[i];
	for (size_t p = 0; fx_now_ms() < f->probed_until && p < f->nprobed; p++) {
		size_t i = 0;
		while (i < n && memcmp(&addrs[i], &f->probed[p], sizeof(addrs[0])) != 0)
			i++;
		if (i == n)
			addrs[n++] = f->probed[p];
		else
			listed++;
	}
	/* Once DNS lists them all, DNS alone says when they go: a probed address
	 * kept longer outlives a quick scale to zero, and the next request would
	 * wait a connect timeout on a container that is gone. */
	if (ndns > 0 && listed == f->nprobed)
		f->nprobed = 0;
	reps = n ? calloc(n, sizeof(*reps)) : NULL;
	if (n && !reps)
		return;
	for (size_t i = 0; i < n; i++) {
		struct gw_replica *r = NULL;
		for (size_t j = 0; j < f->nreps; j++) {
			if (f->reps[j] && f->reps[j]->salen == sa_len(&addrs[i]) &&
			    memcmp(&f->reps[j]->sa, &addrs[i], f->reps[j]->salen) == 0) {
				r = f->reps[j];
				f->reps[j] = NULL; /* moved */
				break;
			}
		}
		if (!r)
			r = replica_new((const struct sockaddr *)&addrs[i], sa_len(&addrs[i]));
		if (r)
			reps[k++] = r;
	}
	for (size_t j = 0; j < f->nreps; j++)
		replica_unref(f->reps[j]);
	free(f->reps);
	f->reps = reps;
	f->nreps = k;
	f->resolved_ms = fx_now_ms();
}

/* An empty answer is asked again after 100 ms, not a whole TTL: a replica that
 * has just passed its HEALTHCHECK (and so entered Docker's DNS) gets the
 * first request at once, which is what "apply -> first invoke" measures. */
#define NEG_TTL_MS 100

static int64_t fn_ttl_ms(const struct gw_fn *f)
{
	return f->nreps == 0 && gw_cfg.dns_ttl_ms > NEG_TTL_MS ? NEG_TTL_MS : gw_cfg.dns_ttl_ms;
}

/* Resolves tasks.{name} and installs the answer. Called without the lock. */
static void resolve_fn(struct gw_fn *f)
{
	struct sockaddr_storage addrs[MAX_ADDRS];
	char host[GW_NAME_MAX + 8], port[8];
	int n;

	snprintf(host, sizeof(host), "tasks.%s", f->name);
	snprintf(port, sizeof(port), "%d", (int)gw_cfg.function_port);
	n = resolve(host, port, addrs, MAX_ADDRS);
	pthread_mutex_lock(&mu);
	if (n >= 0 || n == -ENOENT)
		install(f, addrs, n > 0 ? (size_t)n : 0);
	else
		f->resolved_ms = fx_now_ms(); /* keep the old answer; retry after the TTL */
	pthread_cond_broadcast(&cond);
	pthread_mutex_unlock(&mu);
}

/* Lock held. Must a request wait for a fresh tasks.NAME answer? On first
 * use; when the last answer was empty and is older than its TTL (even at
 * zero: the registry's replica count may be a poll old, and DNS tells first
 * that someone scaled it up); and when the answer is from before an idle
 * spell (no longer kept resolved: its replicas may be gone, and a connect to
 * a vanished address waits its whole timeout). */
static bool answer_unusable(const struct gw_fn *f, int64_t now)
{
	if (f->resolved_ms == 0)
		return true;
	if (f->nreps == 0)
		return now - f->resolved_ms > fn_ttl_ms(f);
	return now - f->resolved_ms > ACTIVE_MS;
}

size_t gw_pick(struct gw_fn *f, struct gw_replica **out, size_t max)
{
	int64_t now = fx_now_ms();
	size_t n, k = 0, start;

	pthread_mutex_lock(&mu);
	f->used_ms = now;
	if (!gw_cfg.static_discovery && answer_unusable(f, now)) {
		/* The resolver thread answers and the caller waits (bounded)
		 * rather than failing at once. */
		pthread_cond_broadcast(&wake);
		pthread_mutex_unlock(&mu);
		return GW_PICK_PENDING;
	}
	if (!gw_cfg.static_discovery && now - f->resolved_ms > gw_cfg.dns_ttl_ms)
		pthread_cond_broadcast(&wake);
	n = f->nreps;
	if (n == 0) {
		pthread_mutex_unlock(&mu);
		return 0;
	}
	start = f->rr++ % n;
	if (gw_cfg.least_inflight) {
		size_t best = start;
		for (size_t i = 0; i < n; i++) {
			size_t j = (start + i) % n;
			struct gw_replica *r = f->reps[j], *b = f->reps[best];
			bool rdown = r->down_until_ms > now, bdown = b->down_until_ms > now;
			if ((bdown && !rdown) || (rdown == bdown && r->inflight < b->inflight))
				best = j;
		}
		start = best;
	}
	/* Healthy replicas first from start, then the ones marked down. */
	for (int pass = 0; pass < 2 && k < max; pass++) {
		for (size_t i = 0; i < n && k < max; i++) {
			struct gw_replica *r = f->reps[(start + i) % n];
			if ((r->down_until_ms > now) == (pass == 1)) {
				r->refs++;
				out[k++] = r;
			}
		}
	}
	pthread_mutex_unlock(&mu);
	return k;
}

/* ---- the controller ---- */

/* Resolves the controller's host (blocking; never on a loop thread). */
static void resolve_controller(void)
{
	struct sockaddr_storage a[1];
	char port[8];

	snprintf(port, sizeof(port), "%d", gw_cfg.controller_port);
	int n = resolve(gw_cfg.controller_host, port, a, 1);
	pthread_mutex_lock(&mu);
	if (n > 0 && (!ctrl_rep || ctrl_rep->salen != sa_len(&a[0]) ||
	              memcmp(&ctrl_rep->sa, &a[0], ctrl_rep->salen) != 0)) {
		struct gw_replica *nr = replica_new((const struct sockaddr *)&a[0], sa_len(&a[0]));
		if (nr) {
			replica_unref(ctrl_rep);
			ctrl_rep = nr;
		}
	}
	if (n > 0)
		ctrl_resolved_ms = fx_now_ms();
	pthread_mutex_unlock(&mu);
}

struct gw_replica *gw_controller_replica(void)
{
	struct gw_replica *r = NULL;

	pthread_mutex_lock(&mu);
	if (ctrl_rep) {
		ctrl_rep->refs++;
		r = ctrl_rep;
	}
	pthread_mutex_unlock(&mu);
	return r;
}

static int controller_call(const char *method, const char *path, const char *body,
                           struct fx_http_resp *resp)
{
	char url[1024], auth[600];
	const char *hdrs[3] = {NULL, NULL, NULL};
	char *err = NULL;
	int rc;

	snprintf(url, sizeof(url), "%s%s", gw_cfg.controller_url, path);
	if (gw_cfg.token) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", gw_cfg.token);
		hdrs[0] = auth;
		hdrs[1] = body ? "Content-Type: application/json" : NULL;
	} else if (body) {
		hdrs[0] = "Content-Type: application/json";
	}
	struct fx_http_req req = {.method = method,
	                          .url = url,
	                          .headers = hdrs,
	                          .body = body,
	                          .body_len = body ? strlen(body) : 0,
	                          .connect_timeout_ms = 2000,
	                          .timeout_ms = 5000,
	                          .max_response = 32u << 20};
	rc = fx_http_do(&req, resp, &err);
	if (rc < 0)
		log_debug("controller_call_failed", "path=%s err=\"%s\"", path, err ? err : "?");
	free(err);
	return rc;
}

static bool truthy(struct json_object *o, const char *key)
{
	struct json_object *v;
	if (!o || !json_object_object_get_ex(o, key, &v))
		return false;
	if (json_object_is_type(v, json_type_boolean))
		return json_object_get_boolean(v);
	if (json_object_is_type(v, json_type_string))
		return strcmp(json_object_get_string(v), "true") == 0;
	return false;
}

static int64_t get_int(struct json_object *o, const char *key, int64_t def)
{
	struct json_object *v;
	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int))
		return def;
	return json_object_get_int64(v);
}

/* com.openfaas.async.retries (annotation, else label): 0..100, -1 when absent or invalid. */
static int async_retries(struct json_object *labels, struct json_object *ann)
{
	struct json_object *v;
	if ((ann && json_object_object_get_ex(ann, "com.openfaas.async.retries", &v)) ||
	    (labels && json_object_object_get_ex(labels, "com.openfaas.async.retries", &v)))
		return json_object_is_type(v, json_type_string)
		           ? fx_jsq_parse_retries(json_object_get_string(v))
		           : -1;
	return -1;
}

/* Lock held. Applies one /system/functions item. */
static void apply_item(struct json_object *it)
{
	struct json_object *name, *labels = NULL, *ann = NULL;
	const char *s;
	struct gw_fn *f;

	if (!json_object_is_type(it, json_type_object) ||
	    !json_object_object_get_ex(it, "name", &name) ||
	    !json_object_is_type(name, json_type_string))
		return;
	s = json_object_get_string(name);
	if (!gw_name_valid(s, strlen(s)) || !(f = get_or_create(s)))
		return;
	json_object_object_get_ex(it, "labels", &labels);
	json_object_object_get_ex(it, "annotations", &ann);
	f->present = true;
	f->replicas = get_int(it, "replicas", 0);
	f->available = get_int(it, "availableReplicas", f->replicas);
	if (f->replicas == 0)
		f->nprobed = 0; /* scaled to zero: what was probed is going */
	f->zero = truthy(it, "zero") || truthy(labels, "com.openfaas.scale.zero") ||
	          truthy(ann, "com.openfaas.scale.zero");
	f->async_retries = async_retries(labels, ann);
	{
		struct json_object *ns;
		const char *v = json_object_object_get_ex(it, "namespace", &ns) &&
		                        json_object_is_type(ns, json_type_string)
		                    ? json_object_get_string(ns)
		                    : "";
		if (!gw_name_valid(v, strlen(v)))
			v = "";
		if (strcmp(f->ns, v) != 0) /* read by the loops: written only on a change */
			snprintf(f->ns, sizeof(f->ns), "%s", v);
	}
}

static void poll_once(void)
{
	struct fx_http_resp resp = {0};
	struct json_object *arr = NULL;
	static int64_t last_warn;

	if (fx_now_ms() - ctrl_resolved_ms > 5000)
		resolve_controller();

	if (controller_call("GET", "/system/functions", NULL, &resp) == 0 && resp.status == 200)
		arr = json_tokener_parse(resp.body.data ? resp.body.data : "");
	if (!arr || !json_object_is_type(arr, json_type_array)) {
		if (fx_now_ms() - last_warn > 30000) {
			last_warn = fx_now_ms();
			log_warn("registry_poll_failed", "controller=%s status=%ld",
			         gw_cfg.controller_url, resp.status);
		}
		json_object_put(arr);
		fx_http_resp_release(&resp);
		pthread_mutex_lock(&mu);
		poll_seq++; /* wake waiters: the answer will not come sooner */
		pthread_cond_broadcast(&cond);
		pthread_mutex_unlock(&mu);
		fx_loops_wake();
		return;
	}
	pthread_mutex_lock(&mu);
	for (size_t b = 0; b < NBUCKET; b++)
		for (struct gw_fn *f = table[b]; f; f = f->next)
			f->present = false;
	size_t n = json_object_array_length(arr);
	for (size_t i = 0; i < n; i++)
		apply_item(json_object_array_get_idx(arr, i));
	if (!loaded)
		log_info("registry_loaded", "functions=%zu", n);
	loaded = true;
	poll_seq++;
	pthread_cond_broadcast(&cond);
	pthread_mutex_unlock(&mu);
	json_object_put(arr);
	fx_http_resp_release(&resp);
	fx_loops_wake();
}

static void *poll_main(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&mu);
	while (!stopping) {
		int64_t started = fx_now_ms(), next = started + gw_cfg.registry_interval_ms;
		pthread_mutex_unlock(&mu);
		poll_once();
		pthread_mutex_lock(&mu);
		poll_wanted = false;
		/* Until the next scheduled poll; a miss (poll_wanted) brings it forward
		 * to one second after this one started, so misses poll at most 1/s. */
		while (!stopping) {
			int64_t now = fx_now_ms(), due = next;
			if (poll_wanted && started + 1000 < due)
				due = started + 1000;
			if (now >= due)
				break;
			struct timespec ts;
			deadline_ts(&ts, due - now);
			pthread_cond_timedwait(&wake, &mu, &ts);
		}
	}
	pthread_mutex_unlock(&mu);
	return NULL;
}

/* Keeps the names in use resolved, so requests never wait for DNS. */
static void *dns_main(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&mu);
	while (!stopping) {
		struct timespec ts;
		deadline_ts(&ts, gw_cfg.dns_ttl_ms);
		pthread_cond_timedwait(&wake, &mu, &ts);
		if (stopping)
			break;
		int64_t now = fx_now_ms();
		struct gw_fn *due[256];
		size_t n = 0;
		for (size_t b = 0; b < NBUCKET && n < 256; b++)
			for (struct gw_fn *f = table[b]; f && n < 256; f = f->next)
				if (f->present && f->used_ms && now - f->used_ms < ACTIVE_MS &&
				    (f->resolved_ms == 0 || now - f->resolved_ms >= fn_ttl_ms(f)))
					due[n++] = f;
		pthread_mutex_unlock(&mu);
		for (size_t i = 0; i < n; i++)
			resolve_fn(due[i]); /* entries are never freed */
		if (n)
			fx_loops_wake();
		pthread_mutex_lock(&mu);
	}
	pthread_mutex_unlock(&mu);
	return NULL;
}

static int add_static(const struct gw_static_fn *sf, void *arg)
{
	struct sockaddr_storage addrs[16];
	size_t n = 0;
	(void)arg;

	for (size_t i = 0; i < sf->naddr; i++) {
		char host[64];
		const char *colon = strrchr(sf->addr[i], ':');
		size_t hl = (size_t)(colon - sf->addr[i]);
		memcpy(host, sf->addr[i], hl);
		host[hl] = '\0';
		if (resolve(host, colon + 1, &addrs[n], 1) != 1)
			return -EHOSTUNREACH;
		n++;
	}
	pthread_mutex_lock(&mu);
	struct gw_fn *f = get_or_create(sf->name);
	if (f) {
		install(f, addrs, n);
		if (!gw_cfg.controller_host[0]) {
			f->present = true;
			f->replicas = f->available = (int64_t)f->nreps;
		}
	}
	pthread_mutex_unlock(&mu);
	return f ? 0 : -ENOMEM;
}

int gw_registry_start(char **err)
{
	if (gw_cfg.static_discovery) {
		int rc = gw_static_parse(gw_cfg.static_text ? gw_cfg.static_text : "", add_static,
		                         NULL, err);
		if (rc < 0)
			return rc;
	}
	if (!gw_cfg.controller_host[0]) {
		loaded = true; /* the static table is the registry */
	} else {
		resolve_controller();
		if (pthread_create(&poll_thread, NULL, poll_main, NULL) != 0)
			return -EAGAIN;
		poll_started = true;
	}
	if (!gw_cfg.static_discovery) {
		if (pthread_create(&dns_thread, NULL, dns_main, NULL) != 0)
			return -EAGAIN;
		dns_started = true;
	}
	return 0;
}

void gw_registry_stop(void)
{
	pthread_mutex_lock(&mu);
	stopping = true;
	pthread_cond_broadcast(&wake);
	pthread_cond_broadcast(&cond);
	pthread_mutex_unlock(&mu);
	if (poll_started)
		pthread_join(poll_thread, NULL);
	if (dns_started)
		pthread_join(dns_thread, NULL);
	poll_started = dns_started = false;
}

/* ---- invocationCount in the controller's answers ---- */

static void set_count(struct json_object *obj, const char *name)
{
	struct gw_fn *f;
	uint64_t total = 0;

	if (!obj || !json_object_is_type(obj, json_type_object))
		return;
	pthread_mutex_lock(&mu);
	f = lookup(name);
	if (f)
		total = gw_metrics_total(f->metrics);
	pthread_mutex_unlock(&mu);
	json_object_object_add(obj, "invocationCount", json_object_new_int64((int64_t)total));
}

static void inject_function(struct json_object *fn)
{
	struct json_object *md, *name, *status;
	if (!json_object_is_type(fn, json_type_object) ||
	    !json_object_object_get_ex(fn, "metadata", &md) ||
	    !json_object_object_get_ex(md, "name", &name) ||
	    !json_object_is_type(name, json_type_string))
		return;
	if (!json_object_object_get_ex(fn, "status", &status)) {
		status = json_object_new_object();
		json_object_object_add(fn, "status", status);
	}
	set_count(status, json_object_get_string(name));
}

char *gw_registry_inject_counts(const char *json, size_t len, size_t *outlen)
{
	struct json_tokener *tok = json_tokener_new_ex(64);
	struct json_object *root, *items, *name;
	char *out = NULL;

	if (!tok)
		return NULL;
	root = json_tokener_parse_ex(tok, json, (int)len);
	if (!root || json_tokener_get_error(tok) != json_tokener_success)
		goto done;
	if (json_object_is_type(root, json_type_array)) {
		size_t n = json_object_array_length(root);
		for (size_t i = 0; i < n; i++) {
			struct json_object *it = json_object_array_get_idx(root, i);
			if (json_object_is_type(it, json_type_object) &&
			    json_object_object_get_ex(it, "name", &name) &&
			    json_object_is_type(name, json_type_string))
				set_count(it, json_object_get_string(name));
		}
	} else if (json_object_is_type(root, json_type_object)) {
		if (json_object_object_get_ex(root, "items", &items) &&
		    json_object_is_type(items, json_type_array)) {
			size_t n = json_object_array_length(items);
			for (size_t i = 0; i < n; i++)
				inject_function(json_object_array_get_idx(items, i));
		} else if (json_object_object_get_ex(root, "metadata", &items)) {
			inject_function(root);
		} else if (json_object_object_get_ex(root, "name", &name) &&
		           json_object_is_type(name, json_type_string)) {
			set_count(root, json_object_get_string(name));
		} else {
			goto done;
		}
	} else {
		goto done;
	}
	const char *s = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN);
	if (s) {
		*outlen = strlen(s);
		out = strdup(s);
	}
done:
	json_object_put(root);
	json_tokener_free(tok);
	return out;
}

/* ---- waiting for a ready replica: scale from zero, and functions starting ---- */

/* A replica enters Docker's DNS only after its first passing HEALTHCHECK, one
 * interval after its container starts. While requests wait for a function
 * that has no ready replica, the gateway asks the controller where the started
 * tasks are and runs the same check itself (GET /_/health, which is what
 * `fwatchdog --healthcheck` asks), every PROBE_EVERY_MS; a replica that answers
 * 200 takes requests at once and is kept PROBED_KEEP_MS, by when DNS lists it. */
#define PROBE_EVERY_MS   50
#define PROBED_KEEP_MS   10000
#define PROBE_CONNECT_MS 100 /* a task whose network is not up yet drops the SYN */
#define PROBE_TIMEOUT_MS 300
#define REFRESH_EVERY_MS 500

/* Refreshes f from GET /system/function/{name}. */
static void refresh_one(struct gw_fn *f)
{
	struct fx_http_resp resp = {0};
	char path[128];

	snprintf(path, sizeof(path), "/system/function/%s", f->name);
	if (controller_call("GET", path, NULL, &resp) == 0 && resp.status == 200) {
		struct json_object *o = json_tokener_parse(resp.body.data ? resp.body.data : "");
		if (o && json_object_is_type(o, json_type_object)) {
			pthread_mutex_lock(&mu);
			f->replicas = get_int(o, "replicas", f->replicas);
			f->available = get_int(o, "availableReplicas", f->replicas);
			pthread_mutex_unlock(&mu);
		}
		json_object_put(o);
	}
	fx_http_resp_release(&resp);
}

/* Is the watchdog at ip ready (GET /_/health answers 200)? On success fills sa. */
static bool probe_health(const char *ip, struct sockaddr_storage *sa)
{
	struct sockaddr_in *v4 = (struct sockaddr_in *)sa;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)sa;
	struct fx_http_resp resp = {0};
	char url[128], *err = NULL;
	bool ok;

	memset(sa, 0, sizeof(*sa));
	if (inet_pton(AF_INET, ip, &v4->sin_addr) == 1) {
		v4->sin_family = AF_INET;
		v4->sin_port = htons((uint16_t)gw_cfg.function_port);
		snprintf(url, sizeof(url), "http://%s:%d/_/health", ip, (int)gw_cfg.function_port);
	} else if (inet_pton(AF_INET6, ip, &v6->sin6_addr) == 1) {
		v6->sin6_family = AF_INET6;
		v6->sin6_port = htons((uint16_t)gw_cfg.function_port);
		snprintf(url, sizeof(url), "http://[%s]:%d/_/health", ip,
		         (int)gw_cfg.function_port);
	} else {
		return false;
	}
	struct fx_http_req req = {.url = url,
	                          .connect_timeout_ms = PROBE_CONNECT_MS,
	                          .timeout_ms = PROBE_TIMEOUT_MS,
	                          .max_response = 4096};
	ok = fx_http_do(&req, &resp, &err) == 0 && resp.status == 200;
	free(err);
	fx_http_resp_release(&resp);
	return ok;
}

/* Probes f's started tasks (from the controller) and installs the ready ones. */
static void probe_started(struct gw_fn *f)
{
	struct fx_http_resp resp = {0};
	struct json_object *o = NULL, *addrs;
	struct sockaddr_storage ready[GW_MAX_PROBED];
	size_t n = 0;
	char path[160];

	snprintf(path, sizeof(path), "/apis/faas/v1/functions/%s/endpoints", f->name);
	if (controller_call("GET", path, NULL, &resp) == 0 && resp.status == 200)
		o = json_tokener_parse(resp.body.data ? resp.body.data : "");
	fx_http_resp_release(&resp);
	if (!o || !json_object_object_get_ex(o, "addresses", &addrs) ||
	    !json_object_is_type(addrs, json_type_array)) {
		json_object_put(o);
		return;
	}
	for (size_t i = 0; i < json_object_array_length(addrs) && n < GW_MAX_PROBED; i++) {
		struct json_object *ip;
		if (json_object_object_get_ex(json_object_array_get_idx(addrs, i), "ip", &ip) &&
		    json_object_is_type(ip, json_type_string) &&
		    probe_health(json_object_get_string(ip), &ready[n]))
			n++;
	}
	json_object_put(o);
	if (n == 0)
		return;
	pthread_mutex_lock(&mu);
	struct sockaddr_storage cur[MAX_ADDRS];
	size_t k = 0;
	for (size_t i = 0; i < f->nreps && k < MAX_ADDRS; i++) {
		memset(&cur[k], 0, sizeof(cur[k]));
		memcpy(&cur[k++], &f->reps[i]->sa, f->reps[i]->salen);
	}
	memcpy(f->probed, ready, n * sizeof(ready[0]));
	f->nprobed = n;
	f->probed_until = fx_now_ms() + PROBED_KEEP_MS;
	install(f, cur, k);
	pthread_cond_broadcast(&cond);
	pthread_mutex_unlock(&mu);
	log_info("replica_probed_ready", "function=%s replicas=%zu", f->name, n);
}

/* Lock held. f's replicas that did not refuse a connection lately. */
static size_t live_reps(const struct gw_fn *f)
{
	int64_t now = fx_now_ms();
	size_t n = 0;
	for (size_t i = 0; i < f->nreps; i++)
		n += f->reps[i]->down_until_ms <= now;
	return n;
}

/* Lock held. Ready: DNS lists only replicas past their HEALTHCHECK, and probed
 * ones passed the same check; a static table needs the controller's word. */
static bool wake_ready(const struct gw_fn *f)
{
	return live_reps(f) > 0 && (f->available > 0 || !gw_cfg.static_discovery);
}

static void ask_one_replica(struct gw_fn *f)
{
	char body[160], path[128];
	struct fx_http_resp resp = {0};
	snprintf(body, sizeof(body), "{\"serviceName\":\"%s\",\"replicas\":1}", f->name);
	snprintf(path, sizeof(path), "/system/scale-function/%s", f->name);
	int rc = controller_call("POST", path, body, &resp);
	log_info("scale_from_zero", "function=%s status=%ld", f->name, rc == 0 ? resp.status : 0L);
	fx_http_resp_release(&resp);
}

static void *wake_main(void *arg)
{
	struct gw_fn *f = arg;
	bool ok = false, scale;
	int64_t deadline, refreshed = 0;

	pthread_mutex_lock(&mu);
	scale = f->wake_scale;
	pthread_mutex_unlock(&mu);
	deadline = fx_now_ms() + (scale ? gw_cfg.scale_timeout_ms : gw_cfg.start_timeout_ms);
	if (scale)
		ask_one_replica(f);
	while (!ok && fx_now_ms() < deadline && !gw_draining) {
		int64_t round = fx_now_ms();
		if (round - refreshed >= REFRESH_EVERY_MS) {
			refresh_one(f);
			refreshed = fx_now_ms();
			/* waiting on replicas that were being stopped: at zero now */
			pthread_mutex_lock(&mu);
			bool at_zero = f->zero && f->replicas == 0;
			pthread_mutex_unlock(&mu);
			if (at_zero && !scale) {
				scale = true;
				deadline = fx_now_ms() + gw_cfg.scale_timeout_ms;
				ask_one_replica(f);
			}
		}
		if (!gw_cfg.static_discovery) {
			probe_started(f);
			resolve_fn(f);
		}
		pthread_mutex_lock(&mu);
		ok = wake_ready(f);
		pthread_mutex_unlock(&mu);
		int64_t left = round + PROBE_EVERY_MS - fx_now_ms();
		if (!ok && left > 0)
			usleep((useconds_t)left * 1000);
	}
	pthread_mutex_lock(&mu);
	f->waking = false;
	pthread_mutex_unlock(&mu);
	fx_loops_wake();
	return NULL;
}

int gw_wake_state(struct gw_fn *f)
{
	int st;
	pthread_mutex_lock(&mu);
	if (f->waking)
		st = 0;
	else if (wake_ready(f))
		st = 1;
	else
		st = -1;
	pthread_mutex_unlock(&mu);
	return st;
}

void gw_wake_start(struct gw_fn *f, bool scale)
{
	pthread_t t;
	pthread_attr_t a;

	pthread_mutex_lock(&mu);
	if (f->waking) {
		pthread_mutex_unlock(&mu);
		return;
	}
	f->waking = true;
	f->wake_scale = scale;
	pthread_mutex_unlock(&mu);
	pthread_attr_init(&a);
	pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&t, &a, wake_main, f) != 0) {
		pthread_mutex_lock(&mu);
		f->waking = false;
		pthread_mutex_unlock(&mu);
	}
	pthread_attr_destroy(&a);
}
