/* support.h — helpers shared by the Criterion tests: a seeded generator,
 * random fills, tolerant comparisons and small tensor constructors. */
#ifndef EIN_TEST_SUPPORT_H
#define EIN_TEST_SUPPORT_H

#include <stddef.h>
#include <stdint.h>

#include "einsum.h"

/* splitmix64: small, fast, and the same stream on every machine. */
typedef struct ts_rng { uint64_t s; } ts_rng;
uint64_t ts_next(ts_rng *r);
int64_t  ts_range(ts_rng *r, int64_t lo, int64_t hi);   /* [lo, hi] */
double   ts_uniform(ts_rng *r);                         /* [-1, 1) */

void ts_fill_f32(float *p, size_t n, ts_rng *r);
void ts_fill_f64(double *p, size_t n, ts_rng *r);

/* Largest |a-b| / (atol + rtol*|b|) over n elements read through strides;
 * <= 1 means every element is within tolerance. */
double ts_maxerr_f32(const float *a, const float *b, size_t n,
                     double rtol, double atol);
double ts_maxerr_f64(const double *a, const double *b, size_t n,
                     double rtol, double atol);

#endif

/* The reference evaluator, independent of the planner and the kernels:
 * parse and bind with the library (so it shares numpy's shape rules),
 * then one loop nest over every label, in double, reading each operand
 * through its own dtype and strides.  Writes the C-order result into
 * `res` (out_size doubles) and returns the status of parse/bind. */
ein_status ts_reference(const char *subscripts, int nops,
                        const ein_tensor *const *ops, double *res,
                        int64_t *out_size);

/* Read element i (C order over t's shape) of a strided view as double. */
double ts_get(const ein_tensor *t, int64_t i);
