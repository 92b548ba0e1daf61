"""The IPython magics, through IPython's own API, in a subprocess."""
import re
import subprocess
import sys

import pytest

from conftest import FREE_THREADED, env_with_us

pytest.importorskip("IPython")

SCRIPT = r'''
from IPython.core.interactiveshell import InteractiveShell
ip = InteractiveShell.instance()
ip.run_line_magic('load_ext', 'memory_profiler')
ip.run_cell("""
def notebook_func(n):
    a = [0] * n
    b = bytearray(50 * 2 ** 20)
    del b
    return len(a)
""")
print("=== mprun")
ip.run_cell('%mprun -f notebook_func notebook_func(10 ** 6)')
print("=== memit")
ip.run_cell('%memit x = bytearray(80 * 2 ** 20)')
print("=== memit -o")
ip.run_cell('res = %memit -o -q y = bytearray(30 * 2 ** 20)')
print("RESULT", ip.user_ns['res'], type(ip.user_ns['res']).__name__)
print("=== cell memit")
ip.run_cell('%%memit z = 1\nw = [z] * 10 ** 6')
print("=== mprun -r -T")
ip.run_cell('prof = %mprun -r -T {out} -f notebook_func notebook_func(10)')
print("PROF", type(ip.user_ns['prof']).__name__)
print("=== cell mprun")
ip.run_cell('%%mprun -f notebook_func\nnotebook_func(10)\nnotebook_func(20)')
print("=== bad")
ip.run_cell('%mprun -f no_such_function notebook_func(1)')
'''


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    out = tmp_path_factory.mktemp("m") / "saved.txt"
    r = subprocess.run([sys.executable, "-c", SCRIPT.replace("{out}", str(out))],
                       capture_output=True, text=True, timeout=300,
                       env=env_with_us(NO_COLOR="1", TERM="dumb"))
    assert r.returncode == 0, r.stderr
    parts = dict(p.split("\n", 1) for p in r.stdout.split("=== ")[1:])
    return parts, out, r


def test_mprun_profiles_a_function_defined_in_the_session(session):
    parts, _, _ = session
    text = parts["mprun"]
    assert "Filename: <ipython-input-" in text
    rows = {l.split("MiB")[-1].split(None, 1)[1].strip(): l
            for l in text.splitlines() if "MiB" in l}
    b = rows["b = bytearray(50 * 2 ** 20)"]
    assert abs(float(b.split("MiB")[1]) - 50.0) < 1


def test_memit_prints_the_reference_text(session):
    parts, _, _ = session
    m = re.match(r"peak memory: (\d+\.\d\d) MiB, increment: (\d+\.\d\d) MiB",
                 parts["memit"].strip())
    if FREE_THREADED:  # earlier cells' freed pages stay resident and are reused
        assert m and float(m.group(2)) < 80 + 2
    else:
        assert m and abs(float(m.group(2)) - 80) < 2
    assert "RESULT peak memory:" in parts["memit -o"] and "MemitResult" in parts["memit -o"]
    assert re.match(r"peak memory: .* MiB, increment: \d+\.\d\d MiB", parts["cell memit"])


def test_mprun_return_save_and_cell_mode(session):
    parts, out, _ = session
    assert "PROF LineProfiler" in parts["mprun -r -T"]
    assert "*** Profile printout saved to text file" in parts["mprun -r -T"]
    assert out.read_text().startswith("Filename: <ipython-input-")
    cell = parts["cell mprun"]
    occ = [l for l in cell.splitlines() if "a = [0] * n" in l][0]
    assert occ.split()[5] == "2"


def test_mprun_unknown_function_is_a_usage_error(session):
    parts, _, r = session
    assert "Could not find function 'no_such_function'" in parts["bad"] + r.stderr
