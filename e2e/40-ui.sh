#!/usr/bin/env bash
# The web UI in a real browser (Debian's chromium driven by playwright-core,
# pinned in e2e/ui/package-lock.json) against the platform that e2e/30 left
# running (scripts/up.sh runs first: idempotent, it changes nothing when the
# platform is up to date, and starts or updates it otherwise, so the gateway
# serves this tree's ui/):
# the list shows the sample functions, echo echoes a body typed into the
# invoke form, a function deployed from YAML becomes Ready, an invalid YAML
# shows the controller's error next to its line, phone width works, delete
# asks first. Screenshots go to $FX_ARTIFACTS/ui/.
source "$FX_ROOT/tests/lib.sh"
cd "$FX_ROOT" || exit 1

conf_dir=${XDG_CONFIG_HOME:-$HOME/.config}/faas
shots=$FX_ARTIFACTS/ui
gateway=http://127.0.0.1:${FAAS_PORT:-8080}

conf() { sed -nE "s/^$1=(.*)/\\1/p" "$conf_dir/config" 2>/dev/null | tail -n 1; }
healthy() { curl -fs -o /dev/null --max-time 2 "$gateway/healthz"; }

if ! command -v node >/dev/null || ! command -v npm >/dev/null || ! [ -x /usr/bin/chromium ]; then
	t_fail "node, npm and /usr/bin/chromium are installed" "scripts/deps.sh all installs them"
	exit 1
fi

healthy || echo "  the gateway does not answer on $gateway: scripts/up.sh starts the platform"
if ! scripts/up.sh >"$T_DIR/up.log" 2>&1; then
	# e2e/30 reports the platform's own failures (e.g. a sample that is not
	# Ready); the UI is tested as long as the gateway answers.
	echo "  scripts/up.sh failed: $(tail -n 1 "$T_DIR/up.log")"
	if ! healthy || ! [ -s "$conf_dir/config" ]; then
		t_fail "the platform is up (scripts/up.sh)" "$(tail -n 3 "$T_DIR/up.log")"
		exit 1
	fi
fi
# The browser test speaks plain HTTP on the gateway's port (faasctl's config
# names HTTPS, whose local CA the browser does not know).
user=$(conf user)
password_file=$(conf password_file)
if [ -z "$gateway" ] || [ -z "$user" ] || ! [ -r "$password_file" ]; then
	t_fail "credentials in $conf_dir/config" "gateway, user and password_file are needed"
	exit 1
fi
check "the gateway answers /healthz" wait_for 30 healthy
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$gateway/ui/")
expect_eq "/ui/ asks for credentials" 401 "$code"

# Playwright from the lock file; it never downloads a browser.
if ! (cd e2e/ui && timeout 300 npm ci --prefer-offline --no-audit --no-fund) >"$T_DIR/npm.log" 2>&1; then
	t_fail "npm ci in e2e/ui" "$(tail -n 3 "$T_DIR/npm.log")"
	exit 1
fi

samples=$(sed -nE 's/^  name: ([a-z0-9-]+).*/\1/p' manifests/functions/*.yaml | tr '\n' ' ')
rm -rf "$shots"
mkdir -p "$shots"
UI_BASE=$gateway UI_USER=$user UI_PASSWORD=$(cat "$password_file") UI_SHOTS=$shots \
	UI_FUNCTIONS=${samples:-echo} UI_READY_S=${FAAS_UP_TIMEOUT:-120} \
	timeout 900 node e2e/ui/ui-test.mjs >"$T_DIR/ui-test.out" 2>"$T_DIR/ui-test.log"
rc=$?

# One line per check from the browser test: "pass NAME" or "fail NAME: why".
n=0
while IFS= read -r line; do
	case $line in
	"pass "*) t_pass "${line#pass }" ;;
	"fail "*)
		rest=${line#fail }
		t_fail "${rest%%: *}" "${rest#*: }"
		;;
	"note: "*)
		echo "  $line"
		continue
		;;
	*) continue ;;
	esac
	n=$((n + 1))
done <"$T_DIR/ui-test.out"
[ "$rc" -eq 0 ] || t_fail "the browser test ran to the end" "exit $rc; $(tail -n 3 "$T_DIR/ui-test.log")"
[ "$n" -ge 10 ] || t_fail "the browser test reported its checks" "only $n lines"
shot_count=$(find "$shots" -name '*.png' | wc -l)
if [ "$shot_count" -ge 6 ]; then
	t_pass "screenshots saved in $shots ($shot_count)"
else
	t_fail "screenshots saved in $shots" "$shot_count found"
fi
