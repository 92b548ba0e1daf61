#include "mp_meter.h"

#include "mp_proc.h"
#include "mp_tree.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

static const char *const backend_names[MP_BACKEND_COUNT] = {
    "psutil", "psutil_pss", "psutil_uss", "posix", "tracemalloc",
};

int mp_backend_from_name(const char *name)
{
    for (int i = 0; i < MP_BACKEND_COUNT; i++) {
        if (strcmp(name, backend_names[i]) == 0) {
            return i;
        }
    }
    return -1;
}

const char *mp_backend_name(mp_backend_t b)
{
    return (b >= 0 && b < MP_BACKEND_COUNT) ? backend_names[b] : "unknown";
}

int mp_backend_available(mp_backend_t b)
{
    int64_t v;
    if (b == MP_BACKEND_HEAP) {
        return 1;
    }
    return mp_meter_read(b, 0, 0, &v) == 0;
}

/* The cached statm descriptor and the pid that opened it; a forked child sees
 * a different pid and reopens (the inherited descriptor is the parent's).
 * Its one owner is this module: the tracer (with the GIL) and the
 * memory_usage sampler thread (without it) both read through it, so opening
 * is done once, under open_lock; readers then only load the descriptor. */
static pthread_mutex_t open_lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_int statm_fd = -1;
static atomic_int statm_pid = 0;
static long page_size = 0;

int mp_meter_self_rss(int64_t *bytes)
{
    char buf[128];
    pid_t me = getpid();
    int fd = atomic_load(&statm_fd);
    if (fd < 0 || atomic_load(&statm_pid) != me) {
        pthread_mutex_lock(&open_lock);
        fd = atomic_load(&statm_fd);
        if (fd < 0 || atomic_load(&statm_pid) != me) {
            if (fd >= 0) {
                close(fd); /* a forked child's copy of its parent's file */
            }
            page_size = sysconf(_SC_PAGESIZE);
            fd = open(MP_PROC_ROOT "/self/statm", O_RDONLY | O_CLOEXEC);
            atomic_store(&statm_fd, fd);
            atomic_store(&statm_pid, fd < 0 ? 0 : me);
        }
        pthread_mutex_unlock(&open_lock);
        if (fd < 0) {
            return -1;
        }
    }
    if (mp_proc_pread(fd, buf, sizeof(buf)) < 0) {
        return -1;
    }
    return mp_proc_parse_statm(buf, page_size, bytes);
}

/* Same caching as statm, for status and clear_refs (read by the tracer
 * only, with the GIL). */
static int status_fd = -1, clear_fd = -1;
static pid_t status_pid = 0;
static int64_t peak_ever;

static int reopen(int *fd, const char *path, int flags)
{
    if (*fd >= 0) {
        close(*fd);
    }
    *fd = open(path, flags | O_CLOEXEC);
    return *fd < 0 ? -1 : 0;
}

int mp_meter_self_peak(int64_t *rss, int64_t *hwm, int reset)
{
    char buf[4096];
    pid_t me = getpid();
    if (status_fd < 0 || status_pid != me) {
        pthread_mutex_lock(&open_lock);
        int rc = reopen(&status_fd, MP_PROC_ROOT "/self/status", O_RDONLY);
        if (rc == 0) {
            (void)reopen(&clear_fd, MP_PROC_ROOT "/self/clear_refs", O_WRONLY);
            status_pid = me;
        }
        pthread_mutex_unlock(&open_lock);
        if (rc < 0) {
            return -1;
        }
    }
    if (mp_proc_pread(status_fd, buf, sizeof(buf)) < 0
        || mp_proc_parse_status(buf, hwm, rss) < 0) {
        return -1;
    }
    if (*hwm > peak_ever) {
        peak_ever = *hwm;
    }
    if (reset && clear_fd >= 0) {
        /* Failure only means the peak keeps growing: never fatal. */
        ssize_t w = pwrite(clear_fd, "5", 1, 0);
        (void)w;
    }
    return 0;
}

int mp_meter_self_file(int64_t *bytes)
{
    char buf[4096];
    int64_t rss, hwm;
    /* Opens (or reopens after fork) the cached status descriptor. */
    if (mp_meter_self_peak(&rss, &hwm, 0) < 0 || mp_proc_pread(status_fd, buf, sizeof(buf)) < 0) {
        return -1;
    }
    return mp_proc_parse_status_file(buf, bytes);
}

int64_t mp_meter_peak_ever(void)
{
    return peak_ever;
}

static int read_one(mp_backend_t b, int pid, int64_t *bytes)
{
    mp_smaps_t sm;
    switch (b) {
    case MP_BACKEND_RSS:
        if (pid == 0 || pid == getpid()) {
            return mp_meter_self_rss(bytes);
        }
        return mp_proc_rss(MP_PROC_ROOT, pid, bytes);
    case MP_BACKEND_POSIX:
        return mp_proc_stat_rss(MP_PROC_ROOT, pid, bytes);
    case MP_BACKEND_PSS:
    case MP_BACKEND_USS:
        if (mp_proc_smaps(MP_PROC_ROOT, pid, &sm) < 0) {
            return -1;
        }
        *bytes = (b == MP_BACKEND_PSS) ? sm.pss : sm.uss;
        return 0;
    default:
        errno = EINVAL;
        return -1;
    }
}

int mp_meter_read(mp_backend_t b, int pid, int include_children, int64_t *bytes)
{
    int64_t own = 0, kids = 0;
    if (read_one(b, pid, &own) < 0) {
        return -1;
    }
    if (include_children) {
        /* A tree of its own per call: nothing shared, so no lock, and each
         * descendant is read through a descriptor opened for it. */
        mp_tree_t *t = mp_tree_new(MP_PROC_ROOT, pid, b, 0);
        if (t == NULL) {
            return -1;
        }
        (void)mp_tree_sample(t, 0, &kids);
        mp_tree_free(t);
    }
    *bytes = own + kids;
    return 0;
}

static const char *pidmeter_leaf(mp_backend_t b)
{
    switch (b) {
    case MP_BACKEND_RSS:
        return "statm";
    case MP_BACKEND_POSIX:
        return "stat";
    case MP_BACKEND_PSS:
    case MP_BACKEND_USS:
        return "smaps_rollup";
    default:
        return NULL;
    }
}

int mp_pidmeter_open(mp_pidmeter_t *m, pid_t pid, mp_backend_t b)
{
    return mp_pidmeter_open_at(m, MP_PROC_ROOT, pid, b);
}

int mp_pidmeter_open_at(mp_pidmeter_t *m, const char *procfs, pid_t pid, mp_backend_t b)
{
    const char *leaf = pidmeter_leaf(b);
    m->fd = -1;
    m->pid = pid;
    m->backend = b;
    m->page_size = sysconf(_SC_PAGESIZE);
    if (leaf == NULL || pid <= 0) {
        errno = EINVAL;
        return -1;
    }
    m->fd = mp_proc_open_leaf(procfs, pid, leaf);
    if (m->fd < 0) {
        return -1;
    }
    /* smaps_rollup opens for anyone but reading it needs ptrace rights:
     * find out now, not at the first sample. */
    int64_t v;
    if (mp_pidmeter_read(m, &v) < 0 && errno != ESRCH) {
        int saved = errno;
        mp_pidmeter_close(m);
        errno = saved;
        return -1;
    }
    return 0;
}

/* One pread is enough when the text came back whole (it ends with a
 * newline and did not fill the buffer): half the system calls of reading to
 * EOF, which matters at 1000 samples a second. */
static ssize_t read_whole(int fd, char *buf, size_t cap)
{
    ssize_t r;
    do {
        r = pread(fd, buf, cap - 1, 0);
    } while (r < 0 && errno == EINTR);
    if (r > 0 && (size_t)r < cap - 1 && buf[r - 1] == '\n') {
        buf[r] = '\0';
        return r;
    }
    if (r < 0) {
        return -1;
    }
    return mp_proc_pread(fd, buf, cap);
}

int mp_pidmeter_read(mp_pidmeter_t *m, int64_t *bytes)
{
    char buf[4096];
    mp_smaps_t sm;
    int rc;
    if (read_whole(m->fd, buf, sizeof(buf)) < 0) {
        if (errno == ENOENT) {
            errno = ESRCH;
        }
        return -1;
    }
    /* A zombie has released its memory: that is the end of the process for
     * us, though its pid lives until it is reaped. Each file shows it its
     * own way (a freshly forked child may show 0 resident pages, and is
     * alive). */
    switch (m->backend) {
    case MP_BACKEND_RSS:
        if (strncmp(buf, "0 ", 2) == 0) { /* total program size 0: no memory map */
            errno = ESRCH;
            return -1;
        }
        rc = mp_proc_parse_statm(buf, m->page_size, bytes);
        break;
    case MP_BACKEND_POSIX: {
        const char *paren = strrchr(buf, ')');
        if (paren != NULL && (paren[1] == ' ') && (paren[2] == 'Z' || paren[2] == 'X')) {
            errno = ESRCH;
            return -1;
        }
        rc = mp_proc_parse_stat_rss(buf, m->page_size, bytes);
        break;
    }
    default:
        if (buf[0] == '\0') { /* an exited process has no mappings left */
            errno = ESRCH;
            return -1;
        }
        rc = mp_proc_parse_smaps(buf, &sm);
        *bytes = (m->backend == MP_BACKEND_PSS) ? sm.pss : sm.uss;
        break;
    }
    return rc;
}

void mp_pidmeter_close(mp_pidmeter_t *m)
{
    if (m->fd >= 0) {
        close(m->fd);
    }
    m->fd = -1;
}
