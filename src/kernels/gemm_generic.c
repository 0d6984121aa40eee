/* gemm_generic.c — the portable kernel table: plain C micro-kernels, GEMV
 * loops and dots that the compiler may vectorize for baseline x86-64
 * (SSE2).  Always built; the table every CPU can run. */
#include <stdint.h>

#include "kernels/frame.h"

/* 4 x 8 f32 / 4 x 4 f64 tiles: 8 SSE registers of accumulators. */
#define GEN_MR 4
#define GEN_NR_F32 8
#define GEN_NR_F64 4
/* Independent partial sums per row in dots, so additions pipeline. */
#define GEN_LANES 8
/* s + a b, rounded twice: baseline x86-64 has no FMA. */
#define GEN_MADD(a, b, s) ((s) + (a) * (b))

#define CAT_(a, b) a##_##b
#define CAT(a, b) CAT_(a, b)
#define F(name) CAT(name, SFX)

#define GEN_BODY                                                              \
static void F(ukr)(int64_t kc, const T *restrict a, const T *restrict b,     \
                   T *restrict c, int64_t rsc, int beta)                      \
{                                                                             \
    T acc[GEN_MR][NR];                                                        \
    for (int i = 0; i < GEN_MR; i++)                                          \
        for (int j = 0; j < NR; j++)                                          \
            acc[i][j] = 0;                                                    \
    for (int64_t p = 0; p < kc; p++, a += GEN_MR, b += NR)                    \
        for (int i = 0; i < GEN_MR; i++)                                      \
            for (int j = 0; j < NR; j++)                                      \
                acc[i][j] += a[i] * b[j];                                     \
    for (int i = 0; i < GEN_MR; i++)                                          \
        for (int j = 0; j < NR; j++)                                          \
            c[i * rsc + j] = beta & 1 ? c[i * rsc + j] + acc[i][j] : acc[i][j];   \
}                                                                             \
                                                                              \
/* One row's dot, always the same lane split and reduction tree. */          \
static T F(dot_unit)(int64_t n, const T *restrict a, const T *restrict x)    \
{                                                                             \
    T l[GEN_LANES] = {0};                                                     \
    int64_t j = 0;                                                            \
    for (; j + GEN_LANES <= n; j += GEN_LANES)                                \
        for (int q = 0; q < GEN_LANES; q++)                                   \
            l[q] += a[j + q] * x[j + q];                                      \
    T s = ((l[0] + l[4]) + (l[1] + l[5])) + ((l[2] + l[6]) + (l[3] + l[7])); \
    for (; j < n; j++)                                                        \
        s += a[j] * x[j];                                                     \
    return s;                                                                 \
}                                                                             \
                                                                              \
static void F(gemv_rows)(int64_t m, int64_t n, const T *A, int64_t rsa,      \
                         const T *x, T *y, int64_t incy, int acc,            \
                         int mode)                                            \
{                                                                             \
    (void)mode;   /* every row alone already */                              \
    for (int64_t i = 0; i < m; i++) {                                         \
        T s = F(dot_unit)(n, A + i * rsa, x);                                 \
        T *yy = y + i * incy;                                                 \
        *yy = acc ? *yy + s : s;                                              \
    }                                                                         \
}                                                                             \
                                                                              \
/* Four columns per pass over y, added in column order, so the bits are    \
 * those of one column at a time. */                                         \
static void F(gemv_cols)(int64_t m, int64_t n, const T *A, int64_t csa,      \
                         const T *x, int64_t incx, T *restrict y, int acc,   \
                         int64_t span)                                        \
{                                                                             \
    (void)span;                                                               \
    if (!acc)                                                                 \
        for (int64_t i = 0; i < m; i++)                                       \
            y[i] = 0;                                                         \
    int64_t j = 0;                                                            \
    for (; j + 4 <= n; j += 4) {                                              \
        const T *a0 = A + j * csa, *a1 = a0 + csa, *a2 = a1 + csa,            \
                *a3 = a2 + csa;                                               \
        T x0 = x[j * incx], x1 = x[(j + 1) * incx], x2 = x[(j + 2) * incx],   \
          x3 = x[(j + 3) * incx];                                             \
        for (int64_t i = 0; i < m; i++)                                       \
            y[i] = (((y[i] + a0[i] * x0) + a1[i] * x1) + a2[i] * x2) +        \
                   a3[i] * x3;                                                \
    }                                                                         \
    for (; j < n; j++) {                                                      \
        const T *a0 = A + j * csa;                                            \
        T x0 = x[j * incx];                                                   \
        for (int64_t i = 0; i < m; i++)                                       \
            y[i] = y[i] + a0[i] * x0;                                         \
    }                                                                         \
}                                                                             \
                                                                              \
EIN_DEFINE_DOT_STRIDED(F(dot_strided), T, GEN_MADD)                            \
                                                                              \
static T F(dot)(int64_t n, const T *x, int64_t incx, const T *y,             \
                int64_t incy)                                                 \
{                                                                             \
    if (incx == 1 && incy == 1)                                               \
        return F(dot_unit)(n, x, y);                                          \
    return F(dot_strided)(n, x, incx, y, incy);                               \
}

#define T float
#define SFX f32
#define NR GEN_NR_F32
GEN_BODY
#undef T
#undef SFX
#undef NR

#define T double
#define SFX f64
#define NR GEN_NR_F64
GEN_BODY
#undef T
#undef SFX
#undef NR

/* ---- table -------------------------------------------------------------- */

#define TAB_NAME "generic"
#define TAB_VAR ein_ktable_generic_tab
#define TAB_MR GEN_MR
#define TAB_NR_F32 GEN_NR_F32
#define TAB_NR_F64 GEN_NR_F64
#include "kernels/table_t.h"
