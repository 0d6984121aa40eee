/* test_bind.c — binding parsed subscripts to operand views (src/bind.c):
 * ranks and ellipsis dimensions, broadcasting, diagonal strides, the
 * output's shape, dtype promotion, and every rejection with its label,
 * extents and operands. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

static float dummy[64];

static ein_tensor view(int nd, const int64_t *shape, const int64_t *strides, ein_dtype dt)
{
    ein_tensor t = {dummy, dt, nd, shape, strides};
    return t;
}

/* Parse and bind; returns the status and leaves *b bound on success. */
static ein_status bind(const char *expr, int n, const ein_tensor *const *ops,
                       const ein_tensor *out, ein_bound *b)
{
    ein_expr e;
    ein_status st = ein_parse(expr, &e);
    if (st != EIN_OK)
        return st;
    st = ein_bind(&e, n, ops, out, b);
    ein_expr_free(&e);
    return st;
}

static int id(char c) { return c >= 'a' ? 26 + c - 'a' : c - 'A'; }

#define EXPECT_FAIL(st_, want, substr)                                          \
    do {                                                                        \
        cr_assert_eq((st_), (want), "status %d (%s), want %d: %s", (st_),       \
                     ein_status_str(st_), (want), ein_last_error());            \
        cr_assert(strstr(ein_last_error(), (substr)), "message '%s' lacks '%s'", \
                  ein_last_error(), (substr));                                  \
    } while (0)

Test(bind, matmul_extents_and_strides)
{
    int64_t sa[] = {3, 4}, sb[] = {4, 5};
    ein_tensor A = view(2, sa, NULL, EIN_F32), B = view(2, sb, NULL, EIN_F32);
    ein_bound b;
    cr_assert_eq(bind("ij,jk->ik", 2, (const ein_tensor *[]){&A, &B}, NULL, &b), EIN_OK);
    cr_assert_eq(b.extent[id('i')], 3);
    cr_assert_eq(b.extent[id('j')], 4);
    cr_assert_eq(b.extent[id('k')], 5);
    cr_assert_eq(EIN_STRIDE(&b, 0, id('i')), 4);
    cr_assert_eq(EIN_STRIDE(&b, 0, id('j')), 1);
    cr_assert_eq(EIN_STRIDE(&b, 1, id('j')), 5);
    cr_assert_eq(EIN_STRIDE(&b, 2, id('k')), 1);   /* C-order output */
    cr_assert_eq(EIN_STRIDE(&b, 2, id('i')), 5);
    cr_assert_eq(b.out_ndim, 2);
    cr_assert_eq(b.dtype, EIN_F32);
    ein_bound_free(&b);
}

Test(bind, diagonal_is_a_stride_sum)
{
    int64_t s[] = {3, 3}, st[] = {7, 2};
    ein_tensor A = view(2, s, st, EIN_F64);
    ein_bound b;
    cr_assert_eq(bind("ii->i", 1, (const ein_tensor *[]){&A}, NULL, &b), EIN_OK);
    cr_assert_eq(EIN_STRIDE(&b, 0, id('i')), 9);
    cr_assert_eq(b.out_shape[0], 3);
    ein_bound_free(&b);
}

Test(bind, size_one_broadcasts_with_stride_zero)
{
    int64_t sa[] = {3, 1}, sb[] = {4};
    ein_tensor A = view(2, sa, NULL, EIN_F32), B = view(1, sb, NULL, EIN_F32);
    ein_bound b;
    cr_assert_eq(bind("ij,j", 2, (const ein_tensor *[]){&A, &B}, NULL, &b), EIN_OK,
                 "%s", ein_last_error());
    cr_assert_eq(b.extent[id('j')], 4);
    cr_assert_eq(EIN_STRIDE(&b, 0, id('j')), 0);
    cr_assert_eq(EIN_STRIDE(&b, 1, id('j')), 1);
    cr_assert_eq(b.out_ndim, 1);
    cr_assert_eq(b.out_shape[0], 3);
    ein_bound_free(&b);
}

Test(bind, ellipsis_broadcasts_different_ranks)
{
    int64_t sa[] = {5, 1, 2, 3}, sb[] = {4, 3, 2};
    ein_tensor A = view(4, sa, NULL, EIN_F32), B = view(3, sb, NULL, EIN_F64);
    ein_bound b;
    cr_assert_eq(bind("...ij,...jk", 2, (const ein_tensor *[]){&A, &B}, NULL, &b), EIN_OK,
                 "%s", ein_last_error());
    cr_assert_eq(b.nell, 2);
    int64_t want[] = {5, 4, 2, 2};
    cr_assert_eq(b.out_ndim, 4);
    for (int d = 0; d < 4; d++)
        cr_assert_eq(b.out_shape[d], want[d], "dim %d: %lld", d, (long long)b.out_shape[d]);
    cr_assert_eq(b.dtype, EIN_F64, "f32 with f64 promotes to f64");
    /* B's one ellipsis dimension aligns with A's second. */
    cr_assert_eq(EIN_STRIDE(&b, 1, EIN_ELL_BASE + 0), 0);
    cr_assert_eq(EIN_STRIDE(&b, 1, EIN_ELL_BASE + 1), 6);
    ein_bound_free(&b);
}

Test(bind, zero_size_and_zero_d)
{
    int64_t sa[] = {2, 0}, sb[] = {0, 3};
    ein_tensor A = view(2, sa, NULL, EIN_F32), B = view(2, sb, NULL, EIN_F32);
    ein_bound b;
    cr_assert_eq(bind("ij,jk->ik", 2, (const ein_tensor *[]){&A, &B}, NULL, &b), EIN_OK);
    cr_assert_eq(b.extent[id('j')], 0);
    cr_assert_eq(b.out_shape[0], 2);
    cr_assert_eq(b.out_shape[1], 3);
    ein_bound_free(&b);
    ein_tensor s = view(0, NULL, NULL, EIN_F64);
    cr_assert_eq(bind(",->", 2, (const ein_tensor *[]){&s, &s}, NULL, &b), EIN_OK);
    cr_assert_eq(b.out_ndim, 0);
    ein_bound_free(&b);
}

Test(bind, operand_count)
{
    int64_t s[] = {2};
    ein_tensor A = view(1, s, NULL, EIN_F32);
    ein_bound b;
    EXPECT_FAIL(bind("i,i->i", 1, (const ein_tensor *[]){&A}, NULL, &b),
                EIN_ERR_OPERANDS, "name 2 operands but 1 was given");
    EXPECT_FAIL(bind("i->i", 3, (const ein_tensor *[]){&A, &A, &A}, NULL, &b),
                EIN_ERR_OPERANDS, "name 1 operand but 3 were given");
}

Test(bind, rank_errors_point_at_the_operand)
{
    int64_t s1[] = {2}, s3[] = {2, 3, 4};
    ein_tensor A = view(1, s1, NULL, EIN_F32), C = view(3, s3, NULL, EIN_F32);
    ein_bound b;
    EXPECT_FAIL(bind("i,ij", 2, (const ein_tensor *[]){&A, &A}, NULL, &b),
                EIN_ERR_RANK, "operand 1 has 2 subscripts but rank 1");
    cr_assert_eq(ein_last_error_offset(), 2);
    EXPECT_FAIL(bind("ij", 1, (const ein_tensor *[]){&C}, NULL, &b),
                EIN_ERR_RANK, "operand 0 has 2 subscripts but rank 3 (add '...'");
    EXPECT_FAIL(bind("ij...k", 1, (const ein_tensor *[]){&A}, NULL, &b),
                EIN_ERR_RANK, "3 subscripts besides its ellipsis but rank 1");
    EXPECT_FAIL(bind("...ij->ij", 1, (const ein_tensor *[]){&C}, NULL, &b),
                EIN_ERR_RANK, "ellipsis covers 1 dimension but the output has no '...'");
}

Test(bind, extents_that_disagree_name_label_extents_operands)
{
    int64_t s3[] = {3}, s4[] = {4};
    ein_tensor A = view(1, s3, NULL, EIN_F32), B = view(1, s4, NULL, EIN_F32);
    ein_bound b;
    EXPECT_FAIL(bind("i,i", 2, (const ein_tensor *[]){&A, &B}, NULL, &b), EIN_ERR_SHAPE,
                "label 'i' has extent 3 in operand 0 (dimension 0) but 4 in operand 1 "
                "(dimension 0)");
    cr_assert_eq(ein_last_error_offset(), 2);
    cr_assert(strstr(ein_last_error(), "\n  i,i\n    ^"), "%s", ein_last_error());
}

Test(bind, diagonal_needs_equal_extents)
{
    int64_t s[] = {1, 3};
    ein_tensor A = view(2, s, NULL, EIN_F32);
    ein_bound b;
    EXPECT_FAIL(bind("ii", 1, (const ein_tensor *[]){&A}, NULL, &b), EIN_ERR_SHAPE,
                "operand 0 repeats label 'i' with extents 1 (dimension 0) and 3 (dimension 1)");
}

Test(bind, ellipsis_extents_disagree)
{
    int64_t sa[] = {2, 3}, sb[] = {4, 3};
    ein_tensor A = view(2, sa, NULL, EIN_F32), B = view(2, sb, NULL, EIN_F32);
    ein_bound b;
    EXPECT_FAIL(bind("...i,...i", 2, (const ein_tensor *[]){&A, &B}, NULL, &b),
                EIN_ERR_SHAPE, "label '...0' has extent 2 in operand 0");
}

Test(bind, output_checks)
{
    int64_t sa[] = {2, 3}, so[] = {3, 2}, so_ok[] = {2}, zs[] = {0}, ov[] = {1, 1};
    int64_t sq[] = {2, 2};
    ein_tensor A = view(2, sa, NULL, EIN_F64);
    ein_bound b;
    ein_tensor O = view(2, so, NULL, EIN_F64);
    EXPECT_FAIL(bind("ij->ij", 1, (const ein_tensor *[]){&A}, &O, &b), EIN_ERR_SHAPE,
                "the output has shape [3, 2] but the result has shape [2, 3]");
    ein_tensor O32 = view(1, so_ok, NULL, EIN_F32);
    EXPECT_FAIL(bind("ij->i", 1, (const ein_tensor *[]){&A}, &O32, &b), EIN_ERR_DTYPE,
                "cannot store a float64 result in a float32 output");
    ein_tensor Oz = view(1, so_ok, zs, EIN_F64);
    EXPECT_FAIL(bind("ij->i", 1, (const ein_tensor *[]){&A}, &Oz, &b), EIN_ERR_ALIAS,
                "overlap");
    ein_tensor Oo = view(2, sq, ov, EIN_F64);
    int64_t s22[] = {2, 2};
    ein_tensor A2 = view(2, s22, NULL, EIN_F64);
    EXPECT_FAIL(bind("ij->ij", 1, (const ein_tensor *[]){&A2}, &Oo, &b), EIN_ERR_ALIAS,
                "overlap");
    /* Interleaved strides that do meet: (2, 1) on 3x3 reaches offset 2
     * twice; the exact test names the offset. */
    int64_t s33[] = {3, 3}, il[] = {2, 1};
    ein_tensor A33 = view(2, s33, NULL, EIN_F64), Oi = view(2, s33, il, EIN_F64);
    EXPECT_FAIL(bind("ij->ij", 1, (const ein_tensor *[]){&A33}, &Oi, &b), EIN_ERR_ALIAS,
                "two of its indices reach element offset 2");
    /* f32 inputs may go into an f64 output, which then sets the dtype. */
    int64_t s2[] = {2};
    ein_tensor F = view(2, sa, NULL, EIN_F32), O64 = view(1, s2, NULL, EIN_F64);
    cr_assert_eq(bind("ij->i", 1, (const ein_tensor *[]){&F}, &O64, &b), EIN_OK);
    cr_assert_eq(b.dtype, EIN_F64);
    ein_bound_free(&b);
    /* A zero stride on an extent-1 output dimension is harmless. */
    int64_t s21[] = {2, 1}, st21[] = {1, 0};
    ein_tensor A21 = view(2, s21, NULL, EIN_F64), O21 = view(2, s21, st21, EIN_F64);
    cr_assert_eq(bind("ij->ij", 1, (const ein_tensor *[]){&A21}, &O21, &b), EIN_OK,
                 "%s", ein_last_error());
    ein_bound_free(&b);
}

Test(bind, bad_views)
{
    int64_t neg[] = {-1}, s[] = {2};
    ein_bound b;
    ein_tensor N = view(1, neg, NULL, EIN_F32);
    EXPECT_FAIL(bind("i", 1, (const ein_tensor *[]){&N}, NULL, &b), EIN_ERR_ARG,
                "operand 0 has negative extent -1 in dimension 0");
    EXPECT_FAIL(bind("i", 1, (const ein_tensor *[]){NULL}, NULL, &b), EIN_ERR_ARG,
                "operand 0 is NULL");
    ein_tensor D = view(1, s, NULL, (ein_dtype)7);
    EXPECT_FAIL(bind("i", 1, (const ein_tensor *[]){&D}, NULL, &b), EIN_ERR_DTYPE,
                "unsupported dtype 7");
    ein_tensor R = view(EIN_MAX_DIMS + 1, s, NULL, EIN_F32);
    EXPECT_FAIL(bind("i", 1, (const ein_tensor *[]){&R}, NULL, &b), EIN_ERR_ARG,
                "rank 65");
    ein_tensor S = view(1, NULL, NULL, EIN_F32);
    EXPECT_FAIL(bind("i", 1, (const ein_tensor *[]){&S}, NULL, &b), EIN_ERR_ARG, "no shape");
}

Test(bind, overflow)
{
    int64_t big[] = {(int64_t)1 << 40, (int64_t)1 << 40}, zs[] = {0, 0};
    ein_bound b;
    ein_tensor A = view(2, big, zs, EIN_F32);
    EXPECT_FAIL(bind("ij", 1, (const ein_tensor *[]){&A}, NULL, &b), EIN_ERR_OVERFLOW,
                "element count overflows int64");
    /* Each operand is countable but the iteration space is not. */
    int64_t half[] = {(int64_t)1 << 32}, z1[] = {0};
    ein_tensor H = view(1, half, z1, EIN_F32);
    EXPECT_FAIL(bind("i,j", 2, (const ein_tensor *[]){&H, &H}, NULL, &b), EIN_ERR_OVERFLOW,
                "overflows int64");
    int64_t s4[] = {4}, huge[] = {(int64_t)1 << 62};
    ein_tensor F = view(1, s4, huge, EIN_F32);
    EXPECT_FAIL(bind("i", 1, (const ein_tensor *[]){&F}, NULL, &b), EIN_ERR_OVERFLOW,
                "reaches past int64 bytes");
}

/* Found by fuzz_plan: a zero extent makes the element count 0, but the C
 * strides count zeros as 1, so (3, 0, 2^63-1) overflowed while the strides
 * were computed (signed overflow, UB).  numpy refuses such shapes too. */
Test(bind, zero_extent_does_not_hide_a_stride_overflow)
{
    int64_t shp[] = {3, 0, INT64_MAX};
    ein_bound b;
    ein_tensor A = view(3, shp, NULL, EIN_F32);
    EXPECT_FAIL(bind("ijk", 1, (const ein_tensor *[]){&A}, NULL, &b), EIN_ERR_OVERFLOW,
                "operand 0 has shape [3, 0, 9223372036854775807] whose C strides "
                "overflow int64");
    ein_tensor O = A;
    int64_t s1[] = {1};
    ein_tensor one = view(1, s1, NULL, EIN_F32);
    EXPECT_FAIL(bind("i->", 1, (const ein_tensor *[]){&one}, &O, &b), EIN_ERR_OVERFLOW,
                "the output has shape");
    /* The result's C strides, when the library lays the output out. */
    int64_t big[] = {(int64_t)1 << 40}, zero[] = {0};
    ein_tensor I = view(1, big, NULL, EIN_F32), Z = view(1, zero, NULL, EIN_F32);
    EXPECT_FAIL(bind("i,j,k->ijk", 3, (const ein_tensor *[]){&I, &Z, &I}, NULL, &b),
                EIN_ERR_OVERFLOW, "the result's shape [1099511627776, 0, 1099511627776] "
                "overflows int64");
}

/* Found by fuzz_parse: 64 ellipsis dimensions plus an output letter were
 * written into the 64-entry out_label array before the rank was checked. */
Test(bind, ellipsis_and_letters_past_the_rank_limit)
{
    static int64_t ones[EIN_MAX_DIMS];
    for (int d = 0; d < EIN_MAX_DIMS; d++)
        ones[d] = 1;
    int64_t s2[] = {2};
    ein_bound b;
    ein_tensor E = view(EIN_MAX_DIMS, ones, NULL, EIN_F32), A = view(1, s2, NULL, EIN_F32);
    EXPECT_FAIL(bind("...,a->...a", 2, (const ein_tensor *[]){&E, &A}, NULL, &b),
                EIN_ERR_RANK, "the result would have 65 dimensions (limit 64)");
    EXPECT_FAIL(bind("...,a", 2, (const ein_tensor *[]){&E, &A}, NULL, &b),
                EIN_ERR_RANK, "the result would have 65 dimensions (limit 64)");
}

/* A view whose last byte is exactly addressable but whose end (one past
 * the last element, which the plan's overlap test computes) is not:
 * stride (2^63-1)/8 elements of 8 bytes on extent 2. */
Test(bind, view_end_must_fit_int64_bytes)
{
    int64_t s2[] = {2}, st[] = {INT64_MAX / 8};
    ein_bound b;
    ein_tensor A = view(1, s2, st, EIN_F64);
    EXPECT_FAIL(bind("i", 1, (const ein_tensor *[]){&A}, NULL, &b), EIN_ERR_OVERFLOW,
                "operand 0: stride 1152921504606846975 in dimension 0 reaches past "
                "int64 bytes");
}

/* The same empty view on a diagonal: its two strides were summed (a
 * signed overflow) though no element is ever read.  An empty view's
 * strides are now replaced by C strides. */
Test(bind, empty_view_strides_are_not_summed)
{
    int64_t shp[] = {0, 0}, st[] = {INT64_MIN, INT64_MIN};
    ein_bound b;
    ein_tensor A = view(2, shp, st, EIN_F32);
    cr_assert_eq(bind("ii->i", 1, (const ein_tensor *[]){&A}, NULL, &b), EIN_OK, "%s",
                 ein_last_error());
    cr_assert_eq(b.out_shape[0], 0);
    ein_bound_free(&b);
}

/* Found by fuzz_plan after the fix above: an empty view's C strides are
 * bounded one by one, but 16 of them on one diagonal label still summed
 * past int64 (16 x 2^59).  An empty view now binds with zero strides:
 * nothing is read through them. */
Test(bind, empty_view_diagonal_of_c_strides)
{
    int64_t shp[17];
    for (int d = 0; d < 16; d++)
        shp[d] = 0;
    shp[16] = (int64_t)1 << 59;
    ein_bound b;
    ein_tensor A = view(17, shp, NULL, EIN_F32);
    cr_assert_eq(bind("iiiiiiiiiiiiiiii...", 1, (const ein_tensor *[]){&A}, NULL, &b),
                 EIN_OK, "%s", ein_last_error());
    cr_assert_eq(EIN_STRIDE(&b, 0, id('i')), 0);
    ein_bound_free(&b);
}
