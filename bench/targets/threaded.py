# Four threads run the same profiled function at once.
import os
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _harness  # noqa: E402

_harness.install_profile()


@profile  # noqa: F821
def work(n, out, k):
    acc = []
    for i in range(n):
        acc.append({"i": i, "sq": i * i})
    out[k] = len(acc)


def run(n):
    out = {}
    threads = [threading.Thread(target=work, args=(n, out, k)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(out.values())


if __name__ == '__main__':
    _harness.timed(run, int(sys.argv[1]) if len(sys.argv) > 1 else 50000)
