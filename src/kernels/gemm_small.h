/* gemm_small.h — the unpacked small-GEMM entry points (gemm_small_t.h,
 * instantiated per ISA), which the ISA tables' gemm wrappers try before
 * the packing frame.  Same arguments as ein_gemm_f32_fn less nthreads
 * (the path is single-threaded and keeps no state).  Returns 1 when it
 * computed C, 0 when the shape or layout is the frame's to do (nothing
 * written then). */
#ifndef EIN_KERNELS_GEMM_SMALL_H
#define EIN_KERNELS_GEMM_SMALL_H

#include <stdint.h>

int ein_gemm_small_f32_avx512(int64_t m, int64_t n, int64_t k, const float *A,
                              int64_t rsa, int64_t csa, const float *B,
                              int64_t rsb, int64_t csb, float *C, int64_t rsc,
                              int64_t csc, int acc);
int ein_gemm_small_f64_avx512(int64_t m, int64_t n, int64_t k,
                              const double *A, int64_t rsa, int64_t csa,
                              const double *B, int64_t rsb, int64_t csb,
                              double *C, int64_t rsc, int64_t csc, int acc);
int ein_gemm_small_f32_avx2(int64_t m, int64_t n, int64_t k, const float *A,
                            int64_t rsa, int64_t csa, const float *B,
                            int64_t rsb, int64_t csb, float *C, int64_t rsc,
                            int64_t csc, int acc);
int ein_gemm_small_f64_avx2(int64_t m, int64_t n, int64_t k, const double *A,
                            int64_t rsa, int64_t csa, const double *B,
                            int64_t rsb, int64_t csb, double *C, int64_t rsc,
                            int64_t csc, int acc);

#endif
