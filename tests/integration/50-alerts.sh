#!/usr/bin/env bash
# alerts/: the Prometheus config and rules are valid, the rules' unit tests
# pass (promtool test rules), the Alertmanager config is valid and sends to
# the controller with its token and send_resolved.
source "$FX_ROOT/tests/lib.sh"
A=$FX_ROOT/alerts

if ! command -v promtool >/dev/null || ! command -v amtool >/dev/null; then
	t_skip "promtool and amtool" "not installed: scripts/deps.sh all installs prometheus and prometheus-alertmanager"
	exit 0
fi

# Tools' output goes to a log, printed when a check fails.
quiet() { "$@" >>"$T_DIR/promtool.log" 2>&1; }

check "promtool check config" quiet promtool check config "$A/prometheus.yml"
check "promtool check rules" quiet promtool check rules "$A"/rules/*.yml
check "promtool test rules" quiet promtool test rules "$A"/tests/*_test.yml
check "amtool check-config" quiet amtool check-config "$A/alertmanager.yml"

# The rule tests must be able to fail: the same tests against rules with one
# part broken each (the edit must change the rule).
broken() { # NAME FILE SED-SCRIPT
	local d=$T_DIR/broken-$1
	mkdir -p "$d/rules" "$d/tests"
	cp "$A"/tests/*_test.yml "$d/tests/"
	cp "$A"/rules/*.yml "$d/rules/"
	sed -i "$3" "$d/rules/$2"
	check "a broken rule fails its tests: $1" bash -c "! cmp -s '$d/rules/$2' '$A/rules/$2' && ! promtool test rules $d/tests/*_test.yml >/dev/null 2>&1"
}
broken "high rate out of reach" functions.yml 's/) > 5$/) > 100000/'
broken "idle ignores invocations" idle.yml 's/changes(gateway_function_invocation_total\[5m\]) > 0/changes(gateway_function_invocation_total[5m]) > 1e9/'
broken "idle ignores a first invocation" idle.yml 's/(gateway_function_invocation_total unless gateway_function_invocation_total offset 5m)/(gateway_function_invocation_total offset 5m)/'
broken "idle ignores a recent scale from zero" idle.yml 's/min_over_time(gateway_service_count\[5m\])/gateway_service_count/'
broken "idle fires for a new function" idle.yml 's/(gateway_service_count offset 5m)/(gateway_service_count)/'
broken "idle fires at zero replicas" idle.yml 's/\[5m\])) > 0$/[5m])) >= 0/'

am=$(cat "$A/alertmanager.yml")
expect_match "alertmanager sends resolved alerts" 'send_resolved: true' "$am"
expect_match "alertmanager uses the controller token" 'credentials_file: /run/secrets/faas-controller-token' "$am"
expect_match "alertmanager posts to the controller" 'url: http://controller:8081/alerts' "$am"
# FunctionIdle reaches the controller's receiver, repeated every 1m (a longer
# scale.zeroDuration is checked on each repeat).
expect_match "FunctionIdle repeats every 1m" 'alertname="FunctionIdle"\][[:space:]]+repeat_interval: 1m' "$am"
route=$(amtool config routes test --config.file="$A/alertmanager.yml" alertname=FunctionIdle function_name=echo 2>/dev/null)
expect_eq "FunctionIdle is routed to the controller" controller "$route"
expect_match "prometheus discovers the gateways by DNS" 'names: \[tasks.gateway\]' "$(cat "$A/prometheus.yml")"
