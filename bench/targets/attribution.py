# Lines with memory known by construction, for the attribution table.
# EXPECTED: the RSS change each line leaves behind, MiB, charged where the
# report's rule puts it (the innermost line running when it happened: a
# comprehension's or generator expression's own line, a lambda's body line,
# a nested function's allocating line with every recursion level's bytes).
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _harness  # noqa: E402

_harness.install_profile()
import numpy as np  # noqa: E402

try:
    import pandas as pd  # noqa: E402
except ImportError:  # the same 32 MiB without pandas
    class pd:  # noqa: N801
        Series = staticmethod(lambda a: a)

MIB = 2 ** 20
EXPECTED = {
    "a = bytearray(64 * MIB)": 64,
    "b = b'x' * (32 * MIB)": 32,
    "c = [0] * (16 * MIB // 8)": 16,
    "d = np.ones(48 * MIB // 8)": 48,
    "del a": -64,
    "t = (np.ones(32 * MIB // 8) * 2).sum()": 0,
    "e = [bytearray(MIB) for _ in range(24)]": 24,
    "f = tuple(bytearray(MIB) for _ in range(16))": 16,
    "mk = lambda n: bytearray(n)": 20,
    "g = mk(20 * MIB)": 0,
    "x = bytearray(8 * MIB)": 32,
    "h = rec(4)": 0,
}
EXPECTED["p = pd.Series(np.full(4 * MIB, 1.0))"] = 32


@profile  # noqa: F821
def known():
    a = bytearray(64 * MIB)
    b = b'x' * (32 * MIB)
    c = [0] * (16 * MIB // 8)
    d = np.ones(48 * MIB // 8)
    del a
    t = (np.ones(32 * MIB // 8) * 2).sum()
    e = [bytearray(MIB) for _ in range(24)]
    f = tuple(bytearray(MIB) for _ in range(16))
    mk = lambda n: bytearray(n)
    g = mk(20 * MIB)

    def rec(n):
        if n == 0:
            return []
        x = bytearray(8 * MIB)
        return [x] + rec(n - 1)
    h = rec(4)
    p = pd.Series(np.full(4 * MIB, 1.0))
    return b, c, d, t, e, f, g, h, p


if __name__ == '__main__':
    _harness.timed(known)
