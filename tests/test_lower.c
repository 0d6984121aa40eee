/* test_lower.c — golden EXPLAIN text pins each planner rule (SQLite's
 * eqp.test idea): squeeze to GEMV, GEMV orientation, transposed GEMM
 * without copies, loop fusion, batch loops outside the kernel, private
 * sums first, greedy pairwise order, diagonals as strides, zero extents.
 * Plans use the generic kernel table and one thread so the text is the
 * same on every machine. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static float buf[1 << 16];

/* Build a plan for f32 C-order operands with the given shapes ("2,3");
 * a leading 't' makes a 2-D operand a transposed (column-major) view. */
static char *explain(const char *expr, int n, const char *const *shapes)
{
    static int64_t sh[8][8], st[8][8];
    ein_tensor t[8];
    const ein_tensor *ops[8];
    for (int k = 0; k < n; k++) {
        const char *s = shapes[k];
        bool tr = *s == 't';
        s += tr;
        int nd = 0;
        while (*s) {
            char *end;
            sh[k][nd++] = strtoll(s, &end, 10);
            s = *end == ',' ? end + 1 : end;
        }
        int64_t acc = 1;
        for (int d = nd - 1; d >= 0; d--) {
            st[k][d] = acc;
            acc *= sh[k][d];
        }
        if (tr) {
            st[k][0] = 1;
            st[k][1] = sh[k][0];
        }
        t[k] = (ein_tensor){buf, EIN_F32, nd, sh[k], st[k]};
        ops[k] = &t[k];
    }
    ein_options opt = {.num_threads = 1};
    ein_status status;
    const ein_ktable *kt = ein_ktable_named("generic");
    cr_assert(kt, "the generic table always exists");
    ein_plan *p = ein_plan_build(expr, n, ops, NULL, &opt, kt, false, &status);
    cr_assert(p, "%s: %s", expr, ein_last_error());
    size_t len = ein_plan_explain(p, NULL, 0);
    char *text = malloc(len + 1);
    cr_assert_eq(ein_plan_explain(p, text, len + 1), len, "explain reports its length");
    ein_plan_free(p);
    return text;
}

#define SHAPES(...) (const char *const[]){__VA_ARGS__}

static void expect_has(const char *text, const char *what)
{
    cr_assert(strstr(text, what), "plan lacks '%s':\n%s", what, text);
}

/* The plan of expr over these shapes has `what` in its explain text. */
static void expect_plan(const char *expr, int n, const char *const *shapes,
                        const char *what)
{
    char *t = explain(expr, n, shapes);
    expect_has(t, what);
    free(t);
}

Test(lower, squeeze_turns_matmul_with_k1_into_gemv)
{
    char *t = explain("ij,jk->ik", 2, SHAPES("100,50", "50,1"));
    cr_assert_str_eq(t,
        "einsum \"ij,jk->ik\"  float32, kernels generic, 1 thread\n"
        "|-- op0  float32 [100, 50] strides [50, 1]\n"
        "|-- op1  float32 [50, 1] strides [1, 1]\n"
        "|-- out  float32 [100, 1] strides [1, 1]\n"
        "|-- squeeze  k (extent 1: out of every loop nest)\n"
        "`-- step 0: GEMV  out = op0 * op1\n"
        "    |-- loops   i=100 [op0 50, op1 0, out 1] j=50 sum [op0 1, op1 1, out 0]\n"
        "    |-- kernel  gemv_f32/generic  m=i(100) k=j(50)  A=op0 rs=50 cs=1 (rows contiguous)\n"
        "    `-- cost    10000 flops, 20600 bytes\n"
        "total: 10000 flops, 20600 bytes\n");
    free(t);
}

Test(lower, headline_gemv_both_orientations)
{
    char *t = explain("ij,j->i", 2, SHAPES("100,50", "50"));
    expect_has(t, "GEMV  out = op0 * op1");
    expect_has(t, "A=op0 rs=50 cs=1 (rows contiguous)");
    free(t);
    t = explain("ij,i->j", 2, SHAPES("100,50", "100"));
    expect_has(t, "m=j(50) k=i(100)  A=op0 rs=1 cs=50 (columns contiguous)");
    free(t);
    /* The vector first: the matrix is the second operand. */
    t = explain("j,ij->i", 2, SHAPES("50", "100,50"));
    expect_has(t, "m=i(100) k=j(50)  A=op1 rs=50 cs=1 (rows contiguous)");
    free(t);
    /* A transposed view of the matrix reads columns. */
    t = explain("ji,j->i", 2, SHAPES("t50,100", "50"));
    expect_has(t, "A=op0 rs=50 cs=1");
    free(t);
}

Test(lower, gemm_reads_transposed_operands_through_strides)
{
    char *t = explain("ik,kj->ij", 2, SHAPES("t30,20", "20,10"));
    expect_has(t, "GEMM  out = op0 * op1");
    expect_has(t, "m=i(30) n=j(10) k=k(20)  A=op0[1,30] B=op1[10,1] C=out[10,1]");
    cr_assert_null(strstr(t, "workspace"), "no copy of a transposed operand:\n%s", t);
    free(t);
}

Test(lower, contiguous_labels_fuse_into_one_loop)
{
    char *t = explain("ijk,jkl->il", 2, SHAPES("3,4,5", "4,5,6"));
    expect_has(t, "k=jk(20)");
    expect_has(t, "jk=20 sum [op0 1, op1 6, out 0]");
    free(t);
    /* Not fused when one operand walks them in another order. */
    t = explain("ijk,kjl->il", 2, SHAPES("3,4,5", "5,4,6"));
    cr_assert_null(strstr(t, "jk="), "%s", t);
    cr_assert_null(strstr(t, "kj="), "%s", t);
    free(t);
}

Test(lower, batch_labels_loop_outside_the_kernel)
{
    char *t = explain("bij,bjk->bik", 2, SHAPES("4,5,6", "4,6,7"));
    expect_has(t, "b=4 outer [op0 30, op1 42, out 35]");
    expect_has(t, "gemm_f32/generic  m=i(5) n=k(7) k=j(6)");
    free(t);
}

Test(lower, private_labels_are_summed_first)
{
    char *t = explain("ijk,jl->il", 2, SHAPES("3,4,5", "4,6"));
    expect_has(t, "step 0: LOOPS  t0 = op0");
    expect_has(t, "k=5 sum");
    expect_has(t, "step 1: GEMM  out = t0 * op1");
    free(t);
}

Test(lower, greedy_pairs_by_flops)
{
    /* (op1 op2) costs 20*30*5 = 3000 multiply-adds, (op0 op1) 6000. */
    char *t = explain("ij,jk,kl->il", 3, SHAPES("10,20", "20,30", "30,5"));
    expect_has(t, "step 0: GEMM  t0 = op1 * op2");
    expect_has(t, "step 1: GEMM  out = op0 * t0");
    expect_has(t, "total: 8000 flops");
    free(t);
}

Test(lower, diagonal_is_a_stride_not_a_copy)
{
    char *t = explain("ii->i", 1, SHAPES("4,4"));
    expect_has(t, "i=4 [op0 5, out 1]");
    cr_assert_null(strstr(t, "workspace"), "%s", t);
    free(t);
}

Test(lower, dot_outer_and_zero)
{
    char *t = explain("i,i->", 2, SHAPES("5", "5"));
    expect_has(t, "DOT  out = op0 * op1");
    free(t);
    t = explain("i,j->ij", 2, SHAPES("3", "4"));
    expect_has(t, "OUTER  out = op0 * op1");
    free(t);
    t = explain("ij,jk->ik", 2, SHAPES("2,0", "0,3"));
    expect_has(t, "ZERO  out = 0");
    free(t);
    t = explain("ij,jk->ik", 2, SHAPES("0,2", "2,3"));
    expect_has(t, "no steps: the result is empty");
    free(t);
}

/* Dots of a few strided elements, one per output element of a batch
 * ("bij,bji->b" on 3 x 3 blocks), run as product loops, not as a dot
 * call each; a contiguous short dot, or too few of them, stays a dot.
 * So do long strided dots whose batch loop is contiguous everywhere. */
Test(lower, short_strided_dots_in_a_batch_are_product_loops)
{
    const char *loops = "LOOPS  out = op0 * op1", *dot = "DOT  out = op0 * op1";
    expect_plan("bij,bji->b", 2, SHAPES("100,3,3", "100,3,3"), loops);
    expect_plan("bij,bij->bj", 2, SHAPES("100,3,3", "100,3,3"), loops);
    expect_plan("bij,bij->bj", 2, SHAPES("100,20,3", "100,20,3"), dot);   /* dots of 20 */
    expect_plan("bij,bji->b", 2, SHAPES("5,3,3", "5,3,3"), dot);          /* 5 dots */
    expect_plan("bi,bi->b", 2, SHAPES("100,3", "100,3"), dot);            /* contiguous */
    /* Long strided dots side by side: rows summed into the outputs. */
    expect_plan("bn,bn->n", 2, SHAPES("1000,8", "1000,8"), loops);
    expect_plan("bn,bn->n", 2, SHAPES("20,4", "20,4"), dot);
}

/* An outer product or a GEMV whose operands stride where a loop outside
 * it is contiguous runs as product loops with that loop innermost; with
 * the kernel's own loops contiguous it stays the kernel. */
Test(lower, strided_outer_and_gemv_under_a_contiguous_loop_are_product_loops)
{
    expect_plan("ij,kj->ikj", 2, SHAPES("10,10", "10,10"), "LOOPS  out = op0 * op1");
    expect_plan("ijk,j->ik", 2, SHAPES("30,30,8", "30"), "LOOPS  out = op0 * op1");
    expect_plan("ij,kj->ijk", 2, SHAPES("10,10", "10,10"), "OUTER  out = op0 * op1");
    expect_plan("ijk,k->ij", 2, SHAPES("30,30,8", "8"), "GEMV  out = op0 * op1");
}

Test(lower, sums_over_one_operand_stay_in_the_loop_nest)
{
    /* j is summed but only op0 carries it and there is one operand. */
    char *t = explain("ij->i", 1, SHAPES("3,4"));
    expect_has(t, "LOOPS  out = op0");
    expect_has(t, "j=4 sum");
    free(t);
}

Test(lower, explain_truncates_like_snprintf)
{
    int64_t s[] = {2, 2};
    ein_tensor a = {buf, EIN_F32, 2, s, NULL};
    ein_plan *p = ein_plan_new("ij->ji", 1, (const ein_tensor *const[]){&a}, NULL, NULL, NULL);
    cr_assert(p);
    char small[10];
    size_t need = ein_plan_explain(p, small, sizeof small);
    cr_assert_gt(need, sizeof small);
    cr_assert_eq(strlen(small), sizeof small - 1);
    ein_plan_free(p);
    cr_assert_eq(ein_plan_explain(NULL, small, sizeof small), 0);
    ein_plan_free(NULL);
}

Test(lower, permuted_contraction_is_one_tensor_gemm)
{
    /* m = {a, c}, n = {e, f} (contiguous in op1 and out: fused), k = {b, d}:
     * one tensor GEMM, every loop listed once. */
    char *t = explain("abcd,dbef->acef", 2, SHAPES("4,5,6,7", "7,5,8,9"));
    expect_has(t, "GEMM  out = op0 * op1");
    expect_has(t, "tgemm_f32/generic  m=[4x6] n=[72] k=[5x7]");
    const char *names[] = {" a=4 ", " b=5 ", " c=6 ", " d=7 ", " ef=72 "};
    for (int i = 0; i < 5; i++) {
        const char *first = strstr(t, names[i]);
        cr_assert(first, "loop '%s' missing:\n%s", names[i], t);
        cr_assert_null(strstr(first + 1, names[i]), "loop '%s' listed twice:\n%s", names[i], t);
    }
    cr_assert_null(strstr(t, "outer"), "no loop runs outside the kernel:\n%s", t);
    free(t);
}

/* The path section: three or more operands only, every figure pinned but
 * the planning time (masked: it varies run to run). */
Test(lower, path_section_for_three_or_more_operands)
{
    char *t = explain("ea,fb,abcd,gc,hd->efgh", 5,
                      SHAPES("8,8", "8,8", "8,8,8,8", "8,8", "8,8"));
    char *at = strstr(t, "planned in ");
    cr_assert(at, "%s", t);
    char *end = strstr(at, " us\n");
    cr_assert(end, "%s", t);
    memmove(at + 11, end, strlen(end) + 1);   /* "planned in  us" */
    expect_has(t,
        "|-- workspace  32768 bytes of temporaries, kept from one execute to the next\n"
        "|-- path  optimal, 4 steps (FLOPs counted as opt_einsum does)\n"
        "|   |-- 0: ea,abcd->bced  [8x8],[8x8x8x8]->[8x8x8x8]  65536 flops, 16384 bytes, GEMM\n"
        "|   |-- 1: bced,hd->behc  [8x8x8x8],[8x8]->[8x8x8x8]  65536 flops, 16384 bytes, GEMM\n"
        "|   |-- 2: behc,gc->eghb  [8x8x8x8],[8x8]->[8x8x8x8]  65536 flops, 16384 bytes, GEMM\n"
        "|   |-- 3: eghb,fb->efgh  [8x8x8x8],[8x8]->[8x8x8x8]  65536 flops, into out, GEMM\n"
        "|   `-- naive 8.38861e+07 flops, optimized 262144 flops, speedup 320x, largest "
        "intermediate 16384 bytes, workspace 32768 bytes, planned in  us\n"
        "|-- step 0: GEMM  t0 = op0 * op2\n");
    free(t);
    /* Two operands: no path section. */
    t = explain("ij,jk->ik", 2, SHAPES("3,4", "4,5"));
    cr_assert_null(strstr(t, "path"), "%s", t);
    free(t);
}

/* An intermediate whose consumer keeps only labels its partner also
 * carries is laid out as the partner is: "ij,ij,ij->j" multiplies
 * elementwise in one fused loop, then sums columns of two alike matrices,
 * instead of writing a transposed temporary and taking strided dots. */
Test(lower, intermediate_laid_out_as_its_partner)
{
    char *t = explain("ij,ij,ij->j", 3, SHAPES("30,40", "30,40", "30,40"));
    expect_has(t, "|   |-- 0: ij,ij->ij");
    expect_has(t, "LOOPS  t0 = op0 * op2\n|   |-- loops   ij=1200 ");
    expect_has(t, "LOOPS  out = t0 * op1");
    free(t);
}

/* Limits: a step whose loops multiply past int64 is refused while
 * planning, and the message names the step's loops and their extents:
 * every view and the result (2^58 elements) are countable, but the GEMM
 * step loops over 2^29 * 2^29 * 2^30. */
Test(lower, overflowing_step_names_its_loops)
{
    static double one[1];
    int64_t s0[] = {(int64_t)1 << 29, (int64_t)1 << 30}, s1[] = {(int64_t)1 << 30,
                                                                 (int64_t)1 << 29};
    int64_t zero[] = {0, 0};
    ein_tensor A = {one, EIN_F64, 2, s0, zero}, B = {one, EIN_F64, 2, s1, zero};
    const ein_tensor *ops[] = {&A, &B};
    ein_status st;
    ein_plan *p = ein_plan_new("ij,jk->ik", 2, ops, NULL, NULL, &st);
    cr_assert_null(p);
    cr_assert_eq(st, EIN_ERR_OVERFLOW, "%s: %s", ein_status_str(st), ein_last_error());
    cr_assert(strstr(ein_last_error(), "i (extent 536870912) x k (extent 536870912) x "
                     "j (extent 1073741824), whose product overflows int64"), "%s",
              ein_last_error());
}
