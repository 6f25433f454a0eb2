#!/usr/bin/env bash
# Fault: a replica OOM-killed under its memory limit. fault-oom (one replica,
# 24Mi) echoes its body, which the watchdog holds until the body is in; a
# 64 MB body pushes it over the limit and the kernel kills it. The request
# that ran on it gets 502 from the gateway, Swarm restarts the replica, and
# the next request (sent at once; the gateway holds it until a replica is
# ready) is answered 200. Recovery: the killed request's answer -> the next
# 200. The function is removed at the end.
source "$FX_ROOT/tests/lib.sh"
source "$FX_ROOT/e2e/faults/lib.sh"
OOM=fault-oom
cleanup() {
	bin/faasctl delete "$OOM" --ignore-not-found >/dev/null 2>&1
	t_cleanup
}
trap cleanup EXIT

fault_platform
image=$(sed -n 's/^FAAS_ECHO_IMAGE=//p' build/images.env)
printf 'apiVersion: faas/v1\nkind: Function\nmetadata: {name: %s, labels: {suite: faults}}\nspec:\n  image: %s\n  fprocess: cat\n  env: {max_output: 256Mi, max_body: 256Mi}\n  limits: {memory: 24Mi}\n  timeouts: {read: 30s, write: 30s, exec: 30s}\n' \
	"$OOM" "$image" >"$T_DIR/oom.yaml"
check "fault-oom is applied" bash -c "bin/faasctl apply -f '$T_DIR/oom.yaml' >'$T_DIR/apply.log' 2>&1"
check "fault-oom answers" wait_for 60 answers "$OOM"
victim=$(containers_of "$OOM" | head -n 1)
code=$(head -c 64000000 /dev/zero | curl -s -o /dev/null -w '%{http_code}' --max-time 60 --data-binary @- "$GW/function/$OOM")
t0=$(now_ms)
# The next requests, sent at once: the gateway holds each until a replica is
# ready (start_timeout); one that still finds none is answered 503.
tries=0 out='' deadline=$((SECONDS + 60))
while [ $tries -lt 30 ] && [ $SECONDS -lt $deadline ]; do
	tries=$((tries + 1))
	out=$(curl -s --max-time 15 -w ' %{http_code}' --data-binary after "$GW/function/$OOM")
	[ "$out" = "after 200" ] && break
	sleep 0.5
done
t1=$(now_ms)
oom=$(docker inspect -f '{{.State.OOMKilled}} {{.State.ExitCode}}' "$victim" 2>/dev/null)
counts $((1 + tries)) $(((code != 200) + tries - 1)) "oom_request=$code tries_to_200=$tries container=\"$oom\""
figures replica-oom-killed "$(secs "$t0" "$t1")"
expect_eq "the kernel OOM-killed the replica" "true 137" "$oom"
expect_eq "the request that ran on it is answered 502" 502 "$code"
expect_eq "then the restarted replica answers" "after 200" "$out"
check "and it runs again" wait_for 30 runs_n "$OOM" 1
check "a new container, not the killed one" bash -c "[ -n \"\$(docker ps -q --filter label=com.docker.swarm.service.name=$OOM)\" ] && ! docker ps -q | grep -q '^${victim:0:12}'"
