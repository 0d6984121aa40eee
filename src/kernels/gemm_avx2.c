/* gemm_avx2.c — the AVX2 kernel table: 6 x 16 (f32) and 6 x 8 (f64)
 * broadcast-FMA micro-kernels on ymm registers, GEMV inner loops and
 * dots.  Built with -mavx2 -mfma; chosen when AVX-512 is absent. */
#include <immintrin.h>
#include <stdbool.h>
#include <stdint.h>

#include "kernels/frame.h"
#include "kernels/gemm_small.h"
#include "kernels/transpose_avx.h"
#include "kernels/ukr_t.h"

/* 6 rows x 2 ymm columns = 12 accumulators, 2 for B, 1 broadcast: 15 of
 * the 16 ymm registers. */
#define MR 6
#define NR_F32 16
#define NR_F64 8
/* Rows of y per pass of the columns-contiguous GEMV (see gemm_avx512.c):
 * a whole column per visit, up to 256 KiB of y; with 16 KiB, f64 4096^2
 * took 4.8-4.9 ms a call on one thread, 4.0 whole (AVX2 table on AMD
 * Zen 5, alternating in one process). */
#define COLS_CHUNK_BYTES (256 * 1024)

/* maskload masks: the r-element prefix is tab + 8 - r (f32) / 4 - r. */
static const int32_t k_mask32[16] = {-1, -1, -1, -1, -1, -1, -1, -1,
                                     0, 0, 0, 0, 0, 0, 0, 0};
static const int64_t k_mask64[8] = {-1, -1, -1, -1, 0, 0, 0, 0};

static inline __m256i mask_f32(int64_t r)
{
    return _mm256_loadu_si256((const __m256i *)(k_mask32 + 8 - r));
}

static inline __m256i mask_f64(int64_t r)
{
    return _mm256_loadu_si256((const __m256i *)(k_mask64 + 4 - r));
}

/* ---- micro-kernels ---------------------------------------------------- */

/* Micro-kernel prefetch, as the AVX-512 table's: B rows fetched this
 * many steps ahead, the C tile this many steps before the last. */
#define PF_B 8
#define PF_C 32

/* The micro-kernel (ukr_t.h), on ymm.  Alternating builds, one thread,
 * against a loop of single steps with no prefetch (and with the edge
 * kernels below): ij,jk->ik f32 1024^2 23.7-25.0 -> 21.7-22.6 ms, 300^2
 * 543-548 -> 506-516 us, f64 512^2 6.0-6.2 -> 5.5-5.8 ms; 100x2500x100
 * f32 652-666 -> 590-616 us. */
/* Its four steps in inline assembly.  Twelve accumulators, two B vectors
 * and a broadcast are 15 of the 16 ymm registers; given the intrinsics,
 * gcc 12 spilled two accumulators to the stack and added register copies
 * in every four steps.  These are the intrinsics' FMAs in the same order
 * (row by row, B's first vector then its second), so the bits are the
 * same.  On AMD Zen 3 (this table's own machine), the kernel alone with
 * its panels in L1: f32 90-91% -> 98% of the FMA peak, f64 82-88% ->
 * 92-94%; ij,jk->ik f64 1024^3 one thread 62.6 -> 53-54 ms.  BC / FM:
 * the broadcast and FMA mnemonics, ES: element bytes (an A column is 6
 * elements, a B row 64 bytes, both panels 32-byte aligned). */
#define UKR_ASM_ROW(P, I, BC, FM, ES)                                         \
    BC " 6*" #ES "*" #P "+" #ES "*" #I "(%[a]), %%ymm15\n\t"                \
    FM " %%ymm13, %%ymm15, %t[c" #I "0]\n\t"                               \
    FM " %%ymm14, %%ymm15, %t[c" #I "1]\n\t"
#define UKR_ASM_STEP(P, BC, FM, ES)                                           \
    "vmovaps 64*" #P "(%[b]), %%ymm13\n\t"                                  \
    "vmovaps 64*" #P "+32(%[b]), %%ymm14\n\t"                               \
    UKR_ASM_ROW(P, 0, BC, FM, ES) UKR_ASM_ROW(P, 1, BC, FM, ES)               \
    UKR_ASM_ROW(P, 2, BC, FM, ES) UKR_ASM_ROW(P, 3, BC, FM, ES)               \
    UKR_ASM_ROW(P, 4, BC, FM, ES) UKR_ASM_ROW(P, 5, BC, FM, ES)
#define UKR_ASM_STEP4(T, BC, FM, ES)                                          \
    __asm__(UKR_ASM_STEP(0, BC, FM, ES) UKR_ASM_STEP(1, BC, FM, ES)           \
            UKR_ASM_STEP(2, BC, FM, ES) UKR_ASM_STEP(3, BC, FM, ES)           \
            : [c00] "+x"(acc[0][0]), [c01] "+x"(acc[0][1]),                   \
              [c10] "+x"(acc[1][0]), [c11] "+x"(acc[1][1]),                   \
              [c20] "+x"(acc[2][0]), [c21] "+x"(acc[2][1]),                   \
              [c30] "+x"(acc[3][0]), [c31] "+x"(acc[3][1]),                   \
              [c40] "+x"(acc[4][0]), [c41] "+x"(acc[4][1]),                   \
              [c50] "+x"(acc[5][0]), [c51] "+x"(acc[5][1])                    \
            : [a] "r"(a), [b] "r"(b),                                         \
              "m"(*(const T(*)[4 * MR])a), "m"(*(const T(*)[4 * 64 / ES])b)   \
            : "xmm13", "xmm14", "xmm15")
#define UKR_STEP4_PS(V, W, LOAD, BCAST, FMA)                                  \
    UKR_ASM_STEP4(float, "vbroadcastss", "vfmadd231ps", 4)
#define UKR_STEP4_PD(V, W, LOAD, BCAST, FMA)                                  \
    UKR_ASM_STEP4(double, "vbroadcastsd", "vfmadd231pd", 8)
_Static_assert(MR == 6, "the assembly steps are written for six rows");
EIN_UKR(ukr_f32, float, __m256, 8, _mm256_load_ps, _mm256_loadu_ps, _mm256_storeu_ps,
        _mm256_broadcast_ss, _mm256_fmadd_ps, _mm256_add_ps, _mm256_setzero_ps,
        UKR_STEP4_PS)
EIN_UKR(ukr_f64, double, __m256d, 4, _mm256_load_pd, _mm256_loadu_pd, _mm256_storeu_pd,
        _mm256_broadcast_sd, _mm256_fmadd_pd, _mm256_add_pd, _mm256_setzero_pd,
        UKR_STEP4_PD)
#undef UKR_STEP4_PS
#undef UKR_STEP4_PD
#undef UKR_ASM_STEP4
#undef UKR_ASM_STEP
#undef UKR_ASM_ROW

/* Edge tiles, rows 2, 4 or 6 by one or two vectors. */
#define UKR_E_F32(ME, NV) EIN_UKR_EDGE(ukr_e##ME##_##NV##_f32, float, __m256, 8, \
    ME, NV, _mm256_load_ps, _mm256_broadcast_ss, _mm256_fmadd_ps,             \
    _mm256_add_ps, _mm256_setzero_ps, __m256i, mask_f32, _mm256_maskload_ps,  \
    _mm256_maskstore_ps)
#define UKR_E_F64(ME, NV) EIN_UKR_EDGE(ukr_e##ME##_##NV##_f64, double, __m256d, 4, \
    ME, NV, _mm256_load_pd, _mm256_broadcast_sd, _mm256_fmadd_pd,             \
    _mm256_add_pd, _mm256_setzero_pd, __m256i, mask_f64, _mm256_maskload_pd,  \
    _mm256_maskstore_pd)
#define UKR_E_ALL(X) X(2, 1) X(4, 1) X(6, 1) X(2, 2) X(4, 2) X(6, 2)
UKR_E_ALL(UKR_E_F32)
UKR_E_ALL(UKR_E_F64)
#define UKR_E_TAB(SFX) {                                                      \
        {ukr_e2_1_##SFX, ukr_e4_1_##SFX, ukr_e6_1_##SFX},                     \
        {ukr_e2_2_##SFX, ukr_e4_2_##SFX, ukr_e6_2_##SFX}}
static ein_ukr_edge_f32_fn *const k_ukr_e_f32[2][MR / 2] = UKR_E_TAB(f32);
static ein_ukr_edge_f64_fn *const k_ukr_e_f64[2][MR / 2] = UKR_E_TAB(f64);
EIN_UKR_EDGE_ENTRY(f32, float, 8, k_ukr_e_f32)
EIN_UKR_EDGE_ENTRY(f64, double, 4, k_ukr_e_f64)
#undef UKR_E_TAB
#undef UKR_E_ALL
#undef UKR_E_F32
#undef UKR_E_F64

/* ---- packing ----------------------------------------------------------- */

/* One full A micro-panel, MR = 6 rows whose columns are contiguous: eight
 * (f32) or four (f64) depth steps at a time, each row's elements loaded
 * as one vector and transposed in registers (rows past six zero), each
 * step's six elements stored as a vector's low six lanes, where the
 * frame's loop moved one element at a time.  A copy: no bit changes.
 * Rows fetched 256 bytes ahead as the frame's loop fetches them.  AMD
 * Zen 3, f32 512^3 one thread, perf: packing A 4.4% -> 3.1% of the time
 * (A comes from memory there; the rest is the micro-kernel, 88 -> 90%). */
static void pack_a_f32(int64_t kc, const float *a, int64_t rsa, float *dst)
{
    int64_t p = 0;
    for (; p + 8 <= kc; p += 8, dst += 8 * MR) {
        __m256 r[8];
        if (p % 16 == 0)
            for (int i = 0; i < MR; i++)
                _mm_prefetch((const char *)(a + i * rsa + p) + 256, _MM_HINT_T0);
        for (int i = 0; i < MR; i++)
            r[i] = _mm256_loadu_ps(a + i * rsa + p);
        r[6] = r[7] = _mm256_setzero_ps();
        tr8_ps(r);
        /* Each whole store's two lanes past six are overwritten by the
         * next step's; the last step stores six lanes only. */
        for (int q = 0; q < 7; q++)
            _mm256_storeu_ps(dst + q * MR, r[q]);
        __m128 lo = _mm256_castps256_ps128(r[7]);
        _mm_storeu_ps(dst + 7 * MR, lo);
        _mm_storel_pi((__m64 *)(void *)(dst + 7 * MR + 4), _mm256_extractf128_ps(r[7], 1));
    }
    for (; p < kc; p++, dst += MR)
        for (int i = 0; i < MR; i++)
            dst[i] = a[i * rsa + p];
}

static void pack_a_f64(int64_t kc, const double *a, int64_t rsa, double *dst)
{
    int64_t p = 0;
    for (; p + 4 <= kc; p += 4, dst += 4 * MR) {
        __m256d lo[4], hi[4];
        if (p % 8 == 0)
            for (int i = 0; i < MR; i++)
                _mm_prefetch((const char *)(a + i * rsa + p) + 256, _MM_HINT_T0);
        for (int i = 0; i < 4; i++)
            lo[i] = _mm256_loadu_pd(a + i * rsa + p);
        hi[0] = _mm256_loadu_pd(a + 4 * rsa + p);
        hi[1] = _mm256_loadu_pd(a + 5 * rsa + p);
        hi[2] = hi[3] = _mm256_setzero_pd();
        tr4_pd(lo);
        tr4_pd(hi);
        for (int q = 0; q < 4; q++) {
            _mm256_storeu_pd(dst + q * MR, lo[q]);
            _mm_storeu_pd(dst + q * MR + 4, _mm256_castpd256_pd128(hi[q]));
        }
    }
    for (; p < kc; p++, dst += MR)
        for (int i = 0; i < MR; i++)
            dst[i] = a[i * rsa + p];
}

/* ---- GEMV, rows contiguous: four dots at once ------------------------- */

static inline __m128 hsum4_f32(__m256 v0, __m256 v1, __m256 v2, __m256 v3)
{
    __m256 h = _mm256_hadd_ps(_mm256_hadd_ps(v0, v1), _mm256_hadd_ps(v2, v3));
    return _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
}

static inline __m256d hsum4_f64(__m256d v0, __m256d v1, __m256d v2, __m256d v3)
{
    __m256d h01 = _mm256_hadd_pd(v0, v1), h23 = _mm256_hadd_pd(v2, v3);
    return _mm256_add_pd(_mm256_permute2f128_pd(h01, h23, 0x20),
                         _mm256_permute2f128_pd(h01, h23, 0x31));
}

/* Two accumulators per row (16 elements a step, then an 8 block, then a
 * masked tail); the same sequence for every row. */
static inline __m128 dot4_f32(int64_t n, const float *r0, const float *r1,
                              const float *r2, const float *r3, const float *x)
{
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    __m256 b0 = a0, b1 = a0, b2 = a0, b3 = a0;
    int64_t j = 0;
    for (; j + 16 <= n; j += 16) {
        __m256 x0 = _mm256_loadu_ps(x + j), x1 = _mm256_loadu_ps(x + j + 8);
        a0 = _mm256_fmadd_ps(_mm256_loadu_ps(r0 + j), x0, a0);
        a1 = _mm256_fmadd_ps(_mm256_loadu_ps(r1 + j), x0, a1);
        a2 = _mm256_fmadd_ps(_mm256_loadu_ps(r2 + j), x0, a2);
        a3 = _mm256_fmadd_ps(_mm256_loadu_ps(r3 + j), x0, a3);
        b0 = _mm256_fmadd_ps(_mm256_loadu_ps(r0 + j + 8), x1, b0);
        b1 = _mm256_fmadd_ps(_mm256_loadu_ps(r1 + j + 8), x1, b1);
        b2 = _mm256_fmadd_ps(_mm256_loadu_ps(r2 + j + 8), x1, b2);
        b3 = _mm256_fmadd_ps(_mm256_loadu_ps(r3 + j + 8), x1, b3);
    }
    if (j + 8 <= n) {
        __m256 x0 = _mm256_loadu_ps(x + j);
        a0 = _mm256_fmadd_ps(_mm256_loadu_ps(r0 + j), x0, a0);
        a1 = _mm256_fmadd_ps(_mm256_loadu_ps(r1 + j), x0, a1);
        a2 = _mm256_fmadd_ps(_mm256_loadu_ps(r2 + j), x0, a2);
        a3 = _mm256_fmadd_ps(_mm256_loadu_ps(r3 + j), x0, a3);
        j += 8;
    }
    if (j < n) {
        __m256i mk = mask_f32(n - j);
        __m256 x0 = _mm256_maskload_ps(x + j, mk);
        b0 = _mm256_fmadd_ps(_mm256_maskload_ps(r0 + j, mk), x0, b0);
        b1 = _mm256_fmadd_ps(_mm256_maskload_ps(r1 + j, mk), x0, b1);
        b2 = _mm256_fmadd_ps(_mm256_maskload_ps(r2 + j, mk), x0, b2);
        b3 = _mm256_fmadd_ps(_mm256_maskload_ps(r3 + j, mk), x0, b3);
    }
    return hsum4_f32(_mm256_add_ps(a0, b0), _mm256_add_ps(a1, b1),
                     _mm256_add_ps(a2, b2), _mm256_add_ps(a3, b3));
}

static inline __m256d dot4_f64(int64_t n, const double *r0, const double *r1,
                               const double *r2, const double *r3,
                               const double *x)
{
    __m256d a0 = _mm256_setzero_pd(), a1 = a0, a2 = a0, a3 = a0;
    __m256d b0 = a0, b1 = a0, b2 = a0, b3 = a0;
    int64_t j = 0;
    for (; j + 8 <= n; j += 8) {
        __m256d x0 = _mm256_loadu_pd(x + j), x1 = _mm256_loadu_pd(x + j + 4);
        a0 = _mm256_fmadd_pd(_mm256_loadu_pd(r0 + j), x0, a0);
        a1 = _mm256_fmadd_pd(_mm256_loadu_pd(r1 + j), x0, a1);
        a2 = _mm256_fmadd_pd(_mm256_loadu_pd(r2 + j), x0, a2);
        a3 = _mm256_fmadd_pd(_mm256_loadu_pd(r3 + j), x0, a3);
        b0 = _mm256_fmadd_pd(_mm256_loadu_pd(r0 + j + 4), x1, b0);
        b1 = _mm256_fmadd_pd(_mm256_loadu_pd(r1 + j + 4), x1, b1);
        b2 = _mm256_fmadd_pd(_mm256_loadu_pd(r2 + j + 4), x1, b2);
        b3 = _mm256_fmadd_pd(_mm256_loadu_pd(r3 + j + 4), x1, b3);
    }
    if (j + 4 <= n) {
        __m256d x0 = _mm256_loadu_pd(x + j);
        a0 = _mm256_fmadd_pd(_mm256_loadu_pd(r0 + j), x0, a0);
        a1 = _mm256_fmadd_pd(_mm256_loadu_pd(r1 + j), x0, a1);
        a2 = _mm256_fmadd_pd(_mm256_loadu_pd(r2 + j), x0, a2);
        a3 = _mm256_fmadd_pd(_mm256_loadu_pd(r3 + j), x0, a3);
        j += 4;
    }
    if (j < n) {
        __m256i mk = mask_f64(n - j);
        __m256d x0 = _mm256_maskload_pd(x + j, mk);
        b0 = _mm256_fmadd_pd(_mm256_maskload_pd(r0 + j, mk), x0, b0);
        b1 = _mm256_fmadd_pd(_mm256_maskload_pd(r1 + j, mk), x0, b1);
        b2 = _mm256_fmadd_pd(_mm256_maskload_pd(r2 + j, mk), x0, b2);
        b3 = _mm256_fmadd_pd(_mm256_maskload_pd(r3 + j, mk), x0, b3);
    }
    return hsum4_f64(_mm256_add_pd(a0, b0), _mm256_add_pd(a1, b1),
                     _mm256_add_pd(a2, b2), _mm256_add_pd(a3, b3));
}

/* Rows of n <= DENSE2_MAX elements packed back to back (rsa == n), y
 * contiguous: W rows are n whole vectors; column j (lane l: element j +
 * n l) is one lane permute of each vector, blended, and one multiply then
 * serves W rows where dot4 spends a masked load, an FMA and a quarter of
 * hsum4 on each.  A row's terms are summed as dot4 sums them (its tail's
 * products from +0, then hsum4's pairs with zeros past n: none of the
 * terms is -0, so the zeros drop out): n = 2 p0 + p1, n = 3 (p0 + p1) +
 * p2, so the bits are dot4's.  f64 lanes are permuted as pairs of 32-bit
 * lanes.  n is a constant of each copy of the loop.  EIN_ARCH=avx2 on AMD
 * Zen 5, one thread, einsum-bench [1000, n], against dot4: f32 n = 2
 * 933 -> 187 ns, n = 3 930 -> 580; f64 n = 2 868 -> 380 ns.  f32 n = 4
 * would take 4 permutes and 3 blends a column, as many operations as
 * dot4 spends. */
#define DENSE2_MAX_F32 3
#define DENSE2_MAX_F64 2
#define DENSE2(NAME, T, V, W, MASKV, MLOAD, MSTORE, STOREU, TOPS, FROMPS,     \
               BLENDV, FMA, ADD, SET1, SETZ)                                  \
    static inline __attribute__((always_inline)) void NAME##_n(              \
        const int n, int64_t m, const T *A, const T *x, T *y, int acc)       \
    {                                                                         \
        const int g = 8 / (W);   /* 32-bit lanes per element */               \
        __m256i idx[3];                                                       \
        V bm[3][3], xv[3];                                                    \
        for (int j = 0; j < n; j++) {                                         \
            _Alignas(32) int32_t t[8], mk[3][8];                              \
            for (int l = 0; l < 8; l++) {                                     \
                int e = j + n * (l / g);                                      \
                t[l] = (e % (W)) * g + l % g;                                 \
                for (int s = 0; s < n; s++)                                   \
                    mk[s][l] = e / (W) == s ? -1 : 0;                         \
            }                                                                 \
            idx[j] = _mm256_load_si256((const __m256i *)t);                   \
            for (int s = 0; s < n; s++)                                       \
                bm[j][s] = FROMPS(_mm256_castsi256_ps(                        \
                    _mm256_load_si256((const __m256i *)mk[s])));              \
            xv[j] = SET1(x[j]);                                               \
        }                                                                     \
        const V z = SETZ();                                                   \
        for (int64_t i = 0; i < m; i += (W)) {                                \
            int64_t rows = m - i < (W) ? m - i : (W), e = rows * n;           \
            const T *a = A + i * n;                                           \
            V in[3], p[3];                                                    \
            for (int s = 0; s < n; s++) {                                     \
                int64_t r = e - s * (W);                                      \
                in[s] = MLOAD(a + s * (W), MASKV(r < 0 ? 0 : r > (W) ? (W) : r)); \
            }                                                                 \
            for (int j = 0; j < n; j++) {                                     \
                V col = in[0];                                                \
                if (n > 1) {                                                  \
                    col = FROMPS(_mm256_permutevar8x32_ps(TOPS(in[0]), idx[j])); \
                    for (int s = 1; s < n; s++)                               \
                        col = BLENDV(col,                                     \
                                     FROMPS(_mm256_permutevar8x32_ps(TOPS(in[s]), \
                                                                     idx[j])), \
                                     bm[j][s]);                               \
                }                                                             \
                p[j] = FMA(col, xv[j], z);                                    \
            }                                                                 \
            V sum = n == 1 ? p[0] : n == 2 ? ADD(p[0], p[1])                  \
                                           : ADD(ADD(p[0], p[1]), p[2]);      \
            if (rows == (W) && !acc) {                                        \
                STOREU(y + i, sum);                                           \
            } else {                                                          \
                __m256i mo = MASKV(rows);                                     \
                MSTORE(y + i, mo, ADD(acc ? MLOAD(y + i, mo) : z, sum));      \
            }                                                                 \
        }                                                                     \
    }                                                                         \
    static void NAME(int64_t m, int n, const T *A, const T *x, T *y, int acc) \
    {                                                                         \
        switch (n) {                                                          \
        case 1: NAME##_n(1, m, A, x, y, acc); break;                          \
        case 2: NAME##_n(2, m, A, x, y, acc); break;                          \
        default: NAME##_n(3, m, A, x, y, acc); break;                         \
        }                                                                     \
    }
#define DENSE2_ID(v) (v)
DENSE2(dense_rows_f32, float, __m256, 8, mask_f32, _mm256_maskload_ps,
       _mm256_maskstore_ps, _mm256_storeu_ps, DENSE2_ID, DENSE2_ID, _mm256_blendv_ps,
       _mm256_fmadd_ps, _mm256_add_ps, _mm256_set1_ps, _mm256_setzero_ps)
DENSE2(dense_rows_f64, double, __m256d, 4, mask_f64, _mm256_maskload_pd,
       _mm256_maskstore_pd, _mm256_storeu_pd, _mm256_castpd_ps, _mm256_castps_pd,
       _mm256_blendv_pd, _mm256_fmadd_pd, _mm256_add_pd, _mm256_set1_pd,
       _mm256_setzero_pd)
#undef DENSE2_ID
#undef DENSE2

/* Rows shorter than twelve vectors (n < 96 f32, n < 48 f64): the row
 * loop is copied for each count of whole vectors, with a tail and
 * without, so x stays in registers across rows (up to seven vectors; past
 * that the compiler reads some from the stack, still no worse than
 * reloading them), the steps unroll, and four rows' sums go out as one
 * store.  The arithmetic is dot4's step for step (pairs of vectors into a
 * and b, an odd last vector into a, the masked tail into b, then hsum4):
 * the bits are dot4's.  Rows past m repeat the last.  Against dot4's
 * loop, EIN_ARCH=avx2 on AMD Zen 3, one thread, minimum of 200 batches in
 * one process, f32 [100, n]: n = 8 121 -> 57 ns, n = 32 159 -> 96,
 * n = 48 192 -> 133, n = 50 (the headline) 237 -> 199, n = 56 204 -> 146,
 * n = 64 238 -> 175, n = 80 288 -> 235, n = 88 342 -> 294; n = 96 was
 * within 3% and n = 128 slower, hence twelve.  f64 [100, n]: n = 4
 * 154 -> 78, n = 16 237 -> 144, n = 32 295 -> 210, n = 40 337 -> 268.
 * (Later: products first and 8-byte tails, below, took n = 50 to 183.)
 * What is left at n = 50 is the load stream: the same loads alone, with
 * no arithmetic, take 164-189 ns.  A version that grouped rows by their
 * alignment, loaded aligned and shifted x instead cost the same 1.9 ns a
 * row as this one. */
#define ROWS_X_MAXV 12
#define ROWS_X(NAME, T, V, W, R4, LOADU, MASK, MLOAD, TAIL8, MUL, FMA, ADD, \
               SETZ, HSUM, STOREU4, STORE4)                                   \
    static inline __attribute__((always_inline)) R4 NAME##_dot4(             \
        const int nv, const int tail, const T *r0, const T *r1, const T *r2, \
        const T *r3, const V *xv, V xt, __m256i mk)                           \
    {                                                                         \
        V a0 = SETZ(), a1 = a0, a2 = a0, a3 = a0;                             \
        V b0 = a0, b1 = a0, b2 = a0, b3 = a0;                                 \
        int j = 0;                                                            \
        /* A first term is a product, not an FMA onto +0: one link less   \
         * in each chain, and the same sums once the store adds +0 (the   \
         * two differ only in a zero's sign).  Zen 3, alternating with   \
         * the FMA-first build, minimum of 400 batches: f32 [100, 50]       \
         * 1.06-1.16x faster, [100, 64] 1.05-1.15x, f64 [100, 8] 1.17x;     \
         * the headline plan 210 -> 197 ns.  Past nine vectors, where x     \
         * no longer fits in registers, it was 6-7% slower. */                \
        if (nv >= 2 && nv <= 9) {                                             \
            a0 = MUL(LOADU(r0), xv[0]);                                       \
            a1 = MUL(LOADU(r1), xv[0]);                                       \
            a2 = MUL(LOADU(r2), xv[0]);                                       \
            a3 = MUL(LOADU(r3), xv[0]);                                       \
            b0 = MUL(LOADU(r0 + (W)), xv[1]);                                 \
            b1 = MUL(LOADU(r1 + (W)), xv[1]);                                 \
            b2 = MUL(LOADU(r2 + (W)), xv[1]);                                 \
            b3 = MUL(LOADU(r3 + (W)), xv[1]);                                 \
            j = 2;                                                            \
        }                                                                     \
        for (; j + 2 <= nv; j += 2) {                                         \
            a0 = FMA(LOADU(r0 + (W) * j), xv[j], a0);                         \
            a1 = FMA(LOADU(r1 + (W) * j), xv[j], a1);                         \
            a2 = FMA(LOADU(r2 + (W) * j), xv[j], a2);                         \
            a3 = FMA(LOADU(r3 + (W) * j), xv[j], a3);                         \
            b0 = FMA(LOADU(r0 + (W) * j + (W)), xv[j + 1], b0);               \
            b1 = FMA(LOADU(r1 + (W) * j + (W)), xv[j + 1], b1);               \
            b2 = FMA(LOADU(r2 + (W) * j + (W)), xv[j + 1], b2);               \
            b3 = FMA(LOADU(r3 + (W) * j + (W)), xv[j + 1], b3);               \
        }                                                                     \
        if (j < nv) {                                                         \
            a0 = FMA(LOADU(r0 + (W) * j), xv[j], a0);                         \
            a1 = FMA(LOADU(r1 + (W) * j), xv[j], a1);                         \
            a2 = FMA(LOADU(r2 + (W) * j), xv[j], a2);                         \
            a3 = FMA(LOADU(r3 + (W) * j), xv[j], a3);                         \
            j++;                                                              \
        }                                                                     \
        if (tail) {   /* 2: a tail of 8 bytes, one plain load */             \
            const T *t0 = r0 + (W) * j, *t1 = r1 + (W) * j;                   \
            const T *t2 = r2 + (W) * j, *t3 = r3 + (W) * j;                   \
            b0 = FMA(tail == 2 ? TAIL8(t0) : MLOAD(t0, mk), xt, b0);          \
            b1 = FMA(tail == 2 ? TAIL8(t1) : MLOAD(t1, mk), xt, b1);          \
            b2 = FMA(tail == 2 ? TAIL8(t2) : MLOAD(t2, mk), xt, b2);          \
            b3 = FMA(tail == 2 ? TAIL8(t3) : MLOAD(t3, mk), xt, b3);          \
        }                                                                     \
        return HSUM(ADD(a0, b0), ADD(a1, b1), ADD(a2, b2), ADD(a3, b3));      \
    }                                                                         \
    static inline __attribute__((always_inline)) void NAME##_nv(             \
        const int nv, const int tail, int64_t m, const T *A, int64_t rsa,    \
        const T *x, T *y, int64_t incy, int acc, __m256i mk)                 \
    {                                                                         \
        V xv[ROWS_X_MAXV], xt = SETZ();                                       \
        for (int j = 0; j < nv; j++)                                          \
            xv[j] = LOADU(x + (W) * j);                                       \
        if (tail)                                                             \
            xt = MLOAD(x + (W) * nv, mk);                                     \
        int64_t i = 0;                                                        \
        if (incy == 1 && !acc)                                                \
            for (; i + 4 <= m; i += 4) {                                      \
                const T *r = A + i * rsa;                                     \
                STOREU4(y + i, NAME##_dot4(nv, tail, r, r + rsa, r + 2 * rsa, \
                                           r + 3 * rsa, xv, xt, mk));         \
            }                                                                 \
        _Alignas(32) T s[4];                                                  \
        for (; i < m; i += 4) {                                               \
            const T *r0 = A + i * rsa;                                        \
            const T *r1 = i + 1 < m ? r0 + rsa : r0;                          \
            const T *r2 = i + 2 < m ? r0 + 2 * rsa : r0;                      \
            const T *r3 = i + 3 < m ? r0 + 3 * rsa : r0;                      \
            STORE4(s, NAME##_dot4(nv, tail, r0, r1, r2, r3, xv, xt, mk));     \
            int64_t e = m - i < 4 ? m - i : 4;                                \
            for (int64_t q = 0; q < e; q++) {                                 \
                T *yy = y + (i + q) * incy;                                   \
                *yy = (acc ? *yy : 0) + s[q];                                 \
            }                                                                 \
        }                                                                     \
    }                                                                         \
    /* false: n is 0 or twelve vectors or more, left to the caller */         \
    static bool NAME(int64_t m, int64_t n, const T *A, int64_t rsa,          \
                     const T *x, T *y, int64_t incy, int acc)                 \
    {                                                                         \
        if (n < 1 || n >= ROWS_X_MAXV * (W))                                  \
            return false;                                                     \
        __m256i mk = MASK(n % (W));                                           \
        int t = n % (W) == 0 ? 0 : (n % (W)) * (int)sizeof(T) == 8 ? 2 : 1;   \
        switch (n / (W)) {                                                    \
        case 0: NAME##_nv(0, 1, m, A, rsa, x, y, incy, acc, mk); break;       \
        ROWS_CASE(NAME, 1, ROWS_X_ARGS) ROWS_CASE(NAME, 2, ROWS_X_ARGS)       \
        ROWS_CASE(NAME, 3, ROWS_X_ARGS) ROWS_CASE(NAME, 4, ROWS_X_ARGS)       \
        ROWS_CASE(NAME, 5, ROWS_X_ARGS) ROWS_CASE(NAME, 6, ROWS_X_ARGS)       \
        ROWS_CASE(NAME, 7, ROWS_X_ARGS) ROWS_CASE(NAME, 8, ROWS_X_ARGS)       \
        ROWS_CASE(NAME, 9, ROWS_X_ARGS) ROWS_CASE(NAME, 10, ROWS_X_ARGS)      \
        ROWS_CASE(NAME, 11, ROWS_X_ARGS)                                      \
        }                                                                     \
        return true;                                                          \
    }
/* A switch case per count of whole vectors, a copy with a tail (t) and
 * one without; ARGS: the rest of the copy's arguments, in parentheses. */
#define NV_ARGS(...) __VA_ARGS__
#define NV_CASE(NAME, NV, ARGS)                                               \
    case NV:                                                                  \
        if (t)                                                                \
            NAME##_nv(NV, 1, NV_ARGS ARGS);                                   \
        else                                                                  \
            NAME##_nv(NV, 0, NV_ARGS ARGS);                                   \
        break;
#define NV_CASES_1_7(NAME, ARGS)                                              \
    NV_CASE(NAME, 1, ARGS) NV_CASE(NAME, 2, ARGS) NV_CASE(NAME, 3, ARGS)      \
    NV_CASE(NAME, 4, ARGS) NV_CASE(NAME, 5, ARGS) NV_CASE(NAME, 6, ARGS)      \
    NV_CASE(NAME, 7, ARGS)
#define ROWS_X_ARGS (m, A, rsa, x, y, incy, acc, mk)
/* The row loop's cases: a copy per tail kind, 2 for a tail of 8 bytes. */
#define ROWS_CASE(NAME, NV, ARGS)                                             \
    case NV:                                                                  \
        if (t == 2)                                                           \
            NAME##_nv(NV, 2, NV_ARGS ARGS);                                   \
        else if (t)                                                           \
            NAME##_nv(NV, 1, NV_ARGS ARGS);                                   \
        else                                                                  \
            NAME##_nv(NV, 0, NV_ARGS ARGS);                                   \
        break;
/* 8-byte tails (two f32, one f64): the load zeroes the rest, as the
 * masked load does, without its cost (the values, so the bits, are the
 * same).  AMD Zen 3, alternating with the masked build, minimum of 400
 * batches: f32 [100, 50] 1.00-1.06x faster, [100, 66] 1.07-1.09x, f64
 * [100, 25] 1.06-1.07x, n under a vector even; the headline plan 197 ->
 * 187 ns. */
static inline __m256 tail8_f32(const float *p)
{
    __m128i q = _mm_loadl_epi64((const __m128i *)p);
    return _mm256_zextps128_ps256(_mm_castsi128_ps(q));
}
static inline __m256d tail8_f64(const double *p)
{
    return _mm256_zextpd128_pd256(_mm_load_sd(p));
}
/* The sums go out added to +0, as the element-wise store adds them to
 * 0: an FMA chain over products that underflow ends at -0, and a sum is
 * +0 there as in numpy. */
static inline void storeu4_f32(float *p, __m128 v)
{
    _mm_storeu_ps(p, _mm_add_ps(v, _mm_setzero_ps()));
}
static inline void store4_f32(float *p, __m128 v) { _mm_store_ps(p, v); }
static inline void storeu4_f64(double *p, __m256d v)
{
    _mm256_storeu_pd(p, _mm256_add_pd(v, _mm256_setzero_pd()));
}
static inline void store4_f64(double *p, __m256d v) { _mm256_store_pd(p, v); }
ROWS_X(rows_x_f32, float, __m256, 8, __m128, _mm256_loadu_ps, mask_f32,
       _mm256_maskload_ps, tail8_f32, _mm256_mul_ps, _mm256_fmadd_ps, _mm256_add_ps,
       _mm256_setzero_ps, hsum4_f32, storeu4_f32, store4_f32)
ROWS_X(rows_x_f64, double, __m256d, 4, __m256d, _mm256_loadu_pd, mask_f64,
       _mm256_maskload_pd, tail8_f64, _mm256_mul_pd, _mm256_fmadd_pd, _mm256_add_pd,
       _mm256_setzero_pd, hsum4_f64, storeu4_f64, store4_f64)
#undef ROWS_CASE
#undef ROWS_X_ARGS
#undef ROWS_X

/* A batch of GEMVs whose rows are shorter than a vector (gemv_rows_batch,
 * "bij,bj->bi"): row g of the batch is row g % m of matrix g / m, with
 * that matrix's x, so a 3 x 3 matrix shares its block of four rows with
 * its neighbours instead of repeating its last row, and the call and set-up
 * are paid once for the batch.  Each row gets what the register path
 * gives a row this short (its masked tail's FMA onto +0, added to +0,
 * then hsum4), so a batch gives the bits of one call per matrix.  Taken
 * for matrices of fewer than eight rows, as the AVX-512 table's.  AMD
 * Zen 3, one thread, einsum-bench minimum, against one call per matrix,
 * alternating: f32 10000 x 3 x 3 154 -> 73 us, 10000 x 4 x 4 130 -> 93,
 * 5000 x 7 x 5 103 -> 82, 2000 x 6 x 7 40 -> 29; f64 10000 x 3 x 3
 * 151 -> 69. */
#define ROWS4_BATCH(NAME, T, V, W, R4, MASK, MLOAD, FMA, ADD, SETZ, HSUM,     \
                    STORE4)                                                   \
    static int NAME(int64_t nb, int64_t sa, int64_t sx, int64_t sy, int64_t m, \
                    int64_t n, const T *A, int64_t rsa, const T *x, T *y,     \
                    int64_t incy, int acc)                                    \
    {                                                                         \
        if (n < 1 || n >= (W) || m < 1 || m >= 8)                             \
            return 0;                                                         \
        const __m256i mk = MASK(n);                                           \
        const V z = SETZ();                                                   \
        int64_t total = nb * m, i = 0;                                        \
        const T *pa = A, *px = x;   /* this row's matrix and x */            \
        T *py = y;                                                            \
        for (int64_t g = 0; g < total; g += 4) {                              \
            int cnt = total - g < 4 ? (int)(total - g) : 4;                   \
            const T *r[4], *xq[4];                                            \
            T *yq[4];                                                         \
            for (int q = 0; q < cnt; q++) {                                   \
                r[q] = pa + i * rsa;                                          \
                xq[q] = px;                                                   \
                yq[q] = py + i * incy;                                        \
                if (++i == m) {                                               \
                    i = 0;                                                    \
                    pa += sa;                                                 \
                    px += sx;                                                 \
                    py += sy;                                                 \
                }                                                             \
            }                                                                 \
            for (int q = cnt; q < 4; q++) {   /* repeat the last row */      \
                r[q] = r[cnt - 1];                                            \
                xq[q] = xq[cnt - 1];                                          \
            }                                                                 \
            V b[4];                                                           \
            for (int q = 0; q < 4; q++)                                       \
                b[q] = ADD(z, FMA(MLOAD(r[q], mk), MLOAD(xq[q], mk), z));     \
            _Alignas(32) T s[4];                                              \
            STORE4(s, HSUM(b[0], b[1], b[2], b[3]));                          \
            for (int q = 0; q < cnt; q++)                                     \
                *yq[q] = (acc ? *yq[q] : 0) + s[q];                           \
        }                                                                     \
        return 1;                                                             \
    }
ROWS4_BATCH(gemv_rows_batch_f32, float, __m256, 8, __m128, mask_f32,
            _mm256_maskload_ps, _mm256_fmadd_ps, _mm256_add_ps, _mm256_setzero_ps,
            hsum4_f32, store4_f32)
ROWS4_BATCH(gemv_rows_batch_f64, double, __m256d, 4, __m256d, mask_f64,
            _mm256_maskload_pd, _mm256_fmadd_pd, _mm256_add_pd, _mm256_setzero_pd,
            hsum4_f64, store4_f64)
#undef ROWS4_BATCH

static void gemv_rows_f32(int64_t m, int64_t n, const float *A, int64_t rsa,
                          const float *x, float *y, int64_t incy, int acc,
                          int mode)
{
    (void)mode;   /* one arithmetic: rows four at a time */
    if (n >= 1 && n <= DENSE2_MAX_F32 && rsa == n && incy == 1) {
        dense_rows_f32(m, (int)n, A, x, y, acc);
        return;
    }
    if (rows_x_f32(m, n, A, rsa, x, y, incy, acc))
        return;
    _Alignas(16) float s[4];
    for (int64_t i = 0; i < m; i += 4) {
        /* Past the last row, repeat it: same code for every row. */
        const float *r0 = A + i * rsa;
        const float *r1 = i + 1 < m ? r0 + rsa : r0;
        const float *r2 = i + 2 < m ? r0 + 2 * rsa : r0;
        const float *r3 = i + 3 < m ? r0 + 3 * rsa : r0;
        _mm_store_ps(s, dot4_f32(n, r0, r1, r2, r3, x));
        int64_t e = m - i < 4 ? m - i : 4;
        for (int64_t q = 0; q < e; q++) {
            float *yy = y + (i + q) * incy;
            *yy = (acc ? *yy : 0) + s[q];
        }
    }
}

static void gemv_rows_f64(int64_t m, int64_t n, const double *A, int64_t rsa,
                          const double *x, double *y, int64_t incy, int acc,
                          int mode)
{
    (void)mode;   /* one arithmetic: rows four at a time */
    if (n >= 1 && n <= DENSE2_MAX_F64 && rsa == n && incy == 1) {
        dense_rows_f64(m, (int)n, A, x, y, acc);
        return;
    }
    if (rows_x_f64(m, n, A, rsa, x, y, incy, acc))
        return;
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
            *yy = (acc ? *yy : 0) + s[q];
        }
    }
}

/* ---- GEMV of a few vectors at once (x W^T, a small batch) ------------ */

/* Four rows of W against two vectors x at a time (8 accumulators, with
 * the four W vectors and an x: 13 of the 16 ymm registers), so three or
 * four vectors read W twice.  An element's arithmetic is that of its own
 * row and vector: full vectors in column order, the masked tail (both
 * operands zero past k), then hsum4.  Rows past n repeat the last and
 * are not stored.  Measured on AMD Zen 5 under EIN_ARCH=avx2, one
 * thread, einsum-bench, against the build without it (tiles of the small
 * path), alternating: x W^T f32 [4, 512] x [512, 512]^T 42-46 -> 31 us,
 * f64 [2, 300] x [300, 300]^T 14.4-14.7 -> 10.2-10.7 us, x W f32 [512,
 * 64] x [64, 4] 6.6-7.5 -> 4.8-6.0 us, [13, 183] x [183, 3] 670-780 ->
 * 530-560 ns; the same routes and cost model as the AVX-512 table's,
 * with 32-byte vectors (ein_gemm_few_takes). */
#define GEMV_MULTI2(NAME, T, V, W, LOAD, MASKV, MLOAD, FMA, SETZ, HSUM, HV,   \
                    HSTORE)                                                   \
    static inline __attribute__((always_inline)) void NAME##_nx(             \
        const int NX, int64_t n, int64_t k, const T *Wm, int64_t rsw,         \
        const T *X, int64_t rsx, T *Y, int64_t rsy, int64_t csy, int acc)     \
    {                                                                         \
        const __m256i mt = MASKV(k % (W));                                    \
        for (int64_t r = 0; r < n; r += 4) {                                  \
            const T *w[4];                                                    \
            for (int q = 0; q < 4; q++)                                       \
                w[q] = Wm + (r + q < n ? r + q : n - 1) * rsw;                \
            V a[4][2];                                                        \
            EIN_MULTI_SUMS(V, W, NX, a, w, X, rsx, k, LOAD, MLOAD, mt, FMA,   \
                           SETZ, MULTI_NOPF);                                 \
            int nq = n - r < 4 ? (int)(n - r) : 4;                            \
            for (int v = 0; v < NX; v++) {                                    \
                _Alignas(32) T s[4];                                          \
                HSTORE(s, HSUM(a[0][v], a[1][v], a[2][v], a[3][v]));          \
                T *yv = Y + v * rsy + r * csy;                                \
                for (int q = 0; q < nq; q++) {                                \
                    T *e = yv + q * csy;                                      \
                    *e = acc ? *e + s[q] : (T)0 + s[q];                       \
                }                                                             \
            }                                                                 \
        }                                                                     \
    }                                                                         \
    static void NAME(int nx, int64_t n, int64_t k, const T *Wm, int64_t rsw,  \
                     const T *X, int64_t rsx, T *Y, int64_t rsy, int64_t csy, \
                     int acc)                                                 \
    {                                                                         \
        for (int v0 = 0; v0 < nx; v0 += 2) {                                  \
            const T *x = X + v0 * rsx;                                        \
            T *y = Y + v0 * rsy;                                              \
            if (nx - v0 >= 2)                                                 \
                NAME##_nx(2, n, k, Wm, rsw, x, rsx, y, rsy, csy, acc);        \
            else                                                              \
                NAME##_nx(1, n, k, Wm, rsw, x, rsx, y, rsy, csy, acc);        \
        }                                                                     \
    }
#define MULTI_NOPF(p) ((void)(p))
#define MLOAD_M_PS(m, p) _mm256_maskload_ps(p, m)
#define MLOAD_M_PD(m, p) _mm256_maskload_pd(p, m)
GEMV_MULTI2(gemv_multi_f32, float, __m256, 8, _mm256_loadu_ps, mask_f32, MLOAD_M_PS,
            _mm256_fmadd_ps, _mm256_setzero_ps, hsum4_f32, __m128, _mm_store_ps)
GEMV_MULTI2(gemv_multi_f64, double, __m256d, 4, _mm256_loadu_pd, mask_f64, MLOAD_M_PD,
            _mm256_fmadd_pd, _mm256_setzero_pd, hsum4_f64, __m256d, _mm256_store_pd)
#undef GEMV_MULTI2
#undef MULTI_NOPF
#undef MLOAD_M_PS
#undef MLOAD_M_PD

/* ---- GEMV, columns contiguous: y chunk in L2, passes of columns ------- */

/* Passes of K columns (eight, then one of four), COLS_STEP vectors of y a
 * step: each pass loads and stores y once for its K columns.  Passes of
 * four with the columns fetched 1 KiB ahead were this table's best on the
 * Zen 5 under EIN_ARCH=avx2; on the Zen 3, an AVX2-only machine, they
 * read f32 4096^2 at 0.77-0.80x OpenBLAS on one thread, passes of eight
 * without prefetch at 0.96-0.97x (fetching 256-1024 bytes ahead was no
 * faster; f64 0.92-0.96x -> 1.02-1.20x; two threads f32 0.83-0.86x ->
 * 1.07-1.14x).  Returns the first column not done. */
#define COLS_STEP 4
#define COLS_PASSES(NAME, T, V, W, SFX, FMAS)                                 \
    static inline __attribute__((always_inline)) int64_t NAME(               \
        const int K, int64_t j, int64_t ie, int64_t iv, int64_t n,            \
        const T *Ac, int64_t csa, const T *x, int64_t incx, T *yc)           \
    {                                                                         \
        for (; j + K <= n; j += K) {                                          \
            const T *ac[8];                                                   \
            T s[8];                                                           \
            V xq[8];                                                          \
            for (int q = 0; q < K; q++) {                                     \
                ac[q] = Ac + (j + q) * csa;                                   \
                s[q] = x[(j + q) * incx];                                     \
                xq[q] = _mm256_set1_##SFX(s[q]);                              \
            }                                                                 \
            const int last = j + K == n;   /* a -0 sum becomes +0 */          \
            int64_t i = 0;                                                    \
            for (; i + (W) * COLS_STEP <= iv; i += (W) * COLS_STEP) {         \
                V v[COLS_STEP];                                               \
                _Pragma("GCC unroll 4")                                       \
                for (int l = 0; l < COLS_STEP; l++)                           \
                    v[l] = _mm256_loadu_##SFX(yc + i + (W) * l);              \
                _Pragma("GCC unroll 8")                                       \
                for (int q = 0; q < K; q++)                                   \
                    _Pragma("GCC unroll 4")                                   \
                    for (int l = 0; l < COLS_STEP; l++)                       \
                        v[l] = _mm256_fmadd_##SFX(                            \
                            _mm256_loadu_##SFX(ac[q] + i + (W) * l), xq[q], v[l]); \
                _Pragma("GCC unroll 4")                                       \
                for (int l = 0; l < COLS_STEP; l++) {                         \
                    if (last)                                                 \
                        v[l] = _mm256_add_##SFX(v[l], _mm256_setzero_##SFX()); \
                    _mm256_storeu_##SFX(yc + i + (W) * l, v[l]);              \
                }                                                             \
            }                                                                 \
            for (; i < iv; i += (W)) {                                        \
                V v = _mm256_loadu_##SFX(yc + i);                             \
                _Pragma("GCC unroll 8")                                       \
                for (int q = 0; q < K; q++)                                   \
                    v = _mm256_fmadd_##SFX(_mm256_loadu_##SFX(ac[q] + i), xq[q], v); \
                if (last)                                                     \
                    v = _mm256_add_##SFX(v, _mm256_setzero_##SFX());          \
                _mm256_storeu_##SFX(yc + i, v);                               \
            }                                                                 \
            for (; i < ie; i++) {                                             \
                T v = yc[i];                                                  \
                for (int q = 0; q < K; q++)                                   \
                    v = FMAS(ac[q][i], s[q], v);                              \
                yc[i] = last ? v + (T)0 : v;                                  \
            }                                                                 \
        }                                                                     \
        return j;                                                             \
    }

/* y of at most eight vectors (m <= 64 f32, 32 f64): y stays in registers
 * for all n columns, loaded and stored once, a partial last vector
 * masked; the loop is copied for each vector count.  The same FMAs in the
 * same order as the passes, then + 0, so the bits do not change.
 * EIN_ARCH=avx2 on AMD Zen 3, one thread, minimum of 200 batches in one
 * process, against the passes, f32 [m, n]: [16, 64] 97 -> 54-59 ns,
 * [60, 60] 177 -> 132, [50, 100] 243 -> 198, [8, 1000] 1.60 -> 1.21 us,
 * [64, 64] even (113-125 ns).  Masked loads in every column made the
 * partial vector dear ([50, 100] 336 ns), hence the whole reads. */
#define COLS_REGS_MAXV 8
#define COLS_REGS(NAME, T, V, W, SFX, MASK, MLOAD, MSTORE)                   \
    static inline __attribute__((always_inline)) void NAME##_nv(             \
        const int nv, const int tail, int64_t m, int64_t n, const T *A,      \
        int64_t csa, const T *x, int64_t incx, T *y, int acc)                 \
    {                                                                         \
        const int full = tail ? nv - 1 : nv;                                  \
        const __m256i mk = MASK(tail ? m - (int64_t)full * (W) : (W));        \
        V v[COLS_REGS_MAXV];                                                  \
        for (int l = 0; l < nv; l++)                                          \
            v[l] = !acc ? _mm256_setzero_##SFX()                              \
                   : l < full ? _mm256_loadu_##SFX(y + (W) * l)               \
                              : MLOAD(y + (W) * l, mk);                       \
        /* The partial vector reads whole (its lanes past m are never     \
         * stored) while the column after this one holds those lanes; the \
         * last column, or every one if the columns overlap, masked. */     \
        int64_t j = 0;                                                        \
        if (!tail || csa >= (W) * nv - m)                                     \
            for (; j + 1 < n; j++) {                                          \
                const T *a = A + j * csa;                                     \
                const V xj = _mm256_set1_##SFX(x[j * incx]);                  \
                for (int l = 0; l < nv; l++)                                  \
                    v[l] = _mm256_fmadd_##SFX(_mm256_loadu_##SFX(a + (W) * l), xj, v[l]); \
            }                                                                 \
        for (; j < n; j++) {                                                  \
            const T *a = A + j * csa;                                         \
            const V xj = _mm256_set1_##SFX(x[j * incx]);                      \
            for (int l = 0; l < nv; l++)                                      \
                v[l] = _mm256_fmadd_##SFX(l < full ? _mm256_loadu_##SFX(a + (W) * l) \
                                                   : MLOAD(a + (W) * l, mk),  \
                                          xj, v[l]);                          \
        }                                                                     \
        for (int l = 0; l < nv; l++) {                                        \
            V r = _mm256_add_##SFX(v[l], _mm256_setzero_##SFX());             \
            if (l < full)                                                     \
                _mm256_storeu_##SFX(y + (W) * l, r);                          \
            else                                                              \
                MSTORE(y + (W) * l, mk, r);                                   \
        }                                                                     \
    }                                                                         \
    /* false: m or n is 0, or m is more than eight vectors */                \
    static bool NAME(int64_t m, int64_t n, const T *A, int64_t csa,          \
                     const T *x, int64_t incx, T *y, int acc)                 \
    {                                                                         \
        if (m < 1 || n < 1 || m > COLS_REGS_MAXV * (W))                       \
            return false;                                                     \
        const int t = m % (W) != 0;                                           \
        switch ((m + (W) - 1) / (W)) {                                        \
        NV_CASES_1_7(NAME, COLS_REGS_ARGS)                                    \
        NV_CASE(NAME, 8, COLS_REGS_ARGS)                                      \
        }                                                                     \
        return true;                                                          \
    }
#define COLS_REGS_ARGS (m, n, A, csa, x, incx, y, acc)
COLS_REGS(cols_regs_f32, float, __m256, 8, ps, mask_f32, _mm256_maskload_ps,
          _mm256_maskstore_ps)
COLS_REGS(cols_regs_f64, double, __m256d, 4, pd, mask_f64, _mm256_maskload_pd,
          _mm256_maskstore_pd)
#undef COLS_REGS_ARGS
#undef COLS_REGS
#undef NV_CASES_1_7
#undef NV_CASE
#undef NV_ARGS

/* y = fma(A[i,j], x[j], y) for j ascending, for full and tail rows alike
 * (fmaf is one rounding, as the vector FMA), so row splits keep bits;
 * whichever pass is last adds +0. */
#define GEMV_COLS(NAME, T, V, W, SFX, FMAS, PASSES, REGS)                     \
    static void NAME(int64_t m, int64_t n, const T *A, int64_t csa,           \
                     const T *x, int64_t incx, T *restrict y, int acc,        \
                     int64_t span)                                            \
    {                                                                         \
        (void)span;                                                           \
        if (REGS(m, n, A, csa, x, incx, y, acc))                              \
            return;                                                           \
        const int64_t chunk = COLS_CHUNK_BYTES / sizeof(T);                   \
        for (int64_t i0 = 0; i0 < m; i0 += chunk) {                           \
            int64_t ie = m - i0 < chunk ? m - i0 : chunk;                     \
            int64_t iv = ie / (W) * (W);                                      \
            T *yc = y + i0;                                                   \
            const T *Ac = A + i0;                                             \
            if (!acc)                                                         \
                for (int64_t i = 0; i < ie; i++)                              \
                    yc[i] = 0;                                                \
            int64_t j = PASSES(8, 0, ie, iv, n, Ac, csa, x, incx, yc);        \
            j = PASSES(4, j, ie, iv, n, Ac, csa, x, incx, yc);                \
            for (; j < n; j++) {                                              \
                const T *a0 = Ac + j * csa;                                   \
                T s0 = x[j * incx];                                           \
                V x0 = _mm256_set1_##SFX(s0);                                 \
                const T z = j + 1 == n ? (T)0 : -(T)0;   /* the last: + 0 */ \
                const V zv = _mm256_set1_##SFX(z);                            \
                for (int64_t i = 0; i < iv; i += (W))                         \
                    _mm256_storeu_##SFX(                                      \
                        yc + i, _mm256_add_##SFX(_mm256_fmadd_##SFX(          \
                                    _mm256_loadu_##SFX(a0 + i), x0,           \
                                    _mm256_loadu_##SFX(yc + i)), zv));        \
                for (int64_t i = iv; i < ie; i++)                             \
                    yc[i] = FMAS(a0[i], s0, yc[i]) + z;                       \
            }                                                                 \
        }                                                                     \
    }
COLS_PASSES(cols_passes_f32, float, __m256, 8, ps, __builtin_fmaf)
COLS_PASSES(cols_passes_f64, double, __m256d, 4, pd, __builtin_fma)
GEMV_COLS(gemv_cols_f32, float, __m256, 8, ps, __builtin_fmaf, cols_passes_f32,
          cols_regs_f32)
GEMV_COLS(gemv_cols_f64, double, __m256d, 4, pd, __builtin_fma, cols_passes_f64,
          cols_regs_f64)
#undef GEMV_COLS
#undef COLS_PASSES

/* ---- dots --------------------------------------------------------------- */

EIN_DEFINE_DOT_STRIDED(dot_strided_f32, float, __builtin_fmaf)
EIN_DEFINE_DOT_STRIDED(dot_strided_f64, double, __builtin_fma)

static float dot_f32(int64_t n, const float *x, int64_t incx, const float *y,
                     int64_t incy)
{
    if (incx != 1 || incy != 1)
        return dot_strided_f32(n, x, incx, y, incy);
    float s = 0;
    int64_t i = 0;
    /* Shorter than a vector: the FMAs alone (the reduction of four zero
     * vectors would only add its latency, and +0).  A prebuilt plan of
     * "i,i->" on 4 f32, AMD Zen 3, minimum of 20000 batches: 18.8 -> 17.0
     * ns an execute. */
    if (n >= 8) {
        __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
        for (; i + 32 <= n; i += 32) {
            a0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i), a0);
            a1 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 8), _mm256_loadu_ps(y + i + 8), a1);
            a2 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 16), _mm256_loadu_ps(y + i + 16), a2);
            a3 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 24), _mm256_loadu_ps(y + i + 24), a3);
        }
        for (; i + 8 <= n; i += 8)
            a0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i), a0);
        __m128 h = hsum4_f32(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3),
                             _mm256_setzero_ps(), _mm256_setzero_ps());
        s = _mm_cvtss_f32(_mm_add_ss(h, _mm_movehdup_ps(h)));
    }
    for (; i < n; i++)
        s = __builtin_fmaf(x[i * incx], y[i * incy], s);
    return s + 0.0f;   /* a -0 sum is +0, as numpy's sum from 0 */
}

static double dot_f64(int64_t n, const double *x, int64_t incx,
                      const double *y, int64_t incy)
{
    if (incx != 1 || incy != 1)
        return dot_strided_f64(n, x, incx, y, incy);
    double s = 0;
    int64_t i = 0;
    if (n >= 4) {   /* as dot_f32 */
        __m256d a0 = _mm256_setzero_pd(), a1 = a0, a2 = a0, a3 = a0;
        for (; i + 16 <= n; i += 16) {
            a0 = _mm256_fmadd_pd(_mm256_loadu_pd(x + i), _mm256_loadu_pd(y + i), a0);
            a1 = _mm256_fmadd_pd(_mm256_loadu_pd(x + i + 4), _mm256_loadu_pd(y + i + 4), a1);
            a2 = _mm256_fmadd_pd(_mm256_loadu_pd(x + i + 8), _mm256_loadu_pd(y + i + 8), a2);
            a3 = _mm256_fmadd_pd(_mm256_loadu_pd(x + i + 12), _mm256_loadu_pd(y + i + 12), a3);
        }
        for (; i + 4 <= n; i += 4)
            a0 = _mm256_fmadd_pd(_mm256_loadu_pd(x + i), _mm256_loadu_pd(y + i), a0);
        __m256d v = _mm256_add_pd(_mm256_add_pd(a0, a1), _mm256_add_pd(a2, a3));
        __m128d h = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
        s = _mm_cvtsd_f64(_mm_add_sd(h, _mm_unpackhi_pd(h, h)));
    }
    for (; i < n; i++)
        s = __builtin_fma(x[i * incx], y[i * incy], s);
    return s + 0.0;
}

/* ---- transposed dots side by side ---------------------------------------- */

/* EIN_DOTS_T (transpose_avx.h), the AVX-512 table's arithmetic on ymm
 * vectors: 8 f32 or 4 f64 dots at once.  EIN_ARCH=avx2, 1000^2, one
 * thread, against one strided dot each: ij,ji->i f32 753 -> 314 us, f64
 * 1.31 -> 0.66 ms. */
#define MLOAD_PS(p, m) _mm256_maskload_ps(p, m)
#define MLOAD_PD(p, m) _mm256_maskload_pd(p, m)
EIN_DOTS_T(dots_t_f32, float, __m256, 8, _mm256_loadu_ps, __m256i, mask_f32, MLOAD_PS,
           _mm256_fmadd_ps, _mm256_add_ps, _mm256_setzero_ps, _mm256_store_ps, tr8_ps)
EIN_DOTS_T(dots_t_f64, double, __m256d, 4, _mm256_loadu_pd, __m256i, mask_f64, MLOAD_PD,
           _mm256_fmadd_pd, _mm256_add_pd, _mm256_setzero_pd, _mm256_store_pd, tr4_pd)
#undef MLOAD_PS
#undef MLOAD_PD

/* B's columns contiguous (x W^T): 8 x 8 f32 / 4 x 4 f64 register transposes
 * (transpose_avx.h), the packing of the AVX-512 table. */
EIN_PACK_B_T(pack_b_t_f32, float, __m256, 8, NR_F32, _mm256_loadu_ps, _mm256_storeu_ps, tr8_ps)
EIN_PACK_B_T(pack_b_t_f64, double, __m256d, 4, NR_F64, _mm256_loadu_pd, _mm256_storeu_pd, tr4_pd)

/* ---- a few columns to rows ---------------------------------------------- */

/* cols_to_rows (frame.h): B's n <= 8 columns, rows of n contiguous
 * elements, written as n rows of k.  Eight (f32) or four (f64) depth
 * steps at a time: each row read under a mask of its n elements (four
 * columns at a time for f64), transposed in registers, n (or four)
 * vectors stored; the plain loop moved one element at a time: x W with
 * W [10000, 4] f32, [64,10000] x [10000,4], one thread, alternating
 * builds, 78.7-81.2 -> 69.0-70.8 us. */
static void cols_to_rows_f32(int64_t k, int n, const float *b, float *dst)
{
    const __m256i mk = mask_f32(n);
    int64_t p = 0;
    for (; p + 8 <= k; p += 8) {
        __m256 r[8];
        for (int q = 0; q < 8; q++)
            r[q] = _mm256_maskload_ps(b + (p + q) * n, mk);
        tr8_ps(r);
        for (int v = 0; v < n; v++)
            _mm256_storeu_ps(dst + v * k + p, r[v]);
    }
    for (; p < k; p++)
        for (int v = 0; v < n; v++)
            dst[v * k + p] = b[p * n + v];
}

static void cols_to_rows_f64(int64_t k, int n, const double *b, double *dst)
{
    int64_t p = 0;
    for (; p + 4 <= k; p += 4)
        for (int g = 0; g < n; g += 4) {
            const int w = n - g < 4 ? n - g : 4;
            const __m256i mk = mask_f64(w);
            __m256d r[4];
            for (int q = 0; q < 4; q++)
                r[q] = _mm256_maskload_pd(b + (p + q) * n + g, mk);
            tr4_pd(r);
            for (int v = 0; v < w; v++)
                _mm256_storeu_pd(dst + (g + v) * k + p, r[v]);
        }
    for (; p < k; p++)
        for (int v = 0; v < n; v++)
            dst[v * k + p] = b[p * n + v];
}

/* ---- table -------------------------------------------------------------- */

#define TAB_NAME "avx2"
#define TAB_VAR ein_ktable_avx2_tab
#define TAB_MR MR
#define TAB_NR_F32 NR_F32
#define TAB_NR_F64 NR_F64
#define TAB_SMALL_F32 ein_gemm_small_f32_avx2
#define TAB_SMALL_F64 ein_gemm_small_f64_avx2
#define TAB_SMALL_BATCH_F32 ein_gemm_small_batch_f32_avx2
#define TAB_SMALL_BATCH_F64 ein_gemm_small_batch_f64_avx2
#define TAB_DOTS_T_F32 dots_t_f32
#define TAB_DOTS_T_F64 dots_t_f64
#define TAB_PACK_BT_F32 pack_b_t_f32
#define TAB_PACK_BT_F64 pack_b_t_f64
#define TAB_UKR_EDGE_F32 ukr_edge_f32
#define TAB_UKR_EDGE_F64 ukr_edge_f64
#define TAB_GEMV_MULTI_F32 gemv_multi_f32
#define TAB_GEMV_MULTI_F64 gemv_multi_f64
#define TAB_COLS_TO_ROWS_F32 cols_to_rows_f32
#define TAB_COLS_TO_ROWS_F64 cols_to_rows_f64
#define TAB_PACK_A_F32 pack_a_f32
#define TAB_PACK_A_F64 pack_a_f64
#define TAB_ROWS_BATCH_F32 gemv_rows_batch_f32
#define TAB_ROWS_BATCH_F64 gemv_rows_batch_f64
#define TAB_ROWS_REGS_F32 (ROWS_X_MAXV * 8)
#define TAB_ROWS_REGS_F64 (ROWS_X_MAXV * 4)
#include "kernels/table_t.h"
