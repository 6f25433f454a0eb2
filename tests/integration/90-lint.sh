#!/usr/bin/env bash
# The house style, checked on every test run: clang-format, cppcheck, shellcheck.
source "$FX_ROOT/tests/lib.sh"
cd "$FX_ROOT" || exit 1
if ! git rev-parse --git-dir >/dev/null 2>&1; then
	t_fail "lint needs a git checkout (it checks the tracked files)"
	exit 1
fi
for c in format cppcheck shellcheck; do
	if out=$(scripts/lint.sh "$c" 2>&1); then
		t_pass "$c"
	else
		printf '%s\n' "$out" | head -n 40
		t_fail "$c"
	fi
done
