/* mp_report: the text layout of the line-by-line report, byte for byte the
 * reference's (compat doc section 2). Everything but the source text of a
 * line is formatted here; callers append the line itself, as read.
 *
 * All functions follow snprintf: they write at most cap bytes including the
 * NUL and return the length the full text needs (so a return >= cap means
 * "truncated, call again with a bigger buffer"), or -1 on a bad argument. */
#ifndef MP_REPORT_H
#define MP_REPORT_H

#include <stddef.h>
#include <stdint.h>

#include "mp_units.h"

/* The column header row, without newline (61 characters). */
int mp_report_header(char *out, size_t cap);

/* The separator row: as many '=' as the header is long, without newline. */
int mp_report_separator(char *out, size_t cap);

/* A memory figure as the report prints it: "{mib:{p+4}.{p}f} MiB". */
int mp_report_mib(char *out, size_t cap, double mib, int precision);

/* Optional columns (a bit mask), in the order they are printed after
 * Occurrences. The same bits choose what mp_lines' tables record. */
#define MP_COL_PEAK 1      /* "Peak": highest memory while the line ran */
#define MP_COL_HEAP 2      /* "Heap net", "Heap alloc": Python-heap bytes */
#define MP_COL_NATIVE 4    /* "Native net", "Native alloc": native allocators */
#define MP_COL_EXPLAIN 8   /* "Py heap", "Native", "Files", "Other": the line's
                              change, split by where it went */

/* The header row with the optional columns in cols (0: the reference's). */
int mp_report_header_cols(char *out, size_t cap, int cols);

/* Extra figures of a row, in MiB, for the columns in cols. */
typedef struct {
    double peak;
    double heap_net, heap_alloc;
    double native_net, native_alloc;
    double ex_heap, ex_native, ex_file, ex_other;
} mp_report_extra_t;

/* The number of optional columns cols prints. */
int mp_report_ncols(int cols);

/* The separator for a header with cols. */
int mp_report_separator_cols(char *out, size_t cap, int cols);

/* A measured row's prefix with the optional columns (cols may be 0). The
 * optional figures never print as "-0.000": a value that rounds to zero is
 * zero. */
int mp_report_row_prefix_cols(char *out, size_t cap, long lineno, double mem_mib,
                              double inc_mib, long long occurrences, int precision,
                              int cols, const mp_report_extra_t *extra);

/* A line that never ran, with room for the optional columns. */
int mp_report_blank_prefix_cols(char *out, size_t cap, long lineno, int cols);

/* The part of a measured row before the source text:
 * "{lineno:>6} {mem:>12} {inc:>12}  {occ:>10}   ". */
int mp_report_row_prefix(char *out, size_t cap, long lineno, double mem_mib,
                         double inc_mib, long long occurrences, int precision);

/* The same for a line that never ran: the line number and 41 blanks. */
int mp_report_blank_prefix(char *out, size_t cap, long lineno);

#endif
