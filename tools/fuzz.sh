#!/usr/bin/env bash
# Build the libFuzzer targets (clang, ASan+UBSan) and run each: first over
# its seed corpus and every kept regression case, then fuzzing for
# FUZZ_SECONDS (default 60). A crash fails the run; its input is copied to
# tests/fuzz/regressions/<target>/ so it stays a test once fixed.
# Usage: tools/fuzz.sh [seconds]   Prints "fuzz <target>: <runs> runs, ok|CRASH".
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
seconds=${1:-${FUZZ_SECONDS:-60}}
CLANG=${FUZZ_CC:-clang}
out=build/fuzz
mkdir -p "$out"
# The sources and flags: src/sources.mk, through make (the one list).
mk() { make -s --no-print-directory -C "$root" "print-$1"; }
core=$(mk MP_CORE_SRC)
plot=$(mk MP_PLOT_SRC)
opts=$(mk MP_CLI_SRC | tr ' ' '\n' | grep '/mprof_opts\.c$')
libs=$(mk MP_LIBS)
# shellcheck disable=SC2207
flags=(-g -O1 $(mk MP_STD_CFLAGS) -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
       -Isrc/core -Isrc/plot -Isrc/cli $(mk MP_WARNINGS) -Werror)
cairo=$(pkg-config --cflags --libs cairo fontconfig 2>/dev/null || echo -DMP_NO_CAIRO)
# Each target is linked with the whole core, as mprof and the extension are.
declare -A srcs=(
    [datafile]="$core"
    [proc]="$core"
    [opts]="$core $opts"
    [plot]="$core $plot"
    [diff]="$core"
)
failed=0
for t in datafile proc opts plot diff; do
    extra=()
    [ "$t" = plot ] && extra=($cairo)
    # shellcheck disable=SC2086
    if ! "$CLANG" "${flags[@]}" -o "$out/fuzz_$t" "tests/fuzz/fuzz_$t.c" ${srcs[$t]} "${extra[@]}" $libs; then
        echo "fuzz $t: BUILD FAILED"
        failed=1
        continue
    fi
    work="$out/corpus_$t"
    mkdir -p "$work" "$out/crash_$t"
    cp -n tests/fuzz/corpus/"$t"/* "$work"/ 2>/dev/null
    regress=(tests/fuzz/regressions/"$t"/*)
    regress=("${regress[@]/*\/.keep/}")
    for f in "${regress[@]}"; do
        [ -n "$f" ] && [ -f "$f" ] || continue
        if ! "$out/fuzz_$t" "$f" >/dev/null 2>&1; then
            echo "fuzz $t: regression case $f crashes"
            failed=1
        fi
    done
    log="$out/fuzz_$t.log"
    if "$out/fuzz_$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$out/crash_$t/" "$work" tests/fuzz/corpus/"$t" >"$log" 2>&1; then
        runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
        echo "fuzz $t: ${runs:-?} runs in ${seconds}s, ok"
    else
        echo "fuzz $t: CRASH (see $log)"
        tail -30 "$log"
        cp "$out/crash_$t"/* tests/fuzz/regressions/"$t"/ 2>/dev/null
        failed=1
    fi
done
exit $failed
