#!/usr/bin/env bash
# Apache Spark's UDF memory profiler on top of ours, in a real local session:
# one venv per PySpark line (4.3.0 and 3.5.9) with pandas and pyarrow, then
# tests/spark with each. Needs Java (Debian: openjdk-17-jre-headless).
#
#   tools/spark.sh can      exit 0 if Java and a suitable Python are here
#   tools/spark.sh test     the Spark tests with each PySpark
#   tools/spark.sh python   the first PySpark venv's interpreter (for bench)
#
# Environment: MP_SPARK_VERSIONS (default "4.3.0 3.5.9").
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
VERSIONS=${MP_SPARK_VERSIONS:-4.3.0 3.5.9}

base_python() {
    # PySpark 3.5 and 4.x both support 3.10 and 3.11.
    local line
    line=$("$root/tools/pythons.sh" 3.11 2>/dev/null || true)
    [ -n "$line" ] || line=$("$root/tools/pythons.sh" 3.10 2>/dev/null || true)
    [ -n "$line" ] && echo "${line#* }"
}

can() {
    command -v java >/dev/null 2>&1 && base_python >/dev/null
}

venv_for() { # version -> venv path (made if needed)
    local ver=$1 py
    local d="$root/.venv/spark-$ver"
    if [ ! -x "$d/bin/python" ] || ! "$d/bin/python" -c 'import pyspark, pandas, pyarrow, pytest, psutil' >/dev/null 2>&1; then
        py=$(base_python) || return 1
        "$py" -m venv "$d" >&2 || return 1
        # psutil: only for the reference 0.61 in the Spark benchmark (it
        # comes from its own folder there, never installed here).
        "$d/bin/python" -m pip install -q --disable-pip-version-check "pyspark==$ver" \
            "pandas<3" pyarrow numpy pytest psutil >&2 || return 1
    fi
    echo "$d"
}

case "${1:-}" in
can) can ;;
python)
    set -- $VERSIONS
    d=$(venv_for "$1") || exit 1
    echo "$d/bin/python"
    ;;
test)
    can || { echo "spark: needs java and Python 3.10 or 3.11" >&2; exit 1; }
    failed=()
    for ver in $VERSIONS; do
        echo "=== PySpark $ver"
        d=$(venv_for "$ver") || { failed+=("$ver(install)"); continue; }
        if ! PYTHONPATH="$root" PYSPARK_PYTHON="$d/bin/python" PYSPARK_DRIVER_PYTHON="$d/bin/python" \
            "$d/bin/python" -m pytest -q -p no:cacheprovider -W ignore::FutureWarning tests/spark; then
            failed+=("$ver")
        fi
    done
    echo "=== PySpark: ${failed[*]:-all passed}${failed[*]:+ failed}"
    [ "${#failed[@]}" -eq 0 ]
    ;;
*) echo "usage: tools/spark.sh can|test|python" >&2; exit 2 ;;
esac
