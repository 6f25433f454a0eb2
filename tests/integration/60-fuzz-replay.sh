#!/usr/bin/env bash
# Replays every fuzz corpus (fuzz/corpus/<target>/) through its target built
# under ASan + UBSan (build/asan/fuzz/<target>_replay, see fuzz/README.md).
# One check per target: it fails on a crash, a leak, UB, a broken invariant, a
# missing replay binary or an empty corpus.
source "$FX_ROOT/tests/lib.sh"

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

replay() {
	local name=$1 bin=$FX_ROOT/build/asan/fuzz/${1}_replay dir=$FX_ROOT/fuzz/corpus/$1 want out
	[ -x "$bin" ] || { echo "    no $bin (make check builds it)"; return 1; }
	want=$(find "$dir" -type f 2>/dev/null | wc -l)
	[ "$want" -gt 0 ] || { echo "    empty corpus $dir"; return 1; }
	out=$(timeout 300 "$bin" "$dir" 2>"$T_DIR/$name.log") || {
		tail -n 30 "$T_DIR/$name.log"
		return 1
	}
	# Every file was fed to the target.
	[ "$out" = "replayed $want inputs" ] || { echo "    $out, expected $want"; return 1; }
}

n=0
for src in "$FX_ROOT"/fuzz/*_fuzz.c; do
	[ -f "$src" ] || continue
	name=$(basename "$src" _fuzz.c)
	check "replay corpus $name" replay "$name"
	n=$((n + 1))
done
check "fuzz targets found" test "$n" -gt 0
