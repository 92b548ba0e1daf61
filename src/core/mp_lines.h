/* mp_lines.h: per-line accounting for the line profiler, in plain C.
 *
 * The tracer (src/ext) turns interpreter events into the three calls
 * mp_lines_start / mp_lines_line / mp_lines_end. This module keeps, per
 * thread, the stack of profiled frames running there and, per report table,
 * one row per source line. It applies the one rule of the report:
 *
 *   Within one table, each change of a measured quantity is counted once,
 *   on the innermost line of that table that was running (in the thread
 *   that saw the change) when it was measured. A callee in another table is
 *   charged to the calling line of this table too, once.
 *
 * So a call's increments add up to its net change, a comprehension's or a
 * nested function's memory shows on its own line only, and recursion shows
 * each level's bytes on the line that allocated them.
 *
 * Which frames a table counts: a frame of one of its code objects that
 * starts while the table is active in that thread, either because the
 * table is enabled for every thread (mp_table_set_global) or because this
 * thread activated it (mp_table_activate: a profiled call in progress).
 *
 * Quantities. Process-wide ones (memory by backend, with or without the
 * children; RSS is process-wide by nature) are read through the reader
 * below when a read is due: every event in exact mode, otherwise when the
 * tick thread or the allocator watch raised their flag. Each table keeps
 * its own baseline of them, so a change is charged once per table whichever
 * thread reads it. Thread-local ones (Python-heap and native bytes of this
 * thread) are read on every event and charged to the tables on this
 * thread's stack only.
 *
 * Locking: every function here expects the engine lock, which is the GIL
 * in the extension, unless its comment says otherwise. The list of thread
 * states has its own mutex, for threads ending without the engine lock. */
#ifndef MP_LINES_H
#define MP_LINES_H

#include "mp_meter.h"
#include "mp_report.h"

#include <stdatomic.h>
#include <stdint.h>

/* Raised (set to 1) by allocator watches when RSS may have moved: large
 * blocks went through Python's or the native allocators. Any thread. */
extern atomic_int mp_lines_due;

/* Process-wide quantities: backend * 2 + (children ? 1 : 0), then the
 * file-backed resident bytes used by the explain column. */
#define MP_Q_OF(backend, children) ((backend) * 2 + ((children) ? 1 : 0))
#define MP_Q_FILE (2 * MP_BACKEND_COUNT)
#define MP_NPQ (MP_Q_FILE + 1)
#define MP_Q_RSS MP_Q_OF(MP_BACKEND_RSS, 0)

/* Thread-local quantities. */
enum {
    MP_T_HEAP_NET,      /* Python-heap bytes allocated - freed by this thread */
    MP_T_HEAP_ALLOC,    /* Python-heap bytes allocated by this thread */
    MP_T_NATIVE_NET,    /* native (malloc/mmap) bytes allocated - freed */
    MP_T_NATIVE_ALLOC,  /* native bytes allocated */
    MP_NTQ
};

/* Optional columns of a table: MP_COL_* of mp_report.h. */

/* What one source line of one table accumulated. Bytes (or the backend's
 * unit); occ counts finished executions of the line. */
typedef struct {
    int64_t occ;
    int64_t inc;          /* changes of the table's backend quantity */
    int64_t mem;          /* highest backend reading when the line ended */
    int64_t peak;         /* highest reading while the line ran (peak column) */
    int64_t heap_net, heap_alloc;       /* heap column */
    int64_t native_net, native_alloc;   /* native column */
    int64_t file;         /* file-backed resident change (explain column) */
} mp_row_t;

typedef struct {
    int first_line;
    int nlines;
    mp_row_t *rows;       /* nlines rows, calloc'd */
} mp_block_t;

typedef struct mp_table mp_table_t;
typedef struct mp_code mp_code_t;

/* How the engine reads memory; set once with mp_lines_set_reader. */
typedef struct {
    /* Read process-wide quantity q into *v. When hwm is not NULL (only for
     * MP_Q_RSS with a peak column in use), also the kernel's peak mark
     * since the previous such read into *hwm (or -1). 0, or -1. */
    int (*read)(int q, int64_t *v, int64_t *hwm);
    /* 1 if reading q costs a load (a counter), 0 if a system call. */
    int (*cheap)(int q);
    /* This thread's value of thread-local quantity tq. Any thread. */
    int64_t (*tls)(int tq);
} mp_lines_reader_t;

void mp_lines_set_reader(const mp_lines_reader_t *r);

/* Called when a code object gets its first holder (a subscribed table or a
 * pin) and when it loses its last. Set once; the extension keeps the code
 * object alive and its events on in between. Never called from inside
 * mp_lines_start/line/end. */
typedef void (*mp_code_hook_t)(const void *key);
void mp_lines_set_code_hooks(mp_code_hook_t first, mp_code_hook_t last);

/* Called when a row's backend reading first exceeds the table's limit:
 * owner as given to mp_table_set_limit, frame as the event gave it. */
typedef void (*mp_limit_hook_t)(void *owner, const void *frame, int64_t now);

/* ---------------------------------------------------------------- tables */

/* A new table measuring backend quantity q (MP_Q_OF) with columns cols
 * (MP_COL_*), reading on every event when exact. NULL with errno ENOMEM. */
mp_table_t *mp_table_new(int q, int cols, int exact);

/* Unsubscribe from every code, stop counting on every thread, free. NULL
 * is a no-op. */
void mp_table_free(mp_table_t *t);

/* A new block of rows first_line .. first_line + nlines - 1. Its index, or
 * -1 with errno ENOMEM. */
int mp_table_add_block(mp_table_t *t, int first_line, int nlines);

int mp_table_nblocks(const mp_table_t *t);
const mp_block_t *mp_table_block(const mp_table_t *t, int i);
int mp_table_quantity(const mp_table_t *t);
int mp_table_columns(const mp_table_t *t);
int mp_table_exact(const mp_table_t *t);

/* The row of `line` in block b, grown if past the end; NULL for a line
 * before the block or when memory runs out. */
mp_row_t *mp_table_row(mp_table_t *t, int b, int line);

/* Count frames in every thread (on) or stop (off). Stopping purges this
 * table from the frames already running in threads that did not activate
 * it. Returns the previous state. */
int mp_table_set_global(mp_table_t *t, int on);
int mp_table_global(const mp_table_t *t);

/* This thread's activation count: a profiled call in progress here.
 * activate returns 0, or -1 with errno ENOMEM. When the count returns to
 * zero (and the table is not global) the table stops counting the frames
 * still running in this thread. */
int mp_table_activate(mp_table_t *t);
void mp_table_deactivate(mp_table_t *t);
int mp_table_activations_here(const mp_table_t *t);

/* 1 if frames starting now in this thread would be counted by t. */
int mp_table_active_here(const mp_table_t *t);

/* The limit (backend unit) past which hook(owner, frame, reading) is called
 * once; < 0 for none. */
void mp_table_set_limit(mp_table_t *t, int64_t limit, mp_limit_hook_t hook, void *owner);

/* Events lost to a failed allocation while this table existed: its report
 * is incomplete when non-zero. */
int64_t mp_table_lost(const mp_table_t *t);

/* --------------------------------------------------------------- codes */

/* The registry entry of a code object (identity key), or NULL. The last
 * answer is cached: the hot path (one event per line) is a compare. */
mp_code_t *mp_code_get_slow(const void *key);
extern const void *mp_code_last_key;
extern mp_code_t *mp_code_last;

static inline mp_code_t *mp_code_get(const void *key)
{
    return key == mp_code_last_key ? mp_code_last : mp_code_get_slow(key);
}

/* Subscribe table t (its block b) to the code `key` whose first line is
 * first_line; the entry is made if needed. 0, or -1 with errno ENOMEM. */
int mp_code_subscribe(const void *key, int first_line, mp_table_t *t, int b);

/* Hold the entry of `key` without a table (delta +1/-1): a profiled
 * function's copy of its code, whose start activates a table. 0, or -1
 * with errno ENOMEM (only when pinning). */
int mp_code_pin(const void *key, int first_line, int delta);

int mp_code_first_line(const mp_code_t *c);

/* Whatever the extension attached to a code entry (an activator), or NULL. */
void *mp_code_data(const mp_code_t *c);
void mp_code_set_data(mp_code_t *c, void *data);

/* -------------------------------------------------------------- events */

/* A frame of code c starts or resumes at `line`. frame identifies it where
 * the interpreter gives frames (up to 3.11), else NULL. */
void mp_lines_start(mp_code_t *c, const void *frame, int line);

/* The frame is about to run `line`. */
void mp_lines_line(mp_code_t *c, const void *frame, int line);

/* The frame returns or unwinds (final=1), or yields (0). */
void mp_lines_end(mp_code_t *c, const void *frame, int final);

/* ------------------------------------------------------------ process */

/* Read on every event from now on (after fork in a child without a tick
 * thread), or not. */
void mp_lines_force_reads(int on);

/* Forget every thread's stack (the child after fork keeps only its own
 * thread; the others do not exist there). Any lock state. */
void mp_lines_after_fork_child(void);

/* Tests: make the next n frame pushes fail as if memory ran out. */
void mp_lines_inject_failures(int n);

/* Events lost to failed allocations since the process started. */
int64_t mp_lines_lost(void);

/* The current reading of process-wide quantity q as last read (bytes). */
int64_t mp_lines_cached(int q);

/* Bytes of the engine's own bookkeeping (stacks, registry, rows). */
size_t mp_lines_own_bytes(void);

#endif
