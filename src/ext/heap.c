/* Allocator hooks: see heap.h.
 *
 * Each installed hook is a hook_t whose ctx points at the allocator that was
 * on top when it was installed. A hook_t is never freed and never reused: a
 * thread may still be inside one that was dropped from the chain, and a
 * retired one only forwards.
 *
 * Exact accounting keeps block sizes in two address maps: one for MEM and
 * OBJ, whose callers hold the GIL (no lock needed), one for RAW, called
 * without the GIL, under a mutex. Blocks that existed before accounting
 * began are unknown to the maps: freeing them changes nothing, so the
 * figures are "bytes allocated since profiling began". The maps' memory
 * comes from mmap and calloc, never from the hooked allocators, shrinks as
 * blocks are freed, and is reported by mp_heap_own_bytes so that readings
 * can leave it out.
 *
 * Globals: the engine lock (engine.h: the GIL, or a mutex on free-threaded
 * builds) unless noted. */
#include "heap.h"

#include "../core/mp_alloc.h"
#include "../core/mp_lines.h"
#include "../core/mp_ptrmap.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    PyMemAllocatorEx saved;     /* the allocator below us */
    PyMemAllocatorDomain domain;
    atomic_int retired;         /* dropped from the chain: forward only */
} hook_t;




/* The hooks' state. The engine lock unless a field says otherwise. */
static struct {
    hook_t *live_hook[3];       /* our hook in each domain's chain, or NULL */
#ifdef Py_GIL_DISABLED
    hook_t *_Atomic first_hook[3]; /* atomic: the first one made per domain */
#endif
    int reinstalls;
    int watch_users;
    int account_users;
    atomic_int watching;        /* atomic: read by the hooks */
    atomic_int accounting;      /* atomic: read by the hooks */
    pthread_mutex_t raw_lock;   /* raw_map (RAW calls come without the GIL) */
    mp_ptrmap_t *raw_map;       /* raw_lock */
    mp_ptrmap_t *gil_map;       /* GIL (MEM and OBJ domains) */
    _Atomic int64_t current_bytes;   /* atomic: process-wide net */
    _Atomic int64_t allocated_bytes; /* atomic */
    _Atomic int64_t peak_bytes; /* atomic: the highest current_bytes since the reset */
    _Atomic int64_t churn;      /* atomic: large-block traffic since the last signal */
    /* RAW blocks come straight from malloc unless a debug allocator wraps
     * them (PYTHONMALLOC=debug, -X dev, debug builds): then their addresses
     * point inside malloc's blocks and malloc_usable_size must not be asked.
     * Set at first install. */
    int raw_is_malloc;
    /* PYTHONMALLOC=malloc or mimalloc (and every free-threaded build): the
     * MEM and OBJ domains never reach RAW, so watching RAW alone would miss
     * every large object. Then the watch hooks all three domains. */
    int objects_from_malloc;
    /* ...and their blocks are malloc's own (PYTHONMALLOC=malloc), so a freed
     * block's size can be asked of malloc. Not under mimalloc, whose blocks
     * malloc_usable_size must never see: there a large block's free sends no
     * signal (mimalloc keeps freed memory resident anyway, see the README). */
    int objects_are_malloc;
    /* ...or from an allocator that cannot tell a block's size (mimalloc):
     * the large ones are remembered (big_add). */
    int objects_sizeless;
    int detected;
} H = {
    .raw_lock = PTHREAD_MUTEX_INITIALIZER,
};

/* The MEM and OBJ map: the GIL protects it, or on free-threaded builds its
 * own mutex (MEM and OBJ callers run in parallel there). */
#ifdef Py_GIL_DISABLED
static pthread_mutex_t gil_map_lock = PTHREAD_MUTEX_INITIALIZER;
#define GIL_MAP_LOCK() pthread_mutex_lock(&gil_map_lock)
#define GIL_MAP_UNLOCK() pthread_mutex_unlock(&gil_map_lock)
#else
#define GIL_MAP_LOCK() ((void)0)
#define GIL_MAP_UNLOCK() ((void)0)
#endif

/* This thread's counters (the heap columns). */
static _Thread_local int64_t t_net __attribute__((tls_model("initial-exec")));
static _Thread_local int64_t t_alloc __attribute__((tls_model("initial-exec")));

#define WATCH_THRESHOLD ((int64_t)256 * 1024)

/* Set while this thread is inside a hook: the OBJ and MEM allocators fall
 * through to RAW for large blocks, which must not be counted twice. */
static _Thread_local int in_hook __attribute__((tls_model("initial-exec")));
/* Set by mp_heap_check_chain: a hook that sees its probe marks the domain. */
static _Thread_local int probing __attribute__((tls_model("initial-exec")));
static _Thread_local unsigned probe_seen __attribute__((tls_model("initial-exec")));

static inline void add_churn(size_t n)
{
    if (atomic_fetch_add_explicit(&H.churn, (int64_t)n, memory_order_relaxed) + (int64_t)n
        >= WATCH_THRESHOLD) {
        atomic_store_explicit(&H.churn, 0, memory_order_relaxed);
        atomic_store_explicit(&mp_lines_due, 1, memory_order_relaxed);
    }
}

/* Blocks over this size go from pymalloc (MEM, OBJ) to RAW: they are the
 * ones that can move RSS. */
#define LARGE_BLOCK 512

/* Where MEM and OBJ are served by an allocator whose block sizes cannot be
 * asked (mimalloc: every free-threaded build), the fast mode's watch keeps
 * the addresses of the live blocks of WATCH_THRESHOLD bytes or more, so that
 * their free, which can give pages back, signals a read too. A lock-free
 * open-addressing set: allocations and frees come from every thread at
 * once; a free looks up one or two slots while few large blocks live. When
 * it is full a large block goes untracked (its free then waits for the
 * tick). */
#define BIG_SLOTS 4096u
#define BIG_PROBES 32u
#define BIG_TOMB ((uintptr_t)1)
static _Atomic uintptr_t big_addr[BIG_SLOTS];
static _Atomic size_t big_size[BIG_SLOTS];
static atomic_long big_live;

static inline unsigned big_hash(uintptr_t p)
{
    return (unsigned)((p >> 12) * 0x9E3779B97F4A7C15ull >> 40) & (BIG_SLOTS - 1);
}

static void big_add(void *ptr, size_t size)
{
    uintptr_t p = (uintptr_t)ptr;
    unsigned h = big_hash(p);
    for (unsigned k = 0; k < BIG_PROBES; k++) {
        unsigned i = (h + k) & (BIG_SLOTS - 1);
        uintptr_t cur = atomic_load_explicit(&big_addr[i], memory_order_relaxed);
        if ((cur == 0 || cur == BIG_TOMB)
            && atomic_compare_exchange_strong(&big_addr[i], &cur, p)) {
            atomic_store_explicit(&big_size[i], size, memory_order_relaxed);
            atomic_fetch_add_explicit(&big_live, 1, memory_order_relaxed);
            return;
        }
    }
}

/* The size of ptr if it was tracked (and now is not), else 0. */
static size_t big_take(void *ptr)
{
    if (atomic_load_explicit(&big_live, memory_order_relaxed) == 0) {
        return 0;
    }
    uintptr_t p = (uintptr_t)ptr;
    unsigned h = big_hash(p);
    for (unsigned k = 0; k < BIG_PROBES; k++) {
        unsigned i = (h + k) & (BIG_SLOTS - 1);
        uintptr_t cur = atomic_load_explicit(&big_addr[i], memory_order_relaxed);
        if (cur == 0) {
            return 0;
        }
        if (cur == p) {
            size_t size = atomic_load_explicit(&big_size[i], memory_order_relaxed);
            if (atomic_compare_exchange_strong(&big_addr[i], &cur, BIG_TOMB)) {
                atomic_fetch_sub_explicit(&big_live, 1, memory_order_relaxed);
                return size;
            }
            return 0;
        }
    }
    return 0;
}

/* RAW blocks come straight from malloc unless a debug allocator wraps them
 * (PYTHONMALLOC=debug, -X dev, debug builds): then their addresses point
 * inside malloc's blocks and malloc_usable_size must not be asked. */
#define UNKNOWN_FREE_SIZE 4096

static void note_alloc(const hook_t *h, void *ptr, size_t size)
{
    if (ptr == NULL) {
        return;
    }
    if (atomic_load_explicit(&H.watching, memory_order_relaxed)
        && (h->domain == PYMEM_DOMAIN_RAW || size > LARGE_BLOCK)) {
        add_churn(size);
        if (h->domain != PYMEM_DOMAIN_RAW && H.objects_sizeless
            && size >= (size_t)WATCH_THRESHOLD
            && !atomic_load_explicit(&H.accounting, memory_order_relaxed)) {
            big_add(ptr, size);
        }
    }
    if (!atomic_load_explicit(&H.accounting, memory_order_relaxed)) {
        return;
    }
    int ok;
    if (h->domain == PYMEM_DOMAIN_RAW) {
        pthread_mutex_lock(&H.raw_lock);
        ok = H.raw_map != NULL && mp_ptrmap_put(H.raw_map, ptr, size) == 0;
        pthread_mutex_unlock(&H.raw_lock);
    } else {
        GIL_MAP_LOCK();
        ok = H.gil_map != NULL && mp_ptrmap_put(H.gil_map, ptr, size) == 0;
        GIL_MAP_UNLOCK();
    }
    if (ok) {
        int64_t now = atomic_fetch_add_explicit(&H.current_bytes, (int64_t)size,
                                                memory_order_relaxed) + (int64_t)size;
        int64_t pk = atomic_load_explicit(&H.peak_bytes, memory_order_relaxed);
        while (now > pk && !atomic_compare_exchange_weak_explicit(
                               &H.peak_bytes, &pk, now, memory_order_relaxed,
                               memory_order_relaxed)) {
        }
        atomic_fetch_add_explicit(&H.allocated_bytes, (int64_t)size, memory_order_relaxed);
        t_net += (int64_t)size;
        t_alloc += (int64_t)size;
    }
}

/* Returns the size removed from the H.accounting map (0 if unknown). */
static size_t note_free(const hook_t *h, void *ptr)
{
    size_t size = 0;
    int known = 0;
    if (ptr == NULL) {
        return 0;
    }
    int counting = atomic_load_explicit(&H.accounting, memory_order_relaxed);
    if (atomic_load_explicit(&H.watching, memory_order_relaxed)) {
        if (h->domain == PYMEM_DOMAIN_RAW) {
            add_churn(H.raw_is_malloc ? mp_alloc_usable_size(ptr) : UNKNOWN_FREE_SIZE);
        } else if (!counting && H.objects_are_malloc) {
            size_t n = mp_alloc_usable_size(ptr);
            if (n > LARGE_BLOCK) {
                add_churn(n);
            }
        } else if (!counting && H.objects_sizeless) {
            size_t n = big_take(ptr);
            if (n > 0) {
                add_churn(n);
            }
        }
    }
    if (!counting) {
        return 0;
    }
    if (h->domain == PYMEM_DOMAIN_RAW) {
        pthread_mutex_lock(&H.raw_lock);
        known = H.raw_map != NULL && mp_ptrmap_take(H.raw_map, ptr, &size);
        pthread_mutex_unlock(&H.raw_lock);
    } else {
        GIL_MAP_LOCK();
        known = H.gil_map != NULL && mp_ptrmap_take(H.gil_map, ptr, &size);
        GIL_MAP_UNLOCK();
    }
    if (known) {
        atomic_fetch_sub_explicit(&H.current_bytes, (int64_t)size, memory_order_relaxed);
        t_net -= (int64_t)size;
        if (h->domain != PYMEM_DOMAIN_RAW && size > LARGE_BLOCK
            && atomic_load_explicit(&H.watching, memory_order_relaxed)) {
            add_churn(size);
        }
        return size;
    }
    return 0;
}

/* The hooks. A retired hook, a nested call, or no use: forward only. */
#define PASS_THROUGH(h) \
    (in_hook || atomic_load_explicit(&(h)->retired, memory_order_relaxed))

static inline void *do_malloc(hook_t *h, size_t size)
{
    if (__builtin_expect(probing, 0)) {
        probe_seen |= 1u << h->domain;
    }
    if (PASS_THROUGH(h)) {
        return h->saved.malloc(h->saved.ctx, size);
    }
    in_hook = 1;
    void *p = h->saved.malloc(h->saved.ctx, size);
    note_alloc(h, p, size);
    in_hook = 0;
    return p;
}

static inline void *do_calloc(hook_t *h, size_t nelem, size_t elsize)
{
    if (PASS_THROUGH(h)) {
        return h->saved.calloc(h->saved.ctx, nelem, elsize);
    }
    in_hook = 1;
    void *p = h->saved.calloc(h->saved.ctx, nelem, elsize);
    note_alloc(h, p, nelem * elsize); /* the allocator checked the overflow */
    in_hook = 0;
    return p;
}

static inline void *do_realloc(hook_t *h, void *ptr, size_t size)
{
    if (PASS_THROUGH(h)) {
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

static inline void do_free(hook_t *h, void *ptr)
{
    if (PASS_THROUGH(h)) {
        h->saved.free(h->saved.ctx, ptr);
        return;
    }
    in_hook = 1;
    note_free(h, ptr);
    h->saved.free(h->saved.ctx, ptr);
    in_hook = 0;
}

/* One set of functions per domain, so that a hook always knows its domain.
 *
 * Free-threaded builds: other threads allocate while PyMem_SetAllocator
 * copies the allocator's five pointers, so a thread can read our function
 * with the previous allocator's ctx (a torn read; with the GIL, MEM and OBJ
 * callers hold it and this cannot happen). hook_of then finds our hook for
 * the domain instead of using a ctx that is not ours. And hooks, once
 * installed, stay there forwarding (never uninstalled), so this can only
 * happen at the first install in each domain. */
#ifdef Py_GIL_DISABLED
#define MAX_HOOKS 64
static hook_t *all_hooks[MAX_HOOKS]; /* every hook_t made (never freed) */
static atomic_int nall_hooks;

static inline hook_t *hook_of(void *ctx, int i)
{
    hook_t *h = ctx, *live = atomic_load_explicit(&H.first_hook[i], memory_order_acquire);
    if (__builtin_expect(h == live, 1)) {
        return h;
    }
    int n = atomic_load_explicit(&nall_hooks, memory_order_acquire);
    for (int k = 0; k < n; k++) {
        if (all_hooks[k] == h) {
            return h;
        }
    }
    return live; /* a torn read: ctx was the previous allocator's */
}
#define HOOK_OF(ctx, i) hook_of((ctx), (i))
#else
#define HOOK_OF(ctx, i) ((hook_t *)(ctx))
#endif

#define DEFINE_HOOKS(i)                                                          \
    static void *hook_malloc_##i(void *ctx, size_t size)                         \
    {                                                                            \
        return do_malloc(HOOK_OF(ctx, i), size);                                 \
    }                                                                            \
    static void *hook_calloc_##i(void *ctx, size_t nelem, size_t elsize)         \
    {                                                                            \
        return do_calloc(HOOK_OF(ctx, i), nelem, elsize);                        \
    }                                                                            \
    static void *hook_realloc_##i(void *ctx, void *ptr, size_t size)             \
    {                                                                            \
        return do_realloc(HOOK_OF(ctx, i), ptr, size);                           \
    }                                                                            \
    static void hook_free_##i(void *ctx, void *ptr)                              \
    {                                                                            \
        do_free(HOOK_OF(ctx, i), ptr);                                           \
    }
DEFINE_HOOKS(0)
DEFINE_HOOKS(1)
DEFINE_HOOKS(2)

static const PyMemAllocatorEx hook_fns[3] = {
    {NULL, hook_malloc_0, hook_calloc_0, hook_realloc_0, hook_free_0},
    {NULL, hook_malloc_1, hook_calloc_1, hook_realloc_1, hook_free_1},
    {NULL, hook_malloc_2, hook_calloc_2, hook_realloc_2, hook_free_2},
};

static const PyMemAllocatorDomain domains[3] = {
    PYMEM_DOMAIN_RAW, PYMEM_DOMAIN_MEM, PYMEM_DOMAIN_OBJ,
};

static int on_top(int i)
{
    PyMemAllocatorEx cur;
    PyMem_GetAllocator(domains[i], &cur);
    return cur.malloc == hook_fns[i].malloc && cur.ctx == H.live_hook[i];
}

/* Put a fresh hook on top of domain i. Never captures a hook of ours as
 * the allocator to forward to: if ours is on top already, nothing to do. */
static int install(int i)
{
    PyMemAllocatorEx cur;
    PyMem_GetAllocator(domains[i], &cur);
    if (cur.malloc == hook_fns[i].malloc) {
        hook_t *top = cur.ctx;
        if (!atomic_load(&top->retired)) {
            H.live_hook[i] = top;
            return 0;
        }
        /* A retired hook of ours on top: forward to what it forwards to. */
        cur = top->saved;
    }
    hook_t *h = calloc(1, sizeof(*h)); /* never freed (see above) */
    if (h == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    h->saved = cur;
    h->domain = domains[i];
#ifdef Py_GIL_DISABLED
    int k = atomic_load(&nall_hooks);
    if (k == MAX_HOOKS) { /* hooks are never uninstalled here: cannot happen */
        free(h);
        PyErr_SetString(PyExc_RuntimeError, "memory_profiler: too many allocator hooks");
        return -1;
    }
    all_hooks[k] = h;
    atomic_store_explicit(&nall_hooks, k + 1, memory_order_release);
    if (atomic_load(&H.first_hook[i]) == NULL) {
        atomic_store_explicit(&H.first_hook[i], h, memory_order_release);
    }
#endif
    PyMemAllocatorEx a = hook_fns[i];
    a.ctx = h;
    if (H.live_hook[i] != NULL) {
        atomic_store(&H.live_hook[i]->retired, 1);
    }
    PyMem_SetAllocator(domains[i], &a);
    H.live_hook[i] = h;
    return 0;
}

/* Remove the hook of domain i if it is on top; else leave it forwarding. */
static void uninstall(int i)
{
    if (H.live_hook[i] == NULL) {
        return;
    }
#ifdef Py_GIL_DISABLED
    /* Stay: every change of the allocator is a moment where other threads
     * can read it torn. Unused, the hook only forwards. */
    return;
#endif
    if (on_top(i)) {
        PyMem_SetAllocator(domains[i], &H.live_hook[i]->saved);
        atomic_store(&H.live_hook[i]->retired, 1);
        H.live_hook[i] = NULL;
    }
    /* Not on top: someone hooked above us and forwards to us. We stay, and
     * only forward while unused (H.watching and H.accounting are off). */
}

/* A child forked while another thread held H.raw_lock would deadlock on its
 * first allocation: hold the lock across fork and release it on both sides. */
static void fork_prepare(void)
{
    pthread_mutex_lock(&H.raw_lock);
    GIL_MAP_LOCK();
}
static void fork_release(void)
{
    GIL_MAP_UNLOCK();
    pthread_mutex_unlock(&H.raw_lock);
}

/* Debug builds and -X dev put debug hooks under every domain: then block
 * addresses point inside malloc's blocks. */
static void detect_debug_hooks(void)
{
    PyObject *sys = PyImport_ImportModule("sys");
    if (sys == NULL) {
        PyErr_Clear();
        H.raw_is_malloc = 0;
        return;
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
    if (debug_build || dev) {
        H.raw_is_malloc = 0;
    }
}

static void detect(void)
{
    static int atfork_done;
    if (!atfork_done) {
        pthread_atfork(fork_prepare, fork_release, fork_release);
        atfork_done = 1;
    }
    if (H.detected) {
        return;
    }
    H.detected = 1;
    const char *env = getenv("PYTHONMALLOC");
    /* pymalloc sends large blocks to RAW; malloc and mimalloc (the only
     * allocator of free-threaded builds, optional from 3.13 otherwise) serve
     * MEM and OBJ themselves. */
#ifdef Py_GIL_DISABLED
    int pymalloc = 0;
#else
    int pymalloc = env == NULL || env[0] == '\0' || strncmp(env, "pymalloc", 8) == 0
                   || strcmp(env, "debug") == 0;
#endif
    H.objects_from_malloc = !pymalloc;
    H.raw_is_malloc = !(env != NULL && strstr(env, "debug") != NULL);
    detect_debug_hooks();
    /* Debug hooks (which wrap every domain) move the addresses too. */
    H.objects_are_malloc = H.raw_is_malloc && env != NULL && strcmp(env, "malloc") == 0;
    H.objects_sizeless = H.objects_from_malloc && !H.objects_are_malloc;
}

/* Which domains must be hooked for the current uses. */
static unsigned wanted(void)
{
    unsigned w = 0;
    if (H.watch_users > 0) {
        w |= H.objects_from_malloc ? 7u : 1u;
    }
    if (H.account_users > 0) {
        w |= 7u;
    }
    return w;
}

static int apply(void)
{
    unsigned w = wanted();
    for (int i = 0; i < 3; i++) {
        if ((w & (1u << i)) && H.live_hook[i] == NULL && install(i) < 0) {
            return -1;
        }
    }
    for (int i = 0; i < 3; i++) {
        if (!(w & (1u << i))) {
            uninstall(i);
        }
    }
    atomic_store(&H.watching, H.watch_users > 0);
    if (H.watch_users == 0 && atomic_load(&big_live) != 0) {
        /* Blocks freed while nobody watched were never taken out. */
        for (unsigned i = 0; i < BIG_SLOTS; i++) {
            atomic_store_explicit(&big_addr[i], 0, memory_order_relaxed);
        }
        atomic_store(&big_live, 0);
    }
    return 0;
}

int mp_heap_watch_use(int delta)
{
    detect();
    H.watch_users += delta;
    if (H.watch_users < 0) {
        H.watch_users = 0;
    }
    if (apply() < 0) {
        H.watch_users -= delta > 0 ? delta : 0;
        return -1;
    }
    return 0;
}

int mp_heap_account_use(int delta)
{
    detect();
    if (delta > 0) {
        if (H.account_users++ > 0) {
            return 0;
        }
        mp_ptrmap_t *r = mp_ptrmap_new(), *g = mp_ptrmap_new();
        if (r == NULL || g == NULL) {
            mp_ptrmap_free(r);
            mp_ptrmap_free(g);
            H.account_users--;
            PyErr_NoMemory();
            return -1;
        }
        pthread_mutex_lock(&H.raw_lock);
        H.raw_map = r;
        pthread_mutex_unlock(&H.raw_lock);
        GIL_MAP_LOCK();
        H.gil_map = g;
        GIL_MAP_UNLOCK();
        atomic_store(&H.current_bytes, 0);
        atomic_store(&H.allocated_bytes, 0);
        atomic_store(&H.peak_bytes, 0);
        if (apply() < 0) {
            H.account_users--;
            return -1;
        }
        atomic_store(&H.accounting, 1);
        return 0;
    }
    if (H.account_users == 0 || --H.account_users > 0) {
        return 0;
    }
    atomic_store(&H.accounting, 0);
    (void)apply();
    pthread_mutex_lock(&H.raw_lock);
    mp_ptrmap_free(H.raw_map);
    H.raw_map = NULL;
    pthread_mutex_unlock(&H.raw_lock);
    GIL_MAP_LOCK();
    mp_ptrmap_free(H.gil_map);
    H.gil_map = NULL;
    GIL_MAP_UNLOCK();
    return 0;
}

int mp_heap_check_chain(void)
{
    unsigned w = wanted();
    for (int i = 0; i < 3; i++) {
        if (!(w & (1u << i)) || H.live_hook[i] == NULL || on_top(i)) {
            continue;
        }
        /* Someone is above us: are we still below them? A probe
         * allocation tells (a hook that is in the chain sees it). */
        probe_seen = 0;
        probing = 1;
        void *p;
        if (domains[i] == PYMEM_DOMAIN_RAW) {
            p = PyMem_RawMalloc(1);
            PyMem_RawFree(p);
        } else if (domains[i] == PYMEM_DOMAIN_MEM) {
            p = PyMem_Malloc(1);
            PyMem_Free(p);
        } else {
            p = PyObject_Malloc(1);
            PyObject_Free(p);
        }
        probing = 0;
        if (!(probe_seen & (1u << domains[i]))) {
            H.reinstalls++;
            if (install(i) < 0) {
                return -1;
            }
        }
    }
    return 0;
}

int mp_heap_reinstalls(void)
{
    return H.reinstalls;
}

int mp_heap_active(void)
{
    return H.account_users > 0;
}

int64_t mp_heap_current(void)
{
    return H.account_users > 0 ? atomic_load_explicit(&H.current_bytes, memory_order_relaxed) : 0;
}

int64_t mp_heap_peak(void)
{
    return H.account_users > 0 ? atomic_load_explicit(&H.peak_bytes, memory_order_relaxed) : 0;
}

void mp_heap_peak_reset(void)
{
    atomic_store(&H.peak_bytes, atomic_load(&H.current_bytes));
}

int64_t mp_heap_allocated(void)
{
    return H.account_users > 0 ? atomic_load_explicit(&H.allocated_bytes, memory_order_relaxed) : 0;
}

int64_t mp_heap_thread(int which)
{
    return which == 0 ? t_net : t_alloc;
}

size_t mp_heap_own_bytes(void)
{
    pthread_mutex_lock(&H.raw_lock);
    size_t n = mp_ptrmap_bytes(H.raw_map);
    pthread_mutex_unlock(&H.raw_lock);
    GIL_MAP_LOCK();
    n += mp_ptrmap_bytes(H.gil_map);
    GIL_MAP_UNLOCK();
    return n;
}
