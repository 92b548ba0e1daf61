/* activator.h: _core.Activator, what turns a profiler on for the calls of
 * one profiled function (see activator.c). GIL held. */
#ifndef MP_ACTIVATOR_H
#define MP_ACTIVATOR_H

#include "compat.h"

/* A profiled call begins in this thread: 0, or -1 with an exception set. */
int mp_activator_enter(PyObject *self);

/* It ends (the decorator's report is written here). Never raises. */
void mp_activator_leave(PyObject *self);

/* 1 if obj is an Activator. */
int mp_activator_check(PyObject *obj);

/* Create the type and add it to the module. 0, or -1 with an exception. */
int mp_activator_add_type(PyObject *module);

#endif
