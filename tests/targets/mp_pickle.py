# multiprocessing must be able to pickle functions of a profiled script.
import multiprocessing as mp
import sys


def square(x):
    return x * x


@profile
def run(method):
    ctx = mp.get_context(method)
    with ctx.Pool(2) as pool:
        out = pool.map(square, range(5))
    return out


if __name__ == '__main__':
    print(run(sys.argv[1]))
