#!/usr/bin/env bash
# bench/autoscale.sh: a step of load on two copies of one function, the
# concurrency autoscaler's (scale.metric: concurrency) and the Alertmanager
# path's (scale.metric: alerts, the stack's Prometheus and Alertmanager), one
# after the other on the local swarm (scripts/up.sh first, idempotent).
# The function sleeps 0.2 s a call (the sleep sample); the load is
# FX_BENCH_CONNS (8) connections for FX_BENCH_LOAD_S (30) seconds, so about 8
# calls in flight: `target: 2` asks for 4 replicas (max 4). Every 0.5 s the
# trace records replicas desired and running, the replicas the gateway sends
# the function's requests to (GET /_/concurrency "routed", with the
# controller's token) and the latency of one probe call, from 5 s before the
# load to FX_BENCH_AFTER_S (50) s after it.
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
token=$(cat "${FAAS_CONF_DIR:-$HOME/.config/faas}/controller-token")

svc_of() { docker service ls -q --filter "label=faas.function=$1" | head -n 1; }
desired() { docker service inspect -f '{{.Spec.Mode.Replicated.Replicas}}' "$(svc_of "$1")" 2>/dev/null || echo 0; }
running() {
	docker service ps --filter desired-state=running --format '{{.CurrentState}}' "$(svc_of "$1")" 2>/dev/null |
		grep -c '^Running' || true
}
# first_log SERVICE SINCE REGEX T0: ms from T0 (epoch ms) to the first log
# line of SERVICE's local containers matching REGEX at or after T0; "-" if none.
first_log() {
	local c ts
	ts=$(for c in $(docker ps -aq --filter "label=com.docker.swarm.service.name=$1"); do
		docker logs --since "$2" "$c" 2>&1
	done | grep -E "$3" | sed -n 's/^ts=\([^ ]*\) .*/\1/p' |
		while read -r t; do echo $(($(date -d "$t" +%s%N) / 1000000)); done |
		awk -v t0="$4" '$1 >= t0 { print $1 - t0 }' | sort -n | head -n 1)
	echo "${ts:--}"
}
routed() {
	curl -s --max-time 2 -H "Authorization: Bearer $token" "$GW/_/concurrency" |
		jq --arg f "$1" '[.functions[] | select(.name == $f) | .routed][0] // 0' 2>/dev/null || echo 0
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
	echo "# t_ms desired running routed probe_ms (load from 0 to $((load_s * 1000)) ms, $conns connections)" >"$trace"
	(sleep 5 && wrk -t 2 -c "$conns" -d "${load_s}s" --timeout 10s "$GW/function/$fn?s=0.2" >"$tmp/$fn.wrk" 2>&1) &
	local load_pid=$!
	while :; do
		now=$(now_ms)
		[ "$now" -lt $((t_stop + after_s * 1000)) ] || break
		local p
		p=$(curl -s -o /dev/null --max-time 5 -w '%{time_total}' "$GW/function/$fn?s=0" || echo 5)
		echo "$((now - t_start)) $(desired "$fn") $(running "$fn") $(routed "$fn") $(awk -v s="$p" 'BEGIN { printf "%d", s * 1000 }')" >>"$trace"
		t=$((now + 500 - $(now_ms)))
		[ "$t" -le 0 ] || sleep "$(awk -v ms="$t" 'BEGIN { printf "%.3f", ms / 1000 }')"
	done
	wait "$load_pid" || true
	# To the millisecond, from the logs (this host's clock): the first
	# scale-up decision and the first new replica the gateway probed ready.
	local since decided probed
	since=$(date -u -d "@$((t_start / 1000 - 5))" +%Y-%m-%dT%H:%M:%SZ)
	decided=$(first_log faas_controller "$since" "msg=scaled function=$fn .*replicas=[2-9] previous=1 " "$t_start")
	probed=$(first_log faas_gateway "$since" "msg=replica_probed_ready function=$fn replicas=[2-9]" "$t_start")
	bin/faasctl delete "$fn" >/dev/null
	# first sample after the load began with desired > 1, running > 1,
	# routed > 1, all replicas of the peak routed; first after the load
	# stopped with desired below its peak
	awk -v stop=$((load_s * 1000)) '
		/^#/ { next }
		{ t[NR] = $1; r[NR] = $4 }
		$1 >= 0 && up == "" && $2 > 1 { up = $1 }
		$1 >= 0 && run == "" && $3 > 1 { run = $1 }
		$1 >= 0 && rt == "" && $4 > 1 { rt = $1 }
		$2 > peak { peak = $2 }
		$1 >= stop && down == "" && $2 < peak { down = $1 - stop }
		END {
			for (i = 1; i <= NR; i++) if (t[i] >= 0 && t[i] < stop && all == "" && r[i] >= peak) all = t[i]
			printf "%s %s %s %s %s %d %s %s\n", up == "" ? "-" : up, run == "" ? "-" : run, rt == "" ? "-" : rt,
				all == "" ? "-" : all, down == "" ? "-" : down, peak, dec, pr
		}
	' dec="$decided" pr="$probed" "$trace"
	grep -E "Requests/sec|Non-2xx|Socket errors" "$tmp/$fn.wrk" | sed "s/^/  $fn: /" >&2 || true
}

conc=$(run_path as-concurrency '{min: 1, max: 4, metric: concurrency, target: 2, window: 20s, panicWindow: 6s}')
alerts=$(run_path as-alerts '{min: 1, max: 4, metric: alerts}')
{
	echo "step load (wrk): $conns connections x ${load_s} s, 0.2 s calls, min 1, max 4; load $(cut -d' ' -f1 /proc/loadavg)"
	printf '%-50s %12s %12s\n' "" "concurrency" "alerts"
	read -r cu cr ct ca cd cp cdec cpr <<<"$conc"
	read -r au ar at aa ad ap adec apr <<<"$alerts"
	printf '%-50s %12s %12s\n' "load start -> replicas raised (ms, sampled)" "$cu" "$au" \
		"load start -> the scale-up decision (ms, controller log)" "$cdec" "$adec" \
		"load start -> a new replica probed ready (ms, gateway log)" "$cpr" "$apr" \
		"load start -> more replicas running (ms)" "$cr" "$ar" \
		"load start -> requests reach a new replica (ms)" "$ct" "$at" \
		"load start -> all peak replicas take requests (ms)" "$ca" "$aa" \
		"load stop -> scale-down starts (ms)" "$cd" "$ad" \
		"peak replicas" "$cp" "$ap"
} | tee build/artifacts/autoscale.txt
