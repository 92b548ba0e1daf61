/* libFuzzer target: any data file through the reader and the whole plot
 * renderer (small PNG, written to /dev/null), with the options taken from
 * the first byte. Nothing may crash, whatever the numbers (huge, equal,
 * negative, out of order). */
#include "mp_datafile.h"
#include "mp_plot.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int devnull = -1;
    if (size < 1) {
        return 0;
    }
    if (devnull < 0) {
        devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
        atexit(mp_plot_release); /* font caches are not leaks */
    }
    mp_profile_t p;
    if (mp_profile_parse((const char *)data + 1, size - 1, &p) != 0) {
        return 0;
    }
    mp_plot_opts_t o = {0};
    char err[256];
    o.profiles = &p;
    o.nprofiles = 1;
    o.functions = data[0] & 1;
    o.flame = (data[0] >> 1) & 1;
    o.slope = (data[0] >> 2) & 1;
    o.window = (data[0] >> 3) & 1;
    o.t0 = 0.5;
    o.t1 = 2.5;
    o.scale = 0.25;
    (void)mp_plot_render(&o, MP_PLOT_PNG, devnull, NULL, err, sizeof(err));
    mp_profile_free(&p);
    return 0;
}
