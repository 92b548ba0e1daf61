/* libFuzzer target: the mprof data-file reader must accept any bytes, never
 * crash, and always hand back series sorted by time. */
#include "mp_datafile.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_sorted(const mp_series_t *s)
{
    for (size_t i = 1; i < s->n; i++) {
        if (s->t[i] < s->t[i - 1]) {
            abort();
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mp_profile_t p;
    if (mp_profile_parse((const char *)data, size, &p) != 0) {
        return 0;
    }
    check_sorted(&p.mem);
    for (size_t i = 0; i < p.nchildren; i++) {
        check_sorted(&p.children[i].s);
    }
    for (size_t i = 0; i < p.ncalls; i++) {
        if (p.calls[i].name >= p.nnames) {
            abort();
        }
    }
    (void)mp_series_max(&p.mem);
    (void)mp_profile_start(&p);
    mp_profile_free(&p);
    return 0;
}
