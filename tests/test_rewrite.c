/* test_rewrite.c — the plan-level rewrites (src/rewrite.c): squeeze
 * takes extent-1 labels out of every loop nest; fusion merges loops that
 * every tensor walks as one contiguous run, and nothing else. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "support.h"

static ein_loop L(const char *name, int64_t ext, int64_t s0, int64_t s1, int64_t s2)
{
    ein_loop l = {ext, {s0, s1, s2}, ""};
    strcpy(l.name, name);
    return l;
}

Test(rewrite, fuses_contiguous_runs)
{
    /* out[i] = sum_jk a[i,j,k] b[j,k]: j,k are contiguous in a and b. */
    ein_loop loops[] = {L("i", 3, 20, 0, 1), L("j", 4, 5, 5, 0), L("k", 5, 1, 1, 0)};
    int nfree = 1;
    int n = ein_fuse_loops(loops, 3, 3, &nfree);
    cr_assert_eq(n, 2);
    cr_assert_eq(nfree, 1);
    cr_assert_str_eq(loops[1].name, "jk");
    cr_assert_eq(loops[1].extent, 20);
    cr_assert_eq(loops[1].stride[0], 1);
    cr_assert_eq(loops[1].stride[1], 1);
}

Test(rewrite, fuses_free_loops_and_chains)
{
    /* A C-contiguous copy of a 2x3x4 tensor: one loop of 24. */
    ein_loop loops[] = {L("a", 2, 12, 12, 0), L("b", 3, 4, 4, 0), L("c", 4, 1, 1, 0)};
    int nfree = 3;
    int n = ein_fuse_loops(loops, 3, 2, &nfree);
    cr_assert_eq(n, 1);
    cr_assert_eq(nfree, 1);
    cr_assert_eq(loops[0].extent, 24);
    cr_assert_str_eq(loops[0].name, "abc");
}

Test(rewrite, does_not_fuse_when_any_tensor_breaks_the_run)
{
    /* b walks j and k transposed. */
    ein_loop loops[] = {L("j", 4, 5, 1, 0), L("k", 5, 1, 4, 0)};
    int nfree = 0;
    cr_assert_eq(ein_fuse_loops(loops, 2, 3, &nfree), 2);
    /* A padded row (stride 6 for extent 5) is not contiguous. */
    ein_loop pad[] = {L("i", 4, 6, 0, 0), L("j", 5, 1, 0, 0)};
    nfree = 0;
    cr_assert_eq(ein_fuse_loops(pad, 2, 1, &nfree), 2);
    /* A free loop never fuses with a summed one. */
    ein_loop mix[] = {L("i", 4, 5, 1, 0), L("j", 5, 1, 0, 0)};
    nfree = 1;
    cr_assert_eq(ein_fuse_loops(mix, 2, 2, &nfree), 2);
    cr_assert_eq(nfree, 1);
}

Test(rewrite, zero_strides_fuse_with_zero_strides)
{
    /* A broadcast operand (stride 0 on both) does not block fusion. */
    ein_loop loops[] = {L("i", 3, 4, 0, 4), L("j", 4, 1, 0, 1)};
    int nfree = 2;
    cr_assert_eq(ein_fuse_loops(loops, 2, 3, &nfree), 1);
    cr_assert_eq(loops[0].extent, 12);
    /* But stride 0 in one and not the other does. */
    ein_loop bad[] = {L("i", 3, 4, 1, 4), L("j", 4, 1, 0, 1)};
    nfree = 2;
    cr_assert_eq(ein_fuse_loops(bad, 2, 3, &nfree), 2);
}

Test(rewrite, squeeze_marks_extent_one_labels)
{
    ein_bound b;
    memset(&b, 0, sizeof b);
    b.nlabels = EIN_ELL_BASE + 1;
    for (int l = 0; l < b.nlabels; l++)
        b.extent[l] = -1;
    b.extent[26 + 'i' - 'a'] = 5;
    b.extent[26 + 'k' - 'a'] = 1;
    b.extent[26 + 'j' - 'a'] = 0;
    b.extent[EIN_ELL_BASE] = 1;
    char names[64];
    ein_squeeze(&b, names, sizeof names);
    cr_assert_str_eq(names, "k ...0");
    cr_assert(b.live[26 + 'i' - 'a']);
    cr_assert(b.live[26 + 'j' - 'a'], "extent 0 stays: it empties the result");
    cr_assert_not(b.live[26 + 'k' - 'a']);
    cr_assert_not(b.live[0], "unused labels are not live");
}

/* A label an operand only repeats along (stride 0) leaves that operand's
 * term when another operand supplies it, and nowhere else. */
Test(rewrite, unbroadcast_drops_repeated_labels)
{
    ein_bound b;
    memset(&b, 0, sizeof b);
    int64_t stride[3 * EIN_MAX_LABELS] = {0};
    bool uses[3 * EIN_MAX_LABELS] = {false};
    b.nops = 2;
    b.nlabels = EIN_MAX_LABELS;
    b.stride = stride;
    b.uses = uses;
    for (int l = 0; l < b.nlabels; l++)
        b.extent[l] = -1;
    const int i = 26 + 'i' - 'a', j = 26 + 'j' - 'a', k = 26 + 'k' - 'a';
    const int q = 26 + 'q' - 'a';
    b.extent[i] = 3;
    b.extent[j] = 4;
    b.extent[k] = 5;
    b.extent[q] = 6;
    /* op0 [i, j, q], op1 [j, k, q]: op1 repeats along j; both along q. */
    EIN_USES(&b, 0, i) = EIN_USES(&b, 0, j) = EIN_USES(&b, 0, q) = true;
    EIN_USES(&b, 1, j) = EIN_USES(&b, 1, k) = EIN_USES(&b, 1, q) = true;
    EIN_STRIDE(&b, 0, i) = 4;
    EIN_STRIDE(&b, 0, j) = 1;
    EIN_STRIDE(&b, 1, k) = 1;
    EIN_USES(&b, 2, i) = EIN_USES(&b, 2, k) = true;
    char names[64];
    ein_unbroadcast(&b, names, sizeof names);
    cr_assert_str_eq(names, "j in op1");
    cr_assert_not(EIN_USES(&b, 1, j));
    cr_assert(EIN_USES(&b, 0, j), "op0 supplies j");
    cr_assert(EIN_USES(&b, 0, q) && EIN_USES(&b, 1, q),
              "no operand supplies q: it stays where it was written");
    cr_assert(EIN_USES(&b, 1, k) && EIN_USES(&b, 2, i) && EIN_USES(&b, 2, k));
}

/* Contractions with broadcast operands, planned through unbroadcast,
 * against the reference loop nest (which reads every operand through its
 * own strides): a summed label repeated by numpy broadcasting or by a
 * zero-stride view, a free one, one repeated by every operand, an
 * operand left with no label, and a chain of three. */
Test(rewrite, unbroadcast_plans_compute_the_same)
{
    enum { N = 37 };
    static double a[N * N], bb[N * N], c[N * N], out[N * N], ref[N * N];
    ts_rng r = {77};
    ts_fill_f64(a, N * N, &r);
    ts_fill_f64(bb, N * N, &r);
    ts_fill_f64(c, N * N, &r);
    int64_t sq[2] = {N, N}, row[2] = {1, N}, rs0[2] = {0, 1}, cs0[2] = {N, 0};
    int64_t one[2] = {1, 1};   /* every label broadcast: a scalar term */
    struct {
        const char *expr, *dropped;
        int nops;
        ein_tensor ops[3];
    } cases[] = {
        {"ij,jk->ik", "j in op1", 2,
         {{a, EIN_F64, 2, sq, NULL}, {bb, EIN_F64, 2, row, NULL}}},
        {"ij,jk->ik", "j in op1", 2,
         {{a, EIN_F64, 2, sq, NULL}, {bb, EIN_F64, 2, sq, rs0}}},
        {"ij,jk->ik", "j in op0", 2,
         {{a, EIN_F64, 2, sq, cs0}, {bb, EIN_F64, 2, sq, NULL}}},
        {"ij,ij->ij", "i in op1", 2,
         {{a, EIN_F64, 2, sq, NULL}, {bb, EIN_F64, 2, row, NULL}}},
        {"ij,ij->i", "", 2,
         {{a, EIN_F64, 2, sq, cs0}, {bb, EIN_F64, 2, sq, cs0}}},
        {"ij,ij->", "i in op1, j in op1", 2,
         {{a, EIN_F64, 2, sq, NULL}, {bb, EIN_F64, 2, one, NULL}}},
        {"ij,j->i", "j in op1", 2,
         {{a, EIN_F64, 2, sq, NULL}, {bb, EIN_F64, 1, one, NULL}}},
        {"ij,jk,kl->il", "j in op1", 3,
         {{a, EIN_F64, 2, sq, NULL}, {bb, EIN_F64, 2, row, NULL},
          {c, EIN_F64, 2, sq, NULL}}},
    };
    for (size_t t = 0; t < sizeof cases / sizeof cases[0]; t++) {
        const ein_tensor *ops[3] = {&cases[t].ops[0], &cases[t].ops[1], &cases[t].ops[2]};
        ein_status st;
        ein_plan *p = ein_plan_new(cases[t].expr, cases[t].nops, ops, NULL, NULL, &st);
        cr_assert(p, "%s: %s", cases[t].expr, ein_last_error());
        char text[8192];
        ein_plan_explain(p, text, sizeof text);
        char want[64];
        snprintf(want, sizeof want, "unbroadcast  %s (", cases[t].dropped);
        if (cases[t].dropped[0])
            cr_assert(strstr(text, want), "case %zu: %s\n%s", t, cases[t].expr, text);
        else
            cr_assert_null(strstr(text, "unbroadcast"), "case %zu:\n%s", t, text);
        ein_dtype dt;
        int64_t shape[EIN_MAX_DIMS];
        int nd = ein_plan_result(p, &dt, shape);
        ein_tensor o = {out, EIN_F64, nd, shape, NULL};
        cr_assert_eq(ein_execute(p, ops, &o), EIN_OK, "%s", ein_last_error());
        int64_t size;
        cr_assert_eq(ts_reference(cases[t].expr, cases[t].nops, ops, ref, &size), EIN_OK);
        cr_assert(ts_maxerr_f64(out, ref, (size_t)size, 1e-12, 1e-12) <= 1,
                  "case %zu: %s differs from the reference", t, cases[t].expr);
        ein_plan_free(p);
    }
}
