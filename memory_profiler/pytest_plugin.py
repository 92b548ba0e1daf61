"""pytest plugin: memory budgets per test.

    pytest --memprof                      measure every test, enforce its budgets
    @pytest.mark.limit_memory("24 MB")    pytest-memray's marker: the test's peak
                                          of Python-heap bytes (above its start)
    @pytest.mark.memory_budget(peak_rss="200MB", heap_net="1MB", heap_peak="50MB",
                               native_net="10MB")
    --memprof-limit SIZE                  a limit_memory for every test without one
    --memprof-json DIR                    one JSON file per test: its figures and
                                          the per-line report of its own function

Installed with the package (entry point pytest11), inert without --memprof,
--memprof-limit or --memprof-json. The measuring is the extension's: the
allocator hooks' exact byte counts (heap_net, heap_peak), the native hooks'
(native_net: malloc and friends of every library, in the test's thread),
the C sampler's peak RSS (peak_rss, the kernel's mark reset at the test's
start), and a LineProfiler on the test function, which also holds the native
hooks, for the report on a breach."""
import json
import os
import re

import pytest

from . import _MIB, LineProfiler, _core, show_results

_BUDGETS = ("peak_rss", "heap_net", "heap_peak", "native_net")


def pytest_addoption(parser):
    g = parser.getgroup("memprof", "memory budgets (memory_profiler)")
    g.addoption("--memprof", action="store_true", default=False,
                help="measure every test (peak RSS, Python-heap bytes net and peak) and "
                     "fail those over their budgets")
    g.addoption("--memprof-limit", metavar="SIZE", default=None,
                help="a limit_memory for every test that has none (implies --memprof)")
    g.addoption("--memprof-json", metavar="DIR", default=None,
                help="write each test's figures and line report as JSON into DIR "
                     "(implies --memprof)")
    g.addoption("--memprof-top", metavar="N", type=int, default=5,
                help="how many of the largest tests the summary lists (default 5)")


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "limit_memory(size): fail the test if its Python-heap bytes rise more "
        "than size above where they were at its start (pytest-memray's marker; enforced "
        "with --memprof)")
    config.addinivalue_line(
        "markers", "memory_budget(peak_rss=None, heap_net=None, heap_peak=None, "
        "native_net=None): fail the "
        "test past any of these (sizes such as '24 MB'; enforced with --memprof)")
    opt = config.getoption
    if opt("memprof") or opt("memprof_limit") or opt("memprof_json"):
        default = None
        if opt("memprof_limit"):
            default = _size(opt("memprof_limit"), "--memprof-limit")
        config.pluginmanager.register(_Session(config, default), "memory_profiler-session")


def _size(text, what):
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        return float(text)
    try:
        return _core.parse_size(str(text))
    except ValueError as e:
        raise pytest.UsageError("%s: %s" % (what, e))


def _mib(n):
    return "%.3f MiB" % (n / _MIB)


class _Session:
    def __init__(self, config, default):
        self.config = config
        self.default = default
        self.results = {}          # nodeid -> figures (this process's tests)
        self.worker = hasattr(config, "workerinput")
        self.json_dir = config.getoption("memprof_json")
        self.tree = None           # the controller's sampler of all workers (xdist)
        self.tree_peak = None

    # --------------------------------------------------------- session

    def pytest_sessionstart(self, session):
        _core.heap_start()
        if self.json_dir:
            os.makedirs(self.json_dir, exist_ok=True)
        if not self.worker and self.config.pluginmanager.hasplugin("dsession"):
            # xdist's controller: its children are the workers; their
            # combined peak is the tree's, sampled as one.
            self.tree = _core.Sampler(pid=os.getpid(), interval=0.01, include_children=True)
            self.tree.start()

    def pytest_sessionfinish(self, session):
        if self.tree is not None:
            self.tree.stop()
            self.tree_peak = self.tree.peak()
        if self.worker:
            self.config.workeroutput["memory_profiler"] = json.dumps(self.results)

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node, error):
        got = getattr(node, "workeroutput", {}).get("memory_profiler")
        if got:
            self.results.update(json.loads(got))

    # ------------------------------------------------------------ test

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_call(self, item):
        fn = getattr(item, "function", None)
        prof = LineProfiler(columns=("heap",))
        if fn is not None and hasattr(fn, "__code__"):
            prof.add_function(fn)
        sampler = _core.Sampler(pid=0, interval=0.001)
        sampler.start()
        rss0 = sampler.samples()[0][0]  # (bytes, time, children)
        base = _core.memory(backend="tracemalloc")
        _core.heap_peak(reset=True)
        native0 = _core.native_thread()[0]
        prof.enable_by_count()
        try:
            yield
        finally:
            prof.disable_by_count()
            heap_peak = _core.heap_peak() - base
            heap_net = _core.memory(backend="tracemalloc") - base
            native_net = _core.native_thread()[0] - native0
            sampler.stop()
            peak_rss = sampler.peak() - rss0
            item._memprof = {"peak_rss": peak_rss, "heap_net": heap_net,
                             "heap_peak": heap_peak, "native_net": native_net,
                             "limits": self._limits(item), "profiler": prof}

    def _limits(self, item):
        limits = {}
        for mark in item.iter_markers("memory_budget"):
            for key, value in mark.kwargs.items():
                if key not in _BUDGETS:
                    raise pytest.UsageError("memory_budget(%s=...): choose from %s"
                                            % (key, ", ".join(_BUDGETS)))
                limits.setdefault(key, _size(value, "memory_budget(%s)" % key))
        mark = item.get_closest_marker("limit_memory")
        if mark is not None:
            if not mark.args:
                raise pytest.UsageError("limit_memory needs a size, e.g. limit_memory('24 MB')")
            limits.setdefault("heap_peak", _size(mark.args[0], "limit_memory"))
        if self.default is not None and "heap_peak" not in limits:
            limits["heap_peak"] = self.default
        return limits

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item, call):
        outcome = yield
        report = outcome.get_result()
        got = getattr(item, "_memprof", None)
        if call.when != "call" or got is None:
            return
        del item._memprof
        prof = got.pop("profiler")
        over = [(k, got[k], got["limits"][k]) for k in _BUDGETS
                if k in got["limits"] and got[k] > got["limits"][k]]
        figures = {k: got[k] for k in _BUDGETS}
        figures["limits"] = got["limits"]
        figures["over"] = [k for k, _, _ in over]
        self.results[item.nodeid] = figures
        if self.json_dir:
            self._write_json(item.nodeid, figures, prof)
        if over and report.passed:
            import io
            text = io.StringIO()
            show_results(prof, stream=text, precision=3)
            lines = ["memory budget exceeded:"]
            for key, value, limit in over:
                lines.append("  %s %s > %s" % (key, _mib(value), _mib(limit)))
            lines.append("")
            lines.append(text.getvalue().rstrip() or "(no line of the test function ran)")
            report.outcome = "failed"
            report.longrepr = "\n".join(lines)

    def _write_json(self, nodeid, figures, prof):
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", nodeid).strip("_")[:200] or "test"
        doc = dict(figures, test=nodeid, unit="bytes", lines=json.loads(prof.to_json()))
        path = os.path.join(self.json_dir, name + ".json")
        with open(path, "w") as f:
            json.dump(doc, f, indent=1)

    # --------------------------------------------------------- summary

    def pytest_terminal_summary(self, terminalreporter):
        if self.worker or not self.results:
            return
        tr = terminalreporter
        tr.section("memory (memory_profiler)")
        top = sorted(self.results.items(), key=lambda kv: -kv[1]["heap_peak"])
        for nodeid, r in top[:max(0, self.config.getoption("memprof_top"))]:
            tr.write_line("%14s heap peak %14s heap net %14s peak RSS  %s%s" % (
                _mib(r["heap_peak"]), _mib(r["heap_net"]), _mib(r["peak_rss"]), nodeid,
                "  (over: %s)" % ", ".join(r["over"]) if r["over"] else ""))
        over = sum(1 for r in self.results.values() if r["over"])
        tr.write_line("%d tests measured, %d over their budgets" % (len(self.results), over))
        if self.tree_peak is not None:
            tr.write_line("the controller and its workers together: peak RSS %s"
                          % _mib(self.tree_peak))
