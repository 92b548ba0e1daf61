/* mp_meter: "how much memory does this process use now", by backend, as
 * cheaply as the backend allows. The RSS backend keeps /proc/self/statm open
 * and re-reads it with pread (about a microsecond, no path lookup).
 *
 * A meter is owned by one thread at a time (the tracer holds the GIL when it
 * reads); after fork() the child reopens its own files on first use. */
#ifndef MP_METER_H
#define MP_METER_H

#include <stdint.h>
#include <sys/types.h>

typedef enum {
    MP_BACKEND_RSS = 0,   /* "psutil": resident set size */
    MP_BACKEND_PSS,       /* "psutil_pss": proportional set size */
    MP_BACKEND_USS,       /* "psutil_uss": private pages */
    MP_BACKEND_POSIX,     /* "posix": RSS from /proc/PID/stat, as ps(1) */
    MP_BACKEND_HEAP,      /* "tracemalloc": Python-heap bytes (counted by the ext) */
    MP_BACKEND_COUNT
} mp_backend_t;

/* The backend called name (reference names above), or -1 if unknown. */
int mp_backend_from_name(const char *name);

/* The reference name of a backend ("psutil", ...). */
const char *mp_backend_name(mp_backend_t b);

/* 1 if the backend works on this machine (the /proc file it needs can be
 * read), 0 if not. MP_BACKEND_HEAP always works (the ext does it). */
int mp_backend_available(mp_backend_t b);

/* Memory of process pid (0 = self) by backend b, in bytes, plus that of all
 * its descendants when include_children is set (listed and read once through
 * an mp_tree). HEAP is not handled here (returns -1, EINVAL). Returns 0 or -1
 * with errno set (ENOMEM: no memory for the descendants' tables). */
int mp_meter_read(mp_backend_t b, int pid, int include_children, int64_t *bytes);

/* RSS of this process through a cached descriptor: the hot path. Returns 0 or
 * -1 with errno set. */
int mp_meter_self_rss(int64_t *bytes);

/* RSS and the kernel's peak RSS (VmHWM) of this process from
 * /proc/self/status (cached descriptor), then, if reset is set, reset the
 * peak to the current RSS (/proc/self/clear_refs, "5"). Resetting changes what
 * getrusage(RUSAGE_SELF).ru_maxrss reports: mp_meter_peak_ever() keeps the
 * highest peak seen across resets. Returns 0 or -1 with errno set. */
int mp_meter_self_peak(int64_t *rss, int64_t *hwm, int reset);

/* File-backed resident bytes of this process (RssFile + RssShmem of
 * /proc/self/status, cached descriptor). Returns 0 or -1 with errno set. */
int mp_meter_self_file(int64_t *bytes);

/* The highest VmHWM seen by mp_meter_self_peak (0 if never called). */
int64_t mp_meter_peak_ever(void);

/* A meter following one other process through a descriptor kept open
 * (about a microsecond per reading, immune to pid reuse). */
typedef struct {
    pid_t pid;
    mp_backend_t backend;
    int fd;
    long page_size;
} mp_pidmeter_t;

/* Start following pid with backend b (not HEAP). Returns 0, or -1 with errno:
 * ENOENT no such process, EACCES not permitted, EINVAL bad backend. */
int mp_pidmeter_open(mp_pidmeter_t *m, pid_t pid, mp_backend_t b);

/* mp_pidmeter_open under the procfs root given (a fixture folder in tests;
 * MP_PROC_ROOT otherwise). Same contract. */
int mp_pidmeter_open_at(mp_pidmeter_t *m, const char *procfs, pid_t pid, mp_backend_t b);

/* Current memory of the process in bytes. -1 with errno ESRCH once the
 * process has ended (a zombie counts as ended: no memory map, state Z, or no
 * mappings), other errno on read errors. */
int mp_pidmeter_read(mp_pidmeter_t *m, int64_t *bytes);

/* Close the descriptor; safe on a meter that failed to open. */
void mp_pidmeter_close(mp_pidmeter_t *m);

#endif
