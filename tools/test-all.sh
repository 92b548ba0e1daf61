#!/usr/bin/env bash
# The Python suite on every CPython found, each in its own virtual environment
# (tools/venvs.sh), the extension built in place for each: 3.8-3.13 from pyenv
# (or MP_PYTHON_VERSIONS), then 3.14 and 3.15 in the Debian sid root of
# tools/sid.sh where this machine can make one (root, debootstrap, unshare).
# Then the free-threaded 3.13t of tools/ft.sh (built from source once, about
# 10 minutes) with the GIL off, where it can be built (MP_NO_FT=1 skips it).
# Ends with the list of interpreters that ran; exits non-zero if any failed,
# none was found, or (with MP_REQUIRE_SID=1 / MP_REQUIRE_FT=1, as CI sets)
# the sid root or the free-threaded build could not be used.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
mapfile -t pythons < <(tools/venvs.sh)
if [ "${#pythons[@]}" -eq 0 ]; then
    echo "test-all: no CPython ${MP_PYTHON_VERSIONS:-3.8-3.13} found" >&2
    exit 1
fi
failed=()
ran=()
for py in "${pythons[@]}"; do
    v=$("$py" -c 'import sys; print("%d.%d%s" % (sys.version_info[:2] + ("t" if "t" in getattr(sys, "abiflags", "") else "",)))')
    echo "=== Python $v ($py)"
    ran+=("$v")
    if ! make -s ext mprof PYTHON="$py"; then
        failed+=("$v(build)")
        continue
    fi
    if ! PYTHONPATH="$root" "$py" -m pytest -q -p no:cacheprovider tests/py; then
        failed+=("$v")
    fi
done
# Free-threaded CPython: PYTHON_GIL=0 as well, so that a module of ours
# that needed the GIL would fail here instead of turning it back on.
if [ "${MP_NO_FT:-0}" != 1 ]; then
    if tools/ft.sh can && ftpy=$(tools/ft.sh venvs); then
        echo "=== Python 3.13t ($ftpy), the GIL off"
        ran+=("3.13t")
        if ! make -s ext mprof PYTHON="$ftpy"; then
            failed+=("3.13t(build)")
        elif ! PYTHON_GIL=0 PYTHONPATH="$root" "$ftpy" -m pytest -q \
            -p no:cacheprovider tests/py; then
            failed+=("3.13t")
        fi
    elif [ "${MP_REQUIRE_FT:-0}" = 1 ]; then
        failed+=("3.13t(not built)")
    else
        echo "=== 3.13t not run: tools/ft.sh could not build it"
    fi
fi
sid_note=""
if [ "${MP_NO_SID:-0}" != 1 ]; then
    if tools/sid.sh can; then
        sid_out=$(mktemp)
        tools/sid.sh test 2>&1 | tee "$sid_out"
        sid_rc=${PIPESTATUS[0]}
        # The inner run's own summary lines name what ran and what failed.
        read -r -a sid_ran <<<"$(sed -n 's/^=== interpreters ran: //p' "$sid_out" | tail -1)"
        read -r -a sid_failed <<<"$(sed -n 's/^=== interpreters failed: //p' "$sid_out" | tail -1)"
        ran+=("${sid_ran[@]}")
        failed+=("${sid_failed[@]}")
        if [ "$sid_rc" != 0 ] && [ "${#sid_failed[@]}" -eq 0 ]; then
            failed+=("sid-root")
        fi
        rm -f "$sid_out"
    else
        sid_note="3.14 and 3.15 not run: the Debian sid root needs root, debootstrap and unshare (tools/sid.sh)"
        if [ "${MP_REQUIRE_SID:-0}" = 1 ]; then
            failed+=("sid-root")
        fi
    fi
fi
# Apache Spark's UDF memory profiler over ours (tools/spark.sh): Java needed.
if [ "${MP_NO_SPARK:-0}" != 1 ]; then
    if tools/spark.sh can; then
        if tools/spark.sh test; then
            ran+=("pyspark")
        else
            ran+=("pyspark")
            failed+=("pyspark")
        fi
    elif [ "${MP_REQUIRE_SPARK:-0}" = 1 ]; then
        failed+=("pyspark(no java)")
    else
        echo "=== PySpark tests not run: they need java (tools/spark.sh)"
    fi
fi
echo "=== interpreters ran: ${ran[*]}"
echo "=== interpreters failed: ${failed[*]}"
[ -n "$sid_note" ] && echo "=== $sid_note"
echo "interpreters: $((${#ran[@]} - ${#failed[@]})) passed, ${#failed[@]} failed${failed[*]:+ (${failed[*]})}"
[ "${#failed[@]}" -eq 0 ]
