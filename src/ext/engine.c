/* The engine lock on free-threaded builds: see engine.h. */
#include "engine.h"

#ifdef Py_GIL_DISABLED

static PyMutex engine_mutex;
static _Thread_local int depth __attribute__((tls_model("initial-exec")));

void mp_engine_lock(void)
{
    if (depth++ == 0) {
        PyMutex_Lock(&engine_mutex);
    }
}

void mp_engine_unlock(void)
{
    if (--depth == 0) {
        PyMutex_Unlock(&engine_mutex);
    }
}

int mp_engine_release(void)
{
    int d = depth;
    if (d > 0) {
        depth = 0;
        PyMutex_Unlock(&engine_mutex);
    }
    return d;
}

void mp_engine_reacquire(int d)
{
    if (d > 0) {
        PyMutex_Lock(&engine_mutex);
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
