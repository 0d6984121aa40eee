/* support.c — shared test helpers; see support.h. */
#include "support.h"

#include <math.h>

uint64_t ts_next(ts_rng *r)
{
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

int64_t ts_range(ts_rng *r, int64_t lo, int64_t hi)
{
    return lo + (int64_t)(ts_next(r) % (uint64_t)(hi - lo + 1));
}

double ts_uniform(ts_rng *r)
{
    return (double)(ts_next(r) >> 11) * 0x1.0p-52 - 1.0;
}

void ts_fill_f32(float *p, size_t n, ts_rng *r)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (float)ts_uniform(r);
}

void ts_fill_f64(double *p, size_t n, ts_rng *r)
{
    for (size_t i = 0; i < n; i++)
        p[i] = ts_uniform(r);
}

double ts_maxerr_f32(const float *a, const float *b, size_t n,
                     double rtol, double atol)
{
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)a[i] - (double)b[i]) / (atol + rtol * fabs((double)b[i]));
        if (!(e <= worst))   /* also catches NaN */
            worst = isnan(e) ? INFINITY : e;
    }
    return worst;
}

double ts_maxerr_f64(const double *a, const double *b, size_t n,
                     double rtol, double atol)
{
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs(a[i] - b[i]) / (atol + rtol * fabs(b[i]));
        if (!(e <= worst))
            worst = isnan(e) ? INFINITY : e;
    }
    return worst;
}
