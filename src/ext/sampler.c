/* _core.Sampler: the C sampling thread (src/core/mp_sampler) as a Python
 * object for memory_usage(). Methods release the GIL while they wait. */
#include "compat.h"
#include "engine.h"

#include "heap.h"
#include "sampler.h"
#include "../core/mp_sampler.h"

#include <errno.h>

typedef struct {
    PyObject_HEAD
    mp_sampler_t *s;  /* owned */
    int pid;
} sampler_obj_t;

static int heap_read(void *ctx, int64_t *bytes)
{
    (void)ctx;
    *bytes = mp_heap_current(); /* an atomic load: fine without the GIL */
    return 0;
}

static int sampler_init(PyObject *self, PyObject *args, PyObject *kw)
{
    sampler_obj_t *o = (sampler_obj_t *)self;
    static char *kwlist[] = {"pid", "interval", "backend", "include_children", "multiprocess",
                             "max_samples", NULL};
    int pid = 0, children = 0, multi = 0;
    double interval = 0.1;
    const char *backend = "psutil";
    Py_ssize_t max_samples = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|idsppn:Sampler", kwlist, &pid, &interval,
                                     &backend, &children, &multi, &max_samples)) {
        return -1;
    }
    int b = mp_backend_from_name(backend);
    if (b < 0) {
        PyErr_Format(PyExc_ValueError, "unknown backend '%s'", backend);
        return -1;
    }
    if (!(interval >= 1e-4) || interval > 1e6) {
        PyErr_SetString(PyExc_ValueError, "interval must be at least 0.0001 s");
        return -1;
    }
    mp_sampler_opts_t opts = {
        .pid = pid,
        .backend = (mp_backend_t)b,
        .include_children = children,
        .multiprocess = multi,
        .interval_ns = (int64_t)(interval * 1e9),
        .max_samples = max_samples > 0 ? (size_t)max_samples : 0,
        .read = (b == MP_BACKEND_HEAP) ? heap_read : NULL,
    };
    mp_sampler_free(o->s);
    o->s = mp_sampler_new(&opts);
    if (o->s == NULL) {
        PyErr_SetFromErrno(PyExc_OSError);
        return -1;
    }
    o->pid = pid;
    return 0;
}

static void sampler_dealloc(PyObject *self)
{
    sampler_obj_t *o = (sampler_obj_t *)self;
    PyTypeObject *tp = Py_TYPE(self);
    Py_BEGIN_ALLOW_THREADS
    mp_sampler_free(o->s);
    Py_END_ALLOW_THREADS
    PyObject_Free(self);
    Py_DECREF(tp);
}

static int ready(sampler_obj_t *o)
{
    if (o->s == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "Sampler.__init__ was not called");
        return 0;
    }
    return 1;
}

static PyObject *sampler_start(PyObject *self, PyObject *unused)
{
    (void)unused;
    sampler_obj_t *o = (sampler_obj_t *)self;
    int rc;
    if (!ready(o)) {
        return NULL;
    }
    Py_BEGIN_ALLOW_THREADS
    rc = mp_sampler_start(o->s);
    Py_END_ALLOW_THREADS
    if (rc < 0) {
        if (errno == ENOENT || errno == ESRCH) {
            return PyErr_Format(PyExc_ProcessLookupError, "no process with pid %d", o->pid);
        }
        if (errno == EACCES || errno == EPERM) {
            return PyErr_Format(PyExc_PermissionError,
                                "cannot read the memory of process %d: permission denied",
                                o->pid);
        }
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    Py_RETURN_NONE;
}

static PyObject *sampler_stop(PyObject *self, PyObject *unused)
{
    (void)unused;
    sampler_obj_t *o = (sampler_obj_t *)self;
    if (!ready(o)) {
        return NULL;
    }
    Py_BEGIN_ALLOW_THREADS
    mp_sampler_stop(o->s);
    Py_END_ALLOW_THREADS
    Py_RETURN_NONE;
}

PyDoc_STRVAR(samples_doc,
"samples(consume=False)\n--\n\n"
"The samples so far: a list of (bytes, time, children) where children is a\n"
"list of (pid, bytes) (empty unless multiprocess). With consume, they are\n"
"removed from the sampler (for streaming).");

static PyObject *sampler_samples(PyObject *self, PyObject *args, PyObject *kw)
{
    sampler_obj_t *o = (sampler_obj_t *)self;
    static char *kwlist[] = {"consume", NULL};
    int consume = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|p:samples", kwlist, &consume) || !ready(o)) {
        return NULL;
    }
    mp_sample_t *smp = NULL;
    mp_child_sample_t *kids = NULL;
    size_t n = 0, nk = 0;
    if (mp_sampler_snapshot(o->s, &smp, &n, &kids, &nk) < 0) {
        return PyErr_NoMemory();
    }
    PyObject *out = PyList_New((Py_ssize_t)n);
    for (size_t i = 0; out != NULL && i < n; i++) {
        PyObject *cl = PyList_New((Py_ssize_t)smp[i].nchildren);
        for (size_t j = 0; cl != NULL && j < smp[i].nchildren; j++) {
            const mp_child_sample_t *c = &kids[smp[i].first_child + j];
            PyObject *t = Py_BuildValue("(iL)", (int)c->pid, (long long)c->bytes);
            if (t == NULL) {
                Py_CLEAR(cl);
                break;
            }
            PyList_SET_ITEM(cl, (Py_ssize_t)j, t);
        }
        PyObject *t = cl ? Py_BuildValue("(LdN)", (long long)smp[i].bytes, smp[i].time, cl) : NULL;
        if (t == NULL) {
            Py_CLEAR(out);
            break;
        }
        PyList_SET_ITEM(out, (Py_ssize_t)i, t);
    }
    free(smp);
    free(kids);
    if (out != NULL && consume) {
        mp_sampler_discard(o->s, n);
    }
    return out;
}

static PyObject *sampler_peak(PyObject *self, PyObject *unused)
{
    (void)unused;
    sampler_obj_t *o = (sampler_obj_t *)self;
    if (!ready(o)) {
        return NULL;
    }
    return PyLong_FromLongLong(mp_sampler_peak(o->s));
}

static PyObject *sampler_get_gone(PyObject *self, void *closure)
{
    (void)closure;
    sampler_obj_t *o = (sampler_obj_t *)self;
    return PyBool_FromLong(o->s != NULL && mp_sampler_process_gone(o->s));
}

static PyObject *sampler_get_finished(PyObject *self, void *closure)
{
    (void)closure;
    sampler_obj_t *o = (sampler_obj_t *)self;
    return PyBool_FromLong(o->s != NULL && mp_sampler_finished(o->s));
}

/* Entries from Python take the engine lock (engine.h). */
MP_LOCKED_METH(L_sampler_start, sampler_start)
MP_LOCKED_METH(L_sampler_stop, sampler_stop)
MP_LOCKED_KW(L_sampler_samples, sampler_samples)
MP_LOCKED_METH(L_sampler_peak, sampler_peak)
MP_LOCKED_GET(L_sampler_get_gone, sampler_get_gone)
MP_LOCKED_GET(L_sampler_get_finished, sampler_get_finished)
MP_LOCKED_INIT(L_sampler_init, sampler_init)
MP_LOCKED_VOID(L_sampler_dealloc, sampler_dealloc)

static PyMethodDef sampler_methods[] = {
    {"start", L_sampler_start, METH_NOARGS,
     "Take the first sample, reset the peak mark, start sampling."},
    {"stop", L_sampler_stop, METH_NOARGS, "Stop sampling now and take a last sample."},
    {"samples", (PyCFunction)(void (*)(void))L_sampler_samples, METH_VARARGS | METH_KEYWORDS,
     samples_doc},
    {"peak", L_sampler_peak, METH_NOARGS,
     "The highest memory seen, bytes (the kernel's peak mark where it could be reset)."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef sampler_getset[] = {
    {"gone", L_sampler_get_gone, NULL, "the sampled process has exited", NULL},
    {"finished", L_sampler_get_finished, NULL, "the thread stopped by itself", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyType_Slot sampler_slots[] = {
    {Py_tp_init, (void *)L_sampler_init},
    {Py_tp_dealloc, (void *)L_sampler_dealloc},
    {Py_tp_methods, (void *)sampler_methods},
    {Py_tp_getset, (void *)sampler_getset},
    {Py_tp_doc, (void *)"Sampler(pid=0, interval=0.1, backend='psutil', include_children=False,"
                        " multiprocess=False, max_samples=0)\n--\n\n"
                        "Samples a process's memory on a C thread that never takes the GIL."},
    {0, NULL},
};

static PyType_Spec sampler_spec = {
    .name = "memory_profiler._core.Sampler",
    .basicsize = sizeof(sampler_obj_t),
    .flags = Py_TPFLAGS_DEFAULT,
    .slots = sampler_slots,
};

int mp_sampler_add_type(PyObject *module)
{
    PyObject *tp = MP_TYPE_FROM_SPEC(module, &sampler_spec);
    if (tp == NULL) {
        return -1;
    }
    int rc = PyModule_AddObjectRef(module, "Sampler", tp);
    Py_DECREF(tp);
    return rc;
}
