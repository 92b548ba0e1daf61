#!/usr/bin/env bash
# The README's first command: on a fresh Debian (or Ubuntu) machine, install
# what the build lacks (as root, with apt-get; otherwise it says what to
# install), build, profile the README's example and print its report, then
# record it with mprof and draw the plot.
#   tools/quickstart.sh [PYTHON]      (default python3)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
PY=${1:-python3}

missing=()
command -v cc >/dev/null 2>&1 || missing+=(gcc)
command -v make >/dev/null 2>&1 || missing+=(make)
command -v pkg-config >/dev/null 2>&1 || missing+=(pkg-config)
if ! command -v "$PY" >/dev/null 2>&1; then
    missing+=(python3 python3-dev)
elif ! "$PY" -c 'import os, sysconfig; raise SystemExit(not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))' 2>/dev/null; then
    missing+=(python3-dev)   # Debian's python3 comes without its C headers
fi
pkg-config --exists cairo fontconfig 2>/dev/null || missing+=(libcairo2-dev libfontconfig-dev)
fc-list 2>/dev/null | grep -qi dejavu || missing+=(fonts-dejavu-core)

if [ "${#missing[@]}" -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "quickstart: installing ${missing[*]}" >&2
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    else
        echo "quickstart: missing ${missing[*]}; install them (Debian: sudo apt-get install ${missing[*]}) and run this again" >&2
        exit 1
    fi
fi

make -s PYTHON="$PY"
export PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}"
echo "\$ python -m memory_profiler tests/targets/example.py"
"$PY" -m memory_profiler tests/targets/example.py

out="$root/build/example"
rm -f "$out.dat"
echo "\$ mprof run -o build/example.dat tests/targets/example.py && mprof plot build/example.dat"
MPROF_PYTHON=$(command -v "$PY") build/mprof run -T 0.01 -o "$out.dat" tests/targets/example.py >/dev/null
build/mprof peak "$out.dat"
build/mprof plot "$out.dat" -o "$out.png" >/dev/null
echo "plot written to build/example.png"
