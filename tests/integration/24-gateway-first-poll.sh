#!/usr/bin/env bash
# A gateway that has just started (restarted under load) and has not yet
# read the function list from the controller holds a request for the first
# poll instead of answering 503; past WAIT_LOAD_MS (5 s) it answers 503.
source "$FX_ROOT/tests/lib.sh"
W=$BIN/fwatchdog
mkdir -p "$T_DIR/wd.tmp"
start_server wd env TMPDIR="$T_DIR/wd.tmp" port=0 fprocess="echo hi" "$W" || exit 1
WD=$PORT
echo '[{"name":"fx-late","image":"x","replicas":1,"availableReplicas":1}]' >"$T_DIR/functions.json"

# A free port for the controller, which is not up yet when the gateway starts.
start_server probe env port=0 functions_file="$T_DIR/functions.json" "$TOOLS/fake_controller" || exit 1
CTL=$PORT
kill "$PID"
wait "$PID" 2>/dev/null
start_server gw env bind=127.0.0.1 port=0 controller_url="http://127.0.0.1:$CTL" \
	basic_auth=false discovery=static static_functions="fx-late=127.0.0.1:$WD" registry_interval=200ms \
	"$BIN/faas-gateway" || exit 1
G=http://127.0.0.1:$PORT

# No controller at all: 503 once the wait is over, not at once.
start=$(date +%s%N)
b=$(curl -s -m 15 -w ' %{http_code}' "$G/function/fx-late")
ms=$((($(date +%s%N) - start) / 1000000))
expect_match "no function list within 5 s: 503" 'not loaded yet.* 503$' "$b"
check "after holding the request about 5 s (took $ms ms)" test "$ms" -ge 4500 -a "$ms" -lt 9000

# The controller comes up while a request waits: the request is served.
curl -s -m 15 -w ' %{http_code}' "$G/function/fx-late" >"$T_DIR/held" 2>&1 &
held=$!
sleep 1
start_server ctl env port="$CTL" functions_file="$T_DIR/functions.json" "$TOOLS/fake_controller" || exit 1
wait "$held"
expect_eq "a request held for the first poll is served" "hi 200" "$(tr -d '\n' <"$T_DIR/held")"
