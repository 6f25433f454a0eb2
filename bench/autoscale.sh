#!/usr/bin/env bash
# bench/autoscale.sh: a step of load on two copies of one function, the
# concurrency autoscaler's (scale.metric: concurrency) and the Alertmanager
# path's (scale.metric: alerts, the stack's Prometheus and Alertmanager), one
# after the other on the local swarm (scripts/up.sh first, idempotent).
# The function sleeps 0.2 s a call (the sleep sample); the load is
# FX_BENCH_CONNS (8) connections for FX_BENCH_LOAD_S (30) seconds, so about 8
# calls in flight: `target: 2` asks for 4 replicas (max 4). Every 0.5 s the
# trace records replicas desired and running and the latency of one probe
# call, from 5 s before the load to FX_BENCH_AFTER_S (50) s after it.
# Prints the reaction figures of each path side by side; the traces are in
# build/artifacts/autoscale-{concurrency,alerts}.txt. Removes its functions.
set -euo pipefail
cd "$(dirname "$0")/.."
conns=${FX_BENCH_CONNS:-8}
load_s=${FX_BENCH_LOAD_S:-30}
after_s=${FX_BENCH_AFTER_S:-50}
GW=http://127.0.0.1:${FAAS_PORT:-8080}
tmp=$(mktemp -d)
now_ms() { echo $(($(date +%s%N) / 1000000)); }
cleanup() {
	bin/faasctl delete as-concurrency >/dev/null 2>&1 || true
	bin/faasctl delete as-alerts >/dev/null 2>&1 || true
	rm -rf "$tmp"
}
trap cleanup EXIT
for t in docker curl wrk; do
	command -v "$t" >/dev/null || { echo "bench/autoscale: $t is missing (scripts/deps.sh all)" >&2; exit 1; }
done
[ -x bin/faasctl ] || { echo "bench/autoscale: run make first" >&2; exit 1; }
scripts/up.sh >"$tmp/up.log" 2>&1 || { tail -n 20 "$tmp/up.log" >&2; exit 1; }
mkdir -p build/artifacts
image=$(sed -n 's/^FAAS_SLEEP_IMAGE=//p' build/images.env)

svc_of() { docker service ls -q --filter "label=faas.function=$1" | head -n 1; }
desired() { docker service inspect -f '{{.Spec.Mode.Replicated.Replicas}}' "$(svc_of "$1")" 2>/dev/null || echo 0; }
running() {
	docker service ps --filter desired-state=running --format '{{.CurrentState}}' "$(svc_of "$1")" 2>/dev/null |
		grep -c '^Running' || true
}

# run_path NAME SCALE: applies NAME, steps the load, writes the trace and
# prints "decision up, running up, down start" in ms from the load's edges.
run_path() {
	local fn=$1 scale=$2 trace=build/artifacts/autoscale-${1#as-}.txt
	printf 'apiVersion: faas/v1\nkind: Function\nmetadata: {name: %s}\nspec:\n  image: %s\n  fprocess: sleepy\n  scale: %s\n' \
		"$fn" "$image" "$scale" >"$tmp/$fn.yaml"
	bin/faasctl apply -f "$tmp/$fn.yaml" >/dev/null
	local end=$((SECONDS + 60))
	until [ "$(curl -s --max-time 2 "$GW/function/$fn?s=0")" = "slept 0s" ]; do
		[ $SECONDS -lt $end ] || { echo "bench/autoscale: $fn never answered" >&2; return 1; }
		sleep 0.2
	done
	sleep 5
	local t_start t_stop t now
	t_start=$(($(now_ms) + 5000))
	t_stop=$((t_start + load_s * 1000))
	echo "# t_ms desired running probe_ms (load from 0 to $((load_s * 1000)) ms, $conns connections)" >"$trace"
	(sleep 5 && wrk -t 2 -c "$conns" -d "${load_s}s" --timeout 10s "$GW/function/$fn?s=0.2" >"$tmp/$fn.wrk" 2>&1) &
	local load_pid=$!
	while :; do
		now=$(now_ms)
		[ "$now" -lt $((t_stop + after_s * 1000)) ] || break
		local p
		p=$(curl -s -o /dev/null --max-time 5 -w '%{time_total}' "$GW/function/$fn?s=0" || echo 5)
		echo "$((now - t_start)) $(desired "$fn") $(running "$fn") $(awk -v s="$p" 'BEGIN { printf "%d", s * 1000 }')" >>"$trace"
		t=$((now + 500 - $(now_ms)))
		[ "$t" -le 0 ] || sleep "$(awk -v ms="$t" 'BEGIN { printf "%.3f", ms / 1000 }')"
	done
	wait "$load_pid" || true
	bin/faasctl delete "$fn" >/dev/null
	# first sample after the load began with desired > 1, running > 1; first
	# after the load stopped with desired below its peak
	awk -v stop=$((load_s * 1000)) '
		/^#/ { next }
		$1 >= 0 && up == "" && $2 > 1 { up = $1 }
		$1 >= 0 && run == "" && $3 > 1 { run = $1 }
		$2 > peak { peak = $2 }
		$1 >= stop && down == "" && $2 < peak { down = $1 - stop }
		END { printf "%s %s %s %d\n", up == "" ? "-" : up, run == "" ? "-" : run, down == "" ? "-" : down, peak }
	' "$trace"
	grep -E "Requests/sec|Non-2xx|Socket errors" "$tmp/$fn.wrk" | sed "s/^/  $fn: /" >&2 || true
}

conc=$(run_path as-concurrency '{min: 1, max: 4, metric: concurrency, target: 2, window: 20s, panicWindow: 6s}')
alerts=$(run_path as-alerts '{min: 1, max: 4, metric: alerts}')
{
	echo "step load (wrk): $conns connections x ${load_s} s, 0.2 s calls, min 1, max 4; load $(cut -d' ' -f1 /proc/loadavg)"
	printf '%-44s %14s %14s\n' "" "concurrency" "alerts"
	read -r cu cr cd cp <<<"$conc"
	read -r au ar ad ap <<<"$alerts"
	printf '%-44s %14s %14s\n' "load start -> replicas raised (ms)" "$cu" "$au" \
		"load start -> more replicas running (ms)" "$cr" "$ar" \
		"load stop -> scale-down starts (ms)" "$cd" "$ad" \
		"peak replicas" "$cp" "$ap"
} | tee build/artifacts/autoscale.txt
