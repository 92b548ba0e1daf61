/* mp_native: native allocations (malloc and friends, anonymous mmap) of
 * every loaded library, counted per thread, without LD_PRELOAD.
 *
 * How: the relocation slots (GOT entries) through which each loaded object
 * calls malloc, calloc, realloc, free, the aligned allocators, mmap, munmap
 * and mremap are pointed at our hooks, which call the real functions and
 * count. Libraries loaded later are hooked when their dlopen returns (dlopen
 * is hooked too, searching the caller's own RPATH and RUNPATH so that a
 * bare library name finds what it would without us), and any others at
 * the next mp_native_refresh().
 * Every slot is put back by mp_native_uninstall, in objects still loaded.
 *
 * Not hooked: this library itself (our hooks call the real functions
 * through its own slots), the C library and the dynamic loader (their
 * internal calls do not go through slots), and the objects whose names are
 * given to mp_native_install as Python's own (the interpreter's allocations
 * are Python's heap, counted apart; only its dlopen is hooked).
 *
 * Sizes: malloc_usable_size of each block when it is allocated and when it
 * is freed, so no map is kept and a block freed in the line that frees it
 * counts there even if it was allocated before profiling; anonymous
 * mappings by their length (a small map of those made while installed).
 *
 * Thread safety: install, refresh and uninstall are serialised by an
 * internal lock and may run with other threads calling the hooks (a slot
 * is one aligned pointer store). The hooks never allocate through hooked
 * slots and never take a lock but the mappings map's. Linux (ELF) only; the
 * stub fails with ENOSYS. */
#ifndef MP_NATIVE_H
#define MP_NATIVE_H

#include <stddef.h>
#include <stdint.h>

/* Hook every loaded object. python_objects: NULL-terminated substrings of
 * object names (and "" for the main program) whose allocation calls are
 * not hooked. 0, or -1 with errno (ENOSYS where unsupported). Idempotent. */
int mp_native_install(const char *const *python_objects);

/* Hook objects loaded since the last install or refresh (cheap when none
 * were: one look at the loader's load counter). */
void mp_native_refresh(void);

/* Put every slot back (in objects still loaded) and stop counting. */
void mp_native_uninstall(void);

/* Counted use: acquire installs at the first user (as mp_native_install);
 * release only counts down. mp_native_reap uninstalls if nobody holds the
 * hooks then: the tick thread calls it once they have been unused for a
 * while, so code that makes a profiler per call (Spark's UDF profiler)
 * does not hook and unhook every library on every call. Any thread. */
int mp_native_acquire(const char *const *python_objects);
void mp_native_release(void);
void mp_native_reap(void);

/* 1 while installed. */
int mp_native_installed(void);

/* This thread's native bytes: net (which=0: allocated - freed) or
 * allocated (1), since the thread started; they move only while installed.
 * Any thread. */
int64_t mp_native_thread(int which);

/* Slots pointing at our hooks now (for tests). */
size_t mp_native_slots(void);

/* Whether the last refresh found libraries to hook (for tests). */
int mp_native_last_refresh_found(void);

#endif
