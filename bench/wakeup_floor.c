/* The cost of doing nothing but waking up on a fixed grid: the floor under
 * any sampler with that interval on this machine. Usage: wakeup_floor
 * INTERVAL_S DURATION_S; prints "cpu_seconds wakeups". */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: wakeup_floor INTERVAL_S DURATION_S\n");
        return 2;
    }
    long long step = (long long)(atof(argv[1]) * 1e9);
    long long n = (long long)(atof(argv[2]) * 1e9) / step;
    struct timespec next, cpu;
    clock_gettime(CLOCK_MONOTONIC, &next);
    for (long long i = 0; i < n; i++) {
        next.tv_nsec += step % 1000000000LL;
        next.tv_sec += step / 1000000000LL + next.tv_nsec / 1000000000LL;
        next.tv_nsec %= 1000000000LL;
        clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
    }
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cpu);
    printf("%.6f %lld\n", (double)cpu.tv_sec + (double)cpu.tv_nsec / 1e9, n);
    return 0;
}
