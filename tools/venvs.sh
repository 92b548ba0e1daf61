#!/usr/bin/env bash
# Create one test virtual environment per CPython found (pyenv 3.8 .. 3.13) plus a
# separate one per interpreter holding the reference memory-profiler 0.61, so the two
# packages named memory_profiler never meet.
#   tools/venvs.sh            -> .venv/test-3.X and .venv/ref-3.X
# Prints the list of test interpreters, one per line, on stdout.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venvs="$root/.venv"
mkdir -p "$venvs"

find_pythons() {
    local v p
    for v in 3.8 3.9 3.10 3.11 3.12 3.13; do
        p=""
        if command -v pyenv >/dev/null 2>&1; then
            p=$(ls -d "$(pyenv root)"/versions/"$v".*/bin/python"$v" 2>/dev/null | sort -V | tail -n 1 || true)
        fi
        [ -n "$p" ] || p=$(command -v "python$v" 2>/dev/null || true)
        [ -n "$p" ] && echo "$v $p"
    done
}

find_pythons | while read -r v py; do
    t="$venvs/test-$v"
    r="$venvs/ref-$v"
    if [ ! -x "$t/bin/python" ] || ! "$t/bin/python" -c 'import pytest, numpy, IPython' >/dev/null 2>&1; then
        "$py" -m venv "$t" >&2
        "$t/bin/python" -m pip install -q --disable-pip-version-check -U pip setuptools wheel >&2
        "$t/bin/python" -m pip install -q --disable-pip-version-check pytest numpy ipython coverage >&2
    elif ! "$t/bin/python" -c 'import coverage' >/dev/null 2>&1; then
        "$t/bin/python" -m pip install -q --disable-pip-version-check coverage >&2
    fi
    if [ ! -x "$r/bin/python" ] || ! "$r/bin/python" -c 'import memory_profiler, psutil' >/dev/null 2>&1; then
        "$py" -m venv "$r" >&2
        "$r/bin/python" -m pip install -q --disable-pip-version-check memory-profiler==0.61.0 psutil >&2
    fi
    echo "$t/bin/python"
done
