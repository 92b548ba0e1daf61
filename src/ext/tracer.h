/* tracer.h: interpreter events -> src/core/mp_lines.
 *
 * Shared part (tracer.c): what the engine reads (memory by backend, the
 * heap counters, minus the profiler's own bookkeeping), which code objects
 * are watched, the tick thread, fork. One event source is compiled in:
 * tracer_mon.c (sys.monitoring, 3.12+) or tracer_trace.c (PyEval_SetTrace,
 * up to 3.11); both implement the mp_source_* functions below.
 *
 * Design: everything is installed once and kept while used; what happens
 * per call is bookkeeping. The sys.monitoring tool and its callbacks are
 * taken at the first profiled code and kept for the life of the process
 * (releasing it would move CPython's event version, which overflows after
 * 2^23 changes). Local events are set on a code object when it is first
 * added to a profiler (or wrapped) and cleared when nothing holds it.
 *
 * All functions expect the GIL. */
#ifndef MP_TRACER_H
#define MP_TRACER_H

#include "compat.h"
#include "../core/mp_lines.h"

/* Read memory by backend, bytes; RSS-like backends leave out the
 * profiler's own bookkeeping. The heap backend reads the allocator hooks'
 * counter. Returns 0 or -1 with errno set. Any thread, no GIL needed. */
int mp_tracer_measure(int backend, int children, int64_t *bytes);

/* A table with backend quantity q and columns cols comes to life (+1) or
 * dies (-1): hooks and readers it needs are held. 0, or -1 with an
 * exception set (only on +1). */
int mp_tracer_table_use(int q, int cols, int delta);

/* Something that will profile exists (+1) or is gone (-1): a table, or a
 * profiled function waiting for its next call. The fast mode's watches
 * (Python's large blocks, native allocators) are held meanwhile, so they
 * are installed once, not per call. 0, or -1 with an exception set. */
int mp_tracer_hold(int delta);

/* A profiled call begins in this thread (enter) or ends (leave), or a
 * table is enabled for every thread (global, +1/-1): the event source is
 * on where it must be, the tick thread ticks, the allocator hooks are
 * checked. enter/global return 0, or -1 with an exception set. The count is
 * bumped before anything that can release the GIL. */
int mp_tracer_enter(void);
void mp_tracer_leave(void);
int mp_tracer_global(int delta);

/* The fast mode's tick period in microseconds (default 250). set returns
 * 0, or -1 with ValueError set when out of range (10 us .. 10 s). */
int mp_tracer_set_period(long us);
long mp_tracer_period(void);

/* Create the tracer's objects, register the engine's reader and code
 * hooks and the fork handlers; called from module init. 0 or -1. */
int mp_tracer_init(PyObject *module);

/* ---- implemented by the event source (tracer_mon.c / tracer_trace.c) */

/* Start delivering events for this code object (its first holder) / stop
 * (its last holder went). Never raise: failures are kept for
 * mp_source_take_error. */
void mp_source_watch(PyObject *code);
void mp_source_unwatch(PyObject *code);

/* Events must reach this thread (enter > 0) or every thread (global > 0).
 * Called with the new counts after each change. 0, or -1 with an exception
 * set. */
int mp_source_update(int thread_enters, int globals, int globals_changed);

/* The code object a profiled copy stands for is activated through its own
 * start events (3.12+: 1; up to 3.11 the wrapper does it: 0). */
int mp_source_activates_by_code(void);

/* An error the event source met where it could not raise (set as an
 * exception; returns -1), or 0. */
int mp_source_take_error(void);

/* Module init for the event source. 0 or -1. */
int mp_source_init(PyObject *module);

/* ---- implemented by activator.c, called by the event source */

/* A frame of an activating code copy starts (enter=1) or ends (0). The
 * data is what mp_code_data holds for it. Never raises. */
void mp_activator_event(void *data, int enter);

#endif
