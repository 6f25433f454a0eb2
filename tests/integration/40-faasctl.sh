#!/usr/bin/env bash
# faasctl against a stand-in gateway (tests/tools/fctl_fakegw: the API of
# docs/api.md in memory, validated with common/spec): commands, output
# formats, exit codes, apply/prune/diff/dry-run, and bad input.
source "$FX_ROOT/tests/lib.sh"

F=$BIN/faasctl
start_server gw "$TOOLS/fctl_fakegw" --user admin --password s3cret || exit 1
GW=http://127.0.0.1:$PORT
echo s3cret >"$T_DIR/pw"
export FAAS_GATEWAY=$GW FAAS_USER=admin FAAS_PASSWORD=s3cret
export HOME=$T_DIR # no user config leaks in
unset FAAS_CONFIG

fn() { # fn NAME IMAGE [extra spec lines]
	printf 'apiVersion: faas/v1\nkind: Function\nmetadata:\n  name: %s\nspec:\n  image: %s\n  fprocess: cat\n%s' "$1" "$2" "${3:-}"
}
run() { # run CMD...: sets OUT, ERR, RC
	"$@" >"$T_DIR/out" 2>"$T_DIR/err"
	RC=$?
	OUT=$(cat "$T_DIR/out")
	ERR=$(cat "$T_DIR/err")
}

# --- help and usage
run "$F" --help
expect_eq "--help exits 0" 0 "$RC"
expect_match "--help documents exit codes" "Exit codes:" "$OUT"
ok=0
for c in apply diff get describe delete invoke scale logs "rollout status" version completion; do
	# shellcheck disable=SC2086
	"$F" $c --help >"$T_DIR/h" 2>&1 && grep -q "Usage: faasctl $c" "$T_DIR/h" && ok=$((ok + 1))
done
expect_eq "--help on every command" 11 "$ok"
run "$F" frobnicate
expect_eq "unknown command exits 2" 2 "$RC"
run "$F" get --bogus
expect_eq "unknown flag exits 2" 2 "$RC"
expect_match "unknown flag is named" "unknown flag --bogus" "$ERR"
run "$F" apply
expect_eq "apply without -f exits 2" 2 "$RC"

# --- unreachable gateway and credentials
run "$F" --gateway http://127.0.0.1:1 get
expect_eq "unreachable gateway exits 1" 1 "$RC"
expect_eq "unreachable gateway: one line" 1 "$(wc -l <"$T_DIR/err")"
expect_match "unreachable gateway: names the address" "cannot reach the gateway at http://127.0.0.1:1" "$ERR"
FAAS_PASSWORD=wrong run "$F" get
expect_eq "wrong password exits 1" 1 "$RC"
expect_match "401 explained" "401 Unauthorized.*rejected the credentials \(user admin, password from FAAS_PASSWORD\)" "$ERR"
FAAS_USER='' FAAS_PASSWORD='' run "$F" get
expect_match "401 without credentials explained" "none were sent" "$ERR"
# config file precedence: the file alone, then env over it
printf 'gateway=%s\nuser=admin\npassword_file=%s\n' "$GW" "$T_DIR/pw" >"$T_DIR/config"
FAAS_GATEWAY='' FAAS_USER='' FAAS_PASSWORD='' FAAS_CONFIG=$T_DIR/config run "$F" get
expect_eq "config file gives gateway and credentials" "0" "$RC"
FAAS_GATEWAY=http://127.0.0.1:1 FAAS_CONFIG=$T_DIR/config run "$F" get
expect_eq "env overrides the config file" 1 "$RC"
FAAS_GATEWAY=http://127.0.0.1:1 FAAS_CONFIG=$T_DIR/config run "$F" --gateway "$GW" get
expect_eq "--gateway overrides the env" 0 "$RC"

# --- bad input: nothing is applied
mkdir -p "$T_DIR/bad"
fn good faas/good:1 >"$T_DIR/bad/a.yaml"
fn dup faas/dup:1 >"$T_DIR/bad/b.yaml"
fn dup faas/dup:2 >"$T_DIR/bad/c.yaml"
run "$F" apply -f "$T_DIR/bad"
expect_eq "duplicate names across files exit 1" 1 "$RC"
expect_match "duplicate names: both files named" "c.yaml:1: metadata.name: duplicate function name \"dup\" \(document 1; also in .*b.yaml" "$ERR"
rm "$T_DIR/bad/c.yaml"
printf 'apiVersion: faas/v1\nkind: Function\nmetadata:\n  name: bad\nspec:\n  image: x\n  replicas: 3\n' >"$T_DIR/bad/d.yaml"
run "$F" apply -f "$T_DIR/bad"
expect_eq "invalid field exits 1" 1 "$RC"
expect_match "invalid field: file, line, field and document named" "d.yaml:7:[0-9]+: spec.replicas: .* \(document 1\)" "$ERR"
echo 'key: [unclosed' >"$T_DIR/bad/e.yaml"
run "$F" apply -f "$T_DIR/bad"
expect_match "every bad file reported" "d.yaml.*e.yaml" "$(echo "$ERR" | tr '\n' ' ')"
run "$F" get -o name
expect_eq "nothing was applied from a bad set" "" "$OUT"
run "$F" apply -f "$T_DIR/missing.yaml"
expect_eq "missing file exits 1" 1 "$RC"
expect_match "missing file named" "missing.yaml: No such file or directory" "$ERR"
if command -v setpriv >/dev/null && [ "$(id -u)" = 0 ]; then
	U=$(mktemp -d /tmp/fx-40-unreadable.XXXXXX)
	chmod 755 "$U"
	mkdir "$U/locked" && chmod 000 "$U/locked"
	fn x faas/x:1 >"$U/x.yaml" && chmod 644 "$U/x.yaml"
	HOME=$U setpriv --reuid=65534 --regid=65534 --clear-groups "$F" apply -f "$U" >"$T_DIR/out" 2>"$T_DIR/err"
	RC=$?
	expect_eq "unreadable directory exits 1" 1 "$RC"
	expect_match "unreadable directory named" "cannot read directory $U/locked: Permission denied" "$(cat "$T_DIR/err")"
	rm -rf "$U"
elif [ "$(id -u)" != 0 ]; then
	mkdir "$T_DIR/locked" && chmod 000 "$T_DIR/locked"
	run "$F" apply -f "$T_DIR/locked"
	expect_eq "unreadable directory exits 1" 1 "$RC"
	chmod 755 "$T_DIR/locked"
else
	t_skip "unreadable directory" "running as root without setpriv"
fi

# --- apply, unchanged, configured, dry-run, diff, prune
R=$T_DIR/repo
mkdir -p "$R/sub" "$R/.git"
fn alpha faas/alpha:1 >"$R/alpha.yaml"
{ fn beta faas/beta:1; echo '---'; fn gamma faas/gamma:1 '  mode: http
'; } >"$R/sub/bg.yml"
echo "# docs" >"$R/README.md"
echo "not: a function" >"$R/.git/x.yaml"
run "$F" apply -f "$R" --prune
expect_eq "apply exits 0" 0 "$RC"
expect_eq "apply prints one line per function" "function/alpha created
function/beta created
function/gamma created" "$OUT"
expect_match "non-YAML file skipped with a warning" "warning: skipping .*README.md" "$ERR"
run "$F" get beta -o json
expect_match "applyset label set from the directory name" '"faas.applyset": "repo"' "$OUT"
run "$F" apply -f "$R" --prune
expect_eq "second apply: unchanged" "function/alpha unchanged
function/beta unchanged
function/gamma unchanged" "$OUT"
run "$F" diff -f "$R"
expect_eq "diff of an applied set exits 0" 0 "$RC"
expect_eq "diff of an applied set prints nothing" "" "$OUT"
fn alpha faas/alpha:2 >"$R/alpha.yaml"
run "$F" apply -f "$R" --dry-run
expect_match "dry-run says configured" "function/alpha configured \(dry run\)" "$OUT"
run "$F" get alpha -o yaml
expect_match "dry-run changed nothing" "image: faas/alpha:1" "$OUT"
run "$F" diff -f "$R"
expect_eq "diff with a change exits 1" 1 "$RC"
expect_match "diff is unified" "--- live/alpha.*\+\+\+ local/alpha.*@@ .* @@.*-  image: faas/alpha:1.*\+  image: faas/alpha:2" "$(echo "$OUT" | tr '\n' ' ')"
run "$F" apply -f "$R"
expect_match "apply: configured" "function/alpha configured" "$OUT"
run "$F" get alpha -o json
expect_match "generation went up" '"generation": 2' "$OUT"
# A function made by hand (another set) survives the prune.
fn manual faas/manual:1 >"$T_DIR/one.yaml"
run "$F" apply -f "$T_DIR/one.yaml"
expect_eq "hand-made function created" "function/manual created" "$OUT"
rm "$R/sub/bg.yml"
run "$F" diff -f "$R" --prune
expect_match "diff --prune shows what would go" "pruned/beta" "$OUT"
run "$F" apply -f "$R" --prune --dry-run
expect_match "prune dry-run" "function/beta pruned \(dry run\)" "$OUT"
run "$F" get -o name
expect_eq "prune dry-run deleted nothing" "function/alpha
function/beta
function/gamma
function/manual" "$OUT"
run "$F" apply -f "$R" --prune
expect_eq "prune deletes the removed functions" "function/alpha unchanged
function/beta pruned
function/gamma pruned" "$OUT"
run "$F" get -o name
expect_eq "other sets survive the prune" "function/alpha
function/manual" "$OUT"
run "$F" get -l faas.applyset=one -o name
expect_eq "get -l selects by label" "function/manual" "$OUT"
# --applyset names the set explicitly
run "$F" apply -f "$T_DIR/one.yaml" --applyset repo --prune
expect_match "explicit applyset prunes its own" "function/alpha pruned" "$OUT"
expect_match "moving a function between sets is warned about" "warning: function/manual moves from applyset one to repo" "$ERR"

# --- OpenFaaS stack.yml
cat >"$T_DIR/stack.yml" <<'YAML'
version: 1.0
provider:
  name: openfaas
functions:
  wc:
    lang: dockerfile
    image: faas/wc:1
    fprocess: wc
    labels:
      com.openfaas.scale.min: "2"
      com.openfaas.scale.max: "5"
YAML
run "$F" apply -f "$T_DIR/stack.yml"
expect_eq "stack.yml applies" "function/wc created" "$OUT"
run "$F" get wc -o wide
expect_match "stack.yml scale labels became spec.scale, the mode is the image's" "wc +2/2 +2 +2 +faas/wc:1 .* 0 +image +2-5" "$OUT"

# --- get, describe, scale, logs, rollout, version, invoke, delete
run "$F" get
expect_match "get table header" "^NAME +READY +UP-TO-DATE +AVAILABLE +IMAGE +AGE" "$OUT"
run "$F" get nosuch
expect_eq "get missing exits 1" 1 "$RC"
expect_match "get missing explained" 'function "nosuch" not found' "$ERR"
run "$F" describe wc
expect_match "describe shows spec and conditions" "Image: +faas/wc:1.*Ready +True" "$(echo "$OUT" | tr '\n' ' ')"
run "$F" scale wc --replicas 3
expect_eq "scale" "function/wc scaled to 3" "$OUT"
run "$F" scale wc --replicas 9
expect_eq "scale says when the count was clamped" "function/wc scaled to 5 (asked 9, clamped into the function's scale range)" "$OUT"
run "$F" scale wc
expect_eq "scale without --replicas exits 2" 2 "$RC"
run "$F" logs wc --tail 2
expect_eq "logs --tail" "log line 1
log line 2" "$OUT"
# --follow against a server that answers and closes: polls, prints each line once.
"$F" logs wc --follow >"$T_DIR/follow" 2>&1 &
fpid=$!
wait_for 5 grep -q "log line 2" "$T_DIR/follow"
sleep 2.5 # two more polls
kill "$fpid"
wait "$fpid" 2>/dev/null
expect_eq "logs --follow prints each line once across polls" "log line 0
log line 1
log line 2" "$(cat "$T_DIR/follow")"
run "$F" rollout status manual --timeout 5s
expect_eq "rollout status of a Ready function" 0 "$RC"
fn sick faas/degraded:1 | "$F" apply -f - >/dev/null
fn slow faas/pending:1 | "$F" apply -f - >/dev/null
run "$F" rollout status sick --timeout 30s
expect_eq "rollout status of a Degraded function exits 1" 1 "$RC"
expect_match "rollout status says why" 'function "sick" is Degraded: TaskFailed: image not found' "$ERR"
start=$SECONDS
run "$F" rollout status slow --timeout 1s
expect_eq "rollout status times out with exit 1" 1 "$RC"
expect_match "rollout status timeout explained" 'timed out after 1s waiting for Ready' "$ERR"
check "rollout status honours --timeout" test $((SECONDS - start)) -le 3
"$F" delete sick slow >/dev/null
run "$F" version
expect_match "version shows client and server" "Client: faasctl .*Server: fctl_fakegw test" "$(echo "$OUT" | tr '\n' ' ')"
run "$F" invoke wc -d 'hello'
expect_eq "invoke -d prints the body" "hello" "$OUT"
OUT=$(echo "from stdin" | "$F" invoke wc -H 'X-Test: yes' -i -q q=a+b)
expect_match "invoke reads stdin, -i shows headers, -H and -q pass" "HTTP/1.1 200.*X-Echo-Method: POST.*X-Echo-Test: yes.*X-Echo-Q: a\+b.*from stdin" "$(echo "$OUT" | tr '\r\n' '  ')"
run "$F" invoke wc -q status=500 --no-stdin
expect_eq "invoke exits 1 on a 5xx" 1 "$RC"
run "$F" delete wc manual
expect_eq "delete NAME..." "function/wc deleted
function/manual deleted" "$OUT"
run "$F" delete wc
expect_eq "delete of a missing function exits 1" 1 "$RC"
run "$F" delete wc --ignore-not-found
expect_eq "--ignore-not-found" 0 "$RC"
fn viafile faas/f:1 | "$F" apply -f - >/dev/null
run "$F" delete -f - < <(fn viafile faas/f:1)
expect_eq "delete -f" "function/viafile deleted" "$OUT"

# --- completion
"$F" completion bash >"$T_DIR/comp.bash"
check "completion script is valid bash" bash -n "$T_DIR/comp.bash"
COMP=$(bash -c 'source "$1"; COMP_WORDS=(faasctl roll); COMP_CWORD=1; _faasctl; echo "${COMPREPLY[*]}"; COMP_WORDS=(faasctl apply --pr); COMP_CWORD=2; _faasctl; echo "${COMPREPLY[*]}"' _ "$T_DIR/comp.bash")
expect_eq "completion completes commands and flags" "rollout
--prune" "$COMP"
