/* mp_proc for Linux procfs. Included by mp_proc.c only. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static int proc_path(char *out, size_t cap, const char *root, pid_t pid, const char *leaf)
{
    int n;
    if (pid <= 0) {
        n = snprintf(out, cap, "%s/self/%s", root, leaf);
    } else {
        n = snprintf(out, cap, "%s/%d/%s", root, (int)pid, leaf);
    }
    if (n < 0 || (size_t)n >= cap) {
        errno = ENAMETOOLONG;
        return -1;
    }
    return 0;
}

static int read_leaf(const char *root, pid_t pid, const char *leaf, char *buf, size_t cap)
{
    char path[512];
    if (proc_path(path, sizeof(path), root, pid, leaf) < 0) {
        return -1;
    }
    if (mp_proc_read_file(path, buf, cap) < 0) {
        if (errno == ESRCH) {
            errno = ENOENT;
        }
        return -1;
    }
    return 0;
}

int mp_proc_rss(const char *root, pid_t pid, int64_t *bytes)
{
    char buf[256];
    if (read_leaf(root, pid, "statm", buf, sizeof(buf)) < 0) {
        return -1;
    }
    return mp_proc_parse_statm(buf, sysconf(_SC_PAGESIZE), bytes);
}

int mp_proc_stat_rss(const char *root, pid_t pid, int64_t *bytes)
{
    char buf[1024];
    if (read_leaf(root, pid, "stat", buf, sizeof(buf)) < 0) {
        return -1;
    }
    return mp_proc_parse_stat_rss(buf, sysconf(_SC_PAGESIZE), bytes);
}

int mp_proc_smaps(const char *root, pid_t pid, mp_smaps_t *out)
{
    char buf[4096];
    if (read_leaf(root, pid, "smaps_rollup", buf, sizeof(buf)) < 0) {
        return -1;
    }
    return mp_proc_parse_smaps(buf, out);
}

int mp_proc_status_peak(const char *root, pid_t pid, int64_t *hwm, int64_t *rss)
{
    char buf[8192];
    if (read_leaf(root, pid, "status", buf, sizeof(buf)) < 0) {
        return -1;
    }
    return mp_proc_parse_status(buf, hwm, rss);
}

int mp_proc_reset_peak(const char *root, pid_t pid)
{
    char path[512];
    if (proc_path(path, sizeof(path), root, pid, "clear_refs") < 0) {
        return -1;
    }
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) {
        return -1;
    }
    ssize_t w = write(fd, "5", 1);
    int saved = errno;
    close(fd);
    if (w != 1) {
        errno = (w < 0) ? saved : EIO;
        return -1;
    }
    return 0;
}

/* Append the direct children of pid (from every task's "children" file, which
 * needs CONFIG_PROC_CHILDREN, present in all mainstream kernels) to pids[]. */
static int add_children(const char *root, pid_t pid, pid_t *pids, size_t cap, size_t *n)
{
    char path[512];
    int w = snprintf(path, sizeof(path), "%s/%d/task", root, (int)pid);
    if (w < 0 || (size_t)w >= sizeof(path)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    DIR *dir = opendir(path);
    if (dir == NULL) {
        return -1;
    }
    struct dirent *de;
    char buf[4096];
    while ((de = readdir(dir)) != NULL) {
        if (de->d_name[0] < '0' || de->d_name[0] > '9') {
            continue;
        }
        char cpath[600];
        w = snprintf(cpath, sizeof(cpath), "%s/%s/children", path, de->d_name);
        if (w < 0 || (size_t)w >= sizeof(cpath)) {
            continue;
        }
        if (mp_proc_read_file(cpath, buf, sizeof(buf)) < 0) {
            continue; /* the task ended meanwhile */
        }
        char *p = buf;
        while (*p != '\0' && *n < cap) {
            char *end = NULL;
            long v = strtol(p, &end, 10);
            if (end == p) {
                break;
            }
            if (v > 0) {
                pids[(*n)++] = (pid_t)v;
            }
            p = end;
        }
    }
    closedir(dir);
    return 0;
}

int mp_proc_descendants(const char *root, pid_t pid, pid_t *pids, size_t cap, size_t *n)
{
    *n = 0;
    if (pid <= 0) {
        pid = getpid();
    }
    if (add_children(root, pid, pids, cap, n) < 0) {
        return -1;
    }
    /* Breadth first: pids[0..*n) grows while we walk it. */
    for (size_t i = 0; i < *n && *n < cap; i++) {
        (void)add_children(root, pids[i], pids, cap, n);
    }
    return 0;
}

int mp_proc_open_leaf(const char *root, pid_t pid, const char *leaf)
{
    char path[512];
    if (proc_path(path, sizeof(path), root, pid, leaf) < 0) {
        return -1;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 && errno == ESRCH) {
        errno = ENOENT;
    }
    return fd;
}

int mp_proc_comm(const char *root, pid_t pid, char *buf, size_t cap)
{
    if (read_leaf(root, pid, "comm", buf, cap) < 0) {
        return -1;
    }
    buf[strcspn(buf, "\n")] = '\0';
    return 0;
}

int mp_proc_cmdline(const char *root, pid_t pid, char *buf, size_t cap, int *argc)
{
    char path[512];
    *argc = 0;
    if (cap < 2 || proc_path(path, sizeof(path), root, pid, "cmdline") < 0) {
        errno = (cap < 2) ? EINVAL : errno;
        return -1;
    }
    ssize_t n = mp_proc_read_file(path, buf, cap - 1);
    if (n < 0) {
        if (errno == ESRCH) {
            errno = ENOENT;
        }
        return -1;
    }
    /* The kernel ends each argument with a NUL; a truncated read may not. */
    if (n > 0 && buf[n - 1] != '\0') {
        buf[n++] = '\0';
    }
    buf[n] = '\0';
    for (ssize_t i = 0; i < n; i++) {
        if (buf[i] == '\0') {
            (*argc)++;
        }
    }
    return 0;
}

/* 1 if hint is in pid's comm or in the last component of its argv[0]. */
static int name_matches(const char *root, pid_t pid, const char *hint)
{
    char buf[4096];
    int argc = 0;
    if (mp_proc_comm(root, pid, buf, sizeof(buf)) == 0 && strstr(buf, hint) != NULL) {
        return 1;
    }
    if (mp_proc_cmdline(root, pid, buf, sizeof(buf), &argc) < 0 || argc == 0) {
        return 0;
    }
    const char *base = strrchr(buf, '/');
    base = base ? base + 1 : buf;
    return strstr(base, hint) != NULL;
}

int mp_proc_find_by_name(const char *root, const char *hint, pid_t *out)
{
    DIR *dir = opendir(root);
    if (dir == NULL) {
        return -1;
    }
    pid_t me = getpid(), best = 0;
    struct dirent *de;
    while ((de = readdir(dir)) != NULL) {
        char *end = NULL;
        long v = strtol(de->d_name, &end, 10);
        if (end == de->d_name || *end != '\0' || v <= 0 || (pid_t)v == me) {
            continue;
        }
        if ((best == 0 || (pid_t)v < best) && name_matches(root, (pid_t)v, hint)) {
            best = (pid_t)v;
        }
    }
    closedir(dir);
    if (best == 0) {
        errno = ENOENT;
        return -1;
    }
    *out = best;
    return 0;
}

pid_t mp_proc_thread_id(void)
{
    return (pid_t)syscall(SYS_gettid);
}

int mp_proc_wait_thread_gone(const char *root, pid_t tid, int timeout_ms)
{
    char path[512];
    int n = snprintf(path, sizeof(path), "%s/self/task/%d", root, (int)tid);
    if (n < 0 || (size_t)n >= sizeof(path)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    const struct timespec pause = {0, 20000}; /* 20 us */
    struct stat st;
    for (long waited_us = 0; waited_us <= (long)timeout_ms * 1000; waited_us += 20) {
        if (stat(path, &st) < 0 && (errno == ENOENT || errno == ESRCH)) {
            return 0;
        }
        nanosleep(&pause, NULL);
    }
    errno = ETIMEDOUT;
    return -1;
}
