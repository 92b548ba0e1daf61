/* mp_clock: the two clocks the profiler needs. Both are vDSO calls on Linux
 * (no system call), safe without the GIL. */
#ifndef MP_CLOCK_H
#define MP_CLOCK_H

#include <stdint.h>

/* Monotonic nanoseconds since an arbitrary origin; never goes backwards. */
int64_t mp_clock_mono_ns(void);

/* Wall-clock seconds since the Unix epoch, as the time.time() figure that
 * mprof data files carry. */
double mp_clock_wall(void);

#endif
