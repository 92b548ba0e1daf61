#!/usr/bin/env bash
# The Python suite on every CPython 3.8-3.13 found, each in its own virtual
# environment (tools/venvs.sh), the extension built in place for each.
# Exits non-zero if any interpreter fails or none is found.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
mapfile -t pythons < <(tools/venvs.sh)
if [ "${#pythons[@]}" -eq 0 ]; then
    echo "test-all: no CPython 3.8-3.13 found" >&2
    exit 1
fi
failed=()
passed=0
for py in "${pythons[@]}"; do
    v=$("$py" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
    echo "=== Python $v ($py)"
    if ! make -s ext mprof PYTHON="$py"; then
        failed+=("$v (build)")
        continue
    fi
    if PYTHONPATH="$root" "$py" -m pytest -q -p no:cacheprovider tests/py; then
        passed=$((passed + 1))
    else
        failed+=("$v")
    fi
done
echo "=== interpreters tested: ${#pythons[@]} ${failed[*]:+(failed: ${failed[*]})}"
echo "interpreters: $passed passed, ${#failed[@]} failed"
[ "${#failed[@]}" -eq 0 ]
