#include "mp_report.h"

#include <stdio.h>
#include <string.h>

/* The reference formats rows with "{0:>6} {1:>12} {2:>12}  {3:>10}   {4:<}". */
#define HEADER "Line #    Mem usage    Increment  Occurrences   Line Contents"

int mp_report_header(char *out, size_t cap)
{
    return snprintf(out, cap, "%s", HEADER);
}

int mp_report_separator(char *out, size_t cap)
{
    size_t n = sizeof(HEADER) - 1;
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
    /* A figure is at most ~310 digits (DBL_MAX) plus precision: 512 is ample. */
    char mem[512], inc[512];
    if (mp_report_mib(mem, sizeof(mem), mem_mib, precision) < 0
        || mp_report_mib(inc, sizeof(inc), inc_mib, precision) < 0) {
        return -1;
    }
    return snprintf(out, cap, "%6ld %12s %12s  %10lld   ", lineno, mem, inc, occurrences);
}

int mp_report_blank_prefix(char *out, size_t cap, long lineno)
{
    return snprintf(out, cap, "%6ld %12s %12s  %10s   ", lineno, "", "", "");
}
