#!/usr/bin/env bash
# Find CPython interpreters by version, whatever PATH holds: pyenv's versions
# (wherever pyenv lives, even when it is not on PATH, as under CI), then
# pythonX.Y on PATH and in the usual prefixes. Only interpreters that start
# and report the version asked for are printed.
#   tools/pythons.sh 3.8 3.9 ...   -> "X.Y /path/to/pythonX.Y" lines, in order
# A version with no interpreter prints nothing (and a note on stderr).
set -uo pipefail

pyenv_roots() {
    local r
    if command -v pyenv >/dev/null 2>&1; then
        r=$(pyenv root 2>/dev/null) && [ -n "$r" ] && echo "$r"
    fi
    for r in "${PYENV_ROOT:-}" "${HOME:-/root}/.pyenv" /root/.pyenv /opt/pyenv /usr/local/pyenv; do
        [ -n "$r" ] && [ -d "$r/versions" ] && echo "$r"
    done
}

works() { # python version
    [ -x "$1" ] && [ "$("$1" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)" = "$2" ]
}

find_one() {
    local v=$1 r p
    while read -r r; do
        p=$(ls -d "$r"/versions/"$v".*/bin/python"$v" 2>/dev/null | grep -v -- '-dev/' | sort -V | tail -n 1 || true)
        if [ -n "$p" ] && works "$p" "$v"; then echo "$p"; return 0; fi
    done < <(pyenv_roots | awk '!seen[$0]++')
    for p in "$(command -v "python$v" 2>/dev/null || true)" /usr/local/bin/python"$v" /usr/bin/python"$v"; do
        # pyenv's shims exist for versions not selected; `works` weeds them out.
        if [ -n "$p" ] && works "$p" "$v"; then echo "$p"; return 0; fi
    done
    return 1
}

for v in "$@"; do
    if p=$(find_one "$v"); then
        echo "$v $p"
    else
        echo "pythons: no CPython $v found (pyenv, PATH, /usr/local/bin, /usr/bin)" >&2
    fi
done
