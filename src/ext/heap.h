/* heap.h: exact Python-heap accounting through PyMem_SetAllocator hooks on the
 * RAW, MEM and OBJ domains: the "tracemalloc" backend, without snapshots. */
#ifndef MP_HEAP_H
#define MP_HEAP_H

#include "compat.h"

#include <stdint.h>

/* Install the hooks (idempotent; GIL held). Counting starts at zero.
 * Returns 0, or -1 with an exception set. */
int mp_heap_start(void);

/* Restore the saved allocators (GIL held). Blocks allocated meanwhile remain
 * valid: the hooks add no headers. */
void mp_heap_stop(void);

/* 1 while the hooks are installed. */
int mp_heap_active(void);

/* Net bytes allocated through the hooks since mp_heap_start and not freed;
 * 0 when inactive. Any thread. */
int64_t mp_heap_current(void);

/* Bytes allocated (not net) since start. */
int64_t mp_heap_allocated(void);

#endif
