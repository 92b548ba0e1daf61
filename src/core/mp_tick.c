#include "mp_tick.h"

#include "mp_proc.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <time.h>

atomic_int mp_tick_due;

/* lock: start/stop/fork; sleep_lock + sleep_cond: the thread's sleeps and
 * parking. want: atomic, any thread. */
static pthread_t thread;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t sleep_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t sleep_cond;   /* CLOCK_MONOTONIC */
static int cond_ready;
static atomic_int running;          /* the thread should keep going */
static atomic_int parked;           /* the thread waits without a deadline */
static atomic_int alive;            /* a thread exists in this process */
static atomic_long want;            /* users that want ticks */
static atomic_long period_us = 250;
static int restart_after_fork;      /* lock */
static pid_t thread_tid;            /* set by the thread, read after join */
static void (*_Atomic idle_task)(void);

static void init_cond(void)
{
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&sleep_cond, &ca);
    pthread_condattr_destroy(&ca);
    cond_ready = 1;
}

static void *tick_main(void *arg)
{
    (void)arg;
    thread_tid = mp_proc_thread_id();
    struct timespec next;
    clock_gettime(CLOCK_MONOTONIC, &next);
    pthread_mutex_lock(&sleep_lock);
    while (atomic_load(&running)) {
        if (atomic_load(&want) <= 0) {
            /* Nobody wants ticks: park until wanted. The idle task, if any,
             * runs once after a second of this (unless wanted meanwhile). */
            atomic_store(&parked, 1);
            void (*task)(void) = atomic_load(&idle_task);
            if (task != NULL) {
                struct timespec until;
                clock_gettime(CLOCK_MONOTONIC, &until);
                until.tv_sec += 1;
                while (atomic_load(&running) && atomic_load(&want) <= 0
                       && pthread_cond_timedwait(&sleep_cond, &sleep_lock, &until) != ETIMEDOUT) {
                }
                if (atomic_load(&running) && atomic_load(&want) <= 0) {
                    pthread_mutex_unlock(&sleep_lock);
                    task();
                    pthread_mutex_lock(&sleep_lock);
                }
            }
            while (atomic_load(&running) && atomic_load(&want) <= 0) {
                pthread_cond_wait(&sleep_cond, &sleep_lock);
            }
            atomic_store(&parked, 0);
            clock_gettime(CLOCK_MONOTONIC, &next); /* a fresh grid from now */
            continue;
        }
        long p = atomic_load_explicit(&period_us, memory_order_relaxed);
        next.tv_sec += p / 1000000;
        next.tv_nsec += (p % 1000000) * 1000;
        if (next.tv_nsec >= 1000000000L) {
            next.tv_nsec -= 1000000000L;
            next.tv_sec++;
        }
        /* Absolute deadlines: a late wake-up does not shift later ticks. A
         * condition variable rather than a sleep, so stop is immediate. */
        while (atomic_load(&running)
               && pthread_cond_timedwait(&sleep_cond, &sleep_lock, &next) != ETIMEDOUT) {
        }
        atomic_store_explicit(&mp_tick_due, 1, memory_order_relaxed);
    }
    pthread_mutex_unlock(&sleep_lock);
    return NULL;
}

/* lock held. */
static int start_locked(void)
{
    if (!cond_ready) {
        init_cond();
    }
    if (atomic_load(&alive)) {
        return 0;
    }
    /* The thread must not receive the program's signals. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    atomic_store(&running, 1);
    int rc = pthread_create(&thread, NULL, tick_main, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        atomic_store(&running, 0);
        errno = rc;
        return -1;
    }
    atomic_store(&alive, 1);
    return 0;
}

/* lock held. */
static void stop_locked(void)
{
    if (!atomic_load(&alive)) {
        return;
    }
    pthread_mutex_lock(&sleep_lock);
    atomic_store(&running, 0);
    pthread_cond_signal(&sleep_cond);
    pthread_mutex_unlock(&sleep_lock);
    pthread_join(thread, NULL);
    (void)mp_proc_wait_thread_gone(MP_PROC_ROOT, thread_tid, 200);
    atomic_store(&alive, 0);
}

int mp_tick_want(int delta)
{
    long before = atomic_fetch_add(&want, delta);
    if (delta <= 0 || before > 0) {
        return 0;
    }
    if (atomic_load(&alive)) {
        if (atomic_load(&parked)) {
            /* Parked for a tick or more: readings may be that old; the
             * first use reads at once. (Not when it still ticks: a call
             * following another within a tick costs no read.) */
            atomic_store(&mp_tick_due, 1);
            pthread_mutex_lock(&sleep_lock);
            pthread_cond_signal(&sleep_cond);
            pthread_mutex_unlock(&sleep_lock);
        }
        return 0;
    }
    atomic_store(&mp_tick_due, 1); /* the first use reads at once */
    pthread_mutex_lock(&lock);
    int rc = start_locked();
    pthread_mutex_unlock(&lock);
    return rc;
}

int mp_tick_set_period(long us)
{
    if (us < 10 || us > 10000000L) {
        errno = EINVAL;
        return -1;
    }
    atomic_store(&period_us, us);
    return 0;
}

long mp_tick_period_us(void)
{
    return atomic_load(&period_us);
}

int mp_tick_alive(void)
{
    return atomic_load(&alive);
}

void mp_tick_set_idle_task(void (*task)(void))
{
    atomic_store(&idle_task, task);
}

void mp_tick_stop(void)
{
    pthread_mutex_lock(&lock);
    stop_locked();
    pthread_mutex_unlock(&lock);
}

void mp_tick_fork_prepare(void)
{
    pthread_mutex_lock(&lock);
    restart_after_fork = atomic_load(&alive);
    stop_locked();
    /* lock stays held across fork: released on both sides. */
}

void mp_tick_fork_parent(void)
{
    if (restart_after_fork) {
        (void)start_locked();
    }
    pthread_mutex_unlock(&lock);
}

void mp_tick_fork_child(long want_now)
{
    /* No thread here; the objects may hold the parent's state. */
    pthread_mutex_init(&lock, NULL);
    pthread_mutex_init(&sleep_lock, NULL);
    init_cond();
    atomic_store(&alive, 0);
    atomic_store(&running, 0);
    atomic_store(&parked, 0);
    atomic_store(&mp_tick_due, 1);
    /* Of the parent's users only the forking thread's are here. */
    atomic_store(&want, want_now);
    if (want_now > 0) {
        (void)start_locked();
    }
}
