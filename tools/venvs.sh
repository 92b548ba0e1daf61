#!/usr/bin/env bash
# Create one test virtual environment per CPython found (pyenv 3.8 .. 3.13, or the
# versions in MP_PYTHON_VERSIONS, e.g. "3.14 3.15" inside tools/sid.sh's root) plus a
# separate one per interpreter holding the reference memory-profiler 0.61, so the two
# packages named memory_profiler never meet.
#   tools/venvs.sh            -> .venv/test-3.X and .venv/ref-3.X
# Prints the list of test interpreters, one per line, on stdout.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venvs="$root/.venv"
mkdir -p "$venvs"

find_pythons() {
    # shellcheck disable=SC2086
    "$root/tools/pythons.sh" ${MP_PYTHON_VERSIONS:-3.8 3.9 3.10 3.11 3.12 3.13}
}

make_venvs() { # version python -> 0 when both environments are ready
    local v=$1 py=$2
    local t="$venvs/test-$v" r="$venvs/ref-$v"
    if [ ! -x "$t/bin/python" ] || ! "$t/bin/python" -c 'import pytest, numpy, IPython' >/dev/null 2>&1; then
        "$py" -m venv "$t" >&2 || return 1
        "$t/bin/python" -m pip install -q --disable-pip-version-check -U pip setuptools wheel >&2 || return 1
        "$t/bin/python" -m pip install -q --disable-pip-version-check pytest numpy ipython coverage hypothesis >&2 || return 1
    elif ! "$t/bin/python" -c 'import coverage, hypothesis' >/dev/null 2>&1; then
        "$t/bin/python" -m pip install -q --disable-pip-version-check coverage hypothesis >&2 || return 1
    fi
    if [ ! -x "$r/bin/python" ] || ! "$r/bin/python" -c 'import memory_profiler, psutil' >/dev/null 2>&1; then
        "$py" -m venv "$r" >&2 || return 1
        "$r/bin/python" -m pip install -q --disable-pip-version-check memory-profiler==0.61.0 psutil >&2 || return 1
    fi
    # pytest-xdist for the pytest plugin's tests (skipped where missing).
    "$t/bin/python" -c 'import xdist' >/dev/null 2>&1 ||
        "$t/bin/python" -m pip install -q --disable-pip-version-check pytest-xdist >&2 ||
        echo "venvs: no pytest-xdist for Python $v: its tests will skip" >&2
    # pytest-memray, to compare the plugins' limits on the same tests: its own
    # environment (never loaded into our suite's), on one interpreter.
    local m="$venvs/memray-$v"
    if [ "$v" = 3.11 ] && ! "$m/bin/python" -c 'import pytest_memray' >/dev/null 2>&1; then
        { "$py" -m venv "$m" && "$m/bin/python" -m pip install -q --disable-pip-version-check \
            pytest pytest-memray; } >&2 || echo "venvs: no pytest-memray for Python $v" >&2
    fi
}

made=()
while read -r v py; do
    if make_venvs "$v" "$py"; then
        made+=("$venvs/test-$v/bin/python")
    else
        echo "venvs: could not make the environments for Python $v ($py)" >&2
    fi
done < <(find_pythons)

# The reference's own test suite (its sdist's test/ folder), run against ours
# by tests/py/test_reference_suite.py: fetched once, read only by the tests.
# Also its two modules (memory_profiler.py, mprof.py) in ref-suite/lib, put on
# sys.path by bench/spark_cost.py next to PySpark (never installed anywhere).
suite="$venvs/ref-suite"
if [ ! -f "$suite/test/test_func.py" ] || [ ! -f "$suite/lib/memory_profiler.py" ]; then
    # A venv's pip (a bare system interpreter may have none, as sid's).
    first=${made[0]:-}
    if [ -n "$first" ]; then
        tmp=$(mktemp -d)
        if "$first" -m pip download -q --disable-pip-version-check --no-deps --no-binary :all: \
            -d "$tmp" memory-profiler==0.61.0 >&2; then
            mkdir -p "$suite/lib"
            tar xzf "$tmp"/memory_profiler-0.61.0.tar.gz -C "$tmp"
            rm -rf "$suite/test"
            cp -r "$tmp/memory_profiler-0.61.0/test" "$suite/test"
            cp "$tmp/memory_profiler-0.61.0/memory_profiler.py" "$tmp/memory_profiler-0.61.0/mprof.py" "$suite/lib/"
        else
            echo "venvs: could not fetch the reference's sdist (its own suite will be skipped)" >&2
        fi
        rm -rf "$tmp"
    fi
fi


[ "${#made[@]}" -eq 0 ] || printf '%s\n' "${made[@]}"
