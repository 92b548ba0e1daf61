/* _core.guard_sigterm(): SIGTERM ends the program at once, report or not.
 *
 * The CLI writes a partial report on SIGTERM from a Python-level handler,
 * which CPython runs only between bytecodes: during a long C call (a big
 * computation, a blocking call that is not interrupted) the program would
 * die seconds late, or never. This wraps CPython's C-level handler: it
 * passes the signal on (so the report is written if Python gets to it)
 * and gives Python one second; then the program dies of SIGTERM as it
 * would without us. In a forked child (multiprocessing's workers), which
 * writes no report, SIGTERM kills at once: a child that got the signal
 * before resetting the inherited handler is not left waiting.
 *
 * Everything in the handlers is async-signal-safe. */
#include "sigterm.h"

#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

static struct sigaction python_handler; /* CPython's, which we pass the signal to */
static volatile pid_t main_pid;
static volatile sig_atomic_t installed;

static void die_by_sigterm(void)
{
    struct sigaction dfl;
    memset(&dfl, 0, sizeof(dfl));
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    sigaction(SIGTERM, &dfl, NULL);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);
    kill(getpid(), SIGTERM);
}

static void on_deadline(int sig)
{
    (void)sig;
    static const char msg[] =
        "memory_profiler: the program did not return to Python within 1 s of SIGTERM; "
        "no report\n";
    ssize_t w = write(2, msg, sizeof(msg) - 1);
    (void)w;
    die_by_sigterm();
}

static void on_term(int sig, siginfo_t *info, void *uc)
{
    if (getpid() != main_pid) {
        die_by_sigterm(); /* a forked child: no report to write */
        return;
    }
    if (python_handler.sa_flags & SA_SIGINFO) {
        python_handler.sa_sigaction(sig, info, uc);
    } else if (python_handler.sa_handler != SIG_DFL && python_handler.sa_handler != SIG_IGN) {
        python_handler.sa_handler(sig);
    } else {
        die_by_sigterm();
        return;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_deadline;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGALRM, &sa, NULL);
    alarm(1);
}

/* A child forked by other means than os.fork: the same at once. */
static void atfork_child(void)
{
    struct sigaction cur;
    if (installed && sigaction(SIGTERM, NULL, &cur) == 0 && (cur.sa_flags & SA_SIGINFO)
        && cur.sa_sigaction == on_term) {
        struct sigaction dfl;
        memset(&dfl, 0, sizeof(dfl));
        dfl.sa_handler = SIG_DFL;
        sigemptyset(&dfl.sa_mask);
        sigaction(SIGTERM, &dfl, NULL);
    }
}

PyObject *mp_guard_sigterm(PyObject *module, PyObject *unused)
{
    (void)module;
    (void)unused;
    struct sigaction cur;
    if (sigaction(SIGTERM, NULL, &cur) < 0) {
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    if ((cur.sa_flags & SA_SIGINFO) && cur.sa_sigaction == on_term) {
        Py_RETURN_NONE; /* already */
    }
    python_handler = cur;
    main_pid = getpid();
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = on_term;
    sa.sa_flags = SA_SIGINFO | (cur.sa_flags & SA_ONSTACK);
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGTERM, &sa, NULL) < 0) {
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    if (!installed) {
        pthread_atfork(NULL, NULL, atfork_child);
        installed = 1;
    }
    Py_RETURN_NONE;
}
