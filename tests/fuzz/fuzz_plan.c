/* fuzz_plan.c — parse + bind + plan (+ execute when small) with fuzzed
 * shapes, strides, dtypes, options and subscripts.  Extents and strides
 * come from a table of hostile values (0, negative, 2^31, 2^62, INT64_MAX,
 * INT64_MIN) as well as small ones, so every product and byte count the
 * planner forms is pushed towards overflow.  Any status is fine; a crash,
 * a sanitizer report, a leak, a failure without a message, a plan whose
 * workspace is over its memory_limit, or a plan that then fails to run on
 * conforming buffers is not. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "casegen.h"
#include "internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const int64_t k_hostile[] = {
    0, 1, -1, 2, 3, (int64_t)1 << 31, ((int64_t)1 << 32) + 1, (int64_t)1 << 40,
    3037000500, (int64_t)1 << 62, INT64_MAX, INT64_MAX / 2 + 1, INT64_MIN,
    -((int64_t)1 << 40), 65536, 1000003};
#define NHOSTILE (sizeof k_hostile / sizeof k_hostile[0])

static int64_t extent(cg_src *s)
{
    unsigned v = cg_byte(s);
    return v < 224 ? (int64_t)(v % 6) : k_hostile[v % NHOSTILE];
}

static int64_t stride(cg_src *s)
{
    unsigned v = cg_byte(s);
    return v < 224 ? (int64_t)(v % 15) - 7 : k_hostile[v % NHOSTILE];
}

#define MAXOPS 6
typedef struct view {
    ein_tensor t;
    int64_t shape[EIN_MAX_DIMS + 2], strides[EIN_MAX_DIMS + 2];
} view;

static void draw_view(cg_src *s, view *v)
{
    unsigned f = cg_byte(s);
    v->t.dtype = f % 16 == 15 ? (ein_dtype)(f % 5) : f % 2 ? EIN_F64 : EIN_F32;
    unsigned r = cg_byte(s);
    v->t.ndim = r < 240 ? (int32_t)(r % 7) : r < 250 ? (int32_t)(r % 66) : -1;
    int nd = v->t.ndim < 0 ? 0 : v->t.ndim > EIN_MAX_DIMS ? EIN_MAX_DIMS : v->t.ndim;
    for (int d = 0; d < nd; d++)
        v->shape[d] = extent(s);
    bool strided = cg_byte(s) % 2;
    for (int d = 0; d < nd; d++)
        v->strides[d] = strided ? stride(s) : 0;
    v->t.shape = v->shape;
    v->t.strides = strided ? v->strides : NULL;
    v->t.data = v;           /* never read: plans ignore data */
}

/* Element offsets [lo, hi] a view reaches; false if it is too big to
 * back with memory here (or empty). */
static bool small_span(const ein_tensor *t, int64_t *lo, int64_t *hi)
{
    int64_t cs = 1;
    *lo = *hi = 0;
    for (int d = t->ndim - 1; d >= 0; d--) {
        int64_t x = t->shape[d], st = t->strides ? t->strides[d] : cs;
        if (x == 0) {
            *lo = *hi = 0;
            return true;
        }
        if (x > (1 << 16) || st > (1 << 16) || st < -(1 << 16))
            return false;
        int64_t r = st * (x - 1);
        if (r < 0)
            *lo += r;
        else
            *hi += r;
        if (*hi - *lo > (1 << 16))
            return false;
        cs *= x;
    }
    return true;
}

/* Back a view with zeroed memory; returns the block to free. */
static void *back(ein_tensor *t)
{
    int64_t lo, hi;
    small_span(t, &lo, &hi);
    size_t es = ein_dtype_size(t->dtype);
    unsigned char *m = calloc((size_t)(hi - lo + 1), es);
    if (m)
        t->data = m + (size_t)(-lo) * es;
    return m;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cg_src s = {data, size, 0, 1};
    int nops = (int)(cg_byte(&s) % (MAXOPS + 1));
    view v[MAXOPS + 1];
    for (int k = 0; k <= nops; k++)
        draw_view(&s, &v[k]);
    bool has_out = cg_byte(&s) % 2;
    ein_options opt = {0};
    unsigned o = cg_byte(&s);
    opt.num_threads = (int)(o % 5) - 1;
    if (o % 5 == 4 && o & 0x80)
        opt.num_threads = INT_MAX;       /* the pool must cap it */
    opt.path = (ein_path_algo)((o >> 3) % 6);
    static const int64_t limits[] = {0, 0, 1, 200, 600, 4096, (int64_t)1 << 20, -1};
    opt.memory_limit = limits[cg_byte(&s) % 8];
    bool use_opt = o % 8 != 0;

    /* The rest of the input is the subscripts. */
    size_t len = s.i < size ? size - s.i : 0;
    char *text = malloc(len + 1);
    memcpy(text, data + s.i, len);
    text[len] = '\0';

    const ein_tensor *ops[MAXOPS];
    for (int k = 0; k < nops; k++)
        ops[k] = &v[k].t;
    ein_tensor *out = has_out ? &v[nops].t : NULL;
    ein_status st = EIN_OK;
    ein_plan *p = ein_plan_new(text, nops, ops, out, use_opt ? &opt : NULL, &st);
    if (!p) {
        if (st == EIN_OK || !ein_last_error()[0]) {
            fprintf(stderr, "'%s': no plan, but status %s and message '%s'\n", text,
                    ein_status_str(st), ein_last_error());
            abort();
        }
        free(text);
        return 0;
    }
    if (use_opt && opt.memory_limit > 0 && p->workspace > (size_t)opt.memory_limit) {
        fprintf(stderr, "'%s': a plan under memory_limit %lld holds %zu bytes\n", text,
                (long long)opt.memory_limit, p->workspace);
        abort();
    }
    char xb[128];
    size_t need = ein_plan_explain(p, xb, sizeof xb);
    char *full = malloc(need + 1);
    if (ein_plan_explain(p, full, need + 1) != need || strlen(full) != need) {
        fprintf(stderr, "'%s': explain's length is not the text's\n", text);
        abort();
    }
    free(full);

    /* Run it when every view fits in a small block and the work is small. */
    ein_dtype rdt;
    int64_t rshape[EIN_MAX_DIMS], lo, hi;
    int rnd = ein_plan_result(p, &rdt, rshape);
    ein_tensor res = {NULL, rdt, rnd, rshape, NULL};
    ein_tensor *target = out ? out : &res;
    bool small = p->flops < 1e6 && small_span(target, &lo, &hi);
    for (int k = 0; k < nops && small; k++)
        small = small_span(ops[k], &lo, &hi);
    if (small) {
        void *mem[MAXOPS + 1] = {NULL};
        for (int k = 0; k < nops; k++)
            mem[k] = back(&v[k].t);
        mem[nops] = back(target);
        st = ein_execute(p, ops, target);
        if (st != EIN_OK) {
            fprintf(stderr, "'%s': a plan failed on its own shapes: %s: %s\n", text,
                    ein_status_str(st), ein_last_error());
            abort();
        }
        /* The one-shot call (and its cache) takes the same path. */
        if (out) {
            st = einsum_v(text, nops, ops, out);
            if (st != EIN_OK) {
                fprintf(stderr, "'%s': einsum_v failed where the plan ran: %s: %s\n",
                        text, ein_status_str(st), ein_last_error());
                abort();
            }
        }
        for (int k = 0; k <= nops; k++)
            free(mem[k]);
    }
    ein_plan_free(p);
    free(text);
    return 0;
}
