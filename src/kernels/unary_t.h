/* unary_t.h — single-operand steps (sums over axes, transposed or strided
 * copies, diagonals) written once in plain C over an element type and
 * included by each ISA's kernel file, whose flags let the compiler turn the
 * fixed-width lane loops below into that ISA's vectors.  The lane loops
 * spell out every addition, so each table computes the same bits.
 *
 * Three shapes are handled; anything else goes back to the generic loop
 * nest (the function returns 0):
 *   copy    no summed loop: a permutation or strided copy, tiled in 2-D
 *           when the input's and the output's contiguous loops differ
 *           ("ij->ji"), so neither side walks memory a line at a time;
 *   rows    a summed loop reads the input contiguously ("ij->i", "ij->"):
 *           each run is summed in UN_LANES double lanes;
 *   columns a free loop is contiguous in both input and output while the
 *           sums stride ("ij->j"): a block of output sums in double
 *           accumulates one input row segment after another.
 * Sums accumulate in double for both dtypes, like the generic loop nest.
 *
 * Expects, from the includer: T (float or double) and UN(name), which
 * gives the name a dtype suffix. */

#ifndef UN_LANES
#define UN_LANES 64      /* double lanes of a contiguous sum: eight
                            * zmm chains hide the adder latency */
#define UN_SEG   512     /* output elements per column block */
#define UN_TILE  32      /* edge of a 2-D copy tile */
#define UN_MAXL  EIN_UN_MAXL

/* The loops after normalisation: extent-1 loops dropped, every input
 * stride made non-negative (a loop walked backwards visits the same
 * pairs of elements as one walked forwards). */
typedef struct un_loops {
    int     n, nfree;
    int64_t ext[UN_MAXL], si[UN_MAXL], so[UN_MAXL];
} un_loops;

/* Odometer over loops idx[0..cnt-1] of L: advances the offsets *oi, *oo
 * and returns 0 once every index has wrapped. */
static inline int un_next(const un_loops *L, const int *idx, int cnt,
                          int64_t *ctr, int64_t *oi, int64_t *oo)
{
    for (int q = cnt - 1; q >= 0; q--) {
        int l = idx[q];
        *oi += L->si[l];
        *oo += L->so[l];
        if (++ctr[q] < L->ext[l])
            return 1;
        *oi -= L->si[l] * L->ext[l];
        *oo -= L->so[l] * L->ext[l];
        ctr[q] = 0;
    }
    return 0;
}

/* The same over three offsets (two operands and the output), with the
 * loops' extents and strides in separate arrays. */
static inline int un_next3(const int *idx, int cnt, const int64_t *e,
                           const int64_t *sa, const int64_t *sb,
                           const int64_t *so, int64_t *ctr, int64_t *oa,
                           int64_t *ob, int64_t *oo)
{
    for (int q = cnt - 1; q >= 0; q--) {
        int l = idx[q];
        *oa += sa[l];
        *ob += sb[l];
        *oo += so[l];
        if (++ctr[q] < e[l])
            return 1;
        *oa -= sa[l] * e[l];
        *ob -= sb[l] * e[l];
        *oo -= so[l] * e[l];
        ctr[q] = 0;
    }
    return 0;
}
#endif

/* Sum of a[0..n-1] in UN_LANES double lanes, folded by a fixed tree. */
static double UN(sum_run)(const T *a, int64_t n)
{
    double lane[UN_LANES] = {0};
    int64_t i = 0;
    for (; i + UN_LANES <= n; i += UN_LANES)
        for (int l = 0; l < UN_LANES; l++)
            lane[l] += (double)a[i + l];
    for (; i + 8 <= n; i += 8)
        for (int l = 0; l < 8; l++)
            lane[l] += (double)a[i + l];
    for (int l = 0; i < n; i++, l++)
        lane[l] += (double)a[i];
    for (int w = UN_LANES / 2; w >= 1; w /= 2)
        for (int l = 0; l < w; l++)
            lane[l] += lane[l + w];
    return lane[0];
}

/* rows: loop `inner` is summed with input stride 1. */
static void UN(rows)(const un_loops *L, int inner, const T *in, T *out)
{
    int fr[UN_MAXL], sm[UN_MAXL], nf = 0, ns = 0;
    for (int l = 0; l < L->n; l++) {
        if (l == inner)
            continue;
        if (l < L->nfree)
            fr[nf++] = l;
        else
            sm[ns++] = l;
    }
    int64_t fc[UN_MAXL] = {0}, sc[UN_MAXL] = {0}, fi = 0, fo = 0;
    const int64_t len = L->ext[inner];
    do {
        double acc = 0;
        int64_t si = fi, so = 0;
        do
            acc += UN(sum_run)(in + si, len);
        while (un_next(L, sm, ns, sc, &si, &so));
        out[fo] = (T)acc;
    } while (un_next(L, fr, nf, fc, &fi, &fo));
}

/* columns: free loop `seg` has input and output stride 1; the sums run
 * over whole rows of a block of UN_SEG outputs at a time. */
static void UN(columns)(const un_loops *L, int seg, const T *in, T *out)
{
    int fr[UN_MAXL], sm[UN_MAXL], nf = 0, ns = 0;
    for (int l = 0; l < L->n; l++) {
        if (l == seg)
            continue;
        if (l < L->nfree)
            fr[nf++] = l;
        else
            sm[ns++] = l;
    }
    int64_t fc[UN_MAXL] = {0}, fi = 0, fo = 0;
    double acc[UN_SEG];
    do {
        for (int64_t j0 = 0; j0 < L->ext[seg]; j0 += UN_SEG) {
            int64_t w = L->ext[seg] - j0 < UN_SEG ? L->ext[seg] - j0 : UN_SEG;
            for (int64_t j = 0; j < w; j++)
                acc[j] = 0;
            int64_t sc[UN_MAXL] = {0}, si = fi + j0, so = 0;
            do {
                const T *a = in + si;
                for (int64_t j = 0; j < w; j++)
                    acc[j] += (double)a[j];
            } while (un_next(L, sm, ns, sc, &si, &so));
            T *o = out + fo + j0;
            for (int64_t j = 0; j < w; j++)
                o[j] = (T)acc[j];
        }
    } while (un_next(L, fr, nf, fc, &fi, &fo));
}

/* copy: every loop free.  a reads contiguously-most, b writes so; when
 * they differ, a UN_TILE x UN_TILE tile of (b, a) is copied at a time. */
static void UN(copy)(const un_loops *L, const T *in, T *out)
{
    int a = 0, b = 0;
    for (int l = 1; l < L->n; l++) {
        if (L->si[l] < L->si[a])
            a = l;
        if (llabs(L->so[l]) < llabs(L->so[b]))
            b = l;
    }
    int rest[UN_MAXL], nr = 0;
    for (int l = 0; l < L->n; l++)
        if (l != a && l != b)
            rest[nr++] = l;
    int64_t rc[UN_MAXL] = {0}, ri = 0, ro = 0;
    const int64_t sib = L->si[b], sob = L->so[b];
    if (a == b || L->n == 1) {
        const int64_t n = L->ext[b];
        do {
            const T *x = in + ri;
            T *y = out + ro;
            if (sib == 1 && sob == 1)
                for (int64_t j = 0; j < n; j++)
                    y[j] = x[j];
            else
                for (int64_t j = 0; j < n; j++)
                    y[j * sob] = x[j * sib];
        } while (un_next(L, rest, nr, rc, &ri, &ro));
        return;
    }
    const int64_t sia = L->si[a], soa = L->so[a];
    const int64_t na = L->ext[a], nb = L->ext[b];
    do {
        for (int64_t a0 = 0; a0 < na; a0 += UN_TILE) {
            int64_t ta = na - a0 < UN_TILE ? na - a0 : UN_TILE;
            for (int64_t b0 = 0; b0 < nb; b0 += UN_TILE) {
                int64_t tb = nb - b0 < UN_TILE ? nb - b0 : UN_TILE;
                const T *x = in + ri + a0 * sia + b0 * sib;
                T *y = out + ro + a0 * soa + b0 * sob;
                for (int64_t i = 0; i < ta; i++)
                    for (int64_t j = 0; j < tb; j++)
                        y[i * soa + j * sob] = x[i * sia + j * sib];
            }
        }
    } while (un_next(L, rest, nr, rc, &ri, &ro));
}

/* Zeros into every output element (a sum over an empty range). */
static void UN(zero)(const un_loops *L, T *out)
{
    int fr[UN_MAXL], nf = 0;
    for (int l = 0; l < L->nfree; l++)
        fr[nf++] = l;
    int64_t fc[UN_MAXL] = {0}, fi = 0, fo = 0;
    do
        out[fo] = 0;
    while (un_next(L, fr, nf, fc, &fi, &fo));
}

/* ---- two operands, nothing summed: out = a * b elementwise ---------- */

/* The inner loop, with the common unit and zero (broadcast) strides
 * spelled out so that each becomes a plain vector loop. */
static inline void UN(mul_run)(int64_t n, const T *a, int64_t sa, const T *b,
                               int64_t sb, T *y, int64_t sy)
{
    if (sy == 1 && sa == 1 && sb == 1)
        for (int64_t j = 0; j < n; j++)
            y[j] = a[j] * b[j];
    else if (sy == 1 && sa == 1 && sb == 0)
        for (int64_t j = 0; j < n; j++)
            y[j] = a[j] * b[0];
    else if (sy == 1 && sa == 0 && sb == 1)
        for (int64_t j = 0; j < n; j++)
            y[j] = a[0] * b[j];
    else
        for (int64_t j = 0; j < n; j++)
            y[j * sy] = a[j * sa] * b[j * sb];
}

/* out = a * b over free loops only (outer products, Hadamard products,
 * broadcasts).  The output's contiguous loop runs inside; when an operand
 * is contiguous along another loop instead ("ij,ji->ij"), those two loops
 * are tiled so its lines are used whole.  A float product rounds the same
 * whether formed in float or, like the loop nest, in double. */
/* out = sum over the summed loops of a * b, under a free loop `seg` that
 * is contiguous in the output: a block of UN_SEG double sums takes one
 * product row after another ("ij,ij->j").  The summed loops run in the
 * step's order, so each sum adds its terms in the loop nest's order. */
static void UN(product_columns)(int n, int nfree, int seg, const int64_t *e,
                                const int64_t *sa, const int64_t *sb,
                                const int64_t *so, const T *a, const T *b, T *out)
{
    int fr[UN_MAXL], sm[UN_MAXL], nf = 0, ns = 0;
    for (int l = 0; l < n; l++) {
        if (l == seg)
            continue;
        if (l < nfree)
            fr[nf++] = l;
        else
            sm[ns++] = l;
    }
    const int64_t xa = sa[seg], xb = sb[seg];
    int64_t fc[UN_MAXL] = {0}, fa = 0, fb = 0, fo = 0;
    double acc[UN_SEG];
    do {
        for (int64_t j0 = 0; j0 < e[seg]; j0 += UN_SEG) {
            int64_t w = e[seg] - j0 < UN_SEG ? e[seg] - j0 : UN_SEG;
            for (int64_t j = 0; j < w; j++)
                acc[j] = 0;
            int64_t sc[UN_MAXL] = {0}, ia = fa + j0 * xa, ib = fb + j0 * xb, io = 0;
            do {
                const T *x = a + ia, *y = b + ib;
                if (xa == 1 && xb == 1)
                    for (int64_t j = 0; j < w; j++)
                        acc[j] += (double)x[j] * (double)y[j];
                else
                    for (int64_t j = 0; j < w; j++)
                        acc[j] += (double)x[j * xa] * (double)y[j * xb];
            } while (un_next3(sm, ns, e, sa, sb, so, sc, &ia, &ib, &io));
            T *o = out + fo + j0;
            for (int64_t j = 0; j < w; j++)
                o[j] = (T)acc[j];
        }
    } while (un_next3(fr, nf, e, sa, sb, so, fc, &fa, &fb, &fo));
}

static int UN(product)(int nloops, int nfree, const int64_t *ext,
                       const int64_t *sa0, const int64_t *sb0,
                       const int64_t *so0, const T *a, const T *b, T *out)
{
    if (nloops > UN_MAXL)
        return 0;
    int64_t e[UN_MAXL], sa[UN_MAXL], sb[UN_MAXL], so[UN_MAXL];
    int n = 0, nf = 0;
    bool empty_sum = false;
    for (int l = 0; l < nloops; l++)
        if (ext[l] == 0) {
            if (l < nfree)
                return 1;      /* no output element */
            empty_sum = true;
        }
    for (int l = 0; l < nloops; l++) {
        if (ext[l] == 1)
            continue;
        nf += l < nfree;
        e[n] = ext[l];
        sa[n] = sa0[l];
        sb[n] = sb0[l];
        so[n] = so0[l];
        if (so[n] < 0) {     /* walk the output forwards */
            a += sa[n] * (e[n] - 1);
            b += sb[n] * (e[n] - 1);
            out += so[n] * (e[n] - 1);
            sa[n] = -sa[n];
            sb[n] = -sb[n];
            so[n] = -so[n];
        }
        n++;
    }
    if (empty_sum) {
        un_loops Z = {.n = nf, .nfree = nf};
        for (int l = 0; l < nf; l++) {
            Z.ext[l] = e[l];
            Z.so[l] = so[l];
        }
        UN(zero)(&Z, out);
        return 1;
    }
    if (nf < n) {
        /* Sums: only as columns, under a free loop the output reads
         * contiguously (so was made non-negative above). */
        for (int l = 0; l < nf; l++)
            if (so[l] == 1) {
                UN(product_columns)(n, nf, l, e, sa, sb, so, a, b, out);
                return 1;
            }
        return 0;
    }
    if (n == 0) {
        *out = a[0] * b[0];
        return 1;
    }
    int in = 0;                                  /* the output's inner loop */
    for (int l = 1; l < n; l++)
        if (so[l] < so[in])
            in = l;
    /* An operand strided along `in` but contiguous along `t`: tile (in, t). */
    int t = -1;
    for (int l = 0; l < n && t < 0; l++)
        if (l != in && ((llabs(sa[l]) == 1 && llabs(sa[in]) > 1) ||
                        (llabs(sb[l]) == 1 && llabs(sb[in]) > 1)))
            t = l;
    int rest[UN_MAXL], nr = 0;
    for (int l = 0; l < n; l++)
        if (l != in && l != t)
            rest[nr++] = l;
    int64_t rc[UN_MAXL] = {0}, ra = 0, rb = 0, ro = 0;
    do {
        if (t < 0) {
            UN(mul_run)(e[in], a + ra, sa[in], b + rb, sb[in], out + ro, so[in]);
        } else {
            for (int64_t t0 = 0; t0 < e[t]; t0 += UN_TILE) {
                int64_t tt = e[t] - t0 < UN_TILE ? e[t] - t0 : UN_TILE;
                for (int64_t i0 = 0; i0 < e[in]; i0 += UN_TILE) {
                    int64_t ti = e[in] - i0 < UN_TILE ? e[in] - i0 : UN_TILE;
                    for (int64_t q = t0; q < t0 + tt; q++)
                        UN(mul_run)(ti, a + ra + q * sa[t] + i0 * sa[in], sa[in],
                                    b + rb + q * sb[t] + i0 * sb[in], sb[in],
                                    out + ro + q * so[t] + i0 * so[in], so[in]);
                }
            }
        }
    } while (un_next3(rest, nr, e, sa, sb, so, rc, &ra, &rb, &ro));
    return 1;
}

static int UN(unary)(int nloops, int nfree, const int64_t *ext,
                     const int64_t *sin, const int64_t *sout, const T *in,
                     T *out)
{
    if (nloops > UN_MAXL)
        return 0;
    un_loops L = {0};
    bool empty_sum = false;
    for (int l = 0; l < nloops; l++) {
        if (ext[l] == 0) {
            if (l < nfree)
                return 1;       /* no output element */
            empty_sum = true;
        }
    }
    for (int pass = 0; pass < 2; pass++)   /* free loops first, then sums */
        for (int l = pass ? nfree : 0; l < (pass ? nloops : nfree); l++) {
            if (ext[l] == 1)
                continue;
            int64_t si = sin[l], so = sout[l];
            if (si < 0) {
                in += si * (ext[l] - 1);
                out += so * (ext[l] - 1);
                si = -si;
                so = -so;
            }
            L.ext[L.n] = ext[l];
            L.si[L.n] = si;
            L.so[L.n] = so;
            L.n++;
            L.nfree += !pass;
        }
    if (empty_sum) {
        L.n = L.nfree;
        UN(zero)(&L, out);
        return 1;
    }
    if (L.n == L.nfree) {
        if (L.n == 0) {
            *out = *in;
            return 1;
        }
        UN(copy)(&L, in, out);
        return 1;
    }
    for (int l = L.nfree; l < L.n; l++)
        if (L.si[l] == 1) {
            UN(rows)(&L, l, in, out);
            return 1;
        }
    for (int l = 0; l < L.nfree; l++)
        if (L.si[l] == 1 && L.so[l] == 1) {
            UN(columns)(&L, l, in, out);
            return 1;
        }
    return 0;
}
