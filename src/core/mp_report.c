#include "mp_report.h"

#include <stdio.h>
#include <string.h>

/* The reference formats rows with "{0:>6} {1:>12} {2:>12}  {3:>10}   {4:<}". */
#define HEAD_BASE "Line #    Mem usage    Increment  Occurrences"
#define HEADER HEAD_BASE "   Line Contents"

/* Each optional column is " {:>12}", placed before the 3 blanks that lead
 * into the source text. Their headers, in order, with the bit that shows
 * them. */
static const struct {
    int bit;
    const char *head;
} columns[] = {
    {MP_COL_PEAK, "        Peak"},
    {MP_COL_HEAP, "    Heap net"},  {MP_COL_HEAP, "  Heap alloc"},
    {MP_COL_NATIVE, "  Native net"}, {MP_COL_NATIVE, "Native alloc"},
    {MP_COL_EXPLAIN, "     Py heap"}, {MP_COL_EXPLAIN, "      Native"},
    {MP_COL_EXPLAIN, "       Files"}, {MP_COL_EXPLAIN, "       Other"},
};
#define NCOLUMNS (sizeof(columns) / sizeof(columns[0]))

int mp_report_ncols(int cols)
{
    int n = 0;
    for (size_t i = 0; i < NCOLUMNS; i++) {
        n += (cols & columns[i].bit) != 0;
    }
    return n;
}

static int ncols(int cols)
{
    return mp_report_ncols(cols);
}

int mp_report_header_cols(char *out, size_t cap, int cols)
{
    char heads[NCOLUMNS * 13 + 1] = "";
    size_t len = 0;
    for (size_t i = 0; i < NCOLUMNS; i++) {
        if (cols & columns[i].bit) {
            heads[len++] = ' ';
            memcpy(heads + len, columns[i].head, 12);
            len += 12;
            heads[len] = '\0';
        }
    }
    return snprintf(out, cap, "%s%s   Line Contents", HEAD_BASE, heads);
}

/* An optional figure: as mp_report_mib, but never "-0.000". */
static int extra_mib(char *out, size_t cap, double mib, int precision)
{
    int n = mp_report_mib(out, cap, mib, precision);
    if (n > 0 && mib < 0) {
        /* "-0.00 MiB" when it rounds to zero: drop the sign. */
        char *minus = strchr(out, '-');
        int zero = minus != NULL;
        for (const char *c = minus ? minus + 1 : out; zero && *c && *c != ' '; c++) {
            zero = *c == '0' || *c == '.';
        }
        if (zero) {
            *minus = ' ';
        }
    }
    return n;
}

int mp_report_row_prefix_cols(char *out, size_t cap, long lineno, double mem_mib,
                              double inc_mib, long long occurrences, int precision,
                              int cols, const mp_report_extra_t *extra)
{
    char mem[512], inc[512];
    char tail[NCOLUMNS * 513 + 1];
    if (mp_report_mib(mem, sizeof(mem), mem_mib, precision) < 0
        || mp_report_mib(inc, sizeof(inc), inc_mib, precision) < 0) {
        return -1;
    }
    tail[0] = '\0';
    if (cols != 0 && extra != NULL) {
        char cell[512];
        size_t len = 0;
        const double values[NCOLUMNS] = {
            extra->peak, extra->heap_net, extra->heap_alloc, extra->native_net,
            extra->native_alloc, extra->ex_heap, extra->ex_native, extra->ex_file,
            extra->ex_other,
        };
        for (size_t i = 0; i < NCOLUMNS; i++) {
            if (!(cols & columns[i].bit)) {
                continue;
            }
            if (extra_mib(cell, sizeof(cell), values[i], precision) < 0) {
                return -1;
            }
            int w = snprintf(tail + len, sizeof(tail) - len, " %12s", cell);
            if (w < 0 || (size_t)w >= sizeof(tail) - len) {
                return -1;
            }
            len += (size_t)w;
        }
    }
    return snprintf(out, cap, "%6ld %12s %12s  %10lld%s   ", lineno, mem, inc, occurrences,
                    tail);
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
