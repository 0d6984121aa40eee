/* rewrite.c — plan-level rewrites on the bound index table.
 * Squeeze: labels of extent 1 leave every loop nest (so ij,jk->ik with
 * k = 1 is planned as the GEMV it is); the output keeps its size-1
 * dimension because its strides come from the caller's view.
 * Unbroadcast: an operand that repeats itself along a label (stride 0,
 * a numpy broadcast of an extent-1 dimension or a view built that way)
 * is planned without that label when another operand supplies it, as if
 * the subscripts never gave it there: "ij,jk->ik" with B of shape
 * [1, n] sums A's rows and takes their outer product with B's row.
 * Fuse: two loops that every tensor of a step walks as one contiguous
 * run (stride[outer] == extent[inner] * stride[inner]) become one loop. */
#include <stdio.h>
#include <string.h>

#include "internal.h"

void ein_squeeze(ein_bound *b, char *squeezed, size_t cap)
{
    size_t w = 0;
    char nb[16];
    if (cap)
        squeezed[0] = '\0';
    for (int l = 0; l < b->nlabels; l++) {
        b->live[l] = b->extent[l] >= 0 && b->extent[l] != 1;
        if (b->extent[l] == 1 && w + 12 < cap)
            w += (size_t)snprintf(squeezed + w, cap - w, "%s%s",
                                  w ? " " : "", ein_label_name(l, nb));
    }
}

/* numpy sums the products over the repeated label literally; a sum
 * taken first rounds differently, as it does for a label the subscripts
 * give to one operand only ("ij,k->ik"), which the path sums first too.
 * The same data is read either way: the label's loop moved over none of
 * the operand's elements.  AVX2 table, AMD Zen 3, f64 "ij,jk->ik"
 * [512, 512] x [1, 512], REPL :time (up to two threads), median: 37.6
 * ms (the products summed along j in a loop nest) -> 129 us. */
void ein_unbroadcast(ein_bound *b, char *dropped, size_t cap)
{
    size_t w = 0;
    char nb[16];
    if (cap)
        dropped[0] = '\0';
    for (int l = 0; l < b->nlabels; l++) {
        if (b->extent[l] <= 1)
            continue;
        bool supplied = false;
        for (int t = 0; t < b->nops; t++)
            supplied |= EIN_USES(b, t, l) && EIN_STRIDE(b, t, l) != 0;
        if (!supplied)
            continue;
        for (int t = 0; t < b->nops; t++) {
            if (!EIN_USES(b, t, l) || EIN_STRIDE(b, t, l) != 0)
                continue;
            EIN_USES(b, t, l) = false;
            if (w + 24 < cap)
                w += (size_t)snprintf(dropped + w, cap - w, "%s%s in op%d", w ? ", " : "",
                                      ein_label_name(l, nb), t);
        }
    }
}

static bool fusable(const ein_loop *outer, const ein_loop *inner, int nt)
{
    for (int t = 0; t < nt; t++)
        if (outer->stride[t] != inner->extent * inner->stride[t])
            return false;
    return true;
}

/* Fuse within [0..nfree) and within [nfree..n) (a free and a summed loop
 * can never satisfy the stride rule: the output strides differ in being
 * zero).  Returns the new end of the range. */
static int fuse_range(ein_loop *loops, int lo, int hi, int nt)
{
    bool changed = true;
    while (changed) {
        changed = false;
        for (int a = lo; a < hi && !changed; a++)
            for (int b = lo; b < hi && !changed; b++) {
                if (a == b || !fusable(&loops[a], &loops[b], nt))
                    continue;
                ein_loop f = loops[b];
                f.extent = loops[a].extent * loops[b].extent;
                snprintf(f.name, sizeof f.name, "%.11s%.11s", loops[a].name, loops[b].name);
                /* The fused loop takes the outer loop's place. */
                loops[a] = f;
                memmove(&loops[b], &loops[b + 1], (size_t)(hi - b - 1) * sizeof *loops);
                hi--;
                changed = true;
            }
    }
    return hi;
}

int ein_fuse_loops(ein_loop *loops, int n, int nt, int *nfree)
{
    int free_end = fuse_range(loops, 0, *nfree, nt);
    int removed = *nfree - free_end;
    if (removed)
        memmove(&loops[free_end], &loops[*nfree], (size_t)(n - *nfree) * sizeof *loops);
    *nfree = free_end;
    return fuse_range(loops, free_end, n - removed, nt);
}
