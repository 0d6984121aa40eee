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

#include <string.h>

#include "internal.h"

double ts_get(const ein_tensor *t, int64_t i)
{
    int64_t off = 0, acc = 1;
    for (int d = t->ndim - 1; d >= 0; d--) {
        int64_t x = t->shape[d];
        int64_t idx = (i / acc) % x;
        off += idx * (t->strides ? t->strides[d] : acc);
        acc *= x;
    }
    return t->dtype == EIN_F32 ? (double)((const float *)t->data)[off]
                               : ((const double *)t->data)[off];
}

static double read_op(const ein_tensor *t, int64_t off)
{
    return t->dtype == EIN_F32 ? (double)((const float *)t->data)[off]
                               : ((const double *)t->data)[off];
}

ein_status ts_reference(const char *subscripts, int nops,
                        const ein_tensor *const *ops, double *res,
                        int64_t *out_size)
{
    ein_expr e;
    ein_bound b;
    if (nops < 0 || nops > EIN_MAX_OPERANDS)
        return EIN_ERR_OPERANDS;
    ein_status st = ein_parse(subscripts, &e);
    if (st != EIN_OK)
        return st;
    /* Bind views that all share one dtype: bind gives an operand of
     * another dtype C strides (the plan converts it first), but this
     * evaluator reads every operand in place through its own strides. */
    ein_tensor same[EIN_MAX_OPERANDS];
    const ein_tensor *sp[EIN_MAX_OPERANDS];
    for (int k = 0; k < nops && k < EIN_MAX_OPERANDS; k++) {
        same[k] = *ops[k];
        same[k].dtype = EIN_F64;
        sp[k] = &same[k];
    }
    st = ein_bind(&e, nops, sp, NULL, &b);
    ein_expr_free(&e);
    if (st != EIN_OK)
        return st;
    int lab[EIN_MAX_LABELS], n = 0;
    for (int l = 0; l < b.nlabels; l++)
        if (b.extent[l] >= 0)
            lab[n++] = l;
    int64_t osize = 1;
    for (int d = 0; d < b.out_ndim; d++)
        osize *= b.out_shape[d];
    *out_size = osize;
    for (int64_t i = 0; i < osize; i++)
        res[i] = 0;
    /* C-order strides of the result, per label. */
    int64_t ostr[EIN_MAX_LABELS] = {0}, acc = 1;
    for (int d = b.out_ndim - 1; d >= 0; d--) {
        ostr[b.out_label[d]] = acc;
        acc *= b.out_shape[d];
    }
    int64_t idx[EIN_MAX_LABELS] = {0};
    for (int i = 0; i < n; i++)
        if (b.extent[lab[i]] == 0)
            goto done;
    for (;;) {
        double p = 1;
        for (int k = 0; k < nops; k++) {
            int64_t off = 0;
            for (int i = 0; i < n; i++)
                off += idx[i] * EIN_STRIDE(&b, k, lab[i]);
            p *= read_op(ops[k], off);
        }
        int64_t o = 0;
        for (int i = 0; i < n; i++)
            o += idx[i] * ostr[lab[i]];
        res[o] += p;
        int i = n - 1;
        for (; i >= 0; i--) {
            if (++idx[i] < b.extent[lab[i]])
                break;
            idx[i] = 0;
        }
        if (i < 0)
            break;
    }
done:
    ein_bound_free(&b);
    return EIN_OK;
}
