/* Unit tests of src/core (Check). Run from tests/c: fixtures/proc is a fake
 * procfs: 4242 has children 4243 and 4244; 4244 is a kernel thread without
 * Vm lines. */
#include <check.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mp_clock.h"
#include "mp_datafile.h"
#include "mp_jsonread.h"
#include "mp_linediff.h"
#include "mp_meter.h"
#include "mp_proc.h"
#include "mp_ptrmap.h"
#include "mp_report.h"
#include "mp_sampler.h"
#include "mp_tree.h"
#include "mp_units.h"

#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>

#define ROOT "fixtures/proc"

/* ------------------------------------------------------------ parsers */

START_TEST(statm_parses_resident_pages)
{
    int64_t b = 0;
    ck_assert_int_eq(mp_proc_parse_statm("12345 2560 512 100 0 3000 0\n", 4096, &b), 0);
    ck_assert_int_eq(b, 2560 * 4096);
}
END_TEST

START_TEST(statm_rejects_garbage)
{
    int64_t b = 0;
    ck_assert_int_eq(mp_proc_parse_statm("", 4096, &b), -1);
    ck_assert_int_eq(errno, EINVAL);
    ck_assert_int_eq(mp_proc_parse_statm("12 x", 4096, &b), -1);
    ck_assert_int_eq(mp_proc_parse_statm("12 -5", 4096, &b), -1);
    ck_assert_int_eq(mp_proc_parse_statm("1 99999999999999999999", 4096, &b), -1);
    ck_assert_int_eq(mp_proc_parse_statm("1 9223372036854775807", 4096, &b), -1);
}
END_TEST

START_TEST(stat_skips_odd_command_names)
{
    int64_t b = 0;
    const char *s = "7 (a) b ) c) S 1 7 7 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 100 5000 77 0\n";
    ck_assert_int_eq(mp_proc_parse_stat_rss(s, 4096, &b), 0);
    ck_assert_int_eq(b, 77 * 4096);
    ck_assert_int_eq(mp_proc_parse_stat_rss("7 (no closing paren S 1", 4096, &b), -1);
    ck_assert_int_eq(mp_proc_parse_stat_rss("7 (short) S 1 2 3\n", 4096, &b), -1);
}
END_TEST

START_TEST(smaps_rollup_gives_pss_and_uss)
{
    char buf[4096];
    mp_smaps_t sm;
    ck_assert_int_ge(mp_proc_read_file(ROOT "/4242/smaps_rollup", buf, sizeof(buf)), 0);
    ck_assert_int_eq(mp_proc_parse_smaps(buf, &sm), 0);
    ck_assert_int_eq(sm.rss, 10240 * 1024);
    ck_assert_int_eq(sm.pss, 8192 * 1024);
    ck_assert_int_eq(sm.uss, (1024 + 7168) * 1024);
    ck_assert_int_eq(sm.swap, 12 * 1024);
    /* "Pss_Anon" must not be taken for "Pss". */
    ck_assert_int_eq(mp_proc_parse_smaps("Pss_Anon: 5 kB\nRss: 1 kB\n", &sm), -1);
}
END_TEST

START_TEST(status_gives_peak_and_current)
{
    int64_t hwm = 0, rss = 0;
    ck_assert_int_eq(mp_proc_status_peak(ROOT, 4242, &hwm, &rss), 0);
    ck_assert_int_eq(hwm, 204800 * 1024);
    ck_assert_int_eq(rss, 10240 * 1024);
    ck_assert_int_eq(mp_proc_status_peak(ROOT, 4244, &hwm, &rss), -1);
    ck_assert_int_eq(errno, EINVAL);
}
END_TEST

/* ------------------------------------------------------------ readers */

START_TEST(readers_use_the_given_root)
{
    int64_t b = 0;
    ck_assert_int_eq(mp_proc_rss(ROOT, 4242, &b), 0);
    ck_assert_int_eq(b, 2560 * sysconf(_SC_PAGESIZE));
    ck_assert_int_eq(mp_proc_stat_rss(ROOT, 4242, &b), 0);
    ck_assert_int_eq(b, 2560 * sysconf(_SC_PAGESIZE));
}
END_TEST

START_TEST(missing_process_is_enoent)
{
    int64_t b = 0;
    ck_assert_int_eq(mp_proc_rss(ROOT, 999999, &b), -1);
    ck_assert_int_eq(errno, ENOENT);
}
END_TEST

START_TEST(descendants_breadth_first)
{
    pid_t kids[8];
    size_t n = 0;
    ck_assert_int_eq(mp_proc_descendants(ROOT, 4242, kids, 8, &n), 0);
    ck_assert_uint_eq(n, 2);
    ck_assert_int_eq(kids[0], 4243);
    ck_assert_int_eq(kids[1], 4244);
    /* The cap is honoured. */
    ck_assert_int_eq(mp_proc_descendants(ROOT, 4242, kids, 1, &n), 0);
    ck_assert_uint_eq(n, 1);
}
END_TEST

START_TEST(real_self_rss_is_plausible)
{
    int64_t a = 0, b = 0;
    ck_assert_int_eq(mp_meter_self_rss(&a), 0);
    ck_assert_int_eq(mp_meter_read(MP_BACKEND_RSS, 0, 0, &b), 0);
    ck_assert(a > 100 * 1024 && a < (int64_t)1 << 40);
    /* Touch 32 MiB: RSS must grow by about that much. */
    size_t n = 32u << 20;
    char *volatile p = malloc(n); /* volatile: keep the compiler from eliding it */
    ck_assert_ptr_nonnull(p);
    for (size_t i = 0; i < n; i += 4096) {
        p[i] = 1;
    }
    ck_assert_int_eq(mp_meter_self_rss(&b), 0);
    ck_assert_int_ge(b - a, (int64_t)30 << 20);
    free(p);
}
END_TEST

START_TEST(backend_names_round_trip)
{
    for (int i = 0; i < MP_BACKEND_COUNT; i++) {
        ck_assert_int_eq(mp_backend_from_name(mp_backend_name((mp_backend_t)i)), i);
    }
    ck_assert_int_eq(mp_backend_from_name("nope"), -1);
    ck_assert_str_eq(mp_backend_name(MP_BACKEND_HEAP), "tracemalloc");
}
END_TEST

/* ------------------------------------------------------------ ptrmap */

START_TEST(ptrmap_put_take)
{
    mp_ptrmap_t *m = mp_ptrmap_new();
    size_t sz = 0;
    ck_assert_ptr_nonnull(m);
    ck_assert_int_eq(mp_ptrmap_put(m, (void *)0x1000, 10), 0);
    ck_assert_int_eq(mp_ptrmap_put(m, (void *)0x1000, 12), 0); /* replace */
    ck_assert_uint_eq(mp_ptrmap_count(m), 1);
    ck_assert_int_eq(mp_ptrmap_get(m, (void *)0x1000, &sz), 1);
    ck_assert_uint_eq(sz, 12);
    ck_assert_int_eq(mp_ptrmap_take(m, (void *)0x2000, &sz), 0);
    ck_assert_int_eq(mp_ptrmap_take(m, (void *)0x1000, &sz), 1);
    ck_assert_uint_eq(sz, 12);
    ck_assert_int_eq(mp_ptrmap_take(m, (void *)0x1000, &sz), 0);
    ck_assert_uint_eq(mp_ptrmap_count(m), 0);
    mp_ptrmap_free(m);
    mp_ptrmap_free(NULL);
}
END_TEST

START_TEST(ptrmap_churn_matches_a_model)
{
    /* Random puts and takes against a plain array model; exercises growth
     * and backward-shift deletion across probe runs. */
    enum { N = 20000 };
    static size_t model[N];
    mp_ptrmap_t *m = mp_ptrmap_new();
    srand(12345);
    for (int step = 0; step < 400000; step++) {
        int k = rand() % N;
        const void *p = (const void *)(uintptr_t)(0x10000 + (uintptr_t)k * 16);
        size_t sz = 0;
        if (rand() % 2) {
            size_t v = (size_t)(rand() % 1000) + 1;
            ck_assert_int_eq(mp_ptrmap_put(m, p, v), 0);
            model[k] = v;
        } else {
            int had = mp_ptrmap_take(m, p, &sz);
            ck_assert_int_eq(had, model[k] != 0);
            if (had) {
                ck_assert_uint_eq(sz, model[k]);
            }
            model[k] = 0;
        }
    }
    size_t live = 0;
    for (int k = 0; k < N; k++) {
        size_t sz = 0;
        const void *p = (const void *)(uintptr_t)(0x10000 + (uintptr_t)k * 16);
        ck_assert_int_eq(mp_ptrmap_get(m, p, &sz), model[k] != 0);
        live += model[k] != 0;
    }
    ck_assert_uint_eq(mp_ptrmap_count(m), live);
    mp_ptrmap_free(m);
}
END_TEST

/* The map gives its memory back: 1M entries in, all out, and it is back to
 * its smallest size (its pages unmapped), with lookups still right. */
START_TEST(ptrmap_shrinks_when_emptied)
{
    mp_ptrmap_t *m = mp_ptrmap_new();
    size_t small = mp_ptrmap_bytes(m);
    int bad = 0;
    for (uintptr_t k = 1; k <= 1000000; k++) {
        bad += mp_ptrmap_put(m, (const void *)(k * 16), k) != 0;
    }
    ck_assert_int_eq(bad, 0); /* (one assertion: each costs Check a write) */
    size_t big = mp_ptrmap_bytes(m);
    ck_assert_uint_ge(big, (size_t)1000000 * 16 * 2);
    for (uintptr_t k = 1; k <= 1000000; k++) {
        size_t sz = 0;
        bad += mp_ptrmap_take(m, (const void *)(k * 16), &sz) != 1 || sz != k;
        if (k == 999000) {
            /* 1,000 left: the table is at most 16x their need. */
            ck_assert_uint_le(mp_ptrmap_bytes(m), small + 1000 * 16 * 16);
        }
    }
    ck_assert_int_eq(bad, 0);
    ck_assert_uint_eq(mp_ptrmap_bytes(m), small);
    ck_assert_uint_eq(mp_ptrmap_count(m), 0);
    mp_ptrmap_free(m);
}
END_TEST

/* ------------------------------------------------------------ report */

START_TEST(report_header_and_separator)
{
    char buf[128];
    ck_assert_int_eq(mp_report_header(buf, sizeof(buf)), 61);
    ck_assert_str_eq(buf, "Line #    Mem usage    Increment  Occurrences   Line Contents");
    ck_assert_int_eq(mp_report_separator(buf, sizeof(buf)), 61);
    ck_assert_uint_eq(strspn(buf, "="), 61);
}
END_TEST

START_TEST(report_rows_match_the_reference_layout)
{
    char buf[256];
    mp_report_row_prefix(buf, sizeof(buf), 3, 21.1484375, 7.6328125, 1, 3);
    ck_assert_str_eq(buf, "     3   21.148 MiB    7.633 MiB           1   ");
    mp_report_row_prefix(buf, sizeof(buf), 5, 21.1, -152.59, 1, 1);
    ck_assert_str_eq(buf, "     5     21.1 MiB   -152.6 MiB           1   ");
    mp_report_blank_prefix(buf, sizeof(buf), 2);
    ck_assert_uint_eq(strlen(buf), 6 + 41);
    ck_assert_str_eq(buf, "     2                                         ");
    /* Wide values overflow their column instead of being cut. */
    mp_report_row_prefix(buf, sizeof(buf), 1234567, 123456789.0, 0.0, 12345678901LL, 3);
    ck_assert_str_eq(buf, "1234567 123456789.000 MiB    0.000 MiB  12345678901   ");
    ck_assert_int_eq(mp_report_mib(buf, sizeof(buf), 1.0, -1), -1);
}
END_TEST

START_TEST(report_truncation_is_reported)
{
    char small[8];
    int n = mp_report_row_prefix(small, sizeof(small), 3, 1.0, 1.0, 1, 1);
    ck_assert_int_gt(n, (int)sizeof(small));
    ck_assert_uint_eq(strlen(small), sizeof(small) - 1);
}
END_TEST

START_TEST(clock_is_monotonic_and_wall_is_recent)
{
    int64_t a = mp_clock_mono_ns(), b = mp_clock_mono_ns();
    ck_assert(b >= a);
    ck_assert(mp_clock_wall() > 1.6e9);
}
END_TEST

/* ------------------------------------------------------------ sampler */

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

START_TEST(sampler_samples_at_its_interval_and_keeps_the_peak)
{
    mp_sampler_opts_t o = {.pid = 0, .backend = MP_BACKEND_RSS, .interval_ns = 1000000};
    mp_sampler_t *s = mp_sampler_new(&o);
    ck_assert_ptr_nonnull(s);
    ck_assert_int_eq(mp_sampler_start(s), 0);
    sleep_ms(5);
    /* A 64 MiB spike that lives 2 ms. */
    size_t n = 64u << 20;
    char *volatile p = malloc(n);
    for (size_t i = 0; i < n; i += 4096) {
        p[i] = 1;
    }
    sleep_ms(2);
    free(p);
    sleep_ms(40);
    mp_sampler_stop(s);
    mp_sample_t *smp;
    mp_child_sample_t *kids;
    size_t ns, nk;
    ck_assert_int_eq(mp_sampler_snapshot(s, &smp, &ns, &kids, &nk), 0);
    ck_assert_uint_ge(ns, 20);   /* ~47 ms at 1 ms, first and last included */
    ck_assert(smp[ns - 1].time >= smp[0].time);
    ck_assert_int_ge(mp_sampler_peak(s) - smp[0].bytes, (int64_t)60 << 20);
    free(smp);
    free(kids);
    mp_sampler_discard(s, 5);
    ck_assert_int_eq(mp_sampler_snapshot(s, &smp, &ns, &kids, &nk), 0);
    free(smp);
    free(kids);
    mp_sampler_free(s);
}
END_TEST

START_TEST(sampler_rejects_a_missing_process_and_bad_options)
{
    mp_sampler_opts_t o = {.pid = 999999, .backend = MP_BACKEND_RSS, .interval_ns = 1000000};
    mp_sampler_t *s = mp_sampler_new(&o);
    ck_assert_ptr_nonnull(s);
    ck_assert_int_eq(mp_sampler_start(s), -1);
    ck_assert(errno == ENOENT || errno == ESRCH);
    mp_sampler_free(s);
    o.interval_ns = 10;
    ck_assert_ptr_null(mp_sampler_new(&o));
    ck_assert_int_eq(errno, EINVAL);
    mp_sampler_free(NULL);
}
END_TEST

/* ------------------------------------------------------------ tree */

START_TEST(tree_follows_the_fixture_descendants)
{
    long ps = sysconf(_SC_PAGESIZE);
    int64_t total = -1;
    mp_tree_t *t = mp_tree_new(ROOT, 4242, MP_BACKEND_RSS, 0);
    ck_assert_ptr_nonnull(t);
    ck_assert_uint_eq(mp_tree_count(t), 0); /* nothing listed before the first sample */
    for (int round = 0; round < 2; round++) { /* the second reads the kept descriptors */
        ck_assert_uint_eq(mp_tree_sample(t, round, &total), 2);
        ck_assert_uint_eq(mp_tree_count(t), 2);
        ck_assert_int_eq(mp_tree_pid(t, 0), 4243);
        ck_assert_int_eq(mp_tree_bytes(t, 0), 256 * ps);
        ck_assert_int_eq(mp_tree_pid(t, 1), 4244);
        ck_assert_int_eq(mp_tree_bytes(t, 1), 512 * ps);
        ck_assert_int_eq(total, 768 * ps);
    }
    mp_tree_free(t);
    /* A leaf, and a root that does not exist: no descendants. */
    t = mp_tree_new(ROOT, 4243, MP_BACKEND_RSS, 0);
    ck_assert_uint_eq(mp_tree_sample(t, 0, &total), 0);
    ck_assert_int_eq(total, 0);
    mp_tree_free(t);
    t = mp_tree_new(ROOT, 999999, MP_BACKEND_RSS, 0);
    ck_assert_uint_eq(mp_tree_sample(t, 0, &total), 0);
    mp_tree_free(t);
    /* A descendant the backend cannot read (no smaps_rollup) is left out. */
    t = mp_tree_new(ROOT, 4242, MP_BACKEND_PSS, 0);
    ck_assert_uint_eq(mp_tree_sample(t, 0, &total), 0);
    mp_tree_free(t);
    ck_assert_ptr_null(mp_tree_new(ROOT, 4242, MP_BACKEND_HEAP, 0));
    ck_assert_int_eq(errno, EINVAL);
    ck_assert_ptr_null(mp_tree_new(ROOT, 4242, MP_BACKEND_RSS, -1));
    ck_assert_int_eq(errno, EINVAL);
    mp_tree_free(NULL);
}
END_TEST

/* A writable fake procfs in a temporary folder, for trees that change. */
static void put_file(const char *dir, const char *leaf, const char *text)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, leaf);
    FILE *f = fopen(path, "w"); /* truncates in place: a kept descriptor sees it */
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    ck_assert_int_eq(fclose(f), 0);
}

/* <root>/<pid>/statm with that many resident pages, and the pid's children. */
static void put_process(const char *root, pid_t pid, long pages, const char *children)
{
    char dir[512], task[600], text[64];
    snprintf(dir, sizeof(dir), "%s/%d", root, (int)pid);
    snprintf(task, sizeof(task), "%s/task", dir);
    (void)mkdir(dir, 0700); /* may exist: the files are rewritten */
    (void)mkdir(task, 0700);
    snprintf(task, sizeof(task), "%s/task/%d", dir, (int)pid);
    (void)mkdir(task, 0700);
    put_file(task, "children", children);
    snprintf(text, sizeof(text), "1000 %ld 0 0 0 0 0\n", pages);
    put_file(dir, "statm", text);
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

/* A children file longer than one read: 3000 pids, 7 bytes each (21 KB),
 * so numbers straddle every 4 KiB piece; each is listed once, in order, and
 * the cap still holds. */
START_TEST(descendants_read_a_long_children_file)
{
    char root[] = "/tmp/mp_kids_XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(root));
    enum { KIDS = 3000 };
    static char list[KIDS * 7 + 1];
    size_t len = 0;
    for (int i = 0; i < KIDS; i++) {
        len += (size_t)snprintf(list + len, sizeof(list) - len, "%d ", 100000 + i);
    }
    put_process(root, 100, 1, list);
    static pid_t kids[KIDS + 8];
    size_t n = 0;
    ck_assert_int_eq(mp_proc_descendants(root, 100, kids, KIDS + 8, &n), 0);
    ck_assert_uint_eq(n, KIDS);
    for (int i = 0; i < KIDS; i++) {
        ck_assert_int_eq(kids[i], 100000 + i);
    }
    ck_assert_int_eq(mp_proc_descendants(root, 100, kids, 1000, &n), 0);
    ck_assert_uint_eq(n, 1000);
    ck_assert_int_eq(kids[999], 100999);
    /* No trailing blank, and a number too big for a pid: skipped. */
    put_process(root, 100, 1, "7 99999999999999 8");
    ck_assert_int_eq(mp_proc_descendants(root, 100, kids, 8, &n), 0);
    ck_assert_uint_eq(n, 2);
    ck_assert_int_eq(kids[0], 7);
    ck_assert_int_eq(kids[1], 8);
    ck_assert_int_eq(nftw(root, remove_entry, 16, FTW_DEPTH | FTW_PHYS), 0);
}
END_TEST

START_TEST(tree_keeps_readers_and_relists_on_time)
{
    char root[] = "/tmp/mp_tree_XXXXXX", dir[600];
    ck_assert_ptr_nonnull(mkdtemp(root));
    long ps = sysconf(_SC_PAGESIZE);
    int64_t total = 0;
    put_process(root, 100, 1, "101 101 ");  /* listed twice: followed once */
    put_process(root, 101, 10, "");
    mp_tree_t *t = mp_tree_new(root, 100, MP_BACKEND_RSS, 1000);
    ck_assert_uint_eq(mp_tree_sample(t, 5000, &total), 1);
    ck_assert_int_eq(total, 10 * ps);
    /* A new child waits for the next listing, due 1000 ns after the last. */
    put_process(root, 100, 1, "101 102 ");
    put_process(root, 102, 20, "");
    ck_assert_uint_eq(mp_tree_sample(t, 5999, &total), 1);
    ck_assert_uint_eq(mp_tree_sample(t, 6000, &total), 2);
    ck_assert_int_eq(mp_tree_pid(t, 1), 102);
    ck_assert_int_eq(total, 30 * ps);
    /* 101 ends (a zombie's statm is all zeros) and its pid goes at once to
     * an unrelated process (a new file): its kept reader sees the end and
     * drops it, the new process is not read in its place. */
    snprintf(dir, sizeof(dir), "%s/101", root);
    put_file(dir, "statm", "0 0 0 0 0 0 0\n");
    snprintf(dir, sizeof(dir), "%s/101/statm", root);
    ck_assert_int_eq(unlink(dir), 0);
    put_process(root, 101, 99, "");
    ck_assert_uint_eq(mp_tree_sample(t, 6001, &total), 1);
    ck_assert_int_eq(mp_tree_pid(t, 0), 102);
    ck_assert_int_eq(total, 20 * ps);
    /* The next listing finds pid 101 again: a new descendant, opened anew. */
    ck_assert_uint_eq(mp_tree_sample(t, 7000, &total), 2);
    ck_assert_int_eq(total, (99 + 20) * ps);
    mp_tree_free(t);
    /* No fixed cap: a large tree (root 100, 'fan' children 1000.. each with
     * 'fan' children 10000..) is listed whole, past the first table's size
     * and the old caps (1024, 4096), one descriptor per descendant. */
    struct rlimit rl;
    ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
    rl.rlim_cur = rl.rlim_max;
    (void)setrlimit(RLIMIT_NOFILE, &rl);
    ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
    int fan = rl.rlim_cur >= 4900 + 64 ? 70 : 30; /* 4970 or 930 descendants */
    char list[600];
    size_t len = 0;
    for (int i = 0; i < fan; i++) {
        size_t sub = 0;
        char sublist[600];
        for (int j = 0; j < fan; j++) {
            pid_t g = 10000 + i * fan + j;
            put_process(root, g, 1, "");
            sub += (size_t)snprintf(sublist + sub, sizeof(sublist) - sub, "%d ", (int)g);
        }
        put_process(root, 1000 + i, 2, sublist);
        len += (size_t)snprintf(list + len, sizeof(list) - len, "%d ", 1000 + i);
    }
    put_process(root, 100, 1, list);
    size_t all = (size_t)(fan + fan * fan);
    t = mp_tree_new(root, 100, MP_BACKEND_RSS, 0);
    ck_assert_uint_eq(mp_tree_sample(t, 0, &total), all);
    ck_assert_int_eq(total, (int64_t)(2 * fan + fan * fan) * ps);
    ck_assert_int_eq(mp_tree_pid(t, 0), 1000);                     /* breadth first */
    ck_assert_int_eq(mp_tree_pid(t, (size_t)fan), 10000);
    ck_assert_int_eq(mp_tree_pid(t, all - 1), 10000 + fan * fan - 1);
    mp_tree_free(t);
    ck_assert_int_eq(nftw(root, remove_entry, 16, FTW_DEPTH | FTW_PHYS), 0);
}
END_TEST

/* More descendants than descriptors: past half the soft RLIMIT_NOFILE they
 * are read by path, so every one is counted, at every sample (was: those
 * past the limit left out, and the next listing, out of descriptors, taken
 * for a root with no children). */
START_TEST(tree_wider_than_the_descriptor_limit)
{
    char root[] = "/tmp/mp_tree_XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(root));
    long ps = sysconf(_SC_PAGESIZE);
    enum { KIDS = 60 };
    char list[KIDS * 6 + 1];
    size_t len = 0;
    for (int i = 0; i < KIDS; i++) {
        put_process(root, 2000 + i, 1 + i, "");
        len += (size_t)snprintf(list + len, sizeof(list) - len, "%d ", 2000 + i);
    }
    put_process(root, 100, 1, list);
    struct rlimit saved, low;
    ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &saved), 0);
    low = saved;
    low.rlim_cur = 32; /* 16 kept at most; the rest of the 32 for the listing */
    ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &low), 0);
    mp_tree_t *t = mp_tree_new(root, 100, MP_BACKEND_RSS, 0);
    int64_t total = 0;
    for (int round = 0; round < 3; round++) {
        ck_assert_uint_eq(mp_tree_sample(t, round, &total), KIDS);
        ck_assert_int_eq(total, (int64_t)(KIDS * (KIDS + 1) / 2) * ps);
        ck_assert_int_eq(mp_tree_pid(t, KIDS - 1), 2000 + KIDS - 1);
        ck_assert_int_eq(mp_tree_bytes(t, KIDS - 1), (int64_t)KIDS * ps);
    }
    mp_tree_free(t);
    ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &saved), 0);
    ck_assert_int_eq(nftw(root, remove_entry, 16, FTW_DEPTH | FTW_PHYS), 0);
}
END_TEST

/* Wait until fd reaches end of file (every writer closed it). */
static void wait_for_eof(int fd)
{
    char c;
    while (read(fd, &c, 1) > 0) {
    }
}

START_TEST(tree_sees_live_children_come_and_go)
{
    int go[2], ready[2];
    pid_t kids[3];
    ck_assert_int_eq(pipe(go), 0);
    ck_assert_int_eq(pipe(ready), 0);
    for (int i = 0; i < 3; i++) {
        kids[i] = fork();
        ck_assert_int_ge(kids[i], 0);
        if (kids[i] == 0) {
            close(go[1]);
            close(ready[0]);
            pid_t grandchild = i == 0 ? fork() : -1;
            if (grandchild == 0) {
                close(ready[1]);
                wait_for_eof(go[0]);
                _exit(0);
            }
            ssize_t w = write(ready[1], "x", 1);
            close(ready[1]);
            wait_for_eof(go[0]);
            if (grandchild > 0) {
                waitpid(grandchild, NULL, 0);
            }
            _exit(w == 1 ? 0 : 1);
        }
    }
    close(go[0]);
    close(ready[1]);
    wait_for_eof(ready[0]); /* all three started, the grandchild forked */
    close(ready[0]);

    mp_tree_t *t = mp_tree_new(MP_PROC_ROOT, 0, MP_BACKEND_RSS, 0);
    ck_assert_ptr_nonnull(t);
    int64_t total = 0, sum = 0;
    ck_assert_uint_eq(mp_tree_sample(t, mp_clock_mono_ns(), &total), 4);
    for (size_t i = 0; i < 4; i++) {
        ck_assert_int_gt(mp_tree_bytes(t, i), 0);
        sum += mp_tree_bytes(t, i);
        if (i < 3) { /* breadth first: the children, then the grandchild */
            pid_t p = mp_tree_pid(t, i);
            ck_assert(p == kids[0] || p == kids[1] || p == kids[2]);
        }
    }
    ck_assert_int_eq(total, sum);
    /* The one-shot reading counts the first child's grandchild too. */
    int64_t alone = 0, with = 0;
    ck_assert_int_eq(mp_meter_read(MP_BACKEND_RSS, kids[0], 0, &alone), 0);
    ck_assert_int_eq(mp_meter_read(MP_BACKEND_RSS, kids[0], 1, &with), 0);
    ck_assert_int_gt(with, alone);

    /* They end: zombies (not reaped yet) count as ended. */
    close(go[1]);
    size_t left = 4;
    for (int tries = 0; tries < 400 && left > 0; tries++) {
        sleep_ms(5);
        left = mp_tree_sample(t, mp_clock_mono_ns(), &total);
    }
    ck_assert_uint_eq(left, 0);
    ck_assert_int_eq(total, 0);
    for (int i = 0; i < 3; i++) {
        int status;
        ck_assert_int_eq(waitpid(kids[i], &status, 0), kids[i]);
        ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    ck_assert_uint_eq(mp_tree_sample(t, mp_clock_mono_ns(), &total), 0);
    mp_tree_free(t);
}
END_TEST

/* ------------------------------------------------------------ data file */

static void parse_text(const char *text, mp_profile_t *p)
{
    ck_assert_int_eq(mp_profile_parse(text, strlen(text), p), 0);
}

START_TEST(datafile_reads_every_record_kind)
{
    mp_profile_t p;
    parse_text("CMDLINE python 'my script.py'\n"
               "MEM 10.500000 100.0000\n"
               "CHLD 77 2.000000 100.0500\n"
               "MEM 12.250000 100.1000\n"
               "FUNC __main__.f 10.5000 100.0100 12.0000 100.0900 0\n"
               "FUNC __main__.g 11.0000 100.0200 11.5000 100.0300\n"
               "FUNC __main__.f 12.0000 100.0950 12.1000 100.0990 1\n", &p);
    ck_assert_str_eq(p.cmdline, "python 'my script.py'");
    ck_assert_uint_eq(p.mem.n, 2);
    ck_assert(fabs(p.mem.mib[1] - 12.25) < 1e-9 && fabs(p.mem.t[1] - 100.1) < 1e-9);
    ck_assert_uint_eq(p.nchildren, 1);
    ck_assert_int_eq(p.children[0].pid, 77);
    ck_assert_uint_eq(p.ncalls, 3);
    ck_assert_uint_eq(p.nnames, 2);
    ck_assert_str_eq(p.names[p.calls[1].name], "__main__.g");
    ck_assert_int_eq(p.calls[1].level, -1); /* the older 5-field FUNC */
    ck_assert_int_eq(p.calls[2].level, 1);
    ck_assert_uint_eq(p.nskipped, 0);
    ck_assert(fabs(mp_series_max(&p.mem) - 12.25) < 1e-9);
    ck_assert(fabs(mp_profile_start(&p) - 100.0) < 1e-9);
    mp_profile_free(&p);
}
END_TEST

START_TEST(datafile_tolerates_damage_and_disorder)
{
    mp_profile_t p;
    parse_text("MEM 5.0 200.2\n"
               "NEWRECORD whatever 1 2 3\n"
               "\n"
               "MEM 7.0 200.0\n"
               "garbage \x01\x02 line\n"
               "MEM abc 200.1\n"
               "MEM 6.0 200.1 extra\n"
               "CMDLINE second run\n"
               "CHLD x 1.0 2.0\n"
               "FUNC f 1 2 3\n"
               "MEM 9.0 200.3\r\n"
               "MEM 8.0 20", &p); /* cut off mid-record */
    ck_assert_uint_eq(p.mem.n, 3);
    ck_assert(p.mem.t[0] < p.mem.t[1] && p.mem.t[1] < p.mem.t[2]);
    ck_assert(fabs(p.mem.mib[0] - 7.0) < 1e-9);
    ck_assert(fabs(mp_series_max(&p.mem) - 9.0) < 1e-9);
    ck_assert_uint_eq(p.nruns, 1);
    ck_assert_uint_eq(p.nskipped, 6);
    ck_assert_uint_eq(p.ncalls, 0);
    mp_profile_free(&p);
    parse_text("", &p);
    ck_assert_uint_eq(p.mem.n, 0);
    ck_assert(isnan(mp_series_max(&p.mem)) && isnan(mp_profile_start(&p)));
    mp_profile_free(&p);
}
END_TEST

START_TEST(datafile_numbers_parse_like_strtod)
{
    const char *cases[] = {"0", "12.5", "-3.25", "1795526122.5998", "63.175781", "1e3", "2.5E-2",
                           "123456789012345678901234", "0.000001", "+4"};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *s = cases[i], *end = NULL;
        double v = mp_datafile_number(s, s + strlen(s), &end);
        ck_assert_ptr_eq(end, s + strlen(s));
        ck_assert(fabs(v - strtod(s, NULL)) <= 1e-12 * fabs(v) + 1e-15);
    }
}
END_TEST

START_TEST(datafile_writer_round_trips)
{
    char path[] = "/tmp/mp_test_dfw_XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    close(fd);
    mp_dfw_t *w = mp_dfw_open(path);
    ck_assert_ptr_nonnull(w);
    char *argv[] = {"prog", "two words", "tab\there", "new\nline"};
    ck_assert_int_eq(mp_dfw_cmdline(w, 4, argv), 0);
    for (int i = 0; i < 5000; i++) { /* more than one buffer's worth */
        ck_assert_int_eq(mp_dfw_mem(w, i / 8.0, 1000.0 + i / 1000.0), 0);
        ck_assert_int_eq(mp_dfw_child(w, 4243, i / 16.0, 1000.0 + i / 1000.0), 0);
    }
    ck_assert_int_eq(mp_dfw_close(w), 0);
    mp_profile_t p;
    ck_assert_int_eq(mp_profile_read(path, &p), 0);
    ck_assert_str_eq(p.cmdline, "prog 'two words' 'tab\there' new line");
    ck_assert_uint_eq(p.mem.n, 5000);
    ck_assert_uint_eq(p.children[0].s.n, 5000);
    ck_assert(fabs(p.mem.mib[4999] - 4999 / 8.0) < 1e-6);
    ck_assert_uint_eq(p.nskipped, 0);
    mp_profile_free(&p);
    /* A symbolic link planted in place of the file is not followed. */
    char link[64];
    snprintf(link, sizeof(link), "%s.lnk", path);
    ck_assert_int_eq(symlink(path, link), 0);
    ck_assert_ptr_null(mp_dfw_open(link));
    ck_assert_int_eq(errno, ELOOP);
    unlink(link);
    unlink(path);
    /* Write errors are reported, and stay reported. */
    w = mp_dfw_open("/dev/full");
    ck_assert_ptr_nonnull(w);
    ck_assert_int_eq(mp_dfw_mem(w, 1.0, 2.0), 0);
    ck_assert_int_eq(mp_dfw_flush(w), -1);
    ck_assert_int_eq(errno, ENOSPC);
    ck_assert_int_eq(mp_dfw_mem(w, 1.0, 2.0), -1);
    ck_assert_int_eq(mp_dfw_close(w), -1);
    ck_assert_int_eq(mp_profile_read("/nonexistent/file.dat", &p), -1);
    ck_assert_int_eq(errno, ENOENT);
    ck_assert_int_eq(mp_profile_read("/tmp", &p), -1);
    ck_assert_int_eq(errno, EISDIR);
    /* A device never ends; a FIFO would block: both refused at once. */
    ck_assert_int_eq(mp_profile_read("/dev/zero", &p), -1);
    ck_assert_int_eq(errno, MP_ENOTREG);
    ck_assert_str_eq(mp_profile_strerror(MP_ENOTREG), "not a regular file");
    char fifo[] = "/tmp/mp_test_fifo_XXXXXX";
    int tfd = mkstemp(fifo);
    ck_assert_int_ge(tfd, 0);
    close(tfd);
    unlink(fifo);
    ck_assert_int_eq(mkfifo(fifo, 0600), 0);
    ck_assert_int_eq(mp_profile_read(fifo, &p), -1);
    ck_assert_int_eq(errno, MP_ENOTREG);
    unlink(fifo);
}
END_TEST

START_TEST(processes_found_by_name_and_cmdline)
{
    char buf[256];
    int argc = 0;
    pid_t pid = 0;
    ck_assert_int_eq(mp_proc_cmdline(ROOT, 4242, buf, sizeof(buf), &argc), 0);
    ck_assert_int_eq(argc, 3);
    ck_assert_str_eq(buf + strlen(buf) + 1, "--flag");
    ck_assert_int_eq(mp_proc_comm(ROOT, 4243, buf, sizeof(buf)), 0);
    ck_assert_str_eq(buf, "worker");
    ck_assert_int_eq(mp_proc_find_by_name(ROOT, "work", &pid), 0); /* comm */
    ck_assert_int_eq(pid, 4243);
    ck_assert_int_eq(mp_proc_find_by_name(ROOT, "data-cruncher", &pid), 0); /* argv[0] */
    ck_assert_int_eq(pid, 4243);
    ck_assert_int_eq(mp_proc_find_by_name(ROOT, "--flag", &pid), -1); /* not argv[1] */
    ck_assert_int_eq(errno, ENOENT);
}
END_TEST

START_TEST(pid_meter_follows_a_child_until_it_ends)
{
    int pipefd[2];
    ck_assert_int_eq(pipe(pipefd), 0);
    pid_t child = fork();
    if (child == 0) {
        char c;
        close(pipefd[1]);
        ssize_t r = read(pipefd[0], &c, 1); /* wait for the parent */
        _exit(r < 0);
    }
    close(pipefd[0]);
    mp_pidmeter_t m;
    int64_t bytes = 0;
    ck_assert_int_eq(mp_pidmeter_open(&m, child, MP_BACKEND_RSS), 0);
    ck_assert_int_eq(mp_pidmeter_read(&m, &bytes), 0);
    ck_assert_int_gt(bytes, 0);
    close(pipefd[1]); /* the child exits: a zombie, then gone */
    usleep(100000);
    ck_assert_int_eq(mp_pidmeter_read(&m, &bytes), -1);
    ck_assert_int_eq(errno, ESRCH);
    int status;
    waitpid(child, &status, 0);
    ck_assert_int_eq(mp_pidmeter_read(&m, &bytes), -1);
    ck_assert_int_eq(errno, ESRCH);
    mp_pidmeter_close(&m);
    ck_assert_int_eq(mp_pidmeter_open(&m, child, MP_BACKEND_RSS), -1);
    ck_assert_int_eq(errno, ENOENT);
    mp_pidmeter_close(&m);
}
END_TEST

/* The thread count the kernel shows in /proc/self/stat (field 20). */
static long self_num_threads(void)
{
    char buf[4096];
    ck_assert_int_ge(mp_proc_read_file("/proc/self/stat", buf, sizeof(buf)), 0);
    const char *p = strrchr(buf, ')');
    ck_assert_ptr_nonnull(p);
    for (int field = 2; field < 20; field++) { /* ')' ends field 2 */
        p = strchr(p + 1, ' ');
        ck_assert_ptr_nonnull(p);
    }
    return strtol(p + 1, NULL, 10);
}

static pid_t seen_tid;
static void *note_tid(void *arg)
{
    (void)arg;
    seen_tid = mp_proc_thread_id();
    return NULL;
}

/* CPython 3.12+ warns about fork() in a multi-threaded process by this count:
 * after join + wait the joined thread must never be counted. */
START_TEST(joined_thread_is_gone_after_the_wait)
{
    ck_assert_int_eq(self_num_threads(), 1);
    for (int i = 0; i < 2000; i++) {
        pthread_t t;
        ck_assert_int_eq(pthread_create(&t, NULL, note_tid, NULL), 0);
        ck_assert_int_eq(pthread_join(t, NULL), 0);
        ck_assert_int_gt(seen_tid, 0);
        ck_assert_int_eq(mp_proc_wait_thread_gone(MP_PROC_ROOT, seen_tid, 200), 0);
        ck_assert_int_eq(self_num_threads(), 1);
    }
    /* A thread that is there is waited for at most the timeout. */
    ck_assert_int_eq(mp_proc_wait_thread_gone(MP_PROC_ROOT, mp_proc_thread_id(), 5), -1);
    ck_assert_int_eq(errno, ETIMEDOUT);
}
END_TEST

START_TEST(json_reader_takes_json_and_refuses_the_rest)
{
    mp_jval_t v;
    char err[200];
    const char *doc = "{\"s\": \"a\\u00e9\\ud83d\\ude00\\n\\\"\", \"n\": -1.5e3, "
                      "\"a\": [true, false, null, {}], \"s\": \"last\"}";
    ck_assert_int_eq(mp_json_parse(doc, strlen(doc), &v, err, sizeof(err)), 0);
    ck_assert_str_eq(mp_json_string_of(&v, "s", "?"), "last"); /* the last of a repeated key */
    ck_assert_str_eq(v.items[0].str, "a\xc3\xa9\xf0\x9f\x98\x80\n\"");
    ck_assert(mp_json_number_of(&v, "n", 0) == -1500.0);
    const mp_jval_t *a = mp_json_member(&v, "a");
    ck_assert_int_eq((int)a->len, 4);
    ck_assert_int_eq(a->items[0].type, MP_JTRUE);
    ck_assert_int_eq(a->items[3].type, MP_JOBJ);
    mp_jval_free(&v);
    const char *bad[] = {"", "[1,]", "{\"a\" 1}", "[01]", "-", "\"\x01\"", "\"abc", "[1] 2",
                         "1e999", "{\"a\":tru}", "\"\\x\"", "[1.]"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_msg(mp_json_parse(bad[i], strlen(bad[i]), &v, err, sizeof(err)) == -1, "%s", bad[i]);
        ck_assert(strstr(err, "at byte") != NULL);
    }
    char deep[200];
    memset(deep, '[', 65);
    memset(deep + 65, ']', 65);
    ck_assert_int_eq(mp_json_parse(deep, 130, &v, err, sizeof(err)), -1);
    ck_assert(strstr(err, "nested too deep") != NULL);
    ck_assert_int_eq(mp_json_parse(deep + 1, 128, &v, err, sizeof(err)), 0); /* 64 deep: fine */
    mp_jval_free(&v);
}
END_TEST

static const char *line_report(char *buf, size_t cap, const char *lines)
{
    snprintf(buf, cap,
             "{\"format\": \"memory_profiler-c line report\", \"columns\": [\"heap\"], "
             "\"functions\": [{\"filename\": \"/a/b/m.py\", \"function\": \"f\", "
             "\"lines\": [%s]}]}", lines);
    return buf;
}

START_TEST(diff_matches_lines_by_text_and_applies_limits)
{
    char a[1024], b[1024], err[256];
    /* Same texts, moved down a line; "y" grows by 2 MiB; a repeated text
     * matches in order; "z" is new. */
    line_report(a, sizeof(a),
                "{\"lineno\": 2, \"source\": \"x = 1\", \"heap_net\": 100},"
                "{\"lineno\": 3, \"source\": \"  y = f()\\n\", \"heap_net\": 1048576},"
                "{\"lineno\": 4, \"source\": \"x = 1\", \"heap_net\": 7}");
    line_report(b, sizeof(b),
                "{\"lineno\": 3, \"source\": \"x = 1\", \"heap_net\": 100},"
                "{\"lineno\": 4, \"source\": \"y = f()\", \"heap_net\": 3145728},"
                "{\"lineno\": 5, \"source\": \"x = 1\", \"heap_net\": 7},"
                "{\"lineno\": 6, \"source\": \"z = g()\", \"heap_net\": 10}");
    mp_diff_opts_t o = {MP_DIFF_AUTO, 2.5 * MP_MIB, -1, -1, 0, 0};
    mp_buf_t out = {0};
    mp_diff_result_t res;
    ck_assert_int_eq(mp_diff_reports(a, strlen(a), "a", b, strlen(b), "b", &o, &out, &res, err,
                                     sizeof(err)), 0);
    ck_assert_int_eq(res.metric, MP_DIFF_HEAP);
    ck_assert_int_eq(res.changed, 2);  /* y, and z added */
    ck_assert_int_eq(res.breaches, 0); /* +2 MiB is under 2.5 MiB */
    ck_assert(strstr(out.data, "+2.000 MiB   y = f()") != NULL);
    ck_assert(strstr(out.data, "x = 1") == NULL);
    mp_buf_free(&out);
    o.max_line = MP_MIB;
    o.max_total = 0;
    ck_assert_int_eq(mp_diff_reports(a, strlen(a), "a", b, strlen(b), "b", &o, &out, &res, err,
                                     sizeof(err)), 0);
    ck_assert_int_eq(res.breaches, 2); /* the line, and the function's total */
    mp_buf_free(&out);
    /* A metric neither report has, and a document that is no line report. */
    o.metric = MP_DIFF_NATIVE;
    ck_assert_int_eq(mp_diff_reports(a, strlen(a), "a", b, strlen(b), "b", &o, &out, &res, err,
                                     sizeof(err)), -1);
    ck_assert(strstr(err, "no native column") != NULL);
    ck_assert_int_eq(mp_diff_reports("[]", 2, "a", b, strlen(b), "b", &o, &out, &res, err,
                                     sizeof(err)), -1);
    ck_assert(strstr(err, "a: not a line report") != NULL);
    mp_buf_free(&out);
    double bytes;
    ck_assert_int_eq(mp_diff_parse_size("24 MB", &bytes), 0);
    ck_assert(bytes == 24.0 * MP_MIB);
    ck_assert_int_eq(mp_diff_parse_size("1.5kib", &bytes), 0);
    ck_assert(bytes == 1536.0);
    ck_assert_int_eq(mp_diff_parse_size("-1MB", &bytes), -1);
    ck_assert_int_eq(mp_diff_parse_size("12 parsecs", &bytes), -1);
}
END_TEST

void add_lines_tests(Suite *s);

static Suite *core_suite(void)
{
    Suite *s = suite_create("core");
    TCase *tc = tcase_create("proc");
    tcase_add_test(tc, statm_parses_resident_pages);
    tcase_add_test(tc, statm_rejects_garbage);
    tcase_add_test(tc, stat_skips_odd_command_names);
    tcase_add_test(tc, smaps_rollup_gives_pss_and_uss);
    tcase_add_test(tc, status_gives_peak_and_current);
    tcase_add_test(tc, readers_use_the_given_root);
    tcase_add_test(tc, missing_process_is_enoent);
    tcase_add_test(tc, descendants_breadth_first);
    tcase_add_test(tc, real_self_rss_is_plausible);
    tcase_add_test(tc, backend_names_round_trip);
    suite_add_tcase(s, tc);
    tc = tcase_create("ptrmap");
    tcase_add_test(tc, ptrmap_put_take);
    tcase_add_test(tc, ptrmap_churn_matches_a_model);
    tcase_add_test(tc, ptrmap_shrinks_when_emptied);
    suite_add_tcase(s, tc);
    tc = tcase_create("report");
    tcase_add_test(tc, report_header_and_separator);
    tcase_add_test(tc, report_rows_match_the_reference_layout);
    tcase_add_test(tc, report_truncation_is_reported);
    tcase_add_test(tc, clock_is_monotonic_and_wall_is_recent);
    suite_add_tcase(s, tc);
    tc = tcase_create("sampler");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, sampler_samples_at_its_interval_and_keeps_the_peak);
    tcase_add_test(tc, sampler_rejects_a_missing_process_and_bad_options);
    suite_add_tcase(s, tc);
    tc = tcase_create("tree");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, tree_follows_the_fixture_descendants);
    tcase_add_test(tc, descendants_read_a_long_children_file);
    tcase_add_test(tc, tree_keeps_readers_and_relists_on_time);
    tcase_add_test(tc, tree_wider_than_the_descriptor_limit);
    tcase_add_test(tc, tree_sees_live_children_come_and_go);
    suite_add_tcase(s, tc);
    tc = tcase_create("datafile");
    tcase_add_test(tc, datafile_reads_every_record_kind);
    tcase_add_test(tc, datafile_tolerates_damage_and_disorder);
    tcase_add_test(tc, datafile_numbers_parse_like_strtod);
    tcase_add_test(tc, datafile_writer_round_trips);
    tcase_add_test(tc, processes_found_by_name_and_cmdline);
    tcase_add_test(tc, pid_meter_follows_a_child_until_it_ends);
    tcase_add_test(tc, joined_thread_is_gone_after_the_wait);
    tcase_add_test(tc, json_reader_takes_json_and_refuses_the_rest);
    tcase_add_test(tc, diff_matches_lines_by_text_and_applies_limits);
    suite_add_tcase(s, tc);
    add_lines_tests(s);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(core_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
