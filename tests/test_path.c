/* test_path.c — the pairwise contraction order (src/path.c): greedy by
 * opt_einsum's rule, private labels summed first, the last step keeps
 * exactly the output's labels; optimal against a brute-force enumeration
 * of every pairwise order; every algorithm's plan against the reference
 * evaluator; explicit paths and their validation; memory_limit. */
#include <criterion/criterion.h>
#include <math.h>
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
    cr_assert(ein_ls_has(st[0].keep, id('j')) && ein_ls_has(st[0].keep, id('l')));
    cr_assert_not(ein_ls_has(st[0].keep, id('k')), "k is summed inside the first pair");
    cr_assert_eq(st[1].a, 0);
    cr_assert_eq(st[1].b, 1);
    cr_assert(ein_ls_has(st[1].keep, id('i')) && ein_ls_has(st[1].keep, id('l')) && !ein_ls_has(st[1].keep, id('j')));
    ein_bound_free(&b);

    /* Same labels, other extents.  opt_einsum's (and numpy's) greedy rule
     * takes the pair whose result shrinks the total size most: (op1 op2)
     * turns 120 + 2000 elements into 150, though (op0 op1) first costs
     * fewer FLOPs (8480 against 12600), which optimal finds. */
    int64_t s2[][3] = {{2, 3}, {3, 40}, {40, 50}};
    b = bound("ij,jk,kl->il", 3, s2, nd);
    n = ein_path_greedy(&b, st);
    cr_assert_eq(st[0].a, 1);
    cr_assert_eq(st[0].b, 2);
    ein_options o = {.path = EIN_PATH_OPTIMAL};
    ein_pathinfo info;
    cr_assert_eq(ein_path_find(&b, &o, 0, st, &n, &info), EIN_OK);
    cr_assert_eq(st[0].a, 0);
    cr_assert_eq(st[0].b, 1);
    cr_assert_eq(info.flops, 8480);
    cr_assert_eq(info.naive_flops, 36000, "one loop nest: 2*3*40*50 * (2 + 1)");
    o.path = EIN_PATH_GREEDY;
    cr_assert_eq(ein_path_find(&b, &o, 0, st, &n, &info), EIN_OK);
    cr_assert_eq(info.flops, 12600, "numpy.einsum_path greedy reports 1.260e+04");
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
    cr_assert(ein_ls_has(st[0].keep, id('i')) && ein_ls_has(st[0].keep, id('j')) && !ein_ls_has(st[0].keep, id('k')));
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
    cr_assert(ein_ls_has(st[0].keep, id('i')));
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
    cr_assert(ein_ls_has(st[30].keep, id('a')));
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
    cr_assert_not(ein_ls_has(st[0].keep, id('k')));
    cr_assert(ein_ls_has(st[0].keep, id('i')));
    ein_bound_free(&b);
}

/* ---- random expressions against brute force ------------------------------ */

#include "support.h"

/* A random expression over nops operands in which every label is carried
 * by two or more operands, or by one and the output (so no operand has a
 * private label and the search is purely pairwise), some labels by three
 * or more (hyperedges), some operands sharing nothing (outer products). */
typedef struct rexpr {
    char    text[128];
    int     nops;
    int     nd[8];
    int64_t shape[8][8];
    int64_t ext[26];
    bool    has[8][26];
    bool    out[26];
    int     nl;
} rexpr;

static void random_expr(ts_rng *r, int nops, rexpr *x)
{
    memset(x, 0, sizeof *x);
    x->nops = nops;
    x->nl = (int)ts_range(r, 3, 8);
    for (int l = 0; l < x->nl; l++) {
        x->ext[l] = ts_range(r, 2, 5);
        int carriers = (int)ts_range(r, 1, 3);
        if (carriers == 1)
            x->out[l] = true;
        else
            x->out[l] = ts_range(r, 0, 4) == 0;
        for (int c = 0; c < carriers; c++) {
            int k = (int)ts_range(r, 0, nops - 1);
            for (int tries = 0; tries < nops && x->has[k][l]; tries++)
                k = (k + 1) % nops;
            x->has[k][l] = true;
        }
    }
    /* An operand left without labels gets a fresh output label. */
    int w = 0;
    for (int k = 0; k < nops; k++) {
        int n = 0;
        for (int l = 0; l < x->nl; l++)
            n += x->has[k][l];
        if (n == 0 && x->nl < 26) {
            int l = x->nl++;
            x->ext[l] = ts_range(r, 2, 4);
            x->has[k][l] = x->out[l] = true;
        }
    }
    for (int k = 0; k < nops; k++) {
        if (k)
            x->text[w++] = ',';
        for (int l = 0; l < x->nl; l++)
            if (x->has[k][l]) {
                x->shape[k][x->nd[k]++] = x->ext[l];
                x->text[w++] = (char)('a' + l);
            }
    }
    x->text[w++] = '-';
    x->text[w++] = '>';
    for (int l = 0; l < x->nl; l++)
        if (x->out[l])
            x->text[w++] = (char)('a' + l);
    x->text[w] = '\0';
}

/* The cheapest of every pairwise order, outer products included, under
 * opt_einsum's FLOP count, by plain recursion over bool label sets
 * (nothing shared with path.c's bitsets or its DP). */
static double brute(const rexpr *x, bool (*t)[26], bool *alive, int left)
{
    if (left == 1)
        return 0;
    double best = INFINITY;
    for (int i = 0; i < x->nops; i++)
        for (int j = i + 1; j < x->nops; j++) {
            if (!alive[i] || !alive[j])
                continue;
            bool keep[26], sav[26];
            double all = 1, kept = 1;
            bool summed = false;
            for (int l = 0; l < x->nl; l++) {
                bool u = t[i][l] || t[j][l];
                bool need = x->out[l];
                for (int o = 0; o < x->nops && !need; o++)
                    need = alive[o] && o != i && o != j && t[o][l];
                keep[l] = u && need;
                if (u)
                    all *= (double)x->ext[l];
                if (keep[l])
                    kept *= (double)x->ext[l];
                summed |= u && !need;
            }
            (void)kept;
            double f = all * (summed ? 2 : 1);
            memcpy(sav, t[i], sizeof sav);
            memcpy(t[i], keep, sizeof keep);
            alive[j] = false;
            double rest = brute(x, t, alive, left - 1);
            alive[j] = true;
            memcpy(t[i], sav, sizeof sav);
            if (f + rest < best)
                best = f + rest;
        }
    return best;
}

static ein_bound bind_rexpr(const rexpr *x)
{
    ein_tensor t[8];
    const ein_tensor *ops[8];
    for (int k = 0; k < x->nops; k++) {
        t[k] = (ein_tensor){buf, EIN_F32, x->nd[k], x->shape[k], NULL};
        ops[k] = &t[k];
    }
    ein_expr e;
    ein_bound b;
    cr_assert_eq(ein_parse(x->text, &e), EIN_OK, "%s: %s", x->text, ein_last_error());
    cr_assert_eq(ein_bind(&e, x->nops, ops, NULL, &b), EIN_OK, "%s: %s", x->text,
                 ein_last_error());
    ein_expr_free(&e);
    char sq[256];
    ein_squeeze(&b, sq, sizeof sq);
    return b;
}

/* A path is valid when it contracts every term exactly once into one and
 * each result keeps exactly the labels still needed. */
static void check_valid(const ein_bound *b, const ein_pathstep *st, int n,
                        const char *what, const char *text)
{
    int nops = b->nops;
    bool alive[EIN_MAX_OPERANDS];
    lset t[EIN_MAX_OPERANDS];
    for (int k = 0; k < nops; k++) {
        alive[k] = true;
        t[k] = (lset){{0, 0}};
        for (int l = 0; l < b->nlabels; l++)
            if (b->live[l] && EIN_USES(b, k, l))
                t[k].w[l >> 6] |= (uint64_t)1 << (l & 63);
    }
    int count = nops;
    for (int s = 0; s < n; s++) {
        int a = st[s].a, c = st[s].b;
        cr_assert(a >= 0 && a < nops && alive[a], "%s %s: step %d uses term %d", what, text, s, a);
        if (c >= 0) {
            cr_assert(c < nops && alive[c] && c != a, "%s %s: step %d uses term %d", what,
                      text, s, c);
        }
        for (int l = 0; l < b->nlabels; l++) {
            bool u = ein_ls_has(t[a], l) || (c >= 0 && ein_ls_has(t[c], l));
            bool need = b->live[l] && EIN_USES(b, nops, l);
            for (int o = 0; o < nops && !need; o++)
                need = alive[o] && o != a && o != c && ein_ls_has(t[o], l);
            cr_assert_eq(ein_ls_has(st[s].keep, l), u && need,
                         "%s %s: step %d keeps label %d wrongly", what, text, s, l);
        }
        t[a] = st[s].keep;
        if (c >= 0) {
            alive[c] = false;
            count--;
        }
    }
    cr_assert_eq(count, 1, "%s %s: %d terms remain", what, text, count);
}

Test(path, optimal_equals_brute_force_minimum)
{
    ts_rng r = {12345};
    for (int trial = 0; trial < 300; trial++) {
        rexpr x;
        random_expr(&r, (int)ts_range(&r, 3, 6), &x);
        bool t[8][26], alive[8];
        for (int k = 0; k < x.nops; k++) {
            memcpy(t[k], x.has[k], sizeof t[k]);
            alive[k] = true;
        }
        double want = brute(&x, t, alive, x.nops);
        ein_bound b = bind_rexpr(&x);
        ein_pathstep st[20];
        int n;
        ein_pathinfo info;
        ein_options o = {.path = EIN_PATH_OPTIMAL};
        cr_assert_eq(ein_path_find(&b, &o, 0, st, &n, &info), EIN_OK, "%s", ein_last_error());
        /* (Extents are >= 2: bind's rewrite squeezes extent-1 labels away,
         * which can turn a summed pair into a cheaper outer product.) */
        cr_assert_eq(info.flops, want, "%s: optimal %.0f, brute force %.0f", x.text,
                     info.flops, want);
        check_valid(&b, st, n, "optimal", x.text);
        double opt = info.flops;
        ein_path_algo others[] = {EIN_PATH_GREEDY, EIN_PATH_BRANCH, EIN_PATH_AUTO,
                                  EIN_PATH_NAIVE};
        double greedy_flops = 0;
        for (int a = 0; a < 4; a++) {
            o.path = others[a];
            cr_assert_eq(ein_path_find(&b, &o, 0, st, &n, &info), EIN_OK);
            check_valid(&b, st, n, ein_path_algo_name(others[a]), x.text);
            cr_assert(info.flops >= opt, "%s: %s beats optimal", x.text,
                      ein_path_algo_name(others[a]));
            if (others[a] == EIN_PATH_GREEDY)
                greedy_flops = info.flops;
            if (others[a] == EIN_PATH_BRANCH)
                cr_assert(info.flops <= greedy_flops, "%s: branch worse than greedy", x.text);
            if (others[a] == EIN_PATH_AUTO)
                cr_assert_eq(info.flops, opt, "%s: auto is exact at this size", x.text);
        }
        ein_bound_free(&b);
    }
}

/* Random networks too big for brute force: every algorithm returns a
 * valid path, branch never worse than greedy. */
Test(path, large_networks_give_valid_paths)
{
    ts_rng r = {777};
    for (int trial = 0; trial < 40; trial++) {
        int nops = (int)ts_range(&r, 8, 40);
        /* A random regular-ish network: labels as edges between two
         * operands, each operand of rank <= 4, letters recycled as ids. */
        char text[512];
        int w = 0;
        int64_t shapes[40][8];
        int nd[40] = {0};
        char lab[40][8];
        int nlab = 0;
        for (int k = 0; k < nops && nlab < 52; k++) {
            int j = (int)ts_range(&r, 0, nops - 1);
            if (j == k || nd[k] >= 4 || nd[j] >= 4)
                continue;
            char c = (char)(nlab < 26 ? 'a' + nlab : 'A' + nlab - 26);
            int64_t e = ts_range(&r, 2, 4);
            lab[k][nd[k]] = c; shapes[k][nd[k]++] = e;
            lab[j][nd[j]] = c; shapes[j][nd[j]++] = e;
            nlab++;
        }
        for (int k = 0; k < nops; k++) {
            if (k)
                text[w++] = ',';
            for (int d = 0; d < nd[k]; d++)
                text[w++] = lab[k][d];
        }
        text[w++] = '-';
        text[w++] = '>';
        text[w] = '\0';
        ein_tensor t[40];
        const ein_tensor *ops[40];
        for (int k = 0; k < nops; k++) {
            t[k] = (ein_tensor){buf, EIN_F32, nd[k], shapes[k], NULL};
            ops[k] = &t[k];
        }
        ein_expr e;
        ein_bound b;
        cr_assert_eq(ein_parse(text, &e), EIN_OK, "%s", text);
        cr_assert_eq(ein_bind(&e, nops, ops, NULL, &b), EIN_OK, "%s: %s", text,
                     ein_last_error());
        ein_expr_free(&e);
        char sq[256];
        ein_squeeze(&b, sq, sizeof sq);
        ein_pathstep st[2 * 40 + 1];
        int n;
        ein_pathinfo info;
        double gf = 0;
        ein_path_algo algos[] = {EIN_PATH_GREEDY, EIN_PATH_BRANCH, EIN_PATH_AUTO,
                                 EIN_PATH_NAIVE, EIN_PATH_OPTIMAL};
        for (int a = 0; a < 5; a++) {
            ein_options o = {.path = algos[a]};
            ein_status s = ein_path_find(&b, &o, 0, st, &n, &info);
            if (algos[a] == EIN_PATH_OPTIMAL && nops > EIN_PATH_OPTIMAL_MAX) {
                cr_assert_eq(s, EIN_ERR_ARG);
                cr_assert(strstr(ein_last_error(), "at most"), "%s", ein_last_error());
                continue;
            }
            cr_assert_eq(s, EIN_OK, "%s %s: %s", ein_path_algo_name(algos[a]), text,
                         ein_last_error());
            check_valid(&b, st, n, ein_path_algo_name(algos[a]), text);
            if (algos[a] == EIN_PATH_GREEDY)
                gf = info.flops;
            if (algos[a] == EIN_PATH_BRANCH)
                cr_assert(info.flops <= gf, "%s: branch %.0f > greedy %.0f", text,
                          info.flops, gf);
            if (algos[a] == EIN_PATH_OPTIMAL)
                cr_assert(info.flops <= gf, "%s: optimal worse than greedy", text);
        }
        ein_bound_free(&b);
    }
}

/* ---- every algorithm's plan against the reference evaluator -------------- */

static void run_plan_vs_reference(const char *expr, int nops, const int64_t (*shapes)[8],
                                  const int *nd, const ein_options *o, const char *what)
{
    ts_rng r = {99};
    double *data[8];
    ein_tensor t[8];
    const ein_tensor *ops[8];
    for (int k = 0; k < nops; k++) {
        size_t n = 1;
        for (int d = 0; d < nd[k]; d++)
            n *= (size_t)shapes[k][d];
        data[k] = malloc((n ? n : 1) * sizeof(double));
        ts_fill_f64(data[k], n, &r);
        t[k] = (ein_tensor){data[k], EIN_F64, nd[k], shapes[k], NULL};
        ops[k] = &t[k];
    }
    ein_status st;
    ein_plan *p = ein_plan_new(expr, nops, ops, NULL, o, &st);
    cr_assert(p, "%s %s: %s", what, expr, ein_last_error());
    int64_t oshape[EIN_MAX_DIMS];
    ein_dtype dt;
    int ond = ein_plan_result(p, &dt, oshape);
    int64_t osz = 1;
    for (int d = 0; d < ond; d++)
        osz *= oshape[d];
    double *res = malloc((size_t)(osz ? osz : 1) * sizeof(double));
    double *ref = malloc((size_t)(osz ? osz : 1) * sizeof(double));
    ein_tensor out = {res, EIN_F64, ond, oshape, NULL};
    cr_assert_eq(ein_execute(p, ops, &out), EIN_OK, "%s", ein_last_error());
    int64_t rsz;
    cr_assert_eq(ts_reference(expr, nops, ops, ref, &rsz), EIN_OK);
    cr_assert_eq(rsz, osz);
    double err = ts_maxerr_f64(res, ref, (size_t)osz, 1e-12, 1e-12);
    cr_assert(err <= 1, "%s %s: error %g", what, expr, err);
    ein_plan_free(p);
    free(res);
    free(ref);
    for (int k = 0; k < nops; k++)
        free(data[k]);
}

Test(path, every_algorithm_agrees_with_the_reference)
{
    ts_rng r = {2024};
    ein_path_algo algos[] = {EIN_PATH_AUTO, EIN_PATH_GREEDY, EIN_PATH_OPTIMAL,
                             EIN_PATH_BRANCH, EIN_PATH_NAIVE};
    for (int trial = 0; trial < 60; trial++) {
        rexpr x;
        random_expr(&r, (int)ts_range(&r, 3, 6), &x);
        int64_t sh[8][8];
        for (int k = 0; k < x.nops; k++)
            memcpy(sh[k], x.shape[k], sizeof sh[k]);
        for (int a = 0; a < 5; a++) {
            ein_options o = {.path = algos[a]};
            run_plan_vs_reference(x.text, x.nops, (const int64_t (*)[8])sh, x.nd, &o,
                                  ein_path_algo_name(algos[a]));
        }
    }
    /* Private labels, diagonals and a sum the output drops. */
    int64_t s1[8][8] = {{3, 4, 5}, {4, 6}, {6, 3, 3}};
    int nd1[] = {3, 2, 3};
    for (int a = 0; a < 5; a++) {
        ein_options o = {.path = algos[a]};
        run_plan_vs_reference("ijk,jl,lmm->i", 3, (const int64_t (*)[8])s1, nd1, &o,
                              ein_path_algo_name(algos[a]));
    }
}

/* ---- explicit paths ------------------------------------------------------- */

static ein_status plan_with_path(const char *expr, const int32_t *pairs, int32_t len,
                                 ein_plan **pp)
{
    static double d[4096];
    int64_t s[4][2] = {{4, 5}, {5, 6}, {6, 7}, {7, 3}};
    ein_tensor t[4];
    const ein_tensor *ops[4];
    for (int k = 0; k < 4; k++) {
        t[k] = (ein_tensor){d, EIN_F64, 2, s[k], NULL};
        ops[k] = &t[k];
    }
    ein_options o = {.path_pairs = pairs, .path_len = len};
    ein_status st;
    *pp = ein_plan_new(expr, 4, ops, NULL, &o, &st);
    return st;
}

Test(path, explicit_path_is_followed)
{
    /* numpy's convention: (2, 3) contracts kl,lm into one appended at the
     * end: [ij, jk, km]; then (1, 2) -> [ij, jm]; then (0, 1). */
    int32_t pairs[] = {2, 3, 1, 2, 0, 1};
    ein_plan *p;
    cr_assert_eq(plan_with_path("ij,jk,kl,lm->im", pairs, 3, &p), EIN_OK, "%s",
                 ein_last_error());
    cr_assert_eq(p->steps[0].in[0], 2);
    cr_assert_eq(p->steps[0].in[1], 3);
    cr_assert_eq(p->steps[1].in[0], 1);
    cr_assert_eq(p->steps[2].in[0], 0);
    cr_assert(p->path.explicit_path);
    char text[4096];
    ein_plan_explain(p, text, sizeof text);
    cr_assert(strstr(text, "path  explicit, 3 steps"), "%s", text);
    ein_plan_free(p);

    int64_t sh[8][8] = {{4, 5}, {5, 6}, {6, 7}, {7, 3}};
    int nd[] = {2, 2, 2, 2};
    ein_options o = {.path_pairs = pairs, .path_len = 3};
    run_plan_vs_reference("ij,jk,kl,lm->im", 4, (const int64_t (*)[8])sh, nd, &o,
                          "explicit");
    /* A single-operand step (-1) only moves the operand to the end. */
    int32_t withu[] = {0, -1, 0, 1, 0, 1, 0, 1};
    o.path_pairs = withu;
    o.path_len = 4;
    run_plan_vs_reference("ij,jk,kl,lm->im", 4, (const int64_t (*)[8])sh, nd, &o,
                          "explicit with a unary step");
}

Test(path, explicit_path_errors_name_the_step)
{
    struct { int32_t pairs[10]; int32_t len; const char *msg; } cases[] = {
        {{0, 4, 0, 1, 0, 1}, 3, "step 0: position 4 is out of range"},
        {{0, 1, 0, 3, 0, 1}, 3, "step 1: position 3 is out of range"},
        {{0, 1, 1, 1, 0, 1}, 3, "step 1 pairs position 1 with itself"},
        {{0, 1, 0, -2, 0, 1}, 3, "step 1: position -2 is out of range"},
        {{5, 0, 0, 1, 0, 1}, 3, "step 0: position 5 is out of range (the list holds 4"},
        {{0, 1, -1, 0, 0, 1}, 3, "step 1: position -1 is out of range"},
        {{0, 1, 0, 1}, 2, "after its 2 steps 2 operands remain"},
        {{0, 1, 0, 1, 0, 1, 0, 1}, 4, "step 3 (0, 1) comes after every operand"},
        {{0}, -1, "path_len is -1"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        ein_plan *p;
        ein_status st = plan_with_path("ij,jk,kl,lm->im", cases[i].pairs, cases[i].len, &p);
        cr_assert_eq(st, EIN_ERR_ARG, "case %zu: %s", i, ein_status_str(st));
        cr_assert_null(p);
        cr_assert(strstr(ein_last_error(), cases[i].msg), "case %zu: %s", i,
                  ein_last_error());
    }
}

Test(path, bad_algorithm_is_an_argument_error)
{
    static double d[64];
    int64_t s[] = {2, 2};
    ein_tensor t = {d, EIN_F64, 2, s, NULL};
    const ein_tensor *ops[] = {&t, &t, &t};
    ein_options o = {.path = (ein_path_algo)42};
    ein_status st;
    cr_assert_null(ein_plan_new("ij,jk,kl->il", 3, ops, NULL, &o, &st));
    cr_assert_eq(st, EIN_ERR_ARG);
    o = (ein_options){.memory_limit = -5};
    cr_assert_null(ein_plan_new("ij,jk,kl->il", 3, ops, NULL, &o, &st));
    cr_assert_eq(st, EIN_ERR_ARG);
}

/* ---- memory_limit -------------------------------------------------------- */

/* i,ij,jk->k with i=2, j=100, k=2 (f64): (op0 op1) first is cheapest but
 * leaves a [j] of 800 bytes; (op1 op2) leaves [i,k], 32 bytes; the outer
 * product (op0 op2) 3200 bytes. */
static ein_plan *limited(ein_path_algo a, int64_t limit, ein_status *st)
{
    static double d[256];
    int64_t si[] = {2}, sij[] = {2, 100}, sjk[] = {100, 2};
    ein_tensor t0 = {d, EIN_F64, 1, si, NULL}, t1 = {d, EIN_F64, 2, sij, NULL},
               t2 = {d, EIN_F64, 2, sjk, NULL};
    const ein_tensor *ops[] = {&t0, &t1, &t2};
    ein_options o = {.path = a, .memory_limit = limit};
    return ein_plan_new("i,ij,jk->k", 3, ops, NULL, &o, st);
}

Test(path, memory_limit_steers_the_order)
{
    ein_path_algo algos[] = {EIN_PATH_AUTO, EIN_PATH_GREEDY, EIN_PATH_OPTIMAL,
                             EIN_PATH_BRANCH};
    for (int a = 0; a < 4; a++) {
        ein_status st;
        ein_plan *p = limited(algos[a], 0, &st);
        cr_assert(p);
        if (algos[a] == EIN_PATH_OPTIMAL) {
            cr_assert_eq(p->steps[0].in[1], 1, "unlimited optimal takes (op0 op1)");
            cr_assert_eq(p->path.largest, 100);
        }
        ein_plan_free(p);
        p = limited(algos[a], 64, &st);
        cr_assert(p, "%s: %s", ein_path_algo_name(algos[a]), ein_last_error());
        cr_assert_eq(p->steps[0].in[0], 1, "%s", ein_path_algo_name(algos[a]));
        cr_assert_eq(p->steps[0].in[1], 2, "%s", ein_path_algo_name(algos[a]));
        cr_assert(p->workspace <= 64);
        cr_assert_eq(p->path.largest, 4);
        ein_plan_free(p);
        /* 31 bytes: no order fits, and the message says what would. */
        p = limited(algos[a], 31, &st);
        cr_assert_null(p);
        cr_assert_eq(st, EIN_ERR_LIMIT);
        cr_assert(strstr(ein_last_error(), "no contraction order fits memory_limit 31 bytes"),
                  "%s", ein_last_error());
        cr_assert(strstr(ein_last_error(), "smallest achievable largest intermediate is "
                                           "32 bytes"), "%s", ein_last_error());
    }
    /* The naive order (op0 op1 first) does not fit 64 bytes. */
    ein_status st;
    cr_assert_null(limited(EIN_PATH_NAIVE, 64, &st));
    cr_assert_eq(st, EIN_ERR_LIMIT);
    cr_assert(strstr(ein_last_error(), "the given order needs more"), "%s", ein_last_error());
    cr_assert_null(limited(EIN_PATH_NAIVE, 799, &st));
    ein_plan *p = limited(EIN_PATH_NAIVE, 800, &st);
    cr_assert(p, "%s", ein_last_error());
    ein_plan_free(p);
}

Test(path, memory_limit_counts_the_whole_workspace)
{
    /* A chain of four 4x4 f64 matrices, left to right: two 128-byte
     * intermediates, each within 200 bytes, but step 1 reads the first
     * while it writes the second, so both are in the workspace (256
     * bytes). */
    static double d[16];
    int64_t s[] = {4, 4};
    ein_tensor t = {d, EIN_F64, 2, s, NULL};
    const ein_tensor *ops[] = {&t, &t, &t, &t};
    ein_options o = {.path = EIN_PATH_NAIVE, .memory_limit = 200};
    ein_status st;
    cr_assert_null(ein_plan_new("ij,jk,kl,lm->im", 4, ops, NULL, &o, &st));
    cr_assert_eq(st, EIN_ERR_LIMIT);
    cr_assert(strstr(ein_last_error(), "the plan needs 256 bytes of workspace but "
                                       "memory_limit is 200 bytes: its 2 intermediates "
                                       "hold 256 bytes in all"), "%s", ein_last_error());
    o.memory_limit = 256;
    ein_plan *p = ein_plan_new("ij,jk,kl,lm->im", 4, ops, NULL, &o, &st);
    cr_assert(p, "%s", ein_last_error());
    ein_plan_free(p);
    /* Blocks are reused: five matrices left to right hold at most two
     * intermediates at once, so three 128-byte ones need 256 bytes. */
    const ein_tensor *five[] = {&t, &t, &t, &t, &t};
    p = ein_plan_new("ij,jk,kl,lm,mn->in", 5, five, NULL, &o, &st);
    cr_assert(p, "%s", ein_last_error());
    cr_assert_eq(p->workspace, 256);
    ein_plan_free(p);
    /* Without intermediates (two operands) a tiny limit is fine. */
    o.memory_limit = 1;
    p = ein_plan_new("ij,jk->ik", 2, ops, NULL, &o, &st);
    cr_assert(p, "%s", ein_last_error());
    ein_plan_free(p);
}

Test(path, explicit_path_for_one_or_two_operands)
{
    /* numpy gives [(0,)] for one operand and [(0, 1)] for two. */
    static double d[16];
    int64_t s[] = {4, 4};
    ein_tensor t = {d, EIN_F64, 2, s, NULL};
    const ein_tensor *ops[] = {&t, &t};
    int32_t one[] = {0, -1}, two[] = {0, 1, 0, 1};
    ein_status st;
    ein_options o = {.path_pairs = one, .path_len = 1};
    ein_plan *p = ein_plan_new("ii->i", 1, ops, NULL, &o, &st);
    cr_assert(p, "%s", ein_last_error());
    ein_plan_free(p);
    o.path_len = 0;
    p = ein_plan_new("ii->i", 1, ops, NULL, &o, &st);
    cr_assert(p, "%s", ein_last_error());
    ein_plan_free(p);
    o = (ein_options){.path_pairs = two, .path_len = 1};
    p = ein_plan_new("ij,jk->ik", 2, ops, NULL, &o, &st);
    cr_assert(p, "%s", ein_last_error());
    ein_plan_free(p);
    o.path_len = 2;
    cr_assert_null(ein_plan_new("ij,jk->ik", 2, ops, NULL, &o, &st));
    cr_assert_eq(st, EIN_ERR_ARG);
}

Test(path, many_single_operand_steps_are_harmless)
{
    /* Unary steps only move an operand; a long run of them must neither
     * overflow anything nor change the result. */
    static int32_t pairs[2 * 1000 + 4];
    for (int s = 0; s < 1000; s++) {
        pairs[2 * s] = s % 3;
        pairs[2 * s + 1] = -1;
    }
    pairs[2000] = 0; pairs[2001] = 1; pairs[2002] = 0; pairs[2003] = 1;
    int64_t sh[8][8] = {{3, 4}, {4, 5}, {5, 2}};
    int nd[] = {2, 2, 2};
    ein_options o = {.path_pairs = pairs, .path_len = 1002};
    run_plan_vs_reference("ij,jk,kl->il", 3, (const int64_t (*)[8])sh, nd, &o,
                          "1000 unary steps");
}

/* Greedy against numpy.einsum_path's greedy on recorded suite cases (the
 * FLOPs come from bench/paths_ref.tsv, numpy 1.24, scored with the same
 * count; numpy itself is never run by the tests): never more FLOPs. */
static double greedy_flops(const char *expr, const int64_t *ext_by_letter)
{
    int64_t sh[40][8];
    int nd[40] = {0}, n = 1;
    for (const char *p = expr; *p && *p != '-'; p++) {
        if (*p == ',') {
            n++;
            continue;
        }
        int l = *p >= 'a' ? *p - 'a' : 26 + *p - 'A';
        sh[n - 1][nd[n - 1]++] = ext_by_letter[l];
    }
    ein_tensor t[40];
    const ein_tensor *ops[40];
    for (int k = 0; k < n; k++) {
        t[k] = (ein_tensor){buf, EIN_F32, nd[k], sh[k], NULL};
        ops[k] = &t[k];
    }
    ein_expr e;
    ein_bound b;
    cr_assert_eq(ein_parse(expr, &e), EIN_OK);
    cr_assert_eq(ein_bind(&e, n, ops, NULL, &b), EIN_OK, "%s", ein_last_error());
    ein_expr_free(&e);
    char sq[64];
    ein_squeeze(&b, sq, sizeof sq);
    ein_pathstep st[90];
    int ns;
    ein_pathinfo info;
    ein_options o = {.path = EIN_PATH_GREEDY};
    cr_assert_eq(ein_path_find(&b, &o, 0, st, &ns, &info), EIN_OK);
    ein_bound_free(&b);
    return info.flops;
}

Test(path, greedy_never_worse_than_numpy_greedy)
{
    int64_t ext[52];
    for (int i = 0; i < 52; i++)
        ext[i] = 3;
    cr_assert_leq(greedy_flops("am,abn,bco,cp,dmq,denr,efos,fpt,gqu,ghrv,hisw,itx,ju,"
                               "jkv,klw,lx->", ext), 18198, "lattice_4x4_d3");
    for (int i = 0; i < 52; i++)
        ext[i] = 2;
    cr_assert_leq(greedy_flops("au,abv,bcw,cdx,dy,euz,efvA,fgwB,ghxC,hyD,izE,ijAF,jkBG,"
                               "klCH,lDI,mEJ,mnFK,noGL,opHM,pIN,qJ,qrK,rsL,stM,tN->", ext),
                  4960, "lattice_5x5_d2");
    cr_assert_leq(greedy_flops("ceg,hmv,amq,elt,cdw,jtx,pru,hux,lrw,dip,bno,bkq,fko,fns,"
                               "ais,gjv->", ext), 1040, "regular3_n16_d2");
    int64_t c8[52] = {30, 700, 8, 500, 40, 4, 900, 60, 7};
    cr_assert_leq(greedy_flops("ab,bc,cd,de,ef,fg,gh,hi->ai", c8), 1097520, "chain8_skewed");
}

/* Labels only one operand carries are summed out of it before any pair
 * ("ijk,kl->il": j from op0, leaving [i,k]); a limit below that
 * intermediate fails whatever the order, and says so. */
Test(path, memory_limit_below_a_private_sum)
{
    static double d[2 * 50 * 10];
    int64_t s0[] = {2, 50, 10}, s1[] = {10, 2}, s2[] = {2, 3};
    ein_tensor t0 = {d, EIN_F64, 3, s0, NULL}, t1 = {d, EIN_F64, 2, s1, NULL},
               t2 = {d, EIN_F64, 2, s2, NULL};
    const ein_tensor *ops[] = {&t0, &t1, &t2};
    ein_options o = {.memory_limit = 159};
    ein_status st;
    cr_assert_null(ein_plan_new("ijk,kl,lm->im", 3, ops, NULL, &o, &st));
    cr_assert_eq(st, EIN_ERR_LIMIT, "%s", ein_status_str(st));
    cr_assert(strstr(ein_last_error(), "summing an operand's own labels first needs 160 "
                                       "bytes"), "%s", ein_last_error());
    o.memory_limit = 4096;
    ein_plan *p = ein_plan_new("ijk,kl,lm->im", 3, ops, NULL, &o, &st);
    cr_assert(p, "%s", ein_last_error());
    ein_plan_free(p);
}

/* ---- memory_limit and the workspace -------------------------------------- */

/* ac,b,b,b,c->a, a=4 b=4 c=6, f64: the fewest-FLOPs order leaves three
 * small intermediates alive at once, 136 bytes of workspace with each
 * block 64-byte aligned.  Under a limit of 112 every intermediate fits,
 * and another order's workspace does too: the plan takes it (and says
 * so), and computes the same result. */
Test(path, workspace_overrun_takes_an_order_that_fits)
{
    static double d[64];
    int64_t s0[] = {4, 6}, s1[] = {4}, s4[] = {6};
    ein_tensor a = {d, EIN_F64, 2, s0, NULL}, b = {d, EIN_F64, 1, s1, NULL},
               c = {d, EIN_F64, 1, s4, NULL};
    const ein_tensor *ops[] = {&a, &b, &b, &b, &c};
    const char *expr = "ac,b,b,b,c->a";
    ein_status st;
    ein_plan *p = ein_plan_new(expr, 5, ops, NULL, NULL, &st);
    cr_assert(p, "%s", ein_last_error());
    cr_assert_gt(p->workspace, 112);
    cr_assert(!p->path.refit);
    ein_plan_free(p);

    ein_options o = {.memory_limit = 112};
    p = ein_plan_new(expr, 5, ops, NULL, &o, &st);
    cr_assert(p, "%s", ein_last_error());
    cr_assert(p->path.refit);
    cr_assert_leq(p->workspace, 112);
    char text[4096];
    ein_plan_explain(p, text, sizeof text);
    cr_assert(strstr(text, "then reordered for memory_limit's workspace"), "%s", text);
    ein_plan_free(p);
    int64_t sh[8][8] = {{4, 6}, {4}, {4}, {4}, {6}};
    int nd[] = {2, 1, 1, 1, 1};
    run_plan_vs_reference(expr, 5, (const int64_t (*)[8])sh, nd, &o, "refit");
}

/* The workspace bound the message names is exact: a chain of f64 10x10
 * matrices always holds two 800-byte intermediates at once (the second
 * 64-byte aligned: 1632 bytes).  Every intermediate fits 800 bytes, the
 * workspace does not; at 1631 the message says 1632, and 1632 plans. */
Test(path, workspace_message_names_what_fits)
{
    static double d[100];
    int64_t s[] = {10, 10};
    ein_tensor t = {d, EIN_F64, 2, s, NULL};
    const ein_tensor *ops[] = {&t, &t, &t, &t, &t};
    const ein_path_algo algos[] = {EIN_PATH_AUTO, EIN_PATH_GREEDY, EIN_PATH_BRANCH};
    for (int a = 0; a < 3; a++) {
        ein_options o = {.path = algos[a], .memory_limit = 1631};
        ein_status st;
        cr_assert_null(ein_plan_new("ab,bc,cd,de,ef->af", 5, ops, NULL, &o, &st));
        cr_assert_eq(st, EIN_ERR_LIMIT);
        cr_assert(strstr(ein_last_error(), "each intermediate can, but the workspace (the "
                                           "intermediates alive at once) needs at least "
                                           "1632 bytes"), "%s", ein_last_error());
        o.memory_limit = 1632;
        ein_plan *p = ein_plan_new("ab,bc,cd,de,ef->af", 5, ops, NULL, &o, &st);
        cr_assert(p, "%s", ein_last_error());
        cr_assert_eq(p->workspace, 1632);
        ein_plan_free(p);
    }
    /* Past 16 operands no search runs: the message says so and gives the
     * workspace of the order the algorithm chose. */
    char chain[128];
    int w = 0;
    const ein_tensor *ops18[18];
    for (int k = 0; k < 18; k++) {
        w += snprintf(chain + w, sizeof chain - (size_t)w, "%s%c%c", k ? "," : "",
                      'a' + k, 'b' + k);
        ops18[k] = &t;
    }
    snprintf(chain + w, sizeof chain - (size_t)w, "->as");
    ein_options o = {.memory_limit = 1631};
    ein_status st;
    cr_assert_null(ein_plan_new(chain, 18, ops18, NULL, &o, &st));
    cr_assert_eq(st, EIN_ERR_LIMIT);
    cr_assert(strstr(ein_last_error(), "needs 1632 bytes, and past 16 operands no search "
                                       "runs"), "%s: %s", chain, ein_last_error());
}

/* Against brute force on random networks of 3-5 operands (mixed f32 and
 * f64 views, so converted copies sit below the intermediates) and random
 * limits: the planner fails only when no explicit pairwise order plans
 * within the limit, and when it names the least workspace, that limit
 * plans. */
static bool any_order_fits(const char *expr, int n, const ein_tensor *const *ops,
                           int64_t limit, int32_t *pairs, int cnt, int s)
{
    if (cnt == 1) {
        ein_options o = {.memory_limit = limit, .path_pairs = pairs, .path_len = s};
        ein_status st;
        ein_plan *p = ein_plan_new(expr, n, ops, NULL, &o, &st);
        ein_plan_free(p);
        return p != NULL;
    }
    for (int i = 0; i < cnt; i++)
        for (int j = i + 1; j < cnt; j++) {
            pairs[2 * s] = i;
            pairs[2 * s + 1] = j;
            if (any_order_fits(expr, n, ops, limit, pairs, cnt - 1, s + 1))
                return true;
        }
    return false;
}

Test(path, workspace_search_matches_brute_force, .timeout = 120)
{
    ts_rng r = {4242};
    static double d[1 << 14];
    int checked = 0, refits = 0, named = 0;
    for (int it = 0; it < 400; it++) {
        int n = 3 + (int)(ts_next(&r) % 3), nl = 3 + (int)(ts_next(&r) % 4);
        int64_t ext[8], shapes[8][8];
        int nd[8];
        for (int l = 0; l < nl; l++)
            ext[l] = 1 + (int64_t)(ts_next(&r) % 6);
        char expr[64];
        int pos = 0;
        bool used[8] = {false};
        for (int k = 0; k < n; k++) {
            nd[k] = 0;
            if (k)
                expr[pos++] = ',';
            for (int l = 0; l < nl; l++)
                if (ts_next(&r) % 2) {
                    expr[pos++] = (char)('a' + l);
                    shapes[k][nd[k]++] = ext[l];
                    used[l] = true;
                }
        }
        expr[pos++] = '-';
        expr[pos++] = '>';
        for (int l = 0; l < nl; l++)
            if (used[l] && ts_next(&r) % 4 == 0)
                expr[pos++] = (char)('a' + l);
        expr[pos] = '\0';
        ein_tensor t[8];
        const ein_tensor *ops[8];
        for (int k = 0; k < n; k++) {
            ein_dtype dt = ts_next(&r) % 3 ? EIN_F64 : EIN_F32;
            t[k] = (ein_tensor){d, dt, nd[k], shapes[k], NULL};
            ops[k] = &t[k];
        }
        int64_t limit = 8 * (1 + (int64_t)(ts_next(&r) % 96));
        ein_options o = {.memory_limit = limit};
        ein_status st;
        ein_plan *p = ein_plan_new(expr, n, ops, NULL, &o, &st);
        int32_t pairs[16];
        if (p) {
            cr_assert_leq(p->workspace, (size_t)limit, "%s", expr);
            refits += p->path.refit;
            ein_plan_free(p);
            continue;
        }
        cr_assert_eq(st, EIN_ERR_LIMIT, "%s: %s", expr, ein_last_error());
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", ein_last_error());
        checked++;
        cr_assert(!any_order_fits(expr, n, ops, limit, pairs, n, 0),
                  "%s under %lld bytes: refused (%s), but an explicit order plans", expr,
                  (long long)limit, msg);
        const char *at = strstr(msg, "needs at least ");
        if (at) {
            named++;
            o.memory_limit = strtoll(at + strlen("needs at least "), NULL, 10);
            p = ein_plan_new(expr, n, ops, NULL, &o, &st);
            cr_assert(p, "%s: the message named %lld bytes, which fails: %s", expr,
                      (long long)o.memory_limit, ein_last_error());
            ein_plan_free(p);
        }
    }
    cr_assert(checked > 50 && refits > 0 && named > 20,
              "too few cases of each kind: %d refused, %d reordered, %d named", checked,
              refits, named);
}
