/* bind.c — bind a parsed expression to operand views: check ranks, map
 * ellipsis dimensions to labels, broadcast extent-1 dimensions, fold
 * repeated labels into diagonal strides, derive the output shape and
 * dtype, and reject every inconsistency with its label and extents. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static const char *fmt_shape(const int64_t *shape, int n, char *buf, size_t cap)
{
    size_t w = 0;
    w += (size_t)snprintf(buf + w, cap - w, "[");
    for (int i = 0; i < n && w < cap; i++)
        w += (size_t)snprintf(buf + w, cap - w, "%s%lld", i ? ", " : "",
                              (long long)shape[i]);
    if (w < cap)
        snprintf(buf + w, cap - w, "]");
    return buf;
}

/* Do the C-order strides of a shape (zeros counted as 1), and the byte
 * offset of its last element, fit in int64? */
static bool c_strides_fit(int nd, const int64_t *shape)
{
    int64_t acc = 8;     /* the widest element, in bytes */
    for (int d = nd - 1; d >= 0; d--)
        if (!ein_mul_ok(acc, shape[d] > 0 ? shape[d] : 1, &acc))
            return false;
    return true;
}

static ein_status check_view(const ein_tensor *t, const char *what)
{
    if (!t)
        return ein_fail(EIN_ERR_ARG, "%s is NULL", what);
    if (ein_dtype_size(t->dtype) == 0)
        return ein_fail(EIN_ERR_DTYPE, "%s has unsupported dtype %d "
                        "(einsum computes in float32 and float64)", what, (int)t->dtype);
    if (t->ndim < 0 || t->ndim > EIN_MAX_DIMS)
        return ein_fail(EIN_ERR_ARG, "%s has rank %d (must be 0..%d)", what,
                        (int)t->ndim, EIN_MAX_DIMS);
    if (t->ndim > 0 && !t->shape)
        return ein_fail(EIN_ERR_ARG, "%s has rank %d but no shape", what, (int)t->ndim);
    int64_t count = 1, span = 0;
    for (int d = 0; d < t->ndim; d++) {
        if (t->shape[d] < 0)
            return ein_fail(EIN_ERR_ARG, "%s has negative extent %lld in dimension %d",
                            what, (long long)t->shape[d], d);
        if (!ein_mul_ok(count, t->shape[d], &count)) {
            char buf[256];
            return ein_fail(EIN_ERR_OVERFLOW, "%s has shape %s whose element "
                            "count overflows int64", what,
                            fmt_shape(t->shape, t->ndim, buf, sizeof buf));
        }
    }
    int64_t bytes;
    if (!ein_mul_ok(count, (int64_t)ein_dtype_size(t->dtype), &bytes))
        return ein_fail(EIN_ERR_OVERFLOW, "%s: %lld elements overflow a byte count",
                        what, (long long)count);
    /* C strides count a zero extent as 1 (ein_c_strides), so an empty
     * view's other extents must still multiply within int64: numpy, too,
     * refuses (3, 0, 2^63-1). */
    if (!c_strides_fit(t->ndim, t->shape)) {
        char buf[256];
        return ein_fail(EIN_ERR_OVERFLOW, "%s has shape %s whose C strides overflow "
                        "int64 (a zero extent counts as 1 in a stride)", what,
                        fmt_shape(t->shape, t->ndim, buf, sizeof buf));
    }
    /* The farthest element from data must be addressable too. */
    if (t->strides && count > 0)
        for (int d = 0; d < t->ndim; d++) {
            int64_t s = t->strides[d], reach;
            if (t->shape[d] == 1)   /* never stepped: any stride will do */
                continue;
            /* span + 1: the plan's overlap test needs the end, one past
             * the farthest element, in bytes too. */
            if (s == INT64_MIN || !ein_mul_ok(s < 0 ? -s : s, t->shape[d] - 1, &reach) ||
                __builtin_add_overflow(span, reach, &span) || span == INT64_MAX ||
                !ein_mul_ok(span + 1, (int64_t)ein_dtype_size(t->dtype), &reach))
                return ein_fail(EIN_ERR_OVERFLOW, "%s: stride %lld in dimension %d "
                                "reaches past int64 bytes", what, (long long)s, d);
        }
    return EIN_OK;
}

/* Strides of a view, C order when the view has none.  An empty view is
 * never stepped along (some label has extent 0, so the plan only zeroes
 * or skips the output), and its strides, its own or C order, may add up
 * past int64 on a diagonal: it gets zeros. */
static void view_strides(const ein_tensor *t, int64_t *s)
{
    bool empty = false;
    for (int d = 0; d < t->ndim; d++)
        empty |= t->shape[d] == 0;
    if (empty) {
        memset(s, 0, (size_t)t->ndim * sizeof *s);
        return;
    }
    if (t->strides) {
        /* An extent-1 dimension is never stepped along, so its stride,
         * whatever it is (INT64_MIN included), becomes 0 here, before any
         * diagonal adds it to another. */
        for (int d = 0; d < t->ndim; d++)
            s[d] = t->shape[d] == 1 ? 0 : t->strides[d];
        return;
    }
    ein_c_strides(t->ndim, t->shape, s);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Exact test for layouts the quick rule cannot settle (interleaved
 * strides such as (2, -3) on a 3x3 output): list every element's offset
 * and look for a repeat.  Only for outputs up to EIN_EXACT_ALIAS_MAX
 * elements; larger ones stay refused. */
#define EIN_EXACT_ALIAS_MAX ((int64_t)1 << 22)
static ein_status exact_self_overlap(const int64_t *shape, const int64_t *stride,
                                     int n, int64_t count, int dim)
{
    if (count > EIN_EXACT_ALIAS_MAX)
        return ein_fail(EIN_ERR_ALIAS, "the output's elements may overlap: dimension "
                        "%d (extent %lld, stride %lld) interleaves with smaller "
                        "strides, and the output has too many elements (%lld) to "
                        "check exactly", dim, (long long)shape[dim],
                        (long long)stride[dim], (long long)count);
    int64_t *off = ein_malloc((size_t)count * sizeof *off);
    if (!off)
        return ein_fail(EIN_ERR_NOMEM, "out of memory checking the output's "
                        "strides for overlap");
    int64_t idx[EIN_MAX_DIMS] = {0}, o = 0;
    for (int64_t i = 0; i < count; i++) {
        off[i] = o;
        for (int d = n - 1; d >= 0; d--) {
            o += stride[d];
            if (++idx[d] < shape[d])
                break;
            o -= stride[d] * shape[d];
            idx[d] = 0;
        }
    }
    qsort(off, (size_t)count, sizeof *off, cmp_i64);
    for (int64_t i = 1; i < count; i++)
        if (off[i] == off[i - 1]) {
            long long at = (long long)off[i];
            ein_free(off);
            return ein_fail(EIN_ERR_ALIAS, "the output's elements overlap: two "
                            "of its indices reach element offset %lld", at);
        }
    ein_free(off);
    return EIN_OK;
}

/* Do the output's elements stay apart?  Sorted by |stride|, each stride
 * must step past everything the smaller ones reach; when one does not,
 * the exact test decides.  A zero stride on an extent above 1 fails at
 * once. */
static ein_status check_no_self_overlap(const int64_t *shape, const int64_t *stride, int n)
{
    int idx[EIN_MAX_DIMS], m = 0;
    int64_t count = 1;
    for (int d = 0; d < n; d++) {
        if (shape[d] == 0)
            return EIN_OK;         /* nothing is written */
        if (shape[d] > 1)
            idx[m++] = d;
        count *= shape[d];         /* bounded: check_view counted it */
    }
    for (int i = 1; i < m; i++)     /* insertion sort by |stride| */
        for (int j = i; j > 0 && llabs(stride[idx[j]]) < llabs(stride[idx[j - 1]]); j--) {
            int t = idx[j]; idx[j] = idx[j - 1]; idx[j - 1] = t;
        }
    int64_t reach = 0;
    for (int i = 0; i < m; i++) {
        int d = idx[i];
        int64_t s = llabs(stride[d]);
        if (s == 0)
            return ein_fail(EIN_ERR_ALIAS, "the output's elements overlap: "
                            "dimension %d has extent %lld but stride 0",
                            d, (long long)shape[d]);
        if (s <= reach)
            return exact_self_overlap(shape, stride, n, count, d);
        reach += s * (shape[d] - 1);
    }
    return EIN_OK;
}

ein_status ein_bind(const ein_expr *e, int nops, const ein_tensor *const *ops,
                    const ein_tensor *out, ein_bound *b)
{
    memset(b, 0, sizeof *b);
    char what[48], nb[16], s1[256];
    const char *text = e->text;

    if (nops != e->nops)
        return ein_fail(EIN_ERR_OPERANDS, "%s: the subscripts name %d operand%s "
                        "but %d %s given", text, e->nops, e->nops == 1 ? "" : "s",
                        nops, nops == 1 ? "was" : "were");
    if (nops > 0 && !ops)
        return ein_fail(EIN_ERR_ARG, "the operand array is NULL");
    for (int k = 0; k < nops; k++) {
        snprintf(what, sizeof what, "operand %d", k);
        ein_status st = check_view(ops[k], what);
        if (st != EIN_OK)
            return st;
    }
    if (out) {
        ein_status st = check_view(out, "the output");
        if (st != EIN_OK)
            return st;
    }

    /* dtypes: numpy's promotion, and casting='safe' into `out`. */
    ein_dtype dt = EIN_F32;
    for (int k = 0; k < nops; k++)
        if (ops[k]->dtype == EIN_F64)
            dt = EIN_F64;
    if (out) {
        if (out->dtype == EIN_F32 && dt == EIN_F64) {
            return ein_fail(EIN_ERR_DTYPE, "%s: cannot store a float64 result in "
                            "a float32 output (numpy's casting='safe')", text);
        }
        dt = out->dtype;
    }
    b->dtype = dt;

    b->nops = nops;
    b->stride = ein_calloc((size_t)(nops + 1) * EIN_MAX_LABELS, sizeof *b->stride);
    b->uses = ein_calloc((size_t)(nops + 1) * EIN_MAX_LABELS, sizeof *b->uses);
    if (!b->stride || !b->uses) {
        ein_bound_free(b);
        return ein_fail(EIN_ERR_NOMEM, "out of memory binding %d operands", nops);
    }
    for (int l = 0; l < EIN_MAX_LABELS; l++)
        b->extent[l] = -1;

    /* Ranks, and how many dimensions the ellipsis covers. */
    int nell = 0;
    for (int k = 0; k < nops; k++) {
        const ein_term *t = &e->in[k];
        int nd = ops[k]->ndim;
        if (t->ell < 0 && t->n != nd) {
            ein_bound_free(b);
            return ein_fail_at(EIN_ERR_RANK, text, t->col0,
                               "operand %d has %d subscript%s but rank %d%s", k, t->n,
                               t->n == 1 ? "" : "s", nd,
                               t->n < nd ? " (add '...' to broadcast the rest)" : "");
        }
        if (t->ell >= 0 && t->n > nd) {
            ein_bound_free(b);
            return ein_fail_at(EIN_ERR_RANK, text, t->col0,
                               "operand %d has %d subscripts besides its ellipsis "
                               "but rank %d", k, t->n, nd);
        }
        if (t->ell >= 0 && nd - t->n > nell)
            nell = nd - t->n;
    }
    b->nell = nell;
    b->nlabels = EIN_ELL_BASE + nell;

    /* Extents, broadcasting, diagonals. */
    int src_op[EIN_MAX_LABELS], src_dim[EIN_MAX_LABELS];
    for (int k = 0; k < nops; k++) {
        const ein_term *t = &e->in[k];
        const ein_tensor *v = ops[k];
        int64_t vs[EIN_MAX_DIMS];
        /* An operand of another dtype is converted into a C-contiguous
         * temporary before the plan runs, so bind its C strides. */
        if (v->dtype == dt) {
            view_strides(v, vs);
        } else {
            ein_tensor c = *v;
            c.strides = NULL;
            view_strides(&c, vs);
        }
        int ecount = t->ell >= 0 ? v->ndim - t->n : 0;
        int64_t mine[EIN_MAX_LABELS];    /* extent within this operand */
        int mydim[EIN_MAX_LABELS];
        for (int l = 0; l < b->nlabels; l++)
            mine[l] = -1;
        for (int d = 0; d < v->ndim; d++) {
            int id, col;
            if (t->ell >= 0 && d >= t->ell && d < t->ell + ecount) {
                id = EIN_ELL_BASE + (nell - ecount) + (d - t->ell);
                col = t->ell_col;
            } else {
                int i = (t->ell >= 0 && d >= t->ell + ecount) ? d - ecount : d;
                id = t->label[i];
                col = t->col[i];
            }
            int64_t x = v->shape[d];
            if (mine[id] >= 0 && mine[id] != x) {
                ein_bound_free(b);
                return ein_fail_at(EIN_ERR_SHAPE, text, col,
                                   "operand %d repeats label '%s' with extents %lld "
                                   "(dimension %d) and %lld (dimension %d); a "
                                   "diagonal needs equal extents", k,
                                   ein_label_name(id, nb), (long long)mine[id],
                                   mydim[id], (long long)x, d);
            }
            mine[id] = x;
            mydim[id] = d;
            EIN_USES(b, k, id) = true;
            if (x != 1)
                EIN_STRIDE(b, k, id) += vs[d];
            if (b->extent[id] < 0 || b->extent[id] == 1) {
                if (b->extent[id] < 0 || x != 1) {
                    b->extent[id] = x;
                    src_op[id] = k;
                    src_dim[id] = d;
                }
            } else if (x != 1 && x != b->extent[id]) {
                ein_bound_free(b);
                return ein_fail_at(EIN_ERR_SHAPE, text, col,
                                   "label '%s' has extent %lld in operand %d "
                                   "(dimension %d) but %lld in operand %d "
                                   "(dimension %d)", ein_label_name(id, nb),
                                   (long long)b->extent[id], src_op[id],
                                   src_dim[id], (long long)x, k, d);
            }
        }
    }
    /* Ellipsis dimensions no operand supplied (cannot happen: nell is a
     * maximum) and letters never written stay at -1. */

    /* The output's dimensions. */
    const ein_term *ot = &e->out;
    if (nell > 0 && ot->ell < 0) {
        int col = ot->col0;
        ein_bound_free(b);
        return ein_fail_at(EIN_ERR_RANK, text, col,
                           "the inputs' ellipsis covers %d dimension%s but the "
                           "output has no '...' to receive them", nell,
                           nell == 1 ? "" : "s");
    }
    /* The rank is checked before out_label[] (EIN_MAX_DIMS entries) is
     * written: the ellipsis and the letters may add up past it. */
    int od = ot->n + (ot->ell >= 0 ? nell : 0);
    if (od > EIN_MAX_DIMS) {
        ein_bound_free(b);
        return ein_fail(EIN_ERR_RANK, "%s: the result would have %d dimensions "
                        "(limit %d)", text, od, EIN_MAX_DIMS);
    }
    od = 0;
    for (int i = 0; i <= ot->n; i++) {
        if (i == ot->ell)
            for (int j = 0; j < nell; j++)
                b->out_label[od++] = (uint8_t)(EIN_ELL_BASE + j);
        if (i < ot->n)
            b->out_label[od++] = ot->label[i];
    }
    b->out_ndim = od;
    for (int d = 0; d < od; d++) {
        b->out_shape[d] = b->extent[b->out_label[d]];
        EIN_USES(b, nops, b->out_label[d]) = true;
    }

    /* The result must be countable (each pairwise step's own loop space is
     * checked when it is lowered; the product over every label is not a
     * limit, since no plan walks it). */
    int64_t osize = 1;
    for (int d = 0; d < od; d++)
        if (!ein_mul_ok(osize, b->out_shape[d], &osize) ||
            !ein_mul_ok(osize, 8, &(int64_t){0})) {
            ein_bound_free(b);
            return ein_fail(EIN_ERR_OVERFLOW, "%s: the result's element count "
                            "overflows int64 (its shape has %d dimensions)", text, od);
        }
    /* Its C strides too, where a zero extent counts as 1. */
    if (!c_strides_fit(od, b->out_shape)) {
        ein_bound_free(b);
        return ein_fail(EIN_ERR_OVERFLOW, "%s: the result's shape %s overflows int64 "
                        "in its C strides (a zero extent counts as 1)", text,
                        fmt_shape(b->out_shape, od, s1, sizeof s1));
    }

    if (out) {
        char s2[256];
        bool same = out->ndim == od;
        for (int d = 0; same && d < od; d++)
            same = out->shape[d] == b->out_shape[d];
        if (!same) {
            ein_bound_free(b);
            return ein_fail(EIN_ERR_SHAPE, "%s: the output has shape %s but the "
                            "result has shape %s", text,
                            fmt_shape(out->shape, out->ndim, s1, sizeof s1),
                            fmt_shape(b->out_shape, od, s2, sizeof s2));
        }
        int64_t os[EIN_MAX_DIMS];
        view_strides(out, os);
        ein_status st = check_no_self_overlap(out->shape, os, od);
        if (st != EIN_OK) {
            ein_bound_free(b);
            return st;
        }
        for (int d = 0; d < od; d++)
            EIN_STRIDE(b, nops, b->out_label[d]) = out->shape[d] == 1 ? 0 : os[d];
    } else {
        int64_t acc = 1;
        for (int d = od - 1; d >= 0; d--) {
            EIN_STRIDE(b, nops, b->out_label[d]) = b->out_shape[d] == 1 ? 0 : acc;
            acc *= b->out_shape[d] > 0 ? b->out_shape[d] : 1;
        }
    }
    return EIN_OK;
}

void ein_bound_free(ein_bound *b)
{
    if (!b)
        return;
    ein_free(b->stride);
    ein_free(b->uses);
    b->stride = NULL;
    b->uses = NULL;
}
