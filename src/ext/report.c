/* The report writers: see report.h. Source lines are the ones linecache had
 * when the function was added to the profiler. */
#include "report.h"

#include "engine.h"

#include "../core/mp_json.h"
#include "../core/mp_report.h"

#include <string.h>

#ifndef MP_VERSION
#define MP_VERSION "0.0.0"
#endif

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

/* mp_report's column bits are mp_lines' MP_COL_*. */
static int report_cols(int cols)
{
    return cols & (MP_COL_PEAK | MP_COL_HEAP | MP_COL_NATIVE | MP_COL_EXPLAIN);
}

/* What the line's change was made of (explain): Python heap, native heap,
 * file-backed pages; the rest is what allocators kept or gave back, and
 * pages touched or dropped without an allocation. Bytes. */
static void explain(const mp_row_t *r, int64_t *heap, int64_t *native, int64_t *file,
                    int64_t *other)
{
    *heap = r->heap_net;
    *native = r->native_net;
    *file = r->file;
    *other = r->inc - r->heap_net - r->native_net - r->file;
}

/* End the line in buf (cap bytes, NUL-terminated) with a newline, if room. */
static void add_newline(char *buf, size_t cap)
{
    size_t n = strlen(buf);
    if (n + 1 < cap) {
        buf[n] = '\n';
        buf[n + 1] = '\0';
    }
}

/* Append text + tail (a C string, UTF-8, and an optional str) to out, a
 * list of the pieces to write. */
static int add_text(PyObject *out, const char *text, PyObject *tail)
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
    int rc = PyList_Append(out, s);
    Py_DECREF(s);
    return rc;
}

/* The source line `lineno` of a block (borrowed str), or NULL. */
static PyObject *source_line(const mp_pyblock_t *pb, long lineno)
{
    if (pb->lines == NULL || lineno < 1 || lineno > PyList_GET_SIZE(pb->lines)) {
        return NULL;
    }
    PyObject *src = PyList_GET_ITEM(pb->lines, lineno - 1);
    return PyUnicode_Check(src) ? src : NULL;
}

static int render_block(PyObject *out, const mp_pyblock_t *pb, const mp_block_t *b,
                       int precision, int cols)
{
    char buf[2400];
    PyObject *with_nl = PyUnicode_FromFormat("%U\n\n", pb->filename);
    if (with_nl == NULL || add_text(out, "Filename: ", with_nl) < 0) {
        Py_XDECREF(with_nl);
        return -1;
    }
    Py_DECREF(with_nl);
    int rc = report_cols(cols);
    mp_report_header_cols(buf, sizeof(buf) - 1, rc);
    add_newline(buf, sizeof(buf));
    if (add_text(out, buf, NULL) < 0) {
        return -1;
    }
    mp_report_separator_cols(buf, sizeof(buf) - 1, rc);
    add_newline(buf, sizeof(buf));
    if (add_text(out, buf, NULL) < 0) {
        return -1;
    }
    for (int i = 0; i < b->nlines; i++) {
        const mp_row_t *r = &b->rows[i];
        long lineno = (long)b->first_line + i;
        int n;
        if (r->occ) {
            int64_t eh, en, ef, eo;
            explain(r, &eh, &en, &ef, &eo);
            mp_report_extra_t x = {
                (double)r->peak / MP_MIB,       (double)r->heap_net / MP_MIB,
                (double)r->heap_alloc / MP_MIB, (double)r->native_net / MP_MIB,
                (double)r->native_alloc / MP_MIB, (double)eh / MP_MIB,
                (double)en / MP_MIB,            (double)ef / MP_MIB,
                (double)eo / MP_MIB,
            };
            n = mp_report_row_prefix_cols(buf, sizeof(buf), lineno, (double)r->mem / MP_MIB,
                                          (double)r->inc / MP_MIB, (long long)r->occ,
                                          precision, rc, &x);
        } else {
            n = mp_report_blank_prefix_cols(buf, sizeof(buf), lineno, rc);
        }
        if (n < 0 || (size_t)n >= sizeof(buf)) {
            PyErr_SetString(PyExc_ValueError, "precision too large");
            return -1;
        }
        /* The source line, newline included (a last line without one stays
         * without, as in the reference). */
        PyObject *src = source_line(pb, lineno);
        int w;
        if (src != NULL) {
            w = add_text(out, buf, src);
        } else {
            add_newline(buf, sizeof(buf));
            w = add_text(out, buf, NULL);
        }
        if (w < 0) {
            return -1;
        }
    }
    return add_text(out, "\n\n", NULL);
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
    if (!mp_profiler_check(prof)) {
        PyErr_SetString(PyExc_TypeError, "show_results() needs a LineProfiler");
        return NULL;
    }
    if (precision < 0 || precision > 50) {
        PyErr_SetString(PyExc_ValueError, "precision must be between 0 and 50");
        return NULL;
    }
    mp_profiler_t *p = (mp_profiler_t *)prof;
    if (stream == Py_None) {
        stream = PySys_GetObject("stdout"); /* borrowed */
        if (stream == NULL || stream == Py_None) {
            Py_RETURN_NONE;
        }
    }
    PyObject *write = PyObject_GetAttrString(stream, "write");
    if (write == NULL || !PyCallable_Check(write)) {
        Py_XDECREF(write);
        PyErr_Format(PyExc_TypeError,
                     "show_results: the stream must have a write() method, not %.100s",
                     Py_TYPE(stream)->tp_name);
        return NULL;
    }
    /* The whole report is rendered first and written after: write() runs
     * Python code and lets other threads run, which may add functions to
     * the profiler (moving its arrays) or record more lines meanwhile. */
    PyObject *pieces = PyList_New(0);
    if (pieces == NULL) {
        Py_DECREF(write);
        return NULL;
    }
    int64_t lost = mp_table_lost(p->table);
    int rc = 0;
    if (lost > 0) {
        char note[200];
        snprintf(note, sizeof(note),
                 "Incomplete report: the profiler ran out of memory and dropped %lld "
                 "events.\n\n", (long long)lost);
        rc = add_text(pieces, note, NULL);
    }
    for (Py_ssize_t i = 0; rc == 0 && i < p->nblocks; i++) {
        const mp_block_t *b = mp_table_block(p->table, (int)i);
        if (block_ran(b)) {
            rc = render_block(pieces, &p->blocks[i], b, precision, p->columns);
        }
    }
    for (Py_ssize_t i = 0; rc == 0 && i < PyList_GET_SIZE(pieces); i++) {
        PyObject *r = mp_engine_call_one(write, PyList_GET_ITEM(pieces, i));
        if (r == NULL) {
            rc = -1;
        }
        Py_XDECREF(r);
    }
    Py_DECREF(pieces);
    Py_DECREF(write);
    if (rc < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
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

static int json_block(mp_buf_t *b, const mp_pyblock_t *pb, const mp_block_t *blk, int cols)
{
    PyObject *name = PyObject_GetAttrString(pb->code, "co_qualname");
    if (name == NULL) {
        PyErr_Clear();
        name = PyObject_GetAttrString(pb->code, "co_name");
    }
    if (name == NULL) {
        return -1;
    }
    mp_buf_puts(b, "{\"filename\": ");
    json_str_obj(b, pb->filename);
    mp_buf_puts(b, ", \"function\": ");
    json_str_obj(b, name);
    mp_buf_printf(b, ", \"first_line\": %d, \"lines\": [", blk->first_line);
    for (int i = 0; i < blk->nlines; i++) {
        const mp_row_t *r = &blk->rows[i];
        long lineno = (long)blk->first_line + i;
        mp_buf_printf(b, "%s\n    {\"lineno\": %ld, \"source\": ", i ? "," : "", lineno);
        PyObject *src = source_line(pb, lineno);
        Py_ssize_t n = 0;
        const char *u = src ? PyUnicode_AsUTF8AndSize(src, &n) : NULL;
        if (u == NULL) {
            PyErr_Clear();
            mp_buf_puts(b, "null");
        } else {
            while (n > 0 && (u[n - 1] == '\n' || u[n - 1] == '\r')) {
                n--;
            }
            mp_json_string(b, u, (size_t)n);
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
            if (cols & MP_COL_NATIVE) {
                mp_buf_printf(b, ", \"native_net\": %lld, \"native_alloc\": %lld",
                              (long long)r->native_net, (long long)r->native_alloc);
            }
            if (cols & MP_COL_EXPLAIN) {
                int64_t eh, en, ef, eo;
                explain(r, &eh, &en, &ef, &eo);
                mp_buf_printf(b, ", \"explain\": {\"python_heap\": %lld, \"native\": %lld, "
                                 "\"files\": %lld, \"other\": %lld}",
                              (long long)eh, (long long)en, (long long)ef, (long long)eo);
            }
        }
        mp_buf_puts(b, "}");
    }
    mp_buf_puts(b, "\n  ]}");
    Py_DECREF(name);
    return 0;
}

PyObject *mp_report_json(mp_profiler_t *p)
{
    mp_buf_t b = {0};
    static const char *names[] = {"peak", "heap", "native", "explain"};
    mp_buf_printf(&b, "{\"format\": \"memory_profiler-c line report\", \"version\": \"%s\", "
                      "\"unit\": \"bytes\", \"backend\": \"%s\", \"exact\": %s, "
                      "\"include_children\": %s, \"incomplete\": %s, \"columns\": [",
                  MP_VERSION, mp_backend_name(p->backend), p->exact ? "true" : "false",
                  p->include_children ? "true" : "false",
                  mp_table_lost(p->table) > 0 ? "true" : "false");
    int sep = 0;
    for (int k = 0; k < 4; k++) {
        if (p->columns & (1 << k)) {
            mp_buf_printf(&b, "%s\"%s\"", sep ? ", " : "", names[k]);
            sep = 1;
        }
    }
    mp_buf_puts(&b, "],\n \"functions\": [");
    int first = 1;
    for (Py_ssize_t i = 0; i < p->nblocks; i++) {
        const mp_block_t *blk = mp_table_block(p->table, (int)i);
        if (!block_ran(blk)) {
            continue;
        }
        mp_buf_puts(&b, first ? "\n  " : ",\n  ");
        first = 0;
        if (json_block(&b, &p->blocks[i], blk, p->columns) < 0) {
            mp_buf_free(&b);
            return NULL;
        }
    }
    mp_buf_puts(&b, "\n]}\n");
    return mp_report_str(&b);
}

PyObject *mp_report_str(mp_buf_t *b)
{
    if (b->failed) {
        mp_buf_free(b);
        return PyErr_NoMemory();
    }
    PyObject *text = PyUnicode_DecodeUTF8(b->data ? b->data : "", (Py_ssize_t)b->len,
                                          "surrogateescape");
    mp_buf_free(b);
    return text;
}

/* ------------------------------------------- results as Python objects */

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

PyObject *mp_report_code_map(mp_profiler_t *p)
{
    PyObject *out = PyDict_New();
    PyObject *per_block = PyList_New(p->nblocks);
    if (out == NULL || per_block == NULL) {
        goto fail;
    }
    for (Py_ssize_t i = 0; i < p->nblocks; i++) {
        PyObject *d = block_dict(mp_table_block(p->table, (int)i));
        if (d == NULL) {
            goto fail;
        }
        PyList_SET_ITEM(per_block, i, d);
    }
    PyObject *code, *pidx;
    Py_ssize_t pos = 0;
    while (PyDict_Next(p->codes, &pos, &code, &pidx)) {
        Py_ssize_t idx = PyLong_AsSsize_t(pidx);
        /* Nested code objects share their parent's dict, as in the reference. */
        if (PyDict_SetItem(out, code, PyList_GET_ITEM(per_block, idx)) < 0) {
            goto fail;
        }
    }
    Py_DECREF(per_block);
    return out;
fail:
    Py_XDECREF(out);
    Py_XDECREF(per_block);
    return NULL;
}

const char mp_report_blocks_doc[] = (
"_blocks()\n--\n\n"
"The report's blocks in registration order: a list of (filename, code,\n"
"first_line, rows) where rows has one entry per source line, either None\n"
"(never ran) or (increment, mem_usage, occurrences, peak, heap_net,\n"
"heap_alloc, native_net, native_alloc), memory in MiB (the column figures\n"
"are 0 unless their column is on).");

PyObject *mp_report_blocks(mp_profiler_t *p)
{
    PyObject *out = PyList_New(p->nblocks);
    if (out == NULL) {
        return NULL;
    }
    for (Py_ssize_t i = 0; i < p->nblocks; i++) {
        const mp_block_t *b = mp_table_block(p->table, (int)i);
        PyObject *rows = PyList_New(b->nlines);
        if (rows == NULL) {
            Py_DECREF(out);
            return NULL;
        }
        for (int j = 0; j < b->nlines; j++) {
            const mp_row_t *r = &b->rows[j];
            PyObject *v = r->occ ? Py_BuildValue("(NNLNNNNN)", mib(r->inc), mib(r->mem),
                                                 (long long)r->occ, mib(r->peak),
                                                 mib(r->heap_net), mib(r->heap_alloc),
                                                 mib(r->native_net), mib(r->native_alloc))
                                 : Py_NewRef(Py_None);
            if (v == NULL) {
                Py_DECREF(rows);
                Py_DECREF(out);
                return NULL;
            }
            PyList_SET_ITEM(rows, j, v);
        }
        PyObject *t = Py_BuildValue("(OOiN)", p->blocks[i].filename, p->blocks[i].code,
                                    b->first_line, rows);
        if (t == NULL) {
            Py_DECREF(out);
            return NULL;
        }
        PyList_SET_ITEM(out, i, t);
    }
    return out;
}
