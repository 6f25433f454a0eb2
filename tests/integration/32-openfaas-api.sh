#!/usr/bin/env bash
# The OpenFaaS provider API of the real controller binary, against fake_swarm
# (an in-memory Docker Engine), with curl as OpenFaaS clients call it:
# namespaces, /system/info, scaling (0 included), logs, secret names. The
# JSON bodies are written from the faas-provider types (FunctionDeployment,
# ScaleServiceRequest, Secret, logs Message). docs/api.md has the table.
# shellcheck source=tests/lib.sh
source "$(dirname "$0")/../lib.sh"

start_server swarm "$TOOLS/fake_swarm" || exit 1
SWARM=http://127.0.0.1:$PORT
export DOCKER_HOST=tcp://127.0.0.1:$PORT
echo "of-token" >"$T_DIR/token"
start_server ctl "$BIN/faas-controller" --port 0 --bind 127.0.0.1 --token-file "$T_DIR/token" \
	--resync 1s --network of-net || exit 1
CTL=http://127.0.0.1:$PORT
AUTH=(-H "Authorization: Bearer of-token")

# req METHOD PATH [curl args...]: sets CODE and BODY.
req() {
	local m=$1 p=$2
	shift 2
	BODY=$(curl -s -o - -w '\n%{http_code}' -X "$m" "${AUTH[@]}" "$@" "$CTL$p")
	CODE=${BODY##*$'\n'}
	BODY=${BODY%$'\n'*}
}
replicas() { curl -s "$SWARM/services/$1" | jq -r '.Spec.Mode.Replicated.Replicas // "none"'; }

# ---- namespaces
req GET /system/namespaces
expect_eq "GET /system/namespaces: the default namespace" '200 ["openfaas-fn"]' "$CODE $(jq -c . <<<"$BODY")"
req GET '/system/functions?namespace=openfaas-fn'
expect_eq "?namespace=openfaas-fn is ours" 200 "$CODE"
req GET '/system/functions?namespace=team-a'
expect_eq "an unknown namespace: 404" 404 "$CODE"
expect_eq "which says what this install serves" \
	'namespace "team-a" not found (this install serves "openfaas-fn")' "$(jq -r .error <<<"$BODY")"
for p in '/system/function/x?namespace=x' '/system/secrets?namespace=x' '/system/logs?name=x&namespace=x'; do
	req GET "$p"
	expect_eq "GET $p: 404 for the namespace" 404 "$CODE"
done

# ---- /system/info: provider, orchestration, the release and the commit it was built from
req GET /system/info
expect_eq "info: provider and orchestration" "faas-controller swarm" \
	"$(jq -r '.provider.provider + " " + .provider.orchestration' <<<"$BODY")"
sha=$(git -C "$FX_ROOT" rev-parse HEAD 2>/dev/null || echo unknown)
expect_eq "info: version.sha is the build's commit" "$sha" "$(jq -r .version.sha <<<"$BODY")"
expect_eq "info: provider.version.sha too" "$sha" "$(jq -r .provider.version.sha <<<"$BODY")"
expect_match "info: version.release" '^[0-9]+\.[0-9]+\.[0-9]+$' "$(jq -r .version.release <<<"$BODY")"
expect_eq "info: arch is the machine's" "$(uname -m)" "$(jq -r .arch <<<"$BODY")"

# ---- a deploy in the JSON namespace field; status objects carry it
req POST /system/functions -d '{"service":"nodeinfo","image":"img:1","namespace":"team-a"}'
expect_eq "deploy into an unknown namespace: 404" 404 "$CODE"
req POST /system/functions -d '{"service":"nodeinfo","image":"img:1","namespace":"openfaas-fn"}'
expect_eq "deploy into openfaas-fn: 202" 202 "$CODE"
check "its service is made" wait_for 10 bash -c "[ \"\$(curl -s $SWARM/services/nodeinfo | jq .Spec.Mode.Replicated.Replicas)\" = 1 ]"
req GET /system/function/nodeinfo
expect_eq "FunctionStatus carries the namespace" openfaas-fn "$(jq -r .namespace <<<"$BODY")"
req GET /system/functions
expect_eq "so do the list's items" openfaas-fn "$(jq -r '.[0].namespace' <<<"$BODY")"
req GET /system/function/.openfaas-fn
expect_eq "an invalid name: 404" 404 "$CODE"

# ---- FunctionDeployment -> FunctionStatus round trips (fixtures: tests/data/openfaas)
D=$FX_ROOT/tests/data/openfaas
req PUT /system/functions --data-binary @"$D/deploy-ofwatchdog.json"
expect_eq "PUT (update) of a function that does not exist: 404" 404 "$CODE"
req POST /system/functions --data-binary @"$D/deploy-ofwatchdog.json"
expect_eq "POST of the of-watchdog deployment: 202" 202 "$CODE"
req GET /system/function/nodeinfo-http
expect_eq "replicas is the desired count at once (scale.min 2)" 2 "$(jq .replicas <<<"$BODY")"
expect_eq "the FunctionStatus reads back what was deployed" "$(jq -S . "$D/status-ofwatchdog.json")" \
	"$(jq -S 'del(.createdAt, .replicas, .availableReplicas)' <<<"$BODY")"
expect_match "createdAt is RFC 3339" '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}' "$(jq -r .createdAt <<<"$BODY")"
req GET /system/functions
expect_eq "the list's item is the same" "$(jq -S . "$D/status-ofwatchdog.json")" \
	"$(jq -S '.[] | select(.name == "nodeinfo-http") | del(.createdAt, .replicas, .availableReplicas)' <<<"$BODY")"
req POST /system/functions --data-binary @"$D/deploy-ofwatchdog.json"
expect_eq "POST of an existing function: 409" 409 "$CODE"
check "its service is made with 2 replicas" wait_for 10 bash -c "[ \"\$(curl -s $SWARM/services/nodeinfo-http | jq .Spec.Mode.Replicated.Replicas)\" = 2 ]"
env_of() { curl -s "$SWARM/services/$1" | jq -c '.Spec.TaskTemplate.ContainerSpec.Env | sort'; }
expect_eq "the service's env: what envVars and envProcess say, nothing more (the image's ENV stays)" \
	'["exec_timeout=30s","fprocess=node index.js","mode=http","upstream_url=http://127.0.0.1:3000","write_debug=true"]' \
	"$(env_of nodeinfo-http)"
expect_eq "5Mi is raised to Docker's minimum on the service only" 6291456 \
	"$(curl -s "$SWARM/services/nodeinfo-http" | jq .Spec.TaskTemplate.Resources.Limits.MemoryBytes)"
expect_eq "the labels reach the service as they are" '"2"' \
	"$(curl -s "$SWARM/services/nodeinfo-http" | jq -c '.Spec.Labels["com.openfaas.scale.min"]')"
jq '.image = "docker.io/functions/nodeinfo-http:v2" | del(.envVars)' "$D/deploy-ofwatchdog.json" >"$T_DIR/update.json"
req PUT /system/functions --data-binary @"$T_DIR/update.json"
expect_eq "PUT (update) of an existing function: 202" 202 "$CODE"
req GET /system/function/nodeinfo-http
expect_eq "the new image reads back" docker.io/functions/nodeinfo-http:v2 "$(jq -r .image <<<"$BODY")"
expect_eq "envVars no longer sent: absent" false "$(jq 'has("envVars")' <<<"$BODY")"
check "the service has no mode nor timeouts: the image's ENV applies" wait_for 10 bash -c "[ \"\$(curl -s $SWARM/services/nodeinfo-http | jq -c '.Spec.TaskTemplate.ContainerSpec.Env')\" = '[\"fprocess=node index.js\"]' ]"
req POST /system/functions --data-binary @"$D/deploy-minimal.json"
req GET /system/function/tiny
expect_eq "a minimal deployment reads back without envVars, limits, annotations" \
	"$(jq -S . "$D/status-minimal.json")" "$(jq -S 'del(.createdAt, .replicas, .availableReplicas)' <<<"$BODY")"
req POST /system/functions -d '{"service":"crash","image":"x","labels":{"com.openfaas.scale.zero":null}}'
expect_eq "a scale label that is null: 400, not a crash" 400 "$CODE"
req POST /system/functions -d '{"service":"bad","image":"x","limits":{"memory":"lots"}}'
expect_eq "a bad limit: 400 naming the field" "400 spec.limits.memory" "$CODE $(jq -r '.details[0].field' <<<"$BODY")"
for f in nodeinfo-http tiny; do req DELETE /system/functions -d "{\"functionName\":\"$f\"}"; done
expect_eq "DELETE: 202" 202 "$CODE"
req DELETE /system/functions -d '{"functionName":"tiny"}'
expect_eq "DELETE of a missing function: 404" 404 "$CODE"

# ---- scaling: the operator's count, 0 included; 0 stays (asleep), and is wakeable
req POST /system/scale-function/nodeinfo -d '{"serviceName":"nodeinfo","replicas":0,"namespace":"team-a"}'
expect_eq "scale in an unknown namespace: 404" 404 "$CODE"
req POST /system/scale-function/nodeinfo -d '{"serviceName":"nodeinfo","replicas":0,"namespace":"openfaas-fn"}'
expect_eq "scale to 0 (zero: false): 200, 0 applied" "200 0" "$CODE $(jq -r .replicas <<<"$BODY")"
expect_eq "the service is at 0" 0 "$(replicas nodeinfo)"
sleep 2.5 # two resyncs
expect_eq "resyncs keep 0 (asleep, not out of range)" 0 "$(replicas nodeinfo)"
req GET /system/function/nodeinfo
expect_eq "at 0 it says a request may wake it (zero: true)" "0 true" "$(jq -r '"\(.replicas) \(.zero)"' <<<"$BODY")"
req POST /system/scale-function/nodeinfo -d '{"serviceName":"nodeinfo","replicas":1}'
expect_eq "the gateway's wake: 1" "200 1" "$CODE $(replicas nodeinfo)"
req POST /system/scale-function/nodeinfo -d '{"serviceName":"nodeinfo","replicas":50}'
expect_eq "over max: clamped to max (20)" "200 20" "$CODE $(replicas nodeinfo)"

# ---- logs: only functions' services, OpenFaaS parameters, NDJSON Messages
curl -s -X POST -d '{"Name":"faas_gateway","Labels":{}}' "$SWARM/services/create" >/dev/null
req GET '/system/logs?name=faas_gateway'
expect_eq "logs of a service that is not a function: 400 (not a function name)" 400 "$CODE"
curl -s -X POST -d '{"Name":"other","Labels":{}}' "$SWARM/services/create" >/dev/null
req GET '/system/logs?name=other'
expect_eq "logs of an unmanaged service named like a function: 404" 404 "$CODE"
req GET '/system/logs?name=ghost'
expect_eq "logs of an unknown function: 404" 404 "$CODE"
req GET '/system/logs?name=nodeinfo&tail=abc'
expect_eq "tail=abc: 400" 400 "$CODE"
req GET '/system/logs?name=nodeinfo&since=yesterday'
expect_eq "since=yesterday: 400" 400 "$CODE"
req GET '/system/logs?name=nodeinfo&namespace=openfaas-fn&tail=-1&follow=false&since=2026-11-26T01:02:03%2B01:00'
expect_eq "faas-cli's parameters (tail=-1, RFC 3339 since, follow=false): 200" 200 "$CODE"
check "Docker was asked for every line since that instant" \
	grep -q 'msg=logs service=svc[0-9]* tail=all since=1795651323 follow=0' "$T_DIR/swarm.log"
expect_eq "three NDJSON lines" 3 "$(grep -c . <<<"$BODY")"
expect_eq "a Message: name, namespace, instance, timestamp, text" \
	'{"name":"nodeinfo","namespace":"openfaas-fn","instance":"task0","timestamp":"2026-11-26T00:00:00.123456789Z","text":"line 1 of nodeinfo"}' \
	"$(head -n 1 <<<"$BODY" | jq -c .)"
req GET '/system/logs?name=nodeinfo&tail=2&since=1700000000'
check "tail=N and Unix seconds pass as they are" \
	grep -q 'msg=logs service=svc[0-9]* tail=2 since=1700000000 follow=0' "$T_DIR/swarm.log"
# follow: each line is sent as it is made; the stream lasts until the client leaves
t=$(curl -s "${AUTH[@]}" -o "$T_DIR/follow" -w '%{time_starttransfer}' --max-time 1.5 \
	"$CTL/system/logs?name=nodeinfo&follow=true")
check "follow=true: the first line comes at once ($t s)" awk -v t="$t" 'BEGIN { exit !(t < 0.5) }'
n=$(grep -c . "$T_DIR/follow")
check "and more keep coming, line by line ($n lines in 1.5 s)" test "$n" -ge 6
check "every line is a whole Message" bash -c "jq -e -s 'all(.[]; .name == \"nodeinfo\" and (.text | startswith(\"line \")))' '$T_DIR/follow' >/dev/null"
check "the controller is fine after the client left" curl -sf "$CTL/healthz"

# ---- secrets: names that are not names never reach Docker's URL
for n in . .. ../x 'a/b' '-a' "$(printf 'a%.0s' $(seq 49))"; do
	req DELETE /system/secrets -d "{\"name\":\"$n\"}"
	expect_eq "secret name '$n': 400" 400 "$CODE"
done
req POST /system/secrets -d '{"name":"api-key","value":"s","namespace":"team-a"}'
expect_eq "a secret in an unknown namespace: 404" 404 "$CODE"
check "no request reached Docker for any of them" bash -c "! grep -q 'secret_' '$T_DIR/swarm.log'"

# ---- secrets: this install's only (labelled faas.secret and faas.network), versioned
H=$(printf of-net | sha256sum | cut -c1-8)
secret_data() { curl -s "$SWARM/secrets" | jq -r --arg n "$1" '.[] | select(.Spec.Name == $n) | .Spec.Data'; }
mounts() { curl -s "$SWARM/services/$1" | jq -c '[.Spec.TaskTemplate.ContainerSpec.Secrets[]? | {SecretName, File}]'; }
# The platform's own credentials and another install's secret, as Docker holds them
curl -s -X POST -d '{"Name":"faas-controller-token","Data":"dG9r","Labels":{"faas.platform":"true"}}' "$SWARM/secrets/create" >/dev/null
curl -s -X POST -d '{"Name":"theirs","Data":"eA==","Labels":{"faas.secret":"theirs","faas.network":"other-net"}}' "$SWARM/secrets/create" >/dev/null
req POST /system/secrets -d '{"name":"api-key","value":"one"}'
expect_eq "create: 201" 201 "$CODE"
expect_eq "Docker holds version 1, labelled" "b25l" "$(secret_data "api-key-$H-1")"
req POST /system/secrets -d '{"name":"api-key","value":"again"}'
expect_eq "create of an existing secret: 409" 409 "$CODE"
req GET /system/secrets
expect_eq "the list: ours only, with the namespace" '[{"name":"api-key","namespace":"openfaas-fn"}]' "$(jq -c . <<<"$BODY")"
for n in faas-controller-token theirs; do
	req PUT /system/secrets -d "{\"name\":\"$n\",\"value\":\"x\"}"
	expect_eq "PUT of $n (not ours): 404" 404 "$CODE"
	req DELETE /system/secrets -d "{\"name\":\"$n\"}"
	expect_eq "DELETE of $n (not ours): 404" 404 "$CODE"
done
check "and they are still there" bash -c "[ \"\$(curl -s $SWARM/secrets | jq -r '.[].Spec.Name' | grep -c '^faas-controller-token\$\|^theirs\$')\" = 2 ]"

# a function may mount only ours
req POST /system/functions -d '{"service":"thief","image":"img:1","secrets":["faas-controller-token"]}'
expect_eq "a function naming the controller's token is accepted (202)" 202 "$CODE"
check "but it is not made: SecretNotFound" wait_for 10 bash -c "curl -s $CTL/apis/faas/v1/functions/thief | jq -e '.status.conditions[] | select(.type == \"Degraded\" and .reason == \"SecretNotFound\")' >/dev/null"
expect_eq "no service mounts the token" none "$(replicas thief)"
req POST /system/functions -d '{"service":"reader","image":"img:1","secrets":["api-key"]}'
check "a function mounting api-key is made" wait_for 10 bash -c "[ \"\$(curl -s $SWARM/services/reader | jq .Spec.Mode.Replicated.Replicas)\" = 1 ]"
expect_eq "it mounts version 1 at /var/openfaas/secrets/api-key, readable by any user" \
	"[{\"SecretName\":\"api-key-$H-1\",\"File\":{\"Name\":\"/var/openfaas/secrets/api-key\",\"UID\":\"0\",\"GID\":\"0\",\"Mode\":292}}]" \
	"$(mounts reader)"

# update: version 2 first, the service switched, then version 1 removed
req PUT /system/secrets -d '{"name":"api-key","value":""}'
expect_eq "an empty value: 400" 400 "$CODE"
req PUT /system/secrets -d '{"name":"api-key","rawValue":"not base64!"}'
expect_eq "rawValue that is not base64: 400" 400 "$CODE"
expect_eq "the secret is untouched by those" "b25l" "$(secret_data "api-key-$H-1")"
req PUT /system/secrets -d '{"name":"api-key","rawValue":"AAEC/w=="}'
expect_eq "PUT with rawValue (bytes): 200" 200 "$CODE"
expect_eq "version 2 holds those bytes" "AAEC/w==" "$(secret_data "api-key-$H-2")"
expect_eq "the function mounts version 2" "\"api-key-$H-2\"" "$(mounts reader | jq -c '.[0].SecretName')"
expect_eq "version 1 is gone" "" "$(secret_data "api-key-$H-1")"
check "created before the old one was removed" bash -c "grep -n 'secret_create name=api-key-$H-2\|secret_delete name=api-key-$H-1' '$T_DIR/swarm.log' | sort -n | head -n 1 | grep -q create"
# a create that fails (Docker already holds that name) leaves the secret in use
curl -s -X POST -d "{\"Name\":\"api-key-$H-3\",\"Data\":\"eA==\",\"Labels\":{}}" "$SWARM/secrets/create" >/dev/null
req PUT /system/secrets -d '{"name":"api-key","value":"three"}'
expect_eq "PUT whose create fails: 409 from Docker" 409 "$CODE"
expect_eq "version 2 is still there" "AAEC/w==" "$(secret_data "api-key-$H-2")"
expect_eq "and still mounted" "\"api-key-$H-2\"" "$(mounts reader | jq -c '.[0].SecretName')"

# delete: refused while a function mounts it
req DELETE /system/secrets -d '{"name":"api-key"}'
expect_eq "DELETE while mounted: 409" 409 "$CODE"
expect_match "which names the function" 'in use by function reader' "$(jq -r .error <<<"$BODY")"
req DELETE /system/functions -d '{"functionName":"reader"}'
expect_eq "the function is deleted" 202 "$CODE"
req DELETE /system/functions -d '{"functionName":"thief"}'
check "the function's service is removed" wait_for 10 bash -c "[ \"\$(curl -s $SWARM/services/reader | jq -r '.Spec.Mode.Replicated.Replicas // \"none\"')\" = none ]"
req DELETE /system/secrets -d '{"name":"api-key"}'
expect_eq "then the secret: 200" 200 "$CODE"
req GET /system/secrets
expect_eq "the list is empty" '[]' "$(jq -c . <<<"$BODY")"
check "controller alive" curl -sf "$CTL/healthz"
