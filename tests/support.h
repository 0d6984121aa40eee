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
