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
# Environment: FAAS_PORT (default 8080), FAAS_UP_TIMEOUT (s, default 120),
# FAAS_SAMPLES=0 to skip the sample functions.
# Exit codes: 0 up, 1 failure (with a message saying what to do).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
stack=faas
port=${FAAS_PORT:-8080}
timeout=${FAAS_UP_TIMEOUT:-120}
conf_dir=$HOME/.config/faas
gateway=http://127.0.0.1:$port
t0=$(date +%s%N)

say() { echo "up: $*" >&2; }
die() {
	echo "up: $*" >&2
	exit 1
}
elapsed() { echo "$((($(date +%s%N) - t0) / 1000000)) ms"; }

# Two runs at once would race on secrets and the stack: the second waits.
exec 8>/tmp/faas-up.lock
if ! flock -n 8; then
	say "another 'make up' or 'make down' is running; waiting for it (at most 10 min)"
	flock -w 600 8 || die "the other run still holds /tmp/faas-up.lock after 10 min"
fi

scripts/docker-up.sh

for b in bin/faas-gateway bin/faas-controller bin/faas-queue-worker bin/fwatchdog bin/faasctl; do
	[ -x "$b" ] || die "$b is missing: run 'make' first (or 'make up', which builds)"
done
command -v jq >/dev/null || die "jq is missing: scripts/deps.sh all installs it"

# Port: free, or already ours (the gateway of this stack publishes it).
ours=$(docker service ls -q --filter name=${stack}_gateway 2>/dev/null || true)
if [ -z "$ours" ] && ss -ltnH "sport = :$port" | grep -q .; then
	who=$(ss -ltnpH "sport = :$port" | sed -nE 's/.*users:\(\("([^"]+)".*/\1/p' | head -n 1)
	die "port $port is taken${who:+ by $who}: stop it, or run FAAS_PORT=8090 make up"
fi

# Images, tagged by content: build/images.env names them.
scripts/images.sh
set -a
# shellcheck source=/dev/null
source build/images.env
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
FAAS_STACK_HASH=$(cat manifests/stack.yml build/images.env <(echo "port=$port") | sha256sum | cut -c1-16)
export FAAS_STACK_HASH
services=(gateway controller nats queue-worker prometheus alertmanager)
stack_current() {
	local want have
	want=$(printf "${stack}_%s\n" "${services[@]}" | sort)
	have=$(docker service ls --filter "label=com.docker.stack.namespace=$stack" --format '{{.Name}}' | sort)
	[ "$want" = "$have" ] || return 1
	[ "$(docker service inspect -f '{{index .Spec.Labels "faas.stack-hash"}}' "${services[@]/#/${stack}_}" 2>/dev/null |
		sort -u)" = "$FAAS_STACK_HASH" ]
}
deploy() {
	docker stack deploy --prune --resolve-image never -c manifests/stack.yml "$stack" \
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

# Wait until every service runs one task of the image just built.
deadline=$((SECONDS + timeout))
want_image() {
	local svc=$1 want=$2 got
	got=$(docker service ps "${stack}_$svc" --filter desired-state=running \
		--format '{{.Image}} {{.CurrentState}}' 2>/dev/null)
	grep -q "^$want Running" <<<"$got"
}
for svc in "${services[@]}"; do
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

# faasctl's default configuration, like a kubeconfig.
umask 077
cat >"$conf_dir/config" <<CONF
gateway=$gateway
user=$(cat "$conf_dir/user")
password_file=$conf_dir/password
CONF
umask 022
auth=(-u "$(cat "$conf_dir/user"):$(cat "$conf_dir/password")")

until curl -fsS -o /dev/null --max-time 2 "${auth[@]}" "$gateway/apis/faas/v1/functions"; do
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
		sed -i "s|image: ${ref%%:*}:latest\$|image: $ref|" "$rendered"/*.yaml
	done <build/images.env
	bin/faasctl apply -f "$rendered" --applyset samples >&2 || die "faasctl apply -f $rendered failed"

	# Ready: every sample's Ready condition is True.
	ready() {
		curl -fsS --max-time 2 "${auth[@]}" "$gateway/apis/faas/v1/functions" |
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
  credentials:  user $(cat "$conf_dir/user"), password in $conf_dir/password
  faasctl:      $conf_dir/config (faasctl finds the gateway and credentials there)
  functions:    ${samples[*]:-none}

Try:
  curl -d 'hello' $gateway/function/echo
  bin/faasctl invoke wordcount <<<'one two three'
  bin/faasctl get
Remove it all with: make down
MSG
