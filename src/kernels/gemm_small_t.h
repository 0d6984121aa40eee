/* gemm_small_t.h — the unpacked small-GEMM path, written once over an
 * element type and a vector ISA and included by gemm_small_avx512.c and
 * gemm_small_avx2.c.  Below the measured crossover, packing A and B costs
 * as much as the product itself, so the tiles here read B rows straight
 * through their stride (vector loads) and broadcast A elements through
 * theirs, keeping an MR x NV*W tile of C in registers.  C row-major runs
 * as is, C column-major as C^T = B^T A^T; a B (after the swap) whose rows
 * are not contiguous is first copied to k contiguous rows.
 *
 * Expects, from the includer:
 *   T, SFX                 element type and name suffix (f32_avx512, ...)
 *   V, W, VMASK            vector type, lanes per vector, lane-mask type
 *   SMALL_MR               rows per register tile (<= 16)
 *   SMALL_MAX_MNK          m*n*k at and below which this path runs
 *                          (and narrow products, any m: is_narrow)
 *   VZERO() VLOAD(p) VLOADM(mk, p) VBCAST(p) VFMA(a, b, c) VADD(a, b)
 *   VSTORE(p, v) VSTOREM(p, mk, v) VLANES(r)  (mask of the first r lanes,
 *                                              1 <= r <= W)
 * VLOADM must give zeros in the lanes off the mask, and neither masked
 * operation may touch memory there.  Optionally, for the transposed
 * writes of the C^T routes: SMALL_TR_W and SMALL_PUT_T(t, ldt, c, rsc,
 * acc), which writes one SMALL_TR_W-square block (put_t8_ps, ...). */

#include <stdatomic.h>

/* Products of at least this many FLOPs share their row tiles between
 * threads (the frame's threshold). */
#ifndef SMALL_MT_FLOPS
#define SMALL_MT_FLOPS 1.0e6
#endif
/* Narrow products (see is_narrow) take this path while B, k x n, is at
 * most this many bytes: half the L2. */
#ifndef SMALL_NARROW_B_BYTES
#define SMALL_NARROW_B_BYTES (1024.0 * 1024.0)
#endif
/* x W^T through the narrow product (see run): W's rows this many at a
 * time (C^T's scratch at most 2W times as many elements). */
#ifndef SMALL_WT_ROWS
#define SMALL_WT_ROWS 4096
#endif
/* A short narrow C (see is_short) over at least this long a depth sums
 * it in two halves. */
#ifndef SMALL_KSPLIT_K
#define SMALL_KSPLIT_K 1024
#endif

/* Vectors across a tile: two, or four for tiles of at most
 * SMALL_WIDE_MR rows (a short C: eight or more accumulators in flight
 * where two rows of two had left the FMAs waiting on each other). */
#define SMALL_NV_MAX 4
#ifndef SMALL_WIDE_MR
#define SMALL_WIDE_MR 4
#endif
/* B rows fetched this many steps ahead of the tile's reads, when rows
 * are more than SMALL_PF_MIN_BYTES apart and k of them span more than
 * SMALL_PF_MIN_SPAN bytes. */
#ifndef SMALL_PF_ROWS
#define SMALL_PF_ROWS 8
#endif
#ifndef SMALL_PF_MIN_BYTES
#define SMALL_PF_MIN_BYTES 512
#endif
#ifndef SMALL_PF_MIN_SPAN
#define SMALL_PF_MIN_SPAN (32.0 * 1024.0)
#endif
/* The transposed narrow route (t_narrow) from this depth. */
#ifndef SMALL_T_MIN_K
#define SMALL_T_MIN_K 8
#endif

#define SM_CAT_(a, b) a##_##b
#define SM_CAT(a, b) SM_CAT_(a, b)
#define SM(name) SM_CAT(name, SFX)

/* One tile: C[0:mr, 0:(nv-1)*W + lanes(mk)] over all k, with mr, nv and
 * `full` (the last vector has all W lanes) constants after inlining.
 * Every C element is the sum over p = 0, 1, ..., k-1 of fused A*B
 * products starting from zero, added to C at the end when accumulating:
 * the same operations whatever tile or problem the element sits in, so
 * the result depends only on the element's own row of A and column of B. */
static inline __attribute__((always_inline)) void
SM(tile)(const int mr, const int nv, const int full, int64_t k, const T *A,
         int64_t rsa, int64_t csa, const T *B, int64_t rsb, T *C,
         int64_t rsc, VMASK mk, int acc, int pf)
{
    V c[SMALL_MR][SMALL_NV_MAX];
#pragma GCC unroll 16
    for (int i = 0; i < mr; i++)
#pragma GCC unroll 4
        for (int v = 0; v < nv; v++)
            c[i][v] = VZERO();
    /* Four row pointers, each serving four rows through base + {0, 1, 2,
     * 3} * rsa, keep the address arithmetic in x86 addressing modes. */
    const T *a0 = A;
    const T *a4 = mr > 4 ? A + 4 * rsa : A;
    const T *a8 = mr > 8 ? A + 8 * rsa : A;
    const T *a12 = mr > 12 ? A + 12 * rsa : A;
    const int64_t rsa3 = 3 * rsa;
    const T *b = B;
    for (int64_t p = 0; p < k; p++) {
        /* pf (SM(want_pf)): B's row SMALL_PF_ROWS ahead, in full strips
         * of two or four vectors; past the last row, the next strip's
         * first rows. */
        if (nv >= 2 && full && pf) {
            const T *q = p + SMALL_PF_ROWS < k ? b + SMALL_PF_ROWS * rsb
                         : b + (SMALL_PF_ROWS - k) * rsb + nv * W;
#pragma GCC unroll 4
            for (int v = 0; v < nv; v += 64 / (int)(W * sizeof(T)))
                _mm_prefetch((const char *)(q + v * W), _MM_HINT_T0);
        }
        V bv[SMALL_NV_MAX];
#pragma GCC unroll 4
        for (int v = 0; v < nv; v++)
            bv[v] = full || v < nv - 1 ? VLOAD(b + v * W) : VLOADM(mk, b + v * W);
#pragma GCC unroll 16
        for (int i = 0; i < mr; i++) {
            const T *base = i < 4 ? a0 : i < 8 ? a4 : i < 12 ? a8 : a12;
            int r = i & 3;
            const T *ap = r == 0 ? base : r == 1 ? base + rsa
                        : r == 2 ? base + 2 * rsa : base + rsa3;
            V ai = VBCAST(ap);
#pragma GCC unroll 4
            for (int v = 0; v < nv; v++)
                c[i][v] = VFMA(ai, bv[v], c[i][v]);
        }
        a0 += csa;
        a4 += csa;
        a8 += csa;
        a12 += csa;
        b += rsb;
    }
#pragma GCC unroll 16
    for (int i = 0; i < mr; i++) {
        T *ci = C + i * rsc;
        /* C + sum, or 0 + sum: a -0 sum becomes +0, as numpy's. */
#pragma GCC unroll 4
        for (int v = 0; v < nv; v++) {
            if (full || v < nv - 1)
                VSTORE(ci + v * W, VADD(acc ? VLOAD(ci + v * W) : VZERO(), c[i][v]));
            else
                VSTOREM(ci + v * W, mk,
                        VADD(acc ? VLOADM(mk, ci + v * W) : VZERO(), c[i][v]));
        }
    }
}

/* One instance per (nv, full) pair: mr picks a fully unrolled tile.
 * Cases past SMALL_MR are never taken; they get a one-row body so that no
 * tile indexes past its accumulators. */
#define SM_CASE(R, NV, FULL)                                                \
    case R:                                                                 \
        SM(tile)(R <= SMALL_MR ? R : 1, NV, FULL, k, A, rsa, csa, B, rsb, C, \
                 rsc, mk, acc, pf);                                           \
        break;
#define SM_BODY(NV, FULL)                                                   \
    switch (mr) {                                                           \
    SM_CASE(1, NV, FULL) SM_CASE(2, NV, FULL) SM_CASE(3, NV, FULL)          \
    SM_CASE(4, NV, FULL) SM_CASE(5, NV, FULL) SM_CASE(6, NV, FULL)          \
    SM_CASE(7, NV, FULL) SM_CASE(8, NV, FULL) SM_CASE(9, NV, FULL)          \
    SM_CASE(10, NV, FULL) SM_CASE(11, NV, FULL) SM_CASE(12, NV, FULL)       \
    SM_CASE(13, NV, FULL) SM_CASE(14, NV, FULL) SM_CASE(15, NV, FULL)       \
    SM_CASE(16, NV, FULL)                                                   \
    default: break;                                                         \
    }

#define SM_TILE_FN(NAME, NV, FULL)                                          \
    static void SM(NAME)(int mr, int64_t k, const T *A, int64_t rsa,         \
                         int64_t csa, const T *B, int64_t rsb, T *C,         \
                         int64_t rsc, VMASK mk, int acc, int pf)             \
    {                                                                        \
        SM_BODY(NV, FULL)                                                    \
    }
SM_TILE_FN(tile1m, 1, 0)
SM_TILE_FN(tile1f, 1, 1)
SM_TILE_FN(tile2m, 2, 0)
SM_TILE_FN(tile2f, 2, 1)
#undef SM_TILE_FN
#undef SM_BODY
/* Four full vectors, rows 1..SMALL_WIDE_MR. */
static void SM(tile4f)(int mr, int64_t k, const T *A, int64_t rsa, int64_t csa,
                       const T *B, int64_t rsb, T *C, int64_t rsc, VMASK mk,
                       int acc, int pf)
{
    switch (mr) {
    SM_CASE(1, 4, 1) SM_CASE(2, 4, 1)
#if SMALL_WIDE_MR >= 3
    SM_CASE(3, 4, 1)
#endif
#if SMALL_WIDE_MR >= 4
    SM_CASE(4, 4, 1)
#endif
    default: break;
    }
}
#undef SM_CASE

/* The tile for the columns left of a row of C (from column j to n):
 * width 2W, or what is left if less (then the last vector is masked, and
 * a rest of W or less takes one vector). */
typedef void SM(tile_fn)(int mr, int64_t k, const T *A, int64_t rsa,
                         int64_t csa, const T *B, int64_t rsb, T *C,
                         int64_t rsc, VMASK mk, int acc, int pf);
typedef struct SM(strip_kind) {
    SM(tile_fn) *fn;
    VMASK mk;
    int64_t w;   /* columns it covers */
} SM(strip_kind);

static inline SM(strip_kind) SM(strip_pick)(int64_t left)
{
    SM(strip_kind) sk;
    int nv = left > W ? 2 : 1;
    sk.w = left < nv * W ? left : nv * W;
    int full = sk.w == nv * W;
    sk.mk = VLANES(full ? W : (int)(sk.w - (nv - 1) * W));
    sk.fn = nv == 1 ? (full ? SM(tile1f) : SM(tile1m))
                    : (full ? SM(tile2f) : SM(tile2m));
    return sk;
}

/* The tile at rows [i, i + mr), columns [j, j + width); returns the
 * width. */
static inline int64_t SM(strip)(int mr, int64_t i, int64_t j, int64_t n,
                                int64_t k, const T *A, int64_t rsa,
                                int64_t csa, const T *B, int64_t rsb, T *C,
                                int64_t rsc, int acc, int pf)
{
    if (mr <= SMALL_WIDE_MR && n - j >= 4 * W) {
        SM(tile4f)(mr, k, A + i * rsa, rsa, csa, B + j, rsb, C + i * rsc + j, rsc,
                   VLANES(W), acc, pf);
        return 4 * W;
    }
    SM(strip_kind) sk = SM(strip_pick)(n - j);
    sk.fn(mr, k, A + i * rsa, rsa, csa, B + j, rsb, C + i * rsc + j, rsc, sk.mk, acc,
          pf);
    return sk.w;
}

/* Whether tiles fetch B's rows ahead (SMALL_PF_ROWS): when the rows are
 * far apart (A^T's, walked down a strip) and B spans more than L1, where
 * the hardware's prefetch fell behind: A^T B with m = 200, n = 4,
 * k = 1000 f32, 14.2 -> 13.1 us.  Rows closer than that stream by
 * themselves, and prefetching them cost 5-8% (3 x 200 x 16 f64), as it
 * did a B held in L1 (16 x 500 x 8 f32).  Decided once a call: per tile
 * it cost 8% of 1000 x 3 x 2 f64. */
static inline int SM(want_pf)(int64_t k, int64_t rsb)
{
    return rsb * (int64_t)sizeof(T) > SMALL_PF_MIN_BYTES &&
           (double)k * (double)rsb * (double)sizeof(T) > SMALL_PF_MIN_SPAN;
}

/* How the rows of C go into tiles: ceil(m / SMALL_MR) nearly equal
 * tiles, so that m = 64 with 12-row tiles runs 11,11,11,11,10,10 rather
 * than 5 x 12 + 4.  Worked out once per shape. */
typedef struct SM(rows) {
    int64_t tiles, base, extra;
} SM(rows);

static inline SM(rows) SM(row_split)(int64_t m)
{
    SM(rows) r;
    r.tiles = (m + SMALL_MR - 1) / SMALL_MR;
    r.base = m / r.tiles;
    r.extra = m % r.tiles;
    return r;
}

/* C row-major (csc == 1), B rows contiguous (csb == 1), A any strides:
 * row tiles [t0, t1) of rs, columns [j0, n) (j0 a multiple of 2W, so the
 * strips are those of the whole row). */
static void SM(rowmajor)(SM(rows) rs, int64_t t0, int64_t t1, int64_t j0,
                         int64_t n, int64_t k, const T *A, int64_t rsa,
                         int64_t csa, const T *B, int64_t rsb, T *C, int64_t rsc,
                         int acc)
{
    /* Rows outer: a tile's rows of A stay in L1 while it walks across B
     * (k x n), which is L1- or L2-resident below the crossover; C is
     * written row block by row block.  Measured against columns outer, it
     * is as fast on cubes and 10-40% faster on thin-k shapes with a large
     * C (512 x 512 x 8 f64: 64 vs 107 us). */
    int64_t i = t0 * rs.base + (t0 < rs.extra ? t0 : rs.extra);
    int pf = SM(want_pf)(k, rsb);
    for (int64_t t = t0; t < t1; t++) {
        int mr = (int)(rs.base + (t < rs.extra));
        for (int64_t j = j0; j < n;)
            j += SM(strip)(mr, i, j, n, k, A, rsa, csa, B, rsb, C, rsc, acc, pf);
        i += mr;
    }
}

/* Row tiles shared between threads, claimed a few at a time, or with a
 * single row tile, runs of whole strips of columns: a tile's elements do
 * not depend on the tiles around it, so the bits do not depend on the
 * thread count. */
typedef struct SM(job) {
    SM(rows) rs;
    int64_t n, k, per;
    int64_t cw;                       /* columns a claim (one row tile), or 0 */
    const T *A; int64_t rsa, csa;
    const T *B; int64_t rsb;
    T *C; int64_t rsc;
    int acc;
    atomic_llong next;
} SM(job);

static void SM(task)(void *ctx, int t, int nt)
{
    SM(job) *j = ctx;
    (void)t;
    (void)nt;
    for (;;) {
        int64_t u = (int64_t)atomic_fetch_add(&j->next, 1);
        if (j->cw) {
            int64_t c0 = u * j->cw;
            if (c0 >= j->n)
                return;
            int64_t c1 = c0 + j->cw < j->n ? c0 + j->cw : j->n;
            SM(rowmajor)(j->rs, 0, 1, c0, c1, j->k, j->A, j->rsa, j->csa, j->B,
                         j->rsb, j->C, j->rsc, j->acc);
            continue;
        }
        int64_t t0 = u * j->per;
        if (t0 >= j->rs.tiles)
            return;
        int64_t t1 = t0 + j->per < j->rs.tiles ? t0 + j->per : j->rs.tiles;
        SM(rowmajor)(j->rs, t0, t1, 0, j->n, j->k, j->A, j->rsa, j->csa, j->B,
                     j->rsb, j->C, j->rsc, j->acc);
    }
}

static void SM(rowmajor_mt)(SM(rows) rs, int64_t n, int64_t k, const T *A,
                            int64_t rsa, int64_t csa, const T *B, int64_t rsb,
                            T *C, int64_t rsc, int acc, int nthreads)
{
    int64_t strips = (n + 2 * W - 1) / (2 * W);
    if (nthreads > 1 && (rs.tiles >= 2 || strips >= 2) &&
        2.0 * (double)(rs.tiles * rs.base + rs.extra) * (double)n * (double)k >=
            SMALL_MT_FLOPS) {
        SM(job) job = {.rs = rs, .n = n, .k = k, .A = A, .rsa = rsa, .csa = csa,
                       .B = B, .rsb = rsb, .C = C, .rsc = rsc, .acc = acc};
        const int64_t nt = nthreads;   /* may be INT_MAX: the pool caps it */
        job.per = (rs.tiles + 8 * nt - 1) / (8 * nt);
        if (rs.tiles == 1)
            job.cw = 2 * W * ((strips + 4 * nt - 1) / (4 * nt));
        atomic_init(&job.next, 0);
        ein_pool_run(nthreads, SM(task), &job);
        return;
    }
    SM(rowmajor)(rs, 0, rs.tiles, 0, n, k, A, rsa, csa, B, rsb, C, rsc, acc);
}

/* Is m x n x k small enough that skipping the packing wins?  Decided by
 * shape alone, never by the thread count, so that a problem's bits do not
 * depend on how many threads were offered. */
static int SM(is_small)(int64_t m, int64_t n, int64_t k)
{
    return (double)m * (double)n * (double)k <= SMALL_MAX_MNK;
}

/* Narrow C (n <= 2W after the layout swap, so one strip per row tile),
 * any m: the frame would pack all of A to use each element n times, and
 * packing cost more than the products (1000 x 1000 x 3 f32: 22% of the
 * time packing, 14% in the kernel).  Here A is read once, through its
 * strides, while B (k x n, at most SMALL_NARROW_B_BYTES) stays in L2.
 * einsum-bench, f32 one thread: "ij,kj->ik" [1000,1000] x [10,1000]
 * 608 -> 260 us (0.78x -> 1.78x OpenBLAS), "ij,jk->ik" [4096,4096] x
 * [4096,32] 14.6 -> 7.05 ms; f64 [2000,4096] x [4096,16] 11.5 -> 4.2 ms.
 * Sharing the row tiles between two threads also took the cubes below
 * SMALL_MAX_MNK off one core: 100^3 f32 13.3-13.7 -> 8.5-9.3 us. */
static int SM(is_narrow)(int64_t n, int64_t k)
{
    return n <= 2 * W &&
           (double)k * (double)n * (double)sizeof(T) <= SMALL_NARROW_B_BYTES;
}

/* Short and narrow C (at most two row tiles, one strip), B of any size:
 * A and B are each read once (B twice with two row tiles) as they stream
 * past, where the frame packed both into panels mostly of padding.  The
 * Gram matrix of a few columns, "ki,kj->ij" f32, one thread,
 * einsum-bench, alternating builds: k = 10^6, 8 x 8: 9.7 -> 2.6 ms
 * (0.57x -> 2.3x OpenBLAS). */
static int SM(is_short)(int64_t m, int64_t n)
{
    return m <= 2 * SMALL_MR && n <= 2 * W;
}

/* C with fewer columns than a vector has lanes, and an A whose rows
 * (C's rows) are contiguous, A^T B ("ji,jk->ik") with n small: a row
 * tile's strip would use n of W lanes, broadcasting an element of A for
 * each.  C^T = B^T A^T instead runs one tile of n rows across A^T's
 * contiguous rows, every lane used, into scratch, then transposed into
 * C.  Each element is the same sum of fused products, a*b for b*a, so
 * it has the bits of the row tiles'.  Taken while it saves an eighth
 * of the vector FMAs (a quarter until the transposed write went by
 * register blocks) and the depth pays for that write: f32 one thread,
 * alternating builds, [64,200] x [12,64] 2.37-2.41 -> 1.70-1.77 us
 * (0.70x -> 0.95-0.98x OpenBLAS), [32,200] x [12,32] 1.27-1.38 ->
 * 1.00-1.06 us; f64 [64,100] x [6,64] 1.29-1.32 -> 0.87-0.91 us.
 * Taking it at equal counts gained nothing clear (f64 n = 8). */
static int SM(t_narrow)(int64_t m, int64_t n, int64_t k, int64_t rsa)
{
    int64_t v = (m + W - 1) / W, vn = (n + W - 1) / W;
    return rsa == 1 && n <= SMALL_MR && k >= SMALL_T_MIN_K &&
           8 * n * v <= 7 * m * vn;
}

/* The two depth halves of a short narrow C (see run): half 0 into C as
 * any call would, half 1 into part (m x n, rows n apart) from zero;
 * claimed from a counter, so each runs once whoever takes it. */
typedef struct SM(kjob) {
    SM(rows) rs;
    int64_t n, k, kh;
    const T *A; int64_t rsa, csa;
    const T *B; int64_t rsb;
    T *C; int64_t rsc;
    T *part;
    int acc;
    atomic_int next;
} SM(kjob);

static void SM(ktask)(void *ctx, int t, int nt)
{
    SM(kjob) *j = ctx;
    (void)t;
    (void)nt;
    for (int h; (h = atomic_fetch_add(&j->next, 1)) < 2;) {
        if (h == 0)
            SM(rowmajor)(j->rs, 0, j->rs.tiles, 0, j->n, j->kh, j->A, j->rsa,
                         j->csa, j->B, j->rsb, j->C, j->rsc, j->acc);
        else
            SM(rowmajor)(j->rs, 0, j->rs.tiles, 0, j->n, j->k - j->kh,
                         j->A + j->kh * j->csa, j->rsa, j->csa,
                         j->B + j->kh * j->rsb, j->rsb, j->part, j->n, 0);
    }
}

/* B copied to k rows of n contiguous elements, for a B whose rows are
 * not contiguous (A B^T, "ik,jk->ij"): k*n element moves, against the
 * frame's packing of both operands. */
static void SM(copy_b)(int64_t k, int64_t n, const T *B, int64_t rsb,
                       int64_t csb, T *restrict dst)
{
    if (rsb == 1) {
        int64_t p0 = 0;
#ifdef SMALL_TR_W
        /* Square blocks by a register transpose (the including file's
         * SMALL_PUT_T), the columns past the last block by elements.
         * "bij,bkj->bik" f32, one thread, AMD Zen 3, minimum, against
         * the element copy below for all: n = 16 (2048 products) 396 ->
         * 284 us, 32 (256) 273 -> 217 us, 64 (32) 221 -> 190 us, where
         * "bij,bjk->bik" takes 230, 191 and 178. */
        if (k >= SMALL_TR_W && n >= SMALL_TR_W) {
            const int64_t nb = n / SMALL_TR_W * SMALL_TR_W;
            for (; p0 + SMALL_TR_W <= k; p0 += SMALL_TR_W) {
                for (int64_t j0 = 0; j0 < nb; j0 += SMALL_TR_W)
                    SMALL_PUT_T(B + j0 * csb + p0, csb, dst + p0 * n + j0, n, 0);
                for (int64_t p = p0; p < p0 + SMALL_TR_W; p++)
                    for (int64_t j = nb; j < n; j++)
                        dst[p * n + j] = B[j * csb + p];
            }
        }
#endif
#ifdef SMALL_PUT_T4
        /* Four to seven rows left (tiny products, "bij,bkj->bik" 4 x 4):
         * four of them by 4 x 4 blocks (SMALL_PUT_T4), the columns past
         * the last block by elements.  "bij,bkj->bik" f32, one thread,
         * AMD Zen 3, static builds alternating, minimum: 10000 x 4^3 332
         * -> 297 us, 6^3 563 -> 516 us; 3^3, 5^3 and 8^3 as before. */
        if (k - p0 >= 4 && k - p0 < 8 && n >= 4) {
            const int64_t nb = n / 4 * 4;
            for (int64_t j0 = 0; j0 < nb; j0 += 4)
                SMALL_PUT_T4(B + j0 * csb + p0, csb, dst + p0 * n + j0, n, 0);
            for (int64_t p = p0; p < p0 + 4; p++)
                for (int64_t j = nb; j < n; j++)
                    dst[p * n + j] = B[j * csb + p];
            p0 += 4;
        }
#endif
        /* Columns contiguous: eight rows of dst at a time, each written
         * in order while B is read eight elements down a column; a plain
         * column-by-column copy wrote k rows n apart per column and cost
         * ~3x as much at 64 x 64 (4K-apart writes alias in L1). */
        for (; p0 + 8 <= k; p0 += 8)
            for (int64_t j = 0; j < n; j++) {
                const T *src = B + j * csb + p0;
                T *d = dst + p0 * n + j;
#pragma GCC unroll 8
                for (int q = 0; q < 8; q++)
                    d[q * n] = src[q];
            }
        for (int64_t j = 0; j < n; j++)
            for (int64_t p = p0; p < k; p++)
                dst[p * n + j] = B[j * csb + p];
    } else {
        for (int64_t p = 0; p < k; p++)
            for (int64_t j = 0; j < n; j++)
                dst[p * n + j] = B[p * rsb + j * csb];
    }
}

/* C (+)= T^T for the routes that compute C^T into scratch: C is rows x
 * cols, rows rsc apart, columns contiguous; T is cols x rows, rows ldt
 * apart.  Each element as the tile would have stored it.  Up to seven
 * columns (fewer than a transposed block has), their count a constant
 * of the loop and acc outside it: "ji,kj->ik" [64,100] x [4,64] f32,
 * one thread, alternating builds: 459-561 -> 406-414 ns, [64,100] x
 * [2,64] 450-467 -> 392-401 ns; five to seven since 2026-11-28, when
 * [64,200] x [5,64] under EIN_ARCH=avx2 had become 1.60-1.67 us against
 * 1.50-1.54 before put_cols (and 1.41-1.48 with the constants). */
static inline __attribute__((always_inline)) void
SM(put_t_n)(const int cols, int64_t rows, const T *restrict t, int64_t ldt,
            T *restrict C, int64_t rsc, int acc)
{
    if (acc) {
        for (int64_t i = 0; i < rows; i++)
            for (int j = 0; j < cols; j++)
                C[i * rsc + j] += t[j * ldt + i];
    } else {
        for (int64_t i = 0; i < rows; i++)
            for (int j = 0; j < cols; j++)
                C[i * rsc + j] = t[j * ldt + i];
    }
}

static void SM(put_cols)(int64_t rows, int64_t cols, const T *t, int64_t ldt,
                         T *C, int64_t rsc, int acc)
{
    switch (cols) {
    case 1: SM(put_t_n)(1, rows, t, ldt, C, rsc, acc); return;
    case 2: SM(put_t_n)(2, rows, t, ldt, C, rsc, acc); return;
    case 3: SM(put_t_n)(3, rows, t, ldt, C, rsc, acc); return;
    case 4: SM(put_t_n)(4, rows, t, ldt, C, rsc, acc); return;
    case 5: SM(put_t_n)(5, rows, t, ldt, C, rsc, acc); return;
    case 6: SM(put_t_n)(6, rows, t, ldt, C, rsc, acc); return;
    case 7: SM(put_t_n)(7, rows, t, ldt, C, rsc, acc); return;
    default: SM(put_t_n)((int)cols, rows, t, ldt, C, rsc, acc); return;
    }
}

static inline void SM(put_transposed)(int64_t rows, int64_t cols, const T *t,
                                      int64_t ldt, T *C, int64_t rsc, int acc)
{
#ifdef SMALL_TR_W
    /* Square blocks of SMALL_TR_W rows and columns by a register
     * transpose (the including file's SMALL_PUT_T), the rest by the
     * element loops: "ji,kj->ik" [50,100] x [8,50] f32, one thread,
     * alternating builds, 641-650 -> 504-511 ns (0.70x -> 0.89-0.91x
     * OpenBLAS). */
    if (rows >= SMALL_TR_W && cols >= SMALL_TR_W) {
        const int64_t rb = rows / SMALL_TR_W * SMALL_TR_W;
        const int64_t cb = cols / SMALL_TR_W * SMALL_TR_W;
        for (int64_t j0 = 0; j0 < cb; j0 += SMALL_TR_W)
            for (int64_t i0 = 0; i0 < rb; i0 += SMALL_TR_W)
                SMALL_PUT_T(t + j0 * ldt + i0, ldt, C + i0 * rsc + j0, rsc, acc);
        if (rb < rows)
            SM(put_cols)(rows - rb, cb, t + rb, ldt, C + rb * rsc, rsc, acc);
        if (cb < cols)
            SM(put_cols)(rows, cols - cb, t + cb * ldt, ldt, C + cb, rsc, acc);
        return;
    }
#endif
    SM(put_cols)(rows, cols, t, ldt, C, rsc, acc);
}

/* nb products C_b (+)= A_b B_b, operand b at A + b * sa (B + b * sb,
 * C + b * sc): each computed by the same tiles, in the same order, as
 * its own call of ein_gemm_small would, with the shape checks, the
 * layout choice and the row split done once for the batch.  A batch of
 * 8 x 8 x 8 f32 products through the executor's loop, one call each,
 * spent a third of its time between the tiles. */
/* nb products of one tile each (see run): the tile picked once, and for
 * each product B copied to rows in bc first when bc is not NULL. */
static inline __attribute__((always_inline)) void
SM(one_tile_batch)(int64_t nb, int64_t sa, int64_t sb, int64_t sc, int64_t m, int64_t n,
                   int64_t k, const T *A, int64_t rsa, int64_t csa, const T *B,
                   int64_t rsb, int64_t csb, T *C, int64_t rsc, int acc, T *bc)
{
    const int64_t rsbc = bc ? n : rsb;
    SM(strip_kind) sk = SM(strip_pick)(n);
    int pf = SM(want_pf)(k, rsbc);
    for (int64_t b = 0; b < nb; b++) {
        const T *bb = B + b * sb;
        if (bc) {
            SM(copy_b)(k, n, bb, rsb, csb, bc);
            bb = bc;
        }
        sk.fn((int)m, k, A + b * sa, rsa, csa, bb, rsbc, C + b * sc, rsc, sk.mk, acc, pf);
    }
}

static int SM(run)(int64_t nb, int64_t sa, int64_t sb, int64_t sc, int64_t m,
                   int64_t n, int64_t k, const T *A, int64_t rsa, int64_t csa,
                   const T *B, int64_t rsb, int64_t csb, T *C, int64_t rsc,
                   int64_t csc, int acc, int nthreads)
{
    if (m <= 0 || n <= 0 || nb <= 0)
        return 1;
    if (k <= 0) {
        if (!acc)
            for (int64_t b = 0; b < nb; b++)
                for (int64_t i = 0; i < m; i++)
                    for (int64_t j = 0; j < n; j++)
                        C[b * sc + i * rsc + j * csc] = 0;
        return 1;
    }
    /* One row or column of C: the frame's GEMV does it with a dot per
     * element or an axpy per column, better than a one-lane tile. */
    if (m == 1 || n == 1)
        return 0;
    /* A few rows of C times a B whose columns are contiguous (x W^T for a
     * small batch x): C^T = B^T A^T is a narrow product whose A, W, has
     * contiguous rows, read once as they stream past; it goes into
     * scratch and then into C, transposed (each element as the kernel
     * would have written it).  The frame transposed W into panels for
     * tiles of a few rows.  "ij,kj->ik" f32 x [2048, 2048]^T, alternating
     * builds, one thread: x [4, 2048] 1.74 -> 0.99 ms (1.1x -> 1.9x
     * OpenBLAS), [16, 2048] 2.38 -> 1.07 ms; two threads 0.86 -> 0.49,
     * 1.23 -> 0.57 ms.  (Cached W with fewer rows: ein_frame_gemm_few.)
     * Not for a depth under m: the element-by-element transpose of C
     * (m n moves) then costs more than copying W (k n) for the row tiles
     * (f32 [12, 2] x [512, 2]^T with A's columns contiguous: 2.3 us). */
    if (csc == 1 && rsb == 1 && csb != 1 && m <= 2 * W && n > 2 * W && k >= m &&
        SM(is_narrow)(m, k)) {
        /* W's rows SMALL_WT_ROWS at a time, so scratch stays small (a
         * row's sums do not depend on the rows around it). */
        int64_t rows = n < SMALL_WT_ROWS ? n : SMALL_WT_ROWS;
        T *t = ein_scratch((size_t)((rows + k) * m) * sizeof(T));
        if (!t)
            return 0;
        T *bc = t + rows * m;
        for (int64_t b = 0; b < nb; b++) {
            T *c = C + b * sc;
            SM(copy_b)(k, m, A + b * sa, csa, rsa, bc);
            for (int64_t r0 = 0; r0 < n; r0 += rows) {
                int64_t nr = n - r0 < rows ? n - r0 : rows;
                SM(rowmajor_mt)(SM(row_split)(nr), m, k, B + b * sb + r0 * csb, csb,
                                rsb, bc, m, t, m, 0, nthreads);
                SM(put_transposed)(m, nr, t, m, c + r0, rsc, acc);
            }
        }
        return 1;
    }
    /* C column-major: compute C^T = B^T A^T, whose "B" is A. */
    if (!SM(is_small)(m, n, k) && !SM(is_narrow)(csc != 1 ? m : n, k) &&
        !SM(is_short)(csc != 1 ? n : m, csc != 1 ? m : n))
        return 0;
    if (csc != 1) {
        if (rsc != 1)
            return 0;
        int64_t t;
        const T *tp;
        t = m; m = n; n = t;
        tp = A; A = B; B = tp;
        t = sa; sa = sb; sb = t;
        t = rsa; rsa = csb; csb = t;
        t = csa; csa = rsb; rsb = t;
        rsc = csc;
    }
    SM(rows) rs = SM(row_split)(m);
    if (!SM(is_small)(m, n, k) && !SM(is_narrow)(n, k) && csb != 1)
        return 0;   /* short only: no copy of a B of any size */
    /* A short narrow C over a long depth: C = (C +) the sum over the
     * first half of the depth, then + the sum over the second, on any
     * thread count (the split depends on the shape alone, so the bits do
     * not depend on the threads); two threads take a half each, where
     * the C had a single strip to share.  ki,kj->ij f32, k = 10^6, 8 x 8,
     * two threads: 2.7 -> 1.2 ms. */
    if (csb == 1 && SM(is_short)(m, n) && k >= SMALL_KSPLIT_K &&
        2.0 * (double)m * (double)n * (double)k >= SMALL_MT_FLOPS) {
        T part[2 * SMALL_MR * 2 * W];
        for (int64_t b = 0; b < nb; b++) {
            SM(kjob) kj = {.rs = rs, .n = n, .k = k, .kh = k / 2, .A = A + b * sa,
                           .rsa = rsa, .csa = csa, .B = B + b * sb, .rsb = rsb,
                           .C = C + b * sc, .rsc = rsc, .part = part, .acc = acc};
            atomic_init(&kj.next, 0);
            if (nthreads > 1)
                ein_pool_run(2, SM(ktask), &kj);
            else
                SM(ktask)(&kj, 0, 1);
            for (int64_t i = 0; i < m; i++)
                for (int64_t j = 0; j < n; j++)
                    kj.C[i * rsc + j] += part[i * n + j];
        }
        return 1;
    }
    if (SM(t_narrow)(m, n, k, rsa)) {
        int64_t cols = m < SMALL_WT_ROWS ? m : SMALL_WT_ROWS;
        T *t = ein_scratch((size_t)(cols * n) * sizeof(T));
        if (!t)
            return 0;
        SM(rows) rt = SM(row_split)(n);
        for (int64_t b = 0; b < nb; b++) {
            const T *a = A + b * sa;
            T *c = C + b * sc;
            for (int64_t i0 = 0; i0 < m; i0 += cols) {
                int64_t mc = m - i0 < cols ? m - i0 : cols;
                SM(rowmajor_mt)(rt, mc, k, B + b * sb, csb, rsb, a + i0, csa, t, mc, 0,
                                nthreads);
                SM(put_transposed)(mc, n, t, mc, c + i0 * rsc, rsc, acc);
            }
        }
        return 1;
    }
    /* A B whose columns are contiguous is copied to rows first, a
     * product at a time, into bc. */
    T *bc = NULL;
    if (csb != 1) {
        bc = ein_scratch((size_t)(k * n) * sizeof(T));
        if (!bc)
            return 0;
    }
    const int64_t rsbc = bc ? n : rsb;   /* B's row stride as the tiles read it */
    if (rs.tiles == 1 && n <= 2 * W) {
        /* One tile a product: picked once, called nb times (after each
         * copy of B, the tile rowmajor would pick, so the same bits).
         * "bij,bkj->bik" 10000 x 4^3, one thread, AMD Zen 3, static
         * builds alternating, minimum, against rowmajor_mt per copied
         * product: f32 460 -> 331 us, f64 321 -> 183 us; 16^3 and 32^3
         * the same. */
        if (bc)
            SM(one_tile_batch)(nb, sa, sb, sc, m, n, k, A, rsa, csa, B, rsb, csb, C, rsc,
                               acc, bc);
        else   /* specialised without the copy: its test cost A B 3% at 4^3 */
            SM(one_tile_batch)(nb, sa, sb, sc, m, n, k, A, rsa, csa, B, rsb, csb, C, rsc,
                               acc, NULL);
        return 1;
    }
    for (int64_t b = 0; b < nb; b++) {
        const T *bb = B + b * sb;
        if (bc) {
            SM(copy_b)(k, n, bb, rsb, csb, bc);
            bb = bc;
        }
        SM(rowmajor_mt)(rs, n, k, A + b * sa, rsa, csa, bb, rsbc, C + b * sc, rsc, acc,
                        nthreads);
    }
    return 1;
}

int SM(ein_gemm_small_batch)(int64_t nb, int64_t sa, int64_t sb, int64_t sc,
                             int64_t m, int64_t n, int64_t k, const T *A,
                             int64_t rsa, int64_t csa, const T *B, int64_t rsb,
                             int64_t csb, T *C, int64_t rsc, int64_t csc, int acc)
{
    return SM(run)(nb, sa, sb, sc, m, n, k, A, rsa, csa, B, rsb, csb, C, rsc,
                   csc, acc, 1);
}

int SM(ein_gemm_small)(int64_t m, int64_t n, int64_t k, const T *A,
                       int64_t rsa, int64_t csa, const T *B, int64_t rsb,
                       int64_t csb, T *C, int64_t rsc, int64_t csc, int acc,
                       int nthreads)
{
    return SM(run)(1, 0, 0, 0, m, n, k, A, rsa, csa, B, rsb, csb, C, rsc, csc,
                   acc, nthreads);
}
