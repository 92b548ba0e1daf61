"""python -m memory_profiler [options] script.py|module [args...]"""
import argparse
import builtins
import errno
import io
import os
import signal
import sys
import traceback
import types
import weakref

import memory_profiler as mp

_USAGE = ("python -m memory_profiler [-h] [--columns peak,heap,native,explain] [--exact]\n"
          "       [--json FILE] [-o FILE] [--precision N] [--backend NAME]\n"
          "       [--baseline FILE [--diff-metric M] [--max-line SIZE] [--max-total SIZE]]\n"
          "       [--include-children] [--timestamp] [--pdb-mmem MAXMEM] [--version]\n"
          "       script.py | module | folder [args ...]")
_PROG = "python -m memory_profiler"
_HERE = os.path.dirname(os.path.abspath(__file__))


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        sys.stderr.write("%s: error: %s\n" % (_PROG, message))
        sys.exit(2)


def _parse(argv):
    p = _Parser(prog=_PROG, usage=_USAGE)
    p.add_argument("--version", action="version", version=mp.__version__)
    p.add_argument("--pdb-mmem", dest="max_mem", metavar="MAXMEM", type=float,
                   help="step into the debugger when memory exceeds MAXMEM (MiB)")
    p.add_argument("--precision", dest="precision", type=int, default=3,
                   help="precision of memory output in number of significant digits")
    p.add_argument("-o", dest="out_filename", type=str, default=None,
                   help="path to a file where results will be written (appended)")
    p.add_argument("--timestamp", dest="timestamp", default=False, action="store_true",
                   help="print timestamp instead of memory measurement for "
                        "decorated functions")
    p.add_argument("--include-children", dest="include_children", default=False,
                   action="store_true", help="also include memory used by child processes")
    p.add_argument("--backend", dest="backend", type=str, default="psutil",
                   choices=list(mp._BACKENDS),
                   help="backend used for getting memory info (default: psutil = RSS)")
    p.add_argument("--columns", dest="columns", default="", metavar="peak,heap,native,explain",
                   help="extra report columns: peak (highest memory while the line "
                        "ran), heap (Python-heap bytes: net and allocated), native "
                        "(bytes from native allocators: net and allocated), explain "
                        "(the line's change split into Python heap, native heap, "
                        "file-backed pages and the rest)")
    p.add_argument("--exact", dest="exact", action="store_true",
                   help="read memory on every line (slow) instead of when it can "
                        "have changed")
    p.add_argument("--json", dest="json_filename", metavar="FILE", default=None,
                   help="also write the whole result as JSON to FILE")
    p.add_argument("--baseline", dest="baseline", metavar="FILE", default=None,
                   help="after the report, compare it line by line with FILE (a --json "
                        "report of an earlier run), as mprof diff does; exit status 7 "
                        "when a limit below is passed")
    p.add_argument("--diff-metric", dest="diff_metric", default="auto",
                   choices=["auto", "increment", "heap", "heap-alloc", "native", "peak"],
                   help="what --baseline compares (auto: heap if both have it, else "
                        "increment)")
    p.add_argument("--max-line", dest="max_line", metavar="SIZE", default=None,
                   help="with --baseline: fail when a line grows by more than SIZE (24MB)")
    p.add_argument("--max-total", dest="max_total", metavar="SIZE", default=None,
                   help="with --baseline: fail when a function grows by more than SIZE")
    # Accepted for the 2012 announcement's command line; line-by-line and
    # verbose output are what this tool always does.
    p.add_argument("-l", dest="_l", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("-v", dest="_v", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("program", nargs=argparse.REMAINDER,
                   help="python script or module followed by command line arguments")
    # Everything from the program on is the program's: split there first, so
    # that its own arguments are never read as (abbreviations of) ours.
    ours, program = _split_at_program(p, argv)
    args = p.parse_args(ours)
    args.program = program
    if not args.program:
        print("A program to run must be provided. Use -h for help")
        sys.exit(1)
    if not 0 <= args.precision <= 50:
        p.error("argument --precision: must be between 0 and 50, not %d" % args.precision)
    if args.max_mem is not None and args.max_mem < 0:
        p.error("argument --pdb-mmem: must be 0 or more")
    try:
        args.columns = mp._columns(args.columns)
    except ValueError as e:
        p.error("argument --columns: %s" % e)
    for name in ("max_line", "max_total"):
        value = getattr(args, name)
        if value is not None:
            if args.baseline is None:
                p.error("argument --%s: only with --baseline" % name.replace("_", "-"))
            try:
                setattr(args, name, mp._core.parse_size(value))
            except ValueError as e:
                p.error("argument --%s: %s" % (name.replace("_", "-"), e))
    if args.baseline is not None:
        args.baseline = _read_baseline(args.baseline, args)
    return args


def _split_at_program(parser, argv):
    """(our arguments, [program, its arguments]): the program is the first
    argument that is neither an option of ours nor an option's value."""
    takes_value = {}
    for action in parser._actions:
        for s in action.option_strings:
            takes_value[s] = action.nargs != 0
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "--":
            return argv[:i], argv[i + 1:]
        if not a.startswith("-") or a == "-":
            return argv[:i], argv[i:]
        if a.startswith("--") and "=" not in a:
            hits = [s for s in takes_value if s == a] or \
                [s for s in takes_value if s.startswith("--") and s.startswith(a)]
            if len(hits) == 1 and takes_value[hits[0]]:
                i += 1
        elif not a.startswith("--") and len(a) == 2 and takes_value.get(a):
            i += 1  # -o FILE (not -oFILE)
        i += 1
    return argv, []


def _read_baseline(path, args):
    """The baseline's text, checked before the program runs: a missing or
    unreadable file, or one that is not a line report, is a one-line error."""
    try:
        with open(path, "rb") as f:
            text = f.read(256 << 20).decode("utf-8", "surrogateescape")
    except OSError as e:
        sys.stderr.write("%s: error: cannot read the baseline %s: %s\n"
                         % (_PROG, path, e.strerror or e))
        sys.exit(2)
    try:
        mp._core.diff_reports(text, text, path, path)
    except ValueError as e:
        sys.stderr.write("%s: error: %s\n" % (_PROG, e))
        sys.exit(2)
    return (path, text)


def _find_script(name):
    if os.path.isfile(name):
        return name
    for folder in os.environ.get("PATH", os.defpath).split(os.pathsep):
        candidate = os.path.join(folder, name)
        if folder and os.path.isfile(candidate):
            return candidate
    sys.stderr.write("Could not find script %s\n" % name)
    sys.exit(1)


def _run_script(filename, args):
    shown = filename
    if sys.version_info >= (3, 9):
        # As Python runs a script since 3.9: by its absolute path (__file__,
        # tracebacks), so a script that changes directory still finds the
        # files beside it. The report shows it as typed, as the reference did.
        filename = os.path.abspath(filename)
        mp._display_names[filename] = shown
    with io.open_code(filename) as f:
        source = f.read()
    try:
        code = compile(source, filename, "exec", dont_inherit=True)
    except SyntaxError:
        # The user's error, shown as Python shows it, without our frames.
        sys.stderr.write("".join(traceback.format_exception_only(*sys.exc_info()[:2])))
        sys.exit(1)
    main = types.ModuleType("__main__")
    main.__dict__.update(__file__=filename, __builtins__=builtins, __cached__=None,
                         __spec__=None, __loader__=None, profile=builtins.profile)
    sys.modules["__main__"] = main
    sys.argv = [filename] + args
    sys.path.insert(0, os.path.dirname(os.path.abspath(filename)))
    exec(code, main.__dict__)


def _program_kind(target):
    """("script", path) or ("module", name) as Python would take target:
    a .py name or an existing file is a script (found on PATH too, as the
    reference did), a folder with __main__.py runs that; anything else must
    be an importable module. What is none of these is a one-line error."""
    if target.endswith(".py"):
        return "script", _find_script(target)
    if os.path.isfile(target):
        return "script", target
    if os.path.isdir(target):
        main_py = os.path.join(target, "__main__.py")
        if os.path.isfile(main_py):
            return "script", main_py
        sys.stderr.write("%s: error: %s is a folder without a __main__.py\n" % (_PROG, target))
        sys.exit(1)
    # Only the top-level name: finding "pkg.mod" would import pkg now, before
    # profiling starts (and before `profile` is a builtin). A missing
    # submodule is runpy's to report.
    import importlib.util
    try:
        found = importlib.util.find_spec(target.split(".")[0]) is not None
    except (ImportError, ValueError):
        found = False
    if not found:
        sys.stderr.write("%s: error: no script or module named %s\n" % (_PROG, target))
        sys.exit(1)
    return "module", target


def _run_module(name, args):
    import runpy
    sys.argv = [name] + args
    runpy.run_module(name, run_name="__main__", alter_sys=True)


def _open_output(path, mode="a"):
    """The report file: created with the user's umask, appended to (or
    truncated with mode "w"), never through a symbolic link planted in its
    place."""
    if path is None:
        return sys.stdout
    flags = os.O_WRONLY | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    flags |= os.O_APPEND if mode == "a" else os.O_TRUNC
    try:
        return os.fdopen(os.open(path, flags, 0o666), mode)
    except OSError as e:
        why = ("it is a symbolic link (refusing to follow it)" if e.errno == errno.ELOOP
               else e.strerror or e)
        sys.stderr.write("%s: error: cannot write the report to %s: %s\n" % (_PROG, path, why))
        sys.exit(1)


def _user_traceback(tb):
    """The traceback without our own and runpy's frames (tb_next is writable),
    so the user sees what `python script.py` would show."""
    import runpy
    runpy_file = os.path.abspath(runpy.__file__)
    kept = []
    while tb is not None:
        fn = os.path.abspath(tb.tb_frame.f_code.co_filename)
        if not (fn.startswith(_HERE + os.sep) or fn == runpy_file):
            kept.append(tb)
        tb = tb.tb_next
    for a, b in zip(kept, kept[1:]):
        a.tb_next = b
    if kept:
        kept[-1].tb_next = None
    return kept[0] if kept else None


def _pdb_on_exceed(limit):
    def enter(frame, mib):
        import pdb
        sys.stdout.write("Current memory {0:.2f} MiB exceeded the maximum of "
                         "{1:.2f} MiB\n".format(mib, limit))
        sys.stdout.write("Stepping into the debugger \n")
        sys.stdout.flush()
        # Stop here, before the line after the one that crossed the limit
        # runs (set_trace alone would stop only at the next line event),
        # and keep stepping from there as pdb does.
        debugger = pdb.Pdb()
        debugger.set_trace(frame)
        debugger.interaction(frame, None)
    return enter


_SPAWN_PRELUDE = (
    "import builtins\n"
    "def _mp_noop_profile(func=None, *a, **k):\n"
    "    return func if callable(func) else (lambda f: f)\n"
    "builtins.__dict__.setdefault('profile', _mp_noop_profile)\n"
)


def _let_spawned_children_see_profile():
    """multiprocessing's spawn and forkserver children re-import the script
    (as __mp_main__) in a fresh interpreter, where `@profile` would be a
    NameError: give them a pass-through `profile`, as the reference's users
    had to by hand. Their memory shows with --include-children."""
    try:
        import multiprocessing.spawn as spawn
    except ImportError:
        return
    original = spawn.get_command_line

    def get_command_line(**kwds):
        cmd = list(original(**kwds))
        if "-c" in cmd:
            i = cmd.index("-c") + 1
            cmd[i] = _SPAWN_PRELUDE + cmd[i]
        return cmd
    spawn.get_command_line = get_command_line


def _say(message):
    """One line on stderr, whatever state the program left it in."""
    try:
        os.write(2, ("%s: %s\n" % (_PROG, message)).encode("utf-8", "replace"))
    except OSError:
        pass


def _usable_stdout():
    """sys.stdout, or a new stream on file descriptor 1 if the program
    closed or replaced sys.stdout's file (the report still goes to the
    process's standard output, as it would have)."""
    stream = sys.stdout
    if stream is not None and not getattr(stream, "closed", False):
        return stream
    return os.fdopen(os.dup(1), "w", encoding="utf-8", errors="replace")


def _write_records(out, stamper):
    """FUNC records go to the data file in one write(2): mprof appends MEM
    lines to the same file meanwhile, and O_APPEND keeps one write whole."""
    text = io.StringIO()
    stamper.show_results(stream=text)
    data = text.getvalue()
    if out is sys.stdout or not data:
        out.write(data)
        return
    out.flush()
    raw = data.encode(getattr(out, "encoding", None) or "utf-8")
    while raw:
        raw = raw[os.write(out.fileno(), raw):]


def _report_on_abrupt_exits(report):
    """os._exit and a default SIGTERM end the process without unwinding: the
    report is written first (marked partial), then the process ends exactly
    as it would have, with the same status. Forked children (multiprocessing
    workers) write no report, so they get the plain os._exit and the default
    SIGTERM back: a Pool's terminate() kills them at once, as without the
    profiler, instead of waiting for a Python-level handler to run."""
    real_exit = os._exit

    def _exit(status):
        report("the program called os._exit(%s) while it ran" % status)
        real_exit(status)
    os._exit = _exit

    def on_term(signum, frame):
        report("the program was terminated by SIGTERM")
        try:
            sys.stdout.flush()
        except (OSError, ValueError, RuntimeError):  # closed, or a flush in progress
            pass
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)

    if signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
        signal.signal(signal.SIGTERM, on_term)
        # Python runs on_term between bytecodes only: within a second of
        # SIGTERM the program dies anyway (and a forked child at once).
        mp._core.guard_sigterm()

    # The at-fork hook lives until the interpreter's very last teardown, so it
    # holds our functions weakly: a strong chain (to report, to the unclosed
    # report file of a child) would be freed after the warnings machinery is
    # gone, which crashes CPython 3.8 and 3.9 at a forked child's exit.
    exit_ref, term_ref = weakref.ref(_exit), weakref.ref(on_term)

    def in_child():
        if os._exit is exit_ref():
            os._exit = real_exit
        term = term_ref()  # None once replaced, as getsignal's "set from C"
        if term is not None and signal.getsignal(signal.SIGTERM) is term:
            try:
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
            except ValueError:  # forked from a thread other than the main one
                pass
    os.register_at_fork(after_in_child=in_child)


def _compare(prof, args):
    """--baseline: the diff on stderr (stdout is the program's). True when a
    limit was passed."""
    path, text = args.baseline
    try:
        diff, breaches = mp._core.diff_reports(
            text, prof.to_json(), path, "this run", metric=args.diff_metric,
            max_line=-1 if args.max_line is None else args.max_line,
            max_total=-1 if args.max_total is None else args.max_total)
    except ValueError as e:
        _say("cannot compare with the baseline: %s" % e)
        return False
    try:
        sys.stderr.write("\n" + diff)
        sys.stderr.flush()
    except (OSError, ValueError):
        pass
    return breaches > 0


def main(argv=None):
    args = _parse(sys.argv[1:] if argv is None else argv)
    target, target_args = args.program[0], args.program[1:]
    backend = mp.choose_backend(args.backend)
    out = _open_output(args.out_filename)
    json_out = _open_output(args.json_filename, "w") if args.json_filename else None
    kind, target = _program_kind(target)
    is_script = kind == "script"
    if backend == "tracemalloc":
        mp._core.heap_start()
    if args.timestamp:
        prof = mp.TimeStamper(backend, include_children=args.include_children)
    else:
        prof = mp.LineProfiler(max_mem=args.max_mem, backend=backend,
                               include_children=args.include_children,
                               columns=args.columns, exact=args.exact)
        if args.max_mem is not None:
            prof.on_exceed = _pdb_on_exceed(args.max_mem)
    builtins.profile = prof
    _let_spawned_children_see_profile()

    main_pid = os.getpid()
    reported = []
    lost = []

    def report(note=None):
        """Write the report once, from this process only: a forked child
        finishing the script must not print a second one. A report that
        cannot be written (the program closed stdout, a full disk, a reader
        that went away) costs one line on stderr, never a traceback, and an
        exit status of 1 where the program's own was 0."""
        if reported or os.getpid() != main_pid:
            return
        reported.append(True)
        target = out
        try:
            if target is sys.stdout:
                target = _usable_stdout()
            if args.timestamp:
                _write_records(target, prof)
            else:
                if note is not None:
                    target.write("Partial report: %s\n\n" % note)
                mp.show_results(prof, precision=args.precision, stream=target)
            target.flush()
            if json_out is not None:
                json_out.write(prof.to_json())
                json_out.flush()
        except BrokenPipeError:
            pass  # the reader (| head) left: as a pipeline expects, say nothing
        except (OSError, ValueError) as e:
            lost.append(True)
            _say("could not write the report: %s" % (e.strerror if isinstance(e, OSError)
                                                      and e.strerror else e))
        finally:
            for f in (target, out, json_out):
                if f is not None and f is not sys.stdout and f is not sys.__stdout__:
                    try:
                        f.close()
                    except (OSError, ValueError):
                        pass

    _report_on_abrupt_exits(report)
    failure = None
    exited = None
    try:
        if is_script:
            _run_script(target, target_args)
        else:
            _run_module(target, target_args)
    except SystemExit as e:
        exited = e
    except BaseException as e:  # the script's own exception: shown after the report
        failure = e
    report()
    over = args.baseline is not None and not args.timestamp and _compare(prof, args)
    if exited is not None:
        if lost and exited.code in (None, 0):
            sys.exit(1)
        if over and exited.code in (None, 0):
            sys.exit(7)
        raise exited
    if over and failure is None and not lost:
        sys.exit(7)
    if lost and failure is None:
        sys.exit(1)
    if failure is not None:
        tb = _user_traceback(failure.__traceback__)
        failure.__traceback__ = tb  # what the default excepthook displays
        sys.excepthook(type(failure), failure, tb)
        sys.stderr.flush()
        if isinstance(failure, KeyboardInterrupt):
            # Die by SIGINT, as Python itself does, so the caller sees it.
            sys.stdout.flush()
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGINT)
        sys.exit(1)


if __name__ == "__main__":
    main()
