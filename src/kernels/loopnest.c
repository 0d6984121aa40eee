/* loopnest.c — the generic strided loop nest: correct for every step of
 * every expression, and the oracle the dense kernels are tested against.
 * Free loops run outside; for each output element the summed loops run
 * inside into one accumulator, which is written once.  float32 sums
 * accumulate in double. */
#include "internal.h"

#define MAXL EIN_MAX_LABELS

#define DEFINE_LOOPNEST(NAME, T)                                               \
static void NAME(int nin, const T *const *in, T *out, int nloops, int nfree,   \
                 const int64_t *extent, const int64_t *st)                     \
{                                                                              \
    const int nt = nin + 1; int nsum = nloops - nfree;                           \
    for (int l = 0; l < nfree; l++)                                            \
        if (extent[l] == 0)                                                    \
            return;                                                            \
    for (int l = nfree; l < nloops; l++)                                       \
        if (extent[l] == 0)                                                    \
            nsum = -1; /* every sum is empty: write zeros */                   \
    int64_t fidx[MAXL] = {0}, sidx[MAXL] = {0};                                \
    int64_t foff[EIN_MAX_OPERANDS + 1] = {0};                                  \
    /* The innermost summed loop runs as a tight strided loop. */              \
    const int inner = nsum > 0 ? nloops - 1 : -1;                              \
    const int64_t n_in = inner >= 0 ? extent[inner] : 1;                       \
    for (;;) {                                                                 \
        double acc = 0;                                                        \
        if (nsum == 0) {                                                       \
            double p = 1;                                                      \
            for (int t = 0; t < nin; t++)                                      \
                p *= (double)in[t][foff[t]];                                   \
            acc = p;                                                           \
        } else if (nsum > 0) {                                                 \
            int64_t soff[EIN_MAX_OPERANDS + 1];                                \
            for (int t = 0; t < nin; t++)                                      \
                soff[t] = foff[t];                                             \
            for (int l = nfree; l < nloops - 1; l++)                           \
                sidx[l] = 0;                                                   \
            for (;;) {                                                         \
                if (nin == 1) {                                                \
                    const T *a = in[0] + soff[0];                              \
                    const int64_t sa = st[inner * nt];                         \
                    for (int64_t i = 0; i < n_in; i++)                         \
                        acc += (double)a[i * sa];                              \
                } else if (nin == 2) {                                         \
                    const T *a = in[0] + soff[0], *b = in[1] + soff[1];        \
                    const int64_t sa = st[inner * nt], sb = st[inner * nt + 1];\
                    for (int64_t i = 0; i < n_in; i++)                         \
                        acc += (double)a[i * sa] * (double)b[i * sb];          \
                } else {                                                       \
                    for (int64_t i = 0; i < n_in; i++) {                       \
                        double p = 1;                                          \
                        for (int t = 0; t < nin; t++)                          \
                            p *= (double)in[t][soff[t] + i * st[inner * nt + t]]; \
                        acc += p;                                              \
                    }                                                          \
                }                                                              \
                /* Advance the outer summed loops (odometer). */               \
                int l = nloops - 2;                                            \
                for (; l >= nfree; l--) {                                      \
                    for (int t = 0; t < nin; t++)                              \
                        soff[t] += st[l * nt + t];                             \
                    if (++sidx[l] < extent[l])                                 \
                        break;                                                 \
                    for (int t = 0; t < nin; t++)                              \
                        soff[t] -= st[l * nt + t] * extent[l];                 \
                    sidx[l] = 0;                                               \
                }                                                              \
                if (l < nfree)                                                 \
                    break;                                                     \
            }                                                                  \
        }                                                                      \
        /* numpy accumulates into a zeroed output: a sum or a product is  \
         * stored + 0, so never -0; a copy keeps its sign. */              \
        out[foff[nin]] = nsum > 0 || nin > 1 ? (T)acc + (T)0 : (T)acc;         \
        /* Advance the free loops (odometer). */                               \
        int l = nfree - 1;                                                     \
        for (; l >= 0; l--) {                                                  \
            for (int t = 0; t < nt; t++)                                       \
                foff[t] += st[l * nt + t];                                     \
            if (++fidx[l] < extent[l])                                         \
                break;                                                         \
            for (int t = 0; t < nt; t++)                                       \
                foff[t] -= st[l * nt + t] * extent[l];                         \
            fidx[l] = 0;                                                       \
        }                                                                      \
        if (l < 0)                                                             \
            return;                                                            \
    }                                                                          \
}

DEFINE_LOOPNEST(loopnest_f32, float)
DEFINE_LOOPNEST(loopnest_f64, double)

void ein_loopnest(ein_dtype dt, int nin, const void *const *in, void *out,
                  int nloops, int nfree, const int64_t *extent,
                  const int64_t *strides)
{
    if (dt == EIN_F32)
        loopnest_f32(nin, (const float *const *)in, out, nloops, nfree, extent, strides);
    else
        loopnest_f64(nin, (const double *const *)in, out, nloops, nfree, extent, strides);
}
