/* libFuzzer target: every /proc text parser (statm, stat with odd command
 * names, smaps_rollup, status) and the data file's number parser. The first
 * byte picks the parser; the rest is the file's text. */
#include "mp_datafile.h"
#include "mp_proc.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) {
        return 0;
    }
    char *buf = malloc(size);
    if (buf == NULL) {
        return 0;
    }
    memcpy(buf, data + 1, size - 1);
    buf[size - 1] = '\0'; /* the readers always NUL-terminate */
    int64_t a = 0, b = 0;
    mp_smaps_t sm;
    const char *end = NULL;
    switch (data[0] % 5) {
    case 0:
        if (mp_proc_parse_statm(buf, 4096, &a) == 0 && a < 0) {
            abort();
        }
        break;
    case 1:
        if (mp_proc_parse_stat_rss(buf, 4096, &a) == 0 && a < 0) {
            abort();
        }
        break;
    case 2:
        (void)mp_proc_parse_smaps(buf, &sm);
        break;
    case 3:
        (void)mp_proc_parse_status(buf, &a, &b);
        break;
    default:
        (void)mp_datafile_number(buf, buf + size - 1, &end);
        if (end < buf || end > buf + size - 1) {
            abort();
        }
        break;
    }
    free(buf);
    return 0;
}
