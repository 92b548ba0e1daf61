# Builds memory_profiler._core for `pip install .`, and the mprof program;
# `make` builds the same sources directly (and is what the tests and CI use).
# The sources and the shared flags come from src/sources.mk, as for make.
import os
import re
import subprocess
import sysconfig

from setuptools import Extension, setup

with open("pyproject.toml") as f:
    version = re.search(r'^version = "(.*)"', f.read(), re.M).group(1)


def read_sources_mk(path="src/sources.mk"):
    """src/sources.mk's `NAME := words` lines (a `\\` at the end continues
    one; `#` starts a comment) as {NAME: [words]}."""
    values, name, words = {}, None, []
    with open(path) as f:
        for raw in f:
            line = raw.split("#", 1)[0].rstrip()
            if name is None:
                m = re.match(r"^([A-Za-z_][A-Za-z0-9_]*)\s*:=(.*)$", line)
                if m is None:
                    continue
                name, line = m.group(1), m.group(2)
            more = line.endswith("\\")
            words += line.rstrip("\\").split()
            if not more:
                values[name], name, words = words, None, []
    if name is not None:
        values[name] = words
    return values


mk = read_sources_mk()
core, plot, ext, cli = mk["MP_CORE_SRC"], mk["MP_PLOT_SRC"], mk["MP_EXT_SRC"], mk["MP_CLI_SRC"]
# No -Werror: a user's newer compiler must not fail the install over a new warning.
cflags = mk["MP_STD_CFLAGS"] + mk["MP_WARNINGS"]
libs = mk["MP_LIBS"]


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
    subprocess.check_call([cc] + cflags + ["-O2", "-g", "-DMP_VERSION=\"%s\"" % version,
                                           "-Isrc/core", "-Isrc/plot", "-o", out] + cli + core + plot + cairo + libs)
    return out


setup(data_files=[("bin", [build_mprof()])], ext_modules=[Extension(
    "memory_profiler._core",
    sources=core + ext,
    define_macros=[("MP_VERSION", '"%s"' % version)],
    libraries=[w[2:] for w in libs if w.startswith("-l")],
    extra_link_args=[w for w in libs if not w.startswith("-l")],
    extra_compile_args=cflags + ["-fvisibility=hidden"],
)])
