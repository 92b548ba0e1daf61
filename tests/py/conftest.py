import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TARGETS = os.path.join(ROOT, "tests", "targets")
MIB = float(2 ** 20)


def env_with_us(**extra):
    env = dict(os.environ)
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    env.pop("PYTHONMALLOC", None) if "PYTHONMALLOC" not in extra else None
    env.update(extra)
    return env


def run_cli(*args, cwd=None, stdin=None, timeout=300, python=None, env=None):
    """python -m memory_profiler ARGS in a subprocess (a crash is a failure
    with output, not a dead test run)."""
    cmd = [python or sys.executable, "-m", "memory_profiler"] + list(args)
    return subprocess.run(cmd, cwd=cwd or TARGETS, input=stdin, capture_output=True,
                          text=True, timeout=timeout, env=env or env_with_us())


def run_py(code, *args, cwd=None, timeout=300):
    return subprocess.run([sys.executable, "-c", code] + list(args), cwd=cwd or TARGETS,
                          capture_output=True, text=True, timeout=timeout,
                          env=env_with_us())


ROW = re.compile(r"^\s*(\d+)\s+(-?\d+\.\d+) MiB\s+(-?\d+\.\d+) MiB\s+(\d+)   (.*)$")


def parse_report(text):
    """{(function's first line): {lineno: (mem, inc, occ, source)}} per block,
    in order, as a list of (filename, rows)."""
    blocks = []
    for chunk in text.split("Filename: ")[1:]:
        lines = chunk.split("\n")
        rows = {}
        for line in lines[4:]:
            m = ROW.match(line)
            if m:
                rows[int(m.group(1))] = (float(m.group(2)), float(m.group(3)),
                                         int(m.group(4)), m.group(5))
        blocks.append((lines[0], rows))
    return blocks


def row_for(rows, fragment):
    hits = [v for v in rows.values() if fragment in v[3]]
    assert len(hits) == 1, (fragment, rows)
    return hits[0]


def reference_python():
    """The reference memory_profiler 0.61's interpreter for this Python
    version, from tools/venvs.sh (.venv/ref-X.Y)."""
    v = "%d.%d" % sys.version_info[:2]
    p = os.path.join(ROOT, ".venv", "ref-" + v, "bin", "python")
    return p if os.path.exists(p) else None
