"""mprof (the C program): every subcommand and flag, exit codes, signals,
attach, children, FUNC records, and files written by the reference."""
import glob
import os
import pty
import re
import signal
import subprocess
import sys
import time

import pytest

from conftest import (BUILD, FREE_THREADED, MPROF, RSS_FALLS_LATER, ROOT, env_with_us,
                      reference_python, run_watched)

LINE = re.compile(r"^(CMDLINE .*|MEM \d+\.\d{6} \d+\.\d{4}|CHLD \d+ \d+\.\d{6} \d+\.\d{4}|"
                  r"FUNC \S+ -?\d+\.\d{4} \d+\.\d{4} -?\d+\.\d{4} \d+\.\d{4} \d+)$")


@pytest.fixture(scope="session", autouse=True)
def built():
    r = subprocess.run(["make", "-s", "mprof", "BUILD=" + BUILD], cwd=ROOT, capture_output=True,
                       text=True)
    assert r.returncode == 0, r.stderr
    assert os.access(MPROF, os.X_OK)


def env():
    return env_with_us(MPROF_PYTHON=sys.executable)


def mprof(*args, cwd, timeout=120, **kw):
    return run_watched([MPROF] + list(args), cwd=cwd, timeout=timeout, env=env(), **kw)


def records(path):
    """Data-file lines; every one must be a complete, well-formed record."""
    with open(path) as f:
        text = f.read()
    assert text.endswith("\n"), text[-200:]
    lines = text.splitlines()
    for line in lines:
        assert LINE.match(line), line
    return lines


def mem(lines):
    return [(float(l.split()[1]), float(l.split()[2])) for l in lines if l.startswith("MEM ")]


def py(code):
    """argv running code under this interpreter, not as a .py target."""
    return [sys.executable, "-c", code]


def data_files(folder):
    return sorted(glob.glob(os.path.join(str(folder), "mprofile_*.dat")))


# ------------------------------------------------------------------ run

def test_run_an_executable_writes_the_reference_format(tmp_path):
    r = mprof("run", "-T", "0.01", *py("import time; a = bytearray(40 << 20); time.sleep(0.3)"),
              cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[:2] == ["mprof: Sampling memory every 0.01s", "running new process"]
    (path,) = data_files(tmp_path)
    assert re.search(r"mprofile_\d{14}\.dat$", path)
    lines = records(path)
    assert lines[0].startswith("CMDLINE %s -c 'import time; a = bytearray" % sys.executable)
    samples = mem(lines)
    assert len(samples) >= 10
    assert max(m for m, _ in samples) > 40
    times = [t for _, t in samples]
    assert times == sorted(times) and abs(times[0] - time.time()) < 60
    assert r.stderr == ""  # no live readout when stderr is not a terminal


def test_interval_of_one_millisecond_is_honoured(tmp_path):
    r = mprof("run", "--interval=0.001", "-o", "fast.dat", *py("import time; time.sleep(0.5)"),
              cwd=tmp_path)
    assert r.returncode == 0
    assert "every 0.001s" in r.stdout
    samples = mem(records(tmp_path / "fast.dat"))
    assert len(samples) >= 200  # 500 expected; generous for a loaded machine


def test_output_option_appends_runs(tmp_path):
    for _ in range(2):
        assert mprof("run", "-o", "both.dat", "true", cwd=tmp_path).returncode == 0
    lines = records(tmp_path / "both.dat")
    assert sum(l.startswith("CMDLINE true") for l in lines) == 2


def test_exit_code_flag(tmp_path):
    code = "import sys; sys.exit(7)"
    assert mprof("run", *py(code), cwd=tmp_path).returncode == 0
    r = mprof("run", "-E", *py(code), cwd=tmp_path)
    assert r.returncode == 7
    assert "ERROR:mprof:Program resulted with a non-zero exit code: 7" in r.stderr
    killed = "import os, signal; os.kill(os.getpid(), signal.SIGKILL)"
    assert mprof("run", "-E", *py(killed), cwd=tmp_path).returncode == 128 + 9
    assert mprof("run", "-E", "true", cwd=tmp_path).returncode == 0


def test_program_io_passes_through(tmp_path):
    r = subprocess.run([MPROF, "run", "--nopython", sys.executable, "-c",
                        "import sys; sys.stdout.write(sys.stdin.read().upper()); sys.stderr.write('e')"],
                       cwd=tmp_path, input="hello", capture_output=True, text=True, env=env())
    assert r.returncode == 0
    assert r.stdout.endswith("HELLO") and r.stderr == "e"


def test_arguments_reach_the_program_unchanged_without_a_shell(tmp_path):
    marker = tmp_path / "not-created"
    arg = "a b 'c' \"d\" $(touch %s) ; *" % marker
    r = mprof("run", *py("import sys; print(repr(sys.argv[1]))"), arg, cwd=tmp_path)
    assert repr(arg) in r.stdout
    assert not marker.exists()


@pytest.mark.parametrize("args,code,text", [
    ([], 1, "A program to run must be provided. Use -h for help"),
    (["--frobnicate", "true"], 2, "mprof run: error: unrecognized option: --frobnicate"),
    (["-T", "fast", "true"], 2, "mprof run: error: argument --interval/-T: invalid value 'fast'"),
    (["-T"], 2, "mprof run: error: option -T needs a value"),
    (["--backend", "nope", "true"], 2, "mprof run: error: argument --backend: invalid choice 'nope'"),
    (["--backend", "tracemalloc", "true"], 2, "tracemalloc measures a Python heap"),
    (["-t", "-3", "true"], 2, "argument --timeout/-t"),
    (["/nonexistent/program"], 127, "mprof run: error: cannot run /nonexistent/program: No such file"),
])
def test_run_errors(tmp_path, args, code, text):
    r = mprof("run", *args, cwd=tmp_path)
    assert r.returncode == code
    assert text in (r.stdout + r.stderr)
    assert "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) <= 1
    assert data_files(tmp_path) == []  # nothing left behind


def test_program_that_is_not_executable(tmp_path):
    script = tmp_path / "script.sh"
    script.write_text("echo hi\n")
    r = mprof("run", "-o", "x.dat", str(script), cwd=tmp_path)
    assert r.returncode == 126
    assert "Permission denied" in r.stderr
    assert not (tmp_path / "x.dat").exists()


def test_unknown_command_and_help(tmp_path):
    r = mprof("frob", cwd=tmp_path)
    assert r.returncode == 1 and "Available commands" in r.stdout
    for cmd in ("run", "attach", "list", "rm", "clean", "peak"):
        r = mprof(cmd, "--help", cwd=tmp_path)
        assert r.returncode == 0 and "usage" in r.stdout.lower(), cmd
    r = mprof("--version", cwd=tmp_path)
    assert r.returncode == 0 and re.match(r"\d+\.\d+", r.stdout)


def test_output_errors_are_reported_before_the_program_runs(tmp_path):
    marker = tmp_path / "ran"
    prog = py("open(%r, 'w')" % str(marker))
    r = mprof("run", "-o", "/dev/full", *prog, cwd=tmp_path)
    assert r.returncode == 5 and "No space left on device" in r.stderr
    r = mprof("run", "-o", str(tmp_path / "missing" / "x.dat"), *prog, cwd=tmp_path)
    assert r.returncode == 5 and "No such file or directory" in r.stderr
    target = tmp_path / "precious"
    target.write_text("keep\n")
    os.symlink(str(target), str(tmp_path / "planted.dat"))
    r = mprof("run", "-o", "planted.dat", *prog, cwd=tmp_path)
    assert r.returncode == 5 and "symbolic link" in r.stderr
    assert target.read_text() == "keep\n"
    assert not marker.exists()


def test_timeout_stops_sampling(tmp_path):
    start = time.time()
    # Files, not pipes: the program keeps running (and holding them) afterwards.
    with open(str(tmp_path / "err"), "w+") as err:
        rc = subprocess.call([MPROF, "run", "-t", "0.5", "-o", "t.dat",
                              *py("import time; time.sleep(30)")],
                             cwd=str(tmp_path), stdout=subprocess.DEVNULL, stderr=err, env=env())
        err.seek(0)
        stderr = err.read()
    assert rc == 0
    assert time.time() - start < 15
    pid = int(re.search(r"process (\d+) keeps running", stderr).group(1))
    os.kill(pid, signal.SIGKILL)
    samples = mem(records(tmp_path / "t.dat"))
    assert 0.3 < samples[-1][1] - samples[0][1] < 2


def _start(args, cwd, **kw):
    return subprocess.Popen([MPROF] + args, cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env(), **kw)


def _wait_for_samples(path, n=3, limit=30):
    deadline = time.time() + limit
    while time.time() < deadline:
        if os.path.exists(path) and open(path).read().count("\nMEM ") >= n:
            return
        time.sleep(0.05)
    raise AssertionError("no samples in %s" % path)


def test_ctrl_c_stops_the_program_and_leaves_a_complete_file(tmp_path):
    # A terminal's Ctrl-C goes to the whole foreground process group.
    (tmp_path / "ctrl.py").write_text(
        # Short sleeps: a SIGINT landing between two bytecodes just before one
        # long C sleep would wait out that sleep (CPython checks signals at
        # the loop's jump, not before entering time.sleep).
        # 'inside' appears once the loop runs.
        "import time\n@profile\ndef f():\n"
        "    st = [l for l in open('/proc/self/status') if l.startswith(('SigBlk', 'SigIgn'))]\n"
        "    for i in range(1200):\n        time.sleep(0.05)\n"
        "        if i == 2:\n            open('inside', 'w').write(''.join(st))\n"
        "try:\n    f()\nexcept KeyboardInterrupt:\n    print('interrupted', flush=True)\n    raise\n")
    # As a terminal's foreground job: SIGINT not ignored. A test run started
    # in the background by a non-interactive shell (cmd &) inherits SIGINT and
    # SIGQUIT ignored, and Python then rightly keeps ignoring Ctrl-C.
    def foreground():
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        signal.signal(signal.SIGQUIT, signal.SIG_DFL)

    p = subprocess.Popen([MPROF, "run", "-T", "0.01", "-o", "c.dat", "ctrl.py"], cwd=tmp_path,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         env=dict(env(), PYTHONFAULTHANDLER="1"), start_new_session=True,
                         preexec_fn=foreground)
    deadline = time.time() + 60
    while not (tmp_path / "inside").exists() and time.time() < deadline:
        time.sleep(0.05)  # until the program is inside f
    time.sleep(0.2)
    os.killpg(p.pid, signal.SIGINT)
    try:
        out, err = p.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        # What the program's and our own signal state were (inherited masks).
        with open("/proc/self/status") as f:
            ours = [l for l in f if l.startswith(("SigBlk", "SigIgn"))]
        kids = open("/proc/%d/task/%d/children" % (p.pid, p.pid)).read().split()
        for k in kids:  # faulthandler shows where the program is
            os.kill(int(k), signal.SIGABRT)
        time.sleep(1)
        p.kill()
        out, err = p.communicate()
        raise AssertionError("no exit 30 s after SIGINT; program: %r; test process: %r; "
                             "stdout %r; stderr %r" % ((tmp_path / "inside").read_text(),
                                                       "".join(ours), out, err[-3000:]))
    assert p.returncode == 128 + signal.SIGINT
    assert "interrupted" in out
    lines = records(tmp_path / "c.dat")
    assert len(mem(lines)) >= 3
    assert [l.split()[1] for l in lines if l.startswith("FUNC ")] == ["__main__.f"]


def test_a_signal_sent_to_mprof_alone_is_passed_on(tmp_path):
    p = _start(["run", "-E", "-o", "s.dat", *py("import time; time.sleep(60)")], tmp_path)
    _wait_for_samples(str(tmp_path / "s.dat"), n=2)
    p.send_signal(signal.SIGTERM)
    p.communicate(timeout=30)
    assert p.returncode == 128 + signal.SIGTERM  # the program's own death, via -E
    records(tmp_path / "s.dat")


def test_kill_9_of_mprof_leaves_a_parseable_file(tmp_path):
    p = _start(["run", "-T", "0.001", "-o", "k.dat",
                *py("import time; a = [bytearray(1 << 20) for _ in range(30)]; time.sleep(60)")],
               tmp_path, start_new_session=True)
    _wait_for_samples(str(tmp_path / "k.dat"), n=200)
    time.sleep(0.3)
    os.kill(p.pid, signal.SIGKILL)
    p.wait(timeout=30)
    os.killpg(p.pid, signal.SIGKILL)  # the orphaned program
    p.communicate(timeout=30)
    lines = records(tmp_path / "k.dat")
    assert len(mem(lines)) >= 200
    r = mprof("peak", "k.dat", cwd=tmp_path)
    assert r.returncode == 0 and float(r.stdout.split("\t")[1].split()[0]) > 30


def test_data_reaches_the_file_while_running(tmp_path):
    p = _start(["run", "-T", "0.05", "-o", "live.dat", *py("import time; time.sleep(60)")], tmp_path)
    try:
        _wait_for_samples(str(tmp_path / "live.dat"), n=5, limit=5)
    finally:
        p.send_signal(signal.SIGTERM)
        p.communicate(timeout=30)


def test_live_readout_on_a_terminal(tmp_path):
    master, slave = pty.openpty()
    p = subprocess.Popen([MPROF, "run", "-T", "0.01", "-o", "tty.dat",
                          *py("import time; time.sleep(0.8)")],
                         cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=slave, env=env())
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 4096)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    p.wait(timeout=30)
    os.close(master)
    text = b"".join(chunks).decode()
    assert re.search(r"\r\x1b\[Kmprof: \d+\.\d s  \d+\.\d MiB  peak \d+\.\d MiB", text), text
    assert text.endswith("\r\x1b[K")  # the line is cleared at the end


# ------------------------------------------------------------------ attach

def test_attach_by_pid_ends_cleanly_when_the_process_exits(tmp_path):
    target = subprocess.Popen(py("import time; a = bytearray(30 << 20); time.sleep(1.5)"))
    try:
        r = mprof("attach", "-T", "0.01", "-o", "a.dat", str(target.pid), cwd=tmp_path)
    finally:
        target.wait()
    assert r.returncode == 0, r.stderr
    assert "attaching to existing process, using hint: %d" % target.pid in r.stdout
    lines = records(tmp_path / "a.dat")
    assert lines[0].startswith("CMDLINE %s -c" % sys.executable)
    assert max(m for m, _ in mem(lines)) > 30
    # -E with attach: no crash; the status of a non-child is not ours to see.
    target = subprocess.Popen(["sleep", "0.5"])
    r = mprof("run", "-a", "-E", "-o", "b.dat", str(target.pid), cwd=tmp_path)
    target.wait()
    assert r.returncode == 0


def test_attach_by_name(tmp_path):
    # A name of this run's own: another test run on the machine has one too.
    sleeper = tmp_path / ("mpsleepy%d" % os.getpid())
    os.symlink("/bin/sleep", str(sleeper))
    target = subprocess.Popen([str(sleeper), "1"])
    try:
        r = mprof("attach", "-o", "n.dat", "sleepy%d" % os.getpid(), cwd=tmp_path)
    finally:
        target.wait()
    assert r.returncode == 0, r.stderr
    assert records(tmp_path / "n.dat")[0] == "CMDLINE %s 1" % sleeper


def test_attach_errors(tmp_path):
    r = mprof("attach", "999999999", cwd=tmp_path)
    assert r.returncode == 3 and "no process with pid 999999999" in r.stderr
    r = mprof("attach", "no-such-process-name-xyz", cwd=tmp_path)
    assert r.returncode == 3 and "no process found using hint: no-such-process-name-xyz" in r.stderr
    gone = subprocess.Popen(["true"])
    gone.wait()
    r = mprof("attach", str(gone.pid), cwd=tmp_path)
    assert r.returncode == 3
    assert data_files(tmp_path) == []
    # A zombie (ended, not yet reaped: its pid still answers) is just as gone,
    # for every backend; before, an empty data file and exit 0, silently.
    zombie = subprocess.Popen(["true"])
    try:
        deadline = time.time() + 10
        while time.time() < deadline and not open("/proc/%d/stat" % zombie.pid).read().rsplit(")", 1)[1].startswith(" Z"):
            time.sleep(0.01)
        for backend in ("psutil", "posix", "psutil_uss"):
            r = mprof("attach", "--backend", backend, str(zombie.pid), cwd=tmp_path)
            assert r.returncode == 3, (backend, r.stderr)
            # smaps_rollup of a zombie does not open at all: "no process".
            assert re.fullmatch(r"mprof attach: error: (process %d has ended \(nothing left to "
                                r"sample\)|no process with pid %d)\n" % (zombie.pid, zombie.pid),
                                r.stderr), (backend, r.stderr)
    finally:
        zombie.wait()
    assert data_files(tmp_path) == []


# ------------------------------------------------------------------ children

FORKER = ("import os, time\n"
          "pid = os.fork()\n"
          "if pid == 0:\n"
          "    a = bytearray(60 << 20); time.sleep(0.6); os._exit(0)\n"
          "os.waitpid(pid, 0)\n")


def test_include_children_adds_forked_memory(tmp_path):
    mprof("run", "-T", "0.02", "-o", "alone.dat", *py(FORKER), cwd=tmp_path)
    mprof("run", "-T", "0.02", "-C", "-o", "with.dat", *py(FORKER), cwd=tmp_path)
    alone = max(m for m, _ in mem(records(tmp_path / "alone.dat")))
    with_children = max(m for m, _ in mem(records(tmp_path / "with.dat")))
    assert alone < 40 and with_children > 60


def test_multiprocess_records_each_child(tmp_path):
    r = mprof("run", "-T", "0.02", "-M", "-o", "m.dat", *py(FORKER), cwd=tmp_path)
    assert r.returncode == 0
    lines = records(tmp_path / "m.dat")
    chld = [l.split() for l in lines if l.startswith("CHLD ")]
    assert chld and max(float(c[2]) for c in chld) > 60
    assert max(m for m, _ in mem(lines)) < 40  # -M alone does not sum
    r = mprof("peak", "m.dat", cwd=tmp_path)
    assert re.search(r"^  Child \d+\t\t\t\d+\.\d{3} MiB$", r.stdout, re.M)


WIDE = ("import os, sys, time\n"
        "pids = []\n"
        "for i in range(100):\n"
        "    pid = os.fork()\n"
        "    if pid == 0:\n"
        "        b = bytearray(16 << 20)\n"
        "        for j in range(0, len(b), 4096): b[j] = 1\n"
        "        time.sleep(2.5); os._exit(0)\n"
        "    pids.append(pid)\n"
        "for pid in pids: os.waitpid(pid, 0)\n")


def test_include_children_with_more_children_than_descriptors(tmp_path):
    # 100 children of 16 MiB each under a limit of 64 descriptors: each child
    # is counted at every sample (was: about 40 of them, and every other
    # sample the main process alone, the listing starved of descriptors).
    import resource

    def low():
        resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))
    r = mprof("run", "-T", "0.1", "-C", "-o", "w.dat", *py(WIDE), cwd=tmp_path, preexec_fn=low)
    assert r.returncode == 0, r.stderr
    m = [v for v, _ in mem(records(tmp_path / "w.dat"))]
    full = [i for i, v in enumerate(m) if v >= 1600]
    assert full, m
    assert all(v >= 1600 for v in m[full[0]:full[0] + 6]), m


SCRIPT = '''
import multiprocessing as mp
import sys
import time


@profile
def child(n):
    b = bytearray(n << 20)
    time.sleep(0.4)
    return len(b)


@profile
def main():
    a = bytearray(20 << 20)
    with mp.get_context(sys.argv[1]).Pool(2) as pool:
        print(sum(pool.map(child, [30, 30])))
    return len(a)


if __name__ == "__main__":
    main()
'''


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_python_script_with_multiprocessing_keeps_profile_and_writes_func(tmp_path, method):
    (tmp_path / "job.py").write_text(SCRIPT)
    r = mprof("run", "-M", "-T", "0.02", "-o", "p.dat", "job.py", method, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "running as a Python program..." in r.stdout
    assert str(2 * (30 << 20)) in r.stdout
    lines = records(tmp_path / "p.dat")
    assert lines[0] == "CMDLINE %s job.py %s" % (sys.executable, method)
    funcs = [l.split() for l in lines if l.startswith("FUNC ")]
    assert [f[1] for f in funcs if f[1] == "__main__.main"] == ["__main__.main"]
    main = [f for f in funcs if f[1] == "__main__.main"][0]
    assert main[6] == "0" and float(main[5]) > float(main[3])
    chld = [l for l in lines if l.startswith("CHLD ")]
    assert max(float(c.split()[2]) for c in chld) > 30


@pytest.mark.skipif(FREE_THREADED, reason=RSS_FALLS_LATER)
def test_func_records_from_a_decorated_script_and_peak_func(tmp_path):
    (tmp_path / "f.py").write_text(
        "import time\n@profile\ndef big():\n    a = bytearray(50 << 20)\n    time.sleep(0.3)\n"
        "@profile\ndef small():\n    time.sleep(0.3)\nsmall(); big(); small()\n")
    r = mprof("run", "-T", "0.01", "-o", "f.dat", "f.py", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    funcs = [l.split() for l in records(tmp_path / "f.dat") if l.startswith("FUNC ")]
    assert sorted(f[1] for f in funcs) == ["__main__.big", "__main__.small", "__main__.small"]
    big = float(mprof("peak", "--func", "__main__.big", "f.dat", cwd=tmp_path).stdout.split("\t")[1].split()[0])
    small = float(mprof("peak", "--func", "__main__.small", "f.dat", cwd=tmp_path).stdout.split("\t")[1].split()[0])
    assert big > small + 40
    r = mprof("peak", "--func", "nope", "f.dat", cwd=tmp_path)
    assert r.returncode == 6 and r.stdout == ""
    assert r.stderr.strip() == "mprof peak: error: f.dat holds no call of nope"


def test_peak_func_covers_children_and_merges_nested_calls(tmp_path):
    (tmp_path / "f.dat").write_text(
        "CMDLINE x\nMEM 10 1.0\nCHLD 7 3 1.0\nFUNC m.f 10 1.5 12 2.5 0\n"
        "FUNC m.f 10 1.6 12 2.1 1\nMEM 50 2.0\nCHLD 7 30 2.0\nMEM 20 3.0\nCHLD 7 90 3.0\n"
        "FUNC m.f 20 3.5 22 3.6 0\n")
    r = mprof("peak", "--func", "m.f", "f.dat", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "f.dat\t50.000 MiB\n  Child 7\t\t\t30.000 MiB\n"
    r = mprof("peak", "f.dat", cwd=tmp_path)
    assert r.stdout == "f.dat\t50.000 MiB\n  Child 7\t\t\t90.000 MiB\n"


def test_peak_func_is_linear_in_calls_and_samples(tmp_path):
    with open(str(tmp_path / "big.dat"), "w") as f:
        f.write("CMDLINE x\n")
        f.writelines("MEM %d %.3f\n" % (10 + i % 7, 1000 + i * 0.001) for i in range(1000000))
        f.writelines("FUNC m.f 1 %.3f 2 %.3f 0\n" % (1000 + j * 0.1, 1000 + j * 0.1 + 0.09)
                     for j in range(10000))
    r = mprof("peak", "--func", "m.f", "big.dat", cwd=tmp_path, timeout=60)
    assert r.returncode == 0 and r.stdout == "big.dat\t16.000 MiB\n", r.stderr


def test_peak_refuses_what_is_not_a_regular_file(tmp_path):
    os.mkfifo(str(tmp_path / "fifo.dat"))
    for path in ("/dev/zero", str(tmp_path / "fifo.dat")):
        r = mprof("peak", path, cwd=tmp_path, timeout=30)
        assert r.returncode == 6 and r.stdout == ""
        assert r.stderr.strip() == "mprof peak: error: cannot read %s: not a regular file" % path


def test_peak_of_garbage_and_of_huge_values(tmp_path):
    (tmp_path / "g.dat").write_bytes(os.urandom(3000).replace(b"\n", b" "))
    r = mprof("peak", "g.dat", cwd=tmp_path)
    assert r.returncode == 6 and r.stdout == "", r.stdout
    (tmp_path / "h.dat").write_text("CMDLINE x\nMEM 1e308 1.0\nMEM 5 2.0\n")
    r = mprof("peak", "h.dat", cwd=tmp_path)
    assert r.returncode == 0 and r.stdout == "h.dat\t1e+308 MiB\n"


def test_run_a_script_whose_name_starts_with_python(tmp_path):
    (tmp_path / "python_job.py").write_text("x = [0] * 10 ** 6\nimport time; time.sleep(0.2)\n")
    r = mprof("run", "-T", "0.05", "-o", "p.dat", "-E", "./python_job.py", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "running as a Python program..." in r.stdout
    assert records(tmp_path / "p.dat")[0].split()[2:] == ["./python_job.py"]  # after the interpreter


# ------------------------------------------------------------------ list/rm/clean/peak

def _fake(folder, stamp, values, children=()):
    name = "mprofile_%s.dat" % stamp
    with open(os.path.join(str(folder), name), "w") as f:
        f.write("CMDLINE fake\n")
        for i, v in enumerate(values):
            f.write("MEM %.6f %.4f\n" % (v, 1000 + i))
            for pid, cv in children:
                f.write("CHLD %d %.6f %.4f\n" % (pid, cv + i, 1000 + i))
    return name


def test_list_rm_clean(tmp_path):
    a = _fake(tmp_path, "20240101120000", [1])
    b = _fake(tmp_path, "20250615083005", [2])
    (tmp_path / "other.dat").write_text("")
    r = mprof("list", cwd=tmp_path)
    assert r.stdout == ("0 %s 12:00:00 01/01/2024\n1 %s 08:30:05 15/06/2025\n" % (a, b))
    r = mprof("rm", "--dry-run", "-1", cwd=tmp_path)
    assert r.stdout == "Files to be removed: \n%s\n" % b
    assert (tmp_path / b).exists()
    assert mprof("rm", "-1", cwd=tmp_path).returncode == 0
    assert not (tmp_path / b).exists()
    r = mprof("rm", "7", cwd=tmp_path)
    assert r.returncode == 6 and "Invalid index (non-existing file): 7" in r.stderr
    r = mprof("rm", cwd=tmp_path)
    assert r.returncode == 1 and "A profile to remove must be provided" in r.stdout
    r = mprof("rm", "nothere.dat", cwd=tmp_path)
    assert r.returncode == 6 and "File nothere.dat not found" in r.stderr
    assert mprof("rm", "other.dat", cwd=tmp_path).returncode == 0
    _fake(tmp_path, "20260101000000", [3])
    r = mprof("clean", "--dry-run", cwd=tmp_path)
    assert r.stdout.count("mprofile_") == 2
    assert mprof("clean", cwd=tmp_path).returncode == 0
    assert data_files(tmp_path) == []
    assert mprof("list", cwd=tmp_path).stdout == ""
    assert mprof("clean", "extra", cwd=tmp_path).returncode == 2


def test_peak(tmp_path):
    a = _fake(tmp_path, "20240101120000", [1, 5.5, 2], children=[(101, 3), (102, 7)])
    b = _fake(tmp_path, "20240101120001", [9.25])
    r = mprof("peak", cwd=tmp_path)
    assert r.stdout == "Using last profile data.\n%s\t9.250 MiB\n" % b
    r = mprof("peak", a, "1", "nothere.dat", cwd=tmp_path)
    assert r.stdout == ("Input file not found: nothere.dat\n"
                        "%s\t5.500 MiB\n  Child 101\t\t\t5.000 MiB\n  Child 102\t\t\t9.000 MiB\n"
                        "%s\t9.250 MiB\n" % (a, b))


def test_peak_without_files(tmp_path):
    r = mprof("peak", cwd=tmp_path)
    assert r.returncode == 255
    assert r.stdout.startswith("No input file found. \nThis program looks for mprofile_*.dat")
    r = mprof("peak", "nothere.dat", cwd=tmp_path)
    assert r.returncode == 255 and "No files found from given input." in r.stdout


def test_reader_tolerates_damaged_and_mixed_files(tmp_path):
    (tmp_path / "d.dat").write_bytes(
        b"CMDLINE one\nMEM 3.0 10.0\nFUNC old.style 1.0 10.0 2.0 11.0\nWHATEVER 1\n"
        b"MEM 8.0 12.0\nCMDLINE two\nMEM 4.0 11.0\n\x00\x00garbage\nMEM 99.0 13")
    r = mprof("peak", "d.dat", cwd=tmp_path)
    assert r.returncode == 0 and r.stdout == "d.dat\t8.000 MiB\n"
    (tmp_path / "empty.dat").write_text("")
    r = mprof("peak", "empty.dat", cwd=tmp_path)
    assert r.returncode == 6 and "holds no memory samples" in r.stderr
    os.mkdir(str(tmp_path / "dir.dat"))
    r = mprof("peak", "dir.dat", cwd=tmp_path)
    assert r.returncode == 6 and "Is a directory" in r.stderr


# ------------------------------------------------------------------ the reference's files

@pytest.fixture
def ref():
    python = reference_python()
    if python is None:
        pytest.skip("no reference venv for this interpreter (tools/venvs.sh)")
    return python


def test_files_written_by_the_reference_mprof_are_read(tmp_path, ref):
    (tmp_path / "r.py").write_text(
        "import time\n@profile\ndef f():\n    a = bytearray(30 << 20)\n    time.sleep(0.4)\nf()\n")
    mprof_ref = os.path.join(os.path.dirname(ref), "mprof")
    clean = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    r = subprocess.run([mprof_ref, "run", "-T", "0.02", "-M", "-o", "ref.dat", "r.py"],
                       cwd=str(tmp_path), capture_output=True, text=True, env=clean, timeout=120)
    assert r.returncode == 0, r.stderr
    text = (tmp_path / "ref.dat").read_text()
    want = max(float(l.split()[1]) for l in text.splitlines() if l.startswith("MEM "))
    r = mprof("peak", "ref.dat", cwd=tmp_path)
    assert r.returncode == 0 and r.stdout.startswith("ref.dat\t%.3f MiB\n" % want)
    # And the reference reads ours.
    r = mprof("run", "-T", "0.02", "-M", "-o", "ours.dat", *py(FORKER), cwd=tmp_path)
    ours = records(tmp_path / "ours.dat")
    r = subprocess.run([mprof_ref, "peak", "ours.dat"], cwd=str(tmp_path), capture_output=True,
                       text=True, env=clean, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("ours.dat\t%.3f MiB" % max(m for m, _ in mem(ours)))
    assert "  Child " in r.stdout


def test_python_flag_with_an_interpreter_and_a_module(tmp_path):
    (tmp_path / "jobmod.py").write_text(
        "import time\n@profile\ndef go():\n    a = bytearray(20 << 20)\n    time.sleep(0.2)\n"
        "if __name__ == '__main__':\n    go()\n")
    r = mprof("run", "--python", "-T", "0.02", "-o", "m.dat", sys.executable, "jobmod", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "running as a Python program..." in r.stdout
    lines = records(tmp_path / "m.dat")
    assert lines[0] == "CMDLINE %s jobmod" % sys.executable
    # run as a module it is __main__, as with python -m
    assert [l.split()[1] for l in lines if l.startswith("FUNC ")] == ["__main__.go"]


@pytest.mark.parametrize("backend", ["psutil", "psutil_pss", "psutil_uss", "posix"])
def test_backends(tmp_path, backend):
    r = mprof("run", "--backend", backend, "-T", "0.01", "-o", "b.dat",
              *py("import time; a = bytearray(30 << 20); time.sleep(0.3)"), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    peak = max(m for m, _ in mem(records(tmp_path / "b.dat")))
    assert peak > 30, (backend, peak)
