/* gemm_frame.c — the ISA-independent part of GEMM and GEMV: cache
 * blocking, packing through arbitrary strides, edge tiles, degenerate
 * shapes and the split over threads.  ISA files supply the inner loops. */
#include <xmmintrin.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/frame.h"

/* Largest register tile any ISA file uses, in elements (mr * nr). */
#define EIN_TILE_MAX 512
/* Work below which GEMM stays on one thread, in flops.  Measured on a
 * 2-vCPU AVX-512 VM (f32, einsum-bench, medians): with blocks claimed
 * dynamically and the caller never waiting for a worker that has not
 * joined, 2 threads beat 1 from n = 64 (0.5 MFLOP: 4.8 vs 5.3 us), and by
 * 25% at n = 80-96 (1-1.8 MFLOP: 7.7 vs 9.8 us, 10.1 vs 13.2 us); the old
 * fixed halves needed n ~ 128.  1 MFLOP leaves a margin for the posting
 * cost when the worker sleeps (a broadcast, a few us). */
#define EIN_GEMM_MT_FLOPS 1.0e6
/* GEMV: matrix elements below which one thread runs it (128 KiB of f32).
 * It was 262144 (1 MiB of f32), measured on the AMD Zen 5 VM, whose 1 MiB
 * L2 held such a matrix.  On the Zen 3 VM (512 KiB of L2 a core) two
 * threads, each reading half from its own L2, won from there: einsum-bench,
 * two threads, against the build with the old bound, "ij,j->i" f64 200^2
 * 3.8-4.7 -> 3.0 us, f64 256^2 8.2-8.8 -> 4.4-4.9 us (0.66-0.71x ->
 * 1.09-1.23x OpenBLAS), f32 362^2 9.8-10.0 -> 4.2-5.1 us; "ij,i->j" f64
 * 256^2 7.0-7.9 -> 3.9-4.7 us, f32 362^2 9.4-10.2 -> 4.7-4.8 us.  At 16384
 * elements (f64 128^2) the gain was 0.1-0.3 us, less than waking a
 * sleeping worker costs, hence this bound.  The rows are claimed in
 * chunks, so a worker that is slow to wake takes fewer of them. */
#define EIN_GEMV_MT_ELEMS 32768.0
/* GEMV rows are split between threads in multiples of this (a row's
 * arithmetic is the same whatever the split; below two units, each thread
 * gets one equal share). */
#define EIN_GEMV_ROWS_UNIT 64
/* GEMV rows a thread claims at a time, in units: 4 x 64 rows of a
 * 4096-column f32 matrix is 4 MiB streamed, ~0.3 ms. */
#define EIN_GEMV_CHUNK 4
/* GEMM/tensor-GEMM blocks of C per thread when threaded (see grid_plan).
 * One: each block packs its own A rows and B columns, and two per thread
 * packed a quarter more; alternating runs of both builds, 2 threads,
 * einsum-bench: f32 n = 256..2048 3-5% faster with one (e.g. 2048: 370-414
 * against 361-404 GFLOP/s), f64 likewise.  A thread that joins late
 * still finds the other block unclaimed, or the caller takes it. */
#define EIN_GRID_PER_THREAD 1
/* GEMM's depth split (see ein_frame_gemm): taken when the depth is at
 * least this many times C's longer side and C's m x n sums fit in this
 * many bytes (a heap block glibc recycles, no page faults). */
#define EIN_KSPLIT_RATIO 8
#define EIN_KSPLIT_BYTES 65536
/* ein_frame_gemm_few: a rows-GEMV per row of C costs about
 * sizeof(T)/64 of the narrow product's FMAs (one vector per W element
 * there), plus the reads of W once per row of C: measured, f32 one thread,
 * the narrow product wins from 6 rows of C with W in L2 (300 x 300),
 * from 10 with W in L1 (100 x 100).  So: at most a quarter of a 64-byte
 * vector's lanes rows (f32 4, f64 2) while W fits EIN_FEW_L2 bytes, half
 * (8, 4) while it fits EIN_FEW_L1. */
#define EIN_FEW_L2 (1024.0 * 1024.0)
#define EIN_FEW_L1 (64.0 * 1024.0)
/* With the table's gemv_multi (four vectors a pass over W), rows of C up
 * to this many, W read once per four; but two rows with a W in L1 go by
 * GEMVs, whose x stays in registers ([2, 50] x [50, 50]^T f32: 155 ns,
 * 216 through gemv_multi). */
#define EIN_FEW_MULTI 8
/* The few-columns case (see ein_gemm_few_takes): from this many rows of
 * C and this depth (two f32 vectors). */
#define EIN_FEWCOLS_MIN_M 8
#define EIN_FEWCOLS_MIN_K 32
/* gemv_multi's passes over W go this many bytes of W at a time. */
#define EIN_FEW_CHUNK (256.0 * 1024.0)
/* Bytes a packing copy moves at a time: one SSE register, which every
 * x86-64 has, so the frame needs no ISA flags.  nr * sizeof(T) is a
 * multiple of it for every table's nr. */
#define EIN_CHUNK 16
#define EIN_ABS(v) ((v) < 0 ? -(v) : (v))

/* Halves pay from the threading threshold up: 2 threads, one half each,
 * einsum-bench "ij,i->j": f32 1024^2 (4 MiB) 75 -> 35 us, f32 1448^2
 * (8 MiB) 170 -> 153 us, f64 512^2 19 -> 9 us.  Past a few L2s they
 * once streamed 3-12% slower than a split by rows; since the columns
 * loop fetches ahead (gemm_avx512.c, COLS_PF) they stream faster on AMD
 * Zen 5: f32 4096^2 2 threads 1.02-1.11 ms (0.66-0.76x OpenBLAS) ->
 * 0.73-0.77 ms (1.03-1.05x), f64 2.16-2.65 -> 1.93-1.98 ms. */
int64_t ein_gemv_cols_half(int64_t m, int64_t n)
{
    return (double)m * (double)n >= EIN_GEMV_MT_ELEMS && n >= 2 ? n / 2 : 0;
}

int ein_gemv_rows_direct(int64_t m, int64_t n, int64_t rsa, int64_t csa,
                         int64_t incx)
{
    return csa == 1 && incx == 1 && m > 0 && n > 0 && (rsa != 1 || n >= m) &&
           (double)m * (double)n < EIN_GEMV_MT_ELEMS;
}

/* Small enough for one thread and one pass (no halves below
 * EIN_GEMV_MT_ELEMS), y contiguous so no temporary, no reversal with
 * |csa| != 1: gemv_general would make exactly this one call.  f32
 * [64, 64] "ij,i->j", a prebuilt plan, AMD Zen 3, minimum: 156 -> 142 ns
 * with the frame calling it directly (the kernel alone takes 113). */
int ein_gemv_cols_direct(int64_t m, int64_t n, int64_t rsa, int64_t csa,
                         int64_t incy)
{
    return rsa == 1 && csa != 1 && csa != -1 && incy == 1 && m > 0 && n > 0 &&
           (double)m * (double)n < EIN_GEMV_MT_ELEMS;
}

/* A W of at most 16 rows, short ones, under four or more rows of C:
 * the small path's tiles (its copy of W through register transposes)
 * beat a GEMV per row of C, each GEMV a few short dots.  AVX2 table, AMD
 * Zen 3, one thread, alternating routes, batches of 200, per product:
 * f32 [8, 8] x [8, 8]^T 133 -> 52 ns, [8, 16] x [16, 16]^T 173 -> 94,
 * [4, 16] x [16, 8]^T 91 -> 47, f64 [6, 24] x [8, 24]^T 1.9x; one
 * product f32 8 x 8 x 8 240 -> 120 ns.  Outside these bounds the GEMVs
 * won or tied: f32 [4, 16] x [8, 16]^T 74 ns against 87, [3, 8] x [8,
 * 8]^T 0.86x, any W of 32 rows (0.54-0.95x below eight rows of C).
 * Three rows of C over a depth of at most 4 went to the tiles too once
 * a batch of them picked its tile once (gemm_small_t.h): 10000 products
 * f32 [3, 3] x [3, 3]^T 623 -> 261 us, [3, 4] x [4, 4]^T 531 -> 292,
 * [3, 2] x [16, 2]^T 503 -> 309; f64 [3, 3] x [3, 3]^T 594 -> 210,
 * [3, 4] x [8, 4]^T 566 -> 202 us; two rows stayed even (0.96-0.98x). */
static int ein_few_tiny_w(int64_t m, int64_t n, int64_t k, size_t elsize)
{
    if (n > 16 || m < 3)
        return 0;
    if (m == 3)
        return k <= 4;
    return k <= 8 || (m >= (elsize == 8 ? 5 : 6) && k <= (elsize == 8 ? 32 : 16));
}

int ein_gemm_few_takes(int64_t m, int64_t n, int64_t k, int64_t csa,
                       int64_t rsb, int64_t csb, int64_t csc, size_t elsize,
                       int multi, int64_t rows_regs)
{
    const int64_t lanes = (multi ? multi : 64) / (int64_t)elsize;
    double wbytes = (double)n * (double)k * (double)elsize;
    if (m < 2 || n < 2 || k < 1)
        return 0;
    if (csc == 1 && rsb == 1 && csb != 1) {
        /* Rows of W short enough for the table's register GEMV: one
         * GEMV per row of C beat gemv_multi and the small path's tiles
         * everywhere measured (AVX2 table on AMD Zen 3, einsum-bench,
         * minimum, "bi,oi->bo" f32: [4, 50] x [100, 50]^T 1.25 -> 1.08
         * us, [8, 50] x [100, 50]^T 2.44 -> 1.67, [4, 4] x [8, 4]^T 219
         * -> 113 ns, [8, 90] x [2900, 90]^T two threads 83 -> 66 us,
         * batched 1000 x [4, 16] x [8, 16]^T 105 -> 89 us). */
        if (csa == 1 && k < rows_regs && m <= EIN_FEW_MULTI && wbytes <= EIN_FEW_L2 &&
            !ein_few_tiny_w(m, n, k, elsize))
            return 1;
        if (multi && csa == 1 && (m > 2 || wbytes > EIN_FEW_L1)) {
            /* Operations per row of W (see below): here, against the
             * small path's copy of W (about three an element, measured
             * where the two meet: f32 [8, 32] x [3000, 32]^T, [3, 17] x
             * [300, 17]^T) and its tiles (about 1.5 per step of a 2W
             * strip); a short depth is all trees here (f64 [8, 4] x
             * [3000, 4]^T: 25 us, 0.4x OpenBLAS; 8.3 us by the tiles). */
            double kv = (double)((k + lanes - 1) / lanes);
            double here = kv * (double)((m + 3) / 4 + 2 * m) + 5.0 * (double)m;
            double tiles = (double)k * (3.0 + 1.5 * (double)m / (double)(2 * lanes));
            if (m <= EIN_FEW_MULTI && wbytes <= EIN_FEW_L2 && here <= tiles)
                return 2;
        } else if ((m <= lanes / 4 && wbytes <= EIN_FEW_L2) ||
                   (m <= lanes / 2 && wbytes <= EIN_FEW_L1)) {
            return 1;
        }
    }
    /* A few columns of C (x W with W of a few columns, "ij,jk->ik"),
     * A's rows contiguous: C^T = B^T A^T through gemv_multi, A read from
     * memory once (in chunks that L2 holds for the second four columns).
     * The small path's tiles broadcast every element of A for an FMA
     * that used n of a vector's lanes.  Where the counts below come out
     * even, the tiles were faster: f32 [1000, 50] x [50, 8] 10.3 us by
     * tiles, 14.7 here; f64 [20000, 300] x [300, 8] 2.2 ms, 2.7 here. */
    if (multi && csa == 1 && n <= EIN_FEW_MULTI && m >= EIN_FEWCOLS_MIN_M &&
        k >= EIN_FEWCOLS_MIN_K) {
        /* Vector operations per row of A: here, each pass of four
         * columns loads A's k / lanes vectors, and each column its own
         * as many plus the FMAs, then its tree and store (about five);
         * the tiles broadcast each element of A for ceil(n / lanes)
         * FMAs.  Taken when it counts no more than the tiles: on AMD Zen
         * 5, one thread, einsum-bench, alternating builds (the rule was
         * "saves a fifth" before 2026-11-28), f32 [1000, 64] x [64, 8]
         * (0.875 of the tiles' count) 11.1-11.9 -> 9.8-9.9 us, [512, 64]
         * x [64, 8] 5.8 -> 5.0 us; beyond the count the tiles stay
         * faster: f32 [1000, 32] x [32, 8] (1.19) 5.8 us by tiles, 7.6-7.8
         * here, f64 [1000, 64] x [64, 8] (1.44) 11-15 us, 13.8-14.1. */
        double kv = (double)((k + lanes - 1) / lanes);
        double here = kv * (double)((n + 3) / 4 + 2 * n) + 5.0 * (double)n;
        double tiles = (double)k * (double)(1 + (n + lanes - 1) / lanes);
        if (here <= tiles)
            return 3;
    }
    return 0;
}

/* ---- tensor-GEMM groups (type-independent) --------------------------- */

/* Does a dim of extent > 1 have stride +-1 in tensor t? */
static int ein_group_has_unit(const ein_group *g, int t)
{
    for (int d = 0; d < g->ndim; d++)
        if (g->ext[d] > 1 && EIN_ABS(g->stride[t][d]) == 1)
            return 1;
    return 0;
}

/* Copies g without extent-1 dims, ordered outermost-first by |stride| in
 * tensor t (stable), with neighbours that chain in both tensors folded
 * into one.  Returns the group's index count (0 if any extent is 0). */
static int64_t ein_group_norm(const ein_group *g, int t, ein_group *out)
{
    int64_t total = 1;
    int nd = 0;
    int nin = g->ndim < 0 ? 0 : g->ndim > EIN_GROUP_MAX ? EIN_GROUP_MAX : g->ndim;
    for (int d = 0; d < nin; d++) {
        if (g->ext[d] <= 0)
            return 0;
        total *= g->ext[d];
        if (g->ext[d] == 1)
            continue;
        out->ext[nd] = g->ext[d];
        out->stride[0][nd] = g->stride[0][d];
        out->stride[1][nd] = g->stride[1][d];
        /* Insertion: larger |stride| outward. */
        for (int e = nd; e > 0 && EIN_ABS(out->stride[t][e]) >
                                  EIN_ABS(out->stride[t][e - 1]); e--) {
            for (int s = 0; s < 3; s++) {
                int64_t *v = s == 2 ? out->ext : out->stride[s];
                int64_t x = v[e];
                v[e] = v[e - 1];
                v[e - 1] = x;
            }
        }
        nd++;
    }
    int w = 0;
    for (int d = 0; d < nd; d++) {
        if (w > 0 && out->stride[0][w - 1] == out->stride[0][d] * out->ext[d] &&
            out->stride[1][w - 1] == out->stride[1][d] * out->ext[d]) {
            out->ext[w - 1] *= out->ext[d];
            out->stride[0][w - 1] = out->stride[0][d];
            out->stride[1][w - 1] = out->stride[1][d];
            continue;
        }
        out->ext[w] = out->ext[d];
        out->stride[0][w] = out->stride[0][d];
        out->stride[1][w] = out->stride[1][d];
        w++;
    }
    out->ndim = w;
    return total;
}

/* Tensor t's run in a normalised group: the index count of the trailing
 * dims whose strides chain (offsets step by *st within a run). */
static void ein_group_run(const ein_group *g, int t, int64_t *run,
                          int64_t *st)
{
    if (g->ndim == 0) {
        *run = 1;
        *st = 0;
        return;
    }
    int d = g->ndim - 1;
    *run = g->ext[d];
    *st = g->stride[t][d];
    for (d--; d >= 0 && g->stride[t][d] == *run * *st; d--)
        *run *= g->ext[d];
}

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
