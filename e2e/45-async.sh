#!/usr/bin/env bash
# Asynchronous calls on the platform that e2e/30 left running (scripts/up.sh
# runs first: idempotent): the stack's nats (JetStream on its volume) and
# queue-worker (2 replicas here). N calls (FX_ASYNC_CALLS, default 10000, as issue #14 asks) to a
# function of our own; after a third of them nats-server is killed (Swarm
# starts it again on the same volume) and so is one worker in the middle of
# its calls. Calls answered 503 while NATS is down are sent again with the
# same X-Call-Id (the client's retry). Then every call must have been run
# and called back, or be in the dead-letter stream: the callbacks go to a
# recorder (tests/tools/cb_sink, in an image built here) on the stack's
# network. Prints the duplicates (delivery is at least once) and the timings
# (also in $FX_ARTIFACTS/async-e2e.txt). A function with retries 1 and a
# command that fails (grep finding nothing: exit 1, 500) checks the
# annotation and the dead-letter stream.
# Everything made here is named async-e2e*, and removed.
source "$FX_ROOT/tests/lib.sh"
cd "$FX_ROOT" || exit 1

GW=http://127.0.0.1:${FAAS_PORT:-8080}
N=${FX_ASYNC_CALLS:-10000}
FN=async-e2e
BAD=async-e2e-fail
SINK=async-e2e-sink
OUT=$FX_ARTIFACTS/async-e2e.txt
RUN=r$(date +%s)
mkdir -p "$FX_ARTIFACTS"

now_ms() { echo $(($(date +%s%N) / 1000000)); }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", (b - a) / 1000 }'; }
cleanup() {
	if grep -q "^fail $T_NAME" "$FX_RESULTS" 2>/dev/null; then
		mkdir -p "$FX_ARTIFACTS/45-async"
		cp "$T_DIR"/*.log "$T_DIR"/sink/cb.txt "$FX_ARTIFACTS/45-async/" 2>/dev/null
		for s in faas_queue-worker faas_nats faas_gateway; do
			timeout 20 docker service logs --timestamps --since 10m "$s" \
				>"$FX_ARTIFACTS/45-async/$s.log" 2>&1
		done
	fi
	docker service rm "$SINK" >/dev/null 2>&1
	docker service scale -d faas_queue-worker=1 >/dev/null 2>&1
	bin/faasctl delete "$FN" "$BAD" >/dev/null 2>&1
	t_cleanup
}
trap cleanup EXIT

if ! scripts/up.sh >"$T_DIR/up.log" 2>&1; then
	echo "  scripts/up.sh failed: $(tail -n 1 "$T_DIR/up.log")"
fi
check "the gateway answers" wait_for 60 curl -fsS -o /dev/null "$GW/healthz"
for s in faas_nats faas_queue-worker; do
	check "$s runs" wait_for 60 bash -c "docker service ps --filter desired-state=running --format '{{.CurrentState}}' $s | grep -q ^Running"
done
[ -x "$TOOLS/cb_sink" ] || { t_fail "cb_sink is built"; exit 1; }

# --- the callback recorder: cb_sink in an image of its own, on the stack's network
ctx=$T_DIR/sink-image
mkdir -p "$ctx/rootfs/out" "$T_DIR/sink"
cp "$TOOLS/cb_sink" "$ctx/rootfs/cb_sink"
ldd "$TOOLS/cb_sink" | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}' |
	while read -r lib; do mkdir -p "$ctx/rootfs$(dirname "$lib")" && cp -L "$lib" "$ctx/rootfs$lib"; done
printf 'FROM scratch\nCOPY rootfs/ /\nENV CB_BIND=0.0.0.0 CB_PORT=9000\nENTRYPOINT ["/cb_sink", "/out/cb.txt"]\n' >"$ctx/Dockerfile"
check "the recorder's image builds" bash -c "DOCKER_BUILDKIT=0 docker build -q -t faas-e2e/async-sink:latest --label faas.image=async-e2e-sink '$ctx' >'$T_DIR/build.log' 2>&1"
docker service rm "$SINK" >/dev/null 2>&1
check "the recorder runs on the stack's network" bash -c "docker service create -d --name $SINK \
	--network faas_control --endpoint-mode dnsrr --restart-condition none \
	--mount type=bind,src=$T_DIR/sink,dst=/out faas-e2e/async-sink:latest >'$T_DIR/sink.log' 2>&1"
CB=http://$SINK:9000/cb

# --- the functions: echo (cat), and one that fails with retries 1
image=$(sed -n 's/^FAAS_ECHO_IMAGE=//p' build/images.env)
cat >"$T_DIR/fns.yaml" <<EOF
apiVersion: faas/v1
kind: Function
metadata: {name: $FN}
spec:
  image: $image
  fprocess: cat
  scale: {min: 2, max: 2}
---
apiVersion: faas/v1
kind: Function
metadata:
  name: $BAD
  annotations: {com.openfaas.async.retries: "1"}
spec:
  image: $image
  fprocess: grep -q no-such-text
  scale: {min: 1, max: 1}
EOF
check "the functions apply" bash -c "bin/faasctl apply -f '$T_DIR/fns.yaml' >'$T_DIR/apply.log' 2>&1"
answers() { [ "$(curl -s --max-time 2 --data-binary "$2" "$GW/function/$1")" = "$2" ]; }
check "$FN answers" wait_for 60 answers "$FN" ping
check "the queue worker runs 2 replicas" bash -c "docker service scale -d faas_queue-worker=2 >/dev/null"
two() { [ "$(docker ps -q --filter label=com.docker.swarm.service.name=faas_queue-worker | wc -l)" -ge 2 ]; }
check "both workers run" wait_for 60 two
sink_up() { [ "$(curl -s -o /dev/null -w '%{http_code}' -m 5 -H "X-Callback-Url: $CB" -H "X-Call-Id: $RUN-probe" -d probe "$GW/async-function/$FN")" = 202 ] &&
	wait_for 10 grep -q "^$RUN-probe 200 " "$T_DIR/sink/cb.txt"; }
check "an asynchronous call is run and called back" wait_for 60 sink_up

# --- the dead-letter path with the function's own retries (1: two attempts)
curl -s -o /dev/null -m 5 -H "X-Callback-Url: $CB" -H "X-Call-Id: $RUN-bad" -d bad "$GW/async-function/$BAD"
check "a failing call is dead-lettered after 1 retry" wait_for 60 grep -q "^$RUN-bad 500 1 " "$T_DIR/sink/cb.txt"
expect_match "faasctl lists it with 2 attempts" "$RUN-bad +500 +2 " "$(bin/faasctl async dead-letters "$BAD" 2>&1)"

# --- N calls; nats-server and a worker are killed along the way
entry() { # ID: one call in a curl config ("next" separates calls)
	printf 'next\nurl = "%s/async-function/%s"\nheader = "X-Call-Id: %s"\nheader = "X-Callback-Url: %s"\ndata = "%s"\noutput = "/dev/null"\nwrite-out = "%%{http_code} %s\\n"\nmax-time = 10\n' \
		"$GW" "$FN" "$1" "$CB" "$1" "$1"
}
# post: the calls whose ids are on stdin, 16 at a time; "CODE ID" lines to codes
post() {
	local id
	while read -r id; do entry "$id"; done | sed '1d' | curl -s -Z --parallel-max 16 -K - >>"$T_DIR/codes" 2>/dev/null
}
send() { seq "$1" "$2" | sed "s/^/$RUN-/" | post; }
: >"$T_DIR/codes"
third=$((N / 3))
t0=$(now_ms)
send 1 "$third"
docker kill "$(docker ps -q --filter label=com.docker.swarm.service.name=faas_nats | head -n 1)" >/dev/null
t_nats=$(now_ms)
send $((third + 1)) $((2 * third))
docker kill "$(docker ps -q --filter label=com.docker.swarm.service.name=faas_queue-worker | head -n 1)" >/dev/null
send $((2 * third + 1)) "$N"
t_sent=$(now_ms)
# The client's retry: what was not stored is sent again with its call id.
for round in $(seq 60); do
	awk '{last[$2] = $1} END {for (id in last) if (last[id] != 202) print id}' "$T_DIR/codes" >"$T_DIR/retry"
	[ -s "$T_DIR/retry" ] || break
	[ "$round" -gt 1 ] && sleep 1
	post <"$T_DIR/retry"
done
t_stored=$(now_ms)
first_503=$(awk '$1 == 503' "$T_DIR/codes" | wc -l)
other=$(awk '$1 != 202 && $1 != 503' "$T_DIR/codes" | wc -l)
stored=$(awk '$1 == 202 {print $2}' "$T_DIR/codes" | sort -u | wc -l)
expect_eq "every one of the $N calls is stored in the end (503s sent again: $first_503)" "$N" "$stored"
check "nothing but 202 and 503 ($other other answers)" test "$other" -eq 0
check "NATS down was answered 503 (not 202, not an error)" test "$first_503" -ge 1

done_all() {
	local got
	got=$(grep "^$RUN-[0-9]* " "$T_DIR/sink/cb.txt" | awk '{print $1}' | sort -u | wc -l)
	[ "$got" -ge "$N" ]
}
check "every call ran and was called back, or was dead-lettered" wait_for 240 done_all
t_done=$(now_ms)
got=$(grep "^$RUN-[0-9]* " "$T_DIR/sink/cb.txt" | awk '{print $1}' | sort -u | wc -l)
dead=$(grep "^$RUN-[0-9]* [0-9]* 1 " "$T_DIR/sink/cb.txt" | awk '{print $1}' | sort -u | wc -l)
dups=$(grep "^$RUN-[0-9]* " "$T_DIR/sink/cb.txt" | awk '{print $1}' | sort | uniq -d | wc -l)
wrong=$(grep "^$RUN-[0-9]* 200 0 " "$T_DIR/sink/cb.txt" | awk '$1 != $6 {n++} END {print n + 0}')
expect_eq "each callback carries its own call's output" 0 "$wrong"
if [ "$dead" -gt 0 ]; then
	dl=$(bin/faasctl async dead-letters "$FN" --limit 1000 2>&1)
	missing=0
	while read -r id; do
		grep -q " $id " <<<"$dl" || missing=$((missing + 1))
	done < <(grep "^$RUN-[0-9]* [0-9]* 1 " "$T_DIR/sink/cb.txt" | awk '{print $1}' | sort -u)
	expect_eq "the dead-lettered calls are in the dead-letter stream with a reason" 0 "$missing"
fi
{
	echo "async e2e ($RUN): $N calls, 2 workers, nats-server and one worker killed"
	echo "  answered 503 while NATS was down (sent again): $first_503"
	echo "  called back: $got of $N; dead-lettered: $dead; duplicates (at least once): $dups"
	echo "  first third sent: $(secs "$t0" "$t_nats") s; all sent: $(secs "$t0" "$t_sent") s;" \
		"all stored: $(secs "$t0" "$t_stored") s; all done: $(secs "$t0" "$t_done") s"
} | tee "$OUT" | sed 's/^/  /'
