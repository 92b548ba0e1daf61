#!/usr/bin/env bash
# The wheel where there is no compiler and no cairo: a Debian 12 minbase
# root with only python3 and python3-venv (another build of CPython 3.11
# than the one the wheel was made with), the wheel pip-installed into a
# fresh venv with no index, then the example profiled, recorded and plotted.
#   tools/wheel-check.sh can | WHEEL
# Environment: MP_WHEEL_ROOT (default /var/tmp/memory-profiler-c-bookworm),
# MP_SID_MIRROR (default http://deb.debian.org/debian).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
R=${MP_WHEEL_ROOT:-/var/tmp/memory-profiler-c-bookworm}
MIRROR=${MP_SID_MIRROR:-http://deb.debian.org/debian}
STAMP=.mp-ready-1
# shellcheck source=tools/chroot.sh
. "$root/tools/chroot.sh"

if [ "${1:-}" = can ]; then
    root_can "$R" "$STAMP"
    exit
fi
whl=${1:?usage: tools/wheel-check.sh can|WHEEL}
if [ ! -f "$R/$STAMP" ]; then
    root_make "$R" bookworm "$MIRROR" wheel python3 python3-venv || exit 1
    touch "$R/$STAMP"
fi
rm -rf "$R/project" "$R/opt/wheel-venv"
mkdir -p "$R/project"
cp "$whl" "$R/project/"
cp "$root/tests/targets/example.py" "$R/project/"
root_in "$R" sh -ec '
    ! command -v cc && ! command -v gcc
    ! ls /usr/lib/*/libcairo.so* 2>/dev/null
    python3 -m venv /opt/wheel-venv
    /opt/wheel-venv/bin/pip install -q --no-index /project/*.whl
    /opt/wheel-venv/bin/python -m memory_profiler example.py > report.txt
    grep -q "b = \[2\] \* (2 \* 10 \*\* 7)" report.txt
    /opt/wheel-venv/bin/mprof run -T 0.01 -o ex.dat example.py > /dev/null
    /opt/wheel-venv/bin/mprof peak ex.dat
    /opt/wheel-venv/bin/mprof plot ex.dat -o ex.png
    test -s ex.png
' >/dev/null
echo "wheel-check: $(basename "$whl") installed with no index into a venv of Debian's python3 (no compiler, no cairo); profiled, recorded and plotted"
