# e2e/cluster/lib.sh: sourced by e2e/cluster/*.sh after tests/lib.sh. The
# test swarm of scripts/cluster.sh (three engines on this machine), reached
# through build/cluster/env: DOCKER_HOST is n1's engine, never the host's.
# shellcheck shell=bash disable=SC2034
CLUSTER_ENV=$FX_ROOT/build/cluster/env
GW_PORT=${FAAS_PORT:-8080}
declare -A NODE_IP=([n1]=10.213.0.11 [n2]=10.213.0.12 [n3]=10.213.0.13)

# cluster_up MANAGERS: make cluster-up (without the sample functions), then
# this shell uses the cluster's engine and faasctl configuration.
cluster_up() {
	FAAS_SAMPLES=0 timeout 900 "$FX_ROOT/scripts/cluster.sh" up --managers "$1" \
		>>"$T_DIR/cluster-up.log" 2>&1 || return 1
	cluster_env
}
cluster_env() {
	[ -f "$CLUSTER_ENV" ] || return 1
	# shellcheck source=/dev/null
	source "$CLUSTER_ENV"
	AUTH=(-u "admin:$(cat "$FX_ROOT/build/cluster/faas/password")")
	set -a
	# shellcheck source=/dev/null
	source "$FX_ROOT/build/images-registry.env"
	set +a
}

gw() { echo "http://${NODE_IP[$1]}:$GW_PORT"; }

# tasks_by_node SERVICE: "nN CONTAINER12" per running task (nN: the label
# cluster.sh puts on each node).
tasks_by_node() {
	local tasks
	tasks=$(docker service ps -q --filter desired-state=running "$1" 2>/dev/null)
	[ -n "$tasks" ] || return 0
	declare -A name=()
	local id n state c
	while read -r id n; do name[$id]=$n; done < <(docker node ls -q |
		xargs docker node inspect -f '{{.ID}} {{index .Spec.Labels "faas.cluster.node"}}')
	# shellcheck disable=SC2086
	docker inspect -f '{{.NodeID}} {{.Status.State}} {{.Status.ContainerStatus.ContainerID}}' $tasks 2>/dev/null |
		while read -r id state c; do
			[ "$state" = running ] && echo "${name[$id]:-?} ${c:0:12}"
		done
}
running_count() { tasks_by_node "$1" | wc -l; }

# apply_where NAME REPLICAS [CONSTRAINT]: a function answering with its
# container's host name (the container ID), REPLICAS replicas, no scaling.
apply_where() {
	local f=$T_DIR/$1.yaml
	cat >"$f" <<-YAML
		apiVersion: faas/v1
		kind: Function
		metadata:
		  name: $1
		spec:
		  image: $FAAS_WATCHDOG_IMAGE
		  fprocess: cat /etc/hostname
		  limits: {memory: 32Mi}
		  scale: {min: $2, max: $2, factor: 0}
	YAML
	[ -z "${3:-}" ] || printf '  constraints: ["%s"]\n' "$3" >>"$f"
	timeout 60 "$FX_ROOT/bin/faasctl" apply -f "$f" >>"$T_DIR/apply.log" 2>&1
}

# ready NAME N: N replicas running and the gateway answers for it.
ready() {
	[ "$(running_count "$1")" -eq "$2" ] &&
		curl -fsS -o /dev/null --max-time 5 -d x "$(gw n1)/function/$1"
}

# cluster_logs: the platform's logs and the nodes' engine logs, for a failed run.
cluster_logs() {
	grep -q "^fail $T_NAME" "$FX_RESULTS" 2>/dev/null || return 0
	local s
	for s in gateway controller registry; do
		timeout 20 docker service logs --timestamps --tail 200 "faas_$s" >"$T_DIR/$s.log" 2>&1
	done
	timeout 20 docker node ls >"$T_DIR/nodes.log" 2>&1
	docker service ls -q 2>/dev/null | xargs -r timeout 20 docker service ps --no-trunc >"$T_DIR/tasks.log" 2>&1
	for s in n1 n2 n3; do
		tail -n 50 "/var/lib/faas-cluster/run/$s/dockerd.log" >"$T_DIR/dockerd-$s.log" 2>/dev/null
	done
}
