"""IPython magics: %mprun / %%mprun and %memit / %%memit.

The same options and output text as memory_profiler 0.61, without its
distutils import (which breaks on Python 3.12+), and functions defined in the
session itself can be profiled: their source is what IPython keeps in
linecache for each cell."""
import builtins
import gc
from io import StringIO

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class
from IPython.core.page import page
from IPython.utils.ipstruct import Struct

import memory_profiler as mp


MemitResult = mp.MemitResult


@magics_class
class MemoryProfilerMagics(Magics):

    @line_cell_magic
    def mprun(self, parameter_s="", cell=None):
        """Run a statement under the line-by-line memory profiler.

          %mprun -f func1 [-f func2] [-T file] [-r] [-c] statement
          %%mprun -f func1 [statement]
          code...

        -f: a function to profile (any expression, several allowed);
        -T FILE: also save the report to FILE; -r: return the profiler;
        -c: include the memory of child processes."""
        opts_def = Struct(T=[""], f=[])
        parameter_s = parameter_s.replace('"', r'\"').replace("'", r"\'")
        opts, arg_str = self.parse_options(parameter_s, "rf:T:c", list_all=True)
        opts.merge(opts_def)
        global_ns = self.shell.user_global_ns
        local_ns = self.shell.user_ns
        if cell is not None:
            arg_str += "\n" + cell
        funcs = []
        for name in opts.f:
            try:
                funcs.append(eval(name, global_ns, local_ns))
            except Exception as e:
                raise UsageError("Could not find function %r.\n%s: %s"
                                 % (name, e.__class__.__name__, e))
        prof = mp.LineProfiler(include_children="c" in opts)
        for func in funcs:
            prof(func)
        had_profile = "profile" in builtins.__dict__
        old_profile = builtins.__dict__.get("profile")
        builtins.__dict__["profile"] = prof
        try:
            prof.runctx(arg_str, global_ns, local_ns)
            message = ""
        except SystemExit:
            message = "*** SystemExit exception caught in code being profiled."
        except KeyboardInterrupt:
            message = "*** KeyboardInterrupt exception caught in code being profiled."
        finally:
            if had_profile:
                builtins.__dict__["profile"] = old_profile
            else:
                builtins.__dict__.pop("profile", None)
        trap = StringIO()
        mp.show_results(prof, trap)
        output = trap.getvalue().rstrip()
        page(output)
        print(message, )
        text_file = opts.T[0]
        if text_file:
            with open(text_file, "w") as pfile:
                pfile.write(output)
            print("\n*** Profile printout saved to text file %s. %s" % (text_file, message))
        return prof if "r" in opts else None

    @line_cell_magic
    def memit(self, line="", cell=None):
        """Peak memory of a statement (timeit-style).

          %memit [-r<R>] [-t<T>] [-i<I>] [-c] [-o] [-q] statement
          %%memit [options] setup_code
          code...

        -r: repeat R times, report the best; -t: timeout in seconds;
        -i: sampling interval in seconds (the peak is exact regardless);
        -c: include children; -o: return a MemitResult; -q: quiet."""
        opts, stmt = self.parse_options(line, "r:t:i:coq", posix=False, strict=False)
        if cell is None:
            setup = "pass"
        else:
            setup, stmt = stmt, cell
        repeat = max(int(getattr(opts, "r", 1)), 1)
        timeout = int(getattr(opts, "t", 0))
        timeout = timeout if timeout > 0 else None
        interval = float(getattr(opts, "i", 0.1))
        include_children = "c" in opts
        gc.collect()
        mp._func_exec(setup, self.shell.user_ns)
        baseline = mp.memory_usage()[0]
        mem_usage = []
        for _ in range(repeat):
            mem_usage.append(mp.memory_usage((mp._func_exec, (stmt, self.shell.user_ns)),
                                             timeout=timeout, interval=interval,
                                             max_usage=True, max_iterations=1,
                                             include_children=include_children))
        result = MemitResult(mem_usage, baseline, repeat, timeout, interval, include_children)
        if "q" not in opts:
            print(result)
        if "o" in opts:
            return result
