/* LineProfiler: registered functions, their per-line tables (an mp_table_t),
 * and turning them on: for every thread (enable) or for the profiled calls
 * of this thread (enable_by_count, the wrappers). Every method expects the
 * GIL. The report writers are in report.c. */
#include "profiler.h"

#include "engine.h"

#include "report.h"
#include "tracer.h"
#include "../core/mp_units.h"

#include <stdlib.h>
#include <string.h>

static PyTypeObject *profiler_type; /* owned */

int mp_backend_arg(PyObject *obj, int *out)
{
    if (obj == NULL || obj == Py_None) {
        *out = MP_BACKEND_RSS;
        return 0;
    }
    const char *name = PyUnicode_Check(obj) ? PyUnicode_AsUTF8(obj) : NULL;
    if (name == NULL || (*out = mp_backend_from_name(name)) < 0) {
        PyErr_Clear();
        PyErr_Format(PyExc_ValueError,
                     "unknown backend %R: choose one of psutil, psutil_pss, psutil_uss, "
                     "posix, tracemalloc", obj);
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------ the table */

static void on_limit(void *owner, const void *frame, int64_t now);

static void drop_table(mp_profiler_t *p)
{
    if (p->table == NULL) {
        return;
    }
    if (p->global) {
        p->global = 0;
        mp_tracer_global(-1);
    }
    int q = mp_table_quantity(p->table), cols = mp_table_columns(p->table);
    mp_table_free(p->table);
    p->table = NULL;
    mp_tracer_table_use(q, cols, -1);
}

/* (Re)make the table for the current settings; the blocks registered so
 * far are registered again. 0, or -1 with an exception set. */
static int make_table(mp_profiler_t *p)
{
    int q = MP_Q_OF(p->backend, p->include_children);
    if (mp_tracer_table_use(q, p->columns, 1) < 0) {
        return -1;
    }
    mp_table_t *t = mp_table_new(q, p->columns, p->exact);
    if (t == NULL) {
        mp_tracer_table_use(q, p->columns, -1);
        PyErr_NoMemory();
        return -1;
    }
    drop_table(p);
    p->table = t;
    if (p->max_mem >= 0) {
        mp_table_set_limit(t, (int64_t)p->max_mem, on_limit, p);
    }
    for (Py_ssize_t i = 0; i < p->nblocks; i++) {
        if (mp_table_add_block(t, p->blocks[i].first_line, p->blocks[i].nlines) < 0) {
            PyErr_NoMemory();
            return -1;
        }
    }
    PyObject *code, *pidx;
    Py_ssize_t pos = 0;
    while (p->codes != NULL && PyDict_Next(p->codes, &pos, &code, &pidx)) {
        PyObject *fl = PyObject_GetAttrString(code, "co_firstlineno");
        int first = fl ? (int)PyLong_AsLong(fl) : 0;
        Py_XDECREF(fl);
        PyErr_Clear();
        if (mp_code_subscribe(code, first, t, (int)PyLong_AsLong(pidx)) < 0) {
            PyErr_NoMemory();
            return -1;
        }
    }
    return 0;
}

/* The --pdb-mmem hook. The engine calls on_limit in the middle of a line
 * event, where no Python code may run (it could profile lines itself and
 * move the thread's frames, or wait for a thread that waits for us): the
 * call is kept and made by mp_profiler_flush when the event is over. */
_Thread_local int mp_profiler_pending __attribute__((tls_model("initial-exec")));
static _Thread_local PyObject *pending_prof;   /* owned */
static _Thread_local PyObject *pending_frame;  /* owned */
static _Thread_local double pending_mib;

static void on_limit(void *owner, const void *frame, int64_t now)
{
    mp_profiler_t *p = owner;
    if (p->on_exceed == NULL || pending_prof != NULL) {
        return;
    }
    PyObject *fr = frame ? (PyObject *)frame : (PyObject *)PyEval_GetFrame();
    pending_prof = Py_NewRef((PyObject *)p);
    pending_frame = Py_NewRef(fr ? fr : Py_None);
    pending_mib = (double)now / MP_MIB;
    mp_profiler_pending = 1;
}

void mp_profiler_run_pending(void)
{
    mp_profiler_pending = 0;
    mp_profiler_t *p = (mp_profiler_t *)pending_prof;
    PyObject *fr = pending_frame;
    double over = pending_mib;
    pending_prof = pending_frame = NULL;
    if (p == NULL) {
        return;
    }
    PyObject *et, *ev, *tb;
    PyErr_Fetch(&et, &ev, &tb);
    PyObject *hook = p->on_exceed ? Py_NewRef(p->on_exceed) : NULL;
    if (hook != NULL) {
        PyObject *args = Py_BuildValue("(Od)", fr, over);
        PyObject *r = args ? mp_engine_call(hook, args, NULL) : NULL;
        if (r == NULL) {
            PyErr_WriteUnraisable(hook);
        }
        Py_XDECREF(r);
        Py_XDECREF(args);
        Py_DECREF(hook);
    }
    PyErr_Restore(et, ev, tb);
    Py_DECREF(fr);
    Py_DECREF((PyObject *)p);
}

/* ------------------------------------------------------------ lifecycle */

static PyObject *profiler_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
    (void)args;
    (void)kw;
    mp_profiler_t *p = (mp_profiler_t *)type->tp_alloc(type, 0);
    if (p == NULL) {
        return NULL;
    }
    /* Usable even when a subclass skips __init__ (PySpark's does). */
    p->backend = MP_BACKEND_RSS;
    p->max_mem = -1.0;
    p->codes = PyDict_New();
    if (p->codes == NULL || make_table(p) < 0) {
        Py_DECREF(p);
        return NULL;
    }
    return (PyObject *)p;
}

static int parse_columns(PyObject *columns, int *out)
{
    int cols = 0;
    if (columns != Py_None) {
        PyObject *it = PyObject_GetIter(columns);
        PyObject *item;
        if (it == NULL) {
            return -1;
        }
        while ((item = PyIter_Next(it)) != NULL) {
            const char *c = PyUnicode_Check(item) ? PyUnicode_AsUTF8(item) : NULL;
            int bit = 0;
            if (c != NULL) {
                bit = strcmp(c, "peak") == 0     ? MP_COL_PEAK
                      : strcmp(c, "heap") == 0   ? MP_COL_HEAP
                      : strcmp(c, "native") == 0 ? MP_COL_NATIVE
                      : strcmp(c, "explain") == 0 ? MP_COL_EXPLAIN : 0;
            }
            if (bit == 0) {
                PyErr_Clear();
                PyErr_Format(PyExc_ValueError,
                             "unknown column %R: choose from peak, heap, native, explain", item);
                Py_DECREF(item);
                Py_DECREF(it);
                return -1;
            }
            cols |= bit;
            Py_DECREF(item);
        }
        Py_DECREF(it);
        if (PyErr_Occurred()) {
            return -1;
        }
    }
    *out = cols;
    return 0;
}

static int profiler_init(PyObject *self, PyObject *args, PyObject *kw)
{
    mp_profiler_t *p = (mp_profiler_t *)self;
    static char *kwlist[] = {"backend", "include_children", "max_mem", "exact", "columns",
                             NULL};
    PyObject *backend = Py_None, *max_mem = Py_None, *columns = Py_None;
    int children = 0, exact = 0, cols = 0, b;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|OpOpO:LineProfiler", kwlist, &backend,
                                     &children, &max_mem, &exact, &columns)
        || parse_columns(columns, &cols) < 0 || mp_backend_arg(backend, &b) < 0) {
        return -1;
    }
    double limit = -1.0;
    if (max_mem != Py_None) {
        limit = PyFloat_AsDouble(max_mem);
        if (limit == -1.0 && PyErr_Occurred()) {
            return -1;
        }
        limit *= MP_MIB;
    }
    if (mp_table_active_here(p->table) || p->global) {
        PyErr_SetString(PyExc_RuntimeError, "cannot re-initialise an enabled LineProfiler");
        return -1;
    }
    p->backend = b;
    p->include_children = children;
    p->exact = exact;
    p->columns = cols;
    p->max_mem = limit;
    return make_table(p);
}

static int profiler_traverse(PyObject *self, visitproc visit, void *arg)
{
    mp_profiler_t *p = (mp_profiler_t *)self;
#if PY_VERSION_HEX >= 0x03090000
    Py_VISIT(Py_TYPE(self));
#endif
    Py_VISIT(p->codes);
    Py_VISIT(p->on_exceed);
    for (Py_ssize_t i = 0; i < p->nblocks; i++) {
        Py_VISIT(p->blocks[i].code);
        Py_VISIT(p->blocks[i].filename);
        Py_VISIT(p->blocks[i].lines);
    }
    return 0;
}

static int profiler_clear(PyObject *self)
{
    mp_profiler_t *p = (mp_profiler_t *)self;
    PyObject *et, *ev, *tb;
    PyErr_Fetch(&et, &ev, &tb); /* dealloc may run while an exception is in flight */
    drop_table(p);
    PyErr_Restore(et, ev, tb);
    Py_CLEAR(p->codes);
    Py_CLEAR(p->on_exceed);
    for (Py_ssize_t i = 0; i < p->nblocks; i++) {
        Py_CLEAR(p->blocks[i].code);
        Py_CLEAR(p->blocks[i].filename);
        Py_CLEAR(p->blocks[i].lines);
    }
    free(p->blocks);
    p->blocks = NULL;
    p->nblocks = p->cap = 0;
    return 0;
}

static void profiler_dealloc(PyObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    (void)profiler_clear(self);
    tp->tp_free(self);
    Py_DECREF(tp);
}

/* ------------------------------------------------------ registration */

static int first_line_of(PyObject *code)
{
    PyObject *fl = PyObject_GetAttrString(code, "co_firstlineno");
    if (fl == NULL) {
        return -1;
    }
    long first = PyLong_AsLong(fl);
    Py_DECREF(fl);
    return (first == -1 && PyErr_Occurred()) ? -1 : (int)first;
}

/* code (and the code objects nested in it) count in block idx. */
static int add_nested(mp_profiler_t *p, PyObject *code, Py_ssize_t idx, int depth)
{
    if (depth > 100) {
        return 0;
    }
    int has = PyDict_Contains(p->codes, code);
    if (has != 0) {
        return has < 0 ? -1 : 0;
    }
    int first = first_line_of(code);
    if (first < 0 && PyErr_Occurred()) {
        return -1;
    }
    PyObject *pidx = PyLong_FromSsize_t(idx);
    if (pidx == NULL || PyDict_SetItem(p->codes, code, pidx) < 0) {
        Py_XDECREF(pidx);
        return -1;
    }
    Py_DECREF(pidx);
    if (mp_code_subscribe(code, first, p->table, (int)idx) < 0) {
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
    if (PyTuple_Check(consts)) {
        for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(consts) && rc == 0; i++) {
            PyObject *c = PyTuple_GET_ITEM(consts, i);
            if (PyCode_Check(c)) {
                rc = add_nested(p, c, idx, depth + 1);
            }
        }
    }
    Py_DECREF(consts);
    return rc;
}

/* The file's lines as linecache has them now (a list of str). */
static PyObject *source_lines(PyObject *filename)
{
    PyObject *linecache = PyImport_ImportModule("linecache");
    PyObject *lines = linecache ? PyObject_CallMethod(linecache, "getlines", "O", filename)
                                : NULL;
    Py_XDECREF(linecache);
    if (lines != NULL && !PyList_Check(lines)) {
        Py_DECREF(lines);
        lines = PyList_New(0);
    }
    return lines;
}

PyDoc_STRVAR(add_code_doc,
"_add_block(code, filename, first_line, nlines, display=None)\n--\n\n"
"Register a top-level code object as one block of the report (rows\n"
"first_line .. first_line+nlines-1 of filename, shown as display), with the\n"
"code objects nested in it. Returns True if it was added, False if it was\n"
"there already.");

static PyObject *profiler_add_code(PyObject *self, PyObject *args)
{
    mp_profiler_t *p = (mp_profiler_t *)self;
    PyObject *code, *filename, *display = Py_None;
    int first, nlines;
    if (!PyArg_ParseTuple(args, "O!Uii|O:_add_block", &PyCode_Type, &code, &filename, &first,
                          &nlines, &display)) {
        return NULL;
    }
    if (display != Py_None && !PyUnicode_Check(display)) {
        PyErr_SetString(PyExc_TypeError, "_add_block: display must be a str or None");
        return NULL;
    }
    int has = PyDict_Contains(p->codes, code);
    if (has != 0) {
        return has < 0 ? NULL : Py_NewRef(Py_False);
    }
    /* linecache is Python code: read the lines with the engine lock let go,
     * then look again (another thread may have added the code meanwhile). */
    int depth = mp_engine_release();
    PyObject *lines = source_lines(filename);
    mp_engine_reacquire(depth);
    if (lines == NULL) {
        return NULL;
    }
    has = PyDict_Contains(p->codes, code);
    if (has != 0) {
        Py_DECREF(lines);
        return has < 0 ? NULL : Py_NewRef(Py_False);
    }
    if (p->nblocks == p->cap) {
        Py_ssize_t ncap = p->cap ? p->cap * 2 : 4;
        mp_pyblock_t *nb = realloc(p->blocks, (size_t)ncap * sizeof(mp_pyblock_t));
        if (nb == NULL) {
            Py_DECREF(lines);
            return PyErr_NoMemory();
        }
        p->blocks = nb;
        p->cap = ncap;
    }
    int idx = mp_table_add_block(p->table, first, nlines);
    if (idx < 0) {
        Py_DECREF(lines);
        return PyErr_NoMemory();
    }
    mp_pyblock_t *b = &p->blocks[p->nblocks++];
    b->first_line = first;
    b->nlines = nlines < 1 ? 1 : nlines;
    b->code = Py_NewRef(code);
    b->filename = Py_NewRef(display != Py_None ? display : filename);
    b->lines = lines;
    if (add_nested(p, code, idx, 0) < 0) {
        return NULL;
    }
    Py_RETURN_TRUE;
}

PyDoc_STRVAR(add_alias_doc,
"_add_alias(copy, code)\n--\n\n"
"Count the frames of copy (a profiled function's own copy of code) in the\n"
"block of code, which must have been added.");

static PyObject *profiler_add_alias(PyObject *self, PyObject *args)
{
    mp_profiler_t *p = (mp_profiler_t *)self;
    PyObject *copy, *code;
    if (!PyArg_ParseTuple(args, "O!O!:_add_alias", &PyCode_Type, &copy, &PyCode_Type, &code)) {
        return NULL;
    }
    PyObject *pidx = PyDict_GetItemWithError(p->codes, code); /* borrowed */
    if (pidx == NULL) {
        if (!PyErr_Occurred()) {
            PyErr_SetString(PyExc_KeyError, "_add_alias: the code was not added");
        }
        return NULL;
    }
    if (PyDict_SetItem(p->codes, copy, pidx) < 0) {
        return NULL;
    }
    int first = first_line_of(copy);
    if (first < 0 && PyErr_Occurred()) {
        return NULL;
    }
    if (mp_code_subscribe(copy, first, p->table, (int)PyLong_AsLong(pidx)) < 0) {
        return PyErr_NoMemory();
    }
    if (mp_source_take_error() < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *profiler_has_block(PyObject *self, PyObject *code)
{
    mp_profiler_t *p = (mp_profiler_t *)self;
    int has = PyDict_Contains(p->codes, code);
    return has < 0 ? NULL : PyBool_FromLong(has);
}

/* --------------------------------------------------- enable / disable */

int mp_profiler_check(PyObject *obj)
{
    return profiler_type != NULL && PyObject_TypeCheck(obj, profiler_type);
}

int mp_profiler_enter(PyObject *self)
{
    mp_profiler_t *p = (mp_profiler_t *)self;
    /* The count first: what follows may release the GIL. */
    if (mp_table_activate(p->table) < 0) {
        PyErr_NoMemory();
        return -1;
    }
    if (mp_tracer_enter() < 0) {
        mp_table_deactivate(p->table);
        return -1;
    }
    return 0;
}

void mp_profiler_leave(PyObject *self)
{
    mp_profiler_t *p = (mp_profiler_t *)self;
    if (mp_table_activations_here(p->table) > 0) {
        mp_table_deactivate(p->table);
        mp_tracer_leave();
    }
}

static PyObject *profiler_enable(PyObject *self, PyObject *unused)
{
    (void)unused;
    mp_profiler_t *p = (mp_profiler_t *)self;
    if (!p->global) {
        p->global = 1;
        mp_table_set_global(p->table, 1);
        if (mp_tracer_global(1) < 0) {
            p->global = 0;
            mp_table_set_global(p->table, 0);
            return NULL;
        }
    }
    Py_RETURN_NONE;
}

static PyObject *profiler_disable(PyObject *self, PyObject *unused)
{
    (void)unused;
    mp_profiler_t *p = (mp_profiler_t *)self;
    if (p->global) {
        p->global = 0;
        mp_table_set_global(p->table, 0);
        mp_tracer_global(-1);
    }
    if (mp_source_take_error() < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *profiler_enable_by_count(PyObject *self, PyObject *unused)
{
    (void)unused;
    if (mp_profiler_enter(self) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *profiler_disable_by_count(PyObject *self, PyObject *unused)
{
    (void)unused;
    mp_profiler_leave(self);
    Py_RETURN_NONE;
}

/* ------------------------------------------------------------- results */

static PyObject *profiler_get_code_map(PyObject *self, void *closure)
{
    (void)closure;
    return mp_report_code_map((mp_profiler_t *)self);
}

static PyObject *profiler_blocks(PyObject *self, PyObject *unused)
{
    (void)unused;
    return mp_report_blocks((mp_profiler_t *)self);
}

static PyObject *profiler_to_json(PyObject *self, PyObject *unused)
{
    (void)unused;
    return mp_report_json((mp_profiler_t *)self);
}

/* ---------------------------------------------------------- attributes */

static PyObject *profiler_get_backend(PyObject *self, void *closure)
{
    (void)closure;
    return PyUnicode_FromString(mp_backend_name(((mp_profiler_t *)self)->backend));
}

/* Settable, as in the reference (PySpark's profiler sets it instead of
 * calling __init__): only before any call is profiled. */
static int profiler_set_backend(PyObject *self, PyObject *value, void *closure)
{
    (void)closure;
    mp_profiler_t *p = (mp_profiler_t *)self;
    int b;
    if (value == NULL) {
        PyErr_SetString(PyExc_AttributeError, "cannot delete backend");
        return -1;
    }
    if (mp_backend_arg(value, &b) < 0) {
        return -1;
    }
    if (b == p->backend) {
        return 0;
    }
    if (mp_table_active_here(p->table) || p->global) {
        PyErr_SetString(PyExc_RuntimeError, "cannot change the backend of an enabled LineProfiler");
        return -1;
    }
    int old = p->backend;
    p->backend = b;
    if (make_table(p) < 0) {
        p->backend = old;
        return -1;
    }
    return 0;
}

static PyObject *profiler_get_enable_count(PyObject *self, void *closure)
{
    (void)closure;
    return PyLong_FromLong(mp_table_activations_here(((mp_profiler_t *)self)->table));
}

/* Settable (the reference's attribute; PySpark sets it to 0): moves this
 * thread's count to the value, entering or leaving as many times. */
static int profiler_set_enable_count(PyObject *self, PyObject *value, void *closure)
{
    (void)closure;
    mp_profiler_t *p = (mp_profiler_t *)self;
    long want = value ? PyLong_AsLong(value) : 0;
    if (want == -1 && PyErr_Occurred()) {
        return -1;
    }
    if (want < 0) {
        want = 0;
    }
    while (mp_table_activations_here(p->table) > want) {
        mp_profiler_leave(self);
    }
    while (mp_table_activations_here(p->table) < want) {
        if (mp_profiler_enter(self) < 0) {
            return -1;
        }
    }
    return 0;
}

static PyObject *profiler_get_enabled(PyObject *self, void *closure)
{
    (void)closure;
    mp_profiler_t *p = (mp_profiler_t *)self;
    return PyBool_FromLong(p->global || mp_table_active_here(p->table));
}

static PyObject *profiler_get_include_children(PyObject *self, void *closure)
{
    (void)closure;
    return PyBool_FromLong(((mp_profiler_t *)self)->include_children);
}

static PyObject *profiler_get_max_mem(PyObject *self, void *closure)
{
    (void)closure;
    mp_profiler_t *p = (mp_profiler_t *)self;
    if (p->max_mem < 0) {
        Py_RETURN_NONE;
    }
    return PyFloat_FromDouble(p->max_mem / MP_MIB);
}

static int profiler_set_max_mem(PyObject *self, PyObject *value, void *closure)
{
    (void)closure;
    mp_profiler_t *p = (mp_profiler_t *)self;
    double limit = -1.0;
    if (value != NULL && value != Py_None) {
        limit = PyFloat_AsDouble(value);
        if (limit == -1.0 && PyErr_Occurred()) {
            return -1;
        }
        limit *= MP_MIB;
    }
    p->max_mem = limit;
    mp_table_set_limit(p->table, limit >= 0 ? (int64_t)limit : -1, on_limit, p);
    return 0;
}

static PyObject *profiler_get_on_exceed(PyObject *self, void *closure)
{
    (void)closure;
    mp_profiler_t *p = (mp_profiler_t *)self;
    return Py_NewRef(p->on_exceed ? p->on_exceed : Py_None);
}

static int profiler_set_on_exceed(PyObject *self, PyObject *value, void *closure)
{
    (void)closure;
    mp_profiler_t *p = (mp_profiler_t *)self;
    if (value != NULL && value != Py_None && !PyCallable_Check(value)) {
        PyErr_SetString(PyExc_TypeError, "on_exceed must be callable or None");
        return -1;
    }
    Py_XSETREF(p->on_exceed, (value && value != Py_None) ? Py_NewRef(value) : NULL);
    return 0;
}

static PyObject *profiler_get_exact(PyObject *self, void *closure)
{
    (void)closure;
    return PyBool_FromLong(((mp_profiler_t *)self)->exact);
}

static PyObject *profiler_get_columns(PyObject *self, void *closure)
{
    (void)closure;
    int c = ((mp_profiler_t *)self)->columns;
    static const struct { int bit; const char *name; } names[] = {
        {MP_COL_PEAK, "peak"}, {MP_COL_HEAP, "heap"}, {MP_COL_NATIVE, "native"},
        {MP_COL_EXPLAIN, "explain"},
    };
    PyObject *out = PyTuple_New(0);
    for (size_t i = 0; out != NULL && i < sizeof(names) / sizeof(names[0]); i++) {
        if (c & names[i].bit) {
            PyObject *one = Py_BuildValue("(s)", names[i].name);
            PyObject *joined = one ? PySequence_Concat(out, one) : NULL;
            Py_XDECREF(one);
            Py_SETREF(out, joined);
        }
    }
    return out;
}

static PyObject *profiler_get_lost(PyObject *self, void *closure)
{
    (void)closure;
    return PyLong_FromLongLong(mp_table_lost(((mp_profiler_t *)self)->table));
}

/* Entries from Python take the engine lock (engine.h). */
MP_LOCKED_GET(L_profiler_get_exact, profiler_get_exact)
MP_LOCKED_GET(L_profiler_get_columns, profiler_get_columns)
MP_LOCKED_GET(L_profiler_get_code_map, profiler_get_code_map)
MP_LOCKED_GET(L_profiler_get_backend, profiler_get_backend)
MP_LOCKED_SET(L_profiler_set_backend, profiler_set_backend)
MP_LOCKED_GET(L_profiler_get_enable_count, profiler_get_enable_count)
MP_LOCKED_SET(L_profiler_set_enable_count, profiler_set_enable_count)
MP_LOCKED_GET(L_profiler_get_enabled, profiler_get_enabled)
MP_LOCKED_GET(L_profiler_get_include_children, profiler_get_include_children)
MP_LOCKED_GET(L_profiler_get_max_mem, profiler_get_max_mem)
MP_LOCKED_SET(L_profiler_set_max_mem, profiler_set_max_mem)
MP_LOCKED_GET(L_profiler_get_on_exceed, profiler_get_on_exceed)
MP_LOCKED_SET(L_profiler_set_on_exceed, profiler_set_on_exceed)
MP_LOCKED_GET(L_profiler_get_lost, profiler_get_lost)
MP_LOCKED_METH(L_profiler_add_code, profiler_add_code)
MP_LOCKED_METH(L_profiler_add_alias, profiler_add_alias)
MP_LOCKED_METH(L_profiler_enable, profiler_enable)
MP_LOCKED_METH(L_profiler_disable, profiler_disable)
MP_LOCKED_METH(L_profiler_enable_by_count, profiler_enable_by_count)
MP_LOCKED_METH(L_profiler_disable_by_count, profiler_disable_by_count)
MP_LOCKED_METH(L_profiler_blocks, profiler_blocks)
MP_LOCKED_METH(L_profiler_has_block, profiler_has_block)
MP_LOCKED_METH(L_profiler_to_json, profiler_to_json)
MP_LOCKED_NEW(L_profiler_new, profiler_new)
MP_LOCKED_INIT(L_profiler_init, profiler_init)
MP_LOCKED_VOID(L_profiler_dealloc, profiler_dealloc)
MP_LOCKED_INQUIRY(L_profiler_clear, profiler_clear)

static PyGetSetDef profiler_getset[] = {
    {"exact", L_profiler_get_exact, NULL, "whether memory is read on every line event", NULL},
    {"columns", L_profiler_get_columns, NULL, "the optional report columns", NULL},
    {"code_map", L_profiler_get_code_map, NULL,
     "{code: {lineno: (increment, mem_usage, occurrences)}} in MiB (a fresh copy)", NULL},
    {"backend", L_profiler_get_backend, L_profiler_set_backend, "the memory backend's name", NULL},
    {"enable_count", L_profiler_get_enable_count, L_profiler_set_enable_count,
     "this thread's nesting depth of enable_by_count", NULL},
    {"enabled", L_profiler_get_enabled, NULL,
     "whether frames starting now in this thread are recorded", NULL},
    {"include_children", L_profiler_get_include_children, NULL, "children's memory counted", NULL},
    {"max_mem", L_profiler_get_max_mem, L_profiler_set_max_mem,
     "the --pdb-mmem limit in MiB, or None", NULL},
    {"on_exceed", L_profiler_get_on_exceed, L_profiler_set_on_exceed,
     "called (frame, MiB) the first time memory exceeds max_mem", NULL},
    {"lost_events", L_profiler_get_lost, NULL,
     "events dropped for lack of memory while this profiler existed (0: complete)", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyMethodDef profiler_methods[] = {
    {"_add_block", L_profiler_add_code, METH_VARARGS, add_code_doc},
    {"_add_alias", L_profiler_add_alias, METH_VARARGS, add_alias_doc},
    {"enable", L_profiler_enable, METH_NOARGS, "Record in every thread (idempotent)."},
    {"disable", L_profiler_disable, METH_NOARGS, "Stop recording in every thread (idempotent)."},
    {"enable_by_count", L_profiler_enable_by_count, METH_NOARGS,
     "Record the calls of this thread; count one more."},
    {"disable_by_count", L_profiler_disable_by_count, METH_NOARGS,
     "Count one less; stop recording this thread's calls at zero."},
    {"_blocks", L_profiler_blocks, METH_NOARGS, mp_report_blocks_doc},
    {"_has_code", L_profiler_has_block, METH_O,
     "_has_code(code)\n--\n\nWhether code counts in one of the blocks."},
    {"to_json", L_profiler_to_json, METH_NOARGS,
     "to_json()\n--\n\nThe whole result as a JSON document (str), memory in bytes."},
    {NULL, NULL, 0, NULL},
};

static PyType_Slot profiler_slots[] = {
    {Py_tp_new, (void *)L_profiler_new},
    {Py_tp_init, (void *)L_profiler_init},
    {Py_tp_dealloc, (void *)L_profiler_dealloc},
    {Py_tp_traverse, (void *)profiler_traverse},
    {Py_tp_clear, (void *)L_profiler_clear},
    {Py_tp_methods, (void *)profiler_methods},
    {Py_tp_getset, (void *)profiler_getset},
    {Py_tp_doc, (void *)"LineProfiler(backend='psutil', include_children=False, max_mem=None,\n"
                        "             exact=False, columns=())\n"
                        "--\n\nRecords memory per source line of the functions added to it."},
    {0, NULL},
};

static PyType_Spec profiler_spec = {
    .name = "memory_profiler._core.LineProfiler",
    .basicsize = sizeof(mp_profiler_t),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .slots = profiler_slots,
};

int mp_profiler_add_type(PyObject *module)
{
    profiler_type = (PyTypeObject *)MP_TYPE_FROM_SPEC(module, &profiler_spec);
    if (profiler_type == NULL) {
        return -1;
    }
    return PyModule_AddObjectRef(module, "LineProfiler", (PyObject *)profiler_type);
}
