"""memory_profiler: line-by-line memory usage of Python code, measured in C.

A drop-in for memory_profiler 0.61: same import name, API, report and
command line. The measuring, tracing and formatting live in the C extension
``memory_profiler._core``; this module only gives them their Python shape.
"""
import contextlib
import copy
import functools
import inspect
import linecache
import logging
import os
import sys
import threading
import time
import types
import warnings
import weakref

from . import _core

__all__ = [
    "profile", "LineProfiler", "CodeMap", "show_results", "choose_backend", "LogFile",
    "TimeStamper", "memory_usage", "peak_rss", "sampling_period", "MemTimer", "MemitResult",
    "exec_with_profiler", "run_module_with_profiler", "has_tracemalloc",
]
__version__ = _core.__version__

_MIB = _core.MIB  # bytes in a MiB: src/core/mp_units.h
_BACKENDS = ("psutil", "psutil_pss", "psutil_uss", "posix", "tracemalloc")


def choose_backend(new_backend=None):
    """Return the backend to use: new_backend if it works here, otherwise the
    first one that does (with the reference's warning). An unknown name is a
    ValueError (the reference raised a bare KeyError)."""
    if new_backend is not None and new_backend not in _BACKENDS:
        raise ValueError(
            "unknown backend {0!r}: choose one of {1}".format(
                new_backend, ", ".join(_BACKENDS)))
    order = list(_BACKENDS)
    if new_backend is not None:
        order.remove(new_backend)
        order.insert(0, new_backend)
    chosen = next((b for b in order if _core.backend_available(b)), "no_backend")
    if new_backend is not None and chosen != new_backend:
        warnings.warn("{0} can not be used, {1} used instead".format(
            new_backend, chosen))
    return chosen


COLUMNS = ("peak", "heap", "native", "explain")


def _columns(spec):
    """Columns from "peak,heap" or an iterable of names; ValueError if unknown."""
    if spec is None:
        return ()
    names = spec.split(",") if isinstance(spec, str) else list(spec)
    names = [n.strip() for n in names if n.strip()]
    for n in names:
        if n not in COLUMNS:
            raise ValueError("unknown column {0!r}: choose from {1}".format(
                n, ", ".join(COLUMNS)))
    return tuple(dict.fromkeys(names))


def peak_rss():
    """The highest RSS of this process so far, in MiB. Use this rather than
    resource.getrusage().ru_maxrss when the peak column is on: it resets the
    kernel's peak mark line by line."""
    return _core.peak_rss() / _MIB


def sampling_period(microseconds=None):
    """The fast mode's read period in microseconds (default 250); with an
    argument, set it. Returns the previous value."""
    if microseconds is None:
        return _core.sampling_period()
    return _core.sampling_period(int(microseconds))


def _memory_mib(backend, include_children=False):
    return _core.memory(backend, include_children) / _MIB


# Files whose report shows another name: the CLI's script, run from its
# absolute path (as Python does) but shown as typed (as the reference did).
_display_names = {}


@functools.lru_cache(maxsize=4096)
def _source_span(code):
    """(first line, number of lines) of a code object's source, or None.
    Cached: finding a function's end tokenizes its source, and code that
    makes a profiler per call (Spark's) adds the same function each time."""
    try:
        lines, start = inspect.getsourcelines(code)
    except (OSError, TypeError, IndexError):
        return None
    return max(start, 1), len(lines)


def _source_block(code):
    """(filename, first line, number of lines, filename as reported) of a
    function, or None when its source cannot be found."""
    filename = code.co_filename
    if filename.endswith((".pyc", ".pyo")):
        filename = filename[:-1]
    span = _source_span(code)
    if span is None:
        return None
    return filename, span[0], span[1], _display_names.get(filename, filename)


def _wrap_coroutine(func, begin, end):
    async def wrapper(*args, **kwargs):
        state = begin()
        try:
            return await func(*args, **kwargs)
        finally:
            end(state)
    return wrapper


def _wrap_asyncgen(func, begin, end):
    async def wrapper(*args, **kwargs):
        state = begin()
        try:
            async for item in func(*args, **kwargs):
                yield item
        finally:
            end(state)
    return wrapper


def _wrap_generator(func, begin, end):
    def wrapper(*args, **kwargs):
        state = begin()
        try:
            return (yield from func(*args, **kwargs))
        finally:
            end(state)
    return wrapper


# The one place that tells the kinds of function apart: those whose calls
# run later, in pieces (coroutines, async generators, generators), each with
# how to wrap it so begin() runs at its first resumption and end(state) at
# its end. Anything else is a plain call.
_RESUMABLE = (
    (inspect.iscoroutinefunction, _wrap_coroutine),
    (inspect.isasyncgenfunction, _wrap_asyncgen),
    (inspect.isgeneratorfunction, _wrap_generator),
)


def _around_run(func, begin, end):
    """A wrapper of func, of func's kind, running begin() when a call starts
    to run and end(begin's result) when it finishes; None for a plain
    callable (its call is the run)."""
    for is_kind, wrap in _RESUMABLE:
        if is_kind(func):
            return functools.wraps(func)(wrap(func, begin, end))
    return None


def _code_copy(func):
    """func with its own copy of its code object (3.12+): the copy's start
    and end events are the profiled call's, so no wrapper frame is needed.
    The copy has func's name, defaults, closure, attributes and
    __wrapped__."""
    code = func.__code__.replace()
    g = types.FunctionType(code, func.__globals__, func.__name__, func.__defaults__,
                           func.__closure__)
    g.__kwdefaults__ = copy.copy(func.__kwdefaults__)
    return functools.update_wrapper(g, func)


def _profiled(func, prof=None, factory=None, report=None):
    """func, profiled: each call runs as a profiled call of this thread,
    either of prof (one profiler for every call) or of a fresh profiler
    from factory() reported by report(prof) when the call ends."""
    def begin():
        p = prof if prof is not None else factory()
        p.enable_by_count()
        return p

    def end(p):
        p.disable_by_count()
        if prof is None and report is not None:
            report(p)

    # Generators and coroutines are profiled while they run, from their
    # first resumption to their end (a Python wrapper delegates to them).
    wrapper = _around_run(func, begin, end)
    if wrapper is not None:
        return wrapper
    act = _core.Activator(prof, factory, report)
    if inspect.isfunction(func) and _core.USES_MONITORING:
        g = _code_copy(func)
        act.pin(func.__code__)   # events set once, kept between calls
        act.attach(g.__code__)
        if prof is not None:
            try:
                prof._add_alias(g.__code__, func.__code__)
            except KeyError:  # func's source was not found: not profiled
                pass
        weakref.finalize(g, act.detach)
        return g
    code = getattr(func, "__code__", None)
    if isinstance(code, types.CodeType):
        act.pin(code)
    return _core.ProfiledFunction(act, func)


class CodeMap(dict):
    """The reference's CodeMap: {code: {lineno: (increment, mem_usage,
    occurrences)}} in MiB, a code object nested in a function sharing its
    function's dict, and _toplevel listing (filename, code, linenos) for each
    function. Subclassable, as Apache Spark's UDF profiler does: a
    LineProfiler records (in C) into whatever CodeMap it holds, and fills it
    in when `prof.code_map` is read."""

    def __init__(self, include_children, backend):
        self.include_children = include_children
        self._toplevel = []
        self.backend = backend

    def add(self, code, toplevel_code=None):
        if code in self:
            return
        if toplevel_code is None:
            filename = code.co_filename
            if filename.endswith((".pyc", ".pyo")):
                filename = filename[:-1]
            # A physical file, or source IPython keeps in linecache for a cell.
            if not os.path.exists(filename) and not linecache.getlines(filename):
                print("ERROR: Could not find file " + filename)
                return
            span = _source_span(code)
            if span is None:
                print("ERROR: Could not find file " + filename)
                return
            toplevel_code = code
            linenos = range(span[0], span[0] + span[1])
            self._toplevel.append((_display_names.get(filename, filename), code, linenos))
            self[code] = {}
        else:
            self[code] = self[toplevel_code]
        for subcode in filter(inspect.iscode, code.co_consts):
            self.add(subcode, toplevel_code=toplevel_code)

    def trace(self, code, lineno, prev_lineno):
        """The reference's per-line update (its Python tracer called it on
        every line event; ours records in C and does not): here for code
        that calls it itself."""
        memory = _get_memory(-1, self.backend, include_children=self.include_children)
        prev_value = self[code].get(lineno, None)
        previous_memory = prev_value[1] if prev_value else 0
        previous_inc = prev_value[0] if prev_value else 0
        prev_line_value = self[code].get(prev_lineno, None) if prev_lineno else None
        prev_line_memory = prev_line_value[1] if prev_line_value else 0
        occ_count = self[code][lineno][2] + 1 if lineno in self[code] else 1
        self[code][lineno] = (previous_inc + (memory - prev_line_memory),
                              max(memory, previous_memory), occ_count)

    def items(self):
        """(filename, iterator of (lineno, (increment, mem_usage,
        occurrences) or None)) for each function that ran."""
        for (filename, code, linenos) in self._toplevel:
            measures = self[code]
            if not measures:
                continue
            yield (filename, ((line, measures.get(line)) for line in linenos))


def _block_span(entry):
    """(first line, number of lines) of a _toplevel entry: the reference's
    (filename, code, linenos), Spark's (filename, code, sub_lines,
    start_line), or (filename, code) with the span read from the source."""
    code = entry[1]
    if len(entry) >= 3 and isinstance(entry[2], range):
        return entry[2].start, len(entry[2])
    if len(entry) >= 4 and entry[3] is not None:
        return entry[3], len(entry[2])
    block = _source_block(code)
    return (block[1], block[2]) if block else (code.co_firstlineno, 1)


class LineProfiler(_core.LineProfiler):
    """Records, for every line of the functions added to it, the memory after
    the line, its increment and how often it ran."""

    def __init__(self, *, include_children=False, backend=None, max_mem=None, exact=False,
                 columns=(), **ignored):
        """include_children: add the descendants' memory to each line's.
        backend: as choose_backend (None: 'psutil'). max_mem: MiB above
        which the debugger is entered (memory_profiler's --pdb-mmem).
        exact: read memory on every line event instead of only when it can
        have changed. columns: extra report columns, names from COLUMNS
        ('peak', 'heap', 'native', 'explain') or one comma-separated string.
        Other keywords are accepted and ignored, as the reference does (it
        reads its **kw with get)."""
        backend = choose_backend(backend)
        super().__init__(backend=backend, include_children=bool(include_children),
                         max_mem=max_mem, exact=bool(exact), columns=_columns(columns))
        self.code_map = CodeMap(include_children=bool(include_children), backend=backend)
        self.prevlines = []
        self.prev_lineno = None

    # code_map: the CodeMap this profiler records into (settable, as
    # subclasses do); reading it fills it in from the C tables.
    def _get_code_map(self):
        cm = self.__dict__.get("_mp_code_map")
        if cm is None:
            cm = self.__dict__["_mp_code_map"] = CodeMap(self.include_children, self.backend)
        self._mp_sync(cm, results=True)
        return cm

    def _set_code_map(self, value):
        self.__dict__["_mp_code_map"] = value
        self.__dict__["_mp_synced"] = 0

    code_map = property(_get_code_map, _set_code_map, doc=_get_code_map.__doc__)

    def _mp_sync(self, cm=None, results=False):
        """Register in C the functions added to the CodeMap since the last
        look; with results, copy the C tables' rows into the CodeMap."""
        if cm is None:
            cm = self.__dict__.get("_mp_code_map")
            if cm is None:
                return
        toplevel = getattr(cm, "_toplevel", ())
        done = self.__dict__.get("_mp_synced", 0)
        for entry in toplevel[done:]:
            code = entry[1]
            if not self._has_code(code):
                first, n = _block_span(entry)
                filename = code.co_filename
                if filename.endswith((".pyc", ".pyo")):
                    filename = filename[:-1]
                self._add_block(code, filename, first, n, entry[0])
        self.__dict__["_mp_synced"] = len(toplevel)
        if results:
            for (_filename, code, first, rows) in self._blocks():
                measures = cm.get(code) if isinstance(cm, dict) else None
                # A block C never recorded keeps what CodeMap.trace put there.
                if isinstance(measures, dict) and any(row is not None for row in rows):
                    measures.clear()
                    measures.update((first + i, row[:3]) for i, row in enumerate(rows)
                                    if row is not None)

    def __call__(self, func=None, precision=1):
        if func is None:
            return functools.partial(self.__call__, precision=precision)
        self.add_function(func)
        return self.wrap_function(func)

    def add_function(self, func):
        """Record line profiling information for the given Python function."""
        code = getattr(func, "__code__", None)
        if code is None:
            warnings.warn("Could not extract a code object for the object %r" % (func,))
            return
        self.code_map.add(code)
        self._mp_sync()

    def wrap_function(self, func):
        """Wrap func so that its calls are profiled (for generators and
        coroutines: while they run, across suspensions)."""
        self._mp_sync()
        return _profiled(func, prof=self)

    def enable_by_count(self):
        self._mp_sync()
        super().enable_by_count()

    def enable(self):
        self._mp_sync()
        super().enable()

    def runctx(self, cmd, globals, locals):
        """Profile a single executable statement in the given namespaces."""
        self.enable_by_count()
        try:
            exec(cmd, globals, locals)
        finally:
            self.disable_by_count()
        return self

    def __enter__(self):
        self.enable_by_count()
        return self

    def __exit__(self, exc_type, exc_val, exc_tb):
        self.disable_by_count()

    # The reference's Python-level pieces, for code that calls them itself
    # (ours records in C and never uses them).
    _original_trace_function = None

    @contextlib.contextmanager
    def _count_ctxmgr(self):
        self.enable_by_count()
        try:
            yield
        finally:
            self.disable_by_count()

    def trace_memory_usage(self, frame, event, arg):
        """A sys.settrace function recording through self.code_map.trace,
        as the reference's tracer did (slow: one memory read per line)."""
        cm = self.code_map
        code = frame.f_code
        if code in cm:
            if event == "call":
                self.prevlines.append(frame.f_lineno)
            elif event in ("line", "return") and self.prevlines:
                last = self.prevlines[-1] if event == "line" else self.prevlines.pop()
                cm.trace(code, last, self.prev_lineno)
                self.prev_lineno = last
                if event == "line":
                    self.prevlines[-1] = frame.f_lineno
        if self._original_trace_function is not None:
            self._original_trace_function(frame, event, arg)
        return self.trace_memory_usage

    def trace_max_mem(self, frame, event, arg):
        """A sys.settrace function that stops in pdb once memory reaches
        max_mem in a profiled function, as the reference's did."""
        if event in ("line", "return") and frame.f_code in self.code_map and self.max_mem:
            now = _get_memory(-1, self.backend)
            if now >= self.max_mem:
                sys.stdout.write("Current memory {0:.2f} MiB exceeded the maximum of "
                                 "{1:.2f} MiB\nStepping into the debugger \n"
                                 .format(now, self.max_mem))
                import pdb
                debugger = pdb.Pdb()
                debugger.reset()
                debugger.set_step()
                return debugger.trace_dispatch
        if self._original_trace_function is not None:
            self._original_trace_function(frame, event, arg)
        return self.trace_max_mem


_ROW = "{0:>6} {1:>12} {2:>12}  {3:>10}   {4:<}"


def _recorded_in_c(prof):
    return any(row is not None for (_f, _c, _first, rows) in prof._blocks() for row in rows)


def _recorded_in_python(prof):
    cm = prof.__dict__.get("_mp_code_map")
    return isinstance(cm, dict) and any(isinstance(m, dict) and m for m in cm.values())


def show_results(prof, stream=None, precision=1):
    """Write prof's line-by-line report to stream (default: sys.stdout).
    prof is a LineProfiler, or any object with a code_map shaped like the
    reference's (its items() give (filename, [(lineno, (increment, mem,
    occurrences) or None)]))."""
    if isinstance(prof, _core.LineProfiler):
        if hasattr(prof, "_mp_sync"):
            prof._mp_sync()
        # What C recorded, unless only the reference's Python trace function
        # (trace_memory_usage) filled the code map.
        if _recorded_in_c(prof) or not _recorded_in_python(prof):
            _core.show_results(prof, stream, precision)
            return
    _check_precision(precision)
    if stream is None:
        stream = sys.stdout
    fmt = "{0:%d.%df} MiB" % (precision + 4, precision)
    for (filename, lines) in prof.code_map.items():
        header = _ROW.format("Line #", "Mem usage", "Increment", "Occurrences", "Line Contents")
        stream.write(u"Filename: " + filename + "\n\n")
        stream.write(header + u"\n")
        stream.write(u"=" * len(header) + "\n")
        all_lines = linecache.getlines(filename)
        for (lineno, mem) in lines:
            if mem:
                cells = (fmt.format(mem[1]), fmt.format(mem[0]), mem[2])
            else:
                cells = (u"", u"", u"")
            source = all_lines[lineno - 1] if 0 < lineno <= len(all_lines) else u"\n"
            stream.write(_ROW.format(lineno, cells[0], cells[1], cells[2], source))
        stream.write(u"\n\n")


_report_lock = threading.RLock()


def _check_precision(precision):
    if not isinstance(precision, int) or isinstance(precision, bool) or \
            not 0 <= precision <= 50:
        raise ValueError("precision must be an integer from 0 to 50, not %r" % (precision,))


def profile(func=None, stream=None, precision=1, backend="psutil", columns=(),
            exact=False):
    """Decorator: run the function under a fresh LineProfiler and write its
    report after every call (for generators and coroutines: after they end).
    columns: "peak", "heap" or both (a list or "peak,heap"); exact: read
    memory on every line instead of when it can have changed."""
    _check_precision(precision)
    backend = choose_backend(backend)
    columns = _columns(columns)
    if backend == "tracemalloc":
        _core.heap_start()
    if func is None:
        return functools.partial(profile, stream=stream, precision=precision,
                                 backend=backend, columns=columns, exact=exact)
    code = getattr(func, "__code__", None)
    block = _source_block(code) if isinstance(code, types.CodeType) else None
    aliases = []

    def factory():
        prof = LineProfiler(backend=backend, columns=columns, exact=exact)
        if block is None:
            prof.add_function(func)  # says why it cannot
        else:
            prof._add_block(code, *block)
            for alias in aliases:
                prof._add_alias(alias, code)
        return prof

    def report(prof):
        with _report_lock:  # threads' reports, one row per write(), must not interleave
            show_results(prof, stream=stream, precision=precision)

    g = _profiled(func, factory=factory, report=report)
    if getattr(g, "__code__", code) is not code:
        aliases.append(g.__code__)
    return g


def _func_exec(stmt, ns):
    """Run stmt in namespace ns (used by %memit)."""
    exec(stmt, ns)


def _callable_parts(proc):
    if callable(proc):
        return proc, (), {}
    if len(proc) == 1:
        return proc[0], (), {}
    if len(proc) == 2:
        return proc[0], tuple(proc[1]), {}
    if len(proc) == 3:
        return proc[0], tuple(proc[1]), dict(proc[2])
    raise ValueError("proc must be (f,), (f, args) or (f, args, kw), not %d items" % len(proc))


def _shape(samples, timestamps, multiprocess):
    """The reference's return shapes from the sampler's (bytes, time, kids)."""
    out = []
    for nbytes, t, kids in samples:
        value = (nbytes / _MIB, t) if timestamps else nbytes / _MIB
        if multiprocess:
            value = [value] + [b / _MIB for _, b in kids]
        out.append(value)
    return out


def _write_stream(stream, samples, multiprocess):
    text = _core.datafile_mem(samples, multiprocess)
    if text:
        stream.write(text)


def memory_usage(proc=-1, interval=.1, timeout=None, timestamps=False,
                 include_children=False, multiprocess=False, max_usage=False,
                 retval=False, stream=None, backend=None, max_iterations=None):
    """Memory of a process or of a piece of code over time, in MiB.

    proc: -1 (this process), a PID, a subprocess.Popen, a callable, or
    (f,), (f, args), (f, args, kw). A callable runs once, in this thread,
    while a C thread samples every `interval` seconds (first and last
    samples included); `max_iterations` is accepted for compatibility.
    A PID is sampled once, or round(timeout/interval) times with a timeout;
    a Popen until it exits (or the timeout). Returns a list of floats;
    (mem, time) pairs with timestamps; [main, child...] per sample with
    multiprocess (a pid or a Popen); one float (the true peak) with
    max_usage, for a callable with timestamps a (peak, time) pair; (result,
    retval) with retval. With stream, MEM/CHLD lines are written there and
    None is returned.
    """
    backend = choose_backend(backend)
    if stream is not None:
        timestamps = True
    if backend == "tracemalloc":
        _core.heap_start()
    if interval is None or interval <= 0:
        raise ValueError("interval must be positive")
    interval = max(float(interval), 1e-4)

    returned = None
    if callable(proc) or isinstance(proc, (list, tuple)):
        f, args, kw = _callable_parts(proc)
        # As in the reference, a callable's samples are this process's only
        # (multiprocess applies to a pid or a Popen), and its peak with
        # timestamps is a (mem, time) pair.
        multiprocess = False
        sampler = _core.Sampler(0, interval, backend, include_children, False)
        sampler.start()
        try:
            returned = f(*args, **kw)
        finally:
            sampler.stop()
        if max_usage and timestamps and stream is None:
            samples = sampler.samples()
            when = max(samples, key=lambda s: s[0])[1] if samples else time.time()
            peak = (sampler.peak() / _MIB, when)
            return (peak, returned) if retval else peak
    else:
        import subprocess
        if isinstance(proc, subprocess.Popen):
            pid, n = proc.pid, (int(round(timeout / interval)) if timeout else 0)
        else:
            pid = int(proc)
            if pid == -1:
                pid = 0  # this process
            elif pid <= 0:
                raise ProcessLookupError("no process with pid %d" % pid)
            n = max(int(round(timeout / interval)), 1) if timeout else 1
        sampler = _core.Sampler(pid, interval, backend, include_children, multiprocess,
                                max(n, 0))
        sampler.start()
        try:
            if isinstance(proc, subprocess.Popen):
                _follow_popen(proc, sampler, stream, multiprocess, timeout, interval)
            elif n > 1:
                while not (sampler.finished or sampler.gone):
                    time.sleep(min(interval, 0.05))
        finally:
            sampler.stop()
        if not isinstance(proc, subprocess.Popen) and n >= 1 and not max_usage:
            samples = sampler.samples()[:n]
            return _finish(samples, sampler, stream, timestamps, multiprocess, max_usage,
                           False, None)
    return _finish(sampler.samples(), sampler, stream, timestamps, multiprocess, max_usage,
                   retval, returned)


def _follow_popen(proc, sampler, stream, multiprocess, timeout, interval):
    """Wait for a child process; stream its samples once a second."""
    import subprocess
    deadline = None if not timeout else time.monotonic() + timeout
    while True:
        try:
            proc.wait(timeout=min(1.0, max(interval, 0.01)))
            return
        except subprocess.TimeoutExpired:
            pass
        if deadline is not None and time.monotonic() >= deadline:
            return
        if stream is not None:
            _write_stream(stream, sampler.samples(consume=True), multiprocess)
            stream.flush()


def _finish(samples, sampler, stream, timestamps, multiprocess, max_usage, retval, returned):
    if max_usage:
        result = sampler.peak() / _MIB
    elif stream is not None:
        _write_stream(stream, samples, multiprocess)
        if hasattr(stream, "flush"):
            stream.flush()
        return None
    else:
        result = _shape(samples, timestamps, multiprocess)
    return (result, returned) if retval else result


# ------------------------------------------------- the reference's other names

try:
    import tracemalloc  # noqa: F401
    has_tracemalloc = True
except ImportError:  # pragma: no cover (every supported Python has it)
    has_tracemalloc = False
has_psutil = True   # the backends named after psutil work without it: read in C


def _get_memory(pid, backend, timestamps=False, include_children=False, filename=None):
    """Memory of process pid (-1: this one) in MiB by backend, or (MiB,
    time) with timestamps (the reference's helper; filename is accepted and
    unused: our tracemalloc backend counts the whole Python heap)."""
    backend = choose_backend(backend)
    pid = 0 if pid == -1 or pid == os.getpid() else pid
    mib = _core.memory(backend, include_children, pid) / _MIB
    return (mib, time.time()) if timestamps else mib


class MemitResult(object):
    """What %memit -o returns (shaped like IPython's TimeitResult)."""

    def __init__(self, mem_usage, baseline, repeat, timeout, interval, include_children):
        self.mem_usage = mem_usage
        self.baseline = baseline
        self.repeat = repeat
        self.timeout = timeout
        self.interval = interval
        self.include_children = include_children

    def __str__(self):
        max_mem = max(self.mem_usage)
        return "peak memory: %.02f MiB, increment: %.02f MiB" % (max_mem, max_mem - self.baseline)

    def _repr_pretty_(self, p, cycle):
        p.text(u"<MemitResult : " + str(self) + u">")


def _mem_timer_base():
    import multiprocessing
    return multiprocessing.Process


class MemTimer(_mem_timer_base()):
    """The reference's sampling process: samples the memory of monitor_pid
    every interval seconds until the parent sends on the pipe, then sends
    back the samples (or their maximum with max_usage) and their count. The
    sampling is our C sampler's (memory_usage does not need this class; it
    is here for code that uses it directly)."""

    def __init__(self, monitor_pid, interval, pipe, backend, max_usage=False, *args, **kw):
        self.monitor_pid = monitor_pid
        self.interval = interval
        self.pipe = pipe
        self.cont = True
        self.backend = backend
        self.max_usage = max_usage
        self.n_measurements = 1
        self.timestamps = kw.pop("timestamps", False)
        self.include_children = kw.pop("include_children", False)
        super(MemTimer, self).__init__(*args, **kw)

    def run(self):
        sampler = _core.Sampler(self.monitor_pid, max(float(self.interval), 1e-4),
                                choose_backend(self.backend), self.include_children, False)
        sampler.start()
        self.pipe.send(0)  # we are ready
        stop = False
        while not stop:
            stop = self.pipe.poll(self.interval)
        sampler.stop()
        samples = sampler.samples()
        values = [(b / _MIB, t) if self.timestamps else b / _MIB for b, t, _ in samples]
        if self.max_usage:
            values = sampler.peak() / _MIB
        self.pipe.send(values)
        self.pipe.send(len(samples))


def exec_with_profiler(filename, profiler, backend, passed_args=[]):
    """Run a script with `profile` bound to profiler (the reference's)."""
    import builtins as _builtins
    _builtins.__dict__["profile"] = profiler
    ns = dict(__name__="__main__", __file__=filename, __builtins__=_builtins,
              profile=profiler)
    _backend = choose_backend(backend)
    sys.argv = [filename] + list(passed_args)
    if _backend == "tracemalloc":
        _core.heap_start()
    with open(filename, encoding="utf-8") as f:
        code = compile(f.read(), filename, "exec")
    exec(code, ns, ns)


def run_module_with_profiler(module, profiler, backend, passed_args=[]):
    """Run a module as __main__ with `profile` bound to profiler (the
    reference's)."""
    import builtins as _builtins
    import runpy
    _builtins.__dict__["profile"] = profiler
    _backend = choose_backend(backend)
    sys.argv = [module] + list(passed_args)
    if _backend == "tracemalloc":
        _core.heap_start()
    runpy.run_module(module, run_name="__main__", alter_sys=True)


def load_ipython_extension(ip):
    """%load_ext memory_profiler: registers %mprun, %%mprun, %memit, %%memit."""
    from .magics import MemoryProfilerMagics
    ip.register_magics(MemoryProfilerMagics)


class LogFile(object):
    """File-like object that writes the report through the logging module;
    with reportIncrementFlag only rows with a positive increment (and the
    headers) are logged. Relies on the report writing one row per write()."""

    def __init__(self, name=None, reportIncrementFlag=False):
        self.logger = logging.getLogger(name)
        self.reportIncrementFlag = reportIncrementFlag

    def write(self, msg, level=logging.INFO):
        if self.reportIncrementFlag:
            if "MiB" in msg:
                try:
                    positive = float(msg.split("MiB")[1].strip()) > 0
                except ValueError:
                    positive = False
                if positive:
                    self.logger.log(level, msg)
            elif "Filename:" in msg or "Line Contents" in msg:
                self.logger.log(level, msg)
        else:
            self.logger.log(level, msg)

    def flush(self):
        for handler in self.logger.handlers:
            handler.flush()


class _TimeStamperCM(object):
    """Context manager timestamping a block (profile.timestamp(name))."""

    def __init__(self, stamper, func, timestamps):
        self.stamper = stamper
        self.func = func
        self.timestamps = timestamps

    def __enter__(self):
        self.stamper._enter(self.func)
        self.timestamps.append(self.stamper._stamp())

    def __exit__(self, *exc):
        self.stamper.current_stack_level -= 1
        self.timestamps.append(self.stamper._stamp())


class TimeStamper(object):
    """Records memory and time at entry and exit of decorated functions; its
    show_results writes the FUNC lines that mprof plots."""

    def __init__(self, backend="psutil", include_children=False):
        self.functions = {}
        self.stack = {}
        self.backend = backend
        self.include_children = include_children
        self.current_stack_level = -1

    def _stamp(self):
        return (_memory_mib(self.backend, self.include_children), time.time())

    def _enter(self, func):
        self.current_stack_level += 1
        self.stack[func].append(self.current_stack_level)

    def __call__(self, func=None, precision=None):
        if func is None:
            return functools.partial(self.__call__, precision=precision)
        if not callable(func):
            raise ValueError("Value must be callable")
        self.add_function(func)
        return self.wrap_function(func)

    def timestamp(self, name="<block>"):
        """A context manager timestamping the block it wraps."""
        def func(x):
            return x
        func.__module__ = ""
        func.__name__ = name
        self.add_function(func)
        timestamps = []
        self.functions[func].append(timestamps)
        return _TimeStamperCM(self, func, timestamps)

    def add_function(self, func):
        if func not in self.functions:
            self.functions[func] = []
            self.stack[func] = []

    def wrap_function(self, func):
        def wrapper(*args, **kwargs):
            timestamps = [self._stamp()]
            self.functions[func].append(timestamps)
            self._enter(func)
            try:
                return func(*args, **kwargs)
            finally:
                self.current_stack_level -= 1
                timestamps.append(self._stamp())
        return functools.wraps(func)(wrapper)

    def show_results(self, stream=None):
        if stream is None:
            stream = sys.stdout
        for func, timestamps in self.functions.items():
            name = "%s.%s" % (func.__module__, func.__name__)
            for ts, level in zip(timestamps, self.stack[func]):
                if len(ts) < 2:
                    continue  # still running when the report was written
                stream.write(_core.datafile_func(name, *(ts[0] + ts[1] + (level,))))
