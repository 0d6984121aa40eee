/* gemm_frame.c — the ISA-independent part of GEMM and GEMV: cache
 * blocking, packing through arbitrary strides, edge tiles, degenerate
 * shapes and the split over threads.  ISA files supply the inner loops. */
#include <stdint.h>
#include <stdlib.h>

#include "kernels/frame.h"

/* Largest register tile any ISA file uses, in elements (mr * nr). */
#define EIN_TILE_MAX 512
/* Work below which GEMM stays on one thread, in flops.  Measured on a
 * 2-vCPU AVX-512 VM with the worker spinning: 2 threads win from n ~ 128
 * (4 MFLOP, ~25 us); a hand-off to a sleeping worker costs ~50 us. */
#define EIN_GEMM_MT_FLOPS 4.0e6
/* GEMV: matrix elements below which one thread streams faster (1 MiB of
 * f32: the matrix then comes from L2/L3, not memory). */
#define EIN_GEMV_MT_ELEMS 262144.0
/* GEMV rows are split between threads in multiples of this, a multiple
 * of every vector width, so each row's arithmetic is the same whatever
 * the split. */
#define EIN_GEMV_ROWS_UNIT 64
#define EIN_ABS(v) ((v) < 0 ? -(v) : (v))

#define T float
#define SFX f32
#define ARCH ein_arch_f32
#include "kernels/gemm_frame_t.h"
#undef T
#undef SFX
#undef ARCH

#define T double
#define SFX f64
#define ARCH ein_arch_f64
#include "kernels/gemm_frame_t.h"
#undef T
#undef SFX
#undef ARCH
