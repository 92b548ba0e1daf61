/* profiler.h: the LineProfiler object. Its per-line tables are an
 * mp_table_t of src/core/mp_lines; this object adds what Python needs: the
 * code objects, the filenames as the report shows them, the source lines. */
#ifndef MP_PROFILER_H
#define MP_PROFILER_H

#include "compat.h"
#include "../core/mp_lines.h"
#include "../core/mp_meter.h"

#include <stdint.h>

/* One top-level function registered with add_code: a block of the report.
 * Nested code objects (comprehensions, lambdas, inner functions) and
 * profiled copies of the code count in the same block. */
typedef struct {
    PyObject *code;       /* owned: the top-level code object */
    PyObject *filename;   /* owned: str, as the report shows it */
    PyObject *lines;      /* owned: list of str, the source lines of the
                             file as linecache had them when added */
    int first_line, nlines;
} mp_pyblock_t;

typedef struct mp_profiler {
    PyObject_HEAD
    mp_table_t *table;    /* owned */
    mp_pyblock_t *blocks; /* registration order; index = the table's block */
    Py_ssize_t nblocks;
    Py_ssize_t cap;
    PyObject *codes;      /* owned dict: code object -> block index (int) */
    int backend;          /* mp_backend_t */
    int include_children;
    int columns;          /* MP_COL_* */
    int exact;            /* read memory on every line event */
    int global;           /* enabled for every thread (enable()) */
    double max_mem;       /* bytes; < 0: no --pdb-mmem limit */
    PyObject *on_exceed;  /* owned or NULL: called (frame, MiB) when over */
} mp_profiler_t;

/* The backend named by obj (a str; None means "psutil") into *out. 0, or -1
 * with ValueError set listing the names. */
int mp_backend_arg(PyObject *obj, int *out);

/* Create the LineProfiler type and add it to module. 0 or -1. */
int mp_profiler_add_type(PyObject *module);

/* 1 if obj is a LineProfiler (or a subclass instance). */
int mp_profiler_check(PyObject *obj);

/* A profiled call of self begins / ends in this thread (what
 * enable_by_count and disable_by_count do). enter returns 0, or -1 with an
 * exception set. GIL held. */
int mp_profiler_enter(PyObject *self);
void mp_profiler_leave(PyObject *self);

/* A profiler's on_exceed hook due in this thread (the engine found memory
 * over max_mem during an event) is called by mp_profiler_flush, which the
 * event source calls when each event is over, before it lets go of the
 * engine lock. */
extern _Thread_local int mp_profiler_pending __attribute__((tls_model("initial-exec")));
void mp_profiler_run_pending(void);
static inline void mp_profiler_flush(void)
{
    if (__builtin_expect(mp_profiler_pending, 0)) {
        mp_profiler_run_pending();
    }
}

#endif
