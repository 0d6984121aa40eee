/* gemm_small_avx512.c — the unpacked small-GEMM path on zmm registers:
 * 12 x 32 (f32) and 12 x 16 (f64) tiles read straight from A and B, for
 * problems below the crossover where the frame's packing costs as much
 * as the product.  The AVX-512 table's gemm wrappers try it first. */
#include <immintrin.h>
#include <stdint.h>

#include "kernels/frame.h"
#include "kernels/gemm_small.h"
#include "kernels/transpose_avx.h"

/* 12 rows x 2 zmm = 24 accumulators, 2 for B, 1 for the broadcast. */
#define SMALL_MR 12
/* Crossover in m*n*k.  Measured on the 2-vCPU AVX-512 VM (medians, f32
 * and f64 alike): unpacked beats the frame on one thread at every cube up
 * to 160 (64: 2.3 vs 4.8 us f32; 128: 18.6 vs 28-31 us f32, 36 vs 51-60
 * us f64) and on thin-k shapes up to 1024 x 1024 x 8; the frame on two
 * threads (from 1 MFLOP) catches up near 144^3 for f64 and 160^3 for f32,
 * and wins on f64 with k = 8 above 2048 x 256.  The choice must not
 * depend on the thread count (bits), so one bound for both. */
#ifndef SMALL_MAX_MNK
#define SMALL_MAX_MNK (144.0 * 144.0 * 144.0)
#endif

static inline __mmask16 small_lanes16(int r)
{
    return (__mmask16)(0xffffu >> (16 - r));
}

static inline __mmask8 small_lanes8(int r)
{
    return (__mmask8)(0xffu >> (8 - r));
}

#define T float
#define SFX f32_avx512
#define SMALL_TR_W 8
#define SMALL_PUT_T put_t8_ps
#define SMALL_PUT_T4 put_t4_ps
#define V __m512
#define W 16
#define VMASK __mmask16
#define VZERO() _mm512_setzero_ps()
#define VLOAD(p) _mm512_loadu_ps(p)
#define VLOADM(mk, p) _mm512_maskz_loadu_ps(mk, p)
#define VBCAST(p) _mm512_set1_ps(*(p))
#define VFMA(a, b, c) _mm512_fmadd_ps(a, b, c)
#define VADD(a, b) _mm512_add_ps(a, b)
#define VSTORE(p, v) _mm512_storeu_ps(p, v)
#define VSTOREM(p, mk, v) _mm512_mask_storeu_ps(p, mk, v)
#define VLANES(r) small_lanes16(r)
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

#define T double
#define SFX f64_avx512
#define SMALL_TR_W 4
#define SMALL_PUT_T put_t4_pd
#define V __m512d
#define W 8
#define VMASK __mmask8
#define VZERO() _mm512_setzero_pd()
#define VLOAD(p) _mm512_loadu_pd(p)
#define VLOADM(mk, p) _mm512_maskz_loadu_pd(mk, p)
#define VBCAST(p) _mm512_set1_pd(*(p))
#define VFMA(a, b, c) _mm512_fmadd_pd(a, b, c)
#define VADD(a, b) _mm512_add_pd(a, b)
#define VSTORE(p, v) _mm512_storeu_pd(p, v)
#define VSTOREM(p, mk, v) _mm512_mask_storeu_pd(p, mk, v)
#define VLANES(r) small_lanes8(r)
#include "kernels/gemm_small_t.h"
