/* kernels.h — the contract between the planner (src/lower.c, src/exec.c)
 * and the dense kernels in src/kernels/.  The planner reduces each
 * pairwise contraction step to strided matrix operands; a kernel table,
 * chosen once per process from cpuid (EIN_ARCH overrides), supplies the
 * loops.  All strides count elements and may be negative or zero for
 * inputs; output strides never make two elements alias. */
#ifndef EIN_KERNELS_H
#define EIN_KERNELS_H

#include <stdint.h>
#include <stddef.h>

/* C[i,j] = (accumulate ? C[i,j] : 0) + sum_p A[i,p] * B[p,j]
 * for 0 <= i < m, 0 <= j < n, 0 <= p < k.
 * A[i,p] is A[i*rsa + p*csa]; B[p,j] is B[p*rsb + j*csb];
 * C[i,j] is C[i*rsc + j*csc].  Any of m, n, k may be 0 (k == 0 with
 * accumulate == 0 writes zeros).  nthreads >= 1 is a hint; the result is
 * bitwise identical for every thread count. */
typedef void ein_gemm_f32_fn(int64_t m, int64_t n, int64_t k,
                             const float *A, int64_t rsa, int64_t csa,
                             const float *B, int64_t rsb, int64_t csb,
                             float *C, int64_t rsc, int64_t csc,
                             int accumulate, int nthreads);
typedef void ein_gemm_f64_fn(int64_t m, int64_t n, int64_t k,
                             const double *A, int64_t rsa, int64_t csa,
                             const double *B, int64_t rsb, int64_t csb,
                             double *C, int64_t rsc, int64_t csc,
                             int accumulate, int nthreads);

/* y[i] = (accumulate ? y[i] : 0) + sum_j A[i,j] * x[j], 0 <= i < m,
 * 0 <= j < n; A[i,j] is A[i*rsa + j*csa], x[j] is x[j*incx], y[i] is
 * y[i*incy].  Both orientations (rows contiguous: csa == 1, "ij,j->i";
 * columns contiguous: rsa == 1, "ij,i->j" after the planner swaps the
 * roles) must be fast. */
/* nb dots of one length, the operands of dot b at x + b * sx and
 * y + b * sy, out[b * so] = (acc ? out[b * so] : 0) + the dot, each dot
 * computed exactly as one dot call computes it, except that a table may
 * take transposed dots (n >= 8, the terms contiguous in one operand and
 * the dots in the other, "ij,ji->i") its own way; which way depends on
 * n and the strides alone, never on nb. */
typedef void ein_dot_batch_f32_fn(int64_t nb, int64_t sx, int64_t sy, int64_t so,
                                  int64_t n, const float *x, int64_t incx,
                                  const float *y, int64_t incy, float *out,
                                  int acc);
typedef void ein_dot_batch_f64_fn(int64_t nb, int64_t sx, int64_t sy, int64_t so,
                                  int64_t n, const double *x, int64_t incx,
                                  const double *y, int64_t incy, double *out,
                                  int acc);
/* nb GEMVs of one shape, matrix b at A + b * sa, its x at x + b * sx,
 * its y at y + b * sy: each computed exactly as one gemv call computes
 * it.  Returns 0, writing nothing, when the shape is not one the entry
 * batches. */
typedef int ein_gemv_batch_f32_fn(int64_t nb, int64_t sa, int64_t sx,
                                  int64_t sy, int64_t m, int64_t n,
                                  const float *A, int64_t rsa, int64_t csa,
                                  const float *x, int64_t incx, float *y,
                                  int64_t incy, int acc);
typedef int ein_gemv_batch_f64_fn(int64_t nb, int64_t sa, int64_t sx,
                                  int64_t sy, int64_t m, int64_t n,
                                  const double *A, int64_t rsa, int64_t csa,
                                  const double *x, int64_t incx, double *y,
                                  int64_t incy, int acc);
/* nb GEMMs of one shape, operand b at A + b * sa, B + b * sb, C + b * sc
 * (element strides, any sign): each product computed exactly as one
 * gemm call computes it.  Returns 0, writing nothing, when the shape is
 * not one the entry batches (the caller then calls gemm per product). */
typedef int ein_gemm_batch_f32_fn(int64_t nb, int64_t sa, int64_t sb,
                                  int64_t sc, int64_t m, int64_t n, int64_t k,
                                  const float *A, int64_t rsa, int64_t csa,
                                  const float *B, int64_t rsb, int64_t csb,
                                  float *C, int64_t rsc, int64_t csc, int acc);
typedef int ein_gemm_batch_f64_fn(int64_t nb, int64_t sa, int64_t sb,
                                  int64_t sc, int64_t m, int64_t n, int64_t k,
                                  const double *A, int64_t rsa, int64_t csa,
                                  const double *B, int64_t rsb, int64_t csb,
                                  double *C, int64_t rsc, int64_t csc, int acc);

typedef void ein_gemv_f32_fn(int64_t m, int64_t n,
                             const float *A, int64_t rsa, int64_t csa,
                             const float *x, int64_t incx,
                             float *y, int64_t incy, int accumulate,
                             int nthreads);
typedef void ein_gemv_f64_fn(int64_t m, int64_t n,
                             const double *A, int64_t rsa, int64_t csa,
                             const double *x, int64_t incx,
                             double *y, int64_t incy, int accumulate,
                             int nthreads);

/* With columns contiguous (csa != 1, rsa == 1), a large GEMV sums its
 * columns in two halves, [0, h) and [h, n) with h this value (0: one
 * pass), and y[i] = (y[i] +) half 0 + half 1, whatever the thread count.
 * It depends on the shape alone, not on the threads. */
int64_t ein_gemv_cols_half(int64_t m, int64_t n);

/* How a rows-contiguous GEMV sums its rows (gemv_rows' last argument):
 * chosen once per product from its whole shape by ein_gemv_rows_mode and
 * passed to every call of the rows loop for it, so a row's bits depend on
 * the product's shape alone, never on the threads or the rows a call got.
 *   EIN_ROWS_BLOCKS  rows side by side, one accumulator each
 *   EIN_ROWS_ALONE   each row in one sequential read, several accumulators
 *                    (a matrix that L2 holds but L1 does not)
 * A table may sum both modes alike. */
enum { EIN_ROWS_BLOCKS = 0, EIN_ROWS_ALONE = 1 };
/* EIN_ROWS_ALONE for a matrix of EIN_ROWS_ALONE_MIN bytes or more (past
 * L1, where blocks of rows share their horizontal sums) up to
 * EIN_ROWS_ALONE_MAX (about what L2 holds), with rows of at most
 * EIN_ROWS_ALONE_X bytes (x, read once a row, stays in L1).  Inline: the
 * headline GEMV's direct call asks it on every run. */
#define EIN_ROWS_ALONE_MIN (64.0 * 1024.0)
#define EIN_ROWS_ALONE_MAX (2048.0 * 1024.0)
#define EIN_ROWS_ALONE_X (16.0 * 1024.0)
static inline int ein_gemv_rows_mode(int64_t m, int64_t n, size_t elsize)
{
    double row = (double)n * (double)elsize, bytes = (double)m * row;
    return bytes >= EIN_ROWS_ALONE_MIN && bytes <= EIN_ROWS_ALONE_MAX &&
                   row <= EIN_ROWS_ALONE_X
               ? EIN_ROWS_ALONE
               : EIN_ROWS_BLOCKS;
}

/* GEMV, rows contiguous: y[i*incy] = (acc ? y : 0) + dot(A[i*rsa + 0:n], x)
 * with x contiguous.  Each y[i] must be computed the same way, for a given
 * n and mode, whatever rows surround it, so that splitting rows between
 * threads keeps bits. */
typedef void ein_gemv_rows_f32_fn(int64_t m, int64_t n, const float *A,
                                  int64_t rsa, const float *x, float *y,
                                  int64_t incy, int acc, int mode);
typedef void ein_gemv_rows_f64_fn(int64_t m, int64_t n, const double *A,
                                  int64_t rsa, const double *x, double *y,
                                  int64_t incy, int acc, int mode);
/* Whether a table's gemv makes one call of its rows loop (gemv_rows_)
 * for this shape, whatever the thread count: rows and x contiguous, too
 * small for a second thread (the headline 100 x 50). */
int ein_gemv_rows_direct(int64_t m, int64_t n, int64_t rsa, int64_t csa,
                         int64_t incx);

/* GEMV, columns contiguous: y[0:m] = (acc ? y : 0) + sum_j A[j*csa + 0:m]
 * * x[j*incx] with y contiguous, j ascending.  Same rule on rows.  span:
 * the bytes of A the calling thread reads in the whole GEMV this call is
 * part of (at least this call's m * n elements); a kernel may choose its
 * loop by whether that stays in cache between calls, never its bits. */
typedef void ein_gemv_cols_f32_fn(int64_t m, int64_t n, const float *A,
                                  int64_t csa, const float *x, int64_t incx,
                                  float *y, int acc, int64_t span);
typedef void ein_gemv_cols_f64_fn(int64_t m, int64_t n, const double *A,
                                  int64_t csa, const double *x, int64_t incx,
                                  double *y, int acc, int64_t span);
/* Whether a table's gemv makes one call of its columns loop (gemv_cols_)
 * for this shape, whatever the thread count: columns and y contiguous,
 * too small for a second thread, so one pass with no halves. */
int ein_gemv_cols_direct(int64_t m, int64_t n, int64_t rsa, int64_t csa,
                         int64_t incy);

/* Returns sum_i x[i*incx] * y[i*incy] for 0 <= i < n. */
typedef float ein_dot_f32_fn(int64_t n, const float *x, int64_t incx,
                             const float *y, int64_t incy);
typedef double ein_dot_f64_fn(int64_t n, const double *x, int64_t incx,
                              const double *y, int64_t incy);

/* Tensor GEMM (TBLIS-style, no transposed copies): each of m, n, k is a
 * group of tensor dimensions enumerated in C order (the last varies
 * fastest), and each group indexes two tensors with its own strides:
 *   A[i,p] = A[off(m, 0, i) + off(k, 0, p)]
 *   B[p,j] = B[off(k, 1, p) + off(n, 0, j)]
 *   C[i,j] = C[off(m, 1, i) + off(n, 1, j)]
 * where off(g, t, i) = sum_d idx_d(i) * g->stride[t][d].  Packing reads
 * through these offsets, so permuted layouts cost no copy.  ndim == 0
 * is a group of one index. */
#define EIN_GROUP_MAX 8
typedef struct ein_group {
    int     ndim;
    int64_t ext[EIN_GROUP_MAX];          /* outermost first */
    int64_t stride[2][EIN_GROUP_MAX];    /* elements, per tensor */
} ein_group;
typedef void ein_tgemm_f32_fn(const ein_group *m, const ein_group *n,
                              const ein_group *k, const float *A,
                              const float *B, float *C, int accumulate,
                              int nthreads);
typedef void ein_tgemm_f64_fn(const ein_group *m, const ein_group *n,
                              const ein_group *k, const double *A,
                              const double *B, double *C, int accumulate,
                              int nthreads);

/* Steps no dense kernel takes (src/kernels/unary_t.h).  Each returns the
 * kind of loop it ran, or EIN_GK_DECLINE (0), touching nothing, for a
 * shape it leaves to the generic loop nest.  Called with out == NULL it
 * only says which kind it would run (for EXPLAIN), reading no memory. */
enum {
    EIN_GK_DECLINE = 0,
    EIN_GK_EMPTY,            /* the output has no elements */
    EIN_GK_ZERO,             /* a sum over an empty range: zeros */
    EIN_GK_COPY,             /* copy, transpose, diagonal */
    EIN_GK_ROWS,             /* sums along a contiguous input run */
    EIN_GK_COLUMNS,          /* sums of rows into a contiguous output block */
    EIN_GK_PRODUCT,          /* elementwise, broadcast or outer product */
    EIN_GK_PRODUCT_COLUMNS   /* sums of products into a contiguous block */
};
/* A name for EXPLAIN ("copy", "row sums", ...). */
const char *ein_gk_name(int kind);

/* One operand: for every index of the free loops 0..nfree-1, out[...] =
 * the sum over the summed loops nfree..nloops-1 of in[...]; loop l has
 * extent ext[l] and strides sin[l], sout[l] (sout is 0 for a summed
 * loop).  nloops <= EIN_UN_MAXL. */
#define EIN_UN_MAXL 128
typedef int ein_unary_f32_fn(int nloops, int nfree, const int64_t *ext,
                             const int64_t *sin, const int64_t *sout,
                             const float *in, float *out);
typedef int ein_unary_f64_fn(int nloops, int nfree, const int64_t *ext,
                             const int64_t *sin, const int64_t *sout,
                             const double *in, double *out);

/* Two operands: out[...] = the sum over the summed loops of a[...] *
 * b[...] (strides sa, sb, so; so is 0 for a summed loop). */
typedef int ein_product_f32_fn(int nloops, int nfree, const int64_t *ext,
                               const int64_t *sa, const int64_t *sb,
                               const int64_t *so, const float *a,
                               const float *b, float *out);
typedef int ein_product_f64_fn(int nloops, int nfree, const int64_t *ext,
                               const int64_t *sa, const int64_t *sb,
                               const int64_t *so, const double *a,
                               const double *b, double *out);

/* Column sums carried across calls, a block of the summed rows each
 * (the last step of a tiled chain that sums the tiled label): as unary
 * (sb and b NULL) or product, but the sums start from carry (0 when
 * `first`) and, unless `last`, stay there in double, one per output
 * element, instead of being rounded into out.  Rows split this way add
 * in the order one call over all of them would.  Declines (touching
 * nothing) any shape but column sums (EIN_GK_COLUMNS and
 * EIN_GK_PRODUCT_COLUMNS); with out == NULL only says which. */
typedef int ein_carry_f32_fn(int nloops, int nfree, const int64_t *ext,
                             const int64_t *sa, const int64_t *sb,
                             const int64_t *so, const float *a, const float *b,
                             float *out, double *carry, int first, int last);
typedef int ein_carry_f64_fn(int nloops, int nfree, const int64_t *ext,
                             const int64_t *sa, const int64_t *sb,
                             const int64_t *so, const double *a, const double *b,
                             double *out, double *carry, int first, int last);

/* The sum of x[0..n-1] in double, by the table's lanes (a whole-array
 * reduction is cut into fixed chunks of these). */
typedef double ein_sum_f32_fn(const float *x, int64_t n);
typedef double ein_sum_f64_fn(const double *x, int64_t n);

/* One table per instruction set.  `name` is what EXPLAIN prints and what
 * EIN_ARCH selects: "avx512", "avx2", "generic". */
typedef struct ein_ktable {
    const char      *name;
    ein_gemm_f32_fn *gemm_f32;
    ein_gemm_f64_fn *gemm_f64;
    ein_gemv_f32_fn *gemv_f32;
    ein_gemv_f64_fn *gemv_f64;
    ein_dot_f32_fn  *dot_f32;
    ein_dot_f64_fn  *dot_f64;
    /* Optional: NULL makes the planner loop over all but one dimension of
     * each group around gemm. */
    ein_tgemm_f32_fn *tgemm_f32;
    ein_tgemm_f64_fn *tgemm_f64;
    ein_unary_f32_fn *unary_f32;
    ein_unary_f64_fn *unary_f64;
    ein_product_f32_fn *product_f32;
    ein_product_f64_fn *product_f64;
    ein_carry_f32_fn   *carry_f32;
    ein_carry_f64_fn   *carry_f64;
    ein_sum_f32_fn     *sum_f32;
    ein_sum_f64_fn     *sum_f64;
    /* Optional: a batch of small GEMMs, GEMVs or dots in one call (NULL:
     * one call each). */
    ein_gemm_batch_f32_fn *gemm_batch_f32;
    ein_gemm_batch_f64_fn *gemm_batch_f64;
    ein_gemv_batch_f32_fn *gemv_batch_f32;
    ein_gemv_batch_f64_fn *gemv_batch_f64;
    /* The rows loop gemv calls where ein_gemv_rows_direct holds: a plan's
     * direct call (ein_direct_pick) makes that call itself. */
    ein_gemv_rows_f32_fn  *gemv_rows_f32;
    ein_gemv_rows_f64_fn  *gemv_rows_f64;
    /* The columns loop, likewise where ein_gemv_cols_direct holds. */
    ein_gemv_cols_f32_fn  *gemv_cols_f32;
    ein_gemv_cols_f64_fn  *gemv_cols_f64;
    ein_dot_batch_f32_fn  *dot_batch_f32;
    ein_dot_batch_f64_fn  *dot_batch_f64;
    /* Optional: the copy of a B of n <= 8 contiguous columns to n rows
     * that the few-columns GEMM route makes (frame.h, cols_to_rows),
     * dst[v * k + p] = b[p * n + v].  The GEMM reaches it through the
     * table's arch; it is here so that tests reach every n, which the
     * route's rules do not (AVX2 f64 takes n <= 4 only). */
    void (*cols_to_rows_f32)(int64_t k, int n, const float *b, float *dst);
    void (*cols_to_rows_f64)(int64_t k, int n, const double *b, double *dst);
    /* GEMM register tile (rows x columns of C), for EXPLAIN. */
    int              mr_f32, nr_f32, mr_f64, nr_f64;
} ein_ktable;

/* The table for this process: the best one the CPU supports, or the one
 * EIN_ARCH names (falling back to the best supported if the CPU lacks
 * it).  Chosen once, thread-safely. */
const ein_ktable *ein_ktable_default(void);
/* The table with this name if this CPU can run it, else NULL.  Tests use
 * it to run every supported table. */
const ein_ktable *ein_ktable_named(const char *name);

#endif
