/* gemm_frame_t.h — the GEMM/GEMV framework body, written once over an
 * element type and included by gemm_frame.c for float and for double.
 * Expects T (element type), SFX (f32/f64) and ARCH (ein_arch_f32/f64). */

#define CAT_(a, b) a##_##b
#define CAT(a, b) CAT_(a, b)
#define F(name) CAT(name, SFX)

/* Pack rows [0, mc) x depth [0, kc) of A into micro-panels of mr rows:
 * panel q holds, for each p, the mr elements A[q*mr + 0:mr, p]; rows past
 * mc are zeros.  Reads A through its strides, whatever their sign. */
static void F(pack_a)(int64_t mc, int64_t kc, const T *A, int64_t rsa,
                      int64_t csa, int mr, T *restrict dst)
{
    for (int64_t i0 = 0; i0 < mc; i0 += mr, dst += (int64_t)mr * kc) {
        int64_t me = mc - i0 < mr ? mc - i0 : mr;
        const T *a = A + i0 * rsa;
        if (csa == 1) {
            /* Rows contiguous: read each row once, write with stride mr. */
            for (int64_t ii = 0; ii < me; ii++) {
                const T *src = a + ii * rsa;
                for (int64_t p = 0; p < kc; p++)
                    dst[p * mr + ii] = src[p];
            }
        } else if (rsa == 1) {
            for (int64_t p = 0; p < kc; p++) {
                const T *src = a + p * csa;
                for (int64_t ii = 0; ii < me; ii++)
                    dst[p * mr + ii] = src[ii];
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

/* Pack depth [0, kc) x columns [0, nc) of B into micro-panels of nr
 * columns: panel q holds, for each p, B[p, q*nr + 0:nr]; zeros past nc. */
static void F(pack_b)(int64_t kc, int64_t nc, const T *B, int64_t rsb,
                      int64_t csb, int nr, T *restrict dst)
{
    for (int64_t j0 = 0; j0 < nc; j0 += nr, dst += (int64_t)nr * kc) {
        int64_t ne = nc - j0 < nr ? nc - j0 : nr;
        const T *b = B + j0 * csb;
        if (csb == 1) {
            for (int64_t p = 0; p < kc; p++) {
                const T *src = b + p * rsb;
                T *d = dst + p * nr;
                for (int64_t jj = 0; jj < ne; jj++)
                    d[jj] = src[jj];
                for (int64_t jj = ne; jj < nr; jj++)
                    d[jj] = 0;
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
            F(pack_a)(mc, kc, A + ic * rsa + pc * csa, rsa, csa, mr, ap);
            for (int64_t jc = 0; jc < n; jc += bl->nc) {
                int64_t nc = n - jc < bl->nc ? n - jc : bl->nc;
                F(pack_b)(kc, nc, B + pc * rsb + jc * csb, rsb, csb, nr, bp);
                for (int64_t ir = 0; ir < mc; ir += mr) {
                    int64_t me = mc - ir < mr ? mc - ir : mr;
                    const T *a = ap + ir * kc;
                    for (int64_t jr = 0; jr < nc; jr += nr) {
                        int64_t ne = nc - jr < nr ? nc - jr : nr;
                        const T *b = bp + jr * kc;
                        T *c = C + (ic + ir) * rsc + (jc + jr) * csc;
                        if (me == mr && ne == nr && csc == 1) {
                            ar->ukr(kc, a, b, c, rsc, beta);
                            continue;
                        }
                        /* Edge or strided tile: compute whole, write back
                         * only the valid part. */
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

typedef struct F(gemm_job) {
    const ARCH *ar;
    ein_blocking bl;
    int64_t m, n, k;
    const T *A; int64_t rsa, csa;
    const T *B; int64_t rsb, csb;
    T *C; int64_t rsc, csc;
    int beta, split_n;
} F(gemm_job);

/* Thread t of nt takes a contiguous run of whole register tiles of C
 * (columns if split_n, else rows); every element still sees the same
 * depth blocks in the same order, so bits do not depend on nt. */
static void F(gemm_task)(void *ctx, int t, int nt)
{
    const F(gemm_job) *j = ctx;
    int64_t unit = j->split_n ? j->ar->nr : j->ar->mr;
    int64_t ext = j->split_n ? j->n : j->m;
    int64_t tiles = (ext + unit - 1) / unit;
    int64_t t0 = tiles * t / nt, t1 = tiles * (t + 1) / nt;
    int64_t lo = t0 * unit, hi = t1 * unit < ext ? t1 * unit : ext;
    if (lo >= hi)
        return;
    if (j->split_n)
        F(gemm_st)(j->ar, &j->bl, j->m, hi - lo, j->k, j->A, j->rsa, j->csa,
                   j->B + lo * j->csb, j->rsb, j->csb, j->C + lo * j->csc,
                   j->rsc, j->csc, j->beta);
    else
        F(gemm_st)(j->ar, &j->bl, hi - lo, j->n, j->k, j->A + lo * j->rsa,
                   j->rsa, j->csa, j->B, j->rsb, j->csb, j->C + lo * j->rsc,
                   j->rsc, j->csc, j->beta);
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
    /* The micro-kernel writes rows of C with contiguous columns; for a
     * column-major C compute C^T = B^T A^T instead. */
    if (csc != 1 && (rsc == 1 || (rsc != 0 && EIN_ABS(rsc) < EIN_ABS(csc)))) {
        int64_t t;
        const T *tp;
        t = m; m = n; n = t;
        tp = A; A = B; B = tp;
        t = rsa; rsa = csb; csb = t;
        t = csa; csa = rsb; rsb = t;
        t = rsc; rsc = csc; csc = t;
    }
    F(gemm_job) job = {
        .ar = ar, .bl = ein_blocking_for(ar->mr, ar->nr, sizeof(T)),
        .m = m, .n = n, .k = k, .A = A, .rsa = rsa, .csa = csa,
        .B = B, .rsb = rsb, .csb = csb, .C = C, .rsc = rsc, .csc = csc,
        .beta = accumulate != 0,
    };
    int64_t ntile = (n + ar->nr - 1) / ar->nr, mtile = (m + ar->mr - 1) / ar->mr;
    job.split_n = ntile >= mtile;
    int nt = nthreads;
    /* Below this much work a second thread costs more than it saves. */
    double flops = 2.0 * (double)m * (double)n * (double)k;
    if (flops < EIN_GEMM_MT_FLOPS || (ntile < 2 && mtile < 2))
        nt = 1;
    if (nt > 1)
        ein_pool_run(nt, F(gemm_task), &job);
    else
        F(gemm_task)(&job, 0, 1);
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
} F(gemv_job);

/* Rows [lo, hi) of the job. */
static void F(gemv_range)(const F(gemv_job) *j, int64_t lo, int64_t hi)
{
    if (j->rows) {
        j->ar->gemv_rows(hi - lo, j->n, j->A + lo * j->rsa, j->rsa, j->x,
                         j->y + lo * j->incy, j->incy, j->acc);
    } else if (!j->ytmp) {
        j->ar->gemv_cols(hi - lo, j->n, j->A + lo * j->rsa, j->csa, j->x,
                         j->incx, j->y + lo, j->acc);
    } else {
        j->ar->gemv_cols(hi - lo, j->n, j->A + lo * j->rsa, j->csa, j->x,
                         j->incx, j->ytmp + lo, 0);
        for (int64_t i = lo; i < hi; i++) {
            T *yy = j->y + i * j->incy;
            *yy = j->acc ? *yy + j->ytmp[i] : j->ytmp[i];
        }
    }
}

static void F(gemv_task)(void *ctx, int t, int nt)
{
    const F(gemv_job) *j = ctx;
    int64_t blocks = (j->m + EIN_GEMV_ROWS_UNIT - 1) / EIN_GEMV_ROWS_UNIT;
    int64_t lo = blocks * t / nt * EIN_GEMV_ROWS_UNIT;
    int64_t hi = blocks * (t + 1) / nt * EIN_GEMV_ROWS_UNIT;
    if (hi > j->m)
        hi = j->m;
    if (lo < hi)
        F(gemv_range)(j, lo, hi);
}

void F(ein_frame_gemv)(const ARCH *ar, int64_t m, int64_t n, const T *A,
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
    if (csa == 1 && (rsa != 1 || n >= m)) {
        job.rows = 1;
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
        if (incy != 1) {
            job.ytmp = ein_scratch((size_t)m * sizeof(T));
            if (!job.ytmp)
                goto general;
        }
    } else {
        goto general;
    }
    int nt = nthreads;
    if ((double)m * (double)n < EIN_GEMV_MT_ELEMS || m < 2 * EIN_GEMV_ROWS_UNIT)
        nt = 1;
    if (nt > 1)
        ein_pool_run(nt, F(gemv_task), &job);
    else
        F(gemv_range)(&job, 0, m);
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

#undef F
#undef CAT
#undef CAT_
