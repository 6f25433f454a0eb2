#!/usr/bin/env bash
# make cluster-down removes the test swarm and everything cluster-up made
# (engines, containers, data, namespaces, bridge, iptables rule); a second
# run is a no-op; the host's engine and swarm are as they were.
source "$FX_ROOT/tests/lib.sh"
cd "$FX_ROOT" || exit 1

host_swarm=$(DOCKER_HOST='' docker info --format '{{.Swarm.LocalNodeState}}' 2>/dev/null)
check "make cluster-down" bash -c "timeout 300 scripts/cluster.sh down >'$T_DIR/down.log' 2>&1"
check "a second cluster-down is a no-op" bash -c "timeout 60 scripts/cluster.sh down >'$T_DIR/down2.log' 2>&1"
expect_eq "no node namespace is left" "" "$(ip netns list | grep -E '^faas-n[0-9]' || true)"
check "no bridge faasbr0" bash -c "! ip link show faasbr0 >/dev/null 2>&1"
expect_eq "no node process is left" "" "$(cat /sys/fs/cgroup/pids/faas-n*/cgroup.procs 2>/dev/null || true)"
check "no iptables rule for the bridge" bash -c "! iptables -S | grep -q faasbr0"
check "no data left" test ! -e /var/lib/faas-cluster
expect_eq "the host's swarm is as it was" "$host_swarm" "$(DOCKER_HOST='' docker info --format '{{.Swarm.LocalNodeState}}' 2>/dev/null)"
