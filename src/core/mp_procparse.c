/* Parsers for the text of /proc files, and the small-file readers they use.
 * Portable: no Linux-only calls here, so the fuzzers and tests run anywhere. */
#include "mp_proc.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

ssize_t mp_proc_pread(int fd, char *buf, size_t cap)
{
    size_t got = 0;
    if (cap == 0) {
        errno = EINVAL;
        return -1;
    }
    while (got < cap - 1) {
        ssize_t r = pread(fd, buf + got, cap - 1 - got, (off_t)got);
        if (r < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -1;
        }
        if (r == 0) {
            break;
        }
        got += (size_t)r;
    }
    buf[got] = '\0';
    return (ssize_t)got;
}

ssize_t mp_proc_read_file(const char *path, char *buf, size_t cap)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return -1;
    }
    ssize_t r = mp_proc_pread(fd, buf, cap);
    int saved = errno;
    close(fd);
    errno = saved;
    return r;
}

/* Parse a non-negative decimal integer at *p, skipping leading blanks; on
 * success advance *p past it. */
static int parse_u64(const char **p, int64_t *out)
{
    const char *s = *p;
    while (*s == ' ' || *s == '\t') {
        s++;
    }
    if (*s < '0' || *s > '9') {
        return -1;
    }
    errno = 0;
    char *end = NULL;
    long long v = strtoll(s, &end, 10);
    if (errno != 0 || end == s || v < 0) {
        return -1;
    }
    *out = (int64_t)v;
    *p = end;
    return 0;
}

static int scale_pages(int64_t pages, long page_size, int64_t *bytes)
{
    if (page_size <= 0 || pages > INT64_MAX / page_size) {
        return -1;
    }
    *bytes = pages * page_size;
    return 0;
}

int mp_proc_parse_statm(const char *buf, long page_size, int64_t *bytes)
{
    const char *p = buf;
    int64_t size = 0, resident = 0;
    if (parse_u64(&p, &size) < 0 || parse_u64(&p, &resident) < 0
        || scale_pages(resident, page_size, bytes) < 0) {
        errno = EINVAL;
        return -1;
    }
    return 0;
}

int mp_proc_parse_stat_rss(const char *buf, long page_size, int64_t *bytes)
{
    /* The command name (field 2) is in parentheses and may itself contain
     * spaces and parentheses: fields resume after the last ')'. */
    const char *p = strrchr(buf, ')');
    if (p == NULL) {
        errno = EINVAL;
        return -1;
    }
    p++;
    /* After ')' come fields 3 (state) .. ; rss is field 24, i.e. the 22nd
     * blank-separated token after the parenthesis. */
    for (int field = 3; field < 24; field++) {
        while (*p == ' ') {
            p++;
        }
        if (*p == '\0' || *p == '\n') {
            errno = EINVAL;
            return -1;
        }
        while (*p != ' ' && *p != '\0' && *p != '\n') {
            p++;
        }
    }
    int64_t pages = 0;
    if (parse_u64(&p, &pages) < 0 || scale_pages(pages, page_size, bytes) < 0) {
        errno = EINVAL;
        return -1;
    }
    return 0;
}

/* Find "Key:" at the start of a line and parse its value in kB. */
static int find_kb(const char *buf, const char *key, int64_t *bytes)
{
    size_t klen = strlen(key);
    const char *line = buf;
    while (line != NULL && *line != '\0') {
        if (strncmp(line, key, klen) == 0 && line[klen] == ':') {
            const char *p = line + klen + 1;
            int64_t kb = 0;
            if (parse_u64(&p, &kb) < 0 || kb > INT64_MAX / 1024) {
                return -1;
            }
            *bytes = kb * 1024;
            return 1;
        }
        line = strchr(line, '\n');
        if (line != NULL) {
            line++;
        }
    }
    return 0;
}

int mp_proc_parse_smaps(const char *buf, mp_smaps_t *out)
{
    int64_t clean = 0, dirty = 0, huge = 0;
    memset(out, 0, sizeof(*out));
    if (find_kb(buf, "Rss", &out->rss) != 1 || find_kb(buf, "Pss", &out->pss) != 1
        || find_kb(buf, "Private_Clean", &clean) != 1
        || find_kb(buf, "Private_Dirty", &dirty) != 1) {
        errno = EINVAL;
        return -1;
    }
    if (find_kb(buf, "Private_Hugetlb", &huge) < 0 || find_kb(buf, "Swap", &out->swap) < 0) {
        errno = EINVAL;
        return -1;
    }
    out->uss = clean + dirty + huge;
    return 0;
}

int mp_proc_parse_status_file(const char *buf, int64_t *file)
{
    int64_t f = 0, sh = 0;
    if (find_kb(buf, "RssFile", &f) != 1) {
        errno = EINVAL;
        return -1;
    }
    if (find_kb(buf, "RssShmem", &sh) != 1) {
        sh = 0;
    }
    *file = f + sh;
    return 0;
}

int mp_proc_parse_status(const char *buf, int64_t *hwm, int64_t *rss)
{
    int64_t h = 0, r = 0;
    /* Kernel threads and zombies have no Vm* lines at all. */
    if (find_kb(buf, "VmHWM", &h) != 1 || find_kb(buf, "VmRSS", &r) != 1) {
        errno = EINVAL;
        return -1;
    }
    if (hwm != NULL) {
        *hwm = h;
    }
    if (rss != NULL) {
        *rss = r;
    }
    return 0;
}
