/* wrapper.h: _core.ProfiledFunction, what @profile returns for a plain
 * function. */
#ifndef MP_WRAPPER_H
#define MP_WRAPPER_H

#include "compat.h"

/* Create the type and add it to the module. 0, or -1 with an exception. */
int mp_wrapper_add_type(PyObject *module);

#endif
