#!/usr/bin/env bash
# The controller's API without a Docker engine (DOCKER_HOST points at a socket
# that does not exist): validation, auth, caps and bad input answer at once;
# whatever needs Docker answers a clear 503; the process never crashes.
# shellcheck source=tests/lib.sh
source "$(dirname "$0")/../lib.sh"

tok=$T_DIR/token
echo "s3cret-token" >"$tok"
export DOCKER_HOST=unix://$T_DIR/no-such-docker.sock

start_server ctl "$BIN/faas-controller" --port 0 --bind 127.0.0.1 --token-file "$tok" || exit 1
base=http://127.0.0.1:$PORT
auth=(-H "Authorization: Bearer s3cret-token")

# req METHOD PATH [curl args...]: sets CODE and BODY.
req() {
	local m=$1 p=$2
	shift 2
	BODY=$(curl -s -o - -w '\n%{http_code}' -X "$m" "$@" "$base$p")
	CODE=${BODY##*$'\n'}
	BODY=${BODY%$'\n'*}
}

fn='apiVersion: faas/v1
kind: Function
metadata:
  name: echo
spec:
  image: faas/echo:1
'

req GET /healthz
expect_eq "healthz answers without Docker" 200 "$CODE"
req GET /metrics
expect_match "metrics in Prometheus text" 'faas_controller_reconciles_total [0-9]+' "$BODY"
expect_match "metrics have the reconcile histogram" 'faas_controller_reconcile_duration_seconds_bucket' "$BODY"

req PUT /apis/faas/v1/functions/echo --data-binary "$fn"
expect_eq "PUT without a token is 401" 401 "$CODE"
req PUT /apis/faas/v1/functions/echo -H "Authorization: Bearer wrong" --data-binary "$fn"
expect_eq "PUT with a wrong token is 401" 401 "$CODE"
req POST /alerts -H "Authorization: Bearer s3cret-token-and-more" --data '{"alerts":[]}'
expect_eq "a token with the right prefix is still 401" 401 "$CODE"
req DELETE /apis/faas/v1/functions/echo
expect_eq "DELETE without a token is 401" 401 "$CODE"

bad='apiVersion: faas/v1
kind: Function
metadata:
  name: Bad_Name
spec:
  image: faas/echo:1
  privileged: true
'
req PUT /apis/faas/v1/functions/echo "${auth[@]}" -H 'Content-Type: application/yaml' --data-binary "$bad"
expect_eq "invalid YAML is 400" 400 "$CODE"
expect_eq "the error names line, column and field" \
	"4:9: metadata.name: \"Bad_Name\" is not a DNS-1123 label (lower-case letters, digits and '-', starting and ending with a letter or digit, at most 63)" \
	"$(jq -r .error <<<"$BODY")"
expect_eq "every problem is in details" 2 "$(jq '.details | length' <<<"$BODY")"
expect_eq "details are structured" "spec.privileged 7 3" "$(jq -r '.details[1] | "\(.field) \(.line) \(.column)"' <<<"$BODY")"

req PUT /apis/faas/v1/functions/other "${auth[@]}" --data-binary "$fn"
expect_eq "a name that differs from the path is 409" 409 "$CODE"
req PUT /apis/faas/v1/functions/Not_A_Name "${auth[@]}" --data-binary "$fn"
expect_eq "a path name that is not a DNS label is 400" 400 "$CODE"

req PUT /apis/faas/v1/functions/echo "${auth[@]}" -H 'Content-Type: application/json' \
	--data '{"apiVersion":"faas/v1","kind":"Function","metadata":{"name":"echo"},"spec":{"image":"x","scale":{"max":"9"}}}'
expect_eq "JSON with a wrong type is 400" 400 "$CODE"
expect_eq "JSON errors name the field" 'spec.scale.max: expected an integer, got a string "9"' "$(jq -r .error <<<"$BODY")"

two="$fn---
$fn"
req PUT /apis/faas/v1/functions/echo "${auth[@]}" --data-binary "$two"
expect_eq "two documents in one PUT is 400" 400 "$CODE"

for body in '' ' ' '{' '[1,2]' 'null' $'\x00\x01\x02' '*alias' 'a: [' '"just a string"' 'kind: Deployment'; do
	req PUT /apis/faas/v1/functions/echo "${auth[@]}" --data-binary "$body"
	[ "$CODE" = 400 ] || t_fail "garbage body '$body' is 400" "got $CODE"
done
t_pass "garbage bodies are 400"

head -c 2000000 /dev/zero | tr '\0' 'a' >"$T_DIR/huge"
req PUT /apis/faas/v1/functions/echo "${auth[@]}" --data-binary @"$T_DIR/huge"
expect_eq "a body over the cap is 413" 413 "$CODE"

req PUT /apis/faas/v1/functions/echo "${auth[@]}" --data-binary "$fn"
expect_eq "a valid PUT without Docker is 503" 503 "$CODE"
expect_match "and says Docker is not reachable" 'Docker daemon not reachable at unix://' "$(jq -r .error <<<"$BODY")"
req PUT '/apis/faas/v1/functions/echo?dryRun=true' "${auth[@]}" --data-binary "$fn"
expect_eq "dryRun without Docker is 503" 503 "$CODE"
req GET /apis/faas/v1/functions
expect_eq "list without Docker is 503" 503 "$CODE"
expect_match "with a JSON error" '^\{"error":"Docker daemon not reachable' "$BODY"
req GET /apis/faas/v1/functions/echo
expect_eq "get without Docker is 503" 503 "$CODE"
req GET /system/functions
expect_eq "provider list without Docker is 503" 503 "$CODE"
req DELETE /apis/faas/v1/functions/echo "${auth[@]}"
expect_eq "delete without Docker is 503" 503 "$CODE"

req POST /alerts "${auth[@]}" --data 'not json'
expect_eq "a malformed alert payload is 400 (Alertmanager does not retry)" 400 "$CODE"
req POST /system/alert "${auth[@]}" --data ''
expect_eq "an empty alert payload is 400" 400 "$CODE"
req POST /alerts "${auth[@]}" --data '{"version":"4","alerts":[{"status":"firing","labels":{"alertname":"x"}}],"extra":{"y":1}}'
expect_eq "alerts without function_name are ignored: 200" 200 "$CODE"
req POST /alerts "${auth[@]}" --data '{"version":"4","alerts":[{"status":"firing","labels":{"function_name":"echo"},"fingerprint":"f","startsAt":"2026-11-26T10:00:00Z"}]}'
expect_eq "an alert that needs Docker is 503 (transient: Alertmanager retries)" 503 "$CODE"

req POST /system/scale-function/echo "${auth[@]}" --data '{"serviceName":"echo","replicas":"two"}'
expect_eq "scale with a string is 400" 400 "$CODE"
req POST /system/scale-function/echo "${auth[@]}" --data '{"serviceName":"echo","replicas":-1}'
expect_eq "scale with a negative count is 400" 400 "$CODE"
req POST /system/scale-function/echo "${auth[@]}" --data '{"serviceName":"other","replicas":1}'
expect_eq "scale with another serviceName is 400" 400 "$CODE"
req POST /system/scale-function/echo "${auth[@]}" --data '{"serviceName":"echo","replicas":1}'
expect_eq "scale without Docker is 503" 503 "$CODE"

req POST /system/functions "${auth[@]}" --data '{"service":"Bad_Name","image":"x"}'
expect_eq "an OpenFaaS deployment with a bad name is 400" 400 "$CODE"
req GET /nope
expect_eq "unknown route is 404" 404 "$CODE"
req POST /apis/faas/v1/functions "${auth[@]}" --data '{}'
expect_eq "wrong method is 405" 405 "$CODE"
req GET /system/logs
expect_eq "logs without a name is 400" 400 "$CODE"
req GET /system/info
expect_match "info names the provider" '"provider":"faas-controller"' "$BODY"

check "the controller is still running" kill -0 "$PID"
check "no crash or sanitizer report in the log" bash -c "! grep -Eq 'AddressSanitizer|runtime error|Segmentation' '$T_DIR/ctl.log'"

# Configuration errors exit 2 with a message.
"$BIN/faas-controller" --port abc --token-file "$tok" 2>"$T_DIR/e1"
expect_eq "a bad port exits 2" 2 "$?"
"$BIN/faas-controller" --port 0 --token-file "$T_DIR/missing" 2>"$T_DIR/e2"
expect_eq "a missing token file exits 2" 2 "$?"
expect_match "and says so" 'no_token' "$(cat "$T_DIR/e2")"
DOCKER_HOST=ftp://x "$BIN/faas-controller" --port 0 --token-file "$tok" 2>"$T_DIR/e3"
expect_eq "a bad DOCKER_HOST exits 2" 2 "$?"
"$BIN/faas-controller" --help >"$T_DIR/help"
expect_match "--help lists the settings" 'token_file' "$(cat "$T_DIR/help")"
