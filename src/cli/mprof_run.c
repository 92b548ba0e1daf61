/* mprof run / mprof attach: sample a process's memory into a data file.
 *
 * One thread does everything: it samples on an absolute-deadline grid and
 * waits between samples in sigtimedwait(), with the signals it cares about
 * blocked. So the program's exit (SIGCHLD) and Ctrl-C end the wait at once,
 * with no handler races, and the signal's origin (terminal or kill) is known
 * from si_code. */
#include "mprof.h"

#include "mp_clock.h"
#include "mp_datafile.h"
#include "mp_meter.h"
#include "mp_proc.h"
#include "mp_tree.h"
#include "mp_units.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define NS 1000000000LL
#define FLUSH_NS (250 * 1000000LL)   /* data reaches the file 4 times a second */
#define SYNC_NS NS                   /* and is pushed towards the disk every second */
#define VIEW_NS (200 * 1000000LL)    /* live readout refresh */
#define HIST_BUCKET_NS 10000         /* --stats interval histogram: 10 us buckets */
#define HIST_BUCKETS 100000          /* up to 1 s */
#define ATTACH_TIMEOUT 3600.0        /* the reference's default when attaching */

enum {
    OPT_PYTHON = 1, OPT_NOPYTHON, OPT_INTERVAL, OPT_CHILDREN, OPT_MULTI, OPT_EXIT, OPT_ATTACH, OPT_TIMEOUT,
    OPT_OUTPUT, OPT_BACKEND, OPT_STATS, OPT_HELP, OPT_VERSION,
};

static const mprof_opt_t run_opts[] = {
    {"python", 0, 0, OPT_PYTHON},
    {"nopython", 0, 0, OPT_NOPYTHON},
    {"interval", 'T', 1, OPT_INTERVAL},
    {"include-children", 'C', 0, OPT_CHILDREN},
    {"multiprocess", 'M', 0, OPT_MULTI},
    {"exit-code", 'E', 0, OPT_EXIT},
    {"attach", 'a', 0, OPT_ATTACH},
    {"timeout", 't', 1, OPT_TIMEOUT},
    {"output", 'o', 1, OPT_OUTPUT},
    {"backend", 0, 1, OPT_BACKEND},
    {"stats", 0, 0, OPT_STATS},
    {"help", 'h', 0, OPT_HELP},
    {"version", 0, 0, OPT_VERSION},
    {NULL, 0, 0, 0},
};

typedef struct {
    int python, nopython, children, multiprocess, exit_code, attach, stats;
    double interval;
    double timeout;            /* seconds; <= 0: none */
    const char *interval_text; /* as given, for the banner */
    const char *output;
    char default_output[64];
    mp_backend_t backend;
    char **prog;
    int nprog;
} run_opts_t;

typedef struct {
    pid_t pid;
    int spawned;               /* our child (its status is ours to collect) */
    mp_pidmeter_t meter;
    mp_tree_t *tree;           /* the descendants, with -C or -M (else NULL) */
    mp_dfw_t *out;
    int tty;                   /* stderr is a terminal: live readout */
    size_t nsamples;
    double current, peak;      /* MiB */
    size_t nkids;
    uint32_t *hist;            /* --stats */
    int64_t last_ns, max_gap_ns;
    size_t late;               /* deadlines missed (the machine was busy) */
} session_t;

static void run_usage(void)
{
    printf("usage: mprof run [options] program [args...]\n"
           "       mprof attach [options] PID|NAME\n"
           "\n"
           "  program            an executable (run directly, no shell), or a .py script\n"
           "                     (run under memory_profiler --timestamp: @profile'd\n"
           "                     functions become FUNC records)\n"
           "  --python           treat the program as Python (python [script|module] ...)\n"
           "  --nopython         treat a .py program as a plain executable\n"
           "  -T, --interval S   sampling period in seconds (default 0.1, down to 0.001)\n"
           "  -C, --include-children  add the memory of all descendants to MEM\n"
           "  -M, --multiprocess also record each descendant as CHLD records\n"
           "  -E, --exit-code    exit with the program's status (128+N if killed by signal N)\n"
           "  -a, --attach       attach to an existing process, by pid or by name\n"
           "  -t, --timeout S    stop sampling after S seconds (attach: default 3600)\n"
           "  -o, --output FILE  data file (default mprofile_<YYYYMMDDhhmmss>.dat), appended to\n"
           "  --backend B        psutil (RSS, default), psutil_pss, psutil_uss, posix\n"
           "  --stats            print sampling statistics (count, intervals, CPU) at the end\n"
           "\n"
           "Exit codes: 0 done; 1 no program given; 2 bad option; 3 no such process;\n"
           "4 process not readable; 5 output file not writable; 126/127 program not\n"
           "executable/not found; with -E the program's status; 128+N when mprof was\n"
           "stopped by signal N.\n");
}

static int parse_run_options(int argc, char **argv, int attach, run_opts_t *o)
{
    mprof_optparse_t p;
    int id;
    memset(o, 0, sizeof(*o));
    o->interval = 0.1;
    o->interval_text = NULL;
    o->attach = attach;
    o->backend = MP_BACKEND_RSS;
    mprof_opt_init(&p, argc, argv, 2, run_opts, 1);
    const char *cmd = attach ? "attach" : "run";
    while ((id = mprof_opt_next(&p)) != MPROF_OPT_END) {
        int b;
        switch (id) {
        case MPROF_OPT_ERROR:
            mprof_error(cmd, "%s", p.err);
            return MPROF_EUSAGE;
        case MPROF_OPT_POSITIONAL:
            o->prog = &argv[p.index - 1];
            o->nprog = argc - (p.index - 1);
            return MPROF_OK;
        case OPT_PYTHON: o->python = 1; break;
        case OPT_NOPYTHON: o->nopython = 1; break;
        case OPT_CHILDREN: o->children = 1; break;
        case OPT_MULTI: o->multiprocess = 1; break;
        case OPT_EXIT: o->exit_code = 1; break;
        case OPT_ATTACH: o->attach = 1; break;
        case OPT_STATS: o->stats = 1; break;
        case OPT_OUTPUT: o->output = p.value; break;
        case OPT_INTERVAL:
            if (mprof_parse_seconds(p.value, &o->interval) < 0 || o->interval < 0.0001) {
                mprof_error(cmd, "argument --interval/-T: invalid value '%s' (seconds, at least 0.0001)",
                            p.value);
                return MPROF_EUSAGE;
            }
            break;
        case OPT_TIMEOUT:
            if (mprof_parse_seconds(p.value, &o->timeout) < 0 || o->timeout <= 0) {
                mprof_error(cmd, "argument --timeout/-t: invalid value '%s' (seconds)", p.value);
                return MPROF_EUSAGE;
            }
            break;
        case OPT_BACKEND:
            b = mp_backend_from_name(p.value);
            if (b < 0 || b == MP_BACKEND_HEAP) {
                mprof_error(cmd, "argument --backend: invalid choice '%s' (%s)", p.value,
                            b == MP_BACKEND_HEAP
                                ? "tracemalloc measures a Python heap from inside; use "
                                  "python -m memory_profiler --backend tracemalloc"
                                : "choose from psutil, psutil_pss, psutil_uss, posix");
                return MPROF_EUSAGE;
            }
            o->backend = (mp_backend_t)b;
            break;
        case OPT_HELP:
            run_usage();
            return -1;
        default:
            printf("%s\n", MP_VERSION);
            return -1;
        }
    }
    return MPROF_OK;
}

/* The interpreter for Python targets: $MPROF_PYTHON, else the python next to
 * this executable (a virtual environment's bin/, where make install puts
 * mprof), else python3 on PATH. */
static const char *find_python(char *buf, size_t cap)
{
    const char *env = getenv("MPROF_PYTHON");
    if (env != NULL && *env != '\0') {
        return env;
    }
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n > 0) {
        self[n] = '\0';
        char *slash = strrchr(self, '/');
        if (slash != NULL) {
            *slash = '\0';
            static const char *const names[] = {"python3", "python"};
            for (size_t i = 0; i < 2; i++) {
                int n2 = snprintf(buf, cap, "%.*s/%s", (int)(cap - 16), self, names[i]);
                if (n2 > 0 && (size_t)n2 < cap && access(buf, X_OK) == 0) {
                    return buf;
                }
            }
        }
    }
    return "python3";
}

static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* An interpreter's name: python, python3, python3.13, python3.13t, pypy3,
 * never a script that merely starts with "python" (python_job.py). */
static int looks_like_python(const char *exe)
{
    const char *base = strrchr(exe, '/');
    base = base ? base + 1 : exe;
    const char *rest;
    if (strncmp(base, "python", 6) == 0) {
        rest = base + 6;
    } else if (strncmp(base, "pypy", 4) == 0) {
        rest = base + 4;
    } else {
        return 0;
    }
    rest += strspn(rest, "0123456789.");
    if (*rest == 't' || *rest == 'd') {
        rest++;
    }
    return *rest == '\0' && !ends_with(base, ".");
}

/* Build argv for a Python target:
 *   python -m memory_profiler --timestamp -o FILE [--include-children]
 *          [--backend B] script-or-module args...
 * and the command line recorded in CMDLINE (interpreter + program + args). */
static char **python_argv(const run_opts_t *o, const char *python, char ***cmdv, int *cmdc)
{
    int explicit_interp = looks_like_python(o->prog[0]);
    int nuser = o->nprog - (explicit_interp ? 1 : 0);
    char **user = o->prog + (explicit_interp ? 1 : 0);
    const char *interp = explicit_interp ? o->prog[0] : python;
    char **argv = calloc((size_t)nuser + 12, sizeof(char *));
    char **cmd = calloc((size_t)nuser + 2, sizeof(char *));
    if (argv == NULL || cmd == NULL) {
        free(argv);
        free(cmd);
        return NULL;
    }
    int k = 0;
    argv[k++] = (char *)interp;
    argv[k++] = "-m";
    argv[k++] = "memory_profiler";
    argv[k++] = "--timestamp";
    argv[k++] = "-o";
    argv[k++] = (char *)o->output;
    if (o->children) {
        argv[k++] = "--include-children";
    }
    if (o->backend != MP_BACKEND_RSS) {
        argv[k++] = "--backend";
        argv[k++] = (char *)mp_backend_name(o->backend);
    }
    cmd[0] = (char *)interp;
    for (int i = 0; i < nuser; i++) {
        argv[k++] = user[i];
        cmd[i + 1] = user[i];
    }
    argv[k] = NULL;
    *cmdv = cmd;
    *cmdc = nuser + 1;
    return argv;
}

/* fork + execvp, no shell. Exec failures come back through a close-on-exec
 * pipe, so "not found" is reported by us, not by a half-started child. */
static pid_t spawn(char **argv, const sigset_t *child_mask, int *exec_errno)
{
    int pipefd[2];
    *exec_errno = 0;
    if (pipe2(pipefd, O_CLOEXEC) < 0) {
        *exec_errno = errno;
        return -1;
    }
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        *exec_errno = errno;
        close(pipefd[0]);
        close(pipefd[1]);
        return -1;
    }
    if (pid == 0) {
        close(pipefd[0]);
        signal(SIGPIPE, SIG_DFL); /* ignored in mprof only: the program gets its own */
        sigprocmask(SIG_SETMASK, child_mask, NULL);
        execvp(argv[0], argv);
        int e = errno;
        ssize_t w = write(pipefd[1], &e, sizeof(e));
        (void)w;
        _exit(MPROF_ENOTFOUND);
    }
    close(pipefd[1]);
    int e = 0;
    ssize_t r;
    do {
        r = read(pipefd[0], &e, sizeof(e));
    } while (r < 0 && errno == EINTR);
    close(pipefd[0]);
    if (r == (ssize_t)sizeof(e)) {
        int status;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
        *exec_errno = e;
        return -1;
    }
    return pid;
}

static double mib(int64_t bytes)
{
    return (double)bytes / MP_MIB;
}

/* Listing the descendants walks /proc/PID/task/TID/children of every process
 * in the tree, which costs far more than reading them, so at fast intervals
 * the list is refreshed every KIDS_RELIST_NS only (mp_tree). */
#define KIDS_RELIST_NS (10 * 1000000LL)

/* One sample: MEM (plus CHLD per descendant with -M). Sets *gone when the
 * process has ended. Returns 0, or -1 when the data file cannot be written. */
static int take_sample(session_t *s, const run_opts_t *o, int *gone)
{
    int64_t bytes = 0;
    double t = mp_clock_wall();
    if (mp_pidmeter_read(&s->meter, &bytes) < 0) {
        *gone = 1; /* ESRCH, or the process became unreadable while exiting */
        return 0;
    }
    if (s->tree != NULL) {
        int64_t kids = 0;
        s->nkids = mp_tree_sample(s->tree, mp_clock_mono_ns(), &kids);
        if (o->children) {
            bytes += kids;
        }
    }
    if (mp_dfw_mem(s->out, mib(bytes), t) < 0) {
        return -1;
    }
    for (size_t i = 0; o->multiprocess && i < s->nkids; i++) {
        if (mp_dfw_child(s->out, (long)mp_tree_pid(s->tree, i), mib(mp_tree_bytes(s->tree, i)),
                         t) < 0) {
            return -1;
        }
    }
    s->current = mib(bytes);
    if (s->nsamples == 0 || s->current > s->peak) {
        s->peak = s->current;
    }
    s->nsamples++;
    return 0;
}

static void note_interval(session_t *s, int64_t now)
{
    if (s->last_ns != 0) {
        int64_t gap = now - s->last_ns;
        if (gap > s->max_gap_ns) {
            s->max_gap_ns = gap;
        }
        if (s->hist != NULL) {
            int64_t b = gap / HIST_BUCKET_NS;
            s->hist[b < HIST_BUCKETS ? b : HIST_BUCKETS - 1]++;
        }
    }
    s->last_ns = now;
}

static void readout(const session_t *s, double elapsed)
{
    char children[32] = "";
    if (s->nkids > 0) {
        snprintf(children, sizeof(children), "  %zu child%s", s->nkids, s->nkids == 1 ? "" : "ren");
    }
    fprintf(stderr, "\r\033[Kmprof: %.1f s  %.1f MiB  peak %.1f MiB%s", elapsed, s->current,
            s->peak, children);
    fflush(stderr);
}

static double hist_quantile(const session_t *s, double q)
{
    uint64_t total = 0, acc = 0;
    for (size_t i = 0; i < HIST_BUCKETS; i++) {
        total += s->hist[i];
    }
    if (total == 0) {
        return NAN;
    }
    for (size_t i = 0; i < HIST_BUCKETS; i++) {
        acc += s->hist[i];
        if ((double)acc >= q * (double)total) {
            return ((double)i + 0.5) * HIST_BUCKET_NS / 1e6; /* bucket middle, ms */
        }
    }
    return NAN;
}

static void print_stats(const session_t *s, const run_opts_t *o, double elapsed)
{
    /* The scheduler's own count of our run time: precise, unlike the
     * tick-sampled user/system split of getrusage. */
    struct timespec ts;
    double cpu = 0;
    if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) == 0) {
        cpu = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
    }
    fprintf(stderr,
            "mprof: stats: %zu samples in %.3f s (interval %.3f ms): interval p50 %.3f ms, "
            "p99 %.3f ms, max %.3f ms, late %zu; CPU %.3f s = %.3f%% of one core\n",
            s->nsamples, elapsed, o->interval * 1e3, hist_quantile(s, 0.5), hist_quantile(s, 0.99),
            (double)s->max_gap_ns / 1e6, s->late, cpu, elapsed > 0 ? 100.0 * cpu / elapsed : 0.0);
}

/* Find the target of attach: a pid, or the lowest pid whose name contains
 * the hint. Returns 0 or an exit code (message printed). */
static int find_target(const char *cmd, const char *hint, pid_t *pid)
{
    char *end = NULL;
    long v = strtol(hint, &end, 10);
    if (*hint != '\0' && *end == '\0') {
        if (v <= 0 || v > INT_MAX) {
            mprof_error(cmd, "no process with pid %s", hint);
            return MPROF_ENOPROC;
        }
        *pid = (pid_t)v;
        return MPROF_OK;
    }
    if (mp_proc_find_by_name(MP_PROC_ROOT, hint, pid) < 0) {
        mprof_error(cmd, "no process found using hint: %s (give a pid or a process name)", hint);
        return MPROF_ENOPROC;
    }
    return MPROF_OK;
}

typedef struct {
    const sigset_t *watched;
    int stop_signal;         /* first stop signal received */
    int nstops;
    int exited;              /* the spawned program has been reaped */
    int child_signalled;     /* SIGCHLD seen (or not yet looked): try waitpid */
    int status;
} waiter_t;

/* React to one signal taken by sigtimedwait. */
static void handle_signal(waiter_t *w, session_t *s, int sig, const siginfo_t *si)
{
    if (sig == SIGCHLD) {
        w->child_signalled = 1; /* the caller reaps */
        return;
    }
    if (w->stop_signal == 0) {
        w->stop_signal = sig;
    }
    w->nstops++;
    if (!s->spawned) {
        return; /* attached: stop sampling, leave the process alone */
    }
    /* SIGINT comes from Ctrl-C or from kill on the process group: either way
     * the program got it too, and a second copy would interrupt its own
     * clean-up (a Python target writing its FUNC records). So SIGINT is only
     * passed on when it is repeated. SIGTERM, SIGHUP and SIGQUIT sent to mprof
     * alone (kill, si_code SI_USER) are passed on at once. A third stop
     * request kills a program that ignores the others. */
    if (w->nstops >= 3) {
        kill(s->pid, SIGKILL);
    } else if (sig == SIGINT ? w->nstops >= 2 : si->si_code <= 0) {
        kill(s->pid, sig);
    }
}

static void reap(waiter_t *w, session_t *s)
{
    if (s->spawned && !w->exited && w->child_signalled) {
        w->child_signalled = 0;
        pid_t r = waitpid(s->pid, &w->status, WNOHANG);
        if (r == s->pid) {
            w->exited = 1;
        }
    }
}

/* Wait until the monotonic deadline (or, deadline < 0, until the spawned
 * program exits), handling signals. Returns early when the program exits or
 * (attached) a stop signal arrives. */
static void wait_until(waiter_t *w, session_t *s, int64_t deadline)
{
    for (;;) {
        reap(w, s);
        if (w->exited || (!s->spawned && w->nstops > 0)) {
            return;
        }
        siginfo_t si;
        int sig;
        if (deadline < 0) {
            sig = sigwaitinfo(w->watched, &si);
        } else {
            int64_t left = deadline - mp_clock_mono_ns();
            if (left <= 0) {
                return;
            }
            struct timespec ts = {(time_t)(left / NS), (long)(left % NS)};
            sig = sigtimedwait(w->watched, &si, &ts);
        }
        if (sig > 0) {
            handle_signal(w, s, sig, &si);
        } else if (errno == EAGAIN && deadline >= 0) {
            return;
        }
    }
}

static int exit_status_code(int status)
{
    if (WIFEXITED(status)) {
        return WEXITSTATUS(status);
    }
    if (WIFSIGNALED(status)) {
        return 128 + WTERMSIG(status);
    }
    return 1;
}

/* Open the data file and write CMDLINE: failures are found before anything
 * runs. *created tells whether the file is new (removed again if the
 * program cannot start). */
static int open_output(const char *cmd, const run_opts_t *o, int cmdc, char **cmdv,
                       session_t *s, int *created)
{
    struct stat st;
    *created = lstat(o->output, &st) < 0;
    int chosen = o->output != o->default_output;
    s->out = chosen ? mp_dfw_open(o->output) : mp_dfw_open_default(o->output);
    if (s->out == NULL) {
        const char *why = errno == ELOOP    ? "it is a symbolic link (refusing to follow it)"
                          : errno == EPERM  ? "it exists and belongs to another user"
                                            : mp_profile_strerror(errno);
        mprof_error(cmd, "cannot write %s: %s", o->output, why);
        return MPROF_EOUTPUT;
    }
    if (mp_dfw_cmdline(s->out, cmdc, cmdv) < 0 || mp_dfw_flush(s->out) < 0) {
        mprof_error(cmd, "cannot write %s: %s", o->output, strerror(errno));
        mp_dfw_close(s->out);
        s->out = NULL;
        if (*created) {
            unlink(o->output);
        }
        return MPROF_EOUTPUT;
    }
    return MPROF_OK;
}

static int attach_meter(const char *cmd, const run_opts_t *o, session_t *s)
{
    if (mp_pidmeter_open(&s->meter, s->pid, o->backend) == 0) {
        int64_t bytes = 0;
        if (mp_pidmeter_read(&s->meter, &bytes) == 0) {
            return MPROF_OK;
        }
        /* A zombie (ended, not yet reaped) or a process ending right now:
         * nothing to sample, said before a data file is made. */
        mp_pidmeter_close(&s->meter);
        mprof_error(cmd, "process %d has ended (nothing left to sample)", (int)s->pid);
        return MPROF_ENOPROC;
    }
    if (errno == EACCES || errno == EPERM) {
        mprof_error(cmd, "cannot read the memory of process %d: %s", (int)s->pid, strerror(errno));
        return MPROF_EPERM;
    }
    mprof_error(cmd, "no process with pid %d", (int)s->pid);
    return MPROF_ENOPROC;
}

/* The sampling loop proper. Returns 0, or MPROF_EOUTPUT when the data file
 * could not be written (sampling stops; what was written stays readable). */
static int sample_loop(const run_opts_t *o, session_t *s, waiter_t *w, int64_t start,
                       int *timed_out)
{
    int64_t step = (int64_t)llround(o->interval * 1e9);
    int64_t next = start, last_flush = start, last_sync = start, last_view = start;
    int rc = MPROF_OK;
    for (;;) {
        int gone = 0;
        int64_t now = mp_clock_mono_ns();
        note_interval(s, now);
        if (take_sample(s, o, &gone) < 0 || (now - last_flush >= FLUSH_NS && mp_dfw_flush(s->out) < 0)) {
            rc = MPROF_EOUTPUT;
            break;
        }
        if (now - last_flush >= FLUSH_NS) {
            last_flush = now;
        }
        if (gone) {
            break;
        }
        if (now - last_sync >= SYNC_NS) {
            mp_dfw_writeback(s->out);
            last_sync = now;
        }
        if (s->tty && now - last_view >= VIEW_NS) {
            readout(s, (double)(now - start) / 1e9);
            last_view = now;
        }
        if (o->timeout > 0 && (double)(now - start) >= o->timeout * 1e9) {
            *timed_out = 1;
            break;
        }
        next += step;
        now = mp_clock_mono_ns();
        if (next <= now) {
            s->late++;
            next += ((now - next) / step + 1) * step;
        }
        wait_until(w, s, next);
        if (w->exited || (!s->spawned && w->nstops > 0)) {
            break;
        }
    }
    return rc;
}

/* What starting the program (or finding it) leaves for the rest of the run.
 * cmdv may point into procbuf (attach), child_argv into pybuf (run). */
typedef struct {
    char **child_argv;         /* run: the program's argv (malloc'd array) */
    char **cmdv;               /* the CMDLINE record (malloc'd array) */
    int cmdc;
    int created;               /* the data file is new (removed if the program cannot start) */
    char pybuf[PATH_MAX];
    char procbuf[8192];
} launch_t;

/* mprofile_<YYYYMMDDhhmmss>.dat, the reference's default, when -o is not
 * given. */
static void name_default_output(run_opts_t *o)
{
    if (o->output == NULL) {
        time_t now = time(NULL);
        struct tm tm;
        localtime_r(&now, &tm);
        strftime(o->default_output, sizeof(o->default_output), "mprofile_%Y%m%d%H%M%S.dat", &tm);
        o->output = o->default_output;
    }
}

/* Block the signals the wait loop takes with sigtimedwait (the program's
 * end, and the stop requests); *orig receives the mask to restore in the
 * program. */
static void watch_signals(sigset_t *watched, sigset_t *orig)
{
    sigemptyset(watched);
    sigaddset(watched, SIGINT);
    sigaddset(watched, SIGTERM);
    sigaddset(watched, SIGHUP);
    sigaddset(watched, SIGQUIT);
    sigaddset(watched, SIGCHLD);
    sigprocmask(SIG_BLOCK, watched, orig);
    /* A data file that is a pipe whose reader left must give EPIPE (exit 5,
     * samples so far kept), not kill mprof. */
    signal(SIGPIPE, SIG_IGN);
}

/* mprof attach: find the process, open its meter, record its command line
 * (the hint as given when it cannot be read) and open the data file.
 * MPROF_OK, or an exit code (message printed). */
static int start_attached(const char *cmd, run_opts_t *o, session_t *s, launch_t *l)
{
    printf("attaching to existing process, using hint: %s\n", o->prog[0]);
    fflush(stdout);
    int rc = find_target(cmd, o->prog[0], &s->pid);
    if (rc == MPROF_OK) {
        rc = attach_meter(cmd, o, s);
    }
    if (rc != MPROF_OK) {
        return rc;
    }
    if (mp_proc_cmdline(MP_PROC_ROOT, s->pid, l->procbuf, sizeof(l->procbuf), &l->cmdc) == 0
        && l->cmdc > 0) {
        l->cmdv = calloc((size_t)l->cmdc + 1, sizeof(char *));
        char *q = l->procbuf;
        for (int i = 0; l->cmdv != NULL && i < l->cmdc; i++) {
            l->cmdv[i] = q;
            q += strlen(q) + 1;
        }
    }
    if (l->cmdv == NULL) {
        l->cmdc = o->nprog;
        l->cmdv = calloc((size_t)l->cmdc + 1, sizeof(char *));
        for (int i = 0; l->cmdv != NULL && i < l->cmdc; i++) {
            l->cmdv[i] = o->prog[i];
        }
    }
    if (o->timeout <= 0) {
        o->timeout = ATTACH_TIMEOUT;
    }
    return l->cmdv ? open_output(cmd, o, l->cmdc, l->cmdv, s, &l->created) : MPROF_EOUTPUT;
}

/* mprof run: build the program's argv (under memory_profiler for a Python
 * target), open the data file, start the program with the original signal
 * mask. MPROF_OK once it runs, or an exit code (message printed; a data file
 * created for it is removed again). */
static int start_spawned(const char *cmd, const run_opts_t *o, session_t *s, waiter_t *w,
                         const sigset_t *child_mask, launch_t *l)
{
    printf("running new process\n");
    int python = o->python || (ends_with(o->prog[0], ".py") && !o->nopython);
    if (python) {
        printf("running as a Python program...\n");
        l->child_argv = python_argv(o, find_python(l->pybuf, sizeof(l->pybuf)), &l->cmdv, &l->cmdc);
    } else {
        l->child_argv = calloc((size_t)o->nprog + 1, sizeof(char *));
        l->cmdv = calloc((size_t)o->nprog + 1, sizeof(char *));
        for (int i = 0; l->child_argv && l->cmdv && i < o->nprog; i++) {
            l->child_argv[i] = l->cmdv[i] = o->prog[i];
        }
        l->cmdc = o->nprog;
    }
    if (l->child_argv == NULL || l->cmdv == NULL) {
        mprof_error(cmd, "out of memory");
        return MPROF_EOUTPUT;
    }
    int rc = open_output(cmd, o, l->cmdc, l->cmdv, s, &l->created);
    if (rc != MPROF_OK) {
        return rc;
    }
    int exec_errno = 0;
    s->pid = spawn(l->child_argv, child_mask, &exec_errno);
    if (s->pid < 0) {
        mprof_error(cmd, "cannot run %s: %s", l->child_argv[0], strerror(exec_errno));
        mp_dfw_close(s->out);
        s->out = NULL;
        if (l->created) {
            unlink(o->output);
        }
        return (exec_errno == ENOENT) ? MPROF_ENOTFOUND : MPROF_ECANTEXEC;
    }
    s->spawned = 1;
    w->child_signalled = 1; /* it may have ended already */
    return MPROF_OK;
}

/* The spawned program's meter. It fails only if the program already ended
 * (MPROF_OK: nothing to sample) or cannot be read (smaps needs rights we
 * lack: MPROF_EPERM). Either way the program's status is still collected. */
static int open_spawned_meter(const char *cmd, const run_opts_t *o, session_t *s)
{
    if (mp_pidmeter_open(&s->meter, s->pid, o->backend) == 0 || errno == ENOENT
        || errno == ESRCH) {
        return MPROF_OK;
    }
    mprof_error(cmd, "cannot read the memory of process %d: %s", (int)s->pid, strerror(errno));
    return MPROF_EPERM;
}

/* With -C or -M, follow the descendants of a process being sampled. Without
 * memory for it, nothing is sampled (a spawned program is still waited for). */
static int follow_descendants(const char *cmd, const run_opts_t *o, session_t *s)
{
    if (s->meter.fd < 0 || !(o->children || o->multiprocess)) {
        return MPROF_OK;
    }
    s->tree = mp_tree_new(MP_PROC_ROOT, s->pid, o->backend, KIDS_RELIST_NS);
    if (s->tree == NULL) {
        mprof_error(cmd, "out of memory");
        mp_pidmeter_close(&s->meter);
        return MPROF_EOUTPUT;
    }
    return MPROF_OK;
}

/* After sampling: close the data file, wait for a spawned program that
 * still runs (unless the timeout leaves it running), print the stats, and
 * settle the exit code (rc: the code so far). */
static int finish_run(const char *cmd, const run_opts_t *o, session_t *s, waiter_t *w, int rc,
                      int timed_out, double elapsed)
{
    if (s->tty) {
        fprintf(stderr, "\r\033[K");
        fflush(stderr);
    }
    if (mp_dfw_close(s->out) < 0 && rc == MPROF_OK) {
        mprof_error(cmd, "cannot write %s: %s", o->output, strerror(errno));
        rc = MPROF_EOUTPUT;
    }
    s->out = NULL;
    if (s->spawned && !w->exited) {
        if (timed_out && !o->exit_code) {
            fprintf(stderr, "mprof: timeout: sampling stopped after %.1f s; process %d keeps running\n",
                    elapsed, (int)s->pid);
        } else {
            wait_until(w, s, -1); /* the program still runs: wait for its end */
        }
    }
    if (o->stats) {
        print_stats(s, o, elapsed);
    }
    if (rc == MPROF_OK) {
        if (o->exit_code && s->spawned && w->exited) {
            rc = exit_status_code(w->status);
            if (rc != 0) {
                fprintf(stderr, "ERROR:mprof:Program resulted with a non-zero exit code: %d\n", rc);
            }
        } else if (w->stop_signal != 0) {
            rc = 128 + w->stop_signal;
        }
    }
    return rc;
}

int mprof_run_main(int argc, char **argv, int attach)
{
    run_opts_t o;
    session_t s;
    waiter_t w;
    launch_t l;
    int timed_out = 0;
    const char *cmd = attach ? "attach" : "run";
    sigset_t watched, orig;
    memset(&s, 0, sizeof(s));
    memset(&w, 0, sizeof(w));
    l.child_argv = l.cmdv = NULL;
    l.cmdc = l.created = 0;
    s.meter.fd = -1;

    int rc = parse_run_options(argc, argv, attach, &o);
    if (rc != MPROF_OK) {
        return rc < 0 ? MPROF_OK : rc;
    }
    if (o.nprog == 0) {
        printf("A program to run must be provided. Use -h for help\n");
        return MPROF_EMISSING;
    }
    name_default_output(&o);
    char ivl[64];
    mprof_float_repr(ivl, sizeof(ivl), o.interval);
    printf("mprof: Sampling memory every %ss\n", ivl);

    watch_signals(&watched, &orig);
    w.watched = &watched;
    s.tty = isatty(STDERR_FILENO);
    if (o.stats) {
        s.hist = calloc(HIST_BUCKETS, sizeof(uint32_t));
    }
    rc = o.attach ? start_attached(cmd, &o, &s, &l) : start_spawned(cmd, &o, &s, &w, &orig, &l);
    if (rc != MPROF_OK) {
        goto done;
    }
    if (s.spawned) {
        rc = open_spawned_meter(cmd, &o, &s);
    }
    if (rc == MPROF_OK) {
        rc = follow_descendants(cmd, &o, &s);
    }

    int64_t start = mp_clock_mono_ns();
    if (s.meter.fd >= 0) {
        int loop_rc = sample_loop(&o, &s, &w, start, &timed_out);
        if (loop_rc != MPROF_OK) {
            mprof_error(cmd, "cannot write %s: %s (sampling stopped; what was written is kept)",
                        o.output, strerror(errno));
            rc = loop_rc;
        }
    }
    double elapsed = (double)(mp_clock_mono_ns() - start) / 1e9;
    rc = finish_run(cmd, &o, &s, &w, rc, timed_out, elapsed);
done:
    mp_dfw_close(s.out);
    mp_tree_free(s.tree);
    mp_pidmeter_close(&s.meter);
    free(l.child_argv);
    free(l.cmdv);
    free(s.hist);
    /* The watched signals stay blocked: one arriving now must not turn the
     * exit status computed above into a death by signal. */
    return rc;
}
