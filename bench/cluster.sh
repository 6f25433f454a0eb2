#!/usr/bin/env bash
# bench/cluster.sh: the platform on the three-engine test swarm of
# scripts/cluster.sh (make cluster-up; brought up here when it is not).
#   1. throughput through n1's gateway (wrk, 8 connections, FX_BENCH_SECONDS
#      each, median of FX_BENCH_ROUNDS runs) to a function whose one replica
#      runs on n1 (same node: the single-node path) and on n2 (another node:
#      over the overlay), for a fork-mode function (cat) and an http-mode one
#      (hello-http); the ratio remote/same.
#   2. node loss: a function with 6 replicas on the three nodes, wrk (8
#      connections, GET) through n1's gateway, n3 killed after 5 s (link down,
#      SIGKILL for its engine and containers): failed requests, the longest
#      request, and the time until 6 replicas run again on n1 and n2; n3 is
#      started again after each round.
# Leaves the cluster up (make cluster-down removes it). One line per figure.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${FX_BENCH_SECONDS:-10}
rounds=${FX_BENCH_ROUNDS:-3}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
now_ms() { echo $(($(date +%s%N) / 1000000)); }
say() { echo "cluster: $*"; }

command -v wrk >/dev/null || { echo "bench/cluster: wrk is missing (scripts/deps.sh all)" >&2; exit 1; }
scripts/cluster.sh up >"$tmp/up.log" 2>&1 || { tail -n 30 "$tmp/up.log" >&2; exit 1; }
# shellcheck source=/dev/null
source build/cluster/env
set -a
# shellcheck source=/dev/null
source build/images-registry.env
set +a
GW=http://10.213.0.11:${FAAS_PORT:-8080}

# fn NAME IMAGE REPLICAS NODE|"" [SPEC LINE...]
fn() {
	local name=$1 image=$2 n=$3 node=$4
	shift 4
	{
		printf 'apiVersion: faas/v1\nkind: Function\nmetadata: {name: %s}\n' "$name"
		printf 'spec:\n  image: "%s"\n  scale: {min: %s, max: %s, factor: 0}\n' "$image" "$n" "$n"
		[ -z "$node" ] || printf '  constraints: ["node.labels.faas.cluster.node==%s"]\n' "$node"
		[ $# -eq 0 ] || printf '  %s\n' "$@"
	} >"$tmp/$name.yaml"
	set -- "$name" "$image" "" "" "$n"
	bin/faasctl apply -f "$tmp/$1.yaml" >/dev/null
	local t
	t=$(now_ms)
	until [ "$(docker service ps -q --filter desired-state=running "$1" 2>/dev/null | wc -l)" -eq "$5" ] &&
		curl -fsS -o /dev/null --max-time 5 "$GW/function/$1" 2>/dev/null; do
		[ $(($(now_ms) - t)) -lt 180000 ] || { echo "bench/cluster: $1 never became ready" >&2; exit 1; }
		sleep 0.5
	done
}
rps() { wrk -t2 -c8 -d"${secs}s" --timeout 10s "$GW/function/$1" | sed -nE 's/^Requests\/sec: *([0-9.]+).*/\1/p'; }
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# 1. same node vs another node
for kind in fork http; do
	for where in same remote; do
		node=n1
		[ "$where" = same ] || node=n2
		if [ "$kind" = fork ]; then
			fn "bench-$kind-$where" "$FAAS_WATCHDOG_IMAGE" 1 "$node" "fprocess: cat"
		else
			fn "bench-$kind-$where" "$FAAS_HELLO_HTTP_IMAGE" 1 "$node" "fprocess: httpd -f -p 127.0.0.1:8000 -h /www" \
				"mode: http" 'env: {upstream_url: "http://127.0.0.1:8000"}'
		fi
	done
	for where in same remote; do
		for _ in $(seq "$rounds"); do rps "bench-$kind-$where"; done | median >"$tmp/$kind-$where"
	done
	s=$(cat "$tmp/$kind-same")
	r=$(cat "$tmp/$kind-remote")
	say "$kind mode, 1 replica, n1's gateway: same node $s req/s, other node $r req/s (median of $rounds x ${secs}s, wrk -c8): remote/same $(awk -v a="$r" -v b="$s" 'BEGIN { printf "%.2f", a / b }')"
	bin/faasctl delete "bench-$kind-same" >/dev/null 2>&1 || true
	bin/faasctl delete "bench-$kind-remote" >/dev/null 2>&1 || true
done

# 2. node loss
fn bench-loss "$FAAS_WATCHDOG_IMAGE" 6 "" "fprocess: cat /etc/hostname"
for round in $(seq "$rounds"); do
	# Spread again (a round after the first starts with n3 empty).
	if [ "$round" -gt 1 ]; then
		docker service update --force --detach bench-loss >/dev/null
		sleep 5
		fn bench-loss "$FAAS_WATCHDOG_IMAGE" 6 "" "fprocess: cat /etc/hostname"
	fi
	lost=$(docker service ps -q --filter desired-state=running bench-loss | xargs docker inspect -f '{{.NodeID}}' |
		grep -c "$(DOCKER_HOST=unix:///var/lib/faas-cluster/run/n3/docker.sock docker info -f '{{.Swarm.NodeID}}')" || true)
	wrk -t2 -c8 -d20s --timeout 10s "$GW/function/bench-loss" >"$tmp/wrk.txt" 2>&1 &
	w=$!
	sleep 5
	t=$(now_ms)
	scripts/cluster.sh kill n3 >/dev/null 2>&1
	n3=$(docker node ls -q | while read -r id; do
		[ "$(docker node inspect -f '{{index .Spec.Labels "faas.cluster.node"}}' "$id")" = n3 ] && echo "$id"; done)
	until [ "$(docker service ps -q --filter desired-state=running bench-loss | xargs docker inspect \
		-f '{{.NodeID}} {{.Status.State}}' | grep -v "^$n3 " | grep -c ' running$')" -ge 6 ]; do
		[ $(($(now_ms) - t)) -lt 120000 ] || break
		sleep 0.2
	done
	back=$(($(now_ms) - t))
	wait "$w"
	total=$(sed -nE 's/^ *([0-9]+) requests in.*/\1/p' "$tmp/wrk.txt")
	non2xx=$(sed -nE 's/.*Non-2xx or 3xx responses: ([0-9]+).*/\1/p' "$tmp/wrk.txt")
	sockerr=$(sed -nE 's/.*Socket errors: connect ([0-9]+), read ([0-9]+), write ([0-9]+), timeout ([0-9]+).*/\1 \2 \3 \4/p' "$tmp/wrk.txt" |
		awk '{ print $1 + $2 + $3 + $4 }')
	maxlat=$(awk '/^ +Latency / { print $4 }' "$tmp/wrk.txt")
	say "node loss, round $round: $lost of 6 replicas on n3; $total requests in 20 s, $((${non2xx:-0} + ${sockerr:-0})) failed, longest $maxlat; 6 replicas running again $(awk -v ms="$back" 'BEGIN { printf "%.1f", ms / 1000 }') s after the kill"
	scripts/cluster.sh start n3 >/dev/null 2>&1
	until [ "$(docker node ls --format '{{.Status}}' | grep -c Ready)" -eq 3 ]; do sleep 0.5; done
done
bin/faasctl delete bench-loss >/dev/null 2>&1 || true
