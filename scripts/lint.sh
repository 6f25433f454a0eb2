#!/usr/bin/env bash
# make lint: formatting, static analysis and shell checks. Exit 1 on findings.
set -u
cd "$(dirname "$0")/.." || exit 2
rc=0
src=$(git ls-files '*.c' '*.h')
if [ -n "$src" ]; then
	# shellcheck disable=SC2086
	clang-format --dry-run --Werror $src || rc=1
	# shellcheck disable=SC2086
	cppcheck -q --error-exitcode=1 --enable=warning,portability --inline-suppr \
		--suppress=missingIncludeSystem -I common $src || rc=1
fi
sh=$(git ls-files '*.sh' .ci/run)
# shellcheck disable=SC2086
[ -z "$sh" ] || shellcheck -x $sh || rc=1
exit $rc
