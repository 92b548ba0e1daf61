/* Allocator hooks for exact Python-heap bytes. The wrappers forward to the
 * allocators saved at start (ctx points at them) and keep a map from block
 * address to size, so frees subtract exactly what was added. Blocks that
 * existed before the hooks are unknown to the map: freeing them changes
 * nothing, so the figure is "net bytes allocated since profiling began".
 *
 * RAW-domain calls happen without the GIL, so the map is guarded by a mutex;
 * the map's own memory comes from calloc, never from the hooked allocators. */
#include "heap.h"

#include "../core/mp_ptrmap.h"

#include <pthread.h>
#include <stdatomic.h>

typedef struct {
    PyMemAllocatorEx saved;
    PyMemAllocatorDomain domain;
} hook_t;

static hook_t hooks[3] = {
    {.domain = PYMEM_DOMAIN_RAW},
    {.domain = PYMEM_DOMAIN_MEM},
    {.domain = PYMEM_DOMAIN_OBJ},
};

static pthread_mutex_t map_lock = PTHREAD_MUTEX_INITIALIZER;
static mp_ptrmap_t *map;                 /* map_lock */
static _Atomic int64_t current_bytes;
static _Atomic int64_t allocated_bytes;
static int active;                       /* GIL */

/* Set while this thread is inside a hook: the OBJ and MEM allocators fall
 * through to RAW for large blocks, which must not be counted twice. */
static _Thread_local int in_hook;

static void note_alloc(void *ptr, size_t size)
{
    if (ptr == NULL) {
        return;
    }
    pthread_mutex_lock(&map_lock);
    int ok = (map != NULL && mp_ptrmap_put(map, ptr, size) == 0);
    pthread_mutex_unlock(&map_lock);
    if (ok) {
        atomic_fetch_add_explicit(&current_bytes, (int64_t)size, memory_order_relaxed);
        atomic_fetch_add_explicit(&allocated_bytes, (int64_t)size, memory_order_relaxed);
    }
}

static void note_free(void *ptr)
{
    size_t size = 0;
    if (ptr == NULL) {
        return;
    }
    pthread_mutex_lock(&map_lock);
    int known = (map != NULL && mp_ptrmap_take(map, ptr, &size));
    pthread_mutex_unlock(&map_lock);
    if (known) {
        atomic_fetch_sub_explicit(&current_bytes, (int64_t)size, memory_order_relaxed);
    }
}

static void *hook_malloc(void *ctx, size_t size)
{
    hook_t *h = ctx;
    if (in_hook) {
        return h->saved.malloc(h->saved.ctx, size);
    }
    in_hook = 1;
    void *p = h->saved.malloc(h->saved.ctx, size);
    note_alloc(p, size);
    in_hook = 0;
    return p;
}

static void *hook_calloc(void *ctx, size_t nelem, size_t elsize)
{
    hook_t *h = ctx;
    if (in_hook) {
        return h->saved.calloc(h->saved.ctx, nelem, elsize);
    }
    in_hook = 1;
    void *p = h->saved.calloc(h->saved.ctx, nelem, elsize);
    note_alloc(p, nelem * elsize); /* the allocator checked the overflow */
    in_hook = 0;
    return p;
}

static void *hook_realloc(void *ctx, void *ptr, size_t size)
{
    hook_t *h = ctx;
    if (in_hook) {
        return h->saved.realloc(h->saved.ctx, ptr, size);
    }
    in_hook = 1;
    void *p = h->saved.realloc(h->saved.ctx, ptr, size);
    if (p != NULL || size == 0) {
        note_free(ptr);
        note_alloc(p, size);
    }
    in_hook = 0;
    return p;
}

static void hook_free(void *ctx, void *ptr)
{
    hook_t *h = ctx;
    if (in_hook) {
        h->saved.free(h->saved.ctx, ptr);
        return;
    }
    in_hook = 1;
    /* Forget the address before it can be handed out again by another thread. */
    note_free(ptr);
    h->saved.free(h->saved.ctx, ptr);
    in_hook = 0;
}

/* A child forked while another thread held map_lock would deadlock on its
 * first allocation: hold the lock across fork and release it on both sides. */
static void fork_prepare(void) { pthread_mutex_lock(&map_lock); }
static void fork_release(void) { pthread_mutex_unlock(&map_lock); }

int mp_heap_start(void)
{
    static int atfork_done;
    if (active) {
        return 0;
    }
    if (!atfork_done) {
        pthread_atfork(fork_prepare, fork_release, fork_release);
        atfork_done = 1;
    }
    pthread_mutex_lock(&map_lock);
    map = mp_ptrmap_new();
    pthread_mutex_unlock(&map_lock);
    if (map == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    atomic_store(&current_bytes, 0);
    atomic_store(&allocated_bytes, 0);
    for (int i = 0; i < 3; i++) {
        PyMem_GetAllocator(hooks[i].domain, &hooks[i].saved);
    }
    for (int i = 0; i < 3; i++) {
        PyMemAllocatorEx a = {
            .ctx = &hooks[i],
            .malloc = hook_malloc,
            .calloc = hook_calloc,
            .realloc = hook_realloc,
            .free = hook_free,
        };
        PyMem_SetAllocator(hooks[i].domain, &a);
    }
    active = 1;
    return 0;
}

void mp_heap_stop(void)
{
    if (!active) {
        return;
    }
    for (int i = 0; i < 3; i++) {
        PyMem_SetAllocator(hooks[i].domain, &hooks[i].saved);
    }
    active = 0;
    pthread_mutex_lock(&map_lock);
    mp_ptrmap_free(map);
    map = NULL;
    pthread_mutex_unlock(&map_lock);
}

int mp_heap_active(void)
{
    return active;
}

int64_t mp_heap_current(void)
{
    return active ? atomic_load_explicit(&current_bytes, memory_order_relaxed) : 0;
}

int64_t mp_heap_allocated(void)
{
    return active ? atomic_load_explicit(&allocated_bytes, memory_order_relaxed) : 0;
}
