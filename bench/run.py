"""make bench: every tool side by side on the same targets, for every
interpreter that tools/bench-venvs.sh set up (or just the one running this).

For each interpreter and target, each tool runs `repeats` times, interleaved
(so drift hits all alike); the table gives the median of the workload's own
time (the targets print it) and the ratio to plain Python. Then each tool's
per-line attribution on bench/targets/attribution.py against the bytes known
by construction.

    python bench/run.py [--repeats R] [--only 3.12,3.13] [--targets a,b]
"""
import argparse
import glob
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
TARGETS = os.path.join(HERE, "targets")
sys.path.insert(0, TARGETS)

# target -> (default size, size for the reference, whose per-line cost is
# ~20 us: it runs a tenth and its time is scaled up)
SIZES = {
    "tight_loop": (300000, 30000),
    "realistic": (200000, 200000),
    "generator_pipeline": (100000, 10000),
    "threaded": (50000, 5000),
}


def interpreters(only):
    found = []
    for b in sorted(glob.glob(os.path.join(ROOT, ".venv", "bench-3.*", "bin", "python"))):
        v = b.split("bench-")[1].split(os.sep)[0]
        found.append((v, b))
    # "3.13t" (free-threaded) right after "3.13"
    found.sort(key=lambda vb: tuple(int(x.rstrip("t")) for x in vb[0].split(".")) + (vb[0].endswith("t"),))
    if not found:
        v = "%d.%d" % sys.version_info[:2]
        found = [(v, sys.executable)]
    if only:
        found = [vb for vb in found if vb[0] in only]
    return found


def has_module(py, mod):
    return subprocess.run([py, "-c", "import " + mod], capture_output=True).returncode == 0


def tools_for(v, py, tmp):
    """(name, argv prefix, env, scale) for each tool usable on this interpreter."""
    plain_env = {k: val for k, val in os.environ.items() if k != "PYTHONPATH"}
    # Tools that start "python" themselves (Scalene) find the venv's first.
    plain_env["PATH"] = os.path.dirname(py) + os.pathsep + plain_env.get("PATH", os.defpath)
    ours_env = dict(plain_env, PYTHONPATH=ROOT)
    out = [("plain", [py], plain_env, 1),
           ("memory_profiler-c", [py, "-m", "memory_profiler", "-o", os.devnull], ours_env, 1),
           ("memory_profiler-c --exact",
            [py, "-m", "memory_profiler", "--exact", "-o", os.devnull], ours_env, 1)]
    ref = os.path.join(ROOT, ".venv", "ref-" + v, "bin", "python")
    if os.path.exists(ref) and has_module(ref, "numpy"):
        out.append(("memory_profiler 0.61", [ref, "-m", "memory_profiler", "-o", os.devnull],
                    plain_env, 10))
    if has_module(py, "line_profiler"):
        out.append(("line_profiler", [py, "-m", "kernprof", "-l", "-o",
                                      os.path.join(tmp, "lp.lprof")], plain_env, 1))
    if has_module(py, "memray"):
        mr = os.path.join(tmp, "m.bin")
        out.append(("memray", [py, "-m", "memray", "run", "-q", "-f", "-o", mr], plain_env, 1))
        out.append(("memray --trace-python-allocators",
                    [py, "-m", "memray", "run", "-q", "-f", "--trace-python-allocators",
                     "-o", mr], plain_env, 1))
    if has_module(py, "scalene"):
        out.append(("scalene", scalene_argv(py, os.path.join(tmp, "s.json")), plain_env, 1))
    fil = os.path.join(os.path.dirname(py), "fil-profile")
    if os.path.exists(fil) and has_module(py, "filprofiler"):
        out.append(("fil", [fil, "-o", os.path.join(tmp, "fil"), "--no-browser", "run"],
                    plain_env, 1))
    out.append(("tracemalloc", [py, "-X", "tracemalloc"], plain_env, 1))
    return out


def scalene_argv(py, outfile):
    """Scalene 2.x has a `run` subcommand; 1.x took the options directly."""
    r = subprocess.run([py, "-m", "scalene", "--version"], capture_output=True, text=True)
    m = re.search(r"Scalene version (\d+)\.", r.stdout + r.stderr)
    if m and int(m.group(1)) >= 2:
        return [py, "-m", "scalene", "run", "-o", outfile]
    return [py, "-m", "scalene", "--cli", "--json", "--outfile", outfile, "--no-browser"]


def script_args(tool, target, n):
    path = os.path.join(TARGETS, target + ".py")
    if tool == "scalene":
        return [path, "---", str(n)]
    return [path, str(n)]


def run_once(argv, env, timeout=600):
    r = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=TARGETS,
                       timeout=timeout)
    m = re.findall(r"^ELAPSED (\S+)$", r.stderr, re.M)
    if r.returncode != 0 or not m:
        return None, (r.stderr or r.stdout)[-400:]
    return float(m[-1]), None


def speed(v, py, tmp, targets, repeats):
    print("\n## Python %s: workload time, median of %d interleaved runs (ratio to plain)"
          % (v, repeats))
    tools = tools_for(v, py, tmp)
    print("%-36s" % "tool" + "".join("%22s" % t for t in targets))
    results = {}
    for target in targets:
        times = {name: [] for name, _, _, _ in tools}
        errors = {}
        for _ in range(repeats):
            for name, argv, env, scale in tools:
                if name in errors:
                    continue
                n = SIZES[target][0] if scale == 1 else SIZES[target][1]
                factor = SIZES[target][0] / float(n)
                t, err = run_once(argv + script_args(name, target, n), env)
                if t is None:
                    errors[name] = err
                else:
                    times[name].append(t * factor)
        results[target] = (times, errors)
    base = {t: statistics.median(results[t][0]["plain"]) for t in targets}
    for name, _, _, scale in tools:
        cells = []
        for target in targets:
            times, errors = results[target]
            if name in errors or not times[name]:
                cells.append("%22s" % "failed")
                continue
            med = statistics.median(times[name])
            cells.append("%22s" % ("%.3fs %6.2fx%s" % (med, med / base[target],
                                                      "*" if scale != 1 else "")))
        print("%-36s" % name + "".join(cells))
    for target in targets:
        for name, err in results[target][1].items():
            print("  note: %s failed on %s: %s" % (name, target, " ".join(err.split())[-200:]))
    print("  * ran a tenth of the iterations; time scaled up")


# ------------------------------------------------------------ attribution

def ours_attr(py, tmp, exact):
    out = os.path.join(tmp, "a.json")
    argv = [py, "-m", "memory_profiler", "-o", os.devnull, "--json", out]
    if exact:
        argv.insert(3, "--exact")
    env = dict(os.environ, PYTHONPATH=ROOT)
    if run_once(argv + [os.path.join(TARGETS, "attribution.py")], env)[0] is None:
        return None
    doc = json.load(open(out))
    return {l["source"].strip(): l["increment"] / 2 ** 20
            for f in doc["functions"] for l in f["lines"] if l["occurrences"]}


def reference_attr(v, tmp):
    ref = os.path.join(ROOT, ".venv", "ref-" + v, "bin", "python")
    if not os.path.exists(ref) or not has_module(ref, "numpy"):
        return None
    r = subprocess.run([ref, "-m", "memory_profiler", os.path.join(TARGETS, "attribution.py")],
                       capture_output=True, text=True, cwd=TARGETS)
    got = {}
    for line in r.stdout.splitlines():
        m = re.match(r"^\s*\d+\s+\S+ MiB\s+(-?\d+\.\d+) MiB\s+\d+\s+(.*)$", line)
        if m:
            got[m.group(2).strip()] = float(m.group(1))
    return got


def lines_of_target():
    src = open(os.path.join(TARGETS, "attribution.py")).read().splitlines()
    return {i + 1: s.strip() for i, s in enumerate(src)}


PEER_READERS = r'''
import json, sys, collections
tool, path, target = sys.argv[1:4]
per = collections.Counter()
if tool == "memray":
    from memray import FileReader
    for rec in FileReader(path).get_high_watermark_allocation_records(merge_threads=True):
        for fn, fname, line in rec.stack_trace():
            if fname.endswith(target):
                per[line] += rec.size
                break
elif tool == "scalene":
    doc = json.load(open(path))
    for fname, info in doc.get("files", {}).items():
        if fname.endswith(target):
            for l in info.get("lines", []):
                per[l["lineno"]] += (l.get("n_peak_mb") or 0) * 2 ** 20
elif tool == "fil":
    import glob
    prof = sorted(glob.glob(path + "/*/peak-memory.prof"))[-1]
    for row in open(prof):
        stack, _, size = row.rstrip().rpartition(" ")
        for frame in reversed(stack.split(";")):
            if target in frame:
                line = int(frame.split(":")[1].split()[0]) if ":" in frame else 0
                per[line] += int(size)
                break
elif tool == "tracemalloc":
    import runpy, tracemalloc
    tracemalloc.start()
    keep = runpy.run_path(path)["known"]()
    for st in tracemalloc.take_snapshot().statistics("lineno"):
        if st.traceback[0].filename.endswith(target):
            per[st.traceback[0].lineno] += st.size
print(json.dumps({str(k): v / 2 ** 20 for k, v in per.items()}))
'''


def peer_attr(tool, py, tmp):
    target = os.path.join(TARGETS, "attribution.py")
    env = {k: val for k, val in os.environ.items() if k != "PYTHONPATH"}
    if tool == "tracemalloc":
        path = target
    else:
        argv = {name: a for name, a, _, _ in tools_for("", py, tmp)}.get(tool)
        if argv is None:
            return None
        if run_once(argv + [target], env)[0] is None:
            return None
        path = {"memray": os.path.join(tmp, "m.bin"), "scalene": os.path.join(tmp, "s.json"),
                "fil": os.path.join(tmp, "fil")}[tool]
    r = subprocess.run([py, "-c", PEER_READERS, tool, path, "attribution.py"],
                       capture_output=True, text=True, env=env, cwd=TARGETS)
    if r.returncode != 0:
        return None
    by_line = json.loads(r.stdout)
    src = lines_of_target()
    return {src[int(k)]: val for k, val in by_line.items() if int(k) in src}


def attribution(v, py, tmp):
    from attribution import EXPECTED
    cols = [("memory_profiler-c", ours_attr(py, tmp, False)),
            ("--exact", ours_attr(py, tmp, True)),
            ("0.61", reference_attr(v, tmp))]
    for peer in ("memray", "fil", "scalene", "tracemalloc"):
        cols.append((peer, peer_attr(peer, py, tmp)))
    cols = [(n, c) for n, c in cols if c is not None]
    print("\n## Python %s: per-line attribution on attribution.py, MiB" % v)
    print("   (ours and 0.61: RSS increment of the line; memray: live at the high-water mark;")
    print("    fil: live at peak; scalene: n_peak_mb; tracemalloc: live at exit, by allocating line)")
    print("%-42s %9s" % ("line", "expected") + "".join("%19s" % n for n, _ in cols))
    err = {n: 0.0 for n, _ in cols}
    for src, exp in EXPECTED.items():
        cells = []
        for n, c in cols:
            val = c.get(src)
            cells.append("%19s" % ("-" if val is None else "%.1f" % val))
            err[n] += abs((val or 0.0) - exp)
        print("%-42s %9.1f" % (src[:42], exp) + "".join(cells))
    print("%-42s %9s" % ("sum of |error| vs RSS truth", "") +
          "".join("%19.1f" % err[n] for n, _ in cols))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--only", default="")
    ap.add_argument("--targets", default=",".join(SIZES))
    args = ap.parse_args()
    only = [s for s in args.only.split(",") if s]
    targets = [t for t in args.targets.split(",") if t]
    print("# memory_profiler-c benchmarks (%s)" % os.uname().machine)
    for v, py in interpreters(only):
        subprocess.run(["make", "-s", "-C", ROOT, "ext", "PYTHON=" + py], check=True)
        tmp = tempfile.mkdtemp(prefix="mpbench")
        try:
            speed(v, py, tmp, targets, args.repeats)
            attribution(v, py, tmp)
            print()
            subprocess.run([py, os.path.join(HERE, "sampler_cost.py")], check=False,
                           env={k: val for k, val in os.environ.items() if k != "PYTHONPATH"})
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
