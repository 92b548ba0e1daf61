#include "mp_sampler.h"

#include "mp_clock.h"
#include "mp_proc.h"
#include "mp_tree.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct mp_sampler {
    mp_sampler_opts_t o;
    struct mp_sampler *next_running;  /* running list (list_lock) */
    int paused_for_fork;              /* list_lock */
    pthread_t thread;
    pid_t tid;                 /* the thread's kernel id: set by it, read after join */
    pthread_mutex_t lock;      /* everything below */
    pthread_cond_t wake;       /* stop requests */
    int running, stop_requested, finished, gone, stopped;
    mp_sample_t *samples;
    size_t n, cap;
    mp_child_sample_t *kids;
    size_t nk, capk;
    int64_t peak;
    int peak_reset;            /* the kernel's mark was reset at start */
    /* The descendants (include_children, multiprocess; NULL otherwise).
     * No lock: only take_sample touches it, and take_sample never runs
     * concurrently with itself (start samples before the thread exists,
     * the thread is the only sampler while it runs, stop and the fork
     * handlers sample or restart only after joining it). */
    mp_tree_t *tree;
};

/* Samplers whose thread runs, so fork can stop and restart them. */
static pthread_mutex_t list_lock = PTHREAD_MUTEX_INITIALIZER;
static mp_sampler_t *running_list;

static void list_add(mp_sampler_t *s)
{
    pthread_mutex_lock(&list_lock);
    s->next_running = running_list;
    running_list = s;
    pthread_mutex_unlock(&list_lock);
}

static void list_remove(mp_sampler_t *s)
{
    pthread_mutex_lock(&list_lock);
    for (mp_sampler_t **pp = &running_list; *pp != NULL; pp = &(*pp)->next_running) {
        if (*pp == s) {
            *pp = s->next_running;
            break;
        }
    }
    pthread_mutex_unlock(&list_lock);
}

/* The sampled figure into *bytes: the reader's, or the process's plus, with
 * include_children, its descendants'. The tree's sample also leaves each
 * descendant's figure; *nkids receives how many to record (multiprocess). */
static int read_total(mp_sampler_t *s, int64_t *bytes, size_t *nkids)
{
    int64_t kids = 0;
    int rc = s->o.read != NULL ? s->o.read(s->o.read_ctx, bytes)
                               : mp_meter_read(s->o.backend, s->o.pid, 0, bytes);
    if (rc < 0) {
        return -1;
    }
    size_t n = s->tree != NULL ? mp_tree_sample(s->tree, mp_clock_mono_ns(), &kids) : 0;
    *nkids = s->o.multiprocess ? n : 0; /* recorded one by one only then */
    if (s->o.read != NULL) {
        return 0; /* the reader's figure is the whole figure */
    }
    if (s->o.include_children) {
        *bytes += kids;
    }
    /* A process that exited but was not reaped yet (a zombie) still has its
     * /proc files, all zero: a live process always has resident pages. */
    if (*bytes == 0 && s->o.pid != getpid()) {
        errno = ESRCH;
        return -1;
    }
    return 0;
}

/* Take one sample and append it with its children in one step under the
 * lock. Reading /proc happens outside the lock. Never runs concurrently with
 * itself: start samples before the thread exists, stop after it is joined. */
static int take_sample(mp_sampler_t *s)
{
    int64_t bytes = 0;
    size_t nk = 0;
    if (read_total(s, &bytes, &nk) < 0) {
        int e = errno;
        if (e == ENOENT || e == ESRCH) {
            pthread_mutex_lock(&s->lock);
            s->gone = 1;
            pthread_mutex_unlock(&s->lock);
        }
        errno = e;
        return -1;
    }
    double now = mp_clock_wall();
    int rc = 0;
    pthread_mutex_lock(&s->lock);
    if (s->n == s->cap) {
        size_t ncap = s->cap ? s->cap * 2 : 256;
        mp_sample_t *ns = realloc(s->samples, ncap * sizeof(*ns));
        if (ns == NULL) {
            rc = -1;
            goto done;
        }
        s->samples = ns;
        s->cap = ncap;
    }
    if (s->nk + nk > s->capk) {
        size_t ncap = s->capk ? s->capk : 256;
        while (ncap < s->nk + nk) {
            ncap *= 2;
        }
        mp_child_sample_t *nkd = realloc(s->kids, ncap * sizeof(*nkd));
        if (nkd == NULL) {
            rc = -1;
            goto done;
        }
        s->kids = nkd;
        s->capk = ncap;
    }
    mp_sample_t *smp = &s->samples[s->n++];
    smp->time = now;
    smp->bytes = bytes;
    smp->first_child = s->nk;
    smp->nchildren = nk;
    for (size_t j = 0; j < nk; j++) {
        s->kids[s->nk + j].pid = mp_tree_pid(s->tree, j);
        s->kids[s->nk + j].bytes = mp_tree_bytes(s->tree, j);
    }
    s->nk += nk;
    if (bytes > s->peak) {
        s->peak = bytes;
    }
done:
    pthread_mutex_unlock(&s->lock);
    if (rc < 0) {
        errno = ENOMEM;
    }
    return rc;
}

static void *sampler_main(void *arg)
{
    mp_sampler_t *s = arg;
    s->tid = mp_proc_thread_id();
    struct timespec next;
    clock_gettime(CLOCK_MONOTONIC, &next);
    pthread_mutex_lock(&s->lock);
    for (;;) {
        next.tv_nsec += (long)(s->o.interval_ns % 1000000000);
        next.tv_sec += (time_t)(s->o.interval_ns / 1000000000);
        if (next.tv_nsec >= 1000000000L) {
            next.tv_nsec -= 1000000000L;
            next.tv_sec++;
        }
        /* Absolute deadlines: late wake-ups do not accumulate drift. */
        while (!s->stop_requested) {
            int rc = pthread_cond_timedwait(&s->wake, &s->lock, &next);
            if (rc == ETIMEDOUT) {
                break;
            }
        }
        if (s->stop_requested) {
            break;
        }
        pthread_mutex_unlock(&s->lock);
        int rc = take_sample(s);
        pthread_mutex_lock(&s->lock);
        if ((rc < 0 && s->gone) || (s->o.max_samples && s->n >= s->o.max_samples)) {
            s->finished = 1;
            break;
        }
    }
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

mp_sampler_t *mp_sampler_new(const mp_sampler_opts_t *opts)
{
    if (opts->interval_ns < 100000 || opts->backend < 0 || opts->backend >= MP_BACKEND_COUNT
        || (opts->backend == MP_BACKEND_HEAP && opts->read == NULL)) {
        errno = EINVAL;
        return NULL;
    }
    mp_sampler_t *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        return NULL;
    }
    s->o = *opts;
    if (s->o.pid <= 0) {
        s->o.pid = getpid();
    }
    /* The descendants are followed for include_children (unless a reader
     * gives the whole figure) and for multiprocess; HEAP has no per-process
     * figure (mp_tree_new refuses it), so none are recorded with it. Listed
     * at every sample, as the sampler always has. */
    if ((s->o.multiprocess || (s->o.include_children && s->o.read == NULL))
        && s->o.backend != MP_BACKEND_HEAP) {
        s->tree = mp_tree_new(MP_PROC_ROOT, s->o.pid, s->o.backend, 0);
        if (s->tree == NULL) {
            free(s);
            return NULL;
        }
    }
    pthread_mutex_init(&s->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->wake, &ca);
    pthread_condattr_destroy(&ca);
    return s;
}

int mp_sampler_start(mp_sampler_t *s)
{
    if (s->running || s->stopped) {
        errno = EALREADY;
        return -1;
    }
    /* Reset the kernel's peak mark first, so the peak covers exactly the
     * sampled stretch (not possible with children, nor for a foreign process
     * we may not write to: then the samples' maximum is the peak). */
    if (!s->o.include_children && s->o.read == NULL && s->o.backend == MP_BACKEND_RSS) {
        s->peak_reset = mp_proc_reset_peak(MP_PROC_ROOT, s->o.pid) == 0;
    }
    if (take_sample(s) < 0) {
        return -1;
    }
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&s->thread, NULL, sampler_main, s);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        errno = rc;
        return -1;
    }
    s->running = 1;
    list_add(s);
    return 0;
}

/* Stop and join the thread (the sampler keeps its samples). */
static void join_thread(mp_sampler_t *s)
{
    pthread_mutex_lock(&s->lock);
    s->stop_requested = 1;
    pthread_cond_signal(&s->wake);
    pthread_mutex_unlock(&s->lock);
    pthread_join(s->thread, NULL);
    (void)mp_proc_wait_thread_gone(MP_PROC_ROOT, s->tid, 200);
}

void mp_sampler_fork_prepare(void)
{
    pthread_mutex_lock(&list_lock); /* held across fork */
    for (mp_sampler_t *s = running_list; s != NULL; s = s->next_running) {
        if (!s->finished) {
            join_thread(s);
            s->paused_for_fork = 1;
        }
    }
}

void mp_sampler_fork_parent(void)
{
    for (mp_sampler_t *s = running_list; s != NULL; s = s->next_running) {
        if (s->paused_for_fork) {
            s->paused_for_fork = 0;
            s->stop_requested = 0;
            sigset_t all, old;
            sigfillset(&all);
            pthread_sigmask(SIG_SETMASK, &all, &old);
            if (pthread_create(&s->thread, NULL, sampler_main, s) != 0) {
                s->finished = 1; /* no more samples; stop takes the last one */
            }
            pthread_sigmask(SIG_SETMASK, &old, NULL);
        }
    }
    pthread_mutex_unlock(&list_lock);
}

void mp_sampler_fork_child(void)
{
    /* The child has none of these threads: its samplers stop without a
     * join. Their locks may hold the parent's state. */
    for (mp_sampler_t *s = running_list; s != NULL; s = s->next_running) {
        s->paused_for_fork = 0;
        s->running = 0;
        pthread_mutex_init(&s->lock, NULL);
    }
    running_list = NULL;
    pthread_mutex_init(&list_lock, NULL);
}

void mp_sampler_stop(mp_sampler_t *s)
{
    if (s == NULL || s->stopped) {
        return;
    }
    if (s->running) {
        list_remove(s);
        join_thread(s);
        s->running = 0;
    }
    s->stopped = 1;
    if (!s->gone) {
        (void)take_sample(s);
    }
    if (s->peak_reset && !s->gone) {
        int64_t hwm = 0;
        if (mp_proc_status_peak(MP_PROC_ROOT, s->o.pid, &hwm, NULL) == 0) {
            pthread_mutex_lock(&s->lock);
            if (hwm > s->peak) {
                s->peak = hwm;
            }
            pthread_mutex_unlock(&s->lock);
        }
    }
}

void mp_sampler_free(mp_sampler_t *s)
{
    if (s == NULL) {
        return;
    }
    mp_sampler_stop(s);
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->wake);
    free(s->samples);
    free(s->kids);
    mp_tree_free(s->tree);
    free(s);
}

int mp_sampler_process_gone(const mp_sampler_t *s)
{
    return s->gone;
}

int mp_sampler_finished(mp_sampler_t *s)
{
    pthread_mutex_lock(&s->lock);
    int f = s->finished;
    pthread_mutex_unlock(&s->lock);
    return f;
}

int mp_sampler_snapshot(mp_sampler_t *s, mp_sample_t **out, size_t *n,
                        mp_child_sample_t **children, size_t *nchildren)
{
    pthread_mutex_lock(&s->lock);
    *n = s->n;
    *nchildren = s->nk;
    *out = malloc((s->n ? s->n : 1) * sizeof(mp_sample_t));
    *children = malloc((s->nk ? s->nk : 1) * sizeof(mp_child_sample_t));
    if (*out == NULL || *children == NULL) {
        pthread_mutex_unlock(&s->lock);
        free(*out);
        free(*children);
        *out = NULL;
        *children = NULL;
        errno = ENOMEM;
        return -1;
    }
    if (s->n > 0) { /* the arrays are NULL until the first sample */
        memcpy(*out, s->samples, s->n * sizeof(mp_sample_t));
    }
    if (s->nk > 0) {
        memcpy(*children, s->kids, s->nk * sizeof(mp_child_sample_t));
    }
    pthread_mutex_unlock(&s->lock);
    return 0;
}

void mp_sampler_discard(mp_sampler_t *s, size_t n)
{
    pthread_mutex_lock(&s->lock);
    if (n > s->n) {
        n = s->n;
    }
    if (n > 0) {
        size_t kfirst = (n < s->n) ? s->samples[n].first_child : s->nk;
        memmove(s->samples, s->samples + n, (s->n - n) * sizeof(mp_sample_t));
        s->n -= n;
        if (s->nk > kfirst) {
            memmove(s->kids, s->kids + kfirst, (s->nk - kfirst) * sizeof(mp_child_sample_t));
        }
        s->nk -= kfirst;
        for (size_t i = 0; i < s->n; i++) {
            s->samples[i].first_child -= kfirst;
        }
    }
    pthread_mutex_unlock(&s->lock);
}

int64_t mp_sampler_peak(mp_sampler_t *s)
{
    pthread_mutex_lock(&s->lock);
    int64_t p = s->peak;
    pthread_mutex_unlock(&s->lock);
    return p;
}
