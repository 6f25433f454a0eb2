#!/usr/bin/env bash
# Fault: a replica killed (SIGKILL) under load. Requests in flight on it
# cannot be saved (the function may have run: a POST is not sent again):
# they fail with 502, and there can be no more of them than connections
# (8); nothing fails after that second. Recovery: kill -> Swarm's
# replacement replica running.
source "$FX_ROOT/tests/lib.sh"
source "$FX_ROOT/e2e/faults/lib.sh"

fault_platform
fault_fn
victim=$(containers_of "$FN" | head -n 1)
load_start kill
sleep 4
t0=$(now_ms)
t_kill=$(date +%s)
check "docker kill -s KILL of a replica" bash -c "docker kill -s KILL '$victim' >/dev/null"
replaced() { runs_n "$FN" "$REPLICAS" && ! docker ps -q --no-trunc | grep -q "^$victim"; }
r=''
wait_for 60 replaced && r=$(secs "$t0" "$(now_ms)")
load_wait
late=''
for s in $(fail_seconds); do [ "$s" -le $((t_kill + 1)) ] || late="$late $((s - t_kill))"; done
figures replica-sigkill "${r:-n/a}" "fail_s_after_kill=[$(for s in $(fail_seconds); do printf '%s ' $((s - t_kill)); done)]"
check "Swarm replaces the replica" test -n "$r"
check "the load ran (over 100 requests)" test "$L_REQ" -gt 100
check "at most the requests in flight fail ($L_FAILED <= $CONNS)" test "$L_FAILED" -le "$CONNS"
expect_eq "those were answered 502 (no read error or timeout)" "${L[status]:-x}" "$L_FAILED"
expect_eq "nothing fails after the kill's second" "" "$late"
