/* compat.h: the one place that tests PY_VERSION_HEX. Everything version
 * dependent in the extension goes through the names defined here. */
#ifndef MP_COMPAT_H
#define MP_COMPAT_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <frameobject.h>

/* sys.monitoring (PEP 669) from 3.12; PyEval_SetTrace before. */
#if PY_VERSION_HEX >= 0x030C0000
#define MP_USE_MONITORING 1
#else
#define MP_USE_MONITORING 0
#endif

/* A small non-negative int argument of a sys.monitoring callback (a line
 * number or an offset): 3.12's compact-int accessors skip the general path. */
#if PY_VERSION_HEX >= 0x030C0000
static inline int mp_small_int(PyObject *o)
{
    if (PyLong_CheckExact(o) && PyUnstable_Long_IsCompact((PyLongObject *)o)) {
        return (int)PyUnstable_Long_CompactValue((PyLongObject *)o);
    }
    return (int)PyLong_AsLong(o);
}
#endif

#if PY_VERSION_HEX < 0x03090000
static inline PyCodeObject *PyFrame_GetCode(PyFrameObject *frame)
{
    Py_INCREF(frame->f_code);
    return frame->f_code;
}
#endif

#if PY_VERSION_HEX < 0x030A0000
static inline PyObject *mp_compat_newref(PyObject *o)
{
    Py_INCREF(o);
    return o;
}
#define Py_NewRef(o) mp_compat_newref((PyObject *)(o))
static inline int PyModule_AddObjectRef(PyObject *m, const char *name, PyObject *v)
{
    Py_INCREF(v);
    if (PyModule_AddObject(m, name, v) < 0) {
        Py_DECREF(v);
        return -1;
    }
    return 0;
}
#endif

#if PY_VERSION_HEX < 0x03090000
#define PyObject_CallOneArg(f, a) PyObject_CallFunctionObjArgs((f), (a), NULL)
#define PyObject_CallNoArgs(f) PyObject_CallObject((f), NULL)
#define MP_TYPE_FROM_SPEC(module, spec) PyType_FromSpec(spec)
#else
#define MP_TYPE_FROM_SPEC(module, spec) PyType_FromModuleAndSpec((module), (spec), NULL)
#endif

/* Code that can suspend (its frames' return events include yields). */
#define MP_CO_SUSPENDS (CO_GENERATOR | CO_COROUTINE | CO_ASYNC_GENERATOR | CO_ITERABLE_COROUTINE)

/* The tracer keeps process-wide state: one interpreter only. */
#if PY_VERSION_HEX >= 0x030C0000
#define MP_MOD_SLOT_INTERPRETERS \
    {Py_mod_multiple_interpreters, Py_MOD_MULTIPLE_INTERPRETERS_NOT_SUPPORTED},
#else
#define MP_MOD_SLOT_INTERPRETERS
#endif

/* Free-threaded builds: everything shared is under the engine lock
 * (engine.h), so importing us leaves the GIL off. */
#ifdef Py_GIL_DISABLED
#define MP_MOD_SLOT_GIL {Py_mod_gil, Py_MOD_GIL_NOT_USED},
#else
#define MP_MOD_SLOT_GIL
#endif

#if !MP_USE_MONITORING
/* The trace function already installed in a thread, so that ours can chain
 * to it (coverage, debuggers). PyThreadState's fields are public API (the
 * cpython/pystate.h header) on these versions. */
#define MP_TSTATE_TRACEFUNC(ts) ((ts)->c_tracefunc)
#define MP_TSTATE_TRACEOBJ(ts) ((ts)->c_traceobj)

/* The frame's code object, borrowed (the frame holds it): a field read up
 * to 3.10, the public getter (new reference, dropped at once) after. */
#if PY_VERSION_HEX < 0x030B0000
#define MP_FRAME_CODE_BORROWED(frame) ((frame)->f_code)
#else
static inline PyCodeObject *mp_frame_code_borrowed(PyFrameObject *frame)
{
    PyCodeObject *c = PyFrame_GetCode(frame);
    Py_DECREF(c);
    return c;
}
#define MP_FRAME_CODE_BORROWED(frame) mp_frame_code_borrowed(frame)
#endif

/* Stop line events for one frame of code we do not profile, when nobody else
 * traces: possible through a public field up to 3.10 only. */
#if PY_VERSION_HEX < 0x030B0000
#define MP_FRAME_MUTE_LINES(frame) ((frame)->f_trace_lines = 0)
#else
/* 3.11 keeps the field private: set it through the frame's attribute (a
 * descriptor call per unprofiled call, cheaper than a line event per line). */
static inline void mp_frame_mute_lines(PyFrameObject *frame)
{
    static PyObject *name; /* interned, lives for the process */
    /* Frames muted lately (a generator is "called" again on every resume).
     * A freed frame's address reused by a new frame only costs the new
     * frame its muting: line events, filtered out one by one. GIL. */
    static PyFrameObject *recent[256];
    size_t slot = ((uintptr_t)frame >> 4) & 255;
    if (recent[slot] == frame) {
        return;
    }
    recent[slot] = frame;
    if (name == NULL) {
        name = PyUnicode_InternFromString("f_trace_lines");
        if (name == NULL) {
            PyErr_Clear();
            return;
        }
    }
    if (PyObject_SetAttr((PyObject *)frame, name, Py_False) < 0) {
        PyErr_Clear();
    }
}
#define MP_FRAME_MUTE_LINES(frame) mp_frame_mute_lines(frame)
#endif

/* Undo the above for a frame a debugger now traces. */
#if PY_VERSION_HEX < 0x030B0000
#define MP_FRAME_UNMUTE_LINES(frame) ((frame)->f_trace_lines = 1)
#else
static inline void mp_frame_unmute_lines(PyFrameObject *frame)
{
    if (PyObject_SetAttrString((PyObject *)frame, "f_trace_lines", Py_True) < 0) {
        PyErr_Clear();
    }
}
#define MP_FRAME_UNMUTE_LINES(frame) mp_frame_unmute_lines(frame)
#endif

/* The calling frame of frame (new reference) or NULL. */
#if PY_VERSION_HEX < 0x03090000
#define MP_FRAME_BACK(frame) ((PyFrameObject *)Py_XNewRef((PyObject *)(frame)->f_back))
static inline PyObject *Py_XNewRef_compat(PyObject *o)
{
    Py_XINCREF(o);
    return o;
}
#define Py_XNewRef(o) Py_XNewRef_compat(o)
#else
#define MP_FRAME_BACK(frame) PyFrame_GetBack(frame)
#endif
#endif

#endif
