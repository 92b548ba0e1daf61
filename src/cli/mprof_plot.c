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

enum { P_TITLE = 1, P_NOFUNC, P_OUTPUT, P_WINDOW, P_FLAME, P_SLOPE, P_BACKEND, P_DPI, P_SCALE,
       P_HELP, P_VERSION };

static const mprof_opt_t plot_opts[] = {
    {"title", 't', 1, P_TITLE},     {"no-function-ts", 'n', 0, P_NOFUNC},
    {"output", 'o', 1, P_OUTPUT},   {"window", 'w', 1, P_WINDOW},
    {"flame", 'f', 0, P_FLAME},     {"slope", 's', 0, P_SLOPE},
    {"backend", 0, 1, P_BACKEND},   {"dpi", 0, 1, P_DPI},
    {"scale", 0, 1, P_SCALE},       {"help", 'h', 0, P_HELP},
    {"version", 0, 0, P_VERSION},   {NULL, 0, 0, 0},
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

int mprof_plot_main(int argc, char **argv)
{
    mp_plot_opts_t o;
    mprof_optparse_t p;
    const char *output = NULL;
    char **args = calloc((size_t)argc + 1, sizeof(char *));
    char **files = NULL;
    size_t nfiles = 0;
    mp_profile_t *profs = NULL;
    size_t nprofs = 0;
    char defpath[PATH_MAX];
    int nargs = 0, id, rc = MPROF_OK;
    double dpi = 90;
    memset(&o, 0, sizeof(o));
    o.functions = 1;
    o.scale = 1;
    if (args == NULL) {
        return MPROF_EINPUT;
    }
    mprof_opt_init(&p, argc, argv, 2, plot_opts, 0);
    while (rc == MPROF_OK && (id = mprof_opt_next(&p)) != MPROF_OPT_END) {
        switch (id) {
        case MPROF_OPT_ERROR:
            mprof_error("plot", "%s", p.err);
            rc = MPROF_EUSAGE;
            break;
        case MPROF_OPT_POSITIONAL: args[nargs++] = (char *)p.value; break;
        case P_TITLE: o.title = p.value; break;
        case P_NOFUNC: o.functions = 0; break;
        case P_OUTPUT: output = p.value; break;
        case P_FLAME: o.flame = 1; break;
        case P_SLOPE: o.slope = 1; break;
        case P_BACKEND: break; /* the reference's matplotlib backend: nothing to choose here */
        case P_WINDOW:
            if (parse_window(p.value, &o.t0, &o.t1) < 0) {
                mprof_error("plot", "'%s' option must contain two numbers separated with a comma "
                                    "(T0,T1 with T0 < T1)", p.value);
                rc = MPROF_EUSAGE;
            }
            o.window = 1;
            break;
        case P_DPI:
        case P_SCALE: {
            double v;
            if (mprof_parse_seconds(p.value, &v) < 0 || v <= 0 || (id == P_DPI ? v > 1200 : v > 12)) {
                mprof_error("plot", "argument --%s: invalid value '%s'", id == P_DPI ? "dpi" : "scale",
                            p.value);
                rc = MPROF_EUSAGE;
            } else if (id == P_DPI) {
                dpi = v;
            } else {
                o.scale = v;
            }
            break;
        }
        case P_HELP:
            plot_usage();
            free(args);
            return MPROF_OK;
        default:
            printf("%s\n", MP_VERSION);
            free(args);
            return MPROF_OK;
        }
    }
    o.scale *= dpi / 90.0;
    int fmt = MP_PLOT_PNG;
    char named[4096];
    if (rc == MPROF_OK && output != NULL && !has_extension(output)) {
        /* As the reference's matplotlib did: no extension means PNG, added. */
        if (snprintf(named, sizeof(named), "%s.png", output) >= (int)sizeof(named)) {
            mprof_error("plot", "output path too long: %s", output);
            rc = MPROF_EUSAGE;
        }
        output = named;
    }
    if (rc == MPROF_OK && output != NULL && (fmt = mp_plot_format_from_path(output)) < 0) {
        mprof_error("plot", "unknown picture format for %s (use .png, .svg or .pdf)", output);
        rc = MPROF_EUSAGE;
    }
    if (rc == MPROF_OK && !mp_plot_available()) {
        mprof_error("plot", "this mprof was built without cairo (install libcairo2-dev and rebuild)");
        rc = MPROF_EUSAGE;
    }
    if (rc == MPROF_OK) {
        rc = mprof_resolve_profiles("plot", nargs, args, &files, &nfiles);
    }
    if (rc == MPROF_OK) {
        profs = calloc(nfiles, sizeof(mp_profile_t));
        rc = profs ? MPROF_OK : MPROF_EINPUT;
    }
    for (size_t i = 0; rc == MPROF_OK && i < nfiles; i++) {
        if (mp_profile_read(files[i], &profs[i]) < 0) {
            mprof_error("plot", "cannot read %s: %s", files[i], mp_profile_strerror(errno));
            rc = MPROF_EINPUT;
            break;
        }
        nprofs++;
        if (profs[i].mem.n == 0) {
            mprof_error("plot", "no memory samples in %s (empty, or not an mprof data file)", files[i]);
            rc = MPROF_EINPUT;
        }
    }
    if (rc == MPROF_OK) {
        if (output == NULL) {
            snprintf(defpath, sizeof(defpath), "%s.png", files[0]);
            output = defpath;
        }
        o.profiles = profs;
        o.nprofiles = nprofs;
        if (nprofs > 1) {
            o.functions = 0; /* as the reference: calls only for a single file */
        }
        rc = write_picture(&o, fmt, output);
        if (rc == MPROF_OK) {
            printf("%s\n", output);
        }
    }
    for (size_t i = 0; i < nprofs; i++) {
        mp_profile_free(&profs[i]);
    }
    mp_plot_release();
    free(profs);
    mprof_free_names(files, nfiles);
    free(args);
    return rc;
}
