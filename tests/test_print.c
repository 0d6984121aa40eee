/* test_print.c — covers src/cli/print.c beyond what test_cli.c checks of
 * cli_repr(): numpy's str() layout, print options (precision, threshold,
 * edgeitems, line width), and Python's repr() of floats, against texts
 * numpy 2 and CPython print for the same values. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "print.h"

static void want_text(const ein_tensor *t, const print_opts *o, int repr, const char *want)
{
    char *s = print_tensor(t, o, repr);
    cr_assert_not_null(s);
    cr_assert_str_eq(s, want);
    free(s);
}

Test(print, str_layout)
{
    double a[] = { 1, 2, 3, 4, 5, 6 };
    ein_tensor m = { a, EIN_F64, 2, (const int64_t[]){ 2, 3 }, NULL };
    want_text(&m, NULL, 0, "[[1. 2. 3.]\n [4. 5. 6.]]");
    want_text(&m, NULL, 1, "array([[1., 2., 3.],\n       [4., 5., 6.]])");
    ein_tensor c = { a, EIN_F64, 3, (const int64_t[]){ 2, 1, 3 }, NULL };
    want_text(&c, NULL, 0, "[[[1. 2. 3.]]\n\n [[4. 5. 6.]]]");
    /* transposed through strides */
    ein_tensor t = { a, EIN_F64, 2, (const int64_t[]){ 3, 2 }, (const int64_t[]){ 1, 3 } };
    want_text(&t, NULL, 0, "[[1. 4.]\n [2. 5.]\n [3. 6.]]");
    float f[] = { 0.1f, -2.5f };
    ein_tensor v = { f, EIN_F32, 1, (const int64_t[]){ 2 }, NULL };
    want_text(&v, NULL, 0, "[ 0.1 -2.5]");
    want_text(&v, NULL, 1, "array([ 0.1, -2.5], dtype=float32)");
    double z = 2.5;
    ein_tensor s0 = { &z, EIN_F64, 0, NULL, NULL };
    want_text(&s0, NULL, 0, "2.5");
    want_text(&s0, NULL, 1, "array(2.5)");
    ein_tensor e = { a, EIN_F64, 2, (const int64_t[]){ 0, 3 }, NULL };
    want_text(&e, NULL, 0, "[]");
}

Test(print, options)
{
    double a[] = { 1.0 / 3, 2.0 / 3, 1 };
    ein_tensor v = { a, EIN_F64, 1, (const int64_t[]){ 3 }, NULL };
    print_opts o = print_defaults;
    o.precision = 3;
    want_text(&v, &o, 1, "array([0.333, 0.667, 1.   ])");
    o.precision = 0;
    want_text(&v, &o, 0, "[0. 1. 1.]");
    /* threshold and edgeitems: numpy.set_printoptions(threshold=4, edgeitems=1) */
    double r[10];
    for (int i = 0; i < 10; i++)
        r[i] = i;
    ein_tensor rv = { r, EIN_F64, 1, (const int64_t[]){ 10 }, NULL };
    o = print_defaults;
    o.threshold = 4;
    o.edgeitems = 1;
    want_text(&rv, &o, 1, "array([0., ..., 9.])");
    want_text(&rv, &o, 0, "[0. ... 9.]");
    /* a narrow line wraps; the repr's hanging indent is 7 */
    o = print_defaults;
    o.linewidth = 20;
    want_text(&rv, &o, 1, "array([0., 1., 2.,\n       3., 4., 5.,\n       6., 7., 8.,\n       9.])");
}

Test(print, python_float_repr)
{
    struct { double x; int f32; const char *want; } cases[] = {
        { 0.0, 0, "0.0" },        { -0.0, 0, "-0.0" },       { 1.0, 0, "1.0" },
        { 0.1, 0, "0.1" },        { 1.0 / 3, 0, "0.3333333333333333" },
        { 1e-5, 0, "1e-05" },     { 1.5e-7, 0, "1.5e-07" },  { 1e-4, 0, "0.0001" },
        { 123456789.0, 0, "123456789.0" }, { 1e16, 0, "1e+16" },
        { 1.5e16, 0, "1.5e+16" }, { 9999999999999998.0, 0, "9999999999999998.0" },
        { 2.5e300, 0, "2.5e+300" }, { -7.25, 0, "-7.25" },
        { (double)0.1f, 1, "0.1" }, { (double)(1.0f / 3), 1, "0.33333334" },
        { NAN, 0, "nan" },        { INFINITY, 0, "inf" },    { -INFINITY, 0, "-inf" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char buf[64];
        print_pyfloat(buf, sizeof buf, cases[i].x, cases[i].f32);
        cr_assert_str_eq(buf, cases[i].want, "case %zu", i);
    }
}
