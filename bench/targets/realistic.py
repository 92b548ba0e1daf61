# Realistic code: the profiled function's lines each do real work (parsing
# and aggregating records through library and helper code, numpy
# expressions with temporaries); the helpers themselves are not profiled.
import csv
import io
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _harness  # noqa: E402

_harness.install_profile()
import numpy as np  # noqa: E402


def make_records(n):
    return "\n".join("%d,city%d,%d.%02d" % (i, i % 97, i % 1000, i % 100) for i in range(n))


def aggregate(rows):
    totals = {}
    for _, city, amount in rows:
        totals[city] = totals.get(city, 0.0) + float(amount)
    return totals


@profile  # noqa: F821
def main(n):
    text = make_records(n)
    rows = list(csv.reader(io.StringIO(text)))
    totals = aggregate(rows)
    top = sorted(totals.items(), key=lambda kv: -kv[1])[:5]
    a = np.random.default_rng(0).random(2000000)
    b = a * 2.0 + 1.0
    z = float(np.sqrt(a * a + b * b).mean())
    del rows, text
    return top, z


if __name__ == '__main__':
    _harness.timed(main, int(sys.argv[1]) if len(sys.argv) > 1 else 200000)
