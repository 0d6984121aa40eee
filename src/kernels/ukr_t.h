/* ukr_t.h — the GEMM micro-kernel and its edge-tile kernels, written
 * once for the files built with AVX2 or AVX-512 flags (the includer
 * defines MR, its rows, and PF_B / PF_C, its prefetch distances).  The
 * vector operations come as macro arguments:
 *   LOAD(p) LOADU(p) STOREU(p, v)   aligned / unaligned vector moves
 *   BCAST(p)                         *p in every lane
 *   FMA(a, b, c) ADD(a, b) SETZ()    a b + c, a + b, zeros
 *   MKMASK(r)                        the mask of the first r lanes, 0..W
 *   MLOAD(p, m) MSTORE(p, m, v)      masked moves, touching no other lane
 * Every element of C is the sum over p = 0, 1, ... of FMAs from zero,
 * then C + sum (beta) or 0 + sum, in whichever kernel it falls. */
#ifndef EIN_UKR_T_H
#define EIN_UKR_T_H

#include <immintrin.h>

/* One step: row p of the B panel (two vectors) times column p of the A
 * panel, broadcast, into the accumulators. */
#define EIN_UKR_STEP(p, V, W, LOAD, BCAST, FMA)                               \
    do {                                                                      \
        V b0 = LOAD(b + (p) * 2 * (W)), b1 = LOAD(b + (p) * 2 * (W) + (W));   \
        _Pragma("GCC unroll 16")                                              \
        for (int i = 0; i < MR; i++) {                                        \
            V ai = BCAST(a + (p) * MR + i);                                   \
            acc[i][0] = FMA(ai, b0, acc[i][0]);                               \
            acc[i][1] = FMA(ai, b1, acc[i][1]);                               \
        }                                                                     \
    } while (0)

/* Four steps, p = 0..3 from a and b; an includer may pass its own
 * (gemm_avx2.c: the same FMAs in the same order, in inline assembly). */
#define EIN_UKR_STEP4(V, W, LOAD, BCAST, FMA)                                 \
    do {                                                                      \
        EIN_UKR_STEP(0, V, W, LOAD, BCAST, FMA);                              \
        EIN_UKR_STEP(1, V, W, LOAD, BCAST, FMA);                              \
        EIN_UKR_STEP(2, V, W, LOAD, BCAST, FMA);                              \
        EIN_UKR_STEP(3, V, W, LOAD, BCAST, FMA);                              \
    } while (0)

/* C[MR x 2W] (+)= A B over kc steps.  Steps run four at a time, fetching
 * B PF_B rows ahead (past the end of this panel: the start of the next
 * one, which follows it), and the C tile is fetched PF_C steps before
 * the end so the update finds it in L1 (and to L2 at the start, when
 * beta carries EIN_UKR_FETCH_C).  With EIN_UKR_FETCH_A the next A panel
 * (which follows this one) is fetched to L2 at the pace this one is
 * read.  Each accumulator still sees p = 0, 1, ... in order.  (The
 * AVX-512 f32 kernel ran without the prefetches until 2026-11-27; with
 * them GEMM f32 n = 512..2048 on one thread took 1-3% less time in
 * alternating runs.) */
#define EIN_UKR(NAME, T, V, W, LOAD, LOADU, STOREU, BCAST, FMA, ADD, SETZ, STEP4) \
    static void NAME(int64_t kc, const T *restrict a, const T *restrict b,    \
                     T *restrict c, int64_t rsc, int beta)                    \
    {                                                                         \
        enum { LINES = (int)(2 * (W) * sizeof(T) / 64),   /* a B or C row */  \
               ALINES = (int)((4 * MR * sizeof(T) + 63) / 64) }; /* 4 A cols */ \
        V acc[MR][2];                                                         \
        _Pragma("GCC unroll 16")                                              \
        for (int i = 0; i < MR; i++)                                          \
            acc[i][0] = acc[i][1] = SETZ();                                   \
        if (beta & EIN_UKR_FETCH_C) {                                         \
            _Pragma("GCC unroll 16")                                          \
            for (int i = 0; i < MR; i++)                                      \
                for (int l = 0; l < LINES; l++)                               \
                    _mm_prefetch((const char *)(c + i * rsc) + 64 * l,        \
                                 _MM_HINT_T1);                                \
        }                                                                     \
        int64_t pc = kc > PF_C ? kc - PF_C : 0, p = 0;                        \
        const char *an = (const char *)(a + MR * kc);   /* next A panel */   \
        for (int pass = 0; pass < 2; pass++) {                                \
            int64_t pe = pass ? kc : pc;                                      \
            for (; p + 4 <= pe; p += 4, a += 4 * MR, b += 4 * 2 * (W)) {      \
                if (beta & EIN_UKR_FETCH_A) {                                 \
                    _Pragma("GCC unroll 8")                                   \
                    for (int l = 0; l < ALINES; l++)                          \
                        _mm_prefetch(an + 64 * l, _MM_HINT_T1);               \
                    an += 4 * MR * sizeof(T);                                 \
                }                                                             \
                _Pragma("GCC unroll 8")                                       \
                for (int l = 0; l < 4 * LINES; l++)                           \
                    _mm_prefetch((const char *)(b + PF_B * 2 * (W)) + 64 * l, \
                                 _MM_HINT_T0);                                \
                STEP4(V, W, LOAD, BCAST, FMA);                                \
            }                                                                 \
            if (pass)                                                         \
                break;                                                        \
            _Pragma("GCC unroll 16")                                          \
            for (int i = 0; i < MR; i++)                                      \
                for (int l = 0; l < LINES; l++)                               \
                    _mm_prefetch((const char *)(c + i * rsc) + 64 * l,        \
                                 _MM_HINT_T0);                                \
        }                                                                     \
        for (; p < kc; p++, a += MR, b += 2 * (W))                            \
            EIN_UKR_STEP(0, V, W, LOAD, BCAST, FMA);                          \
        if (beta & 1) {                                                       \
            _Pragma("GCC unroll 16")                                          \
            for (int i = 0; i < MR; i++) {                                    \
                T *ci = c + i * rsc;                                          \
                STOREU(ci, ADD(LOADU(ci), acc[i][0]));                        \
                STOREU(ci + (W), ADD(LOADU(ci + (W)), acc[i][1]));            \
            }                                                                 \
        } else {                                                              \
            _Pragma("GCC unroll 16")                                          \
            for (int i = 0; i < MR; i++) {   /* 0 + acc: -0 sums to +0 */      \
                STOREU(c + i * rsc, ADD(SETZ(), acc[i][0]));                  \
                STOREU(c + i * rsc + (W), ADD(SETZ(), acc[i][1]));            \
            }                                                                 \
        }                                                                     \
    }

/* An edge tile: ME rows (even, so an odd me computes one zero row of the
 * padded panel, never stored) by NV vectors of columns, written under a
 * mask into the me x ne that exist.  Before these, an edge tile was
 * computed whole into scratch and copied element by element: 100 x 100
 * x 2500 f32 cost as much as 112 x 128. */
#define EIN_UKR_EDGE(NAME, T, V, W, ME, NV, LOAD, BCAST, FMA, ADD, SETZ,      \
                     MASKT, MKMASK, MLOAD, MSTORE)                            \
    static void NAME(int64_t kc, const T *restrict a, const T *restrict b,    \
                     T *restrict c, int64_t rsc, int beta, int me, int ne)    \
    {                                                                         \
        V acc[ME][NV];                                                        \
        _Pragma("GCC unroll 16")                                              \
        for (int i = 0; i < (ME); i++)                                        \
            for (int v = 0; v < (NV); v++)                                    \
                acc[i][v] = SETZ();                                           \
        for (int64_t p = 0; p < kc; p++, a += MR, b += 2 * (W)) {             \
            V b0 = LOAD(b), b1 = (NV) > 1 ? LOAD(b + (W)) : b0;               \
            _Pragma("GCC unroll 16")                                          \
            for (int i = 0; i < (ME); i++) {                                  \
                V ai = BCAST(a + i);                                          \
                acc[i][0] = FMA(ai, b0, acc[i][0]);                           \
                if ((NV) > 1)                                                 \
                    acc[i][(NV) - 1] = FMA(ai, b1, acc[i][(NV) - 1]);         \
            }                                                                 \
        }                                                                     \
        const MASKT mk[2] = {MKMASK(ne < (W) ? ne : (W)),                     \
                             MKMASK(ne > (W) ? ne - (W) : 0)};                \
        _Pragma("GCC unroll 16")                                              \
        for (int i = 0; i < (ME); i++) {                                      \
            if (i >= me)                                                      \
                break;                                                        \
            T *ci = c + i * rsc;                                              \
            for (int v = 0; v < (NV); v++) {                                  \
                V base = beta ? MLOAD(ci + v * (W), mk[v]) : SETZ();          \
                MSTORE(ci + v * (W), mk[v], ADD(base, acc[i][v]));            \
            }                                                                 \
        }                                                                     \
    }

/* The edge entry of a table, ukr_edge_<SFX>: the kernel of rows
 * 2 ceil(me / 2) and of one vector when ne <= W, from TAB[2][MR / 2]. */
#define EIN_UKR_EDGE_ENTRY(SFX, T, W, TAB)                                    \
    static void ukr_edge_##SFX(int64_t kc, const T *a, const T *b, T *c,      \
                               int64_t rsc, int beta, int me, int ne)         \
    {                                                                         \
        TAB[ne > (W)][(me - 1) / 2](kc, a, b, c, rsc, beta, me, ne);          \
    }

/* gemv_multi's sums, shared by the AVX2 and AVX-512 tables: four rows of
 * W at w[0..3] (k contiguous elements each) against NX vectors at X (rsx
 * apart), into V a[4][>= NX]: from zero, the full vectors in column
 * order, then the last k % W lanes, MLOADM(mt, p) loading them with zeros
 * past k.  PF(p) runs before each row's vector load (a prefetch, or
 * nothing).  Each sum's arithmetic depends only on k. */
#define EIN_MULTI_SUMS(V, W, NX, a, w, X, rsx, k, LOAD, MLOADM, mt, FMA, SETZ, PF) \
    do {                                                                      \
        const int64_t kf_ = (k) - (k) % (W);                                  \
        for (int q = 0; q < 4; q++)                                           \
            for (int v = 0; v < (NX); v++)                                    \
                a[q][v] = SETZ();                                             \
        for (int64_t j = 0; j < kf_; j += (W)) {                              \
            V wv[4];                                                          \
            for (int q = 0; q < 4; q++) {                                     \
                PF(w[q] + j);                                                 \
                wv[q] = LOAD(w[q] + j);                                       \
            }                                                                 \
            for (int v = 0; v < (NX); v++) {                                  \
                V xv = LOAD((X) + v * (rsx) + j);                             \
                for (int q = 0; q < 4; q++)                                   \
                    a[q][v] = FMA(wv[q], xv, a[q][v]);                        \
            }                                                                 \
        }                                                                     \
        if (kf_ < (k)) {                                                      \
            V wv[4];                                                          \
            for (int q = 0; q < 4; q++)                                       \
                wv[q] = MLOADM(mt, w[q] + kf_);                               \
            for (int v = 0; v < (NX); v++) {                                  \
                V xv = MLOADM(mt, (X) + v * (rsx) + kf_);                     \
                for (int q = 0; q < 4; q++)                                   \
                    a[q][v] = FMA(wv[q], xv, a[q][v]);                        \
            }                                                                 \
        }                                                                     \
    } while (0)

#endif
