/* profiler.h: the LineProfiler object and the per-line tables it owns. */
#ifndef MP_PROFILER_H
#define MP_PROFILER_H

#include "compat.h"
#include "../core/mp_meter.h"

#include <stdint.h>

/* What one source line accumulated. Bytes; occ counts finished executions. */
typedef struct {
    int64_t inc;        /* sum over executions of (after - before) */
    int64_t mem;        /* highest reading seen right after the line */
    int64_t occ;
    int64_t peak;       /* highest reading while the line ran (peak column) */
    int64_t heap_net;   /* Python-heap bytes allocated - freed (heap column) */
    int64_t heap_alloc; /* Python-heap bytes allocated (heap column) */
} mp_row_t;

/* Optional columns (bit mask). */
#define MP_COL_PEAK 1
#define MP_COL_HEAP 2

/* One top-level function registered with add_function: a block of the
 * report. Nested functions and comprehensions write into their parent's rows. */
typedef struct {
    PyObject *code;      /* owned: the top-level code object */
    PyObject *filename;  /* owned: str, as the report shows it */
    int first_line;      /* line number of rows[0] */
    int nlines;
    mp_row_t *rows;      /* nlines rows, from calloc (never Python's
                            allocators, so the heap hooks never see them) */
} mp_block_t;

typedef struct mp_profiler {
    PyObject_HEAD
    mp_block_t *blocks;   /* registration order */
    Py_ssize_t nblocks;
    Py_ssize_t cap;
    PyObject *codes;      /* owned dict: code object -> block index (int) */
    int backend;          /* mp_backend_t */
    int include_children;
    int enable_count;
    int enabled;          /* subscribed to the tracer */
    int columns;          /* MP_COL_* */
    int exact;            /* read memory on every line event */
    double max_mem;       /* bytes; < 0: no --pdb-mmem limit */
    int exceeded;         /* the limit fired once already */
    PyObject *on_exceed;  /* owned or NULL: called (frame, MiB) when over */
} mp_profiler_t;

/* The row of `line` in block idx (grown if past the end), or NULL for a
 * line before the block. GIL held. */
mp_row_t *mp_profiler_row(mp_profiler_t *p, Py_ssize_t idx, int line);

/* The backend named by obj (a str; None means "psutil") into *out. 0, or -1
 * with ValueError set listing the names. */
int mp_backend_arg(PyObject *obj, int *out);

/* Create the LineProfiler type and add it to module. 0 or -1. */
int mp_profiler_add_type(PyObject *module);

/* _core.show_results(prof, stream=None, precision=1) */
PyObject *mp_show_results(PyObject *module, PyObject *args, PyObject *kw);
extern const char mp_show_results_doc[];

/* 1 if obj is a LineProfiler (or a subclass instance). */
int mp_profiler_check(PyObject *obj);

/* enable_by_count / disable_by_count for C callers (the function wrapper).
 * 0, or -1 with an exception set. GIL held. */
int mp_profiler_enter(PyObject *self);
int mp_profiler_leave(PyObject *self);

#endif
