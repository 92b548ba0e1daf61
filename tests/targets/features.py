# Functions of every shape the profiler must handle.
import asyncio


@profile
def outer(n):
    def inner(k):
        return [0] * k
    data = [inner(i) for i in range(n)]
    total = sum(len(d) for d in data)
    return total


class Box:
    @profile
    def method(self, n):
        self.items = list(range(n))
        return len(self.items)


@profile
def gen(n):
    for i in range(n):
        yield i * 2


@profile
async def coro(n):
    await asyncio.sleep(0)
    return n + 1


@profile
def recurse(n):
    if n == 0:
        return 0
    return 1 + recurse(n - 1)


if __name__ == '__main__':
    print("outer", outer(5))
    print("method", Box().method(10))
    print("gen", list(gen(3)))
    print("coro", asyncio.run(coro(41)))
    print("recurse", recurse(20))
