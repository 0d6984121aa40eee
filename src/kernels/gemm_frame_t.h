/* gemm_frame_t.h — the GEMM/GEMV framework body, written once over an
 * element type and included by gemm_frame.c for float and for double.
 * Expects T (element type), SFX (f32/f64) and ARCH (ein_arch_f32/f64). */

#define CAT_(a, b) a##_##b
#define CAT(a, b) CAT_(a, b)
#define F(name) CAT(name, SFX)

/* One full micro-panel of A from mr rows whose columns are contiguous:
 * the mr rows are read side by side and the panel written in order.  A
 * row at a time (the obvious loop) stored with a stride of mr and read
 * one short row after another, so the hardware prefetcher restarted on
 * every row: that loop was ~9% of a 2-thread GEMM, measured.  MRC is a
 * constant in each caller, so the inner loop unrolls.  This and
 * pack_b_rows prefetch their sources (which come from L3 or memory in a
 * large GEMM): AVX2 table, 1024^3 f32 and f64 on one thread, alternating
 * in one process (neither build always first), 1-2.5% less time. */
static inline void F(pack_a_rows)(int64_t kc, const T *restrict a,
                                  int64_t rsa, const int MRC,
                                  T *restrict dst)
{
    for (int64_t p = 0; p < kc; p++, dst += MRC) {
        if (p * sizeof(T) % 64 == 0)   /* four lines ahead of each row */
            for (int ii = 0; ii < MRC; ii++)
                __builtin_prefetch((const char *)(a + ii * rsa + p) + 256, 0, 3);
        for (int ii = 0; ii < MRC; ii++)
            dst[ii] = a[ii * rsa + p];
    }
}

/* The same panel from an A whose columns are contiguous (rsa = 1: "ki,kj"
 * with the summed label outermost): MRC contiguous elements a step, a
 * fixed-size memcpy the compiler inlines, where a loop (even of MRC
 * elements) became a libc memmove per step.  With the edge panels
 * written in the same pass: ijk,ijl->kl 100x100x50 f32, one thread, 733-743
 * -> 708-714 us. */
static inline void F(pack_a_cols)(int64_t kc, const T *restrict a,
                                  int64_t csa, const int MRC,
                                  T *restrict dst)
{
    for (int64_t p = 0; p < kc; p++, dst += MRC)
        memcpy(dst, a + p * csa, (size_t)MRC * sizeof(T));
}

/* All micro-panels of A at once when its columns are contiguous (rsa =
 * 1): depth step p's mc elements are read once, a line at a time, and
 * dealt to the panels, the last one padded with zeros.  Panel by panel,
 * each step's lines were read once per panel: ijk,ijl->kl 100x100x50
 * f32 (m = 50: four panels), one thread, alternating runs, 567-612 ->
 * 545-576 us. */
static inline void F(pack_a_cols_all)(int64_t mc, int64_t kc,
                                      const T *restrict a, int64_t csa,
                                      const int MRC, T *restrict dst)
{
    int64_t full = mc / MRC, rest = mc - full * MRC;
    for (int64_t p = 0; p < kc; p++) {
        const T *src = a + p * csa;
        T *d = dst + p * MRC;
        for (int64_t q = 0; q < full; q++, src += MRC, d += MRC * kc)
            memcpy(d, src, (size_t)MRC * sizeof(T));
        if (rest)
            for (int ii = 0; ii < MRC; ii++)
                d[ii] = ii < rest ? src[ii] : (T)0;
    }
}

/* Pack rows [0, mc) x depth [0, kc) of A into micro-panels of mr rows:
 * panel q holds, for each p, the mr elements A[q*mr + 0:mr, p]; rows past
 * mc are zeros.  Reads A through its strides, whatever their sign. */
static void F(pack_a)(const ARCH *ar, int64_t mc, int64_t kc, const T *A,
                      int64_t rsa, int64_t csa, T *restrict dst)
{
    const int mr = ar->mr;
    /* Columns contiguous: every table's mr has a case here, so the loops
     * below see such an A only for an mr no table has. */
    if (rsa == 1 && csa != 1) {
        switch (mr) {
        case 14: F(pack_a_cols_all)(mc, kc, A, csa, 14, dst); return;
        case 6:  F(pack_a_cols_all)(mc, kc, A, csa, 6, dst); return;
        case 4:  F(pack_a_cols_all)(mc, kc, A, csa, 4, dst); return;
        case 8:  F(pack_a_cols_all)(mc, kc, A, csa, 8, dst); return;
        default: break;
        }
    }
    for (int64_t i0 = 0; i0 < mc; i0 += mr, dst += (int64_t)mr * kc) {
        int64_t me = mc - i0 < mr ? mc - i0 : mr;
        const T *a = A + i0 * rsa;
        if (csa == 1 && me == mr) {
            if (ar->pack_a) {
                ar->pack_a(kc, a, rsa, dst);
                continue;
            }
            switch (mr) {
            case 14: F(pack_a_rows)(kc, a, rsa, 14, dst); continue;
            case 6:  F(pack_a_rows)(kc, a, rsa, 6, dst); continue;
            case 4:  F(pack_a_rows)(kc, a, rsa, 4, dst); continue;
            case 8:  F(pack_a_rows)(kc, a, rsa, 8, dst); continue;
            default: break;
            }
        }
        if (csa == 1) {
            /* Rows contiguous: read each row once, write with stride mr. */
            for (int64_t ii = 0; ii < me; ii++) {
                const T *src = a + ii * rsa;
                for (int64_t p = 0; p < kc; p++)
                    dst[p * mr + ii] = src[p];
            }
        } else {
            for (int64_t p = 0; p < kc; p++)
                for (int64_t ii = 0; ii < me; ii++)
                    dst[p * mr + ii] = a[ii * rsa + p * csa];
        }
        if (me < mr)
            for (int64_t p = 0; p < kc; p++)
                for (int64_t ii = me; ii < mr; ii++)
                    dst[p * mr + ii] = 0;
    }
}

/* Full micro-panels of B whose rows are contiguous, nr a constant in each
 * caller, then an edge panel of ne < NRC columns padded with zeros: row
 * p of B is read once across all panels (one stream, not kc short rows
 * per panel), each full piece a fixed-size copy the compiler inlines:
 * 16-byte pieces, since a loop of elements became a libc memmove call
 * per 32 elements, 5% of a GEMM. */
static inline void F(pack_b_rows)(int64_t kc, int64_t np, int64_t ne,
                                  const T *b, int64_t rsb, const int NRC,
                                  T *restrict dst)
{
    for (int64_t p = 0; p < kc; p++) {
        const T *src = b + p * rsb;
        T *d = dst + p * NRC;
        for (int64_t q = 0; q < np; q++, src += NRC, d += NRC * kc) {
            for (int jj = 0; jj < NRC; jj += 64 / (int)sizeof(T))
                __builtin_prefetch(src + 2 * rsb + jj, 0, 3);
            for (int jj = 0; jj < NRC; jj += EIN_CHUNK / (int)sizeof(T))
                memcpy(d + jj, src + jj, EIN_CHUNK);
        }
        if (ne > 0)
            for (int jj = 0; jj < NRC; jj++)
                d[jj] = jj < ne ? src[jj] : (T)0;
    }
}

/* Pack depth [0, kc) x columns [0, nc) of B into micro-panels of nr
 * columns: panel q holds, for each p, B[p, q*nr + 0:nr]; zeros past nc. */
static void F(pack_b)(const ARCH *ar, int64_t kc, int64_t nc, const T *B,
                      int64_t rsb, int64_t csb, T *restrict dst)
{
    const int nr = ar->nr;
    if (csb == 1) {
        int64_t np = nc / nr, ne = nc - np * nr;
        if (ar->pack_b) {
            ar->pack_b(kc, np, ne, B, rsb, dst);
            return;
        }
        switch (nr) {
        case 32: F(pack_b_rows)(kc, np, ne, B, rsb, 32, dst); return;
        case 16: F(pack_b_rows)(kc, np, ne, B, rsb, 16, dst); return;
        case 8:  F(pack_b_rows)(kc, np, ne, B, rsb, 8, dst); return;
        default: break;
        }
    } else if (rsb == 1 && nc >= nr && ar->pack_b_t) {
        int64_t np = nc / nr, done = np * nr;
        ar->pack_b_t(kc, np, B, csb, dst);
        B += done * csb;
        nc -= done;
        dst += done * kc;
    }
    for (int64_t j0 = 0; j0 < nc; j0 += nr, dst += (int64_t)nr * kc) {
        int64_t ne = nc - j0 < nr ? nc - j0 : nr;
        const T *b = B + j0 * csb;
        if (csb == 1) {
            /* One pass with the zeros: two loops to variable counts were a
             * libc memmove and memset a step. */
            for (int64_t p = 0; p < kc; p++) {
                const T *src = b + p * rsb;
                T *d = dst + p * nr;
                for (int64_t jj = 0; jj < nr; jj++)
                    d[jj] = jj < ne ? src[jj] : (T)0;
            }
        } else {
            if (rsb == 1) {
                for (int64_t jj = 0; jj < ne; jj++) {
                    const T *src = b + jj * csb;
                    for (int64_t p = 0; p < kc; p++)
                        dst[p * nr + jj] = src[p];
                }
            } else {
                for (int64_t p = 0; p < kc; p++)
                    for (int64_t jj = 0; jj < ne; jj++)
                        dst[p * nr + jj] = b[p * rsb + jj * csb];
            }
            if (ne < nr)
                for (int64_t p = 0; p < kc; p++)
                    for (int64_t jj = ne; jj < nr; jj++)
                        dst[p * nr + jj] = 0;
        }
    }
}

/* The unpacked path, used only when no packing buffer can be had. */
static void F(gemm_direct)(int64_t m, int64_t n, int64_t k, const T *A,
                           int64_t rsa, int64_t csa, const T *B, int64_t rsb,
                           int64_t csb, T *C, int64_t rsc, int64_t csc,
                           int beta)
{
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            T s = 0;
            for (int64_t p = 0; p < k; p++)
                s += A[i * rsa + p * csa] * B[p * rsb + j * csb];
            T *c = C + i * rsc + j * csc;
            *c = beta ? *c + s : s;
        }
}

/* Bytes of packing buffer for an m x n x k problem under blocking bl. */
static size_t F(gemm_buf_bytes)(const ARCH *ar, const ein_blocking *bl,
                                int64_t m, int64_t n, int64_t k)
{
    int64_t kc = k < bl->kc ? k : bl->kc;
    int64_t mc = m < bl->mc ? m : bl->mc;
    int64_t nc = n < bl->nc ? n : bl->nc;
    mc = (mc + ar->mr - 1) / ar->mr * ar->mr;
    nc = (nc + ar->nr - 1) / ar->nr * ar->nr;
    return (size_t)((mc + nc) * kc) * sizeof(T) + 128;
}

/* The micro-kernel's flag for the full tile at (ir, jr) of an mc x nc
 * block: the last full tile of a row of tiles (an edge tile may follow)
 * fetches the next A micro-panel, which otherwise comes from L3 as the
 * next row's first tile reads it.  Zen 5, runs paired with a build
 * without (medians of 6-16 pairs): f32 one thread 0.6-2% less time at
 * 2048^3, 1-6% at 4096^3; f64 2048^3 one thread 4.5%; two threads 5% to
 * -1%: this VM's slow phases move every figure by more than that. */
static inline int F(fetch_a)(const ein_blocking *bl, int64_t ir, int mr,
                             int64_t mc, int64_t jr, int nr, int64_t nc)
{
    return jr + 2 * nr > nc && ir + mr < mc ? bl->fetch_a : 0;
}

/* One thread's GEMM over its share of C: the BLIS loops.  ic blocks of A
 * (L3), pc depth blocks, jc blocks of B (L2), then the ir x jr tiles with
 * the A micro-panel held in L1 while B micro-panels stream past it. */
static void F(gemm_st)(const ARCH *ar, const ein_blocking *bl, int64_t m,
                       int64_t n, int64_t k, const T *A, int64_t rsa,
                       int64_t csa, const T *B, int64_t rsb, int64_t csb,
                       T *C, int64_t rsc, int64_t csc, int beta0)
{
    size_t bytes = F(gemm_buf_bytes)(ar, bl, m, n, k);
    T *buf = ein_scratch(bytes);
    if (!buf) {
        F(gemm_direct)(m, n, k, A, rsa, csa, B, rsb, csb, C, rsc, csc, beta0);
        return;
    }
    const int mr = ar->mr, nr = ar->nr;
    int64_t kcmax = k < bl->kc ? k : bl->kc;
    int64_t mcmax = m < bl->mc ? m : bl->mc;
    mcmax = (mcmax + mr - 1) / mr * mr;
    T *ap = buf;
    T *bp = buf + mcmax * kcmax;
    bp = (T *)(((uintptr_t)bp + 63) & ~(uintptr_t)63);
    _Alignas(64) T tmp[EIN_TILE_MAX];

    for (int64_t ic = 0; ic < m; ic += bl->mc) {
        int64_t mc = m - ic < bl->mc ? m - ic : bl->mc;
        for (int64_t pc = 0; pc < k; pc += bl->kc) {
            int64_t kc = k - pc < bl->kc ? k - pc : bl->kc;
            int beta = pc == 0 ? beta0 : 1;
            F(pack_a)(ar, mc, kc, A + ic * rsa + pc * csa, rsa, csa, ap);
            for (int64_t jc = 0; jc < n; jc += bl->nc) {
                int64_t nc = n - jc < bl->nc ? n - jc : bl->nc;
                F(pack_b)(ar, kc, nc, B + pc * rsb + jc * csb, rsb, csb, bp);
                for (int64_t ir = 0; ir < mc; ir += mr) {
                    int64_t me = mc - ir < mr ? mc - ir : mr;
                    const T *a = ap + ir * kc;
                    for (int64_t jr = 0; jr < nc; jr += nr) {
                        int64_t ne = nc - jr < nr ? nc - jr : nr;
                        const T *b = bp + jr * kc;
                        T *c = C + (ic + ir) * rsc + (jc + jr) * csc;
                        if (me == mr && ne == nr && csc == 1) {
                            ar->ukr(kc, a, b, c, rsc,
                                    beta | bl->fetch_c |
                                        F(fetch_a)(bl, ir, mr, mc, jr, nr, nc));
                            continue;
                        }
                        if (csc == 1 && ar->ukr_edge) {
                            ar->ukr_edge(kc, a, b, c, rsc, beta, (int)me, (int)ne);
                            continue;
                        }
                        /* A strided C, or an edge tile of a table with no
                         * edge kernel: into tmp (by the edge kernel when
                         * there is one: C^T of a narrow C is a few rows
                         * of tiles), then only the valid part to C. */
                        if (ar->ukr_edge)
                            ar->ukr_edge(kc, a, b, tmp, nr, 0, (int)me, (int)ne);
                        else
                            ar->ukr(kc, a, b, tmp, nr, 0);
                        for (int64_t ii = 0; ii < me; ii++)
                            for (int64_t jj = 0; jj < ne; jj++) {
                                T *cc = c + ii * rsc + jj * csc;
                                T t = tmp[ii * nr + jj];
                                *cc = beta ? *cc + t : t;
                            }
                    }
                }
            }
        }
    }
}

/* ---- the split over threads ------------------------------------------ */

/* C is cut into a grid of blocks, whole register tiles each (block rows a
 * multiple of mr, columns of nr), that threads claim from an atomic
 * counter: a thread that starts late or loses its core just claims fewer.
 * Every tile sees the same depth blocks in the same order whoever computes
 * it, and k is split only where the shape alone says so (two depth
 * halves, see ein_frame_gemm), so bits do not depend on the thread count. */
typedef struct F(grid) {
    int64_t m, n;              /* C, rows and columns */
    int64_t mb, nb;            /* block rows and columns */
    int64_t bm, bn;            /* blocks down and across */
    int halves;                /* 2: each block twice, once per depth half */
    atomic_llong next;         /* next unclaimed block, row-major */
} F(grid);

/* Blocks for nt threads: about EIN_GRID_PER_THREAD per thread (claimed
 * from a counter, so a late thread costs at most its blocks), shaped as
 * square as the tiles allow,
 * since each block packs its own rows of A and columns of B (re-packing
 * costs mnk (1/mb + 1/nb) element reads in all). */
static void F(grid_plan)(F(grid) *g, int64_t m, int64_t n, int mr, int nr,
                         int nt)
{
    g->m = m;
    g->n = n;
    int64_t mt = (m + mr - 1) / mr, ntl = (n + nr - 1) / nr;
    int64_t want = nt > 1 ? (int64_t)nt * EIN_GRID_PER_THREAD : 1;
    int64_t best_pm = 1, best_pn = 1;
    double best = -1;
    for (int64_t pm = 1; pm <= want && pm <= mt; pm++) {
        int64_t pn = (want + pm - 1) / pm;
        if (pn > ntl)
            pn = ntl;
        int64_t mb = (mt + pm - 1) / pm * mr, nb = (ntl + pn - 1) / pn * nr;
        int64_t cnt = ((m + mb - 1) / mb) * ((n + nb - 1) / nb);
        /* Enough blocks first, then the least re-packing. */
        double cost = (cnt >= want ? 0.0 : 1e9 * (double)(want - cnt)) +
                      1.0 / (double)mb + 1.0 / (double)nb;
        if (best < 0 || cost < best) {
            best = cost;
            best_pm = pm;
            best_pn = pn;
        }
    }
    g->mb = (mt + best_pm - 1) / best_pm * mr;
    g->nb = (ntl + best_pn - 1) / best_pn * nr;
    g->bm = (m + g->mb - 1) / g->mb;
    g->bn = (n + g->nb - 1) / g->nb;
    g->halves = 1;
    atomic_init(&g->next, 0);
}

/* Claims the next block: depth half *h, rows [*i0, *i1), columns
 * [*j0, *j1). */
static int F(grid_claim)(F(grid) *g, int *h, int64_t *i0, int64_t *i1,
                         int64_t *j0, int64_t *j1)
{
    int64_t b = (int64_t)atomic_fetch_add(&g->next, 1);
    if (b >= g->bm * g->bn * g->halves)
        return 0;
    *h = (int)(b / (g->bm * g->bn));
    b %= g->bm * g->bn;
    int64_t bi = b / g->bn, bj = b % g->bn;
    *i0 = bi * g->mb;
    *i1 = *i0 + g->mb < g->m ? *i0 + g->mb : g->m;
    *j0 = bj * g->nb;
    *j1 = *j0 + g->nb < g->n ? *j0 + g->nb : g->n;
    return 1;
}

typedef struct F(gemm_job) {
    const ARCH *ar;
    ein_blocking bl;
    int64_t m, n, k;
    const T *A; int64_t rsa, csa;
    const T *B; int64_t rsb, csb;
    T *C; int64_t rsc, csc;
    int beta;
    int64_t kh;                /* depth split: first step of half 1, else 0 */
    T *part;                   /* half 1's sums, m x n, rows n apart */
    F(grid) grid;
} F(gemm_job);

static void F(gemm_task)(void *ctx, int t, int nt)
{
    F(gemm_job) *j = ctx;
    int64_t i0, i1, j0, j1;
    int h;
    (void)t;
    (void)nt;
    while (F(grid_claim)(&j->grid, &h, &i0, &i1, &j0, &j1)) {
        if (h == 0)
            F(gemm_st)(j->ar, &j->bl, i1 - i0, j1 - j0, j->kh ? j->kh : j->k,
                       j->A + i0 * j->rsa, j->rsa, j->csa, j->B + j0 * j->csb,
                       j->rsb, j->csb, j->C + i0 * j->rsc + j0 * j->csc, j->rsc,
                       j->csc, j->beta);
        else
            F(gemm_st)(j->ar, &j->bl, i1 - i0, j1 - j0, j->k - j->kh,
                       j->A + i0 * j->rsa + j->kh * j->csa, j->rsa, j->csa,
                       j->B + j->kh * j->rsb + j0 * j->csb, j->rsb, j->csb,
                       j->part + i0 * j->n + j0, j->n, 1, 0);
    }
}

/* An outer product (k = 1), C's rows contiguous: row i of C is A[i]
 * times B's row, each element a * b + 0 as the micro-kernel computes it
 * (a sum from zero; C + that when accumulating), so the bits are the
 * tiles'.  Rows [i0, i1) on one thread, each by the table's outer_row
 * (its copy and product loops, in its vectors); `stream`: by
 * non-temporal stores, for a C larger than the last-level cache, which
 * would only pass through it (and be read first to be written).  The
 * packed tiles wrote C six rows at a time.  AVX2 table, "i,j->ij", AMD
 * Zen 3, minimum, alternating: f32 4096^2 one thread 6.5-7.3 ms (tiles)
 * -> 4.1-5.1 (rows) -> 3.2-3.9 (streamed), two threads 3.4-4.6 -> 2.1-2.6
 * -> 1.6-1.9; 2048^2 1.21 -> 0.74 ms; f64 4096^2 11.3 -> 6.5 ms.  (SSE
 * rows of the frame's own, streamed, took 3.0-3.5 ms on two threads.)
 * Below about 1024^2 the small path takes the product first. */
typedef struct F(outer_job) {
    const ARCH *ar;
    int64_t m, n;
    const T *A; int64_t rsa;
    const T *B; int64_t csb;
    T *C; int64_t rsc;
    int acc, stream;
} F(outer_job);

static void F(outer_task)(void *ctx, int t, int nt)
{
    const F(outer_job) *j = ctx;
    int64_t i0 = j->m * t / nt, i1 = j->m * (t + 1) / nt;
    for (int64_t i = i0; i < i1; i++) {
        const T a = j->A[i * j->rsa];
        T *c = j->C + i * j->rsc;
        if (!j->acc) {
            j->ar->outer_row(a, j->B, j->csb, c, j->n, j->stream);
        } else {
            for (int64_t q = 0; q < j->n; q++)
                c[q] += a * j->B[q * j->csb] + (T)0;
        }
    }
    if (j->stream)
        _mm_sfence();
}

void F(ein_frame_gemm)(const ARCH *ar, int64_t m, int64_t n, int64_t k,
                       const T *A, int64_t rsa, int64_t csa, const T *B,
                       int64_t rsb, int64_t csb, T *C, int64_t rsc,
                       int64_t csc, int accumulate, int nthreads)
{
    if (m <= 0 || n <= 0)
        return;
    if (k <= 0) {
        if (!accumulate)
            for (int64_t i = 0; i < m; i++)
                for (int64_t j = 0; j < n; j++)
                    C[i * rsc + j * csc] = 0;
        return;
    }
    /* A single output column or row is a matrix-vector product. */
    if (n == 1) {
        F(ein_frame_gemv)(ar, m, k, A, rsa, csa, B, rsb, C, rsc, accumulate,
                          nthreads);
        return;
    }
    if (m == 1) {
        F(ein_frame_gemv)(ar, n, k, B, csb, rsb, A, csa, C, csc, accumulate,
                          nthreads);
        return;
    }
    /* C^T = B^T A^T: the operands swap, and each stride with them. */
#define CT_SWAP()                                                             \
    do {                                                                      \
        int64_t t_;                                                           \
        const T *tp_;                                                         \
        t_ = m; m = n; n = t_;                                                \
        tp_ = A; A = B; B = tp_;                                              \
        t_ = rsa; rsa = csb; csb = t_;                                        \
        t_ = csa; csa = rsb; rsb = t_;                                        \
        t_ = rsc; rsc = csc; csc = t_;                                        \
    } while (0)
    /* The micro-kernel writes rows of C with contiguous columns; for a
     * column-major C compute C^T instead. */
    if (csc != 1 && (rsc == 1 || (rsc != 0 && EIN_ABS(rsc) < EIN_ABS(csc))))
        CT_SWAP();
    if (k == 1 && csc == 1) {
        const ein_cache_info *ci = ein_cache_info_get();
        double bytes = (double)m * (double)n * (double)sizeof(T);
        F(outer_job) oj = {
            .ar = ar, .m = m, .n = n, .A = A, .rsa = rsa, .B = B, .csb = csb, .C = C, .rsc = rsc,
            .acc = accumulate != 0,
        };
        int nt = (double)m * (double)n >= EIN_GEMV_MT_ELEMS ? nthreads : 1;
        if (nt > m)
            nt = (int)m;
        oj.stream = bytes > ci->stream_bytes;
        if (nt > 1)
            ein_pool_run(nt, F(outer_task), &oj);
        else
            F(outer_task)(&oj, 0, 1);
        return;
    }
    /* A C narrower than a vector has lanes, over a depth too long for the
     * small path (A^T B with a few columns: the gradient of a linear
     * layer over a large batch): its tiles would use n of each vector's
     * lanes, so compute C^T = B^T A^T, one row panel of n rows across
     * A's rows, into a tile buffer written to C element by element once
     * per depth block.  Taken while it saves a quarter of the vector
     * FMAs, as the small path's transposed route. */
    {
        int64_t lanes = ar->nr / 2, vn = (n + lanes - 1) / lanes;
        if (ar->ukr_edge && n <= ar->mr && m > n && csc == 1 &&
            4 * n * ((m + lanes - 1) / lanes) <= 3 * m * vn)
            CT_SWAP();
    }
#undef CT_SWAP
    F(gemm_job) job = {
        .ar = ar, .bl = ein_blocking_for(ar->mr, ar->nr, sizeof(T), m, n, k),
        .m = m, .n = n, .k = k, .A = A, .rsa = rsa, .csa = csa,
        .B = B, .rsb = rsb, .csb = csb, .C = C, .rsc = rsc, .csc = csc,
        .beta = accumulate != 0,
    };
    int64_t ntile = (n + ar->nr - 1) / ar->nr, mtile = (m + ar->mr - 1) / ar->mr;
    double flops = 2.0 * (double)m * (double)n * (double)k;
    /* A small C over a long depth (A^T B with the summed label outermost,
     * "ki,kj->ij"): the depth is summed in two halves, C = (C +) half 0,
     * then C += half 1, on any thread count (the halves depend on the
     * shape alone, so the bits do not depend on the threads).  Two
     * threads then each pack half of A and B; split over C, each packed
     * all of one of them. */
    int64_t kc = job.bl.kc, big = m > n ? m : n;
    double pbytes = (double)m * (double)n * (double)sizeof(T);
    if (flops >= EIN_GEMM_MT_FLOPS && k / 4 >= kc && k / EIN_KSPLIT_RATIO >= big &&
        pbytes <= EIN_KSPLIT_BYTES) {
        int64_t nb = (k + kc - 1) / kc;
        job.part = ein_malloc((size_t)pbytes);
        if (job.part)
            job.kh = (nb + 1) / 2 * kc;
    }
    int nt = nthreads;
    /* Below this much work a second thread costs more than it saves. */
    if (flops < EIN_GEMM_MT_FLOPS || (ntile < 2 && mtile < 2 && !job.kh))
        nt = 1;
    F(grid_plan)(&job.grid, m, n, ar->mr, ar->nr, job.kh ? (nt + 1) / 2 : nt);
    if (job.kh)
        job.grid.halves = 2;
    if (nt > 1)
        ein_pool_run(nt, F(gemm_task), &job);
    else
        F(gemm_task)(&job, 0, 1);
    if (job.kh) {
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < n; j++)
                C[i * rsc + j * csc] += job.part[i * n + j];
    }
    ein_free(job.part);
}

/* ein_frame_gemm_few through the table's gemv_multi: rows [0, half) or
 * [half, n) of W, claimed from a counter, each against every row of A
 * four at a time, EIN_FEW_CHUNK bytes of W at a time so that W stays in
 * L2 for the passes after the first. */
typedef struct F(few_job) {
    const ARCH *ar;
    int64_t m, n, k, half;
    const T *A; int64_t rsa;
    const T *B; int64_t csb;
    T *C; int64_t rsc, csc;
    int acc;
    atomic_int next;
} F(few_job);

static void F(few_task)(void *ctx, int t, int nt)
{
    F(few_job) *j = ctx;
    (void)t;
    (void)nt;
    int64_t rows = (int64_t)(EIN_FEW_CHUNK / ((double)j->k * (double)sizeof(T)));
    rows = rows < 4 ? 4 : rows / 4 * 4;
    for (int h; (h = atomic_fetch_add(&j->next, 1)) < 2;) {
        int64_t r0 = h ? j->half : 0, r1 = h ? j->n : j->half;
        for (int64_t c0 = r0; c0 < r1; c0 += rows) {
            int64_t c1 = r1 - c0 < rows ? r1 : c0 + rows;
            for (int64_t i = 0; i < j->m; i += 4)
                j->ar->gemv_multi((int)(j->m - i < 4 ? j->m - i : 4), c1 - c0, j->k,
                                  j->B + c0 * j->csb, j->csb, j->A + i * j->rsa,
                                  j->rsa, j->C + i * j->rsc + c0 * j->csc, j->rsc,
                                  j->csc, j->acc);
        }
    }
}

/* x W^T for a small batch x whose W the cache holds (see EIN_FEW_L2).
 * "ij,kj->ik", one thread, alternating builds (before: the narrow
 * product, or for small shapes a copy of W and the unpacked tiles),
 * with GEMVs: f32 [2, 50] x [50, 50]^T 856 -> 155-173 ns (0.25x ->
 * 1.22x OpenBLAS), [4, 100] x [100, 100]^T 3.80 -> 1.01 us; then with
 * gemv_multi where the table has it: f32 [3, 300] x [300, 300]^T 38 ->
 * 8.9 (GEMVs) -> 7.5 us, [4, 500] x [500, 500]^T 121 -> 34 -> 16 us
 * (0.67x -> 4.6x), [8, 300] x [300, 300]^T 18 (narrow) -> 11 us; f64
 * [4, 300] x [300, 300]^T 50 -> 20 -> 9.6 us (0.22x -> 1.0x). */
int F(ein_frame_gemm_few)(const ARCH *ar, int64_t m, int64_t n, int64_t k,
                          const T *A, int64_t rsa, int64_t csa, const T *B,
                          int64_t rsb, int64_t csb, T *C, int64_t rsc,
                          int64_t csc, int accumulate, int nthreads)
{
    int how = ein_gemm_few_takes(m, n, k, csa, rsb, csb, csc, sizeof(T),
                                 EIN_MULTI_BYTES(ar, T), ar->rows_regs);
    if (!how)
        return 0;
    if (how == 3) {
        /* C^T = B^T A^T: B's columns are the few vectors (copied to
         * contiguous rows unless they are), A's rows the rows of W. */
        const T *x = B;
        int64_t rsx = csb;
        if (rsb != 1) {
            T *t = ein_scratch((size_t)(n * k) * sizeof(T));
            if (!t)
                return 0;
            if (ar->cols_to_rows && csb == 1 && rsb == n)
                ar->cols_to_rows(k, (int)n, B, t);
            else
                for (int64_t p = 0; p < k; p++)
                    for (int64_t v = 0; v < n; v++)
                        t[v * k + p] = B[p * rsb + v * csb];
            x = t;
            rsx = k;
        }
        int64_t t;
        const T *tp;
        t = m; m = n; n = t;
        tp = A; A = x; B = tp;
        csb = rsa;
        rsa = rsx;
        t = rsc; rsc = csc; csc = t;
        how = 2;
    }
    if (how == 2) {
        F(few_job) job = {.ar = ar, .m = m, .n = n, .k = k, .A = A, .rsa = rsa,
                          .B = B, .csb = csb, .C = C, .rsc = rsc, .csc = csc,
                          .acc = accumulate};
        /* Row halves of W (multiples of four: the kernel's blocks) per
         * thread past the GEMV threshold; a row's bits do not depend on
         * the half it is in. */
        int nt = (double)n * (double)k >= EIN_GEMV_MT_ELEMS && n >= 8 ? nthreads : 1;
        job.half = nt > 1 ? (n / 2 + 3) / 4 * 4 : n;
        atomic_init(&job.next, 0);
        if (nt > 1)
            ein_pool_run(2, F(few_task), &job);
        else
            F(few_task)(&job, 0, 1);
        return 1;
    }
    for (int64_t i = 0; i < m; i++)
        F(ein_frame_gemv)(ar, n, k, B, csb, rsb, A + i * rsa, csa, C + i * rsc, 1,
                          accumulate, nthreads);
    return 1;
}

/* ---- GEMV ------------------------------------------------------------ */

typedef struct F(gemv_job) {
    const ARCH *ar;
    int64_t m, n;
    const T *A; int64_t rsa, csa;
    const T *x; int64_t incx;
    T *y; int64_t incy;
    T *ytmp;                          /* contiguous y for the columns path */
    int acc, rows;
    int mode;                         /* rows: ein_gemv_rows_mode of the whole */
    int64_t chunk;                    /* rows claimed at a time */
    int fixed;                        /* share t is chunk t, not claimed */
    int64_t khalf;                    /* columns split: first column of half 1, else 0 */
    int64_t span;                     /* bytes of A each thread reads */
    T *part;                          /* columns split: half 1's sums */
    atomic_llong next;                /* next chunk of rows to claim */
} F(gemv_job);

/* Columns contiguous: rows [lo, hi) over columns [j0, j1) into dst. */
static void F(gemv_cols_part)(const F(gemv_job) *j, int64_t lo, int64_t hi,
                              int64_t j0, int64_t j1, T *dst, int acc)
{
    j->ar->gemv_cols(hi - lo, j1 - j0, j->A + lo * j->rsa + j0 * j->csa, j->csa,
                     j->x + j0 * j->incx, j->incx, dst, acc, j->span);
}

/* Rows [lo, hi) of the job. */
static void F(gemv_range)(const F(gemv_job) *j, int64_t lo, int64_t hi)
{
    if (j->rows) {
        j->ar->gemv_rows(hi - lo, j->n, j->A + lo * j->rsa, j->rsa, j->x,
                         j->y + lo * j->incy, j->incy, j->acc, j->mode);
    } else if (!j->ytmp) {
        F(gemv_cols_part)(j, lo, hi, 0, j->n, j->y + lo, j->acc);
    } else {
        F(gemv_cols_part)(j, lo, hi, 0, j->n, j->ytmp + lo, 0);
        for (int64_t i = lo; i < hi; i++) {
            T *yy = j->y + i * j->incy;
            *yy = j->acc ? *yy + j->ytmp[i] : j->ytmp[i];
        }
    }
}

/* Columns split in two: rows [lo, hi) over columns [0, khalf) (half 0,
 * into y or ytmp as gemv_range would) or [khalf, n) (half 1, into part). */
static void F(gemv_half)(const F(gemv_job) *j, int64_t lo, int64_t hi, int h)
{
    if (h)
        F(gemv_cols_part)(j, lo, hi, j->khalf, j->n, j->part + lo, 0);
    else if (j->ytmp)
        F(gemv_cols_part)(j, lo, hi, 0, j->khalf, j->ytmp + lo, 0);
    else
        F(gemv_cols_part)(j, lo, hi, 0, j->khalf, j->y + lo, j->acc);
}

/* Task u of the job: rows [u * chunk, ...), or with the columns split,
 * half u % 2 of rows [(u / 2) * chunk, ...). */
static void F(gemv_unit)(const F(gemv_job) *j, int64_t u)
{
    int64_t lo = (j->khalf ? u / 2 : u) * j->chunk;
    int64_t hi = lo + j->chunk < j->m ? lo + j->chunk : j->m;
    if (j->khalf)
        F(gemv_half)(j, lo, hi, (int)(u % 2));
    else
        F(gemv_range)(j, lo, hi);
}

/* Tasks go out from an atomic counter, or as fixed shares t, t + nt, ...
 * (all of them when run alone). */
static void F(gemv_task)(void *ctx, int t, int nt)
{
    F(gemv_job) *j = ctx;
    int64_t units = (j->m + j->chunk - 1) / j->chunk * (j->khalf ? 2 : 1);
    if (j->fixed) {
        for (int64_t u = t; u < units; u += nt)
            F(gemv_unit)(j, u);
        return;
    }
    for (;;) {
        int64_t u = (int64_t)atomic_fetch_add(&j->next, 1);
        if (u >= units)
            return;
        F(gemv_unit)(j, u);
    }
}

static __attribute__((noinline)) void F(gemv_general)(
    const ARCH *ar, int64_t m, int64_t n, const T *A, int64_t rsa, int64_t csa,
    const T *x, int64_t incx, T *y, int64_t incy, int accumulate, int nthreads);

int F(ein_frame_gemv_batch)(const ARCH *ar, int64_t nb, int64_t sa, int64_t sx,
                            int64_t sy, int64_t m, int64_t n, const T *A,
                            int64_t rsa, int64_t csa, const T *x, int64_t incx,
                            T *y, int64_t incy, int accumulate)
{
    if (!ein_gemv_rows_direct(m, n, rsa, csa, incx)) {
        /* gemv_general's one call for each matrix, without its set-up. */
        if (!ein_gemv_cols_direct(m, n, rsa, csa, incy))
            return 0;
        for (int64_t b = 0; b < nb; b++)
            ar->gemv_cols(m, n, A + b * sa, csa, x + b * sx, incx, y + b * sy,
                          accumulate != 0, (int64_t)(m * n * (int64_t)sizeof(T)));
        return 1;
    }
    if (nb <= 0)
        return 1;
    if (ar->gemv_rows_batch &&
        ar->gemv_rows_batch(nb, sa, sx, sy, m, n, A, rsa, x, y, incy, accumulate != 0))
        return 1;
    int mode = ein_gemv_rows_mode(m, n, sizeof(T));
    for (int64_t b = 0; b < nb; b++)
        ar->gemv_rows(m, n, A + b * sa, rsa, x + b * sx, y + b * sy, incy,
                      accumulate != 0, mode);
    return 1;
}

void F(ein_frame_gemv)(const ARCH *ar, int64_t m, int64_t n, const T *A,
                       int64_t rsa, int64_t csa, const T *x, int64_t incx,
                       T *y, int64_t incy, int accumulate, int nthreads)
{
    if (ein_gemv_rows_direct(m, n, rsa, csa, incx)) {
        ar->gemv_rows(m, n, A, rsa, x, y, incy, accumulate != 0,
                      ein_gemv_rows_mode(m, n, sizeof(T)));
        return;
    }
    if (ein_gemv_cols_direct(m, n, rsa, csa, incy)) {
        ar->gemv_cols(m, n, A, csa, x, incx, y, accumulate != 0,
                      (int64_t)(m * n * (int64_t)sizeof(T)));
        return;
    }
    F(gemv_general)(ar, m, n, A, rsa, csa, x, incx, y, incy, accumulate, nthreads);
}

static void F(gemv_general)(const ARCH *ar, int64_t m, int64_t n, const T *A,
                            int64_t rsa, int64_t csa, const T *x, int64_t incx,
                            T *y, int64_t incy, int accumulate, int nthreads)
{
    if (m <= 0)
        return;
    if (n <= 0) {
        if (!accumulate)
            for (int64_t i = 0; i < m; i++)
                y[i * incy] = 0;
        return;
    }
    /* x strided or reversed: rows in blocks whatever the size, so a
     * caller that splits the rows (exec.c, gemv_part) gets the same bits. */
    const int mode = csa == 1 && incx == 1 ? ein_gemv_rows_mode(m, n, sizeof(T))
                                           : EIN_ROWS_BLOCKS;
    /* Reversed rows or columns read forwards: reverse the vector too. */
    if (csa == -1 && n > 1) {
        A -= n - 1;
        csa = 1;
        x += (n - 1) * incx;
        incx = -incx;
    }
    if (rsa == -1 && csa != 1 && m > 1) {
        A -= m - 1;
        rsa = 1;
        y += (m - 1) * incy;
        incy = -incy;
    }
    F(gemv_job) job = {
        .ar = ar, .m = m, .n = n, .A = A, .rsa = rsa, .csa = csa,
        .x = x, .incx = incx, .y = y, .incy = incy, .acc = accumulate != 0,
    };
    atomic_init(&job.next, 0);
    if (csa == 1 && (rsa != 1 || n >= m)) {
        job.rows = 1;
        job.mode = mode;
        if (incx != 1) {
            T *xc = ein_scratch((size_t)n * sizeof(T));
            if (!xc)
                goto general;
            for (int64_t j = 0; j < n; j++)
                xc[j] = x[j * incx];
            job.x = xc;
            job.incx = 1;
        }
    } else if (rsa == 1) {
        /* Columns contiguous, past the threading threshold: the columns
         * are summed in two halves, y = (y +) sum
         * over the first + sum over the second, on any thread count (the
         * halves do not depend on the threads, so neither do the bits).
         * Two threads then each read one contiguous half of the matrix;
         * split by rows, each read a segment of every column, and segments
         * a power of two apart use a fraction of the L2's sets: 1024^2 f32
         * on 2 threads took 75-84 us a call, 35-42 in halves (the rows-
         * contiguous case: ~30). */
        int64_t kh = ein_gemv_cols_half(m, n);
        size_t need = (size_t)m * (size_t)((incy != 1) + (kh > 0));
        T *buf = need ? ein_scratch(need * sizeof(T)) : NULL;
        if (need && !buf)
            goto general;
        if (incy != 1)
            job.ytmp = buf;
        if (kh > 0) {
            job.khalf = kh;
            job.part = buf + (incy != 1 ? m : 0);
        }
    } else {
        goto general;
    }
    int nt = nthreads;
    if ((double)m * (double)n < EIN_GEMV_MT_ELEMS ||
        (m < 2 * EIN_GEMV_ROWS_UNIT && !job.khalf && !job.rows))
        nt = 1;
    if (nt > m)
        nt = (int)m;
    /* A few chunks per thread, whole units each, at most EIN_GEMV_CHUNK.
     * Contiguous columns are read a chunk's rows at a time, once per
     * column: there a chunk is a whole share, so each column is read in
     * runs as long as the thread count allows.  With 256-row chunks both
     * threads jumped through memory 1 KiB at a time, and 2 threads ran
     * 4096^2 f32 at 0.6x OpenBLAS; two chunks per thread measured 0.65-
     * 0.95x, one 1.0-1.07x (einsum-bench, 1024^2 to 4096^2, f32). */
    int64_t units = (m + EIN_GEMV_ROWS_UNIT - 1) / EIN_GEMV_ROWS_UNIT;
    int64_t cu = units / (4 * (int64_t)nt);
    cu = cu < 1 ? 1 : cu > EIN_GEMV_CHUNK ? EIN_GEMV_CHUNK : cu;
    if (!job.rows) {   /* one share per thread: each half a share of two */
        int shares = job.khalf ? (nt + 1) / 2 : nt;
        cu = (units + shares - 1) / shares;
    }
    /* A matrix the threads' L2s hold between calls: share t is always the
     * same rows, so a repeated call finds its share in its own core's L2
     * (chunks claimed in turn landed in the other core's half the time).
     * Measured, 2 threads, einsum-bench: [10000, 100] f32 ("abc,c->ab")
     * 37-41 -> 29-31 us, 0.85-0.92x -> 1.03-1.12x OpenBLAS. */
    const ein_cache_info *ci = ein_cache_info_get();
    if ((double)m * (double)n * (double)sizeof(T) <= (double)nt * (double)ci->l2) {
        if (job.rows)
            cu = (units + nt - 1) / nt;
        job.fixed = 1;
    }
    job.chunk = cu * EIN_GEMV_ROWS_UNIT;
    /* Few long rows (fewer than two units), rows contiguous: one equal
     * share of rows per thread.  A row's sum does not depend on the rows
     * summed with it, so neither do the bits.  Measured, 2 threads,
     * einsum-bench "ij,j->i" f32: [100, 60000] 900-905 -> 443-446 us,
     * [10, 600000] 1.26-1.27 -> 0.45 ms; before, one thread took them all. */
    if (job.rows && m < 2 * EIN_GEMV_ROWS_UNIT && nt > 1) {
        job.chunk = (m + nt - 1) / nt;
        job.fixed = 1;
    }
    job.span = (int64_t)((double)m * (double)n * (double)sizeof(T) / nt);
    if (nt > 1)
        ein_pool_run(nt, F(gemv_task), &job);
    else if (job.khalf)
        F(gemv_task)(&job, 0, 1);
    else
        F(gemv_range)(&job, 0, m);
    if (job.khalf && job.ytmp) {   /* both halves done: y = (y +) half 0 + half 1 */
        for (int64_t i = 0; i < m; i++) {
            T s = job.ytmp[i] + job.part[i];
            y[i * incy] = job.acc ? y[i * incy] + s : s;
        }
    } else if (job.khalf) {
        for (int64_t i = 0; i < m; i++)
            y[i] += job.part[i];
    }
    return;

general:
    /* Neither rows nor columns contiguous (or no scratch): plain loops,
     * one accumulator per y element. */
    for (int64_t i = 0; i < m; i++) {
        T s = 0;
        for (int64_t j = 0; j < n; j++)
            s += A[i * rsa + j * csa] * x[j * incx];
        T *yy = y + i * incy;
        *yy = accumulate ? *yy + s : s;
    }
}

/* ---- tensor GEMM ----------------------------------------------------- */

/* Each group is flattened in C order over its dims; per-index offset
 * tables (one per tensor the group indexes) let packing read any
 * permutation.  Within a group, the trailing dims whose strides chain
 * contiguously in one tensor form that tensor's "run": inside a run the
 * offsets step by a constant, so packing takes the 2-D strided paths
 * (unit stride: contiguous copies) and C tiles go straight to the
 * micro-kernel. */
typedef struct F(tgemm_job) {
    const ARCH *ar;
    ein_blocking bl;
    int64_t m, n, k;
    const T *A, *B;
    T *C;
    const int64_t *am, *cm;           /* per row i: offsets in A, C */
    const int64_t *bn, *cn;           /* per column j: offsets in B, C */
    const int64_t *ak, *bk;           /* per depth p: offsets in A, B */
    int64_t am_run, am_st, cm_run, cm_st;   /* runs: extent, stride */
    int64_t bn_run, bn_st, cn_run, cn_st;
    int64_t ak_run, ak_st, bk_run, bk_st;
    int beta;
    F(grid) grid;
} F(tgemm_job);

/* A piece of sl <= w indices by pl depth steps, x at stride xs and p at
 * ks, into panel rows w apart.  With the depth contiguous (ks == 1) the
 * plain loop walked one index's pl steps at a time, each write to a new
 * line of the panel: a 432-step panel of 32 (55 KB) does not fit L1, so
 * every write went to L2.  Sixteen steps at a time keep the lines they
 * write in L1 while the indices go by. */
static inline __attribute__((always_inline)) void F(tpiece)(
    const T *restrict src, int64_t xs, int64_t ks, int64_t sl, int64_t pl, int w,
    T *restrict d)
{
    if (xs == 1) {
        for (int64_t q = 0; q < pl; q++)
            for (int64_t ii = 0; ii < sl; ii++)
                d[q * w + ii] = src[q * ks + ii];
    } else if (ks == 1) {
        for (int64_t q0 = 0; q0 < pl; q0 += 16) {
            int64_t qe = pl - q0 < 16 ? pl - q0 : 16;
            for (int64_t ii = 0; ii < sl; ii++)
                for (int64_t q = q0; q < q0 + qe; q++)
                    d[q * w + ii] = src[ii * xs + q];
        }
    } else {
        for (int64_t q = 0; q < pl; q++)
            for (int64_t ii = 0; ii < sl; ii++)
                d[q * w + ii] = src[q * ks + ii * xs];
    }
}

/* A whole panel (w indices, one stride) over pl depth steps of one
 * stride, by the table's packing where it has one: indices contiguous,
 * w-element copies (pack_a_cols, w a constant); depth contiguous, A's
 * rows as pack_a reads them, B's columns as pack_b_t does.  Returns 0
 * where neither applies. */
static int F(tpanel)(const ARCH *ar, int side_b, const T *src, int64_t xs,
                     int64_t ks, int64_t pl, int w, T *restrict d)
{
    if (xs == 1) {
        switch (w) {
        case 32: F(pack_a_cols)(pl, src, ks, 32, d); return 1;
        case 16: F(pack_a_cols)(pl, src, ks, 16, d); return 1;
        case 14: F(pack_a_cols)(pl, src, ks, 14, d); return 1;
        case 8:  F(pack_a_cols)(pl, src, ks, 8, d); return 1;
        case 6:  F(pack_a_cols)(pl, src, ks, 6, d); return 1;
        case 4:  F(pack_a_cols)(pl, src, ks, 4, d); return 1;
        default: return 0;
        }
    }
    if (ks == 1 && side_b && ar->pack_b_t) {
        ar->pack_b_t(pl, 1, src, xs, d);
        return 1;
    }
    if (ks == 1 && !side_b && ar->pack_a) {
        ar->pack_a(pl, src, xs, d);
        return 1;
    }
    return 0;
}

/* Pack indices [x0, x0 + xc) of one side (A's rows, or B's columns when
 * side_b) by depth [p0, p0 + kc) into micro-panels of w: panel q holds,
 * for each p, the w elements at x = q*w + 0:w; zeros past xc.  Offsets
 * come from the tables xo (per x) and ko (per p), which run with constant
 * strides xs and ks for stretches of xrun and krun indices: each stretch
 * pair is one 2-D strided block: a whole panel by tpanel, the rest (a
 * panel cut by the end of a run) by tpiece.  All copies: no bit of a
 * result depends on the path.  With every block by element loops,
 * einsum-bench's transposed-view workloads (A stored dcba, B's columns
 * contiguous in depth), f32 48^4, ran at 0.84-0.89 of the GEMM rate of
 * the same FLOPs on one thread and 0.84-0.87 on two; now 0.91-0.94 and
 * 0.90-0.95 (alternating builds). */
static void F(tpack)(const ARCH *ar, int side_b, const T *base,
                     const int64_t *xo, int64_t xrun, int64_t xs,
                     const int64_t *ko, int64_t krun, int64_t ks, int w,
                     int64_t x0, int64_t xc, int64_t p0, int64_t kc,
                     T *restrict dst)
{
    for (int64_t i0 = 0; i0 < xc; i0 += w, dst += (int64_t)w * kc) {
        int64_t we = xc - i0 < w ? xc - i0 : w;
        for (int64_t s0 = 0; s0 < we;) {
            int64_t x = x0 + i0 + s0;
            int64_t sl = xrun - x % xrun;
            if (sl > we - s0)
                sl = we - s0;
            for (int64_t p = p0; p < p0 + kc;) {
                int64_t pl = krun - p % krun;
                if (pl > p0 + kc - p)
                    pl = p0 + kc - p;
                const T *src = base + xo[x] + ko[p];
                T *d = dst + (p - p0) * w + s0;
                if (sl < w || !F(tpanel)(ar, side_b, src, xs, ks, pl, w, d))
                    F(tpiece)(src, xs, ks, sl, pl, w, d);
                p += pl;
            }
            s0 += sl;
        }
        if (we < w)
            for (int64_t p = 0; p < kc; p++)
                for (int64_t ii = we; ii < w; ii++)
                    dst[p * w + ii] = 0;
    }
}

/* A's rows [r0, r0 + mc) x depth [p0, p0 + kc), as pack_a lays them out. */
static void F(tpack_a)(const F(tgemm_job) *j, int64_t r0, int64_t mc,
                       int64_t p0, int64_t kc, T *restrict dst)
{
    F(tpack)(j->ar, 0, j->A, j->am, j->am_run, j->am_st, j->ak, j->ak_run,
             j->ak_st, j->ar->mr, r0, mc, p0, kc, dst);
}

/* B's depth [p0, p0 + kc) x columns [c0, c0 + nc), as pack_b lays them out. */
static void F(tpack_b)(const F(tgemm_job) *j, int64_t p0, int64_t kc,
                       int64_t c0, int64_t nc, T *restrict dst)
{
    F(tpack)(j->ar, 1, j->B, j->bn, j->bn_run, j->bn_st, j->bk, j->bk_run,
             j->bk_st, j->ar->nr, c0, nc, p0, kc, dst);
}

/* Writes a computed tile (tmp, nr columns apart) into C rows [r, r + me)
 * x columns [c, c + ne) through the tables. */
static void F(tscatter)(const F(tgemm_job) *j, const T *tmp, int64_t r,
                        int64_t me, int64_t c, int64_t ne, int beta)
{
    const int nr = j->ar->nr;
    int ccontig = j->cn_st == 1 && c % j->cn_run + ne <= j->cn_run;
    for (int64_t ii = 0; ii < me; ii++) {
        T *crow = j->C + j->cm[r + ii];
        const T *t = tmp + ii * nr;
        if (ccontig) {
            T *cc = crow + j->cn[c];
            if (beta)
                for (int64_t jj = 0; jj < ne; jj++)
                    cc[jj] += t[jj];
            else
                for (int64_t jj = 0; jj < ne; jj++)
                    cc[jj] = t[jj];
        } else {
            for (int64_t jj = 0; jj < ne; jj++) {
                T *cc = crow + j->cn[c + jj];
                *cc = beta ? *cc + t[jj] : t[jj];
            }
        }
    }
}

/* The unpacked path, when no packing buffer can be had: one tile of
 * rows at a time through the tables. */
static void F(tgemm_direct)(const F(tgemm_job) *j, int64_t i0, int64_t i1,
                            int64_t j0, int64_t j1)
{
    for (int64_t i = i0; i < i1; i++)
        for (int64_t c = j0; c < j1; c++) {
            T s = 0;
            for (int64_t p = 0; p < j->k; p++)
                s += j->A[j->am[i] + j->ak[p]] * j->B[j->bk[p] + j->bn[c]];
            T *cc = j->C + j->cm[i] + j->cn[c];
            *cc = j->beta ? *cc + s : s;
        }
}

/* One block of C, rows [i0, i1) x columns [j0, j1): gemm_st's loops. */
static void F(tgemm_st)(const F(tgemm_job) *j, int64_t i0, int64_t i1,
                        int64_t j0, int64_t j1)
{
    const ARCH *ar = j->ar;
    const ein_blocking *bl = &j->bl;
    const int mr = ar->mr, nr = ar->nr;
    int64_t m = i1 - i0, n = j1 - j0, k = j->k;
    T *buf = ein_scratch(F(gemm_buf_bytes)(ar, bl, m, n, k));
    if (!buf) {
        F(tgemm_direct)(j, i0, i1, j0, j1);
        return;
    }
    int64_t kcmax = k < bl->kc ? k : bl->kc;
    int64_t mcmax = m < bl->mc ? m : bl->mc;
    mcmax = (mcmax + mr - 1) / mr * mr;
    T *ap = buf;
    T *bp = buf + mcmax * kcmax;
    bp = (T *)(((uintptr_t)bp + 63) & ~(uintptr_t)63);
    _Alignas(64) T tmp[EIN_TILE_MAX];

    for (int64_t ic = i0; ic < i1; ic += bl->mc) {
        int64_t mc = i1 - ic < bl->mc ? i1 - ic : bl->mc;
        for (int64_t pc = 0; pc < k; pc += bl->kc) {
            int64_t kc = k - pc < bl->kc ? k - pc : bl->kc;
            int beta = pc == 0 ? j->beta : 1;
            F(tpack_a)(j, ic, mc, pc, kc, ap);
            for (int64_t jc = j0; jc < j1; jc += bl->nc) {
                int64_t nc = j1 - jc < bl->nc ? j1 - jc : bl->nc;
                F(tpack_b)(j, pc, kc, jc, nc, bp);
                for (int64_t ir = 0; ir < mc; ir += mr) {
                    int64_t me = mc - ir < mr ? mc - ir : mr;
                    int64_t r = ic + ir;
                    /* Rows of the tile one constant stride apart in C? */
                    int rows_ok = r % j->cm_run + me <= j->cm_run;
                    const T *a = ap + ir * kc;
                    for (int64_t jr = 0; jr < nc; jr += nr) {
                        int64_t ne = nc - jr < nr ? nc - jr : nr;
                        int64_t c = jc + jr;
                        const T *b = bp + jr * kc;
                        if (rows_ok && j->cn_st == 1 && c % j->cn_run + ne <= j->cn_run) {
                            T *ct = j->C + j->cm[r] + j->cn[c];
                            if (me == mr && ne == nr) {
                                ar->ukr(kc, a, b, ct, j->cm_st,
                                        beta | bl->fetch_c |
                                            F(fetch_a)(bl, ir, mr, mc, jr, nr, nc));
                                continue;
                            }
                            if (ar->ukr_edge) {
                                ar->ukr_edge(kc, a, b, ct, j->cm_st, beta, (int)me,
                                             (int)ne);
                                continue;
                            }
                        }
                        ar->ukr(kc, a, b, tmp, nr, 0);
                        F(tscatter)(j, tmp, r, me, c, ne, beta);
                    }
                }
            }
        }
    }
}

static void F(tgemm_task)(void *ctx, int t, int nt)
{
    F(tgemm_job) *j = ctx;
    int64_t i0, i1, j0, j1;
    int h;   /* one half: tensor GEMMs do not split the depth */
    (void)t;
    (void)nt;
    while (F(grid_claim)(&j->grid, &h, &i0, &i1, &j0, &j1))
        F(tgemm_st)(j, i0, i1, j0, j1);
}

/* Offsets of every index of a normalised group in its two tensors, C
 * order: an odometer. */
static void F(toffsets)(const ein_group *g, int64_t *o0, int64_t *o1)
{
    int64_t idx[EIN_GROUP_MAX] = {0}, a = 0, b = 0;
    int64_t total = 1;
    for (int d = 0; d < g->ndim; d++)
        total *= g->ext[d];
    for (int64_t i = 0; i < total; i++) {
        o0[i] = a;
        o1[i] = b;
        for (int d = g->ndim - 1; d >= 0; d--) {
            a += g->stride[0][d];
            b += g->stride[1][d];
            if (++idx[d] < g->ext[d])
                break;
            a -= g->stride[0][d] * g->ext[d];
            b -= g->stride[1][d] * g->ext[d];
            idx[d] = 0;
        }
    }
}

/* No offset tables (allocation failed, or nothing to sum): decode each
 * index by division.  Slow but needs no memory. */
static int64_t F(toff)(const ein_group *g, int t, int64_t i)
{
    int64_t o = 0;
    for (int d = g->ndim - 1; d >= 0; d--) {
        o += i % g->ext[d] * g->stride[t][d];
        i /= g->ext[d];
    }
    return o;
}

static void F(tgemm_naive)(const ein_group *gm, const ein_group *gn,
                           const ein_group *gk, int64_t m, int64_t n,
                           int64_t k, const T *A, const T *B, T *C, int beta)
{
    for (int64_t i = 0; i < m; i++) {
        int64_t oa = F(toff)(gm, 0, i), oc = F(toff)(gm, 1, i);
        for (int64_t c = 0; c < n; c++) {
            int64_t ob = F(toff)(gn, 0, c);
            T s = 0;
            for (int64_t p = 0; p < k; p++)
                s += A[oa + F(toff)(gk, 0, p)] * B[F(toff)(gk, 1, p) + ob];
            T *cc = C + oc + F(toff)(gn, 1, c);
            *cc = beta ? *cc + s : s;
        }
    }
}

void F(ein_frame_tgemm)(const ARCH *ar, const ein_group *m,
                        const ein_group *n, const ein_group *k, const T *A,
                        const T *B, T *C, int accumulate, int nthreads)
{
    ein_group gm, gn, gk, gks;
    /* Tiles want unit-stride C columns: if only the m group has them,
     * compute C^T = B^T A^T (the groups swap roles; k's tensors swap). */
    if (!ein_group_has_unit(n, 1) && ein_group_has_unit(m, 1)) {
        const ein_group *t = m;
        m = n;
        n = t;
        const T *tp = A;
        A = B;
        B = tp;
        gks = *k;
        for (int d = 0; d < EIN_GROUP_MAX; d++) {
            int64_t s = gks.stride[0][d];
            gks.stride[0][d] = gks.stride[1][d];
            gks.stride[1][d] = s;
        }
        k = &gks;
    }
    /* Order each group's dims so the innermost walks the unit stride that
     * matters most: k by A (rows read contiguously) else by B; m by A
     * else by C; n by C (the micro-kernel's contiguous columns) else B. */
    int64_t em = ein_group_norm(m, ein_group_has_unit(m, 0) ? 0 : 1, &gm);
    int64_t en = ein_group_norm(n, ein_group_has_unit(n, 1) ? 1
                                   : ein_group_has_unit(n, 0) ? 0 : 1, &gn);
    int64_t ek = ein_group_norm(k, !ein_group_has_unit(k, 0) &&
                                   ein_group_has_unit(k, 1), &gk);
    if (em <= 0 || en <= 0)
        return;
    int beta = accumulate != 0;
    if (ek <= 0) {
        if (!beta)
            for (int64_t i = 0; i < em; i++)
                for (int64_t c = 0; c < en; c++)
                    C[F(toff)(&gm, 1, i) + F(toff)(&gn, 1, c)] = 0;
        return;
    }
    /* One dim per role is a plain GEMM (or GEMV), strided. */
    if (gm.ndim <= 1 && gn.ndim <= 1 && gk.ndim <= 1) {
        F(ein_frame_gemm)(ar, em, en, ek, A, gm.ndim ? gm.stride[0][0] : 0,
                          gk.ndim ? gk.stride[0][0] : 0, B,
                          gk.ndim ? gk.stride[1][0] : 0,
                          gn.ndim ? gn.stride[0][0] : 0, C,
                          gm.ndim ? gm.stride[1][0] : 0,
                          gn.ndim ? gn.stride[1][0] : 0, accumulate, nthreads);
        return;
    }
    int64_t *tab = NULL;
    if ((uint64_t)em + (uint64_t)en + (uint64_t)ek <
        SIZE_MAX / (2 * sizeof(int64_t)))
        tab = ein_malloc((size_t)(em + en + ek) * 2 * sizeof(int64_t));
    if (!tab) {
        F(tgemm_naive)(&gm, &gn, &gk, em, en, ek, A, B, C, beta);
        return;
    }
    F(tgemm_job) job = {
        .ar = ar, .bl = ein_blocking_for(ar->mr, ar->nr, sizeof(T), em, en, ek),
        .m = em, .n = en, .k = ek, .A = A, .B = B, .C = C, .beta = beta,
        .am = tab, .cm = tab + em, .bn = tab + 2 * em,
        .cn = tab + 2 * em + en, .ak = tab + 2 * (em + en),
        .bk = tab + 2 * (em + en) + ek,
    };
    F(toffsets)(&gm, (int64_t *)job.am, (int64_t *)job.cm);
    F(toffsets)(&gn, (int64_t *)job.bn, (int64_t *)job.cn);
    F(toffsets)(&gk, (int64_t *)job.ak, (int64_t *)job.bk);
    ein_group_run(&gm, 0, &job.am_run, &job.am_st);
    ein_group_run(&gm, 1, &job.cm_run, &job.cm_st);
    ein_group_run(&gn, 0, &job.bn_run, &job.bn_st);
    ein_group_run(&gn, 1, &job.cn_run, &job.cn_st);
    ein_group_run(&gk, 0, &job.ak_run, &job.ak_st);
    ein_group_run(&gk, 1, &job.bk_run, &job.bk_st);

    int64_t ntile = (en + ar->nr - 1) / ar->nr, mtile = (em + ar->mr - 1) / ar->mr;
    int nt = nthreads;
    double flops = 2.0 * (double)em * (double)en * (double)ek;
    if (flops < EIN_GEMM_MT_FLOPS || (ntile < 2 && mtile < 2))
        nt = 1;
    F(grid_plan)(&job.grid, em, en, ar->mr, ar->nr, nt);
    if (nt > 1)
        ein_pool_run(nt, F(tgemm_task), &job);
    else
        F(tgemm_task)(&job, 0, 1);
    ein_free(tab);
}

#undef F
#undef CAT
#undef CAT_
