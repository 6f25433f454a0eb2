#!/usr/bin/env bash
# Asynchronous calls: a real nats-server (JetStream on a file store), the
# gateway, faas-queue-worker and fwatchdog replicas on 127.0.0.1. 202 then the
# callback with the function's output; method, path, query and headers reach
# the function; retries then the dead-letter stream; NATS stopped: 503, and
# every call answered 202 around a NATS restart is run.
source "$FX_ROOT/tests/lib.sh"
NATS=$(command -v nats-server || true)
[ -n "$NATS" ] || { t_fail "nats-server is installed (scripts/deps.sh)"; exit 1; }
for b in fwatchdog faas-gateway faas-queue-worker; do
	[ -x "$BIN/$b" ] || { t_fail "bin/$b is built"; exit 1; }
done
SINK=$TOOLS/cb_sink
[ -x "$SINK" ] || { t_fail "cb_sink is built"; exit 1; }

# nats [PORT]: a JetStream server on 127.0.0.1 (a random port unless given),
# its store in $T_DIR/js; sets NATS_PORT and NATS_PID.
nats() {
	local log=$T_DIR/nats.log
	: >"$log"
	"$NATS" -a 127.0.0.1 -p "${1:--1}" -js -sd "$T_DIR/js" >>"$log" 2>&1 &
	NATS_PID=$!
	T_PIDS+=("$NATS_PID")
	NATS_PORT=
	local deadline=$((SECONDS + 10))
	while [ $SECONDS -lt $deadline ] && [ -z "$NATS_PORT" ]; do
		NATS_PORT=$(sed -nE 's/.*Listening for client connections on [^ ]*:([0-9]+).*/\1/p' "$log" | tail -n 1)
		[ -n "$NATS_PORT" ] || sleep 0.05
	done
	[ -n "$NATS_PORT" ] || { cat "$log" >&2; return 1; }
}
wd() {
	local name=$1
	shift
	mkdir -p "$T_DIR/$name.tmp"
	start_server "$name" env TMPDIR="$T_DIR/$name.tmp" port=0 "$@" "$BIN/fwatchdog"
}
code() { curl -s -o /dev/null -m 10 -w '%{http_code}' "$@"; }

nats || { t_fail "nats-server starts"; exit 1; }
wd echo fprocess=cat || exit 1; ECHO=$PORT
wd env fprocess=env || exit 1; ENVP=$PORT
wd fail fprocess=false || exit 1; FAIL=$PORT
wd held fprocess="sleep 2" || exit 1; HELD=$PORT
start_server sink "$SINK" "$T_DIR/cb.txt" || exit 1; CB=http://127.0.0.1:$PORT/cb
start_server sink2 "$SINK" "$T_DIR/cb2.txt" 2 || exit 1; CB2=http://127.0.0.1:$PORT/cb

table="echo=127.0.0.1:$ECHO;env=127.0.0.1:$ENVP;fail=127.0.0.1:$FAIL;gone=127.0.0.1:1;held=127.0.0.1:$HELD"
echo admin >"$T_DIR/user"
echo s3cret >"$T_DIR/password"
start_server gw env bind=127.0.0.1 port=0 discovery=static static_functions="$table" \
	controller_url= basic_auth_user_file="$T_DIR/user" basic_auth_password_file="$T_DIR/password" \
	async_max_body=64Ki connect_timeout=200ms \
	nats_url="nats://127.0.0.1:$NATS_PORT" "$BIN/faas-gateway" || exit 1
G=http://127.0.0.1:$PORT
start_server qw env bind=127.0.0.1 port=0 nats_url="nats://127.0.0.1:$NATS_PORT" \
	gateway_url="$G" concurrency=4 retry_backoff=50ms ack_wait=3s callback_timeout=2s \
	"$BIN/faas-queue-worker" || exit 1
QW=http://127.0.0.1:$PORT

# ---- 202, then the callback with the function's output
h=$(curl -s -D - -o "$T_DIR/r1" -m 10 -H "X-Callback-Url: $CB" -H 'X-Call-Id: call-one' -d 'hello async' "$G/async-function/echo")
expect_match "202 Accepted" '^HTTP/1.1 202' "$h"
expect_match "the client's X-Call-Id is kept" $'X-Call-Id: call-one\r' "$h"
expect_match "the body names the call id" '"callId":"call-one"' "$(cat "$T_DIR/r1")"
check "the callback arrives with the function's output" \
	wait_for 10 grep -q '^call-one 200 0 [0-9]* 11 hello_async$' "$T_DIR/cb.txt"
id=$(curl -s -D - -o /dev/null -m 10 -d x "$G/async-function/echo" | sed -nE 's/^X-Call-Id: ([^\r]*)\r?$/\1/p')
expect_match "a call id is made when none is sent" '^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$' "$id"

# ---- method, path, query and headers reach the function
curl -s -o /dev/null -m 10 -H "X-Callback-Url: $CB" -H 'X-Call-Id: call-env' -H 'X-Custom: v1' \
	-H 'Content-Type: text/plain' -d 'e' "$G/async-function/env/a/b?x=1&y=2"
wait_for 10 grep -q '^call-env ' "$T_DIR/cb.txt"
line=$(grep '^call-env ' "$T_DIR/cb.txt")
expect_match "the function got POST" 'Http_Method=POST' "$line"
expect_match "the function got the path" 'Http_Path=/a/b' "$line"
expect_match "the function got the query" 'Http_Query=x=1&y=2' "$line"
expect_match "the function got the headers" 'Http_X_Custom=v1' "$line"
expect_match "the function got the call id" 'Http_X_Call_Id=call-env' "$line"
expect_match "the function got the content type" 'Http_Content_Type=text/plain' "$line"

# ---- errors
expect_eq "404 for an unknown function" 404 "$(code -d x "$G/async-function/nope")"
expect_eq "404 for a name no function can have (as /function/)" 404 \
	"$(code -d x "$G/async-function/Bad_Name")"
expect_eq "404 for NAME.NAMESPACE of another namespace" 404 \
	"$(code -d x "$G/async-function/echo.elsewhere")"
expect_eq "405 for GET" 405 "$(code "$G/async-function/echo")"
expect_eq "400 for a callback that is not http(s)" 400 \
	"$(code -H 'X-Callback-Url: file:///etc/passwd' -d x "$G/async-function/echo")"
head -c 70000 /dev/zero >"$T_DIR/big"
expect_eq "413 over async_max_body (Content-Length)" 413 "$(code --data-binary @"$T_DIR/big" "$G/async-function/echo")"
expect_eq "413 over async_max_body (chunked)" 413 \
	"$(code -H 'Transfer-Encoding: chunked' --data-binary @"$T_DIR/big" "$G/async-function/echo")"
expect_eq "a body at the limit is accepted" 202 \
	"$(head -c 65536 /dev/zero | code --data-binary @- "$G/async-function/echo")"

# ---- retries, then the dead-letter stream
curl -s -o /dev/null -m 10 -H "X-Callback-Url: $CB" -H 'X-Call-Id: call-fail' -d 'f' "$G/async-function/fail"
check "a failing call ends in the dead-letter stream, and the callback says so" \
	wait_for 15 grep -q '^call-fail 500 1 ' "$T_DIR/cb.txt"
expect_eq "the function ran 1 + 3 retries times" 4 \
	"$(curl -s "127.0.0.1:$FAIL/metrics" | sed -nE 's/^http_requests_total\{code="500"\} ([0-9]+)$/\1/p')"
m=$(curl -s "$QW/metrics")
expect_match "retries are counted" 'faas_async_retried_total\{function_name="fail"\} 3' "$m"
expect_match "dead letters are counted" 'faas_async_dead_lettered_total\{function_name="fail"\} 1' "$m"
expect_match "completed calls are counted by status" 'faas_async_completed_total\{function_name="echo",code="200"\} [3-9]' "$m"

# ---- queue depth and the oldest call's age (a call leaves the queue once done)
for i in 1 2 3 4 5 6; do code -d h "$G/async-function/held" >/dev/null; done
depth() { curl -s "$QW/metrics" | grep -q "^faas_async_queue_depth{function_name=\"held\"} $1\$"; }
check "6 calls of a slow function are in the queue" wait_for 3 depth 6
sleep 0.5
expect_match "the oldest call's age is reported" 'faas_async_oldest_message_age_seconds\{function_name="held"\} [0-9.]+' "$(curl -s "$QW/metrics")"
check "the queue empties as they finish" wait_for 10 depth 0

# ---- the dead-letter stream through faasctl: list, then replay
export FAAS_GATEWAY=$G FAAS_USER=admin FAAS_PASSWORD=s3cret
out=$("$BIN/faasctl" async dead-letters fail 2>&1)
expect_match "faasctl async dead-letters lists the call with its reason" \
	'call-fail +500 +4 .*status 500 after 4 attempts' "$out"
expect_eq "the dead-letter API needs credentials" 401 "$(code "$G/system/async/dead-letters")"
expect_eq "a bad function name is refused" 400 "$(code -u admin:s3cret "$G/system/async/dead-letters?function=A_B")"
expect_eq "a replay from another site's page is refused" 403 \
	"$(code -u admin:s3cret -X POST -H 'Origin: http://elsewhere.example' "$G/system/async/dead-letters/replay?function=fail")"
expect_eq "listing is GET" 405 "$(code -u admin:s3cret -X DELETE "$G/system/async/dead-letters")"
expect_match "no dead letters for echo" '^No dead letters for echo' "$("$BIN/faasctl" async dead-letters echo 2>&1)"
check "replay needs a name, --seq or --all" test "$("$BIN/faasctl" async replay >/dev/null 2>&1; echo $?)" = 2
expect_eq "faasctl async replay stores the call again" "replayed 1 dead letter of fail" \
	"$("$BIN/faasctl" async replay fail 2>&1)"
twice() { [ "$(grep -c '^call-fail 500 1 ' "$T_DIR/cb.txt")" = 2 ]; }
check "the replayed call runs again (and is dead-lettered again)" wait_for 15 twice
expect_match "the dead letter counts its replays" '"replays": ?1' \
	"$("$BIN/faasctl" async dead-letters fail -o json 2>&1)"
expect_eq "the function ran 4 more times" 8 \
	"$(curl -s "127.0.0.1:$FAIL/metrics" | sed -nE 's/^http_requests_total\{code="500"\} ([0-9]+)$/\1/p')"

curl -s -o /dev/null -m 10 -H "X-Callback-Url: $CB" -H 'X-Call-Id: call-gone' -d 'g' "$G/async-function/gone"
check "an unreachable function is retried, then dead-lettered (502)" \
	wait_for 15 grep -q '^call-gone 502 1 ' "$T_DIR/cb.txt"

# ---- a callback that fails twice is delivered on the third try
curl -s -o /dev/null -m 10 -H "X-Callback-Url: $CB2" -H 'X-Call-Id: call-cb2' -d 'c' "$G/async-function/echo"
check "callbacks are retried" wait_for 15 grep -q '^call-cb2 200 0 ' "$T_DIR/cb2.txt"

m=$(curl -s "$G/metrics")
expect_match "the gateway counts stored calls" 'gateway_async_queued_total\{function_name="echo"\} [0-9]+' "$m"
expect_match "the gateway counts unknown functions (3 above)" 'gateway_async_rejected_total\{reason="unknown_function"\} 3' "$m"

# ---- NATS stopped: 503 with Retry-After; nothing answered 202 is lost
kill "$NATS_PID"; wait "$NATS_PID" 2>/dev/null
h=$(curl -s -D - -o /dev/null -m 10 -d x "$G/async-function/echo")
expect_match "503 while NATS is down" '^HTTP/1.1 503' "$h"
expect_match "with Retry-After" $'Retry-After: [0-9]+\r' "$h"
expect_match "and the call id, to send it again" $'X-Call-Id: ' "$h"
expect_eq "the worker's health follows NATS" 503 "$(code "$QW/healthz")"
nats "$NATS_PORT" || { t_fail "nats-server restarts on its port"; exit 1; }
# (a function: wait_for runs it again on each try)
accepted() { [ "$(code -d x "$G/async-function/echo")" = 202 ]; }
check "the gateway reconnects" wait_for 10 accepted

# 300 calls; NATS is stopped after the 100th and started again 1 s later.
: >"$T_DIR/codes"
for i in $(seq 300); do
	c=$(code -H "X-Callback-Url: $CB" -H "X-Call-Id: load-$i" -d "n$i" "$G/async-function/echo")
	echo "load-$i $c" >>"$T_DIR/codes"
	if [ "$i" = 100 ]; then
		kill "$NATS_PID"; wait "$NATS_PID" 2>/dev/null
		RESTART_AT=$((SECONDS + 1))
	fi
	if [ -n "${RESTART_AT:-}" ] && [ $SECONDS -ge "$RESTART_AT" ]; then
		RESTART_AT=
		nats "$NATS_PORT" || { t_fail "nats-server restarts on its port"; exit 1; }
	fi
done
if [ -n "${RESTART_AT:-}" ]; then nats "$NATS_PORT" || exit 1; fi
acc=$(awk '$2 == 202' "$T_DIR/codes" | wc -l)
rej=$(awk '$2 == 503' "$T_DIR/codes" | wc -l)
other=$(awk '$2 != 202 && $2 != 503' "$T_DIR/codes" | wc -l)
check "around the restart: calls answered 202 ($acc) and 503 ($rej), nothing else ($other)" \
	test "$acc" -ge 150 -a "$rej" -ge 1 -a "$other" -eq 0
all_back() {
	local missing
	missing=$(awk '$2 == 202 {print $1}' "$T_DIR/codes" | grep -cvxFf <(awk '{print $1}' "$T_DIR/cb.txt"))
	[ "$missing" -eq 0 ]
}
check "every call answered 202 ran and was called back" wait_for 30 all_back
dups=$(awk '$1 ~ /^load-/ {print $1}' "$T_DIR/cb.txt" | sort | uniq -d | wc -l)
echo "  (duplicated callbacks around the restart: $dups)"
