#!/usr/bin/env bash
# Fault: a replica stopped the polite way (`docker stop`: SIGTERM, then the
# grace period) under load: no request may fail. The watchdog drains (finishes
# what it runs, answers what arrives meanwhile, tells the gateway it is
# draining); the gateway stops sending to it and sends again only what cannot
# have run. Recovery: stop -> Swarm's replacement replica running.
source "$FX_ROOT/tests/lib.sh"
source "$FX_ROOT/e2e/faults/lib.sh"

fault_platform
fault_fn
victim=$(containers_of "$FN" | head -n 1)
load_start stop
sleep 4
t0=$(now_ms)
check "docker stop of a replica" bash -c "docker stop '$victim' >/dev/null"
stop_ms=$(($(now_ms) - t0))
replaced() { runs_n "$FN" "$REPLICAS" && ! docker ps -q --no-trunc | grep -q "^$victim"; }
r=''
wait_for 60 replaced && r=$(secs "$t0" "$(now_ms)")
load_wait
exit_code=$(docker inspect -f '{{.State.ExitCode}}' "$victim" 2>/dev/null)
figures replica-docker-stop "${r:-n/a}" "stop_s=$(secs 0 "$stop_ms")"
check "Swarm replaces the replica" test -n "$r"
expect_eq "the watchdog drained and exited 0" 0 "$exit_code"
check "the load ran (over 100 requests)" test "$L_REQ" -gt 100
expect_eq "no request fails when a replica is stopped" 0 "$L_FAILED"
