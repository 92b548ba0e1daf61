/* mp_plot: pictures of mprof data files, drawn with cairo. One drawing path
 * for three surfaces (PNG, SVG, PDF), written to a descriptor the caller
 * owns, so the caller decides where the bytes land (and can discard them on
 * failure).
 *
 * What is drawn: one memory curve per profile (time from that profile's own
 * start), children curves, with one profile the function calls (brackets at
 * their start and end, or --flame bars by nesting level) and a dashed line at
 * the peak; optional trend lines with their slope; axes with round ticks, a
 * grid, and a legend outside the plot area, so it never covers a curve.
 * Points that fall on the same pixel column are reduced to their first, min,
 * max and last, so hours of 1 ms samples draw as fast as a minute of them. */
#ifndef MP_PLOT_H
#define MP_PLOT_H

#include "mp_datafile.h"

#include <stddef.h>

typedef enum { MP_PLOT_PNG = 0, MP_PLOT_SVG, MP_PLOT_PDF } mp_plot_format_t;

typedef struct {
    const mp_profile_t *profiles;
    size_t nprofiles;
    const char *title;     /* NULL: the command line when there is one profile */
    int functions;         /* draw FUNC records (one profile only, as the reference) */
    int flame;             /* as stacked bars by nesting level instead of brackets */
    int slope;             /* trend line and MiB/s per curve */
    int window;            /* restrict time to [t0, t1] seconds */
    double t0, t1;
    double scale;          /* 1: 1260x540 pixels (PNG), points (SVG, PDF) */
} mp_plot_opts_t;

/* Where the plot area landed and what it spans, in output pixels (PNG) or
 * points: for tests that check the curve is where the data says. */
typedef struct {
    double left, top, right, bottom;  /* plot area */
    double xmin, xmax, ymin, ymax;    /* seconds, MiB at its edges */
    int width, height;                /* whole picture */
} mp_plot_geometry_t;

/* The format named by path's extension (.png .svg .pdf, any case), or -1. */
int mp_plot_format_from_path(const char *path);

/* 1 if this build can draw (cairo was found), else 0. */
int mp_plot_available(void);

/* Draw and write the picture to fd. geom (optional) receives the layout.
 * Returns 0, or -1 with a one-line reason in err (and errno set when the
 * cause is a failed write). */
int mp_plot_render(const mp_plot_opts_t *o, mp_plot_format_t fmt, int fd,
                   mp_plot_geometry_t *geom, char *err, size_t errlen);

/* Release cairo's and fontconfig's process-wide caches (fonts, patterns),
 * so leak checkers see a clean exit. Call once, after the last render. */
void mp_plot_release(void);

#endif
