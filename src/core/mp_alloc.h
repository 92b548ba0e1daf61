/* mp_alloc: what the C library can tell about a block it allocated. */
#ifndef MP_ALLOC_H
#define MP_ALLOC_H

#include <stddef.h>

/* Usable size of a block from malloc/calloc/realloc (>= what was asked),
 * 0 for NULL or where the C library cannot tell. Any thread, no locks. */
size_t mp_alloc_usable_size(void *ptr);

#endif
