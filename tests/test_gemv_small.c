/* test_gemv_small.c — the GEMV paths of every kernel table on small and
 * edge shapes (m in 0..70, n in 0..100, around the 100x50 headline): both
 * orientations, padded rows, strided x and y, accumulate, against a
 * double-precision loop; and bitwise identity between 1 and 2 threads. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/frame.h"
#include "kernels/kernels.h"
#include "support.h"

static const char *const k_tables[] = {"generic", "avx2", "avx512"};
#define NTABLES 3

/* One case: y = (acc ? y : 0) + A x with A [m, n] read as A[i*rsa + j*csa]. */
typedef struct gcase {
    int64_t m, n, rsa, csa, incx, incy;
    int acc;
} gcase;

/* Run the f32 and f64 kernels of kt on c and compare every element with
 * the double loop; elements between strided outputs must stay as they were. */
static void check_case(const ein_ktable *kt, const gcase *c, ts_rng *rng)
{
    int64_t m = c->m, n = c->n;
    int64_t asz = 1 + (m > 0 ? (m - 1) * c->rsa : 0) + (n > 0 ? (n - 1) * c->csa : 0);
    int64_t xsz = 1 + (n > 0 ? (n - 1) * c->incx : 0);
    int64_t ysz = 1 + (m > 0 ? (m - 1) * c->incy : 0);
    float *A = malloc((size_t)asz * sizeof *A), *x = malloc((size_t)xsz * sizeof *x);
    float *y = malloc((size_t)ysz * sizeof *y), *y0 = malloc((size_t)ysz * sizeof *y0);
    double *Ad = malloc((size_t)asz * sizeof *Ad), *xd = malloc((size_t)xsz * sizeof *xd);
    double *yd = malloc((size_t)ysz * sizeof *yd), *y0d = malloc((size_t)ysz * sizeof *y0d);
    cr_assert(A && x && y && y0 && Ad && xd && yd && y0d);
    ts_fill_f64(Ad, (size_t)asz, rng);
    ts_fill_f64(xd, (size_t)xsz, rng);
    ts_fill_f64(y0d, (size_t)ysz, rng);
    for (int64_t i = 0; i < asz; i++) A[i] = (float)Ad[i];
    for (int64_t i = 0; i < xsz; i++) x[i] = (float)xd[i];
    for (int64_t i = 0; i < ysz; i++) y0[i] = (float)y0d[i];
    memcpy(y, y0, (size_t)ysz * sizeof *y);
    memcpy(yd, y0d, (size_t)ysz * sizeof *yd);

    kt->gemv_f32(m, n, A, c->rsa, c->csa, x, c->incx, y, c->incy, c->acc, 1);
    kt->gemv_f64(m, n, Ad, c->rsa, c->csa, xd, c->incx, yd, c->incy, c->acc, 1);

    for (int64_t i = 0; i < ysz; i++) {
        int64_t row = c->incy ? i / c->incy : 0;
        int on = c->incy && i % c->incy == 0 && row < m;
        if (!on) {   /* elements between the strided y must be untouched */
            cr_assert(y[i] == y0[i] && yd[i] == y0d[i],
                      "%s m=%lld n=%lld incy=%lld: y[%lld] between outputs changed",
                      kt->name, (long long)m, (long long)n, (long long)c->incy,
                      (long long)i);
            continue;
        }
        double s = c->acc ? (double)y0[i] : 0, sd = c->acc ? y0d[i] : 0, mag = 1;
        for (int64_t j = 0; j < n; j++) {
            double a = (double)A[row * c->rsa + j * c->csa] * (double)x[j * c->incx];
            s += a;
            sd += Ad[row * c->rsa + j * c->csa] * xd[j * c->incx];
            mag += fabs(a);
        }
        cr_assert(fabs((double)y[i] - s) <= 4e-7 * mag * (double)(n + 1),
                  "%s f32 m=%lld n=%lld rsa=%lld csa=%lld incx=%lld incy=%lld acc=%d: "
                  "y[%lld] = %.9g, expected %.9g", kt->name, (long long)m,
                  (long long)n, (long long)c->rsa, (long long)c->csa,
                  (long long)c->incx, (long long)c->incy, c->acc, (long long)row,
                  (double)y[i], s);
        cr_assert(fabs(yd[i] - sd) <= 1e-15 * mag * (double)(n + 1),
                  "%s f64 m=%lld n=%lld rsa=%lld csa=%lld incx=%lld incy=%lld acc=%d: "
                  "y[%lld] = %.17g, expected %.17g", kt->name, (long long)m,
                  (long long)n, (long long)c->rsa, (long long)c->csa,
                  (long long)c->incx, (long long)c->incy, c->acc, (long long)row,
                  yd[i], sd);
    }
    free(A); free(x); free(y); free(y0);
    free(Ad); free(xd); free(yd); free(y0d);
}

/* Rows contiguous ("ij,j->i"), plain and padded rows, strided x and y. */
Test(gemv_small, rows_all_tables, .timeout = 120)
{
    ts_rng rng = {11};
    for (int t = 0; t < NTABLES; t++) {
        const ein_ktable *kt = ein_ktable_named(k_tables[t]);
        if (!kt)
            continue;   /* this CPU cannot run the table */
        /* n past 96: every vector count of the AVX2 register path */
        for (int64_t m = 0; m <= 70; m += (m < 20 ? 1 : 7))
            for (int64_t n = 0; n <= 100; n++) {
                gcase c = {m, n, n, 1, 1, 1, (int)((m + n) & 1)};
                check_case(kt, &c, &rng);
                c.rsa = n + 3;
                c.incy = 2;
                c.incx = 3;
                c.acc ^= 1;
                check_case(kt, &c, &rng);
            }
    }
}

/* Columns contiguous ("ij,i->j" after the planner swaps roles). */
Test(gemv_small, cols_all_tables, .timeout = 120)
{
    ts_rng rng = {12};
    for (int t = 0; t < NTABLES; t++) {
        const ein_ktable *kt = ein_ktable_named(k_tables[t]);
        if (!kt)
            continue;
        for (int64_t m = 0; m <= 70; m += (m < 20 ? 1 : 7))
            for (int64_t n = 0; n <= 70; n++) {
                gcase c = {m, n, 1, m > 0 ? m : 1, 1, 1, (int)((m + n) & 1)};
                check_case(kt, &c, &rng);
                c.csa = m + 5;
                c.incx = 2;
                c.incy = 3;
                c.acc ^= 1;
                check_case(kt, &c, &rng);
            }
        /* Large enough that the columns are summed in two halves (on any
         * CPU whose L2 holds a quarter of the f32 matrix; this one's holds
         * the f64 too): plain, and padded columns with strided x, strided y
         * and accumulation.  70001 rows: past one pass's 256 KiB of y in
         * both dtypes, so y goes in chunks with a short last one. */
        static const int64_t big[][2] = {{300, 1031}, {513, 600}, {1, 300000}, {2048, 129},
                                         {70001, 9}};
        int split = 0;
        for (size_t b = 0; b < sizeof big / sizeof big[0]; b++)
            for (int v = 0; v < 2; v++) {
                gcase c = {big[b][0], big[b][1], 1, big[b][0] + 3 * v, 1 + v, 1 + 2 * v, v};
                split |= ein_gemv_cols_half(c.m, c.n) > 0;
                check_case(kt, &c, &rng);
            }
        cr_assert(split || ein_cache_info_get()->l2 < 320 * 1024,
                  "no case here took the two-halves path");
    }
}

/* Long rows of a matrix L2 holds and L1 does not (EIN_ROWS_ALONE: each
 * row alone, four accumulators): tails landing on each accumulator,
 * none, padded rows, strided y, accumulation; strided x (rows in blocks
 * then, whatever the size). */
Test(gemv_small, rows_l2_sized_all_tables, .timeout = 120)
{
    ts_rng rng = {15};
    /* n % 16 and n / 16 % 4 (f32), n % 8 and n / 8 % 4 (f64) vary. */
    static const int64_t shapes[][2] = {{200, 129}, {150, 250}, {120, 170},
                                        {300, 400}, {256, 256}, {97, 1000},
                                        {70, 2053}, {1500, 67}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int64_t m = shapes[s][0], n = shapes[s][1];
        cr_assert(ein_gemv_rows_mode(m, n, sizeof(float)) == EIN_ROWS_ALONE ||
                      ein_gemv_rows_mode(m, n, sizeof(double)) == EIN_ROWS_ALONE,
                  "%lldx%lld: no dtype sums its rows alone", (long long)m, (long long)n);
    }
    for (int t = 0; t < NTABLES; t++) {
        const ein_ktable *kt = ein_ktable_named(k_tables[t]);
        if (!kt)
            continue;
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
            int64_t m = shapes[s][0], n = shapes[s][1];
            gcase c = {m, n, n, 1, 1, 1, (int)(s & 1)};
            check_case(kt, &c, &rng);
            c.rsa = n + 5;
            c.incy = 3;
            c.acc ^= 1;
            check_case(kt, &c, &rng);
            c.incx = 2;
            check_case(kt, &c, &rng);
        }
    }
}

/* Around the headline [100, 50]: every tail length of both dtypes' widths. */
Test(gemv_small, headline_neighbourhood, .timeout = 120)
{
    ts_rng rng = {13};
    for (int t = 0; t < NTABLES; t++) {
        const ein_ktable *kt = ein_ktable_named(k_tables[t]);
        if (!kt)
            continue;
        for (int64_t m = 95; m <= 105; m++)
            for (int64_t n = 45; n <= 67; n++)
                for (int acc = 0; acc < 2; acc++) {
                    gcase r = {m, n, n, 1, 1, 1, acc};
                    gcase c = {n, m, 1, n, 1, 1, acc};   /* [m, n] read by columns */
                    check_case(kt, &r, &rng);
                    check_case(kt, &c, &rng);
                }
    }
}

/* A row's result does not depend on the rows around it: y[i] from the
 * whole matrix equals y[i] from the rows loop on that row alone, in the
 * whole product's mode (with columns contiguous, a one-row call, or with
 * the columns summed in two halves, the sum of two); and 1 and 2 threads
 * give the same bits above the threading threshold. */
Test(gemv_small, bits_independent_of_neighbours_and_threads, .timeout = 120)
{
    ts_rng rng = {14};
    /* Short rows (W <= n < 8W for f32 or f64 lanes) are summed eight or
     * four at a time, a one-row call's row repeated four times; an 8-byte tail
     * (n % 16 == 2 in f32, n % 8 == 1 in f64) is summed apart and added
     * after the rest. */
    static const int64_t shapes[][2] = {{100, 50}, {45, 17}, {64, 32}, {23, 64},
                                        {71, 24}, {9, 8}, {30, 34}, {7, 50},
                                        {5, 41}, {13, 113}, {1024, 300}, {700, 513},
                                        {300, 1031}, {2048, 257}, {3, 40},
                                        {34, 20}, {19, 50}, {4, 16},
                                        /* long rows past whole blocks of eight */
                                        {10, 300}, {15, 130}, {11, 1000}, {9, 128},
                                        /* long rows with a masked tail, a
                                         * matrix past 4 MiB in f32 and f64:
                                         * 128 blocks of eight, then two, one */
                                        {1027, 1100},
                                        /* few rows over the threading threshold:
                                         * one share of rows per thread (the
                                         * columns' halves under it, as the
                                         * check below sums each in one call) */
                                        {10, 30000}, {3, 60000}, {13, 21000},
                                        /* columns: y past one pass's 256 KiB */
                                        {70001, 12},
                                        /* threaded rows of the AVX2 register
                                         * path, shares not multiples of four */
                                        {1001, 50}, {2003, 90},
                                        /* rows summed alone (L2-sized) */
                                        {200, 129}, {300, 400}, {97, 1000}};
    for (int t = 0; t < NTABLES; t++) {
        const ein_ktable *kt = ein_ktable_named(k_tables[t]);
        if (!kt)
            continue;
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
            int64_t m = shapes[s][0], n = shapes[s][1];
            for (int cols = 0; cols < 2; cols++) {
                int64_t rsa = cols ? 1 : n, csa = cols ? m : 1;
                float *A = malloc((size_t)(m * n) * sizeof *A);
                float *x = malloc((size_t)n * sizeof *x);
                float *y1 = malloc((size_t)m * sizeof *y1), *y2 = malloc((size_t)m * sizeof *y2);
                double *Ad = malloc((size_t)(m * n) * sizeof *Ad);
                double *xd = malloc((size_t)n * sizeof *xd);
                double *z1 = malloc((size_t)m * sizeof *z1), *z2 = malloc((size_t)m * sizeof *z2);
                cr_assert(A && x && y1 && y2 && Ad && xd && z1 && z2);
                ts_fill_f32(A, (size_t)(m * n), &rng);
                ts_fill_f32(x, (size_t)n, &rng);
                ts_fill_f64(Ad, (size_t)(m * n), &rng);
                ts_fill_f64(xd, (size_t)n, &rng);
                kt->gemv_f32(m, n, A, rsa, csa, x, 1, y1, 1, 0, 1);
                kt->gemv_f32(m, n, A, rsa, csa, x, 1, y2, 1, 0, 2);
                kt->gemv_f64(m, n, Ad, rsa, csa, xd, 1, z1, 1, 0, 1);
                kt->gemv_f64(m, n, Ad, rsa, csa, xd, 1, z2, 1, 0, 2);
                cr_assert(!memcmp(y1, y2, (size_t)m * sizeof *y1),
                          "%s f32 %lldx%lld cols=%d: 1 and 2 threads differ", kt->name,
                          (long long)m, (long long)n, cols);
                cr_assert(!memcmp(z1, z2, (size_t)m * sizeof *z1),
                          "%s f64 %lldx%lld cols=%d: 1 and 2 threads differ", kt->name,
                          (long long)m, (long long)n, cols);
                int64_t h = cols ? ein_gemv_cols_half(m, n) : 0;
                int mode = ein_gemv_rows_mode(m, n, sizeof(float));
                int moded = ein_gemv_rows_mode(m, n, sizeof(double));
                for (int64_t i = 0; i < m; i += (m > 200 ? 37 : 1)) {
                    float r, r1 = 0;
                    double rd, rd1 = 0;
                    if (cols) {
                        kt->gemv_f32(1, h ? h : n, A + i * rsa, rsa, csa, x, 1, &r, 1, 0, 1);
                        kt->gemv_f64(1, h ? h : n, Ad + i * rsa, rsa, csa, xd, 1, &rd, 1,
                                     0, 1);
                    } else {
                        kt->gemv_rows_f32(1, n, A + i * rsa, rsa, x, &r, 1, 0, mode);
                        kt->gemv_rows_f64(1, n, Ad + i * rsa, rsa, xd, &rd, 1, 0, moded);
                    }
                    if (h) {   /* the second half, summed apart and added */
                        kt->gemv_f32(1, n - h, A + i * rsa + h * csa, rsa, csa, x + h, 1,
                                     &r1, 1, 0, 1);
                        kt->gemv_f64(1, n - h, Ad + i * rsa + h * csa, rsa, csa, xd + h,
                                     1, &rd1, 1, 0, 1);
                        r += r1;
                        rd += rd1;
                    }
                    cr_assert(!memcmp(&r, &y1[i], sizeof r) && !memcmp(&rd, &z1[i], sizeof rd),
                              "%s %lldx%lld cols=%d: row %lld alone differs from its "
                              "value in the whole product", kt->name, (long long)m,
                              (long long)n, cols, (long long)i);
                }
                free(A); free(x); free(y1); free(y2);
                free(Ad); free(xd); free(z1); free(z2);
            }
        }
    }
}

/* ---- batches ----------------------------------------------------------- */

/* nb GEMVs through the table's batch entry against one gemv call each,
 * on copies of the same buffers: bitwise equal everywhere, rows or
 * columns contiguous.  Matrix b at
 * A + b * sa, x at x + b * sx, y at y + b * sy, the strides running
 * forward or backward, or A or x shared by the batch.  Returns whether
 * the entry took the batch. */
#define DEFINE_BATCH_CHECK(SFX, T)                                             \
static int batch_check_##SFX(const ein_ktable *kt, const gcase *c, int64_t nb, \
                             int mode, ts_rng *rng)                            \
{                                                                              \
    int64_t m = c->m, n = c->n;                                                \
    int64_t asz = 1 + (m > 0 ? (m - 1) * c->rsa : 0) + (n > 0 ? (n - 1) * c->csa : 0); \
    int64_t xsz = 1 + (n > 0 ? (n - 1) * c->incx : 0);                         \
    int64_t ysz = 1 + (m > 0 ? (m - 1) * llabs(c->incy) : 0);                  \
    int64_t nbk = nb > 0 ? nb : 1, sa = asz, sx = xsz, sy = ysz;               \
    if (mode == 1) { sa = -sa; sx = -sx; sy = -sy; }                           \
    if (mode == 2) sa = 0;                                                     \
    if (mode == 3) sx = 0;                                                     \
    int64_t na = asz * nbk, nx = xsz * nbk, ny = ysz * nbk;                    \
    T *A = malloc((size_t)na * sizeof *A), *x = malloc((size_t)nx * sizeof *x); \
    T *y0 = malloc((size_t)ny * sizeof *y0), *y1 = malloc((size_t)ny * sizeof *y1); \
    T *y2 = malloc((size_t)ny * sizeof *y2);                                   \
    double *tmp = malloc((size_t)(na + nx + ny) * sizeof *tmp);                \
    cr_assert(A && x && y0 && y1 && y2 && tmp);                                \
    ts_fill_f64(tmp, (size_t)(na + nx + ny), rng);                             \
    for (int64_t q = 0; q < na; q++) A[q] = (T)tmp[q];                         \
    for (int64_t q = 0; q < nx; q++) x[q] = (T)tmp[na + q];                    \
    for (int64_t q = 0; q < ny; q++) y0[q] = (T)tmp[na + nx + q];              \
    memcpy(y1, y0, (size_t)ny * sizeof *y0);                                   \
    memcpy(y2, y0, (size_t)ny * sizeof *y0);                                   \
    /* matrix 0: the first block, or the last when going backward; a       \
     * negative incy starts y at its block's far end */                        \
    const T *a0 = A + (sa < 0 ? -sa * (nbk - 1) : 0);                          \
    const T *x0 = x + (sx < 0 ? -sx * (nbk - 1) : 0);                          \
    int64_t yo = (sy < 0 ? -sy * (nbk - 1) : 0) + (c->incy < 0 ? ysz - 1 : 0);  \
    int done = kt->gemv_batch_##SFX(nb, sa, sx, sy, m, n, a0, c->rsa, c->csa, x0, \
                                   c->incx, y1 + yo, c->incy, c->acc);         \
    if (done) {                                                                \
        for (int64_t b = 0; b < nb; b++)                                       \
            kt->gemv_##SFX(m, n, a0 + b * sa, c->rsa, c->csa, x0 + b * sx,      \
                           c->incx, y2 + yo + b * sy, c->incy, c->acc, 1);     \
        for (int64_t q = 0; q < ny; q++)                                       \
            cr_assert(memcmp(&y1[q], &y2[q], sizeof *y1) == 0,                 \
                      "%s " #SFX " batch of %lld, m=%lld n=%lld rsa=%lld "     \
                      "incy=%lld acc=%d mode %d: y element %lld is %.17g, one " \
                      "call each gave %.17g", kt->name, (long long)nb,         \
                      (long long)m, (long long)n, (long long)c->rsa,           \
                      (long long)c->incy, c->acc, mode, (long long)q,          \
                      (double)y1[q], (double)y2[q]);                           \
    } else {                                                                   \
        cr_assert(memcmp(y1, y0, (size_t)ny * sizeof *y0) == 0,                \
                  "%s " #SFX " batch refused m=%lld n=%lld but wrote y",       \
                  kt->name, (long long)m, (long long)n);                       \
    }                                                                          \
    free(A); free(x); free(y0); free(y1); free(y2); free(tmp);                 \
    return done;                                                               \
}
DEFINE_BATCH_CHECK(f32, float)
DEFINE_BATCH_CHECK(f64, double)
#undef DEFINE_BATCH_CHECK

Test(gemv_small, batches_match_one_call_each, .timeout = 120)
{
    static const int64_t nbs[] = {0, 1, 2, 3, 5, 17, 64};
    for (int t = 0; t < NTABLES; t++) {
        const ein_ktable *kt = ein_ktable_named(k_tables[t]);
        if (!kt)
            continue;
        cr_assert(kt->gemv_batch_f32 && kt->gemv_batch_f64, "%s has no GEMV batch entry",
                  kt->name);
        ts_rng rng = {0xba7c0000u + (uint64_t)t};
        int batched = 0;
        for (int it = 0; it < 800; it++) {
            gcase c = {.m = ts_range(&rng, 0, 12), .n = ts_range(&rng, 0, 20), .csa = 1,
                       .incx = 1, .incy = 1, .acc = (int)ts_range(&rng, 0, 1)};
            c.rsa = c.n + (ts_range(&rng, 0, 2) ? 0 : ts_range(&rng, 1, 5));
            if (c.rsa == 0)
                c.rsa = 1;
            switch (ts_range(&rng, 0, 9)) {
            case 0:   /* columns contiguous, strided or not */
            case 1: c.csa = c.m + ts_range(&rng, 0, 2); c.rsa = 1; break;
            case 2: c.incx = 2; break;   /* refused: x strided, rows */
            default: break;
            }
            if (ts_range(&rng, 0, 3) == 0)
                c.incy = ts_range(&rng, 0, 1) ? -1 : 3;
            int64_t nb = nbs[ts_range(&rng, 0, 6)];
            int mode = (int)ts_range(&rng, 0, 3);
            int d32 = batch_check_f32(kt, &c, nb, mode, &rng);
            int d64 = batch_check_f64(kt, &c, nb, mode, &rng);
            cr_assert_eq(d32, d64, "%s: f32 and f64 batch entries disagree", kt->name);
            int must = c.m >= 1 && c.n >= 1 &&
                       ((c.csa == 1 && c.incx == 1 && (c.rsa != 1 || c.n >= c.m)) ||
                        (c.rsa == 1 && c.csa != 1 && c.incy == 1));
            cr_assert_eq(d32, must, "%s: batch of %lldx%lld (rsa %lld csa %lld incx "
                         "%lld) %s", kt->name, (long long)c.m, (long long)c.n,
                         (long long)c.rsa, (long long)c.csa, (long long)c.incx,
                         d32 ? "taken" : "refused");
            batched += d32 && nb > 1;
        }
        cr_assert_gt(batched, 200, "%s: only %d batches ran", kt->name, batched);
    }
}

/* nb dots through the batch entry against one dot call each: bitwise
 * equal, with unit and strided elements, batch strides forward,
 * backward or zero (one operand shared), accumulating or not. */
#define DEFINE_DOT_BATCH_CHECK(SFX, T)                                         \
static void dot_batch_check_##SFX(const ein_ktable *kt, int64_t nb, int64_t n, \
                                  int64_t inc, int mode, int acc, ts_rng *rng) \
{                                                                              \
    int64_t len = 1 + (n > 0 ? (n - 1) * inc : 0), nbk = nb > 0 ? nb : 1;      \
    int64_t sx = len, sy = len + 3, so = 2;                                    \
    if (mode == 1) { sx = -sx; sy = -sy; so = -so; }                           \
    if (mode == 2) sy = 0;                                                     \
    int64_t nx = len * nbk, ny = (len + 3) * nbk, no = 2 * nbk;                \
    T *x = malloc((size_t)nx * sizeof *x), *y = malloc((size_t)ny * sizeof *y); \
    T *o0 = malloc((size_t)no * sizeof *o0), *o1 = malloc((size_t)no * sizeof *o1); \
    T *o2 = malloc((size_t)no * sizeof *o2);                                   \
    double *tmp = malloc((size_t)(nx + ny + no) * sizeof *tmp);                \
    cr_assert(x && y && o0 && o1 && o2 && tmp);                                \
    ts_fill_f64(tmp, (size_t)(nx + ny + no), rng);                             \
    for (int64_t q = 0; q < nx; q++) x[q] = (T)tmp[q];                         \
    for (int64_t q = 0; q < ny; q++) y[q] = (T)tmp[nx + q];                    \
    for (int64_t q = 0; q < no; q++) o0[q] = (T)tmp[nx + ny + q];              \
    memcpy(o1, o0, (size_t)no * sizeof *o0);                                   \
    memcpy(o2, o0, (size_t)no * sizeof *o0);                                   \
    const T *x0 = x + (sx < 0 ? -sx * (nbk - 1) : 0);                          \
    const T *y0 = y + (sy < 0 ? -sy * (nbk - 1) : 0);                          \
    int64_t oo = so < 0 ? -so * (nbk - 1) : 0;                                 \
    kt->dot_batch_##SFX(nb, sx, sy, so, n, x0, inc, y0, inc, o1 + oo, acc);     \
    for (int64_t b = 0; b < nb; b++) {                                         \
        T d = kt->dot_##SFX(n, x0 + b * sx, inc, y0 + b * sy, inc);             \
        T *o = o2 + oo + b * so;                                               \
        *o = acc ? *o + d : d;                                                 \
    }                                                                          \
    cr_assert(memcmp(o1, o2, (size_t)no * sizeof *o1) == 0,                    \
              "%s " #SFX " batch of %lld dots of %lld (inc %lld, mode %d, acc %d) " \
              "differ from one call each", kt->name, (long long)nb,            \
              (long long)n, (long long)inc, mode, acc);                        \
    free(x); free(y); free(o0); free(o1); free(o2); free(tmp);                 \
}
DEFINE_DOT_BATCH_CHECK(f32, float)
DEFINE_DOT_BATCH_CHECK(f64, double)
#undef DEFINE_DOT_BATCH_CHECK

/* Dots contiguous in one operand along the terms and in the other along
 * the batch ("ij,ji->i"), n >= 8 terms: on the AVX-512 and AVX2 tables
 * each dot is its terms in four chains (term j into chain j % 4, FMA in
 * the dtype) summed as (c0 + c1) + (c2 + c3), bit for bit, whatever the
 * batch's length or where it is cut; the generic table, one dot call each.  Either
 * operand may hold the contiguous terms; the strided one walks forwards
 * or backwards. */
#define DEFINE_DOTS_T_CHECK(SFX, T, FMA)                                       \
static void dots_t_check_##SFX(const ein_ktable *kt, int64_t nb, int64_t n,     \
                               int swap, int back, int acc, ts_rng *rng)       \
{                                                                              \
    int64_t ld = nb + 5;                  /* y: n rows of ld, dot b at + b */  \
    int64_t incy = back ? -ld : ld, sx = n + 3;                                \
    int64_t nx = sx * (nb > 0 ? nb : 1), ny = ld * (n > 0 ? n : 1);            \
    T *x = malloc((size_t)nx * sizeof *x), *y = malloc((size_t)ny * sizeof *y); \
    T *o1 = malloc((size_t)(nb + 1) * sizeof *o1), *o2 = malloc((size_t)(nb + 1) * sizeof *o2); \
    T *o3 = malloc((size_t)(nb + 1) * sizeof *o3);                             \
    cr_assert(x && y && o1 && o2 && o3);                                       \
    for (int64_t q = 0; q < nx; q++) x[q] = (T)ts_uniform(rng);                \
    for (int64_t q = 0; q < ny; q++) y[q] = (T)ts_uniform(rng);                \
    for (int64_t b = 0; b <= nb; b++) o1[b] = o2[b] = o3[b] = (T)ts_uniform(rng); \
    const T *y0 = back ? y + ld * (n - 1 > 0 ? n - 1 : 0) : y;                 \
    if (swap)                                                                  \
        kt->dot_batch_##SFX(nb, 1, sx, 1, n, y0, incy, x, 1, o1, acc);          \
    else                                                                       \
        kt->dot_batch_##SFX(nb, sx, 1, 1, n, x, 1, y0, incy, o1, acc);          \
    int64_t cut = nb > 0 ? ts_range(rng, 0, nb) : 0;   /* two batches */       \
    kt->dot_batch_##SFX(cut, sx, 1, 1, n, x, 1, y0, incy, o2, acc);             \
    kt->dot_batch_##SFX(nb - cut, sx, 1, 1, n, x + cut * sx, 1, y0 + cut, incy, \
                        o2 + cut, acc);                                        \
    bool tdots = strcmp(kt->name, "generic") != 0 && n >= 8;                   \
    for (int64_t b = 0; b < nb; b++) {                                         \
        T d;                                                                   \
        if (tdots) {                                                           \
            T c[4] = {0, 0, 0, 0};                                             \
            for (int64_t j = 0; j < n; j++)                                   \
                c[j % 4] = FMA(x[b * sx + j], y0[j * incy + b], c[j % 4]);     \
            d = ((c[0] + c[1]) + (c[2] + c[3])) + (T)0;                        \
        } else {                                                               \
            d = kt->dot_##SFX(n, x + b * sx, 1, y0 + b, incy);                  \
        }                                                                      \
        o3[b] = acc ? o3[b] + d : d;                                           \
    }                                                                          \
    cr_assert(memcmp(o1, o3, (size_t)(nb + 1) * sizeof *o1) == 0 &&            \
              memcmp(o2, o3, (size_t)(nb + 1) * sizeof *o1) == 0,              \
              "%s " #SFX " %lld transposed dots of %lld (swap %d, back %d, acc %d, " \
              "cut at %lld) differ from their arithmetic", kt->name,           \
              (long long)nb, (long long)n, swap, back, acc, (long long)cut);   \
    free(x); free(y); free(o1); free(o2); free(o3);                            \
}
DEFINE_DOTS_T_CHECK(f32, float, fmaf)
DEFINE_DOTS_T_CHECK(f64, double, fma)
#undef DEFINE_DOTS_T_CHECK

Test(gemv_small, transposed_dot_batches)
{
    for (int t = 0; t < NTABLES; t++) {
        const ein_ktable *kt = ein_ktable_named(k_tables[t]);
        if (!kt)
            continue;
        ts_rng rng = {0x7d075000u + (uint64_t)t};
        for (int64_t n = 0; n <= 41; n++)
            for (int v = 0; v < 8; v++) {
                int64_t nb = ts_range(&rng, 0, 20);
                dots_t_check_f32(kt, nb, n, v & 1, (v >> 1) & 1, v >> 2, &rng);
                dots_t_check_f64(kt, nb, n, v & 1, (v >> 1) & 1, v >> 2, &rng);
            }
    }
}

Test(gemv_small, dot_batches_match_one_call_each)
{
    for (int t = 0; t < NTABLES; t++) {
        const ein_ktable *kt = ein_ktable_named(k_tables[t]);
        if (!kt)
            continue;
        cr_assert(kt->dot_batch_f32 && kt->dot_batch_f64, "%s has no dot batch entry",
                  kt->name);
        ts_rng rng = {0xd07b0000u + (uint64_t)t};
        for (int64_t n = 0; n <= 70; n++)
            for (int mode = 0; mode < 3; mode++) {
                int64_t nb = ts_range(&rng, 0, 9);
                int64_t inc = ts_range(&rng, 0, 3) ? 1 : ts_range(&rng, 2, 3);
                int acc = (int)ts_range(&rng, 0, 1);
                dot_batch_check_f32(kt, nb, n, inc, mode, acc, &rng);
                dot_batch_check_f64(kt, nb, n, inc, mode, acc, &rng);
            }
    }
}

/* Rows of a few elements packed back to back (rsa == n): a table may sum
 * them as columns (AVX-512, n <= 3 f32, n <= 2 f64), which must give
 * the bits of the same rows padded apart (rsa == n + 1, one row a
 * vector).  Values include zeros of both signs, products that cancel
 * and, in every other row, huge ones; any m around the vector lengths,
 * accumulate on and off. */
Test(gemv_small, dense_short_rows_bits)
{
    static const int64_t ms[] = {1, 2, 7, 8, 9, 15, 16, 17, 33, 100, 1000};
    ts_rng rng = {0x5eed0600u};
    for (int t = 0; t < NTABLES; t++) {
        const ein_ktable *kt = ein_ktable_named(k_tables[t]);
        if (!kt)
            continue;
        for (int64_t n = 1; n <= 9; n++)
            for (size_t mi = 0; mi < sizeof ms / sizeof ms[0]; mi++)
                for (int acc = 0; acc < 2; acc++) {
                    int64_t m = ms[mi];
                    float *A = malloc((size_t)(m * n) * sizeof *A);
                    float *P = malloc((size_t)(m * (n + 1)) * sizeof *P);
                    double *Ad = malloc((size_t)(m * n) * sizeof *Ad);
                    double *Pd = malloc((size_t)(m * (n + 1)) * sizeof *Pd);
                    float x[9], y1[1000], y2[1000];
                    double xd[9], z1[1000], z2[1000];
                    cr_assert(A && P && Ad && Pd);
                    for (int64_t j = 0; j < n; j++) {
                        xd[j] = (double)ts_range(&rng, -4, 4) * 0.5;
                        x[j] = (float)xd[j];
                    }
                    for (int64_t i = 0; i < m; i++) {
                        for (int64_t j = 0; j < n; j++) {
                            int64_t r = ts_range(&rng, 0, 9);
                            double v = r == 0 ? 0.0 : r == 1 ? -0.0
                                     : (double)ts_range(&rng, -8, 8) * 0.25;
                            if (i % 2 && j == 0)   /* cancels with the next term */
                                v = 3e7;
                            if (i % 2 && j == 1)
                                v = -3e7 * xd[0] / (xd[1] != 0 ? xd[1] : 1);
                            Ad[i * n + j] = Pd[i * (n + 1) + j] = v;
                            A[i * n + j] = P[i * (n + 1) + j] = (float)v;
                        }
                        Pd[i * (n + 1) + n] = 1e300;   /* padding: never read */
                        P[i * (n + 1) + n] = 1e30f;
                        y1[i] = y2[i] = (float)(i % 3) - 1.0f;
                        z1[i] = z2[i] = (double)(i % 3) - 1.0;
                    }
                    kt->gemv_f32(m, n, A, n, 1, x, 1, y1, 1, acc, 1);
                    kt->gemv_f32(m, n, P, n + 1, 1, x, 1, y2, 1, acc, 1);
                    kt->gemv_f64(m, n, Ad, n, 1, xd, 1, z1, 1, acc, 1);
                    kt->gemv_f64(m, n, Pd, n + 1, 1, xd, 1, z2, 1, acc, 1);
                    cr_assert(!memcmp(y1, y2, (size_t)m * sizeof *y1),
                              "%s f32 [%lld, %lld] acc=%d: packed rows differ from "
                              "padded", kt->name, (long long)m, (long long)n, acc);
                    cr_assert(!memcmp(z1, z2, (size_t)m * sizeof *z1),
                              "%s f64 [%lld, %lld] acc=%d: packed rows differ from "
                              "padded", kt->name, (long long)m, (long long)n, acc);
                    for (int64_t i = 0; i < m; i++) {   /* and both are right */
                        double s = acc ? (double)((float)(i % 3) - 1.0f) : 0.0;
                        for (int64_t j = 0; j < n; j++)
                            s += (double)A[i * n + j] * (double)x[j];
                        cr_assert(fabs(y1[i] - s) <= 1e-5 * (1.0 + fabs(s)) + 8.0,
                                  "%s f32 [%lld, %lld] row %lld: %g, expected %g",
                                  kt->name, (long long)m, (long long)n, (long long)i,
                                  (double)y1[i], s);
                    }
                    free(A); free(P); free(Ad); free(Pd);
                }
    }
}
