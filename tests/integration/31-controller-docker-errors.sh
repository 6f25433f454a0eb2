#!/usr/bin/env bash
# The controller against a Docker engine that answers badly (a fake one on
# tcp://127.0.0.1): not a swarm manager, replies that are not JSON, replies
# over the cap. Every answer is a clear 5xx, never a crash.
# shellcheck source=tests/lib.sh
source "$(dirname "$0")/../lib.sh"

tok=$T_DIR/token
echo "tok" >"$tok"
auth=(-H "Authorization: Bearer tok")
fn='apiVersion: faas/v1
kind: Function
metadata: {name: echo}
spec: {image: faas/echo:1}
'

for mode in not-manager garbage huge; do
	start_server "docker-$mode" "$TOOLS/fake_docker" "$mode" || exit 1
	DOCKER_HOST=tcp://127.0.0.1:$PORT start_server "ctl-$mode" "$BIN/faas-controller" \
		--port 0 --bind 127.0.0.1 --token-file "$tok" || exit 1
	base=http://127.0.0.1:$PORT
	put=$(curl -s -w '\n%{http_code}' -X PUT "${auth[@]}" --data-binary "$fn" "$base/apis/faas/v1/functions/echo")
	list=$(curl -s -w '\n%{http_code}' "$base/apis/faas/v1/functions")
	case $mode in
	not-manager)
		expect_eq "not a manager: PUT is 503" 503 "${put##*$'\n'}"
		expect_match "and says to join or init a swarm" 'not a swarm manager \(docker swarm init' "$(jq -r .error <<<"${put%$'\n'*}")"
		expect_eq "not a manager: list is 503" 503 "${list##*$'\n'}"
		;;
	garbage)
		expect_eq "a reply that is not JSON: PUT is 502" 502 "${put##*$'\n'}"
		expect_match "and says the reply is not JSON" 'reply is not JSON' "$(jq -r .error <<<"${put%$'\n'*}")"
		expect_eq "a reply that is not JSON: list is 502" 502 "${list##*$'\n'}"
		;;
	huge)
		expect_eq "a reply over the cap: list is 502" 502 "${list##*$'\n'}"
		expect_match "and says it is too large" 'larger than' "$(jq -r .error <<<"${list%$'\n'*}")"
		;;
	esac
	check "$mode: the controller is still running" kill -0 "$PID"
	check "$mode: healthz still answers" curl -sf "$base/healthz" -o /dev/null
done
