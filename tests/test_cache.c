/* test_cache.c — the plan cache behind one-shot einsum() (src/cache.c):
 * hits give right answers on new data, keys tell strides and dtypes
 * apart, eviction and concurrent use stay correct, failures are not
 * cached. */
#include <criterion/criterion.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "support.h"

static void matvec_ref(const float *A, int64_t rs, int64_t cs, const float *x,
                       int m, int n, double *y)
{
    for (int i = 0; i < m; i++) {
        y[i] = 0;
        for (int j = 0; j < n; j++)
            y[i] += (double)A[i * rs + j * cs] * x[j];
    }
}

Test(cache, repeated_calls_use_new_data)
{
    ts_rng r = {1};
    float A[6 * 5], x[5], y[6];
    double want[6];
    int64_t sa[] = {6, 5}, sx[] = {5}, sy[] = {6};
    ein_tensor tA = {A, EIN_F32, 2, sa, NULL}, tx = {x, EIN_F32, 1, sx, NULL};
    ein_tensor ty = {y, EIN_F32, 1, sy, NULL};
    for (int rep = 0; rep < 20; rep++) {
        ts_fill_f32(A, 30, &r);
        ts_fill_f32(x, 5, &r);
        cr_assert_eq(einsum("ij,j->i", &ty, &tA, &tx), EIN_OK, "%s", ein_last_error());
        matvec_ref(A, 5, 1, x, 6, 5, want);
        for (int i = 0; i < 6; i++)
            cr_assert_float_eq(y[i], want[i], 1e-5, "rep %d row %d", rep, i);
    }
}

Test(cache, strides_are_part_of_the_key)
{
    ts_rng r = {2};
    float A[16], x[4], y[4];
    double want[4];
    ts_fill_f32(A, 16, &r);
    ts_fill_f32(x, 4, &r);
    int64_t s[] = {4, 4}, v[] = {4}, tr[] = {1, 4}, c[] = {4, 1};
    ein_tensor tx = {x, EIN_F32, 1, v, NULL}, ty = {y, EIN_F32, 1, v, NULL};
    ein_tensor tA = {A, EIN_F32, 2, s, NULL}, tT = {A, EIN_F32, 2, s, tr};
    ein_tensor tC = {A, EIN_F32, 2, s, c};   /* explicit C strides: same key as NULL */
    cr_assert_eq(einsum("ij,j->i", &ty, &tA, &tx), EIN_OK);
    matvec_ref(A, 4, 1, x, 4, 4, want);
    for (int i = 0; i < 4; i++)
        cr_assert_float_eq(y[i], want[i], 1e-5);
    cr_assert_eq(einsum("ij,j->i", &ty, &tT, &tx), EIN_OK);
    matvec_ref(A, 1, 4, x, 4, 4, want);
    for (int i = 0; i < 4; i++)
        cr_assert_float_eq(y[i], want[i], 1e-5, "transposed view must not reuse the C plan");
    cr_assert_eq(einsum("ij,j->i", &ty, &tC, &tx), EIN_OK);
    matvec_ref(A, 4, 1, x, 4, 4, want);
    for (int i = 0; i < 4; i++)
        cr_assert_float_eq(y[i], want[i], 1e-5);
}

Test(cache, dtypes_are_part_of_the_key)
{
    float a32[3] = {1, 2, 3};
    double a64[3] = {0.5, 0.25, 0.125}, out;
    int64_t s[] = {3};
    ein_tensor t32 = {a32, EIN_F32, 1, s, NULL}, t64 = {a64, EIN_F64, 1, s, NULL};
    ein_tensor to = {&out, EIN_F64, 0, NULL, NULL};
    cr_assert_eq(einsum("i,i->", &to, &t64, &t64), EIN_OK);
    cr_assert_float_eq(out, 0.25 + 0.0625 + 0.015625, 1e-15);
    cr_assert_eq(einsum("i,i->", &to, &t32, &t64), EIN_OK, "%s", ein_last_error());
    cr_assert_float_eq(out, 0.5 + 0.5 + 0.375, 1e-15);
}

Test(cache, failures_are_not_cached)
{
    float a[3] = {1, 2, 3}, b[4] = {1, 1, 1, 1}, out = -1;
    int64_t s3[] = {3}, s4[] = {4};
    ein_tensor ta = {a, EIN_F32, 1, s3, NULL}, tb = {b, EIN_F32, 1, s4, NULL};
    ein_tensor to = {&out, EIN_F32, 0, NULL, NULL};
    cr_assert_eq(einsum("i,i->", &to, &ta, &tb), EIN_ERR_SHAPE);
    cr_assert_eq(out, -1, "no partial output");
    cr_assert_eq(einsum("i,i->", &to, &ta, &ta), EIN_OK);
    cr_assert_float_eq(out, 14, 1e-6);
    cr_assert_str_eq(ein_last_error(), "", "success clears the message");
    cr_assert_eq(einsum("i,i->", &to, &ta, &tb), EIN_ERR_SHAPE, "still an error");
    cr_assert_eq(einsum_v("i->", 1, (const ein_tensor *const[]){&ta}, NULL), EIN_ERR_ARG);
    cr_assert_eq(einsum_v(NULL, 1, (const ein_tensor *const[]){&ta}, &to), EIN_ERR_ARG);
}

Test(cache, eviction_keeps_answers_right)
{
    /* More distinct shapes than the table holds, twice round. */
    static double A[64 * 64], x[64], y[64];
    ts_rng r = {3};
    ts_fill_f64(A, 64 * 64, &r);
    ts_fill_f64(x, 64, &r);
    for (int round = 0; round < 2; round++)
        for (int m = 1; m <= 64; m++)
            for (int n = 1; n <= 4; n++) {
                int64_t sa[] = {m, n}, sx[] = {n}, sy[] = {m};
                ein_tensor tA = {A, EIN_F64, 2, sa, NULL}, tx = {x, EIN_F64, 1, sx, NULL};
                ein_tensor ty = {y, EIN_F64, 1, sy, NULL};
                cr_assert_eq(einsum("ij,j->i", &ty, &tA, &tx), EIN_OK);
                for (int i = 0; i < m; i++) {
                    double w = 0;
                    for (int j = 0; j < n; j++)
                        w += A[i * n + j] * x[j];
                    cr_assert_float_eq(y[i], w, 1e-12, "m=%d n=%d i=%d", m, n, i);
                }
            }
    ein_cache_clear();
}

Test(cache, long_expressions_bypass_the_cache)
{
    char expr[300];
    int w = 0;
    for (int k = 0; k < 40; k++)
        w += snprintf(expr + w, sizeof expr - (size_t)w, "%si", k ? "," : "");
    snprintf(expr + w, sizeof expr - (size_t)w, "->i");
    double v[2] = {1.5, -1};
    int64_t s[] = {2};
    ein_tensor t = {v, EIN_F64, 1, s, NULL};
    const ein_tensor *ops[40];
    for (int k = 0; k < 40; k++)
        ops[k] = &t;
    double out[2];
    ein_tensor to = {out, EIN_F64, 1, s, NULL};
    cr_assert_eq(einsum_v(expr, 40, ops, &to), EIN_OK, "%s", ein_last_error());
    cr_assert_float_eq(out[0], pow(1.5, 40), 1e-6 * pow(1.5, 40));
    cr_assert_float_eq(out[1], 1, 1e-12);
}

typedef struct worker {
    int seed;
    int bad;
} worker;

static void *hammer(void *arg)
{
    worker *wk = arg;
    ts_rng r = {(uint64_t)wk->seed};
    float A[8 * 8], B[8 * 8], C[8 * 8];
    for (int it = 0; it < 400; it++) {
        int m = (int)ts_range(&r, 1, 8), n = (int)ts_range(&r, 1, 8), k = (int)ts_range(&r, 1, 8);
        ts_fill_f32(A, 64, &r);
        ts_fill_f32(B, 64, &r);
        int64_t sa[] = {m, k}, sb[] = {k, n}, sc[] = {m, n};
        ein_tensor tA = {A, EIN_F32, 2, sa, NULL}, tB = {B, EIN_F32, 2, sb, NULL};
        ein_tensor tC = {C, EIN_F32, 2, sc, NULL};
        if (einsum("ij,jk->ik", &tC, &tA, &tB) != EIN_OK)
            wk->bad++;
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++) {
                double s = 0;
                for (int p = 0; p < k; p++)
                    s += (double)A[i * k + p] * B[p * n + j];
                if (fabs(C[i * n + j] - s) > 1e-5)
                    wk->bad++;
            }
        if (it % 97 == 0)
            ein_cache_clear();
    }
    return NULL;
}

Test(cache, concurrent_callers)
{
    pthread_t th[4];
    worker wk[4];
    for (int i = 0; i < 4; i++) {
        wk[i] = (worker){100 + i, 0};
        cr_assert_eq(pthread_create(&th[i], NULL, hammer, &wk[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        cr_assert_eq(wk[i].bad, 0, "thread %d saw %d wrong results", i, wk[i].bad);
    }
    ein_cache_clear();
}
