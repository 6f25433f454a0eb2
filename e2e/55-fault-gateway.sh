#!/usr/bin/env bash
# Fault: the gateway restarted under load (`docker service update --force`).
# Its port is published in host mode, which one task per node can bind, so
# Swarm stops the old task before it starts the new one (stop-first): there
# is a gap in which connections are refused (wrk reconnects: "connect"
# errors, no request sent). The gateway drains (requests in flight finish)
# and no answer is an error; but Docker's port proxy (docker-proxy) accepts
# connections while the old gateway no longer does and closes them without
# an answer: wrk counts those as read errors (requests a reconnecting client
# sends again), reported, not asserted. Recovery: update -> the new gateway
# answers.
source "$FX_ROOT/tests/lib.sh"
source "$FX_ROOT/e2e/faults/lib.sh"

fault_platform
fault_fn
old=$(containers_of faas_gateway | head -n 1)
load_start gateway 25
sleep 4
t0=$(now_ms)
check "docker service update --force of the gateway" bash -c "docker service update -d --force faas_gateway >/dev/null"
new_serves() {
	local c
	c=$(containers_of faas_gateway | head -n 1)
	[ -n "$c" ] && [ "$c" != "$old" ] && answers "$FN"
}
r=''
wait_for 60 new_serves && r=$(secs "$t0" "$(now_ms)")
load_wait
figures gateway-restart "${r:-n/a}" "fail_s=[$(for s in $(fail_seconds); do printf '%s ' $((s - t0 / 1000)); done)]"
check "the new gateway answers" test -n "$r"
check "the load ran (over 50 requests)" test "$L_REQ" -gt 50
expect_eq "no answer is an error" 0 "${L[status]:-x}"
expect_eq "no request times out" 0 "${L[timeout]:-x}"
