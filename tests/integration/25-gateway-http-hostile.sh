#!/usr/bin/env bash
# The data path's HTTP/1.1 rules (issue #17, items 2 and 6-9), fixed once in
# common/ and checked here against both programs that use them: the gateway
# and the watchdog in http mode, with tests/tools/wd_upstream as the function.
#   6: header names are tokens (no "Name : v", no CR inside, no folded line)
#   7: "100 Continue" and the final answer in one read do not stall
#   8: framing: two Content-Length, CL with TE, unknown TE, no Host
#   9: a request head that drips in is cut; connections per client address
#   2: a function never gets the browser's credentials, and cannot set the
#      UI's cookies or challenge for them; the UI and API answers carry CSP,
#      X-Frame-Options and nosniff
source "$FX_ROOT/tests/lib.sh"
W=$BIN/fwatchdog
UP=$TOOLS/wd_upstream
if [ ! -x "$W" ] || [ ! -x "$UP" ]; then
	t_fail "fwatchdog and wd_upstream are built"
	exit 1
fi

UPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$T_DIR/wd.tmp"
# The watchdog starts wd_upstream itself (http mode); the gateway's function
# "fx" is wd_upstream straight (so the gateway sees its answers unchanged).
start_server wd env TMPDIR="$T_DIR/wd.tmp" port=0 mode=http fprocess="$UP $UPORT" \
	upstream_url="http://127.0.0.1:$UPORT" exec_timeout=4s "$W" || exit 1
WD=$PORT
check "the watchdog's upstream is ready" wait_for 10 \
	bash -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' 127.0.0.1:$WD/_/health)\" = 200 ]"
start_server gw env bind=127.0.0.1 port=0 discovery=static static_functions="fx=127.0.0.1:$UPORT" \
	controller_url= basic_auth=false upstream_timeout=4s client_timeout=2s header_timeout=1s \
	max_connections_per_ip=4 "$BIN/faas-gateway" || exit 1
GP=$PORT GW_PID=$PID
G=http://127.0.0.1:$GP

# status PORT REQUEST: sends bytes on a new connection, prints the status line.
status() {
	local out
	out=$(exec 3<>"/dev/tcp/127.0.0.1/$1" && printf '%b' "$2" >&3 && timeout 5 head -n 1 <&3)
	printf '%s' "${out%$'\r'}"
}
# whole PORT REQUEST: everything the server sends until it closes (5 s at most).
# (A request refused before its body is read is sent without the body: bytes
# left unread when the server closes would reset the connection, and the
# answer with it.)
whole() {
	(exec 3<>"/dev/tcp/127.0.0.1/$1" && printf '%b' "$2" >&3 && timeout 5 cat <&3) | tr -d '\r'
}

for who in "gateway:$GP:/function/fx/headers" "watchdog:$WD:/headers"; do
	IFS=: read -r name port path <<<"$who"
	# ---- 6: header names
	expect_match "$name: 'Transfer-Encoding : chunked' is 400" '^HTTP/1\.1 400' \
		"$(status "$port" "POST $path HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\n\r\n")"
	expect_match "$name: a bare CR inside a name is 400" '^HTTP/1\.1 400' \
		"$(status "$port" "GET $path HTTP/1.1\r\nHost: x\r\nX-A\rB: 1\r\n\r\n")"
	expect_match "$name: a folded line (obs-fold) is 400" '^HTTP/1\.1 400' \
		"$(status "$port" "GET $path HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n folded: 2\r\n\r\n")"
	# ---- 8: framing
	expect_match "$name: two different Content-Length: 400" '^HTTP/1\.1 400' \
		"$(status "$port" "POST $path HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 5\r\n\r\n")"
	out=$(whole "$port" "POST $path HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n")
	expect_match "$name: Content-Length with Transfer-Encoding: 400" '^HTTP/1\.1 400' "$out"
	expect_match "$name: ... and the connection closes" '(^|
)Connection: close' "$out"
	expect_match "$name: an unknown Transfer-Encoding: 501" '^HTTP/1\.1 501' \
		"$(status "$port" "POST $path HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n")"
	expect_match "$name: HTTP/1.1 without Host: 400" '^HTTP/1\.1 400' \
		"$(status "$port" "GET $path HTTP/1.1\r\n\r\n")"
	expect_match "$name: HTTP/1.1 with two Host: 400" '^HTTP/1\.1 400' \
		"$(status "$port" "GET $path HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n")"
	expect_match "$name: a clean request still passes" '^HTTP/1\.1 200' \
		"$(status "$port" "GET $path HTTP/1.1\r\nHost: x\r\n\r\n")"
done

# ---- 7: "100 Continue" and the final answer in one read (the old code waited
# for the upstream timeout, 4 s here, and answered 504)
for who in "gateway:$G/function/fx/continue" "watchdog:127.0.0.1:$WD/continue"; do
	name=${who%%:*} url=${who#*:}
	t0=$(date +%s%N)
	out=$(curl -s --max-time 8 -w ' %{http_code}' "$url")
	ms=$((($(date +%s%N) - t0) / 1000000))
	expect_eq "$name: 100 Continue then 200 in one read" "continued 200" "$(tr -d '\n' <<<"$out")"
	check "$name: ... answered at once (${ms} ms < 2000)" test "$ms" -lt 2000
done

# ---- 2: credentials and the UI's cookies
out=$(curl -s -u admin:secret "$G/function/fx/headers")
# shellcheck disable=SC2016
check "a function does not get Basic credentials" bash -c '! grep -qi "^Authorization:" <<<"$1"' _ "$out"
out=$(curl -s -H 'Authorization: Bearer t0k' "$G/function/fx/headers")
expect_match "a function's own Bearer token passes" 'Authorization: Bearer t0k' "$out"
hdrs=$(curl -s -D - -o /dev/null "$G/function/fx/cookies" | tr -d '\r')
# shellcheck disable=SC2016
check "no Basic challenge from a function reaches the browser" \
	bash -c '! grep -qi "^WWW-Authenticate:" <<<"$1"' _ "$hdrs"
# shellcheck disable=SC2016
check "no cookie for /ui/ or / from a function" bash -c '! grep -qi "^Set-Cookie: \(ui\|root\)=" <<<"$1"' _ "$hdrs"
# shellcheck disable=SC2016
check "no Clear-Site-Data from a function" bash -c '! grep -qi "^Clear-Site-Data:" <<<"$1"' _ "$hdrs"
expect_match "a cookie below /function/ passes" 'Set-Cookie: mine=1; Path=/function/fx' "$hdrs"
expect_match "other headers pass" 'X-Kept: 1' "$hdrs"
hdrs=$(curl -s -D - -o /dev/null "$G/ui/" | tr -d '\r')
expect_match "UI: Content-Security-Policy" "Content-Security-Policy: default-src 'self'" "$hdrs"
expect_match "UI: X-Frame-Options: DENY" 'X-Frame-Options: DENY' "$hdrs"
expect_match "UI: X-Content-Type-Options: nosniff" 'X-Content-Type-Options: nosniff' "$hdrs"
hdrs=$(curl -s -D - -o /dev/null "$G/system/functions" | tr -d '\r')
expect_match "API (no controller: 404): CSP and framing refused" \
	"Content-Security-Policy: default-src 'none'.*" "$(tr '\n' ' ' <<<"$hdrs")"
expect_match "API: X-Frame-Options: DENY" 'X-Frame-Options: DENY' "$hdrs"

# ---- 9: a request head that drips in is cut after header_timeout (1 s)
drip() (
	trap '' PIPE # a write on the cut connection fails instead of killing the test
	exec 4<>"/dev/tcp/127.0.0.1/$GP" || return 2
	printf 'GET /healthz HTTP/1.1\r\n' >&4
	for i in $(seq 30); do
		# a byte every 200 ms: never idle for client_timeout (2 s)
		printf 'X-Drip-%d: 1\r\n' "$i" >&4 2>/dev/null || { exec 4>&-; return 0; }
		sleep 0.2
	done
	exec 4>&-
	return 1
)
t0=$(date +%s%N)
drip
rc=$?
ms=$((($(date +%s%N) - t0) / 1000000))
check "a dripping request head is cut (rc $rc, after ${ms} ms, < 4000)" test "$rc" = 0 -a "$ms" -lt 4000
check "the gateway is alive after it" test "$(curl -s "$G/healthz")" = ok

# per-address cap: 4 connections; a fifth is refused while they stay open
for i in 1 2 3 4; do
	eval "exec $((5 + i))<>/dev/tcp/127.0.0.1/$GP"
done
sleep 0.3
code5=$(curl -s -o /dev/null -w '%{http_code}' --max-time 3 "$G/healthz")
check "a fifth connection from one address is refused (got $code5)" test "$code5" = 000
for i in 1 2 3 4; do
	eval "exec $((5 + i))>&-"
done
check "after they close, a new one is served" wait_for 5 test "$(curl -s "$G/healthz")" = ok
check "the gateway is still running" kill -0 "$GW_PID"
