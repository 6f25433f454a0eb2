#!/usr/bin/env bash
# make up: runs the platform on the local swarm and applies the sample
# functions. Idempotent: a second run rebuilds nothing that did not change,
# redeploys nothing and applies no change.
#   1. a Docker engine and a swarm (scripts/docker-up.sh)
#   2. images (scripts/images.sh, skipped when their inputs did not change)
#   3. secrets faas-basic-auth-user/-password and faas-controller-token,
#      generated on the first run (random), copies kept in ~/.config/faas/
#   4. the overlay network func_net (attachable)
#   5. docker stack deploy of manifests/stack.yml as stack "faas"
#   6. faasctl apply -f manifests/functions/, then wait until all are Ready
#   7. writes ~/.config/faas/config (gateway, user, password_file) for faasctl
#   HTTPS: the gateway serves FAAS_TLS_PORT (default 8443) with the pair
#   FAAS_TLS_CERT/FAAS_TLS_KEY, or one made with a local CA whose certificate
#   is kept in ~/.config/faas/ca.pem (scripts/tls-cert.sh); faasctl's config
#   points at HTTPS and trusts that CA.
# Environment: FAAS_PORT (default 8080), FAAS_UP_TIMEOUT (s, default 120),
# FAAS_SAMPLES=0 to skip the sample functions, FAAS_CONF_DIR (default
# ~/.config/faas), FAAS_GATEWAY_HOST (the address faasctl and the checks use,
# default 127.0.0.1), FAAS_TLS_PORT, FAAS_TLS_CERT, FAAS_TLS_KEY, FAAS_TLS_CA
# (the CA of a pair brought by the user, for faasctl), FAAS_HTTPS_ONLY=true
# (the API and the UI over HTTPS only).
# Several nodes (README, "Running on several nodes"): when the swarm has more
# than one node, or REGISTRY=host:port names a registry, the images are
# pushed to a registry and the services name them by digest, so every node
# runs the same bits; without REGISTRY the stack runs its own (service
# faas_registry, manifests/registry.yml) on this node, published on
# FAAS_REGISTRY_PORT (default 5000) of its swarm address. The gateway then
# runs one replica per node.
# Exit codes: 0 up, 1 failure (with a message saying what to do).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
stack=faas
port=${FAAS_PORT:-8080}
timeout=${FAAS_UP_TIMEOUT:-120}
conf_dir=${FAAS_CONF_DIR:-$HOME/.config/faas}
gateway=http://${FAAS_GATEWAY_HOST:-127.0.0.1}:$port
images_env=$root/build/images.env
tls_port=${FAAS_TLS_PORT:-8443}
https_gateway=https://${FAAS_GATEWAY_HOST:-127.0.0.1}:$tls_port
t0=$(date +%s%N)

say() { echo "up: $*" >&2; }
die() {
	echo "up: $*" >&2
	exit 1
}
elapsed() { echo "$((($(date +%s%N) - t0) / 1000000)) ms"; }

# Two runs at once would race on secrets and the stack: the second waits.
exec 8>"${FAAS_UP_LOCK:-/tmp/faas-up.lock}"
if ! flock -n 8; then
	say "another 'make up' or 'make down' is running; waiting for it (at most 10 min)"
	flock -w 600 8 || die "the other run still holds /tmp/faas-up.lock after 10 min"
fi

# 8>&-: nothing docker-up.sh starts may hold the lock (it also closes it).
scripts/docker-up.sh 8>&-

for b in bin/faas-gateway bin/faas-controller bin/faas-queue-worker bin/fwatchdog bin/faasctl; do
	[ -x "$b" ] || die "$b is missing: run 'make' first (or 'make up', which builds)"
done
command -v jq >/dev/null || die "jq is missing: scripts/deps.sh all installs it"

# Port: free, or already ours (the gateway of this stack publishes it).
# (Only when the engine is this machine's own: DOCKER_HOST may name another.)
ours=$(docker service ls -q --filter name=${stack}_gateway 2>/dev/null || true)
if [ -z "$ours" ] && [ -z "${DOCKER_HOST:-}" ] && ss -ltnH "sport = :$port" | grep -q .; then
	who=$(ss -ltnpH "sport = :$port" | sed -nE 's/.*users:\(\("([^"]+)".*/\1/p' | head -n 1)
	die "port $port is taken${who:+ by $who}: stop it, or run FAAS_PORT=8090 make up"
fi
if [ -z "$ours" ] && [ -z "${DOCKER_HOST:-}" ] && ss -ltnH "sport = :$tls_port" | grep -q .; then
	who=$(ss -ltnpH "sport = :$tls_port" | sed -nE 's/.*users:\(\("([^"]+)".*/\1/p' | head -n 1)
	die "port $tls_port (HTTPS) is taken${who:+ by $who}: stop it, or run FAAS_TLS_PORT=8444 make up"
fi

# Several nodes: a registry every node pulls from (see the head).
nodes=$(docker node ls -q | wc -l)
registry=${REGISTRY:-}
own_registry=0
stack_files=(-c manifests/stack.yml)
export FAAS_GATEWAY_REPLICAS=1
if [ -n "$registry" ] || [ "$nodes" -gt 1 ]; then
	images_env=$root/build/images-registry.env
	export FAAS_GATEWAY_REPLICAS=$nodes
fi
export FAAS_IMAGES_ENV=$images_env
if [ -z "$registry" ] && [ "$nodes" -gt 1 ]; then
	own_registry=1
	scripts/images.sh registry
	FAAS_REGISTRY_IMAGE=$(sed -n 's/^FAAS_REGISTRY_IMAGE=//p' "$images_env")
	FAAS_REGISTRY_NODE=$(docker info --format '{{.Swarm.NodeID}}')
	FAAS_REGISTRY_PORT=${FAAS_REGISTRY_PORT:-5000}
	export FAAS_REGISTRY_IMAGE FAAS_REGISTRY_NODE FAAS_REGISTRY_PORT
	registry=$(docker info --format '{{.Swarm.NodeAddr}}'):$FAAS_REGISTRY_PORT
	stack_files+=(-c manifests/registry.yml)
	# The registry first (no --prune: the rest of the stack stays).
	docker stack deploy --resolve-image never -c manifests/registry.yml "$stack" \
		>"$root/build/stack-deploy.log" 2>&1 || {
		cat "$root/build/stack-deploy.log" >&2
		die "the registry could not be deployed (log above)"
	}
	reg_deadline=$((SECONDS + timeout))
	until curl -fsS -o /dev/null --max-time 2 "http://$registry/v2/" 2>/dev/null; do
		if [ $SECONDS -ge $reg_deadline ]; then
			docker service ps --no-trunc "${stack}_registry" >&2 || true
			die "the registry does not answer http://$registry/v2/ after ${timeout}s (its tasks above)"
		fi
		sleep 0.2
	done
	say "registry: $registry"
fi

# Images, tagged by content (pushed to the registry, if any, and named by
# digest): build/images.env (build/images-registry.env) names them.
platform_images=()
[ "${FAAS_SAMPLES:-1}" != 0 ] || platform_images=(watchdog gateway controller queue-worker nats prometheus alertmanager)
REGISTRY=$registry scripts/images.sh "${platform_images[@]}"
set -a
# shellcheck source=/dev/null
source "$images_env"
set +a
export FAAS_PORT=$port

# Secrets: created once; Docker never shows a secret again, so the values
# live in $conf_dir too. A swarm whose secrets we hold no copy of (made by
# another machine or user) gets fresh ones: the stack must go first.
mkdir -p "$conf_dir"
chmod 700 "$conf_dir"
secret_exists() { docker secret inspect "$1" >/dev/null 2>&1; }
if ! [ -s "$conf_dir/password" ] || ! [ -s "$conf_dir/controller-token" ]; then
	if secret_exists faas-basic-auth-password || secret_exists faas-controller-token; then
		say "the swarm has faas secrets but $conf_dir holds no copy: making new ones"
		if docker stack ls --format '{{.Name}}' | grep -qx "$stack"; then
			say "removing the running stack '$stack' to replace its secrets"
			FAAS_UP_LOCKED=1 scripts/down.sh --keep-functions >/dev/null
		fi
		docker secret rm faas-basic-auth-user faas-basic-auth-password faas-controller-token >/dev/null 2>&1 || true
	fi
	umask 077
	head -c 18 /dev/urandom | base64 | tr '+/' '-_' >"$conf_dir/password"
	head -c 32 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=' >"$conf_dir/controller-token"
	echo admin >"$conf_dir/user"
	umask 022
fi
[ -s "$conf_dir/user" ] || echo admin >"$conf_dir/user"
for s in user password controller-token; do
	name=faas-basic-auth-$s
	[ "$s" = controller-token ] && name=faas-controller-token
	if ! secret_exists "$name"; then
		tr -d '\n' <"$conf_dir/$s" | docker secret create --label faas.platform=true "$name" - >/dev/null
	fi
done

# HTTPS: the gateway's certificate and key. Secrets cannot change, so each
# pair gets secrets named after its hash: a new pair is new secrets (and a
# gateway task that reads them); unused old ones are removed below.
tls_how=$(FAAS_TLS_HOST=${FAAS_GATEWAY_HOST:-} scripts/tls-cert.sh "$conf_dir") || die "no certificate for HTTPS (above)"
tls_hash=$(cat "$conf_dir/tls/cert.pem" "$conf_dir/tls/key.pem" | sha256sum | cut -c1-12)
export FAAS_TLS_CERT_SECRET=faas-tls-cert-$tls_hash FAAS_TLS_KEY_SECRET=faas-tls-key-$tls_hash
export FAAS_TLS_PORT=$tls_port FAAS_HTTPS_ONLY=${FAAS_HTTPS_ONLY:-false}
for f in cert key; do
	name=faas-tls-$f-$tls_hash
	secret_exists "$name" ||
		docker secret create --label faas.platform=true --label faas.tls=true "$name" \
			"$conf_dir/tls/$f.pem" >/dev/null
done
ca_file=
if [ "$tls_how" != user ]; then
	ca_file=$conf_dir/ca.pem
elif [ -n "${FAAS_TLS_CA:-}" ]; then
	ca_file=$(readlink -f "$FAAS_TLS_CA")
fi
[ "$tls_how" = made ] && say "made a certificate for this host, signed by the local CA $conf_dir/ca.pem"

# func_net: the functions' network (the controller creates it too).
if ! docker network inspect func_net >/dev/null 2>&1; then
	docker network create --driver overlay --attachable --label faas.platform=true func_net >/dev/null
	say "created network func_net"
fi
[ "$(docker network inspect -f '{{.Driver}} {{.Attachable}}' func_net)" = "overlay true" ] ||
	die "network func_net exists but is not an attachable overlay: remove it (docker network rm func_net) and run again"

# The stack: --prune removes services an older version had. A stack whose
# inputs (this file, the image tags, the port) did not change is not
# redeployed: every service carries their hash as the label faas.stack-hash.
FAAS_STACK_HASH=$(cat manifests/stack.yml "$images_env" \
	<(echo "port=$port gateways=$FAAS_GATEWAY_REPLICAS tls=$tls_port $tls_hash https_only=$FAAS_HTTPS_ONLY") | sha256sum | cut -c1-16)
export FAAS_STACK_HASH
services=(gateway controller nats queue-worker prometheus alertmanager)
hashed=("${services[@]}")
[ "$own_registry" -eq 0 ] || services+=(registry)
stack_current() {
	local want have
	want=$(printf "${stack}_%s\n" "${services[@]}" | sort)
	have=$(docker service ls --filter "label=com.docker.stack.namespace=$stack" --format '{{.Name}}' | sort)
	[ "$want" = "$have" ] || return 1
	[ "$(docker service inspect -f '{{index .Spec.Labels "faas.stack-hash"}}' "${hashed[@]/#/${stack}_}" 2>/dev/null |
		sort -u)" = "$FAAS_STACK_HASH" ]
}
deploy() {
	docker stack deploy --prune --resolve-image never "${stack_files[@]}" "$stack" \
		>"$root/build/stack-deploy.log" 2>&1
}
if stack_current; then
	say "stack $stack is up to date"
elif ! deploy; then
	# A stack left by an older version may not update in place (e.g. an
	# ingress-mode port): replace it.
	say "the stack '$stack' could not be updated in place ($(tail -n 1 "$root/build/stack-deploy.log")); replacing it"
	FAAS_UP_LOCKED=1 scripts/down.sh --keep-functions >/dev/null
	deploy || {
		cat "$root/build/stack-deploy.log" >&2
		die "docker stack deploy failed (log above)"
	}
fi

# Wait until every service runs a task of the image just built.
deadline=$((SECONDS + timeout))
want_image() {
	local svc=$1 want=$2 got
	got=$(docker service ps --no-trunc "${stack}_$svc" --filter desired-state=running \
		--format '{{.Image}} {{.CurrentState}}' 2>/dev/null)
	grep -q "^$want Running" <<<"$got"
}
for svc in "${hashed[@]}"; do
	key=FAAS_$(tr 'a-z-' 'A-Z_' <<<"$svc")_IMAGE
	until want_image "$svc" "${!key}"; do
		if [ $SECONDS -ge $deadline ]; then
			docker service ps --no-trunc "${stack}_$svc" >&2 || true
			docker service logs --tail 20 "${stack}_$svc" >&2 || true
			die "${stack}_$svc is not running ${!key} after ${timeout}s (above: its tasks and logs)"
		fi
		sleep 0.2
	done
done
until curl -fsS -o /dev/null --max-time 2 "$gateway/healthz"; do
	[ $SECONDS -lt $deadline ] || die "the gateway does not answer $gateway/healthz (docker service logs ${stack}_gateway)"
	sleep 0.2
done

# TLS secrets of earlier pairs, now unused (one in use stays).
for old in $(docker secret ls --filter label=faas.tls=true --format '{{.Name}}'); do
	case $old in *-"$tls_hash") ;; *) docker secret rm "$old" >/dev/null 2>&1 || true ;; esac
done

# faasctl's default configuration, like a kubeconfig: HTTPS, verified.
umask 077
{
	echo "gateway=$https_gateway"
	echo "user=$(cat "$conf_dir/user")"
	echo "password_file=$conf_dir/password"
	[ -z "$ca_file" ] || echo "ca_file=$ca_file"
} >"$conf_dir/config"
umask 022
export FAAS_CONFIG=$conf_dir/config
auth=(-u "$(cat "$conf_dir/user"):$(cat "$conf_dir/password")")
# The API is asked over HTTPS (the only way with FAAS_HTTPS_ONLY=true).
gateway_api=$https_gateway
[ -z "$ca_file" ] || auth+=(--cacert "$ca_file")

until curl -fsS -o /dev/null --max-time 2 "${auth[@]}" "$gateway_api/apis/faas/v1/functions"; do
	[ $SECONDS -lt $deadline ] || die "the gateway refuses the credentials in $conf_dir (or cannot reach the controller): docker service logs ${stack}_gateway ${stack}_controller"
	sleep 0.2
done

# Samples, pinned to the images just built (faas/NAME:latest -> :HASH).
samples=()
if [ "${FAAS_SAMPLES:-1}" != 0 ]; then
	rendered=$root/build/manifests/functions
	rm -rf "$rendered"
	mkdir -p "$rendered"
	for f in manifests/functions/*.yaml; do
		cp "$f" "$rendered/"
		samples+=("$(sed -nE 's/^  name: ([a-z0-9-]+).*/\1/p' "$f" | head -n 1)")
	done
	while IFS='=' read -r key ref; do
		name=$(tr 'A-Z_' 'a-z-' <<<"${key#FAAS_}")
		name=${name%-image}
		sed -i "s|image: faas/$name:latest\$|image: $ref|" "$rendered"/*.yaml
	done <"$images_env"
	bin/faasctl apply -f "$rendered" --applyset samples >&2 || die "faasctl apply -f $rendered failed"

	# Ready: every sample's Ready condition is True.
	ready() {
		curl -fsS --max-time 2 "${auth[@]}" "$gateway_api/apis/faas/v1/functions" |
			jq -e --argjson names "$(printf '%s\n' "${samples[@]}" | jq -R . | jq -s .)" '
				[.items[] | select(.metadata.name as $n | $names | index($n))
				 | select(any(.status.conditions[]?; .type == "Ready" and .status == "True"))]
				| length == ($names | length)' >/dev/null
	}
	until ready; do
		if [ $SECONDS -ge $deadline ]; then
			bin/faasctl get >&2 || true
			die "the sample functions are not all Ready after ${timeout}s (faasctl describe NAME says why)"
		fi
		sleep 0.2
	done
fi

cat <<MSG

The faas platform is up ($(elapsed)).
  gateway:      $gateway   (web UI: $gateway/ui/)
  HTTPS:        $https_gateway   (web UI: $https_gateway/ui/)${ca_file:+
  CA:           $ca_file   (curl --cacert $ca_file; faasctl trusts it)}
  credentials:  user $(cat "$conf_dir/user"), password in $conf_dir/password
  faasctl:      $conf_dir/config (faasctl finds the gateway and credentials there)
  functions:    ${samples[*]:-none}

Try:
  curl -d 'hello' $gateway/function/echo
  bin/faasctl invoke wordcount <<<'one two three'
  bin/faasctl get
Remove it all with: make down
MSG
