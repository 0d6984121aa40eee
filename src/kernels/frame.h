/* frame.h — what an ISA file hands the shared GEMM/GEMV framework
 * (gemm_frame.c): its register-tile micro-kernel and its two GEMV inner
 * loops.  The framework owns blocking, packing, edges and threads. */
#ifndef EIN_KERNELS_FRAME_H
#define EIN_KERNELS_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "alloc.h"
#include "kernels/kernels.h"

/* Micro-kernel: C[0:MR, 0:NR] = (beta & 1 ? C : 0) + sum_p a[p] (x) b[p]
 * over kc steps; beta & EIN_UKR_FETCH_C asks it to fetch the C tile into
 * L2 as it starts, for a C too large to stay in cache between visits;
 * beta & EIN_UKR_FETCH_A to fetch the next A micro-panel, the one after
 * `a` in the packed block, into L2 as it goes.
 * `a` is a packed A micro-panel (kc columns of MR elements), `b` a packed
 * B micro-panel (kc rows of NR elements), both 64-byte aligned.  C rows
 * lie rsc elements apart; C columns are contiguous.  The sum over p starts
 * from zero and is added to C only at the end, so a tile computed into a
 * scratch buffer and merged later gives identical bits. */
#define EIN_UKR_FETCH_C 2
#define EIN_UKR_FETCH_A 4
typedef void ein_ukr_f32_fn(int64_t kc, const float *a, const float *b,
                            float *c, int64_t rsc, int beta);
typedef void ein_ukr_f64_fn(int64_t kc, const double *a, const double *b,
                            double *c, int64_t rsc, int beta);

/* Optional, for an edge tile (me <= MR rows, ne <= NR columns, not both
 * full) of a C whose columns are contiguous: the same sums as the
 * micro-kernel, each element's in the same order, written straight into
 * those me x ne elements and no others.  Without it the frame computes
 * the whole tile into scratch and copies the part that exists. */
typedef void ein_ukr_edge_f32_fn(int64_t kc, const float *a, const float *b,
                                 float *c, int64_t rsc, int beta, int me, int ne);
typedef void ein_ukr_edge_f64_fn(int64_t kc, const double *a, const double *b,
                                 double *c, int64_t rsc, int beta, int me, int ne);

/* Optional: nb such GEMVs at once, matrix b at A + b * sa, its x at
 * x + b * sx, its y at y + b * sy, each row summed exactly as
 * gemv_rows sums it.  Returns 0, writing nothing, for a shape it does
 * not take (the frame then calls gemv_rows per matrix). */
typedef int ein_gemv_rows_batch_f32_fn(int64_t nb, int64_t sa, int64_t sx,
                                       int64_t sy, int64_t m, int64_t n,
                                       const float *A, int64_t rsa,
                                       const float *x, float *y, int64_t incy,
                                       int acc);
typedef int ein_gemv_rows_batch_f64_fn(int64_t nb, int64_t sa, int64_t sx,
                                       int64_t sy, int64_t m, int64_t n,
                                       const double *A, int64_t rsa,
                                       const double *x, double *y,
                                       int64_t incy, int acc);
/* (ein_gemv_cols_f32_fn / _f64_fn, the columns loop: kernels.h) */

/* Packing, optional (NULL: the frame's plain loops): pack_a writes one
 * full A micro-panel (mr rows, rsa apart, each with kc contiguous
 * elements) as the frame's pack_a would; pack_b writes np full B
 * micro-panels and, when 0 < ne < nr, an edge panel of ne columns padded
 * with zeros (kc rows, rsb apart, each np * nr + ne contiguous elements)
 * into a 64-byte aligned dst, reading each row once.
 * Both are copies, so they cannot change a bit of the result. */
typedef void ein_pack_a_f32_fn(int64_t kc, const float *a, int64_t rsa,
                               float *dst);
typedef void ein_pack_a_f64_fn(int64_t kc, const double *a, int64_t rsa,
                               double *dst);
typedef void ein_pack_b_f32_fn(int64_t kc, int64_t np, int64_t ne,
                               const float *b, int64_t rsb, float *dst);
typedef void ein_pack_b_f64_fn(int64_t kc, int64_t np, int64_t ne,
                               const double *b, int64_t rsb, double *dst);
/* pack_b_t: the same np panels from a B whose columns are contiguous
 * (rsb = 1), column j at b + j * csb. */
typedef void ein_pack_b_t_f32_fn(int64_t kc, int64_t np, const float *b,
                                 int64_t csb, float *dst);
typedef void ein_pack_b_t_f64_fn(int64_t kc, int64_t np, const double *b,
                                 int64_t csb, double *dst);

/* gemv_multi, optional: Y[v, r] (+)= sum_j X[v, j] W[r, j] for nx <= 4
 * vectors x (rows of X, rsx apart) and n rows of W (rsw apart), both
 * with k contiguous elements; Y[v, r] at Y + v * rsy + r * csy.  Each
 * element's arithmetic depends only on k, not on its neighbours. */
typedef void ein_gemv_multi_f32_fn(int nx, int64_t n, int64_t k, const float *W,
                                   int64_t rsw, const float *X, int64_t rsx,
                                   float *Y, int64_t rsy, int64_t csy, int acc);
typedef void ein_gemv_multi_f64_fn(int nx, int64_t n, int64_t k, const double *W,
                                   int64_t rsw, const double *X, int64_t rsx,
                                   double *Y, int64_t rsy, int64_t csy, int acc);

/* cols_to_rows, optional: the n <= 8 columns of a B whose k rows hold n
 * contiguous elements each (rows n apart) written as n contiguous rows,
 * dst[v * k + p] = b[p * n + v].  A copy: no bit of a result changes. */
typedef void ein_cols_to_rows_f32_fn(int64_t k, int n, const float *b,
                                     float *dst);
typedef void ein_cols_to_rows_f64_fn(int64_t k, int n, const double *b,
                                     double *dst);

/* outer_row, optional: c[j] = a * b[j * csb] + 0 for j < n (a row of an
 * outer product, the micro-kernel's bits), by streaming stores when
 * `stream` (the caller fences). */
typedef void ein_outer_row_f32_fn(float a, const float *b, int64_t csb, float *c,
                                  int64_t n, int stream);
typedef void ein_outer_row_f64_fn(double a, const double *b, int64_t csb, double *c,
                                  int64_t n, int stream);

typedef struct ein_arch_f32 {
    int mr, nr;                     /* register tile, elements */
    ein_ukr_f32_fn       *ukr;
    ein_gemv_rows_f32_fn *gemv_rows;
    ein_gemv_cols_f32_fn *gemv_cols;
    ein_pack_a_f32_fn    *pack_a;
    ein_pack_b_f32_fn    *pack_b;
    ein_gemv_rows_batch_f32_fn *gemv_rows_batch;
    ein_pack_b_t_f32_fn  *pack_b_t;
    ein_ukr_edge_f32_fn  *ukr_edge;
    ein_gemv_multi_f32_fn *gemv_multi;
    ein_cols_to_rows_f32_fn *cols_to_rows;
    ein_outer_row_f32_fn  *outer_row;
    /* gemv_rows keeps x in registers for rows shorter than this many
     * elements (0: no such path); ein_gemm_few_takes sends a few such
     * rows to it one at a time. */
    int64_t rows_regs;
} ein_arch_f32;

typedef struct ein_arch_f64 {
    int mr, nr;
    ein_ukr_f64_fn       *ukr;
    ein_gemv_rows_f64_fn *gemv_rows;
    ein_gemv_cols_f64_fn *gemv_cols;
    ein_pack_a_f64_fn    *pack_a;
    ein_pack_b_f64_fn    *pack_b;
    ein_gemv_rows_batch_f64_fn *gemv_rows_batch;
    ein_pack_b_t_f64_fn  *pack_b_t;
    ein_ukr_edge_f64_fn  *ukr_edge;
    ein_gemv_multi_f64_fn *gemv_multi;
    ein_cols_to_rows_f64_fn *cols_to_rows;
    ein_outer_row_f64_fn  *outer_row;
    /* gemv_rows keeps x in registers for rows shorter than this many
     * elements (0: no such path); ein_gemm_few_takes sends a few such
     * rows to it one at a time. */
    int64_t rows_regs;
} ein_arch_f64;

void ein_frame_gemm_f32(const ein_arch_f32 *arch, int64_t m, int64_t n,
                        int64_t k, const float *A, int64_t rsa, int64_t csa,
                        const float *B, int64_t rsb, int64_t csb, float *C,
                        int64_t rsc, int64_t csc, int accumulate,
                        int nthreads);
void ein_frame_gemm_f64(const ein_arch_f64 *arch, int64_t m, int64_t n,
                        int64_t k, const double *A, int64_t rsa, int64_t csa,
                        const double *B, int64_t rsb, int64_t csb, double *C,
                        int64_t rsc, int64_t csc, int accumulate,
                        int nthreads);
/* A few rows of C times a B whose columns are contiguous and which the
 * cache holds (x W^T, W small; see EIN_FEW_L2): the table's gemv_multi
 * over up to four rows at a time, or one rows-GEMV per row of C, W read
 * from cache each time.  Returns 1 when it computed C,
 * 0 when the shape is not one of these (nothing written then).
 * Also a few columns of C (x W, W of a few columns) with A's rows
 * contiguous, as C^T = B^T A^T through gemv_multi.
 * ein_gemm_few_takes says which: 0 none, 1 GEMVs, 2 gemv_multi, 3
 * gemv_multi on C^T (multi: the bytes of the vectors of the table's
 * gemv_multi, 0 when it has none; EIN_MULTI_BYTES gives them; rows_regs:
 * the table's ein_arch rows_regs). */
int ein_gemm_few_takes(int64_t m, int64_t n, int64_t k, int64_t csa,
                       int64_t rsb, int64_t csb, int64_t csc, size_t elsize,
                       int multi, int64_t rows_regs);
/* A table's vector bytes, from its register tile: every SIMD table's
 * micro-kernel is two vectors across (ukr_t.h). */
#define EIN_MULTI_BYTES(arch, T)                                              \
    ((arch)->gemv_multi ? (int)((arch)->nr * sizeof(T) / 2) : 0)
int ein_frame_gemm_few_f32(const ein_arch_f32 *arch, int64_t m, int64_t n,
                           int64_t k, const float *A, int64_t rsa, int64_t csa,
                           const float *B, int64_t rsb, int64_t csb, float *C,
                           int64_t rsc, int64_t csc, int accumulate,
                           int nthreads);
int ein_frame_gemm_few_f64(const ein_arch_f64 *arch, int64_t m, int64_t n,
                           int64_t k, const double *A, int64_t rsa, int64_t csa,
                           const double *B, int64_t rsb, int64_t csb, double *C,
                           int64_t rsc, int64_t csc, int accumulate,
                           int nthreads);
void ein_frame_gemv_f32(const ein_arch_f32 *arch, int64_t m, int64_t n,
                        const float *A, int64_t rsa, int64_t csa,
                        const float *x, int64_t incx, float *y, int64_t incy,
                        int accumulate, int nthreads);
void ein_frame_gemv_f64(const ein_arch_f64 *arch, int64_t m, int64_t n,
                        const double *A, int64_t rsa, int64_t csa,
                        const double *x, int64_t incx, double *y,
                        int64_t incy, int accumulate, int nthreads);

/* nb GEMVs of one shape (matrix b at A + b * sa, x at x + b * sx, y at
 * y + b * sy), each computed exactly as ein_frame_gemv computes it; for
 * small shapes that take one call of the rows loop (rows and x
 * contiguous) or of the columns loop (columns and y contiguous).
 * Returns 0, writing nothing, for any other shape. */
int ein_frame_gemv_batch_f32(const ein_arch_f32 *arch, int64_t nb, int64_t sa,
                             int64_t sx, int64_t sy, int64_t m, int64_t n,
                             const float *A, int64_t rsa, int64_t csa,
                             const float *x, int64_t incx, float *y,
                             int64_t incy, int accumulate);
int ein_frame_gemv_batch_f64(const ein_arch_f64 *arch, int64_t nb, int64_t sa,
                             int64_t sx, int64_t sy, int64_t m, int64_t n,
                             const double *A, int64_t rsa, int64_t csa,
                             const double *x, int64_t incx, double *y,
                             int64_t incy, int accumulate);

/* Tensor GEMM over m, n, k groups (kernels.h): packing reads A and B
 * through per-index offset tables, so permuted and strided operands cost
 * no copy larger than a packing buffer. */
void ein_frame_tgemm_f32(const ein_arch_f32 *arch, const ein_group *m,
                         const ein_group *n, const ein_group *k,
                         const float *A, const float *B, float *C,
                         int accumulate, int nthreads);
void ein_frame_tgemm_f64(const ein_arch_f64 *arch, const ein_group *m,
                         const ein_group *n, const ein_group *k,
                         const double *A, const double *B, double *C,
                         int accumulate, int nthreads);

/* Cache sizes in bytes, read once from cpuid (ktable.c). */
typedef struct ein_cache_info {
    size_t l1d, l2, l3;
    int ncpu;                       /* online processors */
    /* Outputs written in one sweep (outer products; copies and products
     * counting their inputs too) past this many bytes go out by
     * streaming stores: the L3's size, or EIN_STREAM_BYTES (for tests
     * and tuning). */
    double stream_bytes;
} ein_cache_info;
const ein_cache_info *ein_cache_info_get(void);

/* Blocking for one micro-kernel shape and a depth of k: kc (depth of a
 * packed panel), mc (rows of the packed A block), nc (columns of the
 * packed B block), all in elements; mc is a multiple of mr, nc of nr.
 * The depth blocks are of equal size (to a multiple of 4), so none is a
 * short remainder; kc depends only on k, never on the thread count. */
typedef struct ein_blocking {
    int64_t mc, kc, nc;
    int fetch_c;   /* EIN_UKR_FETCH_C when C outgrows L2, else 0 */
    int fetch_a;   /* EIN_UKR_FETCH_A when the packed blocks do, else 0 */
} ein_blocking;
ein_blocking ein_blocking_for(int mr, int nr, size_t elsize, int64_t m,
                              int64_t n, int64_t k);

/* A small persistent pool.  Runs fn(ctx, t, nt) exactly once for each
 * t = 0..nt-1 and returns when all are done: t = 0 on the caller, the
 * others on workers that join before the caller's share is done, and any
 * share no worker joined for on the caller afterwards (a sleeping or
 * descheduled worker is never waited for).  nt <= nthreads; nt == 1 when
 * the pool is busy with another caller or cannot start.  Returns nt.
 * Tasks that claim work from an atomic counter in ctx, rather than a
 * share fixed by t, keep both cores busy when a worker starts late. */
typedef void ein_task_fn(void *ctx, int t, int nt);
int ein_pool_run(int nthreads, ein_task_fn *fn, void *ctx);

/* A per-thread scratch buffer of at least `bytes`, 64-byte aligned, kept
 * for the thread's next call; NULL if it cannot be had. */
void *ein_scratch(size_t bytes);

/* A dot whose operands stride, for every table: sixteen or more
 * elements go into eight partial sums, element i into sum i % 8, folded
 * ((0+4)+(2+6))+((1+5)+(3+7)); shorter dots are one chain.  MADD(a, b, s)
 * is s + a b as the table computes it (fused where it has FMA).  The sum
 * ends + 0: a -0 sum is +0, as numpy's sum from 0.  One chain waits on
 * the adder's latency for every element: ij,ji-> 300 x 300 f32, one
 * thread, 75 -> 30 us (numpy.einsum 44 us).  Not inlined: inside a
 * table's dot it kept the compiler from inlining that dot into its
 * batch loop (ij,ij->i 100000 x 3 f32: 185 -> 255 us). */
#define EIN_DEFINE_DOT_STRIDED(NAME, T, MADD)                                 \
    static __attribute__((noinline)) T NAME(int64_t n, const T *x,            \
                                            int64_t incx, const T *y,         \
                                            int64_t incy)                     \
    {                                                                         \
        if (n < 16) {                                                         \
            T s = 0;                                                          \
            for (int64_t i = 0; i < n; i++)                                   \
                s = MADD(x[i * incx], y[i * incy], s);                        \
            return s + (T)0;                                                  \
        }                                                                     \
        T l[8] = {0, 0, 0, 0, 0, 0, 0, 0};                                    \
        int64_t i = 0;                                                        \
        for (; i + 8 <= n; i += 8, x += 8 * incx, y += 8 * incy)              \
            for (int q = 0; q < 8; q++)                                       \
                l[q] = MADD(x[q * incx], y[q * incy], l[q]);                  \
        for (int q = 0; i < n; i++, q++)                                      \
            l[q] = MADD(x[q * incx], y[q * incy], l[q]);                      \
        return (((l[0] + l[4]) + (l[2] + l[6])) +                             \
                ((l[1] + l[5]) + (l[3] + l[7]))) + (T)0;                      \
    }

/* The tables, defined by their ISA files. */
extern const ein_ktable ein_ktable_generic_tab;
extern const ein_ktable ein_ktable_avx2_tab;
extern const ein_ktable ein_ktable_avx512_tab;

#endif
