/* main.c — einsum-bench: runs named workloads (or one from the command
 * line) through prebuilt einsum plans, interleaved round by round with
 * the peers (OpenBLAS on both cores, the generic loop nest, a GEMM of the
 * same FLOP count), and prints medians, rates, percent of peak and ratios
 * as a table and, with --json, as JSON. */
#define _GNU_SOURCE
#include <fnmatch.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "internal.h"

/* Fewest interleaved rounds a workload gets, however long its calls. */
#define BN_MIN_ROUNDS 3

/* ---- options and workloads --------------------------------------------------- */

typedef struct options {
    bool        quick, list, probe_only, no_openblas, no_generic;
    const char *only;
    const char *json;
    int         threads[8];
    int         nthreads;             /* 0: per-group defaults */
    double      budget;               /* seconds per contender per workload */
    int         rounds;
    const char *expr, *shapes, *storage;
    ein_dtype   dtype;
    int         pin;                  /* --pin: a CPU, BN_PIN_FIRST or BN_PIN_OFF */
    char        pin_why[120];         /* why nothing is pinned, if asked */
} options;

typedef struct work {
    char    name[96];
    char    what[160];                /* one line for --list */
    bn_spec spec;
    int     threads;
    bool    oneshot;                  /* time einsum() itself, not a plan */
    bool    vs_gemm;                  /* also time a GEMM of the same FLOPs */
} work;

enum { C_EIN, C_OBX, C_OBA, C_GEN, C_GEQ, C_N };
static const char *const cname[C_N] = {
    "einsum", "openblas_skylakex", "openblas_auto", "generic", "gemm_same_flops"};

typedef struct cstat {
    bool        ran;
    char        why[200];             /* why it did not run, or a note */
    bn_samples *s;
    double      med, min;
} cstat;

typedef struct result {
    work        w;
    bool        ok;
    char        err[300];
    double      flops, bytes;
    bool        bw;                   /* rate in GB/s (GEMV, dot) */
    const char *level;                /* what percent-of-peak divides by */
    double      peak;
    char        kernel[96];
    size_t      workspace;
    char        check[64];            /* einsum vs generic output */
    cstat       c[C_N];
    double      geq_flops;
    int64_t     geq_n;
} result;

static work   *works;
static int     nworks, capworks;
static result *results;
static int     nresults;
static bn_machine mach;
static char    ob_core[2][224], ob_config[192];
/* Why the SkylakeX child is not run at all (this CPU lacks AVX-512), said
 * once in the header; empty where it is tried. */
static char    ob_skx_off[160];
static bool    ob_skx_on;             /* the SkylakeX child started */
/* The auto core's best FLOP rate so far on a flop-bound workload, per
 * [dtype][threads], and where it was seen: what its skip estimates. */
#define BN_MAXTHREADS 64
static struct { double flops; char from[96]; } ob_auto_best[2][BN_MAXTHREADS + 1];

static work *add_work(void)
{
    if (nworks == capworks) {
        capworks = capworks ? 2 * capworks : 64;
        works = realloc(works, (size_t)capworks * sizeof *works);
        if (!works) {
            fprintf(stderr, "einsum-bench: out of memory\n");
            exit(1);
        }
    }
    work *w = &works[nworks++];
    memset(w, 0, sizeof *w);
    return w;
}

static bool spec_init(bn_spec *s, const char *expr, const char *shapes,
                      const char *storage, ein_dtype dt)
{
    char why[200];
    memset(s, 0, sizeof *s);
    snprintf(s->expr, sizeof s->expr, "%s", expr);
    s->dtype = dt;
    if (!bn_spec_parse_shapes(s, shapes, NULL, why, sizeof why) ||
        (storage && !bn_spec_storage_letters(s, storage, why, sizeof why))) {
        fprintf(stderr, "einsum-bench: %s %s: %s\n", expr, shapes, why);
        return false;
    }
    return true;
}

/* Add one workload per thread count (the group's defaults unless
 * --threads was given). */
static void add(const options *o, const int *def_threads, int ndef, bool oneshot,
                bool vs_gemm, const char *name, const char *what, const char *expr,
                const char *shapes, const char *storage, ein_dtype dt)
{
    if (o->only && fnmatch(o->only, name, 0) != 0 && !strstr(name, o->only))
        return;
    const int *th = o->nthreads ? o->threads : def_threads;
    int nth = o->nthreads ? o->nthreads : ndef;
    for (int i = 0; i < nth; i++) {
        work *w = add_work();
        snprintf(w->name, sizeof w->name, "%s", name);
        snprintf(w->what, sizeof w->what, "%s", what);
        if (!spec_init(&w->spec, expr, shapes, storage, dt)) {
            nworks--;
            return;
        }
        w->threads = th[i];
        w->oneshot = oneshot;
        w->vs_gemm = vs_gemm;
    }
}

static const char *dn(ein_dtype dt) { return dt == EIN_F64 ? "f64" : "f32"; }

static void build_workloads(const options *o)
{
    static const int one[] = {1}, both[] = {1, 2};
    char name[96], what[160], shapes[128];
    if (o->expr) {
        snprintf(name, sizeof name, "expr:%s", o->expr);
        snprintf(what, sizeof what, "%s %s (command line)", o->expr, o->shapes);
        add(o, one, 1, false, false, name, what, o->expr, o->shapes, o->storage, o->dtype);
        return;
    }
    add(o, one, 1, false, false, "headline-gemv-f32-100x50",
        "ij,j->i [100,50] f32, prebuilt plan: ns per ein_execute",
        "ij,j->i", "100x50,50", NULL, EIN_F32);
    /* The mission's other two ways to the headline's result: a matmul by
     * a [50, 1] weight and a one-output linear layer (x W^T), both
     * squeezed to the same GEMV by the planner; then the linear layer
     * with a hundred outputs over a batch of eight rows. */
    add(o, one, 1, false, false, "motive-matmul-f32-100x50",
        "ij,jk->ik [100,50] x [50,1] f32, prebuilt plan (k = 1 squeezed)",
        "ij,jk->ik", "100x50,50x1", NULL, EIN_F32);
    add(o, one, 1, false, false, "motive-linear-f32-100x50",
        "ij,kj->ik [100,50] x [1,50]^T f32, prebuilt plan (k = 1 squeezed)",
        "ij,kj->ik", "100x50,1x50", NULL, EIN_F32);
    add(o, one, 1, false, false, "linear-f32-8x50-100",
        "bi,oi->bo [8,50] x [100,50]^T f32: a linear layer on a batch of 8",
        "bi,oi->bo", "8x50,100x50", NULL, EIN_F32);
    add(o, one, 1, false, false, "tiny-plan-dot4",
        "i,i-> 4 elements f32, prebuilt plan: call overhead of ein_execute",
        "i,i->", "4,4", NULL, EIN_F32);
    add(o, one, 1, true, false, "tiny-oneshot-dot4",
        "i,i-> 4 elements f32 through einsum(): parse/plan cache + execute",
        "i,i->", "4,4", NULL, EIN_F32);

    static const int64_t full[] = {64, 128, 256, 512, 1024, 2048, 4096};
    static const int64_t quick[] = {64, 256, 1024};
    const int64_t *ns = o->quick ? quick : full;
    int nn = o->quick ? 3 : 7;
    for (int d = 0; d < 2; d++) {
        ein_dtype dt = d ? EIN_F64 : EIN_F32;
        for (int i = 0; i < nn; i++) {
            long long n = ns[i];
            snprintf(shapes, sizeof shapes, "%lldx%lld,%lld", n, n, n);
            snprintf(name, sizeof name, "gemv-rows-%s-%lld", dn(dt), n);
            snprintf(what, sizeof what, "ij,j->i [%lld,%lld] %s (rows contiguous)", n, n, dn(dt));
            add(o, one, 1, false, false, name, what, "ij,j->i", shapes, NULL, dt);
            snprintf(name, sizeof name, "gemv-cols-%s-%lld", dn(dt), n);
            snprintf(what, sizeof what, "ij,i->j [%lld,%lld] %s (columns contiguous)", n, n, dn(dt));
            add(o, one, 1, false, false, name, what, "ij,i->j", shapes, NULL, dt);
        }
    }
    for (int d = 0; d < 2; d++) {
        ein_dtype dt = d ? EIN_F64 : EIN_F32;
        for (int i = 0; i < nn; i++) {
            long long n = ns[i];
            snprintf(shapes, sizeof shapes, "%lldx%lld,%lldx%lld", n, n, n, n);
            snprintf(name, sizeof name, "gemm-%s-%lld", dn(dt), n);
            snprintf(what, sizeof what, "ij,jk->ik n=%lld %s", n, dn(dt));
            add(o, both, 2, false, false, name, what, "ij,jk->ik", shapes, NULL, dt);
        }
    }
    /* Tiny products: the cost between the products counts as much as
     * the products.  nt: A B^T ("bij,bkj->bik", attention's scores),
     * where B is read transposed. */
    static const struct { const char *dt; int b, n; bool nt; } bg[] = {
        {"f32", 256, 32, false}, {"f32", 32, 256, false}, {"f64", 32, 256, false},
        {"f32", 4096, 4, false}, {"f64", 1024, 8, false}, {"f32", 256, 32, true},
        {"f32", 4096, 8, true}};
    for (size_t i = 0; i < sizeof bg / sizeof bg[0]; i++) {
        int b = bg[i].b, n = bg[i].n;
        if (o->quick)
            b /= 4;
        ein_dtype dt = bg[i].dt[1] == '6' ? EIN_F64 : EIN_F32;
        const char *ex = bg[i].nt ? "bij,bkj->bik" : "bij,bjk->bik";
        snprintf(shapes, sizeof shapes, "%dx%dx%d,%dx%dx%d", b, n, n, b, n, n);
        snprintf(name, sizeof name, "bgemm-%s%s-b%d-n%d", bg[i].nt ? "nt-" : "",
                 bg[i].dt, b, n);
        snprintf(what, sizeof what, "%s b=%d n=%d %s", ex, b, n, bg[i].dt);
        add(o, both, 2, false, false, name, what, ex, shapes, NULL, dt);
    }
    int e = o->quick ? 32 : 48;
    snprintf(shapes, sizeof shapes, "%dx%dx%dx%d,%dx%dx%dx%d", e, e, e, e, e, e, e, e);
    snprintf(name, sizeof name, "perm-abcd,dbef->acef-%d", e);
    snprintf(what, sizeof what, "abcd,dbef->acef extents %d, f32, C-order operands", e);
    add(o, both, 2, false, true, name, what, "abcd,dbef->acef", shapes, NULL, EIN_F32);
    snprintf(name, sizeof name, "perm-abcd,dbef->acef-%d-T", e);
    snprintf(what, sizeof what, "abcd,dbef->acef extents %d, f32, transposed views (stored dcba, fedb)", e);
    add(o, both, 2, false, true, name, what, "abcd,dbef->acef", shapes, "dcba,fedb", EIN_F32);
    snprintf(name, sizeof name, "perm-abcd,cdef->abef-%d-T", e);
    snprintf(what, sizeof what, "abcd,cdef->abef extents %d, f32, transposed views (stored dcba, fedc)", e);
    add(o, both, 2, false, true, name, what, "abcd,cdef->abef", shapes, "dcba,fedc", EIN_F32);
    int il = o->quick ? 256 : 512, jk = o->quick ? 32 : 64;
    snprintf(shapes, sizeof shapes, "%dx%dx%d,%dx%dx%d", il, jk, jk, jk, jk, il);
    snprintf(name, sizeof name, "perm-ijk,jkl->il-%d-%d", il, jk);
    snprintf(what, sizeof what, "ijk,jkl->il i=l=%d j=k=%d f32", il, jk);
    add(o, both, 2, false, true, name, what, "ijk,jkl->il", shapes, NULL, EIN_F32);
}

/* ---- contenders ------------------------------------------------------------ */

typedef struct ctx_plan {
    const ein_plan *plan;
    const ein_tensor *const *ops;
    ein_tensor *out;
} ctx_plan;

static int call_plan(void *c)
{
    ctx_plan *x = c;
    return ein_execute(x->plan, x->ops, x->out) != EIN_OK;
}

typedef struct ctx_oneshot {
    const char *expr;
    int nops;
    const ein_tensor *const *ops;
    ein_tensor *out;
} ctx_oneshot;

static int call_oneshot(void *c)
{
    ctx_oneshot *x = c;
    return einsum_v(x->expr, x->nops, x->ops, x->out) != EIN_OK;
}

static const char *kind_name(ein_kind k)
{
    switch (k) {
    case EIN_K_ZERO:    return "zero";
    case EIN_K_GENERIC: return "loops";
    case EIN_K_DOT:     return "dot";
    case EIN_K_GEMV:    return "gemv";
    case EIN_K_GEMM:    return "gemm";
    case EIN_K_OUTER:   return "outer";
    }
    return "?";
}

/* Largest |a-b| relative to the largest |b|: einsum against the loop nest. */
static double max_rel_diff(ein_dtype dt, const void *a, const void *b, size_t n)
{
    double d = 0, m = 0;
    for (size_t i = 0; i < n; i++) {
        double x = dt == EIN_F64 ? ((const double *)a)[i] : ((const float *)a)[i];
        double y = dt == EIN_F64 ? ((const double *)b)[i] : ((const float *)b)[i];
        if (fabs(x - y) > d || x != x)
            d = x != x ? INFINITY : fabs(x - y);
        if (fabs(y) > m)
            m = fabs(y);
    }
    return m > 0 ? d / m : d;
}

/* Estimated seconds per call, to size rounds and skip slow peers. */
static double estimate(const result *r, double rate_flops)
{
    return r->flops / rate_flops;
}

/* The FLOP rate the auto core's skip assumes, and in basis what it rests
 * on.  Best is what it achieved earlier in this run with the same dtype
 * and threads (the ladders run small n first).  Assuming a slow generic
 * core wherever its name differed from SkylakeX's left the Zen 3 run
 * without an OpenBLAS figure for one-thread GEMM 2048 (est. 1.4 s/call),
 * GEMM 4096 and the permuted 4-D workloads, where the auto core ("Zen",
 * OpenBLAS 0.3.21's Haswell kernels) ran GEMM f32 at ~80 GFLOP/s on one
 * thread, not 12, and SkylakeX could not run at all.  Without a
 * measurement: half the probe's FMA peak where the auto core is the
 * SkylakeX one or the only one; otherwise ~12 (f32) or ~6 (f64) GFLOP/s
 * per thread, about what a generic core did on the Zen 5. */
static double auto_rate(const result *r, char *basis, size_t cap, bool *known)
{
    int d = r->w.spec.dtype == EIN_F64, t = r->w.threads;
    *known = true;
    if (t <= BN_MAXTHREADS && ob_auto_best[d][t].flops > 0) {
        snprintf(basis, cap, "its best so far, on %s", ob_auto_best[d][t].from);
        return ob_auto_best[d][t].flops;
    }
    if (r->peak > 0 && (!ob_skx_on || strcmp(ob_core[0], ob_core[1]) == 0)) {
        snprintf(basis, cap, "half the FMA peak, %s", ob_skx_on ? "the same core as SkylakeX"
                                                              : "the only OpenBLAS core");
        return 0.5 * r->peak * 1e9;
    }
    snprintf(basis, cap, "assumed for a generic core");
    *known = false;
    return (d ? 6e9 : 12e9) * t;
}

static void measure(const options *o, result *r)
{
    work *w = &r->w;
    bn_spec *sp = &w->spec;
    bn_operands ops;
    bn_output out = {0}, gout = {0};
    ein_plan *plan = NULL, *gplan = NULL, *qplan = NULL;
    bn_operands qops = {0};
    bn_output qout = {0};
    ein_options opt = {.num_threads = w->threads};
    ein_status st;
    for (int c = 0; c < C_N; c++) {
        r->c[c].s = calloc(1, sizeof(bn_samples));
        if (!r->c[c].s) {
            snprintf(r->err, sizeof r->err, "out of memory");
            return;
        }
    }
    if (!bn_operands_alloc(&ops, sp, 1234567)) {
        snprintf(r->err, sizeof r->err, "out of memory for the operands");
        return;
    }
    plan = ein_plan_new(sp->expr, sp->nops, ops.opp, NULL, &opt, &st);
    int64_t oshape[EIN_MAX_DIMS];
    ein_dtype odt = sp->dtype;
    if (!plan) {
        snprintf(r->err, sizeof r->err, "%s: %s", ein_status_str(st), ein_last_error());
        goto done;
    }
    int ond = ein_plan_result(plan, &odt, oshape);
    if (!bn_output_alloc(&out, odt, ond, oshape)) {
        snprintf(r->err, sizeof r->err, "out of memory for the output");
        goto done;
    }
    /* Rebuild against the real output view (C order, same as NULL). */
    r->ok = true;
    r->flops = plan->flops;
    r->bytes = (double)(ops.bytes + out.bytes);
    r->workspace = plan->workspace;
    r->bw = plan->nsteps > 0;
    size_t kl = 0;
    for (int i = 0; i < plan->nsteps; i++) {
        ein_kind k = plan->steps[i].kind;
        r->bw &= k == EIN_K_GEMV || k == EIN_K_DOT;
        int n = snprintf(r->kernel + kl, sizeof r->kernel - kl, "%s%s", i ? "+" : "",
                         kind_name(k));
        if (n > 0 && (size_t)n < sizeof r->kernel - kl)
            kl += (size_t)n;
    }
    snprintf(r->kernel + kl, sizeof r->kernel - kl, "/%s", plan->kt ? plan->kt->name : "?");
    if (r->bw)
        r->peak = bn_peak_bw(&mach, r->bytes, w->threads, &r->level);
    else {
        r->peak = bn_peak_flops(&mach, sp->dtype, w->threads);
        r->level = "fma";
    }

    ctx_plan cp = {plan, ops.opp, &out.t};
    ctx_oneshot co = {sp->expr, sp->nops, ops.opp, &out.t};
    ctx_plan cg = {0}, cq = {0};

    /* The generic loop nest: only where it finishes in reasonable time. */
    double gen_limit = o->quick ? 0.1e9 : 1.2e9;
    if (o->no_generic)
        snprintf(r->c[C_GEN].why, sizeof r->c[C_GEN].why, "disabled");
    else if (r->flops > gen_limit)
        snprintf(r->c[C_GEN].why, sizeof r->c[C_GEN].why,
                 "generic skipped (%.2g FLOP > %.2g)", r->flops, gen_limit);
    else {
        gplan = ein_plan_build(sp->expr, sp->nops, ops.opp, NULL, &opt, NULL, true, &st);
        if (gplan && bn_output_alloc(&gout, odt, ond, oshape)) {
            cg = (ctx_plan){gplan, ops.opp, &gout.t};
            r->c[C_GEN].ran = true;
        } else {
            snprintf(r->c[C_GEN].why, sizeof r->c[C_GEN].why, "generic: %s",
                     ein_last_error());
        }
    }

    /* OpenBLAS on both cores; the auto core can be a slow generic one (it
     * ran ~10x slower on the Zen 5), so it is skipped where one call
     * would take over a second at the rate auto_rate assumes for such a
     * core.  Where the rate rests on the core's own speed it runs up to
     * five seconds a call: the GEMM targets go to n = 4096, whose f64
     * call takes ~3.5 s on one Zen 3 core.  Where this CPU cannot run
     * SkylakeX, the header says so once and the rows say nothing of it. */
    bn_peer *peer[2] = {NULL, NULL};
    for (int k = 0; k < 2; k++) {
        cstat *c = &r->c[k ? C_OBA : C_OBX];
        if (o->no_openblas || !bn_peer_available()) {
            snprintf(c->why, sizeof c->why, "%s", o->no_openblas ? "disabled" : "no OpenBLAS");
            continue;
        }
        if (k == 0 && ob_skx_off[0])
            continue;
        if (k == 1 && !r->bw) {
            char basis[128];
            bool known;
            double rate = auto_rate(r, basis, sizeof basis, &known);
            double lim = (o->quick ? 0.1 : 1.0) * (known ? 5 : 1);
            if (estimate(r, rate) > lim) {
                snprintf(c->why, sizeof c->why,
                         "auto core skipped (est. %.1f s/call at %.1f GFLOP/s: %s)",
                         estimate(r, rate), rate * 1e-9, basis);
                continue;
            }
        }
        peer[k] = bn_peer_get(k == 0, w->threads, c->why, sizeof c->why);
        c->ran = peer[k] != NULL;
    }

    /* A plain GEMM with the same FLOP count, for the permuted contractions. */
    if (w->vs_gemm) {
        int64_t n = llround(cbrt(r->flops / 2));
        char shapes[96];
        snprintf(shapes, sizeof shapes, "%lldx%lld,%lldx%lld", (long long)n,
                 (long long)n, (long long)n, (long long)n);
        bn_spec qs;
        if (spec_init(&qs, "ij,jk->ik", shapes, NULL, sp->dtype) &&
            bn_operands_alloc(&qops, &qs, 7) &&
            (qplan = ein_plan_new(qs.expr, 2, qops.opp, NULL, &opt, &st)) != NULL) {
            int64_t qshape[2] = {n, n};
            if (bn_output_alloc(&qout, sp->dtype, 2, qshape)) {
                cq = (ctx_plan){qplan, qops.opp, &qout.t};
                r->c[C_GEQ].ran = true;
                r->geq_n = n;
                r->geq_flops = qplan->flops;
            }
        }
        if (!r->c[C_GEQ].ran)
            snprintf(r->c[C_GEQ].why, sizeof r->c[C_GEQ].why, "gemm n=%lld: no memory",
                     (long long)n);
    }
    r->c[C_EIN].ran = true;

    /* Rounds: each contender gets budget/rounds per round, peers
     * interleaved with einsum so a noisy neighbour hits all of them.
     * Calls that take a large part of the budget get fewer rounds, but
     * never fewer than BN_MIN_ROUNDS (or --rounds, if less): a ratio of
     * single calls made seconds apart moved by 10% between runs of one
     * build on the shared VM (GEMM 4096^2 on two threads). */
    double est = r->bw ? r->bytes / (r->peak * 1e9) : r->flops / (0.5 * r->peak * 1e9);
    int rounds = o->rounds;
    int min_rounds = o->rounds < BN_MIN_ROUNDS ? o->rounds : BN_MIN_ROUNDS;
    if (est > 0 && o->budget / est < 2.0 * rounds)
        rounds = (int)(o->budget / (2.0 * est));
    if (rounds < min_rounds)
        rounds = min_rounds;
    if (rounds < 1)
        rounds = 1;
    double per = o->budget / rounds;
    for (int round = 0; round < rounds; round++) {
        for (int j = 0; j < C_N; j++) {
            int c = (j + round) % C_N;
            cstat *cs = &r->c[c];
            if (!cs->ran)
                continue;
            int fail = 0;
            switch (c) {
            case C_EIN:
                fail = w->oneshot ? bn_sample(call_oneshot, &co, per, 1, cs->s)
                                  : bn_sample(call_plan, &cp, per, 1, cs->s);
                if (fail)
                    snprintf(r->err, sizeof r->err, "execute: %s", ein_last_error());
                break;
            case C_GEN:
                fail = bn_sample(call_plan, &cg, per, 1, cs->s);
                break;
            case C_GEQ:
                fail = bn_sample(call_plan, &cq, per, 1, cs->s);
                break;
            default: {
                char note[200];
                int rc = bn_peer_run(peer[c == C_OBA], sp, per, 1, cs->s, note, sizeof note);
                snprintf(cs->why, sizeof cs->why, "%s", note);
                fail = rc != 0;
                break;
            }
            }
            if (fail) {
                cs->ran = false;
                if (c == C_EIN)
                    r->ok = false;
            }
        }
    }
    for (int c = 0; c < C_N; c++) {
        if (r->c[c].s->n == 0)
            r->c[c].ran = false;
        if (r->c[c].ran) {
            r->c[c].med = bn_median(r->c[c].s);
            r->c[c].min = bn_min(r->c[c].s);
        }
    }
    /* What the auto core achieved, for the skips of larger workloads. */
    const cstat *oa = &r->c[C_OBA];
    if (!r->bw && r->ok && oa->ran && oa->med > 0 && w->threads <= BN_MAXTHREADS) {
        int d = sp->dtype == EIN_F64;
        double fl = r->flops / oa->med;
        if (fl > ob_auto_best[d][w->threads].flops) {
            ob_auto_best[d][w->threads].flops = fl;
            snprintf(ob_auto_best[d][w->threads].from, sizeof ob_auto_best[d][w->threads].from,
                     "%s", w->name);
        }
    }
    if (r->c[C_GEN].ran && r->ok) {
        double d = max_rel_diff(odt, out.buf, gout.buf, out.bytes / ein_dtype_size(odt));
        double tol = odt == EIN_F64 ? 1e-10 : 1e-3;
        snprintf(r->check, sizeof r->check, d <= tol ? "" : "MISMATCH vs generic (%.2g)", d);
    }
done:
    ein_plan_free(plan);
    ein_plan_free(gplan);
    ein_plan_free(qplan);
    bn_operands_free(&ops);
    bn_operands_free(&qops);
    bn_output_free(&out);
    bn_output_free(&gout);
    bn_output_free(&qout);
}

/* ---- output ------------------------------------------------------------------ */

static void fmt_time(char *b, size_t cap, double s)
{
    if (s <= 0)
        snprintf(b, cap, "-");
    else if (s < 1e-6)
        snprintf(b, cap, "%.0f ns", s * 1e9);
    else if (s < 1e-3)
        snprintf(b, cap, "%.2f us", s * 1e6);
    else if (s < 1)
        snprintf(b, cap, "%.2f ms", s * 1e3);
    else
        snprintf(b, cap, "%.3f s", s);
}

static double rate_of(const result *r, double t)
{
    return t > 0 ? (r->bw ? r->bytes : r->flops) / t * 1e-9 : 0;
}

static void fmt_ratio(char *b, size_t cap, const result *r, int c)
{
    if (!r->ok || !r->c[c].ran || !r->c[C_EIN].ran)
        snprintf(b, cap, "-");
    else
        snprintf(b, cap, "%.2fx", r->c[c].med / r->c[C_EIN].med);
}

/* Which OpenBLAS core was faster for this workload, by its median (or,
 * with by_min, its fastest call): C_OBX, C_OBA or -1. */
static int best_ob(const result *r, bool by_min)
{
    int b = -1;
    for (int c = C_OBX; c <= C_OBA; c++)
        if (r->c[c].ran && (b < 0 || (by_min ? r->c[c].min < r->c[b].min
                                             : r->c[c].med < r->c[b].med)))
            b = c;
    return b;
}

/* minOB: the faster OpenBLAS core's fastest call / einsum's fastest.  On a
 * shared VM whose speed drifts for minutes, medians of three seconds-long
 * calls carry the drift; the fastest call of each says what either can do. */
static void fmt_min_ratio(char *b, size_t cap, const result *r)
{
    int c = best_ob(r, true);
    if (!r->ok || c < 0 || !r->c[C_EIN].ran || r->c[C_EIN].min <= 0)
        snprintf(b, cap, "-");
    else
        snprintf(b, cap, "%.2fx", r->c[c].min / r->c[C_EIN].min);
}

static void print_header(const options *o)
{
    printf("# einsum-bench  %s, %d CPUs, kernel table %s%s\n", mach.cpu, mach.ncpu,
           mach.ktable, o->quick ? "  (--quick)" : "");
    if (bn_pin_cpu() >= 0)
        printf("# one-thread work (einsum, the OpenBLAS children, the probe) runs on CPU %d;"
               " two threads on any\n", bn_pin_cpu());
    else
        printf("# nothing pinned: each contender runs where the scheduler puts it\n");
    if (mach.probed) {
        /* Only what ran: the AVX-512 loops are not run without it, and
         * their zeros read as a measurement. */
        if (mach.has_avx512)
            printf("# probe: FMA f32 avx512 %.0f / %.0f GFLOP/s (1/2 threads), f64 %.0f / %.0f;"
                   " avx2 f32 %.0f / %.0f, f64 %.0f / %.0f\n",
                   mach.fma512[0][0], mach.fma512[0][1], mach.fma512[1][0], mach.fma512[1][1],
                   mach.fma256[0][0], mach.fma256[0][1], mach.fma256[1][0], mach.fma256[1][1]);
        else if (mach.has_avx2)
            printf("# probe: FMA f32 avx2 %.0f / %.0f GFLOP/s (1/2 threads), f64 %.0f / %.0f;"
                   " avx512 not available on this CPU\n",
                   mach.fma256[0][0], mach.fma256[0][1], mach.fma256[1][0], mach.fma256[1][1]);
        else
            printf("# probe: FMA: neither avx512 nor avx2 (with FMA) on this CPU\n");
        printf("# probe: read L1 (32 KiB) %.0f GB/s, L2 (%zu KiB) %.0f GB/s, L3 (16 MiB) %.0f /"
               " %.0f GB/s, 64 MiB %.1f / %.1f GB/s, memory (256 MiB) %.1f / %.1f GB/s (1/2"
               " threads; best of several runs, one stream or eight)\n", mach.bw_l1,
               mach.l2 / 2 / 1024, mach.bw_l2, mach.bw_l3, mach.bw_l32, mach.bw_64m,
               mach.bw_64m2, mach.bw_mem, mach.bw_mem2);
    }
    if (!bn_peer_available())
        printf("# OpenBLAS: not found at configure time (no OpenBLAS columns)\n");
    else if (o->no_openblas)
        printf("# OpenBLAS: disabled (--no-openblas)\n");
    else if (ob_skx_off[0])
        printf("# OpenBLAS: OPENBLAS_CORETYPE=SkylakeX not run (%s); unset -> core %s (%s);"
               " bestOB is that core\n", ob_skx_off, ob_core[1], ob_config);
    else
        printf("# OpenBLAS: OPENBLAS_CORETYPE=SkylakeX -> core %s; unset -> core %s"
               " (%s)\n", ob_core[0], ob_core[1], ob_config);
    printf("# times: median and min per call over warm repeats; ratios: peer median /"
           " einsum median (>1: einsum faster);\n#   bestOB: the faster OpenBLAS core;"
           " minOB: the fastest OpenBLAS call / einsum's fastest;\n#  "
           " %%peak: FMA peak of the threads used, or read bandwidth where the bytes fit;\n"
           "#   ofGEMM: einsum rate / rate of ij,jk->ik with the same FLOPs\n");
    if (o->probe_only)
        return;
    printf("%-28s %3s %5s %9s %9s %11s %8s %7s %7s %7s %7s %7s %6s  %s\n", "workload",
           "thr", "reps", "median", "min", "rate", "%peak", "OBskx", "OBauto", "bestOB",
           "minOB", "generic", "ofGEMM", "notes");
}

static void print_row(const result *r)
{
    char med[24], mn[24], rate[24], pk[24], rx[16], ra[16], rb[16], rm[16], rg[16], rq[16];
    const cstat *e = &r->c[C_EIN];
    if (!r->ok) {
        printf("%-28s %3d  error: %s\n", r->w.name, r->w.threads, r->err);
        fflush(stdout);
        return;
    }
    fmt_time(med, sizeof med, e->med);
    fmt_time(mn, sizeof mn, e->min);
    double rt = rate_of(r, e->med);
    snprintf(rate, sizeof rate, "%.1f %s", rt, r->bw ? "GB/s" : "GF/s");
    if (r->peak > 0)
        snprintf(pk, sizeof pk, "%.0f%% %s", 100 * rt / r->peak, r->level);
    else
        snprintf(pk, sizeof pk, "-");
    fmt_ratio(rx, sizeof rx, r, C_OBX);
    fmt_ratio(ra, sizeof ra, r, C_OBA);
    int b = best_ob(r, false);
    if (b >= 0)
        fmt_ratio(rb, sizeof rb, r, b);
    else
        snprintf(rb, sizeof rb, "-");
    fmt_min_ratio(rm, sizeof rm, r);
    fmt_ratio(rg, sizeof rg, r, C_GEN);
    if (r->c[C_GEQ].ran)
        snprintf(rq, sizeof rq, "%.2f",
                 (r->flops / e->med) / (r->geq_flops / r->c[C_GEQ].med));
    else
        snprintf(rq, sizeof rq, "-");
    char notes[512];
    size_t n = 0;
#define NOTE(...) do { int k_ = snprintf(notes + n, sizeof notes - n, __VA_ARGS__); \
                       if (k_ > 0 && (size_t)k_ < sizeof notes - n) n += (size_t)k_; } while (0)
    NOTE("%s", r->kernel);
    if (r->workspace)
        NOTE(" ws=%.1fMiB", (double)r->workspace / 1048576.0);
    if (r->w.oneshot)
        NOTE(" einsum() per call (peers: prebuilt plan / direct cblas)");
    if (r->check[0])
        NOTE("; %s", r->check);
    /* What the OpenBLAS child did (both do the same); from the auto core
     * where SkylakeX did not run. */
    int obn = r->c[C_OBX].ran ? C_OBX : C_OBA;
    if (r->c[obn].ran && r->c[obn].why[0])
        NOTE("; OB: %s", r->c[obn].why);
    for (int c = C_OBX; c < C_N; c++) {
        bool dup = false;   /* both OpenBLAS cores give the same reason */
        for (int d = C_OBX; d < c; d++)
            dup |= !r->c[d].ran && strcmp(r->c[d].why, r->c[c].why) == 0;
        if (!r->c[c].ran && r->c[c].why[0] && !dup && strcmp(r->c[c].why, "disabled") != 0 &&
            strcmp(r->c[c].why, "no OpenBLAS") != 0)
            NOTE("; %s", r->c[c].why);
    }
    if (r->c[C_GEQ].ran)
        NOTE("; GEMM n=%lld", (long long)r->geq_n);
#undef NOTE
    printf("%-28s %3d %5d %9s %9s %11s %8s %7s %7s %7s %7s %7s %6s  %s\n", r->w.name,
           r->w.threads, e->s->n, med, mn, rate, pk, rx, ra, rb, rm, rg, rq, notes);
    fflush(stdout);
}

static bool write_json(const options *o, const char *path)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return false;
    fprintf(f, "{\n  \"machine\": {\"cpu\": ");
    bn_json_str(f, mach.cpu);
    fprintf(f, ", \"ncpu\": %d, \"pinned_cpu\": ", mach.ncpu);
    bn_pin_json(f);
    fputs(", \"kernel_table\": ", f);
    bn_json_str(f, mach.ktable);
    fprintf(f, ", \"quick\": %s},\n", o->quick ? "true" : "false");
    /* null (bn_json_num of NaN) for an ISA the CPU lacks, as the header
     * says "not available" rather than 0. */
    double x512 = mach.has_avx512 ? 1 : NAN, x256 = mach.has_avx2 ? 1 : NAN;
    fprintf(f, "  \"probe\": {\"fma_gflops\": {\"avx512_f32\": [");
    bn_json_num(f, x512 * mach.fma512[0][0]); fputs(", ", f);
    bn_json_num(f, x512 * mach.fma512[0][1]);
    fputs("], \"avx512_f64\": [", f);
    bn_json_num(f, x512 * mach.fma512[1][0]); fputs(", ", f);
    bn_json_num(f, x512 * mach.fma512[1][1]);
    fputs("], \"avx2_f32\": [", f);
    bn_json_num(f, x256 * mach.fma256[0][0]); fputs(", ", f);
    bn_json_num(f, x256 * mach.fma256[0][1]);
    fputs("], \"avx2_f64\": [", f);
    bn_json_num(f, x256 * mach.fma256[1][0]); fputs(", ", f);
    bn_json_num(f, x256 * mach.fma256[1][1]);
    fputs("]}, \"read_gbs\": {\"l1_32k\": ", f);
    bn_json_num(f, mach.bw_l1); fputs(", \"l2_half\": ", f);
    bn_json_num(f, mach.bw_l2); fprintf(f, ", \"l2_bytes\": %zu", mach.l2);
    fputs(", \"l3_16m\": ", f);
    bn_json_num(f, mach.bw_l3); fputs(", \"l3_16m_2threads\": ", f);
    bn_json_num(f, mach.bw_l32); fputs(", \"big_64m\": ", f);
    bn_json_num(f, mach.bw_64m); fputs(", \"big_64m_2threads\": ", f);
    bn_json_num(f, mach.bw_64m2); fputs(", \"mem_256m\": ", f);
    bn_json_num(f, mach.bw_mem); fputs(", \"mem_256m_2threads\": ", f);
    bn_json_num(f, mach.bw_mem2);
    fputs("}},\n  \"openblas\": {\"available\": ", f);
    fputs(bn_peer_available() && !o->no_openblas ? "true" : "false", f);
    fputs(", \"core_skylakex_env\": ", f);
    if (ob_skx_off[0]) {
        fputs("null, \"skylakex_not_run\": ", f);
        bn_json_str(f, ob_skx_off);
    } else {
        bn_json_str(f, ob_core[0]);
    }
    fputs(", \"core_auto\": ", f);
    bn_json_str(f, ob_core[1]);
    fputs(", \"config\": ", f);
    bn_json_str(f, ob_config);
    fputs("},\n  \"ratio_definition\": \"peer median time / einsum median time\",\n"
          "  \"min_ratio_definition\": \"peer min time / einsum min time\",\n", f);
    fputs("  \"workloads\": [\n", f);
    for (int i = 0; i < nresults; i++) {
        const result *r = &results[i];
        fputs("    {\"name\": ", f);
        bn_json_str(f, r->w.name);
        fputs(", \"expr\": ", f);
        bn_json_str(f, r->w.spec.expr);
        char desc[256];
        bn_spec_describe(&r->w.spec, desc, sizeof desc);
        fputs(", \"shapes\": ", f);
        bn_json_str(f, desc);
        fprintf(f, ", \"threads\": %d, \"ok\": %s", r->w.threads, r->ok ? "true" : "false");
        if (!r->ok) {
            fputs(", \"error\": ", f);
            bn_json_str(f, r->err);
            fputs("}", f);
        } else {
            fputs(", \"flops\": ", f); bn_json_num(f, r->flops);
            fputs(", \"bytes\": ", f); bn_json_num(f, r->bytes);
            fprintf(f, ", \"unit\": \"%s\", \"kernel\": ", r->bw ? "GB/s" : "GFLOP/s");
            bn_json_str(f, r->kernel);
            fprintf(f, ", \"workspace_bytes\": %zu, \"peak\": ", r->workspace);
            bn_json_num(f, r->peak);
            fputs(", \"peak_level\": ", f);
            bn_json_str(f, r->level);
            fputs(", \"check\": ", f);
            bn_json_str(f, r->check[0] ? r->check : "ok");
            fputs(", \"results\": {", f);
            bool first = true;
            for (int c = 0; c < C_N; c++) {
                const cstat *s = &r->c[c];
                if (!s->ran && !s->why[0])
                    continue;
                fprintf(f, "%s\n      ", first ? "" : ",");
                first = false;
                bn_json_str(f, cname[c]);
                if (!s->ran) {
                    fputs(": {\"ran\": false, \"why\": ", f);
                    bn_json_str(f, s->why);
                    fputs("}", f);
                    continue;
                }
                double fl = c == C_GEQ ? r->geq_flops : r->flops;
                fprintf(f, ": {\"ran\": true, \"reps\": %d, \"batch\": %ld, \"median_s\": ",
                        s->s->n, s->s->batch);
                bn_json_num(f, s->med);
                fputs(", \"min_s\": ", f);
                bn_json_num(f, s->min);
                fputs(", \"rate\": ", f);
                bn_json_num(f, c == C_GEQ ? fl / s->med * 1e-9 : rate_of(r, s->med));
                if (c != C_EIN) {
                    fputs(", \"ratio\": ", f);
                    bn_json_num(f, c == C_GEQ ? (r->flops / r->c[C_EIN].med) / (fl / s->med)
                                           : s->med / r->c[C_EIN].med);
                }
                if (c == C_OBX || c == C_OBA) {
                    fputs(", \"min_ratio\": ", f);
                    bn_json_num(f, r->c[C_EIN].min > 0 ? s->min / r->c[C_EIN].min : 0);
                }
                if (s->why[0]) {
                    fputs(", \"note\": ", f);
                    bn_json_str(f, s->why);
                }
                fputs("}", f);
            }
            fputs("}}", f);
        }
        fprintf(f, "%s\n", i + 1 < nresults ? "," : "");
    }
    fputs("  ]\n}\n", f);
    return fclose(f) == 0;
}

/* ---- main -------------------------------------------------------------------- */

static void usage(FILE *f)
{
    fprintf(f,
        "usage: einsum-bench [--quick] [--only PATTERN] [--list] [--probe]\n"
        "                    [--threads N[,M...]] [--budget SECONDS] [--rounds R]\n"
        "                    [--json FILE] [--no-openblas] [--no-generic] [--pin CPU|off]\n"
        "                    [--expr EXPR --shapes AxB,CxD [--dtype f32|f64]\n"
        "                     [--storage dcba,fedb]]\n"
        "Runs every named workload (or those whose name matches PATTERN, a glob\n"
        "or substring), or the one expression given.  --storage gives each\n"
        "operand's memory order as a permutation of its letters (a transposed\n"
        "view).  Ratios are peer median / einsum median: >1 means einsum is faster.\n"
        "One-thread work (einsum, the OpenBLAS children, the probe) runs on one CPU,\n"
        "the first this process may use unless --pin names another or is off.\n");
}

int main(int argc, char **argv)
{
    if (argc >= 3 && strcmp(argv[1], "--peer") == 0)
        return bn_peer_child_main();
    if (argc >= 2 && strcmp(argv[1], "--peer-death") == 0)
        return bn_peer_death_main(argc - 2, argv + 2);
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--paths"))
            return bn_paths_main(argc, argv);
    options o = {.dtype = EIN_F32, .rounds = 3, .pin = BN_PIN_FIRST};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
#define NEED() do { if (!v) { fprintf(stderr, "einsum-bench: %s needs a value\n", a); \
                              return 2; } i++; } while (0)
        if (!strcmp(a, "--quick")) o.quick = true;
        else if (!strcmp(a, "--list")) o.list = true;
        else if (!strcmp(a, "--probe")) o.probe_only = true;
        else if (!strcmp(a, "--no-openblas")) o.no_openblas = true;
        else if (!strcmp(a, "--no-generic")) o.no_generic = true;
        else if (!strcmp(a, "--only")) { NEED(); o.only = v; }
        else if (!strcmp(a, "--json")) { NEED(); o.json = v; }
        else if (!strcmp(a, "--expr")) { NEED(); o.expr = v; }
        else if (!strcmp(a, "--shapes")) { NEED(); o.shapes = v; }
        else if (!strcmp(a, "--storage")) { NEED(); o.storage = v; }
        else if (!strcmp(a, "--budget")) { NEED(); o.budget = atof(v); }
        else if (!strcmp(a, "--rounds")) { NEED(); o.rounds = atoi(v); }
        else if (!strcmp(a, "--pin")) {
            NEED();
            if (bn_pin_parse(v, &o.pin) < 0)
                return 2;
        }
        else if (!strcmp(a, "--dtype")) {
            NEED();
            if (strcmp(v, "f32") && strcmp(v, "f64")) {
                fprintf(stderr, "einsum-bench: --dtype is f32 or f64\n");
                return 2;
            }
            o.dtype = strcmp(v, "f64") ? EIN_F32 : EIN_F64;
        } else if (!strcmp(a, "--threads")) {
            NEED();
            for (const char *p = v; *p && o.nthreads < 8;) {
                char *end;
                long t = strtol(p, &end, 10);
                if (end == p || t < 1 || t > 64) {
                    fprintf(stderr, "einsum-bench: bad --threads '%s'\n", v);
                    return 2;
                }
                o.threads[o.nthreads++] = (int)t;
                p = *end == ',' ? end + 1 : end;
            }
        } else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "einsum-bench: unknown argument '%s'\n", a);
            usage(stderr);
            return 2;
        }
#undef NEED
    }
    if (o.expr && !o.shapes) {
        fprintf(stderr, "einsum-bench: --expr needs --shapes\n");
        return 2;
    }
    if (o.budget <= 0)
        o.budget = o.quick ? 0.06 : 0.3;
    if (o.rounds < 1)
        o.rounds = 1;
    if (o.quick && o.rounds > 2)
        o.rounds = 2;

    bn_machine_info(&mach);
    if (bn_pin_init(o.pin, o.pin_why, sizeof o.pin_why) < 0 && o.pin != BN_PIN_OFF)
        fprintf(stderr, "einsum-bench: --pin: %s; nothing pinned\n", o.pin_why);
    if (o.probe_only) {
        bn_probe(&mach, o.quick);
        o.no_openblas = true;
        print_header(&o);
        return 0;
    }
    build_workloads(&o);
    if (o.list) {
        for (int i = 0; i < nworks; i++)
            if (i == 0 || strcmp(works[i].name, works[i - 1].name) != 0)
                printf("%-30s %s\n", works[i].name, works[i].what);
        return 0;
    }
    if (nworks == 0) {
        fprintf(stderr, "einsum-bench: no workload matches '%s' (see --list)\n",
                o.only ? o.only : "");
        return 2;
    }
    bn_probe(&mach, o.quick);
    if (bn_peer_available() && !o.no_openblas) {
        if (!bn_peer_skx_supported())
            snprintf(ob_skx_off, sizeof ob_skx_off, "this CPU lacks AVX-512 (F/BW/DQ/VL),"
                     " which its kernels need");
        for (int k = ob_skx_off[0] ? 1 : 0; k < 2; k++) {
            char why[200];
            bn_peer *p = bn_peer_get(k == 0, 1, why, sizeof why);
            snprintf(ob_core[k], sizeof ob_core[k], "%s", p ? bn_peer_core(p) : why);
            if (p && !ob_config[0])
                snprintf(ob_config, sizeof ob_config, "%s", bn_peer_config(p));
            if (k == 0)
                ob_skx_on = p != NULL;
        }
    }
    print_header(&o);
    results = calloc((size_t)nworks, sizeof *results);
    if (!results)
        return 1;
    double t0 = bn_now();
    for (int i = 0; i < nworks; i++) {
        result *r = &results[nresults++];
        r->w = works[i];
        bn_pin_self(r->w.threads == 1);
        measure(&o, r);
        print_row(r);
    }
    printf("# %d workloads in %.1f s\n", nresults, bn_now() - t0);
    bn_peers_close();
    int rc = 0;
    if (o.json) {
        if (write_json(&o, o.json))
            printf("# wrote %s\n", o.json);
        else {
            fprintf(stderr, "einsum-bench: cannot write %s\n", o.json);
            rc = 1;
        }
    }
    for (int i = 0; i < nresults; i++)
        for (int c = 0; c < C_N; c++)
            free(results[i].c[c].s);
    free(results);
    free(works);
    return rc;
}
