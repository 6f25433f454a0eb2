#!/usr/bin/env bash
# fwatchdog in streaming mode: STDOUT reaches the client as written (chunked),
# memory stays flat for 200 MB, timeouts and disconnects kill the process.
source "$FX_ROOT/tests/lib.sh"
W=$BIN/fwatchdog
WR=$TOOLS/wd_writer

wd() {
	local name=$1
	shift
	mkdir -p "$T_DIR/$name.tmp"
	start_server "$name" env TMPDIR="$T_DIR/$name.tmp" port=0 mode=streaming "$@" "$W"
}
children() { cat /proc/"$1"/task/*/children 2>/dev/null | tr -s ' \n' ' ' | sed 's/ $//'; }
no_children() { [ -z "$(children "$1")" ]; }

# ---- 200 MB through, chunked, with the RSS sampled all along
wd big fprocess="$WR 200" exec_timeout=120s || exit 1
BIG_PID=$PID BIG=$PORT
curl -s -D "$T_DIR/big.h" "127.0.0.1:$BIG/" | wc -c >"$T_DIR/big.n" &
CURL=$!
peak=0
for _ in $(seq 1200); do
	kill -0 "$CURL" 2>/dev/null || break
	r=$(rss_kib "$BIG_PID")
	[ "${r:-0}" -gt "$peak" ] && peak=$r
	sleep 0.05
done
wait "$CURL"
expect_eq "200 MB streamed in full" 209715200 "$(cat "$T_DIR/big.n")"
expect_match "chunked transfer" 'Transfer-Encoding: chunked' "$(cat "$T_DIR/big.h")"
echo "  (peak RSS while streaming 200 MB: $peak KiB)"
check "RSS stays under 16 MiB while streaming 200 MB (peak $peak KiB)" test "$peak" -lt 16384

# ---- output arrives as it is written
wd slow fprocess="$WR slow" || exit 1
expect_eq "first line received" first "$(curl -sN "127.0.0.1:$PORT/" | head -n 1)"
start=$(date +%s%N)
{ curl -sN "127.0.0.1:$PORT/" | while IFS= read -r l; do echo "$l $((($(date +%s%N) - start) / 1000000))"; done; } >"$T_DIR/slow.t"
t1=$(awk '$1 == "first" {print $2}' "$T_DIR/slow.t")
t2=$(awk '$1 == "second" {print $2}' "$T_DIR/slow.t")
check "first line arrives before the process ends (${t1}ms vs ${t2}ms)" test "${t1:-9999}" -lt 1500 -a "${t2:-0}" -ge 1900

# ---- the body still goes to STDIN
wd cat fprocess=cat || exit 1
head -c 3000000 /dev/urandom >"$T_DIR/rand"
check "3 MB body round-trips in streaming mode" \
	cmp -s "$T_DIR/rand" <(curl -s --data-binary @"$T_DIR/rand" "127.0.0.1:$PORT/")

# ---- an echo of 100 MB: output held while the body is read, then sent in
# linear time (it once took a minute: a memmove per chunk)
wd echo fprocess=cat max_body=200Mi max_output=200Mi exec_timeout=60s || exit 1
t0=$SECONDS
n=$(head -c 104857600 /dev/zero | curl -s -T - "127.0.0.1:$PORT/" | wc -c)
expect_eq "100 MB chunked upload echoed" 104857600 "$n"
check "echoed within 20 s ($((SECONDS - t0)) s)" test $((SECONDS - t0)) -le 20

# ---- exec_timeout: the stream is cut and the process group killed
wd tmo fprocess="sleep 30" exec_timeout=500ms || exit 1
TMO_PID=$PID
t0=$SECONDS
curl -s --max-time 10 "127.0.0.1:$PORT/" >/dev/null
rc=$?
check "exec_timeout cuts the stream (curl exit $rc)" test "$rc" -ne 0 -a "$rc" -ne 28
check "cut at the timeout" test $((SECONDS - t0)) -le 3
check "timed-out process reaped" wait_for 3 no_children "$TMO_PID"

# ---- a client that goes away mid-stream
curl -s "127.0.0.1:$BIG/" | head -c 1000000 >/dev/null
check "client gone mid-stream: writer killed and reaped" wait_for 5 no_children "$BIG_PID"
zombies=$(awk '$4 == '"$BIG_PID"' && $3 == "Z"' /proc/[0-9]*/stat 2>/dev/null | wc -l)
expect_eq "no zombies" 0 "$zombies"
