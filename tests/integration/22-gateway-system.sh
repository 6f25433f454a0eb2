#!/usr/bin/env bash
# Gateway control path: /system/* and /apis/* behind basic auth, forwarded to
# the controller with its bearer token; invocationCount filled in; streaming
# (/system/logs); the function registry polled from the controller (404 for
# unknown names, 503 for no replicas, scale from zero).
# The controller here is tests/tools/fake_controller (docs/api.md, no Docker);
# replicas are real fwatchdog processes.
source "$FX_ROOT/tests/lib.sh"
W=$BIN/fwatchdog
# Until the watchdog is part of the tree these tests are reported as skipped
# (never passed); once watchdog/main.c exists, a missing binary is a failure.
if [ ! -f "$FX_ROOT/watchdog/main.c" ] && [ -z "${GW_TEST_WATCHDOG:-}" ]; then
	t_skip "gateway with real watchdogs" "watchdog/ not in the tree yet"
	exit 0
fi
[ -x "$W" ] || { t_fail "bin/fwatchdog is built"; exit 1; }
code() { curl -s -o /dev/null -w '%{http_code}' "$@"; }

mkdir -p "$T_DIR/echo.tmp" "$T_DIR/idle.tmp"
start_server echo env TMPDIR="$T_DIR/echo.tmp" port=0 fprocess="echo hi" "$W" || exit 1
ECHO=$PORT
start_server idle env TMPDIR="$T_DIR/idle.tmp" port=0 fprocess="echo awake" "$W" || exit 1
IDLE=$PORT

cat >"$T_DIR/functions.json" <<'EOF'
[{"name":"echo","namespace":"openfaas-fn","image":"x","replicas":1,"availableReplicas":1},
 {"name":"cold","image":"x","replicas":0,"availableReplicas":0},
 {"name":"idle","image":"x","replicas":0,"availableReplicas":0,
  "labels":{"com.openfaas.scale.zero":"true"}}]
EOF
start_server ctl env port=0 functions_file="$T_DIR/functions.json" token=tok123 \
	scale_delay_ms=500 "$TOOLS/fake_controller" || exit 1
CTL=$PORT CTL_PID=$PID

printf 'tok123\n' >"$T_DIR/token"
printf 'admin' >"$T_DIR/user"
printf 'pw\n' >"$T_DIR/pass"
start_server gw env bind=127.0.0.1 port=0 controller_url="http://127.0.0.1:$CTL" \
	controller_token_file="$T_DIR/token" basic_auth_user_file="$T_DIR/user" \
	basic_auth_password_file="$T_DIR/pass" discovery=static \
	static_functions="echo=127.0.0.1:$ECHO;cold=127.0.0.1:$ECHO;idle=127.0.0.1:$IDLE;ghost=127.0.0.1:$ECHO" \
	registry_interval=30s "$BIN/faas-gateway" || exit 1
G=http://127.0.0.1:$PORT
A=(-u admin:pw)

# ---- basic auth on /system/* and /apis/*
expect_eq "/system/functions without credentials: 401" 401 "$(code "$G/system/functions")"
check "401 asks for basic auth" bash -c "curl -s -D - -o /dev/null '$G/system/functions' | grep -qi '^WWW-Authenticate: Basic'"
expect_eq "/system/functions with a wrong password: 401" 401 "$(code -u admin:nope "$G/system/functions")"
expect_eq "/apis/ without credentials: 401" 401 "$(code "$G/apis/faas/v1/functions")"
expect_eq "/system/functions with credentials: 200" 200 "$(code "${A[@]}" "$G/system/functions")"
expect_eq "/function/* stays open" hi "$(curl -s "$G/function/echo")"
# OpenFaaS: /function/NAME.NAMESPACE, the namespace the controller names
expect_eq "/function/echo.openfaas-fn: the same function" hi "$(curl -s "$G/function/echo.openfaas-fn")"
expect_eq "/function/echo.openfaas-fn/a/path?q: path and query pass" hi "$(curl -s "$G/function/echo.openfaas-fn/a/path?q=1")"
b=$(curl -s -w ' %{http_code}' "$G/function/echo.other-ns")
expect_match "/function/echo.other-ns: another namespace's, 404" '"error":"function not found".* 404$' "$b"

# ---- forwarded with the bearer token, not the user's credentials; method, path, query, body pass
out=$(curl -s "${A[@]}" -X PUT -H 'Content-Type: application/yaml' --data-binary 'kind: Function' \
	"$G/apis/faas/v1/functions/echo?dryRun=true")
expect_match "controller got the bearer token" '"authorization":"Bearer tok123"' "$out"
expect_match "method passes" '"method":"PUT"' "$out"
expect_match "path and query pass" '"path":"\\/apis\\/faas\\/v1\\/functions\\/echo\?dryRun=true"' "$out"
expect_match "body passes" '"body":"kind: Function"' "$out"
expect_eq "scale through the gateway is authorised by the token" 202 \
	"$(code "${A[@]}" -d '{"serviceName":"cold","replicas":0}' "$G/system/scale-function/cold")"

# ---- invocationCount from the gateway's counters
for _ in 1 2 3 4 5; do curl -s -o /dev/null "$G/function/echo"; done
list=$(curl -s "${A[@]}" "$G/system/functions")
expect_match "invocationCount of echo = 8 in /system/functions" '"name":"echo"[^}]*"invocationCount":8' "$list"
one=$(curl -s "${A[@]}" "$G/system/function/echo")
expect_match "invocationCount in /system/function/echo" '"invocationCount":8' "$one"

# ---- streaming from the controller: the first line arrives before the last is written
t=$(curl -s "${A[@]}" -o "$T_DIR/logs" -w '%{time_starttransfer} %{time_total}' "$G/system/logs?follow=true")
expect_eq "logs: three lines" 3 "$(wc -l <"$T_DIR/logs")"
check "logs stream (first byte $t)" awk -v t="$t" 'BEGIN { split(t, a, " "); exit !(a[1] < 0.3 && a[2] >= 0.35) }'

# ---- the registry: unknown 404, no replicas 503, scale from zero
b=$(curl -s -w ' %{http_code}' "$G/function/ghost")
expect_match "in the static table but not in the controller: 404" '"error":"function not found".* 404$' "$b"
h=$(curl -s -D - -o /dev/null "$G/function/cold")
expect_match "no replicas: 503" '^HTTP/1.1 503' "$h"
expect_match "no replicas: Retry-After" 'Retry-After: ' "$h"
start=$SECONDS
expect_eq "scale from zero: the request waits and gets through" awake "$(curl -s -m 10 "$G/function/idle")"
check "scale from zero asked the controller for 1 replica" grep -q 'msg=scale name=idle replicas=1' "$T_DIR/ctl.log"
check "scale from zero took under 5 s" test $((SECONDS - start)) -lt 5

# A function added to the controller is known within a second, long before the
# next scheduled poll (30 s here): a miss makes the gateway poll (at most once a second).
sed -i 's/^\[/[{"name":"ghost","replicas":1,"availableReplicas":1},/' "$T_DIR/functions.json"
ghost() { [ "$(curl -s "$G/function/ghost")" = hi ]; }
check "new function known without waiting for the scheduled poll" wait_for 3 ghost
m=$(curl -s "$G/metrics")
expect_match "service_count from the controller" 'gateway_service_count\{function_name="echo"\} 1' "$m"
expect_match "service_count of a scaled-to-zero function" 'gateway_service_count\{function_name="cold"\} 0' "$m"

# ---- the controller down: /system/* 502, known functions keep working
kill "$CTL_PID"
wait "$CTL_PID" 2>/dev/null
expect_eq "controller down: /system/functions 502" 502 "$(code "${A[@]}" "$G/system/functions")"
expect_eq "controller down: functions still answer" hi "$(curl -s "$G/function/echo")"

# ---- the real controller behind the gateway (no Docker: it validates and
# checks the token, which is what forwarding and auth need)
if [ -x "$BIN/faas-controller" ]; then
	DOCKER_HOST=unix://$T_DIR/no-docker.sock start_server rctl "$BIN/faas-controller" \
		--port 0 --bind 127.0.0.1 --token-file "$T_DIR/token" || exit 1
	RCTL=$PORT
	printf 'wrong\n' >"$T_DIR/badtoken"
	start_server gw2 env bind=127.0.0.1 port=0 controller_url="http://127.0.0.1:$RCTL" \
		controller_token_file="$T_DIR/token" basic_auth_user_file="$T_DIR/user" \
		basic_auth_password_file="$T_DIR/pass" discovery=static static_functions="echo=127.0.0.1:$ECHO" \
		"$BIN/faas-gateway" || exit 1
	G2=http://127.0.0.1:$PORT
	start_server gw3 env bind=127.0.0.1 port=0 controller_url="http://127.0.0.1:$RCTL" \
		controller_token_file="$T_DIR/badtoken" basic_auth_user_file="$T_DIR/user" \
		basic_auth_password_file="$T_DIR/pass" discovery=static static_functions="echo=127.0.0.1:$ECHO" \
		"$BIN/faas-gateway" || exit 1
	G3=http://127.0.0.1:$PORT
	bad=$'apiVersion: faas/v1\nkind: Function\nmetadata:\n  name: Bad_Name\nspec:\n  image: x\n'
	expect_eq "real controller: no basic auth at the gateway: 401" 401 \
		"$(code -X PUT --data-binary "$bad" "$G2/apis/faas/v1/functions/echo")"
	out=$(curl -s -w ' %{http_code}' -u admin:pw -X PUT -H 'Content-Type: application/yaml' \
		--data-binary "$bad" "$G2/apis/faas/v1/functions/echo")
	expect_match "real controller: token accepted, its validation error comes back (400)" \
		'metadata.name.* 400$' "$out"
	expect_eq "real controller: a gateway with the wrong token gets the controller's 401" 401 \
		"$(code -u admin:pw -X PUT -H 'Content-Type: application/yaml' --data-binary "$bad" "$G3/apis/faas/v1/functions/echo")"
	expect_eq "real controller: /system/info through the gateway" 200 \
		"$(code -u admin:pw "$G2/system/info")"
else
	t_fail "bin/faas-controller is built"
fi
