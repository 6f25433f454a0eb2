#!/usr/bin/env bash
# bench/coldstart.sh: scale from zero on the local swarm (the platform `make up`
# runs; scripts/up.sh is run first, idempotent).
#   1. FX_BENCH_ROUNDS (20) cold starts of one function: scaled to 0 through
#      the API, its container gone and the gateway showing 0 replicas, then one
#      request through the gateway; request -> answer, and where the time went
#      from docker events and the gateway's and controller's logs:
#        controller changed the service (controller: scaled source=api)
#        the gateway had its answer (gateway: scale_from_zero)
#        Swarm created the container (docker event: container create)
#        the container started (docker event: container start)
#        the gateway found it ready (gateway: replica_probed_ready, or DNS)
#        the answer
#   2. FX_BENCH_CONCURRENT (20) first requests at once to the function at 0.
# Prints p50/p99/max, failures, and the median of each step (also in
# build/artifacts/coldstart.txt; each round's steps in coldstart-rounds.txt).
# Removes its function. Single node: the logs are read from local containers.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${FX_BENCH_ROUNDS:-20}
conc=${FX_BENCH_CONCURRENT:-20}
GW=http://127.0.0.1:${FAAS_PORT:-8080}
FN=cold-bench
OUT=build/artifacts/coldstart.txt
tmp=$(mktemp -d)
now_ms() { echo $(($(date +%s%N) / 1000000)); }
svc_of() { docker service ls -q --filter "label=faas.function=$FN" | head -n 1; }
events_pid=
cleanup() {
	[ -z "$events_pid" ] || kill "$events_pid" 2>/dev/null || true
	bin/faasctl delete "$FN" >/dev/null 2>&1 || true
	rm -rf "$tmp"
}
trap cleanup EXIT

for t in docker jq curl; do
	command -v "$t" >/dev/null || { echo "bench/coldstart: $t is missing (scripts/deps.sh all)" >&2; exit 1; }
done
[ -x bin/faasctl ] || { echo "bench/coldstart: run make first" >&2; exit 1; }
scripts/up.sh >"$tmp/up.log" 2>&1 || { tail -n 20 "$tmp/up.log" >&2; exit 1; }
mkdir -p build/artifacts

image=$(sed -n 's/^FAAS_ECHO_IMAGE=//p' build/images.env)
printf 'apiVersion: faas/v1\nkind: Function\nmetadata: {name: %s}\nspec:\n  image: %s\n  fprocess: cat\n  scale: {min: 1, max: 4, zero: true}\n' \
	"$FN" "$image" >"$tmp/fn.yaml"
bin/faasctl apply -f "$tmp/fn.yaml" >/dev/null

# until CMD succeeds, at most $1 seconds
until_s() {
	local end=$((SECONDS + $1))
	shift
	until "$@"; do
		[ $SECONDS -lt $end ] || return 1
		sleep 0.1
	done
}
answers() { [ "$(curl -s --max-time 2 -d x "$GW/function/$FN")" = x ]; }
until_s 60 answers || { echo "bench/coldstart: $FN never answered" >&2; exit 1; }
no_container() { [ -z "$(docker ps -q --filter "label=com.docker.swarm.service.name=$FN")" ]; }
gw_zero() { curl -s "$GW/metrics" | grep -q "^gateway_service_count{function_name=\"$FN\"} 0$"; }
to_zero() {
	bin/faasctl scale "$FN" --replicas 0 >/dev/null
	until_s 60 no_container && until_s 10 gw_zero
}

# --- 1. one request at a time
since=$(date -u +%Y-%m-%dT%H:%M:%SZ)
# Docker keeps only the last 256 events (health checks fill that in seconds):
# they are streamed to a file while the rounds run.
docker events --filter type=container --filter "label=com.docker.swarm.service.name=$FN" \
	--format '{{.TimeNano}} {{.Action}}' >"$tmp/docker-events" &
events_pid=$!
: >"$tmp/rounds"
fails=0
for i in $(seq 1 "$rounds"); do
	to_zero || { echo "bench/coldstart: $FN did not reach 0" >&2; exit 1; }
	sleep 0.5
	t0=$(now_ms)
	code=$(curl -s -o /dev/null --max-time 30 -w '%{http_code}' -d "round $i" "$GW/function/$FN" || true)
	t1=$(now_ms)
	[ "$code" = 200 ] || fails=$((fails + 1))
	echo "$t0 $t1 $code" >>"$tmp/rounds"
	printf '  round %d: %s in %d ms\n' "$i" "$code" $((t1 - t0))
	sleep 1 # the replica settles (DNS lists it) before the next scale-down
done

# --- 2. concurrent first requests
to_zero || { echo "bench/coldstart: $FN did not reach 0" >&2; exit 1; }
sleep 0.5
pids=()
for j in $(seq 1 "$conc"); do
	curl -s -o /dev/null --max-time 30 -w '%{http_code} %{time_total}\n' -d "c$j" "$GW/function/$FN" >"$tmp/c.$j" &
	pids+=("$!")
done
wait "${pids[@]}"
cat "$tmp"/c.* >"$tmp/conc"
sleep 1

# --- the steps, from the logs and events (all on this host's clock)
kill "$events_pid" 2>/dev/null || true
ms_of_ts() { # logfmt lines -> "ms msg"
	sed -n "s/^ts=\([^ ]*\) .* msg=\([a-z_]*\) .*function=$FN\b.*/\1 \2/p" |
		while read -r ts msg; do echo "$(($(date -d "$ts" +%s%N) / 1000000)) $msg"; done
}
logs_of() { # SERVICE: its local containers' log lines since the start
	local c
	for c in $(docker ps -aq --filter "label=com.docker.swarm.service.name=$1"); do
		docker logs --since "$since" "$c" 2>&1
	done
}
{
	logs_of faas_gateway | grep -E "msg=(scale_from_zero|replica_probed_ready) " | ms_of_ts || true
	logs_of faas_controller | grep -E "msg=scaled .*source=api" | grep -v 'replicas=0 ' | ms_of_ts || true
	awk '$2 == "create" || $2 == "start" { print substr($1, 1, 13), "container_" $2 }' "$tmp/docker-events"
} | sort -n >"$tmp/events"
cp "$tmp/events" build/artifacts/coldstart-events.txt

# For each round, the first of each step inside [request, answer].
awk -v steps="scaled scale_from_zero container_create container_start replica_probed_ready" '
	NR == FNR { ev_ms[NR] = $1; ev[NR] = $2; nev = NR; next }
	{
		t0 = $1; t1 = $2; prev = t0; line = ""
		n = split(steps, s, " ")
		for (k = 1; k <= n; k++) {
			at = ""
			for (e = 1; e <= nev; e++)
				if (ev[e] == s[k] && ev_ms[e] >= t0 - 5 && ev_ms[e] <= t1 + 5) { at = ev_ms[e]; break }
			if (at == "") { line = line " -"; continue }
			line = line " " (at - prev); prev = at
		}
		print (t1 - t0) line " " (t1 - prev)
	}' "$tmp/events" "$tmp/rounds" >"$tmp/steps"

pct() { sort -n | awk -v p="$1" '{v[NR] = $1} END { if (NR) { i = int(NR * p / 100 + 0.999); if (i < 1) i = 1; print v[i] } }'; }
col() { awk -v c="$1" '$c != "-" { print $c }' "$tmp/steps"; }
{
	echo "cold starts from zero, $FN ($image), $rounds rounds, one request each; load $(cut -d' ' -f1 /proc/loadavg)"
	echo "request -> answer: p50 $(col 1 | pct 50) ms, p99 $(col 1 | pct 99) ms, max $(col 1 | pct 100) ms, failed $fails"
	echo "median of each step (ms; a step not seen in a round is left out):"
	i=2
	for s in "request -> the controller changed the service" "-> the gateway had its answer" \
		"-> Swarm created the container" "-> container started" \
		"-> gateway found it ready (its own probe)" "-> answer"; do
		echo "  $s: $(col $i | pct 50)"
		i=$((i + 1))
	done
	echo "$conc concurrent first requests at 0: $(grep -c '^200 ' "$tmp/conc") answered 200;" \
		"p50 $(awk '{print $2 * 1000}' "$tmp/conc" | pct 50 | cut -d. -f1) ms," \
		"max $(awk '{print $2 * 1000}' "$tmp/conc" | pct 100 | cut -d. -f1) ms"
} | tee "$OUT"
cp "$tmp/steps" build/artifacts/coldstart-rounds.txt
[ "$fails" = 0 ] && [ "$(grep -c '^200 ' "$tmp/conc")" = "$conc" ]
