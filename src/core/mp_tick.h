/* mp_tick: a background thread that raises a flag every period, so a hot
 * path can learn "time has passed" with one memory load instead of a clock
 * read. It never touches Python and never takes the GIL.
 *
 * After fork() the child has no tick thread: the flag is then left raised
 * for good (mp_tick_alive() says 0), so a caller that clears it on every
 * use falls back to doing the work every time, which is always correct. */
#ifndef MP_TICK_H
#define MP_TICK_H

#include <stdatomic.h>

/* The flag: set to 1 by the thread every period; cleared by its user. */
extern atomic_int mp_tick_due;

/* Start the thread with the given period (microseconds, >= 10), or change
 * the period of the running thread. Returns 0, or -1 with errno set. */
int mp_tick_start(long period_us);

/* Park the thread: it stops ticking and sleeps until mp_tick_start resumes
 * it (cheap, unlike creating a thread: profiling is switched on and off at
 * every outermost call of a profiled function). No-op when not running. */
void mp_tick_pause(void);

/* Stop and join the thread (no-op when not running). */
void mp_tick_stop(void);

/* 1 if the thread runs in this process (0 before start, after stop, and in
 * a forked child). */
int mp_tick_alive(void);

/* The period in microseconds. */
long mp_tick_period_us(void);

#endif
