#!/usr/bin/env bash
# The platform on three nodes (scripts/cluster.sh: the host's engine is not
# used): make cluster-up with one manager and two workers; the services run
# images pinned by digest in the stack's registry; one gateway per node; a
# function with 6 replicas has replicas on all three nodes; 1,000 requests
# through the gateways, 0 failed, each node served some. Leaves the cluster
# up for the next scripts; 99-down.sh removes it.
source "$FX_ROOT/tests/lib.sh"
source "$FX_ROOT/e2e/cluster/lib.sh"
cd "$FX_ROOT" || exit 1
trap 'cluster_logs; t_cleanup' EXIT

if ! ip netns list >/dev/null 2>&1 || [ ! -d /sys/fs/cgroup/pids ]; then
	t_skip "cluster tests" "no network namespaces or pids cgroup on this kernel"
	exit 0
fi
t0=$SECONDS
if ! check "make cluster-up (1 manager + 2 workers, the platform with its registry)" cluster_up 1; then
	cat "$T_DIR/cluster-up.log"
	exit 1
fi
echo "  (cluster-up: $((SECONDS - t0)) s)"

expect_eq "three nodes Ready, one manager" "3 1" \
	"$(docker node ls --format '{{.Status}}' | grep -c Ready) $(docker node ls -q --filter role=manager | wc -l)"
# make up returns once the samples are Ready; a worker may still be pulling
# the gateway's image (seconds on a loaded machine).
gateway_nodes() { tasks_by_node faas_gateway | cut -d' ' -f1 | sort | tr '\n' ' ' | sed 's/ $//'; }
gateway_everywhere() { [ "$(gateway_nodes)" = "n1 n2 n3" ]; }
check "a gateway on each node (within 60 s)" wait_for 60 gateway_everywhere
pinned=$(docker service ls --filter label=com.docker.stack.namespace=faas --format '{{.Name}} {{.Image}}' |
	grep -v '^faas_registry ' | grep -cvE ' 10\.213\.0\.11:5000/faas/[a-z-]+@sha256:[0-9a-f]{64}$')
expect_eq "the platform's services run registry images pinned by digest" 0 "$pinned"
for n in n1 n2 n3; do
	check "the gateway on $n answers" wait_for 30 curl -fsS -o /dev/null --max-time 5 "$(gw "$n")/healthz"
done

check "apply a function with 6 replicas" apply_where where 6
check "its 6 replicas run" wait_for 180 ready where 6
expect_eq "on all three nodes" "n1 n2 n3" "$(tasks_by_node where | cut -d' ' -f1 | sort -u | tr '\n' ' ' | sed 's/ $//')"

# 1,000 requests: 8 clients in parallel, each on one node's gateway in turn,
# so gateways reach replicas on their own node and over the overlay.
for k in 0 1 2 3 4 5 6 7; do
	node=n$((k % 3 + 1))
	(for _ in $(seq 125); do
		curl -s --max-time 10 -d x -w ' %{http_code}\n' "$(gw "$node")/function/where"
	done >"$T_DIR/load.$k") &
done
wait
cat "$T_DIR"/load.* >"$T_DIR/load.txt"
declare -A host_node=()
while read -r n c; do host_node[$c]=$n; done < <(tasks_by_node where)
# A body line (the host name), then " CODE".
read -r ok failed n1c n2c n3c < <(
	for c in "${!host_node[@]}"; do echo "map $c ${host_node[$c]}"; done |
		cat - "$T_DIR/load.txt" | awk '
		$1 == "map" { node[$2] = $3; next }
		/^ [0-9]+$/ { if ($1 == 200 && last in node) { ok++; by[node[last]]++ } else failed++; last = ""; next }
		{ last = $1 }
		END { printf "%d %d %d %d %d\n", ok, failed, by["n1"], by["n2"], by["n3"] }')
echo "  1000 requests: $ok ok, $failed failed; served by n1 $n1c, n2 $n2c, n3 $n3c"
echo "cluster spread: $ok ok, $failed failed; n1 $n1c n2 $n2c n3 $n3c" >>"$FX_ARTIFACTS/cluster-figures.txt"
expect_eq "1000 requests, 0 failed" "1000 0" "$ok $failed"
check "each node served some" test "$n1c" -gt 0 -a "$n2c" -gt 0 -a "$n3c" -gt 0
