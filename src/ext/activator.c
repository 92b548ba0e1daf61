/* Activators: what turns a profiler on for one profiled call, in the
 * calling thread only.
 *
 * A profiled function (what @profile and LineProfiler.__call__ return) has
 * an activator: either one profiler to activate for each call (prof), or a
 * factory making a fresh profiler for each outermost call in a thread and a
 * report function to call when that call ends (the @profile decorator).
 *
 * From 3.12 the profiled function is a copy of the function with its own
 * copy of the code object, and the activator is attached to that code copy:
 * the copy's PY_START event activates, its PY_RETURN or PY_UNWIND ends. The
 * program then has no wrapper frame at all: tracebacks, warnings'
 * stacklevel, debuggers and deep recursion see exactly its own frames. Up to
 * 3.11 the C wrapper ProfiledFunction (wrapper.c) calls the same enter and
 * leave around the call; it adds no Python frame either.
 *
 * Globals: GIL. */
#include "activator.h"

#include "engine.h"

#include "profiler.h"
#include "tracer.h"

#include <stdlib.h>

typedef struct {
    PyObject_HEAD
    PyObject *prof;     /* owned or NULL: the profiler activated per call */
    PyObject *factory;  /* owned or NULL: () -> a profiler per outermost call */
    PyObject *report;   /* owned or NULL: (profiler) -> None after that call */
    PyObject *pinned;   /* owned list: code objects held in the registry */
    PyObject *copy;     /* owned or NULL: the code copy we are attached to */
    int held;           /* mp_tracer_hold taken */
} activator_t;

static PyTypeObject *activator_type; /* owned */

/* Per thread: the factory-made profiler of each activator with a call in
 * progress here, and how deep. */
typedef struct {
    activator_t *act;   /* borrowed: alive while its call runs */
    int depth;
    PyObject *prof;     /* owned or NULL (the factory failed) */
} call_t;

static _Thread_local call_t *calls;
static _Thread_local int ncalls, calls_cap;

static call_t *call_of(activator_t *a, int make)
{
    for (int i = 0; i < ncalls; i++) {
        if (calls[i].act == a) {
            return &calls[i];
        }
    }
    if (!make) {
        return NULL;
    }
    if (ncalls == calls_cap) {
        int ncap = calls_cap ? calls_cap * 2 : 4;
        call_t *nc = realloc(calls, (size_t)ncap * sizeof(call_t));
        if (nc == NULL) {
            return NULL;
        }
        calls = nc;
        calls_cap = ncap;
    }
    call_t *c = &calls[ncalls++];
    c->act = a;
    c->depth = 0;
    c->prof = NULL;
    return c;
}

/* Enter: 0, or -1 with an exception set (the call should not run profiled;
 * the wrapper raises it, the event source reports it as unraisable). */
int mp_activator_enter(PyObject *self)
{
    activator_t *a = (activator_t *)self;
    if (a->prof != NULL) {
        return mp_profiler_enter(a->prof);
    }
    if (a->factory == NULL) {
        return 0;
    }
    call_t *c = call_of(a, 1);
    if (c == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    if (c->depth++ > 0) {
        return 0;
    }
    PyObject *noargs = PyTuple_New(0);
    PyObject *prof = noargs ? mp_engine_call(a->factory, noargs, NULL) : NULL;
    Py_XDECREF(noargs);
    if (prof == NULL) {
        return -1;
    }
    if (!mp_profiler_check(prof)) {
        Py_DECREF(prof);
        PyErr_SetString(PyExc_TypeError, "the profile factory must return a LineProfiler");
        return -1;
    }
    if (mp_profiler_enter(prof) < 0) {
        Py_DECREF(prof);
        return -1;
    }
    /* The factory ran Python code, which may have entered other profiled
     * calls here and moved this thread's call list. */
    c = call_of(a, 0);
    if (c == NULL) {
        mp_profiler_leave(prof);
        Py_DECREF(prof);
        return 0;
    }
    c->prof = prof;
    return 0;
}

/* Leave: never raises; an error of the report is shown as unraisable (the
 * call's own result or exception is what the caller gets). */
void mp_activator_leave(PyObject *self)
{
    activator_t *a = (activator_t *)self;
    if (a->prof != NULL) {
        mp_profiler_leave(a->prof);
        return;
    }
    call_t *c = call_of(a, 0);
    if (c == NULL || --c->depth > 0) {
        return;
    }
    PyObject *prof = c->prof;
    *c = calls[--ncalls];
    if (prof == NULL) {
        return;
    }
    mp_profiler_leave(prof);
    if (a->report != NULL) {
        PyObject *et, *ev, *tb;
        PyErr_Fetch(&et, &ev, &tb);
        PyObject *report = Py_NewRef(a->report); /* a may be cleared meanwhile */
        PyObject *r = mp_engine_call_one(report, prof);
        if (r == NULL) {
            PyErr_WriteUnraisable(report);
        }
        Py_XDECREF(r);
        Py_DECREF(report);
        PyErr_Restore(et, ev, tb);
    }
    Py_DECREF(prof);
}

/* From the event source (3.12+), inside a sys.monitoring callback: keep the
 * exception in flight (PY_UNWIND) and never let one out. */
void mp_activator_event(void *data, int enter)
{
    PyObject *self = data;
    PyObject *et, *ev, *tb;
    PyErr_Fetch(&et, &ev, &tb);
    if (enter) {
        if (mp_activator_enter(self) < 0) {
            PyErr_WriteUnraisable(self);
        }
    } else {
        mp_activator_leave(self);
    }
    PyErr_Restore(et, ev, tb);
}

/* ---------------------------------------------------------------- pins */

static int first_line_of(PyObject *code)
{
    PyObject *fl = PyObject_GetAttrString(code, "co_firstlineno");
    if (fl == NULL) {
        return -1;
    }
    long v = PyLong_AsLong(fl);
    Py_DECREF(fl);
    return (int)v;
}

/* Hold code and the code objects nested in it in the registry (their events
 * stay on between calls: set once, not per call). */
static int pin_tree(activator_t *a, PyObject *code, int depth)
{
    if (depth > 100) {
        return 0;
    }
    int first = first_line_of(code);
    if (first < 0 && PyErr_Occurred()) {
        return -1;
    }
    if (PyList_Append(a->pinned, code) < 0) {
        return -1;
    }
    if (mp_code_pin(code, first, 1) < 0) {
        (void)PySequence_DelItem(a->pinned, PyList_GET_SIZE(a->pinned) - 1);
        PyErr_NoMemory();
        return -1;
    }
    if (mp_source_take_error() < 0) {
        return -1;
    }
    PyObject *consts = PyObject_GetAttrString(code, "co_consts");
    if (consts == NULL) {
        return -1;
    }
    int rc = 0;
    for (Py_ssize_t i = 0; rc == 0 && PyTuple_Check(consts) && i < PyTuple_GET_SIZE(consts); i++) {
        PyObject *c = PyTuple_GET_ITEM(consts, i);
        if (PyCode_Check(c)) {
            rc = pin_tree(a, c, depth + 1);
        }
    }
    Py_DECREF(consts);
    return rc;
}

static void unpin_all(activator_t *a)
{
    if (a->pinned == NULL) {
        return;
    }
    PyObject *codes = a->pinned;
    a->pinned = PyList_New(0);
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(codes); i++) {
        (void)mp_code_pin(PyList_GET_ITEM(codes, i), 0, -1);
    }
    Py_DECREF(codes);
}

/* --------------------------------------------------------------- type */

static int activator_init(PyObject *self, PyObject *args, PyObject *kw)
{
    activator_t *a = (activator_t *)self;
    static char *kwlist[] = {"prof", "factory", "report", NULL};
    PyObject *prof = Py_None, *factory = Py_None, *report = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|OOO:Activator", kwlist, &prof, &factory,
                                     &report)) {
        return -1;
    }
    if (prof != Py_None && !mp_profiler_check(prof)) {
        PyErr_SetString(PyExc_TypeError, "Activator: prof must be a LineProfiler");
        return -1;
    }
    if ((factory != Py_None && !PyCallable_Check(factory))
        || (report != Py_None && !PyCallable_Check(report))) {
        PyErr_SetString(PyExc_TypeError, "Activator: factory and report must be callable");
        return -1;
    }
    Py_XSETREF(a->prof, prof != Py_None ? Py_NewRef(prof) : NULL);
    Py_XSETREF(a->factory, factory != Py_None ? Py_NewRef(factory) : NULL);
    Py_XSETREF(a->report, report != Py_None ? Py_NewRef(report) : NULL);
    if (a->pinned == NULL && (a->pinned = PyList_New(0)) == NULL) {
        return -1;
    }
    if (!a->held) {
        if (mp_tracer_hold(1) < 0) {
            return -1;
        }
        a->held = 1;
    }
    return 0;
}

PyDoc_STRVAR(pin_doc,
"pin(code)\n--\n\nKeep code and the code objects nested in it watched while this\n"
"activator lives (their events are set once, not per call).");

static PyObject *activator_pin(PyObject *self, PyObject *code)
{
    activator_t *a = (activator_t *)self;
    if (!PyCode_Check(code)) {
        PyErr_SetString(PyExc_TypeError, "pin() needs a code object");
        return NULL;
    }
    if (a->pinned == NULL && (a->pinned = PyList_New(0)) == NULL) {
        return NULL;
    }
    if (pin_tree(a, code, 0) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

PyDoc_STRVAR(attach_doc,
"attach(copy)\n--\n\nActivate on the start of every frame of copy (a profiled\n"
"function's own code object): 3.12+ only.");

static PyObject *activator_attach(PyObject *self, PyObject *copy)
{
    activator_t *a = (activator_t *)self;
    if (!PyCode_Check(copy)) {
        PyErr_SetString(PyExc_TypeError, "attach() needs a code object");
        return NULL;
    }
    if (!mp_source_activates_by_code()) {
        PyErr_SetString(PyExc_RuntimeError, "attach() needs sys.monitoring (3.12+)");
        return NULL;
    }
    if (a->copy != NULL) {
        PyErr_SetString(PyExc_RuntimeError, "already attached");
        return NULL;
    }
    if (activator_pin(self, copy) == NULL) {
        return NULL;
    }
    Py_DECREF(Py_None);
    mp_code_t *c = mp_code_get(copy);
    if (c == NULL || mp_code_data(c) != NULL) {
        PyErr_SetString(PyExc_RuntimeError, "attach(): this code object activates already");
        return NULL;
    }
    mp_code_set_data(c, a); /* the copy holds a reference to us: a->copy */
    a->copy = Py_NewRef(copy);
    Py_INCREF(a);           /* the registry's, dropped by detach */
    Py_RETURN_NONE;
}

PyDoc_STRVAR(detach_doc,
"detach()\n--\n\nStop activating and release every pinned code object (called when\n"
"the profiled function is gone).");

static PyObject *activator_detach(PyObject *self, PyObject *unused)
{
    (void)unused;
    activator_t *a = (activator_t *)self;
    Py_INCREF(self); /* the registry's reference may be the last */
    if (a->copy != NULL) {
        mp_code_t *c = mp_code_get(a->copy);
        if (c != NULL && mp_code_data(c) == a) {
            mp_code_set_data(c, NULL);
        }
        Py_CLEAR(a->copy);
        Py_DECREF(self);
    }
    unpin_all(a);
    Py_DECREF(self);
    Py_RETURN_NONE;
}

static PyObject *activator_enter_m(PyObject *self, PyObject *unused)
{
    (void)unused;
    if (mp_activator_enter(self) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *activator_exit_m(PyObject *self, PyObject *args)
{
    (void)args;
    mp_activator_leave(self);
    Py_RETURN_FALSE;
}

static int activator_traverse(PyObject *self, visitproc visit, void *arg)
{
    activator_t *a = (activator_t *)self;
#if PY_VERSION_HEX >= 0x03090000
    Py_VISIT(Py_TYPE(self));
#endif
    Py_VISIT(a->prof);
    Py_VISIT(a->factory);
    Py_VISIT(a->report);
    Py_VISIT(a->pinned);
    Py_VISIT(a->copy);
    return 0;
}

static int activator_clear(PyObject *self)
{
    activator_t *a = (activator_t *)self;
    Py_CLEAR(a->prof);
    Py_CLEAR(a->factory);
    Py_CLEAR(a->report);
    Py_CLEAR(a->copy);
    return 0;
}

static void activator_dealloc(PyObject *self)
{
    activator_t *a = (activator_t *)self;
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    unpin_all(a);
    Py_CLEAR(a->pinned);
    if (a->held) {
        a->held = 0;
        mp_tracer_hold(-1);
    }
    (void)activator_clear(self);
    tp->tp_free(self);
    Py_DECREF(tp);
}

/* Entries from Python take the engine lock (engine.h). */
MP_LOCKED_METH(L_activator_pin, activator_pin)
MP_LOCKED_METH(L_activator_attach, activator_attach)
MP_LOCKED_METH(L_activator_detach, activator_detach)
MP_LOCKED_METH(L_activator_enter_m, activator_enter_m)
MP_LOCKED_METH(L_activator_exit_m, activator_exit_m)
MP_LOCKED_INIT(L_activator_init, activator_init)
MP_LOCKED_VOID(L_activator_dealloc, activator_dealloc)
MP_LOCKED_INQUIRY(L_activator_clear, activator_clear)

static PyMethodDef activator_methods[] = {
    {"pin", L_activator_pin, METH_O, pin_doc},
    {"attach", L_activator_attach, METH_O, attach_doc},
    {"detach", L_activator_detach, METH_NOARGS, detach_doc},
    {"__enter__", L_activator_enter_m, METH_NOARGS, "Begin a profiled call in this thread."},
    {"__exit__", L_activator_exit_m, METH_VARARGS, "End it (reports, for the decorator)."},
    {NULL, NULL, 0, NULL},
};

static PyType_Slot activator_slots[] = {
    {Py_tp_init, (void *)L_activator_init},
    {Py_tp_new, (void *)PyType_GenericNew},
    {Py_tp_dealloc, (void *)L_activator_dealloc},
    {Py_tp_traverse, (void *)activator_traverse},
    {Py_tp_clear, (void *)L_activator_clear},
    {Py_tp_methods, (void *)activator_methods},
    {Py_tp_doc, (void *)"Activator(prof=None, factory=None, report=None)\n--\n\n"
                        "Turns a profiler on for the calls of one profiled function."},
    {0, NULL},
};

static PyType_Spec activator_spec = {
    .name = "memory_profiler._core.Activator",
    .basicsize = sizeof(activator_t),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .slots = activator_slots,
};

int mp_activator_check(PyObject *obj)
{
    return activator_type != NULL && PyObject_TypeCheck(obj, activator_type);
}

int mp_activator_add_type(PyObject *module)
{
    activator_type = (PyTypeObject *)MP_TYPE_FROM_SPEC(module, &activator_spec);
    if (activator_type == NULL) {
        return -1;
    }
    return PyModule_AddObjectRef(module, "Activator", (PyObject *)activator_type);
}
