#!/usr/bin/env bash
# fwatchdog in http mode: fprocess starts once and serves HTTP; the watchdog
# waits for it, proxies with keep-alive, restarts it when it dies; 502 and 504.
source "$FX_ROOT/tests/lib.sh"
W=$BIN/fwatchdog
UP=$TOOLS/wd_upstream

# free_port: a port on 127.0.0.1 that nothing answers on (bounded tries).
free_port() {
	local p
	for _ in $(seq 50); do
		p=$((10000 + RANDOM % 22000)) # below the ephemeral range
		if ! (exec 3<>/dev/tcp/127.0.0.1/"$p") 2>/dev/null; then
			echo "$p"
			return 0
		fi
	done
	return 1
}
wd() {
	local name=$1
	shift
	mkdir -p "$T_DIR/$name.tmp"
	start_server "$name" env TMPDIR="$T_DIR/$name.tmp" port=0 mode=http "$@" "$W"
}
code() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
children() { cat /proc/"$1"/task/*/children 2>/dev/null | tr -s ' \n' ' ' | sed 's/ $//'; }

UPORT=$(free_port) || exit 1
wd px fprocess="$UP $UPORT" upstream_url="http://localhost:$UPORT" exec_timeout=1s \
	healthcheck_interval=100ms || exit 1
PX=$PORT PX_PID=$PID
check "health 200 once the upstream answers" wait_for 10 \
	bash -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' 127.0.0.1:$PX/_/health)\" = 200 ]"
check "upstream ready logged" grep -q 'msg="upstream ready"' "$T_DIR/px.log"
out=$(curl -s -i "127.0.0.1:$PX/")
expect_match "GET proxied" $'\r\n\r\nhello\n?$' "$out"
expect_match "upstream Content-Type passed" $'Content-Type: text/plain\r' "$out"
expect_match "X-Duration-Seconds" $'X-Duration-Seconds: [0-9.]+\r' "$out"
head -c 2000000 /dev/urandom >"$T_DIR/rand"
check "2 MB POST body echoed" cmp -s "$T_DIR/rand" \
	<(curl -s --data-binary @"$T_DIR/rand" "127.0.0.1:$PX/echo")
check "chunked request body echoed" cmp -s "$T_DIR/rand" \
	<(curl -s -H 'Transfer-Encoding: chunked' --data-binary @"$T_DIR/rand" "127.0.0.1:$PX/echo")
expect_eq "chunked upstream response" "one,two,three" "$(curl -s "127.0.0.1:$PX/chunked")"
expect_eq "until-close upstream response" "until close" "$(curl -s "127.0.0.1:$PX/close")"
expect_eq "8 MiB upstream response" 8388608 "$(curl -s "127.0.0.1:$PX/big" | wc -c)"
expect_eq "upstream status passed through" 418 "$(code "127.0.0.1:$PX/status/418")"
out=$(curl -s -H 'X-Custom: v1' -H 'X-Hop: v2' -H 'Connection: keep-alive, X-Hop' "127.0.0.1:$PX/headers?q=1")
expect_match "path and query forwarded" '^GET /headers\?q=1 HTTP/1.1' "$out"
expect_match "request headers forwarded" 'X-Custom: v1' "$out"
# shellcheck disable=SC2016
check "a header named in Connection is hop-by-hop: not forwarded" \
	bash -c '! grep -qi "^X-Hop:" <<<"$1"' _ "$out"
expect_match "X-Forwarded-For added" 'X-Forwarded-For: 127\.0\.0\.1' "$out"
out=$(curl -s -H 'X-Forwarded-For: 10.1.2.3' "127.0.0.1:$PX/headers")
expect_match "X-Forwarded-For appended to" 'X-Forwarded-For: 10\.1\.2\.3, 127\.0\.0\.1' "$out"
check "hop-by-hop Connection not forwarded" bash -c "! grep -qi '^Connection:' <<<\"\$1\"" _ "$out"
expect_eq "OPTIONS is 405 in http mode too" 405 "$(code -X OPTIONS "127.0.0.1:$PX/")"

# keep-alive to the upstream: 50 requests, few upstream connections
for _ in $(seq 50); do curl -s -o /dev/null "127.0.0.1:$PX/"; done
up_pid=$(children "$PX_PID")
n=$(find /proc/"$up_pid"/fd -mindepth 1 2>/dev/null | wc -l)
check "upstream connections reused (upstream has $n fds after 50 requests)" test "$n" -lt 15

# exec_timeout: 504; the next request still works
t0=$SECONDS
expect_eq "slow upstream: 504 at exec_timeout" 504 "$(code --max-time 10 "127.0.0.1:$PX/sleep")"
check "504 at the timeout" test $((SECONDS - t0)) -le 2
expect_eq "after a 504, requests work" 200 "$(code "127.0.0.1:$PX/")"

# the upstream dies: 502 while down, restarted with backoff, then 200
old=$(children "$PX_PID")
code "127.0.0.1:$PX/exit" >"$T_DIR/exit.code"
expect_match "upstream died mid-request: 502" '^502$' "$(cat "$T_DIR/exit.code")"
check "exit logged" wait_for 5 grep -q 'msg="upstream exited"' "$T_DIR/px.log"
check "restarted and healthy again" wait_for 10 \
	bash -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' 127.0.0.1:$PX/_/health)\" = 200 ]"
new=$(children "$PX_PID")
check "a new upstream process ($old -> $new)" test -n "$new" -a "$new" != "$old"
expect_eq "requests work after the restart" hello "$(curl -s "127.0.0.1:$PX/")"

# a client that hangs up while the upstream works: the exchange is aborted
curl -s -o /dev/null --max-time 0.5 "127.0.0.1:$PX/sleep"
check "client gone while waiting: logged and aborted" wait_for 3 \
	grep -q 'msg="client gone" upstream=.* action=aborted' "$T_DIR/px.log"
expect_eq "requests work after a client left" hello "$(curl -s "127.0.0.1:$PX/")"

# SIGTERM drain: the request in flight finishes, a request on an open
# connection is served with Connection: close, new connections are refused
DPORT=$(free_port) || exit 1
wd drain fprocess="$UP $DPORT" upstream_url="http://127.0.0.1:$DPORT" exec_timeout=5s \
	write_timeout=5s || exit 1
DRAIN_PID=$PID DRAIN=$PORT
check "drain: upstream healthy" wait_for 10 \
	bash -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' 127.0.0.1:$DRAIN/_/health)\" = 200 ]"
curl -s "127.0.0.1:$DRAIN/sleep" >"$T_DIR/drain1" &
CURL=$!
wait_for 3 bash -c "curl -s 127.0.0.1:$DRAIN/metrics | grep -q '^http_requests_in_flight 1'"
exec 5<>/dev/tcp/127.0.0.1/"$DRAIN" # an idle keep-alive connection, open before SIGTERM
kill -TERM "$DRAIN_PID"
wait_for 3 grep -q 'msg=draining' "$T_DIR/drain.log"
printf 'GET / HTTP/1.1\r\nHost: x\r\n\r\n' >&5 # while the first is still in flight
wait "$CURL"
expect_eq "in-flight request finishes during the drain" slept "$(cat "$T_DIR/drain1")"
out=$(timeout 5 cat <&5)
exec 5<&-
expect_match "a request on an open connection during the drain: served, then closed" \
	$'^HTTP/1.1 200.*Connection: close.*hello' "$(tr -d '\r\n' <<<"$out")"
wait "$DRAIN_PID"
expect_eq "exit 0 after SIGTERM (drain)" 0 "$?"
check "no longer accepting" bash -c "! curl -s --max-time 1 127.0.0.1:$DRAIN/_/health"

# nothing listens: 502 and health 503
NPORT=$(free_port) || exit 1
wd dead fprocess="sleep 60" upstream_url="http://127.0.0.1:$NPORT" || exit 1
expect_eq "upstream not listening: health 503" 503 "$(code "127.0.0.1:$PORT/_/health")"
expect_eq "upstream not listening: 502" 502 "$(code "127.0.0.1:$PORT/")"

# SIGTERM: the upstream process is stopped too
kill -TERM "$PX_PID"
wait "$PX_PID"
expect_eq "exit 0 on SIGTERM" 0 "$?"
check "upstream process stopped with the watchdog" wait_for 5 bash -c "! kill -0 $new 2>/dev/null"
