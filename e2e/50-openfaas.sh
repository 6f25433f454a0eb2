#!/usr/bin/env bash
# OpenFaaS compatibility on the platform that e2e/30 left running, through
# the gateway as faas-cli and CI scripts call it: /system/info and
# /system/namespaces; an of-watchdog-style image (faas/hello-http: its
# Dockerfile sets ENV mode=http and upstream_url, built FROM scratch by
# scripts/images.sh) deployed through /system/functions with nothing but
# its name and image, invoked as /function/NAME and /function/NAME.NAMESPACE;
# e2e/openfaas/stack.yml deployed through the same API (PUT, then POST on
# 404, as faas-cli deploy does); logs; scale to 0 and wake; a secret mounted
# and updated while requests flow (0 failed). Everything made here is named
# of-*, and removed.
source "$FX_ROOT/tests/lib.sh"
cd "$FX_ROOT" || exit 1

GW=http://127.0.0.1:${FAAS_PORT:-8080}
CONF=${XDG_CONFIG_HOME:-$HOME/.config}/faas
FNS=(of-hello of-stack-echo of-stack-http of-secret)

cleanup() {
	local f
	for f in "${FNS[@]}"; do
		curl -s -o /dev/null -u "$AUTH" -X DELETE -d "{\"functionName\":\"$f\"}" "$GW/system/functions"
	done
	wait_for 30 bash -c "[ -z \"\$(docker service ls -q --filter label=faas.function=of-secret)\" ]"
	curl -s -o /dev/null -u "$AUTH" -X DELETE -d '{"name":"of-e2e-key"}' "$GW/system/secrets"
	if grep -q "^fail $T_NAME" "$FX_RESULTS" 2>/dev/null; then
		mkdir -p "$FX_ARTIFACTS/50-openfaas"
		timeout 20 docker service logs --timestamps --since 10m faas_controller >"$FX_ARTIFACTS/50-openfaas/controller.log" 2>&1
		timeout 20 docker service logs --timestamps --since 10m faas_gateway >"$FX_ARTIFACTS/50-openfaas/gateway.log" 2>&1
	fi
	t_cleanup
}
trap cleanup EXIT

if ! scripts/up.sh >"$T_DIR/up.log" 2>&1; then
	echo "  scripts/up.sh failed: $(tail -n 1 "$T_DIR/up.log")"
fi
check "the gateway answers" wait_for 60 curl -fsS -o /dev/null "$GW/healthz"
user=$(sed -n 's/^user=//p' "$CONF/config" | tail -n 1)
pwfile=$(sed -n 's/^password_file=//p' "$CONF/config" | tail -n 1)
AUTH="$user:$(cat "$pwfile" 2>/dev/null)"
# api METHOD PATH [curl args]: sets CODE and BODY.
api() {
	local m=$1 p=$2
	shift 2
	BODY=$(curl -s -o - -w '\n%{http_code}' -u "$AUTH" -X "$m" "$@" "$GW$p")
	CODE=${BODY##*$'\n'}
	BODY=${BODY%$'\n'*}
}
env_of() { docker service inspect -f '{{json .Spec.TaskTemplate.ContainerSpec.Env}}' "$1" 2>/dev/null; }
for f in "${FNS[@]}"; do
	curl -s -o /dev/null -u "$AUTH" -X DELETE -d "{\"functionName\":\"$f\"}" "$GW/system/functions"
done
check "no of-* function is left from an earlier run" wait_for 30 bash -c "[ -z \"\$(docker service ls -q --filter name=of- )\" ]"

api GET /system/info
expect_eq "info: the commit the controller was built from" "$(git rev-parse HEAD 2>/dev/null || echo unknown)" "$(jq -r .version.sha <<<"$BODY")"
expect_eq "info: orchestration" swarm "$(jq -r .provider.orchestration <<<"$BODY")"
api GET /system/namespaces
expect_eq "namespaces" '["openfaas-fn"]' "$(jq -c . <<<"$BODY")"

# --- an image that says mode=http in its Dockerfile, deployed with only its name and image
HTTP_IMAGE=$(sed -n 's/^FAAS_HELLO_HTTP_IMAGE=//p' build/images.env)
ECHO_IMAGE=$(sed -n 's/^FAAS_ECHO_IMAGE=//p' build/images.env)
check "the image's Dockerfile sets mode=http and upstream_url" bash -c \
	"docker image inspect -f '{{json .Config.Env}}' '$HTTP_IMAGE' | grep -q '\"mode=http\".*\"upstream_url='"
api POST /system/functions -d "{\"service\":\"of-hello\",\"image\":\"$HTTP_IMAGE\"}"
expect_eq "POST /system/functions: 202" 202 "$CODE"
api GET /system/function/of-hello
expect_eq "its status at once: desired 1, namespace openfaas-fn" "1 openfaas-fn" "$(jq -r '"\(.replicas) \(.namespace)"' <<<"$BODY")"
hello() { curl -s --max-time 5 "$GW/function/$1" | grep -q 'an http-mode function'; }
check "it answers through its own http server (mode=http kept)" wait_for 60 hello of-hello
check "as /function/of-hello.openfaas-fn too" hello of-hello.openfaas-fn
expect_eq "another namespace's name: 404" 404 "$(curl -s -o /dev/null -w '%{http_code}' "$GW/function/of-hello.other")"
expect_eq "an invalid name: 404" 404 "$(curl -s -o /dev/null -w '%{http_code}' "$GW/function/.openfaas-fn")"
# (a function, not bash -c: a child shell does not know env_of)
no_watchdog_env() {
	local e
	e=$(env_of of-hello) && [ -n "$e" ] && ! grep -q 'mode=\|fprocess=\|_timeout=' <<<"$e"
}
check "the controller wrote no mode, fprocess or timeout into the service" no_watchdog_env

# --- logs
# (Docker's service logs lag a task's output: asked again for up to 20 s)
logs_ok() {
	api GET '/system/logs?name=of-hello&tail=-1&follow=false'
	[ "$CODE" = 200 ] && jq -e -s 'length > 0 and all(.[]; .name == "of-hello" and .namespace == "openfaas-fn" and (.instance | length) > 0)' <<<"$BODY" >/dev/null && return 0
	sleep 1
	return 1
}
if wait_for 20 logs_ok; then
	t_pass "logs: 200 with NDJSON Messages of of-hello"
else
	t_fail "logs: 200 with NDJSON Messages of of-hello" "last answer: $CODE $(head -c 600 <<<"$BODY" | tr '\n' ' ')"
fi
api GET '/system/logs?name=faas_gateway'
expect_eq "the gateway's own logs are not a function's: 400" 400 "$CODE"

# --- scale to 0 through the API, and the next request wakes it
api POST /system/scale-function/of-hello -d '{"serviceName":"of-hello","replicas":0}'
expect_eq "scale to 0: 200" "200 0" "$CODE $(jq -r .replicas <<<"$BODY")"
check "no replica runs" wait_for 30 bash -c "[ -z \"\$(docker ps -q --filter label=com.docker.swarm.service.name=of-hello)\" ]"
out=$(curl -s --max-time 40 -w '\n%{http_code}' "$GW/function/of-hello")
expect_match "the next request wakes it: 200" $'an http-mode function.*\n200$' "$out"

# --- stack.yml through the OpenFaaS API (what faas-cli deploy sends)
sed -e "s#IMAGE_ECHO#$ECHO_IMAGE#" -e "s#IMAGE_HTTP#$HTTP_IMAGE#" e2e/openfaas/stack.yml >"$T_DIR/stack.yml"
yq -c '.functions | to_entries[] | {service: .key, image: .value.image, namespace: "openfaas-fn",
	envProcess: .value.fprocess, envVars: .value.environment, labels: .value.labels,
	annotations: .value.annotations, secrets: .value.secrets, constraints: .value.constraints,
	limits: .value.limits, requests: .value.requests} | with_entries(select(.value != null))' \
	"$T_DIR/stack.yml" >"$T_DIR/deployments.ndjson"
expect_eq "stack.yml: two FunctionDeployments" 2 "$(grep -c . "$T_DIR/deployments.ndjson")"
while IFS= read -r d; do
	api PUT /system/functions --data-binary "$d"
	[ "$CODE" = 404 ] && api POST /system/functions --data-binary "$d"
	expect_eq "deploy $(jq -r .service <<<"$d") (PUT 404, then POST): 202" 202 "$CODE"
done <"$T_DIR/deployments.ndjson"
answers() { [ "$(curl -s --max-time 5 --data-binary "$2" "$GW/function/$1")" = "$2" ]; }
check "of-stack-echo answers (the image's fprocess=cat)" wait_for 60 answers of-stack-echo ping
check "of-stack-http answers (5Mi raised to Docker's minimum)" wait_for 60 hello of-stack-http
api GET /system/function/of-stack-http
expect_eq "its limits read back as written" '{"memory":"5Mi","cpu":"100m"}' "$(jq -c .limits <<<"$BODY")"
api GET /system/function/of-stack-echo
expect_eq "labels and annotations read back" '{"com.openfaas.scale.max":"3","com.openfaas.scale.min":"1","faas_function":"of-stack-echo"} {"topic":"e2e"}' \
	"$(jq -c -S .labels <<<"$BODY") $(jq -c -S .annotations <<<"$BODY")"

# --- a secret, mounted and updated while requests flow
api POST /system/secrets -d '{"name":"of-e2e-key","value":"one"}'
expect_eq "secret created: 201" 201 "$CODE"
api POST /system/functions -d "{\"service\":\"of-secret\",\"image\":\"$ECHO_IMAGE\",\"envProcess\":\"cat /var/openfaas/secrets/of-e2e-key\",\"secrets\":[\"of-e2e-key\"]}"
secret_is() { [ "$(curl -s --max-time 5 "$GW/function/of-secret")" = "$1" ]; }
check "the function reads the secret at /var/openfaas/secrets/of-e2e-key" wait_for 60 secret_is one
(
	fails=0 n=0
	end=$((SECONDS + 40))
	while [ $SECONDS -lt $end ]; do
		out=$(curl -s --max-time 10 -w ' %{http_code}' "$GW/function/of-secret")
		n=$((n + 1))
		[ "${out##* }" = 200 ] || fails=$((fails + 1))
		[ "${out% *}" = two ] && break
	done
	echo "$n $fails ${out% *}" >"$T_DIR/flow"
) &
flow=$!
sleep 1
api PUT /system/secrets -d '{"name":"of-e2e-key","value":"two"}'
expect_eq "secret updated: 200" 200 "$CODE"
wait "$flow"
read -r n fails last <"$T_DIR/flow"
expect_eq "requests during the update: none failed ($n sent), the new value arrives" "0 two" "$fails $last"
expect_eq "one version of the secret is left" 1 "$(docker secret ls -q --filter label=faas.secret=of-e2e-key | grep -c .)"
api DELETE /system/secrets -d '{"name":"of-e2e-key"}'
expect_eq "a secret in use cannot be deleted: 409" 409 "$CODE"
