/* sigterm.h: _core.guard_sigterm (see sigterm.c). */
#ifndef MP_SIGTERM_H
#define MP_SIGTERM_H

#include "compat.h"

/* Wrap CPython's SIGTERM handler so the program dies within a second even
 * when Python cannot run its handler. Call after signal.signal(SIGTERM, ...).
 * Returns None, or NULL with OSError set. GIL held. */
PyObject *mp_guard_sigterm(PyObject *module, PyObject *unused);

#endif
