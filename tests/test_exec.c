/* test_exec.c — plans end to end (src/exec.c and the planner behind it):
 * every dense-kernel orientation and the generic loop nest against
 * ts_reference over random extents and random strided views (transposed,
 * reversed, broadcast, sliced), every kernel table this CPU runs, 1 and 2
 * threads (bitwise equal), outputs that overlap inputs, empty sums and
 * empty outputs, plan reuse across data and threads, and ein_execute's
 * refusals (which must leave the output untouched). */
#define _POSIX_C_SOURCE 200809L
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "casegen.h"
#include "support.h"

#define MAXD   8   /* most dimensions a test view has */
#define MAXOPS 3   /* most operands a randomized case has */

static const char *const k_tables[] = {"generic", "avx2", "avx512"};
#define NTABLES 3

/* ---- strided views inside larger buffers ---------------------------- */

enum { LY_C, LY_PERM, LY_NEG, LY_SLICE, LY_BCAST, LY_MIX, LY_NKINDS };
static const char *const k_ly_names[] = {"C", "transposed", "reversed",
                                         "sliced", "broadcast", "mixed"};

/* A view of `shape` whose element 0 sits at buf[off]; buf holds nbuf
 * elements, so every layout has guard elements around it. */
typedef struct view {
    ein_tensor t;
    int64_t    shape[MAXD], strides[MAXD];
    char      *buf;
    int64_t    nbuf, off;
    size_t     es;
    int        layout;
} view;

static const uint64_t k_sent64 = 0x7ff4dead0000beefull;   /* a NaN */
static const uint32_t k_sent32 = 0x7fa0beefu;             /* a NaN */

static void fill_sentinel(char *buf, int64_t n, size_t es)
{
    for (int64_t i = 0; i < n; i++)
        memcpy(buf + (size_t)i * es, es == 8 ? (const void *)&k_sent64
                                             : (const void *)&k_sent32, es);
}

static bool is_sentinel(const char *p, size_t es)
{
    return memcmp(p, es == 8 ? (const void *)&k_sent64 : (const void *)&k_sent32,
                  es) == 0;
}

static int64_t count_of(int nd, const int64_t *shape)
{
    int64_t n = 1;
    for (int d = 0; d < nd; d++)
        n *= shape[d];
    return n;
}

/* Lay out a view.  Inputs get random data (broadcast layouts a zero
 * stride); outputs get the sentinel everywhere and never a zero stride. */
static void view_make(view *v, ein_dtype dt, int nd, const int64_t *shape,
                      int layout, bool output, ts_rng *g)
{
    memset(v, 0, sizeof *v);
    v->es = ein_dtype_size(dt);
    v->layout = layout;
    memcpy(v->shape, shape, (size_t)nd * sizeof *shape);
    int perm[MAXD];
    for (int d = 0; d < nd; d++)
        perm[d] = d;
    if (layout == LY_PERM || layout == LY_MIX) {
        for (int d = nd - 1; d > 0; d--) {
            int j = (int)ts_range(g, 0, d), t = perm[d];
            perm[d] = perm[j];
            perm[j] = t;
        }
        if (layout == LY_PERM && nd >= 2 && perm[0] == 0) {   /* really transpose */
            int t = perm[0];
            perm[0] = perm[nd - 1];
            perm[nd - 1] = t;
        }
    }
    int64_t step = 1, padmax = 0;
    if (layout == LY_SLICE) {
        step = 2;          /* every other element */
        padmax = 3;
    } else if (layout == LY_MIX) {
        step = ts_range(g, 1, 3);
        padmax = 2;
    }
    int64_t acc = step;
    for (int i = nd - 1; i >= 0; i--) {
        int d = perm[i];
        v->strides[d] = acc;
        acc = acc * (shape[d] > 0 ? shape[d] : 1) + (padmax ? ts_range(g, 0, padmax) : 0);
    }
    if ((layout == LY_NEG || layout == LY_MIX) && nd > 0) {
        bool any = false;
        for (int d = 0; d < nd; d++)
            if (ts_next(g) & 1) {
                v->strides[d] = -v->strides[d];
                any = true;
            }
        if (layout == LY_NEG && !any)
            v->strides[0] = -v->strides[0];
    }
    if (!output && nd > 0 &&
        (layout == LY_BCAST || (layout == LY_MIX && ts_range(g, 0, 2) == 0)))
        v->strides[ts_range(g, 0, nd - 1)] = 0;

    int64_t neg = 0, pos = 0;
    bool empty = false;
    for (int d = 0; d < nd; d++) {
        if (shape[d] == 0)
            empty = true;
        int64_t r = v->strides[d] * (shape[d] - 1);
        if (r < 0)
            neg -= r;
        else
            pos += r;
    }
    if (empty)
        neg = pos = 0;
    v->off = ts_range(g, 0, 3) + neg;
    v->nbuf = v->off + pos + 1 + ts_range(g, 0, 3);
    v->buf = malloc((size_t)v->nbuf * v->es);
    cr_assert(v->buf, "out of memory for a %lld-element test buffer", (long long)v->nbuf);
    if (output)
        fill_sentinel(v->buf, v->nbuf, v->es);
    else if (dt == EIN_F32)
        ts_fill_f32((float *)(void *)v->buf, (size_t)v->nbuf, g);
    else
        ts_fill_f64((double *)(void *)v->buf, (size_t)v->nbuf, g);
    v->t.data = v->buf + (size_t)v->off * v->es;
    v->t.dtype = dt;
    v->t.ndim = nd;
    v->t.shape = v->shape;
    v->t.strides = layout == LY_C ? NULL : v->strides;
}

/* The same layout as an f64 buffer (|data| if absval): the reference is
 * fed only f64 views, because ts_reference reads operands through the
 * binder's strides, and ein_bind gives an operand whose dtype differs
 * from the promoted one C-contiguous strides (it assumes the converted
 * temporary exec.c makes).  f32 -> f64 is exact, so nothing is lost. */
static void view_f64(view *dst, const view *src, bool absval)
{
    *dst = *src;
    dst->es = 8;
    dst->buf = malloc((size_t)src->nbuf * 8);
    cr_assert(dst->buf);
    double *d = (double *)(void *)dst->buf;
    for (int64_t i = 0; i < src->nbuf; i++) {
        d[i] = src->es == 4 ? (double)((const float *)(const void *)src->buf)[i]
                            : ((const double *)(const void *)src->buf)[i];
        if (absval)
            d[i] = fabs(d[i]);
    }
    dst->t.dtype = EIN_F64;
    dst->t.data = dst->buf + (size_t)dst->off * 8;
    dst->t.shape = dst->shape;
    dst->t.strides = src->t.strides ? dst->strides : NULL;
}

static void view_free(view *v)
{
    free(v->buf);
    v->buf = NULL;
}

static const char *fmt_view(const view *v, char *buf, size_t cap)
{
    size_t w = (size_t)snprintf(buf, cap, "%s%s[", v->t.dtype == EIN_F32 ? "f32" : "f64",
                                k_ly_names[v->layout]);
    for (int d = 0; d < v->t.ndim && w < cap; d++)
        w += (size_t)snprintf(buf + w, cap - w, "%s%lld:%lld", d ? "," : "",
                              (long long)v->shape[d], (long long)v->strides[d]);
    if (w < cap)
        snprintf(buf + w, cap - w, "]");
    return buf;
}

/* Offsets (within buf) of every element of v, marked in mask. */
static void view_mark(const view *v, bool *mask)
{
    int nd = v->t.ndim;
    int64_t idx[MAXD] = {0};
    if (count_of(nd, v->shape) == 0)
        return;
    int64_t st[MAXD];
    int64_t acc = 1;
    for (int d = nd - 1; d >= 0; d--) {
        st[d] = v->t.strides ? v->t.strides[d] : acc;
        acc *= v->shape[d];
    }
    for (;;) {
        int64_t o = v->off;
        for (int d = 0; d < nd; d++)
            o += idx[d] * st[d];
        mask[o] = true;
        int d = nd - 1;
        for (; d >= 0; d--) {
            if (++idx[d] < v->shape[d])
                break;
            idx[d] = 0;
        }
        if (d < 0)
            return;
    }
}

/* Every element of the output's buffer outside its view still holds the
 * sentinel. */
static void check_guards(const view *o, const char *ctx)
{
    bool *mask = calloc((size_t)o->nbuf, 1);
    cr_assert(mask);
    view_mark(o, mask);
    for (int64_t i = 0; i < o->nbuf; i++)
        if (!mask[i])
            cr_assert(is_sentinel(o->buf + (size_t)i * o->es, o->es),
                      "%s: buffer element %lld outside the output view was "
                      "written", ctx, (long long)i);
    free(mask);
}

/* ---- randomized cases ------------------------------------------------- */

/* A simple explicit expression: letters, ',' and '->'. */
typedef struct shape_of {
    int  nops;
    char term[MAXOPS + 1][MAXD + 1];   /* nops inputs, then the output */
} shape_of;

static void split_expr(const char *expr, shape_of *s)
{
    memset(s, 0, sizeof *s);
    int t = 0, n = 0;
    for (const char *p = expr; *p; p++) {
        if (*p == ',') {
            t++;
            n = 0;
        } else if (*p == '-') {
            s->nops = t + 1;
            t = MAXOPS;
            n = 0;
            p++;
        } else {
            cr_assert(n < MAXD && t <= MAXOPS, "bad test expression %s", expr);
            s->term[t][n++] = *p;
        }
    }
}

typedef struct trial {
    const char *expr;
    shape_of    so;
    int64_t     ext[128];      /* extent per letter */
    view        op[MAXOPS], out;
    double     *ref, *aref;    /* C-order reference and sum |products| */
    int64_t     osize, kterms; /* output elements; terms per element */
    char        desc[1024];
} trial;

static void term_shape(const trial *T, const char *term, int *nd, int64_t *shape)
{
    *nd = (int)strlen(term);
    for (int d = 0; d < *nd; d++)
        shape[d] = T->ext[(unsigned char)term[d]];
}

/* Build operands and output with the given dtypes and layouts, and the
 * reference (with the same views, read through their strides). */
static void trial_setup(trial *T, const ein_dtype *dts, ein_dtype odt,
                        const int *lys, int oly, ts_rng *g)
{
    const shape_of *so = &T->so;
    int nd;
    int64_t shape[MAXD];
    for (int k = 0; k < so->nops; k++) {
        term_shape(T, so->term[k], &nd, shape);
        view_make(&T->op[k], dts[k], nd, shape, lys[k], false, g);
    }
    term_shape(T, so->term[MAXOPS], &nd, shape);
    view_make(&T->out, odt, nd, shape, oly, true, g);
    T->osize = count_of(nd, shape);
    T->kterms = 1;
    bool seen[128] = {false};
    for (int k = 0; k < so->nops; k++)
        for (const char *c = so->term[k]; *c; c++)
            if (!seen[(unsigned char)*c] && !strchr(so->term[MAXOPS], *c)) {
                seen[(unsigned char)*c] = true;
                T->kterms *= T->ext[(unsigned char)*c];
            }

    size_t w = (size_t)snprintf(T->desc, sizeof T->desc, "%s extents", T->expr);
    for (int c = 0; c < 128; c++)
        if (T->ext[c] >= 0 && w < sizeof T->desc)
            w += (size_t)snprintf(T->desc + w, sizeof T->desc - w, " %c=%lld", c,
                                  (long long)T->ext[c]);
    char vb[256];
    for (int k = 0; k < so->nops && w < sizeof T->desc; k++)
        w += (size_t)snprintf(T->desc + w, sizeof T->desc - w, " op%d=%s", k,
                              fmt_view(&T->op[k], vb, sizeof vb));
    if (w < sizeof T->desc)
        snprintf(T->desc + w, sizeof T->desc - w, " out=%s",
                 fmt_view(&T->out, vb, sizeof vb));

    size_t n = (size_t)(T->osize > 0 ? T->osize : 1);
    T->ref = malloc(n * sizeof(double));
    T->aref = malloc(n * sizeof(double));
    cr_assert(T->ref && T->aref);
    const ein_tensor *ops[MAXOPS], *aops[MAXOPS];
    view rv[MAXOPS], av[MAXOPS];
    for (int k = 0; k < so->nops; k++) {
        view_f64(&rv[k], &T->op[k], false);
        view_f64(&av[k], &T->op[k], true);
        ops[k] = &rv[k].t;
        aops[k] = &av[k].t;
    }
    int64_t osz = -1;
    ein_status st = ts_reference(T->expr, so->nops, ops, T->ref, &osz);
    cr_assert_eq(st, EIN_OK, "%s: reference failed: %s", T->desc, ein_last_error());
    cr_assert_eq(osz, T->osize, "%s: reference size %lld", T->desc, (long long)osz);
    st = ts_reference(T->expr, so->nops, aops, T->aref, &osz);
    cr_assert_eq(st, EIN_OK);
    for (int k = 0; k < so->nops; k++) {
        view_free(&rv[k]);
        view_free(&av[k]);
    }
}

static void trial_free(trial *T)
{
    for (int k = 0; k < T->so.nops; k++)
        view_free(&T->op[k]);
    view_free(&T->out);
    free(T->ref);
    free(T->aref);
    T->ref = T->aref = NULL;
}

/* Compare the output view to the reference: f64 to 1e-12 of the sum of
 * |products|, f32 to 1e-5 sqrt(K) of it; an empty sum must be exactly 0. */
static void check_result(const trial *T, const char *variant)
{
    bool f32 = T->out.t.dtype == EIN_F32;
    double rtol = f32 ? 1e-5 * sqrt((double)(T->kterms > 1 ? T->kterms : 1)) : 1e-12;
    for (int64_t i = 0; i < T->osize; i++) {
        double got = ts_get(&T->out.t, i);
        double err = fabs(got - T->ref[i]);
        double tol = rtol * T->aref[i] + 1e-300;
        if (!(err <= tol))
            cr_assert_fail("%s [%s]: element %lld is %.17g, reference %.17g "
                    "(error %.3g, tolerance %.3g)", T->desc, variant, (long long)i,
                    got, T->ref[i], err, tol);
    }
    check_guards(&T->out, T->desc);
}

/* Plan and run one variant into the (re-sentinelled) output; returns the
 * plan's explain text in xbuf if given. */
static void run_variant(trial *T, const ein_options *opt, const ein_ktable *kt,
                        bool generic, const char *variant, char *xbuf, size_t xcap)
{
    fill_sentinel(T->out.buf, T->out.nbuf, T->out.es);
    const ein_tensor *ops[MAXOPS];
    for (int k = 0; k < T->so.nops; k++)
        ops[k] = &T->op[k].t;
    ein_status st = EIN_OK;
    ein_plan *p = ein_plan_build(T->expr, T->so.nops, ops, &T->out.t, opt, kt,
                                 generic, &st);
    cr_assert(p, "%s [%s]: planning failed: %s: %s", T->desc, variant,
              ein_status_str(st), ein_last_error());
    st = ein_execute(p, ops, &T->out.t);
    if (xbuf)
        ein_plan_explain(p, xbuf, xcap);
    ein_plan_free(p);
    cr_assert_eq(st, EIN_OK, "%s [%s]: ein_execute: %s: %s", T->desc, variant,
                 ein_status_str(st), ein_last_error());
    check_result(T, variant);
}

/* Every variant: the default plan with 1 and 2 threads (bitwise equal),
 * the forced loop nest, and every kernel table this CPU runs. */
static void run_all_variants(trial *T)
{
    ein_options o1 = {0}, o2 = {0};
    o1.num_threads = 1;
    o2.num_threads = 2;
    run_variant(T, &o1, NULL, false, "default, 1 thread", NULL, 0);
    size_t bytes = (size_t)T->out.nbuf * T->out.es;
    char *one = malloc(bytes);
    cr_assert(one);
    memcpy(one, T->out.buf, bytes);
    run_variant(T, &o2, NULL, false, "default, 2 threads", NULL, 0);
    cr_assert(memcmp(one, T->out.buf, bytes) == 0,
              "%s: 1 and 2 threads give different bits", T->desc);
    free(one);
    run_variant(T, &o1, NULL, true, "forced loop nest", NULL, 0);
    for (int t = 0; t < NTABLES; t++) {
        const ein_ktable *kt = ein_ktable_named(k_tables[t]);
        if (!kt)
            continue;
        char name[64];
        snprintf(name, sizeof name, "table %s", k_tables[t]);
        run_variant(T, &o2, kt, false, name, NULL, 0);
    }
}

static const int64_t k_pool[] = {0, 1, 1, 2, 2, 3, 5, 7, 11, 13, 17, 23, 31,
                                  37, 64, 65, 67, 97, 128, 131, 257, 300};
#define NPOOL ((int)(sizeof k_pool / sizeof k_pool[0]))

/* Random extents for every letter of the expression, the iteration space
 * (zeros counted as ones) kept under `budget`; `big` draws from 97..300. */
static void pick_extents(trial *T, ts_rng *g, int64_t budget, bool big)
{
    for (int c = 0; c < 128; c++)
        T->ext[c] = -1;
    char letters[64];
    int nl = 0;
    for (int k = 0; k <= MAXOPS; k++)
        for (const char *c = T->so.term[k]; *c; c++)
            if (T->ext[(unsigned char)*c] < 0) {
                T->ext[(unsigned char)*c] = big ? k_pool[ts_range(g, NPOOL - 5, NPOOL - 1)]
                                                : k_pool[ts_range(g, 0, NPOOL - 1)];
                letters[nl++] = *c;
            }
    for (;;) {
        double space = 1;
        int largest = 0;
        for (int i = 0; i < nl; i++) {
            int64_t e = T->ext[(unsigned char)letters[i]];
            space *= (double)(e > 0 ? e : 1);
            if (e > T->ext[(unsigned char)letters[largest]])
                largest = i;
        }
        if (space <= (double)budget)
            return;
        int64_t *e = &T->ext[(unsigned char)letters[largest]];
        *e = *e * 2 / 3;
    }
}

/* ---- the dense-kernel expressions, randomized ------------------------- */

typedef struct rcase {
    const char *expr;
    uint64_t    seed;
} rcase;

static const rcase k_rcases[] = {
    {"ij,j->i", 1}, {"ij,i->j", 2}, {"ji,j->i", 3}, {"ij,jk->ik", 4},
    {"ik,kj->ij", 5}, {"ij,kj->ik", 6}, {"ji,jk->ik", 7}, {"i,i->", 8},
    {"i,j->ij", 9}, {"bij,bjk->bik", 10}, {"bij,bjk->bki", 11},
    {"ijk,jkl->il", 12}, {"abcd,dbef->acef", 13},
    /* and the steps around them: batched dots, elementwise, transposes,
     * reductions, three operands through a temporary */
    {"ij,ij->i", 14}, {"ij,ij->ij", 15}, {"ij,jk->ki", 16}, {"ij->ji", 17},
    {"ijk->kj", 18}, {"ij->", 19}, {"ij,jk,kl->il", 20}, {"i,j,k->ijk", 21},
    {"bi,bi->b", 22},
};
#define NRCASES ((int)(sizeof k_rcases / sizeof k_rcases[0]))

/* Parameters cross into Criterion's worker processes, so they are
 * indices into the tables, not pointers. */
static int k_idx[64] = {0,  1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12,
                        13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25,
                        26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38};

ParameterizedTestParameters(exec, random_layouts)
{
    return cr_make_param_array(int, k_idx, NRCASES);
}

#define NTRIALS 24

ParameterizedTest(int *pi, exec, random_layouts)
{
    const rcase *rc = &k_rcases[*pi];
    ts_rng g = {0x5eed0000u + rc->seed};
    for (int trial_i = 0; trial_i < NTRIALS; trial_i++) {
        trial T;
        memset(&T, 0, sizeof T);
        T.expr = rc->expr;
        split_expr(rc->expr, &T.so);
        bool big = trial_i == 0;
        pick_extents(&T, &g, big ? 1500000 : 40000, big);
        ein_dtype dts[MAXOPS], odt;
        int mode = (int)ts_range(&g, 0, 9);
        bool any64 = false;
        for (int k = 0; k < T.so.nops; k++) {
            dts[k] = mode < 4 ? EIN_F32 : mode < 7 ? EIN_F64
                   : (ts_next(&g) & 1) ? EIN_F64 : EIN_F32;
            if (mode >= 7 && k == 0)
                dts[k] = EIN_F32;   /* mixed: at least one of each */
            if (mode >= 7 && k == 1)
                dts[k] = EIN_F64;
            any64 |= dts[k] == EIN_F64;
        }
        odt = any64 || mode == 9 ? EIN_F64 : EIN_F32;   /* 9: f32 into f64 */
        int lys[MAXOPS];
        for (int k = 0; k < T.so.nops; k++)
            lys[k] = trial_i == 1 ? LY_C : (int)ts_range(&g, 0, LY_NKINDS - 1);
        static const int out_lys[] = {LY_C, LY_PERM, LY_NEG, LY_SLICE, LY_MIX};
        int oly = trial_i == 1 ? LY_C : out_lys[ts_range(&g, 0, 4)];
        trial_setup(&T, dts, odt, lys, oly, &g);
        run_all_variants(&T);
        trial_free(&T);
    }
}

/* ---- which kernel runs, and squeezes -------------------------------- */

typedef struct kcase {
    const char *expr;
    const char *labels;
    int64_t     ext[6];
    const char *kernel;     /* what EXPLAIN must name */
} kcase;

static const kcase k_kcases[] = {
    {"ij,j->i", "ij", {67, 31}, "GEMV"},
    {"ij,i->j", "ij", {67, 31}, "GEMV"},
    {"ji,j->i", "ij", {67, 31}, "GEMV"},
    {"ij,jk->ik", "ijk", {37, 29, 41}, "GEMM"},
    {"ik,kj->ij", "ijk", {37, 29, 41}, "GEMM"},
    {"ij,kj->ik", "ijk", {37, 29, 41}, "GEMM"},
    {"ji,jk->ik", "ijk", {37, 29, 41}, "GEMM"},
    {"i,i->", "i", {131}, "DOT"},
    {"i,j->ij", "ij", {13, 17}, "OUTER"},
    {"bij,bjk->bik", "bijk", {3, 7, 5, 11}, "GEMM"},
    {"bij,bjk->bki", "bijk", {3, 7, 5, 11}, "GEMM"},
    {"ijk,jkl->il", "ijkl", {7, 5, 3, 11}, "GEMM"},
    {"abcd,dbef->acef", "abcdef", {3, 4, 5, 6, 2, 7}, "GEMM"},
    {"ij,ij->i", "ij", {9, 33}, "DOT"},
    /* squeezes: an extent-1 label leaves the loop nest */
    {"ij,jk->ik", "ijk", {100, 50, 1}, "GEMV"},   /* k = 1 */
    {"ij,jk->ik", "ijk", {1, 50, 100}, "GEMV"},   /* m = 1 */
    {"ij,jk->ik", "ijk", {100, 1, 50}, "OUTER"},  /* k-sum of 1 */
    {"ij,jk->ik", "ijk", {1, 50, 1}, "DOT"},
    {"ij,jk->ik", "ijk", {1, 1, 1}, "LOOPS"},
    {"ij,kj->ik", "ijk", {100, 50, 1}, "GEMV"},   /* a one-output linear layer */
    {"bij,bjk->bik", "bijk", {1, 7, 5, 11}, "GEMM"},
    {"bij,bjk->bik", "bijk", {4, 7, 5, 1}, "GEMV"},
};
#define NKCASES ((int)(sizeof k_kcases / sizeof k_kcases[0]))

ParameterizedTestParameters(exec, kernel_choice)
{
    return cr_make_param_array(int, k_idx, NKCASES);
}

ParameterizedTest(int *pi, exec, kernel_choice)
{
    const kcase *kc = &k_kcases[*pi];
    ts_rng g = {77};
    for (int dt = 0; dt < 2; dt++) {
        trial T;
        memset(&T, 0, sizeof T);
        T.expr = kc->expr;
        split_expr(kc->expr, &T.so);
        for (int c = 0; c < 128; c++)
            T.ext[c] = -1;
        for (int i = 0; kc->labels[i]; i++)
            T.ext[(unsigned char)kc->labels[i]] = kc->ext[i];
        ein_dtype d = dt ? EIN_F64 : EIN_F32;
        ein_dtype dts[MAXOPS] = {d, d, d};
        int lys[MAXOPS] = {LY_C, LY_C, LY_C};
        trial_setup(&T, dts, d, lys, LY_C, &g);
        char x[8192];
        ein_options o1 = {0};
        o1.num_threads = 1;
        run_variant(&T, &o1, NULL, false, "default", x, sizeof x);
        cr_assert(strstr(x, kc->kernel), "%s: expected a %s step, the plan is:\n%s",
                  T.desc, kc->kernel, x);
        bool has1 = false;
        for (int i = 0; kc->labels[i]; i++)
            has1 |= kc->ext[i] == 1;
        if (has1)
            cr_assert(strstr(x, "squeeze"), "%s: no squeeze in the plan:\n%s", T.desc, x);
        run_all_variants(&T);
        trial_free(&T);
    }
}

/* ---- outputs that overlap inputs -------------------------------------- */

Test(exec, inplace_transpose)
{
    for (int dt = 0; dt < 2; dt++)
        for (int64_t n = 1; n <= 70; n += 23) {
            ts_rng g = {(uint64_t)(n * 2 + dt)};
            ein_dtype d = dt ? EIN_F64 : EIN_F32;
            size_t es = ein_dtype_size(d);
            char *a = malloc((size_t)(n * n) * es), *orig = malloc((size_t)(n * n) * es);
            if (dt)
                ts_fill_f64((double *)(void *)a, (size_t)(n * n), &g);
            else
                ts_fill_f32((float *)(void *)a, (size_t)(n * n), &g);
            memcpy(orig, a, (size_t)(n * n) * es);
            int64_t shape[2] = {n, n};
            ein_tensor A = {a, d, 2, shape, NULL};
            ein_status st = einsum("ij->ji", &A, &A);
            cr_assert_eq(st, EIN_OK, "ij->ji in place n=%lld: %s", (long long)n,
                         ein_last_error());
            for (int64_t i = 0; i < n; i++)
                for (int64_t j = 0; j < n; j++)
                    cr_assert(memcmp(a + (size_t)(i * n + j) * es,
                                     orig + (size_t)(j * n + i) * es, es) == 0,
                              "ij->ji in place, %s n=%lld: element (%lld,%lld) wrong",
                              ein_dtype_name(d), (long long)n, (long long)i, (long long)j);
            free(a);
            free(orig);
        }
}

/* C = A B written over A's own memory (and over B's, and into a view
 * that interleaves with an input), with every kernel variant. */
Test(exec, output_aliases_input)
{
    for (int which = 0; which < 3; which++)
        for (int dt = 0; dt < 2; dt++) {
            int64_t n = which == 2 ? 33 : 70;
            ein_dtype d = dt ? EIN_F64 : EIN_F32;
            size_t es = ein_dtype_size(d);
            ts_rng g = {(uint64_t)(100 + which * 2 + dt)};
            size_t nn = (size_t)(n * n);
            /* which 2: A holds the even elements of buf, the output the odd. */
            char *buf = malloc(2 * nn * es), *b = malloc(nn * es);
            if (dt) {
                ts_fill_f64((double *)(void *)buf, 2 * nn, &g);
                ts_fill_f64((double *)(void *)b, nn, &g);
            } else {
                ts_fill_f32((float *)(void *)buf, 2 * nn, &g);
                ts_fill_f32((float *)(void *)b, nn, &g);
            }
            int64_t shape[2] = {n, n}, s2[2] = {2 * n, 2}, s1[2] = {n, 1};
            ein_tensor A = {buf, d, 2, shape, which == 2 ? s2 : s1};
            ein_tensor B = {b, d, 2, shape, NULL};
            ein_tensor O = A;
            if (which == 1)
                O = B;
            if (which == 2)
                O.data = buf + es;
            /* The reference from copies. */
            char *ca = malloc(2 * nn * es), *cb = malloc(nn * es);
            memcpy(ca, buf, 2 * nn * es);
            memcpy(cb, b, nn * es);
            ein_tensor cA = {ca, d, 2, shape, A.strides}, cB = {cb, d, 2, shape, NULL};
            double *ref = malloc(nn * sizeof(double));
            int64_t osz;
            cr_assert_eq(ts_reference("ij,jk->ik", 2, (const ein_tensor *const[]){&cA, &cB},
                                      ref, &osz), EIN_OK);
            for (int v = 0; v < 2 + NTABLES; v++) {
                const ein_ktable *kt = v >= 2 ? ein_ktable_named(k_tables[v - 2]) : NULL;
                if (v >= 2 && !kt)
                    continue;
                memcpy(buf, ca, 2 * nn * es);
                memcpy(b, cb, nn * es);
                const ein_tensor *ops[2] = {&A, &B};
                ein_status st;
                ein_plan *p = ein_plan_build("ij,jk->ik", 2, ops, &O, NULL, kt, v == 1, &st);
                cr_assert(p, "%s", ein_last_error());
                st = ein_execute(p, ops, &O);
                ein_plan_free(p);
                cr_assert_eq(st, EIN_OK, "%s", ein_last_error());
                double worst = 0;
                for (size_t i = 0; i < nn; i++) {
                    double got = ts_get(&O, (int64_t)i);
                    double e = fabs(got - ref[i]) / (dt ? 1e-12 : 1e-4) / (double)n;
                    if (!(e <= worst))
                        worst = isnan(e) ? INFINITY : e;
                }
                cr_assert(worst <= 1, "ij,jk->ik, %s, output over %s, variant %d: "
                          "error %g of tolerance", ein_dtype_name(d),
                          which == 0 ? "A" : which == 1 ? "B" : "A's odd elements",
                          v, worst);
                if (which == 2)   /* A's own elements are untouched */
                    for (size_t i = 0; i < 2 * nn; i += 2)
                        cr_assert(memcmp(buf + i * es, ca + i * es, es) == 0,
                                  "input element %zu changed", i / 2);
            }
            free(ref);
            free(ca);
            free(cb);
            free(buf);
            free(b);
        }
}

/* ---- zero-size ------------------------------------------------------- */

/* A sum over an empty label writes zeros over whatever the output held,
 * through any output strides, with every variant. */
Test(exec, empty_sum_writes_zeros)
{
    static const char *const exprs[] = {"ij,jk->ik", "i,i->", "ij,j->i", "ij->i",
                                        "bij,bjk->bik", "ij,jk,kl->il"};
    static const char *const zero[] = {"j", "i", "j", "j", "j", "k"};
    for (size_t e = 0; e < sizeof exprs / sizeof exprs[0]; e++)
        for (int oly = 0; oly < 4; oly++) {
            ts_rng g = {(uint64_t)(e * 16 + (size_t)oly)};
            trial T;
            memset(&T, 0, sizeof T);
            T.expr = exprs[e];
            split_expr(exprs[e], &T.so);
            for (int c = 0; c < 128; c++)
                T.ext[c] = -1;
            for (int k = 0; k <= MAXOPS; k++)
                for (const char *c = T.so.term[k]; *c; c++)
                    T.ext[(unsigned char)*c] = 3 + (*c - 'a') % 4;
            T.ext[(unsigned char)zero[e][0]] = 0;
            /* f32 outputs take f32 operands (f64 would need an unsafe cast). */
            ein_dtype od = oly & 1 ? EIN_F32 : EIN_F64;
            ein_dtype dts[MAXOPS] = {od, EIN_F32, od};
            int lys[MAXOPS] = {LY_C, LY_NEG, LY_MIX};
            static const int olys[] = {LY_C, LY_PERM, LY_NEG, LY_SLICE};
            trial_setup(&T, dts, od, lys, olys[oly], &g);
            cr_assert_gt(T.osize, 0, "%s: the output should not be empty", T.desc);
            run_all_variants(&T);
            for (int64_t i = 0; i < T.osize; i++)
                cr_assert(ts_get(&T.out.t, i) == 0.0 && !signbit(ts_get(&T.out.t, i)) ,
                          "%s: element %lld is %g, not +0", T.desc, (long long)i,
                          ts_get(&T.out.t, i));
            trial_free(&T);
        }
}

/* An empty output: nothing around it is written, with NULL or real data. */
Test(exec, empty_output_untouched)
{
    static const char *const exprs[] = {"ij,jk->ik", "ij,jk->ik", "ij,j->i", "i,j->ij",
                                        "ij->ji", "bij,bjk->bik"};
    static const char *const zero[] = {"i", "k", "i", "j", "j", "b"};
    for (size_t e = 0; e < sizeof exprs / sizeof exprs[0]; e++) {
        ts_rng g = {(uint64_t)(500 + e)};
        trial T;
        memset(&T, 0, sizeof T);
        T.expr = exprs[e];
        split_expr(exprs[e], &T.so);
        for (int c = 0; c < 128; c++)
            T.ext[c] = -1;
        for (int k = 0; k <= MAXOPS; k++)
            for (const char *c = T.so.term[k]; *c; c++)
                T.ext[(unsigned char)*c] = 5;
        T.ext[(unsigned char)zero[e][0]] = 0;
        ein_dtype dts[MAXOPS] = {EIN_F64, EIN_F64, EIN_F64};
        int lys[MAXOPS] = {LY_MIX, LY_C, LY_C};
        trial_setup(&T, dts, EIN_F64, lys, LY_SLICE, &g);
        cr_assert_eq(T.osize, 0);
        run_all_variants(&T);   /* checks every guard element */
        /* And with a NULL data pointer. */
        const ein_tensor *ops[MAXOPS];
        for (int k = 0; k < T.so.nops; k++)
            ops[k] = &T.op[k].t;
        ein_tensor O = T.out.t;
        O.data = NULL;
        ein_status st = einsum_v(T.expr, T.so.nops, ops, &O);
        cr_assert_eq(st, EIN_OK, "%s with NULL output data: %s", T.desc, ein_last_error());
        trial_free(&T);
    }
}

/* ---- reuse: many runs, many threads ------------------------------------ */

static double max_rel_err(const ein_tensor *o, const double *ref, int64_t n, double tol)
{
    double worst = 0;
    for (int64_t i = 0; i < n; i++) {
        double e = fabs(ts_get(o, i) - ref[i]) / tol;
        if (!(e <= worst))
            worst = isnan(e) ? INFINITY : e;
    }
    return worst;
}

Test(exec, plan_reused_with_new_data)
{
    static const char *const exprs[] = {"ij,jk->ik", "ij,j->i", "bij,bjk->bki", "ij->j"};
    for (size_t e = 0; e < 4; e++) {
        ts_rng g = {(uint64_t)(900 + e)};
        trial T;
        memset(&T, 0, sizeof T);
        T.expr = exprs[e];
        split_expr(exprs[e], &T.so);
        for (int c = 0; c < 128; c++)
            T.ext[c] = -1;
        T.ext['b'] = 3; T.ext['i'] = 45; T.ext['j'] = 70; T.ext['k'] = 19;
        ein_dtype dts[MAXOPS] = {EIN_F64, EIN_F64};
        int lys[MAXOPS] = {LY_NEG, LY_PERM};
        trial_setup(&T, dts, EIN_F64, lys, LY_SLICE, &g);
        const ein_tensor *ops[MAXOPS] = {&T.op[0].t, &T.op[1].t};
        ein_status st;
        ein_plan *p = ein_plan_new(T.expr, T.so.nops, ops, &T.out.t, NULL, &st);
        cr_assert(p, "%s: %s", T.desc, ein_last_error());
        for (int rep = 0; rep < 12; rep++) {
            /* Fresh buffers each time: new data pointers, same layout. */
            trial U = T;
            for (int k = 0; k < T.so.nops; k++) {
                U.op[k].buf = malloc((size_t)T.op[k].nbuf * 8);
                ts_fill_f64((double *)(void *)U.op[k].buf, (size_t)T.op[k].nbuf, &g);
                U.op[k].t.data = U.op[k].buf + T.op[k].off * 8;
                U.op[k].t.shape = U.op[k].shape;
                U.op[k].t.strides = T.op[k].t.strides ? U.op[k].strides : NULL;
            }
            U.out.buf = malloc((size_t)T.out.nbuf * 8);
            fill_sentinel(U.out.buf, U.out.nbuf, 8);
            U.out.t.data = U.out.buf + T.out.off * 8;
            U.out.t.shape = U.out.shape;
            U.out.t.strides = U.out.strides;
            const ein_tensor *uops[MAXOPS] = {&U.op[0].t, &U.op[1].t};
            int64_t osz;
            cr_assert_eq(ts_reference(T.expr, T.so.nops, uops, U.ref, &osz), EIN_OK);
            st = ein_execute(p, uops, &U.out.t);
            cr_assert_eq(st, EIN_OK, "%s run %d: %s", T.desc, rep, ein_last_error());
            double w = max_rel_err(&U.out.t, U.ref, U.osize, 1e-12 * 70);
            cr_assert(w <= 1, "%s run %d: error %g of tolerance", T.desc, rep, w);
            check_guards(&U.out, T.desc);
            for (int k = 0; k < T.so.nops; k++)
                free(U.op[k].buf);
            free(U.out.buf);
        }
        ein_plan_free(p);
        trial_free(&T);
    }
}

typedef struct worker {
    const ein_plan *plan;
    const char     *expr;
    uint64_t        seed;
    int64_t         m, k, n;
    int             reps;
    double          worst;     /* error / tolerance, largest */
    int             failures;  /* non-OK statuses */
} worker;

static void *worker_run(void *arg)
{
    worker *w = arg;
    ts_rng g = {w->seed};
    int64_t sa[2] = {w->m, w->k}, sb[2] = {w->k, w->n}, so[2] = {w->m, w->n};
    size_t na = (size_t)(w->m * w->k), nb = (size_t)(w->k * w->n), no = (size_t)(w->m * w->n);
    float *a = malloc(na * 4), *b = malloc(nb * 4), *o = malloc(no * 4);
    double *ref = malloc(no * 8);
    for (int r = 0; r < w->reps; r++) {
        ts_fill_f32(a, na, &g);
        ts_fill_f32(b, nb, &g);
        ein_tensor A = {a, EIN_F32, 2, sa, NULL}, B = {b, EIN_F32, 2, sb, NULL},
                   O = {o, EIN_F32, 2, so, NULL};
        const ein_tensor *ops[2] = {&A, &B};
        if (ein_execute(w->plan, ops, &O) != EIN_OK) {
            w->failures++;
            continue;
        }
        int64_t osz;
        if (ts_reference(w->expr, 2, ops, ref, &osz) != EIN_OK) {
            w->failures++;
            continue;
        }
        double e = max_rel_err(&O, ref, (int64_t)no, 1e-5 * (double)w->k);
        if (!(e <= w->worst))
            w->worst = isnan(e) ? INFINITY : e;
    }
    free(a);
    free(b);
    free(o);
    free(ref);
    return NULL;
}

Test(exec, one_plan_four_threads)
{
    for (int nth = 1; nth <= 2; nth++) {
        int64_t m = 67, k = 45, n = 53;
        int64_t sa[2] = {m, k}, sb[2] = {k, n}, so[2] = {m, n};
        ein_tensor A = {NULL, EIN_F32, 2, sa, NULL}, B = {NULL, EIN_F32, 2, sb, NULL},
                   O = {NULL, EIN_F32, 2, so, NULL};
        const ein_tensor *ops[2] = {&A, &B};
        ein_options opt = {0};
        opt.num_threads = nth;   /* 2: kernels spawn threads inside threads */
        ein_status st;
        ein_plan *p = ein_plan_new("ij,jk->ik", 2, ops, &O, &opt, &st);
        cr_assert(p, "%s", ein_last_error());
        pthread_t th[4];
        worker w[4];
        for (int t = 0; t < 4; t++) {
            w[t] = (worker){p, "ij,jk->ik", (uint64_t)(1000 + t), m, k, n, 15, 0, 0};
            cr_assert_eq(pthread_create(&th[t], NULL, worker_run, &w[t]), 0);
        }
        for (int t = 0; t < 4; t++)
            pthread_join(th[t], NULL);
        ein_plan_free(p);
        for (int t = 0; t < 4; t++) {
            cr_assert_eq(w[t].failures, 0, "thread %d: %d runs failed", t, w[t].failures);
            cr_assert(w[t].worst <= 1, "thread %d (plan threads %d): error %g of "
                      "tolerance", t, nth, w[t].worst);
        }
    }
}

/* ---- ein_execute's refusals, and no partial output -------------------- */

/* The output buffer, whole, before and after. */
static void expect_refusal(const ein_plan *p, const ein_tensor *const *ops,
                           ein_tensor *out, const double *obuf, size_t on,
                           ein_status want, const char *needle, const char *what)
{
    double *before = malloc(on * sizeof(double));
    memcpy(before, obuf, on * sizeof(double));
    ein_status st = ein_execute(p, ops, out);
    cr_assert_eq(st, want, "%s: status %s, expected %s: %s", what, ein_status_str(st),
                 ein_status_str(want), ein_last_error());
    if (needle)
        cr_assert(strstr(ein_last_error(), needle), "%s: the message does not name "
                  "'%s': %s", what, needle, ein_last_error());
    cr_assert(memcmp(before, obuf, on * sizeof(double)) == 0,
              "%s: the output changed on error", what);
    free(before);
}

Test(exec, execute_refuses_mismatched_tensors)
{
    double a[5 * 4 + 8], x[8], y[16];
    ts_rng g = {4242};
    ts_fill_f64(a, 28, &g);
    ts_fill_f64(x, 8, &g);
    for (int i = 0; i < 16; i++)
        y[i] = -7.25;
    int64_t sa[2] = {5, 4}, sx[1] = {4}, sy[1] = {5};
    ein_tensor A = {a, EIN_F64, 2, sa, NULL}, X = {x, EIN_F64, 1, sx, NULL},
               Y = {y, EIN_F64, 1, sy, NULL};
    const ein_tensor *ops[2] = {&A, &X};
    ein_status st;
    ein_plan *p = ein_plan_new("ij,j->i", 2, ops, &Y, NULL, &st);
    cr_assert(p, "%s", ein_last_error());

    int64_t sa2[2] = {5, 3}, sx3[2] = {4, 1}, st2[1] = {2}, stA[2] = {1, 5};
    ein_tensor bad;
    const ein_tensor *bops[2];

    bad = A; bad.shape = sa2;
    bops[0] = &bad; bops[1] = &X;
    expect_refusal(p, bops, &Y, y, 16, EIN_ERR_PLAN, "operand 0", "A with another extent");
    bad = A; bad.strides = stA;
    expect_refusal(p, bops, &Y, y, 16, EIN_ERR_PLAN, "operand 0", "A transposed");
    bad = X; bad.strides = st2;
    bops[0] = &A; bops[1] = &bad;
    expect_refusal(p, bops, &Y, y, 16, EIN_ERR_PLAN, "operand 1", "x with stride 2");
    bad = X; bad.dtype = EIN_F32;
    expect_refusal(p, bops, &Y, y, 16, EIN_ERR_PLAN, "operand 1", "x as float32");
    bad = X; bad.ndim = 2; bad.shape = sx3;
    expect_refusal(p, bops, &Y, y, 16, EIN_ERR_PLAN, "operand 1", "x of rank 2");
    bad = X; bad.data = NULL;
    expect_refusal(p, bops, &Y, y, 16, EIN_ERR_ARG, "operand 1", "x with NULL data");
    bops[1] = NULL;
    expect_refusal(p, bops, &Y, y, 16, EIN_ERR_ARG, "operand 1", "x NULL");
    expect_refusal(p, NULL, &Y, y, 16, EIN_ERR_ARG, NULL, "operand array NULL");

    ein_tensor O = Y;
    O.strides = st2;
    expect_refusal(p, ops, &O, y, 16, EIN_ERR_PLAN, "output", "output with stride 2");
    O = Y; O.shape = (const int64_t[]){4};
    expect_refusal(p, ops, &O, y, 16, EIN_ERR_PLAN, "output", "output of extent 4");
    O = Y; O.dtype = EIN_F32;
    expect_refusal(p, ops, &O, y, 16, EIN_ERR_PLAN, "output", "float32 output");
    O = Y; O.data = NULL;
    expect_refusal(p, ops, &O, y, 16, EIN_ERR_ARG, "output", "output with NULL data");
    expect_refusal(p, ops, NULL, y, 16, EIN_ERR_ARG, "output", "output NULL");
    expect_refusal(NULL, ops, &Y, y, 16, EIN_ERR_ARG, NULL, "plan NULL");

    /* A C-contiguous view that states its strides is the same view. */
    int64_t cs[2] = {4, 1};
    bad = A; bad.strides = cs;
    bops[0] = &bad; bops[1] = &X;
    st = ein_execute(p, bops, &Y);
    cr_assert_eq(st, EIN_OK, "explicit C strides refused: %s", ein_last_error());
    for (int i = 0; i < 5; i++) {
        double want = 0;
        for (int j = 0; j < 4; j++)
            want += a[i * 4 + j] * x[j];
        cr_assert_float_eq(y[i], want, 1e-13, "y[%d]", i);
    }
    cr_assert_str_empty(ein_last_error(), "success leaves a message: %s", ein_last_error());
    ein_plan_free(p);
}

/* einsum_v's refusals: every one leaves the output as it was. */
Test(exec, einsum_errors_leave_output_untouched)
{
    double a[12], b[12], o[16];
    for (int i = 0; i < 12; i++)
        a[i] = b[i] = i + 1;
    int64_t s34[2] = {3, 4}, s43[2] = {4, 3}, s33[2] = {3, 3}, s35[2] = {3, 5},
            s53[2] = {5, 3}, neg[2] = {3, -4}, zs[2] = {0, 1}, big31[2] = {1LL << 31, 1LL << 31},
            z2[2] = {0, 0}, s331[3] = {3, 3, 1};
    ein_tensor A = {a, EIN_F64, 2, s34, NULL}, B = {b, EIN_F64, 2, s43, NULL};
    struct {
        const char *expr;
        ein_tensor a, b, o;
        int nops;
        ein_status want;
    } cases[] = {
        {"ij,jk->ik", A, B, {o, EIN_F64, 2, s35, NULL}, 2, EIN_ERR_SHAPE},
        {"ij,jk->ik", A, {b, EIN_F64, 2, s53, NULL}, {o, EIN_F64, 2, s33, NULL}, 2, EIN_ERR_SHAPE},
        {"ij,jk->ik", A, B, {o, EIN_F32, 2, s33, NULL}, 2, EIN_ERR_DTYPE},
        {"ij,jk->ik", A, B, {o, EIN_F64, 2, s33, zs}, 2, EIN_ERR_ALIAS},
        {"ij,jk->ik", A, B, {o, EIN_F64, 2, s33, NULL}, 1, EIN_ERR_OPERANDS},
        {"ij,jk->ik", A, {b, EIN_F64, 2, neg, NULL}, {o, EIN_F64, 2, s33, NULL}, 2, EIN_ERR_ARG},
        {"ij,jk->ik", A, B, {o, EIN_F64, 3, s331, NULL}, 2, EIN_ERR_SHAPE},
        {"ij,jk->iz", A, B, {o, EIN_F64, 2, s33, NULL}, 2, EIN_ERR_SYNTAX},
        {"ijk,jk->ik", A, B, {o, EIN_F64, 2, s33, NULL}, 2, EIN_ERR_RANK},
        {"ij,jk->ik", {a, EIN_F64, 2, big31, z2}, B, {o, EIN_F64, 2, s33, NULL}, 2,
         EIN_ERR_OVERFLOW},   /* 2^62 elements of 8 bytes */
        {"ij,jk->ik", A, {NULL, EIN_F64, 2, s43, NULL}, {o, EIN_F64, 2, s33, NULL}, 2, EIN_ERR_ARG},
        {"ij,jk->ik", A, B, {NULL, EIN_F64, 2, s33, NULL}, 2, EIN_ERR_ARG},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        for (int i = 0; i < 16; i++)
            o[i] = 1000 + i;
        double before[16];
        memcpy(before, o, sizeof o);
        const ein_tensor *ops[2] = {&cases[c].a, &cases[c].b};
        ein_status st = einsum_v(cases[c].expr, cases[c].nops, ops, &cases[c].o);
        cr_assert_eq(st, cases[c].want, "case %zu %s: %s, expected %s: %s", c,
                     cases[c].expr, ein_status_str(st), ein_status_str(cases[c].want),
                     ein_last_error());
        cr_assert_str_neq(ein_last_error(), "", "case %zu: no message", c);
        cr_assert(memcmp(before, o, sizeof o) == 0, "case %zu %s (%s): output changed",
                  c, cases[c].expr, ein_status_str(st));
    }
}

/* ---- many operands ----------------------------------------------------- */

/* 52 operands with one private summed label each (A..Z, a..z, extent 2)
 * and 200 0-d operands: every private label is reduced in its own step
 * before the 251 pairwise steps, so the plan has 252 + 52 + 250 + 1 = 555
 * slots, more than 2 * EIN_MAX_OPERANDS + 2 (ein_run once kept a fixed
 * table of that size; it now sizes it by the plan's slot count). */
Test(exec, many_operands_private_sums)
{
    enum { NV = 52, NS = 200, N = NV + NS };
    static char expr[4 * N + 8];
    size_t w = 0;
    for (int k = 0; k < N; k++) {
        if (k)
            expr[w++] = ',';
        if (k < NV)
            expr[w++] = (char)(k < 26 ? 'A' + k : 'a' + k - 26);
    }
    memcpy(expr + w, "->", 3);
    static double vec[NV][2], sc[NS];
    static ein_tensor t[N];
    static const ein_tensor *ops[N];
    static const int64_t two[1] = {2};
    double want = 1;
    for (int k = 0; k < NV; k++) {
        vec[k][0] = 0.25 + (k % 3) * 0.25;
        vec[k][1] = 1.0 - vec[k][0] + (k == 7 ? 0.5 : 0.0);
        want *= vec[k][0] + vec[k][1];
        t[k] = (ein_tensor){vec[k], EIN_F64, 1, two, NULL};
    }
    for (int k = 0; k < NS; k++) {
        sc[k] = k == 3 ? -2.0 : 1.0;
        want *= sc[k];
        t[NV + k] = (ein_tensor){&sc[k], EIN_F64, 0, two, NULL};   /* non-NULL shape: see test_api's scalar_null_shape */
    }
    for (int k = 0; k < N; k++)
        ops[k] = &t[k];
    double out = NAN;
    ein_tensor O = {&out, EIN_F64, 0, NULL, NULL};
    ein_status st = einsum_v(expr, N, ops, &O);
    cr_assert_eq(st, EIN_OK, "%s", ein_last_error());
    cr_assert_float_eq(out, want, 1e-12, "got %g, want %g", out, want);
}

/* The same shape of plan within the slot table's size: 40 private sums
 * and 100 scalars.  (Extent 2: ein_bind refuses when the product of every
 * label's extent overflows int64, 3^40 here, although the plan never
 * walks that space.) */
Test(exec, many_operands_within_limits)
{
    enum { NV = 40, NS = 100, N = NV + NS };
    static char expr[4 * N + 8];
    size_t w = 0;
    for (int k = 0; k < N; k++) {
        if (k)
            expr[w++] = ',';
        if (k < NV)
            expr[w++] = (char)(k < 26 ? 'A' + k : 'a' + k - 26);
    }
    memcpy(expr + w, "->", 3);
    static double vec[NV][2], sc[NS];
    static ein_tensor t[N];
    static const ein_tensor *ops[N];
    static const int64_t two[1] = {2};
    double want = 1;
    for (int k = 0; k < NV; k++) {
        vec[k][0] = 0.5;
        vec[k][1] = 0.25 * (k % 4) + 0.125;
        want *= vec[k][0] + vec[k][1];
        t[k] = (ein_tensor){vec[k], EIN_F64, 1, two, NULL};
    }
    for (int k = 0; k < NS; k++) {
        sc[k] = k % 10 == 3 ? -1.0 : 1.0;
        want *= sc[k];
        t[NV + k] = (ein_tensor){&sc[k], EIN_F64, 0, two, NULL};   /* non-NULL shape: see test_api's scalar_null_shape */
    }
    for (int k = 0; k < N; k++)
        ops[k] = &t[k];
    double out = NAN;
    ein_tensor O = {&out, EIN_F64, 0, NULL, NULL};
    ein_status st = einsum_v(expr, N, ops, &O);
    cr_assert_eq(st, EIN_OK, "%s", ein_last_error());
    cr_assert(fabs(out - want) <= 1e-12 * fabs(want), "got %.17g, want %.17g", out, want);
}

/* The output over an f64 operand's memory while the other operand is f32
 * (converted into the workspace first): both mechanisms at once. */
Test(exec, output_aliases_input_mixed_dtypes)
{
    const int64_t n = 29;
    size_t nn = (size_t)(n * n);
    ts_rng g = {2929};
    float *a = malloc(nn * 4);
    double *b = malloc(nn * 8), *cb = malloc(nn * 8), *ca = malloc(nn * 8),
           *ref = malloc(nn * 8);
    ts_fill_f32(a, nn, &g);
    ts_fill_f64(b, nn, &g);
    memcpy(cb, b, nn * 8);
    for (size_t i = 0; i < nn; i++)
        ca[i] = a[i];
    int64_t shape[2] = {n, n}, tr[2] = {1, n};
    for (int v = 0; v < 4; v++) {
        memcpy(b, cb, nn * 8);
        /* v & 1: A read transposed; v & 2: the output written transposed */
        ein_tensor A = {a, EIN_F32, 2, shape, v & 1 ? tr : NULL};
        ein_tensor B = {b, EIN_F64, 2, shape, NULL};
        ein_tensor O = {b, EIN_F64, 2, shape, v & 2 ? tr : NULL};
        ein_tensor rA = {ca, EIN_F64, 2, shape, A.strides}, rB = {cb, EIN_F64, 2, shape, NULL};
        int64_t osz;
        cr_assert_eq(ts_reference("ij,jk->ik", 2, (const ein_tensor *const[]){&rA, &rB},
                                  ref, &osz), EIN_OK);
        ein_status st = einsum("ij,jk->ik", &O, &A, &B);
        cr_assert_eq(st, EIN_OK, "variant %d: %s", v, ein_last_error());
        double w = max_rel_err(&O, ref, (int64_t)nn, 1e-12 * (double)n);
        cr_assert(w <= 1, "ij,jk->ik, f32 A%s, output over f64 B%s: error %g of "
                  "tolerance", v & 1 ? " transposed" : "", v & 2 ? " transposed" : "", w);
    }
    free(a);
    free(b);
    free(cb);
    free(ca);
    free(ref);
}

/* ---- batch loops split between threads --------------------------------- */

/* Many small kernel calls (a batch of 40x40 GEMMs, 5 MFLOP in all) are
 * split between threads, each call whole on one thread: the result must
 * be bitwise the same with 1 and 2 threads and match the reference. */
/* One and two threads bitwise equal, and both near the reference, in
 * the dtype dt. */
static void batch_split_case_dt(const char *expr, int nops, const int64_t (*shapes)[3],
                                ein_dtype dt)
{
    ts_rng r = {77};
    static double buf[3][64 * 96 * 96];
    const size_t es = dt == EIN_F32 ? sizeof(float) : sizeof(double);
    ein_tensor t[3];
    const ein_tensor *ops[3];
    for (int k = 0; k < nops; k++) {
        int nd = shapes[k][2] ? 3 : 2;
        if (dt == EIN_F32)
            ts_fill_f32((float *)buf[k], 64 * 96 * 96, &r);
        else
            ts_fill_f64(buf[k], 64 * 96 * 96, &r);
        t[k] = (ein_tensor){buf[k], dt, nd, shapes[k], NULL};
        ops[k] = &t[k];
    }
    ein_status st;
    ein_options one = {.num_threads = 1}, two = {.num_threads = 2};
    ein_plan *p1 = ein_plan_new(expr, nops, ops, NULL, &one, &st);
    ein_plan *p2 = ein_plan_new(expr, nops, ops, NULL, &two, &st);
    cr_assert(p1 && p2, "%s: %s", expr, ein_last_error());
    int64_t shape[EIN_MAX_DIMS], n = 1;
    int nd = ein_plan_result(p1, NULL, shape);
    for (int d = 0; d < nd; d++)
        n *= shape[d];
    void *o1 = malloc((size_t)n * es), *o2 = malloc((size_t)n * es);
    double *want = malloc((size_t)n * sizeof *want);
    ein_tensor O1 = {o1, dt, nd, shape, NULL}, O2 = {o2, dt, nd, shape, NULL};
    cr_assert_eq(ein_execute(p1, ops, &O1), EIN_OK);
    cr_assert_eq(ein_execute(p2, ops, &O2), EIN_OK);
    cr_assert(memcmp(o1, o2, (size_t)n * es) == 0, "%s %s: 1 and 2 threads differ", expr,
              ein_dtype_name(dt));
    int64_t rn;
    cr_assert_eq(ts_reference(expr, nops, ops, want, &rn), EIN_OK);
    cr_assert_eq(rn, n);
    const double tol = dt == EIN_F32 ? 1e-4 : 1e-11;
    for (int64_t i = 0; i < n; i++) {
        double got = dt == EIN_F32 ? ((float *)o1)[i] : ((double *)o1)[i];
        cr_assert(fabs(got - want[i]) <= tol * (1 + fabs(want[i])), "%s %s: element %lld",
                  expr, ein_dtype_name(dt), (long long)i);
    }
    free(o1);
    free(o2);
    free(want);
    ein_plan_free(p1);
    ein_plan_free(p2);
}

static void batch_split_case(const char *expr, int nops, const int64_t (*shapes)[3])
{
    batch_split_case_dt(expr, nops, shapes, EIN_F32);
    batch_split_case_dt(expr, nops, shapes, EIN_F64);
}

Test(exec, batch_loops_split_between_threads)
{
    const int64_t mm[][3] = {{40, 40, 40}, {40, 40, 40}};
    batch_split_case("bij,bjk->bik", 2, mm);
    const int64_t mv[][3] = {{64, 48, 48}, {64, 48, 0}};
    batch_split_case("bij,bj->bi", 2, mv);
    /* GEMVs and dots split from fewer flops (they are bound by bytes). */
    const int64_t mv2[][3] = {{64, 96, 96}, {64, 96, 0}};
    batch_split_case("bij,bj->bi", 2, mv2);
    const int64_t dots[][3] = {{64, 9000, 0}, {64, 9000, 0}};
    batch_split_case("bi,bi->b", 2, dots);
    /* An outer summed loop (k twice, not fusable) keeps its order. */
    const int64_t ks[][3] = {{40, 40, 40}, {40, 40, 40}};
    batch_split_case("bij,jbk->ik", 2, ks);
    /* GEMVs along a summed loop: each thread its share of the rows. */
    const int64_t sv[][3] = {{64, 100, 90}, {64, 90, 0}};
    batch_split_case("abc,ac->b", 2, sv);
    const int64_t sv2[][3] = {{64, 90, 0}, {64, 100, 90}};
    batch_split_case("ac,abc->b", 2, sv2);
    const int64_t sv3[][3] = {{300, 21, 90}, {300, 90, 0}};
    batch_split_case("abc,ac->b", 2, sv3);
    const int64_t sv4[][3] = {{64, 90, 100}, {64, 90, 0}};
    batch_split_case("acb,ac->b", 2, sv4);
}

/* Small GEMMs under two batch loops that do not fold (op0 stores b
 * outside a), so the executor hands the table's batch entry runs of the
 * inner loop, cut where the threads' chunks of calls end: 1 and 2
 * threads bitwise equal, both dtypes, against the reference. */
Test(exec, small_gemm_batches_under_two_loops)
{
    enum { A_ = 67, B_ = 77, I_ = 8, J_ = 8, K_ = 8 };
    const int64_t s0[] = {A_, B_, I_, J_}, st0[] = {I_ * J_, A_ * I_ * J_, J_, 1};
    const int64_t s1[] = {A_, B_, J_, K_};
    const int64_t so[] = {A_, B_, I_, K_};
    const size_t n0 = A_ * B_ * I_ * J_, n1 = A_ * B_ * J_ * K_, no = A_ * B_ * I_ * K_;
    double *x = malloc(n0 * sizeof *x), *y = malloc(n1 * sizeof *y);
    double *o[2] = {malloc(no * sizeof(double)), malloc(no * sizeof(double))};
    double *want = malloc(no * sizeof *want);
    cr_assert(x && y && o[0] && o[1] && want);
    ts_rng r = {4242};
    for (int dt = EIN_F32; dt <= EIN_F64; dt++) {
        ts_fill_f64(x, n0, &r);
        ts_fill_f64(y, n1, &r);
        if (dt == EIN_F32) {   /* the same buffers, read as floats */
            for (size_t q = 0; q < n0; q++) ((float *)x)[q] = (float)x[q];
            for (size_t q = 0; q < n1; q++) ((float *)y)[q] = (float)y[q];
        }
        ein_tensor t0 = {x, (ein_dtype)dt, 4, s0, st0}, t1 = {y, (ein_dtype)dt, 4, s1, NULL};
        const ein_tensor *ops[] = {&t0, &t1};
        for (int nt = 1; nt <= 2; nt++) {
            ein_options opt = {.num_threads = nt};
            ein_status st;
            ein_plan *p = ein_plan_new("abij,abjk->abik", 2, ops, NULL, &opt, &st);
            cr_assert(p, "%s", ein_last_error());
            ein_tensor out = {o[nt - 1], (ein_dtype)dt, 4, so, NULL};
            cr_assert_eq(ein_execute(p, ops, &out), EIN_OK, "%s", ein_last_error());
            ein_plan_free(p);
        }
        size_t bytes = no * ein_dtype_size((ein_dtype)dt);
        cr_assert(memcmp(o[0], o[1], bytes) == 0, "%s: 1 and 2 threads differ",
                  ein_dtype_name((ein_dtype)dt));
        int64_t rn;
        cr_assert_eq(ts_reference("abij,abjk->abik", 2, ops, want, &rn), EIN_OK);
        cr_assert_eq(rn, (int64_t)no);
        double tol = dt == EIN_F32 ? 1e-5 : 1e-13;
        for (size_t q = 0; q < no; q++) {
            double got = dt == EIN_F32 ? ((float *)o[0])[q] : o[0][q];
            cr_assert(fabs(got - want[q]) <= tol * (8 + fabs(want[q])),
                      "%s element %zu: %.17g, expected %.17g",
                      ein_dtype_name((ein_dtype)dt), q, got, want[q]);
        }
    }
    free(x); free(y); free(o[0]); free(o[1]); free(want);
}

/* Batches of tiny GEMVs and dots (the table's batch entries take runs
 * of the inner loop): the matrix first or second, two loops that do not
 * fold, rows shorter and longer than a vector, columns contiguous (not
 * batched), dots of contiguous and strided elements; 1 and 2 threads
 * bitwise equal, against the reference. */
Test(exec, small_gemv_and_dot_batches)
{
    static const struct {
        const char *expr;
        int nd0, nd1;
        int64_t s0[4], s1[4];
    } cases[] = {
        {"bij,bj->bi", 3, 2, {40000, 3, 3}, {40000, 3}},
        {"bj,bij->bi", 2, 3, {30000, 5}, {30000, 7, 5}},
        {"bji,bj->bi", 3, 2, {20000, 4, 4}, {20000, 4}},
        {"bij,bj->bi", 3, 2, {3000, 6, 21}, {3000, 21}},
        {"abij,abj->abi", 4, 3, {301, 97, 3, 2}, {301, 97, 2}},
        {"bi,bij->bj", 2, 3, {40000, 3}, {40000, 3, 5}},
        {"ij,ij->i", 2, 2, {100000, 3}, {100000, 3}},
        {"bij,bij->b", 3, 3, {30000, 3, 3}, {30000, 3, 3}},
        {"ij,ji->i", 2, 2, {500, 700}, {700, 500}},
        {"abij,abij->ab", 4, 4, {301, 97, 3, 2}, {301, 97, 3, 2}},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        int64_t n0 = 1, n1 = 1;
        for (int d = 0; d < cases[c].nd0; d++) n0 *= cases[c].s0[d];
        for (int d = 0; d < cases[c].nd1; d++) n1 *= cases[c].s1[d];
        /* the 4-D case stores its operand with a and b swapped */
        int64_t st0[4] = {0};
        bool perm = cases[c].nd0 == 4;
        if (perm) {
            const int64_t *sh = cases[c].s0;
            st0[3] = 1;
            st0[2] = sh[3];
            st0[0] = sh[2] * sh[3];
            st0[1] = sh[0] * sh[2] * sh[3];
        }
        for (int dt = EIN_F32; dt <= EIN_F64; dt++) {
            size_t es = ein_dtype_size((ein_dtype)dt);
            void *x = malloc((size_t)n0 * es), *y = malloc((size_t)n1 * es);
            cr_assert(x && y);
            ts_rng r = {900 + c};
            if (dt == EIN_F32) {
                ts_fill_f32(x, (size_t)n0, &r);
                ts_fill_f32(y, (size_t)n1, &r);
            } else {
                ts_fill_f64(x, (size_t)n0, &r);
                ts_fill_f64(y, (size_t)n1, &r);
            }
            ein_tensor t0 = {x, (ein_dtype)dt, cases[c].nd0, cases[c].s0, perm ? st0 : NULL};
            ein_tensor t1 = {y, (ein_dtype)dt, cases[c].nd1, cases[c].s1, NULL};
            const ein_tensor *ops[] = {&t0, &t1};
            void *o[2] = {NULL, NULL};
            int64_t shape[EIN_MAX_DIMS], no = 1;
            int nd = 0;
            for (int nt = 1; nt <= 2; nt++) {
                ein_options opt = {.num_threads = nt};
                ein_status st;
                ein_plan *p = ein_plan_new(cases[c].expr, 2, ops, NULL, &opt, &st);
                cr_assert(p, "%s: %s", cases[c].expr, ein_last_error());
                nd = ein_plan_result(p, NULL, shape);
                no = 1;
                for (int d = 0; d < nd; d++) no *= shape[d];
                o[nt - 1] = malloc((size_t)no * es);
                cr_assert(o[nt - 1]);
                ein_tensor out = {o[nt - 1], (ein_dtype)dt, nd, shape, NULL};
                cr_assert_eq(ein_execute(p, ops, &out), EIN_OK, "%s", ein_last_error());
                ein_plan_free(p);
            }
            cr_assert(memcmp(o[0], o[1], (size_t)no * es) == 0, "%s %s: 1 and 2 threads "
                      "differ", cases[c].expr, ein_dtype_name((ein_dtype)dt));
            double *want = malloc((size_t)no * sizeof *want);
            int64_t rn;
            cr_assert(want);
            cr_assert_eq(ts_reference(cases[c].expr, 2, ops, want, &rn), EIN_OK);
            cr_assert_eq(rn, no);
            double tol = dt == EIN_F32 ? 1e-5 : 1e-13;
            for (int64_t q = 0; q < no; q++) {
                double got = dt == EIN_F32 ? ((float *)o[0])[q] : ((double *)o[0])[q];
                cr_assert(fabs(got - want[q]) <= tol * (8 + fabs(want[q])),
                          "%s %s element %lld: %.17g, expected %.17g", cases[c].expr,
                          ein_dtype_name((ein_dtype)dt), (long long)q, got, want[q]);
            }
            free(want); free(o[0]); free(o[1]); free(x); free(y);
        }
    }
}

/* Found by fuzz_plan: an empty view (an extent 0 after a dimension with a
 * hostile stride) has nothing to reach, so bind does not check its
 * strides; ein_view_span multiplied INT64_MIN by the extent before it
 * reached the zero.  Now the span of any empty view is [0, 0) at once. */
Test(exec, empty_view_span_ignores_its_strides)
{
    const int64_t shape[] = {4, 0}, stride[] = {INT64_MIN, 1};
    int64_t span[2] = {-1, -1};
    ein_view_span(2, shape, stride, 8, span);
    cr_assert(span[0] == 0 && span[1] == 0, "span [%lld, %lld)", (long long)span[0],
              (long long)span[1]);
    /* And a plan over it: planned and run, writing zeros. */
    static double one[1], out[4] = {1, 1, 1, 1};
    ein_tensor A = {one, EIN_F64, 2, shape, stride};
    const int64_t oshape[] = {4};
    ein_tensor O = {out, EIN_F64, 1, oshape, NULL};
    const ein_tensor *ops[] = {&A};
    ein_status st;
    ein_plan *p = ein_plan_new("ij->i", 1, ops, &O, NULL, &st);
    cr_assert(p, "%s", ein_last_error());
    cr_assert_eq(ein_execute(p, ops, &O), EIN_OK, "%s", ein_last_error());
    ein_plan_free(p);
    for (int i = 0; i < 4; i++)
        cr_assert_eq(out[i], 0.0);
}

/* A dimension of extent 1 is never stepped along, so any stride is fine
 * there, INT64_MIN included: the plan runs, and a diagonal over two such
 * dimensions does not add the strides (which would overflow). */
Test(exec, extent_one_dimension_takes_any_stride)
{
    static float a[3] = {1, 2, 3}, b[3] = {4, 5, 6}, out[3];
    const int64_t ashape[] = {3, 1}, astride[] = {1, INT64_MIN};
    const int64_t bshape[] = {1, 3}, bstride[] = {INT64_MIN, 1};
    ein_tensor A = {a, EIN_F32, 2, ashape, astride};
    ein_tensor B = {b, EIN_F32, 2, bshape, bstride};
    const int64_t oshape[] = {3};
    ein_tensor O = {out, EIN_F32, 1, oshape, NULL};
    cr_assert_eq(einsum("ij,jk->i", &O, &A, &B), EIN_OK, "%s", ein_last_error());
    for (int i = 0; i < 3; i++)
        cr_assert_eq(out[i], a[i] * (b[0] + b[1] + b[2]), "out[%d] = %g", i, (double)out[i]);

    const int64_t dshape[] = {1, 1}, dstride[] = {INT64_MIN, INT64_MIN};
    ein_tensor D = {a + 1, EIN_F32, 2, dshape, dstride};
    const int64_t one[] = {1};
    ein_tensor O1 = {out, EIN_F32, 1, one, NULL};
    const ein_tensor *dops[] = {&D};
    ein_status st;
    ein_plan *p = ein_plan_new("ii->i", 1, dops, &O1, NULL, &st);
    cr_assert(p, "%s", ein_last_error());
    cr_assert_eq(ein_execute(p, dops, &O1), EIN_OK, "%s", ein_last_error());
    ein_plan_free(p);
    cr_assert_eq(out[0], 2.0f);
}

/* Products that all round to -0 (negative, below the smallest subnormal)
 * sum to +0, as numpy's sums from 0 give, on every table and kernel:
 * GEMM (small and packed), GEMV both ways (split in column halves too),
 * dots, batched and fused sums.  A fused multiply-add keeps the sign of
 * the exact tiny product, so the kernels must normalise. */
Test(exec, sums_of_negative_zero_products_are_positive_zero, .timeout = 120)
{
    static const struct { const char *expr; int64_t n[2]; } cases[] = {
        {"ij,j->i", {64, 600}},     {"ij,i->j", {64, 600}},
        {"ij,jk->ik", {20, 150}},   {"ij,kj->ik", {20, 150}},
        {"ji,jk->ik", {20, 150}},   {"i,i->", {5, 1000}},
        {"ij,ij->j", {20, 300}},    {"ij,ij->i", {20, 300}},
        {"ij,ij->", {20, 300}},     {"bij,bjk->bik", {8, 40}},
        {"ijk,jk->i", {8, 40}},     {"ij,jk->i", {20, 150}},
    };
    int bad = 0;
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
        for (int sz = 0; sz < 2; sz++)
            for (int dt = 0; dt < 2; dt++) {
                const char *e = cases[c].expr;
                int64_t n = cases[c].n[sz];
                ein_dtype d = dt ? EIN_F64 : EIN_F32;
                const char *arrow = strstr(e, "->"), *comma = strchr(e, ',');
                int nd[3] = {(int)(comma - e), (int)(arrow - comma - 1), (int)strlen(arrow + 2)};
                int64_t sh[3][3], total[3];
                for (int t = 0; t < 3; t++) {
                    total[t] = 1;
                    for (int k = 0; k < nd[t]; k++) {
                        char l = (t == 0 ? e : t == 1 ? comma + 1 : arrow + 2)[k];
                        sh[t][k] = l == 'b' ? 3 : n;
                        total[t] *= sh[t][k];
                    }
                }
                size_t es = ein_dtype_size(d);
                char *buf[3];
                for (int t = 0; t < 3; t++) {
                    buf[t] = malloc((size_t)total[t] * es);
                    cr_assert(buf[t]);
                    for (int64_t i = 0; i < total[t]; i++) {
                        double v = t == 0 ? -1 : 1;
                        if (dt)
                            ((double *)(void *)buf[t])[i] = v * 1e-200;
                        else
                            ((float *)(void *)buf[t])[i] = (float)(v * 1e-30);
                    }
                }
                ein_tensor A = {buf[0], d, nd[0], sh[0], NULL};
                ein_tensor B = {buf[1], d, nd[1], sh[1], NULL};
                ein_tensor O = {buf[2], d, nd[2], sh[2], NULL};
                const ein_tensor *ops[2] = {&A, &B};
                for (int v = 0; v < 2 + NTABLES; v++) {
                    const ein_ktable *kt = v >= 2 ? ein_ktable_named(k_tables[v - 2]) : NULL;
                    if (v >= 2 && !kt)
                        continue;
                    memset(buf[2], 0xff, (size_t)total[2] * es);   /* NaNs */
                    ein_status st;
                    ein_plan *p = ein_plan_build(e, 2, ops, &O, NULL, kt, v == 1, &st);
                    cr_assert(p, "%s", ein_last_error());
                    cr_assert_eq(ein_execute(p, ops, &O), EIN_OK, "%s", ein_last_error());
                    ein_plan_free(p);
                    for (int64_t i = 0; i < total[2]; i++) {
                        double got = ts_get(&O, i);
                        if (got == 0 && !signbit(got))
                            continue;
                        cr_log_error("%s n=%lld %s, %s: element %lld is %g (want +0)", e,
                                     (long long)n, ein_dtype_name(d),
                                     v == 0 ? "default" : v == 1 ? "loop nest"
                                                             : k_tables[v - 2],
                                     (long long)i, got);
                        bad++;
                        break;
                    }
                }
                for (int t = 0; t < 3; t++)
                    free(buf[t]);
            }
    cr_assert_eq(bad, 0, "%d plans summed to -0", bad);
}

/* numpy accumulates a computed result into zeros, so neither a sum nor a
 * product is ever -0 there, while a pure copy (a view in numpy) keeps -0:
 * squeezed sums, products after a sum, elementwise products and outer
 * products give +0 here too, and transposes and diagonals keep -0. */
Test(exec, negative_zero_only_where_numpy_keeps_it)
{
    static const struct {
        const char *expr;
        int nops;
        int64_t shape[3][2];
        int nd[4];
        double val[3];
        int keep;   /* numpy's result is -0 */
    } cases[] = {
        {"ij->i", 1, {{5, 1}}, {2, 0, 0, 1}, {-0.0}, 0},
        {"ij->i", 1, {{5, 3}}, {2, 0, 0, 1}, {-0.0}, 0},
        {"ij,jk->ik", 2, {{5, 1}, {1, 4}}, {2, 2, 0, 2}, {-1e-30, 1e-30}, 0},
        {"ij,j,i->i", 3, {{5, 6}, {6}, {5}}, {2, 1, 1, 1}, {-1e-30, 1e-30, -1}, 0},
        {"ij,ij->ij", 2, {{5, 6}, {5, 6}}, {2, 2, 0, 2}, {-1e-30, 1e-30}, 0},
        {"i,j->ij", 2, {{5}, {4}}, {1, 1, 0, 2}, {-1e-30, 1e-30}, 0},
        {"i,i,i->i", 3, {{7}, {7}, {7}}, {1, 1, 1, 1}, {-1e-30, 1e-30, 1}, 0},
        {"ij->ji", 1, {{3, 4}}, {2, 0, 0, 2}, {-0.0}, 1},
        {"ii->i", 1, {{3, 3}}, {2, 0, 0, 1}, {-0.0}, 1},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
        for (int v = 0; v < 2 + NTABLES; v++) {
            const ein_ktable *kt = v >= 2 ? ein_ktable_named(k_tables[v - 2]) : NULL;
            if (v >= 2 && !kt)
                continue;
            float in[3][64], out[64];
            ein_tensor t[3], o;
            const ein_tensor *ops[3];
            for (int k = 0; k < cases[c].nops; k++) {
                for (int i = 0; i < 64; i++)
                    in[k][i] = (float)cases[c].val[k];
                t[k] = (ein_tensor){in[k], EIN_F32, cases[c].nd[k], cases[c].shape[k], NULL};
                ops[k] = &t[k];
            }
            int64_t oshape[2];
            ein_status st;
            ein_plan *p = ein_plan_build(cases[c].expr, cases[c].nops, ops, NULL, NULL, kt,
                                         v == 1, &st);
            cr_assert(p, "%s: %s", cases[c].expr, ein_last_error());
            int ond = ein_plan_result(p, NULL, oshape);
            cr_assert_eq(ond, cases[c].nd[3]);
            o = (ein_tensor){out, EIN_F32, ond, oshape, NULL};
            cr_assert_eq(ein_execute(p, ops, &o), EIN_OK, "%s", ein_last_error());
            ein_plan_free(p);
            int64_t n = 1;
            for (int d = 0; d < ond; d++)
                n *= oshape[d];
            for (int64_t i = 0; i < n; i++)
                cr_assert(out[i] == 0 && (signbit(out[i]) != 0) == cases[c].keep,
                          "%s (%s): element %lld is %g, numpy gives %s", cases[c].expr,
                          v == 0 ? "default" : v == 1 ? "loop nest" : k_tables[v - 2],
                          (long long)i, (double)out[i], cases[c].keep ? "-0" : "+0");
        }
}

/* ---- tiled chains ----------------------------------------------------- */

typedef struct chain_case {
    const char *expr;
    int         nops;
    int         nd[4];
    int64_t     shape[4][3];
    bool        fortran[4];   /* 2-D operand stored transposed */
    int         tiled;        /* the plan must tile (explain says so): 0
                               * never, 1 always, 2 on one thread only
                               * (a summed chain over 4 MiB) */
} chain_case;

/* Run c's plan, tiled or not (EIN_TILE=0), on `threads` threads into res;
 * returns whether explain showed a tiled chain. */
static bool run_chain_case(const chain_case *c, ein_dtype dt, bool tile, int threads,
                           void *const *data, void *res, const int64_t *oshape, int ond)
{
    int64_t st[4][3];
    ein_tensor t[4];
    const ein_tensor *ops[4];
    for (int k = 0; k < c->nops; k++) {
        int64_t acc = 1;
        for (int d = c->nd[k] - 1; d >= 0; d--) {
            st[k][d] = acc;
            acc *= c->shape[k][d];
        }
        if (c->fortran[k]) {
            st[k][0] = 1;
            st[k][1] = c->shape[k][0];
        }
        t[k] = (ein_tensor){data[k], dt, c->nd[k], c->shape[k], st[k]};
        ops[k] = &t[k];
    }
    ein_tensor o = {res, dt, ond, oshape, NULL};
    if (!tile)
        setenv("EIN_TILE", "0", 1);
    ein_options opt = {.num_threads = threads};
    ein_status s;
    ein_plan *p = ein_plan_new(c->expr, c->nops, ops, &o, &opt, &s);
    unsetenv("EIN_TILE");
    cr_assert(p, "%s: %s", c->expr, ein_last_error());
    char text[8192];
    ein_plan_explain(p, text, sizeof text);
    cr_assert_eq(ein_execute(p, ops, &o), EIN_OK, "%s", ein_last_error());
    ein_plan_free(p);
    return strstr(text, "tiled") != NULL;
}

/* Loop steps whose intermediate only the next one reads run a tile of
 * rows at a time (ein_step.chain): the result has the bits of the plan
 * run step by step, on 1 and 2 threads, both dtypes; odd extents leave
 * short last tiles, transposed operands stride across the tiles.  A
 * chain may also tile a label its last step sums, the column sums carried
 * from tile to tile on one thread (ein_step.tile_summed; a plan for two
 * threads takes one up to 4 MiB moved); a chain that
 * ends in a long dot takes the dot's chunks as tiles (tile_flat). */
Test(exec, tiled_chains_have_the_bits_of_untiled_runs)
{
    static const chain_case cases[] = {
        {"i,i,i->i", 3, {1, 1, 1}, {{70001}, {70001}, {70001}}, {0}, 1},
        {"ij,ij,ij->ij", 3, {2, 2, 2}, {{301, 299}, {301, 299}, {301, 299}}, {0}, 1},
        {"ij,ij,ij,ij->ij", 4, {2, 2, 2, 2}, {{257, 300}, {257, 300}, {257, 300}, {257, 300}},
         {0}, 1},
        {"ij,i,j->ij", 3, {2, 1, 1}, {{400, 300}, {400}, {300}}, {0}, 1},
        {"ij,ji,ij->ij", 3, {2, 2, 2}, {{300, 250}, {250, 300}, {300, 250}}, {0, 1, 0}, 1},
        {"ijk,ijk,ik->ijk", 3, {3, 3, 2}, {{61, 40, 30}, {61, 40, 30}, {61, 30}}, {0}, 1},
        /* the label kept is inner in the intermediate: rows of the
         * summed label, the column sums carried, on one thread (a plan
         * for two takes the chain up to 4 MiB moved, both dtypes here) */
        {"ij,ij,ij->j", 3, {2, 2, 2}, {{300, 250}, {300, 250}, {300, 250}}, {0}, 1},
        {"ij,ij,ij->j", 3, {2, 2, 2}, {{2001, 37}, {2001, 37}, {2001, 37}}, {0}, 1},
        {"ijk,ijk,ijk->jk", 3, {3, 3, 3}, {{61, 40, 30}, {61, 40, 30}, {61, 40, 30}}, {0},
         1},
        /* over 4 MiB in both dtypes: a plan for two threads splits the
         * untiled steps instead */
        {"ij,ij,ij->j", 3, {2, 2, 2}, {{600, 500}, {600, 500}, {600, 500}}, {0}, 2},
        /* a whole dot last (over 65536 terms): tiles of its chunks,
         * the last of one element, of 2, or whole */
        {"i,i,i->", 3, {1, 1, 1}, {{131073}, {131073}, {131073}}, {0}, 1},
        /* two whole chunks: each thread's tile must end inside the
         * intermediate (it ran one element past on two threads) */
        {"i,i,i->", 3, {1, 1, 1}, {{131072}, {131072}, {131072}}, {0}, 1},
        /* under two whole chunks: tiles of one chunk, on one thread */
        {"i,i,i->", 3, {1, 1, 1}, {{100000}, {100000}, {100000}}, {0}, 1},
        {"ij,ij,ij->", 3, {2, 2, 2}, {{700, 300}, {700, 300}, {700, 300}}, {0}, 1},
        {"i,i,i,i->", 4, {1, 1, 1, 1}, {{196610}, {196610}, {196610}, {196610}}, {0}, 1},
        {"ijk,ijk,ijk->", 3, {3, 3, 3}, {{64, 64, 64}, {64, 64, 64}, {64, 64, 64}}, {0}, 1},
        /* not a chain: a dot too short to go by chunks (65536 terms) */
        {"ij,ij,ij->", 3, {2, 2, 2}, {{256, 256}, {256, 256}, {256, 256}}, {0}, 0},
    };
    ts_rng r = {2718};
    for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
        const chain_case *c = &cases[ci];
        for (int dt = EIN_F32; dt <= EIN_F64; dt++) {
            size_t es = dt == EIN_F32 ? sizeof(float) : sizeof(double);
            void *data[4];
            for (int k = 0; k < c->nops; k++) {
                size_t n = 1;
                for (int d = 0; d < c->nd[k]; d++)
                    n *= (size_t)c->shape[k][d];
                data[k] = malloc(n * es);
                if (dt == EIN_F32)
                    ts_fill_f32(data[k], n, &r);
                else
                    ts_fill_f64(data[k], n, &r);
            }
            /* The result's shape: the output labels' extents. */
            const char *arrow = strstr(c->expr, "->") + 2;
            int64_t oshape[3] = {0, 0, 0};
            int ond = 0;
            size_t on = 1;
            for (const char *q = arrow; *q; q++)
                for (int k = 0; k < c->nops; k++) {
                    const char *term = c->expr;
                    for (int skip = 0; skip < k; skip++)
                        term = strchr(term, ',') + 1;
                    const char *hit = strchr(term, *q);
                    size_t len = strcspn(term, ",-");
                    if (hit && hit < term + len) {
                        oshape[ond++] = c->shape[k][hit - term];
                        on *= (size_t)oshape[ond - 1];
                        break;
                    }
                }
            void *want = malloc(on * es), *got = malloc(on * es);
            bool tiled0 = run_chain_case(c, (ein_dtype)dt, false, 1, data, want, oshape, ond);
            cr_assert(!tiled0, "%s: EIN_TILE=0 still tiled", c->expr);
            for (int threads = 1; threads <= 2; threads++) {
                memset(got, 0x7f, on * es);
                bool tiled = run_chain_case(c, (ein_dtype)dt, true, threads, data, got,
                                            oshape, ond);
                bool expect = c->tiled == 1 || (c->tiled == 2 && threads == 1);
                cr_assert_eq(tiled, expect, "%s, %d threads: tiled %d, expected %d",
                             c->expr, threads, tiled, expect);
                for (size_t e = 0; e < on; e++)
                    cr_assert(memcmp((char *)got + e * es, (char *)want + e * es, es) == 0,
                              "%s %s, %d threads: element %zu differs from the untiled run",
                              c->expr, dt == EIN_F32 ? "f32" : "f64", threads, e);
            }
            free(want);
            free(got);
            for (int k = 0; k < c->nops; k++)
                free(data[k]);
        }
    }
}

/* Plans expr on ops twice, with EIN_TILE=0 and with EIN_TILE=1 (tiles of
 * two rows, so small extents make chains), runs both and asserts the
 * same bits; the tiled plan's explain text goes to text.  `what` names
 * the call in messages.  Returns false if neither plans (both must
 * agree). */
static bool tiled_as_untiled(const char *expr, int nops, const ein_tensor *const *ops,
                             const ein_options *opt, const char *what, char *text,
                             size_t cap)
{
    ein_status st;
    setenv("EIN_TILE", "0", 1);
    ein_plan *p0 = ein_plan_new(expr, nops, ops, NULL, opt, &st);
    setenv("EIN_TILE", "1", 1);
    ein_plan *p1 = ein_plan_new(expr, nops, ops, NULL, opt, &st);
    unsetenv("EIN_TILE");
    cr_assert((p0 == NULL) == (p1 == NULL), "%s: planned once only", what);
    if (!p0)
        return false;
    ein_dtype dt;
    int64_t shape[EIN_MAX_DIMS];
    int nd = ein_plan_result(p0, &dt, shape);
    size_t n = 1, es = dt == EIN_F32 ? sizeof(float) : sizeof(double);
    for (int d = 0; d < nd; d++)
        n *= (size_t)shape[d];
    void *r0 = malloc(n * es + 1), *r1 = malloc(n * es + 1);
    memset(r0, 0x5a, n * es);
    memset(r1, 0xa5, n * es);
    ein_tensor o0 = {r0, dt, nd, shape, NULL}, o1 = {r1, dt, nd, shape, NULL};
    cr_assert_eq(ein_execute(p0, ops, &o0), EIN_OK, "%s: %s", what, ein_last_error());
    cr_assert_eq(ein_execute(p1, ops, &o1), EIN_OK, "%s: %s", what, ein_last_error());
    ein_plan_explain(p1, text, cap);
    cr_assert(memcmp(r0, r1, n * es) == 0, "%s: tiled and untiled results differ:\n%s",
              what, text);
    free(r0);
    free(r1);
    ein_plan_free(p0);
    ein_plan_free(p1);
    return true;
}

/* Chains that sum their tiled label, on random extents (2 to 40, so
 * tiles of 2 rows leave short and long last tiles, and column blocks
 * wider than one register) with EIN_TILE=1: one thread, both dtypes,
 * the bits of the untiled plan.  Most must carry their sums. */
Test(exec, summed_chains_on_random_extents)
{
    static const char *const exprs[] = {
        "ij,ij,ij->j", "ijk,ijk,ijk->jk", "ijk,ijk,ijk->k", "ij,ij,ij,ij->j",
        "ijk,ijk,ijk->kj", "ij,ij,j->j",
    };
    ts_rng r = {4242};
    int carried = 0, ran = 0;
    for (int it = 0; it < 240; it++) {
        const char *expr = exprs[it % (sizeof exprs / sizeof exprs[0])];
        const ein_dtype dt = it % 2 ? EIN_F64 : EIN_F32;
        const size_t es = dt == EIN_F32 ? sizeof(float) : sizeof(double);
        int64_t ext[3] = {ts_range(&r, 4, 40), ts_range(&r, 1, 40), ts_range(&r, 1, 12)};
        int nops = 0;
        int64_t shape[4][3];
        void *data[4];
        const ein_tensor *ops[4];
        ein_tensor t[4];
        for (const char *q = expr; *q != '-'; q++) {
            int n = 0;
            while (*q >= 'i' && *q <= 'k')
                shape[nops][n++] = ext[*q++ - 'i'];
            size_t cnt = 1;
            for (int d = 0; d < n; d++)
                cnt *= (size_t)shape[nops][d];
            data[nops] = malloc(cnt * es);
            if (dt == EIN_F32)
                ts_fill_f32(data[nops], cnt, &r);
            else
                ts_fill_f64(data[nops], cnt, &r);
            t[nops] = (ein_tensor){data[nops], dt, n, shape[nops], NULL};
            ops[nops] = &t[nops];
            nops++;
            if (*q == '-')
                break;
        }
        ein_options opt = {.num_threads = 1};
        char what[96], text[8192];
        snprintf(what, sizeof what, "%s %s %lldx%lldx%lld", expr,
                 dt == EIN_F32 ? "f32" : "f64", (long long)ext[0], (long long)ext[1],
                 (long long)ext[2]);
        cr_assert(tiled_as_untiled(expr, nops, ops, &opt, what, text, sizeof text),
                  "%s: %s", what, ein_last_error());
        carried += strstr(text, "carried") != NULL;
        ran++;
        for (int k = 0; k < nops; k++)
            free(data[k]);
    }
    cr_log_info("summed chains: %d of %d", carried, ran);
    cr_assert(carried >= ran / 2, "only %d of %d calls carried their sums", carried, ran);
}

/* Generated calls (tests/casegen.c: 1-4 operands, diagonals, ellipses,
 * broadcasting, strided and negative views, mixed dtypes, 1-3 threads)
 * planned with tiles of one element (EIN_TILE=1: two rows a tile, so
 * extents of 4 to 6 make chains) give the bits of the plans without
 * chains; enough of them must actually chain, some summing the label. */
Test(exec, generated_calls_tiled_as_untiled, .timeout = 300)
{
    cg_src src = {.seed = 31337};
    int chained = 0, carried = 0, ran = 0;
    for (int i = 0; i < 4000; i++) {
        cg_case c;
        cr_assert(cg_make(&c, &src));
        const ein_tensor *ops[CG_MAXOPS];
        for (int k = 0; k < c.nops; k++)
            ops[k] = &c.op[k].t;
        /* Every other call on one thread, where chains may sum their label. */
        ein_options opt = {.num_threads = i % 2 ? 1 : c.num_threads};
        char text[16384];
        if (tiled_as_untiled(c.expr, c.nops, ops, &opt, c.expr, text, sizeof text)) {
            chained += strstr(text, "tiled") != NULL;
            carried += strstr(text, "carried") != NULL;
            ran++;
        }
        cg_free(&c);
    }
    cr_log_info("tiled chains: %d of %d generated calls, %d with sums carried", chained,
                ran, carried);
    cr_assert(chained >= 40, "only %d of %d generated calls made a tiled chain", chained,
              ran);
}

/* A long contiguous dot ("i,i->", "ij,ij->" fused) is summed by chunks
 * whose size depends on its length alone, on both cores: 1 and 2
 * threads give the same bits, within the sum's bound of the reference,
 * and products that all round to -0 still sum to +0. */
Test(exec, long_dots_by_chunks_same_bits_on_any_thread_count)
{
    static const int64_t ns[] = {131072, 300001};
    ts_rng r = {1618};
    for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++)
        for (int dt = EIN_F32; dt <= EIN_F64; dt++) {
            const int64_t n = ns[i];
            const bool f32 = dt == EIN_F32;
            const size_t es = f32 ? sizeof(float) : sizeof(double);
            void *x = malloc((size_t)n * es), *y = malloc((size_t)n * es);
            for (int neg0 = 0; neg0 < 2; neg0++) {
                if (neg0) {   /* every product below the smallest subnormal, < 0 */
                    for (int64_t e = 0; e < n; e++) {
                        if (f32) {
                            ((float *)x)[e] = -1e-30f;
                            ((float *)y)[e] = 1e-30f;
                        } else {
                            ((double *)x)[e] = -1e-200;
                            ((double *)y)[e] = 1e-200;
                        }
                    }
                } else if (f32) {
                    ts_fill_f32(x, (size_t)n, &r);
                    ts_fill_f32(y, (size_t)n, &r);
                } else {
                    ts_fill_f64(x, (size_t)n, &r);
                    ts_fill_f64(y, (size_t)n, &r);
                }
                int64_t sh[1] = {n};
                ein_tensor X = {x, (ein_dtype)dt, 1, sh, NULL}, Y = {y, (ein_dtype)dt, 1, sh, NULL};
                const ein_tensor *ops[2] = {&X, &Y};
                double got[2];
                for (int th = 1; th <= 2; th++) {
                    ein_options opt = {.num_threads = th};
                    ein_status st;
                    ein_plan *p = ein_plan_new("i,i->", 2, ops, NULL, &opt, &st);
                    cr_assert(p, "%s", ein_last_error());
                    double res = 0;
                    ein_tensor O = {&res, (ein_dtype)dt, 0, NULL, NULL};
                    cr_assert_eq(ein_execute(p, ops, &O), EIN_OK, "%s", ein_last_error());
                    ein_plan_free(p);
                    got[th - 1] = f32 ? (double)*(float *)&res : res;
                }
                cr_assert(memcmp(&got[0], &got[1], sizeof got[0]) == 0,
                          "%s n=%lld: 1 thread %.17g, 2 threads %.17g", f32 ? "f32" : "f64",
                          (long long)n, got[0], got[1]);
                double want = 0, mag = 0;
                for (int64_t e = 0; e < n; e++) {
                    double a = f32 ? ((float *)x)[e] : ((double *)x)[e];
                    double b = f32 ? ((float *)y)[e] : ((double *)y)[e];
                    want += a * b;
                    mag += fabs(a * b);
                }
                double u = f32 ? 0x1p-24 : 0x1p-53;
                if (neg0)
                    cr_assert(got[0] == 0 && !signbit(got[0]), "%s n=%lld: %g, want +0",
                              f32 ? "f32" : "f64", (long long)n, got[0]);
                else
                    cr_assert(fabs(got[0] - want) <= 2.0 * (double)n * u * mag,
                              "%s n=%lld: %.17g, reference %.17g", f32 ? "f32" : "f64",
                              (long long)n, got[0], want);
            }
            free(x);
            free(y);
        }
}

/* ---- GEMVs with a gathered vector --------------------------------------- */

typedef struct xpack_case {
    const char *expr;
    int64_t     a[4], b[4];     /* shapes; b's first stride negated if flip */
    int         na, nb;
    bool        flip;
} xpack_case;

/* Plan and run c (its vector operand read backwards along its first
 * dimension when flip), asserting the vector was gathered (explain) and
 * the result is within the sum's bound of the reference; oom: the run's
 * first allocation fails, and there must have been one. */
static void run_xpack_case(const xpack_case *c, ein_dtype dt, ts_rng *r, bool oom)
{
    const size_t es = dt == EIN_F32 ? sizeof(float) : sizeof(double);
    int64_t na = 1, nb = 1, sb[4], acc = 1;
    for (int d = 0; d < c->na; d++)
        na *= c->a[d];
    for (int d = c->nb - 1; d >= 0; d--) {
        sb[d] = acc;
        acc *= c->b[d];
    }
    nb = acc;
    void *a = malloc((size_t)na * es), *b = malloc((size_t)nb * es);
    if (dt == EIN_F32) {
        ts_fill_f32(a, (size_t)na, r);
        ts_fill_f32(b, (size_t)nb, r);
    } else {
        ts_fill_f64(a, (size_t)na, r);
        ts_fill_f64(b, (size_t)nb, r);
    }
    char *bdata = b;
    if (c->flip) {   /* element 0 at the start of the last row */
        bdata += (size_t)((c->b[0] - 1) * sb[0]) * es;
        sb[0] = -sb[0];
    }
    ein_tensor ta = {a, dt, c->na, c->a, NULL}, tb = {bdata, dt, c->nb, c->b, sb};
    bool vec_first = c->expr[c->nb] == ',';   /* "kj,ijk->i" */
    const ein_tensor *ops[2] = {vec_first ? &tb : &ta, vec_first ? &ta : &tb};
    ein_status st;
    ein_plan *p = ein_plan_new(c->expr, 2, ops, NULL, NULL, &st);
    cr_assert(p, "%s: %s", c->expr, ein_last_error());
    char text[4096];
    ein_plan_explain(p, text, sizeof text);
    cr_assert(strstr(text, "gathered into"), "%s: the vector was not gathered:\n%s",
              c->expr, text);
    int64_t m = c->a[0];
    void *got = malloc((size_t)m * es);
    double *want = malloc((size_t)m * sizeof *want);
    int64_t n;
    ein_tensor o = {got, dt, 1, &m, NULL};
    long before = ein_alloc_count();
    if (oom)
        ein_alloc_fail_after(0);
    ein_status run = ein_execute(p, ops, &o);
    ein_alloc_fail_after(-1);
    cr_assert_eq(run, EIN_OK, "%s", ein_last_error());
    cr_assert(!oom || ein_alloc_count() > before, "%s: the run allocated nothing", c->expr);
    cr_assert_eq(ts_reference(c->expr, 2, ops, want, &n), EIN_OK);
    double tol = (dt == EIN_F32 ? 1e-5 : 1e-13) * sqrt((double)(na / m)) * 4;
    for (int64_t i = 0; i < m; i++) {
        double g = dt == EIN_F32 ? (double)((float *)got)[i] : ((double *)got)[i];
        cr_assert(fabs(g - want[i]) <= tol * (1 + fabs(want[i])),
                  "%s %s: element %lld is %.17g, want %.17g", c->expr,
                  dt == EIN_F32 ? "f32" : "f64", (long long)i, g, want[i]);
    }
    ein_plan_free(p);
    free(a);
    free(b);
    free(got);
    free(want);
}

static const xpack_case k_xpack[] = {
    {"ijk,kj->i", {37, 40, 50}, {50, 40}, 3, 2, false},
    {"kj,ijk->i", {37, 40, 50}, {50, 40}, 3, 2, false},
    {"ijk,kj->i", {20, 64, 33}, {33, 64}, 3, 2, true},
    {"ijkl,lkj->i", {9, 20, 16, 12}, {12, 16, 20}, 4, 3, false},
};

/* A GEMV summing loops that fuse in the matrix but not in the vector
 * ("ijk,kj->i") gathers the vector into the matrix's order and makes one
 * GEMV over contiguous rows: either operand first, three sums, a vector
 * walked backwards, both dtypes. */
Test(exec, gemv_with_a_gathered_vector)
{
    ts_rng r = {777};
    for (size_t i = 0; i < sizeof k_xpack / sizeof k_xpack[0]; i++)
        for (int dt = EIN_F32; dt <= EIN_F64; dt++)
            run_xpack_case(&k_xpack[i], (ein_dtype)dt, &r, false);
}

/* Without memory for the gather, the step runs one GEMV per outer sum
 * instead, with the same result.  On a new thread, whose packing buffer
 * does not exist yet, the buffer is the run's only allocation. */
static void *xpack_oom_thread(void *arg)
{
    ts_rng r = {778};
    for (int dt = EIN_F32; dt <= EIN_F64; dt++)
        run_xpack_case(&k_xpack[*(int *)arg], (ein_dtype)dt, &r, true);
    return NULL;
}

Test(exec, gemv_with_a_gathered_vector_out_of_memory)
{
    for (int i = 0; i < 2; i++) {
        pthread_t t;
        cr_assert_eq(pthread_create(&t, NULL, xpack_oom_thread, &i), 0);
        cr_assert_eq(pthread_join(t, NULL), 0);
    }
}

/* A plan from ein_plan_new keeps its workspace block from one execute to
 * the next: the second execute allocates nothing and gives the same bits
 * (the block's old contents must not leak into the result).  Plans in
 * einsum()'s cache keep none: each call allocates its own. */
Test(exec, plan_keeps_its_workspace_between_executes)
{
    ts_rng rng = {77};
    int64_t sa[2] = {30, 40}, sb[2] = {40, 50}, sc[2] = {50, 20}, so[2] = {30, 20};
    float *a = malloc(30 * 40 * sizeof *a), *b = malloc(40 * 50 * sizeof *b);
    float *c = malloc(50 * 20 * sizeof *c);
    float *o1 = malloc(30 * 20 * sizeof *o1), *o2 = malloc(30 * 20 * sizeof *o2);
    float *o3 = malloc(30 * 20 * sizeof *o3);
    cr_assert(a && b && c && o1 && o2 && o3);
    ts_fill_f32(a, 30 * 40, &rng);
    ts_fill_f32(b, 40 * 50, &rng);
    ts_fill_f32(c, 50 * 20, &rng);
    ein_tensor ta = {a, EIN_F32, 2, sa, NULL}, tb = {b, EIN_F32, 2, sb, NULL};
    ein_tensor tc = {c, EIN_F32, 2, sc, NULL};
    ein_tensor t1 = {o1, EIN_F32, 2, so, NULL}, t2 = {o2, EIN_F32, 2, so, NULL};
    ein_tensor t3 = {o3, EIN_F32, 2, so, NULL};
    const ein_tensor *ops[3] = {&ta, &tb, &tc};
    ein_status st;
    ein_plan *p = ein_plan_new("ij,jk,kl->il", 3, ops, NULL, NULL, &st);
    cr_assert(p, "%s", ein_last_error());
    cr_assert(p->workspace > 0 && p->keep_ws, "workspace %zu", p->workspace);
    cr_assert_eq(ein_execute(p, ops, &t1), EIN_OK, "%s", ein_last_error());
    cr_assert_not_null(atomic_load(&p->ws_kept), "the first execute kept no block");
    /* Scribble over the kept block: a result must not depend on it. */
    memset(atomic_load(&p->ws_kept), 0x7f, p->workspace);
    long before = ein_alloc_count();
    cr_assert_eq(ein_execute(p, ops, &t2), EIN_OK, "%s", ein_last_error());
    cr_assert_eq(ein_alloc_count(), before, "the second execute allocated");
    cr_assert(!memcmp(o1, o2, 30 * 20 * sizeof *o1), "the second execute differs");
    ein_plan_free(p);

    cr_assert_eq(einsum_v("ij,jk,kl->il", 3, ops, &t3), EIN_OK, "%s", ein_last_error());
    before = ein_alloc_count();
    cr_assert_eq(einsum_v("ij,jk,kl->il", 3, ops, &t3), EIN_OK, "%s", ein_last_error());
    cr_assert_gt(ein_alloc_count(), before, "a cached plan kept its workspace");
    cr_assert(!memcmp(o1, o3, 30 * 20 * sizeof *o1), "einsum_v differs from the plan");
    free(a); free(b); free(c); free(o1); free(o2); free(o3);
}

/* A process forked after the worker pool started has none of its
 * workers (here asleep in the parent when it forks): the child's
 * two-thread GEMM must not wait on them, must finish, and must match the
 * parent bitwise.  (The pool's fork handler, which resets its locks,
 * matters only when a lock is held at the fork; no test can time that.) */
Test(exec, two_thread_gemm_after_fork, .timeout = 60)
{
    enum { N = 320 };
    static float a[N * N], b[N * N], c1[N * N], c2[N * N];
    ts_rng r = {91};
    ts_fill_f32(a, N * N, &r);
    ts_fill_f32(b, N * N, &r);
    const int64_t sh[] = {N, N};
    ein_tensor A = {a, EIN_F32, 2, sh, NULL}, B = {b, EIN_F32, 2, sh, NULL};
    ein_tensor C1 = {c1, EIN_F32, 2, sh, NULL}, C2 = {c2, EIN_F32, 2, sh, NULL};
    const ein_tensor *ops[] = {&A, &B};
    ein_options two = {.num_threads = 2};
    ein_status st;
    ein_plan *p = ein_plan_new("ij,jk->ik", 2, ops, NULL, &two, &st);
    cr_assert(p, "%s", ein_last_error());
    cr_assert_eq(ein_execute(p, ops, &C1), EIN_OK);   /* the pool starts here */
    fflush(NULL);
    nanosleep(&(struct timespec){0, 20000000}, NULL);   /* past the workers' spin */
    pid_t pid = fork();
    cr_assert(pid >= 0, "fork failed");
    if (pid == 0) {
        alarm(30);   /* a child stuck on the parent's workers dies */
        int bad = ein_execute(p, ops, &C2) != EIN_OK ||
                  memcmp(c1, c2, sizeof c1) != 0;
        _exit(bad);
    }
    int ws = 0;
    cr_assert_eq(waitpid(pid, &ws, 0), pid);
    cr_assert(WIFEXITED(ws), "the child died (signal %d)", WIFSIGNALED(ws) ? WTERMSIG(ws) : 0);
    cr_assert_eq(WEXITSTATUS(ws), 0, "the child's GEMM failed or differs");
    ein_plan_free(p);
}
