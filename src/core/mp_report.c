#include "mp_report.h"

#include <stdio.h>
#include <string.h>

/* The reference formats rows with "{0:>6} {1:>12} {2:>12}  {3:>10}   {4:<}". */
#define HEAD_BASE "Line #    Mem usage    Increment  Occurrences"
#define HEADER HEAD_BASE "   Line Contents"

/* Each optional column is " {:>12}", placed before the 3 blanks that lead
 * into the source text. */
static int ncols(int cols)
{
    return ((cols & MP_REPORT_PEAK) ? 1 : 0) + ((cols & MP_REPORT_HEAP) ? 2 : 0);
}

int mp_report_header_cols(char *out, size_t cap, int cols)
{
    return snprintf(out, cap, "%s%s%s   Line Contents", HEAD_BASE,
                    (cols & MP_REPORT_PEAK) ? "         Peak" : "",
                    (cols & MP_REPORT_HEAP) ? "     Heap net   Heap alloc" : "");
}

int mp_report_row_prefix_cols(char *out, size_t cap, long lineno, double mem_mib,
                              double inc_mib, long long occurrences, int precision,
                              int cols, const mp_report_extra_t *extra)
{
    char mem[512], inc[512], a[512] = "", b[512] = "", c[512] = "";
    if (mp_report_mib(mem, sizeof(mem), mem_mib, precision) < 0
        || mp_report_mib(inc, sizeof(inc), inc_mib, precision) < 0) {
        return -1;
    }
    if ((cols & MP_REPORT_PEAK) && mp_report_mib(a, sizeof(a), extra->peak, precision) < 0) {
        return -1;
    }
    if ((cols & MP_REPORT_HEAP) && (mp_report_mib(b, sizeof(b), extra->heap_net, precision) < 0
                                    || mp_report_mib(c, sizeof(c), extra->heap_alloc,
                                                     precision) < 0)) {
        return -1;
    }
    return snprintf(out, cap, "%6ld %12s %12s  %10lld%s%*s%s%*s%s%*s   ", lineno, mem, inc,
                    occurrences, (cols & MP_REPORT_PEAK) ? " " : "",
                    (cols & MP_REPORT_PEAK) ? 12 : 0, a, (cols & MP_REPORT_HEAP) ? " " : "",
                    (cols & MP_REPORT_HEAP) ? 12 : 0, b, (cols & MP_REPORT_HEAP) ? " " : "",
                    (cols & MP_REPORT_HEAP) ? 12 : 0, c);
}

int mp_report_blank_prefix_cols(char *out, size_t cap, long lineno, int cols)
{
    return snprintf(out, cap, "%6ld %12s %12s  %10s%*s   ", lineno, "", "", "",
                    13 * ncols(cols), "");
}

int mp_report_header(char *out, size_t cap)
{
    return mp_report_header_cols(out, cap, 0);
}

int mp_report_separator(char *out, size_t cap)
{
    return mp_report_separator_cols(out, cap, 0);
}

int mp_report_separator_cols(char *out, size_t cap, int cols)
{
    size_t n = sizeof(HEADER) - 1 + 13 * (size_t)ncols(cols);
    if (cap > 0) {
        size_t w = n < cap - 1 ? n : cap - 1;
        memset(out, '=', w);
        out[w] = '\0';
    }
    return (int)n;
}

int mp_report_mib(char *out, size_t cap, double mib, int precision)
{
    if (precision < 0 || precision > 100) {
        return -1;
    }
    return snprintf(out, cap, "%*.*f MiB", precision + 4, precision, mib);
}

int mp_report_row_prefix(char *out, size_t cap, long lineno, double mem_mib,
                         double inc_mib, long long occurrences, int precision)
{
    return mp_report_row_prefix_cols(out, cap, lineno, mem_mib, inc_mib, occurrences,
                                     precision, 0, NULL);
}

int mp_report_blank_prefix(char *out, size_t cap, long lineno)
{
    return mp_report_blank_prefix_cols(out, cap, lineno, 0);
}
