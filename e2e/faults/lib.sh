# e2e/faults/lib.sh: sourced by e2e/5x-fault-*.sh after tests/lib.sh.
# shellcheck shell=bash disable=SC2034
# The fault suite's common parts: one function (fault-echo, 3 replicas)
# deployed once and reused by every fault script, a bounded load (wrk, 8
# connections, POST, e2e/faults/post.lua) through the gateway's published
# port on 127.0.0.1, and one line of figures per fault, also appended to
# $FX_ARTIFACTS/faults.txt (bench/RESULTS.md's "Faults" table comes from it).
cd "$FX_ROOT" || exit 1
GW=http://127.0.0.1:${FAAS_PORT:-8080}
FN=fault-echo
REPLICAS=3
CONNS=8
LOAD_S=${FX_FAULT_LOAD_SECONDS:-20}
FIGURES=$FX_ARTIFACTS/faults.txt

now_ms() { echo $(($(date +%s%N) / 1000000)); }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b - a) / 1000 }'; }
svc_of() { docker service ls -q --filter "label=faas.function=$1" | head -n 1; }
want_replicas() { docker service inspect -f '{{.Spec.Mode.Replicated.Replicas}}' "$(svc_of "$1")" 2>/dev/null; }
# Tasks desired running that are running (with a HEALTHCHECK: passed once).
running_tasks() {
	local s
	s=$(svc_of "$1")
	[ -n "$s" ] || { echo 0; return; }
	docker service ps --filter desired-state=running --format '{{.CurrentState}}' "$s" 2>/dev/null |
		grep -c '^Running'
}
containers_of() { docker ps -q --filter "label=com.docker.swarm.service.name=$1"; }
answers() { [ "$(curl -s --max-time 5 --data-binary ping "$GW/function/$1")" = ping ]; }
runs_n() { [ "$(running_tasks "$1")" = "$2" ]; }

# The platform (e2e/30-platform.sh left it up; a script run alone starts it).
fault_platform() {
	if ! curl -fsS -o /dev/null --max-time 5 "$GW/healthz" || ! [ -r "$HOME/.config/faas/config" ]; then
		scripts/up.sh >"$T_DIR/up.log" 2>&1 || echo "  scripts/up.sh failed: $(tail -n 1 "$T_DIR/up.log")"
	fi
	check "the gateway answers" wait_for 60 curl -fsS -o /dev/null "$GW/healthz"
}

# fault_fn_yaml NAME ROLL: the suite's function; ROLL is an env value that a
# rolling update changes.
fault_fn_yaml() {
	cat <<YAML
apiVersion: faas/v1
kind: Function
metadata: {name: $1, labels: {suite: faults}}
spec:
  image: $(sed -n 's/^FAAS_ECHO_IMAGE=//p' build/images.env)
  fprocess: cat
  env: {ROLL: "$2"}
  scale: {min: $REPLICAS, max: $REPLICAS, factor: 0}
  timeouts: {read: 10s, write: 10s, exec: 10s}
  limits: {memory: 64Mi}
YAML
}

# fault_fn: fault-echo exists (applied once, left as it is when present)
# with its 3 replicas running and answering.
fault_fn() {
	if [ -z "$(svc_of "$FN")" ]; then
		fault_fn_yaml "$FN" 0 >"$T_DIR/fn.yaml"
		bin/faasctl apply -f "$T_DIR/fn.yaml" >"$T_DIR/apply.log" 2>&1
	fi
	check "$FN runs $REPLICAS replicas" wait_for 90 runs_n "$FN" "$REPLICAS"
	check "$FN answers" wait_for 30 answers "$FN"
}

# load_start NAME [SECONDS [FUNCTION]]: wrk in the background; LOAD_PID.
load_start() {
	local s=${2:-$LOAD_S}
	L_SECONDS=$s
	L_LOG=$T_DIR/load-$1.log
	wrk -t2 -c"$CONNS" -d"${s}s" --timeout 10s -s e2e/faults/post.lua "$GW/function/${3:-$FN}" >"$L_LOG" 2>&1 &
	LOAD_PID=$!
	T_PIDS+=("$LOAD_PID")
	L_T0=$(now_ms)
}

# load_stop: ends the load now (wrk prints its summary on SIGINT), then load_wait.
load_stop() {
	kill -INT "$LOAD_PID" 2>/dev/null
	load_wait
}

# load_wait: waits for the load (bounded) and sets L_REQ (requests sent),
# L_FAILED (sent and not answered 2xx), L_CONNECT (connections refused),
# L_P99, L_MAX (ms) and L_DETAIL.
load_wait() {
	local line v k
	local deadline=$((SECONDS + L_SECONDS + 60))
	while kill -0 "$LOAD_PID" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.2; done
	kill "$LOAD_PID" 2>/dev/null
	wait "$LOAD_PID" 2>/dev/null
	line=$(grep '^FXLOAD ' "$L_LOG" | tail -n 1)
	declare -gA L=()
	for v in $line; do
		k=${v%%=*}
		[ "$k" = FXLOAD ] || L[$k]=${v#*=}
	done
	L_REQ=$((${L[requests]:-0} + ${L[read]:-0} + ${L[write]:-0} + ${L[timeout]:-0}))
	L_FAILED=$((${L[read]:-0} + ${L[write]:-0} + ${L[timeout]:-0} + ${L[status]:-0}))
	L_CONNECT=${L[connect]:-0}
	L_P99=${L[p99_ms]:-?}
	L_MAX=${L[max_ms]:-?}
	L_DETAIL="read=${L[read]:-?} write=${L[write]:-?} timeout=${L[timeout]:-?} status=${L[status]:-?} connect=$L_CONNECT"
	[ -n "$line" ] || L_DETAIL="no summary from wrk: $(tail -n 3 "$L_LOG" | tr '\n' ' ')"
	[ -n "$line" ]
}

# fail_seconds: the seconds (epoch) in which failed statuses came back.
fail_seconds() { sed -n 's/^FXFAIL t=\([0-9]*\) .*/\1/p' "$L_LOG" | sort -u | tr '\n' ' '; }

# figures FAULT RECOVERY [MORE...]: the fault's one line of figures.
figures() {
	local f=$1 r=$2
	shift 2
	local line="fault=$f requests=$L_REQ failed=$L_FAILED recovery_s=$r p99_ms=$L_P99 max_ms=$L_MAX $L_DETAIL${*:+ $*}"
	echo "  FIGURES $line"
	mkdir -p "$FX_ARTIFACTS"
	echo "$line" >>"$FIGURES"
}

# counts REQUESTS FAILED DETAIL: the figures of a fault measured without wrk.
counts() { L_REQ=$1 L_FAILED=$2 L_P99=- L_MAX=- L_DETAIL=$3; }
