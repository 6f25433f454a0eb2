#!/usr/bin/env bash
# make lint: formatting, static analysis and shell checks. Exit 1 on findings.
# scripts/lint.sh [format|cppcheck|shellcheck ...]: only those checks.
set -u
cd "$(dirname "$0")/.." || exit 2
rc=0
checks=${*:-format cppcheck shellcheck}
src=$(git ls-files '*.c' '*.h')
sh=$(git ls-files '*.sh' .ci/run)
for c in $checks; do
	case $c in
	format)
		# shellcheck disable=SC2086
		[ -z "$src" ] || clang-format --dry-run --Werror $src || rc=1
		;;
	cppcheck)
		# shellcheck disable=SC2086
		[ -z "$src" ] || cppcheck -q --error-exitcode=1 --enable=warning,portability \
			--inline-suppr --suppress=missingIncludeSystem -I common $src || rc=1
		;;
	shellcheck)
		# shellcheck disable=SC2086
		[ -z "$sh" ] || shellcheck -x $sh || rc=1
		;;
	*) echo "lint: unknown check '$c' (format, cppcheck, shellcheck)" >&2; exit 2 ;;
	esac
done
exit $rc
