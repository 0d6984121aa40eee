/* casegen.c — random valid einsum calls; see casegen.h.  Every choice
 * reads one byte from the source, so a fuzzer mutating the bytes moves
 * between nearby cases, and a seed alone replays a case exactly. */
#include "casegen.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "support.h"

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

unsigned cg_byte(cg_src *s)
{
    if (s->i < s->n)
        return s->p[s->i++];
    return (unsigned)(splitmix(&s->seed) & 0xff);
}

int cg_pick(cg_src *s, int lo, int hi)
{
    return lo + (int)(cg_byte(s) % (unsigned)(hi - lo + 1));
}

/* Extents 0-6, mostly small and nonzero; 1 often enough to broadcast. */
static int64_t pick_extent(cg_src *s)
{
    unsigned v = cg_byte(s) % 16;
    if (v == 0)
        return 0;
    if (v < 4)
        return 1;
    return 2 + (int64_t)(v % 5);
}

bool cg_span(int nd, const int64_t *shape, const int64_t *strides,
             int64_t *lo, int64_t *hi)
{
    *lo = *hi = 0;
    for (int d = 0; d < nd; d++) {
        if (shape[d] == 0)
            return false;
        int64_t r = strides[d] * (shape[d] - 1);
        if (r < 0)
            *lo += r;
        else
            *hi += r;
    }
    return true;
}

/* Strides for a shape: the dimensions laid out densely in a drawn order
 * (C, Fortran or shuffled), each step optionally padded, some reversed.
 * Never self-overlapping unless zero_ok lets an input repeat elements
 * along a dimension (stride 0), as a broadcast view does. */
static void draw_strides(cg_src *s, int nd, const int64_t *shape, int64_t *st,
                         bool zero_ok, bool *c_order)
{
    int order[CG_MAXDIM];
    unsigned layout = cg_byte(s) % 4;
    for (int d = 0; d < nd; d++)
        order[d] = layout == 1 ? d : nd - 1 - d;    /* innermost first */
    if (layout == 2)
        for (int d = nd - 1; d > 0; d--) {
            int j = cg_pick(s, 0, d), t = order[d];
            order[d] = order[j];
            order[j] = t;
        }
    bool plain = layout == 0 || layout == 3;
    int64_t acc = 1;
    for (int i = 0; i < nd; i++) {
        int d = order[i];
        int64_t pad = cg_byte(s) % 4 == 0 ? 2 : 1;
        acc *= pad;
        plain &= pad == 1;
        st[d] = acc;
        acc *= shape[d] > 0 ? shape[d] : 1;
    }
    for (int d = 0; d < nd; d++) {
        unsigned v = cg_byte(s) % 16;
        if (v < 3) {
            st[d] = -st[d];
            plain = false;
        } else if (shape[d] == 1 && v < 6) {
            st[d] = v == 3 ? 0 : v == 4 ? 7 : -3;    /* never stepped along */
        } else if (zero_ok && v == 15) {
            st[d] = 0;
            plain = false;
        }
    }
    *c_order = plain;
}

/* Give t a buffer (random values of its dtype) that holds every element
 * its strides reach, data pointing at index 0 inside it. */
static bool place(cg_src *s, cg_tensor *t, size_t esize)
{
    int64_t lo, hi;
    if (!cg_span(t->t.ndim, t->shape, t->strides, &lo, &hi))
        lo = hi = 0;
    size_t n = (size_t)(hi - lo + 1);
    t->nbuf = n * esize;
    t->buf = malloc(t->nbuf);
    if (!t->buf)
        return false;
    uint64_t seed = cg_byte(s);
    for (size_t i = 0; i < n; i++) {
        double v = (double)(splitmix(&seed) >> 11) * 0x1.0p-52 - 1.0;
        if (t->t.dtype == EIN_F32)
            ((float *)t->buf)[i] = (float)v;
        else
            ((double *)t->buf)[i] = v;
    }
    t->t.data = t->buf + (size_t)(-lo) * esize;
    return true;
}

/* Set up operand k of a case: its shape is already in t->shape. */
static bool finish_operand(cg_src *s, cg_tensor *t, int nd)
{
    t->t.dtype = cg_byte(s) % 3 == 0 ? EIN_F64 : EIN_F32;
    t->t.ndim = nd;
    t->t.shape = t->shape;
    bool c_order;
    draw_strides(s, nd, t->shape, t->strides, true, &c_order);
    t->t.strides = c_order && cg_byte(s) % 2 ? NULL : t->strides;
    return place(s, t, ein_dtype_size(t->t.dtype));
}

/* Fisher-Yates over n label ids. */
static void shuffle(cg_src *s, int *v, int n)
{
    for (int i = n - 1; i > 0; i--) {
        int j = cg_pick(s, 0, i), t = v[i];
        v[i] = v[j];
        v[j] = t;
    }
}

/* A contraction the dense kernels take: labels in batch / m / n / k
 * groups of 0-2 each, each operand's and the output's labels in a drawn
 * order, extents that cross register tiles (7, 13, 17, 33), so GEMM,
 * GEMV, DOT, OUTER and tensor GEMM steps come up far more often than
 * from free-form expressions. */
static bool make_contraction(cg_case *c, cg_src *s)
{
    static const char letters[] = "abcdefgh";
    static const int64_t exts[] = {1, 2, 3, 5, 7, 13, 17, 33};
    int grp[4], next = 0, lab[4][2];
    int64_t ext[8];
    int64_t budget = 1;
    for (int g = 0; g < 4; g++) {
        grp[g] = cg_pick(s, 0, g == 0 ? 1 : 2);
        for (int i = 0; i < grp[g]; i++) {
            lab[g][i] = next;
            /* Keep the product of all extents (the reference's loop
             * count) under 40,000. */
            int64_t x = exts[cg_byte(s) % 8];
            while (x > 1 && budget * x > 40000)
                x /= 2;
            ext[next++] = x;
            budget *= x;
        }
    }
    /* op0: batch, m, k; op1: batch, k, n; out: batch, m, n. */
    static const int uses[3][3] = {{0, 1, 3}, {0, 3, 2}, {0, 1, 2}};
    int ids[3][6], n[3] = {0, 0, 0};
    for (int t = 0; t < 3; t++) {
        for (int u = 0; u < 3; u++)
            for (int i = 0; i < grp[uses[t][u]]; i++)
                ids[t][n[t]++] = lab[uses[t][u]][i];
        shuffle(s, ids[t], n[t]);
    }
    c->nops = 2;
    c->num_threads = cg_pick(s, 1, 3);
    size_t w = 0;
    for (int t = 0; t < 3; t++) {
        if (t == 1)
            c->expr[w++] = ',';
        if (t == 2) {
            memcpy(c->expr + w, "->", 2);
            w += 2;
        }
        for (int i = 0; i < n[t]; i++)
            c->expr[w++] = letters[ids[t][i]];
        if (t < 2) {
            for (int i = 0; i < n[t]; i++)
                c->op[t].shape[i] = ext[ids[t][i]];
            if (!finish_operand(s, &c->op[t], n[t]))
                return false;
        }
    }
    c->expr[w] = '\0';
    return true;
}

bool cg_make(cg_case *c, cg_src *s)
{
    memset(c, 0, sizeof *c);
    if (cg_byte(s) % 3 == 0) {
        if (make_contraction(c, s))
            return true;
        cg_free(c);
        return false;
    }
    static const char pool[] = "abcdefZ";
    int npool = cg_pick(s, 1, 7);
    int64_t ext[7], ell_ext[2];
    for (int l = 0; l < npool; l++)
        ext[l] = pick_extent(s);
    int nell = cg_byte(s) % 4 == 0 ? cg_pick(s, 1, 2) : 0;
    for (int j = 0; j < 2; j++)
        ell_ext[j] = pick_extent(s);
    c->nops = cg_pick(s, 1, CG_MAXOPS);
    c->num_threads = cg_pick(s, 1, 3);

    bool used[7] = {false}, any_ell = false;
    size_t w = 0;
    for (int k = 0; k < c->nops; k++) {
        cg_tensor *t = &c->op[k];
        int rank = cg_pick(s, 0, 4);
        int ecount = nell && cg_byte(s) % 2 ? cg_pick(s, 0, nell) : -1;
        int epos = ecount >= 0 ? cg_pick(s, 0, rank) : -1;
        bool bcast[7];      /* this operand sees the label as extent 1 */
        for (int l = 0; l < npool; l++)
            bcast[l] = cg_byte(s) % 8 == 0;
        if (k)
            c->expr[w++] = ',';
        int nd = 0;
        for (int i = 0; i <= rank; i++) {
            if (i == epos) {
                memcpy(c->expr + w, "...", 3);
                w += 3;
                any_ell = true;
                for (int j = 2 - ecount; j < 2; j++)
                    t->shape[nd++] = cg_byte(s) % 8 == 0 ? 1 : ell_ext[j];
            }
            if (i == rank)
                break;
            int l = cg_pick(s, 0, npool - 1);
            used[l] = true;
            c->expr[w++] = pool[l];
            t->shape[nd++] = bcast[l] ? 1 : ext[l];
        }
        if (!finish_operand(s, t, nd)) {
            cg_free(c);
            return false;
        }
    }
    if (cg_byte(s) % 3) {     /* explicit output */
        memcpy(c->expr + w, "->", 2);
        w += 2;
        int out[7], no = 0;
        for (int l = 0; l < npool; l++)
            if (used[l] && cg_byte(s) % 2)
                out[no++] = l;
        for (int i = no - 1; i > 0; i--) {
            int j = cg_pick(s, 0, i), tmp = out[i];
            out[i] = out[j];
            out[j] = tmp;
        }
        int epos = any_ell ? cg_pick(s, 0, no) : -1;
        for (int i = 0; i <= no; i++) {
            if (i == epos) {
                memcpy(c->expr + w, "...", 3);
                w += 3;
            }
            if (i < no)
                c->expr[w++] = pool[out[i]];
        }
    }
    c->expr[w] = '\0';
    return true;
}

bool cg_make_fixed(cg_case *c, const char *expr, int nops, const ein_dtype *dt,
                   const int *nd, const int64_t (*shape)[4], uint64_t seed)
{
    memset(c, 0, sizeof *c);
    snprintf(c->expr, sizeof c->expr, "%s", expr);
    c->nops = nops;
    c->num_threads = 1;
    uint8_t seedbyte[1] = {(uint8_t)seed};
    cg_src s = {seedbyte, 1, 0, seed};
    for (int k = 0; k < nops; k++) {
        cg_tensor *t = &c->op[k];
        memcpy(t->shape, shape[k], (size_t)nd[k] * sizeof *t->shape);
        t->t.dtype = dt[k];
        t->t.ndim = nd[k];
        t->t.shape = t->shape;
        ein_c_strides(nd[k], t->shape, t->strides);
        t->t.strides = NULL;
        if (!place(&s, t, ein_dtype_size(dt[k]))) {
            cg_free(c);
            return false;
        }
    }
    return true;
}

bool cg_make_out(cg_case *c, cg_src *s, int nd, const int64_t *shape,
                 ein_dtype dt, bool alias_ok, cg_tensor *o)
{
    memset(o, 0, sizeof *o);
    if (nd > CG_MAXDIM)
        return false;
    memcpy(o->shape, shape, (size_t)nd * sizeof *shape);
    o->t.dtype = dt;
    o->t.ndim = nd;
    o->t.shape = o->shape;
    bool c_order;
    draw_strides(s, nd, o->shape, o->strides, false, &c_order);
    o->t.strides = c_order && cg_byte(s) % 2 ? NULL : o->strides;
    size_t es = ein_dtype_size(dt);
    int64_t lo, hi;
    if (!cg_span(nd, o->shape, o->strides, &lo, &hi))
        lo = hi = 0;
    size_t need = (size_t)(hi - lo + 1) * es;
    if (alias_ok && cg_byte(s) % 4 == 0) {
        int k = cg_pick(s, 0, c->nops - 1);
        if (c->op[k].nbuf >= need) {
            o->t.data = c->op[k].buf + (size_t)(-lo) * es;
            return true;      /* o->buf stays NULL: the operand owns it */
        }
    }
    o->nbuf = need;
    o->buf = malloc(need);
    if (!o->buf)
        return false;
    memset(o->buf, 0xff, need);      /* NaN: an element never written shows */
    o->t.data = o->buf + (size_t)(-lo) * es;
    return true;
}

void cg_free(cg_case *c)
{
    for (int k = 0; k < c->nops; k++) {
        free(c->op[k].buf);
        c->op[k].buf = NULL;
    }
}

/* Summed terms per output element: the product of the extents of the
 * labels the output lacks, as bind sees the call. */
static double summed_terms(const cg_case *c, const ein_tensor *const *ops)
{
    ein_expr e;
    ein_bound b;
    double k = 1;
    if (ein_parse(c->expr, &e) != EIN_OK)
        return k;
    if (ein_bind(&e, c->nops, ops, NULL, &b) == EIN_OK) {
        bool in_out[EIN_MAX_LABELS] = {false};
        for (int d = 0; d < b.out_ndim; d++)
            in_out[b.out_label[d]] = true;
        for (int l = 0; l < b.nlabels; l++)
            if (b.extent[l] > 0 && !in_out[l])
                k *= (double)b.extent[l];
        ein_bound_free(&b);
    }
    ein_expr_free(&e);
    return k;
}

bool cg_reference(const cg_case *c, ein_dtype dt, double **want, double **tol,
                  int64_t *n)
{
    const ein_tensor *ops[CG_MAXOPS], *aops[CG_MAXOPS];
    cg_tensor abs_op[CG_MAXOPS];
    bool ok = true;
    int made = 0;
    *want = *tol = NULL;
    for (int k = 0; k < c->nops; k++) {
        ops[k] = &c->op[k].t;
        /* The same view over |values|. */
        cg_tensor *t = &abs_op[k];
        *t = c->op[k];
        t->buf = malloc(t->nbuf ? t->nbuf : 1);
        if (!t->buf) {
            ok = false;
            break;
        }
        made++;
        size_t es = ein_dtype_size(t->t.dtype), cnt = t->nbuf / es;
        for (size_t i = 0; i < cnt; i++) {
            if (es == 4)
                ((float *)t->buf)[i] = fabsf(((const float *)c->op[k].buf)[i]);
            else
                ((double *)t->buf)[i] = fabs(((const double *)c->op[k].buf)[i]);
        }
        t->t.data = t->buf + ((const unsigned char *)c->op[k].t.data - c->op[k].buf);
        t->t.shape = t->shape;
        if (t->t.strides)
            t->t.strides = t->strides;
        aops[k] = &t->t;
    }
    /* Size the arrays from bind's result shape. */
    int64_t cnt = 0;
    double *w = NULL, *m = NULL;
    if (ok) {
        ein_expr e;
        ein_bound b;
        ok = ein_parse(c->expr, &e) == EIN_OK;
        if (ok) {
            ok = ein_bind(&e, c->nops, ops, NULL, &b) == EIN_OK;
            ein_expr_free(&e);
        }
        if (ok) {
            cnt = 1;
            for (int d = 0; d < b.out_ndim; d++)
                cnt *= b.out_shape[d];
            ein_bound_free(&b);
            w = malloc((size_t)(cnt ? cnt : 1) * sizeof *w);
            m = malloc((size_t)(cnt ? cnt : 1) * sizeof *m);
            ok = w && m;
        }
    }
    int64_t n1 = -1, n2 = -1;
    ok = ok && ts_reference(c->expr, c->nops, ops, w, &n1) == EIN_OK &&
         ts_reference(c->expr, c->nops, aops, m, &n2) == EIN_OK && n1 == cnt && n2 == cnt;
    for (int k = 0; k < made; k++)
        free(abs_op[k].buf);
    if (!ok) {
        free(w);
        free(m);
        return false;
    }
    double u = dt == EIN_F32 ? 0x1p-24 : 0x1p-53;
    double terms = summed_terms(c, ops);
    for (int64_t i = 0; i < cnt; i++)
        m[i] = m[i] * u * (2 * terms + 8) + 1e-300;
    *want = w;
    *tol = m;
    *n = cnt;
    return true;
}
