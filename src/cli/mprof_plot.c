/* mprof plot: read data files, draw them with mp_plot, write the picture
 * atomically (a temporary file renamed into place, so a failure never leaves
 * a partial picture behind). */
#include "mprof.h"

#include "mp_datafile.h"
#include "mp_plot.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum { OPT_TITLE = 1, OPT_NOFUNC, OPT_OUTPUT, OPT_WINDOW, OPT_FLAME, OPT_SLOPE, OPT_BACKEND,
       OPT_DPI, OPT_SCALE, OPT_HELP, OPT_VERSION };

static const mprof_opt_t plot_opts[] = {
    {"title", 't', 1, OPT_TITLE},     {"no-function-ts", 'n', 0, OPT_NOFUNC},
    {"output", 'o', 1, OPT_OUTPUT},   {"window", 'w', 1, OPT_WINDOW},
    {"flame", 'f', 0, OPT_FLAME},     {"slope", 's', 0, OPT_SLOPE},
    {"backend", 0, 1, OPT_BACKEND},   {"dpi", 0, 1, OPT_DPI},
    {"scale", 0, 1, OPT_SCALE},       {"help", 'h', 0, OPT_HELP},
    {"version", 0, 0, OPT_VERSION},   {NULL, 0, 0, 0},
};

static void plot_usage(void)
{
    printf("usage: mprof plot [options] [file.dat or index...]\n"
           "\n"
           "Draws the data files (default: the newest mprofile_*.dat here) into a PNG, SVG\n"
           "or PDF picture, chosen by the output's extension.\n"
           "\n"
           "  -o, --output FILE     picture to write (default: <first data file>.png;\n"
           "                        no extension: .png is added)\n"
           "  -t, --title TEXT      title (default: the command line of a single file)\n"
           "  -n, --no-function-ts  do not draw function calls (FUNC records)\n"
           "  -f, --flame           draw calls as bars by nesting level, names inside\n"
           "  -s, --slope           trend lines, slopes in MiB/s in the legend\n"
           "  -w, --window T0,T1    only the time between T0 and T1 seconds\n"
           "  --dpi N               resolution (90 = 1260x540, the default)\n"
           "  --scale F             size factor (2 = 2520x1080)\n");
}

static int parse_window(const char *s, double *t0, double *t1)
{
    char buf[128];
    snprintf(buf, sizeof(buf), "%s", s);
    char *comma = strchr(buf, ',');
    if (comma == NULL) {
        return -1;
    }
    *comma = '\0';
    char *e0 = NULL, *e1 = NULL;
    *t0 = strtod(buf, &e0);
    *t1 = strtod(comma + 1, &e1);
    if (e0 == buf || *e0 != '\0' || e1 == comma + 1 || *e1 != '\0' || !(*t1 > *t0)) {
        return -1;
    }
    return 0;
}

/* Write through a temporary file in the same folder, renamed over path at
 * the end. Created with the user's umask, never through a symlink. */
static int write_picture(const mp_plot_opts_t *o, int fmt, const char *path)
{
    char tmp[PATH_MAX];
    char err[256] = "";
    mp_plot_geometry_t g;
    if (snprintf(tmp, sizeof(tmp), "%s.tmp-XXXXXX", path) >= (int)sizeof(tmp)) {
        mprof_error("plot", "output path too long: %s", path);
        return MPROF_EOUTPUT;
    }
    int fd = mkstemp(tmp);
    if (fd < 0) {
        mprof_error("plot", "cannot write %s: %s", path, strerror(errno));
        return MPROF_EOUTPUT;
    }
    mode_t mask = umask(0);
    umask(mask);
    (void)fchmod(fd, 0666 & ~mask);
    int rc = mp_plot_render(o, (mp_plot_format_t)fmt, fd, &g, err, sizeof(err));
    int saved = errno;
    if (close(fd) < 0 && rc == 0) {
        rc = -1;
        saved = errno;
        snprintf(err, sizeof(err), "%s", strerror(saved));
    }
    if (rc == 0 && rename(tmp, path) < 0) {
        rc = -1;
        saved = errno;
        snprintf(err, sizeof(err), "%s", strerror(saved));
    }
    if (rc < 0) {
        unlink(tmp);
        mprof_error("plot", "cannot write %s: %s", path, err);
        return saved == ENOSYS || saved == 0 ? MPROF_EINPUT : MPROF_EOUTPUT;
    }
    if (getenv("MPROF_PLOT_GEOMETRY") != NULL) {
        fprintf(stderr, "geometry %d %d area %.3f %.3f %.3f %.3f x %.6f %.6f y %.6f %.6f\n", g.width,
                g.height, g.left, g.top, g.right, g.bottom, g.xmin, g.xmax, g.ymin, g.ymax);
    }
    return MPROF_OK;
}

/* A dot in the last path component, after its first character. */
static int has_extension(const char *path)
{
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    const char *dot = strrchr(base, '.');
    return dot != NULL && dot > base;
}

/* What the command line asks for. output points at argv, named or defpath
 * (NULL: next to the first data file); args holds the positional arguments
 * (the array owned, the strings argv's). */
typedef struct {
    mp_plot_opts_t o;
    const char *output;
    char **args;
    int nargs;
    double dpi;
    char named[4096];
    char defpath[PATH_MAX];
} plot_cmd_t;

/* One option's value into c. Returns MPROF_OK, or MPROF_EUSAGE (said). */
static int take_option(int id, const char *value, plot_cmd_t *c)
{
    switch (id) {
    case OPT_TITLE: c->o.title = value; break;
    case OPT_NOFUNC: c->o.functions = 0; break;
    case OPT_OUTPUT: c->output = value; break;
    case OPT_FLAME: c->o.flame = 1; break;
    case OPT_SLOPE: c->o.slope = 1; break;
    case OPT_BACKEND: break; /* the reference's matplotlib backend: nothing to choose here */
    case OPT_WINDOW:
        c->o.window = 1;
        if (parse_window(value, &c->o.t0, &c->o.t1) < 0) {
            mprof_error("plot", "'%s' option must contain two numbers separated with a comma "
                                "(T0,T1 with T0 < T1)", value);
            return MPROF_EUSAGE;
        }
        break;
    case OPT_DPI:
    case OPT_SCALE: {
        double v;
        if (mprof_parse_seconds(value, &v) < 0 || v <= 0 || (id == OPT_DPI ? v > 1200 : v > 12)) {
            mprof_error("plot", "argument --%s: invalid value '%s'", id == OPT_DPI ? "dpi" : "scale",
                        value);
            return MPROF_EUSAGE;
        }
        if (id == OPT_DPI) {
            c->dpi = v;
        } else {
            c->o.scale = v;
        }
        break;
    }
    default:
        break;
    }
    return MPROF_OK;
}

/* The options and arguments into c, stopping at the first error. Returns
 * -1 to go on, MPROF_OK after --help or --version, or MPROF_EUSAGE (said). */
static int parse_args(int argc, char **argv, plot_cmd_t *c)
{
    mprof_optparse_t p;
    int id, rc = MPROF_OK;
    mprof_opt_init(&p, argc, argv, 2, plot_opts, 0);
    while (rc == MPROF_OK && (id = mprof_opt_next(&p)) != MPROF_OPT_END) {
        switch (id) {
        case MPROF_OPT_ERROR:
            mprof_error("plot", "%s", p.err);
            rc = MPROF_EUSAGE;
            break;
        case MPROF_OPT_POSITIONAL: c->args[c->nargs++] = (char *)p.value; break;
        case OPT_HELP:
            plot_usage();
            return MPROF_OK;
        case OPT_VERSION:
            printf("%s\n", MP_VERSION);
            return MPROF_OK;
        default:
            rc = take_option(id, p.value, c);
            break;
        }
    }
    c->o.scale *= c->dpi / 90.0;
    return rc == MPROF_OK ? -1 : rc;
}

/* The picture's format from the output's extension (none: .png added, as
 * the reference's matplotlib did), and whether this mprof can draw at all.
 * Returns MPROF_OK, or MPROF_EUSAGE (said). */
static int choose_format(plot_cmd_t *c, int *fmt)
{
    if (c->output != NULL && !has_extension(c->output)) {
        if (snprintf(c->named, sizeof(c->named), "%s.png", c->output) >= (int)sizeof(c->named)) {
            mprof_error("plot", "output path too long: %s", c->output);
            return MPROF_EUSAGE;
        }
        c->output = c->named;
    }
    if (c->output != NULL && (*fmt = mp_plot_format_from_path(c->output)) < 0) {
        mprof_error("plot", "unknown picture format for %s (use .png, .svg or .pdf)", c->output);
        return MPROF_EUSAGE;
    }
    if (!mp_plot_available()) {
        mprof_error("plot", "this mprof was built without cairo (install libcairo2-dev and rebuild)");
        return MPROF_EUSAGE;
    }
    return MPROF_OK;
}

/* Reads the nfiles data files into *profs, stopping at the first that
 * cannot be read or holds no samples. *nprofs counts those read (to free,
 * whatever the result). Returns MPROF_OK, or MPROF_EINPUT. */
static int read_profiles(char **files, size_t nfiles, mp_profile_t **profs, size_t *nprofs)
{
    *profs = calloc(nfiles, sizeof(mp_profile_t));
    if (*profs == NULL) {
        return MPROF_EINPUT;
    }
    for (size_t i = 0; i < nfiles; i++) {
        if (mp_profile_read(files[i], &(*profs)[i]) < 0) {
            mprof_error("plot", "cannot read %s: %s", files[i], mp_profile_strerror(errno));
            return MPROF_EINPUT;
        }
        (*nprofs)++;
        if ((*profs)[i].mem.n == 0) {
            mprof_error("plot", "no memory samples in %s (empty, or not an mprof data file)", files[i]);
            return MPROF_EINPUT;
        }
    }
    return MPROF_OK;
}

/* Draws the profiles into c's output (default: <first file>.png) and
 * prints its path. Returns write_picture's code. */
static int draw_profiles(plot_cmd_t *c, int fmt, const char *first, mp_profile_t *profs,
                         size_t nprofs)
{
    if (c->output == NULL) {
        snprintf(c->defpath, sizeof(c->defpath), "%s.png", first);
        c->output = c->defpath;
    }
    c->o.profiles = profs;
    c->o.nprofiles = nprofs;
    if (nprofs > 1) {
        c->o.functions = 0; /* as the reference: calls only for a single file */
    }
    int rc = write_picture(&c->o, fmt, c->output);
    if (rc == MPROF_OK) {
        printf("%s\n", c->output);
    }
    return rc;
}

int mprof_plot_main(int argc, char **argv)
{
    plot_cmd_t c;
    char **files = NULL;
    size_t nfiles = 0;
    mp_profile_t *profs = NULL;
    size_t nprofs = 0;
    int fmt = MP_PLOT_PNG;
    memset(&c, 0, sizeof(c));
    c.o.functions = 1;
    c.o.scale = 1;
    c.dpi = 90;
    c.args = calloc((size_t)argc + 1, sizeof(char *));
    if (c.args == NULL) {
        return MPROF_EINPUT;
    }
    int rc = parse_args(argc, argv, &c);
    if (rc == MPROF_OK) { /* --help or --version: nothing else to do */
        free(c.args);
        return MPROF_OK;
    }
    if (rc < 0) {
        rc = choose_format(&c, &fmt);
    }
    if (rc == MPROF_OK) {
        rc = mprof_resolve_profiles("plot", c.nargs, c.args, &files, &nfiles);
    }
    if (rc == MPROF_OK) {
        rc = read_profiles(files, nfiles, &profs, &nprofs);
    }
    if (rc == MPROF_OK) {
        rc = draw_profiles(&c, fmt, files[0], profs, nprofs);
    }
    for (size_t i = 0; i < nprofs; i++) {
        mp_profile_free(&profs[i]);
    }
    mp_plot_release();
    free(profs);
    mprof_free_names(files, nfiles);
    free(c.args);
    return rc;
}
