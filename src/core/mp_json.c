#include "mp_json.h"

#include <math.h>
#include <stdio.h>

void mp_json_string(mp_buf_t *b, const char *s, size_t n)
{
    mp_buf_add(b, "\"", 1);
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *esc = NULL;
        char u[8];
        switch (c) {
        case '"': esc = "\\\""; break;
        case '\\': esc = "\\\\"; break;
        case '\n': esc = "\\n"; break;
        case '\r': esc = "\\r"; break;
        case '\t': esc = "\\t"; break;
        default:
            if (c < 0x20) {
                snprintf(u, sizeof(u), "\\u%04x", c);
                esc = u;
            }
        }
        if (esc != NULL) {
            mp_buf_add(b, s + i - run, run);
            run = 0;
            mp_buf_puts(b, esc);
        } else {
            run++;
        }
    }
    mp_buf_add(b, s + n - run, run);
    mp_buf_add(b, "\"", 1);
}

void mp_json_number(mp_buf_t *b, double v)
{
    if (!isfinite(v)) {
        mp_buf_puts(b, "null");
        return;
    }
    mp_buf_printf(b, "%.17g", v);
}
