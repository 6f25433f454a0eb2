#!/usr/bin/env bash
# A fresh machine's first `make up`: the engine is started by the script
# (scripts/up.sh -> scripts/docker-up.sh), and the dockerd it starts must not
# inherit the lock scripts/up.sh holds (/tmp/faas-up.lock) nor the e2e lock
# (/tmp/faas-e2e.lock): a daemon holding one made every later `make up` and
# `make down` wait 10 minutes and fail. So: stop dockerd (the e2e lock is
# held by tests/run.sh: no other run uses the engine meanwhile), `make up`
# starts it again, then `make up` twice more, each at once. Whatever happens,
# the engine is running again when this script ends.
source "$FX_ROOT/tests/lib.sh"
cd "$FX_ROOT" || exit 1

engine_ok() { timeout 5 docker version --format '{{.Server.Version}}' >/dev/null 2>&1; }
restore_engine() {
	engine_ok || scripts/docker-up.sh >"$T_DIR/restore.log" 2>&1 ||
		echo "  the engine did not start again: $(tail -n 3 "$T_DIR/restore.log")"
}
trap 'restore_engine; t_cleanup' EXIT

# The engine of the default socket (other engines may run here, with their
# own roots and sockets: they are left alone).
eval "$(sed -n '/^default_dockerd() {/,/^}/p' scripts/docker-up.sh)"

# stop_dockerd: SIGTERM, then wait (bounded) until it is gone.
stop_dockerd() {
	local pid
	pid=$(default_dockerd) || return 0
	kill -TERM "$pid" 2>/dev/null
	wait_for 90 bash -c "! kill -0 $pid" || return 1
	! engine_ok
}
check "dockerd stops" stop_dockerd

t0=$SECONDS
if make --no-print-directory up >"$T_DIR/up1.log" 2>&1; then
	t_pass "make up starts the engine and the platform ($((SECONDS - t0)) s)"
else
	t_fail "make up starts the engine and the platform" "$(tail -n 3 "$T_DIR/up1.log")"
fi
check "make up said it started dockerd" grep -q 'docker-up: starting dockerd' "$T_DIR/up1.log"

pid=$(default_dockerd)
held=
for fd in "/proc/${pid:-0}/fd"/*; do
	case $(readlink "$fd" 2>/dev/null) in
	*/faas-up.lock | */faas-e2e.lock) held+="fd ${fd##*/} -> $(readlink "$fd") " ;;
	esac
done
if [ -n "$pid" ] && [ -z "$held" ]; then
	t_pass "dockerd holds neither /tmp/faas-up.lock nor /tmp/faas-e2e.lock"
else
	t_fail "dockerd holds neither /tmp/faas-up.lock nor /tmp/faas-e2e.lock" "${held:-no dockerd}"
fi
# Nothing else holds the up lock once make up has ended.
check "the up lock is free after make up" flock -n /tmp/faas-up.lock true

for n in 2 3; do
	t0=$SECONDS
	if timeout 300 make --no-print-directory up >"$T_DIR/up$n.log" 2>&1; then
		t_pass "make up again (run $n, $((SECONDS - t0)) s)"
	else
		t_fail "make up again (run $n)" "$(tail -n 3 "$T_DIR/up$n.log")"
	fi
	if grep -q "another 'make up'" "$T_DIR/up$n.log"; then
		t_fail "make up run $n did not wait for a lock" "$(grep "another 'make up'" "$T_DIR/up$n.log")"
	else
		t_pass "make up run $n did not wait for a lock"
	fi
done
