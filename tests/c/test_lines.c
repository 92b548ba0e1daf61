/* Line accounting (src/core/mp_lines.c) driven by synthetic events and a
 * fake meter: the report's rule, checked without an interpreter. Each test
 * leaves the engine as it found it (the suite also runs with CK_FORK=no). */
#include "mp_lines.h"

#include <check.h>
#include <pthread.h>
#include <stdlib.h>

static int64_t fake_v[MP_NPQ];
static _Thread_local int64_t fake_t[MP_NTQ];

static int fake_read(int q, int64_t *v, int64_t *hwm)
{
    *v = fake_v[q];
    if (hwm != NULL) {
        *hwm = -1;
    }
    return 0;
}

static int fake_cheap(int q)
{
    (void)q;
    return 0;
}

static int64_t fake_tls(int tq)
{
    return fake_t[tq];
}

static int firsts, lasts;
static void on_first(const void *k) { (void)k; firsts++; }
static void on_last(const void *k) { (void)k; lasts++; }

static void setup(void)
{
    mp_lines_reader_t r = {fake_read, fake_cheap, fake_tls};
    mp_lines_set_reader(&r);
    mp_lines_set_code_hooks(on_first, on_last);
    for (int q = 0; q < MP_NPQ; q++) {
        fake_v[q] = 1000;
    }
    for (int k = 0; k < MP_NTQ; k++) {
        fake_t[k] = 0;
    }
    firsts = lasts = 0;
}

/* Code identities: any distinct addresses. */
static const char code_f, code_comp, code_inner, code_g, code_h;

static const mp_row_t *row(mp_table_t *t, int b, int line)
{
    return mp_table_row(t, b, line);
}

static int64_t block_sum(mp_table_t *t, int b)
{
    const mp_block_t *blk = mp_table_block(t, b);
    int64_t s = 0;
    for (int i = 0; i < blk->nlines; i++) {
        s += blk->rows[i].inc;
    }
    return s;
}

/* f (lines 10..15): line 12 builds a list in a comprehension (its own code
 * object on 3.8-3.11) that allocates 50. The change shows once, on 12. */
START_TEST(nested_code_counts_once_on_the_innermost_line)
{
    setup();
    mp_table_t *t = mp_table_new(MP_Q_RSS, 0, 1);
    int b = mp_table_add_block(t, 10, 6);
    ck_assert_int_eq(mp_code_subscribe(&code_f, 10, t, b), 0);
    ck_assert_int_eq(mp_code_subscribe(&code_comp, 12, t, b), 0);
    ck_assert_int_eq(firsts, 2);
    ck_assert_int_eq(mp_table_activate(t), 0);
    mp_code_t *f = mp_code_get(&code_f), *c = mp_code_get(&code_comp);
    mp_lines_start(f, NULL, 10);
    mp_lines_line(f, NULL, 11);
    fake_v[MP_Q_RSS] += 7;                 /* line 11: +7 */
    mp_lines_line(f, NULL, 12);
    mp_lines_start(c, NULL, 12);
    mp_lines_line(c, NULL, 12);
    fake_v[MP_Q_RSS] += 50;                /* inside the comprehension */
    mp_lines_end(c, NULL, 1);
    mp_lines_line(f, NULL, 13);
    fake_v[MP_Q_RSS] -= 20;                /* line 13: -20 */
    mp_lines_end(f, NULL, 1);
    mp_table_deactivate(t);
    ck_assert_int_eq(row(t, b, 11)->inc, 7);
    ck_assert_int_eq(row(t, b, 12)->inc, 50);
    ck_assert_int_eq(row(t, b, 13)->inc, -20);
    ck_assert_int_eq(block_sum(t, b), 37);  /* the sum rule */
    ck_assert_int_eq(row(t, b, 11)->occ, 1);
    ck_assert_int_eq(row(t, b, 13)->occ, 1);
    mp_table_free(t);
    ck_assert_int_eq(lasts, 2);
    ck_assert_ptr_null(mp_code_get(&code_f));
}
END_TEST

/* f recurses three levels deep through line 11; each level allocates 10 on
 * line 12. Line 12 shows 30, line 11 shows nothing of its own. */
START_TEST(recursion_charges_the_allocating_line)
{
    setup();
    mp_table_t *t = mp_table_new(MP_Q_RSS, 0, 1);
    int b = mp_table_add_block(t, 10, 5);
    mp_code_subscribe(&code_f, 10, t, b);
    mp_table_activate(t);
    mp_code_t *f = mp_code_get(&code_f);
    for (int level = 0; level < 3; level++) {
        mp_lines_start(f, NULL, 10);
        mp_lines_line(f, NULL, 11);
    }
    for (int level = 0; level < 3; level++) {
        mp_lines_line(f, NULL, 12);
        fake_v[MP_Q_RSS] += 10;
        mp_lines_line(f, NULL, 13);
        mp_lines_end(f, NULL, 1);
    }
    mp_table_deactivate(t);
    ck_assert_int_eq(row(t, b, 12)->inc, 30);
    ck_assert_int_eq(row(t, b, 11)->inc, 0);
    ck_assert_int_eq(row(t, b, 12)->occ, 3);
    ck_assert_int_eq(block_sum(t, b), 30);
    mp_table_free(t);
}
END_TEST

/* g (table A) calls h (table B) on line 21; h allocates 40 on line 31. Each
 * table counts it once: A on the calling line, B on the allocating one. */
START_TEST(a_callee_in_another_table_is_charged_to_the_calling_line)
{
    setup();
    mp_table_t *A = mp_table_new(MP_Q_RSS, 0, 1), *B = mp_table_new(MP_Q_RSS, 0, 1);
    int a = mp_table_add_block(A, 20, 4), b = mp_table_add_block(B, 30, 4);
    mp_code_subscribe(&code_g, 20, A, a);
    mp_code_subscribe(&code_h, 30, B, b);
    mp_table_activate(A);
    mp_table_activate(B);
    mp_code_t *g = mp_code_get(&code_g), *h = mp_code_get(&code_h);
    mp_lines_start(g, NULL, 20);
    mp_lines_line(g, NULL, 21);
    mp_lines_start(h, NULL, 30);
    mp_lines_line(h, NULL, 31);
    fake_v[MP_Q_RSS] += 40;
    mp_lines_line(h, NULL, 32);
    mp_lines_end(h, NULL, 1);
    mp_lines_line(g, NULL, 22);
    mp_lines_end(g, NULL, 1);
    ck_assert_int_eq(row(A, a, 21)->inc, 40);
    ck_assert_int_eq(row(B, b, 31)->inc, 40);
    ck_assert_int_eq(block_sum(A, a), 40);
    ck_assert_int_eq(block_sum(B, b), 40);
    mp_table_deactivate(A);
    mp_table_deactivate(B);
    mp_table_free(A);
    mp_table_free(B);
}
END_TEST

/* The same with one table and two blocks (two functions profiled by one
 * profiler, as under the CLI): each block is a table of the report, so the
 * calling line shows the callee's bytes too. */
START_TEST(a_callee_in_another_block_is_charged_to_the_calling_line)
{
    setup();
    mp_table_t *t = mp_table_new(MP_Q_RSS, 0, 1);
    int a = mp_table_add_block(t, 20, 4), b = mp_table_add_block(t, 30, 4);
    mp_code_subscribe(&code_g, 20, t, a);
    mp_code_subscribe(&code_h, 30, t, b);
    mp_table_activate(t);
    mp_code_t *g = mp_code_get(&code_g), *h = mp_code_get(&code_h);
    mp_lines_start(g, NULL, 20);
    mp_lines_line(g, NULL, 21);
    fake_v[MP_Q_RSS] += 3;
    mp_lines_start(h, NULL, 30);
    mp_lines_line(h, NULL, 31);
    fake_v[MP_Q_RSS] += 40;
    mp_lines_line(h, NULL, 32);
    mp_lines_end(h, NULL, 1);
    mp_lines_line(g, NULL, 22);
    mp_lines_end(g, NULL, 1);
    mp_table_deactivate(t);
    ck_assert_int_eq(row(t, a, 21)->inc, 43);
    ck_assert_int_eq(row(t, b, 31)->inc, 40);
    ck_assert_int_eq(block_sum(t, a), 43);
    ck_assert_int_eq(block_sum(t, b), 40);
    mp_table_free(t);
}
END_TEST

/* A nested function of f's block (another code object) called from line 11:
 * its line 41 gets the bytes, the calling line 11 does not (same table). */
START_TEST(a_nested_function_shows_its_bytes_once)
{
    setup();
    mp_table_t *t = mp_table_new(MP_Q_RSS, 0, 1);
    int b = mp_table_add_block(t, 10, 40);
    mp_code_subscribe(&code_f, 10, t, b);
    mp_code_subscribe(&code_inner, 40, t, b);
    mp_table_activate(t);
    mp_code_t *f = mp_code_get(&code_f), *in = mp_code_get(&code_inner);
    mp_lines_start(f, NULL, 10);
    mp_lines_line(f, NULL, 11);
    mp_lines_start(in, NULL, 40);
    mp_lines_line(in, NULL, 41);
    fake_v[MP_Q_RSS] += 64;
    mp_lines_end(in, NULL, 1);
    mp_lines_line(f, NULL, 12);
    mp_lines_end(f, NULL, 1);
    mp_table_deactivate(t);
    ck_assert_int_eq(row(t, b, 41)->inc, 64);
    ck_assert_int_eq(row(t, b, 11)->inc, 0);
    ck_assert_int_eq(block_sum(t, b), 64);
    mp_table_free(t);
}
END_TEST

/* Frames count only where the table is active: not before activation, not
 * after, and a global table everywhere. */
START_TEST(frames_count_only_while_the_table_is_active)
{
    setup();
    mp_table_t *t = mp_table_new(MP_Q_RSS, 0, 1);
    int b = mp_table_add_block(t, 10, 4);
    mp_code_subscribe(&code_f, 10, t, b);
    mp_code_t *f = mp_code_get(&code_f);
    /* Not active: nothing counted. */
    mp_lines_start(f, NULL, 10);
    mp_lines_line(f, NULL, 11);
    fake_v[MP_Q_RSS] += 5;
    mp_lines_end(f, NULL, 1);
    ck_assert_int_eq(row(t, b, 11)->occ, 0);
    /* Active by count. */
    mp_table_activate(t);
    mp_lines_start(f, NULL, 10);
    mp_lines_line(f, NULL, 11);
    fake_v[MP_Q_RSS] += 5;
    mp_lines_end(f, NULL, 1);
    mp_table_deactivate(t);
    ck_assert_int_eq(row(t, b, 11)->occ, 1);
    ck_assert_int_eq(row(t, b, 11)->inc, 5);
    /* Deactivated inside a running frame: its later lines are not counted. */
    mp_table_activate(t);
    mp_lines_start(f, NULL, 10);
    mp_lines_line(f, NULL, 11);
    mp_table_deactivate(t);
    mp_lines_line(f, NULL, 12);
    mp_lines_line(f, NULL, 13);
    mp_lines_end(f, NULL, 1);
    ck_assert_int_eq(row(t, b, 12)->occ, 0);
    /* Global: counted without activation. */
    mp_table_set_global(t, 1);
    mp_lines_start(f, NULL, 10);
    mp_lines_line(f, NULL, 12);
    mp_lines_end(f, NULL, 1);
    mp_table_set_global(t, 0);
    ck_assert_int_eq(row(t, b, 12)->occ, 1);
    mp_table_free(t);
}
END_TEST

/* Thread-local quantities (the heap column) go to the innermost line of the
 * thread that allocated. */
START_TEST(heap_bytes_go_to_the_innermost_line)
{
    setup();
    mp_table_t *t = mp_table_new(MP_Q_RSS, MP_COL_HEAP, 0);
    int b = mp_table_add_block(t, 10, 40);
    mp_code_subscribe(&code_f, 10, t, b);
    mp_code_subscribe(&code_inner, 40, t, b);
    fake_t[MP_T_HEAP_NET] = 999;           /* before the call: not ours */
    fake_t[MP_T_HEAP_ALLOC] = 999;
    mp_table_activate(t);
    mp_code_t *f = mp_code_get(&code_f), *in = mp_code_get(&code_inner);
    mp_lines_start(f, NULL, 10);
    mp_lines_line(f, NULL, 11);
    fake_t[MP_T_HEAP_NET] += 100;
    fake_t[MP_T_HEAP_ALLOC] += 100;
    mp_lines_start(in, NULL, 40);
    mp_lines_line(in, NULL, 41);
    fake_t[MP_T_HEAP_NET] += 30;
    fake_t[MP_T_HEAP_ALLOC] += 50;
    mp_lines_end(in, NULL, 1);
    mp_lines_line(f, NULL, 12);
    mp_lines_end(f, NULL, 1);
    mp_table_deactivate(t);
    ck_assert_int_eq(row(t, b, 11)->heap_net, 100);
    ck_assert_int_eq(row(t, b, 41)->heap_net, 30);
    ck_assert_int_eq(row(t, b, 41)->heap_alloc, 50);
    ck_assert_int_eq(row(t, b, 10)->heap_net, 0);
    mp_table_free(t);
}
END_TEST

/* Two threads share one table, each activating it for its own calls: every
 * line counted once per execution, every change once. */
static mp_table_t *shared;
static int shared_block;

static void *thread_calls(void *arg)
{
    (void)arg;
    mp_code_t *f = mp_code_get(&code_f);
    for (int i = 0; i < 100; i++) {
        mp_table_activate(shared);
        mp_lines_start(f, NULL, 10);
        mp_lines_line(f, NULL, 11);
        mp_lines_line(f, NULL, 12);
        mp_lines_end(f, NULL, 1);
        mp_table_deactivate(shared);
    }
    return NULL;
}

START_TEST(threads_count_their_own_calls)
{
    setup();
    shared = mp_table_new(MP_Q_RSS, 0, 0);
    shared_block = mp_table_add_block(shared, 10, 4);
    mp_code_subscribe(&code_f, 10, shared, shared_block);
    /* The engine expects one lock around it (the GIL): run the threads
     * one after the other, but on distinct thread states. */
    for (int k = 0; k < 4; k++) {
        pthread_t th;
        ck_assert_int_eq(pthread_create(&th, NULL, thread_calls, NULL), 0);
        pthread_join(th, NULL);
    }
    ck_assert_int_eq(row(shared, shared_block, 11)->occ, 400);
    ck_assert_int_eq(row(shared, shared_block, 12)->occ, 400);
    /* The main thread never activated it. */
    ck_assert_int_eq(mp_table_active_here(shared), 0);
    mp_table_free(shared);
}
END_TEST

/* A table freed while its frames run: later events are harmless. */
START_TEST(a_table_freed_mid_frame_leaves_inert_frames)
{
    setup();
    mp_table_t *t = mp_table_new(MP_Q_RSS, MP_COL_PEAK, 1);
    int b = mp_table_add_block(t, 10, 4);
    mp_code_subscribe(&code_f, 10, t, b);
    mp_table_activate(t);
    mp_code_t *f = mp_code_get(&code_f);
    mp_lines_start(f, NULL, 10);
    mp_lines_line(f, NULL, 11);
    mp_table_free(t);
    ck_assert_ptr_null(mp_code_get(&code_f));
    /* The code is gone from the registry: the event source would not call
     * us for it any more, but a frame entry may remain; a new table on the
     * same code must start clean. */
    mp_table_t *u = mp_table_new(MP_Q_RSS, 0, 1);
    int ub = mp_table_add_block(u, 10, 4);
    mp_code_subscribe(&code_f, 10, u, ub);
    f = mp_code_get(&code_f);
    mp_lines_line(f, NULL, 12);
    mp_lines_end(f, NULL, 1);
    ck_assert_int_eq(row(u, ub, 12)->occ, 0);
    mp_table_free(u);
}
END_TEST

/* A random program: nesting, recursion, two tables, allocations on random
 * lines. Whatever happens, each table's increments add up to the change
 * between its first frame's start and its last frame's end. */
START_TEST(increments_always_add_up_to_the_net_change)
{
    setup();
    srand(12345);
    for (int round = 0; round < 200; round++) {
        mp_table_t *A = mp_table_new(MP_Q_RSS, MP_COL_PEAK, 1);
        mp_table_t *B = mp_table_new(MP_Q_RSS, 0, 1);
        int a = mp_table_add_block(A, 10, 40), b = mp_table_add_block(B, 60, 10);
        mp_code_subscribe(&code_f, 10, A, a);
        mp_code_subscribe(&code_inner, 40, A, a);
        mp_code_subscribe(&code_h, 60, B, b);
        mp_table_activate(A);
        mp_table_activate(B);
        const void *keys[3] = {&code_f, &code_inner, &code_h};
        int firsts_of[3] = {10, 40, 60};
        int depth = 0;
        const void *stack[64];
        int64_t start = fake_v[MP_Q_RSS];
        mp_code_t *c0 = mp_code_get(&code_f);
        mp_lines_start(c0, NULL, 10);
        stack[depth++] = &code_f;
        for (int step = 0; step < 300; step++) {
            int op = rand() % 4;
            mp_code_t *top = mp_code_get(stack[depth - 1]);
            int first = mp_code_first_line(top);
            if (op == 0 && depth < 60) {
                int k = rand() % 3;
                mp_lines_start(mp_code_get(keys[k]), NULL, firsts_of[k]);
                stack[depth++] = keys[k];
            } else if (op == 1 && depth > 1) {
                mp_lines_end(top, NULL, 1);
                depth--;
            } else if (op == 2) {
                mp_lines_line(top, NULL, first + 1 + rand() % 8);
            } else {
                fake_v[MP_Q_RSS] += (rand() % 200) - 100;
            }
        }
        while (depth > 0) {
            mp_lines_end(mp_code_get(stack[--depth]), NULL, 1);
        }
        int64_t net = fake_v[MP_Q_RSS] - start;
        ck_assert_int_eq(block_sum(A, a), net);
        mp_table_deactivate(A);
        mp_table_deactivate(B);
        mp_table_free(A);
        mp_table_free(B);
    }
}
END_TEST

void add_lines_tests(Suite *s);

void add_lines_tests(Suite *s)
{
    TCase *tc = tcase_create("lines");
    tcase_add_test(tc, nested_code_counts_once_on_the_innermost_line);
    tcase_add_test(tc, recursion_charges_the_allocating_line);
    tcase_add_test(tc, a_callee_in_another_table_is_charged_to_the_calling_line);
    tcase_add_test(tc, a_callee_in_another_block_is_charged_to_the_calling_line);
    tcase_add_test(tc, a_nested_function_shows_its_bytes_once);
    tcase_add_test(tc, frames_count_only_while_the_table_is_active);
    tcase_add_test(tc, heap_bytes_go_to_the_innermost_line);
    tcase_add_test(tc, threads_count_their_own_calls);
    tcase_add_test(tc, a_table_freed_mid_frame_leaves_inert_frames);
    tcase_add_test(tc, increments_always_add_up_to_the_net_change);
    suite_add_tcase(s, tc);
}
