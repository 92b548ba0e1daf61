"""A Spark job with the UDF memory profiler on: ours against the reference
0.61, as a ratio to the profiler off (part of `make bench` when Java is
here; run with a PySpark venv from tools/spark.sh).

    python bench/spark_cost.py [--rows 20000] [--repeats 3]

Each configuration runs in its own process and session: a Python UDF over
`rows` rows (each call profiled, as spark.python.profile.memory does), then
the time of that query alone (after a warm-up query). The implementations
are chosen by PYTHONPATH: ours from this tree, the reference from its own
folder (.venv/ref-suite/lib, from its sdist; psutil comes with the venv)."""
import argparse
import os
import re
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
REF = os.path.join(ROOT, ".venv", "ref-suite", "lib")

JOB = r'''
import sys, time
from pyspark.sql import SparkSession
from pyspark.sql.functions import udf, col
mode, rows = sys.argv[1], int(sys.argv[2])
b = SparkSession.builder.master("local[2]").config("spark.ui.enabled", "false")
if mode != "off":
    b = b.config("spark.python.profile.memory", "true")
spark = b.getOrCreate()
spark.sparkContext.setLogLevel("ERROR")

@udf("long")
def work(x):
    s = str(x) * 3
    return len(s) + x

df = spark.range(rows, numPartitions=2)
df.select(work(col("id"))).count()      # warm-up: workers started
t0 = time.perf_counter()
n = df.select(work(col("id"))).collect()
sys.stderr.write("ELAPSED %.6f\n" % (time.perf_counter() - t0))
spark.stop()
'''


def run(mode, rows, job):
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    if mode == "ours":
        env["PYTHONPATH"] = ROOT
    elif mode == "0.61":
        env["PYTHONPATH"] = REF
    env["PYSPARK_PYTHON"] = env["PYSPARK_DRIVER_PYTHON"] = sys.executable
    r = subprocess.run([sys.executable, job, "off" if mode == "off" else "on", str(rows)],
                       capture_output=True, text=True, env=env, timeout=1800)
    m = re.findall(r"^ELAPSED (\S+)$", r.stderr, re.M)
    if r.returncode != 0 or not m:
        raise SystemExit("spark job (%s) failed: %s" % (mode, r.stderr[-2000:]))
    return float(m[-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=20000)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    import pyspark
    modes = ["off", "ours"] + (["0.61"] if os.path.exists(os.path.join(REF, "memory_profiler.py"))
                               else [])
    times = {m: [] for m in modes}
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        job = os.path.join(d, "spark_job.py")   # the profiler reads the UDF's source
        with open(job, "w") as f:
            f.write(JOB)
        for _ in range(args.repeats):
            for m in modes:
                times[m].append(run(m, args.rows, job))
    base = statistics.median(times["off"])
    print("\n## Spark UDF job with the memory profiler on (PySpark %s, %d rows, "
          "median of %d)" % (pyspark.__version__, args.rows, args.repeats))
    for m in modes:
        med = statistics.median(times[m])
        print("%-22s %8.3fs %7.2fx" % ({"off": "profiler off", "ours": "memory_profiler-c",
                                       "0.61": "memory_profiler 0.61"}[m], med, med / base))


if __name__ == "__main__":
    main()
