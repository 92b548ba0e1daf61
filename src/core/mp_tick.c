#include "mp_tick.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <time.h>

atomic_int mp_tick_due;

static pthread_t thread;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER; /* start/stop */
static pthread_mutex_t sleep_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t sleep_cond;   /* CLOCK_MONOTONIC; signalled by stop */
static int cond_ready;
static atomic_int running;      /* the thread should keep going */
static atomic_int paused;       /* parked without ticking (sleep_lock) */
static atomic_int alive;        /* a thread exists in this process */
static atomic_long period_us = 250;

static void *tick_main(void *arg)
{
    (void)arg;
    struct timespec next;
    clock_gettime(CLOCK_MONOTONIC, &next);
    while (atomic_load_explicit(&running, memory_order_relaxed)) {
        pthread_mutex_lock(&sleep_lock);
        if (atomic_load(&paused)) {
            /* Parked: no wake-ups at all until resumed or stopped. */
            while (atomic_load(&running) && atomic_load(&paused)) {
                pthread_cond_wait(&sleep_cond, &sleep_lock);
            }
            pthread_mutex_unlock(&sleep_lock);
            clock_gettime(CLOCK_MONOTONIC, &next); /* a fresh grid from now */
            continue;
        }
        pthread_mutex_unlock(&sleep_lock);
        long p = atomic_load_explicit(&period_us, memory_order_relaxed);
        next.tv_nsec += p * 1000;
        while (next.tv_nsec >= 1000000000L) {
            next.tv_nsec -= 1000000000L;
            next.tv_sec++;
        }
        /* Absolute deadlines: a late wake-up does not shift later ticks. A
         * condition variable rather than a sleep, so stop is immediate. */
        pthread_mutex_lock(&sleep_lock);
        while (atomic_load_explicit(&running, memory_order_relaxed) && !atomic_load(&paused)
               && pthread_cond_timedwait(&sleep_cond, &sleep_lock, &next) != ETIMEDOUT) {
        }
        pthread_mutex_unlock(&sleep_lock);
        atomic_store_explicit(&mp_tick_due, 1, memory_order_relaxed);
    }
    return NULL;
}

static void after_fork_child(void)
{
    /* The thread did not come along: leave the flag raised for good. */
    atomic_store(&alive, 0);
    atomic_store(&running, 0);
    atomic_store(&paused, 0);
    atomic_store(&mp_tick_due, 1);
    pthread_mutex_init(&lock, NULL);
    pthread_mutex_init(&sleep_lock, NULL);
}

int mp_tick_start(long us)
{
    static int atfork_done;
    if (us < 10) {
        errno = EINVAL;
        return -1;
    }
    pthread_mutex_lock(&lock);
    if (!atfork_done) {
        pthread_atfork(NULL, NULL, after_fork_child);
        atfork_done = 1;
    }
    if (!cond_ready) {
        pthread_condattr_t ca;
        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        pthread_cond_init(&sleep_cond, &ca);
        pthread_condattr_destroy(&ca);
        cond_ready = 1;
    }
    atomic_store(&period_us, us);
    atomic_store(&mp_tick_due, 1); /* (re)starting: the first use reads at once */
    int rc = 0;
    if (atomic_load(&alive)) {
        pthread_mutex_lock(&sleep_lock); /* resume a parked thread */
        atomic_store(&paused, 0);
        pthread_cond_signal(&sleep_cond);
        pthread_mutex_unlock(&sleep_lock);
    } else {
        /* The thread must not receive the program's signals. */
        sigset_t all, old;
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        atomic_store(&running, 1);
        rc = pthread_create(&thread, NULL, tick_main, NULL);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        if (rc != 0) {
            atomic_store(&running, 0);
            errno = rc;
            rc = -1;
        } else {
            atomic_store(&alive, 1);
        }
    }
    pthread_mutex_unlock(&lock);
    return rc;
}

void mp_tick_pause(void)
{
    pthread_mutex_lock(&lock);
    if (atomic_load(&alive)) {
        pthread_mutex_lock(&sleep_lock);
        atomic_store(&paused, 1);
        pthread_cond_signal(&sleep_cond);
        pthread_mutex_unlock(&sleep_lock);
    }
    pthread_mutex_unlock(&lock);
}

void mp_tick_stop(void)
{
    pthread_mutex_lock(&lock);
    if (atomic_load(&alive)) {
        pthread_mutex_lock(&sleep_lock);
        atomic_store(&running, 0);
        atomic_store(&paused, 0);
        pthread_cond_signal(&sleep_cond);
        pthread_mutex_unlock(&sleep_lock);
        pthread_join(thread, NULL);
        atomic_store(&alive, 0);
    }
    pthread_mutex_unlock(&lock);
}

int mp_tick_alive(void)
{
    return atomic_load(&alive);
}

long mp_tick_period_us(void)
{
    return atomic_load(&period_us);
}
