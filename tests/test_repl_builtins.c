/* test_repl_builtins.c — covers src/cli/repl_builtins.c, repl_eval.c,
 * repl_value.c and the :commands of repl.c, in process: each built-in is
 * checked against an independent computation in this file (naive loops
 * for matmul, linear, einsum and sum; strides worked out by hand for
 * views), plus errors and :explain by substrings. */
#define _POSIX_C_SOURCE 200809L

#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "repl.h"

#ifndef EIN_TEST_TMPDIR
#define EIN_TEST_TMPDIR "/tmp"
#endif

/* ------------------------------------------------------------------ */
/* a session whose output is captured                                  */

typedef struct fixture {
    repl_session s;
    char        *out, *err;
    size_t       nout, nerr;
} fixture;

static fixture F;

static void setup(void)
{
    repl_session_init(&F.s, "test", 0);
    F.out = F.err = NULL;
}

static void teardown(void) { repl_session_free(&F.s); }

/* Run src; returns repl_exec's result with stdout/stderr text in F. */
static int run(const char *src)
{
    free(F.out);
    free(F.err);
    FILE *o = open_memstream(&F.out, &F.nout), *e = open_memstream(&F.err, &F.nerr);
    cr_assert(o && e);
    F.s.out = o;
    F.s.err = e;
    int r = repl_exec(&F.s, src);
    fclose(o);
    fclose(e);
    F.s.out = stdout;
    F.s.err = stderr;
    return r;
}

static void ok(const char *src)
{
    int r = run(src);
    cr_assert_eq(r, 0, "'%s' failed: %s", src, F.err);
}

static void fails(const char *src, const char *needle)
{
    int r = run(src);
    cr_assert_eq(r, -1, "'%s' should fail; out: %s", src, F.out);
    cr_assert(strstr(F.err, needle), "'%s': error '%s' lacks '%s'", src, F.err, needle);
}

static const rtensor *T(const char *name)
{
    rval *v = repl_lookup(&F.s.ctx, name, strlen(name));
    cr_assert(v && v->kind == RV_TENSOR, "'%s' is not a tensor", name);
    return v->t;
}

static double num(const char *name)
{
    rval *v = repl_lookup(&F.s.ctx, name, strlen(name));
    cr_assert(v && (v->kind == RV_NUM || v->kind == RV_BOOL), "'%s' is not a number", name);
    return v->num;
}

static void want_shape(const rtensor *t, int nd, const int64_t *shape)
{
    cr_assert_eq(t->ndim, nd, "rank %d, want %d", t->ndim, nd);
    for (int i = 0; i < nd; i++)
        cr_assert_eq(t->shape[i], shape[i], "extent %d: %lld, want %lld", i,
                     (long long)t->shape[i], (long long)shape[i]);
}

static void want_strides(const rtensor *t, const int64_t *st)
{
    for (int i = 0; i < t->ndim; i++)
        cr_assert_eq(t->strides[i], st[i], "stride %d: %lld, want %lld", i,
                     (long long)t->strides[i], (long long)st[i]);
}

/* Element at a multi-index, through the view's own strides. */
static double at(const rtensor *t, const int64_t *ix)
{
    int64_t off = t->offset;
    for (int i = 0; i < t->ndim; i++)
        off += ix[i] * t->strides[i];
    return t->dtype == EIN_F32 ? (double)((const float *)t->buf->data)[off]
                               : ((const double *)t->buf->data)[off];
}

static double tol(const rtensor *t) { return t->dtype == EIN_F32 ? 1e-4 : 1e-12; }

TestSuite(builtins, .init = setup, .fini = teardown);

/* ------------------------------------------------------------------ */
/* contractions against naive loops                                    */

Test(builtins, matmul_2d_and_vectors)
{
    ok("seed(3); A = randn(7, 5); B = randn(5, 4); v = randn(5); u = randn(7)\n"
       "C = matmul(A, B); Av = matmul(A, v); uA = matmul(u, A); vv = matmul(v, v); D = A @ B");
    const rtensor *A = T("A"), *B = T("B"), *v = T("v"), *u = T("u");
    const rtensor *C = T("C"), *Av = T("Av"), *uA = T("uA"), *vv = T("vv"), *D = T("D");
    want_shape(C, 2, (int64_t[]){ 7, 4 });
    want_shape(Av, 1, (int64_t[]){ 7 });
    want_shape(uA, 1, (int64_t[]){ 5 });
    want_shape(vv, 0, NULL);
    for (int64_t i = 0; i < 7; i++) {
        for (int64_t k = 0; k < 4; k++) {
            double s = 0;
            for (int64_t j = 0; j < 5; j++)
                s += at(A, (int64_t[]){ i, j }) * at(B, (int64_t[]){ j, k });
            cr_assert_float_eq(at(C, (int64_t[]){ i, k }), s, 1e-12);
            cr_assert_float_eq(at(D, (int64_t[]){ i, k }), s, 1e-12);
        }
        double s = 0;
        for (int64_t j = 0; j < 5; j++)
            s += at(A, (int64_t[]){ i, j }) * at(v, (int64_t[]){ j });
        cr_assert_float_eq(at(Av, (int64_t[]){ i }), s, 1e-12);
    }
    for (int64_t j = 0; j < 5; j++) {
        double s = 0;
        for (int64_t i = 0; i < 7; i++)
            s += at(u, (int64_t[]){ i }) * at(A, (int64_t[]){ i, j });
        cr_assert_float_eq(at(uA, (int64_t[]){ j }), s, 1e-12);
    }
    double s = 0;
    for (int64_t j = 0; j < 5; j++)
        s += at(v, (int64_t[]){ j }) * at(v, (int64_t[]){ j });
    cr_assert_float_eq(at(vv, NULL), s, 1e-12);
}

Test(builtins, matmul_batched_broadcasts_like_torch)
{
    /* (2, 1, 3, 4) @ (5, 4, 2) -> (2, 5, 3, 2); (3, 4) @ (2, 4, 6) -> (2, 3, 6);
     * (2, 3, 4) @ (4,) -> (2, 3) */
    ok("seed(5); X = randn(2, 1, 3, 4, dtype=float32); Y = randn(5, 4, 2, dtype=float32)\n"
       "Z = matmul(X, Y); M = randn(3, 4); S = randn(2, 4, 6); MS = matmul(M, S)\n"
       "V = randn(4); SV = matmul(randn(2, 3, 4), V)");
    const rtensor *X = T("X"), *Y = T("Y"), *Z = T("Z"), *M = T("M"), *S = T("S"), *MS = T("MS");
    want_shape(Z, 4, (int64_t[]){ 2, 5, 3, 2 });
    cr_assert_eq(Z->dtype, EIN_F32);
    for (int64_t a = 0; a < 2; a++)
        for (int64_t b = 0; b < 5; b++)
            for (int64_t i = 0; i < 3; i++)
                for (int64_t k = 0; k < 2; k++) {
                    double s = 0;
                    for (int64_t j = 0; j < 4; j++)
                        s += at(X, (int64_t[]){ a, 0, i, j }) * at(Y, (int64_t[]){ b, j, k });
                    cr_assert_float_eq(at(Z, (int64_t[]){ a, b, i, k }), s, 1e-4);
                }
    want_shape(MS, 3, (int64_t[]){ 2, 3, 6 });
    for (int64_t b = 0; b < 2; b++)
        for (int64_t i = 0; i < 3; i++)
            for (int64_t k = 0; k < 6; k++) {
                double s = 0;
                for (int64_t j = 0; j < 4; j++)
                    s += at(M, (int64_t[]){ i, j }) * at(S, (int64_t[]){ b, j, k });
                cr_assert_float_eq(at(MS, (int64_t[]){ b, i, k }), s, 1e-12);
            }
    want_shape(T("SV"), 2, (int64_t[]){ 2, 3 });
    fails("matmul(randn(3, 4), randn(5, 2))", "'j'");
    fails("matmul(randn(3), 2)", "must be a tensor");
    fails("matmul(array(1.0), randn(2))", "at least one dimension");
}

Test(builtins, linear_is_x_wT_plus_b)
{
    ok("seed(11); x = randn(6, 4); W = randn(3, 4); b = randn(3)\n"
       "y = linear(x, W, b); y0 = linear(x, W); yk = linear(x, W, bias=0.5)\n"
       "xb = randn(2, 6, 4); yb = linear(xb, W, bias=b); y1 = linear(randn(4), W)");
    const rtensor *x = T("x"), *W = T("W"), *b = T("b"), *y = T("y"), *y0 = T("y0"),
                  *yk = T("yk");
    want_shape(y, 2, (int64_t[]){ 6, 3 });
    for (int64_t n = 0; n < 6; n++)
        for (int64_t o = 0; o < 3; o++) {
            double s = 0;
            for (int64_t i = 0; i < 4; i++)
                s += at(x, (int64_t[]){ n, i }) * at(W, (int64_t[]){ o, i });
            cr_assert_float_eq(at(y0, (int64_t[]){ n, o }), s, 1e-12);
            cr_assert_float_eq(at(y, (int64_t[]){ n, o }), s + at(b, (int64_t[]){ o }), 1e-12);
            cr_assert_float_eq(at(yk, (int64_t[]){ n, o }), s + 0.5, 1e-12);
        }
    want_shape(T("yb"), 3, (int64_t[]){ 2, 6, 3 });
    want_shape(T("y1"), 1, (int64_t[]){ 3 });
    fails("linear(x, randn(3, 5))", "'i'");
    fails("linear(x, W, bias=\"no\")", "bias must be");
}

Test(builtins, einsum_matches_a_loop_and_reports_library_errors)
{
    ok("seed(2); A = randn(3, 4); B = randn(4, 5); C = einsum(\"ij,jk->ik\", A, B)\n"
       "t = einsum(\"ii->\", randn(3, 3)); o = einsum(\"i,j->ij\", arange(3), arange(2))");
    const rtensor *A = T("A"), *B = T("B"), *C = T("C"), *o = T("o");
    for (int64_t i = 0; i < 3; i++)
        for (int64_t k = 0; k < 5; k++) {
            double s = 0;
            for (int64_t j = 0; j < 4; j++)
                s += at(A, (int64_t[]){ i, j }) * at(B, (int64_t[]){ j, k });
            cr_assert_float_eq(at(C, (int64_t[]){ i, k }), s, 1e-12);
        }
    for (int64_t i = 0; i < 3; i++)
        for (int64_t j = 0; j < 2; j++)
            cr_assert_float_eq(at(o, (int64_t[]){ i, j }), (double)(i * j), 0);
    /* the library's message, its caret under the subscript */
    fails("einsum(\"ij,jq->iz\", A, B)", "output label 'z'");
    cr_assert(strstr(F.err, "  ij,jq->iz\n          ^"), "%s", F.err);
    fails("einsum(\"ij,j->i\", A)", "operand");
    fails("einsum(A, B)", "must be a string");
}

Test(builtins, sum_over_axes)
{
    ok("x = reshape(arange(24.0), 2, 3, 4); s = sum(x); s0 = sum(x, axis=0)\n"
       "s12 = sum(x, axis=(1, -1)); sk = sum(x, axis=1, keepdims=True); sd = x.sum(dim=2)");
    const rtensor *x = T("x");
    cr_assert_float_eq(at(T("s"), NULL), 276.0, 0);
    want_shape(T("s0"), 2, (int64_t[]){ 3, 4 });
    want_shape(T("s12"), 1, (int64_t[]){ 2 });
    want_shape(T("sk"), 3, (int64_t[]){ 2, 1, 4 });
    want_shape(T("sd"), 2, (int64_t[]){ 2, 3 });
    for (int64_t a = 0; a < 2; a++) {
        double s = 0;
        for (int64_t b = 0; b < 3; b++)
            for (int64_t c = 0; c < 4; c++)
                s += at(x, (int64_t[]){ a, b, c });
        cr_assert_float_eq(at(T("s12"), (int64_t[]){ a }), s, 0);
        for (int64_t c = 0; c < 4; c++) {
            double t = 0;
            for (int64_t b = 0; b < 3; b++)
                t += at(x, (int64_t[]){ a, b, c });
            cr_assert_float_eq(at(T("sk"), (int64_t[]){ a, 0, c }), t, 0);
        }
    }
    fails("sum(x, axis=3)", "out of range");
    fails("sum(x, axis=(0, 0))", "given twice");
}

/* ------------------------------------------------------------------ */
/* views share memory; strides worked out by hand                      */

Test(builtins, slicing_with_steps)
{
    ok("x = reshape(arange(24.0), 4, 6); a = x[::2, 1:5]; b = x[::-1, ::-2]; c = x[1]\n"
       "d = x[:, -1]; e = x[None, 1:3]; f = x[3:0:-2, 10:]; g = x[-1, -1]");
    const rtensor *x = T("x"), *a = T("a"), *b = T("b");
    want_shape(a, 2, (int64_t[]){ 2, 4 });
    want_strides(a, (int64_t[]){ 12, 1 });
    cr_assert_eq(a->buf, x->buf, "a slice is a view");
    cr_assert_float_eq(at(a, (int64_t[]){ 1, 3 }), 2 * 6 + 4, 0);
    want_shape(b, 2, (int64_t[]){ 4, 3 });
    want_strides(b, (int64_t[]){ -6, -2 });
    cr_assert_float_eq(at(b, (int64_t[]){ 0, 0 }), 23, 0);
    cr_assert_float_eq(at(b, (int64_t[]){ 3, 2 }), 1, 0);
    want_shape(T("c"), 1, (int64_t[]){ 6 });
    cr_assert_float_eq(at(T("c"), (int64_t[]){ 0 }), 6, 0);
    want_shape(T("d"), 1, (int64_t[]){ 4 });
    want_strides(T("d"), (int64_t[]){ 6 });
    cr_assert_float_eq(at(T("d"), (int64_t[]){ 3 }), 23, 0);
    want_shape(T("e"), 3, (int64_t[]){ 1, 2, 6 });
    want_shape(T("f"), 2, (int64_t[]){ 2, 0 });   /* 3:0:-2 -> rows 3, 1; 10: is empty */
    want_shape(T("g"), 0, NULL);
    cr_assert_float_eq(at(T("g"), NULL), 23, 0);
    ok("h = x[..., 0]; i = x[..., None]; j = x[1, ...]; k = x[..., 1, 2]");
    want_shape(T("h"), 1, (int64_t[]){ 4 });
    want_strides(T("h"), (int64_t[]){ 6 });
    want_shape(T("i"), 3, (int64_t[]){ 4, 6, 1 });
    want_shape(T("j"), 1, (int64_t[]){ 6 });
    want_shape(T("k"), 0, NULL);
    cr_assert_float_eq(at(T("k"), NULL), 8, 0);
    fails("x[..., ...]", "a single ellipsis");
    fails("y = ...", "only allowed inside [ ]");
    ok("s = x[::2, 1:10].strides; n = s[0]");
    cr_assert_eq(num("n"), 12);
    fails("x[4]", "out of bounds");
    fails("x[0, 0, 0]", "too many indices");
    fails("x[::0]", "step cannot be zero");
    fails("x[1.5]", "must be an integer");
}

Test(builtins, transpose_permute_squeeze_unsqueeze)
{
    ok("x = zeros(2, 3, 4); t = x.T; t2 = transpose(x); s = transpose(x, 0, 2)\n"
       "p = permute(x, 2, 0, 1); p2 = x.permute((1, 0, 2)); u = unsqueeze(x, 1)\n"
       "u2 = unsqueeze(x, -1); q = squeeze(u); q1 = squeeze(zeros(1, 3, 1), 0)");
    want_shape(T("t"), 3, (int64_t[]){ 4, 3, 2 });
    want_strides(T("t"), (int64_t[]){ 1, 4, 12 });
    want_strides(T("t2"), (int64_t[]){ 1, 4, 12 });
    want_shape(T("s"), 3, (int64_t[]){ 4, 3, 2 });
    want_shape(T("p"), 3, (int64_t[]){ 4, 2, 3 });
    want_strides(T("p"), (int64_t[]){ 1, 12, 4 });
    want_shape(T("p2"), 3, (int64_t[]){ 3, 2, 4 });
    want_shape(T("u"), 4, (int64_t[]){ 2, 1, 3, 4 });
    want_shape(T("u2"), 4, (int64_t[]){ 2, 3, 4, 1 });
    want_shape(T("q"), 3, (int64_t[]){ 2, 3, 4 });
    want_shape(T("q1"), 2, (int64_t[]){ 3, 1 });
    cr_assert_eq(T("p")->buf, T("x")->buf);
    fails("permute(x, 0, 0, 1)", "not a permutation");
    fails("squeeze(x, 1)", "extent 3, not 1");
    fails("unsqueeze(x, 5)", "out of range");
}

Test(builtins, reshape_views_where_strides_allow_else_copies)
{
    ok("x = reshape(arange(24.0), 4, 6); v = reshape(x, 2, 12); w = x.reshape(-1)\n"
       "c = reshape(x.T, 24); s = reshape(x[:, ::2], 2, 6)");
    cr_assert_eq(T("v")->buf, T("x")->buf, "C-order reshape is a view");
    want_shape(T("w"), 1, (int64_t[]){ 24 });
    cr_assert_eq(T("w")->buf, T("x")->buf);
    const rtensor *c = T("c");
    cr_assert_neq(c->buf, T("x")->buf, "a transposed reshape must copy");
    for (int64_t i = 0; i < 24; i++)   /* x.T in C order: x[i % 4, i / 4] */
        cr_assert_float_eq(at(c, (int64_t[]){ i }), (double)((i % 4) * 6 + i / 4), 0);
    /* every other column: rows of 3 elements 2 apart, rows 6 = 3*2 apart,
     * so the (4, 3) view folds into (2, 6) with strides (12, 2) */
    cr_assert_eq(T("s")->buf, T("x")->buf);
    want_strides(T("s"), (int64_t[]){ 12, 2 });
    ok("y = reshape(x[1:3], 12); y2 = reshape(x[:, 1:3], 8); y3 = reshape(x[::2], 12)");
    cr_assert_eq(T("y")->buf, T("x")->buf, "two whole rows are contiguous: a view");
    want_strides(T("y"), (int64_t[]){ 1 });
    cr_assert_eq(T("y")->offset, 6);
    cr_assert_neq(T("y2")->buf, T("x")->buf, "rows of 2 that are 6 apart: a copy");
    cr_assert_neq(T("y3")->buf, T("x")->buf, "rows of 6 that are 12 apart: a copy");
    cr_assert_float_eq(at(T("y3"), (int64_t[]){ 6 }), 12, 0);
    /* :explain says when an operand is a reshape's copy */
    ok(":explain einsum(\"i,i->\", reshape(x.T, 24), reshape(x.T, 24))");
    cr_assert(strstr(F.out, "op0 is a copy: reshape"), "%s", F.out);
    fails("reshape(x, 5, 5)", "cannot reshape 24 elements");
    fails("reshape(x, -1, -1)", "only one dimension can be -1");
}

/* ------------------------------------------------------------------ */
/* constructors                                                        */

Test(builtins, constructors_values_and_dtypes)
{
    ok("z = zeros(2, 3); o = ones((2, 3), dtype=float32); f = full(2, 2, 7.5)\n"
       "e = eye(3); e2 = eye(2, 4, dtype=\"float32\"); r = arange(5); r2 = arange(1, 2, 0.25)\n"
       "r3 = arange(5, 0, -2); l = linspace(0, 1, 5); l1 = linspace(2, 3, 1)\n"
       "k = [[1, 2], [3, 4]]; a0 = array(2.5); at = array((1, 2), dtype=float32)");
    cr_assert_eq(T("z")->dtype, EIN_F64);
    cr_assert_eq(T("o")->dtype, EIN_F32);
    cr_assert_float_eq(at(T("o"), (int64_t[]){ 1, 2 }), 1, 0);
    cr_assert_float_eq(at(T("f"), (int64_t[]){ 1, 1 }), 7.5, 0);
    for (int64_t i = 0; i < 3; i++)
        for (int64_t j = 0; j < 3; j++)
            cr_assert_float_eq(at(T("e"), (int64_t[]){ i, j }), i == j, 0);
    want_shape(T("e2"), 2, (int64_t[]){ 2, 4 });
    cr_assert_float_eq(at(T("e2"), (int64_t[]){ 1, 1 }), 1, 0);
    cr_assert_float_eq(at(T("e2"), (int64_t[]){ 1, 3 }), 0, 0);
    want_shape(T("r"), 1, (int64_t[]){ 5 });
    cr_assert_float_eq(at(T("r"), (int64_t[]){ 4 }), 4, 0);
    want_shape(T("r2"), 1, (int64_t[]){ 4 });
    cr_assert_float_eq(at(T("r2"), (int64_t[]){ 3 }), 1.75, 0);
    want_shape(T("r3"), 1, (int64_t[]){ 3 });
    cr_assert_float_eq(at(T("r3"), (int64_t[]){ 2 }), 1, 0);
    for (int64_t i = 0; i < 5; i++)
        cr_assert_float_eq(at(T("l"), (int64_t[]){ i }), 0.25 * (double)i, 0);
    cr_assert_float_eq(at(T("l1"), (int64_t[]){ 0 }), 2, 0);
    want_shape(T("k"), 2, (int64_t[]){ 2, 2 });
    cr_assert_float_eq(at(T("k"), (int64_t[]){ 1, 0 }), 3, 0);
    want_shape(T("a0"), 0, NULL);
    cr_assert_eq(T("at")->dtype, EIN_F32);
    fails("[[1, 2], [3]]", "ragged");
    fails("zeros(2, dtype=\"int8\")", "float32 or float64");
    fails("zeros(-1)", "negative dimension");
    fails("arange(0, 1, 0)", "step cannot be zero");
}

Test(builtins, random_is_seeded_and_repeatable)
{
    ok("seed(7); a = randn(1000); u = rand(1000, dtype=float32); seed(7); b = randn(1000)\n"
       "same = allclose(a, b, rtol=0, atol=0); m = sum(a) / 1000; lo = -max_abs_diff(u, u)");
    cr_assert_eq(num("same"), 1);
    /* a full reduction is a 0-d tensor, as numpy's sum over all axes is */
    cr_assert(fabs(at(T("m"), NULL)) < 0.1, "mean %g", at(T("m"), NULL));
    const rtensor *u = T("u");
    for (int64_t i = 0; i < 1000; i++) {
        double x = at(u, (int64_t[]){ i });
        cr_assert(x >= 0 && x < 1, "rand gave %g", x);
    }
    /* the generator is ours, so the stream is the same everywhere */
    ok("seed(1); r = rand(2)");
    double r0 = at(T("r"), (int64_t[]){ 0 });
    ok("seed(1); r = rand(2)");
    cr_assert_eq(at(T("r"), (int64_t[]){ 0 }), r0);
}

/* ------------------------------------------------------------------ */
/* comparisons, queries, arithmetic                                    */

Test(builtins, allclose_max_abs_diff_and_arithmetic)
{
    ok("a = [1.0, 2.0, 3.0]; b = a + 1e-7; c = a + [0, 0, 0.5]\n"
       "t1 = allclose(a, b); t2 = allclose(a, c); t3 = allclose(a, c, atol=0.5)\n"
       "d = max_abs_diff(a, c); br = allclose(zeros(2, 3), 0)\n"
       "m = [[1], [2]] * [10, 20, 30] - 1; q = (2 * a + 1) / 2; n = -a");
    cr_assert_eq(num("t1"), 1);
    cr_assert_eq(num("t2"), 0);
    cr_assert_eq(num("t3"), 1);
    cr_assert_float_eq(num("d"), 0.5, 1e-15);
    cr_assert_eq(num("br"), 1);
    const rtensor *m = T("m");
    want_shape(m, 2, (int64_t[]){ 2, 3 });
    cr_assert_float_eq(at(m, (int64_t[]){ 1, 2 }), 59, 0);
    cr_assert_float_eq(at(T("q"), (int64_t[]){ 2 }), 3.5, 0);
    cr_assert_float_eq(at(T("n"), (int64_t[]){ 0 }), -1, 0);
    ok("f = ones(2, dtype=float32) + 1.5; g = ones(2, dtype=float32) * ones(2)");
    cr_assert_eq(T("f")->dtype, EIN_F32, "a number does not promote a float32 tensor");
    cr_assert_eq(T("g")->dtype, EIN_F64);
    fails("zeros(2, 3) + zeros(4)", "do not broadcast");
    fails("\"a\" + 1", "numbers and tensors");
}

Test(builtins, queries_and_printing)
{
    ok("x = zeros(2, 3, dtype=float32)\nx.shape, x.strides, x.dtype, x.ndim, x.size");
    cr_assert_str_eq(F.out, "((2, 3), (3, 1), 'float32', 2, 6)\n");
    ok("shape(x.T), strides(x.T), dtype(x)");
    cr_assert_str_eq(F.out, "((3, 2), (1, 3), 'float32')\n");
    ok("1 / 3; 7; 1e-5; 2.0; True; None; (1,)");
    cr_assert_str_eq(F.out, "0.3333333333333333\n7\n1e-05\n2.0\nTrue\n(1,)\n");
    ok("print(\"s\", 1.5, [1.0, 2.5]); print(array(1.0))");
    cr_assert_str_eq(F.out, "s 1.5 [1.  2.5]\n1.0\n");
    ok(":set precision 3\n[1 / 3, 2]");
    cr_assert_str_eq(F.out, "array([0.333, 2.   ])\n");
    ok(":set precision 8\narange(2000)");
    cr_assert(strstr(F.out, "array([0.000e+00, 1.000e+00") || strstr(F.out, "...,"), "%s",
              F.out);
}

/* ------------------------------------------------------------------ */
/* files                                                               */

Test(builtins, save_and_load_round_trip)
{
    char path[512], src[1200];
    snprintf(path, sizeof path, "%s/repl_%ld_rt.npy", EIN_TEST_TMPDIR, (long)getpid());
    snprintf(src, sizeof src,
             "x = reshape(arange(6.0, dtype=float32), 2, 3).T; save(\"%s\", x)\n"
             "y = load(\"%s\"); same = allclose(x, y, rtol=0, atol=0)", path, path);
    ok(src);
    cr_assert_eq(num("same"), 1);
    want_shape(T("y"), 2, (int64_t[]){ 3, 2 });
    cr_assert_eq(T("y")->dtype, EIN_F32);
    unlink(path);
    fails("load(\"/no/such/dir/B.npy\")", "/no/such/dir/B.npy");
    cr_assert(strstr(F.err, "No such file or directory"), "%s", F.err);
    fails("save(\"/no/such/dir/y.npy\", zeros(2))", "/no/such/dir/");
}

/* ------------------------------------------------------------------ */
/* commands                                                            */

Test(builtins, explain_and_time_and_settings)
{
    ok("seed(7); A = randn(100, 50); w = randn(50, 1)\n"
       ":explain einsum(\"ij,jk->ik\", A, w)");
    cr_assert(strstr(F.out, "GEMV"), "%s", F.out);
    cr_assert(strstr(F.out, "total:"), "%s", F.out);
    ok(":explain squeeze(matmul(A, w))");
    cr_assert(strstr(F.out, "GEMV") && strstr(F.out, "inside"), "%s", F.out);
    ok(":explain linear(A, w.T, bias=0.5)");
    cr_assert(strstr(F.out, "bias"), "%s", F.out);
    ok(":time A @ w 3");
    cr_assert(strstr(F.out, "3 runs, median") && strstr(F.out, "GFLOP/s"), "%s", F.out);
    ok(":set threads 1; :set path greedy; :set precision 4\n:set");
    cr_assert_str_eq(F.out, "precision 4\nthreads 1\npath greedy\n");
    cr_assert_eq(F.s.ctx.opts.num_threads, 1);
    cr_assert_eq(F.s.ctx.opts.path, EIN_PATH_GREEDY);
    ok(":explain einsum(\"ij,jk,kl->il\", A, w, w.T)");
    cr_assert(strstr(F.out, "1 thread"), "%s", F.out);
    fails(":explain 1 + 2", "nothing to plan");
    fails(":time A @ w 0", "from 1 to");
    fails(":set path fastest", "path is one of");
    fails(":set colour 1", "no setting 'colour'");
    fails(":frobnicate", "no command ':frobnicate'");
    ok(":vars");
    cr_assert(strstr(F.out, "A            (100, 50)            float64  40000"), "%s", F.out);
    ok(":help");
    cr_assert(strstr(F.out, "matmul(a, b)") && strstr(F.out, ":explain EXPR"), "%s", F.out);
    ok(":help linear");
    cr_assert(strstr(F.out, "x W^T + b"), "%s", F.out);
    ok(":help time");
    cr_assert(strstr(F.out, ":time EXPR [REPS]"), "%s", F.out);
    fails(":help frobnicate", "no function or command named 'frobnicate'");
    cr_assert_eq(run(":quit"), 1);
    cr_assert_eq(run("quit()"), 1);
    cr_assert_eq(run("exit"), 1);
}

Test(builtins, errors_point_at_their_place)
{
    fails("y = 1 + nope", "name 'nope' is not defined");
    cr_assert(strstr(F.err, "  y = 1 + nope\n          ^"), "%s", F.err);
    fails("zeros(2).frob", "no attribute 'frob'");
    fails("nosuch(1)", "no function named 'nosuch'");
    fails("zeros(2, dtype=float32, colour=1)", "no keyword argument 'colour'");
    fails("eye()", "eye takes at least 1 arguments");
    fails("A = 1\nA(2)", "'A' is a variable");
    fails("matmul", "is a function");
    /* a statement after an error does not run */
    fails("a = 1; b = nope; c = 3", "nope");
    cr_assert_null(repl_lookup(&F.s.ctx, "c", 1));
    cr_assert_not_null(repl_lookup(&F.s.ctx, "a", 1));
}

/* Tuples index like Python's, numbers have no indices or attributes,
 * and a list literal must be a box of numbers. */
Test(builtins, tuples_numbers_and_literals_refuse_what_they_cannot_do)
{
    ok("s = zeros(2, 3).shape; last = s[-1]; first = s[0]; d = 5 - 3");
    cr_assert_eq(num("last"), 3);
    cr_assert_eq(num("first"), 2);
    cr_assert_eq(num("d"), 2);
    fails("s[2]", "tuple index out of range");
    fails("s[-3]", "tuple index out of range");
    fails("s[0:1]", "a tuple takes one integer index");
    fails("s[0, 1]", "a tuple takes one integer index");
    fails("x = 1; x[0]", "only tensors and tuples can be indexed");
    fails("x.shape", "only tensors have attributes ('.shape')");
    fails("zeros(2, dtype=float32, dtype=float64)", "keyword argument 'dtype' given twice");
    fails("[[1, 2], [3]]", "a ragged list: rows of 2 and 1 items");
    fails("[[1, 2], 3]", "a ragged list: every row needs the same shape");
    fails("[1, [2]]", "a ragged list: every row needs the same shape");
    fails("[s]", "a tensor literal holds numbers only");
    fails("[zeros(2)]", "a tensor literal holds numbers only");
    char deep[2 * (EIN_MAX_DIMS + 1) + 8] = "p = ";
    size_t n = strlen(deep);
    for (int i = 0; i <= EIN_MAX_DIMS; i++)
        deep[n++] = '[';
    deep[n++] = '1';
    for (int i = 0; i <= EIN_MAX_DIMS; i++)
        deep[n++] = ']';
    deep[n] = '\0';
    fails(deep, "nested too deeply");
    cr_assert_null(repl_lookup(&F.s.ctx, "p", 1));
}
