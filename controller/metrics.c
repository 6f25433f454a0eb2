/* metrics.c: the controller's Prometheus metrics (lock-free counters). */
#include "controller.h"

#include "buf.h"

#include <stdatomic.h>
#include <stdlib.h>

static _Atomic unsigned long long counters[M_COUNTERS];

static const struct {
	const char *name, *help;
} counter_info[M_COUNTERS] = {
    [M_RECONCILES] = {"faas_controller_reconciles_total", "Reconciles of one function key."},
    [M_RECONCILE_ERRORS] = {"faas_controller_reconcile_errors_total",
                            "Reconciles that failed (retried with backoff)."},
    [M_SERVICE_CREATES] = {"faas_controller_service_creates_total", "Swarm services created."},
    [M_SERVICE_UPDATES] = {"faas_controller_service_updates_total",
                           "Swarm service updates issued."},
    [M_SERVICE_DELETES] = {"faas_controller_service_deletes_total", "Swarm services removed."},
    [M_ALERTS_RECEIVED] = {"faas_controller_alerts_received_total",
                           "Alerts received from Alertmanager (with a function_name)."},
    [M_SCALE_EVENTS] = {"faas_controller_scale_events_total",
                        "Replica changes made by alerts or the scale API."},
    [M_EVENTS_RECEIVED] = {"faas_controller_docker_events_total", "Docker events received."},
};

static const double bounds[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
#define NB (sizeof(bounds) / sizeof(bounds[0]))
static _Atomic unsigned long long buckets[NB + 1];
static _Atomic unsigned long long sum_us;

void metrics_inc(enum metric_counter c)
{
	atomic_fetch_add(&counters[c], 1);
}

void metrics_observe_reconcile(double seconds)
{
	size_t i = 0;
	while (i < NB && seconds > bounds[i])
		i++;
	atomic_fetch_add(&buckets[i], 1);
	atomic_fetch_add(&sum_us, (unsigned long long)(seconds * 1e6));
}

char *metrics_render(size_t queue_depth, size_t functions)
{
	struct fx_buf b;
	unsigned long long cum = 0;
	char *s;
	fx_buf_init(&b, 1 << 20);
	for (size_t i = 0; i < M_COUNTERS; i++)
		fx_buf_appendf(&b, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n",
		               counter_info[i].name, counter_info[i].help, counter_info[i].name,
		               counter_info[i].name, (unsigned long long)atomic_load(&counters[i]));
	fx_buf_puts(&b, "# HELP faas_controller_reconcile_duration_seconds Time of one reconcile.\n"
	                "# TYPE faas_controller_reconcile_duration_seconds histogram\n");
	for (size_t i = 0; i <= NB; i++) {
		cum += atomic_load(&buckets[i]);
		if (i < NB)
			fx_buf_appendf(
			    &b,
			    "faas_controller_reconcile_duration_seconds_bucket{le=\"%g\"} %llu\n",
			    bounds[i], cum);
		else
			fx_buf_appendf(
			    &b,
			    "faas_controller_reconcile_duration_seconds_bucket{le=\"+Inf\"} %llu\n",
			    cum);
	}
	fx_buf_appendf(&b, "faas_controller_reconcile_duration_seconds_sum %.6f\n",
	               (double)atomic_load(&sum_us) / 1e6);
	fx_buf_appendf(&b, "faas_controller_reconcile_duration_seconds_count %llu\n", cum);
	fx_buf_appendf(
	    &b,
	    "# HELP faas_controller_queue_depth Keys waiting or being reconciled.\n"
	    "# TYPE faas_controller_queue_depth gauge\nfaas_controller_queue_depth %zu\n",
	    queue_depth);
	fx_buf_appendf(&b,
	               "# HELP faas_controller_functions Functions in the desired state.\n"
	               "# TYPE faas_controller_functions gauge\nfaas_controller_functions %zu\n",
	               functions);
	autoscale_metrics(&b);
	s = fx_buf_detach(&b, NULL);
	fx_buf_release(&b);
	return s;
}
