#!/usr/bin/env bash
# Fault: a function whose image is missing and one whose replica exits at
# once (the watchdog refuses its configuration), deployed next to the suite's
# function under load: each is Degraded with the reason (ImageNotFound,
# TasksFailing), the load on the healthy function loses nothing and the
# controller stays quiet (its CPU over the window: task failures are not
# events it reacts to). Swarm restarts the failing tasks (restart policy
# delay 1 s): the tasks made in the window and dockerd's CPU are reported.
# The broken functions are removed at the end.
source "$FX_ROOT/tests/lib.sh"
source "$FX_ROOT/e2e/faults/lib.sh"
MISSING=fault-missing
CRASH=fault-crash
cleanup() {
	bin/faasctl delete "$MISSING" "$CRASH" --ignore-not-found >/dev/null 2>&1
	t_cleanup
}
trap cleanup EXIT

fault_platform
fault_fn
image=$(sed -n 's/^FAAS_ECHO_IMAGE=//p' build/images.env)
{
	printf 'apiVersion: faas/v1\nkind: Function\nmetadata: {name: %s, labels: {suite: faults}}\nspec:\n  image: faas/no-such-image:0\n  fprocess: cat\n' "$MISSING"
	echo ---
	printf 'apiVersion: faas/v1\nkind: Function\nmetadata: {name: %s, labels: {suite: faults}}\nspec:\n  image: %s\n  fprocess: cat\n  env: {max_body: lots}\n' "$CRASH" "$image"
} >"$T_DIR/broken.yaml"

ctl_pid=$(docker inspect -f '{{.State.Pid}}' "$(docker ps -q --filter label=com.docker.swarm.service.name=faas_controller | head -n 1)")
dockerd_pid=$(cat /var/run/docker.pid 2>/dev/null)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null; }
pct() { awk -v a="${1:-0}" -v b="${2:-0}" -v hz="$(getconf CLK_TCK)" -v ms="$3" 'BEGIN { printf "%.1f", (b - a) / hz * 100000 / ms }'; }
degraded() { # NAME REASON
	bin/faasctl get "$1" -o json 2>/dev/null | jq -e --arg r "$2" \
		'.status.conditions[] | select(.type == "Degraded" and .status == "True" and .reason == $r)' >/dev/null
}
# polled once a second, so the polls themselves do not load the controller
poll() { # SECONDS CMD...
	local end=$((SECONDS + $1))
	shift
	until "$@"; do
		[ $SECONDS -lt $end ] || return 1
		sleep 1
	done
}

load_start broken 45
check "the broken functions are applied" bash -c "bin/faasctl apply -f '$T_DIR/broken.yaml' >'$T_DIR/apply.log' 2>&1"
check "$MISSING is Degraded: ImageNotFound" poll 40 degraded "$MISSING" ImageNotFound
check "$CRASH is Degraded: TasksFailing" poll 40 degraded "$CRASH" TasksFailing
msg=$(bin/faasctl get "$CRASH" -o json 2>/dev/null | jq -r '.status.conditions[] | select(.type == "Degraded") | .message')
echo "  $CRASH: $msg"
# A quiet window while both keep failing: no hot loop in the controller.
tasks() { docker service ps -q "$(svc_of "$1")" 2>/dev/null | wc -l; }
n0=$(($(tasks "$MISSING") + $(tasks "$CRASH")))
c0=$(cpu_ticks "$ctl_pid") d0=$(cpu_ticks "$dockerd_pid") t0=$(now_ms)
sleep 15
c1=$(cpu_ticks "$ctl_pid") d1=$(cpu_ticks "$dockerd_pid") dt=$(($(now_ms) - t0))
n1=$(($(tasks "$MISSING") + $(tasks "$CRASH")))
ctl_cpu=$(pct "$c0" "$c1" "$dt")
dockerd_cpu=$(pct "$d0" "$d1" "$dt")
check "both stay Degraded" bash -c "$(declare -f degraded); degraded $MISSING ImageNotFound && degraded $CRASH TasksFailing"
load_stop
figures broken-functions n/a "window_s=$(secs 0 "$dt") controller_cpu_pct=$ctl_cpu dockerd_cpu_pct=$dockerd_cpu tasks=$n0->$n1"
check "the load ran (over 50 requests)" test "$L_REQ" -gt 50
expect_eq "the healthy function loses nothing" 0 "$L_FAILED"
check "the controller stays quiet (CPU $ctl_cpu% < 5%)" awk -v c="$ctl_cpu" 'BEGIN { exit !(c < 5) }'
