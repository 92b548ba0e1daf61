"""mprof as an importable module, as the reference shipped it: its names
over the C mprof program (build/mprof in a source tree, else the one
installed next to the interpreter, else the one on PATH).

    import mprof
    mprof.function_labels(["pkg.mod.f", "other.f"])   # {"pkg.mod.f": "mod.f", ...}
    sys.argv = ["mprof", "--exit-code", "script.py"]; mprof.run_action()
"""
import os
import shutil
import subprocess
import sys

from memory_profiler import _core

__all__ = ["function_labels", "run_action", "attach_action", "plot_action", "peak_action",
           "list_action", "rm_action", "clean_action", "main"]

# Options of `mprof run` that take a value (to find where the program starts).
_VALUED = {"-T", "--interval", "-t", "--timeout", "-o", "--output", "--backend"}


def _program():
    here = os.path.dirname(os.path.abspath(__file__))
    for candidate in (os.path.join(here, "build", "mprof"),
                      os.path.join(os.path.dirname(sys.executable), "mprof"),
                      shutil.which("mprof")):
        if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    raise FileNotFoundError("the mprof program is not installed "
                            "(make install, or pip install memory-profiler-c)")


def function_labels(dotted_function_names):
    """{name: its shortest dotted suffix that no other name shares}."""
    names = list(dotted_function_names)
    return dict(zip(names, _core.function_labels(names)))


def _own_options(args):
    """mprof's own options: those before the program."""
    out, i = [], 0
    while i < len(args) and args[i].startswith("-"):
        out.append(args[i])
        if args[i] in _VALUED:
            i += 1
        i += 1
    return out


def _action(command, args=None):
    args = sys.argv[1:] if args is None else list(args)
    env = dict(os.environ)
    env.setdefault("MPROF_PYTHON", sys.executable)  # Python targets: this interpreter
    return subprocess.call([_program(), command] + args, env=env)


def run_action():
    """`mprof run` with sys.argv[1:]; with --exit-code (-E), SystemExit with
    the program's status, as the reference; on mprof's own errors too."""
    args = sys.argv[1:]
    rc = _action("run", args)
    own = _own_options(args)
    if rc != 0 or "-E" in own or "--exit-code" in own:
        sys.exit(rc)


def _exiting(command):
    def action():
        rc = _action(command)
        if rc != 0:
            sys.exit(rc)
    action.__name__ = command + "_action"
    action.__doc__ = "`mprof %s` with sys.argv[1:]." % command
    return action


attach_action = _exiting("attach")
plot_action = _exiting("plot")
peak_action = _exiting("peak")
list_action = _exiting("list")
rm_action = _exiting("rm")
clean_action = _exiting("clean")


def main():
    """`python -m mprof COMMAND ...`: the mprof program."""
    if len(sys.argv) < 2:
        sys.exit(subprocess.call([_program()]))
    sys.exit(_action(sys.argv[1], sys.argv[2:]))


if __name__ == "__main__":
    main()
