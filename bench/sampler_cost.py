"""The sampler's cost: a CPU-bound function alone and under
memory_usage(interval=0.001), interleaved, median of the runs."""
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from memory_profiler import memory_usage  # noqa: E402


def cpu_bound(n=3000000):
    acc = 0
    for i in range(n):
        acc += i * i % 7
    return acc


def timed(fn):
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main(repeats=11):
    plain, sampled = [], []
    for _ in range(repeats):
        plain.append(timed(cpu_bound))
        sampled.append(timed(lambda: memory_usage(cpu_bound, interval=0.001)))
    p, s = statistics.median(plain), statistics.median(sampled)
    n = len(memory_usage(cpu_bound, interval=0.001))
    print("sampler cost: cpu_bound %.4fs plain, %.4fs under memory_usage(interval=0.001) "
          "(%d samples): %+.1f%%" % (p, s, n, (s / p - 1) * 100))


if __name__ == "__main__":
    main()
