#!/usr/bin/env bash
# The controller against the real swarm: apply -> service with the right
# labels, env, limits, network; image change -> start-first rolling update;
# drift repaired (edit, delete, over-scale); restart -> no update; status
# conditions from Swarm; a real Alertmanager scales up and back down; delete
# -> service gone. Everything made here is named ctl-e2e-* and removed.
source "$FX_ROOT/tests/lib.sh"

P=ctl-e2e
FN=$P-a
# Our own functions network (the controller's namespace, func_net by default),
# so controllers that others run on this swarm leave our functions alone.
NET=$P-net
TOKEN=e2e-token-$$
echo "$TOKEN" >"$T_DIR/token"

cleanup_docker() {
	docker service ls -q --filter "name=$P-" | xargs -r docker service rm >/dev/null 2>&1
	docker config ls -q --filter "label=faas.function" --format '{{.Name}}' 2>/dev/null |
		grep "^faas-fn-$P-" | xargs -r docker config rm >/dev/null 2>&1
	docker secret rm "$P-secret" >/dev/null 2>&1
	[ "${1:-}" = final ] && wait_for 60 docker network rm "$NET" >/dev/null 2>&1
	true
}
trap 'cleanup_docker final; t_cleanup' EXIT
cleanup_docker start

# Two tiny images FROM scratch with Debian's static busybox.
build_image() {
	local tag=$1 dir=$T_DIR/img-$1
	docker image inspect "$P/fn:$tag" >/dev/null 2>&1 && return 0
	mkdir -p "$dir"
	cp /bin/busybox "$dir/busybox"
	printf 'FROM scratch\nCOPY busybox /bin/busybox\nLABEL ctl.version=%s\nCMD ["/bin/busybox","sleep","2147483"]\n' \
		"$tag" >"$dir/Dockerfile"
	DOCKER_BUILDKIT=0 docker build -q -t "$P/fn:$tag" "$dir" >/dev/null 2>&1
}
check "test images build" bash -c "$(declare -f build_image); P=$P T_DIR=$T_DIR; build_image v1 && build_image v2"
# A secret made by hand is a function's only with the platform's labels: the
# name functions use and the controller's namespace (network).
printf 'value' | docker secret create --label "faas.secret=$P-secret" --label "faas.network=$NET" \
	"$P-secret" - >/dev/null

start_ctl() {
	start_server ctl "$BIN/faas-controller" --port 0 --bind 127.0.0.1 \
		--token-file "$T_DIR/token" --resync 5s --log-level debug --network "$NET"
	CTL=http://127.0.0.1:$PORT
	CTL_PID=$PID
}
start_ctl || exit 1
AUTH=(-H "Authorization: Bearer $TOKEN")

fn_yaml() { # IMAGE
	cat <<EOF
apiVersion: faas/v1
kind: Function
metadata:
  name: $FN
  labels: {team: ctl}
  annotations: {owner: e2e}
spec:
  image: $1
  fprocess: cat
  env: {LANG: C}
  secrets: [$P-secret]
  constraints: ["node.role==manager"]
  limits: {memory: 64Mi, cpu: 250m}
  requests: {memory: 16Mi}
  scale: {min: 1, max: 4, factor: 50, cooldown: 1s, metric: alerts}
  timeouts: {read: 5s, write: 5s, exec: 7s}
EOF
}

apply() { # IMAGE [query]: sets CODE, RESULT, BODY
	BODY=$(curl -s -D "$T_DIR/hdr" -w '\n%{http_code}' -X PUT "${AUTH[@]}" \
		-H 'Content-Type: application/yaml' --data-binary "$(fn_yaml "$1")" \
		"$CTL/apis/faas/v1/functions/$FN${2:-}")
	CODE=${BODY##*$'\n'}
	BODY=${BODY%$'\n'*}
	RESULT=$(sed -n 's/^X-Faas-Result: *\([a-z]*\).*/\1/Ip' "$T_DIR/hdr")
}
svc() { docker service inspect "$FN" --format "$1" 2>/dev/null; }
running() { docker service ps "$FN" --filter desired-state=running --format '{{.CurrentState}}' 2>/dev/null | grep -c '^Running'; }
ready() { [ "$(curl -s "$CTL/apis/faas/v1/functions/$FN" | jq -r '.status.conditions[] | select(.type=="Ready") | .status')" = True ]; }

# ---- create ----
apply "$P/fn:v1"
expect_eq "apply creates (201)" "201 created" "$CODE $RESULT"
check "the service appears" wait_for 20 bash -c "docker service inspect $FN >/dev/null 2>&1"
expect_eq "labels: managed-by, function, generation" "faas-controller $FN 1 ctl" \
	"$(svc '{{index .Spec.Labels "faas.managed-by"}} {{index .Spec.Labels "faas.function"}} {{index .Spec.Labels "faas.generation"}} {{.Spec.Labels.team}}')"
hash=$(docker config ls --filter "label=faas.function=$FN" --format '{{.Name}}' | head -n 1 |
	xargs docker config inspect --format '{{index .Spec.Labels "faas.spec-hash"}}')
expect_eq "faas.spec-hash is the desired config's hash" "$hash" "$(svc '{{index .Spec.Labels "faas.spec-hash"}}')"
expect_match "spec-hash is a SHA-256" '^[0-9a-f]{64}$' "$hash"
env=$(svc '{{json .Spec.TaskTemplate.ContainerSpec.Env}}')
expect_eq "env for the watchdog" '["fprocess=cat","mode=fork","read_timeout=5s","write_timeout=5s","exec_timeout=7s","LANG=C"]' "$env"
expect_eq "limits and reservations" "250000000 67108864 16777216" \
	"$(svc '{{.Spec.TaskTemplate.Resources.Limits.NanoCPUs}} {{.Spec.TaskTemplate.Resources.Limits.MemoryBytes}} {{.Spec.TaskTemplate.Resources.Reservations.MemoryBytes}}')"
expect_eq "on the functions' network" "$(docker network inspect "$NET" --format '{{.Id}}')" "$(svc '{{(index .Spec.TaskTemplate.Networks 0).Target}}')"
expect_eq "which the controller made an attachable overlay" "overlay true" "$(docker network inspect "$NET" --format '{{.Driver}} {{.Attachable}}')"
expect_eq "the service is labelled with its namespace" "$NET" "$(svc '{{index .Spec.Labels "faas.network"}}')"
expect_eq "endpoint mode dnsrr, start-first updates" "dnsrr start-first" "$(svc '{{.Spec.EndpointSpec.Mode}} {{.Spec.UpdateConfig.Order}}')"
expect_eq "the secret is a file under /var/openfaas/secrets" "$P-secret /var/openfaas/secrets/$P-secret" \
	"$(svc '{{range .Spec.TaskTemplate.ContainerSpec.Secrets}}{{.SecretName}} {{.File.Name}}{{end}}')"
expect_eq "constraints" "[node.role==manager]" "$(svc '{{.Spec.TaskTemplate.Placement.Constraints}}')"
expect_eq "replicas start at min" 1 "$(svc '{{.Spec.Mode.Replicated.Replicas}}')"
check "Ready=True once the task runs" wait_for 30 ready
get=$(curl -s "$CTL/apis/faas/v1/functions/$FN")
expect_eq "status: observedGeneration, replicas, availableReplicas" "1 1 1" \
	"$(jq -r '.status | "\(.observedGeneration) \(.replicas) \(.availableReplicas)"' <<<"$get")"
expect_eq "metadata: generation and annotations" "1 e2e" "$(jq -r '.metadata | "\(.generation) \(.annotations.owner)"' <<<"$get")"
sys=$(curl -s "$CTL/system/functions" | jq -c ".[] | select(.name==\"$FN\") | [.replicas, .availableReplicas, .labels.team, .annotations.owner]")
expect_eq "GET /system/functions for the gateway" '[1,1,"ctl","e2e"]' "$sys"

# ---- unchanged, dry run ----
v0=$(svc '{{.Version.Index}}')
apply "$P/fn:v1"
expect_eq "the same apply is unchanged (200)" "200 unchanged" "$CODE $RESULT"
apply "$P/fn:v2" '?dryRun=true'
expect_eq "dryRun says configured" "200 configured" "$CODE $RESULT"
expect_match "dryRun returns the diff" $'-  image: ctl-e2e/fn:v1\n\\+  image: ctl-e2e/fn:v2' "$(jq -r .diff <<<"$BODY")"
sleep 1
expect_eq "neither wrote anything" "$v0 $P/fn:v1" "$(svc '{{.Version.Index}} {{.Spec.TaskTemplate.ContainerSpec.Image}}')"

# ---- rolling update ----
apply "$P/fn:v2"
expect_eq "a new image is configured (200)" "200 configured" "$CODE $RESULT"
min_running=9
for _ in $(seq 1 150); do
	r=$(running)
	[ "$r" -lt "$min_running" ] && min_running=$r
	[ "$(svc '{{.Spec.TaskTemplate.ContainerSpec.Image}} {{if .UpdateStatus}}{{.UpdateStatus.State}}{{end}}')" = "$P/fn:v2 completed" ] && break
	sleep 0.2
done
expect_eq "the update completes with image v2, generation 2" "$P/fn:v2 completed 2" \
	"$(svc '{{.Spec.TaskTemplate.ContainerSpec.Image}} {{.UpdateStatus.State}} {{index .Spec.Labels "faas.generation"}}')"
expect_eq "a replica ran throughout the update (start-first)" 1 "$min_running"
expect_eq "only one generation is kept" 1 "$(docker config ls -q --filter "label=faas.function=$FN" | wc -l)"

# ---- drift ----
docker service update -d -q --env-add HACK=1 "$FN" >/dev/null
check "an env edited by hand is reverted" wait_for 15 bash -c "[ \"\$(docker service inspect $FN --format '{{json .Spec.TaskTemplate.ContainerSpec.Env}}')\" = '$env' ]"
docker service scale -d "$FN=9" >/dev/null 2>&1
check "replicas scaled by hand above max are clamped to max" wait_for 15 bash -c "[ \"\$(docker service inspect $FN --format '{{.Spec.Mode.Replicated.Replicas}}')\" = 4 ]"
docker service scale -d "$FN=2" >/dev/null 2>&1
sleep 2
expect_eq "replicas within [min, max] are left to the autoscaler" 2 "$(svc '{{.Spec.Mode.Replicated.Replicas}}')"
docker service scale -d "$FN=1" >/dev/null 2>&1
docker service rm "$FN" >/dev/null
check "a service deleted by hand is recreated" wait_for 15 bash -c "docker service inspect $FN >/dev/null 2>&1"
check "and becomes Ready again" wait_for 30 ready
docker service create -q -d --name "$P-unmanaged" --label faas.function="$P-unmanaged" "$P/fn:v1" >/dev/null
sleep 2
check "a service without faas.managed-by is never touched" bash -c "docker service inspect $P-unmanaged >/dev/null"

# ---- another controller (another network) leaves our functions alone ----
v1=$(svc '{{.Version.Index}}')
start_server other "$BIN/faas-controller" --port 0 --bind 127.0.0.1 --token-file "$T_DIR/token" \
	--resync 1s --network "$P-other" || exit 1
OTHER=http://127.0.0.1:$PORT
OTHER_PID=$PID
sleep 3
expect_eq "a controller on another network does not list our function" 0 \
	"$(curl -s "$OTHER/apis/faas/v1/functions" | jq "[.items[] | select(.metadata.name==\"$FN\")] | length")"
expect_eq "nor touches its service" "$v1" "$(svc '{{.Version.Index}}')"
kill "$OTHER_PID"
wait "$OTHER_PID" 2>/dev/null
docker network rm "$P-other" >/dev/null 2>&1

# ---- restart: no update ----
sleep 2
v1=$(svc '{{.Version.Index}}')
kill "$CTL_PID"
wait "$CTL_PID" 2>/dev/null
start_ctl || exit 1
sleep 7 # the first resync runs at start, another one after 5 s
expect_eq "a restart issues no service update" "$v1" "$(svc '{{.Version.Index}}')"
expect_match "and the new controller counted none" 'faas_controller_service_updates_total 0' "$(curl -s "$CTL/metrics")"

# ---- status from Swarm ----
cond() { # NAME TYPE -> "status reason"
	curl -s "$CTL/apis/faas/v1/functions/$1" | jq -r ".status.conditions[] | select(.type==\"$2\") | \"\(.status) \(.reason)\""
}
printf 'apiVersion: faas/v1\nkind: Function\nmetadata: {name: %s-noimg}\nspec: {image: "%s/missing:1"}\n' "$P" "$P" |
	curl -s -o /dev/null -X PUT "${AUTH[@]}" --data-binary @- "$CTL/apis/faas/v1/functions/$P-noimg"
check "a missing image shows as Degraded ImageNotFound" wait_for 30 bash -c "[ \"\$(curl -s $CTL/apis/faas/v1/functions/$P-noimg | jq -r '.status.conditions[] | select(.type==\"Degraded\") | .reason')\" = ImageNotFound ]"
printf 'apiVersion: faas/v1\nkind: Function\nmetadata: {name: %s-nosecret}\nspec: {image: "%s/fn:v1", secrets: [%s-absent]}\n' "$P" "$P" "$P" |
	curl -s -o /dev/null -X PUT "${AUTH[@]}" --data-binary @- "$CTL/apis/faas/v1/functions/$P-nosecret"
check "a missing secret shows as Degraded SecretNotFound" wait_for 15 bash -c "[ \"\$(curl -s $CTL/apis/faas/v1/functions/$P-nosecret | jq -r '.status.conditions[] | select(.type==\"Degraded\") | .reason')\" = SecretNotFound ]"
for f in noimg nosecret; do curl -s -o /dev/null -X DELETE "${AUTH[@]}" "$CTL/apis/faas/v1/functions/$P-$f"; done

# ---- scale API ----
code=$(curl -s -o "$T_DIR/scale" -w '%{http_code}' -X POST "${AUTH[@]}" --data "{\"serviceName\":\"$FN\",\"replicas\":100}" "$CTL/system/scale-function/$FN")
expect_eq "scale-function clamps to max" "200 4" "$code $(jq -r .replicas "$T_DIR/scale")"
curl -s -o /dev/null -X POST "${AUTH[@]}" --data "{\"serviceName\":\"$FN\",\"replicas\":1}" "$CTL/system/scale-function/$FN"
expect_eq "and scales back" 1 "$(svc '{{.Spec.Mode.Replicated.Replicas}}')"

# ---- a real Alertmanager ----
am_port=$((19000 + RANDOM % 1000))
cat >"$T_DIR/am.yml" <<EOF
route:
  receiver: controller
  group_by: [alertname, function_name]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: controller
    webhook_configs:
      - url: $CTL/alerts
        send_resolved: true
        http_config:
          authorization:
            type: Bearer
            credentials_file: $T_DIR/token
EOF
/usr/bin/prometheus-alertmanager --config.file="$T_DIR/am.yml" --storage.path="$T_DIR/am-data" \
	--web.listen-address="127.0.0.1:$am_port" --cluster.listen-address= >"$T_DIR/am.log" 2>&1 &
T_PIDS+=("$!")
check "alertmanager starts" wait_for 20 curl -sf "http://127.0.0.1:$am_port/-/ready"
starts=$(date -u +%Y-%m-%dT%H:%M:%SZ)
post_alert() { # ENDS_AT (empty: firing)
	local ends=${1:+,\"endsAt\":\"$1\"}
	curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
		--data "[{\"labels\":{\"alertname\":\"$P-load\",\"function_name\":\"$FN\"},\"startsAt\":\"$starts\"$ends}]" \
		"http://127.0.0.1:$am_port/api/v2/alerts"
}
expect_eq "the alert is accepted by Alertmanager" 200 "$(post_alert)"
# firing: 1 + ceil(4 * 50 / 100) = 3
check "a firing alert scales 1 -> 3" wait_for 20 bash -c "[ \"\$(docker service inspect $FN --format '{{.Spec.Mode.Replicated.Replicas}}')\" = 3 ]"
post_alert "$(date -u +%Y-%m-%dT%H:%M:%SZ)" >/dev/null
check "resolving it returns to min (1)" wait_for 20 bash -c "[ \"\$(docker service inspect $FN --format '{{.Spec.Mode.Replicated.Replicas}}')\" = 1 ]"
m=$(curl -s "$CTL/metrics")
expect_match "alerts are counted" 'faas_controller_alerts_received_total [1-9]' "$m"
expect_match "scale events are counted" 'faas_controller_scale_events_total [2-9]' "$m"
lat=$(grep -c 'source=alert' "$T_DIR/ctl.log")
expect_match "both alert scalings are logged" '^[2-9]' "$lat"

# ---- delete ----
code=$(curl -s -o /dev/null -w '%{http_code}' -X DELETE "${AUTH[@]}" "$CTL/apis/faas/v1/functions/$FN")
expect_eq "delete answers 200" 200 "$code"
check "the service is removed" wait_for 15 bash -c "! docker service inspect $FN >/dev/null 2>&1"
expect_eq "and the definition" 0 "$(docker config ls -q --filter "label=faas.function=$FN" | wc -l)"
code=$(curl -s -o /dev/null -w '%{http_code}' -X DELETE "${AUTH[@]}" "$CTL/apis/faas/v1/functions/$FN")
expect_eq "a second delete is 404" 404 "$code"
check "the unmanaged service is still there" bash -c "docker service inspect $P-unmanaged >/dev/null"
check "no sanitizer report or crash" bash -c "! grep -Eq 'AddressSanitizer|runtime error' '$T_DIR/ctl.log'"
