#include "mp_alloc.h"

#if defined(__GLIBC__) || defined(__linux__)
#include <malloc.h>

size_t mp_alloc_usable_size(void *ptr)
{
    return ptr != NULL ? malloc_usable_size(ptr) : 0;
}
#else
size_t mp_alloc_usable_size(void *ptr)
{
    (void)ptr;
    return 0;
}
#endif
