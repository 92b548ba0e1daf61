/* libFuzzer target: mprof's option parser on any argv (the input split at
 * NUL bytes), with the option tables of run and plot, plus the number
 * helpers it feeds. */
#include "mprof.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const mprof_opt_t table[] = {
    {"python", 0, 0, 1},   {"nopython", 0, 0, 2}, {"interval", 'T', 1, 3}, {"include-children", 'C', 0, 4},
    {"multiprocess", 'M', 0, 5}, {"exit-code", 'E', 0, 6}, {"attach", 'a', 0, 7}, {"timeout", 't', 1, 8},
    {"output", 'o', 1, 9}, {"window", 'w', 1, 10}, {"help", 'h', 0, 11}, {NULL, 0, 0, 0},
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    char *argv[66];
    int argc = 0;
    if (text == NULL) {
        return 0;
    }
    memcpy(text, data, size);
    text[size] = '\0';
    argv[argc++] = "mprof";
    argv[argc++] = "run";
    for (char *p = text; p <= text + size && argc < 65; p += strlen(p) + 1) {
        argv[argc++] = p;
    }
    argv[argc] = NULL;
    for (int remainder = 0; remainder < 2; remainder++) {
        mprof_optparse_t p;
        /* Each call consumes an argument or one flag of a bundle (-EEE...):
         * more calls than that means the parser stopped making progress. */
        int id, steps = 0, bound = (int)size + argc + 2;
        mprof_opt_init(&p, argc, argv, 2, table, remainder);
        while ((id = mprof_opt_next(&p)) != MPROF_OPT_END && steps++ < bound) {
            if (id == MPROF_OPT_ERROR) {
                if (memchr(p.err, '\0', sizeof(p.err)) == NULL) {
                    abort();
                }
                break;
            }
            if (id == MPROF_OPT_POSITIONAL && remainder) {
                break;
            }
            if (p.value != NULL) {
                double v;
                char repr[64];
                if (mprof_parse_seconds(p.value, &v) == 0) {
                    mprof_float_repr(repr, sizeof(repr), v);
                    if (strtod(repr, NULL) != v) {
                        abort(); /* the repr must read back exactly */
                    }
                }
            }
        }
        if (steps > bound || p.index > argc) {
            abort();
        }
    }
    free(text);
    return 0;
}
