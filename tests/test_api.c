/* test_api.c — the public entry points (src/api.c): numpy's notation
 * through einsum()/einsum_v() on small tensors with hand-computed
 * results — implicit outputs, '...' in every position, diagonals and
 * traces, size-1 broadcasting, 0-d operands, empty dimensions, 33
 * operands — each also checking the result shape ein_plan_new(out=NULL)
 * reports; and every error status the public API returns, with its
 * message, leaving the output untouched. */
#define _POSIX_C_SOURCE 200809L   /* setenv, unsetenv */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "einsum.h"
#include "support.h"

#define SHAPE(...) ((const int64_t[]){__VA_ARGS__})
/* 0-d views get a non-NULL (unused) shape pointer; see scalar_null_shape. */
static const int64_t k_noshape[1] = {0};

static ein_tensor f64v(double *d, int nd, const int64_t *shape)
{
    return (ein_tensor){d, EIN_F64, nd, nd ? shape : k_noshape, NULL};
}

static ein_tensor f32v(float *d, int nd, const int64_t *shape)
{
    return (ein_tensor){d, EIN_F32, nd, nd ? shape : k_noshape, NULL};
}

/* ---- the check: shape from the plan, then einsum() into a guarded out -- */

#define GUARD 4

typedef struct expect {
    const char *expr;
    int         nops;
    const ein_tensor *const *ops;
    int         nd;
    int64_t     shape[EIN_MAX_DIMS];
    int64_t     n;
    ein_dtype   dt;
    char       *buf;          /* GUARD, n elements, GUARD */
    ein_tensor  out;
} expect;

static const uint64_t k_sent64 = 0x7ff4dead0000beefull;
static const uint32_t k_sent32 = 0x7fa0beefu;

static void sentinel(char *p, int64_t n, ein_dtype dt)
{
    for (int64_t i = 0; i < n; i++)
        if (dt == EIN_F64)
            memcpy(p + i * 8, &k_sent64, 8);
        else
            memcpy(p + i * 4, &k_sent32, 4);
}

/* The result shape and dtype from ein_plan_new(..., out = NULL), checked
 * against what the test expects; then an output buffer full of NaN
 * sentinels with guards on both sides. */
static void expect_begin(expect *x, const char *expr, int nops,
                         const ein_tensor *const *ops, int nd, const int64_t *shape,
                         ein_dtype dt)
{
    memset(x, 0, sizeof *x);
    x->expr = expr;
    x->nops = nops;
    x->ops = ops;
    x->nd = nd;
    x->dt = dt;
    x->n = 1;
    for (int d = 0; d < nd; d++) {
        x->shape[d] = shape[d];
        x->n *= shape[d];
    }
    ein_status st = EIN_OK;
    ein_plan *p = ein_plan_new(expr, nops, ops, NULL, NULL, &st);
    cr_assert(p, "%s: ein_plan_new(out = NULL): %s: %s", expr, ein_status_str(st),
              ein_last_error());
    ein_dtype rdt = 0;
    int64_t rs[EIN_MAX_DIMS];
    int32_t rnd = ein_plan_result(p, &rdt, rs);
    cr_assert_eq(rnd, nd, "%s: result rank %d, expected %d", expr, (int)rnd, nd);
    for (int d = 0; d < nd; d++)
        cr_assert_eq(rs[d], shape[d], "%s: result extent %lld in dimension %d, "
                     "expected %lld", expr, (long long)rs[d], d, (long long)shape[d]);
    cr_assert_eq(rdt, dt, "%s: result dtype %s, expected %s", expr, ein_dtype_name(rdt),
                 ein_dtype_name(dt));
    size_t es = ein_dtype_size(dt);
    x->buf = malloc((size_t)(x->n + 2 * GUARD) * es);
    cr_assert(x->buf);
    /* The NULL-output plan runs too, into a C-contiguous result. */
    sentinel(x->buf, x->n + 2 * GUARD, dt);
    x->out = (ein_tensor){x->buf + GUARD * es, dt, nd, x->shape, NULL};
    st = ein_execute(p, ops, &x->out);
    cr_assert_eq(st, EIN_OK, "%s: executing the out = NULL plan: %s: %s", expr,
                 ein_status_str(st), ein_last_error());
    ein_plan_free(p);
}

static void expect_values(const expect *x, const double *want, const char *how)
{
    size_t es = ein_dtype_size(x->dt);
    double rtol = x->dt == EIN_F64 ? 1e-12 : 1e-6;
    for (int64_t i = 0; i < x->n; i++) {
        double got = ts_get(&x->out, i);
        cr_assert(fabs(got - want[i]) <= rtol * fmax(1.0, fabs(want[i])),
                  "%s (%s): element %lld is %.17g, expected %.17g", x->expr, how,
                  (long long)i, got, want[i]);
    }
    for (int64_t i = 0; i < GUARD; i++) {
        const char *lo = x->buf + i * (int64_t)es;
        const char *hi = x->buf + (GUARD + x->n + i) * (int64_t)es;
        const void *s = x->dt == EIN_F64 ? (const void *)&k_sent64 : (const void *)&k_sent32;
        cr_assert(memcmp(lo, s, es) == 0 && memcmp(hi, s, es) == 0,
                  "%s (%s): wrote outside the output", x->expr, how);
    }
}

/* After the one-shot call: status, values, guards. */
static void expect_end(expect *x, ein_status st, const double *want)
{
    cr_assert_eq(st, EIN_OK, "%s: einsum: %s: %s", x->expr, ein_status_str(st),
                 ein_last_error());
    cr_assert_str_empty(ein_last_error(), "%s: a message after success: %s", x->expr,
                        ein_last_error());
    expect_values(x, want, "einsum()");
    free(x->buf);
}

/* EXPECT(expr, nd, shape, want, ops...): the shape the plan reports, the
 * out = NULL plan's values, then einsum(expr, &out, ops...)'s values. */
#define EXPECT_DT(dt, expr, nd, shape, want, ...)                              \
    do {                                                                       \
        const ein_tensor *const ops_[] = {__VA_ARGS__};                        \
        expect x_;                                                             \
        expect_begin(&x_, (expr), (int)(sizeof ops_ / sizeof ops_[0]), ops_,   \
                     (nd), (shape), (dt));                                     \
        expect_values(&x_, (want), "out = NULL plan");                         \
        sentinel(x_.buf, x_.n + 2 * GUARD, (dt));                              \
        ein_status st_ = einsum((expr), &x_.out, __VA_ARGS__);                 \
        expect_end(&x_, st_, (want));                                          \
    } while (0)
#define EXPECT(expr, nd, shape, want, ...) \
    EXPECT_DT(EIN_F64, expr, nd, shape, want, __VA_ARGS__)

/* Shared small operands. */
static double k_m23[] = {1, 2, 3, 4, 5, 6};          /* [[1,2,3],[4,5,6]] */
static double k_m32[] = {1, 2, 3, 4, 5, 6};          /* [[1,2],[3,4],[5,6]] */
static double k_m33[] = {1, 2, 3, 4, 5, 6, 7, 8, 9};

/* ---- implicit output ------------------------------------------------ */

Test(api, implicit_matmul)
{
    ein_tensor A = f64v(k_m23, 2, SHAPE(2, 3)), B = f64v(k_m32, 2, SHAPE(3, 2));
    static const double want[] = {22, 28, 49, 64};
    EXPECT("ij,jk", 2, SHAPE(2, 2), want, &A, &B);
    EXPECT("ij,jk->ik", 2, SHAPE(2, 2), want, &A, &B);
}

Test(api, implicit_scalar_when_every_label_repeats)
{
    ein_tensor X = f64v(k_m23, 2, SHAPE(2, 3)), Y = f64v(k_m32, 2, SHAPE(3, 2));
    static const double want[] = {86};    /* trace(XY) = 22 + 64 */
    EXPECT("ba,ab", 0, NULL, want, &X, &Y);
    EXPECT("Ba,aB", 0, NULL, want, &X, &Y);
}

Test(api, implicit_order_is_sorted_uppercase_first)
{
    ein_tensor X = f64v(k_m23, 2, SHAPE(2, 3));
    static const double same[] = {1, 2, 3, 4, 5, 6};
    static const double transposed[] = {1, 4, 2, 5, 3, 6};   /* shape (3, 2) */
    EXPECT("ab", 2, SHAPE(2, 3), same, &X);
    EXPECT("ba", 2, SHAPE(3, 2), transposed, &X);
    EXPECT("bA", 2, SHAPE(3, 2), transposed, &X);   /* -> Ab */
    EXPECT("Ab", 2, SHAPE(2, 3), same, &X);
    EXPECT("aB", 2, SHAPE(3, 2), transposed, &X);   /* -> Ba */
}

/* ---- ellipsis ------------------------------------------------------------ */

Test(api, ellipsis_batched_matmul_broadcasts_ranks)
{
    /* (5,1,2,3) x (4,3,2) -> (5,4,2,2) */
    static double a[5 * 1 * 2 * 3], b[4 * 3 * 2], want[5 * 4 * 2 * 2];
    for (int p = 0; p < 5; p++)
        for (int i = 0; i < 2; i++)
            for (int j = 0; j < 3; j++)
                a[(p * 2 + i) * 3 + j] = (p + 1) * (i + 2) - j;
    for (int q = 0; q < 4; q++)
        for (int j = 0; j < 3; j++)
            for (int k = 0; k < 2; k++)
                b[(q * 3 + j) * 2 + k] = q - j * k + 1;
    for (int p = 0; p < 5; p++)
        for (int q = 0; q < 4; q++)
            for (int i = 0; i < 2; i++)
                for (int k = 0; k < 2; k++) {
                    double s = 0;
                    for (int j = 0; j < 3; j++)
                        s += a[(p * 2 + i) * 3 + j] * b[(q * 3 + j) * 2 + k];
                    want[((p * 4 + q) * 2 + i) * 2 + k] = s;
                }
    ein_tensor A = f64v(a, 4, SHAPE(5, 1, 2, 3)), B = f64v(b, 3, SHAPE(4, 3, 2));
    EXPECT("...ij,...jk->...ik", 4, SHAPE(5, 4, 2, 2), want, &A, &B);
    EXPECT("...ij,...jk", 4, SHAPE(5, 4, 2, 2), want, &A, &B);
}

Test(api, ellipsis_positions)
{
    static double x32[] = {1, 2, 3, 4, 5, 6};   /* [[1,2],[3,4],[5,6]] */
    ein_tensor X = f64v(x32, 2, SHAPE(3, 2));
    static const double colsum[] = {9, 12};
    EXPECT("i...->...", 1, SHAPE(2), colsum, &X);

    static double y[] = {10, 20, 30};
    ein_tensor M = f64v(k_m23, 2, SHAPE(2, 3)), Y = f64v(y, 1, SHAPE(3));
    static const double prod[] = {10, 40, 90, 40, 100, 180};
    EXPECT("...,...", 2, SHAPE(2, 3), prod, &M, &Y);
    EXPECT("...,...->...", 2, SHAPE(2, 3), prod, &M, &Y);

    static const double same[] = {1, 2, 3, 4, 5, 6};
    EXPECT("ij->ij...", 2, SHAPE(2, 3), same, &M);
    EXPECT("...ij->ij", 2, SHAPE(2, 3), same, &M);   /* the ellipsis covers nothing */

    /* in the middle: out[j, m, i] = X[i, m, j] */
    static double t[2 * 3 * 4], tw[4 * 3 * 2];
    for (int i = 0; i < 2; i++)
        for (int m = 0; m < 3; m++)
            for (int j = 0; j < 4; j++) {
                t[(i * 3 + m) * 4 + j] = i * 100 + m * 10 + j;
                tw[(j * 3 + m) * 2 + i] = i * 100 + m * 10 + j;
            }
    ein_tensor T = f64v(t, 3, SHAPE(2, 3, 4));
    EXPECT("i...j->j...i", 3, SHAPE(4, 3, 2), tw, &T);
    /* an ellipsis of rank 2, summed over i: out[m, j] */
    static double sw[3 * 4];
    for (int m = 0; m < 3; m++)
        for (int j = 0; j < 4; j++)
            sw[m * 4 + j] = t[(0 * 3 + m) * 4 + j] + t[(1 * 3 + m) * 4 + j];
    EXPECT("i...->...", 2, SHAPE(3, 4), sw, &T);
}

/* ---- diagonals and traces --------------------------------------------- */

Test(api, diagonals_and_traces)
{
    ein_tensor M = f64v(k_m33, 2, SHAPE(3, 3));
    static const double trace[] = {15}, diag[] = {1, 5, 9};
    EXPECT("ii", 0, NULL, trace, &M);
    EXPECT("ii->", 0, NULL, trace, &M);
    EXPECT("ii->i", 1, SHAPE(3), diag, &M);

    static double t223[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
    ein_tensor T = f64v(t223, 3, SHAPE(2, 2, 3));
    static const double iij[] = {1, 2, 3, 10, 11, 12};
    EXPECT("iij->ij", 2, SHAPE(2, 3), iij, &T);

    static double t232[12];
    for (int i = 0; i < 12; i++)
        t232[i] = i + 1;     /* T[i,j,k] = 6i + 2j + k + 1 */
    ein_tensor U = f64v(t232, 3, SHAPE(2, 3, 2));
    static const double iji[] = {9, 13, 17};   /* T[0,j,0] + T[1,j,1] */
    EXPECT("iji->j", 1, SHAPE(3), iji, &U);
    EXPECT("iji", 1, SHAPE(3), iji, &U);
}

/* ---- broadcasting and 0-d --------------------------------------------- */

Test(api, size_one_broadcasting)
{
    static double a[] = {1, 2, 3}, x[] = {1, 2, 3, 4};
    ein_tensor A = f64v(a, 2, SHAPE(3, 1)), X = f64v(x, 1, SHAPE(4));
    static const double want[] = {10, 20, 30};   /* A[i,0] * sum x */
    EXPECT("ij,j", 1, SHAPE(3), want, &A, &X);
    EXPECT("ij,j->i", 1, SHAPE(3), want, &A, &X);

    static double r[] = {1, 10, 100, 1000};
    ein_tensor R = f64v(r, 2, SHAPE(1, 4));
    static const double outer[] = {1, 10, 100, 1000, 2, 20, 200, 2000, 3, 30, 300, 3000};
    EXPECT("ij,ij->ij", 2, SHAPE(3, 4), outer, &A, &R);
    static const double rowsum[] = {1111, 2222, 3333};
    EXPECT("ij,ij->i", 1, SHAPE(3), rowsum, &A, &R);
}

Test(api, zero_dimensional_operands)
{
    static double a = 3, b = 4, s = 2, v[] = {1, 2, 3};
    ein_tensor A = f64v(&a, 0, NULL), B = f64v(&b, 0, NULL), S = f64v(&s, 0, NULL),
               V = f64v(v, 1, SHAPE(3));
    static const double twelve[] = {12}, three[] = {3}, scaled[] = {2, 4, 6};
    EXPECT(",->", 0, NULL, twelve, &A, &B);
    EXPECT(",", 0, NULL, twelve, &A, &B);
    EXPECT("->", 0, NULL, three, &A);
    EXPECT("", 0, NULL, three, &A);
    EXPECT("i,->i", 1, SHAPE(3), scaled, &V, &S);
    EXPECT(",i", 1, SHAPE(3), scaled, &S, &V);
}

/* A 0-d operand may leave its shape NULL (only rank > 0 needs one); the
 * planner must not pass that NULL to memcpy (UBSan catches it). */
Test(api, scalar_null_shape)
{
    static double a = 3, b = 4, o = NAN;
    ein_tensor A = {&a, EIN_F64, 0, NULL, NULL}, B = {&b, EIN_F64, 0, NULL, NULL},
               O = {&o, EIN_F64, 0, NULL, NULL};
    ein_status st = einsum(",->", &O, &A, &B);
    cr_assert_eq(st, EIN_OK, "%s", ein_last_error());
    cr_assert_eq(o, 12.0);
}

/* ---- sums, transposes, scalar outputs ---------------------------------- */

Test(api, sums_and_transposes)
{
    ein_tensor M = f64v(k_m23, 2, SHAPE(2, 3));
    static const double all[] = {21}, rows[] = {6, 15}, cols[] = {5, 7, 9},
                        tr[] = {1, 4, 2, 5, 3, 6};
    EXPECT("ij->", 0, NULL, all, &M);
    EXPECT("ij->i", 1, SHAPE(2), rows, &M);
    EXPECT("ij->j", 1, SHAPE(3), cols, &M);
    EXPECT("ij->ji", 2, SHAPE(3, 2), tr, &M);

    static double u[] = {1, 2, 3}, w[] = {4, 5, 6};
    ein_tensor U = f64v(u, 1, SHAPE(3)), W = f64v(w, 1, SHAPE(3));
    static const double dot[] = {32}, outer[] = {4, 5, 6, 8, 10, 12, 12, 15, 18};
    EXPECT("i,i->", 0, NULL, dot, &U, &W);
    EXPECT("i,i", 0, NULL, dot, &U, &W);
    EXPECT("i,j", 2, SHAPE(3, 3), outer, &U, &W);
    static const double had[] = {4, 10, 18};
    EXPECT("i,i->i", 1, SHAPE(3), had, &U, &W);
}

Test(api, float32_in_float32_out)
{
    static float a[] = {1, 2, 3, 4, 5, 6}, b[] = {1, 2, 3, 4, 5, 6};
    ein_tensor A = f32v(a, 2, SHAPE(2, 3)), B = f32v(b, 2, SHAPE(3, 2));
    static const double want[] = {22, 28, 49, 64};
    EXPECT_DT(EIN_F32, "ij,jk", 2, SHAPE(2, 2), want, &A, &B);
    /* mixed f32 and f64 promote to f64 */
    ein_tensor D = f64v(k_m32, 2, SHAPE(3, 2));
    EXPECT_DT(EIN_F64, "ij,jk", 2, SHAPE(2, 2), want, &A, &D);
}

/* ---- zero-size dimensions --------------------------------------------- */

Test(api, zero_size_dimensions)
{
    static double dummy[4] = {7, 7, 7, 7};
    ein_tensor A = f64v(dummy, 2, SHAPE(2, 0)), B = f64v(dummy, 2, SHAPE(0, 3));
    static const double zeros[] = {0, 0, 0, 0, 0, 0};
    EXPECT("ij,jk->ik", 2, SHAPE(2, 3), zeros, &A, &B);
    EXPECT("ij,jk", 2, SHAPE(2, 3), zeros, &A, &B);
    ein_tensor E = f64v(dummy, 2, SHAPE(0, 3));
    EXPECT("ij->i", 1, SHAPE(0), zeros, &E);
    EXPECT("ij->j", 1, SHAPE(3), zeros, &E);
    EXPECT("ij->", 0, NULL, zeros, &E);
    EXPECT("ij->ji", 2, SHAPE(3, 0), zeros, &E);
    ein_tensor Z = f64v(NULL, 1, SHAPE(0));
    EXPECT("i,i->", 0, NULL, zeros, &Z, &Z);
    EXPECT("i,j->ij", 2, SHAPE(0, 0), zeros, &Z, &Z);
    ein_tensor M = f64v(k_m23, 2, SHAPE(2, 3));
    EXPECT("ij,k->ijk", 3, SHAPE(2, 3, 0), zeros, &M, &Z);
    EXPECT("ij,k->ij", 2, SHAPE(2, 3), zeros, &M, &Z);
}

/* ---- many operands ----------------------------------------------------- */

Test(api, thirty_three_vectors)
{
    static double v[33][3];
    double want[3] = {1, 1, 1};
    for (int k = 0; k < 33; k++) {
        v[k][0] = 1;
        v[k][1] = -1;
        v[k][2] = (k + 2.0) / (k + 1.0);   /* telescopes to 34 */
        for (int i = 0; i < 3; i++)
            want[i] *= v[k][i];
    }
    cr_assert_float_eq(want[2], 34.0, 1e-12);
    static const int64_t three[1] = {3};
    ein_tensor t[33];
    for (int k = 0; k < 33; k++)
        t[k] = f64v(v[k], 1, three);
    const char *expr = "a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a->a";
    EXPECT(expr, 1, SHAPE(3), want,
           &t[0], &t[1], &t[2], &t[3], &t[4], &t[5], &t[6], &t[7], &t[8], &t[9],
           &t[10], &t[11], &t[12], &t[13], &t[14], &t[15], &t[16], &t[17], &t[18],
           &t[19], &t[20], &t[21], &t[22], &t[23], &t[24], &t[25], &t[26], &t[27],
           &t[28], &t[29], &t[30], &t[31], &t[32]);
    /* The same through einsum_v, and a sum of that product. */
    const ein_tensor *ops[33];
    for (int k = 0; k < 33; k++)
        ops[k] = &t[k];
    double s = NAN;
    ein_tensor S = f64v(&s, 0, NULL);
    const char *sum = "a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a->";
    ein_status st = einsum_v(sum, 33, ops, &S);
    cr_assert_eq(st, EIN_OK, "%s: %s", sum, ein_last_error());
    cr_assert(fabs(s - (want[0] + want[1] + want[2])) <= 1e-12 * 34, "%s: %.17g", sum, s);
    /* 33 written, 32 given: the macro's count is checked */
    st = einsum(expr, &S, &t[0], &t[1]);
    cr_assert_eq(st, EIN_ERR_OPERANDS, "%s with 2 operands: %s", expr, ein_status_str(st));
}

/* A chain of 32 matrices, a b c ... G: checked against 31 reference
 * matrix products; the implicit output is "Ga" (uppercase first). */
Test(api, chain_of_32_matrices)
{
    static const char L[] = "abcdefghijklmnopqrstuvwxyzABCDEFG";   /* 33 labels */
    int64_t ext[33];
    for (int m = 0; m < 33; m++)
        ext[m] = 1 + (m * 7) % 4;    /* 1..4, extent-1 labels squeeze */
    ext[0] = 3;
    ext[32] = 2;
    ts_rng g = {3232};
    static double data[32][16];
    static int64_t shapes[32][2];
    ein_tensor t[32];
    const ein_tensor *ops[32];
    char expr[200], impl[200];
    size_t w = 0;
    for (int m = 0; m < 32; m++) {
        shapes[m][0] = ext[m];
        shapes[m][1] = ext[m + 1];
        ts_fill_f64(data[m], 16, &g);
        t[m] = f64v(data[m], 2, shapes[m]);
        ops[m] = &t[m];
        if (m)
            expr[w++] = ',';
        expr[w++] = L[m];
        expr[w++] = L[m + 1];
    }
    memcpy(impl, expr, w);
    impl[w] = '\0';
    snprintf(expr + w, sizeof expr - w, "->aG");

    /* want = D0 D1 ... D31, by the reference one product at a time */
    double acc[16], next[16], aacc[16], anext[16], absd[16];
    int64_t rows = ext[0], osz;
    memcpy(acc, data[0], sizeof acc);
    for (int i = 0; i < 16; i++)
        aacc[i] = fabs(data[0][i]);
    for (int m = 1; m < 32; m++) {
        ein_tensor X = f64v(acc, 2, SHAPE(rows, ext[m])), Y = t[m];
        cr_assert_eq(ts_reference("ij,jk->ik", 2, (const ein_tensor *const[]){&X, &Y},
                                  next, &osz), EIN_OK);
        for (int i = 0; i < 16; i++)
            absd[i] = fabs(data[m][i]);
        ein_tensor AX = f64v(aacc, 2, SHAPE(rows, ext[m])), AY = f64v(absd, 2, shapes[m]);
        cr_assert_eq(ts_reference("ij,jk->ik", 2, (const ein_tensor *const[]){&AX, &AY},
                                  anext, &osz), EIN_OK);
        memcpy(acc, next, (size_t)osz * sizeof(double));
        memcpy(aacc, anext, (size_t)osz * sizeof(double));
    }
    int64_t r = ext[0], c = ext[32];
    double got[16], gotT[16];
    ein_tensor O = f64v(got, 2, SHAPE(r, c)), OT = f64v(gotT, 2, SHAPE(c, r));
    ein_status st = einsum_v(expr, 32, ops, &O);
    cr_assert_eq(st, EIN_OK, "%s: %s", expr, ein_last_error());
    st = einsum_v(impl, 32, ops, &OT);
    cr_assert_eq(st, EIN_OK, "%s (implicit): %s", impl, ein_last_error());
    ein_plan *p = ein_plan_new(impl, 32, ops, NULL, NULL, &st);
    cr_assert(p, "%s", ein_last_error());
    int64_t rs[EIN_MAX_DIMS];
    cr_assert_eq(ein_plan_result(p, NULL, rs), 2);
    cr_assert(rs[0] == c && rs[1] == r, "%s: implicit shape (%lld,%lld), expected "
              "(%lld,%lld)", impl, (long long)rs[0], (long long)rs[1], (long long)c,
              (long long)r);
    ein_plan_free(p);
    for (int64_t i = 0; i < r; i++)
        for (int64_t j = 0; j < c; j++) {
            double want = acc[i * c + j], tol = 1e-12 * aacc[i * c + j] + 1e-300;
            cr_assert(fabs(got[i * c + j] - want) <= tol, "%s: (%lld,%lld) is %.17g, "
                      "expected %.17g", expr, (long long)i, (long long)j,
                      got[i * c + j], want);
            cr_assert(fabs(gotT[j * r + i] - want) <= tol, "%s: (%lld,%lld) is %.17g, "
                      "expected %.17g", impl, (long long)j, (long long)i,
                      gotT[j * r + i], want);
        }
}

/* ---- errors ------------------------------------------------------------- */

/* The status, a message, and the output as it was. */
#define EXPECT_ERR(want, needles, out, obuf, ...)                              \
    do {                                                                       \
        double before_[sizeof(obuf) / sizeof(double)];                         \
        memcpy(before_, (obuf), sizeof(obuf));                                 \
        ein_status st_ = einsum(__VA_ARGS__);                                  \
        cr_assert_eq(st_, (want), "einsum(%s): %s, expected %s: %s", #__VA_ARGS__, \
                     ein_status_str(st_), ein_status_str(want), ein_last_error()); \
        cr_assert_str_neq(ein_last_error(), "", "einsum(%s): no message", #__VA_ARGS__); \
        for (const char *const *n_ = (needles); *n_; n_++)                     \
            cr_assert(strstr(ein_last_error(), *n_), "einsum(%s): the message "\
                      "lacks \"%s\": %s", #__VA_ARGS__, *n_, ein_last_error()); \
        cr_assert(memcmp(before_, (obuf), sizeof(obuf)) == 0,                  \
                  "einsum(%s): the output changed on error", #__VA_ARGS__);    \
        (void)(out);                                                           \
    } while (0)
#define NEEDLES(...) ((const char *const[]){__VA_ARGS__, NULL})
#define NONE ((const char *const[]){NULL})

static double k_obuf[16];

static void reset_obuf(void)
{
    for (int i = 0; i < 16; i++)
        k_obuf[i] = 1000 + i;
}

Test(api, error_operand_count)
{
    reset_obuf();
    ein_tensor A = f64v(k_m23, 2, SHAPE(2, 3)), B = f64v(k_m32, 2, SHAPE(3, 2));
    ein_tensor O = f64v(k_obuf, 2, SHAPE(2, 2));
    EXPECT_ERR(EIN_ERR_OPERANDS, NEEDLES("2", "1"), O, k_obuf, "ij,jk->ik", &O, &A);
    ein_tensor O2 = f64v(k_obuf, 2, SHAPE(2, 3));
    EXPECT_ERR(EIN_ERR_OPERANDS, NEEDLES("1", "3"), O2, k_obuf, "ij->ij", &O2, &A, &B, &A);
}

Test(api, error_extents_disagree)
{
    reset_obuf();
    static double b[8];
    ein_tensor A = f64v(k_m23, 2, SHAPE(2, 3)), B = f64v(b, 2, SHAPE(4, 2));
    ein_tensor O = f64v(k_obuf, 2, SHAPE(2, 2));
    EXPECT_ERR(EIN_ERR_SHAPE, NEEDLES("'j'", "3", "4", "operand 0", "operand 1"), O,
               k_obuf, "ij,jk->ik", &O, &A, &B);
    /* a diagonal over unequal extents */
    ein_tensor D = f64v(k_obuf, 1, SHAPE(2));
    EXPECT_ERR(EIN_ERR_SHAPE, NEEDLES("'i'", "2", "3"), D, k_obuf, "ii->i", &D, &A);
    /* ellipsis dimensions that do not broadcast */
    static double c[12];
    ein_tensor C3 = f64v(c, 3, SHAPE(3, 2, 2)), C2 = f64v(c, 3, SHAPE(2, 2, 2));
    ein_tensor O3 = f64v(k_obuf, 3, SHAPE(3, 2, 2));
    EXPECT_ERR(EIN_ERR_SHAPE, NEEDLES("3", "2"), O3, k_obuf, "...ij,...jk->...ik", &O3,
               &C3, &C2);
}

Test(api, error_output_shape)
{
    reset_obuf();
    ein_tensor A = f64v(k_m23, 2, SHAPE(2, 3)), B = f64v(k_m32, 2, SHAPE(3, 2));
    ein_tensor O = f64v(k_obuf, 2, SHAPE(2, 3));
    EXPECT_ERR(EIN_ERR_SHAPE, NEEDLES("[2, 3]", "[2, 2]"), O, k_obuf, "ij,jk->ik", &O, &A, &B);
    ein_tensor O1 = f64v(k_obuf, 1, SHAPE(4));
    EXPECT_ERR(EIN_ERR_SHAPE, NEEDLES("[4]", "[2, 2]"), O1, k_obuf, "ij,jk->ik", &O1, &A, &B);
    ein_tensor O0 = f64v(k_obuf, 0, NULL);
    EXPECT_ERR(EIN_ERR_SHAPE, NONE, O0, k_obuf, "ij,jk->ik", &O0, &A, &B);
}

Test(api, error_dtype)
{
    reset_obuf();
    ein_tensor A = f64v(k_m23, 2, SHAPE(2, 3)), B = f64v(k_m32, 2, SHAPE(3, 2));
    ein_tensor O = {k_obuf, EIN_F32, 2, SHAPE(2, 2), NULL};
    EXPECT_ERR(EIN_ERR_DTYPE, NEEDLES("float64", "float32"), O, k_obuf, "ij,jk->ik", &O, &A, &B);
    static float f[6];
    ein_tensor F = f32v(f, 2, SHAPE(3, 2));
    EXPECT_ERR(EIN_ERR_DTYPE, NONE, O, k_obuf, "ij,jk->ik", &O, &A, &F);
    ein_tensor bad = A;
    bad.dtype = (ein_dtype)7;
    ein_tensor O64 = f64v(k_obuf, 2, SHAPE(2, 2));
    EXPECT_ERR(EIN_ERR_DTYPE, NEEDLES("operand 0"), O64, k_obuf, "ij,jk->ik", &O64, &bad, &B);
}

Test(api, error_output_overlaps_itself)
{
    reset_obuf();
    ein_tensor A = f64v(k_m33, 2, SHAPE(3, 3)), B = f64v(k_m33, 2, SHAPE(3, 3));
    ein_tensor O = {k_obuf, EIN_F64, 2, SHAPE(3, 3), SHAPE(0, 1)};
    EXPECT_ERR(EIN_ERR_ALIAS, NONE, O, k_obuf, "ij,jk->ik", &O, &A, &B);
    ein_tensor O2 = {k_obuf, EIN_F64, 2, SHAPE(3, 3), SHAPE(1, 1)};
    EXPECT_ERR(EIN_ERR_ALIAS, NONE, O2, k_obuf, "ij,jk->ik", &O2, &A, &B);
    /* strides 2 and 1 over extents 3: (0,2) and (1,0) are one element */
    ein_tensor O4 = {k_obuf, EIN_F64, 2, SHAPE(3, 3), SHAPE(1, 2)};
    EXPECT_ERR(EIN_ERR_ALIAS, NEEDLES("overlap"), O4, k_obuf, "ij,jk->ik", &O4, &A, &B);
    /* A zero stride on an extent-1 dimension writes one element: fine. */
    double r[3] = {0, 0, 0};
    ein_tensor R = {r, EIN_F64, 2, SHAPE(1, 3), SHAPE(0, 1)};
    ein_tensor Row = f64v(k_m23, 2, SHAPE(1, 3));
    ein_status st = einsum("ij->ij", &R, &Row);
    cr_assert_eq(st, EIN_OK, "%s", ein_last_error());
    cr_assert(r[0] == 1 && r[1] == 2 && r[2] == 3);
}

Test(api, error_bad_arguments)
{
    reset_obuf();
    ein_tensor A = f64v(k_m23, 2, SHAPE(2, 3)), B = f64v(k_m32, 2, SHAPE(3, 2));
    ein_tensor O = f64v(k_obuf, 2, SHAPE(2, 2));
    ein_tensor N = f64v(k_m32, 2, SHAPE(3, -2));
    EXPECT_ERR(EIN_ERR_ARG, NEEDLES("negative", "-2", "operand 1"), O, k_obuf, "ij,jk->ik",
               &O, &A, &N);
    EXPECT_ERR(EIN_ERR_ARG, NEEDLES("operand 1"), O, k_obuf, "ij,jk->ik", &O, &A, NULL);
    ein_tensor noshape = A;
    noshape.shape = NULL;
    EXPECT_ERR(EIN_ERR_ARG, NEEDLES("operand 0"), O, k_obuf, "ij,jk->ik", &O, &noshape, &B);
    ein_tensor nodata = A;
    nodata.data = NULL;
    EXPECT_ERR(EIN_ERR_ARG, NONE, O, k_obuf, "ij,jk->ik", &O, &nodata, &B);
    ein_tensor ONULL = O;
    ONULL.data = NULL;
    EXPECT_ERR(EIN_ERR_ARG, NONE, O, k_obuf, "ij,jk->ik", &ONULL, &A, &B);
    EXPECT_ERR(EIN_ERR_ARG, NONE, O, k_obuf, NULL, &O, &A, &B);
    ein_tensor deep = A;
    deep.ndim = EIN_MAX_DIMS + 1;
    EXPECT_ERR(EIN_ERR_ARG, NONE, O, k_obuf, "ij,jk->ik", &O, &deep, &B);
    ein_status st = einsum("ij,jk->ik", NULL, &A, &B);
    cr_assert_eq(st, EIN_ERR_ARG, "NULL output: %s", ein_status_str(st));
    cr_assert(strstr(ein_last_error(), "output"), "%s", ein_last_error());
}

Test(api, error_rank_and_syntax)
{
    reset_obuf();
    ein_tensor A = f64v(k_m23, 2, SHAPE(2, 3)), B = f64v(k_m32, 2, SHAPE(3, 2));
    ein_tensor O = f64v(k_obuf, 2, SHAPE(2, 2));
    EXPECT_ERR(EIN_ERR_RANK, NEEDLES("operand 0"), O, k_obuf, "ijk,jk->ik", &O, &A, &B);
    EXPECT_ERR(EIN_ERR_SYNTAX, NEEDLES("column 8", "'z'"), O, k_obuf, "ij,jk->iz", &O, &A, &B);
    cr_assert_eq(ein_last_error_offset(), 8);
    ein_tensor A3 = f64v(k_m23, 3, SHAPE(1, 2, 3));
    EXPECT_ERR(EIN_ERR_RANK, NONE, O, k_obuf, "...ij,...jk->ik", &O, &A3, &B);
}

/* Extents whose product overflows: refused while planning, before any
 * data is read (the data here is one element behind zero strides). */
Test(api, error_overflow)
{
    reset_obuf();
    static double tiny[1] = {1};
    const int64_t big = (int64_t)1 << 40;
    ein_tensor H = {tiny, EIN_F64, 2, SHAPE(big, big), SHAPE(0, 0)};
    ein_tensor O = f64v(k_obuf, 0, NULL);
    /* (einsum() itself on this view: see overflowing_view_through_einsum) */
    ein_status st;
    const ein_tensor *ops[1] = {&H};
    cr_assert_null(ein_plan_new("ij->", 1, ops, NULL, NULL, &st));
    cr_assert_eq(st, EIN_ERR_OVERFLOW, "%s: %s", ein_status_str(st), ein_last_error());
    cr_assert(strstr(ein_last_error(), "overflows"), "%s", ein_last_error());
    cr_assert(strstr(ein_last_error(), "1099511627776"), "the message shows the shape: %s",
              ein_last_error());

    /* 2^62 elements of 8 bytes: the byte count overflows */
    const int64_t b31 = (int64_t)1 << 31;
    ein_tensor G = {tiny, EIN_F64, 2, SHAPE(b31, b31), SHAPE(0, 0)};
    EXPECT_ERR(EIN_ERR_OVERFLOW, NONE, O, k_obuf, "ij->", &O, &G);

    /* a result of 2^80 elements */
    const int64_t b20 = (int64_t)1 << 20, b29 = (int64_t)1 << 29, b30 = (int64_t)1 << 30;
    ein_tensor Q = {tiny, EIN_F64, 2, SHAPE(b20, b20), SHAPE(0, 0)};
    const ein_tensor *qq[2] = {&Q, &Q};
    cr_assert_null(ein_plan_new("ij,kl->ijkl", 2, qq, NULL, NULL, &st));
    cr_assert_eq(st, EIN_ERR_OVERFLOW, "ij,kl->ijkl: %s: %s", ein_status_str(st),
                 ein_last_error());
    /* every view and the result are countable, but the one GEMM step
     * loops over 2^29 * 2^30 * 2^29 = 2^88 (i, j, k): planned only */
    ein_tensor P0 = {tiny, EIN_F64, 2, SHAPE(b29, b30), SHAPE(0, 0)};
    ein_tensor P1 = {tiny, EIN_F64, 2, SHAPE(b30, b29), SHAPE(0, 0)};
    ein_tensor PO = {tiny, EIN_F64, 2, SHAPE(b29, b29), NULL};
    const ein_tensor *pp[2] = {&P0, &P1};
    ein_plan *p = ein_plan_new("ij,jk->ik", 2, pp, &PO, NULL, &st);
    cr_assert_null(p, "a plan that loops 2^88 times was built");
    cr_assert_eq(st, EIN_ERR_OVERFLOW, "ij,jk->ik over 2^88: %s: %s", ein_status_str(st),
                 ein_last_error());

    /* a stride whose reach passes int64 bytes */
    ein_tensor S = {tiny, EIN_F64, 1, SHAPE(4), SHAPE(INT64_MAX / 2)};
    EXPECT_ERR(EIN_ERR_OVERFLOW, NONE, O, k_obuf, "i->", &O, &S);
}

/* The same [2^40, 2^40] view through the one-shot einsum(): the plan
 * cache builds its key before anything validated the view, and must not
 * overflow a signed product doing so (UBSan catches it). */
Test(api, overflowing_view_through_einsum)
{
    reset_obuf();
    static double tiny[1] = {1};
    const int64_t big = (int64_t)1 << 40;
    ein_tensor H = {tiny, EIN_F64, 2, SHAPE(big, big), SHAPE(0, 0)};
    ein_tensor O = f64v(k_obuf, 0, NULL);
    EXPECT_ERR(EIN_ERR_OVERFLOW, NONE, O, k_obuf, "ij->", &O, &H);
}

/* Status names and dtype helpers the messages use. */
Test(api, status_and_dtype_names)
{
    for (int s = EIN_OK; s <= EIN_ERR_PLAN; s++)
        cr_assert_str_neq(ein_status_str((ein_status)s), "unknown status", "status %d", s);
    cr_assert_eq(ein_dtype_size(EIN_F32), 4);
    cr_assert_eq(ein_dtype_size(EIN_F64), 8);
    cr_assert_eq(ein_dtype_size((ein_dtype)9), 0);
    cr_assert_str_eq(ein_dtype_name(EIN_F64), "float64");
    ein_plan_free(NULL);
    cr_assert_eq(ein_plan_result(NULL, NULL, NULL), -1);
}

/* An output whose strides interleave without meeting: shape (3, 3),
 * strides (2, -3) visits 0, 2, 4 / -3, -1, 1 / -6, -4, -2, nine distinct
 * elements.  The quick |stride| rule cannot tell (3 <= 2*2); the exact
 * test for small outputs accepts it. */
Test(api, interleaved_output_accepted)
{
    double buf[11];
    for (int i = 0; i < 11; i++)
        buf[i] = NAN;
    ein_tensor A = f64v(k_m33, 2, SHAPE(3, 3));
    ein_tensor O = {buf + 6, EIN_F64, 2, SHAPE(3, 3), SHAPE(2, -3)};
    ein_status st = einsum("ij->ij", &O, &A);
    cr_assert_eq(st, EIN_OK, "%s: %s", ein_status_str(st), ein_last_error());
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++)
            cr_assert_eq(buf[6 + 2 * i - 3 * j], k_m33[3 * i + j], "(%d,%d)", i, j);
}

/* The first line of a fresh plan's explanation, which names its thread
 * cap ("1 thread" or "up to N threads"), under options opt. */
static void plan_head(const ein_options *opt, char *line, size_t cap)
{
    ein_tensor A = f64v(k_m23, 2, SHAPE(2, 3)), B = f64v(k_m32, 2, SHAPE(3, 2));
    const ein_tensor *ops[] = {&A, &B};
    ein_status st;
    ein_plan *p = ein_plan_new("ij,jk->ik", 2, ops, NULL, opt, &st);
    cr_assert(p, "%s", ein_last_error());
    char buf[4096];
    ein_plan_explain(p, buf, sizeof buf);
    ein_plan_free(p);
    size_t n = strcspn(buf, "\n");
    cr_assert(n < cap);
    memcpy(line, buf, n);
    line[n] = '\0';
}

/* EIN_NUM_THREADS caps a plan's threads unless ein_options.num_threads
 * does; anything but a whole number 1..1024 is ignored, as if unset. */
Test(api, thread_count_from_options_and_environment)
{
    char def[256], got[256];
    unsetenv("EIN_NUM_THREADS");
    plan_head(NULL, def, sizeof def);
    cr_assert(strstr(def, " thread"), "%s", def);

    setenv("EIN_NUM_THREADS", "1", 1);
    plan_head(NULL, got, sizeof got);
    cr_assert(strstr(got, ", 1 thread"), "EIN_NUM_THREADS=1: %s", got);
    setenv("EIN_NUM_THREADS", "3", 1);
    plan_head(NULL, got, sizeof got);
    cr_assert(strstr(got, "up to 3 threads"), "EIN_NUM_THREADS=3: %s", got);
    ein_options two = {.num_threads = 2}, dflt = {.num_threads = 0};
    plan_head(&two, got, sizeof got);
    cr_assert(strstr(got, "up to 2 threads"), "options over EIN_NUM_THREADS: %s", got);
    plan_head(&dflt, got, sizeof got);
    cr_assert(strstr(got, "up to 3 threads"), "num_threads 0 defers to the environment: %s",
              got);

    const char *ignored[] = {"", "0", "-2", "4x", "two", " ", "1025", "99999999999999999999"};
    for (size_t i = 0; i < sizeof ignored / sizeof *ignored; i++) {
        setenv("EIN_NUM_THREADS", ignored[i], 1);
        plan_head(NULL, got, sizeof got);
        cr_assert_str_eq(got, def, "EIN_NUM_THREADS=\"%s\" is not ignored", ignored[i]);
    }
    unsetenv("EIN_NUM_THREADS");
}

/* ein_plan_new's own arguments: a negative thread count and an operand
 * count out of range are refused with a message naming the value. */
Test(api, error_plan_arguments)
{
    ein_tensor A = f64v(k_m23, 2, SHAPE(2, 3)), B = f64v(k_m32, 2, SHAPE(3, 2));
    const ein_tensor *ops[] = {&A, &B};
    ein_status st = EIN_OK;
    ein_options neg = {.num_threads = -1};
    cr_assert_null(ein_plan_new("ij,jk->ik", 2, ops, NULL, &neg, &st));
    cr_assert_eq(st, EIN_ERR_ARG, "%s", ein_status_str(st));
    cr_assert(strstr(ein_last_error(), "num_threads is -1"), "%s", ein_last_error());
    const int bad[] = {-1, EIN_MAX_OPERANDS + 1};
    for (int i = 0; i < 2; i++) {
        st = EIN_OK;
        cr_assert_null(ein_plan_new("ij,jk->ik", bad[i], ops, NULL, NULL, &st));
        cr_assert_eq(st, EIN_ERR_OPERANDS, "nops %d: %s", bad[i], ein_status_str(st));
        char want[32];
        snprintf(want, sizeof want, "%d operands", bad[i]);
        cr_assert(strstr(ein_last_error(), want), "nops %d: %s", bad[i], ein_last_error());
    }
}
