/* Labels as the reference's function_labels makes them: every name starts
 * labelled by its last component; while some label is shared, each shared
 * label's names are labelled again one component deeper (joining whatever
 * label that gives, settled or not, at that label's own depth). Here with a
 * hash table of labels, so each round costs the names that move. */
#include "mp_labels.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *label;  /* NULL: empty slot; a suffix of some name */
    int level;          /* components in the label when it was made */
    size_t head;        /* first member + 1 (0: none) */
    size_t count;
    int removed;
} entry_t;

typedef struct {
    entry_t *slots;
    size_t cap;
    size_t used;        /* occupied slots (removed ones included) */
    size_t *next;       /* per name: next member + 1 */
} table_t;

static const char *suffix(const char *s, int level)
{
    const char *p = s + strlen(s);
    int seen = 0;
    while (p > s) {
        if (p[-1] == '.' && ++seen == level) {
            return p;
        }
        p--;
    }
    return s;
}

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (; *s; s++) {
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    }
    return h;
}

/* The slot of label (found, or the empty one where it goes). */
static entry_t *slot(table_t *t, const char *label)
{
    size_t s = (size_t)hash_str(label) & (t->cap - 1);
    while (t->slots[s].label != NULL && strcmp(t->slots[s].label, label) != 0) {
        s = (s + 1) & (t->cap - 1);
    }
    return &t->slots[s];
}

/* Double the table (rehash every occupied slot). 0 or -1. */
static int grow(table_t *t)
{
    entry_t *old = t->slots;
    size_t oldcap = t->cap;
    t->cap *= 2;
    t->slots = calloc(t->cap, sizeof(entry_t));
    if (t->slots == NULL) {
        t->slots = old;
        t->cap = oldcap;
        return -1;
    }
    for (size_t s = 0; s < oldcap; s++) {
        if (old[s].label != NULL) {
            *slot(t, old[s].label) = old[s];
        }
    }
    free(old);
    return 0;
}

/* Name i joins the label at `level` (made if absent, at that level), or
 * NULL when memory runs out. */
static entry_t *join(table_t *t, const char *const *names, size_t i, int level)
{
    const char *label = suffix(names[i], level);
    entry_t *e = slot(t, label);
    if (e->label == NULL) {
        if ((t->used + 1) * 2 > t->cap) {
            if (grow(t) < 0) {
                return NULL;
            }
            e = slot(t, label);
        }
        t->used++;
    }
    if (e->label == NULL || e->removed) {
        e->label = label;
        e->level = level;
        e->head = 0;
        e->count = 0;
        e->removed = 0;
    }
    t->next[i] = e->head;
    e->head = i + 1;
    e->count++;
    return e;
}

int mp_labels(const char *const *names, size_t n, const char **labels)
{
    if (n == 0) {
        return 0;
    }
    table_t t = {0};
    t.cap = 16;
    while (t.cap < n * 4) {
        t.cap *= 2;
    }
    t.slots = calloc(t.cap, sizeof(entry_t));
    t.next = calloc(n, sizeof(size_t));
    size_t *moving = malloc(n * sizeof(size_t));
    size_t *shared = malloc(n * sizeof(size_t)); /* slot indices of shared labels */
    int *levels = malloc(n * sizeof(int));        /* the level each moving name goes to */
    size_t nshared = 0;
    int rc = (t.slots == NULL || t.next == NULL || moving == NULL || shared == NULL
              || levels == NULL) ? -1 : 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        entry_t *e = join(&t, names, i, 1);
        if (e == NULL) {
            rc = -1;
        } else if (e->count == 2) {
            shared[nshared++] = i;
        }
    }
    /* Shared labels as slot indices, once every join is done (a growth of
     * the table moves the slots). */
    for (size_t k = 0; rc == 0 && k < nshared; k++) {
        shared[k] = (size_t)(slot(&t, suffix(names[shared[k]], 1)) - t.slots);
    }
    while (nshared > 0 && rc == 0) {
        /* Take every shared label's names out, then put them back one
         * level deeper than their label was. */
        size_t nmove = 0;
        for (size_t k = 0; k < nshared; k++) {
            entry_t *e = &t.slots[shared[k]];
            /* Equal names, or names no longer than their label, cannot
             * grow: if none of the label's names can, it stays shared. */
            int any = 0;
            for (size_t m = e->head; m != 0 && !any; m = t.next[m - 1]) {
                any = suffix(names[m - 1], e->level + 1) != suffix(names[m - 1], e->level);
            }
            if (!any || e->removed) {
                continue;
            }
            for (size_t m = e->head; m != 0; m = t.next[m - 1]) {
                levels[nmove] = e->level + 1;
                moving[nmove++] = m - 1;
            }
            e->removed = 1;
            e->count = 0;
            e->head = 0;
        }
        nshared = 0;
        for (size_t k = 0; k < nmove; k++) {
            size_t i = moving[k];
            entry_t *e = join(&t, names, i, levels[k]);
            if (e == NULL) {
                rc = -1;
                break;
            }
            /* (Slot indices are taken after every join of the round: a
             * growth moves the slots.) */
            if (e->count == 2) {
                shared[nshared++] = k; /* a position in moving/levels */
            }
        }
        /* Turn them into their labels' slots now. */
        for (size_t k = 0; rc == 0 && k < nshared; k++) {
            size_t pos = shared[k];
            shared[k] = (size_t)(slot(&t, suffix(names[moving[pos]], levels[pos])) - t.slots);
        }
    }
    for (size_t s = 0; rc == 0 && s < t.cap; s++) {
        const entry_t *e = &t.slots[s];
        if (e->label != NULL && !e->removed) {
            for (size_t m = e->head; m != 0; m = t.next[m - 1]) {
                labels[m - 1] = e->label;
            }
        }
    }
    free(t.slots);
    free(t.next);
    free(moving);
    free(shared);
    free(levels);
    if (rc < 0) {
        errno = ENOMEM;
    }
    return rc;
}
