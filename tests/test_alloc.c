/* test_alloc.c — every allocation the library makes can fail, and each
 * failure is a status (EIN_ERR_NOMEM with a message), never a crash, a
 * leak or a partial output.  Every allocation of the library goes through
 * ein_malloc and its siblings (src/alloc.c), whose hook fails the n-th. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
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
    int64_t     limit;       /* ein_options.memory_limit; 0: none */
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
        ein_options o = {.memory_limit = c->limit};
        ein_plan *p = ein_plan_new(c->expr, c->nops, ops, &out, &o, &st);
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
    static const int64_t s5_4[] = {5, 4}, s2_4[] = {2, 4}, s3_2_4[] = {3, 2, 4}, s4[] = {4};
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
        /* A memory_limit the cheapest order's workspace overruns (160
         * bytes): the search for one that fits allocates too. */
        {"cd,bd,cd,abd->d", 4, {{da[0], EIN_F64, 2, s5_4, NULL}, {da[1], EIN_F64, 2, s2_4, NULL},
                                {da[2], EIN_F64, 2, s5_4, NULL}, {da[3], EIN_F64, 3, s3_2_4, NULL}},
         {dof, EIN_F64, 1, s4, NULL}, false, 144},
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

/* ---- the sweep over a broad corpus ------------------------------------ */

/* Every public entry point and planner path, with allocation n failing
 * for n = 0, 1, ... until a run makes fewer than n+1 attempts: the plan
 * path (ein_plan_new, ein_plan_explain, ein_execute) and the one-shot
 * einsum_v (its cache emptied before each run, so each run plans), 1 and
 * 2 threads, GEMM big enough to pack (kernel scratch), batched and tensor
 * GEMM, chains with temporaries, mixed dtypes, outputs over inputs, the
 * exact self-overlap check, the slot table of a 40-operand chain; then
 * SWEEP_RANDOM random valid calls (tests/casegen.c, fixed seeds).  A run
 * either succeeds with the right answer (the failed allocation was
 * optional: kernel scratch falls back to direct loops) or returns
 * EIN_ERR_NOMEM with an "out of memory" message and every buffer it was
 * given byte for byte as before.  In the ASan tree LeakSanitizer then
 * checks that no failure path leaked. */
#include "casegen.h"
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#define HAVE_LSAN 1
#endif

#define SWEEP_RANDOM 500
#define SWEEP_MAXBUF 64

typedef struct swcall {
    const char        *expr;
    int                nops;
    const ein_tensor *const *ops;
    ein_tensor        *out;
    unsigned char     *buf[SWEEP_MAXBUF];   /* all memory the call is given */
    size_t             nbuf[SWEEP_MAXBUF];
    int                nbufs;
    bool               oneshot;
    int                nthreads;
    const double      *want, *tol;
    int64_t            n;
} swcall;

typedef struct swstats {
    long runs, nomem, optional;
} swstats;

static ein_status run_call(const swcall *c)
{
    ein_status st;
    if (c->oneshot) {
        ein_cache_clear();
        st = einsum_v(c->expr, c->nops, c->ops, c->out);
    } else {
        ein_options opt = {0};
        opt.num_threads = c->nthreads;
        ein_plan *p = ein_plan_new(c->expr, c->nops, c->ops, c->out, &opt, &st);
        if (!p)
            return st;
        char x[256];
        ein_plan_explain(p, x, sizeof x);
        st = ein_execute(p, c->ops, c->out);
        ein_plan_free(p);
    }
    return st;
}

/* Element i (C order) of a strided view. */
static double elem(const ein_tensor *t, int64_t i)
{
    int64_t off = 0, acc = 1;
    for (int d = t->ndim - 1; d >= 0; d--) {
        off += (i / acc) % t->shape[d] * (t->strides ? t->strides[d] : acc);
        acc *= t->shape[d];
    }
    return t->dtype == EIN_F32 ? (double)((const float *)t->data)[off]
                               : ((const double *)t->data)[off];
}

static void sweep_call(const swcall *c, const char *what, swstats *ss)
{
    unsigned char *saved[SWEEP_MAXBUF];
    if (getenv("EIN_SWEEP_VERBOSE"))
        fprintf(stderr, "sweep: %s\n", what);
    for (int b = 0; b < c->nbufs; b++) {
        saved[b] = malloc(c->nbuf[b] ? c->nbuf[b] : 1);
        cr_assert(saved[b]);
        memcpy(saved[b], c->buf[b], c->nbuf[b]);
    }
    int k = 0;
    for (;; k++) {
        cr_assert_lt(k, 1000, "%s: still allocating after 1000 failures", what);
        for (int b = 0; b < c->nbufs; b++)
            memcpy(c->buf[b], saved[b], c->nbuf[b]);
        long before = ein_alloc_count();
        ein_alloc_fail_after(k);
        ein_status st = run_call(c);
        long attempts = ein_alloc_count() - before;
        ein_alloc_fail_after(-1);
        ss->runs++;
        cr_assert(st == EIN_OK || st == EIN_ERR_NOMEM, "%s, allocation %d failing: %s: %s",
                  what, k, ein_status_str(st), ein_last_error());
        if (st == EIN_ERR_NOMEM) {
            ss->nomem++;
            cr_assert(strstr(ein_last_error(), "out of memory"), "%s, allocation %d "
                      "failing: the message does not say so: %s", what, k, ein_last_error());
            for (int b = 0; b < c->nbufs; b++)
                cr_assert(memcmp(c->buf[b], saved[b], c->nbuf[b]) == 0, "%s, "
                          "allocation %d failing: buffer %d changed though the call "
                          "failed", what, k, b);
        } else {
            ss->optional += attempts > k;
            for (int64_t i = 0; i < c->n; i++) {
                double got = elem(c->out, i);
                cr_assert(fabs(got - c->want[i]) <= c->tol[i], "%s, allocation %d "
                          "failing: element %lld is %.17g, want %.17g", what, k,
                          (long long)i, got, c->want[i]);
            }
        }
        if (attempts <= k)
            break;
    }
    for (int b = 0; b < c->nbufs; b++)
        free(saved[b]);
}

/* Sweep a generated case: its output drawn by cg_make_out (maybe over an
 * operand), through the plan path and the one-shot call. */
static void sweep_case(cg_case *c, cg_src *s, int nthreads, bool oneshot, bool alias,
                       swstats *ss)
{
    const ein_tensor *ops[CG_MAXOPS];
    for (int k = 0; k < c->nops; k++)
        ops[k] = &c->op[k].t;
    ein_status st;
    ein_plan *p = ein_plan_new(c->expr, c->nops, ops, NULL, NULL, &st);
    cr_assert(p, "%s: %s", c->expr, ein_last_error());
    ein_dtype dt;
    int64_t shape[EIN_MAX_DIMS];
    int nd = ein_plan_result(p, &dt, shape);
    ein_plan_free(p);
    double *want, *tol;
    int64_t n;
    cr_assert(cg_reference(c, dt, &want, &tol, &n), "%s: no reference", c->expr);
    cg_tensor o;
    cr_assert(cg_make_out(c, s, nd, shape, dt, alias, &o));
    swcall call = {.expr = c->expr, .nops = c->nops, .ops = ops, .out = &o.t,
                   .oneshot = oneshot, .nthreads = nthreads, .want = want, .tol = tol,
                   .n = n};
    for (int k = 0; k < c->nops; k++) {
        call.buf[call.nbufs] = c->op[k].buf;
        call.nbuf[call.nbufs++] = c->op[k].nbuf;
    }
    if (o.buf) {
        call.buf[call.nbufs] = o.buf;
        call.nbuf[call.nbufs++] = o.nbuf;
    }
    char what[160];
    snprintf(what, sizeof what, "%s (%s, %d thread%s%s)", c->expr,
             oneshot ? "einsum_v" : "plan", nthreads, nthreads > 1 ? "s" : "",
             o.buf ? "" : ", output over an operand");
    sweep_call(&call, what, ss);
    free(o.buf);
    free(want);
    free(tol);
}

typedef struct fixed {
    const char *expr;
    int         nops;
    ein_dtype   dt[4];
    int         nd[4];
    int64_t     shape[4][4];
} fixed;

#define F4 EIN_F32
#define D8 EIN_F64
static const fixed k_fixed[] = {
    {"i,i->", 2, {F4, F4}, {1, 1}, {{100}, {100}}},
    {"ij,j->i", 2, {F4, F4}, {2, 1}, {{300, 200}, {200}}},
    {"ij,i->j", 2, {D8, D8}, {2, 1}, {{300, 200}, {300}}},
    {"ij,jk->ik", 2, {F4, F4}, {2, 2}, {{150, 150}, {150, 150}}},
    {"ik,jk->ij", 2, {D8, D8}, {2, 2}, {{60, 70}, {50, 70}}},
    {"bij,bjk->bik", 2, {F4, F4}, {3, 3}, {{80, 24, 32}, {80, 32, 40}}},
    {"abcd,cdef->abef", 2, {F4, F4}, {4, 4}, {{6, 7, 8, 9}, {8, 9, 5, 6}}},
    {"ij,jk,kl->il", 3, {D8, D8, D8}, {2, 2, 2}, {{30, 40}, {40, 50}, {50, 20}}},
    {"ab,bc,cd,de->ae", 4, {F4, D8, F4, D8}, {2, 2, 2, 2},
     {{5, 6}, {6, 7}, {7, 8}, {8, 9}}},
    {"ij,jk->ik", 2, {F4, D8}, {2, 2}, {{50, 60}, {60, 70}}},
    {"ii->i", 1, {F4}, {2}, {{30, 30}}},
    {"ii", 1, {D8}, {2}, {{30, 30}}},
    {"iij,jk->ik", 2, {F4, F4}, {3, 2}, {{20, 20, 30}, {30, 10}}},
    {"...ij,...jk->...ik", 2, {F4, F4}, {4, 3}, {{2, 3, 4, 5}, {3, 5, 6}}},
    {"i,j->ij", 2, {D8, D8}, {1, 1}, {{40}, {30}}},
    {"ij,jk->ik", 2, {F4, F4}, {2, 2}, {{10, 0}, {0, 10}}},
    {"ij->", 1, {F4}, {2}, {{50, 60}}},
    {"ij->ji", 1, {D8}, {2}, {{50, 60}}},
    {"abc,cd,db->a", 3, {F4, F4, F4}, {3, 2, 2}, {{4, 5, 6}, {6, 7}, {7, 5}}},
};

Test(alloc, sweep_over_the_corpus, .timeout = 300)
{
    swstats ss = {0};
    ein_cache_clear();
    for (size_t i = 0; i < sizeof k_fixed / sizeof k_fixed[0]; i++) {
        const fixed *f = &k_fixed[i];
        for (int variant = 0; variant < 3; variant++) {
            cg_case c;
            cr_assert(cg_make_fixed(&c, f->expr, f->nops, f->dt, f->nd, f->shape,
                                    100 + i));
            /* A fixed byte stream for the output: C order, then drawn
             * layouts, the last maybe over an operand. */
            uint8_t zero[4] = {0, 0, 0, 0};
            cg_src s = {variant == 0 ? zero : NULL, variant == 0 ? 4 : 0, 0, 77 + i};
            sweep_case(&c, &s, variant == 1 ? 2 : 1, variant == 2, variant == 2, &ss);
            cg_free(&c);
        }
    }

    /* An output whose strides interleave (2, 3 on 3x3): bind's exact
     * overlap check allocates. */
    {
        cg_case c;
        static const ein_dtype dt[] = {D8, D8};
        static const int nd[] = {2, 2};
        static const int64_t shp[][4] = {{3, 4}, {4, 3}};
        cr_assert(cg_make_fixed(&c, "ij,jk->ik", 2, dt, nd, shp, 5));
        const ein_tensor *ops[] = {&c.op[0].t, &c.op[1].t};
        double obuf[11];
        memset(obuf, 0, sizeof obuf);
        static const int64_t oshape[] = {3, 3}, ostr[] = {2, 3};
        ein_tensor out = {obuf, EIN_F64, 2, oshape, ostr};
        double *want, *tol;
        int64_t n;
        cr_assert(cg_reference(&c, EIN_F64, &want, &tol, &n));
        swcall call = {.expr = c.expr, .nops = 2, .ops = ops, .out = &out,
                       .nthreads = 1, .want = want, .tol = tol, .n = n};
        call.buf[0] = (unsigned char *)obuf;
        call.nbuf[0] = sizeof obuf;
        call.nbufs = 1;
        sweep_call(&call, "ij,jk->ik into strides (2, 3)", &ss);
        free(want);
        free(tol);
        cg_free(&c);
    }

    /* A 40-operand chain: more slots than exec's on-stack table. */
    {
        enum { NCH = 40 };
        char expr[4 * NCH + 8];
        static double data[NCH][4];
        static const int64_t s22[] = {2, 2};
        ein_tensor t[NCH];
        const ein_tensor *ops[NCH];
        ts_rng r = {41};
        size_t w = 0;
        for (int k = 0; k < NCH; k++) {
            ts_fill_f64(data[k], 4, &r);
            t[k] = (ein_tensor){data[k], EIN_F64, 2, s22, NULL};
            ops[k] = &t[k];
            int a = k, b = k + 1;   /* labels: A..Z then a..z */
            expr[w++] = (char)(a < 26 ? 'A' + a : 'a' + a - 26);
            expr[w++] = (char)(b < 26 ? 'A' + b : 'a' + b - 26);
            expr[w++] = k + 1 < NCH ? ',' : '-';
        }
        expr[w++] = '>';
        expr[w++] = 'A';
        expr[w++] = (char)('a' + NCH - 26);
        expr[w] = '\0';
        double want[4], tol[4], obuf[4] = {0};
        /* The product of the 40 matrices, directly (ts_reference would
         * walk all 2^41 label combinations). */
        double acc[4] = {1, 0, 0, 1};
        for (int k = 0; k < NCH; k++) {
            double nx[4];
            for (int i = 0; i < 2; i++)
                for (int j = 0; j < 2; j++)
                    nx[i * 2 + j] = acc[i * 2] * data[k][j] + acc[i * 2 + 1] * data[k][2 + j];
            memcpy(acc, nx, sizeof acc);
        }
        for (int i = 0; i < 4; i++) {
            want[i] = acc[i];
            tol[i] = 1e-9 * (1 + fabs(want[i]));
        }
        ein_tensor out = {obuf, EIN_F64, 2, s22, NULL};
        swcall call = {.expr = expr, .nops = NCH, .ops = ops, .out = &out,
                       .nthreads = 1, .want = want, .tol = tol, .n = 4};
        call.buf[0] = (unsigned char *)obuf;
        call.nbuf[0] = sizeof obuf;
        call.nbufs = 1;
        sweep_call(&call, "a 40-matrix chain", &ss);
    }

    /* Random valid calls, the differential fuzz target's generator. */
    for (int i = 0; i < SWEEP_RANDOM; i++) {
        cg_src s = {NULL, 0, 0, 0xa110c000u + (uint64_t)i};
        cg_case c;
        cr_assert(cg_make(&c, &s));
        sweep_case(&c, &s, c.num_threads, i % 3 == 0, true, &ss);
        cg_free(&c);
    }
    ein_cache_clear();
    cr_log_info("allocation sweep: %ld runs, %ld ended in EIN_ERR_NOMEM, %ld "
                "succeeded past an optional allocation", ss.runs, ss.nomem, ss.optional);
    cr_assert_gt(ss.nomem, 1000, "the sweep failed too few allocations (%ld)", ss.nomem);
#ifdef HAVE_LSAN
    cr_assert_eq(__lsan_do_recoverable_leak_check(), 0,
                 "a failure path leaked (LeakSanitizer's report is above)");
#endif
}
