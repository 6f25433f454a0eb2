#!/usr/bin/env bash
# Makes sure a Docker engine answers and this node is a swarm manager.
# Starts dockerd itself when none answers (no systemd here), logging to
# /var/log/faas-dockerd.log. Idempotent; quiet when all is well.
set -euo pipefail

log=${FX_DOCKERD_LOG:-/var/log/faas-dockerd.log}

# start_dockerd: dockerd in its own session, holding no descriptor of ours
# but 0-2. Whatever opened this script may hold a lock on a descriptor
# (scripts/up.sh: /tmp/faas-up.lock on fd 8, tests/run.sh: /tmp/faas-e2e.lock
# on fd 9): a daemon that inherited it would keep the lock for its whole life,
# and every later `make up`, `make down` or e2e run would wait for it.
start_dockerd() {
	(
		for fd in /proc/self/fd/*; do
			fd=${fd##*/}
			[ "$fd" -gt 2 ] 2>/dev/null && eval "exec $fd>&-" 2>/dev/null
		done
		exec setsid nohup dockerd >>"$log" 2>&1 </dev/null
	) &
}

# default_dockerd: the pid of the engine of the default socket, from its pid
# file (dockerd's default /var/run/docker.pid); fails when it is not running.
# Not "any process named dockerd": other engines may run on this machine with
# their own data roots and sockets (e.g. a test cluster's nodes).
default_dockerd() {
	local pid
	pid=$(cat /var/run/docker.pid 2>/dev/null) || return 1
	[ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = dockerd ] && echo "$pid"
}

engine_ok() { timeout 5 docker version --format '{{.Server.Version}}' >/dev/null 2>&1; }

if ! engine_ok && [ -n "${DOCKER_HOST:-}" ]; then
	echo "docker-up: no Docker engine answers at DOCKER_HOST=$DOCKER_HOST" >&2
	exit 1
fi
if ! engine_ok; then
	if ! command -v dockerd >/dev/null 2>&1; then
		echo "docker-up: no Docker engine answers and dockerd is not installed (scripts/deps.sh all installs docker.io)" >&2
		exit 1
	fi
	if [ -S /var/run/docker.sock ] && ! default_dockerd >/dev/null; then
		rm -f /var/run/docker.sock /var/run/docker.pid # left by a killed engine
	fi
	if ! default_dockerd >/dev/null; then
		echo "docker-up: starting dockerd (log: $log)" >&2
		start_dockerd
	fi
	for _ in $(seq 1 600); do
		engine_ok && break
		sleep 0.1
	done
	if ! engine_ok; then
		echo "docker-up: dockerd did not answer within 60 s; last lines of $log:" >&2
		tail -n 20 "$log" >&2
		exit 1
	fi
fi

state=$(docker info --format '{{.Swarm.LocalNodeState}}' 2>/dev/null || echo unknown)
case $state in
active)
	if [ "$(docker info --format '{{.Swarm.ControlAvailable}}')" != true ]; then
		echo "docker-up: this node is in a swarm but is not a manager; run on a manager" >&2
		exit 1
	fi
	;;
inactive)
	echo "docker-up: initialising a single-node swarm" >&2
	docker swarm init --advertise-addr 127.0.0.1 >/dev/null
	;;
*)
	echo "docker-up: swarm state is '$state'; fix it with 'docker swarm leave --force' and run again" >&2
	exit 1
	;;
esac
