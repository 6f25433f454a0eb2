#!/usr/bin/env bash
# Fault: Prometheus down for a minute (FX_FAULT_DOWN_SECONDS). Invocations go
# on unaffected (load on the sample echo, which scales: min 1, max 4), no
# replica changes while it is gone (no alert can fire), and once it is back
# the same load scales echo up again. Recovery: Prometheus running again ->
# echo's replicas raised.
source "$FX_ROOT/tests/lib.sh"
source "$FX_ROOT/e2e/faults/lib.sh"
DOWN_S=${FX_FAULT_DOWN_SECONDS:-60}
PROM=faas_prometheus
restore() {
	docker service scale -d "$PROM=1" >/dev/null 2>&1
	t_cleanup
}
trap restore EXIT

fault_platform
at_min() { [ "$(want_replicas echo)" = 1 ] && runs_n echo 1; }
check "echo is at min (1 replica)" wait_for 60 at_min
prom_gone() { [ -z "$(containers_of "$PROM")" ]; }
t_down=$SECONDS
check "Prometheus is stopped" bash -c "docker service scale -d $PROM=0 >/dev/null"
check "its container is gone" wait_for 30 prom_gone
load_start monitoring-down 20 echo
changed=''
while kill -0 "$LOAD_PID" 2>/dev/null || [ $((SECONDS - t_down)) -lt "$DOWN_S" ]; do
	[ $((SECONDS - t_down)) -lt $((DOWN_S + 30)) ] || break
	w=$(want_replicas echo)
	[ "$w" = 1 ] || changed="$changed $w@$((SECONDS - t_down))s"
	sleep 1
done
load_wait
figures prometheus-down n/a "down_s=$((SECONDS - t_down)) replica_changes=[${changed# }]"
check "the load ran (over 50 requests)" test "$L_REQ" -gt 50
expect_eq "invocations are unaffected while Prometheus is down" 0 "$L_FAILED"
expect_eq "no replica change while it is down" "" "$changed"

t0=$(now_ms)
check "Prometheus is started again" bash -c "docker service scale -d $PROM=1 >/dev/null"
prom_runs() { [ -n "$(containers_of "$PROM")" ]; }
check "it runs" wait_for 60 prom_runs
load_start monitoring-back 25 echo
raised() { [ "$(want_replicas echo)" -gt 1 ] 2>/dev/null; }
r=''
wait_for 40 raised && r=$(secs "$t0" "$(now_ms)")
load_wait
figures prometheus-back "${r:-n/a}" "replicas=$(want_replicas echo)"
check "scaling resumes: echo's replicas are raised" test -n "$r"
expect_eq "and nothing fails meanwhile" 0 "$L_FAILED"
