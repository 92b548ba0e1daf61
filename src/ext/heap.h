/* heap.h: Python-heap observation through PyMem_SetAllocator hooks.
 *
 * Two levels, each counted by its users (GIL held for every call here):
 *  - watch: RAW domain only. Counts bytes passing through malloc/free of
 *    large blocks (pymalloc sends everything over 512 bytes to RAW) and
 *    raises mp_heap_due when they pass a threshold: a cheap signal that RSS
 *    may have moved, for the tracer's fast mode. Small objects never reach
 *    it, so tight loops pay nothing.
 *  - account: all three domains, exact bytes: every block's size is kept in
 *    an address map so frees subtract exactly what was added. This is the
 *    "tracemalloc" backend and the heap columns. */
#ifndef MP_HEAP_H
#define MP_HEAP_H

#include "compat.h"

#include <stdatomic.h>
#include <stdint.h>

/* Set (to 1) by the watch hooks when large-block traffic passed the
 * threshold since it was last cleared. The tracer clears it. */
extern atomic_int mp_heap_due;

/* Start/stop watching (RAW churn signal). 0, or -1 with an exception set. */
int mp_heap_watch_start(void);
void mp_heap_watch_stop(void);

/* Start/stop exact accounting. Counting starts at zero on the first start.
 * 0, or -1 with an exception set. */
int mp_heap_start(void);
void mp_heap_stop(void);

/* 1 while exact accounting is on. */
int mp_heap_active(void);

/* Net bytes allocated through the hooks since accounting started and not
 * freed; 0 when inactive. Any thread. */
int64_t mp_heap_current(void);

/* Bytes allocated (not net) since accounting started. Any thread. */
int64_t mp_heap_allocated(void);

#endif
