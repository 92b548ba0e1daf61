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

#define MP_MIB 1048576.0

/* The column header row, without newline (61 characters). */
int mp_report_header(char *out, size_t cap);

/* The separator row: as many '=' as the header is long, without newline. */
int mp_report_separator(char *out, size_t cap);

/* A memory figure as the report prints it: "{mib:{p+4}.{p}f} MiB". */
int mp_report_mib(char *out, size_t cap, double mib, int precision);

/* The part of a measured row before the source text:
 * "{lineno:>6} {mem:>12} {inc:>12}  {occ:>10}   ". */
int mp_report_row_prefix(char *out, size_t cap, long lineno, double mem_mib,
                         double inc_mib, long long occurrences, int precision);

/* The same for a line that never ran: the line number and 41 blanks. */
int mp_report_blank_prefix(char *out, size_t cap, long lineno);

#endif
