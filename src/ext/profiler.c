/* LineProfiler: registered functions, their per-line tables, enabling, and
 * the report writer. Every method expects the GIL. */
#include "profiler.h"

#include "heap.h"
#include "tracer.h"
#include "../core/mp_json.h"
#include "../core/mp_report.h"

#include <stdlib.h>
#include <string.h>

#ifndef MP_VERSION
#define MP_VERSION "0.0.0"
#endif

static PyTypeObject *profiler_type; /* owned */

static mp_row_t *grow_rows(mp_block_t *b, int i)
{
    /* A line past the block inspect found (source edited meanwhile). */
    mp_row_t *nr = realloc(b->rows, (size_t)(i + 1) * sizeof(mp_row_t));
    if (nr == NULL) {
        return NULL;
    }
    memset(nr + b->nlines, 0, (size_t)(i + 1 - b->nlines) * sizeof(mp_row_t));
    b->rows = nr;
    b->nlines = i + 1;
    return &nr[i];
}

mp_row_t *mp_profiler_row(mp_profiler_t *p, Py_ssize_t idx, int line)
{
    mp_block_t *b = &p->blocks[idx];
    int i = line - b->first_line;
    if (i < 0) {
        return NULL;
    }
    return i < b->nlines ? &b->rows[i] : grow_rows(b, i);
}

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

/* ------------------------------------------------------------ lifecycle */

static int profiler_init(PyObject *self, PyObject *args, PyObject *kw)
{
    mp_profiler_t *p = (mp_profiler_t *)self;
    static char *kwlist[] = {"backend", "include_children", "max_mem", "exact", "columns",
                             NULL};
    PyObject *backend = Py_None, *max_mem = Py_None, *columns = Py_None;
    int children = 0, exact = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|OpOpO:LineProfiler", kwlist, &backend,
                                     &children, &max_mem, &exact, &columns)) {
        return -1;
    }
    int cols = 0;
    if (columns != Py_None) {
        PyObject *it = PyObject_GetIter(columns);
        PyObject *item;
        if (it == NULL) {
            return -1;
        }
        while ((item = PyIter_Next(it)) != NULL) {
            const char *c = PyUnicode_Check(item) ? PyUnicode_AsUTF8(item) : NULL;
            if (c != NULL && strcmp(c, "peak") == 0) {
                cols |= MP_COL_PEAK;
            } else if (c != NULL && strcmp(c, "heap") == 0) {
                cols |= MP_COL_HEAP;
            } else {
                PyErr_Format(PyExc_ValueError, "unknown column %R: choose from peak, heap", item);
                Py_DECREF(item);
                Py_DECREF(it);
                return -1;
            }
            Py_DECREF(item);
        }
        Py_DECREF(it);
        if (PyErr_Occurred()) {
            return -1;
        }
    }
    if (p->enabled) {
        PyErr_SetString(PyExc_RuntimeError, "cannot re-initialise an enabled LineProfiler");
        return -1;
    }
    int b;
    if (mp_backend_arg(backend, &b) < 0) {
        return -1;
    }
    p->backend = b;
    p->include_children = children;
    p->exact = exact;
    p->columns = cols;
    p->max_mem = -1.0;
    if (max_mem != Py_None) {
        double limit = PyFloat_AsDouble(max_mem);
        if (limit == -1.0 && PyErr_Occurred()) {
            return -1;
        }
        p->max_mem = limit * 1048576.0;
    }
    if (p->codes == NULL) {
        p->codes = PyDict_New();
        if (p->codes == NULL) {
            return -1;
        }
    }
    return 0;
}

static void disable_now(mp_profiler_t *p);

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
    }
    return 0;
}

static int profiler_clear(PyObject *self)
{
    mp_profiler_t *p = (mp_profiler_t *)self;
    disable_now(p);
    Py_CLEAR(p->codes);
    Py_CLEAR(p->on_exceed);
    for (Py_ssize_t i = 0; i < p->nblocks; i++) {
        Py_CLEAR(p->blocks[i].code);
        Py_CLEAR(p->blocks[i].filename);
        free(p->blocks[i].rows);
        p->blocks[i].rows = NULL;
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

static int add_nested(mp_profiler_t *p, PyObject *code, Py_ssize_t idx, int depth)
{
    if (depth > 100) {
        return 0;
    }
    int has = PyDict_Contains(p->codes, code);
    if (has != 0) {
        return has < 0 ? -1 : 0;
    }
    PyObject *pidx = PyLong_FromSsize_t(idx);
    if (pidx == NULL || PyDict_SetItem(p->codes, code, pidx) < 0) {
        Py_XDECREF(pidx);
        return -1;
    }
    Py_DECREF(pidx);
    if (p->enabled && mp_tracer_subscribe(code, p, idx) < 0) {
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

PyDoc_STRVAR(add_code_doc,
"add_code(code, filename, first_line, nlines)\n--\n\n"
"Register a top-level code object as one block of the report (rows\n"
"first_line .. first_line+nlines-1 of filename), with the code objects nested\n"
"in it. Returns True if it was added, False if it was there already.");

static PyObject *profiler_add_code(PyObject *self, PyObject *args)
{
    mp_profiler_t *p = (mp_profiler_t *)self;
    PyObject *code, *filename;
    int first, nlines;
    if (!PyArg_ParseTuple(args, "O!Uii:add_code", &PyCode_Type, &code, &filename, &first,
                          &nlines)) {
        return NULL;
    }
    if (p->codes == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "LineProfiler.__init__ was not called");
        return NULL;
    }
    int has = PyDict_Contains(p->codes, code);
    if (has != 0) {
        return has < 0 ? NULL : Py_NewRef(Py_False);
    }
    if (nlines < 1) {
        nlines = 1;
    }
    if (p->nblocks == p->cap) {
        Py_ssize_t ncap = p->cap ? p->cap * 2 : 4;
        mp_block_t *nb = realloc(p->blocks, (size_t)ncap * sizeof(mp_block_t));
        if (nb == NULL) {
            return PyErr_NoMemory();
        }
        p->blocks = nb;
        p->cap = ncap;
    }
    mp_block_t *b = &p->blocks[p->nblocks];
    b->rows = calloc((size_t)nlines, sizeof(mp_row_t));
    if (b->rows == NULL) {
        return PyErr_NoMemory();
    }
    b->code = Py_NewRef(code);
    b->filename = Py_NewRef(filename);
    b->first_line = first;
    b->nlines = nlines;
    Py_ssize_t idx = p->nblocks++;
    if (add_nested(p, code, idx, 0) < 0) {
        return NULL;
    }
    Py_RETURN_TRUE;
}

/* --------------------------------------------------- enable / disable */

/* How many profilers are enabled: the tracer runs while this is > 0. */
static int n_enabled;

static int enable_now(mp_profiler_t *p)
{
    if (p->enabled) {
        return 0;
    }
    if (p->codes == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "LineProfiler.__init__ was not called");
        return -1;
    }
    PyObject *code, *pidx;
    Py_ssize_t pos = 0;
    if (mp_tracer_use(p, 1) < 0) {
        return -1;
    }
    p->enabled = 1;
    n_enabled++;
    while (PyDict_Next(p->codes, &pos, &code, &pidx)) {
        if (mp_tracer_subscribe(code, p, PyLong_AsSsize_t(pidx)) < 0) {
            disable_now(p);
            return -1;
        }
    }
    if (mp_tracer_start() < 0) {
        disable_now(p);
        return -1;
    }
    return 0;
}

static void disable_now(mp_profiler_t *p)
{
    if (!p->enabled) {
        return;
    }
    p->enabled = 0;
    mp_tracer_unsubscribe_all(p);
    (void)mp_tracer_use(p, -1);
    if (--n_enabled == 0) {
        /* Keep an exception already in flight (dealloc during unwinding). */
        PyObject *et, *ev, *tb;
        PyErr_Fetch(&et, &ev, &tb);
        if (mp_tracer_stop() < 0) {
            PyErr_WriteUnraisable(NULL);
        }
        PyErr_Restore(et, ev, tb);
    }
}

static PyObject *profiler_enable(PyObject *self, PyObject *unused)
{
    (void)unused;
    if (enable_now((mp_profiler_t *)self) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *profiler_disable(PyObject *self, PyObject *unused)
{
    (void)unused;
    disable_now((mp_profiler_t *)self);
    if (PyErr_Occurred()) {
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *profiler_enable_by_count(PyObject *self, PyObject *unused);
static PyObject *profiler_disable_by_count(PyObject *self, PyObject *unused);

int mp_profiler_check(PyObject *obj)
{
    return profiler_type != NULL && PyObject_TypeCheck(obj, profiler_type);
}

int mp_profiler_enter(PyObject *self)
{
    PyObject *r = profiler_enable_by_count(self, NULL);
    if (r == NULL) {
        return -1;
    }
    Py_DECREF(r);
    return 0;
}

int mp_profiler_leave(PyObject *self)
{
    PyObject *r = profiler_disable_by_count(self, NULL);
    if (r == NULL) {
        return -1;
    }
    Py_DECREF(r);
    return 0;
}

static PyObject *profiler_enable_by_count(PyObject *self, PyObject *unused)
{
    mp_profiler_t *p = (mp_profiler_t *)self;
    if (p->enable_count == 0 && profiler_enable(self, unused) == NULL) {
        return NULL;
    }
    p->enable_count++;
    Py_RETURN_NONE;
}

static PyObject *profiler_disable_by_count(PyObject *self, PyObject *unused)
{
    mp_profiler_t *p = (mp_profiler_t *)self;
    if (p->enable_count > 0) {
        p->enable_count--;
        if (p->enable_count == 0) {
            PyObject *r = profiler_disable(self, unused);
            if (r == NULL) {
                return NULL;
            }
            Py_DECREF(r);
        }
    }
    Py_RETURN_NONE;
}

/* ------------------------------------------------------------- results */

/* Whether any line of the block ran: blocks that never ran are not shown. */
static int block_ran(const mp_block_t *b)
{
    for (int j = 0; j < b->nlines; j++) {
        if (b->rows[j].occ != 0) {
            return 1;
        }
    }
    return 0;
}

static PyObject *mib(int64_t bytes)
{
    return PyFloat_FromDouble((double)bytes / MP_MIB);
}

/* {lineno: (increment, mem_usage, occurrences)} for one block, MiB. */
static PyObject *block_dict(const mp_block_t *b)
{
    PyObject *d = PyDict_New();
    if (d == NULL) {
        return NULL;
    }
    for (int i = 0; i < b->nlines; i++) {
        const mp_row_t *r = &b->rows[i];
        if (r->occ == 0) {
            continue;
        }
        PyObject *k = PyLong_FromLong(b->first_line + i);
        PyObject *v = Py_BuildValue("(NNL)", mib(r->inc), mib(r->mem), (long long)r->occ);
        if (k == NULL || v == NULL || PyDict_SetItem(d, k, v) < 0) {
            Py_XDECREF(k);
            Py_XDECREF(v);
            Py_DECREF(d);
            return NULL;
        }
        Py_DECREF(k);
        Py_DECREF(v);
    }
    return d;
}

static PyObject *profiler_get_code_map(PyObject *self, void *closure)
{
    (void)closure;
    mp_profiler_t *p = (mp_profiler_t *)self;
    PyObject *out = PyDict_New();
    PyObject *per_block = PyList_New(p->nblocks);
    if (out == NULL || per_block == NULL) {
        goto fail;
    }
    for (Py_ssize_t i = 0; i < p->nblocks; i++) {
        PyObject *d = block_dict(&p->blocks[i]);
        if (d == NULL) {
            goto fail;
        }
        PyList_SET_ITEM(per_block, i, d);
    }
    if (p->codes != NULL) {
        PyObject *code, *pidx;
        Py_ssize_t pos = 0;
        while (PyDict_Next(p->codes, &pos, &code, &pidx)) {
            Py_ssize_t idx = PyLong_AsSsize_t(pidx);
            /* Nested code objects share their parent's dict, as in the reference. */
            if (PyDict_SetItem(out, code, PyList_GET_ITEM(per_block, idx)) < 0) {
                goto fail;
            }
        }
    }
    Py_DECREF(per_block);
    return out;
fail:
    Py_XDECREF(out);
    Py_XDECREF(per_block);
    return NULL;
}

PyDoc_STRVAR(blocks_doc,
"blocks()\n--\n\n"
"The report's blocks in registration order: a list of (filename, code,\n"
"first_line, rows) where rows has one entry per source line, either None\n"
"(never ran) or (increment, mem_usage, occurrences, peak, heap_net,\n"
"heap_alloc), memory in MiB (peak and heap are 0 unless their column is on).");

static PyObject *profiler_blocks(PyObject *self, PyObject *unused)
{
    (void)unused;
    mp_profiler_t *p = (mp_profiler_t *)self;
    PyObject *out = PyList_New(p->nblocks);
    if (out == NULL) {
        return NULL;
    }
    for (Py_ssize_t i = 0; i < p->nblocks; i++) {
        const mp_block_t *b = &p->blocks[i];
        PyObject *rows = PyList_New(b->nlines);
        if (rows == NULL) {
            Py_DECREF(out);
            return NULL;
        }
        for (int j = 0; j < b->nlines; j++) {
            const mp_row_t *r = &b->rows[j];
            PyObject *v = r->occ ? Py_BuildValue("(NNLNNN)", mib(r->inc), mib(r->mem),
                                                 (long long)r->occ, mib(r->peak),
                                                 mib(r->heap_net), mib(r->heap_alloc))
                                 : Py_NewRef(Py_None);
            if (v == NULL) {
                Py_DECREF(rows);
                Py_DECREF(out);
                return NULL;
            }
            PyList_SET_ITEM(rows, j, v);
        }
        PyObject *t = Py_BuildValue("(OOiN)", b->filename, b->code, b->first_line, rows);
        if (t == NULL) {
            Py_DECREF(out);
            return NULL;
        }
        PyList_SET_ITEM(out, i, t);
    }
    return out;
}

/* stream.write(text) for a C string (UTF-8), optionally followed by a str. */
/* End the line in buf (cap bytes, NUL-terminated) with a newline, if room. */
static void add_newline(char *buf, size_t cap)
{
    size_t n = strlen(buf);
    if (n + 1 < cap) {
        buf[n] = '\n';
        buf[n + 1] = '\0';
    }
}

static int write_text(PyObject *write, const char *text, PyObject *tail)
{
    PyObject *s = PyUnicode_FromString(text);
    if (s == NULL) {
        return -1;
    }
    if (tail != NULL) {
        PyObject *joined = PyUnicode_Concat(s, tail);
        Py_DECREF(s);
        if (joined == NULL) {
            return -1;
        }
        s = joined;
    }
    PyObject *r = PyObject_CallOneArg(write, s);
    Py_DECREF(s);
    if (r == NULL) {
        return -1;
    }
    Py_DECREF(r);
    return 0;
}

static int write_block(PyObject *write, PyObject *getlines, const mp_block_t *b, int precision,
                       int cols)
{
    char buf[2400];
    int rc = -1;
    PyObject *lines = PyObject_CallOneArg(getlines, b->filename);
    if (lines == NULL || !PyList_Check(lines)) {
        Py_XDECREF(lines);
        return -1;
    }
    PyObject *nl = PyUnicode_FromString("\n\n");
    if (nl == NULL) {
        goto done;
    }
    {
        PyObject *with_nl = PyUnicode_Concat(b->filename, nl);
        if (with_nl == NULL || write_text(write, "Filename: ", with_nl) < 0) {
            Py_XDECREF(with_nl);
            goto done;
        }
        Py_DECREF(with_nl);
    }
    mp_report_header_cols(buf, sizeof(buf) - 1, cols);
    add_newline(buf, sizeof(buf));
    if (write_text(write, buf, NULL) < 0) {
        goto done;
    }
    mp_report_separator_cols(buf, sizeof(buf) - 1, cols);
    add_newline(buf, sizeof(buf));
    if (write_text(write, buf, NULL) < 0) {
        goto done;
    }
    for (int i = 0; i < b->nlines; i++) {
        const mp_row_t *r = &b->rows[i];
        long lineno = (long)b->first_line + i;
        int n;
        if (r->occ) {
            mp_report_extra_t x = {(double)r->peak / MP_MIB, (double)r->heap_net / MP_MIB,
                                   (double)r->heap_alloc / MP_MIB};
            n = mp_report_row_prefix_cols(buf, sizeof(buf), lineno, (double)r->mem / MP_MIB,
                                          (double)r->inc / MP_MIB, (long long)r->occ,
                                          precision, cols, &x);
        } else {
            n = mp_report_blank_prefix_cols(buf, sizeof(buf), lineno, cols);
        }
        if (n < 0 || (size_t)n >= sizeof(buf)) {
            PyErr_SetString(PyExc_ValueError, "precision too large");
            goto done;
        }
        /* The source line as linecache has it, newline included (a last
         * line without one stays without, as in the reference). */
        PyObject *src = (lineno >= 1 && lineno <= PyList_GET_SIZE(lines))
                            ? PyList_GET_ITEM(lines, lineno - 1) : NULL;
        int w;
        if (src != NULL && PyUnicode_Check(src)) {
            w = write_text(write, buf, src);
        } else {
            add_newline(buf, sizeof(buf));
            w = write_text(write, buf, NULL);
        }
        if (w < 0) {
            goto done;
        }
    }
    if (write_text(write, "\n\n", NULL) < 0) {
        goto done;
    }
    rc = 0;
done:
    Py_XDECREF(nl);
    Py_DECREF(lines);
    return rc;
}

const char mp_show_results_doc[] = (
"show_results(prof, stream=None, precision=1)\n--\n\n"
"Write the line-by-line report of prof to stream (default sys.stdout), one\n"
"write() call per row, in the reference's layout. Functions that never ran\n"
"are skipped.");

PyObject *mp_show_results(PyObject *module, PyObject *args, PyObject *kw)
{
    (void)module;
    static char *kwlist[] = {"prof", "stream", "precision", NULL};
    PyObject *prof, *stream = Py_None;
    int precision = 1;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|Oi:show_results", kwlist, &prof, &stream,
                                     &precision)) {
        return NULL;
    }
    if (!PyObject_TypeCheck(prof, profiler_type)) {
        PyErr_SetString(PyExc_TypeError, "show_results() needs a LineProfiler");
        return NULL;
    }
    if (precision < 0 || precision > 50) {
        PyErr_SetString(PyExc_ValueError, "precision must be between 0 and 50");
        return NULL;
    }
    mp_profiler_t *p = (mp_profiler_t *)prof;
    PyObject *write = NULL, *linecache = NULL, *getlines = NULL;
    PyObject *result = NULL;
    if (stream == Py_None) {
        stream = PySys_GetObject("stdout"); /* borrowed */
        if (stream == NULL || stream == Py_None) {
            Py_RETURN_NONE;
        }
    }
    write = PyObject_GetAttrString(stream, "write");
    linecache = PyImport_ImportModule("linecache");
    getlines = linecache ? PyObject_GetAttrString(linecache, "getlines") : NULL;
    if (write == NULL || getlines == NULL) {
        goto done;
    }
    for (Py_ssize_t i = 0; i < p->nblocks; i++) {
        const mp_block_t *b = &p->blocks[i];
        if (block_ran(b) && write_block(write, getlines, b, precision, p->columns) < 0) {
            goto done;
        }
    }
    result = Py_NewRef(Py_None);
done:
    Py_XDECREF(write);
    Py_XDECREF(getlines);
    Py_XDECREF(linecache);
    return result;
}

/* ---------------------------------------------------------------- JSON */

static void json_str_obj(mp_buf_t *b, PyObject *str)
{
    Py_ssize_t n = 0;
    const char *u = PyUnicode_Check(str) ? PyUnicode_AsUTF8AndSize(str, &n) : NULL;
    if (u == NULL) {
        PyErr_Clear(); /* lone surrogates: write what can be written */
        mp_buf_puts(b, "null");
        return;
    }
    mp_json_string(b, u, (size_t)n);
}

static int json_block(mp_buf_t *b, PyObject *getlines, const mp_block_t *blk, int cols)
{
    PyObject *lines = PyObject_CallOneArg(getlines, blk->filename);
    if (lines == NULL) {
        return -1;
    }
    PyObject *name = PyObject_GetAttrString(blk->code, "co_qualname");
    if (name == NULL) {
        PyErr_Clear();
        name = PyObject_GetAttrString(blk->code, "co_name");
    }
    if (name == NULL) {
        Py_DECREF(lines);
        return -1;
    }
    mp_buf_puts(b, "{\"filename\": ");
    json_str_obj(b, blk->filename);
    mp_buf_puts(b, ", \"function\": ");
    json_str_obj(b, name);
    mp_buf_printf(b, ", \"first_line\": %d, \"lines\": [", blk->first_line);
    for (int i = 0; i < blk->nlines; i++) {
        const mp_row_t *r = &blk->rows[i];
        long lineno = (long)blk->first_line + i;
        mp_buf_printf(b, "%s\n    {\"lineno\": %ld, \"source\": ", i ? "," : "", lineno);
        PyObject *src = (PyList_Check(lines) && lineno >= 1 && lineno <= PyList_GET_SIZE(lines))
                            ? PyList_GET_ITEM(lines, lineno - 1) : NULL;
        if (src != NULL && PyUnicode_Check(src)) {
            Py_ssize_t n = 0;
            const char *u = PyUnicode_AsUTF8AndSize(src, &n);
            if (u == NULL) {
                PyErr_Clear();
                mp_buf_puts(b, "null");
            } else {
                while (n > 0 && (u[n - 1] == '\n' || u[n - 1] == '\r')) {
                    n--;
                }
                mp_json_string(b, u, (size_t)n);
            }
        } else {
            mp_buf_puts(b, "null");
        }
        mp_buf_printf(b, ", \"occurrences\": %lld", (long long)r->occ);
        if (r->occ) {
            mp_buf_printf(b, ", \"mem\": %lld, \"increment\": %lld", (long long)r->mem,
                          (long long)r->inc);
            if (cols & MP_COL_PEAK) {
                mp_buf_printf(b, ", \"peak\": %lld", (long long)r->peak);
            }
            if (cols & MP_COL_HEAP) {
                mp_buf_printf(b, ", \"heap_net\": %lld, \"heap_alloc\": %lld",
                              (long long)r->heap_net, (long long)r->heap_alloc);
            }
        }
        mp_buf_puts(b, "}");
    }
    mp_buf_puts(b, "\n  ]}");
    Py_DECREF(name);
    Py_DECREF(lines);
    return 0;
}

PyDoc_STRVAR(to_json_doc,
"to_json()\n--\n\n"
"The whole result as a JSON document (str): backend, mode, columns, and per\n"
"function every source line with its occurrences and, for lines that ran,\n"
"mem and increment (and peak, heap_net, heap_alloc with those columns), all\n"
"in bytes.");

static PyObject *profiler_to_json(PyObject *self, PyObject *unused)
{
    (void)unused;
    mp_profiler_t *p = (mp_profiler_t *)self;
    mp_buf_t b = {0};
    PyObject *result = NULL;
    PyObject *linecache = PyImport_ImportModule("linecache");
    PyObject *getlines = linecache ? PyObject_GetAttrString(linecache, "getlines") : NULL;
    if (getlines == NULL) {
        goto done;
    }
    mp_buf_printf(&b, "{\"format\": \"memory_profiler-c line report\", \"version\": \"%s\", "
                      "\"unit\": \"bytes\", \"backend\": \"%s\", \"exact\": %s, "
                      "\"include_children\": %s, \"columns\": [%s%s%s],\n \"functions\": [",
                  MP_VERSION, mp_backend_name(p->backend), p->exact ? "true" : "false",
                  p->include_children ? "true" : "false",
                  (p->columns & MP_COL_PEAK) ? "\"peak\"" : "",
                  (p->columns & MP_COL_PEAK) && (p->columns & MP_COL_HEAP) ? ", " : "",
                  (p->columns & MP_COL_HEAP) ? "\"heap\"" : "");
    int first = 1;
    for (Py_ssize_t i = 0; i < p->nblocks; i++) {
        const mp_block_t *blk = &p->blocks[i];
        if (!block_ran(blk)) {
            continue;
        }
        mp_buf_puts(&b, first ? "\n  " : ",\n  ");
        first = 0;
        if (json_block(&b, getlines, blk, p->columns) < 0) {
            goto done;
        }
    }
    mp_buf_puts(&b, "\n]}\n");
    if (b.failed) {
        PyErr_NoMemory();
        goto done;
    }
    result = PyUnicode_DecodeUTF8(b.data, (Py_ssize_t)b.len, "surrogateescape");
done:
    mp_buf_free(&b);
    Py_XDECREF(getlines);
    Py_XDECREF(linecache);
    return result;
}

/* ---------------------------------------------------------- attributes */

static PyObject *profiler_get_backend(PyObject *self, void *closure)
{
    (void)closure;
    return PyUnicode_FromString(mp_backend_name(((mp_profiler_t *)self)->backend));
}

static PyObject *profiler_get_enable_count(PyObject *self, void *closure)
{
    (void)closure;
    return PyLong_FromLong(((mp_profiler_t *)self)->enable_count);
}

static PyObject *profiler_get_enabled(PyObject *self, void *closure)
{
    (void)closure;
    return PyBool_FromLong(((mp_profiler_t *)self)->enabled);
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
    if ((c & MP_COL_PEAK) && (c & MP_COL_HEAP)) {
        return Py_BuildValue("(ss)", "peak", "heap");
    }
    if (c & MP_COL_PEAK) {
        return Py_BuildValue("(s)", "peak");
    }
    if (c & MP_COL_HEAP) {
        return Py_BuildValue("(s)", "heap");
    }
    return PyTuple_New(0);
}

static PyGetSetDef profiler_getset[] = {
    {"exact", profiler_get_exact, NULL, "whether memory is read on every line event", NULL},
    {"columns", profiler_get_columns, NULL, "the optional report columns", NULL},
    {"code_map", profiler_get_code_map, NULL,
     "{code: {lineno: (increment, mem_usage, occurrences)}} in MiB (a fresh copy)", NULL},
    {"backend", profiler_get_backend, NULL, "the memory backend's name", NULL},
    {"enable_count", profiler_get_enable_count, NULL, "nesting depth of enable_by_count", NULL},
    {"enabled", profiler_get_enabled, NULL, "whether events are being recorded", NULL},
    {"include_children", profiler_get_include_children, NULL, "children's memory counted", NULL},
    {"max_mem", profiler_get_max_mem, NULL, "the --pdb-mmem limit in MiB, or None", NULL},
    {"on_exceed", profiler_get_on_exceed, profiler_set_on_exceed,
     "called (frame, MiB) the first time memory exceeds max_mem", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyMethodDef profiler_methods[] = {
    {"add_code", profiler_add_code, METH_VARARGS, add_code_doc},
    {"enable", profiler_enable, METH_NOARGS, "Start recording (idempotent)."},
    {"disable", profiler_disable, METH_NOARGS, "Stop recording (idempotent)."},
    {"enable_by_count", profiler_enable_by_count, METH_NOARGS,
     "Enable unless already enabled by count; count one more."},
    {"disable_by_count", profiler_disable_by_count, METH_NOARGS,
     "Count one less; disable when the count reaches zero."},
    {"blocks", profiler_blocks, METH_NOARGS, blocks_doc},
    {"to_json", profiler_to_json, METH_NOARGS, to_json_doc},
    {NULL, NULL, 0, NULL},
};

static PyType_Slot profiler_slots[] = {
    {Py_tp_init, (void *)profiler_init},
    {Py_tp_dealloc, (void *)profiler_dealloc},
    {Py_tp_traverse, (void *)profiler_traverse},
    {Py_tp_clear, (void *)profiler_clear},
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
