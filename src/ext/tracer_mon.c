/* Event source for CPython 3.12+: sys.monitoring (PEP 669).
 *
 * The tool id is taken when the first code object is watched and kept for
 * the life of the process, with its callbacks and (before 3.15) its global
 * PY_UNWIND/PY_THROW events: each set_events moves CPython's event version,
 * which overflows ("events set too many times") after 2^23 changes, and then
 * no tool can use sys.monitoring in the process again. Local events are set
 * on a code object once, when it gets its first holder, and cleared when it
 * loses its last; nothing happens per call. Nothing here depends on event
 * numbers (3.14 renumbered them): they are looked up by name.
 *
 * Globals: the engine lock (engine.h). */
#include "tracer.h"

#include "engine.h"
#include "profiler.h"

#if MP_USE_MONITORING

#include <stdarg.h>
#include <stddef.h>

static int tool_id = -1;
static PyObject *monitoring;      /* owned: the sys.monitoring namespace */
static long ev_py_start, ev_py_resume, ev_py_return, ev_py_yield, ev_line_bit,
    ev_py_unwind, ev_py_throw;
static PyObject *callbacks[5];    /* owned: our C callbacks as Python objects */
/* PY_UNWIND and PY_THROW are local events where CPython accepts them (3.15;
 * found by trying, not by version), so exceptions in code we do not profile
 * cost nothing there. Before, they can only be global. */
static int local_unwind;
static PyObject *pending_error;   /* owned or NULL: for mp_source_take_error */

static void keep_error(void)
{
    if (pending_error == NULL) {
        PyObject *et, *ev, *tb;
        PyErr_Fetch(&et, &ev, &tb);
        PyErr_NormalizeException(&et, &ev, &tb);
        pending_error = ev ? ev : Py_NewRef(Py_None);
        Py_XDECREF(et);
        Py_XDECREF(tb);
    } else {
        PyErr_Clear();
    }
}

int mp_source_take_error(void)
{
    if (pending_error == NULL) {
        return 0;
    }
    PyObject *e = pending_error;
    pending_error = NULL;
    if (e == Py_None) {
        PyErr_SetString(PyExc_RuntimeError, "memory_profiler: sys.monitoring failed");
    } else {
        PyErr_SetObject((PyObject *)Py_TYPE(e), e);
    }
    Py_DECREF(e);
    return -1;
}

static int call_monitoring(const char *name, const char *fmt, ...)
{
    va_list va;
    va_start(va, fmt);
    PyObject *args = Py_VaBuildValue(fmt, va);
    va_end(va);
    if (args == NULL) {
        return -1;
    }
    PyObject *fn = PyObject_GetAttrString(monitoring, name);
    PyObject *r = fn ? PyObject_Call(fn, args, NULL) : NULL;
    Py_XDECREF(fn);
    Py_DECREF(args);
    if (r == NULL) {
        return -1;
    }
    Py_DECREF(r);
    return 0;
}

static inline int arg_int(PyObject *o)
{
    return mp_small_int(o);
}

/* ------------------------------------------------------------ callbacks */

static PyObject *cb_py_start(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)self;
    mp_code_t *c = nargs >= 1 ? mp_code_get(args[0]) : NULL;
    if (c != NULL) {
        void *act = mp_code_data(c);
        if (act != NULL) {
            mp_activator_event(act, 1);
            /* The decorator's profiler factory ran Python code, with the
             * engine lock let go: the registry may have changed. */
            c = mp_code_get(args[0]);
        }
        if (c != NULL) {
            mp_lines_start(c, NULL, mp_code_first_line(c));
        }
    }
    Py_RETURN_NONE;
}

static PyObject *cb_py_resume(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)self;
    mp_code_t *c = nargs >= 2 ? mp_code_get(args[0]) : NULL;
    if (c != NULL) {
        int line = PyCode_Addr2Line((PyCodeObject *)args[0], arg_int(args[1]));
        mp_lines_start(c, NULL, line > 0 ? line : mp_code_first_line(c));
        if (PyErr_Occurred()) {
            PyErr_Clear();
        }
    }
    Py_RETURN_NONE;
}

static void end_event(PyObject *const *args, Py_ssize_t nargs, int final)
{
    mp_code_t *c = nargs >= 1 ? mp_code_get(args[0]) : NULL;
    if (c != NULL) {
        void *act = mp_code_data(c);
        mp_lines_end(c, NULL, final);
        if (act != NULL) {
            /* A code copy that activates is never a generator: its end is
             * the end of the call (return or unwind). */
            mp_activator_event(act, 0);
        }
    }
}

static PyObject *cb_py_end(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)self;
    end_event(args, nargs, 1);
    Py_RETURN_NONE;
}

static PyObject *cb_py_yield(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)self;
    end_event(args, nargs, 0);
    Py_RETURN_NONE;
}

static PyObject *cb_line(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)self;
    mp_code_t *c = nargs >= 2 ? mp_code_get(args[0]) : NULL;
    if (c != NULL) {
        mp_lines_line(c, NULL, arg_int(args[1]));
    }
    Py_RETURN_NONE;
}

/* The callbacks are instances of a tiny callable type whose vectorcall slot
 * is the C function itself: sys.monitoring then calls straight into it,
 * without the builtin-function trampoline (measurable at ~1 ns per event). */
typedef PyObject *(*fastcb_t)(PyObject *, PyObject *const *, Py_ssize_t);

typedef struct {
    PyObject_HEAD
    vectorcallfunc vectorcall;
    fastcb_t fn;
} callback_t;

#define MP_DEFINE_VECTORCALL(name, fn)                                                    \
    static PyObject *name(PyObject *self, PyObject *const *args, size_t nargsf,         \
                          PyObject *kwnames)                                              \
    {                                                                                     \
        (void)kwnames;                                                                    \
        mp_engine_lock();                                                                 \
        PyObject *r_ = fn(self, args, PyVectorcall_NARGS(nargsf));                        \
        mp_profiler_flush();                                                              \
        mp_engine_unlock();                                                               \
        return r_;                                                                        \
    }

MP_DEFINE_VECTORCALL(vc_py_start, cb_py_start)
MP_DEFINE_VECTORCALL(vc_py_resume, cb_py_resume)
MP_DEFINE_VECTORCALL(vc_py_end, cb_py_end)
MP_DEFINE_VECTORCALL(vc_py_yield, cb_py_yield)
MP_DEFINE_VECTORCALL(vc_line, cb_line)

static PyObject *callback_call(PyObject *self, PyObject *args, PyObject *kw)
{
    (void)kw;
    callback_t *c = (callback_t *)self;
    mp_engine_lock();
    PyObject *r = c->fn(self, &PyTuple_GET_ITEM(args, 0), PyTuple_GET_SIZE(args));
    mp_profiler_flush();
    mp_engine_unlock();
    return r;
}

static void callback_dealloc(PyObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_Free(self);
    Py_DECREF(tp);
}

static PyMemberDef callback_members[] = {
    {"__vectorcalloffset__", Py_T_PYSSIZET, offsetof(callback_t, vectorcall), Py_READONLY, NULL},
    {NULL, 0, 0, 0, NULL},
};

static PyType_Slot callback_slots[] = {
    {Py_tp_call, (void *)callback_call},
    {Py_tp_dealloc, (void *)callback_dealloc},
    {Py_tp_members, (void *)callback_members},
    {0, NULL},
};

static PyType_Spec callback_spec = {
    .name = "memory_profiler._core._MonitoringCallback",
    .basicsize = sizeof(callback_t),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_VECTORCALL,
    .slots = callback_slots,
};

static PyObject *new_callback(PyTypeObject *tp, vectorcallfunc vc, fastcb_t fn)
{
    callback_t *c = PyObject_New(callback_t, tp);
    if (c != NULL) {
        c->vectorcall = vc;
        c->fn = fn;
    }
    return (PyObject *)c;
}

/* ------------------------------------------------------------- the tool */

static int lookup_events(void)
{
    PyObject *events = PyObject_GetAttrString(monitoring, "events");
    if (events == NULL) {
        return -1;
    }
    struct { const char *name; long *dst; } bits[] = {
        {"PY_START", &ev_py_start}, {"PY_RESUME", &ev_py_resume},
        {"PY_RETURN", &ev_py_return}, {"PY_YIELD", &ev_py_yield},
        {"LINE", &ev_line_bit}, {"PY_UNWIND", &ev_py_unwind},
        {"PY_THROW", &ev_py_throw},
    };
    for (size_t i = 0; i < sizeof(bits) / sizeof(bits[0]); i++) {
        PyObject *v = PyObject_GetAttrString(events, bits[i].name);
        if (v == NULL) {
            Py_DECREF(events);
            return -1;
        }
        *bits[i].dst = PyLong_AsLong(v);
        Py_DECREF(v);
    }
    Py_DECREF(events);
    return 0;
}

/* Tool ids to try: not 1 (coverage) nor 2 (cProfile) unless all else is taken. */
static const int tool_order[] = {3, 4, 5, 0, 2, 1};

/* Take a tool id and register the callbacks, once. */
static int ensure_tool(void)
{
    if (tool_id >= 0) {
        return 0;
    }
    int id = -1;
    for (size_t i = 0; i < sizeof(tool_order) / sizeof(tool_order[0]); i++) {
        if (call_monitoring("use_tool_id", "(is)", tool_order[i], "memory_profiler") == 0) {
            id = tool_order[i];
            break;
        }
        PyErr_Clear();
    }
    if (id < 0) {
        PyErr_SetString(PyExc_RuntimeError,
                        "memory_profiler: every sys.monitoring tool id is taken");
        return -1;
    }
    struct { long ev; int cb; } regs[] = {
        {ev_py_start, 0}, {ev_py_resume, 1}, {ev_py_return, 2}, {ev_py_yield, 4},
        {ev_py_unwind, 2}, {ev_py_throw, 1}, {ev_line_bit, 3},
    };
    for (size_t i = 0; i < sizeof(regs) / sizeof(regs[0]); i++) {
        if (call_monitoring("register_callback", "(ilO)", id, regs[i].ev,
                            callbacks[regs[i].cb]) < 0) {
            (void)call_monitoring("free_tool_id", "(i)", id);
            return -1;
        }
    }
    /* Unwinding and throw(): local where CPython takes them, else global
     * (cheap either way: they are rare). */
    local_unwind = 0;
    PyCodeObject *probe = PyCode_NewEmpty("<memory_profiler probe>", "probe", 0);
    if (probe == NULL) {
        return -1;
    }
    if (call_monitoring("set_local_events", "(iOl)", id, (PyObject *)probe,
                        ev_py_unwind | ev_py_throw) == 0) {
        local_unwind = 1;
        (void)call_monitoring("set_local_events", "(iOi)", id, (PyObject *)probe, 0);
    }
    PyErr_Clear();
    Py_DECREF(probe);
    if (!local_unwind
        && call_monitoring("set_events", "(il)", id, ev_py_unwind | ev_py_throw) < 0) {
        return -1;
    }
    tool_id = id;
    return 0;
}

static long code_events(void)
{
    long events = ev_py_start | ev_py_resume | ev_py_return | ev_py_yield | ev_line_bit;
    return local_unwind ? (events | ev_py_unwind | ev_py_throw) : events;
}

void mp_source_watch(PyObject *code)
{
    PyObject *et, *ev, *tb;
    PyErr_Fetch(&et, &ev, &tb);
    if (ensure_tool() < 0
        || call_monitoring("set_local_events", "(iOl)", tool_id, code, code_events()) < 0) {
        keep_error();
    }
    PyErr_Restore(et, ev, tb);
}

void mp_source_unwatch(PyObject *code)
{
    if (tool_id < 0) {
        return;
    }
    PyObject *et, *ev, *tb;
    PyErr_Fetch(&et, &ev, &tb);
    if (call_monitoring("set_local_events", "(iOi)", tool_id, code, 0) < 0) {
        PyErr_Clear(); /* e.g. at interpreter shutdown */
    }
    PyErr_Restore(et, ev, tb);
}

int mp_source_update(int thread_enters, int globals, int globals_changed)
{
    /* Events are set per code object, for good: nothing to do per call. */
    (void)thread_enters;
    (void)globals;
    (void)globals_changed;
    return 0;
}

int mp_source_activates_by_code(void)
{
    return 1;
}

int mp_source_init(PyObject *module)
{
    (void)module;
    if (monitoring != NULL) {
        return 0;
    }
    PyObject *sys = PyImport_ImportModule("sys");
    if (sys == NULL) {
        return -1;
    }
    monitoring = PyObject_GetAttrString(sys, "monitoring");
    Py_DECREF(sys);
    if (monitoring == NULL || lookup_events() < 0) {
        return -1;
    }
    PyTypeObject *tp = (PyTypeObject *)PyType_FromSpec(&callback_spec);
    if (tp == NULL) {
        return -1;
    }
    callbacks[0] = new_callback(tp, vc_py_start, cb_py_start);
    callbacks[1] = new_callback(tp, vc_py_resume, cb_py_resume);
    callbacks[2] = new_callback(tp, vc_py_end, cb_py_end);
    callbacks[3] = new_callback(tp, vc_line, cb_line);
    callbacks[4] = new_callback(tp, vc_py_yield, cb_py_yield);
    Py_DECREF(tp); /* each instance holds a reference */
    for (int i = 0; i < 5; i++) {
        if (callbacks[i] == NULL) {
            return -1;
        }
    }
    return 0;
}

#endif
