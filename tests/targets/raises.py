import sys


@profile
def work():
    x = [1] * 1000
    print("out before", flush=True)
    print("err before", file=sys.stderr, flush=True)
    if sys.argv[1:] == ['exit']:
        sys.exit(3)
    raise ValueError("boom from the script")


if __name__ == '__main__':
    work()
