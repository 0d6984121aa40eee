/* repl_value.c — REPL values and tensor views over shared, reference-
 * counted buffers.  A view costs one small struct; data is copied only by
 * rt_copy and by a reshape the strides cannot express (numpy's rule). */
#include "repl_value.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

volatile sig_atomic_t repl_interrupted;

rval rv_none(void)
{
    rval v;
    memset(&v, 0, sizeof v);
    return v;
}

rval rv_num(double x, int is_int)
{
    rval v = rv_none();
    v.kind = RV_NUM;
    v.num = x;
    v.is_int = is_int;
    return v;
}

rval rv_bool(int b)
{
    rval v = rv_none();
    v.kind = RV_BOOL;
    v.num = b ? 1 : 0;
    return v;
}

int rv_str(rval *v, const char *s, size_t n)
{
    *v = rv_none();
    char *p = malloc(n + 1);
    if (!p)
        return -1;
    memcpy(p, s, n);
    p[n] = '\0';
    v->kind = RV_STR;
    v->str = p;
    return 0;
}

int rv_tensor(rval *v, rtensor *t)
{
    *v = rv_none();
    if (!t)
        return -1;
    v->kind = RV_TENSOR;
    v->t = t;
    return 0;
}

int rv_copy(rval *dst, const rval *src)
{
    *dst = *src;
    switch (src->kind) {
    case RV_STR:
        return rv_str(dst, src->str, strlen(src->str));
    case RV_TENSOR:
        dst->t = rt_view_of(src->t);
        if (!dst->t) {
            *dst = rv_none();
            return -1;
        }
        dst->t->copied = src->t->copied;
        return 0;
    case RV_TUPLE:
        dst->items = src->n ? calloc((size_t)src->n, sizeof *dst->items) : NULL;
        if (src->n && !dst->items) {
            *dst = rv_none();
            return -1;
        }
        for (int i = 0; i < src->n; i++) {
            if (rv_copy(&dst->items[i], &src->items[i]) < 0) {
                dst->n = i;
                rv_free(dst);
                return -1;
            }
        }
        return 0;
    default:
        return 0;
    }
}

void rv_free(rval *v)
{
    if (!v)
        return;
    free(v->str);
    for (int i = 0; i < v->n; i++)
        rv_free(&v->items[i]);
    free(v->items);
    rt_free(v->t);
    *v = rv_none();
}

int rv_int_tuple(rval *out, int n, const int64_t *x)
{
    *out = rv_none();
    out->kind = RV_TUPLE;
    out->items = n ? calloc((size_t)n, sizeof *out->items) : NULL;
    if (n && !out->items) {
        *out = rv_none();
        return -1;
    }
    out->n = n;
    for (int i = 0; i < n; i++)
        out->items[i] = rv_num((double)x[i], 1);
    return 0;
}

/* ------------------------------------------------------------------ */
/* tensors                                                             */

static size_t esize(ein_dtype dt) { return dt == EIN_F32 ? 4 : 8; }

size_t rt_esize(const rtensor *t) { return esize(t->dtype); }

int64_t rt_count(const rtensor *t)
{
    int64_t n = 1;
    for (int i = 0; i < t->ndim; i++)
        n *= t->shape[i];
    return n;
}

rtensor *rt_new(ein_dtype dt, int32_t ndim, const int64_t *shape)
{
    if (ndim < 0 || ndim > EIN_MAX_DIMS)
        return NULL;
    uint64_t count = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0)
            return NULL;
        uint64_t e = (uint64_t)shape[i];
        if (e && count > (UINT64_MAX / 16) / e)
            return NULL;
        count *= e;
    }
    if (count > (SIZE_MAX - 64) / 8)
        return NULL;
    size_t bytes = (size_t)count * esize(dt);
    size_t rounded = (bytes + 63) / 64 * 64;
    rtensor *t = calloc(1, sizeof *t);
    rbuf *b = calloc(1, sizeof *b);
    void *data = aligned_alloc(64, rounded ? rounded : 64);
    if (!t || !b || !data) {
        free(t);
        free(b);
        free(data);
        return NULL;
    }
    memset(data, 0, rounded ? rounded : 64);
    b->refs = 1;
    b->bytes = bytes;
    b->data = data;
    t->buf = b;
    t->dtype = dt;
    t->ndim = ndim;
    int64_t st = 1;
    for (int i = ndim - 1; i >= 0; i--) {
        t->shape[i] = shape[i];
        t->strides[i] = st;
        st *= shape[i] ? shape[i] : 1;
    }
    return t;
}

rtensor *rt_view_of(const rtensor *t)
{
    rtensor *v = malloc(sizeof *v);
    if (!v)
        return NULL;
    *v = *t;
    v->copied = NULL;
    v->buf->refs++;
    return v;
}

void rt_free(rtensor *t)
{
    if (!t)
        return;
    if (--t->buf->refs == 0) {
        free(t->buf->data);
        free(t->buf);
    }
    free(t);
}

void *rt_data(const rtensor *t)
{
    return (char *)t->buf->data + t->offset * (int64_t)esize(t->dtype);
}

ein_tensor rt_ein(const rtensor *t)
{
    ein_tensor e = { rt_data(t), t->dtype, t->ndim, t->shape, t->strides };
    return e;
}

double rt_get(const rtensor *t, int64_t i)
{
    int64_t off = t->offset;
    for (int d = t->ndim - 1; d >= 0; d--) {
        int64_t e = t->shape[d];
        off += (i % e) * t->strides[d];
        i /= e;
    }
    if (t->dtype == EIN_F32)
        return (double)((const float *)t->buf->data)[off];
    return ((const double *)t->buf->data)[off];
}

int rt_is_c_contiguous(const rtensor *t)
{
    int64_t st = 1;
    for (int i = t->ndim - 1; i >= 0; i--) {
        if (t->shape[i] != 1 && t->strides[i] != st)
            return 0;
        st *= t->shape[i];
    }
    return 1;
}

rtensor *rt_copy(const rtensor *t, ein_dtype dt)
{
    rtensor *c = rt_new(dt, t->ndim, t->shape);
    if (!c)
        return NULL;
    int64_t n = rt_count(t);
    /* an odometer over t's strides: one division-free step per element */
    int64_t idx[EIN_MAX_DIMS] = { 0 };
    int64_t off = t->offset;
    const char *src = t->buf->data;
    for (int64_t i = 0; i < n; i++) {
        if ((i & 0xffff) == 0xffff && repl_interrupted) {
            rt_free(c);
            return NULL;
        }
        double x = t->dtype == EIN_F32 ? (double)((const float *)src)[off]
                                       : ((const double *)src)[off];
        if (dt == EIN_F32)
            ((float *)c->buf->data)[i] = (float)x;
        else
            ((double *)c->buf->data)[i] = x;
        for (int d = t->ndim - 1; d >= 0; d--) {
            off += t->strides[d];
            if (++idx[d] < t->shape[d])
                break;
            off -= idx[d] * t->strides[d];
            idx[d] = 0;
        }
    }
    return c;
}

rtensor *rt_permute(const rtensor *t, const int *perm, char *msg, size_t cap)
{
    int seen[EIN_MAX_DIMS] = { 0 };
    for (int i = 0; i < t->ndim; i++) {
        if (perm[i] < 0 || perm[i] >= t->ndim || seen[perm[i]]++) {
            snprintf(msg, cap, "the axes are not a permutation of 0..%d", t->ndim - 1);
            return NULL;
        }
    }
    rtensor *v = rt_view_of(t);
    if (!v) {
        snprintf(msg, cap, "out of memory");
        return NULL;
    }
    for (int i = 0; i < t->ndim; i++) {
        v->shape[i] = t->shape[perm[i]];
        v->strides[i] = t->strides[perm[i]];
    }
    return v;
}

/* numpy's _attempt_nocopy_reshape: walk old and new axes in groups of
 * equal element counts; within a group the old axes must be contiguous
 * relative to each other, and the new axes then get strides that step
 * through that group.  Extent-1 axes are free. */
static int nocopy_strides(const rtensor *t, int32_t ndim, const int64_t *shape,
                          int64_t *out)
{
    int64_t os[EIN_MAX_DIMS], ost[EIN_MAX_DIMS];
    int on = 0;
    for (int i = 0; i < t->ndim; i++) {
        if (t->shape[i] != 1) {
            os[on] = t->shape[i];
            ost[on] = t->strides[i];
            on++;
        }
    }
    int oi = 0, oj = 1, ni = 0, nj = 1;
    while (ni < ndim && oi < on) {
        int64_t np = shape[ni], op = os[oi];
        while (np != op) {
            if (np < op) {
                if (nj >= ndim)
                    return 0;
                np *= shape[nj++];
            } else {
                if (oj >= on)
                    return 0;
                op *= os[oj++];
            }
        }
        for (int k = oi; k < oj - 1; k++)
            if (ost[k] != os[k + 1] * ost[k + 1])
                return 0;
        out[nj - 1] = ost[oj - 1];
        for (int k = nj - 1; k > ni; k--)
            out[k - 1] = out[k] * shape[k];
        ni = nj++;
        oi = oj++;
    }
    /* trailing extent-1 axes (or every axis when all are 1) */
    for (int k = ni; k < ndim; k++)
        out[k] = 1;
    return 1;
}

rtensor *rt_reshape(const rtensor *t, int32_t ndim, const int64_t *shape,
                    char *msg, size_t cap)
{
    int64_t n = 1;
    for (int i = 0; i < ndim; i++)
        n *= shape[i];
    if (n != rt_count(t)) {
        snprintf(msg, cap, "cannot reshape %lld elements into a shape of %lld",
                 (long long)rt_count(t), (long long)n);
        return NULL;
    }
    int64_t st[EIN_MAX_DIMS];
    rtensor *v;
    const char *copied = NULL;
    if (n > 0 && nocopy_strides(t, ndim, shape, st)) {
        v = rt_view_of(t);
    } else {
        v = rt_copy(t, t->dtype);
        if (v && n > 0)
            copied = "reshape copied it: its strides allow no view of that shape";
        int64_t s = 1;
        for (int i = ndim - 1; i >= 0; i--) {
            st[i] = s;
            s *= shape[i] ? shape[i] : 1;
        }
    }
    if (!v) {
        snprintf(msg, cap, repl_interrupted ? "interrupted" : "out of memory");
        return NULL;
    }
    v->ndim = ndim;
    for (int i = 0; i < ndim; i++) {
        v->shape[i] = shape[i];
        v->strides[i] = st[i];
    }
    v->copied = copied;
    return v;
}
