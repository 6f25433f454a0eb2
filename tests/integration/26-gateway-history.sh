#!/usr/bin/env bash
# Gateway: /ui/history/{name}, the last 15 minutes of a function for the UI's
# charts (one point per 10 s step): invocations per second, error ratio,
# p50/p99 latency and replicas, from the gateway's own counters; behind basic
# auth; 404 for an unknown function, 400 for a bad name.
source "$FX_ROOT/tests/lib.sh"

printf 'admin\n' >"$T_DIR/user"
printf 's3cret\n' >"$T_DIR/password"
mkdir -p "$T_DIR/wd.tmp"
start_server wd env TMPDIR="$T_DIR/wd.tmp" port=0 fprocess=cat "$BIN/fwatchdog" || {
	t_fail "watchdog starts"
	exit 1
}
WD=$PORT
start_server gw env port=0 bind=127.0.0.1 discovery=static \
	static_functions="echo=127.0.0.1:$WD,127.0.0.1:$WD;down=127.0.0.1:1" controller_url= \
	basic_auth_user_file="$T_DIR/user" basic_auth_password_file="$T_DIR/password" \
	"$BIN/faas-gateway" || {
	t_fail "gateway starts"
	exit 1
}
G=http://127.0.0.1:$PORT
A=(-u admin:s3cret)

expect_eq "history needs basic auth" 401 "$(curl -s -o /dev/null -w '%{http_code}' "$G/ui/history/echo")"
expect_eq "history of an unknown function is 404" 404 \
	"$(curl -s -o /dev/null -w '%{http_code}' "${A[@]}" "$G/ui/history/nope")"
expect_eq "history of a bad name is 400" 400 \
	"$(curl -s -o /dev/null -w '%{http_code}' "${A[@]}" "$G/ui/history/No_Such")"
expect_match "history starts empty" '"t":\[\],' "$(curl -s "${A[@]}" "$G/ui/history/echo")"

ok=0
for i in $(seq 1 40); do
	[ "$(curl -s -d "x$i" "$G/function/echo")" = "x$i" ] && ok=$((ok + 1))
done
expect_eq "40 invocations of echo" 40 "$ok"
for _ in 1 2 3 4 5; do curl -s -o /dev/null "$G/function/down"; done

# The first step ends at most 10 s after the gateway started.
has_point() { curl -s "${A[@]}" "$G/ui/history/$1" | grep -q '"t":\[[0-9]'; }
check "a point within 15 s" wait_for 15 has_point echo
h=$(curl -s "${A[@]}" "$G/ui/history/echo")
echo "  $h"
first() { sed -nE "s/.*\"$1\":\\[([^],]*).*/\\1/p" <<<"$h"; }
expect_match "invocations per second > 0" '^[0-9]+\.[0-9]+$' "$(first invocations_per_second)"
check "the rate is 40 requests over the step" awk -v r="$(first invocations_per_second)" \
	'BEGIN { exit !(r > 0.5 && r <= 40) }'
expect_eq "no errors for echo" "0.0000" "$(first error_ratio)"
check "p50 and p99 are latencies under 1 s" awk -v a="$(first p50_seconds)" -v b="$(first p99_seconds)" \
	'BEGIN { exit !(a > 0 && a < 1 && b >= a && b < 1) }'
expect_eq "replicas from the registry" 2 "$(first replicas)"
# The calls may fall into the first step or the next: the step that has
# them says they all failed, and no step says otherwise.
errs() { curl -s "${A[@]}" "$G/ui/history/down" | sed -nE 's/.*"error_ratio":\[([^]]*)\].*/\1/p'; }
check "the step with the calls of down is there within 25 s" wait_for 25 bash -c "$(declare -f errs); A=(${A[*]}); G=$G; errs | grep -q 1.0000"
expect_match "every call of a function without a reachable replica is an error" '^(null,)*1\.0000(,null|,1\.0000)*$' "$(errs)"
h=$(curl -s "${A[@]}" "$G/ui/history/down")
expect_match "the answer is JSON with its step" '^\{"function":"down","source":"gateway","step_seconds":10,' "$h"
