/* mp_proc on platforms without a procfs backend: every reader fails with
 * ENOSYS, so callers report "not supported here" instead of wrong numbers.
 * Included by mp_proc.c only. */
#include <errno.h>

int mp_proc_rss(const char *root, pid_t pid, int64_t *bytes)
{
    (void)root; (void)pid; (void)bytes;
    errno = ENOSYS;
    return -1;
}
int mp_proc_stat_rss(const char *root, pid_t pid, int64_t *bytes)
{
    (void)root; (void)pid; (void)bytes;
    errno = ENOSYS;
    return -1;
}
int mp_proc_smaps(const char *root, pid_t pid, mp_smaps_t *out)
{
    (void)root; (void)pid; (void)out;
    errno = ENOSYS;
    return -1;
}
int mp_proc_status_peak(const char *root, pid_t pid, int64_t *hwm, int64_t *rss)
{
    (void)root; (void)pid; (void)hwm; (void)rss;
    errno = ENOSYS;
    return -1;
}
int mp_proc_reset_peak(const char *root, pid_t pid)
{
    (void)root; (void)pid;
    errno = ENOSYS;
    return -1;
}
int mp_proc_descendants(const char *root, pid_t pid, pid_t *pids, size_t cap, size_t *n)
{
    (void)root; (void)pid; (void)pids; (void)cap;
    *n = 0;
    errno = ENOSYS;
    return -1;
}
