# shellcheck shell=bash
# bench/lib.sh: what the loopback benchmarks share, sourced after FX_ROOT is
# set: tests/lib.sh (servers, wait_for, rss_kib), the tools check, a free
# port, wrk's error count and nginx as the keep-alive reverse proxy baseline.
# shellcheck source=tests/lib.sh
source "$FX_ROOT/tests/lib.sh"
# shellcheck disable=SC2034 # used by the scripts that source this
B=$FX_ROOT/build/rel/bench
# shellcheck disable=SC2034
DUR=${BENCH_DURATION:-10}
ulimit -n 65536 2>/dev/null || ulimit -n 4096

# bench_need SCRIPT TOOL...: exits when a tool is missing.
bench_need() {
	local script=$1 t
	shift
	for t in "$@"; do
		command -v "$t" >/dev/null || { echo "$script: $t is missing (scripts/deps.sh all)" >&2; exit 1; }
	done
}

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null ||
		echo $((20000 + RANDOM % 20000))
}

# wrk_errors FILE: non-2xx answers plus socket errors in a wrk report.
wrk_errors() {
	awk '/Non-2xx/ {n += $NF} /Socket errors/ {gsub(",", ""); n += $4 + $6 + $8 + $10} END {print n + 0}' "$1"
}

# nginx_proxy PORT UPSTREAM_PORT [LISTEN_FLAGS [SERVER_LINES]]: nginx on
# 127.0.0.1:PORT (worker_processes auto) proxying over keep-alive connections
# to 127.0.0.1:UPSTREAM_PORT, in the background (killed with the test's
# servers); its master's pid file is $T_DIR/nginx/nginx.pid.
nginx_proxy() {
	mkdir -p "$T_DIR/nginx"
	cat >"$T_DIR/nginx/nginx.conf" <<-CONF
		worker_processes auto;
		daemon off;
		pid $T_DIR/nginx/nginx.pid;
		error_log $T_DIR/nginx/error.log warn;
		events { worker_connections 8192; }
		http {
			access_log off;
			client_body_temp_path $T_DIR/nginx;
			proxy_temp_path $T_DIR/nginx;
			upstream wd { server 127.0.0.1:$2; keepalive 256; }
			server {
				listen 127.0.0.1:$1${3:+ $3};
				${4:-}
				location / {
					proxy_pass http://wd;
					proxy_http_version 1.1;
					proxy_set_header Connection "";
					proxy_buffering off;
				}
			}
		}
	CONF
	nginx -c "$T_DIR/nginx/nginx.conf" -p "$T_DIR/nginx" 2>"$T_DIR/nginx.log" &
	T_PIDS+=($!)
}
