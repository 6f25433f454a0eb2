#!/usr/bin/env bash
# Hostile bodies for the controller (no Docker engine: everything here must be
# refused before Docker is asked): OpenFaaS deployments with null or untyped
# scale labels (once a NULL dereference), JSON with trailing bytes or a key
# given twice, names and labels that belong to the platform, bad users, and
# alerts whose startsAt is not a time. The process never crashes.
# shellcheck source=tests/lib.sh
source "$(dirname "$0")/../lib.sh"

tok=$T_DIR/token
echo "s3cret-token" >"$tok"
export DOCKER_HOST=unix://$T_DIR/no-such-docker.sock
CTL_BIN=${CTL_BIN:-$BIN/faas-controller}

start_server ctl "$CTL_BIN" --port 0 --bind 127.0.0.1 --token-file "$tok" || exit 1
base=http://127.0.0.1:$PORT
auth=(-H "Authorization: Bearer s3cret-token")

# req METHOD PATH [curl args...]: sets CODE and BODY (CODE 000: no answer).
req() {
	local m=$1 p=$2
	shift 2
	BODY=$(curl -s -o - -w '\n%{http_code}' --max-time 5 -X "$m" "$@" "$base$p")
	CODE=${BODY##*$'\n'}
	BODY=${BODY%$'\n'*}
}
err() { jq -r '.error // empty' <<<"$BODY" 2>/dev/null; }
alive() { kill -0 "$PID" 2>/dev/null && [ "$(curl -s --max-time 2 "$base/healthz")" = ok ]; }

# ---- OpenFaaS deployment: scale labels
for k in zero min max factor; do
	req POST /system/functions "${auth[@]}" \
		--data "{\"service\":\"x\",\"image\":\"y\",\"labels\":{\"com.openfaas.scale.$k\":null}}"
	expect_eq "scale label $k: null is 400" 400 "$CODE"
	expect_match "  and says the label wants a string" "^labels\\.com\\.openfaas\\.scale\\.$k: expected a string" "$(err)"
	check "  the controller is still up" alive
done
req POST /system/functions "${auth[@]}" \
	--data '{"service":"x","image":"y","labels":{"com.openfaas.scale.min":{"a":1},"com.openfaas.scale.max":[1],"com.openfaas.scale.factor":5,"com.openfaas.scale.zero":true}}'
expect_eq "scale labels that are not strings are 400" 400 "$CODE"
expect_eq "  each is reported" 4 "$(jq '.details | length' <<<"$BODY")"
req POST /system/functions "${auth[@]}" \
	--data '{"service":"x","image":"y","labels":{"com.openfaas.scale.min":"5abc","com.openfaas.scale.zero":"yes"}}'
expect_eq "scale labels that are not numbers or booleans are 400" 400 "$CODE"
expect_eq "  both are reported" 2 "$(jq '.details | length' <<<"$BODY")"
req POST /system/functions "${auth[@]}" \
	--data '{"service":"x","image":"y","labels":{"com.openfaas.scale.min":"2","com.openfaas.scale.max":"1"}}'
expect_eq "typed scale labels reach the schema (max < min is 400)" 400 "$CODE"
expect_match "  with the schema's message" 'max \(1\) must be at least min \(2\)' "$(err)"
req POST /system/functions "${auth[@]}" \
	--data '{"service":"x","image":"y","labels":{"com.openfaas.scale.min":"2","com.openfaas.scale.zero":"true","team":"a"}}'
expect_eq "valid scale labels pass validation (then Docker is needed: 503)" 503 "$CODE"

# ---- strict JSON
req POST /system/functions "${auth[@]}" --data '{"service":"x","image":"y"}trailing'
expect_eq "trailing bytes after the JSON are 400" 400 "$CODE"
expect_match "  and say so" 'trailing data after the value' "$(err)"
req POST /system/functions "${auth[@]}" --data '{"service":"x","image":"y"}{"service":"z"}'
expect_eq "a second JSON value is 400" 400 "$CODE"
req POST /system/functions "${auth[@]}" --data '{"service":"x","image":"y","image":"z"}'
expect_eq "a key given twice is 400" 400 "$CODE"
expect_match "  and names it" 'duplicate key "image"' "$(err)"
req PUT /apis/faas/v1/functions/x "${auth[@]}" -H 'Content-Type: application/json' \
	--data '{"apiVersion":"faas/v1","kind":"Function","metadata":{"name":"x"},"spec":{"image":"y"},"spec":{"image":"z"}}'
expect_eq "a Function in JSON with a key given twice is 400" 400 "$CODE"
expect_match "  and names it" 'duplicate key "spec"' "$(err)"
req PUT /apis/faas/v1/functions/x "${auth[@]}" -H 'Content-Type: application/json' \
	--data '{"apiVersion":"faas/v1","kind":"Function","metadata":{"name":"x"},"spec":{"image":"y"}} x'
expect_eq "a Function in JSON with trailing bytes is 400" 400 "$CODE"
req DELETE /system/functions "${auth[@]}" --data '{"functionName":"x","functionName":"y"}'
expect_eq "an OpenFaaS delete with a key given twice is 400" 400 "$CODE"
req POST /system/scale-function/x "${auth[@]}" --data '{"serviceName":"x","replicas":1}junk'
expect_eq "a scale request with trailing bytes is 400" 400 "$CODE"
req POST /system/secrets "${auth[@]}" --data '{"name":"a","value":"b","name":"c"}'
expect_eq "a secret with a key given twice is 400" 400 "$CODE"
req PUT /apis/faas/v1/functions/x "${auth[@]}" -H 'Content-Type: application/yaml' \
	--data-binary $'apiVersion: faas/v1\nkind: Function\nmetadata: {name: x}\nspec: {image: y, image: z}\n'
expect_eq "YAML with a key given twice is 400 too" 400 "$CODE"

# ---- the platform's names and labels, users
for n in gateway controller prometheus alertmanager; do
	req PUT "/apis/faas/v1/functions/$n" "${auth[@]}" -H 'Content-Type: application/yaml' \
		--data-binary "apiVersion: faas/v1
kind: Function
metadata: {name: $n}
spec: {image: faas/echo}
"
	expect_eq "a function named $n is 400" 400 "$CODE"
	expect_match "  and says why" "metadata.name: \"$n\" is reserved: the platform's own services" "$(err)"
done
req POST /system/functions "${auth[@]}" --data '{"service":"gateway","image":"y"}'
expect_eq "an OpenFaaS deployment named gateway is 400" 400 "$CODE"
req POST /system/functions "${auth[@]}" --data '{"service":"x","image":"y","labels":{"faas.network":"other"}}'
expect_eq "the label faas.network is reserved" 400 "$CODE"
expect_eq "  with the field named" "metadata.labels.faas.network: reserved for the controller" "$(err)"
req PUT /apis/faas/v1/functions/x "${auth[@]}" -H 'Content-Type: application/yaml' \
	--data-binary $'apiVersion: faas/v1\nkind: Function\nmetadata: {name: x}\nspec: {image: y, user: "0; id"}\n'
expect_eq "an invalid spec.user is 400" 400 "$CODE"
expect_match "  with the field named" '^4:[0-9]+: spec.user: "0; id" is not a user' "$(err)"
req PUT /apis/faas/v1/functions/x "${auth[@]}" -H 'Content-Type: application/yaml' \
	--data-binary $'apiVersion: faas/v1\nkind: Function\nmetadata: {name: x}\nspec: {image: y, user: "65534:65534"}\n'
expect_eq "a valid spec.user passes validation (then Docker is needed: 503)" 503 "$CODE"

# ---- alerts: startsAt must be a time (it keys the deduplication)
alert() { # STARTS
	req POST /alerts "${auth[@]}" \
		--data "{\"version\":\"4\",\"alerts\":[{\"status\":\"firing\",\"labels\":{\"function_name\":\"echo\"},\"fingerprint\":\"f\"$1}]}"
}
for s in ',"startsAt":"t1"' ',"startsAt":"2026-13-01T00:00:00Z"' ',"startsAt":""' ''; do
	alert "$s"
	expect_eq "an alert with startsAt '${s#*:}' does not scale (no Docker call: 200)" "200 0" \
		"$CODE $(jq -r .scaled <<<"$BODY" 2>/dev/null)"
done
check "  each is logged" grep -q 'msg=alert_ignored function=echo why="startsAt is missing or not an RFC 3339 time"' "$T_DIR/ctl.log"
alert ',"startsAt":"2026-11-26T10:00:00.5Z"'
expect_eq "an alert with a real startsAt goes on (needs Docker: 503)" 503 "$CODE"
req POST /alerts "${auth[@]}" --data '{"alerts":[]} {"alerts":[]}'
expect_eq "an alert payload with trailing bytes is 400" 400 "$CODE"

check "the controller never crashed" alive
