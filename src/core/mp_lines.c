/* Per-line accounting: see mp_lines.h.
 *
 * State and what protects it:
 *   registry, codes[], cache, q_users and the masks, every table: the
 *     engine lock (the GIL in the extension);
 *   a thread's state (its frame stack, table references, activations):
 *     the engine lock when its own thread uses it or when a purge walks it;
 *     the list lock besides, when the thread ends (its destructor runs
 *     without the engine lock) or when a purge walks the list;
 *   bstate_t.live: the engine lock; a thread that ends (without the engine
 *     lock) with frames still counted does not drop them: its blocks then
 *     keep their baselines (a Python thread ends with an empty stack)
 *     without the engine lock). */
#include "mp_lines.h"

#include "mp_clock.h"
#include "mp_ptrmap.h"
#include "mp_tick.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

atomic_int mp_lines_due;

/* ------------------------------------------------------------- tables */

struct mp_table {
    mp_block_t *blocks;
    int nblocks, cap;
    int q;                  /* the backend quantity (Mem usage, Increment) */
    int cols;
    int exact;
    unsigned pmask;         /* process-wide quantities charged to rows */
    unsigned tmask;         /* thread-local quantities charged to rows */
    struct bstate *bs;      /* per block, parallel to blocks */
    int global;
    int64_t limit;          /* < 0: none */
    int exceeded;
    mp_limit_hook_t limit_hook;
    void *owner;
    int64_t lost_at_start;
};

/* The rule's unit is a block (one function's table in the report): each
 * keeps its own baseline of the process-wide quantities and counts its
 * frames on every stack. */
typedef struct bstate {
    int64_t last[MP_NPQ];   /* value of each process quantity last charged */
    long live;              /* references from frames on every stack */
} bstate_t;

typedef struct {
    mp_table_t *t;
    int block;
} sub_t;

struct mp_code {
    const void *key;
    int first_line;
    int holds;              /* subscriptions + pins */
    int nsubs, cap;
    sub_t *subs;
    void *data;
    size_t index;           /* in codes[] */
};

/* ------------------------------------------------------ thread states */

typedef struct {
    mp_table_t *t;          /* NULL once purged */
    int block;
    int frame;              /* index of its frame */
    int prev;               /* the previous reference to t on this stack, -1 */
} tabref_t;

typedef struct {
    const void *key;        /* the code object (identity only) */
    const void *frame;      /* the frame (identity only), or NULL */
    int line;               /* the line now running */
    int fresh;              /* no line event since start/resume */
    int simple;             /* one live reference, no columns, no limit */
    int simple_ref;         /* then: its index in refs[] (others may be purged) */
    int peaks;              /* peak[] and life_peak[] are kept (a peak column existed) */
    int64_t t0;             /* start (ns) if the outermost frame of a block here, else 0 */
    int ref_begin, ref_end; /* its references in refs[] */
    int64_t peak[MP_NPQ];   /* highest reading while `line` ran */
    int64_t life_peak[MP_NPQ];
} frame_t;

typedef struct {
    mp_table_t *t;          /* a block of a table with frames on this stack */
    int block;
    int innermost;          /* index in refs[] of the innermost reference */
    int count;
} onstack_t;

typedef struct {
    mp_table_t *t;
    int count;
} act_t;

typedef struct mp_thread {
    frame_t *frames;
    int n, cap;
    tabref_t *refs;
    int nrefs, refcap;
    onstack_t *tabs;        /* the tables with frames on this stack */
    int ntabs, tabcap;
    act_t *acts;            /* this thread's activations */
    int nacts, actcap;
    unsigned tmask;         /* thread quantities charged by tables on the stack */
    int64_t tlast[MP_NTQ];  /* their values last charged */
    uint64_t gen;           /* cache generation last charged */
    struct mp_thread *next, *prev;
} mp_thread_t;

/* ------------------------------------------------------------ globals */

/* The engine's state. All of it is protected by the engine lock (the GIL),
 * except where a field says otherwise. */
static struct {
    mp_lines_reader_t reader;
    mp_code_hook_t hook_first, hook_last;
    mp_ptrmap_t *registry;          /* code key -> mp_code_t* */
    mp_code_t **codes;              /* every entry, for iteration */
    size_t ncodes, codes_cap;
    struct {
        int64_t v[MP_NPQ];          /* the last readings */
        uint64_t gen;               /* bumped whenever a value changes */
    } cache;
    int q_users[MP_NPQ];            /* tables using each quantity */
    unsigned syscall_mask;          /* quantities in use that need a system call */
    unsigned cheap_mask;            /* quantities in use read on every event */
    unsigned peak_mask;             /* quantities whose peak a table wants */
    int peak_users[MP_NPQ];
    int exact_users;
    int hwm_users;                  /* tables with a peak column on MP_Q_RSS */
    int force_reads;
    int inject_failures;            /* tests: the next N pushes fail */
    atomic_llong lost;              /* atomic: events dropped for lack of memory */
    pthread_mutex_t list_lock;      /* the list of thread states */
    mp_thread_t *threads;           /* list_lock */
    pthread_key_t thread_key;       /* frees a thread's state when it ends */
    pthread_once_t key_once;
} E = {
    .list_lock = PTHREAD_MUTEX_INITIALIZER,
    .key_once = PTHREAD_ONCE_INIT,
};

/* The one-entry lookup cache is read by mp_code_get, inline in callers. */
const void *mp_code_last_key;       /* engine lock */
mp_code_t *mp_code_last;
#define last_key mp_code_last_key
#define last_code mp_code_last

static _Thread_local mp_thread_t *tls_thread __attribute__((tls_model("initial-exec")));

/* ------------------------------------------------------------ helpers */

static int grow(void **p, int *cap, int need, size_t size)
{
    if (need <= *cap) {
        return 0;
    }
    int ncap = *cap ? *cap : 8;
    while (ncap < need) {
        ncap *= 2;
    }
    void *np = realloc(*p, (size_t)ncap * size);
    if (np == NULL) {
        return -1;
    }
    *p = np;
    *cap = ncap;
    return 0;
}

static void note_lost(void)
{
    atomic_fetch_add_explicit(&E.lost, 1, memory_order_relaxed);
}

static void thread_destroy(void *p)
{
    mp_thread_t *X = p;
    if (X == NULL) {
        return;
    }
    pthread_mutex_lock(&E.list_lock);
    if (X->prev != NULL) {
        X->prev->next = X->next;
    } else if (E.threads == X) {
        E.threads = X->next;
    }
    if (X->next != NULL) {
        X->next->prev = X->prev;
    }
    pthread_mutex_unlock(&E.list_lock);
    free(X->frames);
    free(X->refs);
    free(X->tabs);
    free(X->acts);
    free(X);
}

static void make_key(void)
{
    (void)pthread_key_create(&E.thread_key, thread_destroy);
}

static mp_thread_t *new_thread(void)
{
    pthread_once(&E.key_once, make_key);
    mp_thread_t *X = calloc(1, sizeof(*X));
    if (X == NULL) {
        note_lost();
        return NULL;
    }
    X->gen = E.cache.gen;
    pthread_mutex_lock(&E.list_lock);
    X->next = E.threads;
    if (E.threads != NULL) {
        E.threads->prev = X;
    }
    E.threads = X;
    pthread_mutex_unlock(&E.list_lock);
    tls_thread = X;
    (void)pthread_setspecific(E.thread_key, X);
    return X;
}

static inline mp_thread_t *my_thread(void)
{
    mp_thread_t *X = tls_thread;
    return X != NULL ? X : new_thread();
}

static onstack_t *onstack_find(mp_thread_t *X, const mp_table_t *t, int block)
{
    for (int i = 0; i < X->ntabs; i++) {
        if (X->tabs[i].t == t && X->tabs[i].block == block) {
            return &X->tabs[i];
        }
    }
    return NULL;
}

static void onstack_remove(mp_thread_t *X, onstack_t *o)
{
    *o = X->tabs[--X->ntabs];
}

static act_t *act_find(mp_thread_t *X, const mp_table_t *t)
{
    for (int i = 0; i < X->nacts; i++) {
        if (X->acts[i].t == t) {
            return &X->acts[i];
        }
    }
    return NULL;
}

static inline int active_in(mp_thread_t *X, const mp_table_t *t)
{
    if (t->global) {
        return 1;
    }
    for (int i = 0; i < X->nacts; i++) {
        if (X->acts[i].t == t) {
            return X->acts[i].count > 0;
        }
    }
    return 0;
}

static void recompute_tmask(mp_thread_t *X)
{
    unsigned m = 0;
    for (int i = 0; i < X->ntabs; i++) {
        m |= X->tabs[i].t->tmask;
    }
    X->tmask = m;
}

static inline mp_row_t *row_of(mp_table_t *t, int b, int line)
{
    mp_block_t *blk = &t->blocks[b];
    unsigned i = (unsigned)(line - blk->first_line);
    if (__builtin_expect(i < (unsigned)blk->nlines, 1)) {
        return &blk->rows[i];
    }
    return mp_table_row(t, b, line);
}

/* ------------------------------------------------------------ reading */

static inline int read_due(void)
{
    return E.exact_users > 0 || E.force_reads
           || atomic_load_explicit(&mp_tick_due, memory_order_relaxed)
           || atomic_load_explicit(&mp_lines_due, memory_order_relaxed);
}

/* Read the system-call quantities in use into the cache; the top frame of
 * the reading thread sees the readings (and the kernel's peak mark) in its
 * peak[]. */
static void read_process(frame_t *top)
{
    if (atomic_load_explicit(&mp_tick_due, memory_order_relaxed) && mp_tick_alive()) {
        atomic_store_explicit(&mp_tick_due, 0, memory_order_relaxed);
    }
    atomic_store_explicit(&mp_lines_due, 0, memory_order_relaxed);
    int changed = 0;
    for (int q = 0; q < MP_NPQ; q++) {
        if (!(E.syscall_mask & (1u << q))) {
            continue;
        }
        int64_t v = 0, hwm = -1;
        int want = (q == MP_Q_RSS && E.hwm_users > 0);
        if (E.reader.read == NULL || E.reader.read(q, &v, want ? &hwm : NULL) < 0) {
            continue;
        }
        if (v != E.cache.v[q]) {
            E.cache.v[q] = v;
            changed = 1;
        }
        if (top != NULL && (E.peak_mask & (1u << q))) {
            int64_t pk = hwm > v ? hwm : v;
            if (pk > top->peak[q]) {
                top->peak[q] = pk;
            }
        }
    }
    if (changed) {
        E.cache.gen++;
    }
}

static void read_cheap(frame_t *top)
{
    int changed = 0;
    for (int q = 0; q < MP_NPQ; q++) {
        if (!(E.cheap_mask & (1u << q))) {
            continue;
        }
        int64_t v = 0;
        if (E.reader.read == NULL || E.reader.read(q, &v, NULL) < 0) {
            continue;
        }
        if (v != E.cache.v[q]) {
            E.cache.v[q] = v;
            changed = 1;
            if (top != NULL && (E.peak_mask & (1u << q)) && v > top->peak[q]) {
                top->peak[q] = v;
            }
        }
    }
    if (changed) {
        E.cache.gen++;
    }
}

/* Charge what process-wide quantities moved since each block on this
 * stack last charged, to the block's innermost line here. */
static void charge_process(mp_thread_t *X)
{
    for (int i = 0; i < X->ntabs; i++) {
        mp_table_t *t = X->tabs[i].t;
        bstate_t *bs = &t->bs[X->tabs[i].block];
        const tabref_t *r = &X->refs[X->tabs[i].innermost];
        mp_row_t *row = NULL;
        for (int q = 0; q < MP_NPQ; q++) {
            if (!(t->pmask & (1u << q))) {
                continue;
            }
            int64_t d = E.cache.v[q] - bs->last[q];
            if (d == 0) {
                continue;
            }
            bs->last[q] = E.cache.v[q];
            if (row == NULL) {
                row = row_of(t, r->block, X->frames[r->frame].line);
                if (row == NULL) {
                    note_lost();
                    break;
                }
            }
            if (q == t->q) {
                row->inc += d;
            } else if (q == MP_Q_FILE) {
                row->file += d;
            }
        }
    }
    X->gen = E.cache.gen;
}

static void charge_thread(mp_thread_t *X)
{
    int64_t d[MP_NTQ];
    int any = 0;
    for (int k = 0; k < MP_NTQ; k++) {
        d[k] = 0;
        if (X->tmask & (1u << k)) {
            int64_t now = E.reader.tls ? E.reader.tls(k) : 0;
            d[k] = now - X->tlast[k];
            X->tlast[k] = now;
            any |= d[k] != 0;
        }
    }
    if (!any) {
        return;
    }
    for (int i = 0; i < X->ntabs; i++) {
        mp_table_t *t = X->tabs[i].t;
        if (!t->tmask) {
            continue;
        }
        const tabref_t *r = &X->refs[X->tabs[i].innermost];
        mp_row_t *row = row_of(t, r->block, X->frames[r->frame].line);
        if (row == NULL) {
            note_lost();
            continue;
        }
        if (t->tmask & (1u << MP_T_HEAP_NET)) {
            row->heap_net += d[MP_T_HEAP_NET];
            row->heap_alloc += d[MP_T_HEAP_ALLOC];
        }
        if (t->tmask & (1u << MP_T_NATIVE_NET)) {
            row->native_net += d[MP_T_NATIVE_NET];
            row->native_alloc += d[MP_T_NATIVE_ALLOC];
        }
    }
}

/* Bring the readings up to date and charge what moved. The common case
 * costs a few loads and compares. */
static inline void sync(mp_thread_t *X)
{
    frame_t *top = X->n ? &X->frames[X->n - 1] : NULL;
    if (E.syscall_mask && read_due()) {
        read_process(top);
    }
    if (E.cheap_mask) {
        read_cheap(top);
    }
    if (X->gen != E.cache.gen) {
        charge_process(X);
    }
    if (X->tmask) {
        charge_thread(X);
    }
}

/* --------------------------------------------------------------- lines */

static void check_limit(mp_table_t *t, const frame_t *f, int64_t now)
{
    t->exceeded = 1;
    if (t->limit_hook != NULL) {
        t->limit_hook(t->owner, f->frame, now);
    }
}

static void finish_line_full(frame_t *f, mp_thread_t *X);

/* f->line has finished: count it in every table that counts f. */
static inline void finish_line(frame_t *f, mp_thread_t *X)
{
    if (__builtin_expect(f->simple, 1)) {
        tabref_t *r = &X->refs[f->simple_ref];
        mp_row_t *row = row_of(r->t, r->block, f->line);
        if (row != NULL) {
            int64_t now = E.cache.v[r->t->q];
            if (row->occ++ == 0 || now > row->mem) {
                row->mem = now;
            }
        } else {
            note_lost();
        }
        return;
    }
    finish_line_full(f, X);
}

static void finish_line_full(frame_t *f, mp_thread_t *X)
{
    for (int i = f->ref_begin; i < f->ref_end; i++) {
        tabref_t *r = &X->refs[i];
        mp_table_t *t = r->t;
        if (t == NULL) {
            continue;
        }
        mp_row_t *row = row_of(t, r->block, f->line);
        if (row == NULL) {
            note_lost();
            continue;
        }
        int64_t now = E.cache.v[t->q];
        int first = row->occ++ == 0;
        if (first || now > row->mem) {
            row->mem = now;
        }
        if (t->cols & MP_COL_PEAK) {
            int64_t pk = f->peak[t->q] > now ? f->peak[t->q] : now;
            if (first || pk > row->peak) {
                row->peak = pk;
            }
        }
        if (t->limit >= 0 && !t->exceeded && now > t->limit) {
            check_limit(t, f, now);
        }
    }
    if (E.peak_mask) {
        for (int q = 0; q < MP_NPQ; q++) {
            if (f->peak[q] > f->life_peak[q]) {
                f->life_peak[q] = f->peak[q];
            }
        }
        memcpy(f->peak, E.cache.v, sizeof(f->peak));
    }
}

static void update_simple(frame_t *f, mp_thread_t *X)
{
    int live = 0;
    const mp_table_t *only = NULL;
    for (int i = f->ref_begin; i < f->ref_end; i++) {
        if (X->refs[i].t != NULL) {
            live++;
            only = X->refs[i].t;
            f->simple_ref = i;
        }
    }
    f->simple = live == 1 && only->cols == 0 && only->limit < 0;
}

/* Push a frame of code c counted by the tables active here; NULL when no
 * table is (the frame is not tracked) or memory ran out. */
static frame_t *push(mp_thread_t *X, mp_code_t *c, const void *frame, int line)
{
    int nact = 0;
    for (int i = 0; i < c->nsubs; i++) {
        nact += active_in(X, c->subs[i].t);
    }
    if (nact == 0) {
        return NULL;
    }
    sync(X);
    if ((E.inject_failures > 0 && E.inject_failures-- > 0)
        || grow((void **)&X->frames, &X->cap, X->n + 1, sizeof(frame_t)) < 0
        || grow((void **)&X->refs, &X->refcap, X->nrefs + nact, sizeof(tabref_t)) < 0
        || grow((void **)&X->tabs, &X->tabcap, X->ntabs + nact, sizeof(onstack_t)) < 0) {
        note_lost();
        return NULL;
    }
    int idx = X->n++;
    frame_t *f = &X->frames[idx];
    f->key = c->key;
    f->frame = frame;
    f->line = line;
    f->fresh = 1;
    f->ref_begin = X->nrefs;
    unsigned old_tmask = X->tmask;
    for (int i = 0; i < c->nsubs; i++) {
        mp_table_t *t = c->subs[i].t;
        if (!active_in(X, t)) {
            continue;
        }
        int ri = X->nrefs++;
        tabref_t *r = &X->refs[ri];
        r->t = t;
        r->block = c->subs[i].block;
        r->frame = idx;
        onstack_t *o = onstack_find(X, t, r->block);
        if (o == NULL) {
            o = &X->tabs[X->ntabs++];
            o->t = t;
            o->block = r->block;
            o->count = 0;
            o->innermost = -1;
            X->tmask |= t->tmask;
        }
        r->prev = o->innermost;
        o->innermost = ri;
        o->count++;
        bstate_t *bs = &t->bs[r->block];
        if (bs->live++ == 0) {
            /* The block's first frame anywhere: changes before it are not
             * its own. */
            memcpy(bs->last, E.cache.v, sizeof(bs->last));
        }
    }
    f->ref_end = X->nrefs;
    f->t0 = 0;
    for (int i = f->ref_begin; i < f->ref_end; i++) {
        if (X->refs[i].prev < 0) {
            f->t0 = mp_clock_mono_ns(); /* a vDSO read, not a system call */
            break;
        }
    }
    for (int k = 0; k < MP_NTQ; k++) {
        unsigned bit = 1u << k;
        if ((X->tmask & bit) && !(old_tmask & bit)) {
            X->tlast[k] = E.reader.tls ? E.reader.tls(k) : 0;
        }
    }
    f->peaks = E.peak_mask != 0;
    if (f->peaks) {
        memcpy(f->peak, E.cache.v, sizeof(f->peak));
        memcpy(f->life_peak, E.cache.v, sizeof(f->life_peak));
    }
    update_simple(f, X);
    return f;
}

/* Pop the top frame (its line already finished). */
static void pop(mp_thread_t *X)
{
    frame_t *f = &X->frames[X->n - 1];
    for (int i = f->ref_end; i-- > f->ref_begin;) {
        tabref_t *r = &X->refs[i];
        if (r->t == NULL) {
            continue;
        }
        onstack_t *o = onstack_find(X, r->t, r->block);
        if (o != NULL) {
            o->innermost = r->prev;
            if (--o->count == 0) {
                onstack_remove(X, o);
            }
        }
        r->t->bs[r->block].live--;
    }
    X->nrefs = f->ref_begin;
    X->n--;
    recompute_tmask(X);
    if (X->n > 0 && f->peaks && X->frames[X->n - 1].peaks) {
        /* The caller's running line saw everything this call reached. */
        frame_t *parent = &X->frames[X->n - 1];
        for (int q = 0; q < MP_NPQ; q++) {
            int64_t pk = f->life_peak[q] > f->peak[q] ? f->life_peak[q] : f->peak[q];
            if (pk > parent->peak[q]) {
                parent->peak[q] = pk;
            }
        }
    }
}

/* Stop counting t in thread X: its references become inert. */
static void purge(mp_thread_t *X, const mp_table_t *t)
{
    int found = 0;
    for (int i = 0; i < X->nrefs; i++) {
        if (X->refs[i].t == t) {
            t->bs[X->refs[i].block].live--;
            X->refs[i].t = NULL;
            found = 1;
        }
    }
    if (!found) {
        return;
    }
    for (int i = X->ntabs; i-- > 0;) {
        if (X->tabs[i].t == t) {
            onstack_remove(X, &X->tabs[i]);
        }
    }
    recompute_tmask(X);
    for (int i = 0; i < X->n; i++) {
        update_simple(&X->frames[i], X);
    }
}

/* -------------------------------------------------------------- events */

void mp_lines_start(mp_code_t *c, const void *frame, int line)
{
    mp_thread_t *X = my_thread();
    if (X != NULL) {
        (void)push(X, c, frame, line);
    }
}

void mp_lines_line(mp_code_t *c, const void *frame, int line)
{
    mp_thread_t *X = tls_thread;
    if (__builtin_expect(X == NULL, 0) && (X = my_thread()) == NULL) {
        return;
    }
    frame_t *top = X->n ? &X->frames[X->n - 1] : NULL;
    if (top == NULL || top->key != c->key || (frame != NULL && top->frame != frame)) {
        /* A frame whose start we did not count (profiling began inside
         * it), or that is not counted at all. */
        frame_t *f = push(X, c, frame, line);
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
    sync(X);
    finish_line(top, X);
    top->line = line;
}

#define FINAL_READ_NS 20000

void mp_lines_end(mp_code_t *c, const void *frame, int final)
{
    mp_thread_t *X = tls_thread;
    if (X == NULL || X->n == 0) {
        return;
    }
    /* Normally the top; if events were lost, drop the entries above. */
    int i = X->n;
    while (i > 0) {
        const frame_t *f = &X->frames[i - 1];
        if (f->key == c->key && (frame == NULL || f->frame == frame)) {
            break;
        }
        i--;
    }
    if (i == 0) {
        return;
    }
    const frame_t *ending = &X->frames[i - 1];
    if (final && E.syscall_mask && ending->t0 != 0
        && mp_clock_mono_ns() - ending->t0 >= FINAL_READ_NS) {
        /* The outermost frame of a block in this thread returns: after it
         * no event of this block comes here, so what its last lines did
         * must be read now, due or not (touching pages it already had, or
         * file pages, moves RSS faster than one tick can see). Calls
         * shorter than FINAL_READ_NS are left to the watches and the tick:
         * a system call each would double their cost, and such a call can
         * only have moved RSS by touching a few pages. */
        read_process(&X->frames[X->n - 1]);
    }
    sync(X);
    while (X->n > i) {
        finish_line(&X->frames[X->n - 1], X);
        pop(X);
    }
    finish_line(&X->frames[i - 1], X);
    pop(X);
}

/* -------------------------------------------------------------- tables */

static void recompute_masks(void)
{
    E.syscall_mask = E.cheap_mask = 0;
    for (int q = 0; q < MP_NPQ; q++) {
        if (E.q_users[q] <= 0) {
            continue;
        }
        if (E.reader.cheap != NULL && E.reader.cheap(q)) {
            E.cheap_mask |= 1u << q;
        } else {
            E.syscall_mask |= 1u << q;
        }
    }
}

static void use_quantity(int q, int delta)
{
    int was = E.q_users[q] > 0;
    E.q_users[q] += delta;
    if (!was && E.q_users[q] > 0 && E.reader.read != NULL) {
        int64_t v = 0;
        if (E.reader.read(q, &v, NULL) == 0) {
            E.cache.v[q] = v; /* a quantity starts from a real reading */
            E.cache.gen++;
        }
    }
}

mp_table_t *mp_table_new(int q, int cols, int exact)
{
    if (q < 0 || q >= MP_NPQ) {
        errno = EINVAL;
        return NULL;
    }
    mp_table_t *t = calloc(1, sizeof(*t));
    if (t == NULL) {
        errno = ENOMEM;
        return NULL;
    }
    t->q = q;
    t->cols = cols;
    t->exact = exact != 0;
    t->limit = -1;
    t->pmask = 1u << q;
    if (cols & MP_COL_EXPLAIN) {
        t->pmask |= 1u << MP_Q_FILE;
    }
    if (cols & (MP_COL_HEAP | MP_COL_EXPLAIN)) {
        t->tmask |= (1u << MP_T_HEAP_NET) | (1u << MP_T_HEAP_ALLOC);
    }
    if (cols & (MP_COL_NATIVE | MP_COL_EXPLAIN)) {
        t->tmask |= (1u << MP_T_NATIVE_NET) | (1u << MP_T_NATIVE_ALLOC);
    }
    t->lost_at_start = atomic_load(&E.lost);
    for (int k = 0; k < MP_NPQ; k++) {
        if (t->pmask & (1u << k)) {
            use_quantity(k, 1);
        }
    }
    if (cols & MP_COL_PEAK) {
        E.peak_users[q]++;
        E.peak_mask |= 1u << q;
        if (q == MP_Q_RSS) {
            E.hwm_users++;
        }
    }
    E.exact_users += t->exact;
    recompute_masks();
    return t;
}

static void unsubscribe_all(const mp_table_t *t);

void mp_table_free(mp_table_t *t)
{
    if (t == NULL) {
        return;
    }
    pthread_mutex_lock(&E.list_lock);
    for (mp_thread_t *X = E.threads; X != NULL; X = X->next) {
        purge(X, t);
        act_t *a = act_find(X, t);
        if (a != NULL) {
            *a = X->acts[--X->nacts];
        }
    }
    pthread_mutex_unlock(&E.list_lock);
    unsubscribe_all(t);
    for (int k = 0; k < MP_NPQ; k++) {
        if (t->pmask & (1u << k)) {
            use_quantity(k, -1);
        }
    }
    if (t->cols & MP_COL_PEAK) {
        if (t->q == MP_Q_RSS) {
            E.hwm_users--;
        }
        if (--E.peak_users[t->q] == 0) {
            E.peak_mask &= ~(1u << t->q);
        }
    }
    E.exact_users -= t->exact;
    recompute_masks();
    for (int i = 0; i < t->nblocks; i++) {
        free(t->blocks[i].rows);
    }
    free(t->blocks);
    free(t->bs);
    free(t);
}

int mp_table_add_block(mp_table_t *t, int first_line, int nlines)
{
    if (nlines < 1) {
        nlines = 1;
    }
    int cap = t->cap;
    if (grow((void **)&t->blocks, &t->cap, t->nblocks + 1, sizeof(mp_block_t)) < 0) {
        errno = ENOMEM;
        return -1;
    }
    if (t->cap != cap || t->bs == NULL) {
        bstate_t *nb = realloc(t->bs, (size_t)t->cap * sizeof(bstate_t));
        if (nb == NULL) {
            errno = ENOMEM;
            return -1;
        }
        t->bs = nb;
    }
    memset(&t->bs[t->nblocks], 0, sizeof(bstate_t));
    memcpy(t->bs[t->nblocks].last, E.cache.v, sizeof(t->bs[0].last));
    mp_block_t *b = &t->blocks[t->nblocks];
    b->rows = calloc((size_t)nlines, sizeof(mp_row_t));
    if (b->rows == NULL) {
        errno = ENOMEM;
        return -1;
    }
    b->first_line = first_line;
    b->nlines = nlines;
    return t->nblocks++;
}

int mp_table_nblocks(const mp_table_t *t)
{
    return t->nblocks;
}

const mp_block_t *mp_table_block(const mp_table_t *t, int i)
{
    return (i >= 0 && i < t->nblocks) ? &t->blocks[i] : NULL;
}

int mp_table_quantity(const mp_table_t *t)
{
    return t->q;
}

int mp_table_columns(const mp_table_t *t)
{
    return t->cols;
}

int mp_table_exact(const mp_table_t *t)
{
    return t->exact;
}

mp_row_t *mp_table_row(mp_table_t *t, int b, int line)
{
    if (b < 0 || b >= t->nblocks) {
        return NULL;
    }
    mp_block_t *blk = &t->blocks[b];
    int i = line - blk->first_line;
    if (i < 0) {
        return NULL;
    }
    if (i >= blk->nlines) {
        /* A line past the block the source showed (edited meanwhile). */
        mp_row_t *nr = realloc(blk->rows, (size_t)(i + 1) * sizeof(mp_row_t));
        if (nr == NULL) {
            return NULL;
        }
        memset(nr + blk->nlines, 0, (size_t)(i + 1 - blk->nlines) * sizeof(mp_row_t));
        blk->rows = nr;
        blk->nlines = i + 1;
    }
    return &blk->rows[i];
}

int mp_table_set_global(mp_table_t *t, int on)
{
    int was = t->global;
    t->global = on != 0;
    if (was && !on) {
        pthread_mutex_lock(&E.list_lock);
        for (mp_thread_t *X = E.threads; X != NULL; X = X->next) {
            const act_t *a = act_find(X, t);
            if (a == NULL || a->count == 0) {
                purge(X, t);
            }
        }
        pthread_mutex_unlock(&E.list_lock);
    }
    return was;
}

int mp_table_global(const mp_table_t *t)
{
    return t->global;
}

int mp_table_activate(mp_table_t *t)
{
    mp_thread_t *X = my_thread();
    if (X == NULL) {
        errno = ENOMEM;
        return -1;
    }
    act_t *a = act_find(X, t);
    if (a == NULL) {
        if (grow((void **)&X->acts, &X->actcap, X->nacts + 1, sizeof(act_t)) < 0) {
            errno = ENOMEM;
            return -1;
        }
        a = &X->acts[X->nacts++];
        a->t = t;
        a->count = 0;
    }
    a->count++;
    return 0;
}

void mp_table_deactivate(mp_table_t *t)
{
    mp_thread_t *X = tls_thread;
    act_t *a = X ? act_find(X, t) : NULL;
    if (a == NULL) {
        return;
    }
    if (--a->count <= 0) {
        *a = X->acts[--X->nacts];
        if (!t->global) {
            purge(X, t);
        }
    }
}

int mp_table_activations_here(const mp_table_t *t)
{
    mp_thread_t *X = tls_thread;
    const act_t *a = X ? act_find(X, t) : NULL;
    return a ? a->count : 0;
}

int mp_table_active_here(const mp_table_t *t)
{
    mp_thread_t *X = tls_thread;
    return t->global || (X != NULL && active_in(X, t));
}

void mp_table_set_limit(mp_table_t *t, int64_t limit, mp_limit_hook_t hook, void *owner)
{
    t->limit = limit;
    t->exceeded = 0;
    t->limit_hook = hook;
    t->owner = owner;
    mp_thread_t *X = tls_thread;
    if (X != NULL) {
        for (int i = 0; i < X->n; i++) {
            update_simple(&X->frames[i], X);
        }
    }
}

int64_t mp_table_lost(const mp_table_t *t)
{
    return atomic_load(&E.lost) - t->lost_at_start;
}

/* ----------------------------------------------------------- registry */

mp_code_t *mp_code_get_slow(const void *key)
{
    size_t v = 0;
    if (E.registry == NULL || !mp_ptrmap_get(E.registry, key, &v)) {
        return NULL;
    }
    last_key = key;
    last_code = (mp_code_t *)v;
    return last_code;
}

static mp_code_t *code_make(const void *key, int first_line)
{
    mp_code_t *c = mp_code_get(key);
    if (c != NULL) {
        return c;
    }
    if (E.registry == NULL && (E.registry = mp_ptrmap_new()) == NULL) {
        return NULL;
    }
    if (E.ncodes == E.codes_cap) {
        size_t ncap = E.codes_cap ? E.codes_cap * 2 : 16;
        mp_code_t **nc = realloc(E.codes, ncap * sizeof(mp_code_t *));
        if (nc == NULL) {
            return NULL;
        }
        E.codes = nc;
        E.codes_cap = ncap;
    }
    c = calloc(1, sizeof(*c));
    if (c == NULL || mp_ptrmap_put(E.registry, key, (size_t)c) < 0) {
        free(c);
        return NULL;
    }
    c->key = key;
    c->first_line = first_line;
    c->index = E.ncodes;
    E.codes[E.ncodes++] = c;
    last_key = NULL;
    return c;
}

/* Drop an entry that lost its last holder. The caller calls hook_last. */
static void code_drop(mp_code_t *c)
{
    size_t dummy;
    (void)mp_ptrmap_take(E.registry, c->key, &dummy);
    E.codes[c->index] = E.codes[--E.ncodes];
    E.codes[c->index]->index = c->index;
    last_key = NULL;
    last_code = NULL;
    free(c->subs);
    free(c);
}

static int hold(mp_code_t *c)
{
    if (c->holds++ == 0 && E.hook_first != NULL) {
        E.hook_first(c->key);
    }
    return 0;
}

int mp_code_subscribe(const void *key, int first_line, mp_table_t *t, int b)
{
    mp_code_t *c = code_make(key, first_line);
    if (c == NULL) {
        errno = ENOMEM;
        return -1;
    }
    for (int i = 0; i < c->nsubs; i++) {
        if (c->subs[i].t == t) {
            return 0;
        }
    }
    if (grow((void **)&c->subs, &c->cap, c->nsubs + 1, sizeof(sub_t)) < 0) {
        if (c->holds == 0) {
            code_drop(c);
        }
        errno = ENOMEM;
        return -1;
    }
    c->subs[c->nsubs].t = t;
    c->subs[c->nsubs].block = b;
    c->nsubs++;
    return hold(c);
}

int mp_code_pin(const void *key, int first_line, int delta)
{
    if (delta > 0) {
        mp_code_t *c = code_make(key, first_line);
        if (c == NULL) {
            errno = ENOMEM;
            return -1;
        }
        return hold(c);
    }
    mp_code_t *c = mp_code_get(key);
    if (c != NULL && --c->holds == 0) {
        const void *k = c->key;
        code_drop(c);
        if (E.hook_last != NULL) {
            E.hook_last(k);
        }
    }
    return 0;
}

static void unsubscribe_all(const mp_table_t *t)
{
    const void **released = NULL;
    size_t nrel = 0;
    for (size_t i = 0; i < E.ncodes;) {
        mp_code_t *c = E.codes[i];
        int w = 0;
        for (int j = 0; j < c->nsubs; j++) {
            if (c->subs[j].t != t) {
                c->subs[w++] = c->subs[j];
            }
        }
        c->holds -= c->nsubs - w;
        c->nsubs = w;
        if (c->holds <= 0) {
            const void **nr = realloc(released, (nrel + 1) * sizeof(const void *));
            if (nr != NULL) {
                released = nr;
                released[nrel++] = c->key;
            }
            code_drop(c); /* moves the last entry to i: look at i again */
            continue;
        }
        i++;
    }
    last_key = NULL;
    last_code = NULL;
    for (size_t i = 0; i < nrel; i++) {
        if (E.hook_last != NULL) {
            E.hook_last(released[i]);
        }
    }
    free(released);
}

int mp_code_first_line(const mp_code_t *c)
{
    return c->first_line;
}

void *mp_code_data(const mp_code_t *c)
{
    return c->data;
}

void mp_code_set_data(mp_code_t *c, void *data)
{
    c->data = data;
}

/* ------------------------------------------------------------ process */

void mp_lines_set_reader(const mp_lines_reader_t *r)
{
    E.reader = *r;
    recompute_masks();
}

void mp_lines_set_code_hooks(mp_code_hook_t first, mp_code_hook_t last)
{
    E.hook_first = first;
    E.hook_last = last;
}

void mp_lines_force_reads(int on)
{
    E.force_reads = on != 0;
}

void mp_lines_after_fork_child(void)
{
    /* Only this thread exists now. The others' states were consistent at
     * fork (the forking thread held the engine lock): drop their references
     * from the tables' counts and free them. */
    pthread_mutex_init(&E.list_lock, NULL);
    mp_thread_t *me = tls_thread;
    for (mp_thread_t *X = E.threads, *next; X != NULL; X = next) {
        next = X->next;
        if (X == me) {
            continue;
        }
        for (int i = 0; i < X->nrefs; i++) {
            if (X->refs[i].t != NULL) {
                X->refs[i].t->bs[X->refs[i].block].live--;
            }
        }
        free(X->frames);
        free(X->refs);
        free(X->tabs);
        free(X->acts);
        free(X);
    }
    E.threads = me;
    if (me != NULL) {
        me->next = me->prev = NULL;
    }
}

void mp_lines_inject_failures(int n)
{
    E.inject_failures = n;
}

int64_t mp_lines_lost(void)
{
    return atomic_load(&E.lost);
}

int64_t mp_lines_cached(int q)
{
    return (q >= 0 && q < MP_NPQ) ? E.cache.v[q] : 0;
}

size_t mp_lines_own_bytes(void)
{
    size_t n = E.codes_cap * sizeof(mp_code_t *) + E.ncodes * sizeof(mp_code_t);
    pthread_mutex_lock(&E.list_lock);
    for (mp_thread_t *X = E.threads; X != NULL; X = X->next) {
        n += sizeof(*X) + (size_t)X->cap * sizeof(frame_t) + (size_t)X->refcap * sizeof(tabref_t)
             + (size_t)X->tabcap * sizeof(onstack_t) + (size_t)X->actcap * sizeof(act_t);
    }
    pthread_mutex_unlock(&E.list_lock);
    return n;
}
