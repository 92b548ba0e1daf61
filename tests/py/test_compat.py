"""Our report against the reference memory_profiler 0.61's, numbers masked.

The reference runs from its own virtual environment (tools/venvs.sh makes
.venv/ref-X.Y), so the two packages called memory_profiler never meet."""
import os
import re
import subprocess
import sys

import pytest

from conftest import FREE_THREADED, TARGETS, reference_python, run_cli

NUM = re.compile(r" *-?\d+\.\d+ MiB")

REF = reference_python()
pytestmark = pytest.mark.skipif(
    REF is None and not os.environ.get("CI"),
    reason="reference environment missing: run tools/venvs.sh")


def masked(text):
    return NUM.sub(" <n> MiB", text)


def run_reference(*args):
    assert REF is not None, "CI must provide the reference environment"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run([REF, "-m", "memory_profiler"] + list(args), cwd=TARGETS,
                          capture_output=True, text=True, timeout=300, env=env)


@pytest.mark.parametrize("target, args", [
    ("example.py", []),
    ("accuracy.py", ["loop3"]),
    ("accuracy.py", ["bytes_line", "list_line"]),
])
@pytest.mark.parametrize("precision", [None, "1"])
def test_masked_reports_are_identical(target, args, precision):
    opts = ["--precision", precision] if precision else []
    ref = run_reference(*opts, target, *args)
    ours = run_cli(*opts, target, *args)
    assert ref.returncode == ours.returncode == 0, (ref.stderr, ours.stderr)
    assert masked(ours.stdout) == masked(ref.stdout)


def test_decorator_report_identical_outside_cli(tmp_path):
    s = tmp_path / "deco.py"
    s.write_text("from memory_profiler import profile\n\n"
                 "@profile(precision=2)\n"
                 "def f():\n"
                 "    a = [1] * 1000\n"
                 "    # a comment\n"
                 "    return a\n\n"
                 "f()\nf()\n")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    ref = subprocess.run([REF, str(s)], capture_output=True, text=True, env=env,
                         cwd=str(tmp_path))
    from conftest import env_with_us
    ours = subprocess.run([sys.executable, str(s)], capture_output=True, text=True,
                          env=env_with_us(), cwd=str(tmp_path))
    assert ref.returncode == ours.returncode == 0, (ref.stderr, ours.stderr)
    assert masked(ours.stdout) == masked(ref.stdout)


def test_timestamp_output_shape_matches():
    shape = re.compile(r"^FUNC \S+ \d+\.\d{4} \d+\.\d{4} \d+\.\d{4} \d+\.\d{4} \d+$")
    ref = run_reference("--timestamp", "example.py")
    ours = run_cli("--timestamp", "example.py")
    assert [l.split()[1] for l in ref.stdout.split("\n") if l] == \
           [l.split()[1] for l in ours.stdout.split("\n") if l]
    assert all(shape.match(l) for l in ours.stdout.strip().split("\n"))


# Straight-line lines, where the reference measures right: same increments.
# (Not the decorator's line, where the reference prints the whole process's
# memory, nor loops, where it subtracts the maximum of other lines.)
AGREE = [
    ("example.py", [], ["a = [1] * (10 ** 6)", "b = [2] * (2 * 10 ** 7)", "del b"]),
    ("accuracy.py", ["bytes_line", "list_line", "bytearray_written"],
     ["x = b'x' * N", "x = [0] * (N // 8)", "x = bytearray(N)", "del x"]),
]


def increments(report):
    from conftest import parse_report
    out = {}
    for _, rows in parse_report(report):
        for mem, inc, occ, src in rows.values():
            out.setdefault(src.strip(), []).append(inc)
    return out


@pytest.mark.parametrize("target, args, lines", AGREE)
def test_numbers_agree_with_the_reference_where_it_is_right(target, args, lines):
    ref = run_reference(target, *args)
    ours = run_cli(target, *args)
    assert ref.returncode == ours.returncode == 0, (ref.stderr, ours.stderr)
    theirs, mine = increments(ref.stdout), increments(ours.stdout)
    if FREE_THREADED:
        # Only the lines before the run's first free: on a free-threaded
        # build RSS does not fall at `del` (QSBR frees later, as without a
        # profiler), and what a later line gets depends on when the pages
        # came back; the reference's slow per-line work gives CPython time
        # to take them back sooner, so it sees other numbers, not truer ones.
        lines = {"example.py": lines[:2], "accuracy.py": lines[:1]}[target]
    for src in lines:
        assert len(theirs[src]) == len(mine[src]), src
        for a, b in zip(theirs[src], mine[src]):
            # within 1 MiB, or 2% of large changes (page-cache and allocator noise)
            assert abs(a - b) <= max(1.0, 0.02 * abs(a)), (src, a, b, ours.stdout, ref.stdout)
