"""mprof's own cost: CPU time of sampling (as a share of one core) and the
timing jitter of its samples, at 1, 10 and 100 ms, next to the cost of a C
loop that only wakes up on the same grid (the floor on this machine); then
the time to plot (and peak) a 1-hour recording sampled every millisecond.

    python bench/mprof_cost.py [--seconds 5]

Needs build/mprof (make mprof) and a C compiler for the floor program."""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
MPROF = os.path.join(ROOT, "build", "mprof")
STATS = re.compile(r"(\d+) samples in ([\d.]+) s .*p50 ([\d.]+) ms, p99 ([\d.]+) ms, "
                   r"max ([\d.]+) ms, late (\d+); CPU ([\d.]+) s")


def floor(tmp, interval, seconds):
    exe = os.path.join(tmp, "wakeup_floor")
    if not os.path.exists(exe):
        subprocess.run([os.environ.get("CC", "cc"), "-O2", "-o", exe,
                        os.path.join(HERE, "wakeup_floor.c")], check=True)
    out = subprocess.run([exe, str(interval), str(seconds)], capture_output=True, text=True,
                         check=True).stdout.split()
    return 100.0 * float(out[0]) / seconds


def mprof(tmp, interval, seconds, extra, target):
    r = subprocess.run([MPROF, "run", "--stats", "-T", str(interval), "-o",
                        os.path.join(tmp, "cost.dat")] + extra + target,
                       capture_output=True, text=True, cwd=tmp)
    m = STATS.search(r.stderr)
    if m is None:
        raise SystemExit("mprof gave no stats: %s" % r.stderr)
    n, elapsed, p50, p99, mx, late, cpu = m.groups()
    return dict(n=int(n), cpu=100.0 * float(cpu) / float(elapsed), p50=float(p50),
                p99=float(p99), max=float(mx), late=int(late))


def hour_file(path, seconds=3600, funcs=5000):
    """A recording of `seconds` at 1 ms (a slow climb with steps), plus
    `funcs` nested FUNC records."""
    t0 = 1700000000.0
    with open(path, "w") as f:
        f.write("CMDLINE python train.py\n")
        chunk = []
        for i in range(seconds * 1000):
            mib = 50 + i / 2000.0 + (200 if (i // 60000) % 10 == 3 else 0) + (i % 97) / 50.0
            chunk.append("MEM %.6f %.4f\n" % (mib, t0 + i / 1000.0))
            if len(chunk) >= 100000:
                f.writelines(chunk)
                chunk = []
        f.writelines(chunk)
        step = seconds / float(funcs)
        for k in range(funcs):
            s = t0 + k * step
            f.write("FUNC __main__.step 60.0000 %.4f 61.0000 %.4f 0\n" % (s, s + step * 0.7))
            f.write("FUNC model.forward 60.0000 %.4f 61.0000 %.4f 1\n" % (s + step * 0.1, s + step * 0.4))


def plot_time(tmp, repeats=3):
    path = os.path.join(tmp, "hour.dat")
    hour_file(path)
    size = os.path.getsize(path) / 2.0 ** 20
    print()
    print("## mprof plot: a 1-hour recording at 1 ms (3,600,000 MEM + 10,000 FUNC lines, %.0f MiB)"
          % size)
    print("%-34s %10s" % ("command", "best of %d" % repeats))
    for args in (["peak"], ["plot", "-o", "h.png"], ["plot", "-f", "-o", "h.png"],
                 ["plot", "-o", "h.svg"], ["plot", "-o", "h.pdf"]):
        best = None
        for _ in range(repeats):
            start = time.perf_counter()
            r = subprocess.run([MPROF] + args[:1] + [path] + args[1:], cwd=tmp, capture_output=True)
            took = time.perf_counter() - start
            if r.returncode != 0:
                raise SystemExit("mprof %s failed: %s" % (args, r.stderr))
            best = took if best is None else min(best, took)
        print("%-34s %9.3f s" % ("mprof " + " ".join(args), best))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=5.0)
    args = ap.parse_args()
    if not os.access(MPROF, os.X_OK):
        subprocess.run(["make", "-s", "-C", ROOT, "mprof"], check=True)
    tmp = tempfile.mkdtemp(prefix="mprofcost")
    s = args.seconds
    print("## mprof sampling cost (%g s per row; CPU = mprof's own CPU time / wall time)" % s)
    print("%-28s %8s %10s %10s %9s %9s %9s %6s" % (
        "case", "samples", "mprof CPU", "floor CPU", "p50 ms", "p99 ms", "max ms", "late"))
    cases = [
        ("1 ms, one process", 0.001, [], ["sleep", str(s)]),
        ("10 ms, one process", 0.01, [], ["sleep", str(s)]),
        ("100 ms, one process", 0.1, [], ["sleep", str(s)]),
        ("1 ms, -M, 1 + 4 children", 0.001, ["-M"],
         [sys.executable, "-c", "import os, time\nfor _ in range(4):\n    if os.fork() == 0:\n"
          "        time.sleep(%s); os._exit(0)\ntime.sleep(%s)\n" % (s, s)]),
    ]
    for name, interval, extra, target in cases:
        r = mprof(tmp, interval, s, extra, target)
        f = floor(tmp, interval, s)
        print("%-28s %8d %9.2f%% %9.2f%% %9.3f %9.3f %9.3f %6d" % (
            name, r["n"], r["cpu"], f, r["p50"], r["p99"], r["max"], r["late"]))
    plot_time(tmp)
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
