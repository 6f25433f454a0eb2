#!/usr/bin/env bash
# The gateway's HTTPS certificate for `make up` (scripts/up.sh), in CONF_DIR
# (~/.config/faas):
#   tls/cert.pem, tls/key.pem   what the gateway serves (Docker secrets
#                               faas-tls-cert, faas-tls-key)
#   ca.pem, ca-key.pem          the local CA that signed it, when made here
# The user's own pair: FAAS_TLS_CERT and FAAS_TLS_KEY (PEM files; the chain
# in the certificate file), copied in. Otherwise a pair made on an earlier run
# is kept while it is valid for 30 more days and names this host; else a new
# one is made with GnuTLS's certtool: an ECDSA P-256 key, valid 397 days, for
# localhost, 127.0.0.1, ::1, the host's name and main address (and
# FAAS_TLS_HOST, the address clients are given, when set), signed by the
# local CA (made once, valid 10 years, key mode 0600).
# Prints "made", "kept" or "user" on stdout. Exit 1 with a message on failure.
# Usage: scripts/tls-cert.sh CONF_DIR
set -euo pipefail
conf_dir=${1:?usage: scripts/tls-cert.sh CONF_DIR}
dir=$conf_dir/tls
die() {
	echo "tls-cert: $*" >&2
	exit 1
}
command -v certtool >/dev/null || die "certtool is missing: scripts/deps.sh installs gnutls-bin"
mkdir -p "$dir"
chmod 700 "$conf_dir" "$dir"
umask 077

# The names the certificate must hold: this host's name and addresses.
names=(localhost "$(hostname)")
fqdn=$(timeout 2 hostname -f 2>/dev/null || true)
[ -n "$fqdn" ] && [ "$fqdn" != "$(hostname)" ] && names+=("$fqdn")
# The address of the default route (not every bridge's: those come and go).
addrs=(127.0.0.1 ::1)
primary=$(ip -o route get 1.1.1.1 2>/dev/null | sed -n 's/.* src \([^ ]*\).*/\1/p')
[ -n "$primary" ] && addrs+=("$primary")
# The address faasctl is given (FAAS_GATEWAY_HOST in scripts/up.sh), if another.
if [ -n "${FAAS_TLS_HOST:-}" ]; then
	if [[ $FAAS_TLS_HOST =~ ^[0-9.]+$ || $FAAS_TLS_HOST == *:* ]]; then
		addrs+=("$FAAS_TLS_HOST")
	else
		names+=("$FAAS_TLS_HOST")
	fi
fi

# The pair matches: same public key in both (certtool prints its ID).
matches() {
	local a b
	a=$(certtool --certificate-info --infile "$1" 2>/dev/null | sed -n '/Public Key ID:/,+2p' | sed -n 's/.*sha256:\([0-9a-f]*\).*/\1/p' | head -n 1)
	b=$(certtool --key-info --infile "$2" 2>/dev/null | sed -n '/Public Key ID:/,+2p' | sed -n 's/.*sha256:\([0-9a-f]*\).*/\1/p' | head -n 1)
	[ -n "$a" ] && [ "$a" = "$b" ]
}

if [ -n "${FAAS_TLS_CERT:-}" ] || [ -n "${FAAS_TLS_KEY:-}" ]; then
	if ! [ -r "${FAAS_TLS_CERT:-}" ] || ! [ -r "${FAAS_TLS_KEY:-}" ]; then
		die "FAAS_TLS_CERT and FAAS_TLS_KEY must both name readable PEM files"
	fi
	matches "$FAAS_TLS_CERT" "$FAAS_TLS_KEY" ||
		die "$FAAS_TLS_KEY is not the key of the certificate in $FAAS_TLS_CERT (or not PEM)"
	cmp -s "$FAAS_TLS_CERT" "$dir/cert.pem" || cp "$FAAS_TLS_CERT" "$dir/cert.pem"
	cmp -s "$FAAS_TLS_KEY" "$dir/key.pem" || cp "$FAAS_TLS_KEY" "$dir/key.pem"
	touch "$dir/user-provided"
	echo user
	exit 0
fi

# A key TLS can sign with: ECDSA on P-256/384/521 or RSA. (certtool's
# "--sec-param=medium" gives P-224, which no TLS 1.3 signature scheme covers:
# the handshake fails. Pairs and CAs made that way are made again.)
usable_key() {
	certtool --certificate-info --infile "$1" 2>/dev/null |
		grep -qE 'Curve:[[:space:]]*SECP(256|384|521)R1|Public Key Algorithm: RSA'
}
if [ -s "$conf_dir/ca.pem" ] && ! usable_key "$conf_dir/ca.pem"; then
	rm -f "$conf_dir/ca.pem" "$conf_dir/ca-key.pem"
fi

# A pair made here before: kept while valid for 30 more days and naming this host.
if [ -s "$dir/cert.pem" ] && [ -s "$dir/key.pem" ] && [ -e "$dir/user-provided" ]; then
	echo user
	exit 0
fi
if [ -s "$dir/cert.pem" ] && [ -s "$dir/key.pem" ] && [ -s "$conf_dir/ca.pem" ] &&
	matches "$dir/cert.pem" "$dir/key.pem" && usable_key "$dir/cert.pem" &&
	certtool --verify --load-ca-certificate "$conf_dir/ca.pem" --infile "$dir/cert.pem" >/dev/null 2>&1; then
	info=$(certtool --certificate-info --infile "$dir/cert.pem" 2>/dev/null)
	until=$(sed -nE 's/.*Not After: (.*)/\1/p' <<<"$info" | head -n 1)
	ok=1
	[ -n "$until" ] && [ "$(date -d "$until" +%s 2>/dev/null || echo 0)" -gt $(($(date +%s) + 30 * 86400)) ] || ok=0
	for n in "${names[@]}" "${addrs[@]}"; do
		grep -qiE "(DNSname|IPAddress): $n\$" <<<"$info" || ok=0
	done
	if [ "$ok" = 1 ]; then
		echo kept
		exit 0
	fi
fi

# The local CA, once.
if ! [ -s "$conf_dir/ca.pem" ] || ! [ -s "$conf_dir/ca-key.pem" ]; then
	printf 'cn = "faas local CA (%s)"\nca\ncert_signing_key\ncrl_signing_key\nexpiration_days = 3650\n' \
		"$(hostname)" >"$dir/ca.tmpl"
	certtool --generate-privkey --key-type=ecdsa --curve=secp256r1 --outfile "$conf_dir/ca-key.pem" 2>/dev/null ||
		die "certtool could not make the CA's key"
	certtool --generate-self-signed --load-privkey "$conf_dir/ca-key.pem" --template "$dir/ca.tmpl" \
		--outfile "$conf_dir/ca.pem" 2>/dev/null || die "certtool could not make the CA"
	rm -f "$dir/ca.tmpl"
	chmod 644 "$conf_dir/ca.pem"
fi

# The host's certificate.
{
	printf 'cn = "%s"\n' "$(hostname)"
	for n in "${names[@]}"; do printf 'dns_name = "%s"\n' "$n"; done
	for a in "${addrs[@]}"; do printf 'ip_address = "%s"\n' "$a"; done
	printf 'tls_www_server\nsigning_key\nencryption_key\nexpiration_days = 397\n'
} >"$dir/host.tmpl"
certtool --generate-privkey --key-type=ecdsa --curve=secp256r1 --outfile "$dir/key.pem.new" 2>/dev/null ||
	die "certtool could not make the key"
certtool --generate-certificate --load-privkey "$dir/key.pem.new" --load-ca-certificate "$conf_dir/ca.pem" \
	--load-ca-privkey "$conf_dir/ca-key.pem" --template "$dir/host.tmpl" --outfile "$dir/cert.pem.new" 2>/dev/null ||
	die "certtool could not make the certificate"
mv -f "$dir/key.pem.new" "$dir/key.pem"
mv -f "$dir/cert.pem.new" "$dir/cert.pem"
rm -f "$dir/host.tmpl"
echo made
