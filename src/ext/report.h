/* report.h: every output of a LineProfiler's results: the line-by-line
 * report as text (the reference's layout, src/core/mp_report) and as JSON
 * (src/core/mp_json), and the results as Python objects (code_map,
 * _blocks). Engine lock held (engine.h: the GIL, or the engine's mutex on
 * free-threaded builds). */
#ifndef MP_EXT_REPORT_H
#define MP_EXT_REPORT_H

#include "profiler.h"
#include "../core/mp_buf.h"

/* _core.show_results(prof, stream=None, precision=1) */
PyObject *mp_show_results(PyObject *module, PyObject *args, PyObject *kw);
extern const char mp_show_results_doc[];

/* The text in b as a new str (undecodable bytes kept by surrogateescape),
 * or NULL with MemoryError when b's allocation failed. Frees b either way.
 * Every text the extension builds in C is handed to Python through here. */
PyObject *mp_report_str(mp_buf_t *b);

/* The whole result as a JSON document (a new str), or NULL with an
 * exception set. */
PyObject *mp_report_json(mp_profiler_t *p);

/* The reference's code_map view: {code: {lineno: (increment, mem_usage,
 * occurrences)}} in MiB, nested code objects sharing their function's dict.
 * A new dict, or NULL with an exception set. */
PyObject *mp_report_code_map(mp_profiler_t *p);

/* LineProfiler._blocks(): every block with all its figures (see
 * mp_report_blocks_doc). A new list, or NULL with an exception set. */
PyObject *mp_report_blocks(mp_profiler_t *p);
extern const char mp_report_blocks_doc[];

#endif
