# Lines with memory known by construction, for the attribution table.
# EXPECTED: the RSS change each line leaves behind, MiB; PEAK_EXTRA: what a
# line holds only while it runs.
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _harness  # noqa: E402

_harness.install_profile()
import numpy as np  # noqa: E402

MIB = 2 ** 20
EXPECTED = {
    "a = bytearray(64 * MIB)": 64,
    "b = b'x' * (32 * MIB)": 32,
    "c = [0] * (16 * MIB // 8)": 16,
    "d = np.ones(48 * MIB // 8)": 48,
    "del a": -64,
    "t = (np.ones(32 * MIB // 8) * 2).sum()": 0,
}


@profile  # noqa: F821
def known():
    a = bytearray(64 * MIB)
    b = b'x' * (32 * MIB)
    c = [0] * (16 * MIB // 8)
    d = np.ones(48 * MIB // 8)
    del a
    t = (np.ones(32 * MIB // 8) * 2).sum()
    return b, c, d, t


if __name__ == '__main__':
    _harness.timed(known)
