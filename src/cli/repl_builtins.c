/* repl_builtins.c — the REPL's functions, one table (names, arity,
 * keywords, one line of help) shared by evaluation, :help and tab
 * completion.  Contractions lower to einsum expressions built at run time
 * and run through the public API (plan, ein_plan_result, execute into a
 * fresh C-order tensor); everything else is views or small loops. */
#define _POSIX_C_SOURCE 200809L

#include "repl_eval.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "npy.h"
#include "repl.h"

/* ------------------------------------------------------------------ */
/* argument helpers                                                    */

static int off_of(const rargs *a) { return a->call ? a->call->off : -1; }

static const char *kind_name(const rval *v)
{
    switch (v->kind) {
    case RV_NONE:   return "None";
    case RV_NUM:    return "a number";
    case RV_BOOL:   return "a boolean";
    case RV_STR:    return "a string";
    case RV_TUPLE:  return "a tuple";
    case RV_TENSOR: return "a tensor";
    }
    return "a value";
}

static const char *fname(const rargs *a)
{
    static char buf[32];
    snprintf(buf, sizeof buf, "%.*s", a->call ? (int)(a->call->len < 31 ? a->call->len : 31) : 0,
             a->call ? a->call->text : "");
    return buf;
}

/* Each want_* sets its output first: the compiler cannot see that
 * repl_error() always returns -1. */
static int want_tensor(repl_ctx *c, const rargs *a, int i, const rtensor **t)
{
    *t = NULL;
    if (a->pos[i].kind != RV_TENSOR)
        return repl_error(c, off_of(a), "%s: argument %d must be a tensor, not %s", fname(a),
                          i + 1, kind_name(&a->pos[i]));
    *t = a->pos[i].t;
    return 0;
}

static int want_int(repl_ctx *c, const rargs *a, const rval *v, const char *what, int64_t *x)
{
    *x = 0;
    if (v->kind != RV_NUM || !v->is_int)
        return repl_error(c, off_of(a), "%s: %s must be an integer, not %s", fname(a), what,
                          kind_name(v));
    *x = (int64_t)v->num;
    return 0;
}

static int want_num(repl_ctx *c, const rargs *a, const rval *v, const char *what, double *x)
{
    *x = 0;
    if (v->kind != RV_NUM && v->kind != RV_BOOL)
        return repl_error(c, off_of(a), "%s: %s must be a number, not %s", fname(a), what,
                          kind_name(v));
    *x = v->num;
    return 0;
}

static int want_str(repl_ctx *c, const rargs *a, int i, const char **s)
{
    *s = NULL;
    if (a->pos[i].kind != RV_STR)
        return repl_error(c, off_of(a), "%s: argument %d must be a string, not %s", fname(a),
                          i + 1, kind_name(&a->pos[i]));
    *s = a->pos[i].str;
    return 0;
}

/* dtype= : numpy's and torch's spellings; float64 unless told. */
static int get_dtype(repl_ctx *c, const rargs *a, ein_dtype *dt)
{
    *dt = EIN_F64;
    const rval *v = repl_kwarg(a, "dtype");
    if (!v || v->kind == RV_NONE)
        return 0;
    if (v->kind == RV_STR) {
        const char *s = v->str;
        if (!strcmp(s, "float32") || !strcmp(s, "f32") || !strcmp(s, "single")) {
            *dt = EIN_F32;
            return 0;
        }
        if (!strcmp(s, "float64") || !strcmp(s, "f64") || !strcmp(s, "double")) {
            *dt = EIN_F64;
            return 0;
        }
    }
    return repl_error(c, off_of(a), "%s: dtype must be float32 or float64", fname(a));
}

/* A shape from ints starting at pos[from], or one tuple there:
 * zeros(3, 4) and zeros((3, 4)) alike.  -1 is allowed when `infer`. */
static int get_shape(repl_ctx *c, const rargs *a, int from, int64_t *shape, int32_t *nd,
                     int infer)
{
    const rval *items = a->pos + from;
    int n = a->npos - from;
    if (n == 1 && a->pos[from].kind == RV_TUPLE) {
        items = a->pos[from].items;
        n = a->pos[from].n;
    }
    if (n > EIN_MAX_DIMS)
        return repl_error(c, off_of(a), "%s: at most %d dimensions", fname(a), EIN_MAX_DIMS);
    for (int i = 0; i < n; i++) {
        if (want_int(c, a, &items[i], "a dimension", &shape[i]) < 0)
            return -1;
        if (shape[i] < 0 && !(infer && shape[i] == -1))
            return repl_error(c, off_of(a), "%s: negative dimension %lld", fname(a),
                              (long long)shape[i]);
    }
    *nd = n;
    return 0;
}

static int new_tensor(repl_ctx *c, const rargs *a, ein_dtype dt, int32_t nd,
                      const int64_t *shape, rtensor **t)
{
    *t = rt_new(dt, nd, shape);
    if (!*t)
        return repl_error(c, off_of(a), "%s: out of memory (or the shape is too large)",
                          fname(a));
    return 0;
}

static void set_elem(rtensor *t, int64_t i, double x)
{
    if (t->dtype == EIN_F32)
        ((float *)t->buf->data)[i] = (float)x;
    else
        ((double *)t->buf->data)[i] = x;
}

/* A dimension argument, negative counting from the end (n: the rank). */
static int want_dim(repl_ctx *c, const rargs *a, const rval *v, int n, int *d)
{
    int64_t x;
    *d = 0;
    if (want_int(c, a, v, "a dimension", &x) < 0)
        return -1;
    if (x < -n || x >= n)
        return repl_error(c, off_of(a), "%s: dimension %lld is out of range for %d dimension%s",
                          fname(a), (long long)x, n, n == 1 ? "" : "s");
    *d = (int)(x < 0 ? x + n : x);
    return 0;
}

/* ------------------------------------------------------------------ */
/* contractions                                                        */

ein_plan *repl_contract_plan(repl_ctx *c, const rcontract *k)
{
    ein_tensor ts[EIN_MAX_OPERANDS];
    const ein_tensor *ops[EIN_MAX_OPERANDS];
    for (int i = 0; i < k->nops; i++) {
        ts[i] = rt_ein(k->ops[i]);
        ops[i] = &ts[i];
    }
    ein_status st = EIN_OK;
    ein_plan *p = ein_plan_new(k->subs, k->nops, ops, NULL, &c->opts, &st);
    if (!p)
        repl_lib_error(c, st != EIN_OK ? st : EIN_ERR_ARG);
    return p;
}

int repl_contract_exec(repl_ctx *c, const ein_plan *p, const rcontract *k, rval *out)
{
    ein_tensor ts[EIN_MAX_OPERANDS];
    const ein_tensor *ops[EIN_MAX_OPERANDS];
    for (int i = 0; i < k->nops; i++) {
        ts[i] = rt_ein(k->ops[i]);
        ops[i] = &ts[i];
    }
    int64_t shape[EIN_MAX_DIMS];
    ein_dtype dt = EIN_F64;
    int32_t nd = ein_plan_result(p, &dt, shape);
    if (nd < 0 || nd > EIN_MAX_DIMS || (dt != EIN_F32 && dt != EIN_F64))
        return repl_error(c, -1, "the plan describes an unusable result");
    rtensor *r = rt_new(dt, nd, shape);
    if (!r)
        return repl_error(c, -1, "out of memory: the result is too large");
    ein_tensor o = rt_ein(r);
    ein_status st = ein_execute(p, ops, &o);
    if (st != EIN_OK) {
        rt_free(r);
        return repl_lib_error(c, st);
    }
    rval res;
    rv_tensor(&res, r);
    if (!k->bias) {
        *out = res;
        return 0;
    }
    int e = repl_arith(c, -1, '+', &res, k->bias, out);
    rv_free(&res);
    return e;
}

static int run_lowered(repl_ctx *c, const rargs *a, rval *out, rlower_fn lower)
{
    rcontract k;
    if (lower(c, a, &k) < 0)
        return -1;
    ein_plan *p = repl_contract_plan(c, &k);
    if (!p)
        return -1;
    int r = repl_contract_exec(c, p, &k, out);
    ein_plan_free(p);
    return r;
}

static int lower_einsum(repl_ctx *c, const rargs *a, rcontract *k)
{
    const char *s;
    if (want_str(c, a, 0, &s) < 0)
        return -1;
    if (strlen(s) >= sizeof k->subs)
        return repl_error(c, off_of(a), "einsum: the subscripts are too long");
    snprintf(k->subs, sizeof k->subs, "%s", s);
    k->nops = a->npos - 1;
    k->bias = NULL;
    if (k->nops > EIN_MAX_OPERANDS)
        return repl_error(c, off_of(a), "einsum: at most %d operands", EIN_MAX_OPERANDS);
    for (int i = 1; i < a->npos; i++)
        if (want_tensor(c, a, i, &k->ops[i - 1]) < 0)
            return -1;
    return 0;
}

/* torch.matmul: 1-D operands are vectors (a leading or trailing
 * dimension that leaves the result), 2-D are matrices, and higher ranks
 * are stacks of matrices whose batch dimensions broadcast; '...' lets the
 * library do that broadcasting. */
static int lower_matmul(repl_ctx *c, const rargs *a, rcontract *k)
{
    const rtensor *x, *y;
    if (want_tensor(c, a, 0, &x) < 0 || want_tensor(c, a, 1, &y) < 0)
        return -1;
    if (x->ndim == 0 || y->ndim == 0)
        return repl_error(c, off_of(a), "matmul: both operands need at least one dimension "
                          "(got %d and %d); use * to scale", x->ndim, y->ndim);
    int batch = x->ndim > 2 || y->ndim > 2;
    const char *sx = x->ndim == 1 ? "j" : batch ? "...ij" : "ij";
    const char *sy = y->ndim == 1 ? "j" : batch ? "...jk" : "jk";
    char so[16];
    snprintf(so, sizeof so, "%s%s%s", batch ? "..." : "", x->ndim == 1 ? "" : "i",
             y->ndim == 1 ? "" : "k");
    snprintf(k->subs, sizeof k->subs, "%s,%s->%s", sx, sy, so);
    k->nops = 2;
    k->ops[0] = x;
    k->ops[1] = y;
    k->bias = NULL;
    return 0;
}

/* torch.nn.functional.linear: x W^T + b with W [out, in] (or [in]). */
static int lower_linear(repl_ctx *c, const rargs *a, rcontract *k)
{
    const rtensor *x, *w;
    if (want_tensor(c, a, 0, &x) < 0 || want_tensor(c, a, 1, &w) < 0)
        return -1;
    if (x->ndim == 0 || w->ndim == 0 || w->ndim > 2)
        return repl_error(c, off_of(a), "linear: the input needs at least one dimension and "
                          "the weight one or two ([out, in]); got %d and %d", x->ndim, w->ndim);
    const char *sx = x->ndim == 1 ? "i" : x->ndim == 2 ? "ni" : "...i";
    const char *pre = x->ndim == 1 ? "" : x->ndim == 2 ? "n" : "...";
    snprintf(k->subs, sizeof k->subs, "%s,%s->%s%s", sx, w->ndim == 2 ? "oi" : "i", pre,
             w->ndim == 2 ? "o" : "");
    k->nops = 2;
    k->ops[0] = x;
    k->ops[1] = w;
    const rval *b = a->npos > 2 ? &a->pos[2] : repl_kwarg(a, "bias");
    k->bias = b && b->kind != RV_NONE ? b : NULL;
    if (k->bias && k->bias->kind != RV_TENSOR && k->bias->kind != RV_NUM)
        return repl_error(c, off_of(a), "linear: bias must be a tensor or a number, not %s",
                          kind_name(k->bias));
    return 0;
}

static const char labels[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

/* sum(x) over everything, or over axis=d / axis=(d0, d1); keepdims is
 * applied afterwards by the caller (a view). */
static int sum_axes(repl_ctx *c, const rargs *a, const rtensor *x, int *drop)
{
    const rval *ax = repl_kwarg(a, "axis");
    if (!ax)
        ax = repl_kwarg(a, "dim");
    if (!ax && a->npos > 1)
        ax = &a->pos[1];
    for (int i = 0; i < x->ndim; i++)
        drop[i] = !ax || ax->kind == RV_NONE;
    if (!ax || ax->kind == RV_NONE)
        return 0;
    const rval *items = ax->kind == RV_TUPLE ? ax->items : ax;
    int n = ax->kind == RV_TUPLE ? ax->n : 1;
    for (int i = 0; i < n; i++) {
        int d;
        if (want_dim(c, a, &items[i], x->ndim, &d) < 0)
            return -1;
        if (drop[d])
            return repl_error(c, off_of(a), "sum: axis %d given twice", d);
        drop[d] = 1;
    }
    return 0;
}

static int lower_sum(repl_ctx *c, const rargs *a, rcontract *k)
{
    const rtensor *x;
    if (want_tensor(c, a, 0, &x) < 0)
        return -1;
    if (x->ndim > (int)sizeof labels - 1)
        return repl_error(c, off_of(a), "sum: at most %d dimensions", (int)sizeof labels - 1);
    int drop[EIN_MAX_DIMS];
    if (sum_axes(c, a, x, drop) < 0)
        return -1;
    char in[64], res[64];
    int ni = 0, no = 0;
    for (int i = 0; i < x->ndim; i++) {
        in[ni++] = labels[i];
        if (!drop[i])
            res[no++] = labels[i];
    }
    in[ni] = res[no] = '\0';
    snprintf(k->subs, sizeof k->subs, "%s->%s", in, res);
    k->nops = 1;
    k->ops[0] = x;
    k->bias = NULL;
    return 0;
}

static int bi_einsum(repl_ctx *c, const rargs *a, rval *out)
{
    return run_lowered(c, a, out, lower_einsum);
}

static int bi_matmul(repl_ctx *c, const rargs *a, rval *out)
{
    return run_lowered(c, a, out, lower_matmul);
}

static int bi_linear(repl_ctx *c, const rargs *a, rval *out)
{
    return run_lowered(c, a, out, lower_linear);
}

static int bi_sum(repl_ctx *c, const rargs *a, rval *out)
{
    if (run_lowered(c, a, out, lower_sum) < 0)
        return -1;
    const rval *kd = repl_kwarg(a, "keepdims");
    if (!kd || kd->num == 0)
        return 0;
    /* keepdims: the summed axes come back with extent 1 (a view) */
    int drop[EIN_MAX_DIMS];
    sum_axes(c, a, a->pos[0].t, drop);
    rtensor *t = out->t;
    int nd = a->pos[0].t->ndim, j = t->ndim;
    for (int i = nd - 1; i >= 0; i--) {
        if (drop[i]) {
            t->shape[i] = 1;
            t->strides[i] = 0;
        } else {
            j--;
            t->shape[i] = t->shape[j];
            t->strides[i] = t->strides[j];
        }
    }
    t->ndim = nd;
    return 0;
}

/* ------------------------------------------------------------------ */
/* constructors                                                        */

static int fill_const(repl_ctx *c, const rargs *a, rval *out, double x, int from)
{
    int64_t shape[EIN_MAX_DIMS];
    int32_t nd;
    ein_dtype dt;
    rtensor *t;
    if (get_shape(c, a, from, shape, &nd, 0) < 0 || get_dtype(c, a, &dt) < 0 ||
        new_tensor(c, a, dt, nd, shape, &t) < 0)
        return -1;
    int64_t n = rt_count(t);
    if (x != 0)
        for (int64_t i = 0; i < n; i++)
            set_elem(t, i, x);
    return rv_tensor(out, t);
}

static int bi_zeros(repl_ctx *c, const rargs *a, rval *out) { return fill_const(c, a, out, 0, 0); }
static int bi_ones(repl_ctx *c, const rargs *a, rval *out) { return fill_const(c, a, out, 1, 0); }

static int bi_full(repl_ctx *c, const rargs *a, rval *out)
{
    double x;
    if (want_num(c, a, &a->pos[a->npos - 1], "the fill value", &x) < 0)
        return -1;
    rargs b = *a;
    b.npos--;   /* the shape is everything before the value */
    return fill_const(c, &b, out, x, 0);
}

static int bi_eye(repl_ctx *c, const rargs *a, rval *out)
{
    int64_t n, m;
    if (want_int(c, a, &a->pos[0], "n", &n) < 0)
        return -1;
    m = n;
    const rval *mv = a->npos > 1 ? &a->pos[1] : repl_kwarg(a, "m");
    if (mv && mv->kind != RV_NONE && want_int(c, a, mv, "m", &m) < 0)
        return -1;
    if (n < 0 || m < 0)
        return repl_error(c, off_of(a), "eye: negative dimension");
    ein_dtype dt;
    rtensor *t;
    if (get_dtype(c, a, &dt) < 0 || new_tensor(c, a, dt, 2, (const int64_t[]){ n, m }, &t) < 0)
        return -1;
    for (int64_t i = 0; i < n && i < m; i++)
        set_elem(t, i * m + i, 1);
    return rv_tensor(out, t);
}

static int bi_arange(repl_ctx *c, const rargs *a, rval *out)
{
    double p[3] = { 0, 0, 1 };
    if (a->npos == 1) {
        if (want_num(c, a, &a->pos[0], "stop", &p[1]) < 0)
            return -1;
    } else {
        for (int i = 0; i < a->npos; i++)
            if (want_num(c, a, &a->pos[i], i == 0 ? "start" : i == 1 ? "stop" : "step",
                         &p[i]) < 0)
                return -1;
    }
    if (p[2] == 0)
        return repl_error(c, off_of(a), "arange: step cannot be zero");
    /* numpy: ceil((stop - start) / step) elements, start + i*step each */
    double len = ceil((p[1] - p[0]) / p[2]);
    if (!(len >= 0))
        len = 0;
    if (len > 1e15)
        return repl_error(c, off_of(a), "arange: too many elements");
    ein_dtype dt;
    rtensor *t;
    int64_t n = (int64_t)len;
    if (get_dtype(c, a, &dt) < 0 || new_tensor(c, a, dt, 1, &n, &t) < 0)
        return -1;
    for (int64_t i = 0; i < n; i++)
        set_elem(t, i, p[0] + (double)i * p[2]);
    return rv_tensor(out, t);
}

static int bi_linspace(repl_ctx *c, const rargs *a, rval *out)
{
    double lo, hi;
    int64_t n = 50;
    if (want_num(c, a, &a->pos[0], "start", &lo) < 0 ||
        want_num(c, a, &a->pos[1], "stop", &hi) < 0)
        return -1;
    const rval *nv = a->npos > 2 ? &a->pos[2] : repl_kwarg(a, "num");
    if (!nv)
        nv = repl_kwarg(a, "steps");   /* torch's name */
    if (nv && want_int(c, a, nv, "num", &n) < 0)
        return -1;
    if (n < 0)
        return repl_error(c, off_of(a), "linspace: num must not be negative");
    ein_dtype dt;
    rtensor *t;
    if (get_dtype(c, a, &dt) < 0 || new_tensor(c, a, dt, 1, &n, &t) < 0)
        return -1;
    /* numpy's formula: start + i*step, the last element exactly stop */
    double step = n > 1 ? (hi - lo) / (double)(n - 1) : 0;
    for (int64_t i = 0; i < n; i++)
        set_elem(t, i, i == n - 1 && n > 1 ? hi : lo + (double)i * step);
    return rv_tensor(out, t);
}

/* splitmix64: tiny, and the same stream on every machine, so scripts that
 * print random tensors print the same text everywhere. */
static uint64_t next_u64(repl_ctx *c)
{
    uint64_t z = (c->rng += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

static double uniform01(repl_ctx *c) { return (double)(next_u64(c) >> 11) * 0x1.0p-53; }

static double gaussian(repl_ctx *c)
{
    if (c->have_spare) {
        c->have_spare = 0;
        return c->spare;
    }
    /* Box-Muller; 1 - u keeps the logarithm's argument in (0, 1] */
    double u1 = 1.0 - uniform01(c), u2 = uniform01(c);
    double r = sqrt(-2.0 * log(u1)), th = 6.283185307179586 * u2;
    c->spare = r * sin(th);
    c->have_spare = 1;
    return r * cos(th);
}

static int random_fill(repl_ctx *c, const rargs *a, rval *out, int normal)
{
    int64_t shape[EIN_MAX_DIMS];
    int32_t nd;
    ein_dtype dt;
    rtensor *t;
    if (get_shape(c, a, 0, shape, &nd, 0) < 0 || get_dtype(c, a, &dt) < 0 ||
        new_tensor(c, a, dt, nd, shape, &t) < 0)
        return -1;
    int64_t n = rt_count(t);
    for (int64_t i = 0; i < n; i++) {
        if ((i & 0xffff) == 0 && repl_interrupted) {
            rt_free(t);
            return repl_error(c, -1, "interrupted");
        }
        set_elem(t, i, normal ? gaussian(c) : uniform01(c));
    }
    return rv_tensor(out, t);
}

static int bi_rand(repl_ctx *c, const rargs *a, rval *out) { return random_fill(c, a, out, 0); }
static int bi_randn(repl_ctx *c, const rargs *a, rval *out) { return random_fill(c, a, out, 1); }

static int bi_seed(repl_ctx *c, const rargs *a, rval *out)
{
    int64_t s;
    if (want_int(c, a, &a->pos[0], "the seed", &s) < 0)
        return -1;
    c->rng = (uint64_t)s;
    c->have_spare = 0;
    *out = rv_none();
    return 0;
}

static int bi_array(repl_ctx *c, const rargs *a, rval *out)
{
    ein_dtype dt;
    if (get_dtype(c, a, &dt) < 0)
        return -1;
    const rval *v = &a->pos[0];
    rtensor *t;
    if (v->kind == RV_NUM || v->kind == RV_BOOL) {
        if (new_tensor(c, a, dt, 0, NULL, &t) < 0)
            return -1;
        set_elem(t, 0, v->num);
    } else if (v->kind == RV_TENSOR) {
        if (!repl_kwarg(a, "dtype"))
            dt = v->t->dtype;
        t = rt_copy(v->t, dt);
        if (!t)
            return repl_error(c, off_of(a), "array: %s",
                              repl_interrupted ? "interrupted" : "out of memory");
    } else if (v->kind == RV_TUPLE) {
        int64_t n = v->n;
        if (new_tensor(c, a, dt, 1, &n, &t) < 0)
            return -1;
        for (int i = 0; i < v->n; i++) {
            double x;
            if (want_num(c, a, &v->items[i], "every item", &x) < 0) {
                rt_free(t);
                return -1;
            }
            set_elem(t, i, x);
        }
    } else {
        return repl_error(c, off_of(a), "array: cannot make a tensor from %s", kind_name(v));
    }
    return rv_tensor(out, t);
}

/* ------------------------------------------------------------------ */
/* views                                                               */

static int give_view(repl_ctx *c, const rargs *a, rtensor *v, const char *msg, rval *out)
{
    if (!v)
        return repl_error(c, off_of(a), "%s: %s", fname(a), msg);
    return rv_tensor(out, v);
}

static int bi_transpose(repl_ctx *c, const rargs *a, rval *out)
{
    const rtensor *x;
    if (want_tensor(c, a, 0, &x) < 0)
        return -1;
    int perm[EIN_MAX_DIMS];
    for (int i = 0; i < x->ndim; i++)
        perm[i] = x->ndim - 1 - i;   /* numpy: reverse the axes */
    if (a->npos == 3) {              /* torch: swap two */
        int d0, d1;
        if (want_dim(c, a, &a->pos[1], x->ndim, &d0) < 0 ||
            want_dim(c, a, &a->pos[2], x->ndim, &d1) < 0)
            return -1;
        for (int i = 0; i < x->ndim; i++)
            perm[i] = i;
        perm[d0] = d1;
        perm[d1] = d0;
    } else if (a->npos == 2) {
        return repl_error(c, off_of(a), "transpose: give no dimensions (reverse them all) or "
                          "two to swap; permute(x, ...) reorders them all");
    }
    char msg[160];
    return give_view(c, a, rt_permute(x, perm, msg, sizeof msg), msg, out);
}

static int bi_permute(repl_ctx *c, const rargs *a, rval *out)
{
    const rtensor *x;
    if (want_tensor(c, a, 0, &x) < 0)
        return -1;
    const rval *items = a->pos + 1;
    int n = a->npos - 1;
    if (n == 1 && a->pos[1].kind == RV_TUPLE) {
        items = a->pos[1].items;
        n = a->pos[1].n;
    }
    if (n != x->ndim)
        return repl_error(c, off_of(a), "permute: %d dimensions given for a tensor of %d", n,
                          x->ndim);
    int perm[EIN_MAX_DIMS];
    for (int i = 0; i < n; i++)
        if (want_dim(c, a, &items[i], x->ndim, &perm[i]) < 0)
            return -1;
    char msg[160];
    return give_view(c, a, rt_permute(x, perm, msg, sizeof msg), msg, out);
}

static int bi_squeeze(repl_ctx *c, const rargs *a, rval *out)
{
    const rtensor *x;
    if (want_tensor(c, a, 0, &x) < 0)
        return -1;
    int only = -1;
    const rval *dv = a->npos > 1 ? &a->pos[1] : repl_kwarg(a, "dim");
    if (!dv)
        dv = repl_kwarg(a, "axis");
    if (dv && dv->kind != RV_NONE) {
        if (want_dim(c, a, dv, x->ndim, &only) < 0)
            return -1;
        if (x->shape[only] != 1)   /* numpy refuses; torch leaves it: numpy's message is clearer */
            return repl_error(c, off_of(a), "squeeze: dimension %d has extent %lld, not 1",
                              only, (long long)x->shape[only]);
    }
    rtensor *v = rt_view_of(x);
    if (!v)
        return repl_error(c, off_of(a), "out of memory");
    int nd = 0;
    for (int i = 0; i < x->ndim; i++) {
        if (x->shape[i] == 1 && (only < 0 || only == i))
            continue;
        v->shape[nd] = x->shape[i];
        v->strides[nd] = x->strides[i];
        nd++;
    }
    v->ndim = nd;
    return rv_tensor(out, v);
}

static int bi_unsqueeze(repl_ctx *c, const rargs *a, rval *out)
{
    const rtensor *x;
    int d;
    if (want_tensor(c, a, 0, &x) < 0 || want_dim(c, a, &a->pos[1], x->ndim + 1, &d) < 0)
        return -1;
    if (x->ndim == EIN_MAX_DIMS)
        return repl_error(c, off_of(a), "unsqueeze: at most %d dimensions", EIN_MAX_DIMS);
    rtensor *v = rt_view_of(x);
    if (!v)
        return repl_error(c, off_of(a), "out of memory");
    for (int i = x->ndim; i > d; i--) {
        v->shape[i] = x->shape[i - 1];
        v->strides[i] = x->strides[i - 1];
    }
    v->shape[d] = 1;
    /* any stride serves an extent-1 axis; torch's choice (the stride the
     * axis would have in a contiguous layout) reads better than 0 */
    v->strides[d] = d < x->ndim ? x->shape[d] * x->strides[d] : 1;
    v->ndim = x->ndim + 1;
    return rv_tensor(out, v);
}

static int bi_reshape(repl_ctx *c, const rargs *a, rval *out)
{
    const rtensor *x;
    int64_t shape[EIN_MAX_DIMS];
    int32_t nd;
    if (want_tensor(c, a, 0, &x) < 0 || get_shape(c, a, 1, shape, &nd, 1) < 0)
        return -1;
    int infer = -1;
    int64_t known = 1;
    for (int i = 0; i < nd; i++) {
        if (shape[i] == -1) {
            if (infer >= 0)
                return repl_error(c, off_of(a), "reshape: only one dimension can be -1");
            infer = i;
        } else {
            known *= shape[i];
        }
    }
    if (infer >= 0) {
        int64_t n = rt_count(x);
        if (known == 0 || n % known)
            return repl_error(c, off_of(a), "reshape: cannot infer -1 for %lld elements",
                              (long long)n);
        shape[infer] = n / known;
    }
    char msg[160];
    return give_view(c, a, rt_reshape(x, nd, shape, msg, sizeof msg), msg, out);
}

static int bi_copy(repl_ctx *c, const rargs *a, rval *out)
{
    const rtensor *x;
    if (want_tensor(c, a, 0, &x) < 0)
        return -1;
    rtensor *t = rt_copy(x, x->dtype);
    return give_view(c, a, t, repl_interrupted ? "interrupted" : "out of memory", out);
}

/* ------------------------------------------------------------------ */
/* comparisons and queries                                             */

/* Walk a and b broadcast together, calling fn on each pair. */
static int pairwise(repl_ctx *c, const rargs *a, int (*fn)(void *, double, double), void *ctx)
{
    const rval *x = &a->pos[0], *y = &a->pos[1];
    if ((x->kind != RV_TENSOR && x->kind != RV_NUM) || (y->kind != RV_TENSOR && y->kind != RV_NUM))
        return repl_error(c, off_of(a), "%s: compares tensors or numbers", fname(a));
    /* the difference has the broadcast shape; reuse the arithmetic */
    rval d;
    if (repl_arith(c, off_of(a), '-', x, y, &d) < 0)
        return -1;
    rval yb, zero = rv_num(0, 1);
    if (repl_arith(c, off_of(a), '+', &zero, y, &yb) < 0) {   /* y in f64 */
        rv_free(&d);
        return -1;
    }
    /* both are C-order now (or numbers); broadcast y to d's shape */
    int64_t n = d.kind == RV_TENSOR ? rt_count(d.t) : 1;
    int r = 0;
    for (int64_t i = 0; i < n && !r; i++) {
        if ((i & 0xffff) == 0xffff && repl_interrupted) {
            rv_free(&d);
            rv_free(&yb);
            return repl_error(c, -1, "interrupted");
        }
        double dv = d.kind == RV_TENSOR ? rt_get(d.t, i) : d.num;
        double yv;
        if (yb.kind != RV_TENSOR) {
            yv = yb.num;
        } else {
            /* map i in d's shape to yb's (right-aligned, size-1 broadcast) */
            int64_t rem = i, off = 0, st = 1;
            int dn = d.t->ndim, yn = yb.t->ndim;
            for (int k = dn - 1; k >= 0; k--) {
                int64_t ix = rem % d.t->shape[k];
                rem /= d.t->shape[k];
                int ky = k - (dn - yn);
                if (ky >= 0) {
                    if (yb.t->shape[ky] != 1)
                        off += ix * st;
                    st *= yb.t->shape[ky];
                }
            }
            yv = rt_get(yb.t, off);
        }
        r = fn(ctx, dv, yv);
    }
    rv_free(&d);
    rv_free(&yb);
    return 0;
}

typedef struct closeness {
    double rtol, atol, maxdiff;
    int    close, nan;
} closeness;

static int check_close(void *ctx, double d, double y)
{
    closeness *k = ctx;
    double ad = fabs(d);
    if (isnan(d))
        k->nan = 1;
    if (!(ad <= k->atol + k->rtol * fabs(y)))
        k->close = 0;
    if (ad > k->maxdiff || isnan(d))
        k->maxdiff = isnan(d) ? NAN : k->maxdiff < ad ? ad : k->maxdiff;
    return 0;
}

static int bi_allclose(repl_ctx *c, const rargs *a, rval *out)
{
    closeness k = { 1e-5, 1e-8, 0, 1, 0 };
    const rval *rt = repl_kwarg(a, "rtol"), *at = repl_kwarg(a, "atol");
    if ((rt && want_num(c, a, rt, "rtol", &k.rtol) < 0) ||
        (at && want_num(c, a, at, "atol", &k.atol) < 0))
        return -1;
    if (pairwise(c, a, check_close, &k) < 0)
        return -1;
    *out = rv_bool(k.close);
    return 0;
}

static int bi_max_abs_diff(repl_ctx *c, const rargs *a, rval *out)
{
    closeness k = { 0, 0, 0, 1, 0 };
    if (pairwise(c, a, check_close, &k) < 0)
        return -1;
    *out = rv_num(k.maxdiff, 0);
    return 0;
}

static int bi_shape(repl_ctx *c, const rargs *a, rval *out)
{
    const rtensor *x;
    if (want_tensor(c, a, 0, &x) < 0)
        return -1;
    return rv_int_tuple(out, x->ndim, x->shape) < 0 ? repl_error(c, -1, "out of memory") : 0;
}

static int bi_strides(repl_ctx *c, const rargs *a, rval *out)
{
    const rtensor *x;
    if (want_tensor(c, a, 0, &x) < 0)
        return -1;
    return rv_int_tuple(out, x->ndim, x->strides) < 0 ? repl_error(c, -1, "out of memory") : 0;
}

static int bi_dtype(repl_ctx *c, const rargs *a, rval *out)
{
    const rtensor *x;
    if (want_tensor(c, a, 0, &x) < 0)
        return -1;
    const char *d = ein_dtype_name(x->dtype);
    return rv_str(out, d, strlen(d)) < 0 ? repl_error(c, -1, "out of memory") : 0;
}

/* ------------------------------------------------------------------ */
/* files and printing                                                  */

static int bi_load(repl_ctx *c, const rargs *a, rval *out)
{
    const char *path;
    if (want_str(c, a, 0, &path) < 0)
        return -1;
    npy_array arr;
    char msg[1024];
    if (npy_read_file(path, &arr, msg, sizeof msg) < 0)
        return repl_error(c, off_of(a), "%s", msg);
    /* the .npy module owns its buffer; the REPL's tensors own theirs, so
     * hand the data over to an rbuf with the array's own strides */
    rtensor *t = rt_new(arr.dtype, 0, NULL);
    if (!t) {
        npy_free(&arr);
        return repl_error(c, off_of(a), "out of memory");
    }
    free(t->buf->data);
    t->buf->data = arr.data;
    t->buf->bytes = (size_t)arr.count * (arr.dtype == EIN_F32 ? 4 : 8);
    t->ndim = arr.ndim;
    for (int i = 0; i < arr.ndim; i++) {
        t->shape[i] = arr.shape[i];
        t->strides[i] = arr.strides[i];
    }
    return rv_tensor(out, t);
}

static int bi_save(repl_ctx *c, const rargs *a, rval *out)
{
    const char *path;
    const rtensor *x;
    if (want_str(c, a, 0, &path) < 0 || want_tensor(c, a, 1, &x) < 0)
        return -1;
    ein_tensor e = rt_ein(x);
    char msg[1024];
    if (npy_write_file(path, &e, msg, sizeof msg) < 0)
        return repl_error(c, off_of(a), "%s", msg);
    *out = rv_none();
    return 0;
}

static int bi_print(repl_ctx *c, const rargs *a, rval *out)
{
    for (int i = 0; i < a->npos; i++) {
        if (i)
            fputc(' ', c->out);
        if (repl_print_value(c, &a->pos[i], 0, c->out) < 0)
            return -1;
    }
    fputc('\n', c->out);
    *out = rv_none();
    return 0;
}

/* ------------------------------------------------------------------ */
/* the table (alphabetical: :help lists it in this order)               */

const rbuiltin repl_builtins[] = {
    { "allclose", "allclose(a, b, rtol=1e-05, atol=1e-08)",
      "True when |a - b| <= atol + rtol*|b| everywhere (numpy's rule, broadcasting)",
      2, 2, "rtol atol", bi_allclose, NULL },
    { "arange", "arange([start,] stop[, step], dtype=float64)",
      "evenly spaced values in [start, stop)", 1, 3, "dtype", bi_arange, NULL },
    { "array", "array(x, dtype=float64)",
      "a new tensor from a number, tuple, list literal or tensor (a copy)", 1, 1, "dtype",
      bi_array, NULL },
    { "copy", "copy(x)", "a C-ordered copy of x", 1, 1, "", bi_copy, NULL },
    { "dtype", "dtype(x)", "the element type: 'float32' or 'float64'", 1, 1, "", bi_dtype,
      NULL },
    { "einsum", "einsum(\"ij,j->i\", A, x, ...)",
      "numpy.einsum over the operands (a new C-ordered result)", 1, -1, "", bi_einsum,
      lower_einsum },
    { "eye", "eye(n[, m], dtype=float64)", "the identity (ones on the diagonal)", 1, 2,
      "m dtype", bi_eye, NULL },
    { "full", "full(shape..., value, dtype=float64)", "a tensor filled with value", 2, -1,
      "dtype", bi_full, NULL },
    { "linear", "linear(x, weight, bias=None)",
      "torch's nn.Linear: x W^T + b, weight [out, in]", 2, 3, "bias", bi_linear,
      lower_linear },
    { "linspace", "linspace(start, stop, num=50, dtype=float64)",
      "num values from start to stop, both included", 2, 3, "num steps dtype", bi_linspace,
      NULL },
    { "load", "load(\"file.npy\")", "read a float32/float64 .npy file", 1, 1, "", bi_load,
      NULL },
    { "matmul", "matmul(a, b)",
      "torch.matmul: vectors, matrices and broadcast stacks of matrices (also a @ b)", 2, 2, "",
      bi_matmul, lower_matmul },
    { "max_abs_diff", "max_abs_diff(a, b)", "the largest |a - b| (broadcasting)", 2, 2, "",
      bi_max_abs_diff, NULL },
    { "ones", "ones(shape..., dtype=float64)", "a tensor of ones", 0, -1, "dtype", bi_ones,
      NULL },
    { "permute", "permute(x, dims...)", "the axes reordered (a view)", 1, -1, "", bi_permute,
      NULL },
    { "print", "print(values...)", "print like numpy's str()", 0, -1, "", bi_print, NULL },
    { "rand", "rand(shape..., dtype=float64)", "uniform random values in [0, 1)", 0, -1,
      "dtype", bi_rand, NULL },
    { "randn", "randn(shape..., dtype=float64)", "standard normal random values", 0, -1,
      "dtype", bi_randn, NULL },
    { "reshape", "reshape(x, shape...)",
      "a view with a new shape (-1 inferred); a copy when the strides allow no view", 1, -1, "",
      bi_reshape, NULL },
    { "save", "save(\"file.npy\", x)", "write x to a .npy file (atomically)", 2, 2, "", bi_save,
      NULL },
    { "seed", "seed(n)", "restart the random generator (a session starts at seed(0))", 1, 1, "",
      bi_seed, NULL },
    { "shape", "shape(x)", "the extents, as a tuple (also x.shape)", 1, 1, "", bi_shape, NULL },
    { "squeeze", "squeeze(x[, dim])", "drop extent-1 axes (a view)", 1, 2, "dim axis",
      bi_squeeze, NULL },
    { "strides", "strides(x)", "the strides in elements, as a tuple (also x.strides)", 1, 1, "",
      bi_strides, NULL },
    { "sum", "sum(x, axis=None, keepdims=False)", "sum over all axes or the given ones", 1, 2,
      "axis dim keepdims", bi_sum, lower_sum },
    { "transpose", "transpose(x[, dim0, dim1])",
      "reverse the axes (numpy), or swap two (torch); a view (also x.T)", 1, 3, "",
      bi_transpose, NULL },
    { "unsqueeze", "unsqueeze(x, dim)", "insert an extent-1 axis (a view)", 2, 2, "",
      bi_unsqueeze, NULL },
    { "zeros", "zeros(shape..., dtype=float64)", "a tensor of zeros", 0, -1, "dtype", bi_zeros,
      NULL },
};

const int repl_nbuiltins = (int)(sizeof repl_builtins / sizeof repl_builtins[0]);

const rbuiltin *repl_builtin_find(const char *name, size_t len)
{
    for (int i = 0; i < repl_nbuiltins; i++)
        if (strlen(repl_builtins[i].name) == len && !memcmp(repl_builtins[i].name, name, len))
            return &repl_builtins[i];
    return NULL;
}
