/* gemm_frame.c — the ISA-independent part of GEMM and GEMV: cache
 * blocking, packing through arbitrary strides, edge tiles, degenerate
 * shapes and the split over threads.  ISA files supply the inner loops. */
#include <stdint.h>
#include <stdlib.h>

#include "kernels/frame.h"

/* Largest register tile any ISA file uses, in elements (mr * nr). */
#define EIN_TILE_MAX 512
/* Work below which GEMM stays on one thread, in flops (measured on a
 * 2-core AVX-512 machine: a pool hand-off costs a few microseconds). */
#define EIN_GEMM_MT_FLOPS 4.0e6
/* GEMV: matrix elements below which one thread streams faster. */
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
