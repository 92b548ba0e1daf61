/* libFuzzer target: the JSON reader and the line-report diff must take any
 * bytes (two documents split at the first NUL byte), never crash, and give
 * either an error or a diff that ends with its summary line. */
#include "mp_linediff.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    const char *nul = memchr(s, '\0', size);
    size_t alen = nul ? (size_t)(nul - s) : size / 2;
    size_t boff = nul ? alen + 1 : alen;
    mp_diff_opts_t o = {MP_DIFF_AUTO, -1, -1, -1, 0, 0};
    if (size > 0) {
        o.markdown = data[0] & 1;
        o.all = (data[0] >> 1) & 1;
        o.max_line = (data[0] & 4) ? 0 : -1;
        o.metric = (mp_diff_metric_t)((data[0] >> 3) % 6);
    }
    mp_buf_t out = {0};
    mp_diff_result_t res;
    char err[256];
    if (mp_diff_reports(s, alen, "a", s + boff, size - boff, "b", &o, &out, &res, err,
                        sizeof(err)) == 0) {
        if (out.len == 0 || out.data[out.len - 1] != '\n' || res.breaches < 0) {
            abort();
        }
    } else if (err[0] == '\0') {
        abort(); /* an error always says what */
    }
    mp_buf_free(&out);
    return 0;
}
