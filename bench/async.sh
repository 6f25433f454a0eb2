#!/usr/bin/env bash
# bench/async.sh: asynchronous calls against synchronous calls to the same
# function, in one run, on loopback: a real nats-server (JetStream, file
# store), the gateway, faas-queue-worker and an http-mode fwatchdog in front
# of bench/gateway_upstream (POST /echo answers the body).
#   1. wrk POST /function/hello/echo (sync) and POST /async-function/hello/echo
#      (async, no worker running: only the gateway and NATS), 32 connections:
#      calls per second (accepted 202 for async).
#   2. the worker started on the backlog of part 1: calls run per second.
#   3. a steady rate (BENCH_ASYNC_RATE, default 100/s, for BENCH_DURATION s)
#      with a callback to tests/tools/cb_sink: latency from the 202 to the
#      callback's arrival, p50 / p99 / max.
# Prints a Markdown block for bench/RESULTS.md ("## Asynchronous calls").
set -u
FX_ROOT=$(cd "$(dirname "$0")/.." && pwd)
export FX_ROOT
source "$FX_ROOT/bench/lib.sh"
RATE=${BENCH_ASYNC_RATE:-100}
bench_need bench/async.sh wrk nats-server
for f in "$BIN/fwatchdog" "$BIN/faas-gateway" "$BIN/faas-queue-worker" "$B/gateway_upstream" "$B/async_load" "$TOOLS/cb_sink"; do
	[ -x "$f" ] || { echo "bench/async.sh: $f is missing (make bench)" >&2; exit 1; }
done

"$(command -v nats-server)" -a 127.0.0.1 -p -1 -js -sd "$T_DIR/js" >"$T_DIR/nats.log" 2>&1 &
T_PIDS+=($!)
wait_for 10 grep -q 'Listening for client connections' "$T_DIR/nats.log" || { echo "nats-server did not start" >&2; exit 1; }
NP=$(sed -nE 's/.*Listening for client connections on [^ ]*:([0-9]+).*/\1/p' "$T_DIR/nats.log" | head -n 1)
up=$(free_port)
mkdir -p "$T_DIR/wd.tmp"
start_server wd env TMPDIR="$T_DIR/wd.tmp" port=0 mode=http fprocess="env port=$up $B/gateway_upstream" \
	upstream_url="http://127.0.0.1:$up" "$BIN/fwatchdog" || exit 1
WDP=$PORT
wait_for 10 curl -sf -o /dev/null "127.0.0.1:$WDP/" || { echo "the replica is not ready" >&2; exit 1; }
start_server gw env bind=127.0.0.1 port=0 discovery=static static_functions="hello=127.0.0.1:$WDP" \
	controller_url= basic_auth=false nats_url="nats://127.0.0.1:$NP" "$BIN/faas-gateway" || exit 1
G=http://127.0.0.1:$PORT
start_server sink "$TOOLS/cb_sink" "$T_DIR/cb.txt" || exit 1
CB=http://127.0.0.1:$PORT/cb

printf 'wrk.method = "POST"\nwrk.body = "hello"\nwrk.headers["Content-Type"] = "text/plain"\n' >"$T_DIR/post.lua"
# run LABEL URL: wrk 32 connections; sets RPS and OK (2xx answers)
run() {
	wrk -t 2 -c 32 -d "${DUR}s" --latency -s "$T_DIR/post.lua" "$2" >"$T_DIR/wrk-$1.out" 2>&1
	RPS=$(awk '/^Requests\/sec/ {printf "%d", $2}' "$T_DIR/wrk-$1.out")
	P50=$(awk '$1 == "50%" {print $2}' "$T_DIR/wrk-$1.out")
	local all non2xx
	all=$(awk '/requests in/ {print $1}' "$T_DIR/wrk-$1.out")
	non2xx=$(awk '/Non-2xx/ {print $NF}' "$T_DIR/wrk-$1.out")
	OK=$((all - ${non2xx:-0}))
}
run sync "$G/function/hello/echo"; S_RPS=$RPS S_P50=$P50 S_OK=$OK
run async "$G/async-function/hello/echo"; A_RPS=$RPS A_P50=$P50 A_OK=$OK
queued=$(curl -s "$G/metrics" | awk '/^gateway_async_queued_total/ {print $2}')

# the backlog of part 1, run by a worker (concurrency 16)
t0=$(date +%s%N)
start_server qw env bind=127.0.0.1 port=0 nats_url="nats://127.0.0.1:$NP" gateway_url="$G" \
	concurrency=16 "$BIN/faas-queue-worker" || exit 1
QW=http://127.0.0.1:$PORT
empty() { curl -s "$QW/metrics" | grep -q '^faas_async_queue_depth{function_name="hello"} 0$'; }
wait_for 300 empty || echo "bench/async.sh: the backlog did not drain in 300 s" >&2
t1=$(date +%s%N)
ran=$(curl -s "$QW/metrics" | awk '/^faas_async_completed_total\{function_name="hello",code="200"\}/ {print $2}')
drain=$(awk -v n="${ran:-0}" -v a="$t0" -v b="$t1" 'BEGIN { printf "%d", n / ((b - a) / 1e9) }')

# steady rate with callbacks
"$B/async_load" "$G/async-function/hello/echo" "$RATE" "$DUR" "$CB" lat "$T_DIR/sent.txt"
n=$((RATE * DUR))
back() { [ "$(grep -c '^lat-' "$T_DIR/cb.txt" 2>/dev/null)" -ge "$n" ]; }
wait_for 60 back || echo "bench/async.sh: not every callback arrived" >&2
lat=$(awk 'NR == FNR { if ($2 == 202) sent[$1] = $3; next } ($1 in sent) && !seen[$1]++ { printf "%.3f\n", ($4 - sent[$1]) / 1e6 }' \
	"$T_DIR/sent.txt" "$T_DIR/cb.txt" | sort -n)
cnt=$(wc -l <<<"$lat")
pct() { awk -v p="$1" -v n="$cnt" 'NR == int((n - 1) * p / 100) + 1 { print; exit }' <<<"$lat"; }
L50=$(pct 50) L99=$(pct 99) LMAX=$(tail -n 1 <<<"$lat")
ratio=$(awk -v a="$A_RPS" -v s="$S_RPS" 'BEGIN { printf "%.2f", s ? a / s : 0 }')
cat <<MD
### Run of $(date -u +'%Y-%m-%d %H:%M UTC') on $(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg) at the end

Function: \`fwatchdog\` (http mode) in front of \`bench/gateway_upstream\`; nats-server $(nats-server --version | awk '{print $NF}') with
JetStream on a file store; everything on 127.0.0.1; wrk 2 threads, 32 connections, ${DUR} s, POST 5 bytes.

| calls | per second | p50 | answered 2xx |
|---|---|---|---|
| sync \`/function/hello/echo\` (200 with the answer) | $S_RPS | $S_P50 | $S_OK |
| async \`/async-function/hello/echo\` (202 once stored) | $A_RPS | $A_P50 | $A_OK |

- Accepted async calls per second / sync calls per second: **$ratio** (the gateway counted ${queued:-?} stored).
- The worker (concurrency 16) ran that backlog at **$drain calls/s** (${ran:-0} calls).
- At a steady $RATE calls/s for ${DUR} s ($cnt callbacks): 202 -> callback **p50 ${L50} ms, p99 ${L99} ms**, max ${LMAX} ms.
MD
