#!/usr/bin/env bash
# Idle scale to zero, the whole loop on the platform that e2e/30 left running
# (scripts/up.sh runs first: idempotent): the real gateway's /metrics ->
# Prometheus with alerts/rules/idle.yml -> Alertmanager with
# alerts/alertmanager.yml -> the controller (through the gateway's
# /system/alert) -> replicas 0; then a request through the gateway scales it
# from zero: 200 and one replica. A function with zero: false gets the same
# alert and keeps its replica. The stack's own Prometheus would wait the real
# 5m window, so this test runs a second Prometheus and Alertmanager on
# 127.0.0.1 from Debian's binaries with the same rule and route, the window
# shortened to IDLE (only "5m" changes) and evaluated every second. Prints the
# measured delays (also in $FX_ARTIFACTS/zero-delays.txt). Everything made
# here is named zero-e2e*, and removed.
source "$FX_ROOT/tests/lib.sh"
cd "$FX_ROOT" || exit 1

GW=http://127.0.0.1:${FAAS_PORT:-8080}
CONF=${XDG_CONFIG_HOME:-$HOME/.config}/faas
IDLE=${FX_IDLE_WINDOW:-15s}
IDLE_S=${IDLE%s}
FN="zero-e2e"
KEEP="zero-e2e-keep"
DELAYS=$FX_ARTIFACTS/zero-delays.txt

for b in /usr/bin/prometheus /usr/bin/prometheus-alertmanager; do
	if ! [ -x "$b" ]; then
		t_fail "$b is installed" "scripts/deps.sh all installs prometheus and prometheus-alertmanager"
		exit 1
	fi
done

now_ms() { echo $(($(date +%s%N) / 1000000)); }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b - a) / 1000 }'; }
svc_of() { docker service ls -q --filter "label=faas.function=$1" | head -n 1; }
want_replicas() { docker service inspect -f '{{.Spec.Mode.Replicated.Replicas}}' "$(svc_of "$1")" 2>/dev/null; }
running_tasks() {
	docker service ps --filter desired-state=running --format '{{.CurrentState}}' "$(svc_of "$1")" 2>/dev/null |
		grep -c '^Running'
}
cleanup() {
	if grep -q "^fail $T_NAME" "$FX_RESULTS" 2>/dev/null; then
		mkdir -p "$FX_ARTIFACTS/35-zero"
		cp "$T_DIR"/*.log "$FX_ARTIFACTS/35-zero/" 2>/dev/null
		timeout 20 docker service logs --timestamps --since 10m faas_controller >"$FX_ARTIFACTS/35-zero/controller.log" 2>&1
		timeout 20 docker service logs --timestamps --since 10m faas_gateway >"$FX_ARTIFACTS/35-zero/gateway.log" 2>&1
	fi
	bin/faasctl delete "$FN" >/dev/null 2>&1
	bin/faasctl delete "$KEEP" >/dev/null 2>&1
	t_cleanup
}
trap cleanup EXIT

if ! scripts/up.sh >"$T_DIR/up.log" 2>&1; then
	echo "  scripts/up.sh failed: $(tail -n 1 "$T_DIR/up.log")"
fi
check "the gateway answers" wait_for 60 curl -fsS -o /dev/null "$GW/healthz"
user=$(sed -n 's/^user=//p' "$CONF/config" | tail -n 1)
pwfile=$(sed -n 's/^password_file=//p' "$CONF/config" | tail -n 1)
if [ -z "$user" ] || ! [ -r "$pwfile" ]; then
	t_fail "faasctl's config names the user and password" "$(cat "$CONF/config" 2>&1)"
	exit 1
fi

# --- two functions: zero: true and zero: false
image=$(sed -n 's/^FAAS_ECHO_IMAGE=//p' build/images.env)
fn_yaml() { # NAME ZERO
	printf 'apiVersion: faas/v1\nkind: Function\nmetadata: {name: %s}\nspec:\n  image: %s\n  fprocess: cat\n  scale: {min: 1, max: 2, zero: %s, cooldown: 1s}\n' \
		"$1" "$image" "$2"
}
bin/faasctl delete "$FN" >/dev/null 2>&1
bin/faasctl delete "$KEEP" >/dev/null 2>&1
wait_for 30 bash -c "[ -z \"\$(docker service ls -q --filter label=faas.function=$FN)\" ]"
{ fn_yaml "$FN" true; echo ---; fn_yaml "$KEEP" false; } >"$T_DIR/fns.yaml"
check "faasctl applies a zero: true and a zero: false function" \
	bash -c "bin/faasctl apply -f '$T_DIR/fns.yaml' >'$T_DIR/apply.log' 2>&1"
answers() { [ "$(curl -s --max-time 2 --data-binary "$2" "$GW/function/$1")" = "$2" ]; }
check "$FN answers" wait_for 60 answers "$FN" first
check "$KEEP answers" wait_for 60 answers "$KEEP" first
t_last=$(now_ms)
expect_eq "$FN runs one replica" 1 "$(want_replicas "$FN")"

# --- Prometheus and Alertmanager from alerts/, on 127.0.0.1
port() { echo $((20000 + RANDOM % 20000)); }
prom_port=$(port)
am_port=$(port)
mkdir -p "$T_DIR/rules"
sed -e "s/5m/${IDLE}/g" -e 's/interval: 5s/interval: 1s/' alerts/rules/idle.yml >"$T_DIR/rules/idle.yml"
check "the window is shortened in the expression only" \
	bash -c "[ \$(grep -c '${IDLE}' '$T_DIR/rules/idle.yml') -ge 6 ] && ! grep -q '5m' '$T_DIR/rules/idle.yml'"
cat >"$T_DIR/prometheus.yml" <<EOF
global: {scrape_interval: 1s, scrape_timeout: 1s, evaluation_interval: 1s}
rule_files: [rules/idle.yml]
alerting:
  alertmanagers:
    - static_configs: [{targets: ["127.0.0.1:$am_port"]}]
scrape_configs:
  - job_name: gateway
    static_configs: [{targets: ["127.0.0.1:${FAAS_PORT:-8080}"]}]
EOF
# The platform's route and receiver; the controller is reached through the
# gateway (basic auth) as its port is not published.
sed -e "s#url: http://controller:8081/alerts#url: $GW/system/alert#" \
	-e 's#authorization:#basic_auth:#' -e "s#type: Bearer#username: $user#" \
	-e "s#credentials_file: /run/secrets/faas-controller-token#password_file: $pwfile#" \
	alerts/alertmanager.yml >"$T_DIR/am.yml"
check "the Alertmanager config is valid" bash -c "amtool check-config '$T_DIR/am.yml' >/dev/null 2>&1"
/usr/bin/prometheus-alertmanager --config.file="$T_DIR/am.yml" --storage.path="$T_DIR/am-data" \
	--web.listen-address="127.0.0.1:$am_port" --cluster.listen-address= >"$T_DIR/am.log" 2>&1 &
T_PIDS+=("$!")
/usr/bin/prometheus --config.file="$T_DIR/prometheus.yml" --storage.tsdb.path="$T_DIR/prom-data" \
	--web.listen-address="127.0.0.1:$prom_port" --rules.alert.resend-delay=2s >"$T_DIR/prom.log" 2>&1 &
T_PIDS+=("$!")
check "alertmanager starts" wait_for 20 curl -sf "http://127.0.0.1:$am_port/-/ready"
check "prometheus starts" wait_for 20 curl -sf "http://127.0.0.1:$prom_port/-/ready"
alert_state() {
	curl -s "http://127.0.0.1:$prom_port/api/v1/alerts" | jq -r --arg f "$1" \
		'[.data.alerts[] | select(.labels.alertname == "FunctionIdle" and .labels.function_name == $f) | .state][0] // "inactive"'
}
# When Prometheus saw FunctionIdle become active for $1 (ms), or nothing.
alert_active_ms() {
	local at
	at=$(curl -s "http://127.0.0.1:$prom_port/api/v1/alerts" | jq -r --arg f "$1" \
		'[.data.alerts[] | select(.labels.alertname == "FunctionIdle" and .labels.function_name == $f and .state == "firing") | .activeAt][0] // empty')
	[ -n "$at" ] && echo $(($(date -d "$at" +%s%N) / 1000000))
}
state_is() { [ "$(alert_state "$1")" = "$2" ]; }
scraped() { curl -s "http://127.0.0.1:$prom_port/api/v1/query?query=gateway_service_count" | grep -q "\"$FN\""; }
check "prometheus scrapes the gateway" wait_for 30 scraped
got() { if [ -n "$2" ]; then t_pass "$1"; else t_fail "$1" "$3"; fi; }
median() { sort -n | awk '{v[NR] = $1} END { if (NR) print v[int((NR + 1) / 2)] }'; }

# Each round: traffic for a whole window (the alert must stay quiet), then
# nothing: FunctionIdle fires one window after the last request, the
# controller scales to zero; then a request scales it from zero. A second and
# third round are new incidents: each scales to zero again.
ROUNDS=${FX_ZERO_ROUNDS:-3}
: >"$T_DIR/fire.ms"
: >"$T_DIR/zero.ms"
: >"$T_DIR/cold.ms"
for round in $(seq 1 "$ROUNDS"); do
	quiet=ok
	end=$((SECONDS + IDLE_S + 3))
	while [ $SECONDS -lt $end ]; do
		curl -s -o /dev/null --max-time 10 --data-binary x "$GW/function/$FN"
		t_last=$(now_ms)
		state_is "$FN" inactive || quiet="$(alert_state "$FN") at $SECONDS"
		sleep 0.5
	done
	expect_eq "round $round: FunctionIdle stays quiet while $FN is invoked" ok "$quiet"

	t_alert='' t_zero='' t_gone=''
	deadline=$((SECONDS + IDLE_S + 30))
	while [ $SECONDS -lt $deadline ] && [ -z "$t_gone" ]; do
		[ -n "$t_alert" ] || t_alert=$(alert_active_ms "$FN")
		if [ -z "$t_zero" ] && [ "$(want_replicas "$FN")" = 0 ]; then
			t_zero=$(now_ms)
		elif [ -n "$t_zero" ] && [ "$(running_tasks "$FN")" = 0 ]; then
			t_gone=$(now_ms)
		fi
		sleep 0.1
	done
	got "round $round: FunctionIdle fires for $FN after the $IDLE window" "$t_alert" "state $(alert_state "$FN")"
	got "round $round: the controller scales $FN to zero" "$t_zero" "replicas $(want_replicas "$FN"); $(tail -n 5 "$T_DIR/am.log")"
	got "round $round: no $FN replica runs" "$t_gone" "running $(running_tasks "$FN")"
	zero_gw() { curl -s "$GW/metrics" | grep -q "^gateway_service_count{function_name=\"$FN\"} 0$"; }
	check "round $round: the gateway reports 0 replicas" wait_for 10 zero_gw
	check "round $round: so the alert resolves" wait_for 20 state_is "$FN" inactive
	# The replica drains and exits (a request before that is still served
	# by it, and nothing scales from zero).
	no_container() { [ -z "$(docker ps -q --filter "label=com.docker.swarm.service.name=$FN")" ]; }
	check "round $round: the replica's container is gone" wait_for 30 no_container
	if [ "$round" = 1 ]; then
		check "FunctionIdle fires for $KEEP too" wait_for 20 state_is "$KEEP" firing
		expect_eq "$KEEP (zero: false) keeps its replica" 1 "$(want_replicas "$KEEP")"
		logs=$(timeout 20 docker service logs --since 5m faas_controller 2>&1)
		expect_match "the controller logs the scale to zero" "msg=scaled function=$FN status=firing replicas=0 previous=1 source=idle" "$logs"
		expect_match "and why it ignored $KEEP" "msg=alert_ignored function=$KEEP idle=1 status=firing why=\"idle, but the spec says zero: false\"" "$logs"
		sleep 2
		expect_eq "$FN stays at zero (reconcile does not restore min)" 0 "$(want_replicas "$FN")"
	fi

	# The next request scales it from zero.
	t_req=$(now_ms)
	out=$(curl -s --max-time 40 -w '\n%{http_code}' --data-binary 'wake up' "$GW/function/$FN")
	t_resp=$(now_ms)
	expect_eq "round $round: a request at zero is answered (scale from zero)" $'wake up\n200' "$out"
	expect_eq "round $round: $FN is back at one replica" 1 "$(want_replicas "$FN")"
	# The gateway sends the request as soon as the new replica answers its own
	# health probe; Swarm calls the task running after Docker's first check.
	one_runs() { [ "$(running_tasks "$FN")" = 1 ]; }
	check "round $round: one replica runs" wait_for 10 one_runs
	# Alertmanager's repeats of the resolved incident must not undo it.
	sleep 2
	expect_eq "round $round: and stays there" 1 "$(want_replicas "$FN")"
	[ -n "$t_alert" ] && echo $((t_alert - t_last)) >>"$T_DIR/fire.ms"
	[ -n "$t_alert" ] && [ -n "$t_zero" ] && echo $((t_zero - t_alert)) >>"$T_DIR/zero.ms"
	echo $((t_resp - t_req)) >>"$T_DIR/cold.ms"
	echo "  round $round: last request -> FunctionIdle active $(secs 0 "$(tail -n 1 "$T_DIR/fire.ms")") s;" \
		"-> replicas 0 $(secs 0 "$(tail -n 1 "$T_DIR/zero.ms")") s; no task $(secs "${t_zero:-0}" "${t_gone:-0}") s;" \
		"request at zero -> 200 $(secs "$t_req" "$t_resp") s"
done

fire=$(median <"$T_DIR/fire.ms")
zero=$(median <"$T_DIR/zero.ms")
cold=$(median <"$T_DIR/cold.ms")
{
	echo "idle window (shortened for the test): $IDLE; medians of $ROUNDS rounds"
	echo "last request -> FunctionIdle active: $(secs 0 "${fire:-0}") s (window + scrape + evaluation)"
	echo "FunctionIdle active -> replicas 0 (Alertmanager group_wait, controller): $(secs 0 "${zero:-0}") s"
	echo "request at zero -> 200 (scale from zero, cold start): $(secs 0 "${cold:-0}") s"
} | tee "$DELAYS" | sed 's/^/  /'
if [ -n "$fire" ]; then
	check "last request -> FunctionIdle within the window + 5 s" test "$fire" -le $(((IDLE_S + 5) * 1000))
	# A request is seen at the next scrape: the window counts from the
	# scrape before it, up to 1 s (the scrape interval) before the request.
	check "and not before the window (less one scrape)" test "$fire" -ge $(((IDLE_S - 2) * 1000))
fi
# group_wait 500ms for a new group; a group that still holds the last
# round's resolved alert waits for its group_interval (5 s).
[ -z "$zero" ] || check "FunctionIdle -> replicas 0 within 7 s" test "$zero" -le 7000
[ -z "$cold" ] || check "a request at zero is answered within 10 s" test "$cold" -le 10000
