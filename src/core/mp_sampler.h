/* mp_sampler: a C thread that samples a process's memory at a fixed
 * interval, without the GIL (it only reads /proc), so intervals down to a
 * millisecond are honoured whatever the sampled code does.
 *
 * A sample is taken synchronously by start and by stop, so even a very short
 * run has a first and a last figure. The peak is the true peak where the
 * kernel keeps one: the process's VmHWM is reset at start (when permitted)
 * and read at stop, so a spike between two samples is not missed.
 *
 * Thread safety: start/stop/accessors from one controlling thread; the
 * sampling thread only appends under the sampler's mutex. */
#ifndef MP_SAMPLER_H
#define MP_SAMPLER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "mp_meter.h"

typedef struct mp_sampler mp_sampler_t;

typedef struct {
    double time;        /* wall clock, seconds since the epoch */
    int64_t bytes;      /* the process (plus descendants with include_children) */
    size_t first_child; /* index into the children table (multiprocess) */
    size_t nchildren;
} mp_sample_t;

typedef struct {
    pid_t pid;
    int64_t bytes;
} mp_child_sample_t;

/* Optional reader replacing mp_meter_read (used for the heap backend).
 * Called from the sampling thread: must not need the GIL. */
typedef int (*mp_sampler_read_fn)(void *ctx, int64_t *bytes);

typedef struct {
    pid_t pid;                /* 0: this process */
    mp_backend_t backend;
    int include_children;
    int multiprocess;         /* also record each descendant per sample */
    int64_t interval_ns;      /* >= 100000 (0.1 ms) */
    size_t max_samples;       /* 0: unlimited; the thread stops after this many */
    mp_sampler_read_fn read;  /* NULL: mp_meter_read(backend, pid, children) */
    void *read_ctx;
} mp_sampler_opts_t;

/* New sampler (not running). NULL with errno set on bad options or no memory. */
mp_sampler_t *mp_sampler_new(const mp_sampler_opts_t *opts);

/* Free; stops the thread first. NULL is a no-op. */
void mp_sampler_free(mp_sampler_t *s);

/* Take the first sample, reset the peak mark, start the thread.
 * Returns 0, or -1 with errno set (ENOENT: no such process). */
int mp_sampler_start(mp_sampler_t *s);

/* Stop the thread (at once, not after the interval), take a last sample if
 * the process still exists, read the peak. Idempotent. */
void mp_sampler_stop(mp_sampler_t *s);

/* 1 once the sampled process has gone away (the series ended cleanly). */
int mp_sampler_process_gone(const mp_sampler_t *s);

/* 1 when the thread stopped by itself (max_samples reached, process gone). */
int mp_sampler_finished(mp_sampler_t *s);

/* Copy of the samples so far into *out (malloc'd, caller frees), count in *n;
 * children likewise. Safe while running. Returns 0 or -1 (ENOMEM). */
int mp_sampler_snapshot(mp_sampler_t *s, mp_sample_t **out, size_t *n,
                        mp_child_sample_t **children, size_t *nchildren);

/* Drop the first n samples (and their children) after the caller has
 * consumed them (streaming). */
void mp_sampler_discard(mp_sampler_t *s, size_t n);

/* The highest memory seen: max over samples, and the kernel's peak mark of
 * the process when it could be reset at start (not with include_children). */
int64_t mp_sampler_peak(mp_sampler_t *s);

/* Around fork (all samplers of the process): stop their threads before,
 * restart them in the parent, and in the child let them end without one. */
void mp_sampler_fork_prepare(void);
void mp_sampler_fork_parent(void);
void mp_sampler_fork_child(void);

#endif
