#!/usr/bin/env bash
# Runs the test levels named on the command line (unit, integration, e2e) and
# ends with one line: "N passed, N failed[, N skipped]".
#   unit:        build/asan/tests/unit/**/_test (Check, under ASan + UBSan)
#   integration: tests/integration/*.sh (real binaries on 127.0.0.1)
#   e2e:         e2e/*.sh (a real Docker swarm; scripts/docker-up.sh first),
#                then e2e/cluster/*.sh (three engines on this machine)
# FX_TEST_FILTER=regex limits the scripts and executables run.
set -u
cd "$(dirname "$0")/.." || exit 2
export FX_ROOT=$PWD
export FX_RESULTS
FX_RESULTS=$(mktemp /tmp/fx-results.XXXXXX)
export FX_ARTIFACTS=${FX_ARTIFACTS:-$PWD/build/artifacts}
mkdir -p "$FX_ARTIFACTS"
filter=${FX_TEST_FILTER:-.}
pass=0 fail=0 skip=0
failed_names=()

run_unit() {
	local t out line c f e
	while IFS= read -r t; do
		[[ $t =~ $filter ]] || continue
		out=$("$t" 2>&1)
		printf '%s\n' "$out" | sed 's/^/  /'
		line=$(printf '%s\n' "$out" | grep -E '^[0-9]+%: Checks: ' | tail -n 1)
		if [ -z "$line" ]; then
			fail=$((fail + 1))
			failed_names+=("$t (crashed or printed no summary)")
			continue
		fi
		c=$(sed -E 's/.*Checks: ([0-9]+).*/\1/' <<<"$line")
		f=$(sed -E 's/.*Failures: ([0-9]+).*/\1/' <<<"$line")
		e=$(sed -E 's/.*Errors: ([0-9]+).*/\1/' <<<"$line")
		pass=$((pass + c - f - e))
		fail=$((fail + f + e))
		[ $((f + e)) -eq 0 ] || failed_names+=("$t")
	done < <(find build/asan/tests/unit -type f -name '*_test' -perm -u+x 2>/dev/null | sort)
}

# Scripts record one line per check in $FX_RESULTS (see tests/lib.sh).
run_scripts() {
	local s before rc start
	for s in "$@"; do
		[ -f "$s" ] || continue
		[[ $s =~ $filter ]] || continue
		echo "== $s"
		before=$(wc -l <"$FX_RESULTS")
		start=$SECONDS
		bash "$s" 9>&-
		rc=$?
		echo "   ($s: $((SECONDS - start)) s)"
		if [ "$rc" -ne 0 ] && [ "$(grep -c '^fail' <(tail -n +$((before + 1)) "$FX_RESULTS"))" -eq 0 ]; then
			# A script that died without recording a failure still failed.
			echo "fail $s exited $rc" >>"$FX_RESULTS"
		fi
	done
}

# e2e/*.sh in order, except that the scripts in E2E_BESIDE run in the
# background from where they come, beside the scripts after them, until the
# first fault script (those restart the platform's parts) or 99-down. A
# script goes there only if it waits more than it works and shares no state
# with its neighbours: 35-zero waits out idle windows with its own
# functions, Prometheus and Alertmanager. Its output is printed when it ends.
# Last: the platform on a three-node test swarm of its own
# (scripts/cluster.sh), which 99-down.sh there removes.
E2E_BESIDE="e2e/35-zero.sh"
bg_pid='' bg_results='' bg_log=''
join_beside() {
	[ -n "$bg_pid" ] || return 0
	wait "$bg_pid"
	sed 's/^/  | /' "$bg_log"
	cat "$bg_results" >>"$FX_RESULTS"
	rm -f "$bg_results" "$bg_log"
	bg_pid=''
}
run_e2e() {
	local s
	for s in e2e/*.sh; do
		[[ $s == *fault* || $s == e2e/99-down.sh ]] && join_beside
		if [[ " $E2E_BESIDE " == *" $s "* ]] && [[ $s =~ $filter ]]; then
			join_beside
			bg_results=$(mktemp /tmp/fx-results.XXXXXX)
			bg_log=$(mktemp /tmp/fx-beside.XXXXXX)
			FX_RESULTS=$bg_results run_scripts "$s" >"$bg_log" 2>&1 &
			bg_pid=$!
			echo "== $s runs beside the next scripts (its output follows when it ends)"
			continue
		fi
		run_scripts "$s"
	done
	join_beside
	run_scripts e2e/cluster/[0-9]*.sh
}

for level in "$@"; do
	case $level in
	unit) echo "== unit tests (ASan + UBSan)"; run_unit ;;
	integration) run_scripts tests/integration/*.sh ;;
	e2e)
		# One e2e run at a time on a machine: they share the one swarm.
		# FX_E2E_LOCK_WAIT (s, default 1800) bounds the wait for the others.
		exec 9>/tmp/faas-e2e.lock
		if ! flock -w "${FX_E2E_LOCK_WAIT:-1800}" 9; then
			echo "fail e2e: another e2e run held /tmp/faas-e2e.lock for ${FX_E2E_LOCK_WAIT:-1800} s" >>"$FX_RESULTS"
		# 9>&-: a dockerd started here must not inherit (and so hold) the lock.
		elif ! scripts/docker-up.sh 9>&-; then
			echo "fail e2e: no Docker swarm (scripts/docker-up.sh failed)" >>"$FX_RESULTS"
		else
			run_e2e
		fi
		;;
	*) echo "tests/run.sh: unknown level '$level'" >&2; exit 2 ;;
	esac
done

pass=$((pass + $(grep -c '^pass' "$FX_RESULTS")))
skip=$((skip + $(grep -c '^skip' "$FX_RESULTS")))
fail=$((fail + $(grep -c '^fail' "$FX_RESULTS")))
while IFS= read -r l; do failed_names+=("${l#fail }"); done < <(grep '^fail' "$FX_RESULTS")
rm -f "$FX_RESULTS"
if [ ${#failed_names[@]} -gt 0 ]; then
	echo "failed:"
	printf '  %s\n' "${failed_names[@]}"
fi
if [ "$skip" -gt 0 ]; then
	echo "$pass passed, $fail failed, $skip skipped"
else
	echo "$pass passed, $fail failed"
fi
[ "$fail" -eq 0 ] && [ $((pass + fail)) -gt 0 ]
