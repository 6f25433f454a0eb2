#!/usr/bin/env bash
# Cross-site request forgery on the control path: a page on another site that
# a logged-in UI user visits must not change the platform through /system/*
# or /apis/* (the browser would add the cached basic auth), while curl,
# faasctl, faas-cli and scripts, which send no Origin, Sec-Fetch-* or
# Referer, work exactly as before. The controller is
# tests/tools/fake_controller (it echoes what reached it).
source "$FX_ROOT/tests/lib.sh"
GW_BIN=${GW_BIN:-$BIN/faas-gateway}

cat >"$T_DIR/functions.json" <<'EOF2'
[{"name":"echo","image":"x","replicas":1,"availableReplicas":1}]
EOF2
start_server ctl env port=0 functions_file="$T_DIR/functions.json" token=tok123 \
	"$TOOLS/fake_controller" || exit 1
CTL=$PORT
printf 'tok123\n' >"$T_DIR/token"
printf 'admin' >"$T_DIR/user"
printf 'pw\n' >"$T_DIR/pass"
start_server gw env bind=127.0.0.1 port=0 controller_url="http://127.0.0.1:$CTL" \
	controller_token_file="$T_DIR/token" basic_auth_user_file="$T_DIR/user" \
	basic_auth_password_file="$T_DIR/pass" discovery=static static_functions="echo=127.0.0.1:1" \
	"$GW_BIN" || exit 1
G=http://127.0.0.1:$PORT
SELF=http://127.0.0.1:$PORT
A=(-u admin:pw)
deploy='{"service":"evil","image":"evil:1"}'

# post [curl args...]: POST /system/functions with the admin's credentials;
# prints the status and whether the body reached the controller.
post() {
	local out
	out=$(curl -s -w '\n%{http_code}' "${A[@]}" "$@" "$G/system/functions")
	printf '%s %s' "${out##*$'\n'}" "$(grep -q '"method":"POST"' <<<"$out" && echo forwarded || echo stopped)"
}

# ---- clients that are not browsers: unchanged
expect_eq "curl -d (a form content type, no Origin) is forwarded" "200 forwarded" "$(post --data "$deploy")"
expect_eq "text/plain from curl is forwarded" "200 forwarded" "$(post -H 'Content-Type: text/plain' --data "$deploy")"
expect_eq "JSON from curl is forwarded" "200 forwarded" "$(post -H 'Content-Type: application/json' --data "$deploy")"
expect_eq "a faas-cli-like client (Go user agent) is forwarded" "200 forwarded" \
	"$(post -A 'Go-http-client/1.1' -H 'Content-Type: application/json' --data "$deploy")"
expect_eq "DELETE from curl is forwarded" 200 \
	"$(curl -s -o /dev/null -w '%{http_code}' "${A[@]}" -X DELETE --data '{"functionName":"evil"}' "$G/system/functions")"

# ---- the UI: the same origin, JSON or YAML
expect_eq "same origin with JSON is forwarded" "200 forwarded" \
	"$(post -H "Origin: $SELF" -H 'Sec-Fetch-Site: same-origin' -H 'Sec-Fetch-Mode: cors' -H 'Content-Type: application/json' --data "$deploy")"
expect_eq "same Origin without Sec-Fetch-* (an older browser) is forwarded" "200 forwarded" \
	"$(post -H "Origin: $SELF" -H 'Content-Type: application/json' --data "$deploy")"
expect_eq "same origin PUT of YAML on /apis is forwarded" 200 \
	"$(curl -s -o /dev/null -w '%{http_code}' "${A[@]}" -X PUT -H "Origin: $SELF" -H 'Sec-Fetch-Site: same-origin' \
		-H 'Content-Type: application/yaml' --data-binary 'kind: Function' "$G/apis/faas/v1/functions/echo")"

# ---- another site: refused, with the credentials the browser would add
out=$(curl -s -w '\n%{http_code}' "${A[@]}" -H 'Origin: https://evil.example' -H 'Content-Type: text/plain' \
	--data "$deploy" "$G/system/functions")
expect_eq "a cross-site text/plain form post is 403" 403 "${out##*$'\n'}"
expect_match "  and says why" '"error":"cross-site request refused \(Origin is not this gateway\)"' "$out"
expect_eq "cross-site with Sec-Fetch-Site: cross-site is 403" "403 stopped" \
	"$(post -H 'Origin: https://evil.example' -H 'Sec-Fetch-Site: cross-site' -H 'Content-Type: application/json' --data "$deploy")"
expect_eq "another port of the same host (same-site) is 403" "403 stopped" \
	"$(post -H 'Origin: http://127.0.0.1:9' -H 'Sec-Fetch-Site: same-site' --data "$deploy")"
expect_eq "Origin: null (a sandboxed page, a data: URL) is 403" "403 stopped" \
	"$(post -H 'Origin: null' -H 'Content-Type: application/json' --data "$deploy")"
expect_eq "a cross-site multipart form is 403" "403 stopped" \
	"$(post -H 'Origin: https://evil.example' -F "x=$deploy")"
expect_eq "a cross-site DELETE is 403" 403 \
	"$(curl -s -o /dev/null -w '%{http_code}' "${A[@]}" -X DELETE -H 'Origin: https://evil.example' --data '{"functionName":"echo"}' "$G/system/functions")"
expect_eq "a cross-site PUT on /apis is 403" 403 \
	"$(curl -s -o /dev/null -w '%{http_code}' "${A[@]}" -X PUT -H 'Sec-Fetch-Site: cross-site' --data-binary 'kind: Function' "$G/apis/faas/v1/functions/echo")"
expect_eq "a cross-site scale is 403" 403 \
	"$(curl -s -o /dev/null -w '%{http_code}' "${A[@]}" -H 'Origin: https://evil.example' --data '{"replicas":0}' "$G/system/scale-function/echo")"
out=$(curl -s -D - -o /dev/null -H 'Origin: https://evil.example' -H 'Content-Type: text/plain' --data "$deploy" "$G/system/functions")
expect_match "without credentials: 403 before 401" '^HTTP/1.1 403' "$out"
check "  so the victim's browser shows no login prompt" bash -c "! grep -qi '^WWW-Authenticate' <<<'$out'"

# ---- a browser form from our own origin (or one that sends only a Referer)
expect_eq "a same-origin text/plain form post is 403" "403 stopped" \
	"$(post -H "Origin: $SELF" -H 'Sec-Fetch-Site: same-origin' -H 'Content-Type: text/plain' --data "$deploy")"
expect_eq "a form post with only a Referer is 403" "403 stopped" \
	"$(post -H "Referer: $SELF/ui/" --data "$deploy")"
expect_eq "JSON with only a Referer is forwarded" "200 forwarded" \
	"$(post -H "Referer: $SELF/ui/" -H 'Content-Type: application/json' --data "$deploy")"

# ---- reads are unaffected (CORS: no Access-Control-Allow-Origin is sent)
out=$(curl -s -D - -o /dev/null "${A[@]}" -H 'Origin: https://evil.example' "$G/system/functions")
expect_match "a cross-site GET is answered" '^HTTP/1.1 200' "$out"
check "  without Access-Control-Allow-Origin" bash -c "! grep -qi '^Access-Control-Allow' <<<'$out'"
check "the refusals are logged" grep -q 'msg=cross_site_refused method=POST uri=/system/functions' "$T_DIR/gw.log"
