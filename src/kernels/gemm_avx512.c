/* gemm_avx512.c — the AVX-512 kernel table: 14 x 32 (f32) and 14 x 16
 * (f64) broadcast-FMA micro-kernels on zmm registers, GEMV inner loops
 * and dots.  Built with -mavx512f/vl/bw/dq -mfma; chosen only if cpuid
 * and xgetbv say the CPU and OS support it. */
#include <immintrin.h>
#include <stdint.h>

#include "kernels/frame.h"

/* 14 rows x 2 zmm columns = 28 accumulators, 2 for B, 1 for the
 * broadcast: 31 of the 32 zmm registers. */
#define MR 14
#define NR_F32 32
#define NR_F64 16
/* Rows of y kept hot per pass of the columns-contiguous GEMV: 16 KiB. */
#define COLS_CHUNK_BYTES 16384

/* Masks of the first r lanes, 1 <= r <= 16 (resp. 8); larger r: all. */
static inline __mmask16 lanes16(int64_t r)
{
    return r >= 16 ? (__mmask16)0xffff : (__mmask16)(0xffffu >> (16 - r));
}

static inline __mmask8 lanes8(int64_t r)
{
    return r >= 8 ? (__mmask8)0xff : (__mmask8)(0xffu >> (8 - r));
}

/* ---- micro-kernels ---------------------------------------------------- */

static void ukr_f32(int64_t kc, const float *restrict a, const float *restrict b,
                    float *restrict c, int64_t rsc, int beta)
{
    __m512 acc[MR][2];
#pragma GCC unroll 14
    for (int i = 0; i < MR; i++)
        acc[i][0] = acc[i][1] = _mm512_setzero_ps();
    for (int64_t p = 0; p < kc; p++, a += MR, b += NR_F32) {
        __m512 b0 = _mm512_load_ps(b), b1 = _mm512_load_ps(b + 16);
#pragma GCC unroll 14
        for (int i = 0; i < MR; i++) {
            __m512 ai = _mm512_set1_ps(a[i]);
            acc[i][0] = _mm512_fmadd_ps(ai, b0, acc[i][0]);
            acc[i][1] = _mm512_fmadd_ps(ai, b1, acc[i][1]);
        }
    }
    if (beta) {
#pragma GCC unroll 14
        for (int i = 0; i < MR; i++) {
            float *ci = c + i * rsc;
            _mm512_storeu_ps(ci, _mm512_add_ps(_mm512_loadu_ps(ci), acc[i][0]));
            _mm512_storeu_ps(ci + 16,
                             _mm512_add_ps(_mm512_loadu_ps(ci + 16), acc[i][1]));
        }
    } else {
#pragma GCC unroll 14
        for (int i = 0; i < MR; i++) {
            _mm512_storeu_ps(c + i * rsc, acc[i][0]);
            _mm512_storeu_ps(c + i * rsc + 16, acc[i][1]);
        }
    }
}

static void ukr_f64(int64_t kc, const double *restrict a,
                    const double *restrict b, double *restrict c, int64_t rsc,
                    int beta)
{
    __m512d acc[MR][2];
#pragma GCC unroll 14
    for (int i = 0; i < MR; i++)
        acc[i][0] = acc[i][1] = _mm512_setzero_pd();
    for (int64_t p = 0; p < kc; p++, a += MR, b += NR_F64) {
        __m512d b0 = _mm512_load_pd(b), b1 = _mm512_load_pd(b + 8);
#pragma GCC unroll 14
        for (int i = 0; i < MR; i++) {
            __m512d ai = _mm512_set1_pd(a[i]);
            acc[i][0] = _mm512_fmadd_pd(ai, b0, acc[i][0]);
            acc[i][1] = _mm512_fmadd_pd(ai, b1, acc[i][1]);
        }
    }
    if (beta) {
#pragma GCC unroll 14
        for (int i = 0; i < MR; i++) {
            double *ci = c + i * rsc;
            _mm512_storeu_pd(ci, _mm512_add_pd(_mm512_loadu_pd(ci), acc[i][0]));
            _mm512_storeu_pd(ci + 8,
                             _mm512_add_pd(_mm512_loadu_pd(ci + 8), acc[i][1]));
        }
    } else {
#pragma GCC unroll 14
        for (int i = 0; i < MR; i++) {
            _mm512_storeu_pd(c + i * rsc, acc[i][0]);
            _mm512_storeu_pd(c + i * rsc + 8, acc[i][1]);
        }
    }
}

/* ---- GEMV, rows contiguous: four dots at once ------------------------- */

/* Sums of four zmm accumulators, one per row, by a fixed tree: the same
 * additions happen for a row whichever group it is in. */
static inline __m128 hsum4_f32(__m512 v0, __m512 v1, __m512 v2, __m512 v3)
{
    __m256 s0 = _mm256_add_ps(_mm512_castps512_ps256(v0), _mm512_extractf32x8_ps(v0, 1));
    __m256 s1 = _mm256_add_ps(_mm512_castps512_ps256(v1), _mm512_extractf32x8_ps(v1, 1));
    __m256 s2 = _mm256_add_ps(_mm512_castps512_ps256(v2), _mm512_extractf32x8_ps(v2, 1));
    __m256 s3 = _mm256_add_ps(_mm512_castps512_ps256(v3), _mm512_extractf32x8_ps(v3, 1));
    __m256 h = _mm256_hadd_ps(_mm256_hadd_ps(s0, s1), _mm256_hadd_ps(s2, s3));
    return _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
}

static inline __m256d hsum4_f64(__m512d v0, __m512d v1, __m512d v2, __m512d v3)
{
    __m256d s0 = _mm256_add_pd(_mm512_castpd512_pd256(v0), _mm512_extractf64x4_pd(v0, 1));
    __m256d s1 = _mm256_add_pd(_mm512_castpd512_pd256(v1), _mm512_extractf64x4_pd(v1, 1));
    __m256d s2 = _mm256_add_pd(_mm512_castpd512_pd256(v2), _mm512_extractf64x4_pd(v2, 1));
    __m256d s3 = _mm256_add_pd(_mm512_castpd512_pd256(v3), _mm512_extractf64x4_pd(v3, 1));
    /* h01 = [s0a+s0b, s1a+s1b, s0c+s0d, s1c+s1d] */
    __m256d h01 = _mm256_hadd_pd(s0, s1), h23 = _mm256_hadd_pd(s2, s3);
    __m256d lo = _mm256_permute2f128_pd(h01, h23, 0x20);
    __m256d hi = _mm256_permute2f128_pd(h01, h23, 0x31);
    return _mm256_add_pd(lo, hi);
}

/* Rows r[0..3] of length n dotted with x.  Each row uses two accumulators
 * (32 elements per step, then a 16 block, then a masked tail), so eight
 * FMA chains are in flight. */
static inline __m128 dot4_f32(int64_t n, const float *r0, const float *r1,
                              const float *r2, const float *r3, const float *x)
{
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    __m512 b0 = a0, b1 = a0, b2 = a0, b3 = a0;
    int64_t j = 0;
    for (; j + 32 <= n; j += 32) {
        __m512 x0 = _mm512_loadu_ps(x + j), x1 = _mm512_loadu_ps(x + j + 16);
        a0 = _mm512_fmadd_ps(_mm512_loadu_ps(r0 + j), x0, a0);
        a1 = _mm512_fmadd_ps(_mm512_loadu_ps(r1 + j), x0, a1);
        a2 = _mm512_fmadd_ps(_mm512_loadu_ps(r2 + j), x0, a2);
        a3 = _mm512_fmadd_ps(_mm512_loadu_ps(r3 + j), x0, a3);
        b0 = _mm512_fmadd_ps(_mm512_loadu_ps(r0 + j + 16), x1, b0);
        b1 = _mm512_fmadd_ps(_mm512_loadu_ps(r1 + j + 16), x1, b1);
        b2 = _mm512_fmadd_ps(_mm512_loadu_ps(r2 + j + 16), x1, b2);
        b3 = _mm512_fmadd_ps(_mm512_loadu_ps(r3 + j + 16), x1, b3);
    }
    if (j + 16 <= n) {
        __m512 x0 = _mm512_loadu_ps(x + j);
        a0 = _mm512_fmadd_ps(_mm512_loadu_ps(r0 + j), x0, a0);
        a1 = _mm512_fmadd_ps(_mm512_loadu_ps(r1 + j), x0, a1);
        a2 = _mm512_fmadd_ps(_mm512_loadu_ps(r2 + j), x0, a2);
        a3 = _mm512_fmadd_ps(_mm512_loadu_ps(r3 + j), x0, a3);
        j += 16;
    }
    if (j < n) {
        __mmask16 mk = lanes16(n - j);
        __m512 x0 = _mm512_maskz_loadu_ps(mk, x + j);
        b0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(mk, r0 + j), x0, b0);
        b1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(mk, r1 + j), x0, b1);
        b2 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(mk, r2 + j), x0, b2);
        b3 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(mk, r3 + j), x0, b3);
    }
    return hsum4_f32(_mm512_add_ps(a0, b0), _mm512_add_ps(a1, b1),
                     _mm512_add_ps(a2, b2), _mm512_add_ps(a3, b3));
}

static inline __m256d dot4_f64(int64_t n, const double *r0, const double *r1,
                               const double *r2, const double *r3,
                               const double *x)
{
    __m512d a0 = _mm512_setzero_pd(), a1 = a0, a2 = a0, a3 = a0;
    __m512d b0 = a0, b1 = a0, b2 = a0, b3 = a0;
    int64_t j = 0;
    for (; j + 16 <= n; j += 16) {
        __m512d x0 = _mm512_loadu_pd(x + j), x1 = _mm512_loadu_pd(x + j + 8);
        a0 = _mm512_fmadd_pd(_mm512_loadu_pd(r0 + j), x0, a0);
        a1 = _mm512_fmadd_pd(_mm512_loadu_pd(r1 + j), x0, a1);
        a2 = _mm512_fmadd_pd(_mm512_loadu_pd(r2 + j), x0, a2);
        a3 = _mm512_fmadd_pd(_mm512_loadu_pd(r3 + j), x0, a3);
        b0 = _mm512_fmadd_pd(_mm512_loadu_pd(r0 + j + 8), x1, b0);
        b1 = _mm512_fmadd_pd(_mm512_loadu_pd(r1 + j + 8), x1, b1);
        b2 = _mm512_fmadd_pd(_mm512_loadu_pd(r2 + j + 8), x1, b2);
        b3 = _mm512_fmadd_pd(_mm512_loadu_pd(r3 + j + 8), x1, b3);
    }
    if (j + 8 <= n) {
        __m512d x0 = _mm512_loadu_pd(x + j);
        a0 = _mm512_fmadd_pd(_mm512_loadu_pd(r0 + j), x0, a0);
        a1 = _mm512_fmadd_pd(_mm512_loadu_pd(r1 + j), x0, a1);
        a2 = _mm512_fmadd_pd(_mm512_loadu_pd(r2 + j), x0, a2);
        a3 = _mm512_fmadd_pd(_mm512_loadu_pd(r3 + j), x0, a3);
        j += 8;
    }
    if (j < n) {
        __mmask8 mk = lanes8(n - j);
        __m512d x0 = _mm512_maskz_loadu_pd(mk, x + j);
        b0 = _mm512_fmadd_pd(_mm512_maskz_loadu_pd(mk, r0 + j), x0, b0);
        b1 = _mm512_fmadd_pd(_mm512_maskz_loadu_pd(mk, r1 + j), x0, b1);
        b2 = _mm512_fmadd_pd(_mm512_maskz_loadu_pd(mk, r2 + j), x0, b2);
        b3 = _mm512_fmadd_pd(_mm512_maskz_loadu_pd(mk, r3 + j), x0, b3);
    }
    return hsum4_f64(_mm512_add_pd(a0, b0), _mm512_add_pd(a1, b1),
                     _mm512_add_pd(a2, b2), _mm512_add_pd(a3, b3));
}

static void gemv_rows_f32(int64_t m, int64_t n, const float *A, int64_t rsa,
                          const float *x, float *y, int64_t incy, int acc)
{
    _Alignas(16) float s[4];
    for (int64_t i = 0; i < m; i += 4) {
        /* Past the last row, repeat it: same code for every row. */
        const float *r0 = A + i * rsa;
        const float *r1 = i + 1 < m ? r0 + rsa : r0;
        const float *r2 = i + 2 < m ? r0 + 2 * rsa : r0;
        const float *r3 = i + 3 < m ? r0 + 3 * rsa : r0;
        _mm_store_ps(s, dot4_f32(n, r0, r1, r2, r3, x));
        int64_t e = m - i < 4 ? m - i : 4;
        if (acc && incy == 1 && e == 4) {
            _mm_storeu_ps(y + i, _mm_add_ps(_mm_loadu_ps(y + i), _mm_load_ps(s)));
            continue;
        }
        for (int64_t q = 0; q < e; q++) {
            float *yy = y + (i + q) * incy;
            *yy = acc ? *yy + s[q] : s[q];
        }
    }
}

static void gemv_rows_f64(int64_t m, int64_t n, const double *A, int64_t rsa,
                          const double *x, double *y, int64_t incy, int acc)
{
    _Alignas(32) double s[4];
    for (int64_t i = 0; i < m; i += 4) {
        const double *r0 = A + i * rsa;
        const double *r1 = i + 1 < m ? r0 + rsa : r0;
        const double *r2 = i + 2 < m ? r0 + 2 * rsa : r0;
        const double *r3 = i + 3 < m ? r0 + 3 * rsa : r0;
        _mm256_store_pd(s, dot4_f64(n, r0, r1, r2, r3, x));
        int64_t e = m - i < 4 ? m - i : 4;
        for (int64_t q = 0; q < e; q++) {
            double *yy = y + (i + q) * incy;
            *yy = acc ? *yy + s[q] : s[q];
        }
    }
}

/* ---- GEMV, columns contiguous: y chunk in L1, eight columns a pass ----- */

/* Every y element sees y = fma(A[i,j], x[j], y) for j ascending, whether
 * its 16 rows are full or masked, so row splits keep bits. */
static void gemv_cols_f32(int64_t m, int64_t n, const float *A, int64_t csa,
                          const float *x, int64_t incx, float *restrict y,
                          int acc)
{
    const int64_t chunk = COLS_CHUNK_BYTES / sizeof(float);
    for (int64_t i0 = 0; i0 < m; i0 += chunk) {
        int64_t ie = m - i0 < chunk ? m - i0 : chunk;
        float *yc = y + i0;
        const float *Ac = A + i0;
        if (!acc)
            for (int64_t i = 0; i < ie; i++)
                yc[i] = 0;
        int64_t j = 0;
        for (; j + 8 <= n; j += 8) {
            const float *a = Ac + j * csa;
            __m512 x0 = _mm512_set1_ps(x[j * incx]), x1 = _mm512_set1_ps(x[(j + 1) * incx]);
            __m512 x2 = _mm512_set1_ps(x[(j + 2) * incx]), x3 = _mm512_set1_ps(x[(j + 3) * incx]);
            __m512 x4 = _mm512_set1_ps(x[(j + 4) * incx]), x5 = _mm512_set1_ps(x[(j + 5) * incx]);
            __m512 x6 = _mm512_set1_ps(x[(j + 6) * incx]), x7 = _mm512_set1_ps(x[(j + 7) * incx]);
            for (int64_t i = 0; i < ie; i += 16) {
                __mmask16 mk = lanes16(ie - i);
                __m512 v = _mm512_maskz_loadu_ps(mk, yc + i);
                v = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(mk, a + i), x0, v);
                v = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(mk, a + csa + i), x1, v);
                v = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(mk, a + 2 * csa + i), x2, v);
                v = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(mk, a + 3 * csa + i), x3, v);
                v = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(mk, a + 4 * csa + i), x4, v);
                v = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(mk, a + 5 * csa + i), x5, v);
                v = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(mk, a + 6 * csa + i), x6, v);
                v = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(mk, a + 7 * csa + i), x7, v);
                _mm512_mask_storeu_ps(yc + i, mk, v);
            }
        }
        for (; j < n; j++) {
            const float *a = Ac + j * csa;
            __m512 x0 = _mm512_set1_ps(x[j * incx]);
            for (int64_t i = 0; i < ie; i += 16) {
                __mmask16 mk = lanes16(ie - i);
                __m512 v = _mm512_maskz_loadu_ps(mk, yc + i);
                v = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(mk, a + i), x0, v);
                _mm512_mask_storeu_ps(yc + i, mk, v);
            }
        }
    }
}

static void gemv_cols_f64(int64_t m, int64_t n, const double *A, int64_t csa,
                          const double *x, int64_t incx, double *restrict y,
                          int acc)
{
    const int64_t chunk = COLS_CHUNK_BYTES / sizeof(double);
    for (int64_t i0 = 0; i0 < m; i0 += chunk) {
        int64_t ie = m - i0 < chunk ? m - i0 : chunk;
        double *yc = y + i0;
        const double *Ac = A + i0;
        if (!acc)
            for (int64_t i = 0; i < ie; i++)
                yc[i] = 0;
        int64_t j = 0;
        for (; j + 8 <= n; j += 8) {
            const double *a = Ac + j * csa;
            __m512d x0 = _mm512_set1_pd(x[j * incx]), x1 = _mm512_set1_pd(x[(j + 1) * incx]);
            __m512d x2 = _mm512_set1_pd(x[(j + 2) * incx]), x3 = _mm512_set1_pd(x[(j + 3) * incx]);
            __m512d x4 = _mm512_set1_pd(x[(j + 4) * incx]), x5 = _mm512_set1_pd(x[(j + 5) * incx]);
            __m512d x6 = _mm512_set1_pd(x[(j + 6) * incx]), x7 = _mm512_set1_pd(x[(j + 7) * incx]);
            for (int64_t i = 0; i < ie; i += 8) {
                __mmask8 mk = lanes8(ie - i);
                __m512d v = _mm512_maskz_loadu_pd(mk, yc + i);
                v = _mm512_fmadd_pd(_mm512_maskz_loadu_pd(mk, a + i), x0, v);
                v = _mm512_fmadd_pd(_mm512_maskz_loadu_pd(mk, a + csa + i), x1, v);
                v = _mm512_fmadd_pd(_mm512_maskz_loadu_pd(mk, a + 2 * csa + i), x2, v);
                v = _mm512_fmadd_pd(_mm512_maskz_loadu_pd(mk, a + 3 * csa + i), x3, v);
                v = _mm512_fmadd_pd(_mm512_maskz_loadu_pd(mk, a + 4 * csa + i), x4, v);
                v = _mm512_fmadd_pd(_mm512_maskz_loadu_pd(mk, a + 5 * csa + i), x5, v);
                v = _mm512_fmadd_pd(_mm512_maskz_loadu_pd(mk, a + 6 * csa + i), x6, v);
                v = _mm512_fmadd_pd(_mm512_maskz_loadu_pd(mk, a + 7 * csa + i), x7, v);
                _mm512_mask_storeu_pd(yc + i, mk, v);
            }
        }
        for (; j < n; j++) {
            const double *a = Ac + j * csa;
            __m512d x0 = _mm512_set1_pd(x[j * incx]);
            for (int64_t i = 0; i < ie; i += 8) {
                __mmask8 mk = lanes8(ie - i);
                __m512d v = _mm512_maskz_loadu_pd(mk, yc + i);
                v = _mm512_fmadd_pd(_mm512_maskz_loadu_pd(mk, a + i), x0, v);
                _mm512_mask_storeu_pd(yc + i, mk, v);
            }
        }
    }
}

/* ---- dots --------------------------------------------------------------- */

static float dot_f32(int64_t n, const float *x, int64_t incx, const float *y,
                     int64_t incy)
{
    if (incx != 1 || incy != 1) {
        float s = 0;
        for (int64_t i = 0; i < n; i++)
            s = __builtin_fmaf(x[i * incx], y[i * incy], s);
        return s;
    }
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    int64_t i = 0;
    for (; i + 64 <= n; i += 64) {
        a0 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i), _mm512_loadu_ps(y + i), a0);
        a1 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i + 16), _mm512_loadu_ps(y + i + 16), a1);
        a2 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i + 32), _mm512_loadu_ps(y + i + 32), a2);
        a3 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i + 48), _mm512_loadu_ps(y + i + 48), a3);
    }
    for (; i < n; i += 16) {
        __mmask16 mk = lanes16(n - i);
        a0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(mk, x + i),
                             _mm512_maskz_loadu_ps(mk, y + i), a0);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1),
                                              _mm512_add_ps(a2, a3)));
}

static double dot_f64(int64_t n, const double *x, int64_t incx,
                      const double *y, int64_t incy)
{
    if (incx != 1 || incy != 1) {
        double s = 0;
        for (int64_t i = 0; i < n; i++)
            s = __builtin_fma(x[i * incx], y[i * incy], s);
        return s;
    }
    __m512d a0 = _mm512_setzero_pd(), a1 = a0, a2 = a0, a3 = a0;
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        a0 = _mm512_fmadd_pd(_mm512_loadu_pd(x + i), _mm512_loadu_pd(y + i), a0);
        a1 = _mm512_fmadd_pd(_mm512_loadu_pd(x + i + 8), _mm512_loadu_pd(y + i + 8), a1);
        a2 = _mm512_fmadd_pd(_mm512_loadu_pd(x + i + 16), _mm512_loadu_pd(y + i + 16), a2);
        a3 = _mm512_fmadd_pd(_mm512_loadu_pd(x + i + 24), _mm512_loadu_pd(y + i + 24), a3);
    }
    for (; i < n; i += 8) {
        __mmask8 mk = lanes8(n - i);
        a0 = _mm512_fmadd_pd(_mm512_maskz_loadu_pd(mk, x + i),
                             _mm512_maskz_loadu_pd(mk, y + i), a0);
    }
    return _mm512_reduce_add_pd(_mm512_add_pd(_mm512_add_pd(a0, a1),
                                              _mm512_add_pd(a2, a3)));
}

/* ---- table -------------------------------------------------------------- */

static const ein_arch_f32 arch_f32 = {MR, NR_F32, ukr_f32, gemv_rows_f32, gemv_cols_f32};
static const ein_arch_f64 arch_f64 = {MR, NR_F64, ukr_f64, gemv_rows_f64, gemv_cols_f64};

static void gemm_f32(int64_t m, int64_t n, int64_t k, const float *A,
                     int64_t rsa, int64_t csa, const float *B, int64_t rsb,
                     int64_t csb, float *C, int64_t rsc, int64_t csc,
                     int accumulate, int nthreads)
{
    ein_frame_gemm_f32(&arch_f32, m, n, k, A, rsa, csa, B, rsb, csb, C, rsc,
                       csc, accumulate, nthreads);
}

static void gemm_f64(int64_t m, int64_t n, int64_t k, const double *A,
                     int64_t rsa, int64_t csa, const double *B, int64_t rsb,
                     int64_t csb, double *C, int64_t rsc, int64_t csc,
                     int accumulate, int nthreads)
{
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

const ein_ktable ein_ktable_avx512_tab = {
    .name = "avx512",
    .gemm_f32 = gemm_f32, .gemm_f64 = gemm_f64,
    .gemv_f32 = gemv_f32, .gemv_f64 = gemv_f64,
    .dot_f32 = dot_f32, .dot_f64 = dot_f64,
    .mr_f32 = MR, .nr_f32 = NR_F32, .mr_f64 = MR, .nr_f64 = NR_F64,
};
