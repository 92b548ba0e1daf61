"""Code built on the reference's internals: a CodeMap and LineProfiler
subclassed the way Apache Spark's UDF profiler does it, show_results over
any object with a code_map, the reference's Python trace functions, and the
small names (MemitResult, _get_memory, mprof.function_labels). Every
interpreter runs these; tests/spark runs the real PySpark where Java is."""
import inspect
import io
import re
import sys
import warnings

import pytest

import memory_profiler as mp
from conftest import FREE_THREADED, IN_PROCESS, RSS_FALLS_LATER
MIB = 2 ** 20

sys.path.insert(0, __import__("os").path.dirname(__import__("os").path.dirname(
    __import__("os").path.dirname(__file__))))
import mprof  # noqa: E402  (the top-level module of the source tree)


class UdfCodeMap(mp.CodeMap):
    """A map whose functions carry their own lines, as a UDF's source is
    only a slice of a notebook cell: (filename, code, lines, start)."""

    def add(self, code, toplevel_code=None, *, lines=(), start=0):
        if code in self:
            return
        if toplevel_code is None:
            self._toplevel.append((code.co_filename, code, lines, start))
            self[code] = {}
            toplevel_code = code
        else:
            self[code] = self[toplevel_code]
        for sub in filter(inspect.iscode, code.co_consts):
            self.add(sub, toplevel_code=toplevel_code, lines=lines, start=start)

    def items(self):
        for (filename, code, lines, start) in self._toplevel:
            measures = self[code]
            if measures:
                yield filename, ((n, measures.get(n)) for n in range(start, start + len(lines)))


class UdfProfiler(mp.LineProfiler):
    def __init__(self, **kw):
        super().__init__(**kw)
        self.code_map = UdfCodeMap(include_children=False, backend=kw.get("backend", "psutil"))

    def __call__(self, func, lines, start):
        code = func.__code__
        self.code_map.add(code, lines=lines, start=start)
        wrapped = self.wrap_function(func)
        wrapped.__name__ = func.__name__
        return wrapped


def grab(n):
    s = b"x" * (n * MIB)
    t = [s[:10]] * 100
    return len(s) + len(t)


@pytest.mark.parametrize("backend", ["psutil", "tracemalloc"])
def test_a_spark_style_subclass_gets_every_line(backend):
    lines, start = inspect.getsourcelines(grab)
    prof = UdfProfiler(backend=backend)
    f = prof(grab, lines, start)
    for _ in range(3):
        assert f(40) == 40 * MIB + 100
    got = {filename: list(it) for filename, it in prof.code_map.items()}
    (filename, rows), = got.items()
    assert filename == grab.__code__.co_filename
    assert [n for n, _ in rows] == list(range(start, start + len(lines)))
    by_line = dict(rows)
    alloc = by_line[start + 1]
    assert alloc is not None and alloc[2] == 3          # ran three times
    assert by_line[start + 3][2] == 3
    assert isinstance(prof.code_map, UdfCodeMap)
    if backend == "tracemalloc":
        # The Python heap, exact on every build: 40 MiB made on each call.
        assert 3 * 40 <= alloc[0] <= 3 * 40 + 0.01
    elif not FREE_THREADED:
        # RSS: 40 MiB (above glibc's largest mmap threshold, so never served
        # from heap memory already resident) on its line each time, freed at
        # the return. On a free-threaded build the same line can show RSS
        # falling by hundreds of MiB: mimalloc gives back pages earlier tests
        # freed whenever it allocates (RSS_FALLS_LATER + IN_PROCESS), so only
        # the heap figure above is asserted there.
        assert 38 <= alloc[0] <= 3 * 42


def test_a_subclass_that_never_calls_init():
    class Bare(mp.LineProfiler):
        def __init__(self):
            self.code_map = mp.CodeMap(include_children=False, backend="psutil")
            self.enable_count = 0
            self.max_mem = None
            self.prevlines = []
            self.backend = "psutil"
            self.prev_lineno = None

    prof = Bare()
    f = prof(grab)
    f(1)
    out = io.StringIO()
    mp.show_results(prof, stream=out)
    assert "s = b\"x\" * (n * MIB)" in out.getvalue()
    assert prof.code_map[grab.__code__][grab.__code__.co_firstlineno + 1][2] == 1


def test_show_results_of_any_object_with_a_code_map():
    prof = mp.LineProfiler()
    prof(grab)(2)

    class Holder:
        code_map = prof.code_map

    a, b = io.StringIO(), io.StringIO()
    mp.show_results(Holder(), stream=a)
    mp.show_results(prof, stream=b)
    assert a.getvalue() == b.getvalue() and "Line #" in a.getvalue()


@pytest.mark.skipif(FREE_THREADED, reason=RSS_FALLS_LATER + IN_PROCESS)
def test_codemap_trace_and_the_reference_trace_function():
    prof = mp.LineProfiler()
    prof.add_function(grab)
    old = sys.gettrace()
    sys.settrace(prof.trace_memory_usage)
    try:
        grab(40)
    finally:
        sys.settrace(old)
    first = grab.__code__.co_firstlineno
    measures = prof.code_map[grab.__code__]
    assert set(measures) == {first, first + 1, first + 2, first + 3}
    assert all(v[2] == 1 for v in measures.values())
    assert 38 <= measures[first + 1][0] <= 42         # the 40 MiB line, read in Python
    out = io.StringIO()
    mp.show_results(prof, stream=out)
    assert re.search(r"\b(39|40|41)\.\d+ MiB", out.getvalue()), out.getvalue()


def test_count_context_manager():
    prof = mp.LineProfiler()
    prof.add_function(grab)
    with prof._count_ctxmgr():
        assert prof.enable_count == 1
        grab(1)
    assert prof.enable_count == 0
    assert prof.code_map[grab.__code__][grab.__code__.co_firstlineno + 1][2] == 1


def test_small_names():
    assert isinstance(mp._get_memory(-1, "psutil"), float)
    m, t = mp._get_memory(-1, "psutil", timestamps=True)
    assert m > 1 and t > 1e9
    assert mp.has_tracemalloc is True
    r = mp.MemitResult([10.0, 12.5], 8.0, 1, None, 0.1, False)
    assert str(r) == "peak memory: 12.50 MiB, increment: 4.50 MiB"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert mp.choose_backend("psutil") == "psutil"


@pytest.mark.parametrize("names,want", [
    (["a.b.f", "c.b.f", "x.g"], {"a.b.f": "a.b.f", "c.b.f": "c.b.f", "x.g": "g"}),
    (["pkg.mod.f", "other.f"], {"pkg.mod.f": "mod.f", "other.f": "other.f"}),
    (["f"], {"f": "f"}),
    ([], {}),
])
def test_function_labels(names, want):
    assert mprof.function_labels(names) == want


def test_function_labels_scale():
    names = ["m%d.pkg.f" % i for i in range(20000)]
    labels = mprof.function_labels(names)
    assert labels["m7.pkg.f"] == "m7.pkg.f" and len(set(labels.values())) == 20000


def test_data_file_records_are_the_readers_format():
    """memory_usage(stream=) and TimeStamper write the data file's records
    through the same C formatter as mprof run; the text is the reference's."""
    core = mp._core
    assert core.MIB == MIB
    samples = [(3.5 * MIB, 1700000000.12345, [(12, 2 * MIB)]), (MIB, 1700000001.0, [])]
    assert core.datafile_mem(samples, True) == (
        "MEM 3.500000 1700000000.1235\nCHLD 12 2.000000 1700000000.1235\n"
        "MEM 1.000000 1700000001.0000\n")
    assert core.datafile_mem(samples) == (
        "MEM 3.500000 1700000000.1235\nMEM 1.000000 1700000001.0000\n")
    assert core.datafile_mem([]) == ""
    assert core.datafile_func("m.f", 1, 2.5, 3, 4, 1) == "FUNC m.f 1.0000 2.5000 3.0000 4.0000 1\n"
    with pytest.raises(TypeError):
        core.datafile_mem([(1, 2)])
    with pytest.raises(TypeError):
        core.datafile_mem([(1, 2, [(3,)])], True)
    out = io.StringIO()
    mp.memory_usage(-1, interval=0.01, timeout=0.05, stream=out)
    lines = out.getvalue().splitlines()
    assert lines and all(re.fullmatch(r"MEM \d+\.\d{6} \d+\.\d{4}", ln) for ln in lines)


def test_line_profiler_signature_is_the_references_keywords():
    sig = inspect.signature(mp.LineProfiler.__init__)
    assert list(sig.parameters)[:6] == ["self", "include_children", "backend", "max_mem",
                                        "exact", "columns"]
    assert all(p.kind is p.KEYWORD_ONLY for p in list(sig.parameters.values())[1:6])
    with pytest.raises(TypeError):
        mp.LineProfiler(True)
    prof = mp.LineProfiler(include_children=True, backend="psutil", unknown_option=1)
    assert prof.include_children and prof.backend == "psutil"
