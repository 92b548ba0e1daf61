#include "mp_datafile.h"

#include "mp_buf.h"
#include "mp_units.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ================================================================ writer */

/* Records wait in buf until a flush; only whole lines are ever queued, so a
 * flush never writes half a record. */
struct mp_dfw {
    int fd;
    int err;          /* first write error (sticky), 0 if none */
    mp_buf_t buf;
};

/* A flush is forced once this much is queued, whatever the caller's rhythm. */
#define DFW_HIGH_WATER ((size_t)64 * 1024)

/* A predictable name in a folder others may write to: create it, or append
 * only to a regular file of our own (a same-second rerun). Opened without
 * blocking, so a FIFO planted there can neither stall us nor be written. */
static int open_default(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0666);
    if (fd >= 0 || errno != EEXIST) {
        return fd;
    }
    fd = open(path, O_WRONLY | O_APPEND | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        return errno == ENXIO ? (errno = MP_ENOTREG, -1) : -1; /* a FIFO with no reader */
    }
    struct stat st;
    int err = 0;
    if (fstat(fd, &st) < 0) {
        err = errno;
    } else if (!S_ISREG(st.st_mode)) {
        err = MP_ENOTREG;
    } else if (st.st_uid != geteuid()) {
        err = EPERM;
    }
    if (err != 0) {
        close(fd);
        errno = err;
        return -1;
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0) {
        err = errno;
        close(fd);
        errno = err;
        return -1;
    }
    return fd;
}

mp_dfw_t *mp_dfw_open_default(const char *path)
{
    int fd = open_default(path);
    if (fd < 0) {
        return NULL;
    }
    mp_dfw_t *w = calloc(1, sizeof(*w));
    if (w == NULL) {
        close(fd);
        errno = ENOMEM;
        return NULL;
    }
    w->fd = fd;
    return w;
}

mp_dfw_t *mp_dfw_open(const char *path)
{
    mp_dfw_t *w = calloc(1, sizeof(*w));
    if (w == NULL) {
        return NULL;
    }
    w->fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0666);
    if (w->fd < 0) {
        int saved = errno;
        free(w);
        errno = saved;
        return NULL;
    }
    struct stat st;
    if (fstat(w->fd, &st) == 0 && !S_ISREG(st.st_mode) && !S_ISCHR(st.st_mode)
        && !S_ISFIFO(st.st_mode)) {
        close(w->fd);
        free(w);
        errno = EINVAL;
        return NULL;
    }
    return w;
}

static int queued(mp_dfw_t *w)
{
    if (w->err) {
        errno = w->err;
        return -1;
    }
    if (w->buf.failed) {
        w->err = ENOMEM;
        errno = ENOMEM;
        return -1;
    }
    if (w->buf.len >= DFW_HIGH_WATER) {
        return mp_dfw_flush(w);
    }
    return 0;
}

int mp_dfw_flush(mp_dfw_t *w)
{
    size_t off = 0;
    if (w->err) {
        errno = w->err;
        return -1;
    }
    while (off < w->buf.len) {
        ssize_t r = write(w->fd, w->buf.data + off, w->buf.len - off);
        if (r < 0) {
            if (errno == EINTR) {
                continue;
            }
            w->err = errno;
            break;
        }
        off += (size_t)r;
    }
    w->buf.len = 0;
    if (w->err) {
        errno = w->err;
        return -1;
    }
    return 0;
}

void mp_dfw_writeback(mp_dfw_t *w)
{
#ifdef SYNC_FILE_RANGE_WRITE
    (void)sync_file_range(w->fd, 0, 0, SYNC_FILE_RANGE_WRITE);
#else
    (void)w;
#endif
}

int mp_dfw_close(mp_dfw_t *w)
{
    if (w == NULL) {
        return 0;
    }
    int rc = mp_dfw_flush(w);
    int saved = errno;
    if (close(w->fd) < 0 && rc == 0) {
        rc = -1;
        saved = errno;
    }
    mp_buf_free(&w->buf);
    free(w);
    errno = saved;
    return rc;
}

/* argv stays char *const[]: C does not convert char ** to const char *const *. */
// cppcheck-suppress constParameter
void mp_datafile_join_cmdline(char *out, size_t cap, int argc, char *const argv[])
{
    size_t len = 0;
    if (cap == 0) {
        return;
    }
    out[0] = '\0';
    for (int i = 0; i < argc && len + 1 < cap; i++) {
        const char *a = argv[i];
        int quote = strpbrk(a, " \t") != NULL;
        int n = snprintf(out + len, cap - len, "%s%s%s%s", i ? " " : "", quote ? "'" : "", a,
                         quote ? "'" : "");
        if (n < 0) {
            break;
        }
        len += (size_t)n;
        if (len >= cap) {
            len = cap - 1;
        }
    }
    /* A record is one line: newlines inside arguments become spaces. */
    for (char *p = out; *p != '\0'; p++) {
        if (*p == '\n' || *p == '\r') {
            *p = ' ';
        }
    }
}

int mp_dfw_cmdline(mp_dfw_t *w, int argc, char *const argv[])
{
    char line[8192];
    mp_datafile_join_cmdline(line, sizeof(line), argc, argv);
    mp_buf_printf(&w->buf, "CMDLINE %s\n", line);
    return queued(w);
}

void mp_datafile_add_mem(mp_buf_t *b, double mib, double t)
{
    mp_buf_printf(b, "MEM %.6f %.4f\n", mib, t);
}

void mp_datafile_add_child(mp_buf_t *b, long pid, double mib, double t)
{
    mp_buf_printf(b, "CHLD %ld %.6f %.4f\n", pid, mib, t);
}

void mp_datafile_add_func(mp_buf_t *b, const char *name, double mem0, double t0, double mem1,
                          double t1, int level)
{
    mp_buf_printf(b, "FUNC %s %.4f %.4f %.4f %.4f %d\n", name, mem0, t0, mem1, t1, level);
}

int mp_dfw_mem(mp_dfw_t *w, double mib, double t)
{
    mp_datafile_add_mem(&w->buf, mib, t);
    return queued(w);
}

int mp_dfw_child(mp_dfw_t *w, long pid, double mib, double t)
{
    mp_datafile_add_child(&w->buf, pid, mib, t);
    return queued(w);
}

/* ================================================================ reader */

static int grow(void **arr, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap) {
        return 0;
    }
    size_t ncap = *cap ? *cap * 2 : 64;
    while (ncap < need) {
        ncap *= 2;
    }
    void *n = realloc(*arr, ncap * size);
    if (n == NULL) {
        return -1;
    }
    *arr = n;
    *cap = ncap;
    return 0;
}

static int series_add(mp_series_t *s, double t, double mib)
{
    if (s->n == s->cap) {
        size_t cap_t = s->cap, cap_m = s->cap;
        if (grow((void **)&s->t, &cap_t, s->n + 1, sizeof(double)) < 0
            || grow((void **)&s->mib, &cap_m, s->n + 1, sizeof(double)) < 0) {
            return -1;
        }
        s->cap = cap_t < cap_m ? cap_t : cap_m;
    }
    s->t[s->n] = t;
    s->mib[s->n] = mib;
    s->n++;
    return 0;
}

typedef struct {
    double t, mib;
} pair_t;

static int cmp_pair(const void *a, const void *b)
{
    double x = ((const pair_t *)a)->t, y = ((const pair_t *)b)->t;
    return (x > y) - (x < y);
}

/* Records may come in any order (several writers, appended runs). */
static int series_sort(mp_series_t *s)
{
    size_t i;
    for (i = 1; i < s->n; i++) {
        if (s->t[i] < s->t[i - 1]) {
            break;
        }
    }
    if (i >= s->n) {
        return 0;
    }
    pair_t *tmp = malloc(s->n * sizeof(*tmp));
    if (tmp == NULL) {
        return -1;
    }
    for (i = 0; i < s->n; i++) {
        tmp[i].t = s->t[i];
        tmp[i].mib = s->mib[i];
    }
    qsort(tmp, s->n, sizeof(*tmp), cmp_pair);
    for (i = 0; i < s->n; i++) {
        s->t[i] = tmp[i].t;
        s->mib[i] = tmp[i].mib;
    }
    free(tmp);
    return 0;
}

static const double pow10_table[] = {
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10,
    1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18,
};

double mp_datafile_number(const char *s, const char *lim, const char **end)
{
    const char *p = s;
    int neg = 0;
    uint64_t mant = 0;
    int digits = 0, frac = 0;
    if (p < lim && (*p == '-' || *p == '+')) {
        neg = (*p == '-');
        p++;
    }
    while (p < lim && *p >= '0' && *p <= '9' && digits < 18) {
        mant = mant * 10 + (uint64_t)(*p - '0');
        digits++;
        p++;
    }
    if (p < lim && *p == '.') {
        p++;
        while (p < lim && *p >= '0' && *p <= '9' && digits < 18) {
            mant = mant * 10 + (uint64_t)(*p - '0');
            digits++;
            frac++;
            p++;
        }
    }
    int unusual = (p < lim && ((*p >= '0' && *p <= '9') || *p == 'e' || *p == 'E' || *p == '.'))
                  || digits == 0;
    if (!unusual) {
        *end = p;
        double v = (double)mant / pow10_table[frac];
        return neg ? -v : v;
    }
    /* Long, exponent, inf/nan: strtod on a bounded, NUL-terminated copy. */
    char tok[80];
    size_t n = 0;
    while (s + n < lim && n + 1 < sizeof(tok) && s[n] != ' ' && s[n] != '\t' && s[n] != '\n') {
        tok[n] = s[n];
        n++;
    }
    tok[n] = '\0';
    char *e = NULL;
    double v = strtod(tok, &e);
    *end = s + (e - tok);
    return v;
}

/* Parser state: the line being read, [p, lim). */
typedef struct {
    const char *p, *lim;
    int ok;
} cursor_t;

static void skip_blanks(cursor_t *c)
{
    while (c->p < c->lim && (*c->p == ' ' || *c->p == '\t')) {
        c->p++;
    }
}

static double next_number(cursor_t *c)
{
    skip_blanks(c);
    const char *e = c->p;
    double v = (c->p < c->lim) ? mp_datafile_number(c->p, c->lim, &e) : NAN;
    if (e == c->p || (e < c->lim && *e != ' ' && *e != '\t') || !isfinite(v)) {
        c->ok = 0;
        return NAN;
    }
    c->p = e;
    return v;
}

static long next_integer(cursor_t *c)
{
    double v = next_number(c);
    if (!c->ok || v != floor(v) || fabs(v) > 1e15) {
        c->ok = 0;
        return 0;
    }
    return (long)v;
}

/* The next blank-delimited token: *start and its length. */
static size_t next_token(cursor_t *c, const char **start)
{
    skip_blanks(c);
    *start = c->p;
    while (c->p < c->lim && *c->p != ' ' && *c->p != '\t') {
        c->p++;
    }
    if (c->p == *start) {
        c->ok = 0;
    }
    return (size_t)(c->p - *start);
}

static int at_end(cursor_t *c)
{
    skip_blanks(c);
    return c->ok && c->p == c->lim;
}

/* Distinct function names: an open-addressing table of indices into names. */
typedef struct {
    size_t *slots;    /* index + 1, 0 = empty */
    size_t cap;
} names_index_t;

static uint64_t hash_bytes(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) {
        h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
    }
    return h;
}

static int name_index(mp_profile_t *p, names_index_t *ix, size_t *names_cap, const char *s,
                      size_t n, size_t *out)
{
    if ((p->nnames + 1) * 2 > ix->cap) {
        size_t ncap = ix->cap ? ix->cap * 2 : 64;
        size_t *slots = calloc(ncap, sizeof(*slots));
        if (slots == NULL) {
            return -1;
        }
        for (size_t i = 0; i < p->nnames; i++) {
            const char *nm = p->names[i];
            size_t j = hash_bytes(nm, strlen(nm)) & (ncap - 1);
            while (slots[j]) {
                j = (j + 1) & (ncap - 1);
            }
            slots[j] = i + 1;
        }
        free(ix->slots);
        ix->slots = slots;
        ix->cap = ncap;
    }
    if (ix->slots == NULL) {
        return -1;
    }
    size_t j = hash_bytes(s, n) & (ix->cap - 1);
    while (ix->slots[j]) {
        const char *nm = p->names[ix->slots[j] - 1];
        if (strncmp(nm, s, n) == 0 && nm[n] == '\0') {
            *out = ix->slots[j] - 1;
            return 0;
        }
        j = (j + 1) & (ix->cap - 1);
    }
    if (grow((void **)&p->names, names_cap, p->nnames + 1, sizeof(char *)) < 0) {
        return -1;
    }
    char *copy = strndup(s, n);
    if (copy == NULL) {
        return -1;
    }
    p->names[p->nnames] = copy;
    ix->slots[j] = p->nnames + 1;
    *out = p->nnames++;
    return 0;
}

static mp_child_t *child_for(mp_profile_t *p, size_t *cap, long pid, size_t *hint)
{
    if (*hint < p->nchildren && p->children[*hint].pid == pid) {
        return &p->children[*hint];
    }
    for (size_t i = 0; i < p->nchildren; i++) {
        if (p->children[i].pid == pid) {
            *hint = i;
            return &p->children[i];
        }
    }
    if (grow((void **)&p->children, cap, p->nchildren + 1, sizeof(mp_child_t)) < 0) {
        return NULL;
    }
    mp_child_t *c = &p->children[p->nchildren];
    memset(c, 0, sizeof(*c));
    c->pid = pid;
    *hint = p->nchildren++;
    return c;
}

static int cmp_call(const void *a, const void *b)
{
    const mp_call_t *x = a, *y = b;
    if (x->t0 != y->t0) {
        return (x->t0 > y->t0) - (x->t0 < y->t0);
    }
    return (x->level > y->level) - (x->level < y->level);
}

/* One line, without its newline. Returns -1 only when memory runs out. */
static int parse_line(mp_profile_t *p, const char *line, const char *lim, names_index_t *ix,
                      size_t *names_cap, size_t *children_cap, size_t *calls_cap,
                      size_t *child_hint)
{
    cursor_t c = {line, lim, 1};
    const char *kw;
    /* The caller guarantees lim >= line; saying so keeps gcc 14+'s
     * -Wstringop-overread from seeing a negative length. */
    size_t len = (lim > line) ? (size_t)(lim - line) : 0;
    if (memchr(line, '\0', len) != NULL) {
        p->nskipped++; /* binary garbage: names with NUL bytes cannot be stored */
        return 0;
    }
    size_t kwlen = next_token(&c, &kw);
    if (!c.ok) {
        return 0; /* a blank line */
    }
    if (kwlen == 3 && memcmp(kw, "MEM", 3) == 0) {
        double mib = next_number(&c), t = next_number(&c);
        if (at_end(&c)) {
            return series_add(&p->mem, t, mib);
        }
    } else if (kwlen == 4 && memcmp(kw, "CHLD", 4) == 0) {
        long pid = next_integer(&c);
        double mib = next_number(&c), t = next_number(&c);
        if (at_end(&c)) {
            mp_child_t *ch = child_for(p, children_cap, pid, child_hint);
            return (ch == NULL) ? -1 : series_add(&ch->s, t, mib);
        }
    } else if (kwlen == 4 && memcmp(kw, "FUNC", 4) == 0) {
        const char *name;
        size_t nlen = next_token(&c, &name);
        mp_call_t call;
        call.mem0 = next_number(&c);
        call.t0 = next_number(&c);
        call.mem1 = next_number(&c);
        call.t1 = next_number(&c);
        call.level = -1;
        skip_blanks(&c);
        if (c.ok && c.p < c.lim) {
            long lv = next_integer(&c);
            call.level = (lv >= 0 && lv < 1000000) ? (int)lv : -1;
            c.ok = c.ok && lv >= 0 && lv < 1000000;
        }
        if (at_end(&c)) {
            if (name_index(p, ix, names_cap, name, nlen, &call.name) < 0
                || grow((void **)&p->calls, calls_cap, p->ncalls + 1, sizeof(mp_call_t)) < 0) {
                return -1;
            }
            p->calls[p->ncalls++] = call;
            return 0;
        }
    } else if (kwlen == 7 && memcmp(kw, "CMDLINE", 7) == 0) {
        p->nruns++;
        if (p->cmdline == NULL) {
            skip_blanks(&c);
            p->cmdline = strndup(c.p, (size_t)(lim - c.p));
            return p->cmdline == NULL ? -1 : 0;
        }
        return 0;
    } else {
        int printable = 1;
        for (size_t i = 0; i < kwlen; i++) {
            if (kw[i] < 'A' || kw[i] > 'Z') {
                printable = 0;
            }
        }
        if (printable) {
            return 0; /* an unknown record from a newer writer: ignored */
        }
    }
    p->nskipped++;
    return 0;
}

int mp_profile_parse(const char *text, size_t len, mp_profile_t *p)
{
    names_index_t ix = {NULL, 0};
    size_t names_cap = 0, children_cap = 0, calls_cap = 0, hint = 0;
    const char *s = text, *end = text + len;
    memset(p, 0, sizeof(*p));
    while (s < end) {
        const char *nl = memchr(s, '\n', (size_t)(end - s));
        if (nl == NULL) {
            /* No newline: the writer was cut off mid-record. */
            p->nskipped++;
            break;
        }
        const char *lim = nl;
        if (lim > s && lim[-1] == '\r') {
            lim--;
        }
        if (parse_line(p, s, lim, &ix, &names_cap, &children_cap, &calls_cap, &hint) < 0) {
            goto oom;
        }
        s = nl + 1;
    }
    free(ix.slots);
    ix.slots = NULL;
    if (series_sort(&p->mem) < 0) {
        goto oom;
    }
    for (size_t i = 0; i < p->nchildren; i++) {
        if (series_sort(&p->children[i].s) < 0) {
            goto oom;
        }
    }
    if (p->ncalls > 1) {
        qsort(p->calls, p->ncalls, sizeof(mp_call_t), cmp_call);
    }
    return 0;
oom:
    free(ix.slots);
    mp_profile_free(p);
    errno = ENOMEM;
    return -1;
}

int mp_read_text_file(const char *path, char **out, size_t *outlen)
{
    int rc = -1, saved = 0;
    char *text = NULL;
    size_t len = 0, cap = 0;
    /* O_NONBLOCK: a FIFO planted at the path must not block the open. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) < 0) {
        goto done;
    }
    if (S_ISDIR(st.st_mode)) {
        errno = EISDIR;
        goto done;
    }
    if (!S_ISREG(st.st_mode)) { /* /dev/zero, a FIFO, a socket: never ends */
        errno = MP_ENOTREG;
        goto done;
    }
    /* What the file holds now, plus what a running mprof may add while we
     * read; never without bound. */
    size_t limit = (st.st_size > 0 ? (size_t)st.st_size : 0) + 64 * MP_MIB_BYTES;
    cap = (st.st_size > 0 ? (size_t)st.st_size : 0) + 4096;
    text = malloc(cap);
    if (text == NULL) {
        errno = ENOMEM;
        goto done;
    }
    for (;;) {
        if (len >= limit) {
            break;
        }
        if (len + 1 >= cap) { /* the file grew while being read */
            char *n = realloc(text, cap * 2);
            if (n == NULL) {
                errno = ENOMEM;
                goto done;
            }
            text = n;
            cap *= 2;
        }
        ssize_t r = read(fd, text + len, cap - len - 1);
        if (r < 0) {
            if (errno == EINTR) {
                continue;
            }
            goto done;
        }
        if (r == 0) {
            break;
        }
        len += (size_t)r;
    }
    text[len] = '\0';
    *out = text;
    *outlen = len;
    text = NULL;
    rc = 0;
done:
    saved = errno;
    free(text);
    close(fd);
    errno = saved;
    return rc;
}

int mp_profile_read(const char *path, mp_profile_t *p)
{
    char *text;
    size_t len;
    if (mp_read_text_file(path, &text, &len) < 0) {
        return -1;
    }
    int rc = mp_profile_parse(text, len, p);
    int saved = errno;
    free(text);
    errno = saved;
    return rc;
}

const char *mp_profile_strerror(int err)
{
    return err == MP_ENOTREG ? "not a regular file" : strerror(err);
}

void mp_profile_free(mp_profile_t *p)
{
    free(p->mem.t);
    free(p->mem.mib);
    for (size_t i = 0; i < p->nchildren; i++) {
        free(p->children[i].s.t);
        free(p->children[i].s.mib);
    }
    free(p->children);
    free(p->calls);
    for (size_t i = 0; i < p->nnames; i++) {
        free(p->names[i]);
    }
    free(p->names);
    free(p->cmdline);
    memset(p, 0, sizeof(*p));
}

double mp_series_max(const mp_series_t *s)
{
    double m = NAN;
    for (size_t i = 0; i < s->n; i++) {
        if (isnan(m) || s->mib[i] > m) {
            m = s->mib[i];
        }
    }
    return m;
}

double mp_profile_start(const mp_profile_t *p)
{
    double t = NAN;
    if (p->mem.n) {
        t = p->mem.t[0];
    }
    for (size_t i = 0; i < p->nchildren; i++) {
        if (p->children[i].s.n && (isnan(t) || p->children[i].s.t[0] < t)) {
            t = p->children[i].s.t[0];
        }
    }
    if (p->ncalls && (isnan(t) || p->calls[0].t0 < t)) {
        t = p->calls[0].t0;
    }
    return t;
}
