"""memory_usage(): every proc form, parameter and return shape."""
import io
import os
import subprocess
import sys
import threading
import time

import pytest

import memory_profiler as mp
from memory_profiler import memory_usage
from conftest import FREE_THREADED, IN_PROCESS, RSS_FALLS_LATER

MIB = 2 ** 20


def spike(n=100 * MIB, hold=0.005):
    x = bytearray(n)          # zero-filled: resident at once
    time.sleep(hold)
    del x
    return "done"


def test_self_and_pid_forms():
    one = memory_usage()
    assert isinstance(one, list) and len(one) == 1 and one[0] > 1
    assert len(memory_usage(-1, interval=0.02, timeout=0.1)) == 5
    assert len(memory_usage(os.getpid(), interval=0.02, timeout=0.1)) == 5
    ts = memory_usage(-1, timestamps=True)
    (mem, t), = ts
    assert abs(t - time.time()) < 5 and mem > 1


@pytest.mark.parametrize("form", [
    lambda: spike,
    lambda: (spike,),
    lambda: (spike, (10 * MIB,)),
    lambda: (spike, (10 * MIB,), {"hold": 0.001}),
])
def test_callable_forms(form):
    out = memory_usage(form())
    assert isinstance(out, list) and len(out) >= 2   # first and last sample at least
    assert all(isinstance(v, float) for v in out)


def test_bad_tuple_is_a_value_error():
    with pytest.raises(ValueError):
        memory_usage((spike, (), {}, "extra"))


@pytest.mark.skipif(FREE_THREADED, reason=RSS_FALLS_LATER + IN_PROCESS)
def test_max_usage_catches_a_5ms_spike_at_the_default_interval():
    base = memory_usage()[0]
    peak = memory_usage((spike, (100 * MIB, 0.005)), max_usage=True)
    assert isinstance(peak, float)
    assert peak - base >= 100 - 2


def test_retval_and_timestamps():
    mem, ret = memory_usage((spike, (MIB,)), retval=True, timestamps=True)
    assert ret == "done"
    assert all(isinstance(v, tuple) and len(v) == 2 for v in mem)
    peak, ret = memory_usage(spike, max_usage=True, retval=True)
    assert ret == "done" and isinstance(peak, float)


def test_function_with_a_side_effect_runs_exactly_once():
    calls = []

    def fast():
        calls.append(1)
        return len(calls)
    assert memory_usage(fast, interval=0.1, max_iterations=10, retval=True)[1] == 1
    assert calls == [1]


def test_interval_of_one_millisecond_is_honoured():
    out = memory_usage((time.sleep, (0.2,)), interval=0.001)
    assert 120 <= len(out) <= 260


def test_stream_with_a_callable_writes_the_samples():
    s = io.StringIO()
    assert memory_usage((time.sleep, (0.05,)), interval=0.01, stream=s) is None
    lines = s.getvalue().splitlines()
    assert len(lines) >= 4
    for line in lines:
        tag, mem, t = line.split()
        assert tag == "MEM" and float(mem) > 1 and len(t.split(".")[1]) == 4


def test_exception_propagates_and_no_thread_is_left():
    before = threading.active_count()

    def boom():
        raise KeyError("from the callable")
    with pytest.raises(KeyError, match="from the callable"):
        memory_usage(boom, interval=0.001)
    assert threading.active_count() == before


def test_popen_until_exit_and_with_children():
    code = ("import subprocess, sys, time\n"
            "x = bytearray(60 * 2 ** 20)\n"
            "p = subprocess.Popen([sys.executable, '-c', "
            "'import time; y = bytearray(40 * 2 ** 20); time.sleep(0.6)'])\n"
            "time.sleep(0.6); p.wait()\n")
    proc = subprocess.Popen([sys.executable, "-c", code])
    out = memory_usage(proc, interval=0.05, multiprocess=True, include_children=False)
    assert proc.returncode == 0
    assert len(out) >= 5
    assert all(isinstance(v, list) for v in out)
    assert max(v[0] for v in out) >= 60
    assert max(len(v) for v in out) >= 2            # the child appeared
    assert max(max(v[1:], default=0) for v in out) >= 40
    proc = subprocess.Popen([sys.executable, "-c", code])
    total = memory_usage(proc, interval=0.05, include_children=True)
    assert max(total) >= 100 - 2


def test_popen_stream_writes_mem_and_chld():
    code = ("import subprocess, sys, time\n"
            "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(0.4)'])\n"
            "time.sleep(0.3); p.wait()\n")
    proc = subprocess.Popen([sys.executable, "-c", code])
    s = io.StringIO()
    assert memory_usage(proc, interval=0.05, stream=s, multiprocess=True) is None
    tags = [l.split()[0] for l in s.getvalue().splitlines()]
    assert "MEM" in tags and "CHLD" in tags


def test_dead_pid_is_a_clear_error():
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    with pytest.raises(ProcessLookupError, match="no process with pid %d" % p.pid):
        memory_usage(p.pid)


def test_pid_that_exits_mid_series_ends_cleanly():
    p = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(0.15)"])
    t0 = time.time()
    out = memory_usage(p.pid, interval=0.05, timeout=5)
    p.wait()
    assert time.time() - t0 < 3 and 1 <= len(out) < 100


def test_backends_and_tracemalloc():
    for b in ("psutil", "psutil_pss", "psutil_uss", "posix"):
        assert memory_usage(backend=b)[0] > 0
    mem = memory_usage((spike, (10 * MIB,)), backend="tracemalloc")
    assert isinstance(mem, list)


def _shape(x):
    if isinstance(x, (list, tuple)):
        return type(x).__name__ + "[" + ",".join(_shape(i) for i in x[:1]) + "]"
    return type(x).__name__


@pytest.mark.parametrize("kw,want", [
    (dict(), "list[float]"),
    (dict(timestamps=True), "list[tuple[float]]"),
    (dict(max_usage=True), "float"),
    (dict(max_usage=True, timestamps=True), "tuple[float]"),           # (peak, time)
    (dict(max_usage=True, timestamps=True, retval=True), "tuple[tuple[float]]"),
    (dict(multiprocess=True), "list[float]"),                          # a callable: this process only
    (dict(multiprocess=True, timestamps=True), "list[tuple[float]]"),
    (dict(multiprocess=True, include_children=True), "list[float]"),
])
def test_callable_return_shapes_are_the_references(kw, want):
    def f():
        x = [0] * 10 ** 6
        time.sleep(0.2)
        return len(x)
    r = mp.memory_usage((f,), interval=0.02, **kw)
    assert _shape(r) == want
    if kw.get("max_usage") and kw.get("timestamps"):
        peak = r[0][0] if kw.get("retval") else r[0]
        when = r[0][1] if kw.get("retval") else r[1]
        assert peak > 7 and abs(when - time.time()) < 60
