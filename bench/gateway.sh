#!/usr/bin/env bash
# bench/gateway.sh: the gateway against its baselines, all in one run, on loopback.
#   1. wrk to an http-mode fwatchdog directly, through nginx (keep-alive reverse
#      proxy, Debian's nginx-light) and through the gateway: throughput and p50.
#   2. 1,000 concurrent keep-alive connections through the gateway for 30 s:
#      errors and the gateway's peak RSS.
#   3. three replicas behind the gateway: each one's share of the requests.
# Prints a Markdown block for bench/RESULTS.md ("## Gateway").
# BENCH_DURATION (s, default 10) sets the length of the runs of part 1;
# FWATCHDOG overrides the watchdog binary (default bin/fwatchdog).
set -u
FX_ROOT=$(cd "$(dirname "$0")/.." && pwd)
export FX_ROOT
source "$FX_ROOT/bench/lib.sh"
bench_need bench/gateway.sh wrk nginx
WD=${FWATCHDOG:-$BIN/fwatchdog}
if [ ! -x "$WD" ] || [ ! -x "$BIN/faas-gateway" ] || [ ! -x "$B/gateway_upstream" ]; then
	echo "bench/gateway.sh: run make all and the bench tools first (make bench)" >&2
	exit 1
fi

# replica NAME: an http-mode watchdog with its own gateway_upstream; sets PORT.
replica() {
	local up
	up=$(free_port)
	mkdir -p "$T_DIR/$1.tmp"
	start_server "$1" env TMPDIR="$T_DIR/$1.tmp" port=0 mode=http fprocess="env port=$up $B/gateway_upstream" \
		upstream_url="http://127.0.0.1:$up" "$WD" || exit 1
	wait_for 10 curl -sf -o /dev/null "127.0.0.1:$PORT/" || { echo "replica $1 not ready" >&2; exit 1; }
}

# to_ms "245.00us" | "1.20ms" | "2.00s" -> milliseconds
to_ms() { awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n += 0; else if (v ~ /s$/) n *= 1000; printf "%.3f", n }'; }

# run LABEL URL CONNS SECS: wrk; sets RPS P50 (ms) ERRS (non-2xx + socket errors)
run() {
	local t=2
	[ "$3" -lt 2 ] && t=1
	wrk -t "$t" -c "$3" -d "${4}s" --latency "$2" >"$T_DIR/wrk-$1.out" 2>&1
	RPS=$(awk '/^Requests\/sec/ {printf "%d", $2}' "$T_DIR/wrk-$1.out")
	P50=$(to_ms "$(awk '$1 == "50%" {print $2}' "$T_DIR/wrk-$1.out")")
	ERRS=$(wrk_errors "$T_DIR/wrk-$1.out")
}

replica one
WDP=$PORT
# The gateway runs with its image's environment (scripts/images.sh).
GW_ENV=(GLIBC_TUNABLES=glibc.malloc.tcache_count=0)
start_server gw env "${GW_ENV[@]}" bind=127.0.0.1 port=0 discovery=static static_functions="hello=127.0.0.1:$WDP" \
	controller_url= basic_auth=false "$BIN/faas-gateway" || exit 1
GW=$PORT GW_PID=$PID

NP=$(free_port)
nginx_proxy "$NP" "$WDP"
wait_for 5 curl -sf -o /dev/null "127.0.0.1:$NP/" || { echo "nginx did not start" >&2; cat "$T_DIR/nginx.log" >&2; exit 1; }

# warm up every path
for u in "127.0.0.1:$WDP/" "127.0.0.1:$NP/" "127.0.0.1:$GW/function/hello"; do
	wrk -t 1 -c 8 -d 1s "http://$u" >/dev/null 2>&1
done

run direct "http://127.0.0.1:$WDP/" 32 "$DUR"; D_RPS=$RPS D_P50=$P50 D_ERR=$ERRS
run nginx "http://127.0.0.1:$NP/" 32 "$DUR"; N_RPS=$RPS N_P50=$P50 N_ERR=$ERRS
run gateway "http://127.0.0.1:$GW/function/hello" 32 "$DUR"; G_RPS=$RPS G_P50=$P50 G_ERR=$ERRS
# p50 added at low load (one connection), where it is latency and not queueing
run direct1 "http://127.0.0.1:$WDP/" 1 "$DUR"; D1_P50=$P50
run gateway1 "http://127.0.0.1:$GW/function/hello" 1 "$DUR"; G1_P50=$P50
run nginx1 "http://127.0.0.1:$NP/" 1 "$DUR"; N1_P50=$P50

# 1,000 connections for 30 s, RSS sampled. wrk's own timeout is raised to 10 s:
# on a loaded 2-core machine a slow answer is not an error of the gateway's.
wrk -t 2 -c 1000 -d 10s --timeout 10s "http://127.0.0.1:$WDP/" >"$T_DIR/wrk-1000d.out" 2>&1
KD_RPS=$(awk '/^Requests\/sec/ {printf "%d", $2}' "$T_DIR/wrk-1000d.out")
KD_ERR=$(wrk_errors "$T_DIR/wrk-1000d.out")
rss0=$(rss_kib "$GW_PID")
maxrss=$rss0
wrk -t 2 -c 1000 -d 30s --timeout 10s --latency "http://127.0.0.1:$GW/function/hello" >"$T_DIR/wrk-1000.out" 2>&1 &
wp=$!
while kill -0 $wp 2>/dev/null; do
	r=$(rss_kib "$GW_PID")
	[ "${r:-0}" -gt "$maxrss" ] && maxrss=$r
	sleep 0.5
done
wait $wp
rss_after0=$(rss_kib "$GW_PID")
sleep 3 # the gateway trims its heap after a second without requests
rss_after=$(rss_kib "$GW_PID")
K_RPS=$(awk '/^Requests\/sec/ {printf "%d", $2}' "$T_DIR/wrk-1000.out")
K_REQ=$(awk '/requests in/ {print $1}' "$T_DIR/wrk-1000.out")
K_ERR=$(wrk_errors "$T_DIR/wrk-1000.out")
K_P99=$(awk '$1 == "99%" {print $2}' "$T_DIR/wrk-1000.out")

# three replicas
replica r1; R1=$PORT
replica r2; R2=$PORT
replica r3; R3=$PORT
start_server gw3 env "${GW_ENV[@]}" bind=127.0.0.1 port=0 discovery=static \
	static_functions="hello=127.0.0.1:$R1,127.0.0.1:$R2,127.0.0.1:$R3" controller_url= basic_auth=false \
	"$BIN/faas-gateway" || exit 1
G3=$PORT
count() { curl -s "127.0.0.1:$1/metrics" | awk '/^http_requests_total\{code="200"\}/ {print $2}'; }
b1=$(count "$R1") b2=$(count "$R2") b3=$(count "$R3")
run three "http://127.0.0.1:$G3/function/hello" 32 5; T_ERR=$ERRS
c1=$(($(count "$R1") - b1)) c2=$(($(count "$R2") - b2)) c3=$(($(count "$R3") - b3))
tot=$((c1 + c2 + c3))
share() { awk -v a="$1" -v t="$tot" 'BEGIN { printf "%.1f%%", t ? 100 * a / t : 0 }'; }

ratio=$(awk -v g="$G_RPS" -v n="$N_RPS" 'BEGIN { printf "%.2f", n ? g / n : 0 }')
added=$(awk -v g="$G1_P50" -v d="$D1_P50" 'BEGIN { printf "%.3f", g - d }')
added32=$(awk -v g="$G_P50" -v d="$D_P50" 'BEGIN { printf "%.3f", g - d }')
cat <<EOF
### Run of $(date -u +'%Y-%m-%d %H:%M UTC') on $(nproc) cores ($(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)), $(awk '/MemTotal/ {printf "%d GiB", $2 / 1048576}' /proc/meminfo)

Upstream: \`fwatchdog\` in http mode in front of \`bench/gateway_upstream\` (200 "hello"), all on 127.0.0.1;
wrk 2 threads; part 1 runs ${DUR} s each.

| path | conns | req/s | p50 | errors |
|---|---|---|---|---|
| wrk -> watchdog (direct) | 32 | $D_RPS | ${D_P50} ms | $D_ERR |
| wrk -> nginx -> watchdog | 32 | $N_RPS | ${N_P50} ms | $N_ERR |
| wrk -> faas-gateway -> watchdog | 32 | $G_RPS | ${G_P50} ms | $G_ERR |
| direct / nginx / gateway, p50 | 1 | | ${D1_P50} / ${N1_P50} / ${G1_P50} ms | |

- Throughput, gateway / nginx: **$ratio** (target >= 0.9).
- p50 added by the gateway over the watchdog direct: **${added} ms** at 1 connection (target <= 0.2 ms); ${added32} ms at 32.
- 1,000 keep-alive connections, 30 s: $K_REQ requests ($K_RPS req/s, p99 $K_P99), **$K_ERR errors**,
  gateway RSS ${rss0} KiB idle, **peak $((maxrss / 1024)) MiB** (target <= 32 MiB),
  ${rss_after0} KiB when the load stops, **${rss_after} KiB 3 s later** (target: back to idle, <= 6 MiB);
  baseline, 1,000 connections straight to the watchdog for 10 s: $KD_RPS req/s, $KD_ERR errors.
- Machine load (1-minute average) at the end: $(cut -d' ' -f1 /proc/loadavg).
- Three replicas, $tot requests: **$(share $c1) / $(share $c2) / $(share $c3)** (target 25%..42% each), $T_ERR errors.
EOF
