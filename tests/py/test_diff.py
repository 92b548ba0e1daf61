"""mprof diff and python -m memory_profiler --baseline: two runs' line reports
compared line by line, numbers checked against what the code allocates."""
import json
import os
import re
import sys
import textwrap

import pytest

from conftest import BUILD, MPROF, ROOT, env_with_us, run_watched

MIB = 2.0 ** 20

V1 = """\
    @profile
    def load(n):
        rows = [None] * n
        index = bytearray(n)
        return len(index)

    @profile
    def other():
        return sum(range(1000))

    load(1000000)
    other()
    """

# Lines moved down (a comment, a new line above), one line added (8 MB of
# list storage), one function gone and one new.
V2 = """\
    # a comment that moves every line down
    @profile
    def load(n):
        rows = [None] * n
        extra = [None] * n
        index = bytearray(n)
        return len(index)

    @profile
    def fresh():
        return 1

    load(1000000)
    fresh()
    """


def mprof(*args, cwd):
    return run_watched([MPROF] + list(args), cwd=str(cwd), timeout=120)


def report(tmp_path, name, source, *extra):
    script = tmp_path / (name + ".py")
    script.write_text(textwrap.dedent(source))
    out = tmp_path / (name + ".json")
    r = run_watched([sys.executable, "-m", "memory_profiler", "--columns", "heap", "--json",
                     str(out), "-o", os.devnull] + list(extra) + [str(script)],
                    cwd=str(tmp_path), timeout=300, env=env_with_us())
    assert r.returncode == 0, r.stderr
    return out


@pytest.fixture
def reports(tmp_path):
    return report(tmp_path, "v1", V1), report(tmp_path, "v2", V2)


def rows(text):
    """{line text: (base, new, change)} of a text diff, MiB (None for '-')."""
    got = {}
    for line in text.splitlines():
        m = re.match(r"^\s+(-|\S+ MiB)\s+(-|\S+ MiB)\s+([+-]\S+) MiB   (.*?)(   <-- .*)?$", line)
        if m:
            num = lambda s: None if s == "-" else float(s.split()[0])
            got[m.group(4)] = (num(m.group(1)), num(m.group(2)), float(m.group(3)))
    return got


def test_lines_match_by_text_and_the_heap_change_is_exact(tmp_path, reports):
    base, new = reports
    r = mprof("diff", str(base), str(new), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    got = rows(r.stdout)
    # The added line: a list of 10^6 pointers (8,000,000 bytes + header).
    base_v, new_v, change = got["extra = [None] * n"]
    assert base_v is None and abs(new_v * MIB - 8e6) < 600 and change == new_v  # 3 decimals of MiB
    # The moved lines are matched (same text), unchanged, so not listed.
    assert "rows = [None] * n" not in got and "index = bytearray(n)" not in got
    assert "Function: load (v2.py)" in r.stdout
    assert "Functions only in %s: other (v1.py)" % base in r.stdout
    assert "Functions only in %s: fresh (v2.py)" % new in r.stdout
    assert "Python-heap bytes, net" in r.stdout
    assert r.stdout.rstrip().endswith("1 line changed, 0 over the limits.")
    # --all lists the unchanged lines too, with equal sides.
    r = mprof("diff", "--all", str(base), str(new), cwd=tmp_path)
    b, n, c = rows(r.stdout)["rows = [None] * n"]
    assert b == n and c == 0 and abs(b * MIB - 8e6) < 600


def test_limits_fail_with_status_7_and_say_which_line(tmp_path, reports):
    base, new = reports
    r = mprof("diff", "--max-line", "7MB", str(base), str(new), cwd=tmp_path)
    assert r.returncode == 7
    assert re.search(r"extra = \[None\] \* n   <-- added, over the line limit", r.stdout)
    assert "1 over the limits" in r.stdout
    r = mprof("diff", "--max-line", "8 MiB", str(base), str(new), cwd=tmp_path)
    assert r.returncode == 0  # 8,000,056 bytes is under 8 MiB
    r = mprof("diff", "--max-total", "1MB", str(base), str(new), cwd=tmp_path)
    assert r.returncode == 7 and "(function total)   <-- over the function limit" in r.stdout
    # The other way round, the line was removed: shrinking never fails.
    r = mprof("diff", "--max-line", "0", "--max-total", "0", str(new), str(base), cwd=tmp_path)
    assert r.returncode == 0, r.stdout
    assert re.search(r"extra = \[None\] \* n   <-- removed", r.stdout)


def test_markdown_for_a_pull_request(tmp_path, reports):
    base, new = reports
    r = mprof("diff", "--markdown", "--max-line", "1MB", str(base), str(new), cwd=tmp_path)
    assert r.returncode == 7
    lines = r.stdout.splitlines()
    assert lines[0] == "### Memory per line: Python-heap bytes, net"
    assert "| function | line | base | new | change | |" in lines
    row = [l for l in lines if "`extra = [None] * n`" in l]
    assert len(row) == 1 and row[0].startswith("| `load` |") and "added, over the line limit" in row[0]
    assert any(l.startswith("| `load` | **total** |") for l in lines)
    assert lines[-1] == "**1 line changed, 1 over the limits.**"


def test_metric_choice_and_a_missing_column(tmp_path, reports):
    base, new = reports
    r = mprof("diff", "--metric", "increment", str(base), str(new), cwd=tmp_path)
    assert r.returncode == 0 and "RSS increment" in r.stdout
    r = mprof("diff", "--metric", "native", str(base), str(new), cwd=tmp_path)
    assert r.returncode == 6
    assert r.stderr.strip().splitlines() == [
        "mprof diff: error: native: %s has no native column (record both with --columns native)" % base]


def test_bad_input_is_one_line_and_a_status(tmp_path, reports):
    base, _ = reports
    (tmp_path / "bad.json").write_text('{"functions": [1, 2,]}')
    (tmp_path / "other.json").write_text('{"functions": []}')
    cases = [
        (["diff", str(base)], 2, "the following arguments are required: NEW"),
        (["diff", "--metric", "bytes", str(base), str(base)], 2, "invalid choice: 'bytes'"),
        (["diff", "--max-line", "lots", str(base), str(base)], 2, "argument --max-line: not a size: 'lots'"),
        (["diff", str(base), "missing.json"], 6, "cannot read missing.json: No such file or directory"),
        (["diff", str(base), "/tmp"], 6, "cannot read /tmp: Is a directory"),
        (["diff", str(base), "bad.json"], 6, "bad.json: not JSON (expected a value"),
        (["diff", str(base), "other.json"], 6, "other.json: not a line report"),
        (["diff", str(base), str(base), "extra"], 2, "unrecognized arguments: extra"),
    ]
    for args, code, message in cases:
        r = mprof(*args, cwd=tmp_path)
        assert r.returncode == code, (args, r.returncode, r.stderr)
        errors = [l for l in r.stderr.splitlines() if l.startswith("mprof diff: error:")]
        assert len(errors) == 1 and message.split(" (")[0] in errors[0], (args, r.stderr)
        assert "Traceback" not in r.stderr


def test_python_m_memory_profiler_baseline(tmp_path, reports):
    base, _ = reports
    script = tmp_path / "v2.py"
    r = run_watched([sys.executable, "-m", "memory_profiler", "--columns", "heap", "--baseline",
                     str(base), "--max-line", "7MB", "-o", os.devnull, str(script)],
                    cwd=str(tmp_path), timeout=300, env=env_with_us())
    assert r.returncode == 7, r.stderr
    assert "this run" in r.stderr and "over the line limit" in r.stderr
    assert r.stdout == ""  # the program's stdout is its own
    # Within the limits: the program's own status.
    r = run_watched([sys.executable, "-m", "memory_profiler", "--columns", "heap", "--baseline",
                     str(base), "--max-line", "9MB", "-o", os.devnull, str(script)],
                    cwd=str(tmp_path), timeout=300, env=env_with_us())
    assert r.returncode == 0, r.stderr
    # A program that fails keeps its status (1), limits or not.
    failing = tmp_path / "fails.py"
    failing.write_text(textwrap.dedent(V2) + "raise SystemExit(3)\n")
    r = run_watched([sys.executable, "-m", "memory_profiler", "--columns", "heap", "--baseline",
                     str(base), "--max-line", "1", "-o", os.devnull, str(failing)],
                    cwd=str(tmp_path), timeout=300, env=env_with_us())
    assert r.returncode == 3


def test_baseline_errors_before_the_program_runs(tmp_path):
    marker = tmp_path / "ran"
    script = tmp_path / "p.py"
    script.write_text("open(%r, 'w').close()\n" % str(marker))
    (tmp_path / "notreport.json").write_text(json.dumps({"a": 1}))
    for args, message in [
        (["--baseline", "nope.json"], "cannot read the baseline nope.json"),
        (["--baseline", "notreport.json"], "notreport.json: not a line report"),
        (["--max-line", "1MB"], "argument --max-line: only with --baseline"),
        (["--baseline", "notreport.json", "--max-line", "big"], "argument --max-line: not a size"),
    ]:
        r = run_watched([sys.executable, "-m", "memory_profiler"] + args + [str(script)],
                        cwd=str(tmp_path), timeout=120, env=env_with_us())
        assert r.returncode == 2, (args, r.stderr)
        assert message in r.stderr and "Traceback" not in r.stderr, (args, r.stderr)
        assert not marker.exists()
