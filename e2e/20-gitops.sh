#!/usr/bin/env bash
# The GitOps scenario on the real swarm: a git repository of function YAMLs, a
# pipeline script that runs `faasctl apply -f . --prune` on every commit, and
# commits that add, change and remove functions. After each, the swarm's
# services match the repository. `--dry-run` and `diff` change nothing, and a
# function made by hand (another applyset) survives the prune.
# bin/faas-controller and bin/faas-gateway run as host processes on 127.0.0.1
# with credentials generated here; the function image is a FROM scratch image
# holding busybox. Everything made here is named gitops-* / faasctl-gitops.
source "$FX_ROOT/tests/lib.sh"

F=$BIN/faasctl
IMG=faasctl-gitops
# The controller's network is its namespace (label faas.network): ours is
# private, so other tests' functions are never seen nor touched. Removed at the end.
NET=faasctl-gitops-net
for b in faas-controller faas-gateway faasctl; do
	if [ ! -x "$BIN/$b" ]; then
		# Only until every part has landed: then make builds them all.
		t_skip "GitOps scenario" "bin/$b is not built"
		exit 0
	fi
done

cleanup_swarm() {
	local s c
	# Through the API first (the controller removes services and configs) ...
	[ -n "${GW:-}" ] && for s in $("$F" get -o name 2>/dev/null | sed -n 's|^function/\(gitops-.*\)|\1|p'); do
		"$F" delete "$s" --ignore-not-found >/dev/null 2>&1
	done
	# ... then anything left behind (the controller died, or a test failed midway).
	for s in $(docker service ls -q --filter label=faas.network="$NET" 2>/dev/null); do
		case $(docker service inspect -f '{{index .Spec.Labels "faas.function"}}' "$s" 2>/dev/null) in
		gitops-*) docker service rm "$s" >/dev/null 2>&1 ;;
		esac
	done
	for c in $(docker config ls -q 2>/dev/null); do
		case $(docker config inspect -f '{{index .Spec.Labels "faas.function"}}' "$c" 2>/dev/null) in
		gitops-*) docker config rm "$c" >/dev/null 2>&1 ;;
		esac
	done
}
no_containers() { [ -z "$(docker ps -aq --filter name=^gitops- 2>/dev/null)" ]; }
final() {
	cleanup_swarm
	# Removed services' tasks go away asynchronously; the image and the
	# network can go once they have.
	wait_for 60 no_containers
	docker image rm "$IMG:1" "$IMG:2" >/dev/null 2>&1
	wait_for 30 docker network rm "$NET" >/dev/null 2>&1
	t_cleanup
}
trap final EXIT

# --- the function image: busybox's httpd answers on 8080
mkdir -p "$T_DIR/img/bin"
cp /bin/busybox "$T_DIR/img/bin/busybox"
# httpd as PID 1 ignores SIGTERM: stop with SIGKILL so removals are quick.
printf 'FROM scratch\nCOPY bin/busybox /bin/busybox\nSTOPSIGNAL SIGKILL\nCMD ["/bin/busybox", "httpd", "-f", "-p", "8080", "-h", "/"]\n' >"$T_DIR/img/Dockerfile"
DOCKER_BUILDKIT=0 docker build -q -t "$IMG:1" "$T_DIR/img" >"$T_DIR/build.log" 2>&1 &&
	docker tag "$IMG:1" "$IMG:2"
check "function image built" docker image inspect "$IMG:2" -f .

# --- controller and gateway on 127.0.0.1 with generated credentials
head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$T_DIR/token"
echo admin >"$T_DIR/user"
head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$T_DIR/password"
cleanup_swarm
start_server controller "$BIN/faas-controller" --bind 127.0.0.1 --port 0 \
	--token-file "$T_DIR/token" --network "$NET" || exit 1
CPORT=$PORT
start_server gateway "$BIN/faas-gateway" --bind 127.0.0.1 --port 0 \
	--controller-url "http://127.0.0.1:$CPORT" --controller-token-file "$T_DIR/token" \
	--basic-auth-user-file "$T_DIR/user" --basic-auth-password-file "$T_DIR/password" \
	--discovery static --static-functions "" || exit 1
GW=http://127.0.0.1:$PORT
export FAAS_GATEWAY=$GW FAAS_USER=admin HOME=$T_DIR
FAAS_PASSWORD=$(cat "$T_DIR/password")
export FAAS_PASSWORD
check "faasctl reaches the gateway" "$F" get -o name

# --- the repository and its pipeline
R=$T_DIR/gitops-repo
mkdir -p "$R"
git -C "$R" init -q
git -C "$R" config user.email ci@example.invalid
git -C "$R" config user.name ci
cat >"$T_DIR/pipeline.sh" <<EOF
#!/usr/bin/env bash
# What CI runs on every commit.
set -eu
cd "$R"
exec "$F" apply -f . --prune
EOF
chmod +x "$T_DIR/pipeline.sh"

fn() { # fn NAME TAG [MIN]
	printf 'apiVersion: faas/v1\nkind: Function\nmetadata:\n  name: %s\n  labels: {team: gitops}\nspec:\n  image: %s:%s\n  fprocess: cat\n  scale: {min: %s, max: 3}\n' \
		"$1" "$IMG" "$2" "${3:-1}"
}
commit() { git -C "$R" add -A && git -C "$R" commit -qm "$1"; }

# The swarm's managed gitops-* services as "name image replicas" lines, sorted.
swarm_state() {
	local s
	for s in $(docker service ls -q --filter label=faas.managed-by=faas-controller --filter label=faas.network="$NET"); do
		docker service inspect -f '{{index .Spec.Labels "faas.function"}} {{.Spec.TaskTemplate.ContainerSpec.Image}} {{.Spec.Mode.Replicated.Replicas}}' "$s" 2>/dev/null
	done | grep '^gitops-' | sed 's/@sha256:[0-9a-f]*//' | sort
}
# What the repository (plus the hand-made function) says, same format.
want_state() {
	local f
	{
		for f in "$R"/*.yaml "$@"; do
			[ -f "$f" ] || continue
			awk '/^  name:/ {n=$2} /^  image:/ {i=$2} /scale:/ {gsub(/[{},]/, ""); m=$3} END {print n, i, m}' "$f"
		done
	} | sort
}
state_is() { [ "$(swarm_state)" = "$1" ]; }
now_ms() { date +%s%3N; }
expect_swarm() { # expect_swarm NAME [extra yaml...]; reports the time since T0 (ms)
	local want
	want=$(want_state "${@:2}")
	if wait_for 90 state_is "$want"; then
		echo "  info $1: converged $(($(now_ms) - T0)) ms after the pipeline started"
		t_pass "$1"
	else
		t_fail "$1" "want [$want] got [$(swarm_state)]"
	fi
}

# Commit 1: two functions.
fn gitops-a 1 >"$R/gitops-a.yaml"
fn gitops-b 1 2 >"$R/gitops-b.yaml"
echo "# functions of team gitops" >"$R/README.md"
commit "add a and b"
T0=$(now_ms)
"$T_DIR/pipeline.sh" >"$T_DIR/out" 2>"$T_DIR/err"
expect_eq "commit 1: pipeline succeeds" "0" "$?"
expect_eq "commit 1: one line per function" "function/gitops-a created
function/gitops-b created" "$(cat "$T_DIR/out")"
expect_swarm "commit 1: swarm matches the repository"
check "commit 1: rollout status gitops-b" "$F" rollout status gitops-b --timeout 90s

# An image that does not exist never becomes Ready: rollout status fails.
fn gitops-broken missing | "$F" apply -f - >/dev/null
start=$SECONDS
"$F" rollout status gitops-broken --timeout 45s >/dev/null 2>"$T_DIR/err"
expect_eq "rollout status of a function that cannot start exits 1" 1 "$?"
echo "  info rollout status gave up after $((SECONDS - start)) s: $(cat "$T_DIR/err")"
"$F" delete gitops-broken >/dev/null

# A function made by hand, in another set.
fn gitops-manual 1 >"$T_DIR/one.yaml"
expect_eq "hand-made function applied" "function/gitops-manual created" "$("$F" apply -f "$T_DIR/one.yaml" 2>&1)"

# Commit 2: change a's image, add c.
fn gitops-a 2 >"$R/gitops-a.yaml"
fn gitops-c 1 >"$R/gitops-c.yaml"
commit "a to :2, add c"
T0=$(now_ms)
out=$("$T_DIR/pipeline.sh" 2>"$T_DIR/err")
expect_match "non-YAML files are skipped with a warning" "warning: skipping ./README.md" "$(cat "$T_DIR/err")"
expect_eq "commit 2: configured, unchanged, created" "function/gitops-a configured
function/gitops-b unchanged
function/gitops-c created" "$out"
expect_swarm "commit 2: swarm matches the repository" "$T_DIR/one.yaml"

# An uncommitted change: --dry-run and diff report it and change nothing.
before=$(swarm_state)
gen_before=$("$F" get gitops-c -o json | sed -n 's/.*"generation": \([0-9]*\).*/\1/p')
fn gitops-c 2 >"$R/gitops-c.yaml"
out=$(cd "$R" && "$F" apply -f . --prune --dry-run 2>&1)
expect_match "dry-run: would configure c" "function/gitops-c configured \(dry run\)" "$out"
(cd "$R" && "$F" diff -f . >"$T_DIR/diff")
expect_eq "diff exits 1 on a difference" 1 "$?"
expect_match "diff shows the image change" "-  image: $IMG:1.*\+  image: $IMG:2" "$(tr '\n' ' ' <"$T_DIR/diff")"
sleep 2 # give a (wrong) write time to show in the swarm
expect_eq "dry-run and diff changed nothing in the swarm" "$before" "$(swarm_state)"
expect_eq "dry-run and diff left the generation alone" "$gen_before" \
	"$("$F" get gitops-c -o json | sed -n 's/.*"generation": \([0-9]*\).*/\1/p')"
git -C "$R" checkout -q -- gitops-c.yaml
(cd "$R" && "$F" diff -f .) >/dev/null
expect_eq "diff exits 0 when the repository is applied" 0 "$?"

# Commit 3: remove b; the pipeline prunes it, the hand-made one survives.
git -C "$R" rm -q gitops-b.yaml
commit "remove b"
T0=$(now_ms)
out=$("$T_DIR/pipeline.sh" 2>/dev/null)
expect_eq "commit 3: b pruned" "function/gitops-a unchanged
function/gitops-c unchanged
function/gitops-b pruned" "$out"
expect_swarm "commit 3: swarm matches the repository, hand-made function kept" "$T_DIR/one.yaml"

# Commit 4: a bad file: nothing is applied, the pipeline fails, the swarm stays.
before=$(swarm_state)
printf 'apiVersion: faas/v1\nkind: Function\nmetadata:\n  name: gitops-d\nspec:\n  image: %s:1\n  replicas: 2\n' "$IMG" >"$R/gitops-d.yaml"
fn gitops-e 1 >"$R/gitops-e.yaml"
commit "bad d, good e"
"$T_DIR/pipeline.sh" >"$T_DIR/out" 2>"$T_DIR/err"
expect_eq "commit 4: a bad document fails the pipeline" 1 "$?"
expect_match "commit 4: the error names file, line and field" "gitops-d.yaml:7:[0-9]+: spec.replicas" "$(cat "$T_DIR/err")"
sleep 1
expect_eq "commit 4: nothing applied" "$before" "$(swarm_state)"

# Commit 5: fix it; everything converges again.
git -C "$R" rm -q gitops-d.yaml
commit "drop d"
T0=$(now_ms)
"$T_DIR/pipeline.sh" >/dev/null 2>&1
expect_eq "commit 5: pipeline succeeds" 0 "$?"
expect_swarm "commit 5: swarm matches the repository" "$T_DIR/one.yaml"

# Removing everything from the repository prunes the whole set, and only it.
(cd "$R" && git rm -q ./*.yaml)
commit "remove all"
T0=$(now_ms)
"$F" apply -f "$R" --prune >/dev/null 2>&1
# An empty directory has no YAML: that is an error, not "prune everything".
expect_eq "an empty repository is an error, not a mass prune" 1 "$?"
"$F" apply -f "$T_DIR/one.yaml" --applyset gitops-repo --prune >"$T_DIR/out" 2>&1
expect_match "explicit --applyset prunes the rest of the set" "function/gitops-a pruned.*function/gitops-c pruned.*function/gitops-e pruned" "$(tr '\n' ' ' <"$T_DIR/out")"
expect_swarm "only the hand-made function is left" "$T_DIR/one.yaml"
"$F" delete gitops-manual >/dev/null
check "no gitops services left" wait_for 60 state_is ""
