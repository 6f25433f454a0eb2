#!/usr/bin/env bash
# Fault: the Docker engine stopped (SIGTERM to dockerd, which stops every
# container) and started again (scripts/docker-up.sh) with functions
# running. With no hand on it, the platform serves again: the suite's
# function answers through the gateway, and every function that existed
# before still exists with its replicas running. Recovery: engine answering
# -> first 200. Leaves the engine running, as the later scripts expect.
source "$FX_ROOT/tests/lib.sh"
source "$FX_ROOT/e2e/faults/lib.sh"
trap 'scripts/docker-up.sh >/dev/null 2>&1; t_cleanup' EXIT

fault_platform
fault_fn
fns() { bin/faasctl get -o name 2>/dev/null | sort; }
before=$(fns)
check "functions are listed before" test -n "$before"
pid=$(cat /var/run/docker.pid 2>/dev/null)
if [ -z "$pid" ] || [ "$(cat "/proc/$pid/comm" 2>/dev/null)" != dockerd ]; then
	t_skip "dockerd restart" "no dockerd process on this machine (engine run elsewhere)"
	exit 0
fi
t_stop=$(now_ms)
kill -TERM "$pid"
gone() { ! kill -0 "$pid" 2>/dev/null; }
check "dockerd stops" wait_for 90 gone
stop_ms=$(($(now_ms) - t_stop))
check "scripts/docker-up.sh starts it again" bash -c "scripts/docker-up.sh >'$T_DIR/docker-up.log' 2>&1"
t_up=$(now_ms)
served() { [ "$(curl -s --max-time 2 -o /dev/null -w '%{http_code}' --data-binary ping "$GW/function/$FN")" = 200 ]; }
r=''
wait_for 120 served && r=$(secs "$t_up" "$(now_ms)")
check "the platform serves again without a hand on it" test -n "$r"
after_list() { [ "$(fns)" = "$before" ]; }
check "every function is still there" wait_for 60 after_list
all_run() {
	local f n w
	for f in $before; do
		n=${f#*/}
		w=$(want_replicas "$n")
		[ -n "$w" ] && [ "$(running_tasks "$n")" = "$w" ] || return 1
	done
}
check "with all their replicas running" wait_for 120 all_run
all_ms=$(($(now_ms) - t_up))
load_start after-dockerd 10
load_wait
figures dockerd-restart "${r:-n/a}" "stop_s=$(secs 0 "$stop_ms") all_replicas_s=$(secs 0 "$all_ms") functions=$(wc -w <<<"$before")"
expect_eq "then the load loses nothing" 0 "$L_FAILED"
