/* test_npy.c — covers src/cli/npy.c: round trips through files, hand-built
 * headers of every version and byte order, Fortran order, each refusal
 * with its message, and a corruption loop that must only ever fail cleanly. */
#define _POSIX_C_SOURCE 200809L

#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "npy.h"
#include "support.h"

#ifndef EIN_TEST_TMPDIR
#define EIN_TEST_TMPDIR "/tmp"
#endif

/* A scratch path unique to this process (Criterion runs tests in
 * parallel workers). */
static void tmp_path(char *buf, size_t cap, const char *name)
{
    snprintf(buf, cap, "%s/npy_%ld_%s", EIN_TEST_TMPDIR, (long)getpid(), name);
}

/* Build a .npy image by hand: preamble for `major`, the header text padded
 * with spaces to a 64-byte data offset and '\n', then `nd` data bytes. */
static unsigned char *mk(int major, const char *hdr, const void *data, size_t nd,
                         size_t *len)
{
    size_t lb = major == 1 ? 2 : 4;
    size_t h = strlen(hdr);
    size_t pre = 8 + lb;
    size_t hl = h + 1;
    size_t pad = (64 - (pre + hl) % 64) % 64;
    hl += pad;
    unsigned char *b = malloc(pre + hl + nd + 1);
    cr_assert_not_null(b);
    memcpy(b, "\x93NUMPY", 6);
    b[6] = (unsigned char)major;
    b[7] = 0;
    for (size_t i = 0; i < lb; i++)
        b[8 + i] = (unsigned char)(hl >> (8 * i));
    memcpy(b + pre, hdr, h);
    memset(b + pre + h, ' ', pad);
    b[pre + hl - 1] = '\n';
    if (nd)
        memcpy(b + pre + hl, data, nd);
    *len = pre + hl + nd;
    return b;
}

/* Read an image expecting failure; returns the message. */
static const char *reject(const unsigned char *b, size_t len)
{
    static char msg[1024];
    npy_array a;
    msg[0] = '\0';
    int r = npy_read_mem(b, len, "bad.npy", &a, msg, sizeof msg);
    cr_assert_eq(r, -1, "expected a refusal, got success");
    cr_assert(msg[0] != '\0', "a refusal must come with a message");
    cr_assert(strstr(msg, "bad.npy") != NULL, "message does not name the file: %s", msg);
    return msg;
}

static const char *reject_hdr(const char *hdr, size_t ndata)
{
    static unsigned char zeros[256];
    size_t len;
    unsigned char *b = mk(1, hdr, zeros, ndata, &len);
    const char *m = reject(b, len);
    free(b);
    return m;
}

#define assert_has(msg, needle) \
    cr_assert(strstr((msg), (needle)) != NULL, "message '%s' lacks '%s'", (msg), (needle))

/* ------------------------------------------------------------------ */
/* round trips                                                         */

static void round_trip(ein_dtype dt, int ndim, const int64_t *shape, ts_rng *rng)
{
    int64_t count = 1;
    for (int i = 0; i < ndim; i++)
        count *= shape[i];
    size_t es = dt == EIN_F32 ? 4 : 8;
    void *data = malloc((size_t)(count ? count : 1) * es);
    if (dt == EIN_F32)
        ts_fill_f32(data, (size_t)count, rng);
    else
        ts_fill_f64(data, (size_t)count, rng);
    ein_tensor t = { data, dt, ndim, shape, NULL };
    char path[512], msg[512];
    tmp_path(path, sizeof path, "rt.npy");
    cr_assert_eq(npy_write_file(path, &t, msg, sizeof msg), 0, "%s", msg);

    struct stat sb;
    cr_assert_eq(stat(path, &sb), 0);

    npy_array a;
    cr_assert_eq(npy_read_file(path, &a, msg, sizeof msg), 0, "%s", msg);
    cr_assert_eq(a.dtype, dt);
    cr_assert_eq(a.ndim, ndim);
    cr_assert_eq(a.count, count);
    cr_assert_eq(a.fortran_order, 0);
    cr_assert_not_null(a.data);
    cr_assert_eq((uintptr_t)a.data % 64, 0);
    int64_t st = 1;
    for (int i = ndim - 1; i >= 0; i--) {
        cr_assert_eq(a.shape[i], shape[i]);
        cr_assert_eq(a.strides[i], st);
        st *= shape[i] ? shape[i] : 1;
    }
    cr_assert_eq(memcmp(a.data, data, (size_t)count * es), 0, "data differs after a round trip");
    /* the data starts where np.save puts it */
    cr_assert_eq(((size_t)sb.st_size - (size_t)count * es) % 64, 0);
    npy_free(&a);
    unlink(path);
    free(data);
}

Test(npy, round_trip_ranks_0_to_4)
{
    ts_rng rng = { 42 };
    for (int dt = EIN_F32; dt <= EIN_F64; dt++)
        for (int ndim = 0; ndim <= 4; ndim++)
            for (int rep = 0; rep < 4; rep++) {
                int64_t shape[4];
                for (int i = 0; i < ndim; i++)
                    shape[i] = ts_range(&rng, 1, 7);
                round_trip((ein_dtype)dt, ndim, shape, &rng);
            }
}

Test(npy, round_trip_zero_size)
{
    ts_rng rng = { 7 };
    static const int64_t shapes[][3] = { { 0, 0, 0 }, { 3, 0, 2 }, { 0, 5, 1 }, { 4, 2, 0 } };
    for (int dt = EIN_F32; dt <= EIN_F64; dt++) {
        int64_t z = 0;
        round_trip((ein_dtype)dt, 1, &z, &rng);
        for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++)
            round_trip((ein_dtype)dt, 3, shapes[k], &rng);
    }
}

Test(npy, write_gathers_strided_views)
{
    /* a 2x3 view with Fortran strides over 1..6 is [[1,3,5],[2,4,6]] */
    double d[6] = { 1, 2, 3, 4, 5, 6 };
    int64_t shape[2] = { 2, 3 }, strides[2] = { 1, 2 };
    ein_tensor t = { d, EIN_F64, 2, shape, strides };
    char msg[256];
    size_t len;
    unsigned char *img = npy_encode(&t, &len, msg, sizeof msg);
    cr_assert_not_null(img, "%s", msg);
    npy_array a;
    cr_assert_eq(npy_read_mem(img, len, "v", &a, msg, sizeof msg), 0, "%s", msg);
    const double want[6] = { 1, 3, 5, 2, 4, 6 };
    cr_assert_eq(memcmp(a.data, want, sizeof want), 0);
    npy_free(&a);
    free(img);

    /* negative and zero strides */
    int64_t s2[2] = { -3, 0 };
    ein_tensor t2 = { d + 3, EIN_F64, 2, shape, s2 };
    img = npy_encode(&t2, &len, msg, sizeof msg);
    cr_assert_not_null(img, "%s", msg);
    cr_assert_eq(npy_read_mem(img, len, "v", &a, msg, sizeof msg), 0, "%s", msg);
    const double want2[6] = { 4, 4, 4, 1, 1, 1 };
    cr_assert_eq(memcmp(a.data, want2, sizeof want2), 0);
    npy_free(&a);
    free(img);
}

Test(npy, header_matches_np_save)
{
    float f[6] = { 0 };
    int64_t shape[2] = { 2, 3 };
    ein_tensor t = { f, EIN_F32, 2, shape, NULL };
    char msg[256];
    size_t len;
    unsigned char *img = npy_encode(&t, &len, msg, sizeof msg);
    cr_assert_not_null(img);
    /* np.save(f, np.zeros((2, 3), np.float32)) writes exactly this header */
    const char *want = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
    cr_assert_eq(memcmp(img, "\x93NUMPY\x01\x00", 8), 0);
    cr_assert_eq(img[8] | img[9] << 8, 118);
    cr_assert_eq(memcmp(img + 10, want, strlen(want)), 0);
    cr_assert_eq(img[127], '\n');
    cr_assert_eq(len, 128 + 24);
    free(img);

    int64_t s1 = 3;
    ein_tensor t1 = { f, EIN_F64, 1, &s1, NULL };
    img = npy_encode(&t1, &len, msg, sizeof msg);
    cr_assert(strstr((char *)img + 10, "'shape': (3,), }") != NULL);
    free(img);
    ein_tensor t0 = { f, EIN_F64, 0, NULL, NULL };
    img = npy_encode(&t0, &len, msg, sizeof msg);
    cr_assert(strstr((char *)img + 10, "'descr': '<f8', 'fortran_order': False, 'shape': (), }")
              != NULL);
    cr_assert_eq(len, 128 + 8);
    free(img);
}

/* ------------------------------------------------------------------ */
/* hand-built files                                                    */

Test(npy, versions_1_2_3_and_odd_spacing)
{
    const double d[3] = { 1.5, -2, 3 };
    const char *hdrs[] = {
        "{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }",
        "{\"shape\":(3,),\"fortran_order\":False,\"descr\":\"<f8\"}",
        "{ 'fortran_order' :\tFalse ,\n 'shape' : ( 3 , ) , 'descr' : '<f8' , }",
        "{'descr': '=f8', 'fortran_order': False, 'shape': (3L,)}",
    };
    for (int v = 1; v <= 3; v++)
        for (size_t k = 0; k < sizeof hdrs / sizeof hdrs[0]; k++) {
            size_t len;
            unsigned char *b = mk(v, hdrs[k], d, sizeof d, &len);
            npy_array a;
            char msg[512];
            cr_assert_eq(npy_read_mem(b, len, "h.npy", &a, msg, sizeof msg), 0,
                         "v%d header %s: %s", v, hdrs[k], msg);
            cr_assert_eq(a.dtype, EIN_F64);
            cr_assert_eq(a.ndim, 1);
            cr_assert_eq(a.shape[0], 3);
            cr_assert_eq(memcmp(a.data, d, sizeof d), 0);
            npy_free(&a);
            free(b);
        }
}

Test(npy, big_endian_is_swapped)
{
    /* 1.0f = 3f800000, -2.5f = c0200000; 1.0 = 3ff0..., 0.1 = 3fb999999999999a */
    const unsigned char f4[8] = { 0x3f, 0x80, 0, 0, 0xc0, 0x20, 0, 0 };
    const unsigned char f8[16] = { 0x3f, 0xf0, 0, 0, 0, 0, 0, 0,
                                   0x3f, 0xb9, 0x99, 0x99, 0x99, 0x99, 0x99, 0x9a };
    size_t len;
    char msg[512];
    npy_array a;
    unsigned char *b = mk(1, "{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }",
                          f4, sizeof f4, &len);
    cr_assert_eq(npy_read_mem(b, len, "be4", &a, msg, sizeof msg), 0, "%s", msg);
    cr_assert_eq(a.dtype, EIN_F32);
    cr_assert_eq(((float *)a.data)[0], 1.0f);
    cr_assert_eq(((float *)a.data)[1], -2.5f);
    npy_free(&a);
    free(b);
    b = mk(2, "{'descr': '>f8', 'fortran_order': False, 'shape': (2,), }", f8, sizeof f8, &len);
    cr_assert_eq(npy_read_mem(b, len, "be8", &a, msg, sizeof msg), 0, "%s", msg);
    cr_assert_eq(a.dtype, EIN_F64);
    cr_assert_eq(((double *)a.data)[0], 1.0);
    cr_assert_eq(((double *)a.data)[1], 0.1);
    npy_free(&a);
    free(b);
}

Test(npy, fortran_order_keeps_data_and_sets_strides)
{
    /* np.asfortranarray(np.arange(24.).reshape(2, 3, 4)) stores element
     * (i, j, k) at i + 2j + 6k */
    double d[24];
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 3; j++)
            for (int k = 0; k < 4; k++)
                d[i + 2 * j + 6 * k] = i * 12 + j * 4 + k;
    size_t len;
    unsigned char *b = mk(1, "{'descr': '<f8', 'fortran_order': True, 'shape': (2, 3, 4), }",
                          d, sizeof d, &len);
    npy_array a;
    char msg[512];
    cr_assert_eq(npy_read_mem(b, len, "f.npy", &a, msg, sizeof msg), 0, "%s", msg);
    cr_assert_eq(a.fortran_order, 1);
    cr_assert_eq(a.strides[0], 1);
    cr_assert_eq(a.strides[1], 2);
    cr_assert_eq(a.strides[2], 6);
    cr_assert_eq(memcmp(a.data, d, sizeof d), 0, "Fortran data must not be transposed");
    ein_tensor t = npy_tensor(&a);
    const double *p = t.data;
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 3; j++)
            for (int k = 0; k < 4; k++)
                cr_assert_eq(p[i * t.strides[0] + j * t.strides[1] + k * t.strides[2]],
                             i * 12 + j * 4 + k);
    npy_free(&a);
    free(b);
}

Test(npy, zero_d_and_trailing_data)
{
    const double d[2] = { 3.25, 99 };
    size_t len;
    /* the second element is trailing data: ignored, as np.load does */
    unsigned char *b = mk(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (), }", d,
                          sizeof d, &len);
    npy_array a;
    char msg[512];
    cr_assert_eq(npy_read_mem(b, len, "z.npy", &a, msg, sizeof msg), 0, "%s", msg);
    cr_assert_eq(a.ndim, 0);
    cr_assert_eq(a.count, 1);
    cr_assert_eq(((double *)a.data)[0], 3.25);
    npy_free(&a);
    free(b);
}

/* ------------------------------------------------------------------ */
/* refusals                                                            */

Test(npy, rejects_unsupported_dtypes)
{
    const char *bad[] = { "<i8", "|b1", "<c16", "<f2", "<f16", "|u1", "<U3", "O" };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        char hdr[256], want[256];
        snprintf(hdr, sizeof hdr, "{'descr': '%s', 'fortran_order': False, 'shape': (1,), }",
                 bad[k]);
        const char *m = reject_hdr(hdr, 32);
        snprintf(want, sizeof want,
                 "unsupported dtype '%s' in bad.npy (einsum reads float32 and float64)", bad[k]);
        cr_assert_str_eq(m, want);
    }
    const char *m = reject_hdr("{'descr': [('a', '<f4'), ('b', '<f8')], "
                               "'fortran_order': False, 'shape': (1,), }", 32);
    assert_has(m, "unsupported dtype '[('a', '<f4'), ('b', '<f8')]' in bad.npy");
}

Test(npy, rejects_bad_preamble)
{
    const char *m = reject((const unsigned char *)"GIF89a....", 10);
    assert_has(m, "not a .npy file");
    m = reject((const unsigned char *)"\x93NUM", 4);
    assert_has(m, "truncated");
    m = reject((const unsigned char *)"", 0);
    assert_has(m, "truncated");
    m = reject((const unsigned char *)"\x93NUMPY\x01", 7);
    assert_has(m, "truncated");
    m = reject((const unsigned char *)"\x93NUMPY\x01\x00\x10", 9);
    assert_has(m, "preamble");
    m = reject((const unsigned char *)"\x93NUMPY\x04\x00\x10\x00\x00\x00", 12);
    assert_has(m, "unsupported .npy format version 4.0");
    m = reject((const unsigned char *)"\x93NUMPY\x01\x01\x10\x00", 10);
    assert_has(m, "version 1.1");
}

Test(npy, rejects_bad_header_lengths)
{
    /* v1 length 0x7fff, file much shorter */
    const char *m = reject((const unsigned char *)"\x93NUMPY\x01\x00\xff\x7f{'descr'", 18);
    assert_has(m, "truncated");
    assert_has(m, "32767");
    /* v2 length 0x7fffffff: above the cap */
    m = reject((const unsigned char *)"\x93NUMPY\x02\x00\xff\xff\xff\x7f{}", 14);
    assert_has(m, "exceeds the limit");
    assert_has(m, "10000");
}

Test(npy, rejects_malformed_headers)
{
    struct { const char *hdr, *want; } cases[] = {
        { "{'descr': '<f8', 'fortran_order': False}", "lacks the 'shape' key" },
        { "{'descr': '<f8', 'shape': (1,)}", "lacks the 'fortran_order' key" },
        { "{'fortran_order': False, 'shape': (1,)}", "lacks the 'descr' key" },
        { "{}", "lacks the 'descr' key" },
        { "", "malformed" },
        { "['descr', '<f8']", "malformed" },
        { "{'descr': '<f8', 'fortran_order': False, 'shape': (1,), 'x': 1}",
          "unexpected key 'x'" },
        { "{'descr': '<f8', 'descr': '<f8', 'fortran_order': False, 'shape': (1,)}",
          "repeats the key 'descr'" },
        { "{'descr': '<f8' 'fortran_order': False, 'shape': (1,)}", "malformed" },
        { "{'descr': '<f8', 'fortran_order': False, 'shape': (1,)", "malformed" },
        { "{'descr': '<f8, 'fortran_order': False, 'shape': (1,)}", "malformed" },
        { "{'descr': '<f8', 'fortran_order': 0, 'shape': (1,)}", "True or False" },
        { "{'descr': '<f8', 'fortran_order': Falsey, 'shape': (1,)}", "True or False" },
        { "{'descr': '<f8', 'fortran_order': False, 'shape': [1]}", "must be a tuple" },
        { "{'descr': '<f8', 'fortran_order': False, 'shape': (1)}", "not a tuple" },
        { "{'descr': '<f8', 'fortran_order': False, 'shape': (1 2)}", "expected ','" },
        { "{'descr': '<f8', 'fortran_order': False, 'shape': (,)}", "'' is not an integer" },
        { "{'descr': '<f8', 'fortran_order': False, 'shape': (-3,)}", "-3 is negative" },
        { "{'descr': '<f8', 'fortran_order': False, 'shape': (2, -1)}", "-1 is negative" },
        { "{'descr': '<f8', 'fortran_order': False, 'shape': (a,)}", "'a' is not an integer" },
        { "{'descr': '<f8', 'fortran_order': False, 'shape': (1.5,)}",
          "'1.5' is not an integer" },
        { "{'descr': '<f8', 'fortran_order': False, 'shape': (99999999999999999999,)}",
          "does not fit in 64 bits" },
        { "{'descr': '<f8', 'fortran_order': False, 'shape': (9223372036854775808,)}",
          "does not fit in 64 bits" },
        { "{'descr': '<f8', 'fortran_order': False, 'shape': (1,)} junk",
          "after the closing" },
        { "{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 4294967296)}",
          "more elements than fit in 64 bits" },
        { "{'descr': '<f8', 'fortran_order': False, 'shape': (0, 4294967296, 4294967296)}",
          "more elements than fit in 64 bits" },
        { "{'descr': '<f8', 'fortran_order': False, 'shape': (4611686018427387904,)}",
          "needs more bytes than fit in memory" },
        { "{'descr': '<f8', 'fortran_order': False, 'shape': (3,)}", "truncated" },
        { "{'descr': '<f8', 'fortran_order': False, 'shape': (1000000000000,)}", "truncated" },
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        const char *m = reject_hdr(cases[k].hdr, 8);
        cr_assert(strstr(m, cases[k].want) != NULL, "header %s: message '%s' lacks '%s'",
                  cases[k].hdr, m, cases[k].want);
    }
}

Test(npy, truncated_data_names_the_sizes)
{
    const char *m = reject_hdr("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 20);
    assert_has(m, "shape (2, 3) needs 24 bytes");
    assert_has(m, "has 20");
}

Test(npy, rejects_too_many_dims)
{
    char hdr[1024];
    int n = snprintf(hdr, sizeof hdr, "{'descr': '<f8', 'fortran_order': False, 'shape': (");
    for (int i = 0; i < EIN_MAX_DIMS + 1; i++)
        n += snprintf(hdr + n, sizeof hdr - (size_t)n, "1, ");
    snprintf(hdr + n, sizeof hdr - (size_t)n, "), }");
    const char *m = reject_hdr(hdr, 8);
    assert_has(m, "shape has 65 dimensions; einsum handles at most 64");

    /* exactly EIN_MAX_DIMS is fine */
    n = snprintf(hdr, sizeof hdr, "{'descr': '<f8', 'fortran_order': False, 'shape': (");
    for (int i = 0; i < EIN_MAX_DIMS; i++)
        n += snprintf(hdr + n, sizeof hdr - (size_t)n, "1, ");
    snprintf(hdr + n, sizeof hdr - (size_t)n, "), }");
    double one = 1;
    size_t len;
    unsigned char *b = mk(1, hdr, &one, 8, &len);
    npy_array a;
    char msg[512];
    cr_assert_eq(npy_read_mem(b, len, "64.npy", &a, msg, sizeof msg), 0, "%s", msg);
    cr_assert_eq(a.ndim, EIN_MAX_DIMS);
    npy_free(&a);
    free(b);
}

Test(npy, file_errors)
{
    char path[512], msg[512];
    npy_array a;
    tmp_path(path, sizeof path, "missing.npy");
    cr_assert_eq(npy_read_file(path, &a, msg, sizeof msg), -1);
    assert_has(msg, path);
    assert_has(msg, "cannot open");
    cr_assert_eq(npy_read_file(EIN_TEST_TMPDIR, &a, msg, sizeof msg), -1);
    assert_has(msg, "directory");

    /* a real file cut short: the size check fires before any allocation */
    const float f[4] = { 1, 2, 3, 4 };
    int64_t s = 4;
    ein_tensor t = { (void *)f, EIN_F32, 1, &s, NULL };
    tmp_path(path, sizeof path, "cut.npy");
    cr_assert_eq(npy_write_file(path, &t, msg, sizeof msg), 0, "%s", msg);
    cr_assert_eq(truncate(path, 128 + 10), 0);
    cr_assert_eq(npy_read_file(path, &a, msg, sizeof msg), -1);
    assert_has(msg, "truncated");
    assert_has(msg, "needs 16 bytes");
    cr_assert_eq(truncate(path, 50), 0);
    cr_assert_eq(npy_read_file(path, &a, msg, sizeof msg), -1);
    assert_has(msg, "truncated");
    unlink(path);
}

static int count_temporaries(const char *dir)
{
    DIR *d = opendir(dir);
    cr_assert_not_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strncmp(e->d_name, ".einsum-tmp-", 12) == 0)
            n++;
    closedir(d);
    return n;
}

Test(npy, write_failures_leave_nothing_behind)
{
    double d[2] = { 1, 2 };
    int64_t s = 2;
    ein_tensor t = { d, EIN_F64, 1, &s, NULL };
    char path[512], msg[512];

    /* no such directory */
    snprintf(path, sizeof path, "%s/no/such/dir/x.npy", EIN_TEST_TMPDIR);
    cr_assert_eq(npy_write_file(path, &t, msg, sizeof msg), -1);
    assert_has(msg, path);

    /* the target is a directory: the temporary is written, rename fails,
     * and the temporary must be gone.  All inside a directory of its own,
     * since other tests write temporaries into EIN_TEST_TMPDIR meanwhile. */
    char own[512];
    tmp_path(own, sizeof own, "owndir");
    cr_assert_eq(mkdir(own, 0755), 0);
    snprintf(path, sizeof path, "%s/adir", own);
    cr_assert_eq(mkdir(path, 0755), 0);
    cr_assert_eq(npy_write_file(path, &t, msg, sizeof msg), -1);
    assert_has(msg, "cannot write");
    cr_assert_eq(count_temporaries(own), 0);
    rmdir(path);
    rmdir(own);

    /* an existing file is untouched when encoding fails */
    tmp_path(path, sizeof path, "keep.npy");
    FILE *fp = fopen(path, "wb");
    fputs("precious", fp);
    fclose(fp);
    ein_tensor bad = { d, (ein_dtype)9, 1, &s, NULL };
    cr_assert_eq(npy_write_file(path, &bad, msg, sizeof msg), -1);
    assert_has(msg, "dtype");
    int64_t neg = -1;
    ein_tensor bad2 = { d, EIN_F64, 1, &neg, NULL };
    cr_assert_eq(npy_write_file(path, &bad2, msg, sizeof msg), -1);
    assert_has(msg, "negative");
    char buf[32] = { 0 };
    fp = fopen(path, "rb");
    cr_assert_not_null(fp);
    cr_assert_eq(fread(buf, 1, sizeof buf - 1, fp), 8);
    fclose(fp);
    cr_assert_str_eq(buf, "precious");

    /* and replaced whole when writing succeeds */
    cr_assert_eq(npy_write_file(path, &t, msg, sizeof msg), 0, "%s", msg);
    npy_array a;
    cr_assert_eq(npy_read_file(path, &a, msg, sizeof msg), 0, "%s", msg);
    cr_assert_eq(((double *)a.data)[1], 2.0);
    npy_free(&a);
    unlink(path);
}

/* ------------------------------------------------------------------ */
/* corruption: whatever the bytes, a read returns 0 or -1 and never
 * crashes (run under ASan/UBSan in the sanitizer build)                */

Test(npy, random_corruption_never_crashes)
{
    ts_rng rng = { 2024 };
    const char *seeds[] = {
        "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }",
        "{'descr': '>f4', 'fortran_order': True, 'shape': (3, 2), }",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (), }",
        "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (6,), }",
    };
    unsigned char data[48];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (unsigned char)i;
    static const char alphabet[] = "{}()[]',:\" 0123456789-TrueFalse<>f48L\n\\";
    int ok = 0, bad = 0;
    for (int iter = 0; iter < 20000; iter++) {
        size_t len;
        int ver = (int)ts_range(&rng, 1, 3);
        unsigned char *b = mk(ver, seeds[ts_range(&rng, 0, 3)], data, sizeof data, &len);
        int edits = (int)ts_range(&rng, 1, 4);
        for (int e = 0; e < edits; e++) {
            size_t at = (size_t)ts_range(&rng, 0, (int64_t)len - 1);
            switch (ts_range(&rng, 0, 4)) {
            case 0: b[at] = (unsigned char)ts_next(&rng); break;
            case 1: b[at] = (unsigned char)alphabet[ts_range(&rng, 0, sizeof alphabet - 2)]; break;
            case 2: len = at; break;                                   /* truncate */
            case 3: if (at < 12) b[at] ^= (unsigned char)(1u << ts_range(&rng, 0, 7)); break;
            default: memmove(b + at, b + at + 1, len - at - 1); len--; break;  /* delete */
            }
            if (len == 0)
                break;
        }
        npy_array a;
        char msg[256];
        msg[0] = '\0';
        int r = npy_read_mem(b, len, "fuzz.npy", &a, msg, sizeof msg);
        cr_assert(r == 0 || r == -1);
        if (r == 0) {
            cr_assert_not_null(a.data);
            /* touch every element the shape claims */
            volatile unsigned char sink = 0;
            size_t es = a.dtype == EIN_F32 ? 4 : 8;
            for (size_t i = 0; i < (size_t)a.count * es; i++)
                sink ^= ((unsigned char *)a.data)[i];
            (void)sink;
            npy_free(&a);
            ok++;
        } else {
            cr_assert(msg[0] != '\0', "refusal without a message");
            bad++;
        }
        free(b);
    }
    cr_assert(ok > 0 && bad > 0, "ok %d bad %d: the loop should see both outcomes", ok, bad);
}

/* ------------------------------------------------------------------ */
/* allocation failure: the reader and writer take memory through the
 * library's funnel (src/alloc.c), so its hook can fail each allocation in
 * turn; every failure is -1 with "out of memory", nothing leaks (ASan
 * tree), and a failed write leaves the old file and no temporary.      */

#include "alloc.h"

Test(npy, every_allocation_can_fail)
{
    double d[6] = {1, 2, 3, 4, 5, 6};
    int64_t s[2] = {2, 3}, st[2] = {1, 2};       /* Fortran-strided view */
    ein_tensor t = {d, EIN_F64, 2, s, st};
    /* A directory of its own: other tests running at the same time write
     * temporaries into EIN_TEST_TMPDIR. */
    char dir[512], path[600], msg[512];
    tmp_path(dir, sizeof dir, "allocdir");
    cr_assert_eq(mkdir(dir, 0755), 0, "%s", dir);
    snprintf(path, sizeof path, "%s/alloc.npy", dir);
    size_t len;
    unsigned char *img = npy_encode(&t, &len, msg, sizeof msg);
    cr_assert_not_null(img, "%s", msg);
    int failures = 0;
    for (int k = 0;; k++) {
        cr_assert_lt(k, 100);
        FILE *fp = fopen(path, "wb");
        fputs("precious", fp);
        fclose(fp);
        long n0 = ein_alloc_count();
        ein_alloc_fail_after(k);
        /* One run of each entry point, in a fixed order, so allocation k
         * lands in a different one as k grows. */
        npy_array a, b;
        memset(&a, 0, sizeof a);
        memset(&b, 0, sizeof b);
        msg[0] = '\0';
        int r1 = npy_read_mem(img, len, "mem", &a, msg, sizeof msg);
        char m1[512];
        snprintf(m1, sizeof m1, "%s", msg);
        size_t len2 = 0;
        unsigned char *img2 = r1 == 0 ? npy_encode(&t, &len2, msg, sizeof msg) : NULL;
        int r3 = img2 ? npy_write_file(path, &t, msg, sizeof msg) : -1;
        int r4 = r3 == 0 ? npy_read_file(path, &b, msg, sizeof msg) : -1;
        long attempts = ein_alloc_count() - n0;
        ein_alloc_fail_after(-1);
        bool failed = r1 || !img2 || r3 || r4;
        if (failed) {
            failures++;
            assert_has(r1 ? m1 : msg, "out of memory");
        }
        if (r3 != 0) {
            char buf[32] = {0};
            fp = fopen(path, "rb");
            cr_assert_not_null(fp);
            cr_assert_eq(fread(buf, 1, sizeof buf - 1, fp), 8, "allocation %d: a failed "
                         "write changed the file", k);
            fclose(fp);
            cr_assert_str_eq(buf, "precious");
        }
        cr_assert_eq(count_temporaries(dir), 0, "allocation %d: a temporary was left "
                     "behind", k);
        if (r4 == 0) {
            cr_assert_eq(b.count, 6);
            for (int i = 0; i < 2; i++)
                for (int j = 0; j < 3; j++)
                    cr_assert_eq(((double *)b.data)[i * 3 + j], d[i + 2 * j]);
        }
        npy_free(&a);
        npy_free(&b);
        free(img2);
        if (attempts <= k)
            break;
    }
    cr_assert_geq(failures, 5, "only %d allocations were failed", failures);
    free(img);
    unlink(path);
    rmdir(dir);
}
