/* mp_json: the JSON pieces the profiler writes (strings with escapes,
 * numbers), appended to an mp_buf. */
#ifndef MP_JSON_H
#define MP_JSON_H

#include "mp_buf.h"

#include <stddef.h>

/* Append s (n bytes of UTF-8) as a JSON string literal, quotes included.
 * Control characters are escaped; other bytes pass through unchanged. */
void mp_json_string(mp_buf_t *b, const char *s, size_t n);

/* Append a finite double with up to 17 significant digits (shortest text
 * that round-trips is not attempted); NaN and infinities become null. */
void mp_json_number(mp_buf_t *b, double v);

#endif
