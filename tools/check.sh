#!/usr/bin/env bash
# make check: the reliability suite. Each step prints one result line; a
# table of them ends the run (tool | what | cases | result), and the exit
# status is non-zero if any step failed.
#
#   warnings    gcc and clang with -Werror: extension, mprof, C tests
#   static      cppcheck and clang-tidy over src/
#   sanitizers  C tests, mprof and the whole Python suite under ASan+UBSan
#               (extension and mprof built with them, the interpreter run with
#               the ASan runtime preloaded and PYTHONMALLOC=malloc)
#   valgrind    C tests, mprof run/peak/plot under memcheck
#   fuzz        every libFuzzer target for FUZZ_SECONDS each (tools/fuzz.sh)
#   tsan        ThreadSanitizer on the free-threaded 3.13t (tools/ft.sh): the
#               extension instrumented, the runtime preloaded, the threaded
#               tests with the GIL off (suppressions: tools/tsan.supp, CPython
#               internals only). Not run where 3.13t was not built, unless
#               MP_REQUIRE_FT=1.
#   harness     the differential harness's long run (HARNESS_EXAMPLES programs,
#               default 300) on the oldest and the newest interpreter found
#   sid         in the Debian sid root (tools/sid.sh): -Werror with sid's gcc
#               and clang, and the sanitized suite on Python 3.15; its rows
#               are tagged "(sid)". Not run where the root cannot be made
#               (not root, no debootstrap), unless MP_REQUIRE_SID=1.
#
# Environment: CHECK_STEPS (default "warnings static sanitizers valgrind fuzz tsan
# harness sid"),
# SAN_PYTHONS (interpreters for the sanitized Python suite, as paths, or
# "all"; default the oldest, the newest up to 3.11 and the newest found by
# tools/venvs.sh: one per tracing design), FUZZ_SECONDS (default 60).
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
steps=${CHECK_STEPS:-warnings static sanitizers valgrind fuzz tsan harness sid}
tag=${MP_CHECK_TAG:+ $MP_CHECK_TAG}
work=$root/build/check
mkdir -p "$work"
rows=()
failed=0

row() { # tool | what | cases | result
    rows+=("| $1$tag | $2 | $3 | $4 |")
    printf '%-10s %-52s %-18s %s\n' "$1$tag" "$2" "$3" "$4"
    [ "$4" = pass ] || [ "$4" = "not run" ] || failed=1
}

mapfile -t pythons < <(tools/venvs.sh)
first_python=${pythons[0]:-python3}
# The free-threaded build, where make test made it (tools/ft.sh).
ft_python=""
[ -x "$root/.venv/test-3.13t/bin/python" ] && ft_python=$root/.venv/test-3.13t/bin/python
builds=("${pythons[@]}")
[ -n "$ft_python" ] && builds+=("$ft_python")

# A copy of the sources, built in place with other flags, so the normal
# in-place build stays untouched.
tree() { # name -> path of a fresh copy
    local t=$work/$1
    rm -rf "$t"
    mkdir -p "$t"
    cp -r Makefile pyproject.toml mprof.py src memory_profiler tests tools "$t"/
    rm -f "$t"/memory_profiler/_core*.so
    ln -s "$root/.venv" "$t/.venv"
    echo "$t"
}

count_c_tests() { cat tests/c/test_*.c | grep -c "tcase_add_test"; }

step_warnings() {
    for cc in gcc clang; do
        local t
        t=$(tree "werror-$cc")
        local ccv
        ccv="$cc $("$cc" -dumpversion)"
        local n=0 ok=1
        for py in "${builds[@]}"; do
            if make -s -C "$t" CC="$cc" PYTHON="$py" ext >"$t/build.log" 2>&1; then
                n=$((n + 1))
            else
                ok=0
                cat "$t/build.log"
            fi
        done
        if make -s -C "$t" CC="$cc" mprof build/tests/test_core >>"$t/build.log" 2>&1; then
            n=$((n + 2))
        else
            ok=0
            cat "$t/build.log"
        fi
        row "$ccv" "-Wall -Wextra -Wshadow -Wformat=2 ... -Werror: ext x${#builds[@]}${ft_python:+ (3.13t too)}, mprof, C tests" "$n builds" \
            "$([ $ok = 1 ] && echo pass || echo FAIL)"
    done
}

step_static() {
    # The platform backends (src/core/*.inc) are analysed through their
    # dispatcher: the Linux one with the rest, the stub once more with
    # __linux__ undefined.
    local files stub=src/core/mp_proc.c
    files=$(ls src/core/*.c src/plot/*.c src/cli/*.c src/ext/*.c)
    local nfiles
    nfiles=$(echo "$files" | wc -l)
    local cppcheck_args=(--std=c11 --library=python --enable=warning,style,performance,portability
        --error-exitcode=1 --inline-suppr -q -D_GNU_SOURCE -Isrc/core -Isrc/plot --suppress=missingIncludeSystem)
    if cppcheck "${cppcheck_args[@]}" -D__linux__ src/core src/plot src/cli src/ext 2>"$work/cppcheck.log" \
        && cppcheck "${cppcheck_args[@]}" -U__linux__ "$stub" 2>>"$work/cppcheck.log"; then
        row cppcheck "warning, style, performance, portability" "$nfiles files" pass
    else
        cat "$work/cppcheck.log"
        row cppcheck "warning, style, performance, portability" "$nfiles files" FAIL
    fi
    local inc
    inc=$("$first_python" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')
    # shellcheck disable=SC2086
    if clang-tidy -quiet $files -- -std=c11 -D_GNU_SOURCE -Isrc/core -Isrc/plot -isystem "$inc" \
        $(pkg-config --cflags cairo fontconfig 2>/dev/null) >"$work/clang-tidy.log" 2>&1 \
        && clang-tidy -quiet "$stub" -- -std=c11 -D_GNU_SOURCE -U__linux__ -Isrc/core \
        >>"$work/clang-tidy.log" 2>&1; then
        row clang-tidy "analyzer, bugprone, performance, portability (.clang-tidy)" "$nfiles files" pass
    else
        grep -E "warning:|error:" "$work/clang-tidy.log"
        row clang-tidy "analyzer, bugprone, performance, portability (.clang-tidy)" "$nfiles files" FAIL
    fi
}

SAN="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"

step_sanitizers() {
    local t logs asan
    t=$(tree san)
    logs=$work/san-logs
    rm -rf "$logs"
    mkdir -p "$logs"
    asan=$(gcc -print-file-name=libasan.so)
    # C tests: leaks count here (no interpreter around).
    if make -s -C "$t" SAN="$SAN" OPT="-O1 -g" mprof build/tests/test_core >"$work/san-build.log" 2>&1 \
        && (cd "$t/tests/c" && ASAN_OPTIONS=detect_leaks=1:halt_on_error=1 CK_FORK=no \
            ../../build/tests/test_core) >"$work/san-c.log" 2>&1; then
        row "ASan+UBSan" "C unit tests (leaks checked too)" "$(count_c_tests) tests" pass
    else
        tail -n 30 "$work/san-c.log" "$work/san-build.log" # -n: GNU tail refuses -30 with two files
        row "ASan+UBSan" "C unit tests (leaks checked too)" "$(count_c_tests) tests" FAIL
    fi
    # One interpreter per tracing design: the oldest (settrace, 3.8's field
    # pokes), the newest settrace one (3.11) and the newest (sys.monitoring);
    # the sid step adds 3.15. SAN_PYTHONS="all" (or a list of paths) for more.
    local sel=() py v
    if [ "${SAN_PYTHONS:-}" = all ]; then
        sel=("${pythons[@]}")
    elif [ -n "${SAN_PYTHONS:-}" ]; then
        read -r -a sel <<<"$SAN_PYTHONS"
    else
        local oldest="" settrace="" newest=""
        for py in "${pythons[@]}"; do
            v=$("$py" -c 'import sys; print(sys.version_info[1])')
            [ -n "$oldest" ] || oldest=$py
            [ "$v" -le 11 ] && settrace=$py
            newest=$py
        done
        for py in "$oldest" "$settrace" "$newest"; do
            if [ -n "$py" ] && [[ " ${sel[*]} " != *" $py "* ]]; then
                sel+=("$py")
            fi
        done
    fi
    for py in "${sel[@]}"; do
        local v
        v=$("$py" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
        if ! make -s -C "$t" SAN="$SAN" OPT="-O1 -g" PYTHON="$py" ext >>"$work/san-build.log" 2>&1; then
            tail -20 "$work/san-build.log"
            row "ASan+UBSan" "Python $v suite (ext and mprof instrumented)" "-" FAIL
            continue
        fi
        # The interpreter is not instrumented: preload the runtime. Leaks are
        # CPython's own at exit, so off; quarantine off so freed memory
        # leaves RSS as without ASan (the suite measures RSS). Reports go to
        # log files too, so one in a subprocess whose output a test ignores
        # still fails the step.
        local out="$work/san-py-$v.log"
        (cd "$t" && LD_PRELOAD="$asan" PYTHONMALLOC=malloc MP_SANITIZED=1 \
            ASAN_OPTIONS="detect_leaks=0:halt_on_error=1:quarantine_size_mb=0:log_path=$logs/asan" \
            UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:log_path=$logs/ubsan" \
            PYTHONPATH="$t" "$py" -m pytest -q -p no:cacheprovider tests/py) >"$out" 2>&1
        local rc=$?
        local summary
        summary=$(grep -E "^[0-9]+ passed|passed|failed" "$out" | tail -1)
        if [ $rc = 0 ] && [ -z "$(ls -A "$logs")" ]; then
            row "ASan+UBSan" "Python $v suite (ext and mprof instrumented)" "${summary%% in *}" pass
        else
            tail -40 "$out"
            head -50 "$logs"/* 2>/dev/null
            row "ASan+UBSan" "Python $v suite (ext and mprof instrumented)" "${summary%% in *}" FAIL
            rm -f "$logs"/*
        fi
    done
}

VG=(valgrind -q --leak-check=full --error-exitcode=42 --errors-for-leak-kinds=definite,indirect,possible)

step_valgrind() {
    make -s mprof build/tests/test_core >/dev/null 2>&1 || { row valgrind build - FAIL; return; }
    if (cd tests/c && CK_FORK=no "${VG[@]}" ../../build/tests/test_core) >"$work/vg-c.log" 2>&1; then
        row valgrind "C unit tests (memcheck, leaks)" "$(count_c_tests) tests" pass
    else
        tail -40 "$work/vg-c.log"
        row valgrind "C unit tests (memcheck, leaks)" "$(count_c_tests) tests" FAIL
    fi
    local d=$work/vg-mprof
    rm -rf "$d"
    mkdir -p "$d"
    local n=0 ok=1
    local cmds=(
        "run -T 0.01 -o v.dat sleep 0.3"
        "run -T 0.01 -M -C -o v.dat $first_python -c import\ os,time;os.fork()==0\ and\ time.sleep(0.2);time.sleep(0.3)"
        "peak v.dat"
        "list"
        "plot v.dat -o v.png"
        "plot -f -s v.dat -o v.svg"
        "plot -w 0,0.2 v.dat -o v.pdf"
        "attach 999999999"
        "plot empty.dat"
    )
    : >"$d/empty.dat"
    for c in "${cmds[@]}"; do
        n=$((n + 1))
        # shellcheck disable=SC2086
        (cd "$d" && eval "${VG[*]} --trace-children=no $root/build/mprof $c") >"$d/out-$n.log" 2>&1
        local rc=$?
        if [ $rc = 42 ] || grep -q "==[0-9]*==" "$d/out-$n.log"; then
            echo "valgrind: mprof $c"
            cat "$d/out-$n.log"
            ok=0
        fi
    done
    row valgrind "mprof run (-M -C), peak, list, plot png/svg/pdf, errors" "$n runs" \
        "$([ $ok = 1 ] && echo pass || echo FAIL)"
}

step_fuzz() {
    local secs=${FUZZ_SECONDS:-60}
    while read -r line; do
        echo "$line"
        case "$line" in
        "fuzz "*": "*" runs in "*", ok")
            local t=${line#fuzz }
            t=${t%%:*}
            local runs=${line#*: }
            runs=${runs%% runs*}
            local nreg
            nreg=$(find tests/fuzz/regressions/"$t" -type f ! -name .keep | wc -l)
            row libFuzzer "$t target, ${secs}s + $nreg kept crash cases" "$runs runs" pass
            ;;
        "fuzz "*)
            row libFuzzer "${line#fuzz }" - FAIL
            ;;
        esac
    done < <(tools/fuzz.sh "$secs")
}

step_harness() {
    local n=${HARNESS_EXAMPLES:-300} sel=("${pythons[0]}")
    [ "${#pythons[@]}" -gt 1 ] && sel+=("${pythons[-1]}")
    for py in "${sel[@]}"; do
        local v out=$work/harness.log
        v=$("$py" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
        make -s ext PYTHON="$py" >/dev/null 2>&1
        if MP_HARNESS_EXAMPLES=$n PYTHONPATH="$root" "$py" -m pytest -q -p no:cacheprovider \
            tests/py/test_harness.py >"$out" 2>&1; then
            row harness "generated programs vs construction, Python $v" "$n programs" pass
        else
            tail -40 "$out"
            row harness "generated programs vs construction, Python $v" "$n programs" FAIL
        fi
    done
}

# The threaded tests: test_free_threading.py, and the thread tests of the
# trust suite (fork-among-threads cases excluded: TSan will not start threads
# in a child forked from a multi-threaded process).
TSAN_TESTS=(tests/py/test_free_threading.py "tests/py/test_trust.py -k thread and not fork and not pool")

step_tsan() {
    if [ -z "$ft_python" ]; then
        if [ "${MP_REQUIRE_FT:-0}" = 1 ]; then
            row ThreadSanitizer "3.13t, the GIL off (tools/ft.sh)" - FAIL
        else
            row ThreadSanitizer "3.13t, the GIL off: no free-threaded build (tools/ft.sh)" - "not run"
        fi
        return
    fi
    local t logs out=$work/tsan.log
    t=$(tree tsan)
    logs=$work/tsan-logs
    rm -rf "$logs"
    mkdir -p "$logs"
    if ! make -s -C "$t" SAN="-fsanitize=thread" OPT="-O1 -g" PYTHON="$ft_python" ext >"$work/tsan-build.log" 2>&1; then
        tail -20 "$work/tsan-build.log"
        row ThreadSanitizer "3.13t threaded tests, the GIL off (ext instrumented)" - FAIL
        return
    fi
    local rc=0 spec
    : >"$out"
    for spec in "${TSAN_TESTS[@]}"; do
        local file=${spec%% *} sel=""
        [ "$file" != "$spec" ] && sel=${spec#* -k }
        # shellcheck disable=SC2086
        (cd "$t" && LD_PRELOAD="$(gcc -print-file-name=libtsan.so)" PYTHON_GIL=0 MP_SANITIZED=1 \
            TSAN_OPTIONS="halt_on_error=0 report_signal_unsafe=0 suppressions=$root/tools/tsan.supp log_path=$logs/tsan" \
            PYTHONPATH="$t" "$ft_python" -m pytest -q -p no:cacheprovider "$file" ${sel:+-k "$sel"}) >>"$out" 2>&1 || rc=1
    done
    local summary
    summary=$(grep -E "passed|failed" "$out" | awk '{p += $1} END {print p " tests"}')
    if [ $rc = 0 ] && [ -z "$(ls -A "$logs")" ]; then
        row ThreadSanitizer "3.13t threaded tests, the GIL off (ext instrumented)" "$summary" pass
    else
        tail -40 "$out"
        head -80 "$logs"/* 2>/dev/null
        row ThreadSanitizer "3.13t threaded tests, the GIL off (ext instrumented)" "$summary" FAIL
    fi
}

step_sid() {
    if ! tools/sid.sh can; then
        if [ "${MP_REQUIRE_SID:-0}" = 1 ]; then
            row sid "Debian sid root for Python 3.14/3.15 (tools/sid.sh)" - FAIL
        else
            row sid "Debian sid root for Python 3.14/3.15: needs root and debootstrap" - "not run"
        fi
        return
    fi
    local out=$work/sid-check.log
    tools/sid.sh check 2>&1 | tee "$out"
    local rc=${PIPESTATUS[0]} n=0 line
    # The inner run's table rows, already tagged "(sid)", join ours.
    while IFS= read -r line; do
        rows+=("$line")
        n=$((n + 1))
        case "$line" in
        *"| pass |") ;;
        *) failed=1 ;;
        esac
    done < <(grep -E '^\| .*\(sid\) \|' "$out")
    if [ "$rc" != 0 ] || [ "$n" = 0 ]; then
        row sid "Debian sid root for Python 3.14/3.15 (tools/sid.sh check)" "exit $rc" FAIL
    fi
}

for s in $steps; do
    echo "=== $s"
    "step_$s"
done
echo
echo "| tool | what | cases | result |"
echo "|---|---|---|---|"
printf '%s\n' "${rows[@]}"
exit $failed
