#!/usr/bin/env bash
# faasctl against the real controller behind the real gateway, with no Docker
# engine (DOCKER_HOST names a socket that does not exist): every command that
# needs Docker fails with the server's message on one line and exit 1, and
# input errors are caught before anything is sent.
source "$FX_ROOT/tests/lib.sh"

F=$BIN/faasctl
for b in faas-controller faas-gateway; do
	if [ ! -x "$BIN/$b" ]; then
		t_fail "bin/$b exists"
		exit 1
	fi
done
echo tok >"$T_DIR/token"
printf 'admin\n' >"$T_DIR/user"
printf 's3cret\n' >"$T_DIR/password"
start_server ctl env DOCKER_HOST="unix://$T_DIR/no-such-docker.sock" \
	"$BIN/faas-controller" --port 0 --bind 127.0.0.1 --token-file "$T_DIR/token" || exit 1
CTL=http://127.0.0.1:$PORT
start_server gw env port=0 bind=127.0.0.1 discovery=static static_functions="" \
	controller_url="$CTL" controller_token_file="$T_DIR/token" \
	basic_auth_user_file="$T_DIR/user" basic_auth_password_file="$T_DIR/password" \
	"$BIN/faas-gateway" || exit 1
export FAAS_GATEWAY=http://127.0.0.1:$PORT FAAS_USER=admin FAAS_PASSWORD=s3cret HOME=$T_DIR
unset FAAS_CONFIG

printf 'apiVersion: faas/v1\nkind: Function\nmetadata:\n  name: echo\nspec:\n  image: faas/echo:1\n' >"$T_DIR/echo.yaml"
for cmd in "get" "get echo" "apply -f $T_DIR/echo.yaml" "delete echo" "describe echo"; do
	# shellcheck disable=SC2086
	"$F" $cmd >"$T_DIR/out" 2>"$T_DIR/err"
	rc=$?
	expect_eq "$cmd without Docker: exit 1" 1 "$rc"
	expect_eq "$cmd without Docker: one line" 1 "$(wc -l <"$T_DIR/err")"
	expect_match "$cmd without Docker: the server's message" "^error: .*(the server answered 5[0-9][0-9]: .+|not found)" "$(cat "$T_DIR/err")"
done
"$F" diff -f "$T_DIR/echo.yaml" >/dev/null 2>&1
expect_eq "diff without Docker: exit 2 (error, not a difference)" 2 "$?"
printf 'apiVersion: faas/v1\nkind: Function\nmetadata:\n  name: echo\nspec:\n  image: x\n  cpu: 2\n' >"$T_DIR/bad.yaml"
"$F" apply -f "$T_DIR/bad.yaml" >/dev/null 2>"$T_DIR/err"
expect_match "invalid input is caught before sending" "bad.yaml:7:[0-9]+: spec.cpu" "$(cat "$T_DIR/err")"
check "the controller never saw the invalid apply" bash -c "! grep -q 'function=echo' '$T_DIR/ctl.log'"
"$F" version >"$T_DIR/out" 2>&1
expect_match "version names the server" "Server: faas-controller" "$(cat "$T_DIR/out")"
