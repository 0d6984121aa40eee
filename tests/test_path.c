/* test_path.c — the pairwise contraction order (src/path.c): greedy by
 * FLOP cost, private labels summed first, the last step keeps exactly
 * the output's labels. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

static float buf[1];

/* Bind expr to C-order f32 views of the given 2-D/1-D shapes. */
static ein_bound bound(const char *expr, int n, const int64_t (*shapes)[3], const int *nd)
{
    ein_tensor t[8];
    const ein_tensor *ops[8];
    for (int k = 0; k < n; k++) {
        t[k] = (ein_tensor){buf, EIN_F32, nd[k], shapes[k], NULL};
        ops[k] = &t[k];
    }
    ein_expr e;
    ein_bound b;
    cr_assert_eq(ein_parse(expr, &e), EIN_OK);
    cr_assert_eq(ein_bind(&e, n, ops, NULL, &b), EIN_OK, "%s", ein_last_error());
    ein_expr_free(&e);
    char sq[64];
    ein_squeeze(&b, sq, sizeof sq);
    return b;
}

static int id(char c) { return 26 + c - 'a'; }

Test(path, chain_picks_the_cheapest_pair_first)
{
    int64_t s[][3] = {{10, 20}, {20, 30}, {30, 5}};
    int nd[] = {2, 2, 2};
    ein_bound b = bound("ij,jk,kl->il", 3, s, nd);
    ein_pathstep st[8];
    int n = ein_path_greedy(&b, st);
    cr_assert_eq(n, 2);
    cr_assert_eq(st[0].a, 1);
    cr_assert_eq(st[0].b, 2);
    cr_assert(st[0].keep[id('j')] && st[0].keep[id('l')]);
    cr_assert_not(st[0].keep[id('k')], "k is summed inside the first pair");
    cr_assert_eq(st[1].a, 0);
    cr_assert_eq(st[1].b, 1);
    cr_assert(st[1].keep[id('i')] && st[1].keep[id('l')] && !st[1].keep[id('j')]);
    ein_bound_free(&b);

    /* Same labels, other extents: now (op0 op1) is cheaper. */
    int64_t s2[][3] = {{2, 3}, {3, 40}, {40, 50}};
    b = bound("ij,jk,kl->il", 3, s2, nd);
    n = ein_path_greedy(&b, st);
    cr_assert_eq(st[0].a, 0);
    cr_assert_eq(st[0].b, 1);
    ein_bound_free(&b);
}

Test(path, private_labels_first_then_pairs)
{
    int64_t s[][3] = {{3, 4, 5}, {4, 6}};
    int nd[] = {3, 2};
    ein_bound b = bound("ijk,jl->il", 2, s, nd);
    ein_pathstep st[8];
    int n = ein_path_greedy(&b, st);
    cr_assert_eq(n, 2);
    cr_assert_eq(st[0].a, 0);
    cr_assert_eq(st[0].b, -1, "a unary sum over k");
    cr_assert(st[0].keep[id('i')] && st[0].keep[id('j')] && !st[0].keep[id('k')]);
    cr_assert_eq(st[1].b, 1);
    ein_bound_free(&b);
}

Test(path, one_operand_is_one_unary_step)
{
    int64_t s[][3] = {{4, 4}};
    int nd[] = {2};
    ein_bound b = bound("ii->i", 1, s, nd);
    ein_pathstep st[4];
    cr_assert_eq(ein_path_greedy(&b, st), 1);
    cr_assert_eq(st[0].b, -1);
    cr_assert(st[0].keep[id('i')]);
    ein_bound_free(&b);
}

Test(path, many_operands_end_in_one_term)
{
    /* 32 vectors multiplied elementwise: 31 pairwise steps. */
    char expr[200];
    int w = 0;
    int64_t s[32][3];
    int nd[32];
    for (int k = 0; k < 32; k++) {
        w += sprintf(expr + w, "%sa", k ? "," : "");
        s[k][0] = 3;
        nd[k] = 1;
    }
    sprintf(expr + w, "->a");
    ein_tensor t[32];
    const ein_tensor *ops[32];
    for (int k = 0; k < 32; k++) {
        t[k] = (ein_tensor){buf, EIN_F32, 1, s[k], NULL};
        ops[k] = &t[k];
    }
    ein_expr e;
    ein_bound b;
    cr_assert_eq(ein_parse(expr, &e), EIN_OK);
    cr_assert_eq(ein_bind(&e, 32, ops, NULL, &b), EIN_OK);
    ein_expr_free(&e);
    char sq[8];
    ein_squeeze(&b, sq, sizeof sq);
    ein_pathstep st[70];
    cr_assert_eq(ein_path_greedy(&b, st), 31);
    cr_assert(st[30].keep[id('a')]);
    ein_bound_free(&b);
}

Test(path, squeezed_labels_do_not_count)
{
    /* k has extent 1: the pair is a GEMV-sized contraction. */
    int64_t s[][3] = {{100, 50}, {50, 1}};
    int nd[] = {2, 2};
    ein_bound b = bound("ij,jk->ik", 2, s, nd);
    ein_pathstep st[4];
    cr_assert_eq(ein_path_greedy(&b, st), 1);
    cr_assert_not(st[0].keep[id('k')]);
    cr_assert(st[0].keep[id('i')]);
    ein_bound_free(&b);
}
