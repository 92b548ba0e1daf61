/* mp_tree: follow the descendants of one process (children, grandchildren,
 * ...) and read the memory of each. The one implementation behind `mprof run
 * -C` and `-M`, the Sampler's include_children and multiprocess, and
 * mp_meter_read's include_children.
 *
 * Each descendant is read through its own kept descriptor (mp_pidmeter_t):
 * once it ends (a zombie counts as ended) its reader fails and it is dropped,
 * so a pid reused at once by an unrelated process is never read in its place.
 * Past half the RLIMIT_NOFILE soft limit (or when a descriptor cannot be had),
 * descendants are read by path instead, a descriptor per read: for those a
 * reused pid can be read until the next listing drops it.
 * Listing the tree walks <procfs>/PID/task/TID/children of every process in
 * it, which costs far more than reading the kept descriptors, so the list is
 * refreshed at most every relist_ns; in between, the descendants already
 * followed are read (those that ended are dropped, new ones wait for the next
 * listing).
 *
 * No fixed cap: the tables grow with the tree, up to MP_TREE_MAX.
 *
 * Not thread-safe: a tree has one owner at a time, who serialises its calls
 * (see each user's lock note). It allocates, so it is not for signal
 * handlers; it takes no lock and installs no handler. */
#ifndef MP_TREE_H
#define MP_TREE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "mp_meter.h"

/* The most descendants followed: the kernel's own limit on pids (64-bit
 * PID_MAX_LIMIT), so no real tree reaches it. A listing is cut there, the
 * deepest descendants dropped (the list is breadth first). */
#define MP_TREE_MAX ((size_t)1 << 22)

typedef struct mp_tree mp_tree_t;

/* New tree following the descendants of root (0: this process; root itself
 * is not followed) under procfs (MP_PROC_ROOT, or a fixture folder; copied),
 * read with backend b (RSS, PSS, USS or POSIX), listed again at most every
 * relist_ns nanoseconds (0: at every sample). Nothing is listed or opened
 * until the first mp_tree_sample. NULL with errno EINVAL (HEAP or an unknown
 * backend, relist_ns < 0) or ENOMEM. */
mp_tree_t *mp_tree_new(const char *procfs, pid_t root, mp_backend_t b, int64_t relist_ns);

/* Close every descriptor and free the tree. NULL is a no-op. */
void mp_tree_free(mp_tree_t *t);

/* One sample at monotonic time now_ns (mp_clock_mono_ns): list the
 * descendants again if relist_ns has passed since the last listing (or none
 * was made), then read every one followed. *total receives the sum of their
 * bytes. Returns how many are followed, each with this sample's reading.
 * Never fails: a descendant that cannot be opened (ended, or unreadable: PSS
 * and USS need ptrace rights) or read is left out; a root that is gone lists
 * none; when the tables cannot grow (ENOMEM), the descendants already followed
 * are kept and the listing is tried again at the next sample. */
size_t mp_tree_sample(mp_tree_t *t, int64_t now_ns, int64_t *total);

/* How many descendants the last mp_tree_sample returned (0 before it). */
size_t mp_tree_count(const mp_tree_t *t);

/* The pid and the bytes of descendant i (i < mp_tree_count) at the last
 * sample, in listing order (breadth first). */
pid_t mp_tree_pid(const mp_tree_t *t, size_t i);
int64_t mp_tree_bytes(const mp_tree_t *t, size_t i);

#endif
