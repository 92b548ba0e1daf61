# Builds memory_profiler._core for `pip install .`; `make` builds the same
# sources directly (and is what the tests and CI use).
import re

from setuptools import Extension, setup

with open("pyproject.toml") as f:
    version = re.search(r'^version = "(.*)"', f.read(), re.M).group(1)

core = ["src/core/mp_alloc.c", "src/core/mp_sampler.c", "src/core/mp_tick.c", "src/core/mp_clock.c", "src/core/mp_meter.c", "src/core/mp_proc.c",
        "src/core/mp_json.c", "src/core/mp_procparse.c", "src/core/mp_ptrmap.c", "src/core/mp_report.c"]
ext = ["src/ext/heap.c", "src/ext/module.c", "src/ext/profiler.c", "src/ext/sampler.c",
       "src/ext/tracer.c"]

setup(ext_modules=[Extension(
    "memory_profiler._core",
    sources=core + ext,
    define_macros=[("_GNU_SOURCE", None), ("MP_VERSION", '"%s"' % version)],
    extra_compile_args=["-std=c11"],
)])
