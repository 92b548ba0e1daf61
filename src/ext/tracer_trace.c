/* Event source up to CPython 3.11: a C trace function (PyEval_SetTrace).
 *
 * Where it is installed:
 *  - in a thread with a profiled call in progress (the wrapper enters):
 *    installed by that thread itself, on its own state, at its outermost
 *    call, removed when that call ends;
 *  - in every thread while a profiler is enabled for all threads (enable(),
 *    `with prof:`): the other threads' states are set without making them
 *    current (3.9+: CPython's _PyEval_SetTrace on their state, which audits
 *    in ours; 3.8: their fields, see set_other), so no Python code (an audit
 *    hook, say) ever runs while another thread's state is current; new
 *    threads install it through threading.settrace.
 * It chains to the trace function it found (coverage, a debugger) and puts
 * it back when removed; it is never removed where someone replaced it.
 *
 * For frames of code nobody profiles, line events are muted (f_trace_lines)
 * when nobody else traces; if a debugger then takes over the thread
 * (sys.settrace, seen through an audit hook), the frames on its stack are
 * unmuted first, so stepping works as without us.
 *
 * Globals: GIL. */
#include "tracer.h"

#include "profiler.h"

#if !MP_USE_MONITORING

#include <string.h>

typedef struct {
    PyObject_HEAD
    Py_tracefunc saved_func;
    PyObject *saved_obj;   /* owned or NULL */
    PyObject *user_hook;   /* owned or NULL: threading's previous trace hook */
    int bootstrap;         /* given to threading.settrace for new threads */
    int enters;            /* profiled calls in progress in its thread */
} handle_t;

static PyTypeObject *handle_type;  /* owned */
static PyObject *prev_thread_hook; /* owned or NULL: threading._trace_hook before us */
static PyObject *our_thread_hook;  /* owned or NULL: the bootstrap handle we set */
/* Set while this thread makes our own settrace calls (not a takeover). */
static _Thread_local int installing;
static int audit_hook_added;
static PyObject *pending_error;    /* owned or NULL */

static int trace_func(PyObject *obj, PyFrameObject *frame, int what, PyObject *arg);

/* Our settrace calls, one at a time: CPython 3.11 refuses a second one
 * while another is running ("Cannot install a trace function while another
 * trace function is being installed"), which happens when an audit hook in
 * the first releases the GIL. Waiting for it releases the GIL too. */
static PyThread_type_lock settrace_lock;

static void settrace_begin(void)
{
    if (!PyThread_acquire_lock(settrace_lock, NOWAIT_LOCK)) {
        Py_BEGIN_ALLOW_THREADS
        PyThread_acquire_lock(settrace_lock, WAIT_LOCK);
        Py_END_ALLOW_THREADS
    }
    installing++;
}

static void settrace_end(void)
{
    installing--;
    PyThread_release_lock(settrace_lock);
}

int mp_source_take_error(void)
{
    if (pending_error == NULL) {
        return 0;
    }
    PyErr_SetObject((PyObject *)Py_TYPE(pending_error), pending_error);
    Py_CLEAR(pending_error);
    return -1;
}

void mp_source_watch(PyObject *code)
{
    (void)code; /* every frame's events come here: nothing per code */
}

void mp_source_unwatch(PyObject *code)
{
    (void)code;
}

int mp_source_activates_by_code(void)
{
    return 0;
}

/* ----------------------------------------------------------- the hook */

static int trace_func(PyObject *obj, PyFrameObject *frame, int what, PyObject *arg)
{
    handle_t *h = (handle_t *)obj;
    int rc = 0;
    if (h->saved_func != NULL) {
        rc = h->saved_func(h->saved_obj, frame, what, arg);
    }
    if (what > PyTrace_RETURN && what != PyTrace_LINE) {
        return rc; /* exception, C calls, opcodes */
    }
    PyCodeObject *code = MP_FRAME_CODE_BORROWED(frame);
    mp_code_t *c = mp_code_get(code);
    if (c == NULL) {
        if (what == PyTrace_CALL && h->saved_func == NULL) {
            MP_FRAME_MUTE_LINES(frame);
        }
        return rc;
    }
    switch (what) {
    case PyTrace_CALL:
        mp_lines_start(c, frame, PyFrame_GetLineNumber(frame));
        break;
    case PyTrace_LINE:
        mp_lines_line(c, frame, PyFrame_GetLineNumber(frame));
        break;
    case PyTrace_RETURN:
        /* A generator's return event is also its yield: not final. */
        mp_lines_end(c, frame, !(((PyCodeObject *)code)->co_flags & MP_CO_SUSPENDS));
        break;
    default:
        break;
    }
    mp_profiler_flush();
    return rc;
}

static handle_t *new_handle(Py_tracefunc saved_func, PyObject *saved_obj)
{
    handle_t *h = PyObject_New(handle_t, handle_type);
    if (h != NULL) {
        h->saved_func = saved_func;
        h->saved_obj = saved_obj;
        Py_XINCREF(saved_obj);
        h->user_hook = NULL;
        h->bootstrap = 0;
        h->enters = 0;
    }
    return h;
}

/* ------------------------------------------------- this thread's state */

static int install_here(void)
{
    PyThreadState *ts = PyThreadState_Get();
    if (MP_TSTATE_TRACEFUNC(ts) == trace_func) {
        return 0;
    }
    handle_t *h = new_handle(MP_TSTATE_TRACEFUNC(ts), MP_TSTATE_TRACEOBJ(ts));
    if (h == NULL) {
        return -1;
    }
    settrace_begin();
    PyEval_SetTrace(trace_func, (PyObject *)h);
    settrace_end();
    Py_DECREF(h);
    return 0;
}

static void uninstall_here(void)
{
    PyThreadState *ts = PyThreadState_Get();
    if (MP_TSTATE_TRACEFUNC(ts) != trace_func) {
        return; /* replaced by someone (a debugger): theirs now */
    }
    handle_t *h = (handle_t *)MP_TSTATE_TRACEOBJ(ts);
    Py_INCREF(h);
    settrace_begin();
    if (MP_TSTATE_TRACEFUNC(ts) == trace_func) { /* still ours after the wait */
        PyEval_SetTrace(h->saved_func, h->saved_obj);
    }
    settrace_end();
    Py_DECREF(h);
}

/* ------------------------------------------------ other threads' states */

#if PY_VERSION_HEX >= 0x03090000
/* CPython's own setter for another thread's state (what 3.12's
 * PyEval_SetTraceAllThreads uses): it audits in the current thread. */
static int set_other(PyThreadState *ts, Py_tracefunc func, PyObject *obj)
{
    settrace_begin();
    int rc = _PyEval_SetTrace(ts, func, obj);
    settrace_end();
    return rc;
}
static int is_keeper(const PyThreadState *ts)
{
    (void)ts;
    return 0;
}
#else
/* 3.8 has no such setter: set the fields PyEval_SetTrace sets. Line events
 * also need the runtime's "tracing possible" count above zero, which only
 * PyEval_SetTrace moves: a spare thread state of ours, never run by anyone
 * else, holds one trace function while others are traced this way. */
static PyThreadState *keeper;

static int set_other(PyThreadState *ts, Py_tracefunc func, PyObject *obj)
{
    PyObject *old = ts->c_traceobj;
    Py_XINCREF(obj);
    ts->c_tracefunc = func;
    ts->c_traceobj = obj;
    ts->use_tracing = (func != NULL) || (ts->c_profilefunc != NULL);
    Py_XDECREF(old);
    return 0;
}

static int keep_tracing_possible(int on)
{
    PyThreadState *me = PyThreadState_Get();
    if (keeper == NULL) {
        if (!on) {
            return 0;
        }
        keeper = PyThreadState_New(me->interp);
        if (keeper == NULL) {
            PyErr_NoMemory();
            return -1;
        }
    }
    int has = keeper->c_tracefunc != NULL;
    if (has == on) {
        return 0;
    }
    handle_t *h = on ? new_handle(NULL, NULL) : NULL;
    if (on && h == NULL) {
        return -1;
    }
    settrace_begin();
    PyThreadState_Swap(keeper);  /* only this OS thread ever runs it */
    PyEval_SetTrace(on ? trace_func : NULL, (PyObject *)h);
    PyThreadState_Swap(me);
    settrace_end();
    Py_XDECREF(h);
    return 0;
}

static int is_keeper(const PyThreadState *ts)
{
    return ts == keeper;
}
#endif

static PyInterpreterState *interp_of(PyThreadState *ts)
{
#if PY_VERSION_HEX >= 0x03090000
    return PyThreadState_GetInterpreter(ts);
#else
    return ts->interp;
#endif
}

static int install_others(void)
{
    PyThreadState *me = PyThreadState_Get();
#if PY_VERSION_HEX < 0x03090000
    if (keep_tracing_possible(1) < 0) {
        return -1;
    }
#else
    /* One audit event for the whole change, in our own thread. */
    installing++;
    int audit = PySys_Audit("sys.settrace", NULL);
    installing--;
    if (audit < 0) {
        return -1;
    }
#endif
    for (PyThreadState *ts = PyInterpreterState_ThreadHead(interp_of(me)); ts != NULL;
         ts = PyThreadState_Next(ts)) {
        if (ts == me || MP_TSTATE_TRACEFUNC(ts) == trace_func || is_keeper(ts)) {
            continue;
        }
        handle_t *h = new_handle(MP_TSTATE_TRACEFUNC(ts), MP_TSTATE_TRACEOBJ(ts));
        if (h == NULL) {
            return -1;
        }
        int rc = set_other(ts, trace_func, (PyObject *)h);
        Py_DECREF(h);
        if (rc < 0) {
            return -1;
        }
    }
    return 0;
}

static void uninstall_others(void)
{
    PyThreadState *me = PyThreadState_Get();
    for (PyThreadState *ts = PyInterpreterState_ThreadHead(interp_of(me)); ts != NULL;
         ts = PyThreadState_Next(ts)) {
        if (ts == me || MP_TSTATE_TRACEFUNC(ts) != trace_func || is_keeper(ts)) {
            continue;
        }
        handle_t *h = (handle_t *)MP_TSTATE_TRACEOBJ(ts);
        /* A thread with a profiled call of its own keeps its tracer; it
         * removes it itself when that call ends. */
        if (h->enters > 0) {
            continue;
        }
        Py_INCREF(h);
        if (set_other(ts, h->saved_func, h->saved_obj) < 0) {
            PyErr_Clear();
        }
        Py_DECREF(h);
    }
#if PY_VERSION_HEX < 0x03090000
    if (keep_tracing_possible(0) < 0) {
        PyErr_Clear();
    }
#endif
}

/* ------------------------------------------------ threads started later */

static int set_thread_hook(PyObject *hook)
{
    PyObject *threading = PyImport_ImportModule("threading");
    if (threading == NULL) {
        return -1;
    }
    PyObject *r = PyObject_CallMethod(threading, "settrace", "O", hook);
    Py_DECREF(threading);
    if (r == NULL) {
        return -1;
    }
    Py_DECREF(r);
    return 0;
}

static int set_bootstrap(void)
{
    PyObject *threading = PyImport_ImportModule("threading");
    if (threading == NULL) {
        return -1;
    }
    PyObject *prev = PyObject_GetAttrString(threading, "_trace_hook");
    Py_DECREF(threading);
    if (prev == NULL) {
        PyErr_Clear();
        prev = Py_NewRef(Py_None);
    }
    handle_t *boot = new_handle(NULL, NULL);
    if (boot == NULL) {
        Py_DECREF(prev);
        return -1;
    }
    boot->bootstrap = 1;
    boot->user_hook = (prev != Py_None) ? Py_NewRef(prev) : NULL;
    if (set_thread_hook((PyObject *)boot) < 0) {
        Py_DECREF(prev);
        Py_DECREF(boot);
        return -1;
    }
    Py_XSETREF(prev_thread_hook, prev);
    Py_XSETREF(our_thread_hook, (PyObject *)boot);
    return 0;
}

/* Put threading's hook back, unless the program set its own meanwhile:
 * then theirs stays. */
static void clear_bootstrap(void)
{
    if (our_thread_hook == NULL) {
        return;
    }
    PyObject *threading = PyImport_ImportModule("threading");
    PyObject *cur = threading ? PyObject_GetAttrString(threading, "_trace_hook") : NULL;
    Py_XDECREF(threading);
    if (cur == NULL) {
        PyErr_Clear();
    } else if (cur == our_thread_hook) {
        if (set_thread_hook(prev_thread_hook ? prev_thread_hook : Py_None) < 0) {
            PyErr_WriteUnraisable(NULL);
        }
    }
    Py_XDECREF(cur);
    Py_CLEAR(our_thread_hook);
    Py_CLEAR(prev_thread_hook);
}

/* Called as a Python trace function: either threading's hook in a new
 * thread (bootstrap), or someone did sys.settrace(sys.gettrace()) with our
 * handle: chain to what we had and put the C tracer back on top. */
static PyObject *handle_call(PyObject *self, PyObject *args, PyObject *kw)
{
    handle_t *h = (handle_t *)self;
    (void)args;
    (void)kw;
    settrace_begin();
    if (h->bootstrap) {
        if (h->user_hook != NULL) {
            PyObject *sys = PyImport_ImportModule("sys");
            PyObject *r = sys ? PyObject_CallMethod(sys, "settrace", "O", h->user_hook) : NULL;
            Py_XDECREF(sys);
            if (r == NULL) {
                settrace_end();
                return NULL;
            }
            Py_DECREF(r);
        } else {
            PyEval_SetTrace(NULL, NULL);
        }
    } else {
        PyEval_SetTrace(h->saved_func, h->saved_obj);
    }
    settrace_end();
    if (install_here() < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

static void handle_dealloc(PyObject *self)
{
    handle_t *h = (handle_t *)self;
    PyTypeObject *tp = Py_TYPE(self);
    Py_CLEAR(h->saved_obj);
    Py_CLEAR(h->user_hook);
    PyObject_Free(self);
    Py_DECREF(tp);
}

static PyType_Slot handle_slots[] = {
    {Py_tp_call, (void *)handle_call},
    {Py_tp_dealloc, (void *)handle_dealloc},
    {Py_tp_doc, (void *)"memory_profiler trace handle (internal)"},
    {0, NULL},
};

static PyType_Spec handle_spec = {
    .name = "memory_profiler._core._TraceHandle",
    .basicsize = sizeof(handle_t),
    .flags = Py_TPFLAGS_DEFAULT,
    .slots = handle_slots,
};

/* ------------------------------------------------- a debugger takes over */

static void unmute_stack(void)
{
    PyFrameObject *f = PyEval_GetFrame(); /* borrowed */
    Py_XINCREF(f);
    while (f != NULL) {
        MP_FRAME_UNMUTE_LINES(f);
        PyFrameObject *back = MP_FRAME_BACK(f);
        Py_DECREF(f);
        f = back;
    }
}

static int audit_hook(const char *event, PyObject *args, void *data)
{
    (void)args;
    (void)data;
    if (installing == 0 && strcmp(event, "sys.settrace") == 0) {
        PyThreadState *ts = PyThreadState_Get();
        if (MP_TSTATE_TRACEFUNC(ts) == trace_func) {
            unmute_stack();
        }
    }
    return 0;
}

/* --------------------------------------------------------------- update */

static int thread_globals; /* whether the others and new threads have it */

int mp_source_update(int thread_enters, int globals, int globals_changed)
{
    if (!audit_hook_added) {
        audit_hook_added = 1;
        if (PySys_AddAuditHook(audit_hook, NULL) < 0) {
            PyErr_Clear(); /* another hook refused it: stepping may skip lines */
        }
    }
    if (thread_enters > 0 || globals > 0) {
        if (install_here() < 0) {
            return -1;
        }
    } else {
        uninstall_here();
    }
    PyThreadState *me = PyThreadState_Get();
    if (MP_TSTATE_TRACEFUNC(me) == trace_func) {
        ((handle_t *)MP_TSTATE_TRACEOBJ(me))->enters = thread_enters;
    }
    if (globals_changed) {
        if (globals > 0 && !thread_globals) {
            if (install_others() < 0 || set_bootstrap() < 0) {
                return -1;
            }
            thread_globals = 1;
        } else if (globals == 0 && thread_globals) {
            thread_globals = 0;
            uninstall_others();
            clear_bootstrap();
        }
    }
    return 0;
}

int mp_source_init(PyObject *module)
{
    (void)module;
    if (handle_type == NULL) {
        handle_type = (PyTypeObject *)PyType_FromSpec(&handle_spec);
        if (handle_type == NULL) {
            return -1;
        }
    }
    if (settrace_lock == NULL && (settrace_lock = PyThread_allocate_lock()) == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    return 0;
}

#endif
