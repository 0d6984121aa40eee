/* probe_avx2.c — the AVX2 half of the machine probe: FMA throughput on ymm
 * registers and a streaming read loop.  Only this file is compiled with
 * -mavx2 -mfma; probe.c calls it after __builtin_cpu_supports agrees. */
#include <immintrin.h>

#include "bench.h"

#define FMA12(fma)                                                          \
    a0 = fma(a0, m, c); a1 = fma(a1, m, c); a2 = fma(a2, m, c);             \
    a3 = fma(a3, m, c); a4 = fma(a4, m, c); a5 = fma(a5, m, c);             \
    a6 = fma(a6, m, c); a7 = fma(a7, m, c); a8 = fma(a8, m, c);             \
    a9 = fma(a9, m, c); a10 = fma(a10, m, c); a11 = fma(a11, m, c)

static float hsum_ps(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
    return _mm_cvtss_f32(s);
}

double bn_fma256_f32(long iters)
{
    __m256 m = _mm256_set1_ps(0.999f), c = _mm256_set1_ps(1e-3f);
    /* Distinct starting values: identical chains would be merged by the
     * compiler (same recurrence, same start), undercounting the work. */
    __m256 a0 = _mm256_set1_ps(1.00f), a1 = _mm256_set1_ps(1.01f), a2 = _mm256_set1_ps(1.02f),
           a3 = _mm256_set1_ps(1.03f), a4 = _mm256_set1_ps(1.04f), a5 = _mm256_set1_ps(1.05f),
           a6 = _mm256_set1_ps(1.06f), a7 = _mm256_set1_ps(1.07f), a8 = _mm256_set1_ps(1.08f),
           a9 = _mm256_set1_ps(1.09f), a10 = _mm256_set1_ps(1.10f), a11 = _mm256_set1_ps(1.11f);
    for (long i = 0; i < iters; i++) {
        FMA12(_mm256_fmadd_ps);
        __asm__ volatile("" : "+x"(a0), "+x"(a1), "+x"(a2), "+x"(a3),
                         "+x"(a4), "+x"(a5), "+x"(a6), "+x"(a7),
                         "+x"(a8), "+x"(a9), "+x"(a10), "+x"(a11));
    }
    __m256 s = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)),
                             _mm256_add_ps(_mm256_add_ps(a4, a5), _mm256_add_ps(a6, a7)));
    s = _mm256_add_ps(s, _mm256_add_ps(_mm256_add_ps(a8, a9), _mm256_add_ps(a10, a11)));
    volatile float sink = hsum_ps(s);
    (void)sink;
    return (double)iters * 12.0 * 8.0 * 2.0;
}

double bn_fma256_f64(long iters)
{
    __m256d m = _mm256_set1_pd(0.999), c = _mm256_set1_pd(1e-3);
    /* Distinct starting values: identical chains would be merged by the
     * compiler (same recurrence, same start), undercounting the work. */
    __m256d a0 = _mm256_set1_pd(1.00), a1 = _mm256_set1_pd(1.01), a2 = _mm256_set1_pd(1.02),
           a3 = _mm256_set1_pd(1.03), a4 = _mm256_set1_pd(1.04), a5 = _mm256_set1_pd(1.05),
           a6 = _mm256_set1_pd(1.06), a7 = _mm256_set1_pd(1.07), a8 = _mm256_set1_pd(1.08),
           a9 = _mm256_set1_pd(1.09), a10 = _mm256_set1_pd(1.10), a11 = _mm256_set1_pd(1.11);
    for (long i = 0; i < iters; i++) {
        FMA12(_mm256_fmadd_pd);
        __asm__ volatile("" : "+x"(a0), "+x"(a1), "+x"(a2), "+x"(a3),
                         "+x"(a4), "+x"(a5), "+x"(a6), "+x"(a7),
                         "+x"(a8), "+x"(a9), "+x"(a10), "+x"(a11));
    }
    __m256d s = _mm256_add_pd(_mm256_add_pd(_mm256_add_pd(a0, a1), _mm256_add_pd(a2, a3)),
                              _mm256_add_pd(_mm256_add_pd(a4, a5), _mm256_add_pd(a6, a7)));
    s = _mm256_add_pd(s, _mm256_add_pd(_mm256_add_pd(a8, a9), _mm256_add_pd(a10, a11)));
    volatile float sink = hsum_ps(_mm256_castpd_ps(s));
    (void)sink;
    return (double)iters * 12.0 * 4.0 * 2.0;
}

/* Reads n floats (n a multiple of 64) `passes` times into eight adders,
 * as eight streams or one (streams = 8 or 1), as bn_read512, two ymm
 * loads an adder per step. */
double bn_read256(const float *buf, size_t n, int passes, int streams)
{
    size_t part = streams == 1 ? 0 : n / 8 / 16 * 16;
    __m256 s[8];
    for (int q = 0; q < 8; q++)
        s[q] = _mm256_setzero_ps();
    for (int p = 0; p < passes; p++) {
        for (size_t i = 0; i < part; i += 16)
            for (int q = 0; q < 8; q++)
                s[q] = _mm256_add_ps(s[q], _mm256_add_ps(_mm256_load_ps(buf + q * part + i),
                                                         _mm256_load_ps(buf + q * part + i + 8)));
        size_t i = 8 * part;
        for (; i + 128 <= n; i += 128)
            for (int q = 0; q < 8; q++)
                s[q] = _mm256_add_ps(s[q], _mm256_add_ps(_mm256_load_ps(buf + i + 16 * q),
                                                         _mm256_load_ps(buf + i + 16 * q + 8)));
        for (; i < n; i += 8)
            s[0] = _mm256_add_ps(s[0], _mm256_load_ps(buf + i));
        __asm__ volatile("" : "+x"(s[0]));
    }
    for (int q = 1; q < 8; q++)
        s[0] = _mm256_add_ps(s[0], s[q]);
    return (double)hsum_ps(s[0]);
}
