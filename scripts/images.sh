#!/usr/bin/env bash
# Builds the platform's images offline, FROM scratch, with the classic builder:
# each holds our binaries (or Debian's), their shared libraries (ldd) and the
# loader, nothing pulled from a registry.
#   faas/watchdog       function base image: /fwatchdog, busybox, HEALTHCHECK
#   faas/gateway        /faas-gateway          faas/controller  /faas-controller
#   faas/queue-worker   /faas-queue-worker     faas/nats        Debian's nats-server
#   faas/prometheus     Debian's prometheus + alerts/ (config and rules)
#   faas/alertmanager   Debian's alertmanager + alerts/alertmanager.yml
#   faas/echo faas/wordcount faas/env faas/sleep faas/hello-http
#   faas/webhook-stash  the sample functions (FROM faas/watchdog)
#   faas/registry       Debian's docker-registry (built only when named)
# Each image is tagged with the hash of its build context (faas/NAME:HASH) and
# :latest; a context whose hash already has an image is not built again, so a
# second run takes a second or two. Writes build/images.env, one line per
# image: FAAS_<NAME>_IMAGE=faas/name:hash (read by scripts/up.sh); the file is
# $FAAS_IMAGES_ENV when set.
# REGISTRY=host:port: each image built (but the registry's own) is also
# pushed there as host:port/faas/NAME:HASH, and the line names it by digest
# (host:port/faas/NAME@sha256:...), which every node of a swarm can pull and
# which cannot change under a service. An image the registry already holds
# under that digest is not pushed again.
# Usage: scripts/images.sh [NAME...]   (default: all). Exit 1 on failure.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
export DOCKER_BUILDKIT=0
work=$root/build/images
envfile=${FAAS_IMAGES_ENV:-$root/build/images.env}
registry=${REGISTRY:-}
mkdir -p "$(dirname "$envfile")"
mkdir -p "$work"

die() {
	echo "images: $*" >&2
	exit 1
}

# need FILE WHAT: a clear message when an input is missing.
need() {
	[ -e "$1" ] || die "$1 is missing ($2)"
}

# ctx_new NAME: an empty build context in $ctx.
ctx_new() {
	ctx=$work/$1
	rm -rf "$ctx"
	mkdir -p "$ctx/rootfs/tmp"
	chmod 1777 "$ctx/rootfs/tmp"
}

# place SRC DEST: puts SRC (symlinks followed) at DEST in the context as a
# hard link (no copy, mtime kept: see ctx_key), or a copy keeping mode and
# mtime across file systems. Sources keep their own modes.
place() {
	local dst=$ctx/rootfs$2
	mkdir -p "$(dirname "$dst")"
	ln -f "$(readlink -f "$1")" "$dst" 2>/dev/null || cp -pL "$1" "$dst"
}

# add_exe SRC DEST: the executable SRC at DEST in the context, with every
# shared library ldd names and the loader, under the paths ldd prints.
add_exe() {
	local src=$1 dest=$2 lib
	place "$src" "$dest"
	while IFS= read -r lib; do
		[ -n "$lib" ] || continue
		[ -e "$ctx/rootfs$lib" ] && continue
		place "$lib" "$lib"
	done < <(ldd "$src" 2>/dev/null | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}')
}

# add_busybox APPLET...: Debian's static busybox at /bin/busybox, with a
# symlink /bin/APPLET for each applet named.
add_busybox() {
	local a
	need /bin/busybox "apt-get install busybox-static"
	place /bin/busybox /bin/busybox
	for a in "$@"; do ln -sf busybox "$ctx/rootfs/bin/$a"; done
}

# add_file SRC DEST
add_file() { place "$1" "$2"; }

# ctx_hash: the hash of the context's content (names, modes, bytes, links).
ctx_hash() {
	# Exit 1 is "a file changed as we read it": its link count (ctime) moved
	# because another checkout links the same source meanwhile; the bytes
	# did not.
	{ tar -C "$ctx" --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner \
		--warning=no-file-changed -cf - . || [ $? -eq 1 ]; } |
		sha256sum | cut -c1-12
}

# ctx_key: a cheap fingerprint of the context (names, sizes, mtimes, modes,
# link targets, the Dockerfile's text) that avoids reading the bytes: files
# are hard links to their sources, so an unchanged source keeps its mtime.
ctx_key() {
	{
		find "$ctx/rootfs" -type f -printf 'f %P %s %T@ %m\n'
		find "$ctx/rootfs" -type l -printf 'l %P %l\n'
		find "$ctx/rootfs" -type d -printf 'd %P %m\n'
		cat "$ctx/Dockerfile"
	} | LC_ALL=C sort | sha256sum | cut -c1-32
}

# The faas images present: "repo:tag id" lines, read once.
declare -A have=()
while read -r ref id; do have[$ref]=$id; done < <(docker image ls --format '{{.Repository}}:{{.Tag}} {{.ID}}' --filter label=faas.image)

declare -A built=()
# build NAME: builds faas/NAME from $ctx unless an image with the context's
# content hash exists (found from the last run's fingerprint without reading
# the files when nothing changed); tags it :latest too; sets
# built[NAME]=faas/NAME:HASH.
build() {
	local name=$1 key ref="" stamp=$work/$1.key
	key=$(ctx_key)
	if [ -f "$stamp" ] && [ "$(sed -n 1p "$stamp")" = "$key" ]; then
		ref=$(sed -n 2p "$stamp")
		[ -n "${have[$ref]:-}" ] || ref=""
	fi
	[ -n "$ref" ] || ref=faas/$name:$(ctx_hash)
	if [ -n "${have[$ref]:-}" ]; then
		echo "images: $ref is up to date" >&2
	else
		echo "images: building $ref" >&2
		if ! docker build -q --label "faas.image=$name" -t "$ref" "$ctx" >"$ctx.log" 2>&1; then
			cat "$ctx.log" >&2
			die "docker build of $ref failed"
		fi
		have[$ref]=$(docker image inspect -f '{{.ID}}' "$ref" | sed 's/^sha256://' | cut -c1-12)
	fi
	if [ "${have[faas/$name:latest]:-}" != "${have[$ref]}" ]; then
		docker tag "$ref" "faas/$name:latest"
		have[faas/$name:latest]=${have[$ref]}
	fi
	printf '%s\n%s\n' "$key" "$ref" >"$stamp"
	built[$name]=$ref
}

image_watchdog() {
	need bin/fwatchdog "run make: the watchdog is built into bin/fwatchdog"
	ctx_new watchdog
	add_exe bin/fwatchdog /fwatchdog
	add_busybox sh cat wc env sleep grep sort head tail tr sed printf echo ls httpd wget
	# A HEALTHCHECK gates traffic: Swarm reports a task running, and Docker's
	# DNS lists it in tasks.NAME, only once the check has passed. Docker runs
	# the first check one interval after the start, and every check is an exec
	# (dockerd, containerd, runc): at 250 ms that cost ~8-13 % of a core per
	# idle replica here. 1 s costs a quarter of that; a cold start does not wait
	# for it, because the gateway runs the same check (GET /_/health) itself on
	# started tasks while requests wait (gateway/registry.c). Timeout and retries are
	# generous: on a loaded machine an exec alone can take seconds, and three
	# slow checks in a row must not get a healthy replica killed.
	cat >"$ctx/Dockerfile" <<-'DOCKERFILE'
		FROM scratch
		COPY rootfs/ /
		ENV PATH=/usr/local/bin:/usr/bin:/bin
		EXPOSE 8080
		HEALTHCHECK --interval=1s --timeout=5s --start-period=10s --retries=12 CMD ["/fwatchdog", "--healthcheck"]
		ENTRYPOINT ["/fwatchdog"]
	DOCKERFILE
	build watchdog
}

image_gateway() {
	need bin/faas-gateway "run make: the gateway is built into bin/faas-gateway"
	ctx_new gateway
	# ldd lists libcurl and the libraries it loads (OpenSSL, GnuTLS, krb5...)
	add_exe bin/faas-gateway /faas-gateway
	cat >"$ctx/Dockerfile" <<-'DOCKERFILE'
		FROM scratch
		COPY rootfs/ /
		# No per-thread caches of freed blocks: after a load they pin
		# pages the idle heap trim cannot return (README, gateway "Memory").
		ENV GLIBC_TUNABLES=glibc.malloc.tcache_count=0
		EXPOSE 8080 8443
		ENTRYPOINT ["/faas-gateway"]
	DOCKERFILE
	build gateway
}

image_controller() {
	need bin/faas-controller "run make: the controller is built into bin/faas-controller"
	ctx_new controller
	# ldd lists libcurl and the libraries it loads (OpenSSL, GnuTLS, krb5...)
	add_exe bin/faas-controller /faas-controller
	cat >"$ctx/Dockerfile" <<-'DOCKERFILE'
		FROM scratch
		COPY rootfs/ /
		EXPOSE 8081
		ENTRYPOINT ["/faas-controller"]
	DOCKERFILE
	build controller
}

image_queue-worker() {
	need bin/faas-queue-worker "run make: the worker is built into bin/faas-queue-worker"
	ctx_new queue-worker
	add_exe bin/faas-queue-worker /faas-queue-worker
	cat >"$ctx/Dockerfile" <<-'DOCKERFILE'
		FROM scratch
		COPY rootfs/ /
		EXPOSE 8080
		ENTRYPOINT ["/faas-queue-worker"]
	DOCKERFILE
	build queue-worker
}

# NATS with JetStream on a file store in /data (a volume in the stack).
# max_payload 8 MB: room for the gateway's async_max_body (4 MiB) and headers.
image_nats() {
	need /usr/sbin/nats-server "apt-get install nats-server"
	ctx_new nats
	add_exe /usr/sbin/nats-server /nats-server
	mkdir -p "$ctx/rootfs/data" "$ctx/rootfs/etc"
	cat >"$ctx/rootfs/etc/nats.conf" <<-'CONF'
		listen: 0.0.0.0:4222
		http: 0.0.0.0:8222
		max_payload: 8MB
		jetstream {
		  store_dir: /data
		  max_file_store: 2GB
		  max_memory_store: 64MB
		}
	CONF
	cat >"$ctx/Dockerfile" <<-'DOCKERFILE'
		FROM scratch
		COPY rootfs/ /
		EXPOSE 4222 8222
		ENTRYPOINT ["/nats-server", "-c", "/etc/nats.conf"]
	DOCKERFILE
	build nats
}

image_prometheus() {
	need /usr/bin/prometheus "apt-get install prometheus"
	ctx_new prometheus
	add_exe /usr/bin/prometheus /bin/prometheus
	add_busybox sh wget
	add_file alerts/prometheus.yml /etc/prometheus/prometheus.yml
	local r win=${FAAS_IDLE_WINDOW:-5m}
	[[ $win =~ ^[1-9][0-9]*[smh]$ ]] || die "FAAS_IDLE_WINDOW=$win: expected a Prometheus duration like 1m, 90s or 2h"
	for r in alerts/rules/*.yml; do add_file "$r" "/etc/prometheus/rules/$(basename "$r")"; done
	# The idle window (the platform's default time before scale to zero) is
	# the rule's "5m"; FAAS_IDLE_WINDOW replaces it (the controller's
	# idle_window follows, manifests/stack.yml).
	if [ "$win" != 5m ]; then
		rm -f "$ctx/rootfs/etc/prometheus/rules/idle.yml"
		sed "s/5m/$win/g" alerts/rules/idle.yml >"$ctx/rootfs/etc/prometheus/rules/idle.yml"
	fi
	mkdir -p "$ctx/rootfs/prometheus"
	# --rules.alert.resend-delay=2s: firing alerts go to Alertmanager again
	# every 2 s (default 1 min), so one sent before Alertmanager was found or
	# while it restarted is not held back for a minute.
	cat >"$ctx/Dockerfile" <<-'DOCKERFILE'
		FROM scratch
		COPY rootfs/ /
		EXPOSE 9090
		ENTRYPOINT ["/bin/prometheus", "--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus", "--storage.tsdb.retention.time=2d", "--web.listen-address=:9090", "--rules.alert.resend-delay=2s"]
	DOCKERFILE
	build prometheus
}

image_alertmanager() {
	local t
	need /usr/bin/prometheus-alertmanager "apt-get install prometheus-alertmanager"
	ctx_new alertmanager
	add_exe /usr/bin/prometheus-alertmanager /bin/alertmanager
	add_busybox sh wget
	add_file alerts/alertmanager.yml /etc/alertmanager/alertmanager.yml
	# Debian's build reads its notification templates from here.
	for t in /usr/share/prometheus/alertmanager/*.tmpl; do add_file "$t" "$t"; done
	mkdir -p "$ctx/rootfs/alertmanager"
	# --cluster.listen-address= : one Alertmanager, no gossip mesh.
	cat >"$ctx/Dockerfile" <<-'DOCKERFILE'
		FROM scratch
		COPY rootfs/ /
		EXPOSE 9093
		ENTRYPOINT ["/bin/alertmanager", "--config.file=/etc/alertmanager/alertmanager.yml", "--storage.path=/alertmanager", "--web.listen-address=:9093", "--cluster.listen-address="]
	DOCKERFILE
	build alertmanager
}

image_registry() {
	need /usr/bin/docker-registry "apt-get install docker-registry"
	ctx_new registry
	add_exe /usr/bin/docker-registry /bin/registry
	mkdir -p "$ctx/rootfs/var/lib/registry" "$ctx/rootfs/etc/registry"
	# No auth: it is reached on the swarm's own addresses (README, "Running
	# on several nodes"); deletes allowed (garbage collection by hand).
	cat >"$ctx/rootfs/etc/registry/config.yml" <<-'CONFIG'
		version: 0.1
		log:
		  level: warn
		  accesslog:
		    disabled: true
		storage:
		  filesystem:
		    rootdirectory: /var/lib/registry
		  delete:
		    enabled: true
		http:
		  addr: :5000
	CONFIG
	touch -d @0 "$ctx/rootfs/etc/registry/config.yml"
	cat >"$ctx/Dockerfile" <<-'DOCKERFILE'
		FROM scratch
		COPY rootfs/ /
		EXPOSE 5000
		VOLUME /var/lib/registry
		ENTRYPOINT ["/bin/registry", "serve", "/etc/registry/config.yml"]
	DOCKERFILE
	build registry
}

# push NAME: pushes faas/NAME:HASH to $registry; built[NAME] becomes its
# reference by digest.
push() {
	local name=$1 ref=${built[$1]} tag digest
	tag=$registry/faas/$name:${ref##*:}
	repo_digest() {
		docker image inspect -f '{{range .RepoDigests}}{{println .}}{{end}}' "$ref" |
			grep -m 1 "^$registry/faas/$name@sha256:" || true
	}
	digest=$(repo_digest)
	# Already there (a HEAD of the manifest by digest answers 200)?
	if [ -n "$digest" ] && curl -fsS -o /dev/null -I --max-time 5 \
		-H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
		"http://$registry/v2/faas/$name/manifests/${digest#*@}" 2>/dev/null; then
		built[$name]=$digest
		return 0
	fi
	echo "images: pushing $tag" >&2
	docker tag "$ref" "$tag"
	if ! docker push "$tag" >"$work/$name.push.log" 2>&1; then
		cat "$work/$name.push.log" >&2
		if grep -q 'HTTP response to HTTPS client' "$work/$name.push.log"; then
			die "this Docker engine does not take $registry as a plain-HTTP registry: add it to \"insecure-registries\" in /etc/docker/daemon.json on every node (README, \"Running on several nodes\")"
		fi
		die "docker push $tag failed (above)"
	fi
	digest=$(repo_digest)
	[ -n "$digest" ] || die "docker push $tag left no digest for $registry"
	built[$name]=$digest
}

# fn_ctx NAME: the context of a sample function on the base image, with the
# files under functions/NAME/rootfs/.
fn_ctx() {
	[ -n "${built[watchdog]:-}" ] || image_watchdog
	ctx_new "$1"
	rm -rf "$ctx/rootfs/tmp"
	if [ -d "functions/$1/rootfs" ]; then
		cp -a "functions/$1/rootfs/." "$ctx/rootfs/"
	fi
}

# fn_build NAME FPROCESS [DOCKERFILE LINE...]
fn_build() {
	local name=$1 fprocess=$2
	shift 2
	{
		echo "FROM ${built[watchdog]}"
		echo "COPY rootfs/ /"
		echo "ENV fprocess=\"$fprocess\""
		[ $# -eq 0 ] || printf '%s\n' "$@"
	} >"$ctx/Dockerfile"
	build "$name"
}

image_echo() { fn_ctx echo && fn_build echo cat; }
image_wordcount() { fn_ctx wordcount && fn_build wordcount wc; }
image_env() { fn_ctx env && fn_build env http-env; }
image_sleep() { fn_ctx sleep && fn_build sleep sleepy; }
image_hello-http() {
	fn_ctx hello-http
	fn_build hello-http "httpd -f -p 127.0.0.1:8000 -h /www" \
		'ENV mode=http upstream_url=http://127.0.0.1:8000'
}
image_webhook-stash() {
	need build/rel/functions/webhook-stash/handler "run make: it builds functions/webhook-stash/main.c"
	fn_ctx webhook-stash
	add_exe build/rel/functions/webhook-stash/handler /usr/local/bin/webhook-stash
	mkdir -p "$ctx/rootfs/stash"
	# Each request's body lands in a file in the working directory.
	fn_build webhook-stash webhook-stash 'WORKDIR /stash'
}

all=(watchdog gateway controller queue-worker nats prometheus alertmanager echo wordcount env sleep hello-http webhook-stash)
want=("$@")
[ ${#want[@]} -gt 0 ] || want=("${all[@]}")
command -v docker >/dev/null || die "docker is not installed (scripts/deps.sh all installs docker.io)"
for n in "${want[@]}"; do
	declare -F "image_$n" >/dev/null || die "unknown image '$n' (known: ${all[*]})"
	[ -n "${built[$n]:-}" ] || "image_$n"
done

if [ -n "$registry" ]; then
	for n in "${!built[@]}"; do
		[ "$n" = registry ] || push "$n"
	done
fi

# Merge into build/images.env (a partial run keeps the other lines).
tmp=$(mktemp "$envfile.XXXXXX")
[ -f "$envfile" ] && cp "$envfile" "$tmp"
for n in "${!built[@]}"; do
	key=FAAS_$(tr 'a-z-' 'A-Z_' <<<"$n")_IMAGE
	sed -i "/^$key=/d" "$tmp"
	echo "$key=${built[$n]}" >>"$tmp"
done
sort -o "$tmp" "$tmp"
mv "$tmp" "$envfile"
