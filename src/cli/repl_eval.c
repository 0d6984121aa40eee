/* repl_eval.c — walks a statement's expression tree: names, literals,
 * calls into the built-in table, indexing and slicing (views), attributes
 * (.T .shape .strides .dtype .ndim .size) and elementwise arithmetic with
 * numpy broadcasting.  Contractions go through the public API only. */
#define _POSIX_C_SOURCE 200809L

#include "repl_eval.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void repl_ctx_init(repl_ctx *c)
{
    memset(c, 0, sizeof *c);
    c->print = print_defaults;
    c->out = stdout;
    c->err_off = -1;
}

void repl_ctx_free(repl_ctx *c)
{
    for (int i = 0; i < c->nvars; i++) {
        free(c->vars[i].name);
        rv_free(&c->vars[i].v);
    }
    free(c->vars);
    c->vars = NULL;
    c->nvars = c->cap = 0;
}

int repl_error(repl_ctx *c, int off, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err, sizeof c->err, fmt, ap);
    va_end(ap);
    c->err_off = off;
    return -1;
}

int repl_lib_error(repl_ctx *c, ein_status st)
{
    const char *m = ein_last_error();
    if (m && *m) {
        size_t n = strlen(m);
        snprintf(c->err, sizeof c->err, "%.*s", (int)(n && m[n - 1] == '\n' ? n - 1 : n), m);
    } else {
        snprintf(c->err, sizeof c->err, "%s", ein_status_str(st));
    }
    c->err_off = -1;   /* the library's message carries its own caret */
    return -1;
}

rval *repl_lookup(repl_ctx *c, const char *name, size_t len)
{
    for (int i = 0; i < c->nvars; i++)
        if (strlen(c->vars[i].name) == len && memcmp(c->vars[i].name, name, len) == 0)
            return &c->vars[i].v;
    return NULL;
}

int repl_assign(repl_ctx *c, const char *name, size_t len, rval *v)
{
    /* a copy made inside one statement is just a tensor once it has a name */
    if (v->kind == RV_TENSOR)
        v->t->copied = NULL;
    rval *old = repl_lookup(c, name, len);
    if (old) {
        rval o = *old;
        *old = *v;
        rv_free(&o);
        *v = rv_none();
        return 0;
    }
    if (c->nvars == c->cap) {
        int cap = c->cap ? c->cap * 2 : 16;
        repl_var *nv = realloc(c->vars, (size_t)cap * sizeof *nv);
        if (!nv)
            goto oom;
        c->vars = nv;
        c->cap = cap;
    }
    char *nm = malloc(len + 1);
    if (!nm)
        goto oom;
    memcpy(nm, name, len);
    nm[len] = '\0';
    c->vars[c->nvars].name = nm;
    c->vars[c->nvars].v = *v;
    c->nvars++;
    *v = rv_none();
    return 0;
oom:
    rv_free(v);
    return repl_error(c, -1, "out of memory");
}

/* ------------------------------------------------------------------ */
/* arguments                                                           */

void repl_args_free(rargs *a)
{
    for (int i = 0; i < a->npos; i++)
        rv_free(&a->pos[i]);
    free(a->pos);
    for (int i = 0; i < a->nkw; i++)
        rv_free(&a->kw[i]);
    memset(a, 0, sizeof *a);
}

const rval *repl_kwarg(const rargs *a, const char *name)
{
    for (int i = 0; i < a->nkw; i++)
        if (a->kwnode[i]->len == strlen(name) &&
            memcmp(a->kwnode[i]->text, name, a->kwnode[i]->len) == 0)
            return &a->kw[i];
    return NULL;
}

/* Is the word w (length n) in the space-separated list? */
static int in_list(const char *list, const char *w, size_t n)
{
    for (const char *p = list; p && *p;) {
        const char *e = strchr(p, ' ');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        if (l == n && memcmp(p, w, n) == 0)
            return 1;
        p = e ? e + 1 : p + l;
    }
    return 0;
}

int repl_eval_args(repl_ctx *c, const rbuiltin *b, const rnode *call, rargs *a)
{
    memset(a, 0, sizeof *a);
    a->call = call;
    int npos = 0;
    for (int i = 0; i < call->nkids; i++)
        npos += call->kids[i]->kind != RN_KWARG;
    if (npos < b->min || (b->max >= 0 && npos > b->max)) {
        if (b->min == b->max)
            return repl_error(c, call->off, "%s takes %d argument%s, not %d (%s)", b->name,
                              b->min, b->min == 1 ? "" : "s", npos, b->sig);
        return repl_error(c, call->off, "%s takes %s %d arguments, not %d (%s)", b->name,
                          npos < b->min ? "at least" : "at most",
                          npos < b->min ? b->min : b->max, npos, b->sig);
    }
    a->pos = npos ? calloc((size_t)npos, sizeof *a->pos) : NULL;
    if (npos && !a->pos)
        return repl_error(c, call->off, "out of memory");
    for (int i = 0; i < call->nkids; i++) {
        const rnode *k = call->kids[i];
        if (k->kind == RN_KWARG) {
            if (!in_list(b->kws, k->text, k->len)) {
                repl_error(c, k->off, "%s has no keyword argument '%.*s' (%s)", b->name,
                           (int)k->len, k->text, b->sig);
                goto fail;
            }
            for (int j = 0; j < a->nkw; j++)
                if (a->kwnode[j]->len == k->len && !memcmp(a->kwnode[j]->text, k->text, k->len)) {
                    repl_error(c, k->off, "keyword argument '%.*s' given twice", (int)k->len,
                               k->text);
                    goto fail;
                }
            if (a->nkw == (int)(sizeof a->kw / sizeof a->kw[0])) {
                repl_error(c, k->off, "too many keyword arguments");
                goto fail;
            }
            if (repl_eval(c, k->kids[0], &a->kw[a->nkw]) < 0)
                goto fail;
            a->kwnode[a->nkw++] = k;
        } else {
            if (repl_eval(c, k, &a->pos[a->npos]) < 0)
                goto fail;
            a->npos++;
        }
    }
    return 0;
fail:
    repl_args_free(a);
    return -1;
}

/* ------------------------------------------------------------------ */
/* indexing: integers drop an axis, slices keep it (steps of any sign),
 * None adds one; every result is a view.                              */

static int to_index(repl_ctx *c, const rnode *n, const rval *v, int64_t *out)
{
    *out = 0;
    if (v->kind != RV_NUM || !v->is_int)
        return repl_error(c, n->off, "an index must be an integer");
    *out = (int64_t)v->num;
    return 0;
}

static int is_none_node(const rnode *n)
{
    return n && n->kind == RN_NAME && n->len == 4 && memcmp(n->text, "None", 4) == 0;
}

static int is_ellipsis_node(const rnode *n)
{
    return n && n->kind == RN_NAME && n->len == 3 && memcmp(n->text, "...", 3) == 0;
}

static int eval_index(repl_ctx *c, const rnode *n, rval *out)
{
    rval base;
    if (repl_eval(c, n->kids[0], &base) < 0)
        return -1;
    if (base.kind == RV_TUPLE) {   /* A.shape[0] */
        int64_t i;
        rval iv;
        if (n->nkids != 2 || n->kids[1]->kind == RN_SLICE) {
            rv_free(&base);
            return repl_error(c, n->kids[n->nkids > 1]->off, "a tuple takes one integer index");
        }
        if (repl_eval(c, n->kids[1], &iv) < 0 || to_index(c, n->kids[1], &iv, &i) < 0) {
            rv_free(&iv);
            rv_free(&base);
            return -1;
        }
        if (i < 0)
            i += base.n;
        if (i < 0 || i >= base.n) {
            rv_free(&base);
            return repl_error(c, n->kids[1]->off, "tuple index out of range");
        }
        int r = rv_copy(out, &base.items[i]);
        rv_free(&base);
        return r < 0 ? repl_error(c, n->off, "out of memory") : 0;
    }
    if (base.kind != RV_TENSOR) {
        rv_free(&base);
        return repl_error(c, n->off, "only tensors and tuples can be indexed");
    }
    const rtensor *t = base.t;
    rtensor *v = rt_view_of(t);
    if (!v) {
        rv_free(&base);
        return repl_error(c, n->off, "out of memory");
    }
    int nd = 0;      /* axes of v written so far */
    int axis = 0;    /* next axis of t */
    int err = 0;
    /* items that use up an axis of t: all but None and '...' */
    int used = 0, ellipses = 0;
    for (int k = 1; k < n->nkids; k++) {
        const rnode *it = n->kids[k];
        if (is_ellipsis_node(it) && ++ellipses > 1) {
            err = repl_error(c, it->off, "an index can only have a single ellipsis ('...')");
            goto done;
        }
        if (!is_none_node(it) && !is_ellipsis_node(it) && ++used > t->ndim) {
            err = repl_error(c, it->off, "too many indices: the tensor has %d dimension%s",
                             t->ndim, t->ndim == 1 ? "" : "s");
            goto done;
        }
    }
    for (int k = 1; k < n->nkids && !err; k++) {
        const rnode *it = n->kids[k];
        if (is_none_node(it) || is_ellipsis_node(it)) {
            /* None: a new axis of extent 1; '...': every axis no item uses */
            int add = is_none_node(it) ? 1 : t->ndim - used;
            if (nd + add > EIN_MAX_DIMS) {
                err = repl_error(c, it->off, "too many dimensions");
                break;
            }
            for (int q = 0; q < add; q++, nd++) {
                v->shape[nd] = is_none_node(it) ? 1 : t->shape[axis];
                v->strides[nd] = is_none_node(it) ? 0 : t->strides[axis++];
            }
            continue;
        }
        int64_t ext = t->shape[axis], st = t->strides[axis];
        if (it->kind != RN_SLICE) {
            rval iv;
            int64_t i;
            if (repl_eval(c, it, &iv) < 0 || to_index(c, it, &iv, &i) < 0) {
                rv_free(&iv);
                err = -1;
                break;
            }
            rv_free(&iv);
            int64_t i0 = i < 0 ? i + ext : i;
            if (i0 < 0 || i0 >= ext) {
                err = repl_error(c, it->off, "index %lld is out of bounds for axis %d with size %lld",
                                 (long long)i, axis, (long long)ext);
                break;
            }
            v->offset += i0 * st;
            axis++;
            continue;
        }
        /* Python's slice.indices(): defaults depend on the step's sign,
         * and out-of-range bounds clamp. */
        int64_t part[3] = { 0, 0, 1 };
        int given[3];
        for (int q = 0; q < 3; q++) {
            given[q] = it->kids[q] && !is_none_node(it->kids[q]);
            if (!given[q])
                continue;
            rval pv;
            if (repl_eval(c, it->kids[q], &pv) < 0 ||
                to_index(c, it->kids[q], &pv, &part[q]) < 0) {
                rv_free(&pv);
                err = -1;
                break;
            }
            rv_free(&pv);
        }
        if (err)
            break;
        int64_t step = given[2] ? part[2] : 1;
        if (step == 0) {
            err = repl_error(c, it->kids[2]->off, "slice step cannot be zero");
            break;
        }
        int64_t lo = step < 0 ? -1 : 0, hi = step < 0 ? ext - 1 : ext;
        int64_t start = step < 0 ? hi : lo, stop = step < 0 ? lo : hi;
        if (given[0]) {
            start = part[0] < 0 ? part[0] + ext : part[0];
            start = start < lo ? lo : start > hi ? hi : start;
        }
        if (given[1]) {
            stop = part[1] < 0 ? part[1] + ext : part[1];
            stop = stop < lo ? lo : stop > hi ? hi : stop;
        }
        int64_t len = 0;
        if (step > 0 && stop > start)
            len = (stop - start + step - 1) / step;
        else if (step < 0 && start > stop)
            len = (start - stop + (-step) - 1) / (-step);
        if (len > 0)
            v->offset += start * st;
        v->shape[nd] = len;
        v->strides[nd] = st * step;
        nd++;
        axis++;
    }
    if (!err) {
        for (; axis < t->ndim; axis++) {   /* the axes not indexed: whole */
            if (nd == EIN_MAX_DIMS) {
                err = repl_error(c, n->off, "too many dimensions");
                break;
            }
            v->shape[nd] = t->shape[axis];
            v->strides[nd] = t->strides[axis];
            nd++;
        }
        v->ndim = nd;
    }
done:
    rv_free(&base);
    if (err) {
        rt_free(v);
        return -1;
    }
    return rv_tensor(out, v);
}

/* ------------------------------------------------------------------ */
/* attributes                                                          */

static int eval_attr(repl_ctx *c, const rnode *n, rval *out)
{
    rval base;
    if (repl_eval(c, n->kids[0], &base) < 0)
        return -1;
    char name[32];
    snprintf(name, sizeof name, "%.*s", (int)(n->len < 31 ? n->len : 31), n->text);
    int r = 0;
    if (base.kind != RV_TENSOR) {
        r = repl_error(c, n->off, "only tensors have attributes ('.%s')", name);
    } else if (!strcmp(name, "T")) {
        int perm[EIN_MAX_DIMS];
        for (int i = 0; i < base.t->ndim; i++)
            perm[i] = base.t->ndim - 1 - i;
        char msg[128];
        rtensor *v = rt_permute(base.t, perm, msg, sizeof msg);
        if (!v)
            r = repl_error(c, n->off, "%s", msg);
        else
            rv_tensor(out, v);
    } else if (!strcmp(name, "shape")) {
        if (rv_int_tuple(out, base.t->ndim, base.t->shape) < 0)
            r = repl_error(c, n->off, "out of memory");
    } else if (!strcmp(name, "strides")) {
        if (rv_int_tuple(out, base.t->ndim, base.t->strides) < 0)
            r = repl_error(c, n->off, "out of memory");
    } else if (!strcmp(name, "dtype")) {
        const char *d = ein_dtype_name(base.t->dtype);
        if (rv_str(out, d, strlen(d)) < 0)
            r = repl_error(c, n->off, "out of memory");
    } else if (!strcmp(name, "ndim")) {
        *out = rv_num(base.t->ndim, 1);
    } else if (!strcmp(name, "size")) {
        *out = rv_num((double)rt_count(base.t), 1);
    } else {
        r = repl_error(c, n->off, "a tensor has no attribute '%s' (it has .T .shape .strides "
                       ".dtype .ndim .size)", name);
    }
    rv_free(&base);
    return r < 0 ? -1 : 0;
}

/* ------------------------------------------------------------------ */
/* list literals: [[1, 2], [3, 4]] is a float64 tensor of shape (2, 2) */

static int list_shape(repl_ctx *c, const rnode *n, int depth, int64_t *shape, int *ndim)
{
    if (n->kind != RN_LIST) {
        if (depth != *ndim && *ndim >= 0)
            return repl_error(c, n->off, "a ragged list: every row needs the same shape");
        *ndim = depth;
        return 0;
    }
    if (depth >= EIN_MAX_DIMS)
        return repl_error(c, n->off, "a list nested too deeply");
    if (*ndim >= 0 && depth >= *ndim)
        return repl_error(c, n->off, "a ragged list: every row needs the same shape");
    if (*ndim < 0 || shape[depth] < 0)
        shape[depth] = n->nkids;
    else if (shape[depth] != n->nkids)
        return repl_error(c, n->off, "a ragged list: rows of %lld and %d items",
                          (long long)shape[depth], n->nkids);
    if (n->nkids == 0) {
        if (*ndim >= 0 && *ndim != depth + 1)
            return repl_error(c, n->off, "a ragged list: every row needs the same shape");
        *ndim = depth + 1;
    }
    for (int i = 0; i < n->nkids; i++)
        if (list_shape(c, n->kids[i], depth + 1, shape, ndim) < 0)
            return -1;
    return 0;
}

static int list_fill(repl_ctx *c, const rnode *n, double *dst, int64_t *k)
{
    if (n->kind == RN_LIST) {
        for (int i = 0; i < n->nkids; i++)
            if (list_fill(c, n->kids[i], dst, k) < 0)
                return -1;
        return 0;
    }
    rval v;
    if (repl_eval(c, n, &v) < 0)
        return -1;
    if (v.kind != RV_NUM && v.kind != RV_BOOL) {
        rv_free(&v);
        return repl_error(c, n->off, "a tensor literal holds numbers only");
    }
    dst[(*k)++] = v.num;
    return 0;
}

static int eval_list(repl_ctx *c, const rnode *n, rval *out)
{
    int64_t shape[EIN_MAX_DIMS];
    for (int i = 0; i < EIN_MAX_DIMS; i++)
        shape[i] = -1;
    int ndim = -1;
    if (list_shape(c, n, 0, shape, &ndim) < 0)
        return -1;
    rtensor *t = rt_new(EIN_F64, ndim, shape);
    if (!t)
        return repl_error(c, n->off, "out of memory");
    int64_t k = 0;
    if (list_fill(c, n, t->buf->data, &k) < 0) {
        rt_free(t);
        return -1;
    }
    return rv_tensor(out, t);
}

/* ------------------------------------------------------------------ */
/* the walk                                                            */

static int eval_call(repl_ctx *c, const rnode *n, rval *out)
{
    const rbuiltin *b = repl_builtin_find(n->text, n->len);
    if (!b) {
        if (repl_lookup(c, n->text, n->len))
            return repl_error(c, n->off, "'%.*s' is a variable, not a function", (int)n->len,
                              n->text);
        return repl_error(c, n->off, "no function named '%.*s' (:help lists them)", (int)n->len,
                          n->text);
    }
    rargs a;
    if (repl_eval_args(c, b, n, &a) < 0)
        return -1;
    int r = b->fn(c, &a, out);
    repl_args_free(&a);
    return r;
}

int repl_eval(repl_ctx *c, const rnode *n, rval *out)
{
    *out = rv_none();
    if (repl_interrupted)
        return repl_error(c, -1, "interrupted");
    switch (n->kind) {
    case RN_NUM:
        *out = rv_num(n->num, n->is_int);
        return 0;
    case RN_STR:
        return rv_str(out, n->text, n->len) < 0 ? repl_error(c, n->off, "out of memory") : 0;
    case RN_NAME: {
        rval *v = repl_lookup(c, n->text, n->len);
        if (v)
            return rv_copy(out, v) < 0 ? repl_error(c, n->off, "out of memory") : 0;
        if (n->len == 4 && !memcmp(n->text, "True", 4)) {
            *out = rv_bool(1);
            return 0;
        }
        if (n->len == 5 && !memcmp(n->text, "False", 5)) {
            *out = rv_bool(0);
            return 0;
        }
        if (n->len == 4 && !memcmp(n->text, "None", 4))
            return 0;
        if (is_ellipsis_node(n))
            return repl_error(c, n->off, "'...' is only allowed inside [ ]");
        /* dtype=float32 reads like numpy's np.float32 without the np. */
        if ((n->len == 7 && !memcmp(n->text, "float32", 7)) ||
            (n->len == 7 && !memcmp(n->text, "float64", 7)))
            return rv_str(out, n->text, n->len) < 0 ? repl_error(c, n->off, "out of memory") : 0;
        if (repl_builtin_find(n->text, n->len))
            return repl_error(c, n->off, "'%.*s' is a function: call it, e.g. %s", (int)n->len,
                              n->text, repl_builtin_find(n->text, n->len)->sig);
        return repl_error(c, n->off, "name '%.*s' is not defined", (int)n->len, n->text);
    }
    case RN_CALL:
        return eval_call(c, n, out);
    case RN_KWARG:
    case RN_SLICE:
        return repl_error(c, n->off, "a slice is only allowed inside [ ]");
    case RN_INDEX:
        return eval_index(c, n, out);
    case RN_ATTR:
        return eval_attr(c, n, out);
    case RN_LIST:
        return eval_list(c, n, out);
    case RN_TUPLE:
        out->kind = RV_TUPLE;
        out->items = n->nkids ? calloc((size_t)n->nkids, sizeof *out->items) : NULL;
        if (n->nkids && !out->items) {
            *out = rv_none();
            return repl_error(c, n->off, "out of memory");
        }
        for (int i = 0; i < n->nkids; i++) {
            if (repl_eval(c, n->kids[i], &out->items[i]) < 0) {
                rv_free(out);
                return -1;
            }
            out->n = i + 1;
        }
        return 0;
    case RN_NEG: {
        rval x;
        if (repl_eval(c, n->kids[0], &x) < 0)
            return -1;
        rval m1 = rv_num(-1, 1);
        int r = repl_arith(c, n->off, '*', &m1, &x, out);
        rv_free(&x);
        return r;
    }
    case RN_BINOP: {
        if (n->op == '@') {   /* a @ b is matmul(a, b) */
            rnode call = *n;
            call.kind = RN_CALL;
            call.text = "matmul";
            call.len = 6;
            return eval_call(c, &call, out);
        }
        rval x, y;
        if (repl_eval(c, n->kids[0], &x) < 0)
            return -1;
        if (repl_eval(c, n->kids[1], &y) < 0) {
            rv_free(&x);
            return -1;
        }
        int r = repl_arith(c, n->off, n->op, &x, &y, out);
        rv_free(&x);
        rv_free(&y);
        return r;
    }
    }
    return repl_error(c, n->off, "cannot evaluate this");
}

/* ------------------------------------------------------------------ */
/* arithmetic                                                          */

int repl_arith(repl_ctx *c, int off, char op, const rval *a, const rval *b, rval *out)
{
    int an = a->kind == RV_NUM || a->kind == RV_BOOL, bn = b->kind == RV_NUM || b->kind == RV_BOOL;
    if ((!an && a->kind != RV_TENSOR) || (!bn && b->kind != RV_TENSOR))
        return repl_error(c, off, "'%c' works on numbers and tensors", op);
    if (an && bn) {
        double x = a->num, y = b->num, r;
        int isint = a->is_int && b->is_int && op != '/';
        switch (op) {
        case '+': r = x + y; break;
        case '-': r = x - y; break;
        case '*': r = x * y; break;
        default:  r = x / y; break;   /* IEEE: x/0 is inf or nan, as numpy's floats */
        }
        *out = rv_num(r, isint && fabs(r) < 9007199254740992.0);
        return 0;
    }
    /* numbers are weak (NEP 50): the tensor's dtype wins */
    ein_dtype dt = an ? b->t->dtype : bn ? a->t->dtype
                 : (a->t->dtype == EIN_F64 || b->t->dtype == EIN_F64) ? EIN_F64 : EIN_F32;
    int32_t na = an ? 0 : a->t->ndim, nb = bn ? 0 : b->t->ndim;
    int32_t nd = na > nb ? na : nb;
    int64_t shape[EIN_MAX_DIMS], sa[EIN_MAX_DIMS], sb[EIN_MAX_DIMS];
    for (int i = 0; i < nd; i++) {
        int ia = i - (nd - na), ib = i - (nd - nb);
        int64_t ea = ia >= 0 ? a->t->shape[ia] : 1, eb = ib >= 0 ? b->t->shape[ib] : 1;
        if (ea != eb && ea != 1 && eb != 1)
            return repl_error(c, off, "shapes do not broadcast: extent %lld against %lld at "
                              "dimension %d of the result", (long long)ea, (long long)eb, i);
        shape[i] = ea == 1 ? eb : ea;
        sa[i] = ia >= 0 && ea != 1 ? a->t->strides[ia] : 0;
        sb[i] = ib >= 0 && eb != 1 ? b->t->strides[ib] : 0;
    }
    rtensor *r = rt_new(dt, nd, shape);
    if (!r)
        return repl_error(c, off, "out of memory");
    int64_t n = rt_count(r);
    int64_t idx[EIN_MAX_DIMS] = { 0 };
    int64_t oa = an ? 0 : a->t->offset, ob = bn ? 0 : b->t->offset;
    const void *pa = an ? NULL : a->t->buf->data, *pb = bn ? NULL : b->t->buf->data;
    int fa = !an && a->t->dtype == EIN_F32, fb = !bn && b->t->dtype == EIN_F32;
    for (int64_t i = 0; i < n; i++) {
        if ((i & 0xffff) == 0 && repl_interrupted) {
            rt_free(r);
            return repl_error(c, -1, "interrupted");
        }
        double x = an ? a->num : fa ? (double)((const float *)pa)[oa] : ((const double *)pa)[oa];
        double y = bn ? b->num : fb ? (double)((const float *)pb)[ob] : ((const double *)pb)[ob];
        double z;
        switch (op) {
        case '+': z = x + y; break;
        case '-': z = x - y; break;
        case '*': z = x * y; break;
        default:  z = x / y; break;
        }
        if (dt == EIN_F32)
            ((float *)r->buf->data)[i] = (float)z;
        else
            ((double *)r->buf->data)[i] = z;
        for (int d = nd - 1; d >= 0; d--) {
            oa += sa[d];
            ob += sb[d];
            if (++idx[d] < shape[d])
                break;
            oa -= idx[d] * sa[d];
            ob -= idx[d] * sb[d];
            idx[d] = 0;
        }
    }
    return rv_tensor(out, r);
}
