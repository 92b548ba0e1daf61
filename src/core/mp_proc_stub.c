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
int mp_proc_comm(const char *root, pid_t pid, char *buf, size_t cap)
{
    (void)root; (void)pid; (void)buf; (void)cap;
    errno = ENOSYS;
    return -1;
}
int mp_proc_cmdline(const char *root, pid_t pid, char *buf, size_t cap, int *argc)
{
    (void)root; (void)pid; (void)buf; (void)cap;
    *argc = 0;
    errno = ENOSYS;
    return -1;
}
int mp_proc_find_by_name(const char *root, const char *hint, pid_t *out)
{
    (void)root; (void)hint; (void)out;
    errno = ENOSYS;
    return -1;
}
int mp_proc_open_leaf(const char *root, pid_t pid, const char *leaf)
{
    (void)root; (void)pid; (void)leaf;
    errno = ENOSYS;
    return -1;
}

pid_t mp_proc_thread_id(void)
{
    return 0;
}
int mp_proc_wait_thread_gone(const char *root, pid_t tid, int timeout_ms)
{
    (void)root; (void)tid; (void)timeout_ms;
    return 0; /* nothing to wait for where threads are not counted this way */
}
