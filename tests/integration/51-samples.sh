#!/usr/bin/env bash
# The sample functions: their YAML loads with the function schema
# (common/spec), every sample's image has a builder in scripts/images.sh,
# and the functions' programs behave (webhook-stash, sleepy, http-env).
source "$FX_ROOT/tests/lib.sh"
SPEC=$TOOLS/spec_check
STASH=$FX_ROOT/build/rel/functions/webhook-stash/handler
FN=$FX_ROOT/functions

shopt -s nullglob
for f in "$FX_ROOT"/manifests/functions/*.yaml "$FX_ROOT"/functions/*/*.yaml; do
	n=$(basename "$f" .yaml)
	check "sample $n loads with the schema" "$SPEC" "$f"
	img=$(sed -nE 's/^  image: faas\/([a-z0-9-]+):latest$/\1/p' "$f")
	expect_eq "sample $n uses image faas/$n:latest" "$n" "$img"
	check "scripts/images.sh builds faas/$n" grep -q "^image_$n()" "$FX_ROOT/scripts/images.sh"
done
printf 'apiVersion: faas/v1\nkind: Function\nmetadata: {name: Bad_Name}\nspec: {image: x}\n' >"$T_DIR/bad.yaml"
check "the schema check rejects a bad sample" bash -c "! $SPEC $T_DIR/bad.yaml 2>/dev/null"

# webhook-stash stores the body in a new file in its working directory.
mkdir -p "$T_DIR/stash"
out=$(cd "$T_DIR/stash" && printf 'payload one' | "$STASH")
expect_match "webhook-stash says where it stored the body" '^stored 11 bytes in [0-9]{8}T[0-9]{6}\.[0-9]{6}Z-[0-9]+\.txt$' "$out"
file=${out##* }
expect_eq "webhook-stash stored the body" "payload one" "$(cat "$T_DIR/stash/$file" 2>/dev/null)"
(cd "$T_DIR/stash" && printf 'two' | "$STASH" >/dev/null)
expect_eq "webhook-stash keeps one file per request" 2 "$(find "$T_DIR/stash" -type f | wc -l)"
chmod 500 "$T_DIR/stash"
if [ "$(id -u)" -ne 0 ]; then
	check "webhook-stash fails when it cannot write" bash -c "cd $T_DIR/stash && ! printf x | $STASH 2>/dev/null"
fi
chmod 700 "$T_DIR/stash"

# The shell functions run under busybox, as in the image.
sh=(busybox sh)
command -v busybox >/dev/null || sh=(sh)
out=$(Http_Query='s=0.1' "${sh[@]}" "$FN/sleep/rootfs/usr/local/bin/sleepy")
expect_eq "sleep sleeps ?s=" "slept 0.1s" "$out"
out=$(Http_Query='a=1&s=0' "${sh[@]}" "$FN/sleep/rootfs/usr/local/bin/sleepy")
expect_eq "sleep finds s among other parameters" "slept 0s" "$out"
check "sleep rejects a bad s" bash -c "! Http_Query='s=1;reboot' ${sh[*]} $FN/sleep/rootfs/usr/local/bin/sleepy 2>/dev/null"
out=$(env -i Http_Method=POST Http_X_Test=yes OTHER=no "${sh[@]}" "$FN/env/rootfs/usr/local/bin/http-env")
expect_eq "env prints only the Http_ variables" "Http_Method=POST
Http_X_Test=yes" "$out"
