/* transpose_avx.h — in-register transposes on ymm vectors (AVX), and the
 * transposed dots built on them, for the files built with AVX2 or AVX-512
 * flags. */
#ifndef EIN_TRANSPOSE_AVX_H
#define EIN_TRANSPOSE_AVX_H

#include <immintrin.h>
#include <stdint.h>

/* r[i] lane j becomes r[j] lane i: 8 x 8 floats. */
static inline void tr8_ps(__m256 r[8])
{
    __m256 t[8], u[8];
    for (int i = 0; i < 4; i++) {
        t[2 * i] = _mm256_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm256_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    for (int h = 0; h < 2; h++) {         /* rows 0-3, then rows 4-7 */
        u[4 * h + 0] = _mm256_shuffle_ps(t[4 * h], t[4 * h + 2], 0x44);
        u[4 * h + 1] = _mm256_shuffle_ps(t[4 * h], t[4 * h + 2], 0xee);
        u[4 * h + 2] = _mm256_shuffle_ps(t[4 * h + 1], t[4 * h + 3], 0x44);
        u[4 * h + 3] = _mm256_shuffle_ps(t[4 * h + 1], t[4 * h + 3], 0xee);
    }
    /* u[q] holds columns q and q + 4 of rows 0-3, u[4 + q] of rows 4-7. */
    for (int q = 0; q < 4; q++) {
        r[q] = _mm256_permute2f128_ps(u[q], u[4 + q], 0x20);
        r[q + 4] = _mm256_permute2f128_ps(u[q], u[4 + q], 0x31);
    }
}

/* 4 x 4 doubles. */
static inline void tr4_pd(__m256d r[4])
{
    __m256d t0 = _mm256_unpacklo_pd(r[0], r[1]);   /* r0 r1, columns 0 and 2 */
    __m256d t1 = _mm256_unpackhi_pd(r[0], r[1]);   /* columns 1 and 3 */
    __m256d t2 = _mm256_unpacklo_pd(r[2], r[3]);
    __m256d t3 = _mm256_unpackhi_pd(r[2], r[3]);
    r[0] = _mm256_permute2f128_pd(t0, t2, 0x20);
    r[1] = _mm256_permute2f128_pd(t1, t3, 0x20);
    r[2] = _mm256_permute2f128_pd(t0, t2, 0x31);
    r[3] = _mm256_permute2f128_pd(t1, t3, 0x31);
}

/* 4 x 4 floats (xmm). */
static inline void tr4_ps(__m128 r[4])
{
    __m128 t0 = _mm_unpacklo_ps(r[0], r[1]);   /* r0 r1, columns 0 and 1 */
    __m128 t1 = _mm_unpackhi_ps(r[0], r[1]);   /* columns 2 and 3 */
    __m128 t2 = _mm_unpacklo_ps(r[2], r[3]);
    __m128 t3 = _mm_unpackhi_ps(r[2], r[3]);
    r[0] = _mm_movelh_ps(t0, t2);
    r[1] = _mm_movehl_ps(t2, t0);
    r[2] = _mm_movelh_ps(t1, t3);
    r[3] = _mm_movehl_ps(t3, t1);
}

/* C (+)= T^T for one square block: rows i of C (rsc apart) get column i
 * of T (rows ldt apart), 8 x 8 floats or 4 x 4 doubles; each element one
 * add when acc, as the element loop's. */
#define EIN_PUT_T(NAME, T, V, W, LOADU, STOREU, ADD, TR)                      \
    static inline void NAME(const T *t, int64_t ldt, T *c, int64_t rsc,       \
                            int acc)                                          \
    {                                                                         \
        V r[W];                                                               \
        for (int q = 0; q < (W); q++)                                         \
            r[q] = LOADU(t + q * ldt);                                        \
        TR(r);                                                                \
        for (int q = 0; q < (W); q++)                                         \
            STOREU(c + q * rsc, acc ? ADD(LOADU(c + q * rsc), r[q]) : r[q]);  \
    }
EIN_PUT_T(put_t8_ps, float, __m256, 8, _mm256_loadu_ps, _mm256_storeu_ps,
          _mm256_add_ps, tr8_ps)
EIN_PUT_T(put_t4_pd, double, __m256d, 4, _mm256_loadu_pd, _mm256_storeu_pd,
          _mm256_add_pd, tr4_pd)
EIN_PUT_T(put_t4_ps, float, __m128, 4, _mm_loadu_ps, _mm_storeu_ps, _mm_add_ps, tr4_ps)
#undef EIN_PUT_T

/* nb dots of n >= 8 terms, dot b = sum over j of x[b sx + j] y[j incy + b]:
 * the terms contiguous in x, the dots contiguous in y ("ij,ji->i"), where
 * one dot at a time reads a line of y for each term.  W dots at once (the
 * vector's lanes): W rows of x, W terms of each, transposed in registers,
 * meet W neighbouring elements of a row of y.  Each dot adds its terms in
 * four chains, term j into chain j % 4 (W is a multiple of 4), and sums
 * them as (c0 + c1) + (c2 + c3), whatever block or thread it is in; the
 * dots past nb in the last block repeat the last row of x and read none
 * of y.  MASKT/MKMASK(r): the type and value of an r-lane mask;
 * MLOAD(p, m) loads those lanes, zeros elsewhere, touching no others. */
#define EIN_DOTS_T(NAME, T, V, W, LOADU, MASKT, MKMASK, MLOAD, FMA, ADD, SETZ, \
                   STORE, TR)                                                 \
    static void NAME(int64_t nb, int64_t sx, int64_t so, int64_t n, const T *x, \
                     const T *y, int64_t incy, T *out, int acc)              \
    {                                                                         \
        for (int64_t b0 = 0; b0 < nb; b0 += W) {                              \
            const int w = nb - b0 < W ? (int)(nb - b0) : W;                   \
            const MASKT mb = MKMASK(w);                                       \
            const T *r[W];                                                    \
            for (int q = 0; q < W; q++)                                       \
                r[q] = x + (b0 + (q < w ? q : w - 1)) * sx;                   \
            const T *yb = y + b0;                                             \
            V c[4] = {SETZ(), SETZ(), SETZ(), SETZ()};                        \
            for (int64_t j0 = 0; j0 < n; j0 += W) {                           \
                const int jw = n - j0 < W ? (int)(n - j0) : W;                \
                const MASKT mj = MKMASK(jw);                                  \
                V t[W];                                                       \
                for (int q = 0; q < W; q++)                                   \
                    t[q] = jw == W ? LOADU(r[q] + j0) : MLOAD(r[q] + j0, mj); \
                TR(t);                                                        \
                for (int jj = 0; jj < jw; jj++) {                             \
                    const T *yr = yb + (j0 + jj) * incy;                      \
                    c[jj % 4] = FMA(t[jj], w == W ? LOADU(yr) : MLOAD(yr, mb), \
                                    c[jj % 4]);                               \
                }                                                             \
            }                                                                 \
            _Alignas(64) T v[W];                                              \
            STORE(v, ADD(ADD(c[0], c[1]), ADD(c[2], c[3])));                  \
            for (int q = 0; q < w; q++) {                                     \
                T *o = out + (b0 + q) * so;                                   \
                T d = v[q] + (T)0;                                            \
                *o = acc ? *o + d : d;                                        \
            }                                                                 \
        }                                                                     \
    }

/* np full B micro-panels of NR columns from a B whose columns are
 * contiguous in depth (rsb = 1: "ij,kj->ik", x W^T), as the frame's
 * pack_b lays them out: panel q, row p holds B[p, q NR .. q NR + NR - 1].
 * W depth steps of W columns at a time are transposed in registers; the
 * plain loop moved one element a step, with a store NR elements from the
 * last.  A copy, so the packed bits are the plain loop's.  Alternating
 * builds (with the edge tiles' kernel), one thread, einsum-bench
 * "ij,kj->ik": f32 [100,2500] x [100,2500] 689-731 -> 446-450 us (0.63x
 * -> 0.91x OpenBLAS), [64,512] x [256,512] 161-166 -> 118-124 us, f64
 * [100,2500] x [100,2500] 0.98-1.07 -> 0.81-0.84 ms. */
#define EIN_PACK_B_T(NAME, T, V, W, NR, LOADU, STOREU, TR)                    \
    static void NAME(int64_t kc, int64_t np, const T *b, int64_t csb,        \
                     T *dst)                                                  \
    {                                                                         \
        for (int64_t q = 0; q < np; q++, b += (NR) * csb, dst += (NR) * kc) { \
            int64_t p = 0;                                                    \
            for (; p + (W) <= kc; p += (W))                                   \
                for (int g = 0; g < (NR) / (W); g++) {                        \
                    V r[W];                                                   \
                    for (int i = 0; i < (W); i++)                             \
                        r[i] = LOADU(b + (g * (W) + i) * csb + p);            \
                    TR(r);                                                    \
                    for (int i = 0; i < (W); i++)                             \
                        STOREU(dst + (p + i) * (NR) + g * (W), r[i]);         \
                }                                                             \
            for (; p < kc; p++)                                               \
                for (int jj = 0; jj < (NR); jj++)                             \
                    dst[p * (NR) + jj] = b[jj * csb + p];                     \
        }                                                                     \
    }

#endif
