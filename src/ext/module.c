/* memory_profiler._core: module definition and small functions. */
#include "compat.h"
#include "engine.h"

#include "activator.h"
#include "heap.h"
#include "profiler.h"
#include "report.h"
#include "sampler.h"
#include "sigterm.h"
#include "wrapper.h"
#include "tracer.h"
#include "../core/mp_clock.h"
#include "../core/mp_datafile.h"
#include "../core/mp_labels.h"
#include "../core/mp_linediff.h"
#include "../core/mp_meter.h"
#include "../core/mp_native.h"
#include "../core/mp_tick.h"
#include "../core/mp_units.h"

#include <errno.h>
#include <string.h>

#ifndef MP_VERSION
#define MP_VERSION "0.0.0"
#endif

PyDoc_STRVAR(memory_doc,
"memory(backend='psutil', include_children=False, pid=0)\n--\n\n"
"Memory of a process (0: this one) in bytes, read by backend. The\n"
"'tracemalloc' backend gives Python-heap bytes counted by the allocator hooks\n"
"of this process (0 until heap_start()). Raises OSError when the process is\n"
"gone or cannot be read.");

static PyObject *mod_memory(PyObject *m, PyObject *args, PyObject *kw)
{
    (void)m;
    static char *kwlist[] = {"backend", "include_children", "pid", NULL};
    PyObject *backend = Py_None;
    int children = 0, pid = 0, b;
    int64_t bytes = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|Opi:memory", kwlist, &backend, &children,
                                     &pid) || mp_backend_arg(backend, &b) < 0) {
        return NULL;
    }
    if (pid < 0) {
        return PyErr_Format(PyExc_ProcessLookupError, "no process with pid %d", pid);
    }
    if (b == MP_BACKEND_HEAP) {
        return PyLong_FromLongLong(mp_heap_current());
    }
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = pid == 0 ? mp_tracer_measure(b, children, &bytes)
                  : mp_meter_read((mp_backend_t)b, pid, children, &bytes);
    Py_END_ALLOW_THREADS
    if (rc < 0) {
        if (errno == ENOENT || errno == ESRCH) {
            return PyErr_Format(PyExc_ProcessLookupError, "no process with pid %d", pid);
        }
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    return PyLong_FromLongLong(bytes);
}

static PyObject *mod_backend_available(PyObject *m, PyObject *arg)
{
    (void)m;
    int b;
    if (mp_backend_arg(arg, &b) < 0) {
        return NULL;
    }
    return PyBool_FromLong(mp_backend_available((mp_backend_t)b));
}

static PyObject *mod_heap_start(PyObject *m, PyObject *unused)
{
    (void)m;
    (void)unused;
    if (mp_heap_account_use(1) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *mod_heap_peak(PyObject *m, PyObject *args, PyObject *kw)
{
    (void)m;
    static char *kwlist[] = {"reset", NULL};
    int reset = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|p:heap_peak", kwlist, &reset)) {
        return NULL;
    }
    PyObject *r = PyLong_FromLongLong(mp_heap_peak());
    if (reset) {
        mp_heap_peak_reset();
    }
    return r;
}

static PyObject *mod_native_thread(PyObject *m, PyObject *unused)
{
    (void)m;
    (void)unused;
    return Py_BuildValue("(LL)", (long long)mp_native_thread(0), (long long)mp_native_thread(1));
}

static PyObject *mod_heap_stop(PyObject *m, PyObject *unused)
{
    (void)m;
    (void)unused;
    mp_heap_account_use(-1);
    Py_RETURN_NONE;
}

static PyObject *mod_heap_reinstalls(PyObject *m, PyObject *unused)
{
    (void)m;
    (void)unused;
    return PyLong_FromLong(mp_heap_reinstalls());
}

static PyObject *mod_own_bytes(PyObject *m, PyObject *unused)
{
    (void)m;
    (void)unused;
    return PyLong_FromSize_t(mp_heap_own_bytes() + mp_lines_own_bytes());
}

static PyObject *mod_inject_failures(PyObject *m, PyObject *arg)
{
    (void)m;
    long n = PyLong_AsLong(arg);
    if (n == -1 && PyErr_Occurred()) {
        return NULL;
    }
    mp_lines_inject_failures((int)n);
    Py_RETURN_NONE;
}

static PyObject *mod_native_slots(PyObject *m, PyObject *unused)
{
    (void)m;
    (void)unused;
    return PyLong_FromSize_t(mp_native_slots());
}

static PyObject *mod_function_labels(PyObject *m, PyObject *arg)
{
    (void)m;
    PyObject *seq = PySequence_Fast(arg, "function_labels() needs a sequence of str");
    if (seq == NULL) {
        return NULL;
    }
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    const char **names = PyMem_Calloc((size_t)n + 1, sizeof(char *));
    const char **labels = PyMem_Calloc((size_t)n + 1, sizeof(char *));
    PyObject *out = NULL;
    if (names == NULL || labels == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        names[i] = PyUnicode_AsUTF8(PySequence_Fast_GET_ITEM(seq, i));
        if (names[i] == NULL) {
            goto done;
        }
    }
    if (mp_labels(names, (size_t)n, labels) < 0) {
        PyErr_NoMemory();
        goto done;
    }
    out = PyList_New(n);
    for (Py_ssize_t i = 0; out != NULL && i < n; i++) {
        PyObject *l = PyUnicode_FromString(labels[i]);
        if (l == NULL) {
            Py_CLEAR(out);
            break;
        }
        PyList_SET_ITEM(out, i, l);
    }
done:
    PyMem_Free(names);
    PyMem_Free(labels);
    Py_DECREF(seq);
    return out;
}

static PyObject *mod_tick_alive(PyObject *m, PyObject *unused)
{
    (void)m;
    (void)unused;
    return PyBool_FromLong(mp_tick_alive());
}

static PyObject *mod_heap_active(PyObject *m, PyObject *unused)
{
    (void)m;
    (void)unused;
    return PyBool_FromLong(mp_heap_active());
}

static PyObject *mod_wall_time(PyObject *m, PyObject *unused)
{
    (void)m;
    (void)unused;
    return PyFloat_FromDouble(mp_clock_wall());
}

static PyObject *mod_peak_rss(PyObject *m, PyObject *unused)
{
    (void)m;
    (void)unused;
    int64_t rss = 0, hwm = 0;
    if (mp_meter_self_peak(&rss, &hwm, 0) < 0) {
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    int64_t ever = mp_meter_peak_ever();
    return PyLong_FromLongLong(ever > hwm ? ever : hwm);
}

static PyObject *mod_sampling_period(PyObject *m, PyObject *args)
{
    (void)m;
    long us = -1;
    if (!PyArg_ParseTuple(args, "|l:sampling_period", &us)) {
        if (PyErr_ExceptionMatches(PyExc_OverflowError)) {
            PyErr_SetString(PyExc_ValueError,
                            "the period must be between 10 and 10,000,000 microseconds");
        }
        return NULL;
    }
    long old = mp_tracer_period();
    if (us != -1 && mp_tracer_set_period(us) < 0) {
        return NULL;
    }
    return PyLong_FromLong(old);
}

PyDoc_STRVAR(diff_doc,
"diff_reports(base, new, base_name='base', new_name='new', metric='auto', max_line=-1,\n"
"             max_total=-1, min_change=-1, markdown=False)\n--\n\n"
"Compare two line reports (the text of --json) line by line, as mprof diff does.\n"
"Sizes in bytes, -1 for none. Returns (text, breaches). ValueError when either is\n"
"not a line report or lacks the metric's column.");

static PyObject *mod_diff_reports(PyObject *m, PyObject *args, PyObject *kw)
{
    (void)m;
    static char *kwlist[] = {"base", "new", "base_name", "new_name", "metric", "max_line",
                             "max_total", "min_change", "markdown", NULL};
    const char *base, *newr, *bname = "base", *nname = "new", *metric = "auto";
    Py_ssize_t blen, nlen;
    mp_diff_opts_t o = {MP_DIFF_AUTO, -1, -1, -1, 0, 0};
    if (!PyArg_ParseTupleAndKeywords(args, kw, "s#s#|sssdddp:diff_reports", kwlist, &base, &blen,
                                     &newr, &nlen, &bname, &nname, &metric, &o.max_line,
                                     &o.max_total, &o.min_show, &o.markdown)) {
        return NULL;
    }
    int mt = mp_diff_metric_from_name(metric);
    if (mt < 0) {
        return PyErr_Format(PyExc_ValueError, "unknown metric '%s' (choose from auto, increment, "
                            "heap, heap-alloc, native, peak)", metric);
    }
    o.metric = (mp_diff_metric_t)mt;
    mp_buf_t out = {0};
    mp_diff_result_t res;
    char err[512];
    if (mp_diff_reports(base, (size_t)blen, bname, newr, (size_t)nlen, nname, &o, &out, &res, err,
                        sizeof(err)) < 0) {
        mp_buf_free(&out);
        return PyErr_Format(PyExc_ValueError, "%s", err);
    }
    PyObject *text = mp_report_str(&out);
    if (text == NULL) {
        return NULL;
    }
    return Py_BuildValue("(Ni)", text, res.breaches);
}

static PyObject *mod_parse_size(PyObject *m, PyObject *arg)
{
    (void)m;
    const char *s = PyUnicode_Check(arg) ? PyUnicode_AsUTF8(arg) : NULL;
    double bytes;
    if (s == NULL || mp_diff_parse_size(s, &bytes) < 0) {
        PyErr_Clear();
        return PyErr_Format(PyExc_ValueError, "not a size: %R (e.g. 24MB, 512 KiB, 4096)", arg);
    }
    return PyFloat_FromDouble(bytes);
}

PyDoc_STRVAR(datafile_mem_doc,
"datafile_mem(samples, multiprocess=False)\n--\n\n"
"The data file's MEM lines (and with multiprocess a CHLD line per child)\n"
"for samples as Sampler.samples() gives them: (bytes, time, [(pid, bytes)]).");

static PyObject *mod_datafile_mem(PyObject *m, PyObject *args, PyObject *kw)
{
    (void)m;
    static char *kwlist[] = {"samples", "multiprocess", NULL};
    PyObject *samples;
    int multi = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|p:datafile_mem", kwlist, &samples, &multi)) {
        return NULL;
    }
    PyObject *seq = PySequence_Fast(samples, "samples must be a sequence");
    if (seq == NULL) {
        return NULL;
    }
    mp_buf_t b = {0};
    for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(seq); i++) {
        PyObject *kids = NULL;
        double bytes, t;
        if (!PyArg_ParseTuple(PySequence_Fast_GET_ITEM(seq, i), "ddO;a sample is (bytes, time, "
                              "children)", &bytes, &t, &kids)) {
            goto fail;
        }
        mp_datafile_add_mem(&b, bytes / MP_MIB, t);
        PyObject *kseq = multi ? PySequence_Fast(kids, "children must be a sequence") : NULL;
        if (multi && kseq == NULL) {
            goto fail;
        }
        for (Py_ssize_t j = 0; kseq != NULL && j < PySequence_Fast_GET_SIZE(kseq); j++) {
            long pid;
            double kb;
            if (!PyArg_ParseTuple(PySequence_Fast_GET_ITEM(kseq, j), "ld;a child is (pid, bytes)",
                                  &pid, &kb)) {
                Py_DECREF(kseq);
                goto fail;
            }
            mp_datafile_add_child(&b, pid, kb / MP_MIB, t);
        }
        Py_XDECREF(kseq);
    }
    Py_DECREF(seq);
    return mp_report_str(&b);
fail:
    Py_DECREF(seq);
    mp_buf_free(&b);
    return NULL;
}

static PyObject *mod_datafile_func(PyObject *m, PyObject *args)
{
    (void)m;
    PyObject *name;
    double mem0, t0, mem1, t1;
    int level;
    if (!PyArg_ParseTuple(args, "Uddddi:datafile_func", &name, &mem0, &t0, &mem1, &t1, &level)) {
        return NULL;
    }
    /* Any name is written: a lone surrogate (from an undecodable file name)
     * escaped, a NUL ends it. UTF-8 encoding, or "s", would fail on either,
     * and with it every FUNC record of the run. */
    PyObject *enc = PyUnicode_AsEncodedString(name, "utf-8", "backslashreplace");
    if (enc == NULL) {
        return NULL;
    }
    mp_buf_t b = {0};
    mp_datafile_add_func(&b, PyBytes_AS_STRING(enc), mem0, t0, mem1, t1, level);
    Py_DECREF(enc);
    return mp_report_str(&b);
}

/* Entries from Python take the engine lock (engine.h). */
MP_LOCKED_METH(L_mod_peak_rss, mod_peak_rss)
MP_LOCKED_METH(L_mod_sampling_period, mod_sampling_period)
MP_LOCKED_KW(L_mod_memory, mod_memory)
MP_LOCKED_METH(L_mod_backend_available, mod_backend_available)
MP_LOCKED_METH(L_mod_heap_start, mod_heap_start)
MP_LOCKED_METH(L_mod_heap_stop, mod_heap_stop)
MP_LOCKED_KW(L_mod_heap_peak, mod_heap_peak)
MP_LOCKED_METH(L_mod_native_thread, mod_native_thread)
MP_LOCKED_METH(L_mod_heap_active, mod_heap_active)
MP_LOCKED_METH(L_mod_heap_reinstalls, mod_heap_reinstalls)
MP_LOCKED_METH(L_mod_own_bytes, mod_own_bytes)
MP_LOCKED_METH(L_mod_tick_alive, mod_tick_alive)
MP_LOCKED_METH(L_mod_function_labels, mod_function_labels)
MP_LOCKED_METH(L_mod_native_slots, mod_native_slots)
MP_LOCKED_METH(L_mod_inject_failures, mod_inject_failures)
MP_LOCKED_METH(L_mp_guard_sigterm, mp_guard_sigterm)
MP_LOCKED_METH(L_mod_wall_time, mod_wall_time)
MP_LOCKED_KW(L_mp_show_results, mp_show_results)
MP_LOCKED_KW(L_mod_diff_reports, mod_diff_reports)
MP_LOCKED_METH(L_mod_parse_size, mod_parse_size)
MP_LOCKED_KW(L_mod_datafile_mem, mod_datafile_mem)
MP_LOCKED_METH(L_mod_datafile_func, mod_datafile_func)

static PyMethodDef module_methods[] = {
    {"peak_rss", L_mod_peak_rss, METH_NOARGS,
     "peak_rss()\n--\n\nThe highest RSS of this process in bytes (the kernel's VmHWM, and\n"
     "the highest one seen before the peak column reset it)."},
    {"sampling_period", L_mod_sampling_period, METH_VARARGS,
     "sampling_period([microseconds])\n--\n\nThe fast mode's read period; with an argument,\n"
     "set it. Returns the previous value."},
    {"memory", (PyCFunction)(void (*)(void))L_mod_memory, METH_VARARGS | METH_KEYWORDS, memory_doc},
    {"backend_available", L_mod_backend_available, METH_O,
     "backend_available(name)\n--\n\nWhether the named backend can be read here."},
    {"heap_start", L_mod_heap_start, METH_NOARGS,
     "Install the allocator hooks that count Python-heap bytes (idempotent)."},
    {"heap_stop", L_mod_heap_stop, METH_NOARGS, "Remove the allocator hooks."},
    {"native_thread", L_mod_native_thread, METH_NOARGS,
     "native_thread()\n--\n\nThis thread's native bytes (net, allocated) since it started; they\n"
     "move only while a profiler holds the native hooks."},
    {"heap_peak", (PyCFunction)(void (*)(void))L_mod_heap_peak, METH_VARARGS | METH_KEYWORDS,
     "heap_peak(reset=False)\n--\n\nThe highest net Python-heap bytes since heap_start() or the\n"
     "last reset (bytes; 0 while the hooks are off). reset=True starts a new peak from now."},
    {"heap_active", L_mod_heap_active, METH_NOARGS, "Whether the allocator hooks are installed."},
    {"heap_reinstalls", L_mod_heap_reinstalls, METH_NOARGS,
     "How many times a hook dropped from the allocator chain was installed again."},
    {"own_bytes", L_mod_own_bytes, METH_NOARGS,
     "Bytes of the profiler's own bookkeeping (left out of RSS readings)."},
    {"tick_alive", L_mod_tick_alive, METH_NOARGS, "Whether the tick thread exists."},
    {"function_labels", L_mod_function_labels, METH_O,
     "function_labels(names)\n--\n\nEach dotted name's shortest suffix that no other name\n"
     "shares (the reference's mprof.function_labels), in order."},
    {"native_slots", L_mod_native_slots, METH_NOARGS,
     "How many library call slots point at the native allocator hooks now."},
    {"_inject_failures", L_mod_inject_failures, METH_O,
     "Tests: the next n frame pushes fail as if memory ran out."},
    {"guard_sigterm", L_mp_guard_sigterm, METH_NOARGS,
     "guard_sigterm()\n--\n\nMake SIGTERM end the program within a second even when Python\n"
     "cannot run its handler (call after setting a Python-level handler)."},
    {"wall_time", L_mod_wall_time, METH_NOARGS, "time.time(), from C."},
    {"show_results", (PyCFunction)(void (*)(void))L_mp_show_results, METH_VARARGS | METH_KEYWORDS,
     mp_show_results_doc},
    {"diff_reports", (PyCFunction)(void (*)(void))L_mod_diff_reports, METH_VARARGS | METH_KEYWORDS,
     diff_doc},
    {"parse_size", L_mod_parse_size, METH_O,
     "parse_size(text)\n--\n\nBytes in a size such as '24 MB' (KB/MB/GB 1024-based, as\n"
     "pytest-memray reads them)."},
    {"datafile_mem", (PyCFunction)(void (*)(void))L_mod_datafile_mem, METH_VARARGS | METH_KEYWORDS,
     datafile_mem_doc},
    {"datafile_func", L_mod_datafile_func, METH_VARARGS,
     "datafile_func(name, mem0, t0, mem1, t1, level)\n--\n\nThe data file's FUNC line of one\n"
     "timed call (MiB, seconds)."},
    {NULL, NULL, 0, NULL},
};

static int module_exec(PyObject *m)
{
    if (mp_tracer_init(m) < 0 || mp_profiler_add_type(m) < 0 || mp_wrapper_add_type(m) < 0
        || mp_activator_add_type(m) < 0 || mp_sampler_add_type(m) < 0) {
        return -1;
    }
    if (PyModule_AddStringConstant(m, "__version__", MP_VERSION) < 0
        || PyModule_AddIntConstant(m, "USES_MONITORING", MP_USE_MONITORING) < 0) {
        return -1;
    }
    PyObject *mib = PyFloat_FromDouble(MP_MIB); /* bytes per MiB, for the Python layer */
    int rc = mib == NULL ? -1 : PyModule_AddObjectRef(m, "MIB", mib);
    Py_XDECREF(mib);
    return rc;
}

static PyModuleDef_Slot module_slots[] = {
    {Py_mod_exec, (void *)module_exec},
    MP_MOD_SLOT_INTERPRETERS
    MP_MOD_SLOT_GIL
    {0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT,
    .m_name = "memory_profiler._core",
    .m_doc = "The C core of memory_profiler: tracer, per-line tables, backends.",
    .m_size = 0,
    .m_methods = module_methods,
    .m_slots = module_slots,
};

/* Built with -fvisibility=hidden: only the init function is exported. */
__attribute__((visibility("default"))) PyMODINIT_FUNC PyInit__core(void)
{
    return PyModuleDef_Init(&module_def);
}
