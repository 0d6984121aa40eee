/* test_kernels.c — the dense kernel tables (src/kernels/) against a naive
 * triple loop: every table this CPU runs, both dtypes, 1 and 2 threads
 * (bitwise equal), odd shapes, every stride layout the contract allows. */
#define _POSIX_C_SOURCE 200809L   /* setenv */
#include <criterion/criterion.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/frame.h"
#include "kernels/kernels.h"
#include "support.h"

static const char *const k_tables[] = {"generic", "avx2", "avx512"};
#define NTABLES 3

/* ---- strided 2-D layouts --------------------------------------------- */

/* Element (i, j) is buf[off + i*rs + j*cs]; size is the buffer length. */
typedef struct lay { int64_t rs, cs, off, size; int kind; } lay;

enum { L_ROW, L_COL, L_ROWPAD, L_REVROWS, L_REVCOLS_CM, L_STRIDED,
       L_REVCOLS_RM, L_ZERO_RS, L_ZERO_CS, L_NKINDS };
static const char *const k_lay_names[] = {
    "row-major", "col-major", "row-major+pad", "rows reversed",
    "col-major cols reversed", "both strided", "row-major cols reversed",
    "zero row stride", "zero col stride"};

static lay make_lay(int64_t r, int64_t c, int kind)
{
    lay l = {0, 0, 0, 0, kind};
    switch (kind) {
    case L_ROW:        l.rs = c;      l.cs = 1;         break;
    case L_COL:        l.rs = 1;      l.cs = r;         break;
    case L_ROWPAD:     l.rs = c + 3;  l.cs = 1;         break;
    case L_REVROWS:    l.rs = -c;     l.cs = 1;         break;
    case L_REVCOLS_CM: l.rs = 1;      l.cs = -r;        break;
    case L_STRIDED:    l.rs = 2;      l.cs = 2 * r + 1; break;
    case L_REVCOLS_RM: l.rs = c;      l.cs = -1;        break;
    case L_ZERO_RS:    l.rs = 0;      l.cs = 1;         break;
    default:           l.rs = 1;      l.cs = 0;         break;
    }
    l.size = 1;
    if (r > 0 && c > 0)
        l.size += (r - 1) * llabs(l.rs) + (c - 1) * llabs(l.cs);
    if (l.rs < 0 && r > 0) l.off += (r - 1) * -l.rs;
    if (l.cs < 0 && c > 0) l.off += (c - 1) * -l.cs;
    return l;
}

/* A vector of n elements at stride inc. */
static lay make_vec(int64_t n, int64_t inc)
{
    lay l = {inc, 0, 0, 1, 0};
    if (n > 0) l.size += (n - 1) * llabs(inc);
    if (inc < 0 && n > 0) l.off = (n - 1) * -inc;
    return l;
}

static const ein_ktable *table_or_skip_count(int t, int *ran)
{
    const ein_ktable *kt = ein_ktable_named(k_tables[t]);
    if (kt)
        (*ran)++;
    return kt;
}

/* ---- tensor-GEMM cases ------------------------------------------------ */

/* A tensor GEMM problem: groups for m, n, k over random tensor layouts.
 * A holds the m and k labels, B the k and n labels, C the m and n labels,
 * each stored in a random order, some reversed, padded, or (inputs only)
 * broadcast with stride 0.  Buffers are sized to the views; off is where
 * element 0 of the view lies. */
typedef struct tcase {
    ein_group gm, gn, gk;
    int64_t m, n, k;
    int64_t aoff, boff, coff, asz, bsz, csz;
} tcase;

enum { TR_M, TR_N, TR_K };

/* Offset of flat index i (C order over g's dims) in tensor t. */
static int64_t t_off(const ein_group *g, int t, int64_t i)
{
    int64_t o = 0;
    for (int d = g->ndim - 1; d >= 0; d--) {
        o += i % g->ext[d] * g->stride[t][d];
        i /= g->ext[d];
    }
    return o;
}

/* Lays out one tensor over labels lab[0..nl) (extents ext[]): a random
 * storage order, each stride then possibly reversed, padded or (if
 * may_zero) 0.  Writes strides into st[label]; returns the buffer size
 * and the offset of element 0. */
static int64_t t_layout(const int *lab, int nl, const int64_t *ext,
                        int64_t *st, int may_zero, int64_t *off, ts_rng *g)
{
    int order[3 * EIN_GROUP_MAX];
    for (int i = 0; i < nl; i++)
        order[i] = lab[i];
    for (int i = nl - 1; i > 0; i--) {
        int j = (int)ts_range(g, 0, i), t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    int64_t run = 1, size = 1;
    *off = 0;
    for (int i = nl - 1; i >= 0; i--) {      /* order[nl-1] innermost */
        int l = order[i];
        int64_t s = run;
        if (ts_range(g, 0, 5) == 0)
            s += ts_range(g, 1, 3);          /* a gap after each run */
        run = s * (ext[l] > 0 ? ext[l] : 1);
        if (may_zero && ts_range(g, 0, 9) == 0)
            s = 0;
        else if (ts_range(g, 0, 3) == 0)
            s = -s;
        st[l] = s;
    }
    int empty = 0;
    for (int i = 0; i < nl; i++)
        empty |= ext[lab[i]] == 0;
    if (!empty)
        for (int i = 0; i < nl; i++) {
            int64_t e = ext[lab[i]], s = st[lab[i]];
            size += (e - 1) * llabs(s);
            if (s < 0)
                *off += (e - 1) * -s;
        }
    return size;
}

/* Random groups of nd[role] dims (0..4), extents from a list with zeros,
 * ones and primes, each group's index count at most cap[role]. */
static void t_make(tcase *tc, const int *nd, const int64_t *cap, ts_rng *g)
{
    static const int64_t exts[] = {1, 2, 3, 5, 7, 13, 16, 17, 31, 2, 3, 4};
    int role[3 * EIN_GROUP_MAX], nl = 0;
    int64_t ext[3 * EIN_GROUP_MAX];
    int64_t tot[3] = {1, 1, 1};
    for (int r = 0; r < 3; r++)
        for (int d = 0; d < nd[r]; d++) {
            int64_t e = exts[ts_range(g, 0, (int64_t)(sizeof exts / sizeof exts[0]) - 1)];
            while (e > 1 && tot[r] * e > cap[r])
                e /= 2;
            if (ts_range(g, 0, 60) == 0)
                e = 0;
            tot[r] *= e;
            role[nl] = r;
            ext[nl++] = e;
        }
    int la[3 * EIN_GROUP_MAX], lb[3 * EIN_GROUP_MAX], lc[3 * EIN_GROUP_MAX];
    int na = 0, nb = 0, nc = 0;
    for (int l = 0; l < nl; l++) {
        if (role[l] != TR_N) la[na++] = l;
        if (role[l] != TR_M) lb[nb++] = l;
        if (role[l] != TR_K) lc[nc++] = l;
    }
    int64_t sa[3 * EIN_GROUP_MAX], sb[3 * EIN_GROUP_MAX], sc[3 * EIN_GROUP_MAX];
    tc->asz = t_layout(la, na, ext, sa, 1, &tc->aoff, g);
    tc->bsz = t_layout(lb, nb, ext, sb, 1, &tc->boff, g);
    tc->csz = t_layout(lc, nc, ext, sc, 0, &tc->coff, g);
    ein_group *gr[3] = {&tc->gm, &tc->gn, &tc->gk};
    for (int r = 0; r < 3; r++)
        gr[r]->ndim = 0;
    for (int l = 0; l < nl; l++) {
        ein_group *G = gr[role[l]];
        int d = G->ndim++;
        G->ext[d] = ext[l];
        G->stride[0][d] = role[l] == TR_N ? sb[l] : sa[l];
        G->stride[1][d] = role[l] == TR_K ? sb[l] : sc[l];
    }
    tc->m = tot[TR_M];
    tc->n = tot[TR_N];
    tc->k = tot[TR_K];
}

/* ---- per-dtype checks (written once, instantiated twice) -------------- */

#define CAT_(a, b) a##_##b
#define CAT(a, b) CAT_(a, b)
#define F(name) CAT(name, SFX)

#define CHECKS                                                                \
static void F(fill)(T *p, int64_t n, ts_rng *g)                               \
{                                                                             \
    for (int64_t i = 0; i < n; i++)                                           \
        p[i] = (T)ts_uniform(g);                                              \
}                                                                             \
                                                                              \
/* One GEMM case: runs nthreads 1 and 2, checks the view against the        \
 * reference, the rest of C's buffer untouched, and the two runs equal. */   \
static void F(gemm_case)(const ein_ktable *kt, int64_t m, int64_t n,         \
                         int64_t k, int la, int lb, int lc, int acc,          \
                         ts_rng *g)                                           \
{                                                                             \
    lay A = make_lay(m, k, la), B = make_lay(k, n, lb), C = make_lay(m, n, lc);\
    T *a = malloc(sizeof(T) * A.size), *b = malloc(sizeof(T) * B.size);       \
    T *c0 = malloc(sizeof(T) * C.size), *c1 = malloc(sizeof(T) * C.size);     \
    T *c2 = malloc(sizeof(T) * C.size);                                       \
    cr_assert(a && b && c0 && c1 && c2);                                      \
    F(fill)(a, A.size, g); F(fill)(b, B.size, g); F(fill)(c0, C.size, g);     \
    memcpy(c1, c0, sizeof(T) * C.size);                                       \
    memcpy(c2, c0, sizeof(T) * C.size);                                       \
    char *inview = calloc((size_t)C.size, 1);                                 \
    cr_assert(inview);                                                        \
    kt->CAT(gemm, SFX)(m, n, k, a + A.off, A.rs, A.cs, b + B.off, B.rs, B.cs, \
                       c1 + C.off, C.rs, C.cs, acc, 1);                       \
    kt->CAT(gemm, SFX)(m, n, k, a + A.off, A.rs, A.cs, b + B.off, B.rs, B.cs, \
                       c2 + C.off, C.rs, C.cs, acc, 2);                       \
    double worst = 0;                                                         \
    for (int64_t i = 0; i < m; i++)                                           \
        for (int64_t j = 0; j < n; j++) {                                     \
            REF s = 0, mag = 0;                                               \
            for (int64_t p = 0; p < k; p++) {                                 \
                REF t = (REF)a[A.off + i * A.rs + p * A.cs] *                 \
                        (REF)b[B.off + p * B.rs + j * B.cs];                  \
                s += t;                                                       \
                mag += t < 0 ? -t : t;                                        \
            }                                                                 \
            int64_t ci = C.off + i * C.rs + j * C.cs;                         \
            inview[ci] = 1;                                                   \
            if (acc) { s += c0[ci]; mag += fabs((double)c0[ci]); }            \
            double tol = TOL * sqrt((double)(k + 1)) * (double)mag + 1e-30;   \
            double e = fabs((double)c1[ci] - (double)s) / tol;                \
            if (!(e <= worst)) worst = isnan(e) ? INFINITY : e;               \
        }                                                                     \
    int untouched = 1;                                                        \
    for (int64_t q = 0; q < C.size; q++)                                      \
        if (!inview[q] && memcmp(&c1[q], &c0[q], sizeof(T)) != 0)             \
            untouched = 0;                                                    \
    cr_assert(worst <= 1.0,                                                   \
              "%s %s gemm m=%lld n=%lld k=%lld A %s B %s C %s acc=%d: "       \
              "error %.3g x tolerance", kt->name, SNAME, (long long)m,         \
              (long long)n, (long long)k, k_lay_names[la], k_lay_names[lb],   \
              k_lay_names[lc], acc, worst);                                   \
    cr_assert(untouched, "%s %s gemm m=%lld n=%lld k=%lld C %s: wrote "       \
              "outside the view", kt->name, SNAME, (long long)m, (long long)n, \
              (long long)k, k_lay_names[lc]);                                 \
    cr_assert(memcmp(c1, c2, sizeof(T) * C.size) == 0,                        \
              "%s %s gemm m=%lld n=%lld k=%lld A %s B %s C %s: 1 and 2 "      \
              "threads differ", kt->name, SNAME, (long long)m, (long long)n,   \
              (long long)k, k_lay_names[la], k_lay_names[lb],                 \
              k_lay_names[lc]);                                               \
    free(a); free(b); free(c0); free(c1); free(c2); free(inview);             \
}                                                                             \
                                                                              \
static void F(gemv_case)(const ein_ktable *kt, int64_t m, int64_t n, int la,  \
                         int64_t incx, int64_t incy, int acc, ts_rng *g)      \
{                                                                             \
    lay A = make_lay(m, n, la), X = make_vec(n, incx), Y = make_vec(m, incy); \
    T *a = malloc(sizeof(T) * A.size), *x = malloc(sizeof(T) * X.size);       \
    T *y0 = malloc(sizeof(T) * Y.size), *y1 = malloc(sizeof(T) * Y.size);     \
    T *y2 = malloc(sizeof(T) * Y.size);                                       \
    cr_assert(a && x && y0 && y1 && y2);                                      \
    F(fill)(a, A.size, g); F(fill)(x, X.size, g); F(fill)(y0, Y.size, g);     \
    memcpy(y1, y0, sizeof(T) * Y.size);                                       \
    memcpy(y2, y0, sizeof(T) * Y.size);                                       \
    kt->CAT(gemv, SFX)(m, n, a + A.off, A.rs, A.cs, x + X.off, incx,          \
                       y1 + Y.off, incy, acc, 1);                             \
    kt->CAT(gemv, SFX)(m, n, a + A.off, A.rs, A.cs, x + X.off, incx,          \
                       y2 + Y.off, incy, acc, 2);                             \
    double worst = 0;                                                         \
    for (int64_t i = 0; i < m; i++) {                                         \
        REF s = 0, mag = 0;                                                   \
        for (int64_t j = 0; j < n; j++) {                                     \
            REF t = (REF)a[A.off + i * A.rs + j * A.cs] *                     \
                    (REF)x[X.off + j * incx];                                 \
            s += t;                                                           \
            mag += t < 0 ? -t : t;                                            \
        }                                                                     \
        int64_t yi = Y.off + i * incy;                                        \
        if (acc) { s += y0[yi]; mag += fabs((double)y0[yi]); }                \
        double tol = TOL * sqrt((double)(n + 1)) * (double)mag + 1e-30;       \
        double e = fabs((double)y1[yi] - (double)s) / tol;                    \
        if (!(e <= worst)) worst = isnan(e) ? INFINITY : e;                   \
    }                                                                         \
    cr_assert(worst <= 1.0, "%s %s gemv m=%lld n=%lld A %s incx=%lld "        \
              "incy=%lld acc=%d: error %.3g x tolerance", kt->name, SNAME,     \
              (long long)m, (long long)n, k_lay_names[la], (long long)incx,   \
              (long long)incy, acc, worst);                                   \
    cr_assert(memcmp(y1, y2, sizeof(T) * Y.size) == 0,                        \
              "%s %s gemv m=%lld n=%lld A %s: 1 and 2 threads differ",        \
              kt->name, SNAME, (long long)m, (long long)n, k_lay_names[la]);   \
    free(a); free(x); free(y0); free(y1); free(y2);                           \
}                                                                             \
                                                                              \
static void F(dot_case)(const ein_ktable *kt, int64_t n, int64_t incx,        \
                        int64_t incy, ts_rng *g)                              \
{                                                                             \
    lay X = make_vec(n, incx), Y = make_vec(n, incy);                         \
    T *x = malloc(sizeof(T) * X.size), *y = malloc(sizeof(T) * Y.size);       \
    cr_assert(x && y);                                                        \
    F(fill)(x, X.size, g); F(fill)(y, Y.size, g);                             \
    T got = kt->CAT(dot, SFX)(n, x + X.off, incx, y + Y.off, incy);           \
    REF s = 0, mag = 0;                                                       \
    for (int64_t i = 0; i < n; i++) {                                         \
        REF t = (REF)x[X.off + i * incx] * (REF)y[Y.off + i * incy];          \
        s += t;                                                               \
        mag += t < 0 ? -t : t;                                                \
    }                                                                         \
    double tol = TOL * sqrt((double)(n + 1)) * (double)mag + 1e-30;           \
    cr_assert(fabs((double)got - (double)s) <= tol,                           \
              "%s %s dot n=%lld incx=%lld incy=%lld: got %.17g want %.17g",   \
              kt->name, SNAME, (long long)n, (long long)incx, (long long)incy, \
              (double)got, (double)s);                                        \
    free(x); free(y);                                                         \
}                                                                             \
                                                                              \
/* One tensor-GEMM case: 1 and 2 threads, against the reference through       \
 * the groups' offsets; the rest of C's buffer untouched; bitwise equal. */   \
static void F(tgemm_case)(const ein_ktable *kt, const tcase *tc, int acc,     \
                          ts_rng *g)                                          \
{                                                                             \
    T *a = malloc(sizeof(T) * (size_t)tc->asz);                               \
    T *b = malloc(sizeof(T) * (size_t)tc->bsz);                               \
    T *c0 = malloc(sizeof(T) * (size_t)tc->csz);                              \
    T *c1 = malloc(sizeof(T) * (size_t)tc->csz);                              \
    T *c2 = malloc(sizeof(T) * (size_t)tc->csz);                              \
    char *inview = calloc((size_t)tc->csz, 1);                                \
    cr_assert(a && b && c0 && c1 && c2 && inview);                            \
    F(fill)(a, tc->asz, g); F(fill)(b, tc->bsz, g); F(fill)(c0, tc->csz, g);  \
    memcpy(c1, c0, sizeof(T) * (size_t)tc->csz);                              \
    memcpy(c2, c0, sizeof(T) * (size_t)tc->csz);                              \
    cr_assert(kt->CAT(tgemm, SFX), "%s: no tgemm", kt->name);                 \
    kt->CAT(tgemm, SFX)(&tc->gm, &tc->gn, &tc->gk, a + tc->aoff, b + tc->boff,\
                        c1 + tc->coff, acc, 1);                               \
    kt->CAT(tgemm, SFX)(&tc->gm, &tc->gn, &tc->gk, a + tc->aoff, b + tc->boff,\
                        c2 + tc->coff, acc, 2);                               \
    double worst = 0;                                                         \
    for (int64_t i = 0; i < tc->m; i++)                                       \
        for (int64_t j = 0; j < tc->n; j++) {                                 \
            REF s = 0, mag = 0;                                               \
            for (int64_t p = 0; p < tc->k; p++) {                             \
                REF t = (REF)a[tc->aoff + t_off(&tc->gm, 0, i) + t_off(&tc->gk, 0, p)] *\
                        (REF)b[tc->boff + t_off(&tc->gk, 1, p) + t_off(&tc->gn, 0, j)];\
                s += t;                                                       \
                mag += t < 0 ? -t : t;                                        \
            }                                                                 \
            int64_t ci = tc->coff + t_off(&tc->gm, 1, i) + t_off(&tc->gn, 1, j);\
            inview[ci] = 1;                                                   \
            if (acc) { s += c0[ci]; mag += fabs((double)c0[ci]); }            \
            double tol = TOL * sqrt((double)(tc->k + 1)) * (double)mag + 1e-30;\
            double e = fabs((double)c1[ci] - (double)s) / tol;                \
            if (!(e <= worst)) worst = isnan(e) ? INFINITY : e;               \
        }                                                                     \
    int untouched = 1;                                                        \
    for (int64_t q = 0; q < tc->csz; q++)                                     \
        if (!inview[q] && memcmp(&c1[q], &c0[q], sizeof(T)) != 0)             \
            untouched = 0;                                                    \
    cr_assert(worst <= 1.0, "%s %s tgemm m=%lld (%d dims) n=%lld (%d) "       \
              "k=%lld (%d) acc=%d: error %.3g x tolerance", kt->name, SNAME,  \
              (long long)tc->m, tc->gm.ndim, (long long)tc->n, tc->gn.ndim,   \
              (long long)tc->k, tc->gk.ndim, acc, worst);                     \
    cr_assert(untouched, "%s %s tgemm m=%lld n=%lld k=%lld: wrote outside "   \
              "the view", kt->name, SNAME, (long long)tc->m,                  \
              (long long)tc->n, (long long)tc->k);                            \
    cr_assert(memcmp(c1, c2, sizeof(T) * (size_t)tc->csz) == 0,               \
              "%s %s tgemm m=%lld n=%lld k=%lld: 1 and 2 threads differ",     \
              kt->name, SNAME, (long long)tc->m, (long long)tc->n,            \
              (long long)tc->k);                                              \
    free(a); free(b); free(c0); free(c1); free(c2); free(inview);             \
}

#define T float
#define SFX f32
#define SNAME "f32"
#define REF double
#define TOL 1e-4
CHECKS
#undef T
#undef SFX
#undef SNAME
#undef REF
#undef TOL

#define T double
#define SFX f64
#define SNAME "f64"
#define REF long double
#define TOL 1e-12
CHECKS
#undef T
#undef SFX
#undef SNAME
#undef REF
#undef TOL

/* ---- case lists ------------------------------------------------------ */

typedef struct shape { int64_t m, n, k; } shape;

/* Zeros, ones, primes, non-multiples of every register tile, and a few
 * past the cache blocks (k > KC, n > NC, m > MC) kept thin for speed. */
static const shape k_shapes[] = {
    {0, 5, 3}, {5, 0, 3}, {5, 3, 0}, {0, 0, 0}, {1, 1, 1}, {1, 7, 13},
    {13, 1, 7}, {7, 13, 1}, {2, 2, 2}, {3, 5, 7}, {4, 8, 16}, {14, 32, 9},
    {15, 33, 17}, {17, 29, 31}, {16, 16, 16}, {6, 16, 64}, {37, 41, 43},
    {29, 67, 5}, {97, 101, 103}, {64, 64, 64}, {33, 37, 1000},
    {20, 1300, 30}, {2600, 19, 24}, {160, 170, 150},
};

static void run_gemm_cases(const ein_ktable *kt, uint64_t seed, int big)
{
    ts_rng g = {seed};
    size_t ns = sizeof k_shapes / sizeof k_shapes[0];
    for (size_t s = 0; s < ns; s++) {
        shape sh = k_shapes[s];
        int reps = sh.m * sh.n * sh.k > 200000 ? 2 : 6;
        for (int r = 0; r < reps; r++) {
            int la = (int)ts_range(&g, 0, L_NKINDS - 1);
            int lb = (int)ts_range(&g, 0, L_NKINDS - 1);
            int lc = (int)ts_range(&g, 0, L_REVCOLS_RM);
            int acc = (int)ts_range(&g, 0, 1);
            if (r < 2) {             /* the two layouts that matter most */
                la = lb = lc = r ? L_COL : L_ROW;
            }
            gemm_case_f32(kt, sh.m, sh.n, sh.k, la, lb, lc, acc, &g);
            gemm_case_f64(kt, sh.m, sh.n, sh.k, la, lb, lc, acc, &g);
        }
    }
    if (big) {
        /* Large enough that both threads get work. */
        gemm_case_f32(kt, 300, 310, 290, L_ROW, L_ROW, L_ROW, 0, &g);
        gemm_case_f64(kt, 300, 310, 290, L_ROW, L_COL, L_COL, 1, &g);
        gemm_case_f32(kt, 257, 700, 131, L_REVROWS, L_STRIDED, L_ROWPAD, 1, &g);
    }
}

Test(kernels, tables_exist)
{
    const ein_ktable *d = ein_ktable_default();
    cr_assert(d && d->name);
    cr_assert(ein_ktable_named(d->name) == d, "default %s not nameable", d->name);
    cr_assert(ein_ktable_named("generic") != NULL);
    cr_assert(ein_ktable_named("sse9") == NULL);
    cr_assert(ein_ktable_named(NULL) == NULL);
    for (int t = 0; t < NTABLES; t++) {
        const ein_ktable *kt = ein_ktable_named(k_tables[t]);
        if (!kt)
            continue;
        cr_assert_str_eq(kt->name, k_tables[t]);
        cr_assert(kt->gemm_f32 && kt->gemm_f64 && kt->gemv_f32 &&
                  kt->gemv_f64 && kt->dot_f32 && kt->dot_f64);
        cr_assert(kt->tgemm_f32 && kt->tgemm_f64, "%s: no tgemm", kt->name);
        cr_assert(kt->mr_f32 > 0 && kt->nr_f32 > 0 && kt->mr_f64 > 0 &&
                  kt->nr_f64 > 0);
    }
}

Test(kernels, env_override_falls_back)
{
    /* Each Criterion test runs in a fresh process, so the table has not
     * been chosen yet. */
    setenv("EIN_ARCH", "no-such-isa", 1);
    const ein_ktable *d = ein_ktable_default();
    cr_assert(d);
    cr_assert(ein_ktable_named(d->name) == d);
}

Test(kernels, env_override_generic)
{
    setenv("EIN_ARCH", "generic", 1);
    cr_assert_str_eq(ein_ktable_default()->name, "generic");
}

Test(kernels, gemm_generic, .timeout = 120)
{
    int ran = 0;
    const ein_ktable *kt = table_or_skip_count(0, &ran);
    cr_assert(kt);
    run_gemm_cases(kt, 1001, 1);
}

Test(kernels, gemm_avx2, .timeout = 120)
{
    int ran = 0;
    const ein_ktable *kt = table_or_skip_count(1, &ran);
    if (!kt)
        cr_skip_test("avx2 not supported here");
    run_gemm_cases(kt, 1002, 1);
}

Test(kernels, gemm_avx512, .timeout = 120)
{
    int ran = 0;
    const ein_ktable *kt = table_or_skip_count(2, &ran);
    if (!kt)
        cr_skip_test("avx512 not supported here");
    run_gemm_cases(kt, 1003, 1);
}

/* A C larger than L2, so the micro-kernel is asked to fetch each tile
 * early (EIN_UKR_FETCH_C, a flag beside beta): the flag must change no
 * value, accumulate on or off, on every table and either thread count. */
Test(kernels, gemm_c_beyond_l2, .timeout = 120)
{
    size_t l2 = ein_cache_info_get()->l2;
    int64_t side = (int64_t)sqrt(2.0 * (double)(l2 ? l2 : 1 << 20) / sizeof(float)) + 3;
    ts_rng g = {4242};
    for (int t = 0; t < NTABLES; t++) {
        const ein_ktable *kt = ein_ktable_named(k_tables[t]);
        if (!kt)
            continue;
        for (int acc = 0; acc < 2; acc++) {
            gemm_case_f32(kt, side, side + 5, 24 + acc, L_ROW, L_ROW,
                          acc ? L_ROWPAD : L_ROW, acc, &g);
            gemm_case_f64(kt, side / 2 + 1, side + 9, 17 + acc, L_ROW, L_COL,
                          acc ? L_ROW : L_ROWPAD, acc, &g);
        }
    }
}

/* Tiny cache blocks so that modest shapes cross every block boundary
 * (KC, MC, NC) several times. */
Test(kernels, gemm_small_blocks, .timeout = 120)
{
    setenv("EIN_KC", "24", 1);
    setenv("EIN_MC", "40", 1);
    setenv("EIN_NC", "64", 1);
    ts_rng g = {77};
    for (int t = 0; t < NTABLES; t++) {
        const ein_ktable *kt = ein_ktable_named(k_tables[t]);
        if (!kt)
            continue;
        for (int r = 0; r < 6; r++) {
            int64_t m = ts_range(&g, 50, 140), n = ts_range(&g, 60, 200),
                    k = ts_range(&g, 30, 120);
            int la = (int)ts_range(&g, 0, L_NKINDS - 1);
            int lb = (int)ts_range(&g, 0, L_NKINDS - 1);
            int lc = (int)ts_range(&g, 0, L_REVCOLS_RM);
            int acc = (int)ts_range(&g, 0, 1);
            gemm_case_f32(kt, m, n, k, la, lb, lc, acc, &g);
            gemm_case_f64(kt, m, n, k, la, lb, lc, acc, &g);
        }
        gemm_case_f32(kt, 400, 390, 100, L_ROW, L_ROW, L_ROW, 0, &g);
        gemm_case_f64(kt, 190, 410, 90, L_COL, L_ROW, L_COL, 1, &g);
    }
}

/* Packed A and B blocks too large for L2 together: the blocking asks
 * the micro-kernel to fetch the next A panel as it goes (the last tile
 * of each row of tiles), which must leave every bit as it was.  The
 * rows are sized from this machine's L2 so that the case does reach
 * that path, and include a ragged last panel. */
Test(kernels, gemm_fetch_next_a, .timeout = 120)
{
    const ein_cache_info *ci = ein_cache_info_get();
    ts_rng g = {606};
    for (int t = 0; t < NTABLES; t++) {
        const ein_ktable *kt = ein_ktable_named(k_tables[t]);
        if (!kt)
            continue;
        for (int d = 0; d < 2; d++) {
            int mr = d ? kt->mr_f64 : kt->mr_f32, nr = d ? kt->nr_f64 : kt->nr_f32;
            size_t es = d ? sizeof(double) : sizeof(float);
            int64_t k = 300, n = 3 * nr + 5;
            ein_blocking bl = ein_blocking_for(mr, nr, es, 1 << 20, n, k);
            int64_t ku = k < bl.kc ? k : bl.kc;
            int64_t m = (int64_t)(ci->l2 / ((size_t)ku * es)) + 2 * mr + 3;
            if (m > bl.mc)
                m = bl.mc + mr + 1;   /* two row blocks, both past L2 */
            bl = ein_blocking_for(mr, nr, es, m, n, k);
            cr_assert_eq(bl.fetch_a, EIN_UKR_FETCH_A,
                         "%s %s: %lld x %lld x %lld should fetch A panels "
                         "(kc %lld, mc %lld, L2 %zu)", k_tables[t],
                         d ? "f64" : "f32", (long long)m, (long long)n,
                         (long long)k, (long long)bl.kc, (long long)bl.mc,
                         ci->l2);
            for (int acc = 0; acc < 2; acc++) {
                if (d)
                    gemm_case_f64(kt, m, n, k, L_ROW, L_ROW, acc ? L_ROWPAD : L_ROW,
                                  acc, &g);
                else
                    gemm_case_f32(kt, m, n, k, L_ROW, acc ? L_COL : L_ROW, L_ROW,
                                  acc, &g);
            }
        }
    }
}

/* Two threads over blocks of C tiles claimed from a counter, with tiny
 * cache blocks so that every block crosses dozens of KC x NC panels:
 * row counts that cut C into whole and partial tiles (4 blocks of mr
 * rows, one row more or less, odd tile counts), depths and widths one
 * either side of KC and NC multiples, accumulate on and off.  Each case
 * runs several times, since which thread takes which block changes from
 * run to run. */
Test(kernels, gemm_2threads_edges, .timeout = 120)
{
    setenv("EIN_KC", "24", 1);
    setenv("EIN_NC", "64", 1);
    static const int64_t ms[] = {55, 56, 57, 85, 113};
    static const int64_t ns[] = {63, 64, 65, 129, 200};
    static const int64_t ks[] = {71, 72, 73, 97};
    ts_rng g = {91};
    for (int t = 0; t < NTABLES; t++) {
        const ein_ktable *kt = ein_ktable_named(k_tables[t]);
        if (!kt)
            continue;
        for (int r = 0; r < 24; r++) {
            int64_t m = ms[ts_range(&g, 0, 4)], n = ns[ts_range(&g, 0, 4)],
                    k = ks[ts_range(&g, 0, 3)];
            int lc = r % 3 == 2 ? L_ROWPAD : L_ROW;
            int acc = r % 2;
            gemm_case_f32(kt, m, n, k, L_ROW, r % 4 == 3 ? L_COL : L_ROW, lc,
                          acc, &g);
            gemm_case_f64(kt, m, n, k, r % 5 == 4 ? L_STRIDED : L_ROW, L_ROW,
                          lc, acc, &g);
        }
        /* Many panels (k/24 x n/64 = 84) per block. */
        for (int r = 0; r < 3; r++) {
            gemm_case_f32(kt, 4 * kt->mr_f32 * 2 + 3, 700, 287, L_ROW, L_ROW,
                          L_ROW, r & 1, &g);
            gemm_case_f64(kt, 4 * kt->mr_f64 * 2 + 3, 700, 287, L_ROW, L_ROW,
                          L_ROW, r & 1, &g);
        }
    }
}

/* A small C over a long depth, summed in two depth halves (C = C + half
 * 0, then + half 1) on any thread count: against the reference, the
 * view's surroundings untouched, and 1 and 2 threads bit for bit.  With
 * KC = 24 the halves fall mid-panel for most shapes; the last case
 * takes the default blocking. */
Test(kernels, gemm_depth_halves, .timeout = 120)
{
    static const int64_t sh[][3] = {
        {20, 20, 2600}, {3, 40, 9000}, {33, 17, 1000}, {2, 2, 300000},
        {14, 32, 1200}, {15, 33, 1201}, {40, 3, 8999},
    };
    ts_rng g = {123};
    for (int t = 0; t < NTABLES; t++) {
        const ein_ktable *kt = ein_ktable_named(k_tables[t]);
        if (!kt)
            continue;
        for (size_t s = 0; s < sizeof sh / sizeof sh[0]; s++)
            for (int r = 0; r < 2; r++) {
                int la = r ? (int)ts_range(&g, 0, L_NKINDS - 1) : L_COL;
                int lb = r ? (int)ts_range(&g, 0, L_NKINDS - 1) : L_ROW;
                int lc = r ? (int)ts_range(&g, 0, L_REVCOLS_RM) : L_ROW;
                gemm_case_f32(kt, sh[s][0], sh[s][1], sh[s][2], la, lb, lc, r, &g);
                gemm_case_f64(kt, sh[s][0], sh[s][1], sh[s][2], la, lb, lc, !r, &g);
            }
    }
}

Test(kernels, gemm_depth_halves_kc24, .timeout = 120)
{
    setenv("EIN_KC", "24", 1);
    ts_rng g = {124};
    for (int t = 0; t < NTABLES; t++) {
        const ein_ktable *kt = ein_ktable_named(k_tables[t]);
        if (!kt)
            continue;
        for (int r = 0; r < 8; r++) {
            int64_t m = ts_range(&g, 2, 40), n = ts_range(&g, 2, 40);
            int64_t big = m > n ? m : n;
            int64_t k = ts_range(&g, 8 * big, 8 * big + 700);
            if (2.0 * (double)(m * n * k) < 1.1e6)
                k = (int64_t)(1.1e6 / (2.0 * (double)(m * n))) + r;
            int la = (int)ts_range(&g, 0, L_NKINDS - 1);
            int lb = (int)ts_range(&g, 0, L_NKINDS - 1);
            int lc = (int)ts_range(&g, 0, L_REVCOLS_RM);
            gemm_case_f32(kt, m, n, k, la, lb, lc, r & 1, &g);
            gemm_case_f64(kt, m, n, k, la, lb, lc, !(r & 1), &g);
        }
    }
}

Test(kernels, gemv, .timeout = 120)
{
    static const int64_t dims[][2] = {
        {0, 4}, {4, 0}, {1, 1}, {1, 50}, {50, 1}, {100, 50}, {50, 100},
        {3, 7}, {17, 33}, {31, 129}, {64, 64}, {65, 63}, {255, 17},
        {700, 400}, {420, 700},
    };
    static const int64_t incs[] = {1, 1, -1, 2, -3, 0};
    ts_rng g = {4242};
    for (int t = 0; t < NTABLES; t++) {
        const ein_ktable *kt = ein_ktable_named(k_tables[t]);
        if (!kt)
            continue;
        for (size_t d = 0; d < sizeof dims / sizeof dims[0]; d++) {
            int64_t m = dims[d][0], n = dims[d][1];
            for (int la = 0; la < L_NKINDS; la++) {
                int64_t incx = incs[ts_range(&g, 0, 5)];
                int64_t incy = incs[ts_range(&g, 0, 4)];   /* never 0 */
                if (la < 2)
                    incx = incy = 1;
                int acc = (int)ts_range(&g, 0, 1);
                gemv_case_f32(kt, m, n, la, incx, incy, acc, &g);
                gemv_case_f64(kt, m, n, la, incx, incy, acc, &g);
            }
        }
    }
}

Test(kernels, dot)
{
    static const int64_t ns[] = {0, 1, 2, 3, 7, 8, 15, 16, 17, 31, 33, 63,
                                 64, 100, 129, 1000, 4099};
    static const int64_t incs[] = {1, -1, 2, -5, 0};
    ts_rng g = {99};
    for (int t = 0; t < NTABLES; t++) {
        const ein_ktable *kt = ein_ktable_named(k_tables[t]);
        if (!kt)
            continue;
        for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++)
            for (int r = 0; r < 4; r++) {
                int64_t ix = r == 0 ? 1 : incs[ts_range(&g, 0, 4)];
                int64_t iy = r == 0 ? 1 : incs[ts_range(&g, 0, 4)];
                dot_case_f32(kt, ns[i], ix, iy, &g);
                dot_case_f64(kt, ns[i], ix, iy, &g);
            }
    }
}

/* cols_to_rows, where a table has one: every column count 1..8 (the
 * GEMM route reaches only some of them on some tables), depths around
 * the register blocks of 4, 8 and 16 steps; a copy, so compared for
 * equality, and nothing written past the n rows of k. */
/* The table's copy FN of b into d (filled with GUARDV first), checked
 * element by element and for writes past its n rows of k. */
#define CTR_CHECK(FN, NAME, b, d, GUARDV)                                     \
    do {                                                                      \
        for (int i = 0; i < KMAX * 8 + GUARD; i++)                            \
            d[i] = GUARDV;                                                    \
        kt->FN(k, n, b, d);                                                   \
        for (int v = 0; v < n; v++)                                           \
            for (int64_t p = 0; p < k; p++)                                   \
                cr_assert_eq(d[v * k + p], b[p * n + v],                      \
                             "%s " NAME " n=%d k=%lld: row %d step %lld",     \
                             kt->name, n, (long long)k, v, (long long)p);     \
        for (int64_t i = n * k; i < n * k + GUARD; i++)                       \
            cr_assert_eq(d[i], GUARDV, "%s " NAME " n=%d k=%lld wrote [%lld]", \
                         kt->name, n, (long long)k, (long long)i);            \
    } while (0)

Test(kernels, cols_to_rows_every_n)
{
    static const int64_t ks[] = {1, 3, 4, 5, 7, 8, 9, 15, 16, 17, 33, 100};
    enum { KMAX = 100, GUARD = 16 };
    float bf[KMAX * 8], df[KMAX * 8 + GUARD];
    double bd[KMAX * 8], dd[KMAX * 8 + GUARD];
    for (int i = 0; i < KMAX * 8; i++) {
        bf[i] = (float)(i + 1);
        bd[i] = -(double)(i + 1) / 3.0;
    }
    int tested = 0;
    for (int t = 0; t < NTABLES; t++) {
        const ein_ktable *kt = ein_ktable_named(k_tables[t]);
        if (!kt || (!kt->cols_to_rows_f32 && !kt->cols_to_rows_f64))
            continue;
        for (int n = 1; n <= 8; n++)
            for (size_t ki = 0; ki < sizeof ks / sizeof ks[0]; ki++) {
                int64_t k = ks[ki];
                if (kt->cols_to_rows_f32)
                    CTR_CHECK(cols_to_rows_f32, "f32", bf, df, -7.0f);
                if (kt->cols_to_rows_f64)
                    CTR_CHECK(cols_to_rows_f64, "f64", bd, dd, -7.0);
                tested++;
            }
    }
    /* The AVX2 table runs on every CPU this test suite is built for
     * with AVX2; where none has the copy, the test has nothing to do. */
    if (ein_ktable_named("avx2"))
        cr_assert(tested > 0, "the avx2 table has no cols_to_rows");
}

/* Products that all round to -0 (negative, below the smallest
 * subnormal) sum to +0, as numpy's sum from 0 gives, on every path:
 * tiny, vector, long and strided. */
Test(kernels, dot_of_negative_zeros_is_positive_zero)
{
    static const int64_t ns[] = {1, 2, 3, 4, 5, 8, 16, 17, 32, 64, 100, 128};
    float xf[256], yf[256];
    double xd[256], yd[256];
    for (int i = 0; i < 256; i++) {
        xf[i] = -1e-30f;
        yf[i] = 1e-30f;
        xd[i] = -1e-200;
        yd[i] = 1e-200;
    }
    for (int t = 0; t < NTABLES; t++) {
        const ein_ktable *kt = ein_ktable_named(k_tables[t]);
        if (!kt)
            continue;
        for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++)
            for (int64_t inc = 1; inc <= 2; inc++) {
                float f = kt->dot_f32(ns[i], xf, inc, yf, inc);
                double d = kt->dot_f64(ns[i], xd, inc, yd, inc);
                cr_assert(f == 0 && !signbit(f) && d == 0 && !signbit(d),
                          "%s n=%lld inc=%lld: %g, %g (want +0)", kt->name,
                          (long long)ns[i], (long long)inc, (double)f, d);
            }
    }
}

/* ---- tensor GEMM ------------------------------------------------------ */

/* Random groups of 0-4 dims per role over permuted, reversed, padded and
 * broadcast layouts, on every table; the caps keep the reference quick
 * while m, n and k still reach past a few register tiles. */
static void run_tgemm_cases(const ein_ktable *kt, uint64_t seed, int reps,
                            const int64_t *cap)
{
    ts_rng g = {seed};
    for (int r = 0; r < reps; r++) {
        int nd[3];
        for (int q = 0; q < 3; q++)
            nd[q] = (int)ts_range(&g, 0, 4);
        tcase tc;
        t_make(&tc, nd, cap, &g);
        int acc = (int)ts_range(&g, 0, 1);
        tgemm_case_f32(kt, &tc, acc, &g);
        tgemm_case_f64(kt, &tc, acc, &g);
    }
}

Test(kernels, tgemm, .timeout = 120)
{
    static const int64_t cap[3] = {160, 160, 120};
    int ran = 0;
    for (int t = 0; t < NTABLES; t++) {
        const ein_ktable *kt = table_or_skip_count(t, &ran);
        if (kt)
            run_tgemm_cases(kt, 3000 + (uint64_t)t, 300, cap);
    }
    cr_assert(ran > 0);
}

/* Tiny cache blocks: groups cross KC, MC and NC boundaries mid-run. */
Test(kernels, tgemm_small_blocks, .timeout = 120)
{
    setenv("EIN_KC", "20", 1);
    setenv("EIN_MC", "44", 1);
    setenv("EIN_NC", "48", 1);
    static const int64_t cap[3] = {300, 300, 200};
    for (int t = 0; t < NTABLES; t++) {
        const ein_ktable *kt = ein_ktable_named(k_tables[t]);
        if (kt)
            run_tgemm_cases(kt, 4000 + (uint64_t)t, 80, cap);
    }
}

/* The bench's permuted 4-D shapes, small: abcd,dbef->acef with A stored
 * dcba and B fedb (the unit strides in m and k), and abcd,cdef->abef
 * with C's unit stride in the m group (computed transposed), big enough
 * for both threads to take blocks. */
Test(kernels, tgemm_permuted_4d, .timeout = 120)
{
    const int64_t e = 11, e2 = e * e, e3 = e2 * e;
    ts_rng g = {555};
    for (int t = 0; t < NTABLES; t++) {
        const ein_ktable *kt = ein_ktable_named(k_tables[t]);
        if (!kt)
            continue;
        /* A[a,b,c,d] at a + 11b + 121c + 1331d; B[d,b,e,f] at
         * b + 11d + 121e + 1331f; C[a,c,e,f] C order. */
        tcase tc = {
            .gm = {2, {e, e}, {{1, e2}, {e3, e2}}},
            .gn = {2, {e, e}, {{e2, e3}, {e, 1}}},
            .gk = {2, {e, e}, {{e3, e}, {e, 1}}},
            .m = e2, .n = e2, .k = e2,
            .asz = e2 * e2, .bsz = e2 * e2, .csz = e2 * e2,
        };
        tgemm_case_f32(kt, &tc, 0, &g);
        tgemm_case_f64(kt, &tc, 1, &g);
        /* abcd,cdef->abef: A stored dcba, B fedc, C[a,b,e,f] stored
         * fe b a (a innermost: C's unit stride in the m group). */
        tcase tt = tc;
        tt.gm = (ein_group){2, {e, e}, {{1, e}, {1, e}}};
        tt.gn = (ein_group){2, {e, e}, {{e2, e3}, {e2, e3}}};
        tt.gk = (ein_group){2, {e, e}, {{e2, e3}, {1, e}}};
        tgemm_case_f32(kt, &tt, 1, &g);
        tgemm_case_f64(kt, &tt, 0, &g);
    }
}

/* abcd,dbef->acef stored as the bench's permuted 4-D case (A dcba, B
 * fedb), a = c = 32, e = f = 8, d = b = 24: 1024 x 64 x 576, whose
 * packed blocks outgrow L2, so the tensor GEMM's micro-kernels fetch the
 * next A panel as they go (see gemm_fetch_next_a; the generic table's
 * kernel fetches nothing, and its reference run is the slow part). */
Test(kernels, tgemm_fetch_next_a, .timeout = 120)
{
    ts_rng g = {556};
    for (int t = 0; t < NTABLES; t++) {
        const ein_ktable *kt = ein_ktable_named(k_tables[t]);
        if (!kt || strcmp(k_tables[t], "generic") == 0)
            continue;
        ein_blocking b32 = ein_blocking_for(kt->mr_f32, kt->nr_f32, sizeof(float),
                                            1024, 64, 576);
        ein_blocking b64 = ein_blocking_for(kt->mr_f64, kt->nr_f64, sizeof(double),
                                            1024, 64, 576);
        cr_assert(b32.fetch_a && b64.fetch_a, "%s: 1024 x 64 x 576 should fetch "
                  "A panels (L2 %zu)", kt->name, ein_cache_info_get()->l2);
        tcase tc = {
            .gm = {2, {32, 32}, {{1, 768}, {2048, 64}}},
            .gn = {2, {8, 8}, {{576, 4608}, {8, 1}}},
            .gk = {2, {24, 24}, {{24576, 32}, {24, 1}}},
            .m = 1024, .n = 64, .k = 576,
            .asz = 32 * 24 * 32 * 24, .bsz = 24 * 24 * 8 * 8, .csz = 1024 * 64,
        };
        tgemm_case_f32(kt, &tc, 0, &g);
        tgemm_case_f64(kt, &tc, 1, &g);
    }
}

/* ---- concurrent callers ------------------------------------------------ */

typedef struct conc_arg {
    const ein_ktable *kt;
    const float *a, *b;
    float *c;
    int64_t n;
} conc_arg;

static void *conc_worker(void *p)
{
    conc_arg *ca = p;
    for (int r = 0; r < 4; r++)
        ca->kt->gemm_f32(ca->n, ca->n, ca->n, ca->a, ca->n, 1, ca->b, ca->n, 1,
                         ca->c, ca->n, 1, 0, 2);
    return NULL;
}

/* Several user threads asking for 2 threads each at once: the pool is
 * shared, so some fall back to one thread; all must get the same bits. */
Test(kernels, concurrent_callers, .timeout = 120)
{
    const int64_t n = 200;
    const int nth = 4;
    ts_rng g = {5};
    float *a = malloc(sizeof(float) * n * n), *b = malloc(sizeof(float) * n * n);
    float *ref = malloc(sizeof(float) * n * n);
    float *cs[4];
    cr_assert(a && b && ref);
    ts_fill_f32(a, (size_t)(n * n), &g);
    ts_fill_f32(b, (size_t)(n * n), &g);
    const ein_ktable *kt = ein_ktable_default();
    kt->gemm_f32(n, n, n, a, n, 1, b, n, 1, ref, n, 1, 0, 1);
    pthread_t th[4];
    conc_arg args[4];
    for (int t = 0; t < nth; t++) {
        cs[t] = malloc(sizeof(float) * n * n);
        cr_assert(cs[t]);
        args[t] = (conc_arg){kt, a, b, cs[t], n};
        cr_assert(pthread_create(&th[t], NULL, conc_worker, &args[t]) == 0);
    }
    for (int t = 0; t < nth; t++) {
        pthread_join(th[t], NULL);
        cr_assert(memcmp(cs[t], ref, sizeof(float) * n * n) == 0,
                  "caller %d got different bits", t);
        free(cs[t]);
    }
    free(a); free(b); free(ref);
}

/* Outer products (k = 1) through each table's GEMM entry, at sizes the
 * frame takes (past the small path), on one and two threads, with
 * streaming stores forced on for any size: each element must be a * b + 0 exactly (C + that when
 * accumulating), rows starting off any 16-byte boundary, B contiguous or
 * strided, and nothing past C's rows written. */
Test(kernels, outer_products_exact, .timeout = 120)
{
    setenv("EIN_STREAM_BYTES", "1", 1);
    cr_assert_eq(ein_cache_info_get()->stream_bytes, 1.0);
    ts_rng g = {919};
    static const int64_t shapes[][2] = {{2100, 1503}, {3, 40001}, {1700, 1801}, {5, 7}};
    for (int t = 0; t < NTABLES; t++) {
        const ein_ktable *kt = ein_ktable_named(k_tables[t]);
        if (!kt)
            continue;
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
            for (int mode = 0; mode < 8; mode++) {
                const int64_t m = shapes[s][0], n = shapes[s][1];
                const int acc = mode & 1, csb = mode & 2 ? 3 : 1;
                const int threads = mode & 4 ? 2 : 1;
                const int64_t rsc = n + 1 + (mode & 3), off = (mode & 3) + 1;   /* ragged rows */
                const size_t csz = (size_t)(m * rsc + off + 8);
                float *a = malloc((size_t)m * sizeof *a), *b = malloc((size_t)(n * csb) * sizeof *b);
                float *c = malloc(csz * sizeof *c), *c0 = malloc(csz * sizeof *c0);
                double *ad = malloc((size_t)m * sizeof *ad), *bd = malloc((size_t)(n * csb) * sizeof *bd);
                double *cd = malloc(csz * sizeof *cd), *cd0 = malloc(csz * sizeof *cd0);
                cr_assert(a && b && c && c0 && ad && bd && cd && cd0);
                ts_fill_f64(ad, (size_t)m, &g);
                ts_fill_f64(bd, (size_t)(n * csb), &g);
                ts_fill_f64(cd0, csz, &g);
                for (int64_t i = 0; i < m; i++) a[i] = (float)ad[i];
                for (int64_t j = 0; j < n * csb; j++) b[j] = (float)bd[j];
                for (size_t q = 0; q < csz; q++) c0[q] = (float)cd0[q];
                ad[0] = -0.0, a[0] = -0.0f;   /* a -0 product must come out +0 */
                memcpy(c, c0, csz * sizeof *c);
                memcpy(cd, cd0, csz * sizeof *cd);
                kt->gemm_f32(m, n, 1, a, 1, 1, b, 1, csb, c + off, rsc, 1, acc, threads);
                kt->gemm_f64(m, n, 1, ad, 1, 1, bd, 1, csb, cd + off, rsc, 1, acc, threads);
                for (size_t q = 0; q < csz; q++) {
                    int64_t e = (int64_t)q - off, i = e / rsc, j = e % rsc;
                    float w = c0[q];
                    double wd = cd0[q];
                    if (e >= 0 && i < m && j < n) {
                        float p = a[i] * b[j * csb] + 0.0f;
                        double pd = ad[i] * bd[j * csb] + 0.0;
                        w = acc ? c0[q] + p : p;
                        wd = acc ? cd0[q] + pd : pd;
                    }
                    cr_assert(memcmp(&c[q], &w, sizeof w) == 0 &&
                              memcmp(&cd[q], &wd, sizeof wd) == 0,
                              "%s %lld x %lld mode %d: element %lld (row %lld, column "
                              "%lld) is %a / %a, expected %a / %a", kt->name, (long long)m,
                              (long long)n, mode, (long long)e, (long long)i, (long long)j,
                              (double)c[q], cd[q], (double)w, wd);
                }
                free(a), free(b), free(c), free(c0), free(ad), free(bd), free(cd), free(cd0);
            }
    }
}
