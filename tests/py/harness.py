"""The differential harness's program generator.

A program is one profiled function whose body is a random tree of
constructs (loops, comprehensions, generator expressions, lambdas, nested
functions, recursion, generators, try/except/finally, with blocks) around
statements that allocate a known number of MiB and keep it (no frees: every
allocation is fresh memory, so RSS moves by exactly what it allocates).
Alongside the source, the generator records what the report must show by
construction: for each line, the MiB allocated while it was the innermost
line of the function's table running, which is where the rule charges it.
"""
MIB = 2 ** 20


class Program:
    def __init__(self):
        self.lines = []          # source lines of the module
        self.expected = {}       # line number -> MiB allocated there
        self.helpers = 0

    def emit(self, indent, text):
        self.lines.append("    " * indent + text)
        return len(self.lines)   # 1-based line number

    def charge(self, line, mib):
        self.expected[line] = self.expected.get(line, 0) + mib

    def name(self, stem):
        self.helpers += 1
        return "%s_%d" % (stem, self.helpers)

    @property
    def source(self):
        return "\n".join(self.lines) + "\n"

    @property
    def total(self):
        return sum(self.expected.values())


def alloc(p, indent, mib, times=1):
    """keep.append(bytearray(...)) on one line, run `times` times."""
    line = p.emit(indent, "keep.append(bytearray(%d * MIB))" % mib)
    p.charge(line, mib * times)


def construct(p, rng, indent, depth, times):
    """One construct at this indent, executed `times` times in total."""
    kinds = ["alloc", "loop", "listcomp", "genexpr", "lambda", "nested", "recursion",
             "generator", "try", "with"]
    if depth <= 0:
        kinds = ["alloc", "listcomp", "genexpr", "lambda"]
    kind = rng.choice(kinds)
    mib = rng.randint(1, 3)
    if kind == "alloc":
        alloc(p, indent, mib, times)
    elif kind == "loop":
        n = rng.randint(1, 3)
        p.emit(indent, "for _i in range(%d):" % n)
        body(p, rng, indent + 1, depth - 1, times * n)
    elif kind == "listcomp":
        n = rng.randint(1, 3)
        line = p.emit(indent, "keep.extend([bytearray(%d * MIB) for _ in range(%d)])" % (mib, n))
        p.charge(line, mib * n * times)
    elif kind == "genexpr":
        n = rng.randint(1, 3)
        line = p.emit(indent, "keep.extend(bytearray(%d * MIB) for _ in range(%d))" % (mib, n))
        p.charge(line, mib * n * times)
    elif kind == "lambda":
        fn = p.name("make")
        line = p.emit(indent, "%s = lambda: bytearray(%d * MIB)" % (fn, mib))
        p.emit(indent, "keep.append(%s())" % fn)
        p.charge(line, mib * times)      # the lambda's body runs on its own line
    elif kind == "nested":
        fn = p.name("inner")
        p.emit(indent, "def %s():" % fn)
        body(p, rng, indent + 1, depth - 1, times)
        p.emit(indent, "%s()" % fn)
    elif kind == "recursion":
        fn = p.name("rec")
        levels = rng.randint(1, 4)
        p.emit(indent, "def %s(d):" % fn)
        p.emit(indent + 1, "if d == 0:")
        p.emit(indent + 2, "return")
        alloc(p, indent + 1, mib, times * levels)
        p.emit(indent + 1, "%s(d - 1)" % fn)
        p.emit(indent, "%s(%d)" % (fn, levels))
    elif kind == "generator":
        fn = p.name("gen")
        n = rng.randint(1, 3)
        p.emit(indent, "def %s():" % fn)
        p.emit(indent + 1, "for _j in range(%d):" % n)
        line = p.emit(indent + 2, "yield bytearray(%d * MIB)" % mib)
        p.charge(line, mib * n * times)
        p.emit(indent, "keep.extend(%s())" % fn)
    elif kind == "try":
        p.emit(indent, "try:")
        body(p, rng, indent + 1, depth - 1, times)
        p.emit(indent + 1, "raise KeyError(0)")
        p.emit(indent, "except KeyError:")
        body(p, rng, indent + 1, depth - 1, times)
        p.emit(indent, "finally:")
        body(p, rng, indent + 1, depth - 1, times)
    elif kind == "with":
        p.emit(indent, "with contextlib.nullcontext():")
        body(p, rng, indent + 1, depth - 1, times)


def body(p, rng, indent, depth, times):
    for _ in range(rng.randint(1, 2)):
        construct(p, rng, indent, depth, times)


def generate(rng, depth=3):
    """A program drawn from rng (a random.Random, or hypothesis' randoms(),
    whose draws shrink)."""
    p = Program()
    p.emit(0, "import contextlib")
    p.emit(0, "MIB = 2 ** 20")
    p.emit(0, "keep = []")
    p.emit(0, "")
    p.emit(0, "@profile")
    p.emit(0, "def main():")
    p.emit(1, "x = 0")
    body(p, rng, 1, depth, 1)
    p.emit(1, "return len(keep)")
    p.emit(0, "")
    p.emit(0, "main()")
    return p
