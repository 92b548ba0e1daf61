"""Native memory: allocations that C code makes without Python's allocators
(malloc and friends, anonymous mmap), counted per line and per thread, and
the fast mode's trigger seeing them."""
import json
import os
import shutil
import subprocess
import sys
import textwrap

import pytest

from conftest import MIB, env_with_us, run_watched

np = pytest.importorskip("numpy")


def run(tmp_path, code, timeout=120, env=None):
    path = tmp_path / "prog.py"
    path.write_text(textwrap.dedent(code))
    return run_watched([sys.executable, str(path)], timeout=timeout, cwd=str(tmp_path),
                       env=env or env_with_us())


def lines_of(doc):
    return {l["source"].strip(): l for f in doc["functions"] for l in f["lines"]}


@pytest.fixture(scope="module")
def grab_lib(tmp_path_factory):
    """A tiny C library that mallocs and frees, built here (cc), loaded by
    the test only after profiling began."""
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("no C compiler")
    d = tmp_path_factory.mktemp("lib")
    src = d / "grab.c"
    src.write_text(textwrap.dedent("""
        #include <stdlib.h>
        #include <string.h>
        #include <sys/mman.h>
        static void *kept;
        void grab(size_t n) { kept = malloc(n); memset(kept, 1, n); }
        void drop(void) { free(kept); kept = NULL; }
        void *map(size_t n) { void *p = mmap(NULL, n, PROT_READ | PROT_WRITE,
                              MAP_PRIVATE | MAP_ANONYMOUS, -1, 0); memset(p, 1, n); return p; }
        void unmap(void *p, size_t n) { munmap(p, n); }
        """))
    lib = d / "libgrab.so"
    subprocess.run([cc, "-shared", "-fPIC", "-O1", "-o", str(lib), str(src)], check=True)
    return str(lib)


def test_a_library_loaded_after_profiling_began(tmp_path, grab_lib):
    r = run(tmp_path, """
        import ctypes, json
        import memory_profiler as mp
        prof = mp.LineProfiler(columns="native")
        def f():
            lib = ctypes.CDLL(%r)
            lib.grab(ctypes.c_size_t(64 * 2 ** 20))
            lib.drop()
            lib.map.restype = ctypes.c_void_p
            p = lib.map(ctypes.c_size_t(32 * 2 ** 20))
            lib.unmap(ctypes.c_void_p(p), ctypes.c_size_t(32 * 2 ** 20))
            return 0
        prof(f)()
        print(prof.to_json())
        """ % grab_lib)
    assert r.returncode == 0, r.stderr
    lines = lines_of(json.loads(r.stdout))
    grab = lines["lib.grab(ctypes.c_size_t(64 * 2 ** 20))"]
    assert 64 * MIB <= grab["native_alloc"] < 64 * MIB + 8192
    assert 64 * MIB <= grab["native_net"] < 64 * MIB + 8192
    assert grab["increment"] > 60 * MIB          # the pages were written
    drop = lines["lib.drop()"]
    assert -64 * MIB - 8192 < drop["native_net"] <= -64 * MIB
    mapped = lines["p = lib.map(ctypes.c_size_t(32 * 2 ** 20))"]
    assert mapped["native_net"] == 32 * MIB
    unmapped = lines["lib.unmap(ctypes.c_void_p(p), ctypes.c_size_t(32 * 2 ** 20))"]
    assert unmapped["native_net"] == -32 * MIB


def test_dlopen_by_bare_name_still_searches_the_callers_runpath(tmp_path):
    # A library finding its plugin through its own RUNPATH ($ORIGIN/plugins)
    # with dlopen("libplugin.so"): our dlopen hook must not change where
    # that looks (the caller would otherwise be us, with no RUNPATH).
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("no C compiler")
    (tmp_path / "plugins").mkdir()
    (tmp_path / "plugin.c").write_text("int plugin_answer(void) { return 42; }\n")
    (tmp_path / "host.c").write_text(textwrap.dedent("""
        #include <dlfcn.h>
        int load_plugin(void) {
            void *h = dlopen("libplugin.so", RTLD_NOW);
            if (!h) return -1;
            int (*f)(void) = (int (*)(void))dlsym(h, "plugin_answer");
            return f ? f() : -2;
        }
        """))
    subprocess.run([cc, "-shared", "-fPIC", "-o", str(tmp_path / "plugins" / "libplugin.so"),
                    str(tmp_path / "plugin.c")], check=True)
    subprocess.run([cc, "-shared", "-fPIC", "-o", str(tmp_path / "libhost.so"),
                    str(tmp_path / "host.c"), "-Wl,--enable-new-dtags,-rpath,$ORIGIN/plugins",
                    "-ldl"], check=True)
    r = run(tmp_path, """
        import ctypes
        import memory_profiler as mp
        from memory_profiler import _core
        prof = mp.LineProfiler(columns="native")
        def f():
            host = ctypes.CDLL(%r)
            return host.load_plugin()
        print("answer", prof(f)(), _core.native_slots() > 0)
        """ % str(tmp_path / "libhost.so"))
    assert r.returncode == 0, r.stderr
    assert "answer 42 True" in r.stdout


def test_numpy_data_is_native_or_python_heap_never_lost(tmp_path):
    # numpy up to 2.4 gets array data from malloc (native); 2.5 from
    # PyMem_RawMalloc (Python's heap). Either way exactly one of the two
    # columns shows it, and explain's "other" is small.
    r = run(tmp_path, """
        import json
        import numpy as np
        import memory_profiler as mp
        prof = mp.LineProfiler(columns="heap,native,explain")
        def f():
            a = np.ones(10 ** 7)
            del a
            return 0
        prof(f)()
        print(prof.to_json())
        """)
    assert r.returncode == 0, r.stderr
    lines = lines_of(json.loads(r.stdout))
    made, freed = lines["a = np.ones(10 ** 7)"], lines["del a"]
    size = 8 * 10 ** 7
    got = made["heap_net"] + made["native_net"]
    assert size <= got < size + 64 * 1024, made
    assert abs(made["explain"]["other"]) < 2 * MIB, made
    assert abs(made["increment"] - size) < 2 * MIB
    assert -size - 64 * 1024 < freed["heap_net"] + freed["native_net"] <= -size, freed
    assert abs(freed["increment"] + size) < 2 * MIB


def test_the_fast_mode_never_loses_a_native_free_at_the_end(tmp_path):
    # The tick made 10 s long: only the allocation watches can make the
    # reads. `del a` of numpy data just before `return` showed 0.000 in one
    # run of ten (numpy's malloc was invisible to the trigger).
    r = run(tmp_path, """
        import numpy as np
        import memory_profiler as mp
        mp.sampling_period(10 ** 7)
        shown = []
        for i in range(20):
            prof = mp.LineProfiler()
            def f():
                a = np.ones(10 ** 7)
                del a
                return 0
            prof(f)()
            first = f.__code__.co_firstlineno
            shown.append(round(prof.code_map[f.__code__][first + 2][0]))
        print(shown)
        """)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == str([-76] * 20), r.stdout


def test_native_columns_count_only_this_thread(tmp_path):
    r = run(tmp_path, """
        import json, threading, time
        import numpy as np
        import memory_profiler as mp
        prof = mp.LineProfiler(columns="native")
        stop = threading.Event()
        def churn():
            while not stop.is_set():
                a = np.ones(2 * 10 ** 6)
                del a
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
        print(max(abs(l.get("native_alloc", 0)) for f in doc["functions"] for l in f["lines"]))
        """)
    assert r.returncode == 0, r.stderr
    assert int(r.stdout.strip()) < 64 * 1024


def test_hooks_are_put_back_when_profiling_ends(tmp_path):
    # Put back a second after the last profiler is gone (the tick thread
    # does it): code that makes a profiler per call keeps them meanwhile.
    r = run(tmp_path, """
        import gc, time
        import numpy as np
        import memory_profiler as mp
        from memory_profiler import _core
        before = _core.native_slots()
        prof = mp.LineProfiler()
        prof(lambda: np.ones(10))()
        during = _core.native_slots()
        del prof
        gc.collect()
        soon = _core.native_slots()
        prof = mp.LineProfiler()           # back within the second: kept
        kept = _core.native_slots() == during
        del prof
        gc.collect()
        time.sleep(2)
        print(before, during > 0, soon == during, kept, _core.native_slots())
        """)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["0", "True", "True", "True", "0"]


def test_native_hooks_can_be_switched_off(tmp_path):
    env = dict(env_with_us(), MEMORY_PROFILER_NATIVE="0")
    r = run(tmp_path, """
        import memory_profiler as mp
        from memory_profiler import _core
        prof = mp.LineProfiler(columns="native")
        print(_core.native_slots())
        """, env=env)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "0"


def test_explain_shows_file_backed_pages(tmp_path):
    data = tmp_path / "data.bin"
    with open(data, "wb") as f:
        f.write(os.urandom(1024) * (48 * 1024))   # 48 MiB
    r = run(tmp_path, """
        import json, mmap
        import memory_profiler as mp
        # exact: mapping cached file pages runs at tens of GB/s, so in the fast
        # mode they can show on a later line of the call (within one tick)
        prof = mp.LineProfiler(columns="explain", exact=True)
        def f():
            fd = open(%r, "rb")
            m = mmap.mmap(fd.fileno(), 0, access=mmap.ACCESS_READ)
            touched = m[::4096]
            return len(touched)
        prof(f)()
        print(prof.to_json())
        """ % str(data))
    assert r.returncode == 0, r.stderr
    line = lines_of(json.loads(r.stdout))["touched = m[::4096]"]
    assert line["explain"]["files"] > 40 * MIB, line
    assert abs(line["increment"] - line["explain"]["files"]) < 4 * MIB, line
