/* table_t.h — the kernel table an ISA file exports, written once: the
 * frame's GEMM, GEMV and tensor GEMM driven by that file's micro-kernels,
 * its dot, and the single-operand steps of unary_t.h compiled with that
 * file's flags.  Included at the end of each ISA file, which defines:
 *   TAB_NAME, TAB_VAR          "avx512", ein_ktable_avx512_tab
 *   TAB_MR, TAB_NR_F32, TAB_NR_F64   its register tiles
 *   ukr_, gemv_rows_, gemv_cols_, dot_ f32/f64   its inner loops
 *   TAB_SMALL_F32/F64 (optional)     an unpacked small-GEMM entry tried
 *                                    first; nonzero when it ran
 *   TAB_SMALL_BATCH_F32/F64 (optional)   the same over a batch
 *   TAB_PACK_A_/TAB_PACK_B_ F32/F64 (optional)   its packing loops for
 *                                    full panels of contiguous rows
 *   TAB_PACK_BT_F32/F64 (optional)   the same for B's columns contiguous
 *   TAB_UKR_EDGE_F32/F64 (optional)  its micro-kernel for edge tiles
 *   TAB_GEMV_MULTI_F32/F64 (optional)  its GEMV of up to four vectors
 *   TAB_COLS_TO_ROWS_F32/F64 (optional)  a few columns copied to rows
 *   TAB_ROWS_BATCH_F32/F64 (optional)   gemv_rows over a batch
 *   TAB_DOTS_T_F32/F64 (optional)   transposed dots side by side */

#ifndef TAB_SMALL_BATCH_F32
#define TAB_SMALL_BATCH_F32 NULL
#endif
#ifndef TAB_SMALL_BATCH_F64
#define TAB_SMALL_BATCH_F64 NULL
#endif
#ifndef TAB_ROWS_BATCH_F32
#define TAB_ROWS_BATCH_F32 NULL
#endif
#ifndef TAB_ROWS_BATCH_F64
#define TAB_ROWS_BATCH_F64 NULL
#endif
#ifndef TAB_PACK_A_F32
#define TAB_PACK_A_F32 NULL
#endif
#ifndef TAB_PACK_A_F64
#define TAB_PACK_A_F64 NULL
#endif
#ifndef TAB_PACK_B_F32
#define TAB_PACK_B_F32 NULL
#endif
#ifndef TAB_PACK_B_F64
#define TAB_PACK_B_F64 NULL
#endif
#ifndef TAB_PACK_BT_F32
#define TAB_PACK_BT_F32 NULL
#endif
#ifndef TAB_PACK_BT_F64
#define TAB_PACK_BT_F64 NULL
#endif
#ifndef TAB_UKR_EDGE_F32
#define TAB_UKR_EDGE_F32 NULL
#endif
#ifndef TAB_UKR_EDGE_F64
#define TAB_UKR_EDGE_F64 NULL
#endif
#ifndef TAB_DOTS_T_F32
#define TAB_DOTS_T_F32 NULL
#endif
#ifndef TAB_DOTS_T_F64
#define TAB_DOTS_T_F64 NULL
#endif
#ifndef TAB_GEMV_MULTI_F32
#define TAB_GEMV_MULTI_F32 NULL
#endif
#ifndef TAB_GEMV_MULTI_F64
#define TAB_GEMV_MULTI_F64 NULL
#endif
#ifndef TAB_COLS_TO_ROWS_F32
#define TAB_COLS_TO_ROWS_F32 NULL
#endif
#ifndef TAB_COLS_TO_ROWS_F64
#define TAB_COLS_TO_ROWS_F64 NULL
#endif
#ifndef TAB_ROWS_REGS_F32
#define TAB_ROWS_REGS_F32 0
#endif
#ifndef TAB_ROWS_REGS_F64
#define TAB_ROWS_REGS_F64 0
#endif
/* Rows of outer products, by the copy and product loops of unary_t.h
 * (defined after it, below). */
static void outer_row_f32(float a, const float *b, int64_t csb, float *c, int64_t n,
                          int stream);
static void outer_row_f64(double a, const double *b, int64_t csb, double *c, int64_t n,
                          int stream);
static const ein_arch_f32 arch_f32 = {TAB_MR, TAB_NR_F32, ukr_f32, gemv_rows_f32,
                                      gemv_cols_f32, TAB_PACK_A_F32,
                                      TAB_PACK_B_F32, TAB_ROWS_BATCH_F32,
                                      TAB_PACK_BT_F32, TAB_UKR_EDGE_F32,
                                      TAB_GEMV_MULTI_F32, TAB_COLS_TO_ROWS_F32,
                                      outer_row_f32, TAB_ROWS_REGS_F32};
static const ein_arch_f64 arch_f64 = {TAB_MR, TAB_NR_F64, ukr_f64, gemv_rows_f64,
                                      gemv_cols_f64, TAB_PACK_A_F64,
                                      TAB_PACK_B_F64, TAB_ROWS_BATCH_F64,
                                      TAB_PACK_BT_F64, TAB_UKR_EDGE_F64,
                                      TAB_GEMV_MULTI_F64, TAB_COLS_TO_ROWS_F64,
                                      outer_row_f64, TAB_ROWS_REGS_F64};

static void gemm_f32(int64_t m, int64_t n, int64_t k, const float *A,
                     int64_t rsa, int64_t csa, const float *B, int64_t rsb,
                     int64_t csb, float *C, int64_t rsc, int64_t csc,
                     int accumulate, int nthreads)
{
    if (ein_frame_gemm_few_f32(&arch_f32, m, n, k, A, rsa, csa, B, rsb, csb, C, rsc,
                               csc, accumulate, nthreads))
        return;
#ifdef TAB_SMALL_F32
    /* Small or narrow problems with a row- or column-major C skip packing
     * (at most a k x n copy of a B with strided rows); the rest go to the
     * frame. */
    if (TAB_SMALL_F32(m, n, k, A, rsa, csa, B, rsb, csb, C, rsc, csc, accumulate,
                      nthreads))
        return;
#endif
    ein_frame_gemm_f32(&arch_f32, m, n, k, A, rsa, csa, B, rsb, csb, C, rsc,
                       csc, accumulate, nthreads);
}

static void gemm_f64(int64_t m, int64_t n, int64_t k, const double *A,
                     int64_t rsa, int64_t csa, const double *B, int64_t rsb,
                     int64_t csb, double *C, int64_t rsc, int64_t csc,
                     int accumulate, int nthreads)
{
    if (ein_frame_gemm_few_f64(&arch_f64, m, n, k, A, rsa, csa, B, rsb, csb, C, rsc,
                               csc, accumulate, nthreads))
        return;
#ifdef TAB_SMALL_F64
    if (TAB_SMALL_F64(m, n, k, A, rsa, csa, B, rsb, csb, C, rsc, csc, accumulate,
                      nthreads))
        return;
#endif
    ein_frame_gemm_f64(&arch_f64, m, n, k, A, rsa, csa, B, rsb, csb, C, rsc,
                       csc, accumulate, nthreads);
}

static void gemv_f32(int64_t m, int64_t n, const float *A, int64_t rsa,
                     int64_t csa, const float *x, int64_t incx, float *y,
                     int64_t incy, int accumulate, int nthreads)
{
    ein_frame_gemv_f32(&arch_f32, m, n, A, rsa, csa, x, incx, y, incy,
                       accumulate, nthreads);
}

static void gemv_f64(int64_t m, int64_t n, const double *A, int64_t rsa,
                     int64_t csa, const double *x, int64_t incx, double *y,
                     int64_t incy, int accumulate, int nthreads)
{
    ein_frame_gemv_f64(&arch_f64, m, n, A, rsa, csa, x, incx, y, incy,
                       accumulate, nthreads);
}

static int gemv_batch_f32(int64_t nb, int64_t sa, int64_t sx, int64_t sy,
                          int64_t m, int64_t n, const float *A, int64_t rsa,
                          int64_t csa, const float *x, int64_t incx, float *y,
                          int64_t incy, int accumulate)
{
    return ein_frame_gemv_batch_f32(&arch_f32, nb, sa, sx, sy, m, n, A, rsa, csa,
                                    x, incx, y, incy, accumulate);
}

static int gemv_batch_f64(int64_t nb, int64_t sa, int64_t sx, int64_t sy,
                          int64_t m, int64_t n, const double *A, int64_t rsa,
                          int64_t csa, const double *x, int64_t incx, double *y,
                          int64_t incy, int accumulate)
{
    return ein_frame_gemv_batch_f64(&arch_f64, nb, sa, sx, sy, m, n, A, rsa, csa,
                                    x, incx, y, incy, accumulate);
}

/* The table's dot over a batch, in one loop the compiler can see
 * through (the dots are this file's own).  Dots whose terms are
 * contiguous in one operand while the dots are contiguous in the other
 * ("ij,ji->i"), at least eight terms, go to the table's DOTS_T if it has
 * one: which way depends on the strides and n alone, so on neither the
 * batch's length nor the thread that runs it. */
#define DEFINE_DOT_BATCH(SFX, T, DOTS_T)                                      \
    static void dot_batch_##SFX(int64_t nb, int64_t sx, int64_t sy, int64_t so, \
                                int64_t n, const T *x, int64_t incx, const T *y, \
                                int64_t incy, T *out, int acc)                \
    {                                                                         \
        void (*const dots_t)(int64_t, int64_t, int64_t, int64_t, const T *,   \
                             const T *, int64_t, T *, int) = DOTS_T;          \
        if (dots_t && n >= 8 && incx == 1 && sy == 1 && incy != 1) {          \
            dots_t(nb, sx, so, n, x, y, incy, out, acc);                      \
            return;                                                           \
        }                                                                     \
        if (dots_t && n >= 8 && incy == 1 && sx == 1 && incx != 1) {          \
            dots_t(nb, sy, so, n, y, x, incx, out, acc);   /* x y = y x */    \
            return;                                                           \
        }                                                                     \
        for (int64_t b = 0; b < nb; b++) {                                    \
            T d = dot_##SFX(n, x + b * sx, incx, y + b * sy, incy);           \
            T *o = out + b * so;                                              \
            *o = acc ? *o + d : d;                                            \
        }                                                                     \
    }
DEFINE_DOT_BATCH(f32, float, TAB_DOTS_T_F32)
DEFINE_DOT_BATCH(f64, double, TAB_DOTS_T_F64)
#undef DEFINE_DOT_BATCH

static void tgemm_f32(const ein_group *m, const ein_group *n,
                      const ein_group *k, const float *A, const float *B,
                      float *C, int accumulate, int nthreads)
{
    ein_frame_tgemm_f32(&arch_f32, m, n, k, A, B, C, accumulate, nthreads);
}

static void tgemm_f64(const ein_group *m, const ein_group *n,
                      const ein_group *k, const double *A, const double *B,
                      double *C, int accumulate, int nthreads)
{
    ein_frame_tgemm_f64(&arch_f64, m, n, k, A, B, C, accumulate, nthreads);
}

#include <stdbool.h>
#include <stdlib.h>
#define T float
#define UN(name) name##_f32
#define UN_F32 1
#include "kernels/unary_t.h"
#undef UN_F32
#undef T
#undef UN
#define T double
#define UN(name) name##_f64
#include "kernels/unary_t.h"
#undef T
#undef UN

#define DEFINE_OUTER_ROW(SFX, T)                                               \
    static void outer_row_##SFX(T a, const T *b, int64_t csb, T *c, int64_t n, \
                                int stream)                                    \
    {                                                                          \
        if (stream && csb == 1) {                                              \
            OUTER_STREAM(SFX, n, &a, b, c);                                    \
            return;                                                            \
        }                                                                      \
        run_##SFX(n, &a, 0, b, csb, c, 1);                                     \
    }
#ifdef UN_HAS_STREAM
#define OUTER_STREAM(SFX, n, a, b, c) run_stream_##SFX(n, a, 0, b, 1, c)
#else
#define OUTER_STREAM(SFX, n, a, b, c) run_##SFX(n, a, 0, b, 1, c, 1)
#endif
DEFINE_OUTER_ROW(f32, float)
DEFINE_OUTER_ROW(f64, double)
#undef OUTER_STREAM
#undef DEFINE_OUTER_ROW

/* The small path's batch entry, after the x W^T products that a call
 * per product sends to ein_frame_gemm_few, done here the same way. */
#ifdef TAB_SMALL_F32
#define DEFINE_GEMM_BATCH(SFX, T, SMALL)                                       \
    static int gemm_batch_##SFX(int64_t nb, int64_t sa, int64_t sb, int64_t sc, \
                                int64_t m, int64_t n, int64_t k, const T *A,   \
                                int64_t rsa, int64_t csa, const T *B,          \
                                int64_t rsb, int64_t csb, T *C, int64_t rsc,   \
                                int64_t csc, int acc)                          \
    {                                                                          \
        if (!ein_gemm_few_takes(m, n, k, csa, rsb, csb, csc, sizeof(T),        \
                                EIN_MULTI_BYTES(&arch_##SFX, T),               \
                                arch_##SFX.rows_regs))                         \
            return SMALL(nb, sa, sb, sc, m, n, k, A, rsa, csa, B, rsb, csb, C, \
                         rsc, csc, acc);                                       \
        for (int64_t b = 0; b < nb; b++)                                       \
            ein_frame_gemm_few_##SFX(&arch_##SFX, m, n, k, A + b * sa, rsa, csa, \
                                     B + b * sb, rsb, csb, C + b * sc, rsc,    \
                                     csc, acc, 1);                             \
        return 1;                                                              \
    }
DEFINE_GEMM_BATCH(f32, float, TAB_SMALL_BATCH_F32)
DEFINE_GEMM_BATCH(f64, double, TAB_SMALL_BATCH_F64)
#undef DEFINE_GEMM_BATCH
#undef TAB_SMALL_BATCH_F32
#undef TAB_SMALL_BATCH_F64
#define TAB_SMALL_BATCH_F32 gemm_batch_f32
#define TAB_SMALL_BATCH_F64 gemm_batch_f64
#endif

const ein_ktable TAB_VAR = {
    .name = TAB_NAME,
    .gemm_f32 = gemm_f32, .gemm_f64 = gemm_f64,
    .gemv_f32 = gemv_f32, .gemv_f64 = gemv_f64,
    .dot_f32 = dot_f32, .dot_f64 = dot_f64,
    .tgemm_f32 = tgemm_f32, .tgemm_f64 = tgemm_f64,
    .unary_f32 = unary_f32, .unary_f64 = unary_f64,
    .product_f32 = product_f32, .product_f64 = product_f64,
    .carry_f32 = carry_f32, .carry_f64 = carry_f64,
    .sum_f32 = sum_run_f32, .sum_f64 = sum_run_f64,
    .gemm_batch_f32 = TAB_SMALL_BATCH_F32, .gemm_batch_f64 = TAB_SMALL_BATCH_F64,
    .gemv_batch_f32 = gemv_batch_f32, .gemv_batch_f64 = gemv_batch_f64,
    .dot_batch_f32 = dot_batch_f32, .dot_batch_f64 = dot_batch_f64,
    .gemv_rows_f32 = gemv_rows_f32, .gemv_rows_f64 = gemv_rows_f64,
    .gemv_cols_f32 = gemv_cols_f32, .gemv_cols_f64 = gemv_cols_f64,
    .cols_to_rows_f32 = TAB_COLS_TO_ROWS_F32,
    .cols_to_rows_f64 = TAB_COLS_TO_ROWS_F64,
    .mr_f32 = TAB_MR, .nr_f32 = TAB_NR_F32,
    .mr_f64 = TAB_MR, .nr_f64 = TAB_NR_F64,
};
