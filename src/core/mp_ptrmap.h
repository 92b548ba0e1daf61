/* mp_ptrmap: an open-addressing hash map from block address to block size,
 * used to account exactly for the bytes freed through the allocator hooks
 * (a free carries no size). Only blocks it has seen are known: a free of an
 * unknown address returns 0 and changes nothing.
 *
 * Not thread-safe: the caller serialises access (the allocator hooks hold a
 * mutex because RAW-domain calls happen without the GIL). Its own memory comes
 * from mmap (the table) and calloc (its header), never from Python's
 * allocators, so the hooks never see the profiler's bookkeeping; the table
 * shrinks as entries leave and its pages go back to the system. */
#ifndef MP_PTRMAP_H
#define MP_PTRMAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct mp_ptrmap mp_ptrmap_t;

/* New empty map. Returns NULL when out of memory. */
mp_ptrmap_t *mp_ptrmap_new(void);

/* Free the map; NULL is a no-op. */
void mp_ptrmap_free(mp_ptrmap_t *m);

/* Record ptr -> size, replacing an existing entry. Returns 0, or -1 when the
 * table cannot grow (the entry is then not recorded). */
int mp_ptrmap_put(mp_ptrmap_t *m, const void *ptr, size_t size);

/* Remove ptr. Returns 1 and stores its size in *size when it was known, 0
 * when it was not. */
int mp_ptrmap_take(mp_ptrmap_t *m, const void *ptr, size_t *size);

/* Look ptr up without removing it. Returns 1 and stores its size in *size
 * when known, 0 when not. */
int mp_ptrmap_get(const mp_ptrmap_t *m, const void *ptr, size_t *size);

/* Number of entries. */
size_t mp_ptrmap_count(const mp_ptrmap_t *m);

/* Bytes of the map's table (whole pages); 0 for NULL. */
size_t mp_ptrmap_bytes(const mp_ptrmap_t *m);

#endif
