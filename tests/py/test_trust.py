"""Trust: the profiled program is never crashed, hung or changed, and each
thread counts only its own lines. Each case ran a real program in a
subprocess; each crashed, hung or misbehaved before the design change that
installs everything once and makes every profiled call a call of its own
thread (see the README's Reliability section)."""
import os
import re
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from conftest import FREE_THREADED, MIB, ROOT, env_with_us, parse_report, run_watched

MONITORING = sys.version_info >= (3, 12)
SANITIZED = os.environ.get("MP_SANITIZED") == "1"


def run(tmp_path, code, *args, cli=False, timeout=120, env=None, extra=()):
    path = tmp_path / "prog.py"
    path.write_text(textwrap.dedent(code))
    cmd = [sys.executable] + list(extra)
    cmd += ["-m", "memory_profiler"] + list(args) + [str(path)] if cli else [str(path)]
    return run_watched(cmd, timeout=timeout, cwd=str(tmp_path), env=env or env_with_us())


def occurrences(report, fragment):
    """Occurrences of the row whose source contains fragment, per block."""
    out = []
    for _, rows in parse_report(report):
        hits = [v[2] for v in rows.values() if fragment in v[3]]
        out.extend(hits)
    return out


# ------------------------------------------------------------------- fork

def test_a_forked_child_calls_a_profiled_function(tmp_path):
    # The parked tick thread's condition variable was inherited: the child
    # hung in about half the runs.
    r = run(tmp_path, """
        import os
        import memory_profiler as mp
        prof = mp.LineProfiler()
        @prof
        def f(n):
            return sum(range(n))
        f(1000)
        for i in range(30):
            pid = os.fork()
            if pid == 0:
                f(1000)
                os._exit(7)
            _, status = os.waitpid(pid, 0)
            assert os.WEXITSTATUS(status) == 7, status
        print("forked 30")
        """, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "forked 30" in r.stdout


def test_thread_pool_then_process_pool(tmp_path):
    r = run(tmp_path, """
        import multiprocessing
        from concurrent.futures import ThreadPoolExecutor, ProcessPoolExecutor
        import memory_profiler as mp
        prof = mp.LineProfiler()
        @prof
        def f(x):
            return x * 2
        with ThreadPoolExecutor(4) as ex:
            assert list(ex.map(f, range(8))) == [x * 2 for x in range(8)]
        ctx = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(2, mp_context=ctx) as ex:
            print("sum", sum(ex.map(f, range(8))))
        """, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "sum 56" in r.stdout


def test_fork_leaves_no_multithreaded_warning(tmp_path):
    # Our threads stop before fork: CPython (3.12+) has nothing to warn about,
    # and the program runs under -W error as it does without us.
    r = run(tmp_path, """
        import os
        import memory_profiler as mp
        prof = mp.LineProfiler()
        @prof
        def f():
            return [0] * 1000
        f()
        pid = os.fork()
        if pid == 0:
            os._exit(0)
        os.waitpid(pid, 0)
        f()
        print("no warning")
        """, extra=("-W", "error"))
    assert r.returncode == 0, r.stderr
    assert "no warning" in r.stdout
    assert "multi-threaded" not in r.stderr


def test_pool_terminate_under_the_cli_never_hangs(tmp_path):
    # SIGTERM reaching a worker before it reset the inherited handler was
    # lost (about 3% of runs hung); 40 pools in one run.
    r = run(tmp_path, """
        import multiprocessing
        def work(x):
            return x + 1
        @profile
        def main():
            ctx = multiprocessing.get_context("fork")
            for i in range(40):
                pool = ctx.Pool(2)
                assert pool.map(work, range(4)) == [1, 2, 3, 4]
                pool.terminate()
                pool.join()
            return "pools done"
        print(main())
        """, cli=True, timeout=240)
    assert r.returncode == 0, r.stderr
    assert "pools done" in r.stdout


# ------------------------------------------------------ other allocator hooks

@pytest.mark.parametrize("columns", ["", "heap"])
def test_tracemalloc_stopped_inside_a_profiled_function(tmp_path, columns):
    r = run(tmp_path, """
        import tracemalloc
        import memory_profiler as mp
        tracemalloc.start()
        prof = mp.LineProfiler(columns=%r)
        @prof
        def f():
            a = [0] * 100000
            tracemalloc.stop()
            b = bytearray(10 ** 6)
            return len(a) + len(b)
        print(f())
        print(f())
        """ % columns)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["1100000", "1100000"]


@pytest.mark.parametrize("columns", ["", "heap"])
def test_tracemalloc_started_inside_stopped_outside(tmp_path, columns):
    r = run(tmp_path, """
        import tracemalloc
        import memory_profiler as mp
        prof = mp.LineProfiler(columns=%r)
        @prof
        def f(start):
            if start:
                tracemalloc.start()
            return len([0] * 100000)
        f(True)
        tracemalloc.stop()
        print(f(False), f(False))
        tracemalloc.start()
        print(f(False))
        keep = [bytearray(1000) for _ in range(10)]
        snapshot = tracemalloc.take_snapshot()
        tracemalloc.stop()
        print("traced", len(snapshot.traces) > 0)
        """ % columns)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["100000", "100000", "100000", "traced", "True"]


def test_heap_column_survives_tracemalloc_dropping_it(tmp_path):
    # tracemalloc.stop() restores the allocator it saw at its start, which
    # drops hooks installed after it: ours notices and goes back on top, so
    # the heap column keeps counting.
    r = run(tmp_path, """
        import tracemalloc
        import memory_profiler as mp
        from memory_profiler import _core
        tracemalloc.start()
        prof = mp.LineProfiler(columns="heap")
        def f():
            a = bytearray(4 * 2 ** 20)
            return len(a)
        g = prof(f)
        g()
        tracemalloc.stop()
        g()
        line = f.__code__.co_firstlineno + 1
        (blk,) = prof._blocks()
        row = blk[3][line - blk[2]]
        print("reinstalled", _core.heap_reinstalls() >= 1)
        print("alloc", round(row[5]))
        """)
    assert r.returncode == 0, r.stderr
    assert "reinstalled True" in r.stdout
    assert "alloc 8" in r.stdout  # 4 MiB in each of the two calls


# ----------------------------------------------------------------- threads

def test_audit_hook_and_threads(tmp_path):
    # Python code (the audit hook) ran while another thread's state was
    # current: SIGSEGV on 3.8-3.11; on 3.13 "invalid tool -1".
    r = run(tmp_path, """
        import sys, threading
        import memory_profiler as mp
        seen = []
        sys.addaudithook(lambda e, a: seen.append(e) if e == "sys.settrace" else None)
        prof = mp.LineProfiler()
        @prof
        def f(n):
            return sum(i * i for i in range(n))
        errors = []
        def worker():
            try:
                for _ in range(200):
                    f(200)
            except BaseException as e:
                errors.append(repr(e))
        threads = [threading.Thread(target=worker) for _ in range(10)]
        for t in threads: t.start()
        with prof:
            for _ in range(50):
                f(100)
        for t in threads: t.join()
        print("errors", errors)
        """)
    assert r.returncode == 0, r.stderr
    assert "errors []" in r.stdout
    assert "Error" not in r.stderr and "Exception" not in r.stderr


def test_each_thread_reports_its_own_call(tmp_path):
    # 8 threads each call the same @profile function once: each report must
    # show that call's 30,000 iterations, not everyone's.
    r = run(tmp_path, """
        import threading
        from memory_profiler import profile
        go = threading.Barrier(8)
        @profile
        def work():
            go.wait()
            total = 0
            for i in range(30000):
                total += i
            return total
        threads = [threading.Thread(target=work) for _ in range(8)]
        for t in threads: t.start()
        for t in threads: t.join()
        """)
    assert r.returncode == 0, r.stderr
    occ = occurrences(r.stdout, "total += i")
    assert occ == [30000] * 8, occ


def test_threads_under_the_cli_count_exactly(tmp_path):
    # 20 threads x 500 calls of one profiled function: 9,992-9,998 of 10,000
    # were counted on <= 3.11 (one thread's end switched tracing off for all).
    r = run(tmp_path, """
        import threading
        @profile
        def f(x):
            y = x + 1
            return y
        def worker():
            for i in range(500):
                f(i)
        threads = [threading.Thread(target=worker) for _ in range(20)]
        for t in threads: t.start()
        for t in threads: t.join()
        """, cli=True)
    assert r.returncode == 0, r.stderr
    assert occurrences(r.stdout, "y = x + 1") == [10000]


def test_heap_columns_count_only_this_threads_bytes(tmp_path):
    # A profiled function that only sleeps while another thread allocates
    # 200 MiB: its heap columns show nothing.
    r = run(tmp_path, """
        import threading, time, json
        import memory_profiler as mp
        prof = mp.LineProfiler(columns="heap")
        stop = threading.Event()
        def churn():
            while not stop.is_set():
                b = [bytearray(2 ** 20) for _ in range(50)]
                del b
        def sleeper():
            time.sleep(0.5)
            return 0
        t = threading.Thread(target=churn)
        t.start()
        try:
            prof(sleeper)()
        finally:
            stop.set()
            t.join()
        doc = json.loads(prof.to_json())
        print("net", max(abs(l.get("heap_net", 0)) for f in doc["functions"] for l in f["lines"]))
        print("alloc", max(l.get("heap_alloc", 0) for f in doc["functions"] for l in f["lines"]))
        """)
    assert r.returncode == 0, r.stderr
    vals = dict(line.split() for line in r.stdout.split("\n") if line)
    assert int(vals["net"]) < 64 * 1024, r.stdout
    assert int(vals["alloc"]) < 64 * 1024, r.stdout


def test_soak_100_threads_peak_and_heap_columns(tmp_path):
    r = run(tmp_path, """
        import threading
        @profile
        def f(x):
            a = [x] * 100
            b = bytearray(1000)
            return len(a) + len(b)
        def worker():
            for i in range(200):
                f(i)
        threads = [threading.Thread(target=worker) for _ in range(100)]
        for t in threads: t.start()
        for t in threads: t.join()
        """, "--columns", "peak,heap", cli=True, timeout=600)
    assert r.returncode == 0, r.stderr
    text = r.stdout
    for frag in ("a = [x] * 100", "b = bytearray(1000)", "return len(a)"):
        rows = [l for l in text.splitlines() if frag in l]
        assert len(rows) == 1, text
        assert re.search(r"\s20000\s", rows[0]), rows[0]


# ------------------------------------------------------- long-running (3.12+)

@pytest.mark.skipif(not MONITORING, reason="sys.monitoring's event version is 3.12+")
def test_ten_million_calls(tmp_path):
    # Every outermost call turned events on and off: after 2^23 calls,
    # "OverflowError: events set too many times", and no tool could use
    # sys.monitoring in the process again.
    n = 10 ** 7 if not SANITIZED else 2 ** 21   # (under ASan: a smoke test)
    r = run(tmp_path, """
        import sys
        import memory_profiler as mp
        prof = mp.LineProfiler()
        @prof
        def f(x):
            return x
        for i in range(%d):
            f(i)
        mon = sys.monitoring
        tool = next(i for i in range(6) if mon.get_tool(i) is None)
        mon.use_tool_id(tool, "after")
        mon.set_events(tool, mon.events.PY_START)
        mon.set_events(tool, 0)
        mon.free_tool_id(tool)
        print("calls", prof.code_map[f.__wrapped__.__code__][f.__code__.co_firstlineno + 2][2])
        """ % n, timeout=900)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "calls %d" % n in r.stdout


# -------------------------------------------------- the profiler's own memory

def test_own_bookkeeping_is_not_in_the_report(tmp_path):
    # With the heap column, the block-size map held 3M entries and never
    # shrank: Mem usage stayed 145 MiB up after the objects were freed.
    r = run(tmp_path, """
        @profile
        def f():
            objs = [object() for _ in range(3000000)]
            del objs
            return 0
        f()
        """, "--columns", "heap", cli=True, timeout=300)
    assert r.returncode == 0, r.stderr
    (_, rows), = parse_report(r.stdout)
    first = min(rows)
    start = rows[first][0]
    end = [v for v in rows.values() if "return 0" in v[3]][0][0]
    kept = 0.0
    if FREE_THREADED:
        # The objects' pages stay resident a while there (QSBR, mimalloc):
        # what the same lines keep without a profiler is not ours.
        plain = run_watched([sys.executable, "-c", textwrap.dedent("""
            def rss():
                with open("/proc/self/statm") as f:
                    return int(f.read().split()[1]) * 4096 / 2.0 ** 20
            before = rss()
            objs = [object() for _ in range(3000000)]
            del objs
            print(rss() - before)
            """)], timeout=120)
        kept = float(plain.stdout)
    assert end - start < kept + 8, r.stdout  # MiB: the objects are gone, and so is our map
    # (read from the text: a three-digit heap column leaves two spaces after
    # the occurrences, which parse_report's layout does not take)
    made = float(re.search(r"^\s*\d+\s+\S+ MiB\s+(-?\d+\.\d+) MiB.*objs = \[", r.stdout, re.M).group(1))
    assert made < 200, r.stdout            # ~3M small objects, not objects + map


# ----------------------------------------------------- the program unchanged

@pytest.mark.skipif(MONITORING, reason="threading.settrace is wiped only with PyEval_SetTrace")
def test_threading_settrace_hook_set_inside_survives(tmp_path):
    r = run(tmp_path, """
        import threading, sys
        import memory_profiler as mp
        prof = mp.LineProfiler()
        calls = []
        def hook(frame, event, arg):
            calls.append(event)
            return None
        @prof
        def f():
            threading.settrace(hook)
            return 1
        f()
        with prof:
            pass
        t = threading.Thread(target=lambda: None)
        t.start(); t.join()
        print("hook kept", threading._trace_hook is hook, "called", bool(calls))
        """)
    assert r.returncode == 0, r.stderr
    assert "hook kept True called True" in r.stdout


def test_warnings_stacklevel_points_at_the_caller(tmp_path):
    r = run(tmp_path, """
        import warnings
        import memory_profiler as mp
        prof = mp.LineProfiler()
        @prof
        def f():
            warnings.warn("careful", UserWarning, stacklevel=2)
            return 1
        @mp.profile(stream=open("/dev/null", "w"))
        def g():
            warnings.warn("careful too", UserWarning, stacklevel=2)
            return 1
        f()  # the caller: line 13 of the file
        g()  # line 14
        """)
    assert r.returncode == 0, r.stderr
    assert "prog.py:13: UserWarning: careful\n" in r.stderr, r.stderr
    assert "prog.py:14: UserWarning: careful too\n" in r.stderr, r.stderr
    assert "memory_profiler" not in r.stderr


def test_tracebacks_show_no_frame_of_ours(tmp_path):
    r = run(tmp_path, """
        import memory_profiler as mp
        @mp.profile(stream=open("/dev/null", "w"))
        def f():
            raise KeyError("boom")
        f()
        """)
    assert r.returncode == 1
    assert "KeyError: 'boom'" in r.stderr
    assert "memory_profiler" not in r.stderr, r.stderr


@pytest.mark.skipif(MONITORING, reason="pdb and muted line events: PyEval_SetTrace only")
def test_pdb_next_steps_through_an_unprofiled_callee(tmp_path):
    r = run(tmp_path, """
        import pdb
        import memory_profiler as mp
        prof = mp.LineProfiler()
        def helper():
            pdb.set_trace()
            x = 1
            y = 2
            z = 3
            return x + y + z
        @prof
        def f():
            v = helper()
            return v
        print("result", f())
        """, timeout=60, env=dict(env_with_us(), PYTHONBREAKPOINT="0"))
    # drive pdb: step with "next" four times, then continue
    path = tmp_path / "prog.py"
    p = subprocess.run([sys.executable, str(path)], input="next\nnext\nnext\nnext\nnext\ncont\n",
                       capture_output=True, text=True, timeout=60, cwd=str(tmp_path),
                       env=env_with_us())
    assert p.returncode == 0, p.stderr
    out = p.stdout
    # every line of helper shown in order, and never a frame of ours
    for line in ("y = 2", "z = 3", "return x + y + z"):
        assert "-> " + line in out, out
    assert "memory_profiler" not in out, out
    assert "result 6" in out
    del r


def test_sigterm_during_a_long_c_call_kills_at_once(tmp_path):
    # The partial report's Python handler runs between bytecodes only: a
    # long C call delayed the kill by 8-15 s.
    path = tmp_path / "prog.py"
    path.write_text(textwrap.dedent("""
        import sys
        @profile
        def f():
            print("started", flush=True)
            x = sum(range(10 ** 9))   # ~30 s in C, GIL held, signals not checked
            return x
        f()
        """))
    p = subprocess.Popen([sys.executable, "-m", "memory_profiler", str(path)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         env=env_with_us(), cwd=str(tmp_path))
    assert p.stdout.readline().strip() == "started"
    time.sleep(0.3)
    t0 = time.monotonic()
    p.send_signal(signal.SIGTERM)
    try:
        p.wait(timeout=10)
    finally:
        p.kill()
    took = time.monotonic() - t0
    assert p.returncode == -signal.SIGTERM
    assert took < 3, took


@pytest.mark.skipif(sys.version_info < (3, 9), reason="Python 3.8 itself runs a script by the path given")
def test_file_is_absolute_and_the_script_can_change_directory(tmp_path):
    (tmp_path / "data.txt").write_text("beside me\n")
    (tmp_path / "elsewhere").mkdir()
    code = """
        import os, sys
        @profile
        def read_beside():
            here = os.path.dirname(__file__)
            os.chdir(os.path.join(here, "elsewhere") if here else "elsewhere")
            with open(os.path.join(os.path.dirname(__file__), "data.txt")) as f:
                return f.read().strip()
        print(read_beside(), os.path.isabs(__file__))
        """
    (tmp_path / "prog.py").write_text(textwrap.dedent(code))
    r = run_watched([sys.executable, "-m", "memory_profiler", "prog.py"], timeout=60,
                    cwd=str(tmp_path), env=env_with_us())
    assert r.returncode == 0, r.stderr
    assert "beside me True" in r.stdout  # __file__ as Python itself sets it
    assert "Filename: prog.py" in r.stdout  # shown as typed, as the reference


def test_a_script_that_closes_stdout(tmp_path):
    r = run(tmp_path, """
        import sys
        @profile
        def f():
            return [0] * 1000
        f()
        sys.stdout.close()
        """, cli=True)
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr, r.stderr
    assert "Filename:" in r.stdout  # the report still reaches fd 1


def test_report_into_a_broken_pipe(tmp_path):
    path = tmp_path / "prog.py"
    path.write_text("@profile\ndef f():\n    return [0] * 1000\n\nf()\n")
    sh = "%s -m memory_profiler %s | head -c 10 >/dev/null; echo ${PIPESTATUS[0]}" % (
        sys.executable, path)
    r = subprocess.run(["bash", "-c", sh], capture_output=True, text=True, env=env_with_us())
    assert r.stdout.strip() in ("0", "141"), r.stdout
    assert "Traceback" not in r.stderr, r.stderr


def test_a_report_is_never_silently_incomplete(tmp_path):
    # A frame that could not be recorded (out of memory) makes the report
    # say so, and the JSON too.
    r = run(tmp_path, """
        import json
        import memory_profiler as mp
        prof = mp.LineProfiler()
        def inner():
            return [0] * 1000
        def f():
            mp._core._inject_failures(1)
            return inner()
        prof.add_function(inner)
        prof(f)()
        mp.show_results(prof)
        print("lost", prof.lost_events)
        print("json", json.loads(prof.to_json())["incomplete"])
        """)
    assert r.returncode == 0, r.stderr
    assert "Incomplete report: the profiler ran out of memory and dropped 1 events." in r.stdout
    assert "lost 1" in r.stdout and "json True" in r.stdout


# --------------------------------------------------------------- bad values

def test_bad_values_give_clear_errors(tmp_path):
    r = run(tmp_path, """
        import memory_profiler as mp
        for bad in (2 ** 62, 5, -3):
            try:
                mp.sampling_period(bad)
            except ValueError as e:
                print("period", bad, "ValueError")
        print("period now", mp.sampling_period())
        prof = mp.LineProfiler()
        class NoWrite: pass
        try:
            mp.show_results(prof, stream=NoWrite())
        except TypeError as e:
            print("stream TypeError", "write()" in str(e))
        for pid in (-5, -2):
            try:
                mp.memory_usage(pid)
            except (ProcessLookupError, ValueError) as e:
                print("pid", pid, type(e).__name__)
        print("self", len(mp.memory_usage(-1)) == 1)
        """, timeout=60)
    assert r.returncode == 0, r.stderr
    out = r.stdout
    for bad in (2 ** 62, 5, -3):
        assert "period %d ValueError" % bad in out, out
    assert "period now 250" in out
    assert "stream TypeError True" in out
    assert "pid -5 ProcessLookupError" in out and "pid -2 ProcessLookupError" in out
    assert "self True" in out
