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
check "controller alive" curl -sf "$CTL/healthz"
