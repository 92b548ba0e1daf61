# Benchmark target: a tight loop of small tuple/dict work. Under a profiler
# the decorated function is traced; plain runs get a pass-through profile.
import sys
import time

try:
    profile
except NameError:
    def profile(f):
        return f


@profile
def tight(n):
    d = {}
    for i in range(n):
        t = (i, i + 1)
        d[i & 1023] = t
    return len(d)


if __name__ == '__main__':
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 300000
    t0 = time.perf_counter()
    tight(n)
    sys.stderr.write("ELAPSED %.6f\n" % (time.perf_counter() - t0))
