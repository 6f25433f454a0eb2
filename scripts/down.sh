#!/usr/bin/env bash
# make down: removes the platform from the local swarm: the stack "faas", the
# functions the controller made (services labelled faas.managed-by and the
# configs holding their definitions), the secrets (the platform's and the
# functions'), and func_net when up.sh
# made it. The swarm itself stays as it is; the credentials' copies in
# ~/.config/faas stay, so the next `make up` uses the same password.
#   --keep-functions   only the stack (scripts/up.sh, replacing a stale one)
# Bounded: waits at most 60 s for Docker to let go of the tasks.
set -euo pipefail
cd "$(dirname "$0")/.."
stack=faas
keep=0
[ "${1:-}" = --keep-functions ] && keep=1

say() { echo "down: $*" >&2; }

# Not while a `make up` runs (unless it is the one calling us).
if [ -z "${FAAS_UP_LOCKED:-}" ]; then
	exec 8>"${FAAS_UP_LOCK:-/tmp/faas-up.lock}"
	flock -w 600 8 || {
		say "another 'make up' or 'make down' holds /tmp/faas-up.lock"
		exit 1
	}
fi
if ! timeout 5 docker info >/dev/null 2>&1; then
	say "no Docker engine answers: nothing to remove"
	exit 0
fi

# wait_gone SECONDS CMD...: until CMD prints nothing.
wait_gone() {
	local deadline=$((SECONDS + $1))
	shift
	while [ -n "$("$@" 2>/dev/null)" ]; do
		[ $SECONDS -lt $deadline ] || return 1
		sleep 0.2
	done
}

if docker stack ls --format '{{.Name}}' | grep -qx "$stack"; then
	docker stack rm "$stack" >/dev/null
	say "removed stack $stack"
fi
wait_gone 60 docker service ls -q --filter "label=com.docker.stack.namespace=$stack" ||
	say "services of stack $stack still listed after 60 s"
wait_gone 60 docker ps -aq --filter "label=com.docker.stack.namespace=$stack" ||
	say "containers of stack $stack still present after 60 s"
wait_gone 60 docker network ls -q --filter "label=com.docker.stack.namespace=$stack" ||
	say "network ${stack}_control still present after 60 s"
[ "$keep" -eq 1 ] && exit 0

# The functions: the controller is gone, so nothing recreates them.
svcs=$(docker service ls -q --filter label=faas.managed-by=faas-controller)
if [ -n "$svcs" ]; then
	# shellcheck disable=SC2086
	docker service rm $svcs >/dev/null
	say "removed $(wc -w <<<"$svcs") function service(s)"
fi
wait_gone 60 docker ps -aq --filter label=faas.managed-by=faas-controller ||
	say "function containers still present after 60 s"
cfgs=$(docker config ls -q --filter label=faas.function)
if [ -n "$cfgs" ]; then
	# shellcheck disable=SC2086
	docker config rm $cfgs >/dev/null
	say "removed $(wc -w <<<"$cfgs") function definition(s)"
fi

# The functions' secrets (POST /system/secrets: labelled faas.secret).
fsecrets=$(docker secret ls -q --filter label=faas.secret)
if [ -n "$fsecrets" ]; then
	# shellcheck disable=SC2086
	if docker secret rm $fsecrets >/dev/null; then
		say "removed $(wc -w <<<"$fsecrets") function secret(s)"
	else
		say "some function secrets are still in use"
	fi
fi
secrets=$(docker secret ls -q --filter label=faas.platform=true)
if [ -n "$secrets" ]; then
	# shellcheck disable=SC2086
	docker secret rm $secrets >/dev/null || say "some faas secrets are still in use"
fi
if [ "$(docker network inspect -f '{{index .Labels "faas.platform"}}' func_net 2>/dev/null)" = true ]; then
	if docker network rm func_net >/dev/null 2>&1; then
		say "removed network func_net"
	else
		say "network func_net is still in use; left in place"
	fi
fi
exit 0
