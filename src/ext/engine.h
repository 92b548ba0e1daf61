/* engine.h: the engine lock.
 *
 * Everything the extension keeps (the code registry and per-line tables of
 * src/core/mp_lines, the profiler, activator and sampler objects, the event
 * source's state) is protected by one lock, the engine lock:
 *
 *   - with the GIL, the GIL is the engine lock and everything here is a
 *     no-op;
 *   - on free-threaded builds (Py_GIL_DISABLED) it is a PyMutex, taken by
 *     every entry from Python (methods, getters, setters, tp_new, tp_init,
 *     tp_dealloc, tp_clear, the sys.monitoring callbacks, the at-fork
 *     hooks) with a per-thread depth, so that nested entries (a callback
 *     inside a method of ours, a finalizer run by an allocation) do not take
 *     it twice.
 *
 * A PyMutex, not a critical section: a critical section is suspended while
 * its thread detaches, which free-threaded CPython does inside our code (a
 * stop-the-world pause asked by sys.monitoring, a contended lock), and
 * another thread would then run our code half-way through the first one's
 * work. A PyMutex stays held; a thread blocked on it is detached, so the
 * world can still be stopped.
 *
 * It is let go around every call into Python code that is not ours (the
 * report's stream, the profiler factory, on_exceed, linecache): that code
 * may wait for a thread that waits for us. Code that let go of it must look
 * up again whatever it held (arrays may have moved meanwhile). tp_traverse
 * takes nothing: the garbage collector runs it with the world stopped. */
#ifndef MP_ENGINE_H
#define MP_ENGINE_H

#include "compat.h"

#ifdef Py_GIL_DISABLED
void mp_engine_lock(void);
void mp_engine_unlock(void);
/* Let go entirely (whatever the depth); returns what to give back. */
int mp_engine_release(void);
void mp_engine_reacquire(int depth);
/* Whether this thread holds it (for assertions and tests). */
int mp_engine_held(void);
/* os.fork(): taken before, let go after in the parent, made anew in the
 * child (only the forking thread exists there). */
void mp_engine_fork_before(void);
void mp_engine_fork_parent(void);
void mp_engine_fork_child(void);
#else
static inline void mp_engine_lock(void) {}
static inline void mp_engine_unlock(void) {}
static inline int mp_engine_release(void) { return 0; }
static inline void mp_engine_reacquire(int depth) { (void)depth; }
static inline int mp_engine_held(void) { return 1; }
static inline void mp_engine_fork_before(void) {}
static inline void mp_engine_fork_parent(void) {}
static inline void mp_engine_fork_child(void) {}
#endif

/* f(arg) and f(*args, **kw) with the engine lock let go during the call. */
static inline PyObject *mp_engine_call_one(PyObject *f, PyObject *arg)
{
    int depth = mp_engine_release();
    PyObject *r = PyObject_CallOneArg(f, arg);
    mp_engine_reacquire(depth);
    return r;
}

static inline PyObject *mp_engine_call(PyObject *f, PyObject *args, PyObject *kw)
{
    int depth = mp_engine_release();
    PyObject *r = PyObject_Call(f, args, kw);
    mp_engine_reacquire(depth);
    return r;
}

/* Locked versions of entry points, one macro per C signature. Each defines
 * `name` calling `fn` with the engine lock held. */
#define MP_LOCKED_METH(name, fn)                                           \
    static PyObject *name(PyObject *self, PyObject *arg)                   \
    {                                                                      \
        mp_engine_lock();                                                  \
        PyObject *r_ = fn(self, arg);                                      \
        mp_engine_unlock();                                                \
        return r_;                                                         \
    }
#define MP_LOCKED_KW(name, fn)                                             \
    static PyObject *name(PyObject *self, PyObject *args, PyObject *kw)    \
    {                                                                      \
        mp_engine_lock();                                                  \
        PyObject *r_ = fn(self, args, kw);                                 \
        mp_engine_unlock();                                                \
        return r_;                                                         \
    }
#define MP_LOCKED_NEW(name, fn)                                            \
    static PyObject *name(PyTypeObject *tp, PyObject *args, PyObject *kw)  \
    {                                                                      \
        mp_engine_lock();                                                  \
        PyObject *r_ = fn(tp, args, kw);                                   \
        mp_engine_unlock();                                                \
        return r_;                                                         \
    }
#define MP_LOCKED_INIT(name, fn)                                           \
    static int name(PyObject *self, PyObject *args, PyObject *kw)          \
    {                                                                      \
        mp_engine_lock();                                                  \
        int r_ = fn(self, args, kw);                                       \
        mp_engine_unlock();                                                \
        return r_;                                                         \
    }
#define MP_LOCKED_GET(name, fn)                                            \
    static PyObject *name(PyObject *self, void *closure)                   \
    {                                                                      \
        mp_engine_lock();                                                  \
        PyObject *r_ = fn(self, closure);                                  \
        mp_engine_unlock();                                                \
        return r_;                                                         \
    }
#define MP_LOCKED_SET(name, fn)                                            \
    static int name(PyObject *self, PyObject *value, void *closure)        \
    {                                                                      \
        mp_engine_lock();                                                  \
        int r_ = fn(self, value, closure);                                 \
        mp_engine_unlock();                                                \
        return r_;                                                         \
    }
#define MP_LOCKED_VOID(name, fn)                                           \
    static void name(PyObject *self)                                       \
    {                                                                      \
        mp_engine_lock();                                                  \
        fn(self);                                                          \
        mp_engine_unlock();                                                \
    }
#define MP_LOCKED_INQUIRY(name, fn)                                        \
    static int name(PyObject *self)                                        \
    {                                                                      \
        mp_engine_lock();                                                  \
        int r_ = fn(self);                                                 \
        mp_engine_unlock();                                                \
        return r_;                                                         \
    }

#endif
