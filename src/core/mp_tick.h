/* mp_tick: a background thread that raises a flag every period, so a hot
 * path can learn "time has passed" with one memory load instead of a clock
 * read. It never touches Python and never takes the GIL.
 *
 * It ticks while someone wants it (mp_tick_want) and parks itself at the
 * first tick nobody does, so turning it on and off around short calls costs
 * an atomic add, not a thread wake-up. Around fork the thread is stopped
 * (CPython warns about forking a multi-threaded process, and a child must
 * not inherit a condition variable someone waits on) and started again in
 * the parent; the child starts without one and makes its own when wanted. */
#ifndef MP_TICK_H
#define MP_TICK_H

#include <stdatomic.h>

/* The flag: set to 1 by the thread every period; cleared by its user. */
extern atomic_int mp_tick_due;

/* Want ticks (+1) or no longer (-1). The first want starts (or resumes)
 * the thread and raises the flag at once. Returns 0, or -1 with errno set
 * (the thread could not be created: the flag is then left raised, so a
 * user reads every time, which is always correct). */
int mp_tick_want(int delta);

/* Set the period (microseconds, 10 .. 10,000,000). -1 with EINVAL when out
 * of range. */
int mp_tick_set_period(long period_us);
long mp_tick_period_us(void);

/* 1 if the thread runs in this process. */
int mp_tick_alive(void);

/* Around fork: stop the thread before (joined: the process forks with one
 * thread fewer), start it again in the parent if it ran, and in the child
 * reset the synchronisation objects and start clean with want_now users
 * (those of the forking thread). */
void mp_tick_fork_prepare(void);
void mp_tick_fork_parent(void);
void mp_tick_fork_child(long want_now);

/* A task the thread runs once, without any lock of its callers, after
 * nobody has wanted ticks for about a second (then it parks). NULL: none. */
void mp_tick_set_idle_task(void (*task)(void));

/* Stop and join the thread (tests, shutdown). */
void mp_tick_stop(void);

#endif
