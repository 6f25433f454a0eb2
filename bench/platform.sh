#!/usr/bin/env bash
# bench/platform.sh: the platform's start-up figures on the local swarm.
#   1. `make up` from no faas images (Docker installed, binaries built) to the
#      first successful invoke of a sample
#   2. a second `make up` (nothing to do)
#   3. apply -> first successful invoke of a new function, N times (min/median/max)
# Leaves the platform up, as `make up` does (`make down` removes it).
# FX_BENCH_ROUNDS=N (default 5). Prints one line per figure.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${FX_BENCH_ROUNDS:-5}
GW=http://127.0.0.1:${FAAS_PORT:-8080}
now_ms() { echo $(($(date +%s%N) / 1000000)); }
secs() { awk -v ms="$1" 'BEGIN { printf "%.2f s", ms / 1000 }'; }

scripts/docker-up.sh
[ -x bin/faasctl ] || { echo "bench/platform: run make first" >&2; exit 1; }

# 1. Cold: no stack, no faas images.
scripts/down.sh >/dev/null 2>&1
imgs=$(docker image ls -q --filter label=faas.image | sort -u)
# shellcheck disable=SC2086
[ -z "$imgs" ] || docker image rm -f $imgs >/dev/null 2>&1 || true
t=$(now_ms)
scripts/up.sh >/tmp/faas-bench-up.log 2>&1 || { tail -n 20 /tmp/faas-bench-up.log >&2; exit 1; }
until [ "$(curl -s --max-time 2 -d hi "$GW/function/echo")" = hi ]; do
	[ $(($(now_ms) - t)) -lt 300000 ] || { echo "bench/platform: echo never answered" >&2; exit 1; }
	sleep 0.05
done
echo "platform: make up (images built from scratch, stack, samples Ready) -> first invoke: $(secs $(($(now_ms) - t)))"

# 2. Warm.
t=$(now_ms)
scripts/up.sh >/tmp/faas-bench-up.log 2>&1
echo "platform: second make up (no change): $(secs $(($(now_ms) - t)))"

# 3. apply -> first successful invoke.
image=$(sed -n 's/^FAAS_ECHO_IMAGE=//p' build/images.env)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
times=()
for i in $(seq 1 "$rounds"); do
	name=bench-fresh-$i
	printf 'apiVersion: faas/v1\nkind: Function\nmetadata: {name: %s}\nspec: {image: "%s", fprocess: cat}\n' \
		"$name" "$image" >"$tmp/f.yaml"
	t=$(now_ms)
	bin/faasctl apply -f "$tmp/f.yaml" >/dev/null
	until [ "$(curl -s --max-time 10 -d x "$GW/function/$name")" = x ]; do
		[ $(($(now_ms) - t)) -lt 60000 ] || { echo "bench/platform: $name never answered" >&2; exit 1; }
		sleep 0.02
	done
	times+=($(($(now_ms) - t)))
	bin/faasctl delete "$name" >/dev/null
	sleep 2
done
sorted=$(printf '%s\n' "${times[@]}" | sort -n)
min=$(head -n 1 <<<"$sorted")
max=$(tail -n 1 <<<"$sorted")
med=$(sed -n "$(((rounds + 1) / 2))p" <<<"$sorted")
echo "platform: apply -> first successful invoke ($rounds runs): min $(secs "$min"), median $(secs "$med"), max $(secs "$max")"
