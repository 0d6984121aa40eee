/* test_alloc.c — every allocation the library makes can fail, and each
 * failure is a status (EIN_ERR_NOMEM with a message), never a crash, a
 * leak or a partial output.  Every allocation of the library goes through
 * ein_malloc and its siblings (src/alloc.c), whose hook fails the n-th. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "support.h"

typedef struct call {
    const char *expr;
    int         nops;
    ein_tensor  ops[4];
    ein_tensor  out;
    bool        oneshot;     /* through einsum_v and its cache */
} call;

/* Run one call with the k-th allocation failing; returns how many
 * allocations it attempted (so the caller knows when k passed them all). */
static int run_failing(const call *c, int k, double *want, size_t n)
{
    const ein_tensor *ops[4];
    for (int i = 0; i < c->nops; i++)
        ops[i] = &c->ops[i];
    ein_tensor out = c->out;
    size_t es = ein_dtype_size(out.dtype);
    memset(out.data, 0x7f, n * es);          /* sentinel */
    long before = ein_alloc_count();
    ein_alloc_fail_after(k);
    ein_status st;
    if (c->oneshot) {
        st = einsum_v(c->expr, c->nops, ops, &out);
    } else {
        ein_plan *p = ein_plan_new(c->expr, c->nops, ops, &out, NULL, &st);
        if (p) {
            st = ein_execute(p, ops, &out);
            ein_plan_free(p);
        }
    }
    int attempts = (int)(ein_alloc_count() - before);
    ein_alloc_fail_after(-1);
    cr_assert(st == EIN_OK || st == EIN_ERR_NOMEM, "%s, failing allocation %d: %s: %s",
              c->expr, k, ein_status_str(st), ein_last_error());
    if (st == EIN_ERR_NOMEM) {
        cr_assert(strstr(ein_last_error(), "out of memory"), "%s", ein_last_error());
        unsigned char sentinel[8];
        memset(sentinel, 0x7f, sizeof sentinel);
        for (size_t i = 0; i < n; i++)
            cr_assert(memcmp((char *)out.data + i * es, sentinel, es) == 0,
                      "%s: failed call wrote output element %zu", c->expr, i);
    } else {
        for (size_t i = 0; i < n; i++) {
            double got = out.dtype == EIN_F32 ? (double)((float *)out.data)[i]
                                              : ((double *)out.data)[i];
            cr_assert(fabs(got - want[i]) <= 1e-4 * (1 + fabs(want[i])),
                      "%s (allocation %d failed): element %zu is %g, want %g",
                      c->expr, k, i, got, want[i]);
        }
    }
    return attempts;
}

static void sweep(const call *c)
{
    const ein_tensor *ops[4];
    for (int i = 0; i < c->nops; i++)
        ops[i] = &c->ops[i];
    double *want = malloc(1 << 20);
    int64_t n;
    cr_assert_eq(ts_reference(c->expr, c->nops, ops, want, &n), EIN_OK);
    /* Fail the first allocation, then the second, ... until a run makes
     * fewer attempts than the index that was to fail. */
    int failures = 0;
    for (int k = 0; k < 200; k++) {
        int attempts = run_failing(c, k, want, (size_t)n);
        if (attempts <= k)
            break;
        failures++;
    }
    cr_assert_gt(failures, 0, "%s made no allocation to fail", c->expr);
    free(want);
}

static float fa[4][64 * 64];
static double da[4][64 * 64];
static float fo[64 * 64];
static double dof[64 * 64];

static ein_tensor F(int i, int nd, const int64_t *shape)
{
    return (ein_tensor){fa[i], EIN_F32, nd, shape, NULL};
}

Test(alloc, every_allocation_can_fail)
{
    ts_rng r = {5};
    for (int i = 0; i < 4; i++) {
        ts_fill_f32(fa[i], 64 * 64, &r);
        ts_fill_f64(da[i], 64 * 64, &r);
    }
    static const int64_t s20_30[] = {20, 30}, s30_40[] = {30, 40}, s40_5[] = {40, 5};
    static const int64_t s20_5[] = {20, 5}, s64[] = {64, 64}, s30[] = {30};
    static const int64_t s20[] = {20};
    call calls[] = {
        /* A three-operand chain: parse, bind, path, temporaries. */
        {"ij,jk,kl->il", 3, {F(0, 2, s20_30), F(1, 2, s30_40), F(2, 2, s40_5)},
         {fo, EIN_F32, 2, s20_5, NULL}, false},
        /* The same through the one-shot call and its cache. */
        {"ij,jk,kl->il", 3, {F(0, 2, s20_30), F(1, 2, s30_40), F(2, 2, s40_5)},
         {fo, EIN_F32, 2, s20_5, NULL}, true},
        /* A GEMM big enough to pack. */
        {"ij,jk->ik", 2, {F(0, 2, s64), F(1, 2, s64)}, {fo, EIN_F32, 2, s64, NULL}, false},
        /* Mixed dtypes: the f32 operand is converted into the workspace. */
        {"ij,j->i", 2, {{da[0], EIN_F64, 2, s20_30, NULL}, F(1, 1, s30)},
         {dof, EIN_F64, 1, s20, NULL}, false},
    };
    for (size_t i = 0; i < sizeof calls / sizeof calls[0]; i++)
        sweep(&calls[i]);
    ein_cache_clear();
}

Test(alloc, output_over_an_input)
{
    /* out is op0's memory: the result goes through a scratch copy, the
     * run's one allocation.  When it fails, op0 is untouched; when it
     * does not, op0 holds the product. */
    static float a[16], b[16], a0[16];
    ts_rng r = {6};
    ts_fill_f32(a, 16, &r);
    ts_fill_f32(b, 16, &r);
    memcpy(a0, a, sizeof a);
    static const int64_t s44[] = {4, 4};
    ein_tensor A = {a, EIN_F32, 2, s44, NULL}, B = {b, EIN_F32, 2, s44, NULL};
    ein_tensor O = A;
    const ein_tensor *ops[] = {&A, &B};
    ein_status st;
    ein_plan *p = ein_plan_new("ij,jk->ik", 2, ops, &O, NULL, &st);
    cr_assert(p, "%s", ein_last_error());
    ein_alloc_fail_after(0);
    st = ein_execute(p, ops, &O);
    ein_alloc_fail_after(-1);
    cr_assert_eq(st, EIN_ERR_NOMEM, "%s", ein_last_error());
    cr_assert(memcmp(a, a0, sizeof a) == 0, "no partial output");
    cr_assert_eq(ein_execute(p, ops, &O), EIN_OK);
    ein_plan_free(p);
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++) {
            double w = 0;
            for (int q = 0; q < 4; q++)
                w += (double)a0[i * 4 + q] * b[q * 4 + j];
            cr_assert_float_eq(a[i * 4 + j], w, 1e-5, "(%d,%d)", i, j);
        }
}
