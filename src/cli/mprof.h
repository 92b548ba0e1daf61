/* mprof: the standalone command (no Python needed for non-Python targets).
 * Shared pieces of the subcommands: exit codes, messages, option parsing,
 * and finding data files by name or index. */
#ifndef MPROF_H
#define MPROF_H

#include <stddef.h>

#ifndef MP_VERSION
#define MP_VERSION "0.0.0"
#endif

/* Exit codes. Each error class has its own, so scripts can tell them apart;
 * 1 and 255 are the reference's own codes for the same situations. */
enum {
    MPROF_OK = 0,
    MPROF_EMISSING = 1,   /* no program / no file named (reference: 1) */
    MPROF_EUSAGE = 2,     /* unknown option, bad value */
    MPROF_ENOPROC = 3,    /* no such process, no process matches the name */
    MPROF_EPERM = 4,      /* the process exists but cannot be read */
    MPROF_EOUTPUT = 5,    /* the output file cannot be created or written */
    MPROF_EINPUT = 6,     /* a data file cannot be read, or holds no samples */
    MPROF_EOVER = 7,      /* diff: a line or function grew past a limit */
    MPROF_ECANTEXEC = 126,/* the program exists but cannot be executed */
    MPROF_ENOTFOUND = 127,/* the program was not found */
    MPROF_NOFILES = 255,  /* no mprofile_*.dat here (reference: exit(-1)) */
};

/* "mprof <cmd>: error: <message>" on stderr, one line. */
void mprof_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---------------------------------------------------------- options */

typedef struct {
    const char *name;    /* long name without "--", or NULL */
    char short_name;     /* 0 if none */
    int takes_value;
    int id;              /* > 0 */
} mprof_opt_t;

typedef struct {
    int argc;
    char **argv;
    int index;                 /* next argv element to look at */
    const mprof_opt_t *opts;   /* terminated by an entry with id 0 */
    int remainder;             /* the first positional ends option parsing */
    const char *value;         /* the option's value, or the positional */
    const char *bundle;        /* rest of a bundle of short flags (-CE) */
    int only_positionals;      /* after "--" */
    char err[256];
} mprof_optparse_t;

#define MPROF_OPT_END 0        /* no more arguments */
#define MPROF_OPT_POSITIONAL (-1)
#define MPROF_OPT_ERROR (-2)

/* Start parsing argv[first..argc). */
void mprof_opt_init(mprof_optparse_t *p, int argc, char **argv, int first,
                    const mprof_opt_t *opts, int remainder);

/* The next option's id (its value, if any, in p->value), MPROF_OPT_POSITIONAL
 * (p->value is the argument; with remainder set, p->index then points just
 * past it and parsing is over), MPROF_OPT_END, or MPROF_OPT_ERROR with a
 * message in p->err. Long options may be abbreviated to a unique prefix and
 * written --name=value; short ones bundled (-CE) or glued (-T0.5). A lone
 * negative number ("-1", an index) is a positional. */
int mprof_opt_next(mprof_optparse_t *p);

/* Parse a non-negative finite number with nothing after it. 0 or -1. */
int mprof_parse_seconds(const char *s, double *out);

/* A MiB figure for people: "%.3f", or "%.6g" past 10^12 (a damaged file's
 * 1e308 never prints as 309 digits). */
typedef struct {
    char s[40];
} mprof_mib_t;
mprof_mib_t mprof_mib(double v);

/* Python's repr of a float (so "0.1" prints as the reference prints it). */
void mprof_float_repr(char *out, size_t cap, double v);

/* ---------------------------------------------------------- data files */

/* The mprofile_??????????????.dat files of the current folder, sorted (so
 * oldest first). *names is malloc'd (free with mprof_free_names). */
int mprof_list_profiles(char ***names, size_t *n);
void mprof_free_names(char **names, size_t n);

/* Resolve the arguments of peak/plot (files or indices; none = the last
 * profile) into *files. Prints the reference's messages; returns 0 or an
 * exit code. */
int mprof_resolve_profiles(const char *cmd, int nargs, char **args, char ***files, size_t *n);

/* ---------------------------------------------------------- subcommands */
int mprof_run_main(int argc, char **argv, int attach);
int mprof_list_main(int argc, char **argv);
int mprof_rm_main(int argc, char **argv);
int mprof_clean_main(int argc, char **argv);
int mprof_peak_main(int argc, char **argv);
int mprof_plot_main(int argc, char **argv);
int mprof_diff_main(int argc, char **argv);

#endif
