/* test_error.c — the error channel (src/error.c): thread-local messages,
 * caret lines, status and dtype names, checked arithmetic. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <string.h>

#include "internal.h"

static void *fail_in_thread(void *arg)
{
    (void)arg;
    ein_fail_at(EIN_ERR_SYNTAX, "ab$", 2, "in the thread");
    return strstr(ein_last_error(), "in the thread") ? (void *)1 : NULL;
}

Test(error, messages_are_thread_local)
{
    ein_fail(EIN_ERR_SHAPE, "main thread says %d", 42);
    pthread_t t;
    void *ok;
    cr_assert_eq(pthread_create(&t, NULL, fail_in_thread, NULL), 0);
    pthread_join(t, &ok);
    cr_assert(ok, "the thread saw its own message");
    cr_assert_str_eq(ein_last_error(), "main thread says 42");
    cr_assert_eq(ein_last_error_offset(), -1);
}

Test(error, caret_line_and_control_characters)
{
    ein_fail_at(EIN_ERR_SYNTAX, "a\tb$", 3, "bad");
    cr_assert_str_eq(ein_last_error(), "a\tb$: column 3: bad\n  a b$\n     ^");
    cr_assert_eq(ein_last_error_offset(), 3);
    ein_clear_error();
    cr_assert_str_eq(ein_last_error(), "");
    cr_assert_eq(ein_last_error_offset(), -1);
}

Test(error, long_messages_are_cut_not_overflowed)
{
    char big[4000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    ein_fail(EIN_ERR_ARG, "%s", big);
    cr_assert_lt(strlen(ein_last_error()), 2048);
    ein_fail_at(EIN_ERR_SYNTAX, big, 3000, "far");
    cr_assert_lt(strlen(ein_last_error()), 2048);
    cr_assert_eq(ein_last_error_offset(), 3000);
}

Test(error, names)
{
    const char *seen[16];
    int n = 0;
    for (int s = EIN_OK; s <= EIN_ERR_PLAN; s++) {
        const char *name = ein_status_str((ein_status)s);
        cr_assert(name && *name);
        for (int i = 0; i < n; i++)
            cr_assert_str_neq(name, seen[i], "status %d repeats a name", s);
        seen[n++] = name;
    }
    cr_assert_str_eq(ein_status_str((ein_status)99), "unknown status");
    cr_assert_str_eq(ein_dtype_name(EIN_F32), "float32");
    cr_assert_str_eq(ein_dtype_name(EIN_F64), "float64");
    cr_assert_eq(ein_dtype_size(EIN_F32), 4);
    cr_assert_eq(ein_dtype_size(EIN_F64), 8);
    cr_assert_eq(ein_dtype_size((ein_dtype)0), 0);
    char b[16];
    cr_assert_str_eq(ein_label_name(0, b), "A");
    cr_assert_str_eq(ein_label_name(26, b), "a");
    cr_assert_str_eq(ein_label_name(51, b), "z");
    cr_assert_str_eq(ein_label_name(EIN_ELL_BASE + 3, b), "...3");
}

Test(error, checked_multiply)
{
    int64_t r;
    cr_assert(ein_mul_ok(1 << 20, 1 << 20, &r));
    cr_assert_eq(r, (int64_t)1 << 40);
    cr_assert_not(ein_mul_ok((int64_t)1 << 32, (int64_t)1 << 31, &r));
    cr_assert(ein_mul_ok(0, INT64_MAX, &r));
}
