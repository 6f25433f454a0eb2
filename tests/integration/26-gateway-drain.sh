#!/usr/bin/env bash
# A replica stopped the polite way under POST load loses nothing, on
# loopback: real fwatchdog replicas (fork mode, cat) behind a real gateway
# (static table), wrk with 8 connections POSTing (a method the gateway never
# sends again once a replica may have run it: e2e/faults/post.lua). Each round
# sends SIGTERM to one replica mid-load: the watchdog drains (answers what
# reaches it, with X-Faas-Draining and Connection: close, and exits once
# nothing has come for a while), the gateway stops sending to it: 0 failed.
# Then a replica killed with SIGKILL: at most the requests in flight on it
# fail. A draining watchdog's own answers are checked too.
source "$FX_ROOT/tests/lib.sh"
W=$BIN/fwatchdog
[ -x "$W" ] || { t_fail "bin/fwatchdog is built"; exit 1; }
command -v wrk >/dev/null || { t_fail "wrk is installed (scripts/deps.sh)"; exit 1; }
ROUNDS=${FX_DRAIN_ROUNDS:-3}

wd() { # NAME VAR=VALUE...: a watchdog on port 0; sets PORT and PID
	local name=$1
	shift
	mkdir -p "$T_DIR/$name.tmp"
	start_server "$name" env TMPDIR="$T_DIR/$name.tmp" port=0 "$@" "$W"
}
# summary FILE: "requests failed" from wrk's FXLOAD line
summary() {
	sed -n 's/^FXLOAD requests=\([0-9]*\) connect=\([0-9]*\) read=\([0-9]*\) write=\([0-9]*\) timeout=\([0-9]*\) status=\([0-9]*\).*/\1 \2 \3 \4 \5 \6/p' "$1" |
		awk '{ print $1 + $3 + $4 + $5, $3 + $4 + $5 + $6 }'
}

# ---- a draining watchdog's answers
wd lone fprocess=cat write_timeout=5s || exit 1
LONE=$PORT LONE_PID=$PID
exec 5<>/dev/tcp/127.0.0.1/"$LONE" # open before SIGTERM
kill -TERM "$LONE_PID"
wait_for 3 grep -q 'msg=draining' "$T_DIR/lone.log"
out=$(curl -s -i --data-binary during "127.0.0.1:$LONE/" | tr -d '\r')
expect_match "a new request during the drain is served" $'^HTTP/1.1 200.*\nduring$' "$out"
expect_match "and says the replica is draining" $'\nX-Faas-Draining: true\n' "$out"
expect_match "and closes its connection" $'\nConnection: close\n' "$out"
# (in a subshell: a write to a closed socket must not kill the test)
(printf 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nopen' >&5) 2>/dev/null
out=$(timeout 5 cat <&5 | tr -d '\r')
exec 5<&-
expect_match "a request on a connection open before: served the same way" $'^HTTP/1.1 200.*X-Faas-Draining: true.*\nopen$' "$out"
t0=$SECONDS
wait "$LONE_PID"
expect_eq "then, with nothing more coming, it exits 0" 0 "$?"
check "within write_timeout" test $((SECONDS - t0)) -le 5
check "no longer accepting" bash -c "! curl -s --max-time 1 127.0.0.1:$LONE/_/health"

# ---- rounds: SIGTERM of one of three replicas under POST load
for round in $(seq 1 "$ROUNDS"); do
	wd "a$round" fprocess=cat || exit 1; A=$PORT A_PID=$PID
	wd "b$round" fprocess=cat || exit 1; B=$PORT
	wd "c$round" fprocess=cat || exit 1; C=$PORT
	start_server "gw$round" env bind=127.0.0.1 port=0 discovery=static \
		static_functions="f=127.0.0.1:$A,127.0.0.1:$B,127.0.0.1:$C" controller_url= basic_auth=false \
		"$BIN/faas-gateway" || exit 1
	G=http://127.0.0.1:$PORT
	wrk -t2 -c8 -d4s --timeout 10s -s "$FX_ROOT/e2e/faults/post.lua" "$G/function/f" >"$T_DIR/wrk$round.out" 2>&1 &
	wp=$!
	sleep 1
	kill -TERM "$A_PID"
	wait "$A_PID"
	a_rc=$?
	kill -0 "$wp" 2>/dev/null && a_early=yes || a_early=no
	wait "$wp"
	read -r reqs failed <<<"$(summary "$T_DIR/wrk$round.out")"
	echo "  round $round: ${reqs:-?} requests, ${failed:-?} failed"
	check "round $round: the load ran (${reqs:-0} requests)" test "${reqs:-0}" -gt 20
	expect_eq "round $round: no request fails when a replica is stopped (SIGTERM)" 0 "${failed:-missing}"
	expect_eq "round $round: the stopped replica drained and exited 0" 0 "$a_rc"
	expect_eq "round $round: while the load went on (the gateway stopped sending to it)" yes "$a_early"
done

# ---- SIGKILL: only what was in flight on it may fail
wd ka fprocess=cat || exit 1; KA=$PORT KA_PID=$PID
wd kb fprocess=cat || exit 1; KB=$PORT
start_server gwk env bind=127.0.0.1 port=0 discovery=static \
	static_functions="f=127.0.0.1:$KA,127.0.0.1:$KB" controller_url= basic_auth=false \
	"$BIN/faas-gateway" || exit 1
wrk -t2 -c8 -d3s --timeout 10s -s "$FX_ROOT/e2e/faults/post.lua" "http://127.0.0.1:$PORT/function/f" >"$T_DIR/wrkk.out" 2>&1 &
wp=$!
sleep 1
kill -KILL "$KA_PID"
wait "$wp"
read -r reqs failed <<<"$(summary "$T_DIR/wrkk.out")"
echo "  SIGKILL: ${reqs:-?} requests, ${failed:-?} failed"
check "SIGKILL: the load ran (${reqs:-0} requests)" test "${reqs:-0}" -gt 20
check "SIGKILL: at most the 8 requests in flight fail (${failed:-?})" test "${failed:-99}" -le 8
