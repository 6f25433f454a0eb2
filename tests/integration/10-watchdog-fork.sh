#!/usr/bin/env bash
# fwatchdog in fork mode with real processes: body to STDIN, STDOUT back, the
# Http_* environment, every status code, limits, health, lock, disconnects and
# the SIGTERM drain.
source "$FX_ROOT/tests/lib.sh"
W=$BIN/fwatchdog
WR=$TOOLS/wd_writer

# wd NAME VAR=VALUE...: starts a watchdog on port 0 with its own lock dir.
wd() {
	local name=$1
	shift
	mkdir -p "$T_DIR/$name.tmp"
	start_server "$name" env TMPDIR="$T_DIR/$name.tmp" port=0 "$@" "$W"
}
children() { cat /proc/"$1"/task/*/children 2>/dev/null | tr -s ' \n' ' ' | sed 's/ $//'; }
no_children() { [ -z "$(children "$1")" ]; }
nfds() { find /proc/"$1"/fd -mindepth 1 2>/dev/null | wc -l; }
code() { curl -s -o /dev/null -w '%{http_code}' "$@"; }

# ---- cat: the body round trip, content types, duration header
wd cat fprocess=cat exec_timeout=5s || exit 1
CAT=$PORT CAT_PID=$PID
out=$(curl -s -i -H 'Content-Type: text/x-test' --data-binary 'hello world' "127.0.0.1:$CAT/")
expect_match "cat echoes the body" $'\r\n\r\nhello world$' "$out"
expect_match "status 200" '^HTTP/1.1 200' "$out"
expect_match "Content-Type is the request's" $'Content-Type: text/x-test\r' "$out"
expect_match "X-Duration-Seconds" $'X-Duration-Seconds: [0-9]+\\.[0-9]{6}\r' "$out"
head -c 3000000 /dev/urandom >"$T_DIR/rand"
printf 'a\0b\0\0c' >>"$T_DIR/rand"
check "3 MB binary body with NUL bytes round-trips" \
	cmp -s "$T_DIR/rand" <(curl -s --data-binary @"$T_DIR/rand" "127.0.0.1:$CAT/")
check "chunked request body round-trips" \
	cmp -s "$T_DIR/rand" <(curl -s -H 'Transfer-Encoding: chunked' --data-binary @"$T_DIR/rand" "127.0.0.1:$CAT/")
expect_eq "GET with no body: empty 200" "200:" "$(curl -s -w '%{http_code}:' "127.0.0.1:$CAT/x")"
for m in PUT PATCH DELETE; do
	expect_eq "$m runs the function" "$m" "$(curl -s -X "$m" --data-binary "$m" "127.0.0.1:$CAT/")"
done
expect_eq "OPTIONS is 405" 405 "$(code -X OPTIONS "127.0.0.1:$CAT/")"
expect_eq "HEAD is 405" 405 "$(code -I "127.0.0.1:$CAT/")"
expect_eq "TRACE is 405" 405 "$(code -X TRACE "127.0.0.1:$CAT/")"
# keep-alive: 20 requests over one connection
urls=()
for i in $(seq 20); do urls+=(--data-binary "r$i" "127.0.0.1:$CAT/"); done
expect_eq "20 keep-alive requests on one connection" 20 \
	"$(curl -s -w '%{num_connects}\n' "${urls[@]}" | grep -c .)"
expect_eq "health 200 with the lock" 200 "$(code "127.0.0.1:$CAT/_/health")"
check "lock file written in TMPDIR" test -f "$T_DIR/cat.tmp/.lock"
check "--healthcheck exits 0 when healthy" env port="$CAT" "$W" --healthcheck
rm -f "$T_DIR/cat.tmp/.lock"
expect_eq "health 503 once the lock is gone" 503 "$(code "127.0.0.1:$CAT/_/health")"
check "--healthcheck exits 1 when unhealthy" bash -c "! env TMPDIR=$T_DIR/cat.tmp port=$CAT $W --healthcheck"
touch "$T_DIR/cat.tmp/.lock"
check "--healthcheck exits 1 when nothing listens" bash -c "! $W --healthcheck --port=1"
m=$(curl -s "127.0.0.1:$CAT/metrics")
expect_match "metrics: requests by code" 'http_requests_total\{code="200"\} [0-9]+' "$m"
expect_match "metrics: 405 counted" 'http_requests_total\{code="405"\} 3' "$m"
expect_match "metrics: histogram" 'http_request_duration_seconds_bucket\{le="\+Inf"\} [0-9]+' "$m"
expect_match "metrics: in-flight gauge" 'http_requests_in_flight 0' "$m"

# ---- env: the Http_* variables, hostile headers cannot set anything else
wd env fprocess=env FROM_CONTAINER=yes || exit 1
out=$(curl -s -H 'X-Request-Id: abc-123' -H 'LD_PRELOAD: /tmp/evil.so' -H 'PATH: /evil' \
	-H 'X_Under: 1' -H 'Method: SPOOF' -H 'Content-Type: text/plain' \
	--data-binary 'abcd' "127.0.0.1:$PORT/some/path%20x?a=1&b=%20&c")
expect_match "Http_Method" $'(^|\n)Http_Method=POST(\n|$)' "$out"
expect_match "Http_Path decoded" $'(^|\n)Http_Path=/some/path x(\n|$)' "$out"
expect_match "Http_Query raw" $'(^|\n)Http_Query=a=1&b=%20&c(\n|$)' "$out"
expect_match "Http_Host" $'(^|\n)Http_Host=127.0.0.1:'"$PORT"$'(\n|$)' "$out"
expect_match "Http_ContentLength" $'(^|\n)Http_ContentLength=4(\n|$)' "$out"
expect_match "Http_Content_Type" $'(^|\n)Http_Content_Type=text/plain(\n|$)' "$out"
expect_match "Http_X_Request_Id" $'(^|\n)Http_X_Request_Id=abc-123(\n|$)' "$out"
expect_match "the container's environment" $'(^|\n)FROM_CONTAINER=yes(\n|$)' "$out"
check "no LD_PRELOAD from a header" bash -c "! grep -q 'LD_PRELOAD\|evil' <<<\"\$1\"" _ "$out"
check "PATH header does not shadow Http_Path" bash -c "! grep -q '/evil' <<<\"\$1\"" _ "$out"
check "Method header does not shadow Http_Method" bash -c "! grep -q SPOOF <<<\"\$1\"" _ "$out"
out=$(curl -s "127.0.0.1:$PORT/")
check "no Http_Query without a query" bash -c "! grep -q '^Http_Query=' <<<\"\$1\"" _ "$out"

# ---- failures: 500 with and without combine_output, start failure
wd fail fprocess=false || exit 1
expect_eq "non-zero exit is 500" 500 "$(code "127.0.0.1:$PORT/")"
wd comb fprocess="$WR stderr 3" || exit 1
out=$(curl -s -w ' %{http_code}' "127.0.0.1:$PORT/")
expect_match "combine_output=true: STDERR in the 500 body" $'out\nerr\n 500$|err\nout\n 500$' "$out"
wd sep fprocess="$WR stderr 0" combine_output=false || exit 1
out=$(curl -s -w ' %{http_code}' "127.0.0.1:$PORT/")
expect_eq "combine_output=false: STDOUT only" $'out\n 200' "$out"
check "combine_output=false: STDERR logged" wait_for 3 grep -q 'stderr="err' "$T_DIR/sep.log"
wd sepfail fprocess="$WR stderr 4" combine_output=false || exit 1
out=$(curl -s -w ' %{http_code}' "127.0.0.1:$PORT/")
expect_eq "combine_output=false: exit status in the 500 body" $'exit status 4\n 500' "$out"
wd nosuch fprocess=/nonexistent/prog || exit 1
expect_eq "a process that cannot start is 500" 500 "$(code "127.0.0.1:$PORT/")"

# ---- exec_timeout: the whole group is killed, 504
wd slow fprocess="sleep 30" exec_timeout=500ms || exit 1
SLOW_PID=$PID
t0=$SECONDS
expect_eq "exec_timeout is 504" 504 "$(code --max-time 10 "127.0.0.1:$PORT/")"
check "504 comes at the timeout, not at the end" test $((SECONDS - t0)) -le 3
check "the timed-out process was reaped" wait_for 3 no_children "$SLOW_PID"

# ---- content_type setting
wd ctype fprocess=cat content_type=application/json || exit 1
out=$(curl -s -i -H 'Content-Type: text/plain' -d '{}' "127.0.0.1:$PORT/")
expect_match "content_type overrides the request's" $'Content-Type: application/json\r' "$out"

# ---- max_body: 413 by Content-Length and by a chunked body
wd small fprocess=cat max_body=1Ki || exit 1
head -c 2048 /dev/zero >"$T_DIR/2k"
expect_eq "body over max_body (Content-Length) is 413" 413 "$(code --data-binary @"$T_DIR/2k" "127.0.0.1:$PORT/")"
expect_eq "body over max_body (chunked) is 413" 413 \
	"$(code -H 'Transfer-Encoding: chunked' --data-binary @"$T_DIR/2k" "127.0.0.1:$PORT/")"
expect_eq "body at max_body is fine" 200 "$(code --data-binary @<(head -c 1024 /dev/zero) "127.0.0.1:$PORT/")"

# ---- max_inflight: 429 past the limit, and the limit frees up again
wd lim fprocess="sleep 1" max_inflight=2 || exit 1
LIM=$PORT
code "127.0.0.1:$LIM/" >"$T_DIR/lim1" &
L1=$!
code "127.0.0.1:$LIM/" >"$T_DIR/lim2" &
L2=$!
wait_for 3 bash -c "curl -s 127.0.0.1:$LIM/metrics | grep -q '^http_requests_in_flight 2'"
expect_eq "third concurrent request is 429" 429 "$(code "127.0.0.1:$LIM/")"
wait "$L1" "$L2"
expect_eq "the two admitted ones succeed" "200 200" "$(cat "$T_DIR/lim1") $(cat "$T_DIR/lim2")"
expect_eq "after them, admitted again" 200 "$(code "127.0.0.1:$LIM/")"

# ---- suppress_lock: no lock file, health follows readiness
wd nolock fprocess=cat suppress_lock=true || exit 1
check "suppress_lock: no lock file" test ! -e "$T_DIR/nolock.tmp/.lock"
expect_eq "suppress_lock: health 200" 200 "$(code "127.0.0.1:$PORT/_/health")"

# ---- a lock that cannot be written (read-only /tmp): health follows readiness
mkdir -p "$T_DIR/ro"
start_server rolock env TMPDIR="$T_DIR/ro/missing/dir" port=0 fprocess=cat "$W" || exit 1
expect_eq "unwritable lock: health 200 all the same" 200 "$(code "127.0.0.1:$PORT/_/health")"
check "unwritable lock: logged" grep -q 'lock file not written' "$T_DIR/rolock.log"

# ---- client disconnect: the child is killed and reaped, no fd leaks
wd disc fprocess="sleep 30" exec_timeout=60s || exit 1
DISC_PID=$PID
code "127.0.0.1:$PORT/_/health" >/dev/null
fd0=$(nfds "$DISC_PID")
for i in 1 2 3; do curl -s --max-time 0.5 "127.0.0.1:$PORT/" >/dev/null; done
check "client gone: children killed and reaped" wait_for 5 no_children "$DISC_PID"
zombies=$(awk '$4 == '"$DISC_PID"' && $3 == "Z"' /proc/[0-9]*/stat 2>/dev/null | wc -l)
expect_eq "no zombies" 0 "$zombies"
fds_back() { [ "$(nfds "$DISC_PID")" -le "$fd0" ]; } # counted again on every try
check "client gone: no leaked descriptors" wait_for 5 fds_back
check "client gone: logged" grep -q 'msg="client gone"\|msg=client' "$T_DIR/disc.log"
# a client that disconnects while its body is being uploaded
(exec 3<>/dev/tcp/127.0.0.1/"$PORT" && printf 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\nabc' >&3 && sleep 0.3)
check "client gone mid-body: child reaped" wait_for 5 no_children "$DISC_PID"

# ---- 200 requests at concurrency 8 (no leak, every one answered)
seq 200 | xargs -P 8 -I{} curl -s -o /dev/null -w '%{http_code}\n' --data-binary {} "127.0.0.1:$CAT/" >"$T_DIR/many"
expect_eq "200 concurrent requests all 200" 200 "$(grep -c '^200$' "$T_DIR/many")"
check "no children left after the burst" wait_for 3 no_children "$CAT_PID"

# ---- SIGTERM: lock removed, in-flight request finishes, exit 0
wd drain fprocess="sleep 1" write_timeout=5s || exit 1
DRAIN_PID=$PID DRAIN=$PORT
code "127.0.0.1:$DRAIN/" >"$T_DIR/drain1" &
CURL=$!
wait_for 3 bash -c "curl -s 127.0.0.1:$DRAIN/metrics | grep -q '^http_requests_in_flight 1'"
exec 5<>/dev/tcp/127.0.0.1/"$DRAIN" # an idle keep-alive connection, open before SIGTERM
sleep 0.2
kill -TERM "$DRAIN_PID"
printf 'GET / HTTP/1.1\r\nHost: x\r\n\r\n' >&5 # while the first is still in flight
wait "$CURL"
expect_eq "in-flight request finishes during the drain" 200 "$(cat "$T_DIR/drain1")"
out=$(timeout 5 cat <&5)
exec 5<&-
expect_match "a request on an open connection during the drain: served, then closed" \
	$'^HTTP/1.1 200.*Connection: close' "$(tr -d '\r\n' <<<"$out")"
wait "$DRAIN_PID"
expect_eq "exit 0 after SIGTERM" 0 "$?"
check "lock removed on SIGTERM" test ! -e "$T_DIR/drain.tmp/.lock"
check "no longer accepting" bash -c "! curl -s --max-time 1 127.0.0.1:$DRAIN/_/health"

# ---- configuration errors: exit 2 naming the setting
out=$(env fprocess=cat exec_timeout=soon "$W" 2>&1)
rc=$?
expect_eq "bad duration exits 2" 2 "$rc"
expect_match "the message names exec_timeout" 'exec_timeout.*duration' "$out"
out=$(env -u fprocess "$W" 2>&1)
expect_match "missing fprocess exits 2 with a message" 'fprocess' "$out"
out=$("$W" --help)
expect_match "--help prints the table" 'max_inflight.*--max-inflight' "$out"
