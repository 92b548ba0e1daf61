/* mprof diff: two line reports (python -m memory_profiler --json FILE)
 * compared line by line (src/core/mp_linediff). */
#include "mprof.h"

#include "mp_datafile.h"
#include "mp_linediff.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { OPT_METRIC = 1, OPT_MAX_LINE, OPT_MAX_TOTAL, OPT_MIN_CHANGE, OPT_MARKDOWN, OPT_ALL,
       OPT_HELP, OPT_VERSION };

static void usage(FILE *out)
{
    fprintf(out,
            "usage: mprof diff [-h] [--metric {auto,increment,heap,heap-alloc,native,peak}]\n"
            "                  [--max-line SIZE] [--max-total SIZE] [--min-change SIZE]\n"
            "                  [--markdown] [--all] BASE NEW\n"
            "\n"
            "Compare two line reports (python -m memory_profiler --json FILE) line by line.\n"
            "Functions match by name and file name, lines by their text, so edits elsewhere\n"
            "do not break the match. Exit status 7 when a limit is passed.\n"
            "\n"
            "positional arguments:\n"
            "  BASE                  the report to compare against\n"
            "  NEW                   the report of the change\n"
            "\n"
            "options:\n"
            "  -h, --help            show this help message and exit\n"
            "  --metric M            what to compare: heap (Python-heap bytes, net: exact, the\n"
            "                        same on every machine), heap-alloc, native, increment (RSS),\n"
            "                        peak; auto (default): heap if both reports have it, else\n"
            "                        increment\n"
            "  --max-line SIZE       fail when a line grows by more than SIZE (e.g. 1MB, 512 KiB)\n"
            "  --max-total SIZE      fail when a function's total grows by more than SIZE\n"
            "  --min-change SIZE     do not list smaller changes (default: any for heap, 64 KiB\n"
            "                        for RSS figures)\n"
            "  --markdown            a Markdown table, for a pull-request comment\n"
            "  --all                 list unchanged lines too\n");
}

/* What an option with a value does to o. Returns 0, or an exit code
 * (usage printed) when the value is not understood. */
static int take_value(int id, const char *value, mp_diff_opts_t *o)
{
    double *size = NULL;
    const char *opt = "--min-change";
    switch (id) {
    case OPT_METRIC: {
        int m = mp_diff_metric_from_name(value);
        if (m < 0) {
            usage(stderr);
            mprof_error("diff", "argument --metric: invalid choice: '%s' (choose from auto, "
                        "increment, heap, heap-alloc, native, peak)", value);
            return MPROF_EUSAGE;
        }
        o->metric = (mp_diff_metric_t)m;
        return 0;
    }
    case OPT_MAX_LINE:
        size = &o->max_line;
        opt = "--max-line";
        break;
    case OPT_MAX_TOTAL:
        size = &o->max_total;
        opt = "--max-total";
        break;
    default:
        size = &o->min_show;
        break;
    }
    if (mp_diff_parse_size(value, size) < 0) {
        usage(stderr);
        mprof_error("diff", "argument %s: not a size: '%s' (e.g. 24MB, 512 KiB, 4096)", opt,
                    value);
        return MPROF_EUSAGE;
    }
    return 0;
}

/* The command line into o and paths. Returns -1 to go on, or the exit code
 * to end with now (help, version, a usage error). */
static int parse_args(int argc, char **argv, mp_diff_opts_t *o, const char *paths[2])
{
    static const mprof_opt_t opts[] = {
        {"metric", 0, 1, OPT_METRIC},       {"max-line", 0, 1, OPT_MAX_LINE},
        {"max-total", 0, 1, OPT_MAX_TOTAL}, {"min-change", 0, 1, OPT_MIN_CHANGE},
        {"markdown", 0, 0, OPT_MARKDOWN},   {"all", 0, 0, OPT_ALL},
        {"help", 'h', 0, OPT_HELP},         {"version", 0, 0, OPT_VERSION},
        {NULL, 0, 0, 0}};
    int npaths = 0, rc;
    mprof_optparse_t p;
    mprof_opt_init(&p, argc, argv, 2, opts, 0);
    for (int id = mprof_opt_next(&p); id != MPROF_OPT_END; id = mprof_opt_next(&p)) {
        switch (id) {
        case MPROF_OPT_ERROR:
            usage(stderr);
            mprof_error("diff", "%s", p.err);
            return MPROF_EUSAGE;
        case MPROF_OPT_POSITIONAL:
            if (npaths == 2) {
                usage(stderr);
                mprof_error("diff", "unrecognized arguments: %s", p.value);
                return MPROF_EUSAGE;
            }
            paths[npaths++] = p.value;
            break;
        case OPT_METRIC:
        case OPT_MAX_LINE:
        case OPT_MAX_TOTAL:
        case OPT_MIN_CHANGE:
            if ((rc = take_value(id, p.value, o)) != 0) {
                return rc;
            }
            break;
        case OPT_MARKDOWN:
            o->markdown = 1;
            break;
        case OPT_ALL:
            o->all = 1;
            break;
        case OPT_HELP:
            usage(stdout);
            return MPROF_OK;
        case OPT_VERSION:
            printf("%s\n", MP_VERSION);
            return MPROF_OK;
        default:
            break;
        }
    }
    if (npaths < 2) {
        usage(stderr);
        mprof_error("diff", "the following arguments are required: %s",
                    npaths == 0 ? "BASE, NEW" : "NEW");
        return MPROF_EUSAGE;
    }
    return -1;
}

/* Read both reports, print their diff. Returns the exit code. */
static int compare(const char *const paths[2], const mp_diff_opts_t *o)
{
    char *text[2] = {NULL, NULL};
    size_t len[2] = {0, 0};
    for (int k = 0; k < 2; k++) {
        if (mp_read_text_file(paths[k], &text[k], &len[k]) < 0) {
            mprof_error("diff", "cannot read %s: %s", paths[k], mp_profile_strerror(errno));
            free(text[0]);
            return MPROF_EINPUT;
        }
    }
    mp_buf_t out = {0};
    mp_diff_result_t res;
    char err[512];
    int rc = mp_diff_reports(text[0], len[0], paths[0], text[1], len[1], paths[1], o, &out, &res,
                             err, sizeof(err));
    free(text[0]);
    free(text[1]);
    if (rc < 0) {
        mp_buf_free(&out);
        mprof_error("diff", "%s", err);
        return MPROF_EINPUT;
    }
    if (out.len > 0 && (fwrite(out.data, 1, out.len, stdout) != out.len || fflush(stdout) != 0)) {
        mp_buf_free(&out);
        mprof_error("diff", "cannot write the diff: %s", strerror(errno));
        return MPROF_EOUTPUT;
    }
    mp_buf_free(&out);
    return res.breaches > 0 ? MPROF_EOVER : MPROF_OK;
}

int mprof_diff_main(int argc, char **argv)
{
    mp_diff_opts_t o = {MP_DIFF_AUTO, -1, -1, -1, 0, 0};
    const char *paths[2] = {NULL, NULL};
    int rc = parse_args(argc, argv, &o, paths);
    return rc >= 0 ? rc : compare(paths, &o);
}
