"""A small pipeline with a known memory shape, for mprof's pictures: load
grows to ~120 MiB, each transform step holds a 40 MiB temporary, summarize
frees most of it."""
import time


@profile
def load(n_chunks):
    chunks = []
    for _ in range(n_chunks):
        chunks.append(bytearray(12 << 20))
        time.sleep(0.03)
    return chunks


@profile
def transform_step(chunks):
    scratch = bytearray(40 << 20)
    time.sleep(0.08)
    del scratch
    return len(chunks)


@profile
def transform(chunks):
    total = 0
    for _ in range(4):
        total += transform_step(chunks)
        time.sleep(0.03)
    return total


@profile
def summarize(chunks):
    keep = chunks[:2]
    del chunks[:]
    time.sleep(0.15)
    return keep


def main():
    data = load(10)
    transform(data)
    summarize(data)
    time.sleep(0.1)


if __name__ == "__main__":
    main()
