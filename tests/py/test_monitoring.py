"""sys.monitoring (3.12+): which events our tool asks for, found by name and
by trying, never by event number or version."""
import sys

import pytest

from conftest import run_watched, env_with_us

pytestmark = pytest.mark.skipif(sys.version_info < (3, 12), reason="sys.monitoring is 3.12+")


PROBE = r"""
import sys
mon = sys.monitoring
E = mon.events

def local_unwind_accepted():
    # The same question our tracer asks CPython, with a free tool id.
    tool = next(i for i in range(6) if mon.get_tool(i) is None)
    mon.use_tool_id(tool, "probe")
    try:
        mon.set_local_events(tool, (lambda: 0).__code__, E.PY_UNWIND | E.PY_THROW)
        return True
    except ValueError:
        return False
    finally:
        mon.free_tool_id(tool)

import memory_profiler
prof = memory_profiler.LineProfiler()

def boom():
    raise KeyError(1)

def f():
    a = [1] * 1000
    try:
        boom()
    except KeyError:
        pass
    # Inside the profiled call: what is our tool listening to?
    ours = [i for i in range(6) if mon.get_tool(i) == "memory_profiler"]
    assert len(ours) == 1, ours
    t = ours[0]
    print("global", mon.get_events(t))
    print("local", mon.get_local_events(t, f.__code__))
    print("boom-local", mon.get_local_events(t, boom.__code__))
    return len(a)

wrapped = prof(f)
print("result", wrapped())
print("accepted", local_unwind_accepted())
print("UNWIND", E.PY_UNWIND)
print("THROW", E.PY_THROW)
print("LINE", E.LINE)
occ = {ln: v[2] for ln, v in prof.code_map[f.__code__].items() if v is not None}
print("occ", sorted(occ.values()))
"""


def run_file(tmp_path, code):
    """A program in a real file (code_map needs the source's lines)."""
    path = tmp_path / "prog.py"
    path.write_text(code)
    return run_watched([sys.executable, str(path)], timeout=120, cwd=str(tmp_path),
                       env=env_with_us())


def _values(out):
    d = {}
    for line in out.splitlines():
        k, _, v = line.partition(" ")
        d[k] = v
    return d


def test_unwind_and_throw_are_local_where_cpython_accepts_them(tmp_path):
    r = run_file(tmp_path, PROBE)
    assert r.returncode == 0, r.stderr
    v = _values(r.stdout)
    assert v["result"] == "1000"
    unwind_throw = int(v["UNWIND"]) | int(v["THROW"])
    g, local = int(v["global"]), int(v["local"])
    # Line events are asked for on the profiled code only, never on others.
    assert local & int(v["LINE"])
    assert int(v["boom-local"]) == 0
    if v["accepted"] == "True":   # 3.15 and later: nothing global at all
        assert g == 0
        assert local & unwind_throw == unwind_throw
    else:                         # 3.12-3.14: the two are global-only events
        assert g == unwind_throw
        assert local & unwind_throw == 0
    # The exception raised and caught inside the profiled call did not
    # disturb the accounting: every line ran once.
    assert set(v["occ"].strip("[]").split(", ")) == {"1"}


def test_local_unwind_ends_a_profiled_frame_left_by_an_exception(tmp_path):
    r = run_file(tmp_path, r"""
import memory_profiler
prof = memory_profiler.LineProfiler()

def f(n):
    a = bytearray(n)
    raise ValueError(len(a))

def g():
    for i in range(3):
        try:
            f(2 ** 20)
        except ValueError:
            pass
    return 0

prof.add_function(f)
w = prof(g)
w()
rows = {ln: v for ln, v in prof.code_map[f.__code__].items() if v is not None}
print(sorted(v[2] for v in rows.values()))
""")
    assert r.returncode == 0, r.stderr
    # "def", "a = ...", "raise ..." each counted once per call, three calls.
    assert r.stdout.split("\n")[0] == "[3, 3, 3]", r.stdout
