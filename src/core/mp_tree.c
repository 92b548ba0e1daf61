#include "mp_tree.h"

#include "mp_proc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

/* First size of the listing tables; they double while a listing fills them. */
#define FIRST_CAP 64

typedef struct {
    mp_pidmeter_t m;
    int64_t bytes;   /* the last reading */
    int byname;      /* no kept descriptor (past the budget): opened per read */
} kid_t;

/* A listed pid and its place in the listing, for sorting by pid. */
typedef struct {
    pid_t pid;
    size_t pos;
} listed_t;

/* No lock: one owner at a time (see mp_tree.h). */
struct mp_tree {
    char *procfs;          /* owned copy */
    pid_t root;
    mp_backend_t backend;
    int64_t relist_ns;
    int64_t listed_ns;     /* when the last listing was made */
    int listed;            /* a listing was made */
    kid_t *kids;           /* followed, in listing order: kids[0..nkids) */
    size_t nkids;
    kid_t *fresh;          /* relist's scratch: the next kids */
    size_t kids_cap;       /* of kids and of fresh */
    pid_t *pids;           /* relist's scratch: the listing (in order's block) */
    listed_t *order;       /* relist's scratch: the listing sorted by pid */
    size_t pids_cap;       /* of pids and of order */
    size_t fd_budget;      /* the most descriptors kept (half RLIMIT_NOFILE) */
};

/* Descendants past this many are read by path, a descriptor opened and
 * closed per read: kept ones would take every descriptor the owner has (the
 * listing's among them) in a tree wider than its RLIMIT_NOFILE. Half the
 * soft limit is left to the owner. */
static size_t fd_budget(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY ||
        rl.rlim_cur / 2 >= MP_TREE_MAX) {
        return MP_TREE_MAX;
    }
    return (size_t)(rl.rlim_cur / 2);
}

mp_tree_t *mp_tree_new(const char *procfs, pid_t root, mp_backend_t b, int64_t relist_ns)
{
    if (b == MP_BACKEND_HEAP || b < 0 || b >= MP_BACKEND_COUNT || relist_ns < 0) {
        errno = EINVAL;
        return NULL;
    }
    mp_tree_t *t = calloc(1, sizeof(*t));
    if (t == NULL) {
        return NULL;
    }
    t->procfs = strdup(procfs);
    if (t->procfs == NULL) {
        free(t);
        return NULL;
    }
    t->root = root;
    t->backend = b;
    t->relist_ns = relist_ns;
    t->fd_budget = fd_budget();
    return t;
}

void mp_tree_free(mp_tree_t *t)
{
    if (t == NULL) {
        return;
    }
    for (size_t i = 0; i < t->nkids; i++) {
        mp_pidmeter_close(&t->kids[i].m);
    }
    free(t->order); /* and pids, the same block */
    free(t->fresh);
    free(t->kids);
    free(t->procfs);
    free(t);
}

/* Room for cap pids in the listing tables, one block: order[cap] then
 * pids[cap] (listed_t's alignment first). Both are scratch, remade after a
 * growth, so nothing is copied. 0, or -1 (ENOMEM; the old tables stay). */
static int grow_listing(mp_tree_t *t, size_t cap)
{
    if (cap <= t->pids_cap) {
        return 0;
    }
    listed_t *block = malloc(cap * (sizeof(listed_t) + sizeof(pid_t)));
    if (block == NULL) {
        return -1;
    }
    free(t->order);
    t->order = block;
    t->pids = (pid_t *)(void *)(block + cap);
    t->pids_cap = cap;
    return 0;
}

/* Room for cap descendants in kids (kept) and fresh (scratch). kids_cap
 * grows only once both have, so it stays true for both. */
static int grow_kids(mp_tree_t *t, size_t cap)
{
    if (cap <= t->kids_cap) {
        return 0;
    }
    kid_t *nk = realloc(t->kids, cap * sizeof(*nk));
    if (nk == NULL) {
        return -1;
    }
    t->kids = nk;
    kid_t *nf = realloc(t->fresh, cap * sizeof(*nf));
    if (nf == NULL) {
        return -1;
    }
    t->fresh = nf;
    t->kids_cap = cap;
    return 0;
}

/* The descendants of the root into t->pids, *n of them. mp_proc_descendants
 * stops at the table's size without saying so, so a full table is doubled
 * and the listing made again. A root that is gone has none. 0, or -1 with
 * ENOMEM. */
static int list_descendants(mp_tree_t *t, size_t *n)
{
    size_t cap = t->pids_cap > 0 ? t->pids_cap : FIRST_CAP;
    for (;;) {
        if (grow_listing(t, cap) < 0) {
            return -1;
        }
        if (mp_proc_descendants(t->procfs, t->root, t->pids, cap, n) < 0) {
            *n = 0;
            /* Out of descriptors is no sign that the root is gone. */
            return (errno == EMFILE || errno == ENFILE || errno == ENOMEM) ? -1 : 0;
        }
        if (*n < cap || cap >= MP_TREE_MAX) {
            return 0;
        }
        cap = cap * 2 < MP_TREE_MAX ? cap * 2 : MP_TREE_MAX;
    }
}

static int cmp_listed(const void *a, const void *b)
{
    const listed_t *x = a, *y = b;
    if (x->pid != y->pid) {
        return x->pid < y->pid ? -1 : 1;
    }
    return x->pos < y->pos ? -1 : (x->pos > y->pos);
}

static int cmp_kid(const void *a, const void *b)
{
    pid_t x = ((const kid_t *)a)->m.pid, y = ((const kid_t *)b)->m.pid;
    return x < y ? -1 : (x > y);
}

/* bsearch's comparator: the key (a pid) first, then an element. */
static int cmp_pid_kid(const void *key, const void *elem)
{
    pid_t x = *(const pid_t *)key, y = ((const kid_t *)elem)->m.pid;
    return x < y ? -1 : (x > y);
}

/* A pid seen twice in one listing (a process reparented while the tree was
 * walked) is kept at its first place only: two entries would share, and
 * close twice, one descriptor. Sorting keeps this O(n log n). */
static void drop_repeats(mp_tree_t *t, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        t->order[i].pid = t->pids[i];
        t->order[i].pos = i;
    }
    qsort(t->order, n, sizeof(listed_t), cmp_listed);
    for (size_t i = 1; i < n; i++) {
        if (t->order[i].pid == t->order[i - 1].pid) {
            t->pids[t->order[i].pos] = 0;
        }
    }
}

/* List the descendants again: those already followed keep their descriptor
 * (that is what makes pid reuse harmless), new ones are opened, those no
 * longer listed are closed. The new list is in listing order. 0, or -1 with
 * ENOMEM (nothing changed). */
static int relist(mp_tree_t *t)
{
    size_t n = 0;
    if (list_descendants(t, &n) < 0 || grow_kids(t, n) < 0) {
        errno = ENOMEM;
        return -1;
    }
    drop_repeats(t, n);
    if (t->nkids > 1) { /* kids is NULL before the first growth: no qsort(NULL) */
        qsort(t->kids, t->nkids, sizeof(kid_t), cmp_kid);
    }
    size_t nfresh = 0, kept = 0;
    for (size_t i = 0; i < n; i++) {
        pid_t pid = t->pids[i];
        if (pid <= 0) {
            continue;
        }
        kid_t *k = t->nkids == 0 ? NULL : bsearch(&pid, t->kids, t->nkids, sizeof(kid_t), cmp_pid_kid);
        if (k != NULL && !k->byname) {
            t->fresh[nfresh++] = *k;
            k->m.fd = -1; /* moved: not closed below */
            kept++;
            continue;
        }
        kid_t *f = &t->fresh[nfresh];
        if (kept < t->fd_budget &&
            mp_pidmeter_open_at(&f->m, t->procfs, pid, t->backend) == 0) {
            f->byname = 0;
            kept++;
        } else if (kept >= t->fd_budget || errno == EMFILE || errno == ENFILE) {
            f->m.fd = -1; /* followed all the same, read by path */
            f->m.pid = pid;
            f->m.backend = t->backend;
            f->byname = 1;
        } else {
            continue; /* ended, or unreadable */
        }
        f->bytes = k != NULL ? k->bytes : 0;
        nfresh++;
    }
    for (size_t i = 0; i < t->nkids; i++) {
        mp_pidmeter_close(&t->kids[i].m);
    }
    kid_t *swap = t->kids;
    t->kids = t->fresh;
    t->fresh = swap;
    t->nkids = nfresh;
    return 0;
}

size_t mp_tree_sample(mp_tree_t *t, int64_t now_ns, int64_t *total)
{
    if ((!t->listed || now_ns - t->listed_ns >= t->relist_ns) && relist(t) == 0) {
        t->listed_ns = now_ns;
        t->listed = 1;
    }
    int64_t sum = 0;
    size_t live = 0;
    for (size_t i = 0; i < t->nkids; i++) {
        kid_t *k = &t->kids[i];
        if (k->byname) {
            mp_pidmeter_t m;
            int rc = mp_pidmeter_open_at(&m, t->procfs, k->m.pid, t->backend);
            if (rc == 0) {
                rc = mp_pidmeter_read(&m, &k->bytes);
                mp_pidmeter_close(&m);
            } else if (errno == EMFILE || errno == ENFILE) {
                rc = 0; /* no descriptor this time: its last reading stands */
            }
            if (rc < 0) {
                continue; /* it ended */
            }
        } else if (mp_pidmeter_read(&k->m, &k->bytes) < 0) {
            mp_pidmeter_close(&k->m); /* it ended */
            continue;
        }
        sum += t->kids[i].bytes;
        t->kids[live++] = t->kids[i];
    }
    t->nkids = live;
    *total = sum;
    return live;
}

size_t mp_tree_count(const mp_tree_t *t)
{
    return t->nkids;
}

pid_t mp_tree_pid(const mp_tree_t *t, size_t i)
{
    return t->kids[i].m.pid;
}

int64_t mp_tree_bytes(const mp_tree_t *t, size_t i)
{
    return t->kids[i].bytes;
}
