#!/usr/bin/env bash
# Fault: the controller killed (SIGKILL) in the middle of applying 20
# functions, then the same apply again once Swarm has restarted it: exactly
# 20 services and 20 definitions (one config generation each, no duplicate
# left), no service created twice, none updated (nothing changed), every
# function answering. Recovery: kill -> the controller answers again. The
# functions (fault-c-NN) are removed at the end.
source "$FX_ROOT/tests/lib.sh"
source "$FX_ROOT/e2e/faults/lib.sh"
N=20
P=fault-c
cleanup() {
	bin/faasctl delete -f "$T_DIR/fns" --ignore-not-found >/dev/null 2>&1
	t_cleanup
}
trap cleanup EXIT

fault_platform
image=$(sed -n 's/^FAAS_ECHO_IMAGE=//p' build/images.env)
mkdir -p "$T_DIR/fns"
for i in $(seq -w 1 $N); do
	printf 'apiVersion: faas/v1\nkind: Function\nmetadata: {name: %s-%s, labels: {suite: faults}}\nspec:\n  image: %s\n  fprocess: cat\n  scale: {min: 1, max: 1, factor: 0}\n' \
		"$P" "$i" "$image" >"$T_DIR/fns/$P-$i.yaml"
done
names() { docker "$1" ls --filter label=faas.function --format '{{.Name}}' | grep -E "^(faas-fn-)?$P-[0-9]+" | sort; }
bin/faasctl delete -f "$T_DIR/fns" --ignore-not-found >/dev/null 2>&1
wait_for 60 bash -c "[ -z \"\$(docker service ls -q --filter name=$P-)\" ]"

ctl_container() { docker ps -q --filter label=com.docker.swarm.service.name=faas_controller | head -n 1; }
old=$(ctl_container)
# Service events, streamed from now on: the engine keeps only its last 256
# events, and the containers of 20 functions push the creates out of them
# before `docker events --since` could read them back.
docker events --filter type=service --format '{{.Action}} {{.Actor.Attributes.name}}' >"$T_DIR/events" 2>&1 &
events_pid=$!
T_PIDS+=("$events_pid")
sleep 1
# The apply, one function at a time (each a PUT and a reconcile); the
# controller is killed once 5 definitions are written, in the middle of it.
apply_each() {
	local f rc=0
	for f in "$T_DIR"/fns/*.yaml; do
		bin/faasctl apply -f "$f" --applyset "$P" >>"$T_DIR/apply1.log" 2>&1 || rc=1
	done
	return $rc
}
apply_each &
apply_pid=$!
T_PIDS+=("$apply_pid")
some_written() { [ "$(names config | wc -l)" -ge 5 ]; }
check "the apply is under way (5 definitions written)" wait_for 60 some_written
t0=$(now_ms)
docker kill -s KILL "$old" >/dev/null 2>&1
killed_at=$(names config | wc -l)
wait "$apply_pid"
rc=$?
echo "  controller killed after $killed_at of $N definitions; the first apply exited $rc"
check "some of the first apply failed (the controller was gone)" test "$rc" -ne 0
ctl_back() { [ -n "$(ctl_container)" ] && [ "$(ctl_container)" != "$old" ] && bin/faasctl get >/dev/null 2>&1; }
r=''
wait_for 120 ctl_back && r=$(secs "$t0" "$(now_ms)")
check "Swarm restarts the controller and it answers" test -n "$r"
check "the same apply again succeeds" bash -c "bin/faasctl apply -f '$T_DIR/fns' --applyset $P >'$T_DIR/apply2.log' 2>&1"
expect_eq "it reports every function" $N "$(grep -cE '^function/'"$P"'-[0-9]+ (created|configured|unchanged)$' "$T_DIR/apply2.log")"
all_run() {
	local s
	s=$(docker service ls --filter name=$P- --format '{{.Replicas}}' | grep -c '^1/1')
	[ "$s" = $N ]
}
check "all $N functions run" wait_for 180 all_run
all_answer() {
	local i
	for i in $(seq -w 1 $N); do answers "$P-$i" || return 1; done
}
check "all $N functions answer" wait_for 60 all_answer
sleep 3 # a reconcile that would undo or redo something has had time to
expect_eq "exactly $N services" $N "$(names service | wc -l)"
expect_eq "exactly $N definitions (no duplicate generation)" $N "$(names config | wc -l)"
expect_eq "one definition per function" $N "$(names config | sed -E 's/-[0-9]+$//' | sort -u | wc -l)"
sleep 1
kill "$events_pid" 2>/dev/null
wait "$events_pid" 2>/dev/null
ev() { grep -cE "^$1 $P-[0-9]+$" "$T_DIR/events"; }
creates=$(ev create)
updates=$(ev update)
removes=$(ev remove)
expect_eq "each service created once" $N "$creates"
expect_eq "no service updated (nothing changed)" 0 "$updates"
expect_eq "no service removed" 0 "$removes"
counts 0 0 "killed_after=$killed_at/$N services=$(names service | wc -l) definitions=$(names config | wc -l) creates=$creates updates=$updates removes=$removes"
figures controller-sigkill-mid-apply "${r:-n/a}"
