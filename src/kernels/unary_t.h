/* unary_t.h — the steps no dense kernel takes: single-operand steps (sums
 * over axes, transposed or strided copies, diagonals) and products with
 * nothing or little summed (Hadamard, broadcast, "ij,ij->j").  Written
 * once in plain C over an element type and included by each ISA's kernel
 * file, whose flags let the compiler turn the fixed-width lane loops into
 * that ISA's vectors.  The loops spell out every addition, so each table
 * computes the same bits.
 *
 * The shapes handled (EIN_GK_* in kernels.h); anything else goes back to
 * the generic loop nest:
 *   copy     one operand, no sum: a permutation or strided copy, tiled in
 *            2-D when the input's and the output's contiguous loops differ
 *            ("ij->ji"), so neither side walks memory a line at a time
 *            (on the AVX tables large or dense planes through register
 *            transposes, tile_t), and by a table of offsets when those
 *            loops are short ("bij->bji" with 3 x 3 matrices);
 *   rows     one operand, a summed loop reads it contiguously ("ij->i",
 *            "ij->"): each run is summed in UN_LANES double lanes; or a
 *            short summed loop strides ("bii->b");
 *   columns  one operand, a free loop contiguous in input and output while
 *            the sums stride ("ij->j"): a block of UN_SEG double sums takes
 *            one input row segment after another; or contiguous in the
 *            input only ("ijk->kj"), each sum then stored strided;
 *   product  two operands, no sum: out = a * b along the output's
 *            contiguous loop, tiled like copy when an operand is
 *            transposed ("ij,ji->ij");
 *   product columns  two operands with sums under an output-contiguous free
 *            loop ("ij,ij->j"), as columns.
 * Sums accumulate in double for both dtypes, like the generic loop nest;
 * a float product rounds the same in float as in double.  UN_PLUS_ZERO:
 * numpy accumulates every computed result into a zeroed output, so a sum
 * or a product is never -0 there (a copy, which numpy returns as a view,
 * keeps its signs): sums and products are stored as (T)value + 0.
 *
 * Expects, from the includer: T (float or double) and UN(name), which
 * gives the name a dtype suffix. */

#ifndef UN_LANES
#define UN_LANES 64      /* double lanes of a contiguous sum: eight zmm
                          * chains hide the adder's latency */
#define UN_SEG   2048    /* output elements per column block: whole rows
                          * of up to 16 KiB of doubles, so the prefetcher
                          * streams them (512 read 1000-column f64 rows a
                          * 4 KiB page at a time: ij,ij->j 1000^2 f64
                          * 667 -> 586 us, f32 2000^2 1.47 -> 1.24 ms) */
#define UN_TILE  32      /* edge of a 2-D tile */
#define UN_TILE_T_ROWS 256 /* rows of a tiles_t tile (see there) */
#define UN_SHORT_RUN 16  /* copy and product runs shorter than this, */
#define UN_BLOCK 64      /* in blocks of at most this many, go by table */
#define UN_NARROW 8      /* column sums this narrow keep each sum in a register */
#define UN_ROWS8_MIN 7   /* contiguous short rows this long go a block at a time */
#define UN_MAXL  EIN_UN_MAXL

/* A step's loops after normalisation: extent-1 loops dropped, free loops
 * first; the strides of up to three tensors (inputs, then the output);
 * where each tensor's element 0 sits; the kind chosen and the loop it
 * runs innermost (`pick`) and, for tiles, the second loop (`tile`). */
typedef struct un_loops {
    int     n, nfree, nt;
    int64_t ext[UN_MAXL];
    int64_t st[3][UN_MAXL];
    int64_t off[3];
    int     kind, pick, tile;
} un_loops;

/* Normalise and classify.  Loops walked backwards in tensor `key` are
 * turned around (the same pairs of elements are visited), so that
 * tensor's strides are all non-negative: the input for one operand, the
 * output for two. */
static int un_prepare(un_loops *L, int nin, int nloops, int nfree,
                      const int64_t *ext, const int64_t *const *st)
{
    if (nloops > UN_MAXL || nin < 1 || nin > 2)
        return EIN_GK_DECLINE;
    L->nt = nin + 1;
    L->n = L->nfree = 0;
    L->off[0] = L->off[1] = L->off[2] = 0;
    L->pick = L->tile = -1;
    bool empty_sum = false;
    for (int l = 0; l < nloops; l++)
        if (ext[l] == 0) {
            if (l < nfree)
                return L->kind = EIN_GK_EMPTY;   /* no output element */
            empty_sum = true;
        }
    const int key = nin == 1 ? 0 : nin;
    for (int l = 0; l < nloops; l++) {
        if (ext[l] == 1 || (empty_sum && l >= nfree))
            continue;
        bool flip = st[key][l] < 0;
        for (int t = 0; t < L->nt; t++) {
            int64_t s = st[t][l];
            if (flip) {
                L->off[t] += s * (ext[l] - 1);
                s = -s;
            }
            L->st[t][L->n] = s;
        }
        L->ext[L->n++] = ext[l];
        L->nfree += l < nfree;
    }
    const int o = nin;   /* the output's strides */
    if (empty_sum)
        return L->kind = EIN_GK_ZERO;
    /* Two neighbouring loops of the same kind that every tensor walks as
     * one ("bij->b": i steps 3, j steps 1 over 3) become one loop, so a
     * sum over both is one run of 9 rather than three runs of 3. */
    for (int l = 0; l + 1 < L->n;) {
        bool same_kind = (l < L->nfree) == (l + 1 < L->nfree);
        bool joined = same_kind;
        for (int t = 0; t < L->nt && joined; t++)
            joined = L->st[t][l] == L->st[t][l + 1] * L->ext[l + 1];
        if (!joined) {
            l++;
            continue;
        }
        L->ext[l] *= L->ext[l + 1];
        for (int t = 0; t < L->nt; t++)
            L->st[t][l] = L->st[t][l + 1];
        for (int m = l + 1; m + 1 < L->n; m++) {
            L->ext[m] = L->ext[m + 1];
            for (int t = 0; t < L->nt; t++)
                L->st[t][m] = L->st[t][m + 1];
        }
        L->n--;
        L->nfree -= l < L->nfree;
    }
    if (L->n == L->nfree) {   /* nothing summed */
        /* The output's innermost loop; a second loop to tile with when an
         * input strides along it but is contiguous elsewhere. */
        int in = 0;
        for (int l = 1; l < L->n; l++)
            if (llabs(L->st[o][l]) < llabs(L->st[o][in]))
                in = l;
        L->pick = L->n ? in : -1;
        for (int l = 0; l < L->n && L->tile < 0; l++)
            for (int t = 0; t < nin; t++)
                if (l != in && llabs(L->st[t][l]) == 1 && llabs(L->st[t][in]) > 1)
                    L->tile = l;
        return L->kind = nin == 1 ? EIN_GK_COPY : EIN_GK_PRODUCT;
    }
    if (nin == 1)
        for (int l = L->nfree; l < L->n; l++)
            if (L->st[0][l] == 1) {
                L->pick = l;
                return L->kind = EIN_GK_ROWS;
            }
    for (int l = 0; l < L->nfree; l++)
        if (L->st[o][l] == 1 && (nin == 2 || L->st[0][l] == 1)) {
            L->pick = l;
            return L->kind = nin == 1 ? EIN_GK_COLUMNS : EIN_GK_PRODUCT_COLUMNS;
        }
    /* Columns that are contiguous in the input only ("ijk->kj"): the
     * sums still take whole input rows; each is stored once, strided. */
    if (nin == 1)
        for (int l = 0; l < L->nfree; l++)
            if (L->st[0][l] == 1) {
                L->pick = l;
                return L->kind = EIN_GK_COLUMNS;
            }
    /* A short strided sum ("bii->b", a trace per matrix): rows whose
     * elements stride, summed as short rows are. */
    if (nin == 1)
        for (int l = L->n - 1; l >= L->nfree; l--)
            if (L->ext[l] < UN_LANES) {
                L->pick = l;
                return L->kind = EIN_GK_ROWS;
            }
    return L->kind = EIN_GK_DECLINE;
}

/* Column sums carried from one call to the next (the last step of a
 * tiled chain that sums the tiled label, ein_step.tile_summed): `in`
 * holds the sums so far (NULL: each starts from 0) and `out` takes them
 * back unrounded (NULL: they are final, rounded into the output).  Both
 * advance past each block of sums as the call makes them, so a call
 * over the next rows finds every sum where the last one left it. */
typedef struct un_carry {
    const double *in;
    double       *out;
} un_carry;

/* Odometer over loops idx[0..cnt-1] of L: advances the offsets off[t] of
 * every tensor and returns 0 once every index has wrapped. */
static inline int un_next(const un_loops *L, const int *idx, int cnt,
                          int64_t *ctr, int64_t *off)
{
    for (int q = cnt - 1; q >= 0; q--) {
        int l = idx[q];
        for (int t = 0; t < L->nt; t++)
            off[t] += L->st[t][l];
        if (++ctr[q] < L->ext[l])
            return 1;
        for (int t = 0; t < L->nt; t++)
            off[t] -= L->st[t][l] * L->ext[l];
        ctr[q] = 0;
    }
    return 0;
}

/* The loops of L other than `skip1` and `skip2`: free ones into fr,
 * summed ones into sm, each in the step's order. */
static inline void un_split(const un_loops *L, int skip1, int skip2, int *fr,
                            int *nf, int *sm, int *ns)
{
    *nf = *ns = 0;
    for (int l = 0; l < L->n; l++) {
        if (l == skip1 || l == skip2)
            continue;
        if (l < L->nfree)
            fr[(*nf)++] = l;
        else
            sm[(*ns)++] = l;
    }
}
#endif

#if defined(__AVX2__) && !defined(__AVX512F__)
#ifdef UN_F32
#define UN_SR_LOAD(p) _mm256_cvtps_pd(_mm_loadu_ps(p))
#define UN_SR_MLOAD(p, t) _mm256_cvtps_pd(_mm_maskload_ps(p, _mm_setr_epi32(   \
    -(0 < (t)), -(1 < (t)), -(2 < (t)), -(3 < (t)))))
#else
#define UN_SR_LOAD(p) _mm256_loadu_pd(p)
#define UN_SR_MLOAD(p, t) _mm256_maskload_pd(p, _mm256_setr_epi64x(            \
    -(long long)(0 < (t)), -(long long)(1 < (t)), -(long long)(2 < (t)),        \
    -(long long)(3 < (t))))
#endif
/* The AVX2 table's sum_run (below): its 64 lanes are sixteen ymm of
 * doubles, vector q holding lanes 4q .. 4q + 3, and its tree adds whole
 * vectors for w = 32, 16, 8 and 4, then halves for 2 and 1.  The last
 * elements, fewer than eight, are masked loads whose empty lanes add +0:
 * that can only turn a -0 lane into +0, and every caller adds the sum to
 * a +0 accumulator, which makes either zero +0; so the bits are
 * sum_run's.  gcc 12 kept sum_run's lanes in memory on this table (they
 * fill its 16 ymm registers, and a conversion needs one more).  AMD Zen
 * 3, one thread, prebuilt plans, alternating with the C lanes: f32
 * ij->i [100,64] 5.3 -> 1.3 us, [512,512] 46 -> 23 us, [4096,4096] 4.0
 * -> 3.4 ms; f64 [100,64] 5.0 -> 1.1 us, [512,512] 48 -> 31 us. */
_Static_assert(UN_LANES == 64, "the AVX2 sum_run holds 64 lanes");
static double UN(sum_run)(const T *a, int64_t n)
{
    __m256d s[16];
#pragma GCC unroll 16
    for (int q = 0; q < 16; q++)
        s[q] = _mm256_setzero_pd();
    int64_t i = 0;
    for (; i + 64 <= n; i += 64)
#pragma GCC unroll 16
        for (int q = 0; q < 16; q++)
            s[q] = _mm256_add_pd(s[q], UN_SR_LOAD(a + i + 4 * q));
    for (; i + 8 <= n; i += 8) {
        s[0] = _mm256_add_pd(s[0], UN_SR_LOAD(a + i));
        s[1] = _mm256_add_pd(s[1], UN_SR_LOAD(a + i + 4));
    }
    if (i < n) {
        const int t = (int)(n - i);
        s[0] = _mm256_add_pd(s[0], UN_SR_MLOAD(a + i, t));
        s[1] = _mm256_add_pd(s[1], UN_SR_MLOAD(a + i + 4, t - 4));
    }
#pragma GCC unroll 8
    for (int q = 0; q < 8; q++)
        s[q] = _mm256_add_pd(s[q], s[q + 8]);
#pragma GCC unroll 4
    for (int q = 0; q < 4; q++)
        s[q] = _mm256_add_pd(s[q], s[q + 4]);
    s[0] = _mm256_add_pd(s[0], s[2]);
    s[1] = _mm256_add_pd(s[1], s[3]);
    s[0] = _mm256_add_pd(s[0], s[1]);
    __m128d h = _mm_add_pd(_mm256_castpd256_pd128(s[0]), _mm256_extractf128_pd(s[0], 1));
    return _mm_cvtsd_f64(_mm_add_sd(h, _mm_unpackhi_pd(h, h)));
}
#undef UN_SR_LOAD
#undef UN_SR_MLOAD
#else
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
#endif

/* sum_run of a run shorter than UN_LANES, without its lanes past the
 * eighth: those hold zeros, which change no sum but their sign, and a
 * zero's sign is lost when the sum is added to the row's +0 (UN(rows)).
 * The eight lanes and their tree are sum_run's.  Rows of three, "bi->b"
 * 100000 x 3 f32 on one thread: 9.1 ms through sum_run's 64 lanes. */
static inline double UN(sum_short)(const T *a, int64_t n, int64_t sa)
{
    double lane[8] = {0};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int l = 0; l < 8; l++)
            lane[l] += (double)a[(i + l) * sa];
    for (int l = 0; i < n; i++, l++)
        lane[l] += (double)a[i * sa];
    return ((lane[0] + lane[4]) + (lane[2] + lane[6])) +
           ((lane[1] + lane[5]) + (lane[3] + lane[7]));
}

/* nw short rows of n elements (stride sa), row r at x + r * wi, its sum
 * stored + 0 at y + r * wo.  n is a constant where this is inlined. */
static inline __attribute__((always_inline)) void
UN(rows_short)(int64_t n, int64_t nw, const T *x, int64_t wi, int64_t sa, T *y,
               int64_t wo)
{
    for (int64_t r = 0; r < nw; r++, x += wi, y += wo) {
        double acc = 0;
        acc += UN(sum_short)(x, n, sa);
        *y = (T)acc + (T)0;   /* see UN_PLUS_ZERO */
    }
}

/* One output of rows: its accumulator (+0) adds the sums of its rows,
 * row by row in the summed loops' order; x is the output's first row. */
static inline T UN(row_sum)(const un_loops *L, const int *sm, int ns, const T *x,
                            int64_t len, int64_t sp)
{
    double acc = 0;
    int64_t sc[UN_MAXL], s[3] = {0, 0, 0};
    for (int q = 0; q < ns; q++)   /* not all UN_MAXL: this runs per row */
        sc[q] = 0;
    do
        acc += len < UN_LANES ? UN(sum_short)(x + s[0], len, sp) : UN(sum_run)(x + s[0], len);
    while (un_next(L, sm, ns, sc, s));
    return (T)acc + (T)0;   /* see UN_PLUS_ZERO */
}

#if defined(__AVX512F__)
#ifdef UN_F32
#define UN_LOAD8(p) _mm512_cvtps_pd(_mm256_loadu_ps(p))
#define UN_MLOAD8(k, p) _mm512_cvtps_pd(_mm256_maskz_loadu_ps(k, p))
#else
#define UN_LOAD8(p) _mm512_loadu_pd(p)
#define UN_MLOAD8(k, p) _mm512_maskz_loadu_pd(k, p)
#endif
/* Rows a block of rows_blocked sums: a vector of their sums. */
#define UN_RB 8
#define UN_VD __m512d
#define UN_VZERO _mm512_setzero_pd
#define UN_VADD _mm512_add_pd
#define UN_VSTORE _mm512_store_pd
/* sum_short of eight contiguous rows (sa = 1) of n elements, row q at
 * x + q * wi, at once: a row's eight lanes are one zmm of doubles, lane
 * l adding elements l, l + 8, ... in order, as sum_short's lanes do, and
 * hsum8_f64 folds the eight rows by sum_short's tree,
 * ((0+4)+(2+6))+((1+5)+(3+7)).  The last, partial chunk is a masked
 * load: its missing lanes add +0, which can only turn a -0 lane into +0,
 * and a row's sum is always added to a +0 accumulator, which makes
 * either zero +0; so each row gets sum_short's bits. */
static inline __m512d UN(sum_block)(int64_t n, const T *x, int64_t wi)
{
    const __mmask8 tail = (__mmask8)((1u << (n % 8)) - 1);
    const int64_t full = n / 8 * 8;
    __m512d v[8];
    for (int q = 0; q < 8; q++) {
        const T *p = x + q * wi;
        __m512d a = _mm512_setzero_pd();
        for (int64_t i = 0; i < full; i += 8)
            a = _mm512_add_pd(a, UN_LOAD8(p + i));
        if (tail)
            a = _mm512_add_pd(a, UN_MLOAD8(tail, p + full));
        v[q] = a;
    }
    return hsum8_f64(v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7]);
}
#undef UN_LOAD8
#undef UN_MLOAD8
#elif defined(__AVX2__)
#ifdef UN_F32
#define UN_LOAD4(p) _mm256_cvtps_pd(_mm_loadu_ps(p))
#define UN_MLOAD4(k, p) _mm256_cvtps_pd(_mm_maskload_ps(p, k))
#define UN_MASK4(t, o) _mm_setr_epi32(-((o) < (t)), -((o) + 1 < (t)), -((o) + 2 < (t)), \
                                      -((o) + 3 < (t)))
#else
#define UN_LOAD4(p) _mm256_loadu_pd(p)
#define UN_MLOAD4(k, p) _mm256_maskload_pd(p, k)
#define UN_MASK4(t, o) _mm256_setr_epi64x(-(long long)((o) < (t)), -(long long)((o) + 1 < (t)), \
                                          -(long long)((o) + 2 < (t)), -(long long)((o) + 3 < (t)))
#endif
#define UN_RB 4
#define UN_VD __m256d
#define UN_VZERO _mm256_setzero_pd
#define UN_VADD _mm256_add_pd
#define UN_VSTORE _mm256_store_pd
/* The AVX2 table's sum_short of four contiguous rows at once: a row's
 * eight lanes are two ymm of doubles (lanes 0-3 and 4-7), each adding
 * its elements in order; their sum holds 0+4 .. 3+7, and two 128-bit
 * swaps and a horizontal add fold four rows by sum_short's tree, as
 * the AVX-512 block does (the same argument for the masked tail). */
static inline __m256d UN(sum_block)(int64_t n, const T *x, int64_t wi)
{
    const int t = (int)(n % 8);
    const int64_t full = n / 8 * 8;
    __m256d s[4];
    for (int q = 0; q < 4; q++) {
        const T *p = x + q * wi;
        __m256d lo = _mm256_setzero_pd(), hi = lo;
        for (int64_t i = 0; i < full; i += 8) {
            lo = _mm256_add_pd(lo, UN_LOAD4(p + i));
            hi = _mm256_add_pd(hi, UN_LOAD4(p + i + 4));
        }
        if (t) {
            lo = _mm256_add_pd(lo, UN_MLOAD4(UN_MASK4(t, 0), p + full));
            hi = _mm256_add_pd(hi, UN_MLOAD4(UN_MASK4(t, 4), p + full + 4));
        }
        s[q] = _mm256_add_pd(lo, hi);      /* 0+4, 1+5, 2+6, 3+7 */
    }
    __m256d t01 = _mm256_add_pd(_mm256_permute2f128_pd(s[0], s[1], 0x20),
                                _mm256_permute2f128_pd(s[0], s[1], 0x31));
    __m256d t23 = _mm256_add_pd(_mm256_permute2f128_pd(s[2], s[3], 0x20),
                                _mm256_permute2f128_pd(s[2], s[3], 0x31));
    /* hadd gives rows 0, 2, 1, 3 */
    return _mm256_permute4x64_pd(_mm256_hadd_pd(t01, t23), 0xd8);
}
#undef UN_LOAD4
#undef UN_MLOAD4
#undef UN_MASK4
#endif

#ifdef UN_RB
/* rows for short contiguous rows, UN_RB outputs of the free loop w at a
 * time: each output's accumulator (+0) adds its rows' block sums in the
 * summed loops' order, as UN(rows) adds sum_short's.  The outputs past
 * the last block go to UN(row_sum). */
static void UN(rows_blocked)(const un_loops *L, int w, const int *fr, int nf,
                             const int *sm, int ns, const T *in, T *out)
{
    const int64_t len = L->ext[L->pick], nw = L->ext[w];
    const int64_t wi = L->st[0][w], wo = L->st[1][w];
    int64_t fc[UN_MAXL] = {0}, f[3] = {0, 0, 0};
    do {
        int64_t r = 0;
        for (; r + UN_RB <= nw; r += UN_RB) {
            UN_VD acc = UN_VZERO();
            int64_t sc[UN_MAXL], s[3] = {f[0] + r * wi, 0, 0};
            for (int q = 0; q < ns; q++)
                sc[q] = 0;
            do
                acc = UN_VADD(acc, UN(sum_block)(len, in + s[0], wi));
            while (un_next(L, sm, ns, sc, s));
            _Alignas(64) double a[UN_RB];
            UN_VSTORE(a, acc);
            for (int q = 0; q < UN_RB; q++)
                out[f[1] + (r + q) * wo] = (T)a[q] + (T)0;   /* see UN_PLUS_ZERO */
        }
        for (; r < nw; r++)
            out[f[1] + r * wo] = UN(row_sum)(L, sm, ns, in + f[0] + r * wi, len, 1);
    } while (un_next(L, fr, nf, fc, f));
}

/* acc[r] += the sum of row r (x + r * wi, len elements) for the rows of
 * whole blocks among the first bw; returns how many rows it took. */
static int64_t UN(add_row_blocks)(int64_t len, int64_t bw, const T *x, int64_t wi,
                                  double *acc)
{
    int64_t r = 0;
    for (; r + UN_RB <= bw; r += UN_RB) {
        _Alignas(64) double b[UN_RB];
        UN_VSTORE(b, UN(sum_block)(len, x + r * wi, wi));
        for (int q = 0; q < UN_RB; q++)
            acc[r + q] += b[q];
    }
    return r;
}
#undef UN_RB
#undef UN_VD
#undef UN_VZERO
#undef UN_VADD
#undef UN_VSTORE
#define UN_ROWS_BLOCKED 1
#endif

/* rows whose free loop w steps through the input more finely than every
 * other summed loop ("ijk->j": out[j] sums the rows A[i, j, :], and the
 * rows of one i lie side by side): a block of UN_SEG outputs along w
 * keeps its sums in double, and each pass of the other summed loops
 * reads the block's rows in memory order, instead of each output
 * walking the whole input at its own offset.  Each output still adds its
 * rows' sums to +0 in the summed loops' order, so the bits are those of
 * rows_blocked and row_sum.  AMD Zen 3, one thread, alternating: f32
 * ijk->j 64^3 214 -> 35 us, 256 x 256 x 64 3.6 -> 0.94 ms (two threads
 * 2.8 -> 0.76 ms), with rows of 32 0.69 -> 0.34 ms, 30 x 1000 x 30 181
 * -> 133 us; f64 64^3 322 -> 48 us. */
static void UN(rows_outer_sums)(const un_loops *L, int w, const int *fr, int nf,
                                const int *sm, int ns, const T *in, T *out)
{
    const int64_t len = L->ext[L->pick], nw = L->ext[w];
    const int64_t wi = L->st[0][w], wo = L->st[1][w];
    const bool short_run = len < UN_LANES;
    int64_t fc[UN_MAXL] = {0}, f[3] = {0, 0, 0};
    double acc[UN_SEG];
    do {
        for (int64_t j0 = 0; j0 < nw; j0 += UN_SEG) {
            const int64_t bw = nw - j0 < UN_SEG ? nw - j0 : UN_SEG;
            for (int64_t r = 0; r < bw; r++)
                acc[r] = 0;
            int64_t sc[UN_MAXL], s[3] = {f[0] + j0 * wi, 0, 0};
            for (int q = 0; q < ns; q++)
                sc[q] = 0;
            do {
                const T *x = in + s[0];
                int64_t r = 0;
#ifdef UN_ROWS_BLOCKED
                if (short_run && len >= UN_ROWS8_MIN)
                    r = UN(add_row_blocks)(len, bw, x, wi, acc);
#endif
                if (short_run)
                    for (; r < bw; r++)
                        acc[r] += UN(sum_short)(x + r * wi, len, 1);
                else
                    for (; r < bw; r++)
                        acc[r] += UN(sum_run)(x + r * wi, len);
            } while (un_next(L, sm, ns, sc, s));
            T *y = out + f[1] + j0 * wo;
            for (int64_t r = 0; r < bw; r++)
                y[r * wo] = (T)acc[r] + (T)0;   /* see UN_PLUS_ZERO */
        }
    } while (un_next(L, fr, nf, fc, f));
}

/* rows: the summed loop `pick` reads the input with stride 1, or is
 * short (then any stride). */
static void UN(rows)(const un_loops *L, const T *in, T *out)
{
    int fr[UN_MAXL], sm[UN_MAXL], nf, ns;
    un_split(L, L->pick, -1, fr, &nf, sm, &ns);
    int64_t fc[UN_MAXL] = {0}, f[3] = {0, 0, 0};
    const int64_t len = L->ext[L->pick], sp = L->st[0][L->pick];
    const bool short_run = len < UN_LANES;   /* always, where sp != 1 */
    if (nf > 0 && ns > 0 && sp == 1) {
        /* the free loop finest in the input, if finer than every sum */
        int wq = 0;
        for (int q = 1; q < nf; q++)
            if (L->st[0][fr[q]] < L->st[0][fr[wq]])
                wq = q;
        bool inner = true;
        for (int q = 0; q < ns && inner; q++)
            inner = L->st[0][fr[wq]] < L->st[0][sm[q]];
        if (inner) {
            const int w = fr[wq];
            for (int q = wq; q + 1 < nf; q++)
                fr[q] = fr[q + 1];
            UN(rows_outer_sums)(L, w, fr, nf - 1, sm, ns, in, out);
            return;
        }
    }
#ifdef UN_ROWS_BLOCKED
    if (nf > 0 && sp == 1 && short_run && len >= UN_ROWS8_MIN) {
        const int w = fr[--nf];
        UN(rows_blocked)(L, w, fr, nf, sm, ns, in, out);
        return;
    }
#endif
    if (ns == 0 && nf > 0 && short_run) {
        /* Short rows with nothing else summed ("bi->b", "bij->bi"): the
         * last free loop runs as a plain loop around the sum, whose
         * length the switch makes a constant from 1 to 7. */
        const int w = fr[--nf];
        const int64_t nw = L->ext[w], wi = L->st[0][w], wo = L->st[1][w];
        do {
            const T *x = in + f[0];
            T *y = out + f[1];
            switch (len) {
#define UN_ROWS_CASE(N)                                                       \
            case N: UN(rows_short)(N, nw, x, wi, sp, y, wo); break;
            UN_ROWS_CASE(1) UN_ROWS_CASE(2) UN_ROWS_CASE(3) UN_ROWS_CASE(4)
            UN_ROWS_CASE(5) UN_ROWS_CASE(6) UN_ROWS_CASE(7)
#undef UN_ROWS_CASE
            default: UN(rows_short)(len, nw, x, wi, sp, y, wo); break;
            }
        } while (un_next(L, fr, nf, fc, f));
        return;
    }
    do
        out[f[1]] = UN(row_sum)(L, sm, ns, in + f[0], len, sp);
    while (un_next(L, fr, nf, fc, f));
}

#if (defined(__AVX512F__) || (defined(__AVX2__) && defined(__FMA__))) && defined(UN_F32)
/* Four rows of float products into the double column sums, a vector of
 * columns a step: acc = (((acc + x0 y0) + x1 y1) + x2 y2) + x3 y3, the
 * plain loop's arithmetic (a product of two floats is exact in double,
 * so the FMA rounds once, as the add did), with each conversion reading
 * its floats straight from memory; the compiler's loop loaded sixteen
 * and split them (AVX-512), or converted and multiplied as two steps
 * (AVX2).  AVX-512: ij,ij->j 500^2 f32, one thread: 47 -> 34 us (numpy
 * 1.24: 40 us).  AVX2, AMD Zen 3, one thread, alternating with the plain
 * loop: ij,ij->j f32 100^2 2.30 -> 1.25 us, 512^2 58 -> 38 us, 2048^2
 * 1.21 -> 0.94 ms; ijk,ijk->ik 128^3 648 -> 542 us.  The same loop for
 * f64 (a multiply, then an add) was within 0.99-1.10x of the plain one
 * on AVX2. */
#if defined(__AVX512F__)
#define PC_V __m512d
#define PC_W 8
#define PC_LD _mm512_loadu_pd
#define PC_ST _mm512_storeu_pd
#define PC_FMA _mm512_fmadd_pd
#define PC_CVT(p) _mm512_cvtps_pd(_mm256_loadu_ps(p))
#else
#define PC_V __m256d
#define PC_W 4
#define PC_LD _mm256_loadu_pd
#define PC_ST _mm256_storeu_pd
#define PC_FMA _mm256_fmadd_pd
#define PC_CVT(p) _mm256_cvtps_pd(_mm_loadu_ps(p))
#endif
static void UN(prod_cols4)(int64_t w, double *acc, const float *x0, const float *x1,
                           const float *x2, const float *x3, const float *y0,
                           const float *y1, const float *y2, const float *y3)
{
#define PC_TERM(a, x, y, j) PC_FMA(PC_CVT((x) + (j)), PC_CVT((y) + (j)), a)
    int64_t j = 0;
    for (; j + PC_W <= w; j += PC_W) {
        PC_V a = PC_LD(acc + j);
        a = PC_TERM(a, x0, y0, j);
        a = PC_TERM(a, x1, y1, j);
        a = PC_TERM(a, x2, y2, j);
        a = PC_TERM(a, x3, y3, j);
        PC_ST(acc + j, a);
    }
#undef PC_TERM
    for (; j < w; j++)
        acc[j] = (((acc[j] + (double)x0[j] * (double)y0[j]) + (double)x1[j] * (double)y1[j]) +
                  (double)x2[j] * (double)y2[j]) + (double)x3[j] * (double)y3[j];
}
#undef PC_V
#undef PC_W
#undef PC_LD
#undef PC_ST
#undef PC_FMA
#undef PC_CVT
#define UN_PROD_COLS4 1
#endif

/* n finished column sums: kept in the carry, or stored (see
 * UN_PLUS_ZERO: + 0) to y, stride yo. */
static inline void UN(carry_out)(un_carry *cy, const double *acc, int64_t n, T *y,
                                 int64_t yo)
{
    if (cy->out) {
        for (int64_t j = 0; j < n; j++)
            cy->out[j] = acc[j];
        cy->out += n;
    } else if (yo == 1) {
        for (int64_t j = 0; j < n; j++)
            y[j] = (T)acc[j] + (T)0;
    } else {
        for (int64_t j = 0; j < n; j++)
            y[j * yo] = (T)acc[j] + (T)0;
    }
    if (cy->in)
        cy->in += n;
}

/* columns (one operand) and product columns (two): the free loop `pick`
 * is contiguous in the output; each block of UN_SEG outputs sums whole
 * row segments, the summed loops in the step's order, so each sum adds
 * its terms in the loop nest's order. */
/* nw groups of np <= UN_NARROW column sums over nq rows: group r reads
 * x + r * wa (and y + r * wb), row p at + p * qa, column j at + j * xa,
 * and writes z + r * wo + j.  Each sum adds row after row in double, as
 * UN(columns) does.  np is a constant where this is inlined. */
static inline __attribute__((always_inline)) void
UN(narrow_columns)(const int np, int64_t nw, int64_t nq, const T *x, int64_t xa,
                   int64_t wa, int64_t qa, const T *y, int64_t xb, int64_t wb,
                   int64_t qb, T *z, int64_t wo, un_carry *cy)
{
    double acc[UN_NARROW];
    for (int64_t r = 0; r < nw; r++, x += wa, z += wo) {
        for (int j = 0; j < np; j++)
            acc[j] = cy->in ? cy->in[j] : 0;
        if (!y) {
            for (int64_t p = 0; p < nq; p++)
                for (int j = 0; j < np; j++)
                    acc[j] += (double)x[p * qa + j * xa];
        } else {
            for (int64_t p = 0; p < nq; p++)
                for (int j = 0; j < np; j++)
                    acc[j] += (double)x[p * qa + j * xa] * (double)y[p * qb + j * xb];
            y += wb;
        }
        UN(carry_out)(cy, acc, np, z, 1);
    }
}

static void UN(columns)(const un_loops *L, const T *a, const T *b, T *out,
                        un_carry *cy)
{
    int fr[UN_MAXL], sm[UN_MAXL], nf, ns;
    un_split(L, L->pick, -1, fr, &nf, sm, &ns);
    const int o = L->nt - 1;
    const int64_t xa = L->st[0][L->pick], xb = o == 2 ? L->st[1][L->pick] : 0;
    const int64_t yo = L->st[o][L->pick];   /* 1 but where only the input is */
    int64_t fc[UN_MAXL] = {0}, f[3] = {0, 0, 0};
    if (nf > 0 && ns == 1 && L->ext[L->pick] <= UN_NARROW && yo == 1) {
        /* Narrow columns under one sum ("bij->bj" on 3 x 3 blocks): at
         * most UN_NARROW sums, each adding row after row as below, and
         * the last free loop a plain loop; the blocks of UN_SEG sums
         * cost more than three columns' worth of work. */
        const int w = fr[--nf], q = sm[0];
        const int64_t nw = L->ext[w], np = L->ext[L->pick], nq = L->ext[q];
        const int64_t wa = L->st[0][w], wb = o == 2 ? L->st[1][w] : 0, wo = L->st[o][w];
        const int64_t qa = L->st[0][q], qb = o == 2 ? L->st[1][q] : 0;
        do {
            const T *x = a + f[0];
            T *z = out + f[o];
            /* Widths 1 to 4 a constant of each case, so the sums stay in
             * registers.  f32, one thread, against the blocks of UN_SEG
             * sums: "bij->bj" 100000 x 3 x 3 2.93 -> 0.46 ms, 10000 x 40
             * x 3 0.88 -> 0.40 ms, 10000 x 40 x 8 0.92 -> 0.61 ms. */
            switch (np) {
#define UN_NARROW_CASE(N)                                                     \
            case N:                                                           \
                UN(narrow_columns)(N, nw, nq, x, xa, wa, qa, o == 2 ? b + f[1] : NULL, \
                                   xb, wb, qb, z, wo, cy);                    \
                break;
            UN_NARROW_CASE(1) UN_NARROW_CASE(2) UN_NARROW_CASE(3) UN_NARROW_CASE(4)
#undef UN_NARROW_CASE
            default:   /* 5 to 8: measured faster with the width a variable */
                UN(narrow_columns)((int)np, nw, nq, x, xa, wa, qa,
                                   o == 2 ? b + f[1] : NULL, xb, wb, qb, z, wo, cy);
                break;
            }
        } while (un_next(L, fr, nf, fc, f));
        return;
    }
    double acc[UN_SEG];
    do {
        for (int64_t j0 = 0; j0 < L->ext[L->pick]; j0 += UN_SEG) {
            int64_t w = L->ext[L->pick] - j0;
            if (w > UN_SEG)
                w = UN_SEG;
            for (int64_t j = 0; j < w; j++)
                acc[j] = cy->in ? cy->in[j] : 0;
            /* The innermost sum runs here several rows at a time, each
             * sum still adding row after row: ((acc + r0) + r1) + ... */
            const int q = sm[ns - 1];
            const int64_t nq = L->ext[q], qa = L->st[0][q], qb = o == 2 ? L->st[1][q] : 0;
            int64_t sc[UN_MAXL], s[3] = {f[0] + j0 * xa, f[1] + j0 * xb, 0};
            for (int u = 0; u < ns; u++)
                sc[u] = 0;
            do {
                int64_t r = 0;
                /* Four rows a pass while they last: acc[] is read and
                 * written once per four terms, not per one or two. */
                for (; r + 4 <= nq; r += 4) {
                    const T *x0 = a + s[0] + r * qa, *x1 = x0 + qa, *x2 = x1 + qa,
                            *x3 = x2 + qa;
                    if (o == 1) {
                        for (int64_t j = 0; j < w; j++)
                            acc[j] = (((acc[j] + (double)x0[j]) + (double)x1[j]) +
                                      (double)x2[j]) + (double)x3[j];
                        continue;
                    }
                    const T *y0 = b + s[1] + r * qb, *y1 = y0 + qb, *y2 = y1 + qb,
                            *y3 = y2 + qb;
#ifdef UN_PROD_COLS4
                    if (xa == 1 && xb == 1) {
                        UN(prod_cols4)(w, acc, x0, x1, x2, x3, y0, y1, y2, y3);
                        continue;
                    }
#endif
                    if (xa == 1 && xb == 1)
                        for (int64_t j = 0; j < w; j++)
                            acc[j] = (((acc[j] + (double)x0[j] * (double)y0[j]) +
                                       (double)x1[j] * (double)y1[j]) +
                                      (double)x2[j] * (double)y2[j]) +
                                     (double)x3[j] * (double)y3[j];
                    else
                        for (int64_t j = 0; j < w; j++)
                            acc[j] = (((acc[j] + (double)x0[j * xa] * (double)y0[j * xb]) +
                                       (double)x1[j * xa] * (double)y1[j * xb]) +
                                      (double)x2[j * xa] * (double)y2[j * xb]) +
                                     (double)x3[j * xa] * (double)y3[j * xb];
                }
                for (; r < nq; r++) {
                    const T *x = a + s[0] + r * qa;
                    if (o == 1) {
                        for (int64_t j = 0; j < w; j++)
                            acc[j] += (double)x[j];
                    } else {
                        const T *y = b + s[1] + r * qb;
                        for (int64_t j = 0; j < w; j++)
                            acc[j] += (double)x[j * xa] * (double)y[j * xb];
                    }
                }
            } while (un_next(L, sm, ns - 1, sc, s));
            UN(carry_out)(cy, acc, w, out + f[o] + j0 * yo, yo);
        }
    } while (un_next(L, fr, nf, fc, f));
}
#undef UN_PROD_COLS4   /* the f32 include's only */

/* One run of a copy (b == NULL) or a product, with the unit and zero
 * (broadcast) strides that matter spelled out as plain vector loops. */
static inline void UN(run)(int64_t n, const T *a, int64_t sa, const T *b,
                           int64_t sb, T *y, int64_t sy)
{
    if (!b) {
        if (sy == 1 && sa == 1)
            for (int64_t j = 0; j < n; j++)
                y[j] = a[j];
        else
            for (int64_t j = 0; j < n; j++)
                y[j * sy] = a[j * sa];
    } else if (sy == 1 && sa == 1 && sb == 1) {
        for (int64_t j = 0; j < n; j++)
            y[j] = a[j] * b[j] + (T)0;   /* see UN_PLUS_ZERO */
    } else if (sy == 1 && sa == 1 && sb == 0) {
        for (int64_t j = 0; j < n; j++)
            y[j] = a[j] * b[0] + (T)0;
    } else if (sy == 1 && sa == 0 && sb == 1) {
        for (int64_t j = 0; j < n; j++)
            y[j] = a[0] * b[j] + (T)0;
    } else {
        for (int64_t j = 0; j < n; j++)
            y[j * sy] = a[j * sa] * b[j * sb] + (T)0;
    }
}

/* copy and product with short runs: the `pick` loop (and `tile`) span at
 * most UN_BLOCK elements ("bij->bji" with 3 x 3 blocks), too few for a
 * run loop and a tile loop to pay for themselves.  Their offsets are
 * tabulated once, and each step of the last other free loop, a plain
 * loop inside the odometer, moves one block.  Each element is the same
 * copy, or the same a * b + 0, as in a run.  Measured, f32, one
 * thread, in runs before: "bij->bji" 100000 x 3 x 3 2.09 ms -> 0.60 ms;
 * "bij,bji->bij" the same 3.27 -> 0.78 ms; "bijk->bkji" 10000 x 4^3
 * 0.98 -> 0.37 ms. */
static void UN(blocks)(const un_loops *L, const T *a, const T *b, T *out,
                       int *fr, int nf)
{
    const int o = L->nt - 1, in = L->pick, tl = L->tile;
    const int64_t ni = L->ext[in], nq = ni * (tl >= 0 ? L->ext[tl] : 1);
    int64_t ao[UN_BLOCK], bo[UN_BLOCK], oo[UN_BLOCK];
    for (int64_t q = 0; q < nq; q++) {
        int64_t i = q % ni, t = q / ni;
        ao[q] = i * L->st[0][in] + (tl >= 0 ? t * L->st[0][tl] : 0);
        bo[q] = b ? i * L->st[1][in] + (tl >= 0 ? t * L->st[1][tl] : 0) : 0;
        oo[q] = i * L->st[o][in] + (tl >= 0 ? t * L->st[o][tl] : 0);
    }
    const int w = fr[--nf];
    const int64_t nw = L->ext[w], wa = L->st[0][w], wb = b ? L->st[1][w] : 0;
    const int64_t wo = L->st[o][w];
    int64_t fc[UN_MAXL] = {0}, f[3] = {0, 0, 0};
    do {
        const T *x = a + f[0];
        T *z = out + f[o];
        if (!b) {
            for (int64_t r = 0; r < nw; r++, x += wa, z += wo)
                for (int64_t q = 0; q < nq; q++)
                    z[oo[q]] = x[ao[q]];
        } else {
            const T *y = b + f[1];
            for (int64_t r = 0; r < nw; r++, x += wa, y += wb, z += wo)
                for (int64_t q = 0; q < nq; q++)
                    z[oo[q]] = x[ao[q]] * y[bo[q]] + (T)0;
        }
    } while (un_next(L, fr, nf, fc, f));
}

#if defined(__AVX2__)
#include "kernels/transpose_avx.h"
#ifdef UN_F32
#define UN_TW 8
#define UN_TV __m256
#define UN_TLOAD _mm256_loadu_ps
#define UN_TSTORE _mm256_storeu_ps
#define UN_TMUL(u, v) _mm256_add_ps(_mm256_mul_ps(u, v), _mm256_setzero_ps())
#define UN_TR tr8_ps
#else
#define UN_TW 4
#define UN_TV __m256d
#define UN_TLOAD _mm256_loadu_pd
#define UN_TSTORE _mm256_storeu_pd
#define UN_TMUL(u, v) _mm256_add_pd(_mm256_mul_pd(u, v), _mm256_setzero_pd())
#define UN_TR tr4_pd
#endif
/* One tile of a copy or product whose output is contiguous along `pick`
 * (element (q, i) of nt x ni at z + q * to + i) while each input is
 * contiguous either along pick (sa = 1) or along `tile` (ta = 1, read
 * transposed): UN_TW x UN_TW blocks go through registers, an input along
 * tile transposed there, so no side reads or writes one element a line;
 * what is left goes by runs.  Each element is the same copy, or the same
 * a * b + 0, as in a run (see tile_t_pays for where it is taken). */
static inline __attribute__((always_inline)) void
UN(tile_t_k)(int64_t nt, int64_t ni, const T *x, int64_t sa, int64_t ta,
             const T *y, int64_t sb, int64_t tb, T *z, int64_t to,
             const bool xt, const bool yt)
{
    int64_t q = 0;
    for (; q + UN_TW <= nt; q += UN_TW) {
        int64_t i = 0;
        for (; i + UN_TW <= ni; i += UN_TW) {
            UN_TV u[UN_TW], v[UN_TW];
            _Pragma("GCC unroll 8")
            for (int r = 0; r < UN_TW; r++)
                u[r] = xt ? UN_TLOAD(x + (i + r) * sa + q * ta)
                          : UN_TLOAD(x + (q + r) * ta + i);
            if (xt)
                UN_TR(u);
            if (y) {
                _Pragma("GCC unroll 8")
                for (int r = 0; r < UN_TW; r++)
                    v[r] = yt ? UN_TLOAD(y + (i + r) * sb + q * tb)
                              : UN_TLOAD(y + (q + r) * tb + i);
                if (yt)
                    UN_TR(v);
                _Pragma("GCC unroll 8")
                for (int r = 0; r < UN_TW; r++)
                    u[r] = UN_TMUL(u[r], v[r]);
            }
            _Pragma("GCC unroll 8")
            for (int r = 0; r < UN_TW; r++)
                UN_TSTORE(z + (q + r) * to + i, u[r]);
        }
        if (i < ni)
            for (int64_t r = q; r < q + UN_TW; r++)
                UN(run)(ni - i, x + r * ta + i * sa, sa, y ? y + r * tb + i * sb : NULL,
                        sb, z + r * to + i, 1);
    }
    for (; q < nt; q++)
        UN(run)(ni, x + q * ta, sa, y ? y + q * tb : NULL, sb, z + q * to, 1);
}

/* The transposes as constants of each copy of the loop: with them read
 * at run time, GCC kept the tile's rows in memory, storing each row it
 * loaded and reading it back for the transpose. */
static void UN(tile_t)(int64_t nt, int64_t ni, const T *x, int64_t sa, int64_t ta,
                       const T *y, int64_t sb, int64_t tb, T *z, int64_t to)
{
    const bool xt = sa != 1, yt = y && sb != 1;
    if (xt && yt)
        UN(tile_t_k)(nt, ni, x, sa, ta, y, sb, tb, z, to, true, true);
    else if (xt)
        UN(tile_t_k)(nt, ni, x, sa, ta, y, sb, tb, z, to, true, false);
    else if (yt)
        UN(tile_t_k)(nt, ni, x, sa, ta, y, sb, tb, z, to, false, true);
    else
        UN(tile_t_k)(nt, ni, x, sa, ta, y, sb, tb, z, to, false, false);
}

/* Whether tiles_t takes a copy or product over the plane of loops pick
 * (strides sa, sb, so) and tile (ta, tb): the output contiguous along
 * pick, each input along pick or along tile, and the plane at least a
 * register block (8 x 8) both ways.  Measured, f32, one thread, against
 * the runs: ij->ji 1000^2 570-585 -> 446-464 us, ij,ij->ji 940-990 ->
 * 590-605 us, 300^2 29.6 -> 21.4 us; bij->bji 1000 x 16^2 136 -> 80 us,
 * 1000 x 32^2 450 -> 351 us.  Small planes strided apart took the runs
 * until 2026-11-29, when a second look (AMD Zen 3, static builds
 * alternating, minimum) found the tiles faster everywhere: ijkl->lkji
 * 30^4 419 -> 366 us, 20^4 147 -> 68 us, 12^4 14.0 -> 11.8 us; and far
 * faster where the plane's transposed rows lie a multiple of 2 or 4 KiB
 * apart, so that a run's lines share an L1 set and each is fetched again
 * for every element: ijkl->ljki 32^4 3.80 -> 0.93 ms, ijkl->lkji 24^4 396
 * -> 100 us, 40^4 5.5 -> 2.5 ms.  (The runs' strided loop also ran 1.5x
 * slower whenever unrelated code moved it across a 64-byte boundary.) */
static inline bool UN(tile_t_pays)(const un_loops *L, int64_t sa, int64_t ta,
                                   int64_t sb, int64_t tb, int64_t so)
{
    const int o = L->nt - 1;
    if (so != 1 || (sa != 1 && ta != 1) || (o == 2 && sb != 1 && tb != 1))
        return false;
    return L->ext[L->pick] >= 8 && L->ext[L->tile] >= 8;
}

/* A whole nt x ni plane through tile_t, in tiles of UN_TILE_T_ROWS
 * output rows by UN_TILE columns: an input read transposed then gives
 * each of its UN_TILE rows a run of UN_TILE_T_ROWS elements (1 KiB of
 * f32), which the prefetchers follow, where square tiles read 128 bytes
 * of a row and moved to the next row.  AMD Zen 3, f32, one thread,
 * minimum of 25-100 calls, alternating against 32 x 32 tiles: ij->ji
 * 4096^2 17.8 -> 13.3 ms, 2048^2 4.42 -> 3.53 ms, 4000 x 100 82 -> 71 us,
 * 1024^2 f64 1.13 -> 0.98 ms, 2000^2 f64 6.72 -> 6.04 ms; 1000^2, 300^2,
 * bij->bji and ijk->kji 128^3 and 64^3 within 4%.  (The next tile's
 * lines fetched ahead made ij->ji 1000^2 slower, 450 -> 650 us median,
 * and were dropped; so were tiles copied to a buffer before their
 * transposes, 1.4x slower at 2048^2.)  Not inlined, so that the runs'
 * loop in elementwise keeps its code: inlined, strided runs elsewhere
 * (4-D transposes with small planes, which took the runs then) ran 15-20%
 * slower. */
static __attribute__((noinline)) void UN(tiles_t)(int64_t nt, int64_t ni, const T *x,
                                                  int64_t sa, int64_t ta, const T *y,
                                                  int64_t sb, int64_t tb, T *z, int64_t to)
{
    for (int64_t t0 = 0; t0 < nt; t0 += UN_TILE_T_ROWS) {
        int64_t mt = nt - t0 < UN_TILE_T_ROWS ? nt - t0 : UN_TILE_T_ROWS;
        for (int64_t i0 = 0; i0 < ni; i0 += UN_TILE) {
            int64_t mi = ni - i0 < UN_TILE ? ni - i0 : UN_TILE;
            UN(tile_t)(mt, mi, x + t0 * ta + i0 * sa, sa, ta,
                       y ? y + t0 * tb + i0 * sb : NULL, sb, tb, z + t0 * to + i0, to);
        }
    }
}
#undef UN_TW
#undef UN_TV
#undef UN_TLOAD
#undef UN_TSTORE
#undef UN_TMUL
#undef UN_TR
#define UN_HAS_TILE_T 1
#endif

#if defined(__SSE2__)
/* A run into a contiguous output by non-temporal stores (see
 * elementwise): the elements from the first 16- or 32-byte boundary in
 * whole vectors, each the same copy or the same a * b + 0 as in a run
 * (so the same bits), the rest by the run.  Inputs contiguous or
 * broadcast; anything else goes by the run. */
#include <immintrin.h>
#if defined(__AVX__) && defined(UN_F32)
#define UN_SV __m256
#define UN_SW 8
#define UN_SLOAD _mm256_loadu_ps
#define UN_SSET1 _mm256_set1_ps
#define UN_SPROD(u, v) _mm256_add_ps(_mm256_mul_ps(u, v), _mm256_setzero_ps())
#define UN_SSTREAM _mm256_stream_ps
#elif defined(__AVX__)
#define UN_SV __m256d
#define UN_SW 4
#define UN_SLOAD _mm256_loadu_pd
#define UN_SSET1 _mm256_set1_pd
#define UN_SPROD(u, v) _mm256_add_pd(_mm256_mul_pd(u, v), _mm256_setzero_pd())
#define UN_SSTREAM _mm256_stream_pd
#elif defined(UN_F32)
#define UN_SV __m128
#define UN_SW 4
#define UN_SLOAD _mm_loadu_ps
#define UN_SSET1 _mm_set1_ps
#define UN_SPROD(u, v) _mm_add_ps(_mm_mul_ps(u, v), _mm_setzero_ps())
#define UN_SSTREAM _mm_stream_ps
#else
#define UN_SV __m128d
#define UN_SW 2
#define UN_SLOAD _mm_loadu_pd
#define UN_SSET1 _mm_set1_pd
#define UN_SPROD(u, v) _mm_add_pd(_mm_mul_pd(u, v), _mm_setzero_pd())
#define UN_SSTREAM _mm_stream_pd
#endif
static void UN(run_stream)(int64_t n, const T *a, int64_t sa, const T *b, int64_t sb,
                           T *y)
{
    if (n <= 0 || (sa != 0 && sa != 1) || (b && sb != 0 && sb != 1)) {
        UN(run)(n, a, sa, b, sb, y, 1);   /* (the splats below read a[0], b[0]) */
        return;
    }
    int64_t j = 0;
    while (j < n && ((uintptr_t)(y + j) & (UN_SW * sizeof(T) - 1)))
        j++;
    UN(run)(j, a, sa, b, sb, y, 1);
    const UN_SV a0 = UN_SSET1(a[0]), b0 = UN_SSET1(b ? b[0] : (T)0);
    for (; j + UN_SW <= n; j += UN_SW) {
        UN_SV u = sa ? UN_SLOAD(a + j) : a0;
        if (b)
            u = UN_SPROD(u, sb ? UN_SLOAD(b + j) : b0);
        UN_SSTREAM(y + j, u);
    }
    UN(run)(n - j, a + j * sa, sa, b ? b + j * sb : NULL, sb, y + j, 1);
}
#undef UN_SV
#undef UN_SW
#undef UN_SLOAD
#undef UN_SSET1
#undef UN_SPROD
#undef UN_SSTREAM
#define UN_HAS_STREAM 1
#endif

/* copy and product: nothing summed.  The output's innermost loop `pick`
 * runs inside; with a `tile` loop, UN_TILE x UN_TILE blocks of the two. */
static void UN(elementwise)(const un_loops *L, const T *a, const T *b, T *out)
{
    const int o = L->nt - 1;
    if (L->n == 0) {
        *out = b ? a[0] * b[0] + (T)0 : a[0];
        return;
    }
    int fr[UN_MAXL], sm[UN_MAXL], nf, ns;
    un_split(L, L->pick, L->tile, fr, &nf, sm, &ns);
    if (nf > 0 && L->ext[L->pick] < UN_SHORT_RUN &&
        L->ext[L->pick] * (L->tile >= 0 ? L->ext[L->tile] : 1) <= UN_BLOCK) {
        UN(blocks)(L, a, b, out, fr, nf);
        return;
    }
    const int in = L->pick, tl = L->tile;
    const int64_t sa = L->st[0][in], sb = o == 2 ? L->st[1][in] : 0, so = L->st[o][in];
    /* Runs into a contiguous output go out by non-temporal stores when
     * this call's output and its inputs, counted at the output's size,
     * pass the last-level cache (ein_cache_info.stream_bytes): the output
     * would not stay there, and is then not read before it is written.
     * AVX2 table, AMD Zen 3, alternating, minimum: f32 4096^2 ij->ij 8.5
     * -> 6.8 ms (two threads 6.0 -> 4.2), ij,j->ij 8.4 -> 6.3, ij,i->ij
     * 8.3 -> 5.6, ij,ij->ij 11.0 -> 8.8; 2048^2 ij,ij->ij 2.1 -> 1.7 ms,
     * f64 5.0 -> 4.1; 1700^2 to 2300^2 1.0-1.4x, none slower. */
    bool stream = false;
#ifdef UN_HAS_STREAM
    if (tl < 0 && so == 1) {
        double bytes = (double)(L->nt * (int)sizeof(T));
        for (int l = 0; l < L->n; l++)
            bytes *= (double)L->ext[l];
        stream = bytes > ein_cache_info_get()->stream_bytes;
    }
#endif
    const int64_t ta = tl >= 0 ? L->st[0][tl] : 0, tb = tl >= 0 && o == 2 ? L->st[1][tl] : 0;
    const int64_t to = tl >= 0 ? L->st[o][tl] : 0;
#ifdef UN_HAS_TILE_T
    /* The output contiguous along pick, each input along pick or along
     * tile, a plane large enough: through registers. */
    const bool tiles = tl >= 0 && UN(tile_t_pays)(L, sa, ta, sb, tb, so);
#endif
    int64_t fc[UN_MAXL] = {0}, f[3] = {0, 0, 0};
    do {
        const T *x = a + f[0], *y = b ? b + f[1] : NULL;
        T *z = out + f[o];
        if (tl < 0) {
#ifdef UN_HAS_STREAM
            if (stream) {
                UN(run_stream)(L->ext[in], x, sa, y, sb, z);
                continue;
            }
#endif
            UN(run)(L->ext[in], x, sa, y, sb, z, so);
            continue;
        }
#ifdef UN_HAS_TILE_T
        if (tiles) {
            UN(tiles_t)(L->ext[tl], L->ext[in], x, sa, ta, y, sb, tb, z, to);
            continue;
        }
#endif
        for (int64_t t0 = 0; t0 < L->ext[tl]; t0 += UN_TILE) {
            int64_t nt = L->ext[tl] - t0 < UN_TILE ? L->ext[tl] - t0 : UN_TILE;
            for (int64_t i0 = 0; i0 < L->ext[in]; i0 += UN_TILE) {
                int64_t ni = L->ext[in] - i0 < UN_TILE ? L->ext[in] - i0 : UN_TILE;
                for (int64_t q = t0; q < t0 + nt; q++)
                    UN(run)(ni, x + q * ta + i0 * sa, sa, y ? y + q * tb + i0 * sb : NULL,
                            sb, z + q * to + i0 * so, so);
            }
        }
    } while (un_next(L, fr, nf, fc, f));
#ifdef UN_HAS_STREAM
    if (stream)
        _mm_sfence();   /* the streamed stores before whatever reads them */
#endif
}

/* Zeros into every output element (a sum over an empty range). */
static void UN(zero)(const un_loops *L, T *out)
{
    int fr[UN_MAXL], sm[UN_MAXL], nf, ns;
    un_split(L, -1, -1, fr, &nf, sm, &ns);
    int64_t fc[UN_MAXL] = {0}, f[3] = {0, 0, 0};
    do
        out[f[L->nt - 1]] = 0;
    while (un_next(L, fr, nf, fc, f));
}

static int UN(execute)(un_loops *L, const T *a, const T *b, T *out, un_carry *cy)
{
    /* Offsets are applied only now: a probe (out == NULL) forms no
     * pointer from NULL. */
    if (!out || L->kind == EIN_GK_DECLINE || L->kind == EIN_GK_EMPTY)
        return L->kind;
    const int o = L->nt - 1;
    a += L->off[0];
    if (b)
        b += L->off[1];
    out += L->off[o];
    switch (L->kind) {
    case EIN_GK_ZERO:
        UN(zero)(L, out);
        break;
    case EIN_GK_ROWS:
        UN(rows)(L, a, out);
        break;
    case EIN_GK_COLUMNS:
    case EIN_GK_PRODUCT_COLUMNS:
        UN(columns)(L, a, b, out, cy);
        break;
    default:
        UN(elementwise)(L, a, b, out);
        break;
    }
    return L->kind;
}

static int UN(unary)(int nloops, int nfree, const int64_t *ext, const int64_t *sin,
                     const int64_t *sout, const T *in, T *out)
{
    un_loops L;
    const int64_t *st[2] = {sin, sout};
    if (!un_prepare(&L, 1, nloops, nfree, ext, st))
        return EIN_GK_DECLINE;
    return UN(execute)(&L, in, NULL, out, &(un_carry){NULL, NULL});
}

static int UN(product)(int nloops, int nfree, const int64_t *ext, const int64_t *sa,
                       const int64_t *sb, const int64_t *so, const T *a,
                       const T *b, T *out)
{
    un_loops L;
    const int64_t *st[3] = {sa, sb, so};
    if (!un_prepare(&L, 2, nloops, nfree, ext, st))
        return EIN_GK_DECLINE;
    return UN(execute)(&L, a, b, out, &(un_carry){NULL, NULL});
}

/* Column sums over some rows of the tiled label (see un_carry): `first`,
 * the sums start from 0; `last`, they are rounded into out; otherwise
 * they go on from, or are left in, carry (one double per output
 * element).  b NULL: one operand.  Anything but the columns kinds is
 * declined, touching nothing. */
static int UN(carry)(int nloops, int nfree, const int64_t *ext, const int64_t *sa,
                     const int64_t *sb, const int64_t *so, const T *a, const T *b,
                     T *out, double *carry, int first, int last)
{
    un_loops L;
    const int64_t *st2[2] = {sa, so}, *st3[3] = {sa, sb, so};
    const int nin = sb ? 2 : 1;
    int kind = un_prepare(&L, nin, nloops, nfree, ext, nin == 2 ? st3 : st2);
    if (kind != EIN_GK_COLUMNS && kind != EIN_GK_PRODUCT_COLUMNS)
        return EIN_GK_DECLINE;
    un_carry cy = {first ? NULL : carry, last ? NULL : carry};
    return UN(execute)(&L, a, b, out, &cy);
}
