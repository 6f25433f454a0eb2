#!/usr/bin/env bash
# Three managers (make cluster-up MANAGERS=3 promotes n2 and n3):
#   - the controller's node drained: the controller runs again on another
#     manager, a later `faasctl apply` works, and the move updated no
#     function service (the controller's state is in the swarm);
#   - the engine of the manager now running the controller SIGKILLed: the
#     two others keep the Raft quorum, the controller comes back on one of
#     them, and apply and invoke work.
# The killed node is started again at the end.
source "$FX_ROOT/tests/lib.sh"
source "$FX_ROOT/e2e/cluster/lib.sh"
cd "$FX_ROOT" || exit 1
trap 'cluster_logs; t_cleanup' EXIT

if ! cluster_env || ! timeout 10 docker node ls >/dev/null 2>&1; then
	t_skip "three managers" "no test cluster (10-spread.sh did not bring it up)"
	exit 0
fi
if ! check "make cluster-up MANAGERS=3" cluster_up 3; then
	tail -n 30 "$T_DIR/cluster-up.log"
	exit 1
fi
expect_eq "three managers" 3 "$(docker node ls -q --filter role=manager | wc -l)"

node_label() { docker node inspect -f '{{index .Spec.Labels "faas.cluster.node"}}' "$1"; }
node_id() { docker node ls -q | while read -r id; do [ "$(node_label "$id")" = "$1" ] && echo "$id"; done; }
controller_node() { tasks_by_node faas_controller | cut -d' ' -f1 | head -n 1; }
# versions: "NAME index" of every function service but the after-* ones
# this script makes.
versions() {
	docker service ls -q --filter label=faas.managed-by=faas-controller |
		xargs -r docker service inspect -f '{{.Spec.Name}} {{.Version.Index}}' | grep -v '^after-' | sort
}
invoke_ok() { curl -fsS -o /dev/null --max-time 5 -d x "$(gw "$1")/function/$2"; }

# -- the controller's node drained
check "the controller runs" wait_for 60 test -n "$(controller_node)"
from=$(controller_node)
before=$(versions)
check "drain $from (the controller's node)" docker node update --availability drain "$(node_id "$from")"
moved() {
	local n
	n=$(controller_node)
	[ -n "$n" ] && [ "$n" != "$from" ]
}
check "the controller runs on another manager" wait_for 60 moved
to=$(controller_node)
echo "  controller: $from -> $to"
export FAAS_GATEWAY
FAAS_GATEWAY=$(gw "$to")
check "faasctl apply works after the move" wait_for 60 apply_where after-drain 1
check "the new function answers" wait_for 120 invoke_ok "$to" after-drain
expect_eq "the move updated no function service" "$before" "$(versions)"
check "undrain $from" docker node update --availability active "$(node_id "$from")"

# -- the controller's manager killed. n1 is this test's way in (DOCKER_HOST):
# when the controller is there, n2 goes instead.
victim=$to
[ "$victim" != n1 ] || victim=n2
alive=n1
FAAS_GATEWAY=$(gw "$alive")
check "the gateway on $alive answers" wait_for 60 curl -fsS -o /dev/null --max-time 2 "$(gw "$alive")/healthz"
t0=$SECONDS
check "kill manager $victim" timeout 60 scripts/cluster.sh kill "$victim"
check "the swarm still answers (quorum of two)" wait_for 30 bash -c "docker node ls >/dev/null"
check "faasctl apply works without $victim" wait_for 90 apply_where after-kill 1
check "the new function answers" wait_for 120 invoke_ok "$alive" after-kill
check "the older ones still answer" invoke_ok "$alive" after-drain
echo "  manager $victim killed: apply + invoke worked after $((SECONDS - t0)) s"
echo "cluster manager loss: apply + invoke worked $((SECONDS - t0)) s after the kill" >>"$FX_ARTIFACTS/cluster-figures.txt"

check "$victim starts again" timeout 120 scripts/cluster.sh start "$victim"
all_ready() { [ "$(docker node ls --format '{{.Status}}' | grep -c Ready)" -eq 3 ]; }
check "$victim is Ready in the swarm again" wait_for 90 all_ready
