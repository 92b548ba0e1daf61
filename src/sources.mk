# The one list of C sources and the flags every build shares. Read by the
# Makefile (include), setup.py (its own small reader: only `NAME := words`
# lines, `\` continuing a line, `#` comments; keep it to that) and
# tools/fuzz.sh (through `make -s print-NAME`). A new .c file is added here.

# The Python-free core, linked into the extension, mprof and the C tests.
MP_CORE_SRC := src/core/mp_alloc.c src/core/mp_buf.c src/core/mp_clock.c src/core/mp_meter.c \
               src/core/mp_proc.c src/core/mp_sampler.c src/core/mp_tick.c \
               src/core/mp_json.c src/core/mp_labels.c src/core/mp_lines.c \
               src/core/mp_native.c src/core/mp_procparse.c src/core/mp_ptrmap.c \
               src/core/mp_report.c src/core/mp_datafile.c src/core/mp_jsonread.c \
               src/core/mp_linediff.c src/core/mp_tree.c

# Plotting (cairo, or -DMP_NO_CAIRO): linked into mprof only.
MP_PLOT_SRC := src/plot/mp_plot.c

# The CPython extension memory_profiler._core (with MP_CORE_SRC).
MP_EXT_SRC := src/ext/activator.c src/ext/engine.c src/ext/heap.c src/ext/module.c \
              src/ext/profiler.c src/ext/report.c src/ext/sampler.c src/ext/sigterm.c \
              src/ext/tracer.c src/ext/tracer_mon.c src/ext/tracer_trace.c \
              src/ext/wrapper.c

# The mprof program (with MP_CORE_SRC and MP_PLOT_SRC).
MP_CLI_SRC := src/cli/mprof.c src/cli/mprof_diff.c src/cli/mprof_files.c \
              src/cli/mprof_opts.c src/cli/mprof_plot.c src/cli/mprof_run.c

# Every compile. The Makefile adds -Werror (WERROR=1, its default);
# setup.py never does, so a newer compiler's new warning cannot fail an install.
MP_STD_CFLAGS := -std=c11 -D_GNU_SOURCE
MP_WARNINGS := -Wall -Wextra -Wstrict-prototypes -Wshadow -Wpointer-arith -Wformat=2

# Every link.
MP_LIBS := -lpthread -lm -ldl
