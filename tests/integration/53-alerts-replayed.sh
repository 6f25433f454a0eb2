#!/usr/bin/env bash
# Alertmanager's faults, in the real controller binary against fake_swarm
# (an in-memory Docker Engine) on 127.0.0.1: the same notification delivered
# 5 times (in parallel, as retries and a second Alertmanager would) is one
# step; a resolved that arrives before its firing leaves the function at min
# and the late firing is ignored; 5 resolves are one step down. Every step is
# counted in fake_swarm's log (one service_update line each).
# shellcheck source=tests/lib.sh
source "$(dirname "$0")/../lib.sh"

start_server swarm "$TOOLS/fake_swarm" || exit 1
SWARM=http://127.0.0.1:$PORT
export DOCKER_HOST=tcp://127.0.0.1:$PORT
echo "replay-token" >"$T_DIR/token"
start_server ctl "$BIN/faas-controller" --port 0 --bind 127.0.0.1 --token-file "$T_DIR/token" \
	--resync 1s --network replay-net || exit 1
CTL=http://127.0.0.1:$PORT
AUTH=(-H "Authorization: Bearer replay-token")

apply() { # NAME
	printf 'apiVersion: faas/v1\nkind: Function\nmetadata: {name: %s}\nspec:\n  image: img:1\n  scale: {min: 1, max: 4, factor: 50, cooldown: 1m, metric: alerts}\n' "$1" |
		curl -s -o /dev/null -w '%{http_code}' -X PUT "${AUTH[@]}" --data-binary @- "$CTL/apis/faas/v1/functions/$1"
}
replicas() { curl -s "$SWARM/services/$1" | jq -r '.Spec.Mode.Replicated.Replicas // "none"'; }
# steps NAME: the service updates fake_swarm has seen for NAME.
steps() { grep -c "msg=service_update name=$1 " "$T_DIR/swarm.log"; }
# alert STATUS FUNCTION STARTS: one Alertmanager webhook notification; prints
# the HTTP code.
alert() {
	curl -s -o /dev/null -w '%{http_code}\n' -X POST "${AUTH[@]}" -H 'Content-Type: application/json' --data \
		"{\"version\":\"4\",\"status\":\"$1\",\"alerts\":[{\"status\":\"$1\",\"labels\":{\"alertname\":\"APIHighInvocationRate\",\"function_name\":\"$2\"},\"startsAt\":\"$3\",\"fingerprint\":\"fp-$2\"}]}" \
		"$CTL/alerts"
}
# five STATUS FUNCTION STARTS: the same notification 5 times at once; prints
# the sorted codes on one line.
five() {
	local i
	for i in 1 2 3 4 5; do alert "$@" >"$T_DIR/code.$i" & done
	wait
	cat "$T_DIR"/code.? | sort | tr '\n' ' '
}

expect_eq "two functions are stored" "201 201" "$(apply dup) $(apply late)"
at() { [ "$(replicas "$1")" = "$2" ]; }
check "their services run at min" wait_for 20 bash -c "$(declare -f replicas at); SWARM=$SWARM; at dup 1 && at late 1"
sleep 1.5 # a resync has read the scale settings
base_dup=$(steps dup)
base_late=$(steps late)

# the same firing 5 times: one step, 1 + ceil(4 * 50 / 100) = 3
expect_eq "5 deliveries of one firing are all accepted" "200 200 200 200 200 " "$(five firing dup 2026-12-04T10:00:00Z)"
expect_eq "and step once" 3 "$(replicas dup)"
sleep 1.5 # a resync may not redo it either
expect_eq "one service update" 1 $(($(steps dup) - base_dup))
# the same resolve 5 times: one step down
expect_eq "5 deliveries of its resolve are accepted" "200 200 200 200 200 " "$(five resolved dup 2026-12-04T10:00:00Z)"
expect_eq "back to min" 1 "$(replicas dup)"
expect_eq "in one more update" 2 $(($(steps dup) - base_dup))

# reordered: the resolve arrives before its firing
expect_eq "a resolve before its firing is accepted" 200 "$(alert resolved late 2026-12-04T11:00:00Z)"
expect_eq "the late firing is accepted" 200 "$(alert firing late 2026-12-04T11:00:00Z)"
expect_eq "and ignored: the incident is over" 1 "$(replicas late)"
expect_eq "five more copies of it change nothing" "200 200 200 200 200 " "$(five firing late 2026-12-04T11:00:00Z)"
sleep 1.5
expect_eq "the function stays at min" 1 "$(replicas late)"
expect_eq "no service update at all" 0 $(($(steps late) - base_late))
# a new incident of the same alert still steps
expect_eq "a new incident fires" 200 "$(alert firing late 2026-12-04T12:00:00Z)"
expect_eq "and steps up" 3 "$(replicas late)"
check "the controller is alive" curl -fs -o /dev/null "$CTL/healthz"
