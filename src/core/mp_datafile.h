/* mp_datafile: the mprof data file (mprofile_YYYYMMDDhhmmss.dat), written
 * and read in the reference's text format, one record per line:
 *
 *     CMDLINE <command line>
 *     MEM <MiB %.6f> <unix time %.4f>
 *     CHLD <pid> <MiB %.6f> <unix time %.4f>
 *     FUNC <name> <mem0 %.4f> <t0 %.4f> <mem1 %.4f> <t1 %.4f> [<level>]
 *
 * The writer only ever hands whole lines to write(2) on an O_APPEND
 * descriptor, so a killed writer leaves complete records, and a second writer
 * (the profiled Python program adding FUNC lines) never splits one.
 *
 * The reader is tolerant: it skips lines it cannot parse (a truncated last
 * line, garbage, unknown records), accepts records in any order, the older
 * 5-field FUNC, and several runs appended to one file. */
#ifndef MP_DATAFILE_H
#define MP_DATAFILE_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#include "mp_buf.h"

/* ------------------------------------------------------------ writer */

/* The records' text, spelled only here: each appends one whole line to b
 * (an allocation failure sets b->failed). Used by the
 * writer below and by the Python layer (memory_usage(stream=...) and
 * TimeStamper's FUNC lines), so every writer of the format agrees. */
void mp_datafile_add_mem(mp_buf_t *b, double mib, double t);
void mp_datafile_add_child(mp_buf_t *b, long pid, double mib, double t);
void mp_datafile_add_func(mp_buf_t *b, const char *name, double mem0, double t0, double mem1,
                          double t1, int level);

typedef struct mp_dfw mp_dfw_t;

/* Open path for appending, creating it with mode 0666 & ~umask. Refuses to
 * follow a symbolic link in place of the file (ELOOP). Returns NULL with
 * errno set on failure. */
mp_dfw_t *mp_dfw_open(const char *path);

/* The same for a name the user did not choose (mprof's default): created
 * new, or else appended to only if it is a regular file owned by this user;
 * never blocks (a FIFO or device there: errno MP_ENOTREG; another user's
 * file: EPERM). */
mp_dfw_t *mp_dfw_open_default(const char *path);

/* Queue records (buffered in memory; nothing is written until a flush or
 * until the buffer fills). Return 0, or -1 with errno set once a write has
 * failed (the error is sticky: later calls fail the same way). */
int mp_dfw_cmdline(mp_dfw_t *w, int argc, char *const argv[]);
int mp_dfw_mem(mp_dfw_t *w, double mib, double t);
int mp_dfw_child(mp_dfw_t *w, long pid, double mib, double t);

/* Write the queued lines (whole lines only). Returns 0 or -1 with errno. */
int mp_dfw_flush(mp_dfw_t *w);

/* Ask the kernel to start writing the file's data to disk, without waiting
 * for it (no-op where unsupported). */
void mp_dfw_writeback(mp_dfw_t *w);

/* Flush, close and free. Returns 0, or -1 with errno if any write failed.
 * NULL is a no-op returning 0. */
int mp_dfw_close(mp_dfw_t *w);

/* The command line as the reference writes it: arguments joined by spaces,
 * those holding a space or tab wrapped in single quotes. Into out (cap
 * bytes, truncated, NUL-terminated). */
void mp_datafile_join_cmdline(char *out, size_t cap, int argc, char *const argv[]);

/* ------------------------------------------------------------ reader */

typedef struct {
    double *t, *mib;      /* samples, sorted by time */
    size_t n, cap;
} mp_series_t;

typedef struct {
    long pid;             /* the CHLD key (a pid, or an index in old files) */
    mp_series_t s;
} mp_child_t;

typedef struct {
    size_t name;          /* index into mp_profile_t.names */
    double t0, t1, mem0, mem1;
    int level;            /* nesting level; -1 in 5-field records */
} mp_call_t;

typedef struct {
    mp_series_t mem;
    mp_child_t *children;
    size_t nchildren;
    mp_call_t *calls;     /* sorted by start time */
    size_t ncalls;
    char **names;         /* distinct function names, in order of appearance */
    size_t nnames;
    char *cmdline;        /* the first CMDLINE, or NULL */
    size_t nruns;         /* CMDLINE records seen */
    size_t nskipped;      /* lines that were not understood */
} mp_profile_t;

/* Parse len bytes of data-file text into *p (zeroed first). Never fails on
 * content; returns -1 with errno ENOMEM only when memory runs out (p is then
 * freed). */
int mp_profile_parse(const char *text, size_t len, mp_profile_t *p);

/* errno of mp_profile_read for a path that is not a regular file (a device,
 * FIFO or socket), which would never end or could block. */
#define MP_ENOTREG ENODEV

/* Read and parse a file. Returns 0, or -1 with errno set (ENOENT, EACCES,
 * EISDIR, MP_ENOTREG, ENOMEM...). At most 64 MiB more than the file's size
 * when opened is read (a file still being written). */
int mp_profile_read(const char *path, mp_profile_t *p);

/* Read a whole regular file (the same refusals and bound as
 * mp_profile_read) into a malloc'd, NUL-terminated buffer. 0 or -1 with
 * errno set. */
int mp_read_text_file(const char *path, char **text, size_t *len);

/* strerror, with MP_ENOTREG as "not a regular file". */
const char *mp_profile_strerror(int err);

/* Release everything *p owns and zero it. */
void mp_profile_free(mp_profile_t *p);

/* Highest MiB of a series (NaN when empty). */
double mp_series_max(const mp_series_t *s);

/* Time of the first record of any kind (NaN when the profile is empty). */
double mp_profile_start(const mp_profile_t *p);

/* Parse a decimal number at s (digits, optional sign, fraction, exponent)
 * fast; *end receives the first byte not used. Falls back to strtod for
 * anything unusual. Exposed for the tests. */
double mp_datafile_number(const char *s, const char *lim, const char **end);

#endif
