/* path.c — the order in which three or more operands are contracted:
 * pairwise, greedily by FLOP cost (a full path optimizer is its own
 * issue).  Labels that only one operand carries, and that the result
 * does not keep, are summed out of that operand first. */
#include <string.h>

#include "internal.h"

typedef struct term {
    bool has[EIN_MAX_LABELS];
} term;

/* Cost of contracting a and b: the product of the extents of every label
 * either carries (multiply-adds), as a double so it cannot overflow. */
static double pair_cost(const ein_bound *b, const term *x, const term *y)
{
    double c = 1;
    for (int l = 0; l < b->nlabels; l++)
        if (x->has[l] || y->has[l])
            c *= (double)b->extent[l];
    return c;
}

int ein_path_greedy(const ein_bound *b, ein_pathstep *steps)
{
    int n = b->nops, nsteps = 0;
    term live[EIN_MAX_OPERANDS];
    bool out[EIN_MAX_LABELS] = {false};
    for (int l = 0; l < b->nlabels; l++)
        out[l] = b->live[l] && EIN_USES(b, b->nops, l);
    for (int k = 0; k < n; k++)
        for (int l = 0; l < b->nlabels; l++)
            live[k].has[l] = b->live[l] && EIN_USES(b, k, l);

    /* Labels private to one operand are summed out before any pairing. */
    if (n >= 2)
        for (int k = 0; k < n; k++) {
            bool private_sum = false;
            ein_pathstep *s = &steps[nsteps];
            memset(s->keep, 0, sizeof s->keep);
            for (int l = 0; l < b->nlabels; l++) {
                if (!live[k].has[l])
                    continue;
                bool elsewhere = out[l];
                for (int j = 0; j < n && !elsewhere; j++)
                    elsewhere = j != k && live[j].has[l];
                s->keep[l] = elsewhere;
                private_sum |= !elsewhere;
            }
            if (private_sum) {
                s->a = k;
                s->b = -1;
                memcpy(live[k].has, s->keep, sizeof s->keep);
                nsteps++;
            }
        }

    /* Terms are identified by their position in the original numbering;
     * a contraction's result replaces its first term. */
    bool alive[EIN_MAX_OPERANDS];
    for (int k = 0; k < n; k++)
        alive[k] = true;
    int count = n;
    while (count > 1) {
        int bi = -1, bj = -1;
        double best = 0, best_size = 0;
        for (int i = 0; i < n; i++) {
            if (!alive[i])
                continue;
            for (int j = i + 1; j < n; j++) {
                if (!alive[j])
                    continue;
                double c = pair_cost(b, &live[i], &live[j]);
                /* Ties go to the smaller intermediate. */
                double size = 1;
                for (int l = 0; l < b->nlabels; l++) {
                    if (!(live[i].has[l] || live[j].has[l]))
                        continue;
                    bool need = out[l];
                    for (int o = 0; o < n && !need; o++)
                        need = alive[o] && o != i && o != j && live[o].has[l];
                    if (need)
                        size *= (double)b->extent[l];
                }
                if (bi < 0 || c < best || (c == best && size < best_size)) {
                    bi = i; bj = j; best = c; best_size = size;
                }
            }
        }
        ein_pathstep *s = &steps[nsteps++];
        s->a = bi;
        s->b = bj;
        for (int l = 0; l < b->nlabels; l++) {
            bool need = false;
            if (live[bi].has[l] || live[bj].has[l]) {
                need = out[l];
                for (int o = 0; o < n && !need; o++)
                    need = alive[o] && o != bi && o != bj && live[o].has[l];
            }
            s->keep[l] = need;
        }
        memcpy(live[bi].has, s->keep, sizeof s->keep);
        alive[bj] = false;
        count--;
    }

    /* One operand, or one left that still differs from the output (a
     * diagonal, a transpose, a sum): a final unary step writes it.  With
     * two or more operands the last pairwise step already wrote the
     * output. */
    if (n == 1) {
        ein_pathstep *s = &steps[nsteps++];
        s->a = 0;
        s->b = -1;
        memcpy(s->keep, out, sizeof s->keep);
    }
    return nsteps;
}
