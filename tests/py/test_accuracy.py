"""Per-line figures against memory known by construction (100 MiB lines)."""
import pytest

from conftest import FREE_THREADED, parse_report, row_for, run_cli

N_MIB = 100.0


def report(fn, *extra):
    r = run_cli(*extra, "accuracy.py", fn)
    assert r.returncode == 0, r.stderr
    (_, rows), = parse_report(r.stdout)
    return rows


def assert_freed(inc):
    """The increment of a line that frees N_MIB: -N_MIB, or on free-threaded
    builds anything from -N_MIB to 0 (RSS falls when CPython gives the pages
    back, as without a profiler)."""
    if FREE_THREADED:
        assert -N_MIB - 2 <= inc <= 2
    else:
        assert abs(inc + N_MIB) <= 2


def test_bytes_line_and_del():
    rows = report("bytes_line")
    assert abs(row_for(rows, "x = b'x' * N")[1] - N_MIB) <= 2
    assert_freed(row_for(rows, "del x")[1])


def test_list_line_and_del():
    rows = report("list_line")
    assert abs(row_for(rows, "x = [0] * (N // 8)")[1] - N_MIB) <= 2
    assert_freed(row_for(rows, "del x")[1])


def test_numpy_ones_line_and_del():
    pytest.importorskip("numpy")
    rows = report("numpy_ones")
    assert abs(row_for(rows, "a = np.ones(N // 8)")[1] - N_MIB) <= 2
    assert abs(row_for(rows, "del a")[1] + N_MIB) <= 2


def test_bytearray_is_zero_filled_on_creation():
    # bytearray(n) memsets its buffer, so RSS grows on the creating line;
    # writing into it afterwards adds nothing.
    rows = report("bytearray_written")
    assert abs(row_for(rows, "x = bytearray(N)")[1] - N_MIB) <= 2
    assert abs(row_for(rows, "x[::4096]")[1]) <= 2


def test_loop_of_three_occurrences_and_net_change():
    rows = report("loop3")
    x = row_for(rows, "x = b'z' * N")
    assert x[2] == 3
    assert row_for(rows, "del x")[2] == 3
    assert x[1] >= N_MIB - 2          # the first iteration at least
    total = sum(v[1] for v in rows.values())
    keep = row_for(rows, "return keep")[0] - row_for(rows, "@profile")[0]
    # increments of one call sum to its net change (mem after - mem before)
    assert abs(total - keep) <= 0.01 * 3 + 0.005 * len(rows)
    if FREE_THREADED:  # the last x may still be resident at return
        assert 3 * N_MIB / 10 - 3 <= total <= 3 * N_MIB / 10 + N_MIB + 3
    else:
        assert abs(total - 3 * N_MIB / 10) <= 3


def test_numpy_zeros_show_where_written(tmp_path):
    pytest.importorskip("numpy")
    s = tmp_path / "z.py"
    s.write_text("import numpy as np\n@profile\ndef f():\n"
                 "    a = np.zeros(100 * 2 ** 20 // 8)\n"
                 "    a[:] = 1.0\n"
                 "    return a.sum()\nf()\n")
    r = run_cli(str(s), cwd=str(tmp_path))
    assert r.returncode == 0, r.stderr
    (_, rows), = parse_report(r.stdout)
    assert abs(row_for(rows, "a = np.zeros")[1]) <= 2
    assert abs(row_for(rows, "a[:] = 1.0")[1] - N_MIB) <= 2
