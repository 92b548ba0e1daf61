/* mp_linediff: two line reports (the JSON of `--json`) compared line by line.
 *
 * Functions are matched by name and file name (the last path component, so
 * two checkouts in different folders match), or by name alone when that is
 * unique on both sides; lines by their source text (the n-th line with the
 * same text matches the n-th), so edits elsewhere in the file, which move
 * line numbers, do not break the match. A metric is chosen (the RSS
 * increment, heap net or allocated bytes, native net, the peak); each
 * matched line's change of it is reported, and lines or functions only on
 * one side are listed. Thresholds say which growths fail. */
#ifndef MP_LINEDIFF_H
#define MP_LINEDIFF_H

#include "mp_buf.h"

#include <stdint.h>

typedef enum {
    MP_DIFF_INCREMENT, /* "increment": the RSS change of the line */
    MP_DIFF_HEAP,      /* "heap": Python-heap bytes, net (needs --columns heap) */
    MP_DIFF_HEAP_ALLOC,/* "heap-alloc" */
    MP_DIFF_NATIVE,    /* "native": native bytes, net */
    MP_DIFF_PEAK,      /* "peak": the highest RSS inside the line */
    MP_DIFF_AUTO,      /* heap when both reports have it, else increment */
} mp_diff_metric_t;

typedef struct {
    mp_diff_metric_t metric;
    double max_line;     /* bytes a line may grow by; < 0: no limit */
    double max_total;    /* bytes a function's total may grow by; < 0: no limit */
    double min_show;     /* changes smaller than this (bytes) are not listed */
    int markdown;        /* a Markdown table, for pull-request comments */
    int all;             /* list unchanged lines too */
} mp_diff_opts_t;

typedef struct {
    int breaches;        /* lines and functions past a limit */
    int changed;         /* lines listed as changed, added or removed */
    mp_diff_metric_t metric; /* the one used (AUTO resolved) */
} mp_diff_result_t;

/* The metric named by name ("increment", "heap", "heap-alloc", "native",
 * "peak", "auto"), or -1. */
int mp_diff_metric_from_name(const char *name);
const char *mp_diff_metric_name(mp_diff_metric_t m);

/* Parse a size: "24 MB", "1.5MiB", "300kb", "4096" (bytes); KB/MB/GB are
 * 1024-based as pytest-memray reads them. 0 or -1. */
int mp_diff_parse_size(const char *s, double *bytes);

/* Compare base with new (both the text of a JSON line report, base_name and
 * new_name for the heading) into out. 0, or -1 with a one-line message in
 * err (a file that is not a line report, a metric neither report has). */
int mp_diff_reports(const char *base, size_t base_len, const char *base_name, const char *newr,
                    size_t new_len, const char *new_name, const mp_diff_opts_t *o, mp_buf_t *out,
                    mp_diff_result_t *res, char *err, size_t errcap);

#endif
