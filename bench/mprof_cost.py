"""mprof's own cost: CPU time of sampling (as a share of one core) and the
timing jitter of its samples, at 1, 10 and 100 ms, next to the cost of a C
loop that only wakes up on the same grid (the floor on this machine).

    python bench/mprof_cost.py [--seconds 5]

Needs build/mprof (make mprof) and a C compiler for the floor program."""
import argparse
import os
import re
import subprocess
import sys
import tempfile

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


if __name__ == "__main__":
    main()
