/* sampler.h: the _core.Sampler type (memory_usage's sampling thread). */
#ifndef MP_EXT_SAMPLER_H
#define MP_EXT_SAMPLER_H

#include "compat.h"

/* Create the Sampler type and add it to module. 0 or -1. */
int mp_sampler_add_type(PyObject *module);

#endif
