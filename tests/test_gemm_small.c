/* test_gemm_small.c — the GEMM entries of every kernel table on small
 * shapes, where the AVX tables take the unpacked path of gemm_small_t.h,
 * and around its crossover to the packing frame: m, n, k in 0..40,
 * C and B row- and column-major, transposed, padded, strided and
 * reversed operands, accumulate or not, against a double loop; nothing
 * outside C written; repeated and 1- vs 2-thread calls bitwise equal. */
#include <criterion/criterion.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"
#include "support.h"

static const char *const k_tables[] = {"generic", "avx2", "avx512"};
#define NTABLES 3

/* A rows x cols view: element (i, j) is buf[off + i*rs + j*cs]; the
 * buffer holds `size` elements. */
typedef struct view {
    int64_t rs, cs, off, size;
} view;

enum { ROWMAJ, COLMAJ, STRIDED, REVERSED, NLAYOUTS };
static const char *const k_lname[] = {"row", "col", "strided", "reversed"};

/* Layout `l` with `pad` spare elements per leading dimension. */
static view make_view(int l, int64_t rows, int64_t cols, int64_t pad)
{
    view v = {0, 0, 0, 1};
    switch (l) {
    case ROWMAJ:   v.rs = cols + pad; v.cs = 1; break;
    case COLMAJ:   v.rs = 1; v.cs = rows + pad; break;
    case STRIDED:  v.cs = 2; v.rs = 2 * cols + pad + 1; break;
    default:       v.rs = -(cols + pad); v.cs = 1; break;   /* rows reversed */
    }
    if (rows > 0 && cols > 0) {
        int64_t ar = v.rs < 0 ? -v.rs : v.rs, ac = v.cs < 0 ? -v.cs : v.cs;
        v.size = 1 + ar * (rows - 1) + ac * (cols - 1);
        v.off = v.rs < 0 ? ar * (rows - 1) : 0;
    }
    return v;
}

typedef struct gcase {
    int64_t m, n, k;
    int la, lb, lc;            /* layouts; lc is never REVERSED */
    int64_t pad;
    int acc;
} gcase;

#define GUARD 64

/* Runs the f32 and f64 GEMM of kt on one case and checks it. */
static void check_case(const ein_ktable *kt, const gcase *c, ts_rng *rng)
{
    int64_t m = c->m, n = c->n, k = c->k;
    view va = make_view(c->la, m, k, c->pad), vb = make_view(c->lb, k, n, c->pad);
    view vc = make_view(c->lc, m, n, c->pad);
    int64_t csz = vc.size + 2 * GUARD;
    float *A = malloc((size_t)va.size * sizeof *A), *B = malloc((size_t)vb.size * sizeof *B);
    float *C = malloc((size_t)csz * sizeof *C), *C0 = malloc((size_t)csz * sizeof *C0);
    double *Ad = malloc((size_t)va.size * sizeof *Ad), *Bd = malloc((size_t)vb.size * sizeof *Bd);
    double *Cd = malloc((size_t)csz * sizeof *Cd), *C0d = malloc((size_t)csz * sizeof *C0d);
    char *isc = calloc((size_t)csz, 1);
    cr_assert(A && B && C && C0 && Ad && Bd && Cd && C0d && isc);
    ts_fill_f64(Ad, (size_t)va.size, rng);
    ts_fill_f64(Bd, (size_t)vb.size, rng);
    ts_fill_f64(C0d, (size_t)csz, rng);
    for (int64_t i = 0; i < va.size; i++) A[i] = (float)Ad[i];
    for (int64_t i = 0; i < vb.size; i++) B[i] = (float)Bd[i];
    for (int64_t i = 0; i < csz; i++) C0[i] = (float)C0d[i];
    memcpy(C, C0, (size_t)csz * sizeof *C);
    memcpy(Cd, C0d, (size_t)csz * sizeof *Cd);
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++)
            isc[GUARD + vc.off + i * vc.rs + j * vc.cs] = 1;

    kt->gemm_f32(m, n, k, A + va.off, va.rs, va.cs, B + vb.off, vb.rs, vb.cs,
                 C + GUARD + vc.off, vc.rs, vc.cs, c->acc, 1);
    kt->gemm_f64(m, n, k, Ad + va.off, va.rs, va.cs, Bd + vb.off, vb.rs, vb.cs,
                 Cd + GUARD + vc.off, vc.rs, vc.cs, c->acc, 1);
    /* Two threads: the same bits, C and around it. */
    float *C2 = malloc((size_t)csz * sizeof *C2);
    double *Cd2 = malloc((size_t)csz * sizeof *Cd2);
    cr_assert(C2 && Cd2);
    memcpy(C2, C0, (size_t)csz * sizeof *C2);
    memcpy(Cd2, C0d, (size_t)csz * sizeof *Cd2);
    kt->gemm_f32(m, n, k, A + va.off, va.rs, va.cs, B + vb.off, vb.rs, vb.cs,
                 C2 + GUARD + vc.off, vc.rs, vc.cs, c->acc, 2);
    kt->gemm_f64(m, n, k, Ad + va.off, va.rs, va.cs, Bd + vb.off, vb.rs, vb.cs,
                 Cd2 + GUARD + vc.off, vc.rs, vc.cs, c->acc, 2);
    cr_assert(memcmp(C, C2, (size_t)csz * sizeof *C) == 0 &&
              memcmp(Cd, Cd2, (size_t)csz * sizeof *Cd) == 0,
              "%s m=%lld n=%lld k=%lld A %s B %s C %s: 1 and 2 threads differ",
              kt->name, (long long)m, (long long)n, (long long)k, k_lname[c->la],
              k_lname[c->lb], k_lname[c->lc]);
    free(C2);
    free(Cd2);

    for (int64_t q = 0; q < csz; q++)
        if (!isc[q])
            cr_assert(memcmp(&C[q], &C0[q], sizeof *C) == 0 &&
                      memcmp(&Cd[q], &C0d[q], sizeof *Cd) == 0,
                      "%s m=%lld n=%lld k=%lld A %s B %s C %s: element %lld "
                      "outside C written", kt->name, (long long)m, (long long)n,
                      (long long)k, k_lname[c->la], k_lname[c->lb],
                      k_lname[c->lc], (long long)(q - GUARD - vc.off));
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            int64_t q = GUARD + vc.off + i * vc.rs + j * vc.cs;
            double s = c->acc ? (double)C0[q] : 0, sd = c->acc ? C0d[q] : 0;
            double mag = fabs(s), magd = fabs(sd);
            for (int64_t p = 0; p < k; p++) {
                int64_t ia = va.off + i * va.rs + p * va.cs;
                int64_t ib = vb.off + p * vb.rs + j * vb.cs;
                double t = (double)A[ia] * (double)B[ib], td = Ad[ia] * Bd[ib];
                s += t;
                sd += td;
                mag += fabs(t);
                magd += fabs(td);
            }
            cr_assert(fabs((double)C[q] - s) <= (double)(k + 2) * FLT_EPSILON * mag,
                      "%s f32 m=%lld n=%lld k=%lld A %s B %s C %s pad=%lld acc=%d: "
                      "C[%lld,%lld] = %.9g, expected %.9g", kt->name, (long long)m,
                      (long long)n, (long long)k, k_lname[c->la], k_lname[c->lb],
                      k_lname[c->lc], (long long)c->pad, c->acc, (long long)i,
                      (long long)j, (double)C[q], s);
            cr_assert(fabs(Cd[q] - sd) <= (double)(k + 2) * DBL_EPSILON * magd,
                      "%s f64 m=%lld n=%lld k=%lld A %s B %s C %s pad=%lld acc=%d: "
                      "C[%lld,%lld] = %.17g, expected %.17g", kt->name,
                      (long long)m, (long long)n, (long long)k, k_lname[c->la],
                      k_lname[c->lb], k_lname[c->lc], (long long)c->pad, c->acc,
                      (long long)i, (long long)j, Cd[q], sd);
        }
    free(A); free(B); free(C); free(C0);
    free(Ad); free(Bd); free(Cd); free(C0d); free(isc);
}

/* The layouts the fast path takes (C and B row-major, or C and A
 * column-major) half the time, any other mix the rest. */
static void random_layout(gcase *c, ts_rng *rng)
{
    switch (ts_range(rng, 0, 3)) {
    case 0: c->lc = ROWMAJ; c->lb = ROWMAJ; c->la = (int)ts_range(rng, 0, NLAYOUTS - 1); break;
    case 1: c->lc = COLMAJ; c->la = COLMAJ; c->lb = (int)ts_range(rng, 0, NLAYOUTS - 1); break;
    default:
        c->lc = (int)ts_range(rng, 0, STRIDED);
        c->la = (int)ts_range(rng, 0, NLAYOUTS - 1);
        c->lb = (int)ts_range(rng, 0, NLAYOUTS - 1);
    }
    c->pad = ts_range(rng, 0, 3) == 0 ? 0 : ts_range(rng, 1, 9);
    c->acc = (int)ts_range(rng, 0, 1);
}

/* Every (m, n) in 0..40 with a k that varies with them, random layouts. */
Test(gemm_small, all_m_n)
{
    for (int t = 0; t < NTABLES; t++) {
        const ein_ktable *kt = ein_ktable_named(k_tables[t]);
        if (!kt)
            continue;
        ts_rng rng = {0x5eed0001u + (uint64_t)t};
        for (int64_t m = 0; m <= 40; m++)
            for (int64_t n = 0; n <= 40; n++) {
                gcase c = {.m = m, .n = n, .k = (m * 7 + n * 13) % 41};
                random_layout(&c, &rng);
                check_case(kt, &c, &rng);
            }
    }
}

/* Every k in 0..40 and every layout of each operand, on a spread of
 * tile edges: 1, 2, mr - 1, mr, mr + 1 rows; W +- 1 and 2W +- 1 columns. */
Test(gemm_small, all_k_layouts)
{
    static const int64_t ms[] = {1, 2, 5, 6, 7, 11, 12, 13, 23, 25};
    static const int64_t ns[] = {1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 40};
    for (int t = 0; t < NTABLES; t++) {
        const ein_ktable *kt = ein_ktable_named(k_tables[t]);
        if (!kt)
            continue;
        ts_rng rng = {0x5eed0100u + (uint64_t)t};
        for (int64_t k = 0; k <= 40; k++)
            for (int lc = ROWMAJ; lc <= COLMAJ; lc++)
                for (int lo = 0; lo < NLAYOUTS; lo++)
                    for (int acc = 0; acc <= 1; acc++) {
                        gcase c = {
                            .m = ms[ts_range(&rng, 0, 9)],
                            .n = ns[ts_range(&rng, 0, 14)], .k = k, .lc = lc,
                            .pad = ts_range(&rng, 0, 5), .acc = acc,
                        };
                        /* The operand the fast path vector-loads follows
                         * C, then takes every layout (copied first). */
                        if (lc == ROWMAJ) { c.lb = ROWMAJ; c.la = lo; }
                        else { c.la = COLMAJ; c.lb = lo; }
                        check_case(kt, &c, &rng);
                        int other = (int)ts_range(&rng, 0, NLAYOUTS - 1);
                        if (lc == ROWMAJ) { c.lb = lo; c.la = other; }
                        else { c.la = lo; c.lb = other; }
                        check_case(kt, &c, &rng);
                    }
    }
}

/* Around the crossover to the frame, cubes and thin-k shapes. */
Test(gemm_small, crossover)
{
    static const int64_t sz[][3] = {
        {47, 48, 49}, {48, 48, 48}, {63, 64, 65}, {64, 64, 64}, {65, 63, 64},
        {80, 80, 80}, {95, 96, 97}, {96, 96, 96}, {97, 97, 97}, {100, 100, 100},
        {128, 128, 128}, {200, 150, 8}, {256, 256, 4}, {300, 17, 16},
        {16, 300, 17}, {9, 9, 700}, {33, 40, 300}, {128, 128, 16},
        /* narrow (n, or m with C column-major, at most 2W) past the cube
         * bound, the product shared between threads; and just past 2W */
        {1000, 3, 300}, {700, 17, 200}, {600, 32, 150}, {5, 800, 200},
        {450, 8, 777}, {400, 33, 100}, {40, 500, 160},
        /* one row tile: the threads share runs of column strips */
        {4, 1000, 300}, {12, 700, 150},
    };
    for (int t = 0; t < NTABLES; t++) {
        const ein_ktable *kt = ein_ktable_named(k_tables[t]);
        if (!kt)
            continue;
        ts_rng rng = {0x5eed0200u + (uint64_t)t};
        for (size_t s = 0; s < sizeof sz / sizeof sz[0]; s++)
            for (int lc = ROWMAJ; lc <= COLMAJ; lc++) {
                gcase c = {.m = sz[s][0], .n = sz[s][1], .k = sz[s][2], .lc = lc,
                           .la = lc, .lb = lc, .pad = ts_range(&rng, 0, 3),
                           .acc = (int)ts_range(&rng, 0, 1)};
                check_case(kt, &c, &rng);
                random_layout(&c, &rng);
                check_case(kt, &c, &rng);
            }
    }
}

/* Short narrow C (up to two row tiles, one strip) over long depths: B
 * past the narrow path's size bound, and the depth summed in two halves
 * from SMALL_KSPLIT_K on (a C over a depth just under and just over it,
 * a single row, odd depths), every layout mix, 1 and 2 threads bit for
 * bit. */
Test(gemm_small, short_long_depth, .timeout = 120)
{
    static const int64_t sz[][3] = {
        {12, 32, 1400}, {12, 32, 1023}, {2, 2, 300001}, {8, 8, 20000},
        {24, 32, 2001}, {25, 32, 1500}, {13, 17, 4097}, {3, 33, 9000},
        {32, 12, 1400}, {16, 16, 30000}, {7, 1, 200000}, {1, 7, 200000},
    };
    for (int t = 0; t < NTABLES; t++) {
        const ein_ktable *kt = ein_ktable_named(k_tables[t]);
        if (!kt)
            continue;
        ts_rng rng = {0x5eed0250u + (uint64_t)t};
        for (size_t s = 0; s < sizeof sz / sizeof sz[0]; s++)
            for (int r = 0; r < 3; r++) {
                gcase c = {.m = sz[s][0], .n = sz[s][1], .k = sz[s][2]};
                if (r < 2) {   /* the summed label outermost: ki,kj->ij */
                    c.lc = r ? COLMAJ : ROWMAJ;
                    c.la = COLMAJ;
                    c.lb = ROWMAJ;
                    c.pad = ts_range(&rng, 0, 3);
                    c.acc = r;
                } else {
                    random_layout(&c, &rng);
                }
                check_case(kt, &c, &rng);
            }
    }
}

/* A few rows of C times a B with contiguous columns (x W^T, a small
 * batch): one GEMV per row of C while W is cached, else the narrow
 * product C^T = W x^T into scratch, then transposed into C.  Sizes on
 * both sides of each bound (rows 4/5 and 8/9 f32, 2/3 and 4/5 f64, W of
 * 64 KiB and 1 MiB, m up to 2W, more rows of W than one block of the
 * narrow product's scratch), A and C in every layout that keeps C
 * row-major, accumulate on and off. */
Test(gemm_small, few_rows_times_wt, .timeout = 120)
{
    static const int64_t sz[][3] = {
        {2, 50, 50}, {3, 300, 300}, {4, 100, 100}, {5, 100, 100}, {8, 120, 120},
        {9, 120, 120}, {2, 600, 500}, {4, 520, 500}, {5, 520, 500},
        {16, 700, 400}, {32, 300, 90}, {33, 300, 90}, {7, 2000, 150},
        {4, 40, 2000}, {3, 17, 5},
        /* depths short against the rows: the row tiles on a copy of W */
        {8, 3000, 4}, {12, 512, 2}, {8, 3000, 32}, {3, 300, 17},
        /* W's rows past one scratch block (4096) */
        {3, 5000, 60}, {20, 4500, 30},
        /* rows of W either side of the AVX2 register GEMV's bounds (96
         * f32, 48 f64 elements), three to eight rows of C */
        {5, 100, 50}, {8, 100, 95}, {6, 64, 96}, {7, 90, 47}, {4, 90, 48},
    };
    for (int t = 0; t < NTABLES; t++) {
        const ein_ktable *kt = ein_ktable_named(k_tables[t]);
        if (!kt)
            continue;
        ts_rng rng = {0x5eed0270u + (uint64_t)t};
        for (size_t s = 0; s < sizeof sz / sizeof sz[0]; s++)
            for (int r = 0; r < 4; r++) {
                gcase c = {.m = sz[s][0], .n = sz[s][1], .k = sz[s][2],
                           .lb = COLMAJ, .lc = r < 2 ? ROWMAJ : STRIDED,
                           .la = r == 0 ? ROWMAJ : (int)ts_range(&rng, 0, NLAYOUTS - 1),
                           .pad = ts_range(&rng, 0, 3), .acc = r & 1};
                check_case(kt, &c, &rng);
            }
    }
}

/* A^T B with a C narrower than a vector ("ji,jk->ik", A's rows
 * contiguous, n small): computed as C^T = B^T A^T into scratch, then
 * transposed into C.  Shapes either side of the route's bounds (n up to
 * and past the tile's rows, depths 7/8/9, m past one scratch block of
 * 4096 columns), C row-major with A column-major and the mirror image
 * (C column-major, B row-major), and every other layout of the third
 * operand.  Each element is the same sum as the row tiles compute, so
 * the bits must equal those of the same call with A copied row-major,
 * which takes the row tiles. */
Test(gemm_small, transposed_narrow, .timeout = 120)
{
    static const int64_t sz[][3] = {
        {200, 4, 1000}, {33, 3, 64}, {100, 7, 200}, {7, 4, 128}, {17, 1, 40},
        {16, 12, 50}, {40, 13, 50}, {64, 16, 30}, {1000, 2, 7}, {1000, 2, 8},
        {999, 5, 9}, {4500, 3, 20}, {9000, 6, 16}, {5, 2, 100}, {2, 3, 50},
    };
    for (int t = 0; t < NTABLES; t++) {
        const ein_ktable *kt = ein_ktable_named(k_tables[t]);
        if (!kt)
            continue;
        ts_rng rng = {0x5eed0290u + (uint64_t)t};
        for (size_t s = 0; s < sizeof sz / sizeof sz[0]; s++)
            for (int r = 0; r < 4; r++) {
                int mirror = r >= 2;
                gcase c = {.m = mirror ? sz[s][1] : sz[s][0],
                           .n = mirror ? sz[s][0] : sz[s][1], .k = sz[s][2],
                           .lc = mirror ? COLMAJ : ROWMAJ,
                           .la = mirror ? (int)ts_range(&rng, 0, NLAYOUTS - 1) : COLMAJ,
                           .lb = mirror ? ROWMAJ : (int)ts_range(&rng, 0, NLAYOUTS - 1),
                           .pad = ts_range(&rng, 0, 3), .acc = r & 1};
                check_case(kt, &c, &rng);
            }
        /* The bits of the row tiles: A column-major against a copy whose
         * rows are neither rows nor columns of contiguous elements (every
         * other element), which the row tiles take; f32 and f64, 1 and 2
         * threads (the tables with the unpacked path; one column is a
         * GEMV, whose two orientations sum differently). */
        for (size_t s = 0; s < sizeof sz / sizeof sz[0] && kt->gemm_batch_f32; s++) {
            int64_t m = sz[s][0], n = sz[s][1], k = sz[s][2];
            if (n < 2)
                continue;
            size_t na = (size_t)(m * k), nb = (size_t)(k * n), nc = (size_t)(m * n);
            double *Ac = malloc(na * sizeof *Ac), *Ar = malloc(2 * na * sizeof *Ar);
            double *B = malloc(nb * sizeof *B), *C1 = malloc(nc * sizeof *C1);
            double *C2 = malloc(nc * sizeof *C2);
            float *Acf = malloc(na * sizeof *Acf), *Arf = malloc(2 * na * sizeof *Arf);
            float *Bf = malloc(nb * sizeof *Bf), *C1f = malloc(nc * sizeof *C1f);
            float *C2f = malloc(nc * sizeof *C2f);
            cr_assert(Ac && Ar && B && C1 && C2 && Acf && Arf && Bf && C1f && C2f);
            ts_fill_f64(Ac, na, &rng);
            ts_fill_f64(B, nb, &rng);
            for (int64_t i = 0; i < m; i++)
                for (int64_t p = 0; p < k; p++) {
                    Ar[2 * (i * k + p)] = Ac[p * m + i];
                    Ar[2 * (i * k + p) + 1] = 0;
                }
            for (size_t q = 0; q < na; q++)
                Acf[q] = (float)Ac[q];
            for (size_t q = 0; q < 2 * na; q++)
                Arf[q] = (float)Ar[q];
            for (size_t q = 0; q < nb; q++)
                Bf[q] = (float)B[q];
            int nt = 1 + (int)(s & 1);
            kt->gemm_f64(m, n, k, Ac, 1, m, B, n, 1, C1, n, 1, 0, nt);
            kt->gemm_f64(m, n, k, Ar, 2 * k, 2, B, n, 1, C2, n, 1, 0, 3 - nt);
            kt->gemm_f32(m, n, k, Acf, 1, m, Bf, n, 1, C1f, n, 1, 0, nt);
            kt->gemm_f32(m, n, k, Arf, 2 * k, 2, Bf, n, 1, C2f, n, 1, 0, 3 - nt);
            cr_assert(memcmp(C1, C2, nc * sizeof *C1) == 0 &&
                      memcmp(C1f, C2f, nc * sizeof *C1f) == 0,
                      "%s m=%lld n=%lld k=%lld: A column-major and strided "
                      "differ in the bits", kt->name, (long long)m, (long long)n,
                      (long long)k);
            free(Ac); free(Ar); free(B); free(C1); free(C2);
            free(Acf); free(Arf); free(Bf); free(C1f); free(C2f);
        }
    }
}

/* Short C (up to four rows) across many columns: tiles four vectors
 * wide, B's rows fetched ahead (into the next strip near the end of a
 * short depth) when they are far apart.  Columns either side of 4W,
 * 1..20 and longer depths, B rows near and far apart (padded), 1 and 2
 * threads bit for bit (check_case). */
Test(gemm_small, short_wide, .timeout = 120)
{
    static const int64_t ms[] = {2, 3, 4, 5};
    static const int64_t ns[] = {31, 32, 33, 63, 64, 65, 100, 129, 200, 1000, 2000};
    for (int t = 0; t < NTABLES; t++) {
        const ein_ktable *kt = ein_ktable_named(k_tables[t]);
        if (!kt)
            continue;
        ts_rng rng = {0x5eed02a0u + (uint64_t)t};
        for (int it = 0; it < 120; it++) {
            gcase c = {.m = ms[ts_range(&rng, 0, 3)], .n = ns[ts_range(&rng, 0, 10)],
                       .k = it % 3 ? ts_range(&rng, 1, 20) : ts_range(&rng, 21, 300),
                       .lc = ROWMAJ, .lb = ROWMAJ,
                       .la = (int)ts_range(&rng, 0, NLAYOUTS - 1),
                       .pad = it % 2 ? ts_range(&rng, 0, 3) : ts_range(&rng, 200, 600),
                       .acc = it & 1};
            check_case(kt, &c, &rng);
        }
    }
}

/* The frame with a C narrower than a vector (B past the small path's
 * bound: A^T B over a long depth, a few columns): C^T = B^T A^T, the
 * tiles written through a buffer.  Against the reference in every
 * layout mix, 1 and 2 threads (check_case); and, f64, bit for bit
 * against C with every other element (which keeps the frame's own
 * orientation): the same sums in the same depth blocks.  m > 24, so
 * that neither is a short C, which the small path takes. */
Test(gemm_small, frame_narrow)
{
    static const int64_t sz[][3] = {
        {40, 3, 100000}, {100, 5, 30000}, {30, 2, 70000}, {30, 14, 20000},
        {30, 15, 20000},
    };
    for (int t = 0; t < NTABLES; t++) {
        const ein_ktable *kt = ein_ktable_named(k_tables[t]);
        if (!kt)
            continue;
        ts_rng rng = {0x5eed02c0u + (uint64_t)t};
        for (size_t s = 0; s < sizeof sz / sizeof sz[0]; s++) {
            for (int r = 0; r < 3; r++) {
                gcase c = {.m = sz[s][0], .n = sz[s][1], .k = sz[s][2],
                           .la = r == 2 ? (int)ts_range(&rng, 0, NLAYOUTS - 1) : COLMAJ,
                           .lb = ROWMAJ, .lc = r == 1 ? COLMAJ : ROWMAJ,
                           .pad = ts_range(&rng, 0, 3), .acc = r & 1};
                if (r == 1) {   /* the mirror image: C^T = B^T A^T given */
                    int64_t tm = c.m;
                    c.m = c.n;
                    c.n = tm;
                    c.la = COLMAJ;
                    c.lb = ROWMAJ;
                }
                check_case(kt, &c, &rng);
            }
            int64_t m = sz[s][0], n = sz[s][1], k = sz[s][2];
            size_t na = (size_t)(m * k), nb = (size_t)(k * n), nc = (size_t)(m * n);
            double *A = malloc(na * sizeof *A), *B = malloc(nb * sizeof *B);
            double *C1 = malloc(nc * sizeof *C1), *C2 = malloc(2 * nc * sizeof *C2);
            cr_assert(A && B && C1 && C2);
            ts_fill_f64(A, na, &rng);
            ts_fill_f64(B, nb, &rng);
            kt->gemm_f64(m, n, k, A, 1, m, B, n, 1, C1, n, 1, 0, 1 + (int)(s & 1));
            kt->gemm_f64(m, n, k, A, 1, m, B, n, 1, C2, 2 * n, 2, 0, 2 - (int)(s & 1));
            for (size_t q = 0; q < nc; q++)
                cr_assert(memcmp(&C1[q], &C2[2 * q], sizeof *C1) == 0,
                          "%s m=%lld n=%lld k=%lld: element %zu is %.17g with C "
                          "row-major, %.17g with C strided", kt->name, (long long)m,
                          (long long)n, (long long)k, q, C1[q], C2[2 * q]);
            free(A); free(B); free(C1); free(C2);
        }
    }
}

/* Two calls, and 1 vs 2 threads, give the same bits. */
Test(gemm_small, deterministic)
{
    static const int64_t sz[][3] = {
        {8, 8, 8}, {16, 16, 16}, {32, 32, 32}, {13, 29, 37}, {64, 64, 64},
        {96, 96, 96}, {100, 90, 80}, {128, 128, 128}, {256, 256, 8},
        {1000, 10, 300}, {2000, 3, 100}, {500, 32, 256},
    };
    for (int t = 0; t < NTABLES; t++) {
        const ein_ktable *kt = ein_ktable_named(k_tables[t]);
        if (!kt)
            continue;
        ts_rng rng = {0x5eed0300u + (uint64_t)t};
        for (size_t s = 0; s < sizeof sz / sizeof sz[0]; s++) {
            int64_t m = sz[s][0], n = sz[s][1], k = sz[s][2];
            size_t na = (size_t)(m * k), nb = (size_t)(k * n), nc = (size_t)(m * n);
            float *A = malloc(na * sizeof *A), *B = malloc(nb * sizeof *B);
            float *C1 = malloc(nc * sizeof *C1), *C2 = malloc(nc * sizeof *C2);
            double *Ad = malloc(na * sizeof *Ad), *Bd = malloc(nb * sizeof *Bd);
            double *D1 = malloc(nc * sizeof *D1), *D2 = malloc(nc * sizeof *D2);
            cr_assert(A && B && C1 && C2 && Ad && Bd && D1 && D2);
            ts_fill_f64(Ad, na, &rng);
            ts_fill_f64(Bd, nb, &rng);
            for (size_t i = 0; i < na; i++) A[i] = (float)Ad[i];
            for (size_t i = 0; i < nb; i++) B[i] = (float)Bd[i];
            for (int nt = 1; nt <= 2; nt++) {
                float *Cx = nt == 1 ? C1 : C2;
                double *Dx = nt == 1 ? D1 : D2;
                kt->gemm_f32(m, n, k, A, k, 1, B, n, 1, Cx, n, 1, 0, nt);
                kt->gemm_f64(m, n, k, Ad, k, 1, Bd, n, 1, Dx, n, 1, 0, nt);
            }
            cr_assert(memcmp(C1, C2, nc * sizeof *C1) == 0 &&
                      memcmp(D1, D2, nc * sizeof *D1) == 0,
                      "%s m=%lld n=%lld k=%lld: 1 and 2 threads differ", kt->name,
                      (long long)m, (long long)n, (long long)k);
            kt->gemm_f32(m, n, k, A, k, 1, B, n, 1, C2, n, 1, 0, 1);
            cr_assert(memcmp(C1, C2, nc * sizeof *C1) == 0,
                      "%s m=%lld n=%lld k=%lld: repeated call differs", kt->name,
                      (long long)m, (long long)n, (long long)k);
            free(A); free(B); free(C1); free(C2);
            free(Ad); free(Bd); free(D1); free(D2);
        }
    }
}

/* ---- batches ----------------------------------------------------------- */

/* nb products through the table's batch entry against one gemm call
 * each, on copies of the same buffers: bitwise equal, C and everything
 * around it.  Operand b sits at base + b * stride with strides that run
 * forward, backward, or stay put (one A or B shared by the batch). */
#define DEFINE_BATCH_CHECK(SFX, T)                                             \
static int batch_check_##SFX(const ein_ktable *kt, const gcase *c, int64_t nb, \
                             int mode, ts_rng *rng)                            \
{                                                                              \
    view va = make_view(c->la, c->m, c->k, c->pad);                            \
    view vb = make_view(c->lb, c->k, c->n, c->pad);                            \
    view vc = make_view(c->lc, c->m, c->n, c->pad);                            \
    int64_t nbk = nb > 0 ? nb : 1;                                             \
    int64_t sa = va.size, sb = vb.size, sc = vc.size;                          \
    if (mode == 1) { sa = -sa; sb = -sb; sc = -sc; }                           \
    if (mode == 2) sa = 0;                                                     \
    if (mode == 3) sb = 0;                                                     \
    int64_t na = va.size * nbk, nbb = vb.size * nbk, nc = vc.size * nbk + 2 * GUARD; \
    T *A = malloc((size_t)na * sizeof *A), *B = malloc((size_t)nbb * sizeof *B); \
    T *C1 = malloc((size_t)nc * sizeof *C1), *C2 = malloc((size_t)nc * sizeof *C2); \
    T *C0 = malloc((size_t)nc * sizeof *C0);                                   \
    double *tmp = malloc((size_t)(na > nbb ? (na > nc ? na : nc)                \
                                           : (nbb > nc ? nbb : nc)) * sizeof *tmp); \
    cr_assert(A && B && C1 && C2 && C0 && tmp);                                \
    ts_fill_f64(tmp, (size_t)na, rng);                                         \
    for (int64_t i = 0; i < na; i++) A[i] = (T)tmp[i];                         \
    ts_fill_f64(tmp, (size_t)nbb, rng);                                        \
    for (int64_t i = 0; i < nbb; i++) B[i] = (T)tmp[i];                        \
    ts_fill_f64(tmp, (size_t)nc, rng);                                         \
    for (int64_t i = 0; i < nc; i++) C0[i] = (T)tmp[i];                        \
    memcpy(C1, C0, (size_t)nc * sizeof *C0);                                   \
    memcpy(C2, C0, (size_t)nc * sizeof *C0);                                   \
    /* product 0's operands: the first block, or the last when going back */  \
    const T *a0 = A + va.off + (sa < 0 ? -sa * (nbk - 1) : 0);                 \
    const T *b0 = B + vb.off + (sb < 0 ? -sb * (nbk - 1) : 0);                 \
    int64_t c0 = GUARD + vc.off + (sc < 0 ? -sc * (nbk - 1) : 0);              \
    int done = kt->gemm_batch_##SFX(nb, sa, sb, sc, c->m, c->n, c->k, a0,        \
                                   va.rs, va.cs, b0, vb.rs, vb.cs, C1 + c0,    \
                                   vc.rs, vc.cs, c->acc);                      \
    if (done) {                                                                \
        for (int64_t b = 0; b < nb; b++)                                       \
            kt->gemm_##SFX(c->m, c->n, c->k, a0 + b * sa, va.rs, va.cs,          \
                           b0 + b * sb, vb.rs, vb.cs, C2 + c0 + b * sc, vc.rs,  \
                           vc.cs, c->acc, 1);                                  \
        for (int64_t q = 0; q < nc; q++)                                       \
            cr_assert(memcmp(&C1[q], &C2[q], sizeof *C1) == 0,                 \
                      "%s " #SFX " batch of %lld, m=%lld n=%lld k=%lld A %s "  \
                      "B %s C %s acc=%d mode %d: element %lld is %.17g, one "  \
                      "call each gave %.17g", kt->name, (long long)nb,         \
                      (long long)c->m, (long long)c->n, (long long)c->k,       \
                      k_lname[c->la], k_lname[c->lb], k_lname[c->lc], c->acc,  \
                      mode, (long long)(q - c0), (double)C1[q], (double)C2[q]); \
    } else {                                                                   \
        cr_assert(memcmp(C1, C0, (size_t)nc * sizeof *C0) == 0,                \
                  "%s " #SFX " batch refused m=%lld n=%lld k=%lld but wrote C", \
                  kt->name, (long long)c->m, (long long)c->n, (long long)c->k); \
    }                                                                          \
    free(A); free(B); free(C0); free(C1); free(C2); free(tmp);                 \
    return done;                                                               \
}
DEFINE_BATCH_CHECK(f32, float)
DEFINE_BATCH_CHECK(f64, double)
#undef DEFINE_BATCH_CHECK

/* A few columns of C times an A whose rows are contiguous (x W, W of a
 * few columns): C^T = B^T A^T through the table's gemv_multi where it
 * has one.  Sizes either side of each bound (2..9 columns, 7/8 rows,
 * depth 31/32, an A past 1 MiB with more than four columns), B and C
 * in every layout, accumulate on and off (check_case: against the
 * reference, 1 vs 2 threads, nothing outside C). */
Test(gemm_small, few_cols_times_w, .timeout = 120)
{
    static const int64_t sz[][3] = {
        {512, 4, 64}, {512, 4, 100}, {300, 5, 48}, {64, 2, 100}, {8, 3, 32},
        {7, 3, 32}, {9, 8, 31}, {100, 9, 40}, {1000, 6, 33}, {3000, 3, 300},
        {1200, 5, 250}, {40, 7, 1000}, {16, 2, 17},
        /* a few rows: B's copy and the stores weigh as much as the sums */
        {13, 3, 183}, {24, 2, 160}, {10, 2, 47}, {21, 7, 35}, {11, 6, 95},
    };
    for (int t = 0; t < NTABLES; t++) {
        const ein_ktable *kt = ein_ktable_named(k_tables[t]);
        if (!kt)
            continue;
        ts_rng rng = {0x5eed02b0u + (uint64_t)t};
        for (size_t s = 0; s < sizeof sz / sizeof sz[0]; s++)
            for (int r = 0; r < 4; r++) {
                /* r == 0: B and C dense row-major (B's columns copied to
                 * rows by vector, the sums stored by vector); else any
                 * B, C row-major (padded) or any. */
                gcase c = {.m = sz[s][0], .n = sz[s][1], .k = sz[s][2], .la = ROWMAJ,
                           .lb = r == 0 ? ROWMAJ : (int)ts_range(&rng, 0, NLAYOUTS - 1),
                           .lc = r < 2 ? ROWMAJ : (int)ts_range(&rng, 0, STRIDED),
                           .pad = r == 0 ? 0 : ts_range(&rng, 0, 3), .acc = r & 1};
                check_case(kt, &c, &rng);
                /* The batch entry: each product as its own call. */
                if (kt->gemm_batch_f32 && r < 2) {
                    batch_check_f32(kt, &c, 3, r, &rng);
                    batch_check_f64(kt, &c, 2, 3 - r, &rng);
                }
            }
    }
}

Test(gemm_small, batches_match_one_call_each)
{
    static const int64_t nbs[] = {0, 1, 2, 3, 7, 16};
    int tables = 0;
    for (int t = 0; t < NTABLES; t++) {
        const ein_ktable *kt = ein_ktable_named(k_tables[t]);
        if (!kt || !kt->gemm_batch_f32)
            continue;
        cr_assert(kt->gemm_batch_f64, "%s batches f32 but not f64", kt->name);
        tables++;
        ts_rng rng = {0x5eed0400u + (uint64_t)t};
        int batched = 0;
        for (int it = 0; it < 600; it++) {
            gcase c = {.m = ts_range(&rng, 0, 24), .n = ts_range(&rng, 0, 40),
                       .k = ts_range(&rng, 0, 20)};
            if (it % 50 == 0) {   /* past the crossover: refused */
                c.m = 150;
                c.n = 150;
                c.k = 150;
            }
            random_layout(&c, &rng);
            int64_t nb = nbs[ts_range(&rng, 0, 5)];
            int mode = (int)ts_range(&rng, 0, 3);
            int d32 = batch_check_f32(kt, &c, nb, mode, &rng);
            int d64 = batch_check_f64(kt, &c, nb, mode, &rng);
            cr_assert_eq(d32, d64, "%s: f32 and f64 batch entries disagree on "
                         "m=%lld n=%lld k=%lld", kt->name, (long long)c.m,
                         (long long)c.n, (long long)c.k);
            /* The shapes the entry must take: two or more rows and
             * columns, small, C row- or column-major. */
            int must = c.m >= 2 && c.n >= 2 && c.k >= 1 && c.m * c.n * c.k <= 4096 &&
                       c.lc != STRIDED;
            if (must)
                cr_assert(d32, "%s refused a batch of %lld %lldx%lldx%lld products",
                          kt->name, (long long)nb, (long long)c.m, (long long)c.n,
                          (long long)c.k);
            batched += d32 && nb > 1;
        }
        cr_assert_gt(batched, 100, "%s: only %d batches ran", kt->name, batched);
    }
    /* Where the build has a table with the entry, it was tested. */
    if (ein_ktable_named("avx2"))
        cr_assert_gt(tables, 0);
}
