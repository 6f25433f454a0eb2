#!/usr/bin/env bash
# What a function process may not get from the watchdog: new privileges
# (no_new_privs is set before anything starts, so a setuid binary in the image
# gains nothing), or a container variable that a request header would shadow.
source "$FX_ROOT/tests/lib.sh"
W=${W:-$BIN/fwatchdog}

# wd NAME VAR=VALUE...: starts a watchdog on port 0 with its own lock dir.
wd() {
	local name=$1
	shift
	mkdir -p "$T_DIR/$name.tmp"
	start_server "$name" env TMPDIR="$T_DIR/$name.tmp" port=0 "$@" "$W"
}
nnp() { sed -nE 's/^NoNewPrivs:[[:space:]]*([01])$/\1/p' "$1"; }

wd nnp fprocess="cat /proc/self/status" || exit 1
expect_eq "the function runs with no_new_privs" 1 \
	"$(curl -s "127.0.0.1:$PORT/" | nnp /dev/stdin)"
expect_eq "the watchdog itself has it too" 1 "$(nnp "/proc/$PID/status")"
wd http-nnp mode=http fprocess="sleep 30" upstream_url=http://127.0.0.1:1 || exit 1
has_child() { [ -n "$(cat /proc/"$PID"/task/*/children 2>/dev/null)" ]; }
wait_for 5 has_child
expect_eq "http mode: the long-running process has it" 1 \
	"$(cat /proc/"$PID"/task/*/children | tr -s ' ' '\n' | while read -r c; do
		[ -n "$c" ] && nnp "/proc/$c/status"
	done | head -n 1)"

# Turned off on purpose: the process gets what the watchdog was started with.
if [ "$(nnp /proc/self/status)" = 0 ]; then
	wd nnp-off fprocess="cat /proc/self/status" no_new_privileges=false || exit 1
	expect_eq "no_new_privileges=false leaves it off" 0 \
		"$(curl -s "127.0.0.1:$PORT/" | nnp /dev/stdin)"
else
	t_skip "no_new_privileges=false leaves it off" "the test itself runs with no_new_privs"
fi

# A container variable that starts with Http_ (the image's or spec.env's) is
# not a request header's to replace.
wd env fprocess=env Http_Api_Key=from-the-container || exit 1
out=$(curl -s -H 'Api-Key: from-the-request' -H 'X-Other: fine' "127.0.0.1:$PORT/")
expect_eq "the container's Http_Api_Key stays" "Http_Api_Key=from-the-container" \
	"$(grep '^Http_Api_Key=' <<<"$out")"
expect_eq "other headers are still mapped" "Http_X_Other=fine" "$(grep '^Http_X_Other=' <<<"$out")"
