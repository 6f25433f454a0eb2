#!/usr/bin/env bash
# Fault: two rolling updates in a row under load, the second applied while
# the first is still rolling (an env var changed each time, start-first
# updates): no request may fail. Recovery: first apply -> the last spec
# rolled out on every replica.
source "$FX_ROOT/tests/lib.sh"
source "$FX_ROOT/e2e/faults/lib.sh"

fault_platform
fault_fn
v=$$-$(date +%s)
fault_fn_yaml "$FN" "a-$v" >"$T_DIR/a.yaml"
fault_fn_yaml "$FN" "b-$v" >"$T_DIR/b.yaml"
env_of() { docker service inspect -f '{{range .Spec.TaskTemplate.ContainerSpec.Env}}{{println .}}{{end}}' "$(svc_of "$FN")" | sed -n 's/^ROLL=//p'; }
# Rolled out: the last spec everywhere, the update finished, 3 replicas up.
rolled() {
	[ "$(env_of)" = "b-$v" ] &&
		[ "$(docker service inspect -f '{{if .UpdateStatus}}{{.UpdateStatus.State}}{{else}}completed{{end}}' "$(svc_of "$FN")")" = completed ] &&
		runs_n "$FN" "$REPLICAS" &&
		[ "$(docker service ps -q --filter desired-state=running "$(svc_of "$FN")" | wc -l)" = "$REPLICAS" ]
}

# The load runs until both updates have rolled out (at most 2 minutes).
load_start rolling 150
sleep 3
t0=$(now_ms)
check "the first update is applied" bash -c "bin/faasctl apply -f '$T_DIR/a.yaml' >'$T_DIR/apply-a.log' 2>&1"
updating() { [ "$(docker service inspect -f '{{if .UpdateStatus}}{{.UpdateStatus.State}}{{end}}' "$(svc_of "$FN")")" = updating ]; }
wait_for 10 updating
was=$(docker service inspect -f '{{if .UpdateStatus}}{{.UpdateStatus.State}}{{end}}' "$(svc_of "$FN")")
check "the second update is applied" bash -c "bin/faasctl apply -f '$T_DIR/b.yaml' >'$T_DIR/apply-b.log' 2>&1"
expect_eq "while the first was still rolling" updating "$was"
r=''
wait_for 120 rolled && r=$(secs "$t0" "$(now_ms)")
sleep 2
load_stop
figures rolling-update-x2 "${r:-n/a}"
check "the last spec rolled out on every replica" test -n "$r"
check "the load ran (over 100 requests)" test "$L_REQ" -gt 100
expect_eq "no request fails during two rolling updates" 0 "$L_FAILED"
