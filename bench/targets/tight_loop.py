# A tight loop of small tuple/dict work: the worst case for line tracing.
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _harness  # noqa: E402

_harness.install_profile()


@profile  # noqa: F821
def tight(n):
    d = {}
    for i in range(n):
        t = (i, i + 1)
        d[i & 1023] = t
    return len(d)


if __name__ == '__main__':
    _harness.timed(tight, int(sys.argv[1]) if len(sys.argv) > 1 else 300000)
