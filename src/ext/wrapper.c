/* ProfiledFunction(activator, func): calls func inside a profiled call of
 * the activator (activator.c), in C.
 *
 * A Python wrapper (def wrapper(*args, **kwargs)) adds a whole interpreter
 * frame and an argument tuple and dict to every call; on CPython 3.8-3.10 each
 * of those frames also takes C stack, so a decorated function recursing
 * 10,000 deep overflowed the 8 MiB stack and crashed the program. This one
 * adds only a few small C frames.
 *
 * It behaves as the function for everything else: attributes are read from
 * the function (__name__, __doc__, __module__, __qualname__, __code__...),
 * __wrapped__ is the function, it binds as a method, and it pickles by its
 * qualified name, as module-level functions do. */
#include "wrapper.h"

#include "activator.h"


typedef struct {
    PyObject_HEAD
    PyObject *act;             /* owned: the Activator */
    PyObject *func;            /* owned: the wrapped callable */
    PyObject *dict;            /* owned or NULL: attributes set on the wrapper */
} wrapper_t;

static PyTypeObject *wrapper_type; /* owned */

static PyObject *wrapper_call(PyObject *self, PyObject *args, PyObject *kwargs)
{
    wrapper_t *w = (wrapper_t *)self;
    if (mp_activator_enter(w->act) < 0) {
        return NULL;
    }
    PyObject *r = PyObject_Call(w->func, args, kwargs);
    mp_activator_leave(w->act); /* never raises; keeps the call's exception */
    return r;
}

static PyObject *wrapper_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    PyObject *act, *func;
    if (kwds != NULL && PyDict_GET_SIZE(kwds) > 0) {
        PyErr_SetString(PyExc_TypeError, "ProfiledFunction() takes no keyword arguments");
        return NULL;
    }
    if (!PyArg_UnpackTuple(args, "ProfiledFunction", 2, 2, &act, &func)) {
        return NULL;
    }
    if (!mp_activator_check(act)) {
        PyErr_SetString(PyExc_TypeError, "ProfiledFunction: first argument must be an Activator");
        return NULL;
    }
    if (!PyCallable_Check(func)) {
        PyErr_SetString(PyExc_TypeError, "ProfiledFunction: second argument must be callable");
        return NULL;
    }
    wrapper_t *w = (wrapper_t *)type->tp_alloc(type, 0);
    if (w == NULL) {
        return NULL;
    }
    w->act = Py_NewRef(act);
    w->func = Py_NewRef(func);
    return (PyObject *)w;
}

static int wrapper_traverse(PyObject *self, visitproc visit, void *arg)
{
    wrapper_t *w = (wrapper_t *)self;
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(w->act);
    Py_VISIT(w->func);
    Py_VISIT(w->dict);
    return 0;
}

static int wrapper_clear(PyObject *self)
{
    wrapper_t *w = (wrapper_t *)self;
    Py_CLEAR(w->act);
    Py_CLEAR(w->func);
    Py_CLEAR(w->dict);
    return 0;
}

static void wrapper_dealloc(PyObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    wrapper_clear(self);
    tp->tp_free(self);
    Py_DECREF(tp);
}

/* Attributes set on the wrapper (PySpark sets __module__, __name__,
 * __doc__ and the function's __dict__ on what it wraps) first, then our
 * own, then the function's. */
static PyObject *wrapper_getattro(PyObject *self, PyObject *name)
{
    wrapper_t *w = (wrapper_t *)self;
    if (w->dict != NULL) {
        PyObject *v = PyDict_GetItemWithError(w->dict, name); /* borrowed */
        if (v != NULL) {
            return Py_NewRef(v);
        }
        if (PyErr_Occurred()) {
            return NULL;
        }
    }
    if (PyUnicode_Check(name) && PyUnicode_CompareWithASCIIString(name, "__dict__") == 0) {
        if (w->dict == NULL && (w->dict = PyDict_New()) == NULL) {
            return NULL;
        }
        return Py_NewRef(w->dict);
    }
    /* The type's own __module__ (set from the spec's name, over any getset)
     * would hide the function's: pickle and inspect need the function's. */
    if (PyUnicode_Check(name) && PyUnicode_CompareWithASCIIString(name, "__module__") == 0) {
        return PyObject_GetAttr(w->func, name);
    }
    PyObject *r = PyObject_GenericGetAttr(self, name);
    if (r != NULL || !PyErr_ExceptionMatches(PyExc_AttributeError)) {
        return r;
    }
    PyErr_Clear();
    return PyObject_GetAttr(w->func, name);
}

static int wrapper_setattro(PyObject *self, PyObject *name, PyObject *value)
{
    wrapper_t *w = (wrapper_t *)self;
    if (w->dict == NULL && (w->dict = PyDict_New()) == NULL) {
        return -1;
    }
    if (value == NULL) {
        int rc = PyDict_DelItem(w->dict, name);
        if (rc < 0 && PyErr_ExceptionMatches(PyExc_KeyError)) {
            PyErr_SetObject(PyExc_AttributeError, name);
        }
        return rc;
    }
    return PyDict_SetItem(w->dict, name, value);
}

static PyObject *wrapper_descr_get(PyObject *self, PyObject *obj, PyObject *type)
{
    (void)type;
    if (obj == NULL || obj == Py_None) {
        return Py_NewRef(self);
    }
    return PyMethod_New(self, obj);
}

static PyObject *wrapper_repr(PyObject *self)
{
    return PyObject_Repr(((wrapper_t *)self)->func);
}

/* Pickled as module-level functions are: by qualified name. */
static PyObject *wrapper_reduce(PyObject *self, PyObject *unused)
{
    (void)unused;
    return PyObject_GetAttrString(((wrapper_t *)self)->func, "__qualname__");
}

static PyObject *wrapper_get_wrapped(PyObject *self, void *closure)
{
    (void)closure;
    return Py_NewRef(((wrapper_t *)self)->func);
}

/* Attributes the type itself has (so the generic lookup would find the
 * type's): read from the function instead. closure = the name. */
static PyObject *wrapper_get_forwarded(PyObject *self, void *closure)
{
    return PyObject_GetAttrString(((wrapper_t *)self)->func, (const char *)closure);
}

static PyObject *wrapper_get_activator(PyObject *self, void *closure)
{
    (void)closure;
    return Py_NewRef(((wrapper_t *)self)->act);
}

static PyMethodDef wrapper_methods[] = {
    {"__reduce__", wrapper_reduce, METH_NOARGS, NULL},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef wrapper_getset[] = {
    {"__wrapped__", wrapper_get_wrapped, NULL, "the function", NULL},
    {"_activator", wrapper_get_activator, NULL, "the Activator of its calls", NULL},
    {"__name__", wrapper_get_forwarded, NULL, NULL, (void *)"__name__"},
    {"__qualname__", wrapper_get_forwarded, NULL, NULL, (void *)"__qualname__"},
    {"__doc__", wrapper_get_forwarded, NULL, NULL, (void *)"__doc__"},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyType_Slot wrapper_slots[] = {
    {Py_tp_new, (void *)wrapper_new},
    {Py_tp_dealloc, (void *)wrapper_dealloc},
    {Py_tp_traverse, (void *)wrapper_traverse},
    {Py_tp_clear, (void *)wrapper_clear},
    {Py_tp_call, (void *)wrapper_call},
    {Py_tp_getattro, (void *)wrapper_getattro},
    {Py_tp_setattro, (void *)wrapper_setattro},
    {Py_tp_descr_get, (void *)wrapper_descr_get},
    {Py_tp_repr, (void *)wrapper_repr},
    {Py_tp_methods, (void *)wrapper_methods},
    {Py_tp_getset, (void *)wrapper_getset},
    {0, NULL},
};

static PyType_Spec wrapper_spec = {
    .name = "memory_profiler._core.ProfiledFunction",
    .basicsize = sizeof(wrapper_t),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .slots = wrapper_slots,
};

int mp_wrapper_add_type(PyObject *module)
{
    wrapper_type = (PyTypeObject *)MP_TYPE_FROM_SPEC(module, &wrapper_spec);
    if (wrapper_type == NULL) {
        return -1;
    }
    return PyModule_AddObjectRef(module, "ProfiledFunction", (PyObject *)wrapper_type);
}
