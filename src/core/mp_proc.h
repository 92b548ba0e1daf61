/* mp_proc: memory figures of a process, read from the operating system.
 *
 * Every reader takes a procfs root ("/proc" in production, a fixture folder in
 * tests) and a pid (0 means "self"). All sizes are bytes. Functions return 0 on
 * success and -1 on failure with errno set (ENOENT: no such process or file,
 * EACCES: not permitted, EINVAL: unparsable content, ENOSYS: platform without
 * support). None of them allocate memory or take locks; they are safe to call
 * without the GIL and from any thread. */
#ifndef MP_PROC_H
#define MP_PROC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define MP_PROC_ROOT "/proc"

typedef struct {
    int64_t rss;        /* resident set size */
    int64_t pss;        /* proportional set size */
    int64_t uss;        /* private (unique) pages: Private_Clean + Private_Dirty */
    int64_t swap;
} mp_smaps_t;

/* Resident set size from <root>/<pid>/statm (field 2, pages). */
int mp_proc_rss(const char *root, pid_t pid, int64_t *bytes);

/* Resident set size from <root>/<pid>/stat (field 24, pages), the figure ps(1)
 * shows: the "posix" backend. Command names with spaces or parentheses are
 * handled by parsing after the last ')'. */
int mp_proc_stat_rss(const char *root, pid_t pid, int64_t *bytes);

/* Rss, Pss, private pages and swap from <root>/<pid>/smaps_rollup (Linux 4.14+). */
int mp_proc_smaps(const char *root, pid_t pid, mp_smaps_t *out);

/* Peak resident set size (VmHWM) and current VmRSS from <root>/<pid>/status.
 * Either pointer may be NULL. */
int mp_proc_status_peak(const char *root, pid_t pid, int64_t *hwm, int64_t *rss);

/* Reset the kernel's peak RSS mark of pid to its current RSS (writes "5" to
 * <root>/<pid>/clear_refs). Needs permission over the process. */
int mp_proc_reset_peak(const char *root, pid_t pid);

/* Collect the descendants of pid (children, grandchildren, ...) into pids[],
 * at most cap of them, breadth first. *n receives how many were stored. A
 * descendant that vanishes while being listed is skipped silently. */
int mp_proc_descendants(const char *root, pid_t pid, pid_t *pids, size_t cap, size_t *n);

/* The kernel's name for pid (the "comm" field, at most 15 bytes) into buf. */
int mp_proc_comm(const char *root, pid_t pid, char *buf, size_t cap);

/* The arguments of pid (<root>/<pid>/cmdline) into buf, NUL-separated and
 * NUL-terminated; *argc receives their number (0 for kernel threads and
 * zombies). */
int mp_proc_cmdline(const char *root, pid_t pid, char *buf, size_t cap, int *argc);

/* The lowest pid, other than this process, whose name (comm, or the last
 * path component of argv[0]) contains hint. ENOENT when none matches. */
int mp_proc_find_by_name(const char *root, const char *hint, pid_t *out);

/* Open <root>/<pid>/<leaf> for reading and keep it: re-reading the
 * descriptor with mp_proc_pread follows the same process even if its pid is
 * reused, and fails with ESRCH once it is gone. Returns the descriptor or -1
 * with errno set (ENOENT: no such process). */
int mp_proc_open_leaf(const char *root, pid_t pid, const char *leaf);

/* The calling thread's kernel id (what /proc/self/task lists). */
pid_t mp_proc_thread_id(void);

/* After pthread_join: wait until the kernel has stopped counting thread tid
 * (<root>/self/task/<tid> is gone). pthread_join returns when the kernel
 * clears the thread's tid, a moment before the thread is unhashed, and
 * CPython 3.12+ counts threads at fork() from /proc/self/stat: a fork right
 * after the join would be warned about as multi-threaded. Polls for at most
 * timeout_ms. 0 once gone, -1 with ETIMEDOUT otherwise. */
int mp_proc_wait_thread_gone(const char *root, pid_t tid, int timeout_ms);

/* Parse helpers, exposed for the tests and the fuzzers. Each takes a
 * NUL-terminated buffer. */
int mp_proc_parse_statm(const char *buf, long page_size, int64_t *bytes);
int mp_proc_parse_stat_rss(const char *buf, long page_size, int64_t *bytes);
int mp_proc_parse_smaps(const char *buf, mp_smaps_t *out);
int mp_proc_parse_status(const char *buf, int64_t *hwm, int64_t *rss);

/* The file-backed resident bytes (RssFile + RssShmem) of a status file.
 * 0, or -1 with EINVAL when the lines are missing. */
int mp_proc_parse_status_file(const char *buf, int64_t *file);

/* Read a whole small file into buf (NUL-terminated, truncated to cap-1 bytes).
 * Returns the number of bytes read, or -1 with errno set. */
ssize_t mp_proc_read_file(const char *path, char *buf, size_t cap);

/* Read a file through an already open descriptor from offset 0 (pread), which
 * for /proc files regenerates their content. Same contract as above. */
ssize_t mp_proc_pread(int fd, char *buf, size_t cap);

#endif
