/* Line reports compared line by line: see mp_linediff.h. */
#include "mp_linediff.h"

#include "mp_json.h"
#include "mp_jsonread.h"
#include "mp_units.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NMETRICS 5

static const char *const metric_names[] = {"increment", "heap", "heap-alloc", "native", "peak",
                                           "auto"};
/* The JSON member of each metric, and its column (NULL: always there). */
static const char *const metric_keys[NMETRICS] = {"increment", "heap_net", "heap_alloc",
                                                  "native_net", "peak"};
static const char *const metric_cols[NMETRICS] = {NULL, "heap", "heap", "native", "peak"};
static const char *const metric_titles[NMETRICS] = {
    "RSS increment", "Python-heap bytes, net", "Python-heap bytes allocated",
    "native bytes, net", "peak RSS inside the line"};

int mp_diff_metric_from_name(const char *name)
{
    for (int m = 0; m <= MP_DIFF_AUTO; m++) {
        if (strcmp(name, metric_names[m]) == 0) {
            return m;
        }
    }
    return -1;
}

const char *mp_diff_metric_name(mp_diff_metric_t m)
{
    return metric_names[m];
}

int mp_diff_parse_size(const char *s, double *bytes)
{
    char *end;
    while (isspace((unsigned char)*s)) {
        s++;
    }
    double v = strtod(s, &end);
    if (end == s || !isfinite(v) || v < 0) {
        return -1;
    }
    while (isspace((unsigned char)*end)) {
        end++;
    }
    static const struct {
        const char *unit;
        double scale;
    } units[] = {
        {"", 1},
        {"b", 1},
        {"kb", 1024.0},
        {"kib", 1024.0},
        {"k", 1024.0},
        {"mb", MP_MIB},
        {"mib", MP_MIB},
        {"m", MP_MIB},
        {"gb", MP_MIB * 1024},
        {"gib", MP_MIB * 1024},
        {"g", MP_MIB * 1024},
    };
    char u[8] = {0};
    size_t n = strnlen(end, sizeof(u));
    if (n >= sizeof(u)) {
        return -1;
    }
    for (size_t k = 0; k < n; k++) {
        u[k] = (char)tolower((unsigned char)end[k]);
    }
    for (size_t k = 0; k < sizeof(units) / sizeof(units[0]); k++) {
        if (strcmp(u, units[k].unit) == 0) {
            *bytes = v * units[k].scale;
            return 0;
        }
    }
    return -1;
}

/* ------------------------------------------------------------ reports */

typedef struct {
    char *text;         /* the source line, trimmed (owned) */
    int lineno;
    int ordinal;        /* how many earlier lines of the function have this text */
    double v;           /* the metric (0 for a line that did not run) */
    int matched;
} dline_t;

typedef struct {
    const char *name;   /* borrowed from the JSON tree */
    const char *file;   /* the last path component, borrowed */
    dline_t *lines;
    size_t n;
    double total;
    int matched;        /* index + 1 of the matching function on the other side */
} dfunc_t;

typedef struct {
    mp_jval_t root;
    dfunc_t *f;
    size_t n;
    unsigned cols;      /* bit m: metric m is in the report */
} drep_t;

static void rep_free(drep_t *r)
{
    for (size_t i = 0; r->f != NULL && i < r->n; i++) {
        for (size_t k = 0; k < r->f[i].n; k++) {
            free(r->f[i].lines[k].text);
        }
        free(r->f[i].lines);
    }
    free(r->f);
    mp_jval_free(&r->root);
    memset(r, 0, sizeof(*r));
}

static char *trimmed(const char *s)
{
    if (s == NULL) {
        s = "";
    }
    while (isspace((unsigned char)*s)) {
        s++;
    }
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1])) {
        n--;
    }
    char *t = malloc(n + 1);
    if (t != NULL) {
        memcpy(t, s, n);
        t[n] = '\0';
    }
    return t;
}

static int rep_load(drep_t *r, const char *text, size_t len, const char *name, char *err,
                    size_t errcap)
{
    char jerr[200];
    memset(r, 0, sizeof(*r));
    if (mp_json_parse(text, len, &r->root, jerr, sizeof(jerr)) < 0) {
        snprintf(err, errcap, "%s: not JSON (%s)", name, jerr);
        return -1;
    }
    const mp_jval_t *funcs = mp_json_member(&r->root, "functions");
    const char *fmt = mp_json_string_of(&r->root, "format", "");
    if (funcs == NULL || funcs->type != MP_JARR || strstr(fmt, "line report") == NULL) {
        snprintf(err, errcap, "%s: not a line report (write one with python -m memory_profiler --json FILE)",
                 name);
        rep_free(r);
        return -1;
    }
    r->cols = 1u << MP_DIFF_INCREMENT;
    const mp_jval_t *cols = mp_json_member(&r->root, "columns");
    for (size_t k = 0; cols != NULL && cols->type == MP_JARR && k < cols->len; k++) {
        for (int m = 1; m < NMETRICS; m++) {
            if (cols->items[k].type == MP_JSTR && strcmp(cols->items[k].str, metric_cols[m]) == 0) {
                r->cols |= 1u << m;
            }
        }
    }
    r->f = calloc(funcs->len ? funcs->len : 1, sizeof(dfunc_t));
    if (r->f == NULL) {
        snprintf(err, errcap, "out of memory");
        rep_free(r);
        return -1;
    }
    for (size_t i = 0; i < funcs->len; i++) {
        const mp_jval_t *fj = &funcs->items[i];
        const mp_jval_t *lines = mp_json_member(fj, "lines");
        dfunc_t *f = &r->f[r->n++];
        f->name = mp_json_string_of(fj, "function", "?");
        const char *path = mp_json_string_of(fj, "filename", "?");
        const char *slash = strrchr(path, '/');
        f->file = slash ? slash + 1 : path;
        size_t nl = lines != NULL && lines->type == MP_JARR ? lines->len : 0;
        f->lines = calloc(nl ? nl : 1, sizeof(dline_t));
        if (f->lines == NULL) {
            snprintf(err, errcap, "out of memory");
            rep_free(r);
            return -1;
        }
        for (size_t k = 0; k < nl; k++) {
            const mp_jval_t *lj = &lines->items[k];
            dline_t *l = &f->lines[f->n];
            l->text = trimmed(mp_json_string_of(lj, "source", ""));
            if (l->text == NULL) {
                snprintf(err, errcap, "out of memory");
                rep_free(r);
                return -1;
            }
            f->n++;
            double lineno = mp_json_number_of(lj, "lineno", 0);
            l->lineno = (lineno >= 0 && lineno < 1e9) ? (int)lineno : 0; /* (any JSON) */
            for (size_t j = 0; j + 1 < f->n; j++) {
                const char *earlier = f->lines[j].text;
                l->ordinal += earlier != NULL && strcmp(earlier, l->text) == 0;
            }
        }
    }
    return 0;
}

/* Each line's value of metric m, and each function's total (the sum; for
 * the peak, the highest). */
static void rep_measure(drep_t *r, const mp_jval_t *funcs, int m)
{
    for (size_t i = 0; i < r->n; i++) {
        dfunc_t *f = &r->f[i];
        const mp_jval_t *lines = mp_json_member(&funcs->items[i], "lines");
        f->total = 0;
        for (size_t k = 0; k < f->n; k++) {
            double v = mp_json_number_of(&lines->items[k], metric_keys[m], 0);
            f->lines[k].v = v;
            if (m == MP_DIFF_PEAK) {
                f->total = (k == 0 || v > f->total) ? v : f->total;
            } else {
                f->total += v;
            }
        }
    }
}

static void match_functions(drep_t *a, drep_t *b)
{
    /* Name and file first, then the name alone where it is unique on both
     * sides (a file renamed or moved). */
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < a->n; i++) {
            if (a->f[i].matched) {
                continue;
            }
            size_t hit = 0, hits = 0, same_a = 0;
            for (size_t j = 0; j < b->n; j++) {
                if (strcmp(a->f[i].name, b->f[j].name) != 0) {
                    continue;
                }
                if (pass == 0 && strcmp(a->f[i].file, b->f[j].file) != 0) {
                    continue;
                }
                if (!b->f[j].matched) {
                    hits++;
                    hit = j;
                }
            }
            for (size_t j = 0; pass == 1 && j < a->n; j++) {
                same_a += strcmp(a->f[i].name, a->f[j].name) == 0;
            }
            if (hits >= 1 && (pass == 0 || (hits == 1 && same_a == 1))) {
                a->f[i].matched = (int)hit + 1;
                b->f[hit].matched = (int)i + 1;
            }
        }
    }
}

/* ------------------------------------------------------------- output */

static void mib(char *out, size_t cap, double bytes, int sign)
{
    snprintf(out, cap, sign ? "%+.3f MiB" : "%.3f MiB", bytes / MP_MIB);
}

typedef struct {
    const mp_diff_opts_t *o;
    mp_buf_t *out;
    mp_diff_result_t *res;
    int heading_done;
    int rows;           /* rows listed for the current function */
    double min_show;
} emit_t;

static void md_code(mp_buf_t *b, const char *s)
{
    mp_buf_puts(b, "`");
    for (; *s; s++) {
        if (*s == '`' || *s == '|') {
            mp_buf_printf(b, "\\%c", *s);
        } else {
            mp_buf_add(b, s, 1);
        }
    }
    mp_buf_puts(b, "`");
}

static void emit_function_heading(emit_t *e, const dfunc_t *f)
{
    if (e->heading_done || e->o->markdown) {
        return;
    }
    mp_buf_printf(e->out, "\nFunction: %s (%s)\n", f->name, f->file);
    mp_buf_printf(e->out, "%14s %14s %14s   %s\n", "base", "new", "change", "Line Contents");
    e->heading_done = 1;
}

/* One row: a matched line (both), or a line on one side only. */
static void emit_row(emit_t *e, const dfunc_t *f, const char *text, const double *base,
                     const double *now, const char *note)
{
    char b[40] = "-", n[40] = "-", d[40];
    if (base != NULL) {
        mib(b, sizeof(b), *base, 0);
    }
    if (now != NULL) {
        mib(n, sizeof(n), *now, 0);
    }
    mib(d, sizeof(d), (now ? *now : 0) - (base ? *base : 0), 1);
    e->rows++;
    if (e->o->markdown) {
        mp_buf_puts(e->out, "| ");
        md_code(e->out, f->name);
        mp_buf_puts(e->out, " | ");
        md_code(e->out, text);
        mp_buf_printf(e->out, " | %s | %s | %s | %s |\n", b, n, d, note);
        return;
    }
    emit_function_heading(e, f);
    mp_buf_printf(e->out, "%14s %14s %14s   %s%s%s\n", b, n, d, text, note[0] ? "   <-- " : "",
                  note);
}

static void diff_function(emit_t *e, dfunc_t *fa, dfunc_t *fb)
{
    const mp_diff_opts_t *o = e->o;
    e->heading_done = 0;
    e->rows = 0;
    for (size_t k = 0; k < fb->n; k++) {
        fb->lines[k].matched = 0;
    }
    for (size_t i = 0; i < fa->n; i++) {
        dline_t *la = &fa->lines[i];
        dline_t *lb = NULL;
        for (size_t k = 0; k < fb->n; k++) {
            if (!fb->lines[k].matched && fb->lines[k].ordinal == la->ordinal
                && strcmp(fb->lines[k].text, la->text) == 0) {
                lb = &fb->lines[k];
                break;
            }
        }
        if (lb == NULL) {
            if (la->text[0] != '\0' && (fabs(la->v) > e->min_show || o->all)) {
                e->res->changed++;
                emit_row(e, fa, la->text, &la->v, NULL, "removed");
            }
            continue;
        }
        lb->matched = 1;
        double change = lb->v - la->v;
        int over = o->max_line >= 0 && change > o->max_line;
        if (over || fabs(change) > e->min_show || (o->all && la->text[0] != '\0')) {
            if (change != 0) {
                e->res->changed++;
            }
            e->res->breaches += over;
            emit_row(e, fa, la->text, &la->v, &lb->v, over ? "over the line limit" : "");
        }
    }
    for (size_t k = 0; k < fb->n; k++) {
        dline_t *lb = &fb->lines[k];
        if (lb->matched || lb->text[0] == '\0') {
            continue;
        }
        int over = o->max_line >= 0 && lb->v > o->max_line;
        if (over || fabs(lb->v) > e->min_show || o->all) {
            e->res->changed++;
            e->res->breaches += over;
            emit_row(e, fb, lb->text, NULL, &lb->v, over ? "added, over the line limit" : "added");
        }
    }
    double change = fb->total - fa->total;
    int over = o->max_total >= 0 && change > o->max_total;
    e->res->breaches += over;
    if (e->rows > 0 || over) {
        char a[40], b[40], d[40];
        mib(a, sizeof(a), fa->total, 0);
        mib(b, sizeof(b), fb->total, 0);
        mib(d, sizeof(d), change, 1);
        if (o->markdown) {
            mp_buf_puts(e->out, "| ");
            md_code(e->out, fb->name);
            mp_buf_printf(e->out, " | **total** | %s | %s | %s | %s |\n", a, b, d,
                          over ? "over the function limit" : "");
        } else {
            emit_function_heading(e, fb);
            mp_buf_printf(e->out, "%14s %14s %14s   (function total)%s\n", a, b, d,
                          over ? "   <-- over the function limit" : "");
        }
    }
}

static void list_unmatched(emit_t *e, const drep_t *r, const char *side)
{
    int first = 1;
    for (size_t i = 0; i < r->n; i++) {
        if (r->f[i].matched) {
            continue;
        }
        if (first) {
            mp_buf_printf(e->out, "\nFunctions only in %s: ", side);
        } else {
            mp_buf_puts(e->out, ", ");
        }
        if (e->o->markdown) {
            md_code(e->out, r->f[i].name);
        } else {
            mp_buf_puts(e->out, r->f[i].name);
        }
        mp_buf_printf(e->out, " (%s)", r->f[i].file);
        first = 0;
    }
    if (!first) {
        mp_buf_puts(e->out, "\n");
    }
}

int mp_diff_reports(const char *base, size_t base_len, const char *base_name, const char *newr,
                    size_t new_len, const char *new_name, const mp_diff_opts_t *o, mp_buf_t *out,
                    mp_diff_result_t *res, char *err, size_t errcap)
{
    drep_t a, b;
    memset(res, 0, sizeof(*res));
    if (rep_load(&a, base, base_len, base_name, err, errcap) < 0) {
        return -1;
    }
    if (rep_load(&b, newr, new_len, new_name, err, errcap) < 0) {
        rep_free(&a);
        return -1;
    }
    int m = (int)o->metric;
    if (m == MP_DIFF_AUTO) {
        m = (a.cols & b.cols & (1u << MP_DIFF_HEAP)) ? MP_DIFF_HEAP : MP_DIFF_INCREMENT;
    }
    if (!(a.cols & (1u << m)) || !(b.cols & (1u << m))) {
        snprintf(err, errcap, "%s: %s has no %s column (record both with --columns %s)",
                 metric_names[m], !(a.cols & (1u << m)) ? base_name : new_name, metric_cols[m],
                 metric_cols[m]);
        rep_free(&a);
        rep_free(&b);
        return -1;
    }
    res->metric = (mp_diff_metric_t)m;
    rep_measure(&a, mp_json_member(&a.root, "functions"), m);
    rep_measure(&b, mp_json_member(&b.root, "functions"), m);
    match_functions(&a, &b);

    emit_t e = {o, out, res, 0, 0, o->min_show};
    if (e.min_show < 0) { /* heap bytes are exact; RSS moves by pages */
        e.min_show = (m == MP_DIFF_HEAP || m == MP_DIFF_HEAP_ALLOC) ? 0 : 64 * 1024.0;
    }
    char lim_line[40] = "none", lim_total[40] = "none";
    if (o->max_line >= 0) {
        mib(lim_line, sizeof(lim_line), o->max_line, 1);
    }
    if (o->max_total >= 0) {
        mib(lim_total, sizeof(lim_total), o->max_total, 1);
    }
    if (o->markdown) {
        mp_buf_printf(out, "### Memory per line: %s\n\n`%s` → `%s`; limits: line %s, function %s\n\n",
                      metric_titles[m], base_name, new_name, lim_line, lim_total);
        mp_buf_puts(out, "| function | line | base | new | change | |\n|---|---|---:|---:|---:|---|\n");
    } else {
        mp_buf_printf(out, "Memory per line: %s, %s -> %s\nLimits: line %s, function %s\n",
                      metric_titles[m], base_name, new_name, lim_line, lim_total);
    }
    for (size_t i = 0; i < a.n; i++) {
        if (a.f[i].matched) {
            diff_function(&e, &a.f[i], &b.f[a.f[i].matched - 1]);
        }
    }
    list_unmatched(&e, &a, base_name);
    list_unmatched(&e, &b, new_name);
    mp_buf_printf(out, "\n%s%d line%s changed, %d over the limits.%s\n", o->markdown ? "**" : "",
                  res->changed, res->changed == 1 ? "" : "s", res->breaches,
                  o->markdown ? "**" : "");
    rep_free(&a);
    rep_free(&b);
    if (out->failed) {
        snprintf(err, errcap, "out of memory");
        return -1;
    }
    return 0;
}
