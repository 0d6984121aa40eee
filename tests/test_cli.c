/* test_cli.c — covers src/cli/cli.c: the numpy-style printer in process,
 * and the einsum program end to end (spawned, stdout and stderr captured
 * to files): results, -o files, Fortran and big-endian inputs, --explain,
 * usage, and every failure path leaving no output file behind. */
#define _POSIX_C_SOURCE 200809L

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "npy.h"
#include "repl.h"
#include "support.h"

#ifndef EIN_CLI_PATH
#define EIN_CLI_PATH "einsum"
#endif
#ifndef EIN_TEST_TMPDIR
#define EIN_TEST_TMPDIR "/tmp"
#endif

extern char **environ;

/* ------------------------------------------------------------------ */
/* helpers                                                             */

/* Scratch paths unique to this worker process; each call gets its own
 * buffer until 32 more calls have been made. */
static const char *tpath(const char *name)
{
    static char bufs[32][512];
    static int k;
    char *b = bufs[k++ % 32];
    snprintf(b, 512, "%s/cli_%ld_%s", EIN_TEST_TMPDIR, (long)getpid(), name);
    return b;
}

static char *slurp(const char *path)
{
    FILE *fp = fopen(path, "rb");
    cr_assert_not_null(fp, "cannot open %s", path);
    char *buf = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (n + 4096 + 1 > cap) {
            cap = cap ? cap * 2 : 8192;
            buf = realloc(buf, cap);
            cr_assert_not_null(buf);
        }
        size_t r = fread(buf + n, 1, 4096, fp);
        n += r;
        if (r == 0)
            break;
    }
    fclose(fp);
    buf[n] = '\0';
    return buf;
}

typedef struct run_result {
    int   status;   /* exit status, or 128 + signal */
    char *out, *err;
} run_result;

/* Run the einsum program with argv (NULL-terminated, without argv[0])
 * and stdin from the file `in`. */
static run_result run_in(const char *const *args, const char *in)
{
    const char *argv[64];
    int n = 0;
    argv[n++] = EIN_CLI_PATH;
    while (*args && n < 63)
        argv[n++] = *args++;
    argv[n] = NULL;

    char outp[512], errp[512];
    /* not through tpath(): its buffers hold the caller's arguments */
    snprintf(outp, sizeof outp, "%s/cli_%ld_stdout.txt", EIN_TEST_TMPDIR, (long)getpid());
    snprintf(errp, sizeof errp, "%s/cli_%ld_stderr.txt", EIN_TEST_TMPDIR, (long)getpid());
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, outp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&fa, 2, errp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&fa, 0, in, O_RDONLY, 0);
    pid_t pid;
    int rc = posix_spawn(&pid, EIN_CLI_PATH, &fa, NULL, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    cr_assert_eq(rc, 0, "cannot run %s: %s", EIN_CLI_PATH, strerror(rc));
    int st;
    while (waitpid(pid, &st, 0) < 0)
        cr_assert_eq(errno, EINTR);
    run_result r;
    r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    r.out = slurp(outp);
    r.err = slurp(errp);
    unlink(outp);
    unlink(errp);
    return r;
}

static run_result run(const char *const *args)
{
    return run_in(args, "/dev/null");
}

static void run_free(run_result *r)
{
    free(r->out);
    free(r->err);
}

static void save(const char *path, ein_dtype dt, int ndim, const int64_t *shape,
                 const void *data)
{
    ein_tensor t = { (void *)data, dt, ndim, shape, NULL };
    char msg[512];
    cr_assert_eq(npy_write_file(path, &t, msg, sizeof msg), 0, "%s", msg);
}

/* A .npy file from raw header text and data bytes (v1.0). */
static void save_raw(const char *path, const char *hdr, const void *data, size_t nd)
{
    size_t h = strlen(hdr), hl = h + 1, pad = (64 - (10 + hl) % 64) % 64;
    hl += pad;
    FILE *fp = fopen(path, "wb");
    cr_assert_not_null(fp);
    fwrite("\x93NUMPY\x01\x00", 1, 8, fp);
    fputc((int)(hl & 0xff), fp);
    fputc((int)(hl >> 8), fp);
    fwrite(hdr, 1, h, fp);
    for (size_t i = 0; i < pad; i++)
        fputc(' ', fp);
    fputc('\n', fp);
    if (nd)
        fwrite(data, 1, nd, fp);
    fclose(fp);
}

static int exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

#define assert_has(hay, needle) \
    cr_assert(strstr((hay), (needle)) != NULL, "'%s' lacks '%s'", (hay), (needle))

/* A, x for y = A x: A = [[1, 2, 3], [4, 5, 6]], x = [1, 0, -1] -> [-2, -2] */
static const double A64[6] = { 1, 2, 3, 4, 5, 6 };
static const double X64[3] = { 1, 0, -1 };
static const int64_t SA[2] = { 2, 3 }, SX[1] = { 3 };

static void write_matvec(void)
{
    save(tpath("A.npy"), EIN_F64, 2, SA, A64);
    save(tpath("x.npy"), EIN_F64, 1, SX, X64);
}

/* ------------------------------------------------------------------ */
/* the printer, in process (expected strings come from numpy 1.24)     */

static void expect_repr(ein_dtype dt, int ndim, const int64_t *shape, const double *vals,
                        const char *want)
{
    int64_t n = 1;
    for (int i = 0; i < ndim; i++)
        n *= shape[i];
    void *data = malloc((size_t)(n ? n : 1) * 8);
    for (int64_t i = 0; i < n; i++) {
        if (dt == EIN_F32)
            ((float *)data)[i] = (float)vals[i];
        else
            ((double *)data)[i] = vals[i];
    }
    ein_tensor t = { data, dt, ndim, shape, NULL };
    char *got = cli_repr(&t);
    cr_assert_not_null(got);
    cr_assert_str_eq(got, want, "\n got:\n%s\nwant:\n%s", got, want);
    free(got);
    free(data);
}

Test(repr, basics)
{
    const double v4[4] = { 1, 2, 3, 4 };
    const int64_t s22[2] = { 2, 2 }, s2[1] = { 2 }, s1[1] = { 1 }, s3[1] = { 3 };
    expect_repr(EIN_F32, 2, s22, v4, "array([[1., 2.],\n       [3., 4.]], dtype=float32)");
    expect_repr(EIN_F64, 2, s22, v4, "array([[1., 2.],\n       [3., 4.]])");
    const double three = 3;
    expect_repr(EIN_F64, 0, NULL, &three, "array(3.)");
    expect_repr(EIN_F32, 0, NULL, &three, "array(3., dtype=float32)");
    const double v[2] = { 1, 2.5 };
    expect_repr(EIN_F64, 1, s2, v, "array([1. , 2.5])");
    const double tenth = 0.1;
    expect_repr(EIN_F32, 1, s1, &tenth, "array([0.1], dtype=float32)");
    const double third = 1.0 / 3;
    expect_repr(EIN_F64, 1, s1, &third, "array([0.33333333])");
    expect_repr(EIN_F32, 1, s1, &third, "array([0.33333334], dtype=float32)");
    const double negz = -0.0;
    expect_repr(EIN_F64, 1, s1, &negz, "array([-0.])");
    const double big[2] = { 1e7, 1e5 };
    expect_repr(EIN_F64, 1, s2, big, "array([10000000.,   100000.])");
    const double f32int = 91709296.0;
    expect_repr(EIN_F32, 1, s1, &f32int, "array([91709296.], dtype=float32)");
    const double nf[3] = { NAN, INFINITY, -INFINITY };
    expect_repr(EIN_F64, 1, s3, nf, "array([ nan,  inf, -inf])");
    const double n1[2] = { NAN, 1 };
    expect_repr(EIN_F64, 1, s2, n1, "array([nan,  1.])");
}

Test(repr, scientific)
{
    const int64_t s2[1] = { 2 }, s1[1] = { 1 };
    const double a[2] = { 1e-5, 1 }, b[2] = { 1.5e-5, 1 }, c[2] = { 1e5, 1e100 },
                 d[2] = { 0, 1e-5 }, e[2] = { 1e8, 1 }, f[2] = { NAN, 1e-6 };
    expect_repr(EIN_F64, 1, s2, a, "array([1.e-05, 1.e+00])");
    expect_repr(EIN_F64, 1, s2, b, "array([1.5e-05, 1.0e+00])");
    expect_repr(EIN_F64, 1, s2, c, "array([1.e+005, 1.e+100])");
    expect_repr(EIN_F64, 1, s2, d, "array([0.e+00, 1.e-05])");
    expect_repr(EIN_F64, 1, s2, e, "array([1.e+08, 1.e+00])");
    expect_repr(EIN_F64, 1, s2, f, "array([   nan, 1.e-06])");
    const double g = 123456789.0;
    expect_repr(EIN_F64, 1, s1, &g, "array([1.23456789e+08])");
    /* float32's extra digits are its exact value's, not zeros */
    const double h[2] = { 5.4446238e-05, -1.5405705e-05 };
    expect_repr(EIN_F32, 1, s2, h, "array([ 5.4446238e-05, -1.5405705e-05], dtype=float32)");
}

Test(repr, empty)
{
    const int64_t s03[2] = { 0, 3 }, s0[1] = { 0 }, s20[3] = { 2, 0, 4 };
    expect_repr(EIN_F32, 2, s03, NULL, "array([], shape=(0, 3), dtype=float32)");
    expect_repr(EIN_F64, 1, s0, NULL, "array([], dtype=float64)");
    expect_repr(EIN_F64, 3, s20, NULL, "array([], shape=(2, 0, 4), dtype=float64)");
}

Test(repr, layout_wrapping_and_blocks)
{
    double v[30];
    for (int i = 0; i < 30; i++)
        v[i] = i;
    const int64_t s234[3] = { 2, 3, 4 };
    expect_repr(EIN_F64, 3, s234, v,
                "array([[[ 0.,  1.,  2.,  3.],\n"
                "        [ 4.,  5.,  6.,  7.],\n"
                "        [ 8.,  9., 10., 11.]],\n"
                "\n"
                "       [[12., 13., 14., 15.],\n"
                "        [16., 17., 18., 19.],\n"
                "        [20., 21., 22., 23.]]])");
    for (int i = 0; i < 30; i++)
        v[i] = i * 1.1;
    const int64_t s30[1] = { 30 };
    expect_repr(EIN_F64, 1, s30, v,
                "array([ 0. ,  1.1,  2.2,  3.3,  4.4,  5.5,  6.6,  7.7,  8.8,  9.9, 11. ,\n"
                "       12.1, 13.2, 14.3, 15.4, 16.5, 17.6, 18.7, 19.8, 20.9, 22. , 23.1,\n"
                "       24.2, 25.3, 26.4, 27.5, 28.6, 29.7, 30.8, 31.9])");
    /* the dtype moves to its own line when the last line is full */
    double w[20];
    for (int i = 0; i < 20; i++)
        w[i] = (double)(float)(i / 19.0);
    const int64_t s20[1] = { 20 };
    expect_repr(EIN_F32, 1, s20, w,
                "array([0.        , 0.05263158, 0.10526316, 0.15789473, 0.21052632,\n"
                "       0.2631579 , 0.31578946, 0.36842105, 0.42105263, 0.47368422,\n"
                "       0.5263158 , 0.57894737, 0.6315789 , 0.68421054, 0.7368421 ,\n"
                "       0.7894737 , 0.84210527, 0.8947368 , 0.94736844, 1.        ],\n"
                "      dtype=float32)");
}

Test(repr, summarised)
{
    double *v = malloc(2000 * sizeof *v);
    for (int i = 0; i < 2000; i++)
        v[i] = i;
    const int64_t s1[1] = { 2000 }, s2[2] = { 40, 50 };
    expect_repr(EIN_F64, 1, s1, v,
                "array([0.000e+00, 1.000e+00, 2.000e+00, ..., 1.997e+03, 1.998e+03,\n"
                "       1.999e+03])");
    expect_repr(EIN_F64, 2, s2, v,
                "array([[0.000e+00, 1.000e+00, 2.000e+00, ..., 4.700e+01, 4.800e+01,\n"
                "        4.900e+01],\n"
                "       [5.000e+01, 5.100e+01, 5.200e+01, ..., 9.700e+01, 9.800e+01,\n"
                "        9.900e+01],\n"
                "       [1.000e+02, 1.010e+02, 1.020e+02, ..., 1.470e+02, 1.480e+02,\n"
                "        1.490e+02],\n"
                "       ...,\n"
                "       [1.850e+03, 1.851e+03, 1.852e+03, ..., 1.897e+03, 1.898e+03,\n"
                "        1.899e+03],\n"
                "       [1.900e+03, 1.901e+03, 1.902e+03, ..., 1.947e+03, 1.948e+03,\n"
                "        1.949e+03],\n"
                "       [1.950e+03, 1.951e+03, 1.952e+03, ..., 1.997e+03, 1.998e+03,\n"
                "        1.999e+03]])");
    /* 1000 elements is not summarised; 1001 is */
    ein_tensor t = { v, EIN_F64, 1, (const int64_t[]){ 1000 }, NULL };
    char *s = cli_repr(&t);
    cr_assert(strstr(s, "...") == NULL);
    free(s);
    t.shape = (const int64_t[]){ 1001 };
    s = cli_repr(&t);
    cr_assert(strstr(s, "...") != NULL);
    free(s);
    free(v);
}

Test(repr, strided_views)
{
    /* a Fortran-strided 2x3 view over 1..6 prints as [[1,3,5],[2,4,6]] */
    const double d[6] = { 1, 2, 3, 4, 5, 6 };
    const int64_t shape[2] = { 2, 3 }, strides[2] = { 1, 2 };
    ein_tensor t = { (void *)d, EIN_F64, 2, shape, strides };
    char *s = cli_repr(&t);
    cr_assert_str_eq(s, "array([[1., 3., 5.],\n       [2., 4., 6.]])");
    free(s);
}

/* ------------------------------------------------------------------ */
/* the program end to end                                              */

Test(cli, matvec_prints_like_numpy)
{
    write_matvec();
    run_result r = run((const char *[]){ "ij,j->i", tpath("A.npy"), tpath("x.npy"), NULL });
    cr_assert_eq(r.status, 0, "stderr: %s", r.err);
    cr_assert_str_eq(r.out, "array([-2., -2.])\n");
    cr_assert_str_eq(r.err, "");
    run_free(&r);
}

Test(cli, float32_result_and_scalar)
{
    const float a[3] = { 1, 2, 3.5f };
    const int64_t s[1] = { 3 };
    save(tpath("a32.npy"), EIN_F32, 1, s, a);
    run_result r = run((const char *[]){ "i->i", tpath("a32.npy"), NULL });
    cr_assert_eq(r.status, 0, "stderr: %s", r.err);
    cr_assert_str_eq(r.out, "array([1. , 2. , 3.5], dtype=float32)\n");
    run_free(&r);
    r = run((const char *[]){ "i->", tpath("a32.npy"), NULL });
    cr_assert_eq(r.status, 0, "stderr: %s", r.err);
    cr_assert_str_eq(r.out, "array(6.5, dtype=float32)\n");
    run_free(&r);
    r = run((const char *[]){ "i,i->", tpath("a32.npy"), tpath("a32.npy"), NULL });
    cr_assert_eq(r.status, 0, "stderr: %s", r.err);
    cr_assert_str_eq(r.out, "array(17.25, dtype=float32)\n");
    run_free(&r);
}

Test(cli, expression_starting_with_arrow_is_not_an_option)
{
    const double v = 2.5;
    save(tpath("zero_d.npy"), EIN_F64, 0, NULL, &v);
    run_result r = run((const char *[]){ "->", tpath("zero_d.npy"), NULL });
    cr_assert_eq(r.status, 0, "stderr: %s", r.err);
    cr_assert_str_eq(r.out, "array(2.5)\n");
    run_free(&r);
}

Test(cli, output_file_round_trips)
{
    write_matvec();
    const char *out = tpath("y.npy");
    unlink(out);
    /* -o before, between and after the operands, and its other spellings */
    const char *forms[][6] = {
        { "-o", out, "ij,j->i", tpath("A.npy"), tpath("x.npy"), NULL },
        { "ij,j->i", tpath("A.npy"), "-o", out, tpath("x.npy"), NULL },
        { "ij,j->i", tpath("A.npy"), tpath("x.npy"), "-o", out, NULL },
        { "ij,j->i", tpath("A.npy"), tpath("x.npy"), "--output", out, NULL },
    };
    for (size_t k = 0; k < sizeof forms / sizeof forms[0]; k++) {
        unlink(out);
        run_result r = run(forms[k]);
        cr_assert_eq(r.status, 0, "form %zu: stderr: %s", k, r.err);
        cr_assert_str_eq(r.out, "", "with -o nothing goes to stdout");
        npy_array y;
        char msg[512];
        cr_assert_eq(npy_read_file(out, &y, msg, sizeof msg), 0, "%s", msg);
        cr_assert_eq(y.dtype, EIN_F64);
        cr_assert_eq(y.ndim, 1);
        cr_assert_eq(y.shape[0], 2);
        cr_assert_eq(((double *)y.data)[0], -2.0);
        cr_assert_eq(((double *)y.data)[1], -2.0);
        npy_free(&y);
        run_free(&r);
    }
    char opt[600];
    snprintf(opt, sizeof opt, "--output=%s", out);
    unlink(out);
    run_result r = run((const char *[]){ "ij->ji", tpath("A.npy"), opt, NULL });
    cr_assert_eq(r.status, 0, "stderr: %s", r.err);
    npy_array y;
    char msg[512];
    cr_assert_eq(npy_read_file(out, &y, msg, sizeof msg), 0, "%s", msg);
    cr_assert_eq(y.ndim, 2);
    cr_assert_eq(y.shape[0], 3);
    cr_assert_eq(y.shape[1], 2);
    const double want[6] = { 1, 4, 2, 5, 3, 6 };
    cr_assert_eq(memcmp(y.data, want, sizeof want), 0, "the file must be C order");
    npy_free(&y);
    run_free(&r);
    unlink(out);
}

Test(cli, fortran_and_big_endian_inputs)
{
    /* A = [[1, 2, 3], [4, 5, 6]] stored column by column */
    const double af[6] = { 1, 4, 2, 5, 3, 6 };
    save_raw(tpath("Af.npy"), "{'descr': '<f8', 'fortran_order': True, 'shape': (2, 3), }",
             af, sizeof af);
    /* x = [1, 0, -1] as big-endian float64 */
    unsigned char xb[24];
    for (int i = 0; i < 3; i++) {
        uint64_t u;
        memcpy(&u, &X64[i], 8);
        for (int b = 0; b < 8; b++)
            xb[i * 8 + b] = (unsigned char)(u >> (56 - 8 * b));
    }
    save_raw(tpath("xb.npy"), "{'descr': '>f8', 'fortran_order': False, 'shape': (3,), }",
             xb, sizeof xb);
    run_result r = run((const char *[]){ "ij,j->i", tpath("Af.npy"), tpath("xb.npy"), NULL });
    cr_assert_eq(r.status, 0, "stderr: %s", r.err);
    cr_assert_str_eq(r.out, "array([-2., -2.])\n");
    run_free(&r);
    r = run((const char *[]){ "ij->ji", tpath("Af.npy"), NULL });
    cr_assert_eq(r.status, 0, "stderr: %s", r.err);
    cr_assert_str_eq(r.out, "array([[1., 4.],\n       [2., 5.],\n       [3., 6.]])\n");
    run_free(&r);
    /* big-endian float32 matrix times little-endian float64 vector:
     * numpy promotes to float64 */
    const unsigned char a4[24] = { 0x3f, 0x80, 0, 0, 0x40, 0, 0, 0, 0x40, 0x40, 0, 0,
                                   0x40, 0x80, 0, 0, 0x40, 0xa0, 0, 0, 0x40, 0xc0, 0, 0 };
    save_raw(tpath("Ab.npy"), "{'descr': '>f4', 'fortran_order': False, 'shape': (2, 3), }",
             a4, sizeof a4);
    save(tpath("x.npy"), EIN_F64, 1, SX, X64);
    r = run((const char *[]){ "ij,j->i", tpath("Ab.npy"), tpath("x.npy"), NULL });
    cr_assert_eq(r.status, 0, "stderr: %s", r.err);
    cr_assert_str_eq(r.out, "array([-2., -2.])\n");
    run_free(&r);
}

Test(cli, random_matmul_matches_a_hand_loop)
{
    ts_rng rng = { 99 };
    enum { M = 5, K = 7, N = 4 };
    double a[M * K], b[K * N], c[M * N];
    ts_fill_f64(a, M * K, &rng);
    ts_fill_f64(b, K * N, &rng);
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double s = 0;
            for (int k = 0; k < K; k++)
                s += a[i * K + k] * b[k * N + j];
            c[i * N + j] = s;
        }
    save(tpath("ma.npy"), EIN_F64, 2, (const int64_t[]){ M, K }, a);
    save(tpath("mb.npy"), EIN_F64, 2, (const int64_t[]){ K, N }, b);
    const char *out = tpath("mc.npy");
    run_result r = run((const char *[]){ "ik,kj->ij", tpath("ma.npy"), tpath("mb.npy"),
                                         "-o", out, NULL });
    cr_assert_eq(r.status, 0, "stderr: %s", r.err);
    npy_array y;
    char msg[512];
    cr_assert_eq(npy_read_file(out, &y, msg, sizeof msg), 0, "%s", msg);
    cr_assert_eq(y.shape[0], M);
    cr_assert_eq(y.shape[1], N);
    cr_assert_leq(ts_maxerr_f64(y.data, c, M * N, 1e-12, 1e-12), 1.0);
    npy_free(&y);
    run_free(&r);
    unlink(out);
}

Test(cli, explain_mentions_the_expression)
{
    write_matvec();
    run_result r = run((const char *[]){ "--explain", "ij,j->i", tpath("A.npy"),
                                         tpath("x.npy"), NULL });
    cr_assert_eq(r.status, 0, "stderr: %s", r.err);
    cr_assert(strlen(r.out) > 0);
    assert_has(r.out, "ij,j->i");
    cr_assert(strstr(r.out, "array(") == NULL, "--explain must not evaluate");
    run_free(&r);
}

Test(cli, empty_operands)
{
    save(tpath("e.npy"), EIN_F64, 2, (const int64_t[]){ 0, 3 }, NULL);
    run_result r = run((const char *[]){ "ij->j", tpath("e.npy"), NULL });
    cr_assert_eq(r.status, 0, "stderr: %s", r.err);
    cr_assert_str_eq(r.out, "array([0., 0., 0.])\n");
    run_free(&r);
    r = run((const char *[]){ "ij->i", tpath("e.npy"), NULL });
    cr_assert_eq(r.status, 0, "stderr: %s", r.err);
    cr_assert_str_eq(r.out, "array([], dtype=float64)\n");
    run_free(&r);
}

Test(cli, usage_and_version)
{
    /* no arguments is the REPL; with an empty stdin it just ends */
    run_result r = run((const char *[]){ NULL });
    cr_assert_eq(r.status, 0, "stderr: %s", r.err);
    cr_assert_str_eq(r.out, "");
    cr_assert_str_eq(r.err, "");
    run_free(&r);

    r = run((const char *[]){ "--help", NULL });
    cr_assert_eq(r.status, 0);
    assert_has(r.out, "usage: einsum");
    run_free(&r);
    r = run((const char *[]){ "-h", NULL });
    cr_assert_eq(r.status, 0);
    run_free(&r);

    r = run((const char *[]){ "--version", NULL });
    cr_assert_eq(r.status, 0);
    assert_has(r.out, "einsum 0.");
    run_free(&r);

    const char *bad[][4] = {
        { "--frobnicate", "ij", "a.npy", NULL },
        { "ij", "a.npy", "-o", NULL },
        { "ij", NULL, NULL, NULL },
    };
    const char *twice[] = { "ij", "a.npy", "-o", "x.npy", "-o", "y.npy", NULL };
    const char *explain_o[] = { "--explain", "ij", "a.npy", "-o", "x.npy", NULL };
    for (int k = 0; k < 3; k++) {
        r = run(bad[k]);
        cr_assert_eq(r.status, 2, "case %d: status %d, stderr %s", k, r.status, r.err);
        cr_assert(strncmp(r.err, "einsum: ", 8) == 0, "case %d: %s", k, r.err);
        run_free(&r);
    }
    r = run(twice);
    cr_assert_eq(r.status, 2, "%s", r.err);
    run_free(&r);
    r = run(explain_o);
    cr_assert_eq(r.status, 2, "%s", r.err);
    run_free(&r);
}

Test(cli, double_dash_ends_options)
{
    /* an input whose name starts with '-' */
    char cwd_name[64];
    snprintf(cwd_name, sizeof cwd_name, "-dash%ld.npy", (long)getpid());
    cr_assert_eq(chdir(EIN_TEST_TMPDIR), 0);
    save(cwd_name, EIN_F64, 1, SX, X64);
    run_result r = run((const char *[]){ "--", "i->", cwd_name, NULL });
    cr_assert_eq(r.status, 0, "stderr: %s", r.err);
    cr_assert_str_eq(r.out, "array(0.)\n");
    run_free(&r);
    unlink(cwd_name);
}

/* Every failure: status 1, "einsum: " on stderr, nothing on stdout, the
 * -o target never created, and an existing target left byte for byte. */
static void expect_failure(const char *const *args_before_o, const char *needle1,
                           const char *needle2)
{
    const char *out = tpath("never.npy");
    for (int existing = 0; existing < 2; existing++) {
        unlink(out);
        if (existing) {
            FILE *fp = fopen(out, "wb");
            fputs("precious", fp);
            fclose(fp);
        }
        const char *args[16];
        int n = 0;
        while (args_before_o[n]) {
            args[n] = args_before_o[n];
            n++;
        }
        args[n++] = "-o";
        args[n++] = out;
        args[n] = NULL;
        run_result r = run(args);
        cr_assert_eq(r.status, 1, "status %d, stderr: %s", r.status, r.err);
        cr_assert(strncmp(r.err, "einsum: ", 8) == 0, "stderr: %s", r.err);
        if (needle1)
            assert_has(r.err, needle1);
        if (needle2)
            assert_has(r.err, needle2);
        cr_assert_str_eq(r.out, "");
        if (existing) {
            char *s = slurp(out);
            cr_assert_str_eq(s, "precious", "an existing output was changed on failure");
            free(s);
        } else {
            cr_assert(!exists(out), "a failed run left %s behind", out);
        }
        run_free(&r);
    }
    unlink(out);
}

Test(cli, failures_leave_no_output)
{
    write_matvec();
    const char *A = tpath("A.npy"), *x = tpath("x.npy");

    /* bad expression: the library's message with its column and caret */
    expect_failure((const char *[]){ "ij,jq->iz", A, x, NULL }, "column", "^");
    expect_failure((const char *[]){ "ij,j->i", A, NULL }, NULL, NULL);           /* count */
    expect_failure((const char *[]){ "ij,j->i", A, x, x, NULL }, NULL, NULL);     /* count */
    expect_failure((const char *[]){ "ij,i->j", A, x, NULL }, NULL, NULL);        /* shape */
    expect_failure((const char *[]){ "ijk->i", A, NULL }, NULL, NULL);            /* rank */
    expect_failure((const char *[]){ "ij,j->i", A, tpath("nope.npy"), NULL },
                   "nope.npy", "cannot open");

    save_raw(tpath("i8.npy"), "{'descr': '<i8', 'fortran_order': False, 'shape': (3,), }",
             X64, sizeof X64);
    expect_failure((const char *[]){ "ij,j->i", A, tpath("i8.npy"), NULL },
                   "unsupported dtype '<i8'", "float32 and float64");

    save_raw(tpath("cut.npy"), "{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }",
             X64, 20);
    expect_failure((const char *[]){ "ij,j->i", A, tpath("cut.npy"), NULL },
                   "cut.npy", "truncated");

    /* a directory as the output is a write failure after a good run */
    const char *dir = tpath("outdir");
    mkdir(dir, 0755);
    run_result r = run((const char *[]){ "ij,j->i", A, x, "-o", dir, NULL });
    cr_assert_eq(r.status, 1, "stderr: %s", r.err);
    assert_has(r.err, "einsum: ");
    run_free(&r);
    rmdir(dir);
}

Test(cli, bad_expression_message_is_verbatim)
{
    write_matvec();
    run_result r = run((const char *[]){ "ij,jq->iz", tpath("A.npy"), tpath("x.npy"), NULL });
    cr_assert_eq(r.status, 1);
    assert_has(r.err, "column");
    assert_has(r.err, "ij,jq->iz");
    assert_has(r.err, "^");
    cr_assert_eq(r.err[strlen(r.err) - 1], '\n');
    run_free(&r);
}

/* ------------------------------------------------------------------ */
/* the REPL through the program: scripts and stdin end to end (the
 * language itself: test_repl_parse.c, test_repl_builtins.c, tests/repl/) */

static void write_script(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");
    cr_assert_not_null(fp);
    fputs(text, fp);
    fclose(fp);
}

Test(repl, script_runs_statements)
{
    write_matvec();
    const char *y = tpath("ys.npy");
    unlink(y);
    char script[4096];
    snprintf(script, sizeof script,
             "# y = A x, then its squared norm\n"
             "A = load(\"%s\")\n"
             "x = load('%s')   # single quotes too\n"
             "\n"
             "y = einsum(\"ij,j->i\", A, x)\n"
             "print(y)\n"
             "einsum(\"ij->\", A)\n"
             "save(\"%s\", y)\n"
             "y = einsum(\"i,i->\", y, y)\n"
             "y\n"
             "quit\n"
             "print(nothing_after_quit)\n",
             tpath("A.npy"), tpath("x.npy"), y);
    const char *path = tpath("s.ein");
    write_script(path, script);
    run_result r = run((const char *[]){ path, NULL });
    cr_assert_eq(r.status, 0, "stderr: %s", r.err);
    cr_assert_str_eq(r.out, "[-2. -2.]\narray(21.)\narray(8.)\n");
    cr_assert_str_eq(r.err, "");
    run_free(&r);
    npy_array a;
    char msg[512];
    cr_assert_eq(npy_read_file(y, &a, msg, sizeof msg), 0, "%s", msg);
    cr_assert_eq(((double *)a.data)[0], -2.0);
    npy_free(&a);
    unlink(y);

    /* the same statements from stdin */
    r = run_in((const char *[]){ NULL }, path);
    cr_assert_eq(r.status, 0, "stderr: %s", r.err);
    cr_assert_str_eq(r.out, "[-2. -2.]\narray(21.)\narray(8.)\n");
    run_free(&r);
    unlink(y);

    snprintf(script, sizeof script, "A = load(\"%s\")\nx = load(\"%s\")\n"
             ":explain einsum(\"ij,j->i\", A, x)\n", tpath("A.npy"), tpath("x.npy"));
    write_script(path, script);
    r = run((const char *[]){ path, NULL });
    cr_assert_eq(r.status, 0, "stderr: %s", r.err);
    assert_has(r.out, "ij,j->i");
    run_free(&r);
    unlink(path);
}

Test(repl, script_errors_stop_with_line_numbers)
{
    write_matvec();
    const char *y = tpath("never_s.npy");
    unlink(y);
    struct { const char *stmt, *needle; } cases[] = {
        { "print(B)", ":2: name 'B' is not defined" },
        { "y = einsum(\"ij,jq->iz\", A, A)", "column" },
        { "y = einsum(\"ij,j->i\", A)", "operands" },
        { "y = load(\"/no/such/file.npy\")", "/no/such/file.npy" },
        { "y = \"oops", "column 5: unterminated string" },
        { "frobnicate(A)", "no function named 'frobnicate'" },
        { "save(A)", "save takes 2 arguments" },
        { "y = einsum(A)", "must be a string" },
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        char script[2048];
        snprintf(script, sizeof script, "A = load(\"%s\")\n%s\nsave(\"%s\", A)\n",
                 tpath("A.npy"), cases[k].stmt, y);
        const char *path = tpath("e.ein");
        write_script(path, script);
        run_result r = run((const char *[]){ path, NULL });
        cr_assert_eq(r.status, 1, "case %zu: status %d", k, r.status);
        cr_assert(strncmp(r.err, "einsum: ", 8) == 0, "case %zu: %s", k, r.err);
        assert_has(r.err, cases[k].needle);
        cr_assert(!exists(y), "case %zu: statements after an error must not run", k);
        run_free(&r);
        unlink(path);
    }
    run_result r = run((const char *[]){ tpath("missing.ein"), NULL });
    cr_assert_eq(r.status, 1);
    assert_has(r.err, "cannot open");
    run_free(&r);
}

/* ---- --path and --memory-limit ---------------------------------------- */

/* ij,jk,k->i over A[2,3] = 0..5, B = ones[3,4], c = [1,2,3,4]:
 * numpy gives [30, 120] whatever the order. */
static void write_chain(void)
{
    static const double A[6] = { 0, 1, 2, 3, 4, 5 };
    double B[12], c[4] = { 1, 2, 3, 4 };
    for (int i = 0; i < 12; i++)
        B[i] = 1;
    save(tpath("pA.npy"), EIN_F64, 2, (const int64_t[]){ 2, 3 }, A);
    save(tpath("pB.npy"), EIN_F64, 2, (const int64_t[]){ 3, 4 }, B);
    save(tpath("pc.npy"), EIN_F64, 1, (const int64_t[]){ 4 }, c);
}

Test(cli, path_options_give_the_same_result)
{
    write_chain();
    const char *paths[] = { "auto", "greedy", "optimal", "branch", "naive", "1,2;0,1",
                            "0,1;0,1", "0,2;0,1" };
    for (size_t i = 0; i < sizeof paths / sizeof *paths; i++) {
        run_result r = run((const char *[]){ "--path", paths[i], "ij,jk,k->i", tpath("pA.npy"),
                                             tpath("pB.npy"), tpath("pc.npy"), NULL });
        cr_assert_eq(r.status, 0, "--path %s: %s", paths[i], r.err);
        cr_assert_str_eq(r.out, "array([ 30., 120.])\n", "--path %s", paths[i]);
        run_free(&r);
    }
    run_result r = run((const char *[]){ "--path=optimal", "--memory-limit=1K", "--explain",
                                         "ij,jk,k->i", tpath("pA.npy"), tpath("pB.npy"),
                                         tpath("pc.npy"), NULL });
    cr_assert_eq(r.status, 0, "%s", r.err);
    assert_has(r.out, "|-- path  optimal, 2 steps");
    assert_has(r.out, "|   |-- 0: jk,k->j  [3x4],[4]->[3]  24 flops, 24 bytes, GEMV");
    assert_has(r.out, "naive 72 flops, optimized 36 flops, speedup 2x, largest "
                      "intermediate 24 bytes");
    run_free(&r);
}

Test(cli, path_option_errors)
{
    write_chain();
    run_result r = run((const char *[]){ "--path", "fastest", "ij,jk,k->i", tpath("pA.npy"),
                                         tpath("pB.npy"), tpath("pc.npy"), NULL });
    cr_assert_eq(r.status, CLI_EXIT_USAGE);
    assert_has(r.err, "path 'fastest'");
    run_free(&r);
    r = run((const char *[]){ "--path", "0,1", "ij,jk,k->i", tpath("pA.npy"),
                              tpath("pB.npy"), tpath("pc.npy"), NULL });
    cr_assert_eq(r.status, CLI_EXIT_FAIL);
    assert_has(r.err, "after its 1 steps 2 operands remain");
    run_free(&r);
    r = run((const char *[]){ "--path", "0,5;0,1", "ij,jk,k->i", tpath("pA.npy"),
                              tpath("pB.npy"), tpath("pc.npy"), NULL });
    cr_assert_eq(r.status, CLI_EXIT_FAIL);
    assert_has(r.err, "step 0: position 5 is out of range");
    run_free(&r);
    r = run((const char *[]){ "--memory-limit", "lots", "ij,jk,k->i", tpath("pA.npy"),
                              tpath("pB.npy"), tpath("pc.npy"), NULL });
    cr_assert_eq(r.status, CLI_EXIT_USAGE);
    assert_has(r.err, "'lots' is not a byte count");
    run_free(&r);
    r = run((const char *[]){ "--memory-limit", "23", "ij,jk,k->i", tpath("pA.npy"),
                              tpath("pB.npy"), tpath("pc.npy"), NULL });
    cr_assert_eq(r.status, CLI_EXIT_FAIL);
    assert_has(r.err, "no contraction order fits memory_limit 23 bytes: the smallest "
                      "achievable largest intermediate is 24 bytes");
    cr_assert_str_eq(r.out, "");
    run_free(&r);
}

Test(cli, byte_counts_take_suffixes)
{
    int64_t v;
    char why[128];
    cr_assert_eq(cli_parse_bytes("4096", &v, why, sizeof why), 0);
    cr_assert_eq(v, 4096);
    cr_assert_eq(cli_parse_bytes("64M", &v, why, sizeof why), 0);
    cr_assert_eq(v, 64 << 20);
    cr_assert_eq(cli_parse_bytes("2g", &v, why, sizeof why), 0);
    cr_assert_eq(v, (int64_t)2 << 30);
    cr_assert_eq(cli_parse_bytes("-1", &v, why, sizeof why), -1);
    cr_assert_eq(cli_parse_bytes("99999999999T", &v, why, sizeof why), -1);
    cr_assert_eq(cli_parse_bytes("", &v, why, sizeof why), -1);
}

/* --path's parser alone: names, pairs, a lone position, and each
 * malformed spelling with the step it names. */
Test(cli, path_spellings)
{
    ein_options o = {0};
    int32_t pairs[4];
    char why[256];
    cr_assert_eq(cli_parse_path("greedy", &o, pairs, 2, why, sizeof why), 0);
    cr_assert_eq(o.path, EIN_PATH_GREEDY);
    cr_assert_null(o.path_pairs);
    cr_assert_eq(cli_parse_path("0,2;1", &o, pairs, 2, why, sizeof why), 0, "%s", why);
    cr_assert_eq(o.path_pairs, pairs);
    cr_assert_eq(o.path_len, 2);
    cr_assert(pairs[0] == 0 && pairs[1] == 2 && pairs[2] == 1 && pairs[3] == -1);
    static const struct { const char *s, *msg; } bad[] = {
        {"0,1;0,1;0,1", "has more than 2 steps"},
        {"0,1x", "unexpected 'x' in step 0"},
        {"0,1;0,", "step 1 has no second position"},
        {"0,-2", "step 0 has no second position"},
        {"0,1;;0,1", "step 1 does not start with a position"},
        {"-1,0", "step 0 does not start with a position"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        why[0] = '\0';
        cr_assert_eq(cli_parse_path(bad[i].s, &o, pairs, 2, why, sizeof why), -1,
                     "'%s' accepted", bad[i].s);
        cr_assert(strstr(why, bad[i].msg), "'%s': %s", bad[i].s, why);
    }
}
