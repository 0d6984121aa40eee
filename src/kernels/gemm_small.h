/* gemm_small.h — the unpacked small-GEMM entry points (gemm_small_t.h,
 * instantiated per ISA), which the ISA tables' gemm wrappers try before
 * the packing frame.  Same arguments as ein_gemm_f32_fn (the path keeps
 * no state; large narrow products share their row tiles between up to
 * nthreads threads, with the same bits on any count).  Returns 1 when it
 * computed C, 0 when the shape or layout is the frame's to do (nothing
 * written then).  The _batch entries take nb products at once, operand b
 * at A + b * sa, B + b * sb, C + b * sc, each computed exactly as its
 * own call would compute it, on one thread. */
#ifndef EIN_KERNELS_GEMM_SMALL_H
#define EIN_KERNELS_GEMM_SMALL_H

#include <stdint.h>

int ein_gemm_small_f32_avx512(int64_t m, int64_t n, int64_t k, const float *A,
                              int64_t rsa, int64_t csa, const float *B,
                              int64_t rsb, int64_t csb, float *C, int64_t rsc,
                              int64_t csc, int acc, int nthreads);
int ein_gemm_small_f64_avx512(int64_t m, int64_t n, int64_t k,
                              const double *A, int64_t rsa, int64_t csa,
                              const double *B, int64_t rsb, int64_t csb,
                              double *C, int64_t rsc, int64_t csc, int acc,
                              int nthreads);
int ein_gemm_small_f32_avx2(int64_t m, int64_t n, int64_t k, const float *A,
                            int64_t rsa, int64_t csa, const float *B,
                            int64_t rsb, int64_t csb, float *C, int64_t rsc,
                            int64_t csc, int acc, int nthreads);
int ein_gemm_small_f64_avx2(int64_t m, int64_t n, int64_t k, const double *A,
                            int64_t rsa, int64_t csa, const double *B,
                            int64_t rsb, int64_t csb, double *C, int64_t rsc,
                            int64_t csc, int acc, int nthreads);

#define EIN_SMALL_BATCH_DECL(SFX, T)                                          \
    int ein_gemm_small_batch_##SFX(int64_t nb, int64_t sa, int64_t sb,         \
                                   int64_t sc, int64_t m, int64_t n, int64_t k,\
                                   const T *A, int64_t rsa, int64_t csa,       \
                                   const T *B, int64_t rsb, int64_t csb, T *C, \
                                   int64_t rsc, int64_t csc, int acc);
EIN_SMALL_BATCH_DECL(f32_avx512, float)
EIN_SMALL_BATCH_DECL(f64_avx512, double)
EIN_SMALL_BATCH_DECL(f32_avx2, float)
EIN_SMALL_BATCH_DECL(f64_avx2, double)
#undef EIN_SMALL_BATCH_DECL

#endif
