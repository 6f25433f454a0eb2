#!/usr/bin/env bash
# bench/tls.sh: HTTPS through the gateway against nginx terminating TLS in
# front of the same replica, in one run, on loopback.
#   - the replica: an http-mode fwatchdog in front of bench/gateway_upstream;
#   - the gateway: tls=on, its two event loops, the certificate below;
#   - nginx (Debian's nginx-light): worker_processes auto, TLS 1.2/1.3, the
#     same certificate, session cache and tickets, proxy_pass over keep-alive
#     connections to the replica;
#   - one ECDSA P-256 certificate made with certtool for both.
# wrk with 32 keep-alive connections, then with "Connection: close" (a new
# TCP connection and TLS handshake per request), alternating gateway and
# nginx, BENCH_ROUNDS rounds (default 3) of BENCH_DURATION s (default 10);
# the medians are compared. Prints a Markdown block for bench/RESULTS.md.
set -u
FX_ROOT=$(cd "$(dirname "$0")/.." && pwd)
export FX_ROOT
source "$FX_ROOT/bench/lib.sh"
ROUNDS=${BENCH_ROUNDS:-3}
bench_need bench/tls.sh wrk nginx certtool
if [ ! -x "$BIN/fwatchdog" ] || [ ! -x "$BIN/faas-gateway" ] || [ ! -x "$B/gateway_upstream" ]; then
	echo "bench/tls.sh: run make all and the bench tools first (make bench)" >&2
	exit 1
fi

# One certificate for both servers.
C=$T_DIR/certs
mkdir -p "$C"
printf 'cn = "bench CA"\nca\ncert_signing_key\nexpiration_days = 2\n' >"$C/ca.tmpl"
printf 'cn = "127.0.0.1"\nip_address = "127.0.0.1"\ntls_www_server\nsigning_key\nencryption_key\nexpiration_days = 2\n' >"$C/host.tmpl"
{
	certtool --generate-privkey --key-type=ecdsa --outfile "$C/ca-key.pem" &&
		certtool --generate-self-signed --load-privkey "$C/ca-key.pem" --template "$C/ca.tmpl" --outfile "$C/ca.pem" &&
		certtool --generate-privkey --key-type=ecdsa --outfile "$C/key.pem" &&
		certtool --generate-certificate --load-privkey "$C/key.pem" --load-ca-certificate "$C/ca.pem" \
			--load-ca-privkey "$C/ca-key.pem" --template "$C/host.tmpl" --outfile "$C/cert.pem"
} >/dev/null 2>&1 || { echo "bench/tls.sh: certtool failed" >&2; exit 1; }

up=$(free_port)
mkdir -p "$T_DIR/wd.tmp"
start_server wd env TMPDIR="$T_DIR/wd.tmp" port=0 mode=http fprocess="env port=$up $B/gateway_upstream" \
	upstream_url="http://127.0.0.1:$up" "$BIN/fwatchdog" || exit 1
WDP=$PORT
wait_for 10 curl -sf -o /dev/null "127.0.0.1:$WDP/" || { echo "replica not ready" >&2; exit 1; }

start_server gw env GLIBC_TUNABLES=glibc.malloc.tcache_count=0 bind=127.0.0.1 port=0 tls=on tls_port=0 \
	tls_cert_file="$C/cert.pem" tls_key_file="$C/key.pem" discovery=static \
	static_functions="hello=127.0.0.1:$WDP" controller_url= basic_auth=false "$BIN/faas-gateway" || exit 1
GW_PID=$PID
GT=$(sed -nE 's/.*msg=listening_tls addr=[^ ]*:([0-9]+).*/\1/p' "$T_DIR/gw.log" | head -n 1)

NP=$(free_port)
nginx_proxy "$NP" "$WDP" ssl "ssl_certificate $C/cert.pem; ssl_certificate_key $C/key.pem;
		ssl_protocols TLSv1.2 TLSv1.3; ssl_session_cache shared:SSL:1m; ssl_session_tickets on;"
G=https://127.0.0.1:$GT/function/hello
N=https://127.0.0.1:$NP/
for u in "$G" "$N"; do
	wait_for 5 curl -sf -o /dev/null --cacert "$C/ca.pem" "$u" || {
		echo "bench/tls.sh: $u does not answer" >&2
		cat "$T_DIR/nginx.log" "$T_DIR/gw.log" >&2
		exit 1
	}
	wrk -t 1 -c 8 -d 1s "$u" >/dev/null 2>&1 # warm up
done

# CPU time (clock ticks) of the gateway, or of nginx's workers.
NGINX_MASTER=$(cat "$T_DIR/nginx/nginx.pid" 2>/dev/null)
ticks() {
	local p t=0
	if [ "$1" = g ]; then
		awk '{print $14 + $15}' "/proc/$GW_PID/stat"
		return
	fi
	for p in $(pgrep -P "$NGINX_MASTER"); do
		t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat")))
	done
	echo "$t"
}
# rps LABEL URL [wrk args]: requests per second in RPS (errors counted in ERRS[label],
# requests and CPU ticks in REQS[label] and TICKS[label]).
declare -A ERRS=() REQS=() TICKS=()
rps() {
	local label=$1 url=$2 t0 t1
	shift 2
	t0=$(ticks "${label:0:1}")
	wrk -t 2 -c 32 -d "${DUR}s" "$@" "$url" >"$T_DIR/wrk-$label.out" 2>&1
	t1=$(ticks "${label:0:1}")
	TICKS[$label]=$((${TICKS[$label]:-0} + t1 - t0))
	REQS[$label]=$((${REQS[$label]:-0} + $(awk '/requests in/ {print $1}' "$T_DIR/wrk-$label.out")))
	ERRS[$label]=$((${ERRS[$label]:-0} + $(wrk_errors "$T_DIR/wrk-$label.out")))
	RPS=$(awk '/^Requests\/sec/ {printf "%d", $2}' "$T_DIR/wrk-$label.out")
}
# cpu LABEL: microseconds of CPU per request over every round.
cpu() { awk -v t="${TICKS[$1]}" -v n="${REQS[$1]}" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.0f", n ? t * 1e6 / hz / n : 0 }'; }
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
gk=() nk=() gc=() nc=()
for _ in $(seq 1 "$ROUNDS"); do
	rps gk "$G" && gk+=("$RPS")
	rps nk "$N" && nk+=("$RPS")
	rps gc "$G" -H 'Connection: close' && gc+=("$RPS")
	rps nc "$N" -H 'Connection: close' && nc+=("$RPS")
done
GK=$(median "${gk[@]}") NK=$(median "${nk[@]}") GC=$(median "${gc[@]}") NC=$(median "${nc[@]}")
ratio() { awk -v g="$1" -v n="$2" 'BEGIN { printf "%.2f", n ? g / n : 0 }'; }
rss=$(rss_kib "$GW_PID")

cat <<EOF
### HTTPS run of $(date -u +'%Y-%m-%d %H:%M UTC') on $(nproc) cores ($(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo))

\`bench/tls.sh\`: wrk 2 threads, 32 connections, ${DUR} s per run, ${ROUNDS} rounds alternating
gateway and nginx; the same ECDSA P-256 certificate; the same replica (http-mode
\`fwatchdog\` + \`bench/gateway_upstream\`). Medians (each round's figures in parentheses).

| path | gateway req/s | nginx req/s | gateway / nginx | CPU per request, gateway / nginx | errors g / n |
|---|---|---|---|---|---|
| HTTPS, keep-alive | $GK (${gk[*]}) | $NK (${nk[*]}) | **$(ratio "$GK" "$NK")** | $(cpu gk) / $(cpu nk) µs | ${ERRS[gk]:-0} / ${ERRS[nk]:-0} |
| HTTPS, a new connection per request | $GC (${gc[*]}) | $NC (${nc[*]}) | **$(ratio "$GC" "$NC")** | $(cpu gc) / $(cpu nc) µs | ${ERRS[gc]:-0} / ${ERRS[nc]:-0} |

CPU per request: the gateway process, and nginx's worker processes, from
\`/proc/PID/stat\` around each run (the replica behind both is not counted);
on a loaded machine it moves much less than the throughput does.

- Target: >= 0.9 x nginx. Gateway RSS at the end: ${rss} KiB.
- Machine load (1-minute average) at the end: $(cut -d' ' -f1 /proc/loadavg).
EOF
