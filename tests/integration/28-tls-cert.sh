#!/usr/bin/env bash
# scripts/tls-cert.sh (what `make up` runs): the pair it makes is one the
# gateway can serve and curl can verify with the local CA; a pair or CA on a
# curve TLS cannot sign with (P-224, made by an earlier version) is made again.
source "$FX_ROOT/tests/lib.sh"

D=$T_DIR/conf
curve() { certtool --certificate-info --infile "$1" 2>/dev/null | sed -nE 's/.*Curve:[[:space:]]*//p' | head -n 1; }

expect_eq "tls-cert makes a pair" made "$(FAAS_TLS_HOST=127.0.0.1 "$FX_ROOT/scripts/tls-cert.sh" "$D" 2>"$T_DIR/cert.err")"
expect_eq "the host key is P-256" SECP256R1 "$(curve "$D/tls/cert.pem")"
expect_eq "the CA key is P-256" SECP256R1 "$(curve "$D/ca.pem")"
expect_eq "a second run keeps it" kept "$(FAAS_TLS_HOST=127.0.0.1 "$FX_ROOT/scripts/tls-cert.sh" "$D" 2>>"$T_DIR/cert.err")"

printf 'admin\n' >"$T_DIR/user"
printf 's3cret\n' >"$T_DIR/password"
gw_env=(port=0 tls_port=0 bind=127.0.0.1 discovery=static controller_url= static_functions=
	basic_auth_user_file="$T_DIR/user" basic_auth_password_file="$T_DIR/password"
	tls_cert_file="$D/tls/cert.pem" tls_key_file="$D/tls/key.pem")
start_server gw env "${gw_env[@]}" "$BIN/faas-gateway" || exit 1
H=$(sed -nE 's/.*msg=listening_tls addr=[^ ]*:([0-9]+).*/\1/p' "$T_DIR/gw.log" | head -n 1)
expect_eq "the gateway serves it, verified with the local CA" ok \
	"$(curl -s --max-time 10 --cacert "$D/ca.pem" "https://127.0.0.1:$H/healthz")"

# A P-224 CA and pair, as `certtool --sec-param=medium` makes them.
P=$T_DIR/p224
mkdir -p "$P/tls"
printf 'cn = "old CA"\nca\ncert_signing_key\nexpiration_days = 30\n' >"$P/ca.tmpl"
printf 'cn = "old"\nip_address = "127.0.0.1"\ntls_www_server\nsigning_key\nexpiration_days = 300\n' >"$P/host.tmpl"
certtool --generate-privkey --key-type=ecdsa --sec-param=medium --outfile "$P/ca-key.pem" 2>/dev/null
certtool --generate-self-signed --load-privkey "$P/ca-key.pem" --template "$P/ca.tmpl" --outfile "$P/ca.pem" 2>/dev/null
certtool --generate-privkey --key-type=ecdsa --sec-param=medium --outfile "$P/tls/key.pem" 2>/dev/null
certtool --generate-certificate --load-privkey "$P/tls/key.pem" --load-ca-certificate "$P/ca.pem" \
	--load-ca-privkey "$P/ca-key.pem" --template "$P/host.tmpl" --outfile "$P/tls/cert.pem" 2>/dev/null
expect_eq "the test's old pair is P-224" SECP224R1 "$(curve "$P/tls/cert.pem")"
expect_eq "a P-224 pair is made again" made "$(FAAS_TLS_HOST=127.0.0.1 "$FX_ROOT/scripts/tls-cert.sh" "$P" 2>>"$T_DIR/cert.err")"
expect_eq "... on P-256" SECP256R1 "$(curve "$P/tls/cert.pem")"
expect_eq "... and so is its CA" SECP256R1 "$(curve "$P/ca.pem")"
