/* mp_buf: a growable text buffer. Memory from malloc; the caller owns the
 * buffer (zero-initialised: mp_buf_t b = {0}) and frees it with
 * mp_buf_free. An allocation failure is sticky: it sets failed, later
 * appends do nothing, and the text so far stays valid. Not thread-safe: one
 * buffer, one writer. */
#ifndef MP_BUF_H
#define MP_BUF_H

#include <stddef.h>

typedef struct {
    char *data;      /* NUL-terminated when len > 0 */
    size_t len, cap;
    int failed;      /* an allocation failed: the content is incomplete */
} mp_buf_t;

/* Append raw bytes / a NUL-terminated string / printf-formatted text. */
void mp_buf_add(mp_buf_t *b, const char *s, size_t n);
void mp_buf_puts(mp_buf_t *b, const char *s);
void mp_buf_printf(mp_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Release the buffer's memory and reset it; NULL-safe. */
void mp_buf_free(mp_buf_t *b);

#endif
