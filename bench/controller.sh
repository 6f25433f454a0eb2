#!/usr/bin/env bash
# bench/controller.sh: the controller against direct Docker API calls.
#   1. 50 services made directly (curl to the Docker API, same spec shape),
#      timed until every one has a running task;
#   2. the same 50 as functions applied to the controller, timed until every
#      one is Ready (availableReplicas >= replicas);
#   3. controller CPU while idle (10 s) and RSS with 200 functions (placed on
#      no node, so no container runs), with a real gateway beside it (it
#      polls the controller's function list, and the autoscaler polls it and
#      decides for every function each second: both costs are in the figure);
#   4. alert -> service update latency (the webhook's round trip, which
#      returns once the update is issued), median and max of 20.
# Everything is named ctl-bench-*, on its own network, and removed at the end.
# Usage: bench/controller.sh [N=50]
set -u
cd "$(dirname "$0")/.." || exit 1
ROOT=$PWD
N=${1:-50}
P="ctl-bench"
NET=$P-net
IMG=$P/fn:v1
T=$(mktemp -d /tmp/ctl-bench.XXXXXX)
SOCK=/var/run/docker.sock
API=http://localhost/v1.41
CTL_PID=
GW_PID=

cleanup() {
	[ -n "$GW_PID" ] && kill "$GW_PID" 2>/dev/null && wait "$GW_PID" 2>/dev/null
	[ -n "$CTL_PID" ] && kill "$CTL_PID" 2>/dev/null && wait "$CTL_PID" 2>/dev/null
	docker service ls -q --filter "name=$P-" | xargs -r docker service rm >/dev/null 2>&1
	docker config ls --format '{{.Name}}' | grep "^faas-fn-$P-" | xargs -r docker config rm >/dev/null 2>&1
	true
}
trap 'cleanup; for _ in $(seq 1 60); do docker network rm "$NET" >/dev/null 2>&1 && break; sleep 1; done; rm -rf "$T"' EXIT

now() { date +%s.%N; }
wait_gone() { # all ctl-bench services and their containers gone
	for _ in $(seq 1 600); do
		[ -z "$(docker service ls -q --filter "name=$P-")" ] &&
			[ -z "$(docker ps -q --filter "label=com.docker.swarm.service.name" --filter "name=$P-")" ] && return 0
		sleep 0.2
	done
}
running_count() { # services named $P-d-* or $P-f-* with a running task (same probe for both)
	docker service ls --filter "name=$P-$1" --format '{{.Replicas}}' | grep -c '^[1-9]'
}

# Shares the swarm with the e2e runs: take their lock.
exec 9>/tmp/faas-e2e.lock
flock -w 1800 9 || { echo "bench: e2e lock busy" >&2; exit 1; }
cleanup
if ! docker image inspect "$IMG" >/dev/null 2>&1; then
	mkdir -p "$T/img" && cp /bin/busybox "$T/img/busybox"
	printf 'FROM scratch\nCOPY busybox /bin/busybox\nCMD ["/bin/busybox","sleep","2147483"]\n' >"$T/img/Dockerfile"
	DOCKER_BUILDKIT=0 docker build -q -t "$IMG" "$T/img" >/dev/null 2>&1 || { echo "bench: image build failed" >&2; exit 1; }
fi
docker network inspect "$NET" >/dev/null 2>&1 ||
	docker network create -d overlay --attachable "$NET" >/dev/null
NETID=$(docker network inspect "$NET" --format '{{.Id}}')

direct_run() {
	local t0 t_issue t1 i name
	t0=$(now)
	for i in $(seq 1 "$N"); do
		name=$P-d-$i
		curl -s -o /dev/null --unix-socket "$SOCK" -H 'Content-Type: application/json' -X POST "$API/services/create" --data \
			"{\"Name\":\"$name\",\"Labels\":{\"bench\":\"$P\"},\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"$IMG\",\"Env\":[\"fprocess=cat\",\"mode=fork\"]},\"RestartPolicy\":{\"Condition\":\"on-failure\"},\"Networks\":[{\"Target\":\"$NETID\",\"Aliases\":[\"$name\"]}]},\"Mode\":{\"Replicated\":{\"Replicas\":1}},\"UpdateConfig\":{\"Order\":\"start-first\"},\"EndpointSpec\":{\"Mode\":\"dnsrr\"}}"
	done
	t_issue=$(now)
	for _ in $(seq 1 3000); do
		[ "$(running_count d-)" -ge "$N" ] && break
		sleep 0.2
	done
	t1=$(now)
	echo "$(echo "$t_issue - $t0" | bc) $(echo "$t1 - $t0" | bc)"
	docker service ls -q --filter "name=$P-d-" | xargs -r docker service rm >/dev/null 2>&1
	wait_gone
}

ctl_run() {
	local t0 t_issue t1 i ready
	t0=$(now)
	for i in $(seq 1 "$N"); do put "$P-f-$i" >/dev/null; done
	t_issue=$(now)
	for _ in $(seq 1 3000); do
		[ "$(running_count f-)" -ge "$N" ] && break
		sleep 0.2
	done
	# and the controller agrees: every function Ready
	for _ in $(seq 1 300); do
		ready=$(curl -s "$CTL/apis/faas/v1/functions" | jq "[.items[] | select(.metadata.name | startswith(\"$P-f-\")) | .status.conditions[] | select(.type==\"Ready\" and .status==\"True\")] | length")
		[ "${ready:-0}" -ge "$N" ] && break
		sleep 0.2
	done
	t1=$(now)
	echo "$(echo "$t_issue - $t0" | bc) $(echo "$t1 - $t0" | bc)"
	for i in $(seq 1 "$N"); do curl -s -o /dev/null -X DELETE -H "Authorization: Bearer bench-token" "$CTL/apis/faas/v1/functions/$P-f-$i"; done
	wait_gone
}

echo "bench-token" >"$T/token"
listening_port() { # LOG: the port a program of ours logged it listens on
	local p
	for _ in $(seq 1 100); do
		p=$(sed -nE 's/.*msg=listening .*addr=[^ ]*:([0-9]+).*/\1/p' "$1" | head -n 1)
		[ -n "$p" ] && { echo "$p"; return 0; }
		sleep 0.05
	done
	return 1
}
# The gateway first (it retries the controller until it answers), on a port
# of its choosing; the controller on a free port picked here, told the
# gateway's.
CPORT=
for _ in $(seq 1 50); do
	p=$((20000 + RANDOM % 20000))
	ss -ltnH "sport = :$p" | grep -q . || { CPORT=$p; break; }
done
[ -n "$CPORT" ] || { echo "bench: no free port" >&2; exit 1; }
env bind=127.0.0.1 port=0 controller_url="http://127.0.0.1:$CPORT" controller_token_file="$T/token" \
	basic_auth=false "$ROOT/bin/faas-gateway" 2>"$T/gw.log" &
GW_PID=$!
GPORT=$(listening_port "$T/gw.log") || { echo "bench: the gateway did not start" >&2; exit 1; }
"$ROOT/bin/faas-controller" --port "$CPORT" --bind 127.0.0.1 --token-file "$T/token" --network "$NET" \
	--gateway-urls "http://127.0.0.1:$GPORT" 2>"$T/ctl.log" &
CTL_PID=$!
PORT=$(listening_port "$T/ctl.log") || { echo "bench: the controller did not start" >&2; exit 1; }
CTL=http://127.0.0.1:$PORT
put() { # NAME [extra spec lines]
	printf 'apiVersion: faas/v1\nkind: Function\nmetadata: {name: %s}\nspec:\n  image: %s\n  fprocess: cat\n%s' "$1" "$IMG" "${2:-}" |
		curl -s -o /dev/null -w '%{http_code}' -X PUT -H "Authorization: Bearer bench-token" --data-binary @- "$CTL/apis/faas/v1/functions/$1"
}

# Alternate the two, twice, and keep the best of each (the machine is shared).
# Each run finishes (its services removed and gone) before the next starts:
# its figures go through a file, not `< <(...)`, which would let the next run
# start while this one still deletes.
direct_run >"$T/d1"
ctl_run >"$T/c1"
direct_run >"$T/d2"
ctl_run >"$T/c2"
read -r d_issue1 d_all1 <"$T/d1"
read -r c_issue1 c_all1 <"$T/c1"
read -r d_issue2 d_all2 <"$T/d2"
read -r c_issue2 c_all2 <"$T/c2"
best() { echo "$1 $2" | awk '{print ($1 < $2) ? $1 : $2}'; }
direct=$(best "$d_all1" "$d_all2")
direct_issue=$(best "$d_issue1" "$d_issue2")
ctl=$(best "$c_all1" "$c_all2")
ctl_issue=$(best "$c_issue1" "$c_issue2")
ratio=$(echo "scale=2; $ctl / $direct" | bc)
# The controller's run again, left in place for the idle and alert figures.
for i in $(seq 1 "$N"); do put "$P-f-$i" >/dev/null; done
for _ in $(seq 1 3000); do
	[ "$(running_count f-)" -ge "$N" ] && break
	sleep 0.2
done

# ---- 3. idle CPU and RSS ----
ticks() { awk '{print $14 + $15}' "/proc/$CTL_PID/stat"; }
sleep 3
c0=$(ticks)
sleep 10
c1=$(ticks)
hz=$(getconf CLK_TCK)
idle_cpu=$(echo "scale=2; ($c1 - $c0) * 100 / $hz / 10" | bc)
rss50=$(awk '/^VmRSS:/ {print $2}' "/proc/$CTL_PID/status")
uss50=$(awk '/^Private_(Clean|Dirty):/ {s += $2} END {print s}' "/proc/$CTL_PID/smaps_rollup")

# ---- 4. alert latency ----
put "$P-alert" $'  scale: {min: 1, max: 20, metric: alerts, factor: 5, cooldown: 0s}\n' >/dev/null
for _ in $(seq 1 100); do docker service inspect "$P-alert" >/dev/null 2>&1 && break; sleep 0.1; done
: >"$T/lat"
for i in $(seq 1 20); do
	st=firing
	[ $((i % 2)) -eq 0 ] && st=resolved
	curl -s -o /dev/null -w '%{time_total}\n' -H "Authorization: Bearer bench-token" \
		--data "{\"version\":\"4\",\"status\":\"$st\",\"alerts\":[{\"status\":\"$st\",\"labels\":{\"alertname\":\"b\",\"function_name\":\"$P-alert\"},\"fingerprint\":\"f$i\",\"startsAt\":\"t$i\"}]}" \
		"$CTL/alerts" >>"$T/lat"
done
lat_med=$(sort -n "$T/lat" | awk '{a[NR]=$1} END {printf "%.1f", a[int((NR+1)/2)] * 1000}')
lat_max=$(sort -n "$T/lat" | tail -n 1 | awk '{printf "%.1f", $1 * 1000}')
updates=$(grep -c 'source=alert' "$T/ctl.log")

# 200 functions (placed nowhere: no containers) for the RSS figure
for i in $(seq 1 "$N"); do curl -s -o /dev/null -X DELETE -H "Authorization: Bearer bench-token" "$CTL/apis/faas/v1/functions/$P-f-$i"; done
for i in $(seq 1 200); do put "$P-r-$i" $'  constraints: ["node.labels.ctl-bench==none"]\n' >/dev/null; done
for _ in $(seq 1 600); do
	[ "$(docker service ls -q --filter "name=$P-r-" | wc -l)" -ge 200 ] && break
	sleep 0.2
done
sleep 2
# A list of 200 functions (services and tasks from Docker) is the largest
# transient; the heap is trimmed once its answer is sent, so read the figures
# a second after it, and the peak (VmHWM) of the whole run besides.
curl -s -o /dev/null "$CTL/apis/faas/v1/functions"
sleep 1
rss200=$(awk '/^VmRSS:/ {print $2}' "/proc/$CTL_PID/status")
uss200=$(awk '/^Private_(Clean|Dirty):/ {s += $2} END {print s}' "/proc/$CTL_PID/smaps_rollup")
hwm=$(awk '/^VmHWM:/ {print $2}' "/proc/$CTL_PID/status")
c0=$(ticks)
sleep 10
c1=$(ticks)
idle200=$(echo "scale=2; ($c1 - $c0) * 100 / $hz / 10" | bc)
# The autoscaler really polled the gateway and had every function to decide.
polls=$(curl -s "$CTL/metrics" | awk '/^faas_controller_autoscale_decisions_total/ {s += $2} END {print s + 0}')
polled=$(curl -s -H "Authorization: Bearer bench-token" "http://127.0.0.1:$GPORT/_/concurrency" | jq '.functions | length')

cat <<EOF
controller benchmark ($(nproc) cores, Docker $(docker version --format '{{.Server.Version}}'), N=$N)
  direct Docker API: $N services created in ${direct_issue}s, all running after ${direct}s (runs: ${d_all1}s, ${d_all2}s)
  controller:        $N functions applied in ${ctl_issue}s, all Ready after ${ctl}s (runs: ${c_all1}s, ${c_all2}s)
  ratio:             ${ratio}x (best of two alternating runs each; target <= 1.2)
  load average:      $(cut -d' ' -f1-3 /proc/loadavg) at the end
  idle CPU:          ${idle_cpu}% with $N functions, ${idle200}% with 200 (10 s each; a gateway beside it, ${polls} autoscaler decisions, ${polled} functions in its answer)
  RSS:               ${rss50} KiB with $N functions, ${rss200} KiB with 200 (target <= 10240), peak ${hwm} KiB
  private (USS):     ${uss50} KiB with $N functions, ${uss200} KiB with 200 (RSS minus shared library pages)
  alert -> update:   median ${lat_med} ms, max ${lat_max} ms over 20 webhooks ($updates updates issued)
EOF
