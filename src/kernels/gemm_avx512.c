/* gemm_avx512.c — the AVX-512 kernel table: 14 x 32 (f32) and 14 x 16
 * (f64) broadcast-FMA micro-kernels on zmm registers, GEMV inner loops
 * and dots.  Built with -mavx512f/vl/bw/dq -mfma; chosen only if cpuid
 * and xgetbv say the CPU and OS support it. */
#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#include "kernels/frame.h"
#include "kernels/gemm_small.h"
#include "kernels/transpose_avx.h"
#include "kernels/ukr_t.h"

/* 14 rows x 2 zmm columns = 28 accumulators, 2 for B, 1 for the
 * broadcast: 31 of the 32 zmm registers. */
#define MR 14
#define NR_F32 32
#define NR_F64 16
/* Rows of y kept per pass of the columns-contiguous GEMV: up to 256 KiB,
 * in L2.  A whole column per visit streams best: a cap of 16 KiB (y in
 * L1) split each f64 4096-row column into two visits, and in-process
 * alternation against cblas (AMD Zen 5, one thread) timed "ij,i->j" f64
 * 4096^2 at 5.2-5.7 ms with it, 3.9-4.6 with the column whole (OpenBLAS
 * 5.2-6.1); f32 8192^2 11.3 -> 9.3 ms; two threads alike.  Its eight
 * column streams are fetched COLS_PF bytes ahead: without, the hardware
 * prefetchers left f32 4096^2 at 26-28 GB/s, where the rows-contiguous
 * GEMV reads 35-45; 768-1024 bytes ahead timed 1-3% faster than 512,
 * 1536 no better. */
#define COLS_CHUNK_BYTES (256 * 1024)
#define COLS_PF 1024
/* Vectors of y a step takes from each of the eight columns: 512 bytes,
 * as the rows GEMV reads 256 of a row a step.  A vector a step (64 bytes
 * from each column in turn) held f32 4096^2 at 0.98-1.13x OpenBLAS on
 * one thread; with eight, 1.29-1.31x (four: 1.06-1.15x), f64 1.13-1.22x
 * -> 1.24-1.27x, f32 2048^2 1.02x -> 1.10-1.17x (einsum-bench, both on
 * CPU 0, alternating builds). */
#define COLS_U 8
/* Rows-contiguous GEMV: rows of at least GEMV_PF_MIN bytes are fetched
 * GEMV_PF bytes ahead of the reads. */
#define GEMV_PF 512
#define GEMV_PF_MIN 4096
/* Micro-kernel prefetch: B rows fetched this many steps ahead, and the C
 * tile fetched this many steps before the last. */
#define PF_B 8
#define PF_C 32
/* Packing prefetch: pack_a fetches each row PF_PACK bytes ahead of its
 * reads, pack_b two rows of B ahead.  The sources of a large GEMM come
 * from L3 or memory; packing was 5% of f32 1024^3 on one thread (perf),
 * 3.3% with these.  The time saved is small: alternating in one process
 * (each build in the first slot after OpenBLAS's call in turn, since
 * that slot runs 1-3% slow), f32 2048^3 0.7-1.3%, 1024^3 and f64 1024^3
 * within +-1%. */
#define PF_PACK 256
/* Masks of the first r lanes, 0 <= r <= 16 (resp. 8); larger r: all. */
static inline __mmask16 lanes16(int64_t r)
{
    return (__mmask16)(r >= 16 ? 0xffffu : 0xffffu >> (16 - r));
}

static inline __mmask8 lanes8(int64_t r)
{
    return (__mmask8)(r >= 8 ? 0xffu : 0xffu >> (8 - r));
}

#define MLOAD_Z_PS(m, p) _mm512_maskz_loadu_ps(m, p)
#define MLOAD_Z_PD(m, p) _mm512_maskz_loadu_pd(m, p)

/* ---- micro-kernels ---------------------------------------------------- */

/* The micro-kernel and the edge tiles' kernels (ukr_t.h), on zmm: *p
 * broadcast by set1, masks in mask registers. */
#define BCAST_PS(p) _mm512_set1_ps(*(p))
#define BCAST_PD(p) _mm512_set1_pd(*(p))
#define MLOAD_PS(p, m) _mm512_maskz_loadu_ps(m, p)
#define MLOAD_PD(p, m) _mm512_maskz_loadu_pd(m, p)
EIN_UKR(ukr_f32, float, __m512, 16, _mm512_load_ps, _mm512_loadu_ps, _mm512_storeu_ps,
        BCAST_PS, _mm512_fmadd_ps, _mm512_add_ps, _mm512_setzero_ps, EIN_UKR_STEP4)
EIN_UKR(ukr_f64, double, __m512d, 8, _mm512_load_pd, _mm512_loadu_pd, _mm512_storeu_pd,
        BCAST_PD, _mm512_fmadd_pd, _mm512_add_pd, _mm512_setzero_pd, EIN_UKR_STEP4)

/* Edge tiles, rows 2..14 by one or two vectors.  Alternating builds, one
 * thread, einsum-bench "ij,jk->ik" f32 [100,2500] x [2500,100]: 485-509
 * -> 417-431 us (98 x 96 x 2500, no edges: ~330). */
#define UKR_E_F32(ME, NV) EIN_UKR_EDGE(ukr_e##ME##_##NV##_f32, float, __m512, 16, \
    ME, NV, _mm512_load_ps, BCAST_PS, _mm512_fmadd_ps, _mm512_add_ps,         \
    _mm512_setzero_ps, __mmask16, lanes16, MLOAD_PS, _mm512_mask_storeu_ps)
#define UKR_E_F64(ME, NV) EIN_UKR_EDGE(ukr_e##ME##_##NV##_f64, double, __m512d, 8, \
    ME, NV, _mm512_load_pd, BCAST_PD, _mm512_fmadd_pd, _mm512_add_pd,         \
    _mm512_setzero_pd, __mmask8, lanes8, MLOAD_PD, _mm512_mask_storeu_pd)
#define UKR_E_ALL(X)                                                          \
    X(2, 1) X(4, 1) X(6, 1) X(8, 1) X(10, 1) X(12, 1) X(14, 1)               \
    X(2, 2) X(4, 2) X(6, 2) X(8, 2) X(10, 2) X(12, 2) X(14, 2)
UKR_E_ALL(UKR_E_F32)
UKR_E_ALL(UKR_E_F64)
#define UKR_E_TAB(SFX) {                                                      \
        {ukr_e2_1_##SFX, ukr_e4_1_##SFX, ukr_e6_1_##SFX, ukr_e8_1_##SFX,      \
         ukr_e10_1_##SFX, ukr_e12_1_##SFX, ukr_e14_1_##SFX},                  \
        {ukr_e2_2_##SFX, ukr_e4_2_##SFX, ukr_e6_2_##SFX, ukr_e8_2_##SFX,      \
         ukr_e10_2_##SFX, ukr_e12_2_##SFX, ukr_e14_2_##SFX}}
static ein_ukr_edge_f32_fn *const k_ukr_e_f32[2][MR / 2] = UKR_E_TAB(f32);
static ein_ukr_edge_f64_fn *const k_ukr_e_f64[2][MR / 2] = UKR_E_TAB(f64);
EIN_UKR_EDGE_ENTRY(f32, float, 16, k_ukr_e_f32)
EIN_UKR_EDGE_ENTRY(f64, double, 8, k_ukr_e_f64)
#undef UKR_E_TAB
#undef UKR_E_ALL
#undef UKR_E_F32
#undef UKR_E_F64
#undef BCAST_PS
#undef BCAST_PD
#undef MLOAD_PS
#undef MLOAD_PD

/* ---- packing ------------------------------------------------------------ */

/* The frame's packing loops are plain C (16-byte moves at best); these
 * are the AVX-512 ones for the common cases, pure copies, so the packed
 * bits are those of the plain loops.  Packing was ~10% of a one-thread
 * f64 GEMM n = 1024 (perf samples; skipping it, results aside, made the
 * call 9% faster) and is ~8% with these: it waits mostly on reading A
 * and B from L3.  In alternating einsum-bench runs the GEMM ratios to
 * OpenBLAS rose 2-3%, f32 and f64, n = 256..2048. */

/* In-register transpose, r[i] lane j becomes r[j] lane i (tr8_ps for
 * ymm floats is in transpose_avx.h). */
static inline void tr8_pd(__m512d r[8])
{
    __m512d a[8], b[8];
    for (int i = 0; i < 4; i++) {
        a[2 * i] = _mm512_unpacklo_pd(r[2 * i], r[2 * i + 1]);
        a[2 * i + 1] = _mm512_unpackhi_pd(r[2 * i], r[2 * i + 1]);
    }
    /* a[0]: r0,r1 at columns 0 2 4 6; a[1]: 1 3 5 7; a[2..3]: r2,r3 ... */
    for (int h = 0; h < 2; h++)           /* rows 0-3, then rows 4-7 */
        for (int o = 0; o < 2; o++) {     /* even, odd columns */
            __m512d x = a[4 * h + o], y = a[4 * h + 2 + o];
            b[4 * h + o] = _mm512_shuffle_f64x2(x, y, 0x88);     /* cols o, o+4 */
            b[4 * h + 2 + o] = _mm512_shuffle_f64x2(x, y, 0xdd); /* o+2, o+6 */
        }
    /* b[q] holds columns q and q + 4 of rows 0-3, b[4 + q] of rows 4-7. */
    for (int q = 0; q < 4; q++) {
        r[q] = _mm512_shuffle_f64x2(b[q], b[4 + q], 0x88);
        r[q + 4] = _mm512_shuffle_f64x2(b[q], b[4 + q], 0xdd);
    }
}

/* One full A micro-panel, MR rows whose columns are contiguous: eight
 * depth steps at a time, each row's eight elements loaded as one vector
 * and the two 8 x 8 blocks (rows 8..13 padded) transposed in registers,
 * where the plain loop moved one element at a time. */
#define DEFINE_PACK_A(NAME, T, V, LOADU, STOREU, MSTOREU, SETZ, TR8)         \
    static void NAME(int64_t kc, const T *a, int64_t rsa, T *dst)             \
    {                                                                         \
        int64_t p = 0;                                                        \
        for (; p + 8 <= kc; p += 8, dst += 8 * MR) {                          \
            V lo[8], hi[8];                                                   \
            if (p * sizeof(T) % 64 == 0)                                      \
                for (int i = 0; i < MR; i++)                                  \
                    _mm_prefetch((const char *)(a + i * rsa + p) + PF_PACK,   \
                                 _MM_HINT_T0);                                \
            for (int i = 0; i < 8; i++)                                       \
                lo[i] = LOADU(a + i * rsa + p);                               \
            for (int i = 0; i < 8; i++)                                       \
                hi[i] = i < MR - 8 ? LOADU(a + (8 + i) * rsa + p) : SETZ();   \
            TR8(lo);                                                          \
            TR8(hi);                                                          \
            for (int q = 0; q < 8; q++) {                                     \
                STOREU(dst + q * MR, lo[q]);                                  \
                MSTOREU(dst + q * MR + 8, (__mmask8)((1u << (MR - 8)) - 1),   \
                        hi[q]);                                               \
            }                                                                 \
        }                                                                     \
        for (; p < kc; p++, dst += MR)                                        \
            for (int i = 0; i < MR; i++)                                      \
                dst[i] = a[i * rsa + p];                                      \
    }
DEFINE_PACK_A(pack_a_f32, float, __m256, _mm256_loadu_ps, _mm256_storeu_ps,
              _mm256_mask_storeu_ps, _mm256_setzero_ps, tr8_ps)
DEFINE_PACK_A(pack_a_f64, double, __m512d, _mm512_loadu_pd, _mm512_storeu_pd,
              _mm512_mask_storeu_pd, _mm512_setzero_pd, tr8_pd)
#undef DEFINE_PACK_A

/* np full B micro-panels whose rows are contiguous, then an edge panel
 * of ne columns (0 <= ne < NR) padded with zeros: row p of B is read once
 * across all panels, two vectors to each, the edge's under masks.  With
 * the edge in the same pass (it had been a second pass over the rows,
 * one element at a time): ijk,ijl->kl 100x100x50 f32, one thread,
 * alternating runs, 606-636 -> 512-525 us; ki,kj->ij k = 10^5, 50 x 50,
 * 6.2-6.6 -> 5.3 ms. */
#define DEFINE_PACK_B(NAME, T, NR, W, LOADU, STORE, MLOADZ, LANES)           \
    static void NAME(int64_t kc, int64_t np, int64_t ne, const T *b,          \
                     int64_t rsb, T *dst)                                     \
    {                                                                         \
        for (int64_t p = 0; p < kc; p++) {                                    \
            const T *src = b + p * rsb;                                       \
            T *d = dst + p * (NR);                                            \
            for (int64_t q = 0; q < np; q++, src += (NR), d += (NR) * kc) {   \
                _mm_prefetch((const char *)(src + 2 * rsb), _MM_HINT_T0);     \
                _mm_prefetch((const char *)(src + 2 * rsb + (W)), _MM_HINT_T0); \
                STORE(d, LOADU(src));                                         \
                STORE(d + (W), LOADU(src + (W)));                             \
            }                                                                 \
            if (ne > 0) {                                                     \
                STORE(d, MLOADZ(LANES(ne), src));                             \
                STORE(d + (W), MLOADZ(LANES(ne > (W) ? ne - (W) : 0), src + (W))); \
            }                                                                 \
        }                                                                     \
    }
DEFINE_PACK_B(pack_b_f32, float, NR_F32, 16, _mm512_loadu_ps, _mm512_store_ps,
              _mm512_maskz_loadu_ps, lanes16)
DEFINE_PACK_B(pack_b_f64, double, NR_F64, 8, _mm512_loadu_pd, _mm512_store_pd,
              _mm512_maskz_loadu_pd, lanes8)
#undef DEFINE_PACK_B

/* B's columns contiguous (x W^T): 8 x 8 f32 / 4 x 4 f64 register transposes. */
EIN_PACK_B_T(pack_b_t_f32, float, __m256, 8, NR_F32, _mm256_loadu_ps, _mm256_storeu_ps, tr8_ps)
EIN_PACK_B_T(pack_b_t_f64, double, __m256d, 4, NR_F64, _mm256_loadu_pd, _mm256_storeu_pd, tr4_pd)

/* ---- GEMV, rows contiguous: eight dots at once ------------------------ */

/* The eight row sums of v0..v7 (one zmm accumulator per row), in row
 * order, by a fixed shuffle tree: each row gets the same additions in
 * whatever group it is. */
static inline __m256 hsum8_f32(__m512 v0, __m512 v1, __m512 v2, __m512 v3,
                               __m512 v4, __m512 v5, __m512 v6, __m512 v7)
{
#define FOLD2(a, b) _mm512_add_ps(_mm512_shuffle_f32x4(a, b, 0x44),           \
                                  _mm512_shuffle_f32x4(a, b, 0xee))
#define FOLD4(a, b) _mm512_add_ps(_mm512_shuffle_f32x4(a, b, 0x88),           \
                                  _mm512_shuffle_f32x4(a, b, 0xdd))
    __m512 u0 = FOLD4(FOLD2(v0, v1), FOLD2(v2, v3));   /* 4 lanes per row */
    __m512 u1 = FOLD4(FOLD2(v4, v5), FOLD2(v6, v7));
#undef FOLD2
#undef FOLD4
    __m512 w = _mm512_add_ps(_mm512_unpacklo_ps(u0, u1), _mm512_unpackhi_ps(u0, u1));
    __m512 z = _mm512_add_ps(w, _mm512_permute_ps(w, 0x4e));
    const __m512i idx = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13,
                                          0, 4, 8, 12, 1, 5, 9, 13);
    return _mm512_castps512_ps256(_mm512_permutexvar_ps(idx, z));
}

static inline __m512d hsum8_f64(__m512d v0, __m512d v1, __m512d v2, __m512d v3,
                                __m512d v4, __m512d v5, __m512d v6, __m512d v7)
{
#define FOLD2(a, b) _mm512_add_pd(_mm512_shuffle_f64x2(a, b, 0x44),           \
                                  _mm512_shuffle_f64x2(a, b, 0xee))
#define FOLD4(a, b) _mm512_add_pd(_mm512_shuffle_f64x2(a, b, 0x88),           \
                                  _mm512_shuffle_f64x2(a, b, 0xdd))
    __m512d u0 = FOLD4(FOLD2(v0, v1), FOLD2(v2, v3));  /* 2 lanes per row */
    __m512d u1 = FOLD4(FOLD2(v4, v5), FOLD2(v6, v7));
#undef FOLD2
#undef FOLD4
    __m512d w = _mm512_add_pd(_mm512_unpacklo_pd(u0, u1), _mm512_unpackhi_pd(u0, u1));
    const __m512i idx = _mm512_setr_epi64(0, 2, 4, 6, 1, 3, 5, 7);
    return _mm512_permutexvar_pd(idx, w);
}

/* Rows shorter than one vector (n < W; longer rows take SHORT_ROWS or
 * LONG_ROWS below): eight rows a block, each one masked load, the rows
 * past the end of a partial block repeating the last. */
#define ROWS8(T, V, MLOAD, FMA, SETZ, MASK, LANES_, HSUM, STORE)              \
    {                                                                         \
        MASK mk = (MASK)LANES_(n);                                            \
        V xv = MLOAD(mk, x);                                                  \
        for (int64_t i = 0; i < m; i += 8) {                                  \
            const T *r[8];                                                    \
            for (int q = 0; q < 8; q++)                                       \
                r[q] = A + (i + q < m ? i + q : m - 1) * rsa;                 \
            V a[8];                                                           \
            for (int q = 0; q < 8; q++)                                       \
                a[q] = FMA(MLOAD(mk, r[q]), xv, SETZ());                      \
            _Alignas(64) T s[8];                                              \
            STORE(s, HSUM(a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7]));   \
            for (int64_t q = 0; q < 8 && i + q < m; q++) {                    \
                T *yy = y + (i + q) * incy;                                   \
                *yy = (acc ? *yy : 0) + s[q];                                 \
            }                                                                 \
        }                                                                     \
    }

/* W rows of n <= 8 elements packed back to back are n whole vectors
 * in[0..n-1]; lane l of column j is element e = j + n l of their
 * concatenation.  packed_col_ builds column j from the vector pairs
 * (in[2p], in[2p+1]): one two-source permute of pair 0, then for each
 * further pair a permute blended in over the lanes whose e falls there
 * (the permutes read e modulo 2W, so the indices are the same for every
 * pair; a last pair of one vector takes one masked permute).  Column j
 * costs n - 1 operations, n = 1 none.  packed_setup_ gives the indices
 * and the masks (hi[j][p]: the lanes of column j from pair p).  The
 * callers take n as a constant (always_inline), so neither is reloaded
 * per vector.  Used by dense_rows (short rows of a GEMV) and
 * cols_to_rows (B's few columns). */
#define PACKED_COLS(SFX, V, W, MASK, IOTA, SET1I, MULLO, ADDI, PERM2, MPERM,  \
                    BLEND)                                                    \
    static inline __attribute__((always_inline)) void packed_setup_##SFX(    \
        const int n, __m512i idx[8], MASK hi[8][4])                           \
    {                                                                         \
        for (int j = 0; j < n; j++) {                                         \
            idx[j] = ADDI(SET1I(j), MULLO(SET1I(n), IOTA));                   \
            for (int p = 0; p < 4; p++) {                                     \
                unsigned mk = 0;                                              \
                for (int l = 0; l < (W); l++)                                 \
                    if ((j + n * l) / (2 * (W)) == p)                         \
                        mk |= 1u << l;                                        \
                hi[j][p] = (MASK)mk;                                          \
            }                                                                 \
        }                                                                     \
    }                                                                         \
    static inline __attribute__((always_inline)) V packed_col_##SFX(         \
        const int n, int j, const __m512i idx[8], const MASK hi[8][4],        \
        const V in[8])                                                        \
    {                                                                         \
        V col = n == 1 ? in[0] : PERM2(in[0], idx[j], in[1]);                 \
        for (int p = 1; 2 * p < n; p++)                                       \
            col = 2 * p + 1 < n                                               \
                      ? BLEND(hi[j][p], col, PERM2(in[2 * p], idx[j], in[2 * p + 1])) \
                      : MPERM(col, hi[j][p], idx[j], in[2 * p]);              \
        return col;                                                           \
    }
PACKED_COLS(f32, __m512, 16, __mmask16,
            _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
            _mm512_set1_epi32, _mm512_mullo_epi32, _mm512_add_epi32,
            _mm512_permutex2var_ps, _mm512_mask_permutexvar_ps, _mm512_mask_blend_ps)
PACKED_COLS(f64, __m512d, 8, __mmask8, _mm512_setr_epi64(0, 1, 2, 3, 4, 5, 6, 7),
            _mm512_set1_epi64, _mm512_mullo_epi64, _mm512_add_epi64,
            _mm512_permutex2var_pd, _mm512_mask_permutexvar_pd, _mm512_mask_blend_pd)
#undef PACKED_COLS

/* Rows of at most DENSE_MAX elements packed back to back (rsa == n), y
 * contiguous: W rows are n whole vectors, which packed_col_ turns into n
 * columns, so one multiply serves W rows where ROWS8 spends a masked
 * load, an FMA and an eighth of a tree on each.  The products are then
 * summed in the order ROWS8's tree (hsum8, lanes past n zero) sums a
 * row's lanes, each first + 0 as there, so every row gets ROWS8's bits:
 * f32 s = (r0 + r2) + (r1 + r3), r_l = p_l + p_(l+4); f64 s = r0 + r1,
 * r_l = p_l + p_(l+2) (terms past n dropped: adding the tree's +0 to a
 * sum that is never -0 changes nothing).  Measured on AMD Zen 5, one
 * thread, einsum-bench [1000, n] f32: ROWS8 1.12 us for n = 4..8; with
 * n x n masked permutes and n a variable (before 2026-11-28) n = 2 0.31
 * us, 3 0.45; with packed_col_ and n a constant n = 2 0.10, 3 0.15, 4
 * 0.22 (OpenBLAS 0.15-0.35). */
#define DENSE_MAX_F32 4
#define DENSE_MAX_F64 4
#define DENSE_ROWS(NAME, SFX, T, V, W, MASK, LANES_, MLOADZ, MSTORE, MUL, ADD, \
                   SET1, SETZ, TREE)                                          \
    static inline __attribute__((always_inline)) void NAME##_n(              \
        const int n, int64_t m, const T *A, const T *x, T *y, int acc)       \
    {                                                                         \
        __m512i idx[8];                                                       \
        MASK hi[8][4];                                                        \
        V xv[4];                                                              \
        packed_setup_##SFX(n, idx, hi);                                       \
        for (int j = 0; j < n; j++)                                           \
            xv[j] = SET1(x[j]);                                               \
        const V z = SETZ();                                                   \
        V R[8];                                                               \
        for (int j = 0; j < 8; j++)   /* past n: never read, but defined */   \
            R[j] = z;                                                         \
        for (int64_t i = 0; i < m; i += (W)) {                                \
            int64_t rows = m - i < (W) ? m - i : (W), e = rows * n;           \
            const T *a = A + i * n;                                           \
            V in[8];                                                          \
            for (int s = 0; s < n; s++)                                       \
                in[s] = MLOADZ(LANES_(e - s * (W) > 0 ? e - s * (W) : 0), a + s * (W)); \
            for (int j = 0; j < n; j++)                                       \
                R[j] = ADD(MUL(packed_col_##SFX(n, j, idx, hi, in), xv[j]), z); \
            V sum = TREE(R, n);                                               \
            MASK mo = (MASK)LANES_(rows);                                     \
            MSTORE(y + i, mo, ADD(acc ? MLOADZ(mo, y + i) : z, sum));         \
        }                                                                     \
    }                                                                         \
    static void NAME(int64_t m, int n, const T *A, const T *x, T *y, int acc) \
    {                                                                         \
        switch (n) {                                                          \
        case 1: NAME##_n(1, m, A, x, y, acc); break;                          \
        case 2: NAME##_n(2, m, A, x, y, acc); break;                          \
        case 3: NAME##_n(3, m, A, x, y, acc); break;                          \
        default: NAME##_n(4, m, A, x, y, acc); break;                         \
        }                                                                     \
    }
static inline __m512 dense_tree_f32(__m512 *R, int n)
{
    for (int l = 0; l < 4 && l + 4 < n; l++)
        R[l] = _mm512_add_ps(R[l], R[l + 4]);
    switch (n) {
    case 1:  return R[0];
    case 2:  return _mm512_add_ps(R[0], R[1]);
    case 3:  return _mm512_add_ps(_mm512_add_ps(R[0], R[2]), R[1]);
    default: return _mm512_add_ps(_mm512_add_ps(R[0], R[2]), _mm512_add_ps(R[1], R[3]));
    }
}
static inline __m512d dense_tree_f64(__m512d *R, int n)
{
    for (int l = 0; l < 2 && l + 2 < n; l++)
        R[l] = _mm512_add_pd(R[l], R[l + 2]);
    return n == 1 ? R[0] : _mm512_add_pd(R[0], R[1]);
}
DENSE_ROWS(dense_rows_f32, f32, float, __m512, 16, __mmask16, lanes16,
           _mm512_maskz_loadu_ps, _mm512_mask_storeu_ps, _mm512_mul_ps, _mm512_add_ps,
           _mm512_set1_ps, _mm512_setzero_ps, dense_tree_f32)
DENSE_ROWS(dense_rows_f64, f64, double, __m512d, 8, __mmask8, lanes8,
           _mm512_maskz_loadu_pd, _mm512_mask_storeu_pd, _mm512_mul_pd, _mm512_add_pd,
           _mm512_set1_pd, _mm512_setzero_pd, dense_tree_f64)
#undef DENSE_ROWS

/* ROWS8 across a batch of GEMVs (gemv_rows_batch): row g of the batch
 * is row g % m of matrix g / m, with that matrix's x, so a 3 x 3 matrix
 * shares its block of eight rows with its neighbours instead of
 * repeating its last row five times, and the call, the x load and the
 * set-up are paid once for the batch.  Each row gets ROWS8's masked
 * loads, FMA and tree, so a batch gives the bits of one call per
 * matrix.  Taken for matrices of fewer than eight rows (ROWS8 per
 * matrix wastes none of a block from eight up: 4096 x 8 x 8 f32 ran
 * 60 us per call, 72 us here) and rows shorter than W (longer ones keep
 * x in registers per call, SHORT_ROWS).  Measured, bij,bj->bi f32, one
 * thread, against one ROWS8 call per matrix: 10000 x 3 x 3 136 -> 68 us,
 * 10000 x 4 x 4 151 -> 91 us. */
#define ROWS8_BATCH(NAME, T, V, W, MLOAD, FMA, SETZ, MASK, LANES_, HSUM, STORE) \
    static int NAME(int64_t nb, int64_t sa, int64_t sx, int64_t sy, int64_t m, \
                    int64_t n, const T *A, int64_t rsa, const T *x, T *y,     \
                    int64_t incy, int acc)                                    \
    {                                                                         \
        if (n < 1 || n >= (W) || m < 1 || m >= 8)                             \
            return 0;                                                         \
        MASK mk = (MASK)LANES_(n);                                            \
        int64_t total = nb * m, i = 0;                                        \
        const T *pa = A, *px = x;   /* this row's matrix and x */            \
        T *py = y;                                                            \
        for (int64_t g = 0; g < total; g += 8) {                              \
            int cnt = total - g < 8 ? (int)(total - g) : 8;                   \
            const T *r[8], *xq[8];                                            \
            T *yq[8];                                                         \
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
            for (int q = cnt; q < 8; q++) {   /* repeat the last row */      \
                r[q] = r[cnt - 1];                                            \
                xq[q] = xq[cnt - 1];                                          \
            }                                                                 \
            V a[8];                                                           \
            for (int q = 0; q < 8; q++)                                       \
                a[q] = FMA(MLOAD(mk, r[q]), MLOAD(mk, xq[q]), SETZ());        \
            _Alignas(64) T s[8];                                              \
            STORE(s, HSUM(a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7]));   \
            for (int q = 0; q < cnt; q++)                                     \
                *yq[q] = (acc ? *yq[q] : 0) + s[q];                           \
        }                                                                     \
        return 1;                                                             \
    }
ROWS8_BATCH(gemv_rows_batch_f32, float, __m512, 16, _mm512_maskz_loadu_ps,
            _mm512_fmadd_ps, _mm512_setzero_ps, __mmask16, lanes16, hsum8_f32,
            _mm256_storeu_ps)
ROWS8_BATCH(gemv_rows_batch_f64, double, __m512d, 8, _mm512_maskz_loadu_pd,
            _mm512_fmadd_pd, _mm512_setzero_pd, __mmask8, lanes8, hsum8_f64,
            _mm512_storeu_pd)
#undef ROWS8_BATCH

/* Short rows, W <= n < 8W (the headline 100 x 50 f32), any m: x stays
 * in registers, the number of full vectors is a constant of the code,
 * and eight rows are summed at a time (a partial block re-runs eight
 * rows, repeating some, and stores only the new ones).  Every row of a
 * given n gets the same arithmetic wherever it sits, so its bits do not
 * depend on the block, the call's m or the thread that summed it.
 * Measured on 100 x 50 f32, the kernel alone: ROWS8 ~250 ns; this path
 * with the tail re-read ~170 ns (the loop over columns, the row-pointer
 * array and x reloaded per block had cost more than the loads); with the
 * 8-byte tails gathered, ~150 ns. */
/* Full vectors of x held in registers: up to 7 (f32 rows of 16..127). */
#define SHORT_MAXV 7
#define R8(S)                                                                 \
    do {                                                                      \
        { enum { q = 0 }; S; } { enum { q = 1 }; S; }                         \
        { enum { q = 2 }; S; } { enum { q = 3 }; S; }                         \
        { enum { q = 4 }; S; } { enum { q = 5 }; S; }                         \
        { enum { q = 6 }; S; } { enum { q = 7 }; S; }                         \
    } while (0)
/* The eight rows' 8-byte tails at r[q] + off, one 64-bit lane each:
 * plain 8-byte loads, which never split a cache line, where re-reading a
 * row's last W elements split one for 7 rows in 8. */
static inline __attribute__((always_inline)) __m128 tails2(const void *a,
                                                           const void *b)
{
    /* 8-byte loads that need no alignment: movq, then movhps. */
    return _mm_loadh_pi(_mm_castsi128_ps(_mm_loadu_si64(a)), (const __m64 *)b);
}

static inline __attribute__((always_inline)) __m512d tails8(const void *const *r,
                                                            int64_t off)
{
#define T8(q) ((const char *)r[q] + off)
    __m256 lo = _mm256_insertf128_ps(_mm256_castps128_ps256(tails2(T8(0), T8(1))),
                                     tails2(T8(2), T8(3)), 1);
    __m256 hi = _mm256_insertf128_ps(_mm256_castps128_ps256(tails2(T8(4), T8(5))),
                                     tails2(T8(6), T8(7)), 1);
#undef T8
    return _mm512_insertf64x4(_mm512_castpd256_pd512(_mm256_castps_pd(lo)),
                              _mm256_castps_pd(hi), 1);
}

/* Row sums of the tails: f32, two elements a row, times xt = the last two
 * of x in every pair of lanes; f64, one element a row, times x[n-1]. */
static inline __attribute__((always_inline)) __m256 tsum_f32(const void *const *r,
                                                              int64_t off, __m512 xt)
{
    __m512 p = _mm512_mul_ps(_mm512_castpd_ps(tails8(r, off)), xt);
    p = _mm512_add_ps(p, _mm512_permute_ps(p, 0xb1));
    const __m512i idx = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14,
                                          0, 2, 4, 6, 8, 10, 12, 14);
    return _mm512_castps512_ps256(_mm512_permutexvar_ps(idx, p));
}

static inline __attribute__((always_inline)) __m512d tsum_f64(const void *const *r,
                                                               int64_t off, __m512d xt)
{
    return _mm512_mul_pd(tails8(r, off), xt);
}

/* The end of a block of eight rows, a[] summed over the full vectors:
 * the tail by its kind, the tree, and the return. */
#define BLOCK_END(T, W, LOAD, MFMA, HSUM, HV, HADD, TSUM)                     \
    if (tail == 1)                                                            \
        R8(if (q < nr) a[q] = MFMA(LOAD(r[q] + n - W), xv[SHORT_MAXV], a[q], mt)); \
    if (nr < 8)                                                               \
        R8(if (q >= nr) a[q] = a[q % nr]);                                    \
    HV s = HSUM(a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7]);              \
    if (tail == 2)                                                            \
        s = HADD(s, TSUM((const void *const *)r, (int64_t)sizeof(T) * (n - n % W), \
                         xv[SHORT_MAXV]));                                    \
    return s

/* Eight rows r[0..7], the first nr (8 or 4) summed: with nr = 4,
 * r[4..7] repeat r[0..3] and so do the sums.  tail: 0, n a multiple of W; 1, the row's last W
 * elements re-read and the new lanes added under a merge mask before the
 * hsum; 2, the last 8 bytes (n % W elements) of the eight rows gathered
 * into one vector and their sums added after it. */
#define SHORT_BLOCK(NAME, T, V, W, LOAD, FMA, MFMA, SETZ, MASK, HSUM, HV,     \
                    HADD, TSUM)                                               \
    static inline __attribute__((always_inline)) HV NAME(                     \
        const T *const *r, const T *x, int64_t n, int nv, int tail,           \
        const V *xv, MASK mt, int nr)                                         \
    {                                                                         \
        V a[8];                                                               \
        (void)x;                                                              \
        R8(a[q] = SETZ());                                                    \
        for (int v = 0; v < SHORT_MAXV; v++)                                  \
            if (v < nv)                                                       \
                R8(if (q < nr) a[q] = FMA(LOAD(r[q] + v * W), xv[v], a[q]));  \
        BLOCK_END(T, W, LOAD, MFMA, HSUM, HV, HADD, TSUM);                    \
    }
/* Rows of 8W elements or more: the same per-row arithmetic as
 * SHORT_BLOCK (zero, FMAs over the full vectors in column order, the
 * tail), x read four vectors a step as the columns go by; long rows are
 * fetched GEMV_PF bytes ahead.  Measured against ROWS8, einsum-bench,
 * one thread: 96 x 128 f32 334 -> 262 ns, 96 x 512 1.27 -> 1.17 us,
 * 100 x 100 f64 787 -> 663 ns (0.90x -> 1.05x OpenBLAS); rows streamed
 * from memory run as before.  ROWS8 now serves only rows shorter than W. */
#define LONG_BLOCK(NAME, T, V, W, LOAD, FMA, MFMA, SETZ, MASK, HSUM, HV,      \
                   HADD, TSUM)                                                \
    static inline __attribute__((always_inline)) HV NAME(                     \
        const T *const *r, const T *x, int64_t n, int nv, int tail,           \
        const V *xv, MASK mt, int nr)                                         \
    {                                                                         \
        V a[8];                                                               \
        (void)nv;                                                             \
        R8(a[q] = SETZ());                                                    \
        int64_t nf = n - n % W, j = 0;                                        \
        int pf = n * (int64_t)sizeof(T) >= GEMV_PF_MIN;                       \
        for (; j + 4 * W <= nf; j += 4 * W) {                                 \
            if (pf)                                                           \
                for (int l = 0; l < 4; l++)                                   \
                    R8(_mm_prefetch((const char *)(r[q] + j + l * W) + GEMV_PF, \
                                    _MM_HINT_T0));                            \
            V x0 = LOAD(x + j), x1 = LOAD(x + j + W);                         \
            V x2 = LOAD(x + j + 2 * W), x3 = LOAD(x + j + 3 * W);             \
            R8(if (q < nr) a[q] = FMA(LOAD(r[q] + j), x0, a[q]));             \
            R8(if (q < nr) a[q] = FMA(LOAD(r[q] + j + W), x1, a[q]));         \
            R8(if (q < nr) a[q] = FMA(LOAD(r[q] + j + 2 * W), x2, a[q]));     \
            R8(if (q < nr) a[q] = FMA(LOAD(r[q] + j + 3 * W), x3, a[q]));     \
        }                                                                     \
        for (; j < nf; j += W) {                                              \
            V x0 = LOAD(x + j);                                               \
            R8(if (q < nr) a[q] = FMA(LOAD(r[q] + j), x0, a[q]));             \
        }                                                                     \
        BLOCK_END(T, W, LOAD, MFMA, HSUM, HV, HADD, TSUM);                    \
    }

/* Blocks of eight rows (nr = 8); up to four rows past the last whole
 * block are summed by a block of four (nr = 4: half the loads and FMAs,
 * and the tree's lanes 4-7 repeat 0-3), more by re-running the block of
 * eight that ends at row m; when m < 8 the missing rows repeat the last.
 * Only rows not yet written are stored.  Each row gets the same
 * arithmetic in either block.  Measured on 100 x 50 f32, the kernel
 * alone, alternating with the old build: 160 -> 152 ns. */
/* EXACT (long rows): rows past the last whole block of eight, when there
 * was one, go in blocks of four, two and one, so no row is read twice:
 * [10, 600000] f32 had re-read two rows of 2.4 MB with the block of four
 * (one thread, einsum-bench, alternating builds: 1.27 -> 1.08-1.09 ms). */
#define REST_BLOCK(NRX, BLOCK, HV, HMSTORE, HADD, HMLOAD)                     \
    if (m - i >= (NRX)) {                                                     \
        R8(r[q] = A + (i + q % (NRX)) * rsa);                                 \
        HV s = BLOCK(r, x, n, nv, tail, xv, mt, (NRX));                       \
        __mmask8 k = (__mmask8)((1u << (NRX)) - 1);                           \
        HMSTORE(y + i, k, HADD(HMLOAD(acc ? k : 0, y + i), s));               \
        i += (NRX);                                                           \
    }
#define SHORT_ROWS(NAME, BLOCK, EXACT, T, V, W, LOAD, SETZ, MASK, LANES_, HV,  \
                   HSTORE, HMSTORE, HADD, HLOAD, HMLOAD, XTAIL2)              \
    static inline __attribute__((always_inline)) void NAME(                   \
        int64_t m, int64_t n, const T *A, int64_t rsa, const T *x, T *y,      \
        int64_t incy, int acc, int nv, int tail)                              \
    {                                                                         \
        MASK mt = (MASK)~LANES_(W - n % W);                                   \
        V xv[SHORT_MAXV + 1];                                                 \
        for (int v = 0; v < SHORT_MAXV; v++)                                  \
            xv[v] = v < nv ? LOAD(x + v * W) : SETZ();                        \
        xv[SHORT_MAXV] = tail == 1 ? LOAD(x + n - W)                          \
                         : tail == 2 ? XTAIL2(x + n - n % W) : SETZ();        \
        const T *r[8];                                                        \
        int64_t i = 0;                                                        \
        if (incy != 1) {   /* strided y: the same sums, stored one by one */  \
            _Alignas(64) T t[8];                                              \
            for (; i < m; i += 8) {                                           \
                R8(r[q] = A + (i + q < m ? i + q : m - 1) * rsa);             \
                HSTORE(t, BLOCK(r, x, n, nv, tail, xv, mt, 8));                  \
                for (int64_t q = 0; q < 8 && i + q < m; q++) {                \
                    T *yq = y + (i + q) * incy;                               \
                    *yq = (acc ? *yq : 0) + t[q];                             \
                }                                                             \
            }                                                                 \
            return;                                                           \
        }                                                                     \
        for (; i + 8 <= m; i += 8) {                                          \
            R8(r[q] = A + (i + q) * rsa);                                     \
            HV s = BLOCK(r, x, n, nv, tail, xv, mt, 8);                       \
            HSTORE(y + i, HADD(acc ? HLOAD(y + i) : HMLOAD(0, y + i), s));    \
        }                                                                     \
        if ((EXACT) && i > 0) {                                               \
            REST_BLOCK(4, BLOCK, HV, HMSTORE, HADD, HMLOAD)                   \
            REST_BLOCK(2, BLOCK, HV, HMSTORE, HADD, HMLOAD)                   \
            REST_BLOCK(1, BLOCK, HV, HMSTORE, HADD, HMLOAD)                   \
            return;                                                           \
        }                                                                     \
        if (i < m && m - i <= 4) {   /* rows m - 4 .. m - 1, four only */    \
            int64_t b = m < 4 ? 0 : m - 4, keep = m - i;                      \
            R8(r[q] = A + (b + q % 4 < m ? b + q % 4 : m - 1) * rsa);         \
            HV s = BLOCK(r, x, n, nv, tail, xv, mt, 4);                       \
            __mmask8 k = (__mmask8)(m < 4 ? 0xfu >> (4 - m)                   \
                                          : 0xfu << (4 - keep) & 0xfu);       \
            HMSTORE(y + b, k, HADD(HMLOAD(acc ? k : 0, y + b), s));           \
        } else if (i < m) {                                                   \
            int64_t b = m < 8 ? 0 : m - 8, keep = m - i;                      \
            R8(r[q] = A + (b + q < m ? b + q : m - 1) * rsa);                 \
            HV s = BLOCK(r, x, n, nv, tail, xv, mt, 8);                       \
            __mmask8 k = (__mmask8)(m < 8 ? 0xffu >> (8 - m)                  \
                                          : 0xffu << (8 - keep));             \
            HMSTORE(y + b, k, HADD(HMLOAD(acc ? k : 0, y + b), s));           \
        }                                                                     \
    }

/* x's last two f32 elements in every pair of lanes; x[n-1] in every lane. */
#define XTAIL2_F32(p) _mm512_castsi512_ps(_mm512_broadcastq_epi64(_mm_loadu_si64(p)))
#define XTAIL2_F64(p) _mm512_set1_pd(*(p))
/* Each dtype's arguments to the block and row macros, written once. */
#define BLOCK_ARGS_F32 float, __m512, 16, _mm512_loadu_ps, _mm512_fmadd_ps,     \
    _mm512_mask3_fmadd_ps, _mm512_setzero_ps, __mmask16, hsum8_f32, __m256,    \
    _mm256_add_ps, tsum_f32
#define ROWS_ARGS_F32 float, __m512, 16, _mm512_loadu_ps, _mm512_setzero_ps,   \
    __mmask16, lanes16, __m256, _mm256_storeu_ps, _mm256_mask_storeu_ps,       \
    _mm256_add_ps, _mm256_loadu_ps, _mm256_maskz_loadu_ps, XTAIL2_F32
#define BLOCK_ARGS_F64 double, __m512d, 8, _mm512_loadu_pd, _mm512_fmadd_pd,    \
    _mm512_mask3_fmadd_pd, _mm512_setzero_pd, __mmask8, hsum8_f64, __m512d,    \
    _mm512_add_pd, tsum_f64
#define ROWS_ARGS_F64 double, __m512d, 8, _mm512_loadu_pd, _mm512_setzero_pd,  \
    __mmask8, lanes8, __m512d, _mm512_storeu_pd, _mm512_mask_storeu_pd,        \
    _mm512_add_pd, _mm512_loadu_pd, _mm512_maskz_loadu_pd, XTAIL2_F64
#define APPLY(M, ...) M(__VA_ARGS__)
APPLY(SHORT_BLOCK, short_block_f32, BLOCK_ARGS_F32)
APPLY(SHORT_ROWS, short_rows_f32, short_block_f32, 0, ROWS_ARGS_F32)
APPLY(LONG_BLOCK, long_block_f32, BLOCK_ARGS_F32)
APPLY(SHORT_ROWS, long_rows_f32, long_block_f32, 1, ROWS_ARGS_F32)
APPLY(SHORT_BLOCK, short_block_f64, BLOCK_ARGS_F64)
APPLY(SHORT_ROWS, short_rows_f64, short_block_f64, 0, ROWS_ARGS_F64)
APPLY(LONG_BLOCK, long_block_f64, BLOCK_ARGS_F64)
APPLY(SHORT_ROWS, long_rows_f64, long_block_f64, 1, ROWS_ARGS_F64)
#undef APPLY
#undef BLOCK_ARGS_F32
#undef ROWS_ARGS_F32
#undef BLOCK_ARGS_F64
#undef ROWS_ARGS_F64
#undef XTAIL2_F32
#undef XTAIL2_F64
#undef LONG_BLOCK
#undef BLOCK_END
#undef SHORT_BLOCK
#undef SHORT_ROWS
#undef REST_BLOCK
#undef R8

/* Long rows (8W elements or more) of a matrix that L2 holds and L1 does
 * not (EIN_ROWS_ALONE): each row alone, in one sequential read, into
 * four accumulators (full vector v into a[v % 4], the masked tail into
 * the next), s = (a0 + a2) + (a1 + a3), then its lanes summed.  On AMD
 * Zen 5 L2 fed one stream of reads at 150-210 GB/s and the eight rows of
 * LONG_BLOCK side by side at 105-120 (in-process medians, one thread,
 * f64 256^2; f64 128^2 118 -> 155, f32 256^2 100 -> 140).  From L1 (f64
 * 64^2: 259 -> 141 GB/s) the blocks' shared horizontal sums win, and
 * from memory the eight streams.  einsum-bench, one thread, alternating
 * builds, ratio to OpenBLAS: f64 256^2 1.00-1.05x -> 1.48-1.73x, f32
 * 300^2 1.25-1.29x -> 1.48-1.56x, f64 16 x 2048 2.6-3.1 -> 1.6-1.9 us;
 * two threads, f32 512^2 4.6-5.3 -> 3.0-3.9 us.  Rows of 8-12 vectors
 * not on 64-byte boundaries (f64 n = 100) gain nothing.
 * x is read once a row, so one not on a 64-byte boundary is first copied
 * to one that is (up to ALONE_X_BYTES; the values, so the bits, are the
 * same): with x 8 bytes off, loads split cache lines and f64 256^2 fell
 * from 152 to 112 GB/s, 200 x 129 from 100 to 81.  Not inlined: gcc
 * -O3 inlined into gemv_rows_ ran f64 256^2 at 146 GB/s, alone at 205. */
#define ALONE_X_BYTES 16384
#define ALONE_ROWS(NAME, T, V, W, LOAD, MLOADZ, FMA, ADD, SETZ, MASK, LANES_, RED) \
    static __attribute__((noinline)) void NAME(int64_t m, int64_t n, const T *A, int64_t rsa, \
                     const T *x, T *y, int64_t incy, int acc)                 \
    {                                                                         \
        const int64_t nf = n - n % (W);                                       \
        const MASK mt = (MASK)LANES_(n % (W));                                \
        const int last = (int)(nf / (W) % 4);   /* the tail's accumulator */ \
        _Alignas(64) T xa[ALONE_X_BYTES / sizeof(T)];                         \
        if (((uintptr_t)x & 63) != 0 && n <= (int64_t)(ALONE_X_BYTES / sizeof(T))) { \
            memcpy(xa, x, (size_t)n * sizeof(T));                             \
            x = xa;                                                           \
        }                                                                     \
        for (int64_t i = 0; i < m; i++) {                                     \
            const T *a = A + i * rsa;                                         \
            V a0 = SETZ(), a1 = SETZ(), a2 = SETZ(), a3 = SETZ();             \
            int64_t j = 0;                                                    \
            for (; j + 4 * (W) <= nf; j += 4 * (W)) {                         \
                a0 = FMA(LOAD(a + j), LOAD(x + j), a0);                       \
                a1 = FMA(LOAD(a + j + (W)), LOAD(x + j + (W)), a1);           \
                a2 = FMA(LOAD(a + j + 2 * (W)), LOAD(x + j + 2 * (W)), a2);   \
                a3 = FMA(LOAD(a + j + 3 * (W)), LOAD(x + j + 3 * (W)), a3);   \
            }                                                                 \
            if (j < nf)                                                       \
                a0 = FMA(LOAD(a + j), LOAD(x + j), a0);                       \
            if (j + (W) < nf)                                                 \
                a1 = FMA(LOAD(a + j + (W)), LOAD(x + j + (W)), a1);           \
            if (j + 2 * (W) < nf)                                             \
                a2 = FMA(LOAD(a + j + 2 * (W)), LOAD(x + j + 2 * (W)), a2);   \
            if (mt) {                                                         \
                V t = FMA(MLOADZ(mt, a + nf), MLOADZ(mt, x + nf), SETZ());    \
                switch (last) {                                               \
                case 0: a0 = ADD(a0, t); break;                               \
                case 1: a1 = ADD(a1, t); break;                               \
                case 2: a2 = ADD(a2, t); break;                               \
                default: a3 = ADD(a3, t); break;                              \
                }                                                             \
            }                                                                 \
            T s = RED(ADD(ADD(a0, a2), ADD(a1, a3)));                         \
            T *yy = y + i * incy;                                             \
            *yy = (acc ? *yy : 0) + s;                                        \
        }                                                                     \
    }
ALONE_ROWS(alone_rows_f32, float, __m512, 16, _mm512_loadu_ps, _mm512_maskz_loadu_ps,
           _mm512_fmadd_ps, _mm512_add_ps, _mm512_setzero_ps, __mmask16, lanes16,
           _mm512_reduce_add_ps)
ALONE_ROWS(alone_rows_f64, double, __m512d, 8, _mm512_loadu_pd, _mm512_maskz_loadu_pd,
           _mm512_fmadd_pd, _mm512_add_pd, _mm512_setzero_pd, __mmask8, lanes8,
           _mm512_reduce_add_pd)
#undef ALONE_ROWS

/* One instance per (full vectors, tail kind): the switch makes both
 * constants.  Rows of W..8W-1 elements always come here, whatever m, so
 * a row's bits never depend on how many rows a call had. */
#define SHORT_CASE(FN, NV)                                                    \
    case 3 * NV: FN(m, n, A, rsa, x, y, incy, acc, NV, 0); return;            \
    case 3 * NV + 1: FN(m, n, A, rsa, x, y, incy, acc, NV, 1); return;        \
    case 3 * NV + 2: FN(m, n, A, rsa, x, y, incy, acc, NV, 2); return;
#define LONG_DISPATCH(FN, W)                                                  \
    if (m >= 1 && n >= (SHORT_MAXV + 1) * (W)) {                              \
        int t_ = n % (W) == 0 ? 0 : (n % (W)) * (int)sizeof(*A) == 8 ? 2 : 1; \
        switch (t_) {                                                         \
        case 0: FN(m, n, A, rsa, x, y, incy, acc, 0, 0); return;              \
        case 1: FN(m, n, A, rsa, x, y, incy, acc, 0, 1); return;              \
        default: FN(m, n, A, rsa, x, y, incy, acc, 0, 2); return;             \
        }                                                                     \
    }
#define SHORT_DISPATCH(FN, W)                                                 \
    if (m >= 1 && n >= (W) && n < (SHORT_MAXV + 1) * (W)) {                   \
        int t_ = n % (W) == 0 ? 0 : (n % (W)) * (int)sizeof(*A) == 8 ? 2 : 1; \
        switch (3 * (int)(n / (W)) + t_) {                                    \
        SHORT_CASE(FN, 1) SHORT_CASE(FN, 2) SHORT_CASE(FN, 3)                 \
        SHORT_CASE(FN, 4) SHORT_CASE(FN, 5) SHORT_CASE(FN, 6)                 \
        SHORT_CASE(FN, 7)                                                     \
        }                                                                     \
    }

static void gemv_rows_f32(int64_t m, int64_t n, const float *A, int64_t rsa,
                          const float *x, float *y, int64_t incy, int acc, int mode)
{
    if (mode == EIN_ROWS_ALONE && n >= (SHORT_MAXV + 1) * 16) {
        alone_rows_f32(m, n, A, rsa, x, y, incy, acc);
        return;
    }
    SHORT_DISPATCH(short_rows_f32, 16)
    LONG_DISPATCH(long_rows_f32, 16)
    if (n >= 1 && n <= DENSE_MAX_F32 && rsa == n && incy == 1) {
        dense_rows_f32(m, (int)n, A, x, y, acc);
        return;
    }
    ROWS8(float, __m512, _mm512_maskz_loadu_ps, _mm512_fmadd_ps, _mm512_setzero_ps,
          __mmask16, lanes16, hsum8_f32, _mm256_storeu_ps)
}

static void gemv_rows_f64(int64_t m, int64_t n, const double *A, int64_t rsa,
                          const double *x, double *y, int64_t incy, int acc, int mode)
{
    if (mode == EIN_ROWS_ALONE && n >= (SHORT_MAXV + 1) * 8) {
        alone_rows_f64(m, n, A, rsa, x, y, incy, acc);
        return;
    }
    SHORT_DISPATCH(short_rows_f64, 8)
    LONG_DISPATCH(long_rows_f64, 8)
    if (n >= 1 && n <= DENSE_MAX_F64 && rsa == n && incy == 1) {
        dense_rows_f64(m, (int)n, A, x, y, acc);
        return;
    }
    ROWS8(double, __m512d, _mm512_maskz_loadu_pd, _mm512_fmadd_pd, _mm512_setzero_pd,
          __mmask8, lanes8, hsum8_f64, _mm512_storeu_pd)
}
#undef ROWS8
#undef SHORT_DISPATCH
#undef LONG_DISPATCH
#undef SHORT_CASE
#undef SHORT_MAXV

/* ---- GEMV of a few vectors at once (x W^T, a small batch) ------------ */

/* gemv_multi's sums of one block, (row q, vector v) at lane 4 v + q of
 * the trees h0 (v < 2) and h1 (v >= 2) side by side, into Y[v, q] at
 * y + v * rsy + q * csy for q < nq, v < nx: (acc ? Y : 0) + sum, the
 * element loop's arithmetic, by vector where Y's layout allows.  A few
 * columns of C (rsy == 1, csy == nx: the block is one run of nq nx
 * elements) take one permute into row order and a masked store; x W^T
 * (csy == 1) one permute and store per vector. */
static const int32_t k_multi_rows[5][16] = {
    {0},
    {0, 1, 2, 3},
    {0, 4, 1, 5, 2, 6, 3, 7},
    {0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11},
    {0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15},
};

static inline void multi_put_f32(__m256 h0, __m256 h1, int nx, int nq, float *y,
                                 int64_t rsy, int64_t csy, int acc)
{
    __m512 z = _mm512_insertf32x8(_mm512_castps256_ps512(h0), h1, 1);
    if (rsy == 1 && csy == nx) {
        __mmask16 mk = lanes16(nq * nx);
        __m512 t = _mm512_permutexvar_ps(_mm512_loadu_si512(k_multi_rows[nx]), z);
        __m512 base = acc ? _mm512_maskz_loadu_ps(mk, y) : _mm512_setzero_ps();
        _mm512_mask_storeu_ps(y, mk, _mm512_add_ps(base, t));
    } else if (csy == 1) {
        __mmask16 mk = lanes16(nq);
        for (int v = 0; v < nx; v++) {
            __m512 t = _mm512_permutexvar_ps(
                _mm512_add_epi32(_mm512_set1_epi32(4 * v),
                                 _mm512_setr_epi32(0, 1, 2, 3, 0, 0, 0, 0, 0, 0, 0, 0,
                                                   0, 0, 0, 0)), z);
            float *yv = y + v * rsy;
            __m512 base = acc ? _mm512_maskz_loadu_ps(mk, yv) : _mm512_setzero_ps();
            _mm512_mask_storeu_ps(yv, mk, _mm512_add_ps(base, t));
        }
    } else {
        _Alignas(64) float s[16];
        _mm512_store_ps(s, z);
        for (int v = 0; v < nx; v++)
            for (int q = 0; q < nq; q++) {
                float *e = y + v * rsy + q * csy;
                *e = acc ? *e + s[4 * v + q] : 0.0f + s[4 * v + q];
            }
    }
}

static inline void multi_put_f64(__m512d h0, __m512d h1, int nx, int nq, double *y,
                                 int64_t rsy, int64_t csy, int acc)
{
    if (rsy == 1 && csy == nx) {
        int len = nq * nx;
        for (int half = 0; half < 2 && 8 * half < len; half++) {
            __mmask8 mk = lanes8(len - 8 * half);
            __m512i idx = _mm512_cvtepi32_epi64(
                _mm256_loadu_si256((const __m256i *)(k_multi_rows[nx] + 8 * half)));
            __m512d t = _mm512_permutex2var_pd(h0, idx, h1);
            double *yh = y + 8 * half;
            __m512d base = acc ? _mm512_maskz_loadu_pd(mk, yh) : _mm512_setzero_pd();
            _mm512_mask_storeu_pd(yh, mk, _mm512_add_pd(base, t));
        }
    } else if (csy == 1) {
        __mmask8 mk = lanes8(nq);
        for (int v = 0; v < nx; v++) {
            __m512i idx = _mm512_add_epi64(_mm512_set1_epi64(4 * v),
                                           _mm512_setr_epi64(0, 1, 2, 3, 0, 0, 0, 0));
            __m512d t = _mm512_permutex2var_pd(h0, idx, h1);
            double *yv = y + v * rsy;
            __m512d base = acc ? _mm512_maskz_loadu_pd(mk, yv) : _mm512_setzero_pd();
            _mm512_mask_storeu_pd(yv, mk, _mm512_add_pd(base, t));
        }
    } else {
        _Alignas(64) double s[16];
        _mm512_store_pd(s, h0);
        _mm512_store_pd(s + 8, h1);
        for (int v = 0; v < nx; v++)
            for (int q = 0; q < nq; q++) {
                double *e = y + v * rsy + q * csy;
                *e = acc ? *e + s[4 * v + q] : 0.0 + s[4 * v + q];
            }
    }
}

/* Four rows of W against NX vectors x: each W vector loaded once for NX
 * FMAs (NX x 4 accumulators), the tail under a mask that zeroes both
 * operands' lanes, then two trees of eight.  An element's arithmetic is
 * that of its own row and vector: full vectors in column order, the
 * tail, the tree.  Rows past n repeat the last and are not stored.  W's
 * rows are fetched GEMV_PF bytes ahead (f64 [2, 300] x [300, 300]^T:
 * 10.4 -> 9.2 us: W's 720 KB at 78 GB/s, where the probe reads L2 at
 * 114-129; two rows-GEMVs, each reading W, took 10.4). */
#define MULTI_PF(p) _mm_prefetch((const char *)(p) + GEMV_PF, _MM_HINT_T0)
#define GEMV_MULTI(NAME, T, V, W, LOAD, MLOADZ, FMA, SETZ, MASK, LANES, HSUM, HV, \
                   PUT)                                                       \
    static inline __attribute__((always_inline)) void NAME##_nx(             \
        const int NX, int64_t n, int64_t k, const T *Wm, int64_t rsw,         \
        const T *X, int64_t rsx, T *Y, int64_t rsy, int64_t csy, int acc)     \
    {                                                                         \
        const MASK mt = (MASK)LANES(k % (W));                                 \
        for (int64_t r = 0; r < n; r += 4) {                                  \
            const T *w[4];                                                    \
            for (int q = 0; q < 4; q++)                                       \
                w[q] = Wm + (r + q < n ? r + q : n - 1) * rsw;                \
            V a[4][4];                                                        \
            for (int q = 0; q < 4; q++)   /* past NX: defined, never stored */ \
                for (int v = NX; v < 4; v++)                                  \
                    a[q][v] = SETZ();                                         \
            EIN_MULTI_SUMS(V, W, NX, a, w, X, rsx, k, LOAD, MLOADZ, mt, FMA,  \
                           SETZ, MULTI_PF);                                   \
            /* Sums of (row q, vector v) at lane q + 4 (v % 2) of tree v/2. */ \
            HV h0 = HSUM(a[0][0], a[1][0], a[2][0], a[3][0],                  \
                         a[0][1], a[1][1], a[2][1], a[3][1]);                 \
            HV h1 = NX > 2 ? HSUM(a[0][2], a[1][2], a[2][2], a[3][2],         \
                                  a[0][3], a[1][3], a[2][3], a[3][3])         \
                           : h0;                                              \
            PUT(h0, h1, NX, n - r < 4 ? (int)(n - r) : 4, Y + r * csy, rsy,   \
                csy, acc);                                                    \
        }                                                                     \
    }                                                                         \
    static void NAME(int nx, int64_t n, int64_t k, const T *Wm, int64_t rsw,  \
                     const T *X, int64_t rsx, T *Y, int64_t rsy, int64_t csy, \
                     int acc)                                                 \
    {                                                                         \
        switch (nx) {                                                         \
        case 1: NAME##_nx(1, n, k, Wm, rsw, X, rsx, Y, rsy, csy, acc); break; \
        case 2: NAME##_nx(2, n, k, Wm, rsw, X, rsx, Y, rsy, csy, acc); break; \
        case 3: NAME##_nx(3, n, k, Wm, rsw, X, rsx, Y, rsy, csy, acc); break; \
        default: NAME##_nx(4, n, k, Wm, rsw, X, rsx, Y, rsy, csy, acc); break; \
        }                                                                     \
    }
GEMV_MULTI(gemv_multi_f32, float, __m512, 16, _mm512_loadu_ps, MLOAD_Z_PS,
           _mm512_fmadd_ps, _mm512_setzero_ps, __mmask16, lanes16, hsum8_f32,
           __m256, multi_put_f32)
GEMV_MULTI(gemv_multi_f64, double, __m512d, 8, _mm512_loadu_pd, MLOAD_Z_PD,
           _mm512_fmadd_pd, _mm512_setzero_pd, __mmask8, lanes8, hsum8_f64,
           __m512d, multi_put_f64)
#undef GEMV_MULTI
#undef MULTI_PF

/* ---- a few columns copied to rows ------------------------------------- */

/* B's columns by packed_col_, W rows at a time, n a constant of each
 * copy of the loop; the rows past the last whole W one by one.  Replaces
 * the frame's element loop for the few-columns route: f32 [13, 183] x
 * [183, 3] spent as long copying B as multiplying. */
#define COLS_TO_ROWS(NAME, SFX, T, V, W, MASK, LOADU, STOREU)                \
    static inline __attribute__((always_inline)) void NAME##_n(              \
        const int n, int64_t k, const T *b, T *dst)                           \
    {                                                                         \
        __m512i idx[8];                                                       \
        MASK hi[8][4];                                                        \
        packed_setup_##SFX(n, idx, hi);                                       \
        int64_t p = 0;                                                        \
        for (; p + (W) <= k; p += (W)) {                                      \
            V in[8];                                                          \
            for (int s = 0; s < n; s++)                                       \
                in[s] = LOADU(b + p * n + s * (W));                           \
            for (int v = 0; v < n; v++)                                       \
                STOREU(dst + v * k + p, packed_col_##SFX(n, v, idx, hi, in)); \
        }                                                                     \
        for (; p < k; p++)                                                    \
            for (int v = 0; v < n; v++)                                       \
                dst[v * k + p] = b[p * n + v];                                \
    }                                                                         \
    static void NAME(int64_t k, int n, const T *b, T *dst)                    \
    {                                                                         \
        switch (n) {                                                          \
        case 1: NAME##_n(1, k, b, dst); break;                                \
        case 2: NAME##_n(2, k, b, dst); break;                                \
        case 3: NAME##_n(3, k, b, dst); break;                                \
        case 4: NAME##_n(4, k, b, dst); break;                                \
        case 5: NAME##_n(5, k, b, dst); break;                                \
        case 6: NAME##_n(6, k, b, dst); break;                                \
        case 7: NAME##_n(7, k, b, dst); break;                                \
        default: NAME##_n(8, k, b, dst); break;                               \
        }                                                                     \
    }
COLS_TO_ROWS(cols_to_rows_f32, f32, float, __m512, 16, __mmask16, _mm512_loadu_ps,
             _mm512_storeu_ps)
COLS_TO_ROWS(cols_to_rows_f64, f64, double, __m512d, 8, __mmask8, _mm512_loadu_pd,
             _mm512_storeu_pd)
#undef COLS_TO_ROWS

/* ---- GEMV, columns contiguous: y chunk in L1, eight columns a pass ----- */

/* Columns contiguous, a small matrix: up to CAP (8 or 16) vectors of y
 * stay in registers while every column streams past them, so y is read
 * and written once rather than once per eight columns.  Each y element
 * still sees y = fma(A[i,j], x[j], y) for j ascending, as in the chunked
 * loop below, so which loop or block summed a row does not change its
 * bits.  NB vectors, the last masked by mt: a constant in each caller,
 * and the loops over them unrolled outright, which keeps v in registers
 * (without the pragmas, GCC 12 kept a copy of v on the stack, stored on
 * every column). */
#define COLS_REG(NAME, CAP, T, V, W, LOAD, MLOAD, FMA, SET1, SETZ, ADD,      \
                 STORE, MSTORE, MASK)                                         \
    static inline __attribute__((always_inline)) void NAME(                   \
        int64_t n, const T *A, int64_t csa, const T *x, int64_t incx, T *y,   \
        int acc, const int NB, MASK mt)                                       \
    {                                                                         \
        V v[CAP];                                                             \
        _Pragma("GCC unroll 16")                                              \
        for (int k = 0; k < NB; k++)                                          \
            v[k] = !acc ? SETZ()                                              \
                   : k < NB - 1 ? LOAD(y + k * W) : MLOAD(mt, y + k * W);     \
        for (int64_t j = 0; j < n; j++, A += csa) {                           \
            V xj = SET1(x[j * incx]);                                         \
            _Pragma("GCC unroll 16")                                          \
            for (int k = 0; k < NB - 1; k++)                                  \
                v[k] = FMA(LOAD(A + k * W), xj, v[k]);                        \
            v[NB - 1] = FMA(MLOAD(mt, A + (NB - 1) * W), xj, v[NB - 1]);      \
        }                                                                     \
        _Pragma("GCC unroll 16")                                              \
        for (int k = 0; k < NB - 1; k++)   /* + 0: -0 sums to +0 */           \
            STORE(y + k * W, ADD(v[k], SETZ()));                              \
        MSTORE(y + (NB - 1) * W, mt, ADD(v[NB - 1], SETZ()));                 \
    }
#define COLS_REG_F32(NAME, CAP)                                               \
    COLS_REG(NAME, CAP, float, __m512, 16, _mm512_loadu_ps,                   \
             _mm512_maskz_loadu_ps, _mm512_fmadd_ps, _mm512_set1_ps,          \
             _mm512_setzero_ps, _mm512_add_ps, _mm512_storeu_ps,              \
             _mm512_mask_storeu_ps, __mmask16)
#define COLS_REG_F64(NAME, CAP)                                               \
    COLS_REG(NAME, CAP, double, __m512d, 8, _mm512_loadu_pd,                  \
             _mm512_maskz_loadu_pd, _mm512_fmadd_pd, _mm512_set1_pd,          \
             _mm512_setzero_pd, _mm512_add_pd, _mm512_storeu_pd,              \
             _mm512_mask_storeu_pd, __mmask8)
COLS_REG_F32(cols_reg8_f32, 8)
COLS_REG_F32(cols_reg16_f32, 16)
COLS_REG_F64(cols_reg8_f64, 8)
COLS_REG_F64(cols_reg16_f64, 16)
#undef COLS_REG_F32
#undef COLS_REG_F64
#undef COLS_REG

/* Blocks of vectors of rows, then the rest, while what this thread
 * reads of the matrix fits in L2 (span <= COLS_REG_BYTES).  Measured against the chunked loop, einsum-bench
 * "ij,i->j" one thread: f32 64^2 146 -> 108 ns, 256^2 2.24 -> 1.72 us,
 * 512^2 8.8 -> 6.6 us; f64 128^2 1.16 -> 0.87 us.  Beyond L2 each block of
 * rows touches 512 bytes per column, and the chunked loop's long column
 * runs suit the prefetchers better (f64 512^2 timed the same either way). */
#define COLS_REG_BYTES (1024 * 1024)
/* Each block count its own function, called through a table, so that
 * each is compiled (and its registers allocated) on its own. */
#define COLS_NB(NAME, FN, T, MASK, NB)                                        \
    static __attribute__((noinline)) void NAME##_##NB(                        \
        int64_t n, const T *A, int64_t csa, const T *x, int64_t incx, T *y,   \
        int acc, MASK mt)                                                     \
    {                                                                         \
        FN(n, A, csa, x, incx, y, acc, NB, mt);                               \
    }
#define COLS_NB_ALL(NAME, FN8, FN16, T, MASK)                                 \
    COLS_NB(NAME, FN8, T, MASK, 1) COLS_NB(NAME, FN8, T, MASK, 2)             \
    COLS_NB(NAME, FN8, T, MASK, 3) COLS_NB(NAME, FN8, T, MASK, 4)             \
    COLS_NB(NAME, FN8, T, MASK, 5) COLS_NB(NAME, FN8, T, MASK, 6)             \
    COLS_NB(NAME, FN8, T, MASK, 7) COLS_NB(NAME, FN8, T, MASK, 8)             \
    COLS_NB(NAME, FN16, T, MASK, 16)                                          \
    static void (*const NAME[17])(int64_t, const T *, int64_t, const T *,     \
                                  int64_t, T *, int, MASK) = {                \
        [1] = NAME##_1, [2] = NAME##_2, [3] = NAME##_3, [4] = NAME##_4,       \
        [5] = NAME##_5, [6] = NAME##_6, [7] = NAME##_7, [8] = NAME##_8,       \
        [16] = NAME##_16};
COLS_NB_ALL(cols_nb_f32, cols_reg8_f32, cols_reg16_f32, float, __mmask16)
COLS_NB_ALL(cols_nb_f64, cols_reg8_f64, cols_reg16_f64, double, __mmask8)
#undef COLS_NB_ALL
#undef COLS_NB
/* Columns contiguous, y longer than a block of sixteen vectors but at
 * most COLS_AXPY_BYTES, the matrix in L2: one column at a time, y in L1
 * (y = fma(A[i,j], x[j], y), + 0 after the last column, the chain of
 * COLS_REG).  Blocks of sixteen vectors read every column in pieces (an
 * f64 256-row column as two 1 KiB halves, one per pass), and any loop
 * that reads several columns at once keeps several streams open; either
 * way L2 fed this core about 110 GB/s, where one column after another,
 * read straight through, gets 145-170.  Measured on AMD Zen 5, one
 * thread, in-process medians of 9 against the block loop and cblas
 * (SkylakeX core): f64 256 x 256 108 -> 163 GB/s (OpenBLAS 133), 512 x
 * 128 109 -> 146 (135), 2048 x 32 113 -> 140 (132); f32 1024 x 256 100
 * -> 116 (99), 2048 x 64 108 -> 152 (94).  A y of 32 KiB no longer shares
 * L1 with the columns: f64 4096 x 16 106 -> 98.  The chunked loop below
 * adds its columns past the last group of eight with the same step. */
#define COLS_AXPY_BYTES (16 * 1024)
#define COLS_AXPY(NAME, T, V, W, LOAD, MLOAD, FMA, SET1, SETZ, ADD, STORE,     \
                  MSTORE, MASK, LANES)                                        \
    static inline __attribute__((always_inline)) void NAME##_col(             \
        int64_t m, int64_t iv, MASK mk, const T *a, V xj, T *y, const int last) \
    {                                                                         \
        int64_t i = 0;                                                        \
        for (; i + 4 * (W) <= iv; i += 4 * (W)) {                             \
            V v[4];                                                           \
            for (int l = 0; l < 4; l++) {                                     \
                v[l] = FMA(LOAD(a + i + l * (W)), xj, LOAD(y + i + l * (W))); \
                STORE(y + i + l * (W), last ? ADD(v[l], SETZ()) : v[l]);      \
            }                                                                 \
        }                                                                     \
        for (; i < iv; i += (W)) {                                            \
            V v = FMA(LOAD(a + i), xj, LOAD(y + i));                          \
            STORE(y + i, last ? ADD(v, SETZ()) : v);                          \
        }                                                                     \
        if (iv < m) {                                                         \
            V v = FMA(MLOAD(mk, a + iv), xj, MLOAD(mk, y + iv));              \
            MSTORE(y + iv, mk, last ? ADD(v, SETZ()) : v);                    \
        }                                                                     \
    }                                                                         \
    static void NAME(int64_t m, int64_t n, const T *A, int64_t csa,           \
                     const T *x, int64_t incx, T *restrict y, int acc)        \
    {                                                                         \
        const int64_t iv = m / (W) * (W);                                     \
        const MASK mk = LANES(m - iv);                                        \
        if (!acc)                                                             \
            for (int64_t i = 0; i < m; i++)                                   \
                y[i] = 0;                                                     \
        for (int64_t j = 0; j + 1 < n; j++)                                   \
            NAME##_col(m, iv, mk, A + j * csa, SET1(x[j * incx]), y, 0);      \
        NAME##_col(m, iv, mk, A + (n - 1) * csa, SET1(x[(n - 1) * incx]), y, 1); \
    }
COLS_AXPY(cols_axpy_f32, float, __m512, 16, _mm512_loadu_ps, _mm512_maskz_loadu_ps,
          _mm512_fmadd_ps, _mm512_set1_ps, _mm512_setzero_ps, _mm512_add_ps,
          _mm512_storeu_ps, _mm512_mask_storeu_ps, __mmask16, lanes16)
COLS_AXPY(cols_axpy_f64, double, __m512d, 8, _mm512_loadu_pd, _mm512_maskz_loadu_pd,
          _mm512_fmadd_pd, _mm512_set1_pd, _mm512_setzero_pd, _mm512_add_pd,
          _mm512_storeu_pd, _mm512_mask_storeu_pd, __mmask8, lanes8)
#undef COLS_AXPY

/* Blocks of sixteen vectors, then one of eight, then the rest (each
 * element's chain is the same whatever block it falls in).  Sixteen
 * accumulators give each FMA chain twice the time of eight before its
 * next step; against blocks of eight, einsum-bench one thread, quieter
 * of two alternating rounds: f32 128^2 590 -> 479 ns, 256^2 2.42 -> 1.71
 * us, f64 128^2 1.24 -> 0.89 us; 64^2 and 512^2 and up the same. */
#define COLS_REG_RUN(TAB, AXPY, W, LANES_)                                    \
    if (span <= COLS_REG_BYTES) {                                             \
        if (m > 16 * (W) && m * (int64_t)sizeof(*y) <= COLS_AXPY_BYTES &&    \
            n >= 1) {                                                         \
            AXPY(m, n, A, csa, x, incx, y, acc);                              \
            return;                                                           \
        }                                                                     \
        int64_t i = 0;                                                        \
        for (; i + 16 * (W) <= m; i += 16 * (W))                              \
            TAB[16](n, A + i, csa, x, incx, y + i, acc, LANES_(W));           \
        if (i + 8 * (W) <= m) {                                               \
            TAB[8](n, A + i, csa, x, incx, y + i, acc, LANES_(W));            \
            i += 8 * (W);                                                     \
        }                                                                     \
        if (i < m) {                                                          \
            int nb = (int)((m - i + (W) - 1) / (W));                          \
            TAB[nb](n, A + i, csa, x, incx, y + i, acc,                       \
                    LANES_(m - i - (nb - 1) * (W)));                          \
        }                                                                     \
        return;                                                               \
    }

/* Every y element sees y = fma(A[i,j], x[j], y) for j ascending, then
 * + 0 in the last pass (an fma chain leaves -0 where every product rounds
 * to -0; numpy's sum from 0 gives +0), whether its vector is full or
 * masked, so row splits keep bits.  Full vectors go unmasked and the
 * masked tail apart: with every load masked, f32 4096^2 took 1.89-2.09 ms
 * a call on one thread, 1.75-1.89 unmasked (cblas_sgemv 1.84-2.01),
 * alternating in one process.  Full vectors go COLS_U at a time, then
 * one at a time; each element's chain is the same in either loop. */
#define COLS_CHUNKED(NAME, TAB, AXPY, T, V, W, LOAD, MLOAD, FMA, SET1, SETZ, \
                     ADD, STORE, MSTORE, MASK, LANES)                          \
    static void NAME(int64_t m, int64_t n, const T *A, int64_t csa,           \
                     const T *x, int64_t incx, T *restrict y, int acc,        \
                     int64_t span)                                            \
    {                                                                         \
        COLS_REG_RUN(TAB, AXPY, W, LANES)                                     \
        const int64_t chunk = COLS_CHUNK_BYTES / sizeof(T);                   \
        for (int64_t i0 = 0; i0 < m; i0 += chunk) {                           \
            const int64_t ie = m - i0 < chunk ? m - i0 : chunk;               \
            const int64_t iv = ie / (W) * (W);                                \
            const MASK mk = LANES(ie - iv);                                   \
            T *yc = y + i0;                                                   \
            const T *Ac = A + i0;                                             \
            if (!acc)                                                         \
                for (int64_t i = 0; i < ie; i++)                              \
                    yc[i] = 0;                                                \
            int64_t j = 0;                                                    \
            for (; j + 8 <= n; j += 8) {                                      \
                const T *a = Ac + j * csa;                                    \
                const int last = j + 8 == n;                                  \
                V xs[8];                                                      \
                for (int q = 0; q < 8; q++)                                   \
                    xs[q] = SET1(x[(j + q) * incx]);                          \
                int64_t i = 0;                                                \
                for (; i + COLS_U * (W) <= iv; i += COLS_U * (W)) {           \
                    V v[COLS_U];                                              \
                    _Pragma("GCC unroll 8")                                   \
                    for (int q = 0; q < 8; q++)                               \
                        _Pragma("GCC unroll 8")                               \
                        for (int l = 0; l < COLS_U; l++)                      \
                            _mm_prefetch((const char *)(a + q * csa + i + l * (W)) + \
                                         COLS_PF, _MM_HINT_T0);               \
                    _Pragma("GCC unroll 8")                                   \
                    for (int l = 0; l < COLS_U; l++)                          \
                        v[l] = LOAD(yc + i + l * (W));                        \
                    _Pragma("GCC unroll 8")                                   \
                    for (int q = 0; q < 8; q++)                               \
                        _Pragma("GCC unroll 8")                               \
                        for (int l = 0; l < COLS_U; l++)                      \
                            v[l] = FMA(LOAD(a + q * csa + i + l * (W)), xs[q], v[l]); \
                    _Pragma("GCC unroll 8")                                   \
                    for (int l = 0; l < COLS_U; l++)                          \
                        STORE(yc + i + l * (W), last ? ADD(v[l], SETZ()) : v[l]); \
                }                                                             \
                for (; i < iv; i += (W)) {                                    \
                    for (int q = 0; q < 8; q++)                               \
                        _mm_prefetch((const char *)(a + q * csa + i) + COLS_PF, \
                                     _MM_HINT_T0);                            \
                    V v = LOAD(yc + i);                                       \
                    for (int q = 0; q < 8; q++)                               \
                        v = FMA(LOAD(a + q * csa + i), xs[q], v);             \
                    STORE(yc + i, last ? ADD(v, SETZ()) : v);                 \
                }                                                             \
                if (iv < ie) {                                                \
                    V v = MLOAD(mk, yc + iv);                                 \
                    for (int q = 0; q < 8; q++)                               \
                        v = FMA(MLOAD(mk, a + q * csa + iv), xs[q], v);       \
                    MSTORE(yc + iv, mk, last ? ADD(v, SETZ()) : v);           \
                }                                                             \
            }                                                                 \
            for (; j < n; j++) {                                              \
                const T *a = Ac + j * csa;                                    \
                const int last = j + 1 == n;                                  \
                AXPY##_col(ie, iv, mk, a, SET1(x[j * incx]), yc, last);       \
            }                                                                 \
        }                                                                     \
    }
COLS_CHUNKED(gemv_cols_f32, cols_nb_f32, cols_axpy_f32, float, __m512, 16, _mm512_loadu_ps,
             _mm512_maskz_loadu_ps, _mm512_fmadd_ps, _mm512_set1_ps,
             _mm512_setzero_ps, _mm512_add_ps, _mm512_storeu_ps,
             _mm512_mask_storeu_ps, __mmask16, lanes16)
COLS_CHUNKED(gemv_cols_f64, cols_nb_f64, cols_axpy_f64, double, __m512d, 8, _mm512_loadu_pd,
             _mm512_maskz_loadu_pd, _mm512_fmadd_pd, _mm512_set1_pd,
             _mm512_setzero_pd, _mm512_add_pd, _mm512_storeu_pd,
             _mm512_mask_storeu_pd, __mmask8, lanes8)
#undef COLS_CHUNKED
#undef COLS_REG_RUN
#undef COLS_CASE
#undef COLS_REG_BYTES
#undef COLS_AXPY_BYTES

/* ---- dots --------------------------------------------------------------- */

/* Dots.  Every path ends with a +0 sum where all products round to -0,
 * as numpy's sum from 0 does.  TINY_DOT: a dot of a few elements (the
 * call-overhead case) was mostly the latency of reducing four zmm
 * accumulators; one xmm and two adds give the same lane sums in the same
 * order ((0 + 2) + (1 + 3)); a prebuilt 4-element f32 dot: 16.2 -> 14.6
 * ns (alternating runs). */
EIN_DEFINE_DOT_STRIDED(dot_strided_f32, float, __builtin_fmaf)
EIN_DEFINE_DOT_STRIDED(dot_strided_f64, double, __builtin_fma)

static float dot_f32(int64_t n, const float *x, int64_t incx, const float *y,
                     int64_t incy)
{
    if (incx != 1 || incy != 1)
        return dot_strided_f32(n, x, incx, y, incy);
    if (n <= 4) {   /* tiny: one xmm, a short reduction (see TINY_DOT) */
        __mmask8 mk = (__mmask8)((1u << n) - 1);
        __m128 p = _mm_fmadd_ps(_mm_maskz_loadu_ps(mk, x), _mm_maskz_loadu_ps(mk, y),
                                _mm_setzero_ps());
        p = _mm_add_ps(p, _mm_movehl_ps(p, p));
        return _mm_cvtss_f32(_mm_add_ss(p, _mm_movehdup_ps(p))) + 0.0f;
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
                                              _mm512_add_ps(a2, a3))) + 0.0f;
}

static double dot_f64(int64_t n, const double *x, int64_t incx,
                      const double *y, int64_t incy)
{
    if (incx != 1 || incy != 1)
        return dot_strided_f64(n, x, incx, y, incy);
    if (n <= 2) {   /* tiny: one xmm (see TINY_DOT) */
        __mmask8 mk = (__mmask8)((1u << n) - 1);
        __m128d p = _mm_fmadd_pd(_mm_maskz_loadu_pd(mk, x), _mm_maskz_loadu_pd(mk, y),
                                 _mm_setzero_pd());
        return _mm_cvtsd_f64(_mm_add_sd(p, _mm_unpackhi_pd(p, p))) + 0.0;
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
                                              _mm512_add_pd(a2, a3))) + 0.0;
}

/* ---- transposed dots side by side ---------------------------------------- */

/* EIN_DOTS_T (transpose_avx.h): eight dots at once, f32 in ymm and f64 in
 * zmm vectors.  ij,ji->i 1000^2, one thread, against one strided dot
 * each: f32 0.76 -> 0.31 ms, f64 1.22 -> 0.66 ms (numpy.einsum 0.73 and
 * 0.95). */
#define MLOAD_PS(p, m) _mm256_maskz_loadu_ps(m, p)
#define MLOAD_PD(p, m) _mm512_maskz_loadu_pd(m, p)
EIN_DOTS_T(dots_t_f32, float, __m256, 8, _mm256_loadu_ps, __mmask8, lanes8, MLOAD_PS,
           _mm256_fmadd_ps, _mm256_add_ps, _mm256_setzero_ps, _mm256_store_ps, tr8_ps)
EIN_DOTS_T(dots_t_f64, double, __m512d, 8, _mm512_loadu_pd, __mmask8, lanes8, MLOAD_PD,
           _mm512_fmadd_pd, _mm512_add_pd, _mm512_setzero_pd, _mm512_store_pd, tr8_pd)
#undef MLOAD_PS
#undef MLOAD_PD

/* ---- table -------------------------------------------------------------- */

#define TAB_NAME "avx512"
#define TAB_VAR ein_ktable_avx512_tab
#define TAB_MR MR
#define TAB_NR_F32 NR_F32
#define TAB_NR_F64 NR_F64
#define TAB_SMALL_F32 ein_gemm_small_f32_avx512
#define TAB_SMALL_F64 ein_gemm_small_f64_avx512
#define TAB_GEMV_MULTI_F32 gemv_multi_f32
#define TAB_GEMV_MULTI_F64 gemv_multi_f64
#define TAB_COLS_TO_ROWS_F32 cols_to_rows_f32
#define TAB_COLS_TO_ROWS_F64 cols_to_rows_f64
#define TAB_SMALL_BATCH_F32 ein_gemm_small_batch_f32_avx512
#define TAB_SMALL_BATCH_F64 ein_gemm_small_batch_f64_avx512
#define TAB_ROWS_BATCH_F32 gemv_rows_batch_f32
#define TAB_ROWS_BATCH_F64 gemv_rows_batch_f64
#define TAB_DOTS_T_F32 dots_t_f32
#define TAB_DOTS_T_F64 dots_t_f64
#define TAB_PACK_A_F32 pack_a_f32
#define TAB_PACK_A_F64 pack_a_f64
#define TAB_PACK_B_F32 pack_b_f32
#define TAB_PACK_B_F64 pack_b_f64
#define TAB_PACK_BT_F32 pack_b_t_f32
#define TAB_PACK_BT_F64 pack_b_t_f64
#define TAB_UKR_EDGE_F32 ukr_edge_f32
#define TAB_UKR_EDGE_F64 ukr_edge_f64
#include "kernels/table_t.h"
