#!/usr/bin/env bash
# Gateway HTTPS on loopback: a CA and a host certificate made with certtool;
# functions and the API over HTTPS (verified with the CA, refused without);
# TLS 1.2 and 1.3 only, AEAD ciphers; session resumption (1.2 and 1.3); the
# certificate rotated under load: a half-written pair is ignored, the new one
# is served to new connections while an open keep-alive connection goes on;
# https_only: plain API/UI requests are redirected with no data, functions
# stay on plain HTTP; configuration errors exit 2; faasctl verifies
# (--ca-file, ca_file=, FAAS_CA_FILE) and --insecure-skip-tls-verify warns.
source "$FX_ROOT/tests/lib.sh"

for t in certtool openssl; do
	command -v $t >/dev/null || {
		t_fail "$t is installed" "scripts/deps.sh build installs gnutls-bin and openssl"
		exit 1
	}
done
C=$T_DIR/certs
mkdir -p "$C"
# mkcert NAME CN: a key and a certificate for 127.0.0.1 signed by the test CA.
mkcert() {
	printf 'cn = "%s"\ndns_name = "localhost"\nip_address = "127.0.0.1"\ntls_www_server\nsigning_key\nencryption_key\nexpiration_days = 2\n' \
		"$2" >"$C/$1.tmpl"
	certtool --generate-privkey --key-type=ecdsa --outfile "$C/$1-key.pem" 2>/dev/null &&
		certtool --generate-certificate --load-privkey "$C/$1-key.pem" --load-ca-certificate "$C/ca.pem" \
			--load-ca-privkey "$C/ca-key.pem" --template "$C/$1.tmpl" --outfile "$C/$1.pem" 2>/dev/null
}
printf 'cn = "faas test CA"\nca\ncert_signing_key\nexpiration_days = 2\n' >"$C/ca.tmpl"
certtool --generate-privkey --key-type=ecdsa --outfile "$C/ca-key.pem" 2>/dev/null &&
	certtool --generate-self-signed --load-privkey "$C/ca-key.pem" --template "$C/ca.tmpl" \
		--outfile "$C/ca.pem" 2>/dev/null
check "certtool makes a CA and two host certificates" bash -c \
	"$(declare -f mkcert); C='$C'; mkcert one first && mkcert two second"
cp "$C/one.pem" "$C/cert.pem"
cp "$C/one-key.pem" "$C/key.pem"

printf 'admin\n' >"$T_DIR/user"
printf 's3cret\n' >"$T_DIR/password"
mkdir -p "$T_DIR/wd.tmp" "$T_DIR/slow.tmp"
start_server wd env TMPDIR="$T_DIR/wd.tmp" port=0 fprocess=env "$BIN/fwatchdog" || exit 1
WD=$PORT
start_server slow env TMPDIR="$T_DIR/slow.tmp" port=0 fprocess="sleep 2" exec_timeout=10s "$BIN/fwatchdog" || exit 1
SLOW=$PORT
gw_env=(port=0 tls_port=0 bind=127.0.0.1 discovery=static controller_url=
	static_functions="env=127.0.0.1:$WD;slow=127.0.0.1:$SLOW"
	basic_auth_user_file="$T_DIR/user" basic_auth_password_file="$T_DIR/password"
	tls_cert_file="$C/cert.pem" tls_key_file="$C/key.pem")
start_server gw env "${gw_env[@]}" "$BIN/faas-gateway" || exit 1
H=$(sed -nE 's/.*msg=listening_tls addr=[^ ]*:([0-9]+).*/\1/p' "$T_DIR/gw.log" | head -n 1)
P=$PORT
check "the gateway logs its HTTPS address" test -n "$H"
S=https://127.0.0.1:$H
cu() { curl -s --max-time 10 --cacert "$C/ca.pem" "$@"; }

expect_eq "healthz over HTTPS" ok "$(cu "$S/healthz")"
out=$(cu -d hi "$S/function/env")
expect_match "a function over HTTPS" 'Http_Method=POST' "$out"
expect_match "the replica is told the client used HTTPS" 'Http_X_Forwarded_Proto=https' "$out"
expect_match "... and plain HTTP on the plain port" 'Http_X_Forwarded_Proto=http$' \
	"$(curl -s -H 'X-Forwarded-Proto: https' "http://127.0.0.1:$P/function/env" | grep X_Forwarded_Proto)"
expect_eq "the API over HTTPS with basic auth" 200 \
	"$(cu -o /dev/null -w '%{http_code}' -u admin:s3cret "$S/ui/")"
expect_eq "plain HTTP still answers on the plain port" ok "$(curl -s "http://127.0.0.1:$P/healthz")"
curl -s --max-time 10 -o /dev/null "$S/healthz"
expect_eq "an unknown CA is refused by the client" 60 "$?"

# Protocol versions and ciphers.
proto() { echo | timeout 10 openssl s_client "$@" -connect "127.0.0.1:$H" -CAfile "$C/ca.pem" 2>/dev/null; }
expect_match "TLS 1.3" 'New, TLSv1.3, Cipher is TLS_' "$(proto -tls1_3)"
expect_match "TLS 1.2 with an AEAD cipher and ECDHE" 'New, TLSv1.2, Cipher is ECDHE-ECDSA-(AES(128|256)-GCM|CHACHA20-POLY1305)' \
	"$(proto -tls1_2)"
expect_match "TLS 1.1 is refused" 'Cipher is \(NONE\)' "$(proto -tls1_1 -cipher 'DEFAULT:@SECLEVEL=0')"
expect_match "a CBC cipher is refused" 'Cipher is \(NONE\)' "$(proto -tls1_2 -cipher AES128-SHA)"
expect_match "verified against the CA" 'Verify return code: 0 \(ok\)' "$(proto -tls1_3)"

# Resumption: the second connection resumes the first one's session.
for v in 1_2 1_3; do
	rm -f "$T_DIR/sess"
	proto "-tls$v" -sess_out "$T_DIR/sess" >/dev/null
	expect_match "TLS ${v/_/.} session resumption" '^Reused, ' "$(proto "-tls$v" -sess_in "$T_DIR/sess" | grep -E '^(New|Reused),')"
done

# Rotation. A keep-alive connection opened before it (the slow call) makes a
# second request after it, on the same connection.
subject() { cu -v -o /dev/null "$S/healthz" 2>&1 | sed -nE 's/.*subject: (.*)/\1/p'; }
expect_eq "the first certificate is served" "CN=first" "$(subject)"
curl -sv --max-time 20 --cacert "$C/ca.pem" "$S/function/slow" "$S/function/env" >"$T_DIR/ka.out" 2>"$T_DIR/ka.err" &
ka=$!
sleep 0.5
cp "$C/two-key.pem" "$C/key.pem" # half a rotation: the key no longer matches
sleep 1.5
expect_eq "a key without its certificate is not taken" "CN=first" "$(subject)"
check "... and says so" grep -q 'tls_reload_failed' "$T_DIR/gw.log"
cp "$C/two.pem" "$C/cert.pem"
check "the new certificate is served within 3 s" wait_for 3 bash -c "[ \"\$($(declare -f subject cu); C='$C' S='$S' subject)\" = CN=second ]"
check "... and logged" grep -q 'msg=tls_certificate_reloaded subject="CN=second"' "$T_DIR/gw.log"
wait $ka
expect_eq "the connection open across the rotation served both requests" 2 \
	"$(grep -c '^< HTTP/1.1 200' "$T_DIR/ka.err")"
check "... on one connection" grep -q 'Re-using existing connection' "$T_DIR/ka.err"
check "... with the first certificate" grep -q 'subject: CN=first' "$T_DIR/ka.err"
expect_eq "the gateway is still the same process" 0 "$(kill -0 "$PID" 2>/dev/null; echo $?)"

# https_only: the API and the UI get no data over plain HTTP.
start_server gwo env "${gw_env[@]}" https_only=true "$BIN/faas-gateway" || exit 1
PO=$PORT
HO=$(sed -nE 's/.*msg=listening_tls addr=[^ ]*:([0-9]+).*/\1/p' "$T_DIR/gwo.log" | head -n 1)
code_loc() { curl -s -o "$T_DIR/body" -w '%{http_code} %{redirect_url}' -u admin:s3cret "$@"; }
expect_eq "https_only: the UI redirects to HTTPS" "308 https://127.0.0.1:$HO/ui/" "$(code_loc "http://127.0.0.1:$PO/ui/")"
check "... with no page in the answer" bash -c "! grep -q '<html' '$T_DIR/body'"
expect_eq "https_only: an API read redirects" "308 https://127.0.0.1:$HO/apis/faas/v1/functions?x=1" \
	"$(code_loc "http://127.0.0.1:$PO/apis/faas/v1/functions?x=1")"
expect_eq "https_only: an API write redirects" "308 https://127.0.0.1:$HO/system/functions" \
	"$(code_loc -X POST -d '{}' "http://127.0.0.1:$PO/system/functions")"
expect_eq "https_only: a bad Host gets 403" 403 \
	"$(curl -s -o /dev/null -w '%{http_code}' -H 'Host: a/b' "http://127.0.0.1:$PO/ui/")"
expect_eq "https_only: history too" 308 "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PO/ui/history/env")"
expect_match "https_only: functions still answer on plain HTTP" 'Http_Method=GET' "$(curl -s "http://127.0.0.1:$PO/function/env")"
expect_eq "https_only: the UI over HTTPS" 200 "$(curl -s --cacert "$C/ca.pem" -o /dev/null -w '%{http_code}' -u admin:s3cret "https://127.0.0.1:$HO/ui/")"

# Configuration errors: exit 2 with a message.
conf_exit() {
	env "${gw_env[@]}" "$@" timeout 5 "$BIN/faas-gateway" >"$T_DIR/conf.out" 2>&1
	echo "$? $(grep -o 'faas-gateway: [^(]*' "$T_DIR/conf.out" | head -n 1)"
}
expect_match "tls=on without the files exits 2" '^2 faas-gateway: cannot read' \
	"$(conf_exit tls=on tls_cert_file="$T_DIR/none.pem")"
printf 'junk\n' >"$T_DIR/junk.pem"
expect_match "a file that is no certificate exits 2" '^2 faas-gateway: .*no PEM certificate' \
	"$(conf_exit tls=on tls_cert_file="$T_DIR/junk.pem")"
expect_match "a key of another certificate exits 2" '^2 faas-gateway: .* is not the key of the certificate' \
	"$(conf_exit tls=on tls_cert_file="$C/one.pem" tls_key_file="$C/two-key.pem")"
expect_match "https_only without TLS exits 2" '^2 faas-gateway: https_only needs HTTPS' \
	"$(conf_exit tls=off https_only=true)"
expect_match "tls=maybe exits 2" '^2 faas-gateway: tls: expected auto, on or off' "$(conf_exit tls=maybe)"
start_server gwa env "${gw_env[@]}" tls_cert_file="$T_DIR/none.pem" "$BIN/faas-gateway" || exit 1
check "tls=auto without the files: plain HTTP only, with a warning" grep -q 'msg=tls_off' "$T_DIR/gwa.log"
check "... and no HTTPS listener" bash -c "! grep -q listening_tls '$T_DIR/gwa.log'"

# faasctl verifies the gateway's certificate.
export FAAS_CONFIG=$T_DIR/fconfig
printf 'gateway=%s\nuser=admin\npassword_file=%s\n' "$S" "$T_DIR/password" >"$FAAS_CONFIG"
"$BIN/faasctl" invoke env -d x >"$T_DIR/f1.out" 2>"$T_DIR/f1.err"
expect_eq "faasctl refuses an untrusted certificate (exit 1)" 1 "$?"
check "... and says how to trust it" grep -q 'does not trust.*--ca-file' "$T_DIR/f1.err"
expect_match "faasctl --ca-file" 'Http_X_Forwarded_Proto=https' "$("$BIN/faasctl" --ca-file "$C/ca.pem" invoke env -d x 2>&1)"
expect_match "faasctl FAAS_CA_FILE" 'Http_Method=POST' "$(FAAS_CA_FILE="$C/ca.pem" "$BIN/faasctl" invoke env -d x 2>&1)"
printf 'ca_file=%s\n' "$C/ca.pem" >>"$FAAS_CONFIG"
expect_match "faasctl ca_file= in the config" 'Http_Method=POST' "$("$BIN/faasctl" invoke env -d x 2>&1)"
printf 'gateway=%s\nca_file=%s\n' "$S" "$T_DIR/none.pem" >"$FAAS_CONFIG"
"$BIN/faasctl" invoke env -d x >/dev/null 2>"$T_DIR/f2.err"
expect_eq "faasctl: a missing CA file is a configuration error (exit 2)" 2 "$?"
printf 'gateway=%s\n' "$S" >"$FAAS_CONFIG"
"$BIN/faasctl" --insecure-skip-tls-verify invoke env -d x >"$T_DIR/f3.out" 2>"$T_DIR/f3.err"
expect_eq "faasctl --insecure-skip-tls-verify connects" 0 "$?"
check "... and warns loudly" grep -q 'warning: --insecure-skip-tls-verify: .*NOT verified' "$T_DIR/f3.err"
