/* gemm_small_avx2.c — the unpacked small-GEMM path on ymm registers:
 * 6 x 16 (f32) and 6 x 8 (f64) tiles read straight from A and B, for
 * problems below the crossover where the frame's packing costs as much
 * as the product.  The AVX2 table's gemm wrappers try it first. */
#include <immintrin.h>
#include <stdint.h>

#include "kernels/frame.h"
#include "kernels/gemm_small.h"
#include "kernels/transpose_avx.h"

/* 6 rows x 2 ymm = 12 accumulators, 2 for B, 1 for the broadcast. */
#define SMALL_MR 6
/* Sixteen ymm registers: two rows of four vectors at most. */
#define SMALL_WIDE_MR 2
/* Crossover in m*n*k, f32: the AVX-512 file's bound.  Forced onto the AVX2
 * table on the same VM, unpacked still beats the frame at every cube up
 * to 160 (f32 32: 0.61 vs 1.2 us; 128: 37 vs 45 us; f64 128: 72 vs 87 us),
 * so the two-thread frame, not this table's packing, sets the bound. */
#ifndef SMALL_MAX_MNK_F32
#define SMALL_MAX_MNK_F32 (144.0 * 144.0 * 144.0)
#endif
/* f64 to 100^3: on AMD Zen 3 (this table's own machine, no AVX-512),
 * one thread, einsum-bench alternating two builds, the frame beat this
 * path at f64 112^3 (65-80 vs 96-97 us), 128^3 (99-125 vs 139-146 us,
 * 0.87x -> 1.00x OpenBLAS) and 144^3 (156-164 vs 197-206 us); 100^3
 * was even (55-66 us either way), f32 128^3 too. */
#ifndef SMALL_MAX_MNK_F64
#define SMALL_MAX_MNK_F64 (100.0 * 100.0 * 100.0)
#endif

/* maskload/maskstore masks: the r-lane prefix starts at tab + W - r. */
static const int32_t small_mask32[16] = {-1, -1, -1, -1, -1, -1, -1, -1,
                                         0, 0, 0, 0, 0, 0, 0, 0};
static const int64_t small_mask64[8] = {-1, -1, -1, -1, 0, 0, 0, 0};

static inline __m256i small_lanes32(int r)
{
    return _mm256_loadu_si256((const __m256i *)(small_mask32 + 8 - r));
}

static inline __m256i small_lanes64(int r)
{
    return _mm256_loadu_si256((const __m256i *)(small_mask64 + 4 - r));
}

#define T float
#define SMALL_MAX_MNK SMALL_MAX_MNK_F32
#define SFX f32_avx2
#define SMALL_TR_W 8
#define SMALL_PUT_T put_t8_ps
#define SMALL_PUT_T4 put_t4_ps
#define V __m256
#define W 8
#define VMASK __m256i
#define VZERO() _mm256_setzero_ps()
#define VLOAD(p) _mm256_loadu_ps(p)
#define VLOADM(mk, p) _mm256_maskload_ps(p, mk)
#define VBCAST(p) _mm256_broadcast_ss(p)
#define VFMA(a, b, c) _mm256_fmadd_ps(a, b, c)
#define VADD(a, b) _mm256_add_ps(a, b)
#define VSTORE(p, v) _mm256_storeu_ps(p, v)
#define VSTOREM(p, mk, v) _mm256_maskstore_ps(p, mk, v)
#define VLANES(r) small_lanes32(r)
#include "kernels/gemm_small_t.h"
#undef T
#undef SFX
#undef V
#undef W
#undef VMASK
#undef VZERO
#undef VLOAD
#undef VLOADM
#undef VBCAST
#undef VFMA
#undef VADD
#undef VSTORE
#undef VSTOREM
#undef VLANES
#undef SMALL_TR_W
#undef SMALL_PUT_T
#undef SMALL_PUT_T4
#undef SMALL_MAX_MNK

#define T double
#define SMALL_MAX_MNK SMALL_MAX_MNK_F64
#define SFX f64_avx2
#define SMALL_TR_W 4
#define SMALL_PUT_T put_t4_pd
#define V __m256d
#define W 4
#define VMASK __m256i
#define VZERO() _mm256_setzero_pd()
#define VLOAD(p) _mm256_loadu_pd(p)
#define VLOADM(mk, p) _mm256_maskload_pd(p, mk)
#define VBCAST(p) _mm256_broadcast_sd(p)
#define VFMA(a, b, c) _mm256_fmadd_pd(a, b, c)
#define VADD(a, b) _mm256_add_pd(a, b)
#define VSTORE(p, v) _mm256_storeu_pd(p, v)
#define VSTOREM(p, mk, v) _mm256_maskstore_pd(p, mk, v)
#define VLANES(r) small_lanes64(r)
#include "kernels/gemm_small_t.h"
