#!/usr/bin/env bash
# bench/watchdog.sh: fwatchdog's figures, each next to its baseline measured
# in the same run, on loopback (wrk as the client).
#   fork mode (fprocess=cat)  vs  bench/spawn_floor (spawn+pipe+write+read+wait, no HTTP)
#   http mode                 vs  nginx as a keep-alive reverse proxy, and the upstream direct
#   RSS idle and under 64 connections
# BENCH_SECONDS (default 5) per measurement; BENCH_CONC (default 2) for fork
# mode; BENCH_ROUNDS (default 3) alternating rounds, the best of each kept
# (best throughput, lowest percentile), since other work shares the machine.
# Prints a markdown block for bench/RESULTS.md. Exit 0 when it ran (targets
# are reported, not enforced: the machine is shared).
set -u
cd "$(dirname "$0")/.." || exit 1
ROOT=$PWD
W=$ROOT/bin/fwatchdog
FLOOR=$ROOT/build/rel/bench/spawn_floor
UP=$ROOT/build/rel/tests/tools/wd_upstream
D=${BENCH_SECONDS:-5}
C=${BENCH_CONC:-2}
TMP=$(mktemp -d /tmp/fx-bench-watchdog.XXXXXX)
PIDS=()
cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
	rm -rf "$TMP"
}
trap cleanup EXIT
for t in wrk nginx; do
	command -v "$t" >/dev/null || { echo "bench/watchdog.sh: $t missing (scripts/deps.sh all)" >&2; exit 1; }
done
for f in "$W" "$FLOOR" "$UP"; do
	[ -x "$f" ] || { echo "bench/watchdog.sh: $f missing (make all and tools)" >&2; exit 1; }
done

free_port() {
	local p
	for _ in $(seq 50); do
		p=$((10000 + RANDOM % 22000)) # below the ephemeral range
		if ! (exec 3<>/dev/tcp/127.0.0.1/"$p") 2>/dev/null; then echo "$p"; return 0; fi
	done
	return 1
}
# start NAME CMD...: background server; sets PID and PORT from its listening line.
start() {
	local name=$1
	shift
	"$@" >"$TMP/$name.out" 2>"$TMP/$name.log" &
	PID=$!
	PIDS+=("$PID")
	for _ in $(seq 200); do
		PORT=$(sed -nE 's/.*msg=listening .*addr=[^ ]*:([0-9]+).*/\1/p' "$TMP/$name.log" | head -n 1)
		[ -n "$PORT" ] && return 0
		sleep 0.05
	done
	echo "bench: $name did not start" >&2
	cat "$TMP/$name.log" >&2
	exit 1
}
wait_http() { # URL: up to 10 s for a 200

	for _ in $(seq 100); do
		[ "$(curl -s -o /dev/null -w '%{http_code}' "$1")" = 200 ] && return 0
		sleep 0.1
	done
	return 1
}
rss() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
# to_ms VALUE: wrk's "512.00us" / "1.20ms" / "1.01s" in ms
to_ms() {
	awk -v v="$1" 'BEGIN {
		n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
		if (u == "us") n /= 1000; else if (u == "s") n *= 1000
		printf "%.3f", n }'
}
# cpu_ticks PID...: user + system clock ticks used so far by these processes
cpu_ticks() {
	local p t=0 s
	for p in "$@"; do
		s=$(sed -E 's/^.*\) //' "/proc/$p/stat" 2>/dev/null) || continue
		t=$((t + $(awk '{print $12 + $13}' <<<"$s")))
	done
	echo "$t"
}
# us_per_req TICKS REQUESTS: CPU microseconds per request
us_per_req() { awk -v t="$1" -v n="$2" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.1f", (n > 0 ? t * 1e6 / hz / n : 0) }'; }
# bench_wrk NAME THREADS CONNS URL [LUA]: sets RPS P50 P99 (ms) and REQS
bench_wrk() {
	local name=$1 t=$2 c=$3 url=$4 lua=${5:-}
	wrk -t "$t" -c "$c" -d "${D}s" --latency ${lua:+-s "$lua"} "$url" >"$TMP/$name.wrk" 2>&1
	RPS=$(awk '/^Requests\/sec:/ {printf "%.0f", $2}' "$TMP/$name.wrk")
	REQS=$(awk '/requests in/ {print $1}' "$TMP/$name.wrk")
	P50=$(to_ms "$(awk '$1 == "50%" {print $2}' "$TMP/$name.wrk")")
	P99=$(to_ms "$(awk '$1 == "99%" {print $2}' "$TMP/$name.wrk")")
	if grep -q 'Non-2xx\|Socket errors' "$TMP/$name.wrk"; then
		echo "  note: $name: $(grep 'Non-2xx\|Socket errors' "$TMP/$name.wrk" | tr -s ' ')" >&2
	fi
}
# peak_rss PID SECONDS: samples VmRSS every 0.1 s
peak_rss() {
	local pid=$1 n=$(($2 * 10)) peak=0 r
	for _ in $(seq "$n"); do
		r=$(rss "$pid")
		[ "${r:-0}" -gt "$peak" ] && peak=$r
		sleep 0.1
	done
	echo "$peak"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }
sub_ms() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a - b }'; }
# verdict AWK-CONDITION VAR=VALUE...: "meets" or "misses"
verdict() {
	local cond=$1 a
	local args=()
	shift
	for a in "$@"; do args+=(-v "$a"); done
	if awk "${args[@]}" "BEGIN { exit !($cond) }"; then echo meets; else echo misses; fi
}
best_max() { printf '%s\n' "$@" | sort -g | tail -n 1; }
best_min() { printf '%s\n' "$@" | sort -g | head -n 1; }

printf 'wrk.method = "POST"\nwrk.body = "hello"\n' >"$TMP/post.lua"
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
echo "== fwatchdog benchmark: $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, load $LOAD0"

# ---- fork mode against the spawn floor, same concurrency. The machine is
# shared: ROUNDS alternating runs of each, the best of each kept.
ROUNDS=${BENCH_ROUNDS:-3}
start fork env TMPDIR="$TMP" port=0 fprocess=cat exec_timeout=10s "$W"
FORK=$PORT FORK_PID=$PID
wait_http "127.0.0.1:$FORK/_/health" || exit 1
IDLE=$(rss "$FORK_PID")
fl_r=() fl_5=() fk_r=() fk_5=() fk_9=() fl_9=() f1_5=() w1_5=()
for round in $(seq "$ROUNDS"); do
	read -r _ b _ _ < <("$FLOOR" 1 "$D" hello | sed -E 's/[a-z0-9_]+=//g')
	f1_5+=("$b")
	bench_wrk "fork1-$round" 1 1 "http://127.0.0.1:$FORK/" "$TMP/post.lua"
	w1_5+=("$P50")
	read -r a b c _ < <("$FLOOR" "$C" "$D" hello | sed -E 's/[a-z0-9_]+=//g')
	fl_r+=("$a") fl_5+=("$b") fl_9+=("$c")
	bench_wrk "fork$round" "$C" "$C" "http://127.0.0.1:$FORK/" "$TMP/post.lua"
	fk_r+=("$RPS") fk_5+=("$P50") fk_9+=("$P99")
	echo "round $round: fork ${RPS}/s p50 ${P50} ms p99 ${P99} ms | floor ${a}/s p50 ${b} ms p99 ${c} ms"
done
FL_RPS=$(best_max "${fl_r[@]}") FL_P50=$(best_min "${fl_5[@]}")
FK_RPS=$(best_max "${fk_r[@]}") FK_P50=$(best_min "${fk_5[@]}")
F1_P50=$(best_min "${f1_5[@]}") W1_P50=$(best_min "${w1_5[@]}")

# RSS under 64 connections (fork mode)
wrk -t 2 -c 64 -d "${D}s" -s "$TMP/post.lua" "http://127.0.0.1:$FORK/" >"$TMP/fork64.wrk" 2>&1 &
WP=$!
RSS64_FORK=$(peak_rss "$FORK_PID" "$D")
wait "$WP"

# ---- http mode against nginx, same upstream
UPORT=$(free_port) || exit 1
start http env TMPDIR="$TMP/h" port=0 mode=http fprocess="$UP $UPORT" \
	upstream_url="http://127.0.0.1:$UPORT" suppress_lock=true "$W"
HTTP=$PORT HTTP_PID=$PID
wait_http "127.0.0.1:$HTTP/_/health" || { echo "http mode did not become healthy" >&2; exit 1; }
IDLE_HTTP=$(rss "$HTTP_PID")
NPORT=$(free_port) || exit 1
mkdir -p "$TMP/nginx"
cat >"$TMP/nginx/nginx.conf" <<NGINX
worker_processes auto;
user root;
pid $TMP/nginx/nginx.pid;
error_log $TMP/nginx/error.log warn;
events { worker_connections 1024; }
http {
	access_log off;
	client_body_temp_path $TMP/nginx/cb;
	proxy_temp_path $TMP/nginx/px;
	fastcgi_temp_path $TMP/nginx/fc;
	uwsgi_temp_path $TMP/nginx/uw;
	scgi_temp_path $TMP/nginx/sc;
	upstream fn { server 127.0.0.1:$UPORT; keepalive 64; }
	server {
		listen 127.0.0.1:$NPORT;
		location / {
			proxy_pass http://fn;
			proxy_http_version 1.1;
			proxy_set_header Connection "";
		}
	}
}
NGINX
nginx -p "$TMP/nginx" -c "$TMP/nginx/nginx.conf" -g 'daemon off;' 2>"$TMP/nginx/stderr" &
PIDS+=($!)
wait_http "127.0.0.1:$NPORT/" || { echo "nginx did not start" >&2; cat "$TMP/nginx/stderr" >&2; exit 1; }

NG_PIDS=$(pgrep -P "$(cat "$TMP/nginx/nginx.pid")" | tr '\n' ' ')
di_r=() ng_r=() ht_r=() di_5=() ng_5=() ht_5=() di_9=() ng_9=() ht_9=() ng_c=() ht_c=()
for round in $(seq "$ROUNDS"); do
	bench_wrk "direct16-$round" 2 16 "http://127.0.0.1:$UPORT/"
	di_r+=("$RPS")
	# shellcheck disable=SC2086 # a list of pids
	t0=$(cpu_ticks $NG_PIDS)
	bench_wrk "nginx16-$round" 2 16 "http://127.0.0.1:$NPORT/"
	# shellcheck disable=SC2086
	ng_r+=("$RPS") ng_c+=("$(us_per_req $(($(cpu_ticks $NG_PIDS) - t0)) "$REQS")")
	t0=$(cpu_ticks "$HTTP_PID")
	bench_wrk "http16-$round" 2 16 "http://127.0.0.1:$HTTP/"
	ht_r+=("$RPS") ht_c+=("$(us_per_req $(($(cpu_ticks "$HTTP_PID") - t0)) "$REQS")")
	bench_wrk "direct1-$round" 1 1 "http://127.0.0.1:$UPORT/"
	di_5+=("$P50") di_9+=("$P99")
	bench_wrk "nginx1-$round" 1 1 "http://127.0.0.1:$NPORT/"
	ng_5+=("$P50") ng_9+=("$P99")
	bench_wrk "http1-$round" 1 1 "http://127.0.0.1:$HTTP/"
	ht_5+=("$P50") ht_9+=("$P99")
	echo "round $round: 16 conns: fwatchdog ${ht_r[-1]}/s nginx ${ng_r[-1]}/s direct ${di_r[-1]}/s;" \
		"CPU per request: fwatchdog ${ht_c[-1]} us, nginx ${ng_c[-1]} us;" \
		"1 conn p50/p99 ms: fwatchdog ${ht_5[-1]}/${ht_9[-1]} nginx ${ng_5[-1]}/${ng_9[-1]} direct ${di_5[-1]}/${di_9[-1]}"
done
DI_RPS=$(best_max "${di_r[@]}") NG_RPS=$(best_max "${ng_r[@]}") HT_RPS=$(best_max "${ht_r[@]}")
DI_P50=$(best_min "${di_5[@]}") NG_P50=$(best_min "${ng_5[@]}") HT_P50=$(best_min "${ht_5[@]}")
DI_P99=$(best_min "${di_9[@]}") NG_P99=$(best_min "${ng_9[@]}") HT_P99=$(best_min "${ht_9[@]}")
NG_CPU=$(best_min "${ng_c[@]}") HT_CPU=$(best_min "${ht_c[@]}")
wrk -t 2 -c 64 -d "${D}s" "http://127.0.0.1:$HTTP/" >"$TMP/http64.wrk" 2>&1 &
WP=$!
RSS64_HTTP=$(peak_rss "$HTTP_PID" "$D")
wait "$WP"

R_FORK=$(ratio "$FK_RPS" "$FL_RPS")
D_P50=$(sub_ms "$FK_P50" "$FL_P50")
D1_P50=$(sub_ms "$W1_P50" "$F1_P50")
ADD_P50=$(sub_ms "$HT_P50" "$DI_P50")
R_HTTP=$(ratio "$HT_RPS" "$NG_RPS")
ADD_P99=$(sub_ms "$HT_P99" "$DI_P99")
ADD_P99_NG=$(sub_ms "$NG_P99" "$DI_P99")
cat <<MD

Best of $ROUNDS alternating rounds of ${D} s; load average at the start: $LOAD0, at the end: $(cut -d' ' -f1-3 /proc/loadavg).

| figure | fwatchdog | baseline (same run) | ratio / delta | target |
|---|---|---|---|---|
| fork, cat, ${C} conns: req/s | $FK_RPS | spawn floor $FL_RPS | ${R_FORK}x | >= 0.85x: $(verdict 'r >= 0.85' r="$R_FORK") |
| fork, cat, ${C} conns: p50 | ${FK_P50} ms | spawn floor ${FL_P50} ms | +${D_P50} ms | <= +0.2 ms: $(verdict 'd <= 0.2' d="$D_P50") |
| fork, cat, 1 conn: p50 | ${W1_P50} ms | spawn floor ${F1_P50} ms | +${D1_P50} ms | (<= +0.2 ms: $(verdict 'd <= 0.2' d="$D1_P50")) |
| http, 16 conns: req/s | $HT_RPS | nginx $NG_RPS (direct $DI_RPS) | ${R_HTTP}x | >= 0.9x: $(verdict 'r >= 0.9' r="$R_HTTP") |
| http, 16 conns: CPU per request | ${HT_CPU} us | nginx ${NG_CPU} us | $(ratio "$HT_CPU" "$NG_CPU")x | (lower is better; load does not distort it much) |
| http, 1 conn: p50 / p99 | ${HT_P50} / ${HT_P99} ms | direct ${DI_P50} / ${DI_P99} ms; nginx ${NG_P50} / ${NG_P99} ms | p50 +${ADD_P50} ms; p99 +${ADD_P99} ms (nginx +${ADD_P99_NG}) | < +1 ms: $(verdict 'd < 1' d="$ADD_P99") |
| RSS idle (fork / http) | ${IDLE} / ${IDLE_HTTP} KiB | | | <= 2048 KiB: $(verdict 'a <= 2048 && b <= 2048' a="$IDLE" b="$IDLE_HTTP") |
| RSS peak, 64 conns (fork / http) | ${RSS64_FORK} / ${RSS64_HTTP} KiB | | | <= 8192 KiB: $(verdict 'a <= 8192 && b <= 8192' a="$RSS64_FORK" b="$RSS64_HTTP") |
MD
