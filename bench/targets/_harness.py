# Shared by the benchmark targets: a pass-through `profile` when no profiler
# provides one, and the ELAPSED line the runner reads (the workload's own
# time, so interpreter and profiler start-up are left out of every ratio).
import builtins
import sys
import time


def install_profile():
    if not hasattr(builtins, "profile"):
        builtins.profile = lambda f: f


def timed(fn, *args):
    t0 = time.perf_counter()
    out = fn(*args)
    sys.stderr.write("ELAPSED %.6f\n" % (time.perf_counter() - t0))
    sys.stderr.flush()
    return out
