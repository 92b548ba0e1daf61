# Lines with memory known by construction (MiB = 2**20 bytes).
import sys

try:
    import numpy as np  # imported here: an import's RSS varies between runs
except ImportError:
    np = None

N = 100 * 2 ** 20


@profile
def bytes_line():
    x = b'x' * N
    del x
    return 0


@profile
def list_line():
    x = [0] * (N // 8)
    del x
    return 0


@profile
def bytearray_written():
    x = bytearray(N)
    x[::4096] = b'y' * (N // 4096)
    del x
    return 0


@profile
def loop3():
    keep = []
    for i in range(3):
        x = b'z' * N
        keep.append(b'k' * (N // 10))
        del x
    return keep


@profile
def numpy_ones():
    a = np.ones(N // 8)
    del a
    return 0


if __name__ == '__main__':
    for name in sys.argv[1:]:
        globals()[name]()
