#!/usr/bin/env bash
# Installs every build, test and run dependency from Debian's packages.
# Idempotent and quiet when everything is present. Usage: scripts/deps.sh [build|all]
#   build: compilers' libraries and the unit/integration test tools
#   all:   build + Docker engine, Prometheus, Alertmanager, load tools, browser
set -euo pipefail

build_pkgs=(
	build-essential pkg-config make gcc clang libclang-rt-14-dev
	libmicrohttpd-dev libgnutls28-dev libcurl4-openssl-dev libjson-c-dev libyaml-dev libnats-dev
	check libsubunit-dev
	curl ca-certificates openssl gnutls-bin procps psmisc iproute2 nats-server
	shellcheck cppcheck clang-format
)
run_pkgs=(
	docker.io busybox-static docker-registry
	prometheus prometheus-alertmanager
	wrk nginx-light
	git jq yq
	chromium
)

want=("${build_pkgs[@]}")
if [ "${1:-all}" = all ]; then
	want+=("${run_pkgs[@]}")
fi

# Node.js (for the browser test) may come from another source than Debian:
# install Debian's only when no node is on PATH at all.
if [ "${1:-all}" = all ] && ! command -v npm >/dev/null 2>&1; then
	want+=(nodejs npm)
fi

missing=()
for p in "${want[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing+=("$p")
	fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "deps: missing packages: ${missing[*]} (run as root or: sudo $0)" >&2
	exit 1
fi
echo "deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
# A lock held by another apt run: wait for it rather than fail.
apt_opts=(-o DPkg::Lock::Timeout=300 -y -q --no-install-recommends)
apt-get "${apt_opts[@]:0:2}" update -q >/dev/null
apt-get "${apt_opts[@]}" install "${missing[@]}" >/dev/null
