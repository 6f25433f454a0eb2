#!/usr/bin/env bash
# A function that has replicas but none past its HEALTHCHECK yet (so none in
# Docker's DNS): the request waits while the gateway asks the controller where
# the started tasks are and probes their /_/health itself; the first replica
# that answers 200 takes the request. A function whose started tasks never
# become ready gets 503 after start_timeout. (DNS discovery: tasks.NAME does
# not resolve here, as for a task before its first passing check.)
source "$FX_ROOT/tests/lib.sh"
W=$BIN/fwatchdog
[ -x "$W" ] || { t_fail "bin/fwatchdog is built"; exit 1; }

mkdir -p "$T_DIR/wd.tmp"
start_server wd env TMPDIR="$T_DIR/wd.tmp" port=0 fprocess="echo ready" "$W" || exit 1
WD=$PORT

# ::1: nothing listens there (the watchdog binds IPv4 only): refused, like a task
# whose process has not started.
cat >"$T_DIR/functions.json" <<'JSON'
[{"name":"fx-starting","image":"x","replicas":1,"availableReplicas":0,"endpoints":["::1","127.0.0.1"]},
 {"name":"fx-stuck","image":"x","replicas":1,"availableReplicas":0,"endpoints":["::1","not-an-ip"]},
 {"name":"fx-none","image":"x","replicas":0,"availableReplicas":0,"endpoints":["127.0.0.1"]}]
JSON
start_server ctl env port=0 functions_file="$T_DIR/functions.json" "$TOOLS/fake_controller" || exit 1
CTL=$PORT
start_server gw env bind=127.0.0.1 port=0 controller_url="http://127.0.0.1:$CTL" \
	basic_auth=false discovery=dns function_port="$WD" start_timeout=1500ms registry_interval=30s \
	"$BIN/faas-gateway" || exit 1
G=http://127.0.0.1:$PORT

start=$(date +%s%N)
expect_eq "starting function: the request waits for the probed replica" ready \
	"$(curl -s -m 10 "$G/function/fx-starting")"
ms=$((($(date +%s%N) - start) / 1000000))
check "it got through in under 1 s (took $ms ms)" test "$ms" -lt 1000
check "the gateway asked the controller for the started tasks" grep -q 'msg=endpoints name=fx-starting' "$T_DIR/ctl.log"
check "and logged the probed replica" grep -q 'msg=replica_probed_ready function=fx-starting replicas=1' "$T_DIR/gw.log"
expect_eq "the next request goes straight through" ready "$(curl -s -m 2 "$G/function/fx-starting")"

start=$(date +%s%N)
b=$(curl -s -m 10 -w ' %{http_code}' "$G/function/fx-stuck")
ms=$((($(date +%s%N) - start) / 1000000))
expect_match "never ready: 503 after start_timeout" 'none became ready in time.* 503$' "$b"
check "it waited start_timeout (1.5 s), not much longer (took $ms ms)" \
	test "$ms" -ge 1400 -a "$ms" -lt 4000

start=$(date +%s%N)
b=$(curl -s -m 10 -w ' %{http_code}' "$G/function/fx-none")
ms=$((($(date +%s%N) - start) / 1000000))
expect_match "scaled to 0 (zero: false): 503 at once" 'no ready replicas.* 503$' "$b"
check "without probing (took $ms ms)" bash -c "test $ms -lt 1000 && ! grep -q 'name=fx-none' '$T_DIR/ctl.log'"

# ---- every replica refuses (being stopped by a scale to zero the gateway has
# not polled yet): the request waits, the gateway sees the function at zero,
# asks for one replica, and sends the request once one listens.
start_server probe env TMPDIR="$T_DIR/wd.tmp" port=0 fprocess=cat "$W" || exit 1
FREE=$PORT
kill "$PID"
wait "$PID" 2>/dev/null
cat >"$T_DIR/back.json" <<'JSON'
[{"name":"fx-back","image":"x","replicas":1,"availableReplicas":1,"zero":true}]
JSON
printf 'tok\n' >"$T_DIR/token"
start_server ctl2 env port=0 functions_file="$T_DIR/back.json" token=tok scale_delay_ms=300 \
	"$TOOLS/fake_controller" || exit 1
CTL2=$PORT
start_server gw2 env bind=127.0.0.1 port=0 controller_url="http://127.0.0.1:$CTL2" \
	controller_token_file="$T_DIR/token" basic_auth=false discovery=static \
	static_functions="fx-back=127.0.0.1:$FREE" \
	registry_interval=30s scale_from_zero_timeout=10s "$BIN/faas-gateway" || exit 1
G2=http://127.0.0.1:$PORT
sed -i 's/"replicas":1,"availableReplicas":1/"replicas":0,"availableReplicas":0/' "$T_DIR/back.json"
mkdir -p "$T_DIR/back.tmp"
(sleep 1 && exec env TMPDIR="$T_DIR/back.tmp" port="$FREE" fprocess="printf back" "$W" 2>"$T_DIR/back.log") &
T_PIDS+=($!)
b=$(curl -s -m 15 -w ' %{http_code}' "$G2/function/fx-back")
expect_eq "all replicas refused: the request waited and got through" "back 200" "$b"
check "the gateway waited instead of answering 502" grep -q 'msg=replicas_refused_waiting function=fx-back' "$T_DIR/gw2.log"
check "and, finding the function at zero, asked for one replica" grep -q 'msg=scale name=fx-back replicas=1' "$T_DIR/ctl2.log"
