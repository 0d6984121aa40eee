/* test_loopnest.c — the generic strided loop nest (src/kernels/loopnest.c),
 * the oracle itself, against a brute-force odometer over every loop:
 * random loop counts, extents (0 and 1 included), 1 to 3 inputs whose
 * strides are permuted, negative or zero, both dtypes. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "support.h"

#define NT 4   /* up to 3 inputs and the output */

typedef struct config {
    int     nin, nloops, nfree;
    int64_t ext[6];
    int64_t st[6 * NT];       /* st[l * (nin+1) + t] */
    int64_t base[NT];         /* element offset of index 0 in each buffer */
    int64_t span[NT];         /* buffer size in elements */
} config;

/* Give tensor t a layout: a random subset of the loops (the output gets
 * exactly the free loops), in random order, each stride possibly
 * negated; unused loops get stride 0. */
static void layout(config *c, int t, ts_rng *r)
{
    int nt = c->nin + 1;
    int order[6], n = 0;
    for (int l = 0; l < c->nloops; l++) {
        bool use = t == c->nin ? l < c->nfree : ts_range(r, 0, 3) > 0;
        c->st[l * nt + t] = 0;
        if (use)
            order[n++] = l;
    }
    for (int i = n - 1; i > 0; i--) {
        int j = (int)ts_range(r, 0, i), x = order[i];
        order[i] = order[j];
        order[j] = x;
    }
    int64_t acc = 1, neg = 0;
    for (int i = n - 1; i >= 0; i--) {
        int l = order[i];
        int64_t e = c->ext[l] > 0 ? c->ext[l] : 1;
        bool flip = t != c->nin && ts_range(r, 0, 3) == 0;
        c->st[l * nt + t] = flip ? -acc : acc;
        if (flip)
            neg += acc * (e - 1);
        acc *= e;
    }
    c->base[t] = neg;
    c->span[t] = acc;
}

static void brute(const config *c, const double *const *in, double *out)
{
    int nt = c->nin + 1;
    for (int64_t i = 0; i < c->span[c->nin]; i++)
        out[i] = 0;
    int64_t idx[6] = {0};
    for (int l = 0; l < c->nloops; l++)
        if (c->ext[l] == 0)
            return;
    for (;;) {
        double p = 1;
        int64_t o = c->base[c->nin];
        for (int t = 0; t < c->nin; t++) {
            int64_t off = c->base[t];
            for (int l = 0; l < c->nloops; l++)
                off += idx[l] * c->st[l * nt + t];
            p *= in[t][off];
        }
        for (int l = 0; l < c->nloops; l++)
            o += idx[l] * c->st[l * nt + c->nin];
        out[o] += p;
        int l = c->nloops - 1;
        for (; l >= 0 && ++idx[l] == c->ext[l]; l--)
            idx[l] = 0;
        if (l < 0)
            return;
    }
}

static void run_case(ein_dtype dt, ts_rng *r)
{
    config c;
    memset(&c, 0, sizeof c);
    c.nin = (int)ts_range(r, 1, 3);
    c.nloops = (int)ts_range(r, 0, 5);
    c.nfree = (int)ts_range(r, 0, c.nloops);
    for (int l = 0; l < c.nloops; l++)
        c.ext[l] = ts_range(r, 0, 9) == 0 ? 0 : ts_range(r, 1, 5);
    for (int t = 0; t <= c.nin; t++)
        layout(&c, t, r);

    double *ind[3], *want = malloc((size_t)c.span[c.nin] * sizeof *want);
    void *inb[3];
    size_t es = ein_dtype_size(dt);
    for (int t = 0; t < c.nin; t++) {
        ind[t] = malloc((size_t)c.span[t] * sizeof(double));
        inb[t] = malloc((size_t)c.span[t] * es);
        for (int64_t i = 0; i < c.span[t]; i++) {
            ind[t][i] = (double)ts_range(r, -8, 8) / 4;   /* exact in f32 */
            if (dt == EIN_F32)
                ((float *)inb[t])[i] = (float)ind[t][i];
            else
                ((double *)inb[t])[i] = ind[t][i];
        }
    }
    void *outb = malloc((size_t)c.span[c.nin] * es);
    memset(outb, 0xff, (size_t)c.span[c.nin] * es);       /* NaN: must be overwritten */
    brute(&c, (const double *const *)ind, want);
    const void *in[3];
    for (int t = 0; t < c.nin; t++)
        in[t] = (const char *)inb[t] + c.base[t] * (int64_t)es;
    ein_loopnest(dt, c.nin, in, outb, c.nloops, c.nfree, c.ext, c.st);
    bool empty_free = false;
    for (int l = 0; l < c.nfree; l++)
        empty_free |= c.ext[l] == 0;
    if (!empty_free)
        for (int64_t i = 0; i < c.span[c.nin]; i++) {
            double got = dt == EIN_F32 ? (double)((float *)outb)[i] : ((double *)outb)[i];
            cr_assert_eq(got, want[i], "nin=%d nloops=%d nfree=%d elem %lld: %g want %g",
                         c.nin, c.nloops, c.nfree, (long long)i, got, want[i]);
        }
    for (int t = 0; t < c.nin; t++) {
        free(ind[t]);
        free(inb[t]);
    }
    free(want);
    free(outb);
}

Test(loopnest, random_layouts_f64)
{
    ts_rng r = {11};
    for (int i = 0; i < 2000; i++)
        run_case(EIN_F64, &r);
}

Test(loopnest, random_layouts_f32)
{
    ts_rng r = {12};
    for (int i = 0; i < 2000; i++)
        run_case(EIN_F32, &r);
}

Test(loopnest, f32_sums_accumulate_in_double)
{
    /* 1 + 2^-24 * 2^20 small terms: a float accumulator would lose them. */
    int64_t n = (1 << 20) + 1;
    float *a = malloc((size_t)n * sizeof *a), out = 0;
    a[0] = 1;
    for (int64_t i = 1; i < n; i++)
        a[i] = 0x1p-24f;
    int64_t ext[] = {n}, st[] = {1, 0};
    const void *in[] = {a};
    ein_loopnest(EIN_F32, 1, in, &out, 1, 0, ext, st);
    cr_assert_float_eq(out, 1.0625f, 1e-7, "got %.9g", (double)out);
    free(a);
}
