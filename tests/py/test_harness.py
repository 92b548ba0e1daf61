"""The differential harness: generated programs (tests/py/harness.py) whose
memory is known by construction, profiled in the fast mode, in exact mode
and with the heap column, on this interpreter. Checked: every line's
increment against construction, the sum rule, fast against exact, and the
heap column against the bytes allocated.

Bounded here (MP_HARNESS_EXAMPLES, default 6 programs); `make check` runs a
long one."""
import json
import os
import sys

import pytest

from conftest import MIB, env_with_us, run_watched
from harness import generate

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, assume, given, settings, strategies as st  # noqa: E402

EXAMPLES = int(os.environ.get("MP_HARNESS_EXAMPLES", "6"))
BUDGET_MIB = 160


def profile_program(tmp_path, program, *args):
    path = tmp_path / "gen_prog.py"
    path.write_text(program.source)
    out = tmp_path / ("r%d.json" % len(args))
    r = run_watched([sys.executable, "-m", "memory_profiler", "--json", str(out)] + list(args)
                    + [str(path)], timeout=300, cwd=str(tmp_path), env=env_with_us())
    assert r.returncode == 0, (r.stderr, program.source)
    fn, = json.loads(out.read_text())["functions"]
    return {l["lineno"]: l for l in fn["lines"]}


def tolerance(mib):
    """What a line may differ from construction, MiB: CPython's own small
    allocations (frames, the keep list's growth) and page rounding."""
    return 0.6 + 0.02 * mib


@settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
@given(rng=st.randoms(use_true_random=False))
def test_generated_programs(tmp_path_factory, rng):
    program = generate(rng)
    assume(0 < program.total <= BUDGET_MIB)
    tmp = tmp_path_factory.mktemp("harness")
    fast = profile_program(tmp, program)
    exact = profile_program(tmp, program, "--exact")
    heap = profile_program(tmp, program, "--columns", "heap")
    src = program.source
    total_fast = 0.0
    for lineno, row in fast.items():
        want = program.expected.get(lineno, 0)
        got = row.get("increment", 0) / MIB
        total_fast += got
        assert abs(got - want) <= tolerance(want), ("fast", lineno, got, want, src)
        got_exact = exact[lineno].get("increment", 0) / MIB
        assert abs(got_exact - want) <= tolerance(want), ("exact", lineno, got_exact, want, src)
        assert abs(got - got_exact) <= tolerance(want), ("fast vs exact", lineno, src)
        assert row["occurrences"] == exact[lineno]["occurrences"], ("occurrences", lineno, src)
        hrow = heap[lineno]
        if want:
            # every bytearray's buffer on its line, plus its object and
            # CPython's small change (at most a few KiB per allocation)
            alloc = hrow.get("heap_alloc", 0)
            assert want * MIB <= alloc <= want * MIB + 64 * 1024, ("heap", lineno, alloc, src)
    # the sum rule: the table adds up to the call's net change
    assert abs(total_fast - program.total) <= 1.0 + 0.02 * program.total, (total_fast, src)
