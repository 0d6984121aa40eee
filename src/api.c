/* api.c — the public entry points: compile (parse, bind, rewrite, path,
 * lower) into an immutable plan, check tensors against it, execute.  The
 * one-shot einsum_v() lives in cache.c, in front of its plan cache. */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

/* Are these strides C order (ignoring extent-1 dimensions)? */
static bool is_c_order(int nd, const int64_t *shape, const int64_t *stride)
{
    int64_t cs[EIN_MAX_DIMS];
    ein_c_strides(nd, shape, cs);
    for (int d = 0; d < nd; d++)
        if (cs[d] != stride[d] && shape[d] > 1)
            return false;
    return true;
}

static int default_threads(const ein_options *opt)
{
    if (opt && opt->num_threads > 0)
        return opt->num_threads;
    /* A whole number 1..1024, nothing else ("4x", "0", "two" are
     * ignored, as if unset: a library does not fail or print for its
     * environment). */
    const char *env = getenv("EIN_NUM_THREADS");
    if (env && *env) {
        char *end;
        long v = strtol(env, &end, 10);
        if (*end == '\0' && v >= 1 && v <= 1024)
            return (int)v;
    }
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n >= 1 ? (int)(n < 1024 ? n : 1024) : 1;
}

ein_plan *ein_plan_build(const char *subscripts, int nops,
                         const ein_tensor *const *ops, const ein_tensor *out,
                         const ein_options *opt, const ein_ktable *kt,
                         bool force_generic, ein_status *stp)
{
    ein_status st_local, *st = stp ? stp : &st_local;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    ein_clear_error();
    if (opt && opt->num_threads < 0) {
        *st = ein_fail(EIN_ERR_ARG, "ein_options.num_threads is %d (must be >= 0)",
                       opt->num_threads);
        return NULL;
    }
    if (nops < 0 || nops > EIN_MAX_OPERANDS) {
        *st = ein_fail(EIN_ERR_OPERANDS, "%d operands given (must be 1..%d)",
                       nops, EIN_MAX_OPERANDS);
        return NULL;
    }
    ein_expr e;
    ein_bound b;
    if ((*st = ein_parse(subscripts, &e)) != EIN_OK)
        return NULL;
    if ((*st = ein_bind(&e, nops, ops, out, &b)) != EIN_OK) {
        ein_expr_free(&e);
        return NULL;
    }

    ein_plan *p = ein_calloc(1, sizeof *p);
    if (p) {
        atomic_init(&p->ws_kept, NULL);
        p->keep_ws = true;
        p->op_dtype = ein_calloc((size_t)nops + 1, sizeof *p->op_dtype);
        p->op_ndim = ein_calloc((size_t)nops + 1, sizeof *p->op_ndim);
        p->op_shape = ein_calloc(((size_t)nops + 1) * EIN_MAX_DIMS, sizeof *p->op_shape);
        p->op_stride = ein_calloc(((size_t)nops + 1) * EIN_MAX_DIMS, sizeof *p->op_stride);
        p->op_span = ein_calloc(((size_t)nops + 1) * 2, sizeof *p->op_span);
        p->op_c_order = ein_calloc((size_t)nops + 1, sizeof *p->op_c_order);
    }
    if (!p || !p->op_dtype || !p->op_ndim || !p->op_shape || !p->op_stride || !p->op_span ||
        !p->op_c_order) {
        *st = ein_fail(EIN_ERR_NOMEM, "out of memory building a plan");
        goto fail;
    }
    p->text = e.text;          /* the plan keeps the parser's copy */
    e.text = NULL;
    p->nops = nops;
    p->dtype = b.dtype;
    for (int k = 0; k < nops; k++) {
        const ein_tensor *v = ops[k];
        p->op_dtype[k] = v->dtype;
        p->op_ndim[k] = v->ndim;
        if (v->ndim > 0)
            memcpy(&p->op_shape[k * EIN_MAX_DIMS], v->shape, (size_t)v->ndim * sizeof(int64_t));
        if (v->strides && v->ndim > 0)
            memcpy(&p->op_stride[k * EIN_MAX_DIMS], v->strides, (size_t)v->ndim * sizeof(int64_t));
        else
            ein_c_strides(v->ndim, v->shape, &p->op_stride[k * EIN_MAX_DIMS]);
        ein_view_span(v->ndim, v->shape, &p->op_stride[k * EIN_MAX_DIMS],
                      ein_dtype_size(v->dtype), &p->op_span[2 * k]);
        p->op_c_order[k] = is_c_order(v->ndim, v->shape, &p->op_stride[k * EIN_MAX_DIMS]);
    }
    p->out_dtype = b.dtype;
    p->out_ndim = b.out_ndim;
    memcpy(p->out_shape, b.out_shape, sizeof p->out_shape);
    if (out && out->strides && out->ndim > 0)
        memcpy(p->out_stride, out->strides, (size_t)out->ndim * sizeof(int64_t));
    else
        ein_c_strides(p->out_ndim, p->out_shape, p->out_stride);
    ein_view_span(p->out_ndim, p->out_shape, p->out_stride,
                  ein_dtype_size(p->out_dtype), p->out_span);
    p->out_c_order = is_c_order(p->out_ndim, p->out_shape, p->out_stride);
    p->out_size = 1;
    for (int d = 0; d < p->out_ndim; d++)
        p->out_size *= p->out_shape[d];

    bool sums = false;   /* a label in an operand but not in the output */
    for (int l = 0; l < b.nlabels; l++)
        sums |= b.extent[l] >= 0 && !EIN_USES(&b, b.nops, l);
    ein_squeeze(&b, p->squeezed, sizeof p->squeezed);
    ein_unbroadcast(&b, p->unbroadcast, sizeof p->unbroadcast);
    p->kt = kt ? kt : ein_ktable_default();
    p->nthreads = default_threads(opt);
    if ((*st = ein_lower(&b, p, opt, force_generic)) != EIN_OK)
        goto fail;
    for (int i = 0; i < p->nsteps; i++) {
        p->flops += p->steps[i].flops;
        p->bytes += p->steps[i].bytes;
    }
    p->direct = ein_direct_pick(p);
    if ((sums || p->nops > 1) && p->nsteps > 0) {
        const ein_step *last = &p->steps[p->nsteps - 1];
        p->plus_zero = last->kind == EIN_K_GENERIC && last->nin == 1 &&
                       last->nloops == last->nfree;
    }
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    p->plan_us = (double)(t1.tv_sec - t0.tv_sec) * 1e6 +
                 (double)(t1.tv_nsec - t0.tv_nsec) / 1e3;
    ein_bound_free(&b);
    ein_expr_free(&e);
    return p;

fail:
    ein_bound_free(&b);
    ein_expr_free(&e);
    ein_plan_free(p);
    return NULL;
}

ein_plan *ein_plan_new(const char *subscripts, int nops,
                       const ein_tensor *const *ops, const ein_tensor *out,
                       const ein_options *opt, ein_status *st)
{
    return ein_plan_build(subscripts, nops, ops, out, opt, NULL, false, st);
}

void ein_plan_free(ein_plan *p)
{
    if (!p)
        return;
    ein_free(atomic_load(&p->ws_kept));
    ein_free(p->text);
    ein_free(p->op_dtype);
    ein_free(p->op_ndim);
    ein_free(p->op_shape);
    ein_free(p->op_stride);
    ein_free(p->op_span);
    ein_free(p->op_c_order);
    ein_free(p->slots);
    ein_free(p->steps);
    ein_free(p);
}

int32_t ein_plan_result(const ein_plan *p, ein_dtype *dtype, int64_t *shape)
{
    if (!p)
        return -1;
    if (dtype)
        *dtype = p->out_dtype;
    if (shape)
        memcpy(shape, p->out_shape, (size_t)p->out_ndim * sizeof *shape);
    return p->out_ndim;
}

static const char *tensor_name(int which, char *buf, size_t cap)
{
    if (which < 0)
        snprintf(buf, cap, "the output");
    else
        snprintf(buf, cap, "operand %d", which);
    return buf;
}

/* Does view v match what the plan was built for?  `which` is the operand
 * index, or -1 for the output; it is formatted only on failure, since
 * this runs on every execute.  c_order: the plan's strides are C order, so
 * a view without strides matches without recomputing them. */
static ein_status check_against(const ein_plan *p, const ein_tensor *v,
                                ein_dtype dt, int nd, const int64_t *shape,
                                const int64_t *stride, bool c_order, int which)
{
    char what[32];
#define WHAT tensor_name(which, what, sizeof what)
    if (!v)
        return ein_fail(EIN_ERR_ARG, "%s: %s is NULL", p->text, WHAT);
    if (v->dtype != dt)
        return ein_fail(EIN_ERR_PLAN, "%s: %s is %s but the plan was built for %s",
                        p->text, WHAT, ein_dtype_name(v->dtype), ein_dtype_name(dt));
    if (v->ndim != nd || (nd > 0 && !v->shape))
        return ein_fail(EIN_ERR_PLAN, "%s: %s has rank %d but the plan was built "
                        "for rank %d", p->text, WHAT, (int)v->ndim, nd);
    for (int d = 0; d < nd; d++)
        if (v->shape[d] != shape[d])
            return ein_fail(EIN_ERR_PLAN, "%s: %s has extent %lld in dimension %d "
                            "but the plan was built for %lld", p->text, WHAT,
                            (long long)v->shape[d], d, (long long)shape[d]);
    if (v->strides) {
        for (int d = 0; d < nd; d++)
            if (v->strides[d] != stride[d] && shape[d] > 1)
                return ein_fail(EIN_ERR_PLAN, "%s: %s has stride %lld in dimension "
                                "%d but the plan was built for %lld", p->text, WHAT,
                                (long long)v->strides[d], d, (long long)stride[d]);
    } else if (!c_order) {
        int64_t cs[EIN_MAX_DIMS];
        ein_c_strides(nd, shape, cs);
        for (int d = 0; d < nd; d++)
            if (cs[d] != stride[d] && shape[d] > 1)
                return ein_fail(EIN_ERR_PLAN, "%s: %s is C-contiguous but the plan "
                                "was built for stride %lld in dimension %d", p->text,
                                WHAT,
                                (long long)stride[d], d);
    }
    if (!v->data) {   /* only a view with no elements may have no data */
        int64_t size = 1;
        for (int d = 0; d < nd; d++)
            size *= shape[d];
        if (size > 0)
            return ein_fail(EIN_ERR_ARG, "%s: %s has %lld elements but its data is NULL",
                            p->text, WHAT, (long long)size);
    }
#undef WHAT
    return EIN_OK;
}

/* check_against's test for the common case, inline: a view with data
 * that has the plan's dtype, shape and strides (or none, for a C-order
 * plan).  Anything else goes to check_against, which accepts what is
 * valid all the same and explains what is not. */
static inline bool view_fits(const ein_tensor *v, ein_dtype dt, int nd,
                             const int64_t *shape, const int64_t *stride, bool c_order)
{
    if (!v || v->dtype != dt || v->ndim != nd || !v->data || (nd > 0 && !v->shape))
        return false;
    for (int d = 0; d < nd; d++)
        if (v->shape[d] != shape[d])
            return false;
    if (!v->strides)
        return c_order;
    for (int d = 0; d < nd; d++)
        if (v->strides[d] != stride[d] && shape[d] > 1)
            return false;
    return true;
}

ein_status ein_execute(const ein_plan *p, const ein_tensor *const *ops, ein_tensor *out)
{
    ein_clear_error();
    if (!p)
        return ein_fail(EIN_ERR_ARG, "the plan is NULL");
    if (p->nops > 0 && !ops)
        return ein_fail(EIN_ERR_ARG, "%s: the operand array is NULL", p->text);
    for (int k = 0; k < p->nops; k++) {
        const int64_t *shape = &p->op_shape[k * EIN_MAX_DIMS];
        const int64_t *stride = &p->op_stride[k * EIN_MAX_DIMS];
        if (view_fits(ops[k], p->op_dtype[k], p->op_ndim[k], shape, stride,
                      p->op_c_order[k]))
            continue;
        ein_status st = check_against(p, ops[k], p->op_dtype[k], p->op_ndim[k], shape,
                                      stride, p->op_c_order[k], k);
        if (st != EIN_OK)
            return st;
    }
    if (!view_fits(out, p->out_dtype, p->out_ndim, p->out_shape, p->out_stride,
                   p->out_c_order)) {
        ein_status st = check_against(p, out, p->out_dtype, p->out_ndim, p->out_shape,
                                      p->out_stride, p->out_c_order, -1);
        if (st != EIN_OK)
            return st;
    }
    if (p->direct && !ein_out_overlaps(p, ops, out)) {
        const ein_step *s = &p->steps[0];
        p->direct(p, ops[s->in[0]]->data, ops[s->in[1]]->data, out->data);
        return EIN_OK;
    }
    return ein_run(p, ops, out);
}
