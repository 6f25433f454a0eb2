#!/usr/bin/env bash
# faasctl through the real bin/faas-gateway (basic auth at the edge, /apis/*
# and /system/* forwarded), with tests/tools/fctl_fakegw standing in for the
# controller behind it: the headers and statuses faasctl relies on survive
# the proxy, and a 401 from the gateway is explained.
source "$FX_ROOT/tests/lib.sh"

F=$BIN/faasctl
if [ ! -x "$BIN/faas-gateway" ]; then
	t_fail "bin/faas-gateway exists"
	exit 1
fi
start_server ctl "$TOOLS/fctl_fakegw" || exit 1
CTL=http://127.0.0.1:$PORT
printf 'admin\n' >"$T_DIR/user"
printf 's3cret\n' >"$T_DIR/password"
printf 'tok\n' >"$T_DIR/token"
start_server gw env port=0 bind=127.0.0.1 discovery=static static_functions="" \
	controller_url="$CTL" controller_token_file="$T_DIR/token" \
	basic_auth_user_file="$T_DIR/user" basic_auth_password_file="$T_DIR/password" \
	"$BIN/faas-gateway" || { t_fail "gateway starts"; exit 1; }
export FAAS_GATEWAY=http://127.0.0.1:$PORT FAAS_USER=admin HOME=$T_DIR
unset FAAS_CONFIG FAAS_PASSWORD

printf 'apiVersion: faas/v1\nkind: Function\nmetadata:\n  name: echo\nspec:\n  image: faas/echo:1\n' >"$T_DIR/echo.yaml"
"$F" apply -f "$T_DIR/echo.yaml" >"$T_DIR/out" 2>"$T_DIR/err"
expect_eq "no password: exit 1" 1 "$?"
expect_match "no password: 401 explained" "401 Unauthorized: the gateway at .* needs credentials and none were sent" "$(cat "$T_DIR/err")"
FAAS_PASSWORD=wrong "$F" get >/dev/null 2>"$T_DIR/err"
expect_match "wrong password: 401 explained" "rejected the credentials \(user admin, password from FAAS_PASSWORD\)" "$(cat "$T_DIR/err")"

export FAAS_PASSWORD=s3cret
expect_eq "apply through the gateway: created" "function/echo created" "$("$F" apply -f "$T_DIR/echo.yaml" 2>&1)"
expect_eq "X-Faas-Result passes the proxy: unchanged" "function/echo unchanged" "$("$F" apply -f "$T_DIR/echo.yaml" 2>&1)"
sed -i 's/echo:1/echo:2/' "$T_DIR/echo.yaml"
expect_eq "dry run through the gateway" "function/echo configured (dry run)" "$("$F" apply -f "$T_DIR/echo.yaml" --dry-run 2>&1)"
"$F" diff -f "$T_DIR/echo.yaml" >"$T_DIR/diff"
expect_eq "diff through the gateway exits 1" 1 "$?"
expect_match "get through the gateway" "^echo +1/1 " "$("$F" get | sed -n 2p)"
printf 'apiVersion: faas/v1\nkind: Function\nmetadata:\n  name: echo\nspec:\n  image: x\n  bogus: 1\n' >"$T_DIR/bad.yaml"
# Validation happens before sending; a server-side 400 is shown with its message.
out=$(curl -s -u admin:s3cret -X PUT -H 'Content-Type: application/yaml' --data-binary @"$T_DIR/bad.yaml" "$FAAS_GATEWAY/apis/faas/v1/functions/echo")
expect_match "the gateway forwards the controller's 400" "spec.bogus" "$out"
expect_eq "delete through the gateway" "function/echo deleted" "$("$F" delete echo 2>&1)"
"$F" get echo >/dev/null 2>"$T_DIR/err"
expect_match "404 through the gateway" 'function "echo" not found' "$(cat "$T_DIR/err")"
