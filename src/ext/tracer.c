/* The tracer's shared part: see tracer.h.
 *
 * State (GIL unless noted):
 *   table_heap_users, table_watch_users: what living tables need;
 *   thread_enters: this thread's profiled calls in progress (TLS);
 *   globals: tables enabled for every thread;
 *   the tick thread's demand: mp_tick_want (atomic, in mp_tick). */
#include "tracer.h"

#include "engine.h"
#include "heap.h"
#include "../core/mp_native.h"
#include "../core/mp_sampler.h"
#include "../core/mp_tick.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static int globals;
static _Thread_local int thread_enters __attribute__((tls_model("initial-exec")));

/* ------------------------------------------------------------ reading */

int mp_tracer_measure(int backend, int children, int64_t *bytes)
{
    if (backend == MP_BACKEND_HEAP) {
        *bytes = mp_heap_current();
        return 0;
    }
    if (mp_meter_read((mp_backend_t)backend, 0, children, bytes) < 0) {
        return -1;
    }
    /* The accounting maps are ours, not the program's. */
    *bytes -= (int64_t)mp_heap_own_bytes();
    return 0;
}

static int engine_read(int q, int64_t *v, int64_t *hwm)
{
    /* A read is due (at most every tick): hook libraries loaded since. */
    mp_native_refresh();
    if (q == MP_Q_FILE) {
        return mp_meter_self_file(v); /* the explain column's file-backed part */
    }
    int backend = q / 2, children = q % 2;
    if (hwm != NULL && backend == MP_BACKEND_RSS && !children) {
        int64_t rss, h;
        if (mp_meter_self_peak(&rss, &h, 1) < 0) {
            return -1;
        }
        int64_t own = (int64_t)mp_heap_own_bytes();
        *v = rss - own;
        *hwm = h - own;
        return 0;
    }
    return mp_tracer_measure(backend, children, v);
}

static int engine_cheap(int q)
{
    return q < MP_Q_FILE && q / 2 == MP_BACKEND_HEAP;
}

static int64_t engine_tls(int tq)
{
    switch (tq) {
    case MP_T_HEAP_NET:
        return mp_heap_thread(0);
    case MP_T_HEAP_ALLOC:
        return mp_heap_thread(1);
    case MP_T_NATIVE_NET:
        return mp_native_thread(0);
    case MP_T_NATIVE_ALLOC:
        return mp_native_thread(1);
    default:
        return 0;
    }
}

/* ------------------------------------------------------- watched codes */

static void code_first(const void *key)
{
    PyObject *code = (PyObject *)key;
    Py_INCREF(code); /* the registry holds it while watched */
    mp_source_watch(code);
}

static void code_last(const void *key)
{
    PyObject *code = (PyObject *)key;
    mp_source_unwatch(code);
    Py_DECREF(code);
}

/* --------------------------------------------------------------- uses */

/* Native hooks: held by every living table (the fast mode's trigger sees
 * native traffic; the native and explain columns count it). The
 * interpreter's own objects allocate Python's heap: only their dlopen is
 * hooked. MEMORY_PROFILER_NATIVE=0 leaves every library alone. */
/* Put back by the tick thread a second after the last user is gone (see
 * mp_native_reap), not at once: per-call profilers keep them. */
static void native_use(int delta)
{
    static const char *const python_objects[] = {"", "/libpython", NULL};
    static int off = -1;
    if (off < 0) {
        const char *env = getenv("MEMORY_PROFILER_NATIVE");
        off = env != NULL && strcmp(env, "0") == 0;
        mp_tick_set_idle_task(mp_native_reap);
    }
    if (off) {
        return;
    }
    if (delta > 0) {
        (void)mp_native_acquire(python_objects); /* ENOSYS: not this platform */
    } else {
        mp_native_release();
        /* No tick thread to do it (nothing profiled yet): do it now. */
        if (!mp_tick_alive()) {
            mp_native_reap();
        }
    }
}

int mp_tracer_hold(int delta)
{
    if (delta > 0) {
        if (mp_heap_watch_use(1) < 0) {
            return -1;
        }
        native_use(1);
        return 0;
    }
    native_use(-1);
    mp_heap_watch_use(-1);
    return 0;
}

int mp_tracer_table_use(int q, int cols, int delta)
{
    int heap = (q / 2 == MP_BACKEND_HEAP && q < MP_Q_FILE)
               || (cols & (MP_COL_HEAP | MP_COL_EXPLAIN));
    if (delta > 0) {
        if (mp_tracer_hold(1) < 0) {
            return -1;
        }
        if (heap && mp_heap_account_use(1) < 0) {
            mp_tracer_hold(-1);
            return -1;
        }
        return 0;
    }
    if (heap) {
        mp_heap_account_use(-1);
    }
    mp_tracer_hold(-1);
    return 0;
}

int mp_tracer_enter(void)
{
    if (thread_enters++ > 0) {
        return 0;
    }
    (void)mp_tick_want(1); /* a failure leaves the flag up: reads every time */
    if (mp_heap_check_chain() < 0 || mp_source_update(thread_enters, globals, 0) < 0) {
        thread_enters--;
        mp_tick_want(-1);
        return -1;
    }
    return 0;
}

void mp_tracer_leave(void)
{
    if (thread_enters <= 0) {
        return;
    }
    if (--thread_enters == 0) {
        mp_tick_want(-1);
        if (mp_source_update(0, globals, 0) < 0) {
            PyErr_WriteUnraisable(NULL);
        }
    }
}

int mp_tracer_global(int delta)
{
    globals += delta;
    if (globals < 0) {
        globals = 0;
        return 0;
    }
    if (delta > 0 && globals == 1) {
        (void)mp_tick_want(1);
        if (mp_heap_check_chain() < 0 || mp_source_update(thread_enters, globals, 1) < 0) {
            globals = 0;
            mp_tick_want(-1);
            return -1;
        }
    } else if (delta < 0 && globals == 0) {
        mp_tick_want(-1);
        if (mp_source_update(thread_enters, 0, 1) < 0) {
            PyErr_WriteUnraisable(NULL);
        }
    }
    return 0;
}

/* -------------------------------------------------------------- period */

int mp_tracer_set_period(long us)
{
    if (mp_tick_set_period(us) < 0) {
        PyErr_SetString(PyExc_ValueError,
                        "the period must be between 10 and 10,000,000 microseconds");
        return -1;
    }
    return 0;
}

long mp_tracer_period(void)
{
    return mp_tick_period_us();
}

/* ---------------------------------------------------------------- fork */

/* Called by os.fork() through os.register_at_fork: before forking (our
 * threads stop, so the process forks single-threaded as without us and
 * CPython has nothing to warn about), and after, in each process. */
static PyObject *fork_before(PyObject *m, PyObject *unused)
{
    (void)m;
    (void)unused;
    mp_engine_fork_before();
    mp_tick_fork_prepare();
    mp_sampler_fork_prepare();
    Py_RETURN_NONE;
}

static PyObject *fork_parent(PyObject *m, PyObject *unused)
{
    (void)m;
    (void)unused;
    mp_sampler_fork_parent();
    mp_tick_fork_parent();
    mp_engine_fork_parent();
    Py_RETURN_NONE;
}

static PyObject *fork_child(PyObject *m, PyObject *unused)
{
    (void)m;
    (void)unused;
    mp_engine_fork_child();
    mp_lines_after_fork_child();
    mp_sampler_fork_child();
    mp_tick_fork_child((thread_enters > 0 || globals > 0) ? 1 : 0);
    Py_RETURN_NONE;
}

static PyMethodDef fork_defs[] = {
    {"_fork_before", fork_before, METH_NOARGS, NULL},
    {"_fork_parent", fork_parent, METH_NOARGS, NULL},
    {"_fork_child", fork_child, METH_NOARGS, NULL},
};

static int register_fork_hooks(PyObject *module)
{
    PyObject *fns[3];
    for (int i = 0; i < 3; i++) {
        fns[i] = PyCFunction_NewEx(&fork_defs[i], NULL, NULL);
        if (fns[i] == NULL) {
            while (i-- > 0) {
                Py_DECREF(fns[i]);
            }
            return -1;
        }
    }
    (void)module;
    PyObject *os = PyImport_ImportModule("os");
    PyObject *reg = os ? PyObject_GetAttrString(os, "register_at_fork") : NULL;
    PyObject *kw = Py_BuildValue("{sOsOsO}", "before", fns[0], "after_in_parent", fns[1],
                                 "after_in_child", fns[2]);
    PyObject *noargs = PyTuple_New(0);
    PyObject *r = (reg && kw && noargs) ? PyObject_Call(reg, noargs, kw) : NULL;
    Py_XDECREF(r);
    Py_XDECREF(noargs);
    Py_XDECREF(kw);
    Py_XDECREF(reg);
    Py_XDECREF(os);
    for (int i = 0; i < 3; i++) {
        Py_DECREF(fns[i]);
    }
    return r == NULL ? -1 : 0;
}

/* ---------------------------------------------------------------- init */

int mp_tracer_init(PyObject *module)
{
    static int done;
    if (done) {
        return 0;
    }
    mp_lines_reader_t r = {engine_read, engine_cheap, engine_tls};
    mp_lines_set_reader(&r);
    mp_lines_set_code_hooks(code_first, code_last);
    if (register_fork_hooks(module) < 0 || mp_source_init(module) < 0) {
        return -1;
    }
    done = 1;
    return 0;
}
