"""The pytest plugin (memory_profiler.pytest_plugin) on a sample project:
budgets against what the tests allocate by construction, the report on a
breach, the JSON artifacts, the default limit, xdist, and pytest-memray's
verdicts on the same limit_memory tests."""
import glob
import json
import os
import re
import sys

import pytest

from conftest import ROOT, env_with_us, run_watched

MIB = 2 ** 20

SAMPLE = '''\
import pytest

def test_small():
    x = [0] * 1000
    assert len(x) == 1000

@pytest.mark.limit_memory("1 MB")
def test_over_the_limit():
    keep = bytearray(3 * 2 ** 20)
    small = [1] * 10

@pytest.mark.limit_memory("10 MB")
def test_under_the_limit():
    tmp = bytearray(3 * 2 ** 20)
    del tmp

@pytest.mark.memory_budget(heap_net="100 KB")
def test_leaks():
    global LEAK
    LEAK = bytearray(2 * 2 ** 20)

def test_unmarked_8mb():
    tmp = bytearray(8 * 2 ** 20)
    del tmp
'''


def pytest_run(tmp_path, *args, python=None, plugin=True):
    (tmp_path / "test_sample.py").write_text(SAMPLE)
    cmd = [python or sys.executable, "-m", "pytest", "-q", "-rA", "-p", "no:cacheprovider"]
    if plugin:
        cmd += ["-p", "memory_profiler.pytest_plugin"]
    env = env_with_us()
    env.pop("PYTEST_ADDOPTS", None)
    return run_watched(cmd + list(args) + ["test_sample.py"], cwd=str(tmp_path), timeout=300,
                       env=env)


def outcomes(stdout):
    return dict((m.group(2), m.group(1))
                for m in re.finditer(r"^(PASSED|FAILED) test_sample.py::(\w+)", stdout, re.M))


def test_budgets_by_construction_with_the_report_and_json(tmp_path):
    r = pytest_run(tmp_path, "--memprof", "--memprof-json", "out")
    assert r.returncode == 1, r.stdout[-3000:] + r.stderr
    assert outcomes(r.stdout) == {"test_small": "PASSED", "test_over_the_limit": "FAILED",
                                  "test_under_the_limit": "PASSED", "test_leaks": "FAILED",
                                  "test_unmarked_8mb": "PASSED"}
    # The failure says which budget, by how much, and shows the test's lines.
    assert re.search(r"heap_peak 3\.0\d\d MiB > 1\.000 MiB", r.stdout)
    assert re.search(r"^\s+\d+ .*\s3\.000 MiB\s+3\.000 MiB\s+keep = bytearray\(3 \* 2 \*\* 20\)$",
                     r.stdout, re.M), r.stdout
    assert re.search(r"heap_net 2\.0\d\d MiB > 0\.098 MiB", r.stdout)
    assert "2 over their budgets" in r.stdout
    docs = {}
    for path in glob.glob(str(tmp_path / "out" / "*.json")):
        doc = json.load(open(path))
        docs[doc["test"].split("::")[1]] = doc
    assert sorted(docs) == sorted(outcomes(r.stdout))
    over = docs["test_over_the_limit"]
    assert 3 * MIB <= over["heap_peak"] <= 3 * MIB + 64 * 1024, over
    assert over["limits"] == {"heap_peak": 1 * MIB} and over["over"] == ["heap_peak"]
    lines = {l["source"].strip(): l for l in over["lines"]["functions"][0]["lines"]}
    assert 3 * MIB <= lines["keep = bytearray(3 * 2 ** 20)"]["heap_net"] <= 3 * MIB + 1024
    leak = docs["test_leaks"]
    assert 2 * MIB <= leak["heap_net"] <= 2 * MIB + 64 * 1024 and leak["over"] == ["heap_net"]
    # A temporary freed before the end: its peak counts, its net does not.
    under = docs["test_under_the_limit"]
    assert under["heap_peak"] >= 3 * MIB and abs(under["heap_net"]) < 64 * 1024
    assert docs["test_small"]["heap_peak"] < 64 * 1024


def test_default_limit_and_the_marker_that_overrides_it(tmp_path):
    r = pytest_run(tmp_path, "--memprof-limit", "5MB")
    assert outcomes(r.stdout) == {"test_small": "PASSED", "test_over_the_limit": "FAILED",
                                  "test_under_the_limit": "PASSED", "test_leaks": "FAILED",
                                  "test_unmarked_8mb": "FAILED"}
    assert re.search(r"heap_peak 8\.0\d\d MiB > 5\.000 MiB", r.stdout)


def test_inert_without_its_options(tmp_path):
    r = pytest_run(tmp_path)
    assert r.returncode == 0, r.stdout[-2000:]
    assert set(outcomes(r.stdout).values()) == {"PASSED"}
    assert "memory (memory_profiler)" not in r.stdout


def test_bad_sizes_are_usage_errors(tmp_path):
    r = pytest_run(tmp_path, "--memprof-limit", "lots")
    assert r.returncode == 4 and "--memprof-limit: not a size: 'lots'" in r.stderr, r.stderr
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "test_sample.py").write_text(
        "import pytest\n@pytest.mark.limit_memory('a lot')\ndef test_x():\n    pass\n")
    r = run_watched([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p",
                     "memory_profiler.pytest_plugin", "--memprof", "test_sample.py"],
                    cwd=str(bad), timeout=120, env=env_with_us())
    assert r.returncode != 0 and "limit_memory: not a size: 'a lot'" in r.stdout + r.stderr


def test_under_xdist_with_the_workers_combined_peak(tmp_path):
    pytest.importorskip("xdist")
    r = pytest_run(tmp_path, "--memprof", "-n", "2")
    assert outcomes(r.stdout) == {"test_small": "PASSED", "test_over_the_limit": "FAILED",
                                  "test_under_the_limit": "PASSED", "test_leaks": "FAILED",
                                  "test_unmarked_8mb": "PASSED"}, r.stdout[-3000:]
    assert "5 tests measured, 2 over their budgets" in r.stdout
    m = re.search(r"the controller and its workers together: peak RSS (\d+\.\d+) MiB", r.stdout)
    assert m and float(m.group(1)) > 3 * 20, r.stdout[-2000:]  # three interpreters at least


@pytest.mark.skipif(os.environ.get("MP_SANITIZED") == "1",
                    reason="memray's own allocator hooks under the preloaded ASan runtime")
def test_limit_memory_verdicts_match_pytest_memray(tmp_path):
    v = "%d.%d" % sys.version_info[:2]
    memray_py = os.path.join(ROOT, ".venv", "memray-" + v, "bin", "python")
    if not os.path.exists(memray_py):
        pytest.skip("no pytest-memray environment for Python %s (tools/venvs.sh makes one "
                    "for 3.11)" % v)
    limited = ("test_small", "test_over_the_limit", "test_under_the_limit")
    ours = outcomes(pytest_run(tmp_path, "--memprof").stdout)
    theirs = outcomes(pytest_run(tmp_path, "--memray", python=memray_py, plugin=False).stdout)
    assert {t: ours[t] for t in limited} == {t: theirs[t] for t in limited}, (ours, theirs)


def test_native_budget_counts_a_libraries_malloc(tmp_path):
    # A C library that mallocs 4 MiB and keeps it: native_net sees it (the
    # Python heap does not).
    import shutil
    import subprocess
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("no C compiler")
    src = tmp_path / "keep.c"
    # (k is global: a static never read would let the compiler drop the malloc)
    src.write_text("#include <stdlib.h>\n#include <string.h>\nvoid *k;\n"
                   "void keep(size_t n) { k = malloc(n); memset(k, 1, n); }\n")
    lib = tmp_path / "libkeep.so"
    subprocess.run([cc, "-shared", "-fPIC", "-O1", "-o", str(lib), str(src)], check=True)
    proj = tmp_path / "proj"
    proj.mkdir()
    (proj / "test_sample.py").write_text(
        "import ctypes, pytest\n"
        "@pytest.mark.memory_budget(native_net='1 MB')\n"
        "def test_native():\n"
        "    lib = ctypes.CDLL(%r)\n"
        "    lib.keep(ctypes.c_size_t(4 * 2 ** 20))\n" % str(lib))
    r = run_watched([sys.executable, "-m", "pytest", "-q", "-rA", "-p", "no:cacheprovider", "-p",
                     "memory_profiler.pytest_plugin", "--memprof", "--memprof-json", "out",
                     "test_sample.py"], cwd=str(proj), timeout=120, env=env_with_us())
    assert outcomes(r.stdout) == {"test_native": "FAILED"}, r.stdout[-3000:]
    assert re.search(r"native_net 4\.0\d\d MiB > 1\.000 MiB", r.stdout), r.stdout[-3000:]
    doc = json.load(open(glob.glob(str(proj / "out" / "*.json"))[0]))
    assert 4 * MIB <= doc["native_net"] <= 4 * MIB + 64 * 1024
    assert doc["heap_net"] < 1 * MIB
