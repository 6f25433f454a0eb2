# tests/lib.sh: sourced by tests/integration/*.sh and e2e/*.sh.
# shellcheck shell=bash disable=SC2034
# Each check records "pass|fail|skip <script>: <name>" in $FX_RESULTS, which
# tests/run.sh counts. Every wait is bounded; every process started is killed
# on exit.
set -u
FX_ROOT=${FX_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
FX_RESULTS=${FX_RESULTS:-/dev/null}
FX_ARTIFACTS=${FX_ARTIFACTS:-$FX_ROOT/build/artifacts}
T_NAME=$(basename "$0" .sh)
T_DIR=$(mktemp -d "/tmp/fx-$T_NAME.XXXXXX")
T_PIDS=()
BIN=$FX_ROOT/bin
TOOLS=$FX_ROOT/build/rel/tests/tools

t_cleanup() {
	local p
	for p in "${T_PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${T_PIDS[@]}"; do wait "$p" 2>/dev/null; done
	# Keep the logs of a failed run where CI prints them.
	if grep -q "^fail $T_NAME" "$FX_RESULTS" 2>/dev/null; then
		mkdir -p "$FX_ARTIFACTS/$T_NAME" && cp -r "$T_DIR"/. "$FX_ARTIFACTS/$T_NAME/" 2>/dev/null
		for f in "$T_DIR"/*.log; do
			[ -f "$f" ] || continue
			echo "--- $f (last 30 lines)"
			tail -n 30 "$f"
		done
	fi
	rm -rf "$T_DIR"
}
trap t_cleanup EXIT

t_pass() { echo "  ok   $1"; echo "pass $T_NAME: $1" >>"$FX_RESULTS"; }
t_fail() { echo "  FAIL $1${2:+ ($2)}"; echo "fail $T_NAME: $1" >>"$FX_RESULTS"; }
t_skip() { echo "  skip $1${2:+ ($2)}"; echo "skip $T_NAME: $1" >>"$FX_RESULTS"; }

# check NAME CMD...: passes when CMD exits 0.
check() {
	local name=$1
	shift
	if "$@"; then t_pass "$name"; else t_fail "$name"; fi
}

# expect_eq NAME EXPECTED ACTUAL
expect_eq() {
	if [ "$2" = "$3" ]; then t_pass "$1"; else t_fail "$1" "expected '$2', got '$3'"; fi
}

# expect_match NAME REGEX ACTUAL
expect_match() {
	if [[ $3 =~ $2 ]]; then t_pass "$1"; else t_fail "$1" "'$3' does not match /$2/"; fi
}

# wait_for SECONDS CMD...: retries CMD every 0.1 s until it succeeds; 1 on timeout.
wait_for() {
	local deadline=$((SECONDS + $1))
	shift
	while ! "$@" 2>/dev/null; do
		[ $SECONDS -lt "$deadline" ] || return 1
		sleep 0.1
	done
}

# start_server NAME CMD...: starts CMD in the background with its stderr in
# $T_DIR/NAME.log, waits (10 s at most) for its "msg=listening addr=HOST:PORT"
# line and sets PORT and PID. Servers are started on port 0 by the caller.
start_server() {
	local name=$1 log
	shift
	log=$T_DIR/$name.log
	: >"$log" # exists before the loop below reads it
	"$@" >"$T_DIR/$name.out" 2>"$log" &
	PID=$!
	T_PIDS+=("$PID")
	PORT=
	local deadline=$((SECONDS + 10))
	while [ $SECONDS -lt "$deadline" ]; do
		PORT=$(sed -nE 's/.*msg=listening .*addr=[^ ]*:([0-9]+).*/\1/p' "$log" | head -n 1)
		[ -n "$PORT" ] && return 0
		kill -0 "$PID" 2>/dev/null || break
		sleep 0.05
	done
	echo "start_server $name: no listening line; log follows" >&2
	cat "$log" >&2
	return 1
}

# rss_kib PID: resident memory in KiB.
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
