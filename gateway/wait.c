/* wait.c: a function's request finds its replicas, and waits when there are
 * none yet: for the registry to learn a new function, for DNS to answer, or
 * for a ready replica (a function scaled to zero or starting, woken through
 * registry.c's gw_wake_start). The request stays GW_REQ_WAITING, its client
 * suspended, and is looked at again on each loop tick (and when the loops are
 * woken); one bound holds for the whole request however often it comes back. */
#include "gateway.h"

#include <string.h>

#include "clock.h"
#include "log.h"
#include "proxy.h"

#define WAIT_REGISTRY_MS 1500
#define WAIT_DNS_MS      3000
#define WAIT_LOAD_MS     5000 /* for the first registry poll after a start */

static void wait_for(struct gw_req *r, enum gw_wait_kind kind, int64_t until)
{
	r->st = GW_REQ_WAITING;
	r->wait = kind;
	r->wait_until = until;
}

/* Leaves r waiting for a ready replica of its function, woken by the
 * registry's thread; scale: ask the controller for one replica first. */
static void wait_ready(struct gw_req *r, bool scale)
{
	if (r->wake_until == 0)
		r->wake_until = fx_now_ms() + 1000 +
		                (scale ? gw_cfg.scale_timeout_ms : gw_cfg.start_timeout_ms);
	gw_req_release_cands(r);
	gw_wake_start(r->fn, scale ? GW_WAKE_SCALE : GW_WAKE_START);
	wait_for(r, GW_WAIT_READY, r->wake_until);
}

bool gw_wait_after_refusals(struct gw_req *r)
{
	struct gw_fn *f = r->fn;

	if ((r->flags & GW_RF_SYSTEM) || f == NULL || !(r->x.flags & FX_PXF_UPLOADED) ||
	    !gw_cfg.controller_host[0] || (!f->zero && f->replicas == 0) ||
	    (r->wake_until != 0 && fx_now_ms() >= r->wake_until) || !fx_px_park(&r->x))
		return false;
	wait_ready(r, f->zero && f->replicas == 0);
	log_info("replicas_refused_waiting", "function=%s", f->name);
	return true;
}

void gw_resolve_function(struct gw_req *r, bool first)
{
	struct gw_fn *f = r->fn;
	int64_t now = fx_now_ms();
	uint64_t seq;
	size_t n;
	bool none, scale, starting;

	if (f == NULL) {
		if (!gw_registry_loaded()) {
			/* A gateway just started (restarted under load): the request
			 * is held for the first poll, WAIT_LOAD_MS at most in all,
			 * instead of failing. */
			if (first)
				r->wait_until = now + WAIT_LOAD_MS;
			if (now < r->wait_until) {
				r->wait_seq = gw_registry_seq();
				wait_for(r, GW_WAIT_REGISTRY, r->wait_until);
				return;
			}
			fx_px_fail(&r->x, 503, "the function registry is not loaded yet");
			return;
		}
		f = gw_registry_lookup(r->route.name, &seq);
		/* NAME.NAMESPACE names another install's function: not ours. */
		if (f != NULL && r->route.ns[0] && strcmp(r->route.ns, f->ns) != 0)
			f = NULL;
		if (f == NULL) {
			if (first && gw_registry_poll_soon()) {
				r->wait_seq = seq;
				wait_for(r, GW_WAIT_REGISTRY, now + WAIT_REGISTRY_MS);
				return;
			}
			fx_px_fail(&r->x, 404, "function not found");
			return;
		}
		r->fn = f;
		gw_metrics_started(f->metrics);
	}
	n = gw_pick(f, r->cand, GW_MAX_TRIES);
	if (n == GW_PICK_PENDING) {
		if (r->st != GW_REQ_WAITING || r->wait != GW_WAIT_DNS)
			wait_for(r, GW_WAIT_DNS, now + WAIT_DNS_MS);
		return;
	}
	r->ncand = n;
	r->next = 0;
	none = n == 0 || (gw_cfg.static_discovery && gw_cfg.controller_host[0] && f->replicas == 0);
	/* No ready replica: wait for one when the function is at zero (scaled up
	 * now) or starting (it has replicas, none past its health check yet). */
	scale = f->zero;
	starting = f->replicas > 0 && !gw_cfg.static_discovery;
	if (none && (scale || starting) && gw_cfg.controller_host[0] &&
	    !(r->st == GW_REQ_WAITING && r->wait == GW_WAIT_READY)) {
		wait_ready(r, scale && !starting);
		return;
	}
	if (none) {
		gw_req_release_cands(r);
		fx_px_fail(&r->x, 503, "the function has no ready replicas");
		return;
	}
	r->st = GW_REQ_ROUTED;
	gw_req_maybe_start(r);
}

void gw_wait_tick(struct gw_req *r, int64_t now)
{
	int s;
	size_t n;

	switch (r->wait) {
	case GW_WAIT_REGISTRY:
		if (gw_registry_seq() == r->wait_seq && now < r->wait_until)
			return;
		gw_resolve_function(r, false);
		break;
	case GW_WAIT_DNS:
		if (now > r->wait_until) {
			fx_px_fail(&r->x, 503, "the function's replicas could not be resolved");
			return;
		}
		gw_resolve_function(r, false);
		break;
	case GW_WAIT_READY:
		s = gw_wake_state(r->fn);
		if (s == 0 && now < r->wait_until)
			return;
		if (s != 1) {
			fx_px_fail(
			    &r->x, 503,
			    r->fn->zero && r->fn->replicas == 0
			        ? "the function has no ready replicas (scale from zero timed out)"
			        : "the function has no ready replicas (none became ready in time)");
			return;
		}
		n = gw_pick(r->fn, r->cand, GW_MAX_TRIES);
		if (n == 0 || n == GW_PICK_PENDING) {
			fx_px_fail(&r->x, 503, "the function has no ready replicas");
			return;
		}
		r->ncand = n;
		r->next = 0;
		r->st = GW_REQ_ROUTED;
		gw_req_maybe_start(r);
		break;
	}
	if (r->st != GW_REQ_WAITING)
		fx_px_resume(&r->x); /* started, failed, or more body wanted */
}
