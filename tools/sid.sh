#!/usr/bin/env bash
# CPython 3.14 and 3.15 on a Debian 12 machine: Debian's unstable archive (sid)
# carries them, but their binaries need a newer glibc than the host's, so they
# run in a sid root made with debootstrap. The project is copied into the root
# (never bind-mounted: a leftover bind mount under a tree someone deletes would
# delete the project), and /proc, /sys and /dev are mounted in a private mount
# namespace (unshare -m), so no mount outlives the command, whatever happens.
#
#   tools/sid.sh can          exit 0 if this machine can make or use the root
#   tools/sid.sh setup        make the root (once), its packages and venvs
#   tools/sid.sh run CMD...   sync the sources into the root, run CMD there
#                             (in /project, with a clean environment)
#   tools/sid.sh test         make test in the root: C tests, and the Python
#                             suite on 3.14 and 3.15
#   tools/sid.sh check        -Werror with sid's gcc and clang, and the
#                             sanitized suite on 3.15, in the root
#   tools/sid.sh bench [ARGS] make bench's run.py in the root (3.14, 3.15)
#   tools/sid.sh versions     the X.Y of the interpreters the root offers
#
# Environment: MP_SID_ROOT (default /var/tmp/memory-profiler-c-sid),
# MP_SID_MIRROR (default http://deb.debian.org/debian), MP_SID_PYTHONS
# (default "3.14 3.15").
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
R=${MP_SID_ROOT:-/var/tmp/memory-profiler-c-sid}
MIRROR=${MP_SID_MIRROR:-http://deb.debian.org/debian}
PYS=${MP_SID_PYTHONS:-3.14 3.15}
# Bump when the package list or the venv contents change, so roots made by
# an older version of this script are brought up to date.
STAMP_VERSION=6

packages() {
    local v
    for v in $PYS; do
        printf 'python%s python%s-dev python%s-venv ' "$v" "$v" "$v"
    done
    # Build (gcc and the C tests' Check), plotting, and what the suite runs
    # (procps for ps, util-linux for setpriv, ca-certificates for pip).
    printf 'build-essential pkg-config check libcairo2-dev libfontconfig-dev fonts-dejavu-core '
    printf 'ca-certificates procps util-linux clang\n'
}

die() { echo "sid: $*" >&2; exit 1; }

# shellcheck source=tools/chroot.sh
. "$root/tools/chroot.sh"

can() { root_can "$R" ".mp-ready-$STAMP_VERSION"; }

in_root() { root_in "$R" "$@"; }

setup() {
    if [ -f "$R/.mp-ready-$STAMP_VERSION" ]; then
        return 0
    fi
    # shellcheck disable=SC2046
    root_make "$R" sid "$MIRROR" sid $(packages) || exit 1
    # The test and reference venvs, as on the host (tools/venvs.sh), kept in
    # the root's /opt/venv and linked into the project copy as .venv.
    sync_sources
    in_root env MP_PYTHON_VERSIONS="$PYS" tools/venvs.sh >/dev/null ||
        die "making the venvs in the root failed"
    touch "$R/.mp-ready-$STAMP_VERSION"
}

# Copy the sources into /project of the root (build output and venvs stay
# apart: the root's venvs are linked in as .venv).
sync_sources() {
    mkdir -p "$R/project"
    local d
    for d in Makefile pyproject.toml setup.py README.md mprof.py src memory_profiler tests tools bench docs; do
        rm -rf "${R:?}/project/$d"
        cp -r "$root/$d" "$R/project/$d"
    done
    rm -f "$R"/project/memory_profiler/_core*.so
    rm -rf "$R/project/.venv"
    mkdir -p "$R/opt/venv"
    ln -s /opt/venv "$R/project/.venv"
}

run() {
    setup
    sync_sources
    in_root "$@"
}

# make test inside the root: the C tests built by sid's gcc, then the
# Python suite on each of its interpreters (tools/test-all.sh, which prints
# the lines the host's test-all.sh reads back).
test_all() {
    setup
    sync_sources
    echo "=== sid root $R: $(in_root sh -c 'gcc --version | head -1')"
    in_root env MP_NO_SID=1 MP_NO_SPARK=1 MP_NO_FT=1 MP_PYTHON_VERSIONS="$PYS" make -s test
}

# make check's steps that matter for a new compiler and interpreter, inside
# the root: -Werror with sid's gcc and clang, and the sanitized suite on the
# newest interpreter (MP_SID_SAN_PYTHONS to choose).
check() {
    setup
    sync_sources
    local san="" v
    for v in ${MP_SID_SAN_PYTHONS:-${PYS##* }}; do
        san="$san /project/.venv/test-$v/bin/python"
    done
    in_root env MP_PYTHON_VERSIONS="$PYS" MP_CHECK_TAG="(sid)" CHECK_STEPS="warnings sanitizers" \
        SAN_PYTHONS="${san# }" tools/check.sh
}

# make bench inside the root, for its interpreters and the peers that have
# a wheel there (tools/bench-venvs.sh); BENCH_ARGS are passed on.
bench() {
    setup
    sync_sources
    in_root env MP_PYTHON_VERSIONS="$PYS" sh -c "tools/bench-venvs.sh >/dev/null &&
        .venv/bench-${PYS##* }/bin/python bench/run.py $*"
}

case "${1:-}" in
can) can ;;
setup) setup ;;
run) shift; run "$@" ;;
test) test_all ;;
check) check ;;
bench) shift; bench "$@" ;;
versions) echo "$PYS" ;;
*) echo "usage: tools/sid.sh can|setup|run CMD...|test|check|bench [ARGS]|versions" >&2; exit 2 ;;
esac
