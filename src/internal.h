/* internal.h — the types that flow between the stages:
 *   parse -> ein_expr -> bind -> ein_bound -> rewrite/path/lower -> ein_plan
 * and the error helpers every stage reports through. */
#ifndef EIN_INTERNAL_H
#define EIN_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "einsum.h"
#include "alloc.h"
#include "kernels/kernels.h"

/* Label ids: 'A'..'Z' are 0..25 and 'a'..'z' are 26..51, so ascending ids
 * are numpy's implicit-output order; dimensions covered by an ellipsis get
 * ids from 52 on (EIN_ELL_BASE + position within the broadcast shape). */
#define EIN_NLETTERS   52
#define EIN_ELL_BASE   EIN_NLETTERS
#define EIN_MAX_LABELS (EIN_NLETTERS + EIN_MAX_DIMS)

/* ---- errors (error.c) ---------------------------------------------------- */

/* Record a failure for ein_last_error(); returns st so callers can write
 * `return ein_fail(EIN_ERR_SHAPE, ...)`. */
ein_status ein_fail(ein_status st, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* The same, for an error at byte `col` of `text`: the message gets the
 * column and a caret line under the expression. */
ein_status ein_fail_at(ein_status st, const char *text, int col,
                       const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void ein_clear_error(void);

/* C-order strides (elements) of a shape; zero extents count as 1. */
void ein_c_strides(int nd, const int64_t *shape, int64_t *strides);

/* Overflow-checked products; return false on overflow. */
bool ein_mul_ok(int64_t a, int64_t b, int64_t *r);

/* Name of a label id: "i", "B", or "...0" for an ellipsis dimension. */
const char *ein_label_name(int id, char buf[16]);

/* ---- parse (parse.c) ----------------------------------------------------- */

typedef struct ein_term {
    int     n;                     /* letters in the term, ellipsis excluded */
    uint8_t label[EIN_MAX_DIMS];   /* label ids, in written order */
    int     col[EIN_MAX_DIMS];     /* byte offset of each letter */
    int     ell;                   /* letters before the ellipsis; -1 none */
    int     ell_col;               /* byte offset of "..." */
    int     col0;                  /* byte offset where the term starts */
} ein_term;

/* A parsed expression: shape-free, so one parse serves many bindings. */
typedef struct ein_expr {
    char     *text;      /* copy of the subscripts, for messages */
    int       nops;
    ein_term *in;        /* nops terms */
    ein_term  out;       /* explicit or implied output */
    bool      explicit_out;
    bool      any_ell;   /* some input has an ellipsis */
} ein_expr;

ein_status ein_parse(const char *subscripts, ein_expr *e);
void ein_expr_free(ein_expr *e);

/* ---- bind (bind.c) ------------------------------------------------------- */

/* The index table: every label's extent and, per tensor, its stride (in
 * elements) along that label.  A label repeated in one operand (a
 * diagonal) gets the sum of its strides; a broadcast extent-1 dimension
 * or an absent label gets 0.  Tensor nops is the output. */
typedef struct ein_bound {
    int      nops;
    int      nlabels;                  /* ids 0..nlabels-1 may be used */
    int      nell;                     /* broadcast ellipsis dimensions */
    int64_t  extent[EIN_MAX_LABELS];   /* -1: label unused */
    bool     live[EIN_MAX_LABELS];     /* used, and not squeezed away */
    int64_t *stride;                   /* (nops+1) * EIN_MAX_LABELS */
    bool    *uses;                     /* (nops+1) * EIN_MAX_LABELS: label written in the term */
    int      out_ndim;
    uint8_t  out_label[EIN_MAX_DIMS];  /* output dimension -> label id */
    int64_t  out_shape[EIN_MAX_DIMS];
    ein_dtype dtype;                   /* compute dtype (promoted) */
} ein_bound;

#define EIN_STRIDE(b, t, l) ((b)->stride[(size_t)(t) * EIN_MAX_LABELS + (size_t)(l)])
#define EIN_USES(b, t, l)   ((b)->uses[(size_t)(t) * EIN_MAX_LABELS + (size_t)(l)])

/* Bind e to operand views.  `out` may be NULL (C-contiguous result). */
ein_status ein_bind(const ein_expr *e, int nops, const ein_tensor *const *ops,
                    const ein_tensor *out, ein_bound *b);
void ein_bound_free(ein_bound *b);

/* ---- path --------------------------------------------------------------- */

/* A set of label ids (EIN_MAX_LABELS <= 128): bit l of w[l / 64]. */
typedef struct lset { uint64_t w[2]; } lset;
static inline bool ein_ls_has(lset s, int l) { return (s.w[l >> 6] >> (l & 63)) & 1; }

/* path.c: the order of pairwise contractions.  Each entry contracts two
 * (or reduces one) of the live terms into a new term holding `keep`;
 * terms are named by their operand's position, and a pair's result takes
 * the id of `a`. */
typedef struct ein_pathstep {
    int    a, b;                    /* term ids; b = -1: reduce a alone */
    lset   keep;                    /* labels of the result */
    double flops;                   /* opt_einsum's count (see path.c) */
    double size;                    /* elements of the result */
} ein_pathstep;

/* What the search found, for explain and the bench. */
typedef struct ein_pathinfo {
    ein_path_algo algo;             /* the algorithm that ran (auto resolved) */
    bool   explicit_path;           /* the caller's path_pairs */
    bool   refit;                   /* reordered: algo's order overran memory_limit's workspace */
    double flops;                   /* sum over the steps */
    double naive_flops;             /* one loop nest over every label */
    double largest;                 /* elements of the largest intermediate */
    double plan_us;                 /* time the search took */
} ein_pathinfo;

/* Most operands the exact search takes (3^n / 2 splits), and the most
 * for which auto picks it (under ~1 ms of planning on the dev machine). */
#define EIN_PATH_OPTIMAL_MAX  16
#define EIN_PATH_AUTO_OPTIMAL 10

/* Order b's operands as opt (NULL: auto, no limit) asks; steps needs room
 * for 2 * nops + 1 entries.  `base`: bytes of the workspace below the
 * intermediates (converted operand copies).  Under opt->memory_limit
 * every intermediate, and the workspace the steps need at once (laid out
 * as ein_ws_pack does, from base), must fit: when the algorithm's order
 * overruns the workspace, a search over every order takes the cheapest
 * that fits (info->refit).  EIN_ERR_LIMIT when no order fits,
 * EIN_ERR_ARG for a bad option or explicit path.  (An explicit or naive
 * order is kept as given; ein_lower checks its workspace.) */
ein_status ein_path_find(const ein_bound *b, const ein_options *opt, size_t base,
                         ein_pathstep *steps, int *nsteps, ein_pathinfo *info);
/* The workspace's layout, for the planner and the path search alike:
 * step i (of n) writes a temporary of bytes[i] that lives through step
 * death[i] (-1: the step writes none), placed at the lowest offset, base
 * or the 64-byte-aligned end of a live block, that overlaps no temporary
 * still alive; offsets to at[i] (NULL: not wanted).  Returns the end of
 * the highest (base when there are none). */
size_t ein_ws_pack(int n, const size_t *bytes, const int *death, size_t base, size_t *at);
/* The greedy order without a limit; returns the step count. */
int ein_path_greedy(const ein_bound *b, ein_pathstep *steps);
const char *ein_path_algo_name(ein_path_algo a);

/* ---- plan ---------------------------------------------------------------- */

/* One loop of a step: its extent and the stride (elements) of each of the
 * step's tensors along it, in order in[0], in[1], ..., out. */
#define EIN_STEP_MAXT 3
typedef struct ein_loop {
    int64_t extent;
    int64_t stride[EIN_STEP_MAXT];
    char    name[24];          /* "i", "jk" after fusion, "...0" */
} ein_loop;

typedef enum ein_kind {
    EIN_K_ZERO,       /* fill the output with zeros (a zero extent was summed) */
    EIN_K_GENERIC,    /* strided loop nest: out loops outside, sums inside */
    EIN_K_DOT,        /* out = sum_k a[k] b[k] */
    EIN_K_GEMV,       /* out[m] = sum_k A[m,k] x[k] */
    EIN_K_GEMM,       /* out[m,n] = sum_k A[m,k] B[k,n] */
    EIN_K_OUTER       /* out[m,n] = a[m] b[n] (GEMM with k = 1) */
} ein_kind;

/* A slot holds a tensor while the plan runs: 0..nops-1 are the operands,
 * then temporaries (C-contiguous, in the workspace), then the output. */
typedef struct ein_step {
    ein_kind kind;
    int      nin;                  /* 1 or 2 */
    int      in[2];                /* slot ids */
    int      out;                  /* slot id */
    int      nloops;
    int      nfree;                /* loops[0..nfree) index the output */
    ein_loop loops[EIN_MAX_LABELS];
    /* Dense kernels: loops [0..nouter) run outside the kernel; the kernel
     * sees the m/n/k shape below.  Outer loops that are summed set
     * accumulate after their first iteration. */
    int      nouter;
    bool     outer_sums[EIN_MAX_LABELS];
    /* GEMM steps whose m, n or k spans several loops: the groups for a
     * table's tensor GEMM, which then runs everything but the batch loops
     * [0..nbatch) itself. */
    bool     grouped;
    int      nbatch;
    ein_group gm, gn, gk;
    bool     swap;                 /* GEMV with in[1] as the matrix */
    /* GEMV whose vector is gathered into a packing buffer first, in the
     * matrix's order (lower.c, packed_vector_gemv): the sums in gk. */
    bool     xpack;
    int64_t  m, n, k;
    int64_t  rsa, csa, rsb, csb, rsc, csc;
    char     mname[24], nname[24], kname[24];
    double   flops, bytes;
    /* The path step this runs (explain): "ea,abcd->ebcd  [..]", its FLOPs
     * counted as opt_einsum does, and the intermediate's elements (0 for
     * the output). */
    char     pexpr[192];
    double   pflops, psize;
    /* A tiled chain (lower.c plans it, exec.c runs it): loop steps each
     * of whose results only the next one reads, run together a tile of
     * rows of a label free in all of them at a time, so each result
     * stays in cache as a tile instead of going to memory whole.  The
     * chain's first step holds its length (0: not a chain's first) and
     * the rows: tile_rows a tile of tile_ext; every step of it has
     * tile_loop, the loop that walks the label (fused loops: tile_unit
     * of its elements a row), and `chained` on all but the first.  Thread
     * t keeps its tiles of the intermediates at tile_rows + 1 rows times
     * t into their blocks (the last tile of a chain may have one more
     * row).  tile_summed: the label is summed in the last step, a column
     * sum whose sums go on from tile to tile, in double, in the workspace
     * at carry_off (one thread, tiles in order, so the bits are those of
     * one call over all the rows). */
    int      chain, tile_threads;   /* at most this many threads */
    bool     chained, tile_summed;
    /* tile_flat: the chain is elementwise steps over one contiguous run
     * ending in a whole dot (ein_whole_dot); its tiles are the dot's
     * chunks (tile_rows elements, tile_unit 1), their sums added in
     * order after the tiles, on any number of threads. */
    bool     tile_flat;
    size_t   carry_off;
    int      tile_loop;
    int64_t  tile_unit, tile_rows, tile_ext;
    char     tile_label[24];
} ein_step;

typedef struct ein_slot {
    bool      in_workspace; /* a temporary, or an operand converted to the
                               compute dtype (C-contiguous) before the run */
    size_t    offset;       /* byte offset in the workspace */
    int64_t   size;         /* elements */
} ein_slot;

/* A plan's single dense kernel call on the operands' and the output's
 * data (see ein_plan.direct). */
typedef void ein_direct_fn(const ein_plan *p, const void *a, const void *b,
                           void *c);

struct ein_plan {
    char     *text;
    int       nops;
    ein_dtype dtype;               /* compute dtype */
    /* What ein_execute checks the tensors against. */
    ein_dtype *op_dtype;
    int32_t  *op_ndim;
    int64_t  *op_shape;            /* nops * EIN_MAX_DIMS */
    int64_t  *op_stride;           /* nops * EIN_MAX_DIMS, C order filled in */
    ein_dtype out_dtype;
    int32_t   out_ndim;
    int64_t   out_shape[EIN_MAX_DIMS];
    int64_t   out_stride[EIN_MAX_DIMS];
    int64_t   out_size;
    /* Byte offsets [lo, hi) each view reaches from its data pointer, for
     * the overlap test at execute time: op k at op_span[2k]. */
    int64_t  *op_span;
    int64_t   out_span[2];
    bool     *op_c_order;          /* strides are C order: a NULL-strides view matches */
    bool      out_c_order;

    int        nslots;
    ein_slot  *slots;
    int        nsteps;
    ein_step  *steps;
    size_t     workspace;          /* bytes of temporaries */
    /* The workspace block of the last execute, kept for the next one
     * (NULL: none kept, or an execute holds it).  A fresh block of tens
     * of MiB cost a page fault per 4 KiB on every execute:
     * "ij,ij,ij->j" 4000^2 f32 on two threads ran 23.9 ms a call, 10.6
     * with the block kept.  Every plan keeps one but those in einsum()'s
     * cache (keep_ws false): it holds up to 128 plans. */
    _Atomic(void *) ws_kept;
    bool       keep_ws;
    const ein_ktable *kt;
    int        nthreads;
    /* One dense kernel call on the operands and the output as given (no
     * outer loops, no workspace): the function making it, which
     * ein_execute calls straight away when the output overlaps no input;
     * NULL for every other plan. */
    ein_direct_fn *direct;
    /* The output is computed (two or more operands, or a sum) but the
     * last step only copies (a squeezed sum, a transposed intermediate):
     * the output then gets + 0, as numpy's accumulation into zeros never
     * leaves -0.  The kernels that sum or multiply store + 0 themselves. */
    bool       plus_zero;
    /* For explain: the rewrite decisions. */
    char       squeezed[256];
    char       unbroadcast[256];   /* labels dropped by ein_unbroadcast */
    double     flops, bytes;
    ein_pathinfo path;             /* how the order was found */
    double     plan_us;            /* the whole compile */
};

/* Slot id of the final output within a plan. */
#define EIN_OUT_SLOT(p) ((p)->nslots - 1)

/* rewrite.c: squeeze extent-1 labels out of the index table (recording
 * their names in `squeezed`); fuse a step's adjacent loops. */
void ein_squeeze(ein_bound *b, char *squeezed, size_t cap);
/* rewrite.c: take labels along which an input only repeats itself
 * (stride 0) out of that input's term, where another input supplies
 * them (recording "j in op1, ..." in `dropped`). */
void ein_unbroadcast(ein_bound *b, char *dropped, size_t cap);
/* Returns the new loop count and updates *nfree. */
int  ein_fuse_loops(ein_loop *loops, int n, int ntensors, int *nfree);

/* lower.c: build the plan's steps from a bound, squeezed expression. */
ein_status ein_lower(const ein_bound *b, ein_plan *p, const ein_options *opt,
                     bool force_generic);

/* The full compile, with knobs tests use: force_generic runs every step as
 * the generic loop nest over all operands at once (the oracle). */
ein_plan *ein_plan_build(const char *subscripts, int nops,
                         const ein_tensor *const *ops, const ein_tensor *out,
                         const ein_options *opt, const ein_ktable *kt,
                         bool force_generic, ein_status *st);

/* kernels/loopnest.c: the generic strided loop nest, the oracle.
 * out[free] = sum over the summed loops of prod_t in_t[...]; loops
 * [0..nfree) index the output, the rest are summed.  strides are laid
 * out loop-major: strides[l * (nin + 1) + t], t = nin is the output. */
void ein_loopnest(ein_dtype dt, int nin, const void *const *in, void *out,
                  int nloops, int nfree, const int64_t *extent,
                  const int64_t *strides);

/* cache.c: drop every cached plan (tests; plans in use stay alive until
 * released). */
void ein_cache_clear(void);

/* exec.c */
void ein_view_span(int nd, const int64_t *shape, const int64_t *stride,
                   size_t esize, int64_t span[2]);
/* Which of the table's loops a GENERIC step runs (EIN_GK_*), or 0 for
 * the generic loop nest. */
int ein_generic_kind(const ein_plan *p, const ein_step *s);
/* Whether step s is a dot of one contiguous run long enough to go by
 * chunks, and the chunk length for a run of n elements (it depends on n
 * alone: the chunk sums, added in order, fix the bits). */
bool ein_whole_dot(const ein_step *s);
int64_t ein_sum_chunk(int64_t n);
ein_status ein_run(const ein_plan *p, const ein_tensor *const *ops,
                   ein_tensor *out);
/* The direct call for a plan whose one step is a dense kernel on the
 * operands and the output as given, or NULL. */
ein_direct_fn *ein_direct_pick(const ein_plan *p);

/* Does the output share memory with an input?  The byte spans come from
 * the plan; only the data pointers are new. */
static inline bool ein_out_overlaps(const ein_plan *p, const ein_tensor *const *ops,
                                    const ein_tensor *out)
{
    uintptr_t olo = (uintptr_t)out->data + (uintptr_t)p->out_span[0];
    uintptr_t ohi = (uintptr_t)out->data + (uintptr_t)p->out_span[1];
    bool hit = false;
    for (int k = 0; k < p->nops && olo < ohi; k++) {
        const int64_t *sp = &p->op_span[2 * k];
        uintptr_t lo = (uintptr_t)ops[k]->data + (uintptr_t)sp[0];
        uintptr_t hi = (uintptr_t)ops[k]->data + (uintptr_t)sp[1];
        hit |= lo < hi && lo < ohi && olo < hi;
    }
    return hit;
}

#endif
