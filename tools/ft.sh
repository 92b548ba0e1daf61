#!/usr/bin/env bash
# A free-threaded CPython (3.13t: ./configure --disable-gil) built from the
# CPython sources Debian publishes, and its test and reference venvs.
#
#   tools/ft.sh can       exit 0 if this machine can build it (compiler, curl, xz)
#   tools/ft.sh build     build and install it once (about 10 minutes on 2 cores);
#                         prints the interpreter's path
#   tools/ft.sh venvs     build, then .venv/test-3.13t and .venv/ref-3.13t;
#                         prints the test interpreter's path
#   tools/ft.sh python    the installed interpreter's path (exit 1 if none)
#
# Where the sources come from: Debian sid's source index (Sources.xz) lists
# the python3.X orig tarballs with their SHA-256; the highest version the
# mirror really serves is taken (the index may list one the mirror does not
# have yet) and its checksum checked. python.org is not needed.
#
# Environment: MP_FT_VERSION (default 3.13), MP_FT_PREFIX (default
# /var/tmp/memory-profiler-c-ft/<version>t), MP_FT_MIRROR (default
# http://deb.debian.org/debian), MP_FT_SOURCE (a local orig tarball to use
# instead of downloading one).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
V=${MP_FT_VERSION:-3.13}
PREFIX=${MP_FT_PREFIX:-/var/tmp/memory-profiler-c-ft/${V}t}
MIRROR=${MP_FT_MIRROR:-http://deb.debian.org/debian}
PY="$PREFIX/bin/python${V}t"

die() { echo "ft: $*" >&2; exit 1; }

can() {
    command -v cc >/dev/null && command -v make >/dev/null && command -v xz >/dev/null &&
        { [ -n "${MP_FT_SOURCE:-}" ] || command -v curl >/dev/null; }
}

ready() {
    [ -x "$PY" ] && "$PY" -c 'import sys, ssl, sqlite3, zlib, ctypes; sys.exit(sys._is_gil_enabled())' \
        >/dev/null 2>&1 </dev/null
}

# The orig tarball: MP_FT_SOURCE, or the highest listed version the mirror
# serves, checksum checked. Prints its path.
fetch_source() { # workdir
    local work=$1
    if [ -n "${MP_FT_SOURCE:-}" ]; then
        [ -f "$MP_FT_SOURCE" ] || die "MP_FT_SOURCE: no such file: $MP_FT_SOURCE"
        echo "$MP_FT_SOURCE"
        return
    fi
    curl -fsS -m 300 -o "$work/Sources.xz" "$MIRROR/dists/sid/main/source/Sources.xz" ||
        die "cannot read Debian's source index at $MIRROR"
    # "version sha256 file" of each python3.X orig tarball, highest first.
    local list
    list=$(xz -dc "$work/Sources.xz" | awk -v pkg="python$V" '
        /^Package: / { p = ($2 == pkg) }
        /^Checksums-Sha256:/ { c = p; next }
        /^[^ ]/ { c = 0 }
        c && $3 ~ /\.orig\.tar\.xz$/ {
            v = $3; sub(/^[^_]*_/, "", v); sub(/\.orig\.tar\.xz$/, "", v)
            print v, $1, $3
        }' | sort -t. -k1,1nr -k2,2nr -k3,3nr -u)
    [ -n "$list" ] || die "no python$V source listed in Debian sid"
    local ver sum file
    while read -r ver sum file; do
        echo "ft: trying $file" >&2
        if curl -fsS -m 600 -o "$work/$file" "$MIRROR/pool/main/p/python$V/$file" 2>/dev/null; then
            echo "$sum  $work/$file" | sha256sum -c --quiet - >&2 ||
                die "$file: SHA-256 does not match Debian's index"
            echo "$work/$file"
            return
        fi
        echo "ft: $file is listed but the mirror does not serve it; trying an older one" >&2
    done <<<"$list"
    die "the mirror serves none of the listed python$V sources"
}

build() {
    if ready; then
        echo "$PY"
        return
    fi
    can || die "needs cc, make, xz and curl"
    local work
    work=$(mktemp -d /var/tmp/mp-ft-build.XXXXXX)
    # shellcheck disable=SC2064
    trap "rm -rf '$work'" EXIT
    local tarball
    tarball=$(fetch_source "$work")
    tar xJf "$tarball" -C "$work"
    local src
    src=$(find "$work" -mindepth 1 -maxdepth 1 -type d | head -1)
    [ -n "$src" ] || die "no source folder in $tarball"
    echo "ft: building $(basename "$src") with --disable-gil into $PREFIX" >&2
    rm -rf "$PREFIX"
    (cd "$src" && ./configure -q --disable-gil --prefix="$PREFIX" --with-ensurepip=install \
        >"$work/configure.log" 2>&1) || { tail -20 "$work/configure.log" >&2; die "configure failed"; }
    (cd "$src" && make -s -j"$(nproc)" >"$work/make.log" 2>&1) ||
        { tail -30 "$work/make.log" >&2; die "build failed"; }
    (cd "$src" && make -s install >"$work/install.log" 2>&1) ||
        { tail -30 "$work/install.log" >&2; die "install failed"; }
    ready || die "the built interpreter lacks ssl, sqlite3, zlib or ctypes, or has the GIL on (build dependencies: libssl-dev libsqlite3-dev zlib1g-dev libffi-dev)"
    echo "$PY"
}

venvs() {
    build >/dev/null
    local t="$root/.venv/test-${V}t" r="$root/.venv/ref-${V}t"
    mkdir -p "$root/.venv"
    if [ ! -x "$t/bin/python" ] || ! "$t/bin/python" -c 'import pytest, IPython' >/dev/null 2>&1; then
        rm -rf "$t"
        "$PY" -m venv "$t" >&2
        "$t/bin/python" -m pip install -q --disable-pip-version-check pytest ipython coverage >&2 ||
            die "could not install pytest, ipython, coverage for ${V}t"
        # Wheels only for these (a source build of numpy takes longer than
        # the suite): the tests that need them skip where none exists.
        local pkg
        for pkg in numpy hypothesis pytest-xdist; do
            "$t/bin/python" -m pip install -q --disable-pip-version-check --only-binary :all: "$pkg" >&2 ||
                echo "ft: no ${V}t wheel for $pkg: the tests that use it will skip" >&2
        done
    fi
    # 0.61 on the same build, so the tests that compare with it compare like
    # with like (psutil builds from source here if it has no wheel).
    if [ ! -x "$r/bin/python" ] || ! "$r/bin/python" -c 'import memory_profiler, psutil' >/dev/null 2>&1; then
        rm -rf "$r"
        "$PY" -m venv "$r" >&2
        "$r/bin/python" -m pip install -q --disable-pip-version-check memory-profiler==0.61.0 psutil >&2 ||
            die "could not install memory-profiler 0.61 and psutil for ${V}t"
    fi
    echo "$t/bin/python"
}

case "${1:-}" in
    can) can ;;
    build) build ;;
    venvs) venvs ;;
    python) ready && echo "$PY" ;;
    *) echo "usage: tools/ft.sh can|build|venvs|python" >&2; exit 2 ;;
esac
