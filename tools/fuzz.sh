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
flags=(-g -O1 -std=c11 -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
       -Isrc/core -Isrc/cli -Wall -Wextra -Werror)
cairo=$(pkg-config --cflags --libs cairo fontconfig 2>/dev/null || echo -DMP_NO_CAIRO)
declare -A srcs=(
    [datafile]="src/core/mp_datafile.c src/core/mp_json.c"
    [proc]="src/core/mp_procparse.c src/core/mp_datafile.c src/core/mp_json.c"
    [opts]="src/cli/mprof_opts.c"
    [plot]="src/core/mp_plot.c src/core/mp_labels.c src/core/mp_datafile.c src/core/mp_json.c"
    [diff]="src/core/mp_linediff.c src/core/mp_jsonread.c src/core/mp_json.c"
)
failed=0
for t in datafile proc opts plot diff; do
    extra=()
    [ "$t" = plot ] && extra=($cairo)
    # shellcheck disable=SC2086
    if ! "$CLANG" "${flags[@]}" -o "$out/fuzz_$t" "tests/fuzz/fuzz_$t.c" ${srcs[$t]} "${extra[@]}" -lm; then
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
