#!/usr/bin/env bash
# The function list is read by waiting for a change: the real controller
# (against fake_swarm) holds GET /system/functions?watch=G until its
# generation (X-Faas-Generation) moves on, and a real gateway reads the list
# that way: idle, it does not ask again and again; a function applied is in
# its registry at once; a request for a name it lacks still gets its 404
# within the usual wait; it stops at once, though a wait is open.
source "$FX_ROOT/tests/lib.sh"
echo "w-token" >"$T_DIR/token"
start_server swarm "$TOOLS/fake_swarm" || exit 1
start_server ctl env DOCKER_HOST="tcp://127.0.0.1:$PORT" "$BIN/faas-controller" --port 0 \
	--bind 127.0.0.1 --token-file "$T_DIR/token" --network w-net --log-level debug || exit 1
CTL=http://127.0.0.1:$PORT
AUTH=(-H "Authorization: Bearer w-token")
apply() { # NAME
	printf 'apiVersion: faas/v1\nkind: Function\nmetadata: {name: %s}\nspec:\n  image: img:1\n' "$1" |
		curl -s -o /dev/null -w '%{http_code}' -X PUT "${AUTH[@]}" --data-binary @- "$CTL/apis/faas/v1/functions/$1"
}
gen_of() { sed -n 's/^X-Faas-Generation: \([0-9]*\).*/\1/ip' "$1" | tr -d '\r'; }

gen_now() { curl -s -D - -o /dev/null "$CTL/system/functions" | sed -n 's/^X-Faas-Generation: \([0-9]*\).*/\1/ip'; }
# The controller's start-up writes (the network) come first.
settled() { local a; a=$(gen_now); sleep 0.3; [ -n "$a" ] && [ "$a" = "$(gen_now)" ]; }
check "the controller settled" wait_for 10 settled
curl -s -D "$T_DIR/h0" -o /dev/null "$CTL/system/functions"
g0=$(gen_of "$T_DIR/h0")
expect_match "the list says its generation" '^[0-9]+$' "$g0"
t0=$(date +%s%N)
code=$(curl -s -o /dev/null -m 2 -w '%{http_code}' "$CTL/system/functions?watch=$g0" || true)
expect_eq "nothing changed: ?watch=G is still waiting after 2 s" 000 "$code"
expect_eq "a generation other than the current one answers at once" 200 \
	"$(curl -s -o /dev/null -m 1 -w '%{http_code}' "$CTL/system/functions?watch=$((g0 + 1000))")"
expect_eq "so does a malformed one" 200 \
	"$(curl -s -o /dev/null -m 1 -w '%{http_code}' "$CTL/system/functions?watch=x1")"
curl -s -D "$T_DIR/h1" -o "$T_DIR/l1" -m 10 "$CTL/system/functions?watch=$g0" &
w=$!
sleep 0.5
expect_eq "apply a function" 201 "$(apply wa)"
t1=$(date +%s%N)
wait "$w"
t2=$(date +%s%N)
check "the waiting list answered once it was applied, within 1 s" test $(((t2 - t1) / 1000000)) -lt 1000
check "with a newer generation" test "$(gen_of "$T_DIR/h1")" -gt "$g0"
# An apply is several writes (config, service): the wait answers at the
# first; a watch from that answer's generation answers again at once while
# the later ones land, and the list has the function.
curl -s -D "$T_DIR/h2" -o "$T_DIR/l2" -m 2 "$CTL/system/functions?watch=$(gen_of "$T_DIR/h1")"
expect_eq "the list after the answer's generation has it" '["wa"]' "$(jq -c '[.[].name]' "$T_DIR/l2")"
echo "  (the first wait took $(((t1 - t0) / 1000000)) ms in all)"

start_server gw env bind=127.0.0.1 port=0 controller_url="$CTL" controller_token_file="$T_DIR/token" \
	basic_auth=false registry_interval=200ms "$BIN/faas-gateway" || exit 1
GW=http://127.0.0.1:$PORT
GWPID=$PID
in_registry() { curl -s -H 'Authorization: Bearer w-token' "$GW/_/concurrency" | jq -e --arg f "$1" 'any(.functions[]; .name == $f)' >/dev/null; }
check "the gateway loaded the list" wait_for 5 in_registry wa
lists() { grep -c 'msg=request method=GET path=/system/functions ' "$T_DIR/ctl.log"; }
n0=$(lists)
sleep 3
n1=$(lists)
check "idle for 3 s with registry_interval 200ms: at most one list answered (not 15)" test $((n1 - n0)) -le 1
expect_eq "apply another" 201 "$(apply wb)"
check "the gateway has it within 1 s" wait_for 1 in_registry wb
t0=$(date +%s%N)
code=$(curl -s -o /dev/null -m 5 -w '%{http_code}' "$GW/function/nope")
t1=$(date +%s%N)
expect_eq "a name the list lacks: 404" 404 "$code"
check "within the usual wait for a poll (under 2 s), though the list was waiting" \
	test $(((t1 - t0) / 1000000)) -lt 2000
t0=$(date +%s%N)
kill -TERM "$GWPID"
for _ in $(seq 1 100); do kill -0 "$GWPID" 2>/dev/null || break; sleep 0.05; done
t1=$(date +%s%N)
check "SIGTERM: the gateway stops within 5 s though its list is waiting" test $(((t1 - t0) / 1000000)) -lt 5000
check "no sanitizer report or crash" bash -c "! grep -Eq 'AddressSanitizer|runtime error' '$T_DIR'/*.log"
