MIB = 2 ** 20


@profile
def build():
    rows = [bytearray(MIB) for _ in range(50)]
    scale = lambda n: bytearray(n * MIB)
    big = scale(20)

    def deep(n):
        if n == 0:
            return []
        block = bytearray(8 * MIB)
        return [block] + deep(n - 1)
    chain = deep(3)
    return rows, big, chain


if __name__ == '__main__':
    kept = build()
