#!/usr/bin/env bash
# Per-interpreter environments for `make bench`: numpy plus the peer profilers
# (line_profiler, memray, scalene, filprofiler), each installed if PyPI has a
# build for that interpreter. Never holds our package (it runs from the tree)
# nor the reference (it has .venv/ref-X.Y). Prints "X.Y python" lines.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/tools/venvs.sh" > /dev/null
for t in "$root"/.venv/test-3.*; do
    v=${t##*/test-}
    b="$root/.venv/bench-$v"
    if [ ! -x "$b/bin/python" ]; then
        "$t/bin/python" -c 'import sys; print(sys.base_prefix)' > /dev/null
        base=$("$t/bin/python" -c 'import sys, os; print(os.path.join(sys.base_prefix, "bin", "python%d.%d%s" % (sys.version_info[:2] + ("t" if "t" in sys.abiflags else "",))))')
        "$base" -m venv "$b" >&2
        "$b/bin/python" -m pip install -q --disable-pip-version-check -U pip >&2
        "$b/bin/python" -m pip install -q --disable-pip-version-check numpy >&2
    fi
    "$b/bin/python" -c 'import pandas' > /dev/null 2>&1 ||
        "$b/bin/python" -m pip install -q --disable-pip-version-check --only-binary=:all: pandas >&2 ||
        echo "bench-venvs: pandas has no wheel for Python $v" >&2
    for peer in line_profiler memray scalene filprofiler; do
        mod=$peer; [ "$peer" = filprofiler ] && mod=filprofiler
        "$b/bin/python" -c "import $mod" > /dev/null 2>&1 ||
            "$b/bin/python" -m pip install -q --disable-pip-version-check --only-binary=:all: "$peer" >&2 ||
            echo "bench-venvs: $peer has no wheel for Python $v" >&2
    done
    # The reference runs the numpy and pandas targets too (its own environment).
    r="$root/.venv/ref-$v"
    "$r/bin/python" -c 'import numpy' > /dev/null 2>&1 ||
        "$r/bin/python" -m pip install -q --disable-pip-version-check numpy >&2
    "$r/bin/python" -c 'import pandas' > /dev/null 2>&1 ||
        "$r/bin/python" -m pip install -q --disable-pip-version-check --only-binary=:all: pandas >&2 || true
    echo "$v $b/bin/python"
done
