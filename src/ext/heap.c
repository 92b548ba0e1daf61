/* Allocator hooks: see heap.h.
 *
 * The wrappers forward to the allocators saved when they were installed (ctx
 * points at them). Exact accounting keeps block sizes in two address maps:
 * one for MEM and OBJ, whose callers hold the GIL (no lock needed), one for
 * RAW, called without the GIL, under a mutex. Blocks that existed before
 * accounting began are unknown to the maps: freeing them changes nothing, so
 * the figure is "net bytes allocated since profiling began". The maps' own
 * memory comes from calloc, never from the hooked allocators. */
#include "heap.h"

#include "../core/mp_alloc.h"
#include "../core/mp_ptrmap.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

atomic_int mp_heap_due;

typedef struct {
    PyMemAllocatorEx saved;
    PyMemAllocatorDomain domain;
    int installed;
} hook_t;

static hook_t hooks[3] = {
    {.domain = PYMEM_DOMAIN_RAW},
    {.domain = PYMEM_DOMAIN_MEM},
    {.domain = PYMEM_DOMAIN_OBJ},
};

static int watch_users;                  /* GIL */
static int account_users;                /* GIL */
static atomic_int accounting;            /* read by the hooks */

static pthread_mutex_t raw_lock = PTHREAD_MUTEX_INITIALIZER;
static mp_ptrmap_t *raw_map;             /* raw_lock */
static mp_ptrmap_t *gil_map;             /* GIL (MEM and OBJ domains) */
static _Atomic int64_t current_bytes;
static _Atomic int64_t allocated_bytes;

/* Large-block traffic since the last signal (RAW domain). */
#define WATCH_THRESHOLD ((int64_t)256 * 1024)
static _Atomic int64_t churn;

/* Set while this thread is inside a hook: the OBJ and MEM allocators fall
 * through to RAW for large blocks, which must not be counted twice. */
static _Thread_local int in_hook __attribute__((tls_model("initial-exec")));

static inline void add_churn(size_t n)
{
    if (atomic_fetch_add_explicit(&churn, (int64_t)n, memory_order_relaxed) + (int64_t)n
        >= WATCH_THRESHOLD) {
        atomic_store_explicit(&churn, 0, memory_order_relaxed);
        atomic_store_explicit(&mp_heap_due, 1, memory_order_relaxed);
    }
}

/* Blocks over this size go from pymalloc (MEM, OBJ) to RAW: they are the
 * ones that can move RSS. With the MEM/OBJ hooks installed, such a block is
 * seen by the outer hook only (the RAW hook is then re-entered). */
#define LARGE_BLOCK 512

static void note_alloc(hook_t *h, void *ptr, size_t size)
{
    if (ptr == NULL) {
        return;
    }
    if (h->domain == PYMEM_DOMAIN_RAW || size > LARGE_BLOCK) {
        add_churn(size);
    }
    if (!atomic_load_explicit(&accounting, memory_order_relaxed)) {
        return;
    }
    int ok;
    if (h->domain == PYMEM_DOMAIN_RAW) {
        pthread_mutex_lock(&raw_lock);
        ok = raw_map != NULL && mp_ptrmap_put(raw_map, ptr, size) == 0;
        pthread_mutex_unlock(&raw_lock);
    } else {
        ok = gil_map != NULL && mp_ptrmap_put(gil_map, ptr, size) == 0;
    }
    if (ok) {
        atomic_fetch_add_explicit(&current_bytes, (int64_t)size, memory_order_relaxed);
        atomic_fetch_add_explicit(&allocated_bytes, (int64_t)size, memory_order_relaxed);
    }
}

/* RAW blocks come straight from malloc unless a debug allocator wraps them
 * (PYTHONMALLOC=debug, -X dev, debug builds): then their addresses point
 * inside malloc's blocks and malloc_usable_size must not be asked. */
static int raw_is_malloc;                /* set at install, GIL */

/* PYTHONMALLOC=malloc (or malloc_debug): the MEM and OBJ domains call malloc
 * themselves and never reach RAW, so watching RAW alone would miss every
 * large object. Then the watch hooks all three domains. Set at install, GIL. */
static int objects_from_malloc;
#define UNKNOWN_FREE_SIZE 4096

/* Returns the size removed from the accounting map (0 if unknown). */
static size_t note_free(hook_t *h, void *ptr)
{
    size_t size = 0;
    int known = 0;
    if (ptr == NULL) {
        return 0;
    }
    int counting = atomic_load_explicit(&accounting, memory_order_relaxed);
    if (h->domain == PYMEM_DOMAIN_RAW) {
        add_churn(raw_is_malloc ? mp_alloc_usable_size(ptr) : UNKNOWN_FREE_SIZE);
    } else if (!counting && raw_is_malloc) {
        /* Watching MEM/OBJ directly (objects_from_malloc): large frees only. */
        size_t n = mp_alloc_usable_size(ptr);
        if (n > LARGE_BLOCK) {
            add_churn(n);
        }
    }
    if (!counting) {
        return 0;
    }
    if (h->domain == PYMEM_DOMAIN_RAW) {
        pthread_mutex_lock(&raw_lock);
        known = raw_map != NULL && mp_ptrmap_take(raw_map, ptr, &size);
        pthread_mutex_unlock(&raw_lock);
    } else {
        known = gil_map != NULL && mp_ptrmap_take(gil_map, ptr, &size);
    }
    if (known) {
        atomic_fetch_sub_explicit(&current_bytes, (int64_t)size, memory_order_relaxed);
        if (h->domain != PYMEM_DOMAIN_RAW && size > LARGE_BLOCK) {
            add_churn(size);
        }
        return size;
    }
    return 0;
}

static void *hook_malloc(void *ctx, size_t size)
{
    hook_t *h = ctx;
    if (in_hook) {
        return h->saved.malloc(h->saved.ctx, size);
    }
    in_hook = 1;
    void *p = h->saved.malloc(h->saved.ctx, size);
    note_alloc(h, p, size);
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
    note_alloc(h, p, nelem * elsize); /* the allocator checked the overflow */
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
    /* Forget the old address first: once realloc returns, another thread
     * may be handed it again. */
    size_t old = note_free(h, ptr);
    void *p = h->saved.realloc(h->saved.ctx, ptr, size);
    if (p != NULL) {
        note_alloc(h, p, size);
    } else if (old != 0) {
        note_alloc(h, ptr, old); /* failed: the old block lives on */
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
    note_free(h, ptr);
    h->saved.free(h->saved.ctx, ptr);
    in_hook = 0;
}

static void install(hook_t *h)
{
    if (h->installed) {
        return;
    }
    PyMem_GetAllocator(h->domain, &h->saved);
    PyMemAllocatorEx a = {
        .ctx = h,
        .malloc = hook_malloc,
        .calloc = hook_calloc,
        .realloc = hook_realloc,
        .free = hook_free,
    };
    PyMem_SetAllocator(h->domain, &a);
    h->installed = 1;
}

static void uninstall(hook_t *h)
{
    if (!h->installed) {
        return;
    }
    PyMem_SetAllocator(h->domain, &h->saved);
    h->installed = 0;
}

/* A child forked while another thread held raw_lock would deadlock on its
 * first allocation: hold the lock across fork and release it on both sides. */
static void fork_prepare(void) { pthread_mutex_lock(&raw_lock); }
static void fork_release(void) { pthread_mutex_unlock(&raw_lock); }

static void ensure_atfork(void)
{
    static int done;
    if (!done) {
        pthread_atfork(fork_prepare, fork_release, fork_release);
        done = 1;
    }
}

/* Whether RAW hands out malloc's own blocks (see raw_is_malloc). */
static int detect_raw_is_malloc(void)
{
    const char *env = getenv("PYTHONMALLOC");
    if (env != NULL && strstr(env, "debug") != NULL) {
        return 0;
    }
    PyObject *sys = PyImport_ImportModule("sys");
    if (sys == NULL) {
        PyErr_Clear();
        return 0;
    }
    int debug_build = PyObject_HasAttrString(sys, "gettotalrefcount");
    int dev = 0;
    PyObject *flags = PyObject_GetAttrString(sys, "flags");
    PyObject *dm = flags ? PyObject_GetAttrString(flags, "dev_mode") : NULL;
    if (dm != NULL) {
        dev = PyObject_IsTrue(dm) == 1;
    }
    Py_XDECREF(dm);
    Py_XDECREF(flags);
    Py_DECREF(sys);
    PyErr_Clear();
    return !debug_build && !dev;
}

static int detect_objects_from_malloc(void)
{
    const char *env = getenv("PYTHONMALLOC");
    return env != NULL && strncmp(env, "malloc", 6) == 0;
}

int mp_heap_watch_start(void)
{
    ensure_atfork();
    if (!hooks[0].installed) {
        raw_is_malloc = detect_raw_is_malloc();
        objects_from_malloc = detect_objects_from_malloc();
    }
    if (watch_users++ == 0) {
        for (int i = 0; i < (objects_from_malloc ? 3 : 1); i++) {
            install(&hooks[i]);
        }
    }
    return 0;
}

void mp_heap_watch_stop(void)
{
    if (watch_users > 0 && --watch_users == 0 && account_users == 0) {
        for (int i = 0; i < 3; i++) {
            uninstall(&hooks[i]);
        }
    }
}

int mp_heap_start(void)
{
    ensure_atfork();
    if (account_users > 0) {
        account_users++;
        return 0;
    }
    mp_ptrmap_t *r = mp_ptrmap_new(), *g = mp_ptrmap_new();
    if (r == NULL || g == NULL) {
        mp_ptrmap_free(r);
        mp_ptrmap_free(g);
        PyErr_NoMemory();
        return -1;
    }
    pthread_mutex_lock(&raw_lock);
    raw_map = r;
    pthread_mutex_unlock(&raw_lock);
    gil_map = g;
    atomic_store(&current_bytes, 0);
    atomic_store(&allocated_bytes, 0);
    atomic_store(&accounting, 1);
    if (!hooks[0].installed) {
        raw_is_malloc = detect_raw_is_malloc();
        objects_from_malloc = detect_objects_from_malloc();
    }
    for (int i = 0; i < 3; i++) {
        install(&hooks[i]);
    }
    account_users = 1;
    return 0;
}

void mp_heap_stop(void)
{
    if (account_users == 0 || --account_users > 0) {
        return;
    }
    atomic_store(&accounting, 0);
    if (watch_users == 0 || !objects_from_malloc) {
        uninstall(&hooks[1]);
        uninstall(&hooks[2]);
    }
    if (watch_users == 0) {
        uninstall(&hooks[0]);
    }
    pthread_mutex_lock(&raw_lock);
    mp_ptrmap_free(raw_map);
    raw_map = NULL;
    pthread_mutex_unlock(&raw_lock);
    mp_ptrmap_free(gil_map);
    gil_map = NULL;
}

int mp_heap_active(void)
{
    return account_users > 0;
}

int64_t mp_heap_current(void)
{
    return account_users > 0 ? atomic_load_explicit(&current_bytes, memory_order_relaxed) : 0;
}

int64_t mp_heap_allocated(void)
{
    return account_users > 0 ? atomic_load_explicit(&allocated_bytes, memory_order_relaxed) : 0;
}
