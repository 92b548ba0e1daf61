"""python -m memory_profiler, run as a user would, in subprocesses."""
import os
import re

import pytest

from conftest import FREE_THREADED, MIB, parse_report, row_for, run_cli

HEADER = "Line #    Mem usage    Increment  Occurrences   Line Contents"


def test_readme_example_increments():
    r = run_cli("example.py")
    assert r.returncode == 0, r.stderr
    (fname, rows), = parse_report(r.stdout)
    assert fname == "example.py"
    a = row_for(rows, "a = [1] * (10 ** 6)")
    b = row_for(rows, "b = [2] * (2 * 10 ** 7)")
    d = row_for(rows, "del b")
    # (mimalloc may serve part of a fresh list from pages it already holds)
    assert abs(a[1] - 7.63) < (1.0 if FREE_THREADED else 0.3)
    assert abs(b[1] - 152.59) < 2
    if FREE_THREADED:  # list storage is freed through QSBR, later
        assert -152.59 - 2 < d[1] < 2
    else:
        assert abs(d[1] + 152.59) < 2
    # The corrected rule: the decorator line shows ~0, not total memory.
    assert abs(row_for(rows, "@profile")[1]) < 0.5


def test_report_layout_is_the_references():
    r = run_cli("example.py")
    lines = r.stdout.split("\n")
    assert lines[0] == "Filename: example.py"
    assert lines[1] == ""
    assert lines[2] == HEADER
    assert lines[3] == "=" * 61
    assert re.match(r"^     3 {41}def my_func\(\):$", lines[5])
    # precision 3 by default under the CLI
    assert re.match(r"^     4 +\d+\.\d{3} MiB +\d+\.\d{3} MiB +1   ", lines[6])
    assert r.stdout.endswith("           1       return a\n\n\n")


def test_announcement_flags_l_v_are_accepted():
    r = run_cli("-l", "-v", "example.py")
    assert r.returncode == 0, r.stderr
    assert "Filename: example.py" in r.stdout


def test_precision_and_output_file_append(tmp_path):
    out = tmp_path / "report.txt"
    for _ in range(2):
        r = run_cli("--precision", "1", "-o", str(out), "example.py")
        assert r.returncode == 0, r.stderr
        assert r.stdout == ""
    text = out.read_text()
    assert text.count("Filename: example.py") == 2
    assert re.search(r"^     4 +\d+\.\d MiB +\d+\.\d MiB", text, re.M)


def test_version():
    r = run_cli("--version")
    assert r.returncode == 0
    assert re.match(r"^\d+\.\d+", r.stdout.strip())


def test_script_exception_report_then_clean_traceback():
    r = run_cli("raises.py")
    assert r.returncode == 1
    assert "out before" in r.stdout and "err before" in r.stderr
    assert "Filename: raises.py" in r.stdout
    assert "Traceback (most recent call last):" in r.stderr
    assert 'ValueError: boom from the script' in r.stderr
    assert 'raises.py", line' in r.stderr
    assert "memory_profiler" not in r.stderr and "runpy" not in r.stderr


def test_script_sys_exit_status_passes_through():
    r = run_cli("raises.py", "exit")
    assert r.returncode == 3
    assert "Filename: raises.py" in r.stdout
    assert "Traceback" not in r.stderr


def test_script_sees_main_argv_file(tmp_path):
    script = tmp_path / "who.py"
    script.write_text(
        "import sys, os\n"
        "print(__name__, sys.argv, os.path.basename(__file__))\n"
        "print(sys.modules['__main__'].__dict__ is globals())\n"
        "print(os.path.dirname(os.path.abspath(__file__)) in sys.path[0])\n")
    r = run_cli(str(script), "a", "--b", cwd=str(tmp_path))
    assert r.returncode == 0, r.stderr
    out = r.stdout.split("\n")
    assert out[0] == "__main__ ['%s', 'a', '--b'] who.py" % script
    assert out[1] == "True"
    assert out[2] == "True"


def test_module_target(tmp_path):
    pkg = tmp_path / "mymod.py"
    pkg.write_text("import sys\n@profile\ndef f():\n    return [0] * 1000\n"
                   "if __name__ == '__main__':\n    f()\n    print('args', sys.argv[1:])\n")
    r = run_cli("mymod", "x", cwd=str(tmp_path))
    assert r.returncode == 0, r.stderr
    assert "args ['x']" in r.stdout
    assert "return [0] * 1000" in r.stdout


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_multiprocessing_can_pickle_script_functions(method):
    r = run_cli("mp_pickle.py", method)
    assert r.returncode == 0, r.stderr
    assert "[0, 1, 4, 9, 16]" in r.stdout
    assert "pool.map(square" in r.stdout


def test_timestamp_mode_writes_func_records():
    r = run_cli("--timestamp", "example.py")
    assert r.returncode == 0, r.stderr
    line, = r.stdout.strip().split("\n")
    m = re.match(r"^FUNC __main__\.my_func (\d+\.\d{4}) (\d+\.\d{4}) (\d+\.\d{4}) "
                 r"(\d+\.\d{4}) 0$", line)
    assert m, line
    assert float(m.group(4)) >= float(m.group(2))


def test_timestamp_blocks(tmp_path):
    s = tmp_path / "blocks.py"
    s.write_text("with profile.timestamp('first'):\n    x = [0] * 100000\n"
                 "with profile.timestamp('second'):\n    pass\n")
    r = run_cli("--timestamp", str(s), cwd=str(tmp_path))
    assert r.returncode == 0, r.stderr
    names = [l.split()[1] for l in r.stdout.strip().split("\n")]
    assert names == [".first", ".second"]


def test_timestamp_names_that_utf8_cannot_encode_lose_no_record(tmp_path):
    # A lone surrogate (a name made from an undecodable file name) or a NUL in
    # one name cost every FUNC record of the run ("could not write the
    # report"); the reference wrote those before it. Now each is written, the
    # surrogate escaped.
    s = tmp_path / "names.py"
    s.write_text("for n in ['first', '\\udcff', 'a\\x00b', 'last']:\n"
                 "    with profile.timestamp(n):\n        pass\n")
    out = tmp_path / "f.dat"
    r = run_cli("--timestamp", "-o", str(out), str(s), cwd=str(tmp_path))
    assert r.returncode == 0, r.stderr
    assert "could not write" not in r.stderr
    lines = out.read_text().splitlines()
    assert len(lines) == 4, lines
    names = [l.split()[1] for l in lines]
    assert names[0] == ".first" and names[1] == ".\\udcff" and names[3] == ".last", names
    assert all(len(l.split()) == 7 for l in lines), lines


def test_pdb_mmem_enters_debugger():
    r = run_cli("--pdb-mmem", "50", "example.py", stdin="c\n")
    assert r.returncode == 0, r.stderr
    m = re.search(r"Current memory (\d+\.\d\d) MiB exceeded the maximum of 50\.00 MiB", r.stdout)
    assert m and float(m.group(1)) > 50
    assert "Stepping into the debugger" in r.stdout
    assert "(Pdb)" in r.stdout


def test_help_shows_every_option():
    r = run_cli("-h")
    assert r.returncode == 0
    usage = r.stdout.split("\n\n")[0]
    for opt in ("--columns", "--exact", "--json", "-o", "--precision", "--backend",
                "--include-children", "--timestamp", "--pdb-mmem"):
        assert opt in usage, usage


def test_pdb_mmem_stops_at_the_line_after_the_crossing(tmp_path):
    s = tmp_path / "pm.py"
    s.write_text("@profile\n"
                 "def f():\n"
                 "    a = 1\n"
                 "    b = bytearray(200 * 2**20)\n"
                 "    c = 2\n"
                 "    d = 3\n"
                 "    return a + c + d\n"
                 "\n"
                 "f()\n")
    r = run_cli("--pdb-mmem", "100", str(s), cwd=str(tmp_path), stdin="n\nc\n")
    assert r.returncode == 0, r.stderr
    stops = re.findall(r"pm\.py\((\d+)\)f\(\)", r.stdout)
    assert stops[:2] == ["5", "6"], r.stdout   # stopped before line 5 runs; `next` goes to 6


@pytest.mark.parametrize("backend", ["psutil", "psutil_pss", "psutil_uss", "posix"])
def test_rss_like_backends_see_the_big_list(backend):
    r = run_cli("--backend", backend, "example.py")
    assert r.returncode == 0, r.stderr
    (_, rows), = parse_report(r.stdout)
    assert abs(row_for(rows, "b = [2]")[1] - 152.59) < 3


def test_tracemalloc_backend_counts_python_heap_bytes():
    r = run_cli("--backend", "tracemalloc", "example.py")
    assert r.returncode == 0, r.stderr
    (_, rows), = parse_report(r.stdout)
    # A list of 10**6 pointers: exactly 8e6 bytes plus the list header.
    assert abs(row_for(rows, "a = [1]")[1] - 8e6 / MIB) < 0.01
    assert abs(row_for(rows, "b = [2]")[1] - 16e7 / MIB) < 0.01
    assert abs(row_for(rows, "del b")[1] + 16e7 / MIB) < 0.01


def test_include_children_counts_a_child(tmp_path):
    s = tmp_path / "kid.py"
    s.write_text(
        "import subprocess, sys, time\n"
        "@profile\n"
        "def f():\n"
        "    p = subprocess.Popen([sys.executable, '-c', "
        "'import sys,time; x = bytearray(200*2**20); x[::4096]=b\"y\"*(200*2**20//4096); "
        "print(1, flush=True); time.sleep(30)'], stdout=subprocess.PIPE)\n"
        "    p.stdout.readline()\n"
        "    p.kill(); p.wait()\n"
        "f()\n")
    r = run_cli("--include-children", str(s), cwd=str(tmp_path))
    assert r.returncode == 0, r.stderr
    (_, rows), = parse_report(r.stdout)
    assert row_for(rows, "p.stdout.readline()")[0] > 200


# ------------------------------------------------------------- bad input

def _one_clean_line(r):
    assert r.returncode != 0
    assert "Traceback" not in r.stderr
    err = r.stderr.strip().split("\n")
    assert len(err) == 1, r.stderr
    return err[0]


def test_missing_script():
    r = run_cli("no_such_script.py")
    assert r.returncode == 1
    assert _one_clean_line(r) == "Could not find script no_such_script.py"


def test_mistyped_module_folder_and_script_without_py(tmp_path):
    r = run_cli("no_such_module_xyz", cwd=str(tmp_path))
    assert r.returncode == 1
    assert "no script or module named no_such_module_xyz" in _one_clean_line(r)
    r = run_cli(str(tmp_path), cwd=str(tmp_path))
    assert r.returncode == 1
    assert "is a folder without a __main__.py" in _one_clean_line(r)
    body = "@profile\ndef f():\n    return [0] * 1000\n\nf()\n"
    job = tmp_path / "python_job"          # no .py: run as a script, as python does
    job.write_text(body)
    r = run_cli(str(job), cwd=str(tmp_path))
    assert r.returncode == 0, r.stderr
    assert row_for(parse_report(r.stdout)[0][1], "return [0] * 1000")[2] == 1
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "__main__.py").write_text(body)
    r = run_cli(str(tmp_path / "app"), cwd=str(tmp_path))
    assert r.returncode == 0, r.stderr
    assert "return [0] * 1000" in r.stdout


def test_a_submodule_whose_package_uses_profile(tmp_path):
    """The target's package is imported under the profiler, not before it
    (its `@profile` needs the builtin)."""
    (tmp_path / "mypkg").mkdir()
    (tmp_path / "mypkg" / "__init__.py").write_text(
        "@profile\ndef helper():\n    return [0] * 1000\n")
    (tmp_path / "mypkg" / "job.py").write_text(
        "from mypkg import helper\n@profile\ndef f():\n    return helper()\nf()\n")
    r = run_cli("mypkg.job", cwd=str(tmp_path))
    assert r.returncode == 0, r.stderr
    assert r.stdout.count("Filename:") == 2


def test_precision_out_of_range_is_refused_before_the_script_runs(tmp_path):
    marker = tmp_path / "ran"
    s = tmp_path / "s.py"
    s.write_text("open(%r, 'w').close()\n" % str(marker))
    for bad in ("51", "60", "-1"):
        r = run_cli("--precision", bad, str(s), cwd=str(tmp_path))
        assert r.returncode == 2
        assert "--precision" in _one_clean_line(r)
    assert not marker.exists()
    r = run_cli("--precision", "50", str(s), cwd=str(tmp_path))
    assert r.returncode == 0 and marker.exists()


def test_a_report_that_cannot_be_written_fails_the_run(tmp_path):
    s = tmp_path / "s.py"
    s.write_text("@profile\ndef f():\n    return 1\n\nf()\nprint('program output')\n")
    r = run_cli("-o", "/dev/full", str(s), cwd=str(tmp_path))
    assert r.returncode == 1
    assert "program output" in r.stdout
    assert _one_clean_line(r).endswith("could not write the report: No space left on device")
    # The program's own failure status is kept.
    s.write_text("@profile\ndef f():\n    return 1\n\nf()\nraise SystemExit(3)\n")
    r = run_cli("-o", "/dev/full", str(s), cwd=str(tmp_path))
    assert r.returncode == 3


def test_syntax_error_in_script(tmp_path):
    s = tmp_path / "bad.py"
    s.write_text("def f(:\n    pass\n")
    r = run_cli(str(s), cwd=str(tmp_path))
    assert r.returncode == 1
    assert "SyntaxError" in r.stderr
    assert "Traceback" not in r.stderr and "memory_profiler" not in r.stderr


def test_no_program():
    r = run_cli()
    assert r.returncode == 1
    assert r.stdout.strip() == "A program to run must be provided. Use -h for help"


@pytest.mark.parametrize("args, needle", [
    (["--bogus", "example.py"], "unrecognized arguments: --bogus"),
    (["--precision", "-1", "example.py"], "--precision"),
    (["--precision", "abc", "example.py"], "--precision"),
    (["--backend", "nope", "example.py"], "invalid choice: 'nope'"),
    (["--pdb-mmem", "x", "example.py"], "--pdb-mmem"),
])
def test_bad_options(args, needle):
    r = run_cli(*args)
    assert r.returncode == 2
    line = _one_clean_line(r)
    assert line.startswith("python -m memory_profiler: error:") and needle in line


def test_output_into_missing_folder(tmp_path):
    r = run_cli("-o", str(tmp_path / "nope" / "out.txt"), "example.py")
    assert r.returncode == 1
    line = _one_clean_line(r)
    assert "cannot write the report" in line and "No such file or directory" in line
    assert r.stdout == ""  # the script did not run for nothing


def test_program_arguments_that_look_like_ours_are_the_programs(tmp_path):
    # Everything from the program on is the program's, even what would be an
    # abbreviation of one of our options, or an ambiguous one (--b, --max).
    script = tmp_path / "args.py"
    script.write_text("import sys\nprint(sys.argv[1:])\n")
    r = run_cli("--back", "psutil", "--prec", "2", str(script), "--b", "--max", "3", "-o", "x",
                "--baseline", cwd=str(tmp_path))
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[0] == "['--b', '--max', '3', '-o', 'x', '--baseline']"
    r = run_cli("--", str(script), "--json", cwd=str(tmp_path))
    assert r.returncode == 0 and r.stdout.splitlines()[0] == "['--json']", r.stderr
