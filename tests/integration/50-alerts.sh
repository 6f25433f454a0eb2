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

# The rule tests must be able to fail: the same tests against a rule whose
# threshold is out of reach.
mkdir -p "$T_DIR/broken/rules" "$T_DIR/broken/tests"
cp "$A"/tests/*_test.yml "$T_DIR/broken/tests/"
sed 's/) > 5$/) > 100000/' "$A/rules/functions.yml" >"$T_DIR/broken/rules/functions.yml"
check "a broken rule fails its tests" bash -c "! promtool test rules $T_DIR/broken/tests/*_test.yml >/dev/null 2>&1"

am=$(cat "$A/alertmanager.yml")
expect_match "alertmanager sends resolved alerts" 'send_resolved: true' "$am"
expect_match "alertmanager uses the controller token" 'credentials_file: /run/secrets/faas-controller-token' "$am"
expect_match "alertmanager posts to the controller" 'url: http://controller:8081/alerts' "$am"
expect_match "prometheus discovers the gateways by DNS" 'names: \[tasks.gateway\]' "$(cat "$A/prometheus.yml")"
