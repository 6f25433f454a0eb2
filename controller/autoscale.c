/* autoscale.c: the autoscaler thread. Every interval it reads GET
 * /_/concurrency from every gateway replica (each A record of gateway_dns,
 * or the gateway_urls list), sums the load per function, and lets kpa.c
 * decide the replicas of each function whose scale.metric is concurrency or
 * rps. Decisions go through reconcile_set_replicas, as the alerts' do; a
 * function with metric: alerts is left to Alertmanager. */
#include "controller.h"

#include "httpc.h"
#include "log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#define MAX_GATEWAYS 64
#define MISSES_HELD  3     /* polls a silent gateway holds the samples back */
#define KNOWN_MS     30000 /* replicas re-read from Docker at least this often */

struct gw {
	char url[160];            /* base, "http://10.0.0.5:8080" */
	int misses;               /* polls in a row without an answer */
	bool seen;                /* listed in the last poll */
	struct kpa_reading *prev; /* its last answer (rates) */
	size_t nprev;
	int64_t prev_ms;
	/* its kept-alive connection: the poll threads are new each poll, so the
	 * handle lives here, not in a thread (NULL until the first poll) */
	struct fx_http_conn *conn;
};

struct fn {
	char name[FX_SPEC_MAX_NAME + 1];
	struct kpa k;
	struct fx_scale scale;
	int64_t known;    /* replicas as last read or set; -1 unknown */
	int64_t known_ms; /* when */
	int64_t retry_ms; /* after a failed Docker call: not before */
	double inflight, rps;
	struct kpa_decision last;
	bool seen;
};

static struct {
	struct ctl *c;
	struct autoscale_conf conf;
	struct gw gws[MAX_GATEWAYS];
	size_t ngws;
	pthread_mutex_t mu; /* guards fns' list and figures, decisions (metrics) */
	struct fn *fns;
	size_t nfns;
	unsigned long long decisions[KPA_REASONS];
	unsigned long long polls_failed;
	size_t polled; /* gateways in the last poll (metrics) */
} as = {.mu = PTHREAD_MUTEX_INITIALIZER};

/* ---- the gateways ---- */

static struct gw *gw_find(const char *url)
{
	for (size_t i = 0; i < as.ngws; i++)
		if (strcmp(as.gws[i].url, url) == 0)
			return &as.gws[i];
	return NULL;
}

static void gw_list_add(const char *url)
{
	struct gw *g = gw_find(url);
	if (g == NULL && as.ngws < MAX_GATEWAYS) {
		g = &as.gws[as.ngws++];
		memset(g, 0, sizeof(*g));
		snprintf(g->url, sizeof(g->url), "%s", url);
	}
	if (g != NULL)
		g->seen = true;
}

/* Lists the gateways of this poll; those gone are forgotten. */
static void gw_list(void)
{
	for (size_t i = 0; i < as.ngws; i++)
		as.gws[i].seen = false;
	if (as.conf.gateway_urls != NULL && as.conf.gateway_urls[0] != '\0') {
		const char *p = as.conf.gateway_urls;
		while (*p) {
			size_t n = strcspn(p, ", ");
			char url[160];
			if (n > 0 && n < sizeof(url)) {
				memcpy(url, p, n);
				url[n] = '\0';
				gw_list_add(url);
			}
			p += n;
			p += strspn(p, ", ");
		}
	} else {
		struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM}, *res;
		int rc = getaddrinfo(as.conf.gateway_dns, NULL, &hints, &res);
		if (rc != 0) {
			log_debug("autoscale_no_gateways", "dns=%s err=\"%s\"", as.conf.gateway_dns,
			          gai_strerror(rc));
		} else {
			for (struct addrinfo *a = res; a; a = a->ai_next) {
				const struct sockaddr_in *in = (const void *)a->ai_addr;
				char ip[INET_ADDRSTRLEN], url[160];
				if (inet_ntop(AF_INET, &in->sin_addr, ip, sizeof(ip)) == NULL)
					continue;
				snprintf(url, sizeof(url), "http://%s:%lld", ip,
				         (long long)as.conf.gateway_port);
				gw_list_add(url);
			}
			freeaddrinfo(res);
		}
	}
	for (size_t i = 0; i < as.ngws;) {
		if (!as.gws[i].seen) {
			free(as.gws[i].prev);
			fx_http_conn_free(as.gws[i].conn);
			as.gws[i] = as.gws[--as.ngws];
		} else {
			i++;
		}
	}
}

struct poll {
	struct gw *g;
	pthread_t th;
	bool started;
	int rc;
	char *err;
	struct kpa_reading *v;
	size_t n;
};

/* One call to gateway g (path under its base URL) with the controller's
 * token, on g's kept-alive connection. One call at a time per gateway: its
 * poll thread, or the autoscaler's thread once the polls are joined. */
static int gw_call(struct gw *g, const char *method, const char *path, size_t max_response,
                   struct fx_http_resp *resp, char **err)
{
	char url[300], auth[4200];
	const char *headers[] = {auth, NULL};
	struct fx_http_req req = {.method = method, .url = url};

	snprintf(url, sizeof(url), "%s%s", g->url, path);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s",
	         as.conf.token ? as.conf.token : "");
	req.headers = as.conf.token ? headers : NULL;
	if (method != NULL && strcmp(method, "POST") == 0)
		req.body = "";
	req.connect_timeout_ms = as.conf.timeout_ms;
	req.timeout_ms = as.conf.timeout_ms;
	req.max_response = max_response;
	if (g->conn == NULL)
		g->conn = fx_http_conn_new(); /* NULL: this call on the thread's handle */
	return fx_http_do_on(g->conn, &req, resp, err);
}

static void *poll_one(void *arg)
{
	struct poll *p = arg;
	struct fx_http_resp resp;

	p->rc = gw_call(p->g, "GET", "/_/concurrency", 4u << 20, &resp, &p->err);
	if (p->rc == 0 && resp.status != 200) {
		p->err = fx_strdupf("HTTP %ld", resp.status);
		p->rc = -EIO;
	}
	if (p->rc == 0)
		p->rc = kpa_parse_gateway(resp.body.data ? resp.body.data : "", resp.body.len,
		                          &p->v, &p->n, &p->err);
	fx_http_resp_release(&resp);
	return NULL;
}

/* ---- the functions ---- */

static struct fn *fn_of(const char *name, bool add)
{
	struct fn *v;
	for (size_t i = 0; i < as.nfns; i++)
		if (strcmp(as.fns[i].name, name) == 0)
			return &as.fns[i];
	if (!add || as.nfns >= CTL_MAX_FUNCTIONS)
		return NULL;
	v = realloc(as.fns, (as.nfns + 1) * sizeof(*v));
	if (v == NULL)
		return NULL;
	as.fns = v;
	v = &as.fns[as.nfns++];
	memset(v, 0, sizeof(*v));
	snprintf(v->name, sizeof(v->name), "%s", name);
	kpa_init(&v->k);
	v->known = -1;
	return v;
}

/* Adds one gateway's answer to the sums: fns[].inflight, the average
 * concurrency since its previous answer, and rps. */
static void sum_answer(struct gw *g, const struct kpa_reading *v, size_t n, int64_t now)
{
	for (size_t i = 0; i < n; i++) {
		struct fn *f = fn_of(v[i].name, false);
		if (f == NULL)
			continue;
		const struct kpa_reading *prev = NULL;
		for (size_t j = 0; j < g->nprev && prev == NULL; j++)
			if (strcmp(g->prev[j].name, v[i].name) == 0)
				prev = &g->prev[j];
		f->inflight += kpa_concurrency(prev, &v[i]);
		if (prev != NULL)
			f->rps += kpa_rate(prev->requests, v[i].requests, now - g->prev_ms);
	}
}

struct apply {
	struct fn *f;
	struct kpa k; /* decided on a copy: update conflicts call target again */
	struct kpa_decision d;
	int64_t now;
};

static int64_t apply_target(int64_t current, void *arg)
{
	struct apply *a = arg;
	a->k = a->f->k;
	return kpa_decide(&a->k, &a->f->scale, current, a->now, &a->d);
}

/* Tells the gateways that answered this poll that name was scaled up: each
 * probes the new replicas and sends them requests as soon as they answer,
 * rather than a HEALTHCHECK interval and a DNS answer later. Best effort:
 * a gateway that misses it finds them through DNS. */
static void tell_starting(const char *name)
{
	char path[FX_SPEC_MAX_NAME + 16];

	snprintf(path, sizeof(path), "/_/starting/%s", name);
	for (size_t i = 0; i < as.ngws; i++) {
		struct fx_http_resp resp = {0};
		char *err = NULL;
		if (as.gws[i].misses > 0)
			continue;
		if (gw_call(&as.gws[i], "POST", path, 4096, &resp, &err) < 0 || resp.status != 202)
			log_debug("autoscale_starting_not_told",
			          "gateway=%s function=%s status=%ld err=\"%s\"", as.gws[i].url,
			          name, resp.status, err ? err : "");
		free(err);
		fx_http_resp_release(&resp);
	}
}

/* The last decision, for /metrics. */
static void record(struct fn *f, const struct kpa_decision *d)
{
	pthread_mutex_lock(&as.mu);
	f->last = *d;
	as.decisions[d->reason]++;
	pthread_mutex_unlock(&as.mu);
}

/* Decides f at now (as.mu not held: Docker may be slow; only this thread
 * changes fns, /metrics reads it under as.mu); scales through the alerts' path when the count
 * changes. */
static void decide(struct fn *f, int64_t now)
{
	struct apply a = {.f = f, .now = now};
	int64_t prev = -1, got = -1, want;
	char *err = NULL;
	int rc;

	a.k = f->k;
	want = kpa_decide(&a.k, &f->scale, f->known, now, &a.d);
	/* Docker is asked only when the count would change, when it is old, or
	 * when a function thought asleep has load (a request woke it). */
	if (now < f->retry_ms ||
	    (f->known >= 0 && now - f->known_ms < KNOWN_MS && want == f->known &&
	     !(f->known == 0 && (f->inflight > 0 || f->rps > 0)))) {
		f->k = a.k;
		record(f, &a.d);
		return;
	}
	rc = reconcile_set_replicas(as.c, f->name, apply_target, &a, &prev, &got, &err);
	if (rc < 0) {
		if (rc != -ENOENT)
			log_warn("autoscale_failed", "function=%s err=\"%s\"", f->name,
			         err ? err : "");
		free(err);
		f->known = -1;
		f->retry_ms = now + 5000;
		return;
	}
	f->k = a.k;
	f->known = got;
	f->known_ms = now;
	record(f, &a.d);
	if (got > prev && prev > 0)
		tell_starting(f->name);
	if (got != prev)
		log_info("scaled",
		         "function=%s replicas=%lld previous=%lld source=autoscaler reason=%s "
		         "metric=%s stable=%.2f panic=%.2f target=%lld panicking=%d",
		         f->name, (long long)got, (long long)prev, kpa_reason_names[a.d.reason],
		         fx_spec_metric_name(f->scale.metric), a.d.stable, a.d.panic,
		         (long long)f->scale.target, a.d.panicking);
}

/* The scale settings of every function the controller knows (its cache). */
static void refresh_functions(void)
{
	struct ctl *c = as.c;
	for (size_t i = 0; i < as.nfns; i++)
		as.fns[i].seen = false;
	pthread_mutex_lock(&c->mu);
	for (size_t i = 0; i < c->nscales; i++) {
		struct fn *f;
		if (c->scales[i].scale.metric == FX_METRIC_ALERTS)
			continue;
		f = fn_of(c->scales[i].name, true);
		if (f == NULL)
			break;
		if (f->scale.metric != c->scales[i].scale.metric ||
		    f->scale.window_ms != c->scales[i].scale.window_ms ||
		    f->scale.panic_window_ms != c->scales[i].scale.panic_window_ms)
			kpa_init(&f->k); /* other samples or windows: start over */
		f->scale = c->scales[i].scale;
		f->seen = true;
	}
	pthread_mutex_unlock(&c->mu);
	for (size_t i = 0; i < as.nfns;) {
		if (!as.fns[i].seen)
			as.fns[i] = as.fns[--as.nfns];
		else
			i++;
	}
}

static void tick(void)
{
	struct poll polls[MAX_GATEWAYS];
	int64_t now;
	bool hold = false;
	size_t answered = 0;

	gw_list();
	memset(polls, 0, sizeof(polls));
	for (size_t i = 0; i < as.ngws; i++) {
		polls[i].g = &as.gws[i];
		polls[i].started = pthread_create(&polls[i].th, NULL, poll_one, &polls[i]) == 0;
		if (!polls[i].started) {
			polls[i].rc = -EAGAIN;
			polls[i].err = fx_strdupf("cannot start a thread");
		}
	}
	for (size_t i = 0; i < as.ngws; i++)
		if (polls[i].started)
			pthread_join(polls[i].th, NULL);
	now = fx_now_ms();

	pthread_mutex_lock(&as.mu);
	as.polled = as.ngws;
	refresh_functions();
	for (size_t i = 0; i < as.nfns; i++)
		as.fns[i].inflight = as.fns[i].rps = 0;
	for (size_t i = 0; i < as.ngws; i++) {
		struct poll *p = &polls[i];
		struct gw *g = p->g;
		if (p->rc < 0) {
			as.polls_failed++;
			if (g->misses++ == 0)
				log_warn("autoscale_gateway_skipped", "gateway=%s err=\"%s\"",
				         g->url, p->err ? p->err : "");
			/* A gateway that answered before and is silent now holds the
			 * samples back a few polls rather than undercount. */
			if (g->misses <= MISSES_HELD && g->prev_ms > 0)
				hold = true;
			free(p->err);
			continue;
		}
		if (g->misses > 0)
			log_info("autoscale_gateway_back", "gateway=%s", g->url);
		g->misses = 0;
		sum_answer(g, p->v, p->n, now);
		free(g->prev);
		g->prev = p->v;
		g->nprev = p->n;
		g->prev_ms = now;
		answered++;
	}
	pthread_mutex_unlock(&as.mu);
	for (size_t i = 0; i < as.nfns; i++) {
		struct fn *f = &as.fns[i];
		if (answered > 0 && !hold)
			kpa_observe(&f->k, &f->scale, now,
			            f->scale.metric == FX_METRIC_RPS ? f->rps : f->inflight);
		decide(f, now);
	}
}

static void *loop(void *arg)
{
	(void)arg;
	while (!as.c->stopping) {
		int64_t t0 = fx_now_ms(), left;
		struct timespec ts;
		tick();
		left = as.conf.interval_ms - (fx_now_ms() - t0);
		if (left > 0) {
			ts.tv_sec = left / 1000;
			ts.tv_nsec = (long)(left % 1000) * 1000000L;
			nanosleep(&ts, NULL);
		}
	}
	return NULL;
}

int autoscale_start(struct ctl *c, const struct autoscale_conf *conf)
{
	pthread_t th;
	as.c = c;
	as.conf = *conf;
	if (pthread_create(&th, NULL, loop, NULL) != 0)
		return -EAGAIN;
	pthread_detach(th);
	return 0;
}

void autoscale_metrics(struct fx_buf *b)
{
	pthread_mutex_lock(&as.mu);
	fx_buf_puts(b, "# HELP faas_controller_autoscale_decisions_total Autoscaler decisions "
	               "by reason.\n# TYPE faas_controller_autoscale_decisions_total counter\n");
	for (size_t i = 0; i < KPA_REASONS; i++)
		fx_buf_appendf(b, "faas_controller_autoscale_decisions_total{reason=\"%s\"} %llu\n",
		               kpa_reason_names[i], as.decisions[i]);
	fx_buf_appendf(b,
	               "# HELP faas_controller_autoscale_gateway_poll_failures_total Gateway "
	               "polls without an answer.\n# TYPE "
	               "faas_controller_autoscale_gateway_poll_failures_total counter\n"
	               "faas_controller_autoscale_gateway_poll_failures_total %llu\n"
	               "# HELP faas_controller_autoscale_gateways Gateways polled.\n"
	               "# TYPE faas_controller_autoscale_gateways gauge\n"
	               "faas_controller_autoscale_gateways %zu\n",
	               as.polls_failed, as.polled);
	fx_buf_puts(b, "# HELP faas_controller_autoscale_concurrency Requests in flight, "
	               "averaged since the previous poll and summed over the gateways.\n"
	               "# TYPE faas_controller_autoscale_concurrency gauge\n");
	for (size_t i = 0; i < as.nfns; i++)
		fx_buf_appendf(b,
		               "faas_controller_autoscale_concurrency{function_name=\"%s\"} %g\n",
		               as.fns[i].name, as.fns[i].inflight);
	fx_buf_puts(b, "# HELP faas_controller_autoscale_rps Requests per second summed over "
	               "the gateways at the last poll.\n"
	               "# TYPE faas_controller_autoscale_rps gauge\n");
	for (size_t i = 0; i < as.nfns; i++)
		fx_buf_appendf(b, "faas_controller_autoscale_rps{function_name=\"%s\"} %g\n",
		               as.fns[i].name, as.fns[i].rps);
	fx_buf_puts(b, "# HELP faas_controller_autoscale_desired_replicas The autoscaler's last "
	               "decision.\n# TYPE faas_controller_autoscale_desired_replicas gauge\n");
	for (size_t i = 0; i < as.nfns; i++)
		fx_buf_appendf(b,
		               "faas_controller_autoscale_desired_replicas{function_name=\"%s\"} "
		               "%lld\n",
		               as.fns[i].name, (long long)as.fns[i].last.desired);
	fx_buf_puts(b, "# HELP faas_controller_autoscale_panic 1 while the panic window rules.\n"
	               "# TYPE faas_controller_autoscale_panic gauge\n");
	for (size_t i = 0; i < as.nfns; i++)
		fx_buf_appendf(b, "faas_controller_autoscale_panic{function_name=\"%s\"} %d\n",
		               as.fns[i].name, as.fns[i].last.panicking ? 1 : 0);
	pthread_mutex_unlock(&as.mu);
}
