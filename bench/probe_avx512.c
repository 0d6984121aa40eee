/* probe_avx512.c — the AVX-512 half of the machine probe: FMA throughput on
 * zmm registers and a streaming read loop.  Only this file is compiled with
 * -mavx512f -mfma; probe.c calls it after __builtin_cpu_supports agrees. */
#include <immintrin.h>

#include "bench.h"

/* Twelve independent accumulators cover 4-cycle FMA latency on two ports
 * with room to spare; acc = acc * m + c converges, so no overflow or
 * denormals however long it runs. */
#define FMA12(T, fma)                                                       \
    a0 = fma(a0, m, c); a1 = fma(a1, m, c); a2 = fma(a2, m, c);             \
    a3 = fma(a3, m, c); a4 = fma(a4, m, c); a5 = fma(a5, m, c);             \
    a6 = fma(a6, m, c); a7 = fma(a7, m, c); a8 = fma(a8, m, c);             \
    a9 = fma(a9, m, c); a10 = fma(a10, m, c); a11 = fma(a11, m, c)

double bn_fma512_f32(long iters)
{
    __m512 m = _mm512_set1_ps(0.999f), c = _mm512_set1_ps(1e-3f);
    /* Distinct starting values: identical chains would be merged by the
     * compiler (same recurrence, same start), undercounting the work. */
    __m512 a0 = _mm512_set1_ps(1.00f), a1 = _mm512_set1_ps(1.01f), a2 = _mm512_set1_ps(1.02f),
           a3 = _mm512_set1_ps(1.03f), a4 = _mm512_set1_ps(1.04f), a5 = _mm512_set1_ps(1.05f),
           a6 = _mm512_set1_ps(1.06f), a7 = _mm512_set1_ps(1.07f), a8 = _mm512_set1_ps(1.08f),
           a9 = _mm512_set1_ps(1.09f), a10 = _mm512_set1_ps(1.10f), a11 = _mm512_set1_ps(1.11f);
    for (long i = 0; i < iters; i++) {
        FMA12(__m512, _mm512_fmadd_ps);
        __asm__ volatile("" : "+v"(a0), "+v"(a1), "+v"(a2), "+v"(a3),
                         "+v"(a4), "+v"(a5), "+v"(a6), "+v"(a7),
                         "+v"(a8), "+v"(a9), "+v"(a10), "+v"(a11));
    }
    __m512 s = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)),
                             _mm512_add_ps(_mm512_add_ps(a4, a5), _mm512_add_ps(a6, a7)));
    s = _mm512_add_ps(s, _mm512_add_ps(_mm512_add_ps(a8, a9), _mm512_add_ps(a10, a11)));
    volatile float sink = _mm512_reduce_add_ps(s);
    (void)sink;
    return (double)iters * 12.0 * 16.0 * 2.0;
}

double bn_fma512_f64(long iters)
{
    __m512d m = _mm512_set1_pd(0.999), c = _mm512_set1_pd(1e-3);
    /* Distinct starting values: identical chains would be merged by the
     * compiler (same recurrence, same start), undercounting the work. */
    __m512d a0 = _mm512_set1_pd(1.00), a1 = _mm512_set1_pd(1.01), a2 = _mm512_set1_pd(1.02),
           a3 = _mm512_set1_pd(1.03), a4 = _mm512_set1_pd(1.04), a5 = _mm512_set1_pd(1.05),
           a6 = _mm512_set1_pd(1.06), a7 = _mm512_set1_pd(1.07), a8 = _mm512_set1_pd(1.08),
           a9 = _mm512_set1_pd(1.09), a10 = _mm512_set1_pd(1.10), a11 = _mm512_set1_pd(1.11);
    for (long i = 0; i < iters; i++) {
        FMA12(__m512d, _mm512_fmadd_pd);
        __asm__ volatile("" : "+v"(a0), "+v"(a1), "+v"(a2), "+v"(a3),
                         "+v"(a4), "+v"(a5), "+v"(a6), "+v"(a7),
                         "+v"(a8), "+v"(a9), "+v"(a10), "+v"(a11));
    }
    __m512d s = _mm512_add_pd(_mm512_add_pd(_mm512_add_pd(a0, a1), _mm512_add_pd(a2, a3)),
                              _mm512_add_pd(_mm512_add_pd(a4, a5), _mm512_add_pd(a6, a7)));
    s = _mm512_add_pd(s, _mm512_add_pd(_mm512_add_pd(a8, a9), _mm512_add_pd(a10, a11)));
    volatile double sink = _mm512_reduce_add_pd(s);
    (void)sink;
    return (double)iters * 12.0 * 8.0 * 2.0;
}

/* Reads n floats (n a multiple of 64) `passes` times into eight
 * independent adders: with streams = 8, as eight streams, one per eighth
 * of the buffer; with 1, front to back, 512 bytes a step.  Neither reads
 * every level best: one sequential stream left memory-sized reads to a
 * single prefetch stream (12 GB/s, while a GEMV reading eight rows at
 * once streamed 27), and AMD Zen 5's L2 fed one stream at 150-210 GB/s,
 * eight at about 110 (bn_probe takes the faster). */
double bn_read512(const float *buf, size_t n, int passes, int streams)
{
    size_t part = streams == 1 ? 0 : n / 8 / 16 * 16;
    __m512 s[8];
    for (int q = 0; q < 8; q++)
        s[q] = _mm512_setzero_ps();
    for (int p = 0; p < passes; p++) {
        for (size_t i = 0; i < part; i += 16)
            for (int q = 0; q < 8; q++)
                s[q] = _mm512_add_ps(s[q], _mm512_load_ps(buf + q * part + i));
        size_t i = 8 * part;
        for (; i + 128 <= n; i += 128)
            for (int q = 0; q < 8; q++)
                s[q] = _mm512_add_ps(s[q], _mm512_load_ps(buf + i + 16 * q));
        for (; i < n; i += 16)
            s[0] = _mm512_add_ps(s[0], _mm512_load_ps(buf + i));
        __asm__ volatile("" : "+v"(s[0]));
    }
    for (int q = 1; q < 8; q++)
        s[0] = _mm512_add_ps(s[0], s[q]);
    return (double)_mm512_reduce_add_ps(s[0]);
}
