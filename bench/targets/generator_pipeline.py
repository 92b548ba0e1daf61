# A pipeline of profiled generators: every stage suspends and resumes per item.
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _harness  # noqa: E402

_harness.install_profile()


@profile  # noqa: F821
def source(n):
    for i in range(n):
        yield "%d;%d" % (i, i * 7)


@profile  # noqa: F821
def parse(lines):
    for line in lines:
        a, b = line.split(";")
        yield int(a), int(b)


@profile  # noqa: F821
def keep_even(pairs):
    for a, b in pairs:
        if b % 2 == 0:
            yield a + b


def run(n):
    return sum(keep_even(parse(source(n))))


if __name__ == '__main__':
    _harness.timed(run, int(sys.argv[1]) if len(sys.argv) > 1 else 100000)
