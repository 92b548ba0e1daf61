/* The engine lock on free-threaded builds: see engine.h. */
#include "engine.h"

#ifdef Py_GIL_DISABLED

/* Under ThreadSanitizer (make check's tsan step) CPython is not
 * instrumented, so the PyMutex's handoff is invisible to it: say it. */
#if defined(__SANITIZE_THREAD__)
#define MP_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define MP_TSAN 1
#endif
#endif
#ifdef MP_TSAN
void __tsan_acquire(void *addr);
void __tsan_release(void *addr);
#define TSAN_ACQUIRE(a) __tsan_acquire(a)
#define TSAN_RELEASE(a) __tsan_release(a)
#else
#define TSAN_ACQUIRE(a) ((void)0)
#define TSAN_RELEASE(a) ((void)0)
#endif

static PyMutex engine_mutex;

static void take(void)
{
    PyMutex_Lock(&engine_mutex);
    TSAN_ACQUIRE(&engine_mutex);
}

static void give(void)
{
    TSAN_RELEASE(&engine_mutex);
    PyMutex_Unlock(&engine_mutex);
}
static _Thread_local int depth __attribute__((tls_model("initial-exec")));

void mp_engine_lock(void)
{
    if (depth++ == 0) {
        take();
    }
}

void mp_engine_unlock(void)
{
    if (--depth == 0) {
        give();
    }
}

int mp_engine_release(void)
{
    int d = depth;
    if (d > 0) {
        depth = 0;
        give();
    }
    return d;
}

void mp_engine_reacquire(int d)
{
    if (d > 0) {
        take();
        depth = d;
    }
}

int mp_engine_held(void)
{
    return depth > 0;
}

/* os.register_at_fork's before hook runs before CPython stops the world for
 * the fork, so waiting here for another holder is safe. */
static int fork_depth;

void mp_engine_fork_before(void)
{
    fork_depth = depth;
    mp_engine_lock();
}

void mp_engine_fork_parent(void)
{
    mp_engine_unlock();
}

void mp_engine_fork_child(void)
{
    /* Only this thread exists: a fresh lock, held as before the fork. */
    engine_mutex = (PyMutex){0};
    depth = 0;
    mp_engine_reacquire(fork_depth);
}

#else
typedef int mp_engine_unused_t; /* ISO C: no empty translation unit */
#endif
