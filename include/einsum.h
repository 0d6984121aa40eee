/* einsum.h — the public interface of libeinsum.
 *
 * Evaluates Einstein-notation contractions ("ij,j->i", "bij,bjk->bik",
 * "ii->", "...ij,...jk") over strided tensor views with numpy.einsum's
 * semantics.  This is the only header the library installs. */
#ifndef EINSUM_H
#define EINSUM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#define EIN_API
#else
#define EIN_API __attribute__((visibility("default")))
#endif

#define EIN_VERSION_MAJOR 0
#define EIN_VERSION_MINOR 1

/* Most dimensions one tensor may have (numpy 2 allows 64). */
#define EIN_MAX_DIMS 64
/* Most operands one expression may have. */
#define EIN_MAX_OPERANDS 256

typedef enum ein_status {
    EIN_OK = 0,
    EIN_ERR_SYNTAX,    /* malformed subscripts: the message gives the column */
    EIN_ERR_OPERANDS,  /* operand count differs from the expression's */
    EIN_ERR_RANK,      /* an operand's rank does not match its subscripts */
    EIN_ERR_SHAPE,     /* extents disagree, or the output shape is wrong */
    EIN_ERR_DTYPE,     /* unsupported dtype, or an unsafe cast into `out` */
    EIN_ERR_OVERFLOW,  /* a product of extents or a byte size overflows */
    EIN_ERR_ALIAS,     /* the output's own elements overlap one another */
    EIN_ERR_NOMEM,     /* an allocation failed */
    EIN_ERR_ARG,       /* NULL pointer, negative extent, bad option, ... */
    EIN_ERR_PLAN,      /* ein_execute given tensors the plan was not built for */
    EIN_ERR_LIMIT      /* a size limit (ein_options.memory_limit, ...) would be exceeded */
} ein_status;

typedef enum ein_dtype {
    EIN_F32 = 1,
    EIN_F64 = 2
} ein_dtype;

/* A view of caller-owned memory.  Strides count elements, not bytes; a
 * NULL strides pointer means C order.  Input strides may be negative or
 * zero.  The output may be strided but its elements must not overlap. */
typedef struct ein_tensor {
    void          *data;
    ein_dtype      dtype;
    int32_t        ndim;
    const int64_t *shape;
    const int64_t *strides;
} ein_tensor;

/* How a plan orders the pairwise contractions of three or more operands. */
typedef enum ein_path_algo {
    EIN_PATH_AUTO = 0,   /* optimal while that is cheap to find, greedy beyond */
    EIN_PATH_GREEDY,     /* pairwise by cost, opt_einsum's greedy heuristic */
    EIN_PATH_OPTIMAL,    /* exact minimum FLOPs (dynamic programming) */
    EIN_PATH_BRANCH,     /* bounded branch-and-bound search */
    EIN_PATH_NAIVE       /* left to right, as written */
} ein_path_algo;

/* Options for ein_plan_new; NULL means all defaults.  Zero-initialise
 * and set what you need. */
typedef struct ein_options {
    int            num_threads;   /* 0: library default; >= 1: at most that many */
    ein_path_algo  path;          /* ignored when path_pairs is set */
    /* Most bytes the plan may hold for intermediates and workspace
     * together; 0: no limit.  A plan that needs more fails with
     * EIN_ERR_LIMIT, naming what needed more. */
    int64_t        memory_limit;
    /* An explicit path, as numpy.einsum_path and opt_einsum give it:
     * path_len steps, step s contracting positions path_pairs[2s] and
     * path_pairs[2s+1] of the current operand list (-1 as the second for
     * a single-operand step); the two leave the list and the result is
     * appended to its end.  NULL: use `path`. */
    const int32_t *path_pairs;
    int32_t        path_len;
    int32_t        reserved[5];
} ein_options;

typedef struct ein_plan ein_plan;

/* One-shot evaluation: parse, plan, execute.  `out` must already describe
 * the result's shape (numpy's output shape) and point at its memory. */
EIN_API ein_status einsum_v(const char *subscripts, int nops,
                    const ein_tensor *const *ops, ein_tensor *out);

/* einsum("ij,j->i", &y, &A, &x): out first, then the operands (pointers to
 * ein_tensor).  The macro counts the operands, so a count that differs
 * from the expression's is an error, not undefined behaviour. */
#define einsum(subscripts, out, ...)                                        \
    einsum_v((subscripts),                                                  \
             (int)(sizeof((const ein_tensor *const[]){__VA_ARGS__}) /       \
                   sizeof(const ein_tensor *)),                             \
             (const ein_tensor *const[]){__VA_ARGS__}, (out))

/* Compile once: bind the expression to the operands' shapes, strides and
 * dtypes (their data pointers are ignored).  `out` may be NULL: the plan
 * then targets a C-contiguous output of the result shape and promoted
 * dtype, which ein_plan_result() describes.  Returns NULL on failure with
 * *st set (st may be NULL) and ein_last_error() explaining. */
EIN_API ein_plan *ein_plan_new(const char *subscripts, int nops,
                       const ein_tensor *const *ops, const ein_tensor *out,
                       const ein_options *opt, ein_status *st);

/* Run a plan over new data.  The tensors must have the shapes, strides and
 * dtypes the plan was built with (EIN_ERR_PLAN otherwise).  Reentrant: one
 * plan may run on many threads at once.  A plan with temporaries keeps
 * their block (EXPLAIN's "workspace") from one execute to the next, so
 * repeated runs skip the allocation and its page faults; runs that
 * overlap in time allocate their own.  ein_plan_free releases it. */
EIN_API ein_status ein_execute(const ein_plan *plan, const ein_tensor *const *ops,
                       ein_tensor *out);

/* The result the plan produces: its rank, dtype and, if shape is not
 * NULL, its extents (shape must hold EIN_MAX_DIMS entries). */
EIN_API int32_t ein_plan_result(const ein_plan *plan, ein_dtype *dtype,
                        int64_t *shape);

/* Print the plan (steps, loops and extents, kernels, FLOPs, bytes) into
 * buf; returns the length the full text needs, like snprintf. */
EIN_API size_t ein_plan_explain(const ein_plan *plan, char *buf, size_t cap);

EIN_API void ein_plan_free(ein_plan *plan);   /* NULL is fine */

/* What went wrong last on this thread: what, where (column and a caret
 * line under the expression), which label and extents.  "" after success
 * of nothing.  Valid until the next call into the library on this thread. */
EIN_API const char *ein_last_error(void);
/* Byte offset into the subscripts of the last syntax error, or -1. */
EIN_API int ein_last_error_offset(void);

EIN_API const char *ein_status_str(ein_status st);
EIN_API const char *ein_dtype_name(ein_dtype dt);
EIN_API size_t ein_dtype_size(ein_dtype dt);   /* 0 for an unknown dtype */

#ifdef __cplusplus
}
#endif
#endif
