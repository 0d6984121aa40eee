/* test_unary.c — the single-operand kernels of every table (copies,
 * transposes, diagonals, sums over axes; src/kernels/unary_t.h) against
 * the generic loop nest, on random extents (0 and 1 included), strides
 * (negative, zero, transposed, gapped) and both dtypes; and through the
 * public API against the independent reference. */
#define _POSIX_C_SOURCE 200809L   /* setenv */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "kernels/frame.h"
#include "support.h"

static const char *const tables[] = {"generic", "avx2", "avx512"};

#define MAXN 4
#define BUF  (1 << 17)

typedef struct ucase {
    int     n, nfree;
    int64_t ext[MAXN], si[MAXN], so[MAXN];
    int64_t in_off, out_off;   /* where element 0 sits in each buffer */
} ucase;

/* A random case: extents mostly small, sometimes long enough for the
 * lane loops and column blocks; input strides a permuted, sign-flipped,
 * gapped or zero layout; output strides a permuted C order over the free
 * loops, possibly reversed and gapped. */
static void random_case(ts_rng *r, ucase *c)
{
    c->n = (int)ts_range(r, 1, MAXN);
    c->nfree = (int)ts_range(r, 0, c->n);
    int64_t total = 1;
    for (int l = 0; l < c->n; l++) {
        int64_t pick = ts_range(r, 0, 9);
        c->ext[l] = pick == 0 ? 0 : pick == 1 ? 1 : pick == 9 ? ts_range(r, 60, 700)
                                                           : ts_range(r, 2, 9);
        if (total * (c->ext[l] ? c->ext[l] : 1) > 3000)
            c->ext[l] = ts_range(r, 1, 3);
        total *= c->ext[l] ? c->ext[l] : 1;
    }
    /* Input: C order over a random permutation, then signs and gaps. */
    int perm[MAXN];
    for (int l = 0; l < c->n; l++)
        perm[l] = l;
    for (int l = c->n - 1; l > 0; l--) {
        int j = (int)ts_range(r, 0, l), t = perm[l];
        perm[l] = perm[j];
        perm[j] = t;
    }
    int64_t s = ts_range(r, 1, 4) == 1 ? 2 : 1, lo = 0;
    for (int q = c->n - 1; q >= 0; q--) {
        int l = perm[q];
        int64_t e = c->ext[l] ? c->ext[l] : 1;
        c->si[l] = ts_range(r, 0, 7) == 0 ? 0 : ts_range(r, 0, 3) == 0 ? -s : s;
        if (c->si[l] < 0)
            lo += c->si[l] * (e - 1);
        s *= e + (ts_range(r, 0, 5) == 0);
    }
    c->in_off = -lo + 1;
    /* Output: the free loops only; summed loops write nowhere. */
    for (int l = c->nfree; l < c->n; l++)
        c->so[l] = 0;
    s = 1;
    lo = 0;
    int operm[MAXN];
    for (int l = 0; l < c->nfree; l++)
        operm[l] = l;
    for (int l = c->nfree - 1; l > 0; l--) {
        int j = (int)ts_range(r, 0, l), t = operm[l];
        operm[l] = operm[j];
        operm[j] = t;
    }
    for (int q = c->nfree - 1; q >= 0; q--) {
        int l = operm[q];
        int64_t e = c->ext[l] ? c->ext[l] : 1;
        c->so[l] = ts_range(r, 0, 4) == 0 ? -s : s;
        if (c->so[l] < 0)
            lo += c->so[l] * (e - 1);
        s *= e + (ts_range(r, 0, 5) == 0);
    }
    c->out_off = -lo + 1;
}

/* Both views lie inside the buffers. */
static bool fits(const ucase *c)
{
    int64_t hi_in = c->in_off, hi_out = c->out_off;
    for (int l = 0; l < c->n; l++) {
        int64_t e = c->ext[l] > 0 ? c->ext[l] - 1 : 0;
        hi_in += c->si[l] > 0 ? c->si[l] * e : 0;
        hi_out += c->so[l] > 0 ? c->so[l] * e : 0;
    }
    return hi_in < BUF && hi_out < BUF;
}

static double in_f64[BUF], out_f64[2][BUF];
static float in_f32[BUF], out_f32[2][BUF];

/* Run the table's kernel and the loop nest on case c; returns whether the
 * kernel handled it.  Every output slot outside the view keeps its
 * sentinel, and the values agree within a tolerance scaled by the sum's
 * length (the two add in different orders, both in double). */
static bool check(const ein_ktable *kt, ein_dtype dt, const ucase *c, const char *tag,
                  void *keep)
{
    int64_t st[MAXN * 2];
    for (int l = 0; l < c->n; l++) {
        st[2 * l] = c->si[l];
        st[2 * l + 1] = c->so[l];
    }
    int handled;
    if (dt == EIN_F32) {
        memset(out_f32, 0x7f, sizeof out_f32);
        handled = kt->unary_f32(c->n, c->nfree, c->ext, c->si, c->so,
                                in_f32 + c->in_off, out_f32[0] + c->out_off);
        const void *in[1] = {in_f32 + c->in_off};
        ein_loopnest(EIN_F32, 1, in, out_f32[1] + c->out_off, c->n, c->nfree, c->ext, st);
        if (!handled) {
            for (size_t i = 0; i < BUF; i++)
                cr_assert(((uint32_t *)out_f32[0])[i] == 0x7f7f7f7fu,
                          "%s: declined but wrote slot %zu", tag, i);
            return false;
        }
        for (size_t i = 0; i < BUF; i++) {
            float a = out_f32[0][i], b = out_f32[1][i];
            cr_assert(fabs((double)a - (double)b) <= 1e-5 * (1 + fabs((double)b)),
                      "%s: slot %zu is %g, loop nest %g", tag, i, (double)a, (double)b);
        }
        if (keep)
            memcpy(keep, out_f32[0], sizeof out_f32[0]);
    } else {
        memset(out_f64, 0x7f, sizeof out_f64);
        handled = kt->unary_f64(c->n, c->nfree, c->ext, c->si, c->so,
                                in_f64 + c->in_off, out_f64[0] + c->out_off);
        const void *in[1] = {in_f64 + c->in_off};
        ein_loopnest(EIN_F64, 1, in, out_f64[1] + c->out_off, c->n, c->nfree, c->ext, st);
        if (!handled) {
            for (size_t i = 0; i < BUF; i++)
                cr_assert(((uint64_t *)out_f64[0])[i] == 0x7f7f7f7f7f7f7f7full,
                          "%s: declined but wrote slot %zu", tag, i);
            return false;
        }
        for (size_t i = 0; i < BUF; i++) {
            double a = out_f64[0][i], b = out_f64[1][i];
            cr_assert(fabs(a - b) <= 1e-12 * (1 + fabs(b)),
                      "%s: slot %zu is %.17g, loop nest %.17g", tag, i, a, b);
        }
        if (keep)
            memcpy(keep, out_f64[0], sizeof out_f64[0]);
    }
    return true;
}

static void random_views(uint64_t seed)
{
    ts_rng r = {seed};
    ts_fill_f32(in_f32, BUF, &r);
    ts_fill_f64(in_f64, BUF, &r);
    static double first[BUF];   /* big enough for either dtype's buffer */
    int handled = 0, total = 0;
    for (int it = 0; it < 600; it++) {
        ucase c;
        do
            random_case(&r, &c);
        while (!fits(&c));
        ein_dtype dt = it % 2 ? EIN_F64 : EIN_F32;
        bool have_first = false;
        for (size_t t = 0; t < sizeof tables / sizeof tables[0]; t++) {
            const ein_ktable *kt = ein_ktable_named(tables[t]);
            if (!kt)
                continue;
            char tag[96];
            snprintf(tag, sizeof tag, "case %d (%s, %s, %d loops, %d free)", it,
                     tables[t], ein_dtype_name(dt), c.n, c.nfree);
            static double mine[BUF];
            bool h = check(kt, dt, &c, tag, mine);
            total++;
            handled += h;
            if (!h)
                continue;
            /* Every table spells out the same additions: same bits. */
            size_t bytes = dt == EIN_F32 ? sizeof out_f32[0] : sizeof out_f64[0];
            if (!have_first) {
                memcpy(first, mine, bytes);
                have_first = true;
            } else {
                cr_assert(memcmp(first, mine, bytes) == 0,
                          "%s: differs from the first table's bits", tag);
            }
        }
    }
    /* Most random shapes are ones the kernels take; the rest fall back. */
    cr_assert_gt(handled, total / 2, "handled %d of %d", handled, total);
}

Test(unary, random_views_every_table) { random_views(41); }

/* The shapes the kernels exist for must not fall back. */
Test(unary, named_shapes_are_handled)
{
    ts_rng r = {42};
    ts_fill_f32(in_f32, BUF, &r);
    ts_fill_f64(in_f64, BUF, &r);
    const ucase cases[] = {
        /* ij->ji, 100 x 130 */
        {2, 2, {130, 100}, {1, 130}, {100, 1}, 0, 0},
        /* ij->i: rows summed */
        {2, 1, {100, 130}, {130, 1}, {1, 0}, 0, 0},
        /* ij->j: columns summed, in one block and in two (UN_SEG is 512) */
        {2, 1, {130, 100}, {1, 130}, {1, 0}, 0, 0},
        {2, 1, {700, 5}, {1, 700}, {1, 0}, 0, 0},
        /* ii->i over a 200 x 200 matrix */
        {1, 1, {200}, {201}, {1}, 0, 0},
        /* ij-> fused to one loop, read backwards */
        {1, 0, {9000}, {-1}, {0}, 8999, 0},
        /* ijk->kji */
        {3, 3, {20, 30, 40}, {1, 20, 600}, {1200, 40, 1}, 0, 0},
        /* ijk->kj: columns contiguous in the input only, in one block
         * and in two; sums of 64 or more (shorter ones are rows) */
        {3, 2, {16, 20, 100}, {1, 16, 320}, {20, 1, 0}, 0, 0},
        {3, 2, {600, 2, 64}, {1, 600, 1200}, {2, 1, 0}, 0, 0},
    };
    for (size_t t = 0; t < sizeof tables / sizeof tables[0]; t++) {
        const ein_ktable *kt = ein_ktable_named(tables[t]);
        if (!kt)
            continue;
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
            for (int d = 0; d < 2; d++) {
                char tag[64];
                snprintf(tag, sizeof tag, "named case %zu, %s", i, tables[t]);
                cr_assert(check(kt, d ? EIN_F64 : EIN_F32, &cases[i], tag, NULL),
                          "%s fell back to the loop nest", tag);
            }
    }
}

/* Through the planner: sums, transposes and diagonals of strided views
 * agree with the independent reference evaluator. */
Test(unary, public_api_against_reference)
{
    static const char *const exprs[] = {"ij->ji", "ij->i", "ij->j", "ij->", "ii->i",
                                        "ii->", "ijk->kij", "ijk->j", "iji->j"};
    static float a[60 * 60 * 60];
    ts_rng r = {43};
    ts_fill_f32(a, sizeof a / sizeof a[0], &r);
    for (size_t e = 0; e < sizeof exprs / sizeof exprs[0]; e++) {
        int nd = exprs[e][2] == '-' ? 2 : 3;
        int64_t n = nd == 2 ? 57 : 23;
        int64_t shape[3] = {n, n, n}, strides[3];
        /* A reversed, transposed view with a gap: start from the end. */
        strides[nd - 1] = -(n + 3) * (nd == 3 ? n + 1 : 1);
        strides[0] = -1;
        if (nd == 3)
            strides[1] = -(n + 3);
        int64_t off = 0;
        for (int d = 0; d < nd; d++)
            off -= strides[d] * (n - 1);
        ein_tensor A = {a + off, EIN_F32, nd, shape, strides};
        const ein_tensor *ops[] = {&A};
        static double want[60 * 60 * 60];
        int64_t cnt;
        cr_assert_eq(ts_reference(exprs[e], 1, ops, want, &cnt), EIN_OK);
        ein_status st;
        ein_plan *p = ein_plan_new(exprs[e], 1, ops, NULL, NULL, &st);
        cr_assert(p, "%s: %s", exprs[e], ein_last_error());
        int64_t oshape[EIN_MAX_DIMS];
        int32_t ond = ein_plan_result(p, NULL, oshape);
        static float got[60 * 60 * 60];
        ein_tensor O = {got, EIN_F32, ond, oshape, NULL};
        cr_assert_eq(ein_execute(p, ops, &O), EIN_OK, "%s: %s", exprs[e], ein_last_error());
        for (int64_t i = 0; i < cnt; i++)
            cr_assert(fabs((double)got[i] - want[i]) <= 1e-5 * (1 + fabs(want[i])),
                      "%s: element %lld is %g, want %g", exprs[e], (long long)i,
                      (double)got[i], want[i]);
        ein_plan_free(p);
    }
}

/* ---- two operands, nothing summed ------------------------------------ */

/* Random strides for extents ext[0..n-1]: C order over a random
 * permutation, some loops reversed, some gapped, and (when zeros) some
 * broadcast with stride 0.  Returns the offset of element 0 so that the
 * view starts at index 0, and *span the elements it reaches. */
static int64_t layout(ts_rng *r, int n, const int64_t *ext, int64_t *st, bool zeros,
                      int64_t *span)
{
    int perm[MAXN];
    for (int l = 0; l < n; l++)
        perm[l] = l;
    for (int l = n - 1; l > 0; l--) {
        int j = (int)ts_range(r, 0, l), t = perm[l];
        perm[l] = perm[j];
        perm[j] = t;
    }
    int64_t s = 1, lo = 0, hi = 0;
    for (int q = n - 1; q >= 0; q--) {
        int l = perm[q];
        int64_t e = ext[l] ? ext[l] : 1;
        st[l] = zeros && ts_range(r, 0, 4) == 0 ? 0 : ts_range(r, 0, 3) == 0 ? -s : s;
        if (st[l] < 0)
            lo += st[l] * (e - 1);
        else
            hi += st[l] * (e - 1);
        s *= e + (ts_range(r, 0, 5) == 0);
    }
    *span = hi - lo + 1;
    return -lo;
}

/* out = a * b over random loops, half the time with some summed:
 * operand strides permuted, negative, zero (broadcast) or gapped, the
 * output permuted and possibly reversed.  Products round the same in
 * float as in double and sums add in the loop nest's order, so the kernel
 * must match the loop nest bit for bit, and leave every other slot alone;
 * a shape it declines must leave the output untouched. */
static void random_products(uint64_t seed)
{
    ts_rng r = {seed};
    ts_fill_f32(in_f32, BUF, &r);
    ts_fill_f64(in_f64, BUF, &r);
    int checked = 0, handled = 0;
    for (int it = 0; it < 800; it++) {
        ucase c;
        int64_t sb[MAXN], aoff, boff, ooff, span_a, span_b, span_o;
        do {
            random_case(&r, &c);
            aoff = layout(&r, c.n, c.ext, c.si, true, &span_a);
            boff = layout(&r, c.n, c.ext, sb, true, &span_b);
            /* Half the cases sum: the summed loops write nowhere. */
            if (ts_range(&r, 0, 1))
                c.nfree = c.n;
            ooff = layout(&r, c.nfree, c.ext, c.so, false, &span_o);
            for (int l = c.nfree; l < c.n; l++)
                c.so[l] = 0;
        } while (span_a > BUF / 2 || span_b > BUF / 2 || span_o > BUF);
        boff += BUF / 2;
        int64_t st[MAXN * 3];
        for (int l = 0; l < c.n; l++) {
            st[3 * l] = c.si[l];
            st[3 * l + 1] = sb[l];
            st[3 * l + 2] = c.so[l];
        }
        for (size_t t = 0; t < sizeof tables / sizeof tables[0]; t++) {
            const ein_ktable *kt = ein_ktable_named(tables[t]);
            if (!kt)
                continue;
            if (it % 2 == 0) {
                memset(out_f32, 0x7f, sizeof out_f32);
                int h = kt->product_f32(c.n, c.nfree, c.ext, c.si, sb, c.so,
                                        in_f32 + aoff, in_f32 + boff, out_f32[0] + ooff);
                memset(out_f32[1], 0x7f, sizeof out_f32[1]);
                const void *in[2] = {in_f32 + aoff, in_f32 + boff};
                if (h)
                    ein_loopnest(EIN_F32, 2, in, out_f32[1] + ooff, c.n, c.nfree, c.ext, st);
                handled += h;
                cr_assert(memcmp(out_f32[0], out_f32[1], sizeof out_f32[0]) == 0,
                          "case %d (%s, float32, %d loops, %d free) differs from the "
                          "loop nest (or a declined call wrote)", it, tables[t], c.n, c.nfree);
            } else {
                memset(out_f64, 0x7f, sizeof out_f64);
                int h = kt->product_f64(c.n, c.nfree, c.ext, c.si, sb, c.so,
                                        in_f64 + aoff, in_f64 + boff, out_f64[0] + ooff);
                memset(out_f64[1], 0x7f, sizeof out_f64[1]);
                const void *in[2] = {in_f64 + aoff, in_f64 + boff};
                if (h)
                    ein_loopnest(EIN_F64, 2, in, out_f64[1] + ooff, c.n, c.nfree, c.ext, st);
                handled += h;
                cr_assert(memcmp(out_f64[0], out_f64[1], sizeof out_f64[0]) == 0,
                          "case %d (%s, float64, %d loops, %d free) differs from the "
                          "loop nest (or a declined call wrote)", it, tables[t], c.n, c.nfree);
            }
            checked++;
        }
    }
    cr_assert_gt(checked, 800);
    cr_assert_gt(handled, checked * 2 / 3, "handled %d of %d", handled, checked);
}

Test(unary, products_every_table) { random_products(44); }

/* With streaming stores forced on for any size (EIN_STREAM_BYTES=1), the
 * copies and products whose output runs are contiguous take them: the
 * random views and products above again, and runs of every length 0-70
 * starting at every element offset of a 32-byte block, from contiguous
 * and broadcast inputs, each bit for bit the loop nest's and writing
 * nothing else. */
Test(unary, streamed_outputs_every_table)
{
    setenv("EIN_STREAM_BYTES", "1", 1);
    cr_assert_eq(ein_cache_info_get()->stream_bytes, 1.0);
    random_views(141);
    random_products(144);
    ts_rng r = {145};
    ts_fill_f32(in_f32, BUF, &r);
    ts_fill_f64(in_f64, BUF, &r);
    in_f32[3] = -0.0f;   /* a copy keeps it; times b's 1.0 below, +0 */
    in_f64[3] = -0.0;
    in_f32[1003] = 1.0f;
    in_f64[1003] = 1.0;
    for (size_t t = 0; t < sizeof tables / sizeof tables[0]; t++) {
        const ein_ktable *kt = ein_ktable_named(tables[t]);
        if (!kt)
            continue;
        for (int64_t n = 0; n <= 70; n++)
            for (int64_t off = 0; off < 8; off++)
                for (int mode = 0; mode < 5; mode++) {
                    /* 3 rows of n: a copy (mode 0), a copy of a broadcast
                     * row (1), a product (2), a product by a broadcast
                     * element (3) or row (4). */
                    int64_t ext[2] = {3, n}, so[2] = {n, 1};
                    int64_t sa[2] = {n + 1, mode == 1 ? 0 : 1};
                    int64_t sb[2] = {mode == 4 ? 0 : n + 2, mode == 3 ? 0 : 1};
                    const int nin = mode < 2 ? 1 : 2;
                    int64_t st[6];
                    for (int l = 0; l < 2; l++) {
                        st[l * (nin + 1)] = sa[l];
                        if (nin == 2)
                            st[l * 3 + 1] = sb[l];
                        st[l * (nin + 1) + nin] = so[l];
                    }
                    for (int d = 0; d < 2; d++) {
                        const size_t es = d ? sizeof(double) : sizeof(float);
                        char *o0 = d ? (char *)out_f64[0] : (char *)out_f32[0];
                        char *o1 = d ? (char *)out_f64[1] : (char *)out_f32[1];
                        const char *a = d ? (const char *)in_f64 : (const char *)in_f32;
                        const char *b = a + 1000 * es;
                        const size_t bytes = d ? sizeof out_f64[0] : sizeof out_f32[0];
                        memset(o0, 0x7f, bytes);
                        memset(o1, 0x7f, bytes);
                        char *z0 = o0 + (size_t)off * es, *z1 = o1 + (size_t)off * es;
                        int h;
                        if (nin == 1)
                            h = d ? kt->unary_f64(2, 2, ext, sa, so, (const double *)a, (double *)z0)
                                  : kt->unary_f32(2, 2, ext, sa, so, (const float *)a, (float *)z0);
                        else
                            h = d ? kt->product_f64(2, 2, ext, sa, sb, so, (const double *)a,
                                                    (const double *)b, (double *)z0)
                                  : kt->product_f32(2, 2, ext, sa, sb, so, (const float *)a,
                                                    (const float *)b, (float *)z0);
                        const void *in[2] = {a, b};
                        ein_loopnest(d ? EIN_F64 : EIN_F32, nin, in, z1, 2, 2, ext, st);
                        cr_assert(!h || memcmp(o0, o1, bytes) == 0,
                                  "%s %s n=%lld offset %lld mode %d: differs from the "
                                  "loop nest", tables[t], d ? "f64" : "f32", (long long)n,
                                  (long long)off, mode);
                    }
                }
    }
}

/* Hadamard, broadcast and transposed products, and column sums of
 * products, through the public API. */
Test(unary, products_public_api)
{
    static const char *const exprs[] = {"ij,ij->ij", "ij,j->ij", "ij,i->ij", "ij,ji->ij",
                                        "i,j->ij", "ij,ij->ji", "ijk,ik->kji", "ij,ij->j",
                                        "ijk,ijk->kj", "abc,b->ac"};
    static double a[67 * 67], b[67 * 67], got[67 * 67], want[67 * 67];
    ts_rng r = {45};
    ts_fill_f64(a, sizeof a / sizeof a[0], &r);
    ts_fill_f64(b, sizeof b / sizeof b[0], &r);
    for (size_t e = 0; e < sizeof exprs / sizeof exprs[0]; e++) {
        const char *x = exprs[e];
        const char *comma = strchr(x, ','), *arrow = strstr(x, "->");
        int na = (int)(comma - x), nb = (int)(arrow - comma - 1);
        /* Past a vector's width and a tile's edge in 2-D; small in 3-D. */
        int64_t n = na == 3 ? 13 : 67;
        int64_t sa[3] = {n, n, n}, sb[3] = {n, n, n};
        ein_tensor A = {a, EIN_F64, na, sa, NULL}, B = {b, EIN_F64, nb, sb, NULL};
        const ein_tensor *ops[] = {&A, &B};
        int64_t cnt;
        cr_assert_eq(ts_reference(x, 2, ops, want, &cnt), EIN_OK);
        ein_status st;
        ein_plan *p = ein_plan_new(x, 2, ops, NULL, NULL, &st);
        cr_assert(p, "%s: %s", x, ein_last_error());
        int64_t oshape[EIN_MAX_DIMS];
        int32_t ond = ein_plan_result(p, NULL, oshape);
        ein_tensor O = {got, EIN_F64, ond, oshape, NULL};
        cr_assert_eq(ein_execute(p, ops, &O), EIN_OK, "%s: %s", x, ein_last_error());
        /* Pure products are exact; sums may add in another order. */
        bool sums = false;
        for (const char *c = x; c < arrow; c++)
            sums |= *c != ',' && !strchr(arrow, *c);
        for (int64_t i = 0; i < cnt; i++)
            cr_assert(sums ? fabs(got[i] - want[i]) <= 1e-13 * (1 + fabs(want[i]))
                           : got[i] == want[i],
                      "%s: element %lld is %.17g, want %.17g", x, (long long)i, got[i],
                      want[i]);
        ein_plan_free(p);
    }
}

/* The same in float32, whose column sums of products have a loop of
 * their own on AVX-512 (four rows of eight columns a step): every table
 * against the double reference, rows past a multiple of four, columns
 * past a multiple of eight, and a strided operand. */
Test(unary, product_columns_f32_every_table)
{
    static const char *const tabs[] = {"generic", "avx2", "avx512"};
    static float a[70 * 70], b[70 * 70], got[70 * 70];
    static double want[70 * 70];
    ts_rng r = {46};
    ts_fill_f32(a, sizeof a / sizeof a[0], &r);
    ts_fill_f32(b, sizeof b / sizeof b[0], &r);
    static const int64_t shapes[][2] = {{67, 67}, {4, 8}, {7, 9}, {13, 70}, {1, 33}};
    for (size_t t = 0; t < 3; t++) {
        const ein_ktable *kt = ein_ktable_named(tabs[t]);
        if (!kt)
            continue;
        for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++)
            for (int strided = 0; strided < 2; strided++) {
                int64_t sh[2] = {shapes[k][0], shapes[k][1]};
                int64_t st[2] = {strided ? 70 : sh[1], 1};
                ein_tensor A = {a, EIN_F32, 2, sh, st}, B = {b, EIN_F32, 2, sh, NULL};
                const ein_tensor *ops[] = {&A, &B};
                int64_t cnt;
                cr_assert_eq(ts_reference("ij,ij->j", 2, ops, want, &cnt), EIN_OK);
                ein_status s;
                ein_plan *p = ein_plan_build("ij,ij->j", 2, ops, NULL, NULL, kt, false, &s);
                cr_assert(p, "%s", ein_last_error());
                int64_t osh[1] = {sh[1]};
                ein_tensor O = {got, EIN_F32, 1, osh, NULL};
                cr_assert_eq(ein_execute(p, ops, &O), EIN_OK, "%s", ein_last_error());
                ein_plan_free(p);
                for (int64_t i = 0; i < cnt; i++)
                    cr_assert(fabs((double)got[i] - want[i]) <= 1e-6 * (1 + fabs(want[i])),
                              "%s %lldx%lld strided=%d: column %lld is %.9g, want %.9g",
                              tabs[t], (long long)sh[0], (long long)sh[1], strided,
                              (long long)i, (double)got[i], want[i]);
            }
    }
}

/* Steps big enough to split a free loop across two threads give the
 * one-thread bits: each output element is still one thread's sum. */
Test(unary, two_threads_same_bits)
{
    static const char *const exprs[] = {"ij->i", "ij->j", "ij->ji", "ijk->kj", "ij->",
                                        "ij,ij->ij", "ij,ij->j", "ij,j->ij"};
    enum { N = 640 };   /* 1.6 MB per operand: past the split threshold */
    static float a[N * N], b[N * N], o1[N * N], o2[N * N];
    ts_rng r = {46};
    ts_fill_f32(a, N * N, &r);
    ts_fill_f32(b, N * N, &r);
    for (size_t e = 0; e < sizeof exprs / sizeof exprs[0]; e++) {
        const char *x = exprs[e];
        const char *comma = strchr(x, ','), *arrow = strstr(x, "->");
        int nops = comma ? 2 : 1;
        int na = (int)((comma ? comma : arrow) - x);
        int nb = comma ? (int)(arrow - comma - 1) : 0;
        int64_t sa[3] = {na == 3 ? 64 : N, na == 3 ? 80 : N, 80};
        int64_t sb[2] = {N, N};
        if (nb == 1)
            sb[0] = N;
        ein_tensor A = {a, EIN_F32, na, sa, NULL}, B = {b, EIN_F32, nb, sb, NULL};
        const ein_tensor *ops[] = {&A, &B};
        float *outs[2] = {o1, o2};
        for (int th = 1; th <= 2; th++) {
            ein_options opt = {.num_threads = th};
            ein_status st;
            ein_plan *p = ein_plan_new(x, nops, ops, NULL, &opt, &st);
            cr_assert(p, "%s: %s", x, ein_last_error());
            int64_t oshape[EIN_MAX_DIMS];
            int32_t ond = ein_plan_result(p, NULL, oshape);
            memset(outs[th - 1], 0, sizeof o1);
            ein_tensor O = {outs[th - 1], EIN_F32, ond, oshape, NULL};
            cr_assert_eq(ein_execute(p, ops, &O), EIN_OK, "%s: %s", x, ein_last_error());
            ein_plan_free(p);
        }
        cr_assert(memcmp(o1, o2, sizeof o1) == 0, "%s: 1 and 2 threads differ", x);
    }
}

/* EXPLAIN names the loop a step without a dense kernel runs. */
Test(unary, explain_names_the_loop)
{
    static float a[64 * 64], b[64 * 64];
    const struct {
        const char *expr, *want;
    } cases[] = {
        {"ij->ji", "unary_f32/"},      {"ij->ji", "(copy)"},
        {"ij->i", "(row sums)"},       {"ij->j", "(column sums)"},
        {"ij,ij->ij", "product_f32/"}, {"ij,ji->ij", "(elementwise product)"},
        {"ij,ij->j", "(column sums of products)"},
        {"ii->", "loopnest_f32 (generic strided loop nest)"},
    };
    int64_t shape[2] = {64, 64};
    ein_tensor A = {a, EIN_F32, 2, shape, NULL}, B = {b, EIN_F32, 2, shape, NULL};
    const ein_tensor *ops[] = {&A, &B};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int nops = strchr(cases[i].expr, ',') ? 2 : 1;
        ein_status st;
        ein_plan *p = ein_plan_new(cases[i].expr, nops, ops, NULL, NULL, &st);
        cr_assert(p, "%s: %s", cases[i].expr, ein_last_error());
        char text[4096];
        ein_plan_explain(p, text, sizeof text);
        cr_assert(strstr(text, cases[i].want), "%s: no \"%s\" in\n%s", cases[i].expr,
                  cases[i].want, text);
        ein_plan_free(p);
    }
}

/* A whole-array sum is cut into fixed chunks (two threads may share
 * them): right against a double sum, forwards and read backwards, and
 * in both dtypes. */
Test(unary, whole_sums_in_chunks)
{
    enum { N = 3 * 65536 + 123 };
    static float f[N];
    static double d[N];
    ts_rng r = {47};
    ts_fill_f32(f, N, &r);
    ts_fill_f64(d, N, &r);
    double wf = 0, wd = 0, mf = 0, md = 0;
    for (int i = 0; i < N; i++) {
        wf += f[i];
        wd += d[i];
        mf += fabs((double)f[i]);
        md += fabs(d[i]);
    }
    int64_t shape[1] = {N}, back[1] = {-1};
    for (int dir = 0; dir < 2; dir++)
        for (int th = 1; th <= 2; th++) {
            ein_options opt = {.num_threads = th};
            ein_tensor F = {dir ? f + N - 1 : f, EIN_F32, 1, shape, dir ? back : NULL};
            ein_tensor D = {dir ? d + N - 1 : d, EIN_F64, 1, shape, dir ? back : NULL};
            float of = 0;
            double od = 0;
            ein_tensor OF = {&of, EIN_F32, 0, NULL, NULL}, OD = {&od, EIN_F64, 0, NULL, NULL};
            const ein_tensor *opf[] = {&F}, *opd[] = {&D};
            ein_status st;
            ein_plan *pf = ein_plan_new("i->", 1, opf, &OF, &opt, &st);
            ein_plan *pd = ein_plan_new("i->", 1, opd, &OD, &opt, &st);
            cr_assert(pf && pd, "%s", ein_last_error());
            cr_assert_eq(ein_execute(pf, opf, &OF), EIN_OK, "%s", ein_last_error());
            cr_assert_eq(ein_execute(pd, opd, &OD), EIN_OK, "%s", ein_last_error());
            cr_assert(fabs((double)of - wf) <= 1e-6 * mf, "f32 sum %g, want %g", (double)of, wf);
            cr_assert(fabs(od - wd) <= 1e-14 * md, "f64 sum %.17g, want %.17g", od, wd);
            ein_plan_free(pf);
            ein_plan_free(pd);
        }
}

/* The documented arithmetic of a short row (UN(sum_short)): lane l
 * adds elements l, l + 8, ... in order, the lanes fold as
 * ((0+4)+(2+6))+((1+5)+(3+7)), and the sum is added to +0. */
static double lane8_sum(const void *row, bool f32, int64_t n)
{
    double lane[8] = {0};
    for (int64_t i = 0; i < n; i++)
        lane[i % 8] += f32 ? (double)((const float *)row)[i] : ((const double *)row)[i];
    return 0.0 + (((lane[0] + lane[4]) + (lane[2] + lane[6])) +
                  ((lane[1] + lane[5]) + (lane[3] + lane[7])));
}

/* Short rows ("bi->b" with rows of 1 to 63, summed by their own loops,
 * a block of rows at a time from 7 on the AVX-512 and AVX2 tables) have,
 * to the bit, the sums of lane8_sum.  Rows of up to 16 also have the bits of the
 * same rows padded with zeros to 64 elements, which take the 64-lane
 * sum, whose tree then adds the same pairs.  301 rows: whole blocks of
 * eight and five left over.  Both dtypes, the default table (CI runs
 * the suite again with EIN_ARCH=avx2 and generic). */
Test(unary, short_rows_sum_in_eight_lanes)
{
    ts_rng r = {4711};
    enum { ROWS = 301, PAD = 64 };
    static double buf[ROWS * PAD], pad[ROWS * PAD], res[2][ROWS];
    static const int64_t lens[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 15, 16, 17, 23, 31, 40, 57, 63};
    for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++)
        for (int dt = EIN_F32; dt <= EIN_F64; dt++) {
            const int64_t n = lens[li];
            bool f32 = dt == EIN_F32;
            ts_fill_f64(buf, (size_t)(ROWS * n), &r);
            memset(pad, 0, sizeof pad);
            for (int64_t b = 0; b < ROWS; b++)
                for (int64_t i = 0; i < n; i++) {
                    double v = buf[b * n + i] * (1.0 + 1e3 * (double)(i % 3));
                    if (f32) {
                        ((float *)buf)[b * n + i] = (float)v;
                        ((float *)pad)[b * PAD + i] = (float)v;
                    } else {
                        buf[b * n + i] = v;
                        pad[b * PAD + i] = v;
                    }
                }
            int64_t sh[2] = {ROWS, n}, shp[2] = {ROWS, PAD}, sho[1] = {ROWS};
            ein_tensor A = {buf, (ein_dtype)dt, 2, sh, NULL};
            ein_tensor P = {pad, (ein_dtype)dt, 2, shp, NULL};
            ein_tensor O0 = {res[0], (ein_dtype)dt, 1, sho, NULL};
            ein_tensor O1 = {res[1], (ein_dtype)dt, 1, sho, NULL};
            cr_assert_eq(einsum("bi->b", &O0, &A), EIN_OK, "%s", ein_last_error());
            cr_assert_eq(einsum("bi->b", &O1, &P), EIN_OK, "%s", ein_last_error());
            size_t es = f32 ? sizeof(float) : sizeof(double);
            for (int64_t b = 0; b < ROWS; b++) {
                double got = f32 ? (double)((float *)res[0])[b] : res[0][b];
                double want = lane8_sum((char *)buf + b * n * es, f32, n);
                if (f32)
                    want = (double)((float)want + 0.0f);
                cr_assert(memcmp(&got, &want, sizeof got) == 0,
                          "%s rows of %lld: row %lld sums to %.17g, eight lanes give %.17g",
                          f32 ? "f32" : "f64", (long long)n, (long long)b, got, want);
                cr_assert(n > 16 || memcmp((char *)res[0] + b * es,
                                           (char *)res[1] + b * es, es) == 0,
                          "%s rows of %lld: row %lld sums to %.17g, padded to %.17g",
                          f32 ? "f32" : "f64", (long long)n, (long long)b, got,
                          f32 ? (double)((float *)res[1])[b] : res[1][b]);
            }
        }
}

/* The documented arithmetic of a longer row (UN(sum_run)): elements in
 * whole chunks of 64 go to lane i % 64, the rest to lane (i - start) % 8
 * in order, and the lanes fold by halves (w = 32, 16, ..., 1). */
static double lane64_sum(const void *row, bool f32, int64_t n)
{
    double lane[64] = {0};
    const int64_t full = n / 64 * 64;
    for (int64_t i = 0; i < n; i++)
        lane[i < full ? i % 64 : (i - full) % 8] +=
            f32 ? (double)((const float *)row)[i] : ((const double *)row)[i];
    for (int w = 32; w >= 1; w /= 2)
        for (int l = 0; l < w; l++)
            lane[l] += lane[l + w];
    return 0.0 + lane[0];
}

static double row_sum_ref(const void *row, bool f32, int64_t n)
{
    return n < 64 ? lane8_sum(row, f32, n) : lane64_sum(row, f32, n);
}

/* Rows under another summed loop, every table, to the bit: each output
 * adds its rows' sums (eight lanes below 64 elements, 64 from there) to
 * +0 in the order of a.  Two layouts: "aci->c", where the outputs' rows
 * of one a lie side by side (read a block of outputs at a time, in
 * memory order), and "cai->c", where each output's rows do.  101 outputs,
 * so row blocks (eight AVX-512, four AVX2) end with single outputs, and
 * 2051 once, past a block of 2048 outputs. */
Test(unary, rows_under_a_summed_loop)
{
    ts_rng r = {90210};
    enum { NA = 3, MAXNC = 2051, MAXLEN = 513 };
    static double buf[NA * 101 * (MAXLEN + 1)], res[MAXNC];
    static const int64_t lens[] = {3, 7, 9, 30, 63, 64, 65, 71, 72, 100, 129, 200, 513};
    for (size_t t = 0; t < sizeof tables / sizeof tables[0]; t++) {
        const ein_ktable *kt = ein_ktable_named(tables[t]);
        if (!kt)
            continue;
        for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++)
            for (int lay = 0; lay < 2; lay++)
                for (int dt = EIN_F32; dt <= EIN_F64; dt++) {
                    const int64_t n = lens[li], nc = n == 7 ? MAXNC : 101;
                    const bool f32 = dt == EIN_F32;
                    const size_t es = f32 ? sizeof(float) : sizeof(double);
                    ts_fill_f64(buf, (size_t)(NA * nc * (n + 1)), &r);
                    if (f32)
                        for (int64_t e = 0; e < NA * nc * (n + 1); e++)
                            ((float *)buf)[e] = (float)buf[e];
                    /* the element offsets of output c's row of a; "cai"
                     * leaves a gap after each row, else a and i would
                     * join into one run */
                    const int64_t sc = lay ? NA * (n + 1) : n, sa = lay ? n + 1 : nc * n;
                    int64_t ext[3] = {nc, NA, n};
                    int64_t si[3] = {sc, sa, 1}, so[3] = {1, 0, 0};
                    int handled = f32 ? kt->unary_f32(3, 1, ext, si, so, (float *)buf,
                                                      (float *)res)
                                      : kt->unary_f64(3, 1, ext, si, so, buf, res);
                    cr_assert(handled, "%s: %s with rows of %lld declined", tables[t],
                              lay ? "cai->c" : "aci->c", (long long)n);
                    for (int64_t c = 0; c < nc; c++) {
                        double acc = 0;
                        for (int64_t a = 0; a < NA; a++)
                            acc += row_sum_ref((char *)buf + (c * sc + a * sa) * es, f32, n);
                        double got = f32 ? (double)((float *)res)[c] : res[c];
                        double want = f32 ? (double)((float)acc + 0.0f) : acc + 0.0;
                        cr_assert(memcmp(&got, &want, sizeof got) == 0,
                                  "%s %s %s rows of %lld: output %lld is %.17g, want %.17g",
                                  tables[t], lay ? "cai->c" : "aci->c", f32 ? "f32" : "f64",
                                  (long long)n, (long long)c, got, want);
                    }
                }
    }
}

/* A table's whole-run sum (the chunks of a whole-array sum, and each
 * row of 64 or more) is lane64_sum, to the bit, at every length from 0
 * to 300 and a few longer, from every alignment of a float or double. */
Test(unary, runs_sum_in_64_lanes)
{
    ts_rng r = {3141};
    enum { LONG = 4200 };
    static double d[LONG + 8];
    static float f[LONG + 8];
    ts_fill_f64(d, LONG + 8, &r);
    for (int i = 0; i < LONG + 8; i++)
        f[i] = (float)(d[i] * (1.0 + 1e3 * (double)(i % 5)));
    for (size_t t = 0; t < sizeof tables / sizeof tables[0]; t++) {
        const ein_ktable *kt = ein_ktable_named(tables[t]);
        if (!kt)
            continue;
        for (int64_t n = 0; n <= LONG; n += n < 300 ? 1 : 977)
            for (int off = 0; off < 8; off++) {
                double gf = 0.0 + kt->sum_f32(f + off, n), gd = 0.0 + kt->sum_f64(d + off, n);
                double wf = lane64_sum(f + off, true, n), wd = lane64_sum(d + off, false, n);
                cr_assert(memcmp(&gf, &wf, sizeof gf) == 0,
                          "%s f32 run of %lld at +%d: %.17g, want %.17g", tables[t],
                          (long long)n, off, gf, wf);
                cr_assert(memcmp(&gd, &wd, sizeof gd) == 0,
                          "%s f64 run of %lld at +%d: %.17g, want %.17g", tables[t],
                          (long long)n, off, gd, wd);
            }
    }
}

/* The loop nest's strides for three loops: per loop, the input's and the
 * output's (st2, a copy), or both inputs' and the output's (st3). */
static void loop_strides3(const int64_t *la, const int64_t *lb, const int64_t *lo,
                          int64_t *st2, int64_t *st3)
{
    for (int l = 0; l < 3; l++) {
        st2[2 * l] = la[l];
        st2[2 * l + 1] = lo[l];
        st3[3 * l] = la[l];
        st3[3 * l + 1] = lb[l];
        st3[3 * l + 2] = lo[l];
    }
}

/* Small transposed planes strided apart ("ijkl->ljki" on 32^4, whose
 * input rows lie a multiple of 4 KiB apart, so that a run of the output
 * would read lines that all share one cache set) go through register
 * tiles too; each table must still match the loop nest bit for bit and
 * write nothing else.  Planes of 20 x 12, 8 x 8 and 16 x 33 (edges past whole 8 x 8
 * blocks), input rows 4 KiB and 2 KiB apart, copies and products (the
 * second operand laid out like the first, or contiguous along the
 * output's rows). */
Test(unary, aliased_small_planes_every_table)
{
    ts_rng r = {4096};
    ts_fill_f32(in_f32, BUF, &r);
    ts_fill_f64(in_f64, BUF, &r);
    static const int64_t planes[][3] = {{20, 12, 4096}, {8, 8, 4096}, {16, 33, 2048},
                                        {9, 8, 8192}};
    for (size_t pl = 0; pl < sizeof planes / sizeof planes[0]; pl++)
        for (int f64 = 0; f64 < 2; f64++)
            for (int mode = 0; mode < 3; mode++) {
                const size_t es = f64 ? sizeof(double) : sizeof(float);
                /* Loops b (3), l (tile: input contiguous), i (pick:
                 * output contiguous); input row i at i * row. */
                const int64_t ni = planes[pl][0], nl = planes[pl][1];
                const int64_t row = planes[pl][2] / (int64_t)es;
                int64_t lo[3] = {3, nl, ni};
                int64_t la[3] = {ni * row, 1, row};
                int64_t lb[3] = {ni * row, 1, row};
                if (mode == 2) { lb[0] = nl * ni; lb[1] = ni; lb[2] = 1; }
                int64_t lz[3] = {nl * (ni + 1), ni + 1, 1};   /* rows gapped */
                cr_assert_leq(3 * ni * row, BUF / 2);
                int64_t st2[6], st3[9];
                loop_strides3(la, lb, lz, st2, st3);
                const char *a = f64 ? (const char *)in_f64 : (const char *)in_f32;
                const char *b = a + (size_t)(BUF / 2) * es;
                const void *in[2] = {a, b};
                for (size_t t = 0; t < sizeof tables / sizeof tables[0]; t++) {
                    const ein_ktable *kt = ein_ktable_named(tables[t]);
                    if (!kt)
                        continue;
                    void *o0 = f64 ? (void *)out_f64[0] : (void *)out_f32[0];
                    void *o1 = f64 ? (void *)out_f64[1] : (void *)out_f32[1];
                    size_t bytes = f64 ? sizeof out_f64[0] : sizeof out_f32[0];
                    memset(o0, 0x7f, bytes);
                    memset(o1, 0x7f, bytes);
                    int h;
                    if (mode == 0)
                        h = f64 ? kt->unary_f64(3, 3, lo, la, lz, (const double *)a, o0)
                                : kt->unary_f32(3, 3, lo, la, lz, (const float *)a, o0);
                    else
                        h = f64 ? kt->product_f64(3, 3, lo, la, lb, lz, (const double *)a,
                                                  (const double *)b, o0)
                                : kt->product_f32(3, 3, lo, la, lb, lz, (const float *)a,
                                                  (const float *)b, o0);
                    cr_assert(h, "%s: declined a transposed plane", tables[t]);
                    ein_loopnest(f64 ? EIN_F64 : EIN_F32, mode ? 2 : 1, in, o1, 3, 3, lo,
                                 mode ? st3 : st2);
                    cr_assert(memcmp(o0, o1, bytes) == 0,
                              "%s %s plane %lld x %lld, rows %lld bytes apart, mode %d: "
                              "differs from the loop nest (or wrote outside the view)",
                              tables[t], f64 ? "f64" : "f32", (long long)ni, (long long)nl,
                              (long long)planes[pl][2], mode);
                }
            }
}

/* Copies and products whose output is contiguous along one loop while an
 * input is contiguous along another ("ij->ji", "ij,ji->ij", "bij->bji"):
 * the AVX tables take large or dense planes through register
 * transposes (tile_t), with edges that are not whole blocks, a second
 * operand read either way or broadcast, and a reversed or gapped output.
 * Copies and products round the same however they are grouped, so each
 * table must match the loop nest bit for bit and write nothing else. */
Test(unary, transposed_planes_every_table)
{
    ts_rng r = {45};
    ts_fill_f32(in_f32, BUF, &r);
    ts_fill_f64(in_f64, BUF, &r);
    /* {batch, rows, cols}: batch 1 is a 2-D plane (large), else dense
     * planes one after another.  Past 256 columns, a tile's rows
     * (UN_TILE_T_ROWS) end inside the plane: 530 = 2 x 256 + 18. */
    static const int64_t shapes[][3] = {{1, 64, 64}, {1, 67, 100}, {1, 131, 97},
                                        {1, 200, 70}, {1, 70, 530}, {1, 40, 257},
                                        {16, 8, 8}, {9, 13, 9}, {12, 33, 17},
                                        {40, 16, 16}};
    int taken = 0;
    for (size_t sh = 0; sh < sizeof shapes / sizeof shapes[0]; sh++)
        for (int mode = 0; mode < 6; mode++) {
            /* Loops: b, i (out contiguous: pick), j (input contiguous). */
            const int64_t nb = shapes[sh][0], ni = shapes[sh][1], nj = shapes[sh][2];
            int64_t ext[3] = {nb, ni, nj};
            /* a: C order [b][i][j] read as (b, j, i): contiguous along j. */
            int64_t sa[3] = {ni * nj, nj, 1};
            /* b: mode 1-2 like a, 3 contiguous along i, 4 broadcast along i. */
            int64_t sb[3] = {ni * nj, nj, 1};
            if (mode == 3) { sb[1] = 1; sb[2] = ni; }
            if (mode == 4) { sb[1] = 0; sb[2] = 1; sb[0] = nj; }
            /* out [b][j][i]: i contiguous; mode 2 gaps its rows, mode 5
             * reverses i (no register path: the output strides back). */
            int64_t row = mode == 2 ? ni + 3 : ni;
            int64_t so[3] = {nj * row, 1, row}, ooff = 0;
            if (mode == 5) { so[1] = -1; ooff = ni - 1; }
            int64_t lo[3] = {ext[0], ext[2], ext[1]};   /* loop order b, j, i */
            int64_t la[3] = {sa[0], sa[2], sa[1]}, lb[3] = {sb[0], sb[2], sb[1]};
            int64_t lo_out[3] = {so[0], so[2], so[1]};
            int64_t st2[6], st3[9];
            loop_strides3(la, lb, lo_out, st2, st3);
            bool product = mode != 0;
            for (size_t t = 0; t < sizeof tables / sizeof tables[0]; t++) {
                const ein_ktable *kt = ein_ktable_named(tables[t]);
                if (!kt)
                    continue;
                for (int f64 = 0; f64 < 2; f64++) {
                    void *o0 = f64 ? (void *)out_f64[0] : (void *)out_f32[0];
                    void *o1 = f64 ? (void *)out_f64[1] : (void *)out_f32[1];
                    size_t bytes = f64 ? sizeof out_f64[0] : sizeof out_f32[0];
                    size_t es = f64 ? sizeof(double) : sizeof(float);
                    const char *a = f64 ? (const char *)in_f64 : (const char *)in_f32;
                    const char *b = a + (size_t)(BUF / 2) * es;
                    memset(o0, 0x7f, bytes);
                    memset(o1, 0x7f, bytes);
                    char *z0 = (char *)o0 + (size_t)ooff * es, *z1 = (char *)o1 + (size_t)ooff * es;
                    int h;
                    if (!product)
                        h = f64 ? kt->unary_f64(3, 3, lo, la, lo_out, (const double *)a,
                                                (double *)z0)
                                : kt->unary_f32(3, 3, lo, la, lo_out, (const float *)a,
                                                (float *)z0);
                    else
                        h = f64 ? kt->product_f64(3, 3, lo, la, lb, lo_out, (const double *)a,
                                                  (const double *)b, (double *)z0)
                                : kt->product_f32(3, 3, lo, la, lb, lo_out, (const float *)a,
                                                  (const float *)b, (float *)z0);
                    cr_assert(h, "%s: declined a transposed %s", tables[t],
                              product ? "product" : "copy");
                    const void *in[2] = {a, b};
                    ein_loopnest(f64 ? EIN_F64 : EIN_F32, product ? 2 : 1, in, z1, 3, 3, lo,
                                 product ? st3 : st2);
                    cr_assert(memcmp(o0, o1, bytes) == 0,
                              "%s %s %lldx%lldx%lld mode %d: differs from the loop nest "
                              "(or wrote outside the view)", tables[t], f64 ? "f64" : "f32",
                              (long long)nb, (long long)ni, (long long)nj, mode);
                    taken++;
                }
            }
        }
    cr_assert_gt(taken, 0);
}
