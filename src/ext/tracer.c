/* The tracer: interpreter events -> per-line records. See tracer.h.
 *
 * Globals below are protected by the GIL unless noted otherwise. */
#include "tracer.h"

#include "heap.h"
#include "../core/mp_ptrmap.h"
#include "../core/mp_tick.h"

#include <errno.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- registry */

typedef struct {
    mp_profiler_t *prof; /* borrowed: a profiler unsubscribes before it dies */
    Py_ssize_t idx;      /* its block */
} sub_t;

typedef struct {
    PyObject *code;      /* borrowed: kept alive by each subscriber's codes dict */
    int first_line;      /* co_firstlineno */
    int nsubs;
    int cap;
    sub_t *subs;
} codeinfo_t;

static mp_ptrmap_t *registry;      /* code address -> codeinfo_t* */
static codeinfo_t **infos;         /* every entry, for iteration */
static size_t ninfos, infos_cap;
static PyObject *last_code;        /* one-entry lookup cache (borrowed) */
static codeinfo_t *last_info;
static int running;                /* events are being delivered */
static uint64_t epoch = 1;         /* bumped on stop: thread stacks go stale */

/* Readings. A slot is one (backend, children) pair in use by an enabled
 * profiler; SLOT_ALLOC is the heap column's allocated-bytes counter.
 *
 * Fast mode: RSS-like slots are read (a system call, ~1 us) only when a
 * read is due: the tick thread's flag (every mp_tick period) or the heap
 * watch's flag (large-block traffic) is up. Otherwise a line event reuses
 * the last reading, so a line's change is attributed when the line ends
 * after a due read; see the README for the bound. Counter slots (the heap)
 * cost a load and are read on every event. Exact mode reads every event. */
enum { NSLOTS = MP_BACKEND_COUNT * 2 };
#define SLOT_ALLOC NSLOTS
#define NVALS (NSLOTS + 1)
#define SLOT_RSS 0              /* backend psutil, no children: has a peak */

static int slot_users[NVALS];
static unsigned used_mask;      /* slots in use */
static unsigned syscall_mask;   /* of which need a system call to read */
static unsigned counter_mask;   /* of which are cheap counters */
static int exact_users, peak_users, heap_col_users;

typedef struct {
    int64_t v[NVALS];
    uint64_t gen;               /* bumped whenever a value changes */
} cache_t;

static cache_t cache;           /* GIL */

static inline int slot_of(int backend, int children)
{
    return backend * 2 + (children ? 1 : 0);
}

static inline codeinfo_t *lookup(PyObject *code)
{
    size_t v = 0;
    if (code == last_code) {
        return last_info;
    }
    if (registry == NULL || !mp_ptrmap_get(registry, code, &v)) {
        return NULL;
    }
    last_code = code;
    last_info = (codeinfo_t *)v;
    return last_info;
}

static void recompute_masks(void)
{
    used_mask = syscall_mask = counter_mask = 0;
    for (int s = 0; s < NVALS; s++) {
        if (slot_users[s] <= 0) {
            continue;
        }
        used_mask |= 1u << s;
        if (s == SLOT_ALLOC || s / 2 == MP_BACKEND_HEAP) {
            counter_mask |= 1u << s;
        } else {
            syscall_mask |= 1u << s;
        }
    }
}

int mp_tracer_measure(int backend, int children, int64_t *bytes)
{
    if (backend == MP_BACKEND_HEAP) {
        *bytes = mp_heap_current();
        return 0;
    }
    return mp_meter_read((mp_backend_t)backend, 0, children, bytes);
}

/* ------------------------------------------------------- per-thread stacks */

typedef struct {
    PyObject *code;      /* borrowed, identity only */
    void *frame;         /* identity of the frame (up to 3.11), else NULL */
    int line;            /* the line now running */
    int fresh;           /* no line event yet since start/resume */
    int nested;          /* a frame of the same code is below it (recursion) */
    uint64_t gen;        /* cache generation of start[] */
    int64_t start[NVALS];
    int64_t peak[NSLOTS];      /* highest reading while `line` ran */
    int64_t life_peak[NSLOTS]; /* highest reading over the frame's life */
} fstate_t;

typedef struct {
    fstate_t *v;
    size_t n, cap;
    uint64_t epoch;
} tstack_t;

/* initial-exec: one load from the thread pointer, not a __tls_get_addr call
 * per event (this is one pointer of static TLS). */
static _Thread_local tstack_t *tls_stack __attribute__((tls_model("initial-exec")));
static pthread_key_t stack_key;   /* frees a thread's stack when it ends */
static int key_ready;

static void stack_destroy(void *p)
{
    tstack_t *st = p;
    if (st != NULL) {
        free(st->v);
        free(st);
    }
}

static tstack_t *new_stack(void)
{
    tstack_t *st = calloc(1, sizeof(*st));
    if (st != NULL) {
        st->epoch = epoch;
        tls_stack = st;
        pthread_setspecific(stack_key, st);
    }
    return st;
}

static inline tstack_t *my_stack(void)
{
    tstack_t *st = tls_stack;
    if (st == NULL) {
        st = new_stack();
        if (st == NULL) {
            return NULL;
        }
    }
    if (st->epoch != epoch) {
        st->n = 0;
        st->epoch = epoch;
    }
    return st;
}

/* Read what is due into the cache. The top frame (if any) sees the
 * readings and the kernel's peak in its peak[]. */
static void refresh_slow(fstate_t *top);

/* The common case costs two loads and a test. */
static inline void refresh(fstate_t *top)
{
    if (exact_users == 0 && counter_mask == 0
        && !atomic_load_explicit(&mp_tick_due, memory_order_relaxed)
        && !atomic_load_explicit(&mp_heap_due, memory_order_relaxed)) {
        return;
    }
    refresh_slow(top);
}

static void refresh_slow(fstate_t *top)
{
    int due = exact_users > 0;
    if (atomic_load_explicit(&mp_tick_due, memory_order_relaxed)) {
        if (mp_tick_alive()) {
            atomic_store_explicit(&mp_tick_due, 0, memory_order_relaxed);
        }
        due = 1;
    }
    if (atomic_load_explicit(&mp_heap_due, memory_order_relaxed)) {
        atomic_store_explicit(&mp_heap_due, 0, memory_order_relaxed);
        due = 1;
    }
    int changed = 0;
    int64_t hwm = -1;
    if (due && syscall_mask) {
        for (int s = 0; s < NSLOTS; s++) {
            if (!(syscall_mask & (1u << s))) {
                continue;
            }
            int64_t v, rss, h;
            int rc;
            if (s == SLOT_RSS && peak_users > 0) {
                rc = mp_meter_self_peak(&rss, &h, 1);
                v = rss;
                hwm = h;
            } else {
                rc = mp_tracer_measure(s / 2, s % 2, &v);
            }
            if (rc == 0 && v != cache.v[s]) {
                cache.v[s] = v;
                changed = 1;
            }
        }
    }
    if (counter_mask) {
        int s = slot_of(MP_BACKEND_HEAP, 0);
        int64_t cur = mp_heap_current();
        if ((counter_mask & (3u << s)) && cur != cache.v[s]) {
            cache.v[s] = cache.v[s + 1] = cur;
            changed = 1;
        }
        int64_t al = mp_heap_allocated();
        if ((counter_mask & (1u << SLOT_ALLOC)) && al != cache.v[SLOT_ALLOC]) {
            cache.v[SLOT_ALLOC] = al;
            changed = 1;
        }
    }
    if (changed) {
        cache.gen++;
    }
    if (top != NULL && (changed || hwm >= 0)) {
        for (int s = 0; s < NSLOTS; s++) {
            if (used_mask & (1u << s)) {
                int64_t v = cache.v[s];
                if (s == SLOT_RSS && hwm > v) {
                    v = hwm;
                }
                if (v > top->peak[s]) {
                    top->peak[s] = v;
                }
            }
        }
    }
}

static inline void reset_peak(fstate_t *f)
{
    if (peak_users > 0) {
        memcpy(f->peak, cache.v, sizeof(f->peak));
    }
}

static void begin_line(fstate_t *f)
{
    memcpy(f->start, cache.v, sizeof(f->start));
    f->gen = cache.gen;
    reset_peak(f);
}

static fstate_t *push(tstack_t *st, PyObject *code, void *frame, int line)
{
    if (st->n == st->cap) {
        size_t ncap = st->cap ? st->cap * 2 : 16;
        fstate_t *nv = realloc(st->v, ncap * sizeof(fstate_t));
        if (nv == NULL) {
            return NULL;
        }
        st->v = nv;
        st->cap = ncap;
    }
    if (st->v == NULL) {
        return NULL; /* unreachable (cap > 0 implies v), for the analyzer */
    }
    refresh(st->n ? &st->v[st->n - 1] : NULL);
    /* Recursion: a line's increment includes its callees, so counting it in
     * every level would add each inner level's growth again (quadratic in the
     * depth). Increments count in the outermost frame of a code object only;
     * occurrences and memory in all. */
    int nested = 0;
    for (size_t i = st->n; i-- > 0;) {
        /* v[0..n) are all initialised by earlier pushes (the analyzer cannot
         * follow that across realloc). */
        if (st->v[i].code == code) { // NOLINT(clang-analyzer-core.UndefinedBinaryOperatorResult)
            nested = 1;
            break;
        }
    }
    fstate_t *f = &st->v[st->n++];
    f->nested = nested;
    f->code = code;
    f->frame = frame;
    f->line = line;
    f->fresh = 1;
    begin_line(f);
    memcpy(f->peak, cache.v, sizeof(f->peak));
    memcpy(f->life_peak, cache.v, sizeof(f->life_peak));
    return f;
}

static void check_limit(mp_profiler_t *p, int64_t now, void *frame)
{
    p->exceeded = 1;
    PyObject *fr = frame ? (PyObject *)frame : (PyObject *)PyEval_GetFrame();
    PyObject *et, *ev, *tb;
    PyErr_Fetch(&et, &ev, &tb);
    PyObject *r = PyObject_CallFunction(p->on_exceed, "Od", fr ? fr : Py_None,
                                        (double)now / 1048576.0);
    if (r == NULL) {
        PyErr_WriteUnraisable(p->on_exceed);
    }
    Py_XDECREF(r);
    PyErr_Restore(et, ev, tb);
}

/* The line f->line has finished (the cache is fresh): give every
 * subscriber its share, then start the next line at the cache's values. */
static inline mp_row_t *row_of(mp_profiler_t *p, Py_ssize_t idx, int line)
{
    mp_block_t *b = &p->blocks[idx];
    unsigned i = (unsigned)(line - b->first_line);
    if (__builtin_expect(i < (unsigned)b->nlines, 1)) {
        return &b->rows[i];
    }
    return mp_profiler_row(p, idx, line);
}

static void finish_line_full(codeinfo_t *info, fstate_t *f, void *frame);

/* The common case (nothing moved since the line began, one plain
 * subscriber): count the line and keep its highest reading. */
static inline void finish_line(codeinfo_t *info, fstate_t *f, void *frame)
{
    if (__builtin_expect(f->gen == cache.gen && info->nsubs == 1 && peak_users == 0, 1)) {
        mp_profiler_t *p = info->subs[0].prof;
        if (p->columns == 0 && p->max_mem < 0) {
            mp_row_t *r = row_of(p, info->subs[0].idx, f->line);
            if (r != NULL) {
                int64_t now = cache.v[slot_of(p->backend, p->include_children)];
                if (r->occ++ == 0 || now > r->mem) {
                    r->mem = now;
                }
            }
            return;
        }
    }
    finish_line_full(info, f, frame);
}

static void finish_line_full(codeinfo_t *info, fstate_t *f, void *frame)
{
    int moved = f->gen != cache.gen;
    int counts = moved && !f->nested;
    for (int i = 0; i < info->nsubs; i++) {
        mp_profiler_t *p = info->subs[i].prof;
        mp_row_t *r = row_of(p, info->subs[i].idx, f->line);
        if (r == NULL) {
            continue;
        }
        int s = slot_of(p->backend, p->include_children);
        int64_t now = cache.v[s];
        r->occ++;
        if (r->occ == 1 || now > r->mem) {
            r->mem = now;
        }
        if (counts) {
            r->inc += now - f->start[s];
        }
        if (p->columns) {
            int64_t pk = f->peak[s] > now ? f->peak[s] : now;
            if (r->occ == 1 || pk > r->peak) {
                r->peak = pk;
            }
            if (counts && (p->columns & MP_COL_HEAP)) {
                int h = slot_of(MP_BACKEND_HEAP, 0);
                r->heap_net += cache.v[h] - f->start[h];
                r->heap_alloc += cache.v[SLOT_ALLOC] - f->start[SLOT_ALLOC];
            }
        }
        if (p->max_mem >= 0 && !p->exceeded && (double)now > p->max_mem && p->on_exceed) {
            check_limit(p, now, frame);
        }
    }
    if (peak_users > 0) {
        for (int s = 0; s < NSLOTS; s++) {
            if (f->peak[s] > f->life_peak[s]) {
                f->life_peak[s] = f->peak[s];
            }
        }
    }
    if (moved) {
        begin_line(f);
    } else {
        reset_peak(f);
    }
}

/* A profiled frame starts or resumes at `line`. */
static void ev_start(PyObject *code, void *frame, int line)
{
    tstack_t *st = my_stack();
    if (st != NULL) {
        (void)push(st, code, frame, line);
    }
}

/* A profiled frame is about to run `line`. */
static inline void ev_line(codeinfo_t *info, PyObject *code, void *frame, int line)
{
    tstack_t *st = my_stack();
    if (st == NULL) {
        return;
    }
    fstate_t *top = st->n ? &st->v[st->n - 1] : NULL;
    if (top == NULL || top->code != code || (frame != NULL && top->frame != frame)) {
        /* We missed this frame's start (profiling began inside it). */
        fstate_t *f = push(st, code, frame, line);
        if (f != NULL) {
            f->fresh = 0;
        }
        return;
    }
    if (top->fresh) {
        top->fresh = 0;
        if (top->line == line) {
            return; /* the entry line reported again: not a new line */
        }
    }
    refresh(top);
    finish_line(info, top, frame);
    top->line = line;
}

/* A profiled frame returns, yields or unwinds. */
static void ev_end(codeinfo_t *info, const PyObject *code, void *frame)
{
    tstack_t *st = my_stack();
    if (st == NULL || st->n == 0) {
        return;
    }
    /* Normally the top; if events were lost (the tracer was replaced for a
     * while), drop the entries above this frame. */
    size_t i = st->n;
    while (i > 0) {
        fstate_t *f = &st->v[i - 1];
        if (f->code == code && (frame == NULL || f->frame == frame)) {
            break;
        }
        i--;
    }
    if (i == 0) {
        return;
    }
    fstate_t *f = &st->v[i - 1];
    refresh(f);
    finish_line(info, f, frame);
    st->n = i - 1;
    if (st->n > 0 && peak_users > 0) {
        /* The caller's running line saw everything this call reached. */
        fstate_t *parent = &st->v[st->n - 1];
        for (int s = 0; s < NSLOTS; s++) {
            if (f->life_peak[s] > parent->peak[s]) {
                parent->peak[s] = f->life_peak[s];
            }
        }
    }
}

/* --------------------------------------------------------- what to measure */

static int64_t read_now(int s)
{
    int64_t v = 0;
    if (s == SLOT_ALLOC) {
        return mp_heap_allocated();
    }
    (void)mp_tracer_measure(s / 2, s % 2, &v);
    return v;
}

static void use_slot(int s, int delta)
{
    int was = slot_users[s] > 0;
    slot_users[s] += delta;
    if (slot_users[s] < 0) {
        slot_users[s] = 0;
    }
    if (!was && slot_users[s] > 0) {
        cache.v[s] = read_now(s);  /* a slot starts from a real reading */
        cache.gen++;
    }
}

int mp_tracer_use(mp_profiler_t *p, int delta)
{
    int heap_needed = p->backend == MP_BACKEND_HEAP || (p->columns & MP_COL_HEAP);
    if (delta > 0) {
        if (heap_needed && mp_heap_start() < 0) {
            return -1;
        }
        if (mp_heap_watch_start() < 0) {
            if (heap_needed) {
                mp_heap_stop();
            }
            return -1;
        }
    }
    use_slot(slot_of(p->backend, p->include_children), delta);
    if (p->columns & MP_COL_HEAP) {
        use_slot(slot_of(MP_BACKEND_HEAP, 0), delta);
        use_slot(SLOT_ALLOC, delta);
        heap_col_users += delta;
    }
    if (p->columns & MP_COL_PEAK) {
        peak_users += delta;
    }
    if (p->exact) {
        exact_users += delta;
    }
    recompute_masks();
    if (delta < 0) {
        mp_heap_watch_stop();
        if (heap_needed) {
            mp_heap_stop();
        }
    }
    return 0;
}

/* -------------------------------------------------- subscription handling */

static int monitor_code(PyObject *code, int on);

int mp_tracer_subscribe(PyObject *code, mp_profiler_t *p, Py_ssize_t idx)
{
    size_t v = 0;
    codeinfo_t *info = NULL;
    if (registry == NULL) {
        registry = mp_ptrmap_new();
        if (registry == NULL) {
            PyErr_NoMemory();
            return -1;
        }
    }
    if (mp_ptrmap_get(registry, code, &v)) {
        info = (codeinfo_t *)v;
        for (int i = 0; i < info->nsubs; i++) {
            if (info->subs[i].prof == p) {
                return 0;
            }
        }
    } else {
        PyObject *fl = PyObject_GetAttrString(code, "co_firstlineno");
        if (fl == NULL) {
            return -1;
        }
        long first = PyLong_AsLong(fl);
        Py_DECREF(fl);
        if (first == -1 && PyErr_Occurred()) {
            return -1;
        }
        if (ninfos == infos_cap) {
            size_t ncap = infos_cap ? infos_cap * 2 : 16;
            codeinfo_t **ni = realloc(infos, ncap * sizeof(codeinfo_t *));
            if (ni == NULL) {
                PyErr_NoMemory();
                return -1;
            }
            infos = ni;
            infos_cap = ncap;
        }
        info = calloc(1, sizeof(*info));
        if (info == NULL || mp_ptrmap_put(registry, code, (size_t)info) < 0) {
            free(info);
            PyErr_NoMemory();
            return -1;
        }
        info->code = code;
        info->first_line = (int)first;
        infos[ninfos++] = info;
        last_code = NULL;
        if (running && monitor_code(code, 1) < 0) {
            return -1;
        }
    }
    if (info->nsubs == info->cap) {
        int ncap = info->cap ? info->cap * 2 : 2;
        sub_t *ns = realloc(info->subs, (size_t)ncap * sizeof(sub_t));
        if (ns == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        info->subs = ns;
        info->cap = ncap;
    }
    info->subs[info->nsubs].prof = p;
    info->subs[info->nsubs].idx = idx;
    info->nsubs++;
    return 0;
}

void mp_tracer_unsubscribe_all(const mp_profiler_t *p)
{
    size_t k = 0;
    for (size_t i = 0; i < ninfos; i++) {
        codeinfo_t *info = infos[i];
        int w = 0;
        for (int j = 0; j < info->nsubs; j++) {
            if (info->subs[j].prof != p) {
                info->subs[w++] = info->subs[j];
            }
        }
        info->nsubs = w;
        if (w == 0) {
            size_t dummy;
            (void)mp_ptrmap_take(registry, info->code, &dummy);
            if (running) {
                PyObject *exc_type, *exc_value, *exc_tb;
                PyErr_Fetch(&exc_type, &exc_value, &exc_tb);
                if (monitor_code(info->code, 0) < 0) {
                    PyErr_Clear();
                }
                PyErr_Restore(exc_type, exc_value, exc_tb);
            }
            free(info->subs);
            free(info);
        } else {
            infos[k++] = info;
        }
    }
    ninfos = k;
    last_code = NULL;
    last_info = NULL;
}

#if MP_USE_MONITORING
/* ------------------------------------------------ sys.monitoring (3.12+) */

static int tool_id = -1;
static PyObject *monitoring;      /* owned: the sys.monitoring namespace */
static long ev_py_start, ev_py_resume, ev_py_return, ev_py_yield, ev_line_bit,
    ev_py_unwind, ev_py_throw;
static PyObject *callbacks[7];   /* owned: our C callbacks as Python objects */

static int call_monitoring(const char *name, const char *fmt, ...)
{
    va_list va;
    va_start(va, fmt);
    PyObject *args = Py_VaBuildValue(fmt, va);
    va_end(va);
    if (args == NULL) {
        return -1;
    }
    PyObject *fn = PyObject_GetAttrString(monitoring, name);
    PyObject *r = fn ? PyObject_Call(fn, args, NULL) : NULL;
    Py_XDECREF(fn);
    Py_DECREF(args);
    if (r == NULL) {
        return -1;
    }
    Py_DECREF(r);
    return 0;
}

static int monitor_code(PyObject *code, int on)
{
    long events = on ? (ev_py_start | ev_py_resume | ev_py_return | ev_py_yield | ev_line_bit) : 0;
    return call_monitoring("set_local_events", "(iOl)", tool_id, code, events);
}

static inline int arg_int(PyObject *o)
{
    return mp_small_int(o);
}

static PyObject *cb_py_start(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)self;
    codeinfo_t *info = nargs >= 1 ? lookup(args[0]) : NULL;
    if (info != NULL) {
        ev_start(args[0], NULL, info->first_line);
    }
    Py_RETURN_NONE;
}

static PyObject *cb_py_resume(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)self;
    codeinfo_t *info = nargs >= 2 ? lookup(args[0]) : NULL;
    if (info != NULL) {
        int line = PyCode_Addr2Line((PyCodeObject *)args[0], arg_int(args[1]));
        ev_start(args[0], NULL, line > 0 ? line : info->first_line);
        if (PyErr_Occurred()) {
            PyErr_Clear();
        }
    }
    Py_RETURN_NONE;
}

static PyObject *cb_py_end(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)self;
    codeinfo_t *info = nargs >= 1 ? lookup(args[0]) : NULL;
    if (info != NULL) {
        ev_end(info, args[0], NULL);
    }
    Py_RETURN_NONE;
}

static PyObject *cb_line(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)self;
    codeinfo_t *info = nargs >= 2 ? lookup(args[0]) : NULL;
    if (info != NULL) {
        ev_line(info, args[0], NULL, arg_int(args[1]));
    }
    Py_RETURN_NONE;
}

/* The callbacks are instances of a tiny callable type whose vectorcall slot
 * is the C function itself: sys.monitoring then calls straight into it,
 * without the builtin-function trampoline (measurable at ~1 ns per event). */
typedef PyObject *(*fastcb_t)(PyObject *, PyObject *const *, Py_ssize_t);

typedef struct {
    PyObject_HEAD
    vectorcallfunc vectorcall;
    fastcb_t fn;
} callback_t;

#define MP_DEFINE_VECTORCALL(name, fn)                                                    \
    static PyObject *name(PyObject *self, PyObject *const *args, size_t nargsf,         \
                          PyObject *kwnames)                                              \
    {                                                                                     \
        (void)kwnames;                                                                    \
        return fn(self, args, PyVectorcall_NARGS(nargsf));                                \
    }

MP_DEFINE_VECTORCALL(vc_py_start, cb_py_start)
MP_DEFINE_VECTORCALL(vc_py_resume, cb_py_resume)
MP_DEFINE_VECTORCALL(vc_py_end, cb_py_end)
MP_DEFINE_VECTORCALL(vc_line, cb_line)

static PyObject *callback_call(PyObject *self, PyObject *args, PyObject *kw)
{
    (void)kw;
    callback_t *c = (callback_t *)self;
    return c->fn(self, &PyTuple_GET_ITEM(args, 0), PyTuple_GET_SIZE(args));
}

static void callback_dealloc(PyObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_Free(self);
    Py_DECREF(tp);
}

static PyMemberDef callback_members[] = {
    {"__vectorcalloffset__", Py_T_PYSSIZET, offsetof(callback_t, vectorcall), Py_READONLY, NULL},
    {NULL, 0, 0, 0, NULL},
};

static PyType_Slot callback_slots[] = {
    {Py_tp_call, (void *)callback_call},
    {Py_tp_dealloc, (void *)callback_dealloc},
    {Py_tp_members, (void *)callback_members},
    {0, NULL},
};

static PyType_Spec callback_spec = {
    .name = "memory_profiler._core._MonitoringCallback",
    .basicsize = sizeof(callback_t),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_VECTORCALL,
    .slots = callback_slots,
};

static PyObject *new_callback(PyTypeObject *tp, vectorcallfunc vc, fastcb_t fn)
{
    callback_t *c = PyObject_New(callback_t, tp);
    if (c != NULL) {
        c->vectorcall = vc;
        c->fn = fn;
    }
    return (PyObject *)c;
}

/* Tool ids to try: not 1 (coverage) nor 2 (cProfile) unless all else is taken. */
static const int tool_order[] = {3, 4, 5, 0, 2, 1};

static int start_events(void)
{
    if (monitoring == NULL) {
        PyObject *sys = PyImport_ImportModule("sys");
        if (sys == NULL) {
            return -1;
        }
        monitoring = PyObject_GetAttrString(sys, "monitoring");
        Py_DECREF(sys);
        if (monitoring == NULL) {
            return -1;
        }
        PyObject *events = PyObject_GetAttrString(monitoring, "events");
        if (events == NULL) {
            return -1;
        }
        struct { const char *name; long *dst; } bits[] = {
            {"PY_START", &ev_py_start}, {"PY_RESUME", &ev_py_resume},
            {"PY_RETURN", &ev_py_return}, {"PY_YIELD", &ev_py_yield},
            {"LINE", &ev_line_bit}, {"PY_UNWIND", &ev_py_unwind},
            {"PY_THROW", &ev_py_throw},
        };
        for (size_t i = 0; i < sizeof(bits) / sizeof(bits[0]); i++) {
            PyObject *v = PyObject_GetAttrString(events, bits[i].name);
            if (v == NULL) {
                Py_DECREF(events);
                return -1;
            }
            *bits[i].dst = PyLong_AsLong(v);
            Py_DECREF(v);
        }
        Py_DECREF(events);
        PyTypeObject *tp = (PyTypeObject *)PyType_FromSpec(&callback_spec);
        if (tp == NULL) {
            return -1;
        }
        callbacks[0] = new_callback(tp, vc_py_start, cb_py_start);
        callbacks[1] = new_callback(tp, vc_py_resume, cb_py_resume);
        callbacks[2] = new_callback(tp, vc_py_end, cb_py_end);
        callbacks[3] = new_callback(tp, vc_line, cb_line);
        Py_DECREF(tp); /* each instance holds a reference */
        for (int i = 0; i < 4; i++) {
            if (callbacks[i] == NULL) {
                return -1;
            }
        }
    }
    tool_id = -1;
    for (size_t i = 0; i < sizeof(tool_order) / sizeof(tool_order[0]); i++) {
        if (call_monitoring("use_tool_id", "(is)", tool_order[i], "memory_profiler") == 0) {
            tool_id = tool_order[i];
            break;
        }
        PyErr_Clear();
    }
    if (tool_id < 0) {
        PyErr_SetString(PyExc_RuntimeError,
                        "memory_profiler: every sys.monitoring tool id is taken");
        return -1;
    }
    struct { long ev; int cb; } regs[] = {
        {ev_py_start, 0}, {ev_py_resume, 1}, {ev_py_return, 2}, {ev_py_yield, 2},
        {ev_py_unwind, 2}, {ev_py_throw, 1}, {ev_line_bit, 3},
    };
    for (size_t i = 0; i < sizeof(regs) / sizeof(regs[0]); i++) {
        if (call_monitoring("register_callback", "(ilO)", tool_id, regs[i].ev,
                            callbacks[regs[i].cb]) < 0) {
            return -1;
        }
    }
    /* Unwinding and throw() are global-only events: cheap, they are rare. */
    if (call_monitoring("set_events", "(il)", tool_id, ev_py_unwind | ev_py_throw) < 0) {
        return -1;
    }
    for (size_t i = 0; i < ninfos; i++) {
        if (monitor_code(infos[i]->code, 1) < 0) {
            return -1;
        }
    }
    return 0;
}

static int stop_events(void)
{
    if (tool_id < 0) {
        return 0;
    }
    int rc = 0;
    for (size_t i = 0; i < ninfos; i++) {
        rc |= monitor_code(infos[i]->code, 0);
    }
    rc |= call_monitoring("set_events", "(ii)", tool_id, 0);
    long evs[] = {ev_py_start, ev_py_resume, ev_py_return, ev_py_yield,
                  ev_py_unwind, ev_py_throw, ev_line_bit};
    for (size_t i = 0; i < sizeof(evs) / sizeof(evs[0]); i++) {
        rc |= call_monitoring("register_callback", "(ilO)", tool_id, evs[i], Py_None);
    }
    rc |= call_monitoring("free_tool_id", "(i)", tool_id);
    tool_id = -1;
    return rc ? -1 : 0;
}

int mp_tracer_init(PyObject *module)
{
    (void)module;
    if (!key_ready && pthread_key_create(&stack_key, stack_destroy) != 0) {
        PyErr_SetString(PyExc_RuntimeError, "pthread_key_create failed");
        return -1;
    }
    key_ready = 1;
    return 0;
}

#else
/* ---------------------------------------------- PyEval_SetTrace (<= 3.11) */

/* One handle per traced thread, passed to PyEval_SetTrace as the trace
 * object: it remembers the trace function that was there before, to chain
 * to it and to put it back. Called as a Python trace function (someone did
 * sys.settrace(sys.gettrace())), it reinstalls the C tracer. The same type,
 * with bootstrap set, is given to threading.settrace so that new threads
 * install the tracer on their first event. */
typedef struct {
    PyObject_HEAD
    Py_tracefunc saved_func;
    PyObject *saved_obj;   /* owned or NULL */
    PyObject *user_hook;   /* owned or NULL: threading's previous trace hook */
    int bootstrap;
} handle_t;

static PyTypeObject *handle_type;  /* owned */
static PyObject *prev_thread_hook; /* owned or NULL: threading._trace_hook before us */
static int thread_hook_set;

static int trace_func(PyObject *obj, PyFrameObject *frame, int what, PyObject *arg);

static int install_current(PyObject *user_hook_obj)
{
    PyThreadState *ts = PyThreadState_Get();
    if (MP_TSTATE_TRACEFUNC(ts) == trace_func) {
        return 0;
    }
    handle_t *h = PyObject_New(handle_t, handle_type);
    if (h == NULL) {
        return -1;
    }
    h->saved_func = MP_TSTATE_TRACEFUNC(ts);
    h->saved_obj = MP_TSTATE_TRACEOBJ(ts);
    Py_XINCREF(h->saved_obj);
    h->user_hook = NULL;
    h->bootstrap = 0;
    (void)user_hook_obj;
    PyEval_SetTrace(trace_func, (PyObject *)h);
    Py_DECREF(h);
    return 0;
}

static void uninstall_current(void)
{
    PyThreadState *ts = PyThreadState_Get();
    if (MP_TSTATE_TRACEFUNC(ts) != trace_func) {
        return;
    }
    handle_t *h = (handle_t *)MP_TSTATE_TRACEOBJ(ts);
    Py_INCREF(h);
    PyEval_SetTrace(h->saved_func, h->saved_obj);
    Py_DECREF(h);
}

static int trace_func(PyObject *obj, PyFrameObject *frame, int what, PyObject *arg)
{
    handle_t *h = (handle_t *)obj;
    int rc = 0;
    if (h->saved_func != NULL) {
        rc = h->saved_func(h->saved_obj, frame, what, arg);
    }
    if (what > PyTrace_RETURN && what != PyTrace_LINE) {
        return rc; /* exception, C calls, opcodes */
    }
    PyCodeObject *code = MP_FRAME_CODE_BORROWED(frame);
    codeinfo_t *info = lookup((PyObject *)code);
    if (info == NULL) {
        if (what == PyTrace_CALL && h->saved_func == NULL) {
            MP_FRAME_MUTE_LINES(frame);
        }
        return rc;
    }
    switch (what) {
    case PyTrace_CALL:
        ev_start((PyObject *)code, frame, PyFrame_GetLineNumber(frame));
        break;
    case PyTrace_LINE:
        ev_line(info, (PyObject *)code, frame, PyFrame_GetLineNumber(frame));
        break;
    case PyTrace_RETURN:
        ev_end(info, (PyObject *)code, frame);
        break;
    default:
        break;
    }
    return rc;
}

static PyObject *handle_call(PyObject *self, PyObject *args, PyObject *kw)
{
    handle_t *h = (handle_t *)self;
    (void)args;
    (void)kw;
    if (h->bootstrap) {
        /* First event of a new thread: put threading's previous hook in
         * place (so we chain to it), then ourselves on top. */
        if (h->user_hook != NULL) {
            PyObject *sys = PyImport_ImportModule("sys");
            PyObject *r = sys ? PyObject_CallMethod(sys, "settrace", "O", h->user_hook) : NULL;
            Py_XDECREF(sys);
            if (r == NULL) {
                return NULL;
            }
            Py_DECREF(r);
        } else {
            PyEval_SetTrace(NULL, NULL);
        }
    } else {
        /* Restored by someone's sys.settrace(old): chain to what we had. */
        PyEval_SetTrace(h->saved_func, h->saved_obj);
    }
    if (running && install_current(NULL) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

static void handle_dealloc(PyObject *self)
{
    handle_t *h = (handle_t *)self;
    PyTypeObject *tp = Py_TYPE(self);
    Py_CLEAR(h->saved_obj);
    Py_CLEAR(h->user_hook);
    PyObject_Free(self);
    Py_DECREF(tp);
}

static PyType_Slot handle_slots[] = {
    {Py_tp_call, (void *)handle_call},
    {Py_tp_dealloc, (void *)handle_dealloc},
    {Py_tp_doc, (void *)"memory_profiler trace handle (internal)"},
    {0, NULL},
};

static PyType_Spec handle_spec = {
    .name = "memory_profiler._core._TraceHandle",
    .basicsize = sizeof(handle_t),
    .flags = Py_TPFLAGS_DEFAULT,
    .slots = handle_slots,
};

static int monitor_code(PyObject *code, int on)
{
    (void)code;
    (void)on;
    return 0;
}

/* Run fn in every thread of this interpreter: the GIL is ours, the other
 * threads wait for it, so their thread states can be made current briefly
 * (PyEval_SetTrace acts on the current thread state only before 3.12). */
static void for_each_thread(void (*fn)(void))
{
    PyThreadState *me = PyThreadState_Get();
#if PY_VERSION_HEX >= 0x03090000
    PyInterpreterState *interp = PyThreadState_GetInterpreter(me);
#else
    PyInterpreterState *interp = me->interp;
#endif
    for (PyThreadState *ts = PyInterpreterState_ThreadHead(interp); ts != NULL;
         ts = PyThreadState_Next(ts)) {
        if (ts == me) {
            continue;
        }
        PyThreadState_Swap(ts);
        fn();
        PyThreadState_Swap(me);
    }
    fn();
}

static int install_failed;

static void install_here(void)
{
    if (install_current(NULL) < 0) {
        install_failed = 1;
        PyErr_Clear();
    }
}

static int set_thread_hook(PyObject *hook)
{
    PyObject *threading = PyImport_ImportModule("threading");
    if (threading == NULL) {
        return -1;
    }
    PyObject *r = PyObject_CallMethod(threading, "settrace", "O", hook);
    Py_DECREF(threading);
    if (r == NULL) {
        return -1;
    }
    Py_DECREF(r);
    return 0;
}

static int start_events(void)
{
    install_failed = 0;
    for_each_thread(install_here);
    if (install_failed) {
        PyErr_SetString(PyExc_RuntimeError, "memory_profiler: could not install the tracer");
        return -1;
    }
    PyObject *threading = PyImport_ImportModule("threading");
    if (threading == NULL) {
        return -1;
    }
    PyObject *prev = PyObject_GetAttrString(threading, "_trace_hook");
    Py_DECREF(threading);
    if (prev == NULL) {
        PyErr_Clear();
        prev = Py_NewRef(Py_None);
    }
    handle_t *boot = PyObject_New(handle_t, handle_type);
    if (boot == NULL) {
        Py_DECREF(prev);
        return -1;
    }
    boot->saved_func = NULL;
    boot->saved_obj = NULL;
    boot->bootstrap = 1;
    boot->user_hook = (prev != Py_None) ? Py_NewRef(prev) : NULL;
    Py_XSETREF(prev_thread_hook, prev);
    int rc = set_thread_hook((PyObject *)boot);
    Py_DECREF(boot);
    thread_hook_set = (rc == 0);
    return rc;
}

static int stop_events(void)
{
    for_each_thread(uninstall_current);
    if (thread_hook_set) {
        thread_hook_set = 0;
        PyObject *prev = prev_thread_hook ? prev_thread_hook : Py_None;
        int rc = set_thread_hook(prev);
        Py_CLEAR(prev_thread_hook);
        return rc;
    }
    return 0;
}

int mp_tracer_init(PyObject *module)
{
    (void)module;
    if (handle_type == NULL) {
        handle_type = (PyTypeObject *)PyType_FromSpec(&handle_spec);
        if (handle_type == NULL) {
            return -1;
        }
    }
    if (!key_ready && pthread_key_create(&stack_key, stack_destroy) != 0) {
        PyErr_SetString(PyExc_RuntimeError, "pthread_key_create failed");
        return -1;
    }
    key_ready = 1;
    return 0;
}
#endif

/* Tick period of the fast mode, microseconds. */
static long tick_period_us = 250;

void mp_tracer_set_period(long us)
{
    tick_period_us = us;
    if (running) {
        (void)mp_tick_start(us);
    }
}

long mp_tracer_period(void)
{
    return tick_period_us;
}

int mp_tracer_start(void)
{
    if (running) {
        return 0;
    }
    if (mp_tick_start(tick_period_us) < 0) {
        PyErr_SetFromErrno(PyExc_OSError);
        return -1;
    }
    running = 1;
    if (start_events() < 0) {
        PyObject *exc_type, *exc_value, *exc_tb;
        PyErr_Fetch(&exc_type, &exc_value, &exc_tb);
        (void)stop_events();
        PyErr_Clear();
        PyErr_Restore(exc_type, exc_value, exc_tb);
        running = 0;
        return -1;
    }
    return 0;
}

int mp_tracer_stop(void)
{
    if (!running) {
        return 0;
    }
    int rc = stop_events();
    running = 0;
    epoch++;
    mp_tick_pause();
    return rc;
}
