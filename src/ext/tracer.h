/* tracer.h: turns interpreter events into per-line records.
 *
 * One tracer per process serves every enabled LineProfiler: a registry maps
 * each profiled code object to the profilers that want it; per-thread stacks
 * remember, for each active profiled frame, which line is running and what
 * memory was when it began. Up to 3.11 events come from PyEval_SetTrace in
 * every thread; from 3.12 from sys.monitoring local events on the profiled
 * code objects only. All functions expect the GIL. */
#ifndef MP_TRACER_H
#define MP_TRACER_H

#include "profiler.h"

/* Subscribe profiler p (block idx) to code. Returns 0, or -1 with an
 * exception set. */
int mp_tracer_subscribe(PyObject *code, mp_profiler_t *p, Py_ssize_t idx);

/* Remove every subscription of p. Never fails. */
void mp_tracer_unsubscribe_all(const mp_profiler_t *p);

/* Start delivering events if not yet (first enabled profiler) / stop once no
 * profiler is enabled. Return 0 or -1 with an exception set. */
int mp_tracer_start(void);
int mp_tracer_stop(void);

/* Count (delta=+1) or uncount (-1) what profiler p needs measured: its
 * backend, children flag, columns and exactness. Returns 0, or -1 with an
 * exception set (only when counting). */
int mp_tracer_use(mp_profiler_t *p, int delta);

/* Read memory by backend, bytes. The heap backend reads the allocator hooks'
 * counter. Returns 0 or -1 with errno set. */
int mp_tracer_measure(int backend, int children, int64_t *bytes);

/* The fast mode's tick period in microseconds (default 250). */
void mp_tracer_set_period(long us);
long mp_tracer_period(void);

/* Create the tracer's Python-visible objects; called from module init. */
int mp_tracer_init(PyObject *module);

#endif
