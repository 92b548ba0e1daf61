#include "mp_plot.h"

#include "mp_labels.h"

#include <limits.h>
#include <stdarg.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

int mp_plot_format_from_path(const char *path)
{
    const char *dot = strrchr(path, '.');
    const char *slash = strrchr(path, '/');
    if (dot == NULL || (slash != NULL && dot < slash)) {
        return -1;
    }
    if (strcasecmp(dot, ".png") == 0) {
        return MP_PLOT_PNG;
    }
    if (strcasecmp(dot, ".svg") == 0) {
        return MP_PLOT_SVG;
    }
    if (strcasecmp(dot, ".pdf") == 0) {
        return MP_PLOT_PDF;
    }
    return -1;
}

#ifdef MP_NO_CAIRO

int mp_plot_available(void)
{
    return 0;
}

void mp_plot_release(void)
{
}

int mp_plot_render(const mp_plot_opts_t *o, mp_plot_format_t fmt, int fd,
                   mp_plot_geometry_t *geom, char *err, size_t errlen)
{
    (void)o; (void)fmt; (void)fd; (void)geom;
    snprintf(err, errlen, "this mprof was built without cairo (install libcairo2-dev and rebuild)");
    errno = ENOSYS;
    return -1;
}

#else

#include <cairo-pdf.h>
#include <cairo-svg.h>
#include <cairo.h>
#include <fontconfig/fontconfig.h>

int mp_plot_available(void)
{
    return 1;
}

void mp_plot_release(void)
{
    cairo_debug_reset_static_data();
    FcFini();
}

/* ---------------------------------------------------------------- layout */

#define BASE_W 1260.0
#define BASE_H 540.0
#define FONT "DejaVu Sans"
#define FONT_SIZE 13.0
#define TITLE_SIZE 15.0
#define LEGEND_MAX_W 420.0
#define FLAME_ROW 20.0
#define MAX_LEGEND 64

typedef struct {
    double r, g, b;
} rgb_t;

/* Colour-blind-friendly, distinct on white (Okabe-Ito, then a few more). */
static const rgb_t palette[] = {
    {0.10, 0.10, 0.10}, {0.00, 0.45, 0.70}, {0.84, 0.37, 0.00}, {0.00, 0.62, 0.45},
    {0.80, 0.47, 0.65}, {0.34, 0.71, 0.91}, {0.90, 0.62, 0.00}, {0.55, 0.34, 0.29},
};
#define NPALETTE (sizeof(palette) / sizeof(palette[0]))
static const rgb_t peak_red = {0.85, 0.10, 0.10};
static const rgb_t total_grey = {0.35, 0.35, 0.35};

enum { SW_LINE, SW_DASH, SW_BRACKET, SW_BOX };

typedef struct {
    rgb_t c;
    int swatch;
    char text[200];
} legend_entry_t;

typedef struct {
    cairo_t *cr;
    const mp_plot_opts_t *o;
    double left, top, right, bottom;  /* plot area */
    double flame_top, flame_bottom;   /* flame strip (under the plot area) */
    double xmin, xmax, ymin, ymax;
    double xstep, ystep;
    double scale;                     /* device pixels per unit */
    int levels;                       /* flame rows */
    legend_entry_t legend[MAX_LEGEND];
    int nlegend, legend_more;
    double legend_w;
    char **labels;                    /* short function labels (profile 0) */
    mp_series_t total;                /* main + children (one profile with CHLD) */
} plot_t;

static double X(const plot_t *p, double t)
{
    return p->left + (t - p->xmin) / (p->xmax - p->xmin) * (p->right - p->left);
}

static double Y(const plot_t *p, double mib)
{
    return p->bottom - (mib - p->ymin) / (p->ymax - p->ymin) * (p->bottom - p->top);
}

static void set_rgb(cairo_t *cr, rgb_t c, double alpha)
{
    cairo_set_source_rgba(cr, c.r, c.g, c.b, alpha);
}

static void font(cairo_t *cr, double size, int bold)
{
    cairo_select_font_face(cr, FONT, CAIRO_FONT_SLANT_NORMAL,
                           bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr, size);
}

/* Length of the valid UTF-8 sequence at s (1-4), or 0 if it is not one
 * (overlong forms, surrogates and code points past U+10FFFF included, as
 * cairo refuses them all). */
static size_t utf8_seq(const unsigned char *s)
{
    unsigned c = s[0];
    size_t n;
    unsigned cp, min;
    if (c < 0x80) {
        return 1;
    } else if ((c & 0xE0) == 0xC0) {
        n = 2, cp = c & 0x1F, min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
        n = 3, cp = c & 0x0F, min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
        n = 4, cp = c & 0x07, min = 0x10000;
    } else {
        return 0;
    }
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80) {
            return 0;
        }
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
        return 0;
    }
    return n;
}

/* s itself if it is valid UTF-8, else a copy in buf (cap bytes) with each
 * byte that is not part of a valid sequence shown as U+FFFD: a command line,
 * title or function name in another encoding still draws. */
static const char *utf8_text(const char *s, char *buf, size_t cap)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n;
    while (*p != '\0' && (n = utf8_seq(p)) != 0) {
        p += n;
    }
    if (*p == '\0') {
        return s;
    }
    size_t o = 0;
    for (p = (const unsigned char *)s; *p != '\0';) {
        n = utf8_seq(p);
        const char *piece = n ? (const char *)p : "\xef\xbf\xbd";
        size_t len = n ? n : 3;
        if (o + len + 1 > cap) {
            break;
        }
        memcpy(buf + o, piece, len);
        o += len;
        p += n ? n : 1;
    }
    buf[o] = '\0';
    return buf;
}

static double text_width(cairo_t *cr, const char *s)
{
    char buf[1024];
    cairo_text_extents_t e;
    cairo_text_extents(cr, utf8_text(s, buf, sizeof(buf)), &e);
    return e.x_advance;
}

/* Shorten s (in place, UTF-8 safe) with an ellipsis until it fits in w. */
static void fit_text(cairo_t *cr, char *s, double w)
{
    static const char ellipsis[] = "\xe2\x80\xa6"; /* 3 bytes */
    char tmp[1024];
    size_t len = strlen(s), n;
    if (text_width(cr, s) <= w || len < 3 || len >= sizeof(tmp)) {
        return;
    }
    n = len - 3; /* the ellipsis must fit where the text was */
    for (;;) {
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80) {
            n--; /* never cut a UTF-8 sequence */
        }
        memcpy(tmp, s, n);
        memcpy(tmp + n, ellipsis, sizeof(ellipsis));
        if (n == 0 || text_width(cr, tmp) <= w) {
            break;
        }
        n--;
    }
    memcpy(s, tmp, n + sizeof(ellipsis));
}

/* Text anchored at (x, y): ax/ay 0 = left/top, 0.5 = centre, 1 = right/bottom. */
static void text_at(cairo_t *cr, const char *s, double x, double y, double ax, double ay)
{
    char buf[1024];
    cairo_text_extents_t e;
    cairo_font_extents_t fe;
    s = utf8_text(s, buf, sizeof(buf));
    cairo_text_extents(cr, s, &e);
    cairo_font_extents(cr, &fe);
    double h = fe.ascent + fe.descent;
    cairo_move_to(cr, x - ax * e.x_advance, y - ay * h + fe.ascent);
    cairo_show_text(cr, s);
}

/* A round step (1, 2, 2.5 or 5 times a power of ten) giving about n ticks. */
static double nice_step(double span, int n)
{
    if (!(span > 0) || !isfinite(span)) {
        return 1;
    }
    double raw = span / n;
    double mag = pow(10, floor(log10(raw)));
    double f = raw / mag;
    double step = (f < 1.5) ? 1 : (f < 2.25) ? 2 : (f < 3.5) ? 2.5 : (f < 7.5) ? 5 : 10;
    return step * mag;
}

static int decimals_for(double step)
{
    int d = 0;
    while (d < 6 && fabs(step * pow(10, d) - round(step * pow(10, d))) > 1e-6) {
        d++;
    }
    return d;
}

static void legend_add(plot_t *p, rgb_t c, int swatch, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void legend_add(plot_t *p, rgb_t c, int swatch, const char *fmt, ...)
{
    if (p->nlegend >= MAX_LEGEND) {
        p->legend_more++;
        return;
    }
    legend_entry_t *e = &p->legend[p->nlegend++];
    va_list va;
    va_start(va, fmt);
    vsnprintf(e->text, sizeof(e->text), fmt, va);
    va_end(va);
    e->c = c;
    e->swatch = swatch;
}

/* ---------------------------------------------------------------- data */

static double profile_base(const mp_profile_t *pr)
{
    double t = mp_profile_start(pr);
    return isnan(t) ? 0 : t;
}

/* The process tree's total at each of the main process's samples: main plus
 * each child's sample taken with it (at most 1 ms later, as the reference's
 * mprof wrote them, and after the main's previous sample; a child that
 * ended adds nothing).
 * Returns 0, or -1 out of memory. */
static int tree_total(const mp_profile_t *pr, mp_series_t *out)
{
    memset(out, 0, sizeof(*out));
    size_t n = pr->mem.n;
    if (pr->nchildren == 0 || n == 0) {
        return 0;
    }
    size_t *at = calloc(pr->nchildren, sizeof(size_t));
    double *times = malloc(n * sizeof(double));
    double *sums = malloc(n * sizeof(double));
    if (at == NULL || times == NULL || sums == NULL) {
        free(at);
        free(times);
        free(sums);
        return -1; /* out stays empty */
    }
    out->t = times;
    out->mib = sums;
    for (size_t i = 0; i < n; i++) {
        double t = pr->mem.t[i];
        double sum = pr->mem.mib[i];
        for (size_t c = 0; c < pr->nchildren; c++) {
            const mp_series_t *cs = &pr->children[c].s;
            while (at[c] < cs->n && cs->t[at[c]] <= t + 1e-3) {
                at[c]++;
            }
            if (at[c] > 0 && (i == 0 || cs->t[at[c] - 1] > pr->mem.t[i - 1] + 1e-3)) {
                sum += cs->mib[at[c] - 1];
            }
        }
        out->t[i] = t;
        out->mib[i] = sum;
    }
    out->n = out->cap = n;
    free(at);
    return 0;
}

/* The highest sample of s inside the window (or anywhere): its value and
 * time from base; 0, or -1 if none. */
static int series_peak(const plot_t *p, const mp_series_t *s, double base, double *best,
                       double *at)
{
    const mp_plot_opts_t *o = p->o;
    *best = -INFINITY;
    for (size_t i = 0; i < s->n; i++) {
        double t = s->t[i] - base;
        if ((!o->window || (t >= o->t0 && t <= o->t1)) && s->mib[i] > *best) {
            *best = s->mib[i];
            *at = t;
        }
    }
    return isfinite(*best) ? 0 : -1;
}

static void series_extent(const mp_series_t *s, double base, const plot_t *p, int window,
                          double *tmax, double *lo, double *hi)
{
    for (size_t i = 0; i < s->n; i++) {
        double t = s->t[i] - base;
        if (t > *tmax) {
            *tmax = t;
        }
        if (window && (t < p->o->t0 || t > p->o->t1)) {
            continue;
        }
        if (s->mib[i] < *lo) {
            *lo = s->mib[i];
        }
        if (s->mib[i] > *hi) {
            *hi = s->mib[i];
        }
    }
}

/* The unique shortest dotted suffix of each function name (the reference's
 * function_labels, mp_labels): "pkg.mod.f" shows as "f" unless another "f"
 * exists. Copies, freed with the plan. */
static char **short_labels(const mp_profile_t *pr)
{
    size_t n = pr->nnames;
    char **out = calloc(n ? n : 1, sizeof(char *));
    const char **labels = calloc(n ? n : 1, sizeof(char *));
    if (out == NULL || labels == NULL
        || mp_labels((const char *const *)pr->names, n, labels) < 0) {
        free(out);
        free(labels);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        out[i] = strdup(labels[i]);
        if (out[i] == NULL) {
            while (i-- > 0) {
                free(out[i]);
            }
            free(out);
            free(labels);
            return NULL;
        }
    }
    free(labels);
    return out;
}

/* Least-squares line through the series (in the window): MiB per second. */
static int trend(const mp_series_t *s, double base, const plot_t *p, double *slope, double *icept)
{
    double n = 0, sx = 0, sy = 0, sxx = 0, sxy = 0;
    for (size_t i = 0; i < s->n; i++) {
        double t = s->t[i] - base;
        if (p->o->window && (t < p->o->t0 || t > p->o->t1)) {
            continue;
        }
        n++;
        sx += t;
        sy += s->mib[i];
        sxx += t * t;
        sxy += t * s->mib[i];
    }
    double d = n * sxx - sx * sx;
    if (n < 2 || fabs(d) < 1e-12) {
        return -1;
    }
    *slope = (n * sxy - sx * sy) / d;
    *icept = (sy - *slope * sx) / n;
    return 0;
}

/* ---------------------------------------------------------------- drawing */

/* The curve, reduced to first/min/max/last per pixel column. */
static void draw_series(plot_t *p, const mp_series_t *s, double base, rgb_t c, double width)
{
    cairo_t *cr = p->cr;
    long col = LONG_MIN;
    double first = 0, last = 0, lo = 0, hi = 0, x = 0;
    size_t ilo = 0, ihi = 0;
    int started = 0;
    cairo_new_path(cr);
#define EMIT(yv)                                                  \
    do {                                                          \
        if (started) {                                            \
            cairo_line_to(cr, x, Y(p, (yv)));                     \
        } else {                                                  \
            cairo_move_to(cr, x, Y(p, (yv)));                     \
            started = 1;                                          \
        }                                                         \
    } while (0)
    for (size_t i = 0; i <= s->n; i++) {
        double xi = 0;
        long ci = LONG_MAX;
        if (i < s->n) {
            /* Far outside the plot (clipped anyway): keep the number sane. */
            xi = fmin(fmax(X(p, s->t[i] - base), -1e7), 1e7);
            ci = (long)floor(xi);
        }
        if (ci != col && col != LONG_MIN) {
            EMIT(first);
            if (ilo < ihi) {
                EMIT(lo);
                EMIT(hi);
            } else if (ihi < ilo) {
                EMIT(hi);
                EMIT(lo);
            }
            EMIT(last);
        }
        if (i == s->n) {
            break;
        }
        double v = s->mib[i];
        if (ci != col) {
            col = ci;
            x = xi;
            first = last = lo = hi = v;
            ilo = ihi = i;
        } else {
            last = v;
            if (v < lo) {
                lo = v;
                ilo = i;
            }
            if (v > hi) {
                hi = v;
                ihi = i;
            }
        }
    }
#undef EMIT
    if (s->n == 1) {
        double y = Y(p, s->mib[0]);
        cairo_new_path(cr);
        cairo_arc(cr, X(p, s->t[0] - base), y, 2.5, 0, 2 * M_PI);
        set_rgb(cr, c, 1);
        cairo_fill(cr);
        return;
    }
    set_rgb(cr, c, 1);
    cairo_set_line_width(cr, fmax(width, 1.3 / p->scale)); /* never thinner than a pixel */
    cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
    cairo_stroke(cr);
}

/* A coordinate moved to the middle of a device pixel: 1-pixel horizontal and
 * vertical lines stay crisp instead of smearing over two rows. */
static double snap(const plot_t *p, double v)
{
    return (floor(v * p->scale) + 0.5) / p->scale;
}

static void dashed(cairo_t *cr, double x0, double y0, double x1, double y1, rgb_t c, double w)
{
    static const double dash[] = {6, 4};
    cairo_save(cr);
    cairo_set_dash(cr, dash, 2, 0);
    cairo_set_line_width(cr, w);
    set_rgb(cr, c, 1);
    cairo_move_to(cr, x0, y0);
    cairo_line_to(cr, x1, y1);
    cairo_stroke(cr);
    cairo_restore(cr);
}

/* A tick's index on the grid, kept inside what a long holds (absurd data,
 * such as times of 1e54, must not overflow; the loop draws at most 1000). */
static long tick_index(double k)
{
    if (!(k > -1e15)) {
        return (long)-1e15;
    }
    return k < 1e15 ? (long)k : (long)1e15;
}

/* One light grid line; leaves the text colour set for its label. */
static void grid_line(cairo_t *cr, double x0, double y0, double x1, double y1)
{
    cairo_set_source_rgb(cr, 0.88, 0.88, 0.88);
    cairo_move_to(cr, x0, y0);
    cairo_line_to(cr, x1, y1);
    cairo_stroke(cr);
    cairo_set_source_rgb(cr, 0.2, 0.2, 0.2);
}

/* The grid lines and labelled ticks of one axis (time across, memory up),
 * at every multiple of its step inside its range. Integer tick counters: no
 * rounding drift, and a bounded loop. */
static void draw_ticks(plot_t *p, int memory_axis)
{
    cairo_t *cr = p->cr;
    double step = memory_axis ? p->ystep : p->xstep;
    double lo = memory_axis ? p->ymin : p->xmin, hi = memory_axis ? p->ymax : p->xmax;
    int d = decimals_for(step);
    long k0 = tick_index(ceil(lo / step - 1e-9)), k1 = tick_index(floor(hi / step + 1e-9));
    char buf[64];
    for (long k = k0; k <= k1 && k - k0 < 1000; k++) {
        double v = (double)k * step;
        snprintf(buf, sizeof(buf), "%.*f", d, fabs(v) < step * 1e-9 ? 0.0 : v);
        if (memory_axis) {
            double y = round(Y(p, v)) + 0.5;
            grid_line(cr, p->left, y, p->right, y);
            text_at(cr, buf, p->left - 6, y, 1, 0.5);
        } else {
            double x = round(X(p, v)) + 0.5;
            grid_line(cr, x, p->top, x, p->bottom);
            text_at(cr, buf, x, (p->levels ? p->flame_bottom : p->bottom) + 6, 0.5, 0);
        }
    }
}

static void draw_axes(plot_t *p)
{
    cairo_t *cr = p->cr;
    font(cr, FONT_SIZE, 0);
    cairo_set_line_width(cr, 1);
    draw_ticks(p, 0);
    draw_ticks(p, 1);
    /* frame */
    cairo_set_source_rgb(cr, 0.25, 0.25, 0.25);
    cairo_rectangle(cr, p->left + 0.5, p->top + 0.5, p->right - p->left - 1, p->bottom - p->top - 1);
    cairo_stroke(cr);
    /* axis titles */
    double lower = p->levels ? p->flame_bottom : p->bottom;
    text_at(cr, "time (in seconds)", (p->left + p->right) / 2, lower + 26, 0.5, 0);
    cairo_save(cr);
    cairo_translate(cr, 16, (p->top + p->bottom) / 2);
    cairo_rotate(cr, -M_PI / 2);
    text_at(cr, "memory used (in MiB)", 0, 0, 0.5, 0);
    cairo_restore(cr);
}

/* Functions get their own hues, none of them a curve's (the curves use
 * `palette`: main in black, children after it), so a bracket never reads
 * as belonging to a child's curve. */
static const rgb_t func_palette[] = {
    {0.46, 0.26, 0.62}, {0.50, 0.50, 0.00}, {0.85, 0.00, 0.55}, {0.00, 0.50, 0.50},
    {0.60, 0.15, 0.15}, {0.15, 0.20, 0.55}, {0.65, 0.45, 0.10}, {0.45, 0.45, 0.45},
};

static rgb_t func_color(size_t k)
{
    return func_palette[k % (sizeof(func_palette) / sizeof(func_palette[0]))];
}

/* "[" at each call's start and "]" at its end, at the memory then. */
static void draw_brackets(plot_t *p, const mp_profile_t *pr, double base)
{
    cairo_t *cr = p->cr;
    double vs = (p->bottom - p->top) / 40.0, hs = (p->right - p->left) / 180.0;
    /* Each bracket's stroke sits a little inside its call, so a call that
     * ends where the next begins shows "][", not one hidden under the other. */
    double gap = 2.0 / p->scale;
    /* Thousands of calls would merge into a blot: thinner and translucent. */
    int dense = pr->ncalls > 200;
    cairo_set_line_width(cr, dense ? 1 : 2);
    for (size_t i = 0; i < pr->ncalls; i++) {
        const mp_call_t *c = &pr->calls[i];
        double t0 = c->t0 - base, t1 = c->t1 - base;
        set_rgb(cr, func_color(c->name), dense ? 0.35 : 1);
        if (!p->o->window || (t0 >= p->o->t0 && t0 <= p->o->t1)) {
            double x = X(p, t0) + gap, y = Y(p, c->mem0);
            cairo_move_to(cr, x + hs, y - vs);
            cairo_line_to(cr, x, y - vs);
            cairo_line_to(cr, x, y + vs);
            cairo_line_to(cr, x + hs, y + vs);
            cairo_stroke(cr);
        }
        if (!p->o->window || (t1 >= p->o->t0 && t1 <= p->o->t1)) {
            double x = X(p, t1) - gap, y = Y(p, c->mem1);
            cairo_move_to(cr, x - hs, y - vs);
            cairo_line_to(cr, x, y - vs);
            cairo_line_to(cr, x, y + vs);
            cairo_line_to(cr, x - hs, y + vs);
            cairo_stroke(cr);
        }
    }
}

/* Calls as bars in a strip under the plot, one row per nesting level
 * (outermost at the top), names written inside the bars that can hold them. */
static void draw_flame(plot_t *p, const mp_profile_t *pr, double base)
{
    cairo_t *cr = p->cr;
    font(cr, 11, 0);
    cairo_save(cr);
    cairo_rectangle(cr, p->left, p->flame_top, p->right - p->left, p->flame_bottom - p->flame_top);
    cairo_clip(cr);
    for (size_t i = 0; i < pr->ncalls; i++) {
        const mp_call_t *c = &pr->calls[i];
        int level = c->level < 0 ? 0 : c->level;
        double x0 = X(p, c->t0 - base), x1 = X(p, c->t1 - base);
        if (x1 < p->left || x0 > p->right) {
            continue;
        }
        double y0 = p->flame_top + 3 + level * FLAME_ROW;
        /* The function's own colour (as in the legend), paler so the name
         * inside reads well. */
        rgb_t fc = func_color(c->name), col;
        col.r = 0.45 * fc.r + 0.55;
        col.g = 0.45 * fc.g + 0.55;
        col.b = 0.45 * fc.b + 0.55;
        double w = x1 - x0 < 1 ? 1 : x1 - x0;
        cairo_rectangle(cr, x0, y0, w, FLAME_ROW - 2);
        set_rgb(cr, col, 1);
        cairo_fill_preserve(cr);
        set_rgb(cr, fc, 0.9);
        cairo_set_line_width(cr, 0.6);
        cairo_stroke(cr);
        const char *name = p->labels ? p->labels[c->name] : pr->names[c->name];
        double vis0 = x0 < p->left ? p->left : x0, vis1 = x1 > p->right ? p->right : x1;
        if (text_width(cr, name) + 6 <= vis1 - vis0) {
            cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
            text_at(cr, name, vis0 + 3, y0 + (FLAME_ROW - 2) / 2, 0, 0.5);
        }
    }
    cairo_restore(cr);
    cairo_set_source_rgb(cr, 0.25, 0.25, 0.25);
    cairo_set_line_width(cr, 1);
    cairo_rectangle(cr, p->left + 0.5, p->flame_top + 0.5, p->right - p->left - 1,
                    p->flame_bottom - p->flame_top - 1);
    cairo_stroke(cr);
}

static void draw_legend(plot_t *p)
{
    cairo_t *cr = p->cr;
    font(cr, FONT_SIZE - 1, 0);
    double row = 19, x = p->right + 16, w = p->legend_w;
    int rows = p->nlegend + (p->legend_more ? 1 : 0);
    int fit = (int)((p->bottom - p->top - 12) / row);
    if (rows > fit) {
        p->legend_more += rows - fit;
        p->nlegend = fit - 1 > 0 ? fit - 1 : 0;
        rows = fit;
    }
    double h = rows * row + 12, y = p->top;
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_rectangle(cr, x + 0.5, y + 0.5, w, h);
    cairo_fill_preserve(cr);
    cairo_set_source_rgb(cr, 0.75, 0.75, 0.75);
    cairo_set_line_width(cr, 1);
    cairo_stroke(cr);
    for (int i = 0; i < p->nlegend; i++) {
        legend_entry_t *e = &p->legend[i];
        double cy = y + 6 + row * i + row / 2, sx = x + 8;
        set_rgb(cr, e->c, 1);
        if (e->swatch == SW_BOX) {
            cairo_rectangle(cr, sx, cy - 5, 22, 10);
            cairo_fill(cr);
        } else if (e->swatch == SW_BRACKET) {
            cairo_set_line_width(cr, 2);
            cairo_move_to(cr, sx + 6, cy - 6);
            cairo_line_to(cr, sx + 2, cy - 6);
            cairo_line_to(cr, sx + 2, cy + 6);
            cairo_line_to(cr, sx + 6, cy + 6);
            cairo_move_to(cr, sx + 16, cy - 6);
            cairo_line_to(cr, sx + 20, cy - 6);
            cairo_line_to(cr, sx + 20, cy + 6);
            cairo_line_to(cr, sx + 16, cy + 6);
            cairo_stroke(cr);
        } else if (e->swatch == SW_DASH) {
            dashed(cr, sx, cy, sx + 22, cy, e->c, 1.5);
        } else {
            cairo_set_line_width(cr, 2);
            cairo_move_to(cr, sx, cy);
            cairo_line_to(cr, sx + 22, cy);
            cairo_stroke(cr);
        }
        cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
        fit_text(cr, e->text, w - 44);
        text_at(cr, e->text, sx + 30, cy, 0, 0.5);
    }
    if (p->legend_more) {
        char more[64];
        snprintf(more, sizeof(more), "\xe2\x80\xa6 and %d more", p->legend_more);
        cairo_set_source_rgb(cr, 0.35, 0.35, 0.35);
        text_at(cr, more, x + 38, y + 6 + row * p->nlegend + row / 2, 0, 0.5);
    }
}

static void start_label(double start, char *buf, size_t cap)
{
    if (!(fabs(start) < 1e11)) { /* not a date any calendar shows (fuzzed data) */
        snprintf(buf, cap, "start at %g s", start);
        return;
    }
    time_t secs = (time_t)floor(start);
    struct tm tm;
    localtime_r(&secs, &tm);
    char day[64];
    strftime(day, sizeof(day), "%d / %m / %Y - start at %H:%M:%S", &tm);
    snprintf(buf, cap, "%s.%03d", day, (int)floor((start - floor(start)) * 1000 + 0.5) % 1000);
}

/* Where the data lies: tmax, the last time drawn (from each profile's
 * start), and lo..hi, the memory range inside the window (anywhere without
 * one) of the curves, the tree's total and the function calls. lo stays
 * INFINITY when nothing is in range. */
static void data_extent(plot_t *p, double *tmax, double *lo, double *hi)
{
    const mp_plot_opts_t *o = p->o;
    int funcs = o->functions && o->nprofiles == 1 && o->profiles[0].ncalls > 0;
    if (p->total.n > 0) {
        series_extent(&p->total, profile_base(&o->profiles[0]), p, o->window, tmax, lo, hi);
    }
    for (size_t k = 0; k < o->nprofiles; k++) {
        const mp_profile_t *pr = &o->profiles[k];
        double base = profile_base(pr);
        series_extent(&pr->mem, base, p, o->window, tmax, lo, hi);
        for (size_t c = 0; c < pr->nchildren; c++) {
            series_extent(&pr->children[c].s, base, p, o->window, tmax, lo, hi);
        }
        for (size_t c = 0; funcs && c < pr->ncalls; c++) {
            const mp_call_t *call = &pr->calls[c];
            *tmax = fmax(*tmax, call->t1 - base);
            if (!o->window || (call->t0 - base <= o->t1 && call->t1 - base >= o->t0)) {
                *lo = fmin(*lo, fmin(call->mem0, call->mem1));
                *hi = fmax(*hi, fmax(call->mem0, call->mem1));
            }
        }
    }
}

/* The process tree's total, then the axes' ranges and tick steps.
 * Returns 0, or -1 with err set (out of memory, nothing to plot). */
static int plan_axes(plot_t *p, char *err, size_t errlen)
{
    const mp_plot_opts_t *o = p->o;
    double tmax = 0, lo = INFINITY, hi = -INFINITY;
    if (o->nprofiles == 1 && tree_total(&o->profiles[0], &p->total) < 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    data_extent(p, &tmax, &lo, &hi);
    if (!isfinite(lo)) {
        if (o->window) {
            snprintf(err, errlen, "no samples in the window %g,%g", o->t0, o->t1);
        } else {
            snprintf(err, errlen, "no memory samples to plot");
        }
        return -1;
    }
    p->xmin = o->window ? o->t0 : 0;
    p->xmax = o->window ? o->t1 : tmax;
    if (p->xmax - p->xmin <= 0) {
        p->xmax = p->xmin + 1;
    }
    if (lo > 0 && lo < 0.25 * hi) {
        lo = 0; /* nearly from zero: show zero, so sizes read honestly */
    }
    double pad = (hi - lo) * 0.05;
    if (pad <= 0) {
        pad = hi > 0 ? hi * 0.05 : 1;
    }
    p->ystep = nice_step(hi - lo + 2 * pad, 6);
    p->ymin = floor((lo - pad) / p->ystep) * p->ystep;
    if (lo >= 0 && p->ymin < 0) {
        p->ymin = 0;
    }
    p->ymax = ceil((hi + pad) / p->ystep) * p->ystep;
    p->xstep = nice_step(p->xmax - p->xmin, 10);
    if (!o->window) {
        p->xmax = ceil(p->xmax / p->xstep - 1e-9) * p->xstep; /* end on a tick */
    }
    return 0;
}

/* Legend entries for the curves: each profile (its start, and its slope
 * when asked), its children, and the process tree's total. */
static void legend_curves(plot_t *p)
{
    const mp_plot_opts_t *o = p->o;
    for (size_t k = 0; k < o->nprofiles; k++) {
        const mp_profile_t *pr = &o->profiles[k];
        char label[128];
        double sl, ic;
        start_label(profile_base(pr), label, sizeof(label));
        if (o->slope && trend(&pr->mem, profile_base(pr), p, &sl, &ic) == 0) {
            legend_add(p, palette[k % NPALETTE], SW_LINE, "%s  slope %.4f MiB/s", label, sl);
        } else {
            legend_add(p, palette[k % NPALETTE], SW_LINE, "%s", label);
        }
        for (size_t c = 0; c < pr->nchildren; c++) {
            rgb_t col = palette[(k + c + 1) % NPALETTE];
            if (o->slope && trend(&pr->children[c].s, profile_base(pr), p, &sl, &ic) == 0) {
                legend_add(p, col, SW_LINE, "child %ld  slope %.4f MiB/s", pr->children[c].pid, sl);
            } else {
                legend_add(p, col, SW_LINE, "child %ld", pr->children[c].pid);
            }
        }
    }
    if (p->total.n > 0) {
        legend_add(p, total_grey, SW_DASH, "total (main + children)");
    }
}

/* The single profile's functions: short labels, a legend entry per name
 * (total time, number of calls) and, for the flame strip, its rows.
 * Returns 0, or -1 out of memory (err set). */
static int legend_functions(plot_t *p, char *err, size_t errlen)
{
    const mp_plot_opts_t *o = p->o;
    const mp_profile_t *pr = &o->profiles[0];
    p->labels = short_labels(pr);
    /* Each name's total time and call count, in one pass over the calls. */
    double *totals = calloc(pr->nnames ? pr->nnames : 1, sizeof(double));
    size_t *counts = calloc(pr->nnames ? pr->nnames : 1, sizeof(size_t));
    if (totals == NULL || counts == NULL) {
        free(totals);
        free(counts);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (size_t c = 0; c < pr->ncalls; c++) {
        if (pr->calls[c].name < pr->nnames) {
            totals[pr->calls[c].name] += pr->calls[c].t1 - pr->calls[c].t0;
            counts[pr->calls[c].name]++;
        }
    }
    for (size_t k = 0; k < pr->nnames; k++) {
        double total = totals[k];
        size_t n = counts[k];
        const char *name = p->labels ? p->labels[k] : pr->names[k];
        if (n == 1) {
            legend_add(p, func_color(k), o->flame ? SW_BOX : SW_BRACKET, "%s %.3fs", name, total);
        } else {
            legend_add(p, func_color(k), o->flame ? SW_BOX : SW_BRACKET, "%s %.3fs (%zu calls)",
                       name, total, n);
        }
    }
    free(totals);
    free(counts);
    if (o->flame) {
        for (size_t c = 0; c < pr->ncalls; c++) {
            int lv = pr->calls[c].level < 0 ? 0 : pr->calls[c].level;
            if (lv + 1 > p->levels) {
                p->levels = lv + 1 > 12 ? 12 : lv + 1;
            }
        }
    }
    return 0;
}

/* The legend's width, then the layout: y tick labels decide the left
 * margin, the legend the right, the title the top, the flame strip the
 * bottom. */
static void plan_layout(plot_t *p)
{
    const mp_plot_opts_t *o = p->o;
    cairo_t *cr = p->cr;
    font(cr, FONT_SIZE - 1, 0);
    p->legend_w = 0;
    for (int i = 0; i < p->nlegend; i++) {
        p->legend_w = fmax(p->legend_w, text_width(cr, p->legend[i].text) + 48);
    }
    p->legend_w = fmin(fmax(p->legend_w, 160), LEGEND_MAX_W);

    font(cr, FONT_SIZE, 0);
    char buf[64];
    int yd = decimals_for(p->ystep);
    snprintf(buf, sizeof(buf), "%.*f", yd, p->ymax);
    double ylab = fmax(text_width(cr, buf), text_width(cr, "0"));
    const char *title = o->title ? o->title
                        : (o->nprofiles == 1 ? o->profiles[0].cmdline : NULL);
    p->left = 34 + ylab + 8;
    p->top = (title && *title) ? 44 : 16;
    p->right = BASE_W - 16 - p->legend_w - 16;
    double below = 52;
    double strip = p->levels ? p->levels * FLAME_ROW + 6 : 0;
    p->bottom = BASE_H - below - strip - (strip ? 6 : 0);
    p->flame_top = p->bottom + 6;
    p->flame_bottom = p->flame_top + strip;
}

/* Ranges, legend and layout: everything decided before anything is drawn. */
static int plan(plot_t *p, char *err, size_t errlen)
{
    if (plan_axes(p, err, errlen) < 0) {
        return -1;
    }
    legend_curves(p);
    if (p->o->nprofiles == 1 && p->o->functions && legend_functions(p, err, errlen) < 0) {
        return -1;
    }
    plan_layout(p);
    return 0;
}

static void draw(plot_t *p)
{
    const mp_plot_opts_t *o = p->o;
    cairo_t *cr = p->cr;
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_paint(cr);
    const char *title = o->title ? o->title
                        : (o->nprofiles == 1 ? o->profiles[0].cmdline : NULL);
    if (title && *title) {
        char t[512];
        snprintf(t, sizeof(t), "%s", title);
        t[strcspn(t, "\r\n")] = '\0';
        font(cr, TITLE_SIZE, 1);
        fit_text(cr, t, BASE_W - 40);
        cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
        text_at(cr, t, BASE_W / 2, 14, 0.5, 0);
    }
    draw_axes(p);
    cairo_save(cr);
    cairo_rectangle(cr, p->left, p->top, p->right - p->left, p->bottom - p->top);
    cairo_clip(cr);
    int funcs = o->functions && o->nprofiles == 1;
    for (size_t k = 0; k < o->nprofiles; k++) {
        const mp_profile_t *pr = &o->profiles[k];
        double base = profile_base(pr);
        for (size_t c = 0; c < pr->nchildren; c++) {
            draw_series(p, &pr->children[c].s, base, palette[(k + c + 1) % NPALETTE], 1.3);
        }
        draw_series(p, &pr->mem, base, palette[k % NPALETTE], 1.8);
        if (o->slope) {
            double sl, ic;
            if (trend(&pr->mem, base, p, &sl, &ic) == 0) {
                dashed(cr, X(p, p->xmin), Y(p, ic + sl * p->xmin), X(p, p->xmax),
                       Y(p, ic + sl * p->xmax), (rgb_t){0.0, 0.75, 0.75}, 1.2);
            }
            for (size_t c = 0; c < pr->nchildren; c++) {
                if (trend(&pr->children[c].s, base, p, &sl, &ic) == 0) {
                    dashed(cr, X(p, p->xmin), Y(p, ic + sl * p->xmin), X(p, p->xmax),
                           Y(p, ic + sl * p->xmax), (rgb_t){0.3, 0.3, 0.3}, 0.8);
                }
            }
        }
        if (funcs && !o->flame) {
            draw_brackets(p, pr, base);
        }
    }
    /* The peak of the single profile: of the process tree's total when it
     * has children (dashed lines and a label), and a dot at each process's
     * own peak on its curve; else of the main curve. */
    if (o->nprofiles == 1 && o->profiles[0].mem.n > 0) {
        const mp_profile_t *pr = &o->profiles[0];
        double base = profile_base(pr), best = -INFINITY, at = 0;
        int tree = p->total.n > 0;
        if (tree) {
            cairo_save(cr);
            static const double d[] = {6, 3};
            cairo_set_dash(cr, d, 2, 0);
            draw_series(p, &p->total, base, total_grey, 1.4);
            cairo_restore(cr);
            for (size_t c = 0; c <= pr->nchildren; c++) {
                const mp_series_t *cs = c == 0 ? &pr->mem : &pr->children[c - 1].s;
                double v, t;
                if (series_peak(p, cs, base, &v, &t) == 0) {
                    cairo_new_path(cr);
                    cairo_arc(cr, X(p, t), Y(p, v), 3.5, 0, 2 * M_PI);
                    set_rgb(cr, c == 0 ? palette[0] : palette[c % NPALETTE], 1);
                    cairo_fill(cr);
                }
            }
        }
        if (series_peak(p, tree ? &p->total : &pr->mem, base, &best, &at) == 0) {
            double x = snap(p, X(p, at)), y = snap(p, Y(p, best));
            dashed(cr, p->left, y, p->right, y, peak_red, 1 / p->scale);
            dashed(cr, x, p->top, x, p->bottom, peak_red, 1 / p->scale);
            char lab[96];
            snprintf(lab, sizeof(lab), fabs(best) < 1e12 ? "%s %.1f MiB at %.*f s" : "%s %.4g MiB at %.*f s",
                     tree ? "total peak" : "peak", best, decimals_for(p->xstep) + 1, at);
            font(cr, FONT_SIZE - 1, 0);
            double tw = text_width(cr, lab);
            double tx = (x + 6 + tw < p->right - 4) ? x + 6 : x - 6 - tw;
            double ty = y - 18 > p->top + 2 ? y - 18 : y + 4;
            cairo_set_source_rgba(cr, 1, 1, 1, 0.85);
            cairo_rectangle(cr, tx - 2, ty - 1, tw + 4, 16);
            cairo_fill(cr);
            set_rgb(cr, peak_red, 1);
            text_at(cr, lab, tx, ty, 0, 0);
        }
    }
    cairo_restore(cr);
    if (funcs && o->flame && p->levels) {
        draw_flame(p, &o->profiles[0], profile_base(&o->profiles[0]));
    }
    draw_legend(p);
}

/* ---------------------------------------------------------------- output */

typedef struct {
    int fd;
    int err;
} sink_t;

static cairo_status_t write_fd(void *closure, const unsigned char *data, unsigned int len)
{
    sink_t *s = closure;
    while (len > 0) {
        ssize_t w = write(s->fd, data, len);
        if (w < 0) {
            if (errno == EINTR) {
                continue;
            }
            s->err = errno;
            return CAIRO_STATUS_WRITE_ERROR;
        }
        data += w;
        len -= (unsigned int)w;
    }
    return CAIRO_STATUS_SUCCESS;
}

int mp_plot_render(const mp_plot_opts_t *o, mp_plot_format_t fmt, int fd,
                   mp_plot_geometry_t *geom, char *err, size_t errlen)
{
    double scale = (o->scale > 0) ? o->scale : 1;
    int w = (int)lround(BASE_W * scale), h = (int)lround(BASE_H * scale);
    sink_t sink = {fd, 0};
    cairo_surface_t *surf = NULL;
    cairo_t *cr = NULL;
    plot_t p;
    int rc = -1;
    memset(&p, 0, sizeof(p));
    p.o = o;
    switch (fmt) {
    case MP_PLOT_PNG:
        surf = cairo_image_surface_create(CAIRO_FORMAT_RGB24, w, h);
        break;
    case MP_PLOT_SVG:
        surf = cairo_svg_surface_create_for_stream(write_fd, &sink, w, h);
        break;
    default:
        surf = cairo_pdf_surface_create_for_stream(write_fd, &sink, w, h);
        break;
    }
    if (cairo_surface_status(surf) != CAIRO_STATUS_SUCCESS) {
        snprintf(err, errlen, "cannot create a %dx%d picture: %s", w, h,
                 cairo_status_to_string(cairo_surface_status(surf)));
        goto done;
    }
    cr = cairo_create(surf);
    p.cr = cr;
    p.scale = scale;
    cairo_scale(cr, scale, scale);
    if (plan(&p, err, errlen) < 0) {
        goto done;
    }
    draw(&p);
    if (cairo_status(cr) != CAIRO_STATUS_SUCCESS) {
        snprintf(err, errlen, "drawing failed: %s", cairo_status_to_string(cairo_status(cr)));
        goto done;
    }
    cairo_destroy(cr);
    cr = NULL;
    if (fmt == MP_PLOT_PNG) {
        cairo_surface_write_to_png_stream(surf, write_fd, &sink);
    }
    cairo_surface_finish(surf);
    if (sink.err || cairo_surface_status(surf) != CAIRO_STATUS_SUCCESS) {
        errno = sink.err ? sink.err : EIO;
        snprintf(err, errlen, "%s", strerror(errno));
        goto done;
    }
    if (geom != NULL) {
        geom->left = p.left * scale;
        geom->top = p.top * scale;
        geom->right = p.right * scale;
        geom->bottom = p.bottom * scale;
        geom->xmin = p.xmin;
        geom->xmax = p.xmax;
        geom->ymin = p.ymin;
        geom->ymax = p.ymax;
        geom->width = w;
        geom->height = h;
    }
    rc = 0;
done:
    free(p.total.t);
    free(p.total.mib);
    if (p.labels != NULL) {
        for (size_t i = 0; i < o->profiles[0].nnames; i++) {
            free(p.labels[i]);
        }
        free(p.labels);
    }
    if (cr != NULL) {
        cairo_destroy(cr);
    }
    cairo_surface_destroy(surf);
    return rc;
}

#endif
