#!/usr/bin/env bash
# Gateway: /healthz, /ui/ embedded files behind basic auth, /ui redirect, --help, bad config.
source "$FX_ROOT/tests/lib.sh"

printf 'admin\n' >"$T_DIR/user"
printf 's3cret\n' >"$T_DIR/password"
start_server gw env port=0 bind=127.0.0.1 discovery=static static_functions="echo=127.0.0.1:1" \
	controller_url= basic_auth_user_file="$T_DIR/user" basic_auth_password_file="$T_DIR/password" \
	"$BIN/faas-gateway" || { t_fail "gateway starts"; exit 1; }
G=http://127.0.0.1:$PORT

expect_eq "healthz" "200 ok" "$(curl -s -w '%{http_code}' -o "$T_DIR/h" "$G/healthz"; echo " $(cat "$T_DIR/h")")"
expect_eq "ui needs basic auth" 401 "$(curl -s -o /dev/null -w '%{http_code}' "$G/ui/")"
expect_eq "ui rejects a wrong password" 401 "$(curl -s -o /dev/null -w '%{http_code}' -u admin:nope "$G/ui/")"
expect_eq "ui redirect" "301 /ui/" "$(curl -s -o /dev/null -w '%{http_code} %{redirect_url}' "$G/ui" | sed 's|http://[^/]*||')"

# Every file of ui/ is served from the binary with its content type.
n=0
for f in "$FX_ROOT"/ui/*.html "$FX_ROOT"/ui/*.js "$FX_ROOT"/ui/*.css; do
	[ -f "$f" ] || continue
	n=$((n + 1))
	b=$(basename "$f")
	ct=$(curl -s -u admin:s3cret -o "$T_DIR/got" -w '%{content_type}' "$G/ui/$b")
	case $b in
	*.html) want='text/html; charset=utf-8' ;;
	*.js) want='text/javascript; charset=utf-8' ;;
	*.css) want='text/css; charset=utf-8' ;;
	esac
	expect_eq "ui/$b content type" "$want" "$ct"
	check "ui/$b bytes equal the source file" cmp -s "$f" "$T_DIR/got"
done
if [ -f "$FX_ROOT/ui/index.html" ]; then
	curl -s -u admin:s3cret -o "$T_DIR/index" "$G/ui/"
	check "ui/ is index.html" cmp -s "$FX_ROOT/ui/index.html" "$T_DIR/index"
fi
expect_eq "ui unknown file is 404" 404 "$(curl -s -o /dev/null -w '%{http_code}' -u admin:s3cret "$G/ui/nope.js")"
expect_eq "ui path traversal is 404" 404 "$(curl -s --path-as-is -o /dev/null -w '%{http_code}' -u admin:s3cret "$G/ui/../gateway/main.c")"

# Configuration errors exit 2 with a message; --help exits 0.
"$BIN/faas-gateway" --help >"$T_DIR/help" 2>&1
expect_eq "--help exits 0" 0 $?
check "--help lists static_functions" grep -q static_functions "$T_DIR/help"
env basic_auth_user_file=/nonexistent controller_url= discovery=static static_functions="a=127.0.0.1:1" \
	"$BIN/faas-gateway" --port 0 2>"$T_DIR/err"
expect_eq "missing basic auth secret exits 2" 2 $?
env basic_auth=false controller_url= discovery=static static_functions="Bad=127.0.0.1:1" \
	"$BIN/faas-gateway" --port 0 2>"$T_DIR/err"
expect_eq "bad static table exits 2" 2 $?
check "bad static table names the problem" grep -q 'invalid function name "Bad"' "$T_DIR/err"
env basic_auth=false "$BIN/faas-gateway" --port nope 2>"$T_DIR/err"
expect_eq "bad port exits 2" 2 $?
