/* mp_json: a small growable text buffer and the JSON pieces the profiler
 * writes (strings with escapes, numbers). Memory from malloc; the caller owns
 * the buffer and frees it with mp_buf_free. */
#ifndef MP_JSON_H
#define MP_JSON_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    char *data;      /* NUL-terminated when len > 0 */
    size_t len, cap;
    int failed;      /* an allocation failed: the content is incomplete */
} mp_buf_t;

/* Append raw bytes / a NUL-terminated string / printf-formatted text. */
void mp_buf_add(mp_buf_t *b, const char *s, size_t n);
void mp_buf_puts(mp_buf_t *b, const char *s);
void mp_buf_printf(mp_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Append s (n bytes of UTF-8) as a JSON string literal, quotes included.
 * Control characters are escaped; other bytes pass through unchanged. */
void mp_json_string(mp_buf_t *b, const char *s, size_t n);

/* Append a finite double with up to 17 significant digits (shortest text
 * that round-trips is not attempted); NaN and infinities become null. */
void mp_json_number(mp_buf_t *b, double v);

/* Release the buffer's memory and reset it; NULL-safe. */
void mp_buf_free(mp_buf_t *b);

#endif
