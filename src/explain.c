/* explain.c — EXPLAIN: print a plan as a tree (SQLite's EXPLAIN QUERY
 * PLAN idea): the operands, the rewrites applied, and per step its loops
 * with extents and strides, the kernel chosen, FLOPs and bytes. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

typedef struct sbuf {
    char  *buf;
    size_t cap, len;
} sbuf;

__attribute__((format(printf, 2, 3)))
static void put(sbuf *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char dummy;
    char *dst = s->len < s->cap ? s->buf + s->len : &dummy;
    size_t room = s->len < s->cap ? s->cap - s->len : 0;
    int n = vsnprintf(dst, room, fmt, ap);
    va_end(ap);
    if (n > 0)
        s->len += (size_t)n;
}

static void put_dims(sbuf *s, const int64_t *v, int n)
{
    put(s, "[");
    for (int i = 0; i < n; i++)
        put(s, "%s%lld", i ? ", " : "", (long long)v[i]);
    put(s, "]");
}

static const char *slot_name(const ein_plan *p, int slot, char *buf, size_t cap)
{
    if (slot == EIN_OUT_SLOT(p))
        snprintf(buf, cap, "out");
    else if (slot < p->nops)
        snprintf(buf, cap, "op%d", slot);
    else
        snprintf(buf, cap, "t%d", slot - p->nops);
    return buf;
}

static const char *kind_name(ein_kind k)
{
    switch (k) {
    case EIN_K_ZERO:    return "ZERO";
    case EIN_K_GENERIC: return "LOOPS";
    case EIN_K_DOT:     return "DOT";
    case EIN_K_GEMV:    return "GEMV";
    case EIN_K_GEMM:    return "GEMM";
    case EIN_K_OUTER:   return "OUTER";
    }
    return "?";
}

/* A tensor-GEMM group's extents, outermost first: [48x48]. */
static void put_group(sbuf *s, const ein_group *g)
{
    put(s, "[");
    for (int d = 0; d < g->ndim; d++)
        put(s, "%s%lld", d ? "x" : "", (long long)g->ext[d]);
    put(s, g->ndim ? "]" : "1]");
}

static void put_loop(sbuf *s, const ein_plan *p, const ein_step *st,
                     const ein_loop *L, const char *role)
{
    char nb[16];
    put(s, " %s=%lld%s%s [", L->name, (long long)L->extent, *role ? " " : "", role);
    for (int t = 0; t < st->nin; t++)
        put(s, "%s %lld, ", slot_name(p, st->in[t], nb, sizeof nb),
            (long long)L->stride[t]);
    put(s, "%s %lld]", slot_name(p, st->out, nb, sizeof nb),
        (long long)L->stride[st->nin]);
}

static void put_step(sbuf *s, const ein_plan *p, int i, bool last)
{
    const ein_step *st = &p->steps[i];
    const char *stem = last ? "    " : "|   ";
    char a[16], b[16], o[16];
    slot_name(p, st->out, o, sizeof o);
    put(s, "%s-- step %d: %s  %s = ", last ? "`" : "|", i, kind_name(st->kind), o);
    if (st->kind == EIN_K_ZERO)
        put(s, "0 (a summed extent is 0)\n");
    else if (st->nin == 1)
        put(s, "%s\n", slot_name(p, st->in[0], a, sizeof a));
    else
        put(s, "%s * %s\n", slot_name(p, st->in[0], a, sizeof a),
            slot_name(p, st->in[1], b, sizeof b));
    /* A grouped GEMM runs all its m, n, k loops inside the table's tensor
     * GEMM when the table has one; only batch loops stay outside. */
    bool tg = st->grouped && (p->dtype == EIN_F32 ? p->kt->tgemm_f32 != NULL
                                                  : p->kt->tgemm_f64 != NULL);
    if (st->kind != EIN_K_ZERO) {
        put(s, "%s|-- loops  ", stem);
        if (st->nloops == 0)
            put(s, " (none: one element)");
        if (st->kind == EIN_K_GENERIC) {
            for (int l = 0; l < st->nloops; l++)
                put_loop(s, p, st, &st->loops[l], l < st->nfree ? "" : "sum");
        } else {
            for (int l = 0; l < st->nloops; l++) {
                const char *role = l < st->nouter
                    ? (tg && l >= st->nbatch ? (st->outer_sums[l] ? "sum" : "")
                       : st->outer_sums[l] ? "outer sum" : "outer")
                    : ((st->xpack || strcmp(st->loops[l].name, st->kname) == 0) &&
                       st->loops[l].stride[st->nin] == 0) ? "sum" : "";
                put_loop(s, p, st, &st->loops[l], role);
            }
        }
        put(s, "\n");
        const char *dt = p->dtype == EIN_F32 ? "f32" : "f64";
        put(s, "%s|-- kernel  ", stem);
        switch (st->kind) {
        case EIN_K_GENERIC: {
            int gk = ein_generic_kind(p, st);
            if (gk)
                put(s, "%s_%s/%s (%s)\n", st->nin == 1 ? "unary" : "product", dt,
                    p->kt->name, ein_gk_name(gk));
            else
                put(s, "loopnest_%s (generic strided loop nest)\n", dt);
            break;
        }
        case EIN_K_DOT:
            put(s, "dot_%s/%s  k=%s(%lld)\n", dt, p->kt->name, st->kname, (long long)st->k);
            break;
        case EIN_K_GEMV:
            put(s, "gemv_%s/%s  m=%s(%lld) k=%s(%lld)  A=%s rs=%lld cs=%lld (%s)\n",
                dt, p->kt->name, st->mname, (long long)st->m, st->kname,
                (long long)st->k, st->swap ? b : a, (long long)st->rsa,
                (long long)st->csa,
                st->csa == 1 ? "rows contiguous" : st->rsa == 1 ? "columns contiguous"
                                                               : "strided");
            if (st->xpack) {
                put(s, "%s|-- packing %s ", stem, st->swap ? a : b);
                put_group(s, &st->gk);
                put(s, " gathered into %lld contiguous elements in %s's order\n",
                    (long long)st->k, st->swap ? b : a);
            }
            break;
        case EIN_K_GEMM:
            if (tg) {
                put(s, "tgemm_%s/%s  m=", dt, p->kt->name);
                put_group(s, &st->gm);
                put(s, " n=");
                put_group(s, &st->gn);
                put(s, " k=");
                put_group(s, &st->gk);
                put(s, "  (packing reads %s, %s and %s through their strides)\n",
                    a, b, o);
                break;
            }
            /* fall through */
        case EIN_K_OUTER:
            put(s, "gemm_%s/%s  m=%s(%lld) n=%s(%lld) k=%s(%lld)  "
                "A=%s[%lld,%lld] B=%s[%lld,%lld] C=%s[%lld,%lld]\n",
                dt, p->kt->name, st->mname, (long long)st->m, st->nname,
                (long long)st->n, st->kind == EIN_K_OUTER ? "-" : st->kname,
                (long long)st->k, a, (long long)st->rsa, (long long)st->csa,
                b, (long long)st->rsb, (long long)st->csb, o, (long long)st->rsc,
                (long long)st->csc);
            break;
        default:
            break;
        }
    }
    char unit[64];
    if (st->tile_flat)
        snprintf(unit, sizeof unit, "%lld elements a tile (one chunk of the dot)",
                 (long long)st->tile_rows);
    else
        snprintf(unit, sizeof unit, "%lld rows of %s a tile", (long long)st->tile_rows,
                 st->tile_label);
    if (st->chain > 2)
        put(s, "%s|-- tiled   with steps %d-%d, %s\n", stem, i + 1, i + st->chain - 1,
            unit);
    else if (st->chain)
        put(s, "%s|-- tiled   with step %d, %s\n", stem, i + 1, unit);
    else if (st->chained && st->tile_summed &&
             (i + 1 == p->nsteps || !p->steps[i + 1].chained))
        put(s, "%s|-- tiled   with step %d, its input a tile at a time, its sums "
            "carried across tiles in double (one thread)\n", stem, i - 1);
    else if (st->chained)
        put(s, "%s|-- tiled   with step %d, its input a tile at a time\n", stem, i - 1);
    put(s, "%s`-- cost    %.0f flops, %.0f bytes\n", stem, st->flops, st->bytes);
}

/* The contraction order of three or more operands, numpy.einsum_path
 * style: per step the expression (each term's labels in memory order),
 * shapes, FLOPs counted as opt_einsum does, the intermediate's bytes and
 * the kernel; then the totals.  The planning time is the only figure that
 * varies from run to run, so it ends the last line. */
static void put_path(sbuf *s, const ein_plan *p)
{
    const ein_pathinfo *pi = &p->path;
    size_t esize = ein_dtype_size(p->dtype);
    put(s, "|-- path  %s%s, %d steps (FLOPs counted as opt_einsum does)\n",
        pi->explicit_path ? "explicit" : ein_path_algo_name(pi->algo),
        pi->refit ? " then reordered for memory_limit's workspace" : "", p->nsteps);
    for (int i = 0; i < p->nsteps; i++) {
        const ein_step *st = &p->steps[i];
        put(s, "|   |-- %d: %s  %.0f flops, ", i, st->pexpr, st->pflops);
        if (st->psize > 0)
            put(s, "%.0f bytes, ", st->psize * (double)esize);
        else
            put(s, "into out, ");
        put(s, "%s\n", kind_name(st->kind));
    }
    put(s, "|   `-- naive %.6g flops, optimized %.6g flops, speedup %.3gx, "
        "largest intermediate %.0f bytes, workspace %zu bytes, planned in %.0f us\n",
        pi->naive_flops, pi->flops, pi->flops > 0 ? pi->naive_flops / pi->flops : 1.0,
        pi->largest * (double)esize, p->workspace, p->plan_us);
}

size_t ein_plan_explain(const ein_plan *p, char *buf, size_t cap)
{
    sbuf s = {buf, cap, 0};
    if (cap)
        buf[0] = '\0';
    if (!p)
        return 0;
    /* The thread count is a cap: kernels use one thread on small work. */
    if (p->nthreads == 1)
        put(&s, "einsum \"%s\"  %s, kernels %s, 1 thread\n", p->text,
            ein_dtype_name(p->dtype), p->kt->name);
    else
        put(&s, "einsum \"%s\"  %s, kernels %s, up to %d threads\n", p->text,
            ein_dtype_name(p->dtype), p->kt->name, p->nthreads);
    for (int k = 0; k < p->nops; k++) {
        put(&s, "|-- op%d  %s ", k, ein_dtype_name(p->op_dtype[k]));
        put_dims(&s, &p->op_shape[k * EIN_MAX_DIMS], p->op_ndim[k]);
        put(&s, " strides ");
        put_dims(&s, &p->op_stride[k * EIN_MAX_DIMS], p->op_ndim[k]);
        if (p->slots[k].in_workspace)
            put(&s, " (converted to %s)", ein_dtype_name(p->dtype));
        put(&s, "\n");
    }
    put(&s, "|-- out  %s ", ein_dtype_name(p->out_dtype));
    put_dims(&s, p->out_shape, p->out_ndim);
    put(&s, " strides ");
    put_dims(&s, p->out_stride, p->out_ndim);
    put(&s, "\n");
    if (p->squeezed[0])
        put(&s, "|-- squeeze  %s (extent 1: out of every loop nest)\n", p->squeezed);
    if (p->unbroadcast[0])
        put(&s, "|-- unbroadcast  %s (stride 0: that operand repeats along it)\n",
            p->unbroadcast);
    if (p->workspace)
        put(&s, "|-- workspace  %zu bytes of temporaries%s\n", p->workspace,
            p->keep_ws ? ", kept from one execute to the next" : "");
    if (p->nops >= 3 && p->nsteps > 0 && p->steps[0].kind != EIN_K_ZERO)
        put_path(&s, p);
    if (p->nsteps == 0)
        put(&s, "`-- (no steps: the result is empty)\n");
    for (int i = 0; i < p->nsteps; i++)
        put_step(&s, p, i, i == p->nsteps - 1);
    put(&s, "total: %.0f flops, %.0f bytes\n", p->flops, p->bytes);
    return s.len;
}
