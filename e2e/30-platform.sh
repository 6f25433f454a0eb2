#!/usr/bin/env bash
# The whole platform on the real single-node swarm, as a user runs it:
# `make up` (scripts/up.sh, also over a stale stack), a quick second run that
# changes nothing, every sample invoked with its body checked, faasctl with no
# flags, counters in Prometheus, apply -> first invoke, and the autoscaling
# loop: bounded load -> alert -> Alertmanager -> controller -> replicas up;
# load stops -> resolved -> back to min. Prints the measured delays (also in
# $FX_ARTIFACTS/platform-delays.txt). Leaves the stack up for the later e2e
# scripts; e2e/99-down.sh removes it. A failed run keeps the services' logs
# in $FX_ARTIFACTS/30-platform/.
source "$FX_ROOT/tests/lib.sh"
cd "$FX_ROOT" || exit 1
CONF=$HOME/.config/faas
GW=http://127.0.0.1:${FAAS_PORT:-8080}
LOAD_SECONDS=${FX_LOAD_SECONDS:-20}
DELAYS=$FX_ARTIFACTS/platform-delays.txt

collect_logs() {
	grep -q "^fail $T_NAME" "$FX_RESULTS" 2>/dev/null || return 0
	local s
	for s in gateway controller alertmanager prometheus; do
		timeout 20 docker service logs --timestamps --tail 300 "faas_$s" >"$T_DIR/$s.log" 2>&1
	done
	timeout 20 docker service ls >"$T_DIR/services.log" 2>&1
	docker service ls -q | xargs -r timeout 20 docker service ps --no-trunc >"$T_DIR/tasks.log" 2>&1
	timeout 20 docker events --since "$T_START" --until "$(date +%s)" --filter type=container \
		--filter type=service >"$T_DIR/events.log" 2>&1
}
T_START=$(date +%s)
trap 'collect_logs; t_cleanup' EXIT

now_ms() { echo $(($(date +%s%N) / 1000000)); }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b - a) / 1000 }'; }

# prom PATH: GET from Prometheus inside its container (no published port).
container_of() { docker ps -q --filter "label=com.docker.swarm.service.name=faas_$1" | head -n 1; }
prom() {
	local c
	c=$(container_of prometheus)
	[ -n "$c" ] && timeout 5 docker exec "$c" wget -qO- "http://127.0.0.1:9090$1"
}
am_metrics() {
	local c
	c=$(container_of alertmanager)
	[ -n "$c" ] && timeout 5 docker exec "$c" wget -qO- "http://127.0.0.1:9093/metrics"
}
uri() { jq -rn --arg q "$1" '$q | @uri'; }
# prom_value EXPR: the first sample's value, or nothing.
prom_value() { prom "/api/v1/query?query=$(uri "$1")" | jq -r '.data.result[0].value[1] // empty'; }
alert_state() {
	prom /api/v1/alerts | jq -r --arg f "$1" \
		'[.data.alerts[] | select(.labels.alertname == "APIHighInvocationRate" and .labels.function_name == $f) | .state][0] // "inactive"'
}
declare -A SVC=()
svc_of() {
	[ -n "${SVC[$1]:-}" ] || SVC[$1]=$(docker service ls -q --filter "label=faas.function=$1" | head -n 1)
	echo "${SVC[$1]}"
}
want_replicas() { docker service inspect -f '{{.Spec.Mode.Replicated.Replicas}}' "$(svc_of "$1")" 2>/dev/null; }
# One docker call: tasks desired running that are running (a task with a
# HEALTHCHECK is reported running only once the check has passed).
running_tasks() {
	docker service ps --filter desired-state=running --format '{{.CurrentState}}' "$(svc_of "$1")" 2>/dev/null |
		grep -c '^Running'
}
no_service() { [ -z "$(docker service ls -q --filter "$1")" ]; }
# got NAME VALUE DETAIL: passes when VALUE is set.
got() { if [ -n "$2" ]; then t_pass "$1"; else t_fail "$1" "$3"; fi; }

# --- a clean slate (functions left by an earlier run may be broken), then a
# stale stack: a service an older version had must not get in the way.
scripts/down.sh >"$T_DIR/down-before.log" 2>&1
timeout 60 docker service create -q --detach --name faas_stale --label com.docker.stack.namespace=faas \
	--endpoint-mode dnsrr faas/prometheus:latest >/dev/null 2>&1 ||
	timeout 60 docker service create -q --detach --name faas_stale --label com.docker.stack.namespace=faas \
		--endpoint-mode dnsrr --entrypoint /bin/busybox faas/watchdog:latest sleep 3600 >/dev/null 2>&1

# --- make up
t=$(now_ms)
if scripts/up.sh >"$T_DIR/up.log" 2>&1; then t_pass "make up"; else t_fail "make up" "$(tail -n 5 "$T_DIR/up.log")"; fi
up_ms=$(($(now_ms) - t))
echo "  make up: $(secs 0 "$up_ms") s"
check "make up prints the gateway URL" grep -q "gateway: *$GW" "$T_DIR/up.log"
check "make up prints a curl example" grep -q "curl .*$GW/function/" "$T_DIR/up.log"
check "make up prints a faasctl invoke example" grep -q "faasctl invoke" "$T_DIR/up.log"
check "the stale service is pruned" wait_for 30 no_service name=faas_stale
GWS=https://127.0.0.1:${FAAS_TLS_PORT:-8443}
check "faasctl's config names the gateway over HTTPS" grep -qx "gateway=$GWS" "$CONF/config"
check "... and the local CA" grep -qx "ca_file=$CONF/ca.pem" "$CONF/config"
check "make up prints the CA" grep -q "CA: *$CONF/ca.pem" "$T_DIR/up.log"
check "HTTPS answers, verified with the local CA" wait_for 30 curl -fsS -o /dev/null --cacert "$CONF/ca.pem" "$GWS/healthz"
expect_eq "HTTPS is refused without the CA" 60 "$(curl -s -o /dev/null "$GWS/healthz"; echo $?)"
expect_eq "the UI over HTTPS with the credentials" 200 "$(curl -s -o /dev/null -w '%{http_code}' --cacert "$CONF/ca.pem" \
	-u "$(cat "$CONF/user"):$(cat "$CONF/password")" "$GWS/ui/")"
expect_match "TLS 1.3 with the host's certificate" 'TLSv1.3' "$(echo | timeout 10 openssl s_client -connect "127.0.0.1:${FAAS_TLS_PORT:-8443}" \
	-CAfile "$CONF/ca.pem" -verify_return_error 2>/dev/null | grep -E '^New, ')"
check "the password is not a default" bash -c "[ \$(wc -c <'$CONF/password') -ge 16 ]"
check "the password file is private" bash -c "[ \$(stat -c %a '$CONF/password') = 600 ]"
check "the gateway answers" wait_for 30 curl -fsS -o /dev/null "$GW/healthz"
code=$(curl -s -o /dev/null -w '%{http_code}' "$GW/apis/faas/v1/functions")
expect_eq "the API needs credentials" 401 "$code"

# --- a second make up is quick and changes nothing
versions() {
	docker service ls -q --filter label=com.docker.stack.namespace=faas | sort | xargs -r docker service inspect -f '{{.Spec.Name}} {{.Version.Index}}'
	docker service ls -q --filter label=faas.managed-by=faas-controller | sort | xargs -r docker service inspect -f '{{.Spec.Name}} {{.Version.Index}}'
}
before=$(versions)
t=$(now_ms)
if scripts/up.sh >"$T_DIR/up2.log" 2>&1; then t_pass "second make up"; else t_fail "second make up" "$(tail -n 5 "$T_DIR/up2.log")"; fi
up2_ms=$(($(now_ms) - t))
echo "  second make up: $(secs 0 "$up2_ms") s"
check "the second make up takes under 45 s" test "$up2_ms" -lt 45000
expect_eq "the second make up changes no service" "$before" "$(versions)"

# --- every sample, with its body checked (bounded wait: 10 s each)
inv() { curl -sS --max-time 10 "$@" 2>&1; }
# expect_invoke NAME REGEX CURL-ARGS...: retries (10 s at most) until the
# answer matches; says how many tries it took when more than one.
expect_invoke() {
	local name=$1 re=$2 out tries=0 deadline=$((SECONDS + 10))
	shift 2
	while :; do
		tries=$((tries + 1))
		out=$(inv "$@")
		[[ $out =~ $re ]] && break
		[ $SECONDS -lt $deadline ] || break
		sleep 0.2
	done
	[ "$tries" -eq 1 ] || echo "  ($name: $tries tries)"
	expect_match "$name" "$re" "$out"
}
expect_invoke "echo returns the body" '^hello, faas$' --data-binary 'hello, faas' "$GW/function/echo"
expect_invoke "wordcount counts" '^ *1 +3 +14 *$' --data-binary $'one two three\n' "$GW/function/wordcount"
expect_invoke "env answers" 'Http_Method=GET' "$GW/function/env"
out=$(inv -H 'X-Trace: t-42' "$GW/function/env/some/path?x=1")
expect_match "env shows the method" 'Http_Method=GET' "$out"
expect_match "env shows the query" 'Http_Query=x=1' "$out"
expect_match "env shows a header" 'Http_X_Trace=t-42' "$out"
expect_invoke "sleep sleeps" '^slept 0.2s$' "$GW/function/sleep?s=0.2"
code=$(inv -o /dev/null -w '%{http_code}' "$GW/function/sleep?s=6")
expect_match "sleep past its 3 s exec timeout is an error" '^5[0-9][0-9]$' "$code"
if [ -f manifests/functions/hello-http.yaml ]; then
	expect_invoke "hello-http answers through its http-mode watchdog" 'Hello from hello-http' "$GW/function/hello-http"
else
	t_skip "hello-http answers through its http-mode watchdog" "not among the samples until the watchdog's http mode lands"
fi
expect_invoke "webhook-stash stores the body" '^stored 17 bytes in [0-9T.]+Z-[0-9]+\.txt$' \
	--data-binary $'{"event":"push"}\n' "$GW/function/webhook-stash"
out=$(bin/faasctl get 2>&1)
expect_match "faasctl get works with no flags" 'webhook-stash' "$out"
out=$(printf 'a b\n' | bin/faasctl invoke wordcount 2>&1)
expect_match "faasctl invoke works with no flags" '^ *1 +2 +4 *$' "$out"

# --- the gateway's counters reach Prometheus
for _ in 1 2 3; do inv -o /dev/null --data-binary x "$GW/function/echo"; done
counted() {
	local v
	v=$(prom_value 'sum(gateway_function_invocation_total{function_name="echo"})')
	[ -n "$v" ] && awk -v v="$v" 'BEGIN { exit !(v >= 4) }'
}
check "echo's invocations reach Prometheus" wait_for 20 counted

# --- apply -> first successful invoke (HEALTHCHECK still gating traffic)
cat >"$T_DIR/fresh.yaml" <<YAML
apiVersion: faas/v1
kind: Function
metadata: {name: e2e-fresh}
spec:
  image: $(sed -n 's/^FAAS_ECHO_IMAGE=//p' build/images.env)
  fprocess: cat
YAML
bin/faasctl delete e2e-fresh >/dev/null 2>&1
wait_for 30 no_service label=faas.function=e2e-fresh
t=$(now_ms)
bin/faasctl apply -f "$T_DIR/fresh.yaml" >"$T_DIR/fresh.log" 2>&1
fresh_ok() { [ "$(curl -s --max-time 10 --data-binary fresh "$GW/function/e2e-fresh")" = fresh ]; }
if wait_for 30 fresh_ok; then
	apply_ms=$(($(now_ms) - t))
	t_pass "a new function answers after apply"
else
	apply_ms=
	t_fail "a new function answers after apply" "$(cat "$T_DIR/fresh.log")"
fi
echo "  apply -> first successful invoke: $(secs 0 "${apply_ms:-0}") s"
bin/faasctl delete e2e-fresh >/dev/null 2>&1

# --- the autoscaling loop on echo (scale: min 1, max 4, factor 50)
svc_of echo >/dev/null # cached for the polls below (they run in subshells)
at_min() { [ "$(want_replicas echo)" = 1 ]; }
no_alert() { [ "$(alert_state echo)" = inactive ]; }
check "echo starts at min replicas" wait_for 30 at_min
check "no alert on echo before the load" wait_for 40 no_alert
notified_before=$(am_metrics | awk '/^alertmanager_notifications_total\{integration="webhook"\}/ {print $2}')
t_load=$(now_ms)
wrk -t2 -c8 -d"${LOAD_SECONDS}s" "$GW/function/echo" >"$T_DIR/wrk.log" 2>&1 &
wrk_pid=$!
T_PIDS+=("$wrk_pid")
t_alert='' t_scale='' t_run=''
deadline=$((SECONDS + LOAD_SECONDS + 5))
# Polled in stages, one cheap call per turn, so each time is taken within
# ~0.1-0.3 s of the event.
while [ $SECONDS -lt $deadline ] && [ -z "$t_run" ]; do
	if [ -z "$t_scale" ] && [ "$(want_replicas echo)" -gt 1 ] 2>/dev/null; then
		t_scale=$(now_ms)
	elif [ -z "$t_scale" ] && [ -z "$t_alert" ] && [ "$(alert_state echo)" = firing ]; then
		t_alert=$(now_ms)
	elif [ -n "$t_scale" ] && [ "$(running_tasks echo)" -gt 1 ]; then
		t_run=$(now_ms)
	fi
	sleep 0.05
done
[ -n "$t_alert" ] || [ "$(alert_state echo)" != firing ] || t_alert=$t_scale
got "the alert fires under load" "$t_alert" "$(alert_state echo)"
notified=$(am_metrics | awk '/^alertmanager_notifications_total\{integration="webhook"\}/ {print $2}')
failed=$(am_metrics | awk '/^alertmanager_notifications_failed_total\{integration="webhook"\}/ {print $2}')
check "Alertmanager called the controller" awk -v a="${notified_before:-0}" -v b="${notified:-0}" 'BEGIN { exit !(b > a) }'
expect_eq "the controller accepted every notification" 0 "${failed:-missing}"
got "the controller raises echo's replicas" "$t_scale" "replicas $(want_replicas echo)"
got "more echo replicas run" "$t_run" "running $(running_tasks echo)"
peak=$(want_replicas echo)
wait "$wrk_pid" 2>/dev/null
t_stop=$(now_ms)
rps=$(awk '/Requests\/sec/ {print $2}' "$T_DIR/wrk.log")
errs=$(awk '/Non-2xx/ {print $NF}' "$T_DIR/wrk.log")
expect_eq "no errors under load while scaling" "" "$errs"

t_resolved='' t_min='' t_min_run=''
deadline=$((SECONDS + 60))
while [ $SECONDS -lt $deadline ] && [ -z "$t_min_run" ]; do
	if [ -z "$t_min" ] && [ "$(want_replicas echo)" = 1 ]; then
		t_min=$(now_ms)
	elif [ -z "$t_min" ] && [ -z "$t_resolved" ] && [ "$(alert_state echo)" = inactive ]; then
		t_resolved=$(now_ms)
	elif [ -n "$t_min" ] && [ "$(running_tasks echo)" = 1 ]; then
		t_min_run=$(now_ms)
	fi
	sleep 0.05
done
[ -n "$t_resolved" ] || [ "$(alert_state echo)" != inactive ] || t_resolved=$t_min
got "the alert resolves after the load" "$t_resolved" "$(alert_state echo)"
got "echo goes back to min replicas" "$t_min" "replicas $(want_replicas echo)"
got "one echo replica runs again" "$t_min_run" "running $(running_tasks echo)"

d() { [ -n "$2" ] && secs "$1" "$2" || echo "n/a"; }
{
	echo "make up (images built, stack up, samples Ready): $(secs 0 "$up_ms") s"
	echo "second make up: $(secs 0 "$up2_ms") s"
	echo "apply -> first successful invoke: $(d 0 "$apply_ms")"
	echo "load: wrk -t2 -c8 for ${LOAD_SECONDS} s, ${rps:-?} req/s; replicas 1 -> ${peak:-?}"
	echo "load start -> alert firing: $(d "$t_load" "$t_alert") s"
	echo "load start -> replicas raised: $(d "$t_load" "$t_scale") s"
	echo "load start -> more replicas running: $(d "$t_load" "$t_run") s"
	echo "load stop -> alert resolved: $(d "$t_stop" "$t_resolved") s"
	echo "load stop -> replicas back to min: $(d "$t_stop" "$t_min") s"
	echo "load stop -> one replica running: $(d "$t_stop" "$t_min_run") s"
} | tee "$DELAYS" | sed 's/^/  /'
if [ -n "$t_run" ]; then
	check "load start -> more replicas running within 15 s (target 10 s)" test $((t_run - t_load)) -le 15000
fi
if [ -n "$t_min" ]; then
	check "load stop -> back to min within 30 s" test $((t_min - t_stop)) -le 30000
fi
