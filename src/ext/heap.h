/* heap.h: Python-heap observation through PyMem_SetAllocator hooks.
 *
 * Two uses, each counted by its holders (GIL held for every call here):
 *  - watch: large blocks (pymalloc sends everything over 512 bytes to RAW)
 *    raise mp_lines_due when their traffic passes a threshold: a cheap
 *    signal that RSS may have moved, for the fast mode. Small objects never
 *    reach it, so tight loops pay nothing.
 *  - accounting: all three domains, exact bytes. Each block's size is kept
 *    in an address map so frees subtract exactly what was added. Counted
 *    per thread (the heap columns) and for the process (the "tracemalloc"
 *    backend).
 *
 * Other allocator hooks (tracemalloc, debuggers) may come and go in any
 * order: ours are installed once per domain and never captured as the
 * allocator they forward to; they are removed only when unused and still
 * on top of the chain, else they stay and only forward. If someone drops
 * them from the chain (tracemalloc.stop() restoring what it saw before
 * us), mp_heap_check_chain notices and installs a fresh one on top. */
#ifndef MP_HEAP_H
#define MP_HEAP_H

#include "compat.h"

#include <stdint.h>

/* Add (delta=+1) or drop (-1) a holder of the watch. 0, or -1 with an
 * exception set (only when adding). */
int mp_heap_watch_use(int delta);

/* Add or drop a holder of exact accounting. Counting starts at zero when
 * the first holder arrives. 0, or -1 with an exception set. */
int mp_heap_account_use(int delta);

/* 1 while exact accounting is on. */
int mp_heap_active(void);

/* Net Python-heap bytes allocated since accounting started and not freed,
 * process-wide; 0 when inactive. Any thread. */
int64_t mp_heap_current(void);

/* The highest mp_heap_current has been since accounting started or the
 * last reset (which sets it to the current value). Any thread. */
int64_t mp_heap_peak(void);
void mp_heap_peak_reset(void);

/* Bytes allocated (not net) since accounting started. Any thread. */
int64_t mp_heap_allocated(void);

/* This thread's net (which=0) or allocated (1) bytes since it started;
 * they only move while accounting is on. Any thread. */
int64_t mp_heap_thread(int which);

/* Bytes of the accounting maps (the profiler's own bookkeeping). */
size_t mp_heap_own_bytes(void);

/* Make sure our hooks are still in the allocator chain of every domain in
 * use; install fresh ones on top where they were dropped. Cheap when we
 * are on top. 0, or -1 with an exception set. */
int mp_heap_check_chain(void);

/* For the tests: how many times a dropped hook was installed again. */
int mp_heap_reinstalls(void);

#endif
