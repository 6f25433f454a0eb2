#!/usr/bin/env bash
# Idle scale to zero in the real controller binary, against fake_swarm (an
# in-memory Docker Engine): FunctionIdle scales a zero: true function to 0 and
# leaves a zero: false one alone; the reconcile (resync every second, a spec
# change) keeps 0; a repeat of the same idle incident does not undo a scale
# from zero; its resolve does nothing; a late resolve of the load alert does
# not wake a function at 0; the load alert still steps up from 0; an idle
# alert within the cooldown of a step up is held.
# shellcheck source=tests/lib.sh
source "$(dirname "$0")/../lib.sh"

start_server swarm "$TOOLS/fake_swarm" || exit 1
SWARM=http://127.0.0.1:$PORT
export DOCKER_HOST=tcp://127.0.0.1:$PORT
echo "zero-token" >"$T_DIR/token"
start_server ctl "$BIN/faas-controller" --port 0 --bind 127.0.0.1 --token-file "$T_DIR/token" \
	--resync 1s --network zero-net --log-level debug --idle-window 2s || exit 1
CTL=http://127.0.0.1:$PORT
AUTH=(-H "Authorization: Bearer zero-token")

apply() { # NAME ZERO COOLDOWN IMAGE
	printf 'apiVersion: faas/v1\nkind: Function\nmetadata: {name: %s}\nspec:\n  image: %s\n  scale: {min: %s, max: 4, factor: 50, zero: %s, cooldown: %s, metric: alerts}\n' \
		"$1" "$4" "$([ "$2" = true ] && echo 1 || echo 2)" "$2" "$3" |
		curl -s -o /dev/null -w '%{http_code}' -X PUT "${AUTH[@]}" --data-binary @- "$CTL/apis/faas/v1/functions/$1"
}
replicas() { curl -s "$SWARM/services/$1" | jq -r '.Spec.Mode.Replicated.Replicas // "none"'; }
is() { [ "$(replicas "$1")" = "$2" ]; }
# alert NAME STATUS FUNCTION STARTS: POSTs one Alertmanager notification;
# prints "HTTP-CODE scaled". STARTS tN names incident N (startsAt second N).
alert() {
	# $4: tN (startsAt 2026-11-26T10:00:0NZ) or a whole RFC 3339 time
	local out starts=$4
	[[ $starts == t* ]] && starts="2026-11-26T10:00:0${4#t}Z"
	out=$(curl -s -w ' %{http_code}' -X POST "${AUTH[@]}" -H 'Content-Type: application/json' --data \
		"{\"version\":\"4\",\"status\":\"$2\",\"alerts\":[{\"status\":\"$2\",\"labels\":{\"alertname\":\"$1\",\"function_name\":\"$3\"},\"startsAt\":\"$starts\",\"fingerprint\":\"fp-$1-$3\"}]}" \
		"$CTL/alerts")
	echo "${out##* } $(jq -r .scaled <<<"${out% *}" 2>/dev/null)"
}

expect_eq "a zero: true function is stored" 201 "$(apply on true 1s img:1)"
expect_eq "a zero: false function is stored" 201 "$(apply off false 1s img:1)"
check "their services are created at min" wait_for 20 bash -c "[ \"\$(curl -s $SWARM/services/on | jq .Spec.Mode.Replicated.Replicas)\" = 1 ] && [ \"\$(curl -s $SWARM/services/off | jq .Spec.Mode.Replicated.Replicas)\" = 2 ]"

# idle
expect_eq "FunctionIdle scales the zero: true function" "200 1" "$(alert FunctionIdle firing on t1)"
expect_eq "to 0" 0 "$(replicas on)"
expect_eq "FunctionIdle on zero: false scales nothing" "200 0" "$(alert FunctionIdle firing off t1)"
expect_eq "which keeps min" 2 "$(replicas off)"
check "and the controller says why" grep -q 'msg=alert_ignored function=off idle=1 status=firing why="idle, but the spec says zero: false"' "$T_DIR/ctl.log"
alert FunctionIdle firing off t1 >/dev/null
expect_eq "the ignore is logged at info once per incident" 1 "$(grep -c 'level=info .*msg=alert_ignored function=off' "$T_DIR/ctl.log")"

# the reconcile keeps 0
sleep 2.5 # two resyncs
expect_eq "resyncs keep 0 (not repaired to min)" 0 "$(replicas on)"
expect_eq "a spec change is applied" 200 "$(apply on true 1s img:2)"
check "with the new image" wait_for 10 bash -c "[ \"\$(curl -s $SWARM/services/on | jq -r .Spec.TaskTemplate.ContainerSpec.Image)\" = img:2 ]"
expect_eq "and replicas still 0" 0 "$(replicas on)"

# a scale from zero (the gateway's call), then Alertmanager repeats the incident
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "${AUTH[@]}" --data '{"serviceName":"on","replicas":1}' "$CTL/system/scale-function/on")
expect_eq "the gateway's scale from zero" "200 1" "$code $(replicas on)"
expect_eq "a repeat of the same idle incident is deduplicated" "200 0" "$(alert FunctionIdle firing on t1)"
expect_eq "so the scale from zero stands" 1 "$(replicas on)"
expect_eq "the idle resolve does nothing" "200 0" "$(alert FunctionIdle resolved on t1)"
expect_eq "replicas stay 1" 1 "$(replicas on)"

# a new idle incident; then the load alert's late resolve, then load again
expect_eq "a new idle incident scales to 0 again" "200 1" "$(alert FunctionIdle firing on t2)"
expect_eq "to 0" 0 "$(replicas on)"
expect_eq "a late resolve of the load alert scales nothing" "200 0" "$(alert APIHighInvocationRate resolved on t0)"
expect_eq "the function stays at 0" 0 "$(replicas on)"
expect_eq "load at 0 steps up from min" "200 1" "$(alert APIHighInvocationRate firing on t3)"
expect_eq "1 + ceil(4 * 50 / 100) = 3" 3 "$(replicas on)"
expect_eq "its resolve returns to min" "200 1" "$(alert APIHighInvocationRate resolved on t3)"
expect_eq "1" 1 "$(replicas on)"
expect_eq "zero: false functions resolve to min as before" "200 1" "$(alert APIHighInvocationRate resolved off t3)"

# the cooldown of a step up holds an idle scale down
expect_eq "a 30s cooldown" 200 "$(apply on true 30s img:2)"
check "is read by the controller" wait_for 10 bash -c "grep -q 'function=on' '$T_DIR/ctl.log'"
sleep 1.5 # the cached scale settings follow the write on the next resync
expect_eq "load steps up" "200 1" "$(alert APIHighInvocationRate firing on t4)"
expect_eq "an idle alert right after is held by the cooldown" "200 0" "$(alert FunctionIdle firing on t5)"
expect_eq "replicas stay up" 3 "$(replicas on)"

# a longer idle time for one function (the OpenFaaS label), counted from the
# alert's startsAt minus the rule's window (--idle-window 2s here)
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "${AUTH[@]}" --data \
	'{"service":"long","image":"img:1","labels":{"com.openfaas.scale.zero":"true","com.openfaas.scale.zero-duration":"5s"}}' \
	"$CTL/system/functions")
expect_eq "a function with com.openfaas.scale.zero-duration: 5s is deployed" 202 "$code"
expect_eq "which is its scale.zeroDuration" '"5s"' "$(curl -s "$CTL/apis/faas/v1/functions/long" | jq -c .spec.scale.zeroDuration)"
check "its service is made" wait_for 10 bash -c "[ \"\$(curl -s $SWARM/services/long | jq .Spec.Mode.Replicated.Replicas)\" = 1 ]"
starts=$(date -u +%Y-%m-%dT%H:%M:%SZ)
expect_eq "idle for the window only (2-3 s of 5 s): left alone" "200 0" "$(alert FunctionIdle firing long "$starts")"
expect_eq "it keeps its replica" 1 "$(replicas long)"
sleep 3.5
expect_eq "the same incident repeated once idle 5 s: scaled" "200 1" "$(alert FunctionIdle firing long "$starts")"
expect_eq "to 0" 0 "$(replicas long)"

expect_eq "a malformed alert is 400" "400 " "$(curl -s -o /dev/null -w '%{http_code} ' -X POST "${AUTH[@]}" --data '{"alerts":{}}' "$CTL/alerts")"
check "the controller is alive" curl -fs -o /dev/null "$CTL/healthz"
check "no sanitizer report or crash" bash -c "! grep -Eq 'AddressSanitizer|runtime error' '$T_DIR/ctl.log'"
