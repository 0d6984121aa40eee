/* casegen.h — random *valid* einsum calls for the differential fuzz target
 * (tests/fuzz/fuzz_diff.c) and the allocation-failure sweep
 * (tests/test_alloc.c).  A case is drawn from a byte source: the fuzzer's
 * input, or a fixed-seed splitmix stream, so the tests replay the same
 * cases on every machine. */
#ifndef EIN_TEST_CASEGEN_H
#define EIN_TEST_CASEGEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "einsum.h"

/* Bytes come from p[0..n) while they last, then from the stream seeded by
 * `seed` (a fuzz input thus always decodes to a whole case). */
typedef struct cg_src {
    const uint8_t *p;
    size_t         n, i;
    uint64_t       seed;
} cg_src;

unsigned cg_byte(cg_src *s);
int      cg_pick(cg_src *s, int lo, int hi);   /* [lo, hi] */

#define CG_MAXOPS 4
/* Dimensions of a tensor: an operand has at most 4 letters + 2 ellipsis
 * dimensions, but an (implicit) output may hold all 7 letters + 2. */
#define CG_MAXDIM 12

/* One tensor: a view into a buffer of its own (or, for an aliased output,
 * into an operand's).  data points inside buf, so negative strides stay
 * in bounds; buf holds nbuf bytes. */
typedef struct cg_tensor {
    ein_tensor t;
    int64_t    shape[CG_MAXDIM];
    int64_t    strides[CG_MAXDIM];
    unsigned char *buf;
    size_t     nbuf;
} cg_tensor;

typedef struct cg_case {
    char      expr[96];
    int       nops;
    cg_tensor op[CG_MAXOPS];
    int       num_threads;     /* for ein_options: 1..3 */
} cg_case;

/* Draw a case: 1-4 operands of rank 0-4 over labels 'a'..'f' (plus 'Z'
 * for numpy's uppercase-first order), extents 0-6, labels repeated in one
 * operand (diagonals), '...' covering 0-2 dimensions, extent-1
 * broadcasting, implicit or explicit output, f32/f64 mixed, and strides
 * that are C order, permuted, padded, negative or zero (on extent 1).
 * Returns false only if out of memory. */
bool cg_make(cg_case *c, cg_src *s);
void cg_free(cg_case *c);

/* A case with these subscripts, dtypes and shapes (C order), filled
 * with random values from `seed`.  False if out of memory. */
bool cg_make_fixed(cg_case *c, const char *expr, int nops, const ein_dtype *dt,
                   const int *nd, const int64_t (*shape)[4], uint64_t seed);

/* An output for a plan's result (rank nd, shape, dtype): strides drawn
 * like the operands' but never overlapping themselves; with alias_ok, it
 * may be placed inside an operand's buffer (an output overlapping an
 * input).  The output's own buffer, if any, goes into o->buf. */
bool cg_make_out(cg_case *c, cg_src *s, int nd, const int64_t *shape,
                 ein_dtype dt, bool alias_ok, cg_tensor *o);

/* Bytes spanned by a strided view: the offsets (elements) of its lowest
 * and highest element; false when some extent is 0 (nothing to reach). */
bool cg_span(int nd, const int64_t *shape, const int64_t *strides,
             int64_t *lo, int64_t *hi);

/* The reference result of a case (tests/support.c's ts_reference, C
 * order, n doubles, malloc'd into *want) and the tolerance per element:
 * the same sum over |operands| times the unit roundoff of `dt` times
 * (2 * summed terms + 8), the classic bound for a sum in any order.
 * Returns false if the reference refuses the call. */
bool cg_reference(const cg_case *c, ein_dtype dt, double **want, double **tol,
                  int64_t *n);

#endif
