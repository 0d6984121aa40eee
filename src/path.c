/* path.c — the order in which three or more operands are contracted,
 * pairwise.  Labels only one operand carries, and that the result does not
 * keep, are summed out of that operand first; then an algorithm orders the
 * pairs: exact dynamic programming over subsets (optimal), opt_einsum's
 * greedy heuristic, a bounded branch-and-bound search, left to right, or
 * the caller's explicit path.  Every order is scored the same way, with
 * opt_einsum's FLOP convention, so the figures compare one to one. */
#define _POSIX_C_SOURCE 200809L

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "internal.h"

/* ---- label sets ---------------------------------------------------------- */

static inline lset ls_or(lset a, lset b) { return (lset){{a.w[0] | b.w[0], a.w[1] | b.w[1]}}; }
static inline lset ls_and(lset a, lset b) { return (lset){{a.w[0] & b.w[0], a.w[1] & b.w[1]}}; }
static inline lset ls_xor(lset a, lset b) { return (lset){{a.w[0] ^ b.w[0], a.w[1] ^ b.w[1]}}; }
static inline bool ls_empty(lset a) { return !(a.w[0] | a.w[1]); }
static inline bool ls_eq(lset a, lset b) { return a.w[0] == b.w[0] && a.w[1] == b.w[1]; }
static inline void ls_set(lset *a, int l) { a->w[l >> 6] |= (uint64_t)1 << (l & 63); }

/* Product of the extents of the labels in s (elements), as a double so
 * that it cannot overflow; exact while it stays below 2^53. */
static double ls_size(const double *ext, lset s)
{
    double r = 1;
    for (int w = 0; w < 2; w++)
        for (uint64_t m = s.w[w]; m; m &= m - 1)
            r *= ext[w * 64 + __builtin_ctzll(m)];
    return r;
}

/* opt_einsum's FLOP count of contracting x and y into keep: the product
 * of the extents of every label involved, times 2 when some label is
 * summed (a multiply and an add per term), times 1 for an outer product. */
static double pair_flops(const double *ext, lset x, lset y, lset keep)
{
    lset u = ls_or(x, y);
    return ls_size(ext, u) * (ls_eq(u, keep) ? 1 : 2);
}

/* ---- the search problem -------------------------------------------------- */

typedef struct pctx {
    int    n;                          /* terms */
    lset   term[EIN_MAX_OPERANDS];     /* labels of each term, privates summed */
    lset   out;
    double ext[EIN_MAX_LABELS];
    double limit;                      /* most elements an intermediate may hold */
} pctx;

/* The labels a contraction of x and y must keep: those of the output and
 * those some other live term still carries.  `twice` and `thrice` hold
 * the labels carried by at least two and three live terms: a label of
 * both x and y is needed elsewhere only if a third term has it, a label of
 * one of them if any other term has it. */
static lset keep_of(lset x, lset y, lset out, lset twice, lset thrice)
{
    lset u = ls_or(x, y);
    return ls_or(ls_and(u, out),
                 ls_or(ls_and(ls_and(x, y), thrice), ls_and(ls_xor(x, y), twice)));
}

static void counts(const lset *t, const bool *alive, int n, lset *twice, lset *thrice)
{
    lset once = {{0, 0}}, tw = {{0, 0}}, th = {{0, 0}};
    for (int i = 0; i < n; i++) {
        if (alive && !alive[i])
            continue;
        th = ls_or(th, ls_and(tw, t[i]));
        tw = ls_or(tw, ls_and(once, t[i]));
        once = ls_or(once, t[i]);
    }
    *twice = tw;
    *thrice = th;
}

/* Pairs are recorded as term ids: the result of (a, b) takes a's id. */
typedef struct pair { int a, b; } pair;

/* ---- greedy ---------------------------------------------------------------- */

/* opt_einsum's greedy rule (numpy.einsum_path's too): among pairs that
 * share a label, contract the one whose result shrinks the total size
 * most, size(result) - size(a) - size(b), ties going to the fewer FLOPs
 * and then to the lowest positions; outer products only when no pair
 * shares a label.  Costs are recomputed each round against the terms
 * still live, so a label that became private counts as summed.  Pairs
 * whose result would exceed the limit are skipped; false if none fits. */
static bool greedy_fresh(const pctx *c, pair *path, double *largest)
{
    int n = c->n;
    lset t[EIN_MAX_OPERANDS];
    bool alive[EIN_MAX_OPERANDS];
    memcpy(t, c->term, (size_t)n * sizeof *t);
    for (int i = 0; i < n; i++)
        alive[i] = true;
    double big = 0;
    for (int step = 0; step < n - 1; step++) {
        lset twice, thrice;
        counts(t, alive, n, &twice, &thrice);
        int bi = -1, bj = -1;
        double bkey = 0, bflops = 0;
        lset bkeep = {{0, 0}};
        for (int outer = 0; outer < 2 && bi < 0; outer++)
            for (int i = 0; i < n; i++) {
                if (!alive[i])
                    continue;
                for (int j = i + 1; j < n; j++) {
                    if (!alive[j])
                        continue;
                    if (!outer && ls_empty(ls_and(t[i], t[j])))
                        continue;
                    bool last = step == n - 2;
                    lset k = last ? c->out : keep_of(t[i], t[j], c->out, twice, thrice);
                    double size = ls_size(c->ext, k);
                    if (!last && size > c->limit)
                        continue;
                    double key = size - ls_size(c->ext, t[i]) - ls_size(c->ext, t[j]);
                    double fl = pair_flops(c->ext, t[i], t[j], k);
                    if (bi < 0 || key < bkey || (key == bkey && fl < bflops)) {
                        bi = i; bj = j; bkey = key; bflops = fl; bkeep = k;
                    }
                }
            }
        if (bi < 0)
            return false;
        path[step] = (pair){bi, bj};
        if (step < n - 2) {
            double s = ls_size(c->ext, bkeep);
            big = s > big ? s : big;
        }
        t[bi] = bkeep;
        alive[bj] = false;
    }
    if (largest)
        *largest = big;
    return true;
}

/* numpy.einsum_path's greedy, step for step: the same rule, but a pair's
 * cost is computed once, against the list as it was when the pair was
 * first seen (only pairs with the newest term are scored after each
 * step), ties go to the pair seen first, a pair whose FLOPs would push
 * the total past the one-loop-nest cost is dropped, and outer products
 * are scanned only when no candidate is left.  Stale costs sometimes
 * pick a better order than fresh ones (and sometimes worse), so greedy
 * runs both and keeps the cheaper.  Produces numpy's positions
 * (contracted pair leaves the list, the result is appended); false when
 * nothing fits the limit or memory ran out. */
typedef struct npcand {
    double key, cost;    /* size(result) - sizes of the pair; FLOPs */
    int    i, j;         /* positions, i < j */
    lset   res;
} npcand;

static void np_parse(const pctx *c, const lset *list, int cnt, int i, int j,
                     double path_cost, double naive, npcand *out, int *nout)
{
    lset contract = ls_or(list[i], list[j]), remain = c->out;
    for (int k = 0; k < cnt; k++)
        if (k != i && k != j)
            remain = ls_or(remain, list[k]);
    lset res = ls_and(remain, contract);
    double size = ls_size(c->ext, res);
    if (cnt > 2 && size > c->limit)
        return;
    double cost = pair_flops(c->ext, list[i], list[j], res);
    if (path_cost + cost > naive)
        return;
    out[(*nout)++] = (npcand){size - ls_size(c->ext, list[i]) - ls_size(c->ext, list[j]),
                              cost, i, j, res};
}

static bool greedy_numpy(const pctx *c, double naive, int32_t *pos)
{
    int n = c->n, cnt = n;
    size_t cap = (size_t)n * (size_t)(n - 1) / 2 + (size_t)n;
    npcand *known = ein_malloc(cap * sizeof *known);
    lset *list = ein_malloc((size_t)n * sizeof *list);
    if (!known || !list) {
        ein_free(known);
        ein_free(list);
        return false;
    }
    memcpy(list, c->term, (size_t)n * sizeof *list);
    int nk = 0, newest = -1;
    double path_cost = 0;
    bool ok = true;
    for (int step = 0; step < n - 1 && ok; step++) {
        /* First all pairs, then only the pairs with the newest term. */
        for (int i = 0; i < cnt; i++)
            for (int j = i + 1; j < cnt; j++) {
                if (newest >= 0 && j != newest)
                    continue;
                if (ls_empty(ls_and(list[i], list[j])))
                    continue;
                np_parse(c, list, cnt, i, j, path_cost, naive, known, &nk);
            }
        if (nk == 0)
            for (int i = 0; i < cnt; i++)
                for (int j = i + 1; j < cnt; j++)
                    np_parse(c, list, cnt, i, j, path_cost, naive, known, &nk);
        if (nk == 0) {
            ok = false;
            break;
        }
        int best = 0;
        for (int q = 1; q < nk; q++)
            if (known[q].key < known[best].key ||
                (known[q].key == known[best].key && known[q].cost < known[best].cost))
                best = q;
        npcand b = known[best];
        pos[2 * step] = b.i;
        pos[2 * step + 1] = b.j;
        path_cost += b.cost;
        /* Drop pairs that used either position; shift the others. */
        int w = 0;
        for (int q = 0; q < nk; q++) {
            npcand x = known[q];
            if (x.i == b.i || x.i == b.j || x.j == b.i || x.j == b.j)
                continue;
            x.i -= (x.i > b.i) + (x.i > b.j);
            x.j -= (x.j > b.i) + (x.j > b.j);
            known[w++] = x;
        }
        nk = w;
        memmove(&list[b.j], &list[b.j + 1], (size_t)(cnt - b.j - 1) * sizeof *list);
        memmove(&list[b.i], &list[b.i + 1], (size_t)(cnt - b.i - 2) * sizeof *list);
        cnt--;
        list[cnt - 1] = b.res;
        newest = cnt - 1;
    }
    ein_free(known);
    ein_free(list);
    return ok;
}

/* ---- optimal: dynamic programming over subsets ----------------------------- */

/* Pfeifer et al.'s exhaustive search, as a DP over subsets of operands:
 * the cheapest way to contract a subset S is the cheapest split of S into
 * two non-empty halves plus the cost of contracting their results.  What
 * S's result keeps depends only on S (the labels S carries that the
 * output or an operand outside S needs), so each subset is solved once.
 * Every split is tried, outer products included, so the result is the
 * exact minimum over all pairwise orders; a split is skipped as soon as
 * its halves alone cost more than the best found.  3^n / 2 splits:
 * EIN_PATH_OPTIMAL_MAX operands at most. */
typedef struct dpnode {
    double cost;     /* FLOPs to build this subset's result */
    double size;     /* elements of the result */
    double big;      /* largest intermediate inside (minimax pass) */
    lset   keep;
    uint32_t split;  /* the half holding the lowest operand */
} dpnode;

static dpnode *dp_alloc(const pctx *c, lset **labp)
{
    size_t ns = (size_t)1 << c->n;
    dpnode *d = ein_malloc(ns * sizeof *d);
    lset *lab = ein_malloc(ns * sizeof *lab);
    if (!d || !lab) {
        ein_free(d);
        ein_free(lab);
        return NULL;
    }
    lab[0] = (lset){{0, 0}};
    for (size_t s = 1; s < ns; s++)
        lab[s] = ls_or(lab[s & (s - 1)], c->term[__builtin_ctzll(s)]);
    size_t full = ns - 1;
    for (size_t s = 1; s < ns; s++) {
        d[s].keep = s == full ? c->out
                              : ls_and(lab[s], ls_or(c->out, lab[full & ~s]));
        d[s].size = ls_size(c->ext, d[s].keep);
        d[s].cost = (s & (s - 1)) ? INFINITY : 0;
        d[s].big = (s & (s - 1)) ? INFINITY : 0;
        d[s].split = 0;
    }
    *labp = lab;
    return d;
}

/* minimax: minimise the largest intermediate instead of the FLOPs (to
 * tell the caller what the smallest achievable one is).  The inner loop
 * reads the value being minimised from `v`, a plain array of doubles
 * (2^n of them), not from the 48-byte nodes.  Measured on the 16-operand
 * suite cases: 160-210 ms with this and the size bound below, 176-270 ms
 * without (noisy, shared machine): the split enumeration itself
 * dominates. */
static void dp_run(const pctx *c, dpnode *d, double *v, bool minimax)
{
    uint32_t full = (uint32_t)(((size_t)1 << c->n) - 1);
    for (uint32_t s = 1; s <= full; s++)
        v[s] = minimax ? d[s].big : d[s].cost;
    for (uint32_t s = 3; s <= full; s++) {
        if (!(s & (s - 1)))
            continue;
        if (s != full && !minimax && d[s].size > c->limit)
            continue;                      /* this intermediate is too big */
        uint32_t low = s & -s, rest = s ^ low;
        double best = INFINITY;
        uint32_t bsplit = 0;
        /* A = low plus a proper subset of rest: each unordered split once. */
        for (uint32_t sub = (rest - 1) & rest;; sub = (sub - 1) & rest) {
            uint32_t a = low | sub, b = s ^ a;
            if (minimax) {
                double m = v[a] > v[b] ? v[a] : v[b];
                if (m < best) {
                    best = m;
                    bsplit = a;
                }
            } else {
                /* The pair costs at least the size of either result
                 * (exact bound, no product needed). */
                double base = v[a] + v[b];
                double lb = d[a].size > d[b].size ? d[a].size : d[b].size;
                if (base + lb < best) {
                    double f = base + pair_flops(c->ext, d[a].keep, d[b].keep, d[s].keep);
                    if (f < best) {
                        best = f;
                        bsplit = a;
                    }
                }
            }
            if (!sub)
                break;
        }
        if (minimax) {
            double own = s == full ? 0 : d[s].size;
            v[s] = d[s].big = best > own ? best : own;
        } else {
            v[s] = d[s].cost = best;
        }
        d[s].split = bsplit;
    }
}

/* Emit the subtree of s in post-order; returns the id of its result. */
static int dp_emit(const dpnode *d, uint32_t s, pair *path, int *np)
{
    if (!(s & (s - 1)))
        return __builtin_ctz(s);
    int a = dp_emit(d, d[s].split, path, np);
    int b = dp_emit(d, s ^ d[s].split, path, np);
    path[(*np)++] = (pair){a, b};
    return a;
}

/* Allocate the subset table and run the search (by FLOPs, or by the
 * largest intermediate when by_size); NULL when memory ran out. */
static dpnode *dp_solve(const pctx *c, bool by_size, lset **lab)
{
    dpnode *d = dp_alloc(c, lab);
    double *v = d ? ein_malloc(((size_t)1 << c->n) * sizeof *v) : NULL;
    if (!v) {
        if (d) {
            ein_free(d);
            ein_free(*lab);
        }
        return NULL;
    }
    dp_run(c, d, v, by_size);
    ein_free(v);
    return d;
}

/* 1: found; 0: no order fits the limit; -1: out of memory. */
static int optimal(const pctx *c, pair *path)
{
    lset *lab;
    dpnode *d = dp_solve(c, false, &lab);
    if (!d)
        return -1;
    uint32_t full = (uint32_t)(((size_t)1 << c->n) - 1);
    int ok = isfinite(d[full].cost) ? 1 : 0;
    if (ok) {
        int np = 0;
        dp_emit(d, full, path, &np);
    }
    ein_free(d);
    ein_free(lab);
    return ok;
}

/* The smallest largest intermediate any order achieves (elements), for
 * the message when none fits the limit; NAN when the problem is too big
 * to search exactly or memory ran out. */
static double smallest_largest(const pctx *c)
{
    if (c->n > EIN_PATH_OPTIMAL_MAX)
        return NAN;
    lset *lab;
    dpnode *d = dp_solve(c, true, &lab);
    if (!d)
        return NAN;
    double r = d[((size_t)1 << c->n) - 1].big;
    ein_free(d);
    ein_free(lab);
    return r;
}

/* ---- branch and bound ------------------------------------------------------ */

/* Depth-first over the greedy rule's best few candidates at each level,
 * pruning any partial order that already costs more than the best
 * complete one (the greedy order to start with); a node budget bounds the
 * planning time, so on large networks it is greedy refined, not exact. */
#define BRANCH_WIDTH 3
#define BRANCH_NODES 20000

typedef struct bnb {
    const pctx *c;
    lset   t[EIN_MAX_OPERANDS];
    bool   alive[EIN_MAX_OPERANDS];
    pair   cur[EIN_MAX_OPERANDS];
    pair   best[EIN_MAX_OPERANDS];
    double best_cost;
    long   nodes;
} bnb;

typedef struct cand {
    int    i, j;
    double key, flops;
    lset   keep;
} cand;

static void bnb_search(bnb *s, int step, double cost)
{
    const pctx *c = s->c;
    int n = c->n;
    if (step == n - 1) {
        if (cost < s->best_cost) {
            s->best_cost = cost;
            memcpy(s->best, s->cur, (size_t)(n - 1) * sizeof *s->cur);
        }
        return;
    }
    if (++s->nodes > BRANCH_NODES)
        return;
    lset twice, thrice;
    counts(s->t, s->alive, n, &twice, &thrice);
    cand top[BRANCH_WIDTH];
    int ntop = 0;
    bool last = step == n - 2;
    for (int outer = 0; outer < 2 && ntop == 0; outer++)
        for (int i = 0; i < n; i++) {
            if (!s->alive[i])
                continue;
            for (int j = i + 1; j < n; j++) {
                if (!s->alive[j] || (!outer && ls_empty(ls_and(s->t[i], s->t[j]))))
                    continue;
                lset k = last ? c->out : keep_of(s->t[i], s->t[j], c->out, twice, thrice);
                double size = ls_size(c->ext, k);
                if (!last && size > c->limit)
                    continue;
                double fl = pair_flops(c->ext, s->t[i], s->t[j], k);
                if (cost + fl >= s->best_cost)
                    continue;
                cand x = {i, j, size - ls_size(c->ext, s->t[i]) - ls_size(c->ext, s->t[j]),
                          fl, k};
                /* Keep the BRANCH_WIDTH best by (key, flops), in order. */
                int at = ntop;
                while (at > 0 && (x.key < top[at - 1].key ||
                                  (x.key == top[at - 1].key && x.flops < top[at - 1].flops)))
                    at--;
                if (at >= BRANCH_WIDTH)
                    continue;
                int end = ntop < BRANCH_WIDTH ? ntop : BRANCH_WIDTH - 1;
                for (int m = end; m > at; m--)
                    top[m] = top[m - 1];
                top[at] = x;
                if (ntop < BRANCH_WIDTH)
                    ntop++;
            }
        }
    for (int q = 0; q < ntop; q++) {
        const cand *x = &top[q];
        lset ti = s->t[x->i];
        s->t[x->i] = x->keep;
        s->alive[x->j] = false;
        s->cur[step] = (pair){x->i, x->j};
        bnb_search(s, step + 1, cost + x->flops);
        s->alive[x->j] = true;
        s->t[x->i] = ti;
    }
}

/* ---- scoring and checking an order ------------------------------------------ */

/* Fill the steps of `path` (n - 1 pairs over term ids) after the unary
 * steps already in out[0..*nout): keep sets, FLOPs, sizes. */
static void emit(const pctx *c, const pair *path, ein_pathstep *steps, int *nout,
                 ein_pathinfo *info)
{
    int n = c->n;
    lset t[EIN_MAX_OPERANDS];
    bool alive[EIN_MAX_OPERANDS];
    memcpy(t, c->term, (size_t)n * sizeof *t);
    for (int i = 0; i < n; i++)
        alive[i] = true;
    for (int s = 0; s < n - 1; s++) {
        int a = path[s].a, b = path[s].b;
        lset k;
        if (s == n - 2) {
            k = c->out;
        } else {
            lset twice, thrice;
            counts(t, alive, n, &twice, &thrice);
            k = keep_of(t[a], t[b], c->out, twice, thrice);
        }
        ein_pathstep *ps = &steps[(*nout)++];
        ps->a = a;
        ps->b = b;
        ps->keep = k;
        ps->flops = pair_flops(c->ext, t[a], t[b], k);
        ps->size = ls_size(c->ext, k);
        info->flops += ps->flops;
        if (s < n - 2 && ps->size > info->largest)
            info->largest = ps->size;
        t[a] = k;
        alive[b] = false;
    }
}

/* ---- explicit paths ---------------------------------------------------------- */

/* numpy's convention: positions in the current operand list; the two
 * leave the list and the result is appended.  Converted to term ids. */
static ein_status explicit_path(const pctx *c, const int32_t *pp, int32_t len,
                                pair *path, int *npairs)
{
    int n = c->n, list[EIN_MAX_OPERANDS], cnt = n;
    for (int i = 0; i < n; i++)
        list[i] = i;
    *npairs = 0;
    if (len < 0)
        return ein_fail(EIN_ERR_ARG, "explicit path: path_len is %d (must be >= 0)", (int)len);
    for (int s = 0; s < len; s++) {
        int32_t x = pp[2 * s], y = pp[2 * s + 1];
        if (cnt == 1 && y != -1)
            return ein_fail(EIN_ERR_ARG, "explicit path: step %d (%d, %d) comes after "
                            "every operand was contracted into one (%d steps are "
                            "enough)", s, (int)x, (int)y, s);
        if (x < 0 || x >= cnt)
            return ein_fail(EIN_ERR_ARG, "explicit path: step %d: position %d is out of "
                            "range (the list holds %d operands: 0..%d)", s, (int)x, cnt,
                            cnt - 1);
        if (y < -1 || y >= cnt)
            return ein_fail(EIN_ERR_ARG, "explicit path: step %d: position %d is out of "
                            "range (the list holds %d operands: 0..%d, or -1 for a "
                            "single-operand step)", s, (int)y, cnt, cnt - 1);
        if (x == y)
            return ein_fail(EIN_ERR_ARG, "explicit path: step %d pairs position %d with "
                            "itself", s, (int)x);
        if (y < 0) {
            /* A single-operand step: its private labels are already summed
             * first, so it only moves the operand to the end of the list. */
            int id = list[x];
            memmove(&list[x], &list[x + 1], (size_t)(cnt - x - 1) * sizeof *list);
            list[cnt - 1] = id;
            continue;
        }
        int lo = x < y ? x : y, hi = x < y ? y : x;
        int a = list[lo], b = list[hi];
        path[(*npairs)++] = (pair){a, b};
        memmove(&list[hi], &list[hi + 1], (size_t)(cnt - hi - 1) * sizeof *list);
        cnt--;
        memmove(&list[lo], &list[lo + 1], (size_t)(cnt - lo - 1) * sizeof *list);
        list[cnt - 1] = a;
    }
    if (cnt > 1)
        return ein_fail(EIN_ERR_ARG, "explicit path: after its %d steps %d operands "
                        "remain (a path for %d operands needs %d pairwise steps)",
                        (int)len, cnt, n, n - 1);
    return EIN_OK;
}

/* FLOPs and largest intermediate of an order (every step re-scored
 * against the terms live at that point). */
static bool score(const pctx *c, const pair *path, double *flops, double *largest)
{
    ein_pathstep *scratch = ein_malloc((size_t)c->n * sizeof *scratch);
    if (!scratch)
        return false;
    ein_pathinfo tmp = {0};
    int ns = 0;
    emit(c, path, scratch, &ns, &tmp);
    ein_free(scratch);
    *flops = tmp.flops;
    if (largest)
        *largest = tmp.largest;
    return true;
}

/* Greedy: the fresh-cost and numpy's stale-cost variants of the rule,
 * whichever order costs fewer FLOPs (the fresh one on a tie). */
static bool greedy(const pctx *c, double naive, pair *path)
{
    bool ok = greedy_fresh(c, path, NULL);
    int n = c->n;
    int32_t *pos = ein_malloc((size_t)n * 2 * sizeof *pos);
    pair *alt = ein_malloc((size_t)n * sizeof *alt);
    if (pos && alt && greedy_numpy(c, naive, pos)) {
        int np;
        double f0 = INFINITY, f1 = INFINITY;
        if (explicit_path(c, pos, n - 1, alt, &np) == EIN_OK &&
            (!ok || score(c, path, &f0, NULL)) && score(c, alt, &f1, NULL) &&
            (!ok || f1 < f0)) {
            memcpy(path, alt, (size_t)(n - 1) * sizeof *path);
            ok = true;
        }
    }
    ein_clear_error();
    ein_free(pos);
    ein_free(alt);
    return ok;
}

/* ---- entry point ----------------------------------------------------------- */

const char *ein_path_algo_name(ein_path_algo a)
{
    switch (a) {
    case EIN_PATH_AUTO:    return "auto";
    case EIN_PATH_GREEDY:  return "greedy";
    case EIN_PATH_OPTIMAL: return "optimal";
    case EIN_PATH_BRANCH:  return "branch";
    case EIN_PATH_NAIVE:   return "naive";
    }
    return "explicit";
}

/* ---- the workspace ---------------------------------------------------------- */

/* The placement rule: the lowest offset, base or the 64-byte-aligned end
 * of a live block, that overlaps none of the nlive blocks [off, end). */
static size_t ws_place(const size_t *off, const size_t *end, int nlive, size_t base,
                       size_t bytes)
{
    size_t best = SIZE_MAX;
    for (int c = -1; c < nlive; c++) {
        size_t o = c < 0 ? base : (end[c] + 63) & ~(size_t)63;
        bool fits = true;
        for (int q = 0; q < nlive && fits; q++)
            fits = !(o < end[q] && off[q] < o + bytes);
        if (fits && o < best)
            best = o;
    }
    return best;
}

size_t ein_ws_pack(int n, const size_t *bytes, const int *death, size_t base, size_t *at)
{
    size_t off[2 * EIN_MAX_OPERANDS + 2], end[2 * EIN_MAX_OPERANDS + 2];
    int dies[2 * EIN_MAX_OPERANDS + 2], nlive = 0;
    size_t top = base;
    for (int i = 0; i < n; i++) {
        if (death[i] >= 0) {
            size_t o = ws_place(off, end, nlive, base, bytes[i]);
            if (at)
                at[i] = o;
            off[nlive] = o;
            end[nlive] = o + bytes[i];
            dies[nlive++] = death[i];
            if (o + bytes[i] > top)
                top = o + bytes[i];
        }
        int w = 0;
        for (int q = 0; q < nlive; q++)
            if (dies[q] > i) {
                off[w] = off[q];
                end[w] = end[q];
                dies[w++] = dies[q];
            }
        nlive = w;
    }
    return top;
}

/* The workspace (bytes, from base) that steps need as the planner lays
 * them out: each step but the last writes a temporary under its `a` id,
 * which lives until the next step that reads that id. */
static double steps_workspace(const ein_pathstep *st, int ns, size_t esize, size_t base)
{
    size_t bytes[2 * EIN_MAX_OPERANDS + 2];
    int death[2 * EIN_MAX_OPERANDS + 2];
    for (int i = 0; i < ns; i++) {
        death[i] = -1;
        if (i == ns - 1)
            break;
        double b = st[i].size * (double)esize;
        if (b > (double)(SIZE_MAX / 4))
            return INFINITY;
        bytes[i] = (size_t)b;
        death[i] = i;
        for (int j = i + 1; j < ns && death[i] == i; j++)
            if (st[j].a == st[i].a || st[j].b == st[i].a)
                death[i] = j;
    }
    return (double)ein_ws_pack(ns, bytes, death, base, NULL);
}

/* Depth first over every pair at every step, each result placed as the
 * planner will place it (ws_place), for the order of fewest FLOPs
 * whose workspace fits `cap` bytes; or, with min_ws, for the order whose
 * workspace is smallest.  Each bound prunes: a partial order already at
 * the best FLOPs (or workspace) found, or past cap.  Terms that the
 * private sums reduced start with their blocks placed.  A budget of
 * pairs tried bounds the time (each costs at most n^2 overlap tests,
 * and the search runs only to n = WS_MAX_TERMS); `complete` says whether
 * the search saw every order. */
#define WS_NODES 200000
#define WS_MAX_TERMS 16

typedef struct wsearch {
    const pctx *c;
    size_t esize, base;
    double cap;                          /* bytes; INFINITY with min_ws */
    bool   min_ws, complete;
    long   nodes;
    lset   t[EIN_MAX_OPERANDS];
    bool   alive[EIN_MAX_OPERANDS];
    bool   has[EIN_MAX_OPERANDS];        /* the term is a temporary ... */
    size_t off[EIN_MAX_OPERANDS], end[EIN_MAX_OPERANDS];   /* ... here */
    pair   cur[EIN_MAX_OPERANDS], best[EIN_MAX_OPERANDS];
    double best_cost;                    /* FLOPs, or (min_ws) bytes */
    size_t loff[WS_MAX_TERMS][WS_MAX_TERMS], lend[WS_MAX_TERMS][WS_MAX_TERMS];
} wsearch;

static void ws_search(wsearch *w, int step, double ws, double flops)
{
    const pctx *c = w->c;
    int n = c->n;
    bool last = step == n - 2;
    lset twice, thrice;
    counts(w->t, w->alive, n, &twice, &thrice);
    size_t *off = w->loff[step], *end = w->lend[step];   /* the blocks alive */
    int nlive = 0;
    for (int k = 0; k < n; k++)
        if (w->alive[k] && w->has[k]) {
            off[nlive] = w->off[k];
            end[nlive++] = w->end[k];
        }
    for (int a = 0; a < n; a++) {
        if (!w->alive[a])
            continue;
        for (int b = a + 1; b < n; b++) {
            if (!w->alive[b])
                continue;
            if (++w->nodes > WS_NODES) {
                w->complete = false;
                return;
            }
            lset keep = last ? c->out : keep_of(w->t[a], w->t[b], c->out, twice, thrice);
            double size = ls_size(c->ext, keep);
            double f = flops + pair_flops(c->ext, w->t[a], w->t[b], keep);
            double nws = ws;
            size_t o = 0, bytes = 0;
            if (!last) {
                double db = size * (double)w->esize;
                if ((!w->min_ws && size > c->limit) || db > w->cap ||
                    db > (double)(SIZE_MAX / 4))
                    continue;
                bytes = (size_t)db;
                o = ws_place(off, end, nlive, w->base, bytes);
                if ((double)(o + bytes) > nws)
                    nws = (double)(o + bytes);
            }
            if (nws > w->cap || (w->min_ws ? nws : f) >= w->best_cost)
                continue;
            w->cur[step] = (pair){a, b};
            if (last) {
                w->best_cost = w->min_ws ? nws : f;
                memcpy(w->best, w->cur, (size_t)(n - 1) * sizeof *w->best);
                continue;
            }
            lset ta = w->t[a];
            bool ha = w->has[a], hb = w->has[b];
            size_t oa = w->off[a], ea = w->end[a];
            w->t[a] = keep;
            w->alive[b] = false;
            w->has[a] = true;
            w->has[b] = false;
            w->off[a] = o;
            w->end[a] = o + bytes;
            ws_search(w, step + 1, nws, f);
            w->t[a] = ta;
            w->alive[b] = true;
            w->has[a] = ha;
            w->has[b] = hb;
            w->off[a] = oa;
            w->end[a] = ea;
        }
    }
}

/* Runs the search from the terms after the private sums (steps[0, npre),
 * all temporaries, placed in order): 1 found, 0 nothing found (past
 * WS_MAX_TERMS terms, none searched), -1 out of memory. */
static int ws_order(const pctx *c, const ein_pathstep *pre, int npre, size_t esize,
                    size_t base, double cap, bool min_ws, pair *path, double *cost,
                    bool *complete)
{
    int n = c->n;
    *complete = false;
    if (n > WS_MAX_TERMS)
        return 0;
    wsearch *w = ein_malloc(sizeof *w);
    if (!w)
        return -1;
    w->c = c;
    w->esize = esize;
    w->base = base;
    w->cap = cap;
    w->min_ws = min_ws;
    w->complete = true;
    w->nodes = 0;
    w->best_cost = INFINITY;
    memcpy(w->t, c->term, (size_t)n * sizeof *w->t);
    for (int k = 0; k < n; k++) {
        w->alive[k] = true;
        w->has[k] = false;
    }
    /* The private sums' results, alive until the pairs begin. */
    size_t bytes[WS_MAX_TERMS] = {0}, at[WS_MAX_TERMS];
    int death[WS_MAX_TERMS] = {0};
    for (int i = 0; i < npre; i++) {
        bytes[i] = (size_t)(pre[i].size * (double)esize);
        death[i] = npre;
    }
    double ws = (double)ein_ws_pack(npre, bytes, death, base, at);
    for (int i = 0; i < npre; i++) {
        int k = pre[i].a;
        w->has[k] = true;
        w->off[k] = at[i];
        w->end[k] = at[i] + bytes[i];
    }
    bool ok = false;
    if (ws <= cap) {
        ws_search(w, 0, ws, 0);
        ok = isfinite(w->best_cost);
    }
    if (ok) {
        memcpy(path, w->best, (size_t)(n - 1) * sizeof *path);
        *cost = w->best_cost;
    }
    *complete = w->complete;
    ein_free(w);
    return ok;
}

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static void fmt_bytes(char *buf, size_t cap, double bytes)
{
    snprintf(buf, cap, "%.0f bytes", bytes);
}

ein_status ein_path_find(const ein_bound *b, const ein_options *opt, size_t base,
                         ein_pathstep *steps, int *nsteps, ein_pathinfo *info)
{
    double t0 = now_us();
    int n = b->nops;
    size_t esize = ein_dtype_size(b->dtype);
    memset(info, 0, sizeof *info);
    *nsteps = 0;
    info->algo = opt ? opt->path : EIN_PATH_AUTO;
    info->explicit_path = opt && opt->path_pairs;
    if (!info->explicit_path && (unsigned)info->algo > EIN_PATH_NAIVE)
        return ein_fail(EIN_ERR_ARG, "ein_options.path is %d (not an ein_path_algo)",
                        (int)info->algo);
    int64_t limit_bytes = opt ? opt->memory_limit : 0;
    if (limit_bytes < 0)
        return ein_fail(EIN_ERR_ARG, "ein_options.memory_limit is %lld (must be >= 0)",
                        (long long)limit_bytes);

    pctx *c = ein_malloc(sizeof *c);
    pair *path = ein_malloc((size_t)(n > 1 ? n : 1) * sizeof *path);
    if (!c || !path) {
        ein_free(c);
        ein_free(path);
        return ein_fail(EIN_ERR_NOMEM, "out of memory ordering %d operands", n);
    }
    c->n = n;
    c->limit = limit_bytes > 0 ? floor((double)limit_bytes / (double)esize) : INFINITY;
    c->out = (lset){{0, 0}};
    lset all = {{0, 0}};
    for (int l = 0; l < b->nlabels; l++) {
        c->ext[l] = (double)b->extent[l];
        if (b->live[l] && EIN_USES(b, n, l))
            ls_set(&c->out, l);
    }
    for (int k = 0; k < n; k++) {
        c->term[k] = (lset){{0, 0}};
        for (int l = 0; l < b->nlabels; l++)
            if (b->live[l] && EIN_USES(b, k, l))
                ls_set(&c->term[k], l);
        all = ls_or(all, c->term[k]);
    }
    /* The one-loop-nest cost numpy and opt_einsum report as "naive". */
    info->naive_flops = ls_size(c->ext, all) *
        ((n > 1 ? n - 1 : 1) + (ls_eq(all, c->out) ? 0 : 1));

    ein_status st = EIN_OK;
    /* Labels private to one operand are summed out before any pairing
     * (a pass over that operand, which also makes the pair a GEMM). */
    if (n >= 2) {
        lset twice, thrice;
        counts(c->term, NULL, n, &twice, &thrice);
        for (int k = 0; k < n; k++) {
            lset keep = ls_and(c->term[k], ls_or(c->out, twice));
            if (ls_eq(keep, c->term[k]))
                continue;
            ein_pathstep *ps = &steps[(*nsteps)++];
            ps->a = k;
            ps->b = -1;
            ps->keep = keep;
            ps->flops = 2 * ls_size(c->ext, c->term[k]);
            ps->size = ls_size(c->ext, keep);
            info->flops += ps->flops;
            info->largest = ps->size > info->largest ? ps->size : info->largest;
            c->term[k] = keep;
        }
        if (info->largest > c->limit) {
            st = ein_fail(EIN_ERR_LIMIT, "no contraction order fits memory_limit %lld "
                          "bytes: summing an operand's own labels first needs %.0f bytes",
                          (long long)limit_bytes, info->largest * (double)esize);
            goto done;
        }
    }

    if (n == 1) {
        ein_pathstep *ps = &steps[(*nsteps)++];
        ps->a = 0;
        ps->b = -1;
        ps->keep = c->out;
        ps->flops = ls_size(c->ext, c->term[0]) * (ls_eq(c->term[0], c->out) ? 1 : 2);
        ps->size = ls_size(c->ext, c->out);
        info->flops += ps->flops;
        if (info->explicit_path) {
            int np;
            st = explicit_path(c, opt->path_pairs, opt->path_len, path, &np);
        }
        goto done;
    }

    bool found = true;
    if (info->explicit_path) {
        int np;
        if ((st = explicit_path(c, opt->path_pairs, opt->path_len, path, &np)))
            goto done;
        /* The caller chose the order; the limit still applies to it. */
        double flops, big;
        if (!score(c, path, &flops, &big)) {
            st = ein_fail(EIN_ERR_NOMEM, "out of memory ordering %d operands", n);
            goto done;
        }
        found = big <= c->limit;
    } else {
        ein_path_algo algo = info->algo;
        if (algo == EIN_PATH_AUTO)
            algo = n <= EIN_PATH_AUTO_OPTIMAL ? EIN_PATH_OPTIMAL : EIN_PATH_GREEDY;
        info->algo = algo;
        switch (algo) {
        case EIN_PATH_OPTIMAL: {
            if (n > EIN_PATH_OPTIMAL_MAX) {
                st = ein_fail(EIN_ERR_ARG, "the optimal path search takes at most %d "
                              "operands (its time grows as 3^n); %d given: use greedy "
                              "or branch", EIN_PATH_OPTIMAL_MAX, n);
                goto done;
            }
            int r = optimal(c, path);
            if (r < 0) {
                st = ein_fail(EIN_ERR_NOMEM, "out of memory searching the optimal "
                              "order of %d operands", n);
                goto done;
            }
            found = r == 1;
            break;
        }
        case EIN_PATH_BRANCH: {
            bnb *s = ein_malloc(sizeof *s);
            if (!s) {
                st = ein_fail(EIN_ERR_NOMEM, "out of memory ordering %d operands", n);
                goto done;
            }
            s->c = c;
            s->nodes = 0;
            s->best_cost = INFINITY;
            memcpy(s->t, c->term, (size_t)n * sizeof *s->t);
            for (int i = 0; i < n; i++)
                s->alive[i] = true;
            /* Greedy's order is the bound to beat (when it fits). */
            double flops;
            if (greedy(c, info->naive_flops, s->best) && score(c, s->best, &flops, NULL))
                s->best_cost = flops;
            bnb_search(s, 0, 0);
            found = isfinite(s->best_cost);
            memcpy(path, s->best, (size_t)(n - 1) * sizeof *path);
            ein_free(s);
            break;
        }
        case EIN_PATH_NAIVE:
            /* Left to right: ((op0 op1) op2) ... ; the result keeps id 0. */
            for (int k = 1; k < n; k++)
                path[k - 1] = (pair){0, k};
            {
                double flops, big;
                if (!score(c, path, &flops, &big)) {
                    st = ein_fail(EIN_ERR_NOMEM, "out of memory ordering %d operands", n);
                    goto done;
                }
                found = big <= c->limit;
            }
            break;
        default:
            found = greedy(c, info->naive_flops, path);
            break;
        }
    }
    if (!found && !info->explicit_path && info->algo != EIN_PATH_NAIVE &&
        info->algo != EIN_PATH_OPTIMAL && n <= EIN_PATH_OPTIMAL_MAX) {
        /* A heuristic can corner itself under a limit that some order
         * meets: the exact search then finds the cheapest such order. */
        int r = optimal(c, path);
        if (r == 1) {
            found = true;
            info->algo = EIN_PATH_OPTIMAL;
        }
    }
    if (!found) {
        double best = smallest_largest(c);
        char lim[48], need[48];
        fmt_bytes(lim, sizeof lim, (double)limit_bytes);
        if (isnan(best)) {
            st = ein_fail(EIN_ERR_LIMIT, "no contraction order the %s path search "
                          "tried fits memory_limit %s (too many operands to find the "
                          "smallest achievable largest intermediate exactly)",
                          info->explicit_path ? "explicit" : ein_path_algo_name(info->algo),
                          lim);
        } else {
            fmt_bytes(need, sizeof need, best * (double)esize);
            st = ein_fail(EIN_ERR_LIMIT, "no contraction order fits memory_limit %s: "
                          "the smallest achievable largest intermediate is %s (%.0f "
                          "elements of %zu bytes)%s", lim, need, best, esize,
                          info->explicit_path || info->algo == EIN_PATH_NAIVE
                              ? "; the given order needs more" : "");
        }
        goto done;
    }
    int npre = *nsteps;
    ein_pathinfo before = *info;
    emit(c, path, steps, nsteps, info);
    if (limit_bytes > 0 && !info->explicit_path && info->algo != EIN_PATH_NAIVE) {
        /* Each intermediate fits; the workspace holds those alive at
         * once, so it must fit too. */
        double need = steps_workspace(steps, *nsteps, esize, base);
        if (need > (double)limit_bytes) {
            double cost, least;
            bool whole, whole_least = false;
            *nsteps = npre;
            *info = before;
            int r = ws_order(c, steps, npre, esize, base, (double)limit_bytes, false, path,
                             &cost, &whole);
            if (r > 0) {
                info->refit = true;
                emit(c, path, steps, nsteps, info);
                goto done;
            }
            if (r == 0 && whole)
                r = ws_order(c, steps, npre, esize, base, INFINITY, true, path, &least,
                             &whole_least);
            if (r < 0) {
                st = ein_fail(EIN_ERR_NOMEM, "out of memory ordering %d operands", n);
                goto done;
            }
            char lim[48], got[48], conv[64] = "";
            fmt_bytes(lim, sizeof lim, (double)limit_bytes);
            if (base)
                snprintf(conv, sizeof conv, ", above %zu bytes of converted operands", base);
            if (whole && r > 0 && whole_least) {
                fmt_bytes(got, sizeof got, least);
                st = ein_fail(EIN_ERR_LIMIT, "no contraction order fits memory_limit %s: "
                              "each intermediate can, but the workspace (the "
                              "intermediates alive at once%s) needs at least %s",
                              lim, conv, got);
            } else {
                fmt_bytes(got, sizeof got, need);
                char how[64];
                if (n <= WS_MAX_TERMS)
                    snprintf(how, sizeof how, "a search of %d pairs found none", WS_NODES);
                else
                    snprintf(how, sizeof how, "past %d operands no search runs", WS_MAX_TERMS);
                st = ein_fail(EIN_ERR_LIMIT, "no contraction order found fits memory_limit "
                              "%s: the %s order's workspace (the intermediates alive at "
                              "once%s) needs %s, and %s", lim,
                              ein_path_algo_name(info->algo), conv, got, how);
            }
        }
    }

done:
    info->plan_us = now_us() - t0;
    ein_free(c);
    ein_free(path);
    return st;
}

/* The greedy order with no limit (tests and the old interface). */
int ein_path_greedy(const ein_bound *b, ein_pathstep *steps)
{
    ein_options o = {0};
    o.path = EIN_PATH_GREEDY;
    ein_pathinfo info;
    int n = 0;
    if (ein_path_find(b, &o, 0, steps, &n, &info) != EIN_OK)
        return -1;
    return n;
}
