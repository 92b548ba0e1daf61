"""memory_profiler: line-by-line memory usage of Python code, measured in C.

A drop-in for memory_profiler 0.61: same import name, API, report and
command line. The measuring, tracing and formatting live in the C extension
``memory_profiler._core``; this module only gives them their Python shape.
"""
import functools
import inspect
import logging
import os
import sys
import time
import warnings

from . import _core

__all__ = [
    "profile", "LineProfiler", "show_results", "choose_backend", "LogFile",
    "TimeStamper", "memory_usage", "peak_rss", "sampling_period",
]
__version__ = _core.__version__

_TWO_20 = float(2 ** 20)
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


COLUMNS = ("peak", "heap")


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
    return _core.peak_rss() / _TWO_20


def sampling_period(microseconds=None):
    """The fast mode's read period in microseconds (default 250); with an
    argument, set it. Returns the previous value."""
    if microseconds is None:
        return _core.sampling_period()
    return _core.sampling_period(int(microseconds))


def _memory_mib(backend, include_children=False):
    return _core.memory(backend, include_children) / _TWO_20


def _source_block(code):
    """(filename as reported, first line, number of lines) of a function, or
    None when its source cannot be found."""
    filename = code.co_filename
    if filename.endswith((".pyc", ".pyo")):
        filename = filename[:-1]
    try:
        lines, start = inspect.getsourcelines(code)
    except (OSError, TypeError, IndexError):
        return None
    return filename, max(start, 1), len(lines)


class LineProfiler(_core.LineProfiler):
    """Records, for every line of the functions added to it, the memory after
    the line, its increment and how often it ran."""

    def __init__(self, **kw):
        backend = choose_backend(kw.get("backend", None))
        super().__init__(backend=backend,
                         include_children=bool(kw.get("include_children", False)),
                         max_mem=kw.get("max_mem", None),
                         exact=bool(kw.get("exact", False)),
                         columns=_columns(kw.get("columns", ())))

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
        block = _source_block(code)
        if block is None:
            print("ERROR: Could not find file " + code.co_filename)
            return
        self.add_code(code, *block)

    def wrap_function(self, func):
        """Wrap func so that the profiler is enabled while it runs (for
        generators and coroutines: while they run, across suspensions)."""
        prof = self
        if inspect.iscoroutinefunction(func):
            async def wrapper(*args, **kwargs):
                prof.enable_by_count()
                try:
                    return await func(*args, **kwargs)
                finally:
                    prof.disable_by_count()
        elif inspect.isasyncgenfunction(func):
            async def wrapper(*args, **kwargs):
                prof.enable_by_count()
                try:
                    async for item in func(*args, **kwargs):
                        yield item
                finally:
                    prof.disable_by_count()
        elif inspect.isgeneratorfunction(func):
            def wrapper(*args, **kwargs):
                prof.enable_by_count()
                try:
                    return (yield from func(*args, **kwargs))
                finally:
                    prof.disable_by_count()
        elif sys.version_info < (3, 11):
            # Up to 3.10 every Python-level call also takes C stack, so a
            # Python wrapper doubled it and 10,000-deep recursion overflowed:
            # the C wrapper adds no interpreter frame.
            return _core.ProfiledFunction(self, func)
        else:
            # From 3.11 Python-to-Python calls take no C stack, while a call
            # through a C callable does (and counts against the C recursion
            # limit): here the plain wrapper is the lighter one.
            def wrapper(*args, **kwargs):
                prof.enable_by_count()
                try:
                    return func(*args, **kwargs)
                finally:
                    prof.disable_by_count()
        return functools.wraps(func)(wrapper)

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


def show_results(prof, stream=None, precision=1):
    """Write prof's line-by-line report to stream (default: sys.stdout)."""
    _core.show_results(prof, stream, precision)


def profile(func=None, stream=None, precision=1, backend="psutil", columns=(),
            exact=False):
    """Decorator: run the function under a fresh LineProfiler and write its
    report after every call (for generators and coroutines: after they end).
    columns: "peak", "heap" or both (a list or "peak,heap"); exact: read
    memory on every line instead of when it can have changed."""
    backend = choose_backend(backend)
    columns = _columns(columns)
    if backend == "tracemalloc":
        _core.heap_start()
    if func is None:
        return functools.partial(profile, stream=stream, precision=precision,
                                 backend=backend, columns=columns, exact=exact)

    def report(prof):
        show_results(prof, stream=stream, precision=precision)

    def traced(prof):
        return prof(func)

    def LineProfiler_(**kw):
        return LineProfiler(columns=columns, exact=exact, **kw)

    if inspect.iscoroutinefunction(func):
        async def wrapper(*args, **kwargs):
            prof = LineProfiler_(backend=backend)
            try:
                return await traced(prof)(*args, **kwargs)
            finally:
                report(prof)
    elif inspect.isasyncgenfunction(func):
        async def wrapper(*args, **kwargs):
            prof = LineProfiler_(backend=backend)
            try:
                async for item in traced(prof)(*args, **kwargs):
                    yield item
            finally:
                report(prof)
    elif inspect.isgeneratorfunction(func):
        def wrapper(*args, **kwargs):
            prof = LineProfiler_(backend=backend)
            try:
                return (yield from traced(prof)(*args, **kwargs))
            finally:
                report(prof)
    else:
        def wrapper(*args, **kwargs):
            prof = LineProfiler_(backend=backend)
            try:
                return traced(prof)(*args, **kwargs)
            finally:
                report(prof)
    return functools.wraps(func)(wrapper)


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
        value = (nbytes / _TWO_20, t) if timestamps else nbytes / _TWO_20
        if multiprocess:
            value = [value] + [b / _TWO_20 for _, b in kids]
        out.append(value)
    return out


def _write_stream(stream, samples, multiprocess):
    for nbytes, t, kids in samples:
        stream.write("MEM {0:.6f} {1:.4f}\n".format(nbytes / _TWO_20, t))
        if multiprocess:
            for pid, b in kids:
                stream.write("CHLD {0} {1:.6f} {2:.4f}\n".format(pid, b / _TWO_20, t))


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
    multiprocess; one float (the true peak) with max_usage; (result,
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
        sampler = _core.Sampler(0, interval, backend, include_children, multiprocess)
        sampler.start()
        try:
            returned = f(*args, **kw)
        finally:
            sampler.stop()
    else:
        import subprocess
        if isinstance(proc, subprocess.Popen):
            pid, n = proc.pid, (int(round(timeout / interval)) if timeout else 0)
        else:
            pid = int(proc)
            pid = 0 if pid == -1 else pid
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
        result = sampler.peak() / _TWO_20
    elif stream is not None:
        _write_stream(stream, samples, multiprocess)
        if hasattr(stream, "flush"):
            stream.flush()
        return None
    else:
        result = _shape(samples, timestamps, multiprocess)
    return (result, returned) if retval else result


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
                stream.write("FUNC %s %.4f %.4f %.4f %.4f %d\n" % (
                    (name,) + ts[0] + ts[1] + (level,)))
