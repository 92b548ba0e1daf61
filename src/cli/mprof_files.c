/* mprof list / rm / clean / peak, and finding data files by name or index. */
#include "mprof.h"

#include "mp_datafile.h"

#include <errno.h>
#include <glob.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PROFILE_GLOB "mprofile_??????????????.dat"

int mprof_list_profiles(char ***names, size_t *n)
{
    glob_t g;
    *names = NULL;
    *n = 0;
    int rc = glob(PROFILE_GLOB, 0, NULL, &g); /* glob sorts */
    if (rc == GLOB_NOMATCH) {
        return 0;
    }
    if (rc != 0) {
        errno = ENOMEM;
        return -1;
    }
    char **out = calloc(g.gl_pathc ? g.gl_pathc : 1, sizeof(char *));
    if (out == NULL) {
        globfree(&g);
        errno = ENOMEM;
        return -1;
    }
    for (size_t i = 0; i < g.gl_pathc; i++) {
        out[i] = strdup(g.gl_pathv[i]);
        if (out[i] == NULL) {
            mprof_free_names(out, i);
            globfree(&g);
            errno = ENOMEM;
            return -1;
        }
    }
    *names = out;
    *n = g.gl_pathc;
    globfree(&g);
    return 0;
}

void mprof_free_names(char **names, size_t n)
{
    if (names == NULL) {
        return;
    }
    for (size_t i = 0; i < n; i++) {
        free(names[i]);
    }
    free(names);
}

static int contains(char **names, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(names[i], s) == 0) {
            return 1;
        }
    }
    return 0;
}

/* An index argument (Python style: -1 is the newest) into profiles[]. */
static int parse_index(const char *arg, size_t n, size_t *out)
{
    char *end = NULL;
    errno = 0;
    long v = strtol(arg, &end, 10);
    if (end == arg || *end != '\0' || errno) {
        return -1;
    }
    if (v < 0) {
        v += (long)n;
    }
    if (v < 0 || (size_t)v >= n) {
        return -2;
    }
    *out = (size_t)v;
    return 0;
}

static int add_name(char ***list, size_t *n, const char *s)
{
    if (contains(*list, *n, s)) {
        return 0;
    }
    char **grown = realloc(*list, (*n + 1) * sizeof(char *));
    if (grown == NULL) {
        return -1;
    }
    *list = grown;
    grown[*n] = strdup(s);
    if (grown[*n] == NULL) {
        return -1;
    }
    (*n)++;
    return 0;
}

/* rm: files or indices, as the reference resolves them (plus legacy
 * "<name>_ts.dat" companions). Returns 0 or an exit code. */
static int resolve_for_rm(int nargs, char **args, char ***files, size_t *nfiles)
{
    char **profiles;
    size_t np;
    *files = NULL;
    *nfiles = 0;
    if (mprof_list_profiles(&profiles, &np) < 0) {
        mprof_error("rm", "cannot list the current folder: %s", strerror(errno));
        return MPROF_EINPUT;
    }
    int rc = MPROF_OK;
    for (int i = 0; i < nargs && rc == MPROF_OK; i++) {
        size_t ix;
        struct stat st;
        int r = parse_index(args[i], np, &ix);
        if (r == 0) {
            rc = add_name(files, nfiles, profiles[ix]) < 0 ? MPROF_EINPUT : MPROF_OK;
        } else if (r == -2) {
            mprof_error("rm", "Invalid index (non-existing file): %s", args[i]);
            rc = MPROF_EINPUT;
        } else if (stat(args[i], &st) == 0 && S_ISDIR(st.st_mode)) {
            mprof_error("rm", "Path %s is a directory", args[i]);
            rc = MPROF_EINPUT;
        } else if (stat(args[i], &st) == 0) {
            rc = add_name(files, nfiles, args[i]) < 0 ? MPROF_EINPUT : MPROF_OK;
        } else {
            mprof_error("rm", "File %s not found", args[i]);
            rc = MPROF_EINPUT;
        }
    }
    for (size_t i = *nfiles; rc == MPROF_OK && i-- > 0;) {
        char ts[4096];
        const char *dot = strrchr((*files)[i], '.');
        size_t stem = dot ? (size_t)(dot - (*files)[i]) : strlen((*files)[i]);
        snprintf(ts, sizeof(ts), "%.*s_ts%s", (int)stem, (*files)[i], dot ? dot : "");
        if (access(ts, F_OK) == 0 && add_name(files, nfiles, ts) < 0) {
            rc = MPROF_EINPUT;
        }
    }
    mprof_free_names(profiles, np);
    return rc;
}

static int no_arguments(const char *cmd, int argc, char **argv, int *dry_run)
{
    static const mprof_opt_t opts[] = {
        {"dry-run", 0, 0, 1}, {"help", 'h', 0, 2}, {"version", 0, 0, 3}, {NULL, 0, 0, 0}};
    mprof_optparse_t p;
    int id;
    mprof_opt_init(&p, argc, argv, 2, opts, 0);
    while ((id = mprof_opt_next(&p)) != MPROF_OPT_END) {
        if (id == MPROF_OPT_ERROR || id == MPROF_OPT_POSITIONAL || (id == 1 && dry_run == NULL)) {
            mprof_error(cmd, "%s", id == MPROF_OPT_ERROR ? p.err : "this command takes no argument");
            return MPROF_EUSAGE;
        }
        if (id == 1) {
            *dry_run = 1;
        } else if (id == 2) {
            printf("usage: mprof %s%s\nThis command takes no argument.\n", cmd,
                   dry_run ? " [--dry-run]" : "");
            return -1;
        } else {
            printf("%s\n", MP_VERSION);
            return -1;
        }
    }
    return MPROF_OK;
}

int mprof_list_main(int argc, char **argv)
{
    char **names;
    size_t n;
    int rc = no_arguments("list", argc, argv, NULL);
    if (rc != MPROF_OK) {
        return rc < 0 ? MPROF_OK : rc;
    }
    if (mprof_list_profiles(&names, &n) < 0) {
        mprof_error("list", "cannot list the current folder: %s", strerror(errno));
        return MPROF_EINPUT;
    }
    for (size_t i = 0; i < n; i++) {
        const char *ts = names[i] + strlen("mprofile_");
        printf("%zu %s %.2s:%.2s:%.2s %.2s/%.2s/%.4s\n", i, names[i], ts + 8, ts + 10, ts + 12,
               ts + 6, ts + 4, ts);
    }
    mprof_free_names(names, n);
    return MPROF_OK;
}

static int remove_files(const char *cmd, char **files, size_t n, int dry_run)
{
    int rc = MPROF_OK;
    if (dry_run) {
        printf("Files to be removed: \n");
    }
    for (size_t i = 0; i < n; i++) {
        if (dry_run) {
            printf("%s\n", files[i]);
        } else if (unlink(files[i]) < 0) {
            mprof_error(cmd, "cannot remove %s: %s", files[i], strerror(errno));
            rc = MPROF_EOUTPUT;
        }
    }
    return rc;
}

int mprof_clean_main(int argc, char **argv)
{
    int dry_run = 0;
    char **names;
    size_t n;
    int rc = no_arguments("clean", argc, argv, &dry_run);
    if (rc != MPROF_OK) {
        return rc < 0 ? MPROF_OK : rc;
    }
    if (mprof_list_profiles(&names, &n) < 0) {
        mprof_error("clean", "cannot list the current folder: %s", strerror(errno));
        return MPROF_EINPUT;
    }
    rc = remove_files("clean", names, n, dry_run);
    mprof_free_names(names, n);
    return rc;
}

/* Options then positionals for rm/peak; fills args[] with the positionals. */
static int collect(const char *cmd, int argc, char **argv, const mprof_opt_t *opts,
                   char **args, int *nargs, int (*on_opt)(int id, const char *value, void *ctx),
                   void *ctx)
{
    mprof_optparse_t p;
    int id;
    *nargs = 0;
    mprof_opt_init(&p, argc, argv, 2, opts, 0);
    while ((id = mprof_opt_next(&p)) != MPROF_OPT_END) {
        if (id == MPROF_OPT_ERROR) {
            mprof_error(cmd, "%s", p.err);
            return MPROF_EUSAGE;
        }
        if (id == MPROF_OPT_POSITIONAL) {
            args[(*nargs)++] = (char *)p.value;
            continue;
        }
        int rc = on_opt(id, p.value, ctx);
        if (rc != MPROF_OK) {
            return rc;
        }
    }
    return MPROF_OK;
}

enum { OPT_DRY = 1, OPT_HELP, OPT_VERSION, OPT_FUNC };

typedef struct {
    int dry_run;
    const char *func;
    int done;
} files_ctx_t;

static int files_opt(int id, const char *value, void *vctx)
{
    files_ctx_t *c = vctx;
    switch (id) {
    case OPT_DRY:
        c->dry_run = 1;
        return MPROF_OK;
    case OPT_FUNC:
        c->func = value;
        return MPROF_OK;
    case OPT_HELP:
        printf("usage: mprof rm [--dry-run] numbers_or_filenames...\n"
               "       mprof peak [--func NAME] [file.dat or index...]\n");
        c->done = 1;
        return -1;
    default:
        printf("%s\n", MP_VERSION);
        c->done = 1;
        return -1;
    }
}

int mprof_rm_main(int argc, char **argv)
{
    static const mprof_opt_t opts[] = {{"dry-run", 0, 0, OPT_DRY},
                                       {"help", 'h', 0, OPT_HELP},
                                       {"version", 0, 0, OPT_VERSION},
                                       {NULL, 0, 0, 0}};
    files_ctx_t ctx = {0, NULL, 0};
    char **args = calloc((size_t)argc + 1, sizeof(char *));
    char **files = NULL;
    size_t nfiles = 0;
    int nargs = 0;
    if (args == NULL) {
        return MPROF_EINPUT;
    }
    int rc = collect("rm", argc, argv, opts, args, &nargs, files_opt, &ctx);
    if (ctx.done) {
        rc = MPROF_OK;
    } else if (rc == MPROF_OK && nargs == 0) {
        printf("A profile to remove must be provided (number or filename)\n");
        rc = MPROF_EMISSING;
    } else if (rc == MPROF_OK) {
        rc = resolve_for_rm(nargs, args, &files, &nfiles);
        if (rc == MPROF_OK) {
            rc = remove_files("rm", files, nfiles, ctx.dry_run);
        }
    }
    mprof_free_names(files, nfiles);
    free(args);
    return rc;
}

int mprof_resolve_profiles(const char *cmd, int nargs, char **args, char ***files, size_t *n)
{
    char **profiles;
    size_t np;
    (void)cmd;
    *files = NULL;
    *n = 0;
    if (mprof_list_profiles(&profiles, &np) < 0) {
        mprof_error(cmd, "cannot list the current folder: %s", strerror(errno));
        return MPROF_EINPUT;
    }
    int rc = MPROF_OK;
    if (nargs == 0) {
        if (np == 0) {
            printf("No input file found. \nThis program looks for mprofile_*.dat files, "
                   "generated by the 'mprof run' command.\n");
            rc = MPROF_NOFILES;
        } else {
            printf("Using last profile data.\n");
            rc = add_name(files, n, profiles[np - 1]) < 0 ? MPROF_EINPUT : MPROF_OK;
        }
    }
    for (int i = 0; i < nargs && rc == MPROF_OK; i++) {
        size_t ix;
        if (access(args[i], F_OK) == 0) {
            rc = add_name(files, n, args[i]) < 0 ? MPROF_EINPUT : MPROF_OK;
        } else if (parse_index(args[i], np, &ix) == 0) {
            rc = add_name(files, n, profiles[ix]) < 0 ? MPROF_EINPUT : MPROF_OK;
        } else {
            printf("Input file not found: %s\n", args[i]);
        }
    }
    if (rc == MPROF_OK && *n == 0) {
        printf("No files found from given input.\n");
        rc = MPROF_NOFILES;
    }
    mprof_free_names(profiles, np);
    if (rc != MPROF_OK) {
        mprof_free_names(*files, *n);
        *files = NULL;
        *n = 0;
    }
    return rc;
}

/* Index of func among p's names, or p->nnames. */
static size_t func_index(const mp_profile_t *p, const char *func)
{
    size_t k;
    for (k = 0; k < p->nnames; k++) {
        if (strcmp(p->names[k], func) == 0) {
            break;
        }
    }
    return k;
}

/* Highest sample of s in [a, b], moving *i forward (intervals come in
 * increasing, disjoint order, so the whole sweep is linear). */
static double interval_peak(const mp_series_t *s, size_t *i, double a, double b, double best)
{
    while (*i < s->n && s->t[*i] < a) {
        (*i)++;
    }
    for (; *i < s->n && s->t[*i] <= b; (*i)++) {
        if (isnan(best) || s->mib[*i] > best) {
            best = s->mib[*i];
        }
    }
    return best;
}

/* Peak of the samples of s taken while a call of name k was running (NaN if
 * it never ran or no sample fell inside one). Calls are sorted by start: the
 * overlapping ones (recursion, nesting) are merged, then one sweep over s,
 * so calls x samples never multiply. */
static double calls_peak(const mp_profile_t *p, size_t k, const mp_series_t *s)
{
    double best = NAN, a = 0, b = 0;
    int open = 0;
    size_t i = 0;
    for (size_t c = 0; c < p->ncalls; c++) {
        const mp_call_t *call = &p->calls[c];
        if (call->name != k) {
            continue;
        }
        if (open && call->t0 <= b) {
            b = call->t1 > b ? call->t1 : b;
            continue;
        }
        if (open) {
            best = interval_peak(s, &i, a, b, best);
        }
        a = call->t0;
        b = call->t1;
        open = 1;
    }
    if (open) {
        best = interval_peak(s, &i, a, b, best);
    }
    return best;
}

int mprof_peak_main(int argc, char **argv)
{
    static const mprof_opt_t opts[] = {{"func", 0, 1, OPT_FUNC},
                                       {"help", 'h', 0, OPT_HELP},
                                       {"version", 0, 0, OPT_VERSION},
                                       {NULL, 0, 0, 0}};
    files_ctx_t ctx = {0, NULL, 0};
    char **args = calloc((size_t)argc + 1, sizeof(char *));
    char **files = NULL;
    size_t nfiles = 0;
    int nargs = 0;
    if (args == NULL) {
        return MPROF_EINPUT;
    }
    int rc = collect("peak", argc, argv, opts, args, &nargs, files_opt, &ctx);
    if (ctx.done) {
        free(args);
        return MPROF_OK;
    }
    if (rc == MPROF_OK) {
        rc = mprof_resolve_profiles("peak", nargs, args, &files, &nfiles);
    }
    for (size_t i = 0; rc == MPROF_OK && i < nfiles; i++) {
        mp_profile_t prof;
        if (mp_profile_read(files[i], &prof) < 0) {
            mprof_error("peak", "cannot read %s: %s", files[i], mp_profile_strerror(errno));
            rc = MPROF_EINPUT;
            break;
        }
        size_t k = ctx.func ? func_index(&prof, ctx.func) : 0;
        double peak = ctx.func ? calls_peak(&prof, k, &prof.mem) : mp_series_max(&prof.mem);
        if (prof.mem.n == 0) {
            mprof_error("peak", "%s holds no memory samples", files[i]);
            rc = MPROF_EINPUT;
        } else if (ctx.func != NULL && k == prof.nnames) {
            mprof_error("peak", "%s holds no call of %s", files[i], ctx.func);
            rc = MPROF_EINPUT;
        } else if (isnan(peak)) {
            mprof_error("peak", "%s holds no sample taken during a call of %s", files[i],
                        ctx.func);
            rc = MPROF_EINPUT;
        } else {
            printf("%s\t%s MiB\n", files[i], mprof_mib(peak).s);
            for (size_t c = 0; c < prof.nchildren; c++) {
                const mp_series_t *cs = &prof.children[c].s;
                double cp = ctx.func ? calls_peak(&prof, k, cs) : mp_series_max(cs);
                if (!isnan(cp)) {
                    printf("  Child %ld\t\t\t%s MiB\n", prof.children[c].pid, mprof_mib(cp).s);
                }
            }
        }
        mp_profile_free(&prof);
    }
    mprof_free_names(files, nfiles);
    free(args);
    return rc;
}
