#include "mp_ptrmap.h"

#include <stdlib.h>
#include <sys/mman.h>

/* Linear probing with backward-shift deletion (no tombstones), so lookups
 * stay short under the alloc/free churn of an allocator. Capacity is a power
 * of two; the load factor is kept under 1/2, and the table halves when it
 * falls under 1/8 (hysteresis: no resize ping-pong at a boundary).
 *
 * The slots are mapped with mmap, not malloc: the C library keeps large
 * freed blocks for reuse (glibc raises its mmap threshold after such a
 * free), and this table can be hundreds of MiB at a program's peak. Its
 * memory must leave RSS when it shrinks, or the profiler's bookkeeping
 * would stay in every later reading. */
typedef struct {
    uintptr_t key; /* 0 = empty slot; NULL is never recorded */
    size_t size;
} slot_t;

struct mp_ptrmap {
    slot_t *slots;
    size_t cap;
    size_t count;
};

static size_t hash_ptr(uintptr_t p, size_t mask)
{
    /* Blocks are at least 8-aligned: mix the low bits away (Fibonacci hash). */
    uint64_t h = (uint64_t)(p >> 3) * UINT64_C(0x9E3779B97F4A7C15);
    return (size_t)(h >> 17) & mask;
}

#define MIN_CAP 1024

static slot_t *map_slots(size_t cap)
{
    void *p = mmap(NULL, cap * sizeof(slot_t), PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p; /* zero-filled */
}

static void unmap_slots(slot_t *s, size_t cap)
{
    if (s != NULL) {
        munmap(s, cap * sizeof(slot_t));
    }
}

mp_ptrmap_t *mp_ptrmap_new(void)
{
    mp_ptrmap_t *m = calloc(1, sizeof(*m));
    if (m == NULL) {
        return NULL;
    }
    m->cap = MIN_CAP;
    m->slots = map_slots(m->cap);
    if (m->slots == NULL) {
        free(m);
        return NULL;
    }
    return m;
}

void mp_ptrmap_free(mp_ptrmap_t *m)
{
    if (m == NULL) {
        return;
    }
    unmap_slots(m->slots, m->cap);
    free(m);
}

size_t mp_ptrmap_bytes(const mp_ptrmap_t *m)
{
    /* The table only (a whole number of pages): the header is a few bytes. */
    return m == NULL ? 0 : m->cap * sizeof(slot_t);
}

static void insert_slot(slot_t *slots, size_t mask, uintptr_t key, size_t size)
{
    size_t i = hash_ptr(key, mask);
    while (slots[i].key != 0 && slots[i].key != key) {
        i = (i + 1) & mask;
    }
    slots[i].key = key;
    slots[i].size = size;
}

static int resize(mp_ptrmap_t *m, size_t ncap)
{
    slot_t *ns = map_slots(ncap);
    if (ns == NULL) {
        return -1;
    }
    for (size_t i = 0; i < m->cap; i++) {
        if (m->slots[i].key != 0) {
            insert_slot(ns, ncap - 1, m->slots[i].key, m->slots[i].size);
        }
    }
    unmap_slots(m->slots, m->cap);
    m->slots = ns;
    m->cap = ncap;
    return 0;
}

static int grow(mp_ptrmap_t *m)
{
    return resize(m, m->cap * 2);
}

int mp_ptrmap_put(mp_ptrmap_t *m, const void *ptr, size_t size)
{
    uintptr_t key = (uintptr_t)ptr;
    if (key == 0) {
        return 0;
    }
    if ((m->count + 1) * 2 > m->cap && grow(m) < 0) {
        return -1;
    }
    size_t mask = m->cap - 1;
    size_t i = hash_ptr(key, mask);
    while (m->slots[i].key != 0) {
        if (m->slots[i].key == key) {
            m->slots[i].size = size;
            return 0;
        }
        i = (i + 1) & mask;
    }
    m->slots[i].key = key;
    m->slots[i].size = size;
    m->count++;
    return 0;
}

int mp_ptrmap_take(mp_ptrmap_t *m, const void *ptr, size_t *size)
{
    uintptr_t key = (uintptr_t)ptr;
    if (key == 0 || m->count == 0) {
        return 0;
    }
    size_t mask = m->cap - 1;
    size_t i = hash_ptr(key, mask);
    while (m->slots[i].key != key) {
        if (m->slots[i].key == 0) {
            return 0;
        }
        i = (i + 1) & mask;
    }
    *size = m->slots[i].size;
    m->count--;
    /* Backward-shift: pull later members of the probe run into the hole. */
    size_t hole = i;
    size_t j = i;
    for (;;) {
        j = (j + 1) & mask;
        if (m->slots[j].key == 0) {
            break;
        }
        size_t home = hash_ptr(m->slots[j].key, mask);
        /* Move j into the hole unless its home lies cyclically in (hole, j]. */
        int in_range = (hole <= j) ? (home > hole && home <= j) : (home > hole || home <= j);
        if (!in_range) {
            m->slots[hole] = m->slots[j];
            hole = j;
        }
    }
    m->slots[hole].key = 0;
    m->slots[hole].size = 0;
    if (m->cap > MIN_CAP && m->count * 8 < m->cap) {
        (void)resize(m, m->cap / 2); /* failing to shrink loses nothing */
    }
    return 1;
}

int mp_ptrmap_get(const mp_ptrmap_t *m, const void *ptr, size_t *size)
{
    uintptr_t key = (uintptr_t)ptr;
    if (m == NULL || key == 0 || m->count == 0) {
        return 0;
    }
    size_t mask = m->cap - 1;
    for (size_t i = hash_ptr(key, mask); m->slots[i].key != 0; i = (i + 1) & mask) {
        if (m->slots[i].key == key) {
            *size = m->slots[i].size;
            return 1;
        }
    }
    return 0;
}

size_t mp_ptrmap_count(const mp_ptrmap_t *m)
{
    return m == NULL ? 0 : m->count;
}
