/* mp_buf: see mp_buf.h. */
#include "mp_buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int reserve(mp_buf_t *b, size_t extra)
{
    if (b->failed) {
        return -1;
    }
    if (b->len + extra + 1 <= b->cap) {
        return 0;
    }
    size_t ncap = b->cap ? b->cap : 256;
    while (ncap < b->len + extra + 1) {
        ncap *= 2;
    }
    char *nd = realloc(b->data, ncap);
    if (nd == NULL) {
        b->failed = 1;
        return -1;
    }
    b->data = nd;
    b->cap = ncap;
    return 0;
}

void mp_buf_add(mp_buf_t *b, const char *s, size_t n)
{
    if (n == 0 || reserve(b, n) < 0) {
        return;
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void mp_buf_puts(mp_buf_t *b, const char *s)
{
    mp_buf_add(b, s, strlen(s));
}

void mp_buf_printf(mp_buf_t *b, const char *fmt, ...)
{
    char small[256];
    va_list va;
    va_start(va, fmt);
    int n = vsnprintf(small, sizeof(small), fmt, va);
    va_end(va);
    if (n < 0) {
        b->failed = 1;
        return;
    }
    if ((size_t)n < sizeof(small)) {
        mp_buf_add(b, small, (size_t)n);
        return;
    }
    if (reserve(b, (size_t)n) < 0) {
        return;
    }
    va_start(va, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, va);
    va_end(va);
    b->len += (size_t)n;
}

void mp_buf_free(mp_buf_t *b)
{
    if (b == NULL) {
        return;
    }
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
    b->failed = 0;
}
