#!/usr/bin/env bash
# A swarm of three Docker engines on this one machine, for tests and
# benchmarks of the platform on several nodes (make cluster-up/cluster-down).
#   scripts/cluster.sh up [--managers 1|3] [--no-platform]
#   scripts/cluster.sh down
#   scripts/cluster.sh kill NODE | start NODE   (a node's loss and return)
#
# Each node is a dockerd of its own (own data root, /run, socket, managed
# containerd, cgroup) in network and mount namespaces of its own:
#   faas-n1  10.213.0.11  manager (the swarm's first manager; the registry)
#   faas-n2  10.213.0.12  worker, or manager with --managers 3
#   faas-n3  10.213.0.13  worker, or manager with --managers 3
# joined by the bridge faasbr0 (10.213.0.1 on this host). The host's own
# Docker engine and swarm are not touched: the tests of the single-node
# platform go on using them meanwhile.
#
# up: starts what is missing (namespaces, bridge, engines, swarm, joins,
# promotions or demotions to the number of managers asked), then deploys the
# platform on it with scripts/up.sh (images pushed to the stack's registry,
# pinned by digest). Writes build/cluster/env (DOCKER_HOST, FAAS_CONFIG,
# FAAS_GATEWAY, the node addresses) for `source`. A second run changes
# nothing. down: removes everything up made (engines and their containers,
# data, namespaces, bridge, the iptables rule), and nothing else; a no-op when
# nothing is there. Both cope with the leftovers of a killed run.
# Exit codes: 0 done, 1 failure (with a message), 2 usage.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

NODES=(n1 n2 n3)
SUBNET=10.213.0
BRIDGE=faasbr0
DATA=${FAAS_CLUSTER_DATA:-/var/lib/faas-cluster} # engines' data roots
STATE=$DATA/run                                  # sockets, logs
OUT=$root/build/cluster
PORT=${FAAS_PORT:-8080}
POOL=10.214.0.0/16 # the swarm's overlay subnets: apart from $SUBNET
# A node that stops answering is seen down after a few heartbeats: 2 s
# rather than Docker's 5 s, so its tasks move within ~10 s.
HEARTBEAT=2s

say() { echo "cluster: $*" >&2; }
die() {
	echo "cluster: $*" >&2
	exit 1
}

ns() { echo "faas-$1"; }
ip_of() { echo "$SUBNET.1${1#n}"; }
sock() { echo "$STATE/$1/docker.sock"; }
dk() {
	local n=$1
	shift
	DOCKER_HOST=unix://$(sock "$n") timeout 30 docker "$@"
}
engine_ok() { DOCKER_HOST=unix://$(sock "$1") timeout 5 docker version --format '{{.Server.Version}}' >/dev/null 2>&1; }

# wait_until SECONDS CMD...: retries CMD every 0.2 s; 1 on timeout.
wait_until() {
	local deadline=$((SECONDS + $1))
	shift
	until "$@" >/dev/null 2>&1; do
		[ $SECONDS -lt $deadline ] || return 1
		sleep 0.2
	done
}

need_tools() {
	local t
	[ "$(id -u)" -eq 0 ] || die "needs root (network namespaces, a bridge, dockerd)"
	for t in ip iptables nsenter dockerd docker curl jq; do
		command -v "$t" >/dev/null || die "$t is missing: scripts/deps.sh all installs it"
	done
	ip netns list >/dev/null 2>&1 || die "this kernel or container has no network namespaces (ip netns)"
}

# ---- network ----

net_up() {
	local n h
	if ! ip link show "$BRIDGE" >/dev/null 2>&1; then
		ip link add "$BRIDGE" type bridge
	fi
	[[ $(ip addr show dev "$BRIDGE") == *"inet $SUBNET.1/24"* ]] || ip addr add "$SUBNET.1/24" dev "$BRIDGE"
	ip link set "$BRIDGE" up
	for n in "${NODES[@]}"; do
		h=faas-$n-h
		[ -e "/var/run/netns/$(ns "$n")" ] || ip netns add "$(ns "$n")"
		if ! ip link show "$h" >/dev/null 2>&1; then
			ip link add "$h" type veth peer name eth0 netns "$(ns "$n")"
		fi
		ip link set "$h" master "$BRIDGE" up
		ip -n "$(ns "$n")" link set lo up
		[[ $(ip -n "$(ns "$n")" addr show dev eth0) == *"inet $(ip_of "$n")/24"* ]] ||
			ip -n "$(ns "$n")" addr add "$(ip_of "$n")/24" dev eth0
		ip -n "$(ns "$n")" link set eth0 up
		ip -n "$(ns "$n")" route replace default via "$SUBNET.1"
	done
	# Docker's FORWARD policy drops bridged traffic (br_netfilter): let the
	# nodes talk (swarm 2377, gossip 7946, VXLAN 4789).
	local chain=FORWARD
	iptables -n -L DOCKER-USER >/dev/null 2>&1 && chain=DOCKER-USER
	iptables -C "$chain" -i "$BRIDGE" -o "$BRIDGE" -j ACCEPT 2>/dev/null ||
		iptables -I "$chain" -i "$BRIDGE" -o "$BRIDGE" -j ACCEPT
}

net_down() {
	local n c
	for c in DOCKER-USER FORWARD; do
		while iptables -D "$c" -i "$BRIDGE" -o "$BRIDGE" -j ACCEPT 2>/dev/null; do :; done
	done
	for n in "${NODES[@]}"; do
		ip link del "faas-$n-h" 2>/dev/null || true
		if [ -e "/var/run/netns/$(ns "$n")" ]; then
			ip netns del "$(ns "$n")" || say "network namespace $(ns "$n") could not be removed"
		fi
	done
	ip link del "$BRIDGE" 2>/dev/null || true
}

# ---- engines ----

# Each node's processes (dockerd, its containerd, shims, containers) are
# tracked by the pids cgroup faas-NODE: dockerd starts in it and puts its
# containers under it (--cgroup-parent).
cg() { echo "/sys/fs/cgroup/pids/faas-$1"; }

# node_pids NODE: every process of the node.
node_pids() {
	local d
	d=$(cg "$1")
	[ -d "$d" ] || return 0
	find "$d" -name cgroup.procs -exec cat {} + 2>/dev/null | sort -un
}

engine_start() {
	local n=$1 log
	mkdir -p "$STATE/$n" "$DATA/$n"
	log=$STATE/$n/dockerd.log
	engine_ok "$n" && return 0
	# A killed engine may leave containers running and its socket behind.
	engine_kill "$n" quiet
	rm -f "$(sock "$n")"
	[ -d /sys/fs/cgroup/pids ] || die "no pids cgroup at /sys/fs/cgroup/pids"
	ip link set "faas-$n-h" up
	mkdir -p "$(cg "$n")"
	# The node's engine, like another machine's: its own network namespace
	# (nsenter --net, not `ip netns exec`, which remounts /sys and hides the
	# cgroup mounts) and its own /run (a private mount namespace), so its
	# /var/run/docker.sock, which the controller mounts, is its own. The
	# second socket, on the shared file system, is this host's way in.
	# setsid: the engine outlives this script.
	# shellcheck disable=SC2016 # $$ and $1 are the inner shell's
	setsid nsenter --net="/var/run/netns/$(ns "$n")" unshare --mount --propagation private \
		sh -c 'echo $$ >"$1/cgroup.procs" && mount -t tmpfs -o mode=755 tmpfs /run && shift && exec "$@"' \
		sh "$(cg "$n")" dockerd --data-root "$DATA/$n" \
		-H unix:///var/run/docker.sock -H "unix://$(sock "$n")" \
		--cgroup-parent "faas-$n" --insecure-registry "$SUBNET.0/24" \
		--log-level warn >>"$log" 2>&1 </dev/null 9>&- 8>&- 7>&- &
	if ! wait_until 60 engine_ok "$n"; then
		tail -n 20 "$log" >&2
		die "the engine of $n did not answer within 60 s (log above: $log)"
	fi
}

# engine_kill NODE [quiet]: as when a machine loses power: its link goes
# down first (nothing it would still send, FIN or RST, reaches the others),
# then SIGKILL for every process of the node. engine_start brings the link
# up again.
engine_kill() {
	local n=$1 pids i
	ip link set "faas-$n-h" down 2>/dev/null || true
	for i in 1 2 3; do # a process may fork meanwhile: again until none
		pids=$(node_pids "$n")
		[ -n "$pids" ] || return 0
		[ "${2:-}" = quiet ] || [ "$i" -gt 1 ] || say "killing node $n ($(wc -w <<<"$pids") processes)"
		# shellcheck disable=SC2086
		kill -9 $pids 2>/dev/null || true
		wait_until 20 bash -c "! kill -0 $(tr '\n' ' ' <<<"$pids") 2>/dev/null" || true
	done
	[ -z "$(node_pids "$n")" ] || say "some processes of $n outlive SIGKILL: $(node_pids "$n" | tr '\n' ' ')"
}

engine_stop_all() {
	local n
	for n in "${NODES[@]}"; do
		engine_kill "$n" quiet
		# The private mount namespace went with its last process; empty
		# cgroups remain.
		for d in /sys/fs/cgroup/*/"faas-$n"; do
			if [ -d "$d" ]; then find "$d" -depth -type d -exec rmdir {} + 2>/dev/null || true; fi
		done
	done
}

# ---- swarm ----

swarm_state() { dk "$1" info --format '{{.Swarm.LocalNodeState}}' 2>/dev/null || echo unknown; }
node_id() { dk "$1" info --format '{{.Swarm.NodeID}}'; }

swarm_up() {
	local managers=$1 n token role want id
	# n1 founds the swarm; a node of another swarm (leftover) leaves it.
	case $(swarm_state n1) in
	active) [ "$(dk n1 info --format '{{.Swarm.ControlAvailable}}')" = true ] ||
		die "n1 is in a swarm but not a manager: run 'make cluster-down' first" ;;
	inactive)
		say "initialising the swarm on n1 ($(ip_of n1))"
		dk n1 swarm init --advertise-addr "$(ip_of n1)" --listen-addr "$(ip_of n1):2377" \
			--default-addr-pool "$POOL" --dispatcher-heartbeat "$HEARTBEAT" >/dev/null
		;;
	*) die "n1's swarm state is '$(swarm_state n1)': run 'make cluster-down' and again" ;;
	esac
	[ "$(dk n1 info --format '{{.Swarm.Cluster.Spec.Dispatcher.HeartbeatPeriod}}')" = "$HEARTBEAT" ] ||
		dk n1 swarm update --dispatcher-heartbeat "$HEARTBEAT" >/dev/null
	local members
	members=" $(dk n1 node ls -q | tr '\n' ' ')"
	for n in n2 n3; do
		# A node of another swarm (a leftover) leaves it first.
		if [ "$(swarm_state "$n")" = active ] && [[ $members != *" $(node_id "$n") "* ]]; then
			dk "$n" swarm leave --force >/dev/null 2>&1 || true
		fi
		if [ "$(swarm_state "$n")" != active ]; then
			say "joining $n ($(ip_of "$n"))"
			token=$(dk n1 swarm join-token -q worker)
			dk "$n" swarm join --token "$token" --advertise-addr "$(ip_of "$n")" \
				--listen-addr "$(ip_of "$n"):2377" "$(ip_of n1):2377" >/dev/null
		fi
		id=$(node_id "$n")
		[ "$(dk n1 node inspect -f '{{index .Spec.Labels "faas.cluster.node"}}' "$id")" = "$n" ] ||
			dk n1 node update --label-add "faas.cluster.node=$n" "$id" >/dev/null
	done
	id=$(node_id n1)
	[ "$(dk n1 node inspect -f '{{index .Spec.Labels "faas.cluster.node"}}' "$id")" = n1 ] ||
		dk n1 node update --label-add faas.cluster.node=n1 "$id" >/dev/null
	# Managers: n1, plus n2 and n3 when three are asked.
	for n in n2 n3; do
		want=worker
		[ "$managers" -eq 3 ] && want=manager
		id=$(node_id "$n")
		role=$(dk n1 node inspect -f '{{.Spec.Role}}' "$id")
		if [ "$role" != "$want" ]; then
			say "$n: $role -> $want"
			if [ "$want" = manager ]; then dk n1 node promote "$id" >/dev/null; else dk n1 node demote "$id" >/dev/null; fi
		fi
		[ "$(dk n1 node inspect -f '{{.Spec.Availability}}' "$id")" = active ] ||
			dk n1 node update --availability active "$id" >/dev/null
	done
	[ "$(dk n1 node inspect -f '{{.Spec.Availability}}' self)" = active ] ||
		dk n1 node update --availability active self >/dev/null
	# Nodes of earlier runs that are gone (down, not one of ours now).
	local ours gone
	ours=" $(for n in "${NODES[@]}"; do node_id "$n"; done | tr '\n' ' ')"
	gone=$(dk n1 node ls -q)
	for id in $gone; do
		[[ $ours == *" $id "* ]] && continue
		dk n1 node demote "$id" >/dev/null 2>&1 || true
		dk n1 node rm --force "$id" >/dev/null 2>&1 || true
	done
	ready() {
		[ "$(dk n1 node ls --format '{{.Status}} {{.Availability}}' | grep -c '^Ready Active')" -ge 3 ] &&
			[ "$(dk n1 node ls --filter role=manager -q | wc -l)" -eq "$managers" ]
	}
	wait_until 60 ready || {
		dk n1 node ls >&2
		die "the three nodes are not Ready (with $managers manager(s)) after 60 s"
	}
}

write_env() {
	mkdir -p "$OUT"
	cat >"$OUT/env" <<-ENV
		# The test swarm of scripts/cluster.sh: source this file.
		export DOCKER_HOST=unix://$(sock n1)
		export FAAS_CONFIG=$OUT/faas/config
		export FAAS_GATEWAY=http://$(ip_of n1):$PORT
		export FAAS_CLUSTER_NODES="$(for n in "${NODES[@]}"; do printf '%s=%s ' "$n" "$(ip_of "$n")"; done | sed 's/ $//')"
	ENV
}

cmd_up() {
	local managers=1 platform=1
	while [ $# -gt 0 ]; do
		case $1 in
		--managers)
			managers=${2:-}
			shift 2 || true
			;;
		--no-platform)
			platform=0
			shift
			;;
		*)
			echo "usage: scripts/cluster.sh up [--managers 1|3] [--no-platform]" >&2
			exit 2
			;;
		esac
	done
	[ "$managers" = 1 ] || [ "$managers" = 3 ] || die "--managers takes 1 or 3, not '$managers'"
	need_tools
	net_up
	local n
	for n in "${NODES[@]}"; do engine_start "$n"; done
	swarm_up "$managers"
	write_env
	say "swarm up: $(dk n1 node ls --format '{{.Hostname}}/{{.ManagerStatus}}' | wc -l) nodes, $managers manager(s)"
	[ "$platform" -eq 1 ] || return 0
	# The platform: exactly as a user on the manager would (make up), with
	# this swarm's engine, its own faasctl configuration, the gateway on
	# n1's address.
	DOCKER_HOST=unix://$(sock n1) FAAS_CONF_DIR=$OUT/faas FAAS_GATEWAY_HOST=$(ip_of n1) \
		FAAS_UP_LOCK=$STATE/up.lock scripts/up.sh
}

cmd_down() {
	need_tools
	engine_stop_all
	net_down
	rm -rf "$DATA" "$OUT"
	say "removed"
}

# Only one up/down at a time.
exec 7>/tmp/faas-cluster.lock
flock -w 900 7 || die "another scripts/cluster.sh holds /tmp/faas-cluster.lock"

case ${1:-} in
up)
	shift
	cmd_up "$@"
	;;
down) cmd_down ;;
kill)
	[[ " ${NODES[*]} " == *" ${2:-none} "* ]] || die "kill NODE: one of ${NODES[*]}"
	engine_kill "$2"
	;;
start)
	[[ " ${NODES[*]} " == *" ${2:-none} "* ]] || die "start NODE: one of ${NODES[*]}"
	engine_start "$2"
	;;
*)
	echo "usage: scripts/cluster.sh up [--managers 1|3] [--no-platform] | down | kill NODE | start NODE" >&2
	exit 2
	;;
esac
