# Lines whose hidden temporaries and heap traffic are known by construction.
import sys

N = 100 * 2 ** 20


@profile
def numpy_temporaries():
    import numpy as np
    a = np.ones(N // 8)
    x = (a * 2 + 1).sum()
    del a
    return x


@profile
def list_temporary():
    s = sum([1 for _ in range(N // 8)])
    return s


@profile
def heap_lines():
    keep = [0] * (N // 8)
    total = len(bytes(N))
    del keep
    return total


if __name__ == '__main__':
    for name in sys.argv[1:]:
        globals()[name]()
