/* report.h: the line-by-line report of a LineProfiler, as text (the
 * reference's layout, src/core/mp_report) and as JSON (src/core/mp_json).
 * GIL held. */
#ifndef MP_EXT_REPORT_H
#define MP_EXT_REPORT_H

#include "profiler.h"

/* _core.show_results(prof, stream=None, precision=1) */
PyObject *mp_show_results(PyObject *module, PyObject *args, PyObject *kw);
extern const char mp_show_results_doc[];

/* The whole result as a JSON document (a new str), or NULL with an
 * exception set. */
PyObject *mp_report_json(mp_profiler_t *p);

#endif
