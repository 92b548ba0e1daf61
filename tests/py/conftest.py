import os
import re
import signal
import subprocess
import sys
import time

import sysconfig

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# The build folder the tests use (make's BUILD; MP_TEST_BUILD lets two
# checkouts' runs share a tree without rebuilding each other's mprof).
BUILD = os.environ.get("MP_TEST_BUILD", "build")
MPROF = os.path.join(ROOT, BUILD, "mprof")
TARGETS = os.path.join(ROOT, "tests", "targets")
MIB = float(2 ** 20)

# Free-threaded builds (3.13t): objects and list/dict storage are freed
# through QSBR (their pages wait until no thread can still read them) and
# mimalloc keeps freed pages resident, so RSS falls later than the line that
# freed them, exactly as in the same program run without a profiler (see the
# README, "Free-threaded Python"). Tests asserting an RSS fall at `del`, or a
# fresh rise inside the test process after earlier tests freed memory, say
# so with this.
FREE_THREADED = bool(sysconfig.get_config_var("Py_GIL_DISABLED"))
RSS_FALLS_LATER = "free-threaded build: RSS falls when QSBR and mimalloc give pages back, not at del"
IN_PROCESS = ("; in the test process earlier tests' freed pages stay resident and new blocks reuse"
              " them (tests/py/test_free_threading.py checks the same in fresh processes)")


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
    return run_watched(cmd, cwd=cwd or TARGETS, input=stdin, timeout=timeout,
                       env=env or env_with_us())


def run_py(code, *args, cwd=None, timeout=300):
    return run_watched([sys.executable, "-c", code] + list(args), cwd=cwd or TARGETS,
                       timeout=timeout, env=env_with_us())


def run_watched(cmd, timeout, input=None, env=None, **kw):
    """subprocess.run(cmd, capture_output=True, text=True) in its own session,
    where a timeout is a diagnosis rather than a bare TimeoutExpired: every
    process of the session is described (state, kernel wait channel and
    stack), the Python ones dump their threads' tracebacks (faulthandler, on
    SIGABRT), and then the whole session is killed, so no stray grandchild
    outlives the test holding its pipes."""
    env = dict(os.environ if env is None else env)
    env.setdefault("PYTHONFAULTHANDLER", "1")
    stdin = kw.pop("stdin", None)
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE if input is not None else stdin,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         start_new_session=True, env=env, **kw)
    try:
        out, err = p.communicate(input, timeout=timeout)
    except subprocess.TimeoutExpired:
        procs = _session_processes(p.pid)
        for pid, _ in procs:
            if os.path.basename(_readlink("/proc/%d/exe" % pid)).startswith("python"):
                _signal(pid, signal.SIGABRT)
        time.sleep(2)
        for pid, _ in _session_processes(p.pid):
            _signal(pid, signal.SIGKILL)
        out, err = p.communicate()
        pytest.fail("%s did not finish in %s s.\nProcesses then:\n%s\n--- stdout\n%s\n"
                    "--- stderr (Python tracebacks from SIGABRT at the end)\n%s"
                    % (cmd, timeout, "\n".join(d for _, d in procs), out[-4000:], err[-12000:]),
                    pytrace=False)
    return subprocess.CompletedProcess(cmd, p.returncode, out, err)


def _readlink(path):
    try:
        return os.readlink(path)
    except OSError:
        return ""


def _read(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def _stat_fields(path):
    """The fields of a /proc stat file after "(comm)", state first."""
    stat = _read(path)
    return stat[stat.rfind(")") + 2:].split()


def _signal(pid, sig):
    try:
        os.kill(pid, sig)
    except OSError:
        pass


def _session_processes(sid):
    """[(pid, description)] of the live processes in session sid."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        fields = _stat_fields("/proc/%s/stat" % name)
        if len(fields) < 4 or int(fields[3]) != sid:
            continue
        pid = int(name)
        cmdline = _read("/proc/%d/cmdline" % pid).replace("\0", " ").strip()
        threads = []
        for tid in sorted(os.listdir("/proc/%d/task" % pid) if os.path.isdir("/proc/%d/task" % pid) else []):
            base = "/proc/%d/task/%s/" % (pid, tid)
            state = _stat_fields(base + "stat")[:1]
            stack = " < ".join(l.split()[-1] for l in _read(base + "stack").splitlines()[:6])
            threads.append("    tid %s %s wchan=%s %s" % (tid, "".join(state), _read(base + "wchan"), stack))
        found.append((pid, "  pid %d ppid %s state %s: %s\n%s"
                      % (pid, fields[1], fields[0], cmdline, "\n".join(threads))))
    return found


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
    version and build, from tools/venvs.sh (.venv/ref-X.Y) or tools/ft.sh
    (.venv/ref-X.Yt: the free-threaded build's own, so numbers compare like
    with like, and PYTHON_GIL=0 means something to it)."""
    v = "%d.%d" % sys.version_info[:2] + ("t" if FREE_THREADED else "")
    p = os.path.join(ROOT, ".venv", "ref-" + v, "bin", "python")
    return p if os.path.exists(p) else None
