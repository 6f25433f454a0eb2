#!/usr/bin/env bash
# The autoscaler end to end on loopback: the real controller against
# fake_swarm polls two real gateways (static discovery, real fwatchdog
# replicas of a function that sleeps) and a third address where nothing
# answers. Concurrent requests on both gateways raise the desired replicas
# within about two seconds, counting both gateways' load; once the load
# stops they stay a whole (shortened) stable window, then come back to min.
# A function that says metric: alerts is left alone. GET /_/concurrency and
# POST /_/starting/NAME want the controller's token; the controller tells
# the gateways about each scale-up.
source "$FX_ROOT/tests/lib.sh"
W=$BIN/fwatchdog
[ -x "$W" ] || { t_fail "bin/fwatchdog is built"; exit 1; }

echo "as-token" >"$T_DIR/token"
wd() { # NAME: a watchdog whose function sleeps 4 s
	mkdir -p "$T_DIR/$1.tmp"
	start_server "$1" env TMPDIR="$T_DIR/$1.tmp" port=0 fprocess="sleep 4" exec_timeout=10s "$W"
}
wd nap1 || exit 1; N1=$PORT
wd nap2 || exit 1; N2=$PORT
table="nap=127.0.0.1:$N1,127.0.0.1:$N2;quiet=127.0.0.1:$N1"
gw() { # NAME
	start_server "$1" env bind=127.0.0.1 port=0 discovery=static static_functions="$table" \
		controller_url= controller_token_file="$T_DIR/token" basic_auth=false "$BIN/faas-gateway"
}
gw gw1 || exit 1; G1=http://127.0.0.1:$PORT
gw gw2 || exit 1; G2=http://127.0.0.1:$PORT

expect_eq "GET /_/concurrency without the token is 401" 401 \
	"$(curl -s -o /dev/null -w '%{http_code}' "$G1/_/concurrency")"
expect_eq "with a wrong token 401" 401 \
	"$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer nope' "$G1/_/concurrency")"
body=$(curl -s -H 'Authorization: Bearer as-token' "$G1/_/concurrency")
expect_eq "with the token: every function, nothing in flight" '[["nap",0,0,0],["quiet",0,0,0]]' \
	"$(jq -c '[.functions[] | [.name, .inflight, .inflight_us, .requests]] | sort' <<<"$body")"
expect_match "and the gateway's clock" '^[0-9]+$' "$(jq -r .time_us <<<"$body")"
post_starting() { # GATEWAY NAME [curl args]: the status
	curl -s -o /dev/null -w '%{http_code}' -X POST "${@:3}" "$1/_/starting/$2"
}
expect_eq "POST /_/starting/NAME without the token is 401" 401 "$(post_starting "$G1" nap)"
expect_eq "with it 202" 202 "$(post_starting "$G1" nap -H 'Authorization: Bearer as-token')"
expect_eq "a function it does not know: 404" 404 \
	"$(post_starting "$G1" nope -H 'Authorization: Bearer as-token')"
expect_eq "GET: 405" 405 "$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer as-token' "$G1/_/starting/nap")"

start_server swarm "$TOOLS/fake_swarm" || exit 1
SWARM=http://127.0.0.1:$PORT
start_server ctl env DOCKER_HOST="tcp://127.0.0.1:$PORT" "$BIN/faas-controller" --port 0 \
	--bind 127.0.0.1 --token-file "$T_DIR/token" --resync 1s --network as-net \
	--gateway-urls "$G1,$G2,http://127.0.0.1:1" --autoscale-interval 1s || exit 1
CTL=http://127.0.0.1:$PORT
AUTH=(-H "Authorization: Bearer as-token")

# The polls of a gateway reuse one kept-alive connection: the controller's
# connection to G1 (its local port) is the same three polls later.
g1_conns() { ss -Htn state established "( dport = :${G1##*:} )" | awk '{print $3}' | sort; }
has_g1_conn() { [ -n "$(g1_conns)" ]; }
check "the controller keeps a connection to a gateway" wait_for 5 has_g1_conn
c1=$(g1_conns)
sleep 3
same_g1_conn() { [ -n "$c1" ] && [ "$c1" = "$(g1_conns)" ]; }
check "polls each second reuse it (no new connection per poll)" same_g1_conn

apply() { # NAME SCALE
	printf 'apiVersion: faas/v1\nkind: Function\nmetadata: {name: %s}\nspec:\n  image: img:1\n  scale: %s\n' "$1" "$2" |
		curl -s -o /dev/null -w '%{http_code}' -X PUT "${AUTH[@]}" --data-binary @- "$CTL/apis/faas/v1/functions/$1"
}
replicas() { curl -s "$SWARM/services/$1" | jq -r '.Spec.Mode.Replicated.Replicas // "none"'; }
is() { [ "$(replicas "$1")" = "$2" ]; }
at_least() { [ "$(replicas "$1")" -ge "$2" ] 2>/dev/null; }

expect_eq "nap: 1 in flight per replica, 6 s stable and 2 s panic windows" 201 \
	"$(apply nap '{min: 1, max: 10, target: 1, window: 6s, panicWindow: 2s}')"
expect_eq "quiet: metric alerts" 201 "$(apply quiet '{min: 1, max: 10, metric: alerts}')"
check "their services run at min" wait_for 10 bash -c "[ \"\$(curl -s $SWARM/services/nap | jq .Spec.Mode.Replicated.Replicas)\" = 1 ] && [ \"\$(curl -s $SWARM/services/quiet | jq .Spec.Mode.Replicated.Replicas)\" = 1 ]"
check "a gateway that does not answer is skipped and logged" wait_for 5 \
	grep -q 'msg=autoscale_gateway_skipped gateway=http://127.0.0.1:1 ' "$T_DIR/ctl.log"
sleep 7 # a stable window of idle samples: the autoscaler has seen nap at rest
expect_eq "nap at rest stays at min" 1 "$(replicas nap)"

# 3 requests of 4 s on each gateway: 6 in flight, 6 replicas wanted.
t0=$SECONDS
load=()
for g in "$G1" "$G2"; do
	for _ in 1 2 3; do
		curl -s -m 10 -o /dev/null "$g/function/nap" &
		load+=("$!")
	done
done
T_PIDS+=("${load[@]}")
check "the desired replicas go up within 2 s" wait_for 2 at_least nap 2
check "counting both gateways' load: more than one gateway's 3, within 3 s" wait_for 3 at_least nap 4
check "6 in flight over both gateways: 6 replicas" wait_for 4 is nap 6
m=$(curl -s "$CTL/metrics")
expect_match "the metrics say panic, and why" 'faas_controller_autoscale_decisions_total\{reason="panic_up"\} [1-9]' "$m"
expect_match "the summed concurrency is a metric" 'faas_controller_autoscale_concurrency\{function_name="nap"\} [1-6]' "$m"
expect_match "the desired replicas too" 'faas_controller_autoscale_desired_replicas\{function_name="nap"\} [2-6]' "$m"
check "the controller told both gateways" wait_for 3 bash -c \
	"[ \$(grep -c 'msg=replicas_starting function=nap' '$T_DIR/gw1.log') -ge 2 ] && grep -q 'msg=replicas_starting function=nap' '$T_DIR/gw2.log'"
check "and the change is logged with its reason" grep -Eq 'msg=scaled function=nap replicas=[2-6] previous=1 source=autoscaler reason=panic_up metric=concurrency' "$T_DIR/ctl.log"
wait "${load[@]}"
t_end=$SECONDS
expect_eq "no scale-down while the load lasts" 6 "$(replicas nap)"
check "the load took about 4 s" test $((t_end - t0)) -le 8
body=$(curl -s -H 'Authorization: Bearer as-token' "$G1/_/concurrency")
check "gateway 1 integrated its load: 3 requests of 4 s, 12 request-seconds" \
	test "$(jq '.functions[] | select(.name=="nap") | .inflight_us / 1000000 | floor' <<<"$body")" -ge 11 -a \
	"$(jq '.functions[] | select(.name=="nap") | .inflight_us / 1000000 | floor' <<<"$body")" -le 13

# Down once the stable window (6 s) holds no busy second, and at once.
check "back to min after the stable window" wait_for 20 is nap 1
check "not before: 4 s or more after the load" test $((SECONDS - t_end)) -ge 4
check "the scale-down is logged" grep -q 'msg=scaled function=nap replicas=1 previous=[2-6] source=autoscaler reason=down' "$T_DIR/ctl.log"
expect_eq "the metric: alerts function was left alone" 1 "$(replicas quiet)"
check "and the autoscaler does not list it" bash -c "! curl -s $CTL/metrics | grep -q 'function_name=\"quiet\"'"
body=$(curl -s -H 'Authorization: Bearer as-token' "$G1/_/concurrency")
expect_eq "gateway 1 counted its 3 requests" 3 "$(jq '.functions[] | select(.name=="nap") | .requests' <<<"$body")"
check "no sanitizer report or crash" bash -c "! grep -Eq 'AddressSanitizer|runtime error' '$T_DIR'/*.log"
