# Builds memory_profiler._core for `pip install .`; `make` builds the same
# sources directly (and is what the tests and CI use).
import glob
import os
import re
import subprocess
import sysconfig

from setuptools import Extension, setup

with open("pyproject.toml") as f:
    version = re.search(r'^version = "(.*)"', f.read(), re.M).group(1)

core = ["src/core/mp_alloc.c", "src/core/mp_sampler.c", "src/core/mp_tick.c", "src/core/mp_clock.c", "src/core/mp_meter.c", "src/core/mp_proc.c",
        "src/core/mp_json.c", "src/core/mp_labels.c", "src/core/mp_lines.c", "src/core/mp_native.c", "src/core/mp_procparse.c", "src/core/mp_ptrmap.c", "src/core/mp_report.c",
        "src/core/mp_datafile.c", "src/core/mp_jsonread.c", "src/core/mp_linediff.c"]
ext = sorted(glob.glob("src/ext/*.c"))



def build_mprof():
    """The mprof program is plain C (no Python); installed into bin/."""
    out = os.path.join("build", "mprof")
    cc = os.environ.get("CC") or (sysconfig.get_config_var("CC") or "cc").split()[0]
    os.makedirs("build", exist_ok=True)
    try:  # plotting needs cairo (Debian: libcairo2-dev); without it, mprof plot says so
        cairo = subprocess.check_output(["pkg-config", "--cflags", "--libs", "cairo", "fontconfig"],
                                        universal_newlines=True).split()
    except (OSError, subprocess.CalledProcessError):
        cairo = ["-DMP_NO_CAIRO"]
    subprocess.check_call([cc, "-std=c11", "-O2", "-D_GNU_SOURCE", "-DMP_VERSION=\"%s\"" % version,
                           "-Isrc/core", "-o", out] + sorted(glob.glob("src/cli/*.c")) + core
                          + ["src/core/mp_plot.c"] + cairo + ["-lpthread", "-lm", "-ldl"])
    return out


setup(data_files=[("bin", [build_mprof()])], ext_modules=[Extension(
    "memory_profiler._core",
    sources=core + ext,
    define_macros=[("_GNU_SOURCE", None), ("MP_VERSION", '"%s"' % version)],
    libraries=["dl", "pthread"],
    extra_compile_args=["-std=c11"],
)])
