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

_USAGE = "python -m memory_profiler script_file.py"
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
    p.add_argument("--columns", dest="columns", default="", metavar="peak,heap",
                   help="extra report columns: peak (highest memory while the line "
                        "ran), heap (Python-heap bytes: net and allocated)")
    p.add_argument("--exact", dest="exact", action="store_true",
                   help="read memory on every line (slow) instead of when it can "
                        "have changed")
    p.add_argument("--json", dest="json_filename", metavar="FILE", default=None,
                   help="also write the whole result as JSON to FILE")
    # Accepted for the 2012 announcement's command line; line-by-line and
    # verbose output are what this tool always does.
    p.add_argument("-l", dest="_l", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("-v", dest="_v", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("program", nargs=argparse.REMAINDER,
                   help="python script or module followed by command line arguments")
    args = p.parse_args(argv)
    if not args.program:
        print("A program to run must be provided. Use -h for help")
        sys.exit(1)
    if args.precision < 0:
        p.error("argument --precision: must be 0 or more, not %d" % args.precision)
    if args.max_mem is not None and args.max_mem < 0:
        p.error("argument --pdb-mmem: must be 0 or more")
    try:
        args.columns = mp._columns(args.columns)
    except ValueError as e:
        p.error("argument --columns: %s" % e)
    return args


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
        pdb.Pdb().set_trace(frame)
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


def main(argv=None):
    args = _parse(sys.argv[1:] if argv is None else argv)
    target, target_args = args.program[0], args.program[1:]
    backend = mp.choose_backend(args.backend)
    out = _open_output(args.out_filename)
    json_out = _open_output(args.json_filename, "w") if args.json_filename else None
    is_script = target.endswith(".py")
    if is_script:
        target = _find_script(target)
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

    def report(note=None):
        """Write the report once, from this process only: a forked child
        finishing the script must not print a second one."""
        if reported or os.getpid() != main_pid:
            return
        reported.append(True)
        try:
            if args.timestamp:
                _write_records(out, prof)
            else:
                if note is not None:
                    out.write("Partial report: %s\n\n" % note)
                mp.show_results(prof, precision=args.precision, stream=out)
                if json_out is not None:
                    json_out.write(prof.to_json())
            out.flush()
        finally:
            if out is not sys.stdout:
                out.close()
            if json_out is not None:
                json_out.close()

    _report_on_abrupt_exits(report)
    failure = None
    try:
        if is_script:
            _run_script(target, target_args)
        else:
            _run_module(target, target_args)
    except SystemExit:
        raise
    except BaseException as e:  # the script's own exception: shown after the report
        failure = e
    finally:
        report()
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
