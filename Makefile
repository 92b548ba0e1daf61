# memory-profiler-c build. Everything takes PYTHON=/path/to/python (default python3).
#   make            build memory_profiler/_core in place for $(PYTHON), and build/mprof
#   make mprof      only the mprof program (needs no Python)
#   make install    install into $(PYTHON)'s environment (offline, no pip index)
#   make test       C unit tests + the Python suite on every CPython 3.8-3.13 found,
#                   and on 3.14 and 3.15 in a Debian sid root (tools/sid.sh) when root
#   make test-py    the Python suite for $(PYTHON) only
#   make check      sanitizers, valgrind, fuzzing, static analysis (tools/check.sh)
#   make bench      benchmarks (bench/)
#   make wheel      a manylinux wheel for $(PYTHON), cairo bundled (dist/)
PYTHON ?= python3
CC ?= cc
VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml)

PYINFO := $(shell $(PYTHON) -c 'import sysconfig as s; print(s.get_paths()["include"], s.get_config_var("EXT_SUFFIX"), s.get_paths()["platlib"], s.get_paths()["scripts"])' 2>/dev/null)
PY_INCLUDE := $(word 1,$(PYINFO))
EXT_SUFFIX := $(word 2,$(PYINFO))
PY_PLATLIB := $(word 3,$(PYINFO))
PY_SCRIPTS := $(word 4,$(PYINFO))

# The sources and the shared flags (MP_*_SRC, MP_STD_CFLAGS, MP_WARNINGS,
# MP_LIBS): one list, read by setup.py and tools/fuzz.sh too.
include src/sources.mk

WERROR ?= 1
OPT ?= -O2 -g
WARNINGS := $(MP_WARNINGS)
ifeq ($(WERROR),1)
WARNINGS += -Werror
endif
SAN ?=
BASE_CFLAGS := $(MP_STD_CFLAGS) -fPIC $(OPT) $(WARNINGS) $(SAN) $(EXTRA_CFLAGS)

CORE_SRC := $(MP_CORE_SRC)
CORE_HDR := $(wildcard src/core/*.h src/core/*.inc)
EXT_SRC := $(MP_EXT_SRC)
EXT_HDR := $(wildcard src/ext/*.h)

BUILD := build
CORE_OBJ := $(patsubst src/core/%.c,$(BUILD)/core/%.o,$(CORE_SRC))
EXT_TAG := $(subst .,_,$(basename $(EXT_SUFFIX)))
EXT_OBJ := $(patsubst src/ext/%.c,$(BUILD)/ext$(EXT_TAG)/%.o,$(EXT_SRC))
EXT_SO := memory_profiler/_core$(EXT_SUFFIX)

# mprof: a standalone C program (no Python needed to build or run it).
CLI_SRC := $(MP_CLI_SRC)
CLI_HDR := $(wildcard src/cli/*.h)
PLOT_HDR := $(wildcard src/plot/*.h)
CLI_OBJ := $(patsubst src/cli/%.c,$(BUILD)/cli/%.o,$(CLI_SRC))
MPROF := $(BUILD)/mprof

.PHONY: all ext mprof check fuzz install uninstall test test-c test-py test-all bench check-python clean venvs wheel

# For scripts: `make -s print-MP_CORE_SRC` prints that variable's value.
print-%:
	@echo '$($*)'

all: ext mprof

mprof: $(MPROF)

$(BUILD)/cli/%.o: src/cli/%.c $(CLI_HDR) $(CORE_HDR) $(PLOT_HDR)
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) -Isrc/core -Isrc/plot -DMP_VERSION='"$(VERSION)"' -c $< -o $@

# Plotting (src/plot, which may use src/core; core never uses it) needs
# cairo (Debian: libcairo2-dev); without it mprof is built with plotting
# switched off and says so.
CAIRO_CFLAGS := $(shell pkg-config --cflags cairo fontconfig 2>/dev/null)
CAIRO_LIBS := $(shell pkg-config --libs cairo fontconfig 2>/dev/null)
# The object's folder names the choice, so installing cairo later rebuilds
# and relinks mprof with plotting on the next make.
ifeq ($(CAIRO_LIBS),)
CAIRO_CFLAGS := -DMP_NO_CAIRO
PLOT_TAG := nocairo
NO_CAIRO_NOTE := @echo "make: cairo not found (Debian: apt-get install libcairo2-dev libfontconfig-dev): mprof built without plotting; make again once it is installed" >&2
else
PLOT_TAG := cairo
NO_CAIRO_NOTE :=
endif
PLOT_OBJ := $(patsubst src/plot/%.c,$(BUILD)/plot-$(PLOT_TAG)/%.o,$(MP_PLOT_SRC))

$(BUILD)/plot-$(PLOT_TAG)/%.o: src/plot/%.c $(PLOT_HDR) $(CORE_HDR)
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) -Isrc/core $(CAIRO_CFLAGS) -c $< -o $@

# Rewritten (when make reads this file) only when the choice changes, so mprof
# is relinked exactly then. A rule with a forced prerequisite would relink it
# every time (and relink sanitized objects without their runtime).
MPROF_CFG := $(BUILD)/mprof-link.cfg
$(shell mkdir -p $(BUILD) && { echo '$(CAIRO_LIBS)' | cmp -s - $(MPROF_CFG) || echo '$(CAIRO_LIBS)' > $(MPROF_CFG); })

$(MPROF): $(CLI_OBJ) $(CORE_OBJ) $(PLOT_OBJ) $(MPROF_CFG)
	$(CC) $(SAN) -o $@ $(filter %.o,$^) $(CAIRO_LIBS) $(MP_LIBS)
	$(NO_CAIRO_NOTE)


check-python:
	@test -n "$(EXT_SUFFIX)" || { echo "make: cannot run '$(PYTHON)' (set PYTHON=/path/to/python)" >&2; exit 1; }

ext: check-python $(EXT_SO)

$(BUILD)/core/%.o: src/core/%.c $(CORE_HDR)
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) -c $< -o $@

$(BUILD)/ext$(EXT_TAG)/%.o: src/ext/%.c $(EXT_HDR) $(CORE_HDR)
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) -fvisibility=hidden -DMP_VERSION='"$(VERSION)"' -isystem $(PY_INCLUDE) -c $< -o $@

$(EXT_SO): $(CORE_OBJ) $(EXT_OBJ)
	$(CC) -shared $(SAN) -o $@ $^ $(MP_LIBS)

# Offline install: copy the built package into the interpreter's site-packages
# with a dist-info record, so pip sees it (and can uninstall it).
DIST := memory_profiler_c-$(VERSION).dist-info
install: ext mprof
	@test -n "$(PY_PLATLIB)"
	mkdir -p "$(PY_SCRIPTS)"
	install -m 0755 $(MPROF) "$(PY_SCRIPTS)/mprof"
	rm -rf "$(PY_PLATLIB)/memory_profiler" "$(PY_PLATLIB)"/memory_profiler_c-*.dist-info
	mkdir -p "$(PY_PLATLIB)/memory_profiler" "$(PY_PLATLIB)/$(DIST)"
	cp memory_profiler/*.py "$(PY_PLATLIB)/memory_profiler/"
	cp $(EXT_SO) "$(PY_PLATLIB)/memory_profiler/"
	cp mprof.py "$(PY_PLATLIB)/mprof.py"
	printf 'Metadata-Version: 2.1\nName: memory-profiler-c\nVersion: %s\nSummary: memory_profiler rewritten in C\n' "$(VERSION)" > "$(PY_PLATLIB)/$(DIST)/METADATA"
	printf 'make\n' > "$(PY_PLATLIB)/$(DIST)/INSTALLER"
	printf '[pytest11]\nmemory_profiler = memory_profiler.pytest_plugin\n' > "$(PY_PLATLIB)/$(DIST)/entry_points.txt"
	cd "$(PY_PLATLIB)" && { find memory_profiler $(DIST) -type f; echo mprof.py; realpath --relative-to=. "$(PY_SCRIPTS)/mprof"; } | sed 's/$$/,,/' > $(DIST)/RECORD
	@echo "installed memory_profiler $(VERSION) into $(PY_PLATLIB), mprof into $(PY_SCRIPTS)"

uninstall: check-python
	rm -rf "$(PY_PLATLIB)/memory_profiler" "$(PY_PLATLIB)"/memory_profiler_c-*.dist-info "$(PY_SCRIPTS)/mprof" "$(PY_PLATLIB)/mprof.py"

# ---------------------------------------------------------------- tests
CHECK_FLAGS := $(shell pkg-config --cflags --libs check 2>/dev/null)
C_TESTS := $(BUILD)/tests/test_core

C_TEST_SRC := tests/c/test_core.c tests/c/test_lines.c

$(C_TESTS): $(C_TEST_SRC) $(CORE_SRC) $(CORE_HDR)
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) -Isrc/core -o $@ $(C_TEST_SRC) $(CORE_SRC) $(CHECK_FLAGS) $(MP_LIBS)

test-c: $(C_TESTS)
	cd tests/c && ../../$(C_TESTS)

test-py: ext
	PYTHONPATH=$(CURDIR) $(PYTHON) -m pytest -q tests/py

venvs:
	tools/venvs.sh

# The whole suite: C tests, then the Python suite on every interpreter found.
test: test-c
	tools/test-all.sh

# Reliability: -Werror with gcc and clang, cppcheck, clang-tidy, the C tests
# and the Python suite under ASan+UBSan, valgrind, libFuzzer (tools/check.sh).
check:
	tools/check.sh

fuzz:
	tools/fuzz.sh $(FUZZ_SECONDS)

bench: ext mprof
	tools/bench-venvs.sh >/dev/null
	$(PYTHON) bench/run.py $(BENCH_ARGS)
	$(PYTHON) bench/mprof_cost.py
	@if tools/spark.sh can; then sp=$$(tools/spark.sh python) && \
		$(MAKE) -s ext PYTHON="$$sp" && "$$sp" bench/spark_cost.py $(SPARK_BENCH_ARGS); \
	else echo "bench: Spark cost not run (needs java)"; fi
	@if tools/sid.sh can; then tools/sid.sh bench $(BENCH_ARGS); \
	else echo "bench: 3.14 and 3.15 not run (the sid root needs root and debootstrap)"; fi

# A manylinux wheel for $(PYTHON) that bundles cairo and fontconfig (tools/wheel.sh).
wheel:
	tools/wheel.sh $(PYTHON)

clean:
	rm -rf $(BUILD) memory_profiler/_core*.so memory_profiler/__pycache__
