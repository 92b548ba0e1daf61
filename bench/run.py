"""make bench: time the profiled tight loop side by side with plain Python and
the reference memory_profiler 0.61 (from .venv/ref-X.Y if tools/venvs.sh made
it), runs interleaved, and print each tool's median ratio to plain.

    python bench/run.py [iterations] [repeats]
"""
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
TARGET = os.path.join(HERE, "tight_loop.py")


def timed(cmd, env):
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=HERE)
    if r.returncode != 0:
        raise SystemExit("bench: %s failed:\n%s" % (cmd[0], r.stderr[-2000:]))
    line = [l for l in r.stderr.splitlines() if l.startswith("ELAPSED ")][-1]
    return float(line.split()[1])


def main():
    n = sys.argv[1] if len(sys.argv) > 1 else "300000"
    repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    v = "%d.%d" % sys.version_info[:2]
    ours_env = dict(os.environ, PYTHONPATH=ROOT)
    plain_env = {k: val for k, val in os.environ.items() if k != "PYTHONPATH"}
    tools = [
        ("plain", [sys.executable, TARGET, n], plain_env),
        ("memory_profiler-c", [sys.executable, "-m", "memory_profiler", "-o", os.devnull,
                               TARGET, n], ours_env),
    ]
    ref = os.path.join(ROOT, ".venv", "ref-" + v, "bin", "python")
    ref_n = str(max(1, int(n) // 10))
    if os.path.exists(ref):
        tools.append(("reference 0.61 (n/10, scaled)",
                      [ref, "-m", "memory_profiler", "-o", os.devnull, TARGET, ref_n],
                      plain_env))
    times = {name: [] for name, _, _ in tools}
    for _ in range(repeats):  # interleaved: drift hits every tool alike
        for name, cmd, env in tools:
            t = timed(cmd, env)
            times[name].append(t * (10 if name.startswith("reference") else 1))
    base = statistics.median(times["plain"])
    print("tight loop, %s iterations, Python %s, median of %d interleaved runs"
          % (n, sys.version.split()[0], repeats))
    for name, _, _ in tools:
        med = statistics.median(times[name])
        print("  %-32s %9.4f s  %7.1fx" % (name, med, med / base))


if __name__ == "__main__":
    main()
