/* test_rewrite.c — the plan-level rewrites (src/rewrite.c): squeeze
 * takes extent-1 labels out of every loop nest; fusion merges loops that
 * every tensor walks as one contiguous run, and nothing else. */
#include <criterion/criterion.h>
#include <string.h>

#include "internal.h"

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
